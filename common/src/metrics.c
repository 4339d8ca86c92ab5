/* metrics.c - counters, gauges and latency histograms, rendered as Prometheus text.
 *
 * The registry is a fixed array of series inside rp_metrics_t, so the pointers
 * handed out stay valid until destroy. Registration happens on one thread; the
 * series count is published with a release store after a series is complete,
 * so the HTTP thread can render (acquire load) while the loop registers late.
 * Values are relaxed atomics: renders are not snapshots, but every value read
 * is a value that was written. Histogram buckets are stored per bucket and
 * made cumulative at render time; _count is the sum of the buckets, so +Inf
 * and _count always agree in one scrape.
 *
 * Names get the "rapport_" prefix and every series the label service="<name>".
 * When the registry is full, registration logs once and returns a sink that
 * is never rendered, so a label explosion cannot crash a service.
 */
#include "rapport/metrics.h"
#include "rapport/log.h"
#include "rapport/util.h"

#include <assert.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_SERIES 256
#define S_N_BOUNDS 17

/* Bucket upper bounds in microseconds; one more bucket holds the rest (+Inf). */
static const int64_t s_bounds_us[S_N_BOUNDS] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
    250000, 500000, 1000000, 2500000, 5000000, 10000000
};

typedef enum { S_COUNTER, S_GAUGE, S_HISTOGRAM } s_kind_t;

struct rp_counter {
    _Atomic uint64_t v;
};

struct rp_histogram {
    _Atomic uint64_t buckets[S_N_BOUNDS + 1];
    _Atomic uint64_t sum_us;
};

typedef struct {
    s_kind_t kind;
    char *name;                 /* "rapport_requests_total" */
    char *help;
    char *labels;               /* `service="leads",method="Create"` */
    char *key_labels;           /* the caller's labels, for find */
    struct rp_counter counter;
    struct rp_histogram histogram;
} s_series_t;

struct rp_metrics {
    char *service;
    _Atomic size_t n_series;
    s_series_t series[S_MAX_SERIES];
    struct rp_counter sink_counter;
    struct rp_histogram sink_histogram;
    bool warned_full;
};

/* s_escape - Prometheus escaping: backslash and newline, and '"' when quoted. */
static char *
s_escape(const char *s, bool quote)
{
    size_t n = strlen(s);
    char *out = rp_malloc(2 * n + 1), *o = out;
    for (; *s; s++) {
        if (*s == '\\') { *o++ = '\\'; *o++ = '\\'; }
        else if (*s == '\n') { *o++ = '\\'; *o++ = 'n'; }
        else if (*s == '"' && quote) { *o++ = '\\'; *o++ = '"'; }
        else *o++ = *s;
    }
    *o = '\0';
    return out;
}

rp_metrics_t *
rp_metrics_new(const char *service)
{
    rp_metrics_t *self = rp_calloc(1, sizeof *self);
    self->service = s_escape(service ? service : "", true);
    atomic_init(&self->n_series, 0);
    return self;
}

void
rp_metrics_destroy(rp_metrics_t **self_p)
{
    assert(self_p);
    rp_metrics_t *self = *self_p;
    if (!self)
        return;
    size_t n = atomic_load(&self->n_series);
    for (size_t i = 0; i < n; i++) {
        free(self->series[i].name);
        free(self->series[i].help);
        free(self->series[i].labels);
        free(self->series[i].key_labels);
    }
    free(self->service);
    free(self);
    *self_p = NULL;
}

/* s_name_ok - [a-zA-Z_:][a-zA-Z0-9_:]* */
static bool __attribute__((unused))   /* used only by asserts */
s_name_ok(const char *name)
{
    if (!name || !*name || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '_' || *p == ':'))
            return false;
    return true;
}

/* s_register - find the series (name, labels) or add it. NULL when full. */
static s_series_t *
s_register(rp_metrics_t *self, s_kind_t kind, const char *name, const char *help,
           const char *labels)
{
    assert(self);
    assert(s_name_ok(name));
    if (!labels)
        labels = "";
    if (!help)
        help = "";
    size_t n = atomic_load_explicit(&self->n_series, memory_order_relaxed);
    char *full = rp_sprintf("rapport_%s", name);
    for (size_t i = 0; i < n; i++) {
        s_series_t *s = &self->series[i];
        if (strcmp(s->name, full) == 0) {
            assert(s->kind == kind);    /* one name, one type */
            if (strcmp(s->key_labels, labels) == 0) {
                free(full);
                return s;
            }
        }
    }
    if (n == S_MAX_SERIES) {
        if (!self->warned_full)
            rp_warn("metrics: registry full (%d series); %s{%s} is not exported",
                    S_MAX_SERIES, full, labels);
        self->warned_full = true;
        free(full);
        return NULL;
    }
    s_series_t *s = &self->series[n];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->name = full;
    s->help = s_escape(help, false);
    s->key_labels = rp_strdup(labels);
    s->labels = *labels ? rp_sprintf("service=\"%s\",%s", self->service, labels)
                        : rp_sprintf("service=\"%s\"", self->service);
    atomic_init(&s->counter.v, 0);
    for (int b = 0; b <= S_N_BOUNDS; b++)
        atomic_init(&s->histogram.buckets[b], 0);
    atomic_init(&s->histogram.sum_us, 0);
    atomic_store_explicit(&self->n_series, n + 1, memory_order_release);
    return s;
}

rp_counter_t *
rp_metrics_counter(rp_metrics_t *self, const char *name, const char *help, const char *labels)
{
    s_series_t *s = s_register(self, S_COUNTER, name, help, labels);
    return s ? &s->counter : &self->sink_counter;
}

rp_counter_t *
rp_metrics_gauge(rp_metrics_t *self, const char *name, const char *help, const char *labels)
{
    s_series_t *s = s_register(self, S_GAUGE, name, help, labels);
    return s ? &s->counter : &self->sink_counter;
}

rp_histogram_t *
rp_metrics_histogram(rp_metrics_t *self, const char *name, const char *help, const char *labels)
{
    s_series_t *s = s_register(self, S_HISTOGRAM, name, help, labels);
    return s ? &s->histogram : &self->sink_histogram;
}

void
rp_counter_add(rp_counter_t *c, uint64_t n)
{
    assert(c);
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

void
rp_gauge_set(rp_counter_t *c, int64_t v)
{
    assert(c);
    atomic_store_explicit(&c->v, (uint64_t) v, memory_order_relaxed);
}

uint64_t
rp_counter_value(const rp_counter_t *c)
{
    assert(c);
    return atomic_load_explicit(&((rp_counter_t *) c)->v, memory_order_relaxed);
}

void
rp_histogram_observe(rp_histogram_t *h, int64_t us)
{
    assert(h);
    if (us < 0)
        us = 0;
    int b = 0;
    while (b < S_N_BOUNDS && us > s_bounds_us[b])
        b++;
    atomic_fetch_add_explicit(&h->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t) us, memory_order_relaxed);
}

/* ---------------------------------------------------------------------------
 * Rendering
 */

typedef struct {
    char *data;
    size_t len, cap;
} s_buf_t;

static void s_printf(s_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
s_printf(s_buf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        assert(n >= 0);
        if ((size_t) n < b->cap - b->len) {
            b->len += (size_t) n;
            return;
        }
        b->cap = b->cap * 2 + (size_t) n;
        b->data = rp_realloc(b->data, b->cap);
    }
}

/* s_seconds - microseconds as a decimal number of seconds: 0.00005, 2.5, 10. */
static void
s_seconds(uint64_t us, char out[32])
{
    int n = snprintf(out, 32, "%llu.%06llu", (unsigned long long) (us / 1000000),
                     (unsigned long long) (us % 1000000));
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.')
        out[--n] = '\0';
}

static const char *
s_type_name(s_kind_t k)
{
    return k == S_COUNTER ? "counter" : k == S_GAUGE ? "gauge" : "histogram";
}

static void
s_render_series(s_buf_t *b, const s_series_t *s)
{
    if (s->kind == S_COUNTER) {
        s_printf(b, "%s{%s} %llu\n", s->name, s->labels,
                 (unsigned long long) rp_counter_value(&s->counter));
        return;
    }
    if (s->kind == S_GAUGE) {
        s_printf(b, "%s{%s} %lld\n", s->name, s->labels,
                 (long long) (int64_t) rp_counter_value(&s->counter));
        return;
    }
    rp_histogram_t *h = (rp_histogram_t *) &s->histogram;
    uint64_t cum = 0;
    char le[32];
    for (int i = 0; i <= S_N_BOUNDS; i++) {
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < S_N_BOUNDS)
            s_seconds((uint64_t) s_bounds_us[i], le);
        else
            strcpy(le, "+Inf");
        s_printf(b, "%s_bucket{%s,le=\"%s\"} %llu\n", s->name, s->labels, le,
                 (unsigned long long) cum);
    }
    s_seconds(atomic_load_explicit(&h->sum_us, memory_order_relaxed), le);
    s_printf(b, "%s_sum{%s} %s\n", s->name, s->labels, le);
    s_printf(b, "%s_count{%s} %llu\n", s->name, s->labels, (unsigned long long) cum);
}

char *
rp_metrics_render(rp_metrics_t *self)
{
    assert(self);
    s_buf_t b = { rp_malloc(4096), 0, 4096 };
    b.data[0] = '\0';
    size_t n = atomic_load_explicit(&self->n_series, memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
        const s_series_t *s = &self->series[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(self->series[j].name, s->name) == 0;
        if (seen)
            continue;                   /* rendered with its first series */
        if (*s->help)
            s_printf(&b, "# HELP %s %s\n", s->name, s->help);
        s_printf(&b, "# TYPE %s %s\n", s->name, s_type_name(s->kind));
        for (size_t j = i; j < n; j++)
            if (strcmp(self->series[j].name, s->name) == 0)
                s_render_series(&b, &self->series[j]);
    }
    return b.data;
}
