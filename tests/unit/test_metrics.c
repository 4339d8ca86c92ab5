/* test_metrics.c - counters, gauges, histograms and their Prometheus text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rapport/metrics.h"

/* s_count - occurrences of needle in hay. */
static int
s_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void
s_assert_has(const char *text, const char *line)
{
    if (!strstr(text, line))
        fail_msg("missing from render: %s\n--- render ---\n%s", line, text);
}

static void
test_counter_gauge(void **state)
{
    rp_metrics_t *m = rp_metrics_new("leads");
    rp_counter_t *ok = rp_metrics_counter(m, "requests_total", "Requests answered.",
                                          "method=\"Create\",code=\"OK\"");
    rp_counter_t *bad = rp_metrics_counter(m, "requests_total", "Requests answered.",
                                           "method=\"Create\",code=\"INVALID_ARGUMENT\"");
    rp_counter_t *plain = rp_metrics_counter(m, "batches_total", "Write batches.", "");
    rp_counter_t *g = rp_metrics_gauge(m, "queue_depth", "Pending requests.", NULL);
    assert_ptr_not_equal(ok, bad);
    /* Registering again finds the same series. */
    assert_ptr_equal(rp_metrics_counter(m, "requests_total", "x", "method=\"Create\",code=\"OK\""), ok);

    const struct {
        rp_counter_t **c;
        uint64_t add;
        uint64_t want;
    } adds[] = {
        { &ok, 1, 1 }, { &ok, 41, 42 }, { &bad, 0, 0 }, { &bad, 3, 3 }, { &plain, 7, 7 },
    };
    for (size_t i = 0; i < sizeof adds / sizeof adds[0]; i++) {
        rp_counter_add(*adds[i].c, adds[i].add);
        assert_int_equal(rp_counter_value(*adds[i].c), adds[i].want);
    }
    rp_gauge_set(g, 5);
    assert_int_equal(rp_counter_value(g), 5);
    rp_gauge_set(g, -3);

    char *text = rp_metrics_render(m);
    static const struct {
        const char *want_line;
        int want_count;
    } lines[] = {
        { "# HELP rapport_requests_total Requests answered.\n", 1 },
        { "# TYPE rapport_requests_total counter\n", 1 },
        { "rapport_requests_total{service=\"leads\",method=\"Create\",code=\"OK\"} 42\n", 1 },
        { "rapport_requests_total{service=\"leads\",method=\"Create\",code=\"INVALID_ARGUMENT\"} 3\n", 1 },
        { "# TYPE rapport_batches_total counter\n", 1 },
        { "rapport_batches_total{service=\"leads\"} 7\n", 1 },
        { "# TYPE rapport_queue_depth gauge\n", 1 },
        { "rapport_queue_depth{service=\"leads\"} -3\n", 1 },
        { "# TYPE", 3 },
        { "# HELP", 3 },
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (s_count(text, lines[i].want_line) != lines[i].want_count)
            fail_msg("want %d x '%s' in:\n%s", lines[i].want_count, lines[i].want_line, text);
    }
    /* Both series of one name follow its TYPE line, before the next metric. */
    const char *type = strstr(text, "# TYPE rapport_requests_total");
    const char *next = strstr(type, "# HELP rapport_batches_total");
    assert_non_null(next);
    assert_true(strstr(type, "code=\"OK\"") < next);
    assert_true(strstr(type, "code=\"INVALID_ARGUMENT\"") < next);
    free(text);
    rp_metrics_destroy(&m);
    assert_null(m);
    rp_metrics_destroy(&m);     /* NULL-safe */
}

static void
test_histogram_buckets(void **state)
{
    static const struct {
        int64_t us;
        const char *want_le;    /* the smallest bucket that counts it */
    } cases[] = {
        { -5, "0.00005" },        /* clamped to 0 */
        { 0, "0.00005" },
        { 50, "0.00005" },
        { 51, "0.0001" },
        { 999, "0.001" },
        { 1000, "0.001" },
        { 2500, "0.0025" },
        { 999999, "1" },
        { 1000000, "1" },
        { 2500000, "2.5" },
        { 10000000, "10" },
        { 10000001, "+Inf" },
        { INT64_C(3600000000), "+Inf" },
    };
    static const char *les[] = {
        "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
        "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf", NULL
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rp_metrics_t *m = rp_metrics_new("t");
        rp_histogram_t *h = rp_metrics_histogram(m, "latency_seconds", "Latency.", "method=\"Get\"");
        rp_histogram_observe(h, cases[i].us);
        char *text = rp_metrics_render(m);
        const char *want_le = cases[i].want_le;
        bool counted = false;
        for (int b = 0; les[b]; b++) {
            counted = counted || strcmp(les[b], want_le) == 0;
            char line[256];
            snprintf(line, sizeof line,
                     "rapport_latency_seconds_bucket{service=\"t\",method=\"Get\",le=\"%s\"} %d\n",
                     les[b], counted ? 1 : 0);
            if (!strstr(text, line))
                fail_msg("case %zu (%lld us): missing %s in\n%s", i, (long long) cases[i].us, line, text);
        }
        s_assert_has(text, "rapport_latency_seconds_count{service=\"t\",method=\"Get\"} 1\n");
        s_assert_has(text, "# TYPE rapport_latency_seconds histogram\n");
        free(text);
        rp_metrics_destroy(&m);
    }
}

static void
test_histogram_sum_count(void **state)
{
    rp_metrics_t *m = rp_metrics_new("svc");
    rp_histogram_t *a = rp_metrics_histogram(m, "rpc_seconds", "RPC latency.", "method=\"A\"");
    rp_histogram_t *b = rp_metrics_histogram(m, "rpc_seconds", "RPC latency.", "method=\"B\"");
    rp_histogram_observe(a, 120);
    rp_histogram_observe(a, 1500000);
    rp_histogram_observe(a, 30);
    rp_histogram_observe(b, 20000000);
    char *text = rp_metrics_render(m);
    static const char *want[] = {
        "rapport_rpc_seconds_bucket{service=\"svc\",method=\"A\",le=\"0.00005\"} 1\n",
        "rapport_rpc_seconds_bucket{service=\"svc\",method=\"A\",le=\"0.00025\"} 2\n",
        "rapport_rpc_seconds_bucket{service=\"svc\",method=\"A\",le=\"1\"} 2\n",
        "rapport_rpc_seconds_bucket{service=\"svc\",method=\"A\",le=\"2.5\"} 3\n",
        "rapport_rpc_seconds_bucket{service=\"svc\",method=\"A\",le=\"+Inf\"} 3\n",
        "rapport_rpc_seconds_sum{service=\"svc\",method=\"A\"} 1.50015\n",
        "rapport_rpc_seconds_count{service=\"svc\",method=\"A\"} 3\n",
        "rapport_rpc_seconds_bucket{service=\"svc\",method=\"B\",le=\"10\"} 0\n",
        "rapport_rpc_seconds_bucket{service=\"svc\",method=\"B\",le=\"+Inf\"} 1\n",
        "rapport_rpc_seconds_sum{service=\"svc\",method=\"B\"} 20\n",
        "rapport_rpc_seconds_count{service=\"svc\",method=\"B\"} 1\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        s_assert_has(text, want[i]);
    assert_int_equal(s_count(text, "# TYPE rapport_rpc_seconds histogram\n"), 1);
    assert_int_equal(s_count(text, "# HELP rapport_rpc_seconds RPC latency.\n"), 1);
    assert_int_equal(s_count(text, "_bucket{"), 2 * 18);
    free(text);
    rp_metrics_destroy(&m);
}

static void
test_escaping(void **state)
{
    rp_metrics_t *m = rp_metrics_new("we\"ird\\svc");
    rp_counter_t *c = rp_metrics_counter(m, "x_total", "Line one\nline \\two", "");
    rp_counter_add(c, 1);
    char *text = rp_metrics_render(m);
    s_assert_has(text, "# HELP rapport_x_total Line one\\nline \\\\two\n");
    s_assert_has(text, "rapport_x_total{service=\"we\\\"ird\\\\svc\"} 1\n");
    free(text);
    rp_metrics_destroy(&m);
}

static void
test_registry_full(void **state)
{
    rp_metrics_t *m = rp_metrics_new("full");
    char labels[64];
    for (int i = 0; i < 256; i++) {
        snprintf(labels, sizeof labels, "n=\"%d\"", i);
        rp_counter_add(rp_metrics_counter(m, "many_total", "Many.", labels), 1);
    }
    /* The 257th series is a sink: usable, never rendered. */
    rp_counter_t *sink = rp_metrics_counter(m, "many_total", "Many.", "n=\"256\"");
    assert_non_null(sink);
    rp_counter_add(sink, 5);
    rp_histogram_t *hs = rp_metrics_histogram(m, "late_seconds", "Late.", "");
    assert_non_null(hs);
    rp_histogram_observe(hs, 10);
    /* Existing series are still found. */
    snprintf(labels, sizeof labels, "n=\"%d\"", 7);
    assert_int_equal(rp_counter_value(rp_metrics_counter(m, "many_total", "Many.", labels)), 1);
    char *text = rp_metrics_render(m);
    assert_int_equal(s_count(text, "rapport_many_total{"), 256);
    assert_null(strstr(text, "n=\"256\""));
    assert_null(strstr(text, "late_seconds"));
    assert_int_equal(s_count(text, "# TYPE"), 1);
    free(text);
    rp_metrics_destroy(&m);
}

typedef struct {
    rp_counter_t *c;
    rp_histogram_t *h;
} s_worker_t;

static void *
s_worker(void *arg)
{
    s_worker_t *w = arg;
    for (int i = 0; i < 100000; i++) {
        rp_counter_add(w->c, 1);
        rp_histogram_observe(w->h, i % 2000);
    }
    return NULL;
}

static void
test_concurrent_updates(void **state)
{
    rp_metrics_t *m = rp_metrics_new("mt");
    s_worker_t w = { rp_metrics_counter(m, "hits_total", "Hits.", ""),
                     rp_metrics_histogram(m, "op_seconds", "Op.", "") };
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, s_worker, &w), 0);
    /* Render while the workers update: must not crash or tear. */
    for (int i = 0; i < 20; i++)
        free(rp_metrics_render(m));
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(rp_counter_value(w.c), 400000);
    char *text = rp_metrics_render(m);
    s_assert_has(text, "rapport_hits_total{service=\"mt\"} 400000\n");
    s_assert_has(text, "rapport_op_seconds_count{service=\"mt\"} 400000\n");
    s_assert_has(text, "rapport_op_seconds_bucket{service=\"mt\",le=\"+Inf\"} 400000\n");
    free(text);
    rp_metrics_destroy(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge),
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_histogram_sum_count),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_registry_full),
        cmocka_unit_test(test_concurrent_updates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
