/* idem.h - idempotency records (DESIGN.md §3): table `idem` maps a request id to
 * {digest of method+body, packed Reply, expiry}; `idem_exp` (expiry ms BE + id) lets
 * a timer drop expired records without scanning everything.
 */
#ifndef RAPPORT_IDEM_H
#define RAPPORT_IDEM_H
#include <stdint.h>
#include <stddef.h>
#include <lmdb.h>

#define RP_IDEM_DIGEST 32

typedef enum { RP_IDEM_NEW = 0, RP_IDEM_REPLAY = 1, RP_IDEM_MISMATCH = 2 } rp_idem_result_t;

/* rp_idem_digest - BLAKE2b-256 of method and body. */
void rp_idem_digest(const char *method, const uint8_t *body, size_t len, uint8_t out[RP_IDEM_DIGEST]);
/* rp_idem_lookup - RP_IDEM_REPLAY with *reply and *len pointing into the txn's map
 * (valid until the txn ends) when the id is known with this digest; RP_IDEM_MISMATCH
 * when known with another digest; RP_IDEM_NEW otherwise. Expired records count as new. */
rp_idem_result_t rp_idem_lookup(MDB_txn *txn, MDB_dbi idem, const char *id, int64_t now_ms,
                                const uint8_t digest[RP_IDEM_DIGEST],
                                const uint8_t **reply, size_t *len);
/* rp_idem_store - keep reply under id until expires_ms. Returns 0 or an LMDB code. */
int rp_idem_store(MDB_txn *txn, MDB_dbi idem, MDB_dbi idem_exp, const char *id,
                  const uint8_t digest[RP_IDEM_DIGEST], const uint8_t *reply, size_t len,
                  int64_t expires_ms);
/* rp_idem_reply - the packed Reply kept under id, whatever its digest or expiry:
 * 0 with *reply and *len pointing into the txn's map (valid until the txn ends or
 * the record is written), MDB_NOTFOUND, or another LMDB code. */
int rp_idem_reply(MDB_txn *txn, MDB_dbi idem, const char *id, const uint8_t **reply, size_t *len);
/* rp_idem_replace - put reply (len bytes, copied) in place of the packed Reply kept
 * under id, keeping its digest and expiry, so a retry is still recognised and gets
 * the new reply (a service rewrites replies that hold data it must forget, e.g. an
 * erased person). 0, MDB_NOTFOUND when no record is kept, or an LMDB code. */
int rp_idem_replace(MDB_txn *txn, MDB_dbi idem, const char *id, const uint8_t *reply, size_t len);
/* rp_idem_expire - process up to max expiry-index entries due at now_ms, deleting
 * each record that is still expired (one rewritten with a later expiry stays).
 * Returns how many index entries were processed (loop while it returns max), or -1
 * on an LMDB error. */
int rp_idem_expire(MDB_txn *txn, MDB_dbi idem, MDB_dbi idem_exp, int64_t now_ms, int max);

#endif
