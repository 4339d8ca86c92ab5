/* contracts_sign.c - the integrity of signed contracts.
 *
 * The company's Ed25519 key lives in <keys>/<name>.key (hex, 0600) and
 * <keys>/<name>.pub, name from RAPPORT_CONTRACTS_SIGNING_KEY (company-sign); it is
 * created on first start and kept in sodium_malloc'd memory, wiped at exit, never
 * logged. SigningKey publishes the public half and its key id, with the keyring of
 * retired keys (contracts_keyring.c) that Verify looks the stored key id up in.
 *
 * Canonical content (contracts.proto, "Integrity"): a SignedContent built fresh
 * from the stored contract, parties and schedule sorted, packed with protobuf-c;
 * content_hash = BLAKE2b-256("rapport.contracts.v1.SignedContent" NUL || bytes);
 * the signature is Ed25519 over the 32-byte hash.
 */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "contracts.h"
#include "rapport/keys.h"
#include "rapport/log.h"
#include "rapport/util.h"

#define S_DOMAIN "rapport.contracts.v1.SignedContent"

static unsigned char *s_sk;                     /* sodium_malloc'd, 64 bytes */
static unsigned char s_pk[crypto_sign_PUBLICKEYBYTES];
static char s_kid[17];
static char s_pk_hex[crypto_sign_PUBLICKEYBYTES * 2 + 1];

static void s_key_free(void)
{
    if (s_sk)
        sodium_free(s_sk);              /* wipes */
    s_sk = NULL;
}

int contracts_key_open(rp_store_t *store, const char *keys_dir)
{
    const char *name = contracts_settings.key_name;
    if (rp_sign_key_ensure(keys_dir, name) != 0 || rp_sign_key_load(keys_dir, name, &s_sk) != 0) {
        rp_error("contracts: cannot open the company signing key %s/%s.key", keys_dir, name);
        return -1;
    }
    atexit(s_key_free);
    crypto_sign_ed25519_sk_to_pk(s_pk, s_sk);
    rp_key_id(s_pk, s_kid);
    rp_hex_encode(s_pk, sizeof s_pk, s_pk_hex);
    rp_info("contracts: signing with company key %s", s_kid);
    return contracts_keyring_open(store, keys_dir, name, s_sk, s_pk);
}

const char *contracts_key_id(void)
{
    return s_kid;
}

const char *contracts_public_hex(void)
{
    return s_pk_hex;
}

/* s_content_hash - BLAKE2b-256 of the canonical content of c as signed by sig. */
static void s_content_hash(rp_ctx_t *ctx, const Contract *c, const Signature *sig, unsigned char h[32])
{
    Rapport__Contracts__V1__SignedContent sc = RAPPORT__CONTRACTS__V1__SIGNED_CONTENT__INIT;
    /* sorted copies: the stored terms are sorted already; sorting again keeps the
     * bytes canonical whatever order a stored record holds */
    ContractTerms *t = c->terms ? contracts_terms_sorted(ctx, c->terms) : NULL;
    sc.contract_id = c->id;
    sc.number = c->number;
    sc.branch = c->branch;
    sc.kind = c->kind;
    sc.parent_id = c->parent_id;
    sc.parent_number = c->parent_number;
    sc.owner = c->owner;
    sc.terms = t;
    sc.quote_id = c->quote_id;
    sc.signed_by = sig->signed_by;
    sc.signed_at = sig->signed_at;
    sc.key_id = sig->key_id;
    size_t len = rapport__contracts__v1__signed_content__get_packed_size(&sc);
    uint8_t *buf = rp_ctx_alloc(ctx, len + 1);
    rapport__contracts__v1__signed_content__pack(&sc, buf);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const unsigned char *)S_DOMAIN, sizeof S_DOMAIN);   /* with its NUL */
    crypto_generichash_update(&st, buf, len);
    crypto_generichash_final(&st, h, 32);
}

int contracts_sign(rp_ctx_t *ctx, Contract *c)
{
    if (!s_sk)
        return rp_reply_error(ctx, RP_UNAVAILABLE, "no company signing key");
    Signature *sig = rp_ctx_alloc(ctx, sizeof *sig);
    rapport__contracts__v1__signature__init(sig);
    sig->key_id = rp_ctx_strdup(ctx, s_kid);
    sig->signed_at = rp_ctx_now(ctx);
    sig->signed_by = rp_ctx_strdup(ctx, rp_ctx_claims(ctx)->sub);
    unsigned char h[32], s[crypto_sign_BYTES];
    s_content_hash(ctx, c, sig, h);
    if (rp_ctx_failed(ctx))
        return -1;
    if (contracts_keyring_record(ctx, c->number) < 0)
        return -1;
    crypto_sign_detached(s, NULL, h, sizeof h, s_sk);
    sig->content_hash = rp_ctx_alloc(ctx, 65);
    rp_hex_encode(h, sizeof h, sig->content_hash);
    sig->signature = rp_ctx_alloc(ctx, 2 * sizeof s + 1);
    rp_hex_encode(s, sizeof s, sig->signature);
    c->signature = sig;
    return 0;
}

bool contracts_verify(rp_ctx_t *ctx, const Contract *c, char hash_hex[65], const char **reason)
{
    const Signature *sig = c->signature;
    unsigned char h[32], stored[32], s[crypto_sign_BYTES];
    hash_hex[0] = '\0';
    if (!sig || rp_str_empty(sig->content_hash)) {
        *reason = "the contract is not signed";
        return false;
    }
    s_content_hash(ctx, c, sig, h);
    rp_hex_encode(h, sizeof h, hash_hex);
    if (rp_hex_decode(sig->content_hash, stored, sizeof stored) != (long)sizeof stored
        || rp_hex_decode(sig->signature, s, sizeof s) != (long)sizeof s) {
        *reason = "the stored signature is malformed";
        return false;
    }
    const unsigned char *pk = contracts_keyring_find(sig->key_id);
    if (!pk) {
        int recorded = contracts_keyring_recorded(ctx, sig->key_id);
        *reason = rp_ctx_sprintf(ctx, "signed with key %.40s, which this service does not know%s",
                                 rp_str_empty(sig->key_id) ? "(none)" : sig->key_id,
                                 recorded > 0 ? " (its store records that key, but no trusted key "
                                 "endorses it: see docs/OPERATIONS.md on adopting a key)" : "");
        return false;
    }
    if (sodium_memcmp(h, stored, sizeof h) != 0) {
        *reason = "the contract's content differs from what was signed";
        return false;
    }
    if (crypto_sign_verify_detached(s, stored, sizeof stored, pk) != 0) {
        *reason = rp_ctx_sprintf(ctx, "the signature does not verify with the company's key %s", sig->key_id);
        return false;
    }
    *reason = "";
    return true;
}
