/* money.c - money as int64 minor units plus an ISO 4217 code (DESIGN.md §8).
 *
 * There are no floats here. Arithmetic uses the compiler's checked builtins
 * and reports overflow as -1 instead of wrapping; percentages are computed in
 * 128 bits and rounded half away from zero, as accountants expect. The
 * currency table holds the active national and regional ISO 4217 codes with
 * their minor-unit exponents (funds codes, precious metals and withdrawn codes
 * are left out: nobody invoices in them).
 */
#include "rapport/money.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char code[4];
    int exponent;
} s_currency_t;

/* Sorted by code so lookups can binary-search. */
static const s_currency_t s_currencies[] = {
    { "AED", 2 }, { "AFN", 2 }, { "ALL", 2 }, { "AMD", 2 }, { "ANG", 2 }, { "AOA", 2 },
    { "ARS", 2 }, { "AUD", 2 }, { "AWG", 2 }, { "AZN", 2 }, { "BAM", 2 }, { "BBD", 2 },
    { "BDT", 2 }, { "BGN", 2 }, { "BHD", 3 }, { "BIF", 0 }, { "BMD", 2 }, { "BND", 2 },
    { "BOB", 2 }, { "BRL", 2 }, { "BSD", 2 }, { "BTN", 2 }, { "BWP", 2 }, { "BYN", 2 },
    { "BZD", 2 }, { "CAD", 2 }, { "CDF", 2 }, { "CHF", 2 }, { "CLP", 0 }, { "CNY", 2 },
    { "COP", 2 }, { "CRC", 2 }, { "CUP", 2 }, { "CVE", 2 }, { "CZK", 2 }, { "DJF", 0 },
    { "DKK", 2 }, { "DOP", 2 }, { "DZD", 2 }, { "EGP", 2 }, { "ERN", 2 }, { "ETB", 2 },
    { "EUR", 2 }, { "FJD", 2 }, { "FKP", 2 }, { "GBP", 2 }, { "GEL", 2 }, { "GHS", 2 },
    { "GIP", 2 }, { "GMD", 2 }, { "GNF", 0 }, { "GTQ", 2 }, { "GYD", 2 }, { "HKD", 2 },
    { "HNL", 2 }, { "HTG", 2 }, { "HUF", 2 }, { "IDR", 2 }, { "ILS", 2 }, { "INR", 2 },
    { "IQD", 3 }, { "IRR", 2 }, { "ISK", 0 }, { "JMD", 2 }, { "JOD", 3 }, { "JPY", 0 },
    { "KES", 2 }, { "KGS", 2 }, { "KHR", 2 }, { "KMF", 0 }, { "KPW", 2 }, { "KRW", 0 },
    { "KWD", 3 }, { "KYD", 2 }, { "KZT", 2 }, { "LAK", 2 }, { "LBP", 2 }, { "LKR", 2 },
    { "LRD", 2 }, { "LSL", 2 }, { "LYD", 3 }, { "MAD", 2 }, { "MDL", 2 }, { "MGA", 2 },
    { "MKD", 2 }, { "MMK", 2 }, { "MNT", 2 }, { "MOP", 2 }, { "MRU", 2 }, { "MUR", 2 },
    { "MVR", 2 }, { "MWK", 2 }, { "MXN", 2 }, { "MYR", 2 }, { "MZN", 2 }, { "NAD", 2 },
    { "NGN", 2 }, { "NIO", 2 }, { "NOK", 2 }, { "NPR", 2 }, { "NZD", 2 }, { "OMR", 3 },
    { "PAB", 2 }, { "PEN", 2 }, { "PGK", 2 }, { "PHP", 2 }, { "PKR", 2 }, { "PLN", 2 },
    { "PYG", 0 }, { "QAR", 2 }, { "RON", 2 }, { "RSD", 2 }, { "RUB", 2 }, { "RWF", 0 },
    { "SAR", 2 }, { "SBD", 2 }, { "SCR", 2 }, { "SDG", 2 }, { "SEK", 2 }, { "SGD", 2 },
    { "SHP", 2 }, { "SLE", 2 }, { "SOS", 2 }, { "SRD", 2 }, { "SSP", 2 }, { "STN", 2 },
    { "SVC", 2 }, { "SYP", 2 }, { "SZL", 2 }, { "THB", 2 }, { "TJS", 2 }, { "TMT", 2 },
    { "TND", 3 }, { "TOP", 2 }, { "TRY", 2 }, { "TTD", 2 }, { "TWD", 2 }, { "TZS", 2 },
    { "UAH", 2 }, { "UGX", 0 }, { "USD", 2 }, { "UYU", 2 }, { "UZS", 2 }, { "VED", 2 },
    { "VES", 2 }, { "VND", 0 }, { "VUV", 0 }, { "WST", 2 }, { "XAF", 0 }, { "XCD", 2 },
    { "XCG", 2 }, { "XOF", 0 }, { "XPF", 0 }, { "YER", 2 }, { "ZAR", 2 }, { "ZMW", 2 },
    { "ZWG", 2 },
};

#define S_NCURRENCIES (sizeof s_currencies / sizeof s_currencies[0])

/* s_find - the table row for an exact upper-case three-letter code, or NULL. */
static const s_currency_t *s_find(const char *code)
{
    if (!code || strlen(code) != 3)
        return NULL;
    size_t lo = 0, hi = S_NCURRENCIES;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(code, s_currencies[mid].code);
        if (c == 0)
            return &s_currencies[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

bool rp_currency_valid(const char *code)
{
    return s_find(code) != NULL;
}

int rp_currency_exponent(const char *code)
{
    const s_currency_t *c = s_find(code);
    return c ? c->exponent : -1;
}

int rp_money_add(int64_t a, int64_t b, int64_t *out)
{
    assert(out);
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

int rp_money_sub(int64_t a, int64_t b, int64_t *out)
{
    assert(out);
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

int rp_money_mul(int64_t a, int64_t b, int64_t *out)
{
    assert(out);
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return -1;
    *out = r;
    return 0;
}

int rp_money_percent(int64_t a, int64_t bp, int64_t *out)
{
    assert(out);
    /* |a * bp| < 2^126, so the product cannot overflow 128 bits. */
    __int128 p = (__int128)a * bp;
    bool neg = p < 0;
    unsigned __int128 mag = neg ? (unsigned __int128)0 - (unsigned __int128)p : (unsigned __int128)p;
    unsigned __int128 q = mag / 10000, r = mag % 10000;
    if (r >= 5000)
        q++;
    /* INT64_MIN is representable, its magnitude being one more than INT64_MAX. */
    unsigned __int128 limit = neg ? (unsigned __int128)INT64_MAX + 1 : (unsigned __int128)INT64_MAX;
    if (q > limit)
        return -1;
    *out = neg ? (int64_t)(0 - (uint64_t)q) : (int64_t)q;
    return 0;
}

int rp_money_format(int64_t units, const char *currency, char *out, size_t cap)
{
    assert(out || cap == 0);
    const s_currency_t *c = s_find(currency);
    if (!c)
        return -1;
    uint64_t mag = units < 0 ? 0 - (uint64_t)units : (uint64_t)units;
    uint64_t scale = 1;
    for (int i = 0; i < c->exponent; i++)
        scale *= 10;
    int n;
    if (c->exponent == 0)
        n = snprintf(out, cap, "%s%llu %s", units < 0 ? "-" : "",
                     (unsigned long long)mag, c->code);
    else
        n = snprintf(out, cap, "%s%llu.%0*llu %s", units < 0 ? "-" : "",
                     (unsigned long long)(mag / scale), c->exponent,
                     (unsigned long long)(mag % scale), c->code);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return 0;
}

int rp_money_format_text(int64_t units, const char *currency, char *out, size_t cap)
{
    assert(out || cap == 0);
    char plain[48];
    if (rp_money_format(units, currency, plain, sizeof plain) != 0)
        return -1;
    /* plain is "[-]digits[.frac] CODE": copy it, grouping the whole part's digits. */
    const char *p = plain;
    size_t o = 0;
    char buf[64];
    if (*p == '-')
        buf[o++] = *p++;
    size_t whole = strspn(p, "0123456789");
    for (size_t i = 0; i < whole; i++) {
        if (i > 0 && (whole - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = p[i];
    }
    int n = snprintf(out, cap, "%.*s%s", (int)o, buf, p + whole);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return 0;
}

int rp_money_parse(const char *text, const char *currency, int64_t *units)
{
    assert(units);
    const s_currency_t *c = s_find(currency);
    if (!c || !text)
        return -1;
    const char *p = text;
    bool neg = false;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    /* Accumulate the magnitude as a negative number so INT64_MIN parses too. */
    int64_t acc = 0;
    int int_digits = 0, frac_digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, int_digits++) {
        if (__builtin_mul_overflow(acc, 10, &acc) || __builtin_sub_overflow(acc, *p - '0', &acc))
            return -1;
    }
    if (int_digits == 0)
        return -1;
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++, frac_digits++) {
            if (frac_digits >= c->exponent)
                return -1;
            if (__builtin_mul_overflow(acc, 10, &acc) || __builtin_sub_overflow(acc, *p - '0', &acc))
                return -1;
        }
        if (frac_digits == 0)
            return -1;          /* "12." */
    }
    if (*p != '\0')
        return -1;
    for (; frac_digits < c->exponent; frac_digits++) {
        if (__builtin_mul_overflow(acc, 10, &acc))
            return -1;
    }
    if (!neg) {
        if (acc == INT64_MIN)
            return -1;
        acc = -acc;
    }
    *units = acc;
    return 0;
}
