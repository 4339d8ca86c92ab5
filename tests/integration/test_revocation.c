/* test_revocation.c - a revoked token stops working in every service.
 *
 * A real rapport-identity and a real rapport-leads run in one suite; leads follows
 * identity's token.revoked events with the skeleton's built-in durable consumer
 * (service_revoke.c). A user logs in, uses the token on leads, logs out; within
 * 2 seconds leads refuses the token, and still does after a restart (the revoked
 * jti is kept in leads' own LMDB), while a fresh login works.
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
#include "harness.h"
#include "rapport/clock.h"
#include "rapport/status.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"
#include "rapport/leads/v1/leads.pb-c.h"

#define PW "tangerine-Orbit-42"
#define IM(m) "rapport.identity.v1.Identity/" m

static rp_suite_t *S;

/* s_start_leads - leads follows this suite's identity (its revocations). */
static void
s_start_leads(void)
{
    rp_suite_start_following(S, "leads", "identity", NULL);
}

/* s_login - a token pair for user from identity. */
static Rapport__Identity__V1__TokenPair *
s_login(const char *user)
{
    rp_client_t *anon = rp_suite_client(S, "identity", NULL);
    Rapport__Identity__V1__LoginRequest in = RAPPORT__IDENTITY__V1__LOGIN_REQUEST__INIT;
    in.username = (char *) user;
    in.password = (char *) PW;
    Rapport__Identity__V1__TokenPair *tp = NULL;
    rp_call_status_t st;
    int code = rp_client_call(anon, NULL, IM("Login"), &in.base,
                              &rapport__identity__v1__token_pair__descriptor,
                              (ProtobufCMessage **) &tp, &st, 10000);
    if (code != RP_OK)
        fail_msg("login %s: %s %s", user, rp_code_name(code), st.message);
    rp_client_destroy(&anon);
    return tp;
}

/* s_leads_code - the status of a ListByOwner on leads with token. */
static int
s_leads_code(const char *token, const char *owner)
{
    rp_client_t *c = rp_suite_client(S, "leads", token);
    Rapport__Leads__V1__ListByOwnerRequest rq = RAPPORT__LEADS__V1__LIST_BY_OWNER_REQUEST__INIT;
    rq.owner = (char *) owner;
    rp_call_status_t st;
    int code = rp_client_call(c, NULL, "rapport.leads.v1.Leads/ListByOwner", &rq.base, NULL, NULL, &st, 10000);
    rp_client_destroy(&c);
    return code;
}

static void
test_logout_reaches_leads(void **state)
{
    (void) state;
    S = rp_suite_new();
    rp_suite_start(S, "identity", NULL);
    s_start_leads();

    /* The first admin is a minted token; it creates the user. */
    char *admin = rp_suite_token(S, "root", "admin", "hq", "/hq", NULL, 3600);
    rp_client_t *adm = rp_suite_client(S, "identity", admin);
    Rapport__Identity__V1__CreateUserRequest cu = RAPPORT__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    char *roles[] = { (char *) "manager" };
    cu.username = (char *) "rita";
    cu.display_name = (char *) "Rita Revoked";
    cu.roles = roles;
    cu.n_roles = 1;
    cu.branch = (char *) "hq";
    cu.unit = (char *) "/hq/sales/g1";
    cu.manager = (char *) "";
    cu.password = (char *) PW;
    rp_call_status_t st;
    int code = rp_client_call(adm, NULL, IM("CreateUser"), &cu.base, NULL, NULL, &st, 10000);
    if (code != RP_OK)
        fail_msg("create user: %s %s", rp_code_name(code), st.message);
    rp_client_destroy(&adm);

    Rapport__Identity__V1__TokenPair *tp = s_login("rita");
    assert_int_equal(s_leads_code(tp->access_token, "rita"), RP_OK);

    /* Logout at identity; leads must refuse the token within 2 seconds. */
    rp_client_t *me = rp_suite_client(S, "identity", tp->access_token);
    Rapport__Identity__V1__LogoutRequest lo = RAPPORT__IDENTITY__V1__LOGOUT_REQUEST__INIT;
    assert_int_equal(rp_client_call(me, NULL, IM("Logout"), &lo.base, NULL, NULL, &st, 10000), RP_OK);
    rp_client_destroy(&me);
    int64_t t0 = rp_clock_mono_us(), took_us = -1;
    while (rp_clock_mono_us() - t0 < 5000000) {
        if (s_leads_code(tp->access_token, "rita") == RP_UNAUTHENTICATED) {
            took_us = rp_clock_mono_us() - t0;
            break;
        }
        struct timespec ts = { 0, 20 * 1000000 };
        nanosleep(&ts, NULL);
    }
    if (took_us < 0 || took_us > 2000000)
        fail_msg("leads refused the logged-out token after %lld us (want < 2 s)", (long long) took_us);
    print_message("a logout reached leads in %lld ms\n", (long long) took_us / 1000);

    /* Kept across a restart of leads (its own LMDB), while a new login works. */
    assert_int_equal(rp_suite_kill(S, "leads", SIGTERM), 0);
    s_start_leads();
    assert_int_equal(s_leads_code(tp->access_token, "rita"), RP_UNAUTHENTICATED);
    Rapport__Identity__V1__TokenPair *tp2 = s_login("rita");
    assert_int_equal(s_leads_code(tp2->access_token, "rita"), RP_OK);

    rapport__identity__v1__token_pair__free_unpacked(tp, NULL);
    rapport__identity__v1__token_pair__free_unpacked(tp2, NULL);
    free(admin);
    rp_suite_destroy(&S);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logout_reaches_leads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
