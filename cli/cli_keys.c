/* cli_keys.c - `rapport keys init`: create, under the keys directory, a CURVE cert
 * for every service of services.h (allowlisted, so services may call each other),
 * a client cert for the command line (allowlisted) and the token issuer's Ed25519
 * key. Existing keys are kept, so running it again changes nothing. `rapport keys
 * jwks` (cli_login.c) prints the token keys rapport-identity publishes. `rapport
 * keys register|revoke|list` (client keys registered in identity) come from the
 * identity command table in cli_users.c, which joins them to these.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "rapport/keys.h"
#include "rapport/services.h"
#include "rapport/util.h"

static const cli_flag_t s_init_flags[] = {
    { "client", "NAME", "name of the client cert to create (default cli)", false },
    { NULL, NULL, NULL, false }
};

static int s_init(cli_t *cli, const cli_args_t *a)
{
    const char *dir = cli->keys_dir;
    const char *client = cli_flag(a, "client") ? cli_flag(a, "client") : "cli";
    for (const char *p = client; *p; p++)
        if (!(*p == '-' || *p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9')))
            return cli_usage_error(a, "--client: must be letters, digits, '-' or '_', got '%s'", client);
    if (!*client || strlen(client) > 64)
        return cli_usage_error(a, "--client: must be 1 to 64 characters");
    if (rp_mkdir_p(dir, 0700) != 0)
        return cli_local_error(cli, "cannot create keys directory %s", dir);

    json_t *svcs = json_array();
    for (const rp_service_info_t *s = rp_services(); s->name; s++) {
        if (rp_keys_ensure_curve(dir, s->name, true) != 0) {
            json_decref(svcs);
            return cli_local_error(cli, "cannot create the CURVE cert of %s in %s", s->name, dir);
        }
        json_array_append_new(svcs, json_string(s->name));
    }
    if (rp_keys_ensure_curve(dir, client, true) != 0) {
        json_decref(svcs);
        return cli_local_error(cli, "cannot create the client cert %s in %s", client, dir);
    }
    if (rp_keys_ensure_issuer(dir) != 0) {
        json_decref(svcs);
        return cli_local_error(cli, "cannot create the token issuer key in %s", dir);
    }
    for (const rp_service_info_t *s = rp_services(); s->name; s++)
        if (rp_keys_write_service_token(dir, s->name, 30 * 86400) != 0) {
            json_decref(svcs);
            return cli_local_error(cli, "cannot write the service token of %s in %s", s->name, dir);
        }
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    char kid[17] = "";
    if (rp_issuer_public_load(dir, pk) == 0)
        rp_key_id(pk, kid);

    if (cli->json) {
        json_t *j = json_pack("{s:s,s:o,s:s,s:s}", "keys_dir", dir, "services", svcs,
                              "client", client, "issuer_kid", kid);
        cli_print_json(j);
        json_decref(j);
        return CLI_EXIT_OK;
    }
    printf("keys ready in %s\n", dir);
    printf("  service certs: ");
    for (size_t i = 0; i < json_array_size(svcs); i++)
        printf("%s%s", i ? " " : "", json_string_value(json_array_get(svcs, i)));
    printf(" (allowlisted)\n");
    printf("  client cert:   %s (allowlisted)\n", client);
    printf("  token issuer:  issuer.key, issuer.pub (kid %s)\n", kid);
    printf("  service tokens: <service>.token (30 days; renewed by every keys init and rapportd start)\n");
    json_decref(svcs);
    return CLI_EXIT_OK;
}

const cli_cmd_t cli_keys_local_cmds[] = {
    { "init", "", "create the CURVE certs and the token issuer key (idempotent); renew each service's token",
      s_init_flags, 0, 0, s_init,
      "Keys go to --keys, $RAPPORT_KEYS or ./var/keys: <name>.cert and <name>.cert_secret (0600),\n"
      "  allow/<name>.cert (the allowlist the services' ZAP handlers read), issuer.key (0600) and\n"
      "  issuer.pub. Existing keys are never replaced." },
    { "jwks", "", "print rapport-identity's token keys as a JWKS (Identity/Jwks; no token needed)",
      NULL, 0, 0, cli_keys_jwks,
      "RFC 7517 JSON ({\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",...}]}), for other systems that\n"
      "  verify Rapport tokens with a standard JWT library." },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }
};
