/* events.c - the event outbox: table `events`, seq (u64 BE) -> packed rapport.v1.Event.
 *
 * seq is last+1 as seen by the writing transaction. Because every write runs in a
 * nested transaction of the batch, a request that rolls back takes its events with
 * it and the next request reuses the seq: the log stays gapless.
 */
#include <assert.h>
#include <string.h>
#include "rapport/events.h"
#include "rapport/store.h"

uint64_t
rp_events_last_seq(MDB_txn *txn, MDB_dbi events)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, events, &cur) != 0)
        return 0;
    MDB_val k, v;
    uint64_t seq = 0;
    if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
        seq = rp_be_u64(k.mv_data);
    mdb_cursor_close(cur);
    return seq;
}

int
rp_events_append_packed(MDB_txn *txn, MDB_dbi events, Rapport__V1__Event *ev,
                        ProtobufCAllocator *a, uint8_t **packed, size_t *len)
{
    ev->seq = rp_events_last_seq(txn, events) + 1;
    *len = protobuf_c_message_get_packed_size(&ev->base);
    *packed = a->alloc(a->allocator_data, *len ? *len : 1);
    protobuf_c_message_pack(&ev->base, *packed);
    uint8_t key[8];
    rp_u64_be(ev->seq, key);
    MDB_val k = { 8, key }, v = { *len, *packed };
    /* seq is past every key in the table: an append, no search. */
    return mdb_put(txn, events, &k, &v, MDB_APPEND);
}

int
rp_events_append(MDB_txn *txn, MDB_dbi events, Rapport__V1__Event *ev)
{
    ev->seq = rp_events_last_seq(txn, events) + 1;
    uint8_t key[8];
    rp_u64_be(ev->seq, key);
    return rp_store_put_msg(txn, events, key, 8, &ev->base);
}

/* s_type_matches - whether the type field of a packed Event starts with prefix,
 * read without unpacking it all. A record that does not parse never matches. */
static int
s_type_matches(const uint8_t *p, size_t len, const char *prefix, size_t plen)
{
    const char *type;
    size_t n;
    if (rp_pb_string_field(p, len, 3, &type, &n) != 0)
        return 0;
    return n >= plen && memcmp(type, prefix, plen) == 0;
}

int
rp_events_read(MDB_txn *txn, MDB_dbi events, uint64_t from_seq, uint32_t limit,
               uint32_t budget, const char *type_prefix, rp_event_fn fn, void *arg,
               uint64_t *next_seq)
{
    assert(fn && next_seq);
    if (from_seq == 0)
        from_seq = 1;
    if (budget == 0)
        budget = limit > UINT32_MAX / 10 ? UINT32_MAX : limit * 10;
    size_t plen = type_prefix ? strlen(type_prefix) : 0;
    *next_seq = from_seq;

    MDB_cursor *cur;
    if (mdb_cursor_open(txn, events, &cur) != 0)
        return -1;
    uint8_t key[8];
    rp_u64_be(from_seq, key);
    MDB_val k = { 8, key }, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    uint32_t matched = 0, seen = 0;
    int result = 0;
    while (rc == 0 && k.mv_size == 8 && matched < limit && seen < budget) {
        uint64_t seq = rp_be_u64(k.mv_data);
        seen++;
        if (!plen || s_type_matches(v.mv_data, v.mv_size, type_prefix, plen)) {
            result = fn(arg, seq, v.mv_data, v.mv_size);
            if (result)
                break;
            matched++;
        }
        *next_seq = seq + 1;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return result;
}
