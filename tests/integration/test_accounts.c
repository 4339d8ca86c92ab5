/* test_accounts.c - rapport-accounts against real processes: clients (create, the
 * bad-input table, tax id and import-key de-duplication, tier and lifecycle events,
 * ownership transfer and its history, the parent tree and its roll-ups, the
 * portfolio), scope and masking for every role, contacts (consent, do-not-contact,
 * erasure), interactions and the last contact, the timeline, tasks and their views,
 * exports (the size limit, a head's approval, audited row counts) and idempotency.
 * The lead.won consumer and the contact-policy job are in test_accounts_events.c.
 */
#include "test_accounts.h"

/* ---- clients ---- */

static void test_client_create_get(void **state)
{
    (void)state;
    uint64_t seq0 = ta_seq();
    char *segs[] = { "retail-chains", "north" };
    Rapport__Accounts__V1__Address addr = RAPPORT__ACCOUNTS__V1__ADDRESS__INIT;
    addr.line1 = "Hauptstr. 1";
    addr.city = "Berlin";
    addr.postal_code = "10115";
    Rapport__Accounts__V1__CreateClientRequest rq = RAPPORT__ACCOUNTS__V1__CREATE_CLIENT_REQUEST__INIT;
    rq.kind = KIND(LEGAL_ENTITY);
    rq.legal_name = "Müller Handel GmbH";
    rq.trade_name = "Müller";
    rq.tax_id = "de 811-000-111";
    rq.country = "de";
    rq.region = "Berlin";
    rq.address = &addr;
    rq.industry = "Wholesale";
    rq.size = RAPPORT__ACCOUNTS__V1__COMPANY_SIZE__COMPANY_SIZE_MEDIUM;
    rq.language = "DE";
    rq.segments = segs;
    rq.n_segments = 2;
    rq.preferences = "calls after 14:00";
    rq.notes = "met at the fair";
    TClient *c = NULL;
    ta_expect(ta_call(P_ANNA, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, &c), RP_OK);
    assert_int_equal(strlen(c->id), RP_ULID_STRLEN);
    assert_string_equal(c->owner, "u-anna");
    assert_string_equal(c->unit, "/hq/sales/g1");
    assert_string_equal(c->branch, "b1");
    assert_string_equal(c->country, "DE");
    assert_string_equal(c->language, "de");
    assert_int_equal(c->tier, TIER(REGULAR));
    assert_int_equal(c->lifecycle, LIFE(PROSPECT));
    assert_int_equal(c->last_contact_at, c->created_at);
    TClient *g = NULL;
    ta_expect(ta_get_client(P_ANNA, c->id, &g), RP_OK);
    assert_string_equal(g->legal_name, "Müller Handel GmbH");
    assert_string_equal(g->address->city, "Berlin");
    assert_int_equal(g->n_segments, 2);
    ta_free(g);
    assert_int_equal(ta_events(seq0, AEV("client.created"), c->id), 1);

    /* search by a folded name prefix, by segment */
    Rapport__Accounts__V1__ListClientsRequest lq = RAPPORT__ACCOUNTS__V1__LIST_CLIENTS_REQUEST__INIT;
    lq.name_prefix = "MULLER";
    Rapport__Accounts__V1__ListClientsReply *lr = NULL;
    ta_expect(ta_call(P_ANNA, AM("ListClients"), &lq, &rapport__accounts__v1__list_clients_reply__descriptor, &lr), RP_OK);
    assert_int_equal(lr->n_clients, 1);
    assert_string_equal(lr->clients[0]->id, c->id);
    ta_free(lr);
    lq.name_prefix = "";
    lq.segment = "retail-chains";
    ta_expect(ta_call(P_BORIS, AM("ListClients"), &lq, &rapport__accounts__v1__list_clients_reply__descriptor, &lr), RP_OK);
    assert_int_equal(lr->n_clients, 0);      /* boris does not see anna's client */
    ta_free(lr);
    ta_free(c);
}

typedef struct {
    const char *name;
    int kind, tier;
    const char *legal_name, *country, *language, *tax_id, *parent, *owner, *owner_unit, *seg2, *import_key;
    int want_code;
    const char *want_field;
} create_row_t;

#define LONG201 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static const create_row_t CREATE_ROWS[] = {
    { "ok", KIND(INDIVIDUAL), 0, "Jan Novak", "CZ", "cs", NULL, NULL, NULL, NULL, NULL, NULL, RP_OK, NULL },
    { "kind_missing", 0, 0, "No Kind Ltd", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, RP_INVALID_ARGUMENT, "kind" },
    { "bad_enum", KIND(LEGAL_ENTITY), 99, "Bad Tier Ltd", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, RP_INVALID_ARGUMENT, "tier" },
    { "name_missing", KIND(LEGAL_ENTITY), 0, "", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, RP_INVALID_ARGUMENT, "legal_name" },
    { "name_too_long", KIND(LEGAL_ENTITY), 0, LONG201, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, RP_INVALID_ARGUMENT, "legal_name" },
    { "name_no_letters", KIND(LEGAL_ENTITY), 0, "--- !!", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, RP_INVALID_ARGUMENT, "legal_name" },
    { "bad_country", KIND(LEGAL_ENTITY), 0, "Country Ltd", "DEU", NULL, NULL, NULL, NULL, NULL, NULL, NULL, RP_INVALID_ARGUMENT, "country" },
    { "bad_language", KIND(LEGAL_ENTITY), 0, "Lang Ltd", NULL, "d3", NULL, NULL, NULL, NULL, NULL, NULL, RP_INVALID_ARGUMENT, "language" },
    { "taxid_no_letters", KIND(LEGAL_ENTITY), 0, "Tax Ltd", NULL, NULL, "---", NULL, NULL, NULL, NULL, NULL, RP_INVALID_ARGUMENT, "tax_id" },
    { "repeated_segment", KIND(LEGAL_ENTITY), 0, "Seg Ltd", NULL, NULL, NULL, NULL, NULL, NULL, "a", NULL, RP_INVALID_ARGUMENT, "segments[1]" },
    { "bad_parent", KIND(LEGAL_ENTITY), 0, "Parent Ltd", NULL, NULL, NULL, "nope", NULL, NULL, NULL, NULL, RP_INVALID_ARGUMENT, "parent_id" },
    { "unknown_parent", KIND(LEGAL_ENTITY), 0, "Parent Ltd", NULL, NULL, NULL, "01HZX3J4K5M6N7P8Q9R0S1T2V3", NULL, NULL, NULL, NULL, RP_NOT_FOUND, NULL },
    { "owner_without_unit", KIND(LEGAL_ENTITY), 0, "Owner Ltd", NULL, NULL, NULL, NULL, "u-boris", NULL, NULL, NULL, RP_INVALID_ARGUMENT, "owner_unit" },
    { "owner_other_no_assign", KIND(LEGAL_ENTITY), 0, "Owner Ltd", NULL, NULL, NULL, NULL, "u-boris", "/hq/sales/g1", NULL, NULL, RP_PERMISSION_DENIED, NULL },
    { "import_key_too_long", KIND(LEGAL_ENTITY), 0, "Import Ltd", NULL, NULL, NULL, NULL, NULL, NULL, NULL, LONG201, RP_INVALID_ARGUMENT, "import_key" },
};

static void test_client_bad_input(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CREATE_ROWS / sizeof CREATE_ROWS[0]; i++) {
        const create_row_t *row = &CREATE_ROWS[i];
        char *segs[] = { "a", (char *)(row->seg2 ? row->seg2 : "") };
        Rapport__Accounts__V1__CreateClientRequest rq = RAPPORT__ACCOUNTS__V1__CREATE_CLIENT_REQUEST__INIT;
        rq.kind = row->kind;
        rq.tier = row->tier;
        rq.legal_name = (char *)row->legal_name;
        rq.country = (char *)(row->country ? row->country : "");
        rq.language = (char *)(row->language ? row->language : "");
        rq.tax_id = (char *)(row->tax_id ? row->tax_id : "");
        rq.parent_id = (char *)(row->parent ? row->parent : "");
        rq.owner = (char *)(row->owner ? row->owner : "");
        rq.owner_unit = (char *)(row->owner_unit ? row->owner_unit : "");
        rq.import_key = (char *)(row->import_key ? row->import_key : "");
        if (row->seg2) {
            rq.segments = segs;
            rq.n_segments = 2;
        }
        uint64_t seq0 = ta_seq();
        int rc = ta_call(P_ANNA, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, NULL);
        if (rc != row->want_code)
            fail_msg("%s: want %s, got %s (%s)", row->name, rp_code_name(row->want_code), rp_code_name(rc), TA.st.message);
        if (row->want_field && !ta_has_violation(row->want_field))
            fail_msg("%s: want a violation on %s (%s)", row->name, row->want_field, TA.st.message);
        if (row->want_code != RP_OK)
            assert_int_equal(ta_seq(), seq0);       /* nothing written, no event */
    }
    /* unknown ids on every kind of record: NOT_FOUND, nothing written */
    uint64_t seq0 = ta_seq();
    ta_expect(ta_get_client(P_DORA, "01HZX3J4K5M6N7P8Q9R0S1T2V3", NULL), RP_NOT_FOUND);
    ta_expect(ta_interaction(P_ANNA, "01HZX3J4K5M6N7P8Q9R0S1T2V3", NULL, DIR(INBOUND), OUT(POSITIVE), 0, NULL),
              RP_NOT_FOUND);
    Rapport__Accounts__V1__CloseTaskRequest ct = RAPPORT__ACCOUNTS__V1__CLOSE_TASK_REQUEST__INIT;
    ct.id = "01HZX3J4K5M6N7P8Q9R0S1T2V3";
    ta_expect(ta_call(P_ANNA, AM("CompleteTask"), &ct, &rapport__accounts__v1__task__descriptor, NULL), RP_NOT_FOUND);
    Rapport__Accounts__V1__EraseContactRequest er = RAPPORT__ACCOUNTS__V1__ERASE_CONTACT_REQUEST__INIT;
    er.id = "01HZX3J4K5M6N7P8Q9R0S1T2V3";
    er.reason = "GDPR-1";
    ta_expect(ta_call(P_HEDDA, AM("EraseContact"), &er, &rapport__accounts__v1__contact__descriptor, NULL), RP_NOT_FOUND);
    /* update: no mask, unknown path, bad enum through the mask */
    TClient *c = ta_new_client(P_ANNA, 0, NULL);
    seq0 = ta_seq();
    Rapport__Accounts__V1__UpdateClientRequest uq = RAPPORT__ACCOUNTS__V1__UPDATE_CLIENT_REQUEST__INIT;
    uq.id = c->id;
    ta_expect(ta_call(P_ANNA, AM("UpdateClient"), &uq, &rapport__accounts__v1__client__descriptor, NULL), RP_INVALID_ARGUMENT);
    char *bad[] = { "owner" };
    uq.update_mask = bad;
    uq.n_update_mask = 1;
    ta_expect(ta_call(P_ANNA, AM("UpdateClient"), &uq, &rapport__accounts__v1__client__descriptor, NULL), RP_INVALID_ARGUMENT);
    char *tier[] = { "tier" };
    uq.update_mask = tier;
    ta_expect(ta_call(P_ANNA, AM("UpdateClient"), &uq, &rapport__accounts__v1__client__descriptor, NULL), RP_INVALID_ARGUMENT);
    assert_int_equal(ta_seq(), seq0);
    /* contacts: bad phone, bad e-mail, missing role */
    char *phones[] = { "call me" };
    char *emails[] = { "ann at example" };
    Rapport__Accounts__V1__CreateContactRequest cq = RAPPORT__ACCOUNTS__V1__CREATE_CONTACT_REQUEST__INIT;
    cq.client_id = c->id;
    cq.name = "Bad Input";
    cq.phones = phones;
    cq.n_phones = 1;
    cq.emails = emails;
    cq.n_emails = 1;
    ta_expect(ta_call(P_ANNA, AM("CreateContact"), &cq, &rapport__accounts__v1__contact__descriptor, NULL), RP_INVALID_ARGUMENT);
    assert_true(ta_has_violation("phones[0]"));
    assert_true(ta_has_violation("emails[0]"));
    assert_true(ta_has_violation("role"));
    assert_int_equal(ta_seq(), seq0);
    TClient *g = NULL;
    ta_expect(ta_get_client(P_ANNA, c->id, &g), RP_OK);
    assert_int_equal(g->contact_count, 0);
    ta_free(g);
    ta_free(c);
}

static void test_taxid_and_import_key(void **state)
{
    (void)state;
    char tax[64];
    snprintf(tax, sizeof tax, "AT-U%06d", (int)getpid() % 1000000);
    TClient *a = ta_new_client(P_ANNA, 0, tax);
    /* the same folded tax id: ALREADY_EXISTS, naming the client only to who sees it */
    char other[64];
    snprintf(other, sizeof other, "at u%06d", (int)getpid() % 1000000);
    Rapport__Accounts__V1__CreateClientRequest rq = RAPPORT__ACCOUNTS__V1__CREATE_CLIENT_REQUEST__INIT;
    rq.kind = KIND(LEGAL_ENTITY);
    rq.legal_name = "Twin Ltd";
    rq.tax_id = other;
    uint64_t seq0 = ta_seq();
    ta_expect(ta_call(P_ANNA, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, NULL), RP_ALREADY_EXISTS);
    assert_string_equal(TA.st.existing_id, a->id);
    ta_expect(ta_call(P_CARL, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, NULL), RP_ALREADY_EXISTS);
    assert_string_equal(TA.st.existing_id, "");
    assert_int_equal(ta_seq(), seq0);

    /* import keys: a re-run creates nothing twice */
    rq.tax_id = "";
    rq.import_key = "file.csv#1:abc";
    TClient *i1 = NULL;
    ta_expect(ta_call(P_ANNA, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, &i1), RP_OK);
    seq0 = ta_seq();
    ta_expect(ta_call(P_ANNA, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, NULL), RP_ALREADY_EXISTS);
    assert_string_equal(TA.st.existing_id, i1->id);
    /* the director may not import */
    rq.import_key = "file.csv#2:def";
    ta_expect(ta_call(P_DORA, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, NULL), RP_PERMISSION_DENIED);
    /* contacts too */
    char *emails[] = { "imp@example.com" };
    Rapport__Accounts__V1__CreateContactRequest cq = RAPPORT__ACCOUNTS__V1__CREATE_CONTACT_REQUEST__INIT;
    cq.client_id = i1->id;
    cq.name = "Imported Person";
    cq.role = DROLE(USER);
    cq.emails = emails;
    cq.n_emails = 1;
    cq.import_key = "contacts.csv#1";
    TContact *k = NULL;
    ta_expect(ta_call(P_ANNA, AM("CreateContact"), &cq, &rapport__accounts__v1__contact__descriptor, &k), RP_OK);
    ta_expect(ta_call(P_ANNA, AM("CreateContact"), &cq, &rapport__accounts__v1__contact__descriptor, NULL), RP_ALREADY_EXISTS);
    assert_string_equal(TA.st.existing_id, k->id);
    assert_int_equal(ta_seq(), seq0 + 1);
    ta_free(k);
    ta_free(i1);
    ta_free(a);
}

static void test_update_tier_lifecycle(void **state)
{
    (void)state;
    TClient *c = ta_new_client(P_ANNA, TIER(REGULAR), NULL);
    uint64_t seq0 = ta_seq();
    char *mask[] = { "tier", "lifecycle", "notes" };
    Rapport__Accounts__V1__UpdateClientRequest uq = RAPPORT__ACCOUNTS__V1__UPDATE_CLIENT_REQUEST__INIT;
    uq.id = c->id;
    uq.tier = TIER(KEY);
    uq.lifecycle = LIFE(REGULAR);
    uq.notes = "moved up";
    uq.update_mask = mask;
    uq.n_update_mask = 3;
    TClient *u = NULL;
    ta_expect(ta_call(P_ANNA, AM("UpdateClient"), &uq, &rapport__accounts__v1__client__descriptor, &u), RP_OK);
    assert_int_equal(u->tier, TIER(KEY));
    assert_int_equal(u->lifecycle, LIFE(REGULAR));
    assert_string_equal(u->notes, "moved up");
    assert_int_equal(ta_events(seq0, AEV("client.updated"), c->id), 1);
    assert_int_equal(ta_events(seq0, AEV("client.tier_changed"), c->id), 1);
    assert_int_equal(ta_events(seq0, AEV("client.lifecycle_changed"), c->id), 1);
    /* the same again changes neither */
    seq0 = ta_seq();
    ta_expect(ta_call(P_ANNA, AM("UpdateClient"), &uq, &rapport__accounts__v1__client__descriptor, NULL), RP_OK);
    assert_int_equal(ta_events(seq0, AEV("client.tier_changed"), c->id), 0);
    /* another manager cannot touch it */
    ta_expect(ta_call(P_BORIS, AM("UpdateClient"), &uq, &rapport__accounts__v1__client__descriptor, NULL), RP_NOT_FOUND);
    ta_free(u);
    ta_free(c);
}

static void test_transfer(void **state)
{
    (void)state;
    TClient *c = ta_new_client(P_ANNA, 0, NULL);
    Rapport__Accounts__V1__TransferClientRequest tq = RAPPORT__ACCOUNTS__V1__TRANSFER_CLIENT_REQUEST__INIT;
    tq.id = c->id;
    tq.owner = "u-boris";
    tq.unit = "/hq/sales/g1";
    tq.reason = "anna moves to key accounts";
    uint64_t seq0 = ta_seq();
    /* a manager cannot hand over a client */
    ta_expect(ta_call(P_ANNA, AM("TransferClient"), &tq, &rapport__accounts__v1__client__descriptor, NULL), RP_PERMISSION_DENIED);
    /* a head cannot hand it to a unit outside theirs */
    tq.owner = "u-carl";
    tq.unit = "/hq/sales/g2";
    ta_expect(ta_call(P_HEDDA, AM("TransferClient"), &tq, &rapport__accounts__v1__client__descriptor, NULL), RP_PERMISSION_DENIED);
    /* a head of another unit does not see it */
    ta_expect(ta_call(P_GUS, AM("TransferClient"), &tq, &rapport__accounts__v1__client__descriptor, NULL), RP_NOT_FOUND);
    assert_int_equal(ta_seq(), seq0);
    tq.owner = "u-boris";
    tq.unit = "/hq/sales/g1";
    TClient *t = NULL;
    ta_expect(ta_call(P_HEDDA, AM("TransferClient"), &tq, &rapport__accounts__v1__client__descriptor, &t), RP_OK);
    assert_string_equal(t->owner, "u-boris");
    assert_int_equal(t->n_owner_history, 1);
    assert_string_equal(t->owner_history[0]->from_owner, "u-anna");
    assert_string_equal(t->owner_history[0]->to_owner, "u-boris");
    assert_string_equal(t->owner_history[0]->by, "u-hedda");
    assert_string_equal(t->owner_history[0]->reason, "anna moves to key accounts");
    assert_int_equal(ta_events(seq0, AEV("client.owner_changed"), c->id), 1);
    ta_expect(ta_get_client(P_ANNA, c->id, NULL), RP_NOT_FOUND);
    ta_expect(ta_get_client(P_BORIS, c->id, NULL), RP_OK);
    /* the same owner again is refused */
    ta_expect(ta_call(P_HEDDA, AM("TransferClient"), &tq, &rapport__accounts__v1__client__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    /* the director moves it across units */
    tq.owner = "u-carl";
    tq.unit = "/hq/sales/g2";
    ta_expect(ta_call(P_DORA, AM("TransferClient"), &tq, &rapport__accounts__v1__client__descriptor, NULL), RP_OK);
    ta_expect(ta_get_client(P_CARL, c->id, NULL), RP_OK);
    ta_free(t);
    ta_free(c);
}

static int ta_set_parent(int p, const char *id, const char *parent)
{
    char *mask[] = { "parent_id" };
    Rapport__Accounts__V1__UpdateClientRequest uq = RAPPORT__ACCOUNTS__V1__UPDATE_CLIENT_REQUEST__INIT;
    uq.id = (char *)id;
    uq.parent_id = (char *)parent;
    uq.update_mask = mask;
    uq.n_update_mask = 1;
    return ta_call(p, AM("UpdateClient"), &uq, &rapport__accounts__v1__client__descriptor, NULL);
}

static void test_tree_rollup(void **state)
{
    (void)state;
    TClient *h = ta_new_client(P_ANNA, TIER(KEY), NULL);
    TClient *a = ta_new_client(P_ANNA, 0, NULL);
    TClient *b = ta_new_client(P_ANNA, 0, NULL);
    TClient *x = ta_new_client(P_BORIS, 0, NULL);     /* boris's, in the same unit */
    ta_expect(ta_set_parent(P_ANNA, a->id, h->id), RP_OK);
    ta_expect(ta_set_parent(P_ANNA, b->id, a->id), RP_OK);
    ta_expect(ta_set_parent(P_BORIS, x->id, h->id), RP_NOT_FOUND);   /* anna's holding is not boris's */
    ta_expect(ta_set_parent(P_HEDDA, x->id, h->id), RP_OK);
    /* cycles are refused */
    ta_expect(ta_set_parent(P_ANNA, h->id, b->id), RP_FAILED_PRECONDITION);
    ta_expect(ta_set_parent(P_ANNA, h->id, h->id), RP_FAILED_PRECONDITION);
    TContact *k = ta_new_contact(P_ANNA, b->id, "tree@example.com");
    ta_free(k);
    ta_expect(ta_interaction(P_ANNA, b->id, NULL, DIR(INBOUND), OUT(POSITIVE), 0, NULL), RP_OK);

    Rapport__Accounts__V1__ClientTreeRequest rq = RAPPORT__ACCOUNTS__V1__CLIENT_TREE_REQUEST__INIT;
    rq.id = h->id;
    Rapport__Accounts__V1__ClientTreeReply *r = NULL;
    ta_expect(ta_call(P_HEDDA, AM("ClientTree"), &rq, &rapport__accounts__v1__client_tree_reply__descriptor, &r), RP_OK);
    assert_int_equal(r->clients, 4);
    assert_int_equal(r->contacts, 1);
    assert_int_equal(r->interactions, 1);
    assert_string_equal(r->nodes[0]->client->id, h->id);
    assert_int_equal(r->nodes[0]->depth, 0);
    ta_free(r);
    /* anna sees her part of the tree only */
    ta_expect(ta_call(P_ANNA, AM("ClientTree"), &rq, &rapport__accounts__v1__client_tree_reply__descriptor, &r), RP_OK);
    assert_int_equal(r->clients, 3);
    bool deep = false;
    for (size_t i = 0; i < r->n_nodes; i++)
        if (strcmp(r->nodes[i]->client->id, b->id) == 0 && r->nodes[i]->depth == 2)
            deep = true;
    assert_true(deep);
    ta_free(r);
    /* children */
    Rapport__Accounts__V1__ListClientsRequest lq = RAPPORT__ACCOUNTS__V1__LIST_CLIENTS_REQUEST__INIT;
    lq.parent_id = h->id;
    Rapport__Accounts__V1__ListClientsReply *lr = NULL;
    ta_expect(ta_call(P_HEDDA, AM("ListClients"), &lq, &rapport__accounts__v1__list_clients_reply__descriptor, &lr), RP_OK);
    assert_int_equal(lr->n_clients, 2);
    ta_free(lr);
    ta_free(h); ta_free(a); ta_free(b); ta_free(x);
}

/* ---- scope and masking for every role ---- */

typedef struct {
    int person;
    int want_get;           /* GetClient / GetContact */
    bool want_masked;
    int want_export;        /* RequestExport */
} role_row_t;

static const role_row_t ROLE_ROWS[] = {
    { P_ANNA,   RP_OK,                false, RP_OK },
    { P_BORIS,  RP_NOT_FOUND,         false, RP_OK },
    { P_CARL,   RP_NOT_FOUND,         false, RP_OK },
    { P_HEDDA,  RP_OK,                false, RP_OK },
    { P_GUS,    RP_NOT_FOUND,         false, RP_OK },
    { P_DORA,   RP_OK,                false, RP_OK },
    { P_FIONA,  RP_OK,                false, RP_PERMISSION_DENIED },
    { P_ALAN,   RP_OK,                true,  RP_OK },
    { P_AUDREY, RP_OK,                true,  RP_PERMISSION_DENIED },
    { P_ADMIN,  RP_PERMISSION_DENIED, false, RP_PERMISSION_DENIED },
    { P_INTEG,  RP_PERMISSION_DENIED, false, RP_PERMISSION_DENIED },
};

static void test_scope_and_masking(void **state)
{
    (void)state;
    TClient *c = ta_new_client(P_ANNA, 0, NULL);
    TContact *k = ta_new_contact(P_ANNA, c->id, "ann.buyer@acme.example");
    for (size_t i = 0; i < sizeof ROLE_ROWS / sizeof ROLE_ROWS[0]; i++) {
        const role_row_t *row = &ROLE_ROWS[i];
        const char *who = TA_PEOPLE[row->person].sub;
        int rc = ta_get_client(row->person, c->id, NULL);
        if (rc != row->want_get)
            fail_msg("%s GetClient: want %s, got %s", who, rp_code_name(row->want_get), rp_code_name(rc));
        Rapport__Accounts__V1__GetContactRequest gq = RAPPORT__ACCOUNTS__V1__GET_CONTACT_REQUEST__INIT;
        gq.id = k->id;
        TContact *g = NULL;
        rc = ta_call(row->person, AM("GetContact"), &gq, &rapport__accounts__v1__contact__descriptor, &g);
        if (rc != row->want_get)
            fail_msg("%s GetContact: want %s, got %s", who, rp_code_name(row->want_get), rp_code_name(rc));
        if (rc == RP_OK) {
            assert_int_equal(g->masked, row->want_masked);
            assert_string_equal(g->name, "Ann Buyer");
            if (row->want_masked) {
                assert_string_equal(g->emails[0], "a***@acme.example");
                assert_string_equal(g->phones[0], "+49 ** *****67");
            } else {
                assert_string_equal(g->emails[0], "ann.buyer@acme.example");
                assert_string_equal(g->phones[0], "+49 30 1234567");
            }
            ta_free(g);
            /* lists mask the same way */
            Rapport__Accounts__V1__ListContactsRequest lq = RAPPORT__ACCOUNTS__V1__LIST_CONTACTS_REQUEST__INIT;
            lq.client_id = c->id;
            Rapport__Accounts__V1__ListContactsReply *lr = NULL;
            ta_expect(ta_call(row->person, AM("ListContacts"), &lq, &rapport__accounts__v1__list_contacts_reply__descriptor,
                              &lr), RP_OK);
            assert_int_equal(lr->n_contacts, 1);
            assert_int_equal(lr->contacts[0]->masked, row->want_masked);
            ta_free(lr);
        }
        Rapport__Accounts__V1__RequestExportRequest eq = RAPPORT__ACCOUNTS__V1__REQUEST_EXPORT_REQUEST__INIT;
        Rapport__Accounts__V1__ExportFilter f = RAPPORT__ACCOUNTS__V1__EXPORT_FILTER__INIT;
        f.owner = "u-nobody";                   /* keep the count at 0 */
        eq.format = EXF(CSV);
        eq.filter = &f;
        rc = ta_call(row->person, AM("RequestExport"), &eq, &rapport__accounts__v1__export__descriptor, NULL);
        if (rc != row->want_export)
            fail_msg("%s RequestExport: want %s, got %s (%s)", who, rp_code_name(row->want_export), rp_code_name(rc),
                     TA.st.message);
    }
    /* a caller who sees masked details may not write phones or e-mails */
    char *mask[] = { "phones" };
    Rapport__Accounts__V1__UpdateContactRequest uq = RAPPORT__ACCOUNTS__V1__UPDATE_CONTACT_REQUEST__INIT;
    uq.id = k->id;
    uq.update_mask = mask;
    uq.n_update_mask = 1;
    ta_expect(ta_call(P_ALAN, AM("UpdateContact"), &uq, &rapport__accounts__v1__contact__descriptor, NULL), RP_PERMISSION_DENIED);
    /* lists skip rows out of scope */
    Rapport__Accounts__V1__ListClientsRequest lq = RAPPORT__ACCOUNTS__V1__LIST_CLIENTS_REQUEST__INIT;
    lq.owner = "u-anna";
    Rapport__Accounts__V1__ListClientsReply *lr = NULL;
    ta_expect(ta_call(P_CARL, AM("ListClients"), &lq, &rapport__accounts__v1__list_clients_reply__descriptor, &lr), RP_OK);
    assert_int_equal(lr->n_clients, 0);
    ta_free(lr);
    ta_expect(ta_call(P_HEDDA, AM("ListClients"), &lq, &rapport__accounts__v1__list_clients_reply__descriptor, &lr), RP_OK);
    assert_true(lr->n_clients >= 1);
    ta_free(lr);
    ta_free(k);
    ta_free(c);
}

/* ---- contacts: consent, do-not-contact, erasure ---- */

static bool s_bytes_have(const Rapport__V1__Event *ev, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= ev->data.len; i++)
        if (memcmp(ev->data.data + i, s, n) == 0)
            return true;
    return false;
}

static void test_contacts_consent_erasure(void **state)
{
    (void)state;
    TClient *c = ta_new_client(P_ANNA, 0, NULL);
    TContact *k = ta_new_contact(P_ANNA, c->id, "erase.me@acme.example");
    /* consent withdrawn: no outbound contact, inbound still logged */
    Rapport__Accounts__V1__SetConsentRequest sq = RAPPORT__ACCOUNTS__V1__SET_CONSENT_REQUEST__INIT;
    sq.contact_id = k->id;
    sq.state = RAPPORT__ACCOUNTS__V1__CONSENT_STATE__CONSENT_STATE_WITHDRAWN;
    ta_expect(ta_call(P_ANNA, AM("SetConsent"), &sq, &rapport__accounts__v1__contact__descriptor, NULL), RP_INVALID_ARGUMENT);
    sq.source = RAPPORT__ACCOUNTS__V1__CONSENT_SOURCE__CONSENT_SOURCE_EMAIL;
    sq.note = "asked by mail";
    TContact *u = NULL;
    ta_expect(ta_call(P_ANNA, AM("SetConsent"), &sq, &rapport__accounts__v1__contact__descriptor, &u), RP_OK);
    assert_int_equal(u->consent->state, RAPPORT__ACCOUNTS__V1__CONSENT_STATE__CONSENT_STATE_WITHDRAWN);
    assert_string_equal(u->consent->by, "u-anna");
    assert_true(u->consent->at > 0);
    ta_free(u);
    ta_expect(ta_interaction(P_ANNA, c->id, k->id, DIR(OUTBOUND), OUT(POSITIVE), 0, NULL), RP_FAILED_PRECONDITION);
    ta_expect(ta_interaction(P_ANNA, c->id, k->id, DIR(INBOUND), OUT(POSITIVE), 0, NULL), RP_OK);
    /* consent given again, then do-not-contact: every channel refuses, tasks too */
    sq.state = RAPPORT__ACCOUNTS__V1__CONSENT_STATE__CONSENT_STATE_GIVEN;
    ta_expect(ta_call(P_ANNA, AM("SetConsent"), &sq, &rapport__accounts__v1__contact__descriptor, NULL), RP_OK);
    ta_expect(ta_interaction(P_ANNA, c->id, k->id, DIR(OUTBOUND), OUT(POSITIVE), 0, NULL), RP_OK);
    char *mask[] = { "do_not_contact" };
    Rapport__Accounts__V1__UpdateContactRequest uq = RAPPORT__ACCOUNTS__V1__UPDATE_CONTACT_REQUEST__INIT;
    uq.id = k->id;
    uq.do_not_contact = true;
    uq.update_mask = mask;
    uq.n_update_mask = 1;
    ta_expect(ta_call(P_ANNA, AM("UpdateContact"), &uq, &rapport__accounts__v1__contact__descriptor, NULL), RP_OK);
    ta_expect(ta_interaction(P_ANNA, c->id, k->id, DIR(OUTBOUND), OUT(POSITIVE), 0, NULL), RP_FAILED_PRECONDITION);
    int64_t now = ta_now();
    Rapport__V1__Date due = ta_date(now, 1);
    Rapport__Accounts__V1__CreateTaskRequest tq = RAPPORT__ACCOUNTS__V1__CREATE_TASK_REQUEST__INIT;
    tq.client_id = c->id;
    tq.contact_id = k->id;
    tq.kind = TKIND(EMAIL);
    tq.title = "Send the offer";
    tq.due = &due;
    ta_expect(ta_call(P_ANNA, AM("CreateTask"), &tq, &rapport__accounts__v1__task__descriptor, NULL), RP_FAILED_PRECONDITION);

    /* erasure: heads only; the person goes, the business records stay */
    Rapport__Accounts__V1__EraseContactRequest er = RAPPORT__ACCOUNTS__V1__ERASE_CONTACT_REQUEST__INIT;
    er.id = k->id;
    er.reason = "GDPR request 2024-17";
    ta_expect(ta_call(P_ANNA, AM("EraseContact"), &er, &rapport__accounts__v1__contact__descriptor, NULL), RP_PERMISSION_DENIED);
    ta_expect(ta_call(P_GUS, AM("EraseContact"), &er, &rapport__accounts__v1__contact__descriptor, NULL), RP_NOT_FOUND);
    uint64_t seq0 = ta_seq();
    TContact *e = NULL;
    ta_expect(ta_call(P_HEDDA, AM("EraseContact"), &er, &rapport__accounts__v1__contact__descriptor, &e), RP_OK);
    assert_true(e->erased);
    assert_string_equal(e->name, "erased contact");
    assert_int_equal(e->n_phones, 0);
    assert_int_equal(e->n_emails, 0);
    assert_string_equal(e->position, "");
    assert_null(e->consent);
    ta_free(e);
    ta_expect(ta_call(P_HEDDA, AM("EraseContact"), &er, &rapport__accounts__v1__contact__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    Rapport__Accounts__V1__GetContactRequest gq = RAPPORT__ACCOUNTS__V1__GET_CONTACT_REQUEST__INIT;
    gq.id = k->id;
    ta_expect(ta_call(P_DORA, AM("GetContact"), &gq, &rapport__accounts__v1__contact__descriptor, &e), RP_OK);
    assert_string_equal(e->name, "erased contact");
    assert_int_equal(e->n_emails, 0);
    ta_free(e);
    /* later events carry no personal data */
    size_t n = 0;
    Rapport__V1__Event **ev = rp_suite_replay(TA.suite, "accounts", seq0 + 1, NULL, &n);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        assert_false(s_bytes_have(ev[i], "Ann Buyer"));
        assert_false(s_bytes_have(ev[i], "erase.me@acme.example"));
        assert_false(s_bytes_have(ev[i], "1234567"));
        assert_false(s_bytes_have(ev[i], "CFO"));
    }
    rp_suite_events_free(&ev, n);
    assert_int_equal(ta_events(seq0, AEV("contact.erased"), k->id), 1);
    /* the interactions with the erased contact stay whole */
    Rapport__Accounts__V1__ListInteractionsRequest iq = RAPPORT__ACCOUNTS__V1__LIST_INTERACTIONS_REQUEST__INIT;
    iq.client_id = c->id;
    Rapport__Accounts__V1__ListInteractionsReply *ir = NULL;
    ta_expect(ta_call(P_ANNA, AM("ListInteractions"), &iq, &rapport__accounts__v1__list_interactions_reply__descriptor, &ir),
              RP_OK);
    assert_int_equal(ir->n_interactions, 2);
    assert_string_equal(ir->interactions[0]->contact_id, k->id);
    ta_free(ir);
    ta_free(k);
    ta_free(c);
}

/* Events reach roles without accounts.contacts.read (System/Replay, the PUB
 * socket): every contact in them is masked, whoever wrote it. */
static void test_events_mask_contacts(void **state)
{
    (void)state;
    static const char *const secret[] = {
        "9876543", "leak.first@acme.example", "5551234", "leak.second@acme.example", "1234567",
    };
    TClient *c = ta_new_client(P_ANNA, 0, NULL);
    TContact *k = ta_new_contact(P_ANNA, c->id, "leak.first@acme.example");
    char *phones[] = { "+49 30 9876543", "+49 40 5551234" };
    char *emails[] = { "leak.second@acme.example" };
    char *mask[] = { "phones", "emails", "position" };
    Rapport__Accounts__V1__UpdateContactRequest uq = RAPPORT__ACCOUNTS__V1__UPDATE_CONTACT_REQUEST__INIT;
    uq.id = k->id;
    uq.phones = phones;
    uq.n_phones = 2;
    uq.emails = emails;
    uq.n_emails = 1;
    uq.position = "CEO";
    uq.update_mask = mask;
    uq.n_update_mask = 3;
    TContact *u = NULL;
    ta_expect(ta_call(P_HEDDA, AM("UpdateContact"), &uq, &rapport__accounts__v1__contact__descriptor, &u), RP_OK);
    assert_string_equal(u->emails[0], "leak.second@acme.example");       /* the writer sees them */
    ta_free(u);
    Rapport__Accounts__V1__SetConsentRequest sq = RAPPORT__ACCOUNTS__V1__SET_CONSENT_REQUEST__INIT;
    sq.contact_id = k->id;
    sq.state = RAPPORT__ACCOUNTS__V1__CONSENT_STATE__CONSENT_STATE_GIVEN;
    sq.source = RAPPORT__ACCOUNTS__V1__CONSENT_SOURCE__CONSENT_SOURCE_EMAIL;
    ta_expect(ta_call(P_ANNA, AM("SetConsent"), &sq, &rapport__accounts__v1__contact__descriptor, NULL), RP_OK);
    ta_expect(ta_interaction(P_ANNA, c->id, k->id, DIR(OUTBOUND), OUT(POSITIVE), 0, NULL), RP_OK);

    /* every event of the run so far, of every type */
    size_t n = 0, contacts = 0;
    Rapport__V1__Event **ev = rp_suite_replay(TA.suite, "accounts", 1, NULL, &n);
    assert_true(n >= 3);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < sizeof secret / sizeof secret[0]; j++)
            if (s_bytes_have(ev[i], secret[j]))
                fail_msg("event %s (seq %llu) carries \"%s\"", ev[i]->type, (unsigned long long)ev[i]->seq,
                         secret[j]);
        if (strcmp(ev[i]->subject, k->id) != 0 || strncmp(ev[i]->type, AEV("contact."), strlen(AEV("contact."))))
            continue;
        TContact *e = rapport__accounts__v1__contact__unpack(NULL, ev[i]->data.len, ev[i]->data.data);
        assert_non_null(e);
        assert_true(e->masked);
        assert_string_equal(e->name, "Ann Buyer");                    /* what a masked read shows */
        ta_free(e);
        contacts++;
    }
    assert_int_equal(contacts, 3);          /* created, updated, consent */
    rp_suite_events_free(&ev, n);
    ta_free(k);
    ta_free(c);
}

/* s_erased - the reply is the anonymised contact id. */
static void s_erased(const TContact *k, const char *id)
{
    assert_non_null(k);
    assert_string_equal(k->id, id);
    assert_true(k->erased);
    assert_string_equal(k->name, "erased contact");
    assert_int_equal(k->n_phones, 0);
    assert_int_equal(k->n_emails, 0);
}

/* After EraseContact a retry of an earlier write (same request id, same body) is
 * still answered from its kept reply, which now holds the anonymised contact;
 * re-running the import that brought the person in does not bring them back. */
static void test_erasure_retries_and_reimport(void **state)
{
    (void)state;
    TClient *c = ta_new_client(P_ANNA, 0, NULL);
    char ids[3][RP_ULID_STRLEN + 1];
    for (int i = 0; i < 3; i++)
        rp_ulid_new_str((int64_t)time(NULL) * 1000, ids[i]);
    char *phones[] = { "+49 30 7654321" };
    char *emails[] = { "retry.person@acme.example" };
    char key[64];
    snprintf(key, sizeof key, "crm-row-%d-%u", (int)getpid(), ++TA.seq);
    Rapport__Accounts__V1__CreateContactRequest cq = RAPPORT__ACCOUNTS__V1__CREATE_CONTACT_REQUEST__INIT;
    cq.client_id = c->id;
    cq.name = "Rita Retry";
    cq.role = DROLE(USER);
    cq.phones = phones;
    cq.n_phones = 1;
    cq.emails = emails;
    cq.n_emails = 1;
    cq.import_key = key;
    TContact *k = NULL;
    ta_expect(ta_call_on(TA.c[P_ANNA], ids[0], AM("CreateContact"), &cq, &rapport__accounts__v1__contact__descriptor, &k),
              RP_OK);
    char *mask[] = { "position" };
    Rapport__Accounts__V1__UpdateContactRequest uq = RAPPORT__ACCOUNTS__V1__UPDATE_CONTACT_REQUEST__INIT;
    uq.id = k->id;
    uq.position = "Buyer";
    uq.update_mask = mask;
    uq.n_update_mask = 1;
    ta_expect(ta_call_on(TA.c[P_ANNA], ids[1], AM("UpdateContact"), &uq, &rapport__accounts__v1__contact__descriptor, NULL),
              RP_OK);
    Rapport__Accounts__V1__SetConsentRequest sq = RAPPORT__ACCOUNTS__V1__SET_CONSENT_REQUEST__INIT;
    sq.contact_id = k->id;
    sq.state = RAPPORT__ACCOUNTS__V1__CONSENT_STATE__CONSENT_STATE_GIVEN;
    sq.source = RAPPORT__ACCOUNTS__V1__CONSENT_SOURCE__CONSENT_SOURCE_WEB_FORM;
    ta_expect(ta_call_on(TA.c[P_ANNA], ids[2], AM("SetConsent"), &sq, &rapport__accounts__v1__contact__descriptor, NULL),
              RP_OK);
    /* before the erasure a retry gets the person back, as it should */
    TContact *r = NULL;
    ta_expect(ta_call_on(TA.c[P_ANNA], ids[0], AM("CreateContact"), &cq, &rapport__accounts__v1__contact__descriptor, &r),
              RP_OK);
    assert_string_equal(r->emails[0], "retry.person@acme.example");
    ta_free(r);

    Rapport__Accounts__V1__EraseContactRequest er = RAPPORT__ACCOUNTS__V1__ERASE_CONTACT_REQUEST__INIT;
    er.id = k->id;
    er.reason = "GDPR request 2024-18";
    ta_expect(ta_call(P_HEDDA, AM("EraseContact"), &er, &rapport__accounts__v1__contact__descriptor, NULL), RP_OK);
    uint64_t seq0 = ta_seq();

    /* the retries: answered, the anonymised contact, nothing written */
    ta_expect(ta_call_on(TA.c[P_ANNA], ids[0], AM("CreateContact"), &cq, &rapport__accounts__v1__contact__descriptor, &r),
              RP_OK);
    s_erased(r, k->id);
    ta_free(r);
    ta_expect(ta_call_on(TA.c[P_ANNA], ids[1], AM("UpdateContact"), &uq, &rapport__accounts__v1__contact__descriptor, &r),
              RP_OK);
    s_erased(r, k->id);
    assert_string_equal(r->position, "");
    ta_free(r);
    ta_expect(ta_call_on(TA.c[P_ANNA], ids[2], AM("SetConsent"), &sq, &rapport__accounts__v1__contact__descriptor, &r),
              RP_OK);
    s_erased(r, k->id);
    assert_null(r->consent);
    ta_free(r);
    /* the same id with another body is still refused */
    cq.name = "Someone Else";
    ta_expect(ta_call_on(TA.c[P_ANNA], ids[0], AM("CreateContact"), &cq, &rapport__accounts__v1__contact__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    cq.name = "Rita Retry";
    assert_int_equal(ta_seq(), seq0);

    /* the import run again (a new request): the erased person is not created again */
    ta_expect(ta_call(P_ANNA, AM("CreateContact"), &cq, &rapport__accounts__v1__contact__descriptor, NULL),
              RP_ALREADY_EXISTS);
    assert_int_equal(ta_seq(), seq0);
    TClient *after = NULL;
    ta_expect(ta_get_client(P_ANNA, c->id, &after), RP_OK);
    assert_int_equal(after->contact_count, 1);
    ta_free(after);
    ta_free(k);
    ta_free(c);
}

/* ---- interactions, last contact, timeline ---- */

static void test_interactions_timeline(void **state)
{
    (void)state;
    TClient *c = ta_new_client(P_ANNA, TIER(CORPORATE), NULL);
    int64_t created = c->last_contact_at;
    uint64_t seq0 = ta_seq();
    /* bad input changes nothing */
    Rapport__Accounts__V1__LogInteractionRequest bad = RAPPORT__ACCOUNTS__V1__LOG_INTERACTION_REQUEST__INIT;
    Rapport__Accounts__V1__Link link = RAPPORT__ACCOUNTS__V1__LINK__INIT;
    bad.client_id = c->id;
    bad.link = &link;
    bad.occurred_at = ta_now() + 3600 * 1000;
    ta_expect(ta_call(P_ANNA, AM("LogInteraction"), &bad, &rapport__accounts__v1__interaction__descriptor, NULL),
              RP_INVALID_ARGUMENT);
    assert_true(ta_has_violation("channel"));
    assert_true(ta_has_violation("direction"));
    assert_true(ta_has_violation("outcome"));
    assert_true(ta_has_violation("summary"));
    assert_true(ta_has_violation("link.kind"));
    assert_true(ta_has_violation("occurred_at"));
    assert_int_equal(ta_seq(), seq0);

    /* not reached: no contact (a minute ago, so the two entries never share a
     * millisecond, where the timeline orders them by their random ids) */
    ta_expect(ta_interaction(P_ANNA, c->id, NULL, DIR(OUTBOUND), OUT(NO_CONTACT), ta_now() - 60 * 1000, NULL), RP_OK);
    TClient *g = NULL;
    ta_expect(ta_get_client(P_ANNA, c->id, &g), RP_OK);
    assert_int_equal(g->last_contact_at, created);
    assert_int_equal(g->interaction_count, 1);
    ta_free(g);
    TInteraction *x = NULL;
    link.kind = RAPPORT__ACCOUNTS__V1__LINK_KIND__LINK_KIND_INVOICE;
    link.id = "INV-2024-0042";
    Rapport__Accounts__V1__LogInteractionRequest rq = RAPPORT__ACCOUNTS__V1__LOG_INTERACTION_REQUEST__INIT;
    rq.client_id = c->id;
    rq.channel = CHAN(MEETING);
    rq.direction = DIR(OUTBOUND);
    rq.summary = "Agreed on a payment plan";
    rq.outcome = OUT(POSITIVE);
    rq.link = &link;
    ta_expect(ta_call(P_ANNA, AM("LogInteraction"), &rq, &rapport__accounts__v1__interaction__descriptor, &x), RP_OK);
    assert_string_equal(x->by, "u-anna");
    assert_int_equal(x->link->kind, RAPPORT__ACCOUNTS__V1__LINK_KIND__LINK_KIND_INVOICE);
    ta_expect(ta_get_client(P_ANNA, c->id, &g), RP_OK);
    assert_int_equal(g->last_contact_at, x->occurred_at);
    ta_free(g);
    assert_int_equal(ta_events(seq0, AEV("interaction.logged"), NULL), 2);

    Rapport__Accounts__V1__TimelineRequest tq = RAPPORT__ACCOUNTS__V1__TIMELINE_REQUEST__INIT;
    tq.client_id = c->id;
    Rapport__Accounts__V1__TimelineReply *t = NULL;
    ta_expect(ta_call(P_HEDDA, AM("Timeline"), &tq, &rapport__accounts__v1__timeline_reply__descriptor, &t), RP_OK);
    assert_int_equal(t->n_entries, 2);
    assert_string_equal(t->entries[0]->id, x->id);        /* newest first */
    assert_string_equal(t->entries[0]->source, "accounts");
    assert_string_equal(t->entries[0]->interaction->summary, "Agreed on a payment plan");
    ta_free(t);
    ta_expect(ta_call(P_CARL, AM("Timeline"), &tq, &rapport__accounts__v1__timeline_reply__descriptor, NULL), RP_NOT_FOUND);
    ta_free(x);
    ta_free(c);
}

/* ---- tasks ---- */

static TTask *s_task(int p, const char *client_id, int kind, int due_days, const char *due_time, const char *assignee,
                     const char *unit, int want)
{
    int64_t now = ta_now();
    Rapport__V1__Date due = ta_date(now, due_days);
    Rapport__Accounts__V1__CreateTaskRequest rq = RAPPORT__ACCOUNTS__V1__CREATE_TASK_REQUEST__INIT;
    rq.client_id = (char *)(client_id ? client_id : "");
    rq.kind = kind;
    rq.title = "Follow up";
    rq.due = &due;
    rq.due_time = (char *)(due_time ? due_time : "");
    rq.assignee = (char *)(assignee ? assignee : "");
    rq.assignee_unit = (char *)(unit ? unit : "");
    TTask *t = NULL;
    ta_expect(ta_call(p, AM("CreateTask"), &rq, &rapport__accounts__v1__task__descriptor, &t), want);
    return t;
}

static size_t s_tasks(int p, int view, const char *assignee, int day_offset, char ids[][RP_ULID_STRLEN + 1], size_t cap)
{
    Rapport__V1__Date d = ta_date(ta_now(), day_offset);
    Rapport__Accounts__V1__ListTasksRequest rq = RAPPORT__ACCOUNTS__V1__LIST_TASKS_REQUEST__INIT;
    rq.view = view;
    rq.assignee = (char *)(assignee ? assignee : "");
    if (view == TVIEW(DAY_PLAN))
        rq.date = &d;
    Rapport__Accounts__V1__ListTasksReply *r = NULL;
    ta_expect(ta_call(p, AM("ListTasks"), &rq, &rapport__accounts__v1__list_tasks_reply__descriptor, &r), RP_OK);
    size_t n = 0;
    for (size_t i = 0; i < r->n_tasks && n < cap; i++)
        rp_strlcpy(ids[n++], r->tasks[i]->id, RP_ULID_STRLEN + 1);
    ta_free(r);
    return n;
}

static bool s_has(char ids[][RP_ULID_STRLEN + 1], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

static void test_tasks(void **state)
{
    (void)state;
    int p = P_BORIS;
    TClient *c = ta_new_client(p, 0, NULL);
    TTask *late = s_task(p, c->id, TKIND(TODO), -2, NULL, NULL, NULL, RP_OK);
    TTask *today = s_task(p, c->id, TKIND(CALL), 0, "15:30", NULL, NULL, RP_OK);
    TTask *early = s_task(p, c->id, TKIND(MEETING), 0, "09:00", NULL, NULL, RP_OK);
    TTask *todo = s_task(p, NULL, TKIND(TODO), 0, NULL, NULL, NULL, RP_OK);
    TTask *later = s_task(p, c->id, TKIND(VISIT), 3, NULL, NULL, NULL, RP_OK);
    assert_string_equal(today->assigned_by, "u-boris");
    assert_int_equal(today->priority, RAPPORT__ACCOUNTS__V1__TASK_PRIORITY__TASK_PRIORITY_NORMAL);
    TClient *g = NULL;
    ta_expect(ta_get_client(p, c->id, &g), RP_OK);
    assert_int_equal(g->open_tasks, 4);
    ta_free(g);

    char ids[64][RP_ULID_STRLEN + 1];
    size_t n = s_tasks(p, TVIEW(TODAY), NULL, 0, ids, 64);
    assert_int_equal(n, 3);
    assert_true(s_has(ids, n, today->id) && s_has(ids, n, early->id) && s_has(ids, n, todo->id));
    n = s_tasks(p, TVIEW(OVERDUE), NULL, 0, ids, 64);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], late->id);
    n = s_tasks(p, TVIEW(DAY_PLAN), NULL, 0, ids, 64);          /* calls and meetings, by time */
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], early->id);
    assert_string_equal(ids[1], today->id);
    n = s_tasks(p, TVIEW(OPEN), NULL, 0, ids, 64);
    assert_int_equal(n, 5);
    assert_string_equal(ids[0], late->id);
    assert_string_equal(ids[4], later->id);

    /* done is final; the client's open count follows */
    uint64_t seq0 = ta_seq();
    Rapport__Accounts__V1__CloseTaskRequest cq = RAPPORT__ACCOUNTS__V1__CLOSE_TASK_REQUEST__INIT;
    cq.id = today->id;
    cq.result = "reached, will order";
    TTask *d = NULL;
    ta_expect(ta_call(p, AM("CompleteTask"), &cq, &rapport__accounts__v1__task__descriptor, &d), RP_OK);
    assert_int_equal(d->status, TSTAT(DONE));
    ta_free(d);
    ta_expect(ta_call(p, AM("CompleteTask"), &cq, &rapport__accounts__v1__task__descriptor, NULL), RP_FAILED_PRECONDITION);
    ta_expect(ta_call(p, AM("CancelTask"), &cq, &rapport__accounts__v1__task__descriptor, NULL), RP_FAILED_PRECONDITION);
    assert_int_equal(ta_events(seq0, AEV("task.completed"), today->id), 1);
    n = s_tasks(p, TVIEW(TODAY), NULL, 0, ids, 64);
    assert_int_equal(n, 2);
    ta_expect(ta_get_client(p, c->id, &g), RP_OK);
    assert_int_equal(g->open_tasks, 3);
    ta_free(g);

    /* assigning to someone else: heads only, within their unit */
    TTask *bad = s_task(P_ANNA, NULL, TKIND(CALL), 1, NULL, "u-boris", "/hq/sales/g1", RP_PERMISSION_DENIED);
    assert_null(bad);
    s_task(P_HEDDA, NULL, TKIND(CALL), 1, NULL, "u-carl", "/hq/sales/g2", RP_PERMISSION_DENIED);
    TTask *given = s_task(P_HEDDA, c->id, TKIND(CALL), 1, "10:00", "u-boris", "/hq/sales/g1", RP_OK);
    assert_string_equal(given->assignee, "u-boris");
    assert_string_equal(given->assigned_by, "u-hedda");
    n = s_tasks(p, TVIEW(DAY_PLAN), NULL, 1, ids, 64);
    assert_true(s_has(ids, n, given->id));
    /* the head sees boris's list; carl does not */
    n = s_tasks(P_HEDDA, TVIEW(OPEN), "u-boris", 0, ids, 64);
    assert_true(n >= 4);
    n = s_tasks(P_CARL, TVIEW(OPEN), "u-boris", 0, ids, 64);
    assert_int_equal(n, 0);
    Rapport__Accounts__V1__GetTaskRequest gq = RAPPORT__ACCOUNTS__V1__GET_TASK_REQUEST__INIT;
    gq.id = given->id;
    ta_expect(ta_call(P_CARL, AM("GetTask"), &gq, &rapport__accounts__v1__task__descriptor, NULL), RP_NOT_FOUND);
    /* bad input */
    seq0 = ta_seq();
    Rapport__Accounts__V1__CreateTaskRequest rq = RAPPORT__ACCOUNTS__V1__CREATE_TASK_REQUEST__INIT;
    Rapport__V1__Date bad_due = { PROTOBUF_C_MESSAGE_INIT(&rapport__v1__date__descriptor), 2030, 2, 30 };
    rq.due = &bad_due;
    rq.due_time = "25:00";
    ta_expect(ta_call(p, AM("CreateTask"), &rq, &rapport__accounts__v1__task__descriptor, NULL), RP_INVALID_ARGUMENT);
    assert_true(ta_has_violation("kind"));
    assert_true(ta_has_violation("title"));
    assert_true(ta_has_violation("due"));
    assert_true(ta_has_violation("due_time"));
    assert_int_equal(ta_seq(), seq0);
    ta_free(given);
    ta_free(late); ta_free(today); ta_free(early); ta_free(todo); ta_free(later);
    ta_free(c);
}

static void test_portfolio(void **state)
{
    (void)state;
    int p = P_CARL;
    TClient *k = ta_new_client(p, TIER(KEY), NULL);
    TClient *r = ta_new_client(p, TIER(RETAIL), NULL);
    TTask *t = s_task(p, k->id, TKIND(CALL), 1, NULL, NULL, NULL, RP_OK);
    ta_free(t);
    Rapport__Accounts__V1__PortfolioRequest rq = RAPPORT__ACCOUNTS__V1__PORTFOLIO_REQUEST__INIT;
    Rapport__Accounts__V1__PortfolioReply *pr = NULL;
    ta_expect(ta_call(p, AM("Portfolio"), &rq, &rapport__accounts__v1__portfolio_reply__descriptor, &pr), RP_OK);
    assert_string_equal(pr->owner, "u-carl");
    bool seen_k = false, seen_r = false;
    for (size_t i = 0; i < pr->n_rows; i++) {
        if (strcmp(pr->rows[i]->client_id, k->id) == 0) {
            seen_k = true;
            assert_int_equal(pr->rows[i]->tier, TIER(KEY));
            assert_int_equal(pr->rows[i]->open_tasks, 1);
            assert_int_equal(pr->rows[i]->last_contact_at, k->created_at);
            assert_false(pr->rows[i]->contact_overdue);
        }
        seen_r = seen_r || strcmp(pr->rows[i]->client_id, r->id) == 0;
    }
    assert_true(seen_k && seen_r);
    ta_free(pr);
    /* carl's head sees it, another unit's head and a manager do not */
    rq.owner = "u-carl";
    ta_expect(ta_call(P_GUS, AM("Portfolio"), &rq, &rapport__accounts__v1__portfolio_reply__descriptor, &pr), RP_OK);
    assert_true(pr->n_rows >= 2);
    ta_free(pr);
    ta_expect(ta_call(P_HEDDA, AM("Portfolio"), &rq, &rapport__accounts__v1__portfolio_reply__descriptor, &pr), RP_OK);
    assert_int_equal(pr->n_rows, 0);
    ta_free(pr);
    ta_expect(ta_call(P_ANNA, AM("Portfolio"), &rq, &rapport__accounts__v1__portfolio_reply__descriptor, &pr), RP_OK);
    assert_int_equal(pr->n_rows, 0);
    ta_free(pr);
    ta_free(k);
    ta_free(r);
}

/* ---- exports ---- */

static Rapport__Accounts__V1__Export *s_export(rp_client_t *c, const char *reason, int format, int want)
{
    Rapport__Accounts__V1__RequestExportRequest rq = RAPPORT__ACCOUNTS__V1__REQUEST_EXPORT_REQUEST__INIT;
    rq.format = format;
    rq.reason = (char *)(reason ? reason : "");
    Rapport__Accounts__V1__Export *e = NULL;
    ta_expect(ta_call_on(c, NULL, AM("RequestExport"), &rq, &rapport__accounts__v1__export__descriptor, &e), want);
    return e;
}

/* s_fetch_all - fetch pages of 2 until done; returns the rows (count) and checks the
 * retry of the last page serves it again without counting it twice. */
static size_t s_fetch_all(rp_client_t *c, const char *id, char *first_row, size_t cap)
{
    size_t rows = 0;
    for (uint32_t page = 0; page < 100; page++) {
        Rapport__Accounts__V1__FetchExportRequest fq = RAPPORT__ACCOUNTS__V1__FETCH_EXPORT_REQUEST__INIT;
        fq.id = (char *)id;
        fq.page = page;
        fq.page_size = 2;
        Rapport__Accounts__V1__ExportPage *p = NULL;
        ta_expect(ta_call_on(c, NULL, AM("FetchExport"), &fq, &rapport__accounts__v1__export_page__descriptor, &p), RP_OK);
        assert_true(p->n_rows <= 2);
        if (rows == 0 && p->n_rows && first_row)
            rp_strlcpy(first_row, p->rows[0], cap);
        rows += p->n_rows;
        assert_int_equal(p->rows_served, rows);
        bool done = p->done;
        size_t n_rows = p->n_rows;
        ta_free(p);
        /* a retry of the same page: the same rows, not counted again */
        ta_expect(ta_call_on(c, NULL, AM("FetchExport"), &fq, &rapport__accounts__v1__export_page__descriptor, &p), RP_OK);
        assert_int_equal(p->n_rows, n_rows);
        assert_int_equal(p->rows_served, rows);
        ta_free(p);
        if (done) {
            fq.page = page + 1;
            ta_expect(ta_call_on(c, NULL, AM("FetchExport"), &fq, &rapport__accounts__v1__export_page__descriptor, NULL),
                      RP_FAILED_PRECONDITION);
            return rows;
        }
    }
    fail_msg("export never done");
    return 0;
}

/* s_export_event - the row_count and rows_served of the last event of type about id. */
static void s_export_event(uint64_t after, const char *type, const char *id, uint64_t *row_count, uint64_t *served)
{
    size_t n = 0;
    Rapport__V1__Event **ev = rp_suite_replay(TA.suite, "accounts", after + 1, type, &n);
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ev[i]->subject, id) != 0)
            continue;
        Rapport__Accounts__V1__Export *e = rapport__accounts__v1__export__unpack(NULL, ev[i]->data.len, ev[i]->data.data);
        assert_non_null(e);
        *row_count = e->row_count;
        *served = e->rows_served;
        found = true;
        rapport__accounts__v1__export__free_unpacked(e, NULL);
    }
    rp_suite_events_free(&ev, n);
    if (!found)
        fail_msg("no %s event about export %s", type, id);
}

static void test_exports(void **state)
{
    (void)state;
    char *tok = rp_suite_token(TA.suite, "u-exporter", "manager", "b1", "/hq/sales/g1", NULL, 3600);
    rp_client_t *me = rp_suite_client(TA.suite, "accounts", tok);
    /* three clients, one with a comma and a formula-looking name */
    const char *names[] = { "Comma, Quote \"Ltd\"", "=cmd|' /C calc'!A0", "Plain Ltd" };
    for (int i = 0; i < 3; i++) {
        Rapport__Accounts__V1__CreateClientRequest rq = RAPPORT__ACCOUNTS__V1__CREATE_CLIENT_REQUEST__INIT;
        rq.kind = KIND(LEGAL_ENTITY);
        rq.legal_name = (char *)names[i];
        ta_expect(ta_call_on(me, NULL, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, NULL), RP_OK);
    }
    uint64_t seq0 = ta_seq();
    Rapport__Accounts__V1__Export *e = s_export(me, NULL, EXF(CSV), RP_OK);
    assert_int_equal(e->status, EXS(READY));
    assert_int_equal(e->row_count, 3);
    assert_int_equal(e->limit, TA_EXPORT_LIMIT);
    char first[1024] = "";
    assert_int_equal(s_fetch_all(me, e->id, first, sizeof first), 3);
    assert_non_null(strstr(first, "\"Comma, Quote \"\"Ltd\"\"\""));
    uint64_t count = 0, served = 0;
    s_export_event(seq0, AEV("export.requested"), e->id, &count, &served);
    assert_int_equal(count, 3);
    s_export_event(seq0, AEV("export.completed"), e->id, &count, &served);
    assert_int_equal(count, 3);
    assert_int_equal(served, 3);
    ta_free(e);
    /* the limit holds over a rolling day: 3 more rows now make 6 > 5, so a reason
     * and an approval; a day later the first export no longer counts */
    seq0 = ta_seq();
    s_export(me, NULL, EXF(JSON), RP_INVALID_ARGUMENT);
    assert_true(ta_has_violation("reason"));
    assert_non_null(strstr(TA.st.violations[0].description, "with the 3 exported without approval"));
    assert_int_equal(ta_seq(), seq0);
    rp_suite_clock_advance(TA.suite, "accounts", TA_DAY_MS + 1000);
    /* another manager cannot read it */
    Rapport__Accounts__V1__FetchExportRequest fq = RAPPORT__ACCOUNTS__V1__FETCH_EXPORT_REQUEST__INIT;
    /* JSON */
    e = s_export(me, NULL, EXF(JSON), RP_OK);
    assert_int_equal(e->window_rows, 0);
    fq.id = e->id;
    Rapport__Accounts__V1__ExportPage *p = NULL;
    ta_expect(ta_call(P_ANNA, AM("FetchExport"), &fq, &rapport__accounts__v1__export_page__descriptor, NULL), RP_NOT_FOUND);
    ta_expect(ta_call_on(me, NULL, AM("FetchExport"), &fq, &rapport__accounts__v1__export_page__descriptor, &p), RP_OK);
    assert_int_equal(p->n_rows, 3);
    assert_string_equal(p->header, "");
    assert_true(p->rows[0][0] == '{');
    assert_non_null(strstr(p->rows[0], "\"tier\":\"regular\""));
    ta_free(p);
    ta_free(e);

    /* over the limit: a reason, then a head's approval */
    for (int i = 0; i < 4; i++) {
        Rapport__Accounts__V1__CreateClientRequest rq = RAPPORT__ACCOUNTS__V1__CREATE_CLIENT_REQUEST__INIT;
        char name[64];
        rq.kind = KIND(LEGAL_ENTITY);
        rq.legal_name = ta_unique("Big Base", name, sizeof name);
        ta_expect(ta_call_on(me, NULL, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, NULL), RP_OK);
    }
    seq0 = ta_seq();
    s_export(me, NULL, EXF(CSV), RP_INVALID_ARGUMENT);
    assert_true(ta_has_violation("reason"));
    assert_int_equal(ta_seq(), seq0);
    e = s_export(me, "year-end review", EXF(CSV), RP_OK);
    assert_int_equal(e->status, EXS(PENDING));
    assert_int_equal(e->row_count, 7);
    fq.id = e->id;
    ta_expect(ta_call_on(me, NULL, AM("FetchExport"), &fq, &rapport__accounts__v1__export_page__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    Rapport__Accounts__V1__DecideExportRequest dq = RAPPORT__ACCOUNTS__V1__DECIDE_EXPORT_REQUEST__INIT;
    dq.id = e->id;
    ta_expect(ta_call_on(me, NULL, AM("ApproveExport"), &dq, &rapport__accounts__v1__export__descriptor, NULL),
              RP_PERMISSION_DENIED);
    ta_expect(ta_call(P_GUS, AM("ApproveExport"), &dq, &rapport__accounts__v1__export__descriptor, NULL), RP_NOT_FOUND);
    /* the head sees what waits for approval */
    Rapport__Accounts__V1__ListExportsRequest lq = RAPPORT__ACCOUNTS__V1__LIST_EXPORTS_REQUEST__INIT;
    lq.status = EXS(PENDING);
    Rapport__Accounts__V1__ListExportsReply *lr = NULL;
    ta_expect(ta_call(P_HEDDA, AM("ListExports"), &lq, &rapport__accounts__v1__list_exports_reply__descriptor, &lr), RP_OK);
    bool listed = false;
    for (size_t i = 0; i < lr->n_exports; i++)
        listed = listed || strcmp(lr->exports[i]->id, e->id) == 0;
    assert_true(listed);
    ta_free(lr);
    Rapport__Accounts__V1__Export *a = NULL;
    dq.note = "ok for the review";
    ta_expect(ta_call(P_HEDDA, AM("ApproveExport"), &dq, &rapport__accounts__v1__export__descriptor, &a), RP_OK);
    assert_int_equal(a->status, EXS(READY));
    assert_string_equal(a->decided_by, "u-hedda");
    ta_free(a);
    ta_expect(ta_call(P_HEDDA, AM("ApproveExport"), &dq, &rapport__accounts__v1__export__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    assert_int_equal(s_fetch_all(me, e->id, NULL, 0), 7);
    s_export_event(seq0, AEV("export.approved"), e->id, &count, &served);
    assert_int_equal(count, 7);
    s_export_event(seq0, AEV("export.completed"), e->id, &count, &served);
    assert_int_equal(served, 7);
    ta_free(e);

    /* a head's own large export needs someone else; rejected ones cannot be fetched */
    e = s_export(TA.c[P_HEDDA], "audit", EXF(CSV), RP_OK);
    assert_int_equal(e->status, EXS(PENDING));
    dq.id = e->id;
    ta_expect(ta_call(P_HEDDA, AM("ApproveExport"), &dq, &rapport__accounts__v1__export__descriptor, NULL), RP_PERMISSION_DENIED);
    ta_expect(ta_call(P_DORA, AM("RejectExport"), &dq, &rapport__accounts__v1__export__descriptor, NULL), RP_OK);
    fq.id = e->id;
    ta_expect(ta_call(P_HEDDA, AM("FetchExport"), &fq, &rapport__accounts__v1__export_page__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    ta_free(e);
    rp_client_destroy(&me);
    free(tok);
}

/* s_fetch - one page of an export as c; asserts OK. */
static Rapport__Accounts__V1__ExportPage *s_fetch(rp_client_t *c, const char *id, uint32_t page, uint32_t size)
{
    Rapport__Accounts__V1__FetchExportRequest fq = RAPPORT__ACCOUNTS__V1__FETCH_EXPORT_REQUEST__INIT;
    fq.id = (char *)id;
    fq.page = page;
    fq.page_size = size;
    Rapport__Accounts__V1__ExportPage *p = NULL;
    ta_expect(ta_call_on(c, NULL, AM("FetchExport"), &fq, &rapport__accounts__v1__export_page__descriptor, &p), RP_OK);
    return p;
}

/* The ways around the export rules a review found: a retry of the last page with a
 * larger page_size, a fetch with a wider token of the same user, a delegate
 * deciding on the export of whom they act for (and the other way round). */
static void test_export_bypasses(void **state)
{
    (void)state;
    char *tok = rp_suite_token(TA.suite, "u-xp", "manager", "b1", "/hq/sales/g1", NULL, 3600);
    char *wide = rp_suite_token(TA.suite, "u-xp", "head_of_group", "b1", "/hq/sales/g1", NULL, 3600);
    rp_client_t *me = rp_suite_client(TA.suite, "accounts", tok);
    rp_client_t *me_wide = rp_suite_client(TA.suite, "accounts", wide);
    for (int i = 0; i < 2; i++) {
        Rapport__Accounts__V1__CreateClientRequest rq = RAPPORT__ACCOUNTS__V1__CREATE_CLIENT_REQUEST__INIT;
        char name[64];
        rq.kind = KIND(LEGAL_ENTITY);
        rq.legal_name = ta_unique("Xp Ltd", name, sizeof name);
        ta_expect(ta_call_on(me, NULL, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, NULL), RP_OK);
    }
    /* (a) page 0 with size 1, then again with size 1000: the same single row */
    uint64_t seq0 = ta_seq();
    Rapport__Accounts__V1__Export *e = s_export(me, NULL, EXF(CSV), RP_OK);
    assert_int_equal(e->row_count, 2);
    assert_string_equal(e->requested_scope, "own");
    Rapport__Accounts__V1__ExportPage *p = s_fetch(me, e->id, 0, 1);
    assert_int_equal(p->n_rows, 1);
    char first[512];
    rp_strlcpy(first, p->rows[0], sizeof first);
    ta_free(p);
    p = s_fetch(me, e->id, 0, 1000);
    assert_int_equal(p->n_rows, 1);
    assert_string_equal(p->rows[0], first);
    assert_int_equal(p->rows_served, 1);
    assert_false(p->done);
    ta_free(p);
    p = s_fetch(me, e->id, 1, 1000);
    assert_int_equal(p->n_rows, 1);
    assert_true(p->done);
    ta_free(p);
    uint64_t count = 0, served = 0;
    s_export_event(seq0, AEV("export.completed"), e->id, &count, &served);
    assert_int_equal(served, 2);
    ta_free(e);

    /* (c) fetched with a wider token of the same user: still only the rows of the
     * scope it was requested in (u-xp's own clients), not the unit's */
    e = s_export(me, NULL, EXF(CSV), RP_OK);
    assert_int_equal(e->row_count, 2);
    assert_int_equal(e->window_rows, 2);
    p = s_fetch(me_wide, e->id, 0, 1000);
    assert_int_equal(p->n_rows, 2);
    for (size_t i = 0; i < p->n_rows; i++)
        if (!strstr(p->rows[i], ",u-xp,"))
            fail_msg("row of another owner served: %s", p->rows[i]);
    ta_free(p);
    ta_free(e);

    /* (d) hedda's export over the limit: her delegate (a head of the same group
     * acting for her) cannot approve it; nor can she approve what the delegate
     * requested for her */
    char *dtok = rp_suite_token_for(TA.suite, "u-deputy", "head_of_group", "b1", "/hq/sales/g1", "u-hedda", 3600);
    char *dself = rp_suite_token(TA.suite, "u-deputy", "head_of_group", "b1", "/hq/sales/g1", NULL, 3600);
    rp_client_t *deputy = rp_suite_client(TA.suite, "accounts", dtok);
    rp_client_t *deputy_self = rp_suite_client(TA.suite, "accounts", dself);
    e = s_export(TA.c[P_HEDDA], "quarterly review", EXF(CSV), RP_OK);
    assert_int_equal(e->status, EXS(PENDING));
    Rapport__Accounts__V1__DecideExportRequest dq = RAPPORT__ACCOUNTS__V1__DECIDE_EXPORT_REQUEST__INIT;
    dq.id = e->id;
    ta_expect(ta_call_on(deputy, NULL, AM("ApproveExport"), &dq, &rapport__accounts__v1__export__descriptor, NULL),
              RP_PERMISSION_DENIED);
    ta_free(e);
    e = s_export(deputy, "for hedda", EXF(CSV), RP_OK);
    assert_int_equal(e->status, EXS(PENDING));
    assert_string_equal(e->requested_by, "u-deputy");
    assert_string_equal(e->requested_for, "u-hedda");
    dq.id = e->id;
    ta_expect(ta_call(P_HEDDA, AM("ApproveExport"), &dq, &rapport__accounts__v1__export__descriptor, NULL),
              RP_PERMISSION_DENIED);
    ta_expect(ta_call_on(deputy_self, NULL, AM("ApproveExport"), &dq, &rapport__accounts__v1__export__descriptor, NULL),
              RP_PERMISSION_DENIED);
    ta_expect(ta_call(P_DORA, AM("ApproveExport"), &dq, &rapport__accounts__v1__export__descriptor, NULL), RP_OK);
    ta_free(e);
    rp_client_destroy(&deputy);
    rp_client_destroy(&deputy_self);
    rp_client_destroy(&me);
    rp_client_destroy(&me_wide);
    free(dtok);
    free(dself);
    free(tok);
    free(wide);
}

/* ---- idempotency ---- */

static void test_idempotent_create(void **state)
{
    (void)state;
    char id[RP_ULID_STRLEN + 1];
    rp_ulid_new_str((int64_t)time(NULL) * 1000, id);
    Rapport__Accounts__V1__CreateClientRequest rq = RAPPORT__ACCOUNTS__V1__CREATE_CLIENT_REQUEST__INIT;
    rq.kind = KIND(SOLE_PROPRIETOR);
    rq.legal_name = "Retry Sole Trader";
    uint64_t seq0 = ta_seq();
    TClient *a = NULL, *b = NULL;
    ta_expect(ta_call_on(TA.c[P_ANNA], id, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, &a), RP_OK);
    ta_expect(ta_call_on(TA.c[P_ANNA], id, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, &b), RP_OK);
    assert_string_equal(a->id, b->id);
    assert_int_equal(ta_events(seq0, AEV("client.created"), NULL), 1);
    rq.legal_name = "Another Body";
    ta_expect(ta_call_on(TA.c[P_ANNA], id, AM("CreateClient"), &rq, &rapport__accounts__v1__client__descriptor, NULL),
              RP_FAILED_PRECONDITION);
    ta_free(a);
    ta_free(b);
}

static void test_contact_policy_read(void **state)
{
    (void)state;
    Rapport__Accounts__V1__GetContactPolicyRequest rq = RAPPORT__ACCOUNTS__V1__GET_CONTACT_POLICY_REQUEST__INIT;
    Rapport__Accounts__V1__ContactPolicy *p = NULL;
    ta_expect(ta_call(P_ANNA, AM("GetContactPolicy"), &rq, &rapport__accounts__v1__contact_policy__descriptor, &p), RP_OK);
    assert_int_equal(p->n_tiers, 4);
    assert_int_equal(p->tiers[0]->tier, TIER(KEY));
    assert_int_equal(p->tiers[0]->max_silence_days, 14);
    assert_int_equal(p->tiers[1]->max_silence_days, 30);
    assert_int_equal(p->tiers[2]->max_silence_days, 90);
    assert_int_equal(p->tiers[3]->max_silence_days, 0);
    ta_free(p);
}

/* ---- list pages (every list method shares acc_list_page) ---- */

/* s_set_field - set a scalar field of m by name (page_size: uint32, page_token: string). */
static void s_set_field(ProtobufCMessage *m, const char *name, const void *value)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    assert_non_null(f);
    if (f->type == PROTOBUF_C_TYPE_UINT32)
        *(uint32_t *)((char *)m + f->offset) = *(const uint32_t *)value;
    else
        *(const char **)((char *)m + f->offset) = value;
}

/* s_list_rows - the ids (or client ids, for portfolio rows) of one reply's rows
 * appended to ids; the next page token (malloc'd, NULL at the end). */
static char *s_list_rows(const ProtobufCMessage *r, const char *field, char ids[][RP_ULID_STRLEN + 1], size_t *n,
                         size_t cap)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(r->descriptor, field);
    const ProtobufCFieldDescriptor *t = protobuf_c_message_descriptor_get_field_by_name(r->descriptor,
                                                                                         "next_page_token");
    assert_non_null(f);
    assert_non_null(t);
    size_t k = *(const size_t *)((const char *)r + f->quantifier_offset);
    ProtobufCMessage *const *rows = *(ProtobufCMessage *const *const *)((const char *)r + f->offset);
    for (size_t i = 0; i < k; i++) {
        const ProtobufCFieldDescriptor *idf = protobuf_c_message_descriptor_get_field_by_name(rows[i]->descriptor, "id");
        if (!idf)
            idf = protobuf_c_message_descriptor_get_field_by_name(rows[i]->descriptor, "client_id");
        assert_non_null(idf);
        assert_true(*n < cap);
        rp_strlcpy(ids[(*n)++], *(const char *const *)((const char *)rows[i] + idf->offset), RP_ULID_STRLEN + 1);
    }
    const char *next = *(const char *const *)((const char *)r + t->offset);
    return rp_str_empty(next) ? NULL : rp_strdup(next);
}

static void test_list_pages(void **state)
{
    (void)state;
    enum { CAP = 512 };
    TClient *c = ta_new_client(P_ANNA, TIER(REGULAR), NULL);
    for (int i = 0; i < 3; i++) {
        char email[64];
        snprintf(email, sizeof email, "pager%d@pages.example", i);
        ta_free(ta_new_contact(P_ANNA, c->id, email));
        TInteraction *it = NULL;
        ta_expect(ta_interaction(P_ANNA, c->id, NULL, DIR(OUTBOUND), OUT(POSITIVE), 0, &it), RP_OK);
        ta_free(it);
        Rapport__V1__Date due = ta_date(ta_now(), i);
        Rapport__Accounts__V1__CreateTaskRequest tq = RAPPORT__ACCOUNTS__V1__CREATE_TASK_REQUEST__INIT;
        tq.client_id = c->id;
        tq.kind = TKIND(CALL);
        tq.title = "Call about the pages";
        tq.due = &due;
        ta_expect(ta_call(P_ANNA, AM("CreateTask"), &tq, &rapport__accounts__v1__task__descriptor, NULL), RP_OK);
        Rapport__Accounts__V1__RequestExportRequest eq = RAPPORT__ACCOUNTS__V1__REQUEST_EXPORT_REQUEST__INIT;
        eq.format = EXF(CSV);
        eq.reason = "for the paging test";     /* over the suite's limit of 5: pending */
        ta_expect(ta_call(P_ANNA, AM("RequestExport"), &eq, &rapport__accounts__v1__export__descriptor, NULL), RP_OK);
    }
    ta_free(ta_new_client(P_ANNA, TIER(REGULAR), NULL));
    ta_free(ta_new_client(P_ANNA, TIER(REGULAR), NULL));

    Rapport__Accounts__V1__ListClientsRequest cl = RAPPORT__ACCOUNTS__V1__LIST_CLIENTS_REQUEST__INIT;
    Rapport__Accounts__V1__ListContactsRequest ct = RAPPORT__ACCOUNTS__V1__LIST_CONTACTS_REQUEST__INIT;
    Rapport__Accounts__V1__ListInteractionsRequest in = RAPPORT__ACCOUNTS__V1__LIST_INTERACTIONS_REQUEST__INIT;
    Rapport__Accounts__V1__ListTasksRequest tk = RAPPORT__ACCOUNTS__V1__LIST_TASKS_REQUEST__INIT;
    Rapport__Accounts__V1__PortfolioRequest pf = RAPPORT__ACCOUNTS__V1__PORTFOLIO_REQUEST__INIT;
    Rapport__Accounts__V1__ListExportsRequest ex = RAPPORT__ACCOUNTS__V1__LIST_EXPORTS_REQUEST__INIT;
    ct.client_id = in.client_id = tk.client_id = c->id;
    static const struct {
        const char *method, *field;
        const ProtobufCMessageDescriptor *reply;
        size_t want_min;
    } rows[] = {
        { AM("ListClients"),      "clients",      &rapport__accounts__v1__list_clients_reply__descriptor,      3 },
        { AM("ListContacts"),     "contacts",     &rapport__accounts__v1__list_contacts_reply__descriptor,     3 },
        { AM("ListInteractions"), "interactions", &rapport__accounts__v1__list_interactions_reply__descriptor, 3 },
        { AM("ListTasks"),        "tasks",        &rapport__accounts__v1__list_tasks_reply__descriptor,        3 },
        { AM("Portfolio"),        "rows",         &rapport__accounts__v1__portfolio_reply__descriptor,         3 },
        { AM("ListExports"),      "exports",      &rapport__accounts__v1__list_exports_reply__descriptor,      3 },
    };
    ProtobufCMessage *reqs[] = { &cl.base, &ct.base, &in.base, &tk.base, &pf.base, &ex.base };
    static char all[CAP][RP_ULID_STRLEN + 1], paged[CAP][RP_ULID_STRLEN + 1];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        /* everything in one page */
        size_t n_all = 0, n_paged = 0;
        uint32_t size = 500;
        s_set_field(reqs[i], "page_size", &size);
        s_set_field(reqs[i], "page_token", "");
        ProtobufCMessage *r = NULL;
        ta_expect(ta_call(P_ANNA, rows[i].method, reqs[i], rows[i].reply, &r), RP_OK);
        char *next = s_list_rows(r, rows[i].field, all, &n_all, CAP);
        ta_free(r);
        assert_null(next);
        if (n_all < rows[i].want_min)
            fail_msg("%s: want at least %zu rows, got %zu", rows[i].method, rows[i].want_min, n_all);
        /* one row a page: the same rows in the same order, each once */
        size = 1;
        s_set_field(reqs[i], "page_size", &size);
        char *token = NULL;
        for (size_t pages = 0; pages <= n_all + 1; pages++) {
            s_set_field(reqs[i], "page_token", token ? token : "");
            ta_expect(ta_call(P_ANNA, rows[i].method, reqs[i], rows[i].reply, &r), RP_OK);
            free(token);
            token = s_list_rows(r, rows[i].field, paged, &n_paged, CAP);
            ta_free(r);
            if (!token)
                break;
        }
        assert_null(token);
        assert_int_equal(n_paged, n_all);
        for (size_t k = 0; k < n_all; k++)
            assert_string_equal(paged[k], all[k]);
        /* a page token that is not one: INVALID_ARGUMENT */
        s_set_field(reqs[i], "page_token", "not-a-page-token");
        ta_expect(ta_call(P_ANNA, rows[i].method, reqs[i], rows[i].reply, NULL), RP_INVALID_ARGUMENT);
    }
    ta_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_create_get),
        cmocka_unit_test(test_client_bad_input),
        cmocka_unit_test(test_taxid_and_import_key),
        cmocka_unit_test(test_update_tier_lifecycle),
        cmocka_unit_test(test_transfer),
        cmocka_unit_test(test_tree_rollup),
        cmocka_unit_test(test_scope_and_masking),
        cmocka_unit_test(test_contacts_consent_erasure),
        cmocka_unit_test(test_events_mask_contacts),
        cmocka_unit_test(test_erasure_retries_and_reimport),
        cmocka_unit_test(test_interactions_timeline),
        cmocka_unit_test(test_tasks),
        cmocka_unit_test(test_portfolio),
        cmocka_unit_test(test_exports),
        cmocka_unit_test(test_export_bypasses),
        cmocka_unit_test(test_idempotent_create),
        cmocka_unit_test(test_contact_policy_read),
        cmocka_unit_test(test_list_pages),
    };
    return cmocka_run_group_tests(tests, ta_setup, ta_teardown);
}
