/* index.c - the index entries of one stored entity (index.h): collect the keys,
 * then put or delete them all in the request's transaction; store an entity with
 * its entries; find one by a unique key; page through the entities of an index.
 */
#include <stdlib.h>
#include <string.h>
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

/* ---- an indexed entity ---- */

/* s_id_of - the "id" string field of m (NULL when it has none). */
static const char *s_id_of(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "id");
    if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return *(const char *const *)((const uint8_t *)m + f->offset);
}

int rp_index_put(rp_ctx_t *ctx, const rp_index_entity_t *e, const ProtobufCMessage *m,
                 const uint8_t *packed, size_t len, bool fresh)
{
    MDB_txn *txn = rp_ctx_txn(ctx);
    MDB_dbi dbi = rp_ctx_dbi(ctx, e->table);
    const char *ids = s_id_of(m);
    rp_ulid_t id;
    if (rp_str_empty(ids) || rp_ulid_parse(ids, &id) < 0)
        return rp_reply_error(ctx, RP_INTERNAL, "%s without a valid id", e->what);

    rp_index_set_t set = { 0 };
    int ret = 0;
    ProtobufCMessage *old = NULL;
    int rc = fresh ? MDB_NOTFOUND : rp_store_get_msg(txn, dbi, id.b, RP_ULID_LEN, e->desc, NULL, &old);
    if (rc == 0) {
        e->index(old, &id, &set);
        protobuf_c_message_free_unpacked(old, NULL);
        ret = rp_index_apply(ctx, &set, true);
        rp_index_reset(&set);
    } else if (rc == -1) {
        ret = rp_reply_error(ctx, RP_INTERNAL, "stored %s does not decode", e->what);
    } else if (rc != MDB_NOTFOUND) {
        ret = rp_reply_lmdb(ctx, rc, e->table);
    }
    if (ret == 0) {
        if (!packed)
            packed = rp_ctx_pack(ctx, m, &len);
        MDB_val k = { RP_ULID_LEN, id.b }, v = { len, (void *) packed };
        rc = mdb_put(txn, dbi, &k, &v, fresh ? MDB_NOOVERWRITE : 0);
        if (rc != 0)
            ret = rp_reply_lmdb(ctx, rc, e->table);
    }
    if (ret == 0) {
        e->index(m, &id, &set);
        ret = rp_index_apply(ctx, &set, false);
    }
    rp_index_set_clear(&set);
    return ret;
}

/* ---- reading back ---- */

int rp_index_find(rp_ctx_t *ctx, const char *table, const rp_key_t *prefix,
                  const rp_ulid_t *exclude, rp_ulid_t *found)
{
    if (prefix->overflow)
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, table), &cur);
    if (rc)
        return rp_reply_lmdb(ctx, rc, table);
    MDB_val k = rp_key_val(prefix), v;
    int ret = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != prefix->len + RP_ULID_LEN || memcmp(k.mv_data, prefix->b, prefix->len) != 0)
            break;
        const uint8_t *u = (const uint8_t *) k.mv_data + prefix->len;
        if (exclude && memcmp(u, exclude->b, RP_ULID_LEN) == 0)
            continue;
        memcpy(found->b, u, RP_ULID_LEN);
        ret = 1;
        break;
    }
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = rp_reply_lmdb(ctx, rc, table);
    mdb_cursor_close(cur);
    return ret;
}

int rp_index_find_str(rp_ctx_t *ctx, const char *table, const rp_key_t *prefix,
                      const char *exclude_id, char found[RP_ULID_STRLEN + 1])
{
    rp_ulid_t ex, u;
    bool have_ex = !rp_str_empty(exclude_id) && rp_ulid_parse(exclude_id, &ex) == 0;
    int rc = rp_index_find(ctx, table, prefix, have_ex ? &ex : NULL, &u);
    if (rc == 1)
        rp_ulid_format(&u, found);
    return rc;
}

int rp_index_page(rp_ctx_t *ctx, const char *table, const rp_key_t *lo, const rp_key_t *hi,
                  const char *page_token, uint32_t limit, uint32_t budget,
                  rp_scan_fn fn, void *arg, char **next_token)
{
    if (next_token)
        *next_token = NULL;
    if (lo->overflow || (hi && hi->overflow))
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "query value too long");
    char *tok = NULL;
    int rc = rp_page_scan(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, table), lo, hi, page_token, limit, budget,
                          fn, arg, &tok);
    if (rc == 0 && next_token && tok)
        *next_token = rp_ctx_strdup(ctx, tok);
    free(tok);
    if (rc == -1 && !rp_ctx_failed(ctx))
        rp_reply_error(ctx, RP_INTERNAL, "scan of %s failed", table);
    return rc;
}

typedef struct {
    rp_ctx_t *ctx;
    const rp_index_entity_t *e;
    MDB_txn *txn;
    MDB_dbi entities;
    bool direct;            /* the rows are the entities themselves */
    rp_index_row_fn fn;
    void *arg;
} s_scan_t;

static int s_scan_row(void *arg, const MDB_val *key, const MDB_val *val)
{
    s_scan_t *s = arg;
    MDB_val v = *val;
    if (!s->direct) {
        if (key->mv_size < RP_ULID_LEN)
            return 0;
        MDB_val k = { RP_ULID_LEN, (uint8_t *) key->mv_data + key->mv_size - RP_ULID_LEN };
        int rc = mdb_get(s->txn, s->entities, &k, &v);
        if (rc == MDB_NOTFOUND) {
            rp_warn("index entry without a %s, skipped", s->e->what);
            return 0;
        }
        if (rc) {
            rp_reply_lmdb(s->ctx, rc, s->e->table);
            return -1;
        }
    }
    /* malloc'd, not the arena: a scan may examine many rows it does not keep. */
    ProtobufCMessage *m = protobuf_c_message_unpack(s->e->desc, NULL, v.mv_size, v.mv_data);
    if (!m) {
        rp_warn("stored %s does not decode, skipped", s->e->what);
        return 0;
    }
    int r = s->fn(s->arg, m);
    protobuf_c_message_free_unpacked(m, NULL);
    return r;
}

int rp_index_scan(rp_ctx_t *ctx, const rp_index_entity_t *e, const char *table,
                  const rp_key_t *lo, const rp_key_t *hi, const char *page_token,
                  uint32_t limit, uint32_t budget, rp_index_row_fn fn, void *arg,
                  char **next_token)
{
    s_scan_t s = {
        .ctx = ctx, .e = e, .txn = rp_ctx_txn(ctx), .entities = rp_ctx_dbi(ctx, e->table),
        .direct = strcmp(table, e->table) == 0, .fn = fn, .arg = arg,
    };
    return rp_index_page(ctx, table, lo, hi, page_token, limit, budget, s_scan_row, &s, next_token);
}
