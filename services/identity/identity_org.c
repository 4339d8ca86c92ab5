/* identity_org.c - the org tree and personnel orders: AddUnit, GetUnit, ListUnits,
 * SetUnitHead, MoveUser, DismissUser, and what CreateUser, GetUser, ListUsers and
 * WhoAmI need of the tree (orders, managers, the units of a new user).
 *
 * The rules are in identity.proto ("the org tree"). In short: units are paths
 * ("/hq/sales/g1") kept in the table units; rights over a unit are the caller's
 * scope (rp_unit_or_reply: company everywhere, a head within their own unit); a
 * personnel order (appoint, move, dismiss) names its reference, date and reason,
 * and the caller is recorded as its giver; moving and dismissing end every live
 * session of the user, since their tokens carry the old unit.
 */
#include <stdio.h>
#include <string.h>
#include "identity.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Identity__V1__AddUnitRequest AddUnitRequest;
typedef Rapport__Identity__V1__GetUnitRequest GetUnitRequest;
typedef Rapport__Identity__V1__ListUnitsRequest ListUnitsRequest;
typedef Rapport__Identity__V1__ListUnitsReply ListUnitsReply;
typedef Rapport__Identity__V1__SetUnitHeadRequest SetUnitHeadRequest;
typedef Rapport__Identity__V1__MoveUserRequest MoveUserRequest;
typedef Rapport__Identity__V1__DismissUserRequest DismissUserRequest;
typedef Rapport__Identity__V1__PersonnelOrder PersonnelOrder;

#define S_UNITS_DEFAULT 200
#define S_UNITS_MAX     1000
#define S_ORDER_REF_MAX 100
#define S_DEPTH_MAX     64          /* a valid path of 127 bytes has fewer levels */

/* ---- helpers for the other handlers ---- */

int id_order_or_reply(rp_ctx_t *ctx, const char *field, const OrgOrder *in, OrgOrder **out)
{
    char f[64];
    if (!in)
        return rp_reply_violation(ctx, field, "is required: the order's reference, date and reason");
    snprintf(f, sizeof f, "%s.ref", field);
    id_text_or_reply(ctx, f, in->ref, S_ORDER_REF_MAX);
    snprintf(f, sizeof f, "%s.date", field);
    int32_t days;
    rp_date_or_reply(ctx, f, in->date, &days);
    snprintf(f, sizeof f, "%s.reason", field);
    id_text_or_reply(ctx, f, in->reason, ID_REASON_MAX);
    if (rp_ctx_failed(ctx))
        return -1;
    OrgOrder *o = rp_ctx_alloc(ctx, sizeof *o);
    rapport__identity__v1__org_order__init(o);
    o->ref = in->ref;
    o->date = in->date;
    o->reason = in->reason;
    o->given_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    *out = o;
    return 0;
}

int id_emit_order(rp_ctx_t *ctx, const char *type, const User *u, const char *from, const char *to,
                  OrgOrder *order)
{
    PersonnelOrder p = RAPPORT__IDENTITY__V1__PERSONNEL_ORDER__INIT;
    p.username = u->username;
    p.from_unit = (char *)(from ? from : "");
    p.to_unit = (char *)(to ? to : "");
    p.order = order;
    p.at = rp_ctx_now(ctx);
    return id_emit(ctx, type, u->id, &p.base);
}

int id_manager_or_reply(rp_ctx_t *ctx, const char *field, const char *manager, const char *username)
{
    if (rp_str_empty(manager))
        return 0;
    char name[ID_USERNAME_MAX + 1];
    if (!id_username_fold(manager, name))
        return rp_reply_violation(ctx, field, "is not a valid username");
    if (username && strcmp(name, username) == 0)
        return rp_reply_violation(ctx, field, "must not be the user themselves");
    StoredUser *m = NULL;
    int rc = id_store_user_by_name(ctx, name, &m);
    if (rc == MDB_NOTFOUND || (rc == 0 && m->user->disabled))
        return rp_reply_violation(ctx, field, "names no enabled user");
    return rc ? -1 : 0;
}

int id_line_manager(rp_ctx_t *ctx, User *u)
{
    if (!rp_str_empty(u->manager)) {
        u->line_manager = u->manager;
        return 0;
    }
    u->line_manager = (char *)"";
    char path[ID_UNIT_MAX + 1];
    rp_strlcpy(path, u->unit, sizeof path);
    for (int depth = 0; path[0] && depth < S_DEPTH_MAX; depth++) {
        Unit *unit = NULL;
        int rc = id_store_unit_get(ctx, path, &unit);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return -1;
        if (rc == 0 && unit->head[0] && strcmp(unit->head, u->username) != 0) {
            u->line_manager = unit->head;
            return 0;
        }
        char parent[ID_UNIT_MAX + 1];
        if (id_unit_parent(path, parent) < 0)
            break;
        rp_strlcpy(path, parent, sizeof path);
    }
    return 0;
}

/* s_leave_head - the user leaves unit: when they were its head, it has none now. */
static int s_leave_head(rp_ctx_t *ctx, const char *username, const char *path)
{
    Unit *unit = NULL;
    int rc = id_store_unit_get(ctx, path, &unit);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return -1;
    if (strcmp(unit->head, username) != 0)
        return 0;
    unit->head = (char *)"";
    unit->updated_at = rp_ctx_now(ctx);
    if (id_store_unit_put(ctx, unit) < 0 || id_emit(ctx, "unit.head_changed", unit->path, &unit->base) < 0)
        return -1;
    return 0;
}

/* s_branch_of - the branch of path: the last segment of the nearest unit of kind
 * branch at or above it; NULL when there is none. */
static const char *s_branch_of(rp_ctx_t *ctx, const char *path, int *err)
{
    char cur[ID_UNIT_MAX + 1];
    rp_strlcpy(cur, path, sizeof cur);
    *err = 0;
    for (int depth = 0; cur[0] && depth < S_DEPTH_MAX; depth++) {
        Unit *unit = NULL;
        int rc = id_store_unit_get(ctx, cur, &unit);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            *err = -1;
            return NULL;
        }
        if (rc == 0 && unit->kind == RAPPORT__IDENTITY__V1__UNIT_KIND__UNIT_KIND_BRANCH)
            return rp_ctx_strdup(ctx, strrchr(unit->path, '/') + 1);
        char parent[ID_UNIT_MAX + 1];
        if (id_unit_parent(cur, parent) < 0)
            break;
        rp_strlcpy(cur, parent, sizeof cur);
    }
    return NULL;
}

/* s_unit_or_reply - an existing unit at a valid path in field. */
static int s_unit_or_reply(rp_ctx_t *ctx, const char *field, const char *path, Unit **out)
{
    if (!id_unit_valid(path))
        return rp_reply_violation(ctx, field, "must be an org path such as /hq/sales/g1 (<= 127 bytes)");
    int rc = id_store_unit_get(ctx, path, out);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "unit %s not found", path);
    return rc ? -1 : 0;
}

/* ---- AddUnit ---- */

/* s_kind_fits - a child of kind may sit below a unit of parent_kind. */
static bool s_kind_fits(int parent_kind, int kind)
{
    if (kind == RAPPORT__IDENTITY__V1__UNIT_KIND__UNIT_KIND_GROUP)
        return parent_kind != 0;        /* a group may hold groups */
    return kind > parent_kind && parent_kind != 0;
}

int id_add_unit(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const AddUnitRequest *in = (const AddUnitRequest *)in_;
    if (id_caller_or_reply(ctx) < 0)
        return -1;
    if (!id_unit_valid(in->path))
        rp_reply_violation(ctx, "path", "must be an org path such as /hq/sales/g1 (<= 127 bytes)");
    if (in->kind < 0 || in->kind > RAPPORT__IDENTITY__V1__UNIT_KIND__UNIT_KIND_GROUP)
        rp_reply_violation(ctx, "kind", "must be company, branch, department or group");
    if (!rp_str_empty(in->name))
        id_text_or_reply(ctx, "name", in->name, ID_DISPLAY_MAX);
    if (rp_ctx_failed(ctx))
        return -1;
    bool root = strcmp(in->path, "/") == 0;
    int parent_kind = 0;
    char parent[ID_UNIT_MAX + 1];
    id_unit_parent(in->path, parent);
    if (!root) {
        /* The company exists from the first unit on. */
        if (strcmp(parent, "/") == 0 && rp_unit_or_reply(ctx, "path", "/") == 0
            && id_store_units_ensure(ctx, "/") < 0)
            return -1;
        if (rp_ctx_failed(ctx))
            return -1;
        Unit *p = NULL;
        int rc = id_store_unit_get(ctx, parent, &p);
        if (rc == MDB_NOTFOUND)
            return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "parent unit %s not found: add it first", parent);
        if (rc)
            return -1;
        parent_kind = p->kind;
    }
    if (rp_unit_or_reply(ctx, "path", root ? "/" : parent) < 0)
        return -1;
    Unit *old = NULL;
    int rc = id_store_unit_get(ctx, in->path, &old);
    if (rc == 0)
        return rp_reply_error(ctx, RP_ALREADY_EXISTS, "unit %s exists already", in->path);
    if (rc != MDB_NOTFOUND)
        return -1;
    int kind = in->kind;
    if (root) {
        if (kind && kind != RAPPORT__IDENTITY__V1__UNIT_KIND__UNIT_KIND_COMPANY)
            return rp_reply_violation(ctx, "kind", "the root / is the company");
        kind = RAPPORT__IDENTITY__V1__UNIT_KIND__UNIT_KIND_COMPANY;
    } else if (!kind) {
        kind = id_unit_kind_below(parent_kind);
    } else if (!s_kind_fits(parent_kind, kind)) {
        return rp_reply_violation(ctx, "kind", "must rank below its parent's (company > branch > department > group)");
    }
    int64_t now = rp_ctx_now(ctx);
    Unit *u = rp_ctx_alloc(ctx, sizeof *u);
    rapport__identity__v1__unit__init(u);
    u->path = in->path;
    u->kind = kind;
    u->name = !rp_str_empty(in->name) ? in->name : root ? (char *)"company" : strrchr(in->path, '/') + 1;
    u->parent = rp_ctx_strdup(ctx, parent);
    u->head = (char *)"";
    u->created_at = u->updated_at = now;
    u->created_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    if (id_store_unit_put(ctx, u) < 0 || id_emit(ctx, "unit.created", u->path, &u->base) < 0)
        return -1;
    *out = &u->base;
    return 0;
}

/* ---- GetUnit, ListUnits ---- */

int id_get_unit(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const GetUnitRequest *in = (const GetUnitRequest *)in_;
    Unit *u = NULL;
    if (id_caller_or_reply(ctx) < 0 || s_unit_or_reply(ctx, "path", in->path, &u) < 0)
        return -1;
    *out = &u->base;
    return 0;
}

typedef struct {
    rp_ctx_t *ctx;
    ListUnitsReply *rep;
    size_t cap;
} s_ulist_t;

static int s_ulist_row(void *arg, ProtobufCMessage *u)
{
    s_ulist_t *l = arg;
    id_push(l->ctx, &l->rep->units, &l->rep->n_units, &l->cap, u);
    return 1;
}

int id_list_units(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ListUnitsRequest *in = (const ListUnitsRequest *)in_;
    if (id_caller_or_reply(ctx) < 0)
        return -1;
    const char *root = rp_str_empty(in->root) ? "/" : in->root;
    if (!id_unit_valid(root))
        return rp_reply_violation(ctx, "root", "must be an org path such as /hq/sales (<= 127 bytes)");
    uint32_t size = id_page_size(in->page_size, S_UNITS_DEFAULT, S_UNITS_MAX);
    ListUnitsReply *rep = rp_ctx_alloc(ctx, sizeof *rep);
    rapport__identity__v1__list_units_reply__init(rep);
    rep->next_page_token = (char *)"";
    s_ulist_t l = { ctx, rep, 0 };
    char *next = NULL;
    int rc = id_store_units_page(ctx, root, in->page_token, size, s_ulist_row, &l, &next);
    if (rc < 0)
        return rp_page_or_reply(ctx, rc);
    if (next)
        rep->next_page_token = next;
    *out = &rep->base;
    return 0;
}

/* ---- SetUnitHead ---- */

int id_set_unit_head(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const SetUnitHeadRequest *in = (const SetUnitHeadRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    Unit *u = NULL;
    if (id_caller_or_reply(ctx) < 0 || s_unit_or_reply(ctx, "path", in->path, &u) < 0
        || rp_unit_or_reply(ctx, "path", u->path) < 0)
        return -1;
    if (strcmp(cl->scope, "company") != 0 && rp_unit_contains(u->path, cl->unit))
        return rp_reply_error(ctx, RP_PERMISSION_DENIED,
                              "the head of %s is appointed from above it, not by its own head", u->path);
    const char *head = "";
    if (!rp_str_empty(in->head)) {
        StoredUser *su = NULL;
        if (id_target_or_reply(ctx, "head", in->head, false, &su) < 0)
            return -1;
        if (su->user->disabled)
            return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "user %s is disabled", su->user->username);
        if (strcmp(su->user->unit, u->path) != 0)
            return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "user %s sits in %s, not in %s: move them first",
                                  su->user->username, su->user->unit, u->path);
        head = su->user->username;
    }
    rp_ctx_set_subject(ctx, u->path);
    if (strcmp(u->head, head) != 0) {       /* the same head again changes nothing */
        u->head = (char *)head;
        u->updated_at = rp_ctx_now(ctx);
        if (id_store_unit_put(ctx, u) < 0 || id_emit(ctx, "unit.head_changed", u->path, &u->base) < 0)
            return -1;
    }
    *out = &u->base;
    return 0;
}

/* ---- MoveUser, DismissUser ---- */

int id_move_user(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const MoveUserRequest *in = (const MoveUserRequest *)in_;
    if (id_caller_or_reply(ctx) < 0)
        return -1;
    OrgOrder *order = NULL;
    if (!id_unit_valid(in->unit))
        rp_reply_violation(ctx, "unit", "must be an org path such as /hq/sales/g1 (<= 127 bytes)");
    id_order_or_reply(ctx, "order", in->order, &order);
    if (rp_ctx_failed(ctx))
        return -1;
    StoredUser *su = NULL;
    if (id_target_or_reply(ctx, "username", in->username, true, &su) < 0)
        return -1;
    User *u = su->user;
    rp_ctx_set_subject(ctx, u->id);     /* the user, not a unit changed on the way */
    if (u->dismissed)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "user %s was dismissed", u->username);
    if (rp_unit_or_reply(ctx, "unit", in->unit) < 0
        || id_manager_or_reply(ctx, "manager", in->manager, u->username) < 0)
        return -1;
    if (strcmp(u->unit, in->unit) == 0)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "user %s is in %s already", u->username, in->unit);
    if (id_store_units_ensure(ctx, in->unit) < 0 || s_leave_head(ctx, u->username, u->unit) < 0)
        return -1;
    int err = 0;
    const char *branch = s_branch_of(ctx, in->unit, &err);
    if (err)
        return -1;
    const char *from = u->unit;
    u->unit = in->unit;
    u->manager = rp_str_empty(in->manager) ? (char *)"" : in->manager;
    if (branch)
        u->branch = (char *)branch;
    u->updated_at = rp_ctx_now(ctx);
    if (id_store_user_put(ctx, su) < 0 || id_emit_order(ctx, "user.moved", u, from, u->unit, order) < 0
        || id_store_revoke_user(ctx, u->username, "moved", NULL, NULL) < 0)
        return -1;
    *out = &u->base;
    return 0;
}

int id_dismiss_user(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const DismissUserRequest *in = (const DismissUserRequest *)in_;
    OrgOrder *order = NULL;
    StoredUser *su = NULL;
    if (id_caller_or_reply(ctx) < 0 || id_order_or_reply(ctx, "order", in->order, &order) < 0
        || id_target_or_reply(ctx, "username", in->username, true, &su) < 0)
        return -1;
    User *u = su->user;
    rp_ctx_set_subject(ctx, u->id);
    if (u->dismissed)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "user %s was dismissed already", u->username);
    if (s_leave_head(ctx, u->username, u->unit) < 0)
        return -1;
    u->disabled = true;
    u->dismissed = true;
    u->updated_at = rp_ctx_now(ctx);
    if (id_store_user_put(ctx, su) < 0 || id_emit_order(ctx, "user.dismissed", u, u->unit, NULL, order) < 0
        || id_store_revoke_user(ctx, u->username, "dismissed", NULL, NULL) < 0)
        return -1;
    *out = &u->base;
    return 0;
}
