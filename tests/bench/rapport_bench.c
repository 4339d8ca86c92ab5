/* rapport_bench.c - measures rapport-leads on the production path (CURVE on,
 * tokens verified, every create durable) and, in the same run, the raw ceilings
 * it is compared with: a plain ZeroMQ DEALER/ROUTER echo of the same size and
 * plain LMDB puts with one commit per put and with batched commits.
 *
 *   rapport-bench [--seconds S] [--json FILE]
 *
 * It prints a table and a JSON document of the figures and their ratios to the
 * ceilings, and the targets of the platform issue with pass/fail. Not part of
 * the test suite's pass/fail: shared machines are noisy.
 */
#include <assert.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <czmq.h>
#include <lmdb.h>
#include <jansson.h>
#include "harness.h"
#include "rapport/clock.h"
#include "rapport/keys.h"
#include "rapport/status.h"
#include "rapport/util.h"
#include "rapport/v1/event.pb-c.h"
#include "rapport/leads/v1/leads.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"

#define MAX_REQ 2000000
#define PAYLOAD 200

static double g_seconds = 3.0;

/* ------------------------------------------------------------------ stats */

typedef struct {
    int64_t *us;
    size_t n;
} lat_t;

static int
s_cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

static double
s_pct(lat_t *l, double p)
{
    if (!l->n)
        return 0;
    qsort(l->us, l->n, sizeof *l->us, s_cmp64);
    size_t i = (size_t) (p / 100.0 * (double) (l->n - 1) + 0.5);
    return (double) l->us[i];
}

typedef struct {
    const char *name;
    double rate;        /* operations per second */
    double p50_us, p99_us;
    size_t ops, errors;
} result_t;

static void
s_print(const result_t *r)
{
    printf("  %-34s %10.0f/s   p50 %7.0f us   p99 %7.0f us   (%zu ops, %zu errors)\n",
           r->name, r->rate, r->p50_us, r->p99_us, r->ops, r->errors);
    fflush(stdout);
}

static json_t *
s_json(const result_t *r)
{
    return json_pack("{s:f,s:f,s:f,s:I,s:I}", "per_second", r->rate, "p50_us", r->p50_us,
                     "p99_us", r->p99_us, "ops", (json_int_t) r->ops, "errors", (json_int_t) r->errors);
}

/* ------------------------------------------------------------------ raw ZeroMQ echo */

typedef struct {
    zsock_t *router;
    const rp_curve_t *server;   /* NULL: plain */
} echo_t;

static void *
s_echo_thread(void *arg)
{
    echo_t *e = arg;
    void *s = zsock_resolve(e->router);
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    for (;;) {
        if (zmq_msg_recv(&id, s, 0) < 0 || zmq_msg_recv(&body, s, 0) < 0)
            break;
        if (zmq_msg_size(&body) == 4 && memcmp(zmq_msg_data(&body), "STOP", 4) == 0)
            break;
        zmq_msg_send(&id, s, ZMQ_SNDMORE);
        zmq_msg_send(&body, s, 0);
    }
    zmq_msg_close(&id);
    zmq_msg_close(&body);
    return NULL;
}

/* s_echo - round trips of PAYLOAD bytes at `inflight` in flight. */
static result_t
s_echo(const char *name, int inflight, const rp_curve_t *server, const rp_curve_t *client)
{
    echo_t e = { zsock_new(ZMQ_ROUTER), server };
    if (server) {
        zsock_set_curve_server(e.router, 1);
        zsock_set_curve_secretkey(e.router, server->secret_z85);
    }
    zsock_set_sndhwm(e.router, 100000);
    zsock_set_rcvhwm(e.router, 100000);
    int port = zsock_bind(e.router, "tcp://127.0.0.1:*");
    zsock_t *d = zsock_new(ZMQ_DEALER);
    if (server) {
        zsock_set_curve_serverkey(d, server->public_z85);
        zsock_set_curve_publickey(d, client->public_z85);
        zsock_set_curve_secretkey(d, client->secret_z85);
    }
    zsock_set_sndhwm(d, 100000);
    zsock_set_rcvhwm(d, 100000);
    zsock_connect(d, "tcp://127.0.0.1:%d", port);
    pthread_t th;
    pthread_create(&th, NULL, s_echo_thread, &e);

    lat_t lat = { rp_malloc(MAX_REQ * sizeof(int64_t)), 0 };
    uint8_t buf[PAYLOAD];
    memset(buf, 'x', sizeof buf);
    void *ds = zsock_resolve(d);
    /* warm-up: the CURVE handshake */
    zmq_send(ds, buf, sizeof buf, 0);
    zmq_recv(ds, buf, sizeof buf, 0);
    int64_t t0 = rp_clock_mono_us(), end = t0 + (int64_t) (g_seconds * 1e6);
    int out = 0;
    size_t done = 0;
    while ((rp_clock_mono_us() < end || out > 0) && done < MAX_REQ) {
        while (out < inflight && rp_clock_mono_us() < end) {
            int64_t now = rp_clock_mono_us();
            memcpy(buf, &now, sizeof now);
            zmq_send(ds, buf, sizeof buf, 0);
            out++;
        }
        if (zmq_recv(ds, buf, sizeof buf, 0) < 0)
            break;
        int64_t sent;
        memcpy(&sent, buf, sizeof sent);
        lat.us[lat.n++] = rp_clock_mono_us() - sent;
        out--;
        done++;
    }
    double secs = (double) (rp_clock_mono_us() - t0) / 1e6;
    zmq_send(ds, "STOP", 4, 0);
    pthread_join(th, NULL);
    zsock_destroy(&d);
    zsock_destroy(&e.router);
    result_t r = { name, (double) done / secs, s_pct(&lat, 50), s_pct(&lat, 99), done, 0 };
    free(lat.us);
    return r;
}

/* ------------------------------------------------------------------ raw LMDB */

static result_t
s_lmdb(const char *dir, const char *name, int per_commit)
{
    mkdir(dir, 0700);
    MDB_env *env;
    mdb_env_create(&env);
    mdb_env_set_mapsize(env, (size_t) 4 << 30);
    if (mdb_env_open(env, dir, MDB_NOTLS, 0600) != 0) {
        fprintf(stderr, "bench: cannot open %s\n", dir);
        exit(1);
    }
    MDB_dbi dbi;
    MDB_txn *txn;
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, NULL, 0, &dbi);
    mdb_txn_commit(txn);
    uint8_t val[300];
    memset(val, 'v', sizeof val);
    lat_t lat = { rp_malloc(MAX_REQ * sizeof(int64_t)), 0 };
    int64_t t0 = rp_clock_mono_us(), end = t0 + (int64_t) (g_seconds * 1e6);
    uint64_t k = 0;
    while (rp_clock_mono_us() < end && lat.n < MAX_REQ) {
        int64_t c0 = rp_clock_mono_us();
        mdb_txn_begin(env, NULL, 0, &txn);
        for (int i = 0; i < per_commit; i++, k++) {
            uint8_t key[8];
            for (int b = 0; b < 8; b++)
                key[b] = (uint8_t) (k >> (56 - 8 * b));
            MDB_val mk = { 8, key }, mv = { sizeof val, val };
            mdb_put(txn, dbi, &mk, &mv, MDB_APPEND);
        }
        mdb_txn_commit(txn);
        lat.us[lat.n++] = rp_clock_mono_us() - c0;
    }
    double secs = (double) (rp_clock_mono_us() - t0) / 1e6;
    mdb_env_close(env);
    result_t r = { name, (double) k / secs, s_pct(&lat, 50), s_pct(&lat, 99), (size_t) k, 0 };
    free(lat.us);
    return r;
}

/* ------------------------------------------------------------------ leads */

static char g_run[16];

/* s_create_body - a unique, valid CreateRequest packed into buf. */
static size_t
s_create_body(uint64_t seq, uint8_t *buf, size_t cap)
{
    char name[96], tax[48];
    snprintf(name, sizeof name, "Bench Company %s %llu", g_run, (unsigned long long) seq);
    snprintf(tax, sizeof tax, "BN%s%llu", g_run, (unsigned long long) seq);
    Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
    co.name = name;
    co.tax_id = tax;
    co.region = (char *) "North";
    co.industry = (char *) "Manufacturing";
    Rapport__V1__Money value = RAPPORT__V1__MONEY__INIT;
    value.units = 1250000;
    value.currency = (char *) "EUR";
    Rapport__Leads__V1__CreateRequest req = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
    req.company = &co;
    req.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_COLD_CALL;
    req.campaign = (char *) "bench";
    req.expected_value = &value;
    size_t n = rapport__leads__v1__create_request__get_packed_size(&req);
    assert(n <= cap);
    return rapport__leads__v1__create_request__pack(&req, buf);
}

/* s_send_raw - a Request with id "<prefix><seq>" around body. */
static int
s_send_req(void *sock, const char *prefix, uint64_t seq, const char *method, const char *token,
           const uint8_t *body, size_t len)
{
    char id[64];
    snprintf(id, sizeof id, "%s%llu", prefix, (unsigned long long) seq);
    Rapport__V1__Request req = RAPPORT__V1__REQUEST__INIT;
    req.id = id;
    req.method = (char *) method;
    req.token = (char *) token;
    req.body.data = (uint8_t *) body;
    req.body.len = len;
    uint8_t buf[4096];
    size_t n = rapport__v1__request__pack(&req, buf);
    return zmq_send(sock, buf, n, 0);
}

typedef struct {
    char **ids;         /* created lead ids, for gets */
    size_t n_ids;
} created_t;

/* s_pipeline - `inflight` requests at a time for g_seconds (or `max` requests).
 * body_fn builds request seq's body. Latency is measured per request. */
static result_t
s_pipeline(const char *name, rp_client_t *c, const char *token, const char *method,
           int inflight, size_t max, size_t (*body_fn)(uint64_t, uint8_t *, size_t, void *),
           void *arg, created_t *created)
{
    static uint64_t batch_no;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "b%s-%llu-", g_run, (unsigned long long) ++batch_no);
    void *sock = rp_client_socket(c);
    sock = zsock_resolve(sock);
    int64_t *sent_at = rp_calloc(MAX_REQ, sizeof *sent_at);
    lat_t lat = { rp_malloc(MAX_REQ * sizeof(int64_t)), 0 };
    uint8_t body[2048];
    uint64_t seq = 0;
    size_t done = 0, errors = 0;
    int out = 0;
    if (max == 0 || max > MAX_REQ)
        max = MAX_REQ;
    int64_t t0 = rp_clock_mono_us(), end = t0 + (int64_t) (g_seconds * 1e6);
    while ((rp_clock_mono_us() < end && seq < max) || out > 0) {
        while (out < inflight && rp_clock_mono_us() < end && seq < max) {
            size_t len = body_fn(seq, body, sizeof body, arg);
            sent_at[seq] = rp_clock_mono_us();
            s_send_req(sock, prefix, seq, method, token, body, len);
            seq++;
            out++;
        }
        Rapport__V1__Reply *r;
        if (rp_client_recv(c, 10000, &r) != 0) {
            fprintf(stderr, "bench: %s: no reply within 10 s (%d outstanding)\n", name, out);
            errors += (size_t) out;
            break;
        }
        out--;
        done++;
        uint64_t s = strtoull(r->id + strlen(prefix), NULL, 10);
        if (s < MAX_REQ)
            lat.us[lat.n++] = rp_clock_mono_us() - sent_at[s];
        if (!r->status || (int) r->status->code != RP_OK) {
            if (errors++ < 3)
                fprintf(stderr, "bench: %s: %s %s\n", name,
                        rp_code_name(r->status ? r->status->code : 2),
                        r->status ? r->status->message : "");
        } else if (created && created->n_ids < 100000) {
            Rapport__Leads__V1__Lead *lead =
                rapport__leads__v1__lead__unpack(NULL, r->body.len, r->body.data);
            if (lead) {
                created->ids[created->n_ids++] = rp_strdup(lead->id);
                rapport__leads__v1__lead__free_unpacked(lead, NULL);
            }
        }
        rapport__v1__reply__free_unpacked(r, NULL);
    }
    double secs = (double) (rp_clock_mono_us() - t0) / 1e6;
    result_t res = { name, (double) (done - errors) / secs, s_pct(&lat, 50), s_pct(&lat, 99), done, errors };
    free(sent_at);
    free(lat.us);
    return res;
}

static size_t
s_body_create(uint64_t seq, uint8_t *buf, size_t cap, void *arg)
{
    uint64_t base = *(uint64_t *) arg;
    return s_create_body(base + seq, buf, cap);
}

static size_t
s_body_get(uint64_t seq, uint8_t *buf, size_t cap, void *arg)
{
    created_t *c = arg;
    Rapport__Leads__V1__GetRequest req = RAPPORT__LEADS__V1__GET_REQUEST__INIT;
    req.id = c->ids[seq % c->n_ids];
    return rapport__leads__v1__get_request__pack(&req, buf);
}

/* ------------------------------------------------------------------ fan-out */

typedef struct {
    zsock_t *sub;
    size_t want, got;
    uint64_t last_seq;
    bool in_order;
    int64_t done_us;
} subscriber_t;

/* s_fanout - 4 subscribers; `n` creates at 64 in flight; all 4 must see every event. */
static result_t
s_fanout(rp_suite_t *suite, rp_client_t *c, const char *token, uint64_t *base, size_t n)
{
    enum { N_SUBS = 4 };
    subscriber_t subs[N_SUBS];
    const rp_curve_t *me = rp_suite_client_cert(suite);
    for (int i = 0; i < N_SUBS; i++) {
        subs[i] = (subscriber_t) { zsock_new(ZMQ_SUB), n, 0, 0, true, 0 };
        zsock_set_curve_serverkey(subs[i].sub, rp_suite_server_key(suite, "leads"));
        zsock_set_curve_publickey(subs[i].sub, me->public_z85);
        zsock_set_curve_secretkey(subs[i].sub, me->secret_z85);
        zsock_set_rcvhwm(subs[i].sub, 1000000);
        zsock_set_subscribe(subs[i].sub, "rapport.leads.v1.lead.created");
        zsock_connect(subs[i].sub, "%s", rp_suite_pub(suite, "leads"));
    }
    zclock_sleep(500);      /* let the subscriptions reach the publisher */
    int64_t t0 = rp_clock_mono_us();
    /* The writer runs for the measurement time or n creates; every subscriber must
     * then receive exactly the events of the creates that succeeded. */
    double saved = g_seconds;
    g_seconds = 60;
    result_t w = s_pipeline("fan-out writer", c, token, "rapport.leads.v1.Leads/Create", 64, n,
                            s_body_create, base, NULL);
    g_seconds = saved;
    *base += n;
    n = w.ops - w.errors;
    for (int i = 0; i < N_SUBS; i++)
        subs[i].want = n;
    zpoller_t *poller = zpoller_new(NULL);
    for (int i = 0; i < N_SUBS; i++)
        zpoller_add(poller, subs[i].sub);
    size_t complete = 0;
    int64_t deadline = rp_clock_mono_us() + 20 * 1000000LL;
    while (complete < N_SUBS && rp_clock_mono_us() < deadline) {
        zsock_t *s = zpoller_wait(poller, 1000);
        if (!s)
            continue;
        for (int i = 0; i < N_SUBS; i++) {
            if (subs[i].sub != s)
                continue;
            zmsg_t *m = zmsg_recv(s);
            zframe_t *body = zmsg_last(m);
            Rapport__V1__Event *ev = rapport__v1__event__unpack(NULL, zframe_size(body), zframe_data(body));
            if (ev) {
                if (subs[i].last_seq && ev->seq <= subs[i].last_seq)
                    subs[i].in_order = false;
                subs[i].last_seq = ev->seq;
                rapport__v1__event__free_unpacked(ev, NULL);
            }
            zmsg_destroy(&m);
            if (++subs[i].got == subs[i].want) {
                subs[i].done_us = rp_clock_mono_us();
                complete++;
            }
        }
    }
    zpoller_destroy(&poller);
    size_t delivered = 0;
    int64_t last_done = t0;
    bool ordered = true;
    for (int i = 0; i < N_SUBS; i++) {
        delivered += subs[i].got;
        if (subs[i].done_us > last_done)
            last_done = subs[i].done_us;
        ordered = ordered && subs[i].in_order;
        zsock_destroy(&subs[i].sub);
    }
    double secs = (double) (last_done - t0) / 1e6;
    if (secs <= 0)
        secs = 1e-6;
    result_t r = { "event deliveries (4 subscribers)", (double) delivered / secs, w.p50_us, w.p99_us,
                   delivered, (size_t) (N_SUBS * n - delivered) + (ordered ? 0 : 1) + w.errors };
    return r;
}

/* ------------------------------------------------------------------ replay */

static result_t
s_replay(rp_client_t *c)
{
    uint64_t from = 1;
    size_t total = 0, errors = 0;
    int64_t t0 = rp_clock_mono_us();
    for (;;) {
        Rapport__Sys__V1__ReplayRequest req = RAPPORT__SYS__V1__REPLAY_REQUEST__INIT;
        req.from_seq = from;
        req.limit = 1000;
        Rapport__Sys__V1__ReplayReply *r;
        rp_call_status_t st;
        if (rp_client_call(c, NULL, "rapport.sys.v1.System/Replay", &req.base,
                           &rapport__sys__v1__replay_reply__descriptor, (ProtobufCMessage **) &r,
                           &st, 10000) != RP_OK) {
            fprintf(stderr, "bench: replay: %s\n", st.message);
            errors++;
            break;
        }
        total += r->n_events;
        bool end = r->n_events == 0 || r->next_seq > r->last_seq;
        from = r->next_seq;
        rapport__sys__v1__replay_reply__free_unpacked(r, NULL);
        if (end)
            break;
    }
    double secs = (double) (rp_clock_mono_us() - t0) / 1e6;
    result_t res = { "replay (1000 per call)", (double) total / secs, 0, 0, total, errors };
    return res;
}

/* ------------------------------------------------------------------ service metrics */

/* s_metric - one counter from System/Metrics (Prometheus text), or -1. */
static double
s_metric(rp_client_t *adm, const char *name)
{
    Rapport__Sys__V1__MetricsRequest req = RAPPORT__SYS__V1__METRICS_REQUEST__INIT;
    Rapport__Sys__V1__MetricsReply *r;
    if (rp_client_call(adm, NULL, "rapport.sys.v1.System/Metrics", &req.base,
                       &rapport__sys__v1__metrics_reply__descriptor, (ProtobufCMessage **) &r,
                       NULL, 5000) != RP_OK)
        return -1;
    double v = -1;
    size_t n = strlen(name);
    for (const char *line = r->text; line && *line; ) {
        if (strncmp(line, name, n) == 0 && (line[n] == ' ' || line[n] == '{')) {
            const char *sp = strchr(line, ' ');
            if (sp)
                v = atof(sp + 1);
            break;
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    rapport__sys__v1__metrics_reply__free_unpacked(r, NULL);
    return v;
}

/* The service's counters and its CPU time (all threads, from /proc) at one moment. */
typedef struct {
    double commits, requests;
    double commit_s;            /* seconds spent in group commits (pwrite + fsync) */
    double user_s, sys_s;       /* CPU time of the service process */
} svc_counts_t;

/* s_cpu - user and system CPU seconds of process pid so far. */
static void
s_cpu(pid_t pid, double *user_s, double *sys_s)
{
    char path[64], buf[1024];
    *user_s = *sys_s = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* After "(comm)": state is field 3, utime field 14, stime field 15. */
    const char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2) {
        double hz = (double) sysconf(_SC_CLK_TCK);
        *user_s = (double) ut / hz;
        *sys_s = (double) st / hz;
    }
}

static svc_counts_t
s_counts(rp_client_t *adm, pid_t pid)
{
    svc_counts_t c = { s_metric(adm, "rapport_commits_total"), s_metric(adm, "rapport_requests_total"),
                       s_metric(adm, "rapport_commit_duration_sum"), 0, 0 };
    s_cpu(pid, &c.user_s, &c.sys_s);
    return c;
}

/* Where one create phase's time went on the service's side. */
typedef struct {
    double commit_us;           /* mean duration of one group commit */
    double user_us, sys_us;     /* service CPU per create, user and kernel */
} svc_cost_t;

static svc_cost_t
s_cost(svc_counts_t a, svc_counts_t b, size_t writes)
{
    double commits = b.commits - a.commits, n = writes ? (double) writes : 1;
    svc_cost_t c = { commits > 0 ? (b.commit_s - a.commit_s) * 1e6 / commits : 0,
                     (b.user_s - a.user_s) * 1e6 / n, (b.sys_s - a.sys_s) * 1e6 / n };
    return c;
}

static json_t *
s_cost_json(svc_cost_t c)
{
    return json_pack("{s:f,s:f,s:f}", "commit_us", c.commit_us, "cpu_user_us_per_create", c.user_us,
                     "cpu_sys_us_per_create", c.sys_us);
}

/* s_per_commit - writes per commit between two samples (the metrics call itself is
 * one request, not a write). */
static double
s_per_commit(svc_counts_t a, svc_counts_t b, size_t writes)
{
    double commits = b.commits - a.commits;
    return commits > 0 ? (double) writes / commits : 0;
}

/* ------------------------------------------------------------------ main */

static long
s_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

int
main(int argc, char **argv)
{
    const char *json_path = NULL;
    static const struct option opts[] = {
        { "seconds", required_argument, NULL, 's' }, { "json", required_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 's': g_seconds = atof(optarg); break;
        case 'j': json_path = optarg; break;
        default:
            printf("Usage: rapport-bench [--seconds S] [--json FILE]\n"
                   "Measures rapport-leads (CURVE on, tokens verified, durable writes) next to\n"
                   "the raw ZeroMQ echo and LMDB commit ceilings, in one run.\n");
            return ch == 'h' ? 0 : 2;
        }
    }
    if (g_seconds <= 0)
        g_seconds = 3;
    if (sodium_init() < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    uint32_t rnd = randombytes_random();
    snprintf(g_run, sizeof g_run, "%08x", rnd);

    rp_suite_t *suite = rp_suite_new();
    const char *env[] = { "RAPPORT_LOG_LEVEL=warn", NULL };
    pid_t pid = rp_suite_start(suite, "leads", env);
    zclock_sleep(1000);
    long idle_kib = s_rss_kib(pid);

    char *token = rp_suite_token(suite, "bench-manager", "manager", "hq", "/hq/sales", NULL, 3600);
    char *admin = rp_suite_token(suite, "bench-admin", "admin", "hq", "/hq", NULL, 3600);
    rp_client_t *c = rp_suite_client(suite, "leads", token);
    rp_client_t *adm = rp_suite_client(suite, "leads", admin);

    char host[256] = "";
    gethostname(host, sizeof host - 1);
    printf("rapport-bench: %ld cores, %.1f s per measurement, host %s\n",
           sysconf(_SC_NPROCESSORS_ONLN), g_seconds, host);
    printf("ceilings:\n");
    rp_curve_t *srv = NULL;
    rp_keys_ensure_curve(rp_suite_dir(suite), "echo", false);
    srv = rp_curve_load(rp_suite_dir(suite), "echo");
    result_t echo1 = s_echo("zmq echo 200 B, 1 in flight", 1, NULL, NULL); s_print(&echo1);
    result_t echo64 = s_echo("zmq echo 200 B, 64 in flight", 64, NULL, NULL); s_print(&echo64);
    result_t cecho1 = s_echo("zmq+CURVE echo, 1 in flight", 1, srv, rp_suite_client_cert(suite)); s_print(&cecho1);
    char *lmdb_dir1 = rp_sprintf("%s/lmdb-single", rp_suite_dir(suite));
    char *lmdb_dir2 = rp_sprintf("%s/lmdb-batch", rp_suite_dir(suite));
    result_t lm1 = s_lmdb(lmdb_dir1, "lmdb put, 1 per commit", 1); s_print(&lm1);
    result_t lm1000 = s_lmdb(lmdb_dir2, "lmdb put, 1000 per commit", 1000); s_print(&lm1000);

    printf("rapport-leads (CURVE, JWT, durable):\n");
    uint64_t base = 0;
    created_t created = { rp_calloc(100000, sizeof(char *)), 0 };
    /* warm-up: handshake and token cache */
    result_t warm = s_pipeline("warm-up", c, token, "rapport.leads.v1.Leads/Create", 16, 2000,
                               s_body_create, &base, &created);
    base += warm.ops;
    svc_counts_t k0 = s_counts(adm, pid);
    result_t cr1 = s_pipeline("create, 1 in flight", c, token, "rapport.leads.v1.Leads/Create", 1, 0, s_body_create, &base, NULL);
    base += cr1.ops; s_print(&cr1);
    svc_counts_t k1 = s_counts(adm, pid);
    result_t cr16 = s_pipeline("create, 16 in flight", c, token, "rapport.leads.v1.Leads/Create", 16, 0, s_body_create, &base, NULL);
    base += cr16.ops; s_print(&cr16);
    svc_counts_t k2 = s_counts(adm, pid);
    result_t cr64 = s_pipeline("create, 64 in flight", c, token, "rapport.leads.v1.Leads/Create", 64, 0, s_body_create, &base, NULL);
    base += cr64.ops; s_print(&cr64);
    svc_counts_t k3 = s_counts(adm, pid);
    double pc1 = s_per_commit(k0, k1, cr1.ops), pc16 = s_per_commit(k1, k2, cr16.ops),
           pc64 = s_per_commit(k2, k3, cr64.ops);
    printf("  writes per commit (group commit):   1: %.1f   16: %.1f   64: %.1f\n", pc1, pc16, pc64);
    svc_cost_t co1 = s_cost(k0, k1, cr1.ops), co16 = s_cost(k1, k2, cr16.ops),
               co64 = s_cost(k2, k3, cr64.ops);
    printf("  mean group commit (us):             1: %.0f   16: %.0f   64: %.0f\n",
           co1.commit_us, co16.commit_us, co64.commit_us);
    printf("  service CPU per create, user+sys (us): 1: %.0f+%.0f   16: %.0f+%.0f   64: %.0f+%.0f\n",
           co1.user_us, co1.sys_us, co16.user_us, co16.sys_us, co64.user_us, co64.sys_us);
    result_t gets = s_pipeline("get, 256 in flight", c, token, "rapport.leads.v1.Leads/Get", 256, 0, s_body_get, &created, NULL);
    s_print(&gets);
    result_t fan = s_fanout(suite, c, token, &base, 20000);
    s_print(&fan);
    result_t rep = s_replay(adm);
    s_print(&rep);
    long busy_kib = s_rss_kib(pid);

    double fsync_us = lm1.rate > 0 ? 1e6 / lm1.rate : 0;
    double rt_bound = echo1.p50_us + fsync_us + 100;
    double x_fsync = lm1.rate > 0 ? cr64.rate / lm1.rate : 0;
    struct { const char *what; double got, want; bool higher_is_better; const char *unit; } t[] = {
        { "creates/s at 64 in flight", cr64.rate, 50000, true, "/s" },
        { "x one-fsync-per-write rate", x_fsync, 20, true, "x" },
        { "p99 at 64 in flight (us)", cr64.p99_us, 5000, false, "us" },
        { "single-client p50 round trip (us)", cr1.p50_us, rt_bound, false, "us" },
        { "pipelined gets/s", gets.rate, 100000, true, "/s" },
        { "idle RSS (KiB)", (double) idle_kib, 16384, false, "KiB" },
    };
    printf("\ntargets:\n");
    json_t *targets = json_array();
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        bool ok = t[i].higher_is_better ? t[i].got >= t[i].want : t[i].got <= t[i].want;
        printf("  %-36s %12.1f  target %s %10.1f  %s\n", t[i].what, t[i].got,
               t[i].higher_is_better ? ">=" : "<=", t[i].want, ok ? "met" : "NOT MET");
        json_array_append_new(targets, json_pack("{s:s,s:f,s:f,s:b}", "what", t[i].what,
                                                 "got", t[i].got, "target", t[i].want, "met", ok));
    }
    printf("\nratios (same run):\n");
    printf("  create@64 / lmdb 1-per-commit       %8.2f x\n", x_fsync);
    printf("  create@64 / lmdb 1000-per-commit    %8.3f x\n", lm1000.rate > 0 ? cr64.rate / lm1000.rate : 0);
    printf("  create@64 / zmq echo@64             %8.3f x\n", echo64.rate > 0 ? cr64.rate / echo64.rate : 0);
    printf("  gets / zmq echo@64                  %8.3f x\n", echo64.rate > 0 ? gets.rate / echo64.rate : 0);
    printf("  create@1 p50 - (echo p50 + fsync)   %8.0f us\n", cr1.p50_us - echo1.p50_us - fsync_us);
    printf("  RSS idle %ld KiB, after the run %ld KiB\n", idle_kib, busy_kib);

    json_t *doc = json_pack("{s:s,s:i,s:f}", "host", host, "cores", (int) sysconf(_SC_NPROCESSORS_ONLN),
                            "seconds", g_seconds);
    json_t *res = json_object();
    json_object_set_new(res, "echo_1", s_json(&echo1));
    json_object_set_new(res, "echo_64", s_json(&echo64));
    json_object_set_new(res, "curve_echo_1", s_json(&cecho1));
    json_object_set_new(res, "lmdb_1_per_commit", s_json(&lm1));
    json_object_set_new(res, "lmdb_1000_per_commit", s_json(&lm1000));
    json_object_set_new(res, "create_1", s_json(&cr1));
    json_object_set_new(res, "create_16", s_json(&cr16));
    json_object_set_new(res, "create_64", s_json(&cr64));
    json_object_set_new(res, "get_256", s_json(&gets));
    json_object_set_new(res, "fanout_4", s_json(&fan));
    json_object_set_new(res, "replay", s_json(&rep));
    json_object_set_new(doc, "results", res);
    json_object_set_new(doc, "targets", targets);
    json_object_set_new(doc, "idle_rss_kib", json_integer(idle_kib));
    json_object_set_new(doc, "fsync_us", json_real(fsync_us));
    json_object_set_new(doc, "writes_per_commit", json_pack("{s:f,s:f,s:f}", "in_flight_1", pc1,
                                                            "in_flight_16", pc16, "in_flight_64", pc64));
    json_object_set_new(doc, "service_cost", json_pack("{s:o,s:o,s:o}", "in_flight_1", s_cost_json(co1),
                                                       "in_flight_16", s_cost_json(co16),
                                                       "in_flight_64", s_cost_json(co64)));
    char *text = json_dumps(doc, JSON_INDENT(2));
    printf("\n%s\n", text);
    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (f) {
            fputs(text, f);
            fclose(f);
        }
    }
    free(text);
    json_decref(doc);

    for (size_t i = 0; i < created.n_ids; i++)
        free(created.ids[i]);
    free(created.ids);
    free(lmdb_dir1);
    free(lmdb_dir2);
    rp_curve_destroy(&srv);
    rp_client_destroy(&c);
    rp_client_destroy(&adm);
    free(token);
    free(admin);
    rp_suite_destroy(&suite);
    return 0;
}
