/* log.c - structured logs: one JSON object per line on stderr (DESIGN.md §9).
 *
 *   {"ts":"2026-11-22T12:58:21.123Z","level":"info","service":"leads",
 *    "msg":"...","request_id":"...","trace_id":"..."}
 *
 * request_id and trace_id are left out when NULL. Each line goes out in a
 * single write(2), so lines from several threads never interleave (up to
 * PIPE_BUF on a pipe, and on any regular file or terminal). Strings are
 * escaped per RFC 8259, control characters as \u00XX, and bytes that are not
 * valid UTF-8 become U+FFFD, so every line parses as JSON. Messages longer
 * than S_MSG_MAX bytes are cut on a character boundary.
 */
#define _GNU_SOURCE
#include "rapport/log.h"
#include "rapport/clock.h"
#include "rapport/fold.h"
#include "rapport/util.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define S_MSG_MAX 8192

static char s_service[64] = "rapport";
static atomic_int s_level = RP_LOG_INFO;

static const char *const s_level_names[] = { "debug", "info", "warn", "error" };

/* A growable line buffer that starts on the stack. */
typedef struct {
    char *data;
    size_t len, cap;
    bool heap;
} s_buf_t;

static void s_buf_reserve(s_buf_t *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap * 2;
    while (cap < b->len + extra)
        cap *= 2;
    if (b->heap)
        b->data = rp_realloc(b->data, cap);
    else {
        char *d = rp_malloc(cap);
        memcpy(d, b->data, b->len);
        b->data = d;
        b->heap = true;
    }
    b->cap = cap;
}

static void s_buf_put(s_buf_t *b, const char *s, size_t n)
{
    s_buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void s_buf_puts(s_buf_t *b, const char *s)
{
    s_buf_put(b, s, strlen(s));
}

/* s_utf8_len - length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
static size_t s_utf8_len(const unsigned char *s, size_t n)
{
    size_t want = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
                : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    if (want == 0 || want > n || !rp_utf8_valid((const char *)s, want))
        return 0;
    return want;
}

/* s_buf_json_string - s as a quoted, escaped JSON string. */
static void s_buf_json_string(s_buf_t *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    s_buf_put(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            s_buf_put(b, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            const char *short_esc = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t"
                                  : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (short_esc)
                s_buf_puts(b, short_esc);
            else {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                s_buf_puts(b, esc);
            }
            i++;
        } else if (c < 0x80) {
            /* Copy the run of plain ASCII in one go. */
            size_t j = i;
            while (j < n && p[j] >= 0x20 && p[j] < 0x7F && p[j] != '"' && p[j] != '\\')
                j++;
            s_buf_put(b, s + i, j - i);
            i = j;
        } else {
            size_t k = s_utf8_len(p + i, n - i);
            if (k) {
                s_buf_put(b, s + i, k);
                i += k;
            } else {
                s_buf_puts(b, "\\ufffd");
                i++;
            }
        }
    }
    s_buf_put(b, "\"", 1);
}

/* s_level_parse - the level for a name (case-insensitive; "warning" too), or -1. */
static int s_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, s_level_names[i]) == 0)
            return i;
    }
    if (strcasecmp(name, "warning") == 0)
        return RP_LOG_WARN;
    return -1;
}

/* rp_log_init - NULL service keeps the current name; NULL level means "info". */
int rp_log_init(const char *service, const char *level)
{
    int lv = RP_LOG_INFO;
    if (level && *level) {
        lv = s_level_parse(level);
        if (lv < 0)
            return -1;
    }
    if (service && *service)
        rp_strlcpy(s_service, service, sizeof s_service);
    atomic_store(&s_level, lv);
    return 0;
}

void rp_log_set_level(rp_log_level_t level)
{
    assert(level >= RP_LOG_DEBUG && level <= RP_LOG_ERROR);
    atomic_store(&s_level, (int)level);
}

/* s_write_line - hand the line to the kernel in one write, finishing a short write. */
static void s_write_line(const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, data, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;     /* nowhere left to report it */
        }
        data += w;
        len -= (size_t)w;
    }
}

void rp_log(rp_log_level_t level, const char *request_id, const char *trace_id,
            const char *fmt, ...)
{
    assert(level >= RP_LOG_DEBUG && level <= RP_LOG_ERROR);
    if ((int)level < atomic_load(&s_level))
        return;
    int saved_errno = errno;    /* callers may log between a failure and its errno */

    char msg_stack[1024];
    char *msg = msg_stack;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg_stack, sizeof msg_stack, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0, msg_stack[0] = '\0';
    size_t mlen = (size_t)n;
    if (mlen >= sizeof msg_stack) {
        size_t want = mlen < S_MSG_MAX ? mlen : S_MSG_MAX;
        /* Two bytes more than kept, so we can see what follows the cut. */
        msg = rp_malloc(want + 3);
        va_start(ap, fmt);
        vsnprintf(msg, want + 3, fmt, ap);
        va_end(ap);
        if (mlen > want) {
            /* Cut on a character boundary: step back while the first byte
             * left out continues a character. */
            mlen = want;
            while (mlen > 0 && ((unsigned char)msg[mlen] & 0xC0) == 0x80)
                mlen--;
        }
    }

    char ts[40];
    rp_time_format_rfc3339(rp_clock_now_ms(), ts, sizeof ts);

    char line_stack[2048];
    s_buf_t b = { line_stack, 0, sizeof line_stack, false };
    s_buf_puts(&b, "{\"ts\":\"");
    s_buf_puts(&b, ts);
    s_buf_puts(&b, "\",\"level\":\"");
    s_buf_puts(&b, s_level_names[level]);
    s_buf_puts(&b, "\",\"service\":");
    s_buf_json_string(&b, s_service, strlen(s_service));
    s_buf_puts(&b, ",\"msg\":");
    s_buf_json_string(&b, msg, mlen);
    if (request_id) {
        s_buf_puts(&b, ",\"request_id\":");
        s_buf_json_string(&b, request_id, strlen(request_id));
    }
    if (trace_id) {
        s_buf_puts(&b, ",\"trace_id\":");
        s_buf_json_string(&b, trace_id, strlen(trace_id));
    }
    s_buf_puts(&b, "}\n");
    s_write_line(b.data, b.len);

    if (b.heap)
        free(b.data);
    if (msg != msg_stack)
        free(msg);
    errno = saved_errno;
}
