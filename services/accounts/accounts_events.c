/* accounts_events.c - what other services tell rapport-accounts through their
 * events, consumed durably (exactly once, the offset kept in the same transaction:
 * service.h rp_consumer_def_t).
 *
 * The 360 timeline sources are one table, s_sources: a row names the upstream
 * service, the event types (a prefix), the message its data holds, how to find
 * the client (a field of that message holding the client id, or NULL: the event's
 * subject is an upstream entity linked to a client, as a lead is by lead.won) and
 * which fields make the one-line summary (dotted paths, read by protobuf-c
 * reflection). A row may also carry an effect (lead.won creates or links the
 * client). Adding a source (contracts, payments, loyalty) is adding a row; the
 * consumers are derived from the table, one per upstream.
 *
 * Events about an entity not linked to a client yet wait in `pending` and move to
 * the client's timeline when the link is made, so a won lead's earlier history
 * shows. Entries are keyed by the upstream event's id: an event applied twice
 * writes the same entry, and a lead is linked once (the `links` table), so a
 * replayed stream changes nothing.
 */
#include <stdio.h>
#include <string.h>
#include "accounts.h"
#include "rapport/fold.h"
#include "rapport/log.h"
#include "rapport/util.h"
#include "rapport/leads/v1/leads.pb-c.h"

typedef Rapport__Leads__V1__Lead Lead;
typedef int (*acc_effect_fn)(rp_ctx_t *ctx, const Rapport__V1__Event *ev, const ProtobufCMessage *data);

typedef struct {
    const char *upstream;                     /* "leads" */
    const char *type_prefix;                  /* "rapport.leads.v1.lead." */
    const ProtobufCMessageDescriptor *data;   /* the message of the events' data */
    const char *client_field;                 /* field naming the client, or NULL: the subject is linked */
    const char *summary;                      /* comma-separated dotted field paths */
    acc_effect_fn effect;                     /* runs before the timeline entry, or NULL */
} acc_source_t;

static int s_lead_won(rp_ctx_t *ctx, const Rapport__V1__Event *ev, const ProtobufCMessage *data);

/* First matching row wins: specific prefixes before general ones. */
static const acc_source_t s_sources[] = {
    { "leads", "rapport.leads.v1.lead.won", &rapport__leads__v1__lead__descriptor, NULL,
      "company.name,expected_value.units,expected_value.currency", s_lead_won },
    { "leads", "rapport.leads.v1.lead.", &rapport__leads__v1__lead__descriptor, NULL, "company.name,stage", NULL },
    { "leads", "rapport.leads.v1.activity.", &rapport__leads__v1__activity__descriptor, NULL, "kind,outcome,subject", NULL },
    { "leads", "rapport.leads.v1.offer.", &rapport__leads__v1__offer__descriptor, NULL, "status,total.units,total.currency", NULL },
    { "leads", "rapport.leads.v1.objection.", &rapport__leads__v1__objection__descriptor, NULL, "category,resolved", NULL },
    { NULL, NULL, NULL, NULL, NULL, NULL }
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
            return *(const protobuf_c_boolean *)p ? name : NULL;
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

static int s_lead_won(rp_ctx_t *ctx, const Rapport__V1__Event *ev, const ProtobufCMessage *data)
{
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
    if (acc_link_put(ctx, "leads", ev->subject, &cid) < 0 || acc_pending_move(ctx, "leads", ev->subject, &cid) < 0)
        return -1;
    return 0;
}

/* ---- the consumer ---- */

static int s_consume(rp_ctx_t *ctx, const Rapport__V1__Event *ev)
{
    const acc_source_t *src = NULL;
    for (const acc_source_t *s = s_sources; s->upstream && !src; s++)
        if (rp_str_has_prefix(ev->type, s->type_prefix))
            src = s;
    if (!src)
        return 0;                       /* nothing the timeline tells */
    ProtobufCMessage *data = protobuf_c_message_unpack(src->data, rp_ctx_allocator(ctx), ev->data.len, ev->data.data);
    if (!data)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "event %s: data is not a %s", ev->type, src->data->name);
    if (rp_str_empty(ev->id) || rp_str_empty(ev->subject))
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "event %s without an id or subject", ev->type);
    if (src->effect && src->effect(ctx, ev, data) < 0)
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
    if (src->client_field) {
        const char *id = s_field_text(ctx, data, src->client_field);
        Client *c;
        if (!id || acc_get_str(ctx, &ACC_CLIENT, id, &c) != 0)
            return rp_ctx_failed(ctx) ? -1 : 0;     /* not one of ours */
        rp_ulid_parse(c->id, &cid);
        return acc_timeline_put(ctx, &cid, t);
    }
    int r = acc_link_get(ctx, src->upstream, ev->subject, &cid);
    if (r < 0)
        return -1;
    return r == 1 ? acc_timeline_put(ctx, &cid, t) : acc_pending_put(ctx, src->upstream, ev->subject, t);
}

const rp_consumer_def_t *acc_consumers(void)
{
    enum { MAX = 16 };
    static rp_consumer_def_t defs[MAX + 1];
    static char prefixes[MAX][64];
    static bool built;
    if (built)
        return defs;
    size_t n = 0;
    for (const acc_source_t *s = s_sources; s->upstream; s++) {
        bool seen = false;
        for (size_t i = 0; i < n; i++)
            seen = seen || strcmp(defs[i].upstream, s->upstream) == 0;
        if (seen || n == MAX)
            continue;
        snprintf(prefixes[n], sizeof prefixes[n], "rapport.%s.v1.", s->upstream);
        defs[n].upstream = s->upstream;
        defs[n].type_prefix = prefixes[n];
        defs[n].apply = s_consume;
        n++;
    }
    built = true;
    return defs;
}
