/* index.c - the index entries of one stored entity (index.h): collect the keys,
 * then put or delete them all in the request's transaction.
 */
#include "rapport/index.h"
#include "rapport/log.h"
#include "rapport/util.h"

rp_key_t *rp_index_add(rp_index_set_t *set, const char *table)
{
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 16;
        set->v = rp_realloc(set->v, set->cap * sizeof *set->v);
    }
    rp_index_entry_t *e = &set->v[set->n++];
    e->table = table;
    rp_key_init(&e->key);
    return &e->key;
}

int rp_index_apply(rp_ctx_t *ctx, const rp_index_set_t *set, bool del)
{
    MDB_txn *txn = rp_ctx_txn(ctx);
    for (size_t i = 0; i < set->n; i++) {
        const rp_index_entry_t *e = &set->v[i];
        if (e->key.overflow) {
            rp_warn("index key too long for %s, entry skipped", e->table);
            continue;
        }
        MDB_dbi dbi = rp_ctx_dbi(ctx, e->table);
        MDB_val k = rp_key_val(&e->key);
        MDB_val v = { 0, (void *) "" };
        int rc = del ? mdb_del(txn, dbi, &k, NULL) : mdb_put(txn, dbi, &k, &v, 0);
        if (rc != 0 && !(del && rc == MDB_NOTFOUND))
            return rp_reply_lmdb(ctx, rc, e->table);
    }
    return 0;
}

void rp_index_reset(rp_index_set_t *set)
{
    set->n = 0;
}

void rp_index_set_clear(rp_index_set_t *set)
{
    rp_free(set->v);
    set->n = set->cap = 0;
}
