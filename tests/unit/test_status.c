/* test_status.c - unit tests for status.c: every gRPC code's name, the
 * fallback for out-of-range codes, and parsing names back (any case).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "rapport/status.h"

static void test_names(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *want;
    } cases[] = {
        { RP_OK, "OK" }, { RP_CANCELLED, "CANCELLED" }, { RP_UNKNOWN, "UNKNOWN" },
        { RP_INVALID_ARGUMENT, "INVALID_ARGUMENT" }, { RP_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED" },
        { RP_NOT_FOUND, "NOT_FOUND" }, { RP_ALREADY_EXISTS, "ALREADY_EXISTS" },
        { RP_PERMISSION_DENIED, "PERMISSION_DENIED" }, { RP_RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED" },
        { RP_FAILED_PRECONDITION, "FAILED_PRECONDITION" }, { RP_ABORTED, "ABORTED" },
        { RP_OUT_OF_RANGE, "OUT_OF_RANGE" }, { RP_UNIMPLEMENTED, "UNIMPLEMENTED" },
        { RP_INTERNAL, "INTERNAL" }, { RP_UNAVAILABLE, "UNAVAILABLE" },
        { RP_DATA_LOSS, "DATA_LOSS" }, { RP_UNAUTHENTICATED, "UNAUTHENTICATED" },
        /* gRPC's own numbers, not just our enum's */
        { 5, "NOT_FOUND" }, { 16, "UNAUTHENTICATED" },
        { -1, "UNKNOWN" }, { 17, "UNKNOWN" }, { 1000, "UNKNOWN" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(rp_code_name(cases[i].code), cases[i].want);
}

static void test_parse(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int want;
    } cases[] = {
        { "OK", RP_OK }, { "NOT_FOUND", RP_NOT_FOUND }, { "not_found", RP_NOT_FOUND },
        { "Permission_Denied", RP_PERMISSION_DENIED }, { "UNAUTHENTICATED", RP_UNAUTHENTICATED },
        { "NOTFOUND", -1 }, { "NOT_FOUND ", -1 }, { "", -1 }, { NULL, -1 }, { "5", -1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(rp_code_parse(cases[i].name), cases[i].want);
    /* every code round-trips */
    for (int code = 0; code <= RP_UNAUTHENTICATED; code++)
        assert_int_equal(rp_code_parse(rp_code_name(code)), code);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
