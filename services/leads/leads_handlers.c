/* leads_handlers.c - the lead methods of rapport-leads, one function per method,
 * Redis-style: validate with the *_or_reply helpers, load through the caller's
 * scope (out of scope is NOT_FOUND), apply the rules from leads_rules.c, write with
 * leads_store_put (which keeps the indexes) and emit the event in the same
 * transaction.
 *
 * Replies point into the request's arena (the loaded lead, the decoded request),
 * which lives until the reply is packed: no copies.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "leads.h"
#include "rapport/fold.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Leads__V1__CreateRequest CreateRequest;
typedef Rapport__Leads__V1__UpdateRequest UpdateRequest;
typedef Rapport__Leads__V1__GetRequest GetRequest;
typedef Rapport__Leads__V1__AssignRequest AssignRequest;
typedef Rapport__Leads__V1__SetStageRequest SetStageRequest;
typedef Rapport__Leads__V1__ReopenRequest ReopenRequest;
typedef Rapport__Leads__V1__QualifyRequest QualifyRequest;
typedef Rapport__Leads__V1__DisqualifyRequest DisqualifyRequest;
typedef Rapport__Leads__V1__LogActivityRequest LogActivityRequest;
typedef Rapport__Leads__V1__ListActivitiesRequest ListActivitiesRequest;
typedef Rapport__Leads__V1__ListActivitiesReply ListActivitiesReply;
typedef Rapport__Leads__V1__RecordObjectionRequest RecordObjectionRequest;
typedef Rapport__Leads__V1__UpdateObjectionRequest UpdateObjectionRequest;
typedef Rapport__Leads__V1__SetCompetitorRequest SetCompetitorRequest;
typedef Rapport__Leads__V1__RemoveCompetitorRequest RemoveCompetitorRequest;

/* ---- shared helpers ---- */

static Date *s_date_copy(rp_ctx_t *ctx, const Date *d)
{
    if (!d)
        return NULL;
    Date *c = rp_ctx_alloc(ctx, sizeof *c);
    rapport__v1__date__init(c);
    c->year = d->year;
    c->month = d->month;
    c->day = d->day;
    return c;
}

int leads_load_or_reply(rp_ctx_t *ctx, const char *field, const char *id, Lead **out)
{
    rp_ulid_t u;
    Lead *lead = NULL;
    if (rp_ulid_or_reply(ctx, field, id, &u) < 0)
        return -1;
    int rc = leads_store_get(ctx, &u, &lead);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "lead %s not found", id);
    if (rc != 0)
        return -1;
    if (rp_scope_or_reply(ctx, "lead", lead->id, lead->owner, lead->unit) < 0)
        return -1;
    *out = lead;
    return 0;
}

int leads_open_or_reply(rp_ctx_t *ctx, const Lead *lead)
{
    if (lead->stage == LS_WON)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "lead %s is won", lead->id);
    if (lead->stage == LS_LOST)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "lead %s is lost", lead->id);
    return 0;
}

void leads_set_stage(rp_ctx_t *ctx, Lead *lead, int stage)
{
    int64_t now = rp_ctx_now(ctx);
    if (stage == LS_WON || stage == LS_LOST) {
        if (leads_stage_is_open(lead->stage))
            lead->stage_before_close = lead->stage;
        lead->closed_at = now;
    } else {
        lead->stage_before_close = LS_UNSPEC;
        lead->closed_at = 0;
    }
    lead->previous_stage = lead->stage;
    lead->stage = stage;
    if (stage == LS_WON)
        lead->max_stage_reached = LS_WON;
    else if (leads_stage_is_open(stage) && lead->max_stage_reached != LS_WON
             && stage > (int)lead->max_stage_reached)
        lead->max_stage_reached = stage;
    lead->stage_changed_at = now;
    lead->updated_at = now;
}

LeadSummary *leads_summary(rp_ctx_t *ctx, const Lead *l)
{
    LeadSummary *s = rp_ctx_alloc(ctx, sizeof *s);
    rapport__leads__v1__lead_summary__init(s);
    s->id = rp_ctx_strdup(ctx, l->id);
    s->company_name = rp_ctx_strdup(ctx, l->company ? l->company->name : "");
    s->stage = l->stage;
    s->source = l->source;
    s->campaign = rp_ctx_strdup(ctx, l->campaign);
    s->owner = rp_ctx_strdup(ctx, l->owner);
    s->unit = rp_ctx_strdup(ctx, l->unit);
    if (l->expected_value)
        s->expected_value = rp_ctx_money(ctx, l->expected_value->units, l->expected_value->currency);
    s->expected_close = s_date_copy(ctx, l->expected_close);
    s->score = l->qualification ? l->qualification->score : 0;
    s->verdict = l->qualification ? l->qualification->verdict : V_UNKNOWN;
    s->slip_count = l->slip_count;
    s->created_at = l->created_at;
    s->updated_at = l->updated_at;
    s->last_activity_at = l->last_activity_at;
    return s;
}

int leads_emit(rp_ctx_t *ctx, const char *type, const char *subject, const ProtobufCMessage *m)
{
    if (rp_ctx_emit(ctx, type, subject, m) == 0)
        return 0;
    if (!rp_ctx_failed(ctx))
        rp_reply_error(ctx, RP_INTERNAL, "cannot append event %s", type);
    return -1;
}

/* leads_emit_packed - leads_emit of a Lead already packed. */
int leads_emit_packed(rp_ctx_t *ctx, const char *type, const char *subject,
                      const uint8_t *lead, size_t len)
{
    if (rp_ctx_emit_packed(ctx, type, subject, &rapport__leads__v1__lead__descriptor, lead, len) == 0)
        return 0;
    if (!rp_ctx_failed(ctx))
        rp_reply_error(ctx, RP_INTERNAL, "cannot append event %s", type);
    return -1;
}

/* s_write_packed - put the lead (fresh: just created, see leads_store_put_packed)
 * and emit up to two events with it as data, packing it once; the packed bytes in
 * *data, *len. */
static int s_write_packed(rp_ctx_t *ctx, Lead *lead, bool fresh, const char *type1,
                          const char *type2, const uint8_t **data, size_t *len)
{
    *data = rp_ctx_pack(ctx, &lead->base, len);
    if (leads_store_put_packed(ctx, lead, *data, *len, fresh) < 0)
        return -1;
    if (type1 && leads_emit_packed(ctx, type1, lead->id, *data, *len) < 0)
        return -1;
    if (type2 && leads_emit_packed(ctx, type2, lead->id, *data, *len) < 0)
        return -1;
    return 0;
}

/* s_write - put the lead and emit up to two events with it as data. */
static int s_write(rp_ctx_t *ctx, Lead *lead, const char *type1, const char *type2)
{
    const uint8_t *data;
    size_t len;
    return s_write_packed(ctx, lead, false, type1, type2, &data, &len);
}

/* s_write_reply_fresh - s_write_packed, and the stored lead is the reply (the same bytes). */
static int s_write_reply_fresh(rp_ctx_t *ctx, Lead *lead, bool fresh, const char *type1,
                               const char *type2, ProtobufCMessage **out)
{
    const uint8_t *data;
    size_t len;
    if (s_write_packed(ctx, lead, fresh, type1, type2, &data, &len) < 0)
        return -1;
    rp_ctx_reply_packed(ctx, data, len);
    *out = NULL;
    return 0;
}

/* s_write_reply - s_write, and the stored lead is the reply (the same bytes). */
static int s_write_reply(rp_ctx_t *ctx, Lead *lead, const char *type1, const char *type2,
                         ProtobufCMessage **out)
{
    return s_write_reply_fresh(ctx, lead, false, type1, type2, out);
}

static int s_reply_lead(rp_ctx_t *ctx, Lead *lead, ProtobufCMessage **out)
{
    (void) ctx;
    *out = &lead->base;
    return 0;
}

/* s_duplicate_or_reply - ALREADY_EXISTS when another lead in the branch has the same
 * folded tax id, or the same folded company name with one of these contact e-mails. */
/* s_exists_or_reply - ALREADY_EXISTS for a duplicate of lead `found`. Its id (and
 * the matching value) only when the caller may see that lead; otherwise that a lead
 * of someone else in the branch matches, so nothing out of scope leaks. */
static int s_exists_or_reply(rp_ctx_t *ctx, const char *found, const char *what)
{
    rp_ulid_t u;
    Lead *other = NULL;
    if (rp_ulid_parse(found, &u) == 0 && leads_store_get(ctx, &u, &other) == 0
        && rp_scope_sees(rp_ctx_claims(ctx), other->owner, other->unit))
        return rp_reply_exists(ctx, found, "lead %s in this branch has %s (force to create anyway)",
                               found, what);
    if (rp_ctx_failed(ctx))
        return -1;
    return rp_reply_exists(ctx, "", "a lead of another owner in this branch has the same %s "
                           "(force to create anyway)", strchr(what, ' ') ? "company and contact" : "tax id");
}

static int s_duplicate_or_reply(rp_ctx_t *ctx, const char *branch, const Company *company,
                                Contact *const *contacts, size_t n_contacts,
                                bool check_taxid, bool check_name_email, const char *exclude)
{
    char found[RP_ULID_STRLEN + 1];
    int r;
    if (check_taxid && company && !rp_str_empty(company->tax_id)) {
        r = leads_store_find_taxid(ctx, branch, company->tax_id, exclude, found);
        if (r < 0)
            return -1;
        if (r == 1)
            return s_exists_or_reply(ctx, found, rp_ctx_sprintf(ctx, "tax id %s", company->tax_id));
    }
    if (check_name_email && company) {
        for (size_t i = 0; i < n_contacts; i++) {
            if (rp_str_empty(contacts[i]->email))
                continue;
            r = leads_store_find_name_email(ctx, branch, company->name, contacts[i]->email, exclude, found);
            if (r < 0)
                return -1;
            if (r == 1)
                return s_exists_or_reply(ctx, found, rp_ctx_sprintf(ctx, "company %s with contact %s",
                                                                    company->name, contacts[i]->email));
        }
    }
    return 0;
}

/* ---- Create ---- */

int leads_create(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const CreateRequest *in = (const CreateRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    int32_t days;

    leads_company_or_reply(ctx, "company", in->company);
    leads_contacts_or_reply(ctx, "contacts", in->contacts, in->n_contacts);
    leads_source_or_reply(ctx, in->source, in->referrer_client_id);
    rp_len_or_reply(ctx, "campaign", in->campaign, 0, LEADS_SHORT_MAX);
    rp_len_or_reply(ctx, "needs", in->needs, 0, LEADS_NEEDS_MAX);
    if (in->expected_value)
        leads_value_or_reply(ctx, "expected_value", in->expected_value);
    if (in->expected_close)
        rp_date_or_reply(ctx, "expected_close", in->expected_close, &days);
    rp_len_or_reply(ctx, "import_key", in->import_key, 0, LEADS_IMPORT_KEY_MAX);
    if (!rp_str_empty(in->owner) || !rp_str_empty(in->owner_unit))
        rp_owner_or_reply(ctx, "owner", in->owner, "owner_unit", in->owner_unit);
    if (rp_ctx_failed(ctx))
        return -1;

    const char *owner = rp_principal(cl), *unit = cl->unit;
    if (!rp_str_empty(in->owner) && !(strcmp(in->owner, owner) == 0 && strcmp(in->owner_unit, unit) == 0)) {
        if (!rp_ctx_allowed(ctx, "leads.assign"))
            return rp_reply_error(ctx, RP_PERMISSION_DENIED,
                                  "creating a lead for another owner needs leads.assign");
        if (rp_unit_or_reply(ctx, "owner_unit", in->owner_unit) < 0)
            return -1;
        owner = in->owner;
        unit = in->owner_unit;
    }

    char found[RP_ULID_STRLEN + 1];
    if (!rp_str_empty(in->import_key)) {
        if (!rp_ctx_allowed(ctx, "leads.import"))
            return rp_reply_error(ctx, RP_PERMISSION_DENIED, "import_key needs leads.import");
        int r = leads_store_find_import(ctx, cl->branch, in->import_key, found);
        if (r < 0)
            return -1;
        if (r == 1)
            return rp_reply_exists(ctx, found, "imported already as lead %s", found);
    }
    if (!in->force && s_duplicate_or_reply(ctx, cl->branch, in->company, in->contacts,
                                           in->n_contacts, true, true, NULL) < 0)
        return -1;

    int64_t now = rp_ctx_now(ctx);

    Lead *l = rp_ctx_alloc(ctx, sizeof *l);
    rapport__leads__v1__lead__init(l);
    l->id = rp_ctx_new_id_str(ctx);
    l->company = in->company;
    l->n_contacts = in->n_contacts;
    l->contacts = in->contacts;
    l->source = in->source;
    l->referrer_client_id = in->referrer_client_id;
    l->campaign = in->campaign;
    l->owner = rp_ctx_strdup(ctx, owner);
    l->branch = rp_ctx_strdup(ctx, cl->branch);
    l->unit = rp_ctx_strdup(ctx, unit);
    l->needs = in->needs;
    l->expected_value = in->expected_value;
    l->expected_close = in->expected_close;
    l->stage = LS_NEW;
    l->max_stage_reached = LS_NEW;
    l->import_key = in->import_key;
    l->created_by = rp_ctx_strdup(ctx, rp_actor(cl));
    l->created_at = l->updated_at = l->last_activity_at = l->stage_changed_at = now;

    return s_write_reply_fresh(ctx, l, true, "lead.created", NULL, out);
}

/* ---- Get ---- */

/* s_stored_str - string field `name` of a packed Lead, NUL-ended in the arena. */
static char *s_stored_str(rp_ctx_t *ctx, const uint8_t *data, size_t len, const char *name)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(&rapport__leads__v1__lead__descriptor, name);
    const char *p;
    size_t n;
    if (!f || rp_pb_string_field(data, len, f->id, &p, &n) != 0)
        return NULL;
    char *s = rp_ctx_alloc(ctx, n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* leads_get - the stored lead as it is: owner and unit are read from its bytes for
 * the scope check and the bytes are the reply, with no unpacking and packing. */
int leads_get(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const GetRequest *in = (const GetRequest *)in_;
    rp_ulid_t u;
    char id[RP_ULID_STRLEN + 1];
    const uint8_t *data;
    size_t len;
    if (rp_ulid_or_reply(ctx, "id", in->id, &u) < 0)
        return -1;
    int rc = leads_store_get_packed(ctx, &u, &data, &len);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "lead %s not found", in->id);
    if (rc != 0)
        return -1;
    char *owner = s_stored_str(ctx, data, len, "owner"), *unit = s_stored_str(ctx, data, len, "unit");
    if (!owner || !unit)
        return rp_reply_error(ctx, RP_INTERNAL, "stored lead does not decode");
    rp_ulid_format(&u, id);
    if (rp_scope_or_reply(ctx, "lead", id, owner, unit) < 0)
        return -1;
    rp_ctx_reply_packed(ctx, data, len);
    *out = NULL;
    return 0;
}

/* ---- Update ---- */

static const char *const s_update_paths[] = {
    "company", "company.name", "company.tax_id", "company.region", "company.industry",
    "company.size", "contacts", "source", "referrer_client_id", "campaign", "needs",
    "expected_value", "expected_close", NULL
};

/* s_close_change - record a change of expected close date in the history. */
static void s_close_change(rp_ctx_t *ctx, Lead *l, const Date *old, const Date *new_)
{
    CloseDateChange *c = rp_ctx_alloc(ctx, sizeof *c);
    rapport__leads__v1__close_date_change__init(c);
    c->old_date = s_date_copy(ctx, old);
    c->new_date = s_date_copy(ctx, new_);
    c->at = rp_ctx_now(ctx);
    c->by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    size_t n = l->n_close_history;
    CloseDateChange **h = (CloseDateChange **)rp_ctx_append(ctx, (void **)l->close_history, n, c);
    n++;
    if (n > LEADS_MAX_HISTORY) {       /* keep the newest */
        h += n - LEADS_MAX_HISTORY;
        n = LEADS_MAX_HISTORY;
    }
    l->close_history = h;
    l->n_close_history = n;
    if (old && new_ && rp_date_days(new_) > rp_date_days(old))
        l->slip_count++;
}

int leads_update(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const UpdateRequest *in = (const UpdateRequest *)in_;
    Lead *l;

    if (in->n_update_mask == 0)
        return rp_reply_violation(ctx, "update_mask", "name at least one field to update");
    for (size_t i = 0; i < in->n_update_mask; i++) {
        bool known = false;
        for (const char *const *p = s_update_paths; *p; p++)
            if (strcmp(*p, in->update_mask[i]) == 0)
                known = true;
        if (!known) {
            char f[48];
            snprintf(f, sizeof f, "update_mask[%zu]", i);
            rp_reply_violation(ctx, f, "unknown field path");
        } else if (rp_str_has_prefix(in->update_mask[i], "company") && !in->company) {
            rp_reply_violation(ctx, "company", "is required by update_mask %s", in->update_mask[i]);
        }
    }
    if (rp_ctx_failed(ctx))
        return -1;
    if (leads_load_or_reply(ctx, "id", in->id, &l) < 0)
        return -1;
    /* A won or lost deal is history: editing it would break the rules it was
     * closed under (a WON lead without a value or a decision maker). */
    if (leads_open_or_reply(ctx, l) < 0)
        return -1;

    char old_tax[128] = "", old_name[512] = "", tmp[512];
    if (l->company) {
        rp_fold_taxid(l->company->tax_id, old_tax, sizeof old_tax);
        rp_fold_name(l->company->name, old_name, sizeof old_name);
    } else {
        l->company = rp_ctx_alloc(ctx, sizeof *l->company);
        rapport__leads__v1__company__init(l->company);
    }
    const Date *old_close = l->expected_close;
    bool contacts_changed = false;

    for (size_t i = 0; i < in->n_update_mask; i++) {
        const char *p = in->update_mask[i];
        if (!strcmp(p, "company")) {
            *l->company = *in->company;
        } else if (!strcmp(p, "company.name")) {
            l->company->name = in->company->name;
        } else if (!strcmp(p, "company.tax_id")) {
            l->company->tax_id = in->company->tax_id;
        } else if (!strcmp(p, "company.region")) {
            l->company->region = in->company->region;
        } else if (!strcmp(p, "company.industry")) {
            l->company->industry = in->company->industry;
        } else if (!strcmp(p, "company.size")) {
            l->company->size = in->company->size;
        } else if (!strcmp(p, "contacts")) {
            l->contacts = in->contacts;
            l->n_contacts = in->n_contacts;
            contacts_changed = true;
        } else if (!strcmp(p, "source")) {
            l->source = in->source;
        } else if (!strcmp(p, "referrer_client_id")) {
            l->referrer_client_id = in->referrer_client_id;
        } else if (!strcmp(p, "campaign")) {
            l->campaign = in->campaign;
        } else if (!strcmp(p, "needs")) {
            l->needs = in->needs;
        } else if (!strcmp(p, "expected_value")) {
            l->expected_value = in->expected_value;
        } else if (!strcmp(p, "expected_close")) {
            l->expected_close = in->expected_close;
        }
    }

    /* Validate the lead as it would be stored. */
    int32_t days;
    leads_company_or_reply(ctx, "company", l->company);
    leads_contacts_or_reply(ctx, "contacts", l->contacts, l->n_contacts);
    leads_source_or_reply(ctx, l->source, l->referrer_client_id);
    rp_len_or_reply(ctx, "campaign", l->campaign, 0, LEADS_SHORT_MAX);
    rp_len_or_reply(ctx, "needs", l->needs, 0, LEADS_NEEDS_MAX);
    if (l->expected_value)
        leads_value_or_reply(ctx, "expected_value", l->expected_value);
    if (l->expected_close)
        rp_date_or_reply(ctx, "expected_close", l->expected_close, &days);
    if (rp_ctx_failed(ctx))
        return -1;

    if (!in->force) {
        bool tax_changed = rp_fold_taxid(l->company->tax_id, tmp, sizeof tmp) > 0 && strcmp(tmp, old_tax) != 0;
        bool name_changed = rp_fold_name(l->company->name, tmp, sizeof tmp) > 0 && strcmp(tmp, old_name) != 0;
        if (s_duplicate_or_reply(ctx, l->branch, l->company, l->contacts, l->n_contacts,
                                 tax_changed, name_changed || contacts_changed, l->id) < 0)
            return -1;
    }
    if (!leads_date_eq(old_close, l->expected_close))
        s_close_change(ctx, l, old_close, l->expected_close);
    l->updated_at = rp_ctx_now(ctx);

    return s_write_reply(ctx, l, "lead.updated", NULL, out);
}

/* ---- Assign ---- */

int leads_assign(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const AssignRequest *in = (const AssignRequest *)in_;
    Lead *l;
    if (rp_owner_or_reply(ctx, "owner", in->owner, "unit", in->unit) < 0)
        return -1;
    if (leads_load_or_reply(ctx, "id", in->id, &l) < 0)
        return -1;
    if (rp_unit_or_reply(ctx, "unit", in->unit) < 0)
        return -1;
    if (strcmp(l->owner, in->owner) == 0 && strcmp(l->unit, in->unit) == 0) {
        rp_ctx_set_subject(ctx, l->id);     /* nothing changes: no event */
        return s_reply_lead(ctx, l, out);
    }
    l->owner = in->owner;
    l->unit = in->unit;
    l->updated_at = rp_ctx_now(ctx);
    return s_write_reply(ctx, l, "lead.assigned", NULL, out);
}

/* ---- SetStage, Reopen ---- */

int leads_set_stage_h(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const SetStageRequest *in = (const SetStageRequest *)in_;
    Lead *l;
    if (in->stage == LS_UNSPEC)
        return rp_reply_violation(ctx, "stage", "is required");
    if (leads_load_or_reply(ctx, "id", in->id, &l) < 0)
        return -1;
    if (leads_stage_move_or_reply(ctx, l->stage, in->stage) < 0)
        return -1;
    if (in->stage == LS_WON && leads_won_or_reply(ctx, l) < 0)
        return -1;
    if (in->stage == LS_LOST && leads_lost_or_reply(ctx, in->lost_reason, in->lost_competitor_id,
                                                    in->lost_competitor_name, in->lost_note) < 0)
        return -1;

    leads_set_stage(ctx, l, in->stage);
    const char *also = NULL;
    if (in->stage == LS_LOST) {
        l->lost_reason = in->lost_reason;
        l->lost_note = in->lost_note;
        l->lost_competitor_id = in->lost_competitor_id;
        l->lost_competitor_name = in->lost_competitor_name;
        also = "lead.lost";
    } else if (in->stage == LS_WON) {
        also = "lead.won";
    }
    return s_write_reply(ctx, l, "lead.stage_changed", also, out);
}

int leads_reopen(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ReopenRequest *in = (const ReopenRequest *)in_;
    Lead *l;
    if (in->stage != LS_UNSPEC && !leads_stage_is_open(in->stage))
        return rp_reply_violation(ctx, "stage", "must be an open stage");
    if (leads_load_or_reply(ctx, "id", in->id, &l) < 0)
        return -1;
    if (l->stage != LS_LOST)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "only a lost lead can be reopened");
    int back = leads_stage_is_open(l->stage_before_close) ? (int)l->stage_before_close : LS_NEW;
    int to = in->stage != LS_UNSPEC ? (int)in->stage : back;
    if (to > back)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION,
                              "a reopened lead goes back at most to the stage it was lost in");
    leads_set_stage(ctx, l, to);
    l->lost_reason = LR_UNSPEC;
    l->lost_note = "";
    l->lost_competitor_id = "";
    l->lost_competitor_name = "";
    l->last_activity_at = rp_ctx_now(ctx);  /* back in the stale index from now */
    return s_write_reply(ctx, l, "lead.stage_changed", NULL, out);
}

/* ---- Qualify, Disqualify ---- */

int leads_qualify(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const QualifyRequest *in = (const QualifyRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    Lead *l;

    rp_range_or_reply(ctx, "interest", in->interest, 0, 5);
    rp_range_or_reply(ctx, "financial_capacity", in->financial_capacity, 0, 5);
    rp_range_or_reply(ctx, "reliability", in->reliability, 0, 5);
    rp_len_or_reply(ctx, "note", in->note, 0, LEADS_NOTE_MAX);
    if (in->n_risk_flags > LEADS_MAX_RISK_FLAGS)
        rp_reply_violation(ctx, "risk_flags", "at most %d", LEADS_MAX_RISK_FLAGS);
    for (size_t i = 0; i < in->n_risk_flags && i < LEADS_MAX_RISK_FLAGS; i++) {
        char f[32];
        snprintf(f, sizeof f, "risk_flags[%zu]", i);
        if (in->risk_flags[i] == RAPPORT__LEADS__V1__RISK_FLAG__RISK_FLAG_UNSPECIFIED)
            rp_reply_violation(ctx, f, "unspecified");
        for (size_t j = 0; j < i; j++)
            if (in->risk_flags[j] == in->risk_flags[i])
                rp_reply_violation(ctx, f, "repeated");
    }
    if (rp_ctx_failed(ctx))
        return -1;
    if (leads_load_or_reply(ctx, "id", in->id, &l) < 0 || leads_open_or_reply(ctx, l) < 0)
        return -1;

    Qualification *q = rp_ctx_alloc(ctx, sizeof *q);
    rapport__leads__v1__qualification__init(q);
    q->interest = in->interest;
    q->financial_capacity = in->financial_capacity;
    q->reliability = in->reliability;
    q->n_risk_flags = in->n_risk_flags;
    q->risk_flags = in->risk_flags;
    q->note = in->note;
    q->score = leads_score(in->interest, in->financial_capacity, in->reliability, in->n_risk_flags);
    q->verdict = in->verdict != V_UNSPEC ? (int)in->verdict : leads_verdict(q->score);
    q->qualified_at = rp_ctx_now(ctx);
    q->qualified_by = rp_ctx_strdup(ctx, rp_actor(cl));
    l->qualification = q;
    l->updated_at = q->qualified_at;
    return s_write_reply(ctx, l, "lead.qualified", NULL, out);
}

int leads_disqualify(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const DisqualifyRequest *in = (const DisqualifyRequest *)in_;
    Lead *l;
    if (rp_len_or_reply(ctx, "reason", in->reason, 1, LEADS_REASON_MAX) < 0)
        return -1;
    if (leads_load_or_reply(ctx, "id", in->id, &l) < 0 || leads_open_or_reply(ctx, l) < 0)
        return -1;
    if (!l->qualification) {
        Qualification *q = rp_ctx_alloc(ctx, sizeof *q);
        rapport__leads__v1__qualification__init(q);
        q->qualified_at = rp_ctx_now(ctx);
        q->qualified_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
        l->qualification = q;
    }
    l->qualification->verdict = V_UNPROFITABLE;
    leads_set_stage(ctx, l, LS_LOST);
    l->lost_reason = LR_DISQUALIFIED;
    l->lost_note = in->reason;
    l->lost_competitor_id = "";
    l->lost_competitor_name = "";
    return s_write_reply(ctx, l, "lead.stage_changed", "lead.disqualified", out);
}

/* ---- activities ---- */

int leads_log_activity(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const LogActivityRequest *in = (const LogActivityRequest *)in_;
    int64_t now = rp_ctx_now(ctx);
    int32_t days;
    Lead *l;

    if (in->kind == RAPPORT__LEADS__V1__ACTIVITY_KIND__ACTIVITY_KIND_UNSPECIFIED)
        rp_reply_violation(ctx, "kind", "is required");
    if (in->outcome == RAPPORT__LEADS__V1__ACTIVITY_OUTCOME__ACTIVITY_OUTCOME_UNSPECIFIED)
        rp_reply_violation(ctx, "outcome", "is required");
    rp_len_or_reply(ctx, "subject", in->subject, 0, LEADS_NAME_MAX);
    rp_len_or_reply(ctx, "summary", in->summary, 0, LEADS_NEEDS_MAX);
    rp_len_or_reply(ctx, "next_step", in->next_step, 0, LEADS_REASON_MAX);
    if (!rp_str_empty(in->next_step) && !in->next_step_due)
        rp_reply_violation(ctx, "next_step_due", "is required with a next step");
    if (in->next_step_due)
        rp_date_or_reply(ctx, "next_step_due", in->next_step_due, &days);
    if (in->occurred_at != 0)
        rp_range_or_reply(ctx, "occurred_at", in->occurred_at, now - 3650 * RP_DAY_MS, now + 60000);
    if (rp_ctx_failed(ctx))
        return -1;
    if (leads_load_or_reply(ctx, "lead_id", in->lead_id, &l) < 0)
        return -1;

    Activity *a = rp_ctx_alloc(ctx, sizeof *a);
    rapport__leads__v1__activity__init(a);
    a->id = rp_ctx_new_id_str(ctx);
    a->lead_id = l->id;
    a->kind = in->kind;
    a->outcome = in->outcome;
    a->subject = in->subject;
    a->summary = in->summary;
    a->next_step = in->next_step;
    a->next_step_due = in->next_step_due;
    a->occurred_at = in->occurred_at ? in->occurred_at : now;
    a->created_at = now;
    a->by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));

    if (a->occurred_at > l->last_activity_at)
        l->last_activity_at = a->occurred_at;
    l->activity_count++;
    if (leads_store_put(ctx, l) < 0 || leads_store_put_activity(ctx, a) < 0)
        return -1;
    if (leads_emit(ctx, "activity.logged", l->id, &a->base) < 0)
        return -1;
    *out = &a->base;
    return 0;
}

typedef struct {
    rp_ctx_t *ctx;
    Activity **v;
    size_t n;
} s_acts_t;

static int s_collect_activity(void *arg, const Activity *a)
{
    s_acts_t *x = arg;
    x->v[x->n++] = (Activity *)a;       /* arena-allocated by the store */
    return 1;
}

int leads_list_activities(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ListActivitiesRequest *in = (const ListActivitiesRequest *)in_;
    uint32_t limit;
    Lead *l;
    rp_ulid_t id;
    if (leads_page_size_or_reply(ctx, in->page_size, &limit) < 0)
        return -1;
    if (leads_load_or_reply(ctx, "lead_id", in->lead_id, &l) < 0)
        return -1;
    if (rp_ulid_parse(l->id, &id) < 0)
        return rp_reply_error(ctx, RP_INTERNAL, "stored lead id is not a ULID");

    s_acts_t x = { ctx, rp_ctx_alloc(ctx, limit * sizeof(Activity *)), 0 };
    char *next = NULL;
    int rc = leads_store_activities(ctx, &id, rp_str_empty(in->page_token) ? NULL : in->page_token,
                                    limit, s_collect_activity, &x, &next);
    if (rp_page_or_reply(ctx, rc) < 0)
        return -1;
    ListActivitiesReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__leads__v1__list_activities_reply__init(r);
    r->activities = x.v;
    r->n_activities = x.n;
    r->next_page_token = next ? next : "";
    *out = &r->base;
    return 0;
}

/* ---- objections ---- */

static Objection *s_find_objection(const Lead *l, const char *id)
{
    for (size_t i = 0; i < l->n_objections; i++)
        if (strcasecmp(l->objections[i]->id, id) == 0)
            return l->objections[i];
    return NULL;
}

int leads_record_objection(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const RecordObjectionRequest *in = (const RecordObjectionRequest *)in_;
    Lead *l;
    if (in->category == RAPPORT__LEADS__V1__OBJECTION_CATEGORY__OBJECTION_CATEGORY_UNSPECIFIED)
        rp_reply_violation(ctx, "category", "is required");
    rp_len_or_reply(ctx, "text", in->text, 1, LEADS_NOTE_MAX);
    rp_len_or_reply(ctx, "response", in->response, 0, LEADS_NOTE_MAX);
    if (rp_ctx_failed(ctx))
        return -1;
    if (leads_load_or_reply(ctx, "lead_id", in->lead_id, &l) < 0)
        return -1;
    if (l->n_objections >= LEADS_MAX_OBJECTIONS)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "a lead keeps at most %d objections",
                              LEADS_MAX_OBJECTIONS);

    int64_t now = rp_ctx_now(ctx);
    Objection *o = rp_ctx_alloc(ctx, sizeof *o);
    rapport__leads__v1__objection__init(o);
    o->id = rp_ctx_new_id_str(ctx);
    o->category = in->category;
    o->text = in->text;
    o->response = in->response;
    o->resolved = in->resolved;
    o->created_at = o->updated_at = now;
    o->by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    l->objections = (Objection **)rp_ctx_append(ctx, (void **)l->objections, l->n_objections, o);
    l->n_objections++;
    l->updated_at = now;
    if (s_write(ctx, l, "objection.recorded", NULL) < 0)
        return -1;
    *out = &o->base;
    return 0;
}

int leads_update_objection(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const UpdateObjectionRequest *in = (const UpdateObjectionRequest *)in_;
    Lead *l;
    rp_ulid_t oid;
    rp_ulid_or_reply(ctx, "objection_id", in->objection_id, &oid);
    rp_len_or_reply(ctx, "response", in->response, 0, LEADS_NOTE_MAX);
    if (rp_ctx_failed(ctx))
        return -1;
    if (leads_load_or_reply(ctx, "lead_id", in->lead_id, &l) < 0)
        return -1;
    Objection *o = s_find_objection(l, in->objection_id);
    if (!o)
        return rp_reply_error(ctx, RP_NOT_FOUND, "objection %s not found on lead %s", in->objection_id, l->id);
    if (!rp_str_empty(in->response))
        o->response = in->response;
    o->resolved = in->resolved;
    o->updated_at = l->updated_at = rp_ctx_now(ctx);
    if (s_write(ctx, l, "lead.updated", NULL) < 0)
        return -1;
    *out = &o->base;
    return 0;
}

/* ---- competitors ---- */

/* s_find_competitor - index of the competitor matching id (when given) or folded name. */
static long s_find_competitor(const Lead *l, const char *id, const char *name)
{
    char a[512], b[512];
    bool by_name = !rp_str_empty(name) && rp_fold_name(name, a, sizeof a) > 0;
    for (size_t i = 0; i < l->n_competitors; i++) {
        const Competitor *c = l->competitors[i];
        if (!rp_str_empty(id)) {
            if (strcasecmp(c->competitor_id, id) == 0)
                return (long)i;
            continue;
        }
        if (by_name && rp_fold_name(c->name, b, sizeof b) > 0 && strcmp(a, b) == 0)
            return (long)i;
    }
    return -1;
}

int leads_set_competitor(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const SetCompetitorRequest *in = (const SetCompetitorRequest *)in_;
    const Competitor *c = in->competitor;
    Lead *l;
    if (!c)
        return rp_reply_violation(ctx, "competitor", "is required");
    if (!rp_str_empty(c->competitor_id)) {
        rp_ulid_t u;
        rp_ulid_or_reply(ctx, "competitor.competitor_id", c->competitor_id, &u);
        rp_len_or_reply(ctx, "competitor.name", c->name, 0, LEADS_NAME_MAX);
    } else {
        rp_len_or_reply(ctx, "competitor.name", c->name, 1, LEADS_NAME_MAX);
    }
    if (c->threat == RAPPORT__LEADS__V1__THREAT_LEVEL__THREAT_LEVEL_UNSPECIFIED)
        rp_reply_violation(ctx, "competitor.threat", "is required");
    rp_len_or_reply(ctx, "competitor.note", c->note, 0, LEADS_NOTE_MAX);
    if (rp_ctx_failed(ctx))
        return -1;
    if (leads_load_or_reply(ctx, "lead_id", in->lead_id, &l) < 0)
        return -1;

    long i = s_find_competitor(l, c->competitor_id, c->name);
    if (i >= 0) {
        Competitor *e = l->competitors[i];
        if (!rp_str_empty(c->name))
            e->name = c->name;
        e->threat = c->threat;
        e->note = c->note;
    } else {
        if (l->n_competitors >= LEADS_MAX_COMPETITORS)
            return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "a lead keeps at most %d competitors",
                                  LEADS_MAX_COMPETITORS);
        l->competitors = (Competitor **)rp_ctx_append(ctx, (void **)l->competitors, l->n_competitors,
                                                     (void *)c);
        l->n_competitors++;
    }
    l->updated_at = rp_ctx_now(ctx);
    return s_write_reply(ctx, l, "lead.updated", NULL, out);
}

int leads_remove_competitor(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const RemoveCompetitorRequest *in = (const RemoveCompetitorRequest *)in_;
    Lead *l;
    if (rp_str_empty(in->competitor_id) && rp_str_empty(in->name))
        return rp_reply_violation(ctx, "name", "competitor_id or name required");
    if (leads_load_or_reply(ctx, "lead_id", in->lead_id, &l) < 0)
        return -1;
    long i = s_find_competitor(l, in->competitor_id, in->name);
    if (i < 0)
        return rp_reply_error(ctx, RP_NOT_FOUND, "no such competitor on lead %s", l->id);
    memmove(&l->competitors[i], &l->competitors[i + 1],
            (l->n_competitors - (size_t)i - 1) * sizeof *l->competitors);
    l->n_competitors--;
    l->updated_at = rp_ctx_now(ctx);
    return s_write_reply(ctx, l, "lead.updated", NULL, out);
}
