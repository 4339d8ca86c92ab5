/* money.h - money as int64 minor units plus an ISO 4217 code. No floats.
 * Every operation checks overflow and returns -1 rather than wrap.
 */
#ifndef RAPPORT_MONEY_H
#define RAPPORT_MONEY_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

/* rp_currency_valid - true for a known ISO 4217 alphabetic code ("EUR", "USD", ...). */
bool rp_currency_valid(const char *code);
/* rp_currency_exponent - minor-unit digits (2 for EUR, 0 for JPY, 3 for KWD); -1 if unknown. */
int rp_currency_exponent(const char *code);
/* rp_money_add / rp_money_sub / rp_money_mul - checked; 0, or -1 on overflow. */
int rp_money_add(int64_t a, int64_t b, int64_t *out);
int rp_money_sub(int64_t a, int64_t b, int64_t *out);
int rp_money_mul(int64_t a, int64_t b, int64_t *out);
/* rp_money_percent - a * bp / 10000 rounded half away from zero (bp = basis points). */
int rp_money_percent(int64_t a, int64_t bp, int64_t *out);
/* rp_money_format - "1234.50 EUR" into out. Returns 0, or -1 for an unknown currency. */
int rp_money_format(int64_t units, const char *currency, char *out, size_t cap);
/* rp_money_format_text - the same for people: thousands grouped with ',' ("12,000.00 EUR",
 * "-1,234,567 JPY"). Returns 0, or -1 for an unknown currency or when cap is too small. */
int rp_money_format_text(int64_t units, const char *currency, char *out, size_t cap);
/* rp_money_parse - "1234.5" or "1234.50" with the currency's exponent into units. 0 or -1. */
int rp_money_parse(const char *text, const char *currency, int64_t *units);

#endif
