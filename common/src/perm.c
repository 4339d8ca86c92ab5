/* perm.c - the one role -> permission table (as data) and the data-scope helpers.
 *
 * Every service checks permissions through rp_perm_allows before a handler runs
 * (the skeleton does it from the method table), and narrows rows with
 * rp_scope_sees. Permissions are listed explicitly per role: there are no
 * wildcards, so what a role may do is exactly what its row says. A role not in
 * the table grants nothing; a scope not in {own, unit, company} sees nothing.
 */
#include "rapport/perm.h"

#include <assert.h>
#include <string.h>

/* Permission sets, one per role. */
static const char *const s_perms_manager[] = {
    "leads.read", "leads.write", "leads.import", "leads.report",
    "accounts.read", "accounts.write", "accounts.contacts.read", "accounts.import", "accounts.export",
    "contracts.read", "contracts.write", "contracts.sign",
    "identity.self", "identity.org.read", "system.health", NULL
};
/* A head of group leads a group but is not in the contracts' approval chain. */
static const char *const s_perms_head[] = {
    "leads.read", "leads.write", "leads.assign", "leads.import", "leads.report",
    "accounts.read", "accounts.write", "accounts.assign", "accounts.contacts.read", "accounts.import",
    "accounts.export", "accounts.export.approve", "accounts.erase",
    "contracts.read", "contracts.write", "contracts.sign",
    "identity.self", "identity.users.read", "identity.users.write",
    "identity.org.read", "identity.org.write",
    "system.health", NULL
};
/* Heads of department and branch: also the first step of contract approvals. */
static const char *const s_perms_head_approver[] = {
    "leads.read", "leads.write", "leads.assign", "leads.import", "leads.report",
    "accounts.read", "accounts.write", "accounts.assign", "accounts.contacts.read", "accounts.import",
    "accounts.export", "accounts.export.approve", "accounts.erase",
    "contracts.read", "contracts.write", "contracts.sign", "contracts.approve",
    "identity.self", "identity.users.read", "identity.users.write",
    "identity.org.read", "identity.org.write",
    "system.health", NULL
};
static const char *const s_perms_director[] = {
    "leads.read", "leads.write", "leads.assign", "leads.report",
    "accounts.read", "accounts.write", "accounts.assign", "accounts.contacts.read",
    "accounts.export", "accounts.export.approve", "accounts.erase",
    "contracts.read", "contracts.write", "contracts.sign", "contracts.approve",
    "events.replay", "audit.read",
    "identity.self", "identity.users.read", "identity.users.write",
    "identity.org.read", "identity.org.write",
    "system.health", NULL
};
static const char *const s_perms_reader[] = {
    "leads.read", "leads.report",
    "accounts.read", "accounts.contacts.read",
    "contracts.read",
    "identity.self", "identity.org.read", "system.health", NULL
};
static const char *const s_perms_analyst[] = {
    "leads.read", "leads.report", "events.replay",
    "accounts.read", "accounts.export",
    "contracts.read",
    "identity.self", "identity.org.read", "system.health", NULL
};
static const char *const s_perms_auditor[] = {
    "leads.read", "audit.read", "events.replay",
    "accounts.read",
    "contracts.read",
    "identity.self", "identity.users.read", "identity.org.read", "identity.keys.read",
    "system.health", NULL
};
static const char *const s_perms_admin[] = {
    "system.health", "system.metrics", "system.clock",
    "audit.read", "events.replay",
    "identity.self", "identity.users.read", "identity.users.write", "identity.passwords.reset",
    "identity.org.read", "identity.org.write", "identity.keys.read", "identity.keys.write",
    "identity.tokens.revoke",
    NULL
};
static const char *const s_perms_integration[] = {
    "events.replay", "system.health", "system.metrics", "identity.self", NULL
};

static const rp_role_t s_roles[] = {
    { "manager", "account manager: works their own portfolio", "own", s_perms_manager },
    { "senior_manager", "senior account manager: their own portfolio", "own", s_perms_manager },
    { "head_of_group", "head of a sales group: the group's leads and clients, may reassign them, approves exports, erases contacts; manages its users and units",
      "unit", s_perms_head },
    { "head_of_department", "head of a department: the department's leads and clients, may reassign them, approves exports, erases contacts; approves its contracts; manages its users and units",
      "unit", s_perms_head_approver },
    { "branch_head", "head of a branch: the branch's leads and clients, may reassign them, approves exports, erases contacts; approves its contracts; manages its users and units",
      "unit", s_perms_head_approver },
    { "director", "director: the whole company's leads, clients and contracts (final approval), replay and audit; manages users and the org tree", "company",
      s_perms_director },
    { "finance", "finance: reads the company's leads, clients (contact details included), contracts and reports", "company", s_perms_reader },
    { "analyst", "analyst: reads the company's leads, clients (contact details masked), contracts, reports and event history; exports", "company",
      s_perms_analyst },
    { "auditor", "auditor: read-only, clients (contact details masked), contracts, the audit trail and event history", "company",
      s_perms_auditor },
    { "admin", "administrator: operations (health, metrics, test clock), audit, users, the org tree, client keys, token and password resets; no business data",
      "company", s_perms_admin },
    { "integration", "another system: event replay and health checks", "company",
      s_perms_integration },
    { NULL, NULL, NULL, NULL }
};

const rp_role_t *
rp_roles(void)
{
    return s_roles;
}

const rp_role_t *
rp_role_find(const char *role)
{
    if (!role)
        return NULL;
    for (const rp_role_t *r = s_roles; r->role; r++)
        if (strcmp(r->role, role) == 0)
            return r;
    return NULL;
}

/* s_role_grants - true when the role's row lists perm. */
static bool
s_role_grants(const rp_role_t *r, const char *perm)
{
    for (const char *const *p = r->perms; *p; p++)
        if (strcmp(*p, perm) == 0)
            return true;
    return false;
}

bool
rp_perm_allows(const rp_claims_t *claims, const char *perm)
{
    assert(perm);
    if (!claims || claims->n_roles < 0 || claims->n_roles > RP_JWT_MAX_ROLES)
        return false;
    for (int i = 0; i < claims->n_roles; i++) {
        const char *name = claims->roles[i];
        if (strnlen(name, sizeof claims->roles[i]) == sizeof claims->roles[i])
            continue;                   /* not NUL-terminated: not a role */
        const rp_role_t *r = rp_role_find(name);
        if (r && s_role_grants(r, perm))
            return true;
    }
    return false;
}

bool
rp_unit_contains(const char *parent, const char *unit)
{
    if (!parent || !unit || !*parent || !*unit)
        return false;
    size_t n = strlen(parent);
    while (n > 0 && parent[n - 1] == '/')
        n--;                            /* "/a/" is "/a"; "/" is the root */
    if (strncmp(parent, unit, n) != 0)
        return false;
    return unit[n] == '\0' || unit[n] == '/';
}

/* s_same_user - equal, non-empty user ids. */
static bool
s_same_user(const char *a, const char *b)
{
    return a && b && *a && *b && strcmp(a, b) == 0;
}

const char *
rp_actor(const rp_claims_t *claims)
{
    assert(claims);
    return claims->sub;
}

const char *
rp_principal(const rp_claims_t *claims)
{
    assert(claims);
    return claims->on_behalf_of[0] ? claims->on_behalf_of : claims->sub;
}

bool
rp_scope_sees(const rp_claims_t *claims, const char *owner, const char *unit)
{
    if (!claims)
        return false;
    if (strcmp(claims->scope, "company") == 0)
        return true;
    if (strcmp(claims->scope, "unit") == 0)
        return rp_unit_contains(claims->unit, unit) || s_same_user(owner, claims->sub);
    if (strcmp(claims->scope, "own") == 0)
        return s_same_user(owner, rp_principal(claims)) || s_same_user(owner, claims->sub);
    return false;
}
