/* test_money.c - unit tests for money.c: the currency table, checked
 * arithmetic at the int64 edges, percentages rounded half away from zero,
 * and formatting and parsing with each currency's exponent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rapport/money.h"

static void test_currencies(void **state)
{
    (void)state;
    static const struct {
        const char *code;
        int want_exp;
    } cases[] = {
        { "EUR", 2 }, { "USD", 2 }, { "GBP", 2 }, { "CHF", 2 }, { "JPY", 0 }, { "CNY", 2 },
        { "RUB", 2 }, { "UAH", 2 }, { "KZT", 2 }, { "PLN", 2 }, { "CZK", 2 }, { "SEK", 2 },
        { "NOK", 2 }, { "DKK", 2 }, { "HUF", 2 }, { "RON", 2 }, { "BGN", 2 }, { "TRY", 2 },
        { "INR", 2 }, { "BRL", 2 }, { "CAD", 2 }, { "AUD", 2 }, { "NZD", 2 }, { "MXN", 2 },
        { "ZAR", 2 }, { "SGD", 2 }, { "HKD", 2 }, { "KRW", 0 }, { "AED", 2 }, { "SAR", 2 },
        { "ILS", 2 }, { "KWD", 3 }, { "BHD", 3 }, { "OMR", 3 }, { "JOD", 3 }, { "TND", 3 },
        { "ISK", 0 }, { "CLP", 0 }, { "VND", 0 }, { "IDR", 2 }, { "THB", 2 }, { "MYR", 2 },
        { "PHP", 2 }, { "EGP", 2 }, { "NGN", 2 }, { "KES", 2 }, { "XOF", 0 }, { "XAF", 0 },
        { "IQD", 3 }, { "LYD", 3 }, { "UGX", 0 }, { "PYG", 0 }, { "AAA", -1 }, { "ZZZ", -1 },
        { "XXX", -1 }, { "XAU", -1 }, { "HRK", -1 }, { "eur", -1 }, { "EU", -1 },
        { "EURO", -1 }, { "", -1 }, { NULL, -1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(rp_currency_exponent(cases[i].code), cases[i].want_exp);
        assert_int_equal(rp_currency_valid(cases[i].code), cases[i].want_exp >= 0);
    }
    /* Every row of the table is reachable by the binary search: count them all. */
    int found = 0;
    char code[4] = { 0 };
    for (code[0] = 'A'; code[0] <= 'Z'; code[0]++)
        for (code[1] = 'A'; code[1] <= 'Z'; code[1]++)
            for (code[2] = 'A'; code[2] <= 'Z'; code[2]++)
                found += rp_currency_valid(code);
    assert_int_equal(found, 157);
}

static void test_arithmetic(void **state)
{
    (void)state;
    enum { ADD, SUB, MUL };
    static const struct {
        int op;
        int64_t a, b;
        int want_rc;
        int64_t want;
    } cases[] = {
        { ADD, 150, 250, 0, 400 },
        { ADD, INT64_MAX, 0, 0, INT64_MAX },
        { ADD, INT64_MAX, 1, -1, 0 },
        { ADD, INT64_MIN, -1, -1, 0 },
        { ADD, INT64_MIN, INT64_MAX, 0, -1 },
        { SUB, 100, 250, 0, -150 },
        { SUB, INT64_MIN, 1, -1, 0 },
        { SUB, 0, INT64_MIN, -1, 0 },
        { SUB, -1, INT64_MIN, 0, INT64_MAX },
        { MUL, 1999, 3, 0, 5997 },
        { MUL, -7, 6, 0, -42 },
        { MUL, INT64_MAX / 2, 2, 0, INT64_MAX - 1 },
        { MUL, INT64_MAX / 2 + 1, 2, -1, 0 },
        { MUL, INT64_MIN, -1, -1, 0 },
        { MUL, 4294967296, 4294967296, -1, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t out = 12345;
        int rc = cases[i].op == ADD ? rp_money_add(cases[i].a, cases[i].b, &out)
               : cases[i].op == SUB ? rp_money_sub(cases[i].a, cases[i].b, &out)
               : rp_money_mul(cases[i].a, cases[i].b, &out);
        assert_int_equal(rc, cases[i].want_rc);
        if (rc == 0)
            assert_int_equal(out, cases[i].want);
        else
            assert_int_equal(out, 12345);       /* untouched on overflow */
    }
}

static void test_percent(void **state)
{
    (void)state;
    static const struct {
        int64_t a, bp;
        int want_rc;
        int64_t want;
    } cases[] = {
        { 10000, 1500, 0, 1500 },           /* 15% of 100.00 */
        { 123456, 1234, 0, 15234 },         /* 15234.47 */
        { 1, 5000, 0, 1 },                  /* 0.5 -> 1 */
        { -1, 5000, 0, -1 },                /* -0.5 -> -1 */
        { 1, 4999, 0, 0 },
        { -1, 4999, 0, 0 },
        { 3, 5000, 0, 2 },                  /* 1.5 -> 2 */
        { -3, 5000, 0, -2 },
        { 5, 5000, 0, 3 },                  /* 2.5 -> 3, not banker's 2 */
        { 15000, 1, 0, 2 },                 /* 1.5 -> 2 */
        { 14999, 1, 0, 1 },
        { 12345, -1, 0, -1 },
        { 100, 0, 0, 0 },
        { 0, 9999, 0, 0 },
        { 1999, 20000, 0, 3998 },           /* 200% */
        { INT64_MAX, 10000, 0, INT64_MAX },
        { INT64_MAX, 10001, -1, 0 },
        { INT64_MIN, 10000, 0, INT64_MIN },
        { INT64_MIN, -10000, -1, 0 },
        { INT64_MIN, 5000, 0, INT64_MIN / 2 },
        { INT64_MAX, INT64_MAX, -1, 0 },    /* the 128-bit product itself is fine */
        { INT64_MIN, INT64_MIN, -1, 0 },
        { INT64_MAX, 1, 0, 922337203685478 },  /* 922337203685477.5807 -> up */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t out = 777;
        assert_int_equal(rp_money_percent(cases[i].a, cases[i].bp, &out), cases[i].want_rc);
        assert_int_equal(out, cases[i].want_rc == 0 ? cases[i].want : 777);
    }
}

/* test_format - rp_money_format, and rp_money_format_text (text: thousands grouped). */
static void test_format(void **state)
{
    (void)state;
    static const struct {
        bool text;
        int64_t units;
        const char *cur;
        size_t cap;
        int want_rc;
        const char *want;
    } cases[] = {
        { false, 123450, "EUR", 64, 0, "1234.50 EUR" },
        { false, -5, "EUR", 64, 0, "-0.05 EUR" },
        { false, -100, "USD", 64, 0, "-1.00 USD" },
        { false, 0, "EUR", 64, 0, "0.00 EUR" },
        { false, 1234, "JPY", 64, 0, "1234 JPY" },
        { false, -1234, "JPY", 64, 0, "-1234 JPY" },
        { false, 1234, "KWD", 64, 0, "1.234 KWD" },
        { false, 7, "BHD", 64, 0, "0.007 BHD" },
        { false, INT64_MAX, "EUR", 64, 0, "92233720368547758.07 EUR" },
        { false, INT64_MIN, "EUR", 64, 0, "-92233720368547758.08 EUR" },
        { false, INT64_MIN, "JPY", 64, 0, "-9223372036854775808 JPY" },
        { false, 100, "XXX", 64, -1, NULL },
        { false, 100, NULL, 64, -1, NULL },
        { false, 123450, "EUR", 12, 0, "1234.50 EUR" },   /* exactly fits */
        { false, 123450, "EUR", 11, -1, NULL },           /* one short */
        { true, 1200000, "EUR", 64, 0, "12,000.00 EUR" },
        { true, 100000, "EUR", 64, 0, "1,000.00 EUR" },
        { true, 99999, "EUR", 64, 0, "999.99 EUR" },
        { true, 0, "EUR", 64, 0, "0.00 EUR" },
        { true, -123456789, "EUR", 64, 0, "-1,234,567.89 EUR" },
        { true, 1234567, "JPY", 64, 0, "1,234,567 JPY" },
        { true, -100, "JPY", 64, 0, "-100 JPY" },
        { true, 1234567, "KWD", 64, 0, "1,234.567 KWD" },
        { true, INT64_MAX, "EUR", 64, 0, "92,233,720,368,547,758.07 EUR" },
        { true, INT64_MIN, "JPY", 64, 0, "-9,223,372,036,854,775,808 JPY" },
        { true, 100, "XXX", 64, -1, NULL },
        { true, 1200000, "EUR", 14, 0, "12,000.00 EUR" },   /* exactly fits */
        { true, 1200000, "EUR", 13, -1, NULL },             /* one short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        int (*format)(int64_t, const char *, char *, size_t) = cases[i].text ? rp_money_format_text : rp_money_format;
        assert_int_equal(format(cases[i].units, cases[i].cur, out, cases[i].cap), cases[i].want_rc);
        if (cases[i].want_rc == 0)
            assert_string_equal(out, cases[i].want);
    }
}

static void test_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text, *cur;
        int want_rc;
        int64_t want;
    } cases[] = {
        { "1234.5", "EUR", 0, 123450 },
        { "1234.50", "EUR", 0, 123450 },
        { "1234", "EUR", 0, 123400 },
        { "0.05", "EUR", 0, 5 },
        { "-0.05", "EUR", 0, -5 },
        { "+1", "EUR", 0, 100 },
        { "-0", "EUR", 0, 0 },
        { "007.10", "EUR", 0, 710 },
        { "12", "JPY", 0, 12 },
        { "1.234", "KWD", 0, 1234 },
        { "1.2", "KWD", 0, 1200 },
        { "92233720368547758.07", "EUR", 0, INT64_MAX },
        { "-92233720368547758.08", "EUR", 0, INT64_MIN },
        { "9223372036854775807", "JPY", 0, INT64_MAX },
        { "-9223372036854775808", "JPY", 0, INT64_MIN },
        { "92233720368547758.08", "EUR", -1, 0 },  /* overflow */
        { "92233720368547758", "EUR", 0, 9223372036854775800 },
        { "92233720368547759", "EUR", -1, 0 },     /* overflow when scaled */
        { "9223372036854775808", "JPY", -1, 0 },
        { "99999999999999999999999", "EUR", -1, 0 },
        { "1.234", "EUR", -1, 0 },                 /* more decimals than the exponent */
        { "1.000", "EUR", -1, 0 },
        { "12.0", "JPY", -1, 0 },
        { "12.", "JPY", -1, 0 },
        { "1.", "EUR", -1, 0 },
        { ".5", "EUR", -1, 0 },
        { "", "EUR", -1, 0 },
        { "-", "EUR", -1, 0 },
        { "--1", "EUR", -1, 0 },
        { "+-1", "EUR", -1, 0 },
        { "abc", "EUR", -1, 0 },
        { "1,50", "EUR", -1, 0 },
        { "1 000", "EUR", -1, 0 },
        { " 1", "EUR", -1, 0 },
        { "1 ", "EUR", -1, 0 },
        { "1e3", "EUR", -1, 0 },
        { "0x10", "EUR", -1, 0 },
        { "1.5.0", "EUR", -1, 0 },
        { "1.5", "XXX", -1, 0 },
        { "1.5", NULL, -1, 0 },
        { NULL, "EUR", -1, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t out = 4242;
        assert_int_equal(rp_money_parse(cases[i].text, cases[i].cur, &out), cases[i].want_rc);
        assert_int_equal(out, cases[i].want_rc == 0 ? cases[i].want : 4242);
    }
}

/* Formatting then parsing the number part gives the units back. */
static void test_roundtrip(void **state)
{
    (void)state;
    static const char *const curs[] = { "EUR", "JPY", "KWD" };
    static const int64_t values[] = { 0, 1, -1, 9, 10, 99, 100, 101, 123456789,
                                      -987654321, INT64_MAX, INT64_MIN, INT64_MIN + 1 };
    for (size_t c = 0; c < 3; c++) {
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            char text[64];
            assert_int_equal(rp_money_format(values[v], curs[c], text, sizeof text), 0);
            char *space = strchr(text, ' ');
            assert_non_null(space);
            assert_string_equal(space + 1, curs[c]);
            *space = '\0';
            int64_t back;
            assert_int_equal(rp_money_parse(text, curs[c], &back), 0);
            assert_int_equal(back, values[v]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_currencies),
        cmocka_unit_test(test_arithmetic),
        cmocka_unit_test(test_percent),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
