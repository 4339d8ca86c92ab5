/* accounts.h - private types and functions of rapport-accounts.
 *
 * The service is split Postfix-style: main.c (the definition and settings),
 * accounts_clients.c (clients, transfer, lists, tree, portfolio),
 * accounts_contacts.c (contacts, consent, masking, erasure), accounts_work.c
 * (interactions, tasks, the timeline, the contact-policy job),
 * accounts_export.c (audited exports), accounts_events.c (the durable consumer of
 * other services' events: lead.won and the 360 timeline sources, as a table),
 * accounts_rules.c (validation) and accounts_store.c, the only file that touches
 * the tables and keeps the indexes consistent.
 *
 * Messages unpacked by the store use the request arena (rp_ctx_allocator) and need
 * no free; handlers modify them in place with arena memory and write them back
 * with acc_put.
 */
#ifndef RAPPORT_ACCOUNTS_H
#define RAPPORT_ACCOUNTS_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include "rapport/index.h"
#include "rapport/service.h"
#include "rapport/clock.h"
#include "rapport/values.h"
#include "rapport/store.h"
#include "rapport/accounts/v1/accounts.pb-c.h"
#include "rapport/accounts/v1/store.pb-c.h"
#include "rapport/v1/types.pb-c.h"

typedef Rapport__Accounts__V1__Client Client;
typedef Rapport__Accounts__V1__ClientSummary ClientSummary;
typedef Rapport__Accounts__V1__Contact Contact;
typedef Rapport__Accounts__V1__Consent Consent;
typedef Rapport__Accounts__V1__Interaction Interaction;
typedef Rapport__Accounts__V1__Task Task;
typedef Rapport__Accounts__V1__TimelineEntry TimelineEntry;
typedef Rapport__Accounts__V1__Export Export;
typedef Rapport__Accounts__V1__Address Address;
typedef Rapport__Accounts__V1__OwnerChange OwnerChange;
typedef Rapport__V1__Date Date;

#define ACC_(e, x) RAPPORT__ACCOUNTS__V1__##e##__##x
#define KIND_LEGAL      ACC_(CLIENT_KIND, CLIENT_KIND_LEGAL_ENTITY)
#define TIER_UNSPEC     ACC_(TIER, TIER_UNSPECIFIED)
#define TIER_KEY        ACC_(TIER, TIER_KEY)
#define TIER_CORPORATE  ACC_(TIER, TIER_CORPORATE)
#define TIER_REGULAR    ACC_(TIER, TIER_REGULAR)
#define TIER_RETAIL     ACC_(TIER, TIER_RETAIL)
#define TIER_COUNT      5
#define LC_UNSPEC       ACC_(LIFECYCLE, LIFECYCLE_UNSPECIFIED)
#define LC_PROSPECT     ACC_(LIFECYCLE, LIFECYCLE_PROSPECT)
#define LC_NEW          ACC_(LIFECYCLE, LIFECYCLE_NEW)
#define LC_LOST         ACC_(LIFECYCLE, LIFECYCLE_LOST)
#define ROLE_UNSPEC     ACC_(DECISION_ROLE, DECISION_ROLE_UNSPECIFIED)
#define CONSENT_WITHDRAWN ACC_(CONSENT_STATE, CONSENT_STATE_WITHDRAWN)
#define TS_OPEN         ACC_(TASK_STATUS, TASK_STATUS_OPEN)
#define TS_DONE         ACC_(TASK_STATUS, TASK_STATUS_DONE)
#define TS_CANCELLED    ACC_(TASK_STATUS, TASK_STATUS_CANCELLED)
#define TK_CALL         ACC_(TASK_KIND, TASK_KIND_CALL)
#define TK_MEETING      ACC_(TASK_KIND, TASK_KIND_MEETING)
#define TK_VISIT        ACC_(TASK_KIND, TASK_KIND_VISIT)
#define TP_NORMAL       ACC_(TASK_PRIORITY, TASK_PRIORITY_NORMAL)
#define TP_HIGH         ACC_(TASK_PRIORITY, TASK_PRIORITY_HIGH)
#define EX_PENDING      ACC_(EXPORT_STATUS, EXPORT_STATUS_PENDING)
#define EX_READY        ACC_(EXPORT_STATUS, EXPORT_STATUS_READY)
#define EX_REJECTED     ACC_(EXPORT_STATUS, EXPORT_STATUS_REJECTED)
#define EX_DONE         ACC_(EXPORT_STATUS, EXPORT_STATUS_DONE)

/* Bounds (the skeleton already caps every string at 4096 bytes and lists at 1000). */
#define ACC_NAME_MAX        200
#define ACC_TAXID_MAX       64
#define ACC_SHORT_MAX       100     /* region, industry */
#define ACC_LINE_MAX        200     /* address lines, city, position, task title */
#define ACC_POSTAL_MAX      20
#define ACC_SEGMENT_MAX     50
#define ACC_SEGMENTS_MAX    20
#define ACC_PREFS_MAX       2000
#define ACC_NOTES_MAX       4000
#define ACC_NOTE_MAX        2000
#define ACC_REASON_MAX      500
#define ACC_EMAIL_MAX       254
#define ACC_PHONE_MAX       50
#define ACC_PHONES_MAX      5
#define ACC_LINK_ID_MAX     64
#define ACC_USER_MAX        63      /* fits rp_claims_t.sub */
#define ACC_UNIT_MAX        127     /* fits rp_claims_t.unit */
#define ACC_IMPORT_KEY_MAX  128
#define ACC_HISTORY_MAX     100     /* owner changes kept */
#define ACC_TREE_DEPTH      8
#define ACC_TREE_NODES      1000
#define ACC_PAGE_DEFAULT    50
#define ACC_PAGE_MAX        500
#define ACC_SUMMARY_MAX     200     /* timeline summaries of upstream events */

/* ---- settings (main.c, read once at start) ---- */
typedef struct {
    uint32_t silence_days[TIER_COUNT];  /* by tier; 0 = no policy */
    uint64_t export_limit;              /* rows a requester may export without approval... */
    int64_t export_window_ms;           /* ... within this rolling window */
    uint32_t pending_days;              /* pending timeline entries older are purged; 0 = never */
} acc_settings_t;
extern acc_settings_t acc_settings;

/* ---- accounts_store.c: tables, entities, indexes ---- */

extern const rp_table_t acc_tables[];
extern const rp_migration_t acc_migrations[];

/* An entity kind: its table, message type and index entries (rapport/index.h). */
typedef rp_index_entity_t acc_entity_t;
extern const acc_entity_t ACC_CLIENT, ACC_CONTACT, ACC_INTERACTION, ACC_TASK, ACC_EXPORT;

/* acc_get - the record with this id, unpacked into the arena. 0, MDB_NOTFOUND, or
 * -1 after replying INTERNAL. */
int acc_get(rp_ctx_t *ctx, const acc_entity_t *e, const rp_ulid_t *id, void *out);
/* acc_get_str - the same for an id string that is known to be a ULID (stored refs);
 * MDB_NOTFOUND when it is not one. */
int acc_get_str(rp_ctx_t *ctx, const acc_entity_t *e, const char *id, void *out);
/* acc_put - write m (its "id" field names the key) and bring its indexes up to date:
 * the entries of the stored version are removed, those of m added. 0 or -1 (replied). */
int acc_put(rp_ctx_t *ctx, const acc_entity_t *e, const ProtobufCMessage *m);

/* acc_find - the first record id under an index prefix: 1 found (id set), 0 none, -1
 * replied. Values are folded here as the index folds them. */
int acc_find_taxid(rp_ctx_t *ctx, const char *tax_id, const char *exclude_id, char id[RP_ULID_STRLEN + 1]);
int acc_find_client_import(rp_ctx_t *ctx, const char *key, char id[RP_ULID_STRLEN + 1]);
/* acc_find_contact_import also finds the contact an erased contact's import key
 * belonged to (erased_imports). */
int acc_find_contact_import(rp_ctx_t *ctx, const char *key, char id[RP_ULID_STRLEN + 1]);
/* acc_erased_import_put - remember (as a hash) that the contact with this import key
 * was erased. 0 or -1 (replied). */
int acc_erased_import_put(rp_ctx_t *ctx, const char *key, const rp_ulid_t *contact);
/* acc_reply_keep - note that this request's idempotency reply holds the contact
 * (CreateContact, UpdateContact, SetConsent). 0 or -1 (replied). */
int acc_reply_keep(rp_ctx_t *ctx, const char *contact_id);
/* acc_replies_rewrite - give every kept reply that holds the contact body (the
 * anonymised contact) instead, keeping its request id and digest, so a retry gets
 * the erased contact and changes nothing. 0 or -1 (replied). */
int acc_replies_rewrite(rp_ctx_t *ctx, const char *contact_id, const ProtobufCMessage *body);

/* Index scans. Each yields records of one entity kind, one page at a time. */
typedef enum {
    AQ_CLIENT_OWNER,    /* s = owner */
    AQ_CLIENT_TIER,     /* n1 = tier */
    AQ_CLIENT_SEGMENT,  /* s = segment */
    AQ_CLIENT_NAME,     /* s = folded name prefix */
    AQ_CLIENT_PARENT,   /* u = parent */
    AQ_CLIENT_ALL,      /* the clients table */
    AQ_CLIENT_SILENT,   /* n1 = tier, last_contact_at < n2, not yet raised */
    AQ_CONTACT_CLIENT,  /* u = client */
    AQ_INTERACTION_CLIENT, /* u = client */
    AQ_TASK_ASSIGNEE,   /* s = assignee, open, due days in [n1, n2) */
    AQ_TASK_CLIENT,     /* u = client, open */
    AQ_TASK_DUE,        /* open, not yet raised overdue, due days < n2 */
    AQ_EXPORT_TIME,     /* newest first */
    AQ_EXPORT_REQUESTER, /* s = requested_by, created_at in [n1, n2) */
} acc_query_kind_t;

typedef struct {
    acc_query_kind_t kind;
    const char *s;
    const rp_ulid_t *u;
    int64_t n1, n2;
} acc_query_t;

/* acc_row_fn - per record; the message is malloc'd and freed after the call (copy
 * what you keep with acc_copy). 1 kept, 0 skipped, -1 abort. */
typedef int (*acc_row_fn)(void *arg, const ProtobufCMessage *m);
/* acc_query - one page (rp_page_scan semantics; budget 0 = 100 * limit). *next_token
 * an arena copy or NULL. 0, -1 (replied), -2 bad page token. */
int acc_query(rp_ctx_t *ctx, const acc_query_t *q, const char *page_token, uint32_t limit,
              uint32_t budget, acc_row_fn fn, void *arg, char **next_token);
/* The rows of one list page: the arg of a list's row function starts with it. */
typedef struct {
    rp_ctx_t *ctx;
    void **v;
    size_t n;
} acc_rows_t;
/* acc_list_page - one page of q for a list method, from the request's page_size
 * and page_token: fn adds rows to rows (rows->v is sized here for the page). *out
 * is a new reply of type `reply` (arena) whose repeated message field `field`
 * holds the rows and whose next_page_token is set. 0, or -1 (replied; a bad page
 * token is INVALID_ARGUMENT). */
int acc_list_page(rp_ctx_t *ctx, const acc_query_t *q, uint32_t page_size, const char *page_token,
                  acc_row_fn fn, acc_rows_t *rows, const ProtobufCMessageDescriptor *reply,
                  const char *field, ProtobufCMessage **out);
/* acc_copy - an arena copy of m (pack and unpack with the arena allocator). */
void *acc_copy(rp_ctx_t *ctx, const ProtobufCMessage *m);

/* Timeline: entries by client (newest first) and pending ones for upstream
 * subjects not linked to a client yet. */
int acc_timeline_put(rp_ctx_t *ctx, const rp_ulid_t *client, const TimelineEntry *t);
int acc_timeline_page(rp_ctx_t *ctx, const rp_ulid_t *client, const char *page_token,
                      uint32_t limit, TimelineEntry **v, size_t *n, char **next_token);
int acc_pending_put(rp_ctx_t *ctx, const char *upstream, const char *subject, const TimelineEntry *t);
/* acc_pending_move - move every pending entry of (upstream, subject) to the client's
 * timeline. 0 or -1. */
int acc_pending_move(rp_ctx_t *ctx, const char *upstream, const char *subject, const rp_ulid_t *client);
/* Links of upstream entities (a lead) to clients. acc_link_get: 1 with *client set,
 * 0 none, -1 replied. */
int acc_link_get(rp_ctx_t *ctx, const char *upstream, const char *subject, rp_ulid_t *client);
int acc_link_put(rp_ctx_t *ctx, const char *upstream, const char *subject, const rp_ulid_t *client);
/* An upstream entity named by its service (or kind) and id. */
typedef struct {
    const char *upstream;
    const char *subject;
} acc_ref_t;
/* acc_wait_put - (upstream, subject) belongs to the client (on_upstream, on_subject)
 * will be linked to. 0 or -1 (replied). */
int acc_wait_put(rp_ctx_t *ctx, const char *on_upstream, const char *on_subject, const char *upstream,
                 const char *subject);
/* acc_waits_take - remove and return (arena array in *out, *n entries) what waited
 * on (upstream, subject). 0 or -1 (replied). */
int acc_waits_take(rp_ctx_t *ctx, const char *upstream, const char *subject, acc_ref_t **out, size_t *n);
/* acc_pending_purge (accounts_store_purge.c) - drop pending entries whose at is
 * before `before` (unix ms), walking on from where the last call stopped: at most
 * `scan` keys looked at and `drop` dropped (*dropped). 0, or -1 (replied). */
int acc_pending_purge(rp_ctx_t *ctx, int64_t before, uint32_t scan, uint32_t drop, size_t *dropped);
/* Export cursors (store.proto). acc_cursor_get: 0 (a fresh cursor when none) or -1. */
int acc_cursor_get(rp_ctx_t *ctx, const rp_ulid_t *export_id, Rapport__Accounts__V1__ExportCursor **out);
int acc_cursor_put(rp_ctx_t *ctx, const rp_ulid_t *export_id, const Rapport__Accounts__V1__ExportCursor *c);

/* ---- accounts_rules.c: validation and small rules ---- */

int acc_client_fields_or_reply(rp_ctx_t *ctx, const char *legal_name, const char *trade_name,
                               const char *tax_id, const char *country, const char *region,
                               const Address *address, const char *industry, const char *language,
                               char *const *segments, size_t n_segments, const char *preferences,
                               const char *notes, bool check_name);
int acc_phones_or_reply(rp_ctx_t *ctx, const char *field, char *const *v, size_t n);
int acc_emails_or_reply(rp_ctx_t *ctx, const char *field, char *const *v, size_t n);
int acc_mask_or_reply(rp_ctx_t *ctx, char *const *mask, size_t n, const char *const *paths);
bool acc_mask_has(char *const *mask, size_t n, const char *path);
uint32_t acc_page_size(uint32_t page_size);
int acc_due_time_or_reply(rp_ctx_t *ctx, const char *field, const char *s);
/* acc_upper / acc_lower - ASCII case in place over an arena copy. */
char *acc_upper(rp_ctx_t *ctx, const char *s);
char *acc_lower(rp_ctx_t *ctx, const char *s);
/* acc_emit - rp_ctx_emit, replying INTERNAL when it fails. */
int acc_emit(rp_ctx_t *ctx, const char *type, const char *subject, const ProtobufCMessage *m);

/* ---- accounts_clients.c ---- */

/* acc_client_load_or_reply - parse id, load, check scope: NOT_FOUND when missing or
 * out of scope. */
int acc_client_load_or_reply(rp_ctx_t *ctx, const char *field, const char *id, Client **out);
ClientSummary *acc_client_summary(rp_ctx_t *ctx, const Client *c);
/* acc_client_new - a client with defaults (arena), not yet written. */
Client *acc_client_new(rp_ctx_t *ctx);
/* acc_client_create - write a new client and raise client.created. 0 or -1. */
int acc_client_create(rp_ctx_t *ctx, Client *c);
/* acc_silence_days - whole days since last contact; acc_contact_overdue - past the
 * tier's policy. */
uint32_t acc_silence_days(rp_ctx_t *ctx, const Client *c);
bool acc_contact_overdue(rp_ctx_t *ctx, const Client *c);

int acc_create_client(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_get_client(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_update_client(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_transfer_client(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_list_clients(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_client_tree(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_portfolio(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);

/* ---- accounts_contacts.c ---- */

/* acc_contact_view - the contact as the caller may see it (masked copy when the
 * caller lacks accounts.contacts.read). */
Contact *acc_contact_view(rp_ctx_t *ctx, Contact *c);
/* acc_contact_masked - an arena copy of c with phones and e-mails masked (masked set),
 * whoever the caller is: what every contact event carries. */
Contact *acc_contact_masked(rp_ctx_t *ctx, const Contact *c);
/* acc_contact_load_or_reply - load through the client's scope; *client may be NULL. */
int acc_contact_load_or_reply(rp_ctx_t *ctx, const char *field, const char *id, Contact **out,
                              Client **client);
/* acc_contact_reachable_or_reply - FAILED_PRECONDITION for a do-not-contact contact. */
int acc_contact_reachable_or_reply(rp_ctx_t *ctx, const Contact *c);
/* acc_contact_add - write a new contact of client (count kept), raise contact.created. */
int acc_contact_add(rp_ctx_t *ctx, Client *client, Contact *c);

int acc_create_contact(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_get_contact(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_update_contact(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_set_consent(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_erase_contact(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_list_contacts(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);

/* ---- accounts_work.c ---- */

/* acc_task_add - write a new task, count it on its client (when it has one) and
 * raise task.created. 0 or -1 (replied). */
int acc_task_add(rp_ctx_t *ctx, Task *t);

int acc_log_interaction(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_list_interactions(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_timeline(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_create_task(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_get_task(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_update_task(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_complete_task(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_cancel_task(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_list_tasks(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_get_contact_policy(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
/* acc_policy_job - timer: contact-policy lapses and overdue tasks, once each. */
int acc_policy_job(rp_ctx_t *ctx);

/* ---- accounts_export.c ---- */

int acc_request_export(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_approve_export(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_reject_export(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_get_export(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_fetch_export(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int acc_list_exports(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);

/* ---- accounts_events.c ---- */

/* acc_consumers - one durable consumer per upstream named in the timeline sources
 * table whose RAPPORT_ACCOUNTS_FROM_<UPSTREAM> is on (the default): *out is a
 * static NULL-upstream terminated array, or NULL when none is followed. 0, or -1
 * after a message on a bad setting. */
int acc_consumers(const rp_consumer_def_t **out);

#endif
