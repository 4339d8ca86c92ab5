/* index.h - the index entries of one stored entity, kept in step with it, and
 * the look-ups and page scans that read them back.
 *
 * A service's store computes every index key of an entity (a composite rp_key_t
 * in a named index table, with an empty value, ending with the entity's ULID),
 * then, when the entity changes, deletes the entries of the stored version and
 * puts those of the new one in the same transaction, so indexes never drift from
 * their entities. rp_index_set_t collects the entries; rp_index_apply writes or
 * deletes them through the request's transaction; rp_index_put does the whole
 * swap for an entity described by an rp_index_entity_t.
 *
 * Reading back: rp_index_find looks up a unique key (a prefix followed by one
 * ULID), rp_index_scan pages through the entities an index range points at, and
 * rp_index_page is the request-level rp_page_scan both use (replies on error,
 * page token in the arena).
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

/* ---- an indexed entity ---- */

/* rp_index_fn - add to set every index entry of m, an entity whose id is id. */
typedef void (*rp_index_fn)(const ProtobufCMessage *m, const rp_ulid_t *id, rp_index_set_t *set);

/* rp_index_entity_t - a kind of entity stored as table: ULID (16 bytes) -> m,
 * where m is a message of type desc with a string field "id" holding the ULID. */
typedef struct {
    const char *table;
    const char *what;                           /* singular, for errors: "lead" */
    const ProtobufCMessageDescriptor *desc;
    rp_index_fn index;
} rp_index_entity_t;

/* rp_index_put - store m as an entity of e under the ULID in its "id" field,
 * deleting the index entries of the stored version (if any) and putting those
 * of m, all in ctx's transaction. packed/len: m already packed (rp_ctx_pack), or
 * NULL to pack it here. fresh: the id is new; no stored version is looked for and
 * an existing one is an error (MDB_NOOVERWRITE). 0, or -1 after replying. */
int rp_index_put(rp_ctx_t *ctx, const rp_index_entity_t *e, const ProtobufCMessage *m,
                 const uint8_t *packed, size_t len, bool fresh);

/* ---- reading back ---- */

/* rp_index_find - the ULID ending the first key of table that is prefix followed
 * by exactly one ULID, skipping the entity exclude (NULL: none). 1 with *found
 * set, 0 when there is none (or prefix overflowed), -1 after replying. */
int rp_index_find(rp_ctx_t *ctx, const char *table, const rp_key_t *prefix,
                  const rp_ulid_t *exclude, rp_ulid_t *found);
/* rp_index_find_str - rp_index_find with ids as strings: exclude_id NULL, empty or
 * not a ULID excludes nothing; found gets the ULID's text. */
int rp_index_find_str(rp_ctx_t *ctx, const char *table, const rp_key_t *prefix,
                      const char *exclude_id, char found[RP_ULID_STRLEN + 1]);

/* rp_index_page - rp_page_scan over table in ctx's transaction: INVALID_ARGUMENT
 * ("query value too long") when lo or hi overflowed, INTERNAL when fn aborted
 * without replying itself. *next_token (may be NULL) is set to the token in the
 * request's arena, or NULL when the scan is complete. Returns rp_page_scan's
 * code: 0, -1 (replied) or -2 (bad page token: see rp_page_or_reply). */
int rp_index_page(rp_ctx_t *ctx, const char *table, const rp_key_t *lo, const rp_key_t *hi,
                  const char *page_token, uint32_t limit, uint32_t budget,
                  rp_scan_fn fn, void *arg, char **next_token);

/* rp_index_row_fn - called per entity with a message unpacked with malloc and
 * freed after the call (copy what you keep); 1 kept, 0 skipped, -1 abort (after
 * replying). */
typedef int (*rp_index_row_fn)(void *arg, const ProtobufCMessage *m);
/* rp_index_scan - a page (rp_index_page) of the entities of e that the keys of
 * table in [lo, hi) end with (hi NULL: keys starting with lo); when table is
 * e->table the rows are the entities themselves. An entry whose entity is missing
 * or does not decode is skipped with a warning. Returns as rp_index_page. */
int rp_index_scan(rp_ctx_t *ctx, const rp_index_entity_t *e, const char *table,
                  const rp_key_t *lo, const rp_key_t *hi, const char *page_token,
                  uint32_t limit, uint32_t budget, rp_index_row_fn fn, void *arg,
                  char **next_token);

#endif
