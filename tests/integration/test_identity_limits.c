/* test_identity_limits.c - authority limits per user: the largest contract value
 * a user may sign and the largest discount they may give.
 *
 * A real rapport-identity. In unit /hq/lim: head lim.head (head_of_group, limits
 * 1 000 000 minor units and 1000 bp); outside it, lim.far.
 *  - Who may grant what (table): an admin any limits in range; a head within its
 *    unit at most its own limits, never to itself; a manager nothing; out of
 *    range is INVALID_ARGUMENT on the field, out of reach NOT_FOUND.
 *  - Tokens carry the limits: Login's (WhoAmI's claims), ActAs' (the absent
 *    user's, not the substitute's), and an offline token from `rapport token mint
 *    --limit-value --limit-discount`. SetLimits emits user.limits_changed and a
 *    fresh login carries the new limits; the same limits again end no session.
 *    (That changed limits end sessions on every service within 2 s is in
 *    test_identity_revocation.c.)
 *  - `rapport users limits` sets them and `rapport users get` shows them; bad
 *    values are usage errors (exit 2) that send nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "harness_identity.h"
#include "rapport/status.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"

#define IM(m) "rapport.identity.v1.Identity/" m
#define RUN(s, token, input, ...) \
    rp_suite_cli((s), (token), (input), (const char *const[]) { __VA_ARGS__, NULL })

typedef Rapport__Identity__V1__User User;
typedef Rapport__Identity__V1__WhoAmIReply WhoAmIReply;

static rp_suite_t *S;
static const char *ADMIN;

static int s_setup(void **state)
{
    (void) state;
    S = rp_suite_new();
    const char *env[] = { "RAPPORT_TEST_CLOCK=1", NULL };
    rp_suite_start(S, "identity", env);
    ADMIN = rp_suite_admin_token(S);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    rp_suite_destroy(&S);
    return 0;
}

static int s_set_limits(const char *token, const char *user, int64_t value, int32_t bp, rp_call_status_t *st)
{
    Rapport__Identity__V1__SetLimitsRequest in = RAPPORT__IDENTITY__V1__SET_LIMITS_REQUEST__INIT;
    in.username = (char *) user;
    in.contract_value = value;
    in.discount_bp = bp;
    in.reason = (char *) "promotion";
    return rp_it_call(S, "identity", token, IM("SetLimits"), &in.base, NULL, NULL, st);
}

/* s_assert_claims - WhoAmI with token shows these limits in its claims. */
static void s_assert_claims(const char *token, int64_t value, int32_t bp)
{
    WhoAmIReply *w = rp_it_whoami(S, token);
    assert_non_null(w);
    assert_int_equal(w->claims->limit_contract_value, value);
    assert_int_equal(w->claims->limit_discount_bp, bp);
    rapport__identity__v1__who_am_ireply__free_unpacked(w, NULL);
}

static void test_who_may_grant(void **state)
{
    (void) state;
    assert_int_equal(rp_it_user(S, ADMIN, "lim.head", "head_of_group", "/hq/lim", 1000000, 1000), RP_OK);
    assert_int_equal(rp_it_user(S, ADMIN, "lim.far", "manager", "/hq/far", 0, 0), RP_OK);
    assert_int_equal(rp_it_user(S, ADMIN, "lim.mgr", "manager", "/hq/lim", 10, 1), RP_OK);
    char *head = rp_it_login(S, "lim.head");
    char *mgr = rp_it_login(S, "lim.mgr");
    s_assert_claims(head, 1000000, 1000);

    enum { CREATE, SET };
    static const struct {
        const char *name;
        int op;
        const char *by;                 /* "head", "mgr" or "admin" */
        const char *user;
        int64_t value;
        int32_t bp;
        int want_code;
        const char *want_field;
    } rows[] = {
        { "head_creates_within", CREATE, "head", "lim.m1", 500000, 500, RP_OK, NULL },
        { "head_creates_its_own_limit", CREATE, "head", "lim.m2", 1000000, 1000, RP_OK, NULL },
        { "head_creates_above_value", CREATE, "head", "lim.m3", 1000001, 0, RP_PERMISSION_DENIED, NULL },
        { "head_creates_above_discount", CREATE, "head", "lim.m4", 0, 1001, RP_PERMISSION_DENIED, NULL },
        { "negative_value", CREATE, "admin", "lim.m5", -1, 0, RP_INVALID_ARGUMENT, "limit_contract_value" },
        { "discount_over_100pc", CREATE, "admin", "lim.m6", 0, 10001, RP_INVALID_ARGUMENT, "limit_discount_bp" },
        { "head_sets_within", SET, "head", "lim.m1", 999999, 999, RP_OK, NULL },
        { "head_sets_above", SET, "head", "lim.m1", 1000001, 999, RP_PERMISSION_DENIED, NULL },
        { "head_sets_itself", SET, "head", "lim.head", 1000, 10, RP_PERMISSION_DENIED, NULL },
        { "head_out_of_reach", SET, "head", "lim.far", 1, 1, RP_NOT_FOUND, NULL },
        { "manager_may_not", SET, "mgr", "lim.m1", 1, 1, RP_PERMISSION_DENIED, NULL },
        { "admin_sets_the_most", SET, "admin", "lim.far", 1000000000000000LL, 10000, RP_OK, NULL },
        { "admin_above_range", SET, "admin", "lim.far", 1000000000000001LL, 0, RP_INVALID_ARGUMENT,
          "contract_value" },
        { "admin_bad_discount", SET, "admin", "lim.far", 0, -5, RP_INVALID_ARGUMENT, "discount_bp" },
        { "unknown_user", SET, "admin", "lim.nobody", 1, 1, RP_NOT_FOUND, NULL },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *tok = strcmp(rows[i].by, "head") == 0 ? head : strcmp(rows[i].by, "mgr") == 0 ? mgr : ADMIN;
        rp_call_status_t st;
        int code;
        if (rows[i].op == CREATE) {
            Rapport__Identity__V1__CreateUserRequest cu = RAPPORT__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
            char *roles[] = { (char *) "manager" };
            cu.username = (char *) rows[i].user;
            cu.display_name = (char *) "L";
            cu.roles = roles;
            cu.n_roles = 1;
            cu.branch = (char *) "hq";
            cu.unit = (char *) "/hq/lim";
            cu.password = (char *) RP_IT_PW;
            cu.limit_contract_value = rows[i].value;
            cu.limit_discount_bp = rows[i].bp;
            code = rp_it_call(S, "identity", tok, IM("CreateUser"), &cu.base, NULL, NULL, &st);
        } else {
            code = s_set_limits(tok, rows[i].user, rows[i].value, rows[i].bp, &st);
        }
        if (code != rows[i].want_code)
            fail_msg("%s: want %s, got %s (%s)", rows[i].name, rp_code_name(rows[i].want_code), rp_code_name(code),
                     st.message);
        if (rows[i].want_field && !rp_it_violation(&st, rows[i].want_field))
            fail_msg("%s: no violation on %s (%s)", rows[i].name, rows[i].want_field, st.message);
        if (code == RP_OK) {        /* the stored user says so */
            Rapport__Identity__V1__GetUserRequest g = RAPPORT__IDENTITY__V1__GET_USER_REQUEST__INIT;
            g.username = (char *) rows[i].user;
            User *u = NULL;
            assert_int_equal(rp_it_call(S, "identity", ADMIN, IM("GetUser"), &g.base,
                                        &rapport__identity__v1__user__descriptor, (ProtobufCMessage **) &u, NULL),
                             RP_OK);
            assert_int_equal(u->limit_contract_value, rows[i].value);
            assert_int_equal(u->limit_discount_bp, rows[i].bp);
            rapport__identity__v1__user__free_unpacked(u, NULL);
        }
    }
    free(head);
    free(mgr);
}

static void test_tokens_carry_limits(void **state)
{
    (void) state;
    assert_int_equal(rp_it_user(S, ADMIN, "lim.ann", "manager", "/hq/lim2", 300000, 300), RP_OK);
    assert_int_equal(rp_it_user(S, ADMIN, "lim.bob", "manager", "/hq/lim2", 0, 0), RP_OK);
    char *ann = rp_it_login(S, "lim.ann");
    s_assert_claims(ann, 300000, 300);

    /* The same limits again: an event, and no session ends. */
    uint64_t seq0 = rp_suite_last_seq(S, "identity");
    assert_int_equal(s_set_limits(ADMIN, "lim.ann", 300000, 300, NULL), RP_OK);
    s_assert_claims(ann, 300000, 300);

    /* New limits: user.limits_changed, the old token is revoked, a new login has them. */
    assert_int_equal(s_set_limits(ADMIN, "lim.ann", 50000, 100, NULL), RP_OK);
    size_t n = 0;
    Rapport__V1__Event **evs = rp_suite_replay(S, "identity", seq0 + 1, "rapport.identity.v1.user.limits_changed", &n);
    assert_int_equal(n, 2);
    User *u = rapport__identity__v1__user__unpack(NULL, evs[1]->data.len, evs[1]->data.data);
    assert_non_null(u);
    assert_string_equal(u->username, "lim.ann");
    assert_int_equal(u->limit_contract_value, 50000);
    rapport__identity__v1__user__free_unpacked(u, NULL);
    rp_suite_events_free(&evs, n);
    evs = rp_suite_replay(S, "identity", seq0 + 1, "rapport.identity.v1.token.revoked", &n);
    assert_int_equal(n, 1);
    rp_suite_events_free(&evs, n);
    assert_null(rp_it_whoami(S, ann));
    free(ann);
    ann = rp_it_login(S, "lim.ann");
    s_assert_claims(ann, 50000, 100);

    /* A substitute acts with the absent user's limits, not their own (none). */
    Rapport__Identity__V1__DelegateRequest dq = RAPPORT__IDENTITY__V1__DELEGATE_REQUEST__INIT;
    dq.absent = (char *) "lim.ann";
    dq.substitute = (char *) "lim.bob";
    dq.until_ms = rp_it_clock(S, "identity", 0) + 3600 * 1000;
    assert_int_equal(rp_it_call(S, "identity", ADMIN, IM("Delegate"), &dq.base, NULL, NULL, NULL), RP_OK);
    char *bob = rp_it_login(S, "lim.bob");
    s_assert_claims(bob, 0, 0);
    Rapport__Identity__V1__ActAsRequest aq = RAPPORT__IDENTITY__V1__ACT_AS_REQUEST__INIT;
    aq.absent = (char *) "lim.ann";
    Rapport__Identity__V1__ActAsReply *ar = NULL;
    assert_int_equal(rp_it_call(S, "identity", bob, IM("ActAs"), &aq.base,
                                &rapport__identity__v1__act_as_reply__descriptor, (ProtobufCMessage **) &ar, NULL),
                     RP_OK);
    s_assert_claims(ar->access_token, 50000, 100);
    rapport__identity__v1__act_as_reply__free_unpacked(ar, NULL);
    free(bob);
    free(ann);
}

static void test_cli_limits(void **state)
{
    (void) state;
    assert_int_equal(rp_it_user(S, ADMIN, "lim.cli", "manager", "/hq/lim3", 0, 0), RP_OK);
    rp_cli_run_t r = RUN(S, ADMIN, NULL, "users", "limits", "lim.cli", "--limit-value", "2500000",
                         "--limit-discount", "750", "--reason", "signs mid-size deals");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    r = RUN(S, ADMIN, NULL, "users", "get", "lim.cli");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "limit_contract_value"));
    assert_non_null(strstr(r.out, "2500000"));
    assert_non_null(strstr(r.out, "750"));
    rp_cli_run_free(&r);

    /* Bad values are refused before anything is sent. */
    static const char *const bad[][2] = { { "-1", "0" }, { "1000000000000001", "0" }, { "12.5", "0" },
                                          { "0", "10001" }, { "0", "5%" } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = RUN(S, ADMIN, NULL, "users", "limits", "lim.cli", "--limit-value", bad[i][0], "--limit-discount",
                bad[i][1]);
        if (r.status != 2)
            fail_msg("users limits %s %s: exit %d, want 2", bad[i][0], bad[i][1], r.status);
        rp_cli_run_free(&r);
    }
    r = RUN(S, ADMIN, NULL, "users", "limits", "lim.cli", "--limit-value", "5");
    assert_int_equal(r.status, 2);      /* both are required */
    rp_cli_run_free(&r);

    /* `users create` takes them too. */
    r = RUN(S, ADMIN, RP_IT_PW "\n", "users", "create", "lim.cli2", "--name", "C Two", "--role", "manager",
            "--branch", "hq", "--unit", "/hq/lim3", "--limit-value", "42", "--limit-discount", "7");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    char *tok = rp_it_login(S, "lim.cli2");
    s_assert_claims(tok, 42, 7);
    free(tok);

    /* The bootstrap: an offline token with limits, accepted by identity. */
    r = RUN(S, NULL, NULL, "token", "mint", "--sub", "lim.boot", "--role", "director", "--branch", "hq",
            "--limit-value", "900000", "--limit-discount", "1500");
    assert_int_equal(r.status, 0);
    char *nl = strchr(r.out, '\n');
    if (nl)
        *nl = 0;
    s_assert_claims(r.out, 900000, 1500);
    rp_cli_run_free(&r);
    r = RUN(S, NULL, NULL, "token", "mint", "--sub", "x", "--role", "director", "--branch", "hq",
            "--limit-discount", "20000");
    assert_int_equal(r.status, 2);
    rp_cli_run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_who_may_grant),
        cmocka_unit_test(test_tokens_carry_limits),
        cmocka_unit_test(test_cli_limits),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
