/* test_client_keys.c - CURVE client keys registered in identity reach every
 * service's ZAP handler, with no file copied to any host.
 *
 * A real rapport-identity and a real rapport-leads following identity's events.
 * Client key pairs are made outside the suite's allowlist (<suite>/ext):
 *  - an unknown key gets no answer from leads nor identity;
 *  - after RegisterKey (admin) identity lets it in at once and leads within 2 s,
 *    without a restart, and still after leads restarts;
 *  - after RevokeKey both refuse new connections with it (leads within 2 s), also
 *    after restarts of leads and of identity; another key registered meanwhile
 *    stays in;
 *  - bad input (not Z85, a key registered already, revoking an unknown or
 *    revoked key) and callers without identity.keys.write are refused, each
 *    writing nothing;
 *  - `rapport keys register --cert|--public-key`, `keys list`, `keys revoke`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <cmocka.h>
#include "harness_identity.h"
#include "rapport/clock.h"
#include "rapport/keys.h"
#include "rapport/status.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"

#define IM(m) "rapport.identity.v1.Identity/" m
#define RUN(s, token, input, ...) \
    rp_suite_cli((s), (token), (input), (const char *const[]) { __VA_ARGS__, NULL })

static rp_suite_t *S;
static const char *ADMIN;
static char EXT[1024];

static int s_setup(void **state)
{
    (void) state;
    S = rp_suite_new();
    rp_suite_start(S, "identity", NULL);
    rp_suite_start_following(S, "leads", "identity", NULL);
    ADMIN = rp_suite_admin_token(S);
    snprintf(EXT, sizeof EXT, "%s/ext", rp_suite_dir(S));
    assert_int_equal(rp_mkdir_p(EXT, 0700), 0);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    rp_suite_destroy(&S);
    return 0;
}

/* s_keypair - a client key pair in EXT (not allowlisted); its public key into z85. */
static void s_keypair(const char *name, char z85[41])
{
    assert_int_equal(rp_keys_ensure_curve(EXT, name, false), 0);
    assert_int_equal(rp_curve_public_load(EXT, name, z85), 0);
}

/* s_served - a new connection to svc with the key pair name gets an answer. */
static bool s_served(const char *svc, const char *name)
{
    rp_curve_t *me = rp_curve_load(EXT, name);
    assert_non_null(me);
    rp_client_t *c = rp_client_new(rp_suite_rpc(S, svc), rp_suite_server_key(S, svc), me, ADMIN);
    rp_curve_destroy(&me);
    assert_non_null(c);
    Rapport__Sys__V1__HealthRequest in = RAPPORT__SYS__V1__HEALTH_REQUEST__INIT;
    rp_call_status_t st;
    int code = rp_client_call(c, NULL, "rapport.sys.v1.System/Health", &in.base, NULL, NULL, &st, 400);
    rp_client_destroy(&c);
    return code == RP_OK;
}

/* s_until - how long until s_served(svc, name) == want (polled for up to 5 s); -1 never. */
static int64_t s_until(const char *svc, const char *name, bool want)
{
    int64_t t0 = rp_clock_mono_us();
    while (rp_clock_mono_us() - t0 < 5000000) {
        if (s_served(svc, name) == want)
            return rp_clock_mono_us() - t0;
        struct timespec ts = { 0, 50 * 1000000 };
        nanosleep(&ts, NULL);
    }
    return -1;
}

static int s_register(const char *token, const char *z85, const char *name, rp_call_status_t *st)
{
    Rapport__Identity__V1__RegisterKeyRequest in = RAPPORT__IDENTITY__V1__REGISTER_KEY_REQUEST__INIT;
    in.public_key = (char *) z85;
    in.name = (char *) name;
    in.owner = (char *) "erp";
    return rp_it_call(S, "identity", token, IM("RegisterKey"), &in.base, NULL, NULL, st);
}

static int s_revoke(const char *token, const char *z85)
{
    Rapport__Identity__V1__RevokeKeyRequest in = RAPPORT__IDENTITY__V1__REVOKE_KEY_REQUEST__INIT;
    in.public_key = (char *) z85;
    in.reason = (char *) "contract ended";
    return rp_it_call(S, "identity", token, IM("RevokeKey"), &in.base, NULL, NULL, NULL);
}

static void s_restart(const char *svc)
{
    assert_int_equal(rp_suite_kill(S, svc, SIGTERM), 0);
    if (strcmp(svc, "leads") == 0)
        rp_suite_start_following(S, "leads", "identity", NULL);
    else
        rp_suite_start(S, svc, NULL);
}

static void s_within_2s(const char *what, int64_t took_us)
{
    if (took_us < 0 || took_us > 2000000)
        fail_msg("%s: took %lld us (want < 2 s)", what, (long long) took_us);
    print_message("%s in %lld ms\n", what, (long long) took_us / 1000);
}

static void test_register_and_revoke(void **state)
{
    (void) state;
    char erp[41], crm[41];
    s_keypair("erp", erp);
    s_keypair("crm", crm);
    assert_false(s_served("leads", "erp"));
    assert_false(s_served("identity", "erp"));

    /* Refused, writing nothing. */
    uint64_t seq0 = rp_suite_last_seq(S, "identity");
    assert_int_equal(rp_it_user(S, ADMIN, "ck.mgr", "manager", "/hq", 0, 0), RP_OK);
    seq0 = rp_suite_last_seq(S, "identity");
    char *mgr = rp_it_login(S, "ck.mgr");
    char *dir = rp_suite_token(S, "ck.dir", "director", "hq", "/", NULL, 600);
    rp_call_status_t st;
    static const struct { const char *name, *key; int by; int want; } bad[] = {
        { "not_z85", "not a key", 0, RP_INVALID_ARGUMENT },
        { "short", "0123456789", 0, RP_INVALID_ARGUMENT },
        { "manager", NULL, 1, RP_PERMISSION_DENIED },
        { "director", NULL, 2, RP_PERMISSION_DENIED },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *tok = bad[i].by == 1 ? mgr : bad[i].by == 2 ? dir : ADMIN;
        int code = s_register(tok, bad[i].key ? bad[i].key : erp, "erp-connector", &st);
        if (code != bad[i].want)
            fail_msg("%s: want %s, got %s", bad[i].name, rp_code_name(bad[i].want), rp_code_name(code));
    }
    assert_int_equal(rp_suite_last_seq(S, "identity"), seq0);
    assert_int_equal(s_revoke(ADMIN, erp), RP_NOT_FOUND);

    /* Registered: identity at once, leads within 2 s, no restart. */
    assert_int_equal(s_register(ADMIN, erp, "erp-connector", NULL), RP_OK);
    assert_true(s_served("identity", "erp"));
    s_within_2s("a registered key reached leads", s_until("leads", "erp", true));
    assert_int_equal(s_register(ADMIN, erp, "again", NULL), RP_ALREADY_EXISTS);
    size_t n = 0;
    Rapport__V1__Event **evs = rp_suite_replay(S, "identity", seq0 + 1, "rapport.identity.v1.key.registered", &n);
    assert_int_equal(n, 1);
    assert_string_equal(evs[0]->subject, erp);
    rp_suite_events_free(&evs, n);

    /* It survives a restart of leads. */
    s_restart("leads");
    assert_true(s_served("leads", "erp"));
    assert_false(s_served("leads", "crm"));

    /* Revoked: refused on new connections; another key stays in. */
    assert_int_equal(s_register(ADMIN, crm, "crm-sync", NULL), RP_OK);
    assert_int_equal(s_revoke(mgr, erp), RP_PERMISSION_DENIED);
    assert_int_equal(s_revoke(ADMIN, erp), RP_OK);
    assert_false(s_served("identity", "erp"));
    s_within_2s("a revoked key was refused by leads", s_until("leads", "erp", false));
    assert_int_equal(s_revoke(ADMIN, erp), RP_FAILED_PRECONDITION);
    s_within_2s("the other key reached leads", s_until("leads", "crm", true));

    /* Both states survive restarts of leads and of identity. */
    s_restart("leads");
    s_restart("identity");
    assert_false(s_served("leads", "erp"));
    assert_true(s_served("leads", "crm"));
    assert_false(s_served("identity", "erp"));
    assert_true(s_served("identity", "crm"));

    /* A revoked key may be registered again. */
    assert_int_equal(s_register(ADMIN, erp, "erp-connector-2", NULL), RP_OK);
    s_within_2s("a key registered again reached leads", s_until("leads", "erp", true));
    free(mgr);
    free(dir);
}

static void test_cli_keys(void **state)
{
    (void) state;
    char crm2[41];
    s_keypair("crm2", crm2);
    char cert[1200];
    snprintf(cert, sizeof cert, "%s/crm2.cert", EXT);
    rp_cli_run_t r = RUN(S, ADMIN, NULL, "keys", "register", "crm2-sync", "--cert", cert, "--owner", "crm");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, crm2));
    rp_cli_run_free(&r);
    s_within_2s("a key registered with the CLI reached leads", s_until("leads", "crm2", true));
    r = RUN(S, ADMIN, NULL, "keys", "list");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "crm2-sync"));
    assert_non_null(strstr(r.out, "active"));
    rp_cli_run_free(&r);
    r = RUN(S, ADMIN, NULL, "keys", "revoke", crm2, "--reason", "replaced");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    r = RUN(S, ADMIN, NULL, "keys", "list", "--include-revoked");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "revoked"));
    rp_cli_run_free(&r);
    s_within_2s("a key revoked with the CLI was refused by leads", s_until("leads", "crm2", false));

    r = RUN(S, ADMIN, NULL, "keys", "register", "x");
    assert_int_equal(r.status, 2);          /* neither --public-key nor --cert */
    rp_cli_run_free(&r);
    r = RUN(S, ADMIN, NULL, "keys", "register", "x", "--cert", "/nonexistent.cert");
    assert_int_equal(r.status, 2);
    rp_cli_run_free(&r);
    r = RUN(S, ADMIN, NULL, "keys", "register", "x", "--public-key", "short");
    assert_int_equal(r.status, 1);          /* identity: INVALID_ARGUMENT */
    rp_cli_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_and_revoke),
        cmocka_unit_test(test_cli_keys),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
