/* main.c - rapport-accounts: the client base (clients, contacts and their roles in
 * decisions, interactions, tasks, ownership and portfolios, segments and tiers, the
 * 360 timeline, audited exports, erasure). The definition, its settings and one
 * call to the skeleton.
 *
 * Settings (besides the skeleton's; a bad value stops the start with exit 2):
 *   RAPPORT_ACCOUNTS_SILENCE_KEY_DAYS        longest allowed silence, key clients      (14)
 *   RAPPORT_ACCOUNTS_SILENCE_CORPORATE_DAYS  ... corporate clients                     (30)
 *   RAPPORT_ACCOUNTS_SILENCE_REGULAR_DAYS    ... regular clients                       (90)
 *   RAPPORT_ACCOUNTS_SILENCE_RETAIL_DAYS     ... retail clients; 0 = no policy          (0)
 *   RAPPORT_ACCOUNTS_EXPORT_LIMIT            rows an export may have without a head's
 *                                            approval, summed over the requester's
 *                                            exports of the rolling window            (500)
 *   RAPPORT_ACCOUNTS_EXPORT_WINDOW_HOURS     that window, in hours                     (24)
 *   RAPPORT_ACCOUNTS_JOB_MS                  how often the contact-policy job runs (1 h)
 *   RAPPORT_ACCOUNTS_PENDING_DAYS            timeline entries of upstream entities that
 *                                            never joined a client (a lead never won)
 *                                            are dropped by that job after so many
 *                                            days; 0 = kept for ever              (365)
 *   RAPPORT_ACCOUNTS_FROM_LEADS              1: follow rapport-leads (lead.won makes
 *                                            clients; leads in the timeline); 0: off (1)
 *   RAPPORT_ACCOUNTS_FROM_CONTRACTS          1: follow rapport-contracts (quotes,
 *                                            contracts and orders in the timeline,
 *                                            contract.expiring makes a renewal task); 0: off (1)
 * Following an upstream needs a service token (RAPPORT_SERVICE_TOKEN or
 * <keys>/accounts.token); an upstream that is not running is waited for.
 */
#include "accounts.h"
#include "rapport/config.h"

acc_settings_t acc_settings;

static const rp_method_t s_methods[] = {
    { "CreateClient",     acc_create_client,      RP_WRITE, "accounts.write" },
    { "GetClient",        acc_get_client,         RP_READ,  "accounts.read" },
    { "UpdateClient",     acc_update_client,      RP_WRITE, "accounts.write" },
    { "TransferClient",   acc_transfer_client,    RP_WRITE, "accounts.assign" },
    { "ListClients",      acc_list_clients,       RP_READ,  "accounts.read" },
    { "ClientTree",       acc_client_tree,        RP_READ,  "accounts.read" },
    { "Portfolio",        acc_portfolio,          RP_READ,  "accounts.read" },
    { "CreateContact",    acc_create_contact,     RP_WRITE, "accounts.write" },
    { "GetContact",       acc_get_contact,        RP_READ,  "accounts.read" },
    { "UpdateContact",    acc_update_contact,     RP_WRITE, "accounts.write" },
    { "SetConsent",       acc_set_consent,        RP_WRITE, "accounts.write" },
    { "EraseContact",     acc_erase_contact,      RP_WRITE, "accounts.erase" },
    { "ListContacts",     acc_list_contacts,      RP_READ,  "accounts.read" },
    { "LogInteraction",   acc_log_interaction,    RP_WRITE, "accounts.write" },
    { "ListInteractions", acc_list_interactions,  RP_READ,  "accounts.read" },
    { "Timeline",         acc_timeline,           RP_READ,  "accounts.read" },
    { "CreateTask",       acc_create_task,        RP_WRITE, "accounts.write" },
    { "GetTask",          acc_get_task,           RP_READ,  "accounts.read" },
    { "UpdateTask",       acc_update_task,        RP_WRITE, "accounts.write" },
    { "CompleteTask",     acc_complete_task,      RP_WRITE, "accounts.write" },
    { "CancelTask",       acc_cancel_task,        RP_WRITE, "accounts.write" },
    { "ListTasks",        acc_list_tasks,         RP_READ,  "accounts.read" },
    { "GetContactPolicy", acc_get_contact_policy, RP_READ,  "accounts.read" },
    { "RequestExport",    acc_request_export,     RP_WRITE, "accounts.export" },
    { "ApproveExport",    acc_approve_export,     RP_WRITE, "accounts.export.approve" },
    { "RejectExport",     acc_reject_export,      RP_WRITE, "accounts.export.approve" },
    { "GetExport",        acc_get_export,         RP_READ,  "accounts.export" },
    /* Pages of personal and business data: never kept as an idempotency reply. */
    { "FetchExport",      acc_fetch_export,       RP_WRITE_SECRET, "accounts.export" },
    { "ListExports",      acc_list_exports,       RP_READ,  "accounts.export" },
    { NULL, NULL, RP_READ, NULL }
};

static rp_timer_t s_timers[] = {
    { "contact-policy", 3600 * 1000, acc_policy_job },
    { NULL, 0, NULL }
};

static const rp_service_def_t s_def = {
    .name = "accounts",
    .summary = "the client base: clients, contacts, interactions, tasks, portfolios, timeline, exports",
    .settings_help =
        "RAPPORT_ACCOUNTS_SILENCE_KEY_DAYS (14), _CORPORATE_DAYS (30), _REGULAR_DAYS (90),\n"
        "  _RETAIL_DAYS (0): longest silence per tier before client.contact_overdue (0: none)\n"
        "RAPPORT_ACCOUNTS_JOB_MS (3600000): how often the contact-policy job runs\n"
        "RAPPORT_ACCOUNTS_EXPORT_LIMIT (500): rows exported without a head's approval ...\n"
        "RAPPORT_ACCOUNTS_EXPORT_WINDOW_HOURS (24): ... per requester within this window\n"
        "RAPPORT_ACCOUNTS_PENDING_DAYS (365): timeline entries that never joined a client go\n"
        "RAPPORT_ACCOUNTS_FROM_LEADS (1), RAPPORT_ACCOUNTS_FROM_CONTRACTS (1): follow their\n"
        "  events (needs RAPPORT_SERVICE_TOKEN or <keys>/accounts.token with events.replay)\n",
    .descriptor = &rapport__accounts__v1__accounts__descriptor,
    .methods = s_methods,
    .tables = acc_tables,
    .migrations = acc_migrations,
    .timers = s_timers,
    .on_open = NULL,
};

/* s_settings - read the service's own settings; -1 after a message. */
static int s_settings(void)
{
    static const struct { const char *var; int tier; int64_t def; } silence[] = {
        { "RAPPORT_ACCOUNTS_SILENCE_KEY_DAYS", TIER_KEY, 14 },
        { "RAPPORT_ACCOUNTS_SILENCE_CORPORATE_DAYS", TIER_CORPORATE, 30 },
        { "RAPPORT_ACCOUNTS_SILENCE_REGULAR_DAYS", TIER_REGULAR, 90 },
        { "RAPPORT_ACCOUNTS_SILENCE_RETAIL_DAYS", TIER_RETAIL, 0 },
    };
    int64_t v;
    for (size_t i = 0; i < sizeof silence / sizeof silence[0]; i++) {
        if (rp_config_int(silence[i].var, silence[i].def, 0, 3650, &v) < 0)
            return -1;
        acc_settings.silence_days[silence[i].tier] = (uint32_t)v;
    }
    if (rp_config_int("RAPPORT_ACCOUNTS_EXPORT_LIMIT", 500, 0, 100000000, &v) < 0)
        return -1;
    acc_settings.export_limit = (uint64_t)v;
    if (rp_config_int("RAPPORT_ACCOUNTS_EXPORT_WINDOW_HOURS", 24, 1, 24 * 366, &v) < 0)
        return -1;
    acc_settings.export_window_ms = v * 3600 * 1000;
    if (rp_config_int("RAPPORT_ACCOUNTS_PENDING_DAYS", 365, 0, 36500, &v) < 0)
        return -1;
    acc_settings.pending_days = (uint32_t)v;
    if (rp_config_int("RAPPORT_ACCOUNTS_JOB_MS", 3600 * 1000, 100, 24 * 3600 * 1000, &v) < 0)
        return -1;
    s_timers[0].interval_ms = v;
    return 0;
}

int main(int argc, char **argv)
{
    rp_service_def_t def = s_def;
    if (s_settings() < 0 || acc_consumers(&def.consumers) < 0)
        return 2;
    return rp_service_main(argc, argv, &def);
}
