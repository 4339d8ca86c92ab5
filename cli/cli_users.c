/* cli_users.c - `rapport users ...`, `rapport org ...`, `rapport keys
 * register|revoke|list` and `rapport token revoke`: the user, org-tree, client-key
 * and token methods of rapport.identity.v1.Identity
 * (proto/rapport/identity/v1/identity.proto) as commands, one table per group on the
 * command engine (cli_engine.c), in the manner of cli_leads.c.
 *
 * A row names the command, its positional argument (USERNAME, PATH, [PATH]) and the
 * request field it fills, the Identity method, the flags and how the reply prints.
 * Besides the engine's kinds of flag, this file has its own (s_kinds): roles checked
 * against perm.h, the authority-limit pair (cli_limits_parse), unix seconds and a
 * CURVE cert file whose public key is the value. A password (CLI_F_SECRET) is read
 * from the terminal or stdin and put into the message only, never into JSON. The
 * keys and token groups also have local commands (cli_keys.c, cli_token.c), which
 * cli_engine_join puts in front of these.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "cli.h"
#include "rapport/clock.h"
#include "rapport/perm.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"

/* This file's kinds of flag (s_kinds). */
#define U_ROLE     (CLI_F_CUSTOM + 0)   /* a role name from perm.h, for a repeated string field */
#define U_LIMIT    (CLI_F_CUSTOM + 1)   /* the limit pair: the contract-value field, the next row
                                         * (U_LIMIT_BP) the discount field (cli_limits_parse) */
#define U_LIMIT_BP (CLI_F_CUSTOM + 2)   /* set with the U_LIMIT row before it */
#define U_UNIX_S   (CLI_F_CUSTOM + 3)   /* an int64 of unix seconds: YYYY-MM-DD[THH:MM[:SS]] (UTC) */
#define U_CERT     (CLI_F_CUSTOM + 4)   /* a CURVE cert file whose public key goes to the string
                                         * field; the other way to give the text flag of that field */

#define U_PASSWORD { "password", NULL, "password", CLI_F_SECRET, NULL }

/* ---- the tables ---- */

/* ---- the lists ---- */

/* s_user_state - a user's state in one word or three. */
static const char *s_user_state(const Rapport__Identity__V1__User *u, int64_t now_ms)
{
    if (u->dismissed)
        return "dismissed";
    if (u->disabled)
        return "disabled";
    if (u->locked_until > now_ms)
        return "locked";
    if (u->must_change_password)
        return "must change password";
    return "active";
}

static char *s_user_cell(const ProtobufCMessage *row, const char *key)
{
    (void) key;     /* "state" */
    return rp_strdup(s_user_state((const Rapport__Identity__V1__User *) row, rp_clock_now_ms()));
}

/* s_unit_cell - the name indented by depth (the number of '/' after the root). */
static char *s_unit_cell(const ProtobufCMessage *row, const char *key)
{
    const Rapport__Identity__V1__Unit *u = (const Rapport__Identity__V1__Unit *) row;
    (void) key;     /* "name" */
    size_t depth = 0;
    for (const char *p = u->path + 1; *p; p++)
        depth += *p == '/';
    depth += strcmp(u->path, "/") != 0;
    return rp_sprintf("%*s%s", (int) (2 * depth), "", u->name);
}

static char *s_key_cell(const ProtobufCMessage *row, const char *key)
{
    (void) key;     /* "state" */
    return rp_strdup(((const Rapport__Identity__V1__ClientKey *) row)->revoked ? "revoked" : "active");
}

static const cli_ecol_t s_user_cols[] = {
    { "USERNAME", "username", CLI_COL_TEXT }, { "NAME", "display_name", CLI_COL_TEXT },
    { "ROLES", "roles", CLI_COL_TEXT }, { "BRANCH", "branch", CLI_COL_TEXT }, { "UNIT", "unit", CLI_COL_TEXT },
    { "MANAGER", "line_manager", CLI_COL_TEXT }, { "STATE", "state", CLI_COL_CELL },
    { "CREATED", "created_at", CLI_COL_DAY }, { NULL, NULL, 0 }
};
static const cli_ecol_t s_unit_cols[] = {
    { "UNIT", "name", CLI_COL_CELL }, { "PATH", "path", CLI_COL_TEXT }, { "KIND", "kind", CLI_COL_TEXT },
    { "HEAD", "head", CLI_COL_TEXT }, { NULL, NULL, 0 }
};
static const cli_ecol_t s_key_cols[] = {
    { "NAME", "name", CLI_COL_TEXT }, { "PUBLIC KEY", "public_key", CLI_COL_TEXT },
    { "OWNER", "owner", CLI_COL_TEXT }, { "STATE", "state", CLI_COL_CELL },
    { "REGISTERED", "registered_at", CLI_COL_DAY }, { NULL, NULL, 0 }
};

static const cli_eview_t s_users_view = { .items = "users", .none = "users", .cols = s_user_cols,
                                          .cell = s_user_cell, .page_max = 500 };
static const cli_eview_t s_units_view = { .items = "units", .none = "units", .cols = s_unit_cols,
                                          .cell = s_unit_cell, .page_max = 1000, .follow = true };
static const cli_eview_t s_keys_view = { .items = "keys", .none = "keys", .cols = s_key_cols,
                                         .cell = s_key_cell, .page_max = 1000 };


/* The flags of a new user (users create, org appoint), but --unit. */
#define U_NEW_USER_FLAGS \
    { "name",    "TEXT",   "display_name", CLI_F_TEXT | CLI_F_REQUIRED, "display name (1..200 bytes); required" }, \
    { "role",    "ROLE",   "roles",        U_ROLE | CLI_F_REQUIRED, "a role from 'rapport roles' (1..8); required" }, \
    { "branch",  "BRANCH", "branch",       CLI_F_TEXT | CLI_F_REQUIRED, "the user's branch; required" }, \
    { "manager", "USER",   "manager",      CLI_F_TEXT, "their manager (default: the head of their unit or the unit above)" }, \
    { "must-change-password", NULL, "must_change_password", CLI_F_BOOL, "the user must choose a new password at first login" }, \
    { "limit-value", "N", "limit_contract_value", U_LIMIT, "authority: the largest contract value they may sign, in minor units (0..10^15; default 0: none)" }, \
    { "limit-discount", "BP", "limit_discount_bp", U_LIMIT_BP, "authority: the largest discount they may give, in basis points (0..10000; default 0: none)" }

static const cli_eflag_t s_create_flags[] = {
    U_PASSWORD,
    { "unit",    "PATH",   "unit",         CLI_F_TEXT, "org unit such as /hq/sales/g1 (created when missing)" },
    U_NEW_USER_FLAGS, CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END
};

static const cli_eflag_t s_list_flags[] = {
    { "include-disabled", NULL, "include_disabled", CLI_F_BOOL, "also list disabled users" },
    { "page-size",  "N",     NULL, CLI_F_PAGING, "rows per page, 1..500 (default 50)" },
    { "page-token", "TOKEN", NULL, CLI_F_PAGING, "continue where a previous page ended" },
    { "all",        NULL,    NULL, CLI_F_PAGING, "follow the pages to the end" },
    CLI_EFLAG_END
};

static const cli_eflag_t s_state_flags[] = {
    { "reason", "TEXT", "reason", CLI_F_TEXT, "why (up to 500 bytes; goes to the audit trail and event)" },
    CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END
};

static const cli_eflag_t s_roles_flags[] = {
    { "role", "ROLE", "roles", U_ROLE | CLI_F_REQUIRED, "a role of the new set (repeatable, 1..8); required" },
    CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END
};

static const cli_eflag_t s_limits_flags[] = {
    { "limit-value", "N", "contract_value", U_LIMIT | CLI_F_REQUIRED, "the largest contract value they may sign, in minor units (0..10^15); required" },
    { "limit-discount", "BP", "discount_bp", U_LIMIT_BP | CLI_F_REQUIRED, "the largest discount they may give, in basis points (0..10000); required" },
    { "reason", "TEXT", "reason", CLI_F_TEXT, "why (up to 500 bytes; goes to the audit trail)" },
    CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END
};

static const cli_eflag_t s_reset_flags[] = {
    { "temporary password", NULL, "temporary_password", CLI_F_SECRET, NULL },
    CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END
};

static const cli_erow_t s_cmds[] = {
    { "create", "USERNAME", { "username" }, "CreateUser", NULL, s_create_flags, NULL,
      "create a user (CreateUser; needs identity.users.write)",
      "The initial password is prompted for twice on a terminal, else read as one line from stdin.\n"
      "  Password policy: 12..256 bytes, not the username, not a common password.\n"
      "  Example: echo \"$PW\" | rapport users create ann --name 'Ann Lee' --role manager --branch hq --unit /hq/sales/g1" },
    { "get", "USERNAME", { "username" }, "GetUser", NULL, NULL, NULL,
      "show one user (GetUser)", NULL },
    { "list", "", { NULL }, "ListUsers", NULL, s_list_flags, &s_users_view,
      "list the users you may see, by username (ListUsers)", NULL },
    { "disable", "USERNAME", { "username" }, "DisableUser", NULL, s_state_flags, NULL,
      "disable a user: no more logins (DisableUser)", NULL },
    { "enable", "USERNAME", { "username" }, "EnableUser", NULL, s_state_flags, NULL,
      "enable a disabled user again (EnableUser)", NULL },
    { "roles", "USERNAME", { "username" }, "SetRoles", NULL, s_roles_flags, NULL,
      "replace a user's roles with the --role flags given (SetRoles)", NULL },
    { "limits", "USERNAME", { "username" }, "SetLimits", NULL, s_limits_flags, NULL,
      "set a user's authority limits: largest contract value and discount (SetLimits)",
      "An admin sets any limits; a head (within their unit) or a director at most their own.\n"
      "  New limits end the user's sessions (their tokens carry the old ones): they log in again.\n"
      "  Example: rapport users limits ann --limit-value 5000000 --limit-discount 500   (50 000.00, 5 %)" },
    { "reset-password", "USERNAME", { "username" }, "ResetPassword", NULL, s_reset_flags, NULL,
      "set a temporary password the user must change at next login (ResetPassword)",
      "The temporary password is prompted for twice on a terminal, else read as one line from stdin.\n"
      "  The user then runs 'rapport passwd' with it before 'rapport login' works again." },
};


/* A personnel order: "by order of the head". */
#define U_ORDER_FLAGS \
    { "order", "REF", "order.ref", CLI_F_TEXT | CLI_F_REQUIRED, "the order's reference, e.g. HR-2026-114 (1..100 bytes); required" }, \
    { "order-date", "DATE", "order.date", CLI_F_DATE | CLI_F_REQUIRED, "the order's date, YYYY-MM-DD; required" }, \
    { "reason", "TEXT", "order.reason", CLI_F_TEXT | CLI_F_REQUIRED, "why (1..500 bytes; goes to the audit trail and the event); required" }

static const cli_eflag_t s_tree_flags[] = {
    { "page-size",  "N",     NULL, CLI_F_PAGING, "units per page, 1..1000 (default: every page)" },
    { "page-token", "TOKEN", NULL, CLI_F_PAGING, "continue where a previous page ended" },
    CLI_EFLAG_END
};

static const cli_eflag_t s_add_flags[] = {
    { "kind", "KIND", "kind", CLI_F_ENUM, "company, branch, department or group (default: the rank below the parent's)" },
    { "name", "TEXT", "name", CLI_F_TEXT, "display name (1..200 bytes; default: the last segment of PATH)" },
    CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END
};

static const cli_eflag_t s_head_flags[] = {
    { "user", "USER", "head", CLI_F_TEXT | CLI_F_REQUIRED, "the new head, who sits in the unit ('' removes the head); required" },
    CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END
};

static const cli_eflag_t s_appoint_flags[] = {
    U_PASSWORD,
    { "unit",    "PATH",   "unit",         CLI_F_TEXT | CLI_F_REQUIRED, "the unit they are appointed to (created when missing); required" },
    U_NEW_USER_FLAGS, U_ORDER_FLAGS, CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END
};

static const cli_eflag_t s_move_flags[] = {
    { "to", "PATH", "unit", CLI_F_TEXT | CLI_F_REQUIRED, "the target unit (created when missing); required" },
    { "manager", "USER", "manager", CLI_F_TEXT, "their new manager (default: the head of the new unit or the unit above)" },
    U_ORDER_FLAGS, CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END
};

static const cli_eflag_t s_dismiss_flags[] = { U_ORDER_FLAGS, CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END };

#define U_ORDER_HELP \
    "By order of the head: --order, --order-date and --reason name the order; you are recorded\n" \
    "  as the one who gave it. Needs identity.org.write and the right over the units involved."

static const cli_erow_t s_org_cmds[] = {
    { "tree", "[PATH]", { "root" }, "ListUnits", NULL, s_tree_flags, &s_units_view,
      "show the org tree, or the subtree at PATH (ListUnits; needs identity.org.read)",
      "One line per unit, parents first: the name indented by depth, path, kind and head." },
    { "get", "PATH", { "path" }, "GetUnit", NULL, NULL, NULL,
      "show one unit (GetUnit)", NULL },
    { "add", "PATH", { "path" }, "AddUnit", NULL, s_add_flags, NULL,
      "add a unit below an existing one (AddUnit; needs identity.org.write over the parent)",
      "Kinds rank company > branch > department > group; a group may hold groups.\n"
      "  Example: rapport org add /hq/sales --kind department --name 'Sales'" },
    { "head", "PATH", { "path" }, "SetUnitHead", NULL, s_head_flags, NULL,
      "appoint the head of a unit (SetUnitHead)",
      "The head is a user who sits in the unit; a head does not appoint the head of their own unit." },
    { "appoint", "USERNAME", { "username" }, "CreateUser", NULL, s_appoint_flags, NULL,
      "appoint a new user to a unit, by order (CreateUser with an order; event user.appointed)",
      "The initial password is prompted for twice on a terminal, else read as one line from stdin.\n  "
      U_ORDER_HELP "\n"
      "  Example: echo \"$PW\" | rapport org appoint ann --name 'Ann Lee' --role manager --branch hq \\\n"
      "             --unit /hq/sales/g1 --order HR-2026-114 --order-date 2026-11-02 --reason 'new hire'" },
    { "move", "USERNAME", { "username" }, "MoveUser", NULL, s_move_flags, NULL,
      "move a user to another unit, by order (MoveUser; event user.moved; ends their sessions)",
      U_ORDER_HELP },
    { "dismiss", "USERNAME", { "username" }, "DismissUser", NULL, s_dismiss_flags, NULL,
      "dismiss a user, by order: disabled for good (DismissUser; event user.dismissed; ends their sessions)",
      U_ORDER_HELP },
};


static const cli_eflag_t s_keyreg_flags[] = {
    { "public-key", "Z85", "public_key", CLI_F_TEXT | CLI_F_EITHER, "the client's CURVE public key (40 characters of Z85)" },
    { "cert", "FILE", "public_key", U_CERT | CLI_F_EITHER, "or the client's public cert file (as 'rapport keys init' writes)" },
    { "owner", "NAME", "owner", CLI_F_TEXT, "the user or system it belongs to (up to 63 bytes)" },
    { "note", "TEXT", "note", CLI_F_TEXT, "a note (up to 500 bytes)" },
    CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END
};

static const cli_eflag_t s_keyrev_flags[] = {
    { "reason", "TEXT", "reason", CLI_F_TEXT, "why (up to 500 bytes; goes to the audit trail and the event)" },
    CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END
};

static const cli_eflag_t s_keylist_flags[] = {
    { "include-revoked", NULL, "include_revoked", CLI_F_BOOL, "also list revoked keys" },
    { "page-size",  "N",     NULL, CLI_F_PAGING, "rows per page, 1..1000 (default 100)" },
    { "page-token", "TOKEN", NULL, CLI_F_PAGING, "continue where a previous page ended" },
    { "all",        NULL,    NULL, CLI_F_PAGING, "follow the pages to the end" },
    CLI_EFLAG_END
};

static const cli_erow_t s_key_cmds[] = {
    { "register", "NAME", { "name" }, "RegisterKey", NULL, s_keyreg_flags, NULL,
      "let a client's CURVE key into every service (RegisterKey; needs identity.keys.write)",
      "Give the key with --public-key or --cert. Every service's ZAP handler follows identity's\n"
      "  key.registered event: the client may connect within about a second, no file to copy.\n"
      "  Example: rapport keys register erp-connector --cert erp.cert --owner erp" },
    { "revoke", "KEY", { "public_key" }, "RevokeKey", NULL, s_keyrev_flags, NULL,
      "stop letting a registered key in (RevokeKey; needs identity.keys.write)",
      "New connections with the key are refused everywhere within about a second; connections\n"
      "  already up stay up until they reconnect (restart a service to cut them at once)." },
    { "list", "", { NULL }, "ListKeys", NULL, s_keylist_flags, &s_keys_view,
      "list the registered client keys (ListKeys; needs identity.keys.read)", NULL },
};


static const cli_eflag_t s_tokrev_flags[] = {
    { "until", "TIME", "expires_at", U_UNIX_S, "keep it revoked until then, the token's expiry (default: 30 days, a minted token's longest life)" },
    { "sub", "NAME", "sub", CLI_F_TEXT, "whose token it is (for the event and the audit trail)" },
    { "reason", "TEXT", "reason", CLI_F_TEXT, "why (up to 500 bytes)" },
    CLI_EFLAG_REQUEST_ID, CLI_EFLAG_END
};

static const cli_erow_t s_tok_cmds[] = {
    { "revoke", "JTI", { "jti" }, "RevokeToken", NULL, s_tokrev_flags, NULL,
      "revoke one token by its id, e.g. a minted one (RevokeToken; needs identity.tokens.revoke)",
      "Every service refuses it within about a second. 'rapport token mint --json' prints a token's jti." },
};


/* ---- this file's kinds of flag ---- */

static json_t *s_role(const cli_args_t *a, const cli_eflag_t *f, const ProtobufCFieldDescriptor *fd, const char *text)
{
    (void) fd;
    if (rp_role_find(text))
        return json_string_nocheck(text);
    char list[1024] = "";
    for (const rp_role_t *r = rp_roles(); r->role; r++) {
        if (list[0])
            strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, r->role, sizeof list - strlen(list) - 1);
    }
    return cli_engine_bad(a, "--%s: unknown role '%s'; roles: %s", f->name, text, list);
}

/* s_limit - one of the pair: both flags are checked together, as cli_limits_parse does. */
static json_t *s_limit(const cli_args_t *a, const cli_eflag_t *f, const ProtobufCFieldDescriptor *fd, const char *text)
{
    (void) fd, (void) text;
    bool bp_row = CLI_F_KIND(f->how) == U_LIMIT_BP;
    int64_t v;
    int32_t bp;
    if (cli_limits_parse(a, bp_row ? f[-1].name : f->name, bp_row ? f->name : f[1].name, &v, &bp) != 0)
        return NULL;
    return bp_row ? json_integer(bp) : json_integer((json_int_t) v);
}

static json_t *s_unix_s(const cli_args_t *a, const cli_eflag_t *f, const ProtobufCFieldDescriptor *fd, const char *text)
{
    (void) fd;
    int64_t ms;
    if (cli_parse_time(text, &ms) != 0)
        return cli_engine_bad(a, "--%s: must be a date or time YYYY-MM-DD[THH:MM[:SS]] (UTC), got '%s'", f->name, text);
    return json_integer((json_int_t) (ms / 1000));
}

static json_t *s_cert(const cli_args_t *a, const cli_eflag_t *f, const ProtobufCFieldDescriptor *fd, const char *text)
{
    (void) fd;
    zcert_t *cert = zcert_load(text);
    if (!cert)
        return cli_engine_bad(a, "--%s: cannot read a CURVE cert from '%s'", f->name, text);
    json_t *v = json_string(zcert_public_txt(cert));
    zcert_destroy(&cert);
    return v;
}

static const cli_ekind_t s_kinds[] = {
    [U_ROLE - CLI_F_CUSTOM] = { PROTOBUF_C_TYPE_STRING, NULL, s_role },
    [U_LIMIT - CLI_F_CUSTOM] = { PROTOBUF_C_TYPE_INT64, NULL, s_limit },
    [U_LIMIT_BP - CLI_F_CUSTOM] = { PROTOBUF_C_TYPE_INT32, NULL, s_limit },
    [U_UNIX_S - CLI_F_CUSTOM] = { PROTOBUF_C_TYPE_INT64, NULL, s_unix_s },
    [U_CERT - CLI_F_CUSTOM] = { PROTOBUF_C_TYPE_STRING, NULL, s_cert },
};

/* ---- main.c's view of the tables ---- */

#define U_GROUP(var, rows, name) \
    CLI_ENGINE_GROUP(var, rows, name, "identity", &rapport__identity__v1__identity__descriptor, s_kinds, \
                     sizeof s_kinds / sizeof s_kinds[0])

U_GROUP(cli_users_cmds, s_cmds, "users");
U_GROUP(cli_org_cmds, s_org_cmds, "org");
static U_GROUP(s_keys_cmds, s_key_cmds, "keys");
static U_GROUP(s_token_cmds, s_tok_cmds, "token");

#define U_NLOCAL 8      /* room for a group's local commands (cli_keys.c, cli_token.c) */
cli_cmd_t cli_keys_cmds[U_NLOCAL + sizeof s_key_cmds / sizeof s_key_cmds[0] + 1];
cli_cmd_t cli_token_cmds[U_NLOCAL + sizeof s_tok_cmds / sizeof s_tok_cmds[0] + 1];

void cli_users_init(void)
{
    cli_engine_init(&cli_users_cmds_engine);
    cli_engine_init(&cli_org_cmds_engine);
    cli_engine_join(&s_keys_cmds_engine, cli_keys_local_cmds, cli_keys_cmds,
                    sizeof cli_keys_cmds / sizeof cli_keys_cmds[0] - 1);
    cli_engine_join(&s_token_cmds_engine, cli_token_local_cmds, cli_token_cmds,
                    sizeof cli_token_cmds / sizeof cli_token_cmds[0] - 1);
}
