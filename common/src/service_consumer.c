/* service_consumer.c - durable consumers of other services' events (DESIGN.md §7):
 * each event is applied in a nested transaction together with the upstream's next
 * seq in `offsets`, so it is handled exactly once across kill -9.
 */
#include "service_internal.h"

#define S_CONSUME_MAX 64

/* ------------------------------------------------------------------ durable consumers */

/* s_offset_get - the next upstream seq to apply, from `offsets` (1 when none). */
static uint64_t
s_offset_get(rp_service_t *svc, const char *key)
{
    MDB_txn *txn;
    uint64_t next = 1;
    if (mdb_txn_begin(rp_store_env(svc->store), NULL, MDB_RDONLY, &txn) != 0)
        return next;
    MDB_val k = { strlen(key), (void *) key }, v;
    if (mdb_get(txn, rp_store_dbi(svc->store, "offsets"), &k, &v) == 0 && v.mv_size == 8)
        next = rp_be_u64(v.mv_data);
    mdb_txn_abort(txn);
    return next;
}

/* svc_upstream_connect - (re)create the consumer at the stored offset. */
void
svc_upstream_connect(rp_service_t *svc, s_upstream_t *up)
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
        .from_seq = s_offset_get(svc, up->offset_key)
    };
    up->consumer = rp_consumer_new(&o);
    if (!up->consumer)
        up->retry_at_us = rp_clock_mono_us() + 5000000;
}

/* s_apply_one - apply one upstream event in a nested transaction. 0 when applied or
 * refused by the service (the stream moves on), S_FULL when the map is full (grow and
 * retry), S_FAILED on another storage error (retry later from the stored offset). */
enum { S_FULL = -1, S_FAILED = -2 };
static int
s_apply_one(rp_service_t *svc, s_upstream_t *up, rp_ctx_t *ctx, const Rapport__V1__Event *ev,
            MDB_txn *parent)
{
    rp_audit_head_t head = svc->audit_head;
    int rc = mdb_txn_begin(rp_store_env(svc->store), parent, 0, &ctx->txn);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "begin nested"), ctx->map_full ? S_FULL : S_FAILED;
    rc = up->def->apply(ctx, ev);
    if (rc == 0 && ctx->code == RP_OK) {
        char *method = rp_ctx_sprintf(ctx, "consume/%s", ev->type);
        rc = svc_audit(ctx, method);
        if (rc == 0)
            rc = mdb_txn_commit(ctx->txn);
        else
            mdb_txn_abort(ctx->txn);
        ctx->txn = NULL;
        if (rc) {
            svc->audit_head = head;
            rp_reply_lmdb(ctx, rc, "apply event");
            return ctx->map_full ? S_FULL : S_FAILED;
        }
        rp_counter_add(up->m_applied, 1);
        return 0;
    }
    mdb_txn_abort(ctx->txn);
    svc->audit_head = head;
    ctx->txn = NULL;
    ctx->events = NULL;
    ctx->events_tail = &ctx->events;
    ctx->revokes = NULL;
    if (ctx->map_full)
        return S_FULL;
    rp_warn("consumer of %s: event %llu (%s) rejected: %s", up->def->upstream,
            (unsigned long long) ev->seq, ev->type, ctx->message ? ctx->message : "error");
    rp_counter_add(up->m_rejected, 1);
    ctx->code = RP_OK;                  /* the stream moves on */
    return 0;
}

/* svc_consume - take the events that are ready (up to batch_max) and apply them in
 * one write transaction with the new offset: one commit for the lot. */
void
svc_consume(rp_service_t *svc, s_upstream_t *up)
{
    /* At most S_CONSUME_MAX events a turn, so the service's own requests wait for
     * one short commit at most while it catches up. */
    size_t n = 0, max = svc->batch_max < S_CONSUME_MAX ? (size_t) svc->batch_max : S_CONSUME_MAX;
    Rapport__V1__Event **evs = rp_calloc(max, sizeof *evs);
    while (n < max) {
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
        int failure = 0;
        for (size_t i = 0; i < n && !failure; i++) {
            rp_ctx_t *ctx = svc->batch[i];
            svc_ctx_reset(ctx);
            rp_strlcpy(ctx->claims.sub, "system", sizeof ctx->claims.sub);
            rp_strlcpy(ctx->claims.scope, "company", sizeof ctx->claims.scope);
            rp_strlcpy(ctx->claims.branch, evs[i]->branch, sizeof ctx->claims.branch);
            ctx->req = rp_ctx_alloc(ctx, sizeof *ctx->req);
            rapport__v1__request__init(ctx->req);
            ctx->req->id = rp_ctx_sprintf(ctx, "%s-%llu", up->def->upstream,
                                          (unsigned long long) evs[i]->seq);
            rp_idem_digest(evs[i]->type, evs[i]->data.data, evs[i]->data.len, ctx->digest);
            failure = s_apply_one(svc, up, ctx, evs[i], txn);
        }
        if (failure == S_FAILED) {
            mdb_txn_abort(txn);
            svc->audit_head.known = false;
            break;                      /* retried from the stored offset */
        }
        bool full = failure == S_FULL;
        uint8_t next[8];
        rp_u64_be(evs[n - 1]->seq + 1, next);
        MDB_val k = { strlen(up->offset_key), up->offset_key }, v = { 8, next };
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
            if (rc == MDB_MAP_FULL && rp_store_grow(svc->store) == 0)
                continue;           /* the commit itself needed pages: rerun */
            rp_error("consumer of %s: commit: %s", up->def->upstream, mdb_strerror(rc));
            break;
        }
        committed = true;
        svc->last_seq = last;
        rp_counter_add(svc->m_commits, 1);
        for (size_t i = 0; i < n; i++)
            svc_publish(svc, svc->batch[i]);
    }
    if (!committed && up->consumer) {
        /* Nothing was applied: start again from the stored offset. */
        rp_consumer_destroy(&up->consumer);
        up->retry_at_us = rp_clock_mono_us() + 1000000;
    }
    for (size_t i = 0; i < n; i++) {
        rapport__v1__event__free_unpacked(evs[i], NULL);
        svc_ctx_reset(svc->batch[i]);
    }
    free(evs);
}

/* svc_upstreams_open - one consumer per row of the definition. */
/* s_service_token - RAPPORT_SERVICE_TOKEN or <keys>/<name>.token; NULL when neither. */
static char *
s_service_token(rp_service_t *svc)
{
    const char *tok = rp_config_str("RAPPORT_SERVICE_TOKEN", NULL);
    if (tok)
        return rp_strdup(tok);
    char *path = rp_sprintf("%s/%s.token", svc->keys_dir, svc->def->name), *data = NULL;
    size_t len;
    if (rp_read_file(path, 8192, &data, &len) == 0)
        while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
            data[--len] = '\0';
    free(path);
    return data;
}

int
svc_upstreams_open(rp_service_t *svc)
{
    size_t n_own = 0;
    for (const rp_consumer_def_t *c = svc->def->consumers; c && c->upstream; c++)
        n_own++;
    bool revocations = svc_revocations_wanted(svc);
    if (!n_own && !revocations)
        return 0;
    svc->service_token = s_service_token(svc);
    if (!svc->service_token) {
        if (n_own) {
            rp_error("this service consumes events but has no token: set RAPPORT_SERVICE_TOKEN "
                     "or write %s/%s.token", svc->keys_dir, svc->def->name);
            return -1;
        }
        rp_warn("no service token (RAPPORT_SERVICE_TOKEN or %s/%s.token): revoked tokens and "
                "registered client keys are not followed; tokens stay valid until they expire, "
                "only allowlisted clients get in", svc->keys_dir, svc->def->name);
        return 0;
    }
    svc->n_upstreams = n_own + (revocations ? 2 : 0);     /* and identity's keys */
    svc->upstreams = rp_calloc(svc->n_upstreams, sizeof *svc->upstreams);
    for (size_t i = 0; i < svc->n_upstreams; i++) {
        s_upstream_t *up = &svc->upstreams[i];
        up->def = i < n_own ? &svc->def->consumers[i] : i == n_own ? &svc_revocation_consumer
                                                                  : &svc_keys_consumer;
        /* One offset per upstream and type prefix: two consumers of one upstream
         * (ours and the built-in revocations) keep their own positions. */
        up->offset_key = rp_sprintf("%s/%s", up->def->upstream, up->def->type_prefix);
        char *labels = rp_sprintf("upstream=\"%s\",types=\"%s\"", up->def->upstream,
                                  up->def->type_prefix);
        up->m_applied = rp_metrics_counter(svc->metrics, "consumer_applied_total", "Upstream events applied", labels);
        up->m_rejected = rp_metrics_counter(svc->metrics, "consumer_rejected_total", "Upstream events the service refused", labels);
        free(labels);
        svc_upstream_connect(svc, up);
    }
    return 0;
}

