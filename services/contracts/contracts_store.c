/* contracts_store.c - the only file that touches rapport-contracts' tables.
 *
 * Entities (key: ULID, 16 bytes):
 *   quotes     -> Quote
 *   contracts  -> Contract
 *   orders     -> Order
 * Counters:
 *   numbers    branch code NUL year u32 -> last sequence u64 (big-endian); the
 *              code is the branch as it appears in the number (contracts_branch_code)
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
#include <ctype.h>
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

void contracts_branch_code(const char *branch, char code[CT_CODE_MAX + 1])
{
    size_t i = 0;
    for (; branch[i] && i < CT_CODE_MAX; i++)
        code[i] = (char)toupper((unsigned char)branch[i]);
    code[i] = '\0';
}

/* s_counter_key - the numbers key of (code, year). */
static void s_counter_key(rp_key_t *k, const char *code, uint32_t year)
{
    rp_key_init(k);
    rp_key_str(k, code);
    rp_key_u32(k, year);
}

typedef struct {
    char code[CT_CODE_MAX + 1];     /* the normalised code */
    uint32_t year;
    uint64_t last;
    MDB_val key;                    /* the old key (malloc'd copy) */
} s_counter_t;

/* s_migrate_v2 - counters were keyed by the branch as the token spelled it ("hq",
 * "HQ") while numbers use the upper-cased code, so two spellings counted apart and
 * handed out the same numbers. Fold every counter into the key of its code, keeping
 * the largest sequence (every number up to it may have been used), and warn about
 * numbers already held by more than one contract (they are left as they are:
 * a signed contract keeps its number). */
static int s_migrate_v2(rp_store_t *store, MDB_txn *txn)
{
    MDB_dbi dbi = rp_store_dbi(store, "numbers");
    MDB_cursor *cur;
    MDB_val k, v;
    s_counter_t *moves = NULL;
    size_t n = 0, cap = 0;
    int ret = -1, rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        goto lmdb;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *b = k.mv_data;
        size_t len = strnlen(b, k.mv_size);
        if (len + 1 + 4 != k.mv_size || len > CT_CODE_MAX || v.mv_size != 8) {
            rp_warn("contracts: migration 2: a counter key of %zu bytes is not branch NUL year; left alone",
                    k.mv_size);
            continue;
        }
        char code[CT_CODE_MAX + 1], raw[CT_CODE_MAX + 1];
        memcpy(raw, b, len);
        raw[len] = '\0';
        contracts_branch_code(raw, code);
        if (strcmp(code, raw) == 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            moves = rp_realloc(moves, cap * sizeof *moves);
        }
        s_counter_t *m = &moves[n++];
        memcpy(m->code, code, sizeof code);
        const uint8_t *y = (const uint8_t *)b + len + 1;
        m->year = (uint32_t)y[0] << 24 | (uint32_t)y[1] << 16 | (uint32_t)y[2] << 8 | y[3];
        m->last = rp_be_u64(v.mv_data);
        m->key.mv_size = k.mv_size;
        m->key.mv_data = rp_malloc(k.mv_size);
        memcpy(m->key.mv_data, k.mv_data, k.mv_size);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        goto lmdb;
    for (size_t i = 0; i < n; i++) {
        rp_key_t nk;
        s_counter_key(&nk, moves[i].code, moves[i].year);
        MDB_val key = rp_key_val(&nk);
        uint64_t last = moves[i].last;
        rc = mdb_get(txn, dbi, &key, &v);
        if (rc == 0 && v.mv_size == 8 && rp_be_u64(v.mv_data) > last)
            last = rp_be_u64(v.mv_data);
        else if (rc != 0 && rc != MDB_NOTFOUND)
            goto lmdb;
        uint8_t be[8];
        rp_u64_be(last, be);
        MDB_val nv = { 8, be };
        if ((rc = mdb_put(txn, dbi, &key, &nv, 0)) != 0 || (rc = mdb_del(txn, dbi, &moves[i].key, NULL)) != 0)
            goto lmdb;
        rp_info("contracts: migration 2: counter %.*s/%u (%llu) folded into %s (%llu)",
                (int)strnlen(moves[i].key.mv_data, moves[i].key.mv_size), (const char *)moves[i].key.mv_data,
                moves[i].year, (unsigned long long)moves[i].last, moves[i].code, (unsigned long long)last);
    }
    /* numbers handed out twice before this migration */
    dbi = rp_store_dbi(store, "ix_contract_number");
    if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        goto lmdb;
    char prev[128];                 /* the last number seen, with its NUL */
    size_t prev_len = 0;
    bool warned = false;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        size_t len = k.mv_size > RP_ULID_LEN ? k.mv_size - RP_ULID_LEN : 0;
        if (len > 0 && len == prev_len && memcmp(prev, k.mv_data, len) == 0) {
            if (!warned)
                rp_warn("contracts: migration 2: contract number %s is held by more than one contract; "
                        "Get by that number finds only one of them (use the ids)", prev);
            warned = true;
            continue;
        }
        warned = false;
        prev_len = len <= sizeof prev && len > 0 && ((const char *)k.mv_data)[len - 1] == '\0' ? len : 0;
        memcpy(prev, k.mv_data, prev_len);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        goto lmdb;
    ret = 0;
    goto done;
lmdb:
    rp_error("contracts: migration 2: %s", mdb_strerror(rc));
done:
    for (size_t i = 0; i < n; i++)
        free(moves[i].key.mv_data);
    free(moves);
    return ret;
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
    { 2, "contract counters keyed by the branch code of the numbers", s_migrate_v2 },
    { 0, NULL, NULL }
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

static void s_quote_entries(const ProtobufCMessage *m, const rp_ulid_t *id, rp_index_set_t *e)
{
    const Quote *q = (const Quote *)m;
    rp_key_t *k = rp_index_add(e, "ix_quote_owner");
    rp_key_str(k, q->owner); rp_key_ulid(k, id);
    if (q->status == QS_SENT && q->terms && q->terms->valid_until) {
        k = rp_index_add(e, "ix_quote_exp");
        rp_key_i64(k, rp_date_days(q->terms->valid_until)); rp_key_ulid(k, id);
    }
}

static void s_contract_entries(const ProtobufCMessage *m, const rp_ulid_t *id, rp_index_set_t *e)
{
    const Contract *c = (const Contract *)m;
    rp_ulid_t u;
    rp_key_t *k = rp_index_add(e, "ix_contract_owner");
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
}

static void s_order_entries(const ProtobufCMessage *m, const rp_ulid_t *id, rp_index_set_t *e)
{
    const Order *o = (const Order *)m;
    rp_ulid_t u;
    rp_key_t *k;
    if (s_parse(o->contract_id, &u) == 0) {
        k = rp_index_add(e, "ix_order_contract");
        rp_key_ulid(k, &u); rp_key_ulid(k, id);
    }
    if (s_order_open(o->status) && !o->overdue_raised && o->due) {
        k = rp_index_add(e, "ix_order_due");
        rp_key_i64(k, rp_date_days(o->due)); rp_key_ulid(k, id);
    }
}

static const rp_index_entity_t s_kinds[] = {
    [CE_QUOTE] = { "quotes", "quote", &rapport__contracts__v1__quote__descriptor, s_quote_entries },
    [CE_CONTRACT] = { "contracts", "contract", &rapport__contracts__v1__contract__descriptor, s_contract_entries },
    [CE_ORDER] = { "orders", "order", &rapport__contracts__v1__order__descriptor, s_order_entries },
};

/* ---- entities ---- */

int contracts_store_get(rp_ctx_t *ctx, contracts_entity_t kind, const rp_ulid_t *id, ProtobufCMessage **out)
{
    int rc = rp_store_get_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, s_kinds[kind].table), id->b, RP_ULID_LEN,
                              s_kinds[kind].desc, rp_ctx_allocator(ctx), out);
    if (rc == MDB_NOTFOUND)
        return MDB_NOTFOUND;
    if (rc == -1)
        return rp_reply_error(ctx, RP_INTERNAL, "stored %s does not decode", s_kinds[kind].what);
    if (rc != 0)
        return rp_reply_lmdb(ctx, rc, s_kinds[kind].table);
    return 0;
}

int contracts_store_put(rp_ctx_t *ctx, contracts_entity_t kind, const ProtobufCMessage *m)
{
    return rp_index_put(ctx, &s_kinds[kind], m, NULL, 0, false);
}

int contracts_store_find_number(rp_ctx_t *ctx, const char *number, rp_ulid_t *id)
{
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, number);
    return rp_index_find(ctx, "ix_contract_number", &k, NULL, id);
}

int contracts_store_find_lead(rp_ctx_t *ctx, const char *lead_id, rp_ulid_t *id)
{
    rp_ulid_t u;
    if (s_parse(lead_id, &u) < 0)
        return 0;
    rp_key_t k;
    rp_key_init(&k);
    rp_key_ulid(&k, &u);
    return rp_index_find(ctx, "ix_contract_lead", &k, NULL, id);
}

int contracts_store_next_number(rp_ctx_t *ctx, const char *code, int32_t year, uint64_t *seq)
{
    rp_key_t k;
    s_counter_key(&k, code, (uint32_t)year);
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
    return rp_index_scan(ctx, &s_kinds[ek], table, &lo, NULL, page_token, limit, 0, fn, arg, next_token);
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
    if (rp_index_page(ctx, table, &lo, &hi, NULL, (uint32_t)max, 0, s_due_row, &d, NULL) != 0)
        return -1;
    return d.n;
}
