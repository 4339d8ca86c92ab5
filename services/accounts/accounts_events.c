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
    const char *summary;                      /* comma-separated dotted field paths */
    acc_effect_fn effect;                     /* runs before the timeline entry, or NULL */
};

static int s_lead_won(rp_ctx_t *ctx, const acc_source_t *src, const Rapport__V1__Event *ev,
                      const ProtobufCMessage *data);
static int s_renewal_task(rp_ctx_t *ctx, const acc_source_t *src, const Rapport__V1__Event *ev,
                          const ProtobufCMessage *data);

#define LEAD_D(m) &rapport__leads__v1__##m##__descriptor
#define CT_D(m) &rapport__contracts__v1__##m##__descriptor
#define LEAD_SELF { "leads", NULL }
#define CONTRACT_VIA { { "leads", "lead_id" }, { "contracts", "parent_id" } }
#define CONTRACT_SUMMARY "number,terms.client_name,terms.value.units,terms.value.currency"

/* First matching row wins: specific prefixes before general ones. */
static const acc_source_t s_sources[] = {
    { "leads", "rapport.leads.v1.lead.won", NULL, LEAD_D(lead), NULL, LEAD_SELF, { { NULL, NULL } },
      "company.name,expected_value.units,expected_value.currency", s_lead_won },
    { "leads", "rapport.leads.v1.lead.", NULL, LEAD_D(lead), NULL, LEAD_SELF, { { NULL, NULL } },
      "company.name,stage", NULL },
    { "leads", "rapport.leads.v1.activity.", NULL, LEAD_D(activity), NULL, LEAD_SELF, { { NULL, NULL } },
      "kind,outcome,subject", NULL },
    { "leads", "rapport.leads.v1.offer.", NULL, LEAD_D(offer), NULL, LEAD_SELF, { { NULL, NULL } },
      "status,total.units,total.currency", NULL },
    { "leads", "rapport.leads.v1.objection.", NULL, LEAD_D(objection), NULL, LEAD_SELF, { { NULL, NULL } },
      "category,resolved", NULL },
    { "contracts", "rapport.contracts.v1.quote.", "sent accepted rejected expired", CT_D(quote), "client_id",
      { NULL, NULL }, { { "leads", "lead_id" } },
      "client_name,version,terms.total.units,terms.total.currency", NULL },
    { "contracts", "rapport.contracts.v1.contract.signed", NULL, CT_D(contract_signed), "client_id",
      { "contracts", "contract_id" }, { { "contracts", "parent_id" } },
      "number,client_name,value.units,currency", NULL },
    { "contracts", "rapport.contracts.v1.contract.expiring", NULL, CT_D(contract_expiring), "client_id",
      { "contracts", "contract_id" }, { { NULL, NULL } }, "number,client_name,days_left", s_renewal_task },
    { "contracts", "rapport.contracts.v1.contract.", "drafted activated fulfilled expired terminated renewed",
      CT_D(contract), "terms.client_id", { "contracts", "id" }, CONTRACT_VIA, CONTRACT_SUMMARY ",terminate_reason",
      NULL },
    { "contracts", "rapport.contracts.v1.order.", "placed delivered overdue", CT_D(order), NULL,
      { NULL, NULL }, { { "contracts", "contract_id" } }, "contract_number,status,note", NULL },
    { NULL, NULL, NULL, NULL, NULL, { NULL, NULL }, { { NULL, NULL } }, NULL, NULL }
};

/* ---- reflection ---- */

/* s_field_text - the value at a dotted path of m as text (arena), or NULL when a
 * step is missing or the value is empty. Enums print their name, messages and
 * repeated fields are not printed. */
static const char *s_field_text(rp_ctx_t *ctx, const ProtobufCMessage *m, const char *path)
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
        if (dot) {
            if (f->type != PROTOBUF_C_TYPE_MESSAGE)
                return NULL;
            m = *(const ProtobufCMessage *const *)p;
            path = dot + 1;
            continue;
        }
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING: {
            const char *s = *(const char *const *)p;
            return rp_str_empty(s) ? NULL : s;
        }
        case PROTOBUF_C_TYPE_ENUM: {
            const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
            return v && v->value ? v->name : NULL;
        }
        case PROTOBUF_C_TYPE_BOOL:
            return *(const protobuf_c_boolean *)p ? rp_ctx_strdup(ctx, name) : NULL;
        case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
            return rp_ctx_sprintf(ctx, "%d", *(const int32_t *)p);
        case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
            return rp_ctx_sprintf(ctx, "%u", *(const uint32_t *)p);
        case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
            return rp_ctx_sprintf(ctx, "%lld", (long long)*(const int64_t *)p);
        case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
            return rp_ctx_sprintf(ctx, "%llu", (unsigned long long)*(const uint64_t *)p);
        default:
            return NULL;
        }
    }
    return NULL;
}

/* s_summary - "lead.won: Acme Ltd, 250000, EUR" from the row's fields, at most
 * ACC_SUMMARY_MAX bytes (cut on a UTF-8 boundary). */
static char *s_summary(rp_ctx_t *ctx, const acc_source_t *src, const Rapport__V1__Event *ev,
                       const ProtobufCMessage *data)
{
    const char *type = ev->type + strlen("rapport.") + strlen(src->upstream) + strlen(".v1.");
    if (strlen(ev->type) < (size_t)(type - ev->type))
        type = ev->type;
    char *s = rp_ctx_sprintf(ctx, "%s:", type);
    const char *p = src->summary;
    bool first = true;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char *path = rp_ctx_alloc(ctx, n + 1);
        memcpy(path, p, n);
        const char *v = s_field_text(ctx, data, path);
        if (v) {
            s = rp_ctx_sprintf(ctx, "%s%s%s", s, first ? " " : ", ", v);
            first = false;
        }
        p = comma ? comma + 1 : NULL;
    }
    size_t len = strlen(s);
    if (len > ACC_SUMMARY_MAX) {
        len = ACC_SUMMARY_MAX;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
        s[len] = '\0';
    }
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
        c->id = acc_new_id(ctx);
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
        c->lead_ids = (char **)acc_append(ctx, (void **)c->lead_ids, c->n_lead_ids, rp_ctx_strdup(ctx, l->id));
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
        if (rc == 0) {
            rp_ulid_parse(c->id, cid);
            return 1;
        }
        if (rc != MDB_NOTFOUND)
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
    t->due = acc_date_of_days(ctx, acc_today(ctx));
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
