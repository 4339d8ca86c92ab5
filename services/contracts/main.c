/* main.c - rapport-contracts: quotes, contracts and their documents, signing
 * authority and approvals, signatures, orders and deliveries, renewals. The
 * definition, its settings and one call to the skeleton.
 *
 * Settings (besides the skeleton's; a bad value exits 2 naming the variable):
 *   RAPPORT_CONTRACTS_DIRECTOR_THRESHOLD  minor units: a contract above it also needs
 *                                   the director's approval            (10000000)
 *   RAPPORT_CONTRACTS_EXPIRING_DAYS thresholds of contract.expiring, days before
 *                                   the end, comma-separated            (60,30,7)
 *   RAPPORT_CONTRACTS_JOB_MS        how often the daily jobs sweep (quote expiry,
 *                                   contract calendar, overdue orders)   (60000)
 *   RAPPORT_CONTRACTS_SELLER        the company's name as the SELLER party of
 *                                   drafts made from quotes and won leads (Rapport)
 *   RAPPORT_CONTRACTS_SIGNING_KEY   name of the company signing key in the keys
 *                                   directory: <name>.key, <name>.pub, retired
 *                                   public keys in <name>.retired/   (company-sign)
 *   RAPPORT_CONTRACTS_FROM_LEADS    1: draft a contract for every lead won with an
 *                                   accepted offer (follows rapport-leads; needs a
 *                                   service token); 0: off               (1)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "contracts.h"
#include "rapport/config.h"
#include "rapport/log.h"

contracts_settings_t contracts_settings;

static const rp_method_t s_methods[] = {
    { "CreateQuote",       contracts_create_quote,       RP_WRITE, "contracts.write" },
    { "GetQuote",          contracts_get_quote,          RP_READ,  "contracts.read" },
    { "ReviseQuote",       contracts_revise_quote,       RP_WRITE, "contracts.write" },
    { "ApproveQuote",      contracts_approve_quote,      RP_WRITE, "contracts.approve" },
    { "SendQuote",         contracts_send_quote,         RP_WRITE, "contracts.write" },
    { "AcceptQuote",       contracts_accept_quote,       RP_WRITE, "contracts.write" },
    { "RejectQuote",       contracts_reject_quote,       RP_WRITE, "contracts.write" },
    { "ListQuotes",        contracts_list_quotes,        RP_READ,  "contracts.read" },
    { "Draft",             contracts_draft,              RP_WRITE, "contracts.write" },
    { "DraftFromQuote",    contracts_draft_from_quote,   RP_WRITE, "contracts.write" },
    { "UpdateDraft",       contracts_update_draft,       RP_WRITE, "contracts.write" },
    { "Get",               contracts_get,                RP_READ,  "contracts.read" },
    { "Submit",            contracts_submit,             RP_WRITE, "contracts.write" },
    { "Approve",           contracts_approve,            RP_WRITE, "contracts.approve" },
    { "Reject",            contracts_reject,             RP_WRITE, "contracts.approve" },
    { "Sign",              contracts_sign_h,             RP_WRITE, "contracts.sign" },
    { "Verify",            contracts_verify_h,           RP_READ,  "contracts.read" },
    { "Terminate",         contracts_terminate,          RP_WRITE, "contracts.sign" },
    { "Renew",             contracts_renew,              RP_WRITE, "contracts.write" },
    { "ReceiveDocument",   contracts_receive_document,   RP_WRITE, "contracts.write" },
    { "VerifyDocument",    contracts_verify_document,    RP_WRITE, "contracts.write" },
    { "AddMilestone",      contracts_add_milestone,      RP_WRITE, "contracts.write" },
    { "CompleteMilestone", contracts_complete_milestone, RP_WRITE, "contracts.write" },
    { "ListContracts",     contracts_list,               RP_READ,  "contracts.read" },
    { "SigningKey",        contracts_signing_key,        RP_READ,  "contracts.read" },
    { "PlaceOrder",        contracts_place_order,        RP_WRITE, "contracts.write" },
    { "GetOrder",          contracts_get_order,          RP_READ,  "contracts.read" },
    { "HandOff",           contracts_hand_off,           RP_WRITE, "contracts.write" },
    { "SetOrderStatus",    contracts_set_order_status,   RP_WRITE, "contracts.write" },
    { "ListOrders",        contracts_list_orders,        RP_READ,  "contracts.read" },
    { NULL, NULL, RP_READ, NULL }
};

/* The daily jobs act by calendar date; they sweep every RAPPORT_CONTRACTS_JOB_MS. */
static rp_timer_t s_timers[] = {
    { "expire-quotes", 60 * 1000, contracts_expire_quotes },
    { "contract-calendar", 60 * 1000, contracts_daily },
    { "overdue-orders", 60 * 1000, contracts_overdue_orders },
    { NULL, 0, NULL }
};

static const rp_consumer_def_t s_consumers[] = {
    { "leads", "rapport.leads.v1.lead.won", contracts_on_lead_event },
    { NULL, NULL, NULL }
};

static int s_on_open(rp_service_t *svc, rp_store_t *store)
{
    return contracts_key_open(store, rp_service_keys_dir(svc));
}

static rp_service_def_t s_def = {
    .name = "contracts",
    .summary = "quotes, contracts, approvals and signatures, documents, orders and deliveries, renewals",
    .settings_help =
        "RAPPORT_CONTRACTS_DIRECTOR_THRESHOLD (10000000): minor units above which the director\n"
        "  approves too\n"
        "RAPPORT_CONTRACTS_EXPIRING_DAYS (60,30,7): days before the end that contract.expiring fires\n"
        "RAPPORT_CONTRACTS_JOB_MS (60000): how often the daily jobs sweep\n"
        "RAPPORT_CONTRACTS_SELLER (Rapport): the seller party of drafts from quotes and won leads\n"
        "RAPPORT_CONTRACTS_SIGNING_KEY (company-sign): <keys>/<name>.key, created on first start;\n"
        "  retired public keys in <keys>/<name>.retired/\n"
        "RAPPORT_CONTRACTS_FROM_LEADS (1): draft a contract for each lead won with an accepted\n"
        "  offer (needs RAPPORT_SERVICE_TOKEN or <keys>/contracts.token with events.replay)\n",
    .descriptor = &rapport__contracts__v1__contracts__descriptor,
    .methods = s_methods,
    .tables = contracts_tables,
    .migrations = contracts_migrations,
    .timers = s_timers,
    .consumers = s_consumers,
    .on_open = s_on_open,
};

/* s_expiring_days - "60,30,7": 1..CT_MAX_THRESHOLDS distinct days in 1..3650, kept
 * in descending order. 0 or -1 with a message. */
static int s_expiring_days(const char *text)
{
    const char *p = text;
    int n = 0;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 3650 || n >= CT_MAX_THRESHOLDS || (*end && *end != ','))
            goto bad;
        for (int i = 0; i < n; i++)
            if (contracts_settings.expiring_days[i] == (uint32_t)v)
                goto bad;
        contracts_settings.expiring_days[n++] = (uint32_t)v;
        p = *end ? end + 1 : end;
        if (*end && !*p)
            goto bad;
    }
    if (n == 0)
        goto bad;
    for (int i = 0; i < n; i++)         /* descending */
        for (int j = i + 1; j < n; j++)
            if (contracts_settings.expiring_days[j] > contracts_settings.expiring_days[i]) {
                uint32_t t = contracts_settings.expiring_days[i];
                contracts_settings.expiring_days[i] = contracts_settings.expiring_days[j];
                contracts_settings.expiring_days[j] = t;
            }
    contracts_settings.n_expiring = n;
    return 0;
bad:
    fprintf(stderr, "RAPPORT_CONTRACTS_EXPIRING_DAYS=%s: want 1 to %d distinct days in 1..3650, "
            "comma-separated (e.g. 60,30,7)\n", text, CT_MAX_THRESHOLDS);
    return -1;
}

int main(int argc, char **argv)
{
    int64_t ms, threshold;
    bool from_leads;
    if (rp_config_int("RAPPORT_CONTRACTS_JOB_MS", 60 * 1000, 100, 24 * 3600 * 1000, &ms) < 0
        || rp_config_int("RAPPORT_CONTRACTS_DIRECTOR_THRESHOLD", 10000000, 0, CT_VALUE_MAX, &threshold) < 0
        || rp_config_bool("RAPPORT_CONTRACTS_FROM_LEADS", true, &from_leads) < 0
        || s_expiring_days(rp_config_str("RAPPORT_CONTRACTS_EXPIRING_DAYS", "60,30,7")) < 0)
        return 2;
    contracts_settings.director_threshold = threshold;
    contracts_settings.seller_name = rp_config_str("RAPPORT_CONTRACTS_SELLER", "Rapport");
    contracts_settings.key_name = rp_config_str("RAPPORT_CONTRACTS_SIGNING_KEY", "company-sign");
    if (strlen(contracts_settings.seller_name) > CT_NAME_MAX) {
        fprintf(stderr, "RAPPORT_CONTRACTS_SELLER: at most %d bytes\n", CT_NAME_MAX);
        return 2;
    }
    for (int i = 0; s_timers[i].name; i++)
        s_timers[i].interval_ms = ms;
    if (!from_leads)
        s_def.consumers = NULL;
    return rp_service_main(argc, argv, &s_def);
}
