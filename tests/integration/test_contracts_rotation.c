/* test_contracts_rotation.c - signatures stay verifiable across rotations of the
 * company signing key (the keyring, services/contracts/contracts_keyring.c).
 *   rotation     A is signed; the key is rotated as docs/OPERATIONS.md says (old
 *                public key into company-sign.retired/, old pair removed, restart);
 *                B is signed with the new key. Both verify, through Verify and here
 *                with libsodium against SigningKey's keyring, whose retired key
 *                carries the new key's endorsement. An amendment of A signed after
 *                the rotation uses the new key and names A. With the retired file
 *                gone A still verifies (the store keeps the key); a tampered A fails.
 *   lost_keys    The keys directory's pair is lost (not retired): contracts signed
 *                before report "signed with key X, which this service does not
 *                know" (the store records it, no trusted key endorses it), and so
 *                do those of the keys it had endorsed. Adopting the lost key (its
 *                public half from SigningKey into the retired folder, restart)
 *                makes them all verify again.
 *   unknown_key  A stored key id changed in the LMDB: Verify answers OK with
 *                valid = false naming the unknown key, and the service goes on.
 */
#define _GNU_SOURCE
#include "test_contracts.h"
#include <sys/stat.h>
#include <sodium.h>

typedef Rapport__Contracts__V1__SigningKeyReply TKeys;
typedef Rapport__Contracts__V1__SigningKeyRecord TKey;
typedef Rapport__Contracts__V1__VerifyReply TVerify;

#define RETIRED_DOMAIN "rapport.contracts.v1.RetiredKey"

static char *s_keys_path(const char *file)
{
    return rp_sprintf("%s/keys/%s", rp_suite_dir(TC.suite), file);
}

static TKeys *s_keys(void)
{
    Rapport__Contracts__V1__SigningKeyRequest rq = RAPPORT__CONTRACTS__V1__SIGNING_KEY_REQUEST__INIT;
    TKeys *k = NULL;
    tc_expect(tc_call(P_FIN, CM("SigningKey"), &rq, &rapport__contracts__v1__signing_key_reply__descriptor, &k),
              RP_OK);
    return k;
}

static const TKey *s_key(const TKeys *k, const char *kid)
{
    for (size_t i = 0; i < k->n_keys; i++)
        if (strcmp(k->keys[i]->key_id, kid) == 0)
            return k->keys[i];
    fail_msg("SigningKey does not list key %s", kid);
    return NULL;
}

static TVerify *s_verify(const char *id)
{
    Rapport__Contracts__V1__GetRequest g = RAPPORT__CONTRACTS__V1__GET_REQUEST__INIT;
    g.id = (char *)id;
    TVerify *v = NULL;
    tc_expect(tc_call(P_FIN, CM("Verify"), &g, &rapport__contracts__v1__verify_reply__descriptor, &v), RP_OK);
    return v;
}

static void s_want_valid(const TContract *c)
{
    TVerify *v = s_verify(c->number);
    if (!v->valid)
        fail_msg("%s (key %s) does not verify: %s", c->number, c->signature->key_id, v->reason);
    assert_string_equal(v->key_id, c->signature->key_id);
    tc_free(v);
}

/* s_want_unknown - Verify of c fails naming its key; recorded: the hint that the
 * store records the key. */
static void s_want_unknown(const TContract *c, const char *kid, bool recorded)
{
    TVerify *v = s_verify(c->number);
    assert_false(v->valid);
    char *want = rp_sprintf("signed with key %s, which this service does not know", kid);
    if (!strstr(v->reason, want))
        fail_msg("%s: want \"%s\", got \"%s\"", c->number, want, v->reason);
    assert_int_equal(strstr(v->reason, "store records that key") != NULL, recorded);
    free(want);
    tc_free(v);
}

/* s_sodium_check - the stored signature of c verifies with the hex public key. */
static void s_sodium_check(const TContract *c, const char *pk_hex)
{
    unsigned char pk[32], h[32], sig[64];
    assert_int_equal(rp_hex_decode(pk_hex, pk, sizeof pk), 32);
    assert_int_equal(rp_hex_decode(c->signature->content_hash, h, sizeof h), 32);
    assert_int_equal(rp_hex_decode(c->signature->signature, sig, sizeof sig), 64);
    assert_int_equal(crypto_sign_verify_detached(sig, h, sizeof h, pk), 0);
}

/* s_endorsement_check - rec's endorsement verifies with the endorser's hex key. */
static void s_endorsement_check(const TKey *rec, const char *by_hex)
{
    unsigned char by[32], pk[32], sig[64], msg[sizeof RETIRED_DOMAIN + 32];
    assert_int_equal(rp_hex_decode(by_hex, by, sizeof by), 32);
    assert_int_equal(rp_hex_decode(rec->public_key, pk, sizeof pk), 32);
    assert_int_equal(rp_hex_decode(rec->endorsement, sig, sizeof sig), 64);
    memcpy(msg, RETIRED_DOMAIN, sizeof RETIRED_DOMAIN);
    memcpy(msg + sizeof RETIRED_DOMAIN, pk, 32);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg, by), 0);
}

/* s_rotate - as docs/OPERATIONS.md: stop, move the public key into the retired
 * folder as <kid>.pub (retire true) or lose the pair (false), remove the secret,
 * start (a new pair is made). */
static void s_rotate(const char *kid, bool retire)
{
    assert_int_equal(rp_suite_kill(TC.suite, "contracts", SIGTERM), 0);
    char *pub = s_keys_path("company-sign.pub"), *key = s_keys_path("company-sign.key");
    char *dir = s_keys_path("company-sign.retired");
    char *to = rp_sprintf("%s/%s.pub", dir, kid);
    if (retire) {
        assert_int_equal(rp_mkdir_p(dir, 0700), 0);
        assert_int_equal(rename(pub, to), 0);
    } else {
        assert_int_equal(unlink(pub), 0);
    }
    assert_int_equal(unlink(key), 0);
    rp_suite_start_following(TC.suite, "contracts", "leads", TC_ENV);
    tc_clients();
    free(pub);
    free(key);
    free(dir);
    free(to);
}

/* s_amend - an amendment of parent drafted, submitted and signed by anna. */
static TContract *s_amend(const TContract *parent)
{
    tc_terms_t x;
    tc_terms(&x, 300000, 1, tc_today(), 200);
    x.t.special_terms = "Volume bonus of 3 % above 1000 units.";
    Rapport__Contracts__V1__DraftRequest rq = RAPPORT__CONTRACTS__V1__DRAFT_REQUEST__INIT;
    rq.terms = &x.t;
    rq.kind = CKIND(AMENDMENT);
    rq.parent_id = parent->id;
    TContract *d = NULL, *s = NULL;
    tc_expect(tc_call(P_ANNA, CM("Draft"), &rq, &rapport__contracts__v1__contract__descriptor, &d), RP_OK);
    tc_expect(tc_act(P_ANNA, CM("Submit"), d->id, NULL, NULL), RP_OK);
    tc_docs(P_ANNA, d, DSTAGE(SIGNING));
    tc_expect(tc_act(P_ANNA, CM("Sign"), d->id, NULL, &s), RP_OK);
    tc_free(d);
    return s;
}

static char s_kid1[17], s_kid2[17];
static TContract *s_a, *s_b;

static void test_rotation(void **state)
{
    (void)state;
    s_a = tc_signed(700000, 0, 365, P_ANNA);
    rp_strlcpy(s_kid1, s_a->signature->key_id, sizeof s_kid1);
    TKeys *k = s_keys();
    assert_string_equal(k->key_id, s_kid1);
    const TKey *r1 = s_key(k, s_kid1);
    assert_true(r1->current && r1->trusted);
    assert_string_equal(r1->public_key, k->public_key);
    assert_string_equal(r1->first_contract, s_a->number);     /* recorded with its first signature */
    assert_true(r1->first_signed_at == s_a->signature->signed_at);
    tc_free(k);

    s_rotate(s_kid1, true);
    k = s_keys();
    rp_strlcpy(s_kid2, k->key_id, sizeof s_kid2);
    assert_string_not_equal(s_kid2, s_kid1);
    r1 = s_key(k, s_kid1);
    assert_false(r1->current);
    assert_true(r1->trusted);
    assert_string_equal(r1->endorsed_by, s_kid2);
    s_endorsement_check(r1, k->public_key);
    s_b = tc_signed(800000, 0, 365, P_ANNA);
    assert_string_equal(s_b->signature->key_id, s_kid2);
    s_want_valid(s_a);
    s_want_valid(s_b);
    s_sodium_check(s_a, r1->public_key);
    s_sodium_check(s_b, k->public_key);
    tc_free(k);

    /* an amendment after the rotation: the new key, naming its parent */
    TContract *m = s_amend(s_a);
    assert_int_equal(m->kind, CKIND(AMENDMENT));
    assert_string_equal(m->parent_id, s_a->id);
    assert_string_equal(m->parent_number, s_a->number);
    assert_string_equal(m->signature->key_id, s_kid2);
    s_want_valid(m);
    tc_free(m);

    /* the retired file is not needed any more: the store keeps the endorsed key */
    char *f = s_keys_path("company-sign.retired");
    char *pub = rp_sprintf("%s/%s.pub", f, s_kid1);
    assert_int_equal(unlink(pub), 0);
    tc_restart(SIGTERM);
    s_want_valid(s_a);
    s_want_valid(s_b);
    free(pub);
    free(f);

    /* tampering still shows */
    TContract *t = tc_signed(600000, 0, 365, P_ANNA);
    assert_int_equal(rp_suite_kill(TC.suite, "contracts", SIGTERM), 0);
    tc_tamper(t->id, "Volume bonus of 2 %", 16, '7');
    rp_suite_start_following(TC.suite, "contracts", "leads", TC_ENV);
    tc_clients();
    TVerify *v = s_verify(t->number);
    assert_false(v->valid);
    assert_non_null(strstr(v->reason, "differs from what was signed"));
    tc_free(v);
    tc_free(t);
}

static void test_lost_keys(void **state)
{
    (void)state;
    assert_non_null(s_a);
    /* the pair of key 2 is lost, not retired: a new key 3 is made */
    s_rotate(s_kid2, false);
    TKeys *k = s_keys();
    assert_string_not_equal(k->key_id, s_kid2);
    const TKey *r2 = s_key(k, s_kid2);
    assert_false(r2->trusted);
    assert_false(s_key(k, s_kid1)->trusted);     /* only key 2 vouched for key 1 */
    s_want_unknown(s_b, s_kid2, true);
    s_want_unknown(s_a, s_kid1, true);
    /* a new signature works meanwhile */
    TContract *c = tc_signed(500000, 0, 365, P_ANNA);
    assert_string_equal(c->signature->key_id, k->key_id);
    s_want_valid(c);

    /* adopt key 2 from what SigningKey lists: both older contracts verify again */
    char *dir = s_keys_path("company-sign.retired");
    char *path = rp_sprintf("%s/adopted.pub", dir);
    char *hex = rp_sprintf("%s\n", r2->public_key);
    assert_int_equal(rp_write_file_private(path, hex, strlen(hex)), 0);
    tc_restart(SIGTERM);
    s_want_valid(s_a);
    s_want_valid(s_b);
    s_want_valid(c);
    tc_free(k);
    k = s_keys();
    assert_true(s_key(k, s_kid2)->trusted);
    assert_string_equal(s_key(k, s_kid2)->endorsed_by, k->key_id);
    assert_true(s_key(k, s_kid1)->trusted);
    tc_free(k);
    tc_free(c);
    free(dir);
    free(path);
    free(hex);
}

static void test_unknown_key(void **state)
{
    (void)state;
    TContract *c = tc_signed(400000, 0, 365, P_ANNA);
    char kid[17];
    rp_strlcpy(kid, c->signature->key_id, sizeof kid);
    assert_int_equal(rp_suite_kill(TC.suite, "contracts", SIGTERM), 0);
    tc_tamper(c->id, kid, 0, kid[0] == 'Z' ? 'Y' : 'Z');
    rp_suite_start_following(TC.suite, "contracts", "leads", TC_ENV);
    tc_clients();
    kid[0] = kid[0] == 'Z' ? 'Y' : 'Z';
    s_want_unknown(c, kid, false);
    s_want_valid(s_b);              /* and the service is fine */
    tc_free(c);
    tc_free(s_a);
    tc_free(s_b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_lost_keys),
        cmocka_unit_test(test_unknown_key),
    };
    return cmocka_run_group_tests(tests, tc_setup, tc_teardown);
}
