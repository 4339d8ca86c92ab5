/* leads_store.c - the only file that touches rapport-leads' tables.
 *
 * Entities:
 *   leads          lead ULID (16)                        -> Lead
 *   activities     lead ULID (16) + activity ULID (16)   -> Activity
 * Indexes (empty values; every key ends with the lead ULID):
 *   ix_owner       owner NUL                             + lead
 *   ix_stage       stage u8                              + lead
 *   ix_source      source u8                             + lead
 *   ix_campaign    campaign NUL          (when set)      + lead
 *   ix_close       expected close days i64 (when set)    + lead
 *   ix_name        folded company name NUL               + lead
 *   ix_activity    last_activity_at ms u64 (open leads)  + lead
 *   ix_taxid       branch NUL folded tax id NUL (set)    + lead
 *   ix_name_email  branch NUL BLAKE2b-128(folded name NUL folded e-mail) + lead,
 *                  one per contact with an e-mail (a hash keeps the key short)
 *   ix_import      branch NUL import key NUL (set)       + lead
 *   ix_offer_exp   valid_until days i64 + lead + offer   (SENT offers only)
 * There is no created-at index: a lead's ULID starts with its creation time in ms,
 * so "created in [from, to)" is a range of the leads table itself.
 *
 * leads_store_put removes the index entries of the stored version and adds those
 * of the new one, in the request's transaction, so indexes never drift.
 */
#include <string.h>
#include <stdlib.h>
#include <sodium.h>
#include "leads.h"
#include "rapport/fold.h"
#include "rapport/index.h"
#include "rapport/log.h"
#include "rapport/util.h"

#define LEAD_DESC (&rapport__leads__v1__lead__descriptor)
#define ACT_DESC  (&rapport__leads__v1__activity__descriptor)

static int s_migrate_v1(rp_store_t *store, MDB_txn *txn)
{
    (void)store; (void)txn;     /* the tables are created at open */
    return 0;
}

const rp_table_t leads_tables[] = {
    { "leads", 0 }, { "activities", 0 },
    { "ix_owner", 0 }, { "ix_stage", 0 }, { "ix_source", 0 }, { "ix_campaign", 0 },
    { "ix_close", 0 }, { "ix_name", 0 }, { "ix_activity", 0 }, { "ix_taxid", 0 },
    { "ix_name_email", 0 }, { "ix_import", 0 }, { "ix_offer_exp", 0 },
    { NULL, 0 }
};

const rp_migration_t leads_migrations[] = {
    { 1, "initial tables", s_migrate_v1 },
    { 0, NULL, NULL }
};

/* ---- keys ---- */

static int s_parse_id(const char *s, rp_ulid_t *u)
{
    return rp_ulid_parse(s ? s : "", u);
}

/* s_name_email_hash - BLAKE2b-128 of folded name NUL folded e-mail. */
static void s_name_email_hash(const char *name_f, const char *email_f, uint8_t out[16])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, (const unsigned char *)name_f, strlen(name_f) + 1);
    crypto_generichash_update(&st, (const unsigned char *)email_f, strlen(email_f));
    crypto_generichash_final(&st, out, 16);
}

static bool s_fold_name(const char *s, char out[512])
{
    return s && rp_fold_name(s, out, 512) > 0;
}

static bool s_fold_taxid(const char *s, char out[128])
{
    return s && rp_fold_taxid(s, out, 128) > 0;
}

static bool s_fold_email(const char *s, char out[320])
{
    return s && *s && rp_fold_email(s, out, 320) > 0;
}

/* s_index_entries - every index key of lead. */
static void s_index_entries(const ProtobufCMessage *m, const rp_ulid_t *id, rp_index_set_t *e)
{
    const Lead *l = (const Lead *)m;
    rp_key_t *k;
    char name_f[512], buf[512];

    k = rp_index_add(e, "ix_owner");
    rp_key_str(k, l->owner); rp_key_ulid(k, id);
    k = rp_index_add(e, "ix_stage");
    rp_key_u8(k, (uint8_t)l->stage); rp_key_ulid(k, id);
    k = rp_index_add(e, "ix_source");
    rp_key_u8(k, (uint8_t)l->source); rp_key_ulid(k, id);
    if (!rp_str_empty(l->campaign)) {
        k = rp_index_add(e, "ix_campaign");
        rp_key_str(k, l->campaign); rp_key_ulid(k, id);
    }
    if (l->expected_close) {
        k = rp_index_add(e, "ix_close");
        rp_key_i64(k, rp_date_days(l->expected_close)); rp_key_ulid(k, id);
    }
    bool have_name = l->company && s_fold_name(l->company->name, name_f);
    if (have_name) {
        k = rp_index_add(e, "ix_name");
        rp_key_str(k, name_f); rp_key_ulid(k, id);
    }
    if (leads_stage_is_open(l->stage)) {
        k = rp_index_add(e, "ix_activity");
        rp_key_u64(k, (uint64_t)(l->last_activity_at > 0 ? l->last_activity_at : 0));
        rp_key_ulid(k, id);
    }
    if (l->company && s_fold_taxid(l->company->tax_id, buf)) {
        k = rp_index_add(e, "ix_taxid");
        rp_key_str(k, l->branch); rp_key_str(k, buf); rp_key_ulid(k, id);
    }
    if (have_name) {
        for (size_t i = 0; i < l->n_contacts; i++) {
            char email_f[320];
            uint8_t h[16];
            if (!s_fold_email(l->contacts[i]->email, email_f))
                continue;
            s_name_email_hash(name_f, email_f, h);
            k = rp_index_add(e, "ix_name_email");
            rp_key_str(k, l->branch); rp_key_bytes(k, h, sizeof h); rp_key_ulid(k, id);
        }
    }
    if (!rp_str_empty(l->import_key)) {
        k = rp_index_add(e, "ix_import");
        rp_key_str(k, l->branch); rp_key_str(k, l->import_key); rp_key_ulid(k, id);
    }
    for (size_t i = 0; i < l->n_offers; i++) {
        const Offer *o = l->offers[i];
        rp_ulid_t oid;
        if (o->status != OS_SENT || !o->valid_until || s_parse_id(o->id, &oid) < 0)
            continue;
        k = rp_index_add(e, "ix_offer_exp");
        rp_key_i64(k, rp_date_days(o->valid_until)); rp_key_ulid(k, id); rp_key_ulid(k, &oid);
    }
}

static const rp_index_entity_t s_lead = { "leads", "lead", LEAD_DESC, s_index_entries };

/* ---- entities ---- */

int leads_store_get(rp_ctx_t *ctx, const rp_ulid_t *id, Lead **out)
{
    ProtobufCMessage *m = NULL;
    int rc = rp_store_get_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "leads"), id->b, RP_ULID_LEN,
                              LEAD_DESC, rp_ctx_allocator(ctx), &m);
    if (rc == MDB_NOTFOUND)
        return MDB_NOTFOUND;
    if (rc == -1)
        return rp_reply_error(ctx, RP_INTERNAL, "stored lead does not decode");
    if (rc != 0)
        return rp_reply_lmdb(ctx, rc, "leads get");
    *out = (Lead *)m;
    return 0;
}

int leads_store_get_packed(rp_ctx_t *ctx, const rp_ulid_t *id, const uint8_t **data, size_t *len)
{
    MDB_val k = { RP_ULID_LEN, (void *)id->b }, v;
    int rc = mdb_get(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "leads"), &k, &v);
    if (rc == MDB_NOTFOUND)
        return MDB_NOTFOUND;
    if (rc != 0)
        return rp_reply_lmdb(ctx, rc, "leads get");
    uint8_t *copy = rp_ctx_alloc(ctx, v.mv_size ? v.mv_size : 1);
    memcpy(copy, v.mv_data, v.mv_size);
    *data = copy;
    *len = v.mv_size;
    return 0;
}

int leads_store_put(rp_ctx_t *ctx, const Lead *lead)
{
    size_t len;
    uint8_t *packed = rp_ctx_pack(ctx, &lead->base, &len);
    return leads_store_put_packed(ctx, lead, packed, len, false);
}

int leads_store_put_packed(rp_ctx_t *ctx, const Lead *lead, const uint8_t *packed, size_t len,
                           bool fresh)
{
    return rp_index_put(ctx, &s_lead, &lead->base, packed, len, fresh);
}

int leads_store_put_activity(rp_ctx_t *ctx, const Activity *a)
{
    rp_ulid_t lid, aid;
    if (s_parse_id(a->lead_id, &lid) < 0 || s_parse_id(a->id, &aid) < 0)
        return rp_reply_error(ctx, RP_INTERNAL, "activity without valid ids");
    rp_key_t k;
    rp_key_init(&k);
    rp_key_ulid(&k, &lid);
    rp_key_ulid(&k, &aid);
    int rc = rp_store_put_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "activities"), k.b, k.len, &a->base);
    return rc ? rp_reply_lmdb(ctx, rc, "activities put") : 0;
}

/* ---- duplicate look-ups ---- */

int leads_store_find_taxid(rp_ctx_t *ctx, const char *branch, const char *tax_id,
                           const char *exclude_id, char found[RP_ULID_STRLEN + 1])
{
    char t[128];
    if (!s_fold_taxid(tax_id, t))
        return 0;
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, branch ? branch : "");
    rp_key_str(&k, t);
    return rp_index_find_str(ctx, "ix_taxid", &k, exclude_id, found);
}

int leads_store_find_name_email(rp_ctx_t *ctx, const char *branch, const char *company_name,
                                const char *email, const char *exclude_id,
                                char found[RP_ULID_STRLEN + 1])
{
    char n[512], m[320];
    uint8_t h[16];
    if (!s_fold_name(company_name, n) || !s_fold_email(email, m))
        return 0;
    s_name_email_hash(n, m, h);
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, branch ? branch : "");
    rp_key_bytes(&k, h, sizeof h);
    return rp_index_find_str(ctx, "ix_name_email", &k, exclude_id, found);
}

int leads_store_find_import(rp_ctx_t *ctx, const char *branch, const char *import_key,
                            char found[RP_ULID_STRLEN + 1])
{
    if (rp_str_empty(import_key))
        return 0;
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, branch ? branch : "");
    rp_key_str(&k, import_key);
    return rp_index_find_str(ctx, "ix_import", &k, NULL, found);
}

/* ---- range scans ---- */

typedef struct {
    leads_lead_fn fn;
    void *arg;
} s_query_t;

static int s_query_row(void *arg, const ProtobufCMessage *m)
{
    s_query_t *q = arg;
    return q->fn(q->arg, (const Lead *)m);
}

/* s_ulid_at - the smallest ULID of millisecond ms. */
static void s_ulid_at(int64_t ms, rp_ulid_t *u)
{
    memset(u, 0, sizeof *u);
    uint64_t t = ms < 0 ? 0 : (uint64_t)ms;
    if (t > 0xFFFFFFFFFFFFULL)
        t = 0xFFFFFFFFFFFFULL;
    for (int i = 5; i >= 0; i--) {
        u->b[i] = (uint8_t)(t & 0xFF);
        t >>= 8;
    }
}

int leads_store_query(rp_ctx_t *ctx, const leads_query_t *q, const char *page_token,
                      uint32_t limit, uint32_t budget, leads_lead_fn fn, void *arg,
                      char **next_token)
{
    rp_key_t lo, hi;
    bool use_hi = false;
    const char *table = NULL;
    rp_key_init(&lo);
    rp_key_init(&hi);
    switch (q->kind) {
    case LQ_OWNER:    table = "ix_owner";    rp_key_str(&lo, q->s); break;
    case LQ_STAGE:    table = "ix_stage";    rp_key_u8(&lo, (uint8_t)q->n1); break;
    case LQ_SOURCE:   table = "ix_source";   rp_key_u8(&lo, (uint8_t)q->n1); break;
    case LQ_CAMPAIGN: table = "ix_campaign"; rp_key_str(&lo, q->s); break;
    case LQ_NAME:     table = "ix_name";     rp_key_strpfx(&lo, q->s); break;
    case LQ_CLOSE:
        table = "ix_close";
        rp_key_i64(&lo, q->n1);
        rp_key_i64(&hi, q->n2);
        use_hi = true;
        break;
    case LQ_STALE:
        table = "ix_activity";
        rp_key_u64(&lo, 0);
        rp_key_u64(&hi, (uint64_t)(q->n2 > 0 ? q->n2 : 0));
        use_hi = true;
        break;
    case LQ_CREATED: {
        rp_ulid_t a, b;
        table = "leads";
        s_ulid_at(q->n1, &a);
        s_ulid_at(q->n2, &b);
        rp_key_ulid(&lo, &a);
        rp_key_ulid(&hi, &b);
        use_hi = true;
        break;
    }
    }
    s_query_t st = { fn, arg };
    return rp_index_scan(ctx, &s_lead, table, &lo, use_hi ? &hi : NULL, page_token, limit, budget,
                         s_query_row, &st, next_token);
}

typedef struct {
    rp_ctx_t *ctx;
    leads_activity_fn fn;
    void *arg;
} s_act_t;

static int s_activity_row(void *arg, const MDB_val *key, const MDB_val *val)
{
    s_act_t *a = arg;
    ProtobufCMessage *m = protobuf_c_message_unpack(ACT_DESC, rp_ctx_allocator(a->ctx),
                                                    val->mv_size, val->mv_data);
    if (!m) {
        rp_warn("leads: stored activity does not decode, skipped");
        return 0;
    }
    return a->fn(a->arg, (const Activity *)m);
}

int leads_store_activities(rp_ctx_t *ctx, const rp_ulid_t *lead_id, const char *page_token,
                           uint32_t limit, leads_activity_fn fn, void *arg, char **next_token)
{
    rp_key_t lo;
    rp_key_init(&lo);
    rp_key_ulid(&lo, lead_id);
    s_act_t a = { ctx, fn, arg };
    return rp_index_page(ctx, "activities", &lo, NULL, page_token, limit, 0, s_activity_row, &a,
                         next_token);
}

/* s_offer_ref_key - the ix_offer_exp key of ref, as s_index_entries builds it. */
static void s_offer_ref_key(const leads_offer_ref_t *ref, rp_key_t *k)
{
    rp_key_init(k);
    rp_key_i64(k, ref->days);
    rp_key_ulid(k, &ref->lead);
    rp_key_ulid(k, &ref->offer);
}

/* s_i64_at - the number rp_key_i64 wrote at p (big-endian, sign bit flipped). */
static int64_t s_i64_at(const void *p)
{
    return (int64_t)(rp_be_u64(p) ^ (UINT64_C(1) << 63));
}

typedef struct {
    leads_offer_ref_t *refs;
    int n, max;
} s_exp_t;

static int s_expired_row(void *arg, const MDB_val *key, const MDB_val *val)
{
    s_exp_t *x = arg;
    (void)val;
    if (key->mv_size != 8 + 2 * RP_ULID_LEN || x->n >= x->max)
        return 0;
    const uint8_t *p = (const uint8_t *)key->mv_data + 8;
    x->refs[x->n].days = s_i64_at(key->mv_data);
    memcpy(x->refs[x->n].lead.b, p, RP_ULID_LEN);
    memcpy(x->refs[x->n].offer.b, p + RP_ULID_LEN, RP_ULID_LEN);
    x->n++;
    return 1;
}

int leads_store_expired_offers(rp_ctx_t *ctx, int32_t today_days, leads_offer_ref_t *refs, int max)
{
    rp_key_t lo, hi;
    rp_key_init(&lo);
    rp_key_init(&hi);
    rp_key_i64(&lo, INT32_MIN);
    rp_key_i64(&hi, today_days);
    s_exp_t x = { refs, 0, max };
    if (rp_index_page(ctx, "ix_offer_exp", &lo, &hi, NULL, (uint32_t)max, 0, s_expired_row, &x, NULL) != 0)
        return -1;
    return x.n;
}

int leads_store_drop_offer_ref(rp_ctx_t *ctx, const leads_offer_ref_t *ref)
{
    rp_key_t k;
    s_offer_ref_key(ref, &k);
    MDB_val kv = rp_key_val(&k);
    int rc = mdb_del(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "ix_offer_exp"), &kv, NULL);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : rp_reply_lmdb(ctx, rc, "ix_offer_exp");
}
