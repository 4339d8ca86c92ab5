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
