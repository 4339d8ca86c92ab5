/* test_leads_offer_index.c - rapport-leads' offer-expiry index holds only the sent
 * offers still to expire, and the sweep's events carry the branch of their lead.
 *
 * A real rapport-leads sends offers in two branches and accepts and rejects some;
 * then, while it is stopped, its LMDB table ix_offer_exp is read (the accepted and
 * rejected offers have no entry) and stale entries are written into it, as a store
 * that drifted would hold: more than one sweep's batch of entries naming leads that
 * do not exist, and entries naming an accepted offer and a sent offer on another
 * day, all due before the real ones. After a restart and the test clock moved past
 * valid_until, the sweeps must get through them to expire the real offers (with
 * offer.expired events in each lead's own branch), and the stopped store must then
 * hold exactly the one entry still due: no stale one is left.
 */
#include <signal.h>
#include "test_leads.h"
#include "rapport/store.h"

#define N_MISSING 250           /* more than the sweep's batch of 200 */

typedef struct {
    int64_t days;
    rp_ulid_t lead, offer;
} ix_entry_t;

/* s_open - the stopped service's store, with ix_offer_exp. */
static rp_store_t *s_open(void)
{
    char *path = rp_sprintf("%s/data/leads", rp_suite_dir(TL.suite));
    static const rp_table_t tables[] = { { "ix_offer_exp", 0 }, { NULL, 0 } };
    /* the version leads has, so no migration runs and the downgrade check passes */
    static const rp_migration_t any[] = { { 1, "leads", NULL }, { 0, NULL, NULL } };
    rp_store_t *st = rp_store_open(path, tables, any, 0);
    assert_non_null(st);
    free(path);
    return st;
}

/* s_read_index - every entry of ix_offer_exp (at most cap) into v; the count. */
static size_t s_read_index(ix_entry_t *v, size_t cap)
{
    rp_store_t *st = s_open();
    MDB_txn *txn;
    MDB_cursor *cur;
    assert_int_equal(mdb_txn_begin(rp_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, rp_store_dbi(st, "ix_offer_exp"), &cur), 0);
    MDB_val k, d;
    size_t n = 0;
    for (int rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        assert_int_equal(k.mv_size, 8 + 2 * RP_ULID_LEN);
        assert_true(n < cap);
        const uint8_t *p = k.mv_data;
        v[n].days = (int64_t)(rp_be_u64(p) ^ (UINT64_C(1) << 63));
        memcpy(v[n].lead.b, p + 8, RP_ULID_LEN);
        memcpy(v[n].offer.b, p + 8 + RP_ULID_LEN, RP_ULID_LEN);
        n++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    rp_store_destroy(&st);
    return n;
}

/* s_write_index - put the n entries of v into ix_offer_exp. */
static void s_write_index(const ix_entry_t *v, size_t n)
{
    rp_store_t *st = s_open();
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(rp_store_env(st), NULL, 0, &txn), 0);
    for (size_t i = 0; i < n; i++) {
        rp_key_t k;
        rp_key_init(&k);
        rp_key_i64(&k, v[i].days);
        rp_key_ulid(&k, &v[i].lead);
        rp_key_ulid(&k, &v[i].offer);
        MDB_val kv = rp_key_val(&k), dv = { 0, (void *)"" };
        assert_int_equal(mdb_put(txn, rp_store_dbi(st, "ix_offer_exp"), &kv, &dv, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    rp_store_destroy(&st);
}

/* s_find - the index of the entry naming offer (a ULID string) in v, or -1. */
static int s_find(const ix_entry_t *v, size_t n, const char *offer)
{
    rp_ulid_t u;
    assert_int_equal(rp_ulid_parse(offer, &u), 0);
    for (size_t i = 0; i < n; i++)
        if (memcmp(v[i].offer.b, u.b, RP_ULID_LEN) == 0)
            return (int)i;
    return -1;
}

static void s_stop(void)
{
    assert_int_equal(rp_suite_kill(TL.suite, "leads", SIGTERM), 0);
}

/* s_restart - start leads again on its data, with fresh clients. */
static void s_restart(void)
{
    rp_suite_start(TL.suite, "leads", TL_ENV);
    for (int i = 0; i < TL.n; i++) {
        rp_client_destroy(&TL.c[i]);
        TL.c[i] = rp_suite_client(TL.suite, "leads", TL.tok[i]);
    }
}

/* s_sent - a sent offer on lead valid until today + days. */
static TOffer *s_sent(int p, const char *lead, int days)
{
    static const tl_line_t lines[] = { { "Service", 1, 99900, NULL }, { 0 } };
    TOffer *o = NULL;
    tl_expect(tl_add_offer(p, lead, lines, 0, days, &o), RP_OK);
    tl_expect(tl_offer_action(p, LM("SendOffer"), lead, o->id, NULL, NULL), RP_OK);
    return o;
}

/* s_status - the status of offer on lead, as p reads it. */
static int s_status(int p, const char *lead, const char *offer)
{
    TLead *g = NULL;
    tl_expect(tl_get(p, lead, &g), RP_OK);
    int st = -1;
    for (size_t k = 0; k < g->n_offers; k++)
        if (strcmp(g->offers[k]->id, offer) == 0)
            st = g->offers[k]->status;
    tl_free(g);
    return st;
}

static void test_index_and_expiry(void **state)
{
    (void)state;
    TLead *l1 = tl_new_lead(P_ANNA);            /* branch b1 */
    TLead *l2 = tl_new_lead(P_OLGA);            /* branch b2 */
    TOffer *acc = s_sent(P_ANNA, l1->id, 10);
    TOffer *rej = s_sent(P_ANNA, l1->id, 10);
    TOffer *due1 = s_sent(P_ANNA, l1->id, 2);
    TOffer *later = s_sent(P_ANNA, l1->id, 30);
    TOffer *due2 = s_sent(P_OLGA, l2->id, 2);
    tl_expect(tl_offer_action(P_ANNA, LM("AcceptOffer"), l1->id, acc->id, NULL, NULL), RP_OK);
    tl_expect(tl_offer_action(P_ANNA, LM("RejectOffer"), l1->id, rej->id, "too dear", NULL), RP_OK);
    int64_t now = tl_now(), today = now / TL_DAY_MS;

    /* accepted and rejected offers left the index; the sent ones are in it */
    s_stop();
    static ix_entry_t v[N_MISSING + 16];
    size_t n = s_read_index(v, sizeof v / sizeof v[0]);
    assert_int_equal(n, 3);
    assert_int_equal(s_find(v, n, acc->id), -1);
    assert_int_equal(s_find(v, n, rej->id), -1);
    assert_true(s_find(v, n, due1->id) >= 0);
    assert_true(s_find(v, n, due2->id) >= 0);
    int k = s_find(v, n, later->id);
    assert_true(k >= 0);
    ix_entry_t keep = v[k];
    assert_int_equal(keep.days, today + 30);

    /* stale entries, all due before the real ones */
    size_t m = 0;
    for (int i = 0; i < N_MISSING; i++, m++) {        /* leads that do not exist */
        v[m].days = today - 300 + i;
        rp_ulid_new(now, &v[m].lead);
        rp_ulid_new(now, &v[m].offer);
    }
    rp_ulid_t l1id;
    assert_int_equal(rp_ulid_parse(l1->id, &l1id), 0);
    v[m].days = today - 1;                              /* an accepted offer */
    v[m].lead = l1id;
    assert_int_equal(rp_ulid_parse(acc->id, &v[m++].offer), 0);
    v[m].days = today - 400;                            /* a sent offer, on a wrong day */
    v[m].lead = l1id;
    assert_int_equal(rp_ulid_parse(later->id, &v[m++].offer), 0);
    s_write_index(v, m);
    assert_int_equal(s_read_index(v, sizeof v / sizeof v[0]), m + 3);

    /* past valid_until, the sweeps (200 entries each, every 200 ms) get through */
    s_restart();
    uint64_t seq0 = tl_last_seq();
    tl_advance(4 * TL_DAY_MS);
    bool expired = false;
    for (int i = 0; i < 300 && !expired; i++) {
        expired = s_status(P_ANNA, l1->id, due1->id) == OFS(EXPIRED)
               && s_status(P_OLGA, l2->id, due2->id) == OFS(EXPIRED);
        if (!expired)
            usleep(100 * 1000);
    }
    assert_true(expired);
    /* the stale entries changed nothing */
    assert_int_equal(s_status(P_ANNA, l1->id, acc->id), OFS(ACCEPTED));
    assert_int_equal(s_status(P_ANNA, l1->id, rej->id), OFS(REJECTED));
    assert_int_equal(s_status(P_ANNA, l1->id, later->id), OFS(SENT));

    /* one offer.expired per real offer, in its lead's branch */
    size_t ne = 0;
    Rapport__V1__Event **ev = tl_replay(seq0 + 1, "rapport.leads.v1.offer.expired", &ne);
    assert_int_equal(ne, 2);
    for (size_t i = 0; i < ne; i++) {
        bool first = strcmp(ev[i]->subject, l1->id) == 0;
        assert_true(first || strcmp(ev[i]->subject, l2->id) == 0);
        assert_string_equal(ev[i]->branch, first ? "b1" : "b2");
        assert_string_equal(ev[i]->source, first ? "/branches/b1/leads" : "/branches/b2/leads");
        assert_string_equal(ev[i]->actor, "system");
        TOffer *o = rapport__leads__v1__offer__unpack(NULL, ev[i]->data.len, ev[i]->data.data);
        assert_non_null(o);
        assert_string_equal(o->id, first ? due1->id : due2->id);
        assert_int_equal(o->status, OFS(EXPIRED));
        tl_free(o);
    }
    rp_suite_events_free(&ev, ne);

    /* only the offer still to expire is left in the index: no stale entry */
    s_stop();
    n = s_read_index(v, sizeof v / sizeof v[0]);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].days, keep.days);
    assert_memory_equal(v[0].lead.b, keep.lead.b, RP_ULID_LEN);
    assert_memory_equal(v[0].offer.b, keep.offer.b, RP_ULID_LEN);
    s_restart();

    tl_free(due2);
    tl_free(later);
    tl_free(due1);
    tl_free(rej);
    tl_free(acc);
    tl_free(l2);
    tl_free(l1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_and_expiry),
    };
    return cmocka_run_group_tests_name("leads_offer_index", tests, tl_setup, tl_teardown);
}
