/* test_drain.c - SIGTERM drains: what was committed is answered (DESIGN.md §4, §9).
 *
 * A client has a burst of Creates in flight when rapport-leads gets SIGTERM. The
 * service finishes the batch in hand, answers it, stops taking requests and exits
 * 0; the replies already queued still leave the socket (the ROUTER lingers). So,
 * after a restart on the same data:
 *   - every reply the client received is OK and names a lead that is there;
 *   - the event log holds exactly one lead.created per reply received: nothing was
 *     committed without its answer reaching the client, nothing answered is
 *     missing;
 *   - a request that got no answer, retried with the same id, creates its lead now.
 * The cycle runs a few times, since how much of the burst the service took before
 * the signal varies from run to run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"
#include "rapport/clock.h"
#include "rapport/status.h"
#include "rapport/ulid.h"
#include "rapport/util.h"
#include "rapport/leads/v1/leads.pb-c.h"

#define M_CREATE "rapport.leads.v1.Leads/Create"
#define M_GET "rapport.leads.v1.Leads/Get"
#define EV_CREATED "rapport.leads.v1.lead.created"
#define BURST 600
#define CYCLES 3

typedef struct {
    char id[RP_ULID_STRLEN + 1];
    char lead_id[RP_ULID_STRLEN + 1];   /* "" until answered */
    unsigned idx;
} req_t;

static int s_send_create(rp_client_t *c, const req_t *r)
{
    char name[64], tax[32];
    snprintf(name, sizeof name, "Drain Co %u", r->idx);
    snprintf(tax, sizeof tax, "DRAIN%07u", r->idx);
    Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
    co.name = name;
    co.tax_id = tax;
    Rapport__Leads__V1__CreateRequest cr = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
    cr.company = &co;
    cr.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_WEB;
    return rp_client_send(c, r->id, M_CREATE, &cr.base, NULL);
}

/* s_take - record the reply (OK, to a request we sent); returns the request. */
static req_t *s_take(req_t *reqs, size_t n, Rapport__V1__Reply *reply)
{
    req_t *r = NULL;
    for (size_t i = 0; i < n && !r; i++)
        if (reply->id && strcmp(reqs[i].id, reply->id) == 0)
            r = &reqs[i];
    if (!r)
        fail_msg("a reply for an id never sent: '%s'", reply->id ? reply->id : "");
    rp_call_status_t st;
    memset(&st, 0, sizeof st);
    rp_status_from_reply(reply, &st);
    if (st.code != RP_OK)
        fail_msg("Create %u: %s %s", r->idx, rp_code_name(st.code), st.message);
    Rapport__Leads__V1__Lead *lead = rapport__leads__v1__lead__unpack(NULL, reply->body.len, reply->body.data);
    assert_non_null(lead);
    if (r->lead_id[0])
        assert_string_equal(r->lead_id, lead->id);
    rp_strlcpy(r->lead_id, lead->id, sizeof r->lead_id);
    rapport__leads__v1__lead__free_unpacked(lead, NULL);
    return r;
}

static void test_sigterm_answers_what_it_committed(void **state)
{
    rp_suite_t *suite = rp_suite_new();
    rp_suite_start(suite, "leads", NULL);
    char *mgr = rp_suite_token(suite, "u-drain", "manager", "b1", "/b1/s", NULL, 3600);
    req_t *reqs = calloc(BURST * CYCLES, sizeof *reqs);
    assert_non_null(reqs);
    size_t n = 0, created_before = 0;

    for (int cycle = 0; cycle < CYCLES; cycle++) {
        rp_client_t *c = rp_suite_client(suite, "leads", mgr);
        size_t first = n;
        for (int i = 0; i < BURST; i++, n++) {
            reqs[n].idx = (unsigned) n;
            rp_ulid_new_str(rp_clock_now_ms(), reqs[n].id);
            assert_int_equal(s_send_create(c, &reqs[n]), 0);
        }
        /* The first answer shows the service is at work on the burst; then stop it. */
        Rapport__V1__Reply *reply = NULL;
        assert_int_equal(rp_client_recv(c, 10000, &reply), 0);
        s_take(reqs + first, n - first, reply);
        rapport__v1__reply__free_unpacked(reply, NULL);
        int status = rp_suite_kill(suite, "leads", SIGTERM);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        /* What the service answered before it exited is in our socket's queue. */
        while (rp_client_recv(c, 500, &reply) == 0) {
            s_take(reqs + first, n - first, reply);
            rapport__v1__reply__free_unpacked(reply, NULL);
        }
        rp_client_destroy(&c);
        size_t answered = 0;
        for (size_t i = first; i < n; i++)
            answered += reqs[i].lead_id[0] != '\0';
        print_message("cycle %d: %zu of %d answered before the drain ended\n", cycle, answered, BURST);

        /* Restarted: one lead.created per answer, no more, no fewer. */
        rp_suite_start(suite, "leads", NULL);
        size_t nev = 0;
        Rapport__V1__Event **ev = rp_suite_replay(suite, "leads", 1, EV_CREATED, &nev);
        assert_int_equal(nev, created_before + answered);
        for (size_t i = created_before; i < nev; i++) {
            bool known = false;
            for (size_t k = first; k < n && !known; k++)
                known = strcmp(reqs[k].lead_id, ev[i]->subject) == 0;
            if (!known)
                fail_msg("lead %s was committed but its answer never reached the client", ev[i]->subject);
        }
        rp_suite_events_free(&ev, nev);

        /* Every answered lead is there; the unanswered requests, retried, land now. */
        c = rp_suite_client(suite, "leads", mgr);
        for (size_t i = first; i < n; i++) {
            if (reqs[i].lead_id[0]) {
                Rapport__Leads__V1__GetRequest g = RAPPORT__LEADS__V1__GET_REQUEST__INIT;
                g.id = reqs[i].lead_id;
                rp_call_status_t st;
                ProtobufCMessage *got = NULL;
                assert_int_equal(rp_client_call(c, NULL, M_GET, &g.base, &rapport__leads__v1__lead__descriptor,
                                                &got, &st, 10000), RP_OK);
                assert_int_equal(st.code, RP_OK);
                protobuf_c_message_free_unpacked(got, NULL);
            } else {
                assert_int_equal(s_send_create(c, &reqs[i]), 0);
                assert_int_equal(rp_client_recv(c, 10000, &reply), 0);
                s_take(reqs + i, 1, reply);
                rapport__v1__reply__free_unpacked(reply, NULL);
            }
        }
        rp_client_destroy(&c);
        created_before = rp_suite_last_seq(suite, "leads");
        nev = 0;
        ev = rp_suite_replay(suite, "leads", 1, EV_CREATED, &nev);
        assert_int_equal(nev, n);
        assert_int_equal(created_before, n);
        rp_suite_events_free(&ev, nev);
    }
    free(reqs);
    free(mgr);
    rp_suite_destroy(&suite);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigterm_answers_what_it_committed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
