/* identity_handlers.c - user management: CreateUser, GetUser, ListUsers,
 * DisableUser, EnableUser, SetRoles; and delegations: Delegate,
 * RevokeDelegation, ListDelegations (ActAs, which mints tokens, is in
 * identity_auth.c).
 *
 * Reach: a caller of scope company reaches every user; a caller of scope unit
 * reaches the users whose unit lies within theirs (rp_scope_sees), and creates
 * users only there and in their own branch. A user out of reach answers
 * NOT_FOUND. Managing a user (disable, enable, roles) also needs the right to
 * grant every role they hold (id_may_grant), and is never done to oneself.
 *
 * CreateUser puts the user into a unit of the org tree (creating missing units,
 * identity_org.c) and, with an order, is an appointment (user.appointed).
 *
 * Authority limits (CreateUser, SetLimits): an admin grants any; anyone else at
 * most the limits their own token carries (id_limits_or_reply).
 *
 * DisableUser, a SetRoles that changes the set of roles and a SetLimits that
 * changes the limits end every live session
 * of the user in the same transaction (id_store_revoke_user): refresh tokens
 * refused, access tokens revoked with token.revoked each, which every service
 * follows. EnableUser brings no session back.
 */
#include <stdio.h>
#include <string.h>
#include "identity.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Identity__V1__CreateUserRequest CreateUserRequest;
typedef Rapport__Identity__V1__GetUserRequest GetUserRequest;
typedef Rapport__Identity__V1__ListUsersRequest ListUsersRequest;
typedef Rapport__Identity__V1__ListUsersReply ListUsersReply;
typedef Rapport__Identity__V1__SetUserStateRequest SetUserStateRequest;
typedef Rapport__Identity__V1__SetRolesRequest SetRolesRequest;
typedef Rapport__Identity__V1__SetLimitsRequest SetLimitsRequest;
typedef Rapport__Identity__V1__DelegateRequest DelegateRequest;
typedef Rapport__Identity__V1__RevokeDelegationRequest RevokeDelegationRequest;
typedef Rapport__Identity__V1__ListDelegationsRequest ListDelegationsRequest;
typedef Rapport__Identity__V1__ListDelegationsReply ListDelegationsReply;

int id_text_or_reply(rp_ctx_t *ctx, const char *field, const char *s, size_t max)
{
    if (rp_len_or_reply(ctx, field, s, 1, max) < 0)
        return -1;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < ' ')
            return rp_reply_violation(ctx, field, "must not hold control characters");
    return 0;
}

int id_target_or_reply(rp_ctx_t *ctx, const char *field, const char *username, bool manage,
                       StoredUser **out)
{
    char name[ID_USERNAME_MAX + 1];
    if (!id_username_fold(username, name))
        return rp_reply_violation(ctx, field, "is not a valid username");
    StoredUser *su = NULL;
    int rc = id_store_user_by_name(ctx, name, &su);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "user %s not found", name);
    if (rc)
        return -1;
    if (rp_scope_or_reply(ctx, "user", name, su->user->username, su->user->unit) < 0)
        return -1;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    if (manage) {
        if (strcmp(cl->sub, su->user->username) == 0)
            return rp_reply_error(ctx, RP_PERMISSION_DENIED, "you cannot change your own account this way");
        for (size_t i = 0; i < su->user->n_roles; i++)
            if (!id_may_grant(cl, su->user->roles[i]))
                return rp_reply_error(ctx, RP_PERMISSION_DENIED,
                                      "user %s holds role %s, which you may not manage", name,
                                      su->user->roles[i]);
    }
    *out = su;
    return 0;
}

/* s_grants_or_reply - PERMISSION_DENIED unless the caller may grant every role. */
static int s_grants_or_reply(rp_ctx_t *ctx, char *const *roles, size_t n)
{
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    for (size_t i = 0; i < n; i++)
        if (!id_may_grant(cl, roles[i]))
            return rp_reply_error(ctx, RP_PERMISSION_DENIED, "you may not grant role %s", roles[i]);
    return 0;
}

/* s_write_user - store su and emit type; with end_reason, also end every live
 * session of the user (id_store_revoke_user), in the same transaction. */
static int s_write_user(rp_ctx_t *ctx, StoredUser *su, const char *type, const char *end_reason,
                        ProtobufCMessage **out)
{
    if (id_store_user_put(ctx, su) < 0 || id_emit(ctx, type, su->user->id, &su->user->base) < 0)
        return -1;
    if (end_reason && id_store_revoke_user(ctx, su->user->username, end_reason, NULL, NULL) < 0)
        return -1;
    *out = &su->user->base;
    return 0;
}

/* s_same_roles - the same set of roles (each list has no repeats). */
static bool s_same_roles(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        size_t j = 0;
        while (j < nb && strcmp(a[i], b[j]) != 0)
            j++;
        if (j == nb)
            return false;
    }
    return true;
}

/* ---- CreateUser ---- */

int id_create_user(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const CreateUserRequest *in = (const CreateUserRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    if (id_caller_or_reply(ctx) < 0)
        return -1;
    if (!id_username_valid(in->username))
        rp_reply_violation(ctx, "username", "must be 1..63 of a-z 0-9 . _ -, starting with a letter");
    id_text_or_reply(ctx, "display_name", in->display_name, ID_DISPLAY_MAX);
    id_roles_or_reply(ctx, "roles", in->roles, in->n_roles);
    id_text_or_reply(ctx, "branch", in->branch, ID_BRANCH_MAX);
    if (!id_unit_valid(in->unit))
        rp_reply_violation(ctx, "unit", "must be an org path such as /hq/sales/g1 (<= 127 bytes)");
    if (!rp_str_empty(in->manager) && !id_username_valid(in->manager))
        rp_reply_violation(ctx, "manager", "is not a valid username");
    OrgOrder *order = NULL;
    if (in->order)
        id_order_or_reply(ctx, "order", in->order, &order);
    const char *why = id_password_problem(in->username, in->password);
    if (why)
        rp_reply_violation(ctx, "password", "%s", why);
    if (rp_ctx_failed(ctx))
        return -1;
    if (s_grants_or_reply(ctx, in->roles, in->n_roles) < 0
        || id_limits_or_reply(ctx, "limit_contract_value", in->limit_contract_value, "limit_discount_bp",
                              in->limit_discount_bp) < 0)
        return -1;
    if (strcmp(cl->scope, "company") != 0
        && (strcmp(cl->scope, "unit") != 0 || !rp_unit_contains(cl->unit, in->unit)
            || strcmp(cl->branch, in->branch) != 0))
        return rp_reply_error(ctx, RP_PERMISSION_DENIED, "unit %s in branch %s is outside your reach",
                              in->unit, in->branch);

    StoredUser *old = NULL;
    int rc = id_store_user_by_name(ctx, in->username, &old);
    if (rc == 0) {
        if (rp_scope_sees(cl, old->user->username, old->user->unit))
            return rp_reply_exists(ctx, old->user->id, "user %s exists already", in->username);
        return rp_reply_error(ctx, RP_ALREADY_EXISTS, "user %s exists already", in->username);
    }
    if (rc != MDB_NOTFOUND)
        return -1;
    if (id_manager_or_reply(ctx, "manager", in->manager, in->username) < 0)
        return -1;

    int64_t now = rp_ctx_now(ctx);
    User *u = rp_ctx_alloc(ctx, sizeof *u);
    rapport__identity__v1__user__init(u);
    u->id = rp_ctx_new_id_str(ctx);
    u->username = in->username;
    u->display_name = in->display_name;
    u->roles = in->roles;
    u->n_roles = in->n_roles;
    u->branch = in->branch;
    u->unit = in->unit;
    u->manager = in->manager;
    u->must_change_password = in->must_change_password;
    u->limit_contract_value = in->limit_contract_value;
    u->limit_discount_bp = in->limit_discount_bp;
    u->created_at = u->updated_at = now;
    u->created_by = rp_ctx_strdup(ctx, rp_actor(cl));
    u->password_changed_at = id_wall_ms();
    StoredUser *su = rp_ctx_alloc(ctx, sizeof *su);
    rapport__identity__v1__stored_user__init(su);
    su->user = u;
    char hash[crypto_pwhash_STRBYTES];
    if (id_hash_password_or_reply(ctx, in->password, hash) < 0)
        return -1;
    su->password_hash = rp_ctx_strdup(ctx, hash);
    /* Every user sits in a unit of the tree: a new unit (and any missing above it)
     * is created with its first user. */
    rp_ctx_set_subject(ctx, u->id);     /* the user, not a unit made on the way */
    if (id_store_units_ensure(ctx, u->unit) < 0 || s_write_user(ctx, su, "user.created", NULL, out) < 0)
        return -1;
    return order ? id_emit_order(ctx, "user.appointed", u, NULL, u->unit, order) : 0;
}

void id_push(rp_ctx_t *ctx, void *vec_p, size_t *n, size_t *cap, void *item)
{
    void ***vec = vec_p;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        void **v = rp_ctx_alloc(ctx, c * sizeof *v);
        if (*n)
            memcpy(v, *vec, *n * sizeof *v);
        *vec = v;
        *cap = c;
    }
    (*vec)[(*n)++] = item;
}

uint32_t id_page_size(uint32_t asked, uint32_t def, uint32_t max)
{
    return asked == 0 ? def : asked > max ? max : asked;
}

/* ---- GetUser ---- */

int id_get_user(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const GetUserRequest *in = (const GetUserRequest *)in_;
    StoredUser *su = NULL;
    if (id_caller_or_reply(ctx) < 0 || id_target_or_reply(ctx, "username", in->username, false, &su) < 0
        || id_line_manager(ctx, su->user) < 0)
        return -1;
    *out = &su->user->base;
    return 0;
}

/* ---- ListUsers ---- */

typedef struct {
    rp_ctx_t *ctx;
    ListUsersReply *rep;
    bool include_disabled;
    size_t cap;
} s_list_t;

static int s_list_row(void *arg, User *u)
{
    s_list_t *l = arg;
    if (u->disabled && !l->include_disabled)
        return 0;
    if (id_line_manager(l->ctx, u) < 0)
        return -1;
    id_push(l->ctx, &l->rep->users, &l->rep->n_users, &l->cap, u);
    return 1;
}

int id_list_users(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ListUsersRequest *in = (const ListUsersRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    if (id_caller_or_reply(ctx) < 0)
        return -1;
    uint32_t size = id_page_size(in->page_size, ID_PAGE_DEFAULT, ID_PAGE_MAX);
    ListUsersReply *rep = rp_ctx_alloc(ctx, sizeof *rep);
    rapport__identity__v1__list_users_reply__init(rep);
    rep->next_page_token = (char *)"";
    *out = &rep->base;
    const char *prefix = NULL;
    if (strcmp(cl->scope, "company") == 0)
        prefix = NULL;
    else if (strcmp(cl->scope, "unit") == 0 && cl->unit[0] == '/')
        prefix = cl->unit;
    else
        return 0;           /* no role with a narrower scope lists users */
    s_list_t l = { ctx, rep, in->include_disabled, 0 };
    char *next = NULL;
    int rc = id_store_users_page(ctx, prefix, in->page_token, size, s_list_row, &l, &next);
    if (rc < 0)
        return rp_page_or_reply(ctx, rc);
    if (next)
        rep->next_page_token = next;
    return 0;
}

/* ---- DisableUser, EnableUser ---- */

static int s_set_disabled(rp_ctx_t *ctx, const ProtobufCMessage *in_, bool disabled, ProtobufCMessage **out)
{
    const SetUserStateRequest *in = (const SetUserStateRequest *)in_;
    StoredUser *su = NULL;
    if (id_caller_or_reply(ctx) < 0 || rp_len_or_reply(ctx, "reason", in->reason, 0, ID_REASON_MAX) < 0
        || id_target_or_reply(ctx, "username", in->username, true, &su) < 0)
        return -1;
    if (!disabled && su->user->dismissed)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "user %s was dismissed and stays disabled",
                              su->user->username);
    if (su->user->disabled == disabled)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "user %s is %s already", su->user->username,
                              disabled ? "disabled" : "enabled");
    su->user->disabled = disabled;
    su->user->updated_at = rp_ctx_now(ctx);
    /* Disabling ends every session; enabling brings none back (the revocations
     * are permanent): the user logs in again. */
    return s_write_user(ctx, su, disabled ? "user.disabled" : "user.enabled", disabled ? "disabled" : NULL,
                        out);
}

int id_disable_user(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    return s_set_disabled(ctx, in, true, out);
}

int id_enable_user(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    return s_set_disabled(ctx, in, false, out);
}

/* ---- SetRoles ---- */

int id_set_roles(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const SetRolesRequest *in = (const SetRolesRequest *)in_;
    StoredUser *su = NULL;
    if (id_caller_or_reply(ctx) < 0 || id_roles_or_reply(ctx, "roles", in->roles, in->n_roles) < 0
        || id_target_or_reply(ctx, "username", in->username, true, &su) < 0
        || s_grants_or_reply(ctx, in->roles, in->n_roles) < 0)
        return -1;
    /* Tokens carry roles and scope: a new set ends every session, so that no
     * token keeps the old roles. The same set again changes no token. */
    bool changed = !s_same_roles(su->user->roles, su->user->n_roles, in->roles, in->n_roles);
    su->user->roles = in->roles;
    su->user->n_roles = in->n_roles;
    su->user->updated_at = rp_ctx_now(ctx);
    return s_write_user(ctx, su, "user.roles_changed", changed ? "roles_changed" : NULL, out);
}

/* ---- SetLimits ---- */

int id_set_limits(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const SetLimitsRequest *in = (const SetLimitsRequest *)in_;
    StoredUser *su = NULL;
    if (id_caller_or_reply(ctx) < 0 || rp_len_or_reply(ctx, "reason", in->reason, 0, ID_REASON_MAX) < 0
        || id_target_or_reply(ctx, "username", in->username, true, &su) < 0
        || id_limits_or_reply(ctx, "contract_value", in->contract_value, "discount_bp", in->discount_bp) < 0)
        return -1;
    /* Tokens carry the limits: new ones end every session (as new roles do), so a
     * lowered limit holds everywhere once token.revoked has spread. */
    bool changed = su->user->limit_contract_value != in->contract_value
                   || su->user->limit_discount_bp != in->discount_bp;
    su->user->limit_contract_value = in->contract_value;
    su->user->limit_discount_bp = in->discount_bp;
    su->user->updated_at = rp_ctx_now(ctx);
    return s_write_user(ctx, su, "user.limits_changed", changed ? "limits_changed" : NULL, out);
}

/* ---- Delegations ----
 *
 * Appointing (and revoking) is managing the absent user: the caller needs
 * identity.users.write (the method's permission), the absent user within their
 * reach (a head: the absent user's unit within theirs; admin, director: anyone;
 * out of reach answers NOT_FOUND), the right to manage every role the absent
 * user holds, and not to be the absent user. The substitute must be within reach
 * too. A delegated token (on_behalf_of set) never appoints or revokes. */

static int s_not_delegated_or_reply(rp_ctx_t *ctx)
{
    if (rp_ctx_claims(ctx)->on_behalf_of[0])
        return rp_reply_error(ctx, RP_PERMISSION_DENIED, "a delegated token cannot manage delegations");
    return 0;
}

int id_delegate(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const DelegateRequest *in = (const DelegateRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    if (id_caller_or_reply(ctx) < 0 || s_not_delegated_or_reply(ctx) < 0)
        return -1;
    int64_t now = rp_ctx_now(ctx);
    int64_t from = in->from_ms ? in->from_ms : now;
    if (in->from_ms < 0)
        rp_reply_violation(ctx, "from_ms", "must not be negative");
    else if (in->until_ms <= from)
        rp_reply_violation(ctx, "until_ms", "must be after from_ms");
    else if (in->until_ms <= now)
        rp_reply_violation(ctx, "until_ms", "must be in the future");
    else if (in->until_ms - from > ID_DELEG_MAX_MS)
        rp_reply_violation(ctx, "until_ms", "the period must be at most 366 days");
    if (!rp_str_empty(in->note))
        id_text_or_reply(ctx, "note", in->note, ID_REASON_MAX);
    if (rp_ctx_failed(ctx))
        return -1;
    StoredUser *ab = NULL, *sb = NULL;
    if (id_target_or_reply(ctx, "absent", in->absent, true, &ab) < 0
        || id_target_or_reply(ctx, "substitute", in->substitute, false, &sb) < 0)
        return -1;
    if (strcmp(ab->user->username, sb->user->username) == 0)
        return rp_reply_violation(ctx, "substitute", "must differ from the absent user");
    if (ab->user->disabled || sb->user->disabled)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "user %s is disabled",
                              ab->user->disabled ? ab->user->username : sb->user->username);

    Delegation *d = rp_ctx_alloc(ctx, sizeof *d);
    rapport__identity__v1__delegation__init(d);
    d->id = rp_ctx_new_id_str(ctx);
    d->absent = ab->user->username;
    d->substitute = sb->user->username;
    d->from = from;
    d->until = in->until_ms;
    d->note = rp_str_empty(in->note) ? (char *)"" : in->note;
    d->created_by = rp_ctx_strdup(ctx, cl->sub);
    d->created_at = now;
    d->revoked_by = (char *)"";
    StoredDelegation *sd = rp_ctx_alloc(ctx, sizeof *sd);
    rapport__identity__v1__stored_delegation__init(sd);
    sd->delegation = d;
    rp_ctx_set_subject(ctx, d->id);
    if (id_store_delegation_put(ctx, sd) < 0 || id_emit(ctx, "delegation.created", d->id, &d->base) < 0)
        return -1;
    *out = &d->base;
    return 0;
}

int id_revoke_delegation(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const RevokeDelegationRequest *in = (const RevokeDelegationRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    rp_ulid_t u;
    if (id_caller_or_reply(ctx) < 0 || s_not_delegated_or_reply(ctx) < 0
        || rp_ulid_or_reply(ctx, "id", in->id, &u) < 0)
        return -1;
    StoredDelegation *sd = NULL;
    int rc = id_store_delegation_get(ctx, in->id, &sd);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "delegation %s not found", in->id);
    if (rc)
        return -1;
    Delegation *d = sd->delegation;
    StoredUser *ab = NULL;
    rc = id_store_user_by_name(ctx, d->absent, &ab);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return -1;
    if (rc == MDB_NOTFOUND || !rp_scope_sees(cl, ab->user->username, ab->user->unit))
        return rp_reply_error(ctx, RP_NOT_FOUND, "delegation %s not found", in->id);
    if (id_target_or_reply(ctx, "absent", d->absent, true, &ab) < 0)
        return -1;
    if (d->revoked)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "delegation %s is revoked already", d->id);
    d->revoked = true;
    d->revoked_by = rp_ctx_strdup(ctx, cl->sub);
    d->revoked_at = rp_ctx_now(ctx);
    /* End the substitute's delegated tokens now, as a logout would. */
    int64_t now_s = id_wall_ms() / 1000;
    for (size_t i = 0; i < sd->n_tokens; i++) {
        const Rapport__Identity__V1__IssuedToken *t = sd->tokens[i];
        if (!t->jti || !t->jti[0] || t->exp <= now_s)
            continue;
        if (id_store_revoke_jti(ctx, t->jti, t->exp, d->substitute, "delegation_revoked") < 0)
            return -1;
    }
    sd->n_tokens = 0;
    rp_ctx_set_subject(ctx, d->id);
    if (id_store_delegation_put(ctx, sd) < 0 || id_emit(ctx, "delegation.revoked", d->id, &d->base) < 0)
        return -1;
    *out = &d->base;
    return 0;
}

typedef struct {
    rp_ctx_t *ctx;
    ListDelegationsReply *rep;
    const char *absent, *substitute;    /* filters, folded; "" none */
    bool include_ended;
    int64_t now;
    size_t cap;
} s_dlist_t;

static int s_dlist_row(void *arg, StoredDelegation *sd)
{
    s_dlist_t *l = arg;
    const Delegation *d = sd->delegation;
    const rp_claims_t *cl = rp_ctx_claims(l->ctx);
    if ((l->absent[0] && strcmp(d->absent, l->absent) != 0)
        || (l->substitute[0] && strcmp(d->substitute, l->substitute) != 0))
        return 0;
    if (!l->include_ended && (d->revoked || d->until <= l->now))
        return 0;
    bool mine = strcmp(d->absent, cl->sub) == 0 || strcmp(d->substitute, cl->sub) == 0;
    if (!mine) {
        if (!rp_perm_allows(cl, "identity.users.write"))
            return 0;
        if (strcmp(cl->scope, "company") != 0) {
            StoredUser *ab = NULL;
            int rc = id_store_user_by_name(l->ctx, d->absent, &ab);
            if (rc == MDB_NOTFOUND)
                return 0;
            if (rc)
                return -1;
            if (strcmp(cl->scope, "unit") != 0 || !rp_unit_contains(cl->unit, ab->user->unit))
                return 0;
        }
    }
    id_push(l->ctx, &l->rep->delegations, &l->rep->n_delegations, &l->cap, sd->delegation);
    return 1;
}

int id_list_delegations(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ListDelegationsRequest *in = (const ListDelegationsRequest *)in_;
    if (id_caller_or_reply(ctx) < 0)
        return -1;
    char absent[ID_USERNAME_MAX + 1] = "", substitute[ID_USERNAME_MAX + 1] = "";
    if (!rp_str_empty(in->absent) && !id_username_fold(in->absent, absent))
        rp_reply_violation(ctx, "absent", "is not a valid username");
    if (!rp_str_empty(in->substitute) && !id_username_fold(in->substitute, substitute))
        rp_reply_violation(ctx, "substitute", "is not a valid username");
    if (rp_ctx_failed(ctx))
        return -1;
    uint32_t size = id_page_size(in->page_size, ID_PAGE_DEFAULT, ID_PAGE_MAX);
    ListDelegationsReply *rep = rp_ctx_alloc(ctx, sizeof *rep);
    rapport__identity__v1__list_delegations_reply__init(rep);
    rep->next_page_token = (char *)"";
    s_dlist_t l = { ctx, rep, absent, substitute, in->include_ended, rp_ctx_now(ctx), 0 };
    char *next = NULL;
    int rc = id_store_delegations_page(ctx, in->page_token, size, s_dlist_row, &l, &next);
    if (rc < 0)
        return rp_page_or_reply(ctx, rc);
    if (next)
        rep->next_page_token = next;
    *out = &rep->base;
    return 0;
}
