/* cli_token.c - `rapport token mint` (sign a token with the issuer's secret key, for
 * operators and tests; people normally get tokens from rapport-identity) and
 * `rapport roles` (the role/permission table of perm.h, also as Markdown for README).
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "rapport/clock.h"
#include "rapport/jwt.h"
#include "rapport/keys.h"
#include "rapport/perm.h"
#include "rapport/ulid.h"
#include "rapport/util.h"

static const cli_flag_t s_mint_flags[] = {
    { "sub",          "NAME",     "the user (subject) the token is for; required", false },
    { "role",         "ROLE",     "a role from 'rapport roles'; required", true },
    { "branch",       "BRANCH",   "the branch; required", false },
    { "unit",         "PATH",     "org unit path such as /hq/sales/g1 (default /<branch>)", false },
    { "scope",        "SCOPE",    "own, unit or company (default: the first role's scope)", false },
    { "ttl",          "DURATION", "lifetime: 30m, 8h (default), 7d; at most 30d", false },
    { "on-behalf-of", "USER",     "act as a delegate of USER", false },
    { "limit-value",  "N",        "authority: the largest contract value, in minor units, 0..10^15 (default 0: none)", false },
    { "limit-discount", "BP",     "authority: the largest discount, in basis points, 0..10000 (default 0: none)", false },
    { "save",         NULL,       "also write the token to the token file (mode 0600)", false },
    { NULL, NULL, NULL, false }
};

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

/* s_save - write the token to the token file, creating its directory 0700. */
static int s_save(cli_t *cli, const char *token, char *path, size_t cap)
{
    cli_token_file(path, cap);
    char *dir = rp_strdup(path);
    int rc = rp_mkdir_p(dirname(dir), 0700);
    free(dir);
    if (rc != 0)
        return cli_local_error(cli, "cannot create the directory of %s: %s", path, strerror(errno));
    char *line = rp_sprintf("%s\n", token);
    rc = rp_write_file_private(path, line, strlen(line));
    sodium_memzero(line, strlen(line));
    free(line);
    if (rc != 0)
        return cli_local_error(cli, "cannot write %s: %s", path, strerror(errno));
    /* A refresh token left by `rapport login` belongs to another login: it must not
     * turn this token back into that one when it expires. */
    char *ref = rp_sprintf("%s.refresh", path);
    unlink(ref);
    free(ref);
    cli_login_drop_own();   /* nor a login kept aside by `login --as` come back */
    return 0;
}

static int s_mint(cli_t *cli, const cli_args_t *a)
{
    const char *sub = cli_flag(a, "sub"), *branch = cli_flag(a, "branch");
    const char *unit = cli_flag(a, "unit"), *scope = cli_flag(a, "scope");
    const char *ttl_s = cli_flag(a, "ttl"), *obo = cli_flag(a, "on-behalf-of");
    rp_claims_t c;
    memset(&c, 0, sizeof c);

    if (!sub || !*sub)
        return cli_usage_error(a, "--sub: required");
    if (strlen(sub) >= sizeof c.sub)
        return cli_usage_error(a, "--sub: at most %zu bytes", sizeof c.sub - 1);
    if (cli_flag_count(a, "role") == 0)
        return cli_usage_error(a, "--role: required");
    if (cli_flag_count(a, "role") > RP_JWT_MAX_ROLES)
        return cli_usage_error(a, "--role: at most %d roles", RP_JWT_MAX_ROLES);
    if (!branch || !*branch)
        return cli_usage_error(a, "--branch: required");
    if (strlen(branch) >= sizeof c.branch || strchr(branch, '/'))
        return cli_usage_error(a, "--branch: at most %zu bytes, without '/'", sizeof c.branch - 1);
    const rp_role_t *first = NULL;
    for (int i = 0; i < cli_flag_count(a, "role"); i++) {
        const char *role = cli_flag_at(a, "role", i);
        const rp_role_t *r = rp_role_find(role);
        if (!r)
            return s_unknown_role(a, role);
        if (!first)
            first = r;
        rp_strlcpy(c.roles[c.n_roles++], r->role, sizeof c.roles[0]);
    }
    char defunit[80];
    if (!unit) {
        snprintf(defunit, sizeof defunit, "/%s", branch);
        unit = defunit;
    }
    if (unit[0] != '/' || strlen(unit) >= sizeof c.unit)
        return cli_usage_error(a, "--unit: must be an org path starting with '/' of at most %zu bytes",
                               sizeof c.unit - 1);
    if (!scope)
        scope = first->scope ? first->scope : "own";
    if (strcmp(scope, "own") != 0 && strcmp(scope, "unit") != 0 && strcmp(scope, "company") != 0)
        return cli_usage_error(a, "--scope: must be own, unit or company, got '%s'", scope);
    int64_t ttl_ms = 8 * 3600 * 1000LL;
    if (ttl_s && (cli_parse_duration(ttl_s, &ttl_ms) != 0 || ttl_ms < 1000 || ttl_ms > 30LL * 86400 * 1000))
        return cli_usage_error(a, "--ttl: must be a duration from 1s to 30d such as 8h, got '%s'", ttl_s);
    if (obo && strlen(obo) >= sizeof c.on_behalf_of)
        return cli_usage_error(a, "--on-behalf-of: at most %zu bytes", sizeof c.on_behalf_of - 1);

    if (cli_limits_parse(a, "limit-value", "limit-discount", &c.limit_contract_value, &c.limit_discount_bp) != 0)
        return CLI_EXIT_USAGE;

    rp_strlcpy(c.sub, sub, sizeof c.sub);
    rp_strlcpy(c.branch, branch, sizeof c.branch);
    rp_strlcpy(c.unit, unit, sizeof c.unit);
    rp_strlcpy(c.scope, scope, sizeof c.scope);
    if (obo)
        rp_strlcpy(c.on_behalf_of, obo, sizeof c.on_behalf_of);
    int64_t now_ms = rp_clock_now_ms();
    c.iat = now_ms / 1000;
    c.nbf = c.iat;
    c.exp = (now_ms + ttl_ms) / 1000;
    rp_ulid_new_str(now_ms, c.jti);

    unsigned char *sk = NULL;
    if (rp_issuer_secret_load(cli->keys_dir, &sk) != 0)
        return cli_local_error(cli, "cannot read the issuer secret key %s/issuer.key (run 'rapport keys init', "
                               "or use --keys / RAPPORT_KEYS)", cli->keys_dir);
    char *token = rp_jwt_mint(&c, sk);
    sodium_free(sk);
    if (!token)
        return cli_local_error(cli, "cannot sign the token");

    int rc = CLI_EXIT_OK;
    char path[1024] = "";
    if (cli_flag_set(a, "save"))
        rc = s_save(cli, token, path, sizeof path);
    if (rc == CLI_EXIT_OK) {
        if (cli->json) {
            char exp[40];
            cli_format_time(c.exp * 1000, exp, sizeof exp);
            json_t *roles = json_array();
            for (int i = 0; i < c.n_roles; i++)
                json_array_append_new(roles, json_string(c.roles[i]));
            json_t *j = json_pack("{s:s,s:s,s:o,s:s,s:s,s:s,s:s,s:s}", "token", token, "sub", c.sub,
                                  "roles", roles, "branch", c.branch, "unit", c.unit, "scope", c.scope,
                                  "jti", c.jti, "expires", exp);
            if (c.limit_contract_value || c.limit_discount_bp)
                json_object_set_new(j, "limits", json_pack("{s:I,s:i}", "contract_value",
                                                           (json_int_t) c.limit_contract_value,
                                                           "discount_bp", (int) c.limit_discount_bp));
            if (path[0])
                json_object_set_new(j, "saved_to", json_string(path));
            cli_print_json(j);
            json_decref(j);
        } else if (path[0]) {
            /* Saved: keep the secret out of the terminal's scrollback. */
            char exp[40];
            cli_format_time(c.exp * 1000, exp, sizeof exp);
            printf("token for %s (%s, expires %s) saved to %s\n", c.sub, c.roles[0], exp, path);
        } else
            printf("%s\n", token);
    }
    sodium_memzero(token, strlen(token));
    free(token);
    return rc;
}

static const cli_flag_t s_roles_flags[] = {
    { "markdown", NULL, "print a Markdown table (for README)", false },
    { NULL, NULL, NULL, false }
};

static int s_roles(cli_t *cli, const cli_args_t *a)
{
    if (cli->json) {
        json_t *arr = json_array();
        for (const rp_role_t *r = rp_roles(); r->role; r++) {
            json_t *perms = json_array();
            for (int i = 0; r->perms && r->perms[i]; i++)
                json_array_append_new(perms, json_string(r->perms[i]));
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:o}", "role", r->role,
                                                 "description", r->description ? r->description : "",
                                                 "scope", r->scope ? r->scope : "", "permissions", perms));
        }
        cli_print_json(arr);
        json_decref(arr);
        return CLI_EXIT_OK;
    }
    bool md = cli_flag_set(a, "markdown");
    if (md)
        printf("| role | default scope | permissions | description |\n|---|---|---|---|\n");
    const char *hdr[] = { "ROLE", "SCOPE", "PERMISSIONS", "DESCRIPTION" };
    cli_table_t *t = md ? NULL : cli_table_new(4, hdr);
    if (t)
        cli_table_set_cut(t, 0);
    for (const rp_role_t *r = rp_roles(); r->role; r++) {
        size_t len = 0;
        char *perms = rp_strdup("");
        for (int i = 0; r->perms && r->perms[i]; i++) {
            size_t pl = strlen(r->perms[i]);
            perms = rp_realloc(perms, len + pl + 3);
            len += (size_t) sprintf(perms + len, "%s%s", i ? (md ? ", " : ",") : "", r->perms[i]);
        }
        if (md) {
            printf("| `%s` | %s | %s | %s |\n", r->role, r->scope ? r->scope : "", perms,
                   r->description ? r->description : "");
        } else {
            const char *row[] = { r->role, r->scope ? r->scope : "", perms, r->description ? r->description : "" };
            cli_table_add(t, row);
        }
        free(perms);
    }
    if (t) {
        cli_table_print(t, stdout);
        cli_table_destroy(&t);
    }
    return CLI_EXIT_OK;
}

const cli_cmd_t cli_token_local_cmds[] = {
    { "mint", "", "sign a token with the issuer key (<keys>/issuer.key): print it, or --save it",
      s_mint_flags, 0, 0, s_mint,
      "Example: rapport token mint --sub alice --role manager --branch hq --unit /hq/sales/g1 --save\n"
      "  Unknown roles are refused with the list of roles. --limit-value and --limit-discount put the\n"
      "  holder's authority limits into the token (the bootstrap of a first signer; people get\n"
      "  theirs from rapport-identity). --save writes the token file\n"
      "  ($RAPPORT_TOKEN_FILE or ~/.config/rapport/token) with mode 0600, which other commands read,\n"
      "  and then prints only who the token is for, not the token itself." },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }
};

const cli_cmd_t cli_roles_cmds[] = {
    { "", "", "print the role/permission table (perm.h): role, default scope, permissions",
      s_roles_flags, 0, 0, s_roles, NULL },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }
};
