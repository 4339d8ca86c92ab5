/* test_jwt.c - minting, the verification attack table, the cache and key rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rapport/jwt.h"
#include "rapport/keys.h"
#include "rapport/util.h"

#define NOW_MS INT64_C(1767225600123)   /* 2026-01-01T00:00:00.123Z */
#define NOW_S (NOW_MS / 1000)

typedef struct {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    char kid[17];
} s_key_t;

static s_key_t s_k1, s_k2, s_k3;

static int
s_setup(void **state)
{
    assert_true(sodium_init() >= 0);
    s_key_t *ks[] = { &s_k1, &s_k2, &s_k3 };
    for (int i = 0; i < 3; i++) {
        crypto_sign_keypair(ks[i]->pk, ks[i]->sk);
        rp_key_id(ks[i]->pk, ks[i]->kid);
    }
    return 0;
}

/* s_claims - typical claims valid at NOW. */
static rp_claims_t
s_claims(const char *jti)
{
    rp_claims_t c;
    memset(&c, 0, sizeof c);
    rp_strlcpy(c.sub, "01JUSER0000000000000000001", sizeof c.sub);
    rp_strlcpy(c.jti, jti, sizeof c.jti);
    rp_strlcpy(c.branch, "hq", sizeof c.branch);
    rp_strlcpy(c.unit, "/hq/sales/g1", sizeof c.unit);
    rp_strlcpy(c.scope, "own", sizeof c.scope);
    rp_strlcpy(c.roles[0], "manager", sizeof c.roles[0]);
    rp_strlcpy(c.roles[1], "analyst", sizeof c.roles[1]);
    c.n_roles = 2;
    c.iat = NOW_S;
    c.nbf = NOW_S;
    c.exp = NOW_S + 3600;
    return c;
}

/* s_subst - replace {now} {exp} {kid1} ... placeholders; malloc'd. */
static char *
s_subst(const char *tmpl)
{
    static const struct { const char *name; int64_t off; } times[] = {
        { "{now}", 0 }, { "{exp}", 3600 }, { "{past}", -1 }, { "{skew}", 30 }, { "{soon}", 31 },
    };
    char *out = rp_malloc(strlen(tmpl) * 2 + 256);
    char *o = out;
    for (const char *p = tmpl; *p;) {
        bool done = false;
        for (size_t i = 0; i < sizeof times / sizeof times[0] && !done; i++)
            if (strncmp(p, times[i].name, strlen(times[i].name)) == 0) {
                o += sprintf(o, "%lld", (long long) (NOW_S + times[i].off));
                p += strlen(times[i].name);
                done = true;
            }
        if (!done && strncmp(p, "{kid1}", 6) == 0) {
            o += sprintf(o, "%s", s_k1.kid);
            p += 6;
            done = true;
        }
        if (!done && strncmp(p, "{kid3}", 6) == 0) {
            o += sprintf(o, "%s", s_k3.kid);
            p += 6;
            done = true;
        }
        if (!done)
            *o++ = *p++;
    }
    *o = '\0';
    return out;
}

static char *
s_b64(const void *data, size_t len)
{
    return rp_b64url_encode(data, len);
}

typedef enum { SIGN_K1, SIGN_K3, SIGN_HMAC, SIGN_EMPTY } s_sign_t;

typedef enum {
    POST_NONE, POST_FLIP_SIG, POST_SWAP_PAYLOAD, POST_TWO_PARTS, POST_FOUR_PARTS,
    POST_BAD_B64, POST_PADDED, POST_HUGE, POST_EMPTY, POST_SIG_TRAILING_BITS, POST_SPACE
} s_post_t;

/* s_token - build a token from header and payload JSON templates. */
static char *
s_token(const char *header_t, const char *payload_t, s_sign_t sign, s_post_t post)
{
    static const char *def_header = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"{kid1}\"}";
    static const char *def_payload =
        "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"iat\":{now},\"nbf\":{now},"
        "\"exp\":{exp},\"jti\":\"J1\",\"roles\":[\"manager\"],\"unit\":\"/hq/s\",\"scope\":\"own\"}";
    char *header = s_subst(header_t ? header_t : def_header);
    char *payload = s_subst(payload_t ? payload_t : def_payload);
    char *h64 = s_b64(header, strlen(header));
    char *p64 = s_b64(payload, strlen(payload));
    char *input = rp_sprintf("%s.%s", h64, p64);
    unsigned char sig[crypto_sign_BYTES];
    size_t sig_len = sizeof sig;
    switch (sign) {
    case SIGN_K1:
        crypto_sign_detached(sig, NULL, (unsigned char *) input, strlen(input), s_k1.sk);
        break;
    case SIGN_K3:
        crypto_sign_detached(sig, NULL, (unsigned char *) input, strlen(input), s_k3.sk);
        break;
    case SIGN_HMAC:                     /* key confusion: the public key as HMAC secret */
        crypto_auth_hmacsha256(sig, (unsigned char *) input, strlen(input), s_k1.pk);
        sig_len = crypto_auth_hmacsha256_BYTES;
        break;
    case SIGN_EMPTY:
        sig_len = 0;
        break;
    }
    if (post == POST_FLIP_SIG)
        sig[10] ^= 0x01;
    char *s64 = sig_len ? s_b64(sig, sig_len) : rp_strdup("");
    char *token = rp_sprintf("%s.%s", input, s64);
    char *t = NULL;
    switch (post) {
    case POST_NONE:
    case POST_FLIP_SIG:
        break;
    case POST_SWAP_PAYLOAD: {           /* another payload under the original signature */
        char *evil = s_subst("{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"iat\":{now},"
                             "\"exp\":{exp},\"jti\":\"J1\",\"roles\":[\"admin\"],\"scope\":\"company\"}");
        char *e64 = s_b64(evil, strlen(evil));
        t = rp_sprintf("%s.%s.%s", h64, e64, s64);
        free(evil);
        free(e64);
        break;
    }
    case POST_TWO_PARTS:
        t = rp_sprintf("%s.%s", h64, p64);
        break;
    case POST_FOUR_PARTS:
        t = rp_sprintf("%s.%s", token, s64);
        break;
    case POST_BAD_B64:
        t = rp_sprintf("%s.%s*.%s", h64, p64, s64);
        break;
    case POST_PADDED:
        t = rp_sprintf("%s.%s.%s==", h64, p64, s64);
        break;
    case POST_HUGE: {
        size_t n = RP_JWT_MAX_LEN + 100;
        t = rp_malloc(n + 1);
        memset(t, 'A', n);
        memcpy(t, token, strlen(token));
        t[n] = '\0';
        break;
    }
    case POST_EMPTY:
        t = rp_strdup("");
        break;
    case POST_SIG_TRAILING_BITS: {      /* 64 bytes -> 86 chars; the last has 4 unused bits */
        t = rp_strdup(token);
        char *last = t + strlen(t) - 1;
        assert_true(*last == 'A' || *last == 'Q' || *last == 'g' || *last == 'w');
        *last = (char) (*last + 1);     /* B, R, h, x: one low bit set */
        break;
    }
    case POST_SPACE:
        t = rp_sprintf(" %s", token);
        break;
    }
    if (t) {
        free(token);
        token = t;
    }
    free(header);
    free(payload);
    free(h64);
    free(p64);
    free(input);
    free(s64);
    return token;
}

static void
test_result_names(void **state)
{
    for (int r = RP_JWT_OK; r <= RP_JWT_REVOKED; r++) {
        const char *n = rp_jwt_result_name((rp_jwt_result_t) r);
        assert_non_null(n);
        assert_string_not_equal(n, "unknown");
        for (int q = RP_JWT_OK; q < r; q++)
            assert_string_not_equal(n, rp_jwt_result_name((rp_jwt_result_t) q));
    }
    assert_string_equal(rp_jwt_result_name(RP_JWT_EXPIRED), "expired");
}

static void
test_mint_roundtrip(void **state)
{
    static const struct {
        const char *jti;
        const char *on_behalf_of;
        int n_roles;
        bool want_generated_jti;
        bool want_obo_claim;
        int64_t limit_value;
        int32_t limit_discount;
    } cases[] = {
        { "01JTI00000000000000000000A", "", 2, false, false, 0, 0 },
        { "", "", 2, true, false, 0, 0 },
        { "J2", "01JBOSS000000000000000000B", 0, false, true, 0, 0 },
        { "J3", "", RP_JWT_MAX_ROLES, false, false, 0, 0 },
        { "J4", "", 1, false, false, 500000000, 1500 },
        { "J5", "", 1, false, false, 0, 10000 },
    };
    rp_jwt_verifier_t *v = rp_jwt_verifier_new();
    rp_jwt_verifier_add_key(v, s_k1.pk);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rp_claims_t c = s_claims(cases[i].jti);
        rp_strlcpy(c.on_behalf_of, cases[i].on_behalf_of, sizeof c.on_behalf_of);
        c.n_roles = cases[i].n_roles;
        for (int r = 0; r < c.n_roles; r++)
            snprintf(c.roles[r], sizeof c.roles[r], "role%d", r);
        c.limit_contract_value = cases[i].limit_value;
        c.limit_discount_bp = cases[i].limit_discount;
        char *tok = rp_jwt_mint(&c, s_k1.sk);
        assert_non_null(tok);

        /* The header is exactly what standard libraries expect. */
        const char *dot = strchr(tok, '.');
        uint8_t buf[1024];
        long n = rp_b64url_decode(tok, (size_t) (dot - tok), buf, sizeof buf - 1);
        assert_true(n > 0);
        buf[n] = '\0';
        char *want_header = rp_sprintf("{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"%s\"}", s_k1.kid);
        assert_string_equal((char *) buf, want_header);
        free(want_header);
        const char *dot2 = strchr(dot + 1, '.');
        n = rp_b64url_decode(dot + 1, (size_t) (dot2 - dot - 1), buf, sizeof buf - 1);
        assert_true(n > 0);
        json_t *p = json_loadb((char *) buf, (size_t) n, 0, NULL);
        assert_non_null(p);
        assert_string_equal(json_string_value(json_object_get(p, "iss")), "rapport");
        assert_string_equal(json_string_value(json_object_get(p, "aud")), "rapport");
        assert_int_equal(json_integer_value(json_object_get(p, "exp")), NOW_S + 3600);
        assert_int_equal(json_object_get(p, "on_behalf_of") != NULL, cases[i].want_obo_claim);
        assert_int_equal(json_object_get(p, "limits") != NULL,
                         cases[i].limit_value > 0 || cases[i].limit_discount > 0);
        json_decref(p);
        /* The signature is plain Ed25519 over "<header>.<payload>". */
        uint8_t sig[64];
        assert_int_equal(rp_b64url_decode(dot2 + 1, strlen(dot2 + 1), sig, sizeof sig), 64);
        assert_int_equal(crypto_sign_verify_detached(sig, (unsigned char *) tok,
                                                     (size_t) (dot2 - tok), s_k1.pk), 0);

        const rp_claims_t *got = NULL;
        assert_int_equal(rp_jwt_verify(v, tok, NOW_MS, &got), RP_JWT_OK);
        assert_non_null(got);
        assert_string_equal(got->sub, c.sub);
        if (cases[i].want_generated_jti)
            assert_int_equal(strlen(got->jti), 26);
        else
            assert_string_equal(got->jti, c.jti);
        assert_string_equal(got->branch, c.branch);
        assert_string_equal(got->unit, c.unit);
        assert_string_equal(got->scope, c.scope);
        assert_string_equal(got->on_behalf_of, c.on_behalf_of);
        assert_int_equal(got->n_roles, c.n_roles);
        for (int r = 0; r < c.n_roles; r++)
            assert_string_equal(got->roles[r], c.roles[r]);
        assert_int_equal(got->limit_contract_value, c.limit_contract_value);
        assert_int_equal(got->limit_discount_bp, c.limit_discount_bp);
        assert_int_equal(got->iat, c.iat);
        assert_int_equal(got->nbf, c.nbf);
        assert_int_equal(got->exp, c.exp);
        free(tok);
    }
    /* Two mints with an empty jti get different jtis. */
    rp_claims_t c = s_claims("");
    char *a = rp_jwt_mint(&c, s_k1.sk), *b = rp_jwt_mint(&c, s_k1.sk);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
    rp_jwt_verifier_destroy(&v);
    assert_null(v);
    rp_jwt_verifier_destroy(&v);
}

static void
test_attacks(void **state)
{
    static const struct {
        const char *name;
        const char *header;             /* NULL: the default EdDSA/kid1 header */
        const char *payload;            /* NULL: the default valid claims */
        s_sign_t sign;
        s_post_t post;
        bool revoke;
        rp_jwt_result_t want;
    } cases[] = {
        { "valid", NULL, NULL, SIGN_K1, POST_NONE, false, RP_JWT_OK },
        { "valid without kid", "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}", NULL, SIGN_K1, POST_NONE, false, RP_JWT_OK },
        { "valid without typ", "{\"alg\":\"EdDSA\",\"kid\":\"{kid1}\"}", NULL, SIGN_K1, POST_NONE, false, RP_JWT_OK },
        { "alg none", "{\"alg\":\"none\",\"typ\":\"JWT\"}", NULL, SIGN_EMPTY, POST_NONE, false, RP_JWT_BAD_ALG },
        { "alg none signed", "{\"alg\":\"none\",\"kid\":\"{kid1}\"}", NULL, SIGN_K1, POST_NONE, false, RP_JWT_BAD_ALG },
        { "alg HS256 keyed with pk", "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"{kid1}\"}", NULL, SIGN_HMAC, POST_NONE, false, RP_JWT_BAD_ALG },
        { "alg HS256 no kid", "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", NULL, SIGN_HMAC, POST_NONE, false, RP_JWT_BAD_ALG },
        { "alg lower case", "{\"alg\":\"eddsa\",\"kid\":\"{kid1}\"}", NULL, SIGN_K1, POST_NONE, false, RP_JWT_BAD_ALG },
        { "alg ES256", "{\"alg\":\"ES256\",\"kid\":\"{kid1}\"}", NULL, SIGN_K1, POST_NONE, false, RP_JWT_BAD_ALG },
        { "alg missing", "{\"typ\":\"JWT\",\"kid\":\"{kid1}\"}", NULL, SIGN_K1, POST_NONE, false, RP_JWT_BAD_ALG },
        { "alg not a string", "{\"alg\":[\"EdDSA\"],\"kid\":\"{kid1}\"}", NULL, SIGN_K1, POST_NONE, false, RP_JWT_BAD_ALG },
        { "alg with NUL", "{\"alg\":\"EdDSA\\u0000x\",\"kid\":\"{kid1}\"}", NULL, SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "crit header", "{\"alg\":\"EdDSA\",\"kid\":\"{kid1}\",\"crit\":[\"exp\"]}", NULL, SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "typ other", "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"{kid1}\"}", NULL, SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "duplicate alg", "{\"alg\":\"none\",\"alg\":\"EdDSA\",\"kid\":\"{kid1}\"}", NULL, SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "bad signature", NULL, NULL, SIGN_K1, POST_FLIP_SIG, false, RP_JWT_BAD_SIGNATURE },
        { "tampered payload", NULL, NULL, SIGN_K1, POST_SWAP_PAYLOAD, false, RP_JWT_BAD_SIGNATURE },
        { "unknown kid", "{\"alg\":\"EdDSA\",\"kid\":\"{kid3}\"}", NULL, SIGN_K3, POST_NONE, false, RP_JWT_UNKNOWN_KEY },
        { "trusted kid, other key", NULL, NULL, SIGN_K3, POST_NONE, false, RP_JWT_BAD_SIGNATURE },
        { "no kid, untrusted key", "{\"alg\":\"EdDSA\"}", NULL, SIGN_K3, POST_NONE, false, RP_JWT_BAD_SIGNATURE },
        { "kid not a string", "{\"alg\":\"EdDSA\",\"kid\":7}", NULL, SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "expired", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{past},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_EXPIRED },
        { "expires now", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{now},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_EXPIRED },
        { "not yet valid", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"nbf\":{soon},\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_NOT_YET_VALID },
        { "nbf within skew", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"nbf\":{skew},\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_OK },
        { "wrong iss", NULL, "{\"iss\":\"evil\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_BAD_ISSUER },
        { "missing iss", NULL, "{\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_BAD_ISSUER },
        { "iss prefix", NULL, "{\"iss\":\"rapport2\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_BAD_ISSUER },
        { "wrong aud", NULL, "{\"iss\":\"rapport\",\"aud\":\"other\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_BAD_AUDIENCE },
        { "missing aud", NULL, "{\"iss\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_BAD_AUDIENCE },
        { "aud array with rapport", NULL, "{\"iss\":\"rapport\",\"aud\":[\"x\",\"rapport\"],\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_OK },
        { "aud array without", NULL, "{\"iss\":\"rapport\",\"aud\":[\"x\"],\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_BAD_AUDIENCE },
        { "revoked jti", NULL, NULL, SIGN_K1, POST_NONE, true, RP_JWT_REVOKED },
        { "two parts", NULL, NULL, SIGN_K1, POST_TWO_PARTS, false, RP_JWT_MALFORMED },
        { "four parts", NULL, NULL, SIGN_K1, POST_FOUR_PARTS, false, RP_JWT_MALFORMED },
        { "bad base64", NULL, NULL, SIGN_K1, POST_BAD_B64, false, RP_JWT_MALFORMED },
        { "padded base64", NULL, NULL, SIGN_K1, POST_PADDED, false, RP_JWT_MALFORMED },
        { "non-canonical base64", NULL, NULL, SIGN_K1, POST_SIG_TRAILING_BITS, false, RP_JWT_MALFORMED },
        { "leading space", NULL, NULL, SIGN_K1, POST_SPACE, false, RP_JWT_MALFORMED },
        { "huge token", NULL, NULL, SIGN_K1, POST_HUGE, false, RP_JWT_MALFORMED },
        { "empty token", NULL, NULL, SIGN_K1, POST_EMPTY, false, RP_JWT_MALFORMED },
        { "header not JSON", "{alg:EdDSA}", NULL, SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "header an array", "[\"EdDSA\"]", NULL, SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "payload not JSON", NULL, "sub=u1;exp={exp}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "payload a string", NULL, "\"rapport\"", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "payload trailing garbage", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\"} x", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "duplicate sub", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"sub\":\"admin\",\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "missing sub", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "empty sub", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"\",\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "missing jti", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp}}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "missing exp", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "exp a string", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":\"{exp}\",\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "exp a float", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp}.5,\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "exp huge", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":99999999999999999999,\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "nbf negative", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"nbf\":-1,\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "sub 63 chars", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu\",\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_OK },
        { "sub 64 chars", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu\",\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "sub with NUL", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\\u0000admin\",\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "sub a number", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":1,\"exp\":{exp},\"jti\":\"J1\"}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "scope too long", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\",\"scope\":\"companycompanycom\"}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "8 roles", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\",\"roles\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\"]}", SIGN_K1, POST_NONE, false, RP_JWT_OK },
        { "9 roles", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\",\"roles\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "role too long", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\",\"roles\":[\"rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr\"]}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "role not a string", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\",\"roles\":[1]}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "limits", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\",\"limits\":{\"contract_value\":5000000,\"discount_bp\":1500}}", SIGN_K1, POST_NONE, false, RP_JWT_OK },
        { "limits not an object", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\",\"limits\":5}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "limit negative", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\",\"limits\":{\"contract_value\":-1}}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "limit a string", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\",\"limits\":{\"contract_value\":\"9\"}}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "discount over 100%", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\",\"limits\":{\"discount_bp\":10001}}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
        { "roles not an array", NULL, "{\"iss\":\"rapport\",\"aud\":\"rapport\",\"sub\":\"u1\",\"exp\":{exp},\"jti\":\"J1\",\"roles\":\"admin\"}", SIGN_K1, POST_NONE, false, RP_JWT_MALFORMED },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rp_jwt_verifier_t *v = rp_jwt_verifier_new();
        rp_jwt_verifier_add_key(v, s_k1.pk);
        rp_jwt_verifier_add_key(v, s_k2.pk);
        if (cases[i].revoke)
            rp_jwt_verifier_revoke(v, "J1", NOW_S + 3600);
        char *tok = s_token(cases[i].header, cases[i].payload, cases[i].sign, cases[i].post);
        const rp_claims_t *got = (const rp_claims_t *) 1;
        rp_jwt_result_t r = rp_jwt_verify(v, tok, NOW_MS, &got);
        if (r != cases[i].want)
            fail_msg("%s: got %s, want %s", cases[i].name, rp_jwt_result_name(r),
                     rp_jwt_result_name(cases[i].want));
        if (cases[i].want == RP_JWT_OK) {
            assert_non_null(got);
            assert_string_equal(got->jti, "J1");
            assert_int_equal(rp_jwt_verifier_cache_size(v), 1);
        } else {
            assert_null(got);
            /* A token that failed for any reason but time or revocation is not cached. */
            if (cases[i].want != RP_JWT_EXPIRED && cases[i].want != RP_JWT_REVOKED
                && cases[i].want != RP_JWT_NOT_YET_VALID)
                assert_int_equal(rp_jwt_verifier_cache_size(v), 0);
        }
        /* A second call answers the same (cached or not). */
        assert_int_equal(rp_jwt_verify(v, tok, NOW_MS, &got), cases[i].want);
        free(tok);
        rp_jwt_verifier_destroy(&v);
    }
}

static void
test_null_and_no_keys(void **state)
{
    rp_jwt_verifier_t *v = rp_jwt_verifier_new();
    const rp_claims_t *got = NULL;
    assert_int_equal(rp_jwt_verify(v, NULL, NOW_MS, &got), RP_JWT_MALFORMED);
    char *tok = s_token(NULL, NULL, SIGN_K1, POST_NONE);
    assert_int_equal(rp_jwt_verify(v, tok, NOW_MS, &got), RP_JWT_UNKNOWN_KEY);
    free(tok);
    tok = s_token("{\"alg\":\"EdDSA\"}", NULL, SIGN_K1, POST_NONE);
    assert_int_equal(rp_jwt_verify(v, tok, NOW_MS, &got), RP_JWT_UNKNOWN_KEY);
    free(tok);
    rp_jwt_verifier_destroy(&v);
}

static void
test_cache(void **state)
{
    rp_jwt_verifier_t *v = rp_jwt_verifier_new();
    rp_jwt_verifier_add_key(v, s_k1.pk);
    rp_claims_t c = s_claims("JTI-CACHE-1");
    char *tok = rp_jwt_mint(&c, s_k1.sk);
    c.exp = NOW_S + 30;
    rp_strlcpy(c.jti, "JTI-CACHE-2", sizeof c.jti);
    char *tok2 = rp_jwt_mint(&c, s_k1.sk);

    static const struct {
        int which;              /* 1: tok, 2: tok2 */
        int64_t now_ms;
        const char *revoke;     /* revoke this jti first */
        rp_jwt_result_t want;
        size_t want_cache_size;
    } steps[] = {
        { 1, NOW_MS, NULL, RP_JWT_OK, 1 },
        { 1, NOW_MS + 1000, NULL, RP_JWT_OK, 1 },           /* cached: same entry */
        { 2, NOW_MS, NULL, RP_JWT_OK, 2 },
        { 2, NOW_MS + 29000, NULL, RP_JWT_OK, 2 },
        { 2, NOW_MS + 30000, NULL, RP_JWT_EXPIRED, 2 },     /* cached, still expires */
        { 1, NOW_MS + 2000, "JTI-CACHE-1", RP_JWT_REVOKED, 2 },   /* revoked after caching */
        { 2, NOW_MS + 2000, NULL, RP_JWT_OK, 2 },           /* the other is unaffected */
        { 2, NOW_MS + 200000, NULL, RP_JWT_EXPIRED, 1 },    /* a purge drops the expired entry */
        { 1, NOW_MS + 200000, NULL, RP_JWT_REVOKED, 1 },
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (steps[i].revoke)
            rp_jwt_verifier_revoke(v, steps[i].revoke, NOW_S + 3600);
        const rp_claims_t *got = NULL;
        rp_jwt_result_t r = rp_jwt_verify(v, steps[i].which == 1 ? tok : tok2, steps[i].now_ms, &got);
        if (r != steps[i].want)
            fail_msg("step %zu: got %s want %s", i, rp_jwt_result_name(r),
                     rp_jwt_result_name(steps[i].want));
        assert_int_equal(rp_jwt_verifier_cache_size(v), steps[i].want_cache_size);
        if (r == RP_JWT_OK)
            assert_string_equal(got->jti, steps[i].which == 1 ? "JTI-CACHE-1" : "JTI-CACHE-2");
    }
    /* Revocations outlive the purge while the token could still be valid. */
    const rp_claims_t *got = NULL;
    assert_int_equal(rp_jwt_verify(v, tok, NOW_MS + 3599000, &got), RP_JWT_REVOKED);
    free(tok);
    free(tok2);
    rp_jwt_verifier_destroy(&v);
}

static void
test_revoke_forever(void **state)
{
    rp_jwt_verifier_t *v = rp_jwt_verifier_new();
    rp_jwt_verifier_add_key(v, s_k1.pk);
    rp_claims_t c = s_claims("JTI-FOREVER");
    c.exp = NOW_S + 10 * 86400;
    char *tok = rp_jwt_mint(&c, s_k1.sk);
    rp_jwt_verifier_revoke(v, "JTI-FOREVER", 0);        /* expiry unknown */
    rp_jwt_verifier_revoke(v, "JTI-FOREVER", NOW_S);    /* a shorter expiry does not shrink it */
    const rp_claims_t *got = NULL;
    for (int d = 0; d < 10; d++)
        assert_int_equal(rp_jwt_verify(v, tok, NOW_MS + (int64_t) d * 86400000, &got), RP_JWT_REVOKED);
    free(tok);
    rp_jwt_verifier_destroy(&v);
}

/* s_fill - verify n distinct tokens expiring at exp_s; returns nothing, checks OK. */
static void
s_fill(rp_jwt_verifier_t *v, const char *prefix, int n, int64_t exp_s, int64_t now_ms)
{
    rp_claims_t c = s_claims("");
    c.exp = exp_s;
    for (int i = 0; i < n; i++) {
        snprintf(c.jti, sizeof c.jti, "%s-%d", prefix, i);
        char *tok = rp_jwt_mint(&c, s_k1.sk);
        const rp_claims_t *got;
        if (rp_jwt_verify(v, tok, now_ms, &got) != RP_JWT_OK)
            fail_msg("fill %s %d", prefix, i);
        free(tok);
    }
}

static void
test_cache_bound(void **state)
{
    rp_jwt_verifier_t *v = rp_jwt_verifier_new();
    rp_jwt_verifier_add_key(v, s_k1.pk);
    const int max = 65536;
    /* Half short-lived, half long-lived: full. */
    s_fill(v, "short", max / 2, NOW_S + 10, NOW_MS);
    s_fill(v, "long", max / 2, NOW_S + 3600, NOW_MS + 1000);
    assert_int_equal(rp_jwt_verifier_cache_size(v), max);
    /* Full at a time the short ones have expired: they are dropped first. */
    s_fill(v, "late", 1, NOW_S + 3600, NOW_MS + 20000);
    assert_int_equal(rp_jwt_verifier_cache_size(v), max / 2 + 1);
    /* Full of live entries: everything goes. */
    s_fill(v, "more", max / 2 - 1, NOW_S + 3600, NOW_MS + 21000);
    assert_int_equal(rp_jwt_verifier_cache_size(v), max);
    s_fill(v, "over", 1, NOW_S + 3600, NOW_MS + 22000);
    assert_int_equal(rp_jwt_verifier_cache_size(v), 1);
    rp_jwt_verifier_destroy(&v);
}

static void
test_rotation(void **state)
{
    rp_jwt_verifier_t *v = rp_jwt_verifier_new();
    rp_jwt_verifier_add_key(v, s_k1.pk);
    rp_jwt_verifier_add_key(v, s_k2.pk);
    rp_jwt_verifier_add_key(v, s_k1.pk);        /* a duplicate takes no slot */
    static const struct {
        int key;
        rp_jwt_result_t want;
    } cases[] = {
        { 1, RP_JWT_OK }, { 2, RP_JWT_OK }, { 3, RP_JWT_UNKNOWN_KEY },
    };
    s_key_t *keys[] = { NULL, &s_k1, &s_k2, &s_k3 };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char jti[16];
        snprintf(jti, sizeof jti, "ROT-%zu", i);
        rp_claims_t c = s_claims(jti);
        char *tok = rp_jwt_mint(&c, keys[cases[i].key]->sk);
        const rp_claims_t *got = NULL;
        assert_int_equal(rp_jwt_verify(v, tok, NOW_MS, &got), cases[i].want);
        free(tok);
    }
    /* Two more keys fit (four in all). */
    unsigned char pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    rp_jwt_verifier_add_key(v, s_k3.pk);
    rp_jwt_verifier_add_key(v, pk);
    rp_claims_t c = s_claims("ROT-4");
    char *tok = rp_jwt_mint(&c, sk);
    const rp_claims_t *got = NULL;
    assert_int_equal(rp_jwt_verify(v, tok, NOW_MS, &got), RP_JWT_OK);
    free(tok);
    rp_jwt_verifier_destroy(&v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_names),
        cmocka_unit_test(test_mint_roundtrip),
        cmocka_unit_test(test_attacks),
        cmocka_unit_test(test_null_and_no_keys),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_revoke_forever),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_cache_bound),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
