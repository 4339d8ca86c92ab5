/* cli_conn.c - how the command line reaches a service: the bearer token (flag,
 * environment or a private file), the service's endpoint and CURVE public key, our
 * own CURVE identity, and the uniform printing of a failed call (code name, message,
 * each field violation) with its exit code.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "rapport/keys.h"
#include "rapport/services.h"
#include "rapport/status.h"
#include "rapport/util.h"

void cli_token_file(char *out, size_t cap)
{
    const char *f = getenv("RAPPORT_TOKEN_FILE");
    if (f && *f) {
        rp_strlcpy(out, f, cap);
        return;
    }
    const char *home = getenv("HOME");
    snprintf(out, cap, "%s/.config/rapport/token", home && *home ? home : ".");
}

/* s_trim - a malloc'd copy of s without surrounding white space. */
static char *s_trim(const char *s)
{
    while (isspace((unsigned char) *s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char) s[n - 1]))
        n--;
    return rp_strndup(s, n);
}

int cli_get_token(cli_t *cli, bool required)
{
    if (cli->token)
        return 0;
    if (cli->token_flag && *cli->token_flag) {
        cli->token = s_trim(cli->token_flag);
        return 0;
    }
    const char *env = getenv("RAPPORT_TOKEN");
    if (env && *env) {
        cli->token = s_trim(env);
        return 0;
    }
    char path[1024];
    cli_token_file(path, sizeof path);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (!required)
            return 0;
        return cli_local_error(cli, "no token: pass --token, set RAPPORT_TOKEN, or save one in %s "
                               "(rapport token mint ... --save)", path);
    }
    if (!S_ISREG(st.st_mode))
        return cli_local_error(cli, "token file %s is not a regular file", path);
    if (st.st_mode & 077)
        return cli_local_error(cli, "token file %s has mode %04o: it must be readable by its owner only "
                               "(chmod 600 %s)", path, (unsigned) (st.st_mode & 07777), path);
    char *data = NULL;
    size_t len = 0;
    if (rp_read_file(path, 64 * 1024, &data, &len) != 0)
        return cli_local_error(cli, "cannot read token file %s: %s", path, strerror(errno));
    cli->token = s_trim(data);
    sodium_memzero(data, len);
    free(data);
    if (!*cli->token) {
        rp_free(cli->token);
        if (required)
            return cli_local_error(cli, "token file %s is empty", path);
        return 0;
    }
    cli->token_from_file = true;
    /* A saved login renews itself when its access token has (nearly) expired. */
    cli_login_refresh(cli);
    return 0;
}

/* s_public_key - the service's Z85 key from RAPPORT_<NAME>_PUBLIC_KEY or its cert. */
static int s_public_key(cli_t *cli, const char *name, char out[41], char *why, size_t cap)
{
    char var[96];
    snprintf(var, sizeof var, "RAPPORT_%s_PUBLIC_KEY", name);
    for (char *p = var; *p; p++)
        *p = (char) toupper((unsigned char) *p);
    const char *env = getenv(var);
    if (env && *env) {
        if (strlen(env) != 40) {
            snprintf(why, cap, "%s must be a 40-character Z85 public key", var);
            return -1;
        }
        memcpy(out, env, 41);
        return 0;
    }
    if (rp_curve_public_load(cli->keys_dir, name, out) != 0) {
        snprintf(why, cap, "cannot read the public key of %s from %s/%s.cert "
                 "(run 'rapport keys init' or set %s)", name, cli->keys_dir, name, var);
        return -1;
    }
    return 0;
}

int cli_service_keys(cli_t *cli, const char *name, char server_key[41], rp_curve_t **me,
                     char *why, size_t cap)
{
    *me = NULL;
    if (s_public_key(cli, name, server_key, why, cap) != 0)
        return CLI_EXIT_LOCAL;
    const char *certname = getenv("RAPPORT_CLIENT_CERT");
    if (!certname || !*certname)
        certname = "cli";
    *me = rp_curve_load(cli->keys_dir, certname);
    if (!*me) {
        snprintf(why, cap, "cannot read our client key %s/%s.cert_secret "
                 "(run 'rapport keys init' or set RAPPORT_CLIENT_CERT)", cli->keys_dir, certname);
        return CLI_EXIT_LOCAL;
    }
    return 0;
}

int cli_connect_quiet(cli_t *cli, const char *name, rp_client_t **out, char *why, size_t cap)
{
    *out = NULL;
    if (!rp_service_find(name)) {
        snprintf(why, cap, "unknown service '%s'", name);
        return CLI_EXIT_USAGE;
    }
    char endpoint[256], key[41];
    if (rp_service_endpoint(name, 0, endpoint, sizeof endpoint) != 0) {
        snprintf(why, cap, "no endpoint for service '%s'", name);
        return CLI_EXIT_LOCAL;
    }
    rp_strlcpy(cli->service, name, sizeof cli->service);
    rp_strlcpy(cli->endpoint, endpoint, sizeof cli->endpoint);
    rp_curve_t *me = NULL;
    int rc = cli_service_keys(cli, name, key, &me, why, cap);
    if (rc != 0)
        return rc;
    *out = rp_client_new(endpoint, key, me, cli->token);
    rp_curve_destroy(&me);
    if (!*out) {
        snprintf(why, cap, "cannot connect to %s at '%s' (bad endpoint or key)", name, endpoint);
        return CLI_EXIT_LOCAL;
    }
    return 0;
}

int cli_connect(cli_t *cli, const char *name, rp_client_t **out)
{
    char why[512];
    int rc = cli_connect_quiet(cli, name, out, why, sizeof why);
    if (rc == CLI_EXIT_USAGE) {
        fprintf(stderr, "rapport: %s; services:", why);
        for (const rp_service_info_t *s = rp_services(); s->name; s++)
            fprintf(stderr, " %s", s->name);
        fputc('\n', stderr);
        return rc;
    }
    if (rc != 0)
        return cli_local_error(cli, "%s", why);
    return 0;
}

int cli_status_exit(int code)
{
    if (code == RP_OK)
        return CLI_EXIT_OK;
    if (code == RP_UNAVAILABLE)
        return CLI_EXIT_UNREACHABLE;
    return CLI_EXIT_SERVICE;
}

void cli_print_status(cli_t *cli, const rp_call_status_t *st)
{
    const char *name = rp_code_name(st->code);
    if (cli->json) {
        json_t *err = json_pack("{s:s,s:s}", "code", name, "message", st->message);
        if (st->n_violations) {
            json_t *arr = json_array();
            for (size_t i = 0; i < st->n_violations && i < 8; i++)
                json_array_append_new(arr, json_pack("{s:s,s:s}", "field", st->violations[i].field,
                                                     "description", st->violations[i].description));
            json_object_set_new(err, "field_violations", arr);
        }
        if (st->existing_id[0])
            json_object_set_new(err, "existing_id", json_string(st->existing_id));
        if (st->code == RP_UNAVAILABLE && cli->service[0]) {
            json_object_set_new(err, "service", json_string(cli->service));
            json_object_set_new(err, "endpoint", json_string(cli->endpoint));
        }
        json_t *j = json_pack("{s:o}", "error", err);
        cli_print_json(j);
        json_decref(j);
        return;
    }
    fprintf(stderr, "rapport: %s: %s\n", name, st->message[0] ? st->message : "(no message)");
    for (size_t i = 0; i < st->n_violations && i < 8; i++)
        fprintf(stderr, "  %s: %s\n", st->violations[i].field, st->violations[i].description);
    if (st->existing_id[0])
        fprintf(stderr, "  existing id: %s\n", st->existing_id);
    if (st->code == RP_UNAVAILABLE && cli->service[0])
        fprintf(stderr, "  (service %s at %s; is it running? 'rapport health' lists the ones that answer)\n",
                cli->service, cli->endpoint);
}

int cli_call_status(cli_t *cli, rp_client_t *c, const char *id, const char *method,
                    const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
                    ProtobufCMessage **out, rp_call_status_t *st)
{
    memset(st, 0, sizeof *st);
    *out = NULL;
    int code = rp_client_call(c, id, method, in, out_desc, out, st, cli->timeout_ms);
    if (code != RP_OK) {
        if (st->code == 0)
            st->code = code;
        if (code == RP_UNAVAILABLE && !st->message[0])
            snprintf(st->message, sizeof st->message, "no answer within %d ms", cli->timeout_ms);
    }
    return code;
}

int cli_call(cli_t *cli, rp_client_t *c, const char *id, const char *method,
             const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
             ProtobufCMessage **out)
{
    rp_call_status_t st;
    int code = cli_call_status(cli, c, id, method, in, out_desc, out, &st);
    if (code == RP_OK)
        return CLI_EXIT_OK;
    cli_print_status(cli, &st);
    return cli_status_exit(code);
}
