/* util.c - the small things every module needs: allocation that aborts on
 * out-of-memory, bounded string helpers, base64url (RFC 4648 §5, no padding),
 * lower-case hex, and whole-file reads and private atomic writes.
 *
 * Out of memory is not something a service can answer sensibly, so the
 * allocation wrappers print one line and abort (CZMQ's policy); everything
 * else reports run-time failures as -1 with errno set where it means something.
 */
#define _GNU_SOURCE
#include "rapport/util.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* s_oom - the one way out when memory runs out. */
static void __attribute__((noreturn)) s_oom(size_t n)
{
    char line[96];
    int len = snprintf(line, sizeof line, "rapport: out of memory (%zu bytes)\n", n);
    if (len > 0) {
        ssize_t rc = write(STDERR_FILENO, line, (size_t)len);
        (void)rc;
    }
    abort();
}

void *rp_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        s_oom(n);
    return p;
}

void *rp_calloc(size_t count, size_t n)
{
    size_t total;
    if (__builtin_mul_overflow(count, n, &total))
        s_oom(SIZE_MAX);
    void *p = calloc(total ? count : 1, total ? n : 1);
    if (!p)
        s_oom(total);
    return p;
}

void *rp_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        s_oom(n);
    return q;
}

char *rp_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *d = rp_malloc(n + 1);
    memcpy(d, s, n + 1);
    return d;
}

char *rp_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    size_t len = strnlen(s, n);
    char *d = rp_malloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *rp_sprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert(n >= 0);     /* only a bad format string fails here */
    char *s = rp_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

size_t rp_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (size > 0) {
        size_t k = n < size - 1 ? n : size - 1;
        memcpy(dst, src, k);
        dst[k] = '\0';
    }
    return n;
}

bool rp_streq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

bool rp_str_empty(const char *s)
{
    return !s || !*s;
}

bool rp_str_has_prefix(const char *s, const char *prefix)
{
    if (!prefix || !*prefix)
        return true;
    if (!s)
        return false;
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- base64url ---- */

static const char s_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *rp_b64url_encode(const uint8_t *data, size_t len)
{
    assert(data || len == 0);
    assert(len <= (SIZE_MAX - 4) / 4 * 3);
    size_t out_len = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
    char *out = rp_malloc(out_len + 1);
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *o++ = s_b64_alphabet[v >> 18 & 63];
        *o++ = s_b64_alphabet[v >> 12 & 63];
        *o++ = s_b64_alphabet[v >> 6 & 63];
        *o++ = s_b64_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)data[i] << 16;
        *o++ = s_b64_alphabet[v >> 18 & 63];
        *o++ = s_b64_alphabet[v >> 12 & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
        *o++ = s_b64_alphabet[v >> 18 & 63];
        *o++ = s_b64_alphabet[v >> 12 & 63];
        *o++ = s_b64_alphabet[v >> 6 & 63];
    }
    *o = '\0';
    assert((size_t)(o - out) == out_len);
    return out;
}

/* s_b64_value - the 6-bit value of a base64url character, or -1. */
static int s_b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

long rp_b64url_decode(const char *s, size_t slen, uint8_t *out, size_t cap)
{
    assert(s || slen == 0);
    /* A final group of one character cannot encode a whole byte. */
    if (slen % 4 == 1)
        return -1;
    size_t need = slen / 4 * 3 + (slen % 4 ? slen % 4 - 1 : 0);
    if (need > cap || need > LONG_MAX)
        return -1;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < slen; i++) {
        int v = s_b64_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Left-over bits must be zero, or the text is not the canonical encoding. */
    if (acc != 0)
        return -1;
    assert(n == need);
    return (long)n;
}

/* ---- hex ---- */

void rp_hex_encode(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    assert(out);
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

/* s_hex_value - the value of one hex digit (either case), or -1. */
static int s_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long rp_hex_decode(const char *hex, uint8_t *out, size_t cap)
{
    assert(hex);
    size_t len = strlen(hex);
    if (len % 2 || len / 2 > cap)
        return -1;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = s_hex_value((unsigned char)hex[2 * i]);
        int lo = s_hex_value((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(len / 2);
}

/* ---- files ---- */

int rp_read_file(const char *path, size_t max, char **data, size_t *len)
{
    assert(path && data);
    *data = NULL;
    if (len)
        *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t cap = 4096, n = 0;
    char *buf = rp_malloc(cap);
    for (;;) {
        if (n == cap - 1) {
            if (__builtin_mul_overflow(cap, 2, &cap))
                s_oom(SIZE_MAX);
            buf = rp_realloc(buf, cap);
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            errno = e;
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max)
            break;
    }
    close(fd);
    if (n > max) {
        free(buf);
        errno = EFBIG;
        return -1;
    }
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return 0;
}

/* s_write_all - write len bytes, retrying on EINTR and short writes. */
static int s_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* s_fsync_dir - fsync the directory holding path, so a rename is durable. */
static int s_fsync_dir(const char *path)
{
    char *copy = rp_strdup(path);
    char *slash = strrchr(copy, '/');
    const char *dir = ".";
    if (slash == copy)
        dir = "/";
    else if (slash) {
        *slash = '\0';
        dir = copy;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = -1;
    if (fd >= 0) {
        rc = fsync(fd);
        close(fd);
    }
    free(copy);
    return rc;
}

int rp_write_file_private(const char *path, const void *data, size_t len)
{
    assert(path && (data || len == 0));
    /* The temporary file lives next to the target so rename(2) stays on one file system. */
    char *tmp = rp_sprintf("%s.tmp.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        errno = e;
        return -1;
    }
    int rc = -1;
    if (fchmod(fd, 0600) == 0 && s_write_all(fd, data, len) == 0 && fsync(fd) == 0) {
        if (close(fd) == 0) {
            fd = -1;
            if (rename(tmp, path) == 0) {
                rc = 0;
                /* Best effort: the data is already safe in the renamed file. */
                (void)s_fsync_dir(path);
            }
        } else
            fd = -1;
    }
    if (rc != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        errno = e;
    }
    free(tmp);
    return rc;
}

int rp_mkdir_p(const char *path, unsigned mode)
{
    assert(path);
    if (!*path) {
        errno = ENOENT;
        return -1;
    }
    char *copy = rp_strdup(path);
    int rc = 0;
    /* Create each ancestor in turn; an existing directory is fine. */
    for (char *p = copy + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(copy, (mode_t)mode) != 0) {
                int e = errno;
                struct stat st;
                if (e != EEXIST || stat(copy, &st) != 0 || !S_ISDIR(st.st_mode)) {
                    errno = e == EEXIST ? ENOTDIR : e;
                    rc = -1;
                    *p = saved;
                    break;
                }
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    free(copy);
    return rc;
}
