/* leads.h - private types and functions of rapport-leads.
 *
 * The service is split Postfix-style: main.c (the definition), leads_handlers.c
 * (lead methods), leads_offers.c (offers and their expiry timer), leads_query.c
 * (list queries), leads_funnel.c (the funnel report), leads_rules.c (stage
 * machine, scoring, validation, offer totals) and leads_store.c, the only file
 * that touches the tables and keeps the indexes consistent.
 *
 * Messages unpacked by the store use the request arena (rp_ctx_allocator) and
 * need no free; handlers modify them in place with arena memory and write them
 * back with leads_store_put.
 */
#ifndef RAPPORT_LEADS_H
#define RAPPORT_LEADS_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include "rapport/service.h"
#include "rapport/clock.h"
#include "rapport/values.h"
#include "rapport/store.h"
#include "rapport/leads/v1/leads.pb-c.h"
#include "rapport/v1/types.pb-c.h"

/* Short names for the generated types. */
typedef Rapport__Leads__V1__Lead Lead;
typedef Rapport__Leads__V1__LeadSummary LeadSummary;
typedef Rapport__Leads__V1__Company Company;
typedef Rapport__Leads__V1__Contact Contact;
typedef Rapport__Leads__V1__Qualification Qualification;
typedef Rapport__Leads__V1__CloseDateChange CloseDateChange;
typedef Rapport__Leads__V1__Objection Objection;
typedef Rapport__Leads__V1__Offer Offer;
typedef Rapport__Leads__V1__OfferLine OfferLine;
typedef Rapport__Leads__V1__Competitor Competitor;
typedef Rapport__Leads__V1__Activity Activity;
typedef Rapport__V1__Money Money;
typedef Rapport__V1__Date Date;
typedef Rapport__Leads__V1__LeadStage LeadStage;

#define LS_UNSPEC      RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_UNSPECIFIED
#define LS_NEW         RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_NEW
#define LS_CONTACTED   RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_CONTACTED
#define LS_INTERESTED  RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_INTERESTED
#define LS_NEEDS       RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_NEEDS_IDENTIFIED
#define LS_OFFER       RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_OFFER
#define LS_NEGOTIATION RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_NEGOTIATION
#define LS_WON         RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_WON
#define LS_LOST        RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_LOST
#define LS_COUNT       9            /* enum values 0..8 */

#define SRC_REFERRAL   RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_REFERRAL
#define SRC_COUNT      17           /* enum values 0..16 */

#define ROLE_DECISION_MAKER RAPPORT__LEADS__V1__CONTACT_ROLE__CONTACT_ROLE_DECISION_MAKER
#define ROLE_UNSPEC         RAPPORT__LEADS__V1__CONTACT_ROLE__CONTACT_ROLE_UNSPECIFIED

#define V_UNSPEC       RAPPORT__LEADS__V1__VERDICT__VERDICT_UNSPECIFIED
#define V_UNKNOWN      RAPPORT__LEADS__V1__VERDICT__VERDICT_UNKNOWN
#define V_PROMISING    RAPPORT__LEADS__V1__VERDICT__VERDICT_PROMISING
#define V_UNPROFITABLE RAPPORT__LEADS__V1__VERDICT__VERDICT_UNPROFITABLE

#define LR_UNSPEC       RAPPORT__LEADS__V1__LOST_REASON__LOST_REASON_UNSPECIFIED
#define LR_COMPETITOR   RAPPORT__LEADS__V1__LOST_REASON__LOST_REASON_COMPETITOR
#define LR_DISQUALIFIED RAPPORT__LEADS__V1__LOST_REASON__LOST_REASON_DISQUALIFIED

#define OS_DRAFT    RAPPORT__LEADS__V1__OFFER_STATUS__OFFER_STATUS_DRAFT
#define OS_SENT     RAPPORT__LEADS__V1__OFFER_STATUS__OFFER_STATUS_SENT
#define OS_ACCEPTED RAPPORT__LEADS__V1__OFFER_STATUS__OFFER_STATUS_ACCEPTED
#define OS_REJECTED RAPPORT__LEADS__V1__OFFER_STATUS__OFFER_STATUS_REJECTED
#define OS_EXPIRED  RAPPORT__LEADS__V1__OFFER_STATUS__OFFER_STATUS_EXPIRED

/* Bounds (the skeleton already caps every string at 4096 bytes and lists at 1000). */
#define LEADS_NAME_MAX        200
#define LEADS_TAXID_MAX       64
#define LEADS_SHORT_MAX       100     /* region, industry, campaign */
#define LEADS_EMAIL_MAX       254
#define LEADS_PHONE_MAX       50
#define LEADS_NOTE_MAX        2000
#define LEADS_NEEDS_MAX       4000
#define LEADS_REASON_MAX      500
#define LEADS_USER_MAX        63      /* owner ids fit rp_claims_t.sub */
#define LEADS_UNIT_MAX        127     /* units fit rp_claims_t.unit */
/* The largest expected value, in minor units (10^11 in major units). The funnel
 * sums at most 200,000 leads, so its totals cannot overflow int64. */
#define LEADS_VALUE_MAX       INT64_C(10000000000000)
#define LEADS_IMPORT_KEY_MAX  128
#define LEADS_MAX_CONTACTS    20
#define LEADS_MAX_OBJECTIONS  100
#define LEADS_MAX_OFFERS      50
#define LEADS_MAX_LINES       100
#define LEADS_MAX_COMPETITORS 20
#define LEADS_MAX_RISK_FLAGS  10
#define LEADS_MAX_HISTORY     100     /* close-date changes kept (slip_count counts all) */
#define LEADS_PAGE_DEFAULT    50
#define LEADS_PAGE_MAX        500
#define LEADS_FUNNEL_MAX_ROWS 200000  /* leads one Funnel call reads; beyond: truncated */

/* ---- leads_store.c: tables, entities, indexes ---- */

extern const rp_table_t leads_tables[];
extern const rp_migration_t leads_migrations[];

/* leads_store_get - the lead with this id, unpacked into the arena. 0, MDB_NOTFOUND,
 * or -1 after replying INTERNAL (corrupt record / LMDB error). */
int leads_store_get(rp_ctx_t *ctx, const rp_ulid_t *id, Lead **out);
/* leads_store_get_packed - the stored bytes of the lead with this id, copied into
 * the arena. 0, MDB_NOTFOUND, or -1 after replying INTERNAL. */
int leads_store_get_packed(rp_ctx_t *ctx, const rp_ulid_t *id, const uint8_t **data, size_t *len);
/* leads_store_put - write lead (new or changed) and bring every index up to date:
 * the entries of the stored version are removed, those of lead added. 0, or -1
 * after replying. */
int leads_store_put(rp_ctx_t *ctx, const Lead *lead);
/* leads_store_put_packed - leads_store_put with lead already packed (len bytes).
 * fresh: a lead just created under a new ULID, so there is no stored version to
 * look up (should there be one after all, the put fails instead of replacing it). */
int leads_store_put_packed(rp_ctx_t *ctx, const Lead *lead, const uint8_t *packed, size_t len,
                           bool fresh);
/* leads_store_put_activity - write an activity under (lead id, activity id). 0 or -1. */
int leads_store_put_activity(rp_ctx_t *ctx, const Activity *a);

/* Duplicate look-ups within a branch. Each returns 1 with found (a lead id string)
 * set when another lead than exclude_id (may be NULL) matches, 0 when none, -1 after
 * replying INTERNAL. Values are given as entered; they are folded here exactly as the
 * indexes fold them (rp_fold_taxid, rp_fold_name, rp_fold_email). */
int leads_store_find_taxid(rp_ctx_t *ctx, const char *branch, const char *tax_id,
                           const char *exclude_id, char found[RP_ULID_STRLEN + 1]);
int leads_store_find_name_email(rp_ctx_t *ctx, const char *branch, const char *company_name,
                                const char *email, const char *exclude_id,
                                char found[RP_ULID_STRLEN + 1]);
int leads_store_find_import(rp_ctx_t *ctx, const char *branch, const char *import_key,
                            char found[RP_ULID_STRLEN + 1]);

/* List queries: each is a range scan of one index. */
typedef enum {
    LQ_OWNER,       /* s = owner */
    LQ_STAGE,       /* n1 = stage */
    LQ_SOURCE,      /* n1 = source */
    LQ_CAMPAIGN,    /* s = campaign */
    LQ_CLOSE,       /* expected close days in [n1, n2) */
    LQ_NAME,        /* s = folded company-name prefix */
    LQ_STALE,       /* open leads with last_activity_at < n2 (ms) */
    LQ_CREATED      /* leads created in [n1, n2) ms (the leads table itself) */
} leads_query_kind_t;

typedef struct {
    leads_query_kind_t kind;
    const char *s;
    int64_t n1, n2;
} leads_query_t;

/* leads_lead_fn - called per row with a lead that is valid only during the call
 * (copy what you keep into the arena). Returns 1 kept, 0 skipped, -1 abort. */
typedef int (*leads_lead_fn)(void *arg, const Lead *lead);

/* leads_store_query - one page of q (rp_page_scan semantics: limit kept rows, budget
 * examined rows, 0 = default). *next_token is set to an arena copy or NULL.
 * Returns 0, -1 (fn aborted or LMDB error, replied), or -2 (bad page token). */
int leads_store_query(rp_ctx_t *ctx, const leads_query_t *q, const char *page_token,
                      uint32_t limit, uint32_t budget, leads_lead_fn fn, void *arg,
                      char **next_token);

typedef int (*leads_activity_fn)(void *arg, const Activity *a);
/* leads_store_activities - a page of a lead's activities, oldest first. Activities
 * passed to fn are arena-allocated (the page is small). Same returns as above. */
int leads_store_activities(rp_ctx_t *ctx, const rp_ulid_t *lead_id, const char *page_token,
                           uint32_t limit, leads_activity_fn fn, void *arg, char **next_token);

/* leads_store_expired_offers - the first max entries of the offer-expiry index whose
 * valid_until day is before today_days: (day, lead id, offer id) of SENT offers, as the
 * index says (the job checks each against the lead). Returns how many, or -1 after
 * replying. */
typedef struct { int64_t days; rp_ulid_t lead; rp_ulid_t offer; } leads_offer_ref_t;
int leads_store_expired_offers(rp_ctx_t *ctx, int32_t today_days, leads_offer_ref_t *refs, int max);
/* leads_store_drop_offer_ref - delete the offer-expiry index entry ref (one the job met
 * that names no SENT offer due that day); a missing entry is fine. 0 or -1 (replied). */
int leads_store_drop_offer_ref(rp_ctx_t *ctx, const leads_offer_ref_t *ref);

/* ---- leads_rules.c: pure rules and validation ---- */

bool leads_stage_is_open(int stage);
/* leads_stage_move_or_reply - FAILED_PRECONDITION unless the funnel allows from -> to
 * (both given; `to` an open stage, WON or LOST; see leads.proto). */
int leads_stage_move_or_reply(rp_ctx_t *ctx, int from, int to);
/* leads_won_or_reply - FAILED_PRECONDITION unless lead may be won. */
int leads_won_or_reply(rp_ctx_t *ctx, const Lead *lead);
/* leads_lost_or_reply - INVALID_ARGUMENT for a missing reason/competitor. */
int leads_lost_or_reply(rp_ctx_t *ctx, int reason, const char *competitor_id,
                        const char *competitor_name, const char *note);
/* leads_score - 8*interest + 7*financial + 5*reliability - 10*flags, in 0..100. */
uint32_t leads_score(uint32_t interest, uint32_t financial, uint32_t reliability, size_t n_flags);
/* leads_verdict - PROMISING at >= 60, UNPROFITABLE below 40, else UNKNOWN. */
int leads_verdict(uint32_t score);

int leads_company_or_reply(rp_ctx_t *ctx, const char *field, const Company *c);
int leads_contacts_or_reply(rp_ctx_t *ctx, const char *field, Contact *const *contacts, size_t n);
int leads_source_or_reply(rp_ctx_t *ctx, int source, const char *referrer_client_id);
int leads_page_size_or_reply(rp_ctx_t *ctx, uint32_t page_size, uint32_t *out);
/* leads_fold_name_or_reply - fold a company name into out (cap bytes); violation when
 * nothing is left (no letters or digits). */
int leads_fold_name_or_reply(rp_ctx_t *ctx, const char *field, const char *name, char *out, size_t cap);

/* Offers. leads_offer_lines_or_reply validates an offer's input; leads_offer_totals
 * fills line totals, subtotal, discount and total (arena) and replies FAILED_PRECONDITION
 * on overflow. */
int leads_offer_input_or_reply(rp_ctx_t *ctx, OfferLine *const *lines, size_t n_lines,
                               uint32_t discount_bp, uint32_t payment_terms_days,
                               const Date *valid_until);
int leads_offer_totals_or_reply(rp_ctx_t *ctx, Offer *o);

/* Dates (days, today, Date and Money in the arena: rapport/values.h). */
bool leads_date_eq(const Date *a, const Date *b); /* NULL-safe */

/* ---- leads_handlers.c: shared helpers ---- */

/* leads_load_or_reply - parse id (field names the request field), load the lead and
 * check the caller's scope; NOT_FOUND when missing or out of scope. */
int leads_load_or_reply(rp_ctx_t *ctx, const char *field, const char *id, Lead **out);
/* leads_open_or_reply - FAILED_PRECONDITION when the lead is WON or LOST. */
int leads_open_or_reply(rp_ctx_t *ctx, const Lead *lead);
/* leads_value_or_reply - a real currency and 0 <= units <= LEADS_VALUE_MAX. */
int leads_value_or_reply(rp_ctx_t *ctx, const char *field, const Money *m);
/* leads_set_stage - move lead to stage and keep previous_stage, max_stage_reached,
 * timestamps and the close bookkeeping (stage_before_close, closed_at) consistent.
 * Every stage change goes through it. */
void leads_set_stage(rp_ctx_t *ctx, Lead *lead, int stage);
/* leads_summary - an arena LeadSummary of lead. */
LeadSummary *leads_summary(rp_ctx_t *ctx, const Lead *lead);
/* leads_emit_lead - emit type with the Lead as data. 0 or -1 (replied). */
int leads_emit(rp_ctx_t *ctx, const char *type, const char *subject, const ProtobufCMessage *m);
/* leads_emit_packed - emit type with a Lead already packed (len bytes) as data. */
int leads_emit_packed(rp_ctx_t *ctx, const char *type, const char *subject,
                      const uint8_t *lead, size_t len);

/* ---- method handlers ---- */
int leads_create(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_get(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_update(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_assign(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_set_stage_h(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_reopen(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_qualify(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_disqualify(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_log_activity(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_list_activities(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_record_objection(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_update_objection(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_set_competitor(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_remove_competitor(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);

/* leads_offers.c */
int leads_add_offer(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_update_offer(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_send_offer(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_accept_offer(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_reject_offer(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
/* leads_expire_offers - timer job: SENT offers past valid_until become EXPIRED. */
int leads_expire_offers(rp_ctx_t *ctx);

/* leads_query.c */
int leads_list_by_owner(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_list_by_stage(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_list_by_source(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_list_by_campaign(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_list_by_close(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_search_by_name(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int leads_list_stale(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);

/* leads_funnel.c */
int leads_funnel(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);

#endif
