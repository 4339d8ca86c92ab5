/* http.h - the ops HTTP endpoint (libmicrohttpd, its own thread): GET /metrics
 * (Prometheus text), /healthz (200 while the process runs) and /readyz (200 once
 * the store is open and the sockets are bound, 503 while draining).
 */
#ifndef RAPPORT_HTTP_H
#define RAPPORT_HTTP_H
#include <stdbool.h>
#include "rapport/metrics.h"

typedef struct rp_http rp_http_t;

/* rp_http_new - listen on "127.0.0.1:9112" or ":9112" (all addresses). NULL on failure. */
rp_http_t *rp_http_new(const char *listen, rp_metrics_t *metrics);
void rp_http_destroy(rp_http_t **self_p);
void rp_http_set_ready(rp_http_t *self, bool ready);
/* rp_http_port - the bound port (useful with port 0). */
int rp_http_port(rp_http_t *self);

#endif
