/* test_perm.c - the role/permission table and the data-scope helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rapport/perm.h"
#include "rapport/util.h"

static const char *s_all_roles[] = {
    "manager", "senior_manager", "head_of_group", "head_of_department", "branch_head",
    "director", "finance", "analyst", "auditor", "admin", "integration", NULL
};

static const char *s_all_perms[] = {
    "leads.read", "leads.write", "leads.assign", "leads.import", "leads.report",
    "accounts.read", "accounts.write", "accounts.assign", "accounts.contacts.read", "accounts.import",
    "accounts.export", "accounts.export.approve", "accounts.erase",
    "contracts.read", "contracts.write", "contracts.sign", "contracts.approve",
    "events.replay", "audit.read", "system.health", "system.metrics", "system.clock",
    "identity.self", "identity.users.read", "identity.users.write", "identity.passwords.reset",
    "identity.org.read", "identity.org.write", "identity.keys.read", "identity.keys.write", "identity.tokens.revoke", NULL
};

/* s_claims - claims for a list of up to 3 roles. */
static rp_claims_t
s_claims(const char *r1, const char *r2, const char *r3)
{
    rp_claims_t c;
    memset(&c, 0, sizeof c);
    const char *rs[] = { r1, r2, r3 };
    for (int i = 0; i < 3; i++)
        if (rs[i])
            rp_strlcpy(c.roles[c.n_roles++], rs[i], sizeof c.roles[0]);
    return c;
}

static void
test_table_shape(void **state)
{
    int n = 0;
    for (const rp_role_t *r = rp_roles(); r->role; r++, n++) {
        assert_non_null(r->description);
        assert_non_null(r->perms);
        assert_true(strcmp(r->scope, "own") == 0 || strcmp(r->scope, "unit") == 0
                    || strcmp(r->scope, "company") == 0);
        assert_ptr_equal(rp_role_find(r->role), r);
        /* Every permission is one the suite knows: catches typos in the table. */
        for (const char *const *p = r->perms; *p; p++) {
            bool known = false;
            for (int i = 0; s_all_perms[i]; i++)
                known = known || strcmp(*p, s_all_perms[i]) == 0;
            if (!known)
                fail_msg("role %s has unknown permission %s", r->role, *p);
        }
    }
    int want = 0;
    for (; s_all_roles[want]; want++)
        assert_non_null(rp_role_find(s_all_roles[want]));
    assert_int_equal(n, want);
    assert_null(rp_role_find("root"));
    assert_null(rp_role_find(""));
    assert_null(rp_role_find(NULL));
    assert_null(rp_role_find("Manager"));
}

/* The full matrix: role x permission -> allowed. */
static const struct {
    const char *role;
    const char *want_perms;     /* space-separated, exactly what the role has */
    const char *want_scope;
} s_matrix[] = {
    { "manager", "leads.read leads.write leads.import leads.report accounts.read accounts.write accounts.contacts.read accounts.import accounts.export contracts.read contracts.write contracts.sign identity.self system.health identity.org.read", "own" },
    { "senior_manager", "leads.read leads.write leads.import leads.report accounts.read accounts.write accounts.contacts.read accounts.import accounts.export contracts.read contracts.write contracts.sign identity.self system.health identity.org.read", "own" },
    { "head_of_group", "leads.read leads.write leads.assign leads.import leads.report accounts.read accounts.write accounts.assign accounts.contacts.read accounts.import accounts.export accounts.export.approve accounts.erase contracts.read contracts.write contracts.sign identity.self identity.users.read identity.users.write system.health identity.org.read identity.org.write", "unit" },
    { "head_of_department", "leads.read leads.write leads.assign leads.import leads.report accounts.read accounts.write accounts.assign accounts.contacts.read accounts.import accounts.export accounts.export.approve accounts.erase contracts.read contracts.write contracts.sign contracts.approve identity.self identity.users.read identity.users.write system.health identity.org.read identity.org.write", "unit" },
    { "branch_head", "leads.read leads.write leads.assign leads.import leads.report accounts.read accounts.write accounts.assign accounts.contacts.read accounts.import accounts.export accounts.export.approve accounts.erase contracts.read contracts.write contracts.sign contracts.approve identity.self identity.users.read identity.users.write system.health identity.org.read identity.org.write", "unit" },
    { "director", "leads.read leads.write leads.assign leads.report accounts.read accounts.write accounts.assign accounts.contacts.read accounts.export accounts.export.approve accounts.erase contracts.read contracts.write contracts.sign contracts.approve events.replay audit.read identity.self identity.users.read identity.users.write system.health identity.org.read identity.org.write", "company" },
    { "finance", "leads.read leads.report accounts.read accounts.contacts.read contracts.read identity.self system.health identity.org.read", "company" },
    { "analyst", "leads.read leads.report events.replay accounts.read accounts.export contracts.read identity.self system.health identity.org.read", "company" },
    { "auditor", "leads.read audit.read events.replay accounts.read contracts.read identity.self identity.users.read system.health identity.org.read identity.keys.read", "company" },
    { "admin", "system.health system.metrics system.clock audit.read events.replay identity.self identity.users.read identity.users.write identity.passwords.reset identity.org.read identity.org.write identity.keys.read identity.keys.write identity.tokens.revoke", "company" },
    { "integration", "events.replay system.health system.metrics identity.self", "company" },
};

static void
test_matrix(void **state)
{
    for (size_t i = 0; i < sizeof s_matrix / sizeof s_matrix[0]; i++) {
        rp_claims_t c = s_claims(s_matrix[i].role, NULL, NULL);
        const rp_role_t *r = rp_role_find(s_matrix[i].role);
        assert_non_null(r);
        assert_string_equal(r->scope, s_matrix[i].want_scope);
        for (int p = 0; s_all_perms[p]; p++) {
            char word[64];
            snprintf(word, sizeof word, " %s ", s_all_perms[p]);
            char list[1024];
            snprintf(list, sizeof list, " %s ", s_matrix[i].want_perms);
            bool want = strstr(list, word) != NULL;
            if (rp_perm_allows(&c, s_all_perms[p]) != want)
                fail_msg("%s %s: want %d", s_matrix[i].role, s_all_perms[p], want);
        }
    }
}

static void
test_allows_cases(void **state)
{
    static const struct {
        const char *r1, *r2, *r3;
        const char *perm;
        bool want;
    } cases[] = {
        { NULL, NULL, NULL, "system.health", false },           /* no roles */
        { "nobody", NULL, NULL, "system.health", false },       /* unknown role */
        { "nobody", "admin", NULL, "system.clock", true },      /* any role grants */
        { "admin", "finance", NULL, "leads.read", true },
        { "admin", NULL, NULL, "leads.read", false },           /* admin: no business data */
        { "admin", NULL, NULL, "system.*", false },             /* no wildcards */
        { "manager", NULL, NULL, "leads.assign", false },       /* heads only */
        { "head_of_group", NULL, NULL, "leads.assign", true },
        { "director", NULL, NULL, "leads.import", false },
        { "auditor", NULL, NULL, "leads.write", false },
        { "finance", NULL, NULL, "events.replay", false },
        { "integration", NULL, NULL, "leads.read", false },
        { "manager", NULL, NULL, "system.clock", false },
        { "manager", NULL, NULL, "", false },
        { "manager", NULL, NULL, "leads.read.extra", false },
        { "manager", NULL, NULL, "identity.users.write", false },  /* managing users: heads, */
        { "head_of_group", NULL, NULL, "identity.users.write", true }, /* director and admin */
        { "director", NULL, NULL, "identity.passwords.reset", false }, /* resets: admin only */
        { "admin", NULL, NULL, "identity.passwords.reset", true },
        { "auditor", NULL, NULL, "identity.users.write", false },  /* auditor reads users */
        { "integration", NULL, NULL, "identity.users.read", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rp_claims_t c = s_claims(cases[i].r1, cases[i].r2, cases[i].r3);
        if (rp_perm_allows(&c, cases[i].perm) != cases[i].want)
            fail_msg("case %zu (%s): want %d", i, cases[i].perm, cases[i].want);
    }
    assert_false(rp_perm_allows(NULL, "system.health"));
    /* A corrupt role count grants nothing. */
    rp_claims_t c = s_claims("admin", NULL, NULL);
    c.n_roles = RP_JWT_MAX_ROLES + 1;
    assert_false(rp_perm_allows(&c, "system.health"));
}

static void
test_unit_contains(void **state)
{
    static const struct {
        const char *parent, *unit;
        bool want;
    } cases[] = {
        { "/a", "/a/b", true },
        { "/a", "/ab", false },
        { "/a", "/a", true },
        { "", "/a", false },
        { "", "", false },
        { NULL, "/a", false },
        { "/a", NULL, false },
        { "/a", "", false },
        { "/a/b", "/a", false },
        { "/a/b", "/a/b/c/d", true },
        { "/a/", "/a/b", true },
        { "/a/", "/a", true },
        { "/", "/a/b", true },
        { "/hq/sales/g1", "/hq/sales/g10", false },
        { "/hq/sales", "/hq/sales/g1", true },
        { "/hq/sales", "/hq/support", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (rp_unit_contains(cases[i].parent, cases[i].unit) != cases[i].want)
            fail_msg("case %zu (%s in %s): want %d", i, cases[i].unit ? cases[i].unit : "NULL",
                     cases[i].parent ? cases[i].parent : "NULL", cases[i].want);
}

static void
test_scope_sees(void **state)
{
    static const struct {
        const char *scope, *sub, *unit, *on_behalf_of;
        const char *owner, *rec_unit;
        bool want;
    } cases[] = {
        { "company", "u1", "/hq", "", "u9", "/other", true },
        { "company", "u1", "", "", "", "", true },
        { "unit", "u1", "/hq/s", "", "u9", "/hq/s/g1", true },
        { "unit", "u1", "/hq/s", "", "u9", "/hq/s", true },
        { "unit", "u1", "/hq/s", "", "u9", "/hq/support", false },
        { "unit", "u1", "/hq/s", "", "u1", "/elsewhere", true },        /* own record */
        { "unit", "u1", "", "", "u9", "/hq", false },                   /* no unit: nothing */
        { "own", "u1", "/hq/s/g1", "", "u1", "/hq/s/g1", true },
        { "own", "u1", "/hq/s/g1", "", "u2", "/hq/s/g1", false },       /* same group, not own */
        { "own", "u1", "/hq/s/g1", "u2", "u2", "/hq/s/g1", true },      /* delegate of u2 */
        { "own", "u1", "/hq/s/g1", "u2", "u1", "/hq/s/g1", true },      /* and still own */
        { "own", "u1", "/hq/s/g1", "u2", "u3", "/hq/s/g1", false },
        { "own", "", "", "", "", "", false },                           /* empty owner never matches */
        { "own", "u1", "", "", NULL, NULL, false },
        { "", "u1", "/hq", "", "u1", "/hq", false },                    /* no scope: nothing */
        { "global", "u1", "/hq", "", "u1", "/hq", false },              /* unknown scope */
        { "Company", "u1", "/hq", "", "u2", "/hq", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rp_claims_t c;
        memset(&c, 0, sizeof c);
        rp_strlcpy(c.scope, cases[i].scope, sizeof c.scope);
        rp_strlcpy(c.sub, cases[i].sub, sizeof c.sub);
        rp_strlcpy(c.unit, cases[i].unit, sizeof c.unit);
        rp_strlcpy(c.on_behalf_of, cases[i].on_behalf_of, sizeof c.on_behalf_of);
        if (rp_scope_sees(&c, cases[i].owner, cases[i].rec_unit) != cases[i].want)
            fail_msg("case %zu (scope %s): want %d", i, cases[i].scope, cases[i].want);
    }
    assert_false(rp_scope_sees(NULL, "u1", "/hq"));
}

static void
test_actor_principal(void **state)
{
    static const struct {
        const char *sub, *on_behalf_of;
        const char *want_actor, *want_principal;
    } cases[] = {
        { "u1", "", "u1", "u1" },
        { "u1", "u2", "u1", "u2" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rp_claims_t c;
        memset(&c, 0, sizeof c);
        rp_strlcpy(c.sub, cases[i].sub, sizeof c.sub);
        rp_strlcpy(c.on_behalf_of, cases[i].on_behalf_of, sizeof c.on_behalf_of);
        assert_string_equal(rp_actor(&c), cases[i].want_actor);
        assert_string_equal(rp_principal(&c), cases[i].want_principal);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_shape),
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_allows_cases),
        cmocka_unit_test(test_unit_contains),
        cmocka_unit_test(test_scope_sees),
        cmocka_unit_test(test_actor_principal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
