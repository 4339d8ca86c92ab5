/* test_contracts.c - rapport-contracts against real processes: quotes (totals,
 * discount authority, revisions, DraftFromQuote once), the authority limit and the
 * approval chain for each role (four eyes through delegation, one person one step
 * of a round), who may terminate, what signing needs, one number counter for
 * branches spelled "hq" and "HQ", the instalment-sum rule, scope, the bad-input
 * table, and the lead.won consumer exactly once (across kill -9 and a replay from
 * the start). Jobs, orders and renewals are in test_contracts_jobs.c; numbers under
 * kill -9, their migration, and signatures in test_contracts_integrity.c.
 */
#include "test_contracts.h"
#include "harness_leads.h"

/* ---- quotes ---- */

typedef struct {
    Rapport__Contracts__V1__QuoteTerms t;
    Rapport__Contracts__V1__QuoteLine l[3], *lp[3];
    Rapport__Contracts__V1__PaymentTerms pay;
    Rapport__V1__Money price[3];
    Rapport__V1__Date valid;
} tq_terms_t;

/* s_qterms - two lines: 3 pcs at 100.00 with disc_bp, 1 h at 50.00; valid 10 days. */
static void s_qterms(tq_terms_t *x, uint32_t disc_bp)
{
    memset(x, 0, sizeof *x);
    rapport__contracts__v1__quote_terms__init(&x->t);
    static const struct { const char *d; int kind; int64_t q; const char *unit; int64_t price; } L[2] = {
        { "Pump P-100", 1, 3, "pcs", 10000 }, { "Installation", 2, 1, "h", 5000 },
    };
    for (int i = 0; i < 2; i++) {
        rapport__contracts__v1__quote_line__init(&x->l[i]);
        rapport__v1__money__init(&x->price[i]);
        x->price[i].units = L[i].price;
        x->price[i].currency = "EUR";
        x->l[i].description = (char *)L[i].d;
        x->l[i].kind = L[i].kind;
        x->l[i].quantity = L[i].q;
        x->l[i].unit = (char *)L[i].unit;
        x->l[i].unit_price = &x->price[i];
        x->lp[i] = &x->l[i];
    }
    x->l[0].discount_bp = disc_bp;
    x->t.lines = x->lp;
    x->t.n_lines = 2;
    x->t.currency = "EUR";
    rapport__contracts__v1__payment_terms__init(&x->pay);
    x->pay.days = 30;
    x->pay.prepayment_bp = 3000;
    x->t.payment = &x->pay;
    x->t.delivery_terms = "DAP Berlin, 4 weeks";
    tc_set_date(&x->valid, tc_today() + 10);
    x->t.valid_until = &x->valid;
}

static int s_quote(int p, tq_terms_t *x, TQuote **out)
{
    Rapport__Contracts__V1__CreateQuoteRequest rq = RAPPORT__CONTRACTS__V1__CREATE_QUOTE_REQUEST__INIT;
    char lead[RP_ULID_STRLEN + 1];
    rp_ulid_new_str(tc_now(), lead);
    rq.lead_id = lead;
    rq.client_name = "Acme Pumps AG";
    rq.terms = &x->t;
    return tc_call(p, CM("CreateQuote"), &rq, &rapport__contracts__v1__quote__descriptor, out);
}

static int s_qact(int p, const char *method, const char *id, const char *comment, TQuote **out)
{
    Rapport__Contracts__V1__QuoteActionRequest rq = RAPPORT__CONTRACTS__V1__QUOTE_ACTION_REQUEST__INIT;
    rq.id = (char *)id;
    rq.comment = (char *)(comment ? comment : "");
    return tc_call(p, method, &rq, &rapport__contracts__v1__quote__descriptor, out);
}

static void test_quotes(void **state)
{
    (void)state;
    uint64_t seq0 = tc_last_seq();
    tq_terms_t x;
    s_qterms(&x, 1000);
    TQuote *q = NULL, *r = NULL;
    tc_expect(s_quote(P_ANNA, &x, &q), RP_OK);
    /* 3 x 100.00 = 300.00 less 10 % = 270.00; 1 x 50.00; total 320.00 */
    assert_int_equal(q->terms->lines[0]->line_total->units, 27000);
    assert_int_equal(q->terms->subtotal->units, 35000);
    assert_int_equal(q->terms->discount->units, 3000);
    assert_int_equal(q->terms->total->units, 32000);
    assert_int_equal(q->terms->max_discount_bp, 1000);
    assert_int_equal(q->status, QST(DRAFT));
    assert_int_equal(q->version, 1);
    assert_string_equal(q->owner, "u-anna");
    /* within anna's 10 %: she sends it herself */
    tc_expect(s_qact(P_ANNA, CM("SendQuote"), q->id, NULL, &r), RP_OK);
    assert_int_equal(r->status, QST(SENT));
    tc_free(r);
    /* a revision puts it back to draft, version 2, the old terms kept */
    Rapport__Contracts__V1__ReviseQuoteRequest rv = RAPPORT__CONTRACTS__V1__REVISE_QUOTE_REQUEST__INIT;
    s_qterms(&x, 2000);
    rv.id = q->id;
    rv.terms = &x.t;
    tc_expect(tc_call(P_ANNA, CM("ReviseQuote"), &rv, &rapport__contracts__v1__quote__descriptor, &r), RP_OK);
    assert_int_equal(r->version, 2);
    assert_int_equal(r->n_revisions, 1);
    assert_int_equal(r->revisions[0]->version, 1);
    assert_int_equal(r->revisions[0]->terms->total->units, 32000);
    assert_int_equal(r->status, QST(DRAFT));
    assert_int_equal(r->terms->total->units, 29000);
    tc_free(r);
    /* 20 % is above anna's limit: approval first; not by herself, not by a manager,
     * not by gerd (no contracts.approve) */
    tc_expect(s_qact(P_ANNA, CM("SendQuote"), q->id, NULL, NULL), RP_FAILED_PRECONDITION);
    tc_expect(s_qact(P_ANNA, CM("ApproveQuote"), q->id, "ok", NULL), RP_PERMISSION_DENIED);
    tc_expect(s_qact(P_GERD, CM("ApproveQuote"), q->id, "ok", NULL), RP_PERMISSION_DENIED);
    tc_expect(s_qact(P_HANNA, CM("ApproveQuote"), q->id, "strategic client", &r), RP_OK);
    assert_int_equal(r->approved_discount_bp, 2000);
    assert_string_equal(r->approved_by, "u-hanna");
    assert_string_equal(r->approval_comment, "strategic client");
    tc_free(r);
    tc_expect(s_qact(P_ANNA, CM("SendQuote"), q->id, NULL, NULL), RP_OK);
    tc_expect(s_qact(P_ANNA, CM("AcceptQuote"), q->id, NULL, &r), RP_OK);
    assert_int_equal(r->status, QST(ACCEPTED));
    tc_free(r);
    tc_expect(s_qact(P_ANNA, CM("RejectQuote"), q->id, "late", NULL), RP_FAILED_PRECONDITION);

    /* an accepted quote becomes a draft contract with one call, once */
    Rapport__Contracts__V1__DraftFromQuoteRequest dq = RAPPORT__CONTRACTS__V1__DRAFT_FROM_QUOTE_REQUEST__INIT;
    Rapport__V1__Date start, end;
    tc_set_date(&start, tc_today() + 5);
    tc_set_date(&end, tc_today() + 370);
    dq.quote_id = q->id;
    dq.type = CTYPE(SUPPLY);
    dq.start = &start;
    dq.end = &end;
    TContract *c = NULL;
    tc_expect(tc_call(P_ANNA, CM("DraftFromQuote"), &dq, &rapport__contracts__v1__contract__descriptor, &c), RP_OK);
    assert_int_equal(c->status, CST(DRAFT));
    assert_string_equal(c->quote_id, q->id);
    assert_int_equal(c->terms->value->units, 29000);
    /* 30 % prepayment at the start, the balance 30 days later: the sum is exact */
    assert_int_equal(c->terms->n_schedule, 2);
    assert_int_equal(c->terms->schedule[0]->amount->units, 8700);
    assert_int_equal(c->terms->schedule[1]->amount->units, 20300);
    assert_int_equal(c->terms->n_parties, 2);
    assert_true(c->n_documents >= 2);
    tc_expect(tc_call(P_ANNA, CM("DraftFromQuote"), &dq, &rapport__contracts__v1__contract__descriptor, NULL),
              RP_ALREADY_EXISTS);
    assert_string_equal(TC.st.existing_id, c->id);
    tc_free(c);

    /* 30 %: above hanna's 25 %; the director covers it; a rejected quote */
    TQuote *q2 = NULL;
    s_qterms(&x, 3000);
    tc_expect(s_quote(P_ANNA, &x, &q2), RP_OK);
    tc_expect(s_qact(P_HANNA, CM("ApproveQuote"), q2->id, "", NULL), RP_PERMISSION_DENIED);
    tc_expect(s_qact(P_DORA, CM("ApproveQuote"), q2->id, "", NULL), RP_OK);
    tc_expect(s_qact(P_ANNA, CM("SendQuote"), q2->id, NULL, NULL), RP_OK);
    tc_expect(s_qact(P_ANNA, CM("RejectQuote"), q2->id, "too expensive", &r), RP_OK);
    assert_int_equal(r->status, QST(REJECTED));
    assert_string_equal(r->reject_reason, "too expensive");
    tc_free(r);
    dq.quote_id = q2->id;
    tc_expect(tc_call(P_ANNA, CM("DraftFromQuote"), &dq, NULL, NULL), RP_FAILED_PRECONDITION);
    /* scope: carl (another department) does not see anna's quote */
    Rapport__Contracts__V1__GetRequest g = RAPPORT__CONTRACTS__V1__GET_REQUEST__INIT;
    g.id = q2->id;
    tc_expect(tc_call(P_CARL, CM("GetQuote"), &g, &rapport__contracts__v1__quote__descriptor, NULL), RP_NOT_FOUND);
    tc_expect(tc_call(P_HANNA, CM("GetQuote"), &g, &rapport__contracts__v1__quote__descriptor, NULL), RP_OK);

    assert_int_equal(tc_count(seq0, CEV("quote.created"), NULL), 2);
    assert_int_equal(tc_count(seq0, CEV("quote.sent"), NULL), 3);
    assert_int_equal(tc_count(seq0, CEV("quote.accepted"), q->id), 1);
    assert_int_equal(tc_count(seq0, CEV("quote.rejected"), q2->id), 1);
    assert_int_equal(tc_count(seq0, CEV("contract.drafted"), NULL), 1);
    tc_free(q);
    tc_free(q2);
}

/* ---- authority and the approval chain ---- */

#define MAX_STEPS 6
typedef struct {
    const char *name;
    int submitter;
    int64_t value;
    int want_after_submit;          /* APPROVED or PENDING_APPROVAL */
    size_t want_chain;
    struct { int who; const char *method; int want_code; int want_status; } steps[MAX_STEPS];
    int signer_refused;             /* -1: none */
    int signer;
    bool anna_drafts;               /* anna drafts, submitter submits (else submitter does both) */
} auth_row_t;

#define NOBODY (-1)
static const auth_row_t AUTH_ROWS[] = {
    { "within anna's own limit: no chain", P_ANNA, 900000, CST(APPROVED), 0,
      { { NOBODY, NULL, 0, 0 } }, -1, P_ANNA, false },
    { "exactly her limit is within it", P_ANNA, 1000000, CST(APPROVED), 0,
      { { NOBODY, NULL, 0, 0 } }, -1, P_ANNA, false },
    { "above her limit: the head of department", P_ANNA, 3000000, CST(PENDING_APPROVAL), 1,
      { { P_BORIS, "Approve", RP_PERMISSION_DENIED, 0 },
        { P_GERD, "Approve", RP_PERMISSION_DENIED, 0 },
        { P_DORA, "Approve", RP_PERMISSION_DENIED, 0 },
        { P_HANNA, "Approve", RP_OK, CST(APPROVED) },
        { NOBODY, NULL, 0, 0 } }, -1, P_ANNA, false },
    { "above the director threshold: head, then director", P_ANNA, 8000000, CST(PENDING_APPROVAL), 2,
      { { P_HANNA, "Approve", RP_OK, CST(PENDING_APPROVAL) },
        { P_HANNA, "Approve", RP_PERMISSION_DENIED, 0 },
        { P_BEA, "Approve", RP_PERMISSION_DENIED, 0 },
        { P_DORA, "Approve", RP_OK, CST(APPROVED) },
        { NOBODY, NULL, 0, 0 } }, -1, P_ANNA, false },
    { "a branch head is a head too", P_ANNA, 2000000, CST(PENDING_APPROVAL), 1,
      { { P_BEA, "Approve", RP_OK, CST(APPROVED) }, { NOBODY, NULL, 0, 0 } }, -1, P_ANNA, false },
    { "another department's head does not see it", P_CARL, 2000000, CST(PENDING_APPROVAL), 1,
      { { P_HANNA, "Approve", RP_NOT_FOUND, 0 },
        { P_BEA, "Approve", RP_OK, CST(APPROVED) }, { NOBODY, NULL, 0, 0 } }, -1, P_CARL, false },
    { "a rejection sends it back to draft; resubmitted it runs again", P_ANNA, 3000000,
      CST(PENDING_APPROVAL), 1,
      { { P_HANNA, "Reject", RP_OK, CST(DRAFT) },
        { P_ANNA, "Submit", RP_OK, CST(PENDING_APPROVAL) },
        { P_HANNA, "Approve", RP_OK, CST(APPROVED) }, { NOBODY, NULL, 0, 0 } }, -1, P_ANNA, false },
    { "nobody approves their own contract", P_HANNA, 6000000, CST(PENDING_APPROVAL), 2,
      { { P_HANNA, "Approve", RP_PERMISSION_DENIED, 0 },
        { P_BEA, "Approve", RP_OK, CST(PENDING_APPROVAL) },
        { P_DORA, "Approve", RP_OK, CST(APPROVED) }, { NOBODY, NULL, 0, 0 } }, -1, P_HANNA, false },
    { "the director within her own limit", P_DORA, 90000000, CST(APPROVED), 0,
      { { NOBODY, NULL, 0, 0 } }, P_BEA, P_DORA, false },
    { "a manager without authority needs the chain for any value", P_BORIS, 100, CST(PENDING_APPROVAL), 1,
      { { P_HANNA, "Approve", RP_OK, CST(APPROVED) }, { NOBODY, NULL, 0, 0 } }, -1, P_BORIS, false },
    /* four eyes through delegation: the submitter's actor and principal are both out */
    { "hanna submits anna's contract: her delegate dan decides nothing", P_HANNA, 6000000,
      CST(PENDING_APPROVAL), 2,
      { { P_DAN_HANNA, "Approve", RP_PERMISSION_DENIED, 0 },
        { P_DAN_HANNA, "Reject", RP_PERMISSION_DENIED, 0 },
        { P_BEA, "Approve", RP_OK, CST(PENDING_APPROVAL) },
        { P_DORA, "Approve", RP_OK, CST(APPROVED) }, { NOBODY, NULL, 0, 0 } }, -1, P_ANNA, true },
    { "dan submits as hanna's delegate: hanna decides nothing", P_DAN_HANNA, 6000000,
      CST(PENDING_APPROVAL), 2,
      { { P_HANNA, "Approve", RP_PERMISSION_DENIED, 0 },
        { P_HANNA, "Reject", RP_PERMISSION_DENIED, 0 },
        { P_DAN_HANNA, "Approve", RP_PERMISSION_DENIED, 0 },
        { P_BEA, "Approve", RP_OK, CST(PENDING_APPROVAL) },
        { P_DORA, "Approve", RP_OK, CST(APPROVED) }, { NOBODY, NULL, 0, 0 } }, -1, P_ANNA, true },
    { "a delegate of someone with no part in it approves", P_ANNA, 3000000, CST(PENDING_APPROVAL), 1,
      { { P_DAN_HANNA, "Approve", RP_OK, CST(APPROVED) }, { NOBODY, NULL, 0, 0 } }, -1, P_ANNA, false },
    /* one person, one step of a round: max is branch head and director */
    { "max decides the head step, then neither he nor his delegate the director's", P_ANNA, 8000000,
      CST(PENDING_APPROVAL), 2,
      { { P_MAX, "Approve", RP_OK, CST(PENDING_APPROVAL) },
        { P_MAX, "Approve", RP_PERMISSION_DENIED, 0 },
        { P_DAN_MAX, "Approve", RP_PERMISSION_DENIED, 0 },
        { P_MAX, "Reject", RP_PERMISSION_DENIED, 0 },
        { P_DORA, "Approve", RP_OK, CST(APPROVED) }, { NOBODY, NULL, 0, 0 } }, -1, P_ANNA, false },
    { "a new round: who decided before decides again", P_ANNA, 8000000, CST(PENDING_APPROVAL), 2,
      { { P_MAX, "Approve", RP_OK, CST(PENDING_APPROVAL) },
        { P_DORA, "Reject", RP_OK, CST(DRAFT) },
        { P_ANNA, "Submit", RP_OK, CST(PENDING_APPROVAL) },
        { P_MAX, "Approve", RP_OK, CST(PENDING_APPROVAL) },
        { P_DORA, "Approve", RP_OK, CST(APPROVED) }, { NOBODY, NULL, 0, 0 } }, -1, P_ANNA, false },
};

static void test_authority_chain(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof AUTH_ROWS / sizeof AUTH_ROWS[0]; i++) {
        const auth_row_t *row = &AUTH_ROWS[i];
        uint64_t seq0 = tc_last_seq();
        tc_terms_t x;
        tc_terms(&x, row->value, 1, tc_today(), 365);
        TContract *c = NULL, *d = NULL;
        tc_expect(tc_draft(row->anna_drafts ? P_ANNA : row->submitter, &x, &c), RP_OK);
        tc_expect(tc_act(row->submitter, CM("Submit"), c->id, NULL, &d), RP_OK);
        if ((int)d->status != row->want_after_submit || d->n_chain != row->want_chain)
            fail_msg("%s: after Submit status %d chain %zu", row->name, d->status, d->n_chain);
        assert_string_equal(d->submitted_by, TC_PEOPLE[row->submitter].sub);
        assert_string_equal(d->submitted_for, tc_principal(row->submitter));
        tc_free(d);
        int rounds = 1, further = 0;    /* further: approvals that left a step to go */
        for (int k = 0; k < MAX_STEPS && row->steps[k].method; k++) {
            const char *m = row->steps[k].method;
            char full[96];
            snprintf(full, sizeof full, "rapport.contracts.v1.Contracts/%s", m);
            int rc = tc_act(row->steps[k].who, full, c->id, strcmp(m, "Reject") == 0 ? "price too low" : "ok", &d);
            if (rc != row->steps[k].want_code)
                fail_msg("%s: step %d (%s by %s): want %s, got %s (%s)", row->name, k, m,
                         TC_PEOPLE[row->steps[k].who].sub, rp_code_name(row->steps[k].want_code),
                         rp_code_name(rc), TC.st.message);
            if (rc == RP_OK && (int)d->status != row->steps[k].want_status)
                fail_msg("%s: step %d: status %d", row->name, k, d->status);
            if (rc == RP_OK && strcmp(m, "Submit") == 0)
                rounds++;
            if (rc == RP_OK && strcmp(m, "Approve") == 0 && d->status == CST(PENDING_APPROVAL))
                further++;
            tc_free(d);
            d = NULL;
        }
        TContract *g = NULL;
        tc_expect(tc_get(P_DORA, c->id, &g), RP_OK);
        assert_int_equal(g->status, CST(APPROVED));
        assert_int_equal(g->round, rounds);
        /* every decision is kept with its comment */
        for (size_t k = 0; k < g->n_decisions; k++) {
            assert_true(strlen(g->decisions[k]->comment) > 0);
            assert_true(strlen(g->decisions[k]->by) > 0);
            assert_true(strlen(g->decisions[k]->by_principal) > 0);
        }
        tc_docs(row->anna_drafts ? P_ANNA : row->submitter, g, DSTAGE(SIGNING));
        if (row->signer_refused >= 0 && row->signer_refused < P_COUNT)
            tc_expect(tc_act(row->signer_refused, CM("Sign"), c->id, NULL, NULL), RP_PERMISSION_DENIED);
        TContract *s = NULL;
        int rc = tc_act(row->signer, CM("Sign"), c->id, NULL, &s);
        if (rc != RP_OK)
            fail_msg("%s: Sign by %s: %s (%s)", row->name, TC_PEOPLE[row->signer].sub, rp_code_name(rc),
                     TC.st.message);
        assert_true(s->status == CST(SIGNED) || s->status == CST(ACTIVE));
        assert_non_null(s->signature);
        assert_int_equal(tc_count(seq0, CEV("contract.signed"), c->id), 1);
        if (row->want_chain)
            assert_int_equal(tc_count(seq0, CEV("contract.approval_requested"), c->id),
                             (size_t)(rounds + further));
        tc_free(s);
        tc_free(g);
        tc_free(c);
    }
}

/* test_signing_needs - approval, verified documents; a signed contract is not edited. */
static void test_signing_needs(void **state)
{
    (void)state;
    tc_terms_t x;
    tc_terms(&x, 500000, 2, tc_today(), 365);
    TContract *c = NULL, *d = NULL;
    tc_expect(tc_draft(P_ANNA, &x, &c), RP_OK);
    assert_int_equal(c->status, CST(DRAFT));
    assert_true(strncmp(c->number, "HQ-", 3) == 0);
    /* the SUPPLY checklist: two documents before signing, two before fulfilment */
    assert_int_equal(c->n_documents, 4);
    tc_expect(tc_act(P_ANNA, CM("Sign"), c->id, NULL, NULL), RP_FAILED_PRECONDITION);
    tc_expect(tc_act(P_ANNA, CM("Submit"), c->id, NULL, &d), RP_OK);
    tc_free(d);
    tc_expect(tc_act(P_ANNA, CM("Submit"), c->id, NULL, NULL), RP_FAILED_PRECONDITION);
    /* not verified yet */
    tc_expect(tc_act(P_ANNA, CM("Sign"), c->id, NULL, NULL), RP_FAILED_PRECONDITION);
    assert_non_null(strstr(TC.st.message, "SPECIFICATION"));
    tc_expect(tc_doc(P_ANNA, CM("VerifyDocument"), c->id, DOC(SPECIFICATION)), RP_FAILED_PRECONDITION);
    tc_expect(tc_doc(P_ANNA, CM("ReceiveDocument"), c->id, DOC(SPECIFICATION)), RP_OK);
    tc_expect(tc_doc(P_ANNA, CM("VerifyDocument"), c->id, DOC(SPECIFICATION)), RP_OK);
    tc_expect(tc_act(P_ANNA, CM("Sign"), c->id, NULL, NULL), RP_FAILED_PRECONDITION);
    assert_non_null(strstr(TC.st.message, "POWER_OF_ATTORNEY"));
    tc_expect(tc_doc(P_ANNA, CM("ReceiveDocument"), c->id, DOC(POWER_OF_ATTORNEY)), RP_OK);
    tc_expect(tc_doc(P_ANNA, CM("VerifyDocument"), c->id, DOC(POWER_OF_ATTORNEY)), RP_OK);
    /* who and when */
    tc_expect(tc_get(P_ANNA, c->id, &d), RP_OK);
    for (size_t i = 0; i < d->n_documents; i++)
        if (d->documents[i]->kind == DOC(SPECIFICATION)) {
            assert_int_equal(d->documents[i]->status, DSTAT(VERIFIED));
            assert_string_equal(d->documents[i]->verified_by, "u-anna");
            assert_true(d->documents[i]->verified_at > 0 && d->documents[i]->received_at > 0);
        }
    tc_free(d);
    /* finance reads but does not sign */
    tc_expect(tc_act(P_FIN, CM("Sign"), c->id, NULL, NULL), RP_PERMISSION_DENIED);
    tc_expect(tc_act(P_ANNA, CM("Sign"), c->id, NULL, &d), RP_OK);
    assert_int_equal(d->status, CST(ACTIVE));      /* it starts today */
    assert_string_equal(d->signature->signed_by, "u-anna");
    assert_int_equal(strlen(d->signature->content_hash), 64);
    assert_int_equal(strlen(d->signature->signature), 128);
    tc_free(d);
    tc_expect(tc_act(P_ANNA, CM("Sign"), c->id, NULL, NULL), RP_FAILED_PRECONDITION);
    Rapport__Contracts__V1__UpdateDraftRequest up = RAPPORT__CONTRACTS__V1__UPDATE_DRAFT_REQUEST__INIT;
    up.id = c->id;
    up.terms = &x.t;
    tc_expect(tc_call(P_ANNA, CM("UpdateDraft"), &up, NULL, NULL), RP_FAILED_PRECONDITION);
    /* a change after signing is an amendment: a new contract with its own number */
    Rapport__Contracts__V1__DraftRequest am = RAPPORT__CONTRACTS__V1__DRAFT_REQUEST__INIT;
    tc_terms_t y;
    tc_terms(&y, 600000, 2, tc_today(), 365);
    am.terms = &y.t;
    am.kind = CKIND(AMENDMENT);
    tc_expect(tc_call(P_ANNA, CM("Draft"), &am, NULL, NULL), RP_INVALID_ARGUMENT);
    assert_true(tc_has_violation("parent_id"));
    am.parent_id = c->number;
    tc_expect(tc_call(P_ANNA, CM("Draft"), &am, &rapport__contracts__v1__contract__descriptor, &d), RP_OK);
    assert_int_equal(d->kind, CKIND(AMENDMENT));
    assert_string_equal(d->parent_id, c->id);
    assert_string_equal(d->parent_number, c->number);
    assert_string_not_equal(d->number, c->number);
    tc_free(d);
    /* Get by number */
    tc_expect(tc_get(P_ANNA, c->number, &d), RP_OK);
    assert_string_equal(d->id, c->id);
    tc_free(d);
    /* terminate needs a reason */
    tc_expect(tc_act(P_ANNA, CM("Terminate"), c->id, "", NULL), RP_INVALID_ARGUMENT);
    tc_expect(tc_act(P_ANNA, CM("Terminate"), c->id, "client insolvent", &d), RP_OK);
    assert_int_equal(d->status, CST(TERMINATED));
    assert_string_equal(d->terminate_reason, "client insolvent");
    tc_free(d);
    tc_expect(tc_act(P_ANNA, CM("Terminate"), c->id, "again", NULL), RP_FAILED_PRECONDITION);
    tc_free(c);
}

/* ---- who terminates: value within the caller's limit, or contracts.approve ---- */

typedef struct {
    const char *name;
    int64_t value;
    struct { int who; int want_code; } tries[4];    /* the last one ends it */
} term_row_t;

static const term_row_t TERM_ROWS[] = {
    { "within the manager's own limit", 500000, { { P_ANNA, RP_OK }, { NOBODY, 0 } } },
    { "above it: not the manager, nor a head of group above his; the head of department",
      3000000, { { P_ANNA, RP_PERMISSION_DENIED }, { P_GERD, RP_PERMISSION_DENIED },
                 { P_HANNA, RP_OK }, { NOBODY, 0 } } },
    { "a head of group within his own limit", 2000000,
      { { P_ANNA, RP_PERMISSION_DENIED }, { P_GERD, RP_OK }, { NOBODY, 0 } } },
    { "above the head of department's own limit: an approver still terminates", 6000000,
      { { P_ANNA, RP_PERMISSION_DENIED }, { P_HANNA, RP_OK }, { NOBODY, 0 } } },
    { "a director", 3000000, { { P_ANNA, RP_PERMISSION_DENIED }, { P_DORA, RP_OK }, { NOBODY, 0 } } },
};

static void test_terminate_authority(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof TERM_ROWS / sizeof TERM_ROWS[0]; i++) {
        const term_row_t *row = &TERM_ROWS[i];
        TContract *c = tc_signed(row->value, 0, 365, P_ANNA), *d = NULL;
        uint64_t seq0 = tc_last_seq();
        for (int k = 0; k < 4 && row->tries[k].who != NOBODY; k++) {
            int rc = tc_act(row->tries[k].who, CM("Terminate"), c->id, "client insolvent", &d);
            if (rc != row->tries[k].want_code)
                fail_msg("%s: Terminate by %s: want %s, got %s (%s)", row->name, TC_PEOPLE[row->tries[k].who].sub,
                         rp_code_name(row->tries[k].want_code), rp_code_name(rc), TC.st.message);
            tc_free(d);
            d = NULL;
            tc_expect(tc_get(P_DORA, c->id, &d), RP_OK);
            assert_int_equal(d->status, rc == RP_OK ? CST(TERMINATED) : CST(ACTIVE));
            assert_int_equal(tc_count(seq0, CEV("contract.terminated"), c->id), rc == RP_OK ? 1 : 0);
            tc_free(d);
            d = NULL;
        }
        tc_free(c);
    }
}

/* ---- numbers: one counter per branch code ---- */

/* test_numbers_branch_case - tokens spelling the branch "hq" and "HQ" draw from one
 * counter: consecutive, distinct numbers, and Get by number finds each. */
static void test_numbers_branch_case(void **state)
{
    (void)state;
    static const int drafters[] = { P_ANNA, P_ANNA_HQ, P_ANNA, P_ANNA_HQ };
    enum { N = sizeof drafters / sizeof drafters[0] };
    TContract *c[N] = { NULL };
    int y, m, d;
    rp_days_to_date(tc_today(), &y, &m, &d);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "HQ-%04d-", y);
    for (int i = 0; i < N; i++) {
        tc_terms_t x;
        tc_terms(&x, 500000, 1, tc_today(), 365);
        tc_expect(tc_draft(drafters[i], &x, &c[i]), RP_OK);
        assert_true(strncmp(c[i]->number, prefix, strlen(prefix)) == 0);
        if (i > 0 && c[i]->seq != c[0]->seq + (uint64_t)i)
            fail_msg("draft %d (branch %s): seq %llu, want %llu (%s after %s)", i,
                     TC_PEOPLE[drafters[i]].branch ? TC_PEOPLE[drafters[i]].branch : "hq",
                     (unsigned long long)c[i]->seq, (unsigned long long)(c[0]->seq + (uint64_t)i),
                     c[i]->number, c[0]->number);
    }
    for (int i = 0; i < N; i++) {
        TContract *g = NULL;
        tc_expect(tc_get(P_DORA, c[i]->number, &g), RP_OK);
        assert_string_equal(g->id, c[i]->id);
        tc_free(g);
    }
    for (int i = 0; i < N; i++)
        tc_free(c[i]);
}

/* ---- the instalment-sum rule ---- */

static void test_instalment_sum(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t value;
        int n;
        int64_t amounts[4];
        const char *currency;       /* of the last instalment; NULL = EUR */
        int want_code;
        const char *want_field;
    } rows[] = {
        { "exact, one", 100000, 1, { 100000 }, NULL, RP_OK, NULL },
        { "exact, three", 100000, 3, { 33333, 33333, 33334 }, NULL, RP_OK, NULL },
        { "one cent short", 100000, 3, { 33333, 33333, 33333 }, NULL, RP_INVALID_ARGUMENT, "terms.schedule" },
        { "one cent over", 100000, 2, { 50000, 50001 }, NULL, RP_INVALID_ARGUMENT, "terms.schedule" },
        { "a zero instalment", 100000, 2, { 100000, 0 }, NULL, RP_INVALID_ARGUMENT, "terms.schedule[1].amount" },
        { "a negative instalment", 100000, 2, { 110000, -10000 }, NULL, RP_INVALID_ARGUMENT,
          "terms.schedule[1].amount" },
        { "another currency", 100000, 2, { 50000, 50000 }, "USD", RP_INVALID_ARGUMENT, "terms.schedule[1].amount" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        tc_terms_t x;
        tc_terms(&x, rows[i].value, rows[i].n, tc_today(), 365);
        for (int k = 0; k < rows[i].n; k++)
            x.amt[k].units = rows[i].amounts[k];
        if (rows[i].currency)
            x.amt[rows[i].n - 1].currency = (char *)rows[i].currency;
        uint64_t seq0 = tc_last_seq();
        TContract *c = NULL;
        int rc = tc_draft(P_ANNA, &x, &c);
        if (rc != rows[i].want_code || (rows[i].want_field && !tc_has_violation(rows[i].want_field)))
            fail_msg("%s: got %s (%s)", rows[i].name, rp_code_name(rc), TC.st.message);
        if (rc != RP_OK) {
            assert_int_equal(tc_last_seq(), seq0);
        } else {
            /* the same rule on UpdateDraft */
            Rapport__Contracts__V1__UpdateDraftRequest up = RAPPORT__CONTRACTS__V1__UPDATE_DRAFT_REQUEST__INIT;
            up.id = c->id;
            x.amt[0].units += 1;
            up.terms = &x.t;
            tc_expect(tc_call(P_ANNA, CM("UpdateDraft"), &up, NULL, NULL), RP_INVALID_ARGUMENT);
            assert_true(tc_has_violation("terms.schedule"));
        }
        tc_free(c);
    }
    /* a draft without a schedule cannot be submitted */
    tc_terms_t x;
    tc_terms(&x, 100000, 1, tc_today(), 365);
    x.t.n_schedule = 0;
    TContract *c = NULL;
    tc_expect(tc_draft(P_ANNA, &x, &c), RP_OK);
    tc_expect(tc_act(P_ANNA, CM("Submit"), c->id, NULL, NULL), RP_FAILED_PRECONDITION);
    assert_non_null(strstr(TC.st.message, "schedule"));
    tc_free(c);
}

/* ---- bad input ---- */

typedef void (*mutate_fn)(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq);
static void m_no_terms(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq) { (void)x; rq->terms = NULL; }
static void m_no_client(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq) { (void)rq; x->t.client_name = ""; }
static void m_no_value(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq) { (void)rq; x->t.value = NULL; }
static void m_zero_value(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq) { (void)rq; x->value.units = 0; }
static void m_huge_value(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq)
{ (void)rq; x->value.units = INT64_C(10000000000001); x->amt[0].units = x->value.units; }
static void m_bad_currency(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq) { (void)rq; x->value.currency = "XXQ"; }
static void m_end_before(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq)
{ (void)rq; tc_set_date(&x->end, tc_today() - 10); }
static void m_bad_date(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq)
{ (void)rq; x->start.month = 2; x->start.day = 30; }
static void m_bad_due(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq) { (void)rq; x->due[0].month = 13; }
static void m_four_parties(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq)
{
    (void)rq;
    static Rapport__Contracts__V1__Party extra[2], *all[4];
    for (int i = 0; i < 2; i++) {
        rapport__contracts__v1__party__init(&extra[i]);
        extra[i].role = PROLE(THIRD_PARTY);
        extra[i].name = "Agent";
    }
    all[0] = x->pp[0]; all[1] = x->pp[1]; all[2] = &extra[0]; all[3] = &extra[1];
    x->t.parties = all;
    x->t.n_parties = 4;
}
static void m_party_no_role(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq) { (void)rq; x->pa[1].role = 0; }
static void m_party_no_name(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq) { (void)rq; x->pa[0].name = ""; }
static void m_bad_client_id(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq) { (void)rq; x->t.client_id = "not-a-ulid"; }
static void m_long_terms(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq)
{
    (void)rq;
    static char big[4002];
    memset(big, 'a', 4001);
    big[4001] = '\0';
    x->t.special_terms = big;
}
static void m_bad_prepay(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq)
{
    (void)rq;
    static Rapport__Contracts__V1__PaymentTerms p;
    rapport__contracts__v1__payment_terms__init(&p);
    p.prepayment_bp = 10001;
    x->t.payment = &p;
}
static void m_bad_type(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq) { (void)rq; x->t.type = 99; }
static void m_initial_with_parent(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq)
{ (void)x; rq->parent_id = "01J00000000000000000000000"; }
static void m_renewal_of_nothing(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq)
{ (void)x; rq->kind = CKIND(RENEWAL); rq->parent_id = "01J00000000000000000000000"; }
static void m_renewal_bad_parent(tc_terms_t *x, Rapport__Contracts__V1__DraftRequest *rq)
{ (void)x; rq->kind = CKIND(RENEWAL); rq->parent_id = "HQ-1999-000001"; }

static void test_bad_input(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        mutate_fn mutate;
        int want_code;
        const char *want_field;
    } rows[] = {
        { "no terms", m_no_terms, RP_INVALID_ARGUMENT, "terms" },
        { "no client name", m_no_client, RP_INVALID_ARGUMENT, "terms.client_name" },
        { "no value", m_no_value, RP_INVALID_ARGUMENT, "terms.value" },
        { "zero value", m_zero_value, RP_INVALID_ARGUMENT, "terms.value" },
        { "value above 10^13", m_huge_value, RP_INVALID_ARGUMENT, "terms.value" },
        { "unknown currency", m_bad_currency, RP_INVALID_ARGUMENT, "terms.value" },
        { "end before start", m_end_before, RP_INVALID_ARGUMENT, "terms.end" },
        { "30 February", m_bad_date, RP_INVALID_ARGUMENT, "terms.start" },
        { "month 13 in the schedule", m_bad_due, RP_INVALID_ARGUMENT, "terms.schedule[0].due" },
        { "four parties", m_four_parties, RP_INVALID_ARGUMENT, "terms.parties" },
        { "a party without a role", m_party_no_role, RP_INVALID_ARGUMENT, "terms.parties[1].role" },
        { "a party without a name", m_party_no_name, RP_INVALID_ARGUMENT, "terms.parties[0].name" },
        { "client id not a ULID", m_bad_client_id, RP_INVALID_ARGUMENT, "terms.client_id" },
        { "special terms over 4000 bytes", m_long_terms, RP_INVALID_ARGUMENT, "terms.special_terms" },
        { "prepayment over 100 %", m_bad_prepay, RP_INVALID_ARGUMENT, "terms.payment.prepayment_bp" },
        { "unknown contract type", m_bad_type, RP_INVALID_ARGUMENT, NULL },
        { "an initial contract with a parent", m_initial_with_parent, RP_INVALID_ARGUMENT, "parent_id" },
        { "a renewal of nothing", m_renewal_of_nothing, RP_NOT_FOUND, NULL },
        { "a renewal of an unknown number", m_renewal_bad_parent, RP_NOT_FOUND, NULL },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        tc_terms_t x;
        tc_terms(&x, 100000, 1, tc_today(), 365);
        Rapport__Contracts__V1__DraftRequest rq = RAPPORT__CONTRACTS__V1__DRAFT_REQUEST__INIT;
        rq.terms = &x.t;
        rows[i].mutate(&x, &rq);
        uint64_t seq0 = tc_last_seq();
        int rc = tc_call(P_ANNA, CM("Draft"), &rq, NULL, NULL);
        if (rc != rows[i].want_code)
            fail_msg("%s: want %s, got %s (%s)", rows[i].name, rp_code_name(rows[i].want_code),
                     rp_code_name(rc), TC.st.message);
        if (rows[i].want_field && !tc_has_violation(rows[i].want_field))
            fail_msg("%s: want a violation on %s (%s; first %s)", rows[i].name, rows[i].want_field,
                     TC.st.message, TC.st.n_violations ? TC.st.violations[0].field : "none");
        assert_int_equal(tc_last_seq(), seq0);
    }
    /* quotes */
    static const struct {
        const char *name;
        int what;
        const char *want_field;
    } qrows[] = {
        { "no lines", 1, "terms.lines" },
        { "discount over 100 %", 2, "terms.lines[0].discount_bp" },
        { "quantity 0", 3, "terms.lines[1].quantity" },
        { "a line in another currency", 4, "terms.lines[1].unit_price" },
        { "no valid_until", 5, "terms.valid_until" },
        { "unknown currency", 6, "terms.currency" },
        { "no unit", 7, "terms.lines[0].unit" },
        { "no kind", 8, "terms.lines[0].kind" },
    };
    for (size_t i = 0; i < sizeof qrows / sizeof qrows[0]; i++) {
        tq_terms_t x;
        s_qterms(&x, 0);
        switch (qrows[i].what) {
        case 1: x.t.n_lines = 0; break;
        case 2: x.l[0].discount_bp = 10001; break;
        case 3: x.l[1].quantity = 0; break;
        case 4: x.price[1].currency = "USD"; break;
        case 5: x.t.valid_until = NULL; break;
        case 6: x.t.currency = "EURO"; break;
        case 7: x.l[0].unit = ""; break;
        case 8: x.l[0].kind = 0; break;
        }
        uint64_t seq0 = tc_last_seq();
        int rc = s_quote(P_ANNA, &x, NULL);
        if (rc != RP_INVALID_ARGUMENT || !tc_has_violation(qrows[i].want_field))
            fail_msg("quote %s: got %s (%s)", qrows[i].name, rp_code_name(rc), TC.st.message);
        assert_int_equal(tc_last_seq(), seq0);
    }
    /* ids */
    static const char *const bad_ids[] = { "", "not-an-id", "01J00000000000000000000000", "HQ-2020-999999" };
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        int rc = tc_get(P_ANNA, bad_ids[i], NULL);
        assert_true(rc == RP_INVALID_ARGUMENT || rc == RP_NOT_FOUND);
        rc = tc_act(P_ANNA, CM("Submit"), bad_ids[i], NULL, NULL);
        assert_true(rc == RP_INVALID_ARGUMENT || rc == RP_NOT_FOUND);
    }
}

/* ---- scope ---- */

static void test_scope(void **state)
{
    (void)state;
    tc_terms_t x;
    tc_terms(&x, 100000, 1, tc_today(), 365);
    TContract *c = NULL;
    tc_expect(tc_draft(P_ANNA, &x, &c), RP_OK);
    static const struct { int who; int want; } rows[] = {
        { P_ANNA, RP_OK }, { P_BORIS, RP_NOT_FOUND }, { P_CARL, RP_NOT_FOUND }, { P_GERD, RP_OK },
        { P_HANNA, RP_OK }, { P_BEA, RP_OK }, { P_DORA, RP_OK }, { P_FIN, RP_OK }, { P_INTEG, RP_PERMISSION_DENIED },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int rc = tc_get(rows[i].who, c->id, NULL);
        if (rc != rows[i].want)
            fail_msg("Get as %s: want %s, got %s", TC_PEOPLE[rows[i].who].sub, rp_code_name(rows[i].want),
                     rp_code_name(rc));
        rc = tc_get(rows[i].who, c->number, NULL);
        if (rc != rows[i].want)
            fail_msg("Get by number as %s: want %s, got %s", TC_PEOPLE[rows[i].who].sub,
                     rp_code_name(rows[i].want), rp_code_name(rc));
    }
    /* lists skip what the caller does not see */
    Rapport__Contracts__V1__ListRequest lr = RAPPORT__CONTRACTS__V1__LIST_REQUEST__INIT;
    lr.owner = "u-anna";
    Rapport__Contracts__V1__ListContractsReply *r = NULL;
    tc_expect(tc_call(P_CARL, CM("ListContracts"), &lr, &rapport__contracts__v1__list_contracts_reply__descriptor, &r),
              RP_OK);
    assert_int_equal(r->n_contracts, 0);
    tc_free(r);
    tc_expect(tc_call(P_HANNA, CM("ListContracts"), &lr, &rapport__contracts__v1__list_contracts_reply__descriptor, &r),
              RP_OK);
    assert_true(r->n_contracts >= 1);
    tc_free(r);
    tc_free(c);
}

/* ---- lead.won ---- */

/* s_win_lead - a lead of anna's worth 12,345.00 EUR, won; with an accepted offer of
 * that total when with_offer. Returns the lead id (malloc'd). */
static char *s_win_lead(bool with_offer)
{
    char name[64];
    snprintf(name, sizeof name, "Won Co %u-%d", ++TC.seq, (int)getpid());
    return rp_it_win_lead(TC.suite, TC.leads, name, 1234500, with_offer);
}

/* s_contracts_of_lead - how many of anna's contracts came from lead_id; *number set
 * to the first one's number (may be NULL). */
static size_t s_contracts_of_lead(const char *lead_id, char *number, size_t cap)
{
    size_t n = 0;
    char token[512] = "";
    for (int pages = 0; pages < 100; pages++) {
        Rapport__Contracts__V1__ListRequest lr = RAPPORT__CONTRACTS__V1__LIST_REQUEST__INIT;
        lr.owner = "u-anna";
        lr.page_size = 500;
        lr.page_token = token;
        Rapport__Contracts__V1__ListContractsReply *r = NULL;
        tc_expect(tc_call(P_DORA, CM("ListContracts"), &lr, &rapport__contracts__v1__list_contracts_reply__descriptor,
                          &r), RP_OK);
        for (size_t i = 0; i < r->n_contracts; i++)
            if (strcmp(r->contracts[i]->lead_id, lead_id) == 0) {
                if (n++ == 0 && number) {
                    rp_strlcpy(number, r->contracts[i]->number, cap);
                    assert_int_equal(r->contracts[i]->status, CST(DRAFT));
                    assert_string_equal(r->contracts[i]->owner, "u-anna");
                    assert_string_equal(r->contracts[i]->unit, "/hq/sales/d1/g1");
                    assert_int_equal(r->contracts[i]->terms->value->units, 1234500);
                    assert_int_equal(r->contracts[i]->terms->n_schedule, 1);
                }
            }
        bool more = r->next_page_token && *r->next_page_token;
        if (more)
            rp_strlcpy(token, r->next_page_token, sizeof token);
        tc_free(r);
        if (!more)
            break;
    }
    return n;
}

static size_t s_wait_lead(const char *lead_id, char *number, size_t cap)
{
    for (int i = 0; i < 300; i++) {
        size_t n = s_contracts_of_lead(lead_id, number, cap);
        if (n > 0)
            return n;
        usleep(50 * 1000);
    }
    return 0;
}

static void test_lead_won_once(void **state)
{
    (void)state;
    char *plain = s_win_lead(false);
    char *won = s_win_lead(true);
    char number[64] = "";
    assert_int_equal(s_wait_lead(won, number, sizeof number), 1);
    /* events come in order: the plain lead's win was applied before, and made nothing */
    assert_int_equal(s_contracts_of_lead(plain, NULL, 0), 0);
    TContract *c = NULL;
    tc_expect(tc_get(P_ANNA, number, &c), RP_OK);
    assert_int_equal(tc_count(0, CEV("contract.drafted"), c->id), 1);

    /* kill -9 and restart: still one */
    tc_restart(SIGKILL);
    char *won2 = s_win_lead(true);
    assert_int_equal(s_wait_lead(won2, NULL, 0), 1);
    assert_int_equal(s_contracts_of_lead(won, NULL, 0), 1);

    /* replay every lead.won from the start: nothing new */
    rp_suite_kill(TC.suite, "contracts", SIGTERM);
    rp_suite_wipe_offsets(TC.suite, "contracts");
    rp_suite_start_following(TC.suite, "contracts", "leads", TC_ENV);
    tc_clients();
    char *won3 = s_win_lead(true);          /* after the replayed ones */
    assert_int_equal(s_wait_lead(won3, NULL, 0), 1);
    assert_int_equal(s_contracts_of_lead(won, NULL, 0), 1);
    assert_int_equal(s_contracts_of_lead(won2, NULL, 0), 1);
    assert_int_equal(s_contracts_of_lead(plain, NULL, 0), 0);
    assert_int_equal(tc_count(0, CEV("contract.drafted"), c->id), 1);
    tc_free(c);
    free(plain);
    free(won);
    free(won2);
    free(won3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_authority_chain),
        cmocka_unit_test(test_signing_needs),
        cmocka_unit_test(test_terminate_authority),
        cmocka_unit_test(test_numbers_branch_case),
        cmocka_unit_test(test_instalment_sum),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_lead_won_once),
    };
    return cmocka_run_group_tests(tests, tc_setup, tc_teardown);
}
