/* test_crash.c - an acknowledged write survives kill -9 (DESIGN.md §4, §7).
 *
 * A client writes Creates continuously with many requests in flight and records
 * every acknowledged (OK) reply. After one to two seconds rapport-leads is killed
 * with SIGKILL in the middle of it and restarted on the same data. Then:
 *   - every acknowledged lead is there (Get each id);
 *   - every request that got no reply, retried with the same id and body, answers OK
 *     (replayed from the idempotency table when it had committed, created now when
 *     it had not), so each request id ends up as exactly one lead;
 *   - the event log (System/Replay from 1) has seqs 1..N with no gap and no
 *     duplicate, N is Health's last_seq, and it holds exactly one lead.created per
 *     request id, naming the lead the reply named.
 * The kill/restart cycle runs three times in one test, on one growing log.
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
#include <czmq.h>
#include <sodium.h>

#include "harness.h"
#include "rapport/status.h"
#include "rapport/ulid.h"
#include "rapport/util.h"
#include "rapport/leads/v1/leads.pb-c.h"

#define M_CREATE "rapport.leads.v1.Leads/Create"
#define M_GET "rapport.leads.v1.Leads/Get"
#define M_LIST_OWNER "rapport.leads.v1.Leads/ListByOwner"
#define EV_CREATED "rapport.leads.v1.lead.created"

#define CYCLES 3
#define WINDOW 128              /* requests in flight */
#define BURST 512               /* sent just before the kill */
#define MAX_REQS 200000

typedef struct {
    char id[RP_ULID_STRLEN + 1];        /* request id */
    char lead_id[RP_ULID_STRLEN + 1];   /* from the OK reply; "" until acknowledged */
    unsigned idx;                       /* names the company */
    int cycle;
} req_t;

typedef struct {
    rp_suite_t *suite;
    char *mgr;
    req_t *reqs;
    size_t n_reqs;
    zhashx_t *by_id;            /* request id -> req_t* */
} fx_t;

static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* s_send_create - send request r's Create (the same bytes every time for r). */
static int s_send_create(rp_client_t *c, const req_t *r)
{
    char name[96], tax[48], campaign[32];
    snprintf(name, sizeof name, "Crash Test Co %u", r->idx);
    snprintf(tax, sizeof tax, "CRASH%08u", r->idx);
    snprintf(campaign, sizeof campaign, "crash-%d", r->cycle);
    Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
    co.name = name;
    co.tax_id = tax;
    Rapport__Leads__V1__CreateRequest cr = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
    cr.company = &co;
    cr.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_COLD_CALL;
    cr.campaign = campaign;
    return rp_client_send(c, r->id, M_CREATE, &cr.base, NULL);
}

/* s_take_reply - record an OK reply to a Create; any other status fails the test. */
static void s_take_reply(fx_t *fx, Rapport__V1__Reply *reply)
{
    req_t *r = zhashx_lookup(fx->by_id, reply->id ? reply->id : "");
    if (!r)
        fail_msg("a reply for an id never sent: '%s'", reply->id ? reply->id : "");
    rp_call_status_t st;
    memset(&st, 0, sizeof st);
    rp_status_from_reply(reply, &st);
    if (st.code != RP_OK)
        fail_msg("Create %u: %s %s", r->idx, rp_code_name(st.code), st.message);
    Rapport__Leads__V1__Lead *lead =
        rapport__leads__v1__lead__unpack(NULL, reply->body.len, reply->body.data);
    assert_non_null(lead);
    assert_int_equal(strlen(lead->id), RP_ULID_STRLEN);
    if (r->lead_id[0])      /* acknowledged twice: must be the same lead */
        assert_string_equal(r->lead_id, lead->id);
    rp_strlcpy(r->lead_id, lead->id, sizeof r->lead_id);
    rapport__leads__v1__lead__free_unpacked(lead, NULL);
}

static req_t *s_new_req(fx_t *fx, int cycle)
{
    assert_true(fx->n_reqs < MAX_REQS);
    req_t *r = &fx->reqs[fx->n_reqs];
    r->idx = (unsigned) fx->n_reqs;
    r->cycle = cycle;
    r->lead_id[0] = '\0';
    rp_ulid_new_str(s_now_ms(), r->id);
    zhashx_insert(fx->by_id, r->id, r);
    fx->n_reqs++;
    return r;
}

/* s_write_then_kill - write with WINDOW in flight for write_ms, then SIGKILL the
 * service while requests are still in flight; keep the replies that had arrived. */
static void s_write_then_kill(fx_t *fx, int cycle, int write_ms)
{
    rp_client_t *c = rp_suite_client(fx->suite, "leads", fx->mgr);
    size_t first = fx->n_reqs;
    int in_flight = 0;
    int64_t until = s_mono_ms() + write_ms;
    while (s_mono_ms() < until) {
        while (in_flight < WINDOW) {
            req_t *r = s_new_req(fx, cycle);
            assert_int_equal(s_send_create(c, r), 0);
            in_flight++;
        }
        Rapport__V1__Reply *reply = NULL;
        int rc = rp_client_recv(c, 10000, &reply);
        if (rc != 0)
            fail_msg("cycle %d: no reply within 10 s (rc %d), %d in flight", cycle, rc, in_flight);
        s_take_reply(fx, reply);
        rapport__v1__reply__free_unpacked(reply, NULL);
        in_flight--;
    }
    /* A last burst so that the service surely has requests queued, in its batch or
     * committed but not yet answered, then kill -9 at once. */
    for (int i = 0; i < BURST; i++) {
        assert_int_equal(s_send_create(c, s_new_req(fx, cycle)), 0);
        in_flight++;
    }
    int status = rp_suite_kill(fx->suite, "leads", SIGKILL);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* Replies already on their way to us were acknowledgements too. */
    for (;;) {
        Rapport__V1__Reply *reply = NULL;
        int rc = rp_client_recv(c, 300, &reply);
        if (rc != 0)
            break;
        s_take_reply(fx, reply);
        rapport__v1__reply__free_unpacked(reply, NULL);
    }
    rp_client_destroy(&c);
    size_t acked = 0;
    for (size_t i = first; i < fx->n_reqs; i++)
        acked += fx->reqs[i].lead_id[0] != '\0';
    print_message("cycle %d: %zu sent, %zu acknowledged before kill -9\n", cycle,
                  fx->n_reqs - first, acked);
    assert_true(acked > 0);
}

/* s_write_all - n Creates with `window` in flight, every one answered OK. */
static void s_write_all(fx_t *fx, int cycle, size_t n, int window)
{
    rp_client_t *c = rp_suite_client(fx->suite, "leads", fx->mgr);
    size_t sent = 0;
    int in_flight = 0;
    while (sent < n || in_flight > 0) {
        while (in_flight < window && sent < n) {
            assert_int_equal(s_send_create(c, s_new_req(fx, cycle)), 0);
            in_flight++;
            sent++;
        }
        Rapport__V1__Reply *reply = NULL;
        if (rp_client_recv(c, 10000, &reply) != 0)
            fail_msg("no reply within 10 s, %d in flight", in_flight);
        s_take_reply(fx, reply);
        rapport__v1__reply__free_unpacked(reply, NULL);
        in_flight--;
    }
    rp_client_destroy(&c);
}

/* s_check_acked_present - Get every acknowledged lead (pipelined). */
static void s_check_acked_present(fx_t *fx)
{
    rp_client_t *c = rp_suite_client(fx->suite, "leads", fx->mgr);
    zhashx_t *pending = zhashx_new();    /* get request id -> req_t* */
    size_t next = 0, done = 0, want = 0;
    for (size_t i = 0; i < fx->n_reqs; i++)
        want += fx->reqs[i].lead_id[0] != '\0';
    while (done < want) {
        while (zhashx_size(pending) < WINDOW && next < fx->n_reqs) {
            req_t *r = &fx->reqs[next++];
            if (!r->lead_id[0])
                continue;
            Rapport__Leads__V1__GetRequest g = RAPPORT__LEADS__V1__GET_REQUEST__INIT;
            g.id = r->lead_id;
            char gid[RP_ULID_STRLEN + 1];
            assert_int_equal(rp_client_send(c, NULL, M_GET, &g.base, gid), 0);
            zhashx_insert(pending, gid, r);
        }
        Rapport__V1__Reply *reply = NULL;
        if (rp_client_recv(c, 10000, &reply) != 0)
            fail_msg("Get: no reply within 10 s");
        req_t *r = zhashx_lookup(pending, reply->id ? reply->id : "");
        assert_non_null(r);
        zhashx_delete(pending, reply->id);
        rp_call_status_t st;
        memset(&st, 0, sizeof st);
        rp_status_from_reply(reply, &st);
        if (st.code != RP_OK)
            fail_msg("acknowledged lead %s (request %u) lost after kill -9: %s %s", r->lead_id,
                     r->idx, rp_code_name(st.code), st.message);
        Rapport__Leads__V1__Lead *lead =
            rapport__leads__v1__lead__unpack(NULL, reply->body.len, reply->body.data);
        assert_non_null(lead);
        assert_string_equal(lead->id, r->lead_id);
        char name[96];
        snprintf(name, sizeof name, "Crash Test Co %u", r->idx);
        assert_non_null(lead->company);
        assert_string_equal(lead->company->name, name);
        rapport__leads__v1__lead__free_unpacked(lead, NULL);
        rapport__v1__reply__free_unpacked(reply, NULL);
        done++;
    }
    zhashx_destroy(&pending);
    rp_client_destroy(&c);
}

/* s_retry_unacked - resend every unacknowledged request with its id and body. */
static void s_retry_unacked(fx_t *fx)
{
    rp_client_t *c = rp_suite_client(fx->suite, "leads", fx->mgr);
    size_t next = 0;
    int in_flight = 0;
    for (;;) {
        while (in_flight < WINDOW && next < fx->n_reqs) {
            req_t *r = &fx->reqs[next++];
            if (r->lead_id[0])
                continue;
            assert_int_equal(s_send_create(c, r), 0);
            in_flight++;
        }
        if (in_flight == 0)
            break;
        Rapport__V1__Reply *reply = NULL;
        if (rp_client_recv(c, 10000, &reply) != 0)
            fail_msg("retry: no reply within 10 s");
        s_take_reply(fx, reply);
        rapport__v1__reply__free_unpacked(reply, NULL);
        in_flight--;
    }
    rp_client_destroy(&c);
    for (size_t i = 0; i < fx->n_reqs; i++)
        assert_true(fx->reqs[i].lead_id[0] != '\0');
}

/* s_check_log - seqs 1..N without gap or duplicate; one lead.created per request,
 * naming the lead its reply named. */
static void s_check_log(fx_t *fx)
{
    uint64_t last = rp_suite_last_seq(fx->suite, "leads");
    size_t n = 0;
    Rapport__V1__Event **evs = rp_suite_replay(fx->suite, "leads", 1, NULL, &n);
    if ((uint64_t) n != last)
        fail_msg("replay returned %zu events, Health says last_seq %llu", n,
                 (unsigned long long) last);
    zhashx_t *created = zhashx_new();      /* lead id -> seq */
    size_t n_created = 0;
    for (size_t i = 0; i < n; i++) {
        if (evs[i]->seq != (uint64_t) i + 1)
            fail_msg("event %zu has seq %llu: a gap or a duplicate", i + 1,
                     (unsigned long long) evs[i]->seq);
        if (strcmp(evs[i]->type, EV_CREATED) == 0) {
            if (zhashx_lookup(created, evs[i]->subject))
                fail_msg("lead %s created twice (seq %llu)", evs[i]->subject,
                         (unsigned long long) evs[i]->seq);
            zhashx_insert(created, evs[i]->subject, (void *) (uintptr_t) evs[i]->seq);
            n_created++;
        }
    }
    for (size_t i = 0; i < fx->n_reqs; i++)
        if (!zhashx_lookup(created, fx->reqs[i].lead_id))
            fail_msg("no %s event for lead %s (request %u)", EV_CREATED, fx->reqs[i].lead_id,
                     fx->reqs[i].idx);
    /* Nothing created that no request asked for, and nothing twice for one id. */
    assert_int_equal(n_created, fx->n_reqs);
    zhashx_destroy(&created);
    rp_suite_events_free(&evs, n);
}

/* s_count_leads - ListByOwner, every page. */
static size_t s_count_leads(fx_t *fx)
{
    rp_client_t *c = rp_suite_client(fx->suite, "leads", fx->mgr);
    size_t n = 0;
    char *token = NULL;
    for (;;) {
        Rapport__Leads__V1__ListByOwnerRequest rq = RAPPORT__LEADS__V1__LIST_BY_OWNER_REQUEST__INIT;
        rq.page_size = 500;
        rq.page_token = token ? token : "";
        ProtobufCMessage *out = NULL;
        rp_call_status_t st;
        memset(&st, 0, sizeof st);
        int rc = rp_client_call(c, NULL, M_LIST_OWNER, &rq.base,
                                &rapport__leads__v1__list_leads_reply__descriptor, &out, &st, 10000);
        if (rc != RP_OK)
            fail_msg("ListByOwner: %s %s", rp_code_name(rc), st.message);
        Rapport__Leads__V1__ListLeadsReply *r = (Rapport__Leads__V1__ListLeadsReply *) out;
        n += r->n_leads;
        free(token);
        token = r->next_page_token && *r->next_page_token ? rp_strdup(r->next_page_token) : NULL;
        protobuf_c_message_free_unpacked(out, NULL);
        if (!token)
            break;
    }
    rp_client_destroy(&c);
    return n;
}

static void test_kill9_cycles(void **state)
{
    fx_t *fx = *state;
    rp_suite_start(fx->suite, "leads", NULL);
    for (int cycle = 1; cycle <= CYCLES; cycle++) {
        int write_ms = 1000 + (int) randombytes_uniform(1000);
        s_write_then_kill(fx, cycle, write_ms);
        rp_suite_start(fx->suite, "leads", NULL);
        s_check_acked_present(fx);
        s_retry_unacked(fx);
        s_check_log(fx);
    }
    assert_int_equal(s_count_leads(fx), fx->n_reqs);
}

/* test_map_grows_under_load - a store started with a 1 MB map takes a few MB of
 * pipelined writes (the map grows, DESIGN.md §5, never a failed write), and they
 * all survive kill -9. */
static void test_map_grows_under_load(void **state)
{
    fx_t *fx = *state;
    static const char *const env[] = { "RAPPORT_MAP_SIZE=1048576", NULL };
    rp_suite_start(fx->suite, "leads", env);
    /* Big batches (many requests in flight) make big commits: the map can also
     * fill up at commit time, not only while a request writes. */
    s_write_all(fx, 1, 6000, 1024);
    int status = rp_suite_kill(fx->suite, "leads", SIGKILL);
    assert_true(WIFSIGNALED(status));
    rp_suite_start(fx->suite, "leads", env);
    s_check_acked_present(fx);
    s_check_log(fx);
    assert_int_equal(s_count_leads(fx), fx->n_reqs);
}

static int setup(void **state)
{
    fx_t *fx = rp_calloc(1, sizeof *fx);
    fx->suite = rp_suite_new();
    fx->mgr = rp_suite_token(fx->suite, "u-crash", "manager", "b1", "/hq/sales/g1", NULL, 3600);
    fx->reqs = rp_calloc(MAX_REQS, sizeof *fx->reqs);
    fx->by_id = zhashx_new();
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    rp_suite_destroy(&fx->suite);
    zhashx_destroy(&fx->by_id);
    free(fx->reqs);
    free(fx->mgr);
    free(fx);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill9_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_grows_under_load, setup, teardown),
    };
    return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
