/* contracts_handlers.c - the contract methods of rapport-contracts, one function
 * per method, Redis-style: validate with the *_or_reply helpers, load through the
 * caller's scope (out of scope is NOT_FOUND), check the status machine and the
 * authority rules (contracts.proto), write with contracts_store_put (which keeps
 * the indexes) and emit the events in the same transaction.
 *
 * Events: contract.drafted, contract.updated, contract.approval_requested,
 * contract.approved, contract.rejected, contract.signed (ContractSigned),
 * contract.activated, contract.fulfilled, contract.terminated, contract.renewed
 * (Contract, except where named), document.received, document.verified
 * (DocumentEvent).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "contracts.h"
#include "rapport/clock.h"
#include "rapport/money.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Contracts__V1__GetRequest GetRequest;
typedef Rapport__Contracts__V1__DraftRequest DraftRequest;
typedef Rapport__Contracts__V1__DraftFromQuoteRequest DraftFromQuoteRequest;
typedef Rapport__Contracts__V1__UpdateDraftRequest UpdateDraftRequest;
typedef Rapport__Contracts__V1__ContractActionRequest ActionRequest;
typedef Rapport__Contracts__V1__RenewRequest RenewRequest;
typedef Rapport__Contracts__V1__DocumentRequest DocumentRequest;
typedef Rapport__Contracts__V1__MilestoneRequest MilestoneRequest;
typedef Rapport__Contracts__V1__ListRequest ListRequest;

static const char *s_status(int s)
{
    return contracts_enum_name(&rapport__contracts__v1__contract_status__descriptor, s);
}

static const char *s_doc_kind(int k)
{
    return contracts_enum_name(&rapport__contracts__v1__document_kind__descriptor, k);
}

/* ---- shared helpers ---- */

int contracts_emit(rp_ctx_t *ctx, const char *type, const char *subject, const ProtobufCMessage *m)
{
    if (rp_ctx_emit(ctx, type, subject, m) == 0)
        return 0;
    if (!rp_ctx_failed(ctx))
        rp_reply_error(ctx, RP_INTERNAL, "cannot append event %s", type);
    return -1;
}

int contracts_load_or_reply(rp_ctx_t *ctx, const char *field, const char *id, Contract **out)
{
    rp_ulid_t u;
    if (rp_str_empty(id))
        return rp_reply_violation(ctx, field, "is required");
    if (rp_ulid_parse(id, &u) < 0) {
        /* not a ULID: a contract number */
        if (strlen(id) > 100)
            return rp_reply_violation(ctx, field, "neither a contract id nor a contract number");
        int r = contracts_store_find_number(ctx, id, &u);
        if (r < 0)
            return -1;
        if (r == 0)
            return rp_reply_error(ctx, RP_NOT_FOUND, "contract %s not found", id);
    }
    int rc = contracts_store_get(ctx, CE_CONTRACT, &u, (ProtobufCMessage **)out);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "contract %s not found", id);
    if (rc != 0)
        return -1;
    return rp_scope_or_reply(ctx, "contract", id, (*out)->owner, (*out)->unit);
}

/* s_write - store c (updated_at now) and emit type with c as data (type may be NULL). */
static int s_write(rp_ctx_t *ctx, Contract *c, const char *type)
{
    c->updated_at = rp_ctx_now(ctx);
    if (contracts_store_put(ctx, CE_CONTRACT, &c->base) < 0)
        return -1;
    return type ? contracts_emit(ctx, type, c->id, &c->base) : 0;
}

static int s_reply(rp_ctx_t *ctx, Contract *c, const char *type, ProtobufCMessage **out)
{
    if (s_write(ctx, c, type) < 0)
        return -1;
    *out = &c->base;
    return 0;
}

static bool s_has_role(const rp_claims_t *cl, const char *role)
{
    for (int i = 0; i < cl->n_roles && i < RP_JWT_MAX_ROLES; i++)
        if (strcmp(cl->roles[i], role) == 0)
            return true;
    return false;
}

int contracts_new_draft(rp_ctx_t *ctx, const char *owner, const char *unit, const char *branch,
                        int kind, const Contract *parent, ContractTerms *terms,
                        const char *quote_id, const char *lead_id, Contract **out)
{
    if (rp_str_empty(branch))
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "a contract needs a branch (the token has none)");
    int64_t now = rp_ctx_now(ctx);
    int y, m, d;
    rp_days_to_date(rp_ctx_today(ctx), &y, &m, &d);
    char code[CT_CODE_MAX + 1];
    contracts_branch_code(branch, code);
    uint64_t seq;
    if (contracts_store_next_number(ctx, code, y, &seq) < 0)
        return -1;
    char *number = rp_ctx_sprintf(ctx, "%s-%04d-%06llu", code, y, (unsigned long long)seq);
    rp_ulid_t id, other;
    int taken = contracts_store_find_number(ctx, number, &other);
    if (taken < 0)
        return -1;
    if (taken) {                /* the counter is behind the stored numbers: never a duplicate */
        char o[RP_ULID_STRLEN + 1];
        rp_ulid_format(&other, o);
        return rp_reply_error(ctx, RP_INTERNAL, "contract number %s is taken already (contract %s): the "
                              "counter of branch %s is behind; nothing was written", number, o, code);
    }

    char idstr[RP_ULID_STRLEN + 1];
    rp_ctx_new_id(ctx, &id, idstr);
    Contract *c = rp_ctx_alloc(ctx, sizeof *c);
    rapport__contracts__v1__contract__init(c);
    c->id = rp_ctx_strdup(ctx, idstr);
    c->number = number;
    c->branch = rp_ctx_strdup(ctx, branch);
    c->year = y;
    c->seq = seq;
    c->owner = rp_ctx_strdup(ctx, owner);
    c->unit = rp_ctx_strdup(ctx, unit);
    c->kind = kind;
    if (parent) {
        c->parent_id = parent->id;
        c->parent_number = parent->number;
    }
    c->terms = terms;
    c->quote_id = rp_ctx_strdup(ctx, quote_id);
    c->lead_id = rp_ctx_strdup(ctx, lead_id);
    c->status = CS_DRAFT;
    c->created_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    c->created_at = now;
    contracts_checklist(ctx, c);
    if (s_write(ctx, c, "contract.drafted") < 0)
        return -1;
    *out = c;
    return 0;
}

int contracts_activate(rp_ctx_t *ctx, Contract *c)
{
    c->status = CS_ACTIVE;
    c->activated_at = rp_ctx_now(ctx);
    return contracts_emit(ctx, "contract.activated", c->id, &c->base);
}

/* ---- orders of a contract, for fulfilment ---- */

typedef struct {
    size_t open, done;
} s_orders_t;

static int s_count_order(void *arg, const ProtobufCMessage *m)
{
    s_orders_t *o = arg;
    int st = ((const Order *)m)->status;
    if (st == OS_DELIVERED || st == OS_CLOSED)
        o->done++;
    else if (st != OS_CANCELLED)
        o->open++;
    return 1;
}

int contracts_check_fulfilled(rp_ctx_t *ctx, Contract *c)
{
    if (c->status != CS_ACTIVE)
        return 0;
    for (size_t i = 0; i < c->n_milestones; i++)
        if (c->milestones[i]->done_at == 0)
            return 0;
    if (!contracts_docs_verified(c, DG_FULFILMENT, NULL))
        return 0;
    rp_ulid_t id;
    if (rp_ulid_parse(c->id, &id) < 0)
        return rp_reply_error(ctx, RP_INTERNAL, "stored contract id is not a ULID");
    s_orders_t o = { 0, 0 };
    char *token = NULL;
    do {
        char *next = NULL;
        int rc = contracts_store_query(ctx, CQ_ORDERS_BY_CONTRACT, NULL, &id, token, CT_PAGE_MAX,
                                       s_count_order, &o, &next);
        if (rc != 0)
            return rp_ctx_failed(ctx) ? -1 : rp_reply_error(ctx, RP_INTERNAL, "orders scan failed");
        token = next;
    } while (token && o.open == 0);
    if (o.open > 0 || (o.done == 0 && c->n_milestones == 0))
        return 0;
    c->status = CS_FULFILLED;
    c->closed_at = rp_ctx_now(ctx);
    return s_write(ctx, c, "contract.fulfilled");
}

/* ---- drafts ---- */

/* s_parent_or_reply - load the parent of a contract of kind (not INITIAL) and check
 * it may have one: a signed or active contract (a renewal also of a fulfilled or
 * expired one). */
static int s_parent_or_reply(rp_ctx_t *ctx, int kind, const char *parent_id, Contract **parent)
{
    *parent = NULL;
    if (kind == CK_INITIAL) {
        if (!rp_str_empty(parent_id))
            return rp_reply_violation(ctx, "parent_id", "an initial contract has no parent");
        return 0;
    }
    if (rp_str_empty(parent_id))
        return rp_reply_violation(ctx, "parent_id", "is required for kind %s",
                                  contracts_enum_name(&rapport__contracts__v1__contract_kind__descriptor, kind));
    if (contracts_load_or_reply(ctx, "parent_id", parent_id, parent) < 0)
        return -1;
    int st = (*parent)->status;
    bool ok = st == CS_SIGNED || st == CS_ACTIVE
              || (kind == CK_RENEWAL && (st == CS_FULFILLED || st == CS_EXPIRED));
    if (!ok)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contract %s is %s: it cannot have %s",
                              (*parent)->number, s_status(st),
                              kind == CK_RENEWAL ? "a renewal" : "amendments or extensions");
    return 0;
}

int contracts_draft(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const DraftRequest *in = (const DraftRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    ContractTerms *t;
    Contract *parent, *c;
    int kind = in->kind == CK_UNSPEC ? CK_INITIAL : (int)in->kind;
    if (contracts_terms_or_reply(ctx, "terms", in->terms, &t) < 0)
        return -1;
    if (s_parent_or_reply(ctx, kind, in->parent_id, &parent) < 0)
        return -1;
    if (contracts_new_draft(ctx, rp_principal(cl), cl->unit, cl->branch, kind, parent, t, NULL, NULL, &c) < 0)
        return -1;
    *out = &c->base;
    return 0;
}

/* s_schedule_from_payment - a prepayment instalment due at start and the rest due
 * `days` after it; one instalment when there is no prepayment. Sums to total. */
static void s_schedule_from_payment(rp_ctx_t *ctx, ContractTerms *t, int64_t total, const char *cur,
                                    const PaymentTerms *p, int32_t start)
{
    int64_t pre = 0;
    if (p && p->prepayment_bp > 0 && rp_money_percent(total, p->prepayment_bp, &pre) < 0)
        pre = 0;
    int32_t due = start + (int32_t)(p ? p->days : 0);
    Instalment **s = rp_ctx_alloc(ctx, 2 * sizeof *s);
    size_t n = 0;
    if (pre > 0 && pre < total) {
        Instalment *a = rp_ctx_alloc(ctx, sizeof *a);
        rapport__contracts__v1__instalment__init(a);
        a->due = rp_ctx_date(ctx, start);
        a->amount = rp_ctx_money(ctx, pre, cur);
        a->note = "prepayment";
        s[n++] = a;
    } else {
        pre = 0;
    }
    Instalment *b = rp_ctx_alloc(ctx, sizeof *b);
    rapport__contracts__v1__instalment__init(b);
    b->due = rp_ctx_date(ctx, due);
    b->amount = rp_ctx_money(ctx, total - pre, cur);
    b->note = pre ? "balance" : "";
    s[n++] = b;
    t->schedule = s;
    t->n_schedule = n;
}

int contracts_draft_from_quote(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const DraftFromQuoteRequest *in = (const DraftFromQuoteRequest *)in_;
    rp_ulid_t qid;
    int32_t d1 = 0, d2 = 0;
    rp_ulid_or_reply(ctx, "quote_id", in->quote_id, &qid);
    if (in->type == CT_UNSPEC)
        rp_reply_violation(ctx, "type", "is required");
    if (in->start)
        rp_date_or_reply(ctx, "start", in->start, &d1);
    if (in->end && rp_date_or_reply(ctx, "end", in->end, &d2) == 0 && in->start && d2 < d1)
        rp_reply_violation(ctx, "end", "is before the start");
    if (rp_ctx_failed(ctx))
        return -1;
    Quote *q;
    int rc = contracts_store_get(ctx, CE_QUOTE, &qid, (ProtobufCMessage **)&q);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "quote %s not found", in->quote_id);
    if (rc != 0 || rp_scope_or_reply(ctx, "quote", in->quote_id, q->owner, q->unit) < 0)
        return -1;
    if (q->status != QS_ACCEPTED)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "quote %s is %s; only an accepted quote becomes a contract",
                              q->id, contracts_enum_name(&rapport__contracts__v1__quote_status__descriptor, q->status));
    if (!rp_str_empty(q->contract_id))
        return rp_reply_exists(ctx, q->contract_id, "quote %s is contract %s already", q->id, q->contract_id);

    ContractTerms *t = rp_ctx_alloc(ctx, sizeof *t);
    rapport__contracts__v1__contract_terms__init(t);
    t->type = in->type;
    t->client_id = q->client_id;
    t->client_name = q->client_name;
    Party *seller = rp_ctx_alloc(ctx, sizeof *seller), *buyer = rp_ctx_alloc(ctx, sizeof *buyer);
    rapport__contracts__v1__party__init(seller);
    rapport__contracts__v1__party__init(buyer);
    seller->role = PR_SELLER;
    seller->name = (char *)contracts_settings.seller_name;
    buyer->role = PR_BUYER;
    buyer->name = q->client_name;
    buyer->client_id = q->client_id;
    Party **parties = rp_ctx_alloc(ctx, 2 * sizeof *parties);
    parties[0] = seller;
    parties[1] = buyer;
    t->parties = parties;
    t->n_parties = 2;
    t->value = rp_ctx_money(ctx, q->terms->total->units, q->terms->currency);
    t->payment = q->terms->payment;
    t->delivery_terms = q->terms->delivery_terms;
    t->start = in->start;
    t->end = in->end;
    s_schedule_from_payment(ctx, t, q->terms->total->units, q->terms->currency, q->terms->payment,
                            in->start ? d1 : rp_ctx_today(ctx));
    if (t->value->units <= 0)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "quote %s has a total of zero", q->id);
    ContractTerms *norm;
    if (contracts_terms_or_reply(ctx, "terms", t, &norm) < 0)
        return -1;
    Contract *c;
    if (contracts_new_draft(ctx, q->owner, q->unit, q->branch, CK_INITIAL, NULL, norm, q->id, q->lead_id, &c) < 0)
        return -1;
    q->contract_id = c->id;
    q->updated_at = rp_ctx_now(ctx);
    if (contracts_store_put(ctx, CE_QUOTE, &q->base) < 0)
        return -1;
    *out = &c->base;
    return 0;
}

int contracts_update_draft(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const UpdateDraftRequest *in = (const UpdateDraftRequest *)in_;
    ContractTerms *t;
    Contract *c;
    if (contracts_terms_or_reply(ctx, "terms", in->terms, &t) < 0)
        return -1;
    if (contracts_load_or_reply(ctx, "id", in->id, &c) < 0)
        return -1;
    if (c->status != CS_DRAFT)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contract %s is %s; only drafts can be edited "
                              "(a signed contract changes through an amendment)", c->number, s_status(c->status));
    c->terms = t;
    contracts_checklist(ctx, c);
    return s_reply(ctx, c, "contract.updated", out);
}

int contracts_get(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const GetRequest *in = (const GetRequest *)in_;
    Contract *c;
    if (contracts_load_or_reply(ctx, "id", in->id, &c) < 0)
        return -1;
    *out = &c->base;
    return 0;
}

/* ---- approval ---- */

int contracts_submit(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ActionRequest *in = (const ActionRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    Contract *c;
    if (contracts_load_or_reply(ctx, "id", in->id, &c) < 0)
        return -1;
    if (c->status != CS_DRAFT)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contract %s is %s; only drafts are submitted",
                              c->number, s_status(c->status));
    if (contracts_complete_or_reply(ctx, c->terms) < 0)
        return -1;
    contracts_checklist(ctx, c);
    c->round++;
    c->submitted_by = rp_ctx_strdup(ctx, rp_actor(cl));
    c->submitted_for = rp_ctx_strdup(ctx, rp_principal(cl));
    int64_t value = c->terms->value->units;
    if (value <= cl->limit_contract_value) {
        c->approval_required = false;
        c->chain = NULL;
        c->n_chain = 0;
        c->status = CS_APPROVED;
        return s_reply(ctx, c, "contract.approved", out);
    }
    Rapport__Contracts__V1__ApprovalStep *chain = rp_ctx_alloc(ctx, 2 * sizeof *chain);
    size_t n = 0;
    chain[n++] = STEP_HEAD;
    if (value > contracts_settings.director_threshold)
        chain[n++] = STEP_DIRECTOR;
    c->chain = chain;
    c->n_chain = n;
    c->approval_required = true;
    c->status = CS_PENDING;
    return s_reply(ctx, c, "contract.approval_requested", out);
}

/* s_caller_is - true when the caller, as actor (sub) or as principal (on_behalf_of),
 * is a or b (either may be empty or NULL: a record from before it was kept). */
static bool s_caller_is(const rp_claims_t *cl, const char *a, const char *b)
{
    const char *who[2] = { rp_actor(cl), rp_principal(cl) }, *names[2] = { a, b };
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (!rp_str_empty(names[j]) && strcmp(who[i], names[j]) == 0)
                return true;
    return false;
}

/* s_step_or_reply - the step of the chain now due, checked against the caller's
 * roles and the four-eyes rules (contracts.proto, Authority); PERMISSION_DENIED
 * when they cannot decide it. */
static int s_step_or_reply(rp_ctx_t *ctx, const Contract *c, int *step, const char **role)
{
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    if (c->status != CS_PENDING)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contract %s is %s, not pending approval",
                              c->number, s_status(c->status));
    if (s_caller_is(cl, c->owner, NULL) || s_caller_is(cl, c->submitted_by, c->submitted_for))
        return rp_reply_error(ctx, RP_PERMISSION_DENIED, "nobody decides on a contract they own or submitted, "
                              "in person or through a delegate");
    size_t done = 0;
    for (size_t i = 0; i < c->n_decisions; i++) {
        const ApprovalDecision *d = c->decisions[i];
        if (d->round != c->round)
            continue;
        if (s_caller_is(cl, d->by, d->by_principal))
            return rp_reply_error(ctx, RP_PERMISSION_DENIED, "contract %s: %s decided a step of this round "
                                  "already; each step needs another person", c->number,
                                  rp_str_empty(d->by_principal) ? d->by : d->by_principal);
        if (d->decision == DEC_APPROVED)
            done++;
    }
    if (done >= c->n_chain)
        return rp_reply_error(ctx, RP_INTERNAL, "contract %s has no approval step left", c->number);
    *step = c->chain[done];
    if (*step == STEP_HEAD) {
        *role = s_has_role(cl, "head_of_department") ? "head_of_department"
              : s_has_role(cl, "branch_head") ? "branch_head" : NULL;
        if (!*role)
            return rp_reply_error(ctx, RP_PERMISSION_DENIED,
                                  "contract %s waits for a head of department's approval", c->number);
    } else {
        *role = s_has_role(cl, "director") ? "director" : NULL;
        if (!*role)
            return rp_reply_error(ctx, RP_PERMISSION_DENIED,
                                  "contract %s waits for a director's approval", c->number);
    }
    return 0;
}

static void s_decide(rp_ctx_t *ctx, Contract *c, int step, const char *role, int decision, const char *comment)
{
    ApprovalDecision *d = rp_ctx_alloc(ctx, sizeof *d);
    rapport__contracts__v1__approval_decision__init(d);
    d->round = c->round;
    d->step = step;
    d->decision = decision;
    d->by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    d->by_principal = rp_ctx_strdup(ctx, rp_principal(rp_ctx_claims(ctx)));
    d->role = rp_ctx_strdup(ctx, role);
    d->comment = rp_ctx_strdup(ctx, comment);
    d->at = rp_ctx_now(ctx);
    size_t n = c->n_decisions;
    ApprovalDecision **v = (ApprovalDecision **)rp_ctx_append(ctx, (void **)c->decisions, n, d);
    n++;
    if (n > CT_MAX_DECISIONS) {         /* keep the newest */
        v += n - CT_MAX_DECISIONS;
        n = CT_MAX_DECISIONS;
    }
    c->decisions = v;
    c->n_decisions = n;
}

int contracts_approve(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ActionRequest *in = (const ActionRequest *)in_;
    Contract *c;
    int step;
    const char *role;
    if (rp_len_or_reply(ctx, "comment", in->comment, 0, CT_NOTE_MAX) < 0)
        return -1;
    if (contracts_load_or_reply(ctx, "id", in->id, &c) < 0 || s_step_or_reply(ctx, c, &step, &role) < 0)
        return -1;
    s_decide(ctx, c, step, role, DEC_APPROVED, in->comment);
    if (c->chain[c->n_chain - 1] == (Rapport__Contracts__V1__ApprovalStep)step) {
        c->status = CS_APPROVED;
        return s_reply(ctx, c, "contract.approved", out);
    }
    return s_reply(ctx, c, "contract.approval_requested", out);
}

int contracts_reject(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ActionRequest *in = (const ActionRequest *)in_;
    Contract *c;
    int step;
    const char *role;
    if (rp_len_or_reply(ctx, "comment", in->comment, 1, CT_NOTE_MAX) < 0)
        return -1;
    if (contracts_load_or_reply(ctx, "id", in->id, &c) < 0 || s_step_or_reply(ctx, c, &step, &role) < 0)
        return -1;
    s_decide(ctx, c, step, role, DEC_REJECTED, in->comment);
    c->status = CS_DRAFT;
    return s_reply(ctx, c, "contract.rejected", out);
}

/* ---- signing ---- */

static Rapport__Contracts__V1__ContractSigned *s_signed_event(rp_ctx_t *ctx, const Contract *c)
{
    Rapport__Contracts__V1__ContractSigned *e = rp_ctx_alloc(ctx, sizeof *e);
    rapport__contracts__v1__contract_signed__init(e);
    e->contract_id = c->id;
    e->number = c->number;
    e->client_id = c->terms->client_id;
    e->client_name = c->terms->client_name;
    e->owner = c->owner;
    e->unit = c->unit;
    e->branch = c->branch;
    e->value = c->terms->value;
    e->currency = c->terms->value->currency;
    e->schedule = c->terms->schedule;
    e->n_schedule = c->terms->n_schedule;
    e->kind = c->kind;
    e->parent_id = c->parent_id;
    e->start = c->terms->start;
    e->end = c->terms->end;
    e->referral_clause = c->terms->referral_clause;
    e->signature = c->signature;
    return e;
}

int contracts_sign_h(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ActionRequest *in = (const ActionRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    Contract *c;
    int missing;
    if (contracts_load_or_reply(ctx, "id", in->id, &c) < 0)
        return -1;
    if (c->status != CS_APPROVED)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contract %s is %s; only an approved contract is signed",
                              c->number, s_status(c->status));
    if (!contracts_docs_verified(c, DG_SIGNING, &missing))
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contract %s cannot be signed before its %s is verified",
                              c->number, s_doc_kind(missing));
    if (!c->approval_required && c->terms->value->units > cl->limit_contract_value)
        return rp_reply_error(ctx, RP_PERMISSION_DENIED,
                              "contract %s is worth %lld, above your signing limit of %lld",
                              c->number, (long long)c->terms->value->units, (long long)cl->limit_contract_value);
    if (contracts_sign(ctx, c) < 0)
        return -1;
    c->status = CS_SIGNED;
    if (contracts_emit(ctx, "contract.signed", c->id, &s_signed_event(ctx, c)->base) < 0)
        return -1;
    if (rp_date_days(c->terms->start) <= rp_ctx_today(ctx) && contracts_activate(ctx, c) < 0)
        return -1;
    return s_reply(ctx, c, NULL, out);
}

int contracts_verify_h(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const GetRequest *in = (const GetRequest *)in_;
    Contract *c;
    if (contracts_load_or_reply(ctx, "id", in->id, &c) < 0)
        return -1;
    if (!c->signature)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contract %s is %s: not signed",
                              c->number, s_status(c->status));
    Rapport__Contracts__V1__VerifyReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__contracts__v1__verify_reply__init(r);
    char *hash = rp_ctx_alloc(ctx, 65);
    const char *reason = "";
    r->valid = contracts_verify(ctx, c, hash, &reason);
    r->number = c->number;
    r->reason = (char *)reason;
    r->content_hash = hash;
    r->stored_hash = c->signature->content_hash;
    r->key_id = c->signature->key_id;
    r->signed_at = c->signature->signed_at;
    r->signed_by = c->signature->signed_by;
    *out = &r->base;
    return 0;
}

int contracts_terminate(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ActionRequest *in = (const ActionRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    Contract *c;
    if (rp_len_or_reply(ctx, "reason", in->reason, 1, CT_DESC_MAX) < 0)
        return -1;
    if (contracts_load_or_reply(ctx, "id", in->id, &c) < 0)
        return -1;
    if (c->status != CS_SIGNED && c->status != CS_ACTIVE)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contract %s is %s; only a signed or active contract "
                              "can be terminated", c->number, s_status(c->status));
    if (c->terms->value->units > cl->limit_contract_value && !rp_perm_allows(cl, "contracts.approve"))
        return rp_reply_error(ctx, RP_PERMISSION_DENIED,
                              "contract %s is worth %lld, above your limit of %lld: a head of department, "
                              "branch head or director terminates it", c->number,
                              (long long)c->terms->value->units, (long long)cl->limit_contract_value);
    c->status = CS_TERMINATED;
    c->terminate_reason = in->reason;
    c->closed_at = rp_ctx_now(ctx);
    return s_reply(ctx, c, "contract.terminated", out);
}

int contracts_renew(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const RenewRequest *in = (const RenewRequest *)in_;
    Contract *p, *c;
    int32_t d1 = 0, d2 = 0;
    if (!in->start)
        rp_reply_violation(ctx, "start", "is required");
    else
        rp_date_or_reply(ctx, "start", in->start, &d1);
    if (!in->end)
        rp_reply_violation(ctx, "end", "is required");
    else if (rp_date_or_reply(ctx, "end", in->end, &d2) == 0 && in->start && d2 < d1)
        rp_reply_violation(ctx, "end", "is before the start");
    if (rp_ctx_failed(ctx))
        return -1;
    if (contracts_load_or_reply(ctx, "id", in->id, &p) < 0)
        return -1;
    Contract *check;
    if (s_parent_or_reply(ctx, CK_RENEWAL, p->id, &check) < 0)
        return -1;
    if (!rp_str_empty(p->renewed_by_id))
        return rp_reply_exists(ctx, p->renewed_by_id, "contract %s is renewed already", p->number);
    ContractTerms *t = rp_ctx_alloc(ctx, sizeof *t);
    *t = *p->terms;
    t->start = in->start;
    t->end = in->end;
    if (in->value || in->n_schedule) {
        t->value = in->value;
        t->schedule = in->schedule;
        t->n_schedule = in->n_schedule;
        if (!in->value)
            return rp_reply_violation(ctx, "value", "is required with a schedule");
        if (!in->n_schedule)
            return rp_reply_violation(ctx, "schedule", "is required with a new value");
    } else {
        /* the parent's schedule, moved by as many days as the start moves */
        int32_t shift = d1 - (p->terms->start ? rp_date_days(p->terms->start) : d1);
        Instalment **s = rp_ctx_alloc(ctx, (p->terms->n_schedule + 1) * sizeof *s);
        for (size_t i = 0; i < p->terms->n_schedule; i++) {
            Instalment *x = rp_ctx_alloc(ctx, sizeof *x);
            *x = *p->terms->schedule[i];
            x->due = rp_ctx_date(ctx, rp_date_days(x->due) + shift);
            s[i] = x;
        }
        t->schedule = s;
    }
    ContractTerms *norm;
    if (contracts_terms_or_reply(ctx, "renewal", t, &norm) < 0)
        return -1;
    if (contracts_new_draft(ctx, p->owner, p->unit, p->branch, CK_RENEWAL, p, norm, NULL, NULL, &c) < 0)
        return -1;
    p->renewed_by_id = c->id;
    if (s_write(ctx, p, NULL) < 0 || contracts_emit(ctx, "contract.renewed", p->id, &c->base) < 0)
        return -1;
    *out = &c->base;
    return 0;
}

/* ---- documents ---- */

static Document *s_find_doc(Contract *c, int kind)
{
    for (size_t i = 0; i < c->n_documents; i++)
        if ((int)c->documents[i]->kind == kind)
            return c->documents[i];
    return NULL;
}

static int s_doc_event(rp_ctx_t *ctx, Contract *c, Document *d, const char *type)
{
    Rapport__Contracts__V1__DocumentEvent *e = rp_ctx_alloc(ctx, sizeof *e);
    rapport__contracts__v1__document_event__init(e);
    e->contract_id = c->id;
    e->number = c->number;
    e->document = d;
    return contracts_emit(ctx, type, c->id, &e->base);
}

static int s_doc_input_or_reply(rp_ctx_t *ctx, const DocumentRequest *in, Contract **c)
{
    if (in->kind == RAPPORT__CONTRACTS__V1__DOCUMENT_KIND__DOCUMENT_KIND_UNSPECIFIED)
        rp_reply_violation(ctx, "kind", "is required");
    rp_len_or_reply(ctx, "note", in->note, 0, CT_DESC_MAX);
    if (rp_ctx_failed(ctx) || contracts_load_or_reply(ctx, "contract_id", in->contract_id, c) < 0)
        return -1;
    int st = (*c)->status;
    if (st == CS_TERMINATED || st == CS_EXPIRED || st == CS_FULFILLED)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contract %s is %s", (*c)->number, s_status(st));
    return 0;
}

int contracts_receive_document(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const DocumentRequest *in = (const DocumentRequest *)in_;
    Contract *c;
    if (s_doc_input_or_reply(ctx, in, &c) < 0)
        return -1;
    Document *d = s_find_doc(c, in->kind);
    if (!d) {
        if (c->n_documents >= CT_MAX_DOCUMENTS)
            return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "a contract keeps at most %d documents",
                                  CT_MAX_DOCUMENTS);
        d = rp_ctx_alloc(ctx, sizeof *d);
        rapport__contracts__v1__document__init(d);
        d->kind = in->kind;
        d->required = false;
        c->documents = (Document **)rp_ctx_append(ctx, (void **)c->documents, c->n_documents, d);
        c->n_documents++;
    }
    if (d->status == DS_VERIFIED)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "the %s of contract %s is verified already",
                              s_doc_kind(d->kind), c->number);
    d->status = DS_RECEIVED;
    d->note = in->note;
    d->received_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    d->received_at = rp_ctx_now(ctx);
    if (s_doc_event(ctx, c, d, "document.received") < 0)
        return -1;
    return s_reply(ctx, c, NULL, out);
}

int contracts_verify_document(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const DocumentRequest *in = (const DocumentRequest *)in_;
    Contract *c;
    if (s_doc_input_or_reply(ctx, in, &c) < 0)
        return -1;
    Document *d = s_find_doc(c, in->kind);
    if (!d || d->status != DS_RECEIVED)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "the %s of contract %s is %s, not received",
                              s_doc_kind(in->kind), c->number, d ? "verified already" : "not on file");
    d->status = DS_VERIFIED;
    if (!rp_str_empty(in->note))
        d->note = in->note;
    d->verified_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    d->verified_at = rp_ctx_now(ctx);
    if (s_doc_event(ctx, c, d, "document.verified") < 0 || s_write(ctx, c, NULL) < 0
        || contracts_check_fulfilled(ctx, c) < 0)
        return -1;
    *out = &c->base;
    return 0;
}

/* ---- milestones ---- */

int contracts_add_milestone(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const MilestoneRequest *in = (const MilestoneRequest *)in_;
    Contract *c;
    int32_t days;
    if (!rp_str_empty(in->milestone_id))
        rp_reply_violation(ctx, "milestone_id", "assigned by the service");
    rp_len_or_reply(ctx, "description", in->description, 1, CT_DESC_MAX);
    if (in->due)
        rp_date_or_reply(ctx, "due", in->due, &days);
    if (rp_ctx_failed(ctx) || contracts_load_or_reply(ctx, "contract_id", in->contract_id, &c) < 0)
        return -1;
    if (c->status > CS_ACTIVE)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contract %s is %s", c->number, s_status(c->status));
    if (c->n_milestones >= CT_MAX_MILESTONES)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "a contract keeps at most %d milestones",
                              CT_MAX_MILESTONES);
    Milestone *m = rp_ctx_alloc(ctx, sizeof *m);
    rapport__contracts__v1__milestone__init(m);
    m->id = rp_ctx_new_id_str(ctx);
    m->description = in->description;
    m->due = in->due;
    c->milestones = (Milestone **)rp_ctx_append(ctx, (void **)c->milestones, c->n_milestones, m);
    c->n_milestones++;
    return s_reply(ctx, c, "contract.updated", out);
}

int contracts_complete_milestone(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const MilestoneRequest *in = (const MilestoneRequest *)in_;
    Contract *c;
    rp_ulid_t mid;
    if (rp_ulid_or_reply(ctx, "milestone_id", in->milestone_id, &mid) < 0)
        return -1;
    if (contracts_load_or_reply(ctx, "contract_id", in->contract_id, &c) < 0)
        return -1;
    if (c->status != CS_SIGNED && c->status != CS_ACTIVE)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contract %s is %s; milestones are met under a "
                              "signed or active contract", c->number, s_status(c->status));
    Milestone *m = NULL;
    for (size_t i = 0; i < c->n_milestones; i++)
        if (strcasecmp(c->milestones[i]->id, in->milestone_id) == 0)
            m = c->milestones[i];
    if (!m)
        return rp_reply_error(ctx, RP_NOT_FOUND, "milestone %s not found on contract %s", in->milestone_id, c->number);
    if (m->done_at)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "milestone %s is done already", m->id);
    m->done_at = rp_ctx_now(ctx);
    m->done_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    if (s_write(ctx, c, "contract.updated") < 0 || contracts_check_fulfilled(ctx, c) < 0)
        return -1;
    *out = &c->base;
    return 0;
}

/* ---- lists, key ---- */

int contracts_list(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    Rapport__Contracts__V1__ListContractsReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__contracts__v1__list_contracts_reply__init(r);
    char *next = NULL;
    if (contracts_list_page(ctx, CQ_CONTRACTS_BY_OWNER, (const ListRequest *)in_,
                            (ProtobufCMessage ***)&r->contracts, &r->n_contracts, &next) < 0)
        return -1;
    r->next_page_token = next ? next : "";
    *out = &r->base;
    return 0;
}

int contracts_signing_key(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    (void)in_;
    Rapport__Contracts__V1__SigningKeyReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__contracts__v1__signing_key_reply__init(r);
    r->public_key = (char *)contracts_public_hex();
    r->key_id = (char *)contracts_key_id();
    if (contracts_keyring_list(ctx, &r->keys, &r->n_keys) < 0)
        return -1;
    *out = &r->base;
    return 0;
}
