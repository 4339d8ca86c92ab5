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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_gapless_kill9),
        cmocka_unit_test(test_signature),
    };
    return cmocka_run_group_tests(tests, tc_setup, tc_teardown);
}
