/* test_identity_revocation.c - an account change ends the user's sessions in
 * every service.
 *
 * A real rapport-identity and a real rapport-leads run in one suite; leads follows
 * identity's token.revoked events with the skeleton's built-in durable consumer
 * (service_revoke.c), as in test_revocation.c. For each change that must end a
 * user's sessions -- DisableUser, SetRoles, SetLimits, ChangePassword, ResetPassword --
 * a user logs in, uses the token on leads (OK), the change is made; within 2 seconds
 * leads answers UNAUTHENTICATED for that token, and identity refuses the old
 * refresh token. Undoing the change (enabling the user, changing the temporary
 * password) brings neither back, and a fresh login works on leads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "harness_identity.h"
#include "rapport/clock.h"
#include "rapport/status.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"
#include "rapport/leads/v1/leads.pb-c.h"

#define PW "tangerine-Orbit-42"
#define PW_NEW "saffron-Kettle-31"
#define PW_TEMP "Temporary-Pass-9"
#define IM(m) "rapport.identity.v1.Identity/" m
#define TIMEOUT 10000

typedef Rapport__Identity__V1__TokenPair TokenPair;

static rp_suite_t *S;
static rp_client_t *ADMIN;      /* a minted admin token: the bootstrap */
static rp_client_t *ANON;       /* the public methods */
static rp_call_status_t ST;

/* s_start_leads - leads follows this suite's identity, with a service token. */
static void
s_start_leads(void)
{
    rp_suite_start_following(S, "leads", "identity", NULL);
}

static int
s_setup(void **state)
{
    (void) state;
    S = rp_suite_new();
    rp_suite_start(S, "identity", NULL);
    s_start_leads();
    char *admin = rp_suite_token(S, "root", "admin", "hq", "/hq", NULL, 3600);
    ADMIN = rp_suite_client(S, "identity", admin);
    free(admin);
    ANON = rp_suite_client(S, "identity", NULL);
    return 0;
}

static int
s_teardown(void **state)
{
    (void) state;
    rp_client_destroy(&ADMIN);
    rp_client_destroy(&ANON);
    rp_suite_destroy(&S);
    return 0;
}

static int
s_call(rp_client_t *c, const char *method, const ProtobufCMessage *in,
       const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out)
{
    ProtobufCMessage *o = NULL;
    memset(&ST, 0, sizeof ST);
    int rc = rp_client_call(c, NULL, method, in, out_desc, &o, &ST, TIMEOUT);
    if (out)
        *out = o;
    else if (o)
        protobuf_c_message_free_unpacked(o, NULL);
    return rc;
}

static void
s_expect(int got, int want, const char *row, const char *what)
{
    if (got != want)
        fail_msg("%s: %s: want %s, got %s (%s)", row, what, rp_code_name(want), rp_code_name(got), ST.message);
}

static void
s_create(const char *username)
{
    Rapport__Identity__V1__CreateUserRequest cu = RAPPORT__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    char *roles[] = { (char *) "manager" };
    cu.username = (char *) username;
    cu.display_name = (char *) "Rev Oked";
    cu.roles = roles;
    cu.n_roles = 1;
    cu.branch = (char *) "hq";
    cu.unit = (char *) "/hq/sales/g1";
    cu.manager = (char *) "";
    cu.password = (char *) PW;
    s_expect(s_call(ADMIN, IM("CreateUser"), &cu.base, NULL, NULL), RP_OK, username, "create user");
}

static int
s_login(const char *user, const char *password, TokenPair **out)
{
    Rapport__Identity__V1__LoginRequest in = RAPPORT__IDENTITY__V1__LOGIN_REQUEST__INIT;
    in.username = (char *) user;
    in.password = (char *) password;
    return s_call(ANON, IM("Login"), &in.base, &rapport__identity__v1__token_pair__descriptor,
                  (ProtobufCMessage **) out);
}

static int
s_refresh(const char *token)
{
    Rapport__Identity__V1__RefreshRequest in = RAPPORT__IDENTITY__V1__REFRESH_REQUEST__INIT;
    in.refresh_token = (char *) token;
    return s_call(ANON, IM("Refresh"), &in.base, &rapport__identity__v1__token_pair__descriptor, NULL);
}

static int
s_change(const char *user, const char *old_pw, const char *new_pw)
{
    Rapport__Identity__V1__ChangePasswordRequest in = RAPPORT__IDENTITY__V1__CHANGE_PASSWORD_REQUEST__INIT;
    in.username = (char *) user;
    in.old_password = (char *) old_pw;
    in.new_password = (char *) new_pw;
    return s_call(ANON, IM("ChangePassword"), &in.base, NULL, NULL);
}

static int
s_leads_code(const char *token, const char *owner)
{
    return rp_it_leads_code(S, token, owner);
}

enum { CH_DISABLE, CH_ROLES, CH_LIMITS, CH_CHANGE, CH_RESET };

static void
test_account_changes_reach_leads(void **state)
{
    (void) state;
    static const struct {
        const char *name, *user;
        int change;
        int want_leads_code;            /* the old access token on leads, within 2 s */
        int want_refresh_code;          /* the old refresh token at identity */
        int want_undo_login_code;       /* a fresh login once the change is undone */
        const char *undo_login_pw;
    } rows[] = {
        { "disable", "rv.dis", CH_DISABLE, RP_UNAUTHENTICATED, RP_UNAUTHENTICATED, RP_OK, PW },
        { "roles_changed", "rv.rol", CH_ROLES, RP_UNAUTHENTICATED, RP_UNAUTHENTICATED, RP_OK, PW },
        { "limits_changed", "rv.lim", CH_LIMITS, RP_UNAUTHENTICATED, RP_UNAUTHENTICATED, RP_OK, PW },
        { "password_changed", "rv.chg", CH_CHANGE, RP_UNAUTHENTICATED, RP_UNAUTHENTICATED, RP_OK, PW_NEW },
        { "password_reset", "rv.rst", CH_RESET, RP_UNAUTHENTICATED, RP_UNAUTHENTICATED, RP_OK, PW_NEW },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *row = rows[i].name, *u = rows[i].user;
        s_create(u);
        TokenPair *tp = NULL;
        s_expect(s_login(u, PW, &tp), RP_OK, row, "login");
        s_expect(s_leads_code(tp->access_token, u), RP_OK, row, "leads before the change");

        int rc = -1;
        switch (rows[i].change) {
        case CH_DISABLE: {
            Rapport__Identity__V1__SetUserStateRequest in = RAPPORT__IDENTITY__V1__SET_USER_STATE_REQUEST__INIT;
            in.username = (char *) u;
            in.reason = (char *) "left the company";
            rc = s_call(ADMIN, IM("DisableUser"), &in.base, NULL, NULL);
            break;
        }
        case CH_ROLES: {
            Rapport__Identity__V1__SetRolesRequest in = RAPPORT__IDENTITY__V1__SET_ROLES_REQUEST__INIT;
            char *roles[] = { (char *) "senior_manager" };
            in.username = (char *) u;
            in.roles = roles;
            in.n_roles = 1;
            rc = s_call(ADMIN, IM("SetRoles"), &in.base, NULL, NULL);
            break;
        }
        case CH_LIMITS: {               /* any change of limits, a raise too */
            Rapport__Identity__V1__SetLimitsRequest in = RAPPORT__IDENTITY__V1__SET_LIMITS_REQUEST__INIT;
            in.username = (char *) u;
            in.contract_value = 100000;
            in.discount_bp = 250;
            rc = s_call(ADMIN, IM("SetLimits"), &in.base, NULL, NULL);
            break;
        }
        case CH_CHANGE:
            rc = s_change(u, PW, PW_NEW);
            break;
        case CH_RESET: {
            Rapport__Identity__V1__ResetPasswordRequest in = RAPPORT__IDENTITY__V1__RESET_PASSWORD_REQUEST__INIT;
            in.username = (char *) u;
            in.temporary_password = (char *) PW_TEMP;
            rc = s_call(ADMIN, IM("ResetPassword"), &in.base, NULL, NULL);
            break;
        }
        }
        s_expect(rc, RP_OK, row, "the change");

        int64_t took_us = rp_it_leads_refuses_us(S, tp->access_token, u);
        if (took_us < 0 || took_us > 2000000)
            fail_msg("%s: leads refused the old token after %lld us (want < 2 s)", row, (long long) took_us);
        s_expect(s_leads_code(tp->access_token, u), rows[i].want_leads_code, row, "leads after the change");
        print_message("%s reached leads in %lld ms\n", row, (long long) took_us / 1000);
        s_expect(s_refresh(tp->refresh_token), rows[i].want_refresh_code, row, "old refresh token");

        /* Undo what can be undone: the old session stays ended everywhere. */
        switch (rows[i].change) {
        case CH_DISABLE: {
            Rapport__Identity__V1__SetUserStateRequest in = RAPPORT__IDENTITY__V1__SET_USER_STATE_REQUEST__INIT;
            in.username = (char *) u;
            s_expect(s_call(ADMIN, IM("EnableUser"), &in.base, NULL, NULL), RP_OK, row, "enable");
            break;
        }
        case CH_RESET:
            s_expect(s_change(u, PW_TEMP, PW_NEW), RP_OK, row, "change the temporary password");
            break;
        default:
            break;
        }
        s_expect(s_refresh(tp->refresh_token), RP_UNAUTHENTICATED, row, "old refresh token after the undo");
        s_expect(s_leads_code(tp->access_token, u), RP_UNAUTHENTICATED, row, "old token on leads after the undo");
        TokenPair *fresh = NULL;
        s_expect(s_login(u, rows[i].undo_login_pw, &fresh), rows[i].want_undo_login_code, row, "fresh login");
        if (fresh) {
            s_expect(s_leads_code(fresh->access_token, u), RP_OK, row, "fresh token on leads");
            rapport__identity__v1__token_pair__free_unpacked(fresh, NULL);
        }
        rapport__identity__v1__token_pair__free_unpacked(tp, NULL);
    }
}

/* A token minted offline (unknown to identity) revoked by its jti: by an admin
 * only, refused by leads within 2 s and by identity at once; again changes nothing. */
static void
test_minted_token_revoked(void **state)
{
    (void) state;
    char *tok = rp_suite_token(S, "mint.ann", "manager", "hq", "/hq/sales/g1", NULL, 3600);
    assert_int_equal(rp_it_leads_code(S, tok, "mint.ann"), RP_OK);
    Rapport__Identity__V1__WhoAmIReply *w = rp_it_whoami(S, tok);
    assert_non_null(w);
    char jti[64];
    rp_strlcpy(jti, w->claims->jti, sizeof jti);
    rapport__identity__v1__who_am_ireply__free_unpacked(w, NULL);

    char *dir = rp_suite_token(S, "mint.dir", "director", "hq", "/", NULL, 600);
    static const struct { const char *name, *jti; int64_t until; int by_dir; int want; } rows[] = {
        { "director_may_not", NULL, 0, 1, RP_PERMISSION_DENIED },
        { "bad_jti", "has space", 0, 0, RP_INVALID_ARGUMENT },
        { "until_past", NULL, 1000, 0, RP_INVALID_ARGUMENT },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        Rapport__Identity__V1__RevokeTokenRequest in = RAPPORT__IDENTITY__V1__REVOKE_TOKEN_REQUEST__INIT;
        in.jti = (char *) (rows[i].jti ? rows[i].jti : jti);
        in.expires_at = rows[i].until;
        int code = rp_it_call(S, "identity", rows[i].by_dir ? dir : rp_suite_admin_token(S), IM("RevokeToken"),
                              &in.base, NULL, NULL, NULL);
        if (code != rows[i].want)
            fail_msg("%s: want %s, got %s", rows[i].name, rp_code_name(rows[i].want), rp_code_name(code));
    }
    assert_int_equal(rp_it_leads_code(S, tok, "mint.ann"), RP_OK);

    rp_cli_run_t r = rp_suite_cli(S, rp_suite_admin_token(S), NULL,
                                  (const char *const[]) { "--json", "token", "revoke", jti, "--sub", "mint.ann",
                                                          "--reason", "lost laptop", NULL });
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"revoked\": true"));
    rp_cli_run_free(&r);
    assert_null(rp_it_whoami(S, tok));
    int64_t took_us = rp_it_leads_refuses_us(S, tok, "mint.ann");
    if (took_us < 0 || took_us > 2000000)
        fail_msg("leads refused the revoked minted token after %lld us (want < 2 s)", (long long) took_us);
    print_message("a minted token revoked by jti reached leads in %lld ms\n", (long long) took_us / 1000);
    Rapport__Identity__V1__RevokeTokenRequest again = RAPPORT__IDENTITY__V1__REVOKE_TOKEN_REQUEST__INIT;
    again.jti = jti;
    Rapport__Identity__V1__RevokeTokenReply *rep = NULL;
    assert_int_equal(rp_it_call(S, "identity", rp_suite_admin_token(S), IM("RevokeToken"), &again.base,
                                &rapport__identity__v1__revoke_token_reply__descriptor, (ProtobufCMessage **) &rep,
                                NULL),
                     RP_OK);
    assert_false(rep->revoked);
    rapport__identity__v1__revoke_token_reply__free_unpacked(rep, NULL);
    free(dir);
    free(tok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_changes_reach_leads),
        cmocka_unit_test(test_minted_token_revoked),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
