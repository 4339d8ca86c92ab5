/* clock.c - the one clock every service reads, and calendar-date arithmetic.
 *
 * rp_clock_now_ms is the wall clock plus an offset that only moves when the
 * process started with RAPPORT_TEST_CLOCK=1, so integration tests can make
 * invoices overdue and contracts expire without waiting. The offset lives in
 * an atomic so any thread may read the clock while a test advances it.
 *
 * Dates are days since 1970-01-01 in the proleptic Gregorian calendar. The
 * conversion counts whole 400-year eras (146097 days each) and, within an era,
 * years that start on 1 March, so the leap day falls at the end of the year and
 * the month lengths from March on follow the 153-days-per-5-months pattern.
 */
#define _GNU_SOURCE
#include "rapport/clock.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_bool s_test_enabled;
static _Atomic int64_t s_offset_ms;

void rp_clock_init(void)
{
    const char *v = getenv("RAPPORT_TEST_CLOCK");
    atomic_store(&s_test_enabled, v && strcmp(v, "1") == 0);
}

int64_t rp_clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return ms + atomic_load(&s_offset_ms);
}

int64_t rp_clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool rp_clock_is_test(void)
{
    return atomic_load(&s_test_enabled);
}

int rp_clock_advance(int64_t ms)
{
    if (!atomic_load(&s_test_enabled) || ms < 0)
        return -1;
    int64_t cur = atomic_load(&s_offset_ms), next;
    do {
        /* Keep a century of headroom so now + offset cannot overflow. */
        if (__builtin_add_overflow(cur, ms, &next) || next > INT64_MAX / 4)
            return -1;
    } while (!atomic_compare_exchange_weak(&s_offset_ms, &cur, next));
    return 0;
}

/* s_floor_div - division rounding toward minus infinity (b > 0). */
static int64_t s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b < 0)
        q--;
    return q;
}

/* s_days_from_civil - days since 1970-01-01 for any proleptic Gregorian date. */
static int64_t s_days_from_civil(int64_t year, int month, int day)
{
    /* Count years from 1 March: January and February belong to the year before. */
    int64_t y = month <= 2 ? year - 1 : year;
    int64_t era = s_floor_div(y, 400);
    int64_t year_of_era = y - era * 400;                         /* 0..399 */
    int march_month = month > 2 ? month - 3 : month + 9;          /* Mar=0 .. Feb=11 */
    int64_t day_of_year = (153 * march_month + 2) / 5 + day - 1;  /* 0..365 */
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    /* 719468 days lie between 0000-03-01 and 1970-01-01. */
    return era * 146097 + day_of_era - 719468;
}

/* s_civil_from_days - the inverse of s_days_from_civil. */
static void s_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t z = days + 719468;
    int64_t era = s_floor_div(z, 146097);
    int64_t day_of_era = z - era * 146097;                       /* 0..146096 */
    /* Remove the leap days seen so far, then whole 365-day years remain. */
    int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524
                           - day_of_era / 146096) / 365;          /* 0..399 */
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int march_month = (int)((5 * day_of_year + 2) / 153);        /* Mar=0 .. Feb=11 */
    *day = (int)(day_of_year - (153 * march_month + 2) / 5 + 1);
    *month = march_month < 10 ? march_month + 3 : march_month - 9;
    *year = year_of_era + era * 400 + (*month <= 2 ? 1 : 0);
}

/* rp_date_to_days - like mktime, out-of-range months and days carry over
 * (2025-02-30 is 2025-03-02); results beyond int32 saturate. Check input
 * with rp_date_valid first when it comes from a person. */
int32_t rp_date_to_days(int year, int month, int day)
{
    int64_t y = (int64_t)year + s_floor_div((int64_t)month - 1, 12);
    int m = (int)((int64_t)month - 1 - s_floor_div((int64_t)month - 1, 12) * 12) + 1;
    int64_t d = s_days_from_civil(y, m, 1) + (int64_t)day - 1;
    if (d < INT32_MIN)
        return INT32_MIN;
    if (d > INT32_MAX)
        return INT32_MAX;
    return (int32_t)d;
}

int32_t rp_ms_to_days(int64_t ms)
{
    return (int32_t)s_floor_div(ms, RP_DAY_MS);
}

void rp_days_to_date(int32_t days, int *year, int *month, int *day)
{
    int64_t y;
    s_civil_from_days(days, &y, month, day);
    *year = (int)y;
}

/* s_is_leap - Gregorian leap year. */
static bool s_is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

bool rp_date_valid(int year, int month, int day)
{
    static const int days_in_month[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (year < 1900 || year > 9999 || month < 1 || month > 12 || day < 1)
        return false;
    int last = days_in_month[month - 1] + (month == 2 && s_is_leap(year) ? 1 : 0);
    return day <= last;
}

void rp_time_format_rfc3339(int64_t ms, char *out, size_t cap)
{
    assert(out && cap > 0);
    int64_t days = s_floor_div(ms, 86400000);
    int64_t ms_of_day = ms - days * 86400000;
    int64_t year;
    int month, day;
    s_civil_from_days(days, &year, &month, &day);
    int hh = (int)(ms_of_day / 3600000);
    int mm = (int)(ms_of_day / 60000 % 60);
    int ss = (int)(ms_of_day / 1000 % 60);
    int mmm = (int)(ms_of_day % 1000);
    snprintf(out, cap, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
             (long long)year, month, day, hh, mm, ss, mmm);
}
