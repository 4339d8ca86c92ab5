/* accounts_clients.c - the client methods of rapport-accounts: create, get, update,
 * ownership transfer with its history, lists over the indexes, the parent tree with
 * its roll-ups, and a manager's portfolio. Redis-style handlers: validate with the
 * *_or_reply helpers, load through the caller's scope (out of scope is NOT_FOUND),
 * write with acc_put (which keeps the indexes) and emit in the same transaction.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "accounts.h"
#include "rapport/fold.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Accounts__V1__CreateClientRequest CreateClientRequest;
typedef Rapport__Accounts__V1__UpdateClientRequest UpdateClientRequest;
typedef Rapport__Accounts__V1__TransferClientRequest TransferClientRequest;
typedef Rapport__Accounts__V1__ListClientsRequest ListClientsRequest;
typedef Rapport__Accounts__V1__ListClientsReply ListClientsReply;
typedef Rapport__Accounts__V1__ClientTreeReply ClientTreeReply;
typedef Rapport__Accounts__V1__TreeNode TreeNode;
typedef Rapport__Accounts__V1__PortfolioRequest PortfolioRequest;
typedef Rapport__Accounts__V1__PortfolioReply PortfolioReply;
typedef Rapport__Accounts__V1__PortfolioRow PortfolioRow;

/* ---- shared ---- */

int acc_client_load_or_reply(rp_ctx_t *ctx, const char *field, const char *id, Client **out)
{
    rp_ulid_t u;
    Client *c = NULL;
    if (rp_ulid_or_reply(ctx, field, id, &u) < 0)
        return -1;
    int rc = acc_get(ctx, &ACC_CLIENT, &u, &c);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "client %s not found", id);
    if (rc != 0)
        return -1;
    if (rp_scope_or_reply(ctx, "client", c->id, c->owner, c->unit) < 0)
        return -1;
    *out = c;
    return 0;
}

ClientSummary *acc_client_summary(rp_ctx_t *ctx, const Client *c)
{
    ClientSummary *s = rp_ctx_alloc(ctx, sizeof *s);
    rapport__accounts__v1__client_summary__init(s);
    s->id = rp_ctx_strdup(ctx, c->id);
    s->kind = c->kind;
    s->legal_name = rp_ctx_strdup(ctx, c->legal_name);
    s->trade_name = rp_ctx_strdup(ctx, c->trade_name);
    s->tax_id = rp_ctx_strdup(ctx, c->tax_id);
    s->country = rp_ctx_strdup(ctx, c->country);
    s->tier = c->tier;
    s->lifecycle = c->lifecycle;
    s->owner = rp_ctx_strdup(ctx, c->owner);
    s->unit = rp_ctx_strdup(ctx, c->unit);
    s->parent_id = rp_ctx_strdup(ctx, c->parent_id);
    s->last_contact_at = c->last_contact_at;
    s->open_tasks = c->open_tasks;
    s->n_segments = c->n_segments;
    s->segments = rp_ctx_alloc(ctx, (c->n_segments + 1) * sizeof(char *));
    for (size_t i = 0; i < c->n_segments; i++)
        s->segments[i] = rp_ctx_strdup(ctx, c->segments[i]);
    return s;
}

Client *acc_client_new(rp_ctx_t *ctx)
{
    Client *c = rp_ctx_alloc(ctx, sizeof *c);
    rapport__accounts__v1__client__init(c);
    int64_t now = rp_ctx_now(ctx);
    c->id = rp_ctx_new_id_str(ctx);
    c->tier = TIER_REGULAR;
    c->lifecycle = LC_PROSPECT;
    c->created_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    c->created_at = c->updated_at = c->last_contact_at = now;
    c->tier_changed_at = c->lifecycle_changed_at = now;
    return c;
}

int acc_client_create(rp_ctx_t *ctx, Client *c)
{
    if (acc_put(ctx, &ACC_CLIENT, &c->base) < 0)
        return -1;
    return acc_emit(ctx, "client.created", c->id, &c->base);
}

uint32_t acc_silence_days(rp_ctx_t *ctx, const Client *c)
{
    int64_t d = (rp_ctx_now(ctx) - c->last_contact_at) / RP_DAY_MS;
    return d < 0 ? 0 : d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

bool acc_contact_overdue(rp_ctx_t *ctx, const Client *c)
{
    if (c->tier >= TIER_COUNT || c->lifecycle == LC_LOST)
        return false;
    uint32_t days = acc_settings.silence_days[c->tier];
    return days > 0 && rp_ctx_now(ctx) - c->last_contact_at > (int64_t)days * RP_DAY_MS;
}

/* s_exists_or_reply - ALREADY_EXISTS for a duplicate of client `found`, naming it
 * only when the caller may see it. */
static int s_exists_or_reply(rp_ctx_t *ctx, const char *found, const char *what)
{
    Client *other = NULL;
    if (acc_get_str(ctx, &ACC_CLIENT, found, &other) == 0
        && rp_scope_sees(rp_ctx_claims(ctx), other->owner, other->unit))
        return rp_reply_exists(ctx, found, "client %s has %s", found, what);
    if (rp_ctx_failed(ctx))
        return -1;
    return rp_reply_exists(ctx, "", "a client of another owner has %s", what);
}

static int s_taxid_unique_or_reply(rp_ctx_t *ctx, const char *tax_id, const char *exclude)
{
    char found[RP_ULID_STRLEN + 1];
    int r = acc_find_taxid(ctx, tax_id, exclude, found);
    if (r <= 0)
        return r;
    return s_exists_or_reply(ctx, found, rp_ctx_sprintf(ctx, "the same tax id (%s)", tax_id));
}

/* s_parent_or_reply - parent must be a client the caller sees, and self (may be
 * NULL) must not be on its chain; the chain above self at most ACC_TREE_DEPTH. */
static int s_parent_or_reply(rp_ctx_t *ctx, const char *parent_id, const char *self)
{
    Client *p;
    if (acc_client_load_or_reply(ctx, "parent_id", parent_id, &p) < 0)
        return -1;
    for (int depth = 1; ; depth++) {
        if (self && strcasecmp(p->id, self) == 0)
            return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "a client cannot be its own ancestor");
        if (depth >= ACC_TREE_DEPTH)
            return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "a client tree is at most %d levels deep",
                                  ACC_TREE_DEPTH);
        if (rp_str_empty(p->parent_id))
            return 0;
        int rc = acc_get_str(ctx, &ACC_CLIENT, p->parent_id, &p);
        if (rc == MDB_NOTFOUND)
            return 0;
        if (rc)
            return -1;
    }
}

/* ---- CreateClient ---- */

int acc_create_client(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const CreateClientRequest *in = (const CreateClientRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);

    if (in->kind == ACC_(CLIENT_KIND, CLIENT_KIND_UNSPECIFIED))
        rp_reply_violation(ctx, "kind", "is required");
    acc_client_fields_or_reply(ctx, in->legal_name, in->trade_name, in->tax_id, in->country, in->region,
                               in->address, in->industry, in->language, in->segments, in->n_segments,
                               in->preferences, in->notes, true);
    rp_len_or_reply(ctx, "import_key", in->import_key, 0, ACC_IMPORT_KEY_MAX);
    if (!rp_str_empty(in->owner) || !rp_str_empty(in->owner_unit))
        rp_owner_or_reply(ctx, "owner", in->owner, "owner_unit", in->owner_unit);
    if (rp_ctx_failed(ctx))
        return -1;

    const char *owner = rp_principal(cl), *unit = cl->unit;
    if (!rp_str_empty(in->owner) && !(strcmp(in->owner, owner) == 0 && strcmp(in->owner_unit, unit) == 0)) {
        if (!rp_ctx_allowed(ctx, "accounts.assign"))
            return rp_reply_error(ctx, RP_PERMISSION_DENIED, "creating a client for another owner needs accounts.assign");
        if (rp_unit_or_reply(ctx, "owner_unit", in->owner_unit) < 0)
            return -1;
        owner = in->owner;
        unit = in->owner_unit;
    }
    if (!rp_str_empty(in->import_key)) {
        char found[RP_ULID_STRLEN + 1];
        if (!rp_ctx_allowed(ctx, "accounts.import"))
            return rp_reply_error(ctx, RP_PERMISSION_DENIED, "import_key needs accounts.import");
        int r = acc_find_client_import(ctx, in->import_key, found);
        if (r < 0)
            return -1;
        if (r == 1)
            return s_exists_or_reply(ctx, found, "this import key (imported already)");
    }
    if (s_taxid_unique_or_reply(ctx, in->tax_id, NULL) < 0)
        return -1;
    if (!rp_str_empty(in->parent_id) && s_parent_or_reply(ctx, in->parent_id, NULL) < 0)
        return -1;

    Client *c = acc_client_new(ctx);
    c->kind = in->kind;
    c->legal_name = in->legal_name;
    c->trade_name = in->trade_name;
    c->tax_id = in->tax_id;
    c->country = acc_upper(ctx, in->country);
    c->region = in->region;
    c->address = in->address;
    c->industry = in->industry;
    c->size = in->size;
    c->language = acc_lower(ctx, in->language);
    if (in->tier != TIER_UNSPEC)
        c->tier = in->tier;
    if (in->lifecycle != LC_UNSPEC)
        c->lifecycle = in->lifecycle;
    c->n_segments = in->n_segments;
    c->segments = in->segments;
    c->parent_id = rp_str_empty(in->parent_id) ? "" : acc_upper(ctx, in->parent_id);
    c->owner = rp_ctx_strdup(ctx, owner);
    c->unit = rp_ctx_strdup(ctx, unit);
    c->branch = rp_ctx_strdup(ctx, cl->branch);
    c->preferences = in->preferences;
    c->notes = in->notes;
    c->import_key = in->import_key;
    if (acc_client_create(ctx, c) < 0)
        return -1;
    *out = &c->base;
    return 0;
}

int acc_get_client(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const Rapport__Accounts__V1__GetClientRequest *in = (const void *)in_;
    Client *c;
    if (acc_client_load_or_reply(ctx, "id", in->id, &c) < 0)
        return -1;
    *out = &c->base;
    return 0;
}

/* ---- UpdateClient ---- */

static const char *const s_update_paths[] = {
    "kind", "legal_name", "trade_name", "tax_id", "country", "region", "address", "industry", "size",
    "language", "tier", "lifecycle", "segments", "parent_id", "preferences", "notes", NULL
};

int acc_update_client(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const UpdateClientRequest *in = (const UpdateClientRequest *)in_;
    char *const *m = in->update_mask;
    size_t nm = in->n_update_mask;
    Client *c;

    if (acc_mask_or_reply(ctx, m, nm, s_update_paths) < 0)
        return -1;
    if (acc_mask_has(m, nm, "kind") && in->kind == ACC_(CLIENT_KIND, CLIENT_KIND_UNSPECIFIED))
        rp_reply_violation(ctx, "kind", "is required");
    if (acc_mask_has(m, nm, "tier") && in->tier == TIER_UNSPEC)
        rp_reply_violation(ctx, "tier", "is required");
    if (acc_mask_has(m, nm, "lifecycle") && in->lifecycle == LC_UNSPEC)
        rp_reply_violation(ctx, "lifecycle", "is required");
    acc_client_fields_or_reply(ctx, in->legal_name, in->trade_name, in->tax_id, in->country, in->region,
                               in->address, in->industry, in->language, in->segments, in->n_segments,
                               in->preferences, in->notes, acc_mask_has(m, nm, "legal_name"));
    if (rp_ctx_failed(ctx))
        return -1;
    if (acc_client_load_or_reply(ctx, "id", in->id, &c) < 0)
        return -1;
    if (acc_mask_has(m, nm, "tax_id") && s_taxid_unique_or_reply(ctx, in->tax_id, c->id) < 0)
        return -1;
    if (acc_mask_has(m, nm, "parent_id") && !rp_str_empty(in->parent_id)
        && s_parent_or_reply(ctx, in->parent_id, c->id) < 0)
        return -1;

    int64_t now = rp_ctx_now(ctx);
    bool tier_changed = false, lifecycle_changed = false;
    for (size_t i = 0; i < nm; i++) {
        const char *p = m[i];
        if (!strcmp(p, "kind")) c->kind = in->kind;
        else if (!strcmp(p, "legal_name")) c->legal_name = in->legal_name;
        else if (!strcmp(p, "trade_name")) c->trade_name = in->trade_name;
        else if (!strcmp(p, "tax_id")) c->tax_id = in->tax_id;
        else if (!strcmp(p, "country")) c->country = acc_upper(ctx, in->country);
        else if (!strcmp(p, "region")) c->region = in->region;
        else if (!strcmp(p, "address")) c->address = in->address;
        else if (!strcmp(p, "industry")) c->industry = in->industry;
        else if (!strcmp(p, "size")) c->size = in->size;
        else if (!strcmp(p, "language")) c->language = acc_lower(ctx, in->language);
        else if (!strcmp(p, "segments")) { c->segments = in->segments; c->n_segments = in->n_segments; }
        else if (!strcmp(p, "parent_id")) c->parent_id = rp_str_empty(in->parent_id) ? "" : acc_upper(ctx, in->parent_id);
        else if (!strcmp(p, "preferences")) c->preferences = in->preferences;
        else if (!strcmp(p, "notes")) c->notes = in->notes;
        else if (!strcmp(p, "tier") && c->tier != in->tier) {
            c->tier = in->tier;
            c->tier_changed_at = now;
            tier_changed = true;
        } else if (!strcmp(p, "lifecycle") && c->lifecycle != in->lifecycle) {
            c->lifecycle = in->lifecycle;
            c->lifecycle_changed_at = now;
            lifecycle_changed = true;
        }
    }
    c->updated_at = now;
    if (acc_put(ctx, &ACC_CLIENT, &c->base) < 0 || acc_emit(ctx, "client.updated", c->id, &c->base) < 0)
        return -1;
    if (tier_changed && acc_emit(ctx, "client.tier_changed", c->id, &c->base) < 0)
        return -1;
    if (lifecycle_changed && acc_emit(ctx, "client.lifecycle_changed", c->id, &c->base) < 0)
        return -1;
    *out = &c->base;
    return 0;
}

/* ---- TransferClient ---- */

int acc_transfer_client(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const TransferClientRequest *in = (const TransferClientRequest *)in_;
    Client *c;
    rp_owner_or_reply(ctx, "owner", in->owner, "unit", in->unit);
    rp_len_or_reply(ctx, "reason", in->reason, 0, ACC_REASON_MAX);
    if (rp_ctx_failed(ctx))
        return -1;
    if (acc_client_load_or_reply(ctx, "id", in->id, &c) < 0)
        return -1;
    if (rp_unit_or_reply(ctx, "unit", in->unit) < 0)
        return -1;
    if (strcmp(c->owner, in->owner) == 0 && strcmp(c->unit, in->unit) == 0)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "client %s already belongs to %s", c->id, in->owner);

    OwnerChange *h = rp_ctx_alloc(ctx, sizeof *h);
    rapport__accounts__v1__owner_change__init(h);
    h->from_owner = c->owner;
    h->from_unit = c->unit;
    h->to_owner = in->owner;
    h->to_unit = in->unit;
    h->by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    h->at = rp_ctx_now(ctx);
    h->reason = in->reason;
    size_t n = c->n_owner_history;
    OwnerChange **v = (OwnerChange **)rp_ctx_append(ctx, (void **)c->owner_history, n, h);
    if (++n > ACC_HISTORY_MAX) {
        v += n - ACC_HISTORY_MAX;
        n = ACC_HISTORY_MAX;
    }
    c->owner_history = v;
    c->n_owner_history = n;
    c->owner = in->owner;
    c->unit = in->unit;
    c->updated_at = h->at;
    if (acc_put(ctx, &ACC_CLIENT, &c->base) < 0 || acc_emit(ctx, "client.owner_changed", c->id, &c->base) < 0)
        return -1;
    *out = &c->base;
    return 0;
}

/* ---- ListClients ---- */

typedef struct {
    acc_rows_t rows;            /* first: acc_list_page's */
    const ListClientsRequest *in;
    const char *folded_prefix;
} s_list_t;

static bool s_has_segment(const Client *c, const char *seg)
{
    for (size_t i = 0; i < c->n_segments; i++)
        if (strcmp(c->segments[i], seg) == 0)
            return true;
    return false;
}

static bool s_name_matches(const Client *c, const char *prefix)
{
    char buf[512];
    size_t n = strlen(prefix);
    const char *names[2] = { c->legal_name, c->trade_name };
    for (int i = 0; i < 2; i++)
        if (names[i] && rp_fold_name(names[i], buf, sizeof buf) > 0 && strncmp(buf, prefix, n) == 0)
            return true;
    return false;
}

static int s_list_row(void *arg, const ProtobufCMessage *m)
{
    s_list_t *x = arg;
    const Client *c = (const Client *)m;
    const ListClientsRequest *in = x->in;
    if (!rp_scope_sees(rp_ctx_claims(x->rows.ctx), c->owner, c->unit))
        return 0;
    if ((!rp_str_empty(in->owner) && strcmp(c->owner, in->owner) != 0)
        || (in->tier != TIER_UNSPEC && c->tier != in->tier)
        || (in->lifecycle != LC_UNSPEC && c->lifecycle != in->lifecycle)
        || (!rp_str_empty(in->segment) && !s_has_segment(c, in->segment))
        || (x->folded_prefix && !s_name_matches(c, x->folded_prefix))
        || (!rp_str_empty(in->parent_id) && strcasecmp(c->parent_id, in->parent_id) != 0))
        return 0;
    /* the name index holds a client under both its names: list it once */
    for (size_t i = 0; i < x->rows.n; i++)
        if (strcmp(((const ClientSummary *)x->rows.v[i])->id, c->id) == 0)
            return 0;
    x->rows.v[x->rows.n++] = acc_client_summary(x->rows.ctx, c);
    return 1;
}

int acc_list_clients(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ListClientsRequest *in = (const ListClientsRequest *)in_;
    char folded[512];
    rp_ulid_t parent;
    acc_query_t q = { 0 };
    s_list_t x = { .in = in };

    rp_len_or_reply(ctx, "owner", in->owner, 0, ACC_USER_MAX);
    rp_len_or_reply(ctx, "segment", in->segment, 0, ACC_SEGMENT_MAX);
    if (rp_len_or_reply(ctx, "name_prefix", in->name_prefix, 0, ACC_NAME_MAX) == 0
        && !rp_str_empty(in->name_prefix)) {
        if (rp_fold_name(in->name_prefix, folded, sizeof folded) <= 0)
            rp_reply_violation(ctx, "name_prefix", "needs letters or digits");
        x.folded_prefix = folded;
    }
    if (!rp_str_empty(in->parent_id))
        rp_ulid_or_reply(ctx, "parent_id", in->parent_id, &parent);
    if (rp_ctx_failed(ctx))
        return -1;

    if (!rp_str_empty(in->parent_id)) { q.kind = AQ_CLIENT_PARENT; q.u = &parent; }
    else if (x.folded_prefix) { q.kind = AQ_CLIENT_NAME; q.s = folded; }
    else if (!rp_str_empty(in->segment)) { q.kind = AQ_CLIENT_SEGMENT; q.s = in->segment; }
    else if (!rp_str_empty(in->owner)) { q.kind = AQ_CLIENT_OWNER; q.s = in->owner; }
    else if (in->tier != TIER_UNSPEC) { q.kind = AQ_CLIENT_TIER; q.n1 = in->tier; }
    else { q.kind = AQ_CLIENT_OWNER; q.s = rp_principal(rp_ctx_claims(ctx)); }

    return acc_list_page(ctx, &q, in->page_size, in->page_token, s_list_row, &x.rows,
                         &rapport__accounts__v1__list_clients_reply__descriptor, "clients", out);
}

/* ---- ClientTree ---- */

typedef struct {
    rp_ctx_t *ctx;
    ClientTreeReply *r;
    TreeNode **nodes;
    uint32_t depth;
    Client **kids;
    size_t n_kids, cap_kids;
} s_tree_t;

static void s_tree_add(s_tree_t *t, const Client *c, uint32_t depth)
{
    TreeNode *n = rp_ctx_alloc(t->ctx, sizeof *n);
    rapport__accounts__v1__tree_node__init(n);
    n->client = acc_client_summary(t->ctx, c);
    n->depth = depth;
    t->nodes[t->r->n_nodes++] = n;
    t->r->clients++;
    t->r->contacts += c->contact_count;
    t->r->open_tasks += c->open_tasks;
    t->r->interactions += c->interaction_count;
    if (c->last_contact_at > t->r->last_contact_at)
        t->r->last_contact_at = c->last_contact_at;
}

static int s_tree_kid(void *arg, const ProtobufCMessage *m)
{
    s_tree_t *t = arg;
    const Client *c = (const Client *)m;
    if (!rp_scope_sees(rp_ctx_claims(t->ctx), c->owner, c->unit))
        return 0;
    if (t->n_kids == t->cap_kids)
        return 0;
    t->kids[t->n_kids++] = acc_copy(t->ctx, m);
    return 1;
}

/* s_tree_walk - add c's visible children (and theirs), depth first. */
static int s_tree_walk(s_tree_t *t, const Client *c, uint32_t depth)
{
    if (depth > ACC_TREE_DEPTH)
        return 0;
    rp_ulid_t id;
    if (rp_ulid_parse(c->id, &id) < 0)
        return 0;
    acc_query_t q = { .kind = AQ_CLIENT_PARENT, .u = &id };
    char *tok = NULL;
    do {
        t->n_kids = 0;
        t->cap_kids = ACC_TREE_NODES;
        t->kids = rp_ctx_alloc(t->ctx, t->cap_kids * sizeof *t->kids);
        int rc = acc_query(t->ctx, &q, tok, ACC_TREE_NODES, 0, s_tree_kid, t, &tok);
        if (rc < 0)
            return rp_page_or_reply(t->ctx, rc);
        Client **kids = t->kids;
        size_t n = t->n_kids;
        for (size_t i = 0; i < n; i++) {
            if (t->r->n_nodes >= ACC_TREE_NODES) {
                t->r->truncated = true;
                return 0;
            }
            s_tree_add(t, kids[i], depth);
            if (s_tree_walk(t, kids[i], depth + 1) < 0)
                return -1;
        }
    } while (tok);
    return 0;
}

int acc_client_tree(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const Rapport__Accounts__V1__ClientTreeRequest *in = (const void *)in_;
    Client *root;
    if (acc_client_load_or_reply(ctx, "id", in->id, &root) < 0)
        return -1;
    ClientTreeReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__accounts__v1__client_tree_reply__init(r);
    s_tree_t t = { .ctx = ctx, .r = r, .nodes = rp_ctx_alloc(ctx, ACC_TREE_NODES * sizeof(TreeNode *)) };
    r->nodes = t.nodes;
    s_tree_add(&t, root, 0);
    if (s_tree_walk(&t, root, 1) < 0)
        return -1;
    *out = &r->base;
    return 0;
}

/* ---- Portfolio ---- */

static int s_port_row(void *arg, const ProtobufCMessage *m)
{
    acc_rows_t *x = arg;
    const Client *c = (const Client *)m;
    if (!rp_scope_sees(rp_ctx_claims(x->ctx), c->owner, c->unit))
        return 0;
    PortfolioRow *r = rp_ctx_alloc(x->ctx, sizeof *r);
    rapport__accounts__v1__portfolio_row__init(r);
    r->client_id = rp_ctx_strdup(x->ctx, c->id);
    r->name = rp_ctx_strdup(x->ctx, rp_str_empty(c->trade_name) ? c->legal_name : c->trade_name);
    r->tier = c->tier;
    r->lifecycle = c->lifecycle;
    r->last_contact_at = c->last_contact_at;
    r->open_tasks = c->open_tasks;
    r->contact_overdue = acc_contact_overdue(x->ctx, c);
    r->silence_days = acc_silence_days(x->ctx, c);
    x->v[x->n++] = r;
    return 1;
}

int acc_portfolio(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const PortfolioRequest *in = (const PortfolioRequest *)in_;
    const char *owner = rp_str_empty(in->owner) ? rp_principal(rp_ctx_claims(ctx)) : in->owner;
    if (rp_len_or_reply(ctx, "owner", owner, 1, ACC_USER_MAX) < 0)
        return -1;
    acc_query_t q = { .kind = AQ_CLIENT_OWNER, .s = owner };
    acc_rows_t x;
    if (acc_list_page(ctx, &q, in->page_size, in->page_token, s_port_row, &x,
                      &rapport__accounts__v1__portfolio_reply__descriptor, "rows", out) < 0)
        return -1;
    ((PortfolioReply *)*out)->owner = rp_ctx_strdup(ctx, owner);
    return 0;
}
