/* contracts_keyring.c - the company's public signing keys, by key id, so that a
 * signature stays verifiable after the key that made it is rotated out.
 *
 * Table signing_keys (this file is its only user): key id NUL -> SigningKeyRecord.
 *   - Sign records the current key in the same transaction as the first signature
 *     made with it, so every signature in the store (and in any backup of it) has
 *     its public key beside it.
 *   - A rotation retires the old key: the operator puts its public half in
 *     <keys>/<name>.retired/ (any file name ending in .pub) and restarts with a new
 *     key pair. At start the new key endorses every such key: it signs
 *     "rapport.contracts.v1.RetiredKey" NUL || public key, stored in the record.
 *
 * Trust: the current key (from the keys directory) is the root. A recorded key is
 * trusted when a trusted key endorsed it, through a chain of rotations; a key in
 * the retired folder is trusted and gets endorsed. So someone who can write the
 * LMDB file but not the keys directory cannot add a key that Verify accepts, and
 * once endorsed the retired files are no longer needed: the keyring survives a lost
 * keys directory with the data. After such a loss the last key (recorded, now not
 * endorsed) is adopted the same way, by putting its public key (SigningKey lists
 * it, untrusted) in the retired folder. See docs/OPERATIONS.md.
 *
 * The trusted set is built once at start and then only read: keys change only
 * across a restart.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "contracts.h"
#include "rapport/clock.h"
#include "rapport/keys.h"
#include "rapport/log.h"
#include "rapport/util.h"

#define S_TABLE "signing_keys"
#define S_DOMAIN "rapport.contracts.v1.RetiredKey"
#define S_MAX_KEYS 256

typedef Rapport__Contracts__V1__SigningKeyRecord KeyRecord;

typedef struct {
    char kid[17];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
} s_key_t;

static s_key_t s_trusted[S_MAX_KEYS];   /* [0] is the current key */
static int s_n_trusted;

static const s_key_t *s_find(const s_key_t *keys, int n, const char *kid)
{
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i].kid, kid) == 0)
            return &keys[i];
    return NULL;
}

static void s_trust(const char *kid, const unsigned char *pk)
{
    if (s_find(s_trusted, s_n_trusted, kid) || s_n_trusted == S_MAX_KEYS)
        return;
    rp_strlcpy(s_trusted[s_n_trusted].kid, kid, sizeof s_trusted[0].kid);
    memcpy(s_trusted[s_n_trusted].pk, pk, crypto_sign_PUBLICKEYBYTES);
    s_n_trusted++;
}

/* s_record_pk - the record's public key when it is well-formed and its key id is
 * that key's id. 0 or -1. */
static int s_record_pk(const KeyRecord *r, unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
    char kid[17];
    if (rp_str_empty(r->public_key)
        || rp_hex_decode(r->public_key, pk, crypto_sign_PUBLICKEYBYTES) != crypto_sign_PUBLICKEYBYTES
        || !crypto_core_ed25519_is_valid_point(pk))
        return -1;
    rp_key_id(pk, kid);
    return rp_streq(kid, r->key_id) ? 0 : -1;
}

static void s_endorsed_message(const unsigned char *pk, unsigned char msg[sizeof S_DOMAIN + crypto_sign_PUBLICKEYBYTES])
{
    memcpy(msg, S_DOMAIN, sizeof S_DOMAIN);          /* with its NUL */
    memcpy(msg + sizeof S_DOMAIN, pk, crypto_sign_PUBLICKEYBYTES);
}

/* s_endorsed - true when r's endorsement is a valid signature by a trusted key. */
static bool s_endorsed(const KeyRecord *r, const unsigned char *pk)
{
    const s_key_t *by = rp_str_empty(r->endorsed_by) ? NULL : s_find(s_trusted, s_n_trusted, r->endorsed_by);
    unsigned char sig[crypto_sign_BYTES], msg[sizeof S_DOMAIN + crypto_sign_PUBLICKEYBYTES];
    if (!by || rp_str_empty(r->endorsement)
        || rp_hex_decode(r->endorsement, sig, sizeof sig) != (long)sizeof sig)
        return false;
    s_endorsed_message(pk, msg);
    return crypto_sign_verify_detached(sig, msg, sizeof msg, by->pk) == 0;
}

/* s_retired_files - the public keys in <keys>/<name>.retired/ (files *.pub), into keys (at
 * most max). Returns how many, or -1 with a log line (a file that is not a key). */
static int s_retired_files(const char *keys_dir, const char *name, s_key_t *keys, int max)
{
    char *dir = rp_sprintf("%s/%s.retired", keys_dir, name);
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) {
        int missing = errno == ENOENT;
        if (!missing)
            rp_error("contracts: cannot read %s: %s", dir, strerror(errno));
        free(dir);
        return missing ? 0 : -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= 4 || strcmp(e->d_name + len - 4, ".pub") != 0)
            continue;
        if (n == max) {
            rp_error("contracts: more than %d retired keys in %s", max, dir);
            n = -1;
            break;
        }
        char *base = rp_strndup(e->d_name, len - 4);
        int rc = rp_sign_key_public_load(dir, base, keys[n].pk);
        free(base);
        if (rc != 0) {
            rp_error("contracts: %s/%s is not an Ed25519 public key (64 hex digits)", dir, e->d_name);
            n = -1;
            break;
        }
        rp_key_id(keys[n].pk, keys[n].kid);
        n++;
    }
    closedir(d);
    free(dir);
    return n;
}

/* s_load_records - every stored record (malloc'd, free with s_free_records). */
static int s_load_records(MDB_txn *txn, MDB_dbi dbi, KeyRecord ***out, int *n_out)
{
    MDB_cursor *cur;
    MDB_val k, v;
    KeyRecord **rs = NULL;
    int n = 0;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < S_MAX_KEYS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        KeyRecord *r = rapport__contracts__v1__signing_key_record__unpack(NULL, v.mv_size, v.mv_data);
        if (!r) {
            rp_warn("contracts: a stored signing key record does not decode, skipped");
            continue;
        }
        rs = rp_realloc(rs, (size_t)(n + 1) * sizeof *rs);
        rs[n++] = r;
    }
    mdb_cursor_close(cur);
    *out = rs;
    *n_out = n;
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

static void s_free_records(KeyRecord **rs, int n)
{
    for (int i = 0; i < n; i++)
        rapport__contracts__v1__signing_key_record__free_unpacked(rs[i], NULL);
    free(rs);
}

static int s_put(MDB_txn *txn, MDB_dbi dbi, const KeyRecord *r)
{
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, r->key_id);
    return rp_store_put_msg(txn, dbi, k.b, k.len, &r->base);
}

/* s_endorse - record (or complete) the retired key f, endorsed by the current key. */
static int s_endorse(MDB_txn *txn, MDB_dbi dbi, KeyRecord **rs, int n, const s_key_t *f,
                     const unsigned char *sk)
{
    KeyRecord fresh = RAPPORT__CONTRACTS__V1__SIGNING_KEY_RECORD__INIT, *r = &fresh;
    char pk_hex[2 * crypto_sign_PUBLICKEYBYTES + 1], sig_hex[2 * crypto_sign_BYTES + 1];
    unsigned char sig[crypto_sign_BYTES], msg[sizeof S_DOMAIN + crypto_sign_PUBLICKEYBYTES];
    for (int i = 0; i < n; i++)
        if (rp_streq(rs[i]->key_id, f->kid))
            r = rs[i];
    rp_hex_encode(f->pk, crypto_sign_PUBLICKEYBYTES, pk_hex);
    s_endorsed_message(f->pk, msg);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
    rp_hex_encode(sig, sizeof sig, sig_hex);
    /* r's strings are replaced by stack copies only until s_put packs them */
    char *old_kid = r->key_id, *old_pk = r->public_key, *old_by = r->endorsed_by, *old_sig = r->endorsement;
    r->key_id = (char *)f->kid;
    r->public_key = pk_hex;
    r->endorsed_by = s_trusted[0].kid;
    r->endorsement = sig_hex;
    r->endorsed_at = rp_clock_now_ms();
    int rc = s_put(txn, dbi, r);
    r->key_id = old_kid;
    r->public_key = old_pk;
    r->endorsed_by = old_by;
    r->endorsement = old_sig;
    if (rc == 0)
        rp_info("contracts: retired signing key %s endorsed by the current key %s", f->kid, s_trusted[0].kid);
    return rc;
}

int contracts_keyring_open(rp_store_t *store, const char *keys_dir, const char *name,
                           const unsigned char *sk, const unsigned char *pk)
{
    s_key_t *files = rp_calloc(S_MAX_KEYS, sizeof *files);
    KeyRecord **rs = NULL;
    int n = 0, ret = -1, rc;
    MDB_txn *txn = NULL;
    MDB_dbi dbi = rp_store_dbi(store, S_TABLE);
    s_n_trusted = 0;
    rp_key_id(pk, s_trusted[0].kid);
    memcpy(s_trusted[0].pk, pk, crypto_sign_PUBLICKEYBYTES);
    s_n_trusted = 1;
    int n_files = s_retired_files(keys_dir, name, files, S_MAX_KEYS);
    if (n_files < 0)
        goto done;
    if ((rc = mdb_txn_begin(rp_store_env(store), NULL, 0, &txn)) != 0
        || (rc = s_load_records(txn, dbi, &rs, &n)) != 0) {
        rp_error("contracts: cannot read the signing keys: %s", mdb_strerror(rc));
        goto done;
    }
    for (int i = 0; i < n_files; i++)
        s_trust(files[i].kid, files[i].pk);
    /* follow the endorsements from the trusted keys, rotation by rotation */
    for (bool more = true; more;) {
        more = false;
        for (int i = 0; i < n; i++) {
            unsigned char rpk[crypto_sign_PUBLICKEYBYTES];
            if (s_find(s_trusted, s_n_trusted, rs[i]->key_id) || s_record_pk(rs[i], rpk) != 0
                || !s_endorsed(rs[i], rpk))
                continue;
            s_trust(rs[i]->key_id, rpk);
            more = true;
        }
    }
    /* the current key endorses each retired file whose record does not yet carry
     * a valid endorsement */
    for (int i = 0; i < n_files; i++) {
        if (rp_streq(files[i].kid, s_trusted[0].kid))
            continue;           /* the current key's own public half: nothing to retire */
        bool done = false;
        for (int j = 0; j < n; j++) {
            unsigned char rpk[crypto_sign_PUBLICKEYBYTES];
            if (rp_streq(rs[j]->key_id, files[i].kid) && s_record_pk(rs[j], rpk) == 0 && s_endorsed(rs[j], rpk))
                done = true;
        }
        if (!done && (rc = s_endorse(txn, dbi, rs, n, &files[i], sk)) != 0) {
            rp_error("contracts: cannot record the retired key %s: %s", files[i].kid, mdb_strerror(rc));
            goto done;
        }
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        rp_error("contracts: cannot record the retired signing keys: %s", mdb_strerror(rc));
        goto done;
    }
    txn = NULL;
    for (int j = 0; j < n; j++)
        if (!s_find(s_trusted, s_n_trusted, rs[j]->key_id))
            rp_warn("contracts: the store records signing key %s, which no trusted key endorses; its "
                    "signatures do not verify until it is adopted (docs/OPERATIONS.md)", rs[j]->key_id);
    rp_info("contracts: %d trusted signing keys (the current one and %d retired)", s_n_trusted, s_n_trusted - 1);
    ret = 0;
done:
    if (txn)
        mdb_txn_abort(txn);
    s_free_records(rs, n);
    free(files);
    return ret;
}

const unsigned char *contracts_keyring_find(const char *kid)
{
    const s_key_t *k = rp_str_empty(kid) ? NULL : s_find(s_trusted, s_n_trusted, kid);
    return k ? k->pk : NULL;
}

int contracts_keyring_recorded(rp_ctx_t *ctx, const char *kid)
{
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, kid ? kid : "");
    if (k.overflow)
        return 0;
    MDB_val key = rp_key_val(&k), v;
    int rc = mdb_get(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, S_TABLE), &key, &v);
    if (rc == 0)
        return 1;
    if (rc == MDB_NOTFOUND)
        return 0;
    return rp_reply_lmdb(ctx, rc, S_TABLE);
}

int contracts_keyring_record(rp_ctx_t *ctx, const char *number)
{
    const s_key_t *cur = &s_trusted[0];
    int rc = contracts_keyring_recorded(ctx, cur->kid);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    KeyRecord r = RAPPORT__CONTRACTS__V1__SIGNING_KEY_RECORD__INIT;
    char pk_hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
    rp_hex_encode(cur->pk, crypto_sign_PUBLICKEYBYTES, pk_hex);
    r.key_id = (char *)cur->kid;
    r.public_key = pk_hex;
    r.first_signed_at = rp_ctx_now(ctx);
    r.first_contract = (char *)number;
    if ((rc = s_put(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, S_TABLE), &r)) != 0)
        return rp_reply_lmdb(ctx, rc, S_TABLE);
    return 0;
}

int contracts_keyring_list(rp_ctx_t *ctx, KeyRecord ***out, size_t *n_out)
{
    MDB_cursor *cur;
    MDB_val k, v;
    KeyRecord **rs = rp_ctx_alloc(ctx, (S_MAX_KEYS + 1) * sizeof *rs);
    size_t n = 0;
    bool have_current = false;
    int rc = mdb_cursor_open(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, S_TABLE), &cur);
    if (rc != 0)
        return rp_reply_lmdb(ctx, rc, S_TABLE);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < S_MAX_KEYS;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        KeyRecord *r = rapport__contracts__v1__signing_key_record__unpack(rp_ctx_allocator(ctx), v.mv_size,
                                                                          v.mv_data);
        if (!r)
            continue;
        r->current = rp_streq(r->key_id, s_trusted[0].kid);
        r->trusted = contracts_keyring_find(r->key_id) != NULL;
        have_current |= r->current;
        rs[n++] = r;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rp_reply_lmdb(ctx, rc, S_TABLE);
    if (!have_current) {        /* not used to sign yet */
        KeyRecord *r = rp_ctx_alloc(ctx, sizeof *r);
        rapport__contracts__v1__signing_key_record__init(r);
        r->key_id = s_trusted[0].kid;
        r->public_key = (char *)contracts_public_hex();
        r->current = r->trusted = true;
        rs[n++] = r;
    }
    *out = rs;
    *n_out = n;
    return 0;
}
