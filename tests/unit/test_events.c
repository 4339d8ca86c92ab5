/* test_events.c - unit tests for events.c on a real LMDB environment in a
 * temporary directory: seq assignment, gapless seqs across nested transactions
 * that abort, and rp_events_read's from_seq, limit, budget, type prefix,
 * next_seq and early stop.
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

#include "rapport/events.h"
#include "rapport/log.h"
#include "rapport/store.h"
#include "testutil.h"

#define N_OF(a) (sizeof (a) / sizeof (a)[0])

typedef struct {
    rp_test_store_t base;
    MDB_dbi events;
} fx_t;

static int s_setup(void **state)
{
    fx_t *fx = *state = rp_test_store_new(sizeof *fx, "events", true);
    if (fx)
        fx->events = rp_store_dbi(fx->base.store, "events");
    return fx ? 0 : -1;
}

/* s_append - append one event of the given type and subject; returns its seq. */
static uint64_t s_append(MDB_txn *txn, MDB_dbi events, const char *type, const char *subject)
{
    Rapport__V1__Event ev = RAPPORT__V1__EVENT__INIT;
    ev.seq = 999;                       /* overwritten */
    ev.id = (char *)"01JD0000000000000000000000";
    ev.type = (char *)type;
    ev.source = (char *)"/branches/b1/leads";
    ev.subject = (char *)subject;
    ev.time = 1767225600000;
    ev.branch = (char *)"b1";
    ev.actor = (char *)"u1";
    uint8_t data[3] = { 1, 2, 3 };
    ev.data.data = data;
    ev.data.len = sizeof data;
    ev.dataschema = (char *)"proto:rapport.leads.v1.Lead";
    assert_int_equal(rp_events_append(txn, events, &ev), 0);
    return ev.seq;
}

/* s_assert_log - the committed log holds exactly seqs 1..n with these subjects. */
static void s_assert_log(fx_t *fx, const char *const *subjects, size_t n)
{
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, MDB_RDONLY);
    assert_int_equal(rp_events_last_seq(txn, fx->events), n);
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, fx->events, &cur), 0);
    MDB_val k, v;
    size_t i = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), i++) {
        assert_true(i < n);
        assert_int_equal(k.mv_size, 8);
        assert_int_equal(rp_be_u64(k.mv_data), i + 1);
        Rapport__V1__Event *ev = rapport__v1__event__unpack(NULL, v.mv_size, v.mv_data);
        assert_non_null(ev);
        assert_int_equal(ev->seq, i + 1);
        assert_string_equal(ev->subject, subjects[i]);
        rapport__v1__event__free_unpacked(ev, NULL);
    }
    assert_int_equal(i, n);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
}

static void test_append_assigns_seqs(void **state)
{
    fx_t *fx = *state;
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
    assert_int_equal(rp_events_last_seq(txn, fx->events), 0);
    for (uint64_t want = 1; want <= 3; want++) {
        assert_int_equal(s_append(txn, fx->events, "rapport.leads.v1.lead.created", "x"), want);
        assert_int_equal(rp_events_last_seq(txn, fx->events), want);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);

    /* A later transaction carries on; one that aborts leaves nothing behind. */
    txn = rp_test_txn(fx->base.store, NULL, 0);
    assert_int_equal(s_append(txn, fx->events, "rapport.leads.v1.lead.won", "x"), 4);
    mdb_txn_abort(txn);
    txn = rp_test_txn(fx->base.store, NULL, 0);
    assert_int_equal(s_append(txn, fx->events, "rapport.leads.v1.lead.won", "x"), 4);
    assert_int_equal(mdb_txn_commit(txn), 0);
    static const char *const subjects[] = { "x", "x", "x", "x" };
    s_assert_log(fx, subjects, 4);

    /* The stored event is the appended one, seq included. */
    txn = rp_test_txn(fx->base.store, NULL, MDB_RDONLY);
    uint8_t key[8];
    rp_u64_be(4, key);
    ProtobufCMessage *m = NULL;
    assert_int_equal(rp_store_get_msg(txn, fx->events, key, 8, &rapport__v1__event__descriptor,
                                      NULL, &m), 0);
    Rapport__V1__Event *ev = (Rapport__V1__Event *)m;
    assert_int_equal(ev->seq, 4);
    assert_string_equal(ev->type, "rapport.leads.v1.lead.won");
    assert_string_equal(ev->dataschema, "proto:rapport.leads.v1.Lead");
    assert_int_equal(ev->data.len, 3);
    protobuf_c_message_free_unpacked(m, NULL);
    mdb_txn_abort(txn);
}

/* The write path: one batch transaction, each request in a nested one. */
static void test_nested_abort_is_gapless(void **state)
{
    fx_t *fx = *state;
    static const struct {
        const char *name;
        const char *batch;       /* per request: 'c' commits, 'a' aborts; digit = events */
    } cases[] = {
        { "abort in the middle", "c1 a1 c1" },
        { "abort first", "a2 c1 c2" },
        { "abort last", "c1 c1 a3" },
        { "all abort", "a1 a2" },
        { "many events per request", "c3 a4 c2 a1 a1 c1" },
    };
    const char *subjects[64];
    char names[64][40];
    size_t n_log = 0;
    for (size_t i = 0; i < N_OF(cases); i++) {
        MDB_txn *batch = rp_test_txn(fx->base.store, NULL, 0);
        size_t n_batch = 0;
        int req = 0;
        for (const char *p = cases[i].batch; *p; p++) {
            if (*p == ' ')
                continue;
            bool commit = *p == 'c';
            int count = *++p - '0';
            uint64_t first = rp_events_last_seq(batch, fx->events) + 1;
            assert_int_equal(first, n_log + n_batch + 1);
            MDB_txn *child = rp_test_txn(fx->base.store, batch, 0);
            for (int e = 0; e < count; e++) {
                char subj[40];
                snprintf(subj, sizeof subj, "c%zu-r%d-e%d", i, req, e);
                assert_int_equal(s_append(child, fx->events, "rapport.leads.v1.lead.created", subj),
                                 first + (uint64_t)e);
                if (commit)
                    snprintf(names[n_log + n_batch + (size_t)e], sizeof names[0], "%s", subj);
            }
            if (commit) {
                assert_int_equal(mdb_txn_commit(child), 0);
                n_batch += (size_t)count;
            } else {
                mdb_txn_abort(child);
            }
            /* The batch sees exactly the committed requests' events. */
            assert_int_equal(rp_events_last_seq(batch, fx->events), n_log + n_batch);
            req++;
        }
        assert_int_equal(mdb_txn_commit(batch), 0);
        n_log += n_batch;
        for (size_t j = 0; j < n_log; j++)
            subjects[j] = names[j];
        s_assert_log(fx, subjects, n_log);
    }
}

/* ---- rp_events_read ---- */

static const char *const s_types[] = {
    "rapport.leads.v1.lead.created",        /* 1 */
    "rapport.leads.v1.lead.won",            /* 2 */
    "rapport.accounts.v1.client.created",   /* 3 */
    "rapport.leads.v1.lead.created",        /* 4 */
    "rapport.accounts.v1.client.updated",   /* 5 */
    "rapport.leads.v1.lead.lost",           /* 6 */
    "rapport.leadsx.v1.thing.done",         /* 7 */
    "",                                     /* 8: no type at all */
    "rapport.leads.v1.lead.won",            /* 9 */
};

typedef struct {
    uint64_t seqs[32];
    size_t n;
    uint64_t stop_at;            /* return stop_rc when this seq comes */
    int stop_rc;
} reader_t;

static int s_reader(void *arg, uint64_t seq, const uint8_t *data, size_t len)
{
    reader_t *r = arg;
    /* fn gets the packed Event of that seq. */
    Rapport__V1__Event *ev = rapport__v1__event__unpack(NULL, len, data);
    assert_non_null(ev);
    assert_int_equal(ev->seq, seq);
    assert_string_equal(ev->type, s_types[seq - 1]);
    rapport__v1__event__free_unpacked(ev, NULL);
    assert_true(r->n < N_OF(r->seqs));
    r->seqs[r->n++] = seq;
    return seq == r->stop_at ? r->stop_rc : 0;
}

static void s_fill(fx_t *fx)
{
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
    for (size_t i = 0; i < N_OF(s_types); i++)
        assert_int_equal(s_append(txn, fx->events, s_types[i], "s"), i + 1);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static void test_read(void **state)
{
    fx_t *fx = *state;
    s_fill(fx);
    static const struct {
        const char *name;
        uint64_t from;
        uint32_t limit, budget;
        const char *prefix;
        uint64_t want[12];           /* 0-terminated */
        uint64_t want_next;
    } cases[] = {
        { "everything from 0", 0, 100, 0, NULL, { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, 10 },
        { "everything from 1, empty prefix", 1, 100, 0, "", { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, 10 },
        { "from the middle", 5, 100, 0, NULL, { 5, 6, 7, 8, 9 }, 10 },
        { "from the last", 9, 100, 0, NULL, { 9 }, 10 },
        { "from past the end", 10, 100, 0, NULL, { 0 }, 10 },
        { "from far past the end", 1000, 100, 0, NULL, { 0 }, 1000 },
        { "limit", 3, 2, 0, NULL, { 3, 4 }, 5 },
        { "limit 1", 1, 1, 0, NULL, { 1 }, 2 },
        { "limit reaches the end exactly", 6, 4, 0, NULL, { 6, 7, 8, 9 }, 10 },
        { "one service's events", 1, 100, 0, "rapport.leads.v1.", { 1, 2, 4, 6, 9 }, 10 },
        { "other service's events", 1, 100, 0, "rapport.accounts.", { 3, 5 }, 10 },
        { "prefix without a dot matches more", 1, 100, 0, "rapport.leads", { 1, 2, 4, 6, 7, 9 }, 10 },
        { "a whole type", 1, 100, 0, "rapport.leads.v1.lead.won", { 2, 9 }, 10 },
        { "prefix longer than every type", 1, 100, 0, "rapport.leads.v1.lead.wonder", { 0 }, 10 },
        { "prefix matching nothing", 1, 100, 0, "rapport.intel.", { 0 }, 10 },
        { "all of rapport", 1, 100, 0, "rapport.", { 1, 2, 3, 4, 5, 6, 7, 9 }, 10 },
        { "prefix and limit", 1, 2, 0, "rapport.leads.v1.", { 1, 2 }, 3 },
        { "prefix, limit and from", 3, 2, 0, "rapport.leads.v1.", { 4, 6 }, 7 },
        { "prefix from past its last match", 7, 100, 0, "rapport.accounts.", { 0 }, 10 },
        { "budget stops the scan", 1, 10, 4, "rapport.accounts.", { 3 }, 5 },
        { "budget with no match", 6, 10, 3, "rapport.accounts.", { 0 }, 9 },
        { "budget larger than the log", 1, 10, 50, "rapport.accounts.", { 3, 5 }, 10 },
    };
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, MDB_RDONLY);
    for (size_t i = 0; i < N_OF(cases); i++) {
        reader_t r = { .n = 0 };
        uint64_t next = 12345;
        int rc = rp_events_read(txn, fx->events, cases[i].from, cases[i].limit, cases[i].budget,
                                cases[i].prefix, s_reader, &r, &next);
        size_t want_n = 0;
        while (want_n < N_OF(cases[i].want) && cases[i].want[want_n])
            want_n++;
        if (rc != 0 || r.n != want_n || next != cases[i].want_next)
            fail_msg("case %s: rc %d, %zu events, next %llu; want 0, %zu, %llu", cases[i].name,
                     rc, r.n, (unsigned long long)next, want_n,
                     (unsigned long long)cases[i].want_next);
        for (size_t j = 0; j < want_n; j++)
            if (r.seqs[j] != cases[i].want[j])
                fail_msg("case %s: event %zu is seq %llu, want %llu", cases[i].name, j,
                         (unsigned long long)r.seqs[j], (unsigned long long)cases[i].want[j]);
    }
    mdb_txn_abort(txn);
}

/* Reading on from next_seq, page after page, sees every matching event once. */
static void test_read_follow_next_seq(void **state)
{
    fx_t *fx = *state;
    s_fill(fx);
    static const struct {
        const char *prefix;
        uint32_t limit, budget;
        uint64_t want[12];
    } cases[] = {
        { NULL, 2, 0, { 1, 2, 3, 4, 5, 6, 7, 8, 9 } },
        { "rapport.leads.v1.", 1, 0, { 1, 2, 4, 6, 9 } },
        { "rapport.accounts.", 1, 2, { 3, 5 } },
        { "rapport.leads.v1.lead.won", 3, 1, { 2, 9 } },
    };
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, MDB_RDONLY);
    for (size_t i = 0; i < N_OF(cases); i++) {
        reader_t r = { .n = 0 };
        uint64_t from = 1;
        for (int page = 0; page < 100; page++) {
            uint64_t next = 0;
            assert_int_equal(rp_events_read(txn, fx->events, from, cases[i].limit, cases[i].budget,
                                            cases[i].prefix, s_reader, &r, &next), 0);
            assert_true(next >= from);
            if (next == from)
                break;      /* nothing more */
            from = next;
        }
        assert_int_equal(from, 10);
        size_t want_n = 0;
        while (want_n < N_OF(cases[i].want) && cases[i].want[want_n])
            want_n++;
        assert_int_equal(r.n, want_n);
        for (size_t j = 0; j < want_n; j++)
            assert_int_equal(r.seqs[j], cases[i].want[j]);
    }
    mdb_txn_abort(txn);
}

static void test_read_fn_stops(void **state)
{
    fx_t *fx = *state;
    s_fill(fx);
    static const struct {
        const char *name;
        const char *prefix;
        uint64_t stop_at;
        int stop_rc;
        uint64_t want[12];
        uint64_t want_next;      /* the refused event is read again next time */
    } cases[] = {
        { "stop on the third", NULL, 3, 1, { 1, 2, 3 }, 3 },
        { "stop on the first", NULL, 1, -1, { 1 }, 1 },
        { "stop on the last", NULL, 9, 42, { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, 9 },
        { "stop with a prefix", "rapport.leads.v1.", 4, 7, { 1, 2, 4 }, 4 },
    };
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, MDB_RDONLY);
    for (size_t i = 0; i < N_OF(cases); i++) {
        reader_t r = { .stop_at = cases[i].stop_at, .stop_rc = cases[i].stop_rc };
        uint64_t next = 0;
        int rc = rp_events_read(txn, fx->events, 1, 100, 0, cases[i].prefix, s_reader, &r, &next);
        assert_int_equal(rc, cases[i].stop_rc);
        size_t want_n = 0;
        while (want_n < N_OF(cases[i].want) && cases[i].want[want_n])
            want_n++;
        if (r.n != want_n || next != cases[i].want_next)
            fail_msg("case %s: %zu events, next %llu; want %zu, %llu", cases[i].name, r.n,
                     (unsigned long long)next, want_n, (unsigned long long)cases[i].want_next);
        for (size_t j = 0; j < want_n; j++)
            assert_int_equal(r.seqs[j], cases[i].want[j]);
    }
    mdb_txn_abort(txn);
}

/* Without a budget, a read examines at most 10 * limit rows. */
static void test_read_default_budget(void **state)
{
    fx_t *fx = *state;
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
    for (uint64_t i = 1; i <= 45; i++)
        assert_int_equal(s_append(txn, fx->events, "rapport.a.v1.x", "s"), i);
    static const struct {
        uint64_t from;
        uint32_t limit, budget;
        uint64_t want_next;
    } cases[] = {
        { 1, 1, 0, 11 }, { 1, 2, 0, 21 }, { 30, 1, 0, 40 }, { 40, 1, 0, 46 }, { 1, 1, 44, 45 },
        { 1, 5, 0, 46 },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        reader_t r = { .n = 0 };
        uint64_t next = 0;
        assert_int_equal(rp_events_read(txn, fx->events, cases[i].from, cases[i].limit,
                                        cases[i].budget, "rapport.b.", s_reader, &r, &next), 0);
        assert_int_equal(r.n, 0);
        if (next != cases[i].want_next)
            fail_msg("case %zu: next %llu, want %llu", i, (unsigned long long)next,
                     (unsigned long long)cases[i].want_next);
    }
    mdb_txn_abort(txn);
}

/* An empty log and a log whose rows are not events (corruption) do not crash. */
static void test_read_empty_and_garbage(void **state)
{
    fx_t *fx = *state;
    MDB_txn *txn = rp_test_txn(fx->base.store, NULL, 0);
    reader_t r = { .n = 0 };
    uint64_t next = 0;
    assert_int_equal(rp_events_read(txn, fx->events, 1, 10, 0, NULL, s_reader, &r, &next), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(next, 1);
    assert_int_equal(rp_events_read(txn, fx->events, 0, 10, 0, "rapport.", s_reader, &r, &next), 0);
    assert_int_equal(next, 1);

    /* Rows whose bytes are not a valid Event never match a type prefix. */
    static const struct {
        uint8_t bytes[12];
        size_t len;
    } garbage[] = {
        { { 0x1a, 0x7f, 'r' }, 3 },                  /* type longer than the row */
        { { 0x08 }, 1 },                             /* truncated varint */
        { { 0x09, 1, 2 }, 3 },                       /* fixed64 past the end */
        { { 0x0b, 0x1a, 0x02, 'r', 'a' }, 5 },       /* group start */
        { { 0x1a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 }, 12 },
        { { 0 }, 0 },
    };
    for (size_t i = 0; i < N_OF(garbage); i++) {
        uint8_t key[8];
        rp_u64_be(i + 1, key);
        MDB_val k = { 8, key }, v = { garbage[i].len, (void *)garbage[i].bytes };
        assert_int_equal(mdb_put(txn, fx->events, &k, &v, 0), 0);
    }
    next = 0;
    assert_int_equal(rp_events_read(txn, fx->events, 1, 100, 0, "r", s_reader, &r, &next), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(next, N_OF(garbage) + 1);
    mdb_txn_abort(txn);
}

int main(void)
{
    rp_log_set_level(RP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_assigns_seqs, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_nested_abort_is_gapless, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_read, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_read_follow_next_seq, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_read_fn_stops, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_read_default_budget, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_read_empty_and_garbage, s_setup, rp_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
