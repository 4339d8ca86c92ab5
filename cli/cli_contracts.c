/* cli_contracts.c - `rapport quotes`, `rapport contracts` and `rapport orders`: the
 * methods of rapport.contracts.v1.Contracts (proto/rapport/contracts/v1/contracts.proto),
 * each group one table on the command engine (cli_engine.c), as cli_leads.c and
 * cli_accounts.c are.
 *
 * A row names the command, its positional arguments and the request fields they
 * fill, the method, a preset, the flags and how the reply prints; a flag row names
 * the request field its value goes to and its kind. This file's own kinds parse a
 * quote line, a party, an instalment and an order item from one flag's text. The
 * service enforces every rule (authority limits, the approval chain, the instalment
 * sum, the documents before signing) and names the field of a violation, which
 * cli_call prints.
 *
 * Three commands do more than one call: `quotes revise`, `contracts update-draft`
 * and `contracts amend|extend` read the current terms (GetQuote / Get) and lay the
 * flags given over them, since the service replaces terms whole; `contracts verify`
 * exits 1 when the stored contract is not the one signed; `contracts show` renders
 * one contract as a document to print. A contract is addressed by its id or its
 * number (HQ-2026-000017): the service resolves both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "rapport/pbjson.h"
#include "rapport/util.h"
#include "rapport/contracts/v1/contracts.pb-c.h"

typedef Rapport__Contracts__V1__Contract Contract;

/* This file's kinds of flag (s_kinds). */
#define K_QLINE     (CLI_F_CUSTOM + 0)  /* a QuoteLine: KIND,DESCRIPTION,QUANTITY,UNIT,UNIT_PRICE[,DISCOUNT%] */
#define K_PARTY     (CLI_F_CUSTOM + 1)  /* a Party: ROLE,NAME[,TAX_ID[,REPRESENTATIVE[,CLIENT_ID]]] */
#define K_INSTALMENT (CLI_F_CUSTOM + 2) /* an Instalment: DUE,AMOUNT[,NOTE] */
#define K_ITEM      (CLI_F_CUSTOM + 3)  /* an OrderItem: DESCRIPTION,QUANTITY,UNIT */

#define C_END CLI_EFLAG_END
#define C_REQUEST_ID_FLAG CLI_EFLAG_REQUEST_ID
#define C_PAGE_FLAGS CLI_EFLAG_PAGING

static const cli_eflag_t s_write_flags[] = { C_REQUEST_ID_FLAG, C_END };
static const cli_eflag_t s_list_flags[] = {
    { "owner", "USER", "owner", CLI_F_TEXT, "this user's (default: yours); needs them in your scope" },
    C_PAGE_FLAGS, C_END
};
static const cli_eflag_t s_page_flags[] = { C_PAGE_FLAGS, C_END };

/* ---- quotes ---- */

/* The terms of a quote (create, revise). */
#define C_QUOTE_TERMS(REQUIRED) \
    { "line",         "LINE",    "terms.lines",           K_QLINE | (REQUIRED), "KIND,DESCRIPTION,QUANTITY,UNIT,UNIT_PRICE[,DISCOUNT%], e.g. 'service,Support plan,12,h,99.50,5%'; KIND product or service; 1..100 lines" }, \
    { "currency",     "CODE",    NULL,                    CLI_F_CURRENCY, "currency of the quote and every unit price (default $RAPPORT_CURRENCY or EUR)" }, \
    { "payment-days", "DAYS",    "terms.payment.days",    CLI_F_UINT | CLI_F_MAX(100000), "payment due DAYS after the invoice (0..365)" }, \
    { "prepayment",   "PERCENT", "terms.payment.prepayment_bp", CLI_F_PERCENT, "prepayment of the total, e.g. 30 or 12.5" }, \
    { "delivery",     "TEXT",    "terms.delivery_terms",  CLI_F_TEXT, "delivery terms, e.g. 'DAP Berlin, 4 weeks'" }, \
    { "valid-until",  "DATE",    "terms.valid_until",     CLI_F_DATE | (REQUIRED), "the last day the client may accept, YYYY-MM-DD" }, \
    { "note",         "TEXT",    "terms.note",            CLI_F_TEXT, "a note" }

static const cli_eflag_t s_quote_create_flags[] = {
    { "client",      "CLIENT", "client_id",   CLI_F_TEXT | CLI_F_EITHER, "the client's id in rapport-accounts (or --lead, or both)" },
    { "lead",        "LEAD",   "lead_id",     CLI_F_TEXT | CLI_F_EITHER, "the lead's id in rapport-leads" },
    { "client-name", "NAME",   "client_name", CLI_F_TEXT | CLI_F_REQUIRED, "the client's name as the quote shows it (1..200 bytes); required" },
    C_QUOTE_TERMS(CLI_F_REQUIRED),
    { "from-json",   "FILE",   NULL,          CLI_F_FROM_JSON, "read the CreateQuoteRequest as JSON from FILE ('-' for stdin) instead of field flags" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_quote_revise_flags[] = { C_QUOTE_TERMS(0), C_REQUEST_ID_FLAG, C_END };

static const cli_eflag_t s_quote_approve_flags[] = {
    { "comment", "TEXT", "comment", CLI_F_TEXT, "the approval's comment" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_quote_reject_flags[] = {
    { "reason", "TEXT", "comment", CLI_F_TEXT, "why the client rejected it (up to 500 bytes)" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_to_contract_flags[] = {
    { "type",  "TYPE", "type",  CLI_F_ENUM | CLI_F_REQUIRED, "supply, services, license or framework (decides the documents); required" },
    { "start", "DATE", "start", CLI_F_DATE, "the contract's first day, YYYY-MM-DD (default: the schedule starts today)" },
    { "end",   "DATE", "end",   CLI_F_DATE, "its last day" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_ecol_t s_quote_cols[] = {
    { "ID", "id", CLI_COL_TEXT }, { "CLIENT", "client_name", CLI_COL_TEXT }, { "V", "version", CLI_COL_TEXT },
    { "STATUS", "status", CLI_COL_TEXT }, { "TOTAL", "terms.total", CLI_COL_TEXT },
    { "MAX DISCOUNT", "terms.max_discount_bp", CLI_COL_BP }, { "VALID UNTIL", "terms.valid_until", CLI_COL_TEXT },
    { "OWNER", "owner", CLI_COL_TEXT }, { "CONTRACT", "contract_id", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

static int s_merge(cli_t *cli, const cli_args_t *a, cli_ecall_t *call);
static int s_quote_write(cli_t *cli, const cli_args_t *a, cli_ecall_t *call);
static void s_print_quote(cli_t *cli, const cli_args_t *a, const ProtobufCMessage *reply);

static const cli_eview_t s_quotes_view = { .items = "quotes", .none = "quotes", .cols = s_quote_cols };
static const cli_eview_t s_merge_view = { .run = s_merge };
static const cli_eview_t s_quote_write_view = { .run = s_quote_write };
static const cli_eview_t s_quote_view = { .print = s_print_quote };

static const cli_erow_t s_quote_rows[] = {
    { "create",      "",      { NULL },       "CreateQuote", NULL, s_quote_create_flags, &s_quote_write_view,
      "prepare a commercial offer for a client or a lead (CreateQuote)",
      "Required: --client or --lead, --client-name, --line and --valid-until (or --from-json). Totals\n"
      "  are computed by the service in minor units: a line is quantity * unit price less its discount." },
    { "get",         "ID",    { "id" },       "GetQuote", NULL, NULL, &s_quote_view,
      "show one quote: its fields and totals, then its lines as a table (GetQuote)",
      "Earlier versions (revisions) are counted; --json prints them in full." },
    { "revise",      "ID",    { "id" },       "ReviseQuote", NULL, s_quote_revise_flags, &s_merge_view,
      "a new version of a draft or sent quote: the flags given over its current terms (ReviseQuote)",
      "The previous terms are kept in revisions, the version goes up and the quote is a draft again\n"
      "  (an approval of its discount is dropped). --line given replaces every line." },
    { "send",        "ID",    { "id" },       "SendQuote", NULL, s_write_flags, NULL,
      "send a draft quote to the client (SendQuote)",
      "A line discount above your own limit needs 'rapport quotes approve ID' by someone whose limit\n"
      "  covers it first (FAILED_PRECONDITION otherwise)." },
    { "approve",     "ID",    { "id" },       "ApproveQuote", NULL, s_quote_approve_flags, NULL,
      "approve a discount above the sender's limit (ApproveQuote; needs contracts.approve)", NULL },
    { "accept",      "ID",    { "id" },       "AcceptQuote", NULL, s_write_flags, NULL,
      "the client accepted a sent quote (AcceptQuote)", NULL },
    { "reject",      "ID",    { "id" },       "RejectQuote", NULL, s_quote_reject_flags, NULL,
      "the client rejected a sent quote (RejectQuote)", NULL },
    { "to-contract", "ID",    { "quote_id" }, "DraftFromQuote", NULL, s_to_contract_flags, NULL,
      "make an accepted quote a draft contract, once (DraftFromQuote)",
      "The draft has the quote's client, value, payment and delivery terms, the company as seller\n"
      "  and the client as buyer, and a schedule from the payment terms (prepayment, then the rest)." },
    { "list",        "",      { NULL },       "ListQuotes", NULL, s_list_flags, &s_quotes_view,
      "your quotes, or another's in your scope (ListQuotes)", NULL },
};

/* ---- contracts ---- */

/* The terms of a contract (draft, update-draft, amend, extend). */
#define C_CONTRACT_TERMS(REQUIRED) \
    { "type",           "TYPE",        "terms.type",           CLI_F_ENUM | (REQUIRED), "supply, services, license or framework (decides the required documents)" }, \
    { "client",         "CLIENT",      "terms.client_id",      CLI_F_TEXT, "the client's id in rapport-accounts" }, \
    { "client-name",    "NAME",        "terms.client_name",    CLI_F_TEXT | (REQUIRED), "the client's name (1..200 bytes)" }, \
    { "party",          "PARTY",       "terms.parties",        K_PARTY, "ROLE,NAME[,TAX_ID[,REPRESENTATIVE[,CLIENT_ID]]]; ROLE seller, buyer or third_party; one seller and one buyer to submit" }, \
    { "value",          "AMOUNT",      "terms.value",          CLI_F_MONEY | (REQUIRED), "the contract's value, e.g. 120000.00 or '120000.00 USD'" }, \
    { "currency",       "CODE",        NULL,                   CLI_F_CURRENCY, "currency of --value and the instalments (default $RAPPORT_CURRENCY or EUR)" }, \
    { "instalment",     "INSTALMENT",  "terms.schedule",       K_INSTALMENT, "DUE,AMOUNT[,NOTE], e.g. '2026-07-01,60000.00,prepayment'; the instalments sum exactly to the value" }, \
    { "special-terms",  "TEXT",        "terms.special_terms",  CLI_F_TEXT, "discounts, bonuses, ... (up to 4000 bytes)" }, \
    { "referral-clause", NULL,         "terms.referral_clause", CLI_F_BOOL, "the contract has a referral clause" }, \
    { "start",          "DATE",        "terms.start",          CLI_F_DATE, "the first day, YYYY-MM-DD (required to submit)" }, \
    { "end",            "DATE",        "terms.end",            CLI_F_DATE, "the last day (required to submit; not before the start)" }, \
    { "payment-days",   "DAYS",        "terms.payment.days",   CLI_F_UINT | CLI_F_MAX(100000), "payment due DAYS after the invoice (0..365)" }, \
    { "prepayment",     "PERCENT",     "terms.payment.prepayment_bp", CLI_F_PERCENT, "prepayment, e.g. 30 or 12.5" }, \
    { "delivery",       "TEXT",        "terms.delivery_terms", CLI_F_TEXT, "delivery terms" }

static const cli_eflag_t s_draft_flags[] = {
    C_CONTRACT_TERMS(CLI_F_REQUIRED),
    { "kind",      "KIND",     "kind",      CLI_F_ENUM, "initial (default), extension, renewal or amendment" },
    { "parent",    "CONTRACT", "parent_id", CLI_F_TEXT, "the signed contract an extension, renewal or amendment belongs to (id or number)" },
    { "from-json", "FILE",     NULL,        CLI_F_FROM_JSON, "read the DraftRequest as JSON from FILE ('-' for stdin) instead of field flags" },
    C_REQUEST_ID_FLAG, C_END
};

/* Over the current terms: none required. */
static const cli_eflag_t s_terms_flags[] = {
    C_CONTRACT_TERMS(0),
    { "no-referral-clause", NULL, NULL, CLI_F_LOCAL, "the contract has no referral clause" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_approve_flags[] = {
    { "comment", "TEXT", "comment", CLI_F_TEXT, "the decision's comment (up to 2000 bytes), kept with it" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_reject_flags[] = {
    { "comment", "TEXT", "comment", CLI_F_TEXT | CLI_F_REQUIRED | CLI_F_NONEMPTY, "why (kept with the decision); required" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_terminate_flags[] = {
    { "reason", "TEXT", "reason", CLI_F_TEXT | CLI_F_REQUIRED | CLI_F_NONEMPTY, "why (up to 500 bytes); required" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_renew_flags[] = {
    { "start",      "DATE",       "start",    CLI_F_DATE | CLI_F_REQUIRED, "the renewal's first day, YYYY-MM-DD; required" },
    { "end",        "DATE",       "end",      CLI_F_DATE | CLI_F_REQUIRED, "its last day; required" },
    { "value",      "AMOUNT",     "value",    CLI_F_MONEY, "its value (default: the parent's)" },
    { "currency",   "CODE",       NULL,       CLI_F_CURRENCY, "currency of --value and the instalments" },
    { "instalment", "INSTALMENT", "schedule", K_INSTALMENT, "DUE,AMOUNT[,NOTE]; required when the value differs from the parent's" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_doc_flags[] = {
    { "note", "TEXT", "note", CLI_F_TEXT, "a reference or file name (up to 500 bytes)" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_milestone_add_flags[] = {
    { "description", "TEXT", "description", CLI_F_TEXT | CLI_F_REQUIRED, "what is to be done (1..500 bytes); required" },
    { "due",         "DATE", "due",         CLI_F_DATE, "when, YYYY-MM-DD" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_show_flags[] = {
    { "format", "FORMAT", NULL, CLI_F_LOCAL, "text (default: the contract as a document to print) or json" },
    C_END
};

static const cli_ecol_t s_contract_cols[] = {
    { "NUMBER", "number", CLI_COL_TEXT }, { "KIND", "kind", CLI_COL_TEXT }, { "TYPE", "terms.type", CLI_COL_TEXT },
    { "CLIENT", "terms.client_name", CLI_COL_TEXT }, { "VALUE", "terms.value", CLI_COL_TEXT },
    { "STATUS", "status", CLI_COL_TEXT }, { "START", "terms.start", CLI_COL_TEXT }, { "END", "terms.end", CLI_COL_TEXT },
    { "OWNER", "owner", CLI_COL_TEXT }, { "ID", "id", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

static const cli_ecol_t s_doc_cols[] = {
    { "DOCUMENT", "kind", CLI_COL_TEXT }, { "STAGE", "stage", CLI_COL_TEXT }, { "REQUIRED", "required", CLI_COL_TEXT },
    { "STATUS", "status", CLI_COL_TEXT }, { "RECEIVED BY", "received_by", CLI_COL_TEXT },
    { "RECEIVED", "received_at", CLI_COL_DAY }, { "VERIFIED BY", "verified_by", CLI_COL_TEXT },
    { "VERIFIED", "verified_at", CLI_COL_DAY }, { "NOTE", "note", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

static const cli_ecol_t s_milestone_cols[] = {
    { "ID", "id", CLI_COL_TEXT }, { "DESCRIPTION", "description", CLI_COL_TEXT }, { "DUE", "due", CLI_COL_TEXT },
    { "DONE", "done_at", CLI_COL_DAY }, { "BY", "done_by", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

static const cli_ecol_t s_decision_cols[] = {
    { "ROUND", "round", CLI_COL_TEXT }, { "STEP", "step", CLI_COL_TEXT }, { "DECISION", "decision", CLI_COL_TEXT },
    { "BY", "by", CLI_COL_TEXT }, { "ROLE", "role", CLI_COL_TEXT }, { "AT", "at", CLI_COL_TEXT },
    { "COMMENT", "comment", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

static void s_print_docs(cli_t *cli, const cli_args_t *a, const ProtobufCMessage *reply);
static void s_print_keys(cli_t *cli, const cli_args_t *a, const ProtobufCMessage *reply);
static char *s_key_cell(const ProtobufCMessage *row, const char *key);
static void s_print_milestones(cli_t *cli, const cli_args_t *a, const ProtobufCMessage *reply);
static int s_verify(cli_t *cli, const cli_args_t *a, cli_ecall_t *call);
static int s_show(cli_t *cli, const cli_args_t *a, cli_ecall_t *call);

static const cli_eview_t s_contracts_view = { .items = "contracts", .none = "contracts", .cols = s_contract_cols };
static const cli_eview_t s_docs_view = { .print = s_print_docs };
static const cli_eview_t s_milestones_view = { .print = s_print_milestones };
static const cli_eview_t s_verify_view = { .run = s_verify };
static const cli_eview_t s_keys_view = { .print = s_print_keys, .cell = s_key_cell };
static const cli_eview_t s_show_view = { .run = s_show };

static const cli_erow_t s_contract_rows[] = {
    { "draft",        "",       { NULL }, "Draft", NULL, s_draft_flags, NULL,
      "draft a contract (Draft); it gets the next number of your branch and year",
      "Required: --type, --client-name and --value (or --from-json). To submit it also needs a seller and\n"
      "  a buyer (--party), a schedule summing exactly to the value (--instalment) and --start/--end." },
    { "get",          "N",      { "id" }, "Get", NULL, NULL, NULL,
      "show one contract as key: value lines (Get); N is its number or id", NULL },
    { "show",         "N",      { "id" }, "Get", NULL, s_show_flags, &s_show_view,
      "one contract as a readable document to print: parties, schedule, documents, approvals, signature (Get)",
      "The signature's fingerprint is the first 16 hex digits of its content hash (BLAKE2b-256 of the\n"
      "  canonical content, which 'rapport contracts verify N' recomputes)." },
    { "list",         "",       { NULL }, "ListContracts", NULL, s_list_flags, &s_contracts_view,
      "your contracts, or another's in your scope (ListContracts)", NULL },
    { "update-draft", "N",      { "id" }, "UpdateDraft", NULL, s_terms_flags, &s_merge_view,
      "change a draft's terms: the flags given over its current terms (Get, UpdateDraft)",
      "--party and --instalment given replace every party or instalment. Only drafts change: a signed\n"
      "  contract changes through 'rapport contracts amend'." },
    { "submit",       "N",      { "id" }, "Submit", NULL, s_write_flags, NULL,
      "submit a draft: within your contract-value limit it is approved, above it the chain runs (Submit)",
      "Above your limit: a head of department (or branch head) approves, then a director above the\n"
      "  service's RAPPORT_CONTRACTS_DIRECTOR_THRESHOLD." },
    { "approve",      "N",      { "id" }, "Approve", NULL, s_approve_flags, NULL,
      "approve the contract's current step (Approve; needs contracts.approve)",
      "Nobody decides on a contract they own or submitted." },
    { "reject",       "N",      { "id" }, "Reject", NULL, s_reject_flags, NULL,
      "reject it: back to draft, the comment kept (Reject; needs contracts.approve)", NULL },
    { "sign",         "N",      { "id" }, "Sign", NULL, s_write_flags, NULL,
      "sign an approved contract with the company's key (Sign; needs contracts.sign)",
      "Needs every signing document verified and, without an approval chain, your own limit." },
    { "verify",       "N",      { "id" }, "Verify", NULL, NULL, &s_verify_view,
      "prove the stored contract is the one that was signed (Verify): exit 0 if so, 1 if not", NULL },
    { "terminate",    "N",      { "id" }, "Terminate", NULL, s_terminate_flags, NULL,
      "terminate a signed or active contract (Terminate; needs contracts.sign)", NULL },
    { "renew",        "N",      { "id" }, "Renew", NULL, s_renew_flags, NULL,
      "a draft renewal linking its parent, with new dates (Renew)", NULL },
    { "amend",        "N",      { "parent_id" }, "Draft", "kind=amendment", s_terms_flags, &s_merge_view,
      "a draft amendment of a signed contract: its terms with the flags given over them (Get, Draft)",
      "An amendment is a new contract with its own number, approval and signature." },
    { "extend",       "N",      { "parent_id" }, "Draft", "kind=extension", s_terms_flags, &s_merge_view,
      "a draft extension of a signed contract: its terms with the flags given over them (Get, Draft)", NULL },
    { "docs list",    "N",      { "id" }, "Get", NULL, NULL, &s_docs_view,
      "the contract's document checklist: required, received, verified, by whom and when (Get)", NULL },
    { "docs receive", "N KIND", { "contract_id", "kind" }, "ReceiveDocument", NULL, s_doc_flags, NULL,
      "a document came in (ReceiveDocument)",
      "KIND: specification, power_of_attorney, acceptance_act, invoice, company_extract,\n"
      "  license_certificate, other (one not on the checklist is added)." },
    { "docs verify",  "N KIND", { "contract_id", "kind" }, "VerifyDocument", NULL, s_doc_flags, NULL,
      "a received document was checked (VerifyDocument)", NULL },
    { "milestones list", "N",   { "id" }, "Get", NULL, NULL, &s_milestones_view,
      "the contract's milestones (Get)", NULL },
    { "milestones add", "N",    { "contract_id" }, "AddMilestone", NULL, s_milestone_add_flags, NULL,
      "add a milestone to a draft, signed or active contract (AddMilestone)", NULL },
    { "milestones done", "N MILESTONE", { "contract_id", "milestone_id" }, "CompleteMilestone", NULL, s_write_flags, NULL,
      "mark a milestone done (CompleteMilestone)", NULL },
    { "signing-key",  "",       { NULL }, "SigningKey", NULL, NULL, &s_keys_view,
      "the company's current Ed25519 public key and its keyring of retired keys, to check signatures "
      "elsewhere (SigningKey)",
      "STATE: current (signs now), retired (endorsed: its signatures verify) or untrusted (recorded\n"
      "  in the store but endorsed by no trusted key: adopt it as docs/OPERATIONS.md says)." },
};

/* ---- orders ---- */

static const cli_eflag_t s_place_flags[] = {
    { "item",             "ITEM", "items",            K_ITEM | CLI_F_REQUIRED, "DESCRIPTION,QUANTITY,UNIT, e.g. 'Pallet of widgets,12,pcs'; 1..100 items" },
    { "due",              "DATE", "due",              CLI_F_DATE | CLI_F_REQUIRED, "when it must be delivered, YYYY-MM-DD; required" },
    { "planned-delivery", "DATE", "planned_delivery", CLI_F_DATE, "the planned delivery date" },
    { "note",             "TEXT", "note",             CLI_F_TEXT, "a note" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_handoff_flags[] = {
    { "department", "NAME", "department", CLI_F_TEXT | CLI_F_REQUIRED | CLI_F_NONEMPTY, "the department taking it over (1..100 bytes); required" },
    { "note",       "TEXT", "note",       CLI_F_TEXT, "a note (up to 500 bytes)" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_status_flags[] = {
    { "date", "DATE", "date", CLI_F_DATE, "delivered: the actual delivery (default today); shipped: the planned delivery" },
    { "note", "TEXT", "note", CLI_F_TEXT, "cancelled: the reason (required there)" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_ship_flags[] = {
    { "planned", "DATE", "date", CLI_F_DATE, "the planned delivery date" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_deliver_flags[] = {
    { "date", "DATE", "date", CLI_F_DATE, "the actual delivery date, not in the future (default today)" },
    C_REQUEST_ID_FLAG, C_END
};

static const cli_eflag_t s_cancel_flags[] = {
    { "reason", "TEXT", "note", CLI_F_TEXT | CLI_F_REQUIRED | CLI_F_NONEMPTY, "why; required" },
    C_REQUEST_ID_FLAG, C_END
};

static char *s_order_cell(const ProtobufCMessage *row, const char *key);

static const cli_ecol_t s_order_cols[] = {
    { "ID", "id", CLI_COL_TEXT }, { "CONTRACT", "contract_number", CLI_COL_TEXT }, { "STATUS", "status", CLI_COL_TEXT },
    { "DUE", "due", CLI_COL_TEXT }, { "PLANNED", "planned_delivery", CLI_COL_TEXT },
    { "DELIVERED", "actual_delivery", CLI_COL_TEXT }, { "ITEMS", "items", CLI_COL_CELL },
    { "DEPARTMENT", "department", CLI_COL_CELL }, { "OVERDUE", "overdue_raised", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

static const cli_eview_t s_orders_view = { .items = "orders", .none = "orders", .cols = s_order_cols,
                                           .cell = s_order_cell };

static const cli_erow_t s_order_rows[] = {
    { "place",   "CONTRACT",  { "contract_id" }, "PlaceOrder", NULL, s_place_flags, NULL,
      "place an order under an active contract (PlaceOrder)", NULL },
    { "get",     "ID",        { "id" }, "GetOrder", NULL, NULL, NULL,
      "show one order with its hand-offs and delivery dates (GetOrder)", NULL },
    { "list",    "CONTRACT",  { "contract_id" }, "ListOrders", NULL, s_page_flags, &s_orders_view,
      "the orders of a contract (ListOrders)", NULL },
    { "handoff", "ID",        { "id" }, "HandOff", NULL, s_handoff_flags, NULL,
      "hand an order to a department; it is processing (HandOff)", NULL },
    { "status",  "ID STATUS", { "id", "status" }, "SetOrderStatus", NULL, s_status_flags, NULL,
      "move an order: processing, shipped, delivered, closed or cancelled (SetOrderStatus)",
      "received -> processing -> shipped -> delivered -> closed; cancelled from received or processing." },
    { "ship",    "ID",        { "id" }, "SetOrderStatus", "status=shipped", s_ship_flags, NULL,
      "the order is shipped (SetOrderStatus shipped)", NULL },
    { "deliver", "ID",        { "id" }, "SetOrderStatus", "status=delivered", s_deliver_flags, NULL,
      "the order was delivered, on --date or today (SetOrderStatus delivered)", NULL },
    { "close",   "ID",        { "id" }, "SetOrderStatus", "status=closed", s_write_flags, NULL,
      "close a delivered order (SetOrderStatus closed)", NULL },
    { "cancel",  "ID",        { "id" }, "SetOrderStatus", "status=cancelled", s_cancel_flags, NULL,
      "cancel a received or processing order (SetOrderStatus cancelled)", NULL },
};

/* ---- this file's kinds of flag ---- */

/* s_split - split buf at its first n - 1 commas into parts (the last takes the rest,
 * commas and all); every part trimmed. The number of parts. */
static int s_split(char *buf, char **parts, int n)
{
    int k = 0;
    for (char *p = buf; k < n;) {
        parts[k++] = p;
        char *comma = k < n ? strchr(p, ',') : NULL;
        if (!comma)
            break;
        *comma = 0;
        p = comma + 1;
    }
    for (int i = 0; i < k; i++)
        parts[i] = cli_engine_trim(parts[i]);
    return k;
}

/* s_rsplit - split buf at its last n - 1 commas into parts (the first takes the rest);
 * every part trimmed. The number of parts. */
static int s_rsplit(char *buf, char **parts, int n)
{
    int k = n;
    while (k > 1) {
        char *comma = strrchr(buf, ',');
        if (!comma)
            break;
        *comma = 0;
        parts[--k] = cli_engine_trim(comma + 1);
    }
    parts[--k] = cli_engine_trim(buf);
    if (k > 0)
        memmove(parts, parts + k, (size_t) (n - k) * sizeof *parts);
    return n - k;
}

static json_t *s_quantity(const cli_args_t *a, const char *flag, const char *text)
{
    int64_t q;
    if (cli_parse_i64(text, &q) != 0)
        return cli_engine_bad(a, "--%s: QUANTITY must be a whole number, got '%s'", flag, text);
    return json_integer((json_int_t) q);
}

/* s_qline - "KIND,DESCRIPTION,QUANTITY,UNIT,UNIT_PRICE[,DISCOUNT%]": KIND before the
 * first comma, the rest from the right (a last field ending in % is the discount), so
 * the description may hold commas. */
static json_t *s_qline(const cli_args_t *a, const cli_eflag_t *f, const ProtobufCFieldDescriptor *fd,
                       const char *text)
{
    char *buf = rp_strdup(text), *head[2], *p[5];
    json_t *line = NULL, *kind = NULL, *qty = NULL, *price = NULL, *disc = NULL;
    size_t len;
    int want = 0;
    if (s_split(buf, head, 2) == 2 && (len = strlen(head[1])) > 0) {
        want = head[1][len - 1] == '%' ? 5 : 4;
        if (s_rsplit(head[1], p, want) != want || !p[0][0])
            want = 0;
    }
    if (!want)
        cli_engine_bad(a, "--%s: must be KIND,DESCRIPTION,QUANTITY,UNIT,UNIT_PRICE[,DISCOUNT%%], got '%s'",
                       f->name, text);
    else if ((kind = cli_engine_enum(a, f->name, &rapport__contracts__v1__item_kind__descriptor, head[0]))
             && (qty = s_quantity(a, f->name, p[1])) && (price = cli_engine_money(a, f->name, p[3]))
             && (want == 4 || (disc = cli_engine_percent(a, f->name, p[4])))) {
        line = json_pack("{s:O,s:s,s:O,s:s,s:O}", "kind", kind, "description", p[0], "quantity", qty,
                         "unit", p[2], "unit_price", price);
        if (disc)
            json_object_set(line, "discount_bp", disc);
    }
    json_decref(kind);
    json_decref(qty);
    json_decref(price);
    json_decref(disc);
    free(buf);
    return line;
}

/* s_party - "ROLE,NAME[,TAX_ID[,REPRESENTATIVE[,CLIENT_ID]]]" (CLIENT_ID takes the rest). */
static json_t *s_party(const cli_args_t *a, const cli_eflag_t *f, const ProtobufCFieldDescriptor *fd,
                       const char *text)
{
    static const char *const keys[] = { "role", "name", "tax_id", "representative", "client_id" };
    char *buf = rp_strdup(text), *p[5];
    int n = s_split(buf, p, 5);
    json_t *party = NULL, *role;
    if (n < 2 || !p[1][0])
        cli_engine_bad(a, "--%s: must be ROLE,NAME[,TAX_ID[,REPRESENTATIVE[,CLIENT_ID]]], got '%s'", f->name, text);
    else if ((role = cli_engine_enum(a, f->name, &rapport__contracts__v1__party_role__descriptor, p[0]))) {
        party = json_object();
        json_object_set_new(party, keys[0], role);
        for (int i = 1; i < n; i++)
            json_object_set_new(party, keys[i], json_string_nocheck(p[i]));
    }
    free(buf);
    return party;
}

/* s_instalment - "DUE,AMOUNT[,NOTE]" (NOTE takes the rest). */
static json_t *s_instalment(const cli_args_t *a, const cli_eflag_t *f, const ProtobufCFieldDescriptor *fd,
                            const char *text)
{
    char *buf = rp_strdup(text), *p[3];
    int n = s_split(buf, p, 3);
    json_t *in = NULL, *due = NULL, *amount = NULL;
    if (n < 2)
        cli_engine_bad(a, "--%s: must be DUE,AMOUNT[,NOTE], got '%s'", f->name, text);
    else if ((due = cli_engine_date(a, f->name, p[0])) && (amount = cli_engine_money(a, f->name, p[1]))) {
        in = json_pack("{s:O,s:O}", "due", due, "amount", amount);
        if (n == 3)
            json_object_set_new(in, "note", json_string_nocheck(p[2]));
    }
    json_decref(due);
    json_decref(amount);
    free(buf);
    return in;
}

/* s_item - "DESCRIPTION,QUANTITY,UNIT", split from the right. */
static json_t *s_item(const cli_args_t *a, const cli_eflag_t *f, const ProtobufCFieldDescriptor *fd,
                      const char *text)
{
    char *buf = rp_strdup(text), *p[3];
    json_t *item = NULL, *qty;
    if (s_rsplit(buf, p, 3) != 3 || !p[0][0])
        cli_engine_bad(a, "--%s: must be DESCRIPTION,QUANTITY,UNIT, got '%s'", f->name, text);
    else if ((qty = s_quantity(a, f->name, p[1])))
        item = json_pack("{s:s,s:o,s:s}", "description", p[0], "quantity", qty, "unit", p[2]);
    free(buf);
    return item;
}

static const cli_ekind_t s_kinds[] = {
    [K_QLINE - CLI_F_CUSTOM] = { PROTOBUF_C_TYPE_MESSAGE, "rapport.contracts.v1.QuoteLine", s_qline },
    [K_PARTY - CLI_F_CUSTOM] = { PROTOBUF_C_TYPE_MESSAGE, "rapport.contracts.v1.Party", s_party },
    [K_INSTALMENT - CLI_F_CUSTOM] = { PROTOBUF_C_TYPE_MESSAGE, "rapport.contracts.v1.Instalment", s_instalment },
    [K_ITEM - CLI_F_CUSTOM] = { PROTOBUF_C_TYPE_MESSAGE, "rapport.contracts.v1.OrderItem", s_item },
};

/* ---- runs of more than one call ---- */

/* s_fix_currency - a quote's currency: when lines were given, the currency of their
 * prices (--currency, else the default, unless a price names its own). */
static void s_fix_currency(json_t *terms)
{
    json_t *lines = json_object_get(terms, "lines");
    json_t *cur = json_object_get(json_object_get(json_array_get(lines, 0), "unit_price"), "currency");
    if (cur)
        json_object_set(terms, "currency", cur);
}

/* s_quote_write - CreateQuote: the quote's currency from its lines, unless the
 * request (--from-json) names it. */
static int s_quote_write(cli_t *cli, const cli_args_t *a, cli_ecall_t *call)
{
    json_t *terms = json_object_get(call->req, "terms");
    if (terms && !json_object_get(terms, "currency"))
        s_fix_currency(terms);
    return cli_engine_show(cli, a, call);
}

/* s_strip - drop what the service computes from quote terms read back. */
static void s_strip(json_t *terms)
{
    static const char *const computed[] = { "subtotal", "discount", "total", "max_discount_bp" };
    for (size_t i = 0; i < sizeof computed / sizeof computed[0]; i++)
        json_object_del(terms, computed[i]);
    size_t i;
    json_t *line;
    json_array_foreach(json_object_get(terms, "lines"), i, line)
        json_object_del(line, "line_total");
}

/* s_merge - the terms the record named by the first argument has now (GetQuote for a
 * quote, else Get), with the flags given laid over them (a repeated field given
 * replaces the whole list); then the row's method. */
static int s_merge(cli_t *cli, const cli_args_t *a, cli_ecall_t *call)
{
    bool quote = strcmp(call->method->name, "ReviseQuote") == 0;
    bool draft = strcmp(call->method->name, "Draft") == 0;
    bool no_ref = !quote && cli_flag_set(a, "no-referral-clause");    /* contract terms only */
    json_t *over = json_object_get(call->req, "terms");
    if (no_ref && json_object_get(over, "referral_clause"))
        return cli_usage_error(a, "--no-referral-clause: cannot be combined with --referral-clause");
    if (!over && !no_ref && !draft)
        return cli_usage_error(a, "nothing to change: give at least one field flag");

    rp_client_t *c = NULL;
    int rc = cli_engine_connect(cli, call, &c);
    if (rc)
        return rc;
    Rapport__Contracts__V1__GetRequest g = RAPPORT__CONTRACTS__V1__GET_REQUEST__INIT;
    g.id = (char *) a->pos[0];
    const char *get = quote ? "rapport.contracts.v1.Contracts/GetQuote" : "rapport.contracts.v1.Contracts/Get";
    ProtobufCMessage *now = NULL;
    rc = cli_call(cli, c, NULL, get, &g.base, quote ? &rapport__contracts__v1__quote__descriptor
                                                    : &rapport__contracts__v1__contract__descriptor, &now);
    rp_client_destroy(&c);
    if (rc)
        return rc;
    json_t *j = rp_pb_to_json(now);
    protobuf_c_message_free_unpacked(now, NULL);
    json_t *terms = json_incref(json_object_get(j, "terms"));
    json_decref(j);
    if (!terms)
        terms = json_object();
    if (quote)
        s_strip(terms);
    if (over) {
        json_object_update_recursive(terms, over);
        if (quote && json_object_get(over, "lines"))
            s_fix_currency(terms);
    }
    if (no_ref)
        json_object_set_new(terms, "referral_clause", json_false());
    json_object_set_new(call->req, "terms", terms);
    return cli_engine_show(cli, a, call);
}

/* s_verify - Verify: what was checked; exit 0 when the stored contract is the one
 * signed, 1 (saying why) when not. */
static int s_verify(cli_t *cli, const cli_args_t *a, cli_ecall_t *call)
{
    rp_client_t *c = NULL;
    int rc = cli_engine_connect(cli, call, &c);
    if (rc)
        return rc;
    ProtobufCMessage *in = cli_engine_message(call), *out = NULL;
    rc = cli_call(cli, c, NULL, call->name, in, call->method->output, &out);
    protobuf_c_message_free_unpacked(in, NULL);
    rp_client_destroy(&c);
    if (rc)
        return rc;
    const Rapport__Contracts__V1__VerifyReply *v = (const Rapport__Contracts__V1__VerifyReply *) out;
    char at[40];
    cli_format_time(v->signed_at, at, sizeof at);
    if (cli->json)
        cli_print_message(cli, out);
    else if (v->valid)
        printf("%s: valid: the stored contract is the one %s signed at %s\n"
               "  content hash %s\n  key id       %s\n", v->number, v->signed_by, at, v->content_hash, v->key_id);
    else
        printf("%s: NOT VALID: %s\n  content hash now %s\n  signed hash      %s\n  key id           %s\n",
               v->number, v->reason, v->content_hash, v->stored_hash, v->key_id);
    if (!v->valid)
        fprintf(stderr, "rapport: contract %s is not the one that was signed: %s\n", v->number, v->reason);
    rc = v->valid ? CLI_EXIT_OK : CLI_EXIT_SERVICE;
    protobuf_c_message_free_unpacked(out, NULL);
    return rc;
}

/* ---- printing ---- */

static void s_print_items(FILE *out, const ProtobufCMessage *m, const char *items, const cli_ecol_t *cols,
                          const char *none)
{
    cli_table_t *t = cli_engine_table_new(cols);
    cli_engine_table_add(t, NULL, cols, m, items);
    cli_table_set_cut(t, 0);
    const ProtobufCFieldDescriptor *f = cli_engine_field(m->descriptor, items);
    if (*(const size_t *) ((const char *) m + f->quantifier_offset))
        cli_table_print(t, out);
    else
        fprintf(out, "  (%s)\n", none);
    cli_table_destroy(&t);
}

static void s_print_docs(cli_t *cli, const cli_args_t *a, const ProtobufCMessage *reply)
{
    const Contract *c = (const Contract *) reply;
    printf("documents of %s:\n", c->number);
    s_print_items(stdout, reply, "documents", s_doc_cols, "no documents");
}

static const cli_ecol_t s_line_cols[] = {
    { "KIND", "kind", CLI_COL_TEXT }, { "DESCRIPTION", "description", CLI_COL_TEXT },
    { "QUANTITY", "quantity", CLI_COL_TEXT }, { "UNIT", "unit", CLI_COL_TEXT },
    { "UNIT PRICE", "unit_price", CLI_COL_TEXT }, { "DISCOUNT", "discount_bp", CLI_COL_BP },
    { "TOTAL", "line_total", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

/* s_print_quote - the quote as key: value lines without its lines and revisions,
 * then the lines as a table and the number of earlier versions. */
static void s_print_quote(cli_t *cli, const cli_args_t *a, const ProtobufCMessage *reply)
{
    const Rapport__Contracts__V1__Quote *q = (const Rapport__Contracts__V1__Quote *) reply;
    Rapport__Contracts__V1__Quote head = *q;
    Rapport__Contracts__V1__QuoteTerms terms;
    head.n_revisions = 0;
    if (q->terms) {
        terms = *q->terms;
        terms.n_lines = 0;
        head.terms = &terms;
    }
    cli_print_record(&head.base, stdout);
    printf("revisions: %zu earlier version%s\nlines:\n", q->n_revisions, q->n_revisions == 1 ? "" : "s");
    if (q->terms)
        s_print_items(stdout, &q->terms->base, "lines", s_line_cols, "no lines");
    else
        printf("  (no lines)\n");
}

static const cli_ecol_t s_key_cols[] = {
    { "KEY ID", "key_id", CLI_COL_TEXT }, { "STATE", "state", CLI_COL_CELL },
    { "FIRST SIGNED", "first_signed_at", CLI_COL_DAY }, { "FIRST CONTRACT", "first_contract", CLI_COL_TEXT },
    { "ENDORSED BY", "endorsed_by", CLI_COL_TEXT }, { "PUBLIC KEY", "public_key", CLI_COL_TEXT }, { NULL, NULL, 0 }
};

static char *s_key_cell(const ProtobufCMessage *row, const char *key)
{
    const Rapport__Contracts__V1__SigningKeyRecord *k = (const Rapport__Contracts__V1__SigningKeyRecord *) row;
    (void) key;
    return rp_strdup(k->current ? "current" : k->trusted ? "retired" : "untrusted");
}

static void s_print_keys(cli_t *cli, const cli_args_t *a, const ProtobufCMessage *reply)
{
    const Rapport__Contracts__V1__SigningKeyReply *r = (const Rapport__Contracts__V1__SigningKeyReply *) reply;
    printf("key_id: %s\npublic_key: %s\nkeyring:\n", r->key_id, r->public_key);
    cli_table_t *t = cli_engine_table_new(s_key_cols);
    cli_engine_table_add(t, &s_keys_view, s_key_cols, reply, "keys");
    cli_table_set_cut(t, 0);
    cli_table_print(t, stdout);
    cli_table_destroy(&t);
}

static void s_print_milestones(cli_t *cli, const cli_args_t *a, const ProtobufCMessage *reply)
{
    const Contract *c = (const Contract *) reply;
    printf("milestones of %s:\n", c->number);
    s_print_items(stdout, reply, "milestones", s_milestone_cols, "no milestones");
}

/* s_text - the text of the field at path of m (cli_field_text), "-" when empty; into
 * one of a few rotating buffers, so several fit in one printf. */
static const char *s_text(const ProtobufCMessage *m, const char *path)
{
    static char bufs[8][512];
    static int next;
    char *v = cli_field_text(m, path), *out = bufs[next++ % 8];
    snprintf(out, sizeof bufs[0], "%s", v[0] ? v : "-");
    free(v);
    return out;
}

static char *s_order_cell(const ProtobufCMessage *row, const char *key)
{
    const Rapport__Contracts__V1__Order *o = (const Rapport__Contracts__V1__Order *) row;
    if (strcmp(key, "items") == 0)
        return rp_sprintf("%zu", o->n_items);
    return rp_strdup(o->n_handoffs ? o->handoffs[o->n_handoffs - 1]->department : "");
}

/* s_render - one contract as a document to print. */
static void s_render(const Contract *c, FILE *f)
{
    const ProtobufCMessage *m = &c->base;
    const Rapport__Contracts__V1__ContractTerms *t = c->terms;
    const ProtobufCMessage *tm = t ? &t->base : NULL;
    fprintf(f, "CONTRACT %s\n", c->number);
    fprintf(f, "%s\n\n", "============================================================");
    fprintf(f, "Status:          %s%s%s\n", s_text(m, "status"), c->terminate_reason[0] ? " - " : "",
            c->terminate_reason);
    fprintf(f, "Kind:            %s", s_text(m, "kind"));
    if (c->parent_number[0])
        fprintf(f, " of %s", c->parent_number);
    fprintf(f, "\nType:            %s\n", tm ? s_text(tm, "type") : "-");
    fprintf(f, "Branch:          %s\n", s_text(m, "branch"));
    fprintf(f, "Owner:           %s (%s)\n", s_text(m, "owner"), s_text(m, "unit"));
    if (c->quote_id[0] || c->lead_id[0])
        fprintf(f, "From:            %s%s%s%s\n", c->quote_id[0] ? "quote " : "", c->quote_id,
                c->quote_id[0] && c->lead_id[0] ? ", " : "", c->lead_id[0] ? c->lead_id : "");
    fprintf(f, "Id:              %s\n\n", c->id);
    if (!t)
        return;
    fprintf(f, "Client:          %s%s%s%s\n", t->client_name, t->client_id[0] ? " (" : "", t->client_id,
            t->client_id[0] ? ")" : "");
    fprintf(f, "\nPARTIES\n");
    for (size_t i = 0; i < t->n_parties; i++) {
        const Rapport__Contracts__V1__Party *p = t->parties[i];
        fprintf(f, "  %-12s %s", s_text(&p->base, "role"), p->name);
        if (p->tax_id[0])
            fprintf(f, ", tax id %s", p->tax_id);
        if (p->representative[0])
            fprintf(f, ", represented by %s", p->representative);
        if (p->client_id[0])
            fprintf(f, " [client %s]", p->client_id);
        fputc('\n', f);
    }
    if (!t->n_parties)
        fprintf(f, "  (none)\n");
    fprintf(f, "\nVALUE AND TERMS\n");
    fprintf(f, "  Value:           %s\n", s_text(tm, "value"));
    fprintf(f, "  Term:            %s .. %s (the last day)\n", s_text(tm, "start"), s_text(tm, "end"));
    if (t->payment) {
        uint32_t bp = t->payment->prepayment_bp;
        fprintf(f, "  Payment:         %u days after the invoice; prepayment %u.%02u%%\n", t->payment->days,
                bp / 100, bp % 100);
    }
    fprintf(f, "  Delivery:        %s\n", t->delivery_terms[0] ? t->delivery_terms : "-");
    fprintf(f, "  Referral clause: %s\n", t->referral_clause ? "yes" : "no");
    fprintf(f, "\nPAYMENT SCHEDULE\n");
    static const char *const sh[] = { "#", "DUE", "AMOUNT", "NOTE" };
    cli_table_t *st = cli_table_new(4, sh);
    cli_table_set_cut(st, 0);
    for (size_t i = 0; i < t->n_schedule; i++) {
        char n[24];
        snprintf(n, sizeof n, "%zu", i + 1);
        const ProtobufCMessage *im = &t->schedule[i]->base;
        const char *row[] = { n, s_text(im, "due"), s_text(im, "amount"), t->schedule[i]->note };
        cli_table_add(st, row);
    }
    if (t->n_schedule) {
        const char *row[] = { "", "total", s_text(tm, "value"), "" };
        cli_table_add(st, row);
        cli_table_print(st, f);
    } else {
        fprintf(f, "  (none)\n");
    }
    cli_table_destroy(&st);
    fprintf(f, "\nSPECIAL TERMS\n  %s\n", t->special_terms[0] ? t->special_terms : "(none)");

    fprintf(f, "\nDOCUMENTS\n");
    s_print_items(f, m, "documents", s_doc_cols, "none");
    fprintf(f, "\nAPPROVALS\n");
    if (c->round) {
        fprintf(f, "  Submitted by %s, round %u; %s\n", c->submitted_by, c->round,
                c->approval_required ? "above the submitter's limit: the approval chain ran" :
                                       "within the submitter's limit: no chain");
    }
    s_print_items(f, m, "decisions", s_decision_cols, "no decisions");
    if (c->n_milestones) {
        fprintf(f, "\nMILESTONES\n");
        s_print_items(f, m, "milestones", s_milestone_cols, "none");
    }
    fprintf(f, "\nSIGNATURE\n");
    const Rapport__Contracts__V1__Signature *s = c->signature;
    if (!s || !s->content_hash[0]) {
        fprintf(f, "  not signed\n");
        return;
    }
    char at[40], fp[24] = "";
    cli_format_time(s->signed_at, at, sizeof at);
    /* The first 16 hex digits of the content hash, in groups of four. */
    for (size_t i = 0; i < 16 && s->content_hash[i]; i++) {
        size_t n = strlen(fp);
        snprintf(fp + n, sizeof fp - n, "%s%c", i && i % 4 == 0 ? " " : "", s->content_hash[i]);
    }
    fprintf(f, "  Signed by:       %s at %s\n", s->signed_by, at);
    fprintf(f, "  Key id:          %s (the company's Ed25519 key)\n", s->key_id);
    fprintf(f, "  Fingerprint:     %s (first 16 hex digits of the content hash)\n", fp);
    fprintf(f, "  Content hash:    %s (BLAKE2b-256 of the canonical content)\n", s->content_hash);
    fprintf(f, "  Check it with:   rapport contracts verify %s\n", c->number);
}

/* s_show - Get, printed as a document (--format text) or as JSON. */
static int s_show(cli_t *cli, const cli_args_t *a, cli_ecall_t *call)
{
    const char *format = cli_flag(a, "format");
    if (format && strcmp(format, "text") != 0 && strcmp(format, "json") != 0)
        return cli_usage_error(a, "--format: text or json, got '%s'", format);
    rp_client_t *c = NULL;
    int rc = cli_engine_connect(cli, call, &c);
    if (rc)
        return rc;
    ProtobufCMessage *in = cli_engine_message(call), *out = NULL;
    rc = cli_call(cli, c, NULL, call->name, in, call->method->output, &out);
    protobuf_c_message_free_unpacked(in, NULL);
    rp_client_destroy(&c);
    if (rc)
        return rc;
    if (cli->json || (format && strcmp(format, "json") == 0)) {
        json_t *j = rp_pb_to_json(out);
        cli_print_json(j);
        json_decref(j);
    } else {
        s_render((const Contract *) out, stdout);
    }
    protobuf_c_message_free_unpacked(out, NULL);
    return CLI_EXIT_OK;
}

/* ---- main.c's view of the tables ---- */

#define C_GROUP(var, table, name) \
    CLI_ENGINE_GROUP(var, table, name, "contracts", &rapport__contracts__v1__contracts__descriptor, \
                     s_kinds, sizeof s_kinds / sizeof s_kinds[0])

C_GROUP(cli_quotes_cmds, s_quote_rows, "quotes");
C_GROUP(cli_contracts_cmds, s_contract_rows, "contracts");
C_GROUP(cli_orders_cmds, s_order_rows, "orders");

void cli_contracts_init(void)
{
    cli_engine_init(&cli_quotes_cmds_engine);
    cli_engine_init(&cli_contracts_cmds_engine);
    cli_engine_init(&cli_orders_cmds_engine);
}
