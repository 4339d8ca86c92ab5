/* accounts_store_purge.c - the store's timed purge of `pending` (its layout is in
 * accounts_store.c): timeline entries about an upstream entity that never joined a
 * client (a lead never won, a contract whose lead never was) are dropped once they
 * are older than the setting RAPPORT_ACCOUNTS_PENDING_DAYS.
 *
 * `pending` is keyed upstream NUL subject NUL + at u64 + entry id NUL, so the age of
 * an entry is read from its key, never by unpacking it. There is no index by age:
 * each run of the job walks on from where the last one stopped (wrapping at the end)
 * and looks at most `scan` keys and drops at most `drop`, so a run is short however
 * large the table, and the whole table is seen again every size/scan runs. Where a
 * walk stopped is kept in memory only: after a restart it starts at the beginning.
 *
 * link_waits rows are kept: a lead won after its pending entries were purged still
 * links the contracts drafted from it, so their later events join the client.
 */
#include <string.h>
#include "accounts.h"

/* Where the next run goes on (a key of `pending`); empty: at the first key. */
static uint8_t s_resume[512];
static size_t s_resume_len;

/* s_key_at - the `at` of a pending key; false when the key is not one. */
static bool s_key_at(const MDB_val *k, uint64_t *at)
{
    const uint8_t *p = k->mv_data, *end = p + k->mv_size;
    for (int nul = 0; nul < 2; nul++) {
        p = memchr(p, '\0', (size_t)(end - p));
        if (!p)
            return false;
        p++;
    }
    if (end - p < 8)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    *at = v;
    return true;
}

static void s_remember(const MDB_val *k)
{
    s_resume_len = k && k->mv_size <= sizeof s_resume ? k->mv_size : 0;
    if (s_resume_len)
        memcpy(s_resume, k->mv_data, s_resume_len);
}

int acc_pending_purge(rp_ctx_t *ctx, int64_t before, uint32_t scan, uint32_t drop, size_t *dropped)
{
    *dropped = 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "pending"), &cur);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "pending");
    /* the walk starts at the resume key and, past the end, goes on from the first key
     * up to it (a key before it: start holds a copy, as s_resume changes) */
    uint8_t start[sizeof s_resume];
    size_t start_len = s_resume_len;
    memcpy(start, s_resume, start_len);
    MDB_val k = { start_len, start }, v;
    rc = mdb_cursor_get(cur, &k, &v, start_len ? MDB_SET_RANGE : MDB_FIRST);
    bool wrapped = start_len == 0;
    uint32_t seen = 0;
    uint8_t gone[sizeof s_resume];
    for (;;) {
        if (rc == MDB_NOTFOUND && !wrapped) {
            wrapped = true;
            rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        }
        if (rc == MDB_NOTFOUND) {
            s_remember(NULL);
            rc = 0;
            break;
        }
        if (rc)
            break;
        if (wrapped && start_len) {
            size_t n = k.mv_size < start_len ? k.mv_size : start_len;
            int c = memcmp(k.mv_data, start, n);
            if (c > 0 || (c == 0 && k.mv_size >= start_len)) {
                s_remember(&k);         /* round the table: this run is done */
                break;
            }
        }
        if (seen == scan || *dropped == drop) {
            s_remember(&k);
            break;
        }
        seen++;
        uint64_t at;
        if (s_key_at(&k, &at) && at < (uint64_t)(before > 0 ? before : 0) && k.mv_size <= sizeof gone) {
            size_t gone_len = k.mv_size;
            memcpy(gone, k.mv_data, gone_len);
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
            (*dropped)++;
            /* the next key is the first one after the deleted key */
            k.mv_size = gone_len;
            k.mv_data = gone;
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            continue;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc ? rp_reply_lmdb(ctx, rc, "pending") : 0;
}
