/* test_leads.c - rapport-leads against a real process: create, get and update,
 * validation, duplicates and force, import keys, stage rules, reopen, close-date
 * history, qualification and disqualification, scope and reassignment, events and
 * idempotency. Lists, stale leads, activities and the funnel are in
 * test_leads_lists.c; offers, objections and competitors in test_leads_offers.c.
 */
#include "test_leads.h"

/* ---- create and get ---- */

static void test_create_get(void **state)
{
    (void)state;
    uint64_t seq0 = tl_last_seq();
    tl_spec_t s = { .tax_id = "AT U1234", .email = "ann@acme.example", .role = ROLE(DECISION_MAKER),
                    .source = SRC(FAIR), .campaign = "spring-fair", .value = 2500000,
                    .close_y = 2030, .close_m = 6, .close_d = 30 };
    TLead *l = NULL;
    tl_expect(tl_create(P_ANNA, &s, &l), RP_OK);
    assert_int_equal(strlen(l->id), RP_ULID_STRLEN);
    assert_string_equal(l->owner, "u-anna");
    assert_string_equal(l->unit, "/hq/sales/g1");
    assert_string_equal(l->branch, "b1");
    assert_string_equal(l->created_by, "u-anna");
    assert_int_equal(l->stage, ST(NEW));
    assert_int_equal(l->max_stage_reached, ST(NEW));
    assert_int_equal(l->source, SRC(FAIR));
    assert_string_equal(l->campaign, "spring-fair");
    assert_int_equal(l->expected_value->units, 2500000);
    assert_string_equal(l->expected_value->currency, "EUR");
    assert_int_equal(l->expected_close->year, 2030);
    assert_int_equal(l->n_contacts, 1);
    assert_int_equal(l->contacts[0]->role, ROLE(DECISION_MAKER));
    assert_true(l->created_at > 0);
    assert_int_equal(l->last_activity_at, l->created_at);
    assert_int_equal(l->updated_at, l->created_at);

    TLead *g = NULL;
    tl_expect(tl_get(P_ANNA, l->id, &g), RP_OK);
    assert_string_equal(g->id, l->id);
    assert_string_equal(g->company->name, l->company->name);
    assert_string_equal(g->company->tax_id, "AT U1234");
    assert_string_equal(g->contacts[0]->email, "ann@acme.example");
    tl_free(g);

    /* lower-case ids are the same ULID */
    char lower[RP_ULID_STRLEN + 1];
    for (int i = 0; i <= RP_ULID_STRLEN; i++)
        lower[i] = (char)(l->id[i] >= 'A' && l->id[i] <= 'Z' ? l->id[i] + 32 : l->id[i]);
    tl_expect(tl_get(P_ANNA, lower, &g), RP_OK);
    tl_free(g);

    assert_int_equal(tl_count_events(seq0, "lead.created", l->id), 1);
    tl_free(l);
}

typedef struct {
    const char *name;
    tl_spec_t spec;
    const char *long_name;      /* company name override: "@201" = 201 'x', "@!" = no letters */
    int want_code;
    const char *want_field;
} create_row_t;

static const create_row_t CREATE_ROWS[] = {
    { "ok_minimal", { .source = SRC(COLD_CALL) }, NULL, RP_OK, NULL },
    { "ok_referral", { .source = SRC(REFERRAL), .referrer = "01HZX3J4K5M6N7P8Q9R0S1T2V3" }, NULL, RP_OK, NULL },
    { "name_too_long", { 0 }, "@201", RP_INVALID_ARGUMENT, "company.name" },
    { "name_without_letters", { 0 }, "@!", RP_INVALID_ARGUMENT, "company.name" },
    { "referral_without_referrer", { .source = SRC(REFERRAL) }, NULL, RP_INVALID_ARGUMENT, "referrer_client_id" },
    { "referral_bad_referrer", { .source = SRC(REFERRAL), .referrer = "nope" }, NULL, RP_INVALID_ARGUMENT,
      "referrer_client_id" },
    { "referrer_without_referral", { .source = SRC(WEB), .referrer = "01HZX3J4K5M6N7P8Q9R0S1T2V3" }, NULL,
      RP_INVALID_ARGUMENT, "referrer_client_id" },
    { "bad_email", { .email = "ann at example" }, NULL, RP_INVALID_ARGUMENT, "contacts[0].email" },
    { "tax_id_too_long", { .tax_id = "1234567890123456789012345678901234567890123456789012345678901234567" },
      NULL, RP_INVALID_ARGUMENT, "company.tax_id" },
    { "campaign_too_long", { .campaign = "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" },
      NULL, RP_INVALID_ARGUMENT, "campaign" },
    { "bad_currency", { .value = 5, .currency = "ZZZ" }, NULL, RP_INVALID_ARGUMENT, "expected_value.currency" },
    { "bad_close_date", { .close_y = 2030, .close_m = 2, .close_d = 30 }, NULL, RP_INVALID_ARGUMENT,
      "expected_close" },
    { "owner_other_without_assign", { .owner = "u-boris", .owner_unit = "/hq/sales/g1" }, NULL,
      RP_PERMISSION_DENIED, NULL },
    { "owner_without_unit", { .owner = "u-boris" }, NULL, RP_INVALID_ARGUMENT, "owner_unit" },
    { "owner_unit_not_a_path", { .owner = "u-boris", .owner_unit = "hq/sales" }, NULL, RP_INVALID_ARGUMENT,
      "owner_unit" },
    { "owner_too_long", { .owner = "u-01234567890123456789012345678901234567890123456789012345678901",
                          .owner_unit = "/hq/sales/g1" }, NULL, RP_INVALID_ARGUMENT, "owner" },
};

static void test_create_validation(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CREATE_ROWS / sizeof CREATE_ROWS[0]; i++) {
        const create_row_t *row = &CREATE_ROWS[i];
        tl_spec_t s = row->spec;
        char name[300];
        if (row->long_name && strcmp(row->long_name, "@201") == 0) {
            memset(name, 'x', 201);
            name[201] = '\0';
            s.name = name;
        } else if (row->long_name) {
            s.name = "!!! ---";
        }
        uint64_t seq0 = tl_last_seq();
        TLead *l = NULL;
        int rc = tl_create(P_ANNA, &s, &l);
        if (rc != row->want_code)
            fail_msg("%s: want %s, got %s (%s)", row->name, rp_code_name(row->want_code),
                     rp_code_name(rc), TL.st.message);
        if (row->want_field && !tl_has_violation(row->want_field))
            fail_msg("%s: want a violation on %s (%s)", row->name, row->want_field, TL.st.message);
        if (row->want_code != RP_OK)
            assert_int_equal(tl_last_seq(), seq0);
        tl_free(l);
    }
}

static void test_create_for_another_owner(void **state)
{
    (void)state;
    TLead *l = NULL;
    tl_spec_t s = { .owner = "u-anna", .owner_unit = "/hq/sales/g1" };
    tl_expect(tl_create(P_HEDDA, &s, &l), RP_OK);
    assert_string_equal(l->owner, "u-anna");
    assert_string_equal(l->created_by, "u-hedda");
    TLead *g = NULL;
    tl_expect(tl_get(P_ANNA, l->id, &g), RP_OK);
    tl_free(g);
    tl_free(l);
    /* a head cannot hand a lead to a unit outside theirs */
    tl_spec_t s2 = { .owner = "u-carl", .owner_unit = "/hq/sales/g2" };
    tl_expect(tl_create(P_HEDDA, &s2, NULL), RP_PERMISSION_DENIED);
}

/* ---- duplicates ---- */

typedef struct {
    const char *name;
    const char *name_fmt, *tax_fmt, *email_fmt;     /* %s = the test's suffix */
    bool force;
    int person;
    int want_code;
    bool want_existing;         /* existing_id names the first lead */
} dup_row_t;

static const dup_row_t DUP_ROWS[] = {
    { "same_tax_id_folded", "Other Name %s", "de123%s", NULL, false, P_ANNA, RP_ALREADY_EXISTS, true },
    /* Another manager's lead: it is a duplicate, but its id is not theirs to see. */
    { "same_tax_id_other_manager_same_branch", "Third Name %s", "DE-123-%s", NULL, false, P_BORIS,
      RP_ALREADY_EXISTS, false },
    { "same_name_and_email_folded", "  SOCIETE   generale %s ", NULL, "ANN.BUYER.%s@EXAMPLE.COM", false,
      P_ANNA, RP_ALREADY_EXISTS, true },
    { "same_name_other_email", "Société Générale %s", NULL, "someone.%s@else.example", false, P_ANNA,
      RP_OK, false },
    { "other_name_same_email", "Générale Société %s", NULL, "ann.buyer.%s@example.com", false, P_ANNA,
      RP_OK, false },
    { "same_tax_id_forced", "Forced Name %s", "DE 123 %s", NULL, true, P_ANNA, RP_OK, false },
    { "same_tax_id_other_branch", "Branch Two %s", "DE123%s", NULL, false, P_OLGA, RP_OK, false },
};

static void test_duplicates(void **state)
{
    (void)state;
    char sfx[32], name[128], tax[64], email[128];
    snprintf(sfx, sizeof sfx, "%d%u", (int)getpid(), ++TL.seq);
    snprintf(name, sizeof name, "Société Générale %s", sfx);
    snprintf(tax, sizeof tax, "DE 123-%s", sfx);
    snprintf(email, sizeof email, "Ann.Buyer.%s@Example.com", sfx);
    tl_spec_t base = { .name = name, .tax_id = tax, .email = email };
    TLead *first = NULL;
    tl_expect(tl_create(P_ANNA, &base, &first), RP_OK);

    for (size_t i = 0; i < sizeof DUP_ROWS / sizeof DUP_ROWS[0]; i++) {
        const dup_row_t *row = &DUP_ROWS[i];
        char n[128], t[64], e[128];
        tl_spec_t s = { .force = row->force };
        snprintf(n, sizeof n, row->name_fmt, sfx);
        s.name = n;
        if (row->tax_fmt) {
            snprintf(t, sizeof t, row->tax_fmt, sfx);
            s.tax_id = t;
        }
        if (row->email_fmt) {
            snprintf(e, sizeof e, row->email_fmt, sfx);
            s.email = e;
        }
        TLead *l = NULL;
        int rc = tl_create(row->person, &s, &l);
        if (rc != row->want_code)
            fail_msg("%s: want %s, got %s (%s)", row->name, rp_code_name(row->want_code),
                     rp_code_name(rc), TL.st.message);
        if (row->want_existing)
            assert_string_equal(TL.st.existing_id, first->id);
        else if (row->want_code == RP_ALREADY_EXISTS)
            assert_string_equal(TL.st.existing_id, "");
        tl_free(l);
    }
    tl_free(first);
}

/* ---- import keys ---- */

static void test_import_key(void **state)
{
    (void)state;
    char key[64];
    snprintf(key, sizeof key, "sha256:%d-%u", (int)getpid(), ++TL.seq);
    tl_spec_t s = { .import_key = key, .source = SRC(IMPORT) };
    TLead *l = NULL;
    tl_expect(tl_create(P_ANNA, &s, &l), RP_OK);
    assert_string_equal(l->import_key, key);
    uint64_t seq = tl_last_seq();

    /* the same row again: nothing new, the first lead's id */
    tl_expect(tl_create(P_ANNA, &s, NULL), RP_ALREADY_EXISTS);
    assert_string_equal(TL.st.existing_id, l->id);
    /* force does not override an import key */
    tl_spec_t f = s;
    f.force = true;
    tl_expect(tl_create(P_ANNA, &f, NULL), RP_ALREADY_EXISTS);
    assert_string_equal(TL.st.existing_id, l->id);
    /* the key is branch-wide */
    tl_expect(tl_create(P_BORIS, &s, NULL), RP_ALREADY_EXISTS);
    assert_string_equal(TL.st.existing_id, l->id);
    assert_int_equal(tl_last_seq(), seq);
    /* another branch imports its own rows */
    tl_expect(tl_create(P_OLGA, &s, NULL), RP_OK);
    /* import keys need leads.import (a director has none) */
    tl_spec_t d = { .import_key = "other-key" };
    tl_expect(tl_create(P_DORA, &d, NULL), RP_PERMISSION_DENIED);
    tl_free(l);
}

/* ---- update ---- */

static int s_update(int p, Rapport__Leads__V1__UpdateRequest *rq, const char *const *mask, TLead **out)
{
    size_t n = 0;
    while (mask && mask[n])
        n++;
    rq->update_mask = (char **)mask;
    rq->n_update_mask = n;
    return tl_call(p, LM("Update"), rq, &rapport__leads__v1__lead__descriptor, out);
}

static void test_update(void **state)
{
    (void)state;
    TLead *l = tl_new_lead(P_ANNA);
    uint64_t seq0 = tl_last_seq();

    Rapport__Leads__V1__UpdateRequest rq = RAPPORT__LEADS__V1__UPDATE_REQUEST__INIT;
    Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
    Rapport__V1__Money v = RAPPORT__V1__MONEY__INIT;
    co.region = "South";
    co.name = "ignored because not in the mask";
    v.units = 777;
    v.currency = "USD";
    rq.id = l->id;
    rq.company = &co;
    rq.expected_value = &v;
    static const char *const m1[] = { "company.region", "expected_value", NULL };
    TLead *u = NULL;
    tl_expect(s_update(P_ANNA, &rq, m1, &u), RP_OK);
    assert_string_equal(u->company->region, "South");
    assert_string_equal(u->company->name, l->company->name);
    assert_string_equal(u->company->industry, "Manufacturing");
    assert_int_equal(u->expected_value->units, 777);
    assert_string_equal(u->expected_value->currency, "USD");
    assert_int_equal(u->n_contacts, 1);
    assert_int_equal(tl_count_events(seq0, "lead.updated", l->id), 1);
    tl_free(u);

    /* mask errors */
    static const char *const bad[] = { "stage", NULL };
    tl_expect(s_update(P_ANNA, &rq, bad, NULL), RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("update_mask[0]"));
    tl_expect(s_update(P_ANNA, &rq, NULL, NULL), RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("update_mask"));
    Rapport__Leads__V1__UpdateRequest nc = RAPPORT__LEADS__V1__UPDATE_REQUEST__INIT;
    nc.id = l->id;
    static const char *const mn[] = { "company.name", NULL };
    tl_expect(s_update(P_ANNA, &nc, mn, NULL), RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("company"));
    /* the lead as it would be stored is validated */
    Rapport__Leads__V1__UpdateRequest rf = RAPPORT__LEADS__V1__UPDATE_REQUEST__INIT;
    rf.id = l->id;
    rf.source = SRC(REFERRAL);
    static const char *const ms[] = { "source", NULL };
    tl_expect(s_update(P_ANNA, &rf, ms, NULL), RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("referrer_client_id"));

    /* clearing expected_value */
    Rapport__Leads__V1__UpdateRequest cl = RAPPORT__LEADS__V1__UPDATE_REQUEST__INIT;
    cl.id = l->id;
    static const char *const mv[] = { "expected_value", NULL };
    tl_expect(s_update(P_ANNA, &cl, mv, &u), RP_OK);
    assert_null(u->expected_value);
    tl_free(u);

    /* a tax id another lead has: ALREADY_EXISTS unless forced */
    char tax[32];
    snprintf(tax, sizeof tax, "UPD%d%u", (int)getpid(), ++TL.seq);
    tl_spec_t s2 = { .tax_id = tax };
    TLead *other = NULL;
    tl_expect(tl_create(P_ANNA, &s2, &other), RP_OK);
    Rapport__Leads__V1__Company co2 = RAPPORT__LEADS__V1__COMPANY__INIT;
    co2.tax_id = tax;
    Rapport__Leads__V1__UpdateRequest tx = RAPPORT__LEADS__V1__UPDATE_REQUEST__INIT;
    tx.id = l->id;
    tx.company = &co2;
    static const char *const mt[] = { "company.tax_id", NULL };
    tl_expect(s_update(P_ANNA, &tx, mt, NULL), RP_ALREADY_EXISTS);
    assert_string_equal(TL.st.existing_id, other->id);
    tx.force = true;
    tl_expect(s_update(P_ANNA, &tx, mt, &u), RP_OK);
    assert_string_equal(u->company->tax_id, tax);
    tl_free(u);
    /* updating another field of a forced duplicate does not trip over it */
    Rapport__Leads__V1__UpdateRequest nd = RAPPORT__LEADS__V1__UPDATE_REQUEST__INIT;
    nd.id = l->id;
    nd.needs = "More";
    static const char *const mneeds[] = { "needs", NULL };
    tl_expect(s_update(P_ANNA, &nd, mneeds, NULL), RP_OK);

    tl_free(other);
    tl_free(l);
}

/* ---- expected close date history ---- */

static void test_close_date_history(void **state)
{
    (void)state;
    tl_spec_t s = { .close_y = 2030, .close_m = 3, .close_d = 31 };
    TLead *l = NULL;
    tl_expect(tl_create(P_ANNA, &s, &l), RP_OK);
    assert_int_equal(l->n_close_history, 0);
    assert_int_equal(l->slip_count, 0);

    static const struct { int y, m, d; int want_slips; } steps[] = {
        { 2030, 4, 30, 1 },     /* slipped a month */
        { 2030, 4, 15, 1 },     /* earlier: not a slip */
        { 0, 0, 0, 1 },         /* cleared */
        { 2030, 6, 30, 1 },     /* set again: no old date, not a slip */
        { 2030, 7, 31, 2 },     /* slipped again */
    };
    static const char *const mask[] = { "expected_close", NULL };
    TLead *u = NULL;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        Rapport__Leads__V1__UpdateRequest rq = RAPPORT__LEADS__V1__UPDATE_REQUEST__INIT;
        Rapport__V1__Date d = RAPPORT__V1__DATE__INIT;
        d.year = steps[i].y;
        d.month = steps[i].m;
        d.day = steps[i].d;
        rq.id = l->id;
        rq.expected_close = steps[i].y ? &d : NULL;
        tl_free(u);
        u = NULL;
        tl_expect(s_update(P_ANNA, &rq, mask, &u), RP_OK);
        assert_int_equal(u->n_close_history, i + 1);
        assert_int_equal(u->slip_count, steps[i].want_slips);
        Rapport__Leads__V1__CloseDateChange *c = u->close_history[i];
        assert_string_equal(c->by, "u-anna");
        assert_true(c->at > 0);
        if (steps[i].y) {
            assert_non_null(c->new_date);
            assert_int_equal(c->new_date->month, steps[i].m);
        } else {
            assert_null(c->new_date);
        }
    }
    assert_int_equal(u->close_history[0]->old_date->month, 3);
    assert_int_equal(u->close_history[0]->new_date->month, 4);
    assert_null(u->close_history[3]->old_date);
    /* the same date again is no change */
    Rapport__Leads__V1__UpdateRequest same = RAPPORT__LEADS__V1__UPDATE_REQUEST__INIT;
    Rapport__V1__Date d = RAPPORT__V1__DATE__INIT;
    d.year = 2030;
    d.month = 7;
    d.day = 31;
    same.id = l->id;
    same.expected_close = &d;
    TLead *v = NULL;
    tl_expect(s_update(P_ANNA, &same, mask, &v), RP_OK);
    assert_int_equal(v->n_close_history, 5);
    assert_int_equal(v->slip_count, 2);
    tl_free(v);
    tl_free(u);
    tl_free(l);
}

/* ---- stage rules ---- */

typedef struct {
    const char *name;
    bool decision_maker;
    int64_t value;
    int setup[4];               /* stages to move through first (0-terminated); LOST uses PRICE */
    int to;
    int reason;
    const char *competitor;
    int want_code;
    const char *want_field;
    int want_stage, want_max;   /* on OK */
} stage_row_t;

static const stage_row_t STAGE_ROWS[] = {
    { "forward_one", true, 100, { 0 }, ST(CONTACTED), 0, NULL, RP_OK, NULL, ST(CONTACTED), ST(CONTACTED) },
    { "forward_jump", true, 100, { 0 }, ST(OFFER), 0, NULL, RP_OK, NULL, ST(OFFER), ST(OFFER) },
    { "back_one", true, 100, { ST(OFFER) }, ST(NEEDS_IDENTIFIED), 0, NULL, RP_OK, NULL,
      ST(NEEDS_IDENTIFIED), ST(OFFER) },
    { "back_two", true, 100, { ST(OFFER) }, ST(INTERESTED), 0, NULL, RP_FAILED_PRECONDITION, NULL, 0, 0 },
    { "back_to_new_from_negotiation", true, 100, { ST(NEGOTIATION) }, ST(NEW), 0, NULL,
      RP_FAILED_PRECONDITION, NULL, 0, 0 },
    { "same_stage", true, 100, { ST(CONTACTED) }, ST(CONTACTED), 0, NULL, RP_FAILED_PRECONDITION, NULL, 0, 0 },
    { "unspecified_stage", true, 100, { 0 }, ST(UNSPECIFIED), 0, NULL, RP_INVALID_ARGUMENT, "stage", 0, 0 },
    { "won_from_negotiation", true, 100, { ST(NEGOTIATION) }, ST(WON), 0, NULL, RP_OK, NULL, ST(WON), ST(WON) },
    { "won_from_new", true, 100, { 0 }, ST(WON), 0, NULL, RP_OK, NULL, ST(WON), ST(WON) },
    { "won_without_decision_maker", false, 100, { ST(NEGOTIATION) }, ST(WON), 0, NULL,
      RP_FAILED_PRECONDITION, NULL, 0, 0 },
    { "won_without_value", true, 0, { ST(NEGOTIATION) }, ST(WON), 0, NULL, RP_FAILED_PRECONDITION, NULL, 0, 0 },
    { "won_to_lost", true, 100, { ST(WON) }, ST(LOST), LOST(PRICE), NULL, RP_FAILED_PRECONDITION, NULL, 0, 0 },
    { "won_to_open", true, 100, { ST(WON) }, ST(NEGOTIATION), 0, NULL, RP_FAILED_PRECONDITION, NULL, 0, 0 },
    { "lost_with_reason", true, 100, { ST(INTERESTED) }, ST(LOST), LOST(TIMING), NULL, RP_OK, NULL,
      ST(LOST), ST(INTERESTED) },
    { "lost_without_reason", true, 100, { 0 }, ST(LOST), 0, NULL, RP_INVALID_ARGUMENT, "lost_reason", 0, 0 },
    { "lost_to_competitor_without_competitor", true, 100, { 0 }, ST(LOST), LOST(COMPETITOR), NULL,
      RP_INVALID_ARGUMENT, "lost_competitor_name", 0, 0 },
    { "lost_to_competitor", true, 100, { ST(OFFER) }, ST(LOST), LOST(COMPETITOR), "Rival GmbH", RP_OK, NULL,
      ST(LOST), ST(OFFER) },
    { "lost_disqualified_is_reserved", true, 100, { 0 }, ST(LOST), LOST(DISQUALIFIED), NULL,
      RP_INVALID_ARGUMENT, "lost_reason", 0, 0 },
    { "lost_to_open", true, 100, { ST(LOST) }, ST(CONTACTED), 0, NULL, RP_FAILED_PRECONDITION, NULL, 0, 0 },
    { "lost_to_won", true, 100, { ST(LOST) }, ST(WON), 0, NULL, RP_FAILED_PRECONDITION, NULL, 0, 0 },
};

static void test_stage_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof STAGE_ROWS / sizeof STAGE_ROWS[0]; i++) {
        const stage_row_t *row = &STAGE_ROWS[i];
        tl_spec_t s = { .role = row->decision_maker ? ROLE(DECISION_MAKER) : ROLE(INFLUENCER),
                        .value = row->value };
        TLead *l = NULL;
        tl_expect(tl_create(P_ANNA, &s, &l), RP_OK);
        assert_int_equal(l->previous_stage, ST(UNSPECIFIED));   /* no change yet */
        int before = ST(NEW);
        for (int k = 0; row->setup[k]; k++) {
            tl_expect(tl_stage(P_ANNA, l->id, row->setup[k], LOST(PRICE), NULL, NULL), RP_OK);
            before = row->setup[k];
        }
        uint64_t seq0 = tl_last_seq();
        TLead *r = NULL;
        int rc = tl_stage(P_ANNA, l->id, row->to, row->reason, row->competitor, &r);
        if (rc != row->want_code)
            fail_msg("%s: want %s, got %s (%s)", row->name, rp_code_name(row->want_code),
                     rp_code_name(rc), TL.st.message);
        if (row->want_field && !tl_has_violation(row->want_field))
            fail_msg("%s: want a violation on %s (%s)", row->name, row->want_field, TL.st.message);
        if (rc == RP_OK) {
            assert_int_equal(r->stage, row->want_stage);
            assert_int_equal(r->max_stage_reached, row->want_max);
            assert_int_equal(tl_count_events(seq0, "lead.stage_changed", l->id), 1);
            /* the change says where it came from, in the reply and in the event */
            tl_want_previous(seq0, l->id, r, before);
            if (row->to == ST(WON)) {
                assert_int_equal(tl_count_events(seq0, "lead.won", l->id), 1);
                assert_true(r->closed_at > 0);
            }
            if (row->to == ST(LOST)) {
                assert_int_equal(tl_count_events(seq0, "lead.lost", l->id), 1);
                assert_int_equal(r->lost_reason, row->reason);
                assert_string_equal(r->lost_competitor_name, row->competitor ? row->competitor : "");
            }
        } else {
            assert_int_equal(tl_last_seq(), seq0);
            TLead *g = NULL;
            tl_expect(tl_get(P_ANNA, l->id, &g), RP_OK);
            assert_int_equal(g->stage, before);
            tl_free(g);
        }
        tl_free(r);
        tl_free(l);
    }
}

static void test_reopen(void **state)
{
    (void)state;
    TLead *l = tl_new_lead(P_ANNA);
    Rapport__Leads__V1__ReopenRequest rq = RAPPORT__LEADS__V1__REOPEN_REQUEST__INIT;
    rq.id = l->id;
    /* only a lost lead can be reopened */
    tl_expect(tl_call(P_ANNA, LM("Reopen"), &rq, &rapport__leads__v1__lead__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    tl_expect(tl_stage(P_ANNA, l->id, ST(OFFER), 0, NULL, NULL), RP_OK);
    tl_expect(tl_stage(P_ANNA, l->id, ST(LOST), LOST(NO_BUDGET), NULL, NULL), RP_OK);
    /* not beyond the stage it was lost in */
    rq.stage = ST(NEGOTIATION);
    tl_expect(tl_call(P_ANNA, LM("Reopen"), &rq, &rapport__leads__v1__lead__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    rq.stage = 0;
    TLead *r = NULL;
    uint64_t seq0 = tl_last_seq();
    tl_expect(tl_call(P_ANNA, LM("Reopen"), &rq, &rapport__leads__v1__lead__descriptor, &r), RP_OK);
    assert_int_equal(r->stage, ST(OFFER));
    tl_want_previous(seq0, l->id, r, ST(LOST));
    assert_int_equal(r->lost_reason, 0);
    assert_int_equal(r->closed_at, 0);
    tl_free(r);
    /* a won deal is final */
    tl_expect(tl_stage(P_ANNA, l->id, ST(WON), 0, NULL, NULL), RP_OK);
    tl_expect(tl_call(P_ANNA, LM("Reopen"), &rq, &rapport__leads__v1__lead__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    tl_free(l);
}

/* ---- qualification ---- */

typedef struct {
    const char *name;
    uint32_t interest, financial, reliability;
    int flags[4];               /* 0-terminated */
    int verdict;                /* given verdict, 0 = derive */
    int want_code;
    const char *want_field;
    uint32_t want_score;
    int want_verdict;
} qual_row_t;

static const qual_row_t QUAL_ROWS[] = {
    { "all_five", 5, 5, 5, { 0 }, 0, RP_OK, NULL, 100, VERD(PROMISING) },
    { "all_three", 3, 3, 3, { 0 }, 0, RP_OK, NULL, 60, VERD(PROMISING) },
    { "all_two", 2, 2, 2, { 0 }, 0, RP_OK, NULL, 40, VERD(UNKNOWN) },
    { "all_one", 1, 1, 1, { 0 }, 0, RP_OK, NULL, 20, VERD(UNPROFITABLE) },
    { "zero", 0, 0, 0, { 0 }, 0, RP_OK, NULL, 0, VERD(UNPROFITABLE) },
    { "weights", 5, 0, 0, { 0 }, 0, RP_OK, NULL, 40, VERD(UNKNOWN) },
    { "two_risk_flags", 5, 5, 5, { RISK(LATE_PAYMENTS), RISK(NEW_COMPANY), 0 }, 0, RP_OK, NULL, 80,
      VERD(PROMISING) },
    { "flags_floor_at_zero", 1, 0, 0, { RISK(INSOLVENCY), 0 }, 0, RP_OK, NULL, 0, VERD(UNPROFITABLE) },
    { "verdict_given", 1, 1, 1, { 0 }, VERD(PROMISING), RP_OK, NULL, 20, VERD(PROMISING) },
    { "interest_out_of_range", 6, 1, 1, { 0 }, 0, RP_INVALID_ARGUMENT, "interest", 0, 0 },
    { "reliability_out_of_range", 1, 1, 9, { 0 }, 0, RP_INVALID_ARGUMENT, "reliability", 0, 0 },
    { "repeated_flag", 3, 3, 3, { RISK(SANCTIONS), RISK(SANCTIONS), 0 }, 0, RP_INVALID_ARGUMENT,
      "risk_flags[1]", 0, 0 },
};

static void test_qualification(void **state)
{
    (void)state;
    TLead *l = tl_new_lead(P_ANNA);
    for (size_t i = 0; i < sizeof QUAL_ROWS / sizeof QUAL_ROWS[0]; i++) {
        const qual_row_t *row = &QUAL_ROWS[i];
        Rapport__Leads__V1__QualifyRequest rq = RAPPORT__LEADS__V1__QUALIFY_REQUEST__INIT;
        Rapport__Leads__V1__RiskFlag flags[4];
        size_t nf = 0;
        while (row->flags[nf]) {
            flags[nf] = row->flags[nf];
            nf++;
        }
        rq.id = l->id;
        rq.interest = row->interest;
        rq.financial_capacity = row->financial;
        rq.reliability = row->reliability;
        rq.risk_flags = flags;
        rq.n_risk_flags = nf;
        rq.note = "met the CFO";
        rq.verdict = row->verdict;
        uint64_t seq0 = tl_last_seq();
        TLead *r = NULL;
        int rc = tl_call(P_ANNA, LM("Qualify"), &rq, &rapport__leads__v1__lead__descriptor, &r);
        if (rc != row->want_code)
            fail_msg("%s: want %s, got %s (%s)", row->name, rp_code_name(row->want_code),
                     rp_code_name(rc), TL.st.message);
        if (row->want_field && !tl_has_violation(row->want_field))
            fail_msg("%s: want a violation on %s (%s)", row->name, row->want_field, TL.st.message);
        if (rc == RP_OK) {
            if (r->qualification->score != row->want_score || (int)r->qualification->verdict != row->want_verdict)
                fail_msg("%s: want score %u verdict %d, got %u %d", row->name, row->want_score,
                         row->want_verdict, r->qualification->score, r->qualification->verdict);
            assert_int_equal(r->qualification->n_risk_flags, nf);
            assert_string_equal(r->qualification->qualified_by, "u-anna");
            assert_int_equal(tl_count_events(seq0, "lead.qualified", l->id), 1);
        }
        tl_free(r);
    }
    tl_free(l);
}

static void test_disqualify(void **state)
{
    (void)state;
    TLead *l = tl_new_lead(P_ANNA);
    Rapport__Leads__V1__DisqualifyRequest rq = RAPPORT__LEADS__V1__DISQUALIFY_REQUEST__INIT;
    rq.id = l->id;
    tl_expect(tl_call(P_ANNA, LM("Disqualify"), &rq, &rapport__leads__v1__lead__descriptor, NULL),
              RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("reason"));
    rq.reason = "no budget for two years";
    uint64_t seq0 = tl_last_seq();
    TLead *r = NULL;
    tl_expect(tl_call(P_ANNA, LM("Disqualify"), &rq, &rapport__leads__v1__lead__descriptor, &r), RP_OK);
    assert_int_equal(r->stage, ST(LOST));
    assert_int_equal(r->lost_reason, LOST(DISQUALIFIED));
    assert_string_equal(r->lost_note, "no budget for two years");
    assert_int_equal(r->qualification->verdict, VERD(UNPROFITABLE));
    assert_int_equal(tl_count_events(seq0, "lead.disqualified", l->id), 1);
    assert_int_equal(tl_count_events(seq0, "lead.stage_changed", l->id), 1);
    tl_want_previous(seq0, l->id, r, ST(NEW));
    /* once lost, neither disqualify nor qualify */
    tl_expect(tl_call(P_ANNA, LM("Disqualify"), &rq, &rapport__leads__v1__lead__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    Rapport__Leads__V1__QualifyRequest q = RAPPORT__LEADS__V1__QUALIFY_REQUEST__INIT;
    q.id = l->id;
    tl_expect(tl_call(P_ANNA, LM("Qualify"), &q, &rapport__leads__v1__lead__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    tl_free(r);
    tl_free(l);
}

/* ---- scope and reassignment ---- */

static void test_scope(void **state)
{
    (void)state;
    TLead *l = tl_new_lead(P_ANNA);
    TLead *g = NULL;
    uint64_t seq0 = tl_last_seq();

    /* another manager, even in the same group, does not see it */
    tl_expect(tl_get(P_BORIS, l->id, NULL), RP_NOT_FOUND);
    tl_expect(tl_stage(P_BORIS, l->id, ST(CONTACTED), 0, NULL, NULL), RP_NOT_FOUND);
    tl_expect(tl_activity(P_BORIS, l->id, 0, NULL), RP_NOT_FOUND);
    Rapport__Leads__V1__UpdateRequest up = RAPPORT__LEADS__V1__UPDATE_REQUEST__INIT;
    static const char *const mask[] = { "needs", NULL };
    up.id = l->id;
    up.needs = "mine now";
    up.update_mask = (char **)mask;
    up.n_update_mask = 1;
    tl_expect(tl_call(P_BORIS, LM("Update"), &up, &rapport__leads__v1__lead__descriptor, NULL), RP_NOT_FOUND);
    assert_int_equal(tl_last_seq(), seq0);
    /* nor in lists: Anna's leads listed by Boris are skipped */
    Rapport__Leads__V1__ListByOwnerRequest lo = RAPPORT__LEADS__V1__LIST_BY_OWNER_REQUEST__INIT;
    lo.owner = "u-anna";
    TList *list = NULL;
    tl_expect(tl_call(P_BORIS, LM("ListByOwner"), &lo, &rapport__leads__v1__list_leads_reply__descriptor,
                      &list), RP_OK);
    assert_int_equal(list->n_leads, 0);
    tl_free(list);
    /* the head of the group sees it; the head of another group does not */
    tl_expect(tl_get(P_HEDDA, l->id, &g), RP_OK);
    tl_free(g);
    tl_expect(tl_get(P_GUS, l->id, NULL), RP_NOT_FOUND);
    tl_expect(tl_call(P_HEDDA, LM("ListByOwner"), &lo, &rapport__leads__v1__list_leads_reply__descriptor,
                      &list), RP_OK);
    assert_true(list->n_leads >= 1);
    tl_free(list);
    /* the director sees everything */
    tl_expect(tl_get(P_DORA, l->id, NULL), RP_OK);

    /* reassigning needs leads.assign */
    Rapport__Leads__V1__AssignRequest as = RAPPORT__LEADS__V1__ASSIGN_REQUEST__INIT;
    as.id = l->id;
    as.owner = "u-boris";
    as.unit = "/hq/sales/g1";
    tl_expect(tl_call(P_ANNA, LM("Assign"), &as, &rapport__leads__v1__lead__descriptor, NULL),
              RP_PERMISSION_DENIED);
    /* a head of another group cannot even find it */
    tl_expect(tl_call(P_GUS, LM("Assign"), &as, &rapport__leads__v1__lead__descriptor, NULL), RP_NOT_FOUND);
    /* not to a unit outside the head's */
    as.owner = "u-carl";
    as.unit = "/hq/sales/g2";
    tl_expect(tl_call(P_HEDDA, LM("Assign"), &as, &rapport__leads__v1__lead__descriptor, NULL),
              RP_PERMISSION_DENIED);
    /* nor to herself, claiming a unit outside her own */
    as.owner = "u-hedda";
    as.unit = "/hq/finance/secret";
    tl_expect(tl_call(P_HEDDA, LM("Assign"), &as, &rapport__leads__v1__lead__descriptor, NULL),
              RP_PERMISSION_DENIED);
    as.owner = "u-boris";
    as.unit = "/hq/sales/g1";
    seq0 = tl_last_seq();
    TLead *r = NULL;
    tl_expect(tl_call(P_HEDDA, LM("Assign"), &as, &rapport__leads__v1__lead__descriptor, &r), RP_OK);
    assert_string_equal(r->owner, "u-boris");
    assert_int_equal(tl_count_events(seq0, "lead.assigned", l->id), 1);
    tl_free(r);
    tl_expect(tl_get(P_BORIS, l->id, NULL), RP_OK);
    tl_expect(tl_get(P_ANNA, l->id, NULL), RP_NOT_FOUND);
    /* the owner index moved with it */
    lo.owner = "u-boris";
    tl_expect(tl_call(P_BORIS, LM("ListByOwner"), &lo, &rapport__leads__v1__list_leads_reply__descriptor,
                      &list), RP_OK);
    bool found = false;
    for (size_t i = 0; i < list->n_leads; i++)
        if (strcmp(list->leads[i]->id, l->id) == 0)
            found = true;
    assert_true(found);
    tl_free(list);
    /* a director may reassign across groups */
    as.owner = "u-carl";
    as.unit = "/hq/sales/g2";
    tl_expect(tl_call(P_DORA, LM("Assign"), &as, &rapport__leads__v1__lead__descriptor, NULL), RP_OK);
    tl_expect(tl_get(P_GUS, l->id, NULL), RP_OK);
    tl_free(l);
}

/* ---- closed leads and bounds ---- */

/* test_closed_and_bounds - a won lead cannot be edited any more (it would lose the
 * decision maker or the value it was won with), and an expected value has a ceiling
 * so that no report over many leads can overflow. */
static void test_closed_and_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t value;
        int want_code;
    } values[] = {
        { "at the ceiling", INT64_C(10000000000000), RP_OK },
        { "above the ceiling", INT64_C(10000000000001), RP_INVALID_ARGUMENT },
        { "near INT64_MAX", INT64_MAX - 5, RP_INVALID_ARGUMENT },
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        tl_spec_t s = { .value = values[i].value };
        int rc = tl_create(P_ANNA, &s, NULL);
        if (rc != values[i].want_code)
            fail_msg("%s: got %s, want %s", values[i].name, rp_code_name(rc),
                     rp_code_name(values[i].want_code));
        if (rc != RP_OK)
            assert_true(tl_has_violation("expected_value.units"));
    }

    tl_spec_t s = { .email = NULL, .role = RAPPORT__LEADS__V1__CONTACT_ROLE__CONTACT_ROLE_DECISION_MAKER,
                    .value = 500000 };
    TLead *l = NULL;
    tl_expect(tl_create(P_ANNA, &s, &l), RP_OK);
    tl_expect(tl_stage(P_ANNA, l->id, RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_WON, 0, NULL, NULL), RP_OK);
    uint64_t seq0 = tl_last_seq();
    Rapport__Leads__V1__UpdateRequest up = RAPPORT__LEADS__V1__UPDATE_REQUEST__INIT;
    char *mask[] = { "expected_value" };
    up.id = l->id;
    up.update_mask = mask;
    up.n_update_mask = 1;
    tl_expect(tl_call(P_ANNA, LM("Update"), &up, &rapport__leads__v1__lead__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    assert_int_equal(tl_last_seq(), seq0);
    TLead *g = NULL;
    tl_expect(tl_get(P_ANNA, l->id, &g), RP_OK);
    assert_non_null(g->expected_value);
    assert_int_equal(g->expected_value->units, 500000);
    tl_free(g);
    tl_free(l);
}

/* ---- events ---- */

static void test_events(void **state)
{
    (void)state;
    uint64_t seq0 = tl_last_seq();
    TLead *l = tl_new_lead(P_ANNA);
    TActivity *a = NULL;
    tl_expect(tl_activity(P_ANNA, l->id, 0, &a), RP_OK);
    tl_expect(tl_stage(P_ANNA, l->id, ST(NEGOTIATION), 0, NULL, NULL), RP_OK);
    tl_expect(tl_stage(P_ANNA, l->id, ST(WON), 0, NULL, NULL), RP_OK);

    size_t n = 0;
    Rapport__V1__Event **ev = tl_replay(seq0 + 1, "rapport.leads.v1.", &n);
    static const char *const want[] = {
        "rapport.leads.v1.lead.created", "rapport.leads.v1.activity.logged",
        "rapport.leads.v1.lead.stage_changed", "rapport.leads.v1.lead.stage_changed",
        "rapport.leads.v1.lead.won",
    };
    size_t k = 0;
    for (size_t i = 0; i < n && k < 5; i++) {
        if (strcmp(ev[i]->subject, l->id) != 0)
            continue;
        assert_string_equal(ev[i]->type, want[k]);
        assert_string_equal(ev[i]->actor, "u-anna");
        assert_string_equal(ev[i]->branch, "b1");
        assert_string_equal(ev[i]->source, "/branches/b1/leads");
        assert_int_equal(strlen(ev[i]->id), RP_ULID_STRLEN);
        if (k == 1) {
            assert_string_equal(ev[i]->dataschema, "proto:rapport.leads.v1.Activity");
            TActivity *d = rapport__leads__v1__activity__unpack(NULL, ev[i]->data.len, ev[i]->data.data);
            assert_non_null(d);
            assert_string_equal(d->id, a->id);
            assert_string_equal(d->lead_id, l->id);
            tl_free(d);
        } else {
            assert_string_equal(ev[i]->dataschema, "proto:rapport.leads.v1.Lead");
            TLead *d = rapport__leads__v1__lead__unpack(NULL, ev[i]->data.len, ev[i]->data.data);
            assert_non_null(d);
            assert_string_equal(d->id, l->id);
            if (k == 4)
                assert_int_equal(d->stage, ST(WON));
            tl_free(d);
        }
        k++;
    }
    assert_int_equal(k, 5);
    /* seq is gapless */
    for (size_t i = 1; i < n; i++)
        assert_int_equal(ev[i]->seq, ev[i - 1]->seq + 1);
    rp_suite_events_free(&ev, n);
    /* a manager may not replay */
    Rapport__Sys__V1__ReplayRequest rr = RAPPORT__SYS__V1__REPLAY_REQUEST__INIT;
    rr.from_seq = 1;
    tl_expect(tl_call(P_ANNA, "rapport.sys.v1.System/Replay", &rr,
                      &rapport__sys__v1__replay_reply__descriptor, NULL), RP_PERMISSION_DENIED);
    tl_free(a);
    tl_free(l);
}

/* ---- idempotency ---- */

static size_t s_count_own(int p)
{
    Rapport__Leads__V1__ListByOwnerRequest lo = RAPPORT__LEADS__V1__LIST_BY_OWNER_REQUEST__INIT;
    size_t total = 0;
    char token[512] = "";
    for (;;) {
        lo.page_size = 500;
        lo.page_token = token;
        TList *r = NULL;
        tl_expect(tl_call(p, LM("ListByOwner"), &lo, &rapport__leads__v1__list_leads_reply__descriptor, &r), RP_OK);
        total += r->n_leads;
        bool more = *r->next_page_token;
        rp_strlcpy(token, r->next_page_token, sizeof token);
        tl_free(r);
        if (!more)
            return total;
    }
}

static void test_idempotency(void **state)
{
    (void)state;
    char id[RP_ULID_STRLEN + 1], name[64];
    rp_ulid_new_str(tl_now(), id);
    tl_unique("Idem Co", name, sizeof name);
    tl_spec_t s = { .name = name, .role = ROLE(DECISION_MAKER), .value = 5 };
    TLead *a = NULL, *b = NULL;
    tl_expect(tl_create_id(P_ANNA, id, &s, &a), RP_OK);
    uint64_t seq = tl_last_seq();
    size_t count = s_count_own(P_ANNA);

    /* the same request again: the same reply, nothing changes */
    tl_expect(tl_create_id(P_ANNA, id, &s, &b), RP_OK);
    assert_string_equal(a->id, b->id);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(tl_last_seq(), seq);
    assert_int_equal(s_count_own(P_ANNA), count);

    /* the same id with another body */
    char other[64];
    tl_spec_t s2 = { .name = tl_unique("Idem Other", other, sizeof other) };
    tl_expect(tl_create_id(P_ANNA, id, &s2, NULL), RP_FAILED_PRECONDITION);
    assert_int_equal(tl_last_seq(), seq);
    assert_int_equal(s_count_own(P_ANNA), count);

    /* a stage move retried does not move twice */
    char sid[RP_ULID_STRLEN + 1];
    rp_ulid_new_str(tl_now() + 1, sid);
    Rapport__Leads__V1__SetStageRequest st = RAPPORT__LEADS__V1__SET_STAGE_REQUEST__INIT;
    st.id = a->id;
    st.stage = ST(CONTACTED);
    TLead *r1 = NULL, *r2 = NULL;
    tl_expect(tl_call_id(P_ANNA, sid, LM("SetStage"), &st, &rapport__leads__v1__lead__descriptor, &r1), RP_OK);
    uint64_t seq2 = tl_last_seq();
    tl_expect(tl_call_id(P_ANNA, sid, LM("SetStage"), &st, &rapport__leads__v1__lead__descriptor, &r2), RP_OK);
    assert_int_equal(r2->stage, ST(CONTACTED));
    assert_int_equal(r1->stage_changed_at, r2->stage_changed_at);
    assert_int_equal(tl_last_seq(), seq2);
    assert_int_equal(tl_count_events(seq, "lead.stage_changed", a->id), 1);
    /* the same id for another method is another request: refused */
    Rapport__Leads__V1__DisqualifyRequest dq = RAPPORT__LEADS__V1__DISQUALIFY_REQUEST__INIT;
    dq.id = a->id;
    dq.reason = "x";
    tl_expect(tl_call_id(P_ANNA, sid, LM("Disqualify"), &dq, &rapport__leads__v1__lead__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    tl_free(r1);
    tl_free(r2);
    tl_free(a);
    tl_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_get),
        cmocka_unit_test(test_create_validation),
        cmocka_unit_test(test_create_for_another_owner),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_import_key),
        cmocka_unit_test(test_update),
        cmocka_unit_test(test_close_date_history),
        cmocka_unit_test(test_stage_rules),
        cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_qualification),
        cmocka_unit_test(test_disqualify),
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_closed_and_bounds),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_idempotency),
    };
    return cmocka_run_group_tests_name("leads", tests, tl_setup, tl_teardown);
}
