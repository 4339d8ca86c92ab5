/* harness_leads.c - leads for other services' integration tests (harness_leads.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "harness_leads.h"
#include "rapport/clock.h"
#include "rapport/status.h"
#include "rapport/util.h"
#include "rapport/leads/v1/leads.pb-c.h"

#define LM(name) "rapport.leads.v1.Leads/" name

/* s_call - method on leads; fails the test unless it is OK. The reply (free_unpacked)
 * into *out when desc is given. */
static void s_call(rp_client_t *leads, const char *method, const void *in, const ProtobufCMessageDescriptor *desc,
                   void *out)
{
    rp_call_status_t st = { 0 };
    ProtobufCMessage *m = NULL;
    int rc = rp_client_call(leads, NULL, method, (const ProtobufCMessage *)in, desc, &m, &st, 10000);
    if (rc != RP_OK)
        fail_msg("%s: %s (%s)", method, rp_code_name(rc), st.message);
    if (out)
        *(ProtobufCMessage **)out = m;
    else if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

char *rp_it_win_lead(rp_suite_t *s, rp_client_t *leads, const char *name, int64_t units, bool with_offer)
{
    Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
    co.name = (char *)name;
    Rapport__Leads__V1__Contact ct = RAPPORT__LEADS__V1__CONTACT__INIT, *cts[1] = { &ct };
    ct.name = "Dee Maker";
    ct.role = RAPPORT__LEADS__V1__CONTACT_ROLE__CONTACT_ROLE_DECISION_MAKER;
    Rapport__V1__Money v = RAPPORT__V1__MONEY__INIT;
    v.units = units;
    v.currency = "EUR";
    Rapport__Leads__V1__CreateRequest cr = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
    cr.company = &co;
    cr.contacts = cts;
    cr.n_contacts = 1;
    cr.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_WEB;
    cr.expected_value = &v;
    cr.force = true;
    Rapport__Leads__V1__Lead *l = NULL;
    s_call(leads, LM("Create"), &cr, &rapport__leads__v1__lead__descriptor, &l);
    char *id = rp_strdup(l->id);
    protobuf_c_message_free_unpacked(&l->base, NULL);
    if (with_offer) {
        Rapport__Leads__V1__OfferLine ol = RAPPORT__LEADS__V1__OFFER_LINE__INIT, *ols[1] = { &ol };
        ol.description = "Annual service";
        ol.quantity = 1;
        ol.unit_price = &v;
        Rapport__V1__Date valid = RAPPORT__V1__DATE__INIT;
        rp_days_to_date((int32_t)(rp_suite_now(s, "leads") / 86400000LL) + 30, &valid.year, &valid.month, &valid.day);
        Rapport__Leads__V1__OfferRequest orq = RAPPORT__LEADS__V1__OFFER_REQUEST__INIT;
        orq.lead_id = id;
        orq.lines = ols;
        orq.n_lines = 1;
        orq.payment_terms_days = 14;
        orq.valid_until = &valid;
        Rapport__Leads__V1__Offer *o = NULL;
        s_call(leads, LM("AddOffer"), &orq, &rapport__leads__v1__offer__descriptor, &o);
        Rapport__Leads__V1__OfferActionRequest oa = RAPPORT__LEADS__V1__OFFER_ACTION_REQUEST__INIT;
        oa.lead_id = id;
        oa.offer_id = o->id;
        s_call(leads, LM("SendOffer"), &oa, NULL, NULL);
        s_call(leads, LM("AcceptOffer"), &oa, NULL, NULL);
        protobuf_c_message_free_unpacked(&o->base, NULL);
    }
    Rapport__Leads__V1__SetStageRequest ss = RAPPORT__LEADS__V1__SET_STAGE_REQUEST__INIT;
    ss.id = id;
    ss.stage = RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_WON;
    s_call(leads, LM("SetStage"), &ss, NULL, NULL);
    return id;
}
