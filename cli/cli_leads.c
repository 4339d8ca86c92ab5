/* cli_leads.c - `rapport leads ...`: every method of rapport.leads.v1.Leads
 * (proto/rapport/leads/v1/leads.proto) as a command, driven by one table on the
 * command engine (cli_engine.c).
 *
 * s_cmds is the whole command set. A row names the command, its positional
 * arguments and the request fields they fill, the Leads method (whose descriptor
 * gives the request and reply types), a preset field, the flags and how the reply
 * prints. A flag row names the request field its value goes to and how its text
 * becomes a value (CLI_F_TEXT, CLI_F_ENUM, CLI_F_DATE, ..., and this file's own
 * kinds S_CONTACT and S_LINE). The service checks the rules and names the field of
 * any violation. One record prints as key: value lines, lists as a table; --json
 * prints the reply message as JSON (pbjson.h).
 *
 * main.c parses the command line against cli_leads_cmds, which cli_leads_init
 * builds from s_cmds after checking every row against the descriptors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "rapport/util.h"
#include "rapport/leads/v1/leads.pb-c.h"

/* This file's kinds of flag (s_kinds). */
#define S_CONTACT (CLI_F_CUSTOM + 0)    /* a Contact: NAME,ROLE[,EMAIL[,PHONE[,POSITION]]] */
#define S_LINE    (CLI_F_CUSTOM + 1)    /* an OfferLine: DESCRIPTION,QUANTITY,UNIT_PRICE */

/* ---- the flags ---- */

#define S_END CLI_EFLAG_END
#define S_REQUEST_ID_FLAG { "request-id", "ULID", NULL, CLI_F_REQUEST_ID, "idempotency key" }
#define S_PAGE_FLAGS CLI_EFLAG_PAGING

/* The lead fields of create and update; their paths are update_mask paths. */
#define S_LEAD_FLAGS(REQUIRED) \
    { "company",  "NAME",      "company.name",       CLI_F_TEXT | CLI_F_MASK | (REQUIRED), "company name (1..200 bytes)" }, \
    { "tax-id",   "ID",        "company.tax_id",     CLI_F_TEXT | CLI_F_MASK, "company tax id (duplicates are found by it)" }, \
    { "region",   "TEXT",      "company.region",     CLI_F_TEXT | CLI_F_MASK, "company region" }, \
    { "industry", "TEXT",      "company.industry",   CLI_F_TEXT | CLI_F_MASK, "company industry" }, \
    { "size",     "SIZE",      "company.size",       CLI_F_ENUM | CLI_F_MASK, "company size: micro, small, medium, large, enterprise" }, \
    { "contact",  "CONTACT",   "contacts",           S_CONTACT | CLI_F_MASK, "NAME,ROLE[,EMAIL[,PHONE[,POSITION]]]; ROLE: decision_maker, negotiator, influencer, other" }, \
    { "source",   "SOURCE",    "source",             CLI_F_ENUM | CLI_F_MASK | (REQUIRED), "where the lead came from: cold_call, inbound_call, email, web, visit, chat, advertising, exhibition, fair, conference, presentation, referral, partner, tender, social_media, import" }, \
    { "referrer", "CLIENT_ID", "referrer_client_id", CLI_F_TEXT | CLI_F_MASK, "the referring client's id (source referral)" }, \
    { "campaign", "NAME",      "campaign",           CLI_F_TEXT | CLI_F_MASK, "marketing campaign" }, \
    { "needs",    "TEXT",      "needs",              CLI_F_TEXT | CLI_F_MASK, "what the client needs" }, \
    { "value",    "AMOUNT",    "expected_value",     CLI_F_MONEY | CLI_F_MASK, "expected value, e.g. 12000.50 or '12000.50 USD'" }, \
    { "currency", "CODE",      NULL,                 CLI_F_CURRENCY, "currency of --value (default $RAPPORT_CURRENCY or EUR)" }, \
    { "close",    "DATE",      "expected_close",     CLI_F_DATE | CLI_F_MASK, "expected close date YYYY-MM-DD" }

static const cli_eflag_t s_create_flags[] = {
    S_LEAD_FLAGS(CLI_F_REQUIRED),
    { "owner",      "USER", "owner",      CLI_F_TEXT, "owner other than yourself (needs leads.assign)" },
    { "owner-unit", "PATH", "owner_unit", CLI_F_TEXT, "the owner's org unit (with --owner)" },
    { "force",      NULL,   "force",      CLI_F_BOOL | CLI_F_WITH_JSON, "create despite a duplicate (same tax id, or name and contact e-mail)" },
    { "from-json",  "FILE", NULL,         CLI_F_FROM_JSON, "read the CreateRequest as JSON from FILE ('-' for stdin) instead of field flags" },
    { "request-id", "ULID", NULL,         CLI_F_REQUEST_ID, "idempotency key: a retry with the same id creates nothing twice" },
    S_END
};

static const cli_eflag_t s_update_flags[] = {
    S_LEAD_FLAGS(0),
    { "clear-value", NULL, "expected_value", CLI_F_CLEAR, "clear the expected value" },
    { "clear-close", NULL, "expected_close", CLI_F_CLEAR, "clear the expected close date" },
    { "force",       NULL, "force",          CLI_F_BOOL,  "update despite a duplicate" },
    S_REQUEST_ID_FLAG, S_END
};

static const cli_eflag_t s_assign_flags[] = {
    { "owner", "USER", "owner", CLI_F_TEXT | CLI_F_REQUIRED, "the new owner's user id; required" },
    { "unit",  "PATH", "unit",  CLI_F_TEXT | CLI_F_REQUIRED, "the new owner's org unit, within yours; required" },
    S_REQUEST_ID_FLAG, S_END
};

/* The flags of SetStage to lost (stage takes them for any stage; lose needs --reason). */
#define S_LOST_FLAGS(REQUIRED) \
    { "reason",        "REASON", "lost_reason",          CLI_F_ENUM | (REQUIRED), "with lost: price, competitor, no_budget, no_decision, timing, other" }, \
    { "note",          "TEXT",   "lost_note",            CLI_F_TEXT, "with lost: a note" }, \
    { "competitor",    "NAME",   "lost_competitor_name", CLI_F_TEXT, "with reason competitor: who won it" }, \
    { "competitor-id", "ID",     "lost_competitor_id",   CLI_F_TEXT, "with reason competitor: their id in rapport-intel" }, \
    S_REQUEST_ID_FLAG, S_END

static const cli_eflag_t s_stage_flags[] = { S_LOST_FLAGS(0) };
static const cli_eflag_t s_lose_flags[] = { S_LOST_FLAGS(CLI_F_REQUIRED) };
static const cli_eflag_t s_write_flags[] = { S_REQUEST_ID_FLAG, S_END };

static const cli_eflag_t s_reopen_flags[] = {
    { "stage", "STAGE", "stage", CLI_F_ENUM, "the open stage to reopen at (default: the stage it was lost from)" },
    S_REQUEST_ID_FLAG, S_END
};

static const cli_eflag_t s_qualify_flags[] = {
    { "interest",    "0..5",    "interest",           CLI_F_UINT | CLI_F_MAX(1000), "the client's interest" },
    { "financial",   "0..5",    "financial_capacity", CLI_F_UINT | CLI_F_MAX(1000), "the client's financial capacity" },
    { "reliability", "0..5",    "reliability",        CLI_F_UINT | CLI_F_MAX(1000), "the client's reliability" },
    { "risk",        "FLAG",    "risk_flags",         CLI_F_ENUM, "a risk flag: late_payments, insolvency, legal_disputes, new_company, unclear_ownership, no_budget, no_decision_maker, bad_references, sanctions, other" },
    { "note",        "TEXT",    "note",               CLI_F_TEXT, "a note" },
    { "verdict",     "VERDICT", "verdict",            CLI_F_ENUM, "unknown, promising or unprofitable (default: from the score)" },
    { "request-id",  "ULID",    NULL,                 CLI_F_REQUEST_ID, "idempotency key" },
    S_END
};

static const cli_eflag_t s_disqualify_flags[] = {
    { "reason", "TEXT", "reason", CLI_F_TEXT | CLI_F_REQUIRED, "why; required" },
    S_REQUEST_ID_FLAG, S_END
};

static const cli_eflag_t s_activity_log_flags[] = {
    { "kind",      "KIND",    "kind",          CLI_F_ENUM | CLI_F_REQUIRED, "call, meeting, email, presentation, correspondence; required" },
    { "outcome",   "OUTCOME", "outcome",       CLI_F_ENUM | CLI_F_REQUIRED, "positive, neutral, negative, no_contact; required" },
    { "subject",   "TEXT",    "subject",       CLI_F_TEXT, "subject" },
    { "summary",   "TEXT",    "summary",       CLI_F_TEXT, "what happened" },
    { "next-step", "TEXT",    "next_step",     CLI_F_TEXT, "the agreed next step" },
    { "due",       "DATE",    "next_step_due", CLI_F_DATE, "when the next step is due, YYYY-MM-DD (required with --next-step)" },
    { "at",        "TIME",    "occurred_at",   CLI_F_TIME, "when it happened, YYYY-MM-DD[THH:MM[:SS]] UTC (default now)" },
    S_REQUEST_ID_FLAG, S_END
};

static const cli_eflag_t s_page_flags[] = { S_PAGE_FLAGS, S_END };

static const cli_eflag_t s_objection_add_flags[] = {
    { "category", "CATEGORY", "category", CLI_F_ENUM | CLI_F_REQUIRED, "price, product, timing, competitor, authority, need, trust, terms, other; required" },
    { "text",     "TEXT",     "text",     CLI_F_TEXT | CLI_F_REQUIRED, "what the client said; required" },
    { "response", "TEXT",     "response", CLI_F_TEXT, "how it was answered" },
    { "resolved", NULL,       "resolved", CLI_F_BOOL, "the objection is already resolved" },
    S_REQUEST_ID_FLAG, S_END
};

static const cli_eflag_t s_objection_resolve_flags[] = {
    { "response", "TEXT", "response", CLI_F_TEXT, "how it was answered (replaces the response)" },
    S_REQUEST_ID_FLAG, S_END
};

static const cli_eflag_t s_offer_flags[] = {
    { "line",          "LINE",    "lines",              S_LINE | CLI_F_REQUIRED, "DESCRIPTION,QUANTITY,UNIT_PRICE, e.g. 'Support plan,12,99.50'; 1..100 lines" },
    { "currency",      "CODE",    NULL,                 CLI_F_CURRENCY, "currency of every line (default $RAPPORT_CURRENCY or EUR)" },
    { "discount",      "PERCENT", "discount_bp",        CLI_F_PERCENT, "discount on the subtotal, e.g. 5 or 2.5 (0..100, two decimals)" },
    { "payment-terms", "DAYS",    "payment_terms_days", CLI_F_UINT | CLI_F_MAX(100000), "payment terms in days (0..365)" },
    { "valid-until",   "DATE",    "valid_until",        CLI_F_DATE | CLI_F_REQUIRED, "the offer's expiry, YYYY-MM-DD; required" },
    { "note",          "TEXT",    "note",               CLI_F_TEXT, "a note" },
    S_REQUEST_ID_FLAG, S_END
};

static const cli_eflag_t s_offer_reject_flags[] = {
    { "reason", "TEXT", "reason", CLI_F_TEXT, "why the client rejected it" },
    S_REQUEST_ID_FLAG, S_END
};

static const cli_eflag_t s_competitor_add_flags[] = {
    { "name",   "NAME",  "competitor.name",          CLI_F_TEXT | CLI_F_EITHER, "the competitor's name (required without --id)" },
    { "id",     "ID",    "competitor.competitor_id", CLI_F_TEXT | CLI_F_EITHER, "the competitor's id in rapport-intel" },
    { "threat", "LEVEL", "competitor.threat",        CLI_F_ENUM | CLI_F_REQUIRED, "low, medium or high; required" },
    { "note",   "TEXT",  "competitor.note",          CLI_F_TEXT, "a note" },
    S_REQUEST_ID_FLAG, S_END
};

static const cli_eflag_t s_competitor_remove_flags[] = {
    { "name", "NAME", "name",          CLI_F_TEXT | CLI_F_EITHER, "the competitor's name" },
    { "id",   "ID",   "competitor_id", CLI_F_TEXT | CLI_F_EITHER, "the competitor's id" },
    S_REQUEST_ID_FLAG, S_END
};

/* Each filter picks its method; the flags of one filter go together. */
static const cli_eflag_t s_list_flags[] = {
    { "owner",       "USER",   "ListByOwner/owner",    CLI_F_TEXT, "leads of this owner (default: yours)" },
    { "stage",       "STAGE",  "ListByStage/stage",    CLI_F_ENUM, "leads in this stage: new, contacted, interested, needs_identified, offer, negotiation, won, lost" },
    { "source",      "SOURCE", "ListBySource/source",  CLI_F_ENUM, "leads from this source" },
    { "campaign",    "NAME",   "ListByCampaign/campaign", CLI_F_TEXT, "leads of this campaign" },
    { "close-from",  "DATE",   "ListByClose/from",     CLI_F_DATE | CLI_F_BOTH, "expected close on or after DATE (with --close-to)" },
    { "close-to",    "DATE",   "ListByClose/to",       CLI_F_DATE | CLI_F_BOTH, "expected close before DATE (with --close-from)" },
    { "name-prefix", "TEXT",   "SearchByName/prefix",  CLI_F_TEXT, "company names starting with TEXT (case and accents folded)" },
    S_PAGE_FLAGS, S_END
};

static const cli_eflag_t s_stale_flags[] = {
    { "days", "N", "days", CLI_F_UINT | CLI_F_MAX(1000000) | CLI_F_REQUIRED, "no activity in the last N days (1..3650); required" },
    S_PAGE_FLAGS, S_END
};

static const cli_eflag_t s_funnel_flags[] = {
    { "from", "DATE", "from", CLI_F_DATE | CLI_F_BOTH | CLI_F_REQUIRED, "leads created on or after DATE (YYYY-MM-DD); required" },
    { "to",   "DATE", "to",   CLI_F_DATE | CLI_F_BOTH | CLI_F_REQUIRED, "leads created before DATE; required" },
    S_END
};

/* ---- how replies print ---- */

static const cli_ecol_t s_lead_cols[] = {
    { "ID", "id", CLI_COL_TEXT }, { "COMPANY", "company_name", CLI_COL_TEXT }, { "STAGE", "stage", CLI_COL_TEXT },
    { "SOURCE", "source", CLI_COL_TEXT }, { "OWNER", "owner", CLI_COL_TEXT }, { "VALUE", "expected_value", CLI_COL_TEXT },
    { "CLOSE", "expected_close", CLI_COL_TEXT }, { "SCORE", "score", CLI_COL_TEXT },
    { "LAST ACTIVITY", "last_activity_at", CLI_COL_DAY }, { NULL, NULL, 0 }
};

static const cli_ecol_t s_activity_cols[] = {
    { "ID", "id", CLI_COL_TEXT }, { "WHEN", "occurred_at", CLI_COL_TEXT }, { "KIND", "kind", CLI_COL_TEXT },
    { "OUTCOME", "outcome", CLI_COL_TEXT }, { "SUBJECT", "subject", CLI_COL_TEXT }, { "NEXT STEP", "next_step", CLI_COL_TEXT },
    { "DUE", "next_step_due", CLI_COL_TEXT }, { "BY", "by", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

static const cli_ecol_t s_funnel_stage_cols[] = {
    { "STAGE", "stage", CLI_COL_TEXT }, { "NOW", "count", CLI_COL_TEXT }, { "REACHED", "reached", CLI_COL_TEXT },
    { "CONVERSION", "conversion_bp", CLI_COL_BP }, { "VALUE", "value", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

static const cli_ecol_t s_funnel_source_cols[] = {
    { "SOURCE", "source", CLI_COL_TEXT }, { "TOTAL", "total", CLI_COL_TEXT }, { "WON", "won", CLI_COL_TEXT },
    { "LOST", "lost", CLI_COL_TEXT }, { "CONVERSION", "conversion_bp", CLI_COL_BP }, { NULL, NULL, 0 }
};

static void s_print_funnel(cli_t *cli, const cli_args_t *a, const ProtobufCMessage *reply);

static const cli_eview_t s_leads_view = { .items = "leads", .none = "leads", .cols = s_lead_cols };
static const cli_eview_t s_stale_view = { .items = "leads", .none = "stale leads", .cols = s_lead_cols };
static const cli_eview_t s_activities_view = { .items = "activities", .none = "activities", .cols = s_activity_cols };
static const cli_eview_t s_funnel_view = { .print = s_print_funnel };

/* ---- the commands ---- */

static const cli_erow_t s_cmds[] = {
    /* command            ARGS              request fields             method         preset          flags               view */
    { "create",           "",               { NULL },                  "Create",      NULL,           s_create_flags,     NULL,
      "create a lead (Create)",
      "Required: --company and --source (or --from-json). A duplicate in your branch (same tax id, or\n"
      "  same company name and contact e-mail) answers ALREADY_EXISTS with the existing lead's id." },
    { "get",              "ID",             { "id" },                  "Get",         NULL,           NULL,               NULL,
      "show one lead (Get)", NULL },
    { "update",           "ID",             { "id" },                  "Update",      NULL,           s_update_flags,     NULL,
      "change the fields given as flags, leaving the others (Update)",
      "Only the flags given are changed (update_mask); --contact replaces the whole contact list." },
    { "assign",           "ID",             { "id" },                  "Assign",      NULL,           s_assign_flags,     NULL,
      "give a lead to another owner (Assign; needs leads.assign)", NULL },
    { "stage",            "ID STAGE",       { "id", "stage" },         "SetStage",    NULL,           s_stage_flags,      NULL,
      "move a lead to a funnel stage (SetStage)",
      "STAGE: new, contacted, interested, needs_identified, offer, negotiation, won, lost. Forward any\n"
      "  number of steps, back one; won needs a decision maker and a value; lost needs --reason." },
    { "reopen",           "ID",             { "id" },                  "Reopen",      NULL,           s_reopen_flags,     NULL,
      "reopen a lost lead (Reopen)", NULL },
    { "qualify",          "ID",             { "id" },                  "Qualify",     NULL,           s_qualify_flags,    NULL,
      "score the lead's interest, capacity, reliability and risks (Qualify)",
      "score = 8*interest + 7*financial + 5*reliability - 10 per risk flag (0..100)." },
    { "disqualify",       "ID",             { "id" },                  "Disqualify",  NULL,           s_disqualify_flags, NULL,
      "mark a lead unprofitable and lost (Disqualify)", NULL },
    { "win",              "ID",             { "id" },                  "SetStage",    "stage=won",    s_write_flags,      NULL,
      "mark a lead won (SetStage won)", NULL },
    { "lose",             "ID",             { "id" },                  "SetStage",    "stage=lost",   s_lose_flags,       NULL,
      "mark a lead lost (SetStage lost)",
      "--reason is required; with --reason competitor give --competitor or --competitor-id." },
    { "activity log",     "LEAD",           { "lead_id" },             "LogActivity", NULL,           s_activity_log_flags, NULL,
      "log a call, meeting, e-mail... (LogActivity)", NULL },
    { "activity list",    "LEAD",           { "lead_id" },             "ListActivities", NULL,        s_page_flags,       &s_activities_view,
      "list a lead's activities, oldest first (ListActivities)", NULL },
    { "objection add",    "LEAD",           { "lead_id" },             "RecordObjection", NULL,       s_objection_add_flags, NULL,
      "record a client's objection (RecordObjection)", NULL },
    { "objection resolve", "LEAD OBJECTION", { "lead_id", "objection_id" }, "UpdateObjection", "resolved=true", s_objection_resolve_flags, NULL,
      "mark an objection resolved (UpdateObjection)", NULL },
    { "offer create",     "LEAD",           { "lead_id" },             "AddOffer",    NULL,           s_offer_flags,      NULL,
      "draft an offer (AddOffer)",
      "Totals are computed by the service: line total = quantity * unit price, discount on the subtotal." },
    { "offer update",     "LEAD OFFER",     { "lead_id", "offer_id" }, "UpdateOffer", NULL,           s_offer_flags,      NULL,
      "replace a draft offer's lines and terms (UpdateOffer)", NULL },
    { "offer send",       "LEAD OFFER",     { "lead_id", "offer_id" }, "SendOffer",   NULL,           s_write_flags,      NULL,
      "send a draft offer to the client (SendOffer)", NULL },
    { "offer accept",     "LEAD OFFER",     { "lead_id", "offer_id" }, "AcceptOffer", NULL,           s_write_flags,      NULL,
      "the client accepted a sent offer (AcceptOffer)", NULL },
    { "offer reject",     "LEAD OFFER",     { "lead_id", "offer_id" }, "RejectOffer", NULL,           s_offer_reject_flags, NULL,
      "the client rejected a sent offer (RejectOffer)", NULL },
    { "competitor add",   "LEAD",           { "lead_id" },             "SetCompetitor", NULL,         s_competitor_add_flags, NULL,
      "add or update a competitor in the deal (SetCompetitor)", NULL },
    { "competitor remove", "LEAD",          { "lead_id" },             "RemoveCompetitor", NULL,      s_competitor_remove_flags, NULL,
      "remove a competitor from the deal (RemoveCompetitor)", NULL },
    { "list",             "",               { NULL },                  "ListByOwner", NULL,           s_list_flags,       &s_leads_view,
      "list leads: yours, or by one filter (ListBy*, SearchByName)",
      "Without a filter: your own leads (ListByOwner). One filter at a time." },
    { "stale",            "",               { NULL },                  "ListStale",   NULL,           s_stale_flags,      &s_stale_view,
      "open leads with no activity for --days days (ListStale)", NULL },
    { "funnel",           "",               { NULL },                  "Funnel",      NULL,           s_funnel_flags,     &s_funnel_view,
      "the funnel of leads created in a period: stages, conversion, sources (Funnel)", NULL },
};

#define S_NCMDS (sizeof s_cmds / sizeof s_cmds[0])

/* ---- this file's kinds of flag ---- */

/* s_contact - "NAME,ROLE[,EMAIL[,PHONE[,POSITION]]]" (POSITION takes the rest). */
static json_t *s_contact(const cli_args_t *a, const cli_eflag_t *f, const ProtobufCFieldDescriptor *fd,
                         const char *text)
{
    static const char *const keys[] = { "name", "role", "email", "phone", "position" };
    char *buf = rp_strdup(text), *parts[5];
    int n = 0;
    for (char *p = buf; n < 5;) {
        parts[n++] = p;
        char *comma = n < 5 ? strchr(p, ',') : NULL;
        if (!comma)
            break;
        *comma = 0;
        p = comma + 1;
    }
    json_t *c = NULL, *role;
    if (n < 2)
        cli_engine_bad(a, "--contact: must be NAME,ROLE[,EMAIL[,PHONE[,POSITION]]], got '%s'", text);
    else if ((role = cli_engine_enum(a, "contact", &rapport__leads__v1__contact_role__descriptor,
                                     cli_engine_trim(parts[1])))) {
        c = json_object();
        for (int i = 0; i < n; i++)
            json_object_set_new(c, keys[i], i == 1 ? role : json_string_nocheck(cli_engine_trim(parts[i])));
    }
    free(buf);
    return c;
}

/* s_offer_line - "DESCRIPTION,QUANTITY,UNIT_PRICE", split from the right. */
static json_t *s_offer_line(const cli_args_t *a, const cli_eflag_t *f, const ProtobufCFieldDescriptor *fd,
                            const char *text)
{
    char *buf = rp_strdup(text), *c1 = NULL, *c2 = strrchr(buf, ',');
    if (c2) {
        *c2 = 0;
        c1 = strrchr(buf, ',');
    }
    json_t *line = NULL, *price;
    int64_t qty;
    if (!c1)
        cli_engine_bad(a, "--line: must be DESCRIPTION,QUANTITY,UNIT_PRICE, got '%s'", text);
    else if (*c1 = 0, cli_parse_i64(cli_engine_trim(c1 + 1), &qty) != 0)
        cli_engine_bad(a, "--line: QUANTITY must be a whole number, got '%s'", cli_engine_trim(c1 + 1));
    else if ((price = cli_engine_money(a, "line", cli_engine_trim(c2 + 1)))) {
        line = json_pack("{s:I,s:o}", "quantity", (json_int_t) qty, "unit_price", price);
        json_object_set_new(line, "description", json_string_nocheck(cli_engine_trim(buf)));
    }
    free(buf);
    return line;
}

static const cli_ekind_t s_kinds[] = {
    [S_CONTACT - CLI_F_CUSTOM] = { PROTOBUF_C_TYPE_MESSAGE, "rapport.leads.v1.Contact", s_contact },
    [S_LINE - CLI_F_CUSTOM] = { PROTOBUF_C_TYPE_MESSAGE, "rapport.leads.v1.OfferLine", s_offer_line },
};

/* s_print_funnel - a FunnelReply: the period, then its stages and sources as tables. */
static void s_print_funnel(cli_t *cli, const cli_args_t *a, const ProtobufCMessage *reply)
{
    const Rapport__Leads__V1__FunnelReply *rep = (const Rapport__Leads__V1__FunnelReply *) reply;
    printf("funnel %s .. %s: %u leads%s\n\n", cli_flag(a, "from"), cli_flag(a, "to"), rep->total,
           rep->truncated ? " (truncated: the period holds more leads than one funnel reads)" : "");
    cli_table_t *t = cli_engine_table_new(s_funnel_stage_cols);
    cli_engine_table_add(t, NULL, s_funnel_stage_cols, reply, "stages");
    cli_table_set_cut(t, 0);
    cli_table_print(t, stdout);
    cli_table_destroy(&t);
    if (rep->n_sources) {
        fputc('\n', stdout);
        t = cli_engine_table_new(s_funnel_source_cols);
        cli_engine_table_add(t, NULL, s_funnel_source_cols, reply, "sources");
        cli_table_print(t, stdout);
        cli_table_destroy(&t);
    }
}

/* ---- main.c's view of the table ---- */

cli_cmd_t cli_leads_cmds[S_NCMDS + 1];
static cli_flag_t s_cli_flags[S_NCMDS][CLI_MAX_FLAGS + 1];

static const cli_engine_t s_engine = {
    .group = "leads", .service = "leads", .svc = &rapport__leads__v1__leads__descriptor,
    .rows = s_cmds, .nrows = S_NCMDS, .kinds = s_kinds, .nkinds = sizeof s_kinds / sizeof s_kinds[0],
    .cmds = cli_leads_cmds, .flags = s_cli_flags,
};

void cli_leads_init(void)
{
    cli_engine_init(&s_engine);
}
