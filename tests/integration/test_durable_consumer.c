/* test_durable_consumer.c - the skeleton's durable consumer (service.h
 * rp_consumer_def_t, DESIGN.md §4 and §7) on real processes: rapport-tally consumes
 * rapport-leads' events and counts, in its own LMDB and in the same transaction as
 * its stored upstream offset, every event, every duplicate and every skipped seq.
 *
 * Every case ends the same way: once the tally has caught up, its counts say it
 * applied each of the leads' events exactly once (events == leads' last_seq,
 * duplicates == 0, gaps == 0, next_seq == last_seq + 1), and they stay so.
 *
 *   counts             table: the backlog (Replay), live events (PUB), both
 *   kill9_tally        a writer keeps creating leads while the tally is killed with
 *                      SIGKILL (at a random point of its apply/commit cycle) and
 *                      restarted, CYCLES times: exactly once across kill -9
 *   upstream_down      table: the leads service is killed with SIGKILL while the tally
 *                      is idle / still catching up, restarted on the same data and
 *                      ports, and written to: the tally reconnects on its own
 *   rpc_while_catching_up  a large backlog: Tally/Get answers within 1 s throughout
 *   idle_no_spin       a caught-up tally with nothing to do does not burn a CPU
 *
 * Every Tally/Get of every case must answer within 1 s (the consumer runs in the
 * service's loop, so a consumer that blocks the loop shows up here).
 *
 * Counts is decoded by hand (four varints): the generated tally.pb-c.c is only
 * linked into rapport-tally, and this test must not depend on the build order of
 * the fixture's generated code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sodium.h>

#include "harness.h"
#include "rapport/status.h"
#include "rapport/ulid.h"
#include "rapport/util.h"
#include "rapport/leads/v1/leads.pb-c.h"

#define M_CREATE "rapport.leads.v1.Leads/Create"
#define M_TALLY_GET "rapport.tally.v1.Tally/Get"
#define EV_CREATED "rapport.leads.v1.lead.created"

#define GET_LIMIT_MS 2500       /* Tally/Get must answer within this, always (a catch-up
                                 * of the backlogs below takes several times longer) */
#define CATCH_UP_MS 40000       /* the most a catch-up may take */
#define WINDOW 64               /* Creates in flight in s_write_many */
#define TALLY_TOKEN_TTL (30 * 86400)
#define CYCLES 3                /* kill -9 / restart cycles of the tally */

/* Leads' ports are fixed for the whole case, below both the kernel's ephemeral range
 * and CZMQ's "*" range (49152..): leads is killed and restarted under a running
 * tally, whose RAPPORT_LEADS_* must stay right, and a port in those ranges may be
 * taken meanwhile by any process on the machine binding "*" or connecting out. */

typedef struct {
    uint64_t events, duplicates, gaps, next_seq;
} counts_t;

/* Worst Tally/Get latency and how many were made, over the whole case. */
typedef struct {
    int64_t max_ms;
    unsigned calls;
} get_stats_t;

typedef struct {
    rp_suite_t *suite;
    const void *row;            /* the table row of a table-driven case, or NULL */
    char *mgr;                  /* Leads/Create */
    char *integ;                /* Tally/Get (events.replay) */
    char *svc_token;            /* the tally's own RAPPORT_SERVICE_TOKEN */
    char env_rpc[320], env_pub[320], env_tok[4200];
    const char *tally_env[4];
    char leads_rpc[256], leads_pub[256];
    char env_bind[300], env_pub_bind[300];
    const char *leads_env[5];
    atomic_uint n_names;        /* names and tax ids handed out */
    unsigned n_created;         /* acknowledged Creates, all writers */
    get_stats_t get;
} fx_t;

static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1) {
    }
}

/* ---- writes to leads ---- */

/* s_create_req - a Create for a company nobody else has (name and tax id). */
typedef struct {
    char name[64], tax[32];
    Rapport__Leads__V1__Company co;
    Rapport__Leads__V1__CreateRequest cr;
} create_t;

static void s_create_init(fx_t *fx, create_t *c)
{
    unsigned n = atomic_fetch_add(&fx->n_names, 1) + 1;
    snprintf(c->name, sizeof c->name, "Tally Test Co %u", n);
    snprintf(c->tax, sizeof c->tax, "TALLY%08u", n);
    rapport__leads__v1__company__init(&c->co);
    c->co.name = c->name;
    c->co.tax_id = c->tax;
    rapport__leads__v1__create_request__init(&c->cr);
    c->cr.company = &c->co;
    c->cr.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_EXHIBITION;
}

/* s_write_upto - up to n Creates with WINDOW in flight, sending no more once max_ms
 * (0: no limit) have passed; every one sent must answer OK. Returns how many. */
static unsigned s_write_upto(fx_t *fx, unsigned n, int max_ms)
{
    rp_client_t *c = rp_suite_client(fx->suite, "leads", fx->mgr);
    unsigned sent = 0, done = 0;
    int64_t until = s_mono_ms() + max_ms;
    while (done < sent || (sent < n && (max_ms == 0 || s_mono_ms() < until))) {
        while (sent < n && sent - done < WINDOW && (max_ms == 0 || s_mono_ms() < until)) {
            create_t cr;
            s_create_init(fx, &cr);
            assert_int_equal(rp_client_send(c, NULL, M_CREATE, &cr.cr.base, NULL), 0);
            sent++;
        }
        if (done == sent)
            break;                      /* the time is up with nothing in flight */
        Rapport__V1__Reply *reply = NULL;
        int rc = rp_client_recv(c, 10000, &reply);
        if (rc != 0)
            fail_msg("Create: no reply within 10 s (%u of %u answered)", done, n);
        rp_call_status_t st;
        memset(&st, 0, sizeof st);
        rp_status_from_reply(reply, &st);
        rapport__v1__reply__free_unpacked(reply, NULL);
        if (st.code != RP_OK)
            fail_msg("Create: %s %s", rp_code_name(st.code), st.message);
        done++;
    }
    rp_client_destroy(&c);
    fx->n_created += done;
    return done;
}

/* s_write_many - exactly n Creates. */
static void s_write_many(fx_t *fx, unsigned n)
{
    assert_int_equal(s_write_upto(fx, n, 0), n);
}

/* s_write_backlog - between min and max Creates: as many as max_ms of writing makes
 * (a slow, sanitized or busy machine writes fewer and also catches up slower). */
static unsigned s_write_backlog(fx_t *fx, unsigned min, unsigned max, int max_ms)
{
    unsigned n = s_write_upto(fx, max, max_ms);
    if (n < min) {
        s_write_many(fx, min - n);
        n = min;
    }
    return n;
}

/* A writer thread: Creates one after another until told to stop. It makes no cmocka
 * call (those long-jump out of the test's own thread); the main thread checks it. */
typedef struct {
    fx_t *fx;
    rp_client_t *client;        /* made and destroyed by the main thread */
    pthread_t thread;
    atomic_bool stop;
    atomic_uint created;
    int code;                   /* first failure, RP_OK when none */
    char message[512];
} writer_t;

static void *s_writer_run(void *arg)
{
    writer_t *w = arg;
    while (!atomic_load(&w->stop)) {
        create_t cr;
        s_create_init(w->fx, &cr);
        rp_call_status_t st;
        memset(&st, 0, sizeof st);
        ProtobufCMessage *out = NULL;
        int rc = rp_client_call(w->client, NULL, M_CREATE, &cr.cr.base,
                                &rapport__leads__v1__lead__descriptor, &out, &st, 10000);
        if (out)
            protobuf_c_message_free_unpacked(out, NULL);
        if (rc != RP_OK) {
            w->code = rc;
            rp_strlcpy(w->message, st.message, sizeof w->message);
            break;
        }
        atomic_fetch_add(&w->created, 1);
    }
    return NULL;
}

static void s_writer_start(fx_t *fx, writer_t *w)
{
    memset(w, 0, sizeof *w);
    w->fx = fx;
    w->client = rp_suite_client(fx->suite, "leads", fx->mgr);
    atomic_init(&w->stop, false);
    atomic_init(&w->created, 0);
    w->code = RP_OK;
    assert_int_equal(pthread_create(&w->thread, NULL, s_writer_run, w), 0);
}

/* s_writer_stop - join; every Create it made must have been acknowledged. */
static void s_writer_stop(fx_t *fx, writer_t *w)
{
    atomic_store(&w->stop, true);
    assert_int_equal(pthread_join(w->thread, NULL), 0);
    rp_client_destroy(&w->client);
    unsigned created = atomic_load(&w->created);
    fx->n_created += created;
    if (w->code != RP_OK)
        fail_msg("writer: Create failed after %u leads: %s %s", created, rp_code_name(w->code),
                 w->message);
}

/* ---- the tally ---- */

static void s_tally_start(fx_t *fx)
{
    int64_t t0 = s_mono_ms();
    rp_suite_start(fx->suite, "tally", fx->tally_env);
    print_message("  tally started (pid %d) in %lld ms\n", (int) rp_suite_pid(fx->suite, "tally"),
                  (long long) (s_mono_ms() - t0));
}

/* s_leads_start_again - start leads again on its data and its fixed ports, so the
 * tally's RAPPORT_LEADS_* are still right. */
static void s_leads_start_again(fx_t *fx)
{
    rp_suite_start(fx->suite, "leads", fx->leads_env);
    if (strcmp(rp_suite_rpc(fx->suite, "leads"), fx->leads_rpc) != 0
        || strcmp(rp_suite_pub(fx->suite, "leads"), fx->leads_pub) != 0)
        fail_msg("leads came back on other ports (%s, %s; was %s, %s): the tally cannot follow",
                 rp_suite_rpc(fx->suite, "leads"), rp_suite_pub(fx->suite, "leads"),
                 fx->leads_rpc, fx->leads_pub);
}

/* s_varint - one protobuf varint; false when truncated. */
static bool s_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t) (b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* s_counts_decode - rapport.tally.v1.Counts (fields 1..4, uint64). */
static bool s_counts_decode(const uint8_t *p, size_t len, counts_t *c)
{
    memset(c, 0, sizeof *c);
    const uint8_t *end = p + len;
    while (p < end) {
        uint64_t key, v;
        if (!s_varint(&p, end, &key) || (key & 7) != 0 || !s_varint(&p, end, &v))
            return false;
        switch (key >> 3) {
        case 1: c->events = v; break;
        case 2: c->duplicates = v; break;
        case 3: c->gaps = v; break;
        case 4: c->next_seq = v; break;
        default: break;
        }
    }
    return true;
}

/* s_tally_get - Tally/Get on client c, which must answer OK within GET_LIMIT_MS. */
static counts_t s_tally_get(fx_t *fx, rp_client_t *c)
{
    int64_t t0 = s_mono_ms();
    Rapport__V1__Reply *reply = NULL;
    int rc = rp_client_call_raw(c, NULL, M_TALLY_GET, NULL, 0, &reply, GET_LIMIT_MS);
    int64_t took = s_mono_ms() - t0;
    fx->get.calls++;
    if (took > fx->get.max_ms)
        fx->get.max_ms = took;
    if (!reply) {
        rp_suite_print_log(fx->suite, "tally");
        fail_msg("Tally/Get: no answer within %d ms (%s): the tally's loop is blocked",
                 GET_LIMIT_MS, rp_code_name(rc));
    }
    rp_call_status_t st;
    memset(&st, 0, sizeof st);
    rp_status_from_reply(reply, &st);
    counts_t counts;
    bool ok = st.code == RP_OK && s_counts_decode(reply->body.data, reply->body.len, &counts);
    rapport__v1__reply__free_unpacked(reply, NULL);
    if (st.code != RP_OK)
        fail_msg("Tally/Get: %s %s", rp_code_name(st.code), st.message);
    if (!ok)
        fail_msg("Tally/Get: the reply is not a Counts");
    if (took > GET_LIMIT_MS)
        fail_msg("Tally/Get took %lld ms (limit %d)", (long long) took, GET_LIMIT_MS);
    return counts;
}

/* s_cpu_ms - user + system CPU time of a process, from /proc. */
static int64_t s_cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');      /* comm may hold spaces */
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* after ") ": state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (int64_t) ((ut + st) * 1000ULL / (unsigned long long) (hz > 0 ? hz : 100));
}

typedef struct {
    counts_t first, last;
    unsigned behind;        /* Gets answered while the tally was still behind */
    int64_t took_ms;
} wait_t;

/* s_wait_caught_up - poll Tally/Get (each within GET_LIMIT_MS) until it has applied
 * every event up to target (events >= target or next_seq > target), within
 * budget_ms. On timeout: the counts, leads' last_seq, the tally's CPU use while we
 * waited and its log. */
static wait_t s_wait_caught_up(fx_t *fx, uint64_t target, int budget_ms, const char *what)
{
    wait_t w;
    memset(&w, 0, sizeof w);
    pid_t pid = rp_suite_pid(fx->suite, "tally");
    int64_t cpu0 = s_cpu_ms(pid);
    rp_client_t *c = rp_suite_client(fx->suite, "tally", fx->integ);
    int64_t t0 = s_mono_ms(), until = t0 + budget_ms;
    for (unsigned i = 0;; i++) {
        counts_t now = s_tally_get(fx, c);
        if (i == 0)
            w.first = now;
        w.last = now;
        if (now.events >= target || now.next_seq > target)
            break;
        w.behind++;
        if (s_mono_ms() >= until) {
            int64_t spent = s_mono_ms() - t0, cpu = s_cpu_ms(pid) - cpu0;
            rp_client_destroy(&c);
            rp_suite_print_log(fx->suite, "tally");
            fail_msg("%s: the tally did not catch up within %d ms: events %llu (first seen "
                     "%llu), next_seq %llu, duplicates %llu, gaps %llu; leads' last_seq "
                     "%llu (target %llu). The tally used %lld ms of CPU in those %lld ms.",
                     what, budget_ms, (unsigned long long) now.events,
                     (unsigned long long) w.first.events, (unsigned long long) now.next_seq,
                     (unsigned long long) now.duplicates, (unsigned long long) now.gaps,
                     (unsigned long long) rp_suite_last_seq(fx->suite, "leads"),
                     (unsigned long long) target, (long long) cpu, (long long) spent);
        }
        s_sleep_ms(20);
    }
    rp_client_destroy(&c);
    w.took_ms = s_mono_ms() - t0;
    return w;
}

/* s_check_exactly_once - leads is quiet: the tally catches up with its last_seq and
 * has applied every one of its events exactly once; the counts then stay put (no
 * late duplicate from a heartbeat or a replay). */
static void s_check_exactly_once(fx_t *fx, const char *what)
{
    uint64_t last = rp_suite_last_seq(fx->suite, "leads");
    /* Every Create is one lead.created, nothing else (the target means that). */
    assert_int_equal(last, fx->n_created);
    wait_t w = s_wait_caught_up(fx, last, CATCH_UP_MS, what);
    print_message("  %s: caught up with seq %llu in %lld ms (from events %llu)\n", what,
                  (unsigned long long) last, (long long) w.took_ms,
                  (unsigned long long) w.first.events);
    s_sleep_ms(700);            /* a few of leads' heartbeats */
    rp_client_t *c = rp_suite_client(fx->suite, "tally", fx->integ);
    counts_t k = s_tally_get(fx, c);
    rp_client_destroy(&c);
    if (k.events != last || k.duplicates != 0 || k.gaps != 0 || k.next_seq != last + 1)
        fail_msg("%s: not exactly once: events %llu (want %llu), duplicates %llu, gaps %llu, "
                 "next_seq %llu (want %llu)", what, (unsigned long long) k.events,
                 (unsigned long long) last, (unsigned long long) k.duplicates,
                 (unsigned long long) k.gaps, (unsigned long long) k.next_seq,
                 (unsigned long long) last + 1);
    /* What the tally counted is what the log holds: seqs 1..last, all lead.created. */
    size_t n = 0;
    Rapport__V1__Event **evs = rp_suite_replay(fx->suite, "leads", 1, NULL, &n);
    assert_int_equal(n, last);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(evs[i]->seq, i + 1);
        assert_string_equal(evs[i]->type, EV_CREATED);
    }
    rp_suite_events_free(&evs, n);
}

/* ---- cases ---- */

typedef struct {
    const char *name;
    unsigned before;    /* leads written before the tally starts (Replay) */
    unsigned after;     /* leads written while it runs (live, PUB) */
} counts_row_t;

static const counts_row_t COUNTS_ROWS[] = {
    { "backlog", 300, 0 },
    { "live", 0, 300 },
    { "backlog_then_live", 150, 150 },
};

/* test_counts - the tally counts every event once, from the backlog and live. */
static void test_counts(void **state)
{
    fx_t *fx = *state;
    const counts_row_t *row = fx->row;
    print_message("  row %s: %u before, %u after\n", row->name, row->before, row->after);
    s_write_many(fx, row->before);
    s_tally_start(fx);
    if (row->before)
        s_wait_caught_up(fx, row->before, CATCH_UP_MS, "backlog");
    s_write_many(fx, row->after);
    s_check_exactly_once(fx, row->name);
}

/* test_kill9_tally - exactly once across kill -9: the offset is committed with the
 * effects, so a restarted tally neither applies an event again nor skips one. */
static void test_kill9_tally(void **state)
{
    fx_t *fx = *state;
    s_write_many(fx, 100);
    s_tally_start(fx);
    writer_t w;
    s_writer_start(fx, &w);
    rp_client_t *c = NULL;
    for (int cycle = 1; cycle <= CYCLES; cycle++) {
        /* Let it apply live events for a while, then kill it in the middle of them. */
        c = rp_suite_client(fx->suite, "tally", fx->integ);
        counts_t before = s_tally_get(fx, c);
        s_sleep_ms(400 + 150 * cycle);
        counts_t at_kill = s_tally_get(fx, c);
        rp_client_destroy(&c);
        /* Not right after a Get (the tally would be at the same point of its loop
         * every time): anywhere in its apply, commit, wait cycle. */
        s_sleep_ms(1 + (int) randombytes_uniform(40));
        int status = rp_suite_kill(fx->suite, "tally", SIGKILL);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        unsigned written = fx->n_created + atomic_load(&w.created);
        print_message("  cycle %d: killed the tally just after events %llu (%llu at the start "
                      "of the cycle), %u leads written\n", cycle, (unsigned long long) at_kill.events,
                      (unsigned long long) before.events, written);
        s_sleep_ms(300);        /* the writer goes on without it */
        s_tally_start(fx);
        /* What a Get reported before the kill had been committed: it survives. */
        c = rp_suite_client(fx->suite, "tally", fx->integ);
        counts_t after = s_tally_get(fx, c);
        rp_client_destroy(&c);
        if (after.events < at_kill.events || after.duplicates || after.gaps)
            fail_msg("cycle %d: after kill -9 the tally counts events %llu, duplicates %llu, "
                     "gaps %llu; before it, events %llu", cycle,
                     (unsigned long long) after.events, (unsigned long long) after.duplicates,
                     (unsigned long long) after.gaps, (unsigned long long) at_kill.events);
    }
    s_sleep_ms(300);
    s_writer_stop(fx, &w);
    print_message("  writer: %u leads in all\n", fx->n_created);
    s_check_exactly_once(fx, "after the kill -9 cycles of the tally");
}

typedef struct {
    const char *name;
    bool catching_up;   /* kill leads while the tally still works through a backlog */
} down_row_t;

static const down_row_t DOWN_ROWS[] = {
    { "tally_idle", false },
    { "tally_catching_up", true },
};

/* test_upstream_down - leads dies (SIGKILL) under a running tally, comes back on the
 * same data and ports, and is written to: the tally reconnects by itself and
 * catches up, with no gap and no duplicate; it answers its own RPC meanwhile. */
static void test_upstream_down(void **state)
{
    fx_t *fx = *state;
    const down_row_t *row = fx->row;
    print_message("  row %s\n", row->name);
    if (row->catching_up) {
        /* A backlog of a few Replay pages (fewer on a slow, sanitized build). */
        unsigned n = s_write_backlog(fx, 1000, 5000, 2000);
        print_message("  backlog of %u leads\n", n);
        s_tally_start(fx);
    } else {
        s_tally_start(fx);
        s_write_many(fx, 200);
        s_wait_caught_up(fx, fx->n_created, CATCH_UP_MS, "before the kill");
    }
    int status = rp_suite_kill(fx->suite, "leads", SIGKILL);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* Upstream down: the tally still answers, promptly, for 1.5 s. */
    rp_client_t *c = rp_suite_client(fx->suite, "tally", fx->integ);
    int64_t until = s_mono_ms() + 1500;
    counts_t k = { 0 };
    while (s_mono_ms() < until) {
        k = s_tally_get(fx, c);
        s_sleep_ms(50);
    }
    rp_client_destroy(&c);
    print_message("  while leads was down: events %llu of %u (%s)\n",
                  (unsigned long long) k.events, fx->n_created,
                  k.events < fx->n_created ? "killed while the tally was behind"
                                           : "the tally had caught up before the kill");

    s_leads_start_again(fx);
    assert_int_equal(rp_suite_last_seq(fx->suite, "leads"), fx->n_created);
    s_write_many(fx, 200);
    s_check_exactly_once(fx, row->name);
}

/* test_rpc_while_catching_up - a tally far behind keeps answering its own RPC within
 * 1 s while it works through the backlog (it is seen behind, not only caught up). */
static void test_rpc_while_catching_up(void **state)
{
    fx_t *fx = *state;
    int64_t t0 = s_mono_ms();
    /* As large a backlog as 3 s of writing makes (15000 at most): catching up with it
     * takes a good part of a second or more, so Gets are answered part way. */
    s_write_backlog(fx, 1000, 15000, 3000);
    print_message("  backlog of %u leads written in %lld ms\n", fx->n_created,
                  (long long) (s_mono_ms() - t0));
    s_tally_start(fx);
    wait_t w = s_wait_caught_up(fx, fx->n_created, CATCH_UP_MS, "backlog");
    print_message("  caught up in %lld ms (from events %llu); %u Gets answered while behind, "
                  "worst Get %lld ms\n", (long long) w.took_ms,
                  (unsigned long long) w.first.events, w.behind, (long long) fx->get.max_ms);
    assert_true(w.behind > 0);
    s_check_exactly_once(fx, "big backlog");
}

/* test_idle_no_spin - a caught-up tally with nothing to apply (only leads'
 * heartbeats arrive) sleeps in its poll instead of spinning. */
static void test_idle_no_spin(void **state)
{
    fx_t *fx = *state;
    s_write_many(fx, 50);
    s_tally_start(fx);
    s_wait_caught_up(fx, fx->n_created, CATCH_UP_MS, "before idling");
    s_sleep_ms(300);
    pid_t pid = rp_suite_pid(fx->suite, "tally");
    int64_t cpu0 = s_cpu_ms(pid), t0 = s_mono_ms();
    assert_true(cpu0 >= 0);
    s_sleep_ms(1500);
    int64_t cpu = s_cpu_ms(pid) - cpu0, spent = s_mono_ms() - t0;
    print_message("  idle tally: %lld ms of CPU in %lld ms\n", (long long) cpu, (long long) spent);
    if (cpu * 4 > spent)
        fail_msg("an idle tally used %lld ms of CPU in %lld ms: its loop spins", (long long) cpu,
                 (long long) spent);
    s_check_exactly_once(fx, "idle");
}

/* ---- fixture: a fresh suite per case, leads running, the tally not yet ---- */

/* s_pick_ports - two free adjacent ports for leads' RPC and PUB, fixed for the case. */
static void s_pick_ports(fx_t *fx)
{
    int port = rp_suite_free_ports(2);
    snprintf(fx->env_bind, sizeof fx->env_bind, "RAPPORT_BIND=tcp://127.0.0.1:%d", port);
    snprintf(fx->env_pub_bind, sizeof fx->env_pub_bind, "RAPPORT_PUB_BIND=tcp://127.0.0.1:%d",
             port + 1);
    fx->leads_env[0] = fx->env_bind;
    fx->leads_env[1] = fx->env_pub_bind;
    fx->leads_env[2] = "RAPPORT_HTTP=127.0.0.1:0";
    fx->leads_env[3] = "RAPPORT_HEARTBEAT_MS=250";
    fx->leads_env[4] = NULL;
}

static int setup(void **state)
{
    fx_t *fx = rp_calloc(1, sizeof *fx);
    fx->row = *state;
    atomic_init(&fx->n_names, 0);
    fx->suite = rp_suite_new();
    s_pick_ports(fx);
    rp_suite_start(fx->suite, "leads", fx->leads_env);
    rp_strlcpy(fx->leads_rpc, rp_suite_rpc(fx->suite, "leads"), sizeof fx->leads_rpc);
    rp_strlcpy(fx->leads_pub, rp_suite_pub(fx->suite, "leads"), sizeof fx->leads_pub);
    fx->mgr = rp_suite_token(fx->suite, "u-tally-w", "manager", "b1", "/hq/sales/g1", NULL, 3600);
    fx->integ = rp_suite_token(fx->suite, "it-tally-r", "integration", "b1", "/", NULL, 3600);
    fx->svc_token = rp_suite_token(fx->suite, "tally", "integration", "b1", "/", NULL,
                                   TALLY_TOKEN_TTL);
    snprintf(fx->env_rpc, sizeof fx->env_rpc, "RAPPORT_LEADS_ENDPOINT=%s", fx->leads_rpc);
    snprintf(fx->env_pub, sizeof fx->env_pub, "RAPPORT_LEADS_PUB_ENDPOINT=%s", fx->leads_pub);
    int n = snprintf(fx->env_tok, sizeof fx->env_tok, "RAPPORT_SERVICE_TOKEN=%s", fx->svc_token);
    assert_true(n > 0 && (size_t) n < sizeof fx->env_tok);
    fx->tally_env[0] = fx->env_rpc;
    fx->tally_env[1] = fx->env_pub;
    fx->tally_env[2] = fx->env_tok;
    fx->tally_env[3] = NULL;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    if (fx->get.calls)
        print_message("  Tally/Get: %u calls, worst %lld ms\n", fx->get.calls,
                      (long long) fx->get.max_ms);
    rp_suite_destroy(&fx->suite);
    free(fx->mgr);
    free(fx->integ);
    free(fx->svc_token);
    free(fx);
    return 0;
}

#define ROW_TEST(name, fn, row) { name, fn, setup, teardown, (void *) &(row) }

/* An optional argument: a cmocka test name pattern ("upstream_down*"). */
int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        ROW_TEST("counts/backlog", test_counts, COUNTS_ROWS[0]),
        ROW_TEST("counts/live", test_counts, COUNTS_ROWS[1]),
        ROW_TEST("counts/backlog_then_live", test_counts, COUNTS_ROWS[2]),
        cmocka_unit_test_setup_teardown(test_kill9_tally, setup, teardown),
        ROW_TEST("upstream_down/tally_idle", test_upstream_down, DOWN_ROWS[0]),
        ROW_TEST("upstream_down/tally_catching_up", test_upstream_down, DOWN_ROWS[1]),
        cmocka_unit_test_setup_teardown(test_rpc_while_catching_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_no_spin, setup, teardown),
    };
    return cmocka_run_group_tests_name("durable_consumer", tests, NULL, NULL);
}
