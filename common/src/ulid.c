/* ulid.c - ULIDs (https://github.com/ulid/spec): 48 bits of unix ms then 80
 * bits of libsodium randomness, stored big-endian in 16 bytes so that keys
 * sort by time, written as 26 Crockford base32 characters.
 *
 * Ids are monotonic within a process: a new id for the same millisecond as
 * the previous one takes the previous random part plus one, so ids made in one
 * millisecond still sort in the order they were made. The state sits behind a
 * mutex; any thread may call rp_ulid_new. In the (2^-80 unlikely) case that
 * the random part would wrap, the carry runs into the timestamp, which keeps
 * the order at the cost of one millisecond of precision.
 */
#include "rapport/ulid.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define S_MAX_MS ((int64_t)0xFFFFFFFFFFFF)   /* 2^48 - 1 */

static const char s_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static bool s_sodium_ready;
static int64_t s_last_ms = -1;
static uint8_t s_last_rand[10];

/* s_put_ms - the 48-bit big-endian timestamp into b[0..5]. */
static void s_put_ms(uint8_t *b, int64_t ms)
{
    for (int i = 5; i >= 0; i--) {
        b[i] = (uint8_t)(ms & 0xFF);
        ms >>= 8;
    }
}

/* s_increment - add one to a big-endian number; true when it wrapped to zero. */
static bool s_increment(uint8_t *b, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        if (++b[i] != 0)
            return false;
    }
    return true;
}

void rp_ulid_new(int64_t ms, rp_ulid_t *out)
{
    assert(out);
    assert(ms >= 0 && ms <= S_MAX_MS);
    pthread_mutex_lock(&s_lock);
    if (!s_sodium_ready) {
        if (sodium_init() < 0) {
            fprintf(stderr, "rapport: libsodium failed to initialise\n");
            abort();
        }
        s_sodium_ready = true;
    }
    if (ms == s_last_ms) {
        if (s_increment(s_last_rand, sizeof s_last_rand)) {
            /* The random part wrapped: carry into the time. */
            assert(ms < S_MAX_MS);
            s_last_ms = ++ms;
        }
    } else {
        randombytes_buf(s_last_rand, sizeof s_last_rand);
        s_last_ms = ms;
    }
    s_put_ms(out->b, ms);
    memcpy(out->b + 6, s_last_rand, sizeof s_last_rand);
    pthread_mutex_unlock(&s_lock);
}

void rp_ulid_format(const rp_ulid_t *u, char out[RP_ULID_STRLEN + 1])
{
    assert(u && out);
    unsigned __int128 v = 0;
    for (int i = 0; i < RP_ULID_LEN; i++)
        v = v << 8 | u->b[i];
    /* 26 digits of 5 bits hold 130 bits: the first digit carries the top 3. */
    for (int i = RP_ULID_STRLEN - 1; i >= 0; i--) {
        out[i] = s_alphabet[(unsigned)(v & 31)];
        v >>= 5;
    }
    out[RP_ULID_STRLEN] = '\0';
}

/* s_digits - the value of each byte as a Crockford base32 digit, or -1:
 * case-insensitive; I and L read as 1 and O as 0; U is not a digit. */
static const int8_t s_digits[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
     0,  1,  2,  3,  4,  5,  6,  7,  8,  9, -1, -1, -1, -1, -1, -1,
    -1, 10, 11, 12, 13, 14, 15, 16, 17,  1, 18, 19,  1, 20, 21,  0,
    22, 23, 24, 25, 26, -1, 27, 28, 29, 30, 31, -1, -1, -1, -1, -1,
    -1, 10, 11, 12, 13, 14, 15, 16, 17,  1, 18, 19,  1, 20, 21,  0,
    22, 23, 24, 25, 26, -1, 27, 28, 29, 30, 31, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

int rp_ulid_parse(const char *s, rp_ulid_t *out)
{
    assert(out);
    if (!s)
        return -1;
    unsigned __int128 v = 0;
    for (int i = 0; i < RP_ULID_STRLEN; i++) {
        int d = s_digits[(unsigned char)s[i]];  /* stops at NUL: it is not a digit */
        if (d < 0)
            return -1;
        if (i == 0 && d > 7)
            return -1;                          /* would not fit in 128 bits */
        v = v << 5 | (unsigned)d;
    }
    if (s[RP_ULID_STRLEN] != '\0')
        return -1;
    for (int i = RP_ULID_LEN - 1; i >= 0; i--) {
        out->b[i] = (uint8_t)(v & 0xFF);
        v >>= 8;
    }
    return 0;
}

void rp_ulid_new_str(int64_t ms, char out[RP_ULID_STRLEN + 1])
{
    rp_ulid_t u;
    rp_ulid_new(ms, &u);
    rp_ulid_format(&u, out);
}

int64_t rp_ulid_time(const rp_ulid_t *u)
{
    assert(u);
    int64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = ms << 8 | u->b[i];
    return ms;
}

bool rp_ulid_is_zero(const rp_ulid_t *u)
{
    assert(u);
    for (int i = 0; i < RP_ULID_LEN; i++) {
        if (u->b[i])
            return false;
    }
    return true;
}
