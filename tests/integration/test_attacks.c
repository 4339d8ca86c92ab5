/* test_attacks.c - the table of attacks of issue 3 against real processes.
 *
 * A real rapport-identity (RAPPORT_TEST_CLOCK=1: lock-outs run on the service
 * clock; tokens are always checked against real time) and a real rapport-leads
 * that follows identity's revocations (RAPPORT_IDENTITY_ENDPOINT,
 * RAPPORT_IDENTITY_PUB_ENDPOINT, RAPPORT_SERVICE_TOKEN, as in test_revocation.c)
 * run in one suite. One cmocka test per row of ROWS. A row names an attack and
 * what must come of it:
 *   want_leads / want_identity  the status each service answers (leads:
 *                               Leads/ListByOwner or the row's call; identity:
 *                               WhoAmI or the row's call), WANT_NO_REPLY when the
 *                               transport must refuse, WANT_NA when not asked;
 *   want_reason / want_id_reason a substring of the status message ("a|b": either),
 *                               so that a token is refused for the reason the row is about
 *                               (a broken forger would otherwise pass every row as
 *                               "malformed"; the control rows prove it is not);
 *   want_event                  the identity event that records the attack, or
 *                               NULL: nothing changes in either service (no event,
 *                               no audit record: a refused read is not a write);
 *   want_audit                  the identity audit method that records it;
 *   want_leads_audit            leads audits the revocation it consumed;
 *   want_within_ms              a revocation reaches leads within this (issue 3:
 *                               "a revoked token stops working everywhere within 2
 *                               seconds").
 * After every row both services must still serve a good request on a new
 * connection and still run.
 *
 * Forged tokens are built by hand, independently of common/src/jwt.c: JSON with
 * jansson, base64url with libsodium, EdDSA signatures with crypto_sign_detached
 * (the issuer's key read from the suite's keys directory, or keys of our own),
 * HS256 with crypto_auth_hmacsha256 keyed with the issuer's PUBLIC key. The kid is
 * computed here from its definition (PROTOCOL.md §9) and checked against
 * rp_key_id once.
 *
 * Scenario rows report every deviation they see (not only the first), so one
 * failing row says everything that is wrong with its attack.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <sodium.h>
#include <zmq.h>

#include "harness.h"
#include "rapport/clock.h"
#include "rapport/keys.h"
#include "rapport/status.h"
#include "rapport/ulid.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"
#include "rapport/leads/v1/leads.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"

#define IM(m) "rapport.identity.v1.Identity/" m
#define SM(m) "rapport.sys.v1.System/" m
#define M_LIST "rapport.leads.v1.Leads/ListByOwner"
#define M_CREATE "rapport.leads.v1.Leads/Create"
#define PW "tangerine-Orbit-42"             /* meets the policy */
#define WRONG_PW "wrong-password-1"
#define MGR "atk.mgr"                       /* a manager made in setup */
#define MGR_UNIT "/hq/sales/g1"
#define TIMEOUT 10000
#define SILENCE_MS 1500                     /* how long "no reply" is waited for */
#define LOCK_FAILURES 5                     /* RAPPORT_IDENTITY_LOCK_FAILURES default */
#define SLOW_STEP_MS (10 * 1000)            /* longer than the slow-down's waits before a lock */
#define MSG_BAD_LOGIN "invalid username or password"
#define MSG_LOCKED "account locked, try again later"

#define WANT_NO_REPLY (-1)
#define WANT_NA (-2)

typedef Rapport__Identity__V1__TokenPair TokenPair;
typedef Rapport__Identity__V1__User User;

/* ---- the fixture ---- */

static struct {
    rp_suite_t *s;
    char keys[1024];
    char *good;                             /* minted token of MGR */
    unsigned char *issuer_sk;               /* sodium_malloc'd, 64 bytes */
    unsigned char issuer_pk[crypto_sign_PUBLICKEYBYTES];
    char issuer_kid[17];
    char issuer_pub_text[256];              /* issuer.pub as stored (hex text) */
    unsigned seq;                           /* unique names */
} F;

static const char *const ID_ENV[] = { "RAPPORT_TEST_CLOCK=1", NULL };

/* Soft checks: a scenario row collects what went wrong and fails once, at the end. */
static char s_errs[8192];

static void s_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void s_err(const char *fmt, ...)
{
    size_t l = strlen(s_errs);
    if (l + 8 >= sizeof s_errs)
        return;
    snprintf(s_errs + l, sizeof s_errs - l, "\n  - ");
    l = strlen(s_errs);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s_errs + l, sizeof s_errs - l, fmt, ap);
    va_end(ap);
}

#define CHECK(cond, ...) do { if (!(cond)) s_err(__VA_ARGS__); } while (0)

/* ---- the table ---- */

typedef enum {
    K_TOKEN,            /* a forged token, presented to leads and to identity's WhoAmI */
    K_ROTATION,         /* a token of a key rotated out after the overlap */
    K_REVOKED,          /* logout at identity, the token at leads and identity */
    K_DISABLED,         /* the user disabled at identity, its token at leads and identity */
    K_SYSTEM_REVOKED,   /* a logged-out token on identity's own System methods */
    K_SYSTEM_DISABLED,  /* a disabled user's token on identity's own System methods */
    K_REFRESH_REPLAY,   /* a used refresh token presented again */
    K_REFRESH_RACE,     /* one refresh token presented twice at once */
    K_GUESS,            /* a password-guessing loop */
    K_GUESS_ONE_ID,     /* the same loop, every guess sent with one request id */
    K_GUESS_LOCK_ID,    /* the guess that locks, then the right password with its request id */
    K_PLAINTEXT,        /* a client without CURVE */
    K_STRANGER,         /* a known user's token over an unknown CURVE key */
} kind_t;

typedef enum {
    SG_ISSUER,          /* EdDSA with the issuer's key */
    SG_ROTATED,         /* EdDSA with a key of the row (the rotated-out one) */
    SG_FLIP,            /* EdDSA with the issuer's key, one signature bit flipped */
    SG_HS256_PK,        /* HMAC-SHA256 keyed with the issuer's 32-byte public key */
    SG_HS256_PK_TEXT,   /* HMAC-SHA256 keyed with issuer.pub's text, as a naive library would */
    SG_NONE,            /* no signature at all */
} sign_t;

typedef struct {
    const char *alg;            /* the header's alg */
    sign_t sign;
    const char *iss, *aud;      /* NULL: the claim is left out */
    int64_t nbf, exp;           /* seconds from now (iat = min(now, nbf)) */
} forge_t;

typedef struct {
    const char *name;
    kind_t kind;
    forge_t forge;
    const char *target;         /* K_PLAINTEXT, K_STRANGER: "leads" or "identity" */
    int want_leads;
    int want_identity;
    const char *want_reason;    /* in leads' status message (and identity's unless below) */
    const char *want_id_reason; /* in identity's status message; NULL: want_reason */
    const char *want_event;     /* identity event type recording the attack; NULL: none */
    const char *want_audit;     /* identity audit method recording it; NULL: none */
    bool want_leads_audit;      /* leads audits the consumed revocation */
    int want_within_ms;         /* revocation reaches leads within */
} row_t;

#define GOOD "EdDSA", SG_ISSUER, "rapport", "rapport"
#define NOFORGE { NULL, SG_ISSUER, NULL, NULL, 0, 0 }
#define UNAUTH RP_UNAUTHENTICATED

static const row_t ROWS[] = {
    /* Controls: the forger makes tokens both services accept. */
    { "control_forged_token_accepted", K_TOKEN, { GOOD, 0, 3600 }, NULL, RP_OK, RP_OK,
      NULL, NULL, NULL, NULL, false, 0 },
    { "control_nbf_within_clock_skew", K_TOKEN, { GOOD, 10, 3600 }, NULL, RP_OK, RP_OK,
      NULL, NULL, NULL, NULL, false, 0 },
    /* Forged tokens. */
    { "alg_none", K_TOKEN, { "none", SG_NONE, "rapport", "rapport", 0, 3600 }, NULL,
      UNAUTH, UNAUTH, "unsupported algorithm", NULL, NULL, NULL, false, 0 },
    { "alg_none_upper_case", K_TOKEN, { "NONE", SG_NONE, "rapport", "rapport", 0, 3600 }, NULL,
      UNAUTH, UNAUTH, "unsupported algorithm", NULL, NULL, NULL, false, 0 },
    { "hs256_keyed_with_issuer_public_key", K_TOKEN,
      { "HS256", SG_HS256_PK, "rapport", "rapport", 0, 3600 }, NULL,
      UNAUTH, UNAUTH, "unsupported algorithm", NULL, NULL, NULL, false, 0 },
    { "hs256_keyed_with_issuer_pub_file", K_TOKEN,
      { "HS256", SG_HS256_PK_TEXT, "rapport", "rapport", 0, 3600 }, NULL,
      UNAUTH, UNAUTH, "unsupported algorithm", NULL, NULL, NULL, false, 0 },
    { "bad_signature", K_TOKEN, { "EdDSA", SG_FLIP, "rapport", "rapport", 0, 3600 }, NULL,
      UNAUTH, UNAUTH, "bad signature", NULL, NULL, NULL, false, 0 },
    { "wrong_issuer", K_TOKEN, { "EdDSA", SG_ISSUER, "rapport-evil", "rapport", 0, 3600 }, NULL,
      UNAUTH, UNAUTH, "bad issuer", NULL, NULL, NULL, false, 0 },
    { "missing_issuer", K_TOKEN, { "EdDSA", SG_ISSUER, NULL, "rapport", 0, 3600 }, NULL,
      UNAUTH, UNAUTH, "bad issuer", NULL, NULL, NULL, false, 0 },
    { "wrong_audience", K_TOKEN, { "EdDSA", SG_ISSUER, "rapport", "erp", 0, 3600 }, NULL,
      UNAUTH, UNAUTH, "bad audience", NULL, NULL, NULL, false, 0 },
    { "missing_audience", K_TOKEN, { "EdDSA", SG_ISSUER, "rapport", NULL, 0, 3600 }, NULL,
      UNAUTH, UNAUTH, "bad audience", NULL, NULL, NULL, false, 0 },
    { "expired", K_TOKEN, { GOOD, -3600, -60 }, NULL,
      UNAUTH, UNAUTH, "expired", NULL, NULL, NULL, false, 0 },
    { "expires_this_second", K_TOKEN, { GOOD, -3600, 0 }, NULL,     /* exp is strict */
      UNAUTH, UNAUTH, "expired", NULL, NULL, NULL, false, 0 },
    { "not_yet_valid", K_TOKEN, { GOOD, 120, 3600 }, NULL,          /* skew is 30 s */
      UNAUTH, UNAUTH, "not yet valid", NULL, NULL, NULL, false, 0 },
    { "rotated_out_key_after_overlap", K_ROTATION, { "EdDSA", SG_ROTATED, "rapport", "rapport", 0, 3600 },
      NULL, UNAUTH, UNAUTH, "unknown signing key", NULL, NULL, NULL, false, 0 },
    /* Revocation. */
    { "revoked_jti", K_REVOKED, NOFORGE, NULL, UNAUTH, UNAUTH, "revoked", NULL,
      "token.revoked", IM("Logout"), true, 2000 },
    { "revoked_jti_on_identity_system_methods", K_SYSTEM_REVOKED, NOFORGE, NULL, UNAUTH, UNAUTH,
      "revoked", NULL, "token.revoked", IM("Logout"), false, 2000 },
    { "disabled_user", K_DISABLED, NOFORGE, NULL, UNAUTH, UNAUTH, "revoked", "disabled|revoked",
      "user.disabled", IM("DisableUser"), true, 2000 },
    { "disabled_user_on_identity_system_methods", K_SYSTEM_DISABLED, NOFORGE, NULL, UNAUTH, UNAUTH,
      "revoked", NULL, "user.disabled", IM("DisableUser"), false, 2000 },
    { "refresh_replay_revokes_family", K_REFRESH_REPLAY, NOFORGE, NULL, UNAUTH, UNAUTH, "revoked",
      NULL, "token.revoked", IM("Refresh"), true, 2000 },
    { "refresh_replay_in_flight", K_REFRESH_RACE, NOFORGE, NULL, UNAUTH, UNAUTH, "revoked", NULL,
      "token.revoked", IM("Refresh"), false, 2000 },
    /* Passwords. */
    { "password_guessing_locks", K_GUESS, NOFORGE, NULL, WANT_NA, UNAUTH, NULL, MSG_LOCKED,
      "user.locked", IM("Login"), false, 0 },
    { "password_guessing_with_one_request_id", K_GUESS_ONE_ID, NOFORGE, NULL, WANT_NA, UNAUTH,
      NULL, MSG_LOCKED, "user.locked", IM("Login"), false, 0 },
    { "password_guessing_reusing_the_locking_request_id", K_GUESS_LOCK_ID, NOFORGE, NULL, WANT_NA,
      UNAUTH, NULL, MSG_LOCKED, "user.locked", IM("Login"), false, 0 },
    /* Transport. */
    { "plaintext_client_leads", K_PLAINTEXT, NOFORGE, "leads", WANT_NO_REPLY, WANT_NA,
      NULL, NULL, NULL, NULL, false, 0 },
    { "plaintext_client_identity", K_PLAINTEXT, NOFORGE, "identity", WANT_NA, WANT_NO_REPLY,
      NULL, NULL, NULL, NULL, false, 0 },
    { "unknown_curve_key_leads", K_STRANGER, NOFORGE, "leads", WANT_NO_REPLY, WANT_NA,
      NULL, NULL, NULL, NULL, false, 0 },
    { "unknown_curve_key_identity", K_STRANGER, NOFORGE, "identity", WANT_NA, WANT_NO_REPLY,
      NULL, NULL, NULL, NULL, false, 0 },
};
#define N_ROWS (sizeof ROWS / sizeof ROWS[0])

/* ---- small helpers ---- */

static void s_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int64_t s_elapsed_ms(int64_t t0_us)
{
    return (rp_clock_mono_us() - t0_us) / 1000;
}

/* s_name - a fresh username "<prefix><n>". */
static char *s_name(const char *prefix)
{
    return rp_sprintf("%s%u", prefix, ++F.seq);
}

/* s_has - hay contains needle, or one of its '|'-separated alternatives. */
static bool s_has(const char *hay, const char *needle)
{
    if (!needle)
        return true;
    if (!hay)
        return false;
    for (const char *p = needle;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t) (bar - p) : strlen(p);
        if (memmem(hay, strlen(hay), p, n))
            return true;
        if (!bar)
            return false;
        p = bar + 1;
    }
}

static const char *s_want_name(int want)
{
    return want == WANT_NO_REPLY ? "no reply" : want == WANT_NA ? "n/a" : rp_code_name(want);
}

/* ---- base64url and the forger ---- */

static char *s_b64(const void *data, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = rp_malloc(cap);
    sodium_bin2base64(out, cap, data, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

static char *s_b64_json(json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    assert_non_null(text);
    char *b = s_b64(text, strlen(text));
    free(text);
    return b;
}

/* s_kid - the kid of a public key, from PROTOCOL.md §9: base64url of the first 12
 * bytes of its BLAKE2b-256 hash. */
static void s_kid(const unsigned char pk[crypto_sign_PUBLICKEYBYTES], char kid[17])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, pk, crypto_sign_PUBLICKEYBYTES, NULL, 0);
    char *b = s_b64(h, 12);
    assert_int_equal(strlen(b), 16);
    memcpy(kid, b, 17);
    free(b);
}

/* s_forge - a JWT for sub built by hand as f says; rotated_pk/sk sign SG_ROTATED. */
static char *s_forge(const forge_t *f, const char *sub, const unsigned char *rotated_pk,
                     const unsigned char *rotated_sk)
{
    int64_t now = (int64_t) time(NULL);
    char kid[17];
    if (f->sign == SG_ROTATED)
        s_kid(rotated_pk, kid);
    else
        memcpy(kid, F.issuer_kid, sizeof kid);
    json_t *h = json_pack("{s:s, s:s, s:s}", "alg", f->alg, "typ", "JWT", "kid", kid);
    unsigned char jb[16];
    randombytes_buf(jb, sizeof jb);
    char jti[33];
    sodium_bin2hex(jti, sizeof jti, jb, sizeof jb);
    json_t *p = json_pack("{s:s, s:I, s:I, s:I, s:s, s:[s], s:s, s:s, s:s}",
                          "sub", sub, "iat", (json_int_t) (f->nbf < 0 ? now + f->nbf : now),
                          "nbf", (json_int_t) (now + f->nbf), "exp", (json_int_t) (now + f->exp),
                          "jti", jti, "roles", "manager", "branch", "hq", "unit", MGR_UNIT,
                          "scope", "own");
    assert_non_null(h);
    assert_non_null(p);
    if (f->iss)
        json_object_set_new(p, "iss", json_string(f->iss));
    if (f->aud)
        json_object_set_new(p, "aud", json_string(f->aud));
    char *h64 = s_b64_json(h), *p64 = s_b64_json(p);
    json_decref(h);
    json_decref(p);
    char *input = rp_sprintf("%s.%s", h64, p64);
    unsigned char sig[crypto_sign_BYTES];
    size_t sig_len = 0;
    switch (f->sign) {
    case SG_ISSUER:
    case SG_FLIP:
        crypto_sign_detached(sig, NULL, (const unsigned char *) input, strlen(input), F.issuer_sk);
        sig_len = crypto_sign_BYTES;
        if (f->sign == SG_FLIP)
            sig[17] ^= 0x04;
        break;
    case SG_ROTATED:
        crypto_sign_detached(sig, NULL, (const unsigned char *) input, strlen(input), rotated_sk);
        sig_len = crypto_sign_BYTES;
        break;
    case SG_HS256_PK:
        /* The classic confusion: the verifier's public key as the HMAC secret. */
        crypto_auth_hmacsha256(sig, (const unsigned char *) input, strlen(input), F.issuer_pk);
        sig_len = crypto_auth_hmacsha256_BYTES;
        break;
    case SG_HS256_PK_TEXT: {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, (const unsigned char *) F.issuer_pub_text,
                                    strlen(F.issuer_pub_text));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *) input, strlen(input));
        crypto_auth_hmacsha256_final(&st, sig);
        sig_len = crypto_auth_hmacsha256_BYTES;
        break;
    }
    case SG_NONE:
        sig_len = 0;
        break;
    }
    char *s64 = sig_len ? s_b64(sig, sig_len) : rp_strdup("");
    char *tok = rp_sprintf("%s.%s", input, s64);
    free(s64);
    free(input);
    free(h64);
    free(p64);
    return tok;
}

/* s_claim - a string claim of a token's payload (malloc'd), without verifying it. */
static char *s_claim(const char *tok, const char *name)
{
    const char *d1 = strchr(tok, '.');
    assert_non_null(d1);
    const char *d2 = strchr(d1 + 1, '.');
    assert_non_null(d2);
    unsigned char buf[4096];
    size_t n = 0;
    assert_int_equal(sodium_base642bin(buf, sizeof buf, d1 + 1, (size_t) (d2 - d1 - 1), NULL, &n, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
    json_error_t err;
    json_t *j = json_loadb((const char *) buf, n, 0, &err);
    assert_non_null(j);
    const char *v = json_string_value(json_object_get(j, name));
    assert_non_null(v);
    char *out = rp_strdup(v);
    json_decref(j);
    return out;
}

/* ---- calls ---- */

/* s_call - method(in) on a new connection to svc with token; out may be NULL. */
static int s_call(const char *svc, const char *token, const char *id, const char *method,
                  const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
                  ProtobufCMessage **out, rp_call_status_t *st)
{
    rp_client_t *c = rp_suite_client(F.s, svc, token);
    ProtobufCMessage *o = NULL;
    memset(st, 0, sizeof *st);
    int rc = rp_client_call(c, id, method, in, out_desc, &o, st, TIMEOUT);
    rp_client_destroy(&c);
    if (out)
        *out = o;
    else if (o)
        protobuf_c_message_free_unpacked(o, NULL);
    return rc;
}

/* s_leads_list - leads' ListByOwner of owner with token (the "token at leads" probe). */
static int s_leads_list(const char *token, const char *owner, rp_call_status_t *st)
{
    Rapport__Leads__V1__ListByOwnerRequest rq = RAPPORT__LEADS__V1__LIST_BY_OWNER_REQUEST__INIT;
    rq.owner = (char *) owner;
    return s_call("leads", token, NULL, M_LIST, &rq.base, NULL, NULL, st);
}

static int s_whoami(const char *token, rp_call_status_t *st)
{
    Rapport__Identity__V1__WhoAmIRequest rq = RAPPORT__IDENTITY__V1__WHO_AM_IREQUEST__INIT;
    return s_call("identity", token, NULL, IM("WhoAmI"), &rq.base, NULL, NULL, st);
}

/* s_replay - System/Replay of svc from seq 1 with token (events.replay). */
static int s_replay(const char *svc, const char *token, rp_call_status_t *st)
{
    Rapport__Sys__V1__ReplayRequest rq = RAPPORT__SYS__V1__REPLAY_REQUEST__INIT;
    rq.from_seq = 1;
    rq.limit = 10;
    return s_call(svc, token, NULL, SM("Replay"), &rq.base, NULL, NULL, st);
}

static int s_audit_call(const char *svc, const char *token, uint64_t from, uint32_t limit,
                        Rapport__Sys__V1__AuditReply **out, rp_call_status_t *st)
{
    Rapport__Sys__V1__AuditRequest rq = RAPPORT__SYS__V1__AUDIT_REQUEST__INIT;
    rq.from_seq = from;
    rq.limit = limit;
    return s_call(svc, token, NULL, SM("Audit"), &rq.base, &rapport__sys__v1__audit_reply__descriptor,
                  (ProtobufCMessage **) out, st);
}

static int s_login(const char *user, const char *pw, const char *id, TokenPair **out,
                   rp_call_status_t *st)
{
    Rapport__Identity__V1__LoginRequest rq = RAPPORT__IDENTITY__V1__LOGIN_REQUEST__INIT;
    rq.username = (char *) user;
    rq.password = (char *) pw;
    return s_call("identity", NULL, id, IM("Login"), &rq.base, &rapport__identity__v1__token_pair__descriptor,
                  (ProtobufCMessage **) out, st);
}

static TokenPair *s_login_ok(const char *user)
{
    TokenPair *tp = NULL;
    rp_call_status_t st;
    int rc = s_login(user, PW, NULL, &tp, &st);
    if (rc != RP_OK)
        fail_msg("login %s: %s %s", user, rp_code_name(rc), st.message);
    return tp;
}

static int s_refresh(const char *refresh, TokenPair **out, rp_call_status_t *st)
{
    Rapport__Identity__V1__RefreshRequest rq = RAPPORT__IDENTITY__V1__REFRESH_REQUEST__INIT;
    rq.refresh_token = (char *) refresh;
    return s_call("identity", NULL, NULL, IM("Refresh"), &rq.base,
                  &rapport__identity__v1__token_pair__descriptor, (ProtobufCMessage **) out, st);
}

static int s_logout(const char *access, rp_call_status_t *st)
{
    Rapport__Identity__V1__LogoutRequest rq = RAPPORT__IDENTITY__V1__LOGOUT_REQUEST__INIT;
    return s_call("identity", access, NULL, IM("Logout"), &rq.base, NULL, NULL, st);
}

static int s_disable(const char *user, rp_call_status_t *st)
{
    Rapport__Identity__V1__SetUserStateRequest rq = RAPPORT__IDENTITY__V1__SET_USER_STATE_REQUEST__INIT;
    rq.username = (char *) user;
    rq.reason = (char *) "attack table";
    return s_call("identity", rp_suite_admin_token(F.s), NULL, IM("DisableUser"), &rq.base, NULL, NULL, st);
}

static void s_clock_advance(int64_t ms)
{
    Rapport__Sys__V1__ClockAdvanceRequest rq = RAPPORT__SYS__V1__CLOCK_ADVANCE_REQUEST__INIT;
    rq.by_ms = ms;
    rp_call_status_t st;
    int rc = s_call("identity", rp_suite_admin_token(F.s), NULL, SM("ClockAdvance"), &rq.base, NULL, NULL, &st);
    if (rc != RP_OK)
        fail_msg("ClockAdvance: %s %s", rp_code_name(rc), st.message);
}

/* s_user - create user (one role) with PW as the bootstrap admin; its record id
 * (malloc'd). */
static char *s_user(const char *user, const char *role, const char *unit)
{
    Rapport__Identity__V1__CreateUserRequest rq = RAPPORT__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    char *roles[] = { (char *) role };
    rq.username = (char *) user;
    rq.display_name = (char *) "Attack Table";
    rq.roles = roles;
    rq.n_roles = 1;
    rq.branch = (char *) "hq";
    rq.unit = (char *) unit;
    rq.manager = (char *) "";
    rq.password = (char *) PW;
    User *u = NULL;
    rp_call_status_t st;
    int rc = s_call("identity", rp_suite_admin_token(F.s), NULL, IM("CreateUser"), &rq.base,
                    &rapport__identity__v1__user__descriptor, (ProtobufCMessage **) &u, &st);
    if (rc != RP_OK)
        fail_msg("create user %s: %s %s", user, rp_code_name(rc), st.message);
    char *id = rp_strdup(u->id);
    protobuf_c_message_free_unpacked(&u->base, NULL);
    return id;
}

/* ---- what changed: events and audit records ---- */

typedef struct {
    uint64_t leads_seq, id_seq, leads_audit, id_audit;
} snap_t;

static uint64_t s_audit_last(const char *svc)
{
    Rapport__Sys__V1__AuditReply *r = NULL;
    rp_call_status_t st;
    int rc = s_audit_call(svc, rp_suite_admin_token(F.s), (uint64_t) 1 << 62, 1, &r, &st);
    if (rc != RP_OK)
        fail_msg("%s System/Audit: %s %s", svc, rp_code_name(rc), st.message);
    uint64_t last = r->last_seq;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return last;
}

static void s_snap(snap_t *s)
{
    s->leads_seq = rp_suite_last_seq(F.s, "leads");
    s->id_seq = rp_suite_last_seq(F.s, "identity");
    s->leads_audit = s_audit_last("leads");
    s->id_audit = s_audit_last("identity");
}

/* s_unchanged - nothing was written by the attack: no event, no audit record. */
static void s_unchanged(const char *what, const snap_t *a)
{
    snap_t b;
    s_snap(&b);
    CHECK(a->leads_seq == b.leads_seq, "%s: leads wrote events (seq %llu -> %llu)", what,
          (unsigned long long) a->leads_seq, (unsigned long long) b.leads_seq);
    CHECK(a->id_seq == b.id_seq, "%s: identity wrote events (seq %llu -> %llu)", what,
          (unsigned long long) a->id_seq, (unsigned long long) b.id_seq);
    CHECK(a->leads_audit == b.leads_audit, "%s: leads' audit chain grew (%llu -> %llu)", what,
          (unsigned long long) a->leads_audit, (unsigned long long) b.leads_audit);
    CHECK(a->id_audit == b.id_audit, "%s: identity's audit chain grew (%llu -> %llu)", what,
          (unsigned long long) a->id_audit, (unsigned long long) b.id_audit);
}

/* s_audit_count - audit records of svc after seq `after` whose method contains
 * method, with subject and actor when given. */
/* s_audit_outcome - s_audit_count that also wants outcome (NULL: any) in the
 * record's outcome (a failed request's kept record). */
static size_t s_audit_outcome(const char *svc, uint64_t after, const char *method, const char *subject,
                              const char *actor, const char *outcome)
{
    size_t hits = 0;
    uint64_t from = after + 1;
    for (int pages = 0; pages < 1000; pages++) {
        Rapport__Sys__V1__AuditReply *r = NULL;
        rp_call_status_t st;
        int rc = s_audit_call(svc, rp_suite_admin_token(F.s), from, 1000, &r, &st);
        if (rc != RP_OK)
            fail_msg("%s System/Audit: %s %s", svc, rp_code_name(rc), st.message);
        for (size_t i = 0; i < r->n_records; i++) {
            const Rapport__Sys__V1__AuditRecord *a = r->records[i];
            if (s_has(a->method, method) && (!subject || rp_streq(a->subject, subject))
                && (!actor || rp_streq(a->actor, actor)) && (!outcome || s_has(a->outcome, outcome)))
                hits++;
        }
        size_t n = r->n_records;
        uint64_t next = r->next_seq, last = r->last_seq;
        protobuf_c_message_free_unpacked(&r->base, NULL);
        if (n == 0 || next > last)
            break;
        from = next;
    }
    return hits;
}

static size_t s_audit_count(const char *svc, uint64_t after, const char *method, const char *subject,
                            const char *actor)
{
    return s_audit_outcome(svc, after, method, subject, actor, NULL);
}

/* s_wait_audit - poll until svc has such an audit record (a consumer commits its
 * batch just after it applied it), up to ms. */
static size_t s_wait_audit(const char *svc, uint64_t after, const char *method, const char *subject,
                           const char *actor, int ms)
{
    int64_t t0 = rp_clock_mono_us();
    size_t n;
    while ((n = s_audit_count(svc, after, method, subject, actor)) == 0 && s_elapsed_ms(t0) < ms)
        s_sleep_ms(50);
    return n;
}

/* s_events - identity events of type after seq `after`, with subject when given;
 * for token.revoked, only those of reason when given. */
static size_t s_events(uint64_t after, const char *type, const char *subject, const char *reason)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "rapport.identity.v1.%s", type);
    size_t n = 0, hits = 0;
    Rapport__V1__Event **evs = rp_suite_replay(F.s, "identity", after + 1, prefix, &n);
    for (size_t i = 0; i < n; i++) {
        if (!rp_streq(evs[i]->type, prefix) || (subject && !rp_streq(evs[i]->subject, subject)))
            continue;
        if (reason && strcmp(type, "token.revoked") == 0) {
            Rapport__Identity__V1__TokenRevoked *tr = rapport__identity__v1__token_revoked__unpack(
                NULL, evs[i]->data.len, evs[i]->data.data);
            bool ok = tr && rp_streq(tr->reason, reason);
            if (tr)
                rapport__identity__v1__token_revoked__free_unpacked(tr, NULL);
            if (!ok)
                continue;
        }
        hits++;
    }
    rp_suite_events_free(&evs, n);
    return hits;
}

static size_t s_wait_events(uint64_t after, const char *type, const char *subject, const char *reason,
                            int ms)
{
    int64_t t0 = rp_clock_mono_us();
    size_t n;
    while ((n = s_events(after, type, subject, reason)) == 0 && s_elapsed_ms(t0) < ms)
        s_sleep_ms(50);
    return n;
}

/* ---- expectations ---- */

/* s_expect - one call's outcome against a want and a reason; soft. */
static void s_expect(const char *what, int got, const rp_call_status_t *st, int want, const char *reason)
{
    if (want == WANT_NA)
        return;
    if (got != want) {
        s_err("%s: want %s, got %s (%s)", what, s_want_name(want), rp_code_name(got), st->message);
        return;
    }
    if (want != RP_OK) {
        CHECK(st->message[0] != '\0', "%s: %s without a message", what, rp_code_name(got));
        CHECK(s_has(st->message, reason), "%s: refused for another reason: \"%s\" (want \"%s\")",
              what, st->message, reason);
    }
}

/* s_expect_token - the token at leads (ListByOwner of sub) and at identity (WhoAmI). */
static void s_expect_token(const row_t *r, const char *what, const char *tok, const char *sub)
{
    rp_call_status_t st;
    char label[256];
    snprintf(label, sizeof label, "%s at leads", what);
    s_expect(label, s_leads_list(tok, sub, &st), &st, r->want_leads, r->want_reason);
    snprintf(label, sizeof label, "%s at identity WhoAmI", what);
    s_expect(label, s_whoami(tok, &st), &st, r->want_identity,
             r->want_id_reason ? r->want_id_reason : r->want_reason);
}

/* s_wait_refused - poll leads until it refuses the token; ms it took, -1 if it did
 * not within limit_ms. The last status into st. */
static int64_t s_wait_refused(const char *tok, const char *owner, int limit_ms, rp_call_status_t *st)
{
    int64_t t0 = rp_clock_mono_us();
    for (;;) {
        int rc = s_leads_list(tok, owner, st);
        int64_t took = s_elapsed_ms(t0);
        if (rc == RP_UNAUTHENTICATED)
            return took;
        if (took > limit_ms)
            return -1;
        s_sleep_ms(20);
    }
}

/* s_serving - both services answer a good request on a new connection and run. */
static void s_serving(const char *what)
{
    rp_call_status_t st;
    int rc = s_leads_list(F.good, MGR, &st);
    CHECK(rc == RP_OK, "%s: leads no longer serves: %s %s", what, rp_code_name(rc), st.message);
    rc = s_whoami(F.good, &st);
    CHECK(rc == RP_OK, "%s: identity no longer serves: %s %s", what, rp_code_name(rc), st.message);
    CHECK(kill(rp_suite_pid(F.s, "leads"), 0) == 0, "%s: leads is not running", what);
    CHECK(kill(rp_suite_pid(F.s, "identity"), 0) == 0, "%s: identity is not running", what);
}

/* ---- processes ---- */

static void s_start_leads(void)
{
    rp_suite_start_following(F.s, "leads", "identity", NULL);
}

/* s_restart_both - SIGTERM (each must drain and exit 0), then start again. */
static void s_restart_both(void)
{
    assert_int_equal(rp_suite_kill(F.s, "leads", SIGTERM), 0);
    assert_int_equal(rp_suite_kill(F.s, "identity", SIGTERM), 0);
    rp_suite_start(F.s, "identity", ID_ENV);
    s_start_leads();
}

/* ---- raw transports ---- */

/* s_frame - an encoded Request (malloc'd). */
static uint8_t *s_frame(const char *method, const ProtobufCMessage *body, const char *token, size_t *len)
{
    size_t blen = protobuf_c_message_get_packed_size(body);
    uint8_t *b = rp_malloc(blen ? blen : 1);
    protobuf_c_message_pack(body, b);
    char id[RP_ULID_STRLEN + 1];
    rp_ulid_new_str(rp_clock_now_ms(), id);
    Rapport__V1__Request rq = RAPPORT__V1__REQUEST__INIT;
    rq.id = id;
    rq.method = (char *) method;
    rq.body.data = b;
    rq.body.len = blen;
    rq.token = (char *) (token ? token : "");
    *len = rapport__v1__request__get_packed_size(&rq);
    uint8_t *f = rp_malloc(*len);
    rapport__v1__request__pack(&rq, f);
    free(b);
    return f;
}

/* s_attack_frame - the request a transport row sends to svc: a known user's real
 * work, so that a reply or a change would show it got through (leads: Create a
 * lead with a login token; identity: Login with the right password). */
static uint8_t *s_attack_frame(const char *svc, const char *token, size_t *len, const char **method)
{
    if (strcmp(svc, "leads") == 0) {
        Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
        char name[64];
        snprintf(name, sizeof name, "Attack Co %u", ++F.seq);
        co.name = name;
        Rapport__Leads__V1__CreateRequest cr = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
        cr.company = &co;
        cr.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_WEB;
        *method = M_CREATE;
        return s_frame(M_CREATE, &cr.base, token, len);
    }
    Rapport__Identity__V1__LoginRequest lr = RAPPORT__IDENTITY__V1__LOGIN_REQUEST__INIT;
    lr.username = (char *) MGR;
    lr.password = (char *) PW;
    *method = IM("Login");
    return s_frame(IM("Login"), &lr.base, NULL, len);
}

/* s_plain_gets_reply - a DEALER without CURVE sends frame; true if anything comes back. */
static bool s_plain_gets_reply(const char *endpoint, const uint8_t *frame, size_t len)
{
    void *ctx = zmq_ctx_new();
    assert_non_null(ctx);
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    assert_non_null(sock);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(sock, endpoint), 0);
    zmq_send(sock, frame, len, ZMQ_DONTWAIT);
    zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
    int rc = zmq_poll(&item, 1, SILENCE_MS);
    bool got = rc > 0 && (item.revents & ZMQ_POLLIN);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return got;
}

/* s_stranger - a client of svc with a fresh CURVE key pair that is in no allowlist. */
static rp_client_t *s_stranger(const char *svc, const char *token)
{
    char dir[1100], name[32];
    snprintf(dir, sizeof dir, "%s/strangers", rp_suite_dir(F.s));
    mkdir(dir, 0700);
    snprintf(name, sizeof name, "stranger%u", ++F.seq);
    assert_int_equal(rp_keys_ensure_curve(dir, name, false), 0);
    rp_curve_t *me = rp_curve_load(dir, name);
    assert_non_null(me);
    /* It really is a key the services do not know. */
    assert_string_not_equal(me->public_z85, rp_suite_client_cert(F.s)->public_z85);
    rp_client_t *c = rp_client_new(rp_suite_rpc(F.s, svc), rp_suite_server_key(F.s, svc), me, token);
    rp_curve_destroy(&me);
    assert_non_null(c);
    return c;
}

/* ---- the rows ---- */

static void s_row_token(const row_t *r)
{
    char *tok = s_forge(&r->forge, MGR, NULL, NULL);
    snap_t a;
    s_snap(&a);
    s_expect_token(r, "forged token", tok, MGR);
    s_unchanged(r->name, &a);
    free(tok);
}

/* During a rotation the previous key is trusted (issuer-previous.pub); after the
 * overlap (the file gone, services restarted) its tokens are refused. */
static void s_row_rotation(const row_t *r)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    assert_non_null(sk);
    crypto_sign_keypair(pk, sk);
    char *tok = s_forge(&r->forge, MGR, pk, sk);
    sodium_free(sk);
    char hex[2 * crypto_sign_PUBLICKEYBYTES + 2];
    sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
    strcat(hex, "\n");
    char path[1100];
    snprintf(path, sizeof path, "%s/issuer-previous.pub", F.keys);

    /* The overlap: both services trust the previous key. */
    assert_int_equal(rp_write_file_private(path, hex, strlen(hex)), 0);
    s_restart_both();
    rp_call_status_t st;
    int rc = s_leads_list(tok, MGR, &st);
    CHECK(rc == RP_OK, "during the overlap leads refuses the previous key's token: %s %s",
          rp_code_name(rc), st.message);
    rc = s_whoami(tok, &st);
    CHECK(rc == RP_OK, "during the overlap identity refuses the previous key's token: %s %s",
          rp_code_name(rc), st.message);
    s_serving("during the overlap");

    /* After the overlap. */
    assert_int_equal(unlink(path), 0);
    s_restart_both();
    snap_t a;
    s_snap(&a);
    s_expect_token(r, "rotated-out key's token", tok, MGR);
    s_unchanged(r->name, &a);
    free(tok);
}

/* Logout at identity: leads refuses the token within 2 s, identity at once; the
 * revocation is an event, Logout is in identity's audit chain, and leads audits the
 * revocation it consumed. */
static void s_row_revoked(const row_t *r)
{
    char *user = s_name("atk.rev");
    free(s_user(user, "manager", MGR_UNIT));
    TokenPair *tp = s_login_ok(user);
    rp_call_status_t st;
    assert_int_equal(s_leads_list(tp->access_token, user, &st), RP_OK);
    assert_int_equal(s_whoami(tp->access_token, &st), RP_OK);
    char *jti = s_claim(tp->access_token, "jti");
    snap_t a;
    s_snap(&a);

    int rc = s_logout(tp->access_token, &st);
    if (rc != RP_OK)
        fail_msg("logout: %s %s", rp_code_name(rc), st.message);
    int64_t took = s_wait_refused(tp->access_token, user, r->want_within_ms, &st);
    CHECK(took >= 0, "leads still accepts the logged-out token %d ms after the logout", r->want_within_ms);
    if (took >= 0) {
        CHECK(s_has(st.message, r->want_reason), "leads refused for another reason: %s", st.message);
        print_message("  a logout reached leads in %lld ms\n", (long long) took);
    }
    s_expect_token(r, "logged-out token", tp->access_token, user);
    rc = s_refresh(tp->refresh_token, NULL, &st);
    CHECK(rc == RP_UNAUTHENTICATED, "the logged-out session refreshes: %s", rp_code_name(rc));
    /* audited */
    CHECK(s_events(a.id_seq, r->want_event, jti, "logout") == 1,
          "identity has no %s event {jti %s, reason logout}", r->want_event, jti);
    CHECK(s_audit_count("identity", a.id_audit, r->want_audit, NULL, user) == 1,
          "identity's audit chain has no %s by %s", r->want_audit, user);
    if (r->want_leads_audit)
        CHECK(s_wait_audit("leads", a.leads_audit, "consume/rapport.identity.v1.token.revoked", jti, NULL,
                           2000) == 1,
              "leads' audit chain does not record the consumed revocation of %s", jti);
    free(jti);
    free(user);
    protobuf_c_message_free_unpacked(&tp->base, NULL);
}

/* A disabled user's token: refused by identity at once and by leads within 2 s (a
 * disable must revoke the user's live tokens: issue 3, "Revocation (logout, disabled
 * user, changed roles) reaches every service"). */
static void s_row_disabled(const row_t *r)
{
    char *user = s_name("atk.dis");
    char *uid = s_user(user, "manager", MGR_UNIT);
    TokenPair *tp = s_login_ok(user);
    rp_call_status_t st;
    assert_int_equal(s_leads_list(tp->access_token, user, &st), RP_OK);
    char *jti = s_claim(tp->access_token, "jti");
    snap_t a;
    s_snap(&a);

    int rc = s_disable(user, &st);
    if (rc != RP_OK)
        fail_msg("DisableUser: %s %s", rp_code_name(rc), st.message);
    /* identity: at once, and the session is over */
    rc = s_whoami(tp->access_token, &st);
    s_expect("disabled user's token at identity WhoAmI", rc, &st, r->want_identity, r->want_id_reason);
    rc = s_refresh(tp->refresh_token, NULL, &st);
    CHECK(rc == RP_UNAUTHENTICATED, "a disabled user's session refreshes: %s", rp_code_name(rc));
    rc = s_login(user, PW, NULL, NULL, &st);
    CHECK(rc == RP_UNAUTHENTICATED && rp_streq(st.message, MSG_BAD_LOGIN),
          "a disabled user logs in: %s %s", rp_code_name(rc), st.message);
    CHECK(s_events(a.id_seq, r->want_event, uid, NULL) == 1, "identity has no %s event", r->want_event);
    CHECK(s_audit_count("identity", a.id_audit, r->want_audit, uid, NULL) == 1,
          "identity's audit chain has no %s of %s", r->want_audit, user);
    /* leads: within 2 s, through a token.revoked identity must emit */
    int64_t took = s_wait_refused(tp->access_token, user, r->want_within_ms, &st);
    CHECK(took >= 0, "leads still accepts the token of disabled user %s %d ms after DisableUser "
          "(identity emitted %zu token.revoked event(s) for its jti)",
          user, r->want_within_ms, s_events(a.id_seq, "token.revoked", jti, NULL));
    if (took >= 0) {
        CHECK(s_has(st.message, r->want_reason), "leads refused for another reason: %s", st.message);
        print_message("  a disable reached leads in %lld ms\n", (long long) took);
        if (r->want_leads_audit)
            CHECK(s_wait_audit("leads", a.leads_audit, "consume/rapport.identity.v1.token.revoked", jti,
                               NULL, 2000) == 1,
                  "leads' audit chain does not record the consumed revocation of %s", jti);
    }
    free(jti);
    free(uid);
    free(user);
    protobuf_c_message_free_unpacked(&tp->base, NULL);
}

/* A token that identity itself revoked (logout) or whose user it disabled must not
 * work on identity's own System methods either (Replay: identity's event log,
 * Audit: its audit chain), as it no longer does on leads'. An auditor holds both
 * permissions. */
static void s_row_system(const row_t *r, bool disable)
{
    char *user = s_name(disable ? "atk.sysd" : "atk.sysr");
    char *uid = s_user(user, "auditor", "/hq");
    TokenPair *tp = s_login_ok(user);
    const char *tok = tp->access_token;
    rp_call_status_t st;
    Rapport__Sys__V1__AuditReply *ar = NULL;
    assert_int_equal(s_replay("identity", tok, &st), RP_OK);
    assert_int_equal(s_audit_call("identity", tok, 1, 1, &ar, &st), RP_OK);
    protobuf_c_message_free_unpacked(&ar->base, NULL);
    assert_int_equal(s_replay("leads", tok, &st), RP_OK);
    snap_t a;
    s_snap(&a);

    int rc = disable ? s_disable(user, &st) : s_logout(tok, &st);
    if (rc != RP_OK)
        fail_msg("%s: %s %s", disable ? "DisableUser" : "Logout", rp_code_name(rc), st.message);
    /* identity's own handlers refuse it... */
    rc = s_whoami(tok, &st);
    CHECK(rc == RP_UNAUTHENTICATED, "identity WhoAmI accepts the %s token: %s",
          disable ? "disabled user's" : "logged-out", rp_code_name(rc));
    /* ...and so must identity's System methods */
    rc = s_replay("identity", tok, &st);
    s_expect("identity System/Replay", rc, &st, r->want_identity, NULL);
    ar = NULL;
    rc = s_audit_call("identity", tok, 1, 1, &ar, &st);
    if (ar)
        protobuf_c_message_free_unpacked(&ar->base, NULL);
    s_expect("identity System/Audit", rc, &st, r->want_identity, NULL);
    /* audited: the logout or the disable */
    char *jti = s_claim(tok, "jti");
    CHECK(s_events(a.id_seq, r->want_event, disable ? uid : jti, disable ? NULL : "logout") == 1,
          "identity has no %s event for %s", r->want_event, disable ? user : jti);
    CHECK(s_audit_count("identity", a.id_audit, r->want_audit, NULL, NULL) == 1,
          "identity's audit chain has no %s record", r->want_audit);
    free(jti);
    /* leads refuses it within 2 s (System/Replay on leads) */
    int64_t t0 = rp_clock_mono_us();
    for (;;) {
        rc = s_replay("leads", tok, &st);
        if (rc == RP_UNAUTHENTICATED || s_elapsed_ms(t0) > r->want_within_ms)
            break;
        s_sleep_ms(20);
    }
    s_expect("leads System/Replay", rc, &st, r->want_leads, r->want_reason);
    free(uid);
    free(user);
    protobuf_c_message_free_unpacked(&tp->base, NULL);
}

/* A rotated refresh token presented again revokes its whole family: the newest
 * refresh token fails too, and the family's access tokens stop working everywhere. */
static void s_row_refresh_replay(const row_t *r)
{
    char *user = s_name("atk.rf");
    free(s_user(user, "manager", MGR_UNIT));
    TokenPair *p1 = s_login_ok(user), *p2 = NULL;
    rp_call_status_t st;
    int rc = s_refresh(p1->refresh_token, &p2, &st);
    if (rc != RP_OK)
        fail_msg("refresh: %s %s", rp_code_name(rc), st.message);
    assert_int_equal(s_leads_list(p2->access_token, user, &st), RP_OK);
    char *jti1 = s_claim(p1->access_token, "jti"), *jti2 = s_claim(p2->access_token, "jti");
    snap_t a;
    s_snap(&a);

    rc = s_refresh(p1->refresh_token, NULL, &st);
    s_expect("the used refresh token again", rc, &st, RP_UNAUTHENTICATED, NULL);
    rc = s_refresh(p2->refresh_token, NULL, &st);
    s_expect("the newest refresh token of the family", rc, &st, RP_UNAUTHENTICATED, NULL);
    int64_t took = s_wait_refused(p2->access_token, user, r->want_within_ms, &st);
    CHECK(took >= 0, "leads still accepts the family's access token %d ms after the replay",
          r->want_within_ms);
    if (took >= 0) {
        CHECK(s_has(st.message, r->want_reason), "leads refused for another reason: %s", st.message);
        print_message("  a refresh replay reached leads in %lld ms\n", (long long) took);
    }
    s_expect_token(r, "the family's access token", p2->access_token, user);
    /* audited: token.revoked for each live access token of the family, kept by the
     * failing Refresh with its audit record (actor: the token's user) */
    CHECK(s_wait_events(a.id_seq, r->want_event, jti2, "refresh_replay", 2000) == 1,
          "no %s {jti %s, reason refresh_replay}", r->want_event, jti2);
    CHECK(s_events(a.id_seq, r->want_event, jti1, "refresh_replay") == 1,
          "no %s {jti %s (the first access token), reason refresh_replay}", r->want_event, jti1);
    CHECK(s_audit_outcome("identity", a.id_audit, r->want_audit, NULL, user, "session is revoked") == 1,
          "identity's audit chain has no %s record of the replay by %s", r->want_audit, user);
    if (r->want_leads_audit)
        CHECK(s_wait_audit("leads", a.leads_audit, "consume/rapport.identity.v1.token.revoked", jti2, NULL,
                           2000) == 1,
              "leads' audit chain does not record the consumed revocation of %s", jti2);
    /* another login is a new family */
    TokenPair *p3 = s_login_ok(user);
    rc = s_refresh(p3->refresh_token, NULL, &st);
    CHECK(rc == RP_OK, "a new login's family no longer refreshes: %s %s", rp_code_name(rc), st.message);
    protobuf_c_message_free_unpacked(&p3->base, NULL);
    free(jti1);
    free(jti2);
    free(user);
    protobuf_c_message_free_unpacked(&p1->base, NULL);
    protobuf_c_message_free_unpacked(&p2->base, NULL);
}

/* One refresh token sent twice in flight (pipelined on one connection, so both
 * usually land in one batch of writes): at most one succeeds, and then the other is
 * a replay that revokes the family, the winner's new tokens included. */
static void s_row_refresh_race(const row_t *r)
{
    char *user = s_name("atk.race");
    free(s_user(user, "manager", MGR_UNIT));
    TokenPair *p1 = s_login_ok(user);
    snap_t a;
    s_snap(&a);
    rp_client_t *c = rp_suite_client(F.s, "identity", NULL);
    Rapport__Identity__V1__RefreshRequest rq = RAPPORT__IDENTITY__V1__REFRESH_REQUEST__INIT;
    rq.refresh_token = p1->refresh_token;
    assert_int_equal(rp_client_send(c, NULL, IM("Refresh"), &rq.base, NULL), 0);
    assert_int_equal(rp_client_send(c, NULL, IM("Refresh"), &rq.base, NULL), 0);
    int n_ok = 0, n_unauth = 0;
    TokenPair *won = NULL;
    for (int i = 0; i < 2; i++) {
        Rapport__V1__Reply *rep = NULL;
        assert_int_equal(rp_client_recv(c, TIMEOUT, &rep), 0);
        int code = rep->status ? (int) rep->status->code : RP_OK;
        if (code == RP_OK) {
            n_ok++;
            if (!won)
                won = rapport__identity__v1__token_pair__unpack(NULL, rep->body.len, rep->body.data);
        } else if (code == RP_UNAUTHENTICATED) {
            n_unauth++;
        }
        rapport__v1__reply__free_unpacked(rep, NULL);
    }
    rp_client_destroy(&c);
    print_message("  the same refresh token twice in flight: %d OK, %d UNAUTHENTICATED\n", n_ok, n_unauth);
    CHECK(n_ok + n_unauth == 2, "the two refreshes answered %d OK and %d UNAUTHENTICATED", n_ok, n_unauth);
    CHECK(n_ok <= 1, "one refresh token was exchanged twice: two live sessions");
    /* Either way the second is a replay: the family is revoked, its first access
     * token and the winner's new tokens (if one won) included. */
    rp_call_status_t st;
    int rc = s_refresh(p1->refresh_token, NULL, &st);
    s_expect("the raced refresh token once more", rc, &st, RP_UNAUTHENTICATED, NULL);
    char *jti1 = s_claim(p1->access_token, "jti");
    int64_t took = s_wait_refused(p1->access_token, user, r->want_within_ms, &st);
    CHECK(took >= 0, "leads still accepts the family's first access token %d ms after the replay",
          r->want_within_ms);
    CHECK(s_wait_events(a.id_seq, r->want_event, jti1, "refresh_replay", 2000) == 1,
          "no %s {jti %s, reason refresh_replay}", r->want_event, jti1);
    CHECK(s_audit_outcome("identity", a.id_audit, r->want_audit, NULL, user, "session is revoked") == 1,
          "identity's audit chain has no %s record of the replay by %s", r->want_audit, user);
    free(jti1);
    if (n_ok == 1 && won) {
        rc = s_refresh(won->refresh_token, NULL, &st);
        s_expect("the winner's new refresh token after the in-flight replay", rc, &st, RP_UNAUTHENTICATED,
                 NULL);
        char *jti = s_claim(won->access_token, "jti");
        took = s_wait_refused(won->access_token, user, r->want_within_ms, &st);
        CHECK(took >= 0, "leads still accepts the winner's access token %d ms after the replay",
              r->want_within_ms);
        CHECK(s_wait_events(a.id_seq, r->want_event, jti, "refresh_replay", 2000) == 1,
              "no %s {jti %s, reason refresh_replay}", r->want_event, jti);
        free(jti);
    }
    if (won)
        rapport__identity__v1__token_pair__free_unpacked(won, NULL);
    free(user);
    protobuf_c_message_free_unpacked(&p1->base, NULL);
}

/* s_lock_audited - user.locked for uid after seq, kept (and audited) by the failed
 * login that locked it: one Login record by the user, about the user, whose
 * outcome says it locked. */
static void s_lock_audited(const row_t *r, const snap_t *a, const char *user, const char *uid)
{
    size_t n = s_wait_events(a->id_seq, r->want_event, uid, NULL, 3000);
    CHECK(n == 1, "identity has %zu %s event(s) for %s, want 1%s", n, r->want_event, user,
          n ? "" : ": the lock was never stored nor audited");
    if (n == 1)
        CHECK(s_audit_outcome("identity", a->id_audit, r->want_audit, uid, user, "bad credentials; locked for")
              == 1,
              "identity's audit chain has no %s record for the lock of %s", r->want_audit, user);
}

/* A password-guessing loop: after 3 wrong passwords it slows down (the next
 * attempt, even the right password, must wait), after LOCK_FAILURES the account is
 * locked; even the right password fails for the lock time (15 minutes, on
 * identity's test clock) and works after it; the lock is an event and in the audit
 * chain. */
static void s_row_guess(const row_t *r)
{
    char *user = s_name("atk.guess");
    char *uid = s_user(user, "manager", MGR_UNIT);
    snap_t a;
    s_snap(&a);
    rp_call_status_t st;
    for (int i = 0; i < LOCK_FAILURES; i++) {
        int rc = s_login(user, WRONG_PW, NULL, NULL, &st);
        s_expect("a wrong password", rc, &st, RP_UNAUTHENTICATED, MSG_BAD_LOGIN);
        if (i == 2) {                       /* it slows down before it locks */
            rc = s_login(user, PW, NULL, NULL, &st);
            CHECK(rc == RP_RESOURCE_EXHAUSTED, "the right password right after 3 wrong ones: %s %s (want "
                  "RESOURCE_EXHAUSTED: slowed down)", rp_code_name(rc), st.message);
        }
        s_clock_advance(SLOW_STEP_MS);      /* past the slow-down before the lock */
    }
    TokenPair *tp = NULL;
    int rc = s_login(user, PW, NULL, &tp, &st);
    if (rc == RP_OK)
        s_err("the right password logged in after %d wrong ones: the account was not locked", LOCK_FAILURES);
    else
        s_expect("the right password while locked", rc, &st, r->want_identity, r->want_id_reason);
    if (tp)
        protobuf_c_message_free_unpacked(&tp->base, NULL);
    s_lock_audited(r, &a, user, uid);
    if (rc != RP_OK) {
        /* the lock time: still locked a minute before its end, open after it */
        s_clock_advance(14 * 60 * 1000);
        rc = s_login(user, PW, NULL, NULL, &st);
        s_expect("the right password 14 min into the lock", rc, &st, RP_UNAUTHENTICATED, MSG_LOCKED);
        s_clock_advance(61 * 1000);
        tp = NULL;
        rc = s_login(user, PW, NULL, &tp, &st);
        CHECK(rc == RP_OK, "the right password after the lock time: %s %s", rp_code_name(rc), st.message);
        if (tp)
            protobuf_c_message_free_unpacked(&tp->base, NULL);
    }
    free(uid);
    free(user);
}

/* The same loop with every guess sent under one request id (Login keeps no
 * idempotency record: a request id is the client's to choose). From the
 * attacker's side: 2 x LOCK_FAILURES guesses, the last one the right password; no
 * guess past the LOCK_FAILURES-th may succeed, whether the service counts the
 * repeats or refuses the reused id. */
static void s_row_guess_one_id(const row_t *r)
{
    char *user = s_name("atk.guess1id");
    char *uid = s_user(user, "manager", MGR_UNIT);
    snap_t a;
    s_snap(&a);
    char id[64];
    snprintf(id, sizeof id, "atk-guess-one-id-%u", F.seq);
    rp_call_status_t st;
    int guesses = 2 * LOCK_FAILURES, evaluated = 0, locked = 0;
    for (int i = 0; i < guesses - 1; i++) {
        int rc = s_login(user, WRONG_PW, id, NULL, &st);
        CHECK(rc != RP_OK, "a wrong password logged in");
        evaluated += rc == RP_UNAUTHENTICATED && rp_streq(st.message, MSG_BAD_LOGIN);
        locked += rc == RP_UNAUTHENTICATED && rp_streq(st.message, MSG_LOCKED);
        s_clock_advance(SLOW_STEP_MS);
    }
    TokenPair *tp = NULL;
    int rc = s_login(user, PW, id, &tp, &st);
    if (rc == RP_OK)
        s_err("guess %d, the right password under the same request id as %d wrong ones, logged in: "
              "%d of the wrong ones were checked and answered \"%s\" (the guard counts a request id "
              "once), the account never locked", guesses, guesses - 1, evaluated, MSG_BAD_LOGIN);
    if (tp)
        protobuf_c_message_free_unpacked(&tp->base, NULL);
    if (locked)             /* the repeats were counted: the lock is recorded as always */
        s_lock_audited(r, &a, user, uid);
    print_message("  %d guesses under one request id: %d checked, %d refused as locked, the right one: %s\n",
                  guesses, evaluated, locked, rp_code_name(rc));
    free(uid);
    free(user);
}

/* The guess that locks the account, and right behind it (pipelined on the same
 * connection, likely in the same batch and group commit as the failure that
 * keeps the lock) the right password sent with the same request id: still
 * locked, and the lock still recorded. */
static void s_row_guess_lock_id(const row_t *r)
{
    char *user = s_name("atk.lockid");
    char *uid = s_user(user, "manager", MGR_UNIT);
    snap_t a;
    s_snap(&a);
    rp_call_status_t st;
    for (int i = 0; i < LOCK_FAILURES - 1; i++) {
        int rc = s_login(user, WRONG_PW, NULL, NULL, &st);
        s_expect("wrong password", rc, &st, RP_UNAUTHENTICATED, MSG_BAD_LOGIN);
        s_clock_advance(SLOW_STEP_MS);
    }
    char id[64];
    snprintf(id, sizeof id, "atk-lock-id-%u", F.seq);
    rp_client_t *c = rp_suite_client(F.s, "identity", NULL);
    Rapport__Identity__V1__LoginRequest wrong = RAPPORT__IDENTITY__V1__LOGIN_REQUEST__INIT;
    wrong.username = user;
    wrong.password = (char *) WRONG_PW;
    Rapport__Identity__V1__LoginRequest right = wrong;
    right.password = (char *) PW;
    assert_int_equal(rp_client_send(c, id, IM("Login"), &wrong.base, NULL), 0);
    assert_int_equal(rp_client_send(c, id, IM("Login"), &right.base, NULL), 0);
    int n_ok = 0;
    for (int i = 0; i < 2; i++) {
        Rapport__V1__Reply *rep = NULL;
        assert_int_equal(rp_client_recv(c, TIMEOUT, &rep), 0);
        int code = rep->status ? (int) rep->status->code : RP_OK;
        if (code == RP_OK)
            n_ok++;
        else
            CHECK(code == RP_UNAUTHENTICATED, "a login answered %s (%s)", rp_code_name(code),
                  rep->status && rep->status->message ? rep->status->message : "");
        rapport__v1__reply__free_unpacked(rep, NULL);
    }
    rp_client_destroy(&c);
    CHECK(n_ok == 0, "the right password, sent with the request id of the guess that locked the "
          "account, logged in: the lock does not hold for that id");
    int rc = s_login(user, PW, NULL, NULL, &st);
    s_expect("the right password afterwards", rc, &st, r->want_identity, r->want_id_reason);
    s_lock_audited(r, &a, user, uid);
    free(uid);
    free(user);
}

/* A client without CURVE, or with a CURVE key in no allowlist, sending a known
 * user's real request: no reply at all, and nothing happens. */
static void s_row_transport(const row_t *r, bool plaintext)
{
    const char *svc = r->target;
    int want = strcmp(svc, "leads") == 0 ? r->want_leads : r->want_identity;
    assert_int_equal(want, WANT_NO_REPLY);
    TokenPair *tp = s_login_ok(MGR);      /* a known user with a real login */
    snap_t a;
    s_snap(&a);
    size_t len = 0;
    const char *method = NULL;
    uint8_t *frame = s_attack_frame(svc, tp->access_token, &len, &method);
    bool got = false;
    if (plaintext) {
        got = s_plain_gets_reply(rp_suite_rpc(F.s, svc), frame, len);
    } else {
        rp_client_t *c = s_stranger(svc, tp->access_token);
        assert_int_equal(rp_client_send_frame(c, frame, len), 0);
        Rapport__V1__Reply *rep = NULL;
        int rc = rp_client_recv(c, SILENCE_MS, &rep);
        got = rc != 1;
        if (rep)
            rapport__v1__reply__free_unpacked(rep, NULL);
        rp_client_destroy(&c);
    }
    CHECK(!got, "%s answered a %s client's %s", svc, plaintext ? "plaintext" : "unknown-key", method);
    s_unchanged(r->name, &a);
    /* Control: the very same frame from the allowlisted key is answered OK, so the
     * silence above is the transport's refusal, not a bad request. */
    rp_client_t *ok = rp_suite_client(F.s, svc, tp->access_token);
    assert_int_equal(rp_client_send_frame(ok, frame, len), 0);
    Rapport__V1__Reply *rep = NULL;
    int rc = rp_client_recv(ok, TIMEOUT, &rep);
    CHECK(rc == 0 && rep && (!rep->status || (int) rep->status->code == RP_OK),
          "control: the same %s over the allowlisted key was not answered OK (%d %s)", method, rc,
          rep && rep->status && rep->status->message ? rep->status->message : "");
    if (rep)
        rapport__v1__reply__free_unpacked(rep, NULL);
    rp_client_destroy(&ok);
    free(frame);
    protobuf_c_message_free_unpacked(&tp->base, NULL);
}

static void test_row(void **state)
{
    const row_t *r = *state;
    s_errs[0] = '\0';
    switch (r->kind) {
    case K_TOKEN: s_row_token(r); break;
    case K_ROTATION: s_row_rotation(r); break;
    case K_REVOKED: s_row_revoked(r); break;
    case K_DISABLED: s_row_disabled(r); break;
    case K_SYSTEM_REVOKED: s_row_system(r, false); break;
    case K_SYSTEM_DISABLED: s_row_system(r, true); break;
    case K_REFRESH_REPLAY: s_row_refresh_replay(r); break;
    case K_REFRESH_RACE: s_row_refresh_race(r); break;
    case K_GUESS: s_row_guess(r); break;
    case K_GUESS_ONE_ID: s_row_guess_one_id(r); break;
    case K_GUESS_LOCK_ID: s_row_guess_lock_id(r); break;
    case K_PLAINTEXT: s_row_transport(r, true); break;
    case K_STRANGER: s_row_transport(r, false); break;
    }
    s_serving(r->name);
    if (s_errs[0])
        fail_msg("%s:%s", r->name, s_errs);
}

/* ---- fixture ---- */

static int setup(void **state)
{
    (void) state;
    memset(&F, 0, sizeof F);
    F.s = rp_suite_new();
    snprintf(F.keys, sizeof F.keys, "%s/keys", rp_suite_dir(F.s));
    assert_int_equal(rp_issuer_secret_load(F.keys, &F.issuer_sk), 0);
    assert_int_equal(rp_issuer_public_load(F.keys, F.issuer_pk), 0);
    s_kid(F.issuer_pk, F.issuer_kid);
    char kid[17];
    rp_key_id(F.issuer_pk, kid);
    assert_string_equal(F.issuer_kid, kid);       /* our kid is the services' kid */
    char path[1100], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/issuer.pub", F.keys);
    assert_int_equal(rp_read_file(path, sizeof F.issuer_pub_text - 1, &text, &len), 0);
    memcpy(F.issuer_pub_text, text, len);
    F.issuer_pub_text[len] = '\0';
    free(text);

    rp_suite_start(F.s, "identity", ID_ENV);
    s_start_leads();
    free(s_user(MGR, "manager", MGR_UNIT));
    F.good = rp_suite_token(F.s, MGR, "manager", "hq", MGR_UNIT, NULL, 3600);
    return 0;
}

static int teardown(void **state)
{
    (void) state;
    rp_suite_destroy(&F.s);
    free(F.good);
    if (F.issuer_sk)
        sodium_free(F.issuer_sk);
    memset(&F, 0, sizeof F);
    return 0;
}

int main(void)
{
    struct CMUnitTest tests[N_ROWS];
    for (size_t i = 0; i < N_ROWS; i++) {
        tests[i] = (struct CMUnitTest) cmocka_unit_test_prestate(test_row, (void *) &ROWS[i]);
        tests[i].name = ROWS[i].name;
    }
    return _cmocka_run_group_tests("attacks", tests, N_ROWS, setup, teardown);
}
