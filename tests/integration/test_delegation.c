/* test_delegation.c - a head appoints a substitute for an absent manager.
 *
 * A real rapport-identity (RAPPORT_TEST_CLOCK=1) and a real rapport-leads run in
 * one suite, as in test_revocation.c. In unit /hq/sales/g1: head hank, managers
 * ann (absent), bob (her substitute) and carl; in /hq/sales/g2 head olga.
 *
 *  - ActAs with no delegation, before its period, after it, or after it was
 *    revoked: PERMISSION_DENIED (the caller is authenticated; they may not act
 *    so -- chosen over FAILED_PRECONDITION because no action of the caller's
 *    can make it succeed).
 *  - carl (a manager, not a head) cannot appoint: PERMISSION_DENIED (no
 *    identity.users.write); olga (a head of another unit) cannot: NOT_FOUND (ann
 *    is out of her reach, and identity does not tell who exists there).
 *  - hank appoints bob for ann; bob's ActAs token lists and updates ann's leads
 *    on leads, cannot see carl's, and leads' audit record says actor bob,
 *    on_behalf_of ann.
 *  - Revoking the delegation makes leads refuse bob's delegated token within 2 s.
 *  - A delegated token never outlives the period: a 3-second delegation gives a
 *    token leads refuses once those seconds have passed.
 *  - Disabling the substitute ends their delegated tokens on leads too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <cmocka.h>
#include "harness.h"
#include "rapport/clock.h"
#include "rapport/status.h"
#include "rapport/util.h"
#include "rapport/identity/v1/identity.pb-c.h"
#include "rapport/leads/v1/leads.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"

#define PW "tangerine-Orbit-42"
#define IM(m) "rapport.identity.v1.Identity/" m
#define LM(m) "rapport.leads.v1.Leads/" m
#define SM(m) "rapport.sys.v1.System/" m
#define T 10000
#define HOUR_MS (3600LL * 1000)

typedef Rapport__Identity__V1__Delegation Delegation;
typedef Rapport__Identity__V1__ActAsReply ActAsReply;

static rp_suite_t *S;
static char *s_admin;

static const char *const ID_ENV[] = { "RAPPORT_TEST_CLOCK=1", NULL };

static void
s_start_leads(void)
{
    rp_suite_start_following(S, "leads", "identity", NULL);
}

/* s_call - one call; the status code, the reply into *out when out is given. */
static int
s_call(const char *svc, const char *token, const char *method, const ProtobufCMessage *in,
       const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    rp_client_t *c = rp_suite_client(S, svc, token);
    rp_call_status_t st;
    int code = rp_client_call(c, NULL, method, in, desc, out, &st, T);
    if (code != RP_OK)
        print_message("  %s -> %s %s\n", method, rp_code_name(code), st.message);
    rp_client_destroy(&c);
    return code;
}

static void
s_create_user(const char *name, const char *role, const char *unit)
{
    Rapport__Identity__V1__CreateUserRequest cu = RAPPORT__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    char *roles[] = { (char *) role };
    cu.username = (char *) name;
    cu.display_name = (char *) name;
    cu.roles = roles;
    cu.n_roles = 1;
    cu.branch = (char *) "hq";
    cu.unit = (char *) unit;
    cu.manager = (char *) "";
    cu.password = (char *) PW;
    assert_int_equal(s_call("identity", s_admin, IM("CreateUser"), &cu.base, NULL, NULL), RP_OK);
}

/* s_login - an access token (malloc'd) of user. */
static char *
s_login(const char *user)
{
    Rapport__Identity__V1__LoginRequest in = RAPPORT__IDENTITY__V1__LOGIN_REQUEST__INIT;
    in.username = (char *) user;
    in.password = (char *) PW;
    Rapport__Identity__V1__TokenPair *tp = NULL;
    assert_int_equal(s_call("identity", NULL, IM("Login"), &in.base,
                            &rapport__identity__v1__token_pair__descriptor, (ProtobufCMessage **) &tp),
                     RP_OK);
    char *tok = rp_strdup(tp->access_token);
    rapport__identity__v1__token_pair__free_unpacked(tp, NULL);
    return tok;
}

/* s_clock - move identity's clock by by_ms; its new now. */
static int64_t
s_clock(int64_t by_ms)
{
    Rapport__Sys__V1__ClockAdvanceRequest rq = RAPPORT__SYS__V1__CLOCK_ADVANCE_REQUEST__INIT;
    rq.by_ms = by_ms;
    Rapport__Sys__V1__ClockAdvanceReply *r = NULL;
    assert_int_equal(s_call("identity", s_admin, SM("ClockAdvance"), &rq.base,
                            &rapport__sys__v1__clock_advance_reply__descriptor, (ProtobufCMessage **) &r),
                     RP_OK);
    int64_t now = r->now;
    rapport__sys__v1__clock_advance_reply__free_unpacked(r, NULL);
    return now;
}

/* s_delegate - Delegate as token; the status, the delegation's id into id (if OK). */
static int
s_delegate(const char *token, const char *absent, const char *sub, int64_t from, int64_t until,
           char id[RP_ULID_STRLEN + 1])
{
    Rapport__Identity__V1__DelegateRequest rq = RAPPORT__IDENTITY__V1__DELEGATE_REQUEST__INIT;
    rq.absent = (char *) absent;
    rq.substitute = (char *) sub;
    rq.from_ms = from;
    rq.until_ms = until;
    rq.note = (char *) "holiday";
    Delegation *d = NULL;
    int code = s_call("identity", token, IM("Delegate"), &rq.base, &rapport__identity__v1__delegation__descriptor,
                      (ProtobufCMessage **) &d);
    if (code == RP_OK) {
        assert_string_equal(d->absent, absent);
        assert_string_equal(d->substitute, sub);
        assert_false(d->revoked);
        if (id)
            rp_strlcpy(id, d->id, RP_ULID_STRLEN + 1);
        rapport__identity__v1__delegation__free_unpacked(d, NULL);
    }
    return code;
}

/* s_act_as - ActAs as token for absent; the status, the delegated token (malloc'd) into *tok. */
static int
s_act_as(const char *token, const char *absent, char **tok)
{
    Rapport__Identity__V1__ActAsRequest rq = RAPPORT__IDENTITY__V1__ACT_AS_REQUEST__INIT;
    rq.absent = (char *) absent;
    ActAsReply *r = NULL;
    int code = s_call("identity", token, IM("ActAs"), &rq.base, &rapport__identity__v1__act_as_reply__descriptor,
                      (ProtobufCMessage **) &r);
    if (tok)
        *tok = NULL;
    if (code == RP_OK) {
        assert_string_equal(r->on_behalf_of, absent);
        assert_string_equal(r->token_type, "Bearer");
        int64_t wall = rp_clock_now_ms();
        assert_true(r->access_expires_at <= wall + 900 * 1000 + 2000);
        if (tok)
            *tok = rp_strdup(r->access_token);
        rapport__identity__v1__act_as_reply__free_unpacked(r, NULL);
    }
    return code;
}

/* s_create_lead - a lead created with token; its id (malloc'd). */
static char *
s_create_lead(const char *token, const char *name)
{
    Rapport__Leads__V1__Company co = RAPPORT__LEADS__V1__COMPANY__INIT;
    co.name = (char *) name;
    Rapport__Leads__V1__CreateRequest rq = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
    rq.company = &co;
    rq.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_WEB;
    Rapport__Leads__V1__Lead *l = NULL;
    assert_int_equal(s_call("leads", token, LM("Create"), &rq.base, &rapport__leads__v1__lead__descriptor,
                            (ProtobufCMessage **) &l),
                     RP_OK);
    char *id = rp_strdup(l->id);
    rapport__leads__v1__lead__free_unpacked(l, NULL);
    return id;
}

/* s_list - ListByOwner(owner) with token: the status; the rows into *n and their owners checked. */
static int
s_list(const char *token, const char *owner, const char *want_owner, size_t *n)
{
    Rapport__Leads__V1__ListByOwnerRequest rq = RAPPORT__LEADS__V1__LIST_BY_OWNER_REQUEST__INIT;
    rq.owner = (char *) owner;
    Rapport__Leads__V1__ListLeadsReply *r = NULL;
    int code = s_call("leads", token, LM("ListByOwner"), &rq.base, &rapport__leads__v1__list_leads_reply__descriptor,
                      (ProtobufCMessage **) &r);
    *n = 0;
    if (code == RP_OK) {
        *n = r->n_leads;
        for (size_t i = 0; i < r->n_leads; i++)
            assert_string_equal(r->leads[i]->owner, want_owner);
        rapport__leads__v1__list_leads_reply__free_unpacked(r, NULL);
    }
    return code;
}

static void
test_delegation(void **state)
{
    (void) state;
    S = rp_suite_new();
    rp_suite_start(S, "identity", ID_ENV);
    s_start_leads();
    s_admin = rp_suite_token(S, "root", "admin", "hq", "/hq", NULL, 3600);

    s_create_user("hank", "head_of_group", "/hq/sales/g1");
    s_create_user("olga", "head_of_group", "/hq/sales/g2");
    s_create_user("ann", "manager", "/hq/sales/g1");
    s_create_user("bob", "manager", "/hq/sales/g1");
    s_create_user("carl", "manager", "/hq/sales/g1");
    char *hank = s_login("hank"), *olga = s_login("olga"), *ann = s_login("ann");
    char *bob = s_login("bob"), *carl = s_login("carl");
    char *ann_lead = s_create_lead(ann, "Ann Absent Co");
    char *carl_lead = s_create_lead(carl, "Carl Own Co");

    /* No delegation yet. */
    assert_int_equal(s_act_as(bob, "ann", NULL), RP_PERMISSION_DENIED);

    int64_t now = s_clock(0);
    /* Not a head: no identity.users.write. A head of another unit: ann is out of reach. */
    assert_int_equal(s_delegate(carl, "ann", "bob", now + HOUR_MS, now + 3 * HOUR_MS, NULL),
                     RP_PERMISSION_DENIED);
    assert_int_equal(s_delegate(olga, "ann", "bob", now + HOUR_MS, now + 3 * HOUR_MS, NULL), RP_NOT_FOUND);
    /* Bad periods. */
    assert_int_equal(s_delegate(hank, "ann", "bob", now + HOUR_MS, now + HOUR_MS, NULL), RP_INVALID_ARGUMENT);
    assert_int_equal(s_delegate(hank, "ann", "ann", 0, now + HOUR_MS, NULL), RP_INVALID_ARGUMENT);

    /* hank appoints bob for ann, from in an hour for two hours. */
    char id[RP_ULID_STRLEN + 1];
    assert_int_equal(s_delegate(hank, "ann", "bob", now + HOUR_MS, now + 3 * HOUR_MS, id), RP_OK);
    /* Before from. Only the substitute may act; only for the absent user. */
    assert_int_equal(s_act_as(bob, "ann", NULL), RP_PERMISSION_DENIED);
    s_clock(HOUR_MS + 1000);
    assert_int_equal(s_act_as(carl, "ann", NULL), RP_PERMISSION_DENIED);
    assert_int_equal(s_act_as(bob, "carl", NULL), RP_PERMISSION_DENIED);
    char *del = NULL;
    assert_int_equal(s_act_as(bob, "ann", &del), RP_OK);
    /* A delegated token cannot delegate again or act as someone else. */
    assert_int_equal(s_act_as(del, "ann", NULL), RP_PERMISSION_DENIED);

    /* What identity says the token is. */
    Rapport__Identity__V1__WhoAmIRequest wq = RAPPORT__IDENTITY__V1__WHO_AM_IREQUEST__INIT;
    Rapport__Identity__V1__WhoAmIReply *who = NULL;
    assert_int_equal(s_call("identity", del, IM("WhoAmI"), &wq.base, &rapport__identity__v1__who_am_ireply__descriptor,
                            (ProtobufCMessage **) &who),
                     RP_OK);
    assert_string_equal(who->claims->sub, "bob");
    assert_string_equal(who->claims->on_behalf_of, "ann");
    assert_string_equal(who->claims->scope, "own");
    assert_string_equal(who->claims->unit, "/hq/sales/g1");
    rapport__identity__v1__who_am_ireply__free_unpacked(who, NULL);

    /* ListDelegations: hank and bob see it; olga does not. */
    Rapport__Identity__V1__ListDelegationsRequest lq = RAPPORT__IDENTITY__V1__LIST_DELEGATIONS_REQUEST__INIT;
    lq.absent = (char *) "ann";
    const char *viewers[] = { hank, bob, olga };
    size_t want_n[] = { 1, 1, 0 };
    for (int i = 0; i < 3; i++) {
        Rapport__Identity__V1__ListDelegationsReply *lr = NULL;
        assert_int_equal(s_call("identity", viewers[i], IM("ListDelegations"), &lq.base,
                                &rapport__identity__v1__list_delegations_reply__descriptor, (ProtobufCMessage **) &lr),
                         RP_OK);
        assert_int_equal(lr->n_delegations, want_n[i]);
        if (lr->n_delegations)
            assert_string_equal(lr->delegations[0]->id, id);
        rapport__identity__v1__list_delegations_reply__free_unpacked(lr, NULL);
    }

    /* On leads: ann's leads, not carl's. */
    size_t n = 0;
    assert_int_equal(s_list(del, "", "ann", &n), RP_OK);
    assert_int_equal(n, 1);
    int code = s_list(del, "carl", "carl", &n);
    assert_true(code != RP_OK || n == 0);
    Rapport__Leads__V1__GetRequest gq = RAPPORT__LEADS__V1__GET_REQUEST__INIT;
    gq.id = carl_lead;
    assert_int_equal(s_call("leads", del, LM("Get"), &gq.base, NULL, NULL), RP_NOT_FOUND);

    Rapport__Leads__V1__UpdateRequest uq = RAPPORT__LEADS__V1__UPDATE_REQUEST__INIT;
    char *mask[] = { (char *) "needs" };
    uq.id = ann_lead;
    uq.needs = (char *) "call back after the holiday";
    uq.update_mask = mask;
    uq.n_update_mask = 1;
    assert_int_equal(s_call("leads", del, LM("Update"), &uq.base, NULL, NULL), RP_OK);
    uq.id = carl_lead;
    assert_int_equal(s_call("leads", del, LM("Update"), &uq.base, NULL, NULL), RP_NOT_FOUND);

    /* Leads' audit chain: "bob as delegate of ann". */
    Rapport__Sys__V1__AuditRequest aq = RAPPORT__SYS__V1__AUDIT_REQUEST__INIT;
    aq.from_seq = 1;
    aq.limit = 1000;
    Rapport__Sys__V1__AuditReply *ar = NULL;
    assert_int_equal(s_call("leads", s_admin, SM("Audit"), &aq.base, &rapport__sys__v1__audit_reply__descriptor,
                            (ProtobufCMessage **) &ar),
                     RP_OK);
    int found = 0;
    for (size_t i = 0; i < ar->n_records; i++) {
        const Rapport__Sys__V1__AuditRecord *r = ar->records[i];
        if (strstr(r->method, "Update") && strcmp(r->subject, ann_lead) == 0) {
            assert_string_equal(r->actor, "bob");
            assert_string_equal(r->on_behalf_of, "ann");
            found++;
        }
    }
    assert_int_equal(found, 1);
    rapport__sys__v1__audit_reply__free_unpacked(ar, NULL);

    /* A stranger cannot revoke it; hank can; leads then refuses the token within 2 s. */
    Rapport__Identity__V1__RevokeDelegationRequest rq = RAPPORT__IDENTITY__V1__REVOKE_DELEGATION_REQUEST__INIT;
    rq.id = id;
    assert_int_equal(s_call("identity", olga, IM("RevokeDelegation"), &rq.base, NULL, NULL), RP_NOT_FOUND);
    assert_int_equal(s_call("identity", del, IM("RevokeDelegation"), &rq.base, NULL, NULL), RP_PERMISSION_DENIED);
    assert_int_equal(s_call("identity", hank, IM("RevokeDelegation"), &rq.base, NULL, NULL), RP_OK);
    int64_t t0 = rp_clock_mono_us(), took_us = -1;
    while (rp_clock_mono_us() - t0 < 5000000) {
        if (s_list(del, "", "ann", &n) == RP_UNAUTHENTICATED) {
            took_us = rp_clock_mono_us() - t0;
            break;
        }
        struct timespec ts = { 0, 20 * 1000000 };
        nanosleep(&ts, NULL);
    }
    if (took_us < 0 || took_us > 2000000)
        fail_msg("leads refused the revoked delegated token after %lld us (want < 2 s)", (long long) took_us);
    print_message("a revoked delegation reached leads in %lld ms\n", (long long) took_us / 1000);
    assert_int_equal(s_act_as(bob, "ann", NULL), RP_PERMISSION_DENIED);
    assert_int_equal(s_call("identity", hank, IM("RevokeDelegation"), &rq.base, NULL, NULL),
                     RP_FAILED_PRECONDITION);
    /* bob's own token is untouched. */
    assert_int_equal(s_list(bob, "", "bob", &n), RP_OK);

    /* After the period: a new delegation, then the clock past until. */
    now = s_clock(0);
    assert_int_equal(s_delegate(hank, "ann", "bob", 0, now + HOUR_MS, id), RP_OK);
    char *del2 = NULL;
    assert_int_equal(s_act_as(bob, "ann", &del2), RP_OK);
    s_clock(HOUR_MS);
    assert_int_equal(s_act_as(bob, "ann", NULL), RP_PERMISSION_DENIED);

    /* A token never outlives its period: 3 s of delegation, in real time. */
    now = s_clock(0);
    assert_int_equal(s_delegate(hank, "ann", "bob", 0, now + 3000, id), RP_OK);
    char *del3 = NULL;
    assert_int_equal(s_act_as(bob, "ann", &del3), RP_OK);
    assert_int_equal(s_list(del3, "", "ann", &n), RP_OK);
    struct timespec ts = { 3, 500 * 1000000 };
    nanosleep(&ts, NULL);
    assert_int_equal(s_list(del3, "", "ann", &n), RP_UNAUTHENTICATED);

    /* Disabling the substitute ends their delegated tokens too (reason "disabled"). */
    now = s_clock(0);
    assert_int_equal(s_delegate(hank, "ann", "bob", 0, now + HOUR_MS, id), RP_OK);
    char *del4 = NULL;
    assert_int_equal(s_act_as(bob, "ann", &del4), RP_OK);
    assert_int_equal(s_list(del4, "", "ann", &n), RP_OK);
    Rapport__Identity__V1__SetUserStateRequest dq = RAPPORT__IDENTITY__V1__SET_USER_STATE_REQUEST__INIT;
    dq.username = (char *) "bob";
    assert_int_equal(s_call("identity", hank, IM("DisableUser"), &dq.base, NULL, NULL), RP_OK);
    const char *ended[] = { del2, del4 };
    for (int i = 0; i < 2; i++) {
        t0 = rp_clock_mono_us();
        took_us = -1;
        while (rp_clock_mono_us() - t0 < 5000000) {
            if (s_list(ended[i], "", "ann", &n) == RP_UNAUTHENTICATED) {
                took_us = rp_clock_mono_us() - t0;
                break;
            }
            struct timespec w = { 0, 20 * 1000000 };
            nanosleep(&w, NULL);
        }
        if (took_us < 0 || took_us > 2000000)
            fail_msg("leads refused delegated token %d of a disabled substitute after %lld us", i,
                     (long long) took_us);
    }
    assert_int_equal(s_act_as(bob, "ann", NULL), RP_UNAUTHENTICATED);

    free(del);
    free(del4);
    free(del2);
    free(del3);
    free(ann_lead);
    free(carl_lead);
    free(hank);
    free(olga);
    free(ann);
    free(bob);
    free(carl);
    free(s_admin);
    rp_suite_destroy(&S);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delegation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
