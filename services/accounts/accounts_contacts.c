/* accounts_contacts.c - contacts of rapport-accounts: who they are, their role in
 * decisions, how to reach them, consent with its source and time, do-not-contact,
 * masking for callers without accounts.contacts.read, and erasure on request
 * (the person is anonymised; the contact record and every business record that
 * points at it stay).
 */
#include <stdio.h>
#include <string.h>
#include "accounts.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Accounts__V1__CreateContactRequest CreateContactRequest;
typedef Rapport__Accounts__V1__UpdateContactRequest UpdateContactRequest;
typedef Rapport__Accounts__V1__SetConsentRequest SetConsentRequest;
typedef Rapport__Accounts__V1__EraseContactRequest EraseContactRequest;
typedef Rapport__Accounts__V1__ListContactsRequest ListContactsRequest;
typedef Rapport__Accounts__V1__ListContactsReply ListContactsReply;

#define ERASED_NAME "erased contact"

/* ---- masking ---- */

/* s_mask_phone - keep the first three and the last two characters, star the
 * digits between: "+49 30 1234567" -> "+49 ** *****67". */
static char *s_mask_phone(rp_ctx_t *ctx, const char *p)
{
    char *m = rp_ctx_strdup(ctx, p);
    size_t n = strlen(m);
    for (size_t i = 3; i + 2 < n; i++)
        if (m[i] >= '0' && m[i] <= '9')
            m[i] = '*';
    return m;
}

/* s_mask_email - the first character of the local part and the domain:
 * "ann.buyer@acme.example" -> "a***@acme.example". */
static char *s_mask_email(rp_ctx_t *ctx, const char *e)
{
    const char *at = strrchr(e, '@');
    if (!at || at == e)
        return rp_ctx_strdup(ctx, "***");
    return rp_ctx_sprintf(ctx, "%c***%s", e[0], at);
}

Contact *acc_contact_masked(rp_ctx_t *ctx, const Contact *c)
{
    Contact *v = acc_copy(ctx, &c->base);
    for (size_t i = 0; i < v->n_phones; i++)
        v->phones[i] = s_mask_phone(ctx, v->phones[i]);
    for (size_t i = 0; i < v->n_emails; i++)
        v->emails[i] = s_mask_email(ctx, v->emails[i]);
    v->masked = true;
    return v;
}

Contact *acc_contact_view(rp_ctx_t *ctx, Contact *c)
{
    return rp_ctx_allowed(ctx, "accounts.contacts.read") ? c : acc_contact_masked(ctx, c);
}

/* s_emit - raise type about c with its phones and e-mails masked: events reach
 * roles without accounts.contacts.read (System/Replay, the PUB socket). */
static int s_emit(rp_ctx_t *ctx, const char *type, const Contact *c)
{
    return acc_emit(ctx, type, c->id, &acc_contact_masked(ctx, c)->base);
}

/* ---- shared ---- */

int acc_contact_load_or_reply(rp_ctx_t *ctx, const char *field, const char *id, Contact **out,
                              Client **client)
{
    rp_ulid_t u;
    Contact *c = NULL;
    Client *cl = NULL;
    if (rp_ulid_or_reply(ctx, field, id, &u) < 0)
        return -1;
    int rc = acc_get(ctx, &ACC_CONTACT, &u, &c);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "contact %s not found", id);
    if (rc != 0)
        return -1;
    rc = acc_get_str(ctx, &ACC_CLIENT, c->client_id, &cl);
    if (rc == MDB_NOTFOUND || (rc == 0 && !rp_scope_sees(rp_ctx_claims(ctx), cl->owner, cl->unit)))
        return rp_reply_error(ctx, RP_NOT_FOUND, "contact %s not found", id);
    if (rc != 0)
        return -1;
    *out = c;
    if (client)
        *client = cl;
    return 0;
}

int acc_contact_reachable_or_reply(rp_ctx_t *ctx, const Contact *c)
{
    if (c->erased)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contact %s is erased", c->id);
    if (c->do_not_contact)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contact %s is marked do-not-contact", c->id);
    if (c->consent && c->consent->state == CONSENT_WITHDRAWN)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contact %s has withdrawn consent to be contacted",
                              c->id);
    return 0;
}

int acc_contact_add(rp_ctx_t *ctx, Client *client, Contact *c)
{
    client->contact_count++;
    client->updated_at = rp_ctx_now(ctx);
    if (acc_put(ctx, &ACC_CLIENT, &client->base) < 0 || acc_put(ctx, &ACC_CONTACT, &c->base) < 0)
        return -1;
    return s_emit(ctx, "contact.created", c);
}

static int s_consent_or_reply(rp_ctx_t *ctx, const char *field, int state, int source, const char *note)
{
    char f[64];
    snprintf(f, sizeof f, "%s%ssource", field, *field ? "." : "");
    if (state != ACC_(CONSENT_STATE, CONSENT_STATE_UNSPECIFIED)
        && source == ACC_(CONSENT_SOURCE, CONSENT_SOURCE_UNSPECIFIED))
        rp_reply_violation(ctx, f, "is required with a consent state");
    snprintf(f, sizeof f, "%s%snote", field, *field ? "." : "");
    return rp_len_or_reply(ctx, f, note, 0, ACC_REASON_MAX);
}

static Consent *s_consent(rp_ctx_t *ctx, int state, int source, const char *note)
{
    Consent *k = rp_ctx_alloc(ctx, sizeof *k);
    rapport__accounts__v1__consent__init(k);
    k->state = state;
    k->source = source;
    k->note = rp_ctx_strdup(ctx, note);
    k->at = rp_ctx_now(ctx);
    k->by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    return k;
}

/* ---- CreateContact ---- */

int acc_create_contact(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const CreateContactRequest *in = (const CreateContactRequest *)in_;
    Client *client;

    rp_len_or_reply(ctx, "name", in->name, 1, ACC_NAME_MAX);
    rp_len_or_reply(ctx, "position", in->position, 0, ACC_LINE_MAX);
    if (in->role == ROLE_UNSPEC)
        rp_reply_violation(ctx, "role", "is required");
    acc_phones_or_reply(ctx, "phones", in->phones, in->n_phones);
    acc_emails_or_reply(ctx, "emails", in->emails, in->n_emails);
    rp_len_or_reply(ctx, "note", in->note, 0, ACC_NOTE_MAX);
    rp_len_or_reply(ctx, "import_key", in->import_key, 0, ACC_IMPORT_KEY_MAX);
    if (in->consent)
        s_consent_or_reply(ctx, "consent", in->consent->state, in->consent->source, in->consent->note);
    if (rp_ctx_failed(ctx))
        return -1;
    if (acc_client_load_or_reply(ctx, "client_id", in->client_id, &client) < 0)
        return -1;
    if (!rp_str_empty(in->import_key)) {
        char found[RP_ULID_STRLEN + 1];
        if (!rp_ctx_allowed(ctx, "accounts.import"))
            return rp_reply_error(ctx, RP_PERMISSION_DENIED, "import_key needs accounts.import");
        int r = acc_find_contact_import(ctx, in->import_key, found);
        if (r < 0)
            return -1;
        if (r == 1) {
            Contact *other = NULL;
            Client *oc = NULL;
            if (acc_get_str(ctx, &ACC_CONTACT, found, &other) == 0
                && acc_get_str(ctx, &ACC_CLIENT, other->client_id, &oc) == 0
                && rp_scope_sees(rp_ctx_claims(ctx), oc->owner, oc->unit))
                return rp_reply_exists(ctx, found, "imported already as contact %s", found);
            if (rp_ctx_failed(ctx))
                return -1;
            return rp_reply_exists(ctx, "", "a contact of another owner has this import key");
        }
    }

    Contact *c = rp_ctx_alloc(ctx, sizeof *c);
    rapport__accounts__v1__contact__init(c);
    c->id = rp_ctx_new_id_str(ctx);
    c->client_id = client->id;
    c->name = in->name;
    c->position = in->position;
    c->role = in->role;
    c->n_phones = in->n_phones;
    c->phones = in->phones;
    c->n_emails = in->n_emails;
    c->emails = in->emails;
    c->preferred_channel = in->preferred_channel;
    c->do_not_contact = in->do_not_contact;
    c->note = in->note;
    if (in->consent && in->consent->state != ACC_(CONSENT_STATE, CONSENT_STATE_UNSPECIFIED))
        c->consent = s_consent(ctx, in->consent->state, in->consent->source, in->consent->note);
    c->import_key = in->import_key;
    c->created_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    c->created_at = c->updated_at = rp_ctx_now(ctx);
    if (acc_contact_add(ctx, client, c) < 0 || acc_reply_keep(ctx, c->id) < 0)
        return -1;
    *out = &acc_contact_view(ctx, c)->base;
    return 0;
}

int acc_get_contact(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const Rapport__Accounts__V1__GetContactRequest *in = (const void *)in_;
    Contact *c;
    if (acc_contact_load_or_reply(ctx, "id", in->id, &c, NULL) < 0)
        return -1;
    *out = &acc_contact_view(ctx, c)->base;
    return 0;
}

/* s_write - put an existing contact, raise type about it and note that this
 * request's kept reply holds it. */
static int s_write(rp_ctx_t *ctx, Contact *c, const char *type, ProtobufCMessage **out)
{
    c->updated_at = rp_ctx_now(ctx);
    if (acc_put(ctx, &ACC_CONTACT, &c->base) < 0 || s_emit(ctx, type, c) < 0 || acc_reply_keep(ctx, c->id) < 0)
        return -1;
    *out = &acc_contact_view(ctx, c)->base;
    return 0;
}

/* ---- UpdateContact ---- */

static const char *const s_update_paths[] = {
    "name", "position", "role", "phones", "emails", "preferred_channel", "do_not_contact", "note", NULL
};

int acc_update_contact(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const UpdateContactRequest *in = (const UpdateContactRequest *)in_;
    char *const *m = in->update_mask;
    size_t nm = in->n_update_mask;
    Contact *c;
    if (acc_mask_or_reply(ctx, m, nm, s_update_paths) < 0)
        return -1;
    if (acc_mask_has(m, nm, "name"))
        rp_len_or_reply(ctx, "name", in->name, 1, ACC_NAME_MAX);
    rp_len_or_reply(ctx, "position", in->position, 0, ACC_LINE_MAX);
    if (acc_mask_has(m, nm, "role") && in->role == ROLE_UNSPEC)
        rp_reply_violation(ctx, "role", "is required");
    acc_phones_or_reply(ctx, "phones", in->phones, in->n_phones);
    acc_emails_or_reply(ctx, "emails", in->emails, in->n_emails);
    rp_len_or_reply(ctx, "note", in->note, 0, ACC_NOTE_MAX);
    if (rp_ctx_failed(ctx))
        return -1;
    if (acc_contact_load_or_reply(ctx, "id", in->id, &c, NULL) < 0)
        return -1;
    if (c->erased)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contact %s is erased", c->id);
    /* A caller who sees masked details must not write them back over the real ones. */
    if ((acc_mask_has(m, nm, "phones") || acc_mask_has(m, nm, "emails"))
        && !rp_ctx_allowed(ctx, "accounts.contacts.read"))
        return rp_reply_error(ctx, RP_PERMISSION_DENIED, "changing phones or e-mails needs accounts.contacts.read");
    for (size_t i = 0; i < nm; i++) {
        const char *p = m[i];
        if (!strcmp(p, "name")) c->name = in->name;
        else if (!strcmp(p, "position")) c->position = in->position;
        else if (!strcmp(p, "role")) c->role = in->role;
        else if (!strcmp(p, "phones")) { c->phones = in->phones; c->n_phones = in->n_phones; }
        else if (!strcmp(p, "emails")) { c->emails = in->emails; c->n_emails = in->n_emails; }
        else if (!strcmp(p, "preferred_channel")) c->preferred_channel = in->preferred_channel;
        else if (!strcmp(p, "do_not_contact")) c->do_not_contact = in->do_not_contact;
        else if (!strcmp(p, "note")) c->note = in->note;
    }
    return s_write(ctx, c, "contact.updated", out);
}

int acc_set_consent(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const SetConsentRequest *in = (const SetConsentRequest *)in_;
    Contact *c;
    if (in->state == ACC_(CONSENT_STATE, CONSENT_STATE_UNSPECIFIED))
        rp_reply_violation(ctx, "state", "GIVEN or WITHDRAWN");
    s_consent_or_reply(ctx, "", in->state, in->source, in->note);
    if (rp_ctx_failed(ctx))
        return -1;
    if (acc_contact_load_or_reply(ctx, "contact_id", in->contact_id, &c, NULL) < 0)
        return -1;
    if (c->erased)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contact %s is erased", c->id);
    c->consent = s_consent(ctx, in->state, in->source, in->note);
    return s_write(ctx, c, "contact.updated", out);
}

/* ---- EraseContact ---- */

int acc_erase_contact(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const EraseContactRequest *in = (const EraseContactRequest *)in_;
    Contact *c;
    if (rp_len_or_reply(ctx, "reason", in->reason, 1, ACC_REASON_MAX) < 0)
        return -1;
    if (acc_contact_load_or_reply(ctx, "id", in->id, &c, NULL) < 0)
        return -1;
    if (c->erased)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contact %s is erased already", c->id);
    Contact *e = rp_ctx_alloc(ctx, sizeof *e);
    rapport__accounts__v1__contact__init(e);
    e->id = c->id;
    e->client_id = c->client_id;
    e->name = ERASED_NAME;
    e->role = c->role;                  /* a business fact, not a personal one */
    e->do_not_contact = true;
    e->erased = true;
    e->erased_at = rp_ctx_now(ctx);
    e->erased_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    e->lead_id = c->lead_id;
    e->import_key = "";                 /* may be derived from the person's row */
    e->created_by = c->created_by;
    e->created_at = c->created_at;
    rp_ulid_t u;
    rp_ulid_parse(c->id, &u);
    /* Only a hash of the import key stays, so re-running the import that brought
     * the person in does not bring them back; and every reply kept for a retry of
     * a write that returned the person now returns the anonymised contact. */
    if (acc_erased_import_put(ctx, c->import_key, &u) < 0 || s_write(ctx, e, "contact.erased", out) < 0
        || acc_replies_rewrite(ctx, e->id, &e->base) < 0)
        return -1;
    return 0;
}

/* ---- ListContacts ---- */

static int s_list_row(void *arg, const ProtobufCMessage *m)
{
    acc_rows_t *x = arg;
    x->v[x->n++] = acc_contact_view(x->ctx, acc_copy(x->ctx, m));
    return 1;
}

int acc_list_contacts(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ListContactsRequest *in = (const ListContactsRequest *)in_;
    Client *client;
    rp_ulid_t id;
    if (acc_client_load_or_reply(ctx, "client_id", in->client_id, &client) < 0)
        return -1;
    rp_ulid_parse(client->id, &id);
    acc_query_t q = { .kind = AQ_CONTACT_CLIENT, .u = &id };
    acc_rows_t x;
    return acc_list_page(ctx, &q, in->page_size, in->page_token, s_list_row, &x,
                         &rapport__accounts__v1__list_contacts_reply__descriptor, "contacts", out);
}
