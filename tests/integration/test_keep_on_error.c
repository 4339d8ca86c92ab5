/* test_keep_on_error.c - rp_ctx_keep_on_error (service.h) on a real process: the
 * fixture rapport-tally's Bump writes a counter and an event, and with fail answers
 * an error instead; with fail and keep it asks the skeleton to keep a record of the
 * failure first (1 more in "kept/<name>" and an audit record with its outcome).
 *
 * One pipelined window mixes good bumps, failures without a kept record, failures
 * with one, and retries of those (same request id and body), so that the failing
 * writes fall inside the skeleton's speculative groups (service_write.c). Each
 * failure with keep must leave exactly its kept counter and one audit record with
 * its code and outcome, and nothing else of what its handler wrote; a failure
 * without keep nothing at all; every good bump its counter, event and record; and
 * all of it must still be there after kill -9.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <cmocka.h>
#include "harness.h"
#include "rapport/audit.h"
#include "rapport/status.h"
#include "rapport/sys/v1/system.pb-c.h"
#include "tally.pb-c.h"

#define WINDOW 48
#define M_BUMP "rapport.tally.v1.Tally/Bump"

typedef enum { GOOD, FAIL, FAIL_KEEP, RETRY_OF } kind_t;
typedef struct {
    kind_t kind;
    int of;                 /* RETRY_OF: the earlier FAIL_KEEP request it repeats */
} row_t;

static void
s_plan(row_t rows[WINDOW])
{
    for (int i = 0; i < WINDOW; i++) {
        rows[i] = (row_t) { GOOD, -1 };
        if (i % 5 == 1)
            rows[i].kind = FAIL;
        else if (i % 5 == 3)
            rows[i].kind = FAIL_KEEP;
        else if (i % 10 == 4)
            rows[i] = (row_t) { RETRY_OF, i - 1 };      /* i - 1 is a FAIL_KEEP */
    }
}

/* s_src - the request whose name, id and body row i uses. */
static int
s_src(const row_t *rows, int i)
{
    return rows[i].kind == RETRY_OF ? rows[i].of : i;
}

/* s_counter - Tally/Get's value of one counter. */
static uint64_t
s_counter(rp_client_t *c, const char *name)
{
    Rapport__Tally__V1__GetRequest req = RAPPORT__TALLY__V1__GET_REQUEST__INIT;
    req.counter = (char *) name;
    Rapport__Tally__V1__Counts *out = NULL;
    assert_int_equal(rp_client_call(c, NULL, "rapport.tally.v1.Tally/Get", &req.base,
                                    &rapport__tally__v1__counts__descriptor,
                                    (ProtobufCMessage **) &out, NULL, 10000), RP_OK);
    uint64_t v = out->value;
    rapport__tally__v1__counts__free_unpacked(out, NULL);
    return v;
}

/* s_check_state - counters, events and the audit chain as the window must leave them. */
static void
s_check_state(rp_suite_t *suite, const row_t *rows, const char *run, uint64_t seq0)
{
    rp_client_t *c = rp_suite_client(suite, "tally", rp_suite_admin_token(suite));
    size_t n_good = 0, n_kept = 0;
    for (int i = 0; i < WINDOW; i++) {
        char name[64], key[80];
        snprintf(name, sizeof name, "%s-%d", run, s_src(rows, i));
        snprintf(key, sizeof key, "bump/%s", name);
        uint64_t bumps = s_counter(c, key);
        snprintf(key, sizeof key, "kept/%s", name);
        uint64_t kept = s_counter(c, key);
        uint64_t want_kept = 0;
        if (rows[i].kind == FAIL_KEEP || rows[i].kind == RETRY_OF) {
            n_kept++;
            for (int k = 0; k < WINDOW; k++)        /* the request and its retries */
                want_kept += s_src(rows, k) == s_src(rows, i);
        }
        n_good += rows[i].kind == GOOD;
        if (bumps != (rows[i].kind == GOOD) || kept != want_kept)
            fail_msg("request %d (kind %d): bump/ %llu, kept/ %llu; want %d and %llu", i,
                     rows[i].kind, (unsigned long long) bumps, (unsigned long long) kept,
                     rows[i].kind == GOOD, (unsigned long long) want_kept);
    }
    /* Events: one tally.bumped per good bump, none of the failures. */
    size_t n_events = 0;
    Rapport__V1__Event **evs = rp_suite_replay(suite, "tally", seq0 + 1, NULL, &n_events);
    assert_int_equal(n_events, n_good);
    for (size_t k = 0; k < n_events; k++)
        assert_string_equal(evs[k]->type, "rapport.tally.v1.tally.bumped");
    rp_suite_events_free(&evs, n_events);

    /* Audit: one record per good bump and per kept failure, in an intact chain. */
    Rapport__Sys__V1__AuditRequest areq = RAPPORT__SYS__V1__AUDIT_REQUEST__INIT;
    areq.from_seq = 1;
    Rapport__Sys__V1__AuditReply *ar;
    assert_int_equal(rp_client_call(c, NULL, "rapport.sys.v1.System/Audit", &areq.base,
                                    &rapport__sys__v1__audit_reply__descriptor,
                                    (ProtobufCMessage **) &ar, NULL, 10000), RP_OK);
    assert_int_equal(ar->n_records, n_good + n_kept);
    uint8_t prev[RP_AUDIT_HASH] = { 0 };
    assert_int_equal(rp_audit_check(ar->records, ar->n_records, 1, prev), 0);
    size_t seen_good = 0, seen_kept = 0;
    for (size_t k = 0; k < ar->n_records; k++) {
        const Rapport__Sys__V1__AuditRecord *r = ar->records[k];
        assert_string_equal(r->method, M_BUMP);
        assert_string_equal(r->actor, "it-admin");
        if (r->code == RP_OK) {
            assert_string_equal(r->outcome, "");
            seen_good++;
            continue;
        }
        assert_int_equal(r->code, RP_FAILED_PRECONDITION);
        char want[80];
        snprintf(want, sizeof want, "bump refused: %s", r->subject);
        assert_string_equal(r->outcome, want);
        int i = -1;
        for (int j = 0; j < WINDOW && i < 0; j++) {
            char name[64];
            snprintf(name, sizeof name, "%s-%d", run, j);
            if (strcmp(name, r->subject) == 0)
                i = j;
        }
        assert_true(i >= 0);
        assert_int_equal(rows[i].kind, FAIL_KEEP);
        char id[64];
        snprintf(id, sizeof id, "ke-%s-%d", run, i);
        assert_string_equal(r->request_id, id);
        seen_kept++;
    }
    assert_int_equal(seen_good, n_good);
    assert_int_equal(seen_kept, n_kept);
    rapport__sys__v1__audit_reply__free_unpacked(ar, NULL);
    rp_client_destroy(&c);
}

static void
test_kept_records_in_a_mixed_window(void **state)
{
    (void) state;
    rp_suite_t *suite = rp_suite_new();
    rp_suite_start(suite, "leads", NULL);
    rp_suite_start_following(suite, "tally", "leads", NULL);
    rp_client_t *c = rp_suite_client(suite, "tally", rp_suite_admin_token(suite));
    uint64_t seq0 = rp_suite_last_seq(suite, "tally");

    row_t rows[WINDOW];
    s_plan(rows);
    char run[16];
    snprintf(run, sizeof run, "%08x", (unsigned) random());
    char ids[WINDOW][64];
    for (int i = 0; i < WINDOW; i++) {
        int src = s_src(rows, i);
        char name[64];
        snprintf(name, sizeof name, "%s-%d", run, src);
        snprintf(ids[i], sizeof ids[i], "ke-%s-%d", run, src);
        Rapport__Tally__V1__BumpRequest b = RAPPORT__TALLY__V1__BUMP_REQUEST__INIT;
        b.name = name;
        b.fail = rows[src].kind != GOOD;
        b.keep = rows[src].kind == FAIL_KEEP;
        uint8_t body[128];
        size_t len = rapport__tally__v1__bump_request__pack(&b, body);
        Rapport__V1__Request req = RAPPORT__V1__REQUEST__INIT;
        req.id = ids[i];
        req.method = (char *) M_BUMP;
        req.token = (char *) rp_suite_admin_token(suite);
        req.body.data = body;
        req.body.len = len;
        uint8_t frame[2048];
        size_t n = rapport__v1__request__pack(&req, frame);
        assert_int_equal(rp_client_send_frame(c, frame, n), 0);
    }
    /* Every reply: OK for a good bump, the handler's own error for every failure
     * (a kept record does not change the reply, and a retry is not answered from an
     * idempotency record: it runs again). */
    for (int got = 0; got < WINDOW; got++) {
        Rapport__V1__Reply *r;
        assert_int_equal(rp_client_recv(c, 10000, &r), 0);
        int at = -1;
        for (int i = 0; i < WINDOW && at < 0; i++)
            if (strcmp(ids[i], r->id) == 0)
                at = i;
        assert_true(at >= 0);
        if (rows[at].kind == GOOD)
            assert_int_equal(r->status->code, RP_OK);
        else {
            assert_int_equal(r->status->code, RP_FAILED_PRECONDITION);
            assert_string_equal(r->status->message, "asked to fail");
        }
        rapport__v1__reply__free_unpacked(r, NULL);
    }
    rp_client_destroy(&c);
    s_check_state(suite, rows, run, seq0);

    /* Acknowledged means durable: the same after kill -9. */
    rp_suite_kill(suite, "tally", SIGKILL);
    rp_suite_start_following(suite, "tally", "leads", NULL);
    s_check_state(suite, rows, run, seq0);
    rp_suite_destroy(&suite);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kept_records_in_a_mixed_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
