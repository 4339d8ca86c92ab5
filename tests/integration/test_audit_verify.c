/* test_audit_verify.c - `rapport audit verify` names the first broken link.
 *
 * A real rapport-leads takes a few writes; then, while it is stopped, one stored
 * audit record is changed in its LMDB (the actor rewritten, or the record deleted),
 * as someone covering their tracks would. After a restart `rapport audit verify`
 * must report the chain broken at exactly that record and exit 1; the untouched
 * chain reports intact and exits 0.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "harness.h"
#include "rapport/store.h"
#include "rapport/util.h"
#include "rapport/leads/v1/leads.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"

typedef enum { TAMPER_NONE, TAMPER_ACTOR, TAMPER_DELETE } tamper_t;

/* s_tamper - change audit record seq in the stopped service's store. */
static void
s_tamper(rp_suite_t *suite, uint64_t seq, tamper_t how)
{
    char *path = rp_sprintf("%s/data/leads", rp_suite_dir(suite));
    /* leads' own migrations are not needed to touch a platform table: open with
     * the version it has, so the downgrade check is satisfied. */
    static const rp_migration_t any[] = { { 1, "leads", NULL }, { 0, NULL, NULL } };
    rp_store_t *st = rp_store_open(path, NULL, any, 0);
    assert_non_null(st);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(rp_store_env(st), NULL, 0, &txn), 0);
    MDB_dbi audit = rp_store_dbi(st, "audit");
    uint8_t key[8];
    rp_u64_be(seq, key);
    if (how == TAMPER_DELETE) {
        MDB_val k = { 8, key };
        assert_int_equal(mdb_del(txn, audit, &k, NULL), 0);
    } else {
        ProtobufCMessage *m = NULL;
        assert_int_equal(rp_store_get_msg(txn, audit, key, 8,
                                          &rapport__sys__v1__audit_record__descriptor, NULL, &m), 0);
        Rapport__Sys__V1__AuditRecord *r = (Rapport__Sys__V1__AuditRecord *) m;
        free(r->actor);
        r->actor = rp_strdup("somebody-else");
        assert_int_equal(rp_store_put_msg(txn, audit, key, 8, m), 0);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    rp_store_destroy(&st);
    free(path);
}

static void
test_verify_names_broken_link(void **state)
{
    (void) state;
    static const struct {
        const char *name;
        tamper_t how;
        uint64_t seq;
        int want_exit;
        const char *want_out;
    } rows[] = {
        { "untouched", TAMPER_NONE, 0, 0, "audit chain intact: 5 records" },
        { "actor rewritten", TAMPER_ACTOR, 3, 1, "audit chain broken at seq 3" },
        { "record deleted", TAMPER_DELETE, 2, 1, "audit chain broken at seq 2" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        rp_suite_t *suite = rp_suite_new();
        rp_suite_start(suite, "leads", NULL);
        char *mgr = rp_suite_token(suite, "u-audrey", "manager", "b1", "/b1/sales", NULL, 3600);
        char *auditor = rp_suite_token(suite, "u-ida", "auditor", "b1", "/b1", NULL, 3600);
        rp_client_t *c = rp_suite_client(suite, "leads", mgr);
        for (int k = 0; k < 5; k++) {
            char name[64];
            snprintf(name, sizeof name, "Audited Co %d", k);
            Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
            co.name = name;
            Rapport__Leads__V1__CreateRequest rq = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
            rq.company = &co;
            rq.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_WEB;
            assert_int_equal(rp_client_call(c, NULL, "rapport.leads.v1.Leads/Create", &rq.base,
                                            NULL, NULL, NULL, 10000), 0);
        }
        rp_client_destroy(&c);
        if (rows[i].how != TAMPER_NONE) {
            assert_int_equal(rp_suite_kill(suite, "leads", SIGTERM), 0);
            s_tamper(suite, rows[i].seq, rows[i].how);
            rp_suite_start(suite, "leads", NULL);
        }
        char *out = NULL;
        const char *args[] = { "audit", "verify", "--service", "leads", NULL };
        int status = rp_suite_run_cli(suite, auditor, &out, args);
        if (status != rows[i].want_exit || !out || !strstr(out, rows[i].want_out))
            fail_msg("%s: exit %d, output \"%s\"; want exit %d and \"%s\"", rows[i].name, status,
                     out ? out : "", rows[i].want_exit, rows[i].want_out);
        free(out);
        if (rows[i].how == TAMPER_NONE) {
            /* audit show: who did what, filtered by actor, and as JSON */
            static const struct {
                const char *args[8];
                const char *want[3];
                const char *not_want;
            } shows[] = {
                { { "audit", "show", "--service", "leads", NULL },
                  { "ACTOR", "u-audrey", "rapport.leads.v1.Leads/Create" }, NULL },
                { { "audit", "show", "--service", "leads", "--actor", "nobody", NULL },
                  { "ACTOR", NULL, NULL }, "u-audrey" },
                { { "--json", "audit", "show", "--service", "leads", "--limit", "2", NULL },
                  { "\"actor\": \"u-audrey\"", "\"seq\": 2", NULL }, "\"seq\": 3" },
            };
            for (size_t k = 0; k < sizeof shows / sizeof shows[0]; k++) {
                char *sout = NULL;
                assert_int_equal(rp_suite_run_cli(suite, auditor, &sout, shows[k].args), 0);
                for (int w = 0; w < 3 && shows[k].want[w]; w++)
                    if (!strstr(sout, shows[k].want[w]))
                        fail_msg("audit show %zu: no \"%s\" in:\n%s", k, shows[k].want[w], sout);
                if (shows[k].not_want && strstr(sout, shows[k].not_want))
                    fail_msg("audit show %zu: \"%s\" should not be in:\n%s", k, shows[k].not_want, sout);
                free(sout);
            }
        }
        free(mgr);
        free(auditor);
        rp_suite_destroy(&suite);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_names_broken_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
