/* test_org.c - the org tree and personnel orders "by order of the head".
 *
 * A real rapport-identity and a real rapport-leads following identity's
 * revocations. Units: the company "/", branch /hq, department /hq/sales, groups
 * /hq/sales/g1 and /hq/sales/g2. People: o.dh (head_of_department, /hq/sales),
 * o.gh (head_of_group, /hq/sales/g1), managers o.m1 and o.m2 (/hq/sales/g1).
 *  - AddUnit (table): kinds rank company > branch > department > group, a group
 *    may hold groups, the parent must exist, paths are checked, a head adds only
 *    below its own unit and a manager not at all; ListUnits gives a subtree in path
 *    order and pages.
 *  - Heads and managers: a head is appointed from above, sits in the unit; the
 *    manager in effect (line_manager) is the set manager or the nearest head above.
 *  - Orders: appointing (CreateUser with an order, into a unit made on the way),
 *    moving and dismissing need the right over both units, an order, and give
 *    events user.appointed/moved/dismissed carrying it (given_by = the caller) and
 *    audit records; moving and dismissing end the user's sessions on leads within
 *    2 s; a dismissed user stays disabled; a dismissed head leaves the unit headless.
 *  - `rapport org tree|add|head|appoint|move|dismiss`.
 *  - A store of the previous version gets the units of its users (migration 4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <cmocka.h>
#include "harness_identity.h"
#include "rapport/status.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"

#define IM(m) "rapport.identity.v1.Identity/" m
#define RUN(s, token, input, ...) \
    rp_suite_cli((s), (token), (input), (const char *const[]) { __VA_ARGS__, NULL })

typedef Rapport__Identity__V1__User User;
typedef Rapport__Identity__V1__Unit Unit;
typedef Rapport__Identity__V1__OrgOrder OrgOrder;

enum { K0 = 0, COMPANY, BRANCH, DEPARTMENT, GROUP };

static rp_suite_t *S;
static const char *ADMIN;
static const char *const ID_ENV[] = { "RAPPORT_TEST_CLOCK=1", NULL };

static int s_setup(void **state)
{
    (void) state;
    S = rp_suite_new();
    rp_suite_start(S, "identity", ID_ENV);
    rp_suite_start_following(S, "leads", "identity", NULL);
    ADMIN = rp_suite_admin_token(S);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    rp_suite_destroy(&S);
    return 0;
}

static int s_add(const char *token, const char *path, int kind, rp_call_status_t *st)
{
    Rapport__Identity__V1__AddUnitRequest in = RAPPORT__IDENTITY__V1__ADD_UNIT_REQUEST__INIT;
    in.path = (char *) path;
    in.kind = kind;
    return rp_it_call(S, "identity", token, IM("AddUnit"), &in.base, NULL, NULL, st);
}

static Unit *s_unit(const char *path)
{
    Rapport__Identity__V1__GetUnitRequest in = RAPPORT__IDENTITY__V1__GET_UNIT_REQUEST__INIT;
    in.path = (char *) path;
    Unit *u = NULL;
    rp_it_call(S, "identity", ADMIN, IM("GetUnit"), &in.base, &rapport__identity__v1__unit__descriptor,
               (ProtobufCMessage **) &u, NULL);
    return u;
}

static User *s_get(const char *username)
{
    Rapport__Identity__V1__GetUserRequest in = RAPPORT__IDENTITY__V1__GET_USER_REQUEST__INIT;
    in.username = (char *) username;
    User *u = NULL;
    assert_int_equal(rp_it_call(S, "identity", ADMIN, IM("GetUser"), &in.base,
                                &rapport__identity__v1__user__descriptor, (ProtobufCMessage **) &u, NULL),
                     RP_OK);
    return u;
}

static int s_head(const char *token, const char *path, const char *head)
{
    Rapport__Identity__V1__SetUnitHeadRequest in = RAPPORT__IDENTITY__V1__SET_UNIT_HEAD_REQUEST__INIT;
    in.path = (char *) path;
    in.head = (char *) head;
    return rp_it_call(S, "identity", token, IM("SetUnitHead"), &in.base, NULL, NULL, NULL);
}

/* s_order - an order (static storage: one at a time). */
static OrgOrder *s_order(const char *ref)
{
    static OrgOrder o;
    static Rapport__V1__Date d;
    rapport__identity__v1__org_order__init(&o);
    rapport__v1__date__init(&d);
    d.year = 2026;
    d.month = 11;
    d.day = 2;
    o.ref = (char *) ref;
    o.date = &d;
    o.reason = (char *) "reorganisation";
    return &o;
}

static int s_move(const char *token, const char *user, const char *unit, OrgOrder *order, rp_call_status_t *st)
{
    Rapport__Identity__V1__MoveUserRequest in = RAPPORT__IDENTITY__V1__MOVE_USER_REQUEST__INIT;
    in.username = (char *) user;
    in.unit = (char *) unit;
    in.order = order;
    return rp_it_call(S, "identity", token, IM("MoveUser"), &in.base, NULL, NULL, st);
}

static int s_dismiss(const char *token, const char *user, OrgOrder *order)
{
    Rapport__Identity__V1__DismissUserRequest in = RAPPORT__IDENTITY__V1__DISMISS_USER_REQUEST__INIT;
    in.username = (char *) user;
    in.order = order;
    return rp_it_call(S, "identity", token, IM("DismissUser"), &in.base, NULL, NULL, NULL);
}

/* s_order_event - the one event of type after seq0: its PersonnelOrder (free_unpacked). */
static Rapport__Identity__V1__PersonnelOrder *s_order_event(uint64_t seq0, const char *type)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "rapport.identity.v1.%s", type);
    size_t n = 0;
    Rapport__V1__Event **evs = rp_suite_replay(S, "identity", seq0 + 1, prefix, &n);
    assert_int_equal(n, 1);
    Rapport__Identity__V1__PersonnelOrder *p =
        rapport__identity__v1__personnel_order__unpack(NULL, evs[0]->data.len, evs[0]->data.data);
    assert_non_null(p);
    rp_suite_events_free(&evs, n);
    return p;
}

static void test_units(void **state)
{
    (void) state;
    assert_int_equal(rp_it_user(S, ADMIN, "o.dh", "head_of_department", "/hq/sales", 0, 0), RP_OK);
    assert_int_equal(rp_it_user(S, ADMIN, "o.gh", "head_of_group", "/hq/sales/g1", 0, 0), RP_OK);
    assert_int_equal(rp_it_user(S, ADMIN, "o.m1", "manager", "/hq/sales/g1", 0, 0), RP_OK);
    assert_int_equal(rp_it_user(S, ADMIN, "o.m2", "manager", "/hq/sales/g1", 0, 0), RP_OK);
    char *gh = rp_it_login(S, "o.gh"), *m1 = rp_it_login(S, "o.m1");

    /* Users' units exist: created with them, with the default kinds. */
    static const struct { const char *path; int kind; const char *parent; } made[] = {
        { "/", COMPANY, "" }, { "/hq", BRANCH, "/" }, { "/hq/sales", DEPARTMENT, "/hq" },
        { "/hq/sales/g1", GROUP, "/hq/sales" },
    };
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
        Unit *u = s_unit(made[i].path);
        if (!u)
            fail_msg("unit %s was not created with its users", made[i].path);
        assert_int_equal(u->kind, made[i].kind);
        assert_string_equal(u->parent, made[i].parent);
        rapport__identity__v1__unit__free_unpacked(u, NULL);
    }

    static const struct {
        const char *name, *by, *path;
        int kind;
        int want_code;
        const char *want_field;
        int want_kind;
    } rows[] = {
        { "group_default_kind", "admin", "/hq/sales/g2", K0, RP_OK, NULL, GROUP },
        { "group_in_group", "admin", "/hq/sales/g2/t1", GROUP, RP_OK, NULL, GROUP },
        { "second_branch", "admin", "/b2", BRANCH, RP_OK, NULL, BRANCH },
        { "dept_default", "admin", "/b2/ops", K0, RP_OK, NULL, DEPARTMENT },
        { "branch_below_dept", "admin", "/hq/sales/x", BRANCH, RP_INVALID_ARGUMENT, "kind", 0 },
        { "company_below", "admin", "/hq/x", COMPANY, RP_INVALID_ARGUMENT, "kind", 0 },
        { "bad_kind", "admin", "/hq/y", 9, RP_INVALID_ARGUMENT, "kind", 0 },
        { "no_parent", "admin", "/nope/x", K0, RP_FAILED_PRECONDITION, NULL, 0 },
        { "exists", "admin", "/hq/sales", K0, RP_ALREADY_EXISTS, NULL, 0 },
        { "relative_path", "admin", "hq/z", K0, RP_INVALID_ARGUMENT, "path", 0 },
        { "trailing_slash", "admin", "/hq/z/", K0, RP_INVALID_ARGUMENT, "path", 0 },
        { "head_below_own", "gh", "/hq/sales/g1/t2", K0, RP_OK, NULL, GROUP },
        { "head_beside_own", "gh", "/hq/sales/g3", K0, RP_PERMISSION_DENIED, NULL, 0 },
        { "manager_may_not", "m1", "/hq/sales/g1/t3", K0, RP_PERMISSION_DENIED, NULL, 0 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *tok = strcmp(rows[i].by, "gh") == 0 ? gh : strcmp(rows[i].by, "m1") == 0 ? m1 : ADMIN;
        rp_call_status_t st;
        int code = s_add(tok, rows[i].path, rows[i].kind, &st);
        if (code != rows[i].want_code)
            fail_msg("%s: want %s, got %s (%s)", rows[i].name, rp_code_name(rows[i].want_code), rp_code_name(code),
                     st.message);
        if (rows[i].want_field && !rp_it_violation(&st, rows[i].want_field))
            fail_msg("%s: no violation on %s", rows[i].name, rows[i].want_field);
        if (code == RP_OK) {
            Unit *u = s_unit(rows[i].path);
            assert_non_null(u);
            assert_int_equal(u->kind, rows[i].want_kind);
            rapport__identity__v1__unit__free_unpacked(u, NULL);
        }
    }

    /* A subtree in path order, page by page; a manager may read the tree. */
    static const char *const want[] = { "/hq/sales", "/hq/sales/g1", "/hq/sales/g1/t2", "/hq/sales/g2",
                                        "/hq/sales/g2/t1" };
    size_t got = 0;
    char *token = rp_strdup("");
    for (int pages = 0; pages < 10; pages++) {
        Rapport__Identity__V1__ListUnitsRequest in = RAPPORT__IDENTITY__V1__LIST_UNITS_REQUEST__INIT;
        in.root = (char *) "/hq/sales";
        in.page_size = 2;
        in.page_token = token;
        Rapport__Identity__V1__ListUnitsReply *r = NULL;
        assert_int_equal(rp_it_call(S, "identity", m1, IM("ListUnits"), &in.base,
                                    &rapport__identity__v1__list_units_reply__descriptor, (ProtobufCMessage **) &r,
                                    NULL),
                         RP_OK);
        assert_true(r->n_units <= 2);
        for (size_t i = 0; i < r->n_units; i++) {
            assert_true(got < sizeof want / sizeof want[0]);
            assert_string_equal(r->units[i]->path, want[got++]);
        }
        free(token);
        token = rp_strdup(r->next_page_token);
        rapport__identity__v1__list_units_reply__free_unpacked(r, NULL);
        if (!token[0])
            break;
    }
    free(token);
    assert_int_equal(got, sizeof want / sizeof want[0]);
    assert_null(s_unit("/hq/none"));
    free(gh);
    free(m1);
}

static void test_heads_and_managers(void **state)
{
    (void) state;
    char *dh = rp_it_login(S, "o.dh"), *gh = rp_it_login(S, "o.gh");
    assert_int_equal(s_head(gh, "/hq/sales/g1", "o.gh"), RP_PERMISSION_DENIED);    /* not their own */
    assert_int_equal(s_head(dh, "/hq/sales/g1", "o.dh"), RP_FAILED_PRECONDITION);  /* does not sit there */
    assert_int_equal(s_head(dh, "/hq/sales/g1", "o.nobody"), RP_NOT_FOUND);
    assert_int_equal(s_head(dh, "/hq/sales/g1", "o.gh"), RP_OK);
    assert_int_equal(s_head(dh, "/hq/sales", "o.dh"), RP_PERMISSION_DENIED);        /* their own unit */
    assert_int_equal(s_head(ADMIN, "/hq/sales", "o.dh"), RP_OK);
    Unit *u = s_unit("/hq/sales/g1");
    assert_string_equal(u->head, "o.gh");
    rapport__identity__v1__unit__free_unpacked(u, NULL);

    /* The manager in effect: the unit's head; for the head, the head above. */
    static const struct { const char *user, *want; } rows[] = {
        { "o.m1", "o.gh" }, { "o.gh", "o.dh" }, { "o.dh", "" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        User *x = s_get(rows[i].user);
        if (strcmp(x->line_manager, rows[i].want) != 0)
            fail_msg("line manager of %s: %s, want %s", rows[i].user, x->line_manager, rows[i].want);
        rapport__identity__v1__user__free_unpacked(x, NULL);
    }

    /* A set manager wins; it must be an enabled user. */
    Rapport__Identity__V1__CreateUserRequest cu = RAPPORT__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    char *roles[] = { (char *) "manager" };
    cu.username = (char *) "o.m3";
    cu.display_name = (char *) "M3";
    cu.roles = roles;
    cu.n_roles = 1;
    cu.branch = (char *) "hq";
    cu.unit = (char *) "/hq/sales/g1";
    cu.password = (char *) RP_IT_PW;
    cu.manager = (char *) "o.nobody";
    rp_call_status_t st;
    assert_int_equal(rp_it_call(S, "identity", ADMIN, IM("CreateUser"), &cu.base, NULL, NULL, &st),
                     RP_INVALID_ARGUMENT);
    assert_true(rp_it_violation(&st, "manager"));
    cu.manager = (char *) "o.dh";
    assert_int_equal(rp_it_call(S, "identity", ADMIN, IM("CreateUser"), &cu.base, NULL, NULL, NULL), RP_OK);
    User *x = s_get("o.m3");
    assert_string_equal(x->line_manager, "o.dh");
    rapport__identity__v1__user__free_unpacked(x, NULL);
    free(dh);
    free(gh);
}

static void test_orders(void **state)
{
    (void) state;
    char *dh = rp_it_login(S, "o.dh"), *gh = rp_it_login(S, "o.gh");

    /* Appointing: CreateUser with an order, into a unit made on the way. */
    uint64_t seq0 = rp_suite_last_seq(S, "identity");
    Rapport__Identity__V1__CreateUserRequest cu = RAPPORT__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    char *roles[] = { (char *) "manager" };
    cu.username = (char *) "o.new";
    cu.display_name = (char *) "New Hire";
    cu.roles = roles;
    cu.n_roles = 1;
    cu.branch = (char *) "hq";
    cu.unit = (char *) "/hq/sales/g1/fresh";
    cu.password = (char *) RP_IT_PW;
    OrgOrder bad = *s_order("HR-1");
    bad.date = NULL;
    cu.order = &bad;
    rp_call_status_t st;
    assert_int_equal(rp_it_call(S, "identity", gh, IM("CreateUser"), &cu.base, NULL, NULL, &st),
                     RP_INVALID_ARGUMENT);
    assert_true(rp_it_violation(&st, "order.date"));
    assert_int_equal(rp_suite_last_seq(S, "identity"), seq0);      /* nothing written */
    cu.order = s_order("HR-1");
    assert_int_equal(rp_it_call(S, "identity", gh, IM("CreateUser"), &cu.base, NULL, NULL, NULL), RP_OK);
    Rapport__Identity__V1__PersonnelOrder *p = s_order_event(seq0, "user.appointed");
    assert_string_equal(p->username, "o.new");
    assert_string_equal(p->to_unit, "/hq/sales/g1/fresh");
    assert_string_equal(p->order->ref, "HR-1");
    assert_string_equal(p->order->given_by, "o.gh");
    assert_int_equal(p->order->date->day, 2);
    rapport__identity__v1__personnel_order__free_unpacked(p, NULL);
    Unit *u = s_unit("/hq/sales/g1/fresh");
    assert_non_null(u);
    rapport__identity__v1__unit__free_unpacked(u, NULL);

    /* Moving: the right over both units, an order; sessions end everywhere. */
    assert_int_equal(s_add(ADMIN, "/hq/sales/g3", K0, NULL), RP_OK);
    char *m1 = rp_it_login(S, "o.m1");
    assert_int_equal(rp_it_leads_code(S, m1, "o.m1"), RP_OK);
    static const struct {
        const char *name, *by, *user, *to;
        bool order;
        int want_code;
    } rows[] = {
        { "no_order", "dh", "o.m1", "/hq/sales/g3", false, RP_INVALID_ARGUMENT },
        { "target_out_of_reach", "gh", "o.m1", "/hq/sales/g3", true, RP_PERMISSION_DENIED },
        { "within_own_unit", "gh", "o.m3", "/hq/sales/g1/fresh", true, RP_OK },
        { "oneself", "gh", "o.gh", "/hq/sales/g1/fresh", true, RP_PERMISSION_DENIED },
        { "a_higher_head", "gh", "o.dh", "/hq/sales/g1", true, RP_NOT_FOUND },
        { "same_unit", "dh", "o.m1", "/hq/sales/g1", true, RP_FAILED_PRECONDITION },
        { "bad_unit", "dh", "o.m1", "hq", true, RP_INVALID_ARGUMENT },
        { "moved", "dh", "o.m1", "/hq/sales/g3", true, RP_OK },
        { "source_now_out_of_reach", "gh", "o.m1", "/hq/sales/g1", true, RP_NOT_FOUND },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *tok = strcmp(rows[i].by, "gh") == 0 ? gh : dh;
        if (strcmp(rows[i].name, "moved") == 0)
            seq0 = rp_suite_last_seq(S, "identity");
        int code = s_move(tok, rows[i].user, rows[i].to, rows[i].order ? s_order("HR-2") : NULL, &st);
        if (code != rows[i].want_code)
            fail_msg("%s: want %s, got %s (%s)", rows[i].name, rp_code_name(rows[i].want_code),
                     rp_code_name(code), st.message);
    }
    p = s_order_event(seq0, "user.moved");
    assert_string_equal(p->from_unit, "/hq/sales/g1");
    assert_string_equal(p->to_unit, "/hq/sales/g3");
    assert_string_equal(p->order->given_by, "o.dh");
    rapport__identity__v1__personnel_order__free_unpacked(p, NULL);
    int64_t took = rp_it_leads_refuses_us(S, m1, "o.m1");
    if (took < 0 || took > 2000000)
        fail_msg("leads refused the moved user's token after %lld us", (long long) took);
    User *x = s_get("o.m1");
    assert_string_equal(x->unit, "/hq/sales/g3");
    assert_string_equal(x->line_manager, "o.dh");       /* g3 has no head: the department's */
    rapport__identity__v1__user__free_unpacked(x, NULL);
    free(m1);
    m1 = rp_it_login(S, "o.m1");                        /* a new login carries the new unit */
    Rapport__Identity__V1__WhoAmIReply *w = rp_it_whoami(S, m1);
    assert_string_equal(w->claims->unit, "/hq/sales/g3");
    rapport__identity__v1__who_am_ireply__free_unpacked(w, NULL);
    free(m1);

    /* Dismissing: disabled for good, sessions end; a dismissed head leaves the unit headless. */
    char *m2 = rp_it_login(S, "o.m2");
    assert_int_equal(s_dismiss(gh, "o.m2", NULL), RP_INVALID_ARGUMENT);
    seq0 = rp_suite_last_seq(S, "identity");
    assert_int_equal(s_dismiss(gh, "o.m2", s_order("HR-3")), RP_OK);
    p = s_order_event(seq0, "user.dismissed");
    assert_string_equal(p->from_unit, "/hq/sales/g1");
    assert_string_equal(p->to_unit, "");
    rapport__identity__v1__personnel_order__free_unpacked(p, NULL);
    took = rp_it_leads_refuses_us(S, m2, "o.m2");
    if (took < 0 || took > 2000000)
        fail_msg("leads refused the dismissed user's token after %lld us", (long long) took);
    x = s_get("o.m2");
    assert_true(x->dismissed);
    assert_true(x->disabled);
    rapport__identity__v1__user__free_unpacked(x, NULL);
    Rapport__Identity__V1__SetUserStateRequest en = RAPPORT__IDENTITY__V1__SET_USER_STATE_REQUEST__INIT;
    en.username = (char *) "o.m2";
    assert_int_equal(rp_it_call(S, "identity", ADMIN, IM("EnableUser"), &en.base, NULL, NULL, NULL),
                     RP_FAILED_PRECONDITION);
    assert_int_equal(s_dismiss(ADMIN, "o.m2", s_order("HR-4")), RP_FAILED_PRECONDITION);
    assert_int_equal(s_move(ADMIN, "o.m2", "/hq/sales/g3", s_order("HR-5"), NULL), RP_FAILED_PRECONDITION);
    free(m2);

    assert_int_equal(s_dismiss(dh, "o.gh", s_order("HR-6")), RP_OK);
    u = s_unit("/hq/sales/g1");
    assert_string_equal(u->head, "");
    rapport__identity__v1__unit__free_unpacked(u, NULL);

    /* Each order is in identity's audit trail, with its caller. */
    char *audit = rp_suite_token(S, "o.aud", "auditor", "hq", "/", NULL, 600);
    rp_cli_run_t r = RUN(S, audit, NULL, "audit", "show", "--service", "identity");
    assert_int_equal(r.status, 0);
    static const char *const methods[] = { "Identity/MoveUser", "Identity/DismissUser", "Identity/AddUnit",
                                           "Identity/SetUnitHead" };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strstr(r.out, methods[i]))
            fail_msg("audit show: no %s in:\n%s", methods[i], r.out);
    rp_cli_run_free(&r);
    free(audit);
    free(dh);
    free(gh);
}

static void test_cli_org(void **state)
{
    (void) state;
    rp_cli_run_t r = RUN(S, ADMIN, NULL, "org", "add", "/hq/mkt", "--kind", "department", "--name", "Marketing");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    r = RUN(S, ADMIN, NULL, "org", "add", "/hq/mkt/g1", "--kind", "galaxy");
    assert_int_equal(r.status, 2);
    rp_cli_run_free(&r);
    r = RUN(S, ADMIN, RP_IT_PW "\n", "org", "appoint", "o.cli", "--name", "Cli User", "--role", "head_of_group",
            "--branch", "hq", "--unit", "/hq/mkt/g1", "--order", "HR-9", "--order-date", "2026-11-03", "--reason",
            "new group");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    r = RUN(S, ADMIN, RP_IT_PW "\n", "org", "appoint", "o.cli2", "--name", "X", "--role", "manager",
            "--branch", "hq", "--unit", "/hq/mkt/g1", "--order-date", "2026-11-03", "--reason", "x");
    assert_int_equal(r.status, 2);      /* no --order */
    rp_cli_run_free(&r);
    r = RUN(S, ADMIN, NULL, "org", "head", "/hq/mkt/g1", "--user", "o.cli");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    r = RUN(S, ADMIN, NULL, "org", "tree", "/hq");
    assert_int_equal(r.status, 0);
    if (!strstr(r.out, "    Marketing") || !strstr(r.out, "/hq/mkt/g1") || !strstr(r.out, "o.cli")
        || !strstr(r.out, "department") || strstr(r.out, "/b2"))
        fail_msg("org tree /hq:\n%s", r.out);
    rp_cli_run_free(&r);
    r = RUN(S, ADMIN, NULL, "org", "move", "o.cli", "--to", "/hq/mkt", "--order", "HR-10", "--order-date",
            "2026-13-01", "--reason", "x");
    assert_int_equal(r.status, 2);      /* no such date */
    rp_cli_run_free(&r);
    r = RUN(S, ADMIN, NULL, "org", "move", "o.cli", "--to", "/hq/mkt", "--order", "HR-10", "--order-date",
            "2026-11-04", "--reason", "promoted");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    r = RUN(S, ADMIN, NULL, "org", "dismiss", "o.cli", "--order", "HR-11", "--order-date", "2026-11-05",
            "--reason", "left");
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    r = RUN(S, ADMIN, NULL, "users", "get", "o.cli");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "dismissed"));
    assert_non_null(strstr(r.out, "/hq/mkt"));
    rp_cli_run_free(&r);
}

static void test_migration_makes_units(void **state)
{
    (void) state;
    assert_int_equal(rp_it_user(S, ADMIN, "o.old", "manager", "/hq/legacy/team", 0, 0), RP_OK);
    assert_int_equal(rp_suite_kill(S, "identity", SIGTERM), 0);
    /* Make it the previous version's store: no units, schema version 3. */
    rp_it_store_downgrade(S, "identity", "units", 3);

    rp_suite_start(S, "identity", ID_ENV);
    static const char *const want[] = { "/", "/hq", "/hq/legacy", "/hq/legacy/team", "/hq/sales/g1/fresh" };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        Unit *u = s_unit(want[i]);
        if (!u)
            fail_msg("migration 4 did not make unit %s", want[i]);
        rapport__identity__v1__unit__free_unpacked(u, NULL);
    }
    assert_null(s_unit("/b2"));     /* no user there: gone with the drop, not remade */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_heads_and_managers),
        cmocka_unit_test(test_orders),
        cmocka_unit_test(test_cli_org),
        cmocka_unit_test(test_migration_makes_units),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
