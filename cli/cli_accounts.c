/* cli_accounts.c - the client base from the command line: `rapport clients`,
 * `contacts`, `tasks`, `interactions`, `timeline CLIENT`, `portfolio [USER]` and
 * `export`, the methods of rapport.accounts.v1.Accounts
 * (proto/rapport/accounts/v1/accounts.proto), each group one table on the command
 * engine (cli_engine.c). `rapport import clients` is in cli_import.c.
 *
 * A row names the command, its positional arguments and the request fields they
 * fill, the method, a preset, the flags and how the reply prints; a flag row names
 * the request field its value goes to and its kind. The service enforces the rules
 * (scope, masking, do-not-contact, bounds) and names the field of a violation.
 * Exports are fetched page by page to a file (0600) or stdout; an export over the
 * service's limit waits for a head's approval (`rapport export approve ID`).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "rapport/clock.h"
#include "rapport/pbjson.h"
#include "rapport/util.h"
#include "rapport/accounts/v1/accounts.pb-c.h"

#define A_END CLI_EFLAG_END
#define A_REQUEST_ID_FLAG CLI_EFLAG_REQUEST_ID
#define A_PAGE_FLAGS CLI_EFLAG_PAGING

static const cli_eflag_t s_write_flags[] = { A_REQUEST_ID_FLAG, A_END };
static const cli_eflag_t s_page_flags[] = { A_PAGE_FLAGS, A_END };

/* ---- clients ---- */

/* The client fields of create and update; their paths are update_mask paths (the
 * address flags set the address whole). */
#define A_CLIENT_FLAGS(REQUIRED) \
    { "kind",         "KIND",    "kind",             CLI_F_ENUM | CLI_F_MASK | (REQUIRED), "legal_entity, sole_proprietor or individual" }, \
    { "legal-name",   "NAME",    "legal_name",       CLI_F_TEXT | CLI_F_MASK | (REQUIRED), "legal name (1..200 bytes)" }, \
    { "trade-name",   "NAME",    "trade_name",       CLI_F_TEXT | CLI_F_MASK, "trade name" }, \
    { "tax-id",       "ID",      "tax_id",           CLI_F_TEXT | CLI_F_MASK, "tax id, unique within the company (compared as letters and digits)" }, \
    { "country",      "CC",      "country",          CLI_F_TEXT | CLI_F_MASK, "ISO 3166-1 alpha-2 country code, e.g. DE" }, \
    { "region",       "TEXT",    "region",           CLI_F_TEXT | CLI_F_MASK, "region" }, \
    { "address-line1", "TEXT",   "address.line1",    CLI_F_TEXT | CLI_F_MASK | CLI_F_MASK_WHOLE, "address, first line" }, \
    { "address-line2", "TEXT",   "address.line2",    CLI_F_TEXT | CLI_F_MASK | CLI_F_MASK_WHOLE, "address, second line" }, \
    { "city",         "TEXT",    "address.city",     CLI_F_TEXT | CLI_F_MASK | CLI_F_MASK_WHOLE, "city" }, \
    { "postal-code",  "CODE",    "address.postal_code", CLI_F_TEXT | CLI_F_MASK | CLI_F_MASK_WHOLE, "postal code" }, \
    { "industry",     "TEXT",    "industry",         CLI_F_TEXT | CLI_F_MASK, "industry" }, \
    { "size",         "SIZE",    "size",             CLI_F_ENUM | CLI_F_MASK, "micro, small, medium, large or enterprise" }, \
    { "language",     "LANG",    "language",         CLI_F_TEXT | CLI_F_MASK, "ISO 639 language code, e.g. de" }, \
    { "tier",         "TIER",    "tier",             CLI_F_ENUM | CLI_F_MASK, "key, corporate, regular or retail" }, \
    { "lifecycle",    "STAGE",   "lifecycle",        CLI_F_ENUM | CLI_F_MASK, "prospect, new, regular, permanent or lost" }, \
    { "segment",      "NAME",    "segments",         CLI_F_TEXT | CLI_F_MASK, "a segment (repeatable, up to 20)" }, \
    { "parent",       "CLIENT",  "parent_id",        CLI_F_TEXT | CLI_F_MASK, "the parent client (holding, chain) by id" }, \
    { "preferences",  "TEXT",    "preferences",      CLI_F_TEXT | CLI_F_MASK, "how the client likes to be served" }, \
    { "notes",        "TEXT",    "notes",            CLI_F_TEXT | CLI_F_MASK, "notes" }

static const cli_eflag_t s_client_create_flags[] = {
    A_CLIENT_FLAGS(CLI_F_REQUIRED),
    { "owner",      "USER", "owner",      CLI_F_TEXT, "owner other than yourself (needs accounts.assign; with --owner-unit)" },
    { "owner-unit", "PATH", "owner_unit", CLI_F_TEXT, "the owner's org unit" },
    { "from-json",  "FILE", NULL,         CLI_F_FROM_JSON, "read the CreateClientRequest as JSON from FILE ('-' for stdin) instead of field flags" },
    A_REQUEST_ID_FLAG, A_END
};

static const cli_eflag_t s_client_update_flags[] = {
    A_CLIENT_FLAGS(0),
    { "clear-segments", NULL, "segments",  CLI_F_CLEAR, "remove every segment" },
    { "clear-parent",   NULL, "parent_id", CLI_F_CLEAR, "no parent client any more" },
    A_REQUEST_ID_FLAG, A_END
};

static const cli_eflag_t s_client_transfer_flags[] = {
    { "owner",  "USER", "owner",  CLI_F_TEXT | CLI_F_REQUIRED, "the new owner's user id; required" },
    { "unit",   "PATH", "unit",   CLI_F_TEXT | CLI_F_REQUIRED, "the new owner's org unit, within your scope; required" },
    { "reason", "TEXT", "reason", CLI_F_TEXT, "why (kept in the owner history)" },
    A_REQUEST_ID_FLAG, A_END
};

static const cli_eflag_t s_client_list_flags[] = {
    { "owner",       "USER",   "owner",       CLI_F_TEXT, "clients of this owner" },
    { "tier",        "TIER",   "tier",        CLI_F_ENUM, "clients of this tier: key, corporate, regular, retail" },
    { "lifecycle",   "STAGE",  "lifecycle",   CLI_F_ENUM, "clients in this lifecycle stage: prospect, new, regular, permanent, lost" },
    { "segment",     "NAME",   "segment",     CLI_F_TEXT, "clients in this segment" },
    { "name-prefix", "TEXT",   "name_prefix", CLI_F_TEXT, "legal or trade names starting with TEXT (case and accents folded)" },
    { "parent",      "CLIENT", "parent_id",   CLI_F_TEXT, "the direct children of this client" },
    A_PAGE_FLAGS, A_END
};

static const cli_ecol_t s_client_cols[] = {
    { "ID", "id", CLI_COL_TEXT }, { "NAME", "legal_name", CLI_COL_TEXT }, { "TRADE NAME", "trade_name", CLI_COL_TEXT },
    { "TAX ID", "tax_id", CLI_COL_TEXT }, { "TIER", "tier", CLI_COL_TEXT }, { "LIFECYCLE", "lifecycle", CLI_COL_TEXT },
    { "OWNER", "owner", CLI_COL_TEXT }, { "LAST CONTACT", "last_contact_at", CLI_COL_DAY },
    { "OPEN TASKS", "open_tasks", CLI_COL_TEXT }, { "SEGMENTS", "segments", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

static const cli_eview_t s_clients_view = { .items = "clients", .none = "clients", .cols = s_client_cols };

/* s_print_tree - a ClientTreeReply: the clients indented by depth, then the roll-up. */
static void s_print_tree(cli_t *cli, const cli_args_t *a, const ProtobufCMessage *reply)
{
    const Rapport__Accounts__V1__ClientTreeReply *rep = (const Rapport__Accounts__V1__ClientTreeReply *) reply;
    static const char *const hdr[] = { "CLIENT", "ID", "TIER", "LIFECYCLE", "OWNER", "LAST CONTACT", "OPEN TASKS" };
    cli_table_t *t = cli_table_new(7, hdr);
    for (size_t i = 0; i < rep->n_nodes; i++) {
        const Rapport__Accounts__V1__ClientSummary *c = rep->nodes[i]->client;
        if (!c)
            continue;
        const ProtobufCMessage *m = &c->base;
        char *name = rp_sprintf("%*s%s", (int) (2 * (rep->nodes[i]->depth > 20 ? 20 : rep->nodes[i]->depth)), "",
                                c->trade_name && c->trade_name[0] ? c->trade_name : c->legal_name);
        char *cells[6] = { cli_field_text(m, "id"), cli_field_text(m, "tier"), cli_field_text(m, "lifecycle"),
                           cli_field_text(m, "owner"), cli_field_text(m, "last_contact_at"),
                           cli_field_text(m, "open_tasks") };
        if (strlen(cells[4]) > 10)
            cells[4][10] = 0;
        const char *row[] = { name, cells[0], cells[1], cells[2], cells[3], cells[4], cells[5] };
        cli_table_add(t, row);
        free(name);
        for (int k = 0; k < 6; k++)
            free(cells[k]);
    }
    cli_table_set_cut(t, 60);
    cli_table_print(t, stdout);
    cli_table_destroy(&t);
    char last[40];
    cli_format_time(rep->last_contact_at, last, sizeof last);
    printf("\nroll-up: %u clients, %u contacts, %u open tasks, %u interactions, last contact %s%s\n",
           rep->clients, rep->contacts, rep->open_tasks, rep->interactions, last[0] ? last : "never",
           rep->truncated ? " (truncated: more than 1000 clients)" : "");
}

static const cli_eview_t s_tree_view = { .print = s_print_tree };

/* s_print_policy - the contact policy: one line a tier. */
static void s_print_policy(cli_t *cli, const cli_args_t *a, const ProtobufCMessage *reply)
{
    const Rapport__Accounts__V1__ContactPolicy *p = (const Rapport__Accounts__V1__ContactPolicy *) reply;
    static const char *const hdr[] = { "TIER", "LONGEST SILENCE" };
    cli_table_t *t = cli_table_new(2, hdr);
    for (size_t i = 0; i < p->n_tiers; i++) {
        char tier[64], days[32];
        cli_enum_short(&rapport__accounts__v1__tier__descriptor, p->tiers[i]->tier, tier, sizeof tier);
        if (p->tiers[i]->max_silence_days)
            snprintf(days, sizeof days, "%u days", p->tiers[i]->max_silence_days);
        else
            snprintf(days, sizeof days, "no policy");
        const char *row[] = { tier, days };
        cli_table_add(t, row);
    }
    cli_table_print(t, stdout);
    cli_table_destroy(&t);
}

static const cli_eview_t s_policy_view = { .print = s_print_policy };

static const cli_erow_t s_client_rows[] = {
    { "create",   "",       { NULL }, "CreateClient", NULL, s_client_create_flags, NULL,
      "create a client (CreateClient)",
      "Required: --kind and --legal-name (or --from-json). A client with the same tax id answers\n"
      "  ALREADY_EXISTS with the existing client's id. Tier defaults to regular, lifecycle to prospect." },
    { "get",      "ID",     { "id" }, "GetClient", NULL, NULL, NULL,
      "show one client (GetClient)", NULL },
    { "update",   "ID",     { "id" }, "UpdateClient", NULL, s_client_update_flags, NULL,
      "change the fields given as flags, leaving the others (UpdateClient)",
      "Only the flags given are changed; --segment replaces every segment, and any address flag\n"
      "  replaces the whole address. Owners change with 'rapport clients transfer'." },
    { "transfer", "ID",     { "id" }, "TransferClient", NULL, s_client_transfer_flags, NULL,
      "give a client to another manager (TransferClient; needs accounts.assign)",
      "Every transfer is kept in the client's owner_history and raises client.owner_changed." },
    { "list",     "",       { NULL }, "ListClients", NULL, s_client_list_flags, &s_clients_view,
      "list clients: yours, or by owner, tier, lifecycle, segment, name prefix or parent (ListClients)",
      "Without a filter: your own clients. Filters combine (the service scans the index of the first\n"
      "  of --parent, --name-prefix, --segment, --owner, --tier, and filters by the rest)." },
    { "tree",     "ID",     { "id" }, "ClientTree", NULL, NULL, &s_tree_view,
      "a client and every client below it, with roll-ups (ClientTree)", NULL },
    { "policy",   "",       { NULL }, "GetContactPolicy", NULL, NULL, &s_policy_view,
      "the longest silence each tier allows (GetContactPolicy)", NULL },
};

/* ---- contacts ---- */

#define A_CONTACT_FLAGS(REQUIRED) \
    { "name",       "NAME",    "name",              CLI_F_TEXT | CLI_F_MASK | (REQUIRED), "full name (1..200 bytes)" }, \
    { "position",   "TEXT",    "position",          CLI_F_TEXT | CLI_F_MASK, "job title" }, \
    { "role",       "ROLE",    "role",              CLI_F_ENUM | CLI_F_MASK | (REQUIRED), "role in decisions: decision_maker, negotiator, influencer, user, other" }, \
    { "phone",      "PHONE",   "phones",            CLI_F_TEXT | CLI_F_MASK, "a phone number (repeatable, up to 5)" }, \
    { "email",      "ADDRESS", "emails",            CLI_F_TEXT | CLI_F_MASK, "an e-mail address (repeatable, up to 5)" }, \
    { "channel",    "CHANNEL", "preferred_channel", CLI_F_ENUM | CLI_F_MASK, "preferred channel: phone, email, meeting, visit, chat, video, fax, post" }, \
    { "do-not-contact", NULL,  "do_not_contact",    CLI_F_BOOL | CLI_F_MASK, "no channel may contact this person" }, \
    { "note",       "TEXT",    "note",              CLI_F_TEXT | CLI_F_MASK, "a note" }

static const cli_eflag_t s_contact_add_flags[] = {
    A_CONTACT_FLAGS(CLI_F_REQUIRED),
    { "consent",        "STATE",  "consent.state",  CLI_F_ENUM | CLI_F_BOTH, "consent to be contacted: given or withdrawn (with --consent-source)" },
    { "consent-source", "SOURCE", "consent.source", CLI_F_ENUM | CLI_F_BOTH, "where the consent comes from: verbal, written, email, web_form, contract, import, other" },
    { "consent-note",   "TEXT",   "consent.note",   CLI_F_TEXT, "e.g. 'form 2024-17 signed at the fair'" },
    A_REQUEST_ID_FLAG, A_END
};

static const cli_eflag_t s_contact_update_flags[] = {
    A_CONTACT_FLAGS(0),
    { "allow-contact", NULL, "do_not_contact", CLI_F_CLEAR, "lift do-not-contact" },
    { "clear-phones",  NULL, "phones",         CLI_F_CLEAR, "remove every phone number" },
    { "clear-emails",  NULL, "emails",         CLI_F_CLEAR, "remove every e-mail address" },
    A_REQUEST_ID_FLAG, A_END
};

static const cli_eflag_t s_consent_flags[] = {
    { "source", "SOURCE", "source", CLI_F_ENUM | CLI_F_REQUIRED, "verbal, written, email, web_form, contract, import, other; required" },
    { "note",   "TEXT",   "note",   CLI_F_TEXT, "e.g. where it was signed" },
    A_REQUEST_ID_FLAG, A_END
};

static const cli_eflag_t s_erase_flags[] = {
    { "reason", "TEXT", "reason", CLI_F_TEXT | CLI_F_REQUIRED, "why, e.g. the request's reference; required" },
    A_REQUEST_ID_FLAG, A_END
};

static const cli_ecol_t s_contact_cols[] = {
    { "ID", "id", CLI_COL_TEXT }, { "NAME", "name", CLI_COL_TEXT }, { "POSITION", "position", CLI_COL_TEXT },
    { "ROLE", "role", CLI_COL_TEXT }, { "PHONES", "phones", CLI_COL_TEXT }, { "EMAILS", "emails", CLI_COL_TEXT },
    { "CONSENT", "consent.state", CLI_COL_TEXT }, { "DO NOT CONTACT", "do_not_contact", CLI_COL_TEXT },
    { NULL, NULL, 0 }
};

static const cli_eview_t s_contacts_view = { .items = "contacts", .none = "contacts", .cols = s_contact_cols };

static const cli_erow_t s_contact_rows[] = {
    { "add",      "CLIENT", { "client_id" }, "CreateContact", NULL, s_contact_add_flags, NULL,
      "add a contact person to a client (CreateContact)", NULL },
    { "get",      "ID",     { "id" }, "GetContact", NULL, NULL, NULL,
      "show one contact (GetContact); phones and e-mails are masked without accounts.contacts.read", NULL },
    { "update",   "ID",     { "id" }, "UpdateContact", NULL, s_contact_update_flags, NULL,
      "change the fields given as flags, leaving the others (UpdateContact)",
      "--phone and --email replace every phone number or e-mail address." },
    { "consent",  "ID STATE", { "contact_id", "state" }, "SetConsent", NULL, s_consent_flags, NULL,
      "record that a contact gave or withdrew consent to be contacted (SetConsent)",
      "STATE: given or withdrawn. A withdrawn consent stops every outbound channel, as do-not-contact does." },
    { "do-not-contact", "ID", { "id" }, "UpdateContact", "do_not_contact=true&update_mask=[\"do_not_contact\"]",
      s_write_flags, NULL,
      "flag a contact do-not-contact: no outbound interaction or task may name them (UpdateContact)",
      "Lift it with 'rapport contacts update ID --allow-contact'." },
    { "erase",    "ID",     { "id" }, "EraseContact", NULL, s_erase_flags, NULL,
      "erase a person on request: anonymise the contact, keep the business records (EraseContact; needs accounts.erase)",
      "The name becomes 'erased contact' and every other personal field is cleared; the contact stays\n"
      "  do-not-contact, and its interactions and tasks stay. It cannot be undone." },
    { "list",     "CLIENT", { "client_id" }, "ListContacts", NULL, s_page_flags, &s_contacts_view,
      "a client's contacts, in the order they were added (ListContacts)", NULL },
};

/* ---- interactions ---- */

static const cli_eflag_t s_interaction_log_flags[] = {
    { "channel",   "CHANNEL",   "channel",   CLI_F_ENUM | CLI_F_REQUIRED, "phone, email, meeting, visit, chat, video, fax, post; required" },
    { "direction", "DIRECTION", "direction", CLI_F_ENUM | CLI_F_REQUIRED, "inbound (the client reached us) or outbound; required" },
    { "summary",   "TEXT",      "summary",   CLI_F_TEXT | CLI_F_REQUIRED, "what was said or done (1..4000 bytes); required" },
    { "outcome",   "OUTCOME",   "outcome",   CLI_F_ENUM | CLI_F_REQUIRED, "positive, neutral, negative, no_contact; required" },
    { "contact",   "CONTACT",   "contact_id", CLI_F_TEXT, "the contact person (a contact of this client)" },
    { "link-kind", "KIND",      "link.kind", CLI_F_ENUM | CLI_F_BOTH, "what it concerns: lead, contract, invoice, complaint (with --link-id)" },
    { "link-id",   "ID",        "link.id",   CLI_F_TEXT | CLI_F_BOTH, "the id of that lead, contract, invoice or complaint" },
    { "at",        "TIME",      "occurred_at", CLI_F_TIME, "when it happened, YYYY-MM-DD[THH:MM[:SS]] UTC (default now)" },
    A_REQUEST_ID_FLAG, A_END
};

static const cli_ecol_t s_interaction_cols[] = {
    { "ID", "id", CLI_COL_TEXT }, { "WHEN", "occurred_at", CLI_COL_TEXT }, { "CHANNEL", "channel", CLI_COL_TEXT },
    { "DIRECTION", "direction", CLI_COL_TEXT }, { "OUTCOME", "outcome", CLI_COL_TEXT },
    { "SUMMARY", "summary", CLI_COL_TEXT }, { "CONTACT", "contact_id", CLI_COL_TEXT }, { "BY", "by", CLI_COL_TEXT },
    { NULL, NULL, 0 }
};

static const cli_eview_t s_interactions_view = { .items = "interactions", .none = "interactions", .cols = s_interaction_cols };

static const cli_erow_t s_interaction_rows[] = {
    { "log",  "CLIENT", { "client_id" }, "LogInteraction", NULL, s_interaction_log_flags, NULL,
      "log a call, e-mail, meeting, visit... with a client (LogInteraction)",
      "An outbound interaction may not name a do-not-contact contact. Any outcome but no_contact\n"
      "  counts as the client's last contact." },
    { "list", "CLIENT", { "client_id" }, "ListInteractions", NULL, s_page_flags, &s_interactions_view,
      "a client's interactions, oldest first (ListInteractions)", NULL },
};

/* ---- tasks ---- */

#define A_TASK_FLAGS(REQUIRED) \
    { "kind",     "KIND",     "kind",     CLI_F_ENUM | CLI_F_MASK | (REQUIRED), "call, meeting, visit, email or todo" }, \
    { "title",    "TEXT",     "title",    CLI_F_TEXT | CLI_F_MASK | (REQUIRED), "what to do (1..200 bytes)" }, \
    { "due",      "DATE",     "due",      CLI_F_DATE | CLI_F_MASK | (REQUIRED), "due date YYYY-MM-DD" }, \
    { "time",     "HH:MM",    "due_time", CLI_F_TEXT | CLI_F_MASK, "due time (UTC), for the day plan" }, \
    { "priority", "PRIORITY", "priority", CLI_F_ENUM | CLI_F_MASK, "low, normal (default), high or urgent" }, \
    { "note",     "TEXT",     "note",     CLI_F_TEXT | CLI_F_MASK, "a note" }

static const cli_eflag_t s_task_add_flags[] = {
    A_TASK_FLAGS(CLI_F_REQUIRED),
    { "client",        "CLIENT",  "client_id",     CLI_F_TEXT, "the client it concerns" },
    { "contact",       "CONTACT", "contact_id",    CLI_F_TEXT, "the contact person (with --client)" },
    { "assignee",      "USER",    "assignee",      CLI_F_TEXT, "someone else (needs accounts.assign; with --assignee-unit)" },
    { "assignee-unit", "PATH",    "assignee_unit", CLI_F_TEXT, "the assignee's org unit" },
    A_REQUEST_ID_FLAG, A_END
};

static const cli_eflag_t s_task_update_flags[] = {
    A_TASK_FLAGS(0),
    { "clear-time", NULL, "due_time", CLI_F_CLEAR, "no due time" },
    A_REQUEST_ID_FLAG, A_END
};

static const cli_eflag_t s_task_close_flags[] = {
    { "result", "TEXT", "result", CLI_F_TEXT, "how it went (up to 2000 bytes)" },
    A_REQUEST_ID_FLAG, A_END
};

static const cli_eflag_t s_task_list_flags[] = {
    { "assignee", "USER",   "assignee",  CLI_F_TEXT, "this user's tasks (default: yours)" },
    { "client",   "CLIENT", "client_id", CLI_F_TEXT, "instead: the client's open tasks" },
    A_PAGE_FLAGS, A_END
};

static const cli_eflag_t s_task_plan_flags[] = {
    { "assignee", "USER", "assignee", CLI_F_TEXT, "this user's plan (default: yours)" },
    { "date",     "DATE", "date",     CLI_F_DATE, "the day, YYYY-MM-DD (default today, UTC)" },
    A_PAGE_FLAGS, A_END
};

static const cli_ecol_t s_task_cols[] = {
    { "ID", "id", CLI_COL_TEXT }, { "DUE", "due", CLI_COL_TEXT }, { "TIME", "due_time", CLI_COL_TEXT },
    { "KIND", "kind", CLI_COL_TEXT }, { "PRIORITY", "priority", CLI_COL_TEXT }, { "TITLE", "title", CLI_COL_TEXT },
    { "CLIENT", "client_id", CLI_COL_TEXT }, { "ASSIGNEE", "assignee", CLI_COL_TEXT },
    { "STATUS", "status", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

static const cli_eview_t s_tasks_view = { .items = "tasks", .none = "tasks", .cols = s_task_cols };
static const cli_eview_t s_today_view = { .items = "tasks", .none = "tasks due today", .cols = s_task_cols };
static const cli_eview_t s_overdue_view = { .items = "tasks", .none = "overdue tasks", .cols = s_task_cols };

/* s_plan - the day plan: --date, else today (UTC, by the clock). */
static int s_plan(cli_t *cli, const cli_args_t *a, cli_ecall_t *call)
{
    if (!json_object_get(call->req, "date")) {
        int y, m, d;
        rp_days_to_date((int32_t) (rp_clock_now_ms() / 86400000), &y, &m, &d);
        json_object_set_new(call->req, "date", json_pack("{s:i,s:i,s:i}", "year", y, "month", m, "day", d));
    }
    return cli_engine_list(cli, a, call);
}

static const cli_eview_t s_plan_view = { .items = "tasks", .none = "calls, meetings or visits planned that day",
                                         .cols = s_task_cols, .run = s_plan };

static const cli_erow_t s_task_rows[] = {
    { "add",      "",   { NULL }, "CreateTask", NULL, s_task_add_flags, NULL,
      "create a task (CreateTask)",
      "Required: --kind, --title and --due. A task may not name a do-not-contact contact." },
    { "get",      "ID", { "id" }, "GetTask", NULL, NULL, NULL, "show one task (GetTask)", NULL },
    { "update",   "ID", { "id" }, "UpdateTask", NULL, s_task_update_flags, NULL,
      "change an open task's fields given as flags (UpdateTask)", NULL },
    { "complete", "ID", { "id" }, "CompleteTask", NULL, s_task_close_flags, NULL,
      "mark a task done (CompleteTask)", NULL },
    { "cancel",   "ID", { "id" }, "CancelTask", NULL, s_task_close_flags, NULL,
      "cancel a task (CancelTask)", NULL },
    { "list",     "",   { NULL }, "ListTasks", "view=open", s_task_list_flags, &s_tasks_view,
      "open tasks by due date: yours, someone's or a client's (ListTasks)", NULL },
    { "today",    "",   { NULL }, "ListTasks", "view=today", s_task_list_flags, &s_today_view,
      "open tasks due today, UTC (ListTasks today)", NULL },
    { "overdue",  "",   { NULL }, "ListTasks", "view=overdue", s_task_list_flags, &s_overdue_view,
      "open tasks due before today (ListTasks overdue)", NULL },
    { "plan",     "",   { NULL }, "ListTasks", "view=day_plan", s_task_plan_flags, &s_plan_view,
      "the day plan: open calls, meetings and visits of a day, by time (ListTasks day_plan)", NULL },
};

/* ---- timeline and portfolio ---- */

#define ACC_PAGE_MAX_CLI 500    /* the service's largest page */

/* s_timeline_cell - an entry's type without "rapport.<source>.v1." (the SOURCE
 * column says it: "lead.won"), and its summary; an interaction's with what was said. */
static char *s_timeline_cell(const ProtobufCMessage *row, const char *key)
{
    const Rapport__Accounts__V1__TimelineEntry *e = (const Rapport__Accounts__V1__TimelineEntry *) row;
    if (strcmp(key, "type") == 0) {
        const char *t = e->type ? e->type : "";
        char *prefix = rp_sprintf("rapport.%s.v1.", e->source ? e->source : "");
        size_t n = strlen(prefix);
        char *r = rp_strdup(strncmp(t, prefix, n) == 0 && t[n] ? t + n : t);
        free(prefix);
        return r;
    }
    if (e->interaction && e->interaction->summary && e->interaction->summary[0])
        return rp_sprintf("%s: %s", e->summary, e->interaction->summary);
    return rp_strdup(e->summary ? e->summary : "");
}

static const cli_ecol_t s_timeline_cols[] = {
    { "WHEN", "at", CLI_COL_TEXT }, { "SOURCE", "source", CLI_COL_TEXT }, { "WHAT", "type", CLI_COL_CELL },
    { "SUMMARY", "summary", CLI_COL_CELL }, { "BY", "actor", CLI_COL_TEXT }, { "SUBJECT", "subject", CLI_COL_TEXT },
    { NULL, NULL, 0 }
};

static int s_timeline_run(cli_t *cli, const cli_args_t *a, cli_ecall_t *call);

static const cli_eview_t s_timeline_view = { .items = "entries", .none = "timeline entries", .cols = s_timeline_cols,
                                             .cell = s_timeline_cell, .run = s_timeline_run };

/* s_timeline_run - the engine's list, but a summary is not cut at the engine's 40
 * columns: it is what the timeline is read for. --json is the engine's. */
static int s_timeline_run(cli_t *cli, const cli_args_t *a, cli_ecall_t *call)
{
    if (cli->json)
        return cli_engine_list(cli, a, call);
    uint64_t size = 0;
    const char *ps = cli_flag(a, "page-size");
    if (ps && (cli_parse_u64(ps, &size) != 0 || size < 1 || size > ACC_PAGE_MAX_CLI))
        return cli_usage_error(a, "--page-size: must be from 1 to %d, got '%s'", ACC_PAGE_MAX_CLI, ps);
    json_object_set_new(call->req, "page_size", json_integer((json_int_t) size));
    char *token = rp_strdup(cli_flag(a, "page-token") ? cli_flag(a, "page-token") : "");
    rp_client_t *client = NULL;
    int rc = cli_engine_connect(cli, call, &client);
    cli_table_t *t = cli_engine_table_new(s_timeline_cols);
    size_t rows = 0;
    while (rc == 0) {
        json_object_set_new(call->req, "page_token", json_string_nocheck(token));
        ProtobufCMessage *in = cli_engine_message(call), *rep = NULL;
        rc = cli_call(cli, client, NULL, call->name, in, call->method->output, &rep);
        protobuf_c_message_free_unpacked(in, NULL);
        if (rc)
            break;
        const Rapport__Accounts__V1__TimelineReply *r = (const Rapport__Accounts__V1__TimelineReply *) rep;
        cli_engine_table_add(t, &s_timeline_view, s_timeline_cols, rep, "entries");
        rows += r->n_entries;
        free(token);
        token = rp_strdup(r->next_page_token ? r->next_page_token : "");
        protobuf_c_message_free_unpacked(rep, NULL);
        if (!cli_flag_set(a, "all") || !token[0])
            break;
    }
    rp_client_destroy(&client);
    if (rc == 0 && rows == 0)
        fprintf(stderr, "no timeline entries found\n");
    else if (rc == 0) {
        cli_table_set_cut(t, 200);     /* an event's summary is at most 200 bytes */
        cli_table_print(t, stdout);
        if (token[0])
            fprintf(stderr, "more: --page-token %s (or --all)\n", token);
    }
    cli_table_destroy(&t);
    free(token);
    return rc;
}

static const cli_erow_t s_timeline_rows[] = {
    { "", "CLIENT", { "client_id" }, "Timeline", NULL, s_page_flags, &s_timeline_view,
      "the client's 360 timeline, newest first: interactions and what other services tell (Timeline)", NULL },
};

/* s_cell - the portfolio's computed columns. */
static char *s_cell(const ProtobufCMessage *row, const char *key)
{
    const Rapport__Accounts__V1__PortfolioRow *r = (const Rapport__Accounts__V1__PortfolioRow *) row;
    if (strcmp(key, "silence") == 0)
        return r->last_contact_at ? rp_sprintf("%u d%s", r->silence_days, r->contact_overdue ? " OVERDUE" : "")
                                  : rp_strdup("");
    return rp_strdup("");
}

static const cli_ecol_t s_portfolio_cols[] = {
    { "CLIENT", "client_id", CLI_COL_TEXT }, { "NAME", "name", CLI_COL_TEXT }, { "TIER", "tier", CLI_COL_TEXT },
    { "LIFECYCLE", "lifecycle", CLI_COL_TEXT }, { "LAST CONTACT", "last_contact_at", CLI_COL_DAY },
    { "SILENCE", "silence", CLI_COL_CELL }, { "OPEN TASKS", "open_tasks", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

static const cli_eview_t s_portfolio_view = { .items = "rows", .none = "clients in the portfolio",
                                              .cols = s_portfolio_cols, .cell = s_cell };

static const cli_erow_t s_portfolio_rows[] = {
    { "", "[USER]", { "owner" }, "Portfolio", NULL, s_page_flags, &s_portfolio_view,
      "a manager's clients with their last contact, silence, open tasks and tier (Portfolio)",
      "Without USER: yours. SILENCE says OVERDUE when the client has been silent longer than its tier\n"
      "  allows ('rapport clients policy')." },
};

/* ---- export ---- */

/* s_out_open - the file of --out (created 0600: it holds personal data), else stdout. */
static FILE *s_out_open(const char *path)
{
    if (!path || strcmp(path, "-") == 0)
        return stdout;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f)
        close(fd);
    return f;
}

/* s_fetch - page through FetchExport of export id from page `from` into --out (or
 * stdout): the CSV header once, then every row as a line. The exit code. */
static int s_fetch(cli_t *cli, const cli_args_t *a, rp_client_t *c, const char *id, uint32_t from)
{
    const char *out_path = cli_flag(a, "out");
    FILE *out = s_out_open(out_path);
    if (!out)
        return cli_local_error(cli, "cannot write %s: %s", out_path, strerror(errno));
    int rc = CLI_EXIT_OK;
    uint64_t rows = 0;
    bool header = from > 0;     /* it came with the first page, served before */
    for (uint32_t page = from;; page++) {
        Rapport__Accounts__V1__FetchExportRequest req = RAPPORT__ACCOUNTS__V1__FETCH_EXPORT_REQUEST__INIT;
        req.id = (char *) id;
        req.page = page;
        req.page_size = 1000;
        ProtobufCMessage *rep = NULL;
        rc = cli_call(cli, c, NULL, "rapport.accounts.v1.Accounts/FetchExport", &req.base,
                      &rapport__accounts__v1__export_page__descriptor, &rep);
        if (rc)
            break;
        const Rapport__Accounts__V1__ExportPage *p = (const Rapport__Accounts__V1__ExportPage *) rep;
        if (!header && p->header && p->header[0])
            fprintf(out, "%s\n", p->header);
        header = true;
        for (size_t i = 0; i < p->n_rows; i++)
            fprintf(out, "%s\n", p->rows[i]);
        rows += p->n_rows;
        bool done = p->done;
        protobuf_c_message_free_unpacked(rep, NULL);
        if (done)
            break;
    }
    if (fflush(out) != 0 || ferror(out)) {
        if (rc == 0)
            rc = cli_local_error(cli, "cannot write %s: %s", out_path ? out_path : "stdout", strerror(errno));
    }
    if (out != stdout)
        fclose(out);
    if (rc == 0)
        fprintf(stderr, "export %s: %llu rows%s%s\n", id, (unsigned long long) rows,
                out_path && strcmp(out_path, "-") ? " written to " : "", out_path && strcmp(out_path, "-") ? out_path : "");
    else if (rows)
        fprintf(stderr, "export %s: stopped after %llu rows; 'rapport export fetch %s' continues\n", id,
                (unsigned long long) rows, id);
    return rc;
}

/* s_export_state - print where an export stands; the exit code of a fetch not done. */
static int s_export_state(cli_t *cli, const Rapport__Accounts__V1__Export *x)
{
    if (cli->json) {
        cli_print_message(cli, &x->base);
        return x->status == RAPPORT__ACCOUNTS__V1__EXPORT_STATUS__EXPORT_STATUS_PENDING ? CLI_EXIT_SERVICE : CLI_EXIT_OK;
    }
    switch (x->status) {
    case RAPPORT__ACCOUNTS__V1__EXPORT_STATUS__EXPORT_STATUS_PENDING:
        fprintf(stderr, "export %s: %llu rows is over the limit of %llu and waits for a head's approval\n"
                "  (rapport export approve %s); then: rapport export fetch %s\n", x->id,
                (unsigned long long) x->row_count, (unsigned long long) x->limit, x->id, x->id);
        return CLI_EXIT_SERVICE;
    case RAPPORT__ACCOUNTS__V1__EXPORT_STATUS__EXPORT_STATUS_REJECTED:
        fprintf(stderr, "export %s: rejected by %s%s%s\n", x->id, x->decided_by,
                x->decision_note[0] ? ": " : "", x->decision_note);
        return CLI_EXIT_SERVICE;
    case RAPPORT__ACCOUNTS__V1__EXPORT_STATUS__EXPORT_STATUS_DONE:
        fprintf(stderr, "export %s: done, every one of its %llu rows was served\n", x->id,
                (unsigned long long) x->row_count);
        return CLI_EXIT_SERVICE;
    default:
        return CLI_EXIT_OK;
    }
}

/* s_export_clients - RequestExport; when READY, fetch it at once. */
static int s_export_clients(cli_t *cli, const cli_args_t *a, cli_ecall_t *call)
{
    rp_client_t *c = NULL;
    int rc = cli_engine_connect(cli, call, &c);
    if (rc)
        return rc;
    ProtobufCMessage *in = cli_engine_message(call), *out = NULL;
    rc = cli_call(cli, c, call->id, call->name, in, call->method->output, &out);
    protobuf_c_message_free_unpacked(in, NULL);
    if (rc == 0) {
        const Rapport__Accounts__V1__Export *x = (const Rapport__Accounts__V1__Export *) out;
        if (x->status == RAPPORT__ACCOUNTS__V1__EXPORT_STATUS__EXPORT_STATUS_READY)
            rc = s_fetch(cli, a, c, x->id, x->pages_served);
        else
            rc = s_export_state(cli, x);
        protobuf_c_message_free_unpacked(out, NULL);
    }
    rp_client_destroy(&c);
    return rc;
}

/* s_export_fetch - GetExport, then fetch from the next page when READY. */
static int s_export_fetch(cli_t *cli, const cli_args_t *a, cli_ecall_t *call)
{
    rp_client_t *c = NULL;
    int rc = cli_engine_connect(cli, call, &c);
    if (rc)
        return rc;
    ProtobufCMessage *in = cli_engine_message(call), *out = NULL;
    rc = cli_call(cli, c, NULL, call->name, in, call->method->output, &out);
    protobuf_c_message_free_unpacked(in, NULL);
    if (rc == 0) {
        const Rapport__Accounts__V1__Export *x = (const Rapport__Accounts__V1__Export *) out;
        if (x->status == RAPPORT__ACCOUNTS__V1__EXPORT_STATUS__EXPORT_STATUS_READY) {
            if (x->pages_served)
                fprintf(stderr, "export %s: %u pages were fetched before; continuing after them\n", x->id,
                        x->pages_served);
            rc = s_fetch(cli, a, c, x->id, x->pages_served);
        } else {
            rc = s_export_state(cli, x);
        }
        protobuf_c_message_free_unpacked(out, NULL);
    }
    rp_client_destroy(&c);
    return rc;
}

static const cli_eflag_t s_export_flags[] = {
    { "format",    "FORMAT", "format",           CLI_F_ENUM, "csv (default) or json (one object a line)" },
    { "owner",     "USER",   "filter.owner",     CLI_F_TEXT, "only this owner's clients" },
    { "tier",      "TIER",   "filter.tier",      CLI_F_ENUM, "only this tier" },
    { "lifecycle", "STAGE",  "filter.lifecycle", CLI_F_ENUM, "only this lifecycle stage" },
    { "segment",   "NAME",   "filter.segment",   CLI_F_TEXT, "only this segment" },
    { "reason",    "TEXT",   "reason",           CLI_F_TEXT, "why; required when the export needs approval" },
    { "out",       "FILE",   NULL,               CLI_F_LOCAL, "write to FILE (created with mode 0600) instead of stdout" },
    A_REQUEST_ID_FLAG, A_END
};

static const cli_eflag_t s_export_fetch_flags[] = {
    { "out", "FILE", NULL, CLI_F_LOCAL, "write to FILE (created with mode 0600) instead of stdout" },
    A_END
};

static const cli_eflag_t s_export_decide_flags[] = {
    { "note", "TEXT", "note", CLI_F_TEXT, "a note for the requester and the audit trail" },
    A_REQUEST_ID_FLAG, A_END
};

static const cli_eflag_t s_export_list_flags[] = {
    { "status", "STATUS", "status", CLI_F_ENUM, "only pending, ready, rejected or done exports" },
    A_PAGE_FLAGS, A_END
};

static const cli_ecol_t s_export_cols[] = {
    { "ID", "id", CLI_COL_TEXT }, { "STATUS", "status", CLI_COL_TEXT }, { "FORMAT", "format", CLI_COL_TEXT },
    { "ROWS", "row_count", CLI_COL_TEXT }, { "SERVED", "rows_served", CLI_COL_TEXT },
    { "BY", "requested_by", CLI_COL_TEXT }, { "WHEN", "created_at", CLI_COL_TEXT },
    { "REASON", "reason", CLI_COL_TEXT }, { "DECIDED BY", "decided_by", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

static const cli_eview_t s_export_run_view = { .run = s_export_clients };
static const cli_eview_t s_export_fetch_view = { .run = s_export_fetch };
static const cli_eview_t s_exports_view = { .items = "exports", .none = "exports", .cols = s_export_cols };

static const cli_erow_t s_export_rows[] = {
    { "clients", "",   { NULL }, "RequestExport", "format=csv", s_export_flags, &s_export_run_view,
      "export the clients you may see as CSV or JSON lines (RequestExport, FetchExport; needs accounts.export)",
      "Every export is audited with its row count. Up to the service's limit the rows are written at\n"
      "  once; above it the export waits for a head's approval and this exits 1 naming its id:\n"
      "  'rapport export approve ID' (someone else with accounts.export.approve), then\n"
      "  'rapport export fetch ID --out FILE' (the requester)." },
    { "fetch",   "ID", { "id" }, "GetExport", NULL, s_export_fetch_flags, &s_export_fetch_view,
      "fetch an approved export's rows (GetExport, FetchExport)", NULL },
    { "status",  "ID", { "id" }, "GetExport", NULL, NULL, NULL,
      "where an export stands (GetExport)", NULL },
    { "list",    "",   { NULL }, "ListExports", NULL, s_export_list_flags, &s_exports_view,
      "your exports, or those awaiting your approval (ListExports)",
      "'rapport export list --status pending' lists what awaits a head's approval." },
    { "approve", "ID", { "id" }, "ApproveExport", NULL, s_export_decide_flags, NULL,
      "approve another's export over the limit (ApproveExport; needs accounts.export.approve)", NULL },
    { "reject",  "ID", { "id" }, "RejectExport", NULL, s_export_decide_flags, NULL,
      "reject another's export over the limit (RejectExport; needs accounts.export.approve)", NULL },
};

/* ---- main.c's view of the tables ---- */

#define A_GROUP(var, table, name) \
    CLI_ENGINE_GROUP(var, table, name, "accounts", &rapport__accounts__v1__accounts__descriptor, NULL, 0)

A_GROUP(cli_clients_cmds, s_client_rows, "clients");
A_GROUP(cli_contacts_cmds, s_contact_rows, "contacts");
A_GROUP(cli_interactions_cmds, s_interaction_rows, "interactions");
A_GROUP(cli_tasks_cmds, s_task_rows, "tasks");
A_GROUP(cli_timeline_cmds, s_timeline_rows, "timeline");
A_GROUP(cli_portfolio_cmds, s_portfolio_rows, "portfolio");
A_GROUP(cli_export_cmds, s_export_rows, "export");

void cli_accounts_init(void)
{
    cli_engine_init(&cli_clients_cmds_engine);
    cli_engine_init(&cli_contacts_cmds_engine);
    cli_engine_init(&cli_interactions_cmds_engine);
    cli_engine_init(&cli_tasks_cmds_engine);
    cli_engine_init(&cli_timeline_cmds_engine);
    cli_engine_init(&cli_portfolio_cmds_engine);
    cli_engine_init(&cli_export_cmds_engine);
}
