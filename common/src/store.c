/* store.c - one LMDB environment per service: tables, migrations, map growth,
 * composite keys and paginated range scans (DESIGN.md §5).
 *
 * The platform's own tables are opened for every service next to the service's
 * tables, so that the skeleton can keep events, idempotency records, consumer
 * offsets, the audit chain and the schema version in the same environment and in
 * the same transactions as the service's data.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>
#include "rapport/store.h"
#include "rapport/log.h"
#include "rapport/util.h"

#define RP_STORE_MAX_TABLES 64

static const rp_table_t s_platform_tables[] = {
    { "events", 0 },        /* seq u64 BE -> rapport.v1.Event */
    { "idem", 0 },          /* request id -> idempotency record */
    { "idem_exp", 0 },      /* expiry ms BE + request id -> "" */
    { "offsets", 0 },       /* upstream service name -> u64 BE next seq */
    { "audit", 0 },         /* seq u64 BE -> rapport.sys.v1.AuditRecord */
    { "meta", 0 },          /* "schema_version" -> u32 BE, "page_key" */
    { "revoked", 0 },       /* revoked token jti -> exp (u64 BE seconds) */
    { NULL, 0 }
};

/* The key that seals page tokens. One store is open per service process; it loads
 * (or creates) the key in `meta`, so tokens outlive restarts. A process that never
 * opens a store gets a random key on first use. */
static unsigned char s_page_key[crypto_secretbox_KEYBYTES];
static bool s_page_key_ready;

static void
s_page_key_default(void)
{
    if (!s_page_key_ready) {
        if (sodium_init() < 0)
            abort();
        randombytes_buf(s_page_key, sizeof s_page_key);
        s_page_key_ready = true;
    }
}

/* rp_store_dbi is called for every table a request touches, by name: a small
 * direct-mapped cache keyed by the name's address (callers pass string literals)
 * skips the linear search; a hit is confirmed with strcmp, so any pointer works. */
#define S_DBI_CACHE 64

struct rp_store {
    MDB_env *env;
    size_t map_size;
    uint32_t schema_version;
    size_t n_tables;
    struct { char *name; MDB_dbi dbi; } tables[RP_STORE_MAX_TABLES];
    struct { const char *name; uint8_t table; } dbi_cache[S_DBI_CACHE];
};

/* s_open_table - open (creating) one named database in txn and remember it. */
static int
s_open_table(rp_store_t *self, MDB_txn *txn, const rp_table_t *t)
{
    if (self->n_tables == RP_STORE_MAX_TABLES) {
        rp_error("store: too many tables (max %d)", RP_STORE_MAX_TABLES);
        return -1;
    }
    for (size_t i = 0; i < self->n_tables; i++)
        if (strcmp(self->tables[i].name, t->name) == 0) {
            rp_error("store: table %s declared twice", t->name);
            return -1;
        }
    MDB_dbi dbi;
    int rc = mdb_dbi_open(txn, t->name, MDB_CREATE | t->flags, &dbi);
    if (rc) {
        rp_error("store: open table %s: %s", t->name, mdb_strerror(rc));
        return -1;
    }
    self->tables[self->n_tables].name = rp_strdup(t->name);
    self->tables[self->n_tables].dbi = dbi;
    self->n_tables++;
    return 0;
}

/* s_migrate - run every migration newer than the recorded schema version, each
 * in its own transaction together with the new version number. */
static int
s_migrate(rp_store_t *self, const rp_migration_t *migrations)
{
    MDB_dbi meta = rp_store_dbi(self, "meta");
    MDB_val key = { strlen("schema_version"), (void *) "schema_version" };
    uint32_t prev = 0;
    for (const rp_migration_t *m = migrations; m && m->version; m++) {
        assert(m->version > prev && "migrations must have strictly increasing versions");
        prev = m->version;
        (void) prev;            /* read only by the assert above */
        if (m->version <= self->schema_version)
            continue;
        MDB_txn *txn;
        int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
        if (rc) {
            rp_error("store: migration %u: %s", m->version, mdb_strerror(rc));
            return -1;
        }
        if (m->run && m->run(self, txn) != 0) {
            mdb_txn_abort(txn);
            rp_error("store: migration %u (%s) failed", m->version, m->what);
            return -1;
        }
        uint8_t be[4] = { m->version >> 24, m->version >> 16, m->version >> 8, m->version };
        MDB_val v = { 4, be };
        rc = mdb_put(txn, meta, &key, &v, 0);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (rc) {
            rp_error("store: migration %u commit: %s", m->version, mdb_strerror(rc));
            return -1;
        }
        rp_info("store: migrated schema to version %u: %s", m->version, m->what);
        self->schema_version = m->version;
    }
    return 0;
}

rp_store_t *
rp_store_open(const char *path, const rp_table_t *tables,
              const rp_migration_t *migrations, size_t map_size)
{
    assert(path);
    if (rp_mkdir_p(path, 0700) != 0) {
        rp_error("store: cannot create %s: %s", path, strerror(errno));
        return NULL;
    }
    rp_store_t *self = rp_calloc(1, sizeof *self);
    self->map_size = map_size ? map_size : (64u << 20);
    int rc = mdb_env_create(&self->env);
    if (rc == 0) rc = mdb_env_set_maxdbs(self->env, RP_STORE_MAX_TABLES);
    if (rc == 0) rc = mdb_env_set_mapsize(self->env, self->map_size);
    if (rc == 0) rc = mdb_env_set_maxreaders(self->env, 126);
    if (rc == 0) rc = mdb_env_open(self->env, path, MDB_NOTLS, 0600);
    if (rc) {
        rp_error("store: open %s: %s", path, mdb_strerror(rc));
        rp_store_destroy(&self);
        return NULL;
    }
    /* An existing environment may already be larger than asked for. */
    MDB_envinfo info;
    mdb_env_info(self->env, &info);
    self->map_size = info.me_mapsize;

    MDB_txn *txn;
    rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc) {
        rp_error("store: begin: %s", mdb_strerror(rc));
        rp_store_destroy(&self);
        return NULL;
    }
    int failed = 0;
    for (const rp_table_t *t = s_platform_tables; t->name && !failed; t++)
        failed = s_open_table(self, txn, t);
    for (const rp_table_t *t = tables; t && t->name && !failed; t++)
        failed = s_open_table(self, txn, t);
    if (!failed) {
        /* The page-token key: made once, kept with the data. */
        MDB_dbi meta = rp_store_dbi(self, "meta");
        MDB_val pk = { strlen("page_key"), (void *) "page_key" }, pv;
        if (mdb_get(txn, meta, &pk, &pv) == 0 && pv.mv_size == sizeof s_page_key)
            memcpy(s_page_key, pv.mv_data, sizeof s_page_key);
        else {
            if (sodium_init() < 0)
                abort();
            randombytes_buf(s_page_key, sizeof s_page_key);
            pv.mv_size = sizeof s_page_key;
            pv.mv_data = s_page_key;
            failed = mdb_put(txn, meta, &pk, &pv, 0) != 0;
        }
        s_page_key_ready = !failed;
    }
    if (!failed) {
        MDB_val key = { strlen("schema_version"), (void *) "schema_version" }, v;
        if (mdb_get(txn, rp_store_dbi(self, "meta"), &key, &v) == 0 && v.mv_size == 4) {
            const uint8_t *b = v.mv_data;
            self->schema_version = (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16
                                 | (uint32_t) b[2] << 8 | b[3];
        }
    }
    if (failed) {
        mdb_txn_abort(txn);
        rp_store_destroy(&self);
        return NULL;
    }
    rc = mdb_txn_commit(txn);
    if (rc) {
        rp_error("store: commit: %s", mdb_strerror(rc));
        rp_store_destroy(&self);
        return NULL;
    }
    uint32_t known = 0;
    for (const rp_migration_t *m = migrations; m && m->version; m++)
        known = m->version;
    if (self->schema_version > known) {
        rp_error("store: %s has schema version %u but this program knows only up to %u: "
                 "it was written by a newer version; run that version or restore a backup",
                 path, self->schema_version, known);
        rp_store_destroy(&self);
        return NULL;
    }
    if (s_migrate(self, migrations) != 0) {
        rp_store_destroy(&self);
        return NULL;
    }
    return self;
}

void
rp_store_destroy(rp_store_t **self_p)
{
    assert(self_p);
    rp_store_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n_tables; i++)
        free(self->tables[i].name);
    if (self->env)
        mdb_env_close(self->env);
    free(self);
    *self_p = NULL;
}

MDB_env *
rp_store_env(rp_store_t *self)
{
    return self->env;
}

MDB_dbi
rp_store_dbi(rp_store_t *self, const char *name)
{
    size_t slot = ((uintptr_t) name >> 3 ^ (uintptr_t) name >> 9) % S_DBI_CACHE;
    /* Relaxed atomics: threads may share a store; a torn pair fails the strcmp. */
    if (__atomic_load_n(&self->dbi_cache[slot].name, __ATOMIC_RELAXED) == name) {
        size_t i = __atomic_load_n(&self->dbi_cache[slot].table, __ATOMIC_RELAXED);
        if (i < self->n_tables && strcmp(self->tables[i].name, name) == 0)
            return self->tables[i].dbi;
    }
    for (size_t i = 0; i < self->n_tables; i++)
        if (strcmp(self->tables[i].name, name) == 0) {
            __atomic_store_n(&self->dbi_cache[slot].name, name, __ATOMIC_RELAXED);
            __atomic_store_n(&self->dbi_cache[slot].table, (uint8_t) i, __ATOMIC_RELAXED);
            return self->tables[i].dbi;
        }
    assert(!"rp_store_dbi: table was not declared");
    abort();
}

uint32_t
rp_store_schema_version(rp_store_t *self)
{
    return self->schema_version;
}

size_t
rp_store_map_size(rp_store_t *self)
{
    return self->map_size;
}

int
rp_store_grow(rp_store_t *self)
{
    size_t next = self->map_size * 2;
    int rc = mdb_env_set_mapsize(self->env, next);
    if (rc) {
        rp_error("store: grow map to %zu: %s", next, mdb_strerror(rc));
        return -1;
    }
    self->map_size = next;
    rp_info("store: map grown to %zu MiB", next >> 20);
    return 0;
}

int
rp_store_put_msg(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                 const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    MDB_val k = { klen, (void *) key }, v = { len, NULL };
    /* Reserve space in the page and pack straight into it: no extra copy. */
    int rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);
    if (rc)
        return rc;
    protobuf_c_message_pack(m, v.mv_data);
    return 0;
}

int
rp_store_get_msg(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                 const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *a,
                 ProtobufCMessage **out)
{
    MDB_val k = { klen, (void *) key }, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc)
        return rc;
    *out = protobuf_c_message_unpack(desc, a, v.mv_size, v.mv_data);
    if (!*out) {
        rp_error("store: a stored %s does not unpack", desc->name);
        return -1;
    }
    return 0;
}

/* ---- fields of packed messages ---- */

/* s_varint - decode a varint at p[*i] (at most 10 bytes), advancing *i. 0 or -1. */
static int
s_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; *i < len && shift < 70; shift += 7) {
        uint8_t b = p[(*i)++];
        v |= (uint64_t) (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

int
rp_pb_string_field(const uint8_t *data, size_t len, uint32_t field,
                   const char **out, size_t *out_len)
{
    *out = "";
    *out_len = 0;
    size_t i = 0;
    while (i < len) {
        uint64_t tag, n;
        if (s_varint(data, len, &i, &tag) != 0 || (tag >> 3) == 0)
            return -1;
        switch (tag & 7) {
        case 0:
            if (s_varint(data, len, &i, &n) != 0 || (tag >> 3) == field)
                return -1;
            break;
        case 1:
        case 5: {
            size_t w = (tag & 7) == 1 ? 8 : 4;
            if (len - i < w || (tag >> 3) == field)
                return -1;
            i += w;
            break;
        }
        case 2:
            if (s_varint(data, len, &i, &n) != 0 || n > len - i)
                return -1;
            if ((tag >> 3) == field) {
                *out = (const char *) data + i;
                *out_len = (size_t) n;
            }
            i += (size_t) n;
            break;
        default:
            return -1;          /* groups (3, 4) are not used; 6, 7 do not exist */
        }
    }
    return 0;
}

/* ---- composite keys ---- */

void
rp_key_init(rp_key_t *k)
{
    k->len = 0;
    k->overflow = false;
}

void
rp_key_bytes(rp_key_t *k, const void *p, size_t n)
{
    if (k->overflow || n > RP_KEY_MAX - k->len) {
        k->overflow = true;
        return;
    }
    memcpy(k->b + k->len, p, n);
    k->len += n;
}

void
rp_u64_be(uint64_t v, uint8_t out[8])
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t) v;
}

uint64_t
rp_be_u64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return v;
}

void rp_key_u8(rp_key_t *k, uint8_t v) { rp_key_bytes(k, &v, 1); }

void
rp_key_u32(rp_key_t *k, uint32_t v)
{
    uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };
    rp_key_bytes(k, b, 4);
}

void
rp_key_u64(rp_key_t *k, uint64_t v)
{
    uint8_t b[8];
    rp_u64_be(v, b);
    rp_key_bytes(k, b, 8);
}

void
rp_key_i64(rp_key_t *k, int64_t v)
{
    rp_key_u64(k, (uint64_t) v ^ (UINT64_C(1) << 63));
}

void
rp_key_str(rp_key_t *k, const char *s)
{
    s = s ? s : "";
    rp_key_bytes(k, s, strlen(s) + 1);
}

void
rp_key_strpfx(rp_key_t *k, const char *s)
{
    s = s ? s : "";
    rp_key_bytes(k, s, strlen(s));
}

void
rp_key_ulid(rp_key_t *k, const rp_ulid_t *u)
{
    rp_key_bytes(k, u->b, RP_ULID_LEN);
}

MDB_val
rp_key_val(const rp_key_t *k)
{
    MDB_val v = { k->len, (void *) k->b };
    return v;
}

/* ---- paginated range scans ---- */

/* s_key_cmp - memcmp order, shorter first on a common prefix (LMDB's default). */
static int
s_key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* s_in_range - lo <= key < hi, or key starts with lo when hi is NULL. */
static bool
s_in_range(const MDB_val *key, const rp_key_t *lo, const rp_key_t *hi)
{
    if (hi)
        return s_key_cmp(key->mv_data, key->mv_size, lo->b, lo->len) >= 0
            && s_key_cmp(key->mv_data, key->mv_size, hi->b, hi->len) < 0;
    return key->mv_size >= lo->len && memcmp(key->mv_data, lo->b, lo->len) == 0;
}

/* s_token_seal - an opaque token for key k: base64url(nonce || secretbox(k)). */
static char *
s_token_seal(const uint8_t *k, size_t len)
{
    s_page_key_default();
    uint8_t buf[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + 512];
    assert(len <= 512);
    randombytes_buf(buf, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(buf + crypto_secretbox_NONCEBYTES, k, len, buf, s_page_key);
    return rp_b64url_encode(buf, crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len);
}

char *
rp_page_token(const void *key, size_t len)
{
    return s_token_seal(key, len);
}

/* s_token_open - the key sealed in token into out (cap bytes): its length, or -1
 * for anything not sealed by this service (forged, damaged, another service's). */
static long
s_token_open(const char *token, uint8_t *out, size_t cap)
{
    s_page_key_default();
    uint8_t buf[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + 512];
    long n = rp_b64url_decode(token, strlen(token), buf, sizeof buf);
    if (n < (long) (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES))
        return -1;
    size_t clen = (size_t) n - crypto_secretbox_NONCEBYTES;
    size_t plen = clen - crypto_secretbox_MACBYTES;
    if (plen == 0 || plen > cap)
        return -1;
    if (crypto_secretbox_open_easy(out, buf + crypto_secretbox_NONCEBYTES, clen, buf, s_page_key) != 0)
        return -1;
    return (long) plen;
}

int
rp_page_scan(MDB_txn *txn, MDB_dbi dbi, const rp_key_t *lo, const rp_key_t *hi,
             const char *page_token, uint32_t limit, uint32_t budget,
             rp_scan_fn fn, void *arg, char **next_token)
{
    assert(lo && fn && next_token && limit > 0);
    *next_token = NULL;
    if (budget == 0)
        budget = limit > UINT32_MAX / 100 ? UINT32_MAX : limit * 100;

    uint8_t after[512];     /* LMDB keys are at most 511 bytes */
    long after_len = -1;
    if (page_token && *page_token) {
        after_len = s_token_open(page_token, after, sizeof after);
        if (after_len <= 0)
            return -2;
        MDB_val a = { (size_t) after_len, after };
        if (!s_in_range(&a, lo, hi))
            return -2;
    }
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, dbi, &cur) != 0)
        return -1;
    MDB_val key, val;
    int rc;
    if (after_len > 0) {
        key.mv_size = (size_t) after_len;
        key.mv_data = after;
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        if (rc == 0 && s_key_cmp(key.mv_data, key.mv_size, after, (size_t) after_len) == 0)
            rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    } else {
        key = rp_key_val(lo);
        rc = lo->len ? mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE)
                     : mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    }
    uint32_t kept = 0, seen = 0;
    int result = 0;
    while (rc == 0 && s_in_range(&key, lo, hi)) {
        if (kept == limit || seen == budget) {
            /* Rows may remain: continue after the last row we examined. */
            *next_token = s_token_seal(after, (size_t) after_len);
            break;
        }
        int r = fn(arg, &key, &val);
        if (r < 0) {
            result = -1;
            break;
        }
        kept += r > 0;
        seen++;
        memcpy(after, key.mv_data, key.mv_size);
        after_len = (long) key.mv_size;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return result;
}
