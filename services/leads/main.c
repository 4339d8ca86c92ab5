/* main.c - rapport-leads: leads and opportunities from first contact to a won or
 * lost deal (sources and campaigns, qualification, funnel stages, activities,
 * objections, offers, competitors). The definition and one call to the skeleton.
 */
#include "leads.h"
#include "rapport/config.h"

static const rp_method_t s_methods[] = {
    { "Create",           leads_create,            RP_WRITE, "leads.write" },
    { "Get",              leads_get,               RP_READ,  "leads.read" },
    { "Update",           leads_update,            RP_WRITE, "leads.write" },
    { "Assign",           leads_assign,            RP_WRITE, "leads.assign" },
    { "SetStage",         leads_set_stage_h,       RP_WRITE, "leads.write" },
    { "Reopen",           leads_reopen,            RP_WRITE, "leads.write" },
    { "Qualify",          leads_qualify,           RP_WRITE, "leads.write" },
    { "Disqualify",       leads_disqualify,        RP_WRITE, "leads.write" },
    { "LogActivity",      leads_log_activity,      RP_WRITE, "leads.write" },
    { "ListActivities",   leads_list_activities,   RP_READ,  "leads.read" },
    { "RecordObjection",  leads_record_objection,  RP_WRITE, "leads.write" },
    { "UpdateObjection",  leads_update_objection,  RP_WRITE, "leads.write" },
    { "AddOffer",         leads_add_offer,         RP_WRITE, "leads.write" },
    { "UpdateOffer",      leads_update_offer,      RP_WRITE, "leads.write" },
    { "SendOffer",        leads_send_offer,        RP_WRITE, "leads.write" },
    { "AcceptOffer",      leads_accept_offer,      RP_WRITE, "leads.write" },
    { "RejectOffer",      leads_reject_offer,      RP_WRITE, "leads.write" },
    { "SetCompetitor",    leads_set_competitor,    RP_WRITE, "leads.write" },
    { "RemoveCompetitor", leads_remove_competitor, RP_WRITE, "leads.write" },
    { "ListByOwner",      leads_list_by_owner,     RP_READ,  "leads.read" },
    { "ListByStage",      leads_list_by_stage,     RP_READ,  "leads.read" },
    { "ListBySource",     leads_list_by_source,    RP_READ,  "leads.read" },
    { "ListByCampaign",   leads_list_by_campaign,  RP_READ,  "leads.read" },
    { "ListByClose",      leads_list_by_close,     RP_READ,  "leads.read" },
    { "SearchByName",     leads_search_by_name,    RP_READ,  "leads.read" },
    { "ListStale",        leads_list_stale,        RP_READ,  "leads.read" },
    { "Funnel",           leads_funnel,            RP_READ,  "leads.report" },
    { NULL, NULL, RP_READ, NULL }
};

/* The offer-expiry sweep runs every RAPPORT_LEADS_EXPIRE_MS (default 60 s). */
static rp_timer_t s_timers[] = {
    { "expire-offers", 60 * 1000, leads_expire_offers },
    { NULL, 0, NULL }
};

static const rp_service_def_t s_def = {
    .name = "leads",
    .summary = "leads and opportunities: qualification, funnel stages, activities, offers, competitors",
    .settings_help = "RAPPORT_LEADS_EXPIRE_MS (60000): how often sent offers past their date are expired\n",
    .descriptor = &rapport__leads__v1__leads__descriptor,
    .methods = s_methods,
    .tables = leads_tables,
    .migrations = leads_migrations,
    .timers = s_timers,
    .on_open = NULL,
};

int main(int argc, char **argv)
{
    int64_t ms;
    if (rp_config_int("RAPPORT_LEADS_EXPIRE_MS", 60 * 1000, 100, 24 * 3600 * 1000, &ms) < 0)
        return 2;
    s_timers[0].interval_ms = ms;
    return rp_service_main(argc, argv, &s_def);
}
