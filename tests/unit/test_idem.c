/* test_idem.c - unit tests for idem.c on a real LMDB environment in a temporary
 * directory: digests, store then replay of the same bytes, digest mismatch,
 * expiry at lookup, and the expiry sweep (only expired records, rewritten
 * records kept, max respected).
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

#include "rapport/idem.h"
#include "rapport/log.h"
#include "rapport/store.h"
#include "testutil.h"

#define N_OF(a) (sizeof (a) / sizeof (a)[0])

typedef struct {
    rp_test_store_t base;
    MDB_dbi idem, idem_exp;
} fx_t;

static int s_setup(void **state)
{
    fx_t *fx = *state = rp_test_store_new(sizeof *fx, "idem", true);
    if (fx) {
        fx->idem = rp_store_dbi(fx->base.store, "idem");
        fx->idem_exp = rp_store_dbi(fx->base.store, "idem_exp");
    }
    return fx ? 0 : -1;
}

static size_t s_entries(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    return st.ms_entries;
}

static void test_digest(void **state)
{
    (void)state;
    static const struct {
        const char *method_a, *body_a;
        size_t len_a;
        const char *method_b, *body_b;
        size_t len_b;
        bool want_equal;
    } cases[] = {
        { "rapport.leads.v1.Leads/Create", "abc", 3, "rapport.leads.v1.Leads/Create", "abc", 3, true },
        { "rapport.leads.v1.Leads/Create", "abc", 3, "rapport.leads.v1.Leads/Create", "abd", 3, false },
        { "rapport.leads.v1.Leads/Create", "abc", 3, "rapport.leads.v1.Leads/Update", "abc", 3, false },
        { "rapport.leads.v1.Leads/Create", "abc", 3, "rapport.leads.v1.Leads/Create", "abc", 2, false },
        { "rapport.leads.v1.Leads/Create", "", 0, "rapport.leads.v1.Leads/Create", "", 0, true },
        { "rapport.leads.v1.Leads/Create", "", 0, "rapport.leads.v1.Leads/Create", "\0", 1, false },
        /* The method ends with its NUL: moving bytes across the boundary changes it. */
        { "ab", "c", 1, "a", "bc", 2, false },
        { "", "", 0, "", "\0", 1, false },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        uint8_t a[RP_IDEM_DIGEST], b[RP_IDEM_DIGEST];
        rp_idem_digest(cases[i].method_a, (const uint8_t *)cases[i].body_a, cases[i].len_a, a);
        rp_idem_digest(cases[i].method_b, (const uint8_t *)cases[i].body_b, cases[i].len_b, b);
        if ((memcmp(a, b, sizeof a) == 0) != cases[i].want_equal)
            fail_msg("case %zu: digests equal %d, want %d", i, memcmp(a, b, sizeof a) == 0,
                     cases[i].want_equal);
    }
    /* A NULL body of length 0 is the empty body. */
    uint8_t a[RP_IDEM_DIGEST], b[RP_IDEM_DIGEST];
    rp_idem_digest("m", NULL, 0, a);
    rp_idem_digest("m", (const uint8_t *)"", 0, b);
    assert_memory_equal(a, b, sizeof a);
}

static void test_store_and_lookup(void **state)
{
    fx_t *fx = *state;
    uint8_t d1[RP_IDEM_DIGEST], d2[RP_IDEM_DIGEST];
    rp_idem_digest("rapport.leads.v1.Leads/Create", (const uint8_t *)"body-1", 6, d1);
    rp_idem_digest("rapport.leads.v1.Leads/Create", (const uint8_t *)"body-2", 6, d2);
    static const uint8_t reply[] = { 0x0a, 0x1a, '0', '1', 0x00, 0xff, 0x12, 0x02, 0x08, 0x00 };
    const int64_t t0 = 1767225600000, exp = t0 + 86400000;

    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
    const uint8_t *got = NULL;
    size_t len = 0;
    assert_int_equal(rp_idem_lookup(txn, fx->idem, "01JREQ1", t0, d1, &got, &len), RP_IDEM_NEW);
    assert_int_equal(rp_idem_store(txn, fx->idem, fx->idem_exp, "01JREQ1", d1, reply, sizeof reply, exp), 0);
    assert_int_equal(rp_idem_store(txn, fx->idem, fx->idem_exp, "01JREQ-EMPTY", d1, NULL, 0, exp), 0);
    /* Visible at once in the writing transaction ... */
    assert_int_equal(rp_idem_lookup(txn, fx->idem, "01JREQ1", t0, d1, &got, &len), RP_IDEM_REPLAY);
    assert_int_equal(len, sizeof reply);
    assert_memory_equal(got, reply, sizeof reply);
    assert_int_equal(mdb_txn_commit(txn), 0);

    /* ... and after the commit. */
    const struct {
        const char *name;
        const char *id;
        int64_t now;
        int use_d2;
        rp_idem_result_t want;
        size_t want_len;
    } cases[] = {
        { "replay", "01JREQ1", t0, 0, RP_IDEM_REPLAY, sizeof reply },
        { "replay just before expiry", "01JREQ1", exp - 1, 0, RP_IDEM_REPLAY, sizeof reply },
        { "expired at expiry", "01JREQ1", exp, 0, RP_IDEM_NEW, 0 },
        { "expired after expiry", "01JREQ1", exp + 1, 0, RP_IDEM_NEW, 0 },
        { "other body", "01JREQ1", t0, 1, RP_IDEM_MISMATCH, 0 },
        { "other body after expiry", "01JREQ1", exp + 1, 1, RP_IDEM_NEW, 0 },
        { "unknown id", "01JREQ2", t0, 0, RP_IDEM_NEW, 0 },
        { "id is a prefix of a known one", "01JREQ", t0, 0, RP_IDEM_NEW, 0 },
        { "known id is a prefix of it", "01JREQ1X", t0, 0, RP_IDEM_NEW, 0 },
        { "empty reply replays", "01JREQ-EMPTY", t0, 0, RP_IDEM_REPLAY, 0 },
    };
    txn = rp_test_txn(fx->base.store, NULL, MDB_RDONLY);
    for (size_t i = 0; i < N_OF(cases); i++) {
        const uint8_t *r = (const uint8_t *)"untouched";
        size_t l = 12345;
        rp_idem_result_t res = rp_idem_lookup(txn, fx->idem, cases[i].id, cases[i].now,
                                              cases[i].use_d2 ? d2 : d1, &r, &l);
        if (res != cases[i].want)
            fail_msg("case %s: result %d, want %d", cases[i].name, res, cases[i].want);
        if (res == RP_IDEM_REPLAY) {
            assert_int_equal(l, cases[i].want_len);
            if (l)
                assert_memory_equal(r, reply, l);
        }
    }
    mdb_txn_abort(txn);

    /* Storing again under the same id replaces the record. */
    static const uint8_t reply2[] = { 1, 2, 3 };
    txn = rp_test_txn(fx->base.store, NULL, 0);
    assert_int_equal(rp_idem_store(txn, fx->idem, fx->idem_exp, "01JREQ1", d2, reply2, sizeof reply2, exp + 5), 0);
    assert_int_equal(rp_idem_lookup(txn, fx->idem, "01JREQ1", t0, d1, &got, &len), RP_IDEM_MISMATCH);
    assert_int_equal(rp_idem_lookup(txn, fx->idem, "01JREQ1", exp + 1, d2, &got, &len), RP_IDEM_REPLAY);
    assert_int_equal(len, sizeof reply2);
    assert_memory_equal(got, reply2, sizeof reply2);
    mdb_txn_abort(txn);

    /* A store in an aborted transaction leaves nothing. */
    txn = rp_test_txn(fx->base.store, NULL, 0);
    assert_int_equal(rp_idem_store(txn, fx->idem, fx->idem_exp, "01JREQ3", d1, reply, sizeof reply, exp), 0);
    mdb_txn_abort(txn);
    txn = rp_test_txn(fx->base.store, NULL, MDB_RDONLY);
    assert_int_equal(rp_idem_lookup(txn, fx->idem, "01JREQ3", t0, d1, &got, &len), RP_IDEM_NEW);
    mdb_txn_abort(txn);
}

/* A stored value too short to be a record (corruption) counts as new. */
static void test_lookup_short_record(void **state)
{
    fx_t *fx = *state;
    uint8_t d[RP_IDEM_DIGEST] = { 0 };
    uint8_t rec[8 + RP_IDEM_DIGEST] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
    MDB_val k = { 3, "bad" }, v = { sizeof rec - 1, rec };
    assert_int_equal(mdb_put(txn, fx->idem, &k, &v, 0), 0);
    const uint8_t *got = NULL;
    size_t len = 0;
    assert_int_equal(rp_idem_lookup(txn, fx->idem, "bad", 0, d, &got, &len), RP_IDEM_NEW);
    mdb_txn_abort(txn);
}

static void test_expire(void **state)
{
    fx_t *fx = *state;
    uint8_t d[RP_IDEM_DIGEST];
    rp_idem_digest("m", (const uint8_t *)"b", 1, d);

    /* Records a..f expire at 100..600; b is then rewritten to expire at 1000,
     * and e rewritten to expire earlier, at 150. */
    static const struct { const char *id; int64_t exp; } recs[] = {
        { "a", 100 }, { "b", 200 }, { "c", 300 }, { "d", 400 }, { "e", 500 }, { "f", 600 },
        { "b", 1000 }, { "e", 150 },
    };
    static const struct {
        const char *name;
        int64_t now;
        int max;
        const char *want_kept;   /* ids still present afterwards, in order */
        size_t want_index;       /* idem_exp entries left */
    } cases[] = {
        { "nothing expired yet", 99, 100, "abcdef", 8 },
        { "max 0 does nothing", 1000, 0, "abcdef", 8 },
        { "expire a", 100, 100, "bcdef", 7 },
        { "expire e (rewritten earlier)", 150, 100, "bcdf", 6 },
        { "b's old entry goes, b stays", 250, 100, "bcdf", 5 },
        { "max 1 of c and d", 450, 1, "bdf", 4 },
        { "then d, and e's old entry", 550, 100, "bf", 2 },
        { "f", 999, 100, "b", 1 },
        { "b at its new expiry", 1000, 100, "", 0 },
        { "empty index", 5000, 100, "", 0 },
    };
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
    for (size_t i = 0; i < N_OF(recs); i++)
        assert_int_equal(rp_idem_store(txn, fx->idem, fx->idem_exp, recs[i].id, d,
                                       (const uint8_t *)recs[i].id, 1, recs[i].exp), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);

    for (size_t i = 0; i < N_OF(cases); i++) {
        txn = rp_test_txn(fx->base.store, NULL, 0);
        int n = rp_idem_expire(txn, fx->idem, fx->idem_exp, cases[i].now, cases[i].max);
        assert_true(n >= 0);
        assert_true(n <= cases[i].max);
        assert_int_equal(mdb_txn_commit(txn), 0);

        txn = rp_test_txn(fx->base.store, NULL, MDB_RDONLY);
        size_t want_n = strlen(cases[i].want_kept);
        if (s_entries(txn, fx->idem) != want_n || s_entries(txn, fx->idem_exp) != cases[i].want_index)
            fail_msg("case %s: %zu records and %zu index entries, want %zu and %zu", cases[i].name,
                     s_entries(txn, fx->idem), s_entries(txn, fx->idem_exp), want_n,
                     cases[i].want_index);
        for (const char *id = "abcdef"; *id; id++) {
            char s[2] = { *id, 0 };
            MDB_val k = { 1, s }, v;
            bool present = mdb_get(txn, fx->idem, &k, &v) == 0;
            if (present != (strchr(cases[i].want_kept, *id) != NULL))
                fail_msg("case %s: record %s present %d", cases[i].name, s, present);
        }
        mdb_txn_abort(txn);
    }
}

/* The sweep's return value and its max, on records that were never rewritten. */
static void test_expire_count_and_max(void **state)
{
    fx_t *fx = *state;
    uint8_t d[RP_IDEM_DIGEST];
    rp_idem_digest("m", NULL, 0, d);
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
    for (int i = 0; i < 7; i++) {
        char id[8];
        snprintf(id, sizeof id, "r%d", i);
        /* r0..r4 expire at 10..14, r5 and r6 at 100 and 200 */
        int64_t exp = i < 5 ? 10 + i : (i - 4) * 100;
        assert_int_equal(rp_idem_store(txn, fx->idem, fx->idem_exp, id, d, NULL, 0, exp), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);

    static const struct {
        int64_t now;
        int max;
        int want_n;
        size_t want_left;
    } cases[] = {
        { 50, 2, 2, 5 }, { 50, 2, 2, 3 }, { 50, 2, 1, 2 }, { 50, 2, 0, 2 },
        { 150, 5, 1, 1 }, { 199, 5, 0, 1 }, { 200, 5, 1, 0 }, { 300, 5, 0, 0 },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        txn = rp_test_txn(fx->base.store, NULL, 0);
        int n = rp_idem_expire(txn, fx->idem, fx->idem_exp, cases[i].now, cases[i].max);
        assert_int_equal(mdb_txn_commit(txn), 0);
        txn = rp_test_txn(fx->base.store, NULL, MDB_RDONLY);
        if (n != cases[i].want_n || s_entries(txn, fx->idem) != cases[i].want_left
            || s_entries(txn, fx->idem_exp) != cases[i].want_left)
            fail_msg("case %zu: expired %d, %zu left; want %d, %zu", i, n,
                     s_entries(txn, fx->idem), cases[i].want_n, cases[i].want_left);
        mdb_txn_abort(txn);
    }
}

/* A sweep inside an aborted transaction changes nothing. */
static void test_expire_rolls_back(void **state)
{
    fx_t *fx = *state;
    uint8_t d[RP_IDEM_DIGEST];
    rp_idem_digest("m", NULL, 0, d);
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
    assert_int_equal(rp_idem_store(txn, fx->idem, fx->idem_exp, "x", d, NULL, 0, 10), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    txn = rp_test_txn(fx->base.store, NULL, 0);
    assert_int_equal(rp_idem_expire(txn, fx->idem, fx->idem_exp, 100, 10), 1);
    mdb_txn_abort(txn);
    txn = rp_test_txn(fx->base.store, NULL, MDB_RDONLY);
    assert_int_equal(s_entries(txn, fx->idem), 1);
    assert_int_equal(s_entries(txn, fx->idem_exp), 1);
    mdb_txn_abort(txn);
}

int main(void)
{
    rp_log_set_level(RP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest),
        cmocka_unit_test_setup_teardown(test_store_and_lookup, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_lookup_short_record, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_expire, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_expire_count_and_max, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_expire_rolls_back, s_setup, rp_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
