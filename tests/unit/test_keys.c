/* test_keys.c - CURVE cert files, the allowlist, the issuer key and key ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <czmq.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rapport/jwt.h"
#include <time.h>
#include "rapport/keys.h"
#include "rapport/util.h"
#include "testutil.h"

/* s_tmpdir - a fresh directory; the keys dir is a not-yet-existing child of it. */
static char *
s_tmpdir(void)
{
    char *parent = rp_test_tmpdir("keys");
    char *keys = rp_sprintf("%s/keys", parent);
    free(parent);
    return keys;
}

/* s_rm_rf - remove the directory s_tmpdir made for keys_dir. */
static void
s_rm_rf(const char *keys_dir)
{
    char *parent = rp_strdup(keys_dir);
    *strrchr(parent, '/') = '\0';
    assert_int_equal(rp_test_rm_rf(parent), 0);
    free(parent);
}

static unsigned
s_mode(const char *dir, const char *file)
{
    char *path = file ? rp_sprintf("%s/%s", dir, file) : rp_strdup(dir);
    struct stat st;
    unsigned mode = stat(path, &st) == 0 ? (unsigned) (st.st_mode & 0777) : 0xffff;
    free(path);
    return mode;
}

static bool
s_exists(const char *dir, const char *file)
{
    return s_mode(dir, file) != 0xffff;
}

static char *
s_read(const char *dir, const char *file)
{
    char *path = rp_sprintf("%s/%s", dir, file);
    char *data = NULL;
    size_t len;
    assert_int_equal(rp_read_file(path, 1 << 20, &data, &len), 0);
    free(path);
    return data;
}

static void
s_write(const char *dir, const char *file, const char *text)
{
    char *path = rp_sprintf("%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0600);
    free(path);
}

static void
s_remove(const char *dir, const char *file)
{
    char *path = rp_sprintf("%s/%s", dir, file);
    assert_int_equal(unlink(path), 0);
    free(path);
}

static void
test_keys_dir(void **state)
{
    static const struct {
        const char *env;
        const char *want;
    } cases[] = {
        { NULL, "./var/keys" },
        { "", "./var/keys" },
        { "/etc/rapport/keys", "/etc/rapport/keys" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].env)
            setenv("RAPPORT_KEYS", cases[i].env, 1);
        else
            unsetenv("RAPPORT_KEYS");
        assert_string_equal(rp_keys_dir(), cases[i].want);
    }
    unsetenv("RAPPORT_KEYS");
}

static void
test_curve_create_load(void **state)
{
    static const struct {
        const char *name;
        bool allow;
        bool want_allow_file;
    } cases[] = {
        { "leads", true, true },
        { "cli", false, false },
        { "erp-connector_2.a", true, true },
    };
    char *dir = s_tmpdir();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *name = cases[i].name;
        assert_int_equal(rp_keys_ensure_curve(dir, name, cases[i].allow), 0);
        char *pub = rp_sprintf("%s.cert", name), *sec = rp_sprintf("%s.cert_secret", name);
        char *allow = rp_sprintf("allow/%s.cert", name);
        assert_true(s_exists(dir, pub));
        assert_int_equal(s_mode(dir, sec), 0600);
        assert_int_equal(s_mode(dir, NULL), 0700);
        assert_int_equal(s_exists(dir, allow), cases[i].want_allow_file);
        if (cases[i].want_allow_file) {
            assert_int_equal(s_mode(dir, "allow"), 0700);
            char *text = s_read(dir, allow);
            assert_null(strstr(text, "secret-key"));     /* the allowlist holds no secret */
            free(text);
        }

        char pk1[41], pk2[41];
        assert_int_equal(rp_curve_public_load(dir, name, pk1), 0);
        assert_int_equal(strlen(pk1), 40);
        rp_curve_t *c = rp_curve_load(dir, name);
        assert_non_null(c);
        assert_string_equal(c->public_z85, pk1);
        assert_int_equal(strlen(c->secret_z85), 40);
        /* The secret really is the public key's secret. */
        char derived[41];
        assert_int_equal(zmq_curve_public(derived, c->secret_z85), 0);
        assert_string_equal(derived, pk1);
        rp_curve_destroy(&c);
        assert_null(c);
        rp_curve_destroy(&c);

        /* Idempotent: a second ensure keeps the same key pair. */
        assert_int_equal(rp_keys_ensure_curve(dir, name, cases[i].allow), 0);
        assert_int_equal(rp_curve_public_load(dir, name, pk2), 0);
        assert_string_equal(pk1, pk2);
        if (cases[i].want_allow_file) {
            char pka[41];
            char *allow_dir = rp_sprintf("%s/allow", dir);
            assert_int_equal(rp_curve_public_load(allow_dir, name, pka), 0);
            assert_string_equal(pka, pk1);
            free(allow_dir);
        }
        free(pub);
        free(sec);
        free(allow);
    }
    /* Two names, two different key pairs. */
    char a[41], b[41];
    assert_int_equal(rp_curve_public_load(dir, "leads", a), 0);
    assert_int_equal(rp_curve_public_load(dir, "cli", b), 0);
    assert_string_not_equal(a, b);
    s_rm_rf(dir);
    free(dir);
}

static void
test_curve_repair_and_refuse(void **state)
{
    char *dir = s_tmpdir();
    char pk[41], again[41];
    assert_int_equal(rp_keys_ensure_curve(dir, "svc", false), 0);
    assert_int_equal(rp_curve_public_load(dir, "svc", pk), 0);

    /* Public file lost: recreated from the secret, same identity. */
    s_remove(dir, "svc.cert");
    assert_int_equal(rp_keys_ensure_curve(dir, "svc", true), 0);
    assert_int_equal(rp_curve_public_load(dir, "svc", again), 0);
    assert_string_equal(pk, again);
    char *allow_dir = rp_sprintf("%s/allow", dir);
    assert_int_equal(rp_curve_public_load(allow_dir, "svc", again), 0);
    assert_string_equal(pk, again);

    /* A stale allowlist entry is replaced by the current key. */
    s_write(allow_dir, "svc.cert",
            "curve\n    public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n");
    assert_int_equal(rp_keys_ensure_curve(dir, "svc", true), 0);
    assert_int_equal(rp_curve_public_load(allow_dir, "svc", again), 0);
    assert_string_equal(pk, again);

    /* Secret lost: refuse to mint a new identity over the old public cert. */
    s_remove(dir, "svc.cert_secret");
    assert_int_equal(rp_keys_ensure_curve(dir, "svc", false), -1);
    assert_null(rp_curve_load(dir, "svc"));
    assert_int_equal(rp_curve_public_load(dir, "svc", again), 0);
    assert_string_equal(pk, again);

    /* A secret file without a secret key is not loaded. */
    s_write(dir, "bad.cert_secret", "curve\n    public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n");
    s_write(dir, "bad.cert", "curve\n    public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n");
    assert_null(rp_curve_load(dir, "bad"));
    assert_int_equal(rp_keys_ensure_curve(dir, "bad", false), -1);

    /* A secret that does not belong to its public key is not loaded either. */
    s_write(dir, "odd.cert_secret",
            "curve\n    public-key = \"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\"\n"
            "    secret-key = \"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6\"\n");
    assert_null(rp_curve_load(dir, "odd"));
    free(allow_dir);
    s_rm_rf(dir);
    free(dir);
}

static void
test_curve_bad_names(void **state)
{
    static const char *names[] = { "", ".hidden", "../escape", "a/b", "sp ace", "semi;colon", NULL };
    char *dir = s_tmpdir();
    char pk[41];
    for (int i = 0; names[i]; i++) {
        assert_int_equal(rp_keys_ensure_curve(dir, names[i], true), -1);
        assert_null(rp_curve_load(dir, names[i]));
        assert_int_equal(rp_curve_public_load(dir, names[i], pk), -1);
    }
    assert_int_equal(rp_keys_ensure_curve(dir, NULL, false), -1);
    /* Missing files. */
    assert_null(rp_curve_load(dir, "nobody"));
    assert_int_equal(rp_curve_public_load(dir, "nobody", pk), -1);
    s_rm_rf(dir);
    free(dir);
}

static void
test_issuer(void **state)
{
    char *dir = s_tmpdir();
    assert_int_equal(rp_keys_ensure_issuer(dir), 0);
    assert_int_equal(s_mode(dir, "issuer.key"), 0600);
    assert_int_equal(s_mode(dir, NULL), 0700);
    assert_true(s_exists(dir, "issuer.pub"));

    unsigned char pk[32], pk2[32], derived[32];
    unsigned char *sk = NULL;
    assert_int_equal(rp_issuer_public_load(dir, pk), 0);
    assert_int_equal(rp_issuer_secret_load(dir, &sk), 0);
    assert_non_null(sk);
    crypto_sign_ed25519_sk_to_pk(derived, sk);
    assert_memory_equal(derived, pk, 32);
    unsigned char sig[64];
    crypto_sign_detached(sig, NULL, (const unsigned char *) "m", 1, sk);
    assert_int_equal(crypto_sign_verify_detached(sig, (const unsigned char *) "m", 1, pk), 0);
    sodium_free(sk);

    /* The files are hex: 128 and 64 digits. */
    char *text = s_read(dir, "issuer.key");
    assert_int_equal(strspn(text, "0123456789abcdef"), 128);
    sodium_memzero(text, strlen(text));
    free(text);
    text = s_read(dir, "issuer.pub");
    assert_int_equal(strspn(text, "0123456789abcdef"), 64);
    free(text);

    /* Idempotent. */
    assert_int_equal(rp_keys_ensure_issuer(dir), 0);
    assert_int_equal(rp_issuer_public_load(dir, pk2), 0);
    assert_memory_equal(pk, pk2, 32);

    /* issuer.pub lost: rewritten from the key. */
    s_remove(dir, "issuer.pub");
    assert_int_equal(rp_keys_ensure_issuer(dir), 0);
    assert_int_equal(rp_issuer_public_load(dir, pk2), 0);
    assert_memory_equal(pk, pk2, 32);

    /* issuer.pub that does not match the key: refused. */
    char other_hex[65];
    unsigned char opk[32], osk[64];
    crypto_sign_keypair(opk, osk);
    rp_hex_encode(opk, 32, other_hex);
    s_write(dir, "issuer.pub", other_hex);
    assert_int_equal(rp_keys_ensure_issuer(dir), -1);

    /* A verifier-only directory (pub, no key): never replaced. */
    s_remove(dir, "issuer.key");
    assert_int_equal(rp_keys_ensure_issuer(dir), -1);
    assert_false(s_exists(dir, "issuer.key"));
    assert_int_equal(rp_issuer_public_load(dir, pk2), 0);
    assert_memory_equal(opk, pk2, 32);
    assert_int_equal(rp_issuer_secret_load(dir, &sk), -1);
    assert_null(sk);
    s_rm_rf(dir);
    free(dir);
}

static void
test_issuer_corrupt(void **state)
{
    unsigned char pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    char good[129], good_pk[65];
    rp_hex_encode(sk, 64, good);
    rp_hex_encode(pk, 32, good_pk);
    char swapped[129];      /* seed of this key, public half of another */
    unsigned char pk2[32], sk2[64];
    crypto_sign_keypair(pk2, sk2);
    memcpy(swapped, good, 64);
    rp_hex_encode(pk2, 32, swapped + 64);
    char upper[129];
    for (int i = 0; i < 129; i++)
        upper[i] = (char) (good[i] >= 'a' && good[i] <= 'f' ? good[i] - 32 : good[i]);
    char *good_nl = rp_sprintf("%s\n", good), *good_pk_nl = rp_sprintf("%s\r\n", good_pk);
    char *short_key = rp_strndup(good, 126), *long_key = rp_sprintf("%s00", good);
    char *bad_hex = rp_strdup(good);
    bad_hex[5] = 'g';

    const struct {
        const char *key;
        const char *pub;
        int want_secret, want_public;
    } cases[] = {
        { good, good_pk, 0, 0 },
        { good_nl, good_pk_nl, 0, 0 },
        { upper, good_pk, 0, 0 },
        { short_key, "abcd", -1, -1 },
        { long_key, "", -1, -1 },
        { bad_hex, "zz", -1, -1 },
        { swapped, good_pk, -1, 0 },
        { "", "", -1, -1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *dir = s_tmpdir();
        assert_int_equal(rp_mkdir_p(dir, 0700), 0);
        s_write(dir, "issuer.key", cases[i].key);
        s_write(dir, "issuer.pub", cases[i].pub);
        unsigned char *got = NULL, got_pk[32];
        if (rp_issuer_secret_load(dir, &got) != cases[i].want_secret)
            fail_msg("case %zu: secret load", i);
        if (cases[i].want_secret == 0) {
            assert_memory_equal(got, sk, 64);
            sodium_free(got);
        } else
            assert_null(got);
        if (rp_issuer_public_load(dir, got_pk) != cases[i].want_public)
            fail_msg("case %zu: public load", i);
        if (cases[i].want_public == 0)
            assert_memory_equal(got_pk, pk, 32);
        s_rm_rf(dir);
        free(dir);
    }
    free(good_nl);
    free(good_pk_nl);
    free(short_key);
    free(long_key);
    free(bad_hex);
}

static void
test_issuer_concurrent(void **state)
{
    /* Several processes creating the issuer key at once agree on one key pair. */
    char *dir = s_tmpdir();
    pid_t kids[6];
    for (int i = 0; i < 6; i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0)
            _exit(rp_keys_ensure_issuer(dir) == 0 && rp_keys_ensure_curve(dir, "shared", true) == 0
                  ? 0 : 1);
    }
    for (int i = 0; i < 6; i++) {
        int status;
        assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    unsigned char pk[32], derived[32], *sk = NULL;
    assert_int_equal(rp_issuer_public_load(dir, pk), 0);
    assert_int_equal(rp_issuer_secret_load(dir, &sk), 0);
    crypto_sign_ed25519_sk_to_pk(derived, sk);
    assert_memory_equal(pk, derived, 32);
    sodium_free(sk);
    rp_curve_t *c = rp_curve_load(dir, "shared");
    assert_non_null(c);
    char derived_z85[41], allowed[41];
    assert_int_equal(zmq_curve_public(derived_z85, c->secret_z85), 0);
    assert_string_equal(derived_z85, c->public_z85);
    char *allow_dir = rp_sprintf("%s/allow", dir);
    assert_int_equal(rp_curve_public_load(allow_dir, "shared", allowed), 0);
    assert_string_equal(allowed, c->public_z85);
    rp_curve_destroy(&c);
    free(allow_dir);
    s_rm_rf(dir);
    free(dir);
}

static void
test_key_id(void **state)
{
    for (int i = 0; i < 8; i++) {
        unsigned char pk[32], sk[64], h[32];
        crypto_sign_keypair(pk, sk);
        char kid[17], again[17], want[32];
        rp_key_id(pk, kid);
        rp_key_id(pk, again);
        /* Independently: base64url (no padding) of BLAKE2b-256(pk)[0..12). */
        crypto_generichash(h, 32, pk, 32, NULL, 0);
        sodium_bin2base64(want, sizeof want, h, 12, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        assert_int_equal(strlen(kid), 16);
        assert_string_equal(kid, want);
        assert_string_equal(kid, again);
    }
    /* A fixed vector: the all-zero key. */
    unsigned char zero[32] = { 0 }, h[32];
    char kid[17], want[32];
    crypto_generichash(h, 32, zero, 32, NULL, 0);
    sodium_bin2base64(want, sizeof want, h, 12, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    rp_key_id(zero, kid);
    assert_string_equal(kid, want);
}

/* test_service_token - a service's token is signed by the issuer key, names the
 * service, carries the integration role (events.replay) for ttl seconds, is 0600,
 * and a second call replaces it. Without an issuer key there is none. */
static void
test_service_token(void **state)
{
    (void) state;
    char *dir = s_tmpdir();
    assert_int_equal(rp_keys_write_service_token(dir, "leads", 3600), -1);   /* no issuer */
    assert_int_equal(rp_keys_ensure_issuer(dir), 0);
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    assert_int_equal(rp_issuer_public_load(dir, pk), 0);
    rp_jwt_verifier_t *v = rp_jwt_verifier_new();
    rp_jwt_verifier_add_key(v, pk);
    char *first = NULL;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(rp_keys_write_service_token(dir, "leads", 3600), 0);
        assert_int_equal(s_mode(dir, "leads.token"), 0600);
        char *tok = s_read(dir, "leads.token");
        const rp_claims_t *c = NULL;
        assert_int_equal(rp_jwt_verify(v, tok, time(NULL) * 1000LL, &c), RP_JWT_OK);
        assert_string_equal(c->sub, "svc-leads");
        assert_int_equal(c->n_roles, 1);
        assert_string_equal(c->roles[0], "integration");
        assert_true(c->exp - c->iat == 3600);
        if (round == 0)
            first = tok;
        else {
            assert_string_not_equal(first, tok);    /* replaced: a new jti */
            free(tok);
        }
    }
    free(first);
    rp_jwt_verifier_destroy(&v);
    s_rm_rf(dir);
    free(dir);
}

int
main(void)
{
    /* No sodium_init here: the module must initialise libsodium itself. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_dir),
        cmocka_unit_test(test_curve_create_load),
        cmocka_unit_test(test_curve_repair_and_refuse),
        cmocka_unit_test(test_curve_bad_names),
        cmocka_unit_test(test_issuer),
        cmocka_unit_test(test_issuer_corrupt),
        cmocka_unit_test(test_issuer_concurrent),
        cmocka_unit_test(test_key_id),
        cmocka_unit_test(test_service_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
