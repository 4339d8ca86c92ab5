/* metrics.h - counters, gauges and latency histograms, rendered as Prometheus text.
 *
 * Updates are relaxed atomics, so the loop thread updates and the ops HTTP thread
 * renders without a lock. Metrics are registered once at start-up (not thread-safe);
 * the registry holds at most 256 series.
 */
#ifndef RAPPORT_METRICS_H
#define RAPPORT_METRICS_H
#include <stdint.h>
#include <stddef.h>

typedef struct rp_metrics rp_metrics_t;
typedef struct rp_counter rp_counter_t;
typedef struct rp_histogram rp_histogram_t;

rp_metrics_t *rp_metrics_new(const char *service);
void rp_metrics_destroy(rp_metrics_t **self_p);
/* rp_metrics_counter - register (or find) a counter. labels is "" or
 * `method="Create",code="OK"`. Borrowed pointer valid until destroy. */
rp_counter_t *rp_metrics_counter(rp_metrics_t *self, const char *name, const char *help, const char *labels);
/* rp_metrics_gauge - a gauge is a counter that may be set. */
rp_counter_t *rp_metrics_gauge(rp_metrics_t *self, const char *name, const char *help, const char *labels);
/* rp_metrics_histogram - latency in microseconds with fixed buckets 50us..10s. */
rp_histogram_t *rp_metrics_histogram(rp_metrics_t *self, const char *name, const char *help, const char *labels);
void rp_counter_add(rp_counter_t *c, uint64_t n);
void rp_gauge_set(rp_counter_t *c, int64_t v);
uint64_t rp_counter_value(const rp_counter_t *c);
void rp_histogram_observe(rp_histogram_t *h, int64_t us);
/* rp_metrics_render - the whole registry as Prometheus text; malloc'd. */
char *rp_metrics_render(rp_metrics_t *self);

#endif
