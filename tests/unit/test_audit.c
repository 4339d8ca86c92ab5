/* test_audit.c - unit tests for audit.c on a real LMDB environment in a
 * temporary directory: appends build a hash chain (seqs, prev links, hashes),
 * rp_audit_check accepts it whole or in runs, and finds tampered, deleted and
 * reordered records; rp_audit_hash covers every field but the hash itself.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "rapport/audit.h"
#include "rapport/log.h"
#include "rapport/store.h"
#include "testutil.h"

#define N_OF(a) (sizeof (a) / sizeof (a)[0])
#define MAX_RECS 16

typedef struct {
    rp_test_store_t base;
    MDB_dbi audit;
    Rapport__Sys__V1__AuditRecord *recs[MAX_RECS];   /* as read back, freed by teardown */
    size_t n_recs;
} fx_t;

static int s_setup(void **state)
{
    fx_t *fx = *state = rp_test_store_new(sizeof *fx, "audit", true);
    if (fx)
        fx->audit = rp_store_dbi(fx->base.store, "audit");
    return fx ? 0 : -1;
}

static void s_free_recs(fx_t *fx)
{
    for (size_t i = 0; i < fx->n_recs; i++)
        rapport__sys__v1__audit_record__free_unpacked(fx->recs[i], NULL);
    fx->n_recs = 0;
}

static int s_teardown(void **state)
{
    s_free_recs(*state);
    return rp_test_store_teardown(state);
}

static const struct {
    int64_t time;
    const char *actor, *on_behalf_of, *method, *request_id, *subject, *body;
} s_writes[] = {
    { 1767225600000, "u-alice", "", "rapport.leads.v1.Leads/Create", "01JREQA", "01JLEAD1", "b1" },
    { 1767225600500, "u-bob", "u-carol", "rapport.leads.v1.Leads/Win", "01JREQB", "01JLEAD1", "b2" },
    { 1767225601000, "u-alice", "", "rapport.accounts.v1.Clients/Update", "01JREQC", "01JCLI9", "b3" },
    { 1767225602000, "system", "", "rapport.leads.v1.Jobs/Stale", "01JREQD", "", "" },
};

static void s_fill_record(Rapport__Sys__V1__AuditRecord *r, size_t i, uint8_t digest[32])
{
    rapport__sys__v1__audit_record__init(r);
    r->time = s_writes[i].time;
    r->actor = (char *)s_writes[i].actor;
    r->on_behalf_of = (char *)s_writes[i].on_behalf_of;
    r->method = (char *)s_writes[i].method;
    r->request_id = (char *)s_writes[i].request_id;
    r->subject = (char *)s_writes[i].subject;
    crypto_generichash(digest, 32, (const uint8_t *)s_writes[i].body, strlen(s_writes[i].body), NULL, 0);
    r->digest.data = digest;
    r->digest.len = 32;
}

/* s_append_n - append writes [from, to) in one transaction each. */
static void s_append_n(fx_t *fx, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
        Rapport__Sys__V1__AuditRecord r;
        uint8_t digest[32];
        s_fill_record(&r, i, digest);
        r.seq = 777;                 /* overwritten */
        assert_int_equal(rp_audit_append(txn, fx->audit, NULL, &r), 0);
        assert_int_equal(r.seq, i + 1);
        /* prev and hash pointed into rp_audit_append's frame: they are cleared. */
        assert_null(r.prev.data);
        assert_int_equal(r.prev.len, 0);
        assert_null(r.hash.data);
        assert_int_equal(r.hash.len, 0);
        assert_int_equal(mdb_txn_commit(txn), 0);
    }
}

/* s_read_all - read the whole table back, in key order, into fx->recs. */
static void s_read_all(fx_t *fx)
{
    s_free_recs(fx);
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, MDB_RDONLY);
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, fx->audit, &cur), 0);
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        assert_true(fx->n_recs < MAX_RECS);
        Rapport__Sys__V1__AuditRecord *r = rapport__sys__v1__audit_record__unpack(NULL, v.mv_size, v.mv_data);
        assert_non_null(r);
        assert_int_equal(k.mv_size, 8);
        assert_int_equal(rp_be_u64(k.mv_data), r->seq);
        fx->recs[fx->n_recs++] = r;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
}

/* s_rewrite - store r under its seq as it is, bypassing rp_audit_append. */
static void s_rewrite(fx_t *fx, const Rapport__Sys__V1__AuditRecord *r)
{
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
    uint8_t key[8];
    rp_u64_be(r->seq, key);
    assert_int_equal(rp_store_put_msg(txn, fx->audit, key, 8, &r->base), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static void test_append_builds_chain(void **state)
{
    fx_t *fx = *state;
    s_append_n(fx, 0, 3);
    s_read_all(fx);
    assert_int_equal(fx->n_recs, 3);
    static const uint8_t zeros[RP_AUDIT_HASH];
    for (size_t i = 0; i < 3; i++) {
        Rapport__Sys__V1__AuditRecord *r = fx->recs[i];
        assert_int_equal(r->seq, i + 1);
        assert_true(r->time == s_writes[i].time);
        assert_string_equal(r->actor, s_writes[i].actor);
        assert_string_equal(r->on_behalf_of, s_writes[i].on_behalf_of);
        assert_string_equal(r->method, s_writes[i].method);
        assert_string_equal(r->request_id, s_writes[i].request_id);
        assert_string_equal(r->subject, s_writes[i].subject);
        assert_int_equal(r->digest.len, 32);
        assert_int_equal(r->prev.len, RP_AUDIT_HASH);
        assert_int_equal(r->hash.len, RP_AUDIT_HASH);
        /* prev links to the previous record's hash, zeros before seq 1 */
        assert_memory_equal(r->prev.data, i ? fx->recs[i - 1]->hash.data : zeros, RP_AUDIT_HASH);
        uint8_t h[RP_AUDIT_HASH];
        rp_audit_hash(r, h);
        assert_memory_equal(h, r->hash.data, RP_AUDIT_HASH);
        assert_memory_not_equal(h, zeros, RP_AUDIT_HASH);
    }

    uint8_t prev[RP_AUDIT_HASH] = { 0 };
    assert_int_equal(rp_audit_check(fx->recs, 3, 1, prev), 0);
    assert_memory_equal(prev, fx->recs[2]->hash.data, RP_AUDIT_HASH);

    /* The chain carries on across transactions and reopening. */
    s_free_recs(fx);
    rp_store_destroy(&fx->base.store);
    fx->base.store = rp_store_open(fx->base.dir, NULL, NULL, 0);
    assert_non_null(fx->base.store);
    fx->audit = rp_store_dbi(fx->base.store, "audit");
    s_append_n(fx, 3, 4);
    s_read_all(fx);
    assert_int_equal(fx->n_recs, 4);
    memset(prev, 0, sizeof prev);
    assert_int_equal(rp_audit_check(fx->recs, 4, 1, prev), 0);

    /* An empty run is intact and leaves prev alone. */
    uint8_t before[RP_AUDIT_HASH];
    memcpy(before, prev, sizeof prev);
    assert_int_equal(rp_audit_check(fx->recs, 0, 5, prev), 0);
    assert_memory_equal(prev, before, sizeof prev);
}

/* A nested transaction that aborts takes its record with it. */
static void test_append_in_aborted_nested_txn(void **state)
{
    fx_t *fx = *state;
    MDB_txn *batch = rp_test_txn(fx->base.store, NULL, 0);
    for (size_t i = 0; i < 3; i++) {
        MDB_txn *child = rp_test_txn(fx->base.store, batch, 0);
        Rapport__Sys__V1__AuditRecord r;
        uint8_t digest[32];
        s_fill_record(&r, i, digest);
        assert_int_equal(rp_audit_append(child, fx->audit, NULL, &r), 0);
        assert_int_equal(r.seq, i == 2 ? 2 : i + 1);
        if (i == 1)
            mdb_txn_abort(child);
        else
            assert_int_equal(mdb_txn_commit(child), 0);
    }
    assert_int_equal(mdb_txn_commit(batch), 0);
    s_read_all(fx);
    assert_int_equal(fx->n_recs, 2);
    assert_string_equal(fx->recs[1]->request_id, s_writes[2].request_id);
    uint8_t prev[RP_AUDIT_HASH] = { 0 };
    assert_int_equal(rp_audit_check(fx->recs, 2, 1, prev), 0);
}

static void test_check_in_runs(void **state)
{
    fx_t *fx = *state;
    s_append_n(fx, 0, 4);
    s_read_all(fx);
    /* Split the chain into runs at every possible point: each run continues
     * from the prev the last one left. */
    for (size_t cut = 0; cut <= 4; cut++) {
        uint8_t prev[RP_AUDIT_HASH] = { 0 };
        assert_int_equal(rp_audit_check(fx->recs, cut, 1, prev), 0);
        assert_int_equal(rp_audit_check(fx->recs + cut, 4 - cut, cut + 1, prev), 0);
        assert_memory_equal(prev, fx->recs[3]->hash.data, RP_AUDIT_HASH);
    }
    /* A run checked against the wrong starting hash or seq fails at once. */
    uint8_t prev[RP_AUDIT_HASH] = { 0 };
    assert_int_equal(rp_audit_check(fx->recs + 1, 3, 2, prev), 2);
    memcpy(prev, fx->recs[0]->hash.data, RP_AUDIT_HASH);
    assert_int_equal(rp_audit_check(fx->recs + 1, 3, 3, prev), 3);
}

/* Mutators for one field of a record. They may point strings at static text. */
static uint8_t s_other_digest[32] = { 1, 2, 3 };
static uint8_t s_short[8] = { 0 };

static void m_seq(Rapport__Sys__V1__AuditRecord *r) { r->seq += 10; }
static void m_time(Rapport__Sys__V1__AuditRecord *r) { r->time += 1; }
static void m_time_neg(Rapport__Sys__V1__AuditRecord *r) { r->time = -r->time; }
static void m_actor(Rapport__Sys__V1__AuditRecord *r) { r->actor = (char *)"u-mallory"; }
static void m_actor_empty(Rapport__Sys__V1__AuditRecord *r) { r->actor = (char *)""; }
static void m_obo(Rapport__Sys__V1__AuditRecord *r) { r->on_behalf_of = (char *)"u-dave"; }
static void m_method(Rapport__Sys__V1__AuditRecord *r) { r->method = (char *)"rapport.leads.v1.Leads/Delete"; }
static void m_request_id(Rapport__Sys__V1__AuditRecord *r) { r->request_id = (char *)"01JREQZ"; }
static void m_subject(Rapport__Sys__V1__AuditRecord *r) { r->subject = (char *)"01JLEAD2"; }
static void m_digest(Rapport__Sys__V1__AuditRecord *r) { r->digest.data = s_other_digest; }
static void m_digest_short(Rapport__Sys__V1__AuditRecord *r) { r->digest.len = 31; }
static void m_prev(Rapport__Sys__V1__AuditRecord *r) { r->prev.data = s_other_digest; r->prev.len = 32; }
static void m_prev_short(Rapport__Sys__V1__AuditRecord *r) { r->prev.data = s_short; r->prev.len = 8; }
/* Moving text from one field to the next keeps the concatenation but not the hash. */
static void m_shift_actor_obo(Rapport__Sys__V1__AuditRecord *r)
{
    r->actor = (char *)"u-bobu-";
    r->on_behalf_of = (char *)"carol";
}
static void m_shift_method_request(Rapport__Sys__V1__AuditRecord *r)
{
    r->method = (char *)"rapport.leads.v1.Leads/Win01J";
    r->request_id = (char *)"REQB";
}

typedef void (*mutate_fn)(Rapport__Sys__V1__AuditRecord *r);

static const struct {
    const char *name;
    mutate_fn mutate;
} s_mutations[] = {
    { "seq", m_seq }, { "time", m_time }, { "time sign", m_time_neg },
    { "actor", m_actor }, { "actor emptied", m_actor_empty }, { "on_behalf_of", m_obo },
    { "method", m_method }, { "request_id", m_request_id }, { "subject", m_subject },
    { "digest", m_digest }, { "digest length", m_digest_short }, { "prev", m_prev },
    { "prev length", m_prev_short },
    { "actor|on_behalf_of boundary", m_shift_actor_obo },
    { "method|request_id boundary", m_shift_method_request },
};

static void test_hash_covers_every_field(void **state)
{
    fx_t *fx = *state;
    s_append_n(fx, 0, 2);
    s_read_all(fx);
    Rapport__Sys__V1__AuditRecord *orig = fx->recs[1];     /* has on_behalf_of */
    uint8_t want[RP_AUDIT_HASH];
    rp_audit_hash(orig, want);

    for (size_t i = 0; i < N_OF(s_mutations); i++) {
        Rapport__Sys__V1__AuditRecord r = *orig;
        s_mutations[i].mutate(&r);
        uint8_t h[RP_AUDIT_HASH];
        rp_audit_hash(&r, h);
        if (memcmp(h, want, RP_AUDIT_HASH) == 0)
            fail_msg("changing %s does not change the hash", s_mutations[i].name);
        /* Deterministic. */
        uint8_t again[RP_AUDIT_HASH];
        rp_audit_hash(&r, again);
        assert_memory_equal(h, again, RP_AUDIT_HASH);
    }

    /* The hash field itself is not an input, and NULL strings are empty ones. */
    static const struct {
        const char *name;
        int what;
    } same[] = { { "hash emptied", 0 }, { "hash changed", 1 }, { "NULL on_behalf_of", 2 } };
    Rapport__Sys__V1__AuditRecord base = *fx->recs[0];    /* on_behalf_of "" */
    uint8_t base_h[RP_AUDIT_HASH];
    rp_audit_hash(&base, base_h);
    for (size_t i = 0; i < N_OF(same); i++) {
        Rapport__Sys__V1__AuditRecord r = base;
        switch (same[i].what) {
        case 0: r.hash.data = NULL; r.hash.len = 0; break;
        case 1: r.hash.data = s_other_digest; r.hash.len = 32; break;
        default: r.on_behalf_of = NULL; break;
        }
        uint8_t h[RP_AUDIT_HASH];
        rp_audit_hash(&r, h);
        if (memcmp(h, base_h, RP_AUDIT_HASH) != 0)
            fail_msg("%s changes the hash", same[i].name);
    }
}

/* Tampering with one stored record: rp_audit_check reports that record's seq. */
static void test_check_finds_tampering(void **state)
{
    fx_t *fx = *state;
    for (size_t m = 0; m < N_OF(s_mutations); m++) {
        if (s_mutations[m].mutate == m_seq)
            continue;            /* a different key: see the reorder test */
        for (uint64_t victim = 1; victim <= 3; victim++) {
            /* A fresh chain of 3 each time. */
            MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
            assert_int_equal(mdb_drop(txn, fx->audit, 0), 0);
            assert_int_equal(mdb_txn_commit(txn), 0);
            s_append_n(fx, 0, 3);
            s_read_all(fx);

            /* Rewrite the stored value with the modified record, old hash kept. */
            Rapport__Sys__V1__AuditRecord r = *fx->recs[victim - 1];
            s_mutations[m].mutate(&r);
            s_rewrite(fx, &r);
            s_read_all(fx);
            assert_int_equal(fx->n_recs, 3);
            uint8_t prev[RP_AUDIT_HASH] = { 0 };
            uint64_t got = rp_audit_check(fx->recs, 3, 1, prev);
            if (got != victim)
                fail_msg("%s changed in record %llu: check says %llu", s_mutations[m].name,
                         (unsigned long long)victim, (unsigned long long)got);
            /* prev holds the last good hash: the one before the victim. */
            if (victim > 1)
                assert_memory_equal(prev, fx->recs[victim - 2]->hash.data, RP_AUDIT_HASH);
        }
    }

    /* Re-hashing the tampered record is not enough: the next one breaks. */
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
    assert_int_equal(mdb_drop(txn, fx->audit, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    s_append_n(fx, 0, 3);
    s_read_all(fx);
    Rapport__Sys__V1__AuditRecord r = *fx->recs[1];
    r.actor = (char *)"u-mallory";
    uint8_t h[RP_AUDIT_HASH];
    rp_audit_hash(&r, h);
    r.hash.data = h;
    s_rewrite(fx, &r);
    s_read_all(fx);
    uint8_t prev[RP_AUDIT_HASH] = { 0 };
    assert_int_equal(rp_audit_check(fx->recs, 3, 1, prev), 3);

    /* A record whose hash has the wrong length. */
    txn = rp_test_txn(fx->base.store, NULL, 0);
    assert_int_equal(mdb_drop(txn, fx->audit, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    s_append_n(fx, 0, 3);
    s_read_all(fx);
    r = *fx->recs[1];
    r.hash.len = 16;
    s_rewrite(fx, &r);
    s_read_all(fx);
    memset(prev, 0, sizeof prev);
    assert_int_equal(rp_audit_check(fx->recs, 3, 1, prev), 2);
}

/* Deleting a record in the middle of the chain. */
static void test_check_finds_deletion(void **state)
{
    fx_t *fx = *state;
    s_append_n(fx, 0, 4);
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
    uint8_t key[8];
    rp_u64_be(2, key);
    MDB_val k = { 8, key };
    assert_int_equal(mdb_del(txn, fx->audit, &k, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    s_read_all(fx);
    assert_int_equal(fx->n_recs, 3);

    /* Checked as one run from seq 1: the missing seq is where it breaks. */
    uint8_t prev[RP_AUDIT_HASH] = { 0 };
    assert_int_equal(rp_audit_check(fx->recs, 3, 1, prev), 2);
    assert_memory_equal(prev, fx->recs[0]->hash.data, RP_AUDIT_HASH);

    /* Checked record by record at their own seqs: the record after the gap
     * does not link to the one before it. */
    memset(prev, 0, sizeof prev);
    uint64_t broken = 0;
    for (size_t i = 0; i < fx->n_recs && !broken; i++)
        broken = rp_audit_check(&fx->recs[i], 1, fx->recs[i]->seq, prev);
    assert_int_equal(broken, 3);

    /* Re-numbering the records after the gap does not help: 3 now sits at 2. */
    txn = rp_test_txn(fx->base.store, NULL, 0);
    assert_int_equal(mdb_drop(txn, fx->audit, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    for (size_t i = 0; i < fx->n_recs; i++) {
        Rapport__Sys__V1__AuditRecord r = *fx->recs[i];
        r.seq = i + 1;
        s_rewrite(fx, &r);
    }
    s_read_all(fx);
    memset(prev, 0, sizeof prev);
    assert_int_equal(rp_audit_check(fx->recs, 3, 1, prev), 2);
}

/* Swapping two records. */
static void test_check_finds_reorder(void **state)
{
    fx_t *fx = *state;
    s_append_n(fx, 0, 4);
    s_read_all(fx);
    Rapport__Sys__V1__AuditRecord *tmp = fx->recs[1];
    fx->recs[1] = fx->recs[2];
    fx->recs[2] = tmp;
    uint8_t prev[RP_AUDIT_HASH] = { 0 };
    assert_int_equal(rp_audit_check(fx->recs, 4, 1, prev), 2);
}

/* Appending after a last record that is not a valid audit record fails. */
static void test_append_after_corrupt_last(void **state)
{
    fx_t *fx = *state;
    s_append_n(fx, 0, 2);
    static const struct {
        const char *name;
        uint8_t bytes[8];
        size_t len;
    } cases[] = {
        { "not protobuf", { 0x0a, 0x7f, 'x' }, 3 },
        { "no hash", { 0x08, 0x03 }, 2 },
        { "short hash", { 0x52, 0x02, 1, 2 }, 4 },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
        uint8_t key[8];
        rp_u64_be(3, key);
        MDB_val k = { 8, key }, v = { cases[i].len, (void *)cases[i].bytes };
        assert_int_equal(mdb_put(txn, fx->audit, &k, &v, 0), 0);
        Rapport__Sys__V1__AuditRecord r;
        uint8_t digest[32];
        s_fill_record(&r, 3, digest);
        int rc = rp_audit_append(txn, fx->audit, NULL, &r);
        if (rc != MDB_CORRUPTED)
            fail_msg("case %s: rc %d, want MDB_CORRUPTED", cases[i].name, rc);
        mdb_txn_abort(txn);
    }
}


/* A writer that keeps the chain head in memory (as the skeleton does) builds the
 * same chain as one that reads the last record back, across a rolled-back append
 * (head restored) and a forgotten head (known = false). */
static void test_append_with_cached_head(void **state)
{
    fx_t *fx = *state;
    rp_audit_head_t head = { 0 };
    uint64_t want_seq = 1;
    for (size_t i = 0; i < 4; i++) {
        MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
        Rapport__Sys__V1__AuditRecord r;
        uint8_t digest[32];
        s_fill_record(&r, i, digest);
        rp_audit_head_t before = head;
        assert_int_equal(rp_audit_append(txn, fx->audit, &head, &r), 0);
        assert_int_equal(head.seq, want_seq);
        if (i == 1) {
            mdb_txn_abort(txn);             /* rolled back: restore the head */
            head = before;
            continue;
        }
        want_seq++;
        assert_int_equal(mdb_txn_commit(txn), 0);
        if (i == 2)
            head.known = false;             /* forgotten: the next append reads it */
    }
    s_read_all(fx);
    assert_int_equal(fx->n_recs, 3);
    uint8_t prev[RP_AUDIT_HASH] = { 0 };
    assert_int_equal(rp_audit_check(fx->recs, fx->n_recs, 1, prev), 0);
    assert_memory_equal(prev, head.hash, RP_AUDIT_HASH);
}

/* The chain's hash is BLAKE2b-256 of every field as a big-endian 8-byte length
 * and its bytes, in a fixed order: stored chains depend on it never changing,
 * whether the input fits rp_audit_hash's buffer or is streamed. */
static void test_hash_format_is_fixed(void **state)
{
    (void)state;
    static const struct { size_t subject_len; const char *want_hex; } rows[] = {
        { 8, "490608b0ab03c29f6d1ff98b99084e6bbad06fb9fd98802078fbbb98d1e01fb4" },
        { 3000, NULL },     /* longer than the buffer: checked against the layout */
    };
    for (size_t t = 0; t < N_OF(rows); t++) {
        Rapport__Sys__V1__AuditRecord r = RAPPORT__SYS__V1__AUDIT_RECORD__INIT;
        uint8_t prev[32], dig[32], got[RP_AUDIT_HASH], want[RP_AUDIT_HASH];
        char *subject = malloc(rows[t].subject_len + 1);
        if (rows[t].subject_len == 8)
            memcpy(subject, "01JLEAD1", 9);
        else {
            memset(subject, 'S', rows[t].subject_len);
            subject[rows[t].subject_len] = 0;
        }
        for (int i = 0; i < 32; i++) {
            prev[i] = (uint8_t)i;
            dig[i] = (uint8_t)(0xA0 + i);
        }
        r.prev.data = prev; r.prev.len = 32;
        r.seq = 42; r.time = 1767225600123;
        r.actor = (char *)"u-alice"; r.on_behalf_of = (char *)"u-bob";
        r.method = (char *)"rapport.leads.v1.Leads/Create";
        r.request_id = (char *)"01JREQA"; r.subject = subject;
        r.digest.data = dig; r.digest.len = 32;
        rp_audit_hash(&r, got);

        /* The layout, built here independently. */
        size_t cap = 4096 + rows[t].subject_len, n = 0;
        uint8_t *buf = malloc(cap), be[8];
        const struct { const void *p; size_t len; } fields[] = {
            { prev, 32 }, { NULL, 8 }, { NULL, 8 }, { r.actor, strlen(r.actor) },
            { r.on_behalf_of, strlen(r.on_behalf_of) }, { r.method, strlen(r.method) },
            { r.request_id, strlen(r.request_id) }, { subject, strlen(subject) }, { dig, 32 },
        };
        for (size_t f = 0; f < N_OF(fields); f++) {
            rp_u64_be(fields[f].len, buf + n);
            n += 8;
            const void *p = fields[f].p;
            if (f == 1 || f == 2) {
                rp_u64_be(f == 1 ? r.seq : (uint64_t)r.time, be);
                p = be;
            }
            memcpy(buf + n, p, fields[f].len);
            n += fields[f].len;
        }
        crypto_generichash(want, sizeof want, buf, n, NULL, 0);
        assert_memory_equal(got, want, RP_AUDIT_HASH);
        if (rows[t].want_hex) {
            char hex[2 * RP_AUDIT_HASH + 1];
            sodium_bin2hex(hex, sizeof hex, got, sizeof got);
            assert_string_equal(hex, rows[t].want_hex);
        }
        free(buf);
        free(subject);
    }
}

int main(void)
{
    rp_log_set_level(RP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_builds_chain, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_append_with_cached_head, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_append_in_aborted_nested_txn, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_check_in_runs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hash_covers_every_field, s_setup, s_teardown),
        cmocka_unit_test(test_hash_format_is_fixed),
        cmocka_unit_test_setup_teardown(test_check_finds_tampering, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_check_finds_deletion, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_check_finds_reorder, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_append_after_corrupt_last, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
