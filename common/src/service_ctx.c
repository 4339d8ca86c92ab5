/* service_ctx.c - what a handler holds while it runs: the request context with its
 * arena, the events it emits, and the Redis-style error replies and *_or_reply
 * validators (service.h).
 */
#include "service_internal.h"

/* ------------------------------------------------------------------ ctx */

rp_ctx_t *
svc_ctx_new(rp_service_t *svc)
{
    rp_ctx_t *ctx = rp_calloc(1, sizeof *ctx);
    ctx->svc = svc;
    rp_arena_init(&ctx->arena);
    return ctx;
}

void
svc_ctx_destroy(rp_ctx_t **ctx_p)
{
    if (*ctx_p) {
        rp_arena_free(&(*ctx_p)->arena);
        free(*ctx_p);
        *ctx_p = NULL;
    }
}

/* svc_ctx_clear_outcome - forget status, events and reply (a batch retry re-runs it). */
void
svc_ctx_clear_outcome(rp_ctx_t *ctx)
{
    ctx->code = RP_OK;
    ctx->message = NULL;
    ctx->existing_id = NULL;
    ctx->n_violations = 0;
    ctx->map_full = false;
    ctx->subject = NULL;
    ctx->events = NULL;
    ctx->events_tail = &ctx->events;
    ctx->revokes = NULL;
    ctx->body = NULL;
    ctx->body_len = 0;
    ctx->reply = NULL;
    ctx->reply_len = 0;
    ctx->has_reply = false;
    ctx->txn = NULL;
    ctx->keep_outcome = NULL;
    ctx->keep_fn = NULL;
    ctx->keep_arg = NULL;
    ctx->audit_actor = NULL;
    ctx->event_branch = NULL;
}

/* svc_ctx_reset - ready for the next request, keeping the arena's first chunk. */
void
svc_ctx_reset(rp_ctx_t *ctx)
{
    rp_arena_reset(&ctx->arena);
    ctx->req = NULL;
    ctx->route = NULL;
    ctx->in = NULL;
    ctx->identity_len = 0;
    ctx->queued = false;
    ctx->idem_key = NULL;
    memset(&ctx->claims, 0, sizeof ctx->claims);
    svc_ctx_clear_outcome(ctx);
}

MDB_txn *rp_ctx_txn(rp_ctx_t *ctx) { return ctx->txn; }
rp_store_t *rp_ctx_store(rp_ctx_t *ctx) { return ctx->svc->store; }
const char *rp_service_keys_dir(const rp_service_t *svc) { return svc->keys_dir; }
MDB_dbi rp_ctx_dbi(rp_ctx_t *ctx, const char *t) { return rp_store_dbi(ctx->svc->store, t); }
const rp_claims_t *rp_ctx_claims(rp_ctx_t *ctx) { return &ctx->claims; }
int64_t rp_ctx_now(rp_ctx_t *ctx) { return ctx->svc->now; }
bool rp_ctx_failed(rp_ctx_t *ctx) { return ctx->code != RP_OK; }
bool rp_ctx_allowed(rp_ctx_t *ctx, const char *perm) { return rp_perm_allows(&ctx->claims, perm); }

const char *
rp_ctx_request_id(rp_ctx_t *ctx)
{
    return ctx->req && ctx->req->id ? ctx->req->id : "";
}

const char *
rp_ctx_idem_key(rp_ctx_t *ctx)
{
    return ctx->idem_key;
}

const char *
rp_ctx_method(rp_ctx_t *ctx)
{
    return ctx->route ? ctx->route->full : "";
}

void *
rp_ctx_alloc(rp_ctx_t *ctx, size_t n)
{
    return rp_arena_alloc(&ctx->arena, n);
}

char *
rp_ctx_strdup(rp_ctx_t *ctx, const char *s)
{
    s = s ? s : "";
    size_t n = strlen(s) + 1;
    char *p = rp_arena_alloc(&ctx->arena, n);
    memcpy(p, s, n);
    return p;
}

static char *
s_ctx_vsprintf(rp_ctx_t *ctx, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *p = rp_arena_alloc(&ctx->arena, (size_t) (n < 0 ? 0 : n) + 1);
    if (n > 0)
        vsnprintf(p, (size_t) n + 1, fmt, ap);
    return p;
}

char *
rp_ctx_sprintf(rp_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = s_ctx_vsprintf(ctx, fmt, ap);
    va_end(ap);
    return p;
}

/* svc_ctx_cat - the concatenation of the n strings in parts, in the arena. The
 * per-request strings (event type and source, idempotency key) are built with it:
 * vsnprintf costs ten times as much. */
char *
svc_ctx_cat(rp_ctx_t *ctx, size_t n, const char *const *parts)
{
    size_t len[8], total = 1;
    assert(n <= 8);
    for (size_t i = 0; i < n; i++)
        total += len[i] = strlen(parts[i]);
    char *p = rp_arena_alloc(&ctx->arena, total), *q = p;
    for (size_t i = 0; i < n; i++) {
        memcpy(q, parts[i], len[i]);
        q += len[i];
    }
    *q = 0;
    return p;
}

ProtobufCAllocator *
rp_ctx_allocator(rp_ctx_t *ctx)
{
    return &ctx->arena.pb;
}

void
rp_ctx_new_id(rp_ctx_t *ctx, rp_ulid_t *id, char str[RP_ULID_STRLEN + 1])
{
    rp_ulid_new(ctx->svc->now, id);
    rp_ulid_format(id, str);
}

char *
rp_ctx_new_id_str(rp_ctx_t *ctx)
{
    rp_ulid_t id;
    char s[RP_ULID_STRLEN + 1];
    rp_ctx_new_id(ctx, &id, s);
    return rp_ctx_strdup(ctx, s);
}

int
rp_ctx_revoke(rp_ctx_t *ctx, const char *jti, int64_t exp_s)
{
    assert(ctx->txn && "rp_ctx_revoke outside a write");
    if (rp_str_empty(jti) || strlen(jti) >= sizeof ctx->claims.jti)
        return rp_reply_error(ctx, RP_INTERNAL, "cannot revoke a malformed token id");
    uint8_t exp[8];
    rp_u64_be((uint64_t) (exp_s > 0 ? exp_s : 0), exp);
    MDB_val k = { strlen(jti), (void *) jti }, v = { 8, exp };
    int rc = mdb_put(ctx->txn, rp_store_dbi(ctx->svc->store, "revoked"), &k, &v, 0);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "revoked");
    s_pending_revoke_t *r = rp_arena_alloc(&ctx->arena, sizeof *r);
    r->jti = rp_ctx_strdup(ctx, jti);
    r->exp_s = exp_s;
    r->next = ctx->revokes;
    ctx->revokes = r;
    return 0;
}

uint64_t
rp_ctx_serial(rp_ctx_t *ctx)
{
    return ctx->serial;
}

void
rp_ctx_set_subject(rp_ctx_t *ctx, const char *subject)
{
    ctx->subject = rp_ctx_strdup(ctx, subject);
}

void
rp_ctx_set_audit_actor(rp_ctx_t *ctx, const char *actor)
{
    ctx->audit_actor = rp_ctx_strdup(ctx, actor);
}

void
rp_ctx_set_event_branch(rp_ctx_t *ctx, const char *branch)
{
    ctx->event_branch = rp_str_empty(branch) ? NULL : rp_ctx_strdup(ctx, branch);
}

void
rp_ctx_keep_on_error(rp_ctx_t *ctx, const char *outcome, rp_keep_fn fn, void *arg)
{
    const char *o = outcome ? outcome : "";
    size_t n = strnlen(o, RP_OUTCOME_MAX);
    while (o[n] && n > 0 && ((unsigned char) o[n] & 0xC0) == 0x80)
        n--;                            /* cut: on a UTF-8 character boundary */
    ctx->keep_outcome = rp_arena_alloc(&ctx->arena, n + 1);
    memcpy(ctx->keep_outcome, o, n);
    ctx->keep_outcome[n] = 0;
    ctx->keep_fn = fn;
    ctx->keep_arg = arg;
}

uint8_t *
rp_ctx_pack(rp_ctx_t *ctx, const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(msg);
    uint8_t *p = rp_arena_alloc(&ctx->arena, *len ? *len : 1);
    protobuf_c_message_pack(msg, p);
    return p;
}

void
rp_ctx_reply_packed(rp_ctx_t *ctx, const uint8_t *data, size_t len)
{
    ctx->body = data ? data : (const uint8_t *) "";
    ctx->body_len = data ? len : 0;
}

int
rp_ctx_emit_packed(rp_ctx_t *ctx, const char *type, const char *subject,
                   const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len)
{
    rp_service_t *svc = ctx->svc;
    assert(ctx->txn && "rp_ctx_emit outside a write");
    char id[RP_ULID_STRLEN + 1];
    rp_ulid_new_str(svc->now, id);

    Rapport__V1__Event ev = RAPPORT__V1__EVENT__INIT;
    ev.id = id;
    ev.type = svc_ctx_cat(ctx, 4, (const char *[]) { "rapport.", svc->def->name, ".v1.", type });
    char *branch = ctx->event_branch ? ctx->event_branch : ctx->claims.branch;
    ev.source = branch[0]
        ? svc_ctx_cat(ctx, 4, (const char *[]) { "/branches/", branch, "/", svc->def->name })
        : svc_ctx_cat(ctx, 2, (const char *[]) { "/", svc->def->name });
    ev.subject = (char *) (subject ? subject : "");
    ev.time = svc->now;
    ev.branch = branch;
    ev.actor = ctx->claims.sub;
    ev.on_behalf_of = ctx->claims.on_behalf_of;
    if (desc) {
        ev.data.len = len;
        ev.data.data = (uint8_t *) data;
        ev.dataschema = svc_ctx_cat(ctx, 2, (const char *[]) { "proto:", desc->name });
    }
    s_pending_event_t *pe = rp_arena_alloc(&ctx->arena, sizeof *pe);
    pe->type = ev.type;
    /* Packed once: the same bytes are stored now and published after the commit. */
    int rc = rp_events_append_packed(ctx->txn, rp_store_dbi(svc->store, "events"), &ev,
                                     &ctx->arena.pb, &pe->data, &pe->len);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "append event");
    *ctx->events_tail = pe;
    ctx->events_tail = &pe->next;
    if (!ctx->subject && subject)
        ctx->subject = rp_ctx_strdup(ctx, subject);
    return 0;
}

int
rp_ctx_emit(rp_ctx_t *ctx, const char *type, const char *subject, const ProtobufCMessage *msg)
{
    size_t len = 0;
    uint8_t *data = msg ? rp_ctx_pack(ctx, msg, &len) : NULL;
    return rp_ctx_emit_packed(ctx, type, subject, msg ? msg->descriptor : NULL, data, len);
}

/* ------------------------------------------------------------------ errors */

static int
s_vset(rp_ctx_t *ctx, rp_code_t code, const char *fmt, va_list ap)
{
    ctx->code = code;
    ctx->message = s_ctx_vsprintf(ctx, fmt, ap);
    return -1;
}

int
rp_reply_error(rp_ctx_t *ctx, rp_code_t code, const char *fmt, ...)
{
    assert(code != RP_OK);
    va_list ap;
    va_start(ap, fmt);
    s_vset(ctx, code, fmt, ap);
    va_end(ap);
    return -1;
}

int
rp_reply_violation(rp_ctx_t *ctx, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *why = s_ctx_vsprintf(ctx, fmt, ap);
    va_end(ap);
    if (ctx->code != RP_INVALID_ARGUMENT || !ctx->message) {
        ctx->code = RP_INVALID_ARGUMENT;
        ctx->message = rp_ctx_sprintf(ctx, "%s: %s", field, why);
    }
    if (ctx->n_violations < S_MAX_VIOLATIONS) {
        Rapport__V1__FieldViolation *v = &ctx->violations[ctx->n_violations];
        rapport__v1__field_violation__init(v);
        v->field = rp_ctx_strdup(ctx, field);
        v->description = why;
        ctx->violation_ptrs[ctx->n_violations++] = v;
    }
    return -1;
}

int
rp_reply_exists(rp_ctx_t *ctx, const char *existing_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vset(ctx, RP_ALREADY_EXISTS, fmt, ap);
    va_end(ap);
    ctx->existing_id = rp_ctx_strdup(ctx, existing_id);
    return -1;
}

int
rp_reply_lmdb(rp_ctx_t *ctx, int rc, const char *what)
{
    if (rc == MDB_MAP_FULL)
        ctx->map_full = true;
    else
        rp_log(RP_LOG_ERROR, rp_ctx_request_id(ctx), ctx->req ? ctx->req->trace_id : NULL,
               "%s: %s", what, mdb_strerror(rc));
    return rp_reply_error(ctx, RP_INTERNAL, "storage error");
}

int
rp_ulid_or_reply(rp_ctx_t *ctx, const char *field, const char *s, rp_ulid_t *out)
{
    if (rp_str_empty(s))
        return rp_reply_violation(ctx, field, "is required");
    if (rp_ulid_parse(s, out) != 0)
        return rp_reply_violation(ctx, field, "must be a ULID (26 characters of Crockford base32)");
    return 0;
}

int
rp_required_or_reply(rp_ctx_t *ctx, const char *field, const char *s)
{
    return rp_str_empty(s) ? rp_reply_violation(ctx, field, "is required") : 0;
}

int
rp_len_or_reply(rp_ctx_t *ctx, const char *field, const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min)
        return min == 1 ? rp_reply_violation(ctx, field, "is required")
                        : rp_reply_violation(ctx, field, "must be at least %zu bytes", min);
    if (n > max)
        return rp_reply_violation(ctx, field, "must be at most %zu bytes", max);
    return 0;
}

int
rp_range_or_reply(rp_ctx_t *ctx, const char *field, int64_t v, int64_t min, int64_t max)
{
    if (v < min || v > max)
        return rp_reply_violation(ctx, field, "must be between %lld and %lld",
                                  (long long) min, (long long) max);
    return 0;
}

int
rp_money_or_reply(rp_ctx_t *ctx, const char *field, const Rapport__V1__Money *m, int64_t min_units)
{
    if (!m)
        return rp_reply_violation(ctx, field, "is required");
    if (!rp_currency_valid(m->currency))
        return rp_reply_violation(ctx, rp_ctx_sprintf(ctx, "%s.currency", field),
                                  "must be an ISO 4217 currency code");
    if (m->units < min_units)
        return rp_reply_violation(ctx, rp_ctx_sprintf(ctx, "%s.units", field),
                                  "must be at least %lld", (long long) min_units);
    return 0;
}

int
rp_date_or_reply(rp_ctx_t *ctx, const char *field, const Rapport__V1__Date *d, int32_t *days)
{
    if (!d)
        return rp_reply_violation(ctx, field, "is required");
    if (!rp_date_valid(d->year, d->month, d->day))
        return rp_reply_violation(ctx, field, "must be a real calendar date (year 1900..9999)");
    *days = rp_date_to_days(d->year, d->month, d->day);
    return 0;
}

int
rp_date_range_or_reply(rp_ctx_t *ctx, const char *from_field, const Rapport__V1__Date *from,
                       const char *to_field, const Rapport__V1__Date *to,
                       int32_t *from_days, int32_t *to_days)
{
    /* Both checked, so one reply names every bad field. */
    int bad = rp_date_or_reply(ctx, from_field, from, from_days);
    bad |= rp_date_or_reply(ctx, to_field, to, to_days);
    if (bad)
        return -1;
    if (*to_days <= *from_days)
        return rp_reply_violation(ctx, to_field, "must be after %s", from_field);
    return 0;
}

int
rp_page_or_reply(rp_ctx_t *ctx, int scan_rc)
{
    if (scan_rc == -2)
        return rp_reply_violation(ctx, "page_token", "is not a page token of this query");
    if (scan_rc < 0)
        return rp_ctx_failed(ctx) ? -1 : rp_reply_error(ctx, RP_INTERNAL, "scan failed");
    return 0;
}

int
rp_owner_or_reply(rp_ctx_t *ctx, const char *owner_field, const char *owner,
                  const char *unit_field, const char *unit)
{
    rp_len_or_reply(ctx, owner_field, owner, 1, sizeof ctx->claims.sub - 1);
    if (rp_len_or_reply(ctx, unit_field, unit, 1, sizeof ctx->claims.unit - 1) == 0 && unit[0] != '/')
        rp_reply_violation(ctx, unit_field, "must be an org path starting with /");
    return rp_ctx_failed(ctx) ? -1 : 0;
}

int
rp_unit_or_reply(rp_ctx_t *ctx, const char *field, const char *unit)
{
    const rp_claims_t *c = &ctx->claims;
    bool ok = strcmp(c->scope, "company") == 0
           || (strcmp(c->scope, "unit") == 0 && rp_unit_contains(c->unit, unit))
           || rp_streq(c->unit, unit);
    if (ok)
        return 0;
    return rp_reply_error(ctx, RP_PERMISSION_DENIED, "%s %s is outside your scope (%s)",
                          field, unit, c->unit);
}

int
rp_scope_or_reply(rp_ctx_t *ctx, const char *what, const char *id, const char *owner, const char *unit)
{
    if (rp_scope_sees(&ctx->claims, owner, unit))
        return 0;
    return rp_reply_error(ctx, RP_NOT_FOUND, "%s %s not found", what, id);
}

/* ------------------------------------------------------------------ replies */

/* svc_pack_reply - build the Reply for ctx into its arena. */
void
svc_pack_reply(rp_ctx_t *ctx, const ProtobufCMessage *out)
{
    Rapport__V1__Reply reply = RAPPORT__V1__REPLY__INIT;
    Rapport__V1__Status status = RAPPORT__V1__STATUS__INIT;
    reply.id = (char *) rp_ctx_request_id(ctx);
    reply.status = &status;
    status.code = ctx->code;
    status.message = ctx->message ? ctx->message : (char *) "";
    status.existing_id = ctx->existing_id ? ctx->existing_id : (char *) "";
    status.n_field_violations = ctx->n_violations;
    status.field_violations = ctx->violation_ptrs;
    if (ctx->code == RP_OK && out) {
        reply.body.len = protobuf_c_message_get_packed_size(out);
        reply.body.data = rp_arena_alloc(&ctx->arena, reply.body.len);
        protobuf_c_message_pack(out, reply.body.data);
    } else if (ctx->code == RP_OK && ctx->body) {
        reply.body.len = ctx->body_len;
        reply.body.data = (uint8_t *) ctx->body;
    }
    ctx->reply_len = protobuf_c_message_get_packed_size(&reply.base);
    ctx->reply = rp_arena_alloc(&ctx->arena, ctx->reply_len);
    protobuf_c_message_pack(&reply.base, ctx->reply);
    ctx->has_reply = true;
}

/* svc_send - route the reply back to the client that asked. */
void
svc_send(rp_service_t *svc, rp_ctx_t *ctx)
{
    if (!ctx->has_reply)
        return;
    void *sock = zsock_resolve(svc->router);
    if (zmq_send(sock, ctx->identity, ctx->identity_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_send(sock, ctx->reply, ctx->reply_len, ZMQ_DONTWAIT) < 0)
        rp_log(RP_LOG_DEBUG, rp_ctx_request_id(ctx), NULL, "reply not delivered: %s",
               zmq_strerror(errno));
    rp_counter_add(svc->m_requests, 1);
    if (ctx->code != RP_OK)
        rp_counter_add(svc->m_errors, 1);
    if (ctx->route && ctx->route->latency)
        rp_histogram_observe(ctx->route->latency, rp_clock_mono_us() - ctx->start_us);
}

