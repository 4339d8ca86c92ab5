/* service.c - the skeleton every service runs on: configuration, keys, sockets,
 * the store, the loop and the write path with group commit (DESIGN.md §4).
 *
 * One thread runs the loop. Each turn it drains up to batch_max requests from
 * the ROUTER, answers READ methods at once in one read transaction, runs every
 * WRITE of the batch in ONE write transaction (each in a nested transaction so a
 * failing request rolls back alone, together with its events, audit record and
 * idempotency record), commits once, and only then sends the replies and
 * publishes the events. A reply is never sent before the commit holding its
 * effects is durable.
 *
 * The System methods (Health, Metrics, Replay, Audit, ClockAdvance) are served
 * here for every service.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <czmq.h>
#include <sodium.h>
#include "arena.h"
#include "rapport/audit.h"
#include "rapport/clock.h"
#include "rapport/config.h"
#include "rapport/consumer.h"
#include "rapport/events.h"
#include "rapport/http.h"
#include "rapport/idem.h"
#include "rapport/keys.h"
#include "rapport/log.h"
#include "rapport/metrics.h"
#include "rapport/money.h"
#include "rapport/perm.h"
#include "rapport/service.h"
#include "rapport/services.h"
#include "rapport/util.h"
#include "rapport/validate.h"
#include "rapport/v1/rpc.pb-c.h"
#include "rapport/v1/types.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"

#define S_MAX_VIOLATIONS 16
#define S_MAX_ID 64
#define S_REPLAY_MAX 1000
#define S_REPLAY_BYTES (4u << 20)
#define S_AUDIT_MAX 1000
#define S_HEARTBEAT_TYPE "rapport.sys.v1.heartbeat"

#ifndef RAPPORT_VERSION
#define RAPPORT_VERSION "0.1.0"
#endif

/* One routable method: a service row or a built-in System row. */
typedef struct {
    char *full;                                 /* "rapport.leads.v1.Leads/Create" */
    const ProtobufCMessageDescriptor *input;
    const ProtobufCMessageDescriptor *output;
    rp_handler_fn handler;
    rp_kind_t kind;
    const char *perm;
    const char *name;                           /* "Create" */
    rp_histogram_t *latency;
} s_route_t;

/* An event appended by a request, published after commit. */
typedef struct s_pending_event {
    struct s_pending_event *next;
    char *type;                                 /* in the request's arena */
    uint8_t *data;
    size_t len;
} s_pending_event_t;

struct rp_ctx {
    rp_service_t *svc;
    rp_arena_t arena;
    rp_arena_mark_t prepared;                   /* arena state after decoding */
    uint8_t identity[256];                      /* ROUTER routing id */
    size_t identity_len;
    Rapport__V1__Request *req;
    const s_route_t *route;
    ProtobufCMessage *in;
    rp_claims_t claims;
    MDB_txn *txn;
    int64_t start_us;
    /* outcome */
    int code;
    char *message;
    char *existing_id;
    size_t n_violations;
    Rapport__V1__FieldViolation violations[S_MAX_VIOLATIONS];
    Rapport__V1__FieldViolation *violation_ptrs[S_MAX_VIOLATIONS];
    bool map_full;
    char *subject;
    s_pending_event_t *events, **events_tail;
    uint8_t digest[RP_IDEM_DIGEST];
    uint8_t *reply;                             /* packed Reply, in the arena */
    size_t reply_len;
    bool has_reply;
    bool queued;                                /* a prepared write awaiting the commit */
};

/* A durable consumer of an upstream service's events. */
typedef struct {
    const rp_consumer_def_t *def;
    rp_consumer_t *consumer;        /* NULL while waiting to (re)connect */
    int64_t retry_at_us;
    rp_counter_t *m_applied, *m_rejected;
} s_upstream_t;

struct rp_service {
    const rp_service_def_t *def;
    /* settings */
    char *data_dir, *keys_dir, *bind, *pub_bind, *http_listen;
    int64_t batch_max, max_msg, map_size, idem_ttl_s, heartbeat_ms;
    /* runtime */
    rp_store_t *store;
    rp_curve_t *curve;
    rp_jwt_verifier_t *verifier;
    zactor_t *auth;
    zsock_t *router, *pub;
    rp_metrics_t *metrics;
    rp_http_t *http;
    s_route_t *routes;
    size_t n_routes;
    rp_validate_limits_t limits;
    rp_ctx_t **batch;                           /* batch_max contexts, reused */
    int64_t now;                                /* the clock, read once per batch */
    int64_t started_ms;
    uint64_t last_seq;                          /* last committed event seq */
    rp_audit_head_t audit_head;                 /* head of the chain as the open txn sees it */
    char *endpoints_path;
    int64_t *timer_due_us;
    s_upstream_t *upstreams;
    size_t n_upstreams;
    char *service_token;
    /* metrics */
    rp_counter_t *m_requests, *m_errors, *m_commits, *m_events, *m_replays, *m_batches,
                 *m_batched,
                 *m_last_seq, *m_map_size, *m_unroutable;
    rp_histogram_t *m_commit_us;
};

/* ------------------------------------------------------------------ ctx */

static rp_ctx_t *
s_ctx_new(rp_service_t *svc)
{
    rp_ctx_t *ctx = rp_calloc(1, sizeof *ctx);
    ctx->svc = svc;
    rp_arena_init(&ctx->arena);
    return ctx;
}

static void
s_ctx_destroy(rp_ctx_t **ctx_p)
{
    if (*ctx_p) {
        rp_arena_free(&(*ctx_p)->arena);
        free(*ctx_p);
        *ctx_p = NULL;
    }
}

/* s_ctx_clear_outcome - forget status, events and reply (a batch retry re-runs it). */
static void
s_ctx_clear_outcome(rp_ctx_t *ctx)
{
    ctx->code = RP_OK;
    ctx->message = NULL;
    ctx->existing_id = NULL;
    ctx->n_violations = 0;
    ctx->map_full = false;
    ctx->subject = NULL;
    ctx->events = NULL;
    ctx->events_tail = &ctx->events;
    ctx->reply = NULL;
    ctx->reply_len = 0;
    ctx->has_reply = false;
    ctx->txn = NULL;
}

/* s_ctx_reset - ready for the next request, keeping the arena's first chunk. */
static void
s_ctx_reset(rp_ctx_t *ctx)
{
    rp_arena_reset(&ctx->arena);
    ctx->req = NULL;
    ctx->route = NULL;
    ctx->in = NULL;
    ctx->identity_len = 0;
    ctx->queued = false;
    memset(&ctx->claims, 0, sizeof ctx->claims);
    s_ctx_clear_outcome(ctx);
}

MDB_txn *rp_ctx_txn(rp_ctx_t *ctx) { return ctx->txn; }
rp_store_t *rp_ctx_store(rp_ctx_t *ctx) { return ctx->svc->store; }
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

void
rp_ctx_set_subject(rp_ctx_t *ctx, const char *subject)
{
    ctx->subject = rp_ctx_strdup(ctx, subject);
}

int
rp_ctx_emit(rp_ctx_t *ctx, const char *type, const char *subject, const ProtobufCMessage *msg)
{
    rp_service_t *svc = ctx->svc;
    assert(ctx->txn && "rp_ctx_emit outside a write");
    char id[RP_ULID_STRLEN + 1];
    rp_ulid_new_str(svc->now, id);

    Rapport__V1__Event ev = RAPPORT__V1__EVENT__INIT;
    ev.id = id;
    ev.type = rp_ctx_sprintf(ctx, "rapport.%s.v1.%s", svc->def->name, type);
    ev.source = ctx->claims.branch[0]
        ? rp_ctx_sprintf(ctx, "/branches/%s/%s", ctx->claims.branch, svc->def->name)
        : rp_ctx_sprintf(ctx, "/%s", svc->def->name);
    ev.subject = (char *) (subject ? subject : "");
    ev.time = svc->now;
    ev.branch = ctx->claims.branch;
    ev.actor = ctx->claims.sub;
    ev.on_behalf_of = ctx->claims.on_behalf_of;
    if (msg) {
        ev.data.len = protobuf_c_message_get_packed_size(msg);
        ev.data.data = rp_arena_alloc(&ctx->arena, ev.data.len);
        protobuf_c_message_pack(msg, ev.data.data);
        ev.dataschema = rp_ctx_sprintf(ctx, "proto:%s", msg->descriptor->name);
    }
    int rc = rp_events_append(ctx->txn, rp_store_dbi(svc->store, "events"), &ev);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "append event");

    s_pending_event_t *pe = rp_arena_alloc(&ctx->arena, sizeof *pe);
    pe->type = ev.type;
    pe->len = protobuf_c_message_get_packed_size(&ev.base);
    pe->data = rp_arena_alloc(&ctx->arena, pe->len);
    protobuf_c_message_pack(&ev.base, pe->data);
    *ctx->events_tail = pe;
    ctx->events_tail = &pe->next;
    if (!ctx->subject && subject)
        ctx->subject = rp_ctx_strdup(ctx, subject);
    return 0;
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
rp_page_or_reply(rp_ctx_t *ctx, int scan_rc)
{
    if (scan_rc == -2)
        return rp_reply_violation(ctx, "page_token", "is not a page token of this query");
    if (scan_rc < 0)
        return rp_ctx_failed(ctx) ? -1 : rp_reply_error(ctx, RP_INTERNAL, "scan failed");
    return 0;
}

int
rp_scope_or_reply(rp_ctx_t *ctx, const char *what, const char *id, const char *owner, const char *unit)
{
    if (rp_scope_sees(&ctx->claims, owner, unit))
        return 0;
    return rp_reply_error(ctx, RP_NOT_FOUND, "%s %s not found", what, id);
}

/* ------------------------------------------------------------------ replies */

/* s_pack_reply - build the Reply for ctx into its arena. */
static void
s_pack_reply(rp_ctx_t *ctx, const ProtobufCMessage *out)
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
    }
    ctx->reply_len = protobuf_c_message_get_packed_size(&reply.base);
    ctx->reply = rp_arena_alloc(&ctx->arena, ctx->reply_len);
    protobuf_c_message_pack(&reply.base, ctx->reply);
    ctx->has_reply = true;
}

/* s_send - route the reply back to the client that asked. */
static void
s_send(rp_service_t *svc, rp_ctx_t *ctx)
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

/* ------------------------------------------------------------------ system methods */

static int
s_sys_health(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    rp_service_t *svc = ctx->svc;
    Rapport__Sys__V1__HealthReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__sys__v1__health_reply__init(r);
    r->service = (char *) svc->def->name;
    r->version = (char *) RAPPORT_VERSION;
    r->ready = true;
    r->last_seq = svc->last_seq;
    r->uptime_ms = rp_clock_now_ms() - svc->started_ms;
    r->now = svc->now;
    r->test_clock = rp_clock_is_test();
    *out = &r->base;
    return 0;
}

static int
s_sys_metrics(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    Rapport__Sys__V1__MetricsReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__sys__v1__metrics_reply__init(r);
    char *text = rp_metrics_render(ctx->svc->metrics);
    r->text = rp_ctx_strdup(ctx, text);
    free(text);
    *out = &r->base;
    return 0;
}

typedef struct {
    rp_ctx_t *ctx;
    Rapport__V1__Event **events;
    size_t n, bytes;
} s_replay_acc_t;

static int
s_replay_one(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
    s_replay_acc_t *acc = arg;
    if (acc->bytes + len > S_REPLAY_BYTES && acc->n > 0)
        return 1;                       /* full: the client continues at next_seq */
    Rapport__V1__Event *ev = rapport__v1__event__unpack(rp_ctx_allocator(acc->ctx), len, data);
    if (!ev)
        return rp_reply_error(acc->ctx, RP_DATA_LOSS, "event %llu does not unpack",
                              (unsigned long long) seq), -1;
    acc->events[acc->n++] = ev;
    acc->bytes += len;
    return 0;
}

static int
s_sys_replay(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rapport__Sys__V1__ReplayRequest *req = (const void *) in;
    uint32_t limit = req->limit == 0 || req->limit > S_REPLAY_MAX ? S_REPLAY_MAX : req->limit;
    s_replay_acc_t acc = { ctx, rp_ctx_alloc(ctx, limit * sizeof(void *)), 0, 0 };
    uint64_t next = 0;
    MDB_dbi events = rp_ctx_dbi(ctx, "events");
    int rc = rp_events_read(ctx->txn, events, req->from_seq, limit, limit * 20,
                            req->type_prefix, s_replay_one, &acc, &next);
    if (rc < 0)
        return -1;
    if (rc > 0 && acc.n)                /* stopped on size: continue after the last one */
        next = acc.events[acc.n - 1]->seq + 1;
    Rapport__Sys__V1__ReplayReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__sys__v1__replay_reply__init(r);
    r->events = acc.events;
    r->n_events = acc.n;
    r->last_seq = rp_events_last_seq(ctx->txn, events);
    r->next_seq = next;
    *out = &r->base;
    return 0;
}

static int
s_sys_audit(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rapport__Sys__V1__AuditRequest *req = (const void *) in;
    uint32_t limit = req->limit == 0 || req->limit > S_AUDIT_MAX ? S_AUDIT_MAX : req->limit;
    Rapport__Sys__V1__AuditReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__sys__v1__audit_reply__init(r);
    r->records = rp_ctx_alloc(ctx, limit * sizeof(void *));
    MDB_dbi audit = rp_ctx_dbi(ctx, "audit");
    MDB_cursor *cur;
    int rc = mdb_cursor_open(ctx->txn, audit, &cur);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "audit cursor");
    uint8_t key[8];
    uint64_t from = req->from_seq ? req->from_seq : 1;
    rp_u64_be(from, key);
    MDB_val k = { 8, key }, v;
    r->next_seq = from;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && r->n_records < limit) {
        Rapport__Sys__V1__AuditRecord *rec =
            rapport__sys__v1__audit_record__unpack(rp_ctx_allocator(ctx), v.mv_size, v.mv_data);
        if (!rec) {
            /* A record that no longer decodes is itself a broken link: say where. */
            rec = rp_ctx_alloc(ctx, sizeof *rec);
            rapport__sys__v1__audit_record__init(rec);
            rec->seq = rp_be_u64(k.mv_data);
        }
        r->records[r->n_records++] = rec;
        r->next_seq = rp_be_u64(k.mv_data) + 1;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0)
        r->last_seq = rp_be_u64(k.mv_data);
    mdb_cursor_close(cur);
    *out = &r->base;
    return 0;
}

static int
s_sys_clock_advance(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Rapport__Sys__V1__ClockAdvanceRequest *req = (const void *) in;
    if (!rp_clock_is_test())
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION,
                              "the clock can be moved only in a service started with RAPPORT_TEST_CLOCK=1");
    if (req->by_ms < 0)
        return rp_reply_violation(ctx, "by_ms", "must not be negative");
    rp_clock_advance(req->by_ms);
    ctx->svc->now = rp_clock_now_ms();
    Rapport__Sys__V1__ClockAdvanceReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__sys__v1__clock_advance_reply__init(r);
    r->now = ctx->svc->now;
    *out = &r->base;
    return 0;
}

static const rp_method_t s_system_methods[] = {
    { "Health", s_sys_health, RP_READ, "system.health" },
    { "Metrics", s_sys_metrics, RP_READ, "system.metrics" },
    { "Replay", s_sys_replay, RP_READ, "events.replay" },
    { "Audit", s_sys_audit, RP_READ, "audit.read" },
    { "ClockAdvance", s_sys_clock_advance, RP_READ, "system.clock" },
    { NULL, NULL, RP_READ, NULL }
};

/* ------------------------------------------------------------------ routing */

/* s_add_routes - check that the table and the descriptor match exactly, then add
 * one route per method. A mismatch is a programming error: abort at start-up. */
static void
s_add_routes(rp_service_t *svc, const ProtobufCServiceDescriptor *d, const rp_method_t *table)
{
    size_t n_table = 0;
    for (const rp_method_t *m = table; m->name; m++)
        n_table++;
    if (n_table != d->n_methods) {
        fprintf(stderr, "rapport: %s declares %u methods but the table has %zu rows\n",
                d->name, d->n_methods, n_table);
        abort();
    }
    svc->routes = rp_realloc(svc->routes, (svc->n_routes + n_table) * sizeof *svc->routes);
    for (unsigned i = 0; i < d->n_methods; i++) {
        const ProtobufCMethodDescriptor *md = &d->methods[i];
        const rp_method_t *row = NULL;
        for (const rp_method_t *m = table; m->name; m++)
            if (strcmp(m->name, md->name) == 0)
                row = m;
        if (!row || !row->handler || !row->perm) {
            fprintf(stderr, "rapport: %s/%s has no complete row in the method table\n",
                    d->name, md->name);
            abort();
        }
        s_route_t *r = &svc->routes[svc->n_routes++];
        r->full = rp_sprintf("%s/%s", d->name, md->name);
        r->name = md->name;
        r->input = md->input;
        r->output = md->output;
        r->handler = row->handler;
        r->kind = row->kind;
        r->perm = row->perm;
        char *labels = rp_sprintf("method=\"%s\"", r->full);
        r->latency = rp_metrics_histogram(svc->metrics, "request_duration",
                                          "Time from receipt to reply, by method", labels);
        free(labels);
    }
}

static const s_route_t *
s_route_find(rp_service_t *svc, const char *method)
{
    for (size_t i = 0; i < svc->n_routes; i++)
        if (strcmp(svc->routes[i].full, method) == 0)
            return &svc->routes[i];
    return NULL;
}

/* ------------------------------------------------------------------ the batch */

/* s_wall_ms - real time in unix ms, never moved by the test clock. */
static int64_t
s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* s_id_ok - request ids are 1..64 characters of [A-Za-z0-9_-]. */
static bool
s_id_ok(const char *id)
{
    size_t n = 0;
    for (const char *p = id; *p; p++, n++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_'))
            return false;
    return n >= 1 && n <= S_MAX_ID;
}

/* s_prepare - decode, authenticate, authorise and validate one request.
 * 0 when it is ready to run; -1 when ctx already holds its error reply. */
static int
s_prepare(rp_service_t *svc, rp_ctx_t *ctx, const uint8_t *data, size_t len)
{
    ctx->req = rapport__v1__request__unpack(&ctx->arena.pb, len, data);
    if (!ctx->req)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "the frame is not a rapport.v1.Request");
    if (!s_id_ok(ctx->req->id)) {
        const char *bad = ctx->req->id;
        ctx->req->id = (char *) "";
        return rp_reply_violation(ctx, "id", rp_str_empty(bad)
                                  ? "is required (a ULID, the idempotency key)"
                                  : "must be 1..64 characters of A-Z a-z 0-9 - _");
    }
    /* Deadlines and token lifetimes are the client's and the issuer's wall clock:
     * they are checked against real time even when the test clock has moved. */
    int64_t wall = s_wall_ms();
    if (ctx->req->deadline && ctx->req->deadline < wall)
        return rp_reply_error(ctx, RP_DEADLINE_EXCEEDED, "the deadline passed before the request ran");
    ctx->route = s_route_find(svc, ctx->req->method);
    if (!ctx->route) {
        rp_counter_add(svc->m_unroutable, 1);
        return rp_reply_error(ctx, RP_UNIMPLEMENTED, "unknown method \"%.100s\"", ctx->req->method);
    }
    if (rp_str_empty(ctx->req->token))
        return rp_reply_error(ctx, RP_UNAUTHENTICATED, "a bearer token is required");
    const rp_claims_t *claims;
    rp_jwt_result_t jr = rp_jwt_verify(svc->verifier, ctx->req->token, wall, &claims);
    if (jr != RP_JWT_OK)
        return rp_reply_error(ctx, RP_UNAUTHENTICATED, "token rejected: %s", rp_jwt_result_name(jr));
    ctx->claims = *claims;
    if (!rp_perm_allows(&ctx->claims, ctx->route->perm))
        return rp_reply_error(ctx, RP_PERMISSION_DENIED, "%s needs the permission %s",
                              ctx->route->full, ctx->route->perm);
    ctx->in = protobuf_c_message_unpack(ctx->route->input, &ctx->arena.pb,
                                        ctx->req->body.len, ctx->req->body.data);
    if (!ctx->in)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "the body is not a %s", ctx->route->input->name);
    char path[256], why[256];
    if (rp_validate(ctx->in, &svc->limits, path, sizeof path, why, sizeof why) != 0)
        return rp_reply_violation(ctx, path, "%s", why);
    rp_idem_digest(ctx->route->full, ctx->req->body.data, ctx->req->body.len, ctx->digest);
    ctx->prepared = rp_arena_mark(&ctx->arena);
    return 0;
}

/* s_run - call the handler and pack its reply. */
static void
s_run(rp_ctx_t *ctx)
{
    ProtobufCMessage *out = NULL;
    int rc = ctx->route->handler(ctx, ctx->in, &out);
    if (rc != 0 && ctx->code == RP_OK)
        rp_reply_error(ctx, RP_INTERNAL, "the handler failed without saying why");
    if (rc == 0 && ctx->code != RP_OK)
        rc = -1;                    /* violations recorded but 0 returned: still an error */
    if (rc == 0 && !out) {
        /* An empty reply of the output type. */
        out = rp_ctx_alloc(ctx, ctx->route->output->sizeof_message);
        protobuf_c_message_init(ctx->route->output, out);
    }
    s_pack_reply(ctx, rc == 0 ? out : NULL);
}

/* s_audit - append the audit record of a successful write. */
static int
s_audit(rp_ctx_t *ctx, const char *method)
{
    Rapport__Sys__V1__AuditRecord rec = RAPPORT__SYS__V1__AUDIT_RECORD__INIT;
    rec.time = ctx->svc->now;
    rec.actor = ctx->claims.sub;
    rec.on_behalf_of = ctx->claims.on_behalf_of;
    rec.method = (char *) method;
    rec.request_id = ctx->req->id;
    rec.subject = ctx->subject ? ctx->subject : (char *) "";
    rec.digest.data = ctx->digest;
    rec.digest.len = RP_IDEM_DIGEST;
    return rp_audit_append(ctx->txn, rp_store_dbi(ctx->svc->store, "audit"), &ctx->svc->audit_head, &rec);
}

/* s_write_one - run one write in a nested transaction of parent. Returns -1 only
 * when the whole batch must be retried (the map is full). */
static int
s_write_one(rp_service_t *svc, rp_ctx_t *ctx, MDB_txn *parent)
{
    MDB_dbi idem = rp_store_dbi(svc->store, "idem");
    const uint8_t *stored;
    size_t stored_len;
    switch (rp_idem_lookup(parent, idem, ctx->req->id, svc->now, ctx->digest, &stored, &stored_len)) {
    case RP_IDEM_REPLAY:
        /* The same request again: the same reply, and nothing changes. */
        ctx->reply = rp_arena_alloc(&ctx->arena, stored_len);
        memcpy(ctx->reply, stored, stored_len);
        ctx->reply_len = stored_len;
        ctx->has_reply = true;
        rp_counter_add(svc->m_replays, 1);
        return 0;
    case RP_IDEM_MISMATCH:
        rp_reply_error(ctx, RP_FAILED_PRECONDITION,
                       "request id %s was already used for a different request", ctx->req->id);
        s_pack_reply(ctx, NULL);
        return 0;
    case RP_IDEM_NEW:
        break;
    }
    rp_audit_head_t head = svc->audit_head;     /* restored if this write rolls back */
    int rc = mdb_txn_begin(rp_store_env(svc->store), parent, 0, &ctx->txn);
    if (rc) {
        rp_reply_lmdb(ctx, rc, "begin nested");
        s_pack_reply(ctx, NULL);
        ctx->txn = NULL;
        return ctx->map_full ? -1 : 0;
    }
    s_run(ctx);
    if (ctx->code == RP_OK) {
        rc = s_audit(ctx, ctx->route->full);
        if (rc == 0)
            rc = rp_idem_store(ctx->txn, idem, rp_store_dbi(svc->store, "idem_exp"), ctx->req->id,
                               ctx->digest, ctx->reply, ctx->reply_len,
                               svc->now + svc->idem_ttl_s * 1000);
        if (rc) {
            ctx->events = NULL;
            ctx->events_tail = &ctx->events;
            rp_reply_lmdb(ctx, rc, "audit/idempotency record");
            s_pack_reply(ctx, NULL);
        }
    }
    if (ctx->code == RP_OK) {
        rc = mdb_txn_commit(ctx->txn);
        if (rc) {
            ctx->events = NULL;
            ctx->events_tail = &ctx->events;
            svc->audit_head = head;
            rp_reply_lmdb(ctx, rc, "commit nested");
            s_pack_reply(ctx, NULL);
        }
    } else {
        mdb_txn_abort(ctx->txn);
        ctx->events = NULL;             /* rolled back with the nested transaction */
        ctx->events_tail = &ctx->events;
        svc->audit_head = head;
    }
    ctx->txn = NULL;
    return ctx->map_full ? -1 : 0;
}

/* s_publish - send a committed request's events on the PUB socket. */
static void
s_publish(rp_service_t *svc, rp_ctx_t *ctx)
{
    void *sock = zsock_resolve(svc->pub);
    for (s_pending_event_t *e = ctx->events; e; e = e->next) {
        zmq_send(sock, e->type, strlen(e->type), ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(sock, e->data, e->len, ZMQ_DONTWAIT);
        rp_counter_add(svc->m_events, 1);
    }
}

/* s_run_writes - the write path: one transaction, one commit, then replies. */
static void
s_run_writes(rp_service_t *svc, rp_ctx_t **writes, size_t n)
{
    MDB_env *env = rp_store_env(svc->store);
    for (;;) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(env, NULL, 0, &txn);
        if (rc) {
            rp_error("write path: begin: %s", mdb_strerror(rc));
            for (size_t i = 0; i < n; i++) {
                rp_reply_error(writes[i], RP_UNAVAILABLE, "storage unavailable");
                s_pack_reply(writes[i], NULL);
            }
            return;
        }
        bool full = false;
        for (size_t i = 0; i < n && !full; i++)
            full = s_write_one(svc, writes[i], txn) != 0;
        if (full) {
            /* Throw the batch away, grow the map, and run it again from scratch. */
            mdb_txn_abort(txn);
            svc->audit_head.known = false;
            if (rp_store_grow(svc->store) != 0) {
                for (size_t i = 0; i < n; i++) {
                    rp_arena_release(&writes[i]->arena, writes[i]->prepared);
                    s_ctx_clear_outcome(writes[i]);
                    rp_reply_error(writes[i], RP_RESOURCE_EXHAUSTED, "the database cannot grow");
                    s_pack_reply(writes[i], NULL);
                }
                return;
            }
            rp_gauge_set(svc->m_map_size, (int64_t) rp_store_map_size(svc->store));
            for (size_t i = 0; i < n; i++) {
                rp_arena_release(&writes[i]->arena, writes[i]->prepared);
                s_ctx_clear_outcome(writes[i]);
            }
            continue;
        }
        uint64_t last = rp_events_last_seq(txn, rp_store_dbi(svc->store, "events"));
        int64_t t0 = rp_clock_mono_us();
        rc = mdb_txn_commit(txn);
        rp_histogram_observe(svc->m_commit_us, rp_clock_mono_us() - t0);
        if (rc) {
            svc->audit_head.known = false;
            rp_error("write path: commit: %s", mdb_strerror(rc));
            for (size_t i = 0; i < n; i++) {
                writes[i]->events = NULL;
                rp_arena_release(&writes[i]->arena, writes[i]->prepared);
                s_ctx_clear_outcome(writes[i]);
                rp_reply_error(writes[i], RP_UNAVAILABLE, "the commit failed; nothing was written");
                s_pack_reply(writes[i], NULL);
            }
            return;
        }
        rp_counter_add(svc->m_commits, 1);
        svc->last_seq = last;
        rp_gauge_set(svc->m_last_seq, (int64_t) last);
        return;
    }
}

/* s_recv_one - read one request (routing id + one frame) into ctx. 1 when a
 * request was read, 0 when none is waiting, -1 for a malformed multi-frame one
 * (ctx holds its error reply). */
static int
s_recv_one(rp_service_t *svc, rp_ctx_t *ctx, zmq_msg_t *msg)
{
    void *sock = zsock_resolve(svc->router);
    int n = zmq_recv(sock, ctx->identity, sizeof ctx->identity, ZMQ_DONTWAIT);
    if (n < 0)
        return 0;
    ctx->identity_len = (size_t) n > sizeof ctx->identity ? sizeof ctx->identity : (size_t) n;
    ctx->start_us = rp_clock_mono_us();
    int more = 0;
    size_t more_len = sizeof more;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len);
    if (!more)
        return 0;                       /* a routing id alone: nothing to answer */
    if (zmq_msg_recv(msg, sock, 0) < 0)
        return 0;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len);
    if (more) {
        /* One request is one frame: swallow the rest and say so. */
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        while (more && zmq_msg_recv(&extra, sock, 0) >= 0)
            zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len);
        zmq_msg_close(&extra);
        rp_reply_error(ctx, RP_INVALID_ARGUMENT, "a request is exactly one frame");
        return -1;
    }
    return 1;
}

/* s_batch - one turn of the loop: drain, read, write, commit, reply, publish. */
static void
s_batch(rp_service_t *svc)
{
    rp_ctx_t **writes = svc->batch + svc->batch_max;   /* second half: write list */
    size_t n = 0, n_writes = 0;
    MDB_txn *rtxn = NULL;
    svc->now = rp_clock_now_ms();

    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (n < (size_t) svc->batch_max) {
        rp_ctx_t *ctx = svc->batch[n];
        s_ctx_reset(ctx);
        int got = s_recv_one(svc, ctx, &msg);
        if (got == 0)
            break;
        n++;
        if (got < 0 || s_prepare(svc, ctx, zmq_msg_data(&msg), zmq_msg_size(&msg)) != 0) {
            s_pack_reply(ctx, NULL);
            continue;
        }
        if (ctx->route->kind == RP_WRITE) {
            ctx->queued = true;
            writes[n_writes++] = ctx;
            continue;
        }
        /* READ: at once, in the batch's read transaction. */
        if (!rtxn && mdb_txn_begin(rp_store_env(svc->store), NULL, MDB_RDONLY, &rtxn) != 0) {
            rtxn = NULL;
            rp_reply_error(ctx, RP_UNAVAILABLE, "storage unavailable");
            s_pack_reply(ctx, NULL);
            continue;
        }
        ctx->txn = rtxn;
        s_run(ctx);
        ctx->txn = NULL;
    }
    zmq_msg_close(&msg);
    if (rtxn)
        mdb_txn_abort(rtxn);
    if (n == 0)
        return;
    rp_counter_add(svc->m_batches, 1);
    rp_counter_add(svc->m_batched, n);
    /* Reads answer at once; writes wait for their commit. */
    for (size_t i = 0; i < n; i++)
        if (!svc->batch[i]->queued)
            s_send(svc, svc->batch[i]);
    if (n_writes) {
        s_run_writes(svc, writes, n_writes);
        for (size_t i = 0; i < n_writes; i++)
            s_send(svc, writes[i]);
        for (size_t i = 0; i < n_writes; i++)
            s_publish(svc, writes[i]);
    }
}

/* s_heartbeat - tell subscribers the last committed seq, so they notice a lost tail. */
static void
s_heartbeat(rp_service_t *svc)
{
    Rapport__V1__Heartbeat hb = RAPPORT__V1__HEARTBEAT__INIT;
    hb.service = (char *) svc->def->name;
    hb.last_seq = svc->last_seq;
    hb.time = rp_clock_now_ms();
    uint8_t buf[128];
    size_t len = rapport__v1__heartbeat__pack(&hb, buf);
    void *sock = zsock_resolve(svc->pub);
    zmq_send(sock, S_HEARTBEAT_TYPE, strlen(S_HEARTBEAT_TYPE), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(sock, buf, len, ZMQ_DONTWAIT);
}

/* s_run_job - one periodic job (or the idempotency sweep) through the write path. */
static void
s_run_job(rp_service_t *svc, const char *name, int (*run)(rp_ctx_t *ctx))
{
    rp_ctx_t *ctx = svc->batch[0];
    for (int attempt = 0; attempt < 8; attempt++) {
        s_ctx_reset(ctx);
        svc->now = rp_clock_now_ms();
        rp_strlcpy(ctx->claims.sub, "system", sizeof ctx->claims.sub);
        rp_strlcpy(ctx->claims.scope, "company", sizeof ctx->claims.scope);
        ctx->req = rp_ctx_alloc(ctx, sizeof *ctx->req);
        rapport__v1__request__init(ctx->req);
        ctx->req->id = rp_ctx_sprintf(ctx, "job-%s", name);
        MDB_txn *txn;
        int rc = mdb_txn_begin(rp_store_env(svc->store), NULL, 0, &txn);
        if (rc) {
            rp_error("job %s: begin: %s", name, mdb_strerror(rc));
            return;
        }
        ctx->txn = txn;
        rc = run(ctx);
        if (rc == 0 && ctx->code == RP_OK && ctx->events) {
            /* Jobs that change state leave an audit record like any write. */
            char *method = rp_ctx_sprintf(ctx, "job/%s", name);
            rp_idem_digest(method, NULL, 0, ctx->digest);
            rc = s_audit(ctx, method);
            if (rc)
                rp_reply_lmdb(ctx, rc, "job audit");
        }
        if (rc == 0 && ctx->code == RP_OK) {
            uint64_t last = rp_events_last_seq(txn, rp_store_dbi(svc->store, "events"));
            rc = mdb_txn_commit(txn);
            if (rc == 0) {
                svc->last_seq = last;
                s_publish(svc, ctx);
            } else {
                svc->audit_head.known = false;
                rp_error("job %s: commit: %s", name, mdb_strerror(rc));
            }
            s_ctx_reset(ctx);
            return;
        }
        mdb_txn_abort(txn);
        svc->audit_head.known = false;
        if (ctx->map_full && rp_store_grow(svc->store) == 0)
            continue;
        rp_warn("job %s failed: %s", name, ctx->message ? ctx->message : "error");
        s_ctx_reset(ctx);
        return;
    }
}

static int
s_job_idem_sweep(rp_ctx_t *ctx)
{
    rp_store_t *st = ctx->svc->store;
    int n = rp_idem_expire(ctx->txn, rp_store_dbi(st, "idem"), rp_store_dbi(st, "idem_exp"),
                           ctx->svc->now, 10000);
    return n < 0 ? rp_reply_lmdb(ctx, MDB_PANIC, "idempotency sweep") : 0;
}

/* ------------------------------------------------------------------ durable consumers */

/* s_offset_get - the next upstream seq to apply, from `offsets` (1 when none). */
static uint64_t
s_offset_get(rp_service_t *svc, const char *upstream)
{
    MDB_txn *txn;
    uint64_t next = 1;
    if (mdb_txn_begin(rp_store_env(svc->store), NULL, MDB_RDONLY, &txn) != 0)
        return next;
    MDB_val k = { strlen(upstream), (void *) upstream }, v;
    if (mdb_get(txn, rp_store_dbi(svc->store, "offsets"), &k, &v) == 0 && v.mv_size == 8)
        next = rp_be_u64(v.mv_data);
    mdb_txn_abort(txn);
    return next;
}

/* s_upstream_connect - (re)create the consumer at the stored offset. */
static void
s_upstream_connect(rp_service_t *svc, s_upstream_t *up)
{
    char rpc[256], pub[256], key[41];
    const char *name = up->def->upstream;
    rp_consumer_destroy(&up->consumer);
    if (rp_service_endpoint(name, 0, rpc, sizeof rpc) != 0
        || rp_service_endpoint(name, 1, pub, sizeof pub) != 0
        || rp_curve_public_load(svc->keys_dir, name, key) != 0) {
        rp_warn("consumer of %s: no endpoint or no %s.cert in %s; retrying", name, name, svc->keys_dir);
        up->retry_at_us = rp_clock_mono_us() + 5000000;
        return;
    }
    rp_consumer_opts_t o = {
        .rpc_endpoint = rpc, .pub_endpoint = pub, .server_public_z85 = key,
        .me = svc->curve, .token = svc->service_token, .type_prefix = up->def->type_prefix,
        .from_seq = s_offset_get(svc, name)
    };
    up->consumer = rp_consumer_new(&o);
    if (!up->consumer)
        up->retry_at_us = rp_clock_mono_us() + 5000000;
}

/* s_apply_one - apply one upstream event in a nested transaction, with its offset. */
static int
s_apply_one(rp_service_t *svc, s_upstream_t *up, rp_ctx_t *ctx, const Rapport__V1__Event *ev,
            MDB_txn *parent)
{
    rp_audit_head_t head = svc->audit_head;
    int rc = mdb_txn_begin(rp_store_env(svc->store), parent, 0, &ctx->txn);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "begin nested");
    rc = up->def->apply(ctx, ev);
    if (rc == 0 && ctx->code == RP_OK) {
        char *method = rp_ctx_sprintf(ctx, "consume/%s", ev->type);
        rc = s_audit(ctx, method);
        if (rc == 0)
            rc = mdb_txn_commit(ctx->txn);
        else
            mdb_txn_abort(ctx->txn);
        ctx->txn = NULL;
        if (rc) {
            svc->audit_head = head;
            return rp_reply_lmdb(ctx, rc, "apply event");
        }
        rp_counter_add(up->m_applied, 1);
        return 0;
    }
    mdb_txn_abort(ctx->txn);
    svc->audit_head = head;
    ctx->txn = NULL;
    ctx->events = NULL;
    ctx->events_tail = &ctx->events;
    if (ctx->map_full)
        return -1;
    rp_warn("consumer of %s: event %llu (%s) rejected: %s", up->def->upstream,
            (unsigned long long) ev->seq, ev->type, ctx->message ? ctx->message : "error");
    rp_counter_add(up->m_rejected, 1);
    ctx->code = RP_OK;                  /* the stream moves on */
    return 0;
}

/* s_consume - take the events that are ready (up to batch_max) and apply them in
 * one write transaction with the new offset: one commit for the lot. */
static void
s_consume(rp_service_t *svc, s_upstream_t *up)
{
    size_t n = 0;
    Rapport__V1__Event **evs = rp_calloc((size_t) svc->batch_max, sizeof *evs);
    while (n < (size_t) svc->batch_max) {
        int rc = rp_consumer_next(up->consumer, 0, &evs[n]);
        if (rc == 1)
            break;
        if (rc < 0) {
            rp_warn("consumer of %s: %s; reconnecting", up->def->upstream,
                    rp_consumer_last_error(up->consumer));
            rp_consumer_destroy(&up->consumer);
            up->retry_at_us = rp_clock_mono_us() + 2000000;
            break;
        }
        n++;
    }
    if (n == 0) {
        free(evs);
        return;
    }
    svc->now = rp_clock_now_ms();
    MDB_dbi offsets = rp_store_dbi(svc->store, "offsets");
    bool committed = false;
    for (int attempt = 0; attempt < 8 && !committed; attempt++) {
        MDB_txn *txn;
        if (mdb_txn_begin(rp_store_env(svc->store), NULL, 0, &txn) != 0)
            break;
        bool full = false;
        for (size_t i = 0; i < n && !full; i++) {
            rp_ctx_t *ctx = svc->batch[i];
            s_ctx_reset(ctx);
            rp_strlcpy(ctx->claims.sub, "system", sizeof ctx->claims.sub);
            rp_strlcpy(ctx->claims.scope, "company", sizeof ctx->claims.scope);
            rp_strlcpy(ctx->claims.branch, evs[i]->branch, sizeof ctx->claims.branch);
            ctx->req = rp_ctx_alloc(ctx, sizeof *ctx->req);
            rapport__v1__request__init(ctx->req);
            ctx->req->id = rp_ctx_sprintf(ctx, "%s-%llu", up->def->upstream,
                                          (unsigned long long) evs[i]->seq);
            rp_idem_digest(evs[i]->type, evs[i]->data.data, evs[i]->data.len, ctx->digest);
            full = s_apply_one(svc, up, ctx, evs[i], txn) != 0;
        }
        uint8_t next[8];
        rp_u64_be(evs[n - 1]->seq + 1, next);
        MDB_val k = { strlen(up->def->upstream), (void *) up->def->upstream }, v = { 8, next };
        int rc = full ? MDB_MAP_FULL : mdb_put(txn, offsets, &k, &v, 0);
        if (rc == MDB_MAP_FULL) {
            mdb_txn_abort(txn);
            svc->audit_head.known = false;
            if (rp_store_grow(svc->store) != 0)
                break;
            continue;
        }
        uint64_t last = rp_events_last_seq(txn, rp_store_dbi(svc->store, "events"));
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (rc) {
            svc->audit_head.known = false;
            rp_error("consumer of %s: commit: %s", up->def->upstream, mdb_strerror(rc));
            break;
        }
        committed = true;
        svc->last_seq = last;
        rp_counter_add(svc->m_commits, 1);
        for (size_t i = 0; i < n; i++)
            s_publish(svc, svc->batch[i]);
    }
    if (!committed && up->consumer) {
        /* Nothing was applied: start again from the stored offset. */
        rp_consumer_destroy(&up->consumer);
        up->retry_at_us = rp_clock_mono_us() + 1000000;
    }
    for (size_t i = 0; i < n; i++) {
        rapport__v1__event__free_unpacked(evs[i], NULL);
        s_ctx_reset(svc->batch[i]);
    }
    free(evs);
}

/* s_upstreams_open - one consumer per row of the definition. */
static int
s_upstreams_open(rp_service_t *svc)
{
    for (const rp_consumer_def_t *c = svc->def->consumers; c && c->upstream; c++)
        svc->n_upstreams++;
    if (!svc->n_upstreams)
        return 0;
    const char *tok = rp_config_str("RAPPORT_SERVICE_TOKEN", NULL);
    if (tok)
        svc->service_token = rp_strdup(tok);
    else {
        char *path = rp_sprintf("%s/%s.token", svc->keys_dir, svc->def->name);
        size_t len;
        if (rp_read_file(path, 8192, &svc->service_token, &len) == 0) {
            while (len && (svc->service_token[len - 1] == '\n' || svc->service_token[len - 1] == '\r'))
                svc->service_token[--len] = '\0';
        } else {
            rp_error("this service consumes events but has no token: set RAPPORT_SERVICE_TOKEN or write %s", path);
            free(path);
            return -1;
        }
        free(path);
    }
    svc->upstreams = rp_calloc(svc->n_upstreams, sizeof *svc->upstreams);
    for (size_t i = 0; i < svc->n_upstreams; i++) {
        s_upstream_t *up = &svc->upstreams[i];
        up->def = &svc->def->consumers[i];
        char *labels = rp_sprintf("upstream=\"%s\"", up->def->upstream);
        up->m_applied = rp_metrics_counter(svc->metrics, "consumer_applied_total", "Upstream events applied", labels);
        up->m_rejected = rp_metrics_counter(svc->metrics, "consumer_rejected_total", "Upstream events the service refused", labels);
        free(labels);
        s_upstream_connect(svc, up);
    }
    return 0;
}

/* ------------------------------------------------------------------ set-up */

static void
s_usage(const rp_service_def_t *def, FILE *f)
{
    const rp_service_info_t *info = rp_service_find(def->name);
    int port = info ? info->rpc_port : 0;
    fprintf(f,
        "Usage: rapport-%s [OPTIONS]\n"
        "%s\n\n"
        "Options (each overrides its environment variable):\n"
        "  --bind ENDPOINT   RPC ROUTER endpoint      RAPPORT_BIND      (tcp://127.0.0.1:%d)\n"
        "  --pub ENDPOINT    event PUB endpoint       RAPPORT_PUB_BIND  (tcp://127.0.0.1:%d)\n"
        "  --http ADDR|off   ops HTTP /metrics /healthz /readyz  RAPPORT_HTTP (127.0.0.1:%d)\n"
        "  --data DIR        data root; store in DIR/%s  RAPPORT_DATA   (./var/data)\n"
        "  --keys DIR        keys directory           RAPPORT_KEYS      (./var/keys)\n"
        "  -h, --help        this text\n"
        "  --version         print the version\n\n"
        "Other settings: RAPPORT_LOG_LEVEL (info), RAPPORT_BATCH_MAX (256),\n"
        "RAPPORT_MAX_MSG (1048576), RAPPORT_MAP_SIZE (67108864), RAPPORT_IDEM_TTL (86400),\n"
        "RAPPORT_HEARTBEAT_MS (1000), RAPPORT_TEST_CLOCK (0; tests only).\n"
        "Exit status: 0 after a clean drain (SIGTERM/SIGINT), 1 on a run-time failure,\n"
        "2 on bad configuration.\n",
        def->name, def->summary ? def->summary : "", port, port + 1, port + 2, def->name);
}

/* s_configure - flags over environment over defaults. 0, or -1 after a message. */
static int
s_configure(rp_service_t *svc, int argc, char **argv)
{
    const rp_service_def_t *def = svc->def;
    const rp_service_info_t *info = rp_service_find(def->name);
    int port = info ? info->rpc_port : 7999;
    char dflt[64];
    const char *o_bind = NULL, *o_pub = NULL, *o_http = NULL, *o_data = NULL, *o_keys = NULL;
    static const struct option opts[] = {
        { "bind", required_argument, NULL, 'b' }, { "pub", required_argument, NULL, 'p' },
        { "http", required_argument, NULL, 'H' }, { "data", required_argument, NULL, 'd' },
        { "keys", required_argument, NULL, 'k' }, { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 }
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': o_bind = optarg; break;
        case 'p': o_pub = optarg; break;
        case 'H': o_http = optarg; break;
        case 'd': o_data = optarg; break;
        case 'k': o_keys = optarg; break;
        case 'h': s_usage(def, stdout); exit(0);
        case 'V': printf("rapport-%s %s\n", def->name, RAPPORT_VERSION); exit(0);
        default: s_usage(def, stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rapport-%s: unexpected argument \"%s\"\n", def->name, argv[optind]);
        return -1;
    }
    snprintf(dflt, sizeof dflt, "tcp://127.0.0.1:%d", port);
    svc->bind = rp_strdup(o_bind ? o_bind : rp_config_str("RAPPORT_BIND", dflt));
    snprintf(dflt, sizeof dflt, "tcp://127.0.0.1:%d", port + 1);
    svc->pub_bind = rp_strdup(o_pub ? o_pub : rp_config_str("RAPPORT_PUB_BIND", dflt));
    snprintf(dflt, sizeof dflt, "127.0.0.1:%d", port + 2);
    svc->http_listen = rp_strdup(o_http ? o_http : rp_config_str("RAPPORT_HTTP", dflt));
    const char *root = o_data ? o_data : rp_config_str("RAPPORT_DATA", "./var/data");
    svc->data_dir = rp_sprintf("%s/%s", root, def->name);
    svc->keys_dir = rp_strdup(o_keys ? o_keys : rp_keys_dir());
    if (rp_log_init(def->name, rp_config_str("RAPPORT_LOG_LEVEL", "info")) != 0) {
        fprintf(stderr, "rapport-%s: RAPPORT_LOG_LEVEL=%s: must be debug, info, warn or error\n",
                def->name, rp_config_str("RAPPORT_LOG_LEVEL", ""));
        return -1;
    }
    if (rp_config_int("RAPPORT_BATCH_MAX", 256, 1, 4096, &svc->batch_max)
        || rp_config_int("RAPPORT_MAX_MSG", 1 << 20, 4096, 64 << 20, &svc->max_msg)
        || rp_config_int("RAPPORT_MAP_SIZE", 64 << 20, 1 << 20, INT64_C(1) << 40, &svc->map_size)
        || rp_config_int("RAPPORT_IDEM_TTL", 86400, 86400, 86400 * 365, &svc->idem_ttl_s)
        || rp_config_int("RAPPORT_HEARTBEAT_MS", 1000, 10, 60000, &svc->heartbeat_ms))
        return -1;
    bool test_clock;
    if (rp_config_bool("RAPPORT_TEST_CLOCK", false, &test_clock))
        return -1;
    return 0;
}

/* s_bind - bind a CURVE server socket; 0 or -1 with a log line. */
static int
s_bind(rp_service_t *svc, zsock_t *sock, const char *endpoint, const char *what)
{
    zsock_set_zap_domain(sock, "rapport");
    zsock_set_curve_server(sock, 1);
    zsock_set_curve_secretkey(sock, svc->curve->secret_z85);
    zsock_set_maxmsgsize(sock, (int) svc->max_msg);
    zsock_set_linger(sock, 0);
    zsock_set_sndhwm(sock, 100000);
    zsock_set_rcvhwm(sock, 100000);
    if (zsock_bind(sock, "%s", endpoint) < 0) {
        rp_error("cannot bind %s on %s: %s", what, endpoint, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

/* s_write_endpoints - tell supervisors and tests where we listen, atomically. */
static int
s_write_endpoints(rp_service_t *svc)
{
    char *rpc = zsock_last_endpoint(svc->router), *pub = zsock_last_endpoint(svc->pub);
    char *text = svc->http
        ? rp_sprintf("rpc=%s\npub=%s\nhttp=127.0.0.1:%d\npid=%d\n", rpc, pub,
                     rp_http_port(svc->http), (int) getpid())
        : rp_sprintf("rpc=%s\npub=%s\npid=%d\n", rpc, pub, (int) getpid());
    zstr_free(&rpc);
    zstr_free(&pub);
    svc->endpoints_path = rp_sprintf("%s/endpoints", svc->data_dir);
    int rc = rp_write_file_private(svc->endpoints_path, text, strlen(text));
    free(text);
    return rc;
}

static void
s_register_metrics(rp_service_t *svc)
{
    rp_metrics_t *m = svc->metrics;
    svc->m_requests = rp_metrics_counter(m, "requests_total", "Requests answered", "");
    svc->m_errors = rp_metrics_counter(m, "request_errors_total", "Requests answered with an error", "");
    svc->m_unroutable = rp_metrics_counter(m, "unknown_method_total", "Requests for unknown methods", "");
    svc->m_commits = rp_metrics_counter(m, "commits_total", "Write transactions committed (fsyncs)", "");
    svc->m_events = rp_metrics_counter(m, "events_published_total", "Events published", "");
    svc->m_replays = rp_metrics_counter(m, "idempotent_replays_total", "Writes answered from the idempotency record", "");
    svc->m_last_seq = rp_metrics_gauge(m, "last_event_seq", "Last committed event seq", "");
    svc->m_map_size = rp_metrics_gauge(m, "lmdb_map_bytes", "LMDB map size", "");
    svc->m_batches = rp_metrics_counter(m, "batches_total", "Loop turns that took requests", "");
    svc->m_batched = rp_metrics_counter(m, "batched_requests_total", "Requests taken by those turns (mean batch = this / batches_total)", "");
    svc->m_commit_us = rp_metrics_histogram(m, "commit_duration", "Time of one group commit", "");
}

/* s_setup - everything before the loop. 0, 1 (run-time failure) or 2 (config). */
static int
s_setup(rp_service_t *svc, int argc, char **argv)
{
    if (s_configure(svc, argc, argv) != 0)
        return 2;
    rp_clock_init();
    if (sodium_init() < 0) {
        rp_error("libsodium cannot start");
        return 1;
    }
    if (rp_clock_is_test())
        rp_warn("TEST CLOCK ENABLED (RAPPORT_TEST_CLOCK=1): System/ClockAdvance may move time; never in production");
    svc->started_ms = rp_clock_now_ms();
    svc->limits.max_string = 4096;
    svc->limits.max_repeated = 1000;

    if (rp_keys_ensure_curve(svc->keys_dir, svc->def->name, true) != 0)
        return 1;
    svc->curve = rp_curve_load(svc->keys_dir, svc->def->name);
    if (!svc->curve)
        return 1;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    if (rp_issuer_public_load(svc->keys_dir, pk) != 0) {
        rp_error("no token issuer key in %s (issuer.pub): run `rapport keys init`", svc->keys_dir);
        return 1;
    }
    svc->verifier = rp_jwt_verifier_new();
    rp_jwt_verifier_add_key(svc->verifier, pk);

    svc->metrics = rp_metrics_new(svc->def->name);
    s_register_metrics(svc);
    s_add_routes(svc, svc->def->descriptor, svc->def->methods);
    s_add_routes(svc, &rapport__sys__v1__system__descriptor, s_system_methods);

    svc->store = rp_store_open(svc->data_dir, svc->def->tables, svc->def->migrations,
                               (size_t) svc->map_size);
    if (!svc->store)
        return 1;
    rp_gauge_set(svc->m_map_size, (int64_t) rp_store_map_size(svc->store));
    if (svc->def->on_open && svc->def->on_open(svc, svc->store) != 0) {
        rp_error("service start-up hook failed");
        return 1;
    }
    MDB_txn *txn;
    if (mdb_txn_begin(rp_store_env(svc->store), NULL, MDB_RDONLY, &txn) == 0) {
        svc->last_seq = rp_events_last_seq(txn, rp_store_dbi(svc->store, "events"));
        mdb_txn_abort(txn);
    }
    rp_gauge_set(svc->m_last_seq, (int64_t) svc->last_seq);

    /* ZAP: only clients whose public key is in <keys>/allow get in. */
    char *allow = rp_sprintf("%s/allow", svc->keys_dir);
    rp_mkdir_p(allow, 0700);
    svc->auth = zactor_new(zauth, NULL);
    zstr_sendx(svc->auth, "CURVE", allow, NULL);
    zsock_wait(svc->auth);
    free(allow);

    svc->router = zsock_new(ZMQ_ROUTER);
    svc->pub = zsock_new(ZMQ_PUB);
    if (!svc->router || !svc->pub
        || s_bind(svc, svc->router, svc->bind, "RPC") != 0
        || s_bind(svc, svc->pub, svc->pub_bind, "PUB") != 0)
        return 1;
    if (strcmp(svc->http_listen, "off") != 0) {
        svc->http = rp_http_new(svc->http_listen, svc->metrics);
        if (!svc->http) {
            rp_error("cannot serve ops HTTP on %s", svc->http_listen);
            return 1;
        }
    }
    svc->batch = rp_calloc((size_t) svc->batch_max * 2, sizeof *svc->batch);
    for (int64_t i = 0; i < svc->batch_max; i++)
        svc->batch[i] = s_ctx_new(svc);
    if (s_upstreams_open(svc) != 0)
        return 2;
    if (s_write_endpoints(svc) != 0) {
        rp_error("cannot write %s/endpoints: %s", svc->data_dir, strerror(errno));
        return 1;
    }
    if (svc->http)
        rp_http_set_ready(svc->http, true);
    return 0;
}

static void
s_teardown(rp_service_t *svc)
{
    if (svc->endpoints_path) {
        unlink(svc->endpoints_path);
        free(svc->endpoints_path);
    }
    if (svc->batch) {
        for (int64_t i = 0; i < svc->batch_max; i++)
            s_ctx_destroy(&svc->batch[i]);
        free(svc->batch);
    }
    for (size_t i = 0; i < svc->n_upstreams; i++)
        rp_consumer_destroy(&svc->upstreams[i].consumer);
    free(svc->upstreams);
    if (svc->service_token) {
        sodium_memzero(svc->service_token, strlen(svc->service_token));
        free(svc->service_token);
    }
    rp_http_destroy(&svc->http);
    zsock_destroy(&svc->router);
    zsock_destroy(&svc->pub);
    zactor_destroy(&svc->auth);
    rp_store_destroy(&svc->store);
    rp_jwt_verifier_destroy(&svc->verifier);
    rp_curve_destroy(&svc->curve);
    for (size_t i = 0; i < svc->n_routes; i++)
        free(svc->routes[i].full);
    free(svc->routes);
    rp_metrics_destroy(&svc->metrics);
    free(svc->timer_due_us);
    free(svc->data_dir);
    free(svc->keys_dir);
    free(svc->bind);
    free(svc->pub_bind);
    free(svc->http_listen);
}

/* ------------------------------------------------------------------ the loop */

int
rp_service_main(int argc, char **argv, const rp_service_def_t *def)
{
    assert(def && def->name && def->descriptor && def->methods);
    rp_service_t svc_storage = { .def = def }, *svc = &svc_storage;
    zsys_init();
    zsys_set_logstream(NULL);           /* our own JSON log, not CZMQ's */
    zsys_catch_interrupts();            /* SIGINT/SIGTERM set zsys_interrupted: we drain */
    signal(SIGPIPE, SIG_IGN);

    int status = s_setup(svc, argc, argv);
    if (status != 0) {
        s_teardown(svc);
        return status;
    }
    size_t n_timers = 0;
    for (const rp_timer_t *t = def->timers; t && t->name; t++)
        n_timers++;
    int64_t now_us = rp_clock_mono_us();
    svc->timer_due_us = rp_calloc(n_timers + 1, sizeof(int64_t));
    for (size_t i = 0; i < n_timers; i++)
        svc->timer_due_us[i] = now_us + def->timers[i].interval_ms * 1000;
    int64_t idem_due_us = now_us + 60 * 1000000LL;
    int64_t hb_due_us = now_us;

    rp_info("serving %s on %s, events on %s, data in %s", def->name, svc->bind,
            svc->pub_bind, svc->data_dir);
    zmq_pollitem_t *items = rp_calloc(1 + 2 * svc->n_upstreams, sizeof *items);
    while (!zsys_interrupted) {
        now_us = rp_clock_mono_us();
        int64_t wait_us = hb_due_us - now_us;
        for (size_t i = 0; i < n_timers; i++)
            if (svc->timer_due_us[i] - now_us < wait_us)
                wait_us = svc->timer_due_us[i] - now_us;
        size_t n_items = 1;
        items[0] = (zmq_pollitem_t) { zsock_resolve(svc->router), 0, ZMQ_POLLIN, 0 };
        for (size_t i = 0; i < svc->n_upstreams; i++) {
            s_upstream_t *up = &svc->upstreams[i];
            if (!up->consumer) {
                if (now_us >= up->retry_at_us)
                    s_upstream_connect(svc, up);
                else if (up->retry_at_us - now_us < wait_us)
                    wait_us = up->retry_at_us - now_us;
            }
            if (up->consumer) {
                if (rp_consumer_pending(up->consumer))
                    wait_us = 0;
                items[n_items++] = (zmq_pollitem_t) {
                    zsock_resolve(rp_consumer_socket(up->consumer)), 0, ZMQ_POLLIN, 0 };
                items[n_items++] = (zmq_pollitem_t) {
                    zsock_resolve(rp_consumer_rpc_socket(up->consumer)), 0, ZMQ_POLLIN, 0 };
            }
        }
        if (wait_us < 0)
            wait_us = 0;
        int rc = zmq_poll(items, (int) n_items, wait_us ? (long) (wait_us / 1000) + 1 : 0);
        if (rc < 0 && zmq_errno() != EINTR) {
            rp_error("poll: %s", zmq_strerror(zmq_errno()));
            status = 1;
            break;
        }
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            s_batch(svc);
        for (size_t i = 0; i < svc->n_upstreams; i++) {
            s_upstream_t *up = &svc->upstreams[i];
            if (up->consumer && (rp_consumer_pending(up->consumer)
                                 || zsock_events(rp_consumer_socket(up->consumer)) & ZMQ_POLLIN
                                 || zsock_events(rp_consumer_rpc_socket(up->consumer)) & ZMQ_POLLIN))
                s_consume(svc, up);
        }
        now_us = rp_clock_mono_us();
        if (now_us >= hb_due_us) {
            s_heartbeat(svc);
            hb_due_us = now_us + svc->heartbeat_ms * 1000;
        }
        for (size_t i = 0; i < n_timers; i++)
            if (now_us >= svc->timer_due_us[i]) {
                s_run_job(svc, def->timers[i].name, def->timers[i].run);
                svc->timer_due_us[i] = rp_clock_mono_us() + def->timers[i].interval_ms * 1000;
            }
        if (now_us >= idem_due_us) {
            s_run_job(svc, "idempotency-sweep", s_job_idem_sweep);
            idem_due_us = rp_clock_mono_us() + 60 * 1000000LL;
        }
    }
    free(items);
    /* Draining: the batch in hand has been committed and answered; stop taking more. */
    if (svc->http)
        rp_http_set_ready(svc->http, false);
    rp_info("draining: stopped taking requests; last seq %llu", (unsigned long long) svc->last_seq);
    s_teardown(svc);
    return status;
}
