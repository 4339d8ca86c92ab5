/* accounts_events.c - what other services tell rapport-accounts through their
 * events, consumed durably (exactly once, the offset kept in the same transaction:
 * service.h rp_consumer_def_t).
 *
 * The 360 timeline sources are one table, s_sources. A row names the upstream
 * service, the event types (a prefix, and optionally only some names after it),
 * the message its data holds, how to find the client and which fields make the
 * one-line summary (dotted paths, read by protobuf-c reflection). A row may also
 * carry an effect (lead.won creates or links the client; contract.expiring makes
 * a task for the contract's owner). Adding a source (payments, loyalty) is adding
 * rows; the consumers are derived from the table, one per upstream, each of which
 * can be switched off (RAPPORT_ACCOUNTS_FROM_<UPSTREAM>).
 *
 * Finding the client, in this order:
 *   client  a field holding the client's id in accounts (a quote's client_id);
 *   self    the entity the event is about (a lead, a contract), when it has been
 *           linked to a client already (the `links` table);
 *   via     up to two other entities that may be linked (a contract's lead or its
 *           parent contract; an order's contract).
 * When the client is known, self is linked to it (so an order, which names only
 * its contract, finds the client). When it is not known yet, the entry waits in
 * `pending` under self (else under the first via), and self waits on each via
 * (`link_waits`): linking a lead (lead.won) then links what waited on it, moving
 * every pending entry of each to the client's timeline, so a won lead's earlier
 * history, its quotes and the contract drafted from it all show.
 *
 * Entries are keyed by the upstream event's id, an entity is linked once (the first
 * link stays), and a renewal task's id is the notice's event id, so a replayed
 * stream changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include "accounts.h"
#include "rapport/config.h"
#include "rapport/fold.h"
#include "rapport/log.h"
#include "rapport/money.h"
#include "rapport/pbjson.h"
#include "rapport/perm.h"
#include "rapport/util.h"
#include "rapport/leads/v1/leads.pb-c.h"
#include "rapport/contracts/v1/contracts.pb-c.h"

typedef Rapport__Leads__V1__Lead Lead;
typedef struct acc_source acc_source_t;
typedef int (*acc_effect_fn)(rp_ctx_t *ctx, const acc_source_t *src, const Rapport__V1__Event *ev,
                             const ProtobufCMessage *data);

/* An entity named in an event: its kind (the key space of `links`) and the dotted
 * path of the field holding its id (NULL: the event's subject). */
typedef struct {
    const char *kind;                         /* "leads", "contracts"; NULL: none */
    const char *path;
} acc_key_t;

struct acc_source {
    const char *upstream;                     /* "leads" */
    const char *type_prefix;                  /* "rapport.leads.v1.lead." */
    const char *only;                         /* space-separated names after the prefix, or NULL: all */
    const ProtobufCMessageDescriptor *data;   /* the message of the events' data */
    const char *client;                       /* path of a field holding the client id, or NULL */
    acc_key_t self;                           /* the entity the event is about */
    acc_key_t via[2];                         /* entities it belongs with */
    const char *say;                          /* the summary's template (below) */
    acc_effect_fn effect;                     /* runs before the timeline entry, or NULL */
};

static int s_lead_won(rp_ctx_t *ctx, const acc_source_t *src, const Rapport__V1__Event *ev,
                      const ProtobufCMessage *data);
static int s_renewal_task(rp_ctx_t *ctx, const acc_source_t *src, const Rapport__V1__Event *ev,
                          const ProtobufCMessage *data);

/* The summary template, `say`: text as written, with
 *   {path}   a dotted field path of the data, as people read it: rapport.v1.Money
 *            "12,000.00 EUR" (the currency's minor units), rapport.v1.Date and unix-ms
 *            *_at fields "2026-03-31", enums their short lower-case name ("needs
 *            identified"; UNSPECIFIED is empty), a true bool its field name, numbers
 *            in decimal; empty strings and unset messages are empty;
 *   {@}      the event's name after its entity, as words ("signed", "stage changed");
 *   [...]    a part left out when a {...} in it is empty (not nested).
 * The first letter is made upper case. So "Contract {number} {@}[, {value}]" says
 * "Contract HQ-2026-000017 signed, 1,000.00 EUR". */

#define LEAD_D(m) &rapport__leads__v1__##m##__descriptor
#define CT_D(m) &rapport__contracts__v1__##m##__descriptor
#define NO_VIA { { NULL, NULL } }
/* A row about a lead (or something of the lead: an activity, offer, objection). */
#define LEAD_ROW(prefix, only, msg, say, effect) \
    { "leads", "rapport.leads.v1." prefix, only, LEAD_D(msg), NULL, { "leads", NULL }, NO_VIA, say, effect }
/* A row about a contract: its client when it names one, else its lead or parent. */
#define CONTRACT_ROW(only, say) \
    { "contracts", "rapport.contracts.v1.contract.", only, CT_D(contract), "terms.client_id", { "contracts", "id" }, \
      { { "leads", "lead_id" }, { "contracts", "parent_id" } }, say, NULL }

/* First matching row wins: specific prefixes before general ones. */
static const acc_source_t s_sources[] = {
    LEAD_ROW("lead.won", NULL, lead, "Lead won: {company.name}[, {expected_value}]", s_lead_won),
    LEAD_ROW("lead.stage_changed", NULL, lead, "Stage: [{previous_stage} → ]{stage}", NULL),
    LEAD_ROW("lead.lost", NULL, lead, "Lead lost: {company.name}[, {lost_reason}][ to {lost_competitor_name}]", NULL),
    LEAD_ROW("lead.disqualified", NULL, lead, "Lead disqualified: {company.name}[: {lost_note}]", NULL),
    LEAD_ROW("lead.assigned", NULL, lead, "Lead assigned to {owner}: {company.name}", NULL),
    LEAD_ROW("lead.qualified", NULL, lead, "Lead qualified: {company.name}[, {qualification.verdict}]"
             "[, score {qualification.score}]", NULL),
    LEAD_ROW("lead.", NULL, lead, "Lead {@}: {company.name}[, {expected_value}]", NULL),
    LEAD_ROW("activity.", NULL, activity, "{kind}[ ({outcome})][: {subject}]", NULL),
    LEAD_ROW("offer.", NULL, offer, "Offer {@}[, {total}][, valid until {valid_until}][: {reject_reason}]", NULL),
    LEAD_ROW("objection.", NULL, objection, "Objection {@}: {category}[, {resolved}]", NULL),
    { "contracts", "rapport.contracts.v1.quote.", "sent accepted rejected expired", CT_D(quote), "client_id",
      { NULL, NULL }, { { "leads", "lead_id" } },
      "Quote v{version} {@}[, {terms.total}][: {reject_reason}]", NULL },
    { "contracts", "rapport.contracts.v1.contract.signed", NULL, CT_D(contract_signed), "client_id",
      { "contracts", "contract_id" }, { { "contracts", "parent_id" } },
      "Contract {number} signed[, {value}][, {start} to {end}]", NULL },
    { "contracts", "rapport.contracts.v1.contract.expiring", NULL, CT_D(contract_expiring), "client_id",
      { "contracts", "contract_id" }, NO_VIA, "Contract {number} ends[ on {end}], {days_left} days left",
      s_renewal_task },
    CONTRACT_ROW("drafted", "Contract {number} drafted[, {terms.type}][, {terms.value}]"),
    CONTRACT_ROW("terminated", "Contract {number} terminated[: {terminate_reason}]"),
    CONTRACT_ROW("activated fulfilled expired renewed", "Contract {number} {@}[, {terms.value}]"),
    { "contracts", "rapport.contracts.v1.order.", "placed delivered overdue", CT_D(order), NULL,
      { NULL, NULL }, { { "contracts", "contract_id" } },
      "Order {@}[ on contract {contract_number}][, due {due}][, delivered {actual_delivery}]", NULL },
    { NULL, NULL, NULL, NULL, NULL, { NULL, NULL }, NO_VIA, NULL, NULL }
};

/* ---- reflection ---- */

/* s_date - "2026-03-31" (arena) for a rapport.v1.Date, or NULL when unset. */
static const char *s_date(rp_ctx_t *ctx, const ProtobufCMessage *m)
{
    const Rapport__V1__Date *d = (const Rapport__V1__Date *)m;
    if (!d || d->year <= 0)
        return NULL;
    return rp_ctx_sprintf(ctx, "%04d-%02d-%02d", d->year, d->month, d->day);
}

/* s_money - "12,000.00 EUR" (arena) for a rapport.v1.Money, or NULL when unset.
 * A currency the table does not know shows its minor units as they are. */
static const char *s_money(rp_ctx_t *ctx, const ProtobufCMessage *m)
{
    const Rapport__V1__Money *v = (const Rapport__V1__Money *)m;
    if (!v || rp_str_empty(v->currency))
        return NULL;
    char buf[64];
    if (rp_money_format_text(v->units, v->currency, buf, sizeof buf) == 0)
        return rp_ctx_strdup(ctx, buf);
    return rp_ctx_sprintf(ctx, "%lld %.8s", (long long)v->units, v->currency);
}

/* s_day_of_ms - "2026-03-31" (arena) for unix ms, or NULL for 0. */
static const char *s_day_of_ms(rp_ctx_t *ctx, int64_t ms)
{
    if (ms <= 0)
        return NULL;
    int32_t days = (int32_t)(ms / RP_DAY_MS);
    Date *d = rp_ctx_date(ctx, days);
    return s_date(ctx, &d->base);
}

/* s_scalar_text - a non-message field's value as text (arena), or NULL when empty. */
static const char *s_scalar_text(rp_ctx_t *ctx, const ProtobufCFieldDescriptor *f, const void *p)
{
    size_t n = strlen(f->name);
    bool at = n > 3 && strcmp(f->name + n - 3, "_at") == 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        return rp_str_empty(s) ? NULL : s;
    }
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        char buf[64];
        return v && rp_enum_text(f->descriptor, v, buf, sizeof buf) ? rp_ctx_strdup(ctx, buf) : NULL;
    }
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)p ? rp_ctx_strdup(ctx, f->name) : NULL;
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        return rp_ctx_sprintf(ctx, "%d", *(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        return rp_ctx_sprintf(ctx, "%u", *(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        if (at)
            return s_day_of_ms(ctx, *(const int64_t *)p);
        return rp_ctx_sprintf(ctx, "%lld", (long long)*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        return rp_ctx_sprintf(ctx, "%llu", (unsigned long long)*(const uint64_t *)p);
    default:
        return NULL;
    }
}

/* s_field - the value at a dotted path of m as text (arena), or NULL when a step is
 * missing or the value is empty. With raw, ids and enum names as they are stored
 * (to find things); otherwise as people read them (the template's {path}). Repeated
 * fields, and messages other than Money and Date, are not printed. */
static const char *s_field(rp_ctx_t *ctx, const ProtobufCMessage *m, const char *path, bool raw)
{
    char name[64];
    while (m) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n == 0 || n >= sizeof name)
            return NULL;
        memcpy(name, path, n);
        name[n] = '\0';
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
        if (!f || f->label == PROTOBUF_C_LABEL_REPEATED)
            return NULL;
        const void *p = (const uint8_t *)m + f->offset;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
            if (dot)
                return NULL;
            if (raw && f->type != PROTOBUF_C_TYPE_STRING)
                return NULL;
            return s_scalar_text(ctx, f, p);
        }
        m = *(const ProtobufCMessage *const *)p;
        if (dot) {
            path = dot + 1;
            continue;
        }
        if (raw || !m)
            return NULL;
        if (m->descriptor == &rapport__v1__money__descriptor)
            return s_money(ctx, m);
        if (m->descriptor == &rapport__v1__date__descriptor)
            return s_date(ctx, m);
        return NULL;
    }
    return NULL;
}

/* s_field_text - a stored id (or other string) at a dotted path, or NULL. */
static const char *s_field_text(rp_ctx_t *ctx, const ProtobufCMessage *m, const char *path)
{
    return s_field(ctx, m, path, true);
}

/* s_event_words - "signed" for rapport.contracts.v1.contract.signed, "stage changed"
 * for ...lead.stage_changed (arena). */
static const char *s_event_words(rp_ctx_t *ctx, const char *type)
{
    const char *dot = strrchr(type, '.');
    char *w = rp_ctx_strdup(ctx, dot ? dot + 1 : type);
    for (char *p = w; *p; p++)
        if (*p == '_')
            *p = ' ';
    return w;
}

/* Text being said: longer than any summary, so a cut one is still cut on a character. */
typedef struct {
    char b[4 * ACC_SUMMARY_MAX];
    size_t len;
} s_text_t;

static void s_add(s_text_t *t, const char *p, size_t n)
{
    if (n > sizeof t->b - 1 - t->len)
        n = sizeof t->b - 1 - t->len;
    memcpy(t->b + t->len, p, n);
    t->len += n;
    t->b[t->len] = '\0';
}

/* s_say - render a template part [p, end) into out; false when a {...} in it is
 * empty. */
static bool s_say(rp_ctx_t *ctx, const char *p, const char *end, const Rapport__V1__Event *ev,
                  const ProtobufCMessage *data, s_text_t *out)
{
    bool full = true;
    while (p < end) {
        const char *open = memchr(p, '{', (size_t)(end - p));
        const char *close = open ? memchr(open, '}', (size_t)(end - open)) : NULL;
        if (!close) {
            s_add(out, p, (size_t)(end - p));
            break;
        }
        s_add(out, p, (size_t)(open - p));
        char *path = rp_ctx_alloc(ctx, (size_t)(close - open));
        memcpy(path, open + 1, (size_t)(close - open - 1));
        const char *v = strcmp(path, "@") == 0 ? s_event_words(ctx, ev->type) : s_field(ctx, data, path, false);
        if (v)
            s_add(out, v, strlen(v));
        else
            full = false;
        p = close + 1;
    }
    return full;
}

/* s_summary - the row's template said for this event ("Lead won: Acme Ltd,
 * 12,000.00 EUR"), at most ACC_SUMMARY_MAX bytes (cut on a UTF-8 boundary). */
static char *s_summary(rp_ctx_t *ctx, const acc_source_t *src, const Rapport__V1__Event *ev,
                       const ProtobufCMessage *data)
{
    s_text_t out = { "", 0 }, part;
    for (const char *p = src->say; *p;) {
        const char *open = strchr(p, '[');
        const char *close = open ? strchr(open, ']') : NULL;
        if (!close) {
            s_say(ctx, p, p + strlen(p), ev, data, &out);
            break;
        }
        s_say(ctx, p, open, ev, data, &out);
        part.len = 0;
        if (s_say(ctx, open + 1, close, ev, data, &part))
            s_add(&out, part.b, part.len);
        p = close + 1;
    }
    size_t len = out.len < ACC_SUMMARY_MAX ? out.len : ACC_SUMMARY_MAX;
    while (len > 0 && len < out.len && ((unsigned char)out.b[len] & 0xC0) == 0x80)
        len--;
    char *s = rp_ctx_alloc(ctx, len + 1);
    memcpy(s, out.b, len);
    s[len] = '\0';
    s[0] = (char)toupper((unsigned char)s[0]);
    return s;
}

/* ---- lead.won ---- */

static int s_role_of(int lead_role)
{
    switch (lead_role) {
    case RAPPORT__LEADS__V1__CONTACT_ROLE__CONTACT_ROLE_DECISION_MAKER: return ACC_(DECISION_ROLE, DECISION_ROLE_DECISION_MAKER);
    case RAPPORT__LEADS__V1__CONTACT_ROLE__CONTACT_ROLE_NEGOTIATOR:     return ACC_(DECISION_ROLE, DECISION_ROLE_NEGOTIATOR);
    case RAPPORT__LEADS__V1__CONTACT_ROLE__CONTACT_ROLE_INFLUENCER:     return ACC_(DECISION_ROLE, DECISION_ROLE_INFLUENCER);
    default:                                                            return ACC_(DECISION_ROLE, DECISION_ROLE_OTHER);
    }
}

static char **s_one(rp_ctx_t *ctx, const char *s, size_t *n)
{
    *n = 0;
    if (rp_str_empty(s))
        return NULL;
    char **v = rp_ctx_alloc(ctx, sizeof *v);
    v[0] = rp_ctx_strdup(ctx, s);
    *n = 1;
    return v;
}

typedef struct {
    rp_ctx_t *ctx;
    Contact **v;
    size_t n;
} s_have_t;

static int s_have_row(void *arg, const ProtobufCMessage *m)
{
    s_have_t *x = arg;
    x->v[x->n++] = acc_copy(x->ctx, m);
    return 1;
}

/* s_same_person - the lead's contact is already a contact of the client: the same
 * folded e-mail, else (no e-mail on either) the same folded name. */
static bool s_same_person(const Rapport__Leads__V1__Contact *lc, const Contact *c)
{
    char a[512], b[512];
    if (c->erased)
        return false;
    if (!rp_str_empty(lc->email) && rp_fold_email(lc->email, a, sizeof a) > 0) {
        for (size_t i = 0; i < c->n_emails; i++)
            if (rp_fold_email(c->emails[i], b, sizeof b) > 0 && strcmp(a, b) == 0)
                return true;
        if (c->n_emails)
            return false;
    }
    return rp_fold_name(lc->name, a, sizeof a) > 0 && rp_fold_name(c->name, b, sizeof b) > 0 && strcmp(a, b) == 0;
}

/* s_move_contacts - the lead's contacts become the client's (those it lacks). */
static int s_move_contacts(rp_ctx_t *ctx, const Rapport__V1__Event *ev, const Lead *l, Client *client, bool fresh)
{
    s_have_t have = { ctx, NULL, 0 };
    if (!fresh) {
        rp_ulid_t cid;
        rp_ulid_parse(client->id, &cid);
        have.v = rp_ctx_alloc(ctx, ACC_TREE_NODES * sizeof(Contact *));
        acc_query_t q = { .kind = AQ_CONTACT_CLIENT, .u = &cid };
        if (acc_query(ctx, &q, NULL, ACC_TREE_NODES, 0, s_have_row, &have, NULL) != 0)
            return -1;
    }
    for (size_t i = 0; i < l->n_contacts; i++) {
        const Rapport__Leads__V1__Contact *lc = l->contacts[i];
        bool known = false;
        for (size_t j = 0; j < have.n && !known; j++)
            known = s_same_person(lc, have.v[j]);
        if (known || rp_str_empty(lc->name))
            continue;
        Contact *c = rp_ctx_alloc(ctx, sizeof *c);
        rapport__accounts__v1__contact__init(c);
        c->id = rp_ctx_new_id_str(ctx);
        c->client_id = client->id;
        c->name = lc->name;
        c->position = lc->position;
        c->role = s_role_of(lc->role);
        c->phones = s_one(ctx, lc->phone, &c->n_phones);
        c->emails = s_one(ctx, lc->email, &c->n_emails);
        c->lead_id = l->id;
        c->created_by = ev->actor;
        c->created_at = c->updated_at = rp_ctx_now(ctx);
        if (acc_contact_add(ctx, client, c) < 0)
            return -1;
    }
    return 0;
}

static int s_link(rp_ctx_t *ctx, const char *kind, const char *id, const rp_ulid_t *client, int depth);

static int s_lead_won(rp_ctx_t *ctx, const acc_source_t *src, const Rapport__V1__Event *ev,
                      const ProtobufCMessage *data)
{
    (void)src;
    const Lead *l = (const Lead *)data;
    rp_ulid_t cid;
    int r = acc_link_get(ctx, "leads", ev->subject, &cid);
    if (r != 0)
        return r < 0 ? -1 : 0;          /* linked already: once is enough */
    if (!l->company || rp_str_empty(l->company->name) || rp_str_empty(l->id))
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "lead.won %s without a company name", ev->subject);

    char found[RP_ULID_STRLEN + 1];
    Client *c = NULL;
    bool fresh = false;
    r = acc_find_taxid(ctx, l->company->tax_id, NULL, found);
    if (r < 0)
        return -1;
    if (r == 1 && acc_get_str(ctx, &ACC_CLIENT, found, &c) != 0)
        return -1;
    if (c) {
        c->lead_ids = (char **)rp_ctx_append(ctx, (void **)c->lead_ids, c->n_lead_ids, rp_ctx_strdup(ctx, l->id));
        c->n_lead_ids++;
        c->updated_at = rp_ctx_now(ctx);
        if (acc_put(ctx, &ACC_CLIENT, &c->base) < 0 || acc_emit(ctx, "client.updated", c->id, &c->base) < 0)
            return -1;
    } else {
        fresh = true;
        c = acc_client_new(ctx);
        c->kind = KIND_LEGAL;
        c->legal_name = l->company->name;
        c->tax_id = l->company->tax_id;
        c->region = l->company->region;
        c->industry = l->company->industry;
        c->size = (int)l->company->size;
        c->lifecycle = LC_NEW;
        c->owner = l->owner;
        c->unit = l->unit;
        c->branch = l->branch;
        c->created_by = ev->actor;
        c->lead_ids = s_one(ctx, l->id, &c->n_lead_ids);
        if (acc_client_create(ctx, c) < 0)
            return -1;
    }
    if (s_move_contacts(ctx, ev, l, c, fresh) < 0)
        return -1;
    rp_ulid_parse(c->id, &cid);
    return s_link(ctx, "leads", ev->subject, &cid, 0);
}

/* ---- finding the client ---- */

#define LINK_DEPTH 4        /* lead -> contract -> renewal -> its renewal */

/* s_link - (kind, id) belongs to client: record it (the first link stays), move
 * its pending entries to the client's timeline and link what waited on it. */
static int s_link(rp_ctx_t *ctx, const char *kind, const char *id, const rp_ulid_t *client, int depth)
{
    rp_ulid_t have;
    int r = acc_link_get(ctx, kind, id, &have);
    if (r != 0)
        return r < 0 ? -1 : 0;
    if (acc_link_put(ctx, kind, id, client) < 0 || acc_pending_move(ctx, kind, id, client) < 0)
        return -1;
    acc_ref_t *w;
    size_t n;
    if (acc_waits_take(ctx, kind, id, &w, &n) < 0)
        return -1;
    for (size_t i = 0; i < n && depth < LINK_DEPTH; i++)
        if (s_link(ctx, w[i].upstream, w[i].subject, client, depth + 1) < 0)
            return -1;
    return 0;
}

/* s_key_id - the id a key names in this event, or NULL. */
static const char *s_key_id(rp_ctx_t *ctx, const acc_key_t *k, const Rapport__V1__Event *ev,
                            const ProtobufCMessage *data)
{
    if (!k->kind)
        return NULL;
    return k->path ? s_field_text(ctx, data, k->path) : ev->subject;
}

/* s_may_name - whether an upstream record (a quote, a contract) whose data has an
 * owner and unit may put entries on client c's timeline by naming its id: its owner
 * owns the client, or its unit covers the client's (a head's deal on a client of
 * their unit). Another service cannot check accounts' scopes when the id is typed
 * in, so without this anyone could write onto any client's timeline. Records
 * without owner/unit fields are not limited. */
static bool s_may_name(rp_ctx_t *ctx, const ProtobufCMessage *data, const Client *c)
{
    const char *owner = s_field_text(ctx, data, "owner");
    const char *unit = s_field_text(ctx, data, "unit");
    if (!owner && !unit)
        return true;
    if (owner && *owner && strcmp(owner, c->owner) == 0)
        return true;
    return unit && *unit && rp_unit_contains(unit, c->unit);
}

/* s_find_client - the client the event is about: 1 (*cid set), 0 not known (yet),
 * -1 replied. *foreign (may be NULL) is set when the event names a client id that
 * is not one of ours. */
static int s_find_client(rp_ctx_t *ctx, const acc_source_t *src, const Rapport__V1__Event *ev,
                         const ProtobufCMessage *data, rp_ulid_t *cid, bool *foreign)
{
    if (foreign)
        *foreign = false;
    if (src->client) {
        const char *id = s_field_text(ctx, data, src->client);
        Client *c;
        if (foreign)
            *foreign = id != NULL;
        int rc = id ? acc_get_str(ctx, &ACC_CLIENT, id, &c) : MDB_NOTFOUND;
        if (rc == 0 && s_may_name(ctx, data, c)) {
            rp_ulid_parse(c->id, cid);
            return 1;
        }
        if (rc == 0)
            rp_warn("accounts: %s %s names client %s, which its owner's unit does not cover; "
                    "not put on that client's timeline", ev->type, ev->subject, c->id);
        else if (rc != MDB_NOTFOUND)
            return -1;
    }
    const acc_key_t *keys[] = { &src->self, &src->via[0], &src->via[1] };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *id = s_key_id(ctx, keys[i], ev, data);
        int r = id ? acc_link_get(ctx, keys[i]->kind, id, cid) : 0;
        if (r != 0)
            return r;
    }
    return 0;
}

/* s_wait - the client is not known yet: the entry waits under self (else the first
 * via naming something), and self waits on each via. An event that names nothing
 * linkable tells no client's timeline. */
static int s_wait(rp_ctx_t *ctx, const acc_source_t *src, const Rapport__V1__Event *ev,
                  const ProtobufCMessage *data, const TimelineEntry *t)
{
    const char *self = s_key_id(ctx, &src->self, ev, data);
    const char *via[2] = { s_key_id(ctx, &src->via[0], ev, data), s_key_id(ctx, &src->via[1], ev, data) };
    if (self) {
        for (int i = 0; i < 2; i++)
            if (via[i] && acc_wait_put(ctx, src->via[i].kind, via[i], src->self.kind, self) < 0)
                return -1;
        return acc_pending_put(ctx, src->self.kind, self, t);
    }
    for (int i = 0; i < 2; i++)
        if (via[i])
            return acc_pending_put(ctx, src->via[i].kind, via[i], t);
    return 0;
}

/* ---- contract.expiring: a renewal task for the contract's owner ---- */

static int s_renewal_task(rp_ctx_t *ctx, const acc_source_t *src, const Rapport__V1__Event *ev,
                          const ProtobufCMessage *data)
{
    const Rapport__Contracts__V1__ContractExpiring *e = (const void *)data;
    rp_ulid_t tid, cid;
    Task *have;
    /* The task's id is the notice's: a notice applied again finds its task. */
    if (rp_ulid_parse(ev->id, &tid) != 0)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "contract.expiring %s: the event id is not a ULID", ev->id);
    int rc = acc_get(ctx, &ACC_TASK, &tid, &have);
    if (rc != MDB_NOTFOUND)
        return rc == 0 ? 0 : -1;
    if (rp_str_empty(e->contract_id) || rp_str_empty(e->owner) || rp_str_empty(e->unit))
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "contract.expiring %s without a contract, owner or unit",
                              ev->id);
    int found = s_find_client(ctx, src, ev, data, &cid, NULL);
    if (found < 0)
        return -1;
    char client_id[RP_ULID_STRLEN + 1] = "";
    if (found)
        rp_ulid_format(&cid, client_id);

    Task *t = rp_ctx_alloc(ctx, sizeof *t);
    rapport__accounts__v1__task__init(t);
    t->id = rp_ctx_strdup(ctx, ev->id);
    t->client_id = rp_ctx_strdup(ctx, client_id);
    t->contact_id = "";
    t->kind = TK_CALL;
    t->title = rp_ctx_sprintf(ctx, "Renew contract %.40s with %.100s: %u days left", e->number,
                              rp_str_empty(e->client_name) ? "the client" : e->client_name, e->days_left);
    if (e->end)
        t->note = rp_ctx_sprintf(ctx, "The contract ends on %04u-%02u-%02u (the %u-day notice).",
                                 e->end->year, e->end->month, e->end->day, e->threshold_days);
    t->assignee = e->owner;
    t->assignee_unit = e->unit;
    t->assigned_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    t->due = rp_ctx_date(ctx, rp_ctx_today(ctx));
    t->priority = e->days_left <= 7 ? TP_HIGH : TP_NORMAL;
    t->status = TS_OPEN;
    t->origin = "contract_expiring";
    Rapport__Accounts__V1__Link *l = rp_ctx_alloc(ctx, sizeof *l);
    rapport__accounts__v1__link__init(l);
    l->kind = ACC_(LINK_KIND, LINK_KIND_CONTRACT);
    l->id = e->contract_id;
    t->link = l;
    t->created_at = t->updated_at = rp_ctx_now(ctx);
    return acc_task_add(ctx, t);
}

/* ---- the consumer ---- */

/* s_matches - the event is one the row tells about. */
static bool s_matches(const acc_source_t *s, const char *type)
{
    if (!rp_str_has_prefix(type, s->type_prefix))
        return false;
    if (!s->only)
        return true;
    const char *name = type + strlen(s->type_prefix);
    size_t n = strlen(name);
    for (const char *p = s->only; *p;) {
        size_t w = strcspn(p, " ");
        if (w == n && n > 0 && memcmp(p, name, n) == 0)
            return true;
        p += w;
        p += strspn(p, " ");
    }
    return false;
}

static int s_consume(rp_ctx_t *ctx, const Rapport__V1__Event *ev)
{
    const acc_source_t *src = NULL;
    for (const acc_source_t *s = s_sources; s->upstream && !src; s++)
        if (s_matches(s, ev->type))
            src = s;
    if (!src)
        return 0;                       /* nothing the timeline tells */
    ProtobufCMessage *data = protobuf_c_message_unpack(src->data, rp_ctx_allocator(ctx), ev->data.len, ev->data.data);
    if (!data)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "event %s: data is not a %s", ev->type, src->data->name);
    if (rp_str_empty(ev->id) || rp_str_empty(ev->subject))
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "event %s without an id or subject", ev->type);
    if (src->effect && src->effect(ctx, src, ev, data) < 0)
        return -1;

    TimelineEntry *t = rp_ctx_alloc(ctx, sizeof *t);
    rapport__accounts__v1__timeline_entry__init(t);
    t->id = ev->id;
    t->kind = ACC_(TIMELINE_KIND, TIMELINE_KIND_EVENT);
    t->at = ev->time;
    t->source = (char *)src->upstream;
    t->type = ev->type;
    t->subject = ev->subject;
    t->summary = s_summary(ctx, src, ev, data);
    t->actor = ev->actor;

    rp_ulid_t cid;
    bool foreign;
    int r = s_find_client(ctx, src, ev, data, &cid, &foreign);
    if (r < 0)
        return -1;
    if (r == 0)                         /* a client that is not ours never will be */
        return foreign ? 0 : s_wait(ctx, src, ev, data, t);
    const char *self = s_key_id(ctx, &src->self, ev, data);
    if (self && s_link(ctx, src->self.kind, self, &cid, 0) < 0)
        return -1;
    return acc_timeline_put(ctx, &cid, t);
}

/* s_follows - RAPPORT_ACCOUNTS_FROM_<UPSTREAM> (default 1): 1, 0, or -1 after a
 * message on a bad value. */
static int s_follows(const char *upstream)
{
    char var[64];
    int n = snprintf(var, sizeof var, "RAPPORT_ACCOUNTS_FROM_");
    for (const char *p = upstream; *p && n + 1 < (int)sizeof var; p++)
        var[n++] = (char)toupper((unsigned char)*p);
    var[n] = '\0';
    bool on;
    if (rp_config_bool(var, true, &on) < 0)
        return -1;
    return on ? 1 : 0;
}

int acc_consumers(const rp_consumer_def_t **out)
{
    enum { MAX = 16 };
    static rp_consumer_def_t defs[MAX + 1];
    static char prefixes[MAX][64];
    size_t n = 0;
    memset(defs, 0, sizeof defs);
    for (const acc_source_t *s = s_sources; s->upstream; s++) {
        bool seen = false;
        for (const acc_source_t *e = s_sources; e < s && !seen; e++)
            seen = strcmp(e->upstream, s->upstream) == 0;
        if (seen)
            continue;
        int on = s_follows(s->upstream);
        if (on < 0)
            return -1;
        if (!on || n == MAX)
            continue;
        snprintf(prefixes[n], sizeof prefixes[n], "rapport.%s.v1.", s->upstream);
        defs[n].upstream = s->upstream;
        defs[n].type_prefix = prefixes[n];
        defs[n].apply = s_consume;
        n++;
    }
    *out = n ? defs : NULL;
    return 0;
}
