/* values.h - the shared value messages of proto/rapport/v1/types.proto (Date,
 * Money) as handlers build and read them, in the request's arena.
 *
 * Dates travel as Date {year, month, day} and are compared, indexed and
 * scheduled as days since 1970-01-01 (clock.h); money is Money {units,
 * currency} in minor units (money.h). Checks of client input are the
 * *_or_reply validators of service.h (rp_date_or_reply, rp_money_or_reply).
 */
#ifndef RAPPORT_VALUES_H
#define RAPPORT_VALUES_H
#include <stddef.h>
#include <stdint.h>
#include "rapport/service.h"
#include "rapport/v1/types.pb-c.h"

/* rp_date_days - d as days since 1970-01-01 (d non-NULL; carries over like
 * rp_date_to_days). */
int32_t rp_date_days(const Rapport__V1__Date *d);
/* rp_ctx_today - the day (UTC) of the request's clock, rp_ctx_now. */
int32_t rp_ctx_today(rp_ctx_t *ctx);
/* rp_ctx_date - a Date in the arena for days since 1970-01-01. */
Rapport__V1__Date *rp_ctx_date(rp_ctx_t *ctx, int32_t days);
/* rp_ctx_money - a Money in the arena: units of currency (copied; NULL -> ""). */
Rapport__V1__Money *rp_ctx_money(rp_ctx_t *ctx, int64_t units, const char *currency);
/* rp_ctx_append - a repeated field of n pointers arr with item added at the end,
 * as a new array in the arena (arr is left as it was). */
void **rp_ctx_append(rp_ctx_t *ctx, void **arr, size_t n, void *item);

#endif
