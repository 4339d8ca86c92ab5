/* test_contracts_jobs.c - rapport-contracts' daily jobs as the test clock moves
 * (System/ClockAdvance; the jobs sweep every 200 ms), and what they feed on:
 *   expiring_and_expiry  contract.expiring at 60, 30 and 7 days left, each once, the
 *                        nearest only when the clock jumps over several; EXPIRED the
 *                        day after the end; a future start activates on its day
 *   quote_expiry         a sent quote past valid_until: accepting is refused, the
 *                        job marks it EXPIRED once
 *   orders               the order status machine, hand-offs, deliveries,
 *                        order.overdue once per late order, and fulfilment
 *   renewal              a renewal is a new draft linking its parent, once
 * Each wait polls the service for the state the job must reach (never a sleep
 * that the test relies on for the clock).
 */
#include "test_contracts.h"

/* s_wait_events - poll until `want` events of type about subject exist after seq. */
static void s_wait_events(uint64_t seq, const char *type, const char *subject, size_t want)
{
    for (int i = 0; i < 200; i++) {
        size_t n = tc_count(seq, type, subject);
        if (n == want)
            return;
        if (n > want)
            fail_msg("%s about %s: %zu events, want %zu", type, subject, n, want);
        usleep(50 * 1000);
    }
    fail_msg("%s about %s: never %zu events", type, subject, want);
}

/* s_expiring - the thresholds of every contract.expiring about id after seq. */
static size_t s_expiring(uint64_t seq, const char *id, uint32_t *thresholds, size_t cap)
{
    size_t n = 0, k = 0;
    Rapport__V1__Event **ev = rp_suite_replay(TC.suite, "contracts", seq + 1, CEV("contract.expiring"), &n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ev[i]->subject, id) != 0)
            continue;
        Rapport__Contracts__V1__ContractExpiring *e =
            rapport__contracts__v1__contract_expiring__unpack(NULL, ev[i]->data.len, ev[i]->data.data);
        assert_non_null(e);
        assert_string_equal(e->owner, "u-anna");
        /* raised by a job, yet it carries the contract's branch */
        assert_string_equal(ev[i]->branch, "hq");
        assert_string_equal(ev[i]->source, "/branches/hq/contracts");
        if (k < cap)
            thresholds[k] = e->threshold_days;
        k++;
        tc_free(e);
    }
    rp_suite_events_free(&ev, n);
    return k;
}

static void test_expiring_and_expiry(void **state)
{
    (void)state;
    uint64_t seq0 = tc_last_seq();
    TContract *a = tc_signed(300000, 0, 90, P_ANNA);    /* ends in 90 days */
    TContract *b = tc_signed(300000, 0, 20, P_ANNA);    /* 20 days left already */
    TContract *f = tc_signed(300000, 3, 200, P_ANNA);   /* starts in 3 days */
    assert_int_equal(a->status, CST(ACTIVE));
    assert_int_equal(f->status, CST(SIGNED));
    uint32_t th[8];
    /* b: the nearest threshold reached (30), not 60 as well */
    s_wait_events(seq0, CEV("contract.expiring"), b->id, 1);
    assert_int_equal(s_expiring(seq0, b->id, th, 8), 1);
    assert_int_equal(th[0], 30);

    tc_advance_days(3);                                 /* f starts: ACTIVE */
    TContract *g = tc_wait_status(f->id, CST(ACTIVE));
    tc_free(g);
    assert_int_equal(tc_count(seq0, CEV("contract.activated"), f->id), 1);
    tc_advance_days(27);                                /* a: 60 days left */
    s_wait_events(seq0, CEV("contract.expiring"), a->id, 1);
    tc_advance_days(15);                                /* 45 left: nothing */
    tc_advance_days(15);                                /* 30 left */
    s_wait_events(seq0, CEV("contract.expiring"), a->id, 2);
    tc_advance_days(23);                                /* 7 left */
    s_wait_events(seq0, CEV("contract.expiring"), a->id, 3);
    tc_advance_days(6);                                 /* 1 left: nothing more */
    tc_advance_days(2);                                 /* past the end */
    g = tc_wait_status(a->id, CST(EXPIRED));
    assert_true(g->closed_at > 0);
    tc_free(g);
    assert_int_equal(s_expiring(seq0, a->id, th, 8), 3);
    assert_int_equal(th[0], 60);
    assert_int_equal(th[1], 30);
    assert_int_equal(th[2], 7);
    assert_int_equal(tc_count(seq0, CEV("contract.expired"), a->id), 1);
    /* b jumped from 17 days left to past its end: expired, once, no 7-day notice */
    assert_int_equal(tc_count(seq0, CEV("contract.expired"), b->id), 1);
    assert_int_equal(s_expiring(seq0, b->id, th, 8), 1);
    /* an expired contract is not signed again, not terminated */
    tc_expect(tc_act(P_ANNA, CM("Terminate"), a->id, "late", NULL), RP_FAILED_PRECONDITION);
    tc_free(a);
    tc_free(b);
    tc_free(f);
}

static void test_quote_expiry(void **state)
{
    (void)state;
    Rapport__Contracts__V1__QuoteTerms t = RAPPORT__CONTRACTS__V1__QUOTE_TERMS__INIT;
    Rapport__Contracts__V1__QuoteLine l = RAPPORT__CONTRACTS__V1__QUOTE_LINE__INIT, *lp[1] = { &l };
    Rapport__V1__Money price = RAPPORT__V1__MONEY__INIT;
    Rapport__V1__Date valid;
    price.units = 9900;
    price.currency = "EUR";
    l.description = "Consulting day";
    l.kind = RAPPORT__CONTRACTS__V1__ITEM_KIND__ITEM_KIND_SERVICE;
    l.quantity = 2;
    l.unit = "day";
    l.unit_price = &price;
    t.lines = lp;
    t.n_lines = 1;
    t.currency = "EUR";
    tc_set_date(&valid, tc_today() + 2);
    t.valid_until = &valid;
    Rapport__Contracts__V1__CreateQuoteRequest cq = RAPPORT__CONTRACTS__V1__CREATE_QUOTE_REQUEST__INIT;
    char client[RP_ULID_STRLEN + 1];
    rp_ulid_new_str(tc_now(), client);
    cq.client_id = client;
    cq.client_name = "Expiring Ltd";
    cq.terms = &t;
    TQuote *q = NULL;
    tc_expect(tc_call(P_ANNA, CM("CreateQuote"), &cq, &rapport__contracts__v1__quote__descriptor, &q), RP_OK);
    Rapport__Contracts__V1__QuoteActionRequest a = RAPPORT__CONTRACTS__V1__QUOTE_ACTION_REQUEST__INIT;
    a.id = q->id;
    a.comment = "";
    uint64_t seq0 = tc_last_seq();
    tc_expect(tc_call(P_ANNA, CM("SendQuote"), &a, NULL, NULL), RP_OK);
    tc_advance_days(2);                                 /* the last valid day */
    tc_advance_days(1);
    tc_expect(tc_call(P_ANNA, CM("AcceptQuote"), &a, NULL, NULL), RP_FAILED_PRECONDITION);
    s_wait_events(seq0, CEV("quote.expired"), q->id, 1);
    Rapport__Contracts__V1__GetRequest g = RAPPORT__CONTRACTS__V1__GET_REQUEST__INIT;
    g.id = q->id;
    TQuote *e = NULL;
    tc_expect(tc_call(P_ANNA, CM("GetQuote"), &g, &rapport__contracts__v1__quote__descriptor, &e), RP_OK);
    assert_int_equal(e->status, QST(EXPIRED));
    tc_free(e);
    tc_free(q);
}

static int s_order(int p, const char *contract, int due_in, TOrder **out)
{
    Rapport__Contracts__V1__OrderItem it = RAPPORT__CONTRACTS__V1__ORDER_ITEM__INIT, *its[1] = { &it };
    it.description = "Pump P-100";
    it.quantity = 4;
    it.unit = "pcs";
    Rapport__V1__Date due;
    tc_set_date(&due, tc_today() + due_in);
    Rapport__Contracts__V1__PlaceOrderRequest rq = RAPPORT__CONTRACTS__V1__PLACE_ORDER_REQUEST__INIT;
    rq.contract_id = (char *)contract;
    rq.items = its;
    rq.n_items = 1;
    rq.due = &due;
    return tc_call(p, CM("PlaceOrder"), &rq, &rapport__contracts__v1__order__descriptor, out);
}

static int s_order_act(int p, const char *method, const char *id, int status, const char *dept, const char *note,
                       TOrder **out)
{
    Rapport__Contracts__V1__OrderActionRequest rq = RAPPORT__CONTRACTS__V1__ORDER_ACTION_REQUEST__INIT;
    rq.id = (char *)id;
    rq.status = status;
    rq.department = (char *)(dept ? dept : "");
    rq.note = (char *)(note ? note : "");
    return tc_call(p, method, &rq, &rapport__contracts__v1__order__descriptor, out);
}

static void test_orders(void **state)
{
    (void)state;
    uint64_t seq0 = tc_last_seq();
    /* no orders under a contract that is not active */
    tc_terms_t x;
    tc_terms(&x, 100000, 1, tc_today(), 365);
    TContract *d = NULL;
    tc_expect(tc_draft(P_ANNA, &x, &d), RP_OK);
    tc_expect(s_order(P_ANNA, d->id, 5, NULL), RP_FAILED_PRECONDITION);
    tc_free(d);

    TContract *c = tc_signed(400000, 0, 365, P_ANNA);
    TOrder *o1 = NULL, *o2 = NULL, *o = NULL;
    tc_expect(s_order(P_ANNA, c->number, 5, &o1), RP_OK);
    tc_expect(s_order(P_ANNA, c->id, 10, &o2), RP_OK);
    assert_int_equal(o1->status, OST(RECEIVED));
    assert_string_equal(o1->contract_number, c->number);
    /* carl does not see anna's orders */
    Rapport__Contracts__V1__GetRequest g = RAPPORT__CONTRACTS__V1__GET_REQUEST__INIT;
    g.id = o1->id;
    tc_expect(tc_call(P_CARL, CM("GetOrder"), &g, NULL, NULL), RP_NOT_FOUND);
    /* the status machine */
    tc_expect(s_order_act(P_ANNA, CM("SetOrderStatus"), o1->id, OST(DELIVERED), NULL, NULL, NULL),
              RP_FAILED_PRECONDITION);
    tc_expect(s_order_act(P_ANNA, CM("HandOff"), o1->id, 0, "", NULL, NULL), RP_INVALID_ARGUMENT);
    tc_expect(s_order_act(P_ANNA, CM("HandOff"), o1->id, 0, "Warehouse", "pick 4 pumps", &o), RP_OK);
    assert_int_equal(o->status, OST(PROCESSING));
    assert_int_equal(o->n_handoffs, 1);
    assert_string_equal(o->handoffs[0]->department, "Warehouse");
    assert_string_equal(o->handoffs[0]->by, "u-anna");
    tc_free(o);
    tc_expect(s_order_act(P_ANNA, CM("SetOrderStatus"), o1->id, OST(SHIPPED), NULL, NULL, NULL), RP_OK);
    tc_expect(s_order_act(P_ANNA, CM("SetOrderStatus"), o1->id, OST(CANCELLED), NULL, "no", NULL),
              RP_FAILED_PRECONDITION);

    /* overdue: o1 is due in 5 days, o2 in 10 */
    tc_advance_days(6);
    s_wait_events(seq0, CEV("order.overdue"), o1->id, 1);
    tc_expect(s_order_act(P_ANNA, CM("SetOrderStatus"), o1->id, OST(DELIVERED), NULL, NULL, &o), RP_OK);
    assert_non_null(o->actual_delivery);
    tc_free(o);
    tc_advance_days(5);
    s_wait_events(seq0, CEV("order.overdue"), o2->id, 1);
    /* o1, delivered, was not raised again; o2 once */
    assert_int_equal(tc_count(seq0, CEV("order.overdue"), o1->id), 1);
    assert_int_equal(tc_count(seq0, CEV("order.delivered"), o1->id), 1);

    /* fulfilment: every order done and the fulfilment documents verified */
    tc_expect(s_order_act(P_ANNA, CM("SetOrderStatus"), o2->id, OST(CANCELLED), NULL, "", NULL), RP_INVALID_ARGUMENT);
    tc_expect(s_order_act(P_ANNA, CM("SetOrderStatus"), o2->id, OST(CANCELLED), NULL, "duplicate", NULL), RP_OK);
    TContract *g2 = NULL;
    tc_expect(tc_get(P_ANNA, c->id, &g2), RP_OK);
    assert_int_equal(g2->status, CST(ACTIVE));      /* documents still missing */
    tc_docs(P_ANNA, g2, DSTAGE(FULFILMENT));
    tc_free(g2);
    tc_expect(tc_get(P_ANNA, c->id, &g2), RP_OK);
    assert_int_equal(g2->status, CST(FULFILLED));
    assert_int_equal(tc_count(seq0, CEV("contract.fulfilled"), c->id), 1);
    tc_free(g2);
    /* orders of the contract, page by page */
    Rapport__Contracts__V1__ListOrdersRequest lr = RAPPORT__CONTRACTS__V1__LIST_ORDERS_REQUEST__INIT;
    lr.contract_id = c->id;
    lr.page_size = 1;
    Rapport__Contracts__V1__ListOrdersReply *r = NULL;
    tc_expect(tc_call(P_ANNA, CM("ListOrders"), &lr, &rapport__contracts__v1__list_orders_reply__descriptor, &r),
              RP_OK);
    assert_int_equal(r->n_orders, 1);
    assert_true(strlen(r->next_page_token) > 0);
    lr.page_token = rp_strdup(r->next_page_token);
    tc_free(r);
    tc_expect(tc_call(P_ANNA, CM("ListOrders"), &lr, &rapport__contracts__v1__list_orders_reply__descriptor, &r),
              RP_OK);
    assert_int_equal(r->n_orders, 1);
    free(lr.page_token);
    tc_free(r);
    tc_free(o1);
    tc_free(o2);
    tc_free(c);
}

static void test_renewal(void **state)
{
    (void)state;
    uint64_t seq0 = tc_last_seq();
    TContract *c = tc_signed(240000, 0, 365, P_ANNA);
    Rapport__Contracts__V1__RenewRequest rq = RAPPORT__CONTRACTS__V1__RENEW_REQUEST__INIT;
    Rapport__V1__Date start, end;
    tc_set_date(&start, tc_today() + 366);
    tc_set_date(&end, tc_today() + 731);
    rq.id = c->number;
    rq.start = &start;
    rq.end = &end;
    TContract *r = NULL;
    tc_expect(tc_call(P_ANNA, CM("Renew"), &rq, &rapport__contracts__v1__contract__descriptor, &r), RP_OK);
    assert_int_equal(r->kind, CKIND(RENEWAL));
    assert_int_equal(r->status, CST(DRAFT));
    assert_string_equal(r->parent_id, c->id);
    assert_string_not_equal(r->number, c->number);
    assert_int_equal(r->terms->value->units, 240000);
    /* the schedule moved with the start */
    assert_int_equal(r->terms->n_schedule, c->terms->n_schedule);
    int32_t d0 = rp_date_to_days(c->terms->schedule[0]->due->year, c->terms->schedule[0]->due->month,
                                 c->terms->schedule[0]->due->day);
    int32_t d1 = rp_date_to_days(r->terms->schedule[0]->due->year, r->terms->schedule[0]->due->month,
                                 r->terms->schedule[0]->due->day);
    assert_int_equal(d1 - d0, 366);
    assert_int_equal(tc_count(seq0, CEV("contract.renewed"), c->id), 1);
    tc_expect(tc_call(P_ANNA, CM("Renew"), &rq, NULL, NULL), RP_ALREADY_EXISTS);
    assert_string_equal(TC.st.existing_id, r->id);
    /* a renewal with another value needs its schedule */
    TContract *c2 = tc_signed(240000, 0, 365, P_ANNA);
    Rapport__V1__Money v = RAPPORT__V1__MONEY__INIT;
    v.units = 260000;
    v.currency = "EUR";
    rq.id = c2->id;
    rq.value = &v;
    tc_expect(tc_call(P_ANNA, CM("Renew"), &rq, NULL, NULL), RP_INVALID_ARGUMENT);
    assert_true(tc_has_violation("schedule"));
    tc_free(r);
    tc_free(c);
    tc_free(c2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiring_and_expiry),
        cmocka_unit_test(test_quote_expiry),
        cmocka_unit_test(test_orders),
        cmocka_unit_test(test_renewal),
    };
    return cmocka_run_group_tests(tests, tc_setup, tc_teardown);
}
