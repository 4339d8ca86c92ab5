/* audit.h - the audit hash chain (DESIGN.md §6): table `audit`, seq (u64 BE) to
 * rapport.sys.v1.AuditRecord. hash = BLAKE2b-256(prev || seq || time || actor ||
 * on_behalf_of || method || request_id || subject || digest [|| code || outcome]),
 * each variable field length-prefixed, so that changing any stored record breaks
 * the chain at it. code and outcome are hashed only when set (a failed request's
 * kept record, rp_ctx_keep_on_error in service.h): a successful write's record
 * hashes exactly as before they existed.
 */
#ifndef RAPPORT_AUDIT_H
#define RAPPORT_AUDIT_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <lmdb.h>
#include "rapport/sys/v1/system.pb-c.h"

#define RP_AUDIT_HASH 32

/* rp_audit_hash - the hash of r (r->hash itself is not an input). */
void rp_audit_hash(const Rapport__Sys__V1__AuditRecord *r, uint8_t out[RP_AUDIT_HASH]);
/* The head of the chain (last seq and hash), so a writer need not read the last
 * record back on every append. known = false makes the next append read it. A
 * caller that rolls a transaction back restores the head it had before. */
typedef struct {
    uint64_t seq;
    uint8_t hash[RP_AUDIT_HASH];
    bool known;
} rp_audit_head_t;

/* rp_audit_append - fill seq, prev and hash of r from the head (read from the last
 * record when head is NULL or not known), put it, and advance head. r's digest must
 * be set. Returns 0 or an LMDB code (MDB_CORRUPTED when the last record does not
 * decode). */
int rp_audit_append(MDB_txn *txn, MDB_dbi audit, rp_audit_head_t *head,
                    Rapport__Sys__V1__AuditRecord *r);
/* rp_audit_check - verify a run of records that continues a chain whose previous
 * hash is prev (zeros before seq 1). Returns 0 when intact, else the seq of the first
 * broken record; updates prev to the last good hash for the next run. */
uint64_t rp_audit_check(Rapport__Sys__V1__AuditRecord *const *records, size_t n,
                        uint64_t expect_seq, uint8_t prev[RP_AUDIT_HASH]);

#endif
