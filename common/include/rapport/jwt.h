/* jwt.h - JSON Web Tokens signed with Ed25519 (alg EdDSA, RFC 8037).
 *
 * Header {"alg":"EdDSA","typ":"JWT","kid":...}. Claims: iss ("rapport"), aud
 * ("rapport"), sub, iat, nbf, exp, jti, roles[], branch, unit (org path such as
 * "/hq/sales/g1"), scope ("own", "unit" or "company"), on_behalf_of (delegation),
 * limits {"contract_value": minor units, "discount_bp": basis points} (the holder's
 * authority: the largest contract value they may sign and the largest discount
 * they may give; absent means no authority, 0 and 0).
 * Anything other than EdDSA (none, HS256, ...) is rejected. Standard JWT libraries
 * verify these tokens with the issuer's public key.
 *
 * rp_jwt_verifier_t verifies each distinct token once and caches the result
 * until the token expires (Ed25519 verification costs ~55 µs); a revocation set
 * of jti values is consulted on every call, cached or not.
 */
#ifndef RAPPORT_JWT_H
#define RAPPORT_JWT_H
#include <stdint.h>
#include <stddef.h>
#include <sodium.h>

#define RP_JWT_MAX_ROLES 8
#define RP_JWT_MAX_LEN 4096

typedef struct {
    char sub[64];
    char jti[40];
    char branch[64];
    char unit[128];
    char scope[16];                 /* "own", "unit", "company" */
    char on_behalf_of[64];          /* "" unless acting as a delegate */
    char roles[RP_JWT_MAX_ROLES][32];
    int n_roles;
    int64_t limit_contract_value;   /* minor units; 0: may sign nothing alone */
    int32_t limit_discount_bp;      /* basis points 0..10000; 0: no discount alone */
    int64_t iat, nbf, exp;          /* seconds */
} rp_claims_t;

typedef enum {
    RP_JWT_OK = 0,
    RP_JWT_MALFORMED,       /* not three base64url parts, bad JSON, missing claim */
    RP_JWT_BAD_ALG,         /* alg is not EdDSA */
    RP_JWT_UNKNOWN_KEY,     /* kid matches no trusted key */
    RP_JWT_BAD_SIGNATURE,
    RP_JWT_EXPIRED,
    RP_JWT_NOT_YET_VALID,
    RP_JWT_BAD_ISSUER,
    RP_JWT_BAD_AUDIENCE,
    RP_JWT_REVOKED
} rp_jwt_result_t;

/* rp_jwt_result_name - "expired", "bad signature", ... for error messages. */
const char *rp_jwt_result_name(rp_jwt_result_t r);

/* rp_jwt_mint - sign claims with the 64-byte Ed25519 secret sk. iat/nbf/exp and
 * jti are taken from *claims as given (jti generated when empty). Returns a
 * malloc'd token. */
char *rp_jwt_mint(const rp_claims_t *claims, const unsigned char *sk);

typedef struct rp_jwt_verifier rp_jwt_verifier_t;

rp_jwt_verifier_t *rp_jwt_verifier_new(void);
void rp_jwt_verifier_destroy(rp_jwt_verifier_t **self_p);
/* rp_jwt_verifier_add_key - trust this public key (up to 4; rotation overlap). */
void rp_jwt_verifier_add_key(rp_jwt_verifier_t *self, const unsigned char pk[crypto_sign_PUBLICKEYBYTES]);
/* rp_jwt_verifier_revoke - add a jti to the revocation set (until exp_s, seconds). */
void rp_jwt_verifier_revoke(rp_jwt_verifier_t *self, const char *jti, int64_t exp_s);
/* rp_jwt_verify - check token at time now_ms. On RP_JWT_OK *claims points into the
 * verifier's cache and stays valid until the next call to rp_jwt_verify or
 * rp_jwt_verifier_destroy. */
rp_jwt_result_t rp_jwt_verify(rp_jwt_verifier_t *self, const char *token, int64_t now_ms,
                              const rp_claims_t **claims);
/* rp_jwt_verifier_cache_size - entries in the cache (tests). */
size_t rp_jwt_verifier_cache_size(const rp_jwt_verifier_t *self);

#endif
