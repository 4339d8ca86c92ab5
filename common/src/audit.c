/* audit.c - the audit hash chain: every write appends a record whose hash covers
 * the previous record's hash, so changing or removing any stored record breaks the
 * chain from that record on (DESIGN.md §6).
 */
#include <assert.h>
#include <string.h>
#include <sodium.h>
#include "rapport/audit.h"
#include "rapport/store.h"

/* s_field - feed a length-prefixed field so that field boundaries are unambiguous. */
static void
s_field(crypto_generichash_state *st, const void *p, size_t len)
{
    uint8_t be[8];
    rp_u64_be(len, be);
    crypto_generichash_update(st, be, 8);
    if (len)
        crypto_generichash_update(st, p, len);
}

static void
s_str(crypto_generichash_state *st, const char *s)
{
    s_field(st, s ? s : "", s ? strlen(s) : 0);
}

void
rp_audit_hash(const Rapport__Sys__V1__AuditRecord *r, uint8_t out[RP_AUDIT_HASH])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, RP_AUDIT_HASH);
    s_field(&st, r->prev.data, r->prev.len);
    uint8_t be[8];
    rp_u64_be(r->seq, be);
    s_field(&st, be, 8);
    rp_u64_be((uint64_t) r->time, be);
    s_field(&st, be, 8);
    s_str(&st, r->actor);
    s_str(&st, r->on_behalf_of);
    s_str(&st, r->method);
    s_str(&st, r->request_id);
    s_str(&st, r->subject);
    s_field(&st, r->digest.data, r->digest.len);
    /* The outcome of a failed request that kept its record; absent (and not
     * hashed) for a successful write, so older chains keep their hashes. */
    if (r->code != 0 || (r->outcome && r->outcome[0])) {
        rp_u64_be((uint64_t) (int64_t) r->code, be);
        s_field(&st, be, 8);
        s_str(&st, r->outcome);
    }
    crypto_generichash_final(&st, out, RP_AUDIT_HASH);
}

/* s_head_read - the chain head from the last stored record. */
static int
s_head_read(MDB_txn *txn, MDB_dbi audit, rp_audit_head_t *head)
{
    memset(head, 0, sizeof *head);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, audit, &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8) {
        Rapport__Sys__V1__AuditRecord *last =
            rapport__sys__v1__audit_record__unpack(NULL, v.mv_size, v.mv_data);
        if (!last || last->hash.len != RP_AUDIT_HASH) {
            if (last)
                rapport__sys__v1__audit_record__free_unpacked(last, NULL);
            mdb_cursor_close(cur);
            return MDB_CORRUPTED;
        }
        memcpy(head->hash, last->hash.data, RP_AUDIT_HASH);
        head->seq = rp_be_u64(k.mv_data);
        rapport__sys__v1__audit_record__free_unpacked(last, NULL);
    }
    mdb_cursor_close(cur);
    head->known = true;
    return 0;
}

int
rp_audit_append(MDB_txn *txn, MDB_dbi audit, rp_audit_head_t *head,
                Rapport__Sys__V1__AuditRecord *r)
{
    rp_audit_head_t local = { 0 };
    if (!head)
        head = &local;
    if (!head->known) {
        int rc = s_head_read(txn, audit, head);
        if (rc)
            return rc;
    }
    uint8_t prev[RP_AUDIT_HASH], hash[RP_AUDIT_HASH];
    memcpy(prev, head->hash, sizeof prev);
    r->seq = head->seq + 1;
    r->prev.data = prev;
    r->prev.len = RP_AUDIT_HASH;
    rp_audit_hash(r, hash);
    r->hash.data = hash;
    r->hash.len = RP_AUDIT_HASH;
    uint8_t key[8];
    rp_u64_be(r->seq, key);
    /* seq is past every key in the table: an append, no search (and a stale head
     * fails with MDB_KEYEXIST instead of overwriting a record). */
    size_t len = protobuf_c_message_get_packed_size(&r->base);
    MDB_val k = { 8, key }, v = { len, NULL };
    int rc = mdb_put(txn, audit, &k, &v, MDB_APPEND | MDB_RESERVE);
    if (rc == 0)
        protobuf_c_message_pack(&r->base, v.mv_data);
    if (rc == 0) {
        head->seq = r->seq;
        memcpy(head->hash, hash, RP_AUDIT_HASH);
    }
    /* prev/hash point at this stack frame: do not leave them dangling in r. */
    r->prev.data = NULL; r->prev.len = 0;
    r->hash.data = NULL; r->hash.len = 0;
    return rc;
}

uint64_t
rp_audit_check(Rapport__Sys__V1__AuditRecord *const *records, size_t n,
               uint64_t expect_seq, uint8_t prev[RP_AUDIT_HASH])
{
    uint8_t hash[RP_AUDIT_HASH];
    for (size_t i = 0; i < n; i++, expect_seq++) {
        const Rapport__Sys__V1__AuditRecord *r = records[i];
        if (r->seq != expect_seq || r->prev.len != RP_AUDIT_HASH || r->hash.len != RP_AUDIT_HASH
            || memcmp(r->prev.data, prev, RP_AUDIT_HASH) != 0)
            return expect_seq;
        rp_audit_hash(r, hash);
        if (memcmp(hash, r->hash.data, RP_AUDIT_HASH) != 0)
            return expect_seq;
        memcpy(prev, hash, RP_AUDIT_HASH);
    }
    return 0;
}
