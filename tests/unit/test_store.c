/* test_store.c - unit tests for store.c on a real LMDB environment in a
 * temporary directory: tables created at open, data kept across reopen,
 * migrations (order, run-once, failure), map growth on MDB_MAP_FULL, protobuf
 * put/get, composite key order and overflow, and paginated range scans with
 * limits, filters, budgets and page tokens.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rapport/store.h"
#include "rapport/log.h"
#include "rapport/util.h"
#include "rapport/sys/v1/system.pb-c.h"
#include "testutil.h"

#define N_OF(a) (sizeof (a) / sizeof (a)[0])

/* ---- fixture: a fresh directory per test, removed afterwards; each test opens
 * its store there itself ---- */

typedef rp_test_store_t fx_t;

static int s_setup(void **state)
{
    *state = rp_test_store_new(sizeof (fx_t), "store", false);
    return *state ? 0 : -1;
}

static void s_put_raw(MDB_txn *txn, MDB_dbi dbi, const char *k, const void *v, size_t vlen)
{
    MDB_val key = { strlen(k), (void *)k }, val = { vlen, (void *)v };
    assert_int_equal(mdb_put(txn, dbi, &key, &val, 0), 0);
}

/* s_get_str - the value under k as a NUL-ended copy in buf, or -1 when absent. */
static int s_get_str(MDB_txn *txn, MDB_dbi dbi, const char *k, char *buf, size_t cap)
{
    MDB_val key = { strlen(k), (void *)k }, val;
    int rc = mdb_get(txn, dbi, &key, &val);
    if (rc)
        return -1;
    assert_true(val.mv_size < cap);
    memcpy(buf, val.mv_data, val.mv_size);
    buf[val.mv_size] = 0;
    return 0;
}

/* ---- open, tables, reopen ---- */

static const char *const s_platform[] = { "events", "idem", "idem_exp", "offsets", "audit", "meta" };

static const rp_table_t s_tables[] = {
    { "clients", 0 },
    { "clients_by_owner", MDB_DUPSORT },
    { NULL, 0 },
};

static void test_open_creates_tables(void **state)
{
    fx_t *fx = *state;
    /* The store creates missing directories itself, private to the owner. */
    char path[128];
    snprintf(path, sizeof path, "%s/svc/leads", fx->dir);
    fx->store = rp_store_open(path, s_tables, NULL, 0);
    assert_non_null(fx->store);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(rp_store_map_size(fx->store), 64u << 20);
    assert_int_equal(rp_store_schema_version(fx->store), 0);

    /* Every table has a handle of its own ... */
    const char *all[N_OF(s_platform) + 2];
    size_t n = 0;
    for (size_t i = 0; i < N_OF(s_platform); i++)
        all[n++] = s_platform[i];
    all[n++] = "clients";
    all[n++] = "clients_by_owner";
    MDB_dbi dbis[N_OF(all)];
    for (size_t i = 0; i < n; i++) {
        dbis[i] = rp_store_dbi(fx->store, all[i]);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(dbis[i], dbis[j]);
    }
    /* ... and exists in the environment, with its flags. */
    MDB_txn *txn = rp_test_txn(fx->store, NULL, MDB_RDONLY);
    for (size_t i = 0; i < n; i++) {
        MDB_dbi d;
        assert_int_equal(mdb_dbi_open(txn, all[i], 0, &d), 0);
        assert_int_equal(d, dbis[i]);
    }
    MDB_dbi d;
    assert_int_equal(mdb_dbi_open(txn, "not_declared", 0, &d), MDB_NOTFOUND);
    unsigned flags = 0;
    assert_int_equal(mdb_dbi_flags(txn, rp_store_dbi(fx->store, "clients_by_owner"), &flags), 0);
    assert_true(flags & MDB_DUPSORT);
    mdb_txn_abort(txn);
}

static void test_open_rejects_bad_declarations(void **state)
{
    fx_t *fx = *state;
    static const rp_table_t twice[] = { { "clients", 0 }, { "clients", 0 }, { NULL, 0 } };
    static const rp_table_t platform[] = { { "events", 0 }, { NULL, 0 } };
    char file[128];
    snprintf(file, sizeof file, "%s/plain-file", fx->dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    char under_file[160];
    snprintf(under_file, sizeof under_file, "%s/sub", file);

    static struct {
        const char *name;
        const rp_table_t *tables;
        int use_file_path;          /* 1: path is a plain file, 2: under a plain file */
    } cases[] = {
        { "table declared twice", twice, 0 },
        { "service declares a platform table", platform, 0 },
        { "path is a plain file", NULL, 1 },
        { "path under a plain file", NULL, 2 },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        char path[192];
        if (cases[i].use_file_path == 1)
            snprintf(path, sizeof path, "%s", file);
        else if (cases[i].use_file_path == 2)
            snprintf(path, sizeof path, "%s", under_file);
        else
            snprintf(path, sizeof path, "%s/case%zu", fx->dir, i);
        rp_store_t *st = rp_store_open(path, cases[i].tables, NULL, 0);
        if (st) {
            rp_store_destroy(&st);
            fail_msg("case %s: open succeeded", cases[i].name);
        }
    }
}

static void test_reopen_keeps_data(void **state)
{
    fx_t *fx = *state;
    fx->store = rp_store_open(fx->dir, s_tables, NULL, 1u << 20);
    assert_non_null(fx->store);
    MDB_txn *txn = rp_test_txn(fx->store, NULL, 0);
    s_put_raw(txn, rp_store_dbi(fx->store, "clients"), "c1", "Acme", 4);
    s_put_raw(txn, rp_store_dbi(fx->store, "offsets"), "accounts", "\0\0\0\0\0\0\0\x07", 8);
    assert_int_equal(mdb_txn_commit(txn), 0);
    /* An aborted write is not kept. */
    txn = rp_test_txn(fx->store, NULL, 0);
    s_put_raw(txn, rp_store_dbi(fx->store, "clients"), "c2", "Lost", 4);
    mdb_txn_abort(txn);
    rp_store_destroy(&fx->store);
    assert_null(fx->store);
    rp_store_destroy(&fx->store);   /* NULL-safe */

    static const struct {
        const rp_table_t *tables;
    } reopen[] = { { s_tables }, { NULL } };
    for (size_t i = 0; i < N_OF(reopen); i++) {
        fx->store = rp_store_open(fx->dir, reopen[i].tables, NULL, 1u << 20);
        assert_non_null(fx->store);
        txn = rp_test_txn(fx->store, NULL, MDB_RDONLY);
        char buf[32];
        if (reopen[i].tables) {
            assert_int_equal(s_get_str(txn, rp_store_dbi(fx->store, "clients"), "c1", buf, sizeof buf), 0);
            assert_string_equal(buf, "Acme");
            assert_int_equal(s_get_str(txn, rp_store_dbi(fx->store, "clients"), "c2", buf, sizeof buf), -1);
        }
        MDB_val k = { 8, "accounts" }, v;
        assert_int_equal(mdb_get(txn, rp_store_dbi(fx->store, "offsets"), &k, &v), 0);
        assert_int_equal(v.mv_size, 8);
        assert_int_equal(rp_be_u64(v.mv_data), 7);
        mdb_txn_abort(txn);
        rp_store_destroy(&fx->store);
    }
}

/* ---- migrations ---- */

static uint32_t s_ran[16];
static size_t s_n_ran;

static int s_mig_record(rp_store_t *st, MDB_txn *txn, uint32_t v, int fail)
{
    s_ran[s_n_ran++] = v;
    /* Each migration sees the effects of the ones before it. */
    char key[16], prev[16], buf[16];
    snprintf(key, sizeof key, "m%u", v);
    MDB_dbi clients = rp_store_dbi(st, "clients");
    if (v > 1) {
        snprintf(prev, sizeof prev, "m%u", v - 1);
        if (s_get_str(txn, clients, prev, buf, sizeof buf) != 0)
            return -1;
    }
    MDB_val k = { strlen(key), key }, val = { 2, "ok" };
    if (mdb_put(txn, clients, &k, &val, 0) != 0)
        return -1;
    return fail ? -1 : 0;
}
static int s_mig1(rp_store_t *st, MDB_txn *txn) { return s_mig_record(st, txn, 1, 0); }
static int s_mig2(rp_store_t *st, MDB_txn *txn) { return s_mig_record(st, txn, 2, 0); }
static int s_mig3(rp_store_t *st, MDB_txn *txn) { return s_mig_record(st, txn, 3, 0); }
static int s_mig4(rp_store_t *st, MDB_txn *txn) { return s_mig_record(st, txn, 4, 0); }
static int s_mig2_fails(rp_store_t *st, MDB_txn *txn) { return s_mig_record(st, txn, 2, 1); }
static int s_mig1_fails(rp_store_t *st, MDB_txn *txn) { return s_mig_record(st, txn, 1, 1); }

static const rp_migration_t s_migs123[] = {
    { 1, "one", s_mig1 }, { 2, "two", s_mig2 }, { 3, "three", s_mig3 }, { 0, NULL, NULL },
};
static const rp_migration_t s_migs1234[] = {
    { 1, "one", s_mig1 }, { 2, "two", s_mig2 }, { 3, "three", s_mig3 }, { 4, "four", s_mig4 },
    { 0, NULL, NULL },
};

static void s_assert_meta_version(rp_store_t *st, uint32_t want)
{
    MDB_txn *txn = rp_test_txn(st, NULL, MDB_RDONLY);
    MDB_val k = { strlen("schema_version"), "schema_version" }, v;
    assert_int_equal(mdb_get(txn, rp_store_dbi(st, "meta"), &k, &v), 0);
    assert_int_equal(v.mv_size, 4);
    const uint8_t *b = v.mv_data;
    uint32_t got = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    assert_int_equal(got, want);
    mdb_txn_abort(txn);
}

static void test_migrations_run_in_order(void **state)
{
    fx_t *fx = *state;
    s_n_ran = 0;
    fx->store = rp_store_open(fx->dir, s_tables, s_migs123, 0);
    assert_non_null(fx->store);
    assert_int_equal(s_n_ran, 3);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(s_ran[i], i + 1);
    assert_int_equal(rp_store_schema_version(fx->store), 3);
    s_assert_meta_version(fx->store, 3);
    rp_store_destroy(&fx->store);

    /* An older program (fewer migrations, or none) must not open newer data. */
    static const rp_migration_t s_migs1[] = { { 1, "one", s_mig1 }, { 0, NULL, NULL } };
    assert_null(rp_store_open(fx->dir, s_tables, NULL, 0));
    assert_null(rp_store_open(fx->dir, s_tables, s_migs1, 0));

    /* Reopening with the same list reads the recorded version and runs nothing. */
    s_n_ran = 0;
    fx->store = rp_store_open(fx->dir, s_tables, s_migs123, 0);
    assert_non_null(fx->store);
    assert_int_equal(s_n_ran, 0);
    assert_int_equal(rp_store_schema_version(fx->store), 3);
    MDB_txn *txn = rp_test_txn(fx->store, NULL, MDB_RDONLY);
    char buf[8];
    for (int v = 1; v <= 3; v++) {
        char key[8];
        snprintf(key, sizeof key, "m%d", v);
        assert_int_equal(s_get_str(txn, rp_store_dbi(fx->store, "clients"), key, buf, sizeof buf), 0);
    }
    mdb_txn_abort(txn);
}

/* The checks of test_migrations_reopen run in a child process: an assert() in
 * store.c would otherwise kill the whole test program. Returns 0 or the number
 * of the first failed step. */
static int s_reopen_child(const char *dir)
{
    rp_store_t *st = rp_store_open(dir, s_tables, s_migs123, 0);
    if (!st)
        return 1;
    rp_store_destroy(&st);

    /* Same list again: nothing runs, the version stays. */
    s_n_ran = 0;
    st = rp_store_open(dir, s_tables, s_migs123, 0);
    if (!st)
        return 2;
    if (s_n_ran != 0 || rp_store_schema_version(st) != 3)
        return 3;
    rp_store_destroy(&st);

    /* One more migration: only it runs. */
    s_n_ran = 0;
    st = rp_store_open(dir, s_tables, s_migs1234, 0);
    if (!st)
        return 4;
    if (s_n_ran != 1 || s_ran[0] != 4 || rp_store_schema_version(st) != 4)
        return 5;
    rp_store_destroy(&st);
    return 0;
}

static void test_migrations_reopen_runs_only_new(void **state)
{
    fx_t *fx = *state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(s_reopen_child(fx->dir));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("reopening with already-applied migrations killed the process with signal %d "
                 "(store.c s_migrate: assert(m->version > prev) with prev starting at the "
                 "recorded schema version)", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    fx->store = rp_store_open(fx->dir, s_tables, s_migs1234, 0);
    assert_non_null(fx->store);
    assert_int_equal(rp_store_schema_version(fx->store), 4);
    s_assert_meta_version(fx->store, 4);
}

static void test_migration_failure_aborts_open(void **state)
{
    fx_t *fx = *state;
    static const rp_migration_t fail_second[] = {
        { 1, "one", s_mig1 }, { 2, "two fails", s_mig2_fails }, { 3, "three", s_mig3 },
        { 0, NULL, NULL },
    };
    static const rp_migration_t fail_first[] = {
        { 1, "one fails", s_mig1_fails }, { 2, "two", s_mig2 }, { 0, NULL, NULL },
    };
    static const struct {
        const char *name;
        const rp_migration_t *migs;
        size_t want_ran;             /* migrations called before open gave up */
        uint32_t want_version;       /* recorded afterwards */
        const char *want_present;    /* keys that migrations left behind */
        const char *want_absent;
    } cases[] = {
        { "second of three fails", fail_second, 2, 1, "m1", "m2" },
        { "first fails", fail_first, 1, 0, NULL, "m1" },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/case%zu", fx->dir, i);
        s_n_ran = 0;
        rp_store_t *st = rp_store_open(path, s_tables, cases[i].migs, 0);
        if (st) {
            rp_store_destroy(&st);
            fail_msg("case %s: open succeeded", cases[i].name);
        }
        assert_int_equal(s_n_ran, cases[i].want_ran);

        /* Look with a program that knows exactly the versions that were recorded. */
        static const rp_migration_t upto1[] = { { 1, "one", NULL }, { 0, NULL, NULL } };
        st = rp_store_open(path, s_tables, cases[i].want_version ? upto1 : NULL, 0);
        assert_non_null(st);
        assert_int_equal(rp_store_schema_version(st), cases[i].want_version);
        MDB_txn *txn = rp_test_txn(st, NULL, MDB_RDONLY);
        char buf[8];
        MDB_dbi clients = rp_store_dbi(st, "clients");
        if (cases[i].want_present)
            assert_int_equal(s_get_str(txn, clients, cases[i].want_present, buf, sizeof buf), 0);
        assert_int_equal(s_get_str(txn, clients, cases[i].want_absent, buf, sizeof buf), -1);
        MDB_val k = { strlen("schema_version"), "schema_version" }, v;
        int rc = mdb_get(txn, rp_store_dbi(st, "meta"), &k, &v);
        assert_int_equal(rc, cases[i].want_version ? 0 : MDB_NOTFOUND);
        mdb_txn_abort(txn);
        rp_store_destroy(&st);
    }
}

/* ---- map growth ---- */

/* s_write_batch - put 16 values of 2 KiB under keys batch*16+i in one txn.
 * Returns 0 or the LMDB code that stopped it (the txn is gone either way). */
static int s_write_batch(rp_store_t *st, MDB_dbi dbi, uint32_t batch)
{
    static uint8_t blob[2048];
    memset(blob, (int)(batch & 0xff), sizeof blob);
    MDB_txn *txn = rp_test_txn(st, NULL, 0);
    for (uint32_t i = 0; i < 16; i++) {
        rp_key_t k;
        rp_key_init(&k);
        rp_key_u32(&k, batch * 16 + i);
        MDB_val kv = rp_key_val(&k), v = { sizeof blob, blob };
        int rc = mdb_put(txn, dbi, &kv, &v, 0);
        if (rc) {
            mdb_txn_abort(txn);
            return rc;
        }
    }
    return mdb_txn_commit(txn);
}

static void test_map_growth(void **state)
{
    fx_t *fx = *state;
    const size_t mib = 1u << 20;
    fx->store = rp_store_open(fx->dir, s_tables, NULL, mib);
    assert_non_null(fx->store);
    assert_int_equal(rp_store_map_size(fx->store), mib);
    MDB_dbi clients = rp_store_dbi(fx->store, "clients");

    uint32_t batch = 0;
    int rc = 0;
    for (; batch < 1000; batch++) {
        rc = s_write_batch(fx->store, clients, batch);
        if (rc)
            break;
    }
    assert_int_equal(rc, MDB_MAP_FULL);
    assert_true(batch > 0);

    assert_int_equal(rp_store_grow(fx->store), 0);
    assert_int_equal(rp_store_map_size(fx->store), 2 * mib);
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(rp_store_env(fx->store), &info), 0);
    assert_int_equal(info.me_mapsize, 2 * mib);

    /* The batch that failed now goes through, and so does the next one. */
    assert_int_equal(s_write_batch(fx->store, clients, batch), 0);
    assert_int_equal(s_write_batch(fx->store, clients, batch + 1), 0);
    MDB_txn *txn = rp_test_txn(fx->store, NULL, MDB_RDONLY);
    MDB_stat ms;
    assert_int_equal(mdb_stat(txn, clients, &ms), 0);
    assert_int_equal(ms.ms_entries, (batch + 2) * 16);
    mdb_txn_abort(txn);

    assert_int_equal(rp_store_grow(fx->store), 0);
    assert_int_equal(rp_store_map_size(fx->store), 4 * mib);

    /* Reopening with a smaller map than the data needs still opens it. */
    rp_store_destroy(&fx->store);
    fx->store = rp_store_open(fx->dir, s_tables, NULL, mib);
    assert_non_null(fx->store);
    assert_true(rp_store_map_size(fx->store) > mib);
    txn = rp_test_txn(fx->store, NULL, MDB_RDONLY);
    assert_int_equal(mdb_stat(txn, rp_store_dbi(fx->store, "clients"), &ms), 0);
    assert_int_equal(ms.ms_entries, (batch + 2) * 16);
    mdb_txn_abort(txn);
}

/* ---- protobuf messages ---- */

typedef struct {
    int allocs, frees;
} count_alloc_t;

static void *s_count_alloc(void *data, size_t size)
{
    ((count_alloc_t *)data)->allocs++;
    return malloc(size);
}

static void s_count_free(void *data, void *p)
{
    if (p)
        ((count_alloc_t *)data)->frees++;
    free(p);
}

static void test_msg_round_trip(void **state)
{
    fx_t *fx = *state;
    fx->store = rp_store_open(fx->dir, s_tables, NULL, 0);
    assert_non_null(fx->store);
    MDB_dbi clients = rp_store_dbi(fx->store, "clients");
    char long_name[400];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;

    struct {
        const char *key;
        const char *service, *version;
        bool ready, test_clock;
        uint64_t last_seq;
        int64_t uptime_ms, now;
    } cases[] = {
        { "full", "leads", "1.2.3", true, true, 42, 123456, 1767225600000 },
        { "empty", "", "", false, false, 0, 0, 0 },
        { "extremes", "accounts", "0", true, false, UINT64_MAX, INT64_MAX, INT64_MIN },
        { "negative", "intel", "9", false, true, 1, -1, -1767225600000 },
        { "long", NULL, "v", true, false, 7, 7, 7 },
    };
    cases[4].service = long_name;

    MDB_txn *txn = rp_test_txn(fx->store, NULL, 0);
    for (size_t i = 0; i < N_OF(cases); i++) {
        Rapport__Sys__V1__HealthReply m = RAPPORT__SYS__V1__HEALTH_REPLY__INIT;
        m.service = (char *)cases[i].service;
        m.version = (char *)cases[i].version;
        m.ready = cases[i].ready;
        m.test_clock = cases[i].test_clock;
        m.last_seq = cases[i].last_seq;
        m.uptime_ms = cases[i].uptime_ms;
        m.now = cases[i].now;
        assert_int_equal(rp_store_put_msg(txn, clients, cases[i].key, strlen(cases[i].key), &m.base), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);

    txn = rp_test_txn(fx->store, NULL, MDB_RDONLY);
    for (size_t i = 0; i < N_OF(cases); i++) {
        count_alloc_t counts = { 0, 0 };
        ProtobufCAllocator counting = { s_count_alloc, s_count_free, &counts };
        ProtobufCAllocator *allocs[] = { NULL, &counting };
        for (size_t a = 0; a < N_OF(allocs); a++) {
            ProtobufCMessage *out = NULL;
            assert_int_equal(rp_store_get_msg(txn, clients, cases[i].key, strlen(cases[i].key),
                                              &rapport__sys__v1__health_reply__descriptor,
                                              allocs[a], &out), 0);
            assert_non_null(out);
            Rapport__Sys__V1__HealthReply *got = (Rapport__Sys__V1__HealthReply *)out;
            assert_string_equal(got->service, cases[i].service);
            assert_string_equal(got->version, cases[i].version);
            assert_int_equal(got->ready, cases[i].ready);
            assert_int_equal(got->test_clock, cases[i].test_clock);
            assert_true(got->last_seq == cases[i].last_seq);
            assert_true(got->uptime_ms == cases[i].uptime_ms);
            assert_true(got->now == cases[i].now);
            protobuf_c_message_free_unpacked(out, allocs[a]);
        }
        assert_true(counts.allocs > 0);
        assert_int_equal(counts.allocs, counts.frees);
    }
    mdb_txn_abort(txn);
}

static void test_msg_missing_and_garbage(void **state)
{
    fx_t *fx = *state;
    fx->store = rp_store_open(fx->dir, s_tables, NULL, 0);
    assert_non_null(fx->store);
    MDB_dbi clients = rp_store_dbi(fx->store, "clients");

    static const struct {
        const char *name;
        uint8_t bytes[16];
        size_t len;
        int want_rc;
    } cases[] = {
        { "truncated string", { 0x0a, 0x05, 'a' }, 3, -1 },
        { "string length past the end", { 0x12, 0x7f, 'a', 'b' }, 4, -1 },
        { "varint with no bytes", { 0x20 }, 1, -1 },
        { "truncated varint", { 0x20, 0x80, 0x80 }, 3, -1 },
        { "varint longer than 10 bytes",
          { 0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 13, -1 },
        { "wire type 7", { 0x0f, 0x00 }, 2, -1 },
        { "tag zero", { 0x00, 0x01 }, 2, -1 },
        /* Control rows: unknown fields are skipped, empty is the default message. */
        { "unknown field", { 0xf8, 0x01, 0x05 }, 3, 0 },
        { "empty value", { 0 }, 0, 0 },
    };
    MDB_txn *txn = rp_test_txn(fx->store, NULL, 0);
    for (size_t i = 0; i < N_OF(cases); i++)
        s_put_raw(txn, clients, cases[i].name, cases[i].bytes, cases[i].len);
    assert_int_equal(mdb_txn_commit(txn), 0);

    txn = rp_test_txn(fx->store, NULL, MDB_RDONLY);
    for (size_t i = 0; i < N_OF(cases); i++) {
        ProtobufCMessage *out = NULL;
        int rc = rp_store_get_msg(txn, clients, cases[i].name, strlen(cases[i].name),
                                  &rapport__sys__v1__health_reply__descriptor, NULL, &out);
        if (rc != cases[i].want_rc)
            fail_msg("case %s: rc %d, want %d", cases[i].name, rc, cases[i].want_rc);
        if (rc == 0) {
            assert_non_null(out);
            protobuf_c_message_free_unpacked(out, NULL);
        } else {
            assert_null(out);
        }
    }
    ProtobufCMessage *sentinel = (ProtobufCMessage *)&sentinel;
    ProtobufCMessage *out = sentinel;
    assert_int_equal(rp_store_get_msg(txn, clients, "no such key", 11,
                                      &rapport__sys__v1__health_reply__descriptor, NULL, &out),
                     MDB_NOTFOUND);
    assert_ptr_equal(out, sentinel);    /* untouched */
    mdb_txn_abort(txn);
}

/* ---- composite keys ---- */

/* s_cmp - LMDB's default key order: memcmp, shorter first on a common prefix. */
static int s_cmp(const rp_key_t *a, const rp_key_t *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->b, b->b, n);
    if (c)
        return c < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* s_assert_lmdb_order - put keys[] in random-ish order into a fresh table and
 * check that a cursor returns them in index order (keys[] is ascending). */
static void s_assert_lmdb_order(rp_store_t *st, const rp_key_t *keys, size_t n)
{
    MDB_txn *txn = rp_test_txn(st, NULL, 0);
    MDB_dbi dbi = rp_store_dbi(st, "clients");
    assert_int_equal(mdb_drop(txn, dbi, 0), 0);
    for (size_t i = 0; i < n; i++) {
        /* odd indices descending, then even ones ascending: not the sorted order */
        size_t n_odd = n / 2;
        size_t j = i < n_odd ? 2 * (n_odd - i) - 1 : 2 * (i - n_odd);
        uint32_t idx = (uint32_t)j;
        MDB_val k = rp_key_val(&keys[j]), v = { sizeof idx, &idx };
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    }
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    MDB_val k, v;
    size_t i = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), i++) {
        uint32_t idx;
        memcpy(&idx, v.mv_data, sizeof idx);
        assert_int_equal(idx, i);
    }
    assert_int_equal(i, n);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
}

static void s_assert_ascending(const rp_key_t *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int want = i < j ? -1 : i > j;
            if (s_cmp(&keys[i], &keys[j]) != want)
                fail_msg("keys %zu and %zu compare %d, want %d", i, j, s_cmp(&keys[i], &keys[j]), want);
        }
}

static void test_key_numeric_order(void **state)
{
    fx_t *fx = *state;
    fx->store = rp_store_open(fx->dir, s_tables, NULL, 0);
    assert_non_null(fx->store);

    static const uint32_t u32s[] = { 0, 1, 2, 255, 256, 65535, 65536, 0x7fffffff, 0x80000000,
                                     0xfffffffe, UINT32_MAX };
    static const uint64_t u64s[] = { 0, 1, 255, 256, UINT32_MAX, (uint64_t)UINT32_MAX + 1,
                                     INT64_MAX, (uint64_t)INT64_MAX + 1, UINT64_MAX - 1, UINT64_MAX };
    static const int64_t i64s[] = { INT64_MIN, INT64_MIN + 1, -4294967296LL, -65536, -256, -2, -1,
                                    0, 1, 255, 256, 4294967296LL, INT64_MAX - 1, INT64_MAX };
    rp_key_t keys[16];

    for (size_t i = 0; i < N_OF(u32s); i++) {
        rp_key_init(&keys[i]);
        rp_key_u32(&keys[i], u32s[i]);
        assert_int_equal(keys[i].len, 4);
        assert_false(keys[i].overflow);
    }
    s_assert_ascending(keys, N_OF(u32s));
    s_assert_lmdb_order(fx->store, keys, N_OF(u32s));

    for (size_t i = 0; i < N_OF(u64s); i++) {
        rp_key_init(&keys[i]);
        rp_key_u64(&keys[i], u64s[i]);
        assert_int_equal(keys[i].len, 8);
        assert_true(rp_be_u64(keys[i].b) == u64s[i]);
    }
    s_assert_ascending(keys, N_OF(u64s));
    s_assert_lmdb_order(fx->store, keys, N_OF(u64s));

    for (size_t i = 0; i < N_OF(i64s); i++) {
        rp_key_init(&keys[i]);
        rp_key_i64(&keys[i], i64s[i]);
        assert_int_equal(keys[i].len, 8);
    }
    s_assert_ascending(keys, N_OF(i64s));
    s_assert_lmdb_order(fx->store, keys, N_OF(i64s));

    /* Exact encodings: big-endian, i64 with the sign bit flipped. */
    static const struct {
        int kind;                /* 0 u8, 1 u32, 2 u64, 3 i64 */
        int64_t v;
        uint8_t want[8];
        size_t want_len;
    } enc[] = {
        { 0, 0xab, { 0xab }, 1 },
        { 1, 0x01020304, { 1, 2, 3, 4 }, 4 },
        { 2, 0x0102030405060708LL, { 1, 2, 3, 4, 5, 6, 7, 8 }, 8 },
        { 3, 0, { 0x80, 0, 0, 0, 0, 0, 0, 0 }, 8 },
        { 3, -1, { 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 8 },
        { 3, 1, { 0x80, 0, 0, 0, 0, 0, 0, 1 }, 8 },
        { 3, INT64_MIN, { 0, 0, 0, 0, 0, 0, 0, 0 }, 8 },
    };
    for (size_t i = 0; i < N_OF(enc); i++) {
        rp_key_t k;
        rp_key_init(&k);
        switch (enc[i].kind) {
        case 0: rp_key_u8(&k, (uint8_t)enc[i].v); break;
        case 1: rp_key_u32(&k, (uint32_t)enc[i].v); break;
        case 2: rp_key_u64(&k, (uint64_t)enc[i].v); break;
        default: rp_key_i64(&k, enc[i].v); break;
        }
        assert_int_equal(k.len, enc[i].want_len);
        assert_memory_equal(k.b, enc[i].want, enc[i].want_len);
        MDB_val v = rp_key_val(&k);
        assert_ptr_equal(v.mv_data, k.b);
        assert_int_equal(v.mv_size, k.len);
    }
    uint8_t be[8];
    rp_u64_be(0x1122334455667788ULL, be);
    assert_int_equal(be[0], 0x11);
    assert_int_equal(be[7], 0x88);
    assert_true(rp_be_u64(be) == 0x1122334455667788ULL);
}

static void test_key_string_order(void **state)
{
    fx_t *fx = *state;
    fx->store = rp_store_open(fx->dir, s_tables, NULL, 0);
    assert_non_null(fx->store);

    /* (string, number) composite keys, listed in the order they must sort:
     * a string sorts before every longer string it is a prefix of, whatever
     * follows it in the key. */
    static const struct {
        const char *s;
        uint32_t n;
    } rows[] = {
        { "", 0 }, { "", UINT32_MAX }, { "a", 0 }, { "a", 7 }, { "a", UINT32_MAX },
        { "a b", 0 }, { "aa", 0 }, { "ab", UINT32_MAX }, { "abc", 0 }, { "abc", 1 },
        { "abcd", 0 }, { "b", 0 }, { "\xc3\xa9", 0 },
    };
    rp_key_t keys[N_OF(rows)];
    for (size_t i = 0; i < N_OF(rows); i++) {
        rp_key_init(&keys[i]);
        rp_key_str(&keys[i], rows[i].s);
        rp_key_u32(&keys[i], rows[i].n);
        assert_int_equal(keys[i].len, strlen(rows[i].s) + 1 + 4);
        assert_int_equal(keys[i].b[strlen(rows[i].s)], 0);
    }
    s_assert_ascending(keys, N_OF(rows));
    s_assert_lmdb_order(fx->store, keys, N_OF(rows));

    /* NULL is the empty string. */
    rp_key_t a, b;
    rp_key_init(&a);
    rp_key_str(&a, NULL);
    rp_key_init(&b);
    rp_key_str(&b, "");
    assert_int_equal(a.len, 1);
    assert_int_equal(s_cmp(&a, &b), 0);

    /* strpfx has no NUL: it is a prefix of every key whose string starts with it,
     * while str is a prefix of the exact string only. */
    static const struct {
        const char *prefix;
        bool with_nul;
        const char *s;
        bool want_prefix;
    } pfx[] = {
        { "ab", false, "ab", true }, { "ab", false, "abc", true }, { "ab", false, "a", false },
        { "ab", true, "ab", true }, { "ab", true, "abc", false }, { "", false, "x", true },
    };
    for (size_t i = 0; i < N_OF(pfx); i++) {
        rp_key_t p, k;
        rp_key_init(&p);
        if (pfx[i].with_nul)
            rp_key_str(&p, pfx[i].prefix);
        else
            rp_key_strpfx(&p, pfx[i].prefix);
        rp_key_init(&k);
        rp_key_str(&k, pfx[i].s);
        rp_key_u32(&k, 1);
        bool got = p.len <= k.len && memcmp(p.b, k.b, p.len) == 0;
        assert_int_equal(got, pfx[i].want_prefix);
    }

    /* ULIDs go in as their 16 bytes. */
    rp_ulid_t u;
    for (int i = 0; i < RP_ULID_LEN; i++)
        u.b[i] = (uint8_t)(i * 17);
    rp_key_t k;
    rp_key_init(&k);
    rp_key_u8(&k, 9);
    rp_key_ulid(&k, &u);
    assert_int_equal(k.len, 1 + RP_ULID_LEN);
    assert_memory_equal(k.b + 1, u.b, RP_ULID_LEN);
}

static void test_key_overflow(void **state)
{
    (void)state;
    static char big[RP_KEY_MAX + 2];
    memset(big, 'k', sizeof big - 1);

    static const struct {
        const char *name;
        size_t first;            /* bytes appended first */
        int then;                /* 0 none, 1 u32, 2 u64, 3 str(big[0..str_len)), 4 u8 */
        size_t str_len;
        bool want_overflow;
        size_t want_len;
    } cases[] = {
        { "exactly the max", RP_KEY_MAX, 0, 0, false, RP_KEY_MAX },
        { "one past the max", RP_KEY_MAX + 1, 0, 0, true, 0 },
        { "u32 fits exactly", RP_KEY_MAX - 4, 1, 0, false, RP_KEY_MAX },
        { "u32 one short", RP_KEY_MAX - 3, 1, 0, true, RP_KEY_MAX - 3 },
        { "u64 one short", RP_KEY_MAX - 7, 2, 0, true, RP_KEY_MAX - 7 },
        { "u8 at the max", RP_KEY_MAX, 4, 0, true, RP_KEY_MAX },
        { "string and NUL fit", 0, 3, RP_KEY_MAX - 1, false, RP_KEY_MAX },
        { "string fits, NUL does not", 0, 3, RP_KEY_MAX, true, 0 },
        { "small string after a full key", RP_KEY_MAX, 3, 0, true, RP_KEY_MAX },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        rp_key_t k;
        memset(&k, 0xee, sizeof k);     /* init must reset everything */
        rp_key_init(&k);
        assert_int_equal(k.len, 0);
        assert_false(k.overflow);
        rp_key_bytes(&k, big, cases[i].first);
        char s[RP_KEY_MAX + 2];
        switch (cases[i].then) {
        case 1: rp_key_u32(&k, 1); break;
        case 2: rp_key_u64(&k, 1); break;
        case 3:
            memcpy(s, big, cases[i].str_len);
            s[cases[i].str_len] = 0;
            rp_key_str(&k, s);
            break;
        case 4: rp_key_u8(&k, 1); break;
        default: break;
        }
        if (k.overflow != cases[i].want_overflow || k.len != cases[i].want_len)
            fail_msg("case %s: overflow %d len %zu, want %d %zu", cases[i].name, k.overflow,
                     k.len, cases[i].want_overflow, cases[i].want_len);
        /* Once overflowed, a key stays overflowed, even for appends that would fit. */
        if (k.overflow) {
            size_t len = k.len;
            rp_key_u8(&k, 1);
            rp_key_bytes(&k, "", 0);
            assert_true(k.overflow);
            assert_int_equal(k.len, len);
        }
    }
}

/* ---- paginated range scans ---- */

/* The scan table holds (g u32, n u32) keys: g1 n=1..10, g2 n=1..5, g4 n=1..3,
 * g9 n=1..150. A row is named g*1000+n. */
static const struct { uint32_t g, count; } s_groups[] = { { 1, 10 }, { 2, 5 }, { 4, 3 }, { 9, 150 } };

typedef struct {
    int filter;                  /* F_* */
    int got[400];
    size_t n_got;
    size_t calls;
} scan_t;

enum { F_ALL, F_EVEN, F_FIVES, F_NONE, F_ABORT3 };

static int s_scan_fn(void *arg, const MDB_val *key, const MDB_val *val)
{
    scan_t *s = arg;
    assert_int_equal(key->mv_size, 8);
    assert_int_equal(val->mv_size, 4);
    const uint8_t *b = key->mv_data;
    uint32_t g = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    uint32_t n = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
    assert_memory_equal(val->mv_data, b + 4, 4);
    s->calls++;
    bool keep;
    switch (s->filter) {
    case F_EVEN: keep = n % 2 == 0; break;
    case F_FIVES: keep = n % 5 == 0; break;
    case F_NONE: keep = false; break;
    case F_ABORT3: if (n == 3) return -1; keep = true; break;
    default: keep = true; break;
    }
    if (!keep)
        return 0;
    assert_true(s->n_got < N_OF(s->got));
    s->got[s->n_got++] = (int)(g * 1000 + n);
    return 1;
}

static MDB_dbi s_fill_scan_table(rp_store_t *st)
{
    MDB_dbi dbi = rp_store_dbi(st, "clients");
    MDB_txn *txn = rp_test_txn(st, NULL, 0);
    for (size_t i = 0; i < N_OF(s_groups); i++)
        for (uint32_t n = 1; n <= s_groups[i].count; n++) {
            rp_key_t k;
            rp_key_init(&k);
            rp_key_u32(&k, s_groups[i].g);
            rp_key_u32(&k, n);
            MDB_val kv = rp_key_val(&k), v = { 4, k.b + 4 };
            assert_int_equal(mdb_put(txn, dbi, &kv, &v, 0), 0);
        }
    assert_int_equal(mdb_txn_commit(txn), 0);
    return dbi;
}

typedef struct {
    int parts;                   /* 0: empty key, 1: g, 2: g and n */
    uint32_t g, n;
} kspec_t;

static void s_kspec(const kspec_t *ks, rp_key_t *k)
{
    rp_key_init(k);
    if (ks->parts >= 1)
        rp_key_u32(k, ks->g);
    if (ks->parts >= 2)
        rp_key_u32(k, ks->n);
}

static char *s_token_for(uint32_t g, uint32_t n)
{
    rp_key_t k;
    rp_key_init(&k);
    rp_key_u32(&k, g);
    rp_key_u32(&k, n);
    return rp_page_token(k.b, k.len);
}

static void test_page_scan_cases(void **state)
{
    fx_t *fx = *state;
    fx->store = rp_store_open(fx->dir, s_tables, NULL, 0);
    assert_non_null(fx->store);
    MDB_dbi dbi = s_fill_scan_table(fx->store);

    static const struct {
        const char *name;
        kspec_t lo;
        bool has_hi;
        kspec_t hi;
        uint32_t limit, budget;
        int filter;
        uint32_t after_g, after_n;   /* page token: after this key (0 = none) */
        int want_rc;
        int want[12];                /* 0-terminated */
        size_t want_calls;
        bool want_token;
    } cases[] = {
        { "prefix, all rows", { 1, 1, 0 }, false, { 0 }, 100, 0, F_ALL, 0, 0,
          0, { 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010 }, 10, false },
        { "prefix of another group", { 1, 2, 0 }, false, { 0 }, 100, 0, F_ALL, 0, 0,
          0, { 2001, 2002, 2003, 2004, 2005 }, 5, false },
        { "prefix of a full key", { 2, 2, 3 }, false, { 0 }, 100, 0, F_ALL, 0, 0,
          0, { 2003 }, 1, false },
        { "empty prefix range", { 1, 3, 0 }, false, { 0 }, 100, 0, F_ALL, 0, 0,
          0, { 0 }, 0, false },
        { "prefix past the last key", { 1, 10, 0 }, false, { 0 }, 100, 0, F_ALL, 0, 0,
          0, { 0 }, 0, false },
        { "explicit [lo,hi)", { 2, 1, 3 }, true, { 2, 1, 7 }, 100, 0, F_ALL, 0, 0,
          0, { 1003, 1004, 1005, 1006 }, 4, false },
        { "explicit range across groups", { 2, 1, 9 }, true, { 2, 4, 2 }, 100, 0, F_ALL, 0, 0,
          0, { 1009, 1010, 2001, 2002, 2003, 2004, 2005, 4001 }, 8, false },
        { "explicit range with group bounds", { 1, 2, 0 }, true, { 1, 4, 0 }, 100, 0, F_ALL, 0, 0,
          0, { 2001, 2002, 2003, 2004, 2005 }, 5, false },
        { "explicit empty range", { 2, 1, 11 }, true, { 2, 2, 1 }, 100, 0, F_ALL, 0, 0,
          0, { 0 }, 0, false },
        { "explicit range lo == hi", { 2, 1, 3 }, true, { 2, 1, 3 }, 100, 0, F_ALL, 0, 0,
          0, { 0 }, 0, false },
        { "limit leaves rows: token", { 1, 1, 0 }, false, { 0 }, 4, 0, F_ALL, 0, 0,
          0, { 1001, 1002, 1003, 1004 }, 4, true },
        { "limit exactly the rows: no token", { 1, 1, 0 }, false, { 0 }, 10, 0, F_ALL, 0, 0,
          0, { 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010 }, 10, false },
        { "limit exactly the rows of [lo,hi)", { 2, 1, 3 }, true, { 2, 1, 7 }, 4, 0, F_ALL, 0, 0,
          0, { 1003, 1004, 1005, 1006 }, 4, false },
        { "filter skips rows", { 1, 1, 0 }, false, { 0 }, 100, 0, F_EVEN, 0, 0,
          0, { 1002, 1004, 1006, 1008, 1010 }, 10, false },
        { "filter and limit", { 1, 1, 0 }, false, { 0 }, 3, 0, F_EVEN, 0, 0,
          0, { 1002, 1004, 1006 }, 6, true },
        { "budget runs out first", { 1, 1, 0 }, false, { 0 }, 10, 3, F_FIVES, 0, 0,
          0, { 0 }, 3, true },
        { "budget runs out after a match", { 1, 1, 0 }, false, { 0 }, 10, 6, F_FIVES, 0, 0,
          0, { 1005 }, 6, true },
        { "budget equals the rows left", { 1, 1, 0 }, false, { 0 }, 10, 10, F_FIVES, 0, 0,
          0, { 1005, 1010 }, 10, false },
        { "default budget is 100 * limit", { 1, 9, 0 }, false, { 0 }, 1, 0, F_NONE, 0, 0,
          0, { 0 }, 100, true },
        { "token continues after its key", { 1, 1, 0 }, false, { 0 }, 3, 0, F_ALL, 1, 4,
          0, { 1005, 1006, 1007 }, 3, true },
        { "token at the last key: nothing left", { 1, 1, 0 }, false, { 0 }, 3, 0, F_ALL, 1, 10,
          0, { 0 }, 0, false },
        { "token in [lo,hi)", { 2, 1, 3 }, true, { 2, 2, 2 }, 100, 0, F_ALL, 1, 9,
          0, { 1010, 2001 }, 2, false },
        { "token of a deleted key", { 1, 1, 0 }, false, { 0 }, 2, 0, F_ALL, 1, 0,
          0, { 1001, 1002 }, 2, true },
        { "all keys (empty lo)", { 0, 0, 0 }, false, { 0 }, 11, 0, F_ALL, 0, 0,
          0, { 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 2001 }, 11, true },
        { "fn aborts", { 1, 1, 0 }, false, { 0 }, 100, 0, F_ABORT3, 0, 0,
          -1, { 1001, 1002 }, 3, false },
        { "token from another prefix", { 1, 2, 0 }, false, { 0 }, 100, 0, F_ALL, 1, 3,
          -2, { 0 }, 0, false },
        { "token below [lo,hi)", { 2, 1, 6 }, true, { 2, 1, 9 }, 100, 0, F_ALL, 1, 5,
          -2, { 0 }, 0, false },
        { "token at hi of [lo,hi)", { 2, 1, 1 }, true, { 2, 1, 5 }, 100, 0, F_ALL, 1, 5,
          -2, { 0 }, 0, false },
        { "token above [lo,hi)", { 2, 1, 1 }, true, { 2, 1, 5 }, 100, 0, F_ALL, 2, 1,
          -2, { 0 }, 0, false },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        rp_key_t lo, hi;
        s_kspec(&cases[i].lo, &lo);
        s_kspec(&cases[i].hi, &hi);
        char *token = cases[i].after_g ? s_token_for(cases[i].after_g, cases[i].after_n) : NULL;
        scan_t s = { .filter = cases[i].filter };
        char *next = (char *)"untouched";
        MDB_txn *txn = rp_test_txn(fx->store, NULL, MDB_RDONLY);
        int rc = rp_page_scan(txn, dbi, &lo, cases[i].has_hi ? &hi : NULL, token, cases[i].limit,
                          cases[i].budget, s_scan_fn, &s, &next);
        mdb_txn_abort(txn);
        size_t want_n = 0;
        while (want_n < N_OF(cases[i].want) && cases[i].want[want_n])
            want_n++;
        if (rc != cases[i].want_rc || s.n_got != want_n || s.calls != cases[i].want_calls
            || (next != NULL) != cases[i].want_token)
            fail_msg("case %s: rc %d rows %zu calls %zu token %s; want %d %zu %zu %s",
                     cases[i].name, rc, s.n_got, s.calls, next ? next : "(none)",
                     cases[i].want_rc, want_n, cases[i].want_calls,
                     cases[i].want_token ? "yes" : "no");
        for (size_t j = 0; j < want_n; j++)
            if (s.got[j] != cases[i].want[j])
                fail_msg("case %s: row %zu is %d, want %d", cases[i].name, j, s.got[j],
                         cases[i].want[j]);
        free(next);
        free(token);
    }
}

static void test_page_scan_follow_tokens(void **state)
{
    fx_t *fx = *state;
    fx->store = rp_store_open(fx->dir, s_tables, NULL, 0);
    assert_non_null(fx->store);
    MDB_dbi dbi = s_fill_scan_table(fx->store);

    static const struct {
        const char *name;
        kspec_t lo;
        bool has_hi;
        kspec_t hi;
        uint32_t limit, budget;
        int filter;
        size_t want_rows;
    } cases[] = {
        { "prefix, pages of 3", { 1, 1, 0 }, false, { 0 }, 3, 0, F_ALL, 10 },
        { "prefix, pages of 1", { 1, 1, 0 }, false, { 0 }, 1, 0, F_ALL, 10 },
        { "prefix, pages of 5 (exact)", { 1, 1, 0 }, false, { 0 }, 5, 0, F_ALL, 10 },
        { "range across groups", { 2, 1, 4 }, true, { 2, 9, 20 }, 4, 0, F_ALL, 7 + 5 + 3 + 19 },
        { "filtered", { 1, 1, 0 }, false, { 0 }, 2, 0, F_EVEN, 5 },
        { "filtered with a small budget", { 1, 9, 0 }, false, { 0 }, 4, 7, F_FIVES, 30 },
        { "nothing kept, budget pages", { 1, 9, 0 }, false, { 0 }, 1, 0, F_NONE, 0 },
        { "whole table", { 0, 0, 0 }, false, { 0 }, 16, 0, F_ALL, 10 + 5 + 3 + 150 },
        { "empty range", { 1, 3, 0 }, false, { 0 }, 2, 0, F_ALL, 0 },
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        rp_key_t lo, hi;
        s_kspec(&cases[i].lo, &lo);
        s_kspec(&cases[i].hi, &hi);
        const rp_key_t *hip = cases[i].has_hi ? &hi : NULL;

        /* The truth: one scan with no limit worth speaking of. */
        scan_t all = { .filter = cases[i].filter };
        char *next = NULL;
        MDB_txn *txn = rp_test_txn(fx->store, NULL, MDB_RDONLY);
        assert_int_equal(rp_page_scan(txn, dbi, &lo, hip, NULL, 1000, 100000, s_scan_fn, &all,
                                      &next), 0);
        assert_null(next);
        assert_int_equal(all.n_got, cases[i].want_rows);

        /* Page by page. */
        scan_t paged = { .filter = cases[i].filter };
        char *token = NULL;
        size_t pages = 0;
        do {
            size_t before = paged.n_got;
            char *tok = NULL;
            int rc = rp_page_scan(txn, dbi, &lo, hip, token, cases[i].limit, cases[i].budget,
                                  s_scan_fn, &paged, &tok);
            if (rc != 0)
                fail_msg("case %s: page %zu: rc %d", cases[i].name, pages, rc);
            assert_true(paged.n_got - before <= cases[i].limit);
            free(token);
            token = tok;
            pages++;
            if (pages > 1000)
                fail_msg("case %s: tokens do not end", cases[i].name);
        } while (token);
        mdb_txn_abort(txn);
        if (paged.n_got != all.n_got)
            fail_msg("case %s: %zu rows over %zu pages, want %zu", cases[i].name, paged.n_got,
                     pages, all.n_got);
        for (size_t j = 0; j < all.n_got; j++)
            if (paged.got[j] != all.got[j])
                fail_msg("case %s: row %zu is %d, want %d", cases[i].name, j, paged.got[j],
                         all.got[j]);
        /* Every row was examined exactly once across the pages. */
        assert_int_equal(paged.calls, all.calls);
    }
}

static void test_page_scan_bad_tokens(void **state)
{
    fx_t *fx = *state;
    fx->store = rp_store_open(fx->dir, s_tables, NULL, 0);
    assert_non_null(fx->store);
    MDB_dbi dbi = s_fill_scan_table(fx->store);

    char huge[800];                  /* decodes to more than any LMDB key */
    memset(huge, 'A', sizeof huge - 1);
    huge[sizeof huge - 1] = 0;
    static const struct {
        const char *name;
        const char *token;
    } cases[] = {
        { "not base64url", "!!!!" },
        { "standard base64 alphabet", "AAAAAQ+/AAAB" },
        { "padding", "AAAAAQ==" },
        { "one character", "A" },
        { "non-canonical tail bits", "AAAAAQAAAAF" },
        { "spaces", "AAAA AQAA" },
        { "too long", NULL },
        { "a prefix of the range only", "AAAA" },     /* 3 zero bytes: not in g1 */
        { "a key in the range, not sealed", "AAAAAQAAAAQ" },  /* u32 1, u32 4 in clear */
        { "a sealed token, one byte changed", "" },   /* filled below */
    };
    /* A real token with its last character changed: the seal must refuse it. */
    char *real = s_token_for(1, 4), tampered[1024];
    rp_strlcpy(tampered, real, sizeof tampered);
    size_t tl = strlen(tampered);
    tampered[tl - 2] = tampered[tl - 2] == 'A' ? 'B' : 'A';
    free(real);
    rp_key_t lo;
    rp_key_init(&lo);
    rp_key_u32(&lo, 1);
    MDB_txn *txn = rp_test_txn(fx->store, NULL, MDB_RDONLY);
    for (size_t i = 0; i < N_OF(cases); i++) {
        scan_t s = { .filter = F_ALL };
        char *next = (char *)"untouched";
        const char *tok = !cases[i].token ? huge : cases[i].token[0] ? cases[i].token : tampered;
        int rc = rp_page_scan(txn, dbi, &lo, NULL, tok, 10, 0, s_scan_fn, &s, &next);
        if (rc != -2)
            fail_msg("case %s: rc %d, want -2", cases[i].name, rc);
        assert_null(next);
        assert_int_equal(s.calls, 0);
    }
    /* An empty token is the first page. */
    scan_t s = { .filter = F_ALL };
    char *next = NULL;
    assert_int_equal(rp_page_scan(txn, dbi, &lo, NULL, "", 100, 0, s_scan_fn, &s, &next), 0);
    assert_int_equal(s.n_got, 10);
    assert_null(next);
    mdb_txn_abort(txn);
}

/* rp_pb_string_field reads one string of packed bytes as unpacking would. */
static void test_pb_string_field(void **state)
{
    (void)state;
    Rapport__Sys__V1__AuditRecord r = RAPPORT__SYS__V1__AUDIT_RECORD__INIT;
    r.seq = 300;
    r.time = -5;
    r.actor = (char *)"u-alice";
    r.subject = (char *)"";
    r.method = (char *)"rapport.leads.v1.Leads/Get";
    uint8_t d[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    r.digest.data = d;
    r.digest.len = sizeof d;
    uint8_t a[256], b[256], two[512];
    size_t alen = rapport__sys__v1__audit_record__pack(&r, a);
    r.actor = (char *)"u-bob";
    size_t blen = rapport__sys__v1__audit_record__pack(&r, b);
    memcpy(two, a, alen);
    memcpy(two + alen, b, blen);      /* concatenation: the later value wins */

    static const struct {
        const char *name;
        int input;              /* 0: a, 1: a+b, 2: a truncated by one byte, 3: garbage */
        uint32_t field;
        int want_rc;
        const char *want;
    } rows[] = {
        { "actor", 0, 3, 0, "u-alice" },
        { "method", 0, 5, 0, "rapport.leads.v1.Leads/Get" },
        { "absent string", 0, 6, 0, "" },
        { "empty proto3 string (not packed)", 0, 7, 0, "" },
        { "bytes field", 0, 8, 0, "\x01\x02\x03\x04\x05\x06\x07\x08" },
        { "last occurrence wins", 1, 3, 0, "u-bob" },
        { "varint field asked as a string", 0, 1, -1, NULL },
        { "truncated", 2, 3, -1, NULL },
        { "garbage", 3, 3, -1, NULL },
        { "unknown field number", 0, 99, 0, "" },
    };
    static const uint8_t garbage[] = { 0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x' };
    for (size_t t = 0; t < N_OF(rows); t++) {
        const uint8_t *in = rows[t].input == 1 ? two : rows[t].input == 3 ? garbage : a;
        size_t len = rows[t].input == 1 ? alen + blen : rows[t].input == 2 ? alen - 1
                   : rows[t].input == 3 ? sizeof garbage : alen;
        const char *out = NULL;
        size_t out_len = 0;
        int rc = rp_pb_string_field(in, len, rows[t].field, &out, &out_len);
        if (rc != rows[t].want_rc)
            fail_msg("%s: rc %d, want %d", rows[t].name, rc, rows[t].want_rc);
        if (rc == 0) {
            if (out_len != strlen(rows[t].want) || memcmp(out, rows[t].want, out_len) != 0)
                fail_msg("%s: got \"%.*s\", want \"%s\"", rows[t].name, (int)out_len, out, rows[t].want);
        }
    }
}

int main(void)
{
    rp_log_set_level(RP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_tables, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_open_rejects_bad_declarations, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_migrations_run_in_order, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_migrations_reopen_runs_only_new, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_migration_failure_aborts_open, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_map_growth, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_msg_round_trip, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_msg_missing_and_garbage, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_key_numeric_order, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_key_string_order, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_key_overflow, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_page_scan_cases, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_page_scan_follow_tokens, s_setup, rp_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_page_scan_bad_tokens, s_setup, rp_test_store_teardown),
        cmocka_unit_test(test_pb_string_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
