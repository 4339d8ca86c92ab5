/* test_services.c - unit tests for services.c: the service table, lookup,
 * and endpoints from the defaults and from RAPPORT_<NAME>_[PUB_]ENDPOINT.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rapport/services.h"

static const struct {
    const char *name, *want_binary;
    int want_port;
} s_table[] = {
    { "identity", "rapport-identity", 7100 }, { "leads", "rapport-leads", 7110 },
    { "accounts", "rapport-accounts", 7120 }, { "contracts", "rapport-contracts", 7130 },
    { "payments", "rapport-payments", 7140 }, { "loyalty", "rapport-loyalty", 7150 },
    { "intel", "rapport-intel", 7160 }, { "reports", "rapport-reports", 7170 },
};
#define S_N (sizeof s_table / sizeof s_table[0])

static void test_table(void **state)
{
    (void)state;
    const rp_service_info_t *all = rp_services();
    size_t n = 0;
    for (; all[n].name; n++) {
        assert_string_equal(all[n].name, s_table[n].name);
        assert_string_equal(all[n].binary, s_table[n].want_binary);
        assert_int_equal(all[n].rpc_port, s_table[n].want_port);
    }
    assert_int_equal(n, S_N);
    for (size_t i = 0; i < S_N; i++) {
        const rp_service_info_t *s = rp_service_find(s_table[i].name);
        assert_non_null(s);
        assert_ptr_equal(s, &all[i]);
    }
    static const char *const unknown[] = { "Leads", "lead", "rapport-leads", "", NULL };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        assert_null(rp_service_find(unknown[i]));
}

static void test_endpoint(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int pub;
        const char *env_var, *env_value;    /* set for this case only */
        size_t cap;
        int want_rc;
        const char *want;
    } cases[] = {
        { "leads", 0, NULL, NULL, 64, 0, "tcp://127.0.0.1:7110" },
        { "leads", 1, NULL, NULL, 64, 0, "tcp://127.0.0.1:7111" },
        { "identity", 0, NULL, NULL, 64, 0, "tcp://127.0.0.1:7100" },
        { "reports", 1, NULL, NULL, 64, 0, "tcp://127.0.0.1:7171" },
        { "leads", 0, "RAPPORT_LEADS_ENDPOINT", "tcp://leads.branch-7:7110", 64, 0,
          "tcp://leads.branch-7:7110" },
        /* the RPC override does not move the PUB endpoint, and vice versa */
        { "leads", 1, "RAPPORT_LEADS_ENDPOINT", "tcp://leads.branch-7:7110", 64, 0,
          "tcp://127.0.0.1:7111" },
        { "payments", 1, "RAPPORT_PAYMENTS_PUB_ENDPOINT", "ipc:///run/rapport/payments.pub", 64, 0,
          "ipc:///run/rapport/payments.pub" },
        { "payments", 0, "RAPPORT_PAYMENTS_PUB_ENDPOINT", "ipc:///run/rapport/payments.pub", 64, 0,
          "tcp://127.0.0.1:7140" },
        { "contracts", 0, "RAPPORT_CONTRACTS_ENDPOINT", "", 64, 0, "tcp://127.0.0.1:7130" },
        { "intel", 0, NULL, NULL, 21, 0, "tcp://127.0.0.1:7160" },     /* exactly fits */
        { "intel", 0, NULL, NULL, 20, -1, NULL },
        { "nosuch", 0, NULL, NULL, 64, -1, NULL },
        { NULL, 0, NULL, NULL, 64, -1, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].env_var)
            setenv(cases[i].env_var, cases[i].env_value, 1);
        char out[64];
        assert_int_equal(rp_service_endpoint(cases[i].name, cases[i].pub, out, cases[i].cap),
                         cases[i].want_rc);
        if (cases[i].want_rc == 0)
            assert_string_equal(out, cases[i].want);
        if (cases[i].env_var)
            unsetenv(cases[i].env_var);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_endpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
