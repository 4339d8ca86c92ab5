/* test_cli_delegation.c - delegation in the `rapport` command line, run as real
 * binaries against real rapport-identity and rapport-leads (harness.h): a head
 * appoints bob as ann's substitute (`delegate add`), `delegate list`, bob's
 * `login --as ann` (his own login kept aside in <token file>.own and .own.refresh),
 * `whoami` saying so, `leads list` showing ann's leads, `delegate revoke` by the head
 * ending bob's delegated token, and `login --as -` / `logout` bringing bob's own
 * login back.
 *
 * rp_suite_run_cli gives the CLI /dev/null as stdin, so this file runs the CLI itself
 * (rp_suite_cli) with the same environment and a password on stdin.
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


#define PW_HEAD "the head of the group speaks 11"
#define PW_ANN "correct horse battery staple 42"
#define PW_BOB "a long and unusual passphrase 7"

/* RUN - `rapport ...` with the suite's environment and input on stdin. */
#define RUN(s, token, input, ...) \
    rp_suite_cli((s), (token), (input), (const char *const[]) { __VA_ARGS__, NULL })

/* ---- the suite ---- */

typedef struct {
    rp_suite_t *s;
    char tok[1024], ref[1100], own[1100], own_ref[1100];   /* the token files under HOME */
} s_fix_t;

/* s_create_user - `users create` as the suite's admin, the password on stdin. */
static void s_create_user(s_fix_t *f, const char *user, const char *name, const char *role, const char *pw)
{
    char *input = rp_sprintf("%s\n", pw);
    rp_cli_run_t r = RUN(f->s, rp_suite_admin_token(f->s), input, "users", "create", user, "--name", name, "--role", role,
                    "--branch", "hq", "--unit", "/hq/sales/g1");
    free(input);
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
}

static void s_login(s_fix_t *f, const char *user, const char *pw)
{
    char *input = rp_sprintf("%s\n", pw);
    rp_cli_run_t r = RUN(f->s, NULL, input, "login", "--user", user);
    free(input);
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
}

static void s_create_lead(s_fix_t *f, const char *company)
{
    rp_cli_run_t r = RUN(f->s, NULL, NULL, "leads", "create", "--company", company, "--source", "web");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
}

/* s_day - today + days as YYYY-MM-DD (UTC). */
static void s_day(int days, char out[16])
{
    time_t t = time(NULL) + (time_t) days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

/* s_delegate - `delegate add --for ann --to bob` with token: the delegation's id (malloc'd). */
static char *s_delegate(s_fix_t *f, const char *token)
{
    char from[16], until[16];
    s_day(0, from);
    s_day(2, until);
    rp_cli_run_t r = RUN(f->s, token, NULL, "--json", "delegate", "add", "--for", "ann", "--to", "bob",
                    "--from", from, "--until", until, "--note", "holiday");
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "absent")), "ann");
    assert_string_equal(json_string_value(json_object_get(j, "substitute")), "bob");
    assert_string_equal(json_string_value(json_object_get(j, "note")), "holiday");
    char *id = rp_strdup(json_string_value(json_object_get(j, "id")));
    assert_int_equal(strlen(id), 26);
    json_decref(j);
    rp_cli_run_free(&r);
    return id;
}

/* ---- tests ---- */

static void test_delegation(void **state)
{
    (void) state;
    s_fix_t *f = rp_calloc(1, sizeof *f);
    f->s = rp_suite_new();
    rp_suite_start(f->s, "identity", NULL);
    /* leads follows identity's token.revoked events (with a service token), so a
     * revoked delegation ends the delegated token there too. */
    rp_suite_start_following(f->s, "leads", "identity", NULL);
    snprintf(f->tok, sizeof f->tok, "%s/.config/rapport/token", rp_suite_dir(f->s));
    snprintf(f->ref, sizeof f->ref, "%s.refresh", f->tok);
    snprintf(f->own, sizeof f->own, "%s.own", f->tok);
    snprintf(f->own_ref, sizeof f->own_ref, "%s.own.refresh", f->tok);

    /* An admin creates the head of the group, ann and bob. */
    s_create_user(f, "hd", "Hedda Dahl", "head_of_group", PW_HEAD);
    s_create_user(f, "ann", "Ann Lee", "manager", PW_ANN);
    s_create_user(f, "bob", "Bob Stone", "manager", PW_BOB);
    /* The head's token, from her login (the file is then reused by the others). */
    s_login(f, "hd", PW_HEAD);
    char *head = rp_test_file(f->tok);
    assert_non_null(head);
    head[strcspn(head, "\n")] = 0;
    /* ann and bob each have a lead. */
    s_login(f, "ann", PW_ANN);
    s_create_lead(f, "Ann Corp");
    s_login(f, "bob", PW_BOB);
    s_create_lead(f, "Bob Industries");
    char *bob_tok = rp_test_file(f->tok), *bob_ref = rp_test_file(f->ref);
    assert_non_null(bob_tok);
    assert_non_null(bob_ref);

    /* No delegation yet: refused, and bob's login stays as it was. */
    rp_cli_run_t r = RUN(f->s, NULL, NULL, "login", "--as", "ann");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "PERMISSION_DENIED"));
    rp_cli_run_free(&r);
    assert_false(rp_test_exists(f->own));
    char *t = rp_test_file(f->tok);
    assert_string_equal(t, bob_tok);
    free(t);
    /* Bad usage never reaches the service. */
    r = RUN(f->s, head, NULL, "delegate", "add", "--for", "ann", "--to", "bob", "--until", "2026-02-30");
    assert_int_equal(r.status, 2);
    rp_cli_run_free(&r);
    r = RUN(f->s, head, NULL, "delegate", "add", "--for", "ann", "--until", "2099-01-01");
    assert_int_equal(r.status, 2);
    rp_cli_run_free(&r);

    /* The head appoints bob as ann's substitute. */
    char *id = s_delegate(f, head);
    r = RUN(f->s, head, NULL, "delegate", "list", "--for", "ann");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, id));
    assert_non_null(strstr(r.out, "bob"));
    assert_non_null(strstr(r.out, "active"));
    char today[16];
    s_day(0, today);
    assert_non_null(strstr(r.out, today));      /* FROM as a time, not unix ms */
    rp_cli_run_free(&r);
    r = RUN(f->s, NULL, NULL, "delegate", "list", "--to", "bob");     /* bob sees his own */
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, id));
    rp_cli_run_free(&r);

    /* bob acts as ann: his own login goes aside, the delegated token is the token file. */
    r = RUN(f->s, NULL, NULL, "login", "--as", "ann");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "bob as delegate of ann"));
    rp_cli_run_free(&r);
    rp_test_assert_private(f->tok);
    rp_test_assert_private(f->own);
    rp_test_assert_private(f->own_ref);
    assert_false(rp_test_exists(f->ref));     /* a delegated token is not renewed */
    t = rp_test_file(f->own);
    assert_string_equal(t, bob_tok);
    free(t);
    t = rp_test_file(f->own_ref);
    assert_string_equal(t, bob_ref);
    free(t);
    char *deleg = rp_test_file(f->tok);
    assert_non_null(deleg);
    assert_string_not_equal(deleg, bob_tok);

    r = RUN(f->s, NULL, NULL, "whoami");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "bob as delegate of ann until"));
    rp_cli_run_free(&r);
    r = RUN(f->s, NULL, NULL, "leads", "list");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Ann Corp"));
    assert_null(strstr(r.out, "Bob Industries"));
    rp_cli_run_free(&r);

    /* The head ends the delegation: the delegated token stops working. */
    r = RUN(f->s, head, NULL, "delegate", "revoke", id);
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    int status = 0;
    for (int i = 0; i < 50; i++) {      /* within 5 s (identity's event reaches leads) */
        r = RUN(f->s, NULL, NULL, "leads", "list");
        status = r.status;
        rp_cli_run_free(&r);
        if (status != 0)
            break;
        usleep(100 * 1000);
    }
    assert_int_equal(status, 1);
    r = RUN(f->s, NULL, NULL, "whoami");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "UNAUTHENTICATED"));
    rp_cli_run_free(&r);
    r = RUN(f->s, head, NULL, "delegate", "list", "--for", "ann", "--include-ended");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "revoked"));
    rp_cli_run_free(&r);

    /* login --as - brings bob's own login back. */
    r = RUN(f->s, NULL, NULL, "login", "--as", "-");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "back to bob's own login"));
    rp_cli_run_free(&r);
    assert_false(rp_test_exists(f->own));
    assert_false(rp_test_exists(f->own_ref));
    rp_test_assert_private(f->ref);
    r = RUN(f->s, NULL, NULL, "whoami");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "bob (Bob Stone)"));
    assert_null(strstr(r.out, "delegate of"));
    rp_cli_run_free(&r);
    r = RUN(f->s, NULL, NULL, "leads", "list");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Bob Industries"));
    assert_null(strstr(r.out, "Ann Corp"));
    rp_cli_run_free(&r);
    /* Revoked: no acting as ann any more. */
    r = RUN(f->s, NULL, NULL, "login", "--as", "ann");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "PERMISSION_DENIED"));
    rp_cli_run_free(&r);
    assert_false(rp_test_exists(f->own));

    /* A new delegation; `logout` while acting returns to the own login too, and a
     * second `logout` ends that. */
    char *id2 = s_delegate(f, head);
    r = RUN(f->s, NULL, NULL, "login", "--as", "ann");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    r = RUN(f->s, NULL, NULL, "logout");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "back to bob's own login"));
    rp_cli_run_free(&r);
    r = RUN(f->s, NULL, NULL, "whoami");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "bob (Bob Stone)"));
    rp_cli_run_free(&r);
    r = RUN(f->s, NULL, NULL, "logout");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "logged out"));
    rp_cli_run_free(&r);
    assert_false(rp_test_exists(f->tok));
    assert_false(rp_test_exists(f->own));

    free(id2);
    free(id);
    free(deleg);
    free(bob_tok);
    free(bob_ref);
    free(head);
    rp_suite_destroy(&f->s);
    free(f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delegation),
    };
    return cmocka_run_group_tests_name("cli_delegation", tests, NULL, NULL);
}
