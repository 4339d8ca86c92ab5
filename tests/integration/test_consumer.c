/* test_consumer.c - rp_consumer against a real rapport-leads (DESIGN.md §7): events
 * are delivered strictly in seq order, each exactly once, whether they arrive live on
 * the PUB socket, are fetched through System/Replay after a restart from a saved
 * position, or are revealed only by the heartbeat.
 *
 * Every case compares what the consumer delivered with the service's own log
 * (System/Replay through the harness): the same seqs, ids and types, in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <czmq.h>

#include "harness.h"
#include "rapport/status.h"
#include "rapport/ulid.h"
#include "rapport/util.h"
#include "rapport/leads/v1/leads.pb-c.h"

#define M_CREATE "rapport.leads.v1.Leads/Create"
#define M_SET_STAGE "rapport.leads.v1.Leads/SetStage"
#define EV_CREATED "rapport.leads.v1.lead.created"
#define HEARTBEAT_MS 250

static const char *const SVC_ENV[] = { "RAPPORT_HEARTBEAT_MS=250", NULL };

typedef struct {
    uint64_t seq;
    char id[RP_ULID_STRLEN + 1];
    char type[128];
} got_t;

typedef struct {
    rp_suite_t *suite;
    char *mgr;          /* writes */
    char *integ;        /* events.replay */
    unsigned n_leads;   /* names */
    got_t *got;         /* what consumers delivered, in order */
    size_t n_got, cap_got;
    uint64_t pos_after;  /* rp_consumer_position right after the last delivery */
    char first_pub[256];
} fx_t;

static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- writes ---- */

static void s_create(fx_t *fx, rp_client_t *c, char id_out[RP_ULID_STRLEN + 1])
{
    char name[64], tax[32];
    unsigned n = ++fx->n_leads;
    snprintf(name, sizeof name, "Consumer Co %u", n);
    snprintf(tax, sizeof tax, "CONS%06u", n);
    Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
    co.name = name;
    co.tax_id = tax;
    Rapport__Leads__V1__CreateRequest cr = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
    cr.company = &co;
    cr.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_EXHIBITION;
    ProtobufCMessage *out = NULL;
    rp_call_status_t st;
    memset(&st, 0, sizeof st);
    int rc = rp_client_call(c, NULL, M_CREATE, &cr.base, &rapport__leads__v1__lead__descriptor,
                            &out, &st, 10000);
    if (rc != RP_OK)
        fail_msg("Create: %s %s", rp_code_name(rc), st.message);
    rp_strlcpy(id_out, ((Rapport__Leads__V1__Lead *) out)->id, RP_ULID_STRLEN + 1);
    protobuf_c_message_free_unpacked(out, NULL);
}

static void s_set_stage(rp_client_t *c, const char *id, Rapport__Leads__V1__LeadStage stage)
{
    Rapport__Leads__V1__SetStageRequest rq = RAPPORT__LEADS__V1__SET_STAGE_REQUEST__INIT;
    rq.id = (char *) id;
    rq.stage = stage;
    ProtobufCMessage *out = NULL;
    rp_call_status_t st;
    memset(&st, 0, sizeof st);
    int rc = rp_client_call(c, NULL, M_SET_STAGE, &rq.base, &rapport__leads__v1__lead__descriptor,
                            &out, &st, 10000);
    if (rc != RP_OK)
        fail_msg("SetStage: %s %s", rp_code_name(rc), st.message);
    protobuf_c_message_free_unpacked(out, NULL);
}

/* s_write - n leads; every second one also moves on to CONTACTED, so the log holds
 * more than one type of event. */
static void s_write(fx_t *fx, int n)
{
    rp_client_t *c = rp_suite_client(fx->suite, "leads", fx->mgr);
    for (int i = 0; i < n; i++) {
        char id[RP_ULID_STRLEN + 1];
        s_create(fx, c, id);
        if (fx->n_leads % 2 == 0)
            s_set_stage(c, id, RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_CONTACTED);
    }
    rp_client_destroy(&c);
}

/* ---- consuming ---- */

static rp_consumer_t *s_consumer(fx_t *fx, const char *token, const char *prefix, uint64_t from)
{
    rp_consumer_opts_t o = {
        .rpc_endpoint = rp_suite_rpc(fx->suite, "leads"),
        .pub_endpoint = rp_suite_pub(fx->suite, "leads"),
        .server_public_z85 = rp_suite_server_key(fx->suite, "leads"),
        .me = rp_suite_client_cert(fx->suite),
        .token = token,
        .type_prefix = prefix ? prefix : "",
        .from_seq = from,
    };
    rp_consumer_t *c = rp_consumer_new(&o);
    assert_non_null(c);
    return c;
}

static void s_record(fx_t *fx, const Rapport__V1__Event *ev)
{
    if (fx->n_got == fx->cap_got) {
        fx->cap_got = fx->cap_got ? fx->cap_got * 2 : 64;
        fx->got = rp_realloc(fx->got, fx->cap_got * sizeof *fx->got);
    }
    got_t *g = &fx->got[fx->n_got++];
    g->seq = ev->seq;
    rp_strlcpy(g->id, ev->id ? ev->id : "", sizeof g->id);
    rp_strlcpy(g->type, ev->type ? ev->type : "", sizeof g->type);
}

/* s_consume_through - call next until an event with seq >= last has been delivered
 * (within budget_ms); every delivered event is recorded, and must come in
 * increasing seq order. */
static void s_consume_through(fx_t *fx, rp_consumer_t *c, uint64_t last, int budget_ms)
{
    int64_t until = s_mono_ms() + budget_ms;
    while (fx->n_got == 0 || fx->got[fx->n_got - 1].seq < last) {
        int left = (int) (until - s_mono_ms());
        if (left <= 0)
            fail_msg("consumer stopped at seq %llu (position %llu) of %llu",
                     fx->n_got ? (unsigned long long) fx->got[fx->n_got - 1].seq : 0ULL,
                     (unsigned long long) rp_consumer_position(c), (unsigned long long) last);
        Rapport__V1__Event *ev = NULL;
        int rc = rp_consumer_next(c, left < 500 ? left : 500, &ev);
        if (rc == -1)
            fail_msg("consumer error: %s", rp_consumer_last_error(c));
        if (rc == 1)
            continue;
        assert_non_null(ev);
        if (fx->n_got && ev->seq <= fx->got[fx->n_got - 1].seq)
            fail_msg("seq %llu delivered after %llu", (unsigned long long) ev->seq,
                     (unsigned long long) fx->got[fx->n_got - 1].seq);
        /* A caller that saved the position after the previous event and restarted
         * from it would start here: it must not have skipped this event. */
        if (fx->n_got && ev->seq < fx->pos_after)
            fail_msg("position ran ahead of delivery: it said %llu after seq %llu, "
                     "yet seq %llu was still to be delivered",
                     (unsigned long long) fx->pos_after,
                     (unsigned long long) fx->got[fx->n_got - 1].seq,
                     (unsigned long long) ev->seq);
        s_record(fx, ev);
        fx->pos_after = rp_consumer_position(c);
        assert_true(fx->pos_after > ev->seq);
        rapport__v1__event__free_unpacked(ev, NULL);
    }
}

/* s_expect_quiet - nothing more is delivered for ms (heartbeats keep coming). */
static void s_expect_quiet(rp_consumer_t *c, int ms)
{
    int64_t until = s_mono_ms() + ms;
    while (s_mono_ms() < until) {
        Rapport__V1__Event *ev = NULL;
        int rc = rp_consumer_next(c, 200, &ev);
        if (rc == 0) {
            unsigned long long seq = ev->seq;
            rapport__v1__event__free_unpacked(ev, NULL);
            fail_msg("an extra event was delivered: seq %llu", seq);
        }
        if (rc == -1)
            fail_msg("consumer error: %s", rp_consumer_last_error(c));
    }
}

/* s_check_against_log - what was delivered is exactly the log's events from
 * from_seq (matching prefix), in order, each once. */
static void s_check_against_log(fx_t *fx, uint64_t from_seq, const char *prefix)
{
    size_t n = 0;
    Rapport__V1__Event **evs = rp_suite_replay(fx->suite, "leads", from_seq, prefix, &n);
    if (n != fx->n_got)
        fail_msg("delivered %zu events, the log holds %zu from seq %llu (prefix '%s')",
                 fx->n_got, n, (unsigned long long) from_seq, prefix ? prefix : "");
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(fx->got[i].seq, evs[i]->seq);
        assert_string_equal(fx->got[i].id, evs[i]->id);
        assert_string_equal(fx->got[i].type, evs[i]->type);
        if (prefix)
            assert_true(rp_str_has_prefix(fx->got[i].type, prefix));
    }
    rp_suite_events_free(&evs, n);
}

/* ---- cases ---- */

/* test_catch_up_and_follow - consume live from 1, stop, write while disconnected,
 * resume from the saved position: replay catches up, then live events and
 * heartbeats follow; seqs 1..N exactly once, in order. */
static void test_catch_up_and_follow(void **state)
{
    fx_t *fx = *state;
    rp_consumer_t *c = s_consumer(fx, fx->integ, NULL, 1);
    s_write(fx, 4);
    uint64_t last = rp_suite_last_seq(fx->suite, "leads");
    assert_true(last >= 4);
    s_consume_through(fx, c, last, 10000);
    assert_int_equal(fx->got[0].seq, 1);
    uint64_t pos = rp_consumer_position(c);
    assert_int_equal(pos, last + 1);
    rp_consumer_destroy(&c);
    assert_null(c);

    /* Disconnected: these can only come back through Replay. */
    s_write(fx, 6);
    uint64_t last2 = rp_suite_last_seq(fx->suite, "leads");
    assert_true(last2 > last);

    c = s_consumer(fx, fx->integ, NULL, pos);
    assert_int_equal(rp_consumer_position(c), pos);
    s_consume_through(fx, c, last2, 10000);
    /* Live again, written while the consumer is not polling. */
    s_write(fx, 3);
    uint64_t last3 = rp_suite_last_seq(fx->suite, "leads");
    s_consume_through(fx, c, last3, 10000);
    /* Then heartbeats only: nothing is delivered twice. */
    s_expect_quiet(c, 4 * HEARTBEAT_MS);
    assert_int_equal(rp_consumer_position(c), last3 + 1);
    rp_consumer_destroy(&c);

    for (size_t i = 0; i < fx->n_got; i++)
        assert_int_equal(fx->got[i].seq, (uint64_t) i + 1);
    s_check_against_log(fx, 1, NULL);
    size_t creates = 0;
    for (size_t i = 0; i < fx->n_got; i++)
        creates += strcmp(fx->got[i].type, EV_CREATED) == 0;
    assert_int_equal(creates, fx->n_leads);
}

/* test_resume_mid_backlog - a durable consumer saves the position after each event
 * it handles; stopped after 3 events of a backlog that one Replay fetched at once,
 * and resumed from the saved position, it must go on with the 4th: no event lost. */
static void test_resume_mid_backlog(void **state)
{
    fx_t *fx = *state;
    s_write(fx, 8);
    uint64_t last = rp_suite_last_seq(fx->suite, "leads");
    assert_true(last > 4);
    rp_consumer_t *c = s_consumer(fx, fx->integ, NULL, 1);
    uint64_t saved = 1;
    for (int i = 0; i < 3; i++) {
        Rapport__V1__Event *ev = NULL;
        int rc = rp_consumer_next(c, 10000, &ev);
        if (rc != 0)
            fail_msg("next: rc %d %s", rc, rc == -1 ? rp_consumer_last_error(c) : "");
        if (ev->seq != saved)
            fail_msg("delivered seq %llu, but the position saved after the previous event "
                     "said %llu: a consumer resumed from it would skip events",
                     (unsigned long long) ev->seq, (unsigned long long) saved);
        s_record(fx, ev);
        rapport__v1__event__free_unpacked(ev, NULL);
        saved = rp_consumer_position(c);    /* what a durable consumer would store */
    }
    rp_consumer_destroy(&c);
    c = s_consumer(fx, fx->integ, NULL, saved);
    fx->pos_after = saved;
    s_consume_through(fx, c, last, 10000);
    rp_consumer_destroy(&c);
    for (size_t i = 0; i < fx->n_got; i++)
        if (fx->got[i].seq != (uint64_t) i + 1)
            fail_msg("after resuming from the saved position %llu the consumer delivered "
                     "seq %llu where %zu was due: events were lost",
                     (unsigned long long) saved, (unsigned long long) fx->got[i].seq, i + 1);
    s_check_against_log(fx, 1, NULL);
}

/* test_start_at_the_tail - a consumer from last+1 delivers only what comes next. */
static void test_start_at_the_tail(void **state)
{
    fx_t *fx = *state;
    s_write(fx, 3);
    uint64_t last = rp_suite_last_seq(fx->suite, "leads");
    rp_consumer_t *c = s_consumer(fx, fx->integ, NULL, last + 1);
    s_expect_quiet(c, 3 * HEARTBEAT_MS);
    assert_int_equal(rp_consumer_position(c), last + 1);
    s_write(fx, 2);
    uint64_t last2 = rp_suite_last_seq(fx->suite, "leads");
    s_consume_through(fx, c, last2, 10000);
    s_expect_quiet(c, 2 * HEARTBEAT_MS);
    rp_consumer_destroy(&c);
    assert_int_equal(fx->got[0].seq, last + 1);
    s_check_against_log(fx, last + 1, NULL);
}

/* test_heartbeat_reveals_tail - events published while the consumer's SUB socket is
 * cut off from the service (a network partition: the test disconnects it behind the
 * consumer's back) are never heard live; once it is connected again and no more
 * events come, only the heartbeat tells the consumer of the tail, which it must then
 * fetch through Replay, each event once and in order. */
static void test_heartbeat_reveals_tail(void **state)
{
    fx_t *fx = *state;
    s_write(fx, 2);
    rp_consumer_t *c = s_consumer(fx, fx->integ, NULL, 1);
    uint64_t last = rp_suite_last_seq(fx->suite, "leads");
    s_consume_through(fx, c, last, 10000);
    s_expect_quiet(c, 2 * HEARTBEAT_MS);

    const char *pub = rp_suite_pub(fx->suite, "leads");
    zsock_t *sub = rp_consumer_socket(c);
    assert_int_equal(zsock_disconnect(sub, "%s", pub), 0);
    zclock_sleep(200);          /* the disconnect is done by libzmq's I/O thread */
    s_write(fx, 4);
    uint64_t tail = rp_suite_last_seq(fx->suite, "leads");
    assert_true(tail > last);
    zclock_sleep(2 * HEARTBEAT_MS);
    assert_int_equal(zsock_connect(sub, "%s", pub), 0);

    s_consume_through(fx, c, tail, 10000);
    s_expect_quiet(c, 3 * HEARTBEAT_MS);
    assert_int_equal(rp_consumer_position(c), tail + 1);
    rp_consumer_destroy(&c);
    s_check_against_log(fx, 1, NULL);
}

/* test_restart_in_between - the service is killed (-9) and restarted on the same
 * ports while the consumer is connected; events written after the restart and
 * events written just before the kill all arrive, once each, in order. */
static void test_restart_in_between(void **state)
{
    fx_t *fx = *state;
    rp_consumer_t *c = s_consumer(fx, fx->integ, NULL, 1);
    s_write(fx, 3);
    s_consume_through(fx, c, rp_suite_last_seq(fx->suite, "leads"), 10000);
    s_write(fx, 2);             /* not consumed before the kill */
    rp_suite_kill(fx->suite, "leads", SIGKILL);
    rp_suite_start(fx->suite, "leads", SVC_ENV);
    /* The harness rebinds the old ports when it can; when it could not, this
     * consumer cannot reach the new ones, so start a new one from its position. */
    if (strcmp(rp_suite_pub(fx->suite, "leads"), fx->first_pub) != 0) {
        uint64_t pos = rp_consumer_position(c);
        rp_consumer_destroy(&c);
        c = s_consumer(fx, fx->integ, NULL, pos);
    }
    s_write(fx, 3);
    s_consume_through(fx, c, rp_suite_last_seq(fx->suite, "leads"), 15000);
    s_expect_quiet(c, 2 * HEARTBEAT_MS);
    rp_consumer_destroy(&c);
    for (size_t i = 0; i < fx->n_got; i++)
        assert_int_equal(fx->got[i].seq, (uint64_t) i + 1);
    s_check_against_log(fx, 1, NULL);
}

/* test_type_prefix - only events whose type starts with the prefix are delivered
 * (from the backlog and live), in order, and the position still moves past the
 * others so the heartbeat does not make it fetch them again and again. */
static void test_type_prefix(void **state)
{
    fx_t *fx = *state;
    s_write(fx, 6);
    size_t n = 0;
    Rapport__V1__Event **evs = rp_suite_replay(fx->suite, "leads", 1, NULL, &n);
    /* The prefix of a type that is not lead.created, so some events are skipped. */
    char prefix[128] = "";
    for (size_t i = 0; i < n && !prefix[0]; i++)
        if (strcmp(evs[i]->type, EV_CREATED) != 0)
            rp_strlcpy(prefix, evs[i]->type, sizeof prefix);
    rp_suite_events_free(&evs, n);
    if (!prefix[0])
        fail_msg("SetStage wrote no event of its own type");
    print_message("type_prefix: %s\n", prefix);

    rp_consumer_t *c = s_consumer(fx, fx->integ, prefix, 1);
    size_t nm = 0;
    Rapport__V1__Event **m = rp_suite_replay(fx->suite, "leads", 1, prefix, &nm);
    assert_true(nm > 0);
    s_consume_through(fx, c, m[nm - 1]->seq, 10000);
    rp_suite_events_free(&m, nm);

    s_write(fx, 4);     /* live: matching and non-matching */
    m = rp_suite_replay(fx->suite, "leads", 1, prefix, &nm);
    s_consume_through(fx, c, m[nm - 1]->seq, 10000);
    rp_suite_events_free(&m, nm);

    /* The log ends with a non-matching event; the heartbeat moves the position past it. */
    rp_client_t *w = rp_suite_client(fx->suite, "leads", fx->mgr);
    char id[RP_ULID_STRLEN + 1];
    s_create(fx, w, id);
    rp_client_destroy(&w);
    uint64_t last = rp_suite_last_seq(fx->suite, "leads");
    int64_t until = s_mono_ms() + 5000;
    while (rp_consumer_position(c) != last + 1) {
        if (s_mono_ms() > until)
            fail_msg("position %llu never passed the last seq %llu",
                     (unsigned long long) rp_consumer_position(c), (unsigned long long) last);
        Rapport__V1__Event *ev = NULL;
        int rc = rp_consumer_next(c, 200, &ev);
        if (rc == 0) {
            unsigned long long seq = ev->seq;
            rapport__v1__event__free_unpacked(ev, NULL);
            fail_msg("a non-matching event was delivered: seq %llu", seq);
        }
        assert_int_not_equal(rc, -1);
    }
    s_expect_quiet(c, 3 * HEARTBEAT_MS);
    rp_consumer_destroy(&c);
    s_check_against_log(fx, 1, prefix);
}

/* test_replay_refused - a token without events.replay cannot catch up: next
 * reports -1 with a message instead of delivering or hanging. */
static void test_replay_refused(void **state)
{
    fx_t *fx = *state;
    s_write(fx, 2);
    rp_consumer_t *c = s_consumer(fx, fx->mgr, NULL, 1);
    int64_t until = s_mono_ms() + 10000;
    int rc = 1;
    while (rc == 1 && s_mono_ms() < until) {
        Rapport__V1__Event *ev = NULL;
        rc = rp_consumer_next(c, 500, &ev);
        if (rc == 0) {
            rapport__v1__event__free_unpacked(ev, NULL);
            fail_msg("an event was delivered without events.replay");
        }
    }
    assert_int_equal(rc, -1);
    assert_non_null(rp_consumer_last_error(c));
    assert_true(strlen(rp_consumer_last_error(c)) > 0);
    assert_int_equal(rp_consumer_position(c), 1);
    rp_consumer_destroy(&c);
}

/* ---- fixture: a fresh service per case ---- */

static int setup(void **state)
{
    fx_t *fx = rp_calloc(1, sizeof *fx);
    fx->suite = rp_suite_new();
    rp_suite_start(fx->suite, "leads", SVC_ENV);
    rp_strlcpy(fx->first_pub, rp_suite_pub(fx->suite, "leads"), sizeof fx->first_pub);
    fx->mgr = rp_suite_token(fx->suite, "u-cons", "manager", "b1", "/hq/sales/g1", NULL, 3600);
    fx->integ = rp_suite_token(fx->suite, "sys-bi", "integration", "b1", "/", NULL, 3600);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    rp_suite_destroy(&fx->suite);
    free(fx->mgr);
    free(fx->integ);
    free(fx->got);
    free(fx);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_catch_up_and_follow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_mid_backlog, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_at_the_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_reveals_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_in_between, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_refused, setup, teardown),
    };
    return cmocka_run_group_tests_name("consumer", tests, NULL, NULL);
}
