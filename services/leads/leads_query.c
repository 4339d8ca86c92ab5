/* leads_query.c - the list queries of rapport-leads. Each is one cursor range scan
 * of an index (leads_store_query) with an opaque page token; rows the caller's scope
 * does not see are skipped while scanning and do not count toward page_size. Rows
 * are LeadSummary messages.
 */
#include <string.h>
#include "leads.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Leads__V1__ListLeadsReply ListLeadsReply;

typedef struct {
    rp_ctx_t *ctx;
    const rp_claims_t *claims;
    LeadSummary **v;
    size_t n;
} s_page_t;

static int s_keep_visible(void *arg, const Lead *l)
{
    s_page_t *p = arg;
    if (!rp_scope_sees(p->claims, l->owner, l->unit))
        return 0;
    p->v[p->n++] = leads_summary(p->ctx, l);
    return 1;
}

/* s_list - run q for one page and build the reply. */
static int s_list(rp_ctx_t *ctx, const leads_query_t *q, uint32_t page_size, const char *page_token,
                  ProtobufCMessage **out)
{
    uint32_t limit;
    if (leads_page_size_or_reply(ctx, page_size, &limit) < 0)
        return -1;
    s_page_t p = { ctx, rp_ctx_claims(ctx), rp_ctx_alloc(ctx, limit * sizeof(LeadSummary *)), 0 };
    char *next = NULL;
    int rc = leads_store_query(ctx, q, rp_str_empty(page_token) ? NULL : page_token, limit, 0,
                               s_keep_visible, &p, &next);
    if (rc == -1 || rp_page_or_reply(ctx, rc) < 0)
        return -1;
    ListLeadsReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__leads__v1__list_leads_reply__init(r);
    r->leads = p.v;
    r->n_leads = p.n;
    r->next_page_token = next ? next : "";
    *out = &r->base;
    return 0;
}

int leads_list_by_owner(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const Rapport__Leads__V1__ListByOwnerRequest *in = (const void *)in_;
    const char *owner = rp_str_empty(in->owner) ? rp_principal(rp_ctx_claims(ctx)) : in->owner;
    if (rp_len_or_reply(ctx, "owner", owner, 1, LEADS_USER_MAX) < 0)
        return -1;
    leads_query_t q = { .kind = LQ_OWNER, .s = owner };
    return s_list(ctx, &q, in->page_size, in->page_token, out);
}

int leads_list_by_stage(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const Rapport__Leads__V1__ListByStageRequest *in = (const void *)in_;
    if (in->stage == LS_UNSPEC)
        return rp_reply_violation(ctx, "stage", "is required");
    leads_query_t q = { .kind = LQ_STAGE, .n1 = in->stage };
    return s_list(ctx, &q, in->page_size, in->page_token, out);
}

int leads_list_by_source(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const Rapport__Leads__V1__ListBySourceRequest *in = (const void *)in_;
    if (in->source == RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_UNSPECIFIED)
        return rp_reply_violation(ctx, "source", "is required");
    leads_query_t q = { .kind = LQ_SOURCE, .n1 = in->source };
    return s_list(ctx, &q, in->page_size, in->page_token, out);
}

int leads_list_by_campaign(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const Rapport__Leads__V1__ListByCampaignRequest *in = (const void *)in_;
    if (rp_len_or_reply(ctx, "campaign", in->campaign, 1, LEADS_SHORT_MAX) < 0)
        return -1;
    leads_query_t q = { .kind = LQ_CAMPAIGN, .s = in->campaign };
    return s_list(ctx, &q, in->page_size, in->page_token, out);
}

int leads_list_by_close(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const Rapport__Leads__V1__ListByCloseRequest *in = (const void *)in_;
    int32_t from = 0, to = 0;
    if (rp_date_range_or_reply(ctx, "from", in->from, "to", in->to, &from, &to) < 0)
        return -1;
    leads_query_t q = { .kind = LQ_CLOSE, .n1 = from, .n2 = to };
    return s_list(ctx, &q, in->page_size, in->page_token, out);
}

int leads_search_by_name(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const Rapport__Leads__V1__SearchByNameRequest *in = (const void *)in_;
    char folded[512];
    if (rp_len_or_reply(ctx, "prefix", in->prefix, 1, LEADS_NAME_MAX) < 0
        || leads_fold_name_or_reply(ctx, "prefix", in->prefix, folded, sizeof folded) < 0)
        return -1;
    leads_query_t q = { .kind = LQ_NAME, .s = folded };
    return s_list(ctx, &q, in->page_size, in->page_token, out);
}

int leads_list_stale(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const Rapport__Leads__V1__ListStaleRequest *in = (const void *)in_;
    if (rp_range_or_reply(ctx, "days", in->days, 1, 3650) < 0)
        return -1;
    leads_query_t q = { .kind = LQ_STALE, .n2 = rp_ctx_now(ctx) - (int64_t)in->days * RP_DAY_MS };
    return s_list(ctx, &q, in->page_size, in->page_token, out);
}
