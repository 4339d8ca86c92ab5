/* test_robustness.c - bad input against a real rapport-leads (DESIGN.md §6: "bad
 * input gets a clear status and changes nothing, never a crash").
 *
 * One table, one cmocka test per row. For each row the test sends the request (or
 * the raw frames) the row describes and checks that:
 *   - the expected status comes back (want_code), naming the field when want_field
 *     is set, with the request's id (or an empty id for a frame that does not
 *     decode); or, for want_code WANT_NO_REPLY, that no reply comes at all
 *     (transport refused: plaintext, unknown CURVE key, oversized frame);
 *   - nothing changed: the event log's last seq (System/Health) and the number of
 *     the manager's leads (ListByOwner) are what they were;
 *   - the service keeps serving: a good request right after succeeds, on a new
 *     connection and, when the row's connection was not refused, on the same one.
 * Idempotency (same id retried, same id with another body) has its own tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <jansson.h>
#include <sodium.h>
#include <czmq.h>

#include "harness.h"
#include "rapport/keys.h"
#include "rapport/status.h"
#include "rapport/ulid.h"
#include "rapport/util.h"
#include "rapport/leads/v1/leads.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"

#define M_CREATE "rapport.leads.v1.Leads/Create"
#define M_GET "rapport.leads.v1.Leads/Get"
#define M_LIST_OWNER "rapport.leads.v1.Leads/ListByOwner"
#define M_REPLAY "rapport.sys.v1.System/Replay"
#define MAX_MSG 65536

#define WANT_NO_REPLY (-1)

/* ---- the fixture: one rapport-leads for every row ---- */

static struct {
    rp_suite_t *suite;
    char *mgr;                  /* manager u-rob in /hq/sales/g1 */
    char *integ;                /* integration: events.replay, system.health */
    char lead_id[RP_ULID_STRLEN + 1];   /* a lead that exists */
    unsigned seq;               /* unique names */
} F;

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- request bodies ---- */

typedef enum {
    BD_CREATE_OK,           /* a valid Create (unique company) */
    BD_GET_OK,              /* Get of the fixture's lead */
    BD_EMPTY,               /* no body at all */
    BD_NO_COMPANY,
    BD_NO_NAME,
    BD_NO_SOURCE,
    BD_BAD_SOURCE,          /* enum value 99 */
    BD_BAD_SIZE,            /* company.size 42 */
    BD_BAD_CONTACT_ROLE,    /* contacts[0].role 7 */
    BD_HUGE_NAME,           /* 10 KB company name */
    BD_BAD_UTF8,
    BD_TOO_MANY_CONTACTS,   /* 21 > 20 */
    BD_CONTACT_NO_NAME,
    BD_BAD_EMAIL,
    BD_NEG_VALUE,           /* expected_value -5 */
    BD_BAD_CURRENCY,
    BD_BAD_DATE,            /* 2026-02-30 */
    BD_OTHER_TYPE,          /* a ListByCampaignRequest sent as CreateRequest */
    BD_WIRE_MISMATCH,       /* field 3 (enum) sent length-delimited */
    BD_GET_BAD_ULID,
    BD_GET_MISSING,         /* a well-formed id that names nothing */
    BD_LIST_BAD_PAGE,       /* ListByOwner with a garbage page token */
    BD_LIST_BIG_PAGE,       /* page_size over the cap is clamped, not an error */
    BD_REPLAY,              /* System/Replay from 1 */
} body_t;

typedef enum {
    TK_MANAGER, TK_NONE, TK_INTEGRATION, TK_EXPIRED, TK_NOT_YET_VALID, TK_FOREIGN_KEY,
    TK_FOREIGN_SIG, TK_TAMPERED, TK_ALG_NONE, TK_ALG_HS256, TK_GARBAGE, TK_UNKNOWN_ROLE,
} token_t;

typedef enum {
    FR_REQUEST,     /* one frame: the Request */
    FR_RANDOM,      /* random bytes that do not decode */
    FR_TRUNCATED,   /* the Request cut in half */
    FR_EMPTY,       /* a zero-length frame */
    FR_MULTI,       /* the Request followed by a second frame */
    FR_OVERSIZE,    /* a 100 KB Request over RAPPORT_MAX_MSG */
} frame_t;

typedef enum { TR_CURVE, TR_PLAIN, TR_STRANGER } transport_t;
typedef enum { ID_FRESH, ID_BAD } idkind_t;
typedef enum { DL_NONE, DL_PAST, DL_FUTURE } deadline_t;

typedef struct {
    const char *name;
    frame_t frame;
    transport_t transport;
    token_t token;
    const char *method;
    body_t body;
    idkind_t id;
    deadline_t deadline;
    int want_code;              /* rp_code_t, or WANT_NO_REPLY */
    const char *want_field;     /* a violation on this field (exact), or NULL */
    bool want_empty_id;         /* the reply cannot name the request */
} row_t;

static const row_t ROWS[] = {
    /* frames that are not one well-formed Request */
    { "garbage_random_bytes", FR_RANDOM, TR_CURVE, TK_MANAGER, M_CREATE, BD_CREATE_OK, ID_FRESH,
      DL_NONE, RP_INVALID_ARGUMENT, NULL, true },
    { "garbage_truncated_request", FR_TRUNCATED, TR_CURVE, TK_MANAGER, M_CREATE, BD_CREATE_OK,
      ID_FRESH, DL_NONE, RP_INVALID_ARGUMENT, NULL, true },
    { "garbage_empty_frame", FR_EMPTY, TR_CURVE, TK_MANAGER, M_CREATE, BD_CREATE_OK, ID_FRESH,
      DL_NONE, RP_INVALID_ARGUMENT, NULL, true },
    { "garbage_multi_frame", FR_MULTI, TR_CURVE, TK_MANAGER, M_CREATE, BD_CREATE_OK, ID_FRESH,
      DL_NONE, RP_INVALID_ARGUMENT, NULL, true },
    { "oversized_frame", FR_OVERSIZE, TR_CURVE, TK_MANAGER, M_CREATE, BD_CREATE_OK, ID_FRESH,
      DL_NONE, WANT_NO_REPLY, NULL, false },
    /* the envelope */
    { "bad_request_id", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_CREATE_OK, ID_BAD,
      DL_NONE, RP_INVALID_ARGUMENT, "id", true },
    { "unknown_method", FR_REQUEST, TR_CURVE, TK_MANAGER, "rapport.leads.v1.Leads/Nope",
      BD_CREATE_OK, ID_FRESH, DL_NONE, RP_UNIMPLEMENTED, NULL, false },
    { "unknown_service", FR_REQUEST, TR_CURVE, TK_MANAGER, "rapport.nothing.v1.Nothing/Create",
      BD_CREATE_OK, ID_FRESH, DL_NONE, RP_UNIMPLEMENTED, NULL, false },
    { "method_without_slash", FR_REQUEST, TR_CURVE, TK_MANAGER, "Create", BD_CREATE_OK,
      ID_FRESH, DL_NONE, RP_UNIMPLEMENTED, NULL, false },
    { "deadline_in_the_past", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_CREATE_OK,
      ID_FRESH, DL_PAST, RP_DEADLINE_EXCEEDED, NULL, false },
    /* authentication */
    { "no_token", FR_REQUEST, TR_CURVE, TK_NONE, M_CREATE, BD_CREATE_OK, ID_FRESH, DL_NONE,
      RP_UNAUTHENTICATED, NULL, false },
    { "garbage_token", FR_REQUEST, TR_CURVE, TK_GARBAGE, M_CREATE, BD_CREATE_OK, ID_FRESH,
      DL_NONE, RP_UNAUTHENTICATED, NULL, false },
    { "token_of_another_issuer", FR_REQUEST, TR_CURVE, TK_FOREIGN_KEY, M_CREATE, BD_CREATE_OK,
      ID_FRESH, DL_NONE, RP_UNAUTHENTICATED, NULL, false },
    { "token_forged_signature", FR_REQUEST, TR_CURVE, TK_FOREIGN_SIG, M_CREATE, BD_CREATE_OK,
      ID_FRESH, DL_NONE, RP_UNAUTHENTICATED, NULL, false },
    { "token_tampered_claims", FR_REQUEST, TR_CURVE, TK_TAMPERED, M_CREATE, BD_CREATE_OK,
      ID_FRESH, DL_NONE, RP_UNAUTHENTICATED, NULL, false },
    { "token_expired", FR_REQUEST, TR_CURVE, TK_EXPIRED, M_CREATE, BD_CREATE_OK, ID_FRESH,
      DL_NONE, RP_UNAUTHENTICATED, NULL, false },
    { "token_not_yet_valid", FR_REQUEST, TR_CURVE, TK_NOT_YET_VALID, M_CREATE, BD_CREATE_OK,
      ID_FRESH, DL_NONE, RP_UNAUTHENTICATED, NULL, false },
    { "token_alg_none", FR_REQUEST, TR_CURVE, TK_ALG_NONE, M_CREATE, BD_CREATE_OK, ID_FRESH,
      DL_NONE, RP_UNAUTHENTICATED, NULL, false },
    { "token_alg_hs256_with_public_key", FR_REQUEST, TR_CURVE, TK_ALG_HS256, M_CREATE,
      BD_CREATE_OK, ID_FRESH, DL_NONE, RP_UNAUTHENTICATED, NULL, false },
    /* authorisation */
    { "integration_may_not_create", FR_REQUEST, TR_CURVE, TK_INTEGRATION, M_CREATE,
      BD_CREATE_OK, ID_FRESH, DL_NONE, RP_PERMISSION_DENIED, NULL, false },
    { "unknown_role_may_not_create", FR_REQUEST, TR_CURVE, TK_UNKNOWN_ROLE, M_CREATE,
      BD_CREATE_OK, ID_FRESH, DL_NONE, RP_PERMISSION_DENIED, NULL, false },
    { "manager_may_not_replay", FR_REQUEST, TR_CURVE, TK_MANAGER, M_REPLAY, BD_REPLAY, ID_FRESH,
      DL_NONE, RP_PERMISSION_DENIED, NULL, false },
    /* transport */
    { "plaintext_client", FR_REQUEST, TR_PLAIN, TK_MANAGER, M_CREATE, BD_CREATE_OK, ID_FRESH,
      DL_NONE, WANT_NO_REPLY, NULL, false },
    { "unknown_curve_key", FR_REQUEST, TR_STRANGER, TK_MANAGER, M_CREATE, BD_CREATE_OK,
      ID_FRESH, DL_NONE, WANT_NO_REPLY, NULL, false },
    /* bodies that do not decode as the method's input */
    { "body_of_another_type", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_OTHER_TYPE,
      ID_FRESH, DL_NONE, RP_INVALID_ARGUMENT, NULL, false },
    { "body_wire_type_mismatch", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_WIRE_MISMATCH,
      ID_FRESH, DL_NONE, RP_INVALID_ARGUMENT, NULL, false },
    /* decoded bodies that break the rules */
    { "empty_body", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_EMPTY, ID_FRESH, DL_NONE,
      RP_INVALID_ARGUMENT, NULL, false },
    { "missing_company", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_NO_COMPANY, ID_FRESH,
      DL_NONE, RP_INVALID_ARGUMENT, "company.name", false },
    { "missing_company_name", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_NO_NAME, ID_FRESH,
      DL_NONE, RP_INVALID_ARGUMENT, "company.name", false },
    { "missing_source", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_NO_SOURCE, ID_FRESH,
      DL_NONE, RP_INVALID_ARGUMENT, "source", false },
    { "missing_contact_name", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_CONTACT_NO_NAME,
      ID_FRESH, DL_NONE, RP_INVALID_ARGUMENT, "contacts[0].name", false },
    { "enum_out_of_range_source", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_BAD_SOURCE,
      ID_FRESH, DL_NONE, RP_INVALID_ARGUMENT, "source", false },
    { "enum_out_of_range_nested", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_BAD_SIZE,
      ID_FRESH, DL_NONE, RP_INVALID_ARGUMENT, "company.size", false },
    { "enum_out_of_range_in_list", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE,
      BD_BAD_CONTACT_ROLE, ID_FRESH, DL_NONE, RP_INVALID_ARGUMENT, "contacts[0].role", false },
    { "huge_company_name", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_HUGE_NAME, ID_FRESH,
      DL_NONE, RP_INVALID_ARGUMENT, "company.name", false },
    { "invalid_utf8", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_BAD_UTF8, ID_FRESH,
      DL_NONE, RP_INVALID_ARGUMENT, "company.name", false },
    { "too_many_contacts", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_TOO_MANY_CONTACTS,
      ID_FRESH, DL_NONE, RP_INVALID_ARGUMENT, "contacts", false },
    { "bad_email", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_BAD_EMAIL, ID_FRESH, DL_NONE,
      RP_INVALID_ARGUMENT, "contacts[0].email", false },
    { "negative_money", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_NEG_VALUE, ID_FRESH,
      DL_NONE, RP_INVALID_ARGUMENT, "expected_value.units", false },
    { "unknown_currency", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_BAD_CURRENCY, ID_FRESH,
      DL_NONE, RP_INVALID_ARGUMENT, "expected_value.currency", false },
    { "impossible_date", FR_REQUEST, TR_CURVE, TK_MANAGER, M_CREATE, BD_BAD_DATE, ID_FRESH,
      DL_NONE, RP_INVALID_ARGUMENT, "expected_close", false },
    { "get_bad_ulid", FR_REQUEST, TR_CURVE, TK_MANAGER, M_GET, BD_GET_BAD_ULID, ID_FRESH,
      DL_NONE, RP_INVALID_ARGUMENT, "id", false },
    { "get_unknown_id", FR_REQUEST, TR_CURVE, TK_MANAGER, M_GET, BD_GET_MISSING, ID_FRESH,
      DL_NONE, RP_NOT_FOUND, NULL, false },
    { "list_bad_page_token", FR_REQUEST, TR_CURVE, TK_MANAGER, M_LIST_OWNER, BD_LIST_BAD_PAGE,
      ID_FRESH, DL_NONE, RP_INVALID_ARGUMENT, "page_token", false },
    /* controls: the machinery says OK when the input is good */
    { "control_get", FR_REQUEST, TR_CURVE, TK_MANAGER, M_GET, BD_GET_OK, ID_FRESH, DL_NONE,
      RP_OK, NULL, false },
    { "control_future_deadline", FR_REQUEST, TR_CURVE, TK_MANAGER, M_GET, BD_GET_OK, ID_FRESH,
      DL_FUTURE, RP_OK, NULL, false },
    { "control_list_page_size_clamped", FR_REQUEST, TR_CURVE, TK_MANAGER, M_LIST_OWNER,
      BD_LIST_BIG_PAGE, ID_FRESH, DL_NONE, RP_OK, NULL, false },
    { "control_integration_may_replay", FR_REQUEST, TR_CURVE, TK_INTEGRATION, M_REPLAY,
      BD_REPLAY, ID_FRESH, DL_NONE, RP_OK, NULL, false },
};
#define N_ROWS (sizeof ROWS / sizeof ROWS[0])

/* ---- building bodies ---- */

static uint8_t *s_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = rp_malloc(*len ? *len : 1);
    protobuf_c_message_pack(m, buf);
    return buf;
}

/* s_body - the packed body a row sends (malloc'd). */
static uint8_t *s_body(body_t b, size_t *len)
{
    char name[10300], tax[64];
    unsigned n = ++F.seq;
    snprintf(name, sizeof name, "Robust Co %u-%d", n, (int) getpid());
    snprintf(tax, sizeof tax, "RB%u%d", n, (int) getpid());
    Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
    co.name = name;
    co.tax_id = tax;
    co.size = RAPPORT__LEADS__V1__COMPANY_SIZE__COMPANY_SIZE_SMALL;
    Rapport__Leads__V1__Contact ct[21];
    Rapport__Leads__V1__Contact *cts[21];
    for (int i = 0; i < 21; i++) {
        rapport__leads__v1__contact__init(&ct[i]);
        ct[i].name = "Ann Buyer";
        ct[i].email = "ann@example.com";
        ct[i].role = RAPPORT__LEADS__V1__CONTACT_ROLE__CONTACT_ROLE_DECISION_MAKER;
        cts[i] = &ct[i];
    }
    Rapport__V1__Money money = RAPPORT__V1__MONEY__INIT;
    money.units = 100000;
    money.currency = "EUR";
    Rapport__V1__Date date = RAPPORT__V1__DATE__INIT;
    date.year = 2026;
    date.month = 2;
    date.day = 30;
    Rapport__Leads__V1__CreateRequest cr = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
    cr.company = &co;
    cr.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_WEB;
    cr.contacts = cts;
    cr.n_contacts = 1;
    Rapport__Leads__V1__GetRequest get = RAPPORT__LEADS__V1__GET_REQUEST__INIT;
    Rapport__Leads__V1__ListByOwnerRequest lo = RAPPORT__LEADS__V1__LIST_BY_OWNER_REQUEST__INIT;
    Rapport__Sys__V1__ReplayRequest rr = RAPPORT__SYS__V1__REPLAY_REQUEST__INIT;
    ProtobufCMessage *m = &cr.base;

    switch (b) {
    case BD_CREATE_OK:
        break;
    case BD_EMPTY:
        *len = 0;
        return rp_malloc(1);
    case BD_NO_COMPANY:
        cr.company = NULL;
        break;
    case BD_NO_NAME:
        co.name = "";
        break;
    case BD_NO_SOURCE:
        cr.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_UNSPECIFIED;
        break;
    case BD_BAD_SOURCE:
        cr.source = (Rapport__Leads__V1__LeadSource) 99;
        break;
    case BD_BAD_SIZE:
        co.size = (Rapport__Leads__V1__CompanySize) 42;
        break;
    case BD_BAD_CONTACT_ROLE:
        ct[0].role = (Rapport__Leads__V1__ContactRole) 7;
        break;
    case BD_HUGE_NAME:
        memset(name, 'N', 10240);
        name[10240] = '\0';
        break;
    case BD_BAD_UTF8:
        snprintf(name, sizeof name, "Bad \xff\xfe UTF-8 %u", n);
        break;
    case BD_TOO_MANY_CONTACTS:
        cr.n_contacts = 21;
        break;
    case BD_CONTACT_NO_NAME:
        ct[0].name = "";
        break;
    case BD_BAD_EMAIL:
        ct[0].email = "not an address";
        break;
    case BD_NEG_VALUE:
        money.units = -5;
        cr.expected_value = &money;
        break;
    case BD_BAD_CURRENCY:
        money.currency = "XQZ";
        cr.expected_value = &money;
        break;
    case BD_BAD_DATE:
        cr.expected_close = &date;
        break;
    case BD_OTHER_TYPE: {
        Rapport__Leads__V1__ListByCampaignRequest lc =
            RAPPORT__LEADS__V1__LIST_BY_CAMPAIGN_REQUEST__INIT;
        lc.campaign = "x";
        lc.page_size = 7;
        lc.page_token = "y";
        uint8_t *buf = s_pack(&lc.base, len);
        /* It must really be undecodable as a CreateRequest. */
        assert_null(protobuf_c_message_unpack(&rapport__leads__v1__create_request__descriptor,
                                              NULL, *len, buf));
        return buf;
    }
    case BD_WIRE_MISMATCH: {
        static const uint8_t bytes[] = { 0x0a, 0x03, 0x0a, 0x01, 'X', 0x1a, 0x01, 0x41 };
        *len = sizeof bytes;
        uint8_t *buf = rp_malloc(sizeof bytes);
        memcpy(buf, bytes, sizeof bytes);
        assert_null(protobuf_c_message_unpack(&rapport__leads__v1__create_request__descriptor,
                                              NULL, *len, buf));
        return buf;
    }
    case BD_GET_OK:
        get.id = F.lead_id;
        m = &get.base;
        break;
    case BD_GET_BAD_ULID:
        get.id = "not-a-ulid";
        m = &get.base;
        break;
    case BD_GET_MISSING:
        get.id = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
        m = &get.base;
        break;
    case BD_LIST_BAD_PAGE:
        lo.page_token = "!!definitely-not-a-page-token!!";
        m = &lo.base;
        break;
    case BD_LIST_BIG_PAGE:
        lo.page_size = 100000;
        m = &lo.base;
        break;
    case BD_REPLAY:
        rr.from_seq = 1;
        rr.limit = 10;
        m = &rr.base;
        break;
    }
    return s_pack(m, len);
}

/* ---- building tokens ---- */

static char *s_b64(const void *data, size_t len)
{
    return rp_b64url_encode((const uint8_t *) data, len);
}

/* s_split - the three parts of a JWT (malloc'd copies). */
static void s_split(const char *tok, char **h, char **p, char **s)
{
    const char *d1 = strchr(tok, '.');
    assert_non_null(d1);
    const char *d2 = strchr(d1 + 1, '.');
    assert_non_null(d2);
    *h = rp_strndup(tok, (size_t) (d1 - tok));
    *p = rp_strndup(d1 + 1, (size_t) (d2 - d1 - 1));
    *s = rp_strdup(d2 + 1);
}

static char *s_join(const char *h, const char *p, const char *s)
{
    return rp_sprintf("%s.%s.%s", h, p, s);
}

/* s_token - the token a row sends (malloc'd, NULL for none). */
static char *s_token(token_t t)
{
    const char *keys_dir = NULL;
    char keys[1024];
    snprintf(keys, sizeof keys, "%s/keys", rp_suite_dir(F.suite));
    keys_dir = keys;
    char *h = NULL, *p = NULL, *s = NULL, *out = NULL;
    switch (t) {
    case TK_MANAGER:
        return rp_strdup(F.mgr);
    case TK_NONE:
        return NULL;
    case TK_INTEGRATION:
        return rp_strdup(F.integ);
    case TK_UNKNOWN_ROLE:
        return rp_suite_token(F.suite, "u-rob", "janitor", "b1", "/hq/sales/g1", "own", 3600);
    case TK_EXPIRED:
        return rp_suite_token(F.suite, "u-rob", "manager", "b1", "/hq/sales/g1", NULL, -60);
    case TK_GARBAGE:
        return rp_strdup("not.a.token");
    case TK_NOT_YET_VALID: {
        unsigned char *sk = NULL;
        assert_int_equal(rp_issuer_secret_load(keys_dir, &sk), 0);
        rp_claims_t c;
        memset(&c, 0, sizeof c);
        rp_strlcpy(c.sub, "u-rob", sizeof c.sub);
        rp_strlcpy(c.branch, "b1", sizeof c.branch);
        rp_strlcpy(c.unit, "/hq/sales/g1", sizeof c.unit);
        rp_strlcpy(c.scope, "own", sizeof c.scope);
        rp_strlcpy(c.roles[0], "manager", sizeof c.roles[0]);
        c.n_roles = 1;
        c.iat = time(NULL);
        c.nbf = c.iat + 3600;
        c.exp = c.iat + 7200;
        out = rp_jwt_mint(&c, sk);
        sodium_free(sk);
        return out;
    }
    case TK_FOREIGN_KEY: {
        unsigned char pk[crypto_sign_PUBLICKEYBYTES];
        unsigned char *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
        crypto_sign_keypair(pk, sk);
        rp_claims_t c;
        memset(&c, 0, sizeof c);
        rp_strlcpy(c.sub, "u-rob", sizeof c.sub);
        rp_strlcpy(c.branch, "b1", sizeof c.branch);
        rp_strlcpy(c.unit, "/hq/sales/g1", sizeof c.unit);
        rp_strlcpy(c.scope, "own", sizeof c.scope);
        rp_strlcpy(c.roles[0], "manager", sizeof c.roles[0]);
        c.n_roles = 1;
        c.iat = c.nbf = time(NULL);
        c.exp = c.iat + 3600;
        out = rp_jwt_mint(&c, sk);
        sodium_free(sk);
        return out;
    }
    case TK_FOREIGN_SIG: {
        /* The issuer's header (its kid) and a real payload, signed by another key. */
        s_split(F.mgr, &h, &p, &s);
        unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
        crypto_sign_keypair(pk, sk);
        char *input = rp_sprintf("%s.%s", h, p);
        unsigned char sig[crypto_sign_BYTES];
        crypto_sign_detached(sig, NULL, (const unsigned char *) input, strlen(input), sk);
        sodium_memzero(sk, sizeof sk);
        char *sig64 = s_b64(sig, sizeof sig);
        out = s_join(h, p, sig64);
        free(sig64);
        free(input);
        break;
    }
    case TK_TAMPERED: {
        /* Promote the manager to admin, keeping the issuer's signature. */
        s_split(F.mgr, &h, &p, &s);
        uint8_t raw[2048];
        long n = rp_b64url_decode(p, strlen(p), raw, sizeof raw - 1);
        assert_true(n > 0);
        raw[n] = '\0';
        json_error_t err;
        json_t *claims = json_loads((const char *) raw, 0, &err);
        assert_non_null(claims);
        json_object_set_new(claims, "roles", json_pack("[s]", "admin"));
        json_object_set_new(claims, "scope", json_string("company"));
        char *js = json_dumps(claims, JSON_COMPACT);
        json_decref(claims);
        char *p2 = s_b64(js, strlen(js));
        free(js);
        out = s_join(h, p2, s);
        free(p2);
        break;
    }
    case TK_ALG_NONE: {
        s_split(F.mgr, &h, &p, &s);
        const char *hdr = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
        char *h2 = s_b64(hdr, strlen(hdr));
        out = s_join(h2, p, "");
        free(h2);
        break;
    }
    case TK_ALG_HS256: {
        /* The classic confusion: HMAC keyed with the issuer's public key. */
        s_split(F.mgr, &h, &p, &s);
        unsigned char pk[crypto_sign_PUBLICKEYBYTES];
        assert_int_equal(rp_issuer_public_load(keys_dir, pk), 0);
        char kid[17];
        rp_key_id(pk, kid);
        char *hdr = rp_sprintf("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
        char *h2 = s_b64(hdr, strlen(hdr));
        free(hdr);
        char *input = rp_sprintf("%s.%s", h2, p);
        unsigned char mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, pk, sizeof pk);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *) input, strlen(input));
        crypto_auth_hmacsha256_final(&st, mac);
        char *mac64 = s_b64(mac, sizeof mac);
        out = s_join(h2, p, mac64);
        free(mac64);
        free(input);
        free(h2);
        break;
    }
    }
    free(h);
    free(p);
    free(s);
    return out;
}

/* ---- calls used by every row ---- */

static int s_call(rp_client_t *c, const char *method, const ProtobufCMessage *in,
                  const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out,
                  rp_call_status_t *st)
{
    memset(st, 0, sizeof *st);
    return rp_client_call(c, NULL, method, in, out_desc, out, st, 10000);
}

/* s_count_leads - how many leads the manager sees (ListByOwner, every page). */
static size_t s_count_leads(void)
{
    rp_client_t *c = rp_suite_client(F.suite, "leads", F.mgr);
    size_t n = 0;
    char *token = NULL;
    for (;;) {
        Rapport__Leads__V1__ListByOwnerRequest rq = RAPPORT__LEADS__V1__LIST_BY_OWNER_REQUEST__INIT;
        rq.page_size = 500;
        rq.page_token = token ? token : "";
        ProtobufCMessage *out = NULL;
        rp_call_status_t st;
        int rc = s_call(c, M_LIST_OWNER, &rq.base, &rapport__leads__v1__list_leads_reply__descriptor,
                        &out, &st);
        if (rc != RP_OK)
            fail_msg("ListByOwner: %s %s", rp_code_name(rc), st.message);
        Rapport__Leads__V1__ListLeadsReply *r = (Rapport__Leads__V1__ListLeadsReply *) out;
        n += r->n_leads;
        free(token);
        token = r->next_page_token && *r->next_page_token ? rp_strdup(r->next_page_token) : NULL;
        protobuf_c_message_free_unpacked(out, NULL);
        if (!token)
            break;
    }
    rp_client_destroy(&c);
    return n;
}

/* s_good_request - a Get of the fixture's lead succeeds on client c. */
static void s_good_request(rp_client_t *c, const char *what)
{
    Rapport__Leads__V1__GetRequest rq = RAPPORT__LEADS__V1__GET_REQUEST__INIT;
    rq.id = F.lead_id;
    ProtobufCMessage *out = NULL;
    rp_call_status_t st;
    int rc = s_call(c, M_GET, &rq.base, &rapport__leads__v1__lead__descriptor, &out, &st);
    if (rc != RP_OK)
        fail_msg("good request on %s failed: %s %s", what, rp_code_name(rc), st.message);
    assert_string_equal(((Rapport__Leads__V1__Lead *) out)->id, F.lead_id);
    protobuf_c_message_free_unpacked(out, NULL);
}

/* s_create - create a lead as the manager; its id into id_out. */
static void s_create(rp_client_t *c, const char *name, const char *tax, char *id_out)
{
    Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
    co.name = (char *) name;
    co.tax_id = (char *) tax;
    Rapport__Leads__V1__CreateRequest cr = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
    cr.company = &co;
    cr.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_PARTNER;
    ProtobufCMessage *out = NULL;
    rp_call_status_t st;
    int rc = s_call(c, M_CREATE, &cr.base, &rapport__leads__v1__lead__descriptor, &out, &st);
    if (rc != RP_OK)
        fail_msg("Create %s: %s %s", name, rp_code_name(rc), st.message);
    rp_strlcpy(id_out, ((Rapport__Leads__V1__Lead *) out)->id, RP_ULID_STRLEN + 1);
    protobuf_c_message_free_unpacked(out, NULL);
}

/* ---- transports ---- */

/* s_plain_send_recv - a DEALER without CURVE: send frame, wait for anything. */
static bool s_plain_gets_reply(const uint8_t *frame, size_t len, int timeout_ms)
{
    void *ctx = zmq_ctx_new();
    assert_non_null(ctx);
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    assert_non_null(sock);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(sock, rp_suite_rpc(F.suite, "leads")), 0);
    zmq_send(sock, frame, len, ZMQ_DONTWAIT);
    zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
    int rc = zmq_poll(&item, 1, timeout_ms);
    bool got = rc > 0 && (item.revents & ZMQ_POLLIN);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return got;
}

/* s_stranger - a client with a fresh CURVE cert that is not in the allowlist. */
static rp_client_t *s_stranger(const char *token)
{
    char keys[1024];
    snprintf(keys, sizeof keys, "%s/keys", rp_suite_dir(F.suite));
    assert_int_equal(rp_keys_ensure_curve(keys, "stranger", false), 0);
    rp_curve_t *me = rp_curve_load(keys, "stranger");
    assert_non_null(me);
    rp_client_t *c = rp_client_new(rp_suite_rpc(F.suite, "leads"),
                                   rp_suite_server_key(F.suite, "leads"), me, token);
    rp_curve_destroy(&me);
    assert_non_null(c);
    return c;
}

/* ---- the row runner ---- */

static void test_row(void **state)
{
    const row_t *row = *state;
    uint64_t seq0 = rp_suite_last_seq(F.suite, "leads");
    size_t count0 = s_count_leads();

    /* The envelope. */
    char id[64];
    if (row->id == ID_BAD)
        rp_strlcpy(id, "bad id: spaces & punctuation!", sizeof id);
    else
        rp_ulid_new_str(s_now_ms(), id);
    char *token = s_token(row->token);
    size_t body_len = 0;
    uint8_t *body = NULL;
    if (row->frame == FR_OVERSIZE) {
        /* A Create whose needs field makes the frame 100 KB. */
        Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
        co.name = "Oversized Co";
        Rapport__Leads__V1__CreateRequest cr = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
        cr.company = &co;
        cr.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_WEB;
        size_t big = 100 * 1024;
        char *needs = rp_malloc(big);
        memset(needs, 'n', big - 1);
        needs[big - 1] = '\0';
        cr.needs = needs;
        body = s_pack(&cr.base, &body_len);
        free(needs);
    } else {
        body = s_body(row->body, &body_len);
    }
    Rapport__V1__Request rq = RAPPORT__V1__REQUEST__INIT;
    rq.id = id;
    rq.method = (char *) row->method;
    rq.body.data = body;
    rq.body.len = body_len;
    rq.token = token ? token : "";
    rq.trace_id = (char *) row->name;
    if (row->deadline == DL_PAST)
        rq.deadline = s_now_ms() - 60000;
    else if (row->deadline == DL_FUTURE)
        rq.deadline = s_now_ms() + 60000;
    size_t frame_len = 0;
    uint8_t *frame = s_pack(&rq.base, &frame_len);
    if (row->frame == FR_OVERSIZE)
        assert_true(frame_len > MAX_MSG);

    rp_client_t *c = NULL;
    Rapport__V1__Reply *reply = NULL;
    int wait_ms = row->want_code == WANT_NO_REPLY ? 1500 : 10000;
    bool got_reply = false;

    if (row->transport == TR_PLAIN) {
        got_reply = s_plain_gets_reply(frame, frame_len, wait_ms);
    } else {
        c = row->transport == TR_STRANGER ? s_stranger(token)
                                          : rp_suite_client(F.suite, "leads", token);
        void *sock = zsock_resolve(rp_client_socket(c));
        switch (row->frame) {
        case FR_REQUEST:
        case FR_OVERSIZE:
            assert_int_equal(rp_client_send_frame(c, frame, frame_len), 0);
            break;
        case FR_RANDOM: {
            uint8_t junk[200];
            /* Deterministic junk that is not a Request: 0xff... is an invalid tag. */
            randombytes_buf_deterministic(junk, sizeof junk,
                                          (const unsigned char *) "rapport-robustness-seed-32bytes!");
            junk[0] = 0xff;
            junk[1] = 0xff;
            assert_null(rapport__v1__request__unpack(NULL, sizeof junk, junk));
            assert_int_equal(rp_client_send_frame(c, junk, sizeof junk), 0);
            break;
        }
        case FR_TRUNCATED:
            assert_null(rapport__v1__request__unpack(NULL, frame_len / 2, frame));
            assert_int_equal(rp_client_send_frame(c, frame, frame_len / 2), 0);
            break;
        case FR_EMPTY:
            assert_int_equal(rp_client_send_frame(c, "", 0), 0);
            break;
        case FR_MULTI:
            /* A good Create in frame 1 and a stray frame 2: the message as a whole is
             * not one Request, so the Create must not run. */
            assert_true(zmq_send(sock, frame, frame_len, ZMQ_SNDMORE) >= 0);
            assert_true(zmq_send(sock, "stray", 5, 0) >= 0);
            break;
        }
        int rc = rp_client_recv(c, wait_ms, &reply);
        assert_int_not_equal(rc, -1);
        got_reply = rc == 0;
    }

    if (row->want_code == WANT_NO_REPLY) {
        if (got_reply)
            fail_msg("%s: a reply came (code %d) where none should", row->name,
                     reply && reply->status ? (int) reply->status->code : 0);
    } else {
        if (!got_reply)
            fail_msg("%s: no reply within %d ms", row->name, wait_ms);
        rp_call_status_t st;
        memset(&st, 0, sizeof st);
        rp_status_from_reply(reply, &st);
        if (st.code != row->want_code)
            fail_msg("%s: want %s, got %s (%s)", row->name, rp_code_name(row->want_code),
                     rp_code_name(st.code), st.message);
        if (row->want_code != RP_OK)
            assert_true(strlen(st.message) > 0);
        if (row->want_empty_id)
            assert_string_equal(reply->id ? reply->id : "", "");
        else
            assert_string_equal(reply->id, id);
        if (row->want_field) {
            if (!rp_it_violation(&st, row->want_field))
                fail_msg("%s: want a violation on %s; got %zu violation(s)%s%s (%s)", row->name,
                         row->want_field, st.n_violations, st.n_violations ? ", first on " : "",
                         st.n_violations ? st.violations[0].field : "", st.message);
        }
    }

    /* Nothing changed. */
    assert_int_equal(rp_suite_last_seq(F.suite, "leads"), seq0);
    assert_int_equal(s_count_leads(), count0);
    /* The service keeps serving: the same connection when it was not refused, and a
     * new one in every case. */
    if (c && row->want_code != WANT_NO_REPLY && row->frame == FR_REQUEST) {
        rp_client_set_token(c, F.mgr);
        s_good_request(c, "the same connection");
    }
    rp_client_t *fresh = rp_suite_client(F.suite, "leads", F.mgr);
    s_good_request(fresh, "a new connection");
    rp_client_destroy(&fresh);
    assert_true(kill(rp_suite_pid(F.suite, "leads"), 0) == 0);

    if (reply)
        rapport__v1__reply__free_unpacked(reply, NULL);
    rp_client_destroy(&c);
    free(frame);
    free(body);
    free(token);
}

/* ---- idempotency ---- */

/* test_idem_retry - the same request id retried gets the same reply and creates
 * nothing new, on the same connection and on another. */
static void test_idem_retry(void **state)
{
    (void) state;
    rp_client_t *c = rp_suite_client(F.suite, "leads", F.mgr);
    uint64_t seq0 = rp_suite_last_seq(F.suite, "leads");
    size_t count0 = s_count_leads();
    size_t len = 0;
    uint8_t *body = s_body(BD_CREATE_OK, &len);
    char id[RP_ULID_STRLEN + 1];
    rp_ulid_new_str(s_now_ms(), id);

    Rapport__V1__Reply *first = NULL;
    assert_int_equal(rp_client_call_raw(c, id, M_CREATE, body, len, &first, 10000), RP_OK);
    assert_non_null(first);
    assert_non_null(first->status);
    assert_int_equal(first->status->code, RP_OK);
    assert_string_equal(first->id, id);
    uint64_t seq1 = rp_suite_last_seq(F.suite, "leads");
    assert_true(seq1 > seq0);
    assert_int_equal(s_count_leads(), count0 + 1);

    struct {
        const char *name;
        bool new_connection;
    } retries[] = { { "same connection", false }, { "new connection", true },
                    { "same connection again", false } };
    for (size_t i = 0; i < sizeof retries / sizeof retries[0]; i++) {
        rp_client_t *rc = retries[i].new_connection ? rp_suite_client(F.suite, "leads", F.mgr) : c;
        Rapport__V1__Reply *again = NULL;
        assert_int_equal(rp_client_call_raw(rc, id, M_CREATE, body, len, &again, 10000), RP_OK);
        assert_non_null(again->status);
        assert_int_equal(again->status->code, RP_OK);
        assert_string_equal(again->id, id);
        /* The very same reply: the same lead, byte for byte. */
        assert_int_equal(again->body.len, first->body.len);
        assert_memory_equal(again->body.data, first->body.data, first->body.len);
        rapport__v1__reply__free_unpacked(again, NULL);
        if (rc != c)
            rp_client_destroy(&rc);
        assert_int_equal(rp_suite_last_seq(F.suite, "leads"), seq1);
        assert_int_equal(s_count_leads(), count0 + 1);
    }
    rapport__v1__reply__free_unpacked(first, NULL);
    free(body);
    rp_client_destroy(&c);
}

/* test_idem_mismatch - the same id with another body (or method) is
 * FAILED_PRECONDITION and changes nothing. */
static void test_idem_mismatch(void **state)
{
    (void) state;
    rp_client_t *c = rp_suite_client(F.suite, "leads", F.mgr);
    size_t len1 = 0, len2 = 0;
    uint8_t *body1 = s_body(BD_CREATE_OK, &len1);
    uint8_t *body2 = s_body(BD_CREATE_OK, &len2);   /* another company */
    char id[RP_ULID_STRLEN + 1];
    rp_ulid_new_str(s_now_ms(), id);

    Rapport__V1__Reply *r = NULL;
    assert_int_equal(rp_client_call_raw(c, id, M_CREATE, body1, len1, &r, 10000), RP_OK);
    assert_int_equal(r->status ? r->status->code : 0, RP_OK);
    rapport__v1__reply__free_unpacked(r, NULL);
    uint64_t seq0 = rp_suite_last_seq(F.suite, "leads");
    size_t count0 = s_count_leads();

    struct {
        const char *name;
        const char *method;
        const uint8_t *body;
        size_t len;
        int want_code;
    } rows[] = {
        { "another body", M_CREATE, body2, len2, RP_FAILED_PRECONDITION },
        { "the first body again", M_CREATE, body1, len1, RP_OK },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        r = NULL;
        rp_client_call_raw(c, id, rows[i].method, rows[i].body, rows[i].len, &r, 10000);
        assert_non_null(r);
        int code = r->status ? (int) r->status->code : 0;
        if (code != rows[i].want_code)
            fail_msg("idem %s: want %s, got %s (%s)", rows[i].name,
                     rp_code_name(rows[i].want_code), rp_code_name(code),
                     r->status && r->status->message ? r->status->message : "");
        assert_string_equal(r->id, id);
        rapport__v1__reply__free_unpacked(r, NULL);
        assert_int_equal(rp_suite_last_seq(F.suite, "leads"), seq0);
        assert_int_equal(s_count_leads(), count0);
    }

    free(body1);
    free(body2);
    rp_client_destroy(&c);
}

/* test_oversized_then_new_client - after a frame over RAPPORT_MAX_MSG drops one
 * connection, several new clients are served, and the old one recovers. */
static void test_oversized_then_new_clients(void **state)
{
    (void) state;
    rp_client_t *c = rp_suite_client(F.suite, "leads", F.mgr);
    s_good_request(c, "the connection before");
    size_t big = 100 * 1024;
    uint8_t *junk = rp_calloc(1, big);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(rp_client_send_frame(c, junk, big), 0);
        Rapport__V1__Reply *r = NULL;
        assert_int_equal(rp_client_recv(c, 1000, &r), 1);
        for (int i = 0; i < 3; i++) {
            rp_client_t *fresh = rp_suite_client(F.suite, "leads", F.mgr);
            s_good_request(fresh, "a new connection");
            rp_client_destroy(&fresh);
        }
    }
    free(junk);
    rp_client_destroy(&c);
}

/* ---- fixture ---- */

/* test_idem_other_user - a request id is the caller's own: another user (here in
 * another branch) sending the same id and body never gets the first user's reply;
 * the request is simply theirs, and a 40-character id is matched by the client. */
static void test_idem_other_user(void **state)
{
    (void) state;
    char *other = rp_suite_token(F.suite, "u-olga", "manager", "b2", "/b2/sales", NULL, 3600);
    rp_client_t *a = rp_suite_client(F.suite, "leads", F.mgr);
    rp_client_t *b = rp_suite_client(F.suite, "leads", other);
    size_t len = 0;
    uint8_t *body = s_body(BD_CREATE_OK, &len);
    const char *id = "shared-import-row-0123456789abcdef012345";   /* 40 characters */

    Rapport__V1__Reply *ra = NULL, *rb = NULL;
    assert_int_equal(rp_client_call_raw(a, id, M_CREATE, body, len, &ra, 10000), RP_OK);
    assert_int_equal(rp_client_call_raw(b, id, M_CREATE, body, len, &rb, 10000), RP_OK);
    Rapport__Leads__V1__Lead *la = rapport__leads__v1__lead__unpack(NULL, ra->body.len, ra->body.data);
    Rapport__Leads__V1__Lead *lb = rapport__leads__v1__lead__unpack(NULL, rb->body.len, rb->body.data);
    assert_non_null(la);
    assert_non_null(lb);
    assert_string_not_equal(la->id, lb->id);           /* two leads, one each */
    assert_string_equal(la->owner, "u-rob");
    assert_string_equal(lb->owner, "u-olga");
    assert_string_equal(lb->branch, "b2");
    rapport__leads__v1__lead__free_unpacked(la, NULL);
    rapport__leads__v1__lead__free_unpacked(lb, NULL);
    rapport__v1__reply__free_unpacked(ra, NULL);
    rapport__v1__reply__free_unpacked(rb, NULL);
    free(body);
    rp_client_destroy(&a);
    rp_client_destroy(&b);
    free(other);
}

/* test_unknown_field - a Create whose company carries a field the service does not
 * know (600 KB of it) is INVALID_ARGUMENT and stores nothing. */
static void test_unknown_field(void **state)
{
    (void) state;
    rp_client_t *c = rp_suite_client(F.suite, "leads", F.mgr);
    uint64_t seq0 = rp_suite_last_seq(F.suite, "leads");
    size_t count0 = s_count_leads();
    Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
    co.name = (char *) "Unknown Fields GmbH";
    uint8_t cbuf[256];
    size_t clen = rapport__leads__v1__company__pack(&co, cbuf);
    /* company bytes + field 999 (length-delimited, 40 KB: under RAPPORT_MAX_MSG here) */
    size_t extra = 40000, n = 0;
    uint8_t *body = malloc(clen + extra + 64);
    body[n++] = 0x0a;                                   /* field 1 (company), bytes */
    size_t sub = clen + 3 + 3 + extra;                  /* tag(2) + len varint(3) + data */
    body[n++] = (uint8_t) (0x80 | (sub & 0x7f));
    body[n++] = (uint8_t) (0x80 | ((sub >> 7) & 0x7f));
    body[n++] = (uint8_t) (sub >> 14);
    memcpy(body + n, cbuf, clen);
    n += clen;
    body[n++] = 0xba;                                   /* field 999, wire type 2 */
    body[n++] = 0x3e;
    body[n++] = (uint8_t) (0x80 | (extra & 0x7f));
    body[n++] = (uint8_t) (0x80 | ((extra >> 7) & 0x7f));
    body[n++] = (uint8_t) (extra >> 14);
    memset(body + n, 'u', extra);
    n += extra;
    body[n++] = 0x18;                                   /* source = web (3) */
    body[n++] = 0x04;
    Rapport__V1__Reply *r = NULL;
    int code = rp_client_call_raw(c, NULL, M_CREATE, body, n, &r, 10000);
    assert_non_null(r);
    if (code != RP_INVALID_ARGUMENT)
        fail_msg("unknown field: %s %s", rp_code_name(code), r->status ? r->status->message : "");
    rapport__v1__reply__free_unpacked(r, NULL);
    assert_int_equal(rp_suite_last_seq(F.suite, "leads"), seq0);
    assert_int_equal(s_count_leads(), count0);
    free(body);
    rp_client_destroy(&c);
}

/* test_issuer_rotation - during a key rotation a service trusts the previous issuer
 * key too (issuer-previous.pub); once that file is gone, its tokens are refused. */
static void test_issuer_rotation(void **state)
{
    (void) state;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    char hex[2 * crypto_sign_PUBLICKEYBYTES + 2];
    rp_hex_encode(pk, sizeof pk, hex);
    strcat(hex, "\n");
    char path[1024];
    snprintf(path, sizeof path, "%s/keys/issuer-previous.pub", rp_suite_dir(F.suite));

    rp_claims_t c;
    memset(&c, 0, sizeof c);
    rp_strlcpy(c.sub, "u-old-key", sizeof c.sub);
    rp_strlcpy(c.roles[0], "manager", sizeof c.roles[0]);
    c.n_roles = 1;
    rp_strlcpy(c.branch, "b1", sizeof c.branch);
    rp_strlcpy(c.unit, "/hq/sales/g1", sizeof c.unit);
    rp_strlcpy(c.scope, "own", sizeof c.scope);
    c.iat = c.nbf = s_now_ms() / 1000 - 5;
    c.exp = c.iat + 3600;
    char *old_token = rp_jwt_mint(&c, sk);
    assert_non_null(old_token);

    static const struct { const char *name; bool file; int want; } rows[] = {
        { "previous key kept", true, RP_OK },
        { "previous key retired", false, RP_UNAUTHENTICATED },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (rows[i].file)
            assert_int_equal(rp_write_file_private(path, hex, strlen(hex)), 0);
        else
            unlink(path);
        assert_int_equal(rp_suite_kill(F.suite, "leads", SIGTERM), 0);
        static const char *const env[] = { "RAPPORT_MAX_MSG=65536", NULL };
        rp_suite_start(F.suite, "leads", env);
        rp_client_t *cl = rp_suite_client(F.suite, "leads", old_token);
        Rapport__Sys__V1__HealthRequest rq = RAPPORT__SYS__V1__HEALTH_REQUEST__INIT;
        rp_call_status_t st;
        int code = rp_client_call(cl, NULL, "rapport.sys.v1.System/Health", &rq.base, NULL, NULL, &st, 10000);
        if (code != rows[i].want)
            fail_msg("%s: %s (%s), want %s", rows[i].name, rp_code_name(code), st.message,
                     rp_code_name(rows[i].want));
        rp_client_destroy(&cl);
        rp_client_t *good = rp_suite_client(F.suite, "leads", F.mgr);  /* current key: fine */
        s_good_request(good, rows[i].name);
        rp_client_destroy(&good);
    }
    sodium_memzero(sk, sizeof sk);
    free(old_token);
}

static int setup(void **state)
{
    (void) state;
    F.suite = rp_suite_new();
    static const char *const env[] = { "RAPPORT_MAX_MSG=65536", NULL };
    rp_suite_start(F.suite, "leads", env);
    F.mgr = rp_suite_token(F.suite, "u-rob", "manager", "b1", "/hq/sales/g1", NULL, 3600);
    F.integ = rp_suite_token(F.suite, "sys-erp", "integration", "b1", "/", NULL, 3600);
    rp_client_t *c = rp_suite_client(F.suite, "leads", F.mgr);
    char name[64], tax[64], id[RP_ULID_STRLEN + 1];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "Baseline Co %d", i);
        snprintf(tax, sizeof tax, "BASE%d", i);
        s_create(c, name, tax, id);
        if (i == 0)
            rp_strlcpy(F.lead_id, id, sizeof F.lead_id);
    }
    rp_client_destroy(&c);
    return 0;
}

static int teardown(void **state)
{
    (void) state;
    rp_suite_destroy(&F.suite);
    free(F.mgr);
    free(F.integ);
    return 0;
}

int main(void)
{
    struct CMUnitTest tests[N_ROWS + 6];
    size_t n = 0;
    for (size_t i = 0; i < N_ROWS; i++) {
        tests[n] = (struct CMUnitTest) cmocka_unit_test_prestate(test_row, (void *) &ROWS[i]);
        tests[n].name = ROWS[i].name;
        n++;
    }
    tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_idem_retry);
    tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_idem_mismatch);
    tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_idem_other_user);
    tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_unknown_field);
    tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_issuer_rotation);
    tests[n++] = (struct CMUnitTest) cmocka_unit_test(test_oversized_then_new_clients);
    return _cmocka_run_group_tests("robustness", tests, n, setup, teardown);
}
