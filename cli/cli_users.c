/* cli_users.c - `rapport users ...`, `rapport org ...` and `rapport keys
 * register|revoke|list`: the user, org-tree and client-key methods of rapport.identity.v1.Identity (proto/rapport/identity/v1/identity.proto)
 * as commands, driven by one table per group, in the manner of cli_leads.c.
 *
 * A row of s_cmds names the command, the Identity method (whose descriptor gives the
 * request and reply types), the request field a password read from the terminal or
 * stdin goes to (cli_read_new_secret), the flags and whether the reply is a paged
 * list. A flag row names the request field its value goes to ("order.ref": a field
 * of a message field) and its kind. The positional argument (USERNAME, PATH) goes
 * to the field the row names. The request is built as JSON
 * and made a message by rp_pb_from_json; the password is put into the message only
 * afterwards (and wiped), so it never sits in a JSON string. cli_users_init checks
 * every row against the descriptors, so a changed .proto fails at once.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "rapport/clock.h"
#include "rapport/perm.h"
#include "rapport/pbjson.h"
#include "rapport/status.h"
#include "rapport/ulid.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"
#include "rapport/v1/types.pb-c.h"
#include <czmq.h>

enum {
    U_TEXT,         /* a string field, as given */
    U_ROLE,         /* a repeated string field of role names from perm.h (checked here) */
    U_BOOL,         /* a bool field: true when the flag is given */
    U_LIMIT,        /* the limit pair: field is the contract-value field, the next
                       row (U_LIMIT_BP) the discount field (cli_limits_parse) */
    U_LIMIT_BP,     /* set with the U_LIMIT row before it */
    U_DATE,         /* a rapport.v1.Date field, given as YYYY-MM-DD */
    U_ENUM,         /* an enum field, by value name (short or full, any case) */
    U_UNIX_S,       /* an int64 field of unix seconds, given as YYYY-MM-DD[THH:MM[:SS]] (UTC) */
    U_CERT,         /* a CURVE cert file whose public key goes to the (string) field;
                       the other way to give the U_TEXT flag of the same field */
    U_REQUEST_ID,   /* not a field: the call's idempotency key */
    U_PAGING        /* not a field: --page-size, --page-token, --all */
};
#define U_REQUIRED 0x100
#define U_KIND(how) ((how) & 0xff)

typedef struct {
    const char *name;
    const char *arg;        /* metavariable; NULL for a boolean flag */
    const char *field;      /* the request field; NULL when not a field */
    int how;                /* kind | U_REQUIRED */
    const char *help;
} u_flag_t;

enum { U_ONE, U_USERS, U_UNITS, U_KEYS };  /* the reply: one message, or a paged list */

typedef struct {
    const char *name;
    const char *args;       /* "USERNAME", "PATH" or "[PATH]" (optional), or "" */
    const char *pos_field;  /* the request field of the positional argument */
    const char *method;     /* of rapport.identity.v1.Identity */
    const char *secret;     /* the request field of a password read from the terminal/stdin */
    const char *secret_what;/* and what the prompt calls it */
    const u_flag_t *flags;
    int list;               /* U_ONE, U_USERS (ListUsers) or U_UNITS (ListUnits) */
    const char *summary;
    const char *help;
} u_cmd_t;

#define U_END { NULL, NULL, NULL, 0, NULL }
#define U_REQUEST_ID_FLAG { "request-id", "ULID", NULL, U_REQUEST_ID, "idempotency key: a retry with the same id changes nothing twice" }

/* The flags of a new user (users create, org appoint), but --unit. */
#define U_NEW_USER_FLAGS \
    { "name",    "TEXT",   "display_name", U_TEXT | U_REQUIRED, "display name (1..200 bytes); required" }, \
    { "role",    "ROLE",   "roles",        U_ROLE | U_REQUIRED, "a role from 'rapport roles' (1..8); required" }, \
    { "branch",  "BRANCH", "branch",       U_TEXT | U_REQUIRED, "the user's branch; required" }, \
    { "manager", "USER",   "manager",      U_TEXT, "their manager (default: the head of their unit or the unit above)" }, \
    { "must-change-password", NULL, "must_change_password", U_BOOL, "the user must choose a new password at first login" }, \
    { "limit-value", "N", "limit_contract_value", U_LIMIT, "authority: the largest contract value they may sign, in minor units (0..10^15; default 0: none)" }, \
    { "limit-discount", "BP", "limit_discount_bp", U_LIMIT_BP, "authority: the largest discount they may give, in basis points (0..10000; default 0: none)" }

static const u_flag_t s_create_flags[] = {
    { "unit",    "PATH",   "unit",         U_TEXT, "org unit such as /hq/sales/g1 (created when missing)" },
    U_NEW_USER_FLAGS, U_REQUEST_ID_FLAG, U_END
};

static const u_flag_t s_list_flags[] = {
    { "include-disabled", NULL, "include_disabled", U_BOOL, "also list disabled users" },
    { "page-size",  "N",     NULL, U_PAGING, "rows per page, 1..500 (default 50)" },
    { "page-token", "TOKEN", NULL, U_PAGING, "continue where a previous page ended" },
    { "all",        NULL,    NULL, U_PAGING, "follow the pages to the end" },
    U_END
};

static const u_flag_t s_state_flags[] = {
    { "reason", "TEXT", "reason", U_TEXT, "why (up to 500 bytes; goes to the audit trail and event)" },
    U_REQUEST_ID_FLAG, U_END
};

static const u_flag_t s_roles_flags[] = {
    { "role", "ROLE", "roles", U_ROLE | U_REQUIRED, "a role of the new set (repeatable, 1..8); required" },
    U_REQUEST_ID_FLAG, U_END
};

static const u_flag_t s_limits_flags[] = {
    { "limit-value", "N", "contract_value", U_LIMIT | U_REQUIRED, "the largest contract value they may sign, in minor units (0..10^15); required" },
    { "limit-discount", "BP", "discount_bp", U_LIMIT_BP | U_REQUIRED, "the largest discount they may give, in basis points (0..10000); required" },
    { "reason", "TEXT", "reason", U_TEXT, "why (up to 500 bytes; goes to the audit trail)" },
    U_REQUEST_ID_FLAG, U_END
};

static const u_flag_t s_write_flags[] = { U_REQUEST_ID_FLAG, U_END };

static const u_cmd_t s_cmds[] = {
    { "create", "USERNAME", "username", "CreateUser", "password", "password", s_create_flags, U_ONE,
      "create a user (CreateUser; needs identity.users.write)",
      "The initial password is prompted for twice on a terminal, else read as one line from stdin.\n"
      "  Password policy: 12..256 bytes, not the username, not a common password.\n"
      "  Example: echo \"$PW\" | rapport users create ann --name 'Ann Lee' --role manager --branch hq --unit /hq/sales/g1" },
    { "get", "USERNAME", "username", "GetUser", NULL, NULL, NULL, U_ONE,
      "show one user (GetUser)", NULL },
    { "list", "", NULL, "ListUsers", NULL, NULL, s_list_flags, U_USERS,
      "list the users you may see, by username (ListUsers)", NULL },
    { "disable", "USERNAME", "username", "DisableUser", NULL, NULL, s_state_flags, U_ONE,
      "disable a user: no more logins (DisableUser)", NULL },
    { "enable", "USERNAME", "username", "EnableUser", NULL, NULL, s_state_flags, U_ONE,
      "enable a disabled user again (EnableUser)", NULL },
    { "roles", "USERNAME", "username", "SetRoles", NULL, NULL, s_roles_flags, U_ONE,
      "replace a user's roles with the --role flags given (SetRoles)", NULL },
    { "limits", "USERNAME", "username", "SetLimits", NULL, NULL, s_limits_flags, U_ONE,
      "set a user's authority limits: largest contract value and discount (SetLimits)",
      "An admin sets any limits; a head (within their unit) or a director at most their own.\n"
      "  New limits end the user's sessions (their tokens carry the old ones): they log in again.\n"
      "  Example: rapport users limits ann --limit-value 5000000 --limit-discount 500   (50 000.00, 5 %)" },
    { "reset-password", "USERNAME", "username", "ResetPassword", "temporary_password", "temporary password", s_write_flags, U_ONE,
      "set a temporary password the user must change at next login (ResetPassword)",
      "The temporary password is prompted for twice on a terminal, else read as one line from stdin.\n"
      "  The user then runs 'rapport passwd' with it before 'rapport login' works again." },
};

#define U_NCMDS (sizeof s_cmds / sizeof s_cmds[0])

/* A personnel order: "by order of the head". */
#define U_ORDER_FLAGS \
    { "order", "REF", "order.ref", U_TEXT | U_REQUIRED, "the order's reference, e.g. HR-2026-114 (1..100 bytes); required" }, \
    { "order-date", "DATE", "order.date", U_DATE | U_REQUIRED, "the order's date, YYYY-MM-DD; required" }, \
    { "reason", "TEXT", "order.reason", U_TEXT | U_REQUIRED, "why (1..500 bytes; goes to the audit trail and the event); required" }

static const u_flag_t s_tree_flags[] = {
    { "page-size",  "N",     NULL, U_PAGING, "units per page, 1..1000 (default: every page)" },
    { "page-token", "TOKEN", NULL, U_PAGING, "continue where a previous page ended" },
    U_END
};

static const u_flag_t s_add_flags[] = {
    { "kind", "KIND", "kind", U_ENUM, "company, branch, department or group (default: the rank below the parent's)" },
    { "name", "TEXT", "name", U_TEXT, "display name (1..200 bytes; default: the last segment of PATH)" },
    U_REQUEST_ID_FLAG, U_END
};

static const u_flag_t s_head_flags[] = {
    { "user", "USER", "head", U_TEXT | U_REQUIRED, "the new head, who sits in the unit ('' removes the head); required" },
    U_REQUEST_ID_FLAG, U_END
};

static const u_flag_t s_appoint_flags[] = {
    { "unit",    "PATH",   "unit",         U_TEXT | U_REQUIRED, "the unit they are appointed to (created when missing); required" },
    U_NEW_USER_FLAGS, U_ORDER_FLAGS, U_REQUEST_ID_FLAG, U_END
};

static const u_flag_t s_move_flags[] = {
    { "to", "PATH", "unit", U_TEXT | U_REQUIRED, "the target unit (created when missing); required" },
    { "manager", "USER", "manager", U_TEXT, "their new manager (default: the head of the new unit or the unit above)" },
    U_ORDER_FLAGS, U_REQUEST_ID_FLAG, U_END
};

static const u_flag_t s_dismiss_flags[] = { U_ORDER_FLAGS, U_REQUEST_ID_FLAG, U_END };

#define U_ORDER_HELP \
    "By order of the head: --order, --order-date and --reason name the order; you are recorded\n" \
    "  as the one who gave it. Needs identity.org.write and the right over the units involved."

static const u_cmd_t s_org_cmds[] = {
    { "tree", "[PATH]", "root", "ListUnits", NULL, NULL, s_tree_flags, U_UNITS,
      "show the org tree, or the subtree at PATH (ListUnits; needs identity.org.read)",
      "One line per unit, parents first: the name indented by depth, path, kind and head." },
    { "get", "PATH", "path", "GetUnit", NULL, NULL, NULL, U_ONE,
      "show one unit (GetUnit)", NULL },
    { "add", "PATH", "path", "AddUnit", NULL, NULL, s_add_flags, U_ONE,
      "add a unit below an existing one (AddUnit; needs identity.org.write over the parent)",
      "Kinds rank company > branch > department > group; a group may hold groups.\n"
      "  Example: rapport org add /hq/sales --kind department --name 'Sales'" },
    { "head", "PATH", "path", "SetUnitHead", NULL, NULL, s_head_flags, U_ONE,
      "appoint the head of a unit (SetUnitHead)",
      "The head is a user who sits in the unit; a head does not appoint the head of their own unit." },
    { "appoint", "USERNAME", "username", "CreateUser", "password", "password", s_appoint_flags, U_ONE,
      "appoint a new user to a unit, by order (CreateUser with an order; event user.appointed)",
      "The initial password is prompted for twice on a terminal, else read as one line from stdin.\n  "
      U_ORDER_HELP "\n"
      "  Example: echo \"$PW\" | rapport org appoint ann --name 'Ann Lee' --role manager --branch hq \\\n"
      "             --unit /hq/sales/g1 --order HR-2026-114 --order-date 2026-11-02 --reason 'new hire'" },
    { "move", "USERNAME", "username", "MoveUser", NULL, NULL, s_move_flags, U_ONE,
      "move a user to another unit, by order (MoveUser; event user.moved; ends their sessions)",
      U_ORDER_HELP },
    { "dismiss", "USERNAME", "username", "DismissUser", NULL, NULL, s_dismiss_flags, U_ONE,
      "dismiss a user, by order: disabled for good (DismissUser; event user.dismissed; ends their sessions)",
      U_ORDER_HELP },
};

#define U_NORG (sizeof s_org_cmds / sizeof s_org_cmds[0])

static const u_flag_t s_keyreg_flags[] = {
    { "public-key", "Z85", "public_key", U_TEXT, "the client's CURVE public key (40 characters of Z85)" },
    { "cert", "FILE", "public_key", U_CERT, "or the client's public cert file (as 'rapport keys init' writes)" },
    { "owner", "NAME", "owner", U_TEXT, "the user or system it belongs to (up to 63 bytes)" },
    { "note", "TEXT", "note", U_TEXT, "a note (up to 500 bytes)" },
    U_REQUEST_ID_FLAG, U_END
};

static const u_flag_t s_keyrev_flags[] = {
    { "reason", "TEXT", "reason", U_TEXT, "why (up to 500 bytes; goes to the audit trail and the event)" },
    U_REQUEST_ID_FLAG, U_END
};

static const u_flag_t s_keylist_flags[] = {
    { "include-revoked", NULL, "include_revoked", U_BOOL, "also list revoked keys" },
    { "page-size",  "N",     NULL, U_PAGING, "rows per page, 1..1000 (default 100)" },
    { "page-token", "TOKEN", NULL, U_PAGING, "continue where a previous page ended" },
    { "all",        NULL,    NULL, U_PAGING, "follow the pages to the end" },
    U_END
};

static const u_cmd_t s_key_cmds[] = {
    { "register", "NAME", "name", "RegisterKey", NULL, NULL, s_keyreg_flags, U_ONE,
      "let a client's CURVE key into every service (RegisterKey; needs identity.keys.write)",
      "Give the key with --public-key or --cert. Every service's ZAP handler follows identity's\n"
      "  key.registered event: the client may connect within about a second, no file to copy.\n"
      "  Example: rapport keys register erp-connector --cert erp.cert --owner erp" },
    { "revoke", "KEY", "public_key", "RevokeKey", NULL, NULL, s_keyrev_flags, U_ONE,
      "stop letting a registered key in (RevokeKey; needs identity.keys.write)",
      "New connections with the key are refused everywhere within about a second; connections\n"
      "  already up stay up until they reconnect (restart a service to cut them at once)." },
    { "list", "", NULL, "ListKeys", NULL, NULL, s_keylist_flags, U_KEYS,
      "list the registered client keys (ListKeys; needs identity.keys.read)", NULL },
};

#define U_NKEYS (sizeof s_key_cmds / sizeof s_key_cmds[0])

static const u_flag_t s_tokrev_flags[] = {
    { "until", "TIME", "expires_at", U_UNIX_S, "keep it revoked until then, the token's expiry (default: 30 days, a minted token's longest life)" },
    { "sub", "NAME", "sub", U_TEXT, "whose token it is (for the event and the audit trail)" },
    { "reason", "TEXT", "reason", U_TEXT, "why (up to 500 bytes)" },
    U_REQUEST_ID_FLAG, U_END
};

static const u_cmd_t s_tok_cmds[] = {
    { "revoke", "JTI", "jti", "RevokeToken", NULL, NULL, s_tokrev_flags, U_ONE,
      "revoke one token by its id, e.g. a minted one (RevokeToken; needs identity.tokens.revoke)",
      "Every service refuses it within about a second. 'rapport token mint --json' prints a token's jti." },
};

#define U_NTOK (sizeof s_tok_cmds / sizeof s_tok_cmds[0])
#define U_NKEYS_LOCAL 8     /* room for a group's local commands (keys, token) */

extern cli_cmd_t cli_users_cmds[], cli_org_cmds[], cli_keys_cmds[], cli_token_cmds[];
static size_t s_keys_first;     /* where s_key_cmds start in cli_keys_cmds */
static size_t s_tok_first;      /* and s_tok_cmds in cli_token_cmds */

static const ProtobufCMethodDescriptor *s_method(const char *name)
{
    return protobuf_c_service_descriptor_get_method_by_name(&rapport__identity__v1__identity__descriptor, name);
}

static const ProtobufCFieldDescriptor *s_field(const ProtobufCMessageDescriptor *d, const char *name)
{
    return protobuf_c_message_descriptor_get_field_by_name(d, name);
}

/* ---- the request ---- */

static int s_unknown_role(const cli_args_t *a, const char *role)
{
    char list[1024] = "";
    for (const rp_role_t *r = rp_roles(); r->role; r++) {
        if (list[0])
            strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, r->role, sizeof list - strlen(list) - 1);
    }
    return cli_usage_error(a, "--role: unknown role '%s'; roles: %s", role, list);
}

/* s_request - the request of command c as JSON into *req. 0 or the exit code. */
static int s_request(const cli_args_t *a, const u_cmd_t *c, json_t **req, const char **id)
{
    json_t *r = json_object();
    *req = r;
    *id = NULL;
    if (a->npos)
        json_object_set_new(r, c->pos_field, json_string_nocheck(a->pos[0]));
    for (const u_flag_t *f = c->flags; f && f->name; f++) {
        int n = cli_flag_count(a, f->name);
        if (n == 0) {
            if (f->how & U_REQUIRED)
                return cli_usage_error(a, "--%s: required", f->name);
            continue;
        }
        /* "order.ref": the field ref of the message field order. */
        json_t *obj = r;
        const char *field = f->field, *dot = field ? strchr(field, '.') : NULL;
        if (dot) {
            char outer[64];
            snprintf(outer, sizeof outer, "%.*s", (int) (dot - field), field);
            obj = json_object_get(r, outer);
            if (!obj) {
                obj = json_object();
                json_object_set_new(r, outer, obj);
            }
            field = dot + 1;
        }
        switch (U_KIND(f->how)) {
        case U_TEXT:
            json_object_set_new(obj, field, json_string_nocheck(cli_flag(a, f->name)));
            break;
        case U_DATE: {
            int y, mo, d;
            if (cli_parse_date(cli_flag(a, f->name), &y, &mo, &d) != 0)
                return cli_usage_error(a, "--%s: must be a calendar date YYYY-MM-DD, got '%s'", f->name,
                                       cli_flag(a, f->name));
            json_object_set_new(obj, field, json_pack("{s:i,s:i,s:i}", "year", y, "month", mo, "day", d));
            break;
        }
        case U_UNIX_S: {
            int64_t ms;
            if (cli_parse_time(cli_flag(a, f->name), &ms) != 0)
                return cli_usage_error(a, "--%s: must be a date or time YYYY-MM-DD[THH:MM[:SS]] (UTC), got '%s'",
                                       f->name, cli_flag(a, f->name));
            json_object_set_new(obj, field, json_integer((json_int_t) (ms / 1000)));
            break;
        }
        case U_CERT: {
            zcert_t *cert = zcert_load(cli_flag(a, f->name));
            if (!cert)
                return cli_usage_error(a, "--%s: cannot read a CURVE cert from '%s'", f->name, cli_flag(a, f->name));
            json_object_set_new(obj, field, json_string(zcert_public_txt(cert)));
            zcert_destroy(&cert);
            break;
        }
        case U_ENUM: {
            const ProtobufCFieldDescriptor *fd = s_field(s_method(c->method)->input, field);
            int v;
            if (cli_enum_parse(fd->descriptor, cli_flag(a, f->name), &v) != 0) {
                char choices[512];
                cli_enum_choices(fd->descriptor, choices, sizeof choices);
                return cli_usage_error(a, "--%s: unknown value '%s'; one of: %s", f->name, cli_flag(a, f->name),
                                       choices);
            }
            json_object_set_new(obj, field, json_integer(v));
            break;
        }
        case U_BOOL:
            json_object_set_new(obj, field, json_true());
            break;
        case U_LIMIT: {
            int64_t v;
            int32_t bp;
            if (cli_limits_parse(a, f->name, f[1].name, &v, &bp) != 0)
                return CLI_EXIT_USAGE;
            json_object_set_new(obj, field, json_integer((json_int_t) v));
            break;
        }
        case U_LIMIT_BP: {
            int64_t v;
            int32_t bp;
            if (cli_limits_parse(a, f[-1].name, f->name, &v, &bp) != 0)
                return CLI_EXIT_USAGE;
            json_object_set_new(obj, field, json_integer(bp));
            break;
        }
        case U_ROLE: {
            json_t *arr = json_array();
            json_object_set_new(obj, field, arr);
            for (int i = 0; i < n; i++) {
                const char *role = cli_flag_at(a, f->name, i);
                if (!rp_role_find(role))
                    return s_unknown_role(a, role);
                json_array_append_new(arr, json_string_nocheck(role));
            }
            break;
        }
        case U_REQUEST_ID: {
            rp_ulid_t u;
            *id = cli_flag(a, f->name);
            if (rp_ulid_parse(*id, &u) != 0)
                return cli_usage_error(a, "--%s: must be a ULID (26 Crockford base32 characters), got '%s'",
                                       f->name, *id);
            break;
        }
        default:
            break;
        }
    }
    return 0;
}

/* s_cert_given_or_usage - a field a U_CERT flag sets is given one way or the other. */
static int s_cert_given_or_usage(const cli_args_t *a, const u_cmd_t *c, json_t *req)
{
    for (const u_flag_t *f = c->flags; f && f->name; f++) {
        if (U_KIND(f->how) != U_CERT || json_object_get(req, f->field))
            continue;
        for (const u_flag_t *g = c->flags; g->name; g++)
            if (g != f && g->field && strcmp(g->field, f->field) == 0)
                return cli_usage_error(a, "--%s or --%s: required", g->name, f->name);
        return cli_usage_error(a, "--%s: required", f->name);
    }
    return 0;
}

/* s_message - the request message of req (free_unpacked); the flag parsers make only
 * values the request type takes, so a failure is a programming error. */
static ProtobufCMessage *s_message(const ProtobufCMethodDescriptor *m, json_t *req)
{
    char err[512];
    ProtobufCMessage *msg = rp_pb_from_json(m->input, req, err, sizeof err);
    if (!msg) {
        fprintf(stderr, "rapport: internal error: Identity/%s: %s\n", m->name, err);
        abort();
    }
    return msg;
}

/* s_set_secret - put a copy of secret into string field name of msg. */
static char **s_set_secret(ProtobufCMessage *msg, const char *name, const char *secret)
{
    const ProtobufCFieldDescriptor *fd = s_field(msg->descriptor, name);
    char **slot = (char **) ((char *) msg + fd->offset);
    if (*slot && *slot != (char *) protobuf_c_empty_string)
        free(*slot);
    *slot = rp_strdup(secret);
    return slot;
}

/* ---- printing ---- */

/* s_state - a user's state in one word or three. */
static const char *s_state(const Rapport__Identity__V1__User *u, int64_t now_ms)
{
    if (u->disabled)
        return "disabled";
    if (u->locked_until > now_ms)
        return "locked";
    if (u->must_change_password)
        return "must change password";
    return "active";
}

static void s_user_row(cli_table_t *t, const ProtobufCMessage *m)
{
    const Rapport__Identity__V1__User *u = (const Rapport__Identity__V1__User *) m;
    char *roles = cli_field_text(&u->base, "roles");
    char created[40];
    cli_format_time(u->created_at, created, sizeof created);
    created[10 < strlen(created) ? 10 : strlen(created)] = 0;
    const char *row[] = { u->username, u->display_name, roles, u->branch, u->unit, u->line_manager,
                          u->dismissed ? "dismissed" : s_state(u, rp_clock_now_ms()), created };
    cli_table_add(t, row);
    free(roles);
}

/* s_unit_row - the name indented by depth (the number of '/' after the root). */
static void s_unit_row(cli_table_t *t, const ProtobufCMessage *m)
{
    const Rapport__Identity__V1__Unit *u = (const Rapport__Identity__V1__Unit *) m;
    size_t depth = 0;
    for (const char *p = u->path + 1; *p; p++)
        depth += *p == '/';
    depth += strcmp(u->path, "/") != 0;
    char name[300], kind[32];
    snprintf(name, sizeof name, "%*s%s", (int) (2 * depth), "", u->name);
    cli_enum_short(&rapport__identity__v1__unit_kind__descriptor, u->kind, kind, sizeof kind);
    const char *row[] = { name, u->path, kind, u->head };
    cli_table_add(t, row);
}

static void s_key_row(cli_table_t *t, const ProtobufCMessage *m)
{
    const Rapport__Identity__V1__ClientKey *k = (const Rapport__Identity__V1__ClientKey *) m;
    char when[40];
    cli_format_time(k->registered_at, when, sizeof when);
    when[10 < strlen(when) ? 10 : strlen(when)] = 0;
    const char *row[] = { k->name, k->public_key, k->owner, k->revoked ? "revoked" : "active", when };
    cli_table_add(t, row);
}

/* What a paged list command prints: the reply's repeated field and its table. */
typedef struct {
    const char *field;          /* "users", "units" */
    uint64_t max;               /* the largest page size */
    bool all_by_default;        /* follow the pages unless paging flags are given */
    int ncols;
    const char *const *hdr;
    void (*row)(cli_table_t *t, const ProtobufCMessage *m);
} u_list_t;

static const char *const s_user_hdr[] = { "USERNAME", "NAME", "ROLES", "BRANCH", "UNIT", "MANAGER", "STATE",
                                          "CREATED" };
static const char *const s_unit_hdr[] = { "UNIT", "PATH", "KIND", "HEAD" };
static const char *const s_key_hdr[] = { "NAME", "PUBLIC KEY", "OWNER", "STATE", "REGISTERED" };
static const u_list_t s_lists[] = {
    [U_USERS] = { "users", 500, false, 8, s_user_hdr, s_user_row },
    [U_UNITS] = { "units", 1000, true, 4, s_unit_hdr, s_unit_row },
    [U_KEYS] = { "keys", 1000, false, 5, s_key_hdr, s_key_row },
};

/* s_list - page through a list method (--json: each reply; following every page,
 * one {"<field>": [...]}). */
static int s_list(cli_t *cli, const cli_args_t *a, rp_client_t *client, const ProtobufCMethodDescriptor *m,
                  const u_list_t *L, json_t *req)
{
    uint64_t page_size = 0;
    const char *ps = cli_flag(a, "page-size");
    if (ps && (cli_parse_u64(ps, &page_size) != 0 || page_size < 1 || page_size > L->max))
        return cli_usage_error(a, "--page-size: must be a whole number from 1 to %llu, got '%s'",
                               (unsigned long long) L->max, ps);
    bool all = L->all_by_default ? !cli_flag_set(a, "page-size") && !cli_flag_set(a, "page-token")
                                 : cli_flag_set(a, "all");
    json_object_set_new(req, "page_size", json_integer((json_int_t) page_size));
    char *token = rp_strdup(cli_flag(a, "page-token") ? cli_flag(a, "page-token") : "");
    cli_table_t *t = cli_table_new(L->ncols, L->hdr);
    json_t *acc = json_array();
    size_t rows = 0;
    int rc = CLI_EXIT_OK;
    const ProtobufCFieldDescriptor *fd = s_field(m->output, L->field);
    for (;;) {
        json_object_set_new(req, "page_token", json_string_nocheck(token));
        ProtobufCMessage *in = s_message(m, req), *out = NULL;
        rp_call_status_t st;
        int code = cli_identity_call(cli, client, NULL, m->name, in, &out, &st);
        protobuf_c_message_free_unpacked(in, NULL);
        if (code != RP_OK) {
            cli_print_status(cli, &st);
            rc = cli_status_exit(code);
            break;
        }
        const char *next = cli_field_text(out, "next_page_token");
        free(token);
        token = (char *) next;
        size_t n = *(const size_t *) ((const char *) out + fd->quantifier_offset);
        ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *) ((const char *) out + fd->offset);
        if (cli->json && !all) {
            json_t *j = rp_pb_to_json(out);
            cli_print_json(j);
            json_decref(j);
        }
        for (size_t i = 0; i < n; i++) {
            if (cli->json)
                json_array_append_new(acc, rp_pb_to_json(v[i]));
            else
                L->row(t, v[i]);
        }
        rows += n;
        protobuf_c_message_free_unpacked(out, NULL);
        if (!all || !token[0])
            break;
    }
    if (rc == CLI_EXIT_OK) {
        if (cli->json) {
            if (all) {
                json_t *j = json_pack("{s:O}", L->field, acc);
                cli_print_json(j);
                json_decref(j);
            }
        } else if (rows == 0) {
            fprintf(stderr, "no %s found\n", L->field);
        } else {
            cli_table_print(t, stdout);
            if (token[0])
                fprintf(stderr, "more: --page-token %s%s\n", token, L->all_by_default ? "" : " (or --all)");
        }
    }
    json_decref(acc);
    cli_table_destroy(&t);
    free(token);
    return rc;
}

/* s_row - the table row of the command being run. */
static const u_cmd_t *s_row(const cli_args_t *a)
{
    if (a->cmd >= cli_users_cmds && a->cmd < cli_users_cmds + U_NCMDS)
        return &s_cmds[a->cmd - cli_users_cmds];
    if (a->cmd >= cli_org_cmds && a->cmd < cli_org_cmds + U_NORG)
        return &s_org_cmds[a->cmd - cli_org_cmds];
    if (a->cmd >= cli_keys_cmds + s_keys_first && a->cmd < cli_keys_cmds + s_keys_first + U_NKEYS)
        return &s_key_cmds[a->cmd - cli_keys_cmds - s_keys_first];
    assert(a->cmd >= cli_token_cmds + s_tok_first && a->cmd < cli_token_cmds + s_tok_first + U_NTOK);
    return &s_tok_cmds[a->cmd - cli_token_cmds - s_tok_first];
}

/* s_run - every users and org command: build the request from its row, call, print. */
static int s_run(cli_t *cli, const cli_args_t *a)
{
    const u_cmd_t *c = s_row(a);
    const ProtobufCMethodDescriptor *m = s_method(c->method);
    json_t *req = NULL;
    const char *id = NULL;
    int rc = s_request(a, c, &req, &id);
    if (rc == 0)
        rc = s_cert_given_or_usage(a, c, req);
    char secret[1024] = "";
    if (rc == 0 && c->secret) {
        char prompt[160];
        snprintf(prompt, sizeof prompt, "%c%s for %s: ", c->secret_what[0] - 'a' + 'A', c->secret_what + 1,
                 a->pos[0]);
        rc = cli_read_new_secret(a, c->secret_what, prompt, secret, sizeof secret);
    }
    rp_client_t *client = NULL;
    if (rc == 0)
        rc = cli_get_token(cli, true);
    if (rc == 0)
        rc = cli_connect(cli, "identity", &client);
    if (rc == 0 && c->list != U_ONE) {
        rc = s_list(cli, a, client, m, &s_lists[c->list], req);
    } else if (rc == 0) {
        ProtobufCMessage *in = s_message(m, req), *out = NULL;
        char **slot = c->secret ? s_set_secret(in, c->secret, secret) : NULL;
        rp_call_status_t st;
        int code = cli_identity_call(cli, client, id, m->name, in, &out, &st);
        if (slot)
            sodium_memzero(*slot, strlen(*slot));
        protobuf_c_message_free_unpacked(in, NULL);
        if (code != RP_OK) {
            cli_print_status(cli, &st);
            rc = cli_status_exit(code);
        } else {
            cli_print_message(cli, out);
            protobuf_c_message_free_unpacked(out, NULL);
        }
    }
    sodium_memzero(secret, sizeof secret);
    rp_client_destroy(&client);
    json_decref(req);
    return rc;
}

/* ---- main.c's view of the tables ---- */

cli_cmd_t cli_users_cmds[U_NCMDS + 1];
cli_cmd_t cli_org_cmds[U_NORG + 1];
cli_cmd_t cli_keys_cmds[U_NKEYS_LOCAL + U_NKEYS + 1];
cli_cmd_t cli_token_cmds[U_NKEYS_LOCAL + U_NTOK + 1];
static cli_flag_t s_key_flags[U_NKEYS][CLI_MAX_FLAGS + 1];
static cli_flag_t s_tok_flags[U_NTOK][CLI_MAX_FLAGS + 1];
static cli_flag_t s_user_flags[U_NCMDS][CLI_MAX_FLAGS + 1];
static cli_flag_t s_org_flags[U_NORG][CLI_MAX_FLAGS + 1];

static void s_bug(const u_cmd_t *c, const char *what, const char *why)
{
    fprintf(stderr, "rapport: internal error: %s: %s: %s\n", c->name, what, why);
    abort();
}

/* s_field_path - the field of d named path ("order.ref": through a message field). */
static const ProtobufCFieldDescriptor *s_field_path(const ProtobufCMessageDescriptor *d, const char *path)
{
    const char *dot = strchr(path, '.');
    if (!dot)
        return s_field(d, path);
    char outer[64];
    snprintf(outer, sizeof outer, "%.*s", (int) (dot - path), path);
    const ProtobufCFieldDescriptor *fd = s_field(d, outer);
    if (!fd || fd->type != PROTOBUF_C_TYPE_MESSAGE || fd->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return s_field(fd->descriptor, dot + 1);
}

/* s_check - abort unless row c fits the Identity descriptors. */
static void s_check(const u_cmd_t *c)
{
    const ProtobufCMethodDescriptor *m = s_method(c->method);
    if (!m)
        s_bug(c, c->method, "no such method");
    const ProtobufCFieldDescriptor *fd;
    if (c->args[0] && (!c->pos_field || !(fd = s_field(m->input, c->pos_field))
                       || fd->type != PROTOBUF_C_TYPE_STRING))
        s_bug(c, c->args, "the positional argument goes to no string field of the request");
    if (c->secret && (!(fd = s_field(m->input, c->secret)) || fd->type != PROTOBUF_C_TYPE_STRING))
        s_bug(c, c->secret, "not a string field of the request");
    if (c->list != U_ONE && (!(fd = s_field(m->output, s_lists[c->list].field))
                             || fd->label != PROTOBUF_C_LABEL_REPEATED || fd->type != PROTOBUF_C_TYPE_MESSAGE
                             || !(fd = s_field(m->output, "next_page_token")) || fd->type != PROTOBUF_C_TYPE_STRING))
        s_bug(c, s_lists[c->list].field, "the reply is not a page of that list");
    for (const u_flag_t *f = c->flags; f && f->name; f++) {
        int kind = U_KIND(f->how);
        if (kind >= U_REQUEST_ID) {
            if (f->field)
                s_bug(c, f->name, "a flag of this kind sets no field");
            continue;
        }
        fd = f->field ? s_field_path(m->input, f->field) : NULL;
        if ((kind == U_LIMIT && U_KIND(f[1].how) != U_LIMIT_BP) || (kind == U_LIMIT_BP && (f == c->flags ||
                                                                                         U_KIND(f[-1].how) != U_LIMIT)))
            s_bug(c, f->name, "a limit flag comes as a U_LIMIT, U_LIMIT_BP pair");
        if (kind == U_ENUM && f->field && strchr(f->field, '.'))
            s_bug(c, f->name, "an enum flag sets a field of the request itself");
        if (kind == U_CERT && strchr(f->field, '.'))
            s_bug(c, f->name, "a cert flag sets a field of the request itself");
        ProtobufCType want = kind == U_BOOL ? PROTOBUF_C_TYPE_BOOL
                             : kind == U_LIMIT || kind == U_UNIX_S ? PROTOBUF_C_TYPE_INT64
                             : kind == U_LIMIT_BP ? PROTOBUF_C_TYPE_INT32 : kind == U_ENUM ? PROTOBUF_C_TYPE_ENUM
                             : kind == U_DATE ? PROTOBUF_C_TYPE_MESSAGE : PROTOBUF_C_TYPE_STRING;
        if (!fd || fd->type != want || (kind == U_ROLE) != (fd->label == PROTOBUF_C_LABEL_REPEATED)
            || (kind == U_DATE && fd->descriptor != &rapport__v1__date__descriptor))
            s_bug(c, f->name, "the field does not fit the kind of flag");
    }
}

/* s_init - check the rows and make main.c's commands of them. */
static void s_init(const u_cmd_t *rows, size_t n_rows, cli_cmd_t *cmds, cli_flag_t (*flags)[CLI_MAX_FLAGS + 1])
{
    for (size_t i = 0; i < n_rows; i++) {
        const u_cmd_t *c = &rows[i];
        s_check(c);
        int n = 0;
        for (const u_flag_t *f = c->flags; f && f->name; f++, n++) {
            if (n == CLI_MAX_FLAGS)
                s_bug(c, f->name, "more than CLI_MAX_FLAGS flags");
            flags[i][n] = (cli_flag_t) { f->name, f->arg, f->help, U_KIND(f->how) == U_ROLE };
        }
        int npos = c->args[0] ? 1 : 0;
        cmds[i] = (cli_cmd_t) { c->name, c->args, c->summary, n ? flags[i] : NULL, c->args[0] == '[' ? 0 : npos,
                                npos, s_run, c->help };
    }
}

/* s_join - copy a group's local commands to the front of its table; how many. */
static size_t s_join(const cli_cmd_t *local, cli_cmd_t *out)
{
    size_t n = 0;
    for (const cli_cmd_t *l = local; l->name; l++) {
        assert(n < U_NKEYS_LOCAL);
        out[n++] = *l;
    }
    return n;
}

void cli_users_init(void)
{
    s_init(s_cmds, U_NCMDS, cli_users_cmds, s_user_flags);
    s_init(s_org_cmds, U_NORG, cli_org_cmds, s_org_flags);
    s_keys_first = s_join(cli_keys_local_cmds, cli_keys_cmds);
    s_init(s_key_cmds, U_NKEYS, cli_keys_cmds + s_keys_first, s_key_flags);
    s_tok_first = s_join(cli_token_local_cmds, cli_token_cmds);
    s_init(s_tok_cmds, U_NTOK, cli_token_cmds + s_tok_first, s_tok_flags);
}
