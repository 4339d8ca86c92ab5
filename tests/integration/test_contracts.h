/* test_contracts.h - shared fixture and helpers of the rapport-contracts
 * integration tests (test_contracts.c, test_contracts_jobs.c,
 * test_contracts_integrity.c). Static functions only: each program includes it once.
 *
 * The fixture starts a rapport-leads and a rapport-contracts that follows it
 * (lead.won), both with the test clock; contracts sweeps its daily jobs every
 * 200 ms and asks the director above 50,000.00 (RAPPORT_CONTRACTS_DIRECTOR_THRESHOLD
 * = 5000000). People (branch hq), with their authority limits (token claims):
 *   anna    manager            /hq/sales/d1/g1   signs up to 10,000.00, discounts 10 %
 *   boris   manager            /hq/sales/d1/g1   no authority of his own
 *   carl    manager            /hq/sales/d2/g1   signs up to 10,000.00
 *   gerd    head_of_group      /hq/sales/d1/g1   signs up to 20,000.00 (no approvals)
 *   hanna   head_of_department /hq/sales/d1      signs up to 50,000.00, discounts 25 %
 *   bea     branch_head        /hq               signs up to 200,000.00
 *   dora    director           /hq (company)     signs up to 1,000,000.00, discounts 50 %
 *   fin     finance            (company)         reads
 *   integ   integration, admin (System methods)
 *   max     branch_head and director /hq         signs up to 200,000.00
 *   dan     a delegate (token from ActAs: sub u-dan, on_behalf_of and everything
 *           else the principal's): "dan for hanna" and "dan for max"
 *   anna HQ anna with her branch spelled "HQ" (the same branch as "hq")
 */
#ifndef TEST_CONTRACTS_H
#define TEST_CONTRACTS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>

#include "harness.h"
#include "rapport/clock.h"
#include "rapport/perm.h"
#include "rapport/status.h"
#include "rapport/store.h"
#include "rapport/ulid.h"
#include "rapport/util.h"
#include "rapport/contracts/v1/contracts.pb-c.h"
#include "rapport/leads/v1/leads.pb-c.h"

#define TC_FN static __attribute__((unused))
#define CM(name) "rapport.contracts.v1.Contracts/" name
#define CEV(name) "rapport.contracts.v1." name
#define TC_TIMEOUT 10000
#define TC_DAY_MS 86400000LL

typedef Rapport__Contracts__V1__Contract TContract;
typedef Rapport__Contracts__V1__Quote TQuote;
typedef Rapport__Contracts__V1__Order TOrder;

#define CST(x) RAPPORT__CONTRACTS__V1__CONTRACT_STATUS__CONTRACT_STATUS_##x
#define QST(x) RAPPORT__CONTRACTS__V1__QUOTE_STATUS__QUOTE_STATUS_##x
#define OST(x) RAPPORT__CONTRACTS__V1__ORDER_STATUS__ORDER_STATUS_##x
#define CTYPE(x) RAPPORT__CONTRACTS__V1__CONTRACT_TYPE__CONTRACT_TYPE_##x
#define CKIND(x) RAPPORT__CONTRACTS__V1__CONTRACT_KIND__CONTRACT_KIND_##x
#define DOC(x) RAPPORT__CONTRACTS__V1__DOCUMENT_KIND__DOCUMENT_KIND_##x
#define DSTAGE(x) RAPPORT__CONTRACTS__V1__DOCUMENT_STAGE__DOCUMENT_STAGE_##x
#define DSTAT(x) RAPPORT__CONTRACTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_##x
#define PROLE(x) RAPPORT__CONTRACTS__V1__PARTY_ROLE__PARTY_ROLE_##x

enum { P_ANNA, P_BORIS, P_CARL, P_GERD, P_HANNA, P_BEA, P_DORA, P_FIN, P_INTEG,
       P_MAX, P_DAN_HANNA, P_DAN_MAX, P_ANNA_HQ, P_COUNT };

static const struct {
    const char *sub, *role, *unit;
    int64_t limit;
    int32_t discount_bp;
    const char *role2;              /* a second role, or NULL */
    const char *on_behalf_of;       /* a delegate's principal, or NULL */
    const char *branch;             /* NULL: "hq" */
} TC_PEOPLE[P_COUNT] = {
    [P_ANNA]  = { "u-anna",  "manager",            "/hq/sales/d1/g1", 1000000, 1000, NULL, NULL, NULL },
    [P_BORIS] = { "u-boris", "manager",            "/hq/sales/d1/g1", 0, 0, NULL, NULL, NULL },
    [P_CARL]  = { "u-carl",  "manager",            "/hq/sales/d2/g1", 1000000, 1000, NULL, NULL, NULL },
    [P_GERD]  = { "u-gerd",  "head_of_group",      "/hq/sales/d1/g1", 2000000, 1500, NULL, NULL, NULL },
    [P_HANNA] = { "u-hanna", "head_of_department", "/hq/sales/d1",    5000000, 2500, NULL, NULL, NULL },
    [P_BEA]   = { "u-bea",   "branch_head",        "/hq",             20000000, 3000, NULL, NULL, NULL },
    [P_DORA]  = { "u-dora",  "director",           "/hq",             100000000, 5000, NULL, NULL, NULL },
    [P_FIN]   = { "u-fin",   "finance",            "/hq",             0, 0, NULL, NULL, NULL },
    [P_INTEG] = { "it-bi",   "integration",        "/",               0, 0, NULL, NULL, NULL },
    [P_MAX]   = { "u-max",   "branch_head",        "/hq",             20000000, 3000, "director", NULL, NULL },
    [P_DAN_HANNA] = { "u-dan", "head_of_department", "/hq/sales/d1",  5000000, 2500, NULL, "u-hanna", NULL },
    [P_DAN_MAX]   = { "u-dan", "branch_head",      "/hq",             20000000, 3000, "director", "u-max", NULL },
    [P_ANNA_HQ]   = { "u-anna", "manager",         "/hq/sales/d1/g1", 1000000, 1000, NULL, NULL, "HQ" },
};

/* tc_principal - whose the person's actions are: the delegate's principal, or
 * themselves. */
TC_FN const char *tc_principal(int p)
{
    return TC_PEOPLE[p].on_behalf_of ? TC_PEOPLE[p].on_behalf_of : TC_PEOPLE[p].sub;
}

static struct {
    rp_suite_t *suite;
    char *tok[P_COUNT];
    rp_client_t *c[P_COUNT];
    rp_client_t *leads;         /* anna on rapport-leads */
    char *leads_tok;
    rp_call_status_t st;        /* the status of the last tc_call */
    unsigned seq;
} TC;

static const char *const TC_ENV[] = {
    "RAPPORT_TEST_CLOCK=1", "RAPPORT_CONTRACTS_JOB_MS=200",
    "RAPPORT_CONTRACTS_DIRECTOR_THRESHOLD=5000000", NULL
};

/* tc_token - mint person p's token (roles, branch, unit, the role's scope, limits). */
TC_FN char *tc_token(int p)
{
    rp_claims_t c;
    memset(&c, 0, sizeof c);
    rp_strlcpy(c.sub, TC_PEOPLE[p].sub, sizeof c.sub);
    rp_strlcpy(c.branch, TC_PEOPLE[p].branch ? TC_PEOPLE[p].branch : "hq", sizeof c.branch);
    rp_strlcpy(c.unit, TC_PEOPLE[p].unit, sizeof c.unit);
    const rp_role_t *r = rp_role_find(TC_PEOPLE[p].role);
    rp_strlcpy(c.scope, r && r->scope ? r->scope : "own", sizeof c.scope);
    rp_strlcpy(c.roles[c.n_roles++], TC_PEOPLE[p].role, sizeof c.roles[0]);
    if (TC_PEOPLE[p].role2)
        rp_strlcpy(c.roles[c.n_roles++], TC_PEOPLE[p].role2, sizeof c.roles[0]);
    if (TC_PEOPLE[p].on_behalf_of)
        rp_strlcpy(c.on_behalf_of, TC_PEOPLE[p].on_behalf_of, sizeof c.on_behalf_of);
    c.limit_contract_value = TC_PEOPLE[p].limit;
    c.limit_discount_bp = TC_PEOPLE[p].discount_bp;
    return rp_suite_token_claims(TC.suite, &c, 3600);
}

TC_FN void tc_clients(void)
{
    for (int i = 0; i < P_COUNT; i++) {
        rp_client_destroy(&TC.c[i]);
        TC.c[i] = rp_suite_client(TC.suite, "contracts", TC.tok[i]);
    }
}

TC_FN int tc_setup(void **state)
{
    (void)state;
    memset(&TC, 0, sizeof TC);
    TC.suite = rp_suite_new();
    static const char *const leads_env[] = { "RAPPORT_TEST_CLOCK=1", NULL };
    rp_suite_start(TC.suite, "leads", leads_env);
    rp_suite_start_following(TC.suite, "contracts", "leads", TC_ENV);
    for (int i = 0; i < P_COUNT; i++)
        TC.tok[i] = tc_token(i);
    tc_clients();
    TC.leads_tok = rp_suite_token(TC.suite, "u-anna", "manager", "hq", "/hq/sales/d1/g1", NULL, 3600);
    TC.leads = rp_suite_client(TC.suite, "leads", TC.leads_tok);
    return 0;
}

TC_FN int tc_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < P_COUNT; i++) {
        rp_client_destroy(&TC.c[i]);
        free(TC.tok[i]);
    }
    rp_client_destroy(&TC.leads);
    free(TC.leads_tok);
    rp_suite_destroy(&TC.suite);
    return 0;
}

/* tc_restart - kill contracts with sig, start it again on the same data (following
 * leads), reconnect every client. */
TC_FN void tc_restart(int sig)
{
    rp_suite_kill(TC.suite, "contracts", sig);
    rp_suite_start_following(TC.suite, "contracts", "leads", TC_ENV);
    tc_clients();
}

TC_FN int tc_call_on(rp_client_t *c, const char *method, const void *in,
                      const ProtobufCMessageDescriptor *out_desc, void *out)
{
    ProtobufCMessage *m = NULL;
    memset(&TC.st, 0, sizeof TC.st);
    int rc = rp_client_call(c, NULL, method, (const ProtobufCMessage *)in, out_desc, &m, &TC.st, TC_TIMEOUT);
    if (out)
        *(ProtobufCMessage **)out = rc == 0 ? m : NULL;
    else if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* tc_call - call a contracts method as person p; the code (TC.st holds it all). */
TC_FN int tc_call(int p, const char *method, const void *in, const ProtobufCMessageDescriptor *out_desc, void *out)
{
    return tc_call_on(TC.c[p], method, in, out_desc, out);
}

#define tc_expect(rc, want) do { \
        int rc_ = (rc), want_ = (want); \
        if (rc_ != want_) \
            fail_msg("%s:%d: want %s, got %s (%s)", __FILE__, __LINE__, rp_code_name(want_), \
                     rp_code_name(rc_), TC.st.message); \
    } while (0)

/* tc_has_violation - true when the last status names field or a part of it
 * ("terms.value" matches "terms.value.units"). */
TC_FN bool tc_has_violation(const char *field)
{
    size_t n = strlen(field);
    for (size_t i = 0; i < TC.st.n_violations; i++) {
        const char *f = TC.st.violations[i].field;
        if (strncmp(f, field, n) == 0 && (f[n] == '\0' || f[n] == '.'))
            return true;
    }
    return false;
}

TC_FN void tc_free(void *m)
{
    if (m)
        protobuf_c_message_free_unpacked((ProtobufCMessage *)m, NULL);
}

/* ---- the clock and events ---- */

TC_FN int64_t tc_now(void) { return rp_suite_now(TC.suite, "contracts"); }
TC_FN int64_t tc_advance_days(int days) { return rp_suite_clock_advance(TC.suite, "contracts", days * TC_DAY_MS); }
TC_FN uint64_t tc_last_seq(void) { return rp_suite_last_seq(TC.suite, "contracts"); }
TC_FN size_t tc_count(uint64_t after, const char *type, const char *subject)
{
    return rp_suite_count_events(TC.suite, "contracts", after, type, subject);
}

/* tc_today - the service's today as days since 1970. */
TC_FN int32_t tc_today(void)
{
    return (int32_t)(tc_now() / TC_DAY_MS);
}

/* ---- contract terms ---- */

/* Everything a ContractTerms points to, in one place. */
typedef struct {
    Rapport__Contracts__V1__ContractTerms t;
    Rapport__Contracts__V1__Party pa[3], *pp[3];
    Rapport__Contracts__V1__Instalment in[8], *ip[8];
    Rapport__V1__Money value, amt[8];
    Rapport__V1__Date start, end, due[8];
    char client[64];
} tc_terms_t;

TC_FN void tc_set_date(Rapport__V1__Date *d, int32_t days)
{
    rapport__v1__date__init(d);
    rp_days_to_date(days, &d->year, &d->month, &d->day);
}

/* tc_terms - SUPPLY terms: seller and buyer, value in EUR split into n equal-ish
 * instalments (the last takes the rest), from start_day (days since 1970) for
 * length days. */
TC_FN void tc_terms(tc_terms_t *x, int64_t value, int n, int32_t start_day, int32_t length)
{
    memset(x, 0, sizeof *x);
    rapport__contracts__v1__contract_terms__init(&x->t);
    snprintf(x->client, sizeof x->client, "Client %u-%d", ++TC.seq, (int)getpid());
    x->t.type = CTYPE(SUPPLY);
    x->t.client_name = x->client;
    for (int i = 0; i < 2; i++) {
        rapport__contracts__v1__party__init(&x->pa[i]);
        x->pp[i] = &x->pa[i];
    }
    x->pa[0].role = PROLE(SELLER);
    x->pa[0].name = "Rapport GmbH";
    x->pa[1].role = PROLE(BUYER);
    x->pa[1].name = x->client;
    x->pa[1].representative = "Ann Buyer";
    x->t.parties = x->pp;
    x->t.n_parties = 2;
    rapport__v1__money__init(&x->value);
    x->value.units = value;
    x->value.currency = "EUR";
    x->t.value = &x->value;
    int64_t left = value;
    for (int i = 0; i < n; i++) {
        rapport__contracts__v1__instalment__init(&x->in[i]);
        rapport__v1__money__init(&x->amt[i]);
        x->amt[i].units = i == n - 1 ? left : value / n;
        left -= x->amt[i].units;
        x->amt[i].currency = "EUR";
        tc_set_date(&x->due[i], start_day + 30 * i);
        x->in[i].due = &x->due[i];
        x->in[i].amount = &x->amt[i];
        x->ip[i] = &x->in[i];
    }
    x->t.schedule = x->ip;
    x->t.n_schedule = (size_t)n;
    x->t.special_terms = "Volume bonus of 2 % above 1000 units.";
    tc_set_date(&x->start, start_day);
    tc_set_date(&x->end, start_day + length);
    x->t.start = &x->start;
    x->t.end = &x->end;
}

TC_FN int tc_draft(int p, tc_terms_t *x, TContract **out)
{
    Rapport__Contracts__V1__DraftRequest rq = RAPPORT__CONTRACTS__V1__DRAFT_REQUEST__INIT;
    rq.terms = &x->t;
    return tc_call(p, CM("Draft"), &rq, &rapport__contracts__v1__contract__descriptor, out);
}

/* tc_act - a ContractActionRequest method (Submit, Approve, Reject, Sign, Terminate). */
TC_FN int tc_act(int p, const char *method, const char *id, const char *comment, TContract **out)
{
    Rapport__Contracts__V1__ContractActionRequest rq = RAPPORT__CONTRACTS__V1__CONTRACT_ACTION_REQUEST__INIT;
    rq.id = (char *)id;
    rq.comment = (char *)(comment ? comment : "");
    rq.reason = (char *)(comment ? comment : "");
    return tc_call(p, method, &rq, &rapport__contracts__v1__contract__descriptor, out);
}

TC_FN int tc_get(int p, const char *id, TContract **out)
{
    Rapport__Contracts__V1__GetRequest rq = RAPPORT__CONTRACTS__V1__GET_REQUEST__INIT;
    rq.id = (char *)id;
    return tc_call(p, CM("Get"), &rq, &rapport__contracts__v1__contract__descriptor, out);
}

TC_FN int tc_doc(int p, const char *method, const char *id, int kind)
{
    Rapport__Contracts__V1__DocumentRequest rq = RAPPORT__CONTRACTS__V1__DOCUMENT_REQUEST__INIT;
    rq.contract_id = (char *)id;
    rq.kind = kind;
    rq.note = "scan on file";
    return tc_call(p, method, &rq, &rapport__contracts__v1__contract__descriptor, NULL);
}

/* tc_docs - receive and verify every required document of stage. */
TC_FN void tc_docs(int p, const TContract *c, int stage)
{
    for (size_t i = 0; i < c->n_documents; i++) {
        if (!c->documents[i]->required || (int)c->documents[i]->stage != stage)
            continue;
        tc_expect(tc_doc(p, CM("ReceiveDocument"), c->id, c->documents[i]->kind), RP_OK);
        tc_expect(tc_doc(p, CM("VerifyDocument"), c->id, c->documents[i]->kind), RP_OK);
    }
}

/* tc_signed - a contract of anna's worth value (within her limit unless an approver
 * is given), drafted, submitted, approved by the chain when needed, its signing
 * documents verified and signed by signer. Starts today, runs `length` days. */
TC_FN TContract *tc_signed(int64_t value, int32_t start_offset, int32_t length, int signer)
{
    tc_terms_t x;
    tc_terms(&x, value, 2, tc_today() + start_offset, length);
    TContract *c = NULL, *d = NULL;
    tc_expect(tc_draft(P_ANNA, &x, &c), RP_OK);
    tc_expect(tc_act(P_ANNA, CM("Submit"), c->id, NULL, &d), RP_OK);
    if (d->status == CST(PENDING_APPROVAL)) {
        tc_free(d);
        tc_expect(tc_act(P_HANNA, CM("Approve"), c->id, "fine", &d), RP_OK);
        if (d->status == CST(PENDING_APPROVAL)) {
            tc_free(d);
            tc_expect(tc_act(P_DORA, CM("Approve"), c->id, "fine", &d), RP_OK);
        }
    }
    tc_free(d);
    tc_docs(P_ANNA, c, DSTAGE(SIGNING));
    TContract *s = NULL;
    tc_expect(tc_act(signer, CM("Sign"), c->id, NULL, &s), RP_OK);
    tc_free(c);
    return s;
}

/* tc_wait_status - poll Get (as anna) until the contract has status want; the daily
 * job runs every 200 ms. Fails after 10 s. */
TC_FN TContract *tc_wait_status(const char *id, int want)
{
    for (int i = 0; i < 200; i++) {
        TContract *c = NULL;
        tc_expect(tc_get(P_DORA, id, &c), RP_OK);
        if ((int)c->status == want)
            return c;
        tc_free(c);
        usleep(50 * 1000);
    }
    fail_msg("contract %s never reached status %d", id, want);
    return NULL;
}

/* tc_store_open - contracts' LMDB (the service stopped) with these tables, knowing
 * the schema versions the service knows (keep in step with contracts_migrations);
 * none is run here. */
TC_FN rp_store_t *tc_store_open(const rp_table_t *tables)
{
    char *path = rp_sprintf("%s/data/contracts", rp_suite_dir(TC.suite));
    static const rp_migration_t known[] = {
        { 1, "initial tables", NULL }, { 2, "counters by branch code", NULL }, { 0, NULL, NULL }
    };
    rp_store_t *st = rp_store_open(path, tables, known, 0);
    assert_non_null(st);
    free(path);
    return st;
}

/* tc_tamper - with contracts stopped, change the byte `at` bytes into the first
 * occurrence of needle in contract id's stored record to `to` (straight in its LMDB). */
TC_FN void tc_tamper(const char *id, const char *needle, size_t at, char to)
{
    static const rp_table_t tables[] = { { "contracts", 0 }, { NULL, 0 } };
    rp_store_t *st = tc_store_open(tables);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(rp_store_env(st), NULL, 0, &txn), 0);
    rp_ulid_t u;
    assert_int_equal(rp_ulid_parse(id, &u), 0);
    MDB_val k = { RP_ULID_LEN, u.b }, v;
    MDB_dbi dbi = rp_store_dbi(st, "contracts");
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    uint8_t *copy = rp_malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    size_t n = strlen(needle), i = 0;
    while (i + n <= v.mv_size && memcmp(copy + i, needle, n) != 0)
        i++;
    assert_true(i + n <= v.mv_size && at < n);
    copy[i + at] = to;
    MDB_val nv = { v.mv_size, copy };
    assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    free(copy);
    rp_store_destroy(&st);
}

#endif
