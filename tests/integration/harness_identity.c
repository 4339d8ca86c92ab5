/* harness_identity.c - calls on a running rapport-identity for integration tests
 * (see harness_identity.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <lmdb.h>
#include "harness_identity.h"
#include "rapport/clock.h"
#include "rapport/status.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"
#include "rapport/leads/v1/leads.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"

#define S_TIMEOUT 10000

int rp_it_call(rp_suite_t *s, const char *svc, const char *token, const char *method,
               const ProtobufCMessage *in, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
               rp_call_status_t *st)
{
    rp_client_t *c = rp_suite_client(s, svc, token);
    rp_call_status_t local;
    rp_call_status_t *sp = st ? st : &local;
    memset(sp, 0, sizeof *sp);
    ProtobufCMessage *o = NULL;
    int code = rp_client_call(c, NULL, method, in, desc, &o, sp, S_TIMEOUT);
    if (code != RP_OK)
        print_message("  %s -> %s %s\n", method, rp_code_name(code), sp->message);
    if (out)
        *out = o;
    else if (o)
        protobuf_c_message_free_unpacked(o, NULL);
    rp_client_destroy(&c);
    return code;
}

int rp_it_user(rp_suite_t *s, const char *token, const char *username, const char *role, const char *unit,
               int64_t limit_value, int32_t limit_bp)
{
    Rapport__Identity__V1__CreateUserRequest cu = RAPPORT__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    char *roles[] = { (char *) role };
    cu.username = (char *) username;
    cu.display_name = (char *) username;
    cu.roles = roles;
    cu.n_roles = 1;
    cu.branch = (char *) "hq";
    cu.unit = (char *) unit;
    cu.manager = (char *) "";
    cu.password = (char *) RP_IT_PW;
    cu.limit_contract_value = limit_value;
    cu.limit_discount_bp = limit_bp;
    return rp_it_call(s, "identity", token, "rapport.identity.v1.Identity/CreateUser", &cu.base, NULL, NULL,
                      NULL);
}

char *rp_it_login(rp_suite_t *s, const char *username)
{
    Rapport__Identity__V1__LoginRequest in = RAPPORT__IDENTITY__V1__LOGIN_REQUEST__INIT;
    in.username = (char *) username;
    in.password = (char *) RP_IT_PW;
    Rapport__Identity__V1__TokenPair *tp = NULL;
    int code = rp_it_call(s, "identity", NULL, "rapport.identity.v1.Identity/Login", &in.base,
                          &rapport__identity__v1__token_pair__descriptor, (ProtobufCMessage **) &tp, NULL);
    if (code != RP_OK)
        fail_msg("login of %s: %s", username, rp_code_name(code));
    char *tok = rp_strdup(tp->access_token);
    rapport__identity__v1__token_pair__free_unpacked(tp, NULL);
    return tok;
}

Rapport__Identity__V1__WhoAmIReply *rp_it_whoami(rp_suite_t *s, const char *token)
{
    Rapport__Identity__V1__WhoAmIRequest in = RAPPORT__IDENTITY__V1__WHO_AM_IREQUEST__INIT;
    Rapport__Identity__V1__WhoAmIReply *r = NULL;
    rp_it_call(s, "identity", token, "rapport.identity.v1.Identity/WhoAmI", &in.base,
               &rapport__identity__v1__who_am_ireply__descriptor, (ProtobufCMessage **) &r, NULL);
    return r;
}

int64_t rp_it_clock(rp_suite_t *s, const char *svc, int64_t by_ms)
{
    Rapport__Sys__V1__ClockAdvanceRequest rq = RAPPORT__SYS__V1__CLOCK_ADVANCE_REQUEST__INIT;
    rq.by_ms = by_ms;
    Rapport__Sys__V1__ClockAdvanceReply *r = NULL;
    int code = rp_it_call(s, svc, rp_suite_admin_token(s), "rapport.sys.v1.System/ClockAdvance", &rq.base,
                          &rapport__sys__v1__clock_advance_reply__descriptor, (ProtobufCMessage **) &r, NULL);
    if (code != RP_OK)
        fail_msg("ClockAdvance on %s: %s", svc, rp_code_name(code));
    int64_t now = r->now;
    rapport__sys__v1__clock_advance_reply__free_unpacked(r, NULL);
    return now;
}

int rp_it_leads_code(rp_suite_t *s, const char *token, const char *owner)
{
    Rapport__Leads__V1__ListByOwnerRequest rq = RAPPORT__LEADS__V1__LIST_BY_OWNER_REQUEST__INIT;
    rq.owner = (char *) owner;
    rp_client_t *c = rp_suite_client(s, "leads", token);
    rp_call_status_t st;
    int code = rp_client_call(c, NULL, "rapport.leads.v1.Leads/ListByOwner", &rq.base, NULL, NULL, &st,
                              S_TIMEOUT);
    rp_client_destroy(&c);
    return code;
}

int64_t rp_it_leads_refuses_us(rp_suite_t *s, const char *token, const char *owner)
{
    int64_t t0 = rp_clock_mono_us();
    while (rp_clock_mono_us() - t0 < 5000000) {
        if (rp_it_leads_code(s, token, owner) == RP_UNAUTHENTICATED)
            return rp_clock_mono_us() - t0;
        struct timespec ts = { 0, 20 * 1000000 };
        nanosleep(&ts, NULL);
    }
    return -1;
}

void rp_it_store_downgrade(rp_suite_t *s, const char *svc, const char *table, uint32_t version)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data/%s", rp_suite_dir(s), svc);
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi, meta;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_open(env, path, MDB_NOTLS, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, table, 0, &dbi), 0);
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    assert_true(st.ms_entries >= 1);        /* something for the migration to remake */
    assert_int_equal(mdb_drop(txn, dbi, 0), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    uint8_t v[4] = { (uint8_t) (version >> 24), (uint8_t) (version >> 16), (uint8_t) (version >> 8),
                     (uint8_t) version };
    MDB_val k = { strlen("schema_version"), (void *) "schema_version" }, val = { sizeof v, v };
    assert_int_equal(mdb_put(txn, meta, &k, &val, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}
