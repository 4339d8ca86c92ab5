/* events.h - the event outbox (DESIGN.md §7): table `events`, seq (u64 BE) to Event.
 * Events are appended in the same transaction as the change they describe; seq is
 * gapless per service because it is last+1 inside that transaction and a rolled-back
 * nested transaction rolls its events back too.
 */
#ifndef RAPPORT_EVENTS_H
#define RAPPORT_EVENTS_H
#include <stdint.h>
#include <stddef.h>
#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>
#include "rapport/v1/event.pb-c.h"

/* rp_events_last_seq - the last seq in the table (0 when empty), as seen by txn. */
uint64_t rp_events_last_seq(MDB_txn *txn, MDB_dbi events);
/* rp_events_append - set ev->seq to last+1 and put it. Returns 0 or an LMDB code. */
int rp_events_append(MDB_txn *txn, MDB_dbi events, Rapport__V1__Event *ev);
/* rp_events_append_packed - the same, packing ev once into memory from allocator a;
 * *packed and *len give the stored bytes (for publishing after commit), owned by a. */
int rp_events_append_packed(MDB_txn *txn, MDB_dbi events, Rapport__V1__Event *ev,
                            ProtobufCAllocator *a, uint8_t **packed, size_t *len);
/* rp_events_read - call fn for each event with seq >= from_seq whose type starts with
 * type_prefix (NULL/"" = all), at most limit matches and at most `budget` rows
 * examined (0 = 10 * limit). fn gets the raw packed bytes. *next_seq is the seq after
 * the last row examined. Returns 0, or the first non-zero value fn returned. */
typedef int (*rp_event_fn)(void *arg, uint64_t seq, const uint8_t *data, size_t len);
int rp_events_read(MDB_txn *txn, MDB_dbi events, uint64_t from_seq, uint32_t limit,
                   uint32_t budget, const char *type_prefix, rp_event_fn fn, void *arg,
                   uint64_t *next_seq);

#endif
