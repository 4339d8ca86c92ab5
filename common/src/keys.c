/* keys.c - CURVE key pairs (CZMQ zcert files) and the token issuer's Ed25519 key.
 *
 * A keys directory holds <name>.cert / <name>.cert_secret per service or client,
 * allow/<name>.cert for the ZAP allowlist, and issuer.key / issuer.pub for the
 * token issuer (see keys.h). Creation is serialised across processes with an
 * flock on <dir>/.lock, so several services starting together on one shared
 * directory end up with one consistent set of keys. Secret material is read
 * and written with raw syscalls straight from/into sodium_malloc'd buffers (no
 * stdio buffers holding copies), and every buffer that held a secret is wiped
 * on every path. Secret files are 0600, directories 0700.
 */
#include "rapport/keys.h"
#include "rapport/clock.h"
#include "rapport/jwt.h"
#include "rapport/log.h"
#include "rapport/util.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_ISSUER_SK_HEX (crypto_sign_SECRETKEYBYTES * 2)
#define S_ISSUER_PK_HEX (crypto_sign_PUBLICKEYBYTES * 2)

const char *
rp_keys_dir(void)
{
    const char *d = getenv("RAPPORT_KEYS");
    return (d && *d) ? d : "./var/keys";
}

/* s_sodium - libsodium must be initialised before sodium_malloc; idempotent. */
static int
s_sodium(void)
{
    if (sodium_init() < 0) {
        rp_error("keys: libsodium failed to initialise");
        return -1;
    }
    return 0;
}

/* s_name_ok - a key name is a plain file name: [A-Za-z0-9._-], not starting with '.'. */
static bool
s_name_ok(const char *name)
{
    if (!name || !*name || name[0] == '.' || strlen(name) > 128)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool
s_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* s_check_private - warn when a secret file is readable by group or others. */
static void
s_check_private(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        rp_warn("keys: %s is accessible by group or others (mode %03o); it should be 0600",
                path, (unsigned) (st.st_mode & 0777));
}

/* s_lock - take the directory's creation lock; returns the fd or -1. */
static int
s_lock(const char *dir)
{
    char *path = rp_sprintf("%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rp_error("keys: cannot open %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            rp_error("keys: cannot lock %s: %s", path, strerror(errno));
            close(fd);
            free(path);
            return -1;
        }
    }
    free(path);
    return fd;
}

static void
s_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

/* s_prepare_dir - mkdir -p dir 0700 and make sure it is 0700. */
static int
s_prepare_dir(const char *dir)
{
    if (rp_mkdir_p(dir, 0700) != 0) {
        rp_error("keys: cannot create directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (chmod(dir, 0700) != 0) {
        rp_error("keys: cannot chmod %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* s_cert_destroy - wipe a zcert's secret key (binary and Z85) and destroy it. */
static void
s_cert_destroy(zcert_t **cert_p)
{
    if (!*cert_p)
        return;
    sodium_memzero((void *) zcert_secret_key(*cert_p), 32);
    sodium_memzero((void *) zcert_secret_txt(*cert_p), 41);
    zcert_destroy(cert_p);
}

/* s_cert_has_secret - true when a loaded cert carries a real (non-zero) secret
 * key that belongs to its public key. */
static bool
s_cert_has_secret(zcert_t *cert)
{
    if (sodium_is_zero(zcert_secret_key(cert), 32))
        return false;
    char derived[41];
    bool ok = zmq_curve_public(derived, zcert_secret_txt(cert)) == 0
              && strcmp(derived, zcert_public_txt(cert)) == 0;
    sodium_memzero(derived, sizeof derived);
    return ok;
}

/* s_install_allow - write the public half of cert to <dir>/allow/<name>.cert
 * atomically (temporary file beside allow/, then rename), unless it is already there. */
static int
s_install_allow(const char *dir, const char *name, zcert_t *cert)
{
    int rc = -1;
    char *allow_dir = rp_sprintf("%s/allow", dir);
    char *dest = rp_sprintf("%s/%s.cert", allow_dir, name);
    char *tmp = rp_sprintf("%s/.allow-%s.cert.tmp", dir, name);

    if (s_prepare_dir(allow_dir) != 0)
        goto done;
    if (s_exists(dest)) {
        zcert_t *have = zcert_load(dest);
        bool same = have && streq(zcert_public_txt(have), zcert_public_txt(cert));
        s_cert_destroy(&have);
        if (same) {
            rc = 0;
            goto done;
        }
    }
    if (zcert_save_public(cert, tmp) != 0) {
        rp_error("keys: cannot write %s", tmp);
        goto done;
    }
    if (rename(tmp, dest) != 0) {
        rp_error("keys: cannot install %s: %s", dest, strerror(errno));
        unlink(tmp);
        goto done;
    }
    rp_info("keys: allowed %s in %s", name, allow_dir);
    rc = 0;
done:
    free(allow_dir);
    free(dest);
    free(tmp);
    return rc;
}

/* s_lock_named - the checks every "ensure" makes before it writes key files: libsodium
 * ready, a valid key name, the directory there (0700); then the directory's lock.
 * The lock's fd, or -1 (logged). */
static int
s_lock_named(const char *dir, const char *name)
{
    assert(dir);
    if (s_sodium() != 0)
        return -1;
    if (!s_name_ok(name)) {
        rp_error("keys: invalid key name '%s'", name ? name : "(null)");
        return -1;
    }
    if (s_prepare_dir(dir) != 0)
        return -1;
    return s_lock(dir);
}

int
rp_keys_ensure_curve(const char *dir, const char *name, bool allow)
{
    int lock = s_lock_named(dir, name);
    if (lock < 0)
        return -1;

    int rc = -1;
    zcert_t *cert = NULL;
    char *pub_path = rp_sprintf("%s/%s.cert", dir, name);
    char *sec_path = rp_sprintf("%s/%s.cert_secret", dir, name);
    bool have_pub = s_exists(pub_path), have_sec = s_exists(sec_path);

    if (!have_sec && have_pub) {
        /* Never replace an identity others may already trust. */
        rp_error("keys: %s exists without its secret file %s; refusing to replace it",
                 pub_path, sec_path);
        goto done;
    }
    if (!have_sec) {
        cert = zcert_new();
        if (!cert) {
            rp_error("keys: cannot generate a CURVE key pair");
            goto done;
        }
        zcert_set_meta(cert, "name", "%s", name);
        zcert_set_meta(cert, "created-by", "rapport");
        /* zcert writes with the process umask: make the secret file private from
         * its first byte, not only after the chmod below. */
        mode_t old_mask = umask(077);
        int saved = zcert_save(cert, pub_path);
        umask(old_mask);
        if (saved != 0) {
            rp_error("keys: cannot write %s", pub_path);
            goto done;
        }
        rp_info("keys: created CURVE key pair %s in %s", name, dir);
    } else {
        cert = zcert_load(pub_path);    /* loads <name>.cert_secret first */
        if (!cert || !s_cert_has_secret(cert)) {
            rp_error("keys: cannot load %s", sec_path);
            goto done;
        }
        if (!have_pub && zcert_save_public(cert, pub_path) != 0) {
            rp_error("keys: cannot write %s", pub_path);
            goto done;
        }
    }
    if (chmod(sec_path, 0600) != 0) {
        rp_error("keys: cannot chmod %s: %s", sec_path, strerror(errno));
        goto done;
    }
    if (allow && s_install_allow(dir, name, cert) != 0)
        goto done;
    rc = 0;
done:
    s_cert_destroy(&cert);
    free(pub_path);
    free(sec_path);
    s_unlock(lock);
    return rc;
}

rp_curve_t *
rp_curve_load(const char *dir, const char *name)
{
    assert(dir);
    if (s_sodium() != 0)
        return NULL;
    if (!s_name_ok(name)) {
        rp_error("keys: invalid key name '%s'", name ? name : "(null)");
        return NULL;
    }
    rp_curve_t *self = NULL;
    char *pub_path = rp_sprintf("%s/%s.cert", dir, name);
    char *sec_path = rp_sprintf("%s/%s.cert_secret", dir, name);
    zcert_t *cert = NULL;

    if (!s_exists(sec_path)) {
        rp_error("keys: %s not found (create it with rp_keys_ensure_curve)", sec_path);
        goto done;
    }
    s_check_private(sec_path);
    cert = zcert_load(pub_path);
    if (!cert || !s_cert_has_secret(cert)) {
        rp_error("keys: cannot load the CURVE secret key from %s", sec_path);
        goto done;
    }
    char *secret = sodium_malloc(41);
    if (!secret) {
        rp_error("keys: sodium_malloc failed");
        goto done;
    }
    memcpy(secret, zcert_secret_txt(cert), 41);
    secret[40] = '\0';
    sodium_mprotect_readonly(secret);
    self = rp_calloc(1, sizeof *self);
    rp_strlcpy(self->public_z85, zcert_public_txt(cert), sizeof self->public_z85);
    self->secret_z85 = secret;
done:
    s_cert_destroy(&cert);
    free(pub_path);
    free(sec_path);
    return self;
}

void
rp_curve_destroy(rp_curve_t **self_p)
{
    assert(self_p);
    rp_curve_t *self = *self_p;
    if (!self)
        return;
    sodium_free(self->secret_z85);      /* sodium_free wipes before freeing */
    free(self);
    *self_p = NULL;
}

int
rp_curve_public_load(const char *dir, const char *name, char out[41])
{
    assert(dir && out);
    if (!s_name_ok(name)) {
        rp_error("keys: invalid key name '%s'", name ? name : "(null)");
        return -1;
    }
    char *path = rp_sprintf("%s/%s.cert", dir, name);
    zcert_t *cert = s_exists(path) ? zcert_load(path) : NULL;
    int rc = -1;
    if (cert && !sodium_is_zero(zcert_public_key(cert), 32)) {
        rp_strlcpy(out, zcert_public_txt(cert), 41);
        rc = 0;
    } else
        rp_error("keys: cannot load the CURVE public key from %s", path);
    s_cert_destroy(&cert);
    free(path);
    return rc;
}

/* s_read_secret - read a small secret file into buf (cap bytes, sodium memory),
 * NUL-terminated, trailing whitespace trimmed. Returns the length or -1. */
static long
s_read_secret(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    for (;;) {
        if (len == cap - 1) {           /* file too large */
            close(fd);
            sodium_memzero(buf, cap);
            errno = EFBIG;
            return -1;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            sodium_memzero(buf, cap);
            errno = e;
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t) n;
    }
    close(fd);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'
                       || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
        len--;
    buf[len] = '\0';
    return (long) len;
}

/* s_decode_sk - hex in buf (NUL-terminated) into the 64-byte sk, checking that
 * its public half matches its seed. 0 or -1. */
static int
s_decode_sk(const char *hex, size_t hex_len, unsigned char *sk)
{
    if (hex_len != S_ISSUER_SK_HEX)
        return -1;
    if (rp_hex_decode(hex, sk, crypto_sign_SECRETKEYBYTES) != crypto_sign_SECRETKEYBYTES)
        return -1;
    unsigned char *check = sodium_malloc(crypto_sign_SECRETKEYBYTES + crypto_sign_PUBLICKEYBYTES);
    if (!check)
        return -1;
    unsigned char *check_pk = check + crypto_sign_SECRETKEYBYTES;
    /* The first 32 bytes of an Ed25519 sk are the seed, the last 32 its public key. */
    int rc = crypto_sign_seed_keypair(check_pk, check, sk);
    if (rc == 0 && sodium_memcmp(check, sk, crypto_sign_SECRETKEYBYTES) != 0)
        rc = -1;
    sodium_free(check);
    return rc;
}

int
rp_sign_key_load(const char *dir, const char *name, unsigned char **sk)
{
    assert(dir && sk);
    *sk = NULL;
    if (s_sodium() != 0)
        return -1;
    if (!s_name_ok(name)) {
        rp_error("keys: invalid key name '%s'", name ? name : "(null)");
        return -1;
    }
    char *path = rp_sprintf("%s/%s.key", dir, name);
    size_t cap = S_ISSUER_SK_HEX + 64;
    char *hex = sodium_malloc(cap);
    unsigned char *key = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    int rc = -1;
    if (!hex || !key) {
        rp_error("keys: sodium_malloc failed");
        goto done;
    }
    s_check_private(path);
    long n = s_read_secret(path, hex, cap);
    if (n < 0) {
        rp_error("keys: cannot read %s: %s", path, strerror(errno));
        goto done;
    }
    if (s_decode_sk(hex, (size_t) n, key) != 0) {
        rp_error("keys: %s is not a valid Ed25519 secret key (128 hex digits)", path);
        goto done;
    }
    *sk = key;
    key = NULL;
    rc = 0;
done:
    sodium_free(hex);               /* NULL-safe; wipes */
    sodium_free(key);
    free(path);
    return rc;
}

/* s_load_pub - read a hex Ed25519 public key from path. 0, 1 when the file does not
 * exist and missing_ok, or -1 with a log line. */
static int
s_load_pub(const char *path, unsigned char pk[crypto_sign_PUBLICKEYBYTES], bool missing_ok)
{
    if (s_sodium() != 0)
        return -1;
    char *data = NULL;
    size_t len = 0;
    if (rp_read_file(path, 1024, &data, &len) != 0) {
        if (missing_ok && errno == ENOENT)
            return 1;
        rp_error("keys: cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'
                       || data[len - 1] == ' ' || data[len - 1] == '\t'))
        data[--len] = '\0';
    unsigned char tmp[crypto_sign_PUBLICKEYBYTES];
    int rc = -1;
    if (len != S_ISSUER_PK_HEX
        || rp_hex_decode(data, tmp, sizeof tmp) != crypto_sign_PUBLICKEYBYTES
        || !crypto_core_ed25519_is_valid_point(tmp))
        rp_error("keys: %s is not a valid Ed25519 public key (64 hex digits)", path);
    else {
        memcpy(pk, tmp, sizeof tmp);
        rc = 0;
    }
    free(data);
    return rc;
}

int
rp_sign_key_public_load(const char *dir, const char *name, unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
    assert(dir && pk);
    if (!s_name_ok(name)) {
        rp_error("keys: invalid key name '%s'", name ? name : "(null)");
        return -1;
    }
    char *path = rp_sprintf("%s/%s.pub", dir, name);
    int rc = s_load_pub(path, pk, false);
    free(path);
    return rc;
}

int
rp_issuer_secret_load(const char *dir, unsigned char **sk)
{
    return rp_sign_key_load(dir, "issuer", sk);
}

int
rp_issuer_public_load(const char *dir, unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
    return rp_sign_key_public_load(dir, "issuer", pk);
}

int
rp_issuer_previous_load(const char *dir, unsigned char pk[crypto_sign_PUBLICKEYBYTES])
{
    assert(dir && pk);
    char *path = rp_sprintf("%s/issuer-previous.pub", dir);
    int rc = s_load_pub(path, pk, true);
    free(path);
    return rc;
}

/* s_write_pub - write pk as hex to <dir>/<name>.pub. */
static int
s_write_pub(const char *dir, const char *name, const unsigned char *pk)
{
    char hex[S_ISSUER_PK_HEX + 2];
    rp_hex_encode(pk, crypto_sign_PUBLICKEYBYTES, hex);
    hex[S_ISSUER_PK_HEX] = '\n';
    hex[S_ISSUER_PK_HEX + 1] = '\0';
    char *path = rp_sprintf("%s/%s.pub", dir, name);
    int rc = rp_write_file_private(path, hex, S_ISSUER_PK_HEX + 1);
    if (rc != 0)
        rp_error("keys: cannot write %s: %s", path, strerror(errno));
    free(path);
    return rc;
}

/* s_create_key - generate a new key pair and write <name>.key then <name>.pub. */
static int
s_create_key(const char *dir, const char *name, const char *key_path)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    char *hex = sodium_malloc(S_ISSUER_SK_HEX + 2);
    int rc = -1;
    if (!sk || !hex) {
        rp_error("keys: sodium_malloc failed");
        goto done;
    }
    crypto_sign_keypair(pk, sk);
    rp_hex_encode(sk, crypto_sign_SECRETKEYBYTES, hex);
    hex[S_ISSUER_SK_HEX] = '\n';
    hex[S_ISSUER_SK_HEX + 1] = '\0';
    if (rp_write_file_private(key_path, hex, S_ISSUER_SK_HEX + 1) != 0) {
        rp_error("keys: cannot write %s: %s", key_path, strerror(errno));
        goto done;
    }
    if (s_write_pub(dir, name, pk) != 0)
        goto done;
    char kid[17];
    rp_key_id(pk, kid);
    rp_info("keys: created Ed25519 key %s (%s) in %s", name, kid, dir);
    rc = 0;
done:
    sodium_free(sk);
    sodium_free(hex);
    return rc;
}

int
rp_keys_ensure_issuer(const char *dir)
{
    return rp_sign_key_ensure(dir, "issuer");
}

int
rp_sign_key_ensure(const char *dir, const char *name)
{
    int lock = s_lock_named(dir, name);
    if (lock < 0)
        return -1;
    int rc = -1;
    char *key_path = rp_sprintf("%s/%s.key", dir, name);
    char *pub_path = rp_sprintf("%s/%s.pub", dir, name);
    unsigned char *sk = NULL;

    if (!s_exists(key_path)) {
        if (s_exists(pub_path)) {
            /* A verifier-only directory: never replace the key others trust. */
            rp_error("keys: %s exists without %s.key; refusing to replace it", pub_path, name);
            goto done;
        }
        rc = s_create_key(dir, name, key_path);
        goto done;
    }
    if (chmod(key_path, 0600) != 0) {
        rp_error("keys: cannot chmod %s: %s", key_path, strerror(errno));
        goto done;
    }
    if (rp_sign_key_load(dir, name, &sk) != 0)
        goto done;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], have[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    if (!s_exists(pub_path)) {
        rc = s_write_pub(dir, name, pk);
        goto done;
    }
    if (rp_sign_key_public_load(dir, name, have) != 0)
        goto done;
    if (memcmp(have, pk, sizeof pk) != 0) {
        rp_error("keys: %s does not match %s.key", pub_path, name);
        goto done;
    }
    rc = 0;
done:
    sodium_free(sk);
    free(key_path);
    free(pub_path);
    s_unlock(lock);
    return rc;
}

void
rp_key_id(const unsigned char pk[crypto_sign_PUBLICKEYBYTES], char kid[17])
{
    assert(pk && kid);
    unsigned char h[32];
    crypto_generichash(h, sizeof h, pk, crypto_sign_PUBLICKEYBYTES, NULL, 0);
    char *s = rp_b64url_encode(h, 12);
    assert(strlen(s) == 16);
    memcpy(kid, s, 17);
    free(s);
}

int
rp_keys_write_service_token(const char *dir, const char *name, int64_t ttl_s)
{
    assert(dir && name && ttl_s > 0);
    unsigned char *sk = NULL;
    if (rp_issuer_secret_load(dir, &sk) != 0)
        return -1;
    rp_claims_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.sub, sizeof c.sub, "svc-%s", name);
    rp_strlcpy(c.roles[0], "integration", sizeof c.roles[0]);
    c.n_roles = 1;
    rp_strlcpy(c.unit, "/", sizeof c.unit);
    rp_strlcpy(c.scope, "company", sizeof c.scope);
    c.iat = c.nbf = rp_clock_now_ms() / 1000;
    c.exp = c.iat + ttl_s;
    char *token = rp_jwt_mint(&c, sk);
    sodium_free(sk);
    if (!token)
        return -1;
    char *path = rp_sprintf("%s/%s.token", dir, name);
    int rc = rp_write_file_private(path, token, strlen(token));
    if (rc != 0)
        rp_error("keys: cannot write %s: %s", path, strerror(errno));
    sodium_memzero(token, strlen(token));
    free(token);
    free(path);
    return rc;
}
