/* test_util.c - unit tests for util.c: string helpers, base64url and hex
 * against RFC 4648 vectors and bad input, and the file helpers on a real
 * temporary directory (modes, atomic replace, size limits, mkdir -p).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rapport/util.h"
#include "testutil.h"

static void test_strlcpy(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        size_t size;
        const char *want_dst;
        size_t want_ret;
    } cases[] = {
        { "hello", 10, "hello", 5 },
        { "hello", 6, "hello", 5 },
        { "hello", 5, "hell", 5 },
        { "hello", 1, "", 5 },
        { "", 4, "", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dst[16];
        memset(dst, 'x', sizeof dst);
        size_t ret = rp_strlcpy(dst, cases[i].src, cases[i].size);
        assert_int_equal(ret, cases[i].want_ret);
        assert_string_equal(dst, cases[i].want_dst);
    }
    /* size 0 writes nothing at all */
    char untouched[2] = { 'x', 'y' };
    assert_int_equal(rp_strlcpy(untouched, "abc", 0), 3);
    assert_int_equal(untouched[0], 'x');
}

static void test_string_predicates(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b;
        bool want_eq;
    } eq[] = {
        { NULL, NULL, true }, { NULL, "", false }, { "", NULL, false },
        { "a", "a", true }, { "a", "b", false }, { "ab", "a", false },
    };
    for (size_t i = 0; i < sizeof eq / sizeof eq[0]; i++)
        assert_int_equal(rp_streq(eq[i].a, eq[i].b), eq[i].want_eq);

    static const struct {
        const char *s;
        bool want_empty;
    } empty[] = { { NULL, true }, { "", true }, { " ", false }, { "x", false } };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++)
        assert_int_equal(rp_str_empty(empty[i].s), empty[i].want_empty);

    static const struct {
        const char *s, *prefix;
        bool want;
    } pre[] = {
        { "rapport.leads", "rapport.", true }, { "rapport", "rapport.", false },
        { "abc", "", true }, { "abc", NULL, true }, { NULL, NULL, true },
        { NULL, "a", false }, { "", "a", false }, { "abc", "abc", true },
    };
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
        assert_int_equal(rp_str_has_prefix(pre[i].s, pre[i].prefix), pre[i].want);
}

static void test_alloc_and_dup(void **state)
{
    (void)state;
    assert_null(rp_strdup(NULL));
    assert_null(rp_strndup(NULL, 3));
    char *d = rp_strdup("account");
    assert_string_equal(d, "account");
    rp_free(d);
    assert_null(d);
    d = rp_strndup("account", 3);
    assert_string_equal(d, "acc");
    free(d);
    d = rp_strndup("ab", 10);
    assert_string_equal(d, "ab");
    free(d);
    d = rp_sprintf("%s-%d-%03u", "x", 42, 7u);
    assert_string_equal(d, "x-42-007");
    free(d);
    /* zero-size requests still return distinct, freeable memory */
    void *z = rp_malloc(0);
    assert_non_null(z);
    free(z);
    int *c = rp_calloc(16, sizeof(int));
    for (int i = 0; i < 16; i++)
        assert_int_equal(c[i], 0);
    c = rp_realloc(c, 1024 * sizeof(int));
    assert_int_equal(c[15], 0);
    free(c);
}

static void test_b64url_encode(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        /* RFC 4648 §10, without padding */
        { "", 0, "" }, { "f", 1, "Zg" }, { "fo", 2, "Zm8" }, { "foo", 3, "Zm9v" },
        { "foob", 4, "Zm9vYg" }, { "fooba", 5, "Zm9vYmE" }, { "foobar", 6, "Zm9vYmFy" },
        /* the two characters that differ from standard base64 */
        { "\xfb\xff", 2, "-_8" }, { "\xff\xff\xff", 3, "____" }, { "\x00\x00", 2, "AAA" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = rp_b64url_encode((const uint8_t *)cases[i].in, cases[i].len);
        assert_string_equal(got, cases[i].want);
        free(got);
    }
}

static void test_b64url_decode(void **state)
{
    (void)state;
    static const rp_test_buf_case_t cases[] = {
        { "", 8, 0, "" },
        { "Zg", 8, 1, "f" },
        { "Zm8", 8, 2, "fo" },
        { "Zm9vYmFy", 8, 6, "foobar" },
        { "-_8", 8, 2, "\xfb\xff" },
        { "Zm9vYmFy", 6, 6, "foobar" },     /* exactly fits */
        { "Zm9vYmFy", 5, -1, NULL },        /* overflow */
        { "Zg==", 8, -1, NULL },            /* padding is not base64url */
        { "Zm9v=", 8, -1, NULL },
        { "Z", 8, -1, NULL },               /* one char cannot hold a byte */
        { "Zh", 8, -1, NULL },              /* non-zero left-over bits */
        { "Zm+v", 8, -1, NULL },            /* standard alphabet */
        { "Zm/v", 8, -1, NULL },
        { "Zm9 v", 8, -1, NULL },
        { "Zm9\xc3\xa9", 8, -1, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t out[16];
        long n = rp_b64url_decode(cases[i].in, strlen(cases[i].in), out, cases[i].cap);
        rp_test_buf_check(&cases[i], n, out);
    }
    /* slen bounds the input: the rest of the string is not read */
    uint8_t out[4];
    assert_int_equal(rp_b64url_decode("Zm8!!!", 3, out, sizeof out), 2);
    assert_memory_equal(out, "fo", 2);
}

static void test_b64url_roundtrip(void **state)
{
    (void)state;
    uint8_t data[300], back[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof data; len++) {
        char *enc = rp_b64url_encode(data, len);
        assert_int_equal(strlen(enc), len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0));
        assert_int_equal(rp_b64url_decode(enc, strlen(enc), back, len), (long)len);
        assert_memory_equal(back, data, len);
        free(enc);
    }
}

static void test_hex(void **state)
{
    (void)state;
    char out[16];
    rp_hex_encode((const uint8_t *)"\x00\x01\xab\xff", 4, out);
    assert_string_equal(out, "0001abff");
    rp_hex_encode(NULL, 0, out);
    assert_string_equal(out, "");

    static const rp_test_buf_case_t cases[] = {
        { "0001abff", 8, 4, "\x00\x01\xab\xff" },
        { "ABCD", 8, 2, "\xab\xcd" },
        { "", 8, 0, "" },
        { "abc", 8, -1, NULL },         /* odd length */
        { "0g", 8, -1, NULL },
        { "0 ", 8, -1, NULL },
        { "00112233", 3, -1, NULL },    /* overflow */
        { "001122", 3, 3, "\x00\x11\x22" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t bin[8];
        long n = rp_hex_decode(cases[i].in, bin, cases[i].cap);
        rp_test_buf_check(&cases[i], n, bin);
    }
}

/* s_count_entries - entries in a directory other than . and .. */
static int s_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void test_files(void **state)
{
    (void)state;
    char *dir = rp_test_tmpdir("util");
    char *path = rp_sprintf("%s/key.secret", dir);

    assert_int_equal(rp_write_file_private(path, "first", 5), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* replacing leaves exactly one file with the new content and mode */
    chmod(path, 0644);
    assert_int_equal(rp_write_file_private(path, "second!", 7), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(s_count_entries(dir), 1);

    static const struct {
        size_t max;
        int want_rc;
        int want_errno;
        const char *want_data;
    } reads[] = {
        { 1024, 0, 0, "second!" },
        { 7, 0, 0, "second!" },
        { 6, -1, EFBIG, NULL },
        { 0, -1, EFBIG, NULL },
    };
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        char *data = (char *)1;
        size_t len = 99;
        errno = 0;
        int rc = rp_read_file(path, reads[i].max, &data, &len);
        assert_int_equal(rc, reads[i].want_rc);
        if (rc == 0) {
            assert_int_equal(len, strlen(reads[i].want_data));
            assert_string_equal(data, reads[i].want_data);
            free(data);
        } else {
            assert_int_equal(errno, reads[i].want_errno);
            assert_null(data);
        }
    }

    /* a file bigger than the first read buffer */
    size_t big_len = 100000;
    char *big = rp_malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 26);
    assert_int_equal(rp_write_file_private(path, big, big_len), 0);
    char *data;
    size_t len;
    assert_int_equal(rp_read_file(path, big_len, &data, &len), 0);
    assert_int_equal(len, big_len);
    assert_memory_equal(data, big, big_len);
    assert_int_equal(data[len], '\0');
    free(data);
    errno = 0;
    assert_int_equal(rp_read_file(path, big_len - 1, &data, &len), -1);
    assert_int_equal(errno, EFBIG);
    free(big);

    /* empty file */
    assert_int_equal(rp_write_file_private(path, "", 0), 0);
    assert_int_equal(rp_read_file(path, 10, &data, NULL), 0);
    assert_string_equal(data, "");
    free(data);

    char *missing = rp_sprintf("%s/nope", dir);
    errno = 0;
    assert_int_equal(rp_read_file(missing, 10, &data, &len), -1);
    assert_int_equal(errno, ENOENT);
    /* the target's directory must exist */
    char *orphan = rp_sprintf("%s/no/such/file", dir);
    assert_int_equal(rp_write_file_private(orphan, "x", 1), -1);
    free(orphan);
    free(missing);

    free(path);
    assert_int_equal(rp_test_rm_rf(dir), 0);
    free(dir);
}

static void test_mkdir_p(void **state)
{
    (void)state;
    char *dir = rp_test_tmpdir("util");
    static const struct {
        const char *rel;
        int want_rc;
    } cases[] = {
        { "a", 0 },
        { "a", 0 },                 /* already there */
        { "b/c/d", 0 },
        { "b/c/d/", 0 },            /* trailing slash */
        { "e//f", 0 },              /* doubled slash */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = rp_sprintf("%s/%s", dir, cases[i].rel);
        assert_int_equal(rp_mkdir_p(p, 0700), cases[i].want_rc);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        free(p);
    }
    struct stat st;
    char *d = rp_sprintf("%s/b/c", dir);
    assert_int_equal(stat(d, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    free(d);

    /* a path through a regular file fails */
    char *f = rp_sprintf("%s/plain", dir);
    assert_int_equal(rp_write_file_private(f, "x", 1), 0);
    errno = 0;
    assert_int_equal(rp_mkdir_p(f, 0700), -1);
    assert_int_equal(errno, ENOTDIR);
    char *under = rp_sprintf("%s/plain/sub", dir);
    assert_int_equal(rp_mkdir_p(under, 0700), -1);
    free(under);
    free(f);
    assert_int_equal(rp_mkdir_p("", 0700), -1);

    assert_int_equal(rp_test_rm_rf(dir), 0);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strlcpy),
        cmocka_unit_test(test_string_predicates),
        cmocka_unit_test(test_alloc_and_dup),
        cmocka_unit_test(test_b64url_encode),
        cmocka_unit_test(test_b64url_decode),
        cmocka_unit_test(test_b64url_roundtrip),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_mkdir_p),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
