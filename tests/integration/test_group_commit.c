/* test_group_commit.c - the write path's batches against a real rapport-leads.
 *
 * Many writes pipelined into one window land in one batch, and the skeleton runs
 * them speculatively in shared nested transactions (service_write.c). A write
 * that fails inside such a group must fail alone: every other write of the batch
 * lands exactly once, with its event and audit record, as if each had had a
 * nested transaction of its own. This sends one window that mixes good creates,
 * duplicates of creates earlier in the same window, invalid bodies and retries of
 * the same request id, and checks every reply, the event log and the audit chain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "harness.h"
#include "rapport/audit.h"
#include "rapport/status.h"
#include "rapport/leads/v1/leads.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"

#define WINDOW 64

/* What each request of the window is, and what must come back. */
typedef enum { GOOD, DUP_OF, INVALID, RETRY_OF } kind_t;
typedef struct {
    kind_t kind;
    int of;                 /* DUP_OF / RETRY_OF: index of the earlier request */
    int want_code;
} row_t;

/* s_plan - a deterministic mix: mostly good, with failures spread through. */
static void
s_plan(row_t rows[WINDOW])
{
    for (int i = 0; i < WINDOW; i++) {
        rows[i] = (row_t) { GOOD, -1, RP_OK };
        if (i % 9 == 4)
            rows[i] = (row_t) { DUP_OF, i - 3, RP_ALREADY_EXISTS };
        else if (i % 11 == 7)
            rows[i] = (row_t) { INVALID, -1, RP_INVALID_ARGUMENT };
        else if (i % 13 == 10)
            rows[i] = (row_t) { RETRY_OF, i - 2, -1 };     /* the reply of `of` */
    }
    /* A retry must name a good create. */
    for (int i = 0; i < WINDOW; i++)
        if (rows[i].kind == RETRY_OF && rows[rows[i].of].kind != GOOD)
            rows[i] = (row_t) { GOOD, -1, RP_OK };
    for (int i = 0; i < WINDOW; i++)
        if (rows[i].kind == DUP_OF && rows[rows[i].of].kind != GOOD)
            rows[i] = (row_t) { GOOD, -1, RP_OK };
}

/* s_body - the Create body of request i (a duplicate reuses the tax id of `of`). */
static size_t
s_body(const row_t *rows, int i, const char *run, uint8_t *buf)
{
    char name[64], tax[64];
    int src = rows[i].kind == RETRY_OF ? rows[i].of : i;
    snprintf(name, sizeof name, "Group Co %s %d", run, src);
    snprintf(tax, sizeof tax, "GC%s%d", run, rows[i].kind == DUP_OF ? rows[i].of : src);
    Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
    co.name = rows[i].kind == INVALID ? (char *) "" : name;    /* name is required */
    co.tax_id = tax;
    Rapport__Leads__V1__CreateRequest req = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
    req.company = &co;
    req.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_WEB;
    return rapport__leads__v1__create_request__pack(&req, buf);
}

static void
test_one_window_mixed(void **state)
{
    (void) state;
    rp_suite_t *suite = rp_suite_new();
    rp_suite_start(suite, "leads", NULL);
    char *token = rp_suite_token(suite, "gina", "manager", "hq", "/hq/sales", NULL, 3600);
    rp_client_t *c = rp_suite_client(suite, "leads", token);
    uint64_t seq0 = rp_suite_last_seq(suite, "leads");

    row_t rows[WINDOW];
    s_plan(rows);
    char run[16];
    snprintf(run, sizeof run, "%08x", (unsigned) random());
    char ids[WINDOW][40];
    /* The whole window goes out before any reply is read: one batch (or a few). */
    for (int i = 0; i < WINDOW; i++) {
        uint8_t body[512];
        size_t len = s_body(rows, i, run, body);
        Rapport__V1__Request req = RAPPORT__V1__REQUEST__INIT;
        if (rows[i].kind == RETRY_OF)
            memcpy(ids[i], ids[rows[i].of], sizeof ids[i]);
        else
            snprintf(ids[i], sizeof ids[i], "gc-%s-%d", run, i);
        req.id = ids[i];
        req.method = (char *) "rapport.leads.v1.Leads/Create";
        req.token = token;
        req.body.data = body;
        req.body.len = len;
        uint8_t frame[1024];
        size_t n = rapport__v1__request__pack(&req, frame);
        assert_int_equal(rp_client_send_frame(c, frame, n), 0);
    }
    /* Collect the replies by request id (retries share an id: two replies each). */
    Rapport__V1__Reply *replies[WINDOW][2] = { { 0 } };
    for (int got = 0; got < WINDOW; got++) {
        Rapport__V1__Reply *r;
        assert_int_equal(rp_client_recv(c, 10000, &r), 0);
        int at = -1;
        for (int i = 0; i < WINDOW && at < 0; i++)
            if (strcmp(ids[i], r->id) == 0 && rows[i].kind != RETRY_OF)
                at = i;
        assert_true(at >= 0);
        replies[at][replies[at][0] ? 1 : 0] = r;
    }
    char lead_ids[WINDOW][32] = { { 0 } };
    size_t n_ok = 0;
    for (int i = 0; i < WINDOW; i++) {
        if (rows[i].kind == RETRY_OF) {
            /* The original and the retry: the same reply, byte for byte. */
            Rapport__V1__Reply *a = replies[rows[i].of][0], *b = replies[rows[i].of][1];
            assert_non_null(a);
            assert_non_null(b);
            assert_int_equal(a->status->code, RP_OK);
            assert_int_equal(b->status->code, RP_OK);
            assert_int_equal(a->body.len, b->body.len);
            assert_memory_equal(a->body.data, b->body.data, a->body.len);
            continue;
        }
        Rapport__V1__Reply *r = replies[i][0];
        assert_non_null(r);
        if ((int) r->status->code != rows[i].want_code)
            fail_msg("request %d (kind %d): %s %s, want %s", i, rows[i].kind,
                     rp_code_name(r->status->code), r->status->message,
                     rp_code_name(rows[i].want_code));
        if (rows[i].kind == GOOD) {
            Rapport__Leads__V1__Lead *lead =
                rapport__leads__v1__lead__unpack(NULL, r->body.len, r->body.data);
            assert_non_null(lead);
            snprintf(lead_ids[i], sizeof lead_ids[i], "%s", lead->id);
            rapport__leads__v1__lead__free_unpacked(lead, NULL);
            n_ok++;
        }
    }
    /* A duplicate names the lead created earlier in the same window. */
    for (int i = 0; i < WINDOW; i++)
        if (rows[i].kind == DUP_OF)
            assert_string_equal(replies[i][0]->status->existing_id, lead_ids[rows[i].of]);

    /* Exactly one lead.created per good create, gapless, nothing else. */
    size_t n_events = 0;
    Rapport__V1__Event **evs = rp_suite_replay(suite, "leads", seq0 + 1, NULL, &n_events);
    assert_int_equal(n_events, n_ok);
    for (size_t k = 0; k < n_events; k++) {
        assert_int_equal(evs[k]->seq, seq0 + 1 + k);
        assert_string_equal(evs[k]->type, "rapport.leads.v1.lead.created");
        int found = 0;
        for (int i = 0; i < WINDOW; i++)
            found += rows[i].kind == GOOD && strcmp(lead_ids[i], evs[k]->subject) == 0;
        assert_int_equal(found, 1);
    }
    rp_suite_events_free(&evs, n_events);

    /* The audit chain holds one record per good create and verifies. */
    rp_client_t *adm = rp_suite_client(suite, "leads", rp_suite_admin_token(suite));
    Rapport__Sys__V1__AuditRequest areq = RAPPORT__SYS__V1__AUDIT_REQUEST__INIT;
    areq.from_seq = 1;
    Rapport__Sys__V1__AuditReply *ar;
    assert_int_equal(rp_client_call(adm, NULL, "rapport.sys.v1.System/Audit", &areq.base,
                                    &rapport__sys__v1__audit_reply__descriptor,
                                    (ProtobufCMessage **) &ar, NULL, 10000), RP_OK);
    assert_int_equal(ar->n_records, n_ok);
    uint8_t prev[RP_AUDIT_HASH] = { 0 };
    assert_int_equal(rp_audit_check(ar->records, ar->n_records, 1, prev), 0);
    rapport__sys__v1__audit_reply__free_unpacked(ar, NULL);

    for (int i = 0; i < WINDOW; i++)
        for (int k = 0; k < 2; k++)
            if (replies[i][k])
                rapport__v1__reply__free_unpacked(replies[i][k], NULL);
    rp_client_destroy(&adm);
    rp_client_destroy(&c);
    free(token);
    rp_suite_destroy(&suite);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_window_mixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
