/* cli.h - private to the `rapport` command line: the command table types, the
 * argument parser, the connection and error helpers shared by the command groups,
 * and the output helpers (tables, key: value records, JSON).
 *
 * Exit codes (docs/CLI.md): 0 ok, 1 the service answered an error, 2 usage error,
 * 3 cannot reach the service or timeout, 4 local failure (keys, token, files).
 */
#ifndef RAPPORT_CLI_H
#define RAPPORT_CLI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include "rapport/client.h"

#define RP_CLI_VERSION "0.1.0"

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_SERVICE = 1,       /* the service answered an error */
    CLI_EXIT_USAGE = 2,         /* bad command line */
    CLI_EXIT_UNREACHABLE = 3,   /* cannot reach the service, or timeout */
    CLI_EXIT_LOCAL = 4          /* local failure: keys, token, files */
};

#define CLI_MAX_FLAGS 40
#define CLI_MAX_REPEAT 32
#define CLI_MAX_POS 16

/* A flag of a command: --name ARG, or --name for a boolean (arg NULL). */
typedef struct {
    const char *name;       /* without the dashes: "owner" */
    const char *arg;        /* metavariable ("USER"), NULL for a boolean flag */
    const char *help;
    bool repeat;            /* may be given more than once */
} cli_flag_t;

typedef struct cli cli_t;
typedef struct cli_args cli_args_t;

/* A command: `rapport <group> <name> [args] [flags]`. A group whose only command
 * has the name "" runs it directly (`rapport roles`). */
typedef struct {
    const char *name;
    const char *args;           /* positional synopsis, "ID" or "[SERVICE]" */
    const char *summary;
    const cli_flag_t *flags;    /* NULL-name terminated; may be NULL */
    int min_pos, max_pos;
    int (*run)(cli_t *cli, const cli_args_t *a);
    const char *help;           /* extra paragraph for --help; may be NULL */
} cli_cmd_t;

typedef struct {
    const char *name;
    const char *summary;
    const cli_cmd_t *cmds;      /* NULL-name terminated */
} cli_group_t;

/* Parsed flags and positional arguments of one command. */
struct cli_args {
    const cli_cmd_t *cmd;
    const char *group;
    const char *vals[CLI_MAX_FLAGS][CLI_MAX_REPEAT];
    int nvals[CLI_MAX_FLAGS];
    const char *pos[CLI_MAX_POS];
    int npos;
};

/* The global options and state. */
struct cli {
    bool json;
    int timeout_ms;
    bool timeout_set;           /* --timeout was given */
    const char *token_flag;     /* --token */
    const char *keys_dir;       /* --keys, RAPPORT_KEYS, ./var/keys */
    char *token;                /* resolved token (malloc'd) */
    bool token_from_file;       /* it came from the token file (a saved login or --save) */
    char service[32];           /* the service last connected to, for messages */
    char endpoint[256];         /* and its endpoint */
};

/* ---- flags (main.c) ---- */
/* cli_flag - the last value of --name (booleans: "1"), or NULL when absent. */
const char *cli_flag(const cli_args_t *a, const char *name);
bool cli_flag_set(const cli_args_t *a, const char *name);
int cli_flag_count(const cli_args_t *a, const char *name);
const char *cli_flag_at(const cli_args_t *a, const char *name, int i);
/* cli_usage_error - print "rapport: <msg>" and a --help hint; returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_args_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_local_error - print "rapport: <msg>"; returns CLI_EXIT_LOCAL. */
int cli_local_error(cli_t *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_parse_duration - "90", "90s", "500ms", "15m", "8h", "7d" into ms. 0 or -1. */
int cli_parse_duration(const char *s, int64_t *ms);
/* cli_parse_u64 / cli_parse_i64 - whole-string decimal. 0 or -1. */
int cli_parse_u64(const char *s, uint64_t *out);
int cli_parse_i64(const char *s, int64_t *out);
/* cli_parse_date - "YYYY-MM-DD" (a real calendar date). 0 or -1. */
int cli_parse_date(const char *s, int *y, int *m, int *d);

/* cli_limits_parse - the authority-limit flags value_flag (minor units, 0..10^15)
 * and bp_flag (basis points, 0..10000) into *value and *bp (0 when absent). 0, or
 * -1 after a usage error. */
int cli_limits_parse(const cli_args_t *a, const char *value_flag, const char *bp_flag, int64_t *value,
                     int32_t *bp);
/* cli_parse_time - "YYYY-MM-DD[THH:MM[:SS]][Z]" (UTC; ' ' for 'T') into unix ms. 0 or -1. */
int cli_parse_time(const char *s, int64_t *ms);
/* cli_enum_parse - an enum value from its name, full or short, any case
 * (rp_enum_value); the zero value (UNSPECIFIED) is refused. 0 or -1. */
int cli_enum_parse(const ProtobufCEnumDescriptor *d, const char *text, int *out);
/* cli_enum_choices - the short names of every non-zero value, ", "-separated. */
void cli_enum_choices(const ProtobufCEnumDescriptor *d, char *out, size_t cap);
/* cli_default_currency - $RAPPORT_CURRENCY or "EUR". */
const char *cli_default_currency(void);
/* cli_money_parse - "1234.50" (in currency def) or "1234.50 USD" into units and
 * cur[4]. 0, or -1 with why (the rule) filled. */
int cli_money_parse(const char *text, const char *def, int64_t *units, char cur[4], char *why, size_t cap);

/* ---- connection (cli_conn.c) ---- */
/* cli_get_token - resolve the token (--token, RAPPORT_TOKEN, token file). When
 * required and none is found, print why and return CLI_EXIT_LOCAL; else 0 with
 * cli->token set (possibly NULL when not required). */
int cli_get_token(cli_t *cli, bool required);
/* cli_token_file - the token file path into out. */
void cli_token_file(char *out, size_t cap);
/* cli_connect - a client of service `name` with our CURVE identity and the token.
 * 0, or an exit code after printing why. */
int cli_connect(cli_t *cli, const char *name, rp_client_t **out);
/* cli_service_keys - the server's public key (RAPPORT_<NAME>_PUBLIC_KEY or
 * <keys>/<name>.cert) and our CURVE identity (RAPPORT_CLIENT_CERT or "cli"). 0, or
 * CLI_EXIT_LOCAL with *why filled. */
int cli_service_keys(cli_t *cli, const char *name, char server_key[41], rp_curve_t **me,
                     char *why, size_t cap);
/* cli_connect_quiet - the same without printing; *why gets a message. */
int cli_connect_quiet(cli_t *cli, const char *name, rp_client_t **out, char *why, size_t cap);
/* cli_call - rp_client_call with the CLI's timeout; on failure prints the status
 * (code name, message, each field violation) and returns the exit code. */
int cli_call(cli_t *cli, rp_client_t *c, const char *id, const char *method,
             const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
             ProtobufCMessage **out);
/* cli_call_status - the same without printing: the status code, with *out
 * (free_unpacked) on RP_OK and *st filled otherwise (for cli_print_status). */
int cli_call_status(cli_t *cli, rp_client_t *c, const char *id, const char *method,
                    const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
                    ProtobufCMessage **out, rp_call_status_t *st);
/* cli_status_exit - the exit code for a status code. */
int cli_status_exit(int code);
/* cli_print_status - print a failed status (stderr, or a JSON error on stdout). */
void cli_print_status(cli_t *cli, const rp_call_status_t *st);

/* ---- output (cli_output.c) ---- */
typedef struct cli_table cli_table_t;
cli_table_t *cli_table_new(int ncols, const char *const *headers);
void cli_table_add(cli_table_t *t, const char *const *cells);
/* cli_table_set_cut - cut cells wider than max columns with "…" (default 40; 0 = never). */
void cli_table_set_cut(cli_table_t *t, size_t max);
void cli_table_print(cli_table_t *t, FILE *f);
void cli_table_destroy(cli_table_t **t_p);
/* cli_field_text - the human text of a field path ("company.name", "value") of m,
 * malloc'd ("" when unset). Money as "1234.50 EUR", dates as 2026-03-31, enum
 * values by short name, *_at / time / from / until int64 fields (unix ms) as RFC 3339. */
char *cli_field_text(const ProtobufCMessage *m, const char *path);
/* cli_print_record - one record as key: value lines (nested fields dotted). */
void cli_print_record(const ProtobufCMessage *m, FILE *f);
/* cli_print_json - dump j (indented) with a newline to stdout; steals nothing. */
void cli_print_json(json_t *j);
/* cli_print_message - --json: the message as JSON; else cli_print_record. */
void cli_print_message(cli_t *cli, const ProtobufCMessage *m);
/* cli_enum_short - an enum value's name without its common prefix, lower-case
 * ("LEAD_STAGE_WON" -> "won") into out. */
void cli_enum_short(const ProtobufCEnumDescriptor *d, int value, char *out, size_t cap);
/* cli_format_time - unix ms as RFC 3339 ("" for 0). */
void cli_format_time(int64_t ms, char *out, size_t cap);
/* cli_find_descriptor - a message descriptor by full name ("rapport.leads.v1.Lead"). */
const ProtobufCMessageDescriptor *cli_find_descriptor(const char *full_name);

/* ---- the table-driven command engine (cli_engine.c) ----
 *
 * A command group that maps commands onto the methods of one protobuf service is
 * just its tables: a row per command (cli_erow_t) naming the method, the request
 * fields its positional arguments fill, a preset field, its flags and how the reply
 * prints; a row per flag (cli_eflag_t) naming the request field its value goes to
 * (a path such as "company.name") and how its text becomes a value. The request is
 * built as JSON and made a message by rp_pb_from_json; the service checks the rules
 * and names the field of any violation, which cli_call prints. cli_engine_init
 * checks every row against the service's descriptors (a row that does not fit is a
 * programming error: abort) and fills the cli_cmd_t table main.c parses against.
 */

/* How the text of a flag becomes part of the request: the low five bits of
 * cli_eflag_t.how. Kinds from CLI_F_CUSTOM on are the engine's kinds[] rows. */
enum {
    CLI_F_TEXT,         /* a string field, as given */
    CLI_F_ENUM,         /* an enum field, by name: "won" or "LEAD_STAGE_WON", any case */
    CLI_F_UINT,         /* a uint32 field: a whole number from 0 to CLI_F_MAX */
    CLI_F_BOOL,         /* a bool field: true when the flag is given */
    CLI_F_DATE,         /* a rapport.v1.Date field: YYYY-MM-DD */
    CLI_F_TIME,         /* a unix-ms int64 field: YYYY-MM-DD[THH:MM[:SS]], UTC */
    CLI_F_UNTIL,        /* the same, but a bare date means the end of that day */
    CLI_F_MONEY,        /* a rapport.v1.Money field: AMOUNT [CURRENCY], else --currency */
    CLI_F_PERCENT,      /* a basis-point uint32 field: 2.5 or 2.5% */
    CLI_F_CLEAR,        /* no value: the field goes into update_mask unset, which clears it */
    CLI_F_SECRET,       /* not a flag: a secret for the string field, read after the request
                         * is built (cli_read_new_secret; the row's name is what the prompt
                         * calls it) and put into the message only, never into JSON */
    CLI_F_CURRENCY,     /* not a field: the currency of CLI_F_MONEY values (the command's
                         * CLI_F_MONEY flag must come with it) */
    CLI_F_REQUEST_ID,   /* not a field: the call's idempotency key */
    CLI_F_FROM_JSON,    /* not a field: the whole request from a JSON file */
    CLI_F_PAGING,       /* not a field: --page-size, --page-token, --all (list views) */
    CLI_F_LOCAL,        /* not a field: read by the row's own run function */
    CLI_F_CUSTOM = 16   /* and up: kinds[how - CLI_F_CUSTOM] of the engine */
};
#define CLI_F_KIND(how)   ((int) ((how) & 0x1f))

/* Options, or'ed into cli_eflag_t.how. A run of adjacent CLI_F_BOTH or CLI_F_EITHER
 * flags is a group. */
#define CLI_F_REQUIRED  0x20u   /* must be given (CLI_F_BOTH: every flag of the group); in
                                 * a command with --from-json, unless that is given */
#define CLI_F_MASK      0x40u   /* an entity field: into update_mask; not with --from-json */
#define CLI_F_WITH_JSON 0x80u   /* applied on top of --from-json (others are ignored there) */
#define CLI_F_BOTH      0x100u  /* the group goes together */
#define CLI_F_EITHER    0x200u  /* one flag of the group at least is required */
#define CLI_F_NONEMPTY  0x400u  /* CLI_F_TEXT: an empty value is refused */
#define CLI_F_MASK_WHOLE 0x800u /* with CLI_F_MASK: the mask names the path's first field (a
                                 * message set whole: "address" for "address.city") */
#define CLI_F_MAX(n)    ((uint32_t) (n) << 12)  /* CLI_F_UINT: the largest value (< 2^20) */
#define CLI_F_MAX_OF(how) ((how) >> 12)

/* A flag: --name ARG sets field of the request; "Method/field" picks that method too
 * (a filter: filters of different methods exclude each other). A flag that sets a
 * repeated field may be given more than once. */
typedef struct {
    const char *name;
    const char *arg;        /* metavariable; NULL for a flag without a value */
    const char *field;      /* a path such as "company.name"; NULL when not a field */
    uint32_t how;           /* kind | options */
    const char *help;
} cli_eflag_t;

#define CLI_EFLAG_END { NULL, NULL, NULL, 0, NULL }
/* The flags most command groups share: the idempotency key of a write, and the
 * paging of a list. */
#define CLI_EFLAG_REQUEST_ID \
    { "request-id", "ULID", NULL, CLI_F_REQUEST_ID, "idempotency key: a retry with the same id changes nothing twice" }
#define CLI_EFLAG_PAGING \
    { "page-size",  "N",     NULL, CLI_F_PAGING, "rows per page, 1..500 (default 50)" }, \
    { "page-token", "TOKEN", NULL, CLI_F_PAGING, "continue where a previous page ended" }, \
    { "all",        NULL,    NULL, CLI_F_PAGING, "follow the pages to the end" }

/* A kind of flag of one engine (CLI_F_CUSTOM + i): the field it fits and its parser,
 * which returns the JSON value of one text, or NULL after a usage error. */
typedef struct {
    ProtobufCType type;
    const char *message;    /* with PROTOBUF_C_TYPE_MESSAGE: the full name, or NULL */
    json_t *(*parse)(const cli_args_t *a, const cli_eflag_t *f, const ProtobufCFieldDescriptor *fd,
                     const char *text);
} cli_ekind_t;

enum {
    CLI_COL_TEXT,           /* as cli_field_text has it */
    CLI_COL_DAY,            /* the date of a time */
    CLI_COL_BP,             /* basis points as a percentage */
    CLI_COL_CELL            /* the view's cell function makes it (path is its key) */
};

/* A column of a table: the header and a field path of the row's message. */
typedef struct {
    const char *header;
    const char *path;
    int form;
} cli_ecol_t;

typedef struct cli_ecall cli_ecall_t;

/* How a command calls and prints beyond the default (one call, the reply as key:
 * value lines; with --json always as JSON). Rows use designated initialisers. */
typedef struct {
    const char *items;      /* a list: the reply's repeated field, one table row each
                             * (paged when the request has page_size/page_token) */
    const char *none;       /* and what "no ... found" says */
    const cli_ecol_t *cols;
    /* cell - a CLI_COL_CELL cell of row (malloc'd). */
    char *(*cell)(const ProtobufCMessage *row, const char *key);
    /* print - one reply printed so (not with --json). */
    void (*print)(cli_t *cli, const cli_args_t *a, const ProtobufCMessage *reply);
    /* run - instead of calling and printing: the request is built; returns the exit code. */
    int (*run)(cli_t *cli, const cli_args_t *a, cli_ecall_t *call);
    /* page_max - the largest --page-size of a list, refused outside 1..page_max as "a
     * whole number from 1 to page_max"; 0: 1..500 in the leads groups' wording. */
    unsigned page_max;
    /* follow - follow every page unless --page-size or --page-token is given (a list
     * without --all). Without --all a list prints one page. */
    bool follow;
} cli_eview_t;

/* A command. A synopsis word in [] is optional (its request field stays unset). */
typedef struct {
    const char *name;
    const char *args;       /* positional synopsis: "LEAD OFFER" */
    const char *pos[2];     /* the request fields of the positional arguments */
    const char *method;     /* of the engine's service */
    const char *preset;     /* "field=value[&field=value...]" (values as JSON, else
                             * strings), or NULL; a preset update_mask is added to */
    const cli_eflag_t *flags;
    const cli_eview_t *view;    /* NULL: the reply as key: value lines */
    const char *summary;
    const char *help;       /* extra paragraph for --help, or NULL */
} cli_erow_t;

/* One command group on one service. */
typedef struct {
    const char *group;      /* for messages: "leads" */
    const char *service;    /* cli_connect's name: "leads" */
    const ProtobufCServiceDescriptor *svc;
    const cli_erow_t *rows;
    size_t nrows;
    const cli_ekind_t *kinds;   /* CLI_F_CUSTOM kinds, or NULL */
    size_t nkinds;
    cli_cmd_t *cmds;            /* nrows + 1: filled by cli_engine_init */
    cli_flag_t (*flags)[CLI_MAX_FLAGS + 1];     /* nrows: the same */
} cli_engine_t;

/* CLI_ENGINE_GROUP - define the command table var (for main.c's s_groups) of the
 * group `name` made of the cli_erow_t array rows on service svc_name (cli_connect's
 * name) with descriptor svc and kinds (an array, or NULL with nkinds 0), and its
 * engine var##_engine for cli_engine_init. */
#define CLI_ENGINE_GROUP(var, rows_, name, svc_name, svc_, kinds_, nkinds_) \
    cli_cmd_t var[sizeof rows_ / sizeof rows_[0] + 1]; \
    static cli_flag_t var##_flags[sizeof rows_ / sizeof rows_[0]][CLI_MAX_FLAGS + 1]; \
    static const cli_engine_t var##_engine = { \
        .group = name, .service = svc_name, .svc = svc_, .rows = rows_, \
        .nrows = sizeof rows_ / sizeof rows_[0], .kinds = kinds_, .nkinds = nkinds_, \
        .cmds = var, .flags = var##_flags }

/* A call as the engine built it from the command line. */
struct cli_ecall {
    const cli_engine_t *engine;
    const cli_erow_t *row;
    const ProtobufCMethodDescriptor *method;
    char name[128];             /* "rapport.leads.v1.Leads/Create" */
    json_t *req;                /* the request, as JSON */
    const char *id;             /* --request-id, or NULL */
};

/* cli_engine_init - check every row of e against its descriptors (abort when one does
 * not fit) and fill e->cmds; e must stay valid for the process (it is registered).
 * The commands may be copied into a group's table behind local commands
 * (cli_engine_join): a command is found by its group and name then. */
void cli_engine_init(const cli_engine_t *e);
/* cli_engine_join - cli_engine_init(e), then out = the local commands (NULL-name
 * terminated) followed by e's; out has room for cap commands and the terminator. */
void cli_engine_join(const cli_engine_t *e, const cli_cmd_t *local, cli_cmd_t *out, size_t cap);
/* cli_engine_message - the request message of call (protobuf_c_message_free_unpacked). */
ProtobufCMessage *cli_engine_message(const cli_ecall_t *call);
/* cli_engine_connect - the token and a client of call's service; 0 or the exit code. */
int cli_engine_connect(cli_t *cli, const cli_ecall_t *call, rp_client_t **c);
/* cli_engine_show - the default run: one call, the reply printed by the view or as
 * key: value lines (--json: JSON). */
int cli_engine_show(cli_t *cli, const cli_args_t *a, cli_ecall_t *call);
/* cli_engine_list - the default run of a view with items: page through the list. */
int cli_engine_list(cli_t *cli, const cli_args_t *a, cli_ecall_t *call);
/* cli_engine_table_new / _add - a table of cols; a row for each item of the repeated
 * field items of m. view may be NULL when no column is CLI_COL_CELL. */
cli_table_t *cli_engine_table_new(const cli_ecol_t *cols);
void cli_engine_table_add(cli_table_t *t, const cli_eview_t *view, const cli_ecol_t *cols,
                          const ProtobufCMessage *m, const char *items);
/* cli_engine_bad - a usage error (cli_usage_error) that returns NULL, for parsers. */
json_t *cli_engine_bad(const cli_args_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_engine_enum / _money - the JSON of an enum value or a Money given to --flag. */
json_t *cli_engine_enum(const cli_args_t *a, const char *flag, const ProtobufCEnumDescriptor *d, const char *text);
json_t *cli_engine_money(const cli_args_t *a, const char *flag, const char *text);
/* cli_engine_percent / _date - the JSON of a percentage ("2.5", "2.5%": basis points)
 * or a date (YYYY-MM-DD: a rapport.v1.Date) given to --flag, for a kind's parser. */
json_t *cli_engine_percent(const cli_args_t *a, const char *flag, const char *text);
json_t *cli_engine_date(const cli_args_t *a, const char *flag, const char *text);
/* cli_engine_trim - s without leading and trailing white space (in place). */
char *cli_engine_trim(char *s);
/* cli_engine_set - put v (stolen) at path ("company.name") of obj, making the objects
 * on the way. */
void cli_engine_set(json_t *obj, const char *path, json_t *v);
/* cli_engine_field - the field at path ("company.name") of messages of d, or NULL. */
const ProtobufCFieldDescriptor *cli_engine_field(const ProtobufCMessageDescriptor *d, const char *path);

/* ---- command groups ---- */
/* The local keys commands (init, jwks); cli_users_init adds identity's
 * register, revoke and list to them in cli_keys_cmds. */
extern const cli_cmd_t cli_keys_local_cmds[];
extern cli_cmd_t cli_keys_cmds[];
/* `token mint` (cli_token.c); cli_users_init adds identity's `token revoke`. */
extern const cli_cmd_t cli_token_local_cmds[];
extern cli_cmd_t cli_token_cmds[];
extern const cli_cmd_t cli_roles_cmds[];
extern const cli_cmd_t cli_health_cmds[];
extern const cli_cmd_t cli_events_cmds[];
extern const cli_cmd_t cli_audit_cmds[];
/* The leads commands are built from their table (cli_leads.c) by cli_leads_init,
 * which main() calls before it parses the command line. */
extern cli_cmd_t cli_leads_cmds[];
void cli_leads_init(void);
extern const cli_cmd_t cli_import_cmds[];
/* The accounts commands (cli_accounts.c), built from their tables by cli_accounts_init. */
extern cli_cmd_t cli_clients_cmds[];
extern cli_cmd_t cli_contacts_cmds[];
extern cli_cmd_t cli_interactions_cmds[];
extern cli_cmd_t cli_tasks_cmds[];
extern cli_cmd_t cli_timeline_cmds[];
extern cli_cmd_t cli_portfolio_cmds[];
extern cli_cmd_t cli_export_cmds[];
void cli_accounts_init(void);
/* The contracts commands (cli_contracts.c): quotes, contracts and orders, built from
 * their tables by cli_contracts_init. */
extern cli_cmd_t cli_quotes_cmds[];
extern cli_cmd_t cli_contracts_cmds[];
extern cli_cmd_t cli_orders_cmds[];
void cli_contracts_init(void);

/* The identity commands (cli_login.c, cli_users.c). */
extern const cli_cmd_t cli_login_cmds[];
extern const cli_cmd_t cli_logout_cmds[];
extern const cli_cmd_t cli_whoami_cmds[];
extern const cli_cmd_t cli_passwd_cmds[];
extern cli_cmd_t cli_users_cmds[];
extern cli_cmd_t cli_org_cmds[];
void cli_users_init(void);
/* The delegation commands (cli_delegate.c), built from their table by cli_delegate_init. */
extern cli_cmd_t cli_delegate_cmds[];
void cli_delegate_init(void);
/* cli_login_drop_own - forget a substitute's own login kept aside by `login --as`
 * (<token file>.own and .own.refresh), when a new login or saved token replaces it. */
void cli_login_drop_own(void);
/* cli_keys_jwks - `rapport keys jwks`: Identity/Jwks as JSON. */
int cli_keys_jwks(cli_t *cli, const cli_args_t *a);
/* cli_login_refresh - when cli->token (read from the token file) has expired or
 * expires within a minute and a refresh file lies beside it, trade that for a new
 * pair (Identity/Refresh), rewrite both files and replace cli->token. Failures are
 * warnings on stderr; cli->token then stays as it was. */
void cli_login_refresh(cli_t *cli);
/* cli_identity_call - call Identity/<method> without printing: the status code, with
 * *out (free_unpacked) on RP_OK and *st filled otherwise (for cli_print_status). */
int cli_identity_call(cli_t *cli, rp_client_t *c, const char *id, const char *method,
                      const ProtobufCMessage *in, ProtobufCMessage **out, rp_call_status_t *st);
/* cli_read_secret - one line: from the terminal without echo after prompt (on
 * stderr), else from stdin (scripts). 0; -1 at the end of input; -2 when longer than
 * cap - 2 bytes. The caller wipes buf (sodium_memzero). */
int cli_read_secret(const char *prompt, char *buf, size_t cap);
/* cli_read_new_secret - a new password (what: "new password"): on a terminal asked
 * twice, which must agree; else one line of stdin. Empty is refused. 0 or the exit
 * code after printing why. */
int cli_read_new_secret(const cli_args_t *a, const char *what, const char *prompt, char *buf, size_t cap);

/* The generated table of every known message descriptor (cli_registry.c). */
extern const ProtobufCMessageDescriptor *const cli_registry[];

#endif
