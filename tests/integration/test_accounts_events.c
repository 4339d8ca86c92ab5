/* test_accounts_events.c - rapport-accounts and other services' events, and its
 * job, on real processes:
 *   lead_won_creates     a won lead becomes a client with its contacts; the lead's
 *                        earlier history (created, activity) shows in the timeline
 *   lead_won_links       a won lead whose tax id is a client's links to it and adds
 *                        only the contacts the client lacks
 *   replay_twice         accounts' stored offset is wiped and the whole leads stream
 *                        applied a second time: nothing is created or linked twice
 *   kill9_both           leads and accounts are each killed with SIGKILL while leads
 *                        are won: every won lead ends linked exactly once
 *   contact_overdue      the policy job raises client.contact_overdue and a task once
 *                        per lapse as the test clock moves; task.overdue once
 *   pending_purge        the same job drops pending entries of a lead never won once
 *                        they are older than RAPPORT_ACCOUNTS_PENDING_DAYS (365), and
 *                        keeps younger ones
 */
#include "test_accounts.h"
#include <signal.h>

#define LM(name) "rapport.leads.v1.Leads/" name

/* s_open_lead - a lead of p with tax_id, contacts (emails) and an activity, not won.
 * Returns its id (malloc'd). */
static char *s_open_lead(int p, const char *tax_id, const char *const *emails, size_t n_emails)
{
    char name[96];
    Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
    co.name = ta_unique("Won Co", name, sizeof name);
    co.tax_id = (char *)tax_id;
    co.industry = "Retail";
    co.size = RAPPORT__LEADS__V1__COMPANY_SIZE__COMPANY_SIZE_LARGE;
    Rapport__Leads__V1__Contact ct[4];
    Rapport__Leads__V1__Contact *cts[4];
    for (size_t i = 0; i < n_emails; i++) {
        rapport__leads__v1__contact__init(&ct[i]);
        ct[i].name = i == 0 ? "Dana Decider" : "Nick Negotiator";
        ct[i].email = (char *)emails[i];
        ct[i].phone = "+43 1 555 0100";
        ct[i].role = i == 0 ? RAPPORT__LEADS__V1__CONTACT_ROLE__CONTACT_ROLE_DECISION_MAKER
                            : RAPPORT__LEADS__V1__CONTACT_ROLE__CONTACT_ROLE_NEGOTIATOR;
        cts[i] = &ct[i];
    }
    Rapport__V1__Money v = RAPPORT__V1__MONEY__INIT;
    v.units = 250000;
    v.currency = "EUR";
    Rapport__Leads__V1__CreateRequest rq = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
    rq.company = &co;
    rq.contacts = cts;
    rq.n_contacts = n_emails;
    rq.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_WEB;
    rq.expected_value = &v;
    rq.force = true;
    Rapport__Leads__V1__Lead *l = NULL;
    ta_expect(ta_call_on(TA.leads[p], NULL, LM("Create"), &rq, &rapport__leads__v1__lead__descriptor, &l), RP_OK);
    char *id = rp_strdup(l->id);
    ta_free(l);

    Rapport__Leads__V1__LogActivityRequest aq = RAPPORT__LEADS__V1__LOG_ACTIVITY_REQUEST__INIT;
    aq.lead_id = id;
    aq.kind = RAPPORT__LEADS__V1__ACTIVITY_KIND__ACTIVITY_KIND_MEETING;
    aq.outcome = RAPPORT__LEADS__V1__ACTIVITY_OUTCOME__ACTIVITY_OUTCOME_POSITIVE;
    aq.subject = "Demo";
    ta_expect(ta_call_on(TA.leads[p], NULL, LM("LogActivity"), &aq, &rapport__leads__v1__activity__descriptor, NULL), RP_OK);
    return id;
}

/* s_win - p wins the lead. */
static void s_win(int p, const char *lead_id)
{
    Rapport__Leads__V1__SetStageRequest sq = RAPPORT__LEADS__V1__SET_STAGE_REQUEST__INIT;
    sq.id = (char *)lead_id;
    sq.stage = RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_WON;
    ta_expect(ta_call_on(TA.leads[p], NULL, LM("SetStage"), &sq, &rapport__leads__v1__lead__descriptor, NULL), RP_OK);
}

/* s_won_lead - s_open_lead, won. Returns its id (malloc'd). */
static char *s_won_lead(int p, const char *tax_id, const char *const *emails, size_t n_emails)
{
    char *id = s_open_lead(p, tax_id, emails, n_emails);
    s_win(p, id);
    return id;
}

/* s_client_of_lead - the client (of the director's view) that lists lead_id, found
 * through the accounts' client.* events; NULL when none yet. */
static TClient *s_client_of_lead(const char *lead_id, int *links)
{
    size_t n = 0;
    TClient *found = NULL;
    *links = 0;
    Rapport__V1__Event **ev = rp_suite_replay(TA.suite, "accounts", 1, AEV("client."), &n);
    char seen[256][RP_ULID_STRLEN + 1];
    size_t n_seen = 0;
    for (size_t i = n; i-- > 0;) {      /* newest first: one check per client */
        bool dup = false;
        for (size_t j = 0; j < n_seen; j++)
            dup = dup || strcmp(seen[j], ev[i]->subject) == 0;
        if (dup || n_seen == 256)
            continue;
        rp_strlcpy(seen[n_seen++], ev[i]->subject, RP_ULID_STRLEN + 1);
        TClient *c = NULL;
        if (ta_get_client(P_DORA, ev[i]->subject, &c) != RP_OK)
            continue;
        int here = 0;
        for (size_t k = 0; k < c->n_lead_ids; k++)
            if (strcmp(c->lead_ids[k], lead_id) == 0)
                here++;
        *links += here;
        if (here && !found)
            found = c;
        else
            ta_free(c);
    }
    rp_suite_events_free(&ev, n);
    return found;
}

static bool s_linked(void *arg)
{
    int links;
    TClient *c = s_client_of_lead(arg, &links);
    ta_free(c);
    return c != NULL;
}

static TClient *s_wait_client(const char *lead_id)
{
    if (!ta_wait(s_linked, (void *)lead_id)) {
        rp_suite_print_log(TA.suite, "accounts");
        fail_msg("lead %s never became a client", lead_id);
    }
    int links;
    TClient *c = s_client_of_lead(lead_id, &links);
    assert_int_equal(links, 1);
    return c;
}

static size_t s_contacts(const char *client_id)
{
    Rapport__Accounts__V1__ListContactsRequest rq = RAPPORT__ACCOUNTS__V1__LIST_CONTACTS_REQUEST__INIT;
    rq.client_id = (char *)client_id;
    Rapport__Accounts__V1__ListContactsReply *r = NULL;
    ta_expect(ta_call(P_DORA, AM("ListContacts"), &rq, &rapport__accounts__v1__list_contacts_reply__descriptor, &r), RP_OK);
    size_t n = r->n_contacts;
    ta_free(r);
    return n;
}

static size_t s_timeline(const char *client_id, const char *type_has)
{
    Rapport__Accounts__V1__TimelineRequest rq = RAPPORT__ACCOUNTS__V1__TIMELINE_REQUEST__INIT;
    rq.client_id = (char *)client_id;
    rq.page_size = 500;
    Rapport__Accounts__V1__TimelineReply *r = NULL;
    ta_expect(ta_call(P_DORA, AM("Timeline"), &rq, &rapport__accounts__v1__timeline_reply__descriptor, &r), RP_OK);
    size_t n = 0;
    for (size_t i = 0; i < r->n_entries; i++)
        if (!type_has || strstr(r->entries[i]->type, type_has))
            n++;
    ta_free(r);
    return n;
}

static void test_lead_won_creates(void **state)
{
    (void)state;
    char tax[32];
    snprintf(tax, sizeof tax, "WON%06d", (int)getpid() % 1000000);
    const char *emails[] = { "dana@won.example", "nick@won.example" };
    char *lead = s_won_lead(P_ANNA, tax, emails, 2);
    TClient *c = s_wait_client(lead);
    assert_string_equal(c->owner, "u-anna");
    assert_string_equal(c->unit, "/hq/sales/g1");
    assert_string_equal(c->tax_id, tax);
    assert_int_equal(c->lifecycle, LIFE(NEW));
    assert_int_equal(c->kind, KIND(LEGAL_ENTITY));
    assert_int_equal(c->size, RAPPORT__ACCOUNTS__V1__COMPANY_SIZE__COMPANY_SIZE_LARGE);
    assert_string_equal(c->created_by, "u-anna");
    assert_int_equal(s_contacts(c->id), 2);
    /* anna sees her new client; boris does not */
    ta_expect(ta_get_client(P_ANNA, c->id, NULL), RP_OK);
    ta_expect(ta_get_client(P_BORIS, c->id, NULL), RP_NOT_FOUND);
    /* the lead's history, from before it was won, is in the 360 timeline */
    assert_int_equal(s_timeline(c->id, "lead.created"), 1);
    assert_int_equal(s_timeline(c->id, "activity.logged"), 1);
    assert_int_equal(s_timeline(c->id, "lead.won"), 1);
    assert_true(s_timeline(c->id, "lead.stage_changed") >= 1);
    ta_free(c);
    free(lead);
}

static void test_lead_won_links(void **state)
{
    (void)state;
    char tax[32];
    snprintf(tax, sizeof tax, "LNK%06d", (int)getpid() % 1000000);
    TClient *mine = ta_new_client(P_ANNA, TIER(KEY), tax);
    TContact *k = ta_new_contact(P_ANNA, mine->id, "dana@link.example");
    ta_free(k);
    uint64_t seq0 = ta_seq();
    const char *emails[] = { "DANA@link.example", "nick@link.example" };
    char *lead = s_won_lead(P_ANNA, tax, emails, 2);
    TClient *c = s_wait_client(lead);
    assert_string_equal(c->id, mine->id);
    assert_int_equal(c->tier, TIER(KEY));              /* the client's own facts stay */
    assert_int_equal(s_contacts(c->id), 2);            /* dana known already, nick added */
    assert_int_equal(ta_events(seq0, AEV("client.created"), NULL), 0);
    assert_int_equal(ta_events(seq0, AEV("contact.created"), NULL), 1);
    ta_free(c);
    ta_free(mine);
    free(lead);
}

static void test_replay_twice(void **state)
{
    (void)state;
    uint64_t seq0 = ta_seq();
    size_t created0 = ta_events(0, AEV("client.created"), NULL);
    size_t contacts0 = ta_events(0, AEV("contact.created"), NULL);
    char tax[32];
    snprintf(tax, sizeof tax, "RPL%06d", (int)getpid() % 1000000);
    const char *emails[] = { "dana@replay.example" };
    char *first = s_won_lead(P_BORIS, tax, emails, 1);
    TClient *c = s_wait_client(first);
    size_t tl = s_timeline(c->id, NULL);
    assert_int_equal(ta_events(0, AEV("client.created"), NULL), created0 + 1);

    assert_int_equal(rp_suite_kill(TA.suite, "accounts", SIGTERM), 0);
    rp_suite_wipe_offsets(TA.suite, "accounts");
    ta_start_accounts();
    ta_connect();
    /* a new lead won after the replay point: once it is linked, the whole stream
     * before it has been applied a second time */
    snprintf(tax, sizeof tax, "RPM%06d", (int)getpid() % 1000000);
    char *marker = s_won_lead(P_BORIS, tax, emails, 1);
    TClient *m = s_wait_client(marker);
    int links;
    TClient *again = s_client_of_lead(first, &links);
    assert_int_equal(links, 1);
    assert_string_equal(again->id, c->id);
    assert_int_equal(again->n_lead_ids, 1);
    assert_int_equal(s_contacts(c->id), 1);
    assert_int_equal(s_timeline(c->id, NULL), tl);
    assert_int_equal(ta_events(0, AEV("client.created"), NULL), created0 + 2);
    assert_int_equal(ta_events(0, AEV("contact.created"), NULL), contacts0 + 2);
    assert_true(ta_seq() > seq0);
    ta_free(again);
    ta_free(m);
    ta_free(c);
    free(first);
    free(marker);
}

static void test_kill9_both(void **state)
{
    (void)state;
    enum { N = 6 };
    char *leads[N];
    const char *emails[] = { "k9@kill.example" };
    size_t created0 = ta_events(0, AEV("client.created"), NULL);
    for (int i = 0; i < N; i++) {
        char tax[32];
        snprintf(tax, sizeof tax, "K9%d-%06d", i, (int)getpid() % 1000000);
        leads[i] = s_won_lead(P_CARL, tax, emails, 1);
        if (i == 1) {
            rp_suite_kill(TA.suite, "accounts", SIGKILL);
        } else if (i == 3) {
            ta_start_accounts();
            ta_connect();
            rp_suite_kill(TA.suite, "accounts", SIGKILL);   /* maybe mid-catch-up */
            ta_start_accounts();
            ta_connect();
        }
    }
    TClient *c = s_wait_client(leads[N - 1]);
    ta_free(c);
    for (int i = 0; i < N; i++) {
        c = s_wait_client(leads[i]);
        assert_int_equal(c->n_lead_ids, 1);
        assert_int_equal(s_contacts(c->id), 1);
        ta_free(c);
        free(leads[i]);
    }
    assert_int_equal(ta_events(0, AEV("client.created"), NULL), created0 + N);
}

static void test_kill9_upstream(void **state)
{
    (void)state;
    const char *emails[] = { "up@kill.example" };
    char tax[32];
    snprintf(tax, sizeof tax, "UPK-%06d", (int)getpid() % 1000000);
    char *a = s_won_lead(P_CARL, tax, emails, 1);
    rp_suite_kill(TA.suite, "leads", SIGKILL);
    /* the same ports: accounts' RAPPORT_LEADS_* still point there */
    char bind[300], pub[300];
    snprintf(bind, sizeof bind, "RAPPORT_BIND=%s", rp_suite_rpc(TA.suite, "leads"));
    snprintf(pub, sizeof pub, "RAPPORT_PUB_BIND=%s", rp_suite_pub(TA.suite, "leads"));
    const char *env[] = { "RAPPORT_TEST_CLOCK=1", bind, pub, NULL };
    rp_suite_start(TA.suite, "leads", env);
    ta_connect();
    snprintf(tax, sizeof tax, "UPL-%06d", (int)getpid() % 1000000);
    char *b = s_won_lead(P_CARL, tax, emails, 1);
    TClient *ca = s_wait_client(a), *cb = s_wait_client(b);
    assert_int_equal(ca->n_lead_ids, 1);
    assert_int_equal(cb->n_lead_ids, 1);
    ta_free(ca);
    ta_free(cb);
    free(a);
    free(b);
}

/* ---- the contact-policy job ---- */

typedef struct {
    const char *client_id;
    size_t want;
} overdue_t;

static bool s_overdue_reached(void *arg)
{
    overdue_t *o = arg;
    return ta_events(0, AEV("client.contact_overdue"), o->client_id) >= o->want;
}

static void s_wait_overdue(const char *client_id, size_t want)
{
    overdue_t o = { client_id, want };
    if (!ta_wait(s_overdue_reached, &o))
        fail_msg("client %s: want %zu contact_overdue events, got %zu", client_id, want,
                 ta_events(0, AEV("client.contact_overdue"), client_id));
}

static void test_contact_overdue(void **state)
{
    (void)state;
    char *tok = rp_suite_token(TA.suite, "u-silent", "manager", "b1", "/hq/sales/g1", NULL, 3600);
    rp_client_t *me = rp_suite_client(TA.suite, "accounts", tok);
    TClient *key = NULL, *corp = NULL, *retail = NULL;
    int tiers[] = { TIER(KEY), TIER(CORPORATE), TIER(RETAIL) };
    TClient **out[] = { &key, &corp, &retail };
    for (int i = 0; i < 3; i++) {
        char name[64];
        Rapport__Accounts__V1__CreateClientRequest rq = RAPPORT__ACCOUNTS__V1__CREATE_CLIENT_REQUEST__INIT;
        rq.kind = KIND(LEGAL_ENTITY);
        rq.legal_name = ta_unique("Silent Co", name, sizeof name);
        rq.tier = tiers[i];
        ta_expect(ta_call_on(me, NULL, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, out[i]), RP_OK);
    }
    /* 15 days of silence: the key client (14 days) lapses, once */
    rp_suite_clock_advance(TA.suite, "accounts", 15 * TA_DAY_MS);
    s_wait_overdue(key->id, 1);
    assert_int_equal(ta_events(0, AEV("client.contact_overdue"), corp->id), 0);
    /* its task, for the owner */
    Rapport__Accounts__V1__ListTasksRequest lq = RAPPORT__ACCOUNTS__V1__LIST_TASKS_REQUEST__INIT;
    lq.client_id = key->id;
    Rapport__Accounts__V1__ListTasksReply *lr = NULL;
    ta_expect(ta_call_on(me, NULL, AM("ListTasks"), &lq, &rapport__accounts__v1__list_tasks_reply__descriptor, &lr), RP_OK);
    assert_int_equal(lr->n_tasks, 1);
    assert_string_equal(lr->tasks[0]->assignee, "u-silent");
    assert_string_equal(lr->tasks[0]->origin, "contact_policy");
    assert_string_equal(lr->tasks[0]->assigned_by, "system");
    char task_id[RP_ULID_STRLEN + 1];
    rp_strlcpy(task_id, lr->tasks[0]->id, sizeof task_id);
    ta_free(lr);
    /* the portfolio shows it */
    Rapport__Accounts__V1__PortfolioRequest pq = RAPPORT__ACCOUNTS__V1__PORTFOLIO_REQUEST__INIT;
    Rapport__Accounts__V1__PortfolioReply *pr = NULL;
    ta_expect(ta_call_on(me, NULL, AM("Portfolio"), &pq, &rapport__accounts__v1__portfolio_reply__descriptor, &pr), RP_OK);
    for (size_t i = 0; i < pr->n_rows; i++)
        if (strcmp(pr->rows[i]->client_id, key->id) == 0) {
            assert_true(pr->rows[i]->contact_overdue);
            assert_int_equal(pr->rows[i]->silence_days, 15);
            assert_int_equal(pr->rows[i]->open_tasks, 1);
        }
    ta_free(pr);

    /* 31 days: the corporate client lapses; the key client's lapse is not raised again,
     * and its task (due day 15) is overdue, once */
    rp_suite_clock_advance(TA.suite, "accounts", 16 * TA_DAY_MS);
    s_wait_overdue(corp->id, 1);
    s_wait_overdue(key->id, 1);
    assert_int_equal(ta_events(0, AEV("client.contact_overdue"), key->id), 1);
    /* raised by a job, yet it carries the client's branch */
    size_t nev = 0;
    Rapport__V1__Event **ev = rp_suite_replay(TA.suite, "accounts", 1, AEV("client.contact_overdue"), &nev);
    assert_true(nev > 0);
    for (size_t i = 0; i < nev; i++) {
        assert_string_equal(ev[i]->branch, "b1");
        assert_string_equal(ev[i]->source, "/branches/b1/accounts");
    }
    rp_suite_events_free(&ev, nev);
    for (int i = 0; i < 300 && ta_events(0, AEV("task.overdue"), task_id) == 0; i++)
        usleep(50 * 1000);
    assert_int_equal(ta_events(0, AEV("task.overdue"), task_id), 1);
    /* a contact starts a new silence; 15 days later it lapses again: the second lapse */
    ta_expect(ta_call_on(me, NULL, AM("LogInteraction"), &(Rapport__Accounts__V1__LogInteractionRequest){
                  PROTOBUF_C_MESSAGE_INIT(&rapport__accounts__v1__log_interaction_request__descriptor),
                  .client_id = key->id, .contact_id = "", .channel = CHAN(VISIT), .direction = DIR(OUTBOUND),
                  .summary = "Visited", .outcome = OUT(POSITIVE) },
              &rapport__accounts__v1__interaction__descriptor, NULL), RP_OK);
    rp_suite_clock_advance(TA.suite, "accounts", 15 * TA_DAY_MS);
    s_wait_overdue(key->id, 2);
    /* the corporate one has had no new contact: still one; retail has no policy. A key
     * client made now lapses after the next move: once its lapse is raised, the job
     * has run after that move. */
    char name[64];
    Rapport__Accounts__V1__CreateClientRequest mq = RAPPORT__ACCOUNTS__V1__CREATE_CLIENT_REQUEST__INIT;
    mq.kind = KIND(LEGAL_ENTITY);
    mq.legal_name = ta_unique("Marker Co", name, sizeof name);
    mq.tier = TIER(KEY);
    TClient *marker = NULL;
    ta_expect(ta_call_on(me, NULL, AM("CreateClient"), &mq, &rapport__accounts__v1__client__descriptor, &marker), RP_OK);
    rp_suite_clock_advance(TA.suite, "accounts", 60 * TA_DAY_MS);
    s_wait_overdue(marker->id, 1);
    ta_free(marker);
    assert_int_equal(ta_events(0, AEV("client.contact_overdue"), corp->id), 1);
    assert_int_equal(ta_events(0, AEV("client.contact_overdue"), key->id), 2);
    assert_int_equal(ta_events(0, AEV("client.contact_overdue"), retail->id), 0);
    assert_int_equal(ta_events(0, AEV("task.overdue"), task_id), 1);
    ta_free(key);
    ta_free(corp);
    ta_free(retail);
    rp_client_destroy(&me);
    free(tok);
}

/* ---- the purge of pending entries ---- */

/* s_marker - a lead won now, once it is a client: every leads event before it has
 * been applied by accounts. */
static void s_marker(const char *tag)
{
    char tax[32];
    const char *emails[] = { "marker@purge.example" };
    snprintf(tax, sizeof tax, "%s-%06d", tag, (int)getpid() % 1000000);
    char *lead = s_won_lead(P_ANNA, tax, emails, 1);
    TClient *c = s_wait_client(lead);
    ta_free(c);
    free(lead);
}

static void s_advance_both(int64_t days)
{
    rp_suite_clock_advance(TA.suite, "leads", days * TA_DAY_MS);
    rp_suite_clock_advance(TA.suite, "accounts", days * TA_DAY_MS);
}

/* A lead never won leaves entries in pending; the job drops those older than
 * RAPPORT_ACCOUNTS_PENDING_DAYS (365) and keeps younger ones: a lead won after that
 * shows only what happened within the year. */
static void test_pending_purge(void **state)
{
    (void)state;
    char tax_old[32], tax_young[32];
    const char *emails[] = { "old@purge.example" };
    snprintf(tax_old, sizeof tax_old, "PRG-OLD-%06d", (int)getpid() % 1000000);
    snprintf(tax_young, sizeof tax_young, "PRG-NEW-%06d", (int)getpid() % 1000000);
    char *old = s_open_lead(P_ANNA, tax_old, emails, 1);      /* created, activity: pending */
    s_marker("PRG-M1");
    s_advance_both(200);
    char *young = s_open_lead(P_ANNA, tax_young, emails, 1);  /* 200 days younger */
    s_marker("PRG-M2");
    /* a key client lapses after the next move: once its lapse is raised, the job
     * (which purges in the same run) has run after the move */
    TClient *m = ta_new_client(P_ANNA, TIER(KEY), NULL);
    s_advance_both(200);        /* old: 400 days and more, young: 200 days and more */
    s_wait_overdue(m->id, 1);
    ta_free(m);

    s_win(P_ANNA, old);
    s_win(P_ANNA, young);
    TClient *co = s_wait_client(old), *cy = s_wait_client(young);
    /* the old lead's history before the purge is gone; what came after is there */
    assert_int_equal(s_timeline(co->id, "lead.created"), 0);
    assert_int_equal(s_timeline(co->id, "activity.logged"), 0);
    assert_int_equal(s_timeline(co->id, "lead.won"), 1);
    /* the young one's is whole */
    assert_int_equal(s_timeline(cy->id, "lead.created"), 1);
    assert_int_equal(s_timeline(cy->id, "activity.logged"), 1);
    assert_int_equal(s_timeline(cy->id, "lead.won"), 1);
    ta_free(co);
    ta_free(cy);
    free(old);
    free(young);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lead_won_creates),
        cmocka_unit_test(test_lead_won_links),
        cmocka_unit_test(test_replay_twice),
        cmocka_unit_test(test_kill9_both),
        cmocka_unit_test(test_kill9_upstream),
        cmocka_unit_test(test_contact_overdue),
        cmocka_unit_test(test_pending_purge),   /* last: it moves the clocks a year on */
    };
    return cmocka_run_group_tests(tests, ta_setup, ta_teardown);
}
