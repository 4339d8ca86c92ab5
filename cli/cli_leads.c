/* cli_leads.c - `rapport leads ...`: every method of rapport.leads.v1.Leads
 * (proto/rapport/leads/v1/leads.proto) as a command, driven by one table.
 *
 * s_cmds is the whole command set. A row names the command, its positional
 * arguments and the request fields they fill, the Leads method (whose descriptor
 * gives the request and reply types), a preset field, the flags and how the reply
 * prints. A flag row names the request field its value goes to and how its text
 * becomes a value (S_TEXT, S_ENUM, S_DATE, ...). The request is built as JSON and
 * made a message by rp_pb_from_json, so a few generic functions serve every
 * command. The service checks the rules and names the field of any violation,
 * which cli_call prints. One record prints as key: value lines, lists as a table;
 * --json prints the reply message as JSON (pbjson.h).
 *
 * main.c parses the command line against cli_leads_cmds, which cli_leads_init
 * builds from s_cmds after checking every row against the descriptors.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "rapport/pbjson.h"
#include "rapport/ulid.h"
#include "rapport/util.h"
#include "rapport/leads/v1/leads.pb-c.h"

/* How the text of a flag becomes part of the request: the low bits of s_flag_t.how. */
enum {
    S_TEXT,         /* a string field, as given */
    S_ENUM,         /* an enum field, by name: "won" or "LEAD_STAGE_WON", any case */
    S_UINT,         /* a uint32 field: a whole number from 0 to S_MAX */
    S_BOOL,         /* a bool field: true when the flag is given */
    S_DATE,         /* a rapport.v1.Date field: YYYY-MM-DD */
    S_TIME,         /* a unix-ms field: YYYY-MM-DD[THH:MM[:SS]], UTC */
    S_MONEY,        /* a rapport.v1.Money field: AMOUNT [CURRENCY], else --currency */
    S_PERCENT,      /* a basis-point field: 2.5 or 2.5% */
    S_CONTACT,      /* a Contact: NAME,ROLE[,EMAIL[,PHONE[,POSITION]]] */
    S_LINE,         /* an OfferLine: DESCRIPTION,QUANTITY,UNIT_PRICE */
    S_CLEAR,        /* no value: the field goes into update_mask unset, which clears it */
    S_CURRENCY,     /* not a field: the currency of S_MONEY and S_LINE values (an
                     * S_MONEY flag of the command must come with it) */
    S_REQUEST_ID,   /* not a field: the call's idempotency key */
    S_FROM_JSON,    /* not a field: the whole request from a JSON file */
    S_PAGING        /* not a field: --page-size, --page-token, --all (s_list) */
};
#define S_KIND(how)  ((int) ((how) & 0x1f))

/* Options, or'ed into s_flag_t.how. A run of adjacent S_BOTH or S_EITHER flags is a group. */
#define S_REQUIRED   0x20u      /* must be given (S_BOTH: every flag of the group); in a
                                 * command with --from-json, unless that is given */
#define S_LEAD       0x40u      /* a lead field: into update_mask; not with --from-json */
#define S_WITH_JSON  0x80u      /* applied on top of --from-json (others are ignored there) */
#define S_BOTH       0x100u     /* the group goes together */
#define S_EITHER     0x200u     /* one flag of the group at least is required */
#define S_MAX(n)     ((uint32_t) (n) << 10)     /* S_UINT: the largest value (< 2^22) */
#define S_MAX_OF(how) ((how) >> 10)

/* A flag: --name ARG sets field of the request; "Method/field" picks that method too.
 * A flag that sets a repeated field may be given more than once. */
typedef struct {
    const char *name;
    const char *arg;        /* metavariable; NULL for a flag without a value */
    const char *field;      /* a path such as "company.name"; NULL when not a field */
    uint32_t how;           /* kind | options */
    const char *help;
} s_flag_t;

enum { COL_TEXT, COL_DAY, COL_BP };     /* as is, the date of a time, basis points as % */

typedef struct {
    const char *header;
    const char *path;       /* a field of the row's message (cli_field_text) */
    int form;
} s_col_t;

/* How a reply prints without --json (with it, always as JSON). */
typedef struct {
    const char *items;      /* a paged list: the reply's repeated field, one row each */
    const char *none;       /* and what "no ... found" says */
    const s_col_t *cols;
    void (*print)(const cli_args_t *a, const ProtobufCMessage *reply);     /* or one reply so */
} s_view_t;

typedef struct {
    const char *name;
    const char *args;       /* positional synopsis: "LEAD OFFER" */
    const char *pos[2];     /* the request fields of the positional arguments */
    const char *method;     /* of rapport.leads.v1.Leads */
    const char *preset;     /* "field=value" (value as JSON, else a string), or NULL */
    const s_flag_t *flags;
    const s_view_t *view;   /* NULL: the reply as key: value lines */
    const char *summary;
    const char *help;       /* extra paragraph for --help, or NULL */
} s_cmd_t;

/* ---- the flags ---- */

#define S_END { NULL, NULL, NULL, 0, NULL }
#define S_REQUEST_ID_FLAG { "request-id", "ULID", NULL, S_REQUEST_ID, "idempotency key" }
#define S_PAGE_FLAGS \
    { "page-size",  "N",     NULL, S_PAGING, "rows per page, 1..500 (default 50)" }, \
    { "page-token", "TOKEN", NULL, S_PAGING, "continue where a previous page ended" }, \
    { "all",        NULL,    NULL, S_PAGING, "follow the pages to the end" }

/* The lead fields of create and update; their paths are update_mask paths. */
#define S_LEAD_FLAGS(REQUIRED) \
    { "company",  "NAME",      "company.name",       S_TEXT | S_LEAD | (REQUIRED), "company name (1..200 bytes)" }, \
    { "tax-id",   "ID",        "company.tax_id",     S_TEXT | S_LEAD, "company tax id (duplicates are found by it)" }, \
    { "region",   "TEXT",      "company.region",     S_TEXT | S_LEAD, "company region" }, \
    { "industry", "TEXT",      "company.industry",   S_TEXT | S_LEAD, "company industry" }, \
    { "size",     "SIZE",      "company.size",       S_ENUM | S_LEAD, "company size: micro, small, medium, large, enterprise" }, \
    { "contact",  "CONTACT",   "contacts",           S_CONTACT | S_LEAD, "NAME,ROLE[,EMAIL[,PHONE[,POSITION]]]; ROLE: decision_maker, negotiator, influencer, other" }, \
    { "source",   "SOURCE",    "source",             S_ENUM | S_LEAD | (REQUIRED), "where the lead came from: cold_call, inbound_call, email, web, visit, chat, advertising, exhibition, fair, conference, presentation, referral, partner, tender, social_media, import" }, \
    { "referrer", "CLIENT_ID", "referrer_client_id", S_TEXT | S_LEAD, "the referring client's id (source referral)" }, \
    { "campaign", "NAME",      "campaign",           S_TEXT | S_LEAD, "marketing campaign" }, \
    { "needs",    "TEXT",      "needs",              S_TEXT | S_LEAD, "what the client needs" }, \
    { "value",    "AMOUNT",    "expected_value",     S_MONEY | S_LEAD, "expected value, e.g. 12000.50 or '12000.50 USD'" }, \
    { "currency", "CODE",      NULL,                 S_CURRENCY, "currency of --value (default $RAPPORT_CURRENCY or EUR)" }, \
    { "close",    "DATE",      "expected_close",     S_DATE | S_LEAD, "expected close date YYYY-MM-DD" }

static const s_flag_t s_create_flags[] = {
    S_LEAD_FLAGS(S_REQUIRED),
    { "owner",      "USER", "owner",      S_TEXT, "owner other than yourself (needs leads.assign)" },
    { "owner-unit", "PATH", "owner_unit", S_TEXT, "the owner's org unit (with --owner)" },
    { "force",      NULL,   "force",      S_BOOL | S_WITH_JSON, "create despite a duplicate (same tax id, or name and contact e-mail)" },
    { "from-json",  "FILE", NULL,         S_FROM_JSON, "read the CreateRequest as JSON from FILE ('-' for stdin) instead of field flags" },
    { "request-id", "ULID", NULL,         S_REQUEST_ID, "idempotency key: a retry with the same id creates nothing twice" },
    S_END
};

static const s_flag_t s_update_flags[] = {
    S_LEAD_FLAGS(0),
    { "clear-value", NULL, "expected_value", S_CLEAR, "clear the expected value" },
    { "clear-close", NULL, "expected_close", S_CLEAR, "clear the expected close date" },
    { "force",       NULL, "force",          S_BOOL,  "update despite a duplicate" },
    S_REQUEST_ID_FLAG, S_END
};

static const s_flag_t s_assign_flags[] = {
    { "owner", "USER", "owner", S_TEXT | S_REQUIRED, "the new owner's user id; required" },
    { "unit",  "PATH", "unit",  S_TEXT | S_REQUIRED, "the new owner's org unit, within yours; required" },
    S_REQUEST_ID_FLAG, S_END
};

/* The flags of SetStage to lost (stage takes them for any stage; lose needs --reason). */
#define S_LOST_FLAGS(REQUIRED) \
    { "reason",        "REASON", "lost_reason",          S_ENUM | (REQUIRED), "with lost: price, competitor, no_budget, no_decision, timing, other" }, \
    { "note",          "TEXT",   "lost_note",            S_TEXT, "with lost: a note" }, \
    { "competitor",    "NAME",   "lost_competitor_name", S_TEXT, "with reason competitor: who won it" }, \
    { "competitor-id", "ID",     "lost_competitor_id",   S_TEXT, "with reason competitor: their id in rapport-intel" }, \
    S_REQUEST_ID_FLAG, S_END

static const s_flag_t s_stage_flags[] = { S_LOST_FLAGS(0) };
static const s_flag_t s_lose_flags[] = { S_LOST_FLAGS(S_REQUIRED) };
static const s_flag_t s_write_flags[] = { S_REQUEST_ID_FLAG, S_END };

static const s_flag_t s_reopen_flags[] = {
    { "stage", "STAGE", "stage", S_ENUM, "the open stage to reopen at (default: the stage it was lost from)" },
    S_REQUEST_ID_FLAG, S_END
};

static const s_flag_t s_qualify_flags[] = {
    { "interest",    "0..5",    "interest",           S_UINT | S_MAX(1000), "the client's interest" },
    { "financial",   "0..5",    "financial_capacity", S_UINT | S_MAX(1000), "the client's financial capacity" },
    { "reliability", "0..5",    "reliability",        S_UINT | S_MAX(1000), "the client's reliability" },
    { "risk",        "FLAG",    "risk_flags",         S_ENUM, "a risk flag: late_payments, insolvency, legal_disputes, new_company, unclear_ownership, no_budget, no_decision_maker, bad_references, sanctions, other" },
    { "note",        "TEXT",    "note",               S_TEXT, "a note" },
    { "verdict",     "VERDICT", "verdict",            S_ENUM, "unknown, promising or unprofitable (default: from the score)" },
    { "request-id",  "ULID",    NULL,                 S_REQUEST_ID, "idempotency key" },
    S_END
};

static const s_flag_t s_disqualify_flags[] = {
    { "reason", "TEXT", "reason", S_TEXT | S_REQUIRED, "why; required" },
    S_REQUEST_ID_FLAG, S_END
};

static const s_flag_t s_activity_log_flags[] = {
    { "kind",      "KIND",    "kind",          S_ENUM | S_REQUIRED, "call, meeting, email, presentation, correspondence; required" },
    { "outcome",   "OUTCOME", "outcome",       S_ENUM | S_REQUIRED, "positive, neutral, negative, no_contact; required" },
    { "subject",   "TEXT",    "subject",       S_TEXT, "subject" },
    { "summary",   "TEXT",    "summary",       S_TEXT, "what happened" },
    { "next-step", "TEXT",    "next_step",     S_TEXT, "the agreed next step" },
    { "due",       "DATE",    "next_step_due", S_DATE, "when the next step is due, YYYY-MM-DD (required with --next-step)" },
    { "at",        "TIME",    "occurred_at",   S_TIME, "when it happened, YYYY-MM-DD[THH:MM[:SS]] UTC (default now)" },
    S_REQUEST_ID_FLAG, S_END
};

static const s_flag_t s_page_flags[] = { S_PAGE_FLAGS, S_END };

static const s_flag_t s_objection_add_flags[] = {
    { "category", "CATEGORY", "category", S_ENUM | S_REQUIRED, "price, product, timing, competitor, authority, need, trust, terms, other; required" },
    { "text",     "TEXT",     "text",     S_TEXT | S_REQUIRED, "what the client said; required" },
    { "response", "TEXT",     "response", S_TEXT, "how it was answered" },
    { "resolved", NULL,       "resolved", S_BOOL, "the objection is already resolved" },
    S_REQUEST_ID_FLAG, S_END
};

static const s_flag_t s_objection_resolve_flags[] = {
    { "response", "TEXT", "response", S_TEXT, "how it was answered (replaces the response)" },
    S_REQUEST_ID_FLAG, S_END
};

static const s_flag_t s_offer_flags[] = {
    { "line",          "LINE",    "lines",              S_LINE | S_REQUIRED, "DESCRIPTION,QUANTITY,UNIT_PRICE, e.g. 'Support plan,12,99.50'; 1..100 lines" },
    { "currency",      "CODE",    NULL,                 S_CURRENCY, "currency of every line (default $RAPPORT_CURRENCY or EUR)" },
    { "discount",      "PERCENT", "discount_bp",        S_PERCENT, "discount on the subtotal, e.g. 5 or 2.5 (0..100, two decimals)" },
    { "payment-terms", "DAYS",    "payment_terms_days", S_UINT | S_MAX(100000), "payment terms in days (0..365)" },
    { "valid-until",   "DATE",    "valid_until",        S_DATE | S_REQUIRED, "the offer's expiry, YYYY-MM-DD; required" },
    { "note",          "TEXT",    "note",               S_TEXT, "a note" },
    S_REQUEST_ID_FLAG, S_END
};

static const s_flag_t s_offer_reject_flags[] = {
    { "reason", "TEXT", "reason", S_TEXT, "why the client rejected it" },
    S_REQUEST_ID_FLAG, S_END
};

static const s_flag_t s_competitor_add_flags[] = {
    { "name",   "NAME",  "competitor.name",          S_TEXT | S_EITHER, "the competitor's name (required without --id)" },
    { "id",     "ID",    "competitor.competitor_id", S_TEXT | S_EITHER, "the competitor's id in rapport-intel" },
    { "threat", "LEVEL", "competitor.threat",        S_ENUM | S_REQUIRED, "low, medium or high; required" },
    { "note",   "TEXT",  "competitor.note",          S_TEXT, "a note" },
    S_REQUEST_ID_FLAG, S_END
};

static const s_flag_t s_competitor_remove_flags[] = {
    { "name", "NAME", "name",          S_TEXT | S_EITHER, "the competitor's name" },
    { "id",   "ID",   "competitor_id", S_TEXT | S_EITHER, "the competitor's id" },
    S_REQUEST_ID_FLAG, S_END
};

/* Each filter picks its method; the flags of one filter go together. */
static const s_flag_t s_list_flags[] = {
    { "owner",       "USER",   "ListByOwner/owner",    S_TEXT, "leads of this owner (default: yours)" },
    { "stage",       "STAGE",  "ListByStage/stage",    S_ENUM, "leads in this stage: new, contacted, interested, needs_identified, offer, negotiation, won, lost" },
    { "source",      "SOURCE", "ListBySource/source",  S_ENUM, "leads from this source" },
    { "campaign",    "NAME",   "ListByCampaign/campaign", S_TEXT, "leads of this campaign" },
    { "close-from",  "DATE",   "ListByClose/from",     S_DATE | S_BOTH, "expected close on or after DATE (with --close-to)" },
    { "close-to",    "DATE",   "ListByClose/to",       S_DATE | S_BOTH, "expected close before DATE (with --close-from)" },
    { "name-prefix", "TEXT",   "SearchByName/prefix",  S_TEXT, "company names starting with TEXT (case and accents folded)" },
    S_PAGE_FLAGS, S_END
};

static const s_flag_t s_stale_flags[] = {
    { "days", "N", "days", S_UINT | S_MAX(1000000) | S_REQUIRED, "no activity in the last N days (1..3650); required" },
    S_PAGE_FLAGS, S_END
};

static const s_flag_t s_funnel_flags[] = {
    { "from", "DATE", "from", S_DATE | S_BOTH | S_REQUIRED, "leads created on or after DATE (YYYY-MM-DD); required" },
    { "to",   "DATE", "to",   S_DATE | S_BOTH | S_REQUIRED, "leads created before DATE; required" },
    S_END
};

/* ---- how replies print ---- */

static const s_col_t s_lead_cols[] = {
    { "ID", "id", COL_TEXT }, { "COMPANY", "company_name", COL_TEXT }, { "STAGE", "stage", COL_TEXT },
    { "SOURCE", "source", COL_TEXT }, { "OWNER", "owner", COL_TEXT }, { "VALUE", "expected_value", COL_TEXT },
    { "CLOSE", "expected_close", COL_TEXT }, { "SCORE", "score", COL_TEXT },
    { "LAST ACTIVITY", "last_activity_at", COL_DAY }, { NULL, NULL, 0 }
};

static const s_col_t s_activity_cols[] = {
    { "ID", "id", COL_TEXT }, { "WHEN", "occurred_at", COL_TEXT }, { "KIND", "kind", COL_TEXT },
    { "OUTCOME", "outcome", COL_TEXT }, { "SUBJECT", "subject", COL_TEXT }, { "NEXT STEP", "next_step", COL_TEXT },
    { "DUE", "next_step_due", COL_TEXT }, { "BY", "by", COL_TEXT }, { NULL, NULL, 0 }
};

static const s_col_t s_funnel_stage_cols[] = {
    { "STAGE", "stage", COL_TEXT }, { "NOW", "count", COL_TEXT }, { "REACHED", "reached", COL_TEXT },
    { "CONVERSION", "conversion_bp", COL_BP }, { "VALUE", "value", COL_TEXT }, { NULL, NULL, 0 }
};

static const s_col_t s_funnel_source_cols[] = {
    { "SOURCE", "source", COL_TEXT }, { "TOTAL", "total", COL_TEXT }, { "WON", "won", COL_TEXT },
    { "LOST", "lost", COL_TEXT }, { "CONVERSION", "conversion_bp", COL_BP }, { NULL, NULL, 0 }
};

static void s_print_funnel(const cli_args_t *a, const ProtobufCMessage *reply);

static const s_view_t s_leads_view = { .items = "leads", .none = "leads", .cols = s_lead_cols };
static const s_view_t s_stale_view = { .items = "leads", .none = "stale leads", .cols = s_lead_cols };
static const s_view_t s_activities_view = { .items = "activities", .none = "activities", .cols = s_activity_cols };
static const s_view_t s_funnel_view = { .print = s_print_funnel };

/* ---- the commands ---- */

static const s_cmd_t s_cmds[] = {
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

/* ---- descriptors ---- */

static const ProtobufCMethodDescriptor *s_method(const char *name)
{
    return protobuf_c_service_descriptor_get_method_by_name(&rapport__leads__v1__leads__descriptor, name);
}

/* s_field - the field at path ("company.name") of messages of d, or NULL. */
static const ProtobufCFieldDescriptor *s_field(const ProtobufCMessageDescriptor *d, const char *path)
{
    char key[64];
    for (;;) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t) (dot - path) : strlen(path);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
        if (!f || !dot)
            return f;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            return NULL;
        d = f->descriptor;
        path = dot + 1;
    }
}

/* s_filter - the method a "Method/field" flag picks, else NULL. */
static const ProtobufCMethodDescriptor *s_filter(const s_flag_t *f)
{
    const char *slash = f->field ? strchr(f->field, '/') : NULL;
    char name[64];
    if (!slash || (size_t) (slash - f->field) >= sizeof name)
        return NULL;
    memcpy(name, f->field, (size_t) (slash - f->field));
    name[slash - f->field] = 0;
    return s_method(name);
}

/* s_flag_field - the request field of flag f of c; *path (when not NULL) its path. */
static const ProtobufCFieldDescriptor *s_flag_field(const s_cmd_t *c, const s_flag_t *f, const char **path)
{
    const ProtobufCMethodDescriptor *m = s_filter(f);
    const char *p = m ? strchr(f->field, '/') + 1 : f->field;
    if (path)
        *path = p;
    return s_field((m ? m : s_method(c->method))->input, p);
}

static const s_flag_t *s_find_kind(const s_cmd_t *c, int kind)
{
    for (const s_flag_t *f = c->flags; f && f->name; f++)
        if (S_KIND(f->how) == kind)
            return f;
    return NULL;
}

/* ---- flag values: each returns the JSON value, or NULL after a usage error ---- */

static json_t *s_bad(const cli_args_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *s_bad(const cli_args_t *a, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_usage_error(a, "%s", msg);
    return NULL;
}

static char *s_trim(char *s)
{
    while (isspace((unsigned char) *s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char) s[n - 1]))
        s[--n] = 0;
    return s;
}

static json_t *s_enum(const cli_args_t *a, const char *flag, const ProtobufCEnumDescriptor *d, const char *text)
{
    int v;
    if (cli_enum_parse(d, text, &v) == 0)
        return json_integer(v);
    char choices[1024];
    cli_enum_choices(d, choices, sizeof choices);
    return s_bad(a, "--%s: unknown value '%s'; one of: %s", flag, text, choices);
}

static int s_uint(const cli_args_t *a, const char *flag, const char *text, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (cli_parse_u64(text, &v) != 0 || v > max)
        return cli_usage_error(a, "--%s: must be a whole number from 0 to %u, got '%s'", flag, max, text);
    *out = (uint32_t) v;
    return 0;
}

static json_t *s_date(const cli_args_t *a, const char *flag, const char *text)
{
    int y, m, d;
    if (cli_parse_date(text, &y, &m, &d) != 0)
        return s_bad(a, "--%s: must be a calendar date YYYY-MM-DD, got '%s'", flag, text);
    return json_pack("{s:i,s:i,s:i}", "year", y, "month", m, "day", d);
}

static json_t *s_money(const cli_args_t *a, const char *flag, const char *text)
{
    const char *def = cli_flag_count(a, "currency") ? cli_flag(a, "currency") : cli_default_currency();
    char code[4], why[256];
    int64_t units;
    if (cli_money_parse(text, def, &units, code, why, sizeof why) != 0)
        return s_bad(a, "--%s: %s", flag, why);
    return json_pack("{s:I,s:s}", "units", (json_int_t) units, "currency", code);
}

/* s_percent_bp - "2.5" or "2.5%" (0..100, at most two decimals) in basis points. */
static int s_percent_bp(const char *s, uint32_t *bp)
{
    unsigned whole = 0, frac = 0, digits = 0;
    const char *p = s;
    if (!isdigit((unsigned char) *p))
        return -1;
    while (isdigit((unsigned char) *p) && whole <= 100)
        whole = whole * 10 + (unsigned) (*p++ - '0');
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char) *p) && digits < 3) {
            frac = frac * 10 + (unsigned) (*p++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 2)
            return -1;
        if (digits == 1)
            frac *= 10;
    }
    if (*p == '%')
        p++;
    if (*p || whole > 100 || (whole == 100 && frac > 0))
        return -1;
    *bp = whole * 100 + frac;
    return 0;
}

/* s_contact - "NAME,ROLE[,EMAIL[,PHONE[,POSITION]]]" (POSITION takes the rest). */
static json_t *s_contact(const cli_args_t *a, const char *text)
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
        s_bad(a, "--contact: must be NAME,ROLE[,EMAIL[,PHONE[,POSITION]]], got '%s'", text);
    else if ((role = s_enum(a, "contact", &rapport__leads__v1__contact_role__descriptor, s_trim(parts[1])))) {
        c = json_object();
        for (int i = 0; i < n; i++)
            json_object_set_new(c, keys[i], i == 1 ? role : json_string_nocheck(s_trim(parts[i])));
    }
    free(buf);
    return c;
}

/* s_offer_line - "DESCRIPTION,QUANTITY,UNIT_PRICE", split from the right. */
static json_t *s_offer_line(const cli_args_t *a, const char *text)
{
    char *buf = rp_strdup(text), *c1 = NULL, *c2 = strrchr(buf, ',');
    if (c2) {
        *c2 = 0;
        c1 = strrchr(buf, ',');
    }
    json_t *line = NULL, *price;
    int64_t qty;
    if (!c1)
        s_bad(a, "--line: must be DESCRIPTION,QUANTITY,UNIT_PRICE, got '%s'", text);
    else if (*c1 = 0, cli_parse_i64(s_trim(c1 + 1), &qty) != 0)
        s_bad(a, "--line: QUANTITY must be a whole number, got '%s'", s_trim(c1 + 1));
    else if ((price = s_money(a, "line", s_trim(c2 + 1)))) {
        line = json_pack("{s:I,s:o}", "quantity", (json_int_t) qty, "unit_price", price);
        json_object_set_new(line, "description", json_string_nocheck(s_trim(buf)));
    }
    free(buf);
    return line;
}

/* s_value - the JSON of one value of flag f, which sets field fd. */
static json_t *s_value(const cli_args_t *a, const s_flag_t *f, const ProtobufCFieldDescriptor *fd, const char *text)
{
    uint32_t u = 0;
    int64_t ms;
    switch (S_KIND(f->how)) {
    case S_TEXT:
        return json_string_nocheck(text);
    case S_ENUM:
        return s_enum(a, f->name, fd->descriptor, text);
    case S_UINT:
        return s_uint(a, f->name, text, S_MAX_OF(f->how), &u) ? NULL : json_integer(u);
    case S_BOOL:
        return json_true();
    case S_DATE:
        return s_date(a, f->name, text);
    case S_TIME:
        if (cli_parse_time(text, &ms) != 0)
            return s_bad(a, "--%s: must be YYYY-MM-DD[THH:MM[:SS]] (UTC), got '%s'", f->name, text);
        return json_integer(ms);
    case S_MONEY:
        return s_money(a, f->name, text);
    case S_PERCENT:
        if (s_percent_bp(text, &u) != 0)
            return s_bad(a, "--%s: must be a percentage from 0 to 100 with at most two decimals, got '%s'",
                         f->name, text);
        return json_integer(u);
    case S_CONTACT:
        return s_contact(a, text);
    case S_LINE:
        return s_offer_line(a, text);
    }
    return NULL;
}

/* ---- the request ---- */

typedef struct {
    const ProtobufCMethodDescriptor *method;
    char name[96];              /* "rapport.leads.v1.Leads/Create" */
    json_t *req;                /* the request, as JSON */
    const char *id;             /* --request-id, or NULL */
} s_call_t;

/* s_set - put v (stolen) at path ("company.name") of obj, making the objects on the way. */
static void s_set(json_t *obj, const char *path, json_t *v)
{
    const char *dot;
    while ((dot = strchr(path, '.'))) {
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int) (dot - path), path);
        json_t *sub = json_object_get(obj, key);
        if (!sub)
            json_object_set_new(obj, key, sub = json_object());
        obj = sub;
        path = dot + 1;
    }
    json_object_set_new(obj, path, v);
}

/* s_joins - whether filter flag p belongs to the filter of the flag before it. */
static bool s_joins(const s_flag_t *first, const s_flag_t *p)
{
    return p > first && s_filter(p) && s_filter(p) == s_filter(p - 1);
}

/* s_names - the flags [f, end) as "--a, --b and --c" (last: " and " or " or "); with
 * filters, the flags of one filter make one item: "--close-from/--close-to". */
static void s_names(const s_flag_t *f, const s_flag_t *end, bool filters, const char *last, char *out, size_t cap)
{
    int n = 0, i = 0;
    for (const s_flag_t *p = f; p < end; p++)
        n += !(filters && s_joins(f, p));
    out[0] = 0;
    for (const s_flag_t *p = f; p < end; p++) {
        size_t len = strlen(out);
        if (filters && s_joins(f, p))
            snprintf(out + len, cap - len, "/--%s", p->name);
        else {
            snprintf(out + len, cap - len, "%s--%s", i == 0 ? "" : i == n - 1 ? last : ", ", p->name);
            i++;
        }
    }
}

/* s_rules - the rules between flags: filters (flags whose field is "Method/field") that
 * pick different methods exclude each other, and the one given picks call->method; a
 * group of S_BOTH flags goes together; of a group of S_EITHER flags one is needed. */
static int s_rules(const cli_args_t *a, const s_cmd_t *c, s_call_t *call)
{
    const s_flag_t *first = NULL, *end = NULL;
    const ProtobufCMethodDescriptor *picked = NULL;
    bool clash = false;
    char names[512];
    for (const s_flag_t *f = c->flags; f && f->name; f++) {
        const ProtobufCMethodDescriptor *m = s_filter(f);
        if (!m)
            continue;
        first = first ? first : f;
        end = f + 1;
        if (cli_flag_count(a, f->name)) {
            clash |= picked && picked != m;
            picked = m;
        }
    }
    if (clash) {
        s_names(first, end, true, " or ", names, sizeof names);
        return cli_usage_error(a, "one filter at a time: %s", names);
    }
    if (picked)
        call->method = picked;
    for (const s_flag_t *f = c->flags; f && f->name;) {
        uint32_t group = f->how & (S_BOTH | S_EITHER);
        if (!group) {
            f++;
            continue;
        }
        int given = 0, n = 0;
        for (end = f; end->name && (end->how & group); end++, n++)
            given += cli_flag_count(a, end->name) > 0;
        s_names(f, end, false, group == S_BOTH ? " and " : " or ", names, sizeof names);
        if (group == S_EITHER && given == 0)
            return cli_usage_error(a, "%s: required", names);
        if (group == S_BOTH && given < n && (f->how & S_REQUIRED))
            return cli_usage_error(a, "%s: required", names);
        if (group == S_BOTH && given < n && given > 0)
            return cli_usage_error(a, "%s go together", names);
        f = end;
    }
    return 0;
}

/* s_alone_required - a required flag that is not part of a group (s_rules checks those). */
static bool s_alone_required(const s_flag_t *f)
{
    return (f->how & S_REQUIRED) && !(f->how & (S_BOTH | S_EITHER));
}

/* s_flags - put the value of every given flag (that has all the bits of only) into req,
 * in the table's order, and the paths of lead fields into mask. 0 or the exit code. */
static int s_flags(const cli_args_t *a, const s_cmd_t *c, json_t *req, json_t *mask, uint32_t only)
{
    for (const s_flag_t *f = c->flags; f && f->name; f++) {
        int kind = S_KIND(f->how), n = cli_flag_count(a, f->name);
        if ((f->how & only) != only)
            continue;
        if (kind == S_CURRENCY && n) {
            const s_flag_t *money = s_find_kind(c, S_MONEY);
            if (money && !cli_flag_count(a, money->name))
                return cli_usage_error(a, "--%s: goes with --%s", f->name, money->name);
        }
        if (kind >= S_CURRENCY)
            continue;
        const char *path;
        const ProtobufCFieldDescriptor *fd = s_flag_field(c, f, &path);
        bool repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
        if (n == 0) {
            /* Where --from-json could stand in, s_request checks after every flag. */
            if (s_alone_required(f) && !s_find_kind(c, S_FROM_JSON)) {
                if (repeated)
                    return cli_usage_error(a, "--%s: at least one %s is required", f->name, f->name);
                return cli_usage_error(a, "--%s: required", f->name);
            }
            continue;
        }
        if (kind == S_CLEAR) {
            for (const s_flag_t *g = c->flags; g->name; g++)
                if (g != f && g->field && strcmp(g->field, f->field) == 0 && cli_flag_count(a, g->name))
                    return cli_usage_error(a, "--%s: cannot be combined with --%s", f->name, g->name);
        } else {
            json_t *v = repeated ? json_array() : s_value(a, f, fd, cli_flag(a, f->name));
            for (int i = 0; repeated && v && i < n; i++) {
                json_t *e = s_value(a, f, fd, cli_flag_at(a, f->name, i));
                if (e)
                    json_array_append_new(v, e);
                else
                    json_decref(v), v = NULL;
            }
            if (!v)
                return CLI_EXIT_USAGE;
            s_set(req, path, v);
        }
        if (mask && ((f->how & S_LEAD) || kind == S_CLEAR))
            json_array_append_new(mask, json_string(path));
    }
    return 0;
}

/* s_from_json - the request from the JSON file at path ("-": stdin), checked against
 * the request type, with the S_WITH_JSON flags on top. */
static int s_from_json(cli_t *cli, const cli_args_t *a, const s_cmd_t *c, const char *path, s_call_t *call)
{
    for (const s_flag_t *f = c->flags; f->name; f++)
        if ((f->how & S_LEAD) && cli_flag_count(a, f->name))
            return cli_usage_error(a, "--from-json: cannot be combined with --%s", f->name);
    json_error_t jerr;
    json_t *obj = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &jerr) : json_load_file(path, 0, &jerr);
    if (!obj) {
        if (jerr.line < 0)
            return cli_local_error(cli, "cannot read %s: %s", path, jerr.text);
        return cli_usage_error(a, "--from-json: %s line %d column %d: %s", path, jerr.line, jerr.column, jerr.text);
    }
    char err[512];
    ProtobufCMessage *m = rp_pb_from_json(call->method->input, obj, err, sizeof err);
    if (!m) {
        json_decref(obj);
        return cli_usage_error(a, "--from-json: %s: %s", path, err);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    json_decref(call->req);
    call->req = obj;
    return s_flags(a, c, obj, NULL, S_WITH_JSON);
}

/* s_preset - put the row's preset field ("stage=won") into req. */
static void s_preset(const s_cmd_t *c, json_t *req)
{
    const char *eq = strchr(c->preset, '=');
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int) (eq - c->preset), c->preset);
    json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
    json_object_set_new(req, key, v ? v : json_string(eq + 1));
}

/* s_arg - the JSON of positional argument i: a string, or an enum value by name. */
static json_t *s_arg(const cli_args_t *a, const s_cmd_t *c, const ProtobufCFieldDescriptor *fd, int i)
{
    int e;
    if (fd->type != PROTOBUF_C_TYPE_ENUM)
        return json_string_nocheck(a->pos[i]);
    if (cli_enum_parse(fd->descriptor, a->pos[i], &e) == 0)
        return json_integer(e);
    char meta[32], choices[1024];
    const char *word = i == 0 ? c->args : strchr(c->args, ' ') + 1;   /* its name in the synopsis */
    snprintf(meta, sizeof meta, "%.*s", (int) strcspn(word, " "), word);
    cli_enum_choices(fd->descriptor, choices, sizeof choices);
    return s_bad(a, "%s: unknown %s '%s'; one of: %s", meta, fd->name, a->pos[i], choices);
}

/* s_request - the call command c makes of the command line: the method, the request
 * as JSON and the request id. 0, or the exit code after printing why. Usage errors
 * come in this order: arguments, --request-id, --from-json, the rules between flags,
 * then each flag in the table's order. */
static int s_request(cli_t *cli, const cli_args_t *a, const s_cmd_t *c, s_call_t *call)
{
    call->method = s_method(c->method);
    call->req = json_object();
    if (c->preset)
        s_preset(c, call->req);
    for (int i = 0; i < a->npos; i++) {
        json_t *v = s_arg(a, c, s_field(call->method->input, c->pos[i]), i);
        if (!v)
            return CLI_EXIT_USAGE;
        json_object_set_new(call->req, c->pos[i], v);
    }
    const s_flag_t *rid = s_find_kind(c, S_REQUEST_ID), *from_json = s_find_kind(c, S_FROM_JSON);
    rp_ulid_t u;
    if (rid && (call->id = cli_flag(a, rid->name)) && rp_ulid_parse(call->id, &u) != 0)
        return cli_usage_error(a, "--request-id: must be a ULID (26 Crockford base32 characters), got '%s'", call->id);

    int rc;
    if (from_json && cli_flag(a, from_json->name))
        rc = s_from_json(cli, a, c, cli_flag(a, from_json->name), call);
    else if ((rc = s_rules(a, c, call)) == 0) {
        json_t *mask = json_array();
        rc = s_flags(a, c, call->req, mask, 0);
        for (const s_flag_t *f = c->flags; from_json && rc == 0 && f->name; f++)
            if (s_alone_required(f) && !cli_flag_count(a, f->name))
                rc = cli_usage_error(a, "--%s: required (or --from-json)", f->name);
        if (rc == 0 && s_field(call->method->input, "update_mask")) {
            if (json_array_size(mask) == 0)
                rc = cli_usage_error(a, "nothing to update: give at least one field flag");
            else
                json_object_set(call->req, "update_mask", mask);
        }
        json_decref(mask);
    }
    snprintf(call->name, sizeof call->name, "%s/%s", rapport__leads__v1__leads__descriptor.name, call->method->name);
    return rc;
}

/* s_message - the request message of call (protobuf_c_message_free_unpacked). The flag
 * parsers make only values the request type takes, so a failure is a programming error. */
static ProtobufCMessage *s_message(const s_call_t *call)
{
    char err[512];
    ProtobufCMessage *m = rp_pb_from_json(call->method->input, call->req, err, sizeof err);
    if (!m) {
        fprintf(stderr, "rapport: internal error: %s: %s\n", call->name, err);
        abort();
    }
    return m;
}

/* ---- calling the service and printing ---- */

static int s_connect(cli_t *cli, rp_client_t **c)
{
    int rc = cli_get_token(cli, true);
    return rc ? rc : cli_connect(cli, "leads", c);
}

/* s_show - one call; print the reply as JSON, by the view, or as key: value lines. */
static int s_show(cli_t *cli, const cli_args_t *a, const s_cmd_t *c, const s_call_t *call)
{
    rp_client_t *client = NULL;
    int rc = s_connect(cli, &client);
    if (rc)
        return rc;
    ProtobufCMessage *in = s_message(call), *out = NULL;
    rc = cli_call(cli, client, call->id, call->name, in, call->method->output, &out);
    protobuf_c_message_free_unpacked(in, NULL);
    rp_client_destroy(&client);
    if (rc)
        return rc;
    if (c->view && c->view->print && !cli->json)
        c->view->print(a, out);
    else
        cli_print_message(cli, out);
    protobuf_c_message_free_unpacked(out, NULL);
    return CLI_EXIT_OK;
}

static const char *s_get_str(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f = s_field(m->descriptor, name);
    return *(char *const *) ((const char *) m + f->offset);
}

/* s_items - the repeated message field items of m: its length, the array in *list. */
static size_t s_items(const ProtobufCMessage *m, const char *items, ProtobufCMessage ***list)
{
    const ProtobufCFieldDescriptor *f = s_field(m->descriptor, items);
    *list = *(ProtobufCMessage ***) ((const char *) m + f->offset);
    return *(const size_t *) ((const char *) m + f->quantifier_offset);
}

static cli_table_t *s_table_new(const s_col_t *cols)
{
    const char *hdr[16];
    int n = 0;
    for (; cols[n].header; n++)
        hdr[n] = cols[n].header;
    return cli_table_new(n, hdr);
}

/* s_table_add - a row of t for each item of the repeated field items of m. */
static void s_table_add(cli_table_t *t, const s_col_t *cols, const ProtobufCMessage *m, const char *items)
{
    ProtobufCMessage **list;
    size_t n = s_items(m, items, &list);
    for (size_t i = 0; i < n; i++) {
        char *cells[16];
        int k = 0;
        for (; cols[k].header; k++) {
            cells[k] = cli_field_text(list[i], cols[k].path);
            if (cols[k].form == COL_DAY && strlen(cells[k]) > 10)
                cells[k][10] = 0;
            if (cols[k].form == COL_BP) {
                unsigned long bp = strtoul(cells[k], NULL, 10);
                free(cells[k]);
                cells[k] = rp_sprintf("%lu.%02lu%%", bp / 100, bp % 100);
            }
        }
        cli_table_add(t, (const char *const *) cells);
        while (k--)
            free(cells[k]);
    }
}

/* s_list - page through the list method of call, printing the rows of each reply as one
 * table (--json: each reply; with --all one array of every row). */
static int s_list(cli_t *cli, const cli_args_t *a, const s_cmd_t *c, const s_call_t *call)
{
    const s_view_t *v = c->view;
    uint32_t page_size = 0;
    if (cli_flag(a, "page-size")) {
        if (s_uint(a, "page-size", cli_flag(a, "page-size"), 500, &page_size))
            return CLI_EXIT_USAGE;
        if (page_size == 0)
            return cli_usage_error(a, "--page-size: must be from 1 to 500");
    }
    bool all = cli_flag_set(a, "all");
    json_object_set_new(call->req, "page_size", json_integer(page_size));
    char *token = rp_strdup(cli_flag(a, "page-token") ? cli_flag(a, "page-token") : "");

    rp_client_t *client = NULL;
    int rc = s_connect(cli, &client);
    if (rc) {
        free(token);
        return rc;
    }
    cli_table_t *t = s_table_new(v->cols);
    json_t *acc = json_array();
    size_t rows = 0;
    for (;;) {
        json_object_set_new(call->req, "page_token", json_string_nocheck(token));
        ProtobufCMessage *in = s_message(call), *rep = NULL;
        rc = cli_call(cli, client, NULL, call->name, in, call->method->output, &rep);
        protobuf_c_message_free_unpacked(in, NULL);
        if (rc)
            break;
        ProtobufCMessage **list;
        size_t n = s_items(rep, v->items, &list);
        free(token);
        token = rp_strdup(s_get_str(rep, "next_page_token") ? s_get_str(rep, "next_page_token") : "");
        if (cli->json && !all) {
            json_t *j = rp_pb_to_json(rep);
            cli_print_json(j);
            json_decref(j);
        }
        if (cli->json)
            for (size_t i = 0; i < n; i++)
                json_array_append_new(acc, rp_pb_to_json(list[i]));
        else
            s_table_add(t, v->cols, rep, v->items);
        rows += n;
        protobuf_c_message_free_unpacked(rep, NULL);
        if (!all || !token[0])
            break;
    }
    rp_client_destroy(&client);
    if (rc == 0) {
        if (cli->json) {
            if (all) {
                json_t *j = json_pack("{s:O}", v->items, acc);
                cli_print_json(j);
                json_decref(j);
            }
        } else if (rows == 0) {
            fprintf(stderr, "no %s found\n", v->none);
        } else {
            cli_table_print(t, stdout);
            if (token[0])
                fprintf(stderr, "more: --page-token %s (or --all)\n", token);
        }
    }
    json_decref(acc);
    cli_table_destroy(&t);
    free(token);
    return rc;
}

/* s_print_funnel - a FunnelReply: the period, then its stages and sources as tables. */
static void s_print_funnel(const cli_args_t *a, const ProtobufCMessage *reply)
{
    const Rapport__Leads__V1__FunnelReply *rep = (const Rapport__Leads__V1__FunnelReply *) reply;
    printf("funnel %s .. %s: %u leads%s\n\n", cli_flag(a, "from"), cli_flag(a, "to"), rep->total,
           rep->truncated ? " (truncated: the period holds more leads than one funnel reads)" : "");
    cli_table_t *t = s_table_new(s_funnel_stage_cols);
    s_table_add(t, s_funnel_stage_cols, reply, "stages");
    cli_table_set_cut(t, 0);
    cli_table_print(t, stdout);
    cli_table_destroy(&t);
    if (rep->n_sources) {
        fputc('\n', stdout);
        t = s_table_new(s_funnel_source_cols);
        s_table_add(t, s_funnel_source_cols, reply, "sources");
        cli_table_print(t, stdout);
        cli_table_destroy(&t);
    }
}

/* s_run - every leads command: build the request from its row of s_cmds, call, print. */
static int s_run(cli_t *cli, const cli_args_t *a)
{
    const s_cmd_t *c = &s_cmds[a->cmd - cli_leads_cmds];
    s_call_t call = { 0 };
    int rc = s_request(cli, a, c, &call);
    if (rc == 0)
        rc = c->view && c->view->items ? s_list(cli, a, c, &call) : s_show(cli, a, c, &call);
    json_decref(call.req);
    return rc;
}

/* ---- main.c's view of the table ---- */

cli_cmd_t cli_leads_cmds[S_NCMDS + 1];
static cli_flag_t s_cli_flags[S_NCMDS][CLI_MAX_FLAGS + 1];

/* s_bug - a row of s_cmds does not fit the descriptors: a programming error. */
static void s_bug(const s_cmd_t *c, const char *what, const char *why)
{
    fprintf(stderr, "rapport: internal error: leads %s: %s: %s\n", c->name, what, why);
    abort();
}

/* What the field of each kind of flag must be. */
static const struct {
    ProtobufCType type;
    const char *message;
} s_kind_field[] = {
    [S_TEXT] = { PROTOBUF_C_TYPE_STRING, NULL },
    [S_ENUM] = { PROTOBUF_C_TYPE_ENUM, NULL },
    [S_UINT] = { PROTOBUF_C_TYPE_UINT32, NULL },
    [S_BOOL] = { PROTOBUF_C_TYPE_BOOL, NULL },
    [S_DATE] = { PROTOBUF_C_TYPE_MESSAGE, "rapport.v1.Date" },
    [S_TIME] = { PROTOBUF_C_TYPE_INT64, NULL },
    [S_MONEY] = { PROTOBUF_C_TYPE_MESSAGE, "rapport.v1.Money" },
    [S_PERCENT] = { PROTOBUF_C_TYPE_UINT32, NULL },
    [S_CONTACT] = { PROTOBUF_C_TYPE_MESSAGE, "rapport.leads.v1.Contact" },
    [S_LINE] = { PROTOBUF_C_TYPE_MESSAGE, "rapport.leads.v1.OfferLine" },
};

/* s_check - abort unless row c fits the Leads descriptors. */
static void s_check(const s_cmd_t *c)
{
    const ProtobufCMethodDescriptor *m = s_method(c->method);
    if (!m)
        s_bug(c, c->method, "no such method");
    for (int i = 0; i < 2 && c->pos[i]; i++) {
        const ProtobufCFieldDescriptor *fd = s_field(m->input, c->pos[i]);
        if (!fd || (fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_ENUM))
            s_bug(c, c->pos[i], "not a string or enum field of the request");
    }
    if (c->preset) {
        json_t *req = json_object();
        char err[256];
        if (!strchr(c->preset, '='))
            s_bug(c, c->preset, "the preset is not field=value");
        s_preset(c, req);
        ProtobufCMessage *msg = rp_pb_from_json(m->input, req, err, sizeof err);
        json_decref(req);
        if (!msg)
            s_bug(c, c->preset, err);
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    for (const s_flag_t *f = c->flags; f && f->name; f++) {
        int kind = S_KIND(f->how);
        const ProtobufCFieldDescriptor *fd = f->field ? s_flag_field(c, f, NULL) : NULL;
        if (kind >= S_CURRENCY ? f->field != NULL : !fd)
            s_bug(c, f->name, "the field does not fit the kind of flag");
        if (kind >= S_CLEAR)
            continue;
        const char *want = s_kind_field[kind].message;
        if (fd->type != s_kind_field[kind].type ||
            (want && strcmp(((const ProtobufCMessageDescriptor *) fd->descriptor)->name, want) != 0))
            s_bug(c, f->name, "the field's type does not fit the kind of flag");
        if (kind == S_UINT && S_MAX_OF(f->how) == 0)
            s_bug(c, f->name, "S_UINT without S_MAX");
    }
    if (c->view && c->view->items) {
        const ProtobufCFieldDescriptor *fd = s_field(m->output, c->view->items);
        if (!fd || fd->type != PROTOBUF_C_TYPE_MESSAGE || fd->label != PROTOBUF_C_LABEL_REPEATED)
            s_bug(c, c->view->items, "not a repeated message field of the reply");
        for (const s_col_t *col = c->view->cols; col->header; col++)
            if (!s_field(fd->descriptor, col->path))
                s_bug(c, col->path, "no such field of the rows");
    }
}

void cli_leads_init(void)
{
    for (size_t i = 0; i < S_NCMDS; i++) {
        const s_cmd_t *c = &s_cmds[i];
        s_check(c);
        int n = 0;
        for (const s_flag_t *f = c->flags; f && f->name; f++, n++) {
            if (n == CLI_MAX_FLAGS)
                s_bug(c, f->name, "more than CLI_MAX_FLAGS flags");
            const ProtobufCFieldDescriptor *fd = f->field ? s_flag_field(c, f, NULL) : NULL;
            s_cli_flags[i][n] = (cli_flag_t) { f->name, f->arg, f->help,
                                               fd && fd->label == PROTOBUF_C_LABEL_REPEATED };
        }
        int npos = (c->pos[0] != NULL) + (c->pos[1] != NULL);
        cli_leads_cmds[i] = (cli_cmd_t) { c->name, c->args, c->summary, n ? s_cli_flags[i] : NULL,
                                          npos, npos, s_run, c->help };
    }
}
