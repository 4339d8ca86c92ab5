/* contracts_store.c - the only file that touches rapport-contracts' tables.
 *
 * Entities (key: ULID, 16 bytes):
 *   quotes     -> Quote
 *   contracts  -> Contract
 *   orders     -> Order
 * Counters:
 *   numbers    branch NUL year u32 -> last sequence u64 (big-endian)
 * Indexes (empty values; every key ends with the entity's ULID):
 *   ix_quote_owner     owner NUL                                   + quote
 *   ix_quote_exp       valid_until days i64 (SENT quotes)          + quote
 *   ix_contract_owner  owner NUL                                   + contract
 *   ix_contract_number number NUL                                  + contract
 *   ix_contract_lead   lead ULID (drafted from a won lead)         + contract
 *   ix_contract_due    next day the daily job acts i64 (contracts_next_day)
 *                                                                  + contract
 *   ix_order_contract  contract ULID                               + order
 *   ix_order_due       due days i64 (open orders, overdue not yet raised) + order
 * Keyring (declared here, used only by contracts_keyring.c):
 *   signing_keys       key id NUL -> SigningKeyRecord
 *
 * contracts_store_put removes the index entries of the stored version and adds
 * those of the new one in the request's transaction (rapport/index.h), so indexes
 * never drift.
 */
#include <string.h>
#include <stdlib.h>
#include "contracts.h"
#include "rapport/index.h"
#include "rapport/log.h"
#include "rapport/util.h"

static int s_migrate_v1(rp_store_t *store, MDB_txn *txn)
{
    (void)store; (void)txn;     /* the tables are created at open */
    return 0;
}

const rp_table_t contracts_tables[] = {
    { "quotes", 0 }, { "contracts", 0 }, { "orders", 0 }, { "numbers", 0 },
    { "ix_quote_owner", 0 }, { "ix_quote_exp", 0 },
    { "ix_contract_owner", 0 }, { "ix_contract_number", 0 }, { "ix_contract_lead", 0 },
    { "ix_contract_due", 0 },
    { "ix_order_contract", 0 }, { "ix_order_due", 0 },
    { "signing_keys", 0 },
    { NULL, 0 }
};

const rp_migration_t contracts_migrations[] = {
    { 1, "initial tables", s_migrate_v1 },
    { 0, NULL, NULL }
};

static const struct {
    const char *table;
    const ProtobufCMessageDescriptor *desc;
} s_kinds[] = {
    [CE_QUOTE] = { "quotes", &rapport__contracts__v1__quote__descriptor },
    [CE_CONTRACT] = { "contracts", &rapport__contracts__v1__contract__descriptor },
    [CE_ORDER] = { "orders", &rapport__contracts__v1__order__descriptor },
};

/* ---- index entries ---- */

static int s_parse(const char *s, rp_ulid_t *u)
{
    return rp_ulid_parse(s ? s : "", u);
}

static bool s_order_open(int status)
{
    return status != OS_DELIVERED && status != OS_CLOSED && status != OS_CANCELLED;
}

/* s_entries - every index key of entity m (id already parsed). */
static void s_entries(contracts_entity_t kind, const ProtobufCMessage *m, const rp_ulid_t *id,
                      rp_index_set_t *e)
{
    rp_key_t *k;
    rp_ulid_t u;
    if (kind == CE_QUOTE) {
        const Quote *q = (const Quote *)m;
        k = rp_index_add(e, "ix_quote_owner");
        rp_key_str(k, q->owner); rp_key_ulid(k, id);
        if (q->status == QS_SENT && q->terms && q->terms->valid_until) {
            k = rp_index_add(e, "ix_quote_exp");
            rp_key_i64(k, contracts_days(q->terms->valid_until)); rp_key_ulid(k, id);
        }
    } else if (kind == CE_CONTRACT) {
        const Contract *c = (const Contract *)m;
        k = rp_index_add(e, "ix_contract_owner");
        rp_key_str(k, c->owner); rp_key_ulid(k, id);
        k = rp_index_add(e, "ix_contract_number");
        rp_key_str(k, c->number); rp_key_ulid(k, id);
        if (!rp_str_empty(c->lead_id) && s_parse(c->lead_id, &u) == 0) {
            k = rp_index_add(e, "ix_contract_lead");
            rp_key_ulid(k, &u); rp_key_ulid(k, id);
        }
        int32_t day = contracts_next_day(c);
        if (day != INT32_MAX) {
            k = rp_index_add(e, "ix_contract_due");
            rp_key_i64(k, day); rp_key_ulid(k, id);
        }
    } else {
        const Order *o = (const Order *)m;
        if (s_parse(o->contract_id, &u) == 0) {
            k = rp_index_add(e, "ix_order_contract");
            rp_key_ulid(k, &u); rp_key_ulid(k, id);
        }
        if (s_order_open(o->status) && !o->overdue_raised && o->due) {
            k = rp_index_add(e, "ix_order_due");
            rp_key_i64(k, contracts_days(o->due)); rp_key_ulid(k, id);
        }
    }
}

/* ---- entities ---- */

int contracts_store_get(rp_ctx_t *ctx, contracts_entity_t kind, const rp_ulid_t *id, ProtobufCMessage **out)
{
    int rc = rp_store_get_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, s_kinds[kind].table), id->b, RP_ULID_LEN,
                              s_kinds[kind].desc, rp_ctx_allocator(ctx), out);
    if (rc == MDB_NOTFOUND)
        return MDB_NOTFOUND;
    if (rc == -1)
        return rp_reply_error(ctx, RP_INTERNAL, "a stored %s does not decode", s_kinds[kind].table);
    if (rc != 0)
        return rp_reply_lmdb(ctx, rc, s_kinds[kind].table);
    return 0;
}

/* s_id_of - the id field (field 1, a string) of every entity. */
static const char *s_id_of(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(m->descriptor, 1);
    return *(const char *const *)((const uint8_t *)m + f->offset);
}

int contracts_store_put(rp_ctx_t *ctx, contracts_entity_t kind, const ProtobufCMessage *m)
{
    MDB_txn *txn = rp_ctx_txn(ctx);
    MDB_dbi dbi = rp_ctx_dbi(ctx, s_kinds[kind].table);
    rp_ulid_t id;
    if (s_parse(s_id_of(m), &id) < 0)
        return rp_reply_error(ctx, RP_INTERNAL, "%s without a valid id", s_kinds[kind].table);
    rp_index_set_t e = { 0 };
    ProtobufCMessage *old = NULL;
    int ret = 0;
    int rc = rp_store_get_msg(txn, dbi, id.b, RP_ULID_LEN, s_kinds[kind].desc, NULL, &old);
    if (rc == 0) {
        s_entries(kind, old, &id, &e);
        protobuf_c_message_free_unpacked(old, NULL);
        ret = rp_index_apply(ctx, &e, true);
        rp_index_reset(&e);
    } else if (rc == -1) {
        ret = rp_reply_error(ctx, RP_INTERNAL, "a stored %s does not decode", s_kinds[kind].table);
    } else if (rc != MDB_NOTFOUND) {
        ret = rp_reply_lmdb(ctx, rc, s_kinds[kind].table);
    }
    if (ret == 0 && (rc = rp_store_put_msg(txn, dbi, id.b, RP_ULID_LEN, m)) != 0)
        ret = rp_reply_lmdb(ctx, rc, s_kinds[kind].table);
    if (ret == 0) {
        s_entries(kind, m, &id, &e);
        ret = rp_index_apply(ctx, &e, false);
    }
    rp_index_set_clear(&e);
    return ret;
}

/* s_prefix_first - the ULID ending the first key that starts with prefix. 1/0/-1. */
static int s_prefix_first(rp_ctx_t *ctx, const char *table, const rp_key_t *prefix, rp_ulid_t *id)
{
    if (prefix->overflow)
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, table), &cur);
    if (rc)
        return rp_reply_lmdb(ctx, rc, table);
    MDB_val k = rp_key_val(prefix), v;
    int ret = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == prefix->len + RP_ULID_LEN && memcmp(k.mv_data, prefix->b, prefix->len) == 0) {
        memcpy(id->b, (const uint8_t *)k.mv_data + prefix->len, RP_ULID_LEN);
        ret = 1;
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        ret = rp_reply_lmdb(ctx, rc, table);
    }
    mdb_cursor_close(cur);
    return ret;
}

int contracts_store_find_number(rp_ctx_t *ctx, const char *number, rp_ulid_t *id)
{
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, number);
    return s_prefix_first(ctx, "ix_contract_number", &k, id);
}

int contracts_store_find_lead(rp_ctx_t *ctx, const char *lead_id, rp_ulid_t *id)
{
    rp_ulid_t u;
    if (s_parse(lead_id, &u) < 0)
        return 0;
    rp_key_t k;
    rp_key_init(&k);
    rp_key_ulid(&k, &u);
    return s_prefix_first(ctx, "ix_contract_lead", &k, id);
}

int contracts_store_next_number(rp_ctx_t *ctx, const char *branch, int32_t year, uint64_t *seq)
{
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, branch);
    rp_key_u32(&k, (uint32_t)year);
    if (k.overflow)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "branch too long");
    MDB_txn *txn = rp_ctx_txn(ctx);
    MDB_dbi dbi = rp_ctx_dbi(ctx, "numbers");
    MDB_val key = rp_key_val(&k), v;
    uint64_t last = 0;
    int rc = mdb_get(txn, dbi, &key, &v);
    if (rc == 0 && v.mv_size == 8)
        last = rp_be_u64(v.mv_data);
    else if (rc == 0)
        return rp_reply_error(ctx, RP_INTERNAL, "a stored contract counter is corrupt");
    else if (rc != MDB_NOTFOUND)
        return rp_reply_lmdb(ctx, rc, "numbers");
    uint8_t next[8];
    rp_u64_be(last + 1, next);
    v.mv_size = 8;
    v.mv_data = next;
    rc = mdb_put(txn, dbi, &key, &v, 0);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "numbers");
    *seq = last + 1;
    return 0;
}

/* ---- range scans ---- */

typedef struct {
    rp_ctx_t *ctx;
    MDB_txn *txn;
    MDB_dbi entities;
    const ProtobufCMessageDescriptor *desc;
    contracts_row_fn fn;
    void *arg;
} s_scan_t;

static int s_row(void *arg, const MDB_val *key, const MDB_val *val)
{
    s_scan_t *s = arg;
    (void)val;
    if (key->mv_size < RP_ULID_LEN)
        return 0;
    MDB_val k = { RP_ULID_LEN, (uint8_t *)key->mv_data + key->mv_size - RP_ULID_LEN }, v;
    int rc = mdb_get(s->txn, s->entities, &k, &v);
    if (rc == MDB_NOTFOUND) {
        rp_warn("contracts: index entry without its entity, skipped");
        return 0;
    }
    if (rc) {
        rp_reply_lmdb(s->ctx, rc, "scan");
        return -1;
    }
    /* malloc'd, not the arena: a scan may examine rows it does not keep; fn copies. */
    ProtobufCMessage *m = protobuf_c_message_unpack(s->desc, NULL, v.mv_size, v.mv_data);
    if (!m) {
        rp_warn("contracts: a stored entity does not decode, skipped");
        return 0;
    }
    int r = s->fn(s->arg, m);
    protobuf_c_message_free_unpacked(m, NULL);
    return r;
}

int contracts_store_query(rp_ctx_t *ctx, contracts_query_kind_t kind, const char *s,
                          const rp_ulid_t *id, const char *page_token, uint32_t limit,
                          contracts_row_fn fn, void *arg, char **next_token)
{
    rp_key_t lo;
    rp_key_init(&lo);
    const char *table;
    contracts_entity_t ek;
    switch (kind) {
    case CQ_QUOTES_BY_OWNER:    table = "ix_quote_owner";    ek = CE_QUOTE;    rp_key_str(&lo, s); break;
    case CQ_CONTRACTS_BY_OWNER: table = "ix_contract_owner"; ek = CE_CONTRACT; rp_key_str(&lo, s); break;
    default:                    table = "ix_order_contract"; ek = CE_ORDER;    rp_key_ulid(&lo, id); break;
    }
    if (lo.overflow)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "query value too long");
    s_scan_t st = { ctx, rp_ctx_txn(ctx), rp_ctx_dbi(ctx, s_kinds[ek].table), s_kinds[ek].desc, fn, arg };
    char *tok = NULL;
    *next_token = NULL;
    int rc = rp_page_scan(st.txn, rp_ctx_dbi(ctx, table), &lo, NULL, page_token, limit, 0,
                          s_row, &st, &tok);
    if (rc == 0 && tok)
        *next_token = rp_ctx_strdup(ctx, tok);
    free(tok);
    if (rc == -1 && !rp_ctx_failed(ctx))
        rp_reply_error(ctx, RP_INTERNAL, "scan of %s failed", table);
    return rc;
}

typedef struct {
    rp_ulid_t *ids;
    int n, max;
} s_due_t;

static int s_due_row(void *arg, const MDB_val *key, const MDB_val *val)
{
    s_due_t *d = arg;
    (void)val;
    if (key->mv_size != 8 + RP_ULID_LEN || d->n >= d->max)
        return 0;
    memcpy(d->ids[d->n++].b, (const uint8_t *)key->mv_data + 8, RP_ULID_LEN);
    return 1;
}

int contracts_store_due(rp_ctx_t *ctx, const char *table, int32_t before_day, rp_ulid_t *ids, int max)
{
    rp_key_t lo, hi;
    rp_key_init(&lo);
    rp_key_init(&hi);
    rp_key_i64(&lo, INT32_MIN);
    rp_key_i64(&hi, before_day);
    s_due_t d = { ids, 0, max };
    char *tok = NULL;
    int rc = rp_page_scan(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, table), &lo, &hi, NULL, (uint32_t)max, 0,
                          s_due_row, &d, &tok);
    free(tok);
    if (rc != 0)
        return rp_reply_error(ctx, RP_INTERNAL, "scan of %s failed", table);
    return d.n;
}
