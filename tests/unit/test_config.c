/* test_config.c - unit tests for config.c: defaults for unset and empty
 * variables, strict whole-string integer and boolean parsing, range and
 * overflow checks, and the exact message printed for a bad value.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rapport/config.h"
#include "rapport/util.h"
#include "testutil.h"

#define VAR "RAPPORT_TEST_SETTING"

/* s_set - set VAR, or unset it for NULL. */
static void s_set(const char *value)
{
    if (value)
        setenv(VAR, value, 1);
    else
        unsetenv(VAR);
}

static void test_str(void **state)
{
    (void)state;
    static const struct {
        const char *env, *def, *want;
    } cases[] = {
        { NULL, "tcp://*:7110", "tcp://*:7110" },
        { "", "tcp://*:7110", "tcp://*:7110" },
        { "ipc:///run/leads", "tcp://*:7110", "ipc:///run/leads" },
        { " ", "x", " " },
        { NULL, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_set(cases[i].env);
        const char *got = rp_config_str(VAR, cases[i].def);
        if (cases[i].want)
            assert_string_equal(got, cases[i].want);
        else
            assert_null(got);
    }
    unsetenv(VAR);
}

static void test_int(void **state)
{
    (void)state;
    static const struct {
        const char *env;
        int64_t def, min, max;
        int want_rc;
        int64_t want;
        const char *want_msg;
    } cases[] = {
        { NULL, 256, 1, 4096, 0, 256, NULL },
        { "", 256, 1, 4096, 0, 256, NULL },
        { "512", 256, 1, 4096, 0, 512, NULL },
        { "+512", 256, 1, 4096, 0, 512, NULL },
        { "0001", 256, 1, 4096, 0, 1, NULL },
        { "1", 256, 1, 4096, 0, 1, NULL },
        { "4096", 256, 1, 4096, 0, 4096, NULL },
        { "-5", 0, -10, 10, 0, -5, NULL },
        { "9223372036854775807", 0, INT64_MIN, INT64_MAX, 0, INT64_MAX, NULL },
        { "-9223372036854775808", 0, INT64_MIN, INT64_MAX, 0, INT64_MIN, NULL },
        { "abc", 256, 1, 4096, -1, 0,
          "rapport: " VAR "=abc: must be an integer between 1 and 4096\n" },
        { "0", 256, 1, 4096, -1, 0,
          "rapport: " VAR "=0: must be an integer between 1 and 4096\n" },
        { "4097", 256, 1, 4096, -1, 0,
          "rapport: " VAR "=4097: must be an integer between 1 and 4096\n" },
        { "-1", 5, 0, 10, -1, 0,
          "rapport: " VAR "=-1: must be an integer between 0 and 10\n" },
        { "9223372036854775808", 0, INT64_MIN, INT64_MAX, -1, 0,
          "rapport: " VAR "=9223372036854775808: must be an integer between "
          "-9223372036854775808 and 9223372036854775807\n" },
        { "-9223372036854775809", 0, INT64_MIN, INT64_MAX, -1, 0, "" },
        { "99999999999999999999", 256, 1, 4096, -1, 0, "" },
        { "12abc", 256, 1, 4096, -1, 0, "" },
        { "12 ", 256, 1, 4096, -1, 0, "" },
        { " 12", 256, 1, 4096, -1, 0, "" },
        { "1.5", 256, 1, 4096, -1, 0, "" },
        { "1e3", 256, 1, 4096, -1, 0, "" },
        { "0x10", 256, 1, 4096, -1, 0, "" },
        { "-", 256, 1, 4096, -1, 0, "" },
        { "+", 256, 1, 4096, -1, 0, "" },
        { "--1", 256, 1, 4096, -1, 0, "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_set(cases[i].env);
        int64_t out = 31337;
        rp_test_capture_start();
        int rc = rp_config_int(VAR, cases[i].def, cases[i].min, cases[i].max, &out);
        char *msg = rp_test_capture_end(NULL);
        assert_int_equal(rc, cases[i].want_rc);
        if (rc == 0) {
            assert_int_equal(out, cases[i].want);
            assert_string_equal(msg, "");
        } else {
            assert_int_equal(out, 31337);
            /* always one line naming the variable and the value */
            char *head = rp_sprintf("rapport: %s=%s: must be an integer between ", VAR, cases[i].env);
            assert_true(rp_str_has_prefix(msg, head));
            assert_int_equal(msg[strlen(msg) - 1], '\n');
            if (*cases[i].want_msg)
                assert_string_equal(msg, cases[i].want_msg);
            free(head);
        }
        free(msg);
    }
    unsetenv(VAR);
}

static void test_bool(void **state)
{
    (void)state;
    static const struct {
        const char *env;
        bool def;
        int want_rc;
        bool want;
    } cases[] = {
        { NULL, true, 0, true }, { NULL, false, 0, false }, { "", true, 0, true },
        { "1", false, 0, true }, { "true", false, 0, true }, { "yes", false, 0, true },
        { "on", false, 0, true }, { "TRUE", false, 0, true }, { "Yes", false, 0, true },
        { "0", true, 0, false }, { "false", true, 0, false }, { "no", true, 0, false },
        { "off", true, 0, false }, { "OFF", true, 0, false },
        { "2", true, -1, false }, { "enabled", true, -1, false }, { "tru", true, -1, false },
        { " 1", true, -1, false }, { "1 ", true, -1, false }, { "y", true, -1, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_set(cases[i].env);
        bool out = !cases[i].want;
        rp_test_capture_start();
        int rc = rp_config_bool(VAR, cases[i].def, &out);
        char *msg = rp_test_capture_end(NULL);
        assert_int_equal(rc, cases[i].want_rc);
        if (rc == 0) {
            assert_int_equal(out, cases[i].want);
            assert_string_equal(msg, "");
        } else {
            char *want = rp_sprintf("rapport: %s=%s: must be one of 1, true, yes, on, 0, false, no, off\n",
                                    VAR, cases[i].env);
            assert_string_equal(msg, want);
            free(want);
        }
        free(msg);
    }
    unsetenv(VAR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str),
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_bool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
