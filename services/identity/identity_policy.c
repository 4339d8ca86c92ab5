/* identity_policy.c - rapport-identity's pure rules: usernames and org units, the
 * password policy, and who may grant which role.
 *
 * Granting: an admin grants any role. Otherwise a caller grants only the line
 * roles ranked strictly below their own highest rank: manager = senior_manager (1)
 * < head_of_group (2) < head_of_department (3) < branch_head (4) < director (5).
 * The company-wide roles (director, finance, analyst, auditor, admin,
 * integration) are granted by an admin only, so nobody can raise a user (or
 * themselves, through a colleague) above what they hold.
 *
 * Authority limits follow the same idea: an admin grants any; anyone else at most
 * the limits their own token carries.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "identity.h"
#include "rapport/perm.h"
#include "rapport/util.h"

bool id_username_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > ID_USERNAME_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool id_username_fold(const char *s, char out[ID_USERNAME_MAX + 1])
{
    size_t n = s ? strlen(s) : 0;
    out[0] = '\0';
    if (n == 0 || n > ID_USERNAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[n] = '\0';
    if (!id_username_valid(out)) {
        out[0] = '\0';
        return false;
    }
    return true;
}

bool id_unit_valid(const char *unit)
{
    size_t n = unit ? strlen(unit) : 0;
    if (n == 0 || n > ID_UNIT_MAX || unit[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)unit[i] <= ' ' || unit[i] == 0x7f)
            return false;
    /* "/hq/" would be "/hq" to rp_unit_contains but another key in the tree. */
    return strstr(unit, "//") == NULL && (n == 1 || unit[n - 1] != '/');
}

/* Common passwords of 12 characters or more (the shorter ones fail on length),
 * compared case-insensitively. A small list on purpose: it stops the first
 * guesses of every wordlist; length does the rest. */
static const char *const s_common[] = {
    "123456789012", "1234567890123", "12345678901234", "123456789012345",
    "1234567890123456", "password1234", "password12345", "password123456",
    "passwordpassword", "password123!", "password1234!", "qwerty123456",
    "qwertyuiop12", "qwertyuiop123", "qwertyuiopasdf", "1q2w3e4r5t6y",
    "1qaz2wsx3edc", "iloveyou1234", "letmein12345", "welcome12345",
    "welcome123456", "admin1234567", "administrator", "changeme1234",
    "abcdefghijkl", "abcd12345678", "aaaaaaaaaaaa", "111111111111",
    "000000000000", "football1234", "baseball1234", "sunshine1234",
    "princess1234", "monkey123456", "dragon123456", "master123456",
    "trustno1trustno1", "superman1234", "michael12345", "starwars1234",
    "correcthorsebatterystaple", "zaq12wsxcde3", "asdfghjkl123", "qazwsxedcrfv",
    "rapport12345", "rapportrapport", NULL
};

const char *id_password_problem(const char *username, const char *password)
{
    size_t n = password ? strlen(password) : 0;
    if (n < ID_PASSWORD_MIN)
        return "must be at least 12 characters";
    if (n > ID_PASSWORD_MAX)
        return "must be at most 256 bytes";
    if (username && strcasecmp(password, username) == 0)
        return "must not be the username";
    for (const char *const *p = s_common; *p; p++)
        if (strcasecmp(password, *p) == 0)
            return "is too common";
    return NULL;
}

int id_roles_or_reply(rp_ctx_t *ctx, const char *field, char *const *roles, size_t n)
{
    if (n == 0)
        return rp_reply_violation(ctx, field, "name at least one role");
    if (n > RP_JWT_MAX_ROLES)
        return rp_reply_violation(ctx, field, "at most %d roles", RP_JWT_MAX_ROLES);
    int ret = 0;
    for (size_t i = 0; i < n; i++) {
        char f[64];
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        if (!rp_role_find(roles[i]))
            ret = rp_reply_violation(ctx, f, "unknown role \"%.40s\" (see `rapport roles`)", roles[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(roles[i], roles[j]) == 0)
                ret = rp_reply_violation(ctx, f, "role %.40s given twice", roles[i]);
    }
    return ret;
}

/* s_rank - a line role's rank (0: a company-wide role only an admin grants). */
static int s_rank(const char *role)
{
    static const struct { const char *role; int rank; } ranks[] = {
        { "manager", 1 }, { "senior_manager", 1 }, { "head_of_group", 2 },
        { "head_of_department", 3 }, { "branch_head", 4 }, { "director", 5 },
    };
    for (size_t i = 0; i < sizeof ranks / sizeof ranks[0]; i++)
        if (strcmp(ranks[i].role, role) == 0)
            return ranks[i].rank;
    return 0;
}

static bool s_is_admin(const rp_claims_t *c);

bool id_may_grant(const rp_claims_t *caller, const char *role)
{
    if (s_is_admin(caller))
        return true;
    int top = 0;
    for (int i = 0; i < caller->n_roles && i < RP_JWT_MAX_ROLES; i++) {
        int r = s_rank(caller->roles[i]);
        if (r > top)
            top = r;
    }
    int want = s_rank(role);
    return want > 0 && want < 5 && want < top;
}

/* s_is_admin - the claims hold role admin. */
static bool s_is_admin(const rp_claims_t *c)
{
    for (int i = 0; i < c->n_roles && i < RP_JWT_MAX_ROLES; i++)
        if (strcmp(c->roles[i], "admin") == 0)
            return true;
    return false;
}

int id_limits_or_reply(rp_ctx_t *ctx, const char *value_field, int64_t value, const char *bp_field,
                       int32_t bp)
{
    if (value < 0 || value > ID_LIMIT_VALUE_MAX)
        rp_reply_violation(ctx, value_field, "must be 0..10^15 minor units");
    if (bp < 0 || bp > ID_LIMIT_BP_MAX)
        rp_reply_violation(ctx, bp_field, "must be 0..10000 basis points");
    if (rp_ctx_failed(ctx))
        return -1;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    if (s_is_admin(cl))
        return 0;
    if (value > cl->limit_contract_value)
        return rp_reply_error(ctx, RP_PERMISSION_DENIED,
                              "you may not grant a contract value above your own limit (%lld)",
                              (long long)cl->limit_contract_value);
    if (bp > cl->limit_discount_bp)
        return rp_reply_error(ctx, RP_PERMISSION_DENIED,
                              "you may not grant a discount above your own limit (%d bp)",
                              (int)cl->limit_discount_bp);
    return 0;
}

void id_claims_of(const User *u, const char *sub, rp_claims_t *c)
{
    memset(c, 0, sizeof *c);
    rp_strlcpy(c->sub, sub, sizeof c->sub);
    for (size_t i = 0; i < u->n_roles && i < RP_JWT_MAX_ROLES; i++)
        rp_strlcpy(c->roles[c->n_roles++], u->roles[i], sizeof c->roles[0]);
    rp_strlcpy(c->branch, u->branch, sizeof c->branch);
    rp_strlcpy(c->unit, u->unit, sizeof c->unit);
    rp_strlcpy(c->scope, id_scope_of(u->roles, u->n_roles), sizeof c->scope);
    /* Stored values were checked on the way in; clamp anyway, the signer asserts. */
    c->limit_contract_value = u->limit_contract_value < 0 ? 0
                              : u->limit_contract_value > ID_LIMIT_VALUE_MAX ? ID_LIMIT_VALUE_MAX
                                                                             : u->limit_contract_value;
    c->limit_discount_bp = u->limit_discount_bp < 0 ? 0
                           : u->limit_discount_bp > ID_LIMIT_BP_MAX ? ID_LIMIT_BP_MAX : u->limit_discount_bp;
}

const char *id_scope_of(char *const *roles, size_t n)
{
    int best = -1;
    static const char *const order[] = { "own", "unit", "company" };
    for (size_t i = 0; i < n; i++) {
        const rp_role_t *r = rp_role_find(roles[i]);
        if (!r)
            continue;
        for (int k = 0; k < 3; k++)
            if (strcmp(r->scope, order[k]) == 0 && k > best)
                best = k;
    }
    return best < 0 ? "own" : order[best];
}
