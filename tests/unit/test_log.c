/* test_log.c - unit tests for log.c: every line is one JSON object with the
 * documented fields (checked by parsing it with jansson), escaping of quotes,
 * control characters and bad UTF-8, level filtering, long messages, and lines
 * from several threads that never interleave.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rapport/log.h"
#include "rapport/util.h"
#include "testutil.h"

/* s_count_lines - number of '\n' in s. */
static int s_count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* s_parse_line - the single JSON line in text, as an object (caller decrefs). */
static json_t *s_parse_line(const char *text)
{
    assert_int_equal(s_count_lines(text), 1);
    assert_int_equal(text[strlen(text) - 1], '\n');
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        fail_msg("not JSON: %s (%s)", text, err.text);
    assert_true(json_is_object(j));
    return j;
}

static void test_fields(void **state)
{
    (void)state;
    static const struct {
        rp_log_level_t level;
        const char *request_id, *trace_id;
        const char *msg;
        const char *want_level;
    } cases[] = {
        { RP_LOG_INFO, NULL, NULL, "started on tcp://127.0.0.1:7110", "info" },
        { RP_LOG_WARN, "01ARYZ6S41041061050R3GG28A", NULL, "slow batch", "warn" },
        { RP_LOG_ERROR, "01ARYZ6S41041061050R3GG28A", "4bf92f3577b34da6", "commit failed", "error" },
        { RP_LOG_DEBUG, NULL, "4bf92f3577b34da6", "polled 3 sockets", "debug" },
        { RP_LOG_INFO, "", "", "", "info" },
    };
    assert_int_equal(rp_log_init("leads", "debug"), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rp_test_capture_start();
        rp_log(cases[i].level, cases[i].request_id, cases[i].trace_id, "%s", cases[i].msg);
        char *text = rp_test_capture_end(NULL);
        json_t *j = s_parse_line(text);
        assert_string_equal(json_string_value(json_object_get(j, "level")), cases[i].want_level);
        assert_string_equal(json_string_value(json_object_get(j, "service")), "leads");
        assert_string_equal(json_string_value(json_object_get(j, "msg")), cases[i].msg);
        const char *ts = json_string_value(json_object_get(j, "ts"));
        assert_non_null(ts);
        assert_int_equal(strlen(ts), 24);       /* 2026-11-22T12:58:21.123Z */
        assert_int_equal(ts[10], 'T');
        assert_int_equal(ts[19], '.');
        assert_int_equal(ts[23], 'Z');
        json_t *rid = json_object_get(j, "request_id"), *tid = json_object_get(j, "trace_id");
        if (cases[i].request_id)
            assert_string_equal(json_string_value(rid), cases[i].request_id);
        else
            assert_null(rid);
        if (cases[i].trace_id)
            assert_string_equal(json_string_value(tid), cases[i].trace_id);
        else
            assert_null(tid);
        /* the field order is the documented one */
        assert_true(strstr(text, "{\"ts\":\"") == text);
        assert_non_null(strstr(text, "\",\"level\":\""));
        json_decref(j);
        free(text);
    }
}

static void test_escaping(void **state)
{
    (void)state;
    static const struct {
        const char *msg;
        const char *want_decoded;
        const char *want_raw;       /* must appear in the line as written */
    } cases[] = {
        { "say \"hi\"", "say \"hi\"", "say \\\"hi\\\"" },
        { "C:\\path", "C:\\path", "C:\\\\path" },
        { "a\nb\tc\r", "a\nb\tc\r", "a\\nb\\tc\\r" },
        { "bell\x07", "bell\x07", "bell\\u0007" },
        { "esc\x1b[0m", "esc\x1b[0m", "esc\\u001b[0m" },
        { "del\x7f", "del\x7f", "del\\u007f" },
        { "Société Générale €", "Société Générale €", "Société Générale €" },
        { "bad \xff byte", "bad \xef\xbf\xbd byte", "bad \\ufffd byte" },
        { "cut \xc3", "cut \xef\xbf\xbd", "cut \\ufffd" },
        { "surrogate \xed\xa0\x80!", "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!", NULL },
        { "overlong \xc0\xaf", "overlong \xef\xbf\xbd\xef\xbf\xbd", NULL },
    };
    assert_int_equal(rp_log_init("accounts", "info"), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rp_test_capture_start();
        rp_log(RP_LOG_INFO, "req \"1\"", NULL, "%s", cases[i].msg);
        char *text = rp_test_capture_end(NULL);
        json_t *j = s_parse_line(text);
        assert_string_equal(json_string_value(json_object_get(j, "msg")), cases[i].want_decoded);
        assert_string_equal(json_string_value(json_object_get(j, "request_id")), "req \"1\"");
        if (cases[i].want_raw)
            assert_non_null(strstr(text, cases[i].want_raw));
        json_decref(j);
        free(text);
    }
}

static void test_levels(void **state)
{
    (void)state;
    static const struct {
        const char *init_level;
        int want_init_rc;
        int want_lines;     /* of one line logged at each of the four levels */
    } cases[] = {
        { "debug", 0, 4 }, { "info", 0, 3 }, { "warn", 0, 2 }, { "error", 0, 1 },
        { "WARNING", 0, 2 }, { "Info", 0, 3 }, { NULL, 0, 3 }, { "", 0, 3 },
        { "verbose", -1, 3 },   /* rejected: the level stays as it was (info) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rp_log_init("loyalty", "info");
        assert_int_equal(rp_log_init("loyalty", cases[i].init_level), cases[i].want_init_rc);
        rp_test_capture_start();
        rp_debug("d %d", 1);
        rp_info("i %d", 2);
        rp_warn("w %d", 3);
        rp_error("e %d", 4);
        char *text = rp_test_capture_end(NULL);
        assert_int_equal(s_count_lines(text), cases[i].want_lines);
        free(text);
    }
    rp_log_set_level(RP_LOG_ERROR);
    rp_test_capture_start();
    rp_warn("hidden");
    rp_error("shown");
    char *text = rp_test_capture_end(NULL);
    json_t *j = s_parse_line(text);
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "shown");
    assert_string_equal(json_string_value(json_object_get(j, "service")), "loyalty");
    json_decref(j);
    free(text);
}

static void test_long_and_errno(void **state)
{
    (void)state;
    rp_log_init("reports", "info");
    /* 12000 bytes of "aé": the cut at 8192 would split an é, so it stops at 8191. */
    size_t n = 4000;
    char *msg = rp_malloc(3 * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(msg + 3 * i, "a\xc3\xa9", 3);
    msg[3 * n] = '\0';
    rp_test_capture_start();
    errno = EAGAIN;
    rp_info("%s", msg);
    assert_int_equal(errno, EAGAIN);     /* logging keeps errno */
    char *text = rp_test_capture_end(NULL);
    json_t *j = s_parse_line(text);
    const char *got = json_string_value(json_object_get(j, "msg"));
    assert_int_equal(strlen(got), 8191);
    assert_memory_equal(got, msg, 8191);
    assert_null(strstr(text, "\\ufffd"));
    json_decref(j);
    free(text);

    /* a message between the stack buffer and the cap is kept whole */
    msg[3 * 1000] = '\0';
    rp_test_capture_start();
    rp_info("%s", msg);
    text = rp_test_capture_end(NULL);
    j = s_parse_line(text);
    assert_string_equal(json_string_value(json_object_get(j, "msg")), msg);
    json_decref(j);
    free(text);
    free(msg);
}

enum { S_THREADS = 4, S_LINES = 300 };

static void *s_logger(void *arg)
{
    long id = (long)arg;
    char pad[600];
    memset(pad, 'a' + (int)id, sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < S_LINES; i++)
        rp_log(RP_LOG_INFO, NULL, NULL, "thread %ld line %d %s", id, i, pad);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    rp_log_init("payments", "info");
    rp_test_capture_start();
    pthread_t t[S_THREADS];
    for (long i = 0; i < S_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, s_logger, (void *)i), 0);
    for (int i = 0; i < S_THREADS; i++)
        pthread_join(t[i], NULL);
    char *text = rp_test_capture_end(NULL);
    assert_int_equal(s_count_lines(text), S_THREADS * S_LINES);
    int seen[S_THREADS] = { 0 };
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        assert_non_null(j);
        long id;
        int k;
        assert_int_equal(sscanf(json_string_value(json_object_get(j, "msg")), "thread %ld line %d", &id, &k), 2);
        assert_true(id >= 0 && id < S_THREADS);
        assert_int_equal(k, seen[id]);      /* each thread's lines in order */
        seen[id]++;
        json_decref(j);
    }
    for (int i = 0; i < S_THREADS; i++)
        assert_int_equal(seen[i], S_LINES);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_long_and_errno),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
