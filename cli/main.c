/* main.c - the `rapport` command line: the command table (as data), the global
 * flags, the argument parser and --help. Each command group lives in its own file
 * (cli_<group>.c) and exports a table of commands; this file only dispatches.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "rapport/clock.h"
#include "rapport/keys.h"
#include "rapport/log.h"
#include "rapport/money.h"
#include "rapport/pbjson.h"
#include "rapport/util.h"
#include "rapport/services.h"

/* The command table: every group, in the order --help lists them. */
static const cli_group_t s_groups[] = {
    { "login",  "log in to rapport-identity and save the login",     cli_login_cmds },
    { "logout", "revoke the login and delete it",                   cli_logout_cmds },
    { "whoami", "who the current token says you are",               cli_whoami_cmds },
    { "passwd", "change a password",                                cli_passwd_cmds },
    { "users",  "users and their roles (rapport.identity.v1.Identity)", cli_users_cmds },
    { "org",    "the org tree and personnel orders: appoint, move, dismiss (rapport.identity.v1.Identity)", cli_org_cmds },
    { "delegate", "let a substitute act for an absent user",        cli_delegate_cmds },
    { "keys",   "create the suite's keys; print the JWKS; client keys registered in identity", cli_keys_cmds },
    { "token",  "mint bearer tokens; revoke one at identity",        cli_token_cmds },
    { "roles",  "print the role/permission table",                  cli_roles_cmds },
    { "health", "ask services for System/Health",                   cli_health_cmds },
    { "events", "print events as CloudEvents JSON lines",           cli_events_cmds },
    { "audit",  "verify a service's audit hash chain",              cli_audit_cmds },
    { "leads",  "leads and opportunities (rapport.leads.v1.Leads)", cli_leads_cmds },
    { "clients", "the client base (rapport.accounts.v1.Accounts)",  cli_clients_cmds },
    { "contacts", "clients' contact persons, consent, erasure",     cli_contacts_cmds },
    { "interactions", "calls, meetings, e-mails... with clients",   cli_interactions_cmds },
    { "tasks",  "tasks: yours today, overdue, the day plan",        cli_tasks_cmds },
    { "timeline", "a client's 360 timeline",                        cli_timeline_cmds },
    { "portfolio", "a manager's clients, last contact, open tasks", cli_portfolio_cmds },
    { "import", "bulk imports from CSV files",                      cli_import_cmds },
    { "export", "audited exports of the client base",               cli_export_cmds },
    { "quotes", "commercial offers (rapport.contracts.v1.Contracts)", cli_quotes_cmds },
    { "contracts", "contracts: approval, signature, documents, renewals", cli_contracts_cmds },
    { "orders", "orders under active contracts, hand-offs, deliveries", cli_orders_cmds },
    { NULL, NULL, NULL }
};

/* The global flags, accepted anywhere on the line. */
static const cli_flag_t s_global_flags[] = {
    { "json",    NULL,       "machine-readable JSON output (errors too, on stdout)", false },
    { "token",   "TOKEN",    "bearer token (else $RAPPORT_TOKEN, else the token file)", false },
    { "timeout", "DURATION", "how long to wait for a service: 10s (default), 500ms, 2m", false },
    { "keys",    "DIR",      "keys directory (else $RAPPORT_KEYS, else ./var/keys)", false },
    { "help",    NULL,       "help for rapport, a group or a command (also -h)", false },
    { "version", NULL,       "print the version", false },
    { NULL, NULL, NULL, false }
};

/* ---- flag access ---- */

static int s_flag_index(const cli_cmd_t *cmd, const char *name)
{
    if (!cmd->flags)
        return -1;
    for (int i = 0; cmd->flags[i].name; i++)
        if (strcmp(cmd->flags[i].name, name) == 0)
            return i;
    return -1;
}

const char *cli_flag(const cli_args_t *a, const char *name)
{
    int i = s_flag_index(a->cmd, name);
    if (i < 0) {    /* a programming error: the command's table lacks the flag */
        fprintf(stderr, "rapport: internal error: command %s has no flag --%s\n", a->cmd->name, name);
        abort();
    }
    return a->nvals[i] ? a->vals[i][a->nvals[i] - 1] : NULL;
}

bool cli_flag_set(const cli_args_t *a, const char *name)
{
    return cli_flag(a, name) != NULL;
}

int cli_flag_count(const cli_args_t *a, const char *name)
{
    int i = s_flag_index(a->cmd, name);
    return i < 0 ? 0 : a->nvals[i];
}

const char *cli_flag_at(const cli_args_t *a, const char *name, int n)
{
    int i = s_flag_index(a->cmd, name);
    if (i < 0 || n < 0 || n >= a->nvals[i])
        return NULL;
    return a->vals[i][n];
}

int cli_usage_error(const cli_args_t *a, const char *fmt, ...)
{
    va_list ap;
    fputs("rapport: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (a && a->cmd) {
        if (a->cmd->name[0])
            fprintf(stderr, "Try 'rapport %s %s --help'.\n", a->group, a->cmd->name);
        else
            fprintf(stderr, "Try 'rapport %s --help'.\n", a->group);
    } else {
        fputs("Try 'rapport --help'.\n", stderr);
    }
    return CLI_EXIT_USAGE;
}

int cli_local_error(cli_t *cli, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cli && cli->json) {
        json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", "LOCAL", "message", msg);
        cli_print_json(j);
        json_decref(j);
    } else {
        fprintf(stderr, "rapport: %s\n", msg);
    }
    return CLI_EXIT_LOCAL;
}

/* ---- small parsers ---- */

int cli_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int cli_limits_parse(const cli_args_t *a, const char *value_flag, const char *bp_flag, int64_t *value,
                     int32_t *bp)
{
    uint64_t v = 0, b = 0;
    const char *vs = cli_flag(a, value_flag), *bs = cli_flag(a, bp_flag);
    *value = 0;
    *bp = 0;
    if (vs && (cli_parse_u64(vs, &v) != 0 || v > 1000000000000000ULL)) {
        cli_usage_error(a, "--%s: must be a whole number of minor units from 0 to 10^15, got '%s'",
                        value_flag, vs);
        return -1;
    }
    if (bs && (cli_parse_u64(bs, &b) != 0 || b > 10000)) {
        cli_usage_error(a, "--%s: must be a whole number of basis points from 0 to 10000, got '%s'",
                        bp_flag, bs);
        return -1;
    }
    *value = (int64_t) v;
    *bp = (int32_t) b;
    return 0;
}

int cli_parse_duration(const char *s, int64_t *ms)
{
    if (!s || !isdigit((unsigned char) *s))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || v < 0)
        return -1;
    int64_t mul;
    if (*end == 0 || strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "m") == 0)
        mul = 60 * 1000;
    else if (strcmp(end, "h") == 0)
        mul = 3600 * 1000;
    else if (strcmp(end, "d") == 0)
        mul = 86400 * 1000;
    else
        return -1;
    if (v > INT64_MAX / mul)
        return -1;
    *ms = v * mul;
    return 0;
}

int cli_parse_date(const char *s, int *y, int *m, int *d)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char) s[i]))
            return -1;
    *y = atoi(s);
    *m = atoi(s + 5);
    *d = atoi(s + 8);
    return rp_date_valid(*y, *m, *d) ? 0 : -1;
}

int cli_parse_time(const char *s, int64_t *ms)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    char date[11];
    if (!s || strlen(s) < 10)
        return -1;
    memcpy(date, s, 10);
    date[10] = 0;
    if (cli_parse_date(date, &y, &mo, &d) != 0)
        return -1;
    const char *p = s + 10;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        int n = 0;
        if (sscanf(p, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5)
            return -1;
        p += n;
        if (*p == ':') {
            if (sscanf(p, ":%2d%n", &se, &n) != 1 || n != 3)
                return -1;
            p += n;
        }
        if (h > 23 || mi > 59 || se > 60)
            return -1;
    }
    if (*p == 'Z' || *p == 'z')
        p++;
    if (*p)
        return -1;
    *ms = ((int64_t) rp_date_to_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) * 1000;
    return 0;
}

int cli_enum_parse(const ProtobufCEnumDescriptor *d, const char *text, int *out)
{
    int v;
    if (!text || !*text || rp_enum_value(d, text, &v) != 0 || v == 0)
        return -1;
    *out = v;
    return 0;
}

void cli_enum_choices(const ProtobufCEnumDescriptor *d, char *out, size_t cap)
{
    out[0] = 0;
    for (unsigned i = 0; i < d->n_values; i++) {
        if (d->values[i].value == 0)
            continue;
        char name[96];
        cli_enum_short(d, d->values[i].value, name, sizeof name);
        if (out[0])
            strncat(out, ", ", cap - strlen(out) - 1);
        strncat(out, name, cap - strlen(out) - 1);
    }
}

const char *cli_default_currency(void)
{
    const char *c = getenv("RAPPORT_CURRENCY");
    return c && *c ? c : "EUR";
}

int cli_money_parse(const char *text, const char *def, int64_t *units, char cur[4], char *why, size_t cap)
{
    char amount[64];
    const char *sp = strchr(text, ' ');
    const char *c = def;
    if (sp) {
        size_t n = (size_t) (sp - text);
        if (n >= sizeof amount) {
            snprintf(why, cap, "amount too long");
            return -1;
        }
        memcpy(amount, text, n);
        amount[n] = 0;
        while (*sp == ' ')
            sp++;
        c = sp;
    } else {
        rp_strlcpy(amount, text, sizeof amount);
    }
    char code[8];
    size_t cl = strlen(c);
    if (cl != 3) {
        snprintf(why, cap, "currency must be a 3-letter ISO 4217 code, got '%s'", c);
        return -1;
    }
    for (size_t i = 0; i < 3; i++)
        code[i] = (char) toupper((unsigned char) c[i]);
    code[3] = 0;
    if (!rp_currency_valid(code)) {
        snprintf(why, cap, "unknown currency '%s' (ISO 4217)", code);
        return -1;
    }
    if (rp_money_parse(amount, code, units) != 0) {
        snprintf(why, cap, "must be an amount such as 1234.50 with at most %d decimals, got '%s'",
                 rp_currency_exponent(code), amount);
        return -1;
    }
    memcpy(cur, code, 4);
    return 0;
}

/* ---- help ---- */

static void s_synopsis(const cli_group_t *g, const cli_cmd_t *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s%s%s", g->name, c->name[0] ? " " : "", c->name,
             c->args && c->args[0] ? " " : "", c->args ? c->args : "");
}

static void s_print_flags(const cli_flag_t *flags, FILE *f, const char *indent)
{
    for (int i = 0; flags && flags[i].name; i++) {
        char left[96];
        snprintf(left, sizeof left, "--%s%s%s", flags[i].name, flags[i].arg ? " " : "",
                 flags[i].arg ? flags[i].arg : "");
        fprintf(f, "%s%-28s %s%s\n", indent, left, flags[i].help,
                flags[i].repeat ? " (repeatable)" : "");
    }
}

static void s_help_top(FILE *f)
{
    fprintf(f,
        "rapport %s - the command line of Rapport, the account-management back office.\n"
        "\n"
        "Usage: rapport [global flags] <command> [arguments] [flags]\n"
        "\n"
        "Commands:\n", RP_CLI_VERSION);
    for (const cli_group_t *g = s_groups; g->name; g++)
        for (const cli_cmd_t *c = g->cmds; c->name; c++) {
            char syn[128];
            s_synopsis(g, c, syn, sizeof syn);
            fprintf(f, "  %-40s %s\n", syn, c->summary);
        }
    fputs("\nGlobal flags (anywhere on the line):\n", f);
    s_print_flags(s_global_flags, f, "  ");
    fputs(
        "\n"
        "Environment:\n"
        "  RAPPORT_KEYS                 keys directory (./var/keys)\n"
        "  RAPPORT_TOKEN                bearer token\n"
        "  RAPPORT_TOKEN_FILE           token file (~/.config/rapport/token; must be mode 0600);\n"
        "                               'rapport login' keeps its refresh token in <file>.refresh\n"
        "  RAPPORT_CLIENT_CERT          name of our CURVE cert in the keys directory (cli)\n"
        "  RAPPORT_<NAME>_ENDPOINT      RPC endpoint of service <NAME> (tcp://127.0.0.1:<port>)\n"
        "  RAPPORT_<NAME>_PUB_ENDPOINT  event endpoint of service <NAME>\n"
        "  RAPPORT_<NAME>_PUBLIC_KEY    Z85 public key of service <NAME> (else <keys>/<name>.cert)\n"
        "\n"
        "Exit codes:\n"
        "  0  ok\n"
        "  1  the service answered an error (its status, message and field violations are printed)\n"
        "  2  usage error\n"
        "  3  cannot reach the service, or timeout (UNAVAILABLE)\n"
        "  4  local failure: unreadable keys or token, files\n"
        "\n"
        "'rapport <command> --help' describes a command group; see also docs/CLI.md.\n", f);
}

static void s_help_cmd(const cli_group_t *g, const cli_cmd_t *c, FILE *f)
{
    char syn[128];
    s_synopsis(g, c, syn, sizeof syn);
    fprintf(f, "rapport %s%s\n  %s\n", syn, c->flags && c->flags[0].name ? " [flags]" : "", c->summary);
    if (c->flags && c->flags[0].name) {
        fputs("  Flags:\n", f);
        s_print_flags(c->flags, f, "    ");
    }
    if (c->help)
        fprintf(f, "  %s\n", c->help);
}

static void s_help_group(const cli_group_t *g, FILE *f)
{
    fprintf(f, "rapport %s - %s\n\n", g->name, g->summary);
    for (const cli_cmd_t *c = g->cmds; c->name; c++) {
        s_help_cmd(g, c, f);
        fputc('\n', f);
    }
    fputs("Global flags: --json, --token TOKEN, --timeout DURATION, --keys DIR (see 'rapport --help').\n", f);
}

/* ---- dispatch ---- */

static const cli_flag_t *s_find_flag(const cli_flag_t *flags, const char *name, int *idx)
{
    for (int i = 0; flags && flags[i].name; i++)
        if (strcmp(flags[i].name, name) == 0) {
            if (idx)
                *idx = i;
            return &flags[i];
        }
    return NULL;
}

/* s_global - apply a global flag; 1 when it asks for help, 2 for the version, 0
 * when applied, -1 on a bad value. */
static int s_global(cli_t *cli, const char *name, const char *val)
{
    if (strcmp(name, "json") == 0)
        cli->json = true;
    else if (strcmp(name, "token") == 0)
        cli->token_flag = val;
    else if (strcmp(name, "keys") == 0)
        cli->keys_dir = val;
    else if (strcmp(name, "help") == 0)
        return 1;
    else if (strcmp(name, "version") == 0)
        return 2;
    else if (strcmp(name, "timeout") == 0) {
        int64_t ms;
        if (cli_parse_duration(val, &ms) != 0 || ms <= 0 || ms > 3600 * 1000) {
            fprintf(stderr, "rapport: --timeout: must be a duration from 1ms to 1h such as 10s or 500ms, got '%s'\n", val);
            return -1;
        }
        cli->timeout_ms = (int) ms;
        cli->timeout_set = true;
    }
    return 0;
}

/* s_take_flag - parse argv[*i] as --name[=value] against the global flags and
 * (when cmd) the command's flags. Returns 0 applied, 1 help, 2 version, -1 error. */
static int s_take_flag(cli_t *cli, cli_args_t *a, const cli_cmd_t *cmd, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    if (strcmp(arg, "-h") == 0)
        return 1;
    char name[64];
    const char *eq = strchr(arg + 2, '=');
    size_t nlen = eq ? (size_t) (eq - (arg + 2)) : strlen(arg + 2);
    if (nlen == 0 || nlen >= sizeof name) {
        cli_usage_error(a, "unknown flag '%s'", arg);
        return -1;
    }
    memcpy(name, arg + 2, nlen);
    name[nlen] = 0;
    int idx = -1;
    const cli_flag_t *gf = s_find_flag(s_global_flags, name, NULL);
    const cli_flag_t *cf = gf ? NULL : (cmd ? s_find_flag(cmd->flags, name, &idx) : NULL);
    const cli_flag_t *f = gf ? gf : cf;
    if (!f) {
        cli_usage_error(a, "unknown flag --%s", name);
        return -1;
    }
    const char *val = "1";
    if (f->arg) {
        if (eq)
            val = eq + 1;
        else if (*i + 1 < argc)
            val = argv[++*i];
        else {
            cli_usage_error(a, "--%s needs a value (%s)", name, f->arg);
            return -1;
        }
    } else if (eq) {
        cli_usage_error(a, "--%s takes no value", name);
        return -1;
    }
    if (gf) {
        int rc = s_global(cli, name, val);
        return rc < 0 ? (cli_usage_error(a, "bad --%s", name), -1) : rc;
    }
    if (a->nvals[idx] > 0 && !f->repeat) {
        cli_usage_error(a, "--%s given twice", name);
        return -1;
    }
    if (a->nvals[idx] >= CLI_MAX_REPEAT) {
        cli_usage_error(a, "--%s given more than %d times", name, CLI_MAX_REPEAT);
        return -1;
    }
    a->vals[idx][a->nvals[idx]++] = val;
    return 0;
}

static int s_run(int argc, char **argv)
{
    cli_t cli = { .timeout_ms = 10000 };
    cli_args_t args;
    memset(&args, 0, sizeof args);
    int i = 1;

    while (i < argc && argv[i][0] == '-' && argv[i][1]) {
        int rc = s_take_flag(&cli, &args, NULL, argc, argv, &i);
        if (rc < 0)
            return CLI_EXIT_USAGE;
        if (rc == 1) {
            s_help_top(stdout);
            return CLI_EXIT_OK;
        }
        if (rc == 2) {
            printf("rapport %s\n", RP_CLI_VERSION);
            return CLI_EXIT_OK;
        }
        i++;
    }
    if (i >= argc) {
        s_help_top(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0) {
        s_help_top(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[i], "version") == 0) {
        printf("rapport %s\n", RP_CLI_VERSION);
        return CLI_EXIT_OK;
    }
    const cli_group_t *g = NULL;
    for (const cli_group_t *p = s_groups; p->name; p++)
        if (strcmp(p->name, argv[i]) == 0)
            g = p;
    if (!g) {
        fprintf(stderr, "rapport: unknown command '%s'; commands:", argv[i]);
        for (const cli_group_t *p = s_groups; p->name; p++)
            fprintf(stderr, " %s", p->name);
        fputs("\nTry 'rapport --help'.\n", stderr);
        return CLI_EXIT_USAGE;
    }
    i++;
    args.group = g->name;

    const cli_cmd_t *cmd = NULL;
    if (g->cmds[0].name[0] == 0) {
        cmd = &g->cmds[0];
    } else {
        /* Global flags may come between the group and the command. */
        while (i < argc && argv[i][0] == '-' && argv[i][1]) {
            int rc = s_take_flag(&cli, &args, NULL, argc, argv, &i);
            if (rc < 0)
                return CLI_EXIT_USAGE;
            if (rc == 1) {
                s_help_group(g, stdout);
                return CLI_EXIT_OK;
            }
            if (rc == 2) {
                printf("rapport %s\n", RP_CLI_VERSION);
                return CLI_EXIT_OK;
            }
            i++;
        }
        if (i >= argc) {
            s_help_group(g, stderr);
            return CLI_EXIT_USAGE;
        }
        if (strcmp(argv[i], "help") == 0) {
            s_help_group(g, stdout);
            return CLI_EXIT_OK;
        }
        int words = 1;
        for (const cli_cmd_t *c = g->cmds; c->name; c++) {
            const char *sp = strchr(c->name, ' ');
            if (!sp) {
                if (strcmp(c->name, argv[i]) == 0)
                    cmd = c;
            } else if (strncmp(c->name, argv[i], (size_t) (sp - c->name)) == 0 &&
                       argv[i][sp - c->name] == 0 && i + 1 < argc && strcmp(sp + 1, argv[i + 1]) == 0) {
                cmd = c;
                words = 2;
            }
        }
        if (!cmd) {
            /* A two-word command given by its first word only: "leads offer". */
            size_t wl = strlen(argv[i]);
            bool any = false;
            for (const cli_cmd_t *c = g->cmds; c->name; c++)
                any |= strncmp(c->name, argv[i], wl) == 0 && c->name[wl] == ' ';
            if (any) {
                bool help = i + 1 < argc && (strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0);
                FILE *f = help ? stdout : stderr;
                if (!help)
                    fprintf(stderr, "rapport: '%s %s' needs a subcommand:\n\n", g->name, argv[i]);
                for (const cli_cmd_t *c = g->cmds; c->name; c++)
                    if (strncmp(c->name, argv[i], wl) == 0 && c->name[wl] == ' ') {
                        s_help_cmd(g, c, f);
                        fputc('\n', f);
                    }
                return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
            }
        }
        if (!cmd) {
            fprintf(stderr, "rapport: unknown command '%s %s'; '%s' has:", g->name, argv[i], g->name);
            for (const cli_cmd_t *c = g->cmds; c->name; c++)
                fprintf(stderr, " %s", c->name);
            fprintf(stderr, "\nTry 'rapport %s --help'.\n", g->name);
            return CLI_EXIT_USAGE;
        }
        i += words;
    }
    args.cmd = cmd;

    bool only_pos = false;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_pos && strcmp(arg, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (!only_pos && (strncmp(arg, "--", 2) == 0 || strcmp(arg, "-h") == 0)) {
            int rc = s_take_flag(&cli, &args, cmd, argc, argv, &i);
            if (rc < 0)
                return CLI_EXIT_USAGE;
            if (rc == 1) {
                if (cmd->name[0])
                    s_help_cmd(g, cmd, stdout);
                else
                    s_help_group(g, stdout);
                return CLI_EXIT_OK;
            }
            if (rc == 2) {
                printf("rapport %s\n", RP_CLI_VERSION);
                return CLI_EXIT_OK;
            }
            continue;
        }
        if (args.npos >= CLI_MAX_POS)
            return cli_usage_error(&args, "too many arguments");
        args.pos[args.npos++] = arg;
    }
    if (args.npos < cmd->min_pos)
        return cli_usage_error(&args, "missing argument%s %s", cmd->min_pos - args.npos > 1 ? "s" : "",
                               cmd->args ? cmd->args : "");
    if (args.npos > cmd->max_pos)
        return cli_usage_error(&args, "unexpected argument '%s'", args.pos[cmd->max_pos]);

    if (!cli.keys_dir)
        cli.keys_dir = rp_keys_dir();
    int rc = cmd->run(&cli, &args);
    if (cli.token) {
        sodium_memzero(cli.token, strlen(cli.token));
        free(cli.token);
    }
    if (fflush(stdout) != 0 && rc == 0 && errno != EPIPE)
        rc = CLI_EXIT_LOCAL;
    return rc;
}

int main(int argc, char **argv)
{
    /* Writing into a closed pipe (rapport events tail | head) ends quietly. */
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) {
        fputs("rapport: libsodium failed to initialise\n", stderr);
        return CLI_EXIT_LOCAL;
    }
    rp_clock_init();
    /* Library log lines (JSON) only for warnings and errors: the CLI speaks for itself. */
    rp_log_init("rapport", getenv("RAPPORT_LOG_LEVEL") ? getenv("RAPPORT_LOG_LEVEL") : "warn");
    cli_leads_init();
    cli_users_init();
    cli_delegate_init();
    cli_accounts_init();
    cli_contracts_init();
    return s_run(argc, argv);
}
