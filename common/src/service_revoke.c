/* service_revoke.c - revoked tokens reach every service (DESIGN.md §6).
 *
 * rapport-identity emits rapport.identity.v1.token.revoked {jti, exp} when a
 * session ends (logout, a replayed refresh token, a password change). Every other
 * service follows those events with a built-in durable consumer: each revoked jti
 * goes into the platform table `revoked` (jti -> exp, u64 BE seconds), in the same
 * transaction as the consumer's offset, and into the token verifier's revocation
 * set at once, so a revoked token stops working within the event's delivery time
 * (live on PUB: milliseconds; after a gap, the next heartbeat: a second). At start
 * the table is loaded back into the verifier; the idempotency sweep drops rows
 * whose tokens have expired anyway.
 *
 * Following needs a token with events.replay for identity's Replay (the service
 * token of service.h). Without one the service says so once and goes on: tokens
 * are then valid until they expire, as before identity existed.
 */
#include "service_internal.h"
#include "rapport/identity/v1/identity.pb-c.h"

#define S_REVOKED_TYPE "rapport.identity.v1.token.revoked"

/* s_apply_revocation - one token.revoked event: remember the jti until it expires. */
static int
s_apply_revocation(rp_ctx_t *ctx, const Rapport__V1__Event *ev)
{
    Rapport__Identity__V1__TokenRevoked *r = rapport__identity__v1__token_revoked__unpack(
        rp_ctx_allocator(ctx), ev->data.len, ev->data.data);
    if (!r || rp_str_empty(r->jti) || strlen(r->jti) >= sizeof ((rp_claims_t *) 0)->jti)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "token.revoked %llu has no usable jti",
                              (unsigned long long) ev->seq);
    uint8_t exp[8];
    rp_u64_be((uint64_t) (r->exp > 0 ? r->exp : 0), exp);
    MDB_val k = { strlen(r->jti), r->jti }, v = { 8, exp };
    int rc = mdb_put(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "revoked"), &k, &v, 0);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "revoked");
    /* At once: a rollback of this batch would only re-apply the same event. */
    rp_jwt_verifier_revoke(ctx->svc->verifier, r->jti, r->exp);
    rp_ctx_set_subject(ctx, r->jti);
    return 0;
}

const rp_consumer_def_t svc_revocation_consumer = {
    "identity", S_REVOKED_TYPE, s_apply_revocation
};

bool
svc_revocations_wanted(rp_service_t *svc)
{
    /* A service never follows its own events: the one that issues revocations
     * applies them as it writes them (rp_ctx_revoke). */
    return strcmp(svc->def->name, svc_revocation_consumer.upstream) != 0;
}

int
svc_revocations_load(rp_service_t *svc)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(rp_store_env(svc->store), NULL, MDB_RDONLY, &txn);
    if (rc)
        return -1;
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, rp_store_dbi(svc->store, "revoked"), &cur);
    if (rc) {
        mdb_txn_abort(txn);
        return -1;
    }
    int64_t now_s = rp_clock_now_ms() / 1000;
    size_t n = 0;
    MDB_val k, v;
    char jti[64];
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        int64_t exp = v.mv_size == 8 ? (int64_t) rp_be_u64(v.mv_data) : 0;
        if (exp <= now_s || k.mv_size >= sizeof jti)
            continue;
        memcpy(jti, k.mv_data, k.mv_size);
        jti[k.mv_size] = '\0';
        rp_jwt_verifier_revoke(svc->verifier, jti, exp);
        n++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (n)
        rp_info("%zu revoked token(s) still in force", n);
    return 0;
}

int
svc_revocations_sweep(rp_ctx_t *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "revoked"), &cur);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "revoked sweep");
    int64_t now_s = rp_ctx_now(ctx) / 1000;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (v.mv_size != 8 || (int64_t) rp_be_u64(v.mv_data) <= now_s)
            mdb_cursor_del(cur, 0);
    mdb_cursor_close(cur);
    return 0;
}
