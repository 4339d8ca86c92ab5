/* leads_offers.c - offers on a lead and their life cycle:
 *   AddOffer makes a DRAFT; UpdateOffer edits drafts only; SendOffer: DRAFT -> SENT
 *   (valid_until not yet past; an open lead before OFFER moves to OFFER);
 *   AcceptOffer / RejectOffer: SENT -> ACCEPTED / REJECTED (accepting after
 *   valid_until is FAILED_PRECONDITION); the timer job leads_expire_offers turns SENT
 *   offers past valid_until into EXPIRED through the ix_offer_exp index, deletes the
 *   entries of that index that name no such offer, and gives each offer.expired event
 *   the branch of its lead (a job has no caller whose branch the event could take).
 * Totals are integer minor units, computed in leads_rules.c with overflow checks.
 * Events: offer.created, offer.updated, offer.sent, offer.accepted, offer.rejected,
 * offer.expired, with the Offer as data (plus lead.stage_changed when sending moves
 * the lead).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "leads.h"
#include "rapport/log.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Leads__V1__OfferRequest OfferRequest;
typedef Rapport__Leads__V1__OfferActionRequest OfferActionRequest;

static Offer *s_find_offer(const Lead *l, const char *id)
{
    for (size_t i = 0; i < l->n_offers; i++)
        if (strcasecmp(l->offers[i]->id, id) == 0)
            return l->offers[i];
    return NULL;
}

static const char *s_status_name(int s)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&rapport__leads__v1__offer_status__descriptor, s);
    return v ? v->name : "OFFER_STATUS_?";
}

/* s_fill - copy the request's terms into o (lines copied: line_total is written). */
static int s_fill(rp_ctx_t *ctx, Offer *o, const OfferRequest *in)
{
    OfferLine **lines = rp_ctx_alloc(ctx, in->n_lines * sizeof *lines);
    for (size_t i = 0; i < in->n_lines; i++) {
        OfferLine *l = rp_ctx_alloc(ctx, sizeof *l);
        rapport__leads__v1__offer_line__init(l);
        l->description = in->lines[i]->description;
        l->quantity = in->lines[i]->quantity;
        l->unit_price = rp_ctx_money(ctx, in->lines[i]->unit_price->units, in->lines[i]->unit_price->currency);
        lines[i] = l;
    }
    o->lines = lines;
    o->n_lines = in->n_lines;
    o->discount_bp = in->discount_bp;
    o->payment_terms_days = in->payment_terms_days;
    o->valid_until = in->valid_until;
    o->note = in->note;
    o->updated_at = rp_ctx_now(ctx);
    return leads_offer_totals_or_reply(ctx, o);
}

static int s_input_or_reply(rp_ctx_t *ctx, const OfferRequest *in)
{
    leads_offer_input_or_reply(ctx, in->lines, in->n_lines, in->discount_bp,
                               in->payment_terms_days, in->valid_until);
    rp_len_or_reply(ctx, "note", in->note, 0, LEADS_NOTE_MAX);
    return rp_ctx_failed(ctx) ? -1 : 0;
}

/* s_finish - write the lead, emit type with the offer, reply with a copy of it. */
static int s_finish(rp_ctx_t *ctx, Lead *l, Offer *o, const char *type, ProtobufCMessage **out)
{
    if (leads_store_put(ctx, l) < 0 || leads_emit(ctx, type, l->id, &o->base) < 0)
        return -1;
    *out = &o->base;
    return 0;
}

int leads_add_offer(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const OfferRequest *in = (const OfferRequest *)in_;
    Lead *l;
    if (!rp_str_empty(in->offer_id))
        rp_reply_violation(ctx, "offer_id", "assigned by the service");
    if (s_input_or_reply(ctx, in) < 0)
        return -1;
    if (leads_load_or_reply(ctx, "lead_id", in->lead_id, &l) < 0 || leads_open_or_reply(ctx, l) < 0)
        return -1;
    if (l->n_offers >= LEADS_MAX_OFFERS)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "a lead keeps at most %d offers", LEADS_MAX_OFFERS);

    Offer *o = rp_ctx_alloc(ctx, sizeof *o);
    rapport__leads__v1__offer__init(o);
    o->id = rp_ctx_new_id_str(ctx);
    o->lead_id = l->id;
    o->status = OS_DRAFT;
    o->created_at = rp_ctx_now(ctx);
    o->by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    if (s_fill(ctx, o, in) < 0)
        return -1;
    l->offers = (Offer **)rp_ctx_append(ctx, (void **)l->offers, l->n_offers, o);
    l->n_offers++;
    l->updated_at = o->created_at;
    return s_finish(ctx, l, o, "offer.created", out);
}

int leads_update_offer(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const OfferRequest *in = (const OfferRequest *)in_;
    rp_ulid_t oid;
    Lead *l;
    rp_ulid_or_reply(ctx, "offer_id", in->offer_id, &oid);
    if (s_input_or_reply(ctx, in) < 0)
        return -1;
    if (leads_load_or_reply(ctx, "lead_id", in->lead_id, &l) < 0)
        return -1;
    Offer *o = s_find_offer(l, in->offer_id);
    if (!o)
        return rp_reply_error(ctx, RP_NOT_FOUND, "offer %s not found on lead %s", in->offer_id, l->id);
    if (o->status != OS_DRAFT)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "offer %s is %s; only drafts can be edited",
                              o->id, s_status_name(o->status));
    if (s_fill(ctx, o, in) < 0)
        return -1;
    l->updated_at = o->updated_at;
    return s_finish(ctx, l, o, "offer.updated", out);
}

/* s_load_offer - the lead and one of its offers for an action. */
static int s_load_offer(rp_ctx_t *ctx, const OfferActionRequest *in, Lead **l, Offer **o)
{
    rp_ulid_t oid;
    if (rp_ulid_or_reply(ctx, "offer_id", in->offer_id, &oid) < 0)
        return -1;
    if (leads_load_or_reply(ctx, "lead_id", in->lead_id, l) < 0)
        return -1;
    *o = s_find_offer(*l, in->offer_id);
    if (!*o)
        return rp_reply_error(ctx, RP_NOT_FOUND, "offer %s not found on lead %s", in->offer_id, (*l)->id);
    return 0;
}

static int s_sent_or_reply(rp_ctx_t *ctx, const Offer *o)
{
    if (o->status != OS_SENT)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "offer %s is %s, not sent",
                              o->id, s_status_name(o->status));
    return 0;
}

static bool s_past(rp_ctx_t *ctx, const Offer *o)
{
    return o->valid_until && rp_date_days(o->valid_until) < rp_ctx_today(ctx);
}

int leads_send_offer(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const OfferActionRequest *in = (const OfferActionRequest *)in_;
    Lead *l;
    Offer *o;
    if (s_load_offer(ctx, in, &l, &o) < 0 || leads_open_or_reply(ctx, l) < 0)
        return -1;
    if (o->status != OS_DRAFT)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "offer %s is %s; only drafts can be sent",
                              o->id, s_status_name(o->status));
    if (s_past(ctx, o))
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "offer %s is valid until a past date", o->id);
    int64_t now = rp_ctx_now(ctx);
    o->status = OS_SENT;
    o->sent_at = o->updated_at = now;
    l->updated_at = now;
    bool moved = false;
    if (l->stage < LS_OFFER) {
        leads_set_stage(ctx, l, LS_OFFER);
        moved = true;
    }
    if (leads_store_put(ctx, l) < 0)
        return -1;
    if (leads_emit(ctx, "offer.sent", l->id, &o->base) < 0)
        return -1;
    if (moved && leads_emit(ctx, "lead.stage_changed", l->id, &l->base) < 0)
        return -1;
    *out = &o->base;
    return 0;
}

int leads_accept_offer(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const OfferActionRequest *in = (const OfferActionRequest *)in_;
    Lead *l;
    Offer *o;
    if (s_load_offer(ctx, in, &l, &o) < 0 || s_sent_or_reply(ctx, o) < 0)
        return -1;
    if (l->stage == LS_LOST)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "lead %s is lost", l->id);
    if (s_past(ctx, o))
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "offer %s expired on %04d-%02d-%02d", o->id,
                              o->valid_until->year, o->valid_until->month, o->valid_until->day);
    int64_t now = rp_ctx_now(ctx);
    o->status = OS_ACCEPTED;
    o->decided_at = o->updated_at = l->updated_at = now;
    return s_finish(ctx, l, o, "offer.accepted", out);
}

int leads_reject_offer(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const OfferActionRequest *in = (const OfferActionRequest *)in_;
    Lead *l;
    Offer *o;
    if (rp_len_or_reply(ctx, "reason", in->reason, 0, LEADS_REASON_MAX) < 0)
        return -1;
    if (s_load_offer(ctx, in, &l, &o) < 0 || s_sent_or_reply(ctx, o) < 0)
        return -1;
    int64_t now = rp_ctx_now(ctx);
    o->status = OS_REJECTED;
    o->reject_reason = in->reason;
    o->decided_at = o->updated_at = l->updated_at = now;
    return s_finish(ctx, l, o, "offer.rejected", out);
}

/* At most this many expiry-index entries per sweep (expired or dropped); the next
 * sweep goes on where this one stopped. */
#define EXPIRE_BATCH 200

/* s_expire_one - handle one expiry-index entry: the SENT offer it names, when past its
 * valid_until, becomes EXPIRED (offer.expired, with the lead's branch). The entry is
 * then gone either way: leads_store_put removes an expired offer's entry, and an entry
 * that names no such offer (lead or offer missing, offer no longer SENT, another day)
 * is deleted here, so no sweep meets it again. 1 expired, 0 dropped, -1 (replied). */
static int s_expire_one(rp_ctx_t *ctx, const leads_offer_ref_t *ref, int32_t today, int64_t now)
{
    Lead *l;
    int rc = leads_store_get(ctx, &ref->lead, &l);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return -1;
    Offer *o = NULL;
    if (rc == 0) {
        char oid[RP_ULID_STRLEN + 1];
        rp_ulid_format(&ref->offer, oid);
        o = s_find_offer(l, oid);
    }
    bool due = o && o->status == OS_SENT && o->valid_until && rp_date_days(o->valid_until) < today;
    if (due) {
        o->status = OS_EXPIRED;
        o->decided_at = o->updated_at = now;
        rp_ctx_set_event_branch(ctx, l->branch);
        if (leads_store_put(ctx, l) < 0 || leads_emit(ctx, "offer.expired", l->id, &o->base) < 0)
            return -1;
        if (rp_date_days(o->valid_until) == ref->days)
            return 1;           /* the put removed this very entry */
    }
    if (leads_store_drop_offer_ref(ctx, ref) < 0)
        return -1;
    return due ? 1 : 0;
}

int leads_expire_offers(rp_ctx_t *ctx)
{
    leads_offer_ref_t refs[EXPIRE_BATCH];
    int32_t today = rp_ctx_today(ctx);
    int n = leads_store_expired_offers(ctx, today, refs, EXPIRE_BATCH);
    if (n < 0)
        return -1;
    int64_t now = rp_ctx_now(ctx);
    int expired = 0, dropped = 0;
    for (int i = 0; i < n; i++) {
        int rc = s_expire_one(ctx, &refs[i], today, now);
        if (rc < 0)
            return -1;
        if (rc)
            expired++;
        else
            dropped++;
    }
    if (expired > 0)
        rp_info("leads: %d offer(s) expired", expired);
    if (dropped > 0)
        rp_warn("leads: %d offer-expiry index entr%s named no sent offer due then, dropped",
                dropped, dropped == 1 ? "y" : "ies");
    return 0;
}
