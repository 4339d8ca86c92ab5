/* cli_delegate.c - `rapport delegate add|list|revoke`: the delegation methods of
 * rapport.identity.v1.Identity (Delegate, ListDelegations, RevokeDelegation) as
 * commands, driven by one table in the manner of cli_users.c.
 *
 * A row of s_cmds names the command, the Identity method (whose descriptor gives the
 * request and reply types), the request field the positional ID goes to, and the
 * flags. A flag row names the request field its value goes to and its kind: text as
 * given, or a DATE|TIME made unix ms (cli_parse_time; a bare date means the start of
 * that day, or for an end flag the end of it). The request is built as JSON and made a
 * message by rp_pb_from_json. A list prints as a table of the columns of s_cols, read
 * from the reply's repeated field by name (cli_field_text). cli_delegate_init checks
 * every row against the descriptors, so a changed .proto fails at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "rapport/pbjson.h"
#include "rapport/status.h"
#include "rapport/ulid.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"

enum {
    D_TEXT,         /* a string field, as given */
    D_START,        /* an int64 field, unix ms: DATE (its start) or TIME */
    D_END,          /* an int64 field, unix ms: DATE (the end of that day) or TIME */
    D_BOOL,         /* a bool field: true when the flag is given */
    D_COUNT,        /* a uint32 field: 1..500 */
    D_REQUEST_ID    /* not a field: the call's idempotency key */
};
#define D_REQUIRED 0x100
#define D_KIND(how) ((how) & 0xff)

typedef struct {
    const char *name;
    const char *arg;        /* metavariable; NULL for a boolean flag */
    const char *field;      /* the request field; NULL when not a field */
    int how;                /* kind | D_REQUIRED */
    const char *help;
} d_flag_t;

typedef struct {
    const char *name;
    const char *args;       /* "ID" (into pos_field) or "" */
    const char *pos_field;
    const char *method;     /* of rapport.identity.v1.Identity */
    const d_flag_t *flags;
    const char *list;       /* the reply's repeated field to print as a table, or NULL */
    const char *summary;
    const char *help;
} d_cmd_t;

#define D_END_ROW { NULL, NULL, NULL, 0, NULL }
#define D_REQUEST_ID_FLAG { "request-id", "ULID", NULL, D_REQUEST_ID, "idempotency key: a retry with the same id changes nothing twice" }

static const d_flag_t s_add_flags[] = {
    { "for",   "USER",      "absent",     D_TEXT | D_REQUIRED,  "the absent user whose work is delegated; required" },
    { "to",    "USER",      "substitute", D_TEXT | D_REQUIRED,  "the substitute who may act for them; required" },
    { "from",  "DATE|TIME", "from_ms",    D_START,              "start: YYYY-MM-DD (00:00 UTC) or YYYY-MM-DDTHH:MM[:SS]Z (default now)" },
    { "until", "DATE|TIME", "until_ms",   D_END | D_REQUIRED,  "end: YYYY-MM-DD (the whole day, to 24:00 UTC) or a time; required" },
    { "note",  "TEXT",      "note",       D_TEXT,               "why (goes to the audit trail and event)" },
    D_REQUEST_ID_FLAG, D_END_ROW
};

static const d_flag_t s_list_flags[] = {
    { "for", "USER", "absent",     D_TEXT, "only delegations of this absent user" },
    { "to",  "USER", "substitute", D_TEXT, "only delegations to this substitute" },
    { "include-ended", NULL, "include_ended", D_BOOL, "also the revoked and expired ones" },
    { "page-size",  "N",     "page_size",  D_COUNT, "rows per page, 1..500 (default 50)" },
    { "page-token", "TOKEN", "page_token", D_TEXT,  "continue where a previous page ended" },
    D_END_ROW
};

static const d_flag_t s_revoke_flags[] = { D_REQUEST_ID_FLAG, D_END_ROW };

static const d_cmd_t s_cmds[] = {
    { "add", "", NULL, "Delegate", s_add_flags, NULL,
      "let a substitute act for an absent user for a while (Delegate)",
      "Example: rapport delegate add --for ann --to bob --from 2026-12-01 --until 2026-12-14 --note 'holiday'\n"
      "  Dates are UTC; --until DATE includes that whole day. The substitute then runs\n"
      "  'rapport login --as ann' to act for ann." },
    { "list", "", NULL, "ListDelegations", s_list_flags, "delegations",
      "list the delegations you may see (ListDelegations)", NULL },
    { "revoke", "ID", "id", "RevokeDelegation", s_revoke_flags, NULL,
      "end a delegation now; tokens acting under it stop working (RevokeDelegation)", NULL },
};

#define D_NCMDS (sizeof s_cmds / sizeof s_cmds[0])

/* The table's columns: header and field path of one delegation. */
static const struct {
    const char *hdr, *path;
} s_cols[] = {
    { "ID", "id" }, { "FOR", "absent" }, { "TO", "substitute" }, { "FROM", "from" },
    { "UNTIL", "until" }, { "STATE", NULL }, { "NOTE", "note" },
};
#define D_NCOLS (sizeof s_cols / sizeof s_cols[0])

static const ProtobufCMethodDescriptor *s_method(const char *name)
{
    return protobuf_c_service_descriptor_get_method_by_name(&rapport__identity__v1__identity__descriptor, name);
}

static const ProtobufCFieldDescriptor *s_field(const ProtobufCMessageDescriptor *d, const char *name)
{
    return d && name ? protobuf_c_message_descriptor_get_field_by_name(d, name) : NULL;
}

/* ---- the request ---- */

/* s_time - a --from/--until value into unix ms; a bare date of an end flag means the
 * end of that day (the next midnight). 0 or -1. */
static int s_time(const char *text, bool end, int64_t *ms)
{
    int y, m, d;
    if (cli_parse_date(text, &y, &m, &d) == 0 && strlen(text) == 10) {
        if (cli_parse_time(text, ms) != 0)
            return -1;
        if (end)
            *ms += 86400 * 1000LL;
        return 0;
    }
    return cli_parse_time(text, ms);
}

/* s_request - the request of command c as JSON into *req. 0 or the exit code. */
static int s_request(const cli_args_t *a, const d_cmd_t *c, json_t **req, const char **id)
{
    json_t *r = json_object();
    *req = r;
    *id = NULL;
    if (a->npos)
        json_object_set_new(r, c->pos_field, json_string_nocheck(a->pos[0]));
    for (const d_flag_t *f = c->flags; f && f->name; f++) {
        const char *v = cli_flag(a, f->name);
        if (!v) {
            if (f->how & D_REQUIRED)
                return cli_usage_error(a, "--%s: required", f->name);
            continue;
        }
        switch (D_KIND(f->how)) {
        case D_TEXT:
            if (!v[0])
                return cli_usage_error(a, "--%s: empty", f->name);
            json_object_set_new(r, f->field, json_string_nocheck(v));
            break;
        case D_BOOL:
            json_object_set_new(r, f->field, json_true());
            break;
        case D_COUNT: {
            uint64_t n;
            if (cli_parse_u64(v, &n) != 0 || n < 1 || n > 500)
                return cli_usage_error(a, "--%s: must be a whole number from 1 to 500, got '%s'", f->name, v);
            json_object_set_new(r, f->field, json_integer((json_int_t) n));
            break;
        }
        case D_START:
        case D_END: {
            int64_t ms;
            if (s_time(v, D_KIND(f->how) == D_END, &ms) != 0)
                return cli_usage_error(a, "--%s: must be a date YYYY-MM-DD or a UTC time YYYY-MM-DDTHH:MM[:SS]Z, got '%s'",
                                       f->name, v);
            json_object_set_new(r, f->field, json_integer((json_int_t) ms));
            break;
        }
        case D_REQUEST_ID: {
            rp_ulid_t u;
            *id = v;
            if (rp_ulid_parse(v, &u) != 0)
                return cli_usage_error(a, "--%s: must be a ULID (26 Crockford base32 characters), got '%s'",
                                       f->name, v);
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

/* ---- printing ---- */

/* s_state - "revoked", "ended", "active" or "planned", from whichever of the fields
 * revoked_at / revoked, valid_from, valid_until the delegation has. */
static const char *s_state(const ProtobufCMessage *d)
{
    char *rev = s_field(d->descriptor, "revoked_at") ? cli_field_text(d, "revoked_at")
              : s_field(d->descriptor, "revoked") ? cli_field_text(d, "revoked") : NULL;
    bool revoked = rev && rev[0] && strcmp(rev, "false") != 0;
    free(rev);
    if (revoked)
        return "revoked";
    json_t *j = rp_pb_to_json(d);
    int64_t now = (int64_t) time(NULL) * 1000;
    json_t *from = json_object_get(j, s_cols[3].path), *until = json_object_get(j, s_cols[4].path);
    const char *st = "active";
    if (json_is_integer(until) && json_integer_value(until) <= now)
        st = "ended";
    else if (json_is_integer(from) && json_integer_value(from) > now)
        st = "planned";
    json_decref(j);
    return st;
}

static void s_print_list(cli_t *cli, const d_cmd_t *c, const ProtobufCMessage *out)
{
    if (cli->json) {
        cli_print_message(cli, out);
        return;
    }
    const ProtobufCFieldDescriptor *fd = s_field(out->descriptor, c->list);
    size_t n = *(const size_t *) ((const char *) out + fd->quantifier_offset);
    const ProtobufCMessage *const *items = *(const ProtobufCMessage *const *const *) ((const char *) out + fd->offset);
    if (n == 0) {
        fprintf(stderr, "no delegations found\n");
        return;
    }
    const char *hdr[D_NCOLS];
    for (size_t i = 0; i < D_NCOLS; i++)
        hdr[i] = s_cols[i].hdr;
    cli_table_t *t = cli_table_new((int) D_NCOLS, hdr);
    for (size_t r = 0; r < n; r++) {
        char *cells[D_NCOLS];
        for (size_t i = 0; i < D_NCOLS; i++)
            cells[i] = s_cols[i].path ? cli_field_text(items[r], s_cols[i].path) : rp_strdup(s_state(items[r]));
        cli_table_add(t, (const char *const *) cells);
        for (size_t i = 0; i < D_NCOLS; i++)
            free(cells[i]);
    }
    cli_table_print(t, stdout);
    cli_table_destroy(&t);
    char *next = s_field(out->descriptor, "next_page_token") ? cli_field_text(out, "next_page_token") : NULL;
    if (next && next[0])
        fprintf(stderr, "more: --page-token %s\n", next);
    free(next);
}

/* s_run - every delegate command: build the request from its row of s_cmds, call, print. */
static int s_run(cli_t *cli, const cli_args_t *a)
{
    const d_cmd_t *c = &s_cmds[a->cmd - cli_delegate_cmds];
    const ProtobufCMethodDescriptor *m = s_method(c->method);
    if (!m)
        return cli_local_error(cli, "this build's rapport-identity has no method %s", c->method);
    json_t *req = NULL;
    const char *id = NULL;
    int rc = s_request(a, c, &req, &id);
    rp_client_t *client = NULL;
    if (rc == 0)
        rc = cli_get_token(cli, true);
    if (rc == 0)
        rc = cli_connect(cli, "identity", &client);
    if (rc == 0) {
        ProtobufCMessage *in = s_message(m, req), *out = NULL;
        rp_call_status_t st;
        int code = cli_identity_call(cli, client, id, m->name, in, &out, &st);
        protobuf_c_message_free_unpacked(in, NULL);
        if (code != RP_OK) {
            cli_print_status(cli, &st);
            rc = cli_status_exit(code);
        } else {
            if (c->list)
                s_print_list(cli, c, out);
            else
                cli_print_message(cli, out);
            protobuf_c_message_free_unpacked(out, NULL);
        }
    }
    rp_client_destroy(&client);
    json_decref(req);
    return rc;
}

/* ---- main.c's view of the table ---- */

cli_cmd_t cli_delegate_cmds[D_NCMDS + 1];
static cli_flag_t s_cli_flags[D_NCMDS][CLI_MAX_FLAGS + 1];

static void s_bug(const d_cmd_t *c, const char *what, const char *why)
{
    fprintf(stderr, "rapport: internal error: delegate %s: %s: %s\n", c->name, what, why);
    abort();
}

/* s_check - abort unless row c fits the Identity descriptors (a method this build's
 * proto lacks is reported when the command runs). */
static void s_check(const d_cmd_t *c)
{
    const ProtobufCMethodDescriptor *m = s_method(c->method);
    if (!m)
        return;
    const ProtobufCFieldDescriptor *fd;
    if (c->args[0] && (!(fd = s_field(m->input, c->pos_field)) || fd->type != PROTOBUF_C_TYPE_STRING))
        s_bug(c, c->pos_field, "not a string field of the request");
    if (c->list) {
        fd = s_field(m->output, c->list);
        if (!fd || fd->label != PROTOBUF_C_LABEL_REPEATED || fd->type != PROTOBUF_C_TYPE_MESSAGE)
            s_bug(c, c->list, "not a repeated message field of the reply");
        const ProtobufCMessageDescriptor *item = fd->descriptor;
        for (size_t i = 0; i < D_NCOLS; i++)
            if (s_cols[i].path && !s_field(item, s_cols[i].path))
                s_bug(c, s_cols[i].path, "no such field of a delegation");
    }
    for (const d_flag_t *f = c->flags; f && f->name; f++) {
        int kind = D_KIND(f->how);
        if (kind == D_REQUEST_ID) {
            if (f->field)
                s_bug(c, f->name, "a flag of this kind sets no field");
            continue;
        }
        fd = s_field(m->input, f->field);
        bool ok = fd && fd->label != PROTOBUF_C_LABEL_REPEATED &&
                  (kind == D_TEXT ? fd->type == PROTOBUF_C_TYPE_STRING
                   : kind == D_BOOL ? fd->type == PROTOBUF_C_TYPE_BOOL
                   : kind == D_COUNT ? fd->type == PROTOBUF_C_TYPE_UINT32
                   : fd->type == PROTOBUF_C_TYPE_INT64 || fd->type == PROTOBUF_C_TYPE_SINT64 ||
                     fd->type == PROTOBUF_C_TYPE_SFIXED64);
        if (!ok)
            s_bug(c, f->name, "the field does not fit the kind of flag");
    }
}

void cli_delegate_init(void)
{
    for (size_t i = 0; i < D_NCMDS; i++) {
        const d_cmd_t *c = &s_cmds[i];
        s_check(c);
        int n = 0;
        for (const d_flag_t *f = c->flags; f && f->name; f++, n++) {
            if (n == CLI_MAX_FLAGS)
                s_bug(c, f->name, "more than CLI_MAX_FLAGS flags");
            s_cli_flags[i][n] = (cli_flag_t) { f->name, f->arg, f->help, false };
        }
        int npos = c->args[0] ? 1 : 0;
        cli_delegate_cmds[i] = (cli_cmd_t) { c->name, c->args, c->summary, n ? s_cli_flags[i] : NULL,
                                             npos, npos, s_run, c->help };
    }
}
