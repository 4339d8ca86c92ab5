/* service_system.c - the System methods every service answers: Health, Metrics,
 * Replay (catch-up for event consumers), Audit (the hash chain, page by page) and
 * ClockAdvance (only with RAPPORT_TEST_CLOCK=1).
 */
#include "service_internal.h"

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

const rp_method_t svc_system_methods[] = {
    { "Health", s_sys_health, RP_READ, "system.health" },
    { "Metrics", s_sys_metrics, RP_READ, "system.metrics" },
    { "Replay", s_sys_replay, RP_READ, "events.replay" },
    { "Audit", s_sys_audit, RP_READ, "audit.read" },
    { "ClockAdvance", s_sys_clock_advance, RP_READ, "system.clock" },
    { NULL, NULL, RP_READ, NULL }
};

