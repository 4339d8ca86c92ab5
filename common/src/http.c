/* http.c - the ops HTTP endpoint: /metrics, /healthz and /readyz on libmicrohttpd.
 *
 * libmicrohttpd runs its own polling thread (MHD_USE_INTERNAL_POLLING_THREAD
 * with the best poller the platform has). The handler touches only the
 * metrics registry (lock-free by design) and an atomic ready flag, so the
 * service loop never waits on a scrape. GET (and HEAD) are answered; any
 * other method gets 405, any other path 404. Connections are few, small and
 * short-lived: the daemon caps them and times idle ones out. libmicrohttpd's
 * own error messages go to the JSON log.
 */
#include "rapport/http.h"
#include "rapport/log.h"
#include "rapport/util.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define S_CONNECTION_LIMIT 64
#define S_CONNECTION_TIMEOUT 10         /* seconds */

struct rp_http {
    struct MHD_Daemon *daemon;
    rp_metrics_t *metrics;              /* borrowed */
    atomic_bool ready;
    int port;
};

/* s_log - libmicrohttpd's error logger, into the JSON log. */
static void
s_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    rp_warn("http: %s", msg);
}

/* s_reply - queue one response; body is copied unless must_free (then owned). */
static enum MHD_Result
s_reply(struct MHD_Connection *conn, unsigned status, const char *type, const char *body,
        bool must_free)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(body), (void *) body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        if (must_free)
            free((void *) body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* s_handle - the access handler: route by method and path. */
static enum MHD_Result
s_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
         const char *version, const char *upload_data, size_t *upload_data_size,
         void **con_cls)
{
    rp_http_t *self = cls;
    static const char *text = "text/plain; charset=utf-8";

    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text, "method not allowed", false);
    if (strcmp(url, "/metrics") == 0) {
        char *body = self->metrics ? rp_metrics_render(self->metrics) : rp_strdup("");
        return s_reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, true);
    }
    if (strcmp(url, "/healthz") == 0)
        return s_reply(conn, MHD_HTTP_OK, text, "ok", false);
    if (strcmp(url, "/readyz") == 0) {
        if (atomic_load(&self->ready))
            return s_reply(conn, MHD_HTTP_OK, text, "ready", false);
        return s_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text, "not ready", false);
    }
    return s_reply(conn, MHD_HTTP_NOT_FOUND, text, "not found", false);
}

/* s_parse_listen - "host:port", ":port" or "[v6]:port" into host (may be "")
 * and port. 0 or -1. */
static int
s_parse_listen(const char *listen, char *host, size_t host_cap, int *port)
{
    if (!listen)
        return -1;
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return -1;
    const char *h = listen;
    size_t h_len = (size_t) (colon - listen);
    if (h_len >= 2 && h[0] == '[' && h[h_len - 1] == ']') {
        h++;
        h_len -= 2;
    } else if (memchr(h, ':', h_len))
        return -1;                      /* bare IPv6 needs brackets */
    if (h_len >= host_cap)
        return -1;
    memcpy(host, h, h_len);
    host[h_len] = '\0';
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5)
        return -1;
    long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v > 65535)
        return -1;
    *port = (int) v;
    return 0;
}

rp_http_t *
rp_http_new(const char *listen, rp_metrics_t *metrics)
{
    char host[256];
    int port = 0;
    if (s_parse_listen(listen, host, sizeof host, &port) != 0) {
        rp_error("http: bad listen address '%s' (want host:port or :port)",
                 listen ? listen : "(null)");
        return NULL;
    }

    struct addrinfo *ai = NULL;
    if (*host) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
        char service[8];
        snprintf(service, sizeof service, "%d", port);
        int e = getaddrinfo(host, service, &hints, &ai);
        if (e != 0 || !ai) {
            rp_error("http: cannot resolve '%s': %s", host, gai_strerror(e));
            if (ai)
                freeaddrinfo(ai);
            return NULL;
        }
    }

    /* Prefer IPv4 when a name resolves to both ("localhost"). */
    struct addrinfo *pick = ai;
    for (struct addrinfo *a = ai; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }

    rp_http_t *self = rp_calloc(1, sizeof *self);
    self->metrics = metrics;
    atomic_init(&self->ready, false);
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (pick && pick->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    self->daemon = MHD_start_daemon(
        flags, (uint16_t) port, NULL, NULL, s_handle, self,
        MHD_OPTION_EXTERNAL_LOGGER, s_log, NULL,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) S_CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) S_CONNECTION_TIMEOUT,
        pick ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, pick ? pick->ai_addr : NULL,
        MHD_OPTION_END);
    if (ai)
        freeaddrinfo(ai);
    if (!self->daemon) {
        rp_error("http: cannot listen on %s", listen);
        free(self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon,
                                                           MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? (int) info->port : port;
    rp_info("http: ops endpoint on %s (port %d)", listen, self->port);
    return self;
}

void
rp_http_destroy(rp_http_t **self_p)
{
    assert(self_p);
    rp_http_t *self = *self_p;
    if (!self)
        return;
    MHD_stop_daemon(self->daemon);
    free(self);
    *self_p = NULL;
}

void
rp_http_set_ready(rp_http_t *self, bool ready)
{
    assert(self);
    atomic_store(&self->ready, ready);
}

int
rp_http_port(rp_http_t *self)
{
    assert(self);
    return self->port;
}
