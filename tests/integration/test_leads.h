/* test_leads.h - shared fixture and helpers of the rapport-leads integration tests
 * (test_leads.c, test_leads_lists.c, test_leads_offers.c). Static functions only:
 * each test program includes it once.
 *
 * The fixture starts one rapport-leads with the test clock enabled and a fast
 * offer-expiry sweep, and makes a client per person:
 *   anna, boris   managers in /hq/sales/g1 (branch b1)
 *   carl          manager in /hq/sales/g2
 *   hedda         head_of_group of /hq/sales/g1 (scope unit, leads.assign)
 *   gus           head_of_group of /hq/sales/g2
 *   dora          director (scope company, no leads.import)
 *   olga          manager in another branch (b2)
 *   integ         integration (events.replay)
 *   admin         admin (System/ClockAdvance)
 */
#ifndef TEST_LEADS_H
#define TEST_LEADS_H

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
#include "rapport/leads/v1/leads.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"

/* helpers are static; a program need not use them all */
#define TL_FN static __attribute__((unused))

#define LM(name) "rapport.leads.v1.Leads/" name
#define TL_TIMEOUT 10000
#define TL_DAY_MS 86400000LL

typedef Rapport__Leads__V1__Lead TLead;
typedef Rapport__Leads__V1__Offer TOffer;
typedef Rapport__Leads__V1__Activity TActivity;
typedef Rapport__Leads__V1__ListLeadsReply TList;

/* stage, source, role ... shorthands */
#define ST(x) RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_##x
#define SRC(x) RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_##x
#define ROLE(x) RAPPORT__LEADS__V1__CONTACT_ROLE__CONTACT_ROLE_##x
#define LOST(x) RAPPORT__LEADS__V1__LOST_REASON__LOST_REASON_##x
#define VERD(x) RAPPORT__LEADS__V1__VERDICT__VERDICT_##x
#define RISK(x) RAPPORT__LEADS__V1__RISK_FLAG__RISK_FLAG_##x
#define OFS(x) RAPPORT__LEADS__V1__OFFER_STATUS__OFFER_STATUS_##x
#define AK(x) RAPPORT__LEADS__V1__ACTIVITY_KIND__ACTIVITY_KIND_##x
#define AO(x) RAPPORT__LEADS__V1__ACTIVITY_OUTCOME__ACTIVITY_OUTCOME_##x
#define OBJ(x) RAPPORT__LEADS__V1__OBJECTION_CATEGORY__OBJECTION_CATEGORY_##x
#define THREAT(x) RAPPORT__LEADS__V1__THREAT_LEVEL__THREAT_LEVEL_##x

enum { P_ANNA, P_BORIS, P_CARL, P_HEDDA, P_GUS, P_DORA, P_OLGA, P_INTEG, P_ADMIN, P_COUNT };

static const struct {
    const char *sub, *role, *branch, *unit;
} TL_PEOPLE[P_COUNT] = {
    [P_ANNA]  = { "u-anna",  "manager",       "b1", "/hq/sales/g1" },
    [P_BORIS] = { "u-boris", "manager",       "b1", "/hq/sales/g1" },
    [P_CARL]  = { "u-carl",  "manager",       "b1", "/hq/sales/g2" },
    [P_HEDDA] = { "u-hedda", "head_of_group", "b1", "/hq/sales/g1" },
    [P_GUS]   = { "u-gus",   "head_of_group", "b1", "/hq/sales/g2" },
    [P_DORA]  = { "u-dora",  "director",      "b1", "/hq" },
    [P_OLGA]  = { "u-olga",  "manager",       "b2", "/hq/sales/g1" },
    [P_INTEG] = { "it-bi",   "integration",   "b1", "/" },
    [P_ADMIN] = { "it-root", "admin",         "b1", "/" },
};

#define TL_MAX_PEOPLE (P_COUNT + 16)

/* The service's environment: the test clock, and an offer-expiry sweep every 200 ms. */
static const char *const TL_ENV[] = { "RAPPORT_TEST_CLOCK=1", "RAPPORT_LEADS_EXPIRE_MS=200", NULL };

static struct {
    rp_suite_t *suite;
    char *tok[TL_MAX_PEOPLE];
    rp_client_t *c[TL_MAX_PEOPLE];
    int n;                      /* people with a client */
    unsigned seq;
    rp_call_status_t st;        /* the status of the last tl_call */
} TL;

TL_FN int tl_setup(void **state)
{
    (void)state;
    TL.suite = rp_suite_new();
    rp_suite_start(TL.suite, "leads", TL_ENV);
    for (int i = 0; i < P_COUNT; i++) {
        TL.tok[i] = rp_suite_token(TL.suite, TL_PEOPLE[i].sub, TL_PEOPLE[i].role,
                                   TL_PEOPLE[i].branch, TL_PEOPLE[i].unit, NULL, 3600);
        TL.c[i] = rp_suite_client(TL.suite, "leads", TL.tok[i]);
    }
    TL.n = P_COUNT;
    return 0;
}

/* tl_add_person - one more person (a fresh user id keeps a test's data its own);
 * returns the index to call with. */
TL_FN int tl_add_person(const char *sub, const char *role, const char *branch, const char *unit)
{
    assert_true(TL.n < TL_MAX_PEOPLE);
    int i = TL.n++;
    TL.tok[i] = rp_suite_token(TL.suite, sub, role, branch, unit, NULL, 3600);
    TL.c[i] = rp_suite_client(TL.suite, "leads", TL.tok[i]);
    return i;
}

TL_FN int tl_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < TL.n; i++) {
        rp_client_destroy(&TL.c[i]);
        free(TL.tok[i]);
    }
    rp_suite_destroy(&TL.suite);
    return 0;
}

/* tl_call - call a method as person p; returns the status code (TL.st holds it all).
 * *out (when out is not NULL) is the decoded reply on OK, else NULL. */
TL_FN int tl_call_id(int p, const char *id, const char *method, const void *in,
                      const ProtobufCMessageDescriptor *out_desc, void *out)
{
    ProtobufCMessage *m = NULL;
    memset(&TL.st, 0, sizeof TL.st);
    int rc = rp_client_call(TL.c[p], id, method, (const ProtobufCMessage *)in, out_desc, &m,
                            &TL.st, TL_TIMEOUT);
    if (out)
        *(ProtobufCMessage **)out = rc == 0 ? m : NULL;
    else if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

TL_FN int tl_call(int p, const char *method, const void *in,
                   const ProtobufCMessageDescriptor *out_desc, void *out)
{
    return tl_call_id(p, NULL, method, in, out_desc, out);
}

/* tl_expect - fail with the reply's message unless the last call gave want. */
#define tl_expect(rc, want) do { \
        int rc_ = (rc), want_ = (want); \
        if (rc_ != want_) \
            fail_msg("%s:%d: want %s, got %s (%s)", __FILE__, __LINE__, rp_code_name(want_), \
                     rp_code_name(rc_), TL.st.message); \
    } while (0)

/* tl_has_violation - true when the last status names field. */
TL_FN bool tl_has_violation(const char *field)
{
    return rp_it_violation(&TL.st, field);
}

TL_FN void tl_free(void *m)
{
    if (m)
        protobuf_c_message_free_unpacked((ProtobufCMessage *)m, NULL);
}

/* ---- leads ---- */

typedef struct {
    const char *name;           /* NULL: a unique name */
    const char *tax_id;
    const char *email;          /* contact e-mail (one contact when set or role set) */
    int role;                   /* contact role; 0 = none unless email set (then OTHER) */
    int source;                 /* 0 = WEB */
    const char *referrer;
    const char *campaign;
    int64_t value;              /* expected value units (EUR); 0 = none */
    const char *currency;       /* default EUR */
    int close_y, close_m, close_d;  /* expected close; 0 = none */
    const char *import_key;
    bool force;
    const char *owner, *owner_unit;
} tl_spec_t;

TL_FN char *tl_unique(const char *prefix, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s %u-%d", prefix, ++TL.seq, (int)getpid());
    return buf;
}

/* tl_create - Create as p from spec; returns the code, *out the lead on OK. */
TL_FN int tl_create_id(int p, const char *id, const tl_spec_t *s, TLead **out)
{
    char name[128];
    Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
    co.name = (char *)(s->name ? s->name : tl_unique("Lead Co", name, sizeof name));
    co.tax_id = (char *)(s->tax_id ? s->tax_id : "");
    co.region = "North";
    co.industry = "Manufacturing";
    co.size = RAPPORT__LEADS__V1__COMPANY_SIZE__COMPANY_SIZE_MEDIUM;
    Rapport__Leads__V1__Contact ct = RAPPORT__LEADS__V1__CONTACT__INIT;
    Rapport__Leads__V1__Contact *cts[1] = { &ct };
    ct.name = "Ann Buyer";
    ct.position = "CFO";
    ct.email = (char *)(s->email ? s->email : "");
    ct.phone = "+49 30 1234";
    ct.role = s->role ? s->role : ROLE(OTHER);
    Rapport__V1__Money money = RAPPORT__V1__MONEY__INIT;
    money.units = s->value;
    money.currency = (char *)(s->currency ? s->currency : "EUR");
    Rapport__V1__Date close = RAPPORT__V1__DATE__INIT;
    close.year = s->close_y;
    close.month = s->close_m;
    close.day = s->close_d;

    Rapport__Leads__V1__CreateRequest rq = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
    rq.company = &co;
    if (s->email || s->role) {
        rq.contacts = cts;
        rq.n_contacts = 1;
    }
    rq.source = s->source ? s->source : SRC(WEB);
    rq.referrer_client_id = (char *)(s->referrer ? s->referrer : "");
    rq.campaign = (char *)(s->campaign ? s->campaign : "");
    rq.needs = "A better way to do things";
    if (s->value)
        rq.expected_value = &money;
    if (s->close_y)
        rq.expected_close = &close;
    rq.import_key = (char *)(s->import_key ? s->import_key : "");
    rq.force = s->force;
    rq.owner = (char *)(s->owner ? s->owner : "");
    rq.owner_unit = (char *)(s->owner_unit ? s->owner_unit : "");
    return tl_call_id(p, id, LM("Create"), &rq, &rapport__leads__v1__lead__descriptor, out);
}

TL_FN int tl_create(int p, const tl_spec_t *s, TLead **out)
{
    return tl_create_id(p, NULL, s, out);
}

/* tl_new_lead - a lead of p with a decision maker and a value; asserts OK. */
TL_FN TLead *tl_new_lead(int p)
{
    tl_spec_t s = { .role = ROLE(DECISION_MAKER), .value = 100000 };
    TLead *l = NULL;
    tl_expect(tl_create(p, &s, &l), RP_OK);
    return l;
}

TL_FN int tl_get(int p, const char *id, TLead **out)
{
    Rapport__Leads__V1__GetRequest rq = RAPPORT__LEADS__V1__GET_REQUEST__INIT;
    rq.id = (char *)id;
    return tl_call(p, LM("Get"), &rq, &rapport__leads__v1__lead__descriptor, out);
}

TL_FN int tl_stage(int p, const char *id, int stage, int reason, const char *competitor, TLead **out)
{
    Rapport__Leads__V1__SetStageRequest rq = RAPPORT__LEADS__V1__SET_STAGE_REQUEST__INIT;
    rq.id = (char *)id;
    rq.stage = stage;
    rq.lost_reason = reason;
    rq.lost_competitor_name = (char *)(competitor ? competitor : "");
    return tl_call(p, LM("SetStage"), &rq, &rapport__leads__v1__lead__descriptor, out);
}

TL_FN int tl_activity(int p, const char *lead_id, int64_t occurred_at, TActivity **out)
{
    Rapport__Leads__V1__LogActivityRequest rq = RAPPORT__LEADS__V1__LOG_ACTIVITY_REQUEST__INIT;
    Rapport__V1__Date due = { PROTOBUF_C_MESSAGE_INIT(&rapport__v1__date__descriptor), 2031, 1, 15 };
    rq.lead_id = (char *)lead_id;
    rq.kind = AK(CALL);
    rq.outcome = AO(POSITIVE);
    rq.subject = "Intro call";
    rq.summary = "Talked about needs";
    rq.next_step = "Send brochure";
    rq.next_step_due = &due;
    rq.occurred_at = occurred_at;
    return tl_call(p, LM("LogActivity"), &rq, &rapport__leads__v1__activity__descriptor, out);
}

/* ---- the test clock ---- */

/* tl_now - the service's clock (System/Health). */
TL_FN int64_t tl_now(void)
{
    Rapport__Sys__V1__HealthRequest rq = RAPPORT__SYS__V1__HEALTH_REQUEST__INIT;
    Rapport__Sys__V1__HealthReply *r = NULL;
    tl_expect(tl_call(P_ADMIN, "rapport.sys.v1.System/Health", &rq,
                      &rapport__sys__v1__health_reply__descriptor, &r), RP_OK);
    int64_t now = r->now;
    tl_free(r);
    return now;
}

TL_FN int64_t tl_advance(int64_t ms)
{
    Rapport__Sys__V1__ClockAdvanceRequest rq = RAPPORT__SYS__V1__CLOCK_ADVANCE_REQUEST__INIT;
    Rapport__Sys__V1__ClockAdvanceReply *r = NULL;
    rq.by_ms = ms;
    tl_expect(tl_call(P_ADMIN, "rapport.sys.v1.System/ClockAdvance", &rq,
                      &rapport__sys__v1__clock_advance_reply__descriptor, &r), RP_OK);
    int64_t now = r->now;
    tl_free(r);
    return now;
}

/* tl_date - the calendar date (UTC) of unix ms plus days. */
TL_FN Rapport__V1__Date tl_date(int64_t ms, int days)
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

/* ---- events ---- */

TL_FN uint64_t tl_last_seq(void)
{
    return rp_suite_last_seq(TL.suite, "leads");
}

/* tl_replay - events from seq on (type_prefix may be NULL), read with the integration
 * token through System/Replay. Free with rp_suite_events_free. */
TL_FN Rapport__V1__Event **tl_replay(uint64_t from_seq, const char *type_prefix, size_t *n)
{
    Rapport__V1__Event **all = NULL;
    size_t count = 0;
    uint64_t from = from_seq ? from_seq : 1;
    for (;;) {
        Rapport__Sys__V1__ReplayRequest rq = RAPPORT__SYS__V1__REPLAY_REQUEST__INIT;
        Rapport__Sys__V1__ReplayReply *r = NULL;
        rq.from_seq = from;
        rq.limit = 500;
        rq.type_prefix = (char *)(type_prefix ? type_prefix : "");
        tl_expect(tl_call(P_INTEG, "rapport.sys.v1.System/Replay", &rq,
                          &rapport__sys__v1__replay_reply__descriptor, &r), RP_OK);
        for (size_t i = 0; i < r->n_events; i++) {
            all = rp_realloc(all, (count + 1) * sizeof *all);
            size_t len = rapport__v1__event__get_packed_size(r->events[i]);
            uint8_t *buf = rp_malloc(len ? len : 1);
            rapport__v1__event__pack(r->events[i], buf);
            all[count++] = rapport__v1__event__unpack(NULL, len, buf);
            free(buf);
        }
        uint64_t next = r->next_seq, last = r->last_seq;
        size_t got = r->n_events;
        tl_free(r);
        if (next > last || got == 0 || next <= from)
            break;
        from = next;
    }
    *n = count;
    return all;
}

/* tl_count_events - how many events of exactly this type (without the
 * "rapport.leads.v1." prefix) about subject were appended after seq. */
TL_FN size_t tl_count_events(uint64_t after_seq, const char *type, const char *subject)
{
    char full[128];
    snprintf(full, sizeof full, "rapport.leads.v1.%s", type);
    size_t n = 0, hits = 0;
    Rapport__V1__Event **ev = tl_replay(after_seq + 1, full, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(ev[i]->type, full) == 0 && (!subject || strcmp(ev[i]->subject, subject) == 0))
            hits++;
    rp_suite_events_free(&ev, n);
    return hits;
}

typedef struct {
    const char *desc;
    int64_t qty;
    int64_t price;
    const char *cur;
} tl_line_t;

/* tl_event_lead - the Lead carried by the last event of exactly this type (without
 * the "rapport.leads.v1." prefix) about lead_id appended after seq (NULL when none);
 * *branch and *source (may be NULL) get malloc'd copies of its attributes. */
TL_FN TLead *tl_event_lead(uint64_t after_seq, const char *type, const char *lead_id,
                           char **branch, char **source)
{
    char full[128];
    snprintf(full, sizeof full, "rapport.leads.v1.%s", type);
    size_t n = 0;
    TLead *l = NULL;
    Rapport__V1__Event **ev = tl_replay(after_seq + 1, full, &n);
    for (size_t i = n; i-- > 0 && !l;) {
        if (strcmp(ev[i]->type, full) != 0 || strcmp(ev[i]->subject, lead_id) != 0)
            continue;
        assert_string_equal(ev[i]->dataschema, "proto:rapport.leads.v1.Lead");
        l = rapport__leads__v1__lead__unpack(NULL, ev[i]->data.len, ev[i]->data.data);
        assert_non_null(l);
        if (branch)
            *branch = rp_strdup(ev[i]->branch);
        if (source)
            *source = rp_strdup(ev[i]->source);
    }
    rp_suite_events_free(&ev, n);
    return l;
}

/* tl_want_previous - the lead's last lead.stage_changed event after seq carries
 * previous_stage want (and so does the lead r the call answered, when not NULL). */
TL_FN void tl_want_previous(uint64_t after_seq, const char *lead_id, const TLead *r, int want)
{
    if (r)
        assert_int_equal(r->previous_stage, want);
    TLead *e = tl_event_lead(after_seq, "lead.stage_changed", lead_id, NULL, NULL);
    assert_non_null(e);
    assert_int_equal(e->previous_stage, want);
    tl_free(e);
}

/* ---- offers ---- */

/* tl_offer_rq - fill rq with up to 4 lines (desc NULL ends), valid until today+days. */
TL_FN void tl_offer_rq(Rapport__Leads__V1__OfferRequest *rq, const tl_line_t *lines,
                       Rapport__Leads__V1__OfferLine *ol, Rapport__Leads__V1__OfferLine **olp,
                       Rapport__V1__Money *money, Rapport__V1__Date *valid)
{
    size_t n = 0;
    for (; n < 4 && lines[n].desc; n++) {
        rapport__leads__v1__offer_line__init(&ol[n]);
        rapport__v1__money__init(&money[n]);
        ol[n].description = (char *)lines[n].desc;
        ol[n].quantity = lines[n].qty;
        money[n].units = lines[n].price;
        money[n].currency = (char *)(lines[n].cur ? lines[n].cur : "EUR");
        ol[n].unit_price = &money[n];
        olp[n] = &ol[n];
    }
    rq->lines = olp;
    rq->n_lines = n;
    rq->valid_until = valid;
}

/* tl_add_offer - AddOffer as p: a draft with lines, valid until today + valid_days. */
TL_FN int tl_add_offer(int p, const char *lead_id, const tl_line_t *lines, uint32_t discount_bp,
                       int valid_days, TOffer **out)
{
    Rapport__Leads__V1__OfferRequest rq = RAPPORT__LEADS__V1__OFFER_REQUEST__INIT;
    Rapport__Leads__V1__OfferLine ol[4], *olp[4];
    Rapport__V1__Money money[4];
    Rapport__V1__Date valid = tl_date(tl_now(), valid_days);
    tl_offer_rq(&rq, lines, ol, olp, money, &valid);
    rq.lead_id = (char *)lead_id;
    rq.discount_bp = discount_bp;
    rq.payment_terms_days = 30;
    rq.note = "incl. installation";
    return tl_call(p, LM("AddOffer"), &rq, &rapport__leads__v1__offer__descriptor, out);
}

/* tl_offer_action - SendOffer, AcceptOffer or RejectOffer (method) as p. */
TL_FN int tl_offer_action(int p, const char *method, const char *lead_id, const char *offer_id,
                    const char *reason, TOffer **out)
{
    Rapport__Leads__V1__OfferActionRequest rq = RAPPORT__LEADS__V1__OFFER_ACTION_REQUEST__INIT;
    rq.lead_id = (char *)lead_id;
    rq.offer_id = (char *)offer_id;
    rq.reason = (char *)(reason ? reason : "");
    return tl_call(p, method, &rq, &rapport__leads__v1__offer__descriptor, out);
}

/* ---- lists ---- */

/* tl_set_string - set the string field `name` of m (found through its descriptor). */
TL_FN void tl_set_string(ProtobufCMessage *m, const char *name, char *value)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    assert_non_null(f);
    assert_int_equal(f->type, PROTOBUF_C_TYPE_STRING);
    *(char **)((uint8_t *)m + f->offset) = value;
}

/* tl_page_all - call a list method page after page (page_size as set in rq; its
 * page_token is set here), collecting ids into ids (cap). Returns the number of ids;
 * *pages the number of calls. */
TL_FN size_t tl_page_all(int p, const char *method, ProtobufCMessage *rq,
                          char ids[][RP_ULID_STRLEN + 1], size_t cap, int *pages)
{
    size_t n = 0;
    char token[512] = "";
    *pages = 0;
    for (;;) {
        tl_set_string(rq, "page_token", token);
        TList *r = NULL;
        tl_expect(tl_call(p, method, rq, &rapport__leads__v1__list_leads_reply__descriptor, &r), RP_OK);
        (*pages)++;
        for (size_t i = 0; i < r->n_leads && n < cap; i++)
            rp_strlcpy(ids[n++], r->leads[i]->id, RP_ULID_STRLEN + 1);
        bool more = r->next_page_token && *r->next_page_token;
        if (more)
            rp_strlcpy(token, r->next_page_token, sizeof token);
        tl_free(r);
        if (!more || *pages > 1000)
            break;
    }
    tl_set_string(rq, "page_token", (char *)"");
    return n;
}

TL_FN bool tl_ids_have(char ids[][RP_ULID_STRLEN + 1], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

#endif
