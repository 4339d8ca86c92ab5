/* test_leads_offers.c - rapport-leads offers (totals in integer minor units,
 * transitions, expiry with the test clock), objections and competitors, against a
 * real process.
 */
#include "test_leads.h"

/* ---- totals ---- */

typedef struct {
    const char *name;
    tl_line_t lines[5];
    uint32_t discount_bp;
    int want_code;
    const char *want_field;
    int64_t want_subtotal, want_discount, want_total;
} total_row_t;

static const total_row_t TOTAL_ROWS[] = {
    { "one_line", { { "Licence", 1, 100000, NULL }, { 0 } }, 0, RP_OK, NULL, 100000, 0, 100000 },
    { "lines_and_discount_rounded", { { "Seat", 3, 1999, NULL }, { "Setup", 1, 50000, NULL }, { 0 } }, 1000,
      RP_OK, NULL, 55997, 5600, 50397 },
    { "half_cent_rounds_away_from_zero", { { "Item", 1, 5, NULL }, { 0 } }, 5000, RP_OK, NULL, 5, 3, 2 },
    { "full_discount", { { "Gift", 2, 2500, NULL }, { 0 } }, 10000, RP_OK, NULL, 5000, 5000, 0 },
    { "free_line", { { "Free", 10, 0, NULL }, { "Paid", 1, 1, NULL }, { 0 } }, 0, RP_OK, NULL, 1, 0, 1 },
    { "yen_no_minor_units", { { "Unit", 7, 1200, "JPY" }, { 0 } }, 250, RP_OK, NULL, 8400, 210, 8190 },
    { "overflow", { { "Huge", 1000000000, 9223372036854775LL, NULL }, { 0 } }, 0, RP_FAILED_PRECONDITION,
      NULL, 0, 0, 0 },
    { "sum_overflow", { { "A", 1, 5000000000000000000LL, NULL }, { "B", 1, 5000000000000000000LL, NULL },
      { 0 } }, 0, RP_FAILED_PRECONDITION, NULL, 0, 0, 0 },
    { "mixed_currencies", { { "A", 1, 100, "EUR" }, { "B", 1, 100, "USD" }, { 0 } }, 0, RP_INVALID_ARGUMENT,
      "lines[1].unit_price", 0, 0, 0 },
    { "no_lines", { { 0 } }, 0, RP_INVALID_ARGUMENT, "lines", 0, 0, 0 },
    { "zero_quantity", { { "A", 0, 100, NULL }, { 0 } }, 0, RP_INVALID_ARGUMENT, "lines[0].quantity", 0, 0, 0 },
    { "negative_price", { { "A", 1, -100, NULL }, { 0 } }, 0, RP_INVALID_ARGUMENT, "lines[0].unit_price.units",
      0, 0, 0 },
    { "no_description", { { "", 1, 100, NULL }, { 0 } }, 0, RP_INVALID_ARGUMENT, "lines[0].description", 0, 0, 0 },
    { "discount_over_100_percent", { { "A", 1, 100, NULL }, { 0 } }, 10001, RP_INVALID_ARGUMENT, "discount_bp",
      0, 0, 0 },
};

static void test_offer_totals(void **state)
{
    (void)state;
    TLead *l = tl_new_lead(P_ANNA);
    for (size_t i = 0; i < sizeof TOTAL_ROWS / sizeof TOTAL_ROWS[0]; i++) {
        const total_row_t *row = &TOTAL_ROWS[i];
        uint64_t seq0 = tl_last_seq();
        TOffer *o = NULL;
        int rc = tl_add_offer(P_ANNA, l->id, row->lines, row->discount_bp, 30, &o);
        if (rc != row->want_code)
            fail_msg("%s: want %s, got %s (%s)", row->name, rp_code_name(row->want_code),
                     rp_code_name(rc), TL.st.message);
        if (row->want_field && !tl_has_violation(row->want_field))
            fail_msg("%s: want a violation on %s (%s)", row->name, row->want_field, TL.st.message);
        if (rc == RP_OK) {
            if (o->subtotal->units != row->want_subtotal || o->discount->units != row->want_discount
                || o->total->units != row->want_total)
                fail_msg("%s: want %lld - %lld = %lld, got %lld - %lld = %lld", row->name,
                         (long long)row->want_subtotal, (long long)row->want_discount,
                         (long long)row->want_total, (long long)o->subtotal->units,
                         (long long)o->discount->units, (long long)o->total->units);
            assert_string_equal(o->total->currency, row->lines[0].cur ? row->lines[0].cur : "EUR");
            assert_int_equal(o->status, OFS(DRAFT));
            assert_string_equal(o->lead_id, l->id);
            for (size_t k = 0; k < o->n_lines; k++)
                assert_int_equal(o->lines[k]->line_total->units,
                                 o->lines[k]->quantity * o->lines[k]->unit_price->units);
            assert_int_equal(tl_count_events(seq0, "offer.created", l->id), 1);
        } else {
            assert_int_equal(tl_last_seq(), seq0);
        }
        tl_free(o);
    }
    tl_free(l);
}

/* ---- transitions ---- */

static void test_offer_transitions(void **state)
{
    (void)state;
    TLead *l = tl_new_lead(P_ANNA);
    static const tl_line_t lines[] = { { "Licence", 2, 50000, NULL }, { 0 } };
    TOffer *o = NULL, *r = NULL;
    tl_expect(tl_add_offer(P_ANNA, l->id, lines, 0, 30, &o), RP_OK);

    /* a draft cannot be accepted or rejected */
    tl_expect(tl_offer_action(P_ANNA, LM("AcceptOffer"), l->id, o->id, NULL, NULL), RP_FAILED_PRECONDITION);
    tl_expect(tl_offer_action(P_ANNA, LM("RejectOffer"), l->id, o->id, NULL, NULL), RP_FAILED_PRECONDITION);
    /* a draft can be edited */
    Rapport__Leads__V1__OfferRequest up = RAPPORT__LEADS__V1__OFFER_REQUEST__INIT;
    Rapport__Leads__V1__OfferLine ol[4], *olp[4];
    Rapport__V1__Money money[4];
    Rapport__V1__Date valid = tl_date(tl_now(), 20);
    static const tl_line_t lines2[] = { { "Licence", 3, 50000, NULL }, { 0 } };
    tl_offer_rq(&up, lines2, ol, olp, money, &valid);
    up.lead_id = l->id;
    up.offer_id = o->id;
    up.discount_bp = 500;
    tl_expect(tl_call(P_ANNA, LM("UpdateOffer"), &up, &rapport__leads__v1__offer__descriptor, &r), RP_OK);
    assert_int_equal(r->total->units, 142500);
    assert_int_equal(r->valid_until->day, valid.day);
    tl_free(r);

    /* send: the lead moves to OFFER */
    uint64_t seq0 = tl_last_seq();
    tl_expect(tl_offer_action(P_ANNA, LM("SendOffer"), l->id, o->id, NULL, &r), RP_OK);
    assert_int_equal(r->status, OFS(SENT));
    assert_true(r->sent_at > 0);
    tl_free(r);
    assert_int_equal(tl_count_events(seq0, "offer.sent", l->id), 1);
    assert_int_equal(tl_count_events(seq0, "lead.stage_changed", l->id), 1);
    tl_want_previous(seq0, l->id, NULL, ST(NEW));
    TLead *g = NULL;
    tl_expect(tl_get(P_ANNA, l->id, &g), RP_OK);
    assert_int_equal(g->stage, ST(OFFER));
    assert_int_equal(g->previous_stage, ST(NEW));
    assert_int_equal(g->n_offers, 1);
    assert_int_equal(g->offers[0]->status, OFS(SENT));
    tl_free(g);
    /* sent is sent */
    tl_expect(tl_offer_action(P_ANNA, LM("SendOffer"), l->id, o->id, NULL, NULL), RP_FAILED_PRECONDITION);
    tl_expect(tl_call(P_ANNA, LM("UpdateOffer"), &up, &rapport__leads__v1__offer__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    /* another manager does not find it */
    tl_expect(tl_offer_action(P_BORIS, LM("AcceptOffer"), l->id, o->id, NULL, NULL), RP_NOT_FOUND);
    /* accept */
    seq0 = tl_last_seq();
    tl_expect(tl_offer_action(P_ANNA, LM("AcceptOffer"), l->id, o->id, NULL, &r), RP_OK);
    assert_int_equal(r->status, OFS(ACCEPTED));
    assert_true(r->decided_at > 0);
    tl_free(r);
    assert_int_equal(tl_count_events(seq0, "offer.accepted", l->id), 1);
    tl_expect(tl_offer_action(P_ANNA, LM("RejectOffer"), l->id, o->id, NULL, NULL), RP_FAILED_PRECONDITION);

    /* a second offer, rejected with a reason; sending does not move a lead back */
    TOffer *o2 = NULL;
    seq0 = tl_last_seq();
    tl_expect(tl_stage(P_ANNA, l->id, ST(NEGOTIATION), 0, NULL, NULL), RP_OK);
    tl_want_previous(seq0, l->id, NULL, ST(OFFER));       /* "offer -> negotiation" */
    tl_expect(tl_add_offer(P_ANNA, l->id, lines, 0, 30, &o2), RP_OK);
    tl_expect(tl_offer_action(P_ANNA, LM("SendOffer"), l->id, o2->id, NULL, NULL), RP_OK);
    tl_expect(tl_get(P_ANNA, l->id, &g), RP_OK);
    assert_int_equal(g->stage, ST(NEGOTIATION));
    tl_free(g);
    seq0 = tl_last_seq();
    tl_expect(tl_offer_action(P_ANNA, LM("RejectOffer"), l->id, o2->id, "too expensive", &r), RP_OK);
    assert_int_equal(r->status, OFS(REJECTED));
    assert_string_equal(r->reject_reason, "too expensive");
    tl_free(r);
    assert_int_equal(tl_count_events(seq0, "offer.rejected", l->id), 1);
    tl_expect(tl_offer_action(P_ANNA, LM("AcceptOffer"), l->id, o2->id, NULL, NULL), RP_FAILED_PRECONDITION);
    /* unknown offer, bad id */
    tl_expect(tl_offer_action(P_ANNA, LM("SendOffer"), l->id, "01HZX3J4K5M6N7P8Q9R0S1T2V3", NULL, NULL), RP_NOT_FOUND);
    tl_expect(tl_offer_action(P_ANNA, LM("SendOffer"), l->id, "nope", NULL, NULL), RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("offer_id"));
    /* no new offers on a closed lead */
    tl_expect(tl_stage(P_ANNA, l->id, ST(WON), 0, NULL, NULL), RP_OK);
    tl_expect(tl_add_offer(P_ANNA, l->id, lines, 0, 30, NULL), RP_FAILED_PRECONDITION);
    tl_free(o2);
    tl_free(o);
    tl_free(l);
}

static void test_offer_expiry(void **state)
{
    (void)state;
    TLead *l = tl_new_lead(P_ANNA);
    static const tl_line_t lines[] = { { "Service", 1, 99900, NULL }, { 0 } };
    TOffer *o = NULL, *late = NULL;
    tl_expect(tl_add_offer(P_ANNA, l->id, lines, 0, 2, &o), RP_OK);
    tl_expect(tl_offer_action(P_ANNA, LM("SendOffer"), l->id, o->id, NULL, NULL), RP_OK);
    /* a draft valid until yesterday cannot be sent */
    tl_expect(tl_add_offer(P_ANNA, l->id, lines, 0, -1, &late), RP_OK);
    tl_expect(tl_offer_action(P_ANNA, LM("SendOffer"), l->id, late->id, NULL, NULL), RP_FAILED_PRECONDITION);

    uint64_t seq0 = tl_last_seq();
    tl_advance(4 * TL_DAY_MS);
    /* past valid_until: accepting is refused at once, whatever the sweep did */
    tl_expect(tl_offer_action(P_ANNA, LM("AcceptOffer"), l->id, o->id, NULL, NULL), RP_FAILED_PRECONDITION);
    /* and the sweep (every 200 ms in tests) marks it EXPIRED */
    TLead *g = NULL;
    bool expired = false;
    for (int i = 0; i < 100 && !expired; i++) {
        tl_expect(tl_get(P_ANNA, l->id, &g), RP_OK);
        for (size_t k = 0; k < g->n_offers; k++)
            if (strcmp(g->offers[k]->id, o->id) == 0 && g->offers[k]->status == OFS(EXPIRED))
                expired = true;
        tl_free(g);
        if (!expired)
            usleep(100 * 1000);
    }
    assert_true(expired);
    assert_int_equal(tl_count_events(seq0, "offer.expired", l->id), 1);
    /* the draft is not touched by the sweep */
    tl_expect(tl_get(P_ANNA, l->id, &g), RP_OK);
    for (size_t k = 0; k < g->n_offers; k++)
        if (strcmp(g->offers[k]->id, late->id) == 0)
            assert_int_equal(g->offers[k]->status, OFS(DRAFT));
    tl_free(g);
    tl_free(late);
    tl_free(o);
    tl_free(l);
}

/* ---- objections ---- */

static void test_objections(void **state)
{
    (void)state;
    TLead *l = tl_new_lead(P_ANNA);
    Rapport__Leads__V1__RecordObjectionRequest rq = RAPPORT__LEADS__V1__RECORD_OBJECTION_REQUEST__INIT;
    rq.lead_id = l->id;
    rq.text = "Your competitor is cheaper";
    tl_expect(tl_call(P_ANNA, LM("RecordObjection"), &rq, &rapport__leads__v1__objection__descriptor, NULL),
              RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("category"));
    rq.category = OBJ(PRICE);
    rq.text = "";
    tl_expect(tl_call(P_ANNA, LM("RecordObjection"), &rq, &rapport__leads__v1__objection__descriptor, NULL),
              RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("text"));
    rq.text = "Your competitor is cheaper";
    uint64_t seq0 = tl_last_seq();
    Rapport__Leads__V1__Objection *o = NULL, *u = NULL;
    tl_expect(tl_call(P_ANNA, LM("RecordObjection"), &rq, &rapport__leads__v1__objection__descriptor, &o), RP_OK);
    assert_int_equal(strlen(o->id), RP_ULID_STRLEN);
    assert_int_equal(o->category, OBJ(PRICE));
    assert_false(o->resolved);
    assert_string_equal(o->by, "u-anna");
    assert_int_equal(tl_count_events(seq0, "objection.recorded", l->id), 1);

    Rapport__Leads__V1__UpdateObjectionRequest up = RAPPORT__LEADS__V1__UPDATE_OBJECTION_REQUEST__INIT;
    up.lead_id = l->id;
    up.objection_id = o->id;
    up.response = "Total cost of ownership is lower";
    up.resolved = true;
    tl_expect(tl_call(P_ANNA, LM("UpdateObjection"), &up, &rapport__leads__v1__objection__descriptor, &u), RP_OK);
    assert_true(u->resolved);
    assert_string_equal(u->response, "Total cost of ownership is lower");
    assert_string_equal(u->text, "Your competitor is cheaper");
    tl_free(u);
    TLead *g = NULL;
    tl_expect(tl_get(P_ANNA, l->id, &g), RP_OK);
    assert_int_equal(g->n_objections, 1);
    assert_true(g->objections[0]->resolved);
    tl_free(g);
    up.objection_id = "01HZX3J4K5M6N7P8Q9R0S1T2V3";
    tl_expect(tl_call(P_ANNA, LM("UpdateObjection"), &up, &rapport__leads__v1__objection__descriptor, NULL),
              RP_NOT_FOUND);
    tl_expect(tl_call(P_BORIS, LM("RecordObjection"), &rq, &rapport__leads__v1__objection__descriptor, NULL),
              RP_NOT_FOUND);
    tl_free(o);
    tl_free(l);
}

/* ---- competitors ---- */

static int s_set_competitor(int p, const char *lead_id, const char *cid, const char *name, int threat,
                            TLead **out)
{
    Rapport__Leads__V1__Competitor c = RAPPORT__LEADS__V1__COMPETITOR__INIT;
    c.competitor_id = (char *)(cid ? cid : "");
    c.name = (char *)(name ? name : "");
    c.threat = threat;
    c.note = "strong in the region";
    Rapport__Leads__V1__SetCompetitorRequest rq = RAPPORT__LEADS__V1__SET_COMPETITOR_REQUEST__INIT;
    rq.lead_id = (char *)lead_id;
    rq.competitor = &c;
    return tl_call(p, LM("SetCompetitor"), &rq, &rapport__leads__v1__lead__descriptor, out);
}

static void test_competitors(void **state)
{
    (void)state;
    TLead *l = tl_new_lead(P_ANNA), *r = NULL;
    tl_expect(s_set_competitor(P_ANNA, l->id, NULL, "Rival GmbH", THREAT(MEDIUM), &r), RP_OK);
    assert_int_equal(r->n_competitors, 1);
    tl_free(r);
    /* the same competitor (folded name) is updated, not added */
    tl_expect(s_set_competitor(P_ANNA, l->id, NULL, "RIVAL gmbh", THREAT(HIGH), &r), RP_OK);
    assert_int_equal(r->n_competitors, 1);
    assert_int_equal(r->competitors[0]->threat, THREAT(HIGH));
    tl_free(r);
    tl_expect(s_set_competitor(P_ANNA, l->id, "01HZX3J4K5M6N7P8Q9R0S1T2V3", "Other Corp", THREAT(LOW), &r), RP_OK);
    assert_int_equal(r->n_competitors, 2);
    tl_free(r);
    tl_expect(s_set_competitor(P_ANNA, l->id, "01HZX3J4K5M6N7P8Q9R0S1T2V3", NULL, THREAT(MEDIUM), &r), RP_OK);
    assert_int_equal(r->n_competitors, 2);
    assert_int_equal(r->competitors[1]->threat, THREAT(MEDIUM));
    assert_string_equal(r->competitors[1]->name, "Other Corp");
    tl_free(r);
    /* validation */
    tl_expect(s_set_competitor(P_ANNA, l->id, NULL, NULL, THREAT(LOW), NULL), RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("competitor.name"));
    tl_expect(s_set_competitor(P_ANNA, l->id, NULL, "X", 0, NULL), RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("competitor.threat"));
    tl_expect(s_set_competitor(P_ANNA, l->id, "bad", "X", THREAT(LOW), NULL), RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("competitor.competitor_id"));
    /* remove */
    Rapport__Leads__V1__RemoveCompetitorRequest rm = RAPPORT__LEADS__V1__REMOVE_COMPETITOR_REQUEST__INIT;
    rm.lead_id = l->id;
    rm.name = "rival gmbh";
    tl_expect(tl_call(P_ANNA, LM("RemoveCompetitor"), &rm, &rapport__leads__v1__lead__descriptor, &r), RP_OK);
    assert_int_equal(r->n_competitors, 1);
    assert_string_equal(r->competitors[0]->name, "Other Corp");
    tl_free(r);
    tl_expect(tl_call(P_ANNA, LM("RemoveCompetitor"), &rm, &rapport__leads__v1__lead__descriptor, NULL),
              RP_NOT_FOUND);
    /* out of scope */
    tl_expect(s_set_competitor(P_CARL, l->id, NULL, "Rival GmbH", THREAT(LOW), NULL), RP_NOT_FOUND);
    /* lost to a competitor by id */
    Rapport__Leads__V1__SetStageRequest st = RAPPORT__LEADS__V1__SET_STAGE_REQUEST__INIT;
    st.id = l->id;
    st.stage = ST(LOST);
    st.lost_reason = LOST(COMPETITOR);
    st.lost_competitor_id = "01HZX3J4K5M6N7P8Q9R0S1T2V3";
    tl_expect(tl_call(P_ANNA, LM("SetStage"), &st, &rapport__leads__v1__lead__descriptor, &r), RP_OK);
    assert_string_equal(r->lost_competitor_id, "01HZX3J4K5M6N7P8Q9R0S1T2V3");
    tl_free(r);
    tl_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offer_totals),
        cmocka_unit_test(test_offer_transitions),
        cmocka_unit_test(test_objections),
        cmocka_unit_test(test_competitors),
        cmocka_unit_test(test_offer_expiry),
    };
    return cmocka_run_group_tests_name("leads_offers", tests, tl_setup, tl_teardown);
}
