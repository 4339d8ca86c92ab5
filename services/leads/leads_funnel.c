/* leads_funnel.c - the funnel for a period: the leads created in [from, to) that the
 * caller sees, read as one range of the leads table (ULIDs start with the creation
 * time), at most LEADS_FUNNEL_MAX_ROWS of them (beyond: truncated).
 *
 * Per stage: how many leads are in it now and the sum of their expected values (one
 * Money per currency, no conversion); how many reached it (max_stage_reached >= the
 * stage; a won lead reached every open stage; for WON and LOST, the leads in it) and
 * the conversion reached / total in basis points. Per source: total, won, lost and
 * won / total in basis points.
 */
#include <string.h>
#include "leads.h"
#include "rapport/money.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Leads__V1__FunnelRequest FunnelRequest;
typedef Rapport__Leads__V1__FunnelReply FunnelReply;
typedef Rapport__Leads__V1__FunnelStage FunnelStage;
typedef Rapport__Leads__V1__FunnelSource FunnelSource;

#define MAX_CURRENCIES 32

typedef struct {
    char currency[8];
    int64_t sum;
} s_sum_t;

typedef struct {
    rp_ctx_t *ctx;
    const rp_claims_t *claims;
    uint32_t total;
    uint32_t count[LS_COUNT], reached[LS_COUNT];
    s_sum_t sums[LS_COUNT][MAX_CURRENCIES];
    size_t n_sums[LS_COUNT];
    uint32_t src_total[SRC_COUNT], src_won[SRC_COUNT], src_lost[SRC_COUNT];
} s_funnel_t;

static int s_add_value(s_funnel_t *f, int stage, const Money *m)
{
    if (!m || rp_str_empty(m->currency) || strlen(m->currency) >= sizeof f->sums[0][0].currency)
        return 0;
    s_sum_t *v = f->sums[stage];
    size_t i;
    for (i = 0; i < f->n_sums[stage]; i++)
        if (strcmp(v[i].currency, m->currency) == 0)
            break;
    if (i == f->n_sums[stage]) {
        if (i == MAX_CURRENCIES)
            return 0;       /* more currencies than any real book; not summed */
        strcpy(v[i].currency, m->currency);
        v[i].sum = 0;
        f->n_sums[stage]++;
    }
    if (rp_money_add(v[i].sum, m->units, &v[i].sum) < 0)
        return rp_reply_error(f->ctx, RP_FAILED_PRECONDITION, "funnel value overflows in %s", m->currency);
    return 0;
}

static int s_row(void *arg, const Lead *l)
{
    s_funnel_t *f = arg;
    if (!rp_scope_sees(f->claims, l->owner, l->unit))
        return 0;
    int st = (int)l->stage;
    if (st <= LS_UNSPEC || st >= LS_COUNT)
        return 0;
    f->total++;
    f->count[st]++;
    if (s_add_value(f, st, l->expected_value) < 0)
        return -1;
    int max = (int)l->max_stage_reached;
    if (max == LS_UNSPEC || max == LS_LOST)
        max = leads_stage_is_open(st) ? st : LS_NEW;
    for (int s = LS_NEW; s <= LS_NEGOTIATION; s++)
        if (max >= s)
            f->reached[s]++;
    if (st == LS_WON || st == LS_LOST)
        f->reached[st]++;
    int src = (int)l->source;
    if (src >= 0 && src < SRC_COUNT) {
        f->src_total[src]++;
        if (st == LS_WON)
            f->src_won[src]++;
        if (st == LS_LOST)
            f->src_lost[src]++;
    }
    return 1;
}

static uint32_t s_bp(uint32_t part, uint32_t whole)
{
    return whole ? (uint32_t)((uint64_t)part * 10000 / whole) : 0;
}

int leads_funnel(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const FunnelRequest *in = (const FunnelRequest *)in_;
    int32_t from = 0, to = 0;
    if (rp_date_range_or_reply(ctx, "from", in->from, "to", in->to, &from, &to) < 0)
        return -1;

    s_funnel_t *f = rp_ctx_alloc(ctx, sizeof *f);
    f->ctx = ctx;
    f->claims = rp_ctx_claims(ctx);
    leads_query_t q = { .kind = LQ_CREATED, .n1 = (int64_t)from * RP_DAY_MS,
                        .n2 = (int64_t)to * RP_DAY_MS };
    char *next = NULL;
    int rc = leads_store_query(ctx, &q, NULL, LEADS_FUNNEL_MAX_ROWS, LEADS_FUNNEL_MAX_ROWS,
                               s_row, f, &next);
    if (rc == -1 || rp_page_or_reply(ctx, rc) < 0)
        return -1;

    FunnelReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__leads__v1__funnel_reply__init(r);
    r->total = f->total;
    r->truncated = next != NULL;
    r->n_stages = LS_COUNT - 1;
    r->stages = rp_ctx_alloc(ctx, r->n_stages * sizeof *r->stages);
    for (int s = LS_NEW; s < LS_COUNT; s++) {
        FunnelStage *fs = rp_ctx_alloc(ctx, sizeof *fs);
        rapport__leads__v1__funnel_stage__init(fs);
        fs->stage = s;
        fs->count = f->count[s];
        fs->reached = f->reached[s];
        fs->conversion_bp = s_bp(f->reached[s], f->total);
        fs->n_value = f->n_sums[s];
        fs->value = rp_ctx_alloc(ctx, (fs->n_value ? fs->n_value : 1) * sizeof *fs->value);
        for (size_t i = 0; i < fs->n_value; i++)
            fs->value[i] = rp_ctx_money(ctx, f->sums[s][i].sum, f->sums[s][i].currency);
        r->stages[s - LS_NEW] = fs;
    }
    r->sources = rp_ctx_alloc(ctx, SRC_COUNT * sizeof *r->sources);
    for (int s = 1; s < SRC_COUNT; s++) {
        if (!f->src_total[s])
            continue;
        FunnelSource *fs = rp_ctx_alloc(ctx, sizeof *fs);
        rapport__leads__v1__funnel_source__init(fs);
        fs->source = s;
        fs->total = f->src_total[s];
        fs->won = f->src_won[s];
        fs->lost = f->src_lost[s];
        fs->conversion_bp = s_bp(fs->won, fs->total);
        r->sources[r->n_sources++] = fs;
    }
    *out = &r->base;
    return 0;
}
