/* test_http.c - the ops HTTP endpoint over a real socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "rapport/http.h"
#include "rapport/metrics.h"
#include "rapport/util.h"

typedef struct {
    int status;
    char *head;         /* status line and headers */
    char *body;
} s_resp_t;

/* s_request - send raw bytes to 127.0.0.1:port, read until the server closes. */
static s_resp_t
s_request(int port, const char *raw)
{
    s_resp_t r = { 0, NULL, NULL };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof sa), 0);
    size_t len = strlen(raw);
    assert_int_equal(send(fd, raw, len, MSG_NOSIGNAL), (ssize_t) len);
    size_t cap = 4096, n = 0;
    char *buf = rp_malloc(cap);
    for (;;) {
        if (n + 1 == cap)
            buf = rp_realloc(buf, cap *= 2);
        ssize_t got = recv(fd, buf + n, cap - 1 - n, 0);
        assert_true(got >= 0);
        if (got == 0)
            break;
        n += (size_t) got;
    }
    buf[n] = '\0';
    close(fd);
    if (n == 0) {               /* closed without a reply */
        free(buf);
        r.head = rp_strdup("");
        r.body = rp_strdup("");
        return r;
    }
    char *sep = strstr(buf, "\r\n\r\n");
    assert_non_null(sep);
    *sep = '\0';
    r.head = rp_strdup(buf);
    r.body = rp_strdup(sep + 4);
    assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &r.status), 1);
    free(buf);
    return r;
}

static void
s_resp_free(s_resp_t *r)
{
    free(r->head);
    free(r->body);
}

static void
test_listen_parse(void **state)
{
    static const struct {
        const char *listen;
        bool want_ok;
    } cases[] = {
        { "127.0.0.1:0", true },
        { ":0", true },
        { "localhost:0", true },
        { "", false },
        { "9112", false },
        { "127.0.0.1:", false },
        { "127.0.0.1:99999", false },
        { "127.0.0.1:-1", false },
        { "127.0.0.1:80x", false },
        { "::1:0", false },             /* IPv6 needs brackets */
        { "no.such.host.invalid:0", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rp_http_t *h = rp_http_new(cases[i].listen, NULL);
        if ((h != NULL) != cases[i].want_ok)
            fail_msg("%s: want ok=%d", cases[i].listen, cases[i].want_ok);
        if (h) {
            assert_true(rp_http_port(h) > 0);
            rp_http_destroy(&h);
            assert_null(h);
        }
    }
    assert_null(rp_http_new(NULL, NULL));
    rp_http_t *none = NULL;
    rp_http_destroy(&none);
}

static void
test_routes(void **state)
{
    rp_metrics_t *m = rp_metrics_new("leads");
    rp_counter_add(rp_metrics_counter(m, "requests_total", "Requests.", "code=\"OK\""), 3);
    rp_http_t *h = rp_http_new("127.0.0.1:0", m);
    assert_non_null(h);
    int port = rp_http_port(h);
    assert_true(port > 0 && port < 65536);

    static const struct {
        const char *request;
        int set_ready;          /* -1: leave */
        int want_status;
        const char *want_body;  /* exact, or NULL */
        const char *want_in_body;
        const char *want_in_head;
    } cases[] = {
        { "GET /healthz HTTP/1.0\r\n\r\n", -1, 200, "ok", NULL, "Content-Type: text/plain" },
        { "GET /readyz HTTP/1.0\r\n\r\n", -1, 503, "not ready", NULL, NULL },
        { "GET /readyz HTTP/1.0\r\n\r\n", 1, 200, "ready", NULL, NULL },
        { "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", -1, 200, "ready", NULL, NULL },
        { "GET /readyz HTTP/1.0\r\n\r\n", 0, 503, "not ready", NULL, NULL },
        { "GET /metrics HTTP/1.0\r\n\r\n", -1, 200, NULL,
          "rapport_requests_total{service=\"leads\",code=\"OK\"} 3\n",
          "Content-Type: text/plain; version=0.0.4" },
        { "GET /metrics?x=1 HTTP/1.0\r\n\r\n", -1, 200, NULL, "# TYPE rapport_requests_total counter\n", NULL },
        { "GET / HTTP/1.0\r\n\r\n", -1, 404, NULL, NULL, NULL },
        { "GET /metrics/ HTTP/1.0\r\n\r\n", -1, 404, NULL, NULL, NULL },
        { "GET /healthz/../metrics HTTP/1.0\r\n\r\n", -1, 404, NULL, NULL, NULL },
        { "GET /HEALTHZ HTTP/1.0\r\n\r\n", -1, 404, NULL, NULL, NULL },
        { "POST /healthz HTTP/1.0\r\nContent-Length: 0\r\n\r\n", -1, 405, NULL, NULL, "Allow: GET" },
        { "POST /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello", -1, 405, NULL, NULL, NULL },
        { "PUT /readyz HTTP/1.0\r\nContent-Length: 0\r\n\r\n", -1, 405, NULL, NULL, NULL },
        { "DELETE /metrics HTTP/1.0\r\n\r\n", -1, 405, NULL, NULL, NULL },
        { "HEAD /healthz HTTP/1.0\r\n\r\n", -1, 200, "", NULL, NULL },
        { "GARBAGE\r\n\r\n", -1, 400, NULL, NULL, NULL },     /* 400, or closed unanswered */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].set_ready >= 0)
            rp_http_set_ready(h, cases[i].set_ready == 1);
        s_resp_t r = s_request(port, cases[i].request);
        bool status_ok = r.status == cases[i].want_status
                         || (cases[i].want_status == 400 && r.status == 0);
        if (!status_ok)
            fail_msg("case %zu: status %d, want %d\n%s", i, r.status, cases[i].want_status, r.head);
        if (cases[i].want_body)
            assert_string_equal(r.body, cases[i].want_body);
        if (cases[i].want_in_body && !strstr(r.body, cases[i].want_in_body))
            fail_msg("case %zu: body lacks %s:\n%s", i, cases[i].want_in_body, r.body);
        if (cases[i].want_in_head && !strstr(r.head, cases[i].want_in_head))
            fail_msg("case %zu: head lacks %s:\n%s", i, cases[i].want_in_head, r.head);
        s_resp_free(&r);
    }

    /* Metrics are live: an update shows in the next scrape. */
    rp_counter_add(rp_metrics_counter(m, "requests_total", "Requests.", "code=\"OK\""), 1);
    s_resp_t r = s_request(port, "GET /metrics HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(r.body, "rapport_requests_total{service=\"leads\",code=\"OK\"} 4\n"));
    s_resp_free(&r);

    rp_http_destroy(&h);
    rp_metrics_destroy(&m);
}

static void
test_no_metrics_and_fixed_port(void **state)
{
    /* Without a registry /metrics is empty but present. */
    rp_http_t *h = rp_http_new(":0", NULL);
    assert_non_null(h);
    int port = rp_http_port(h);
    s_resp_t r = s_request(port, "GET /metrics HTTP/1.0\r\n\r\n");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "");
    s_resp_free(&r);

    /* The same port cannot be bound twice. */
    char *listen = rp_sprintf("127.0.0.1:%d", port);
    rp_http_t *twice = rp_http_new(listen, NULL);
    assert_null(twice);
    rp_http_destroy(&h);

    /* Once released, a fixed port binds and reports itself. */
    h = rp_http_new(listen, NULL);
    assert_non_null(h);
    assert_int_equal(rp_http_port(h), port);
    r = s_request(port, "GET /healthz HTTP/1.0\r\n\r\n");
    assert_int_equal(r.status, 200);
    s_resp_free(&r);
    rp_http_destroy(&h);
    free(listen);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_parse),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_no_metrics_and_fixed_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
