/* test_ulid.c - unit tests for ulid.c: Crockford base32 against known
 * vectors, lenient-but-strict parsing, timestamps, and monotonic ordering
 * within a millisecond, also from several threads at once.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rapport/ulid.h"

static const struct {
    const char *hex;
    const char *want_str;
    int64_t want_ms;
} s_vectors[] = {
    { "00000000000000000000000000000000", "00000000000000000000000000", 0 },
    { "ffffffffffffffffffffffffffffffff", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", 281474976710655 },
    /* the timestamp of the example in the ULID spec */
    { "01563df364810102030405060708090a", "01ARYZ6S41041061050R3GG28A", 1469918176385 },
    { "0123456789abcdeffedcba9876543210", "014D2PF2DBSQQZXQ5TK1V58CGG", 0x0123456789ab },
};

/* s_from_hex - 32 hex digits into a ULID. */
static void s_from_hex(const char *hex, rp_ulid_t *u)
{
    for (int i = 0; i < RP_ULID_LEN; i++) {
        unsigned v;
        char two[3] = { hex[2 * i], hex[2 * i + 1], 0 };
        v = (unsigned)strtoul(two, NULL, 16);
        u->b[i] = (uint8_t)v;
    }
}

static void test_format_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_vectors / sizeof s_vectors[0]; i++) {
        rp_ulid_t u, back;
        s_from_hex(s_vectors[i].hex, &u);
        char str[RP_ULID_STRLEN + 1];
        rp_ulid_format(&u, str);
        assert_string_equal(str, s_vectors[i].want_str);
        assert_int_equal(rp_ulid_time(&u), s_vectors[i].want_ms);
        assert_int_equal(rp_ulid_parse(str, &back), 0);
        assert_memory_equal(back.b, u.b, RP_ULID_LEN);
    }
}

static void test_parse(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int want_rc;
        const char *want_canon;     /* what it formats back to */
    } cases[] = {
        { "01ARYZ6S41041061050R3GG28A", 0, "01ARYZ6S41041061050R3GG28A" },
        { "01aryz6s41041061050r3gg28a", 0, "01ARYZ6S41041061050R3GG28A" },
        /* Crockford: I and L read as 1, O as 0, either case */
        { "0IARYZ6S41O4IO6IO5OR3GG28A", 0, "01ARYZ6S41041061050R3GG28A" },
        { "0lARYZ6S41o4Lo6lo5oR3GG28A", 0, "01ARYZ6S41041061050R3GG28A" },
        { "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", 0, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" },
        { "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", -1, NULL },     /* over 128 bits */
        { "Z0000000000000000000000000", -1, NULL },
        { "01ARYZ6S41041061050R3GG28U", -1, NULL },     /* U is not a digit */
        { "01ARYZ6S41041061050R3GG28", -1, NULL },      /* 25 chars */
        { "01ARYZ6S41041061050R3GG28AA", -1, NULL },    /* 27 chars */
        { "01ARYZ6S41041061050R3GG28-", -1, NULL },
        { "01ARYZ6S41041061050R3GG2 A", -1, NULL },
        { "01ARYZ6S41041061050R3GG2\xc3\xa9", -1, NULL },
        { "", -1, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rp_ulid_t u;
        assert_int_equal(rp_ulid_parse(cases[i].in, &u), cases[i].want_rc);
        if (cases[i].want_rc == 0) {
            char str[RP_ULID_STRLEN + 1];
            rp_ulid_format(&u, str);
            assert_string_equal(str, cases[i].want_canon);
        }
    }
    rp_ulid_t u;
    assert_int_equal(rp_ulid_parse(NULL, &u), -1);
}

static void test_new(void **state)
{
    (void)state;
    static const int64_t times[] = { 0, 1, 1469918176385, 1763816301123, 281474976710655 };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        rp_ulid_t u;
        rp_ulid_new(times[i], &u);
        assert_int_equal(rp_ulid_time(&u), times[i]);
        char str[RP_ULID_STRLEN + 1], str2[RP_ULID_STRLEN + 1];
        rp_ulid_format(&u, str);
        rp_ulid_t back;
        assert_int_equal(rp_ulid_parse(str, &back), 0);
        assert_memory_equal(back.b, u.b, RP_ULID_LEN);

        rp_ulid_new_str(times[i], str2);
        assert_int_equal(strlen(str2), RP_ULID_STRLEN);
        assert_int_equal(rp_ulid_parse(str2, &back), 0);
        assert_int_equal(rp_ulid_time(&back), times[i]);
        assert_true(strcmp(str2, str) > 0);     /* same ms: later id sorts after */
    }

    rp_ulid_t zero = { { 0 } }, one = { { 0 } };
    one.b[15] = 1;
    assert_true(rp_ulid_is_zero(&zero));
    assert_false(rp_ulid_is_zero(&one));
}

static void test_monotonic(void **state)
{
    (void)state;
    enum { N = 5000 };
    static rp_ulid_t ids[N];
    static char strs[N][RP_ULID_STRLEN + 1];
    int64_t ms = 1763816301123;
    for (int i = 0; i < N; i++) {
        /* a new millisecond every 1000 ids */
        rp_ulid_new(ms + i / 1000, &ids[i]);
        rp_ulid_format(&ids[i], strs[i]);
    }
    for (int i = 1; i < N; i++) {
        assert_true(memcmp(ids[i - 1].b, ids[i].b, RP_ULID_LEN) < 0);
        assert_true(strcmp(strs[i - 1], strs[i]) < 0);   /* the text sorts the same way */
        if (i % 1000 != 0) {
            /* within one ms the random part grows by exactly one */
            rp_ulid_t next = ids[i - 1];
            for (int k = RP_ULID_LEN - 1; k >= 6 && ++next.b[k] == 0; k--)
                ;
            assert_memory_equal(next.b, ids[i].b, RP_ULID_LEN);
        }
    }
    /* a new millisecond draws fresh randomness: two ms apart are not neighbours */
    rp_ulid_t a, b;
    rp_ulid_new(ms + 100, &a);
    rp_ulid_new(ms + 101, &b);
    assert_int_equal(rp_ulid_time(&b), ms + 101);
    assert_true(memcmp(a.b, b.b, RP_ULID_LEN) < 0);
    assert_memory_not_equal(a.b + 6, b.b + 6, 10);
}

enum { S_THREADS = 4, S_PER_THREAD = 5000 };
static rp_ulid_t s_shared[S_THREADS][S_PER_THREAD];

static void *s_worker(void *arg)
{
    rp_ulid_t *out = arg;
    for (int i = 0; i < S_PER_THREAD; i++)
        rp_ulid_new(1763816301999, &out[i]);
    return NULL;
}

static int s_cmp(const void *a, const void *b)
{
    return memcmp(a, b, RP_ULID_LEN);
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[S_THREADS];
    for (int i = 0; i < S_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, s_worker, s_shared[i]), 0);
    for (int i = 0; i < S_THREADS; i++)
        pthread_join(t[i], NULL);
    /* each thread sees its own ids increase, and no id is handed out twice */
    for (int i = 0; i < S_THREADS; i++) {
        for (int k = 1; k < S_PER_THREAD; k++)
            assert_true(memcmp(s_shared[i][k - 1].b, s_shared[i][k].b, RP_ULID_LEN) < 0);
    }
    rp_ulid_t *all = (rp_ulid_t *)s_shared;
    qsort(all, S_THREADS * S_PER_THREAD, sizeof(rp_ulid_t), s_cmp);
    for (int k = 1; k < S_THREADS * S_PER_THREAD; k++)
        assert_true(memcmp(all[k - 1].b, all[k].b, RP_ULID_LEN) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_vectors),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_new),
        cmocka_unit_test(test_monotonic),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
