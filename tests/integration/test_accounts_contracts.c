/* test_accounts_contracts.c - rapport-accounts following rapport-contracts, on real
 * processes: rapport-leads, rapport-contracts following leads, and rapport-accounts
 * following both (RAPPORT_ACCOUNTS_FROM_CONTRACTS on by default), all with the test
 * clock; contracts sweeps its daily jobs every 200 ms.
 *   signed_in_timeline   a contract drafted, signed and activated for a client shows
 *                        in the client's 360 timeline; a quote sent too
 *   expiring_tasks       moving contracts' clock to 60, 30 and 7 days before the end
 *                        makes exactly one renewal task per notice for the owner,
 *                        linked to the contract and the client, each with task.created
 *   lead_contract        a contract drafted by contracts from a won lead (no client
 *                        id, only the lead) joins the client accounts makes from the
 *                        same lead.won, whichever stream is applied first; its
 *                        renewal notice finds the client through the contract
 *   contract_before_lead the same with the contract applied first (accounts follows
 *                        leads only later): the draft waits on its lead
 *   replay_twice         accounts' offsets are wiped and both streams applied again:
 *                        no second task, task.created or timeline entry
 *   kill9                accounts is killed with SIGKILL while contracts are signed
 *                        and notices raised: nothing lost, nothing twice
 *   off                  RAPPORT_ACCOUNTS_FROM_CONTRACTS=0: accounts does not follow
 *                        contracts (and a bad value of it or of
 *                        RAPPORT_ACCOUNTS_PENDING_DAYS stops the start with exit 2)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_leads.h"
#include "rapport/clock.h"
#include "rapport/status.h"
#include "rapport/ulid.h"
#include "rapport/util.h"
#include "rapport/accounts/v1/accounts.pb-c.h"
#include "rapport/contracts/v1/contracts.pb-c.h"
#include "rapport/leads/v1/leads.pb-c.h"

#define AM(name) "rapport.accounts.v1.Accounts/" name
#define CM(name) "rapport.contracts.v1.Contracts/" name
#define LM(name) "rapport.leads.v1.Leads/" name
#define DAY_MS 86400000LL
#define TIMEOUT 10000

typedef Rapport__Accounts__V1__Client TClient;
typedef Rapport__Accounts__V1__Task TTask;
typedef Rapport__Contracts__V1__Contract TContract;

static struct {
    rp_suite_t *suite;
    char *anna_tok, *anna_ct_tok, *dora_tok;
    rp_client_t *acc_anna, *acc_dora, *ct_anna, *leads_anna;
    rp_call_status_t st;
    unsigned seq;
} T;

static const char *const CT_ENV[] = { "RAPPORT_TEST_CLOCK=1", "RAPPORT_CONTRACTS_JOB_MS=200", NULL };

/* s_start_accounts_with - (re)start accounts following leads and contracts, with
 * one more setting (may be NULL). */
static void s_start_accounts_with(const char *setting)
{
    char ep[300], pub[300];
    snprintf(ep, sizeof ep, "RAPPORT_CONTRACTS_ENDPOINT=%s", rp_suite_rpc(T.suite, "contracts"));
    snprintf(pub, sizeof pub, "RAPPORT_CONTRACTS_PUB_ENDPOINT=%s", rp_suite_pub(T.suite, "contracts"));
    const char *env[] = { "RAPPORT_TEST_CLOCK=1", ep, pub, setting, NULL };
    rp_suite_start_following(T.suite, "accounts", "leads", env);
    rp_client_destroy(&T.acc_anna);
    rp_client_destroy(&T.acc_dora);
    T.acc_anna = rp_suite_client(T.suite, "accounts", T.anna_tok);
    T.acc_dora = rp_suite_client(T.suite, "accounts", T.dora_tok);
}

static void s_start_accounts(void)
{
    s_start_accounts_with(NULL);
}

static int s_setup(void **state)
{
    (void)state;
    T.suite = rp_suite_new();
    static const char *const lenv[] = { "RAPPORT_TEST_CLOCK=1", NULL };
    rp_suite_start(T.suite, "leads", lenv);
    rp_suite_start_following(T.suite, "contracts", "leads", CT_ENV);
    T.anna_tok = rp_suite_token(T.suite, "u-anna", "manager", "b1", "/hq/sales/g1", NULL, 3600);
    T.anna_ct_tok = rp_suite_token_limits(T.suite, "u-anna", "manager", "b1", "/hq/sales/g1", NULL, 3600,
                                          100000000, 1000);
    T.dora_tok = rp_suite_token(T.suite, "u-dora", "director", "b1", "/hq", NULL, 3600);
    T.ct_anna = rp_suite_client(T.suite, "contracts", T.anna_ct_tok);
    T.leads_anna = rp_suite_client(T.suite, "leads", T.anna_tok);
    s_start_accounts();
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    rp_client_destroy(&T.acc_anna);
    rp_client_destroy(&T.acc_dora);
    rp_client_destroy(&T.ct_anna);
    rp_client_destroy(&T.leads_anna);
    free(T.anna_tok);
    free(T.anna_ct_tok);
    free(T.dora_tok);
    rp_suite_destroy(&T.suite);
    return 0;
}

static int s_call(rp_client_t *c, const char *method, const void *in, const ProtobufCMessageDescriptor *d, void *out)
{
    ProtobufCMessage *m = NULL;
    memset(&T.st, 0, sizeof T.st);
    int rc = rp_client_call(c, NULL, method, (const ProtobufCMessage *)in, d, &m, &T.st, TIMEOUT);
    if (out)
        *(ProtobufCMessage **)out = rc == 0 ? m : NULL;
    else if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

#define expect_ok(rc) do { \
        int rc_ = (rc); \
        if (rc_ != RP_OK) \
            fail_msg("%s:%d: want OK, got %s (%s)", __FILE__, __LINE__, rp_code_name(rc_), T.st.message); \
    } while (0)

static void s_free(void *m)
{
    if (m)
        protobuf_c_message_free_unpacked((ProtobufCMessage *)m, NULL);
}

/* s_wait - poll cond every 50 ms for up to 20 s. */
static bool s_wait(bool (*cond)(void *), void *arg)
{
    for (int i = 0; i < 400; i++) {
        if (cond(arg))
            return true;
        usleep(50 * 1000);
    }
    return cond(arg);
}

static int32_t s_ct_today(void)
{
    return (int32_t)(rp_suite_now(T.suite, "contracts") / DAY_MS);
}

static void s_date(Rapport__V1__Date *d, int32_t days)
{
    rapport__v1__date__init(d);
    rp_days_to_date(days, &d->year, &d->month, &d->day);
}

/* ---- accounts ---- */

/* s_new_client - a client of anna's; its id (malloc'd) and name in name. */
static char *s_new_client(char *name, size_t cap)
{
    snprintf(name, cap, "Renewal Co %u-%d", ++T.seq, (int)getpid());
    Rapport__Accounts__V1__CreateClientRequest rq = RAPPORT__ACCOUNTS__V1__CREATE_CLIENT_REQUEST__INIT;
    rq.kind = RAPPORT__ACCOUNTS__V1__CLIENT_KIND__CLIENT_KIND_LEGAL_ENTITY;
    rq.legal_name = name;
    rq.tier = RAPPORT__ACCOUNTS__V1__TIER__TIER_KEY;
    TClient *c = NULL;
    expect_ok(s_call(T.acc_anna, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, &c));
    char *id = rp_strdup(c->id);
    s_free(c);
    return id;
}

static bool s_ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* s_timeline_page - the client's timeline as the director sees it, up to 500
 * entries (s_free). */
static Rapport__Accounts__V1__TimelineReply *s_timeline_page(const char *client_id)
{
    Rapport__Accounts__V1__TimelineRequest rq = RAPPORT__ACCOUNTS__V1__TIMELINE_REQUEST__INIT;
    rq.client_id = (char *)client_id;
    rq.page_size = 500;
    Rapport__Accounts__V1__TimelineReply *r = NULL;
    expect_ok(s_call(T.acc_dora, AM("Timeline"), &rq, &rapport__accounts__v1__timeline_reply__descriptor, &r));
    return r;
}

/* s_timeline - entries of the client's timeline whose type ends with suffix (NULL:
 * all) and, when subject is given, are about it. */
static size_t s_timeline(const char *client_id, const char *suffix, const char *subject)
{
    Rapport__Accounts__V1__TimelineReply *r = s_timeline_page(client_id);
    size_t n = 0;
    for (size_t i = 0; i < r->n_entries; i++) {
        if (suffix && !s_ends_with(r->entries[i]->type, suffix))
            continue;
        if (subject && strcmp(r->entries[i]->subject, subject) != 0)
            continue;
        n++;
    }
    s_free(r);
    return n;
}

/* s_said - whether an entry of the client's timeline whose type ends with suffix
 * says exactly want; when none does, every such summary is printed. */
static bool s_said(const char *client_id, const char *suffix, const char *want)
{
    Rapport__Accounts__V1__TimelineReply *r = s_timeline_page(client_id);
    bool found = false;
    for (size_t i = 0; i < r->n_entries && !found; i++)
        found = s_ends_with(r->entries[i]->type, suffix) && strcmp(r->entries[i]->summary, want) == 0;
    for (size_t i = 0; i < r->n_entries && !found; i++)
        if (s_ends_with(r->entries[i]->type, suffix))
            print_message("%s says \"%s\", want \"%s\"\n", r->entries[i]->type, r->entries[i]->summary, want);
    s_free(r);
    return found;
}

/* s_renewal_tasks - the client's open renewal tasks for contract_id; each is
 * checked: assigned to anna by the system, linked to the contract. */
static size_t s_renewal_tasks(const char *client_id, const char *contract_id)
{
    Rapport__Accounts__V1__ListTasksRequest rq = RAPPORT__ACCOUNTS__V1__LIST_TASKS_REQUEST__INIT;
    rq.client_id = (char *)client_id;
    rq.page_size = 500;
    Rapport__Accounts__V1__ListTasksReply *r = NULL;
    expect_ok(s_call(T.acc_dora, AM("ListTasks"), &rq, &rapport__accounts__v1__list_tasks_reply__descriptor, &r));
    size_t n = 0;
    for (size_t i = 0; i < r->n_tasks; i++) {
        const TTask *t = r->tasks[i];
        if (strcmp(t->origin, "contract_expiring") != 0 || !t->link || strcmp(t->link->id, contract_id) != 0)
            continue;
        assert_int_equal(t->link->kind, RAPPORT__ACCOUNTS__V1__LINK_KIND__LINK_KIND_CONTRACT);
        assert_string_equal(t->client_id, client_id);
        assert_string_equal(t->assignee, "u-anna");
        assert_string_equal(t->assignee_unit, "/hq/sales/g1");
        assert_string_equal(t->assigned_by, "system");
        assert_non_null(strstr(t->title, "Renew contract"));
        n++;
    }
    s_free(r);
    return n;
}

typedef struct {
    const char *client, *suffix, *subject, *contract;
    size_t want;
} s_until_t;

static bool s_timeline_has(void *arg)
{
    s_until_t *u = arg;
    return s_timeline(u->client, u->suffix, u->subject) >= u->want;
}

static bool s_tasks_reach(void *arg)
{
    s_until_t *u = arg;
    return s_renewal_tasks(u->client, u->contract) >= u->want;
}

static void s_wait_timeline(const char *client, const char *suffix, const char *subject, size_t want)
{
    s_until_t u = { client, suffix, subject, NULL, want };
    if (!s_wait(s_timeline_has, &u)) {
        rp_suite_print_log(T.suite, "accounts");
        fail_msg("client %s: want %zu timeline entries %s, got %zu", client, want, suffix,
                 s_timeline(client, suffix, subject));
    }
}

static void s_wait_tasks(const char *client, const char *contract, size_t want)
{
    s_until_t u = { client, NULL, NULL, contract, want };
    if (!s_wait(s_tasks_reach, &u)) {
        rp_suite_print_log(T.suite, "accounts");
        fail_msg("client %s: want %zu renewal tasks, got %zu", client, want, s_renewal_tasks(client, contract));
    }
}

static size_t s_acc_events(const char *type, const char *subject)
{
    return rp_suite_count_events(T.suite, "accounts", 0, type, subject);
}

/* ---- contracts ---- */

/* s_sign - draft (for client_id, which may be empty), submit, verify the signing
 * documents and sign a contract of anna's worth 1,000.00 EUR that starts today (in
 * contracts' calendar) and ends `length` days later. Returns its id (malloc'd). */
static char *s_sign(const char *client_id, const char *client_name, int32_t length)
{
    int32_t today = s_ct_today();
    Rapport__Contracts__V1__ContractTerms t = RAPPORT__CONTRACTS__V1__CONTRACT_TERMS__INIT;
    Rapport__Contracts__V1__Party seller = RAPPORT__CONTRACTS__V1__PARTY__INIT;
    Rapport__Contracts__V1__Party buyer = RAPPORT__CONTRACTS__V1__PARTY__INIT;
    Rapport__Contracts__V1__Party *parties[] = { &seller, &buyer };
    Rapport__V1__Money value = RAPPORT__V1__MONEY__INIT, amount = RAPPORT__V1__MONEY__INIT;
    Rapport__V1__Date start, end, due;
    Rapport__Contracts__V1__Instalment in = RAPPORT__CONTRACTS__V1__INSTALMENT__INIT, *ins[] = { &in };
    seller.role = RAPPORT__CONTRACTS__V1__PARTY_ROLE__PARTY_ROLE_SELLER;
    seller.name = "Rapport GmbH";
    buyer.role = RAPPORT__CONTRACTS__V1__PARTY_ROLE__PARTY_ROLE_BUYER;
    buyer.name = (char *)client_name;
    value.units = amount.units = 100000;
    value.currency = amount.currency = "EUR";
    s_date(&start, today);
    s_date(&end, today + length);
    s_date(&due, today);
    in.due = &due;
    in.amount = &amount;
    t.type = RAPPORT__CONTRACTS__V1__CONTRACT_TYPE__CONTRACT_TYPE_SERVICES;
    t.client_id = (char *)client_id;
    t.client_name = (char *)client_name;
    t.parties = parties;
    t.n_parties = 2;
    t.value = &value;
    t.schedule = ins;
    t.n_schedule = 1;
    t.start = &start;
    t.end = &end;
    Rapport__Contracts__V1__DraftRequest dq = RAPPORT__CONTRACTS__V1__DRAFT_REQUEST__INIT;
    dq.terms = &t;
    TContract *c = NULL;
    expect_ok(s_call(T.ct_anna, CM("Draft"), &dq, &rapport__contracts__v1__contract__descriptor, &c));
    char *id = rp_strdup(c->id);
    Rapport__Contracts__V1__ContractActionRequest aq = RAPPORT__CONTRACTS__V1__CONTRACT_ACTION_REQUEST__INIT;
    aq.id = id;
    expect_ok(s_call(T.ct_anna, CM("Submit"), &aq, NULL, NULL));
    for (size_t i = 0; i < c->n_documents; i++) {
        if (!c->documents[i]->required
            || c->documents[i]->stage != RAPPORT__CONTRACTS__V1__DOCUMENT_STAGE__DOCUMENT_STAGE_SIGNING)
            continue;
        Rapport__Contracts__V1__DocumentRequest rq = RAPPORT__CONTRACTS__V1__DOCUMENT_REQUEST__INIT;
        rq.contract_id = id;
        rq.kind = c->documents[i]->kind;
        rq.note = "on file";
        expect_ok(s_call(T.ct_anna, CM("ReceiveDocument"), &rq, NULL, NULL));
        expect_ok(s_call(T.ct_anna, CM("VerifyDocument"), &rq, NULL, NULL));
    }
    s_free(c);
    c = NULL;
    expect_ok(s_call(T.ct_anna, CM("Sign"), &aq, &rapport__contracts__v1__contract__descriptor, &c));
    assert_int_equal(c->status, RAPPORT__CONTRACTS__V1__CONTRACT_STATUS__CONTRACT_STATUS_ACTIVE);
    s_free(c);
    return id;
}

/* s_notices - contracts' contract.expiring events about contract_id. */
static size_t s_notices(const char *contract_id)
{
    return rp_suite_count_events(T.suite, "contracts", 0, "rapport.contracts.v1.contract.expiring", contract_id);
}

typedef struct {
    const char *contract;
    size_t want;
} s_notice_t;

static bool s_notices_reach(void *arg)
{
    s_notice_t *n = arg;
    return s_notices(n->contract) >= n->want;
}

/* s_advance - move contracts' clock by days (0: not at all) and wait for the
 * notices raised. */
static void s_advance(int days, const char *contract_id, size_t want_notices)
{
    if (days)
        rp_suite_clock_advance(T.suite, "contracts", days * DAY_MS);
    s_notice_t n = { contract_id, want_notices };
    if (!s_wait(s_notices_reach, &n))
        fail_msg("contract %s: want %zu notices, got %zu", contract_id, want_notices, s_notices(contract_id));
}

/* s_each_notice_once - every contract.expiring contracts raised has exactly one
 * task in accounts (its id is the notice's) and one task.created. */
static void s_each_notice_once(void)
{
    size_t n = 0;
    Rapport__V1__Event **ev = rp_suite_replay(T.suite, "contracts", 1, "rapport.contracts.v1.contract.expiring", &n);
    for (size_t i = 0; i < n; i++) {
        Rapport__Accounts__V1__GetTaskRequest rq = RAPPORT__ACCOUNTS__V1__GET_TASK_REQUEST__INIT;
        rq.id = ev[i]->id;
        TTask *t = NULL;
        expect_ok(s_call(T.acc_dora, AM("GetTask"), &rq, &rapport__accounts__v1__task__descriptor, &t));
        assert_string_equal(t->link->id, ev[i]->subject);
        s_free(t);
        assert_int_equal(s_acc_events("rapport.accounts.v1.task.created", ev[i]->id), 1);
    }
    rp_suite_events_free(&ev, n);
}

/* ---- tests ---- */

/* s_send_quote - client (may belong to someone else) gets a quote sent through c;
 * the quote's id (malloc'd). */
static char *s_send_quote(rp_client_t *c, const char *client, const char *name)
{
    Rapport__Contracts__V1__QuoteLine ql = RAPPORT__CONTRACTS__V1__QUOTE_LINE__INIT, *qls[] = { &ql };
    Rapport__V1__Money price = RAPPORT__V1__MONEY__INIT;
    price.units = 50000;
    price.currency = "EUR";
    ql.description = "Support hours";
    ql.kind = RAPPORT__CONTRACTS__V1__ITEM_KIND__ITEM_KIND_SERVICE;
    ql.quantity = 2;
    ql.unit = "h";
    ql.unit_price = &price;
    Rapport__V1__Date valid;
    s_date(&valid, s_ct_today() + 30);
    Rapport__Contracts__V1__QuoteTerms qt = RAPPORT__CONTRACTS__V1__QUOTE_TERMS__INIT;
    qt.lines = qls;
    qt.n_lines = 1;
    qt.currency = "EUR";
    qt.valid_until = &valid;
    Rapport__Contracts__V1__CreateQuoteRequest qr = RAPPORT__CONTRACTS__V1__CREATE_QUOTE_REQUEST__INIT;
    qr.client_id = (char *)client;
    qr.client_name = (char *)name;
    qr.terms = &qt;
    Rapport__Contracts__V1__Quote *q = NULL;
    expect_ok(s_call(c, CM("CreateQuote"), &qr, &rapport__contracts__v1__quote__descriptor, &q));
    Rapport__Contracts__V1__QuoteActionRequest qa = RAPPORT__CONTRACTS__V1__QUOTE_ACTION_REQUEST__INIT;
    qa.id = q->id;
    expect_ok(s_call(c, CM("SendQuote"), &qa, NULL, NULL));
    char *id = rp_strdup(q->id);
    s_free(q);
    return id;
}


static void test_signed_in_timeline(void **state)
{
    (void)state;
    char name[96];
    char *client = s_new_client(name, sizeof name);

    /* a quote sent to the client */
    char *quote = s_send_quote(T.ct_anna, client, name);

    char *contract = s_sign(client, name, 365);
    s_wait_timeline(client, "contract.activated", contract, 1);
    assert_int_equal(s_timeline(client, "contract.drafted", contract), 1);
    assert_int_equal(s_timeline(client, "contract.signed", contract), 1);
    assert_int_equal(s_timeline(client, "quote.sent", quote), 1);
    /* quote.created and the approval steps are not the client's story */
    assert_int_equal(s_timeline(client, "quote.created", NULL), 0);
    assert_int_equal(s_timeline(client, "contract.approved", NULL), 0);
    /* the summaries read as people say it: the contract's number, money in the
     * currency's minor units, enum values and dates */
    Rapport__Accounts__V1__TimelineRequest rq = RAPPORT__ACCOUNTS__V1__TIMELINE_REQUEST__INIT;
    rq.client_id = client;
    Rapport__Accounts__V1__TimelineReply *r = NULL;
    expect_ok(s_call(T.acc_anna, AM("Timeline"), &rq, &rapport__accounts__v1__timeline_reply__descriptor, &r));
    bool seen = false;
    for (size_t i = 0; i < r->n_entries; i++)
        if (strstr(r->entries[i]->type, "contract.signed")) {
            assert_string_equal(r->entries[i]->source, "contracts");
            assert_string_equal(r->entries[i]->actor, "u-anna");
            seen = true;
        }
    assert_true(seen);
    s_free(r);
    TContract *c = NULL;
    Rapport__Contracts__V1__GetRequest gq = RAPPORT__CONTRACTS__V1__GET_REQUEST__INIT;
    gq.id = contract;
    expect_ok(s_call(T.ct_anna, CM("Get"), &gq, &rapport__contracts__v1__contract__descriptor, &c));
    assert_true(rp_str_has_prefix(c->number, "B1-"));
    char want[300];
    snprintf(want, sizeof want, "Contract %s signed, 1,000.00 EUR, %04d-%02d-%02d to %04d-%02d-%02d", c->number,
             c->terms->start->year, c->terms->start->month, c->terms->start->day, c->terms->end->year,
             c->terms->end->month, c->terms->end->day);
    assert_true(s_said(client, "contract.signed", want));
    snprintf(want, sizeof want, "Contract %s drafted, services, 1,000.00 EUR", c->number);
    assert_true(s_said(client, "contract.drafted", want));
    snprintf(want, sizeof want, "Contract %s activated, 1,000.00 EUR", c->number);
    assert_true(s_said(client, "contract.activated", want));
    assert_true(s_said(client, "quote.sent", "Quote v1 sent, 1,000.00 EUR"));
    s_free(c);
    free(quote);
    free(contract);
    free(client);
}

/* A manager of another group cannot write onto anna's client's timeline by typing
 * its id into a quote: contracts cannot check accounts' scopes, accounts does. */
static void test_foreign_quote_not_on_timeline(void **state)
{
    (void)state;
    char name[96];
    char *client = s_new_client(name, sizeof name);
    char *bert_tok = rp_suite_token_limits(T.suite, "u-bert", "manager", "b1", "/hq/sales/g2", NULL, 3600,
                                           100000000, 1000);
    rp_client_t *ct_bert = rp_suite_client(T.suite, "contracts", bert_tok);
    char *foreign = s_send_quote(ct_bert, client, name);
    char *own = s_send_quote(T.ct_anna, client, name);
    /* anna's own quote arrives after bert's in the same stream: once it shows,
     * bert's has been applied too, and went nowhere near the client */
    s_wait_timeline(client, "quote.sent", own, 1);
    assert_int_equal(s_timeline(client, "quote.sent", foreign), 0);
    free(foreign);
    free(own);
    rp_client_destroy(&ct_bert);
    free(bert_tok);
    free(client);
}

static void test_expiring_tasks(void **state)
{
    (void)state;
    char name[96];
    char *client = s_new_client(name, sizeof name);
    char *contract = s_sign(client, name, 90);
    s_wait_timeline(client, "contract.signed", contract, 1);
    uint64_t seq0 = rp_suite_last_seq(T.suite, "accounts");
    assert_int_equal(s_renewal_tasks(client, contract), 0);

    static const struct { int days; size_t notices; } steps[] = { { 30, 1 }, { 30, 2 }, { 23, 3 } };
    for (size_t i = 0; i < 3; i++) {
        s_advance(steps[i].days, contract, steps[i].notices);
        s_wait_tasks(client, contract, steps[i].notices);
        s_wait_timeline(client, "contract.expiring", contract, steps[i].notices);
    }
    /* a few more sweeps change nothing */
    s_advance(1, contract, 3);
    usleep(600 * 1000);
    assert_int_equal(s_notices(contract), 3);
    assert_int_equal(s_renewal_tasks(client, contract), 3);
    assert_int_equal(rp_suite_count_events(T.suite, "accounts", seq0, "rapport.accounts.v1.task.created", NULL), 3);
    s_each_notice_once();

    /* the owner sees them among her open tasks, and the client counts them */
    Rapport__Accounts__V1__ListTasksRequest lq = RAPPORT__ACCOUNTS__V1__LIST_TASKS_REQUEST__INIT;
    lq.page_size = 500;
    Rapport__Accounts__V1__ListTasksReply *lr = NULL;
    expect_ok(s_call(T.acc_anna, AM("ListTasks"), &lq, &rapport__accounts__v1__list_tasks_reply__descriptor, &lr));
    size_t mine = 0, high = 0;
    for (size_t i = 0; i < lr->n_tasks; i++)
        if (lr->tasks[i]->link && strcmp(lr->tasks[i]->link->id, contract) == 0) {
            mine++;
            high += lr->tasks[i]->priority == RAPPORT__ACCOUNTS__V1__TASK_PRIORITY__TASK_PRIORITY_HIGH;
        }
    assert_int_equal(mine, 3);
    assert_int_equal(high, 1);              /* the 7-day notice */
    s_free(lr);
    Rapport__Accounts__V1__GetClientRequest gq = RAPPORT__ACCOUNTS__V1__GET_CLIENT_REQUEST__INIT;
    gq.id = client;
    TClient *c = NULL;
    expect_ok(s_call(T.acc_anna, AM("GetClient"), &gq, &rapport__accounts__v1__client__descriptor, &c));
    assert_int_equal(c->open_tasks, 3);
    s_free(c);
    free(contract);
    free(client);
}

/* s_win_lead - a lead of anna's with an accepted offer of 12,345.00 EUR, won:
 * contracts drafts a contract from it and accounts makes a client of it. Its
 * company's name into name; returns the lead id (malloc'd). */
static char *s_win_lead(char *name, size_t cap)
{
    snprintf(name, cap, "Lead Co %u-%d", ++T.seq, (int)getpid());
    return rp_it_win_lead(T.suite, T.leads_anna, name, 1234500, true);
}

/* s_client_named - the id (malloc'd) of the client accounts made with this legal
 * name, NULL while there is none. */
static char *s_client_named(const char *name)
{
    Rapport__Accounts__V1__ListClientsRequest rq = RAPPORT__ACCOUNTS__V1__LIST_CLIENTS_REQUEST__INIT;
    rq.name_prefix = (char *)name;
    Rapport__Accounts__V1__ListClientsReply *r = NULL;
    expect_ok(s_call(T.acc_anna, AM("ListClients"), &rq, &rapport__accounts__v1__list_clients_reply__descriptor, &r));
    char *id = NULL;
    if (r->n_clients == 1)
        id = rp_strdup(r->clients[0]->id);
    assert_true(r->n_clients <= 1);
    s_free(r);
    return id;
}

static bool s_client_exists(void *arg)
{
    char *id = s_client_named(arg);
    free(id);
    return id != NULL;
}

/* s_lead_contract - the contract contracts drafted from the lead (as anna); id malloc'd. */
static char *s_lead_contract(const char *lead_id)
{
    char *found = NULL;
    for (int tries = 0; tries < 400 && !found; tries++) {
        Rapport__Contracts__V1__ListRequest lr = RAPPORT__CONTRACTS__V1__LIST_REQUEST__INIT;
        lr.page_size = 500;
        Rapport__Contracts__V1__ListContractsReply *r = NULL;
        expect_ok(s_call(T.ct_anna, CM("ListContracts"), &lr, &rapport__contracts__v1__list_contracts_reply__descriptor,
                         &r));
        for (size_t i = 0; i < r->n_contracts && !found; i++)
            if (strcmp(r->contracts[i]->lead_id, lead_id) == 0)
                found = rp_strdup(r->contracts[i]->id);
        s_free(r);
        if (!found)
            usleep(50 * 1000);
    }
    if (!found)
        fail_msg("contracts drafted nothing from lead %s", lead_id);
    return found;
}

/* s_lead_story - the client's timeline tells the story of s_win_lead's lead (company
 * name) as people say it. */
static void s_lead_story(const char *client, const char *name)
{
    char want[300];
    snprintf(want, sizeof want, "Lead won: %s, 12,345.00 EUR", name);
    assert_true(s_said(client, "lead.won", want));
    snprintf(want, sizeof want, "Lead created: %s, 12,345.00 EUR", name);
    assert_true(s_said(client, "lead.created", want));
    assert_true(s_said(client, "lead.stage_changed", "Stage: new → offer"));  /* sending the offer */
    assert_true(s_said(client, "lead.stage_changed", "Stage: offer → won"));
    Rapport__V1__Date valid;
    s_date(&valid, (int32_t)(rp_suite_now(T.suite, "leads") / DAY_MS) + 30);
    snprintf(want, sizeof want, "Offer accepted, 12,345.00 EUR, valid until %04d-%02d-%02d", valid.year, valid.month,
             valid.day);
    assert_true(s_said(client, "offer.accepted", want));
}

static void test_lead_contract(void **state)
{
    (void)state;
    char name[96];
    char *lead = s_win_lead(name, sizeof name);
    char *contract = s_lead_contract(lead);
    if (!s_wait(s_client_exists, name))
        fail_msg("lead %s never became a client", lead);
    char *client = s_client_named(name);
    /* the draft knows no client id, only the lead: it joins the client through it */
    s_wait_timeline(client, "contract.drafted", contract, 1);
    assert_int_equal(s_timeline(client, "lead.won", lead), 1);
    s_lead_story(client, name);

    /* sign it (terms need dates and a schedule first: UpdateDraft) */
    TContract *c = NULL;
    Rapport__Contracts__V1__GetRequest gq = RAPPORT__CONTRACTS__V1__GET_REQUEST__INIT;
    gq.id = contract;
    expect_ok(s_call(T.ct_anna, CM("Get"), &gq, &rapport__contracts__v1__contract__descriptor, &c));
    int32_t today = s_ct_today();
    Rapport__V1__Date start, end;
    s_date(&start, today);
    s_date(&end, today + 40);
    assert_null(c->terms->start);          /* a won lead's draft has no dates yet */
    assert_null(c->terms->end);
    c->terms->start = &start;
    c->terms->end = &end;
    c->terms->type = RAPPORT__CONTRACTS__V1__CONTRACT_TYPE__CONTRACT_TYPE_SERVICES;
    Rapport__Contracts__V1__UpdateDraftRequest uq = RAPPORT__CONTRACTS__V1__UPDATE_DRAFT_REQUEST__INIT;
    uq.id = contract;
    uq.terms = c->terms;
    TContract *u = NULL;
    expect_ok(s_call(T.ct_anna, CM("UpdateDraft"), &uq, &rapport__contracts__v1__contract__descriptor, &u));
    c->terms->start = c->terms->end = NULL;    /* stack dates: not freed with c */
    s_free(c);
    Rapport__Contracts__V1__ContractActionRequest aq = RAPPORT__CONTRACTS__V1__CONTRACT_ACTION_REQUEST__INIT;
    aq.id = contract;
    expect_ok(s_call(T.ct_anna, CM("Submit"), &aq, NULL, NULL));
    for (size_t i = 0; i < u->n_documents; i++) {
        if (!u->documents[i]->required
            || u->documents[i]->stage != RAPPORT__CONTRACTS__V1__DOCUMENT_STAGE__DOCUMENT_STAGE_SIGNING)
            continue;
        Rapport__Contracts__V1__DocumentRequest rq = RAPPORT__CONTRACTS__V1__DOCUMENT_REQUEST__INIT;
        rq.contract_id = contract;
        rq.kind = u->documents[i]->kind;
        expect_ok(s_call(T.ct_anna, CM("ReceiveDocument"), &rq, NULL, NULL));
        expect_ok(s_call(T.ct_anna, CM("VerifyDocument"), &rq, NULL, NULL));
    }
    s_free(u);
    expect_ok(s_call(T.ct_anna, CM("Sign"), &aq, NULL, NULL));
    /* contract.signed names no client: the contract's link finds it */
    s_wait_timeline(client, "contract.signed", contract, 1);
    /* 40 days left: the 60-day notice at once, the 30-day one 10 days later; their
     * tasks have the client, found through the contract */
    s_advance(0, contract, 1);
    s_advance(10, contract, 2);
    s_wait_tasks(client, contract, 2);
    free(client);
    free(contract);
    free(lead);
}

/* The contract is applied before the lead.won that makes its client: accounts
 * follows contracts only while the lead is won, then leads too. The draft waits on
 * its lead and joins the client when the lead is linked. */
static void test_contract_before_lead(void **state)
{
    (void)state;
    assert_int_equal(rp_suite_kill(T.suite, "accounts", SIGTERM), 0);
    s_start_accounts_with("RAPPORT_ACCOUNTS_FROM_LEADS=0");
    uint64_t seq0 = rp_suite_last_seq(T.suite, "accounts");
    char name[96];
    char *lead = s_win_lead(name, sizeof name);
    char *contract = s_lead_contract(lead);
    /* a marker through contracts' stream: the draft has been applied before it */
    char mname[96];
    char *mclient = s_new_client(mname, sizeof mname);
    char *mcontract = s_sign(mclient, mname, 365);
    s_wait_timeline(mclient, "contract.activated", mcontract, 1);
    assert_null(s_client_named(name));
    assert_int_equal(rp_suite_count_events(T.suite, "accounts", seq0, "rapport.accounts.v1.client.created", NULL), 1);

    assert_int_equal(rp_suite_kill(T.suite, "accounts", SIGTERM), 0);
    s_start_accounts();
    if (!s_wait(s_client_exists, name))
        fail_msg("lead %s never became a client", lead);
    char *client = s_client_named(name);
    s_wait_timeline(client, "contract.drafted", contract, 1);
    assert_int_equal(s_timeline(client, "lead.won", lead), 1);
    s_lead_story(client, name);
    free(client);
    free(mcontract);
    free(mclient);
    free(contract);
    free(lead);
}

/* s_timeline_all - the whole timeline length of a client. */
static size_t s_timeline_all(const char *client)
{
    return s_timeline(client, NULL, NULL);
}

static void test_replay_twice(void **state)
{
    (void)state;
    char name[96];
    char *client = s_new_client(name, sizeof name);
    char *contract = s_sign(client, name, 60);
    s_advance(0, contract, 1);          /* 60 days left: the first notice at once */
    s_wait_tasks(client, contract, 1);
    s_wait_timeline(client, "contract.expiring", contract, 1);
    size_t tl = s_timeline_all(client);
    size_t tasks = s_acc_events("rapport.accounts.v1.task.created", NULL);
    size_t created = s_acc_events("rapport.accounts.v1.client.created", NULL);

    assert_int_equal(rp_suite_kill(T.suite, "accounts", SIGTERM), 0);
    rp_suite_wipe_offsets(T.suite, "accounts");
    s_start_accounts();
    /* markers after the replay point in both streams: once they are through, both
     * streams have been applied a second time */
    char mname[96];
    char *mclient = s_new_client(mname, sizeof mname);
    char *mcontract = s_sign(mclient, mname, 365);
    s_wait_timeline(mclient, "contract.activated", mcontract, 1);
    char lname[96];
    char *mlead = s_win_lead(lname, sizeof lname);
    if (!s_wait(s_client_exists, lname))
        fail_msg("marker lead %s never became a client", mlead);

    assert_int_equal(s_timeline_all(client), tl);
    assert_int_equal(s_renewal_tasks(client, contract), 1);
    assert_int_equal(s_acc_events("rapport.accounts.v1.task.created", NULL), tasks);
    assert_int_equal(s_acc_events("rapport.accounts.v1.client.created", NULL), created + 2);
    s_each_notice_once();
    free(mlead);
    free(mcontract);
    free(mclient);
    free(contract);
    free(client);
}

static void test_kill9(void **state)
{
    (void)state;
    enum { N = 4 };
    char names[N][96], *clients[N], *contracts[N];
    size_t tasks0 = s_acc_events("rapport.accounts.v1.task.created", NULL);
    size_t notices0 = s_notices(NULL);
    for (int i = 0; i < N; i++)
        clients[i] = s_new_client(names[i], sizeof names[i]);
    /* 30..33 days left at signing: each gets its first notice at once (30 for the
     * first, 60 for the others), half of them while accounts is down */
    for (int i = 0; i < N; i++) {
        contracts[i] = s_sign(clients[i], names[i], 30 + i);
        if (i == 1)
            rp_suite_kill(T.suite, "accounts", SIGKILL);
    }
    for (int i = 0; i < N; i++)
        s_advance(0, contracts[i], 1);
    s_start_accounts();
    rp_suite_kill(T.suite, "accounts", SIGKILL);    /* maybe mid-catch-up */
    s_start_accounts();
    for (int i = 0; i < N; i++) {
        s_wait_tasks(clients[i], contracts[i], 1);
        s_wait_timeline(clients[i], "contract.expiring", contracts[i], 1);
    }
    /* 27 days on, 3..6 days left: the 7-day notices, with accounts killed as they
     * are raised */
    s_advance(N + 23, contracts[N - 1], 2);
    rp_suite_kill(T.suite, "accounts", SIGKILL);
    s_start_accounts();
    for (int i = 0; i < N; i++) {
        s_wait_tasks(clients[i], contracts[i], 2);
        assert_int_equal(s_renewal_tasks(clients[i], contracts[i]), 2);
        assert_int_equal(s_timeline(clients[i], "contract.signed", contracts[i]), 1);
        assert_int_equal(s_timeline(clients[i], "contract.activated", contracts[i]), 1);
        assert_int_equal(s_timeline(clients[i], "contract.expiring", contracts[i]), 2);
    }
    /* the clock moved every contract of the suite: one task per notice, whoever's */
    s_wait_tasks(clients[0], contracts[0], 2);
    size_t notices = s_notices(NULL) - notices0;
    assert_true(notices >= 2 * N);
    for (int i = 0; i < 300 && s_acc_events("rapport.accounts.v1.task.created", NULL) < tasks0 + notices; i++)
        usleep(50 * 1000);
    assert_int_equal(s_acc_events("rapport.accounts.v1.task.created", NULL), tasks0 + notices);
    s_each_notice_once();
    for (int i = 0; i < N; i++) {
        free(clients[i]);
        free(contracts[i]);
    }
}

static void test_off(void **state)
{
    (void)state;
    /* a bad value stops the start with exit 2 */
    static const struct { const char *var, *value; } bad[] = {
        { "RAPPORT_ACCOUNTS_FROM_CONTRACTS", "maybe" },
        { "RAPPORT_ACCOUNTS_PENDING_DAYS", "-1" },
        { "RAPPORT_ACCOUNTS_PENDING_DAYS", "a year" },
        { "RAPPORT_ACCOUNTS_PENDING_DAYS", "36501" },
    };
    char *const argv[] = { (char *)rp_suite_bin("rapport-accounts"), NULL };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            setenv(bad[i].var, bad[i].value, 1);
            setenv("RAPPORT_DATA", rp_suite_dir(T.suite), 1);
            execv(argv[0], argv);
            _exit(127);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != 2)
            fail_msg("%s=%s: exit %d, want 2", bad[i].var, bad[i].value, WEXITSTATUS(status));
    }

    /* off: accounts follows leads only */
    assert_int_equal(rp_suite_kill(T.suite, "accounts", SIGTERM), 0);
    s_start_accounts_with("RAPPORT_ACCOUNTS_FROM_CONTRACTS=0");
    char name[96];
    char *client = s_new_client(name, sizeof name);
    char *contract = s_sign(client, name, 365);
    /* a lead won after it is linked by the leads consumer; by then the contract's
     * events would long have been applied had accounts followed contracts */
    char lname[96];
    char *lead = s_win_lead(lname, sizeof lname);
    if (!s_wait(s_client_exists, lname))
        fail_msg("lead %s never became a client", lead);
    usleep(500 * 1000);
    assert_int_equal(s_timeline(client, "contract.signed", NULL), 0);
    /* back on: contracts' stream is caught up from where it was */
    assert_int_equal(rp_suite_kill(T.suite, "accounts", SIGTERM), 0);
    s_start_accounts();
    s_wait_timeline(client, "contract.signed", contract, 1);
    free(lead);
    free(contract);
    free(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_in_timeline),
        cmocka_unit_test(test_foreign_quote_not_on_timeline),
        cmocka_unit_test(test_expiring_tasks),
        cmocka_unit_test(test_lead_contract),
        cmocka_unit_test(test_contract_before_lead),
        cmocka_unit_test(test_replay_twice),
        cmocka_unit_test(test_kill9),
        cmocka_unit_test(test_off),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
