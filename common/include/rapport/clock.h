/* clock.h - the one clock every service reads (DESIGN.md §8).
 *
 * Times are unix milliseconds UTC. Tests move the clock forward; production
 * cannot: rp_clock_advance works only when the process started with
 * RAPPORT_TEST_CLOCK=1 (rp_clock_init reads it), and the service then says so
 * loudly in its log and in System/Health.
 */
#ifndef RAPPORT_CLOCK_H
#define RAPPORT_CLOCK_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

/* rp_clock_init - read RAPPORT_TEST_CLOCK from the environment. Call once at start. */
void rp_clock_init(void);
/* rp_clock_now_ms - wall clock (plus the test offset) in unix ms. */
int64_t rp_clock_now_ms(void);
/* rp_clock_mono_us - monotonic microseconds, for latency and timers (never moved). */
int64_t rp_clock_mono_us(void);
/* rp_clock_is_test - true when the test clock is enabled. */
bool rp_clock_is_test(void);
/* rp_clock_advance - move the clock forward by ms (>= 0). Returns 0, or -1 when
 * the test clock is not enabled or ms is negative. */
int rp_clock_advance(int64_t ms);

/* Calendar dates as days since 1970-01-01 (proleptic Gregorian). */
#define RP_DAY_MS 86400000LL
/* rp_ms_to_days - the day (UTC) that unix ms falls in, rounded down (before 1970
 * too: -1 ms is day -1). */
int32_t rp_ms_to_days(int64_t ms);
int32_t rp_date_to_days(int year, int month, int day);
void rp_days_to_date(int32_t days, int *year, int *month, int *day);
/* rp_date_valid - true for a real calendar date in years 1900..9999. */
bool rp_date_valid(int year, int month, int day);
/* rp_time_format_rfc3339 - "2026-11-22T12:58:21.123Z" into out (at least 32 bytes). */
void rp_time_format_rfc3339(int64_t ms, char *out, size_t cap);

#endif
