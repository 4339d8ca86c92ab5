/* store.h - one LMDB environment per service (DESIGN.md §5).
 *
 * rp_store_open opens <path>/data.mdb with the named tables a service declares,
 * the platform's own tables (events, idem, idem_exp, offsets, audit, meta), and
 * runs pending schema migrations in order, each in its own transaction with the
 * version recorded in meta. The map grows (rp_store_grow) when a write meets
 * MDB_MAP_FULL instead of failing.
 *
 * Keys: rp_key_t builds composite keys of fixed-width big-endian numbers and
 * NUL-ended strings, so that byte order is the sort order and every list query
 * is a cursor range scan. Page tokens carry the last key examined sealed with
 * crypto_secretbox under a per-store key kept in `meta`, so a client can neither
 * read them (a scan that skipped rows out of the caller's scope must not reveal
 * their keys) nor forge them.
 */
#ifndef RAPPORT_STORE_H
#define RAPPORT_STORE_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>
#include "rapport/ulid.h"

#define RP_KEY_MAX 480

typedef struct rp_store rp_store_t;

typedef struct {
    const char *name;       /* table name */
    unsigned flags;         /* extra mdb_dbi_open flags (MDB_CREATE is implied) */
} rp_table_t;

typedef int (*rp_migration_fn)(rp_store_t *store, MDB_txn *txn);
typedef struct {
    uint32_t version;       /* 1, 2, 3 ... strictly increasing */
    const char *what;       /* one line for the log */
    rp_migration_fn run;    /* 0, or -1 to abort start-up */
} rp_migration_t;

/* rp_store_open - open (creating) the environment in directory path (0700).
 * tables/migrations are NULL-name / zero-version terminated arrays, may be NULL.
 * map_size is the initial map size in bytes. NULL with a log line on failure. */
rp_store_t *rp_store_open(const char *path, const rp_table_t *tables,
                          const rp_migration_t *migrations, size_t map_size);
void rp_store_destroy(rp_store_t **self_p);
MDB_env *rp_store_env(rp_store_t *self);
/* rp_store_dbi - the handle of a table declared at open (asserts it exists). */
MDB_dbi rp_store_dbi(rp_store_t *self, const char *name);
/* rp_store_schema_version - the version recorded in meta (0 for none). */
uint32_t rp_store_schema_version(rp_store_t *self);
/* rp_store_grow - double the map size. No transaction may be open. 0 or -1. */
int rp_store_grow(rp_store_t *self);
size_t rp_store_map_size(rp_store_t *self);

/* rp_store_put_msg - pack m and put it under key. Returns an LMDB code (0 = ok). */
int rp_store_put_msg(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                     const ProtobufCMessage *m);
/* rp_store_get_msg - get and unpack with allocator a (NULL = malloc). Returns 0,
 * MDB_NOTFOUND, or -1 when the stored bytes do not unpack (corruption). */
int rp_store_get_msg(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                     const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *a,
                     ProtobufCMessage **out);

/* rp_pb_string_field - string (or bytes) field number `field` of a packed protobuf
 * message, read without unpacking it: the last occurrence wins, as when decoding.
 * *out points into data (no NUL), *out_len is its length; absent gives "" and 0.
 * Every field of data is walked, so 0 also says the top level is well-formed
 * protobuf; -1 when it is not, or when the field has another wire type. For a
 * read path that needs two or three fields of a stored record (a scope check)
 * and replies with the stored bytes as they are. */
int rp_pb_string_field(const uint8_t *data, size_t len, uint32_t field,
                       const char **out, size_t *out_len);

/* Composite keys. A builder that overflows RP_KEY_MAX sets overflow; callers
 * treat that as INVALID_ARGUMENT (inputs have bounds well below it). */
typedef struct {
    uint8_t b[RP_KEY_MAX];
    size_t len;
    bool overflow;
} rp_key_t;

void rp_key_init(rp_key_t *k);
void rp_key_u8(rp_key_t *k, uint8_t v);
void rp_key_u32(rp_key_t *k, uint32_t v);
void rp_key_u64(rp_key_t *k, uint64_t v);
void rp_key_i64(rp_key_t *k, int64_t v);      /* sign bit flipped: sorts numerically */
void rp_key_str(rp_key_t *k, const char *s);  /* bytes then NUL */
void rp_key_strpfx(rp_key_t *k, const char *s); /* bytes, no NUL: a prefix for scans */
void rp_key_ulid(rp_key_t *k, const rp_ulid_t *u);
void rp_key_bytes(rp_key_t *k, const void *p, size_t n);
/* rp_key_val - an MDB_val over the key (borrowed from k). */
MDB_val rp_key_val(const rp_key_t *k);
/* rp_u64_be / rp_be_u64 - fixed-width big-endian conversion. */
void rp_u64_be(uint64_t v, uint8_t out[8]);
uint64_t rp_be_u64(const uint8_t in[8]);

/* Range scans with pagination.
 * rp_page_scan walks keys k with lo <= k < hi (hi NULL: all keys starting with lo's
 * bytes), starting strictly after the key in page_token when given. For each row it
 * calls fn, which returns 1 when it kept the row, 0 when it skipped it (e.g. out of
 * scope), or -1 to abort. It stops after `limit` kept rows or `budget` examined rows
 * (0 = 100 * limit). When rows may remain, *next_token is set to a malloc'd token
 * (else NULL). Returns 0, -1 when fn aborted, or -2 when page_token is malformed or
 * outside the range. */
typedef int (*rp_scan_fn)(void *arg, const MDB_val *key, const MDB_val *val);
/* rp_page_token - the sealed token that continues a scan after key (len <= 511
 * bytes); malloc'd. For queries that page by hand; rp_page_scan makes its own. */
char *rp_page_token(const void *key, size_t len);
int rp_page_scan(MDB_txn *txn, MDB_dbi dbi, const rp_key_t *lo, const rp_key_t *hi,
                 const char *page_token, uint32_t limit, uint32_t budget,
                 rp_scan_fn fn, void *arg, char **next_token);

#endif
