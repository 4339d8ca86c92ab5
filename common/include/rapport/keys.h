/* keys.h - CURVE key pairs (CZMQ zcert files) and the token issuer's Ed25519 key.
 *
 * Layout under the keys directory (RAPPORT_KEYS, default ./var/keys):
 *   <name>.cert, <name>.cert_secret    CURVE key pair of a service or client (zcert format)
 *   allow/<name>.cert                   public certs the ZAP handler lets in (the allowlist)
 *   issuer.key                          Ed25519 secret key of the token issuer (hex, 0600)
 *   issuer.pub                          its public key (hex)
 *   issuer-previous.pub                 the key before a rotation, also trusted (optional)
 *   <name>.token                        a service's own token (rp_keys_write_service_token)
 *   <name>.key, <name>.pub              other Ed25519 signing keys, same format as issuer.*
 *                                       (e.g. company-sign: contracts' signing key,
 *                                       its retired public keys in company-sign.retired/)
 * Secret files are written 0600 and directories 0700.
 * Secret keys live in sodium_malloc'd memory and are wiped by rp_curve_destroy.
 */
#ifndef RAPPORT_KEYS_H
#define RAPPORT_KEYS_H
#include <stdint.h>
#include <stdbool.h>
#include <sodium.h>

typedef struct {
    char public_z85[41];        /* Z85 public key */
    char *secret_z85;           /* 41 bytes in sodium_malloc'd memory */
} rp_curve_t;

/* rp_keys_dir - RAPPORT_KEYS or "./var/keys". Borrowed. */
const char *rp_keys_dir(void);
/* rp_keys_ensure_curve - create <dir>/<name>.cert{,_secret} if missing; when allow is
 * true, also install the public cert into <dir>/allow/. 0, or -1 with a log line. */
int rp_keys_ensure_curve(const char *dir, const char *name, bool allow);
/* rp_curve_load - load <dir>/<name>.cert_secret. NULL with a log line on failure. */
rp_curve_t *rp_curve_load(const char *dir, const char *name);
void rp_curve_destroy(rp_curve_t **self_p);
/* rp_curve_public_load - the Z85 public key from <dir>/<name>.cert into out[41]. 0 or -1. */
int rp_curve_public_load(const char *dir, const char *name, char out[41]);

/* rp_keys_ensure_issuer - create issuer.key/issuer.pub in dir if missing. 0 or -1. */
int rp_keys_ensure_issuer(const char *dir);
/* rp_issuer_secret_load - the 64-byte Ed25519 secret into sodium_malloc'd *sk
 * (free with sodium_free). 0 or -1. */
int rp_issuer_secret_load(const char *dir, unsigned char **sk);
/* rp_issuer_public_load - the 32-byte public key. 0 or -1. */
int rp_issuer_public_load(const char *dir, unsigned char pk[crypto_sign_PUBLICKEYBYTES]);
/* rp_issuer_previous_load - the previous issuer key, <dir>/issuer-previous.pub, kept
 * during a rotation so tokens signed before it stay valid until they expire. 0,
 * 1 when there is no such file, -1 when it is unreadable or not a key. */
int rp_issuer_previous_load(const char *dir, unsigned char pk[crypto_sign_PUBLICKEYBYTES]);
/* Ed25519 signing keys <dir>/<name>.key (secret, 128 hex digits, 0600) and
 * <dir>/<name>.pub (64 hex digits); the issuer key is the one named "issuer".
 * rp_sign_key_ensure - create the pair if missing (under the directory's lock), or
 * check that an existing pair matches. 0 or -1 with a log line (never the key). */
int rp_sign_key_ensure(const char *dir, const char *name);
/* rp_sign_key_load - the 64-byte secret into sodium_malloc'd *sk (free with
 * sodium_free). 0 or -1. */
int rp_sign_key_load(const char *dir, const char *name, unsigned char **sk);
/* rp_sign_key_public_load - the 32-byte public key. 0 or -1. */
int rp_sign_key_public_load(const char *dir, const char *name, unsigned char pk[crypto_sign_PUBLICKEYBYTES]);

/* rp_keys_write_service_token - mint a token for service `name` (sub "svc-<name>",
 * role integration: events.replay, so it can follow other services' events, e.g.
 * identity's revocations) valid for ttl_s seconds, signed with <dir>/issuer.key, and
 * write it to <dir>/<name>.token (0600), replacing an older one. 0 or -1. */
int rp_keys_write_service_token(const char *dir, const char *name, int64_t ttl_s);
/* rp_key_id - the kid of a public key: base64url of the first 12 bytes of its
 * BLAKE2b-256 hash (16 chars + NUL). */
void rp_key_id(const unsigned char pk[crypto_sign_PUBLICKEYBYTES], char kid[17]);

#endif
