/* test_cli_identity.c - the identity commands of the `rapport` command line, run as
 * real binaries against real rapport-identity and rapport-leads (harness.h):
 * `users create` by an admin, `login` with the password on stdin (token files 0600,
 * no token printed), `whoami`, a leads command on the saved login, the automatic
 * renewal of an expired access token (also by several commands at once), `logout`
 * (files gone, the old token refused by identity), `passwd` out of "password change
 * required", `users list|get|roles|disable|enable|reset-password` and `keys jwks`.
 *
 * rp_suite_run_cli gives the CLI /dev/null as stdin, so this file runs the CLI itself
 * (rp_suite_cli) with the same environment and a password on stdin, capturing stderr too.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "harness.h"
#include "rapport/status.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"


#define PW_ANN "correct horse battery staple 42"
#define PW_BOB "a long and unusual passphrase 7"
#define PW_BOB2 "another rather long passphrase 8"
#define PW_TEMP "temporary but long enough 99"

/* RUN - `rapport ...` with the suite's environment and input on stdin. */
#define RUN(s, token, input, ...) \
    rp_suite_cli((s), (token), (input), (const char *const[]) { __VA_ARGS__, NULL })

/* ---- the suite ---- */

typedef struct {
    rp_suite_t *s;
    char tok[1024], ref[1100];      /* the token files under HOME */
} s_fix_t;

static s_fix_t *s_fix_new(const char *const *identity_env)
{
    s_fix_t *f = rp_calloc(1, sizeof *f);
    f->s = rp_suite_new();
    rp_suite_start(f->s, "identity", identity_env);
    rp_suite_start(f->s, "leads", NULL);
    snprintf(f->tok, sizeof f->tok, "%s/.config/rapport/token", rp_suite_dir(f->s));
    snprintf(f->ref, sizeof f->ref, "%s.refresh", f->tok);
    return f;
}

static void s_fix_destroy(s_fix_t **f_p)
{
    s_fix_t *f = *f_p;
    rp_suite_destroy(&f->s);
    free(f);
    *f_p = NULL;
}

/* s_create_user - `users create` as the suite's admin, the password on stdin. */
static void s_create_user(s_fix_t *f, const char *user, const char *name, const char *role, const char *pw,
                          bool must_change)
{
    char *input = rp_sprintf("%s\n", pw);
    rp_cli_run_t r = must_change
        ? RUN(f->s, rp_suite_admin_token(f->s), input, "users", "create", user, "--name", name, "--role", role,
              "--branch", "hq", "--unit", "/hq/sales/g1", "--must-change-password")
        : RUN(f->s, rp_suite_admin_token(f->s), input, "users", "create", user, "--name", name, "--role", role,
              "--branch", "hq", "--unit", "/hq/sales/g1");
    free(input);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, user));
    rp_cli_run_free(&r);
}

static void s_login(s_fix_t *f, const char *user, const char *pw)
{
    char *input = rp_sprintf("%s\n", pw);
    rp_cli_run_t r = RUN(f->s, NULL, input, "login", "--user", user);
    free(input);
    assert_int_equal(r.status, 0);
    char *want = rp_sprintf("logged in as %s", user);
    assert_non_null(strstr(r.out, want));
    free(want);
    rp_cli_run_free(&r);
}

/* s_whoami_code - Identity/WhoAmI with token straight over the wire: the status code. */
static int s_whoami_code(s_fix_t *f, const char *token)
{
    rp_client_t *c = rp_suite_client(f->s, "identity", token);
    Rapport__Identity__V1__WhoAmIRequest req = RAPPORT__IDENTITY__V1__WHO_AM_IREQUEST__INIT;
    ProtobufCMessage *out = NULL;
    rp_call_status_t st;
    int code = rp_client_call(c, NULL, "rapport.identity.v1.Identity/WhoAmI", &req.base,
                              &rapport__identity__v1__who_am_ireply__descriptor, &out, &st, 5000);
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    rp_client_destroy(&c);
    return code;
}

/* ---- tests ---- */

/* login (stdin), the files, whoami (human and JSON), a leads command on the saved
 * login, keys jwks, logout: files gone and the old token refused by identity. */
static void test_login_whoami_logout(void **state)
{
    (void) state;
    s_fix_t *f = s_fix_new(NULL);
    s_create_user(f, "ann", "Ann Lee", "manager", PW_ANN, false);

    /* A wrong password: refused, nothing saved. */
    rp_cli_run_t r = RUN(f->s, NULL, "not the password at all\n", "login", "--user", "ann");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "UNAUTHENTICATED"));
    assert_false(rp_test_exists(f->tok));
    rp_cli_run_free(&r);
    /* No password at all (empty stdin): a usage error. */
    r = RUN(f->s, NULL, "", "login", "--user", "ann");
    assert_int_equal(r.status, 2);
    rp_cli_run_free(&r);

    r = RUN(f->s, NULL, PW_ANN "\n", "login", "--user", "ann");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "logged in as ann"));
    assert_non_null(strstr(r.out, "manager"));
    rp_test_assert_private(f->tok);
    rp_test_assert_private(f->ref);
    char *tok = rp_test_file(f->tok), *ref = rp_test_file(f->ref);
    assert_non_null(tok);
    assert_non_null(ref);
    tok[strcspn(tok, "\n")] = 0;
    ref[strcspn(ref, "\n")] = 0;
    assert_true(strlen(tok) > 100);
    assert_true(strlen(ref) >= 43);
    assert_null(strstr(r.out, tok));        /* never a token on the screen */
    assert_null(strstr(r.out, ref));
    assert_null(strstr(r.err, tok));
    assert_null(strstr(r.err, ref));
    rp_cli_run_free(&r);
    /* --json says the same, still without a token. */
    r = RUN(f->s, NULL, PW_ANN "\n", "--json", "login", "--user", "ann");
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "user")), "ann");
    assert_non_null(json_string_value(json_object_get(j, "expires")));
    assert_null(strstr(r.out, "access_token"));
    json_decref(j);
    rp_cli_run_free(&r);
    free(tok);
    free(ref);
    tok = rp_test_file(f->tok);
    tok[strcspn(tok, "\n")] = 0;

    r = RUN(f->s, NULL, NULL, "whoami");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "ann (Ann Lee)"));
    assert_non_null(strstr(r.out, "/hq/sales/g1"));
    rp_cli_run_free(&r);
    r = RUN(f->s, NULL, NULL, "whoami", "--json");
    assert_int_equal(r.status, 0);
    j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "claims"), "sub")), "ann");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "user"), "display_name")), "Ann Lee");
    json_decref(j);
    rp_cli_run_free(&r);

    /* The saved login works for the other services. */
    r = RUN(f->s, NULL, NULL, "leads", "create", "--company", "Acme GmbH", "--source", "web");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Acme GmbH"));
    rp_cli_run_free(&r);
    r = RUN(f->s, NULL, NULL, "leads", "list");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Acme GmbH"));
    assert_non_null(strstr(r.out, "ann"));
    rp_cli_run_free(&r);

    r = RUN(f->s, NULL, NULL, "keys", "jwks");
    assert_int_equal(r.status, 0);
    j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_true(json_array_size(json_object_get(j, "keys")) >= 1);
    json_decref(j);
    rp_cli_run_free(&r);

    assert_int_equal(s_whoami_code(f, tok), RP_OK);
    r = RUN(f->s, NULL, NULL, "logout");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "logged out"));
    rp_cli_run_free(&r);
    assert_false(rp_test_exists(f->tok));
    assert_false(rp_test_exists(f->ref));
    assert_int_equal(s_whoami_code(f, tok), RP_UNAUTHENTICATED);
    /* Nothing saved any more. */
    r = RUN(f->s, NULL, NULL, "whoami");
    assert_int_equal(r.status, 4);
    rp_cli_run_free(&r);
    free(tok);
    s_fix_destroy(&f);
}

/* s_expire - put an expired token of user into the token file (the refresh file stays). */
static void s_expire(s_fix_t *f, const char *user)
{
    char *t = rp_suite_token(f->s, user, "manager", "hq", "/hq/sales/g1", NULL, -10);
    char *line = rp_sprintf("%s\n", t);
    assert_int_equal(rp_write_file_private(f->tok, line, strlen(line)), 0);
    free(line);
    free(t);
}

/* Renewal: an access token about to expire (the shortest TTL identity allows, 60 s,
 * is under a minute left after a second) or expired is renewed by the next command,
 * also by several at once without spoiling the login; `token mint --save` drops the
 * refresh file. */
static void test_refresh(void **state)
{
    (void) state;
    static const char *const env[] = { "RAPPORT_IDENTITY_ACCESS_TTL=60", NULL };
    s_fix_t *f = s_fix_new(env);
    s_create_user(f, "carl", "Carl Berg", "manager", PW_ANN, false);
    s_login(f, "carl", PW_ANN);
    char *tok1 = rp_test_file(f->tok), *ref1 = rp_test_file(f->ref);
    assert_non_null(tok1);
    assert_non_null(ref1);
    sleep(2);               /* under a minute left */

    rp_cli_run_t r = RUN(f->s, NULL, NULL, "leads", "create", "--company", "Renewed Ltd", "--source", "web");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Renewed Ltd"));
    assert_null(strstr(r.err, "cannot renew"));
    rp_cli_run_free(&r);
    char *tok2 = rp_test_file(f->tok), *ref2 = rp_test_file(f->ref);
    assert_non_null(tok2);
    assert_non_null(ref2);
    assert_string_not_equal(tok1, tok2);
    assert_string_not_equal(ref1, ref2);
    rp_test_assert_private(f->tok);
    rp_test_assert_private(f->ref);
    /* Expired: renewed before the call, so the command works. */
    s_expire(f, "carl");
    r = RUN(f->s, NULL, NULL, "whoami");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "carl (Carl Berg)"));
    assert_null(strstr(r.err, "cannot renew"));
    rp_cli_run_free(&r);

    /* Several commands at once on an expired token: one renews, the others wait for
     * it and take the new token (a refresh token presented twice ends the login). */
    s_expire(f, "carl");
    pid_t pids[4];
    for (int i = 0; i < 4; i++)
        pids[i] = rp_suite_cli_spawn(f->s, NULL, (const char *const[]) { "whoami", NULL });
    for (int i = 0; i < 4; i++)
        assert_int_equal(rp_suite_cli_wait(pids[i]), 0);
    s_expire(f, "carl");
    r = RUN(f->s, NULL, NULL, "whoami");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "carl"));
    rp_cli_run_free(&r);

    /* A token from --token or RAPPORT_TOKEN is never renewed nor written. */
    char *before = rp_test_file(f->tok);
    char *expired = rp_suite_token(f->s, "carl", "manager", "hq", "/hq/sales/g1", NULL, -10);
    r = RUN(f->s, expired, NULL, "whoami");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "UNAUTHENTICATED"));
    rp_cli_run_free(&r);
    char *after = rp_test_file(f->tok);
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(expired);

    /* A minted token replaces the login: its refresh token must not come back. */
    r = RUN(f->s, NULL, NULL, "token", "mint", "--sub", "dora", "--role", "director", "--branch", "hq", "--save");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    assert_true(rp_test_exists(f->tok));
    assert_false(rp_test_exists(f->ref));

    free(tok1);
    free(ref1);
    free(tok2);
    free(ref2);
    s_fix_destroy(&f);
}

/* passwd out of "password change required", and the users commands of an admin. */
static void test_passwd_and_users(void **state)
{
    (void) state;
    s_fix_t *f = s_fix_new(NULL);
    const char *admin = rp_suite_admin_token(f->s);
    s_create_user(f, "bob", "Bob Stone", "manager", PW_BOB, true);

    rp_cli_run_t r = RUN(f->s, NULL, PW_BOB "\n", "login", "--user", "bob");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "FAILED_PRECONDITION"));
    assert_non_null(strstr(r.err, "rapport passwd"));
    assert_false(rp_test_exists(f->tok));
    rp_cli_run_free(&r);

    /* A wrong current password changes nothing. */
    r = RUN(f->s, NULL, "wrong old password\n" PW_BOB2 "\n", "passwd", "--user", "bob");
    assert_int_equal(r.status, 1);
    rp_cli_run_free(&r);
    r = RUN(f->s, NULL, PW_BOB "\n" PW_BOB2 "\n", "passwd", "--user", "bob");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "password changed for bob"));
    rp_cli_run_free(&r);
    s_login(f, "bob", PW_BOB2);
    /* passwd without --user takes the saved login's user; a weak new one is refused. */
    r = RUN(f->s, NULL, PW_BOB2 "\nshort\n", "passwd");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "INVALID_ARGUMENT"));
    rp_cli_run_free(&r);

    /* A manager may not create users. */
    r = RUN(f->s, NULL, PW_ANN "\n", "users", "create", "eve", "--name", "Eve", "--role", "manager",
            "--branch", "hq");
    assert_int_equal(r.status, 1);
    rp_cli_run_free(&r);
    /* Unknown roles never reach the service. */
    r = RUN(f->s, admin, PW_ANN "\n", "users", "create", "eve", "--name", "Eve", "--role", "boss", "--branch", "hq");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "unknown role 'boss'"));
    rp_cli_run_free(&r);
    s_create_user(f, "ann", "Ann Lee", "manager", PW_ANN, false);

    r = RUN(f->s, admin, NULL, "users", "list");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "USERNAME"));
    assert_non_null(strstr(r.out, "ann"));
    assert_non_null(strstr(r.out, "Bob Stone"));
    rp_cli_run_free(&r);
    r = RUN(f->s, admin, NULL, "users", "list", "--json", "--all");
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_true(json_array_size(json_object_get(j, "users")) >= 2);
    json_decref(j);
    rp_cli_run_free(&r);

    r = RUN(f->s, admin, NULL, "users", "roles", "bob", "--role", "senior_manager");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "senior_manager"));
    rp_cli_run_free(&r);
    r = RUN(f->s, admin, NULL, "users", "get", "bob", "--json");
    assert_int_equal(r.status, 0);
    j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "roles"), 0)), "senior_manager");
    assert_false(json_is_true(json_object_get(j, "must_change_password")));
    json_decref(j);
    rp_cli_run_free(&r);

    r = RUN(f->s, admin, NULL, "users", "disable", "bob", "--reason", "left the company");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    r = RUN(f->s, NULL, PW_BOB2 "\n", "login", "--user", "bob");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "UNAUTHENTICATED"));
    rp_cli_run_free(&r);
    r = RUN(f->s, admin, NULL, "users", "list", "--include-disabled");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "disabled"));
    rp_cli_run_free(&r);
    r = RUN(f->s, admin, NULL, "users", "enable", "bob");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    s_login(f, "bob", PW_BOB2);

    /* reset-password: a temporary password that must be changed before login. */
    r = RUN(f->s, admin, PW_TEMP "\n", "users", "reset-password", "bob");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    r = RUN(f->s, NULL, PW_TEMP "\n", "login", "--user", "bob");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "rapport passwd"));
    rp_cli_run_free(&r);
    r = RUN(f->s, NULL, PW_TEMP "\n" PW_BOB "\n", "passwd", "--user", "bob");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    s_login(f, "bob", PW_BOB);

    s_fix_destroy(&f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login_whoami_logout),
        cmocka_unit_test(test_refresh),
        cmocka_unit_test(test_passwd_and_users),
    };
    return cmocka_run_group_tests_name("cli_identity", tests, NULL, NULL);
}
