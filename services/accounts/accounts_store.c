/* accounts_store.c - the only file that touches rapport-accounts' tables.
 *
 * Entities (key: the record's ULID, 16 bytes; value: the message):
 *   clients, contacts, interactions, tasks, exports
 * Indexes (empty values; every key ends with the record's ULID):
 *   ix_c_owner     owner NUL                                     + client
 *   ix_c_tier      tier u8                                       + client
 *   ix_c_segment   segment NUL (one per segment)                 + client
 *   ix_c_name      folded legal name NUL, folded trade name NUL  + client
 *   ix_c_parent    parent ULID (when set)                        + client
 *   ix_c_taxid     folded tax id NUL (when set)                  + client
 *   ix_c_import    import key NUL (when set)                     + client
 *   ix_c_silent    tier u8 + last_contact_at u64                 + client, only while
 *                  the tier has a policy, the client is not lost and
 *                  client.contact_overdue has not been raised for this silence
 *   ix_ct_client   client ULID                                   + contact
 *   ix_ct_import   import key NUL (when set)                     + contact
 *   ix_i_client    client ULID                                   + interaction
 *   ix_t_assignee  assignee NUL + due days i64 + due time NUL    + task (open)
 *   ix_t_client    client ULID                                   + task (open)
 *   ix_t_due       due days i64                                  + task (open, overdue
 *                  not yet raised)
 *   ix_e_time      ~created_at u64 (newest first)                + export
 *   ix_e_requester requested_by NUL + created_at u64             + export
 * Other tables:
 *   timeline       client ULID + ~at u64 + entry id NUL  -> TimelineEntry
 *   pending        upstream NUL subject NUL + at u64 + entry id NUL -> TimelineEntry
 *                  (events about an upstream entity not linked to a client yet)
 *   links          upstream NUL subject NUL -> client ULID
 *   link_waits     upstream NUL subject NUL + waiting upstream NUL subject NUL -> ""
 *                  (an entity that belongs to whichever client the first one is
 *                  linked to: a contract drafted from a lead not won yet)
 *   export_cursors export ULID -> ExportCursor (store.proto)
 *   contact_replies contact ULID + idempotency key -> "": the kept replies of
 *                  CreateContact, UpdateContact and SetConsent that hold the
 *                  contact, rewritten with the anonymised contact on erasure
 *   erased_imports BLAKE2b-256 of an erased contact's import key -> contact ULID,
 *                  so re-running the import does not bring the person back
 *
 * acc_put removes the index entries of the stored version and adds those of the
 * new one, in the request's transaction, so indexes never drift.
 */
#include <string.h>
#include <stdlib.h>
#include <sodium.h>
#include "accounts.h"
#include "rapport/fold.h"
#include "rapport/idem.h"
#include "rapport/index.h"
#include "rapport/log.h"
#include "rapport/util.h"
#include "rapport/v1/rpc.pb-c.h"

static int s_migrate_v1(rp_store_t *store, MDB_txn *txn)
{
    (void)store; (void)txn;     /* the tables are created at open */
    return 0;
}

/* s_migrate_v2 - index the stored exports by requester (the rolling export limit). */
static int s_migrate_v2(rp_store_t *store, MDB_txn *txn)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, rp_store_dbi(store, "exports"), &cur) != 0)
        return -1;
    MDB_dbi ix = rp_store_dbi(store, "ix_e_requester");
    MDB_val k, v;
    int rc, ret = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && ret == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Export *x = rapport__accounts__v1__export__unpack(NULL, v.mv_size, v.mv_data);
        if (!x || k.mv_size != RP_ULID_LEN) {
            rp_error("accounts: migration 2: an export does not decode");
            ret = -1;
            if (x)
                rapport__accounts__v1__export__free_unpacked(x, NULL);
            break;
        }
        rp_key_t key;
        rp_key_init(&key);
        rp_key_str(&key, x->requested_by);
        rp_key_u64(&key, (uint64_t)x->created_at);
        rp_key_bytes(&key, k.mv_data, RP_ULID_LEN);
        MDB_val kv = rp_key_val(&key), empty = { 0, (void *)"" };
        if (key.overflow || mdb_put(txn, ix, &kv, &empty, 0) != 0)
            ret = -1;
        rapport__accounts__v1__export__free_unpacked(x, NULL);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        ret = -1;
    return ret;
}

const rp_table_t acc_tables[] = {
    { "clients", 0 }, { "contacts", 0 }, { "interactions", 0 }, { "tasks", 0 }, { "exports", 0 },
    { "ix_c_owner", 0 }, { "ix_c_tier", 0 }, { "ix_c_segment", 0 }, { "ix_c_name", 0 },
    { "ix_c_parent", 0 }, { "ix_c_taxid", 0 }, { "ix_c_import", 0 }, { "ix_c_silent", 0 },
    { "ix_ct_client", 0 }, { "ix_ct_import", 0 }, { "ix_i_client", 0 },
    { "ix_t_assignee", 0 }, { "ix_t_client", 0 }, { "ix_t_due", 0 }, { "ix_e_time", 0 }, { "ix_e_requester", 0 },
    { "timeline", 0 }, { "pending", 0 }, { "links", 0 }, { "link_waits", 0 },
    { "export_cursors", 0 }, { "contact_replies", 0 }, { "erased_imports", 0 },
    { NULL, 0 }
};

const rp_migration_t acc_migrations[] = {
    { 1, "initial tables", s_migrate_v1 },
    { 2, "index exports by requester", s_migrate_v2 },
    { 0, NULL, NULL }
};

/* ---- index entries ---- */

static bool s_ulid(const char *s, rp_ulid_t *u)
{
    return s && *s && rp_ulid_parse(s, u) == 0;
}

static void s_client_index(const ProtobufCMessage *m, const rp_ulid_t *id, rp_index_set_t *e)
{
    const Client *c = (const Client *)m;
    rp_key_t *k;
    char buf[512];
    rp_ulid_t u;

    k = rp_index_add(e, "ix_c_owner");
    rp_key_str(k, c->owner); rp_key_ulid(k, id);
    k = rp_index_add(e, "ix_c_tier");
    rp_key_u8(k, (uint8_t)c->tier); rp_key_ulid(k, id);
    for (size_t i = 0; i < c->n_segments; i++) {
        k = rp_index_add(e, "ix_c_segment");
        rp_key_str(k, c->segments[i]); rp_key_ulid(k, id);
    }
    const char *names[2] = { c->legal_name, c->trade_name };
    char first[512] = "";
    for (int i = 0; i < 2; i++) {
        if (!names[i] || rp_fold_name(names[i], buf, sizeof buf) <= 0 || strcmp(buf, first) == 0)
            continue;
        if (i == 0)
            rp_strlcpy(first, buf, sizeof first);
        k = rp_index_add(e, "ix_c_name");
        rp_key_str(k, buf); rp_key_ulid(k, id);
    }
    if (s_ulid(c->parent_id, &u)) {
        k = rp_index_add(e, "ix_c_parent");
        rp_key_ulid(k, &u); rp_key_ulid(k, id);
    }
    if (c->tax_id && rp_fold_taxid(c->tax_id, buf, 128) > 0) {
        k = rp_index_add(e, "ix_c_taxid");
        rp_key_str(k, buf); rp_key_ulid(k, id);
    }
    if (!rp_str_empty(c->import_key)) {
        k = rp_index_add(e, "ix_c_import");
        rp_key_str(k, c->import_key); rp_key_ulid(k, id);
    }
    if (c->tier < TIER_COUNT && acc_settings.silence_days[c->tier] > 0 && c->lifecycle != LC_LOST
        && c->overdue_raised_for != c->last_contact_at) {
        k = rp_index_add(e, "ix_c_silent");
        rp_key_u8(k, (uint8_t)c->tier);
        rp_key_u64(k, (uint64_t)(c->last_contact_at > 0 ? c->last_contact_at : 0));
        rp_key_ulid(k, id);
    }
}

static void s_contact_index(const ProtobufCMessage *m, const rp_ulid_t *id, rp_index_set_t *e)
{
    const Contact *c = (const Contact *)m;
    rp_ulid_t u;
    rp_key_t *k;
    if (s_ulid(c->client_id, &u)) {
        k = rp_index_add(e, "ix_ct_client");
        rp_key_ulid(k, &u); rp_key_ulid(k, id);
    }
    if (!rp_str_empty(c->import_key)) {
        k = rp_index_add(e, "ix_ct_import");
        rp_key_str(k, c->import_key); rp_key_ulid(k, id);
    }
}

static void s_interaction_index(const ProtobufCMessage *m, const rp_ulid_t *id, rp_index_set_t *e)
{
    const Interaction *x = (const Interaction *)m;
    rp_ulid_t u;
    if (s_ulid(x->client_id, &u)) {
        rp_key_t *k = rp_index_add(e, "ix_i_client");
        rp_key_ulid(k, &u); rp_key_ulid(k, id);
    }
}

static void s_task_index(const ProtobufCMessage *m, const rp_ulid_t *id, rp_index_set_t *e)
{
    const Task *t = (const Task *)m;
    rp_ulid_t u;
    rp_key_t *k;
    if (t->status != TS_OPEN || !t->due)
        return;
    int64_t due = rp_date_days(t->due);
    k = rp_index_add(e, "ix_t_assignee");
    rp_key_str(k, t->assignee); rp_key_i64(k, due); rp_key_str(k, t->due_time ? t->due_time : "");
    rp_key_ulid(k, id);
    if (s_ulid(t->client_id, &u)) {
        k = rp_index_add(e, "ix_t_client");
        rp_key_ulid(k, &u); rp_key_ulid(k, id);
    }
    if (!t->overdue_raised) {
        k = rp_index_add(e, "ix_t_due");
        rp_key_i64(k, due); rp_key_ulid(k, id);
    }
}

static void s_export_index(const ProtobufCMessage *m, const rp_ulid_t *id, rp_index_set_t *e)
{
    const Export *x = (const Export *)m;
    rp_key_t *k = rp_index_add(e, "ix_e_time");
    rp_key_u64(k, ~(uint64_t)x->created_at); rp_key_ulid(k, id);
    k = rp_index_add(e, "ix_e_requester");
    rp_key_str(k, x->requested_by); rp_key_u64(k, (uint64_t)x->created_at); rp_key_ulid(k, id);
}

const acc_entity_t ACC_CLIENT = { "clients", "client", &rapport__accounts__v1__client__descriptor, s_client_index };
const acc_entity_t ACC_CONTACT = { "contacts", "contact", &rapport__accounts__v1__contact__descriptor, s_contact_index };
const acc_entity_t ACC_INTERACTION = { "interactions", "interaction", &rapport__accounts__v1__interaction__descriptor,
                                       s_interaction_index };
const acc_entity_t ACC_TASK = { "tasks", "task", &rapport__accounts__v1__task__descriptor, s_task_index };
const acc_entity_t ACC_EXPORT = { "exports", "export", &rapport__accounts__v1__export__descriptor, s_export_index };

int acc_get(rp_ctx_t *ctx, const acc_entity_t *e, const rp_ulid_t *id, void *out)
{
    ProtobufCMessage *m = NULL;
    int rc = rp_store_get_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, e->table), id->b, RP_ULID_LEN,
                              e->desc, rp_ctx_allocator(ctx), &m);
    if (rc == MDB_NOTFOUND)
        return MDB_NOTFOUND;
    if (rc == -1)
        return rp_reply_error(ctx, RP_INTERNAL, "stored %s does not decode", e->what);
    if (rc != 0)
        return rp_reply_lmdb(ctx, rc, e->table);
    *(ProtobufCMessage **)out = m;
    return 0;
}

int acc_get_str(rp_ctx_t *ctx, const acc_entity_t *e, const char *id, void *out)
{
    rp_ulid_t u;
    if (!s_ulid(id, &u))
        return MDB_NOTFOUND;
    return acc_get(ctx, e, &u, out);
}

int acc_put(rp_ctx_t *ctx, const acc_entity_t *e, const ProtobufCMessage *m)
{
    return rp_index_put(ctx, e, m, NULL, 0, false);
}

void *acc_copy(rp_ctx_t *ctx, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = rp_ctx_alloc(ctx, len ? len : 1);
    protobuf_c_message_pack(m, buf);
    return protobuf_c_message_unpack(m->descriptor, rp_ctx_allocator(ctx), len, buf);
}

/* ---- look-ups by a unique key ---- */

int acc_find_taxid(rp_ctx_t *ctx, const char *tax_id, const char *exclude_id, char id[RP_ULID_STRLEN + 1])
{
    char t[128];
    if (!tax_id || rp_fold_taxid(tax_id, t, sizeof t) <= 0)
        return 0;
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, t);
    return rp_index_find_str(ctx, "ix_c_taxid", &k, exclude_id, id);
}

static int s_find_import(rp_ctx_t *ctx, const char *table, const char *key, char id[RP_ULID_STRLEN + 1])
{
    if (rp_str_empty(key))
        return 0;
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, key);
    return rp_index_find_str(ctx, table, &k, NULL, id);
}

int acc_find_client_import(rp_ctx_t *ctx, const char *key, char id[RP_ULID_STRLEN + 1])
{
    return s_find_import(ctx, "ix_c_import", key, id);
}

/* s_import_hash - what erased_imports keeps of an import key. */
static void s_import_hash(const char *key, uint8_t out[32])
{
    static const char domain[] = "rapport.accounts.erased_import";
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)domain, sizeof domain);
    crypto_generichash_update(&st, (const uint8_t *)key, strlen(key));
    crypto_generichash_final(&st, out, 32);
}

int acc_find_contact_import(rp_ctx_t *ctx, const char *key, char id[RP_ULID_STRLEN + 1])
{
    int r = s_find_import(ctx, "ix_ct_import", key, id);
    if (r != 0 || rp_str_empty(key))
        return r;
    uint8_t h[32];
    s_import_hash(key, h);
    MDB_val k = { sizeof h, h }, v;
    int rc = mdb_get(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "erased_imports"), &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rp_reply_lmdb(ctx, rc, "erased_imports");
    if (v.mv_size != RP_ULID_LEN)
        return rp_reply_error(ctx, RP_INTERNAL, "stored erased import does not decode");
    rp_ulid_t u;
    memcpy(u.b, v.mv_data, RP_ULID_LEN);
    rp_ulid_format(&u, id);
    return 1;
}

int acc_erased_import_put(rp_ctx_t *ctx, const char *key, const rp_ulid_t *contact)
{
    if (rp_str_empty(key))
        return 0;
    uint8_t h[32];
    s_import_hash(key, h);
    MDB_val k = { sizeof h, h }, v = { RP_ULID_LEN, (void *)contact->b };
    int rc = mdb_put(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "erased_imports"), &k, &v, 0);
    return rc ? rp_reply_lmdb(ctx, rc, "erased_imports") : 0;
}

/* ---- kept replies that hold a contact ---- */

/* s_replies - call fn on every contact_replies entry of contact (cursor on it);
 * fn returns 1 to delete the entry, 0 to keep it, -1 to stop (replied). 0 or -1. */
typedef int (*s_reply_fn)(rp_ctx_t *ctx, const char *idem_key, void *arg);
static int s_replies(rp_ctx_t *ctx, const rp_ulid_t *contact, s_reply_fn fn, void *arg)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "contact_replies"), &cur);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "contact_replies");
    MDB_val k = { RP_ULID_LEN, (void *)contact->b }, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= RP_ULID_LEN || memcmp(k.mv_data, contact->b, RP_ULID_LEN) != 0)
            break;
        char *key = rp_ctx_alloc(ctx, k.mv_size - RP_ULID_LEN + 1);
        memcpy(key, (const uint8_t *)k.mv_data + RP_ULID_LEN, k.mv_size - RP_ULID_LEN);
        int r = fn(ctx, key, arg);
        if (r < 0) {
            mdb_cursor_close(cur);
            return -1;
        }
        if (r == 1 && (rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : rp_reply_lmdb(ctx, rc, "contact_replies");
}

/* s_reply_gone - 1 (drop the entry) when its idempotency record has been swept. */
static int s_reply_gone(rp_ctx_t *ctx, const char *idem_key, void *arg)
{
    (void)arg;
    const uint8_t *r;
    size_t n;
    int rc = rp_idem_reply(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "idem"), idem_key, &r, &n);
    if (rc == MDB_NOTFOUND)
        return 1;
    return rc ? rp_reply_lmdb(ctx, rc, "idem") : 0;
}

int acc_reply_keep(rp_ctx_t *ctx, const char *contact_id)
{
    rp_ulid_t u;
    if (rp_ulid_parse(contact_id, &u) != 0)
        return rp_reply_error(ctx, RP_INTERNAL, "contact id %s is not a ULID", contact_id);
    /* The entries of replies already swept go, so the table holds about one entry
     * per write of the last RAPPORT_IDEM_TTL per contact. */
    if (s_replies(ctx, &u, s_reply_gone, NULL) < 0)
        return -1;
    const char *key = rp_ctx_idem_key(ctx);
    if (!key)
        return 0;                       /* not a kept write: nothing will be replayed */
    rp_key_t k;
    rp_key_init(&k);
    rp_key_ulid(&k, &u);
    rp_key_bytes(&k, key, strlen(key));
    if (k.overflow)
        return rp_reply_error(ctx, RP_INTERNAL, "idempotency key too long");
    MDB_val kv = rp_key_val(&k), empty = { 0, NULL };
    int rc = mdb_put(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "contact_replies"), &kv, &empty, 0);
    return rc ? rp_reply_lmdb(ctx, rc, "contact_replies") : 0;
}

/* s_reply_rewrite - the kept reply with arg (packed bytes) as its body; 1: drop the entry. */
typedef struct {
    const uint8_t *body;
    size_t len;
} s_body_t;

static int s_reply_rewrite(rp_ctx_t *ctx, const char *idem_key, void *arg)
{
    const s_body_t *b = arg;
    const uint8_t *r;
    size_t n;
    MDB_dbi idem = rp_ctx_dbi(ctx, "idem");
    int rc = rp_idem_reply(rp_ctx_txn(ctx), idem, idem_key, &r, &n);
    if (rc == MDB_NOTFOUND)
        return 1;
    if (rc)
        return rp_reply_lmdb(ctx, rc, "idem");
    Rapport__V1__Reply *rep = rapport__v1__reply__unpack(rp_ctx_allocator(ctx), n, r);
    if (!rep)
        return rp_reply_error(ctx, RP_INTERNAL, "kept reply %s does not decode", idem_key);
    rep->body.data = (uint8_t *)b->body;
    rep->body.len = b->len;
    size_t len;
    uint8_t *packed = rp_ctx_pack(ctx, &rep->base, &len);
    rc = rp_idem_replace(rp_ctx_txn(ctx), idem, idem_key, packed, len);
    if (rc && rc != MDB_NOTFOUND)
        return rp_reply_lmdb(ctx, rc, "idem");
    return 1;
}

int acc_replies_rewrite(rp_ctx_t *ctx, const char *contact_id, const ProtobufCMessage *body)
{
    rp_ulid_t u;
    if (rp_ulid_parse(contact_id, &u) != 0)
        return rp_reply_error(ctx, RP_INTERNAL, "contact id %s is not a ULID", contact_id);
    s_body_t b;
    b.body = rp_ctx_pack(ctx, body, &b.len);
    return s_replies(ctx, &u, s_reply_rewrite, &b);
}

/* ---- range scans ---- */

int acc_query(rp_ctx_t *ctx, const acc_query_t *q, const char *page_token, uint32_t limit,
              uint32_t budget, acc_row_fn fn, void *arg, char **next_token)
{
    rp_key_t lo, hi;
    bool use_hi = false;
    const char *table = NULL;
    const acc_entity_t *e = &ACC_CLIENT;
    rp_key_init(&lo);
    rp_key_init(&hi);
    switch (q->kind) {
    case AQ_CLIENT_OWNER:   table = "ix_c_owner";   rp_key_str(&lo, q->s); break;
    case AQ_CLIENT_TIER:    table = "ix_c_tier";    rp_key_u8(&lo, (uint8_t)q->n1); break;
    case AQ_CLIENT_SEGMENT: table = "ix_c_segment"; rp_key_str(&lo, q->s); break;
    case AQ_CLIENT_NAME:    table = "ix_c_name";    rp_key_strpfx(&lo, q->s); break;
    case AQ_CLIENT_PARENT:  table = "ix_c_parent";  rp_key_ulid(&lo, q->u); break;
    case AQ_CLIENT_ALL:     table = "clients"; break;
    case AQ_CLIENT_SILENT:
        table = "ix_c_silent";
        rp_key_u8(&lo, (uint8_t)q->n1); rp_key_u64(&lo, 0);
        rp_key_u8(&hi, (uint8_t)q->n1); rp_key_u64(&hi, (uint64_t)(q->n2 > 0 ? q->n2 : 0));
        use_hi = true;
        break;
    case AQ_CONTACT_CLIENT: table = "ix_ct_client"; e = &ACC_CONTACT; rp_key_ulid(&lo, q->u); break;
    case AQ_INTERACTION_CLIENT: table = "ix_i_client"; e = &ACC_INTERACTION; rp_key_ulid(&lo, q->u); break;
    case AQ_TASK_ASSIGNEE:
        table = "ix_t_assignee";
        e = &ACC_TASK;
        rp_key_str(&lo, q->s); rp_key_i64(&lo, q->n1);
        rp_key_str(&hi, q->s); rp_key_i64(&hi, q->n2);
        use_hi = true;
        break;
    case AQ_TASK_CLIENT:    table = "ix_t_client";  e = &ACC_TASK; rp_key_ulid(&lo, q->u); break;
    case AQ_TASK_DUE:
        table = "ix_t_due";
        e = &ACC_TASK;
        rp_key_i64(&lo, INT32_MIN);
        rp_key_i64(&hi, q->n2);
        use_hi = true;
        break;
    case AQ_EXPORT_TIME:    table = "ix_e_time"; e = &ACC_EXPORT; break;
    case AQ_EXPORT_REQUESTER:
        table = "ix_e_requester";
        e = &ACC_EXPORT;
        rp_key_str(&lo, q->s); rp_key_u64(&lo, (uint64_t)(q->n1 > 0 ? q->n1 : 0));
        rp_key_str(&hi, q->s); rp_key_u64(&hi, (uint64_t)(q->n2 > 0 ? q->n2 : 0));
        use_hi = true;
        break;
    }
    return rp_index_scan(ctx, e, table, &lo, use_hi ? &hi : NULL, page_token, limit, budget, fn, arg,
                         next_token);
}

/* ---- the timeline ---- */

static int s_put_raw(rp_ctx_t *ctx, const char *table, const rp_key_t *k, const ProtobufCMessage *m)
{
    if (k->overflow)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "%s key too long", table);
    int rc = rp_store_put_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, table), k->b, k->len, m);
    return rc ? rp_reply_lmdb(ctx, rc, table) : 0;
}

int acc_timeline_put(rp_ctx_t *ctx, const rp_ulid_t *client, const TimelineEntry *t)
{
    rp_key_t k;
    rp_key_init(&k);
    rp_key_ulid(&k, client);
    rp_key_u64(&k, ~(uint64_t)t->at);
    rp_key_str(&k, t->id);
    return s_put_raw(ctx, "timeline", &k, &t->base);
}

typedef struct {
    rp_ctx_t *ctx;
    TimelineEntry **v;
    size_t n;
} s_tl_t;

static int s_timeline_row(void *arg, const MDB_val *key, const MDB_val *val)
{
    s_tl_t *x = arg;
    (void)key;
    ProtobufCMessage *m = protobuf_c_message_unpack(&rapport__accounts__v1__timeline_entry__descriptor,
                                                    rp_ctx_allocator(x->ctx), val->mv_size, val->mv_data);
    if (!m) {
        rp_warn("accounts: stored timeline entry does not decode, skipped");
        return 0;
    }
    x->v[x->n++] = (TimelineEntry *)m;
    return 1;
}

int acc_timeline_page(rp_ctx_t *ctx, const rp_ulid_t *client, const char *page_token,
                      uint32_t limit, TimelineEntry **v, size_t *n, char **next_token)
{
    rp_key_t lo;
    rp_key_init(&lo);
    rp_key_ulid(&lo, client);
    s_tl_t x = { ctx, v, 0 };
    int rc = rp_index_page(ctx, "timeline", &lo, NULL, page_token, limit, 0, s_timeline_row, &x, next_token);
    *n = x.n;
    return rc;
}

static void s_subject_key(rp_key_t *k, const char *upstream, const char *subject)
{
    rp_key_init(k);
    rp_key_str(k, upstream);
    rp_key_str(k, subject);
}

int acc_pending_put(rp_ctx_t *ctx, const char *upstream, const char *subject, const TimelineEntry *t)
{
    rp_key_t k;
    s_subject_key(&k, upstream, subject);
    rp_key_u64(&k, (uint64_t)t->at);
    rp_key_str(&k, t->id);
    return s_put_raw(ctx, "pending", &k, &t->base);
}

int acc_pending_move(rp_ctx_t *ctx, const char *upstream, const char *subject, const rp_ulid_t *client)
{
    rp_key_t p;
    s_subject_key(&p, upstream, subject);
    if (p.overflow)
        return 0;
    MDB_txn *txn = rp_ctx_txn(ctx);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, rp_ctx_dbi(ctx, "pending"), &cur);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "pending");
    MDB_val k = rp_key_val(&p), v;
    int ret = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) {
        if (k.mv_size < p.len || memcmp(k.mv_data, p.b, p.len) != 0)
            break;
        ProtobufCMessage *m = protobuf_c_message_unpack(&rapport__accounts__v1__timeline_entry__descriptor,
                                                        rp_ctx_allocator(ctx), v.mv_size, v.mv_data);
        if (m && (ret = acc_timeline_put(ctx, client, (TimelineEntry *)m)) < 0)
            break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        k = rp_key_val(&p);     /* the next one is again the first under the prefix */
    }
    if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
        ret = rp_reply_lmdb(ctx, rc, "pending");
    mdb_cursor_close(cur);
    return ret;
}

int acc_link_get(rp_ctx_t *ctx, const char *upstream, const char *subject, rp_ulid_t *client)
{
    rp_key_t k;
    s_subject_key(&k, upstream, subject);
    if (k.overflow)
        return 0;
    MDB_val kv = rp_key_val(&k), v;
    int rc = mdb_get(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "links"), &kv, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rp_reply_lmdb(ctx, rc, "links");
    if (v.mv_size != RP_ULID_LEN)
        return rp_reply_error(ctx, RP_INTERNAL, "stored link is not a ULID");
    memcpy(client->b, v.mv_data, RP_ULID_LEN);
    return 1;
}

int acc_link_put(rp_ctx_t *ctx, const char *upstream, const char *subject, const rp_ulid_t *client)
{
    rp_key_t k;
    s_subject_key(&k, upstream, subject);
    if (k.overflow)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "link subject too long");
    MDB_val kv = rp_key_val(&k), v = { RP_ULID_LEN, (void *)client->b };
    int rc = mdb_put(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "links"), &kv, &v, 0);
    return rc ? rp_reply_lmdb(ctx, rc, "links") : 0;
}

int acc_wait_put(rp_ctx_t *ctx, const char *on_upstream, const char *on_subject, const char *upstream,
                 const char *subject)
{
    rp_key_t k;
    s_subject_key(&k, on_upstream, on_subject);
    rp_key_str(&k, upstream);
    rp_key_str(&k, subject);
    if (k.overflow)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "link subject too long");
    MDB_val kv = rp_key_val(&k), v = { 0, "" };
    int rc = mdb_put(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "link_waits"), &kv, &v, 0);
    return rc ? rp_reply_lmdb(ctx, rc, "link_waits") : 0;
}

int acc_waits_take(rp_ctx_t *ctx, const char *upstream, const char *subject, acc_ref_t **out, size_t *n)
{
    rp_key_t p;
    s_subject_key(&p, upstream, subject);
    *out = NULL;
    *n = 0;
    if (p.overflow)
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "link_waits"), &cur);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "link_waits");
    size_t cap = 0;
    MDB_val k = rp_key_val(&p), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) {
        if (k.mv_size <= p.len || memcmp(k.mv_data, p.b, p.len) != 0)
            break;
        /* the rest of the key: waiting upstream NUL subject NUL */
        const char *a = (const char *)k.mv_data + p.len, *end = (const char *)k.mv_data + k.mv_size;
        const char *na = memchr(a, '\0', (size_t)(end - a));
        const char *b = na ? na + 1 : end;
        const char *nb = b < end ? memchr(b, '\0', (size_t)(end - b)) : NULL;
        if (nb) {
            if (*n == cap) {
                cap = cap ? 2 * cap : 8;
                acc_ref_t *w = rp_ctx_alloc(ctx, cap * sizeof *w);
                if (*n)
                    memcpy(w, *out, *n * sizeof *w);
                *out = w;
            }
            (*out)[*n].upstream = rp_ctx_strdup(ctx, a);
            (*out)[*n].subject = rp_ctx_strdup(ctx, b);
            (*n)++;
        }
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        k = rp_key_val(&p);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rp_reply_lmdb(ctx, rc, "link_waits");
    return 0;
}

/* ---- export cursors ---- */

int acc_cursor_get(rp_ctx_t *ctx, const rp_ulid_t *export_id, Rapport__Accounts__V1__ExportCursor **out)
{
    ProtobufCMessage *m = NULL;
    int rc = rp_store_get_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "export_cursors"), export_id->b, RP_ULID_LEN,
                              &rapport__accounts__v1__export_cursor__descriptor, rp_ctx_allocator(ctx), &m);
    if (rc == MDB_NOTFOUND) {
        Rapport__Accounts__V1__ExportCursor *c = rp_ctx_alloc(ctx, sizeof *c);
        rapport__accounts__v1__export_cursor__init(c);
        *out = c;
        return 0;
    }
    if (rc == -1)
        return rp_reply_error(ctx, RP_INTERNAL, "stored export cursor does not decode");
    if (rc)
        return rp_reply_lmdb(ctx, rc, "export_cursors");
    *out = (Rapport__Accounts__V1__ExportCursor *)m;
    return 0;
}

int acc_cursor_put(rp_ctx_t *ctx, const rp_ulid_t *export_id, const Rapport__Accounts__V1__ExportCursor *c)
{
    int rc = rp_store_put_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "export_cursors"), export_id->b, RP_ULID_LEN,
                              &c->base);
    return rc ? rp_reply_lmdb(ctx, rc, "export_cursors") : 0;
}
