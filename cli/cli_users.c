/* cli_users.c - `rapport users ...`: the user methods of rapport.identity.v1.Identity
 * (proto/rapport/identity/v1/identity.proto) as commands, driven by one table, in
 * the manner of cli_leads.c.
 *
 * A row of s_cmds names the command, the Identity method (whose descriptor gives the
 * request and reply types), the request field a password read from the terminal or
 * stdin goes to (cli_read_new_secret), the flags and whether the reply is a paged
 * list. A flag row names the request field its value goes to and its kind. The
 * positional USERNAME goes to the request's username. The request is built as JSON
 * and made a message by rp_pb_from_json; the password is put into the message only
 * afterwards (and wiped), so it never sits in a JSON string. cli_users_init checks
 * every row against the descriptors, so a changed .proto fails at once.
 */
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

enum {
    U_TEXT,         /* a string field, as given */
    U_ROLE,         /* a repeated string field of role names from perm.h (checked here) */
    U_BOOL,         /* a bool field: true when the flag is given */
    U_LIMIT,        /* the limit pair: field is the contract-value field, the next
                       row (U_LIMIT_BP) the discount field (cli_limits_parse) */
    U_LIMIT_BP,     /* set with the U_LIMIT row before it */
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

typedef struct {
    const char *name;
    const char *args;       /* "USERNAME" (into the request's username) or "" */
    const char *method;     /* of rapport.identity.v1.Identity */
    const char *secret;     /* the request field of a password read from the terminal/stdin */
    const char *secret_what;/* and what the prompt calls it */
    const u_flag_t *flags;
    bool list;              /* a paged list of users (ListUsers) */
    const char *summary;
    const char *help;
} u_cmd_t;

#define U_END { NULL, NULL, NULL, 0, NULL }
#define U_REQUEST_ID_FLAG { "request-id", "ULID", NULL, U_REQUEST_ID, "idempotency key: a retry with the same id changes nothing twice" }

static const u_flag_t s_create_flags[] = {
    { "name",    "TEXT",   "display_name", U_TEXT | U_REQUIRED, "display name (1..200 bytes); required" },
    { "role",    "ROLE",   "roles",        U_ROLE | U_REQUIRED, "a role from 'rapport roles' (1..8); required" },
    { "branch",  "BRANCH", "branch",       U_TEXT | U_REQUIRED, "the user's branch; required" },
    { "unit",    "PATH",   "unit",         U_TEXT, "org unit such as /hq/sales/g1" },
    { "manager", "USER",   "manager",      U_TEXT, "the manager's username" },
    { "must-change-password", NULL, "must_change_password", U_BOOL, "the user must choose a new password at first login" },
    { "limit-value", "N", "limit_contract_value", U_LIMIT, "authority: the largest contract value they may sign, in minor units (0..10^15; default 0: none)" },
    { "limit-discount", "BP", "limit_discount_bp", U_LIMIT_BP, "authority: the largest discount they may give, in basis points (0..10000; default 0: none)" },
    U_REQUEST_ID_FLAG, U_END
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
    { "create", "USERNAME", "CreateUser", "password", "password", s_create_flags, false,
      "create a user (CreateUser; needs identity.users.write)",
      "The initial password is prompted for twice on a terminal, else read as one line from stdin.\n"
      "  Password policy: 12..256 bytes, not the username, not a common password.\n"
      "  Example: echo \"$PW\" | rapport users create ann --name 'Ann Lee' --role manager --branch hq --unit /hq/sales/g1" },
    { "get", "USERNAME", "GetUser", NULL, NULL, NULL, false,
      "show one user (GetUser)", NULL },
    { "list", "", "ListUsers", NULL, NULL, s_list_flags, true,
      "list the users you may see, by username (ListUsers)", NULL },
    { "disable", "USERNAME", "DisableUser", NULL, NULL, s_state_flags, false,
      "disable a user: no more logins (DisableUser)", NULL },
    { "enable", "USERNAME", "EnableUser", NULL, NULL, s_state_flags, false,
      "enable a disabled user again (EnableUser)", NULL },
    { "roles", "USERNAME", "SetRoles", NULL, NULL, s_roles_flags, false,
      "replace a user's roles with the --role flags given (SetRoles)", NULL },
    { "limits", "USERNAME", "SetLimits", NULL, NULL, s_limits_flags, false,
      "set a user's authority limits: largest contract value and discount (SetLimits)",
      "An admin sets any limits; a head (within their unit) or a director at most their own.\n"
      "  New limits end the user's sessions (their tokens carry the old ones): they log in again.\n"
      "  Example: rapport users limits ann --limit-value 5000000 --limit-discount 500   (50 000.00, 5 %)" },
    { "reset-password", "USERNAME", "ResetPassword", "temporary_password", "temporary password", s_write_flags, false,
      "set a temporary password the user must change at next login (ResetPassword)",
      "The temporary password is prompted for twice on a terminal, else read as one line from stdin.\n"
      "  The user then runs 'rapport passwd' with it before 'rapport login' works again." },
};

#define U_NCMDS (sizeof s_cmds / sizeof s_cmds[0])

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
        json_object_set_new(r, "username", json_string_nocheck(a->pos[0]));
    for (const u_flag_t *f = c->flags; f && f->name; f++) {
        int n = cli_flag_count(a, f->name);
        if (n == 0) {
            if (f->how & U_REQUIRED)
                return cli_usage_error(a, "--%s: required", f->name);
            continue;
        }
        switch (U_KIND(f->how)) {
        case U_TEXT:
            json_object_set_new(r, f->field, json_string_nocheck(cli_flag(a, f->name)));
            break;
        case U_BOOL:
            json_object_set_new(r, f->field, json_true());
            break;
        case U_LIMIT: {
            int64_t v;
            int32_t bp;
            if (cli_limits_parse(a, f->name, f[1].name, &v, &bp) != 0)
                return CLI_EXIT_USAGE;
            json_object_set_new(r, f->field, json_integer((json_int_t) v));
            break;
        }
        case U_LIMIT_BP: {
            int64_t v;
            int32_t bp;
            if (cli_limits_parse(a, f[-1].name, f->name, &v, &bp) != 0)
                return CLI_EXIT_USAGE;
            json_object_set_new(r, f->field, json_integer(bp));
            break;
        }
        case U_ROLE: {
            json_t *arr = json_array();
            json_object_set_new(r, f->field, arr);
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

static void s_add_rows(cli_table_t *t, const Rapport__Identity__V1__ListUsersReply *rep)
{
    for (size_t i = 0; i < rep->n_users; i++) {
        const Rapport__Identity__V1__User *u = rep->users[i];
        char *roles = cli_field_text(&u->base, "roles");
        char created[40];
        cli_format_time(u->created_at, created, sizeof created);
        created[10 < strlen(created) ? 10 : strlen(created)] = 0;
        const char *row[] = { u->username, u->display_name, roles, u->branch, u->unit,
                              s_state(u, rp_clock_now_ms()), created };
        cli_table_add(t, row);
        free(roles);
    }
}

/* s_list - page through ListUsers (--json: each reply; with --all one {"users": [...]}). */
static int s_list(cli_t *cli, const cli_args_t *a, rp_client_t *client, const ProtobufCMethodDescriptor *m,
                  json_t *req)
{
    uint64_t page_size = 0;
    const char *ps = cli_flag(a, "page-size");
    if (ps && (cli_parse_u64(ps, &page_size) != 0 || page_size < 1 || page_size > 500))
        return cli_usage_error(a, "--page-size: must be a whole number from 1 to 500, got '%s'", ps);
    bool all = cli_flag_set(a, "all");
    json_object_set_new(req, "page_size", json_integer((json_int_t) page_size));
    char *token = rp_strdup(cli_flag(a, "page-token") ? cli_flag(a, "page-token") : "");
    static const char *const hdr[] = { "USERNAME", "NAME", "ROLES", "BRANCH", "UNIT", "STATE", "CREATED" };
    cli_table_t *t = cli_table_new(7, hdr);
    json_t *acc = json_array();
    size_t rows = 0;
    int rc = CLI_EXIT_OK;
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
        const Rapport__Identity__V1__ListUsersReply *rep = (const Rapport__Identity__V1__ListUsersReply *) out;
        free(token);
        token = rp_strdup(rep->next_page_token ? rep->next_page_token : "");
        if (cli->json && !all) {
            json_t *j = rp_pb_to_json(out);
            cli_print_json(j);
            json_decref(j);
        }
        if (cli->json)
            for (size_t i = 0; i < rep->n_users; i++)
                json_array_append_new(acc, rp_pb_to_json(&rep->users[i]->base));
        else
            s_add_rows(t, rep);
        rows += rep->n_users;
        protobuf_c_message_free_unpacked(out, NULL);
        if (!all || !token[0])
            break;
    }
    if (rc == CLI_EXIT_OK) {
        if (cli->json) {
            if (all) {
                json_t *j = json_pack("{s:O}", "users", acc);
                cli_print_json(j);
                json_decref(j);
            }
        } else if (rows == 0) {
            fprintf(stderr, "no users found\n");
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

/* s_run - every users command: build the request from its row of s_cmds, call, print. */
static int s_run(cli_t *cli, const cli_args_t *a)
{
    const u_cmd_t *c = &s_cmds[a->cmd - cli_users_cmds];
    const ProtobufCMethodDescriptor *m = s_method(c->method);
    json_t *req = NULL;
    const char *id = NULL;
    int rc = s_request(a, c, &req, &id);
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
    if (rc == 0 && c->list) {
        rc = s_list(cli, a, client, m, req);
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

/* ---- main.c's view of the table ---- */

cli_cmd_t cli_users_cmds[U_NCMDS + 1];
static cli_flag_t s_cli_flags[U_NCMDS][CLI_MAX_FLAGS + 1];

static void s_bug(const u_cmd_t *c, const char *what, const char *why)
{
    fprintf(stderr, "rapport: internal error: users %s: %s: %s\n", c->name, what, why);
    abort();
}

/* s_check - abort unless row c fits the Identity descriptors. */
static void s_check(const u_cmd_t *c)
{
    const ProtobufCMethodDescriptor *m = s_method(c->method);
    if (!m)
        s_bug(c, c->method, "no such method");
    const ProtobufCFieldDescriptor *fd;
    if (c->args[0] && (!(fd = s_field(m->input, "username")) || fd->type != PROTOBUF_C_TYPE_STRING))
        s_bug(c, "username", "not a string field of the request");
    if (c->secret && (!(fd = s_field(m->input, c->secret)) || fd->type != PROTOBUF_C_TYPE_STRING))
        s_bug(c, c->secret, "not a string field of the request");
    if (c->list && (!(fd = s_field(m->output, "users")) || fd->label != PROTOBUF_C_LABEL_REPEATED ||
                    m->output != &rapport__identity__v1__list_users_reply__descriptor))
        s_bug(c, "users", "the reply is not a ListUsersReply");
    for (const u_flag_t *f = c->flags; f && f->name; f++) {
        int kind = U_KIND(f->how);
        if (kind >= U_REQUEST_ID) {
            if (f->field)
                s_bug(c, f->name, "a flag of this kind sets no field");
            continue;
        }
        fd = f->field ? s_field(m->input, f->field) : NULL;
        if ((kind == U_LIMIT && U_KIND(f[1].how) != U_LIMIT_BP) || (kind == U_LIMIT_BP && (f == c->flags ||
                                                                                         U_KIND(f[-1].how) != U_LIMIT)))
            s_bug(c, f->name, "a limit flag comes as a U_LIMIT, U_LIMIT_BP pair");
        ProtobufCType want = kind == U_BOOL ? PROTOBUF_C_TYPE_BOOL : kind == U_LIMIT ? PROTOBUF_C_TYPE_INT64
                             : kind == U_LIMIT_BP ? PROTOBUF_C_TYPE_INT32 : PROTOBUF_C_TYPE_STRING;
        if (!fd || fd->type != want || (kind == U_ROLE) != (fd->label == PROTOBUF_C_LABEL_REPEATED))
            s_bug(c, f->name, "the field does not fit the kind of flag");
    }
}

void cli_users_init(void)
{
    for (size_t i = 0; i < U_NCMDS; i++) {
        const u_cmd_t *c = &s_cmds[i];
        s_check(c);
        int n = 0;
        for (const u_flag_t *f = c->flags; f && f->name; f++, n++) {
            if (n == CLI_MAX_FLAGS)
                s_bug(c, f->name, "more than CLI_MAX_FLAGS flags");
            s_cli_flags[i][n] = (cli_flag_t) { f->name, f->arg, f->help, U_KIND(f->how) == U_ROLE };
        }
        int npos = c->args[0] ? 1 : 0;
        cli_users_cmds[i] = (cli_cmd_t) { c->name, c->args, c->summary, n ? s_cli_flags[i] : NULL,
                                          npos, npos, s_run, c->help };
    }
}
