/* config.c - settings from RAPPORT_* environment variables (DESIGN.md §9).
 *
 * Unset or empty means the default. A set value must be exactly what the
 * rule asks for: the whole string, no spaces, no trailing junk, no silent
 * clamping. A bad value prints one line naming the variable, the value and
 * the rule, e.g.
 *   rapport: RAPPORT_BATCH_MAX=abc: must be an integer between 1 and 4096
 * and the getter returns -1, so start-up fails fast and says why.
 */
#include "rapport/config.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *rp_config_str(const char *name, const char *def)
{
    assert(name);
    const char *v = getenv(name);
    return v && *v ? v : def;
}

/* s_parse_int - a whole-string decimal integer with an optional sign. 0 or -1. */
static int s_parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (!*p)
        return -1;
    /* Accumulate negatively so INT64_MIN fits. */
    int64_t acc = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (__builtin_mul_overflow(acc, 10, &acc) || __builtin_sub_overflow(acc, *p - '0', &acc))
            return -1;
    }
    if (!neg) {
        if (acc == INT64_MIN)
            return -1;
        acc = -acc;
    }
    *out = acc;
    return 0;
}

int rp_config_int(const char *name, int64_t def, int64_t min, int64_t max, int64_t *out)
{
    assert(name && out);
    assert(min <= max && def >= min && def <= max);
    const char *v = getenv(name);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    int64_t n;
    if (s_parse_int(v, &n) != 0 || n < min || n > max) {
        fprintf(stderr, "rapport: %s=%s: must be an integer between %" PRId64 " and %" PRId64 "\n",
                name, v, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

int rp_config_bool(const char *name, bool def, bool *out)
{
    assert(name && out);
    static const char *const yes[] = { "1", "true", "yes", "on" };
    static const char *const no[] = { "0", "false", "no", "off" };
    const char *v = getenv(name);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    fprintf(stderr, "rapport: %s=%s: must be one of 1, true, yes, on, 0, false, no, off\n", name, v);
    return -1;
}
