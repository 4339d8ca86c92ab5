/* service_keys.c - CURVE client keys registered in identity reach every service's
 * ZAP handler (DESIGN.md §6).
 *
 * The local allowlist directory <keys>/allow/ stays the bootstrap. Besides it,
 * rapport-identity registers and revokes client keys (key.registered,
 * key.revoked, data rapport.identity.v1.ClientKey). Every other service follows
 * those events with a built-in durable consumer, as it follows token.revoked
 * (service_revoke.c); identity applies its own as it writes them
 * (rp_ctx_client_key). Either way a live key is a row of the table client_keys
 * (Z85 public key -> the key's name), written in the transaction of the event or
 * request, so the set survives restarts.
 *
 * How zauth sees them: CZMQ's zauth actor checks CURVE clients against a
 * zcertstore. Debian's CZMQ 4.2.1 is built without the draft zcertstore loader
 * API, and inserting into a store while zauth's thread reads it is a data race;
 * but a directory-backed store re-reads its directory tree whenever a file comes
 * or goes. So zauth reads <data>/<service>/zap/, which holds a link `allow` to the
 * allowlist directory and one public cert file per registered key (named by the
 * key's hex), rebuilt from client_keys at start and kept in step with each row
 * written. A key's file appears or goes before its transaction commits; a
 * rolled-back consumer batch applies the same event again, and the start-up
 * rebuild makes the directory match the table after any crash.
 */
#include "service_internal.h"
#include <dirent.h>
#include <limits.h>
#include "rapport/identity/v1/identity.pb-c.h"

#define S_KEYS_TYPE "rapport.identity.v1.key."
#define S_TABLE "client_keys"

/* s_ends_with - s ends with suffix. */
static bool
s_ends_with(const char *s, const char *suffix)
{
    size_t n = s ? strlen(s) : 0, m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* One service per process: the table handle and the directory zauth reads. */
static MDB_dbi s_dbi;
static bool s_open;
static char s_zap_dir[PATH_MAX];

/* s_cert_path - <zap>/<hex of the key>.cert for a Z85 key; false when it is not
 * a CURVE public key. */
static bool
s_cert_path(const char *z85, char *out, size_t cap, uint8_t key[32])
{
    if (!z85 || strlen(z85) != 40 || !zmq_z85_decode(key, z85))
        return false;
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, key, 32);
    return (size_t) snprintf(out, cap, "%s/%s.cert", s_zap_dir, hex) < cap;
}

/* s_file - write (allow) or remove the cert file of a key. 0 or -1. */
static int
s_file(const char *z85, const char *name, bool allow)
{
    char path[PATH_MAX];
    uint8_t key[32], none[32] = { 0 };
    if (!s_cert_path(z85, path, sizeof path, key))
        return -1;
    if (!allow)
        return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
    zcert_t *cert = zcert_new_from(key, none);
    if (!cert)
        return -1;
    zcert_set_meta(cert, "name", "%s", name && *name ? name : "registered");
    /* Written aside, then renamed: zauth's thread never reads half a file. */
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = zcert_save_public(cert, tmp);
    zcert_destroy(&cert);
    if (rc == 0)
        rc = rename(tmp, path);
    if (rc != 0)
        unlink(tmp);
    return rc == 0 ? 0 : -1;
}

/* s_apply - allow or refuse a key: its row in txn and its file. 0, or an LMDB
 * code / -1. */
static int
s_apply(MDB_txn *txn, const char *z85, const char *name, bool allow)
{
    uint8_t key[32];
    char path[PATH_MAX];
    if (!s_cert_path(z85, path, sizeof path, key))
        return -1;
    MDB_val k = { 40, (void *) z85 }, v = { name ? strlen(name) : 0, (void *) (name ? name : "") };
    int rc = allow ? mdb_put(txn, s_dbi, &k, &v, 0) : mdb_del(txn, s_dbi, &k, NULL);
    if (rc && !(rc == MDB_NOTFOUND && !allow))
        return rc;
    return s_file(z85, name, allow);
}

int
rp_ctx_client_key(rp_ctx_t *ctx, const char *public_key, const char *name, bool allow)
{
    assert(ctx->txn && "rp_ctx_client_key outside a write");
    assert(s_open);
    int rc = s_apply(ctx->txn, public_key, name, allow);
    if (rc > 0)
        return rp_reply_lmdb(ctx, rc, S_TABLE);
    if (rc < 0)
        return rp_reply_error(ctx, RP_INTERNAL, "cannot %s the client key in %s", allow ? "allow" : "refuse",
                              s_zap_dir);
    return 0;
}

/* s_apply_event - one key.registered or key.revoked event. */
static int
s_apply_event(rp_ctx_t *ctx, const Rapport__V1__Event *ev)
{
    bool registered = s_ends_with(ev->type, ".key.registered");
    if (!registered && !s_ends_with(ev->type, ".key.revoked"))
        return 0;                   /* another key.* event: not ours */
    Rapport__Identity__V1__ClientKey *k = rapport__identity__v1__client_key__unpack(
        rp_ctx_allocator(ctx), ev->data.len, ev->data.data);
    uint8_t raw[32];
    if (!k || !k->public_key || strlen(k->public_key) != 40 || !zmq_z85_decode(raw, k->public_key))
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "%s %llu has no usable public key", ev->type,
                              (unsigned long long) ev->seq);
    rp_ctx_set_subject(ctx, k->public_key);
    if (rp_ctx_client_key(ctx, k->public_key, k->name, registered) < 0)
        return -1;
    rp_info("client key %s (%s) %s", k->public_key, k->name ? k->name : "", registered ? "let in" : "refused");
    return 0;
}

const rp_consumer_def_t svc_keys_consumer = {
    "identity", S_KEYS_TYPE, s_apply_event
};

/* s_rebuild - the zap directory from the table: the allowlist link, one cert
 * file per row, no other cert file. 0 or -1. */
static int
s_rebuild(rp_service_t *svc, const char *allow)
{
    char link_path[PATH_MAX + 8], target[PATH_MAX];
    snprintf(link_path, sizeof link_path, "%s/allow", s_zap_dir);
    if (!realpath(allow, target)) {
        rp_error("cannot resolve the allowlist directory %s: %s", allow, strerror(errno));
        return -1;
    }
    unlink(link_path);
    if (symlink(target, link_path) != 0) {
        rp_error("cannot link %s to %s: %s", link_path, target, strerror(errno));
        return -1;
    }
    DIR *d = opendir(s_zap_dir);
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (s_ends_with(e->d_name, ".cert") || s_ends_with(e->d_name, ".tmp")) {
            char p[PATH_MAX + 260];
            snprintf(p, sizeof p, "%s/%s", s_zap_dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    MDB_txn *txn;
    if (mdb_txn_begin(rp_store_env(svc->store), NULL, MDB_RDONLY, &txn) != 0)
        return -1;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s_dbi, &cur);
    size_t n = 0;
    MDB_val k, v;
    for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char z85[41], name[128];
        if (k.mv_size != 40)
            continue;
        memcpy(z85, k.mv_data, 40);
        z85[40] = '\0';
        size_t nl = v.mv_size < sizeof name - 1 ? v.mv_size : sizeof name - 1;
        memcpy(name, v.mv_data, nl);
        name[nl] = '\0';
        if (s_file(z85, name, true) != 0)
            rp_warn("client key %s: cannot write its cert in %s", z85, s_zap_dir);
        else
            n++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (n)
        rp_info("%zu registered client key(s) let in", n);
    return rc == MDB_NOTFOUND ? 0 : -1;
}

zactor_t *
svc_keys_auth_new(rp_service_t *svc, const char *allow)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(rp_store_env(svc->store), NULL, 0, &txn);
    if (rc == 0 && (rc = mdb_dbi_open(txn, S_TABLE, MDB_CREATE, &s_dbi)) == 0)
        rc = mdb_txn_commit(txn);
    else if (rc == 0)
        mdb_txn_abort(txn);
    if (rc) {
        rp_error("cannot open the table %s: %s", S_TABLE, mdb_strerror(rc));
        return NULL;
    }
    s_open = true;
    if ((size_t) snprintf(s_zap_dir, sizeof s_zap_dir, "%s/zap", svc->data_dir) >= sizeof s_zap_dir
        || rp_mkdir_p(s_zap_dir, 0700) != 0 || s_rebuild(svc, allow) != 0) {
        rp_error("cannot prepare the ZAP directory %s", s_zap_dir);
        return NULL;
    }
    /* Only clients whose public key is in the allowlist or registered get in. */
    zactor_t *auth = zactor_new(zauth, NULL);
    if (!auth)
        return NULL;
    zstr_sendx(auth, "CURVE", s_zap_dir, NULL);
    zsock_wait(auth);
    return auth;
}
