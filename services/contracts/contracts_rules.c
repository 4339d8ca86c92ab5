/* contracts_rules.c - the rules of quotes and contracts, apart from storage and
 * wiring: input validation, quote totals in integer minor units, the instalment-sum
 * rule, normalisation of contract terms (parties and schedule sorted, so the
 * canonical content is the same for the same content), the document checklists
 * per contract type, and the next day the daily job acts on a contract.
 *
 * Document checklists (kind, stage):
 *   SUPPLY     specification, power of attorney (signing);
 *              acceptance act, invoice (fulfilment)
 *   SERVICES   specification, power of attorney (signing); acceptance act (fulfilment)
 *   LICENSE    company extract (signing); license certificate (fulfilment)
 *   FRAMEWORK  power of attorney, company extract (signing)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "contracts.h"
#include "rapport/clock.h"
#include "rapport/money.h"
#include "rapport/util.h"

#define DK(x) RAPPORT__CONTRACTS__V1__DOCUMENT_KIND__DOCUMENT_KIND_##x
#define CT(x) RAPPORT__CONTRACTS__V1__CONTRACT_TYPE__CONTRACT_TYPE_##x

static const struct {
    int type;
    int kind;
    int stage;
} s_checklist[] = {
    { CT(SUPPLY), DK(SPECIFICATION), DG_SIGNING },
    { CT(SUPPLY), DK(POWER_OF_ATTORNEY), DG_SIGNING },
    { CT(SUPPLY), DK(ACCEPTANCE_ACT), DG_FULFILMENT },
    { CT(SUPPLY), DK(INVOICE), DG_FULFILMENT },
    { CT(SERVICES), DK(SPECIFICATION), DG_SIGNING },
    { CT(SERVICES), DK(POWER_OF_ATTORNEY), DG_SIGNING },
    { CT(SERVICES), DK(ACCEPTANCE_ACT), DG_FULFILMENT },
    { CT(LICENSE), DK(COMPANY_EXTRACT), DG_SIGNING },
    { CT(LICENSE), DK(LICENSE_CERTIFICATE), DG_FULFILMENT },
    { CT(FRAMEWORK), DK(POWER_OF_ATTORNEY), DG_SIGNING },
    { CT(FRAMEWORK), DK(COMPANY_EXTRACT), DG_SIGNING },
};

/* ---- small helpers ---- */

const char *contracts_enum_name(const ProtobufCEnumDescriptor *d, int v)
{
    const ProtobufCEnumValue *e = protobuf_c_enum_descriptor_get_value(d, v);
    return e ? e->name : "?";
}

int contracts_page_size(uint32_t page_size)
{
    return page_size == 0 ? CT_PAGE_DEFAULT : page_size > CT_PAGE_MAX ? CT_PAGE_MAX : (int)page_size;
}

static char *s_f(rp_ctx_t *ctx, const char *field, const char *sub)
{
    return rp_ctx_sprintf(ctx, "%s.%s", field, sub);
}

static char *s_fi(rp_ctx_t *ctx, const char *field, const char *list, size_t i, const char *sub)
{
    return rp_ctx_sprintf(ctx, "%s.%s[%zu].%s", field, list, i, sub);
}

/* s_amount_or_reply - money in currency with min <= units <= CT_VALUE_MAX. */
static int s_amount_or_reply(rp_ctx_t *ctx, const char *field, const Money *m, const char *currency,
                             int64_t min)
{
    if (!m)
        return rp_reply_violation(ctx, field, "is required");
    if (rp_money_or_reply(ctx, field, m, min) < 0)
        return -1;
    if (m->units > CT_VALUE_MAX)
        return rp_reply_violation(ctx, field, "at most %lld minor units", (long long)CT_VALUE_MAX);
    if (currency && strcmp(m->currency, currency) != 0)
        return rp_reply_violation(ctx, field, "must be in %s", currency);
    return 0;
}

static void s_payment_or_reply(rp_ctx_t *ctx, const char *field, const PaymentTerms *p)
{
    if (!p)
        return;
    rp_range_or_reply(ctx, s_f(ctx, field, "days"), p->days, 0, 365);
    rp_range_or_reply(ctx, s_f(ctx, field, "prepayment_bp"), p->prepayment_bp, 0, 10000);
}

/* ---- quotes ---- */

int contracts_quote_terms_or_reply(rp_ctx_t *ctx, const char *field, const QuoteTerms *t)
{
    int32_t days;
    if (!t)
        return rp_reply_violation(ctx, field, "is required");
    bool cur_ok = !rp_str_empty(t->currency) && rp_currency_valid(t->currency);
    if (!cur_ok)
        rp_reply_violation(ctx, s_f(ctx, field, "currency"), "a known ISO 4217 code is required");
    if (t->n_lines < 1 || t->n_lines > CT_MAX_LINES)
        rp_reply_violation(ctx, s_f(ctx, field, "lines"), "1 to %d lines", CT_MAX_LINES);
    for (size_t i = 0; i < t->n_lines && i < CT_MAX_LINES; i++) {
        const QuoteLine *l = t->lines[i];
        rp_len_or_reply(ctx, s_fi(ctx, field, "lines", i, "description"), l->description, 1, CT_DESC_MAX);
        if (l->kind == RAPPORT__CONTRACTS__V1__ITEM_KIND__ITEM_KIND_UNSPECIFIED)
            rp_reply_violation(ctx, s_fi(ctx, field, "lines", i, "kind"), "is required");
        rp_range_or_reply(ctx, s_fi(ctx, field, "lines", i, "quantity"), l->quantity, 1, CT_QTY_MAX);
        rp_len_or_reply(ctx, s_fi(ctx, field, "lines", i, "unit"), l->unit, 1, CT_UNIT_NAME_MAX);
        s_amount_or_reply(ctx, s_fi(ctx, field, "lines", i, "unit_price"), l->unit_price,
                          cur_ok ? t->currency : NULL, 0);
        rp_range_or_reply(ctx, s_fi(ctx, field, "lines", i, "discount_bp"), l->discount_bp, 0, 10000);
    }
    s_payment_or_reply(ctx, s_f(ctx, field, "payment"), t->payment);
    rp_len_or_reply(ctx, s_f(ctx, field, "delivery_terms"), t->delivery_terms, 0, CT_DESC_MAX);
    rp_len_or_reply(ctx, s_f(ctx, field, "note"), t->note, 0, CT_NOTE_MAX);
    if (!t->valid_until)
        rp_reply_violation(ctx, s_f(ctx, field, "valid_until"), "is required");
    else
        rp_date_or_reply(ctx, s_f(ctx, field, "valid_until"), t->valid_until, &days);
    return rp_ctx_failed(ctx) ? -1 : 0;
}

int contracts_quote_totals_or_reply(rp_ctx_t *ctx, const QuoteTerms *t, QuoteTerms **out)
{
    QuoteTerms *c = rp_ctx_alloc(ctx, sizeof *c);
    *c = *t;
    c->lines = rp_ctx_alloc(ctx, t->n_lines * sizeof *c->lines);
    int64_t sub = 0, disc = 0, total = 0;
    uint32_t max_bp = 0;
    for (size_t i = 0; i < t->n_lines; i++) {
        QuoteLine *l = rp_ctx_alloc(ctx, sizeof *l);
        *l = *t->lines[i];
        int64_t gross, ld, net;
        if (rp_money_mul(l->quantity, l->unit_price->units, &gross) < 0
            || rp_money_percent(gross, l->discount_bp, &ld) < 0 || rp_money_sub(gross, ld, &net) < 0
            || rp_money_add(sub, gross, &sub) < 0 || rp_money_add(disc, ld, &disc) < 0
            || rp_money_add(total, net, &total) < 0 || total > CT_VALUE_MAX)
            return rp_reply_error(ctx, RP_FAILED_PRECONDITION,
                                  "the quote's total overflows at line %zu (at most %lld minor units)",
                                  i, (long long)CT_VALUE_MAX);
        l->line_total = rp_ctx_money(ctx, net, t->currency);
        if (l->discount_bp > max_bp)
            max_bp = l->discount_bp;
        c->lines[i] = l;
    }
    c->subtotal = rp_ctx_money(ctx, sub, t->currency);
    c->discount = rp_ctx_money(ctx, disc, t->currency);
    c->total = rp_ctx_money(ctx, total, t->currency);
    c->max_discount_bp = max_bp;
    *out = c;
    return 0;
}

/* ---- contract terms ---- */

int contracts_schedule_or_reply(rp_ctx_t *ctx, const char *field, Instalment *const *s, size_t n,
                                const Money *value)
{
    int64_t sum = 0;
    int32_t days;
    bool ok = true;
    if (n > CT_MAX_INSTALMENTS)
        return rp_reply_violation(ctx, field, "at most %d instalments", CT_MAX_INSTALMENTS);
    for (size_t i = 0; i < n; i++) {
        char *f = rp_ctx_sprintf(ctx, "%s[%zu]", field, i);
        if (!s[i]->due)
            ok = rp_reply_violation(ctx, s_f(ctx, f, "due"), "is required") == 0 && ok;
        else if (rp_date_or_reply(ctx, s_f(ctx, f, "due"), s[i]->due, &days) < 0)
            ok = false;
        if (s_amount_or_reply(ctx, s_f(ctx, f, "amount"), s[i]->amount, value ? value->currency : NULL, 1) < 0
            || rp_money_add(sum, s[i]->amount->units, &sum) < 0)
            ok = false;
        rp_len_or_reply(ctx, s_f(ctx, f, "note"), s[i]->note, 0, CT_NAME_MAX);
    }
    if (ok && value && n > 0 && sum != value->units)
        return rp_reply_violation(ctx, field, "the instalments sum to %lld, not to the value %lld",
                                  (long long)sum, (long long)value->units);
    return rp_ctx_failed(ctx) ? -1 : 0;
}

static int s_date_cmp(const Date *a, const Date *b)
{
    int32_t x = a ? rp_date_days(a) : INT32_MIN, y = b ? rp_date_days(b) : INT32_MIN;
    return x < y ? -1 : x > y;
}

static int s_party_cmp(const void *a_, const void *b_)
{
    const Party *a = *(Party *const *)a_, *b = *(Party *const *)b_;
    if (a->role != b->role)
        return a->role < b->role ? -1 : 1;
    int r = strcmp(a->name ? a->name : "", b->name ? b->name : "");
    return r ? r : strcmp(a->tax_id ? a->tax_id : "", b->tax_id ? b->tax_id : "");
}

static int s_instalment_cmp(const void *a_, const void *b_)
{
    const Instalment *a = *(Instalment *const *)a_, *b = *(Instalment *const *)b_;
    int r = s_date_cmp(a->due, b->due);
    if (r)
        return r;
    int64_t x = a->amount ? a->amount->units : INT64_MIN, y = b->amount ? b->amount->units : INT64_MIN;
    if (x != y)
        return x < y ? -1 : 1;
    return strcmp(a->note ? a->note : "", b->note ? b->note : "");
}

ContractTerms *contracts_terms_sorted(rp_ctx_t *ctx, const ContractTerms *t)
{
    ContractTerms *c = rp_ctx_alloc(ctx, sizeof *c);
    *c = *t;
    c->parties = rp_ctx_alloc(ctx, (t->n_parties + 1) * sizeof *c->parties);
    if (t->n_parties)
        memcpy(c->parties, t->parties, t->n_parties * sizeof *c->parties);
    qsort(c->parties, c->n_parties, sizeof *c->parties, s_party_cmp);
    c->schedule = rp_ctx_alloc(ctx, (t->n_schedule + 1) * sizeof *c->schedule);
    if (t->n_schedule)
        memcpy(c->schedule, t->schedule, t->n_schedule * sizeof *c->schedule);
    qsort(c->schedule, c->n_schedule, sizeof *c->schedule, s_instalment_cmp);
    return c;
}

int contracts_terms_or_reply(rp_ctx_t *ctx, const char *field, const ContractTerms *t, ContractTerms **out)
{
    int32_t d1 = 0, d2 = 0;
    rp_ulid_t u;
    if (!t)
        return rp_reply_violation(ctx, field, "is required");
    if (!rp_str_empty(t->client_id))
        rp_ulid_or_reply(ctx, s_f(ctx, field, "client_id"), t->client_id, &u);
    rp_len_or_reply(ctx, s_f(ctx, field, "client_name"), t->client_name, 1, CT_NAME_MAX);
    if (t->n_parties > CT_MAX_PARTIES)
        rp_reply_violation(ctx, s_f(ctx, field, "parties"), "at most %d parties", CT_MAX_PARTIES);
    for (size_t i = 0; i < t->n_parties && i < CT_MAX_PARTIES; i++) {
        const Party *p = t->parties[i];
        if (p->role == RAPPORT__CONTRACTS__V1__PARTY_ROLE__PARTY_ROLE_UNSPECIFIED)
            rp_reply_violation(ctx, s_fi(ctx, field, "parties", i, "role"), "is required");
        rp_len_or_reply(ctx, s_fi(ctx, field, "parties", i, "name"), p->name, 1, CT_NAME_MAX);
        rp_len_or_reply(ctx, s_fi(ctx, field, "parties", i, "tax_id"), p->tax_id, 0, CT_TAXID_MAX);
        rp_len_or_reply(ctx, s_fi(ctx, field, "parties", i, "representative"), p->representative, 0, CT_NAME_MAX);
        if (!rp_str_empty(p->client_id))
            rp_ulid_or_reply(ctx, s_fi(ctx, field, "parties", i, "client_id"), p->client_id, &u);
    }
    bool value_ok = s_amount_or_reply(ctx, s_f(ctx, field, "value"), t->value, NULL, 1) == 0;
    contracts_schedule_or_reply(ctx, s_f(ctx, field, "schedule"), t->schedule, t->n_schedule,
                                value_ok ? t->value : NULL);
    rp_len_or_reply(ctx, s_f(ctx, field, "special_terms"), t->special_terms, 0, CT_TERMS_MAX);
    rp_len_or_reply(ctx, s_f(ctx, field, "delivery_terms"), t->delivery_terms, 0, CT_DESC_MAX);
    s_payment_or_reply(ctx, s_f(ctx, field, "payment"), t->payment);
    bool start_ok = t->start && rp_date_or_reply(ctx, s_f(ctx, field, "start"), t->start, &d1) == 0;
    bool end_ok = t->end && rp_date_or_reply(ctx, s_f(ctx, field, "end"), t->end, &d2) == 0;
    if (start_ok && end_ok && d2 < d1)
        rp_reply_violation(ctx, s_f(ctx, field, "end"), "is before the start");
    if (rp_ctx_failed(ctx))
        return -1;

    *out = contracts_terms_sorted(ctx, t);
    return 0;
}

int contracts_complete_or_reply(rp_ctx_t *ctx, const ContractTerms *t)
{
    int sellers = 0, buyers = 0, thirds = 0;
    for (size_t i = 0; i < t->n_parties; i++) {
        sellers += t->parties[i]->role == PR_SELLER;
        buyers += t->parties[i]->role == PR_BUYER;
        thirds += t->parties[i]->role == PR_THIRD;
    }
    if (t->type == CT_UNSPEC)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "the contract needs a type before it is submitted");
    if (sellers != 1 || buyers != 1 || thirds > 1)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION,
                              "the contract needs exactly one seller and one buyer (and at most one third party)");
    if (!t->start || !t->end)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "the contract needs start and end dates");
    if (t->n_schedule == 0)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "the contract needs a payment schedule");
    return 0;
}

/* ---- documents ---- */

void contracts_checklist(rp_ctx_t *ctx, Contract *c)
{
    int type = c->terms ? (int)c->terms->type : CT_UNSPEC;
    Document **docs = rp_ctx_alloc(ctx, CT_MAX_DOCUMENTS * sizeof *docs);
    size_t n = 0;
    for (size_t i = 0; i < sizeof s_checklist / sizeof s_checklist[0]; i++) {
        if (s_checklist[i].type != type)
            continue;
        Document *d = NULL;
        for (size_t k = 0; k < c->n_documents; k++)
            if ((int)c->documents[k]->kind == s_checklist[i].kind)
                d = c->documents[k];
        if (!d) {
            d = rp_ctx_alloc(ctx, sizeof *d);
            rapport__contracts__v1__document__init(d);
            d->kind = s_checklist[i].kind;
            d->status = DS_REQUIRED;
        }
        d->stage = s_checklist[i].stage;
        d->required = true;
        docs[n++] = d;
    }
    /* documents received by hand that are not on this type's checklist stay, optional */
    for (size_t k = 0; k < c->n_documents && n < CT_MAX_DOCUMENTS; k++) {
        bool listed = false;
        for (size_t j = 0; j < n; j++)
            listed = listed || docs[j] == c->documents[k];
        if (listed || c->documents[k]->status == DS_REQUIRED)
            continue;
        c->documents[k]->required = false;
        docs[n++] = c->documents[k];
    }
    c->documents = docs;
    c->n_documents = n;
}

bool contracts_docs_verified(const Contract *c, int stage, int *missing_kind)
{
    for (size_t i = 0; i < c->n_documents; i++) {
        const Document *d = c->documents[i];
        if (d->required && (int)d->stage == stage && d->status != DS_VERIFIED) {
            if (missing_kind)
                *missing_kind = d->kind;
            return false;
        }
    }
    return true;
}

/* ---- the daily job's calendar ---- */

static bool s_sent(const Contract *c, uint32_t t)
{
    for (size_t i = 0; i < c->n_expiring_sent; i++)
        if (c->expiring_sent[i] == t)
            return true;
    return false;
}

int32_t contracts_next_day(const Contract *c)
{
    if ((c->status != CS_SIGNED && c->status != CS_ACTIVE) || !c->terms || !c->terms->end)
        return INT32_MAX;
    int32_t end = rp_date_days(c->terms->end);
    int32_t day = end + 1;                          /* expires the day after its end */
    if (c->status == CS_SIGNED && c->terms->start) {
        int32_t s = rp_date_days(c->terms->start);
        if (s < day)
            day = s;
    }
    for (int i = 0; i < contracts_settings.n_expiring; i++) {
        uint32_t t = contracts_settings.expiring_days[i];
        if (!s_sent(c, t) && end - (int32_t)t < day)
            day = end - (int32_t)t;
    }
    return day;
}
