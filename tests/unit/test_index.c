/* test_index.c - unit tests for index.c on a real LMDB environment: an entity
 * (rapport.v1.Request, for its string "id") with two indexes, ix_method (method
 * NUL + id) and ix_trace (trace_id NUL + id, only when set), driven through a real
 * request context (service_internal.h) in a write transaction.
 *   - rp_index_put stores the packed message and its entries, swaps them on
 *     update, refuses a bad id and a fresh id that exists;
 *   - rp_index_apply skips an overflowed key with a warning;
 *   - rp_index_find / rp_index_find_str: unique look-ups, exclusion, overflow;
 *   - rp_index_scan / rp_index_page: prefix and range pages, page tokens,
 *     direct scans of the entity table, dangling entries, bad tokens, overflow.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/src/service_internal.h"
#include "rapport/index.h"
#include "rapport/store.h"
#include "rapport/util.h"
#include "testutil.h"

typedef Rapport__V1__Request Req;
#define REQ_DESC (&rapport__v1__request__descriptor)

static const rp_table_t s_tables[] = {
    { "things", 0 }, { "ix_method", 0 }, { "ix_trace", 0 }, { NULL, 0 }
};

static void s_index(const ProtobufCMessage *m, const rp_ulid_t *id, rp_index_set_t *set)
{
    const Req *r = (const Req *)m;
    rp_key_t *k = rp_index_add(set, "ix_method");
    rp_key_str(k, r->method); rp_key_ulid(k, id);
    if (!rp_str_empty(r->trace_id)) {
        k = rp_index_add(set, "ix_trace");
        rp_key_str(k, r->trace_id); rp_key_ulid(k, id);
    }
}

static const rp_index_entity_t s_thing = { "things", "thing", REQ_DESC, s_index };

typedef struct {
    rp_test_store_t base;
    rp_service_t svc;
    rp_ctx_t *ctx;
    MDB_txn *txn;
} fx_t;

static int s_setup(void **state)
{
    fx_t *fx = *state = rp_test_store_new(sizeof *fx, "index", false);
    if (!fx)
        return -1;
    fx->base.store = rp_store_open(fx->base.dir, s_tables, NULL, 0);
    if (!fx->base.store)
        return -1;
    fx->svc.store = fx->base.store;
    fx->svc.now = 1700000000000;
    fx->ctx = svc_ctx_new(&fx->svc);
    fx->txn = fx->ctx->txn = rp_test_txn(fx->base.store, NULL, 0);
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    if (fx) {
        if (fx->txn)
            mdb_txn_abort(fx->txn);
        svc_ctx_destroy(&fx->ctx);
    }
    return rp_test_store_teardown(state);
}

/* s_id - the n-th test ULID (time n, no randomness): sorts by n. */
static void s_id(int n, rp_ulid_t *u, char s[RP_ULID_STRLEN + 1])
{
    memset(u, 0, sizeof *u);
    u->b[5] = (uint8_t)n;
    rp_ulid_format(u, s);
}

static int s_put(fx_t *fx, int n, const char *method, const char *trace, bool fresh)
{
    rp_ulid_t u;
    char ids[RP_ULID_STRLEN + 1];
    s_id(n, &u, ids);
    Req r = RAPPORT__V1__REQUEST__INIT;
    r.id = ids;
    r.method = (char *)method;
    r.trace_id = (char *)(trace ? trace : "");
    return rp_index_put(fx->ctx, &s_thing, &r.base, NULL, 0, fresh);
}

/* s_has - whether table holds key (prefix s NUL + the n-th ULID). */
static bool s_has(fx_t *fx, const char *table, const char *s, int n)
{
    rp_ulid_t u;
    char ids[RP_ULID_STRLEN + 1];
    s_id(n, &u, ids);
    rp_key_t k;
    rp_key_init(&k);
    rp_key_str(&k, s);
    rp_key_ulid(&k, &u);
    MDB_val kv = rp_key_val(&k), v;
    return mdb_get(fx->txn, rp_store_dbi(fx->base.store, table), &kv, &v) == 0;
}

static size_t s_count(fx_t *fx, const char *table)
{
    MDB_stat st;
    assert_int_equal(mdb_stat(fx->txn, rp_store_dbi(fx->base.store, table), &st), 0);
    return st.ms_entries;
}

static void test_put_keeps_entries_in_step(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_put(fx, 1, "a/Create", "t1", false), 0);
    assert_int_equal(s_put(fx, 2, "a/Create", NULL, true), 0);
    assert_true(s_has(fx, "ix_method", "a/Create", 1));
    assert_true(s_has(fx, "ix_method", "a/Create", 2));
    assert_true(s_has(fx, "ix_trace", "t1", 1));
    assert_int_equal(s_count(fx, "ix_trace"), 1);

    /* the stored value is the packed message, under the 16-byte ULID */
    rp_ulid_t u;
    char ids[RP_ULID_STRLEN + 1];
    s_id(1, &u, ids);
    ProtobufCMessage *m = NULL;
    assert_int_equal(rp_store_get_msg(fx->txn, rp_store_dbi(fx->base.store, "things"), u.b, RP_ULID_LEN,
                                      REQ_DESC, NULL, &m), 0);
    assert_string_equal(((Req *)m)->method, "a/Create");
    assert_string_equal(((Req *)m)->trace_id, "t1");
    protobuf_c_message_free_unpacked(m, NULL);

    /* an update replaces the entries of the stored version */
    assert_int_equal(s_put(fx, 1, "b/Update", NULL, false), 0);
    assert_false(s_has(fx, "ix_method", "a/Create", 1));
    assert_true(s_has(fx, "ix_method", "b/Update", 1));
    assert_int_equal(s_count(fx, "ix_trace"), 0);
    assert_int_equal(s_count(fx, "ix_method"), 2);
    assert_int_equal(s_count(fx, "things"), 2);
    assert_false(rp_ctx_failed(fx->ctx));

    /* pre-packed bytes are stored as they are */
    Req r = RAPPORT__V1__REQUEST__INIT;
    rp_ulid_t u3;
    char id3[RP_ULID_STRLEN + 1];
    s_id(3, &u3, id3);
    r.id = id3;
    r.method = "c/Get";
    size_t len;
    uint8_t *packed = rp_ctx_pack(fx->ctx, &r.base, &len);
    assert_int_equal(rp_index_put(fx->ctx, &s_thing, &r.base, packed, len, true), 0);
    MDB_val k = { RP_ULID_LEN, u3.b }, v;
    assert_int_equal(mdb_get(fx->txn, rp_store_dbi(fx->base.store, "things"), &k, &v), 0);
    assert_int_equal(v.mv_size, len);
    assert_memory_equal(v.mv_data, packed, len);
    assert_true(s_has(fx, "ix_method", "c/Get", 3));
}

static void test_put_refuses(void **state)
{
    fx_t *fx = *state;
    Req r = RAPPORT__V1__REQUEST__INIT;
    r.id = "not-a-ulid";
    r.method = "a/Create";
    assert_int_equal(rp_index_put(fx->ctx, &s_thing, &r.base, NULL, 0, false), -1);
    assert_int_equal(fx->ctx->code, RP_INTERNAL);
    assert_non_null(strstr(fx->ctx->message, "thing without a valid id"));
    assert_int_equal(s_count(fx, "things"), 0);
    assert_int_equal(s_count(fx, "ix_method"), 0);

    svc_ctx_clear_outcome(fx->ctx);     /* forgets the transaction too */
    fx->ctx->txn = fx->txn;
    assert_int_equal(s_put(fx, 1, "a/Create", NULL, true), 0);
    /* fresh means new: the same id again is refused and the entries stay */
    assert_int_equal(s_put(fx, 1, "b/Other", NULL, true), -1);
    assert_int_equal(fx->ctx->code, RP_INTERNAL);
    assert_true(s_has(fx, "ix_method", "a/Create", 1));
    assert_false(s_has(fx, "ix_method", "b/Other", 1));
}

static void test_apply_skips_overflow(void **state)
{
    fx_t *fx = *state;
    rp_index_set_t set = { 0 };
    char big[RP_KEY_MAX + 10];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 40; i++) {      /* beyond the first growth */
        rp_key_t *k = rp_index_add(&set, "ix_method");
        rp_key_u32(k, (uint32_t)i);
    }
    rp_key_str(rp_index_add(&set, "ix_trace"), big);
    rp_test_capture_start();
    assert_int_equal(rp_index_apply(fx->ctx, &set, false), 0);
    char *err = rp_test_capture_end(NULL);
    assert_non_null(strstr(err, "index key too long for ix_trace"));
    free(err);
    assert_int_equal(s_count(fx, "ix_method"), 40);
    assert_int_equal(s_count(fx, "ix_trace"), 0);
    /* deleting entries, some of them missing, is fine */
    rp_index_reset(&set);
    rp_key_u32(rp_index_add(&set, "ix_method"), 3);
    rp_key_u32(rp_index_add(&set, "ix_method"), 999);
    assert_int_equal(rp_index_apply(fx->ctx, &set, true), 0);
    assert_int_equal(s_count(fx, "ix_method"), 39);
    rp_index_set_clear(&set);
    assert_null(set.v);
}

static void test_find(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_put(fx, 1, "m", "dup", false), 0);
    assert_int_equal(s_put(fx, 2, "m", "dup", false), 0);
    assert_int_equal(s_put(fx, 3, "m", "dupe", false), 0);
    rp_key_t p;
    rp_key_init(&p);
    rp_key_str(&p, "dup");
    rp_ulid_t u1, u2, found;
    char s1[RP_ULID_STRLEN + 1], s2[RP_ULID_STRLEN + 1], fs[RP_ULID_STRLEN + 1];
    s_id(1, &u1, s1);
    s_id(2, &u2, s2);
    assert_int_equal(rp_index_find(fx->ctx, "ix_trace", &p, NULL, &found), 1);
    assert_memory_equal(found.b, u1.b, RP_ULID_LEN);
    assert_int_equal(rp_index_find(fx->ctx, "ix_trace", &p, &u1, &found), 1);
    assert_memory_equal(found.b, u2.b, RP_ULID_LEN);
    assert_int_equal(rp_index_find_str(fx->ctx, "ix_trace", &p, s1, fs), 1);
    assert_string_equal(fs, s2);
    assert_int_equal(rp_index_find_str(fx->ctx, "ix_trace", &p, "", fs), 1);
    assert_string_equal(fs, s1);
    assert_int_equal(rp_index_find_str(fx->ctx, "ix_trace", &p, "garbage", fs), 1);
    assert_string_equal(fs, s1);
    /* "dupe" is not "dup" + a ULID */
    assert_int_equal(s_put(fx, 1, "m", NULL, false), 0);
    assert_int_equal(s_put(fx, 2, "m", NULL, false), 0);
    assert_int_equal(rp_index_find(fx->ctx, "ix_trace", &p, NULL, &found), 0);
    rp_key_init(&p);
    rp_key_str(&p, "zzz");
    assert_int_equal(rp_index_find(fx->ctx, "ix_trace", &p, NULL, &found), 0);
    p.overflow = true;
    assert_int_equal(rp_index_find(fx->ctx, "ix_trace", &p, NULL, &found), 0);
    assert_false(rp_ctx_failed(fx->ctx));
}

typedef struct {
    char methods[8][32];
    int n;
} s_rows_t;

static int s_keep(void *arg, const ProtobufCMessage *m)
{
    s_rows_t *r = arg;
    rp_strlcpy(r->methods[r->n++], ((const Req *)m)->method, sizeof r->methods[0]);
    return 1;
}

static void test_scan(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_put(fx, 1, "list", NULL, false), 0);
    assert_int_equal(s_put(fx, 2, "other", NULL, false), 0);
    assert_int_equal(s_put(fx, 3, "list", NULL, false), 0);
    assert_int_equal(s_put(fx, 4, "list", NULL, false), 0);
    rp_key_t lo;
    rp_key_init(&lo);
    rp_key_str(&lo, "list");

    /* pages of two through the entities the index points at */
    s_rows_t rows = { 0 };
    char *next = NULL;
    assert_int_equal(rp_index_scan(fx->ctx, &s_thing, "ix_method", &lo, NULL, NULL, 2, 0, s_keep, &rows,
                                   &next), 0);
    assert_int_equal(rows.n, 2);
    assert_non_null(next);
    assert_int_equal(rp_index_scan(fx->ctx, &s_thing, "ix_method", &lo, NULL, next, 2, 0, s_keep, &rows,
                                   &next), 0);
    assert_int_equal(rows.n, 3);
    assert_null(next);
    for (int i = 0; i < 3; i++)
        assert_string_equal(rows.methods[i], "list");

    /* the entity table itself, in id order */
    rp_key_t all;
    rp_key_init(&all);
    memset(&rows, 0, sizeof rows);
    assert_int_equal(rp_index_scan(fx->ctx, &s_thing, "things", &all, NULL, NULL, 10, 0, s_keep, &rows,
                                   NULL), 0);
    assert_int_equal(rows.n, 4);
    assert_string_equal(rows.methods[1], "other");

    /* an entry whose entity is gone is skipped with a warning */
    rp_ulid_t u;
    char ids[RP_ULID_STRLEN + 1];
    s_id(3, &u, ids);
    MDB_val k = { RP_ULID_LEN, u.b };
    assert_int_equal(mdb_del(fx->txn, rp_store_dbi(fx->base.store, "things"), &k, NULL), 0);
    memset(&rows, 0, sizeof rows);
    rp_test_capture_start();
    assert_int_equal(rp_index_scan(fx->ctx, &s_thing, "ix_method", &lo, NULL, NULL, 10, 0, s_keep, &rows,
                                   &next), 0);
    char *err = rp_test_capture_end(NULL);
    assert_non_null(strstr(err, "index entry without a thing"));
    free(err);
    assert_int_equal(rows.n, 2);
    assert_false(rp_ctx_failed(fx->ctx));

    /* a malformed token is -2 for rp_page_or_reply; nothing replied yet */
    assert_int_equal(rp_index_scan(fx->ctx, &s_thing, "ix_method", &lo, NULL, "bogus", 10, 0, s_keep, &rows,
                                   &next), -2);
    assert_null(next);
    assert_false(rp_ctx_failed(fx->ctx));

    /* an overflowed bound is the caller's bad input */
    rp_key_t hi;
    rp_key_init(&hi);
    hi.overflow = true;
    assert_int_equal(rp_index_page(fx->ctx, "ix_method", &lo, &hi, NULL, 10, 0, NULL, NULL, &next), -1);
    assert_int_equal(fx->ctx->code, RP_INVALID_ARGUMENT);
}

static int s_abort(void *arg, const MDB_val *key, const MDB_val *val)
{
    (void)arg; (void)key; (void)val;
    return -1;
}

static void test_page_abort_replies(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(s_put(fx, 1, "x", NULL, false), 0);
    rp_key_t lo;
    rp_key_init(&lo);
    assert_int_equal(rp_index_page(fx->ctx, "ix_method", &lo, NULL, NULL, 10, 0, s_abort, NULL, NULL), -1);
    assert_int_equal(fx->ctx->code, RP_INTERNAL);
    assert_non_null(strstr(fx->ctx->message, "scan of ix_method failed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_keeps_entries_in_step, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_put_refuses, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_apply_skips_overflow, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_find, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_scan, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_page_abort_replies, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
