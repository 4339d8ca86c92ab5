/* idem.c - idempotency records: a write's reply is kept under its request id so a
 * retry gets the same reply and changes nothing (DESIGN.md §3).
 *
 * Record layout in `idem` (value): expires_ms u64 BE | digest[32] | packed Reply.
 * `idem_exp` holds expires_ms u64 BE | request id -> "" for expiry sweeps.
 */
#include <assert.h>
#include <string.h>
#include <sodium.h>
#include "rapport/idem.h"
#include "rapport/store.h"

#define S_HDR (8 + RP_IDEM_DIGEST)

void
rp_idem_digest(const char *method, const uint8_t *body, size_t len, uint8_t out[RP_IDEM_DIGEST])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, RP_IDEM_DIGEST);
    crypto_generichash_update(&st, (const uint8_t *) method, strlen(method) + 1);
    if (len)
        crypto_generichash_update(&st, body, len);
    crypto_generichash_final(&st, out, RP_IDEM_DIGEST);
}

rp_idem_result_t
rp_idem_lookup(MDB_txn *txn, MDB_dbi idem, const char *id, int64_t now_ms,
               const uint8_t digest[RP_IDEM_DIGEST], const uint8_t **reply, size_t *len)
{
    MDB_val k = { strlen(id), (void *) id }, v;
    if (mdb_get(txn, idem, &k, &v) != 0 || v.mv_size < S_HDR)
        return RP_IDEM_NEW;
    const uint8_t *p = v.mv_data;
    if ((int64_t) rp_be_u64(p) <= now_ms)
        return RP_IDEM_NEW;
    if (sodium_memcmp(p + 8, digest, RP_IDEM_DIGEST) != 0)
        return RP_IDEM_MISMATCH;
    *reply = p + S_HDR;
    *len = v.mv_size - S_HDR;
    return RP_IDEM_REPLAY;
}

int
rp_idem_store(MDB_txn *txn, MDB_dbi idem, MDB_dbi idem_exp, const char *id,
              const uint8_t digest[RP_IDEM_DIGEST], const uint8_t *reply, size_t len,
              int64_t expires_ms)
{
    size_t idlen = strlen(id);
    MDB_val k = { idlen, (void *) id }, v = { S_HDR + len, NULL };
    int rc = mdb_put(txn, idem, &k, &v, MDB_RESERVE);
    if (rc)
        return rc;
    uint8_t *p = v.mv_data;
    rp_u64_be((uint64_t) expires_ms, p);
    memcpy(p + 8, digest, RP_IDEM_DIGEST);
    if (len)
        memcpy(p + S_HDR, reply, len);

    rp_key_t ek;
    rp_key_init(&ek);
    rp_key_u64(&ek, (uint64_t) expires_ms);
    rp_key_bytes(&ek, id, idlen);
    if (ek.overflow)
        return MDB_BAD_VALSIZE;
    MDB_val ekv = rp_key_val(&ek), empty = { 0, NULL };
    return mdb_put(txn, idem_exp, &ekv, &empty, 0);
}

int
rp_idem_reply(MDB_txn *txn, MDB_dbi idem, const char *id, const uint8_t **reply, size_t *len)
{
    MDB_val k = { strlen(id), (void *) id }, v;
    int rc = mdb_get(txn, idem, &k, &v);
    if (rc)
        return rc;
    if (v.mv_size < S_HDR)
        return MDB_NOTFOUND;
    *reply = (const uint8_t *) v.mv_data + S_HDR;
    *len = v.mv_size - S_HDR;
    return 0;
}

int
rp_idem_replace(MDB_txn *txn, MDB_dbi idem, const char *id, const uint8_t *reply, size_t len)
{
    const uint8_t *old;
    size_t old_len;
    int rc = rp_idem_reply(txn, idem, id, &old, &old_len);
    if (rc)
        return rc;
    uint8_t hdr[S_HDR];
    memcpy(hdr, old - S_HDR, S_HDR);   /* it points into the map: copy before the put */
    MDB_val k = { strlen(id), (void *) id }, nv = { S_HDR + len, NULL };
    rc = mdb_put(txn, idem, &k, &nv, MDB_RESERVE);
    if (rc)
        return rc;
    memcpy(nv.mv_data, hdr, S_HDR);
    if (len)
        memcpy((uint8_t *) nv.mv_data + S_HDR, reply, len);
    return 0;
}

int
rp_idem_expire(MDB_txn *txn, MDB_dbi idem, MDB_dbi idem_exp, int64_t now_ms, int max)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, idem_exp, &cur) != 0)
        return -1;
    MDB_val k, v;
    int n = 0, rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && n < max && k.mv_size > 8
           && (int64_t) rp_be_u64(k.mv_data) <= now_ms) {
        MDB_val id = { k.mv_size - 8, (uint8_t *) k.mv_data + 8 }, rec;
        /* The record may have been rewritten with a later expiry: keep that one. */
        if (mdb_get(txn, idem, &id, &rec) == 0 && rec.mv_size >= 8
            && (int64_t) rp_be_u64(rec.mv_data) <= now_ms) {
            int drc = mdb_del(txn, idem, &id, NULL);
            if (drc && drc != MDB_NOTFOUND)
                goto fail;
        }
        if (mdb_cursor_del(cur, 0) != 0)
            goto fail;
        n++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);    /* we delete from the front */
    }
    mdb_cursor_close(cur);
    return n;
fail:
    mdb_cursor_close(cur);
    return -1;
}
