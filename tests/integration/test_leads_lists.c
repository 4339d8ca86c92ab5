/* test_leads_lists.c - rapport-leads list queries against a real process: every
 * index (owner, stage, source, campaign, expected close range, company-name prefix)
 * read page by page with scope filtering, bad page tokens, stale leads with the test
 * clock, activities, and the funnel.
 */
#include "test_leads.h"

/* ---- list queries ---- */

typedef enum { Q_OWNER, Q_STAGE, Q_SOURCE, Q_CAMPAIGN, Q_CLOSE, Q_NAME } qkind_t;

typedef struct {
    const char *name;
    int caller;                 /* 0 = lena, 1 = mark, 2 = hedda (head of their group) */
    qkind_t kind;
    const char *arg;            /* owner, or name prefix; "%s" = the test's suffix */
    int n1;                     /* stage / source / close day from (January 2041) */
    int n2;                     /* close day to (exclusive) */
    unsigned page_size;
    const char *want;           /* leads wanted: letters a..g = lena's, x..z = mark's */
} list_row_t;

/* Lena's leads a..g: source TENDER for a..e, WEB for f,g; close 2041-01-10+k; stage
 * CONTACTED for a,c,e. Mark's x..z: TENDER. All share one campaign and one name prefix. */
static const list_row_t LIST_ROWS[] = {
    { "owner_self", 0, Q_OWNER, "", 0, 0, 2, "abcdefg" },
    { "owner_other_manager_is_skipped", 0, Q_OWNER, "u-mark-%s", 0, 0, 2, "" },
    { "owner_other_seen_by_head", 2, Q_OWNER, "u-mark-%s", 0, 0, 2, "xyz" },
    { "stage_contacted", 0, Q_STAGE, NULL, ST(CONTACTED), 0, 2, "ace" },
    { "source_tender", 0, Q_SOURCE, NULL, SRC(TENDER), 0, 2, "abcde" },
    { "source_tender_head", 2, Q_SOURCE, NULL, SRC(TENDER), 0, 3, "abcdexyz" },
    { "campaign", 0, Q_CAMPAIGN, NULL, 0, 0, 3, "abcdefg" },
    { "campaign_mark", 1, Q_CAMPAIGN, NULL, 0, 0, 1, "xyz" },
    { "campaign_head_one_page", 2, Q_CAMPAIGN, NULL, 0, 0, 500, "abcdefgxyz" },
    { "close_range", 0, Q_CLOSE, NULL, 11, 14, 2, "bcd" },
    { "close_range_empty", 0, Q_CLOSE, NULL, 20, 25, 2, "" },
    { "name_prefix_folded", 0, Q_NAME, "ÄRGER %s", 0, 0, 2, "abcdefg" },
    { "name_prefix_partial", 2, Q_NAME, "arge", 0, 0, 4, "abcdefgxyz" },
};

static struct {
    char sfx[32];
    char campaign[64];
    char ids[10][RP_ULID_STRLEN + 1];   /* a..g then x..z */
    int lena, mark, hedda;
    bool made;
} LS;

static void s_make_list_data(void)
{
    if (LS.made)
        return;
    LS.made = true;
    snprintf(LS.sfx, sizeof LS.sfx, "%d%u", (int)getpid(), ++TL.seq);
    snprintf(LS.campaign, sizeof LS.campaign, "camp-%s", LS.sfx);
    char sub[64];
    snprintf(sub, sizeof sub, "u-lena-%s", LS.sfx);
    LS.lena = tl_add_person(sub, "manager", "b1", "/hq/sales/g3");
    snprintf(sub, sizeof sub, "u-mark-%s", LS.sfx);
    LS.mark = tl_add_person(sub, "manager", "b1", "/hq/sales/g3");
    LS.hedda = tl_add_person("u-hilde", "head_of_group", "b1", "/hq/sales/g3");
    for (int k = 0; k < 10; k++) {
        char name[96];
        /* Ärger = "arger" folded; a-z ordinal keeps names distinct */
        snprintf(name, sizeof name, "Ärger %s Lead %c", LS.sfx, k < 7 ? 'a' + k : 'x' + (k - 7));
        tl_spec_t s = { .name = name, .campaign = LS.campaign, .value = 1000 + k,
                        .source = (k < 5 || k >= 7) ? SRC(TENDER) : SRC(WEB) };
        if (k < 7) {
            s.close_y = 2041;
            s.close_m = 1;
            s.close_d = 10 + k;
        }
        TLead *l = NULL;
        tl_expect(tl_create(k < 7 ? LS.lena : LS.mark, &s, &l), RP_OK);
        rp_strlcpy(LS.ids[k], l->id, sizeof LS.ids[k]);
        if (k == 0 || k == 2 || k == 4)
            tl_expect(tl_stage(LS.lena, l->id, ST(CONTACTED), 0, NULL, NULL), RP_OK);
        tl_free(l);
    }
}

static const char *s_want_id(char c)
{
    return c >= 'x' ? LS.ids[7 + (c - 'x')] : LS.ids[c - 'a'];
}

static void test_lists(void **state)
{
    (void)state;
    s_make_list_data();
    int callers[3] = { LS.lena, LS.mark, LS.hedda };
    for (size_t i = 0; i < sizeof LIST_ROWS / sizeof LIST_ROWS[0]; i++) {
        const list_row_t *row = &LIST_ROWS[i];
        char arg[128] = "";
        if (row->arg)
            snprintf(arg, sizeof arg, row->arg, LS.sfx);
        Rapport__Leads__V1__ListByOwnerRequest lo = RAPPORT__LEADS__V1__LIST_BY_OWNER_REQUEST__INIT;
        Rapport__Leads__V1__ListByStageRequest ls = RAPPORT__LEADS__V1__LIST_BY_STAGE_REQUEST__INIT;
        Rapport__Leads__V1__ListBySourceRequest lr = RAPPORT__LEADS__V1__LIST_BY_SOURCE_REQUEST__INIT;
        Rapport__Leads__V1__ListByCampaignRequest lc = RAPPORT__LEADS__V1__LIST_BY_CAMPAIGN_REQUEST__INIT;
        Rapport__Leads__V1__ListByCloseRequest lcl = RAPPORT__LEADS__V1__LIST_BY_CLOSE_REQUEST__INIT;
        Rapport__Leads__V1__SearchByNameRequest sn = RAPPORT__LEADS__V1__SEARCH_BY_NAME_REQUEST__INIT;
        Rapport__V1__Date from = RAPPORT__V1__DATE__INIT, to = RAPPORT__V1__DATE__INIT;
        ProtobufCMessage *rq = NULL;
        const char *method = NULL;
        switch (row->kind) {
        case Q_OWNER:
            lo.owner = arg;
            lo.page_size = row->page_size;
            rq = &lo.base;
            method = LM("ListByOwner");
            break;
        case Q_STAGE:
            ls.stage = row->n1;
            ls.page_size = row->page_size;
            rq = &ls.base;
            method = LM("ListByStage");
            break;
        case Q_SOURCE:
            lr.source = row->n1;
            lr.page_size = row->page_size;
            rq = &lr.base;
            method = LM("ListBySource");
            break;
        case Q_CAMPAIGN:
            lc.campaign = LS.campaign;
            lc.page_size = row->page_size;
            rq = &lc.base;
            method = LM("ListByCampaign");
            break;
        case Q_CLOSE:
            from.year = to.year = 2041;
            from.month = to.month = 1;
            from.day = row->n1;
            to.day = row->n2;
            lcl.from = &from;
            lcl.to = &to;
            lcl.page_size = row->page_size;
            rq = &lcl.base;
            method = LM("ListByClose");
            break;
        case Q_NAME:
            sn.prefix = arg;
            sn.page_size = row->page_size;
            rq = &sn.base;
            method = LM("SearchByName");
            break;
        }
        char ids[64][RP_ULID_STRLEN + 1];
        int pages = 0;
        size_t n = tl_page_all(callers[row->caller], method, rq, ids, 64, &pages);
        size_t want_n = strlen(row->want);
        /* only this test's leads count: other tests' rows may share a stage or source */
        size_t mine = 0;
        for (size_t k = 0; k < n; k++)
            for (int j = 0; j < 10; j++)
                if (strcmp(ids[k], LS.ids[j]) == 0)
                    mine++;
        if (mine != want_n)
            fail_msg("%s: want %zu leads (%s), got %zu of ours in %zu rows", row->name, want_n,
                     row->want, mine, n);
        for (size_t k = 0; k < want_n; k++)
            if (!tl_ids_have(ids, n, s_want_id(row->want[k])))
                fail_msg("%s: lead %c missing", row->name, row->want[k]);
        for (size_t a = 0; a < n; a++)
            for (size_t b = a + 1; b < n; b++)
                if (strcmp(ids[a], ids[b]) == 0)
                    fail_msg("%s: %s listed twice", row->name, ids[a]);
        if (row->kind != Q_STAGE && row->kind != Q_SOURCE && n != want_n)
            fail_msg("%s: want exactly %zu rows, got %zu", row->name, want_n, n);
        if (want_n > row->page_size && pages < (int)((want_n + row->page_size - 1) / row->page_size))
            fail_msg("%s: %zu rows in %d pages of %u", row->name, n, pages, row->page_size);
    }
}

static void test_list_summaries_and_bad_queries(void **state)
{
    (void)state;
    s_make_list_data();
    Rapport__Leads__V1__ListByCampaignRequest lc = RAPPORT__LEADS__V1__LIST_BY_CAMPAIGN_REQUEST__INIT;
    lc.campaign = LS.campaign;
    lc.page_size = 1;
    TList *r = NULL;
    tl_expect(tl_call(LS.lena, LM("ListByCampaign"), &lc, &rapport__leads__v1__list_leads_reply__descriptor, &r),
              RP_OK);
    assert_int_equal(r->n_leads, 1);
    assert_string_equal(r->leads[0]->id, LS.ids[0]);
    assert_true(strncmp(r->leads[0]->company_name, "Ärger ", 7) == 0);
    assert_int_equal(r->leads[0]->stage, ST(CONTACTED));
    assert_int_equal(r->leads[0]->expected_value->units, 1000);
    assert_string_equal(r->leads[0]->campaign, LS.campaign);
    assert_int_equal(r->leads[0]->expected_close->day, 10);
    assert_true(*r->next_page_token);
    char token[512];
    rp_strlcpy(token, r->next_page_token, sizeof token);
    tl_free(r);

    /* a token of one query is no token of another */
    Rapport__Leads__V1__ListByStageRequest ls = RAPPORT__LEADS__V1__LIST_BY_STAGE_REQUEST__INIT;
    ls.stage = ST(WON);
    ls.page_token = token;
    tl_expect(tl_call(LS.lena, LM("ListByStage"), &ls, &rapport__leads__v1__list_leads_reply__descriptor, NULL),
              RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("page_token"));
    ls.page_token = "!!garbage!!";
    tl_expect(tl_call(LS.lena, LM("ListByStage"), &ls, &rapport__leads__v1__list_leads_reply__descriptor, NULL),
              RP_INVALID_ARGUMENT);
    /* required arguments */
    ls.page_token = "";
    ls.stage = 0;
    tl_expect(tl_call(LS.lena, LM("ListByStage"), &ls, &rapport__leads__v1__list_leads_reply__descriptor, NULL),
              RP_INVALID_ARGUMENT);
    Rapport__Leads__V1__SearchByNameRequest sn = RAPPORT__LEADS__V1__SEARCH_BY_NAME_REQUEST__INIT;
    sn.prefix = "  ..  ";
    tl_expect(tl_call(LS.lena, LM("SearchByName"), &sn, &rapport__leads__v1__list_leads_reply__descriptor, NULL),
              RP_INVALID_ARGUMENT);
    Rapport__Leads__V1__ListByCloseRequest lcl = RAPPORT__LEADS__V1__LIST_BY_CLOSE_REQUEST__INIT;
    Rapport__V1__Date d = RAPPORT__V1__DATE__INIT;
    d.year = 2041;
    d.month = 1;
    d.day = 10;
    lcl.from = &d;
    lcl.to = &d;
    tl_expect(tl_call(LS.lena, LM("ListByClose"), &lcl, &rapport__leads__v1__list_leads_reply__descriptor, NULL),
              RP_INVALID_ARGUMENT);
    /* the index follows updates: moving a close date moves the lead in ListByClose */
    Rapport__Leads__V1__UpdateRequest up = RAPPORT__LEADS__V1__UPDATE_REQUEST__INIT;
    Rapport__V1__Date nd = RAPPORT__V1__DATE__INIT;
    nd.year = 2041;
    nd.month = 1;
    nd.day = 21;
    static const char *const mask[] = { "expected_close", NULL };
    up.id = LS.ids[6];
    up.expected_close = &nd;
    up.update_mask = (char **)mask;
    up.n_update_mask = 1;
    tl_expect(tl_call(LS.lena, LM("Update"), &up, &rapport__leads__v1__lead__descriptor, NULL), RP_OK);
    Rapport__V1__Date f = d, t = d;
    f.day = 16;
    t.day = 22;
    lcl.from = &f;
    lcl.to = &t;
    lcl.page_size = 10;
    tl_expect(tl_call(LS.lena, LM("ListByClose"), &lcl, &rapport__leads__v1__list_leads_reply__descriptor, &r),
              RP_OK);
    assert_int_equal(r->n_leads, 1);
    assert_string_equal(r->leads[0]->id, LS.ids[6]);
    assert_int_equal(r->leads[0]->slip_count, 1);
    tl_free(r);
}

/* ---- stale leads ---- */

static size_t s_stale(int p, uint32_t days, char ids[][RP_ULID_STRLEN + 1], size_t cap)
{
    Rapport__Leads__V1__ListStaleRequest rq = RAPPORT__LEADS__V1__LIST_STALE_REQUEST__INIT;
    rq.days = days;
    rq.page_size = 1;
    int pages;
    return tl_page_all(p, LM("ListStale"), &rq.base, ids, cap, &pages);
}

static void test_stale(void **state)
{
    (void)state;
    char sub[64];
    snprintf(sub, sizeof sub, "u-stan-%d-%u", (int)getpid(), ++TL.seq);
    int stan = tl_add_person(sub, "manager", "b1", "/hq/sales/g4");
    TLead *l1 = tl_new_lead(stan), *l2 = tl_new_lead(stan), *l3 = tl_new_lead(stan);
    char ids[16][RP_ULID_STRLEN + 1];

    assert_int_equal(s_stale(stan, 1, ids, 16), 0);
    int64_t now = tl_advance(10 * TL_DAY_MS);
    /* an activity now freshens l2; closing l3 takes it off the stale list */
    TActivity *a = NULL;
    tl_expect(tl_activity(stan, l2->id, 0, &a), RP_OK);
    assert_true(a->occurred_at >= now);
    tl_free(a);
    tl_expect(tl_stage(stan, l3->id, ST(LOST), LOST(TIMING), NULL, NULL), RP_OK);

    size_t n = s_stale(stan, 7, ids, 16);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], l1->id);
    assert_int_equal(s_stale(stan, 11, ids, 16), 0);

    /* an activity back in time does not freshen the lead */
    tl_expect(tl_activity(stan, l1->id, now - 9 * TL_DAY_MS, NULL), RP_OK);
    TLead *g = NULL;
    tl_expect(tl_get(stan, l1->id, &g), RP_OK);
    assert_int_equal(g->last_activity_at, now - 9 * TL_DAY_MS);
    assert_int_equal(g->activity_count, 1);
    tl_free(g);
    assert_int_equal(s_stale(stan, 7, ids, 16), 1);
    /* an activity in the future is refused */
    tl_expect(tl_activity(stan, l1->id, now + TL_DAY_MS, NULL), RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("occurred_at"));

    tl_advance(5 * TL_DAY_MS);
    n = s_stale(stan, 3, ids, 16);
    assert_int_equal(n, 2);
    assert_true(tl_ids_have(ids, n, l1->id));
    assert_true(tl_ids_have(ids, n, l2->id));
    /* a reopened lead starts afresh */
    Rapport__Leads__V1__ReopenRequest ro = RAPPORT__LEADS__V1__REOPEN_REQUEST__INIT;
    ro.id = l3->id;
    tl_expect(tl_call(stan, LM("Reopen"), &ro, &rapport__leads__v1__lead__descriptor, NULL), RP_OK);
    assert_int_equal(s_stale(stan, 3, ids, 16), 2);
    /* other managers do not see stan's stale leads */
    n = s_stale(P_BORIS, 3, ids, 16);
    assert_false(tl_ids_have(ids, n, l1->id));
    /* bounds */
    Rapport__Leads__V1__ListStaleRequest bad = RAPPORT__LEADS__V1__LIST_STALE_REQUEST__INIT;
    tl_expect(tl_call(stan, LM("ListStale"), &bad, &rapport__leads__v1__list_leads_reply__descriptor, NULL),
              RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("days"));
    tl_free(l1);
    tl_free(l2);
    tl_free(l3);
}

/* ---- activities ---- */

typedef struct {
    const char *name;
    int kind, outcome;
    const char *next_step;
    bool due;
    int due_month;              /* 13 = invalid */
    int want_code;
    const char *want_field;
} act_row_t;

static const act_row_t ACT_ROWS[] = {
    { "call", AK(CALL), AO(POSITIVE), "Send brochure", true, 2, RP_OK, NULL },
    { "meeting_no_next_step", AK(MEETING), AO(NEUTRAL), NULL, false, 0, RP_OK, NULL },
    { "email", AK(EMAIL), AO(NO_CONTACT), NULL, false, 0, RP_OK, NULL },
    { "presentation", AK(PRESENTATION), AO(NEGATIVE), "Follow up", true, 3, RP_OK, NULL },
    { "correspondence", AK(CORRESPONDENCE), AO(POSITIVE), NULL, true, 4, RP_OK, NULL },
    { "no_kind", 0, AO(POSITIVE), NULL, false, 0, RP_INVALID_ARGUMENT, "kind" },
    { "no_outcome", AK(CALL), 0, NULL, false, 0, RP_INVALID_ARGUMENT, "outcome" },
    { "next_step_without_due", AK(CALL), AO(POSITIVE), "Call back", false, 0, RP_INVALID_ARGUMENT,
      "next_step_due" },
    { "bad_due_date", AK(CALL), AO(POSITIVE), "Call back", true, 13, RP_INVALID_ARGUMENT, "next_step_due" },
};

static void test_activities(void **state)
{
    (void)state;
    TLead *l = tl_new_lead(P_ANNA);
    uint64_t seq0 = tl_last_seq();
    char logged[8][RP_ULID_STRLEN + 1];
    size_t n_ok = 0;
    for (size_t i = 0; i < sizeof ACT_ROWS / sizeof ACT_ROWS[0]; i++) {
        const act_row_t *row = &ACT_ROWS[i];
        Rapport__Leads__V1__LogActivityRequest rq = RAPPORT__LEADS__V1__LOG_ACTIVITY_REQUEST__INIT;
        Rapport__V1__Date due = RAPPORT__V1__DATE__INIT;
        due.year = 2031;
        due.month = row->due_month;
        due.day = 1;
        rq.lead_id = l->id;
        rq.kind = row->kind;
        rq.outcome = row->outcome;
        rq.subject = (char *)row->name;
        rq.next_step = (char *)(row->next_step ? row->next_step : "");
        rq.next_step_due = row->due ? &due : NULL;
        TActivity *a = NULL;
        int rc = tl_call(P_ANNA, LM("LogActivity"), &rq, &rapport__leads__v1__activity__descriptor, &a);
        if (rc != row->want_code)
            fail_msg("%s: want %s, got %s (%s)", row->name, rp_code_name(row->want_code),
                     rp_code_name(rc), TL.st.message);
        if (row->want_field && !tl_has_violation(row->want_field))
            fail_msg("%s: want a violation on %s (%s)", row->name, row->want_field, TL.st.message);
        if (rc == RP_OK) {
            assert_string_equal(a->lead_id, l->id);
            assert_int_equal(a->kind, row->kind);
            assert_string_equal(a->by, "u-anna");
            rp_strlcpy(logged[n_ok++], a->id, RP_ULID_STRLEN + 1);
        }
        tl_free(a);
    }
    assert_int_equal(tl_count_events(seq0, "activity.logged", l->id), n_ok);

    /* listed oldest first, page by page */
    Rapport__Leads__V1__ListActivitiesRequest rq = RAPPORT__LEADS__V1__LIST_ACTIVITIES_REQUEST__INIT;
    rq.lead_id = l->id;
    rq.page_size = 2;
    char token[512] = "";
    size_t seen = 0;
    int pages = 0;
    for (;;) {
        rq.page_token = token;
        Rapport__Leads__V1__ListActivitiesReply *r = NULL;
        tl_expect(tl_call(P_ANNA, LM("ListActivities"), &rq,
                          &rapport__leads__v1__list_activities_reply__descriptor, &r), RP_OK);
        pages++;
        assert_true(r->n_activities <= 2);
        for (size_t i = 0; i < r->n_activities; i++) {
            assert_true(seen < n_ok);
            assert_string_equal(r->activities[i]->id, logged[seen]);
            seen++;
        }
        bool more = *r->next_page_token;
        rp_strlcpy(token, r->next_page_token, sizeof token);
        tl_free(r);
        if (!more)
            break;
    }
    assert_int_equal(seen, n_ok);
    assert_true(pages >= 3);
    TLead *g = NULL;
    tl_expect(tl_get(P_ANNA, l->id, &g), RP_OK);
    assert_int_equal(g->activity_count, n_ok);
    assert_true(g->last_activity_at >= l->last_activity_at);
    tl_free(g);
    /* another manager cannot list them */
    rq.page_token = "";
    tl_expect(tl_call(P_BORIS, LM("ListActivities"), &rq,
                      &rapport__leads__v1__list_activities_reply__descriptor, NULL), RP_NOT_FOUND);
    tl_free(l);
}

/* ---- funnel ---- */

static Rapport__Leads__V1__FunnelReply *s_funnel(int p, int from_days, int to_days)
{
    int64_t now = tl_now();
    Rapport__V1__Date f = tl_date(now, from_days), t = tl_date(now, to_days);
    Rapport__Leads__V1__FunnelRequest rq = RAPPORT__LEADS__V1__FUNNEL_REQUEST__INIT;
    rq.from = &f;
    rq.to = &t;
    Rapport__Leads__V1__FunnelReply *r = NULL;
    tl_expect(tl_call(p, LM("Funnel"), &rq, &rapport__leads__v1__funnel_reply__descriptor, &r), RP_OK);
    return r;
}

typedef struct {
    int stage;
    uint32_t count, reached, bp;
    const char *cur;
    int64_t value;
} funnel_want_t;

static const funnel_want_t FUNNEL_WANT[] = {
    { ST(NEW), 1, 6, 10000, "EUR", 1000 },
    { ST(CONTACTED), 1, 4, 6666, "EUR", 2000 },
    { ST(INTERESTED), 0, 3, 5000, NULL, 0 },
    { ST(NEEDS_IDENTIFIED), 0, 2, 3333, NULL, 0 },
    { ST(OFFER), 1, 2, 3333, "USD", 3000 },
    { ST(NEGOTIATION), 0, 1, 1666, NULL, 0 },
    { ST(WON), 1, 1, 1666, "EUR", 4000 },
    { ST(LOST), 2, 2, 3333, "EUR", 500 },
};

static void test_funnel(void **state)
{
    (void)state;
    char sub[64];
    snprintf(sub, sizeof sub, "u-fay-%d-%u", (int)getpid(), ++TL.seq);
    int fay = tl_add_person(sub, "manager", "b1", "/hq/sales/g5");
    struct { int source; int64_t value; const char *cur; int path[4]; bool disqualify; } leads[] = {
        { SRC(WEB), 1000, "EUR", { 0 }, false },
        { SRC(WEB), 2000, "EUR", { ST(CONTACTED), 0 }, false },
        { SRC(FAIR), 3000, "USD", { ST(OFFER), 0 }, false },
        { SRC(FAIR), 4000, "EUR", { ST(NEGOTIATION), ST(WON), 0 }, false },
        { SRC(WEB), 500, "EUR", { ST(INTERESTED), ST(LOST), 0 }, false },
        { SRC(COLD_CALL), 0, NULL, { 0 }, true },
    };
    for (size_t i = 0; i < sizeof leads / sizeof leads[0]; i++) {
        tl_spec_t s = { .source = leads[i].source, .value = leads[i].value, .currency = leads[i].cur,
                        .role = ROLE(DECISION_MAKER) };
        TLead *l = NULL;
        tl_expect(tl_create(fay, &s, &l), RP_OK);
        for (int k = 0; leads[i].path[k]; k++)
            tl_expect(tl_stage(fay, l->id, leads[i].path[k], LOST(PRICE), NULL, NULL), RP_OK);
        if (leads[i].disqualify) {
            Rapport__Leads__V1__DisqualifyRequest dq = RAPPORT__LEADS__V1__DISQUALIFY_REQUEST__INIT;
            dq.id = l->id;
            dq.reason = "too small";
            tl_expect(tl_call(fay, LM("Disqualify"), &dq, &rapport__leads__v1__lead__descriptor, NULL), RP_OK);
        }
        tl_free(l);
    }

    Rapport__Leads__V1__FunnelReply *r = s_funnel(fay, 0, 1);
    assert_int_equal(r->total, 6);
    assert_false(r->truncated);
    assert_int_equal(r->n_stages, 8);
    for (size_t i = 0; i < 8; i++) {
        const funnel_want_t *w = &FUNNEL_WANT[i];
        Rapport__Leads__V1__FunnelStage *s = r->stages[i];
        if ((int)s->stage != w->stage || s->count != w->count || s->reached != w->reached
            || s->conversion_bp != w->bp)
            fail_msg("stage %d: want count %u reached %u bp %u, got stage %d %u %u %u", w->stage, w->count,
                     w->reached, w->bp, s->stage, s->count, s->reached, s->conversion_bp);
        if (w->cur) {
            assert_int_equal(s->n_value, 1);
            assert_string_equal(s->value[0]->currency, w->cur);
            assert_int_equal(s->value[0]->units, w->value);
        } else {
            assert_int_equal(s->n_value, 0);
        }
    }
    assert_int_equal(r->n_sources, 3);
    static const struct { int source; uint32_t total, won, lost, bp; } want_src[] = {
        { SRC(COLD_CALL), 1, 0, 1, 0 }, { SRC(WEB), 3, 0, 1, 0 }, { SRC(FAIR), 2, 1, 0, 5000 },
    };
    for (size_t i = 0; i < 3; i++) {
        Rapport__Leads__V1__FunnelSource *s = r->sources[i];
        assert_int_equal(s->source, want_src[i].source);
        assert_int_equal(s->total, want_src[i].total);
        assert_int_equal(s->won, want_src[i].won);
        assert_int_equal(s->lost, want_src[i].lost);
        assert_int_equal(s->conversion_bp, want_src[i].bp);
    }
    tl_free(r);

    /* a period before: nothing */
    r = s_funnel(fay, -10, -1);
    assert_int_equal(r->total, 0);
    tl_free(r);
    /* the head of another group sees none of fay's leads */
    r = s_funnel(P_GUS, 0, 1);
    assert_int_equal(r->total, 0);
    tl_free(r);
    /* a director sees them among the company's */
    r = s_funnel(P_DORA, 0, 1);
    assert_true(r->total >= 6);
    tl_free(r);
    /* bad periods; the integration role has no leads.report */
    Rapport__V1__Date d = tl_date(tl_now(), 0);
    Rapport__Leads__V1__FunnelRequest rq = RAPPORT__LEADS__V1__FUNNEL_REQUEST__INIT;
    rq.from = &d;
    rq.to = &d;
    tl_expect(tl_call(fay, LM("Funnel"), &rq, &rapport__leads__v1__funnel_reply__descriptor, NULL),
              RP_INVALID_ARGUMENT);
    rq.to = NULL;
    tl_expect(tl_call(fay, LM("Funnel"), &rq, &rapport__leads__v1__funnel_reply__descriptor, NULL),
              RP_INVALID_ARGUMENT);
    assert_true(tl_has_violation("to"));
    tl_expect(tl_call(P_INTEG, LM("Funnel"), &rq, &rapport__leads__v1__funnel_reply__descriptor, NULL),
              RP_PERMISSION_DENIED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_list_summaries_and_bad_queries),
        cmocka_unit_test(test_activities),
        cmocka_unit_test(test_funnel),
        cmocka_unit_test(test_stale),
    };
    return cmocka_run_group_tests_name("leads_lists", tests, tl_setup, tl_teardown);
}
