/* test_login_audit.c - issue 3: "Lock-out and every login are audited", and the
 * brute-force guard's state is durable, against a real rapport-identity.
 *
 * Failed logins (wrong password, unknown user, disabled user, slowed down,
 * locked) and good ones appear in `rapport audit show --service identity` with the
 * claimed username as actor and their outcome; `rapport audit verify` still finds
 * the chain intact; no password appears in any record nor anywhere in identity's
 * LMDB file. Then identity is killed with SIGKILL and started again: a user and an
 * unknown name that were locked stay locked, and a user and an unknown name that
 * were slowed down stay slowed down (the test clock is not kept across a restart,
 * so the test moves the new process's clock back to where the old one was).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "harness.h"
#include "rapport/status.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"

#define M(name) "rapport.identity.v1.Identity/" name
#define PW "tangerine-Orbit-42"
#define WRONG "wrong-Secret-4711"           /* must never be stored anywhere */
#define TIMEOUT 10000
#define LOCK_STEP_MS (10 * 1000)            /* past every slow-down before the lock */
#define MSG_BAD "invalid username or password"
#define MSG_LOCKED "account locked, try again later"

static rp_suite_t *S;
static const char *const ENV[] = { "RAPPORT_TEST_CLOCK=1", NULL };

static int s_call(const char *token, const char *method, const ProtobufCMessage *in,
                  rp_call_status_t *st)
{
    rp_client_t *c = rp_suite_client(S, "identity", token);
    ProtobufCMessage *out = NULL;
    int rc = rp_client_call(c, NULL, method, in, NULL, &out, st, TIMEOUT);
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    rp_client_destroy(&c);
    return rc;
}

static void s_user(const char *username)
{
    Rapport__Identity__V1__CreateUserRequest in = RAPPORT__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    char *roles[] = { (char *)"manager" };
    in.username = (char *)username;
    in.display_name = (char *)"Audit Test";
    in.roles = roles;
    in.n_roles = 1;
    in.branch = (char *)"hq";
    in.unit = (char *)"/hq/sales";
    in.manager = (char *)"";
    in.password = (char *)PW;
    rp_call_status_t st;
    if (s_call(rp_suite_admin_token(S), M("CreateUser"), &in.base, &st) != RP_OK)
        fail_msg("CreateUser %s: %s", username, st.message);
}

/* s_login - Login; the status, with its message in *st. */
static int s_login(const char *username, const char *password, rp_call_status_t *st)
{
    Rapport__Identity__V1__LoginRequest in = RAPPORT__IDENTITY__V1__LOGIN_REQUEST__INIT;
    in.username = (char *)username;
    in.password = (char *)password;
    return s_call(NULL, M("Login"), &in.base, st);
}

static void s_expect_login(const char *username, const char *password, int want_code,
                           const char *want_msg, const char *what)
{
    rp_call_status_t st;
    int rc = s_login(username, password, &st);
    if (rc != want_code || (want_msg && strncmp(st.message, want_msg, strlen(want_msg)) != 0))
        fail_msg("%s (%s): want %s \"%s\", got %s \"%s\"", what, username, rp_code_name(want_code),
                 want_msg ? want_msg : "", rp_code_name(rc), st.message);
}

/* s_audit - `rapport --json audit show --service identity`: every record. */
static json_t *s_audit(void)
{
    return rp_suite_cli_json(S, rp_suite_admin_token(S),
                             (const char *const[]) { "audit", "show", "--service", "identity", "--limit",
                                                     "100000", NULL });
}

/* s_count - records by actor of method (short name) whose outcome starts with
 * outcome ("" = a success: no outcome, code 0) and, when code is not -1, with that code. */
static size_t s_count(json_t *recs, const char *actor, const char *method, const char *outcome, int code)
{
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        const char *a = json_string_value(json_object_get(r, "actor"));
        const char *m = json_string_value(json_object_get(r, "method"));
        const char *o = json_string_value(json_object_get(r, "outcome"));
        json_int_t c = json_integer_value(json_object_get(r, "code"));
        char full[128];
        snprintf(full, sizeof full, M("%s"), method);
        if (!a || !m || !o || strcmp(a, actor) != 0 || strcmp(m, full) != 0)
            continue;
        if (outcome[0] ? strncmp(o, outcome, strlen(outcome)) != 0 : o[0] != 0)
            continue;
        if (code != -1 && c != code)
            continue;
        n++;
    }
    return n;
}

static void s_want(json_t *recs, const char *actor, const char *method, const char *outcome, int code,
                   size_t want)
{
    size_t n = s_count(recs, actor, method, outcome, code);
    if (n != want)
        fail_msg("audit: %zu record(s) of %s by %s with outcome \"%s\" (code %d), want %zu", n, method,
                 actor, outcome, code, want);
}

/* s_file_has - whether the file at path contains needle anywhere. */
static bool s_file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 1 << 20, len = 0, n;
    char *buf = rp_malloc(cap);
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap)
            buf = rp_realloc(buf, cap *= 2);
    }
    fclose(f);
    bool found = memmem(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

static void test_logins_audited_and_guard_durable(void **state)
{
    (void)state;
    S = rp_suite_new();
    rp_suite_start(S, "identity", ENV);
    s_user("la.anna");      /* locked before the kill */
    s_user("la.bob");       /* logs in; slowed before the kill */
    s_user("la.dora");      /* disabled */

    /* A good login: audited with the user as actor, no outcome. */
    s_expect_login("la.bob", PW, RP_OK, NULL, "good login");
    /* A disabled user with the right password: the same answer as a wrong one. */
    Rapport__Identity__V1__SetUserStateRequest dis = RAPPORT__IDENTITY__V1__SET_USER_STATE_REQUEST__INIT;
    dis.username = (char *)"la.dora";
    dis.reason = (char *)"left";
    rp_call_status_t st;
    assert_int_equal(s_call(rp_suite_admin_token(S), M("DisableUser"), &dis.base, &st), RP_OK);
    s_expect_login("la.dora", PW, RP_UNAUTHENTICATED, MSG_BAD, "disabled user");
    /* A string that is no username at all: audited, but never recorded as typed. */
    s_expect_login("Not A User!", WRONG, RP_UNAUTHENTICATED, MSG_BAD, "invalid name");

    /* Lock a user and an unknown name (the lock-out does not tell who exists). */
    const char *lock_names[] = { "la.anna", "la.ghost" };
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 5; i++) {
            s_expect_login(lock_names[k], WRONG, RP_UNAUTHENTICATED, MSG_BAD, "wrong password");
            rp_suite_clock_advance(S, "identity", LOCK_STEP_MS);
        }
        s_expect_login(lock_names[k], PW, RP_UNAUTHENTICATED, MSG_LOCKED, "right password while locked");
    }
    /* Slow down a user and an unknown name: 4 failures, so the next attempt must
     * wait 4 s after the last. */
    const char *slow_names[] = { "la.bob", "la.ghost2" };
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 3; i++)
            s_expect_login(slow_names[k], WRONG, RP_UNAUTHENTICATED, MSG_BAD, "wrong password");
    rp_suite_clock_advance(S, "identity", 2100);
    for (int k = 0; k < 2; k++)
        s_expect_login(slow_names[k], WRONG, RP_UNAUTHENTICATED, MSG_BAD, "4th wrong password");
    for (int k = 0; k < 2; k++)
        s_expect_login(slow_names[k], PW, RP_RESOURCE_EXHAUSTED, "too many failed attempts", "slowed down");
    int64_t before_kill = rp_suite_now(S, "identity");

    /* Every one of them is in the audit trail, as the CLI shows it. */
    json_t *recs = s_audit();
    s_want(recs, "la.bob", "Login", "", RP_OK, 1);
    s_want(recs, "la.dora", "Login", "login failed: bad credentials", RP_UNAUTHENTICATED, 1);
    s_want(recs, "(invalid username)", "Login", "login failed: bad credentials", RP_UNAUTHENTICATED, 1);
    for (int k = 0; k < 2; k++) {
        /* 4 plain failures, the one that locks, the right password refused */
        s_want(recs, lock_names[k], "Login", "login failed: bad credentials", RP_UNAUTHENTICATED, 5);
        s_want(recs, lock_names[k], "Login", "login failed: bad credentials; locked for", RP_UNAUTHENTICATED, 1);
        s_want(recs, lock_names[k], "Login", "login refused: account locked", RP_UNAUTHENTICATED, 1);
        s_want(recs, slow_names[k], "Login", "login failed: bad credentials", RP_UNAUTHENTICATED, 4);
        s_want(recs, slow_names[k], "Login", "login refused: slowed down", RP_RESOURCE_EXHAUSTED, 1);
    }
    /* The table shows the outcome too. */
    char *table = NULL;
    assert_int_equal(rp_suite_run_cli(S, rp_suite_admin_token(S), &table,
                                      (const char *const[]) { "audit", "show", "--service", "identity",
                                                              "--actor", "la.dora", NULL }), 0);
    assert_non_null(strstr(table, "OUTCOME"));
    assert_non_null(strstr(table, "login failed: bad credentials"));
    free(table);
    /* The same outcome for a wrong password of a user and for an unknown name; the
     * subject tells auditors which it was (the user's id, or none). */
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        const char *a = json_string_value(json_object_get(r, "actor"));
        const char *subj = json_string_value(json_object_get(r, "subject"));
        if (a && strcmp(a, "la.ghost") == 0)
            assert_string_equal(subj, "");
        if (a && strcmp(a, "la.anna") == 0)
            assert_int_equal(strlen(subj), 26);
    }
    /* No password, right or wrong, in any record. */
    char *text = json_dumps(recs, JSON_COMPACT);
    assert_null(strstr(text, WRONG));
    assert_null(strstr(text, PW));
    assert_null(strstr(text, "Not A User!"));
    free(text);
    json_decref(recs);
    /* The chain with the failures in it still verifies. */
    rp_cli_run_t v = rp_suite_cli(S, rp_suite_admin_token(S), NULL,
                                  (const char *const[]) { "audit", "verify", "--service", "identity", NULL });
    assert_int_equal(v.status, 0);
    assert_non_null(strstr(v.out, "audit chain intact"));
    rp_cli_run_free(&v);

    /* kill -9, start again, and put the clock back where it was. */
    rp_suite_kill(S, "identity", SIGKILL);
    rp_suite_start(S, "identity", ENV);
    int64_t now = rp_suite_now(S, "identity");
    if (now < before_kill)
        rp_suite_clock_advance(S, "identity", before_kill - now);
    for (int k = 0; k < 2; k++)
        s_expect_login(slow_names[k], PW, RP_RESOURCE_EXHAUSTED, "too many failed attempts",
                       "still slowed down after kill -9");
    for (int k = 0; k < 2; k++)
        s_expect_login(lock_names[k], PW, RP_UNAUTHENTICATED, MSG_LOCKED, "still locked after kill -9");
    /* ...until the lock time is over (15 min). */
    rp_suite_clock_advance(S, "identity", 16 * 60 * 1000);
    s_expect_login("la.anna", PW, RP_OK, NULL, "after the lock time");
    s_expect_login("la.bob", PW, RP_OK, NULL, "after the slow-down");

    recs = s_audit();
    s_want(recs, "la.anna", "Login", "login refused: account locked", RP_UNAUTHENTICATED, 2);
    s_want(recs, "la.anna", "Login", "", RP_OK, 1);
    json_decref(recs);
    v = rp_suite_cli(S, rp_suite_admin_token(S), NULL,
                     (const char *const[]) { "audit", "verify", "--service", "identity", NULL });
    assert_int_equal(v.status, 0);
    rp_cli_run_free(&v);

    /* Nothing in identity's store holds a password in clear. */
    char *mdb = rp_sprintf("%s/data/identity/data.mdb", rp_suite_dir(S));
    assert_false(s_file_has(mdb, WRONG));
    assert_false(s_file_has(mdb, PW));
    free(mdb);
    rp_suite_destroy(&S);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logins_audited_and_guard_durable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
