/* leads_rules.c - the rules of a deal, kept apart from storage and wiring:
 * the funnel's stage machine, what winning and losing need, the qualification
 * score and verdict, input validation of companies, contacts, sources and
 * offers, and offer totals in integer minor units.
 *
 * Stage machine (see also leads.proto):
 *   open stages NEW < CONTACTED < INTERESTED < NEEDS_IDENTIFIED < OFFER < NEGOTIATION;
 *   forward any number of steps; back exactly one step; WON or LOST from any open
 *   stage; nothing out of WON; out of LOST only through Reopen.
 * Score: 8*interest + 7*financial_capacity + 5*reliability (weights 40/35/25 % of a
 *   0..5 scale, so 0..100), minus 10 per distinct risk flag, clamped to 0..100.
 * Verdict: >= 60 PROMISING, < 40 UNPROFITABLE, otherwise UNKNOWN.
 */
#include <stdio.h>
#include <string.h>
#include "leads.h"
#include "rapport/clock.h"
#include "rapport/fold.h"
#include "rapport/money.h"
#include "rapport/util.h"

static const char *s_stage_name(int stage)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&rapport__leads__v1__lead_stage__descriptor, stage);
    return v ? v->name : "LEAD_STAGE_?";
}

bool leads_stage_is_open(int stage)
{
    return stage >= LS_NEW && stage <= LS_NEGOTIATION;
}

int leads_stage_move_or_reply(rp_ctx_t *ctx, int from, int to)
{
    if (from == LS_WON)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "the lead is won; a won deal is final");
    if (from == LS_LOST)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "the lead is lost; Reopen it first");
    if (!leads_stage_is_open(from))
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "the lead has no valid stage");
    if (to == from)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "the lead is already in %s", s_stage_name(to));
    if (to == LS_WON || to == LS_LOST || to > from)
        return 0;
    if (to == from - 1)
        return 0;
    return rp_reply_error(ctx, RP_FAILED_PRECONDITION,
                          "cannot move from %s back to %s: back moves are one stage at a time",
                          s_stage_name(from), s_stage_name(to));
}

int leads_won_or_reply(rp_ctx_t *ctx, const Lead *lead)
{
    bool dm = false;
    for (size_t i = 0; i < lead->n_contacts; i++)
        if (lead->contacts[i]->role == ROLE_DECISION_MAKER)
            dm = true;
    if (!dm)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION,
                              "a won deal needs a contact with role DECISION_MAKER");
    if (!lead->expected_value || lead->expected_value->units <= 0)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION,
                              "a won deal needs a positive expected value");
    return 0;
}

int leads_lost_or_reply(rp_ctx_t *ctx, int reason, const char *competitor_id,
                        const char *competitor_name, const char *note)
{
    if (reason == LR_UNSPEC)
        rp_reply_violation(ctx, "lost_reason", "is required when the stage is LOST");
    else if (reason == LR_DISQUALIFIED)
        rp_reply_violation(ctx, "lost_reason", "DISQUALIFIED is set by Disqualify");
    else if (reason == LR_COMPETITOR && rp_str_empty(competitor_id) && rp_str_empty(competitor_name))
        rp_reply_violation(ctx, "lost_competitor_name",
                           "a deal lost to a competitor needs the competitor (id or name)");
    if (!rp_str_empty(competitor_id)) {
        rp_ulid_t u;
        rp_ulid_or_reply(ctx, "lost_competitor_id", competitor_id, &u);
    }
    rp_len_or_reply(ctx, "lost_competitor_name", competitor_name, 0, LEADS_NAME_MAX);
    rp_len_or_reply(ctx, "lost_note", note, 0, LEADS_NOTE_MAX);
    return rp_ctx_failed(ctx) ? -1 : 0;
}

uint32_t leads_score(uint32_t interest, uint32_t financial, uint32_t reliability, size_t n_flags)
{
    int64_t s = 8 * (int64_t)interest + 7 * (int64_t)financial + 5 * (int64_t)reliability
              - 10 * (int64_t)n_flags;
    if (s < 0)
        s = 0;
    if (s > 100)
        s = 100;
    return (uint32_t)s;
}

int leads_verdict(uint32_t score)
{
    if (score >= 60)
        return V_PROMISING;
    if (score < 40)
        return V_UNPROFITABLE;
    return V_UNKNOWN;
}

int leads_fold_name_or_reply(rp_ctx_t *ctx, const char *field, const char *name, char *out, size_t cap)
{
    long n = rp_fold_name(name ? name : "", out, cap);
    if (n <= 0)
        return rp_reply_violation(ctx, field, "must contain letters or digits");
    return 0;
}

/* s_path - "<field>.<leaf>", or "<field>[<index>].<leaf>" when index >= 0, into
 * out: the field paths of violations, built on every request without printf. */
static const char *s_path(char *out, size_t cap, const char *field, long index, const char *leaf)
{
    size_t n = 0, fl = strlen(field), ll = strlen(leaf);
    char num[24];
    size_t nl = 0;
    if (index >= 0) {
        char rev[24];
        unsigned long v = (unsigned long)index;
        do { rev[nl++] = (char)('0' + v % 10); v /= 10; } while (v && nl < sizeof rev);
        for (size_t k = 0; k < nl; k++)
            num[k] = rev[nl - 1 - k];
    }
    if (fl + nl + ll + 4 > cap) {       /* cannot happen with our field names */
        snprintf(out, cap, "%s", field);
        return out;
    }
    memcpy(out + n, field, fl); n += fl;
    if (index >= 0) {
        out[n++] = '[';
        memcpy(out + n, num, nl); n += nl;
        out[n++] = ']';
    }
    out[n++] = '.';
    memcpy(out + n, leaf, ll + 1);
    return out;
}

int leads_company_or_reply(rp_ctx_t *ctx, const char *field, const Company *c)
{
    char f[64], buf[512];
    if (!c) {
        s_path(f, sizeof f, field, -1, "name");
        return rp_reply_violation(ctx, f, "is required");
    }
    s_path(f, sizeof f, field, -1, "name");
    if (rp_len_or_reply(ctx, f, c->name, 1, LEADS_NAME_MAX) == 0)
        leads_fold_name_or_reply(ctx, f, c->name, buf, sizeof buf);
    s_path(f, sizeof f, field, -1, "tax_id");
    rp_len_or_reply(ctx, f, c->tax_id, 0, LEADS_TAXID_MAX);
    s_path(f, sizeof f, field, -1, "region");
    rp_len_or_reply(ctx, f, c->region, 0, LEADS_SHORT_MAX);
    s_path(f, sizeof f, field, -1, "industry");
    rp_len_or_reply(ctx, f, c->industry, 0, LEADS_SHORT_MAX);
    return rp_ctx_failed(ctx) ? -1 : 0;
}

int leads_contacts_or_reply(rp_ctx_t *ctx, const char *field, Contact *const *contacts, size_t n)
{
    if (n > LEADS_MAX_CONTACTS)
        return rp_reply_violation(ctx, field, "at most %d contacts", LEADS_MAX_CONTACTS);
    for (size_t i = 0; i < n; i++) {
        const Contact *c = contacts[i];
        char f[64], buf[320];
        s_path(f, sizeof f, field, (long)i, "name");
        rp_len_or_reply(ctx, f, c->name, 1, LEADS_NAME_MAX);
        s_path(f, sizeof f, field, (long)i, "position");
        rp_len_or_reply(ctx, f, c->position, 0, LEADS_NAME_MAX);
        s_path(f, sizeof f, field, (long)i, "email");
        if (rp_len_or_reply(ctx, f, c->email, 0, LEADS_EMAIL_MAX) == 0 && !rp_str_empty(c->email)
            && rp_fold_email(c->email, buf, sizeof buf) < 0)
            rp_reply_violation(ctx, f, "not an e-mail address");
        s_path(f, sizeof f, field, (long)i, "phone");
        rp_len_or_reply(ctx, f, c->phone, 0, LEADS_PHONE_MAX);
        if (c->role == ROLE_UNSPEC) {
            s_path(f, sizeof f, field, (long)i, "role");
            rp_reply_violation(ctx, f, "is required");
        }
    }
    return rp_ctx_failed(ctx) ? -1 : 0;
}

int leads_source_or_reply(rp_ctx_t *ctx, int source, const char *referrer_client_id)
{
    if (source == RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_UNSPECIFIED)
        return rp_reply_violation(ctx, "source", "is required");
    if (source == SRC_REFERRAL) {
        rp_ulid_t u;
        if (rp_str_empty(referrer_client_id))
            return rp_reply_violation(ctx, "referrer_client_id", "is required for a referral");
        return rp_ulid_or_reply(ctx, "referrer_client_id", referrer_client_id, &u);
    }
    if (!rp_str_empty(referrer_client_id))
        return rp_reply_violation(ctx, "referrer_client_id", "only for source REFERRAL");
    return 0;
}

int leads_page_size_or_reply(rp_ctx_t *ctx, uint32_t page_size, uint32_t *out)
{
    /* Larger pages are clamped, not refused: a client asking for "everything" gets
     * the largest page and a token for the rest. */
    *out = page_size == 0 ? LEADS_PAGE_DEFAULT : page_size > LEADS_PAGE_MAX ? LEADS_PAGE_MAX : page_size;
    return 0;
}

int leads_offer_input_or_reply(rp_ctx_t *ctx, OfferLine *const *lines, size_t n_lines,
                               uint32_t discount_bp, uint32_t payment_terms_days,
                               const Date *valid_until)
{
    char f[64];
    if (n_lines < 1 || n_lines > LEADS_MAX_LINES)
        rp_reply_violation(ctx, "lines", "1 to %d lines", LEADS_MAX_LINES);
    const char *currency = NULL;
    for (size_t i = 0; i < n_lines && i < LEADS_MAX_LINES; i++) {
        const OfferLine *l = lines[i];
        snprintf(f, sizeof f, "lines[%zu].description", i);
        rp_len_or_reply(ctx, f, l->description, 1, LEADS_REASON_MAX);
        snprintf(f, sizeof f, "lines[%zu].quantity", i);
        rp_range_or_reply(ctx, f, l->quantity, 1, 1000000000);
        snprintf(f, sizeof f, "lines[%zu].unit_price", i);
        if (rp_money_or_reply(ctx, f, l->unit_price, 0) == 0) {
            if (!currency)
                currency = l->unit_price->currency;
            else if (strcmp(currency, l->unit_price->currency) != 0)
                rp_reply_violation(ctx, f, "every line must be in %s", currency);
        }
    }
    rp_range_or_reply(ctx, "discount_bp", discount_bp, 0, 10000);
    rp_range_or_reply(ctx, "payment_terms_days", payment_terms_days, 0, 365);
    int32_t days;
    if (!valid_until)
        rp_reply_violation(ctx, "valid_until", "is required");
    else
        rp_date_or_reply(ctx, "valid_until", valid_until, &days);
    return rp_ctx_failed(ctx) ? -1 : 0;
}

int leads_offer_totals_or_reply(rp_ctx_t *ctx, Offer *o)
{
    if (o->n_lines == 0)
        return rp_reply_error(ctx, RP_INTERNAL, "offer without lines");
    const char *cur = o->lines[0]->unit_price->currency;
    int64_t sub = 0, disc = 0, total = 0;
    for (size_t i = 0; i < o->n_lines; i++) {
        OfferLine *l = o->lines[i];
        int64_t lt;
        if (rp_money_mul(l->quantity, l->unit_price->units, &lt) < 0 || rp_money_add(sub, lt, &sub) < 0)
            return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "offer total overflows (line %zu)", i);
        l->line_total = rp_ctx_money(ctx, lt, cur);
    }
    if (rp_money_percent(sub, o->discount_bp, &disc) < 0 || rp_money_sub(sub, disc, &total) < 0)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "offer total overflows");
    o->subtotal = rp_ctx_money(ctx, sub, cur);
    o->discount = rp_ctx_money(ctx, disc, cur);
    o->total = rp_ctx_money(ctx, total, cur);
    return 0;
}

bool leads_date_eq(const Date *a, const Date *b)
{
    if (!a || !b)
        return a == b;
    return a->year == b->year && a->month == b->month && a->day == b->day;
}

int leads_value_or_reply(rp_ctx_t *ctx, const char *field, const Money *m)
{
    if (rp_money_or_reply(ctx, field, m, 0) < 0)
        return -1;
    if (m->units > LEADS_VALUE_MAX)
        return rp_reply_violation(ctx, rp_ctx_sprintf(ctx, "%s.units", field),
                                  "must be at most %lld", (long long) LEADS_VALUE_MAX);
    return 0;
}
