/* jwt.c - mint and verify Ed25519 JSON Web Tokens (alg EdDSA, RFC 7519 / RFC 8037).
 *
 * Minting builds the header and claims with jansson and signs
 * "<b64url header>.<b64url claims>" with crypto_sign_detached.
 *
 * Verification is strict and fails closed: exactly three parts, at most
 * RP_JWT_MAX_LEN bytes, canonical unpadded base64url, JSON objects without
 * duplicate keys, alg exactly "EdDSA", no "crit" extensions, a kid that names
 * a trusted key (every trusted key is tried when kid is absent), the
 * signature checked before the claims are even parsed, iss and aud "rapport",
 * sub/jti/exp present, every string within the size of its rp_claims_t field
 * (over-long claims are rejected, never truncated), at most RP_JWT_MAX_ROLES
 * roles. exp is strict (a token is expired at exp); nbf tolerates S_NBF_SKEW
 * seconds of clock skew between issuer and verifier, exp none (a token must
 * not outlive what its issuer granted).
 *
 * The verifier caches valid tokens in an open-addressing table keyed by a
 * keyed BLAKE2b-128 of the token text (the key is random per verifier, so
 * collisions cannot be precomputed). Expiry and the revocation set are
 * checked on every call, cached or not. The cache holds at most
 * S_CACHE_MAX entries: when full, expired entries are dropped, then all.
 * Expired cache entries and revocations are also purged once a minute.
 * A verifier belongs to one thread.
 */
#include "rapport/jwt.h"
#include "rapport/clock.h"
#include "rapport/keys.h"
#include "rapport/ulid.h"
#include "rapport/util.h"

#include <assert.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_NBF_SKEW 30                   /* seconds of tolerance on nbf */
#define S_MAX_KEYS 4
#define S_CACHE_MAX 65536               /* entries */
#define S_TABLE_MIN 1024                /* slots; a table is never more than half full */
#define S_PURGE_EVERY 60                /* seconds between purges of expired entries */
#define S_HEADER_MAX 512                /* decoded header bytes */
#define S_KEY_BYTES 16

const char *
rp_jwt_result_name(rp_jwt_result_t r)
{
    switch (r) {
    case RP_JWT_OK: return "ok";
    case RP_JWT_MALFORMED: return "malformed token";
    case RP_JWT_BAD_ALG: return "unsupported algorithm";
    case RP_JWT_UNKNOWN_KEY: return "unknown signing key";
    case RP_JWT_BAD_SIGNATURE: return "bad signature";
    case RP_JWT_EXPIRED: return "expired";
    case RP_JWT_NOT_YET_VALID: return "not yet valid";
    case RP_JWT_BAD_ISSUER: return "bad issuer";
    case RP_JWT_BAD_AUDIENCE: return "bad audience";
    case RP_JWT_REVOKED: return "revoked";
    }
    return "unknown";
}

/* ---------------------------------------------------------------------------
 * A small open-addressing hash table: 16-byte keys (already uniformly random
 * hashes), an expiry in seconds and an optional owned value. Linear probing;
 * removal only happens by rebuilding, so there are no tombstones.
 */
typedef struct {
    uint8_t key[S_KEY_BYTES];
    int64_t exp;
    void *val;                          /* owned (free); NULL for sets */
    bool used;
} s_slot_t;

typedef struct {
    s_slot_t *slots;
    size_t cap;                         /* power of two */
    size_t count;
} s_table_t;

static void
s_table_init(s_table_t *t, size_t cap)
{
    t->slots = rp_calloc(cap, sizeof *t->slots);
    t->cap = cap;
    t->count = 0;
}

static void
s_table_free(s_table_t *t)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].used)
            free(t->slots[i].val);
    free(t->slots);
    t->slots = NULL;
    t->cap = t->count = 0;
}

/* s_table_find - the slot holding key, or the empty slot where it would go. */
static s_slot_t *
s_table_find(const s_table_t *t, const uint8_t *key)
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    size_t mask = t->cap - 1;
    for (size_t i = (size_t) h & mask;; i = (i + 1) & mask) {
        s_slot_t *s = &t->slots[i];
        if (!s->used || memcmp(s->key, key, S_KEY_BYTES) == 0)
            return s;
    }
}

/* s_table_rebuild - move the entries with exp >= keep_from (all when keep_from
 * is INT64_MIN) into a table of new_cap slots; the others are freed. */
static void
s_table_rebuild(s_table_t *t, size_t new_cap, int64_t keep_from)
{
    s_table_t n;
    s_table_init(&n, new_cap);
    for (size_t i = 0; i < t->cap; i++) {
        s_slot_t *s = &t->slots[i];
        if (!s->used)
            continue;
        if (s->exp < keep_from) {
            free(s->val);
            continue;
        }
        s_slot_t *d = s_table_find(&n, s->key);
        *d = *s;
        n.count++;
    }
    free(t->slots);
    *t = n;
}

/* s_table_put - insert or replace; takes ownership of val. */
static s_slot_t *
s_table_put(s_table_t *t, const uint8_t *key, int64_t exp, void *val)
{
    if ((t->count + 1) * 2 > t->cap)
        s_table_rebuild(t, t->cap * 2, INT64_MIN);
    s_slot_t *s = s_table_find(t, key);
    if (s->used)
        free(s->val);
    else {
        memcpy(s->key, key, S_KEY_BYTES);
        s->used = true;
        t->count++;
    }
    s->exp = exp;
    s->val = val;
    return s;
}

/* ------------------------------------------------------------------------- */

struct rp_jwt_verifier {
    unsigned char keys[S_MAX_KEYS][crypto_sign_PUBLICKEYBYTES];
    char kids[S_MAX_KEYS][17];
    int n_keys;
    uint8_t hash_key[crypto_generichash_KEYBYTES];
    s_table_t cache;                    /* token hash -> rp_claims_t */
    s_table_t revoked;                  /* jti hash -> exp */
    int64_t last_purge;                 /* seconds */
    rp_claims_t current;                /* what the last rp_jwt_verify returned */
};

rp_jwt_verifier_t *
rp_jwt_verifier_new(void)
{
    if (sodium_init() < 0)
        abort();
    rp_jwt_verifier_t *self = rp_calloc(1, sizeof *self);
    randombytes_buf(self->hash_key, sizeof self->hash_key);
    s_table_init(&self->cache, S_TABLE_MIN);
    s_table_init(&self->revoked, S_TABLE_MIN);
    return self;
}

void
rp_jwt_verifier_destroy(rp_jwt_verifier_t **self_p)
{
    assert(self_p);
    rp_jwt_verifier_t *self = *self_p;
    if (!self)
        return;
    s_table_free(&self->cache);
    s_table_free(&self->revoked);
    sodium_memzero(self, sizeof *self);
    free(self);
    *self_p = NULL;
}

void
rp_jwt_verifier_add_key(rp_jwt_verifier_t *self, const unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
    assert(self && pk);
    for (int i = 0; i < self->n_keys; i++)
        if (memcmp(self->keys[i], pk, crypto_sign_PUBLICKEYBYTES) == 0)
            return;
    assert(self->n_keys < S_MAX_KEYS);
    memcpy(self->keys[self->n_keys], pk, crypto_sign_PUBLICKEYBYTES);
    rp_key_id(pk, self->kids[self->n_keys]);
    self->n_keys++;
}

/* s_hash - keyed BLAKE2b-128 of data, domain-separated by tag. */
static void
s_hash(const rp_jwt_verifier_t *self, char tag, const void *data, size_t len, uint8_t out[S_KEY_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, self->hash_key, sizeof self->hash_key, S_KEY_BYTES);
    crypto_generichash_update(&st, (const unsigned char *) &tag, 1);
    crypto_generichash_update(&st, data, len);
    crypto_generichash_final(&st, out, S_KEY_BYTES);
}

void
rp_jwt_verifier_revoke(rp_jwt_verifier_t *self, const char *jti, int64_t exp_s)
{
    assert(self && jti);
    if (exp_s <= 0)
        exp_s = INT64_MAX;              /* expiry unknown: keep for the verifier's life */
    uint8_t key[S_KEY_BYTES];
    s_hash(self, 'r', jti, strlen(jti), key);
    s_slot_t *s = s_table_find(&self->revoked, key);
    if (s->used && s->exp >= exp_s)
        return;
    s_table_put(&self->revoked, key, exp_s, NULL);
}

size_t
rp_jwt_verifier_cache_size(const rp_jwt_verifier_t *self)
{
    assert(self);
    return self->cache.count;
}

/* s_purge - drop cache entries and revocations whose expiry has passed. */
static void
s_purge(rp_jwt_verifier_t *self, int64_t now_s)
{
    s_table_rebuild(&self->cache, self->cache.cap, now_s + 1);   /* keep exp > now */
    s_table_rebuild(&self->revoked, self->revoked.cap, now_s);   /* keep exp >= now */
    self->last_purge = now_s;
}

/* ---------------------------------------------------------------------------
 * Minting
 */

/* s_set_str - add a string claim unless empty; false when not valid UTF-8. */
static bool
s_set_str(json_t *obj, const char *name, const char *value, size_t cap)
{
    size_t n = strnlen(value, cap);
    assert(n < cap);                    /* the field is NUL-terminated */
    if (n == 0)
        return true;
    json_t *v = json_stringn(value, n);
    return v && json_object_set_new(obj, name, v) == 0;
}

/* s_b64_part - base64url of a JSON value (compact). */
static char *
s_b64_json(json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    if (!text)
        return NULL;
    char *b64 = rp_b64url_encode((const uint8_t *) text, strlen(text));
    free(text);
    return b64;
}

/* rp_jwt_mint - NULL only when a claim string is not valid UTF-8. */
char *
rp_jwt_mint(const rp_claims_t *claims, const unsigned char *sk)
{
    assert(claims && sk);
    assert(claims->n_roles >= 0 && claims->n_roles <= RP_JWT_MAX_ROLES);
    if (sodium_init() < 0)
        abort();

    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    char kid[17], jti[RP_ULID_STRLEN + 1];
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    rp_key_id(pk, kid);

    const char *use_jti = claims->jti;
    if (claims->jti[0] == '\0') {
        rp_ulid_new_str(claims->iat > 0 ? claims->iat * 1000 : rp_clock_now_ms(), jti);
        use_jti = jti;
    }

    char *token = NULL, *h64 = NULL, *p64 = NULL;
    json_t *header = json_pack("{s:s, s:s, s:s}", "alg", "EdDSA", "typ", "JWT", "kid", kid);
    json_t *body = json_object();
    json_t *roles = json_array();
    bool ok = header && body && roles;
    ok = ok && json_object_set_new(body, "iss", json_string("rapport")) == 0;
    ok = ok && json_object_set_new(body, "aud", json_string("rapport")) == 0;
    ok = ok && s_set_str(body, "sub", claims->sub, sizeof claims->sub);
    ok = ok && json_object_set_new(body, "iat", json_integer(claims->iat)) == 0;
    ok = ok && json_object_set_new(body, "nbf", json_integer(claims->nbf)) == 0;
    ok = ok && json_object_set_new(body, "exp", json_integer(claims->exp)) == 0;
    ok = ok && s_set_str(body, "jti", use_jti, sizeof claims->jti);
    for (int i = 0; ok && i < claims->n_roles; i++) {
        size_t n = strnlen(claims->roles[i], sizeof claims->roles[i]);
        assert(n < sizeof claims->roles[i]);
        json_t *r = json_stringn(claims->roles[i], n);
        ok = r && json_array_append_new(roles, r) == 0;
    }
    ok = ok && json_object_set(body, "roles", roles) == 0;
    ok = ok && s_set_str(body, "branch", claims->branch, sizeof claims->branch);
    ok = ok && s_set_str(body, "unit", claims->unit, sizeof claims->unit);
    ok = ok && s_set_str(body, "scope", claims->scope, sizeof claims->scope);
    ok = ok && s_set_str(body, "on_behalf_of", claims->on_behalf_of, sizeof claims->on_behalf_of);
    assert(claims->limit_contract_value >= 0 && claims->limit_discount_bp >= 0
           && claims->limit_discount_bp <= 10000);
    if (ok && (claims->limit_contract_value > 0 || claims->limit_discount_bp > 0))
        ok = json_object_set_new(body, "limits",
                                 json_pack("{s:I, s:i}", "contract_value",
                                           (json_int_t) claims->limit_contract_value,
                                           "discount_bp", (int) claims->limit_discount_bp)) == 0;
    if (ok) {
        h64 = s_b64_json(header);
        p64 = s_b64_json(body);
    }
    if (h64 && p64) {
        unsigned char sig[crypto_sign_BYTES];
        char *input = rp_sprintf("%s.%s", h64, p64);
        crypto_sign_detached(sig, NULL, (const unsigned char *) input, strlen(input), sk);
        char *s64 = rp_b64url_encode(sig, sizeof sig);
        token = rp_sprintf("%s.%s", input, s64);
        free(input);
        free(s64);
    }
    free(h64);
    free(p64);
    json_decref(header);
    json_decref(body);
    json_decref(roles);
    return token;
}

/* ---------------------------------------------------------------------------
 * Verification
 */

static int
s_b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* s_b64_strict - true for canonical unpadded base64url: the alphabet only, no
 * impossible length, and zero bits after the last full byte. */
static bool
s_b64_strict(const char *s, size_t len)
{
    if (len == 0 || len % 4 == 1)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s_b64_value(s[i]) < 0)
            return false;
    int last = s_b64_value(s[len - 1]);
    if (len % 4 == 2 && (last & 0x0f))
        return false;
    if (len % 4 == 3 && (last & 0x03))
        return false;
    return true;
}

/* s_decode - strict base64url into a malloc'd buffer (NUL-terminated for JSON);
 * NULL when invalid or longer than max. */
static uint8_t *
s_decode(const char *s, size_t len, size_t max, size_t *out_len)
{
    if (!s_b64_strict(s, len))
        return NULL;
    size_t cap = len / 4 * 3 + 3;
    if (cap > max + 3)
        return NULL;
    uint8_t *buf = rp_malloc(cap + 1);
    long n = rp_b64url_decode(s, len, buf, cap);
    if (n < 0 || (size_t) n > max) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *out_len = (size_t) n;
    return buf;
}

/* s_parse_object - a JSON object without duplicate keys, or NULL. */
static json_t *
s_parse_object(const uint8_t *data, size_t len)
{
    json_error_t err;
    json_t *v = json_loadb((const char *) data, len, JSON_REJECT_DUPLICATES, &err);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* s_copy_str - copy a JSON string into dst[cap]. Absent is fine unless required;
 * wrong type, empty when required, embedded NUL or too long is not. */
static bool
s_copy_str(json_t *obj, const char *name, char *dst, size_t cap, bool required)
{
    json_t *v = json_object_get(obj, name);
    dst[0] = '\0';
    if (!v)
        return !required;
    if (!json_is_string(v))
        return false;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n >= cap || strlen(s) != n || (required && n == 0))
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

/* s_copy_time - a NumericDate as a non-negative JSON integer (seconds). */
static bool
s_copy_time(json_t *obj, const char *name, int64_t *dst, bool required)
{
    json_t *v = json_object_get(obj, name);
    *dst = 0;
    if (!v)
        return !required;
    if (!json_is_integer(v))
        return false;
    json_int_t t = json_integer_value(v);
    if (t < 0 || t > (json_int_t) 253402300799)     /* 9999-12-31T23:59:59Z */
        return false;
    *dst = (int64_t) t;
    return true;
}

/* s_copy_limits - the optional "limits" object: non-negative integers, a
 * contract value up to 10^15 minor units and a discount up to 10000 bp. */
static bool
s_copy_limits(json_t *p, rp_claims_t *c)
{
    json_t *l = json_object_get(p, "limits");
    if (!l)
        return true;
    if (!json_is_object(l))
        return false;
    json_t *v = json_object_get(l, "contract_value");
    json_t *d = json_object_get(l, "discount_bp");
    if ((v && !json_is_integer(v)) || (d && !json_is_integer(d)))
        return false;
    json_int_t vv = v ? json_integer_value(v) : 0, dv = d ? json_integer_value(d) : 0;
    if (vv < 0 || vv > (json_int_t) 1000000000000000LL || dv < 0 || dv > 10000)
        return false;
    c->limit_contract_value = (int64_t) vv;
    c->limit_discount_bp = (int32_t) dv;
    return true;
}

/* s_audience_ok - aud is "rapport" or an array that contains it. */
static bool
s_audience_ok(json_t *aud)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), "rapport") == 0
               && json_string_length(aud) == strlen("rapport");
    if (!json_is_array(aud))
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v)
        if (json_is_string(v) && json_string_length(v) == strlen("rapport")
            && strcmp(json_string_value(v), "rapport") == 0)
            return true;
    return false;
}

/* s_parse_claims - the payload into c. */
static rp_jwt_result_t
s_parse_claims(json_t *p, rp_claims_t *c)
{
    memset(c, 0, sizeof *c);
    json_t *iss = json_object_get(p, "iss");
    if (!json_is_string(iss) || json_string_length(iss) != strlen("rapport")
        || strcmp(json_string_value(iss), "rapport") != 0)
        return RP_JWT_BAD_ISSUER;
    if (!s_audience_ok(json_object_get(p, "aud")))
        return RP_JWT_BAD_AUDIENCE;
    if (!s_copy_str(p, "sub", c->sub, sizeof c->sub, true)
        || !s_copy_str(p, "jti", c->jti, sizeof c->jti, true)
        || !s_copy_str(p, "branch", c->branch, sizeof c->branch, false)
        || !s_copy_str(p, "unit", c->unit, sizeof c->unit, false)
        || !s_copy_str(p, "scope", c->scope, sizeof c->scope, false)
        || !s_copy_str(p, "on_behalf_of", c->on_behalf_of, sizeof c->on_behalf_of, false)
        || !s_copy_time(p, "exp", &c->exp, true)
        || !s_copy_time(p, "iat", &c->iat, false)
        || !s_copy_time(p, "nbf", &c->nbf, false)
        || !s_copy_limits(p, c))
        return RP_JWT_MALFORMED;
    json_t *roles = json_object_get(p, "roles");
    if (roles) {
        if (!json_is_array(roles) || json_array_size(roles) > RP_JWT_MAX_ROLES)
            return RP_JWT_MALFORMED;
        size_t i;
        json_t *r;
        json_array_foreach(roles, i, r) {
            size_t n = json_is_string(r) ? json_string_length(r) : 0;
            if (n == 0 || n >= sizeof c->roles[0] || strlen(json_string_value(r)) != n)
                return RP_JWT_MALFORMED;
            memcpy(c->roles[c->n_roles++], json_string_value(r), n + 1);
        }
    }
    return RP_JWT_OK;
}

/* s_check_header - alg, crit, typ; *kid_index is the key named by kid, or -1
 * when kid is absent (try them all). */
static rp_jwt_result_t
s_check_header(const rp_jwt_verifier_t *self, json_t *h, int *kid_index)
{
    json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg) || json_string_length(alg) != 5
        || strcmp(json_string_value(alg), "EdDSA") != 0)
        return RP_JWT_BAD_ALG;
    if (json_object_get(h, "crit"))
        return RP_JWT_MALFORMED;            /* no extensions are understood */
    json_t *typ = json_object_get(h, "typ");
    if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
        return RP_JWT_MALFORMED;
    json_t *kid = json_object_get(h, "kid");
    *kid_index = -1;
    if (!kid)
        return self->n_keys > 0 ? RP_JWT_OK : RP_JWT_UNKNOWN_KEY;
    if (!json_is_string(kid))
        return RP_JWT_MALFORMED;
    for (int i = 0; i < self->n_keys; i++)
        if (json_string_length(kid) == 16 && strcmp(self->kids[i], json_string_value(kid)) == 0) {
            *kid_index = i;
            return RP_JWT_OK;
        }
    return RP_JWT_UNKNOWN_KEY;
}

/* s_verify_full - the uncached path: parse, check the signature, parse claims. */
static rp_jwt_result_t
s_verify_full(const rp_jwt_verifier_t *self, const char *token, size_t len, rp_claims_t *out)
{
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)))
        return RP_JWT_MALFORMED;
    size_t h_len = (size_t) (dot1 - token);
    size_t p_len = (size_t) (dot2 - dot1 - 1);
    size_t s_len = len - (size_t) (dot2 + 1 - token);

    rp_jwt_result_t rc = RP_JWT_MALFORMED;
    size_t hdr_len = 0, sig_len = 0, body_len = 0;
    uint8_t *hdr = NULL, *sig = NULL, *body = NULL;
    json_t *h = NULL, *p = NULL;

    if (!(hdr = s_decode(token, h_len, S_HEADER_MAX, &hdr_len)))
        goto done;
    if (!(h = s_parse_object(hdr, hdr_len)))
        goto done;
    int kid_index;
    if ((rc = s_check_header(self, h, &kid_index)) != RP_JWT_OK)
        goto done;      /* alg "none" tokens end here, whatever their signature part */
    rc = RP_JWT_MALFORMED;
    sig = s_decode(dot2 + 1, s_len, crypto_sign_BYTES, &sig_len);
    if (!sig || sig_len != crypto_sign_BYTES || !s_b64_strict(dot1 + 1, p_len))
        goto done;

    /* The signature covers "<header>.<payload>" exactly as sent. */
    size_t input_len = (size_t) (dot2 - token);
    rc = RP_JWT_BAD_SIGNATURE;
    for (int i = 0; i < self->n_keys; i++) {
        if (kid_index >= 0 && i != kid_index)
            continue;
        if (crypto_sign_verify_detached(sig, (const unsigned char *) token, input_len,
                                        self->keys[i]) == 0) {
            rc = RP_JWT_OK;
            break;
        }
    }
    if (rc != RP_JWT_OK)
        goto done;

    rc = RP_JWT_MALFORMED;
    if (!(body = s_decode(dot1 + 1, p_len, RP_JWT_MAX_LEN, &body_len)))
        goto done;
    if (!(p = s_parse_object(body, body_len)))
        goto done;
    rc = s_parse_claims(p, out);
done:
    json_decref(h);
    json_decref(p);
    free(hdr);
    free(sig);
    free(body);
    return rc;
}

/* s_check_live - the per-call checks: time and revocation. */
static rp_jwt_result_t
s_check_live(const rp_jwt_verifier_t *self, const rp_claims_t *c, int64_t now_s)
{
    if (c->exp <= now_s)
        return RP_JWT_EXPIRED;
    if (c->nbf > now_s + S_NBF_SKEW)
        return RP_JWT_NOT_YET_VALID;
    uint8_t key[S_KEY_BYTES];
    s_hash(self, 'r', c->jti, strlen(c->jti), key);
    s_slot_t *s = s_table_find(&self->revoked, key);
    if (s->used && s->exp >= now_s)
        return RP_JWT_REVOKED;
    return RP_JWT_OK;
}

rp_jwt_result_t
rp_jwt_verify(rp_jwt_verifier_t *self, const char *token, int64_t now_ms,
              const rp_claims_t **claims)
{
    assert(self && claims);
    *claims = NULL;
    if (!token)
        return RP_JWT_MALFORMED;
    size_t len = strnlen(token, RP_JWT_MAX_LEN + 1);
    if (len == 0 || len > RP_JWT_MAX_LEN)
        return RP_JWT_MALFORMED;
    int64_t now_s = now_ms >= 0 ? now_ms / 1000 : -((-now_ms + 999) / 1000);

    if (now_s - self->last_purge >= S_PURGE_EVERY || now_s < self->last_purge)
        s_purge(self, now_s);

    uint8_t key[S_KEY_BYTES];
    s_hash(self, 't', token, len, key);
    s_slot_t *hit = s_table_find(&self->cache, key);
    rp_jwt_result_t rc;
    if (hit->used) {
        self->current = *(const rp_claims_t *) hit->val;
    } else {
        rc = s_verify_full(self, token, len, &self->current);
        if (rc != RP_JWT_OK)
            return rc;
        if (self->current.exp > now_s) {
            if (self->cache.count >= S_CACHE_MAX) {
                s_purge(self, now_s);
                if (self->cache.count >= S_CACHE_MAX) {
                    s_table_free(&self->cache);
                    s_table_init(&self->cache, S_TABLE_MIN);
                }
            }
            rp_claims_t *copy = rp_malloc(sizeof *copy);
            *copy = self->current;
            s_table_put(&self->cache, key, copy->exp, copy);
        }
    }
    rc = s_check_live(self, &self->current, now_s);
    if (rc == RP_JWT_OK)
        *claims = &self->current;
    return rc;
}
