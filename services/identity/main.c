/* main.c - rapport-identity: users, password logins, roles and the tokens every
 * service trusts. The definition, the settings, the issuer key, and one call to
 * the skeleton.
 *
 * Settings (besides the skeleton's; bad values exit 2):
 *   RAPPORT_IDENTITY_ACCESS_TTL     access token lifetime, s, 60..86400        (900)
 *   RAPPORT_IDENTITY_REFRESH_TTL    refresh token lifetime, s, 300..90 days    (604800)
 *   RAPPORT_IDENTITY_LOCK_FAILURES  failed logins that lock an account, 1..100 (5)
 *   RAPPORT_IDENTITY_LOCK_WINDOW_S  ... counted within this many s, 1..86400   (900)
 *   RAPPORT_IDENTITY_LOCK_S         how long the lock lasts, s, 1..86400        (900)
 *   RAPPORT_IDENTITY_SLOW_AFTER     failures after which each next attempt waits
 *                                   2 s, 4 s, 8 s... after the last, 0..100 (3; 0: off)
 *
 * Passwords are hashed with Argon2id at libsodium's INTERACTIVE limits (64 MiB,
 * 2 passes; ~50-100 ms here). The loop is single-threaded, so every login stalls
 * every other request of this service for that long: INTERACTIVE keeps it short
 * enough for a team's logins while staying costly for an offline guesser; raising
 * it (MODERATE, SENSITIVE) costs seconds of latency for everyone.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "identity.h"
#include "rapport/config.h"
#include "rapport/keys.h"
#include "rapport/log.h"

id_config_t id_cfg;
static const char *s_keys_dir;

int64_t id_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const rp_method_t s_methods[] = {
    { "CreateUser",     id_create_user,     RP_WRITE_SECRET, "identity.users.write" },
    { "GetUser",        id_get_user,        RP_READ,  "identity.users.read" },
    { "ListUsers",      id_list_users,      RP_READ,  "identity.users.read" },
    { "DisableUser",    id_disable_user,    RP_WRITE, "identity.users.write" },
    { "EnableUser",     id_enable_user,     RP_WRITE, "identity.users.write" },
    { "SetRoles",       id_set_roles,       RP_WRITE, "identity.users.write" },
    { "SetLimits",      id_set_limits,      RP_WRITE, "identity.users.write" },
    { "ChangePassword", id_change_password, RP_WRITE_SECRET, RP_PUBLIC },
    { "ResetPassword",  id_reset_password,  RP_WRITE_SECRET, "identity.passwords.reset" },
    { "Login",          id_login,           RP_WRITE_SECRET, RP_PUBLIC },
    { "Refresh",        id_refresh,         RP_WRITE_SECRET, RP_PUBLIC },
    { "Logout",         id_logout,          RP_WRITE, "identity.self" },
    { "WhoAmI",         id_whoami,          RP_READ,  "identity.self" },
    { "Jwks",           id_jwks,            RP_READ,  RP_PUBLIC },
    { "Delegate",       id_delegate,        RP_WRITE, "identity.users.write" },
    { "RevokeDelegation", id_revoke_delegation, RP_WRITE, "identity.users.write" },
    { "ListDelegations", id_list_delegations, RP_READ, "identity.self" },
    { "ActAs",          id_act_as,          RP_WRITE_SECRET, "identity.self" },
    { "AddUnit",        id_add_unit,        RP_WRITE, "identity.org.write" },
    { "GetUnit",        id_get_unit,        RP_READ,  "identity.org.read" },
    { "ListUnits",      id_list_units,      RP_READ,  "identity.org.read" },
    { "SetUnitHead",    id_set_unit_head,   RP_WRITE, "identity.org.write" },
    { "MoveUser",       id_move_user,       RP_WRITE, "identity.org.write" },
    { "DismissUser",    id_dismiss_user,    RP_WRITE, "identity.org.write" },
    { "RegisterKey",    id_register_key,    RP_WRITE, "identity.keys.write" },
    { "RevokeKey",      id_revoke_key,      RP_WRITE, "identity.keys.write" },
    { "ListKeys",       id_list_keys,       RP_READ,  "identity.keys.read" },
    { "RevokeToken",    id_revoke_token,    RP_WRITE, "identity.tokens.revoke" },
    { NULL, NULL, RP_READ, NULL }
};

/* s_on_open - load the issuer key pair and make the dummy hash for unknown users. */
static int s_on_open(rp_service_t *svc, rp_store_t *store)
{
    (void)svc; (void)store;
    if (rp_issuer_secret_load(s_keys_dir, &id_cfg.issuer_sk) != 0
        || rp_issuer_public_load(s_keys_dir, id_cfg.issuer_pk) != 0) {
        rp_error("identity: no issuer key pair in %s (issuer.key, issuer.pub): run `rapport keys init`",
                 s_keys_dir);
        return -1;
    }
    rp_key_id(id_cfg.issuer_pk, id_cfg.kid);
    /* During a rotation the JWKS also publishes the previous key, which services
     * still trust, so other systems verify tokens signed before it. */
    int prev = rp_issuer_previous_load(s_keys_dir, id_cfg.previous_pk);
    if (prev < 0)
        return -1;
    id_cfg.has_previous = prev == 0;
    if (id_cfg.has_previous)
        rp_key_id(id_cfg.previous_pk, id_cfg.previous_kid);
    unsigned char rnd[32];
    char pw[65];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(pw, sizeof pw, rnd, sizeof rnd);
    if (crypto_pwhash_str(id_cfg.dummy_hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        rp_error("identity: cannot hash (out of memory?)");
        return -1;
    }
    sodium_memzero(pw, sizeof pw);
    return 0;
}

static const rp_service_def_t s_def = {
    .name = "identity",
    .summary = "users, the org tree, password logins, roles, access and refresh tokens, JWKS, client keys",
    .settings_help =
        "RAPPORT_IDENTITY_ACCESS_TTL (900): access token lifetime in seconds (60..86400)\n"
        "RAPPORT_IDENTITY_REFRESH_TTL (604800): refresh token lifetime in seconds\n"
        "RAPPORT_IDENTITY_SLOW_AFTER (3): failures before each attempt must wait 2, 4, 8 s (0: off)\n"
        "RAPPORT_IDENTITY_LOCK_FAILURES (5), RAPPORT_IDENTITY_LOCK_WINDOW_S (900),\n"
        "RAPPORT_IDENTITY_LOCK_S (900): that many failures within the window lock for LOCK_S\n",
    .descriptor = &rapport__identity__v1__identity__descriptor,
    .methods = s_methods,
    .tables = id_tables,
    .migrations = id_migrations,
    .on_open = s_on_open,
};

/* s_keys_arg - the keys directory as the skeleton will see it (--keys wins). */
static const char *s_keys_arg(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc)
            return argv[i + 1];
        if (strncmp(argv[i], "--keys=", 7) == 0)
            return argv[i] + 7;
    }
    return rp_keys_dir();
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "rapport-identity: libsodium does not initialise\n");
        return 1;
    }
    if (rp_config_int("RAPPORT_IDENTITY_ACCESS_TTL", 900, 60, 86400, &id_cfg.access_ttl_s) < 0
        || rp_config_int("RAPPORT_IDENTITY_REFRESH_TTL", 7 * 86400, 300, 90 * 86400, &id_cfg.refresh_ttl_s) < 0
        || rp_config_int("RAPPORT_IDENTITY_LOCK_FAILURES", 5, 1, 100, &id_cfg.lock_failures) < 0
        || rp_config_int("RAPPORT_IDENTITY_LOCK_WINDOW_S", 900, 1, 86400, &id_cfg.lock_window_s) < 0
        || rp_config_int("RAPPORT_IDENTITY_LOCK_S", 900, 1, 86400, &id_cfg.lock_s) < 0
        || rp_config_int("RAPPORT_IDENTITY_SLOW_AFTER", 3, 0, 100, &id_cfg.slow_after) < 0)
        return 2;
    s_keys_dir = s_keys_arg(argc, argv);
    int rc = rp_service_main(argc, argv, &s_def);
    if (id_cfg.issuer_sk)
        sodium_free(id_cfg.issuer_sk);
    id_cfg.issuer_sk = NULL;
    return rc;
}
