/* contracts_quotes.c - quotes (commercial offers) and their life cycle:
 *   CreateQuote makes a DRAFT (version 1); ReviseQuote (DRAFT or SENT) keeps the
 *   old terms in revisions, bumps the version, drops any discount approval and puts
 *   the quote back to DRAFT; ApproveQuote covers a discount above the owner's
 *   authority; SendQuote: DRAFT -> SENT (valid_until not past, discount within the
 *   sender's limit or approved); AcceptQuote / RejectQuote: SENT -> ACCEPTED /
 *   REJECTED; contracts_expire_quotes (timer) turns SENT quotes past valid_until
 *   into EXPIRED through ix_quote_exp.
 * Events: quote.created, quote.revised, quote.approved, quote.sent, quote.accepted,
 * quote.rejected, quote.expired, with the Quote as data.
 */
#include <string.h>
#include "contracts.h"
#include "rapport/log.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Contracts__V1__CreateQuoteRequest CreateQuoteRequest;
typedef Rapport__Contracts__V1__ReviseQuoteRequest ReviseQuoteRequest;
typedef Rapport__Contracts__V1__QuoteActionRequest QuoteActionRequest;
typedef Rapport__Contracts__V1__GetRequest GetRequest;
typedef Rapport__Contracts__V1__ListRequest ListRequest;

static const char *s_status(int s)
{
    return contracts_enum_name(&rapport__contracts__v1__quote_status__descriptor, s);
}

/* s_load_or_reply - a quote in the caller's scope (NOT_FOUND otherwise). */
static int s_load_or_reply(rp_ctx_t *ctx, const char *field, const char *id, Quote **out)
{
    rp_ulid_t u;
    if (rp_ulid_or_reply(ctx, field, id, &u) < 0)
        return -1;
    int rc = contracts_store_get(ctx, CE_QUOTE, &u, (ProtobufCMessage **)out);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "quote %s not found", id);
    if (rc != 0)
        return -1;
    return rp_scope_or_reply(ctx, "quote", (*out)->id, (*out)->owner, (*out)->unit);
}

static int s_finish(rp_ctx_t *ctx, Quote *q, const char *type, ProtobufCMessage **out)
{
    q->updated_at = rp_ctx_now(ctx);
    if (contracts_store_put(ctx, CE_QUOTE, &q->base) < 0 || contracts_emit(ctx, type, q->id, &q->base) < 0)
        return -1;
    *out = &q->base;
    return 0;
}

int contracts_create_quote(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const CreateQuoteRequest *in = (const CreateQuoteRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    rp_ulid_t u;
    if (rp_str_empty(in->client_id) && rp_str_empty(in->lead_id))
        rp_reply_violation(ctx, "client_id", "client_id or lead_id is required");
    if (!rp_str_empty(in->client_id))
        rp_ulid_or_reply(ctx, "client_id", in->client_id, &u);
    if (!rp_str_empty(in->lead_id))
        rp_ulid_or_reply(ctx, "lead_id", in->lead_id, &u);
    rp_len_or_reply(ctx, "client_name", in->client_name, 1, CT_NAME_MAX);
    contracts_quote_terms_or_reply(ctx, "terms", in->terms);
    if (rp_ctx_failed(ctx))
        return -1;
    Quote *q = rp_ctx_alloc(ctx, sizeof *q);
    rapport__contracts__v1__quote__init(q);
    if (contracts_quote_totals_or_reply(ctx, in->terms, &q->terms) < 0)
        return -1;
    q->id = rp_ctx_new_id_str(ctx);
    q->client_id = in->client_id;
    q->lead_id = in->lead_id;
    q->client_name = in->client_name;
    q->owner = rp_ctx_strdup(ctx, rp_principal(cl));
    q->branch = rp_ctx_strdup(ctx, cl->branch);
    q->unit = rp_ctx_strdup(ctx, cl->unit);
    q->version = 1;
    q->status = QS_DRAFT;
    q->created_by = rp_ctx_strdup(ctx, rp_actor(cl));
    q->created_at = rp_ctx_now(ctx);
    return s_finish(ctx, q, "quote.created", out);
}

int contracts_get_quote(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const GetRequest *in = (const GetRequest *)in_;
    Quote *q;
    if (s_load_or_reply(ctx, "id", in->id, &q) < 0)
        return -1;
    *out = &q->base;
    return 0;
}

int contracts_revise_quote(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ReviseQuoteRequest *in = (const ReviseQuoteRequest *)in_;
    Quote *q;
    if (contracts_quote_terms_or_reply(ctx, "terms", in->terms) < 0)
        return -1;
    if (s_load_or_reply(ctx, "id", in->id, &q) < 0)
        return -1;
    if (q->status != QS_DRAFT && q->status != QS_SENT)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "quote %s is %s; only drafts and sent quotes "
                              "can be revised", q->id, s_status(q->status));
    if (q->n_revisions >= CT_MAX_REVISIONS)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "a quote keeps at most %d revisions",
                              CT_MAX_REVISIONS);
    QuoteTerms *t;
    if (contracts_quote_totals_or_reply(ctx, in->terms, &t) < 0)
        return -1;
    QuoteRevision *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__contracts__v1__quote_revision__init(r);
    r->version = q->version;
    r->terms = q->terms;
    r->at = rp_ctx_now(ctx);
    r->by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    q->revisions = (QuoteRevision **)rp_ctx_append(ctx, (void **)q->revisions, q->n_revisions, r);
    q->n_revisions++;
    q->version++;
    q->terms = t;
    q->status = QS_DRAFT;
    q->sent_at = 0;
    q->approved_discount_bp = 0;
    q->approved_by = "";
    q->approved_at = 0;
    q->approval_comment = "";
    return s_finish(ctx, q, "quote.revised", out);
}

int contracts_approve_quote(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const QuoteActionRequest *in = (const QuoteActionRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    Quote *q;
    if (rp_len_or_reply(ctx, "comment", in->comment, 0, CT_NOTE_MAX) < 0)
        return -1;
    if (s_load_or_reply(ctx, "id", in->id, &q) < 0)
        return -1;
    if (q->status != QS_DRAFT)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "quote %s is %s; only drafts are approved",
                              q->id, s_status(q->status));
    if (strcmp(q->owner, rp_principal(cl)) == 0 || strcmp(q->owner, rp_actor(cl)) == 0)
        return rp_reply_error(ctx, RP_PERMISSION_DENIED, "nobody approves a discount on their own quote");
    if ((uint32_t)cl->limit_discount_bp < q->terms->max_discount_bp)
        return rp_reply_error(ctx, RP_PERMISSION_DENIED,
                              "a discount of %u bp is above your own limit of %d bp",
                              q->terms->max_discount_bp, cl->limit_discount_bp);
    q->approved_discount_bp = q->terms->max_discount_bp;
    q->approved_by = rp_ctx_strdup(ctx, rp_actor(cl));
    q->approved_at = rp_ctx_now(ctx);
    q->approval_comment = in->comment;
    return s_finish(ctx, q, "quote.approved", out);
}

int contracts_send_quote(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const QuoteActionRequest *in = (const QuoteActionRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    Quote *q;
    if (s_load_or_reply(ctx, "id", in->id, &q) < 0)
        return -1;
    if (q->status != QS_DRAFT)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "quote %s is %s; only drafts can be sent",
                              q->id, s_status(q->status));
    if (rp_date_days(q->terms->valid_until) < rp_ctx_today(ctx))
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "quote %s is valid until a past date", q->id);
    uint32_t d = q->terms->max_discount_bp;
    if (d > (uint32_t)cl->limit_discount_bp && d > q->approved_discount_bp)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION,
                              "a discount of %u bp is above your limit of %d bp: it needs ApproveQuote first",
                              d, cl->limit_discount_bp);
    q->status = QS_SENT;
    q->sent_at = rp_ctx_now(ctx);
    return s_finish(ctx, q, "quote.sent", out);
}

int contracts_accept_quote(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const QuoteActionRequest *in = (const QuoteActionRequest *)in_;
    Quote *q;
    if (s_load_or_reply(ctx, "id", in->id, &q) < 0)
        return -1;
    if (q->status != QS_SENT)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "quote %s is %s, not sent", q->id, s_status(q->status));
    if (rp_date_days(q->terms->valid_until) < rp_ctx_today(ctx))
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "quote %s expired on %04d-%02d-%02d", q->id,
                              q->terms->valid_until->year, q->terms->valid_until->month,
                              q->terms->valid_until->day);
    q->status = QS_ACCEPTED;
    q->decided_at = rp_ctx_now(ctx);
    return s_finish(ctx, q, "quote.accepted", out);
}

int contracts_reject_quote(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const QuoteActionRequest *in = (const QuoteActionRequest *)in_;
    Quote *q;
    if (rp_len_or_reply(ctx, "comment", in->comment, 0, CT_DESC_MAX) < 0)
        return -1;
    if (s_load_or_reply(ctx, "id", in->id, &q) < 0)
        return -1;
    if (q->status != QS_SENT)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "quote %s is %s, not sent", q->id, s_status(q->status));
    q->status = QS_REJECTED;
    q->reject_reason = in->comment;
    q->decided_at = rp_ctx_now(ctx);
    return s_finish(ctx, q, "quote.rejected", out);
}

typedef struct {
    rp_ctx_t *ctx;
    const rp_claims_t *claims;
    ProtobufCMessage **v;
    size_t n;
    const ProtobufCMessageDescriptor *desc;
} s_page_t;

/* s_keep - keep a visible row: an arena copy (pack and unpack into the arena). */
static int s_keep(void *arg, const ProtobufCMessage *m)
{
    s_page_t *p = arg;
    const char *owner, *unit;
    if (m->descriptor == &rapport__contracts__v1__quote__descriptor) {
        owner = ((const Quote *)m)->owner;
        unit = ((const Quote *)m)->unit;
    } else {
        owner = ((const Contract *)m)->owner;
        unit = ((const Contract *)m)->unit;
    }
    if (!rp_scope_sees(p->claims, owner, unit))
        return 0;
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = rp_ctx_alloc(p->ctx, len + 1);
    protobuf_c_message_pack(m, buf);
    ProtobufCMessage *c = protobuf_c_message_unpack(m->descriptor, rp_ctx_allocator(p->ctx), len, buf);
    if (!c)
        return 0;
    p->v[p->n++] = c;
    return 1;
}

/* contracts_list_page - a page of quotes or contracts by owner, scoped. */
int contracts_list_page(rp_ctx_t *ctx, contracts_query_kind_t kind, const ListRequest *in,
                        ProtobufCMessage ***rows, size_t *n, char **next)
{
    const char *owner = rp_str_empty(in->owner) ? rp_principal(rp_ctx_claims(ctx)) : in->owner;
    if (rp_len_or_reply(ctx, "owner", owner, 1, CT_USER_MAX) < 0)
        return -1;
    int limit = contracts_page_size(in->page_size);
    s_page_t p = { ctx, rp_ctx_claims(ctx), rp_ctx_alloc(ctx, (size_t)limit * sizeof(void *)), 0, NULL };
    int rc = contracts_store_query(ctx, kind, owner, NULL, rp_str_empty(in->page_token) ? NULL : in->page_token,
                                   (uint32_t)limit, s_keep, &p, next);
    if (rc == -1 || rp_page_or_reply(ctx, rc) < 0)
        return -1;
    *rows = p.v;
    *n = p.n;
    return 0;
}

int contracts_list_quotes(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    Rapport__Contracts__V1__ListQuotesReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__contracts__v1__list_quotes_reply__init(r);
    char *next = NULL;
    if (contracts_list_page(ctx, CQ_QUOTES_BY_OWNER, (const ListRequest *)in_,
                            (ProtobufCMessage ***)&r->quotes, &r->n_quotes, &next) < 0)
        return -1;
    r->next_page_token = next ? next : "";
    *out = &r->base;
    return 0;
}

int contracts_expire_quotes(rp_ctx_t *ctx)
{
    rp_ulid_t ids[CT_JOB_BATCH];
    int n = contracts_store_due(ctx, "ix_quote_exp", rp_ctx_today(ctx), ids, CT_JOB_BATCH);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        Quote *q;
        int rc = contracts_store_get(ctx, CE_QUOTE, &ids[i], (ProtobufCMessage **)&q);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc != 0)
            return -1;
        if (q->status != QS_SENT)
            continue;
        q->status = QS_EXPIRED;
        q->decided_at = rp_ctx_now(ctx);
        rp_ctx_set_event_branch(ctx, q->branch);   /* a job has no caller's branch */
        ProtobufCMessage *ignored;
        if (s_finish(ctx, q, "quote.expired", &ignored) < 0)
            return -1;
    }
    if (n > 0)
        rp_info("contracts: %d quote(s) expired", n);
    return 0;
}
