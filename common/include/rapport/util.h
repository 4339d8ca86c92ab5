/* util.h - allocation that aborts on out-of-memory, bounded strings, base64url and hex.
 *
 * The allocation wrappers never return NULL: running out of memory is not a
 * condition a service can answer sensibly, so it aborts with a message (CZMQ's
 * policy). A NULL from anything else in librapport therefore means something real.
 */
#ifndef RAPPORT_UTIL_H
#define RAPPORT_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>      /* free, for rp_free */

void *rp_malloc(size_t n);
void *rp_calloc(size_t count, size_t n);
void *rp_realloc(void *p, size_t n);
char *rp_strdup(const char *s);                 /* NULL in, NULL out */
char *rp_strndup(const char *s, size_t n);
char *rp_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* malloc'd */
#define rp_free(p) do { free(p); (p) = NULL; } while (0)

/* rp_strlcpy - copy at most size-1 bytes and NUL-terminate; returns strlen(src). */
size_t rp_strlcpy(char *dst, const char *src, size_t size);
/* rp_streq - NULL-safe equality. */
bool rp_streq(const char *a, const char *b);
/* rp_str_empty - true for NULL or "". */
bool rp_str_empty(const char *s);
/* rp_str_has_prefix - true when s starts with prefix (NULL prefix or "" matches). */
bool rp_str_has_prefix(const char *s, const char *prefix);

/* Base64url without padding (RFC 4648 §5), as JWT and page tokens use.
 * rp_b64url_encode returns a malloc'd string. rp_b64url_decode writes at most
 * cap bytes to out and returns the decoded length, or -1 on bad input or overflow. */
char *rp_b64url_encode(const uint8_t *data, size_t len);
long rp_b64url_decode(const char *s, size_t slen, uint8_t *out, size_t cap);

/* Lower-case hex. rp_hex_encode writes 2*len+1 bytes to out. rp_hex_decode
 * returns the number of bytes written or -1. */
void rp_hex_encode(const uint8_t *data, size_t len, char *out);
long rp_hex_decode(const char *hex, uint8_t *out, size_t cap);

/* rp_read_file - read a whole file (at most max bytes) into a malloc'd,
 * NUL-terminated buffer. Returns 0, or -1 with errno set. */
int rp_read_file(const char *path, size_t max, char **data, size_t *len);
/* rp_write_file_private - write data to path with mode 0600 atomically (tmp + rename). */
int rp_write_file_private(const char *path, const void *data, size_t len);
/* rp_mkdir_p - mkdir -p with the given mode for created directories. */
int rp_mkdir_p(const char *path, unsigned mode);

#endif
