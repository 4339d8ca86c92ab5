/* test_contracts_integrity.c - what must hold whatever happens:
 *   numbers_gapless_kill9  Drafts pipelined from a branch of its own while
 *                          rapport-contracts is killed with SIGKILL, three times;
 *                          unanswered requests are retried with their ids. The
 *                          branch's numbers are then exactly 1..N, no gap and no
 *                          duplicate, N = the number of distinct requests.
 *   signature              a signed contract verifies (through Verify, and here with
 *                          libsodium against SigningKey's public key); after one byte
 *                          of its special terms is changed in the LMDB file (service
 *                          stopped) Verify says it is not the contract that was signed.
 *   numbers_migration      counters of the old format (keyed by the branch as tokens
 *                          spelled it: "hq", "Hq") are folded by migration 2 into the
 *                          branch code's, keeping the largest; numbering goes on after it.
 *   number_taken           a counter behind the stored numbers makes Draft fail with
 *                          INTERNAL and write nothing, rather than hand out a duplicate.
 */
#define _GNU_SOURCE
#include "test_contracts.h"
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <czmq.h>
#include <sodium.h>

#define WINDOW 32
#define CYCLES 3
#define MAX_REQS 60000

typedef struct {
    char id[RP_ULID_STRLEN + 1];
    char number[32];            /* from the OK reply */
} req_t;

static struct {
    req_t *reqs;
    size_t n;
    zhashx_t *by_id;
    char *tok;                  /* a manager of branch gx */
    tc_terms_t x;
} G;

static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static req_t *s_new_req(void)
{
    assert_true(G.n < MAX_REQS);
    req_t *r = &G.reqs[G.n++];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rp_ulid_new_str((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, r->id);
    r->number[0] = '\0';
    zhashx_insert(G.by_id, r->id, r);
    return r;
}

static int s_send(rp_client_t *c, const req_t *r)
{
    Rapport__Contracts__V1__DraftRequest rq = RAPPORT__CONTRACTS__V1__DRAFT_REQUEST__INIT;
    rq.terms = &G.x.t;          /* the same body for every id: the same on retry */
    return rp_client_send(c, r->id, CM("Draft"), &rq.base, NULL);
}

static void s_take(Rapport__V1__Reply *reply)
{
    req_t *r = zhashx_lookup(G.by_id, reply->id ? reply->id : "");
    assert_non_null(r);
    rp_call_status_t st;
    memset(&st, 0, sizeof st);
    rp_status_from_reply(reply, &st);
    if (st.code != RP_OK)
        fail_msg("Draft: %s %s", rp_code_name(st.code), st.message);
    TContract *c = rapport__contracts__v1__contract__unpack(NULL, reply->body.len, reply->body.data);
    assert_non_null(c);
    if (r->number[0])
        assert_string_equal(r->number, c->number);
    rp_strlcpy(r->number, c->number, sizeof r->number);
    tc_free(c);
}

static void s_drain(rp_client_t *c, int in_flight)
{
    while (in_flight > 0) {
        Rapport__V1__Reply *reply = NULL;
        if (rp_client_recv(c, 10000, &reply) != 0)
            fail_msg("no reply within 10 s, %d in flight", in_flight);
        s_take(reply);
        rapport__v1__reply__free_unpacked(reply, NULL);
        in_flight--;
    }
}

static void test_numbers_gapless_kill9(void **state)
{
    (void)state;
    G.reqs = rp_calloc(MAX_REQS, sizeof *G.reqs);
    G.by_id = zhashx_new();
    G.tok = rp_suite_token_limits(TC.suite, "u-gina", "manager", "gx", "/gx/sales", NULL, 3600, 1000000, 0);
    tc_terms(&G.x, 250000, 2, tc_today(), 365);
    for (int cycle = 0; cycle < CYCLES; cycle++) {
        rp_client_t *c = rp_suite_client(TC.suite, "contracts", G.tok);
        int in_flight = 0;
        int64_t until = s_mono_ms() + 700;
        /* 700 ms of writes, but never past this cycle's share of G.reqs: a quiet
         * machine drafts more than one expects. */
        size_t cap = (size_t)(cycle + 1) * (MAX_REQS / CYCLES) - WINDOW - 64;
        while (s_mono_ms() < until && G.n < cap) {
            while (in_flight < WINDOW) {
                assert_int_equal(s_send(c, s_new_req()), 0);
                in_flight++;
            }
            Rapport__V1__Reply *reply = NULL;
            if (rp_client_recv(c, 10000, &reply) != 0)
                fail_msg("cycle %d: no reply", cycle);
            s_take(reply);
            rapport__v1__reply__free_unpacked(reply, NULL);
            in_flight--;
        }
        for (int i = 0; i < 64; i++)
            assert_int_equal(s_send(c, s_new_req()), 0);
        int status = rp_suite_kill(TC.suite, "contracts", SIGKILL);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        rp_client_destroy(&c);
        rp_suite_start_following(TC.suite, "contracts", "leads", TC_ENV);
        /* retry every unanswered request with its id and body */
        c = rp_suite_client(TC.suite, "contracts", G.tok);
        in_flight = 0;
        for (size_t i = 0; i < G.n; i++) {
            if (G.reqs[i].number[0])
                continue;
            assert_int_equal(s_send(c, &G.reqs[i]), 0);
            if (++in_flight == WINDOW) {
                s_drain(c, in_flight);
                in_flight = 0;
            }
        }
        s_drain(c, in_flight);
        rp_client_destroy(&c);
    }
    tc_clients();
    /* numbers GX-<year>-000001 .. N, each once, N = requests */
    char *seen = rp_calloc(G.n + 1, 1);
    for (size_t i = 0; i < G.n; i++) {
        const char *num = G.reqs[i].number;
        assert_true(strncmp(num, "GX-", 3) == 0);
        unsigned long seq = strtoul(num + 8, NULL, 10);
        if (seq < 1 || seq > G.n)
            fail_msg("number %s out of 1..%zu", num, G.n);
        if (seen[seq])
            fail_msg("number %s given twice", num);
        seen[seq] = 1;
    }
    /* and every one of them is there */
    TContract *c = NULL;
    char last[32];
    snprintf(last, sizeof last, "GX-%.4s-%06zu", G.reqs[0].number + 3, G.n);
    Rapport__Contracts__V1__GetRequest g = RAPPORT__CONTRACTS__V1__GET_REQUEST__INIT;
    g.id = last;
    rp_client_t *cl = rp_suite_client(TC.suite, "contracts", G.tok);
    tc_expect(tc_call_on(cl, CM("Get"), &g, &rapport__contracts__v1__contract__descriptor, &c), RP_OK);
    tc_free(c);
    snprintf(last, sizeof last, "GX-%.4s-%06zu", G.reqs[0].number + 3, G.n + 1);
    tc_expect(tc_call_on(cl, CM("Get"), &g, NULL, NULL), RP_NOT_FOUND);
    rp_client_destroy(&cl);
    print_message("numbers: %zu drafts across %d kill -9, numbers 1..%zu without a gap\n", G.n, CYCLES, G.n);
    free(seen);
    free(G.reqs);
    zhashx_destroy(&G.by_id);
    free(G.tok);
}

static void test_signature(void **state)
{
    (void)state;
    TContract *c = tc_signed(700000, 0, 365, P_ANNA);
    Rapport__Contracts__V1__GetRequest g = RAPPORT__CONTRACTS__V1__GET_REQUEST__INIT;
    g.id = c->number;
    Rapport__Contracts__V1__VerifyReply *v = NULL;
    tc_expect(tc_call(P_FIN, CM("Verify"), &g, &rapport__contracts__v1__verify_reply__descriptor, &v), RP_OK);
    assert_true(v->valid);
    assert_string_equal(v->content_hash, c->signature->content_hash);
    assert_string_equal(v->stored_hash, c->signature->content_hash);
    tc_free(v);

    /* the published key verifies the stored signature here too */
    Rapport__Contracts__V1__SigningKeyRequest kr = RAPPORT__CONTRACTS__V1__SIGNING_KEY_REQUEST__INIT;
    Rapport__Contracts__V1__SigningKeyReply *k = NULL;
    tc_expect(tc_call(P_ANNA, CM("SigningKey"), &kr, &rapport__contracts__v1__signing_key_reply__descriptor, &k),
              RP_OK);
    assert_string_equal(k->key_id, c->signature->key_id);
    unsigned char pk[32], h[32], sig[64];
    assert_int_equal(rp_hex_decode(k->public_key, pk, sizeof pk), 32);
    assert_int_equal(rp_hex_decode(c->signature->content_hash, h, sizeof h), 32);
    assert_int_equal(rp_hex_decode(c->signature->signature, sig, sizeof sig), 64);
    assert_int_equal(crypto_sign_verify_detached(sig, h, sizeof h, pk), 0);
    tc_free(k);
    /* the key file is the owner's only */
    char *key = rp_sprintf("%s/keys/company-sign.key", rp_suite_dir(TC.suite));
    struct stat sb;
    assert_int_equal(stat(key, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    free(key);

    /* a draft is not signed */
    tc_terms_t x;
    tc_terms(&x, 1000, 1, tc_today(), 30);
    TContract *d = NULL;
    tc_expect(tc_draft(P_ANNA, &x, &d), RP_OK);
    g.id = d->id;
    tc_expect(tc_call(P_ANNA, CM("Verify"), &g, NULL, NULL), RP_FAILED_PRECONDITION);
    tc_free(d);

    /* one byte changed while the service is stopped */
    assert_int_equal(rp_suite_kill(TC.suite, "contracts", SIGTERM), 0);
    tc_tamper(c->id, "Volume bonus of 2 %", 16, '9');     /* "of 2 %" becomes "of 9 %" */
    rp_suite_start_following(TC.suite, "contracts", "leads", TC_ENV);
    tc_clients();
    g.id = c->number;
    tc_expect(tc_call(P_FIN, CM("Verify"), &g, &rapport__contracts__v1__verify_reply__descriptor, &v), RP_OK);
    assert_false(v->valid);
    assert_non_null(strstr(v->reason, "differs from what was signed"));
    assert_string_not_equal(v->content_hash, v->stored_hash);
    tc_free(v);
    TContract *t = NULL;
    tc_expect(tc_get(P_ANNA, c->id, &t), RP_OK);
    assert_string_equal(t->terms->special_terms, "Volume bonus of 9 % above 1000 units.");
    tc_free(t);
    tc_free(c);
}

/* ---- the numbers table, edited and read straight in the LMDB (service stopped) ---- */

typedef struct {
    const char *branch;         /* as stored in the key */
    int32_t year;
    uint64_t last;              /* 0: delete the key */
} counter_t;

static rp_store_t *s_open(void)
{
    static const rp_table_t tables[] = { { "numbers", 0 }, { NULL, 0 } };
    return tc_store_open(tables);
}

static MDB_val s_counter_key(rp_key_t *k, const char *branch, int32_t year)
{
    rp_key_init(k);
    rp_key_str(k, branch);
    rp_key_u32(k, (uint32_t)year);
    return rp_key_val(k);
}

/* s_counters_set - write (or delete) counters; schema > 0 also sets the schema version. */
static void s_counters_set(const counter_t *set, size_t n, uint32_t schema)
{
    rp_store_t *st = s_open();
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(rp_store_env(st), NULL, 0, &txn), 0);
    MDB_dbi dbi = rp_store_dbi(st, "numbers");
    for (size_t i = 0; i < n; i++) {
        rp_key_t k;
        MDB_val key = s_counter_key(&k, set[i].branch, set[i].year);
        if (set[i].last == 0) {
            int rc = mdb_del(txn, dbi, &key, NULL);
            assert_true(rc == 0 || rc == MDB_NOTFOUND);
            continue;
        }
        uint8_t be[8];
        rp_u64_be(set[i].last, be);
        MDB_val v = { 8, be };
        assert_int_equal(mdb_put(txn, dbi, &key, &v, 0), 0);
    }
    if (schema) {
        uint8_t be[4] = { schema >> 24, schema >> 16, schema >> 8, schema };
        MDB_val key = { strlen("schema_version"), (void *)"schema_version" }, v = { 4, be };
        assert_int_equal(mdb_put(txn, rp_store_dbi(st, "meta"), &key, &v, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    rp_store_destroy(&st);
}

/* s_counters_check - each counter of want holds its value (0: absent), and no
 * counter is keyed by a branch with a lower-case letter. */
static void s_counters_check(const counter_t *want, size_t n)
{
    rp_store_t *st = s_open();
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(rp_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    MDB_dbi dbi = rp_store_dbi(st, "numbers");
    for (size_t i = 0; i < n; i++) {
        rp_key_t k;
        MDB_val key = s_counter_key(&k, want[i].branch, want[i].year), v;
        int rc = mdb_get(txn, dbi, &key, &v);
        uint64_t got = rc == 0 && v.mv_size == 8 ? rp_be_u64(v.mv_data) : 0;
        assert_true(rc == 0 || rc == MDB_NOTFOUND);
        if (got != want[i].last)
            fail_msg("counter %s/%d: %llu, want %llu", want[i].branch, (int)want[i].year,
                     (unsigned long long)got, (unsigned long long)want[i].last);
    }
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        for (size_t i = 0; i < k.mv_size && ((const char *)k.mv_data)[i]; i++)
            if (((const char *)k.mv_data)[i] >= 'a' && ((const char *)k.mv_data)[i] <= 'z')
                fail_msg("a counter keyed by %.*s is left", (int)strnlen(k.mv_data, k.mv_size),
                         (const char *)k.mv_data);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    rp_store_destroy(&st);
}

static void s_stop(void)
{
    assert_int_equal(rp_suite_kill(TC.suite, "contracts", SIGTERM), 0);
}

static void s_start(void)
{
    rp_suite_start_following(TC.suite, "contracts", "leads", TC_ENV);
    tc_clients();
}

/* s_draft - a draft by p; its seq (fails unless OK). */
static uint64_t s_draft(int p)
{
    tc_terms_t x;
    tc_terms(&x, 1000, 1, tc_today(), 30);
    TContract *c = NULL;
    tc_expect(tc_draft(p, &x, &c), RP_OK);
    uint64_t seq = c->seq;
    tc_free(c);
    return seq;
}

static void test_numbers_migration(void **state)
{
    (void)state;
    tc_terms_t x;
    tc_terms(&x, 1000, 1, tc_today(), 30);
    TContract *c = NULL;
    tc_expect(tc_draft(P_ANNA, &x, &c), RP_OK);
    uint64_t n = c->seq;
    int32_t y = c->year;
    tc_free(c);

    /* the old format: "hq" counted the numbers so far, "Hq" five more (numbers it
     * handed out as well), and last year's two spellings; schema version 1 */
    s_stop();
    const counter_t old[] = {
        { "HQ", y, 0 }, { "hq", y, n }, { "Hq", y, n + 5 }, { "hq", y - 1, 40 }, { "HQ", y - 1, 12 },
    };
    s_counters_set(old, sizeof old / sizeof old[0], 1);
    s_start();
    assert_int_equal(s_draft(P_ANNA), n + 6);
    assert_int_equal(s_draft(P_ANNA_HQ), n + 7);
    s_stop();
    const counter_t folded[] = { { "HQ", y, n + 7 }, { "HQ", y - 1, 40 }, { "hq", y, 0 }, { "Hq", y, 0 } };
    s_counters_check(folded, sizeof folded / sizeof folded[0]);
    s_start();
}

static void test_number_taken(void **state)
{
    (void)state;
    uint64_t n = s_draft(P_ANNA);
    TContract *c = NULL;
    tc_terms_t x;
    tc_terms(&x, 1000, 1, tc_today(), 30);
    tc_expect(tc_draft(P_ANNA, &x, &c), RP_OK);
    int32_t y = c->year;
    assert_int_equal(c->seq, n + 1);
    char *taken = rp_strdup(c->number);
    tc_free(c);

    /* the counter one behind: the next number is the one just handed out */
    s_stop();
    const counter_t behind[] = { { "HQ", y, n } };
    s_counters_set(behind, 1, 0);
    s_start();
    uint64_t seq0 = tc_last_seq();
    for (int i = 0; i < 2; i++) {       /* nothing written: the second try meets it again */
        tc_expect(tc_draft(P_ANNA, &x, NULL), RP_INTERNAL);
        assert_non_null(strstr(TC.st.message, taken));
        assert_non_null(strstr(TC.st.message, "taken already"));
    }
    assert_int_equal(tc_count(seq0, CEV("contract.drafted"), NULL), 0);
    TContract *g = NULL;
    tc_expect(tc_get(P_DORA, taken, &g), RP_OK);
    assert_int_equal(g->seq, n + 1);
    tc_free(g);
    s_stop();
    const counter_t kept[] = { { "HQ", y, n } };
    s_counters_check(kept, 1);
    const counter_t repaired[] = { { "HQ", y, n + 1 } };
    s_counters_set(repaired, 1, 0);
    s_start();
    assert_int_equal(s_draft(P_ANNA_HQ), n + 2);
    free(taken);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_gapless_kill9),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_numbers_migration),
        cmocka_unit_test(test_number_taken),
    };
    return cmocka_run_group_tests(tests, tc_setup, tc_teardown);
}
