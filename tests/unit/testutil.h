/* testutil.h - helpers shared by the unit tests (testutil.c, linked into every
 * tests/unit/test_*.c program): temporary directories removed with everything
 * in them, a cmocka fixture with a real LMDB store in a fresh directory,
 * transactions that must begin, stderr captured into a string, and the table
 * row of a function that decodes into a caller's buffer.
 *
 * The functions that check things fail the running cmocka test; the ones meant
 * for a cmocka setup return NULL or -1 instead.
 */
#ifndef RAPPORT_TESTUTIL_H
#define RAPPORT_TESTUTIL_H
#include <stdbool.h>
#include <stddef.h>
#include "rapport/store.h"

/* ---- temporary directories ---- */

/* rp_test_tmpdir - make a fresh directory /tmp/rp-test-<tag>-XXXXXX (asserts);
 * returns its path, malloc'd. */
char *rp_test_tmpdir(const char *tag);

/* rp_test_rm_rf - remove path and everything below it, links not followed.
 * 0, or -1 when something could not be removed. */
int rp_test_rm_rf(const char *path);

/* ---- a store in a temporary directory ---- */

/* rp_test_store_t - the fixture of a test on a real LMDB environment. A test
 * that keeps more state makes this the first member of its own struct. */
typedef struct {
    char dir[64];           /* a fresh directory, removed at teardown */
    rp_store_t *store;      /* NULL until opened; destroyed at teardown */
} rp_test_store_t;

/* rp_test_store_new - for a cmocka setup: a zeroed fixture of size bytes (a
 * struct whose first member is an rp_test_store_t), its directory made as
 * /tmp/rp-test-<tag>-XXXXXX and, when open, a store opened there with the
 * platform tables only. NULL when either fails, with nothing left behind. */
void *rp_test_store_new(size_t size, const char *tag, bool open);

/* rp_test_store_teardown - the cmocka teardown of a fixture from
 * rp_test_store_new: destroy the store, remove the directory, free the fixture
 * and null *state. Always 0. */
int rp_test_store_teardown(void **state);

/* rp_test_txn - begin a transaction on store's environment (asserts it does). */
MDB_txn *rp_test_txn(rp_store_t *store, MDB_txn *parent, unsigned flags);

/* ---- stderr capture ---- */

/* rp_test_capture_start - send stderr to a temporary file until rp_test_capture_end. */
void rp_test_capture_start(void);

/* rp_test_capture_end - restore stderr; returns everything written to it since
 * rp_test_capture_start, NUL-ended and malloc'd, and its length in *len (may be NULL). */
char *rp_test_capture_end(size_t *len);

/* ---- decoding into a caller's buffer ---- */

/* rp_test_buf_case_t - a table row for a function that writes what it makes of
 * in to a buffer of cap bytes and returns the length written, or -1. */
typedef struct {
    const char *in;
    size_t cap;
    long want_len;          /* -1: refused */
    const char *want;       /* want_len bytes; NULL when refused */
} rp_test_buf_case_t;

/* rp_test_buf_check - assert that the call for row c returned want_len (n) and
 * wrote want (the n bytes at out). */
void rp_test_buf_check(const rp_test_buf_case_t *c, long n, const void *out);

#endif
