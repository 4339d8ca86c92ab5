/* contracts_jobs.c - the daily contract job and the lead.won consumer.
 *
 * contracts_daily walks ix_contract_due (the next day something happens to a
 * signed or active contract, contracts_next_day) up to today and, per contract:
 *   - SIGNED whose start has come: ACTIVE (contract.activated);
 *   - SIGNED or ACTIVE past its end (end is the last day): EXPIRED
 *     (contract.expired);
 *   - otherwise the expiring thresholds reached: contract.expiring for the nearest
 *     one; every threshold reached is marked, so each is raised at most once and a
 *     clock that jumps over several raises only the nearest.
 * Each step rewrites the contract, whose index entry then moves to its next day,
 * so the job is idempotent however often it runs.
 *
 * contracts_on_lead_event applies rapport-leads' lead.won: a won lead with an
 * accepted offer gets a DRAFT contract from that offer (value = the offer's total,
 * one instalment due payment_terms_days after today), owned by the lead's owner in
 * the lead's unit and branch. The skeleton stores the upstream offset in the same
 * transaction (exactly once across kill -9), and ix_contract_lead makes a second
 * application of the same lead's win (an offset reset, a replay) create nothing.
 */
#include <string.h>
#include "contracts.h"
#include "rapport/log.h"
#include "rapport/util.h"
#include "rapport/leads/v1/leads.pb-c.h"

#define LEAD_OFFER_ACCEPTED RAPPORT__LEADS__V1__OFFER_STATUS__OFFER_STATUS_ACCEPTED

static bool s_sent(const Contract *c, uint32_t t)
{
    for (size_t i = 0; i < c->n_expiring_sent; i++)
        if (c->expiring_sent[i] == t)
            return true;
    return false;
}

/* s_expiring - raise the nearest threshold reached, mark every one reached. */
static int s_expiring(rp_ctx_t *ctx, Contract *c, int32_t today)
{
    int32_t left = rp_date_days(c->terms->end) - today;
    uint32_t nearest = 0;
    bool any = false;
    for (int i = 0; i < contracts_settings.n_expiring; i++) {
        uint32_t t = contracts_settings.expiring_days[i];
        if (left > (int32_t)t || s_sent(c, t))
            continue;
        uint32_t *v = rp_ctx_alloc(ctx, (c->n_expiring_sent + 1) * sizeof *v);
        if (c->n_expiring_sent)
            memcpy(v, c->expiring_sent, c->n_expiring_sent * sizeof *v);
        v[c->n_expiring_sent++] = t;
        c->expiring_sent = v;
        if (!any || t < nearest)
            nearest = t;
        any = true;
    }
    if (!any)
        return 0;
    Rapport__Contracts__V1__ContractExpiring *e = rp_ctx_alloc(ctx, sizeof *e);
    rapport__contracts__v1__contract_expiring__init(e);
    e->contract_id = c->id;
    e->number = c->number;
    e->client_id = c->terms->client_id;
    e->client_name = c->terms->client_name;
    e->owner = c->owner;
    e->unit = c->unit;
    e->end = c->terms->end;
    e->threshold_days = nearest;
    e->days_left = left < 0 ? 0 : (uint32_t)left;
    return contracts_emit(ctx, "contract.expiring", c->id, &e->base);
}

int contracts_daily(rp_ctx_t *ctx)
{
    rp_ulid_t ids[CT_JOB_BATCH];
    int32_t today = rp_ctx_today(ctx);
    int n = contracts_store_due(ctx, "ix_contract_due", today + 1, ids, CT_JOB_BATCH);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        Contract *c;
        int rc = contracts_store_get(ctx, CE_CONTRACT, &ids[i], (ProtobufCMessage **)&c);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc != 0)
            return -1;
        if ((c->status != CS_SIGNED && c->status != CS_ACTIVE) || !c->terms || !c->terms->end)
            continue;
        rp_ctx_set_event_branch(ctx, c->branch);   /* a job has no caller's branch */
        if (c->status == CS_SIGNED && c->terms->start && rp_date_days(c->terms->start) <= today
            && contracts_activate(ctx, c) < 0)
            return -1;
        if (rp_date_days(c->terms->end) < today) {
            c->status = CS_EXPIRED;
            c->closed_at = rp_ctx_now(ctx);
            if (contracts_emit(ctx, "contract.expired", c->id, &c->base) < 0)
                return -1;
        } else if (s_expiring(ctx, c, today) < 0) {
            return -1;
        }
        c->updated_at = rp_ctx_now(ctx);
        if (contracts_store_put(ctx, CE_CONTRACT, &c->base) < 0)
            return -1;
    }
    return 0;
}

/* ---- lead.won ---- */

int contracts_on_lead_event(rp_ctx_t *ctx, const Rapport__V1__Event *ev)
{
    if (strcmp(ev->type, "rapport.leads.v1.lead.won") != 0)
        return 0;
    Rapport__Leads__V1__Lead *lead = rapport__leads__v1__lead__unpack(rp_ctx_allocator(ctx), ev->data.len,
                                                                      ev->data.data);
    if (!lead)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "lead.won %llu: data is not a Lead",
                              (unsigned long long)ev->seq);
    const Rapport__Leads__V1__Offer *offer = NULL;
    for (size_t i = 0; i < lead->n_offers; i++) {
        const Rapport__Leads__V1__Offer *o = lead->offers[i];
        if (o->status == LEAD_OFFER_ACCEPTED && o->total && (!offer || o->decided_at >= offer->decided_at))
            offer = o;
    }
    if (!offer)
        return 0;                       /* won without an accepted offer: nothing to draft */
    rp_ulid_t existing;
    int r = contracts_store_find_lead(ctx, lead->id, &existing);
    if (r < 0)
        return -1;
    if (r == 1) {
        rp_info("contracts: lead %s has its contract already; lead.won %llu changes nothing", lead->id,
                (unsigned long long)ev->seq);
        return 0;
    }
    int32_t today = rp_ctx_today(ctx);
    const char *cur = offer->total->currency;
    ContractTerms *t = rp_ctx_alloc(ctx, sizeof *t);
    rapport__contracts__v1__contract_terms__init(t);
    t->client_name = lead->company && !rp_str_empty(lead->company->name) ? lead->company->name : "(unnamed)";
    t->value = rp_ctx_money(ctx, offer->total->units, cur);
    Party *seller = rp_ctx_alloc(ctx, sizeof *seller), *buyer = rp_ctx_alloc(ctx, sizeof *buyer);
    rapport__contracts__v1__party__init(seller);
    rapport__contracts__v1__party__init(buyer);
    seller->role = PR_SELLER;
    seller->name = (char *)contracts_settings.seller_name;
    buyer->role = PR_BUYER;
    buyer->name = t->client_name;
    buyer->tax_id = lead->company ? lead->company->tax_id : "";
    Party **parties = rp_ctx_alloc(ctx, 2 * sizeof *parties);
    parties[0] = seller;
    parties[1] = buyer;
    t->parties = parties;
    t->n_parties = 2;
    PaymentTerms *p = rp_ctx_alloc(ctx, sizeof *p);
    rapport__contracts__v1__payment_terms__init(p);
    p->days = offer->payment_terms_days;
    t->payment = p;
    Instalment *in = rp_ctx_alloc(ctx, sizeof *in);
    rapport__contracts__v1__instalment__init(in);
    in->due = rp_ctx_date(ctx, today + (int32_t)offer->payment_terms_days);
    in->amount = rp_ctx_money(ctx, offer->total->units, cur);
    Instalment **s = rp_ctx_alloc(ctx, sizeof *s);
    s[0] = in;
    t->schedule = s;
    t->n_schedule = 1;
    ContractTerms *norm;
    if (contracts_terms_or_reply(ctx, "lead", t, &norm) < 0)
        return -1;
    Contract *c;
    if (contracts_new_draft(ctx, lead->owner, lead->unit, lead->branch, CK_INITIAL, NULL, norm, NULL,
                            lead->id, &c) < 0)
        return -1;
    rp_info("contracts: lead %s won: drafted contract %s", lead->id, c->number);
    return 0;
}
