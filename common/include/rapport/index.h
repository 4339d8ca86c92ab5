/* index.h - the index entries of one stored entity, kept in step with it.
 *
 * A service's store computes every index key of an entity (a composite rp_key_t
 * in a named index table, with an empty value), then, when the entity changes,
 * deletes the entries of the stored version and puts those of the new one in the
 * same transaction, so indexes never drift from their entities. rp_index_set_t
 * collects the entries; rp_index_apply writes or deletes them through the
 * request's transaction.
 */
#ifndef RAPPORT_INDEX_H
#define RAPPORT_INDEX_H
#include <stdbool.h>
#include <stddef.h>
#include "rapport/service.h"
#include "rapport/store.h"

typedef struct {
    const char *table;      /* borrowed: a string that outlives the set */
    rp_key_t key;
} rp_index_entry_t;

typedef struct {
    rp_index_entry_t *v;    /* malloc'd; rp_index_set_clear frees it */
    size_t n, cap;
} rp_index_set_t;

/* rp_index_add - a new, empty key for table in set (grows as needed). */
rp_key_t *rp_index_add(rp_index_set_t *set, const char *table);
/* rp_index_apply - put (del false) or delete (del true) every entry with an empty
 * value in ctx's transaction; a missing entry on delete is fine, an entry whose key
 * overflowed is skipped with a warning. 0, or -1 after replying (rp_reply_lmdb). */
int rp_index_apply(rp_ctx_t *ctx, const rp_index_set_t *set, bool del);
/* rp_index_reset - forget the entries, keep the memory. */
void rp_index_reset(rp_index_set_t *set);
/* rp_index_set_clear - free the entries. */
void rp_index_set_clear(rp_index_set_t *set);

#endif
