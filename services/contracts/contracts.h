/* contracts.h - private types and functions of rapport-contracts.
 *
 * Split Postfix-style: main.c (the definition and settings), contracts_quotes.c
 * (quotes and their expiry), contracts_handlers.c (contract methods: drafts,
 * approval, signing, documents, milestones, renewals), contracts_orders.c (orders,
 * deliveries, the overdue job), contracts_jobs.c (the daily contract job and the
 * lead.won consumer), contracts_sign.c (the canonical content, the company key,
 * signing and verifying), contracts_keyring.c (the current and retired public
 * keys and the signing_keys table), contracts_rules.c (validation, totals, the status
 * machine, the document checklists) and contracts_store.c, the only file that
 * touches the tables and keeps the indexes consistent.
 *
 * Messages unpacked by the store use the request arena (rp_ctx_allocator) and need
 * no free; handlers change them in place with arena memory and write them back.
 */
#ifndef RAPPORT_CONTRACTS_H
#define RAPPORT_CONTRACTS_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include "rapport/service.h"
#include "rapport/clock.h"
#include "rapport/values.h"
#include "rapport/store.h"
#include "rapport/contracts/v1/contracts.pb-c.h"
#include "rapport/v1/types.pb-c.h"

typedef Rapport__Contracts__V1__Quote Quote;
typedef Rapport__Contracts__V1__QuoteTerms QuoteTerms;
typedef Rapport__Contracts__V1__QuoteLine QuoteLine;
typedef Rapport__Contracts__V1__QuoteRevision QuoteRevision;
typedef Rapport__Contracts__V1__PaymentTerms PaymentTerms;
typedef Rapport__Contracts__V1__Contract Contract;
typedef Rapport__Contracts__V1__ContractTerms ContractTerms;
typedef Rapport__Contracts__V1__Party Party;
typedef Rapport__Contracts__V1__Instalment Instalment;
typedef Rapport__Contracts__V1__Document Document;
typedef Rapport__Contracts__V1__ApprovalDecision ApprovalDecision;
typedef Rapport__Contracts__V1__Milestone Milestone;
typedef Rapport__Contracts__V1__Signature Signature;
typedef Rapport__Contracts__V1__Order Order;
typedef Rapport__Contracts__V1__OrderItem OrderItem;
typedef Rapport__Contracts__V1__HandOff HandOff;
typedef Rapport__V1__Money Money;
typedef Rapport__V1__Date Date;

#define QS_DRAFT    RAPPORT__CONTRACTS__V1__QUOTE_STATUS__QUOTE_STATUS_DRAFT
#define QS_SENT     RAPPORT__CONTRACTS__V1__QUOTE_STATUS__QUOTE_STATUS_SENT
#define QS_ACCEPTED RAPPORT__CONTRACTS__V1__QUOTE_STATUS__QUOTE_STATUS_ACCEPTED
#define QS_REJECTED RAPPORT__CONTRACTS__V1__QUOTE_STATUS__QUOTE_STATUS_REJECTED
#define QS_EXPIRED  RAPPORT__CONTRACTS__V1__QUOTE_STATUS__QUOTE_STATUS_EXPIRED

#define CS_DRAFT      RAPPORT__CONTRACTS__V1__CONTRACT_STATUS__CONTRACT_STATUS_DRAFT
#define CS_PENDING    RAPPORT__CONTRACTS__V1__CONTRACT_STATUS__CONTRACT_STATUS_PENDING_APPROVAL
#define CS_APPROVED   RAPPORT__CONTRACTS__V1__CONTRACT_STATUS__CONTRACT_STATUS_APPROVED
#define CS_SIGNED     RAPPORT__CONTRACTS__V1__CONTRACT_STATUS__CONTRACT_STATUS_SIGNED
#define CS_ACTIVE     RAPPORT__CONTRACTS__V1__CONTRACT_STATUS__CONTRACT_STATUS_ACTIVE
#define CS_FULFILLED  RAPPORT__CONTRACTS__V1__CONTRACT_STATUS__CONTRACT_STATUS_FULFILLED
#define CS_EXPIRED    RAPPORT__CONTRACTS__V1__CONTRACT_STATUS__CONTRACT_STATUS_EXPIRED
#define CS_TERMINATED RAPPORT__CONTRACTS__V1__CONTRACT_STATUS__CONTRACT_STATUS_TERMINATED

#define CK_UNSPEC    RAPPORT__CONTRACTS__V1__CONTRACT_KIND__CONTRACT_KIND_UNSPECIFIED
#define CK_INITIAL   RAPPORT__CONTRACTS__V1__CONTRACT_KIND__CONTRACT_KIND_INITIAL
#define CK_EXTENSION RAPPORT__CONTRACTS__V1__CONTRACT_KIND__CONTRACT_KIND_EXTENSION
#define CK_RENEWAL   RAPPORT__CONTRACTS__V1__CONTRACT_KIND__CONTRACT_KIND_RENEWAL
#define CK_AMENDMENT RAPPORT__CONTRACTS__V1__CONTRACT_KIND__CONTRACT_KIND_AMENDMENT

#define CT_UNSPEC RAPPORT__CONTRACTS__V1__CONTRACT_TYPE__CONTRACT_TYPE_UNSPECIFIED
#define PR_SELLER RAPPORT__CONTRACTS__V1__PARTY_ROLE__PARTY_ROLE_SELLER
#define PR_BUYER  RAPPORT__CONTRACTS__V1__PARTY_ROLE__PARTY_ROLE_BUYER
#define PR_THIRD  RAPPORT__CONTRACTS__V1__PARTY_ROLE__PARTY_ROLE_THIRD_PARTY

#define DS_REQUIRED RAPPORT__CONTRACTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_REQUIRED
#define DS_RECEIVED RAPPORT__CONTRACTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_RECEIVED
#define DS_VERIFIED RAPPORT__CONTRACTS__V1__DOCUMENT_STATUS__DOCUMENT_STATUS_VERIFIED
#define DG_SIGNING    RAPPORT__CONTRACTS__V1__DOCUMENT_STAGE__DOCUMENT_STAGE_SIGNING
#define DG_FULFILMENT RAPPORT__CONTRACTS__V1__DOCUMENT_STAGE__DOCUMENT_STAGE_FULFILMENT

#define STEP_HEAD     RAPPORT__CONTRACTS__V1__APPROVAL_STEP__APPROVAL_STEP_HEAD
#define STEP_DIRECTOR RAPPORT__CONTRACTS__V1__APPROVAL_STEP__APPROVAL_STEP_DIRECTOR
#define DEC_APPROVED  RAPPORT__CONTRACTS__V1__DECISION__DECISION_APPROVED
#define DEC_REJECTED  RAPPORT__CONTRACTS__V1__DECISION__DECISION_REJECTED

#define OS_RECEIVED   RAPPORT__CONTRACTS__V1__ORDER_STATUS__ORDER_STATUS_RECEIVED
#define OS_PROCESSING RAPPORT__CONTRACTS__V1__ORDER_STATUS__ORDER_STATUS_PROCESSING
#define OS_SHIPPED    RAPPORT__CONTRACTS__V1__ORDER_STATUS__ORDER_STATUS_SHIPPED
#define OS_DELIVERED  RAPPORT__CONTRACTS__V1__ORDER_STATUS__ORDER_STATUS_DELIVERED
#define OS_CLOSED     RAPPORT__CONTRACTS__V1__ORDER_STATUS__ORDER_STATUS_CLOSED
#define OS_CANCELLED  RAPPORT__CONTRACTS__V1__ORDER_STATUS__ORDER_STATUS_CANCELLED

/* Bounds (the skeleton already caps strings at 4096 bytes and lists at 1000). */
#define CT_NAME_MAX        200
#define CT_TAXID_MAX       64
#define CT_UNIT_NAME_MAX   20      /* "pcs", "h" */
#define CT_DESC_MAX        500
#define CT_NOTE_MAX        2000
#define CT_TERMS_MAX       4000
#define CT_DEPT_MAX        100
#define CT_USER_MAX        63
#define CT_VALUE_MAX       INT64_C(10000000000000)   /* 10^13 minor units */
#define CT_QTY_MAX         1000000000
#define CT_MAX_LINES       100
#define CT_MAX_REVISIONS   50
#define CT_MAX_PARTIES     3
#define CT_MAX_INSTALMENTS 120
#define CT_MAX_MILESTONES  100
#define CT_MAX_DOCUMENTS   20
#define CT_MAX_ITEMS       100
#define CT_MAX_HANDOFFS    50
#define CT_MAX_DECISIONS   200
#define CT_PAGE_DEFAULT    50
#define CT_PAGE_MAX        500
#define CT_JOB_BATCH       200
#define CT_MAX_THRESHOLDS  8
#define CT_CODE_MAX        63      /* a branch code in contract numbers (a token's branch) */

/* ---- settings (main.c) ---- */

typedef struct {
    int64_t director_threshold;        /* minor units: above it the director approves */
    uint32_t expiring_days[CT_MAX_THRESHOLDS];   /* descending */
    int n_expiring;
    const char *seller_name;           /* the company's name as the SELLER party */
    const char *key_name;              /* <keys>/<key_name>.key */
} contracts_settings_t;

extern contracts_settings_t contracts_settings;

/* ---- contracts_store.c ---- */

extern const rp_table_t contracts_tables[];
extern const rp_migration_t contracts_migrations[];

typedef enum { CE_QUOTE, CE_CONTRACT, CE_ORDER } contracts_entity_t;

/* contracts_store_get - the entity of this kind and id, unpacked into the arena.
 * 0, MDB_NOTFOUND, or -1 after replying INTERNAL. */
int contracts_store_get(rp_ctx_t *ctx, contracts_entity_t kind, const rp_ulid_t *id, ProtobufCMessage **out);
/* contracts_store_put - write the entity (new or changed) and bring its indexes up
 * to date. 0, or -1 after replying. */
int contracts_store_put(rp_ctx_t *ctx, contracts_entity_t kind, const ProtobufCMessage *m);
/* contracts_store_find_number - the id of the contract with this number. 1, 0 none,
 * -1 replied. */
int contracts_store_find_number(rp_ctx_t *ctx, const char *number, rp_ulid_t *id);
/* contracts_store_find_lead - the id of a contract drafted from this lead. 1/0/-1. */
int contracts_store_find_lead(rp_ctx_t *ctx, const char *lead_id, rp_ulid_t *id);
/* contracts_branch_code - the branch as it appears in contract numbers: upper-cased,
 * at most CT_CODE_MAX bytes. "hq" and "HQ" are one branch with one counter. */
void contracts_branch_code(const char *branch, char code[CT_CODE_MAX + 1]);
/* contracts_store_next_number - the next number of (code, year), code from
 * contracts_branch_code, incremented in the request's transaction. 0 or -1 (replied). */
int contracts_store_next_number(rp_ctx_t *ctx, const char *code, int32_t year, uint64_t *seq);

/* contracts_row_fn - called with an entity valid during the call only; 1 kept, 0
 * skipped, -1 abort. */
typedef int (*contracts_row_fn)(void *arg, const ProtobufCMessage *m);
typedef enum {
    CQ_QUOTES_BY_OWNER,     /* s = owner */
    CQ_CONTRACTS_BY_OWNER,  /* s = owner */
    CQ_ORDERS_BY_CONTRACT,  /* id = contract */
} contracts_query_kind_t;
/* contracts_store_query - one page (rp_page_scan semantics). 0, -1 (replied), -2 bad token. */
int contracts_store_query(rp_ctx_t *ctx, contracts_query_kind_t kind, const char *s,
                          const rp_ulid_t *id, const char *page_token, uint32_t limit,
                          contracts_row_fn fn, void *arg, char **next_token);
/* contracts_store_due - up to max ids from a day index (ix_quote_exp, ix_contract_due,
 * ix_order_due) whose day is < before_day. Returns how many, or -1 (replied). */
int contracts_store_due(rp_ctx_t *ctx, const char *table, int32_t before_day, rp_ulid_t *ids, int max);

/* ---- contracts_rules.c ---- */

const char *contracts_enum_name(const ProtobufCEnumDescriptor *d, int v);

/* contracts_quote_terms_or_reply - validate a quote's terms (violations on field.*). */
int contracts_quote_terms_or_reply(rp_ctx_t *ctx, const char *field, const QuoteTerms *t);
/* contracts_quote_totals_or_reply - a fresh arena copy of t with line totals,
 * subtotal, discount, total and max_discount_bp computed. FAILED_PRECONDITION on
 * overflow. */
int contracts_quote_totals_or_reply(rp_ctx_t *ctx, const QuoteTerms *t, QuoteTerms **out);
/* contracts_terms_or_reply - validate contract terms for a draft (bounds, the
 * instalment-sum rule when a schedule is given), and normalise them in place into
 * an arena copy (parties and schedule sorted). */
int contracts_terms_or_reply(rp_ctx_t *ctx, const char *field, const ContractTerms *t, ContractTerms **out);
/* contracts_terms_sorted - an arena copy of t with parties sorted by (role, name,
 * tax_id) and the schedule by (due, amount, note); no validation. */
ContractTerms *contracts_terms_sorted(rp_ctx_t *ctx, const ContractTerms *t);
/* contracts_complete_or_reply - FAILED_PRECONDITION unless the terms are complete
 * enough to submit (type, parties, dates, schedule). */
int contracts_complete_or_reply(rp_ctx_t *ctx, const ContractTerms *t);
/* contracts_schedule_or_reply - instalments valid and summing exactly to value. */
int contracts_schedule_or_reply(rp_ctx_t *ctx, const char *field, Instalment *const *s, size_t n,
                                const Money *value);
/* contracts_checklist - set c->documents to the checklist of its type, keeping the
 * state of documents already there. */
void contracts_checklist(rp_ctx_t *ctx, Contract *c);
/* contracts_docs_verified - true when every required document of stage is VERIFIED. */
bool contracts_docs_verified(const Contract *c, int stage, int *missing_kind);
int contracts_page_size(uint32_t page_size);
/* contracts_next_day - the next day the daily job has something to do for c, or
 * INT32_MAX for none (see contracts_jobs.c). */
int32_t contracts_next_day(const Contract *c);

/* ---- contracts_sign.c ---- */

/* contracts_key_open - load (creating on first start) the company signing key and
 * open the keyring around it. */
int contracts_key_open(rp_store_t *store, const char *keys_dir);
/* contracts_sign - fill c->signature (hash, signature, key id, who, when). 0 or -1. */
int contracts_sign(rp_ctx_t *ctx, Contract *c);
/* contracts_verify - recompute and check; *reason set when not valid. */
bool contracts_verify(rp_ctx_t *ctx, const Contract *c, char hash_hex[65], const char **reason);
const char *contracts_key_id(void);
const char *contracts_public_hex(void);

/* ---- contracts_keyring.c: the public keys signatures are verified with ---- */

/* contracts_keyring_open - at start: trust the current key pk (secret sk), the
 * retired keys in <keys_dir>/<name>.retired/ (files *.pub) and every recorded key endorsed
 * by a trusted one; endorse the retired files with sk. 0, or -1 with a log line. */
int contracts_keyring_open(rp_store_t *store, const char *keys_dir, const char *name,
                           const unsigned char *sk, const unsigned char *pk);
/* contracts_keyring_find - the trusted public key (32 bytes, static) with this key
 * id, or NULL. */
const unsigned char *contracts_keyring_find(const char *kid);
/* contracts_keyring_recorded - 1 when the store records key kid (trusted or not),
 * 0 when not, -1 replied. */
int contracts_keyring_recorded(rp_ctx_t *ctx, const char *kid);
/* contracts_keyring_record - record the current key, in the request's transaction,
 * unless recorded already (its first signature: contract `number`). 0 or -1. */
int contracts_keyring_record(rp_ctx_t *ctx, const char *number);
/* contracts_keyring_list - every recorded key plus the current one, with current
 * and trusted set; arena memory. 0 or -1 (replied). */
int contracts_keyring_list(rp_ctx_t *ctx, Rapport__Contracts__V1__SigningKeyRecord ***out, size_t *n);

/* ---- contracts_handlers.c: shared helpers ---- */

/* contracts_load_or_reply - id (a ULID or a contract number), loaded and scoped:
 * NOT_FOUND when missing or out of the caller's scope. */
int contracts_load_or_reply(rp_ctx_t *ctx, const char *field, const char *id, Contract **out);
/* contracts_emit - append an event; INTERNAL when it cannot be appended. */
int contracts_emit(rp_ctx_t *ctx, const char *type, const char *subject, const ProtobufCMessage *m);
/* contracts_new_draft - number, id and bookkeeping of a new DRAFT contract for
 * owner/unit in branch, with terms (already validated), stored and contract.drafted
 * emitted. 0 or -1. */
int contracts_new_draft(rp_ctx_t *ctx, const char *owner, const char *unit, const char *branch,
                        int kind, const Contract *parent, ContractTerms *terms,
                        const char *quote_id, const char *lead_id, Contract **out);
/* contracts_list_page - a page of quotes or contracts of in->owner (the caller when
 * empty) that the caller sees; rows are arena copies. 0 or -1 (replied). */
int contracts_list_page(rp_ctx_t *ctx, contracts_query_kind_t kind,
                        const Rapport__Contracts__V1__ListRequest *in,
                        ProtobufCMessage ***rows, size_t *n, char **next);
/* contracts_check_fulfilled - an ACTIVE contract whose orders, milestones and
 * fulfilment documents are all done becomes FULFILLED (stored, event). 0 or -1. */
int contracts_check_fulfilled(rp_ctx_t *ctx, Contract *c);
/* contracts_activate - SIGNED -> ACTIVE (stored by the caller), event. */
int contracts_activate(rp_ctx_t *ctx, Contract *c);

/* ---- method handlers ---- */
#define CT_HANDLER(name) int name(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out)
CT_HANDLER(contracts_create_quote);
CT_HANDLER(contracts_get_quote);
CT_HANDLER(contracts_revise_quote);
CT_HANDLER(contracts_approve_quote);
CT_HANDLER(contracts_send_quote);
CT_HANDLER(contracts_accept_quote);
CT_HANDLER(contracts_reject_quote);
CT_HANDLER(contracts_list_quotes);
CT_HANDLER(contracts_draft);
CT_HANDLER(contracts_draft_from_quote);
CT_HANDLER(contracts_update_draft);
CT_HANDLER(contracts_get);
CT_HANDLER(contracts_submit);
CT_HANDLER(contracts_approve);
CT_HANDLER(contracts_reject);
CT_HANDLER(contracts_sign_h);
CT_HANDLER(contracts_verify_h);
CT_HANDLER(contracts_terminate);
CT_HANDLER(contracts_renew);
CT_HANDLER(contracts_receive_document);
CT_HANDLER(contracts_verify_document);
CT_HANDLER(contracts_add_milestone);
CT_HANDLER(contracts_complete_milestone);
CT_HANDLER(contracts_list);
CT_HANDLER(contracts_signing_key);
CT_HANDLER(contracts_place_order);
CT_HANDLER(contracts_get_order);
CT_HANDLER(contracts_hand_off);
CT_HANDLER(contracts_set_order_status);
CT_HANDLER(contracts_list_orders);

/* Timer jobs. */
int contracts_expire_quotes(rp_ctx_t *ctx);
int contracts_daily(rp_ctx_t *ctx);
int contracts_overdue_orders(rp_ctx_t *ctx);
/* The lead.won consumer. */
int contracts_on_lead_event(rp_ctx_t *ctx, const Rapport__V1__Event *ev);

#endif
