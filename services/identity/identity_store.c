/* identity_store.c - the only file that touches rapport-identity's tables.
 *
 * Entities:
 *   users         user ULID (16)                  -> StoredUser (User + Argon2id hash)
 *   refresh       BLAKE2b-256(refresh token) (32) -> RefreshRecord
 * Indexes and sets:
 *   ix_username   username NUL                    -> user ULID
 *   ix_unit       unit NUL username NUL           -> user ULID
 *   ix_family     family (16) + token hash (32)   -> ""  (the family's refresh tokens)
 *   fam_jti       family (16) + jti NUL           -> exp s (u64 BE)  (its access tokens)
 *   jti_family    jti NUL                         -> family (16)
 *   revoked_jti   jti NUL                         -> exp s (u64 BE)
 *   revoked_fam   family (16)                     -> ""
 *   user_fam      username NUL + family (16)      -> ""  (a user's families not yet
 *                 revoked: how DisableUser, SetRoles and the password changes
 *                 find every live session of a user; schema version 2)
 *   delegations   delegation ULID (16)            -> StoredDelegation (the Delegation
 *                 and the jti/exp of the access tokens ActAs issued under it)
 *   dlg_sub       substitute NUL absent NUL ULID  -> ""  (how ActAs finds the
 *                 caller's delegations; schema version 3)
 *   keys          Z85 public key NUL              -> ClientKey (registered CURVE client
 *                 keys, revoked ones too; the live ones are also in the platform
 *                 table client_keys, which the ZAP handler reads: service_keys.c)
 *   units         unit path NUL                   -> Unit  (the org tree: a prefix scan
 *                 of a path is its subtree, parents first; schema version 4, whose
 *                 migration creates the units of the users already stored)
 *   login_guard   folded username NUL             -> LoginGuard (failed logins of
 *                 a name, known or not: the slow-down and the lock; schema
 *                 version 5, written by failed logins through rp_ctx_keep_on_error)
 * A refresh token itself is never stored, only its hash; a password only as its
 * Argon2id string. Expired rows are kept for now (a sweep is future work); they
 * are refused by their expiry.
 */
#include <assert.h>
#include <string.h>
#include <stdlib.h>
#include "identity.h"
#include "rapport/clock.h"
#include "rapport/log.h"
#include "rapport/perm.h"
#include "rapport/util.h"

#define SU_DESC (&rapport__identity__v1__stored_user__descriptor)
#define RR_DESC (&rapport__identity__v1__refresh_record__descriptor)
#define SD_DESC (&rapport__identity__v1__stored_delegation__descriptor)
#define UN_DESC (&rapport__identity__v1__unit__descriptor)
#define CK_DESC (&rapport__identity__v1__client_key__descriptor)
#define LG_DESC (&rapport__identity__v1__login_guard__descriptor)

static int s_units_ensure_txn(MDB_txn *txn, MDB_dbi dbi, const char *path, const char *by, int64_t now,
                              int (*created)(void *arg, Unit *u), void *arg);

/* s_migrate_v4 - the units of every stored user (and their parents), without events. */
static int s_migrate_v4(rp_store_t *store, MDB_txn *txn)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, rp_store_dbi(store, "ix_unit"), &cur) != 0)
        return -1;
    MDB_dbi units = rp_store_dbi(store, "units");
    int64_t now = rp_clock_now_ms();
    MDB_val k, v;
    int rc, ret = 0;
    char last[ID_UNIT_MAX + 2] = "";
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && ret == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *unit = k.mv_data;       /* unit NUL username NUL */
        size_t n = strnlen(unit, k.mv_size);
        if (n == k.mv_size || n > ID_UNIT_MAX || strcmp(unit, last) == 0)
            continue;
        rp_strlcpy(last, unit, sizeof last);
        if (!id_unit_valid(last)) {
            rp_warn("identity: migration 4: user unit \"%s\" is not a unit path; skipped", last);
            continue;
        }
        ret = s_units_ensure_txn(txn, units, last, "migration", now, NULL, NULL);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        ret = -1;
    return ret;
}

static int s_migrate_v1(rp_store_t *store, MDB_txn *txn)
{
    (void)store; (void)txn;     /* the tables are created at open */
    return 0;
}

/* s_migrate_v2 - index the families of every stored refresh token by user. */
static int s_migrate_v2(rp_store_t *store, MDB_txn *txn)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, rp_store_dbi(store, "refresh"), &cur) != 0)
        return -1;
    MDB_dbi ix = rp_store_dbi(store, "user_fam");
    MDB_val k, v;
    int rc, ret = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && ret == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        RefreshRecord *r = rapport__identity__v1__refresh_record__unpack(NULL, v.mv_size, v.mv_data);
        if (!r) {
            rp_error("identity: migration 2: a refresh record does not decode");
            ret = -1;
            break;
        }
        if (!r->revoked && r->family.len == ID_FAMILY_BYTES && r->username && r->username[0]) {
            rp_key_t key;
            rp_key_init(&key);
            rp_key_str(&key, r->username);
            rp_key_bytes(&key, r->family.data, ID_FAMILY_BYTES);
            MDB_val kv = rp_key_val(&key), empty = { 0, (void *)"" };
            if (!key.overflow && mdb_put(txn, ix, &kv, &empty, 0) != 0)
                ret = -1;
        }
        rapport__identity__v1__refresh_record__free_unpacked(r, NULL);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        ret = -1;
    return ret;
}

const rp_table_t id_tables[] = {
    { "users", 0 }, { "refresh", 0 }, { "ix_username", 0 }, { "ix_unit", 0 },
    { "ix_family", 0 }, { "fam_jti", 0 }, { "jti_family", 0 }, { "revoked_jti", 0 },
    { "revoked_fam", 0 }, { "user_fam", 0 }, { "delegations", 0 }, { "dlg_sub", 0 },
    { "units", 0 }, { "keys", 0 }, { "login_guard", 0 },
    { NULL, 0 }
};

const rp_migration_t id_migrations[] = {
    { 1, "initial tables", s_migrate_v1 },
    { 2, "index refresh-token families by user", s_migrate_v2 },
    { 3, "delegations", s_migrate_v1 },     /* new, empty tables: created at open */
    { 4, "the org tree: units of the stored users", s_migrate_v4 },
    { 5, "the login guard: failed logins kept durably", s_migrate_v1 },   /* a new, empty table */
    { 0, NULL, NULL }
};

/* s_get_raw - mdb_get of a key; 0, MDB_NOTFOUND, or -1 after replying. */
static int s_get_raw(rp_ctx_t *ctx, const char *table, const rp_key_t *k, MDB_val *v)
{
    if (k->overflow)
        return MDB_NOTFOUND;
    MDB_val key = rp_key_val(k);
    int rc = mdb_get(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, table), &key, v);
    if (rc == 0 || rc == MDB_NOTFOUND)
        return rc;
    return rp_reply_lmdb(ctx, rc, table);
}

static int s_put_raw(rp_ctx_t *ctx, const char *table, const rp_key_t *k, const void *val, size_t len)
{
    if (k->overflow)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "key too long for %s", table);
    MDB_val key = rp_key_val(k), v = { len, (void *)val };
    int rc = mdb_put(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, table), &key, &v, 0);
    return rc ? rp_reply_lmdb(ctx, rc, table) : 0;
}

static int s_del_raw(rp_ctx_t *ctx, const char *table, const rp_key_t *k)
{
    MDB_val key = rp_key_val(k);
    int rc = mdb_del(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, table), &key, NULL);
    return rc && rc != MDB_NOTFOUND ? rp_reply_lmdb(ctx, rc, table) : 0;
}

/* ---- the login guard ---- */

int id_store_guard_get(rp_ctx_t *ctx, const char *name, LoginGuard **out)
{
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, name);
    ProtobufCMessage *m = NULL;
    int rc = k.overflow ? MDB_NOTFOUND
                        : rp_store_get_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "login_guard"), k.b, k.len,
                                           LG_DESC, rp_ctx_allocator(ctx), &m);
    if (rc == MDB_NOTFOUND) {
        *out = rp_ctx_alloc(ctx, sizeof **out);
        rapport__identity__v1__login_guard__init(*out);
        return 0;
    }
    if (rc == -1)
        return rp_reply_error(ctx, RP_INTERNAL, "stored login guard does not decode");
    if (rc)
        return rp_reply_lmdb(ctx, rc, "login_guard get");
    *out = (LoginGuard *)m;
    return 0;
}

int id_store_guard_put(rp_ctx_t *ctx, const char *name, const LoginGuard *g)
{
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, name);
    if (!g)
        return s_del_raw(ctx, "login_guard", &k);
    if (k.overflow)
        return rp_reply_error(ctx, RP_INTERNAL, "username too long for login_guard");
    int rc = rp_store_put_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "login_guard"), k.b, k.len, &g->base);
    return rc ? rp_reply_lmdb(ctx, rc, "login_guard put") : 0;
}

/* ---- users ---- */

static int s_user_get(rp_ctx_t *ctx, const uint8_t id[RP_ULID_LEN], StoredUser **out)
{
    ProtobufCMessage *m = NULL;
    int rc = rp_store_get_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "users"), id, RP_ULID_LEN, SU_DESC,
                              rp_ctx_allocator(ctx), &m);
    if (rc == MDB_NOTFOUND)
        return rc;
    if (rc == -1)
        return rp_reply_error(ctx, RP_INTERNAL, "stored user does not decode");
    if (rc)
        return rp_reply_lmdb(ctx, rc, "users get");
    StoredUser *su = (StoredUser *)m;
    if (!su->user)
        return rp_reply_error(ctx, RP_INTERNAL, "stored user without a user");
    *out = su;
    return 0;
}

int id_store_user_by_name(rp_ctx_t *ctx, const char *username, StoredUser **out)
{
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, username);
    MDB_val v;
    int rc = s_get_raw(ctx, "ix_username", &k, &v);
    if (rc)
        return rc;
    if (v.mv_size != RP_ULID_LEN)
        return rp_reply_error(ctx, RP_INTERNAL, "bad username index entry");
    uint8_t id[RP_ULID_LEN];
    memcpy(id, v.mv_data, RP_ULID_LEN);
    return s_user_get(ctx, id, out);
}

static void s_unit_key(rp_key_t *k, const User *u)
{
    rp_key_init(k);
    rp_key_str(k, u->unit);
    rp_key_str(k, u->username);
}

int id_store_user_put(rp_ctx_t *ctx, const StoredUser *su)
{
    const User *u = su->user;
    rp_ulid_t id;
    if (rp_ulid_parse(u->id, &id) != 0)
        return rp_reply_error(ctx, RP_INTERNAL, "user without a valid id");
    StoredUser *old = NULL;
    int rc = s_user_get(ctx, id.b, &old);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return -1;
    rp_key_t k;
    if (rc == 0 && strcmp(old->user->unit, u->unit) != 0) {
        s_unit_key(&k, old->user);
        if (s_del_raw(ctx, "ix_unit", &k) < 0)
            return -1;
    }
    rc = rp_store_put_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "users"), id.b, RP_ULID_LEN, &su->base);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "users put");
    rp_key_init(&k);
    rp_key_str(&k, u->username);
    if (s_put_raw(ctx, "ix_username", &k, id.b, RP_ULID_LEN) < 0)
        return -1;
    s_unit_key(&k, u);
    return s_put_raw(ctx, "ix_unit", &k, id.b, RP_ULID_LEN);
}

typedef struct {
    rp_ctx_t *ctx;
    const char *unit;           /* NULL: every unit */
    id_user_fn fn;
    void *arg;
} s_page_t;

static int s_page_row(void *arg, const MDB_val *key, const MDB_val *val)
{
    s_page_t *p = arg;
    if (p->unit) {              /* the key starts with the user's unit, NUL-ended */
        const char *k = key->mv_data;
        if (!memchr(k, '\0', key->mv_size) || !rp_unit_contains(p->unit, k))
            return 0;           /* "/hq/salesX" under prefix "/hq/sales" */
    }
    if (val->mv_size != RP_ULID_LEN)
        return 0;
    StoredUser *su = NULL;
    int rc = s_user_get(p->ctx, val->mv_data, &su);
    if (rc == MDB_NOTFOUND) {
        rp_warn("identity: index entry without a user, skipped");
        return 0;
    }
    if (rc)
        return -1;
    return p->fn(p->arg, su->user);
}

int id_store_users_page(rp_ctx_t *ctx, const char *unit_prefix, const char *page_token,
                        uint32_t limit, id_user_fn fn, void *arg, char **next_token)
{
    rp_key_t lo;
    rp_key_init(&lo);
    if (unit_prefix) {
        size_t n = strlen(unit_prefix);
        while (n > 1 && unit_prefix[n - 1] == '/')
            n--;
        rp_key_bytes(&lo, unit_prefix, n);
    }
    s_page_t p = { ctx, unit_prefix, fn, arg };
    char *tok = NULL;
    *next_token = NULL;
    int rc = rp_page_scan(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, unit_prefix ? "ix_unit" : "ix_username"),
                          &lo, NULL, page_token, limit, 0, s_page_row, &p, &tok);
    if (rc == 0 && tok)
        *next_token = rp_ctx_strdup(ctx, tok);
    free(tok);
    if (rc == -1 && !rp_ctx_failed(ctx))
        rp_reply_error(ctx, RP_INTERNAL, "scan of users failed");
    return rc;
}

/* ---- refresh tokens and families ---- */

int id_store_refresh_get(rp_ctx_t *ctx, const uint8_t hash[ID_HASH_BYTES], RefreshRecord **out)
{
    ProtobufCMessage *m = NULL;
    int rc = rp_store_get_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "refresh"), hash, ID_HASH_BYTES, RR_DESC,
                              rp_ctx_allocator(ctx), &m);
    if (rc == MDB_NOTFOUND)
        return rc;
    if (rc == -1)
        return rp_reply_error(ctx, RP_INTERNAL, "stored refresh record does not decode");
    if (rc)
        return rp_reply_lmdb(ctx, rc, "refresh get");
    *out = (RefreshRecord *)m;
    if ((*out)->family.len != ID_FAMILY_BYTES)
        return rp_reply_error(ctx, RP_INTERNAL, "refresh record without a family");
    return 0;
}

static void s_user_fam_key(rp_key_t *k, const char *username, const uint8_t family[ID_FAMILY_BYTES])
{
    rp_key_init(k);
    rp_key_str(k, username ? username : "");
    rp_key_bytes(k, family, ID_FAMILY_BYTES);
}

int id_store_refresh_put(rp_ctx_t *ctx, const uint8_t hash[ID_HASH_BYTES], const RefreshRecord *r)
{
    assert(r->family.len == ID_FAMILY_BYTES);
    int rc = rp_store_put_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "refresh"), hash, ID_HASH_BYTES, &r->base);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "refresh put");
    rp_key_t k;
    rp_key_init(&k);
    rp_key_bytes(&k, r->family.data, ID_FAMILY_BYTES);
    rp_key_bytes(&k, hash, ID_HASH_BYTES);
    if (s_put_raw(ctx, "ix_family", &k, "", 0) < 0)
        return -1;
    if (r->revoked)
        return 0;               /* revoked: no longer a live session of its user */
    s_user_fam_key(&k, r->username, r->family.data);
    return s_put_raw(ctx, "user_fam", &k, "", 0);
}

int id_store_access_put(rp_ctx_t *ctx, const uint8_t family[ID_FAMILY_BYTES], const char *jti,
                        int64_t exp_s)
{
    uint8_t exp[8];
    rp_u64_be((uint64_t)exp_s, exp);
    rp_key_t k;
    rp_key_init(&k);
    rp_key_bytes(&k, family, ID_FAMILY_BYTES);
    rp_key_str(&k, jti);
    if (s_put_raw(ctx, "fam_jti", &k, exp, sizeof exp) < 0)
        return -1;
    rp_key_init(&k);
    rp_key_str(&k, jti);
    return s_put_raw(ctx, "jti_family", &k, family, ID_FAMILY_BYTES);
}

int id_store_jti_family(rp_ctx_t *ctx, const char *jti, uint8_t family[ID_FAMILY_BYTES])
{
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, jti);
    MDB_val v;
    int rc = s_get_raw(ctx, "jti_family", &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return -1;
    if (v.mv_size != ID_FAMILY_BYTES)
        return 0;
    memcpy(family, v.mv_data, ID_FAMILY_BYTES);
    return 1;
}

int id_store_jti_revoked(rp_ctx_t *ctx, const char *jti)
{
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, jti);
    MDB_val v;
    int rc = s_get_raw(ctx, "revoked_jti", &k, &v);
    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : -1;
}

int id_store_revoke_jti(rp_ctx_t *ctx, const char *jti, int64_t exp_s, const char *sub,
                        const char *reason)
{
    int r = id_store_jti_revoked(ctx, jti);
    if (r != 0)
        return r < 0 ? -1 : 0;
    uint8_t exp[8];
    rp_u64_be((uint64_t)exp_s, exp);
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, jti);
    if (s_put_raw(ctx, "revoked_jti", &k, exp, sizeof exp) < 0)
        return -1;
    /* Refused by identity's own verifier too (System methods included) once this
     * commits; other services learn it from the event. */
    if (rp_ctx_revoke(ctx, jti, exp_s) < 0)
        return -1;
    Rapport__Identity__V1__TokenRevoked ev = RAPPORT__IDENTITY__V1__TOKEN_REVOKED__INIT;
    ev.jti = (char *)jti;
    ev.exp = exp_s;
    ev.sub = (char *)(sub ? sub : "");
    ev.reason = (char *)reason;
    if (id_emit(ctx, "token.revoked", jti, &ev.base) < 0)
        return -1;
    return 1;
}

int id_store_family_revoked(rp_ctx_t *ctx, const uint8_t family[ID_FAMILY_BYTES])
{
    rp_key_t k;
    rp_key_init(&k);
    rp_key_bytes(&k, family, ID_FAMILY_BYTES);
    MDB_val v;
    int rc = s_get_raw(ctx, "revoked_fam", &k, &v);
    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : -1;
}

/* s_collect - the keys of table that start with prefix (plen bytes): their
 * suffixes, copied into malloc'd arrays (the caller frees v, len and *vals), and
 * with vals each row's u64 BE value. 0 or -1 (replied). */
typedef struct { uint8_t (*v)[RP_KEY_MAX]; size_t *len; size_t n, cap; } s_keys_t;

static int s_collect(rp_ctx_t *ctx, const char *table, const void *prefix, size_t plen,
                     s_keys_t *out, uint64_t **vals)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, table), &cur);
    if (rc)
        return rp_reply_lmdb(ctx, rc, table);
    MDB_val k = { plen, (void *)prefix }, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 8;
            out->v = rp_realloc(out->v, out->cap * sizeof *out->v);
            out->len = rp_realloc(out->len, out->cap * sizeof *out->len);
            if (vals)
                *vals = rp_realloc(*vals, out->cap * sizeof **vals);
        }
        size_t n = k.mv_size - plen;
        if (n > RP_KEY_MAX)
            n = RP_KEY_MAX;
        memcpy(out->v[out->n], (const uint8_t *)k.mv_data + plen, n);
        out->len[out->n] = n;
        if (vals)
            (*vals)[out->n] = v.mv_size == 8 ? rp_be_u64(v.mv_data) : 0;
        out->n++;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return rp_reply_lmdb(ctx, rc, table);
    return 0;
}

static void s_keys_free(s_keys_t *k)
{
    free(k->v);
    free(k->len);
    k->v = NULL;
    k->len = NULL;
    k->n = k->cap = 0;
}

/* id_store_revoke_family is the one place that ends a session: Logout (one
 * family), a replayed refresh token (one family, kept by the failing Refresh) and
 * id_store_revoke_user (every family of a user) all come here. */
int id_store_revoke_family(rp_ctx_t *ctx, const uint8_t family[ID_FAMILY_BYTES], const char *sub,
                           const char *reason, uint32_t *n_refresh, uint32_t *n_access)
{
    uint32_t nr = 0, na = 0;
    s_keys_t hashes = { 0 }, jtis = { 0 };
    uint64_t *exps = NULL;
    rp_key_t k;
    int ret = s_collect(ctx, "ix_family", family, ID_FAMILY_BYTES, &hashes, NULL);
    if (ret == 0)
        ret = s_collect(ctx, "fam_jti", family, ID_FAMILY_BYTES, &jtis, &exps);
    for (size_t i = 0; ret == 0 && i < hashes.n; i++) {
        if (hashes.len[i] != ID_HASH_BYTES)
            continue;
        RefreshRecord *r = NULL;
        int rc = id_store_refresh_get(ctx, hashes.v[i], &r);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc) {
            ret = -1;
            break;
        }
        /* No longer a live session of its user (see user_fam). */
        s_user_fam_key(&k, r->username, family);
        if (s_del_raw(ctx, "user_fam", &k) < 0) {
            ret = -1;
            break;
        }
        if (r->revoked)
            continue;
        r->revoked = true;
        ret = id_store_refresh_put(ctx, hashes.v[i], r);
        nr++;
    }
    int64_t now_s = id_wall_ms() / 1000;
    for (size_t i = 0; ret == 0 && i < jtis.n; i++) {
        const char *jti = (const char *)jtis.v[i];
        if (jtis.len[i] < 2 || jti[jtis.len[i] - 1] != '\0' || (int64_t)exps[i] <= now_s)
            continue;           /* expired already: nothing to revoke */
        int r = id_store_revoke_jti(ctx, jti, (int64_t)exps[i], sub, reason);
        if (r < 0)
            ret = -1;
        else
            na += (uint32_t)r;
    }
    if (ret == 0) {
        rp_key_init(&k);
        rp_key_bytes(&k, family, ID_FAMILY_BYTES);
        ret = s_put_raw(ctx, "revoked_fam", &k, "", 0);
    }
    s_keys_free(&hashes);
    s_keys_free(&jtis);
    free(exps);
    if (n_refresh)
        *n_refresh = nr;
    if (n_access)
        *n_access = na;
    return ret;
}

static int s_revoke_delegated(rp_ctx_t *ctx, const char *username, const char *reason, uint32_t *n_access);

int id_store_revoke_user(rp_ctx_t *ctx, const char *username, const char *reason,
                         uint32_t *n_families, uint32_t *n_access)
{
    uint32_t nf = 0, na = 0;
    rp_key_t prefix;
    rp_key_init(&prefix);
    rp_key_str(&prefix, username);
    if (prefix.overflow)
        return rp_reply_error(ctx, RP_INTERNAL, "username too long for user_fam");
    s_keys_t fams = { 0 };
    int ret = s_collect(ctx, "user_fam", prefix.b, prefix.len, &fams, NULL);
    for (size_t i = 0; ret == 0 && i < fams.n; i++) {
        if (fams.len[i] != ID_FAMILY_BYTES)
            continue;
        const uint8_t *family = fams.v[i];
        int revoked = id_store_family_revoked(ctx, family);
        uint32_t a = 0;
        if (revoked < 0)
            ret = -1;
        else if (revoked == 0 && (ret = id_store_revoke_family(ctx, family, username, reason, NULL, &a)) == 0) {
            nf++;
            na += a;
        }
        if (ret == 0) {         /* also when the family had no readable refresh record */
            rp_key_t k;
            s_user_fam_key(&k, username, family);
            ret = s_del_raw(ctx, "user_fam", &k);
        }
    }
    s_keys_free(&fams);
    if (ret == 0)               /* and the delegated tokens they hold or that act for them */
        ret = s_revoke_delegated(ctx, username, reason, &na);
    if (ret == 0 && nf)
        rp_info("identity: %s (%s): %u session(s) ended, %u access token(s) revoked", username, reason,
                nf, na);
    if (n_families)
        *n_families = nf;
    if (n_access)
        *n_access = na;
    return ret;
}

/* ---- delegations ---- */

static int s_delegation_get_id(rp_ctx_t *ctx, const uint8_t id[RP_ULID_LEN], StoredDelegation **out)
{
    ProtobufCMessage *m = NULL;
    int rc = rp_store_get_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "delegations"), id, RP_ULID_LEN, SD_DESC,
                              rp_ctx_allocator(ctx), &m);
    if (rc == MDB_NOTFOUND)
        return rc;
    if (rc == -1)
        return rp_reply_error(ctx, RP_INTERNAL, "stored delegation does not decode");
    if (rc)
        return rp_reply_lmdb(ctx, rc, "delegations get");
    StoredDelegation *sd = (StoredDelegation *)m;
    if (!sd->delegation)
        return rp_reply_error(ctx, RP_INTERNAL, "stored delegation without a delegation");
    *out = sd;
    return 0;
}

int id_store_delegation_get(rp_ctx_t *ctx, const char *id, StoredDelegation **out)
{
    rp_ulid_t u;
    if (rp_ulid_parse(id, &u) != 0)
        return MDB_NOTFOUND;
    return s_delegation_get_id(ctx, u.b, out);
}

static void s_dlg_sub_key(rp_key_t *k, const char *substitute, const char *absent)
{
    rp_key_init(k);
    rp_key_str(k, substitute);
    rp_key_str(k, absent);
}

int id_store_delegation_put(rp_ctx_t *ctx, const StoredDelegation *sd)
{
    const Delegation *d = sd->delegation;
    rp_ulid_t id;
    if (rp_ulid_parse(d->id, &id) != 0)
        return rp_reply_error(ctx, RP_INTERNAL, "delegation without a valid id");
    int rc = rp_store_put_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "delegations"), id.b, RP_ULID_LEN, &sd->base);
    if (rc)
        return rp_reply_lmdb(ctx, rc, "delegations put");
    rp_key_t k;
    s_dlg_sub_key(&k, d->substitute, d->absent);
    rp_key_bytes(&k, id.b, RP_ULID_LEN);
    return s_put_raw(ctx, "dlg_sub", &k, "", 0);
}

int id_store_delegations_of(rp_ctx_t *ctx, const char *substitute, const char *absent,
                            id_delegation_fn fn, void *arg)
{
    rp_key_t prefix;
    s_dlg_sub_key(&prefix, substitute, absent);
    if (prefix.overflow)
        return 0;
    s_keys_t ids = { 0 };
    int ret = s_collect(ctx, "dlg_sub", prefix.b, prefix.len, &ids, NULL);
    for (size_t i = 0; ret == 0 && i < ids.n; i++) {
        if (ids.len[i] != RP_ULID_LEN)
            continue;
        StoredDelegation *sd = NULL;
        int rc = s_delegation_get_id(ctx, ids.v[i], &sd);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc) {
            ret = -1;
            break;
        }
        rc = fn(arg, sd);
        if (rc < 0)
            ret = -1;
        else if (rc == 0)
            break;
    }
    s_keys_free(&ids);
    return ret;
}

typedef struct {
    rp_ctx_t *ctx;
    id_delegation_fn fn;
    void *arg;
} s_dpage_t;

static int s_dpage_row(void *arg, const MDB_val *key, const MDB_val *val)
{
    (void)val;
    s_dpage_t *p = arg;
    if (key->mv_size != RP_ULID_LEN)
        return 0;
    StoredDelegation *sd = NULL;
    int rc = s_delegation_get_id(p->ctx, key->mv_data, &sd);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return -1;
    return p->fn(p->arg, sd);
}

int id_store_delegations_page(rp_ctx_t *ctx, const char *page_token, uint32_t limit,
                              id_delegation_fn fn, void *arg, char **next_token)
{
    rp_key_t lo;
    rp_key_init(&lo);
    s_dpage_t p = { ctx, fn, arg };
    char *tok = NULL;
    *next_token = NULL;
    int rc = rp_page_scan(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "delegations"), &lo, NULL, page_token, limit, 0,
                          s_dpage_row, &p, &tok);
    if (rc == 0 && tok)
        *next_token = rp_ctx_strdup(ctx, tok);
    free(tok);
    if (rc == -1 && !rp_ctx_failed(ctx))
        rp_reply_error(ctx, RP_INTERNAL, "scan of delegations failed");
    return rc;
}

/* s_revoke_delegated - revoke every live ActAs token of a delegation that names
 * username as absent or substitute (token.revoked with reason). A full scan of
 * the delegations: the table is small (one row per absence). 0 or -1. */
static int s_revoke_delegated(rp_ctx_t *ctx, const char *username, const char *reason, uint32_t *n_access)
{
    /* The ids first (the loop below writes to the table). */
    s_keys_t ids = { 0 };
    MDB_cursor *cur;
    int ret = mdb_cursor_open(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "delegations"), &cur);
    if (ret)
        return rp_reply_lmdb(ctx, ret, "delegations");
    MDB_val k, v;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != RP_ULID_LEN)
            continue;
        if (ids.n == ids.cap) {
            ids.cap = ids.cap ? ids.cap * 2 : 8;
            ids.v = rp_realloc(ids.v, ids.cap * sizeof *ids.v);
            ids.len = rp_realloc(ids.len, ids.cap * sizeof *ids.len);
        }
        memcpy(ids.v[ids.n], k.mv_data, RP_ULID_LEN);
        ids.len[ids.n++] = RP_ULID_LEN;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) {
        s_keys_free(&ids);
        return rp_reply_lmdb(ctx, rc, "delegations");
    }
    int64_t now_s = id_wall_ms() / 1000;
    for (size_t i = 0; ret == 0 && i < ids.n; i++) {
        if (ids.len[i] != RP_ULID_LEN)
            continue;
        StoredDelegation *sd = NULL;
        rc = s_delegation_get_id(ctx, ids.v[i], &sd);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc) {
            ret = -1;
            break;
        }
        const Delegation *d = sd->delegation;
        if (!sd->n_tokens || (strcmp(d->absent, username) != 0 && strcmp(d->substitute, username) != 0))
            continue;
        for (size_t j = 0; ret == 0 && j < sd->n_tokens; j++) {
            const Rapport__Identity__V1__IssuedToken *t = sd->tokens[j];
            if (!t->jti || !t->jti[0] || t->exp <= now_s)
                continue;
            int r = id_store_revoke_jti(ctx, t->jti, t->exp, d->substitute, reason);
            if (r < 0)
                ret = -1;
            else if (n_access)
                *n_access += (uint32_t)r;
        }
        sd->n_tokens = 0;
        if (ret == 0)
            ret = id_store_delegation_put(ctx, sd);
    }
    s_keys_free(&ids);
    return ret;
}

/* ---- the org tree ---- */

int id_unit_parent(const char *path, char out[ID_UNIT_MAX + 1])
{
    out[0] = '\0';
    if (strcmp(path, "/") == 0)
        return 0;
    const char *slash = strrchr(path, '/');
    if (!slash)
        return -1;
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n > ID_UNIT_MAX)
        return -1;
    memcpy(out, path, n);
    out[n] = '\0';
    return 0;
}

int id_unit_kind_below(int parent_kind)
{
    switch (parent_kind) {
    case RAPPORT__IDENTITY__V1__UNIT_KIND__UNIT_KIND_COMPANY:
        return RAPPORT__IDENTITY__V1__UNIT_KIND__UNIT_KIND_BRANCH;
    case RAPPORT__IDENTITY__V1__UNIT_KIND__UNIT_KIND_BRANCH:
        return RAPPORT__IDENTITY__V1__UNIT_KIND__UNIT_KIND_DEPARTMENT;
    default:
        return RAPPORT__IDENTITY__V1__UNIT_KIND__UNIT_KIND_GROUP;
    }
}

/* s_unit_key - the units key of path: the path, NUL-ended. */
static void s_tree_key(rp_key_t *k, const char *path)
{
    rp_key_init(k);
    rp_key_str(k, path);
}

/* s_units_ensure_txn - create path and every missing unit above it, with the
 * default kinds and the last segment as name; created (may be NULL) gets each new
 * unit, parents first (valid during the call). 0, -1 (created failed, a bad
 * record) or an LMDB error. */
static int s_units_ensure_txn(MDB_txn *txn, MDB_dbi dbi, const char *path, const char *by, int64_t now,
                              int (*created)(void *arg, Unit *u), void *arg)
{
    char parent[ID_UNIT_MAX + 1];
    int parent_kind = 0;
    size_t n = strlen(path);
    /* Each prefix ending before a '/' (and the root, and the path itself), in order. */
    for (size_t end = 1; end <= n; end++) {
        if (end > 1 && end < n && path[end] != '/')
            continue;
        char cur[ID_UNIT_MAX + 1];
        memcpy(cur, path, end);
        cur[end] = '\0';
        rp_key_t k;
        s_tree_key(&k, cur);
        MDB_val key = rp_key_val(&k), v;
        int rc = k.overflow ? -1 : mdb_get(txn, dbi, &key, &v);
        if (rc == 0) {
            Unit *u = rapport__identity__v1__unit__unpack(NULL, v.mv_size, v.mv_data);
            if (!u)
                return -1;
            parent_kind = u->kind;
            rapport__identity__v1__unit__free_unpacked(u, NULL);
            continue;
        }
        if (rc != MDB_NOTFOUND)
            return rc;
        Unit u = RAPPORT__IDENTITY__V1__UNIT__INIT;
        u.path = cur;
        u.kind = end == 1 ? RAPPORT__IDENTITY__V1__UNIT_KIND__UNIT_KIND_COMPANY : id_unit_kind_below(parent_kind);
        if (id_unit_parent(cur, parent) < 0)
            return -1;
        u.parent = parent;
        u.name = end == 1 ? (char *)"company" : strrchr(cur, '/') + 1;
        u.head = (char *)"";
        u.created_at = u.updated_at = now;
        u.created_by = (char *)by;
        rc = rp_store_put_msg(txn, dbi, k.b, k.len, &u.base);
        if (rc)
            return rc;
        if (created && created(arg, &u) < 0)
            return -1;
        parent_kind = u.kind;
    }
    return 0;
}

typedef struct {
    rp_ctx_t *ctx;
} s_ensure_t;

static int s_unit_created(void *arg, Unit *u)
{
    s_ensure_t *e = arg;
    return id_emit(e->ctx, "unit.created", u->path, &u->base);
}

int id_store_units_ensure(rp_ctx_t *ctx, const char *path)
{
    s_ensure_t e = { ctx };
    int rc = s_units_ensure_txn(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, "units"), path, rp_actor(rp_ctx_claims(ctx)),
                                rp_ctx_now(ctx), s_unit_created, &e);
    if (rc == 0)
        return 0;
    if (rc > 0)
        return rp_reply_lmdb(ctx, rc, "units");
    if (!rp_ctx_failed(ctx))
        rp_reply_error(ctx, RP_INTERNAL, "cannot create the units of %s", path);
    return -1;
}

/* s_msg_get - the message of desc under the string key name in table, into the
 * arena. 0, MDB_NOTFOUND or -1 (replied). */
static int s_msg_get(rp_ctx_t *ctx, const char *table, const char *name, const ProtobufCMessageDescriptor *desc,
                     ProtobufCMessage **out)
{
    rp_key_t k;
    s_tree_key(&k, name);
    if (k.overflow)
        return MDB_NOTFOUND;
    int rc = rp_store_get_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, table), k.b, k.len, desc, rp_ctx_allocator(ctx), out);
    if (rc == MDB_NOTFOUND)
        return rc;
    if (rc == -1)
        return rp_reply_error(ctx, RP_INTERNAL, "a stored row of %s does not decode", table);
    return rc ? rp_reply_lmdb(ctx, rc, table) : 0;
}

/* s_msg_put - m under the string key name in table. 0 or -1 (replied). */
static int s_msg_put(rp_ctx_t *ctx, const char *table, const char *name, const ProtobufCMessage *m)
{
    rp_key_t k;
    s_tree_key(&k, name);
    if (k.overflow)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "key too long for %s", table);
    int rc = rp_store_put_msg(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, table), k.b, k.len, m);
    return rc ? rp_reply_lmdb(ctx, rc, table) : 0;
}

int id_store_unit_get(rp_ctx_t *ctx, const char *path, Unit **out)
{
    return s_msg_get(ctx, "units", path, UN_DESC, (ProtobufCMessage **)out);
}

int id_store_unit_put(rp_ctx_t *ctx, const Unit *u)
{
    return s_msg_put(ctx, "units", u->path, &u->base);
}

int id_store_key_get(rp_ctx_t *ctx, const char *public_key, ClientKey **out)
{
    return s_msg_get(ctx, "keys", public_key, CK_DESC, (ProtobufCMessage **)out);
}

int id_store_key_put(rp_ctx_t *ctx, const ClientKey *ck)
{
    return s_msg_put(ctx, "keys", ck->public_key, &ck->base);
}

/* A page of the messages of a table keyed by strings, those whose key lies
 * within root (a unit path; NULL: every row). */
typedef struct {
    rp_ctx_t *ctx;
    const char *table, *root;
    const ProtobufCMessageDescriptor *desc;
    id_msg_fn fn;
    void *arg;
} s_mpage_t;

static int s_mpage_row(void *arg, const MDB_val *key, const MDB_val *val)
{
    s_mpage_t *p = arg;
    const char *name = key->mv_data;
    if (!memchr(name, '\0', key->mv_size) || (p->root && !rp_unit_contains(p->root, name)))
        return 0;               /* "/hqx" under root "/hq" */
    ProtobufCMessage *m = protobuf_c_message_unpack(p->desc, rp_ctx_allocator(p->ctx), val->mv_size, val->mv_data);
    if (!m) {
        rp_reply_error(p->ctx, RP_INTERNAL, "a stored row of %s does not decode", p->table);
        return -1;
    }
    return p->fn(p->arg, m);
}

static int s_msg_page(rp_ctx_t *ctx, const char *table, const char *root, const ProtobufCMessageDescriptor *desc,
                      const char *page_token, uint32_t limit, id_msg_fn fn, void *arg, char **next_token)
{
    rp_key_t lo;
    rp_key_init(&lo);
    if (root)
        rp_key_strpfx(&lo, root);
    s_mpage_t p = { ctx, table, root, desc, fn, arg };
    char *tok = NULL;
    *next_token = NULL;
    int rc = rp_page_scan(rp_ctx_txn(ctx), rp_ctx_dbi(ctx, table), &lo, NULL, page_token, limit, 0, s_mpage_row, &p,
                          &tok);
    if (rc == 0 && tok)
        *next_token = rp_ctx_strdup(ctx, tok);
    free(tok);
    if (rc == -1 && !rp_ctx_failed(ctx))
        rp_reply_error(ctx, RP_INTERNAL, "scan of %s failed", table);
    return rc;
}

int id_store_units_page(rp_ctx_t *ctx, const char *root, const char *page_token, uint32_t limit, id_msg_fn fn,
                        void *arg, char **next_token)
{
    return s_msg_page(ctx, "units", root, UN_DESC, page_token, limit, fn, arg, next_token);
}

int id_store_keys_page(rp_ctx_t *ctx, const char *page_token, uint32_t limit, id_msg_fn fn, void *arg,
                       char **next_token)
{
    return s_msg_page(ctx, "keys", NULL, CK_DESC, page_token, limit, fn, arg, next_token);
}
