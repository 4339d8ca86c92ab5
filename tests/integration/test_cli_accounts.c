/* test_cli_accounts.c - the accounts commands of the `rapport` command line, run as
 * the real binary against a real rapport-accounts following rapport-leads (harness.h): clients (create,
 * get, update, a duplicate tax id, an error naming the field, list by filters, the
 * tree and its roll-up, a transfer refused to a manager and done by a head),
 * contacts (add, consent, do-not-contact respected by interactions and tasks,
 * masking for a role without the personal-data right, erasure), interactions, tasks
 * (today, overdue, the day plan, complete), the timeline and the portfolio, `import
 * clients` run twice (nothing created twice, a per-row report) and `export clients`
 * (the file, its audit event with the row count, and the size limit that needs a
 * head's approval).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "harness.h"
#include "harness_leads.h"
#include "rapport/clock.h"
#include "rapport/util.h"
#include "rapport/accounts/v1/accounts.pb-c.h"

/* RUN - `rapport ...` with the suite's environment; stdout, stderr and the status. */
#define RUN(token, ...) rp_suite_cli(s_suite, (token), NULL, (const char *const[]) { __VA_ARGS__, NULL })

/* The service allows exports of up to EXPORT_LIMIT rows without approval. */
#define EXPORT_LIMIT "4"

static rp_suite_t *s_suite;
static char *s_alice;       /* manager in /b1/sales/g1 */
static char *s_bob;         /* manager in /b1/sales/g2 */
static char *s_head;        /* head_of_group of /b1/sales: alice's and bob's head */
static char *s_analyst;     /* analyst: reads the company, contact details masked */

/* ---- helpers ---- */

#define OK_JSON(token, ...) rp_suite_cli_json(s_suite, (token), (const char *const[]) { __VA_ARGS__, NULL })

static const char *s_str(json_t *j, const char *key)
{
    const char *v = json_string_value(json_object_get(j, key));
    return v ? v : "";
}

/* s_client - create a client as token; its id (malloc'd). */
static char *s_client(const char *token, const char *name, const char *tax_id, const char *tier)
{
    json_t *j = OK_JSON(token, "clients", "create", "--kind", "legal_entity", "--legal-name", name,
                        "--tax-id", tax_id, "--tier", tier, "--country", "de", "--segment", "retail");
    char *id = rp_strdup(s_str(j, "id"));
    assert_int_equal(strlen(id), 26);
    assert_string_equal(s_str(j, "legal_name"), name);
    assert_string_equal(s_str(j, "country"), "DE");
    json_decref(j);
    return id;
}

/* s_today - today's date (UTC) plus days, as YYYY-MM-DD. */
static void s_today(int days, char out[11])
{
    int y, m, d;
    rp_days_to_date((int32_t) (rp_clock_now_ms() / 86400000) + days, &y, &m, &d);
    snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
}

/* s_field_is - whether the key: value record out has the line "key: value" (the
 * value after the aligning spaces). */
static bool s_field_is(const char *out, const char *key, const char *value)
{
    size_t kl = strlen(key), vl = strlen(value);
    for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) != 0 || p[kl] != ':')
            continue;
        const char *v = p + kl + 1;
        while (*v == ' ')
            v++;
        if (strncmp(v, value, vl) == 0 && (v[vl] == '\n' || v[vl] == 0))
            return true;
    }
    return false;
}

static size_t s_lines(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- setup ---- */

static int s_setup(void **state)
{
    (void) state;
    s_suite = rp_suite_new();
    const char *env[] = { "RAPPORT_ACCOUNTS_EXPORT_LIMIT=" EXPORT_LIMIT, NULL };
    rp_suite_start(s_suite, "leads", NULL);      /* accounts follows its lead.won events */
    rp_suite_start_following(s_suite, "accounts", "leads", env);
    s_alice = rp_suite_token(s_suite, "alice", "manager", "b1", "/b1/sales/g1", NULL, 3600);
    s_bob = rp_suite_token(s_suite, "bob", "manager", "b1", "/b1/sales/g2", NULL, 3600);
    s_head = rp_suite_token(s_suite, "hana", "head_of_group", "b1", "/b1/sales", NULL, 3600);
    s_analyst = rp_suite_token(s_suite, "ivan", "analyst", "b1", "/b1", NULL, 3600);
    return 0;
}

static int s_teardown(void **state)
{
    (void) state;
    free(s_alice);
    free(s_bob);
    free(s_head);
    free(s_analyst);
    rp_suite_destroy(&s_suite);
    return 0;
}

/* ---- tests ---- */

static void test_help(void **state)
{
    (void) state;
    rp_cli_run_t r = RUN(NULL, "clients", "--help");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "rapport clients create"));
    assert_non_null(strstr(r.out, "rapport clients tree ID"));
    rp_cli_run_free(&r);
    r = RUN(NULL, "--help");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "timeline CLIENT"));
    assert_non_null(strstr(r.out, "portfolio [USER]"));
    assert_non_null(strstr(r.out, "import clients FILE.csv"));
    assert_non_null(strstr(r.out, "export clients"));
    rp_cli_run_free(&r);
    /* Usage errors name the flag and the rule, and send nothing (exit 2). */
    r = RUN(s_alice, "clients", "create", "--kind", "plc", "--legal-name", "X");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--kind: unknown value 'plc'; one of: legal_entity, sole_proprietor, individual"));
    rp_cli_run_free(&r);
    r = RUN(s_alice, "interactions", "log", "C", "--channel", "phone", "--direction", "outbound",
            "--summary", "x", "--outcome", "positive", "--link-kind", "lead");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--link-kind and --link-id go together"));
    rp_cli_run_free(&r);
}

static void test_clients(void **state)
{
    (void) state;
    char *acme = s_client(s_alice, "Acme Holding GmbH", "DE 100-200", "corporate");

    /* get, human form */
    rp_cli_run_t r = RUN(s_alice, "clients", "get", acme);
    assert_int_equal(r.status, 0);
    assert_true(s_field_is(r.out, "legal_name", "Acme Holding GmbH"));
    assert_true(s_field_is(r.out, "tier", "corporate"));
    rp_cli_run_free(&r);

    /* The same tax id, written otherwise: ALREADY_EXISTS naming the existing client. */
    r = RUN(s_alice, "clients", "create", "--kind", "legal_entity", "--legal-name", "Acme again",
            "--tax-id", "de100200");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "ALREADY_EXISTS"));
    assert_non_null(strstr(r.err, acme));
    rp_cli_run_free(&r);

    /* A bad value: the error names the field and the rule; nothing changes. */
    r = RUN(s_alice, "clients", "update", acme, "--country", "Germany");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "INVALID_ARGUMENT"));
    assert_non_null(strstr(r.err, "country"));
    rp_cli_run_free(&r);

    /* update: only the fields given; the address whole. */
    json_t *j = OK_JSON(s_alice, "clients", "update", acme, "--tier", "key", "--city", "Berlin",
                        "--postal-code", "10115", "--segment", "wholesale", "--segment", "north");
    assert_string_equal(s_str(j, "tier"), "TIER_KEY");
    assert_string_equal(s_str(json_object_get(j, "address"), "city"), "Berlin");
    assert_string_equal(s_str(j, "country"), "DE");
    assert_int_equal(json_array_size(json_object_get(j, "segments")), 2);
    json_decref(j);

    /* A child and the tree with its roll-up. */
    j = OK_JSON(s_alice, "clients", "create", "--kind", "legal_entity", "--legal-name", "Acme Retail Ltd",
                "--parent", acme, "--tier", "regular");
    char *child = rp_strdup(s_str(j, "id"));
    json_decref(j);
    r = RUN(s_alice, "clients", "tree", acme);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Acme Holding GmbH"));
    assert_non_null(strstr(r.out, "  Acme Retail Ltd"));
    assert_non_null(strstr(r.out, "roll-up: 2 clients"));
    rp_cli_run_free(&r);

    /* list by tier, by name prefix, by parent; with --json every row */
    r = RUN(s_alice, "clients", "list", "--tier", "key");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Acme Holding GmbH"));
    assert_null(strstr(r.out, "Acme Retail Ltd"));
    rp_cli_run_free(&r);
    j = OK_JSON(s_alice, "clients", "list", "--name-prefix", "acme r", "--all");
    assert_int_equal(json_array_size(json_object_get(j, "clients")), 1);
    assert_string_equal(s_str(json_array_get(json_object_get(j, "clients"), 0), "id"), child);
    json_decref(j);
    r = RUN(s_alice, "clients", "list", "--parent", acme);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, child));
    rp_cli_run_free(&r);

    /* Another manager does not see it: NOT_FOUND (exit 1). */
    r = RUN(s_bob, "clients", "get", acme);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "NOT_FOUND"));
    rp_cli_run_free(&r);

    /* Transfer: a manager may not; the head may, and the history keeps it. */
    r = RUN(s_alice, "clients", "transfer", child, "--owner", "bob", "--unit", "/b1/sales/g2");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "PERMISSION_DENIED"));
    rp_cli_run_free(&r);
    j = OK_JSON(s_head, "clients", "transfer", child, "--owner", "bob", "--unit", "/b1/sales/g2",
                "--reason", "alice moves to key accounts");
    assert_string_equal(s_str(j, "owner"), "bob");
    json_t *h = json_array_get(json_object_get(j, "owner_history"), 0);
    assert_string_equal(s_str(h, "from_owner"), "alice");
    assert_string_equal(s_str(h, "by"), "hana");
    json_decref(j);
    r = RUN(s_bob, "clients", "get", child);
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);

    /* The contact policy */
    r = RUN(s_alice, "clients", "policy");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "14 days"));
    rp_cli_run_free(&r);
    free(acme);
    free(child);
}

static void test_contacts_interactions_tasks(void **state)
{
    (void) state;
    char *c = s_client(s_alice, "Borealis AG", "CH-555", "key");
    json_t *j = OK_JSON(s_alice, "contacts", "add", c, "--name", "Ann Lee", "--role", "decision_maker",
                        "--email", "ann.lee@borealis.example", "--phone", "+41 44 123 45 67",
                        "--position", "CFO", "--consent", "given", "--consent-source", "written");
    char *ann = rp_strdup(s_str(j, "id"));
    assert_string_equal(s_str(json_object_get(j, "consent"), "state"), "CONSENT_STATE_GIVEN");
    json_decref(j);
    j = OK_JSON(s_alice, "contacts", "add", c, "--name", "Bo Berg", "--role", "user");
    char *bo = rp_strdup(s_str(j, "id"));
    json_decref(j);

    rp_cli_run_t r = RUN(s_alice, "contacts", "list", c);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "ann.lee@borealis.example"));
    assert_non_null(strstr(r.out, "Bo Berg"));
    rp_cli_run_free(&r);

    /* Personal data: the analyst sees the contact, its details masked. */
    r = RUN(s_analyst, "contacts", "get", ann);
    assert_int_equal(r.status, 0);
    assert_true(s_field_is(r.out, "name", "Ann Lee"));
    assert_null(strstr(r.out, "ann.lee@borealis.example"));
    assert_null(strstr(r.out, "123 45 67"));
    assert_true(s_field_is(r.out, "masked", "true"));
    rp_cli_run_free(&r);
    r = RUN(s_analyst, "contacts", "list", c);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Ann Lee"));
    assert_null(strstr(r.out, "ann.lee@borealis.example"));
    rp_cli_run_free(&r);

    /* Interactions: log one, list it; it is the client's last contact and in the timeline. */
    j = OK_JSON(s_alice, "interactions", "log", c, "--channel", "phone", "--direction", "outbound",
                "--summary", "renewal call: wants a volume discount", "--outcome", "positive",
                "--contact", ann, "--link-kind", "lead", "--link-id", "L-42");
    assert_string_equal(s_str(json_object_get(j, "link"), "id"), "L-42");
    json_decref(j);
    r = RUN(s_alice, "interactions", "list", c);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "renewal call"));
    rp_cli_run_free(&r);
    r = RUN(s_alice, "timeline", c);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "interaction.logged"));
    assert_non_null(strstr(r.out, "Phone, outbound, positive: renewal call: wants a volume discount"));
    rp_cli_run_free(&r);

    /* Do-not-contact: every channel respects it. */
    j = OK_JSON(s_alice, "contacts", "do-not-contact", bo);
    assert_true(json_is_true(json_object_get(j, "do_not_contact")));
    json_decref(j);
    r = RUN(s_alice, "interactions", "log", c, "--channel", "email", "--direction", "outbound",
            "--summary", "newsletter", "--outcome", "neutral", "--contact", bo);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "FAILED_PRECONDITION"));
    rp_cli_run_free(&r);
    char today[11], yesterday[11];
    s_today(0, today);
    s_today(-1, yesterday);
    r = RUN(s_alice, "tasks", "add", "--kind", "call", "--title", "call Bo", "--due", today, "--client", c,
            "--contact", bo);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "FAILED_PRECONDITION"));
    rp_cli_run_free(&r);
    /* Withdrawn consent is do-not-contact too. */
    json_decref(OK_JSON(s_alice, "contacts", "consent", ann, "withdrawn", "--source", "email"));
    r = RUN(s_alice, "tasks", "add", "--kind", "call", "--title", "call Ann", "--due", today, "--client", c,
            "--contact", ann);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "FAILED_PRECONDITION"));
    rp_cli_run_free(&r);

    /* Tasks: today, overdue, the day plan, complete. */
    j = OK_JSON(s_alice, "tasks", "add", "--kind", "meeting", "--title", "quarterly review", "--due", today,
                "--time", "09:30", "--client", c, "--priority", "high");
    char *meeting = rp_strdup(s_str(j, "id"));
    json_decref(j);
    j = OK_JSON(s_alice, "tasks", "add", "--kind", "todo", "--title", "send the price list", "--due", yesterday);
    char *late = rp_strdup(s_str(j, "id"));
    json_decref(j);
    r = RUN(s_alice, "tasks", "today");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "quarterly review"));
    assert_null(strstr(r.out, "send the price list"));
    rp_cli_run_free(&r);
    r = RUN(s_alice, "tasks", "overdue");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "send the price list"));
    assert_null(strstr(r.out, "quarterly review"));
    rp_cli_run_free(&r);
    r = RUN(s_alice, "tasks", "plan");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "09:30"));
    assert_null(strstr(r.out, "send the price list"));     /* a todo is not in the plan */
    rp_cli_run_free(&r);
    j = OK_JSON(s_alice, "tasks", "complete", late, "--result", "sent");
    assert_string_equal(s_str(j, "status"), "TASK_STATUS_DONE");
    json_decref(j);
    r = RUN(s_alice, "tasks", "overdue");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "no overdue tasks found"));
    rp_cli_run_free(&r);

    /* The portfolio: the client, its tier and its open task. */
    r = RUN(s_alice, "portfolio");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Borealis AG"));
    rp_cli_run_free(&r);
    j = OK_JSON(s_head, "portfolio", "alice", "--all");
    json_t *rows = json_object_get(j, "rows");
    bool found = false;
    for (size_t i = 0; i < json_array_size(rows); i++)
        if (strcmp(s_str(json_array_get(rows, i), "client_id"), c) == 0) {
            found = true;
            assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, i), "open_tasks")), 1);
        }
    assert_true(found);
    json_decref(j);

    /* Erasure: a manager may not; the head may; the person is gone, the records stay. */
    r = RUN(s_alice, "contacts", "erase", ann, "--reason", "GDPR request 7");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "PERMISSION_DENIED"));
    rp_cli_run_free(&r);
    r = RUN(s_head, "contacts", "erase", ann);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--reason: required"));
    rp_cli_run_free(&r);
    j = OK_JSON(s_head, "contacts", "erase", ann, "--reason", "GDPR request 7");
    assert_string_equal(s_str(j, "name"), "erased contact");
    assert_true(json_is_true(json_object_get(j, "erased")));
    json_decref(j);
    r = RUN(s_alice, "contacts", "get", ann);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, "Ann Lee"));
    assert_null(strstr(r.out, "borealis.example"));
    rp_cli_run_free(&r);
    r = RUN(s_alice, "interactions", "list", c);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "renewal call"));
    rp_cli_run_free(&r);
    free(c);
    free(ann);
    free(bo);
    free(meeting);
    free(late);
}

static void test_import(void **state)
{
    (void) state;
    char *path = rp_sprintf("%s/clients.csv", rp_suite_dir(s_suite));
    char *report = rp_sprintf("%s/report.csv", rp_suite_dir(s_suite));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("Legal Name,Tax ID,Tier,Country,Contact Name,Contact Role,Contact Email,Segments\n"
          "Imported One GmbH,DE-901,key,DE,Eva Ek,decision_maker,eva@one.example,north;retail\n"   /* 2 */
          "Imported One GmbH,de901,,,Finn Falk,user,finn@one.example,\n"                             /* 3: same client */
          "Imported Two SA,FR-902,regular,FR,,,,\n"                                                  /* 4 */
          ",XX-1,,,,,,\n"                                                                            /* 5: no name */
          "Imported Three,IT-903,platinum,IT,,,,\n"                                                  /* 6: bad tier */
          "Imported Four,ES-904,,ES,Gil,,gil@four.example,\n"                                        /* 7: no role */
          "Imported Five,PT-905,,Portugal,,,,\n"                                                     /* 8: service refuses */
          "Imported Two SA,FR-902,regular,FR,,,,\n",                                                 /* 9: the same as 4 */
          f);
    fclose(f);

    rp_cli_run_t r = RUN(s_alice, "--json", "import", "clients", path, "--report", report);
    assert_int_equal(r.status, 1);
    json_t *j = rp_test_json(r.out);
    assert_int_equal(json_integer_value(json_object_get(j, "rows")), 8);
    assert_int_equal(json_integer_value(json_object_get(j, "created")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "contacts_created")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "invalid")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "failed")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "duplicate_rows")), 1);
    bool seen[10] = { false };
    json_t *e;
    size_t i;
    json_array_foreach(json_object_get(j, "errors"), i, e) {
        int row = (int) json_integer_value(json_object_get(e, "row"));
        assert_true(row >= 2 && row <= 9);
        seen[row] = true;
        const char *field = s_str(e, "field");
        if (row == 5)
            assert_string_equal(field, "legal_name");
        if (row == 6)
            assert_string_equal(field, "tier");
        if (row == 7)
            assert_string_equal(field, "contact_role");
        if (row == 8)
            assert_non_null(strstr(field, "country"));
    }
    assert_true(seen[5] && seen[6] && seen[7] && seen[8] && seen[9]);
    assert_false(seen[2] || seen[3] || seen[4]);
    json_decref(j);
    rp_cli_run_free(&r);
    char *rep = rp_test_file(report);
    assert_non_null(rep);
    assert_true(strncmp(rep, "row,code,field,rule\n", 20) == 0);
    assert_non_null(strstr(rep, "\n6,\"INVALID_ARGUMENT\",\"tier\","));
    free(rep);

    /* Again: nothing is created twice; the same rows are reported. */
    r = RUN(s_alice, "import", "clients", path);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.out, "0 clients created, 2 already imported, 0 contacts created, 2 already imported"));
    assert_non_null(strstr(r.out, "row 5: legal_name: required"));
    rp_cli_run_free(&r);
    j = OK_JSON(s_alice, "clients", "list", "--name-prefix", "imported", "--all");
    assert_int_equal(json_array_size(json_object_get(j, "clients")), 2);
    const char *one = NULL;
    json_array_foreach(json_object_get(j, "clients"), i, e)
        if (strcmp(s_str(e, "legal_name"), "Imported One GmbH") == 0)
            one = s_str(e, "id");
    assert_non_null(one);
    json_t *contacts = OK_JSON(s_alice, "contacts", "list", one, "--all");
    assert_int_equal(json_array_size(json_object_get(contacts, "contacts")), 2);
    json_decref(contacts);
    json_decref(j);

    /* A fixed row lands on a third run; a contact for an existing client (by tax id) joins it. */
    f = fopen(path, "w");
    fputs("legal_name,tax_id,country,contact_name,contact_role\n"
          "Imported Five,PT-905,PT,,\n"
          "Imported One (renamed),DE 901,,Hugo Hall,negotiator\n", f);
    fclose(f);
    r = RUN(s_alice, "import", "clients", path);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "1 clients created, 1 already imported, 1 contacts created"));
    rp_cli_run_free(&r);
    free(path);
    free(report);
}

/* s_export_events - the export.* events of accounts with their row counts. */
static size_t s_export_events(const char *type, uint64_t *rows)
{
    size_t n = 0, found = 0;
    Rapport__V1__Event **ev = rp_suite_replay(s_suite, "accounts", 1, "rapport.accounts.v1.export.", &n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ev[i]->type, type) != 0)
            continue;
        Rapport__Accounts__V1__Export *x = rapport__accounts__v1__export__unpack(NULL, ev[i]->data.len, ev[i]->data.data);
        assert_non_null(x);
        *rows = x->row_count;
        found++;
        rapport__accounts__v1__export__free_unpacked(x, NULL);
    }
    rp_suite_events_free(&ev, n);
    return found;
}

static void test_export(void **state)
{
    (void) state;
    /* Bob's few clients: under the limit, written at once to a 0600 file. */
    char *a = s_client(s_bob, "Export Alpha", "NL-1", "key");
    char *b = s_client(s_bob, "Export Beta", "NL-2", "retail");
    char *out = rp_sprintf("%s/bob.csv", rp_suite_dir(s_suite));
    uint64_t before_rows = 0;
    size_t before = s_export_events("rapport.accounts.v1.export.requested", &before_rows);
    rp_cli_run_t r = RUN(s_bob, "export", "clients", "--out", out, "--reason", "quarterly review");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "rows written to"));
    rp_cli_run_free(&r);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *csv = rp_test_file(out);
    assert_non_null(csv);
    assert_non_null(strstr(csv, "Export Alpha"));
    assert_non_null(strstr(csv, "Export Beta"));
    size_t lines = s_lines(csv);
    free(csv);
    /* The audit: an export.requested event carrying the row count (header excluded). */
    uint64_t rows = 0;
    assert_int_equal(s_export_events("rapport.accounts.v1.export.requested", &rows), before + 1);
    assert_int_equal(rows + 1, lines);
    assert_true(s_export_events("rapport.accounts.v1.export.completed", &rows) >= 1);

    /* JSON lines on stdout, filtered by tier */
    r = RUN(s_bob, "export", "clients", "--format", "json", "--tier", "key");
    assert_int_equal(r.status, 0);
    assert_int_equal(s_lines(r.out), 1);
    json_t *j = rp_test_json(r.out);
    json_decref(j);
    assert_non_null(strstr(r.out, "Export Alpha"));
    rp_cli_run_free(&r);

    /* Over the limit: the export waits for a head's approval; nothing is written. */
    for (int i = 0; i < 4; i++) {
        char name[32], tax[32];
        snprintf(name, sizeof name, "Export Gamma %d", i);
        snprintf(tax, sizeof tax, "BE-%d", i);
        free(s_client(s_bob, name, tax, "regular"));
    }
    char *big = rp_sprintf("%s/big.csv", rp_suite_dir(s_suite));
    r = RUN(s_bob, "export", "clients", "--out", big, "--reason", "mailing");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "waits for a head's approval"));
    assert_true(stat(big, &st) != 0 || st.st_size == 0);
    rp_cli_run_free(&r);
    j = OK_JSON(s_bob, "export", "list", "--status", "pending");
    json_t *x = json_array_get(json_object_get(j, "exports"), 0);
    assert_non_null(x);
    char *id = rp_strdup(s_str(x, "id"));
    json_decref(j);
    /* Fetching it before the approval is refused; nobody approves their own. */
    r = RUN(s_bob, "export", "fetch", id, "--out", big);
    assert_int_equal(r.status, 1);
    rp_cli_run_free(&r);
    r = RUN(s_bob, "export", "approve", id);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "PERMISSION_DENIED"));
    rp_cli_run_free(&r);
    j = OK_JSON(s_head, "export", "approve", id, "--note", "ok for the mailing");
    assert_string_equal(s_str(j, "status"), "EXPORT_STATUS_READY");
    json_decref(j);
    /* The head may not fetch it; Bob may, every row once. */
    r = RUN(s_head, "export", "fetch", id);
    assert_int_equal(r.status, 1);
    rp_cli_run_free(&r);
    r = RUN(s_bob, "export", "fetch", id, "--out", big);
    assert_int_equal(r.status, 0);
    rp_cli_run_free(&r);
    r = RUN(s_bob, "export", "status", id);
    assert_int_equal(r.status, 0);
    assert_true(s_field_is(r.out, "status", "done"));
    rp_cli_run_free(&r);
    j = OK_JSON(s_bob, "export", "status", id);
    size_t counted = (size_t) json_integer_value(json_object_get(j, "row_count"));
    assert_true(counted > (size_t) atoi(EXPORT_LIMIT));
    assert_int_equal(json_integer_value(json_object_get(j, "rows_served")), counted);
    json_decref(j);
    csv = rp_test_file(big);
    assert_non_null(csv);
    assert_int_equal(s_lines(csv), 1 + counted);
    assert_non_null(strstr(csv, "Export Gamma 3"));
    free(csv);
    /* It is done: fetching it again is refused, and nothing is written. */
    r = RUN(s_bob, "export", "fetch", id);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "");
    rp_cli_run_free(&r);
    free(a);
    free(b);
    free(out);
    free(big);
    free(id);
}

/* s_client_named - the id (malloc'd) of alice's client with this name, or NULL. */
static char *s_client_named(const char *name)
{
    json_t *j = OK_JSON(s_alice, "clients", "list", "--name-prefix", name);
    json_t *rows = json_object_get(j, "clients");
    char *id = json_array_size(rows) == 1 ? rp_strdup(s_str(json_array_get(rows, 0), "id")) : NULL;
    json_decref(j);
    return id;
}

/* The timeline of a client made from a won lead: what the lead went through, as an
 * account manager reads it (money in EUR, stages by name), one row each. */
static void test_timeline_from_lead(void **state)
{
    (void) state;
    char name[64];
    snprintf(name, sizeof name, "Timeline Co %d", (int) getpid());
    rp_client_t *leads = rp_suite_client(s_suite, "leads", s_alice);
    free(rp_it_win_lead(s_suite, leads, name, 1200000, false));
    rp_client_destroy(&leads);

    char *c = NULL;
    for (int i = 0; i < 400 && !(c = s_client_named(name)); i++)
        usleep(50 * 1000);
    assert_non_null(c);
    char want[128];
    rp_cli_run_t r = RUN(s_alice, "timeline", c);
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want, "Lead won: %s, 12,000.00 EUR", name);
    assert_non_null(strstr(r.out, want));
    snprintf(want, sizeof want, "Lead created: %s, 12,000.00 EUR", name);
    assert_non_null(strstr(r.out, want));
    assert_non_null(strstr(r.out, "Stage: new → won"));
    /* WHAT without the service's prefix (SOURCE names it); no raw enum or minor units */
    assert_non_null(strstr(r.out, " lead.won "));
    assert_null(strstr(r.out, "rapport.leads.v1."));
    assert_null(strstr(r.out, "LEAD_STAGE_"));
    assert_null(strstr(r.out, "1200000"));
    rp_cli_run_free(&r);
    /* pages: one row and the way on; --all follows them; a bad size is a usage error */
    r = RUN(s_alice, "timeline", c, "--page-size", "1");
    assert_int_equal(r.status, 0);
    assert_int_equal(s_lines(r.out), 2);
    assert_non_null(strstr(r.err, "more: --page-token "));
    rp_cli_run_free(&r);
    r = RUN(s_alice, "timeline", c, "--page-size", "1", "--all");
    assert_int_equal(r.status, 0);
    assert_int_equal(s_lines(r.out), 4);
    assert_null(strstr(r.err, "more:"));
    rp_cli_run_free(&r);
    r = RUN(s_alice, "timeline", c, "--page-size", "0");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--page-size: must be from 1 to 500"));
    rp_cli_run_free(&r);
    /* --json keeps the full type */
    json_t *j = OK_JSON(s_alice, "timeline", c);
    json_t *e = json_array_get(json_object_get(j, "entries"), 0);
    assert_true(rp_str_has_prefix(s_str(e, "type"), "rapport.leads.v1."));
    json_decref(j);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_clients),
        cmocka_unit_test(test_contacts_interactions_tasks),
        cmocka_unit_test(test_import),
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_timeline_from_lead),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
