/* test_accounts.h - shared fixture and helpers of the rapport-accounts integration
 * tests (test_accounts.c, test_accounts_events.c). Static functions only: each test
 * program includes it once.
 *
 * The fixture starts a real rapport-leads and a real rapport-accounts following
 * leads' events (its durable consumer), both with the test clock, a fast
 * contact-policy job (200 ms) and an export limit of 5 rows, and makes a client
 * per person:
 *   anna, boris   managers in /hq/sales/g1        carl  manager in /hq/sales/g2
 *   hedda         head_of_group of /hq/sales/g1   gus   head_of_group of /hq/sales/g2
 *   dora director, fiona finance, alan analyst, audrey auditor (company scope)
 *   admin (System, no business data), integ (integration: events only)
 */
#ifndef TEST_ACCOUNTS_H
#define TEST_ACCOUNTS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "rapport/status.h"
#include "rapport/ulid.h"
#include "rapport/util.h"
#include "rapport/accounts/v1/accounts.pb-c.h"
#include "rapport/leads/v1/leads.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"

#define TA_FN static __attribute__((unused))
#define AM(name) "rapport.accounts.v1.Accounts/" name
#define AEV(type) "rapport.accounts.v1." type
#define TA_TIMEOUT 10000
#define TA_DAY_MS 86400000LL
#define TA_EXPORT_LIMIT 5

typedef Rapport__Accounts__V1__Client TClient;
typedef Rapport__Accounts__V1__Contact TContact;
typedef Rapport__Accounts__V1__Task TTask;
typedef Rapport__Accounts__V1__Interaction TInteraction;

#define TIER(x) RAPPORT__ACCOUNTS__V1__TIER__TIER_##x
#define LIFE(x) RAPPORT__ACCOUNTS__V1__LIFECYCLE__LIFECYCLE_##x
#define KIND(x) RAPPORT__ACCOUNTS__V1__CLIENT_KIND__CLIENT_KIND_##x
#define DROLE(x) RAPPORT__ACCOUNTS__V1__DECISION_ROLE__DECISION_ROLE_##x
#define CHAN(x) RAPPORT__ACCOUNTS__V1__CHANNEL__CHANNEL_##x
#define DIR(x) RAPPORT__ACCOUNTS__V1__DIRECTION__DIRECTION_##x
#define OUT(x) RAPPORT__ACCOUNTS__V1__OUTCOME__OUTCOME_##x
#define TKIND(x) RAPPORT__ACCOUNTS__V1__TASK_KIND__TASK_KIND_##x
#define TSTAT(x) RAPPORT__ACCOUNTS__V1__TASK_STATUS__TASK_STATUS_##x
#define TVIEW(x) RAPPORT__ACCOUNTS__V1__TASK_VIEW__TASK_VIEW_##x
#define EXS(x) RAPPORT__ACCOUNTS__V1__EXPORT_STATUS__EXPORT_STATUS_##x
#define EXF(x) RAPPORT__ACCOUNTS__V1__EXPORT_FORMAT__EXPORT_FORMAT_##x

enum { P_ANNA, P_BORIS, P_CARL, P_HEDDA, P_GUS, P_DORA, P_FIONA, P_ALAN, P_AUDREY, P_ADMIN, P_INTEG, P_COUNT };

static const struct {
    const char *sub, *role, *branch, *unit;
} TA_PEOPLE[P_COUNT] = {
    [P_ANNA]   = { "u-anna",   "manager",       "b1", "/hq/sales/g1" },
    [P_BORIS]  = { "u-boris",  "manager",       "b1", "/hq/sales/g1" },
    [P_CARL]   = { "u-carl",   "manager",       "b1", "/hq/sales/g2" },
    [P_HEDDA]  = { "u-hedda",  "head_of_group", "b1", "/hq/sales/g1" },
    [P_GUS]    = { "u-gus",    "head_of_group", "b1", "/hq/sales/g2" },
    [P_DORA]   = { "u-dora",   "director",      "b1", "/hq" },
    [P_FIONA]  = { "u-fiona",  "finance",       "b1", "/hq/finance" },
    [P_ALAN]   = { "u-alan",   "analyst",       "b1", "/hq/bi" },
    [P_AUDREY] = { "u-audrey", "auditor",       "b1", "/hq/audit" },
    [P_ADMIN]  = { "it-root",  "admin",         "b1", "/" },
    [P_INTEG]  = { "it-bi",    "integration",   "b1", "/" },
};

static struct {
    rp_suite_t *suite;
    char *tok[P_COUNT];
    rp_client_t *c[P_COUNT];    /* accounts clients */
    rp_client_t *leads[P_COUNT];
    unsigned seq;
    rp_call_status_t st;        /* the status of the last ta_call */
} TA;

static const char *const TA_ENV[] = {
    "RAPPORT_TEST_CLOCK=1", "RAPPORT_ACCOUNTS_JOB_MS=200", "RAPPORT_ACCOUNTS_EXPORT_LIMIT=5", NULL
};

/* ta_start_accounts - (re)start accounts following the running leads. */
TA_FN void ta_start_accounts(void)
{
    rp_suite_start_following(TA.suite, "accounts", "leads", TA_ENV);
}

TA_FN void ta_connect(void)
{
    for (int i = 0; i < P_COUNT; i++) {
        rp_client_destroy(&TA.c[i]);
        rp_client_destroy(&TA.leads[i]);
        TA.c[i] = rp_suite_client(TA.suite, "accounts", TA.tok[i]);
        TA.leads[i] = rp_suite_client(TA.suite, "leads", TA.tok[i]);
    }
}

TA_FN int ta_setup(void **state)
{
    (void)state;
    TA.suite = rp_suite_new();
    static const char *const lenv[] = { "RAPPORT_TEST_CLOCK=1", NULL };
    rp_suite_start(TA.suite, "leads", lenv);
    ta_start_accounts();
    for (int i = 0; i < P_COUNT; i++)
        TA.tok[i] = rp_suite_token(TA.suite, TA_PEOPLE[i].sub, TA_PEOPLE[i].role, TA_PEOPLE[i].branch,
                                   TA_PEOPLE[i].unit, NULL, 3600);
    ta_connect();
    return 0;
}

TA_FN int ta_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < P_COUNT; i++) {
        rp_client_destroy(&TA.c[i]);
        rp_client_destroy(&TA.leads[i]);
        free(TA.tok[i]);
    }
    rp_suite_destroy(&TA.suite);
    return 0;
}

/* ta_call_on - call method on a client as person p; the status in TA.st; *out the
 * decoded reply on OK (else NULL). */
TA_FN int ta_call_on(rp_client_t *c, const char *id, const char *method, const void *in,
                     const ProtobufCMessageDescriptor *out_desc, void *out)
{
    ProtobufCMessage *m = NULL;
    memset(&TA.st, 0, sizeof TA.st);
    int rc = rp_client_call(c, id, method, (const ProtobufCMessage *)in, out_desc, &m, &TA.st, TA_TIMEOUT);
    if (out)
        *(ProtobufCMessage **)out = rc == 0 ? m : NULL;
    else if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

TA_FN int ta_call(int p, const char *method, const void *in, const ProtobufCMessageDescriptor *out_desc, void *out)
{
    return ta_call_on(TA.c[p], NULL, method, in, out_desc, out);
}

#define ta_expect(rc, want) do { \
        int rc_ = (rc), want_ = (want); \
        if (rc_ != want_) \
            fail_msg("%s:%d: want %s, got %s (%s)", __FILE__, __LINE__, rp_code_name(want_), \
                     rp_code_name(rc_), TA.st.message); \
    } while (0)

TA_FN bool ta_has_violation(const char *field)
{
    return rp_it_violation(&TA.st, field);
}

TA_FN void ta_free(void *m)
{
    if (m)
        protobuf_c_message_free_unpacked((ProtobufCMessage *)m, NULL);
}

TA_FN char *ta_unique(const char *prefix, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s %u-%d", prefix, ++TA.seq, (int)getpid());
    return buf;
}

TA_FN uint64_t ta_seq(void)
{
    return rp_suite_last_seq(TA.suite, "accounts");
}

/* ta_events - events of the full type about subject (NULL: any) after seq. */
TA_FN size_t ta_events(uint64_t after, const char *type, const char *subject)
{
    return rp_suite_count_events(TA.suite, "accounts", after, type, subject);
}

/* ---- clients ---- */

/* ta_new_client - a client of p (tier, tax id may be 0/NULL); asserts OK. */
TA_FN TClient *ta_new_client(int p, int tier, const char *tax_id)
{
    char name[96];
    Rapport__Accounts__V1__CreateClientRequest rq = RAPPORT__ACCOUNTS__V1__CREATE_CLIENT_REQUEST__INIT;
    rq.kind = KIND(LEGAL_ENTITY);
    rq.legal_name = ta_unique("Client Co", name, sizeof name);
    rq.tax_id = (char *)(tax_id ? tax_id : "");
    rq.country = "de";
    rq.tier = tier;
    TClient *c = NULL;
    ta_expect(ta_call(p, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, &c), RP_OK);
    return c;
}

TA_FN int ta_get_client(int p, const char *id, TClient **out)
{
    Rapport__Accounts__V1__GetClientRequest rq = RAPPORT__ACCOUNTS__V1__GET_CLIENT_REQUEST__INIT;
    rq.id = (char *)id;
    return ta_call(p, AM("GetClient"), &rq, &rapport__accounts__v1__client__descriptor, out);
}

/* ta_new_contact - a contact of client with one phone and one e-mail; asserts OK. */
TA_FN TContact *ta_new_contact(int p, const char *client_id, const char *email)
{
    char *phones[] = { "+49 30 1234567" };
    char *emails[] = { (char *)email };
    Rapport__Accounts__V1__CreateContactRequest rq = RAPPORT__ACCOUNTS__V1__CREATE_CONTACT_REQUEST__INIT;
    rq.client_id = (char *)client_id;
    rq.name = "Ann Buyer";
    rq.position = "CFO";
    rq.role = DROLE(DECISION_MAKER);
    rq.phones = phones;
    rq.n_phones = 1;
    rq.emails = emails;
    rq.n_emails = 1;
    rq.preferred_channel = CHAN(PHONE);
    TContact *c = NULL;
    ta_expect(ta_call(p, AM("CreateContact"), &rq, &rapport__accounts__v1__contact__descriptor, &c), RP_OK);
    return c;
}

TA_FN int ta_interaction(int p, const char *client_id, const char *contact_id, int direction, int outcome,
                         int64_t occurred_at, TInteraction **out)
{
    Rapport__Accounts__V1__LogInteractionRequest rq = RAPPORT__ACCOUNTS__V1__LOG_INTERACTION_REQUEST__INIT;
    rq.client_id = (char *)client_id;
    rq.contact_id = (char *)(contact_id ? contact_id : "");
    rq.channel = CHAN(PHONE);
    rq.direction = direction;
    rq.summary = "Talked about the renewal";
    rq.outcome = outcome;
    rq.occurred_at = occurred_at;
    return ta_call(p, AM("LogInteraction"), &rq, &rapport__accounts__v1__interaction__descriptor, out);
}

/* ta_now - the accounts service's clock (System/Health). */
TA_FN int64_t ta_now(void)
{
    Rapport__Sys__V1__HealthRequest rq = RAPPORT__SYS__V1__HEALTH_REQUEST__INIT;
    Rapport__Sys__V1__HealthReply *r = NULL;
    ta_expect(ta_call(P_ADMIN, "rapport.sys.v1.System/Health", &rq, &rapport__sys__v1__health_reply__descriptor, &r),
              RP_OK);
    int64_t now = r->now;
    ta_free(r);
    return now;
}

TA_FN Rapport__V1__Date ta_date(int64_t ms, int days)
{
    time_t t = (time_t)(ms / 1000) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    Rapport__V1__Date d = RAPPORT__V1__DATE__INIT;
    d.year = tm.tm_year + 1900;
    d.month = tm.tm_mon + 1;
    d.day = tm.tm_mday;
    return d;
}

/* ta_wait - poll cond() every 50 ms for up to 15 s; true when it held. */
TA_FN bool ta_wait(bool (*cond)(void *), void *arg)
{
    for (int i = 0; i < 300; i++) {
        if (cond(arg))
            return true;
        usleep(50 * 1000);
    }
    return cond(arg);
}

#endif
