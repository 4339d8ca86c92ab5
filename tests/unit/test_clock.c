/* test_clock.c - unit tests for clock.c: the test-clock switch and offset,
 * calendar conversion against known dates and against glibc's timegm over
 * many centuries, date validity (leap years, range) and RFC 3339 output.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rapport/clock.h"

static void test_date_to_days(void **state)
{
    (void)state;
    static const struct {
        int y, m, d;
        int32_t want_days;
    } cases[] = {
        { 1970, 1, 1, 0 },
        { 1970, 1, 2, 1 },
        { 1969, 12, 31, -1 },
        { 2000, 2, 29, 11016 },
        { 2000, 3, 1, 11017 },
        { 1900, 1, 1, -25567 },
        { 1600, 3, 1, -135080 },
        { 1, 1, 1, -719162 },
        { 2026, 11, 22, 20779 },
        { 9999, 12, 31, 2932896 },
        /* out-of-range months and days carry over, like mktime */
        { 2025, 2, 30, 20149 },     /* = 2025-03-02 */
        { 2024, 13, 1, 20089 },     /* = 2025-01-01 */
        { 2025, 0, 1, 20058 },      /* = 2024-12-01 */
        { 2025, 1, 0, 20088 },      /* = 2024-12-31 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(rp_date_to_days(cases[i].y, cases[i].m, cases[i].d), cases[i].want_days);
    }
    assert_int_equal(rp_date_to_days(2025, 3, 2), 20149);
    assert_int_equal(rp_date_to_days(2025, 1, 1), 20089);
    assert_int_equal(rp_date_to_days(2024, 12, 1), 20058);
    assert_int_equal(rp_date_to_days(2024, 12, 31), 20088);
}

static void test_ms_to_days(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        int32_t want;
    } cases[] = {
        { 0, 0 }, { 1, 0 }, { RP_DAY_MS - 1, 0 }, { RP_DAY_MS, 1 },
        /* before 1970 the day rounds down, not toward zero */
        { -1, -1 }, { -RP_DAY_MS, -1 }, { -RP_DAY_MS - 1, -2 },
        /* 2025-03-02T12:00:00Z */
        { 20149LL * RP_DAY_MS + 12 * 3600000LL, 20149 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(rp_ms_to_days(cases[i].ms), cases[i].want);
}

static void test_days_to_date(void **state)
{
    (void)state;
    static const struct {
        int32_t days;
        int want_y, want_m, want_d;
    } cases[] = {
        { 0, 1970, 1, 1 }, { -1, 1969, 12, 31 }, { 11016, 2000, 2, 29 },
        { 11017, 2000, 3, 1 }, { -25567, 1900, 1, 1 }, { 2932896, 9999, 12, 31 },
        { -719162, 1, 1, 1 }, { -719163, 0, 12, 31 }, { 20779, 2026, 11, 22 },
        { -36465, 1870, 3, 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int y, m, d;
        rp_days_to_date(cases[i].days, &y, &m, &d);
        assert_int_equal(y, cases[i].want_y);
        assert_int_equal(m, cases[i].want_m);
        assert_int_equal(d, cases[i].want_d);
    }
}

/* Walk every day from 1600 to 2500 and compare with glibc's timegm/gmtime. */
static void test_calendar_against_libc(void **state)
{
    (void)state;
    int32_t from = rp_date_to_days(1600, 1, 1), to = rp_date_to_days(2500, 12, 31);
    int py = 1599, pm = 12, pd = 31;
    for (int32_t days = from; days <= to; days++) {
        int y, m, d;
        rp_days_to_date(days, &y, &m, &d);
        assert_true(rp_date_valid(y, m, d) || y < 1900);
        assert_int_equal(rp_date_to_days(y, m, d), days);
        /* consecutive days advance the date by one */
        bool next_day = y == py && m == pm && d == pd + 1;
        bool next_month = y == py && m == pm + 1 && d == 1;
        bool next_year = y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31;
        assert_true(next_day || next_month || next_year);
        py = y, pm = m, pd = d;

        if (days % 7 == 0) {
            struct tm tm;
            time_t t = (time_t)days * 86400;
            gmtime_r(&t, &tm);
            assert_int_equal(tm.tm_year + 1900, y);
            assert_int_equal(tm.tm_mon + 1, m);
            assert_int_equal(tm.tm_mday, d);
        }
    }
}

static void test_date_valid(void **state)
{
    (void)state;
    static const struct {
        int y, m, d;
        bool want;
    } cases[] = {
        { 2024, 2, 29, true }, { 2023, 2, 29, false }, { 2000, 2, 29, true },
        { 1900, 2, 29, false }, { 2100, 2, 29, false }, { 2400, 2, 29, true },
        { 2025, 4, 30, true }, { 2025, 4, 31, false }, { 2025, 12, 31, true },
        { 2025, 1, 32, false }, { 2025, 13, 1, false }, { 2025, 0, 1, false },
        { 2025, 1, 0, false }, { 2025, -1, 1, false }, { 1900, 1, 1, true },
        { 1899, 12, 31, false }, { 9999, 12, 31, true }, { 10000, 1, 1, false },
        { 2025, 6, 31, false }, { 2025, 9, 31, false }, { 2025, 11, 31, false },
        { 2025, 7, 31, true }, { 2025, 8, 31, true },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(rp_date_valid(cases[i].y, cases[i].m, cases[i].d), cases[i].want);
    }
}

static void test_rfc3339(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        { 0, "1970-01-01T00:00:00.000Z" },
        { 1, "1970-01-01T00:00:00.001Z" },
        { -1, "1969-12-31T23:59:59.999Z" },
        { 1763816301123, "2025-11-22T12:58:21.123Z" },
        { 1790000000123, "2026-09-21T14:13:20.123Z" },
        { 951782399999, "2000-02-28T23:59:59.999Z" },
        { 951782400000, "2000-02-29T00:00:00.000Z" },
        { 253402300799999, "9999-12-31T23:59:59.999Z" },
        { -2208988800000, "1900-01-01T00:00:00.000Z" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[32];
        rp_time_format_rfc3339(cases[i].ms, out, sizeof out);
        assert_string_equal(out, cases[i].want);
    }
    /* a short buffer is truncated, never overrun */
    char small[11];
    rp_time_format_rfc3339(0, small, sizeof small);
    assert_string_equal(small, "1970-01-01");
}

static void test_test_clock(void **state)
{
    (void)state;
    static const struct {
        const char *env;        /* NULL: unset */
        bool want_test;
    } modes[] = {
        { NULL, false }, { "0", false }, { "true", false }, { "", false }, { "1", true },
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (modes[i].env)
            setenv("RAPPORT_TEST_CLOCK", modes[i].env, 1);
        else
            unsetenv("RAPPORT_TEST_CLOCK");
        rp_clock_init();
        assert_int_equal(rp_clock_is_test(), modes[i].want_test);
        if (!modes[i].want_test)
            assert_int_equal(rp_clock_advance(1000), -1);
    }

    /* enabled: the clock moves forward by what we ask, and only forward */
    int64_t before = rp_clock_now_ms();
    assert_int_equal(rp_clock_advance(86400000), 0);
    int64_t after = rp_clock_now_ms();
    assert_true(after - before >= 86400000);
    assert_true(after - before < 86400000 + 60000);
    assert_int_equal(rp_clock_advance(-1), -1);
    assert_int_equal(rp_clock_advance(0), 0);
    assert_int_equal(rp_clock_advance(INT64_MAX), -1);  /* would overflow */
    assert_true(rp_clock_now_ms() >= after);

    /* the wall clock is roughly now: after 2024, before 2100 */
    assert_true(rp_clock_now_ms() > 1704067200000);
    assert_true(rp_clock_now_ms() < 4102444800000);

    /* the monotonic clock never moves back and ignores the offset */
    int64_t m1 = rp_clock_mono_us();
    assert_int_equal(rp_clock_advance(3600000), 0);
    int64_t m2 = rp_clock_mono_us();
    assert_true(m2 >= m1);
    assert_true(m2 - m1 < 60 * 1000000);

    unsetenv("RAPPORT_TEST_CLOCK");
    rp_clock_init();
    assert_false(rp_clock_is_test());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_to_days),
        cmocka_unit_test(test_ms_to_days),
        cmocka_unit_test(test_days_to_date),
        cmocka_unit_test(test_calendar_against_libc),
        cmocka_unit_test(test_date_valid),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_test_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
