/* values.c - Date and Money messages for handlers (values.h). */
#include <string.h>
#include "rapport/values.h"
#include "rapport/clock.h"

int32_t rp_date_days(const Rapport__V1__Date *d)
{
    return rp_date_to_days(d->year, d->month, d->day);
}

int32_t rp_ctx_today(rp_ctx_t *ctx)
{
    return rp_ms_to_days(rp_ctx_now(ctx));
}

Rapport__V1__Date *rp_ctx_date(rp_ctx_t *ctx, int32_t days)
{
    Rapport__V1__Date *d = rp_ctx_alloc(ctx, sizeof *d);
    rapport__v1__date__init(d);
    rp_days_to_date(days, &d->year, &d->month, &d->day);
    return d;
}

Rapport__V1__Money *rp_ctx_money(rp_ctx_t *ctx, int64_t units, const char *currency)
{
    Rapport__V1__Money *m = rp_ctx_alloc(ctx, sizeof *m);
    rapport__v1__money__init(m);
    m->units = units;
    m->currency = rp_ctx_strdup(ctx, currency);
    return m;
}

void **rp_ctx_append(rp_ctx_t *ctx, void **arr, size_t n, void *item)
{
    void **v = rp_ctx_alloc(ctx, (n + 1) * sizeof *v);
    if (n)
        memcpy(v, arr, n * sizeof *v);
    v[n] = item;
    return v;
}
