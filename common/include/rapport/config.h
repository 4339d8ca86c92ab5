/* config.h - settings from RAPPORT_* environment variables with sane defaults.
 * A bad value fails fast: the getter prints a clear message naming the variable
 * and the rule, and returns -1; rp_service_main then exits with status 2.
 */
#ifndef RAPPORT_CONFIG_H
#define RAPPORT_CONFIG_H
#include <stdint.h>
#include <stdbool.h>

/* rp_config_str - the value of name, or def when unset or empty. Borrowed from the
 * environment (or def); valid until the environment changes. */
const char *rp_config_str(const char *name, const char *def);
/* rp_config_int - parse a decimal integer in [min, max]. 0, or -1 with a message. */
int rp_config_int(const char *name, int64_t def, int64_t min, int64_t max, int64_t *out);
/* rp_config_bool - "1/true/yes/on" or "0/false/no/off". 0, or -1 with a message. */
int rp_config_bool(const char *name, bool def, bool *out);

#endif
