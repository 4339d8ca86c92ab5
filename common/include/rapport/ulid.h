/* ulid.h - ULIDs: 48-bit ms timestamp + 80 bits of libsodium randomness,
 * 16 bytes in keys, 26 Crockford base32 characters on the wire.
 * Within one millisecond, ids from one process are strictly increasing.
 */
#ifndef RAPPORT_ULID_H
#define RAPPORT_ULID_H
#include <stdint.h>
#include <stdbool.h>

#define RP_ULID_LEN 16
#define RP_ULID_STRLEN 26

typedef struct { uint8_t b[RP_ULID_LEN]; } rp_ulid_t;

/* rp_ulid_new - a new ULID for time ms (monotonic within the process). */
void rp_ulid_new(int64_t ms, rp_ulid_t *out);
/* rp_ulid_format - 26 chars plus NUL into out. */
void rp_ulid_format(const rp_ulid_t *u, char out[RP_ULID_STRLEN + 1]);
/* rp_ulid_parse - parse 26 Crockford chars (case-insensitive). 0, or -1 if invalid. */
int rp_ulid_parse(const char *s, rp_ulid_t *out);
/* rp_ulid_new_str - convenience: a new ULID formatted into out. */
void rp_ulid_new_str(int64_t ms, char out[RP_ULID_STRLEN + 1]);
/* rp_ulid_time - the timestamp part. */
int64_t rp_ulid_time(const rp_ulid_t *u);
bool rp_ulid_is_zero(const rp_ulid_t *u);

#endif
