/* testutil.c - helpers shared by the unit tests (see testutil.h): what each
 * test on a real LMDB environment, on files or on stderr would otherwise write
 * out for itself.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "rapport/util.h"

/* ---- temporary directories ---- */

char *
rp_test_tmpdir(const char *tag)
{
    char *dir = rp_sprintf("/tmp/rp-test-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static int
s_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb; (void) flag; (void) ftw;
    return remove(p);
}

int
rp_test_rm_rf(const char *path)
{
    return nftw(path, s_rm_cb, 8, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* ---- a store in a temporary directory ---- */

void *
rp_test_store_new(size_t size, const char *tag, bool open)
{
    assert_true(size >= sizeof(rp_test_store_t));
    rp_test_store_t *fx = calloc(1, size);
    if (!fx)
        return NULL;
    int n = snprintf(fx->dir, sizeof fx->dir, "/tmp/rp-test-%s-XXXXXX", tag);
    if (n < 0 || (size_t) n >= sizeof fx->dir || !mkdtemp(fx->dir)) {
        free(fx);
        return NULL;
    }
    if (open && !(fx->store = rp_store_open(fx->dir, NULL, NULL, 0))) {
        rp_test_rm_rf(fx->dir);
        free(fx);
        return NULL;
    }
    return fx;
}

int
rp_test_store_teardown(void **state)
{
    rp_test_store_t *fx = *state;
    if (fx) {
        rp_store_destroy(&fx->store);
        rp_test_rm_rf(fx->dir);
        free(fx);
        *state = NULL;
    }
    return 0;
}

MDB_txn *
rp_test_txn(rp_store_t *store, MDB_txn *parent, unsigned flags)
{
    MDB_txn *txn = NULL;
    assert_int_equal(mdb_txn_begin(rp_store_env(store), parent, flags, &txn), 0);
    return txn;
}

/* ---- stderr capture ---- */

static int s_saved_fd = -1;
static FILE *s_capture;

void
rp_test_capture_start(void)
{
    fflush(stderr);
    s_capture = tmpfile();
    assert_non_null(s_capture);
    s_saved_fd = dup(STDERR_FILENO);
    assert_true(s_saved_fd >= 0);
    assert_true(dup2(fileno(s_capture), STDERR_FILENO) >= 0);
}

char *
rp_test_capture_end(size_t *len)
{
    assert_non_null(s_capture);
    fflush(stderr);
    assert_true(dup2(s_saved_fd, STDERR_FILENO) >= 0);
    close(s_saved_fd);
    s_saved_fd = -1;
    fseek(s_capture, 0, SEEK_END);
    long n = ftell(s_capture);
    assert_true(n >= 0);
    rewind(s_capture);
    char *buf = rp_malloc((size_t) n + 1);
    assert_int_equal(fread(buf, 1, (size_t) n, s_capture), (size_t) n);
    buf[n] = '\0';
    fclose(s_capture);
    s_capture = NULL;
    if (len)
        *len = (size_t) n;
    return buf;
}

/* ---- decoding into a caller's buffer ---- */

void
rp_test_buf_check(const rp_test_buf_case_t *c, long n, const void *out)
{
    if (n != c->want_len)
        fail_msg("\"%s\" (cap %zu): returned %ld, want %ld", c->in, c->cap, n, c->want_len);
    if (n > 0 && memcmp(out, c->want, (size_t) n) != 0)
        fail_msg("\"%s\" (cap %zu): wrote other bytes than wanted", c->in, c->cap);
}
