/* test_cli_contracts.c - `rapport quotes`, `rapport contracts` and `rapport orders`,
 * the real binary against a real rapport-contracts (following rapport-leads), with
 * the people of test_contracts.h and their authority limits in their tokens:
 *   help_and_usage     --help lists every command; usage errors name the flag and
 *                      the rule and exit 2 without a call; the service's errors name
 *                      the field (exit 1): the instalment-sum rule, an unknown number.
 *   quote_to_contract  create (totals in minor units), revise over the current terms
 *                      (version 2), a discount above anna's limit: send refused,
 *                      approve refused to her, done by hanna; send, accept,
 *                      to-contract: a draft with the next number.
 *   approval_chain     a draft above anna's limit, addressed by its number: submit
 *                      (pending), boris may not approve, reject needs a comment and
 *                      sends it back to draft, update-draft keeps what is not given,
 *                      hanna approves with a comment; sign refused until the
 *                      documents are verified; sign; verify exits 0; show --format
 *                      text has the parts of a printed contract and the fingerprint;
 *                      one byte of the stored contract changed: verify exits 1 and
 *                      says why; amend makes a draft amendment of it.
 *   orders             place under the active contract (by number), list, hand-off,
 *                      ship, deliver, close; bad statuses and missing reasons.
 */
#define _GNU_SOURCE
#include "test_contracts.h"

#define RUN(p, ...) rp_suite_cli(TC.suite, TC.tok[p], NULL, (const char *const[]) { __VA_ARGS__, NULL })

/* ---- helpers ---- */

#define OK_JSON(p, ...) rp_suite_cli_json(TC.suite, TC.tok[p], (const char *const[]) { __VA_ARGS__, NULL })

static const char *s_str(json_t *j, const char *path)
{
    char key[64];
    const char *dot;
    while ((dot = strchr(path, '.'))) {
        snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
        j = json_object_get(j, key);
        path = dot + 1;
    }
    const char *v = json_string_value(json_object_get(j, path));
    return v ? v : "";
}

static json_int_t s_int(json_t *j, const char *a, const char *b)
{
    json_t *v = json_object_get(j, a);
    return json_integer_value(b ? json_object_get(v, b) : v);
}

/* s_day - the service's today plus days as YYYY-MM-DD into out. */
static const char *s_day(int days, char out[11])
{
    int y, m, d;
    rp_days_to_date(tc_today() + days, &y, &m, &d);
    snprintf(out, 11, "%04d-%02d-%02d", y, m, d);
    return out;
}

/* s_expect - a run's exit status and, when want_err is not NULL, that stderr says it. */
#define s_expect(r, status, want_err) s_expect_at((r), (status), (want_err), __LINE__)
static void s_expect_at(rp_cli_run_t r, int status, const char *want_err, int line)
{
    if (r.status != status || (want_err && !strstr(r.err ? r.err : "", want_err)))
        fail_msg("line %d: want exit %d and '%s', got exit %d: %s%s", line, status, want_err ? want_err : "",
                 r.status, r.err ? r.err : "", r.out ? r.out : "");
    rp_cli_run_free(&r);
}

/* s_has - out contains want (and says what it was when not). */
#define s_has(out, want) do { \
        if (!strstr((out) ? (out) : "", (want))) \
            fail_msg("line %d: no '%s' in:\n%s", __LINE__, (want), (out) ? (out) : ""); \
    } while (0)

/* s_draft - a SUPPLY draft of anna's worth 30,000.00 EUR (above her 10,000.00) in two
 * instalments; its JSON. */
static json_t *s_draft(void)
{
    char start[11], end[11], due1[11], due2[11], i1[64], i2[64];
    s_day(0, start);
    s_day(364, end);
    snprintf(i1, sizeof i1, "%s,12000.00,prepayment", s_day(0, due1));
    snprintf(i2, sizeof i2, "%s,18000.00,balance, on delivery", s_day(90, due2));
    return OK_JSON(P_ANNA, "contracts", "draft", "--type", "supply", "--client-name", "Acme Pumps AG",
                   "--party", "seller,Rapport GmbH,DE111,Anna Manager",
                   "--party", "buyer,Acme Pumps AG,DE222,Ann Buyer",
                   "--value", "30000.00", "--currency", "EUR", "--instalment", i1, "--instalment", i2,
                   "--special-terms", "Volume bonus of 2 % above 1000 units.", "--start", start, "--end", end,
                   "--payment-days", "30", "--prepayment", "40", "--delivery", "DAP Berlin");
}

/* ---- tests ---- */

static void test_help_and_usage(void **state)
{
    (void)state;
    rp_cli_run_t r = RUN(P_ANNA, "contracts", "--help");
    assert_int_equal(r.status, 0);
    static const char *const cmds[] = {
        "rapport contracts draft", "rapport contracts show N", "rapport contracts verify N",
        "rapport contracts submit N", "rapport contracts approve N", "rapport contracts reject N",
        "rapport contracts sign N", "rapport contracts terminate N", "rapport contracts renew N",
        "rapport contracts amend N", "rapport contracts docs receive N KIND", "rapport contracts docs verify N KIND",
        "rapport contracts milestones add N", "rapport contracts signing-key",
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        s_has(r.out, cmds[i]);
    rp_cli_run_free(&r);
    r = RUN(P_ANNA, "--help");
    s_has(r.out, "quotes to-contract ID");
    s_has(r.out, "orders handoff ID");
    rp_cli_run_free(&r);

    /* usage errors: the flag and the rule, exit 2, nothing sent */
    uint64_t seq0 = tc_last_seq();
    static const struct {
        const char *args[16];
        const char *want;
    } bad[] = {
        { { "quotes", "create", "--client", "C", "--client-name", "X", "--line", "gadget,Thing,1,pcs,1.00",
            "--valid-until", "2030-01-01" }, "--line: unknown value 'gadget'; one of: product, service" },
        { { "quotes", "create", "--client", "C", "--client-name", "X", "--line", "product,Thing,1,pcs",
            "--valid-until", "2030-01-01" }, "--line: must be KIND,DESCRIPTION,QUANTITY,UNIT,UNIT_PRICE[,DISCOUNT%]" },
        { { "quotes", "create", "--client", "C", "--client-name", "X", "--line", "product,Thing,1,pcs,1.00,101%",
            "--valid-until", "2030-01-01" }, "--line: must be a percentage from 0 to 100" },
        { { "quotes", "create", "--client-name", "X", "--line", "product,Thing,1,pcs,1.00",
            "--valid-until", "2030-01-01" }, "--client or --lead: required" },
        { { "contracts", "draft", "--type", "supply", "--client-name", "X", "--value", "1,000.00" }, "--value:" },
        { { "contracts", "draft", "--type", "rental", "--client-name", "X", "--value", "10" },
          "--type: unknown value 'rental'; one of: supply, services, license, framework" },
        { { "contracts", "draft", "--type", "supply", "--client-name", "X", "--value", "10",
            "--instalment", "2026-02-30,10" }, "--instalment: must be a calendar date YYYY-MM-DD, got '2026-02-30'" },
        { { "contracts", "draft", "--type", "supply", "--client-name", "X", "--value", "10",
            "--party", "landlord,Y" }, "--party: unknown value 'landlord'; one of: seller, buyer, third_party" },
        { { "contracts", "reject", "HQ-2026-000001" }, "--comment: required" },
        { { "contracts", "terminate", "HQ-2026-000001", "--reason", "" }, "--reason: empty" },
        { { "contracts", "update-draft", "HQ-2026-000001" }, "nothing to change" },
        { { "contracts", "show", "HQ-2026-000001", "--format", "pdf" }, "--format: text or json, got 'pdf'" },
        { { "contracts", "docs", "receive", "HQ-2026-000001", "fax" }, "KIND: unknown kind 'fax'" },
        { { "orders", "place", "C", "--item", "Widgets,twelve,pcs", "--due", "2030-01-01" },
          "--item: QUANTITY must be a whole number, got 'twelve'" },
        { { "orders", "status", "O", "lost" }, "STATUS: unknown status 'lost'" },
        { { "orders", "cancel", "O" }, "--reason: required" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp_cli_run_t b = rp_suite_cli(TC.suite, TC.tok[P_ANNA], NULL, bad[i].args);
        if (b.status != 2 || !strstr(b.err, bad[i].want))
            fail_msg("row %zu (%s %s): want exit 2 and '%s', got %d: %s", i, bad[i].args[0], bad[i].args[1],
                     bad[i].want, b.status, b.err);
        rp_cli_run_free(&b);
    }
    assert_int_equal(tc_last_seq(), seq0);

    /* the service's rules name the field (exit 1) */
    char day[11], in[64];
    snprintf(in, sizeof in, "%s,99.99", s_day(0, day));
    r = RUN(P_ANNA, "contracts", "draft", "--type", "supply", "--client-name", "X", "--value", "100.00",
            "--instalment", in);
    s_has(r.err, "INVALID_ARGUMENT");
    s_has(r.err, "terms.schedule");
    s_expect(r, 1, NULL);
    s_expect(RUN(P_ANNA, "contracts", "get", "HQ-1999-999999"), 1, "NOT_FOUND");
    s_expect(RUN(P_FIN, "contracts", "draft", "--type", "supply", "--client-name", "X", "--value", "10"), 1,
             "PERMISSION_DENIED");
    assert_int_equal(tc_last_seq(), seq0);
}

static void test_quote_to_contract(void **state)
{
    (void)state;
    char until[11], until2[11], start[11], end[11];
    s_day(30, until);
    s_day(45, until2);
    /* 10 x 1000.00 less 15 % = 8500.00; 8 h x 90.00 = 720.00; total 9220.00 */
    json_t *q = OK_JSON(P_ANNA, "quotes", "create", "--client", "01JCLIENT0000000000000000A", "--client-name",
                        "Acme Pumps AG", "--line", "product,Pump, large,10,pcs,1000.00,15%",
                        "--line", "service,Installation,8,h,90.00", "--payment-days", "14", "--prepayment", "20",
                        "--delivery", "DAP Berlin, 4 weeks", "--valid-until", until);
    const char *qid = s_str(q, "id");
    assert_int_equal(strlen(qid), 26);
    assert_string_equal(s_str(q, "terms.currency"), "EUR");
    json_t *t = json_object_get(q, "terms");
    json_t *line0 = json_array_get(json_object_get(t, "lines"), 0);
    assert_string_equal(s_str(line0, "description"), "Pump, large");     /* a comma in it */
    assert_string_equal(s_str(line0, "kind"), "ITEM_KIND_PRODUCT");
    assert_int_equal(s_int(line0, "discount_bp", NULL), 1500);
    assert_int_equal(s_int(line0, "line_total", "units"), 850000);
    assert_int_equal(s_int(t, "subtotal", "units"), 1072000);
    assert_int_equal(s_int(t, "discount", "units"), 150000);
    assert_int_equal(s_int(t, "total", "units"), 922000);
    assert_int_equal(s_int(t, "max_discount_bp", NULL), 1500);

    /* a revision over the current terms: only the validity changes, version 2 */
    json_t *r = OK_JSON(P_ANNA, "quotes", "revise", qid, "--valid-until", until2);
    assert_int_equal(s_int(r, "version", NULL), 2);
    assert_int_equal(s_int(json_object_get(r, "terms"), "total", "units"), 922000);
    assert_int_equal(json_array_size(json_object_get(json_object_get(r, "terms"), "lines")), 2);
    assert_int_equal(json_array_size(json_object_get(r, "revisions")), 1);
    json_decref(r);

    /* 15 % is above anna's 10 %: not sent without approval; she may not approve it */
    s_expect(RUN(P_ANNA, "quotes", "send", qid), 1, "FAILED_PRECONDITION");
    s_expect(RUN(P_ANNA, "quotes", "approve", qid), 1, "PERMISSION_DENIED");
    r = OK_JSON(P_HANNA, "quotes", "approve", qid, "--comment", "strategic client");
    assert_int_equal(s_int(r, "approved_discount_bp", NULL), 1500);
    assert_string_equal(s_str(r, "approval_comment"), "strategic client");
    json_decref(r);
    rp_cli_run_t run = RUN(P_ANNA, "quotes", "send", qid);
    s_has(run.out, "status:");
    s_has(run.out, "sent");
    s_expect(run, 0, NULL);
    s_expect(RUN(P_ANNA, "quotes", "accept", qid), 0, NULL);
    /* the list as a table */
    run = RUN(P_ANNA, "quotes", "list");
    s_has(run.out, "VALID UNTIL");
    s_has(run.out, qid);
    s_has(run.out, "accepted");
    s_has(run.out, "9220.00 EUR");
    s_has(run.out, "15.00%");
    s_expect(run, 0, NULL);

    /* an accepted quote becomes a draft contract, once */
    json_t *c = OK_JSON(P_ANNA, "quotes", "to-contract", qid, "--type", "supply", "--start", s_day(1, start),
                        "--end", s_day(365, end));
    assert_string_equal(s_str(c, "status"), "CONTRACT_STATUS_DRAFT");
    assert_string_equal(s_str(c, "quote_id"), qid);
    assert_true(strncmp(s_str(c, "number"), "HQ-", 3) == 0);
    assert_int_equal(s_int(json_object_get(c, "terms"), "value", "units"), 922000);
    assert_int_equal(json_array_size(json_object_get(json_object_get(c, "terms"), "schedule")), 2);
    s_expect(RUN(P_ANNA, "quotes", "to-contract", qid, "--type", "supply"), 1, "ALREADY_EXISTS");
    json_t *g = OK_JSON(P_ANNA, "quotes", "get", qid);
    assert_string_equal(s_str(g, "contract_id"), s_str(c, "id"));
    json_decref(g);
    /* as text: the fields, then the lines as a table (header, one row per line) */
    run = RUN(P_ANNA, "quotes", "get", qid);
    s_has(run.out, "client_name:");
    s_has(run.out, "Acme Pumps AG");
    s_has(run.out, "terms.total:");
    s_has(run.out, "revisions: 1 earlier version\nlines:\n");
    const char *tab = strstr(run.out, "lines:\n");
    const char *cols[] = { "KIND", "DESCRIPTION", "QUANTITY", "UNIT", "UNIT PRICE", "DISCOUNT", "TOTAL" };
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
        s_has(tab, cols[i]);
    /* each line on a row of its own, in the quote's order */
    const char *row1 = strstr(tab, "Pump, large"), *row2 = strstr(tab, "Installation");
    assert_non_null(row1);
    assert_non_null(row2);
    assert_true(row1 < row2);
    assert_non_null(memchr(row1, '\n', (size_t)(row2 - row1)));
    const char *eol1 = strchr(row1, '\n');
    char *l1 = rp_strndup(row1, (size_t)(eol1 - row1)), *l2 = rp_strndup(row2, strcspn(row2, "\n"));
    s_has(l1, "1000.00 EUR");
    s_has(l1, "15.00%");
    s_has(l1, "8500.00 EUR");
    s_has(l2, "90.00 EUR");
    s_has(l2, "720.00 EUR");
    assert_null(strstr(run.out, "terms.lines"));     /* not also as key: value lines */
    free(l1);
    free(l2);
    s_expect(run, 0, NULL);
    json_decref(c);
    json_decref(q);
}

static void test_approval_chain(void **state)
{
    (void)state;
    json_t *d = s_draft();
    char num[32];
    snprintf(num, sizeof num, "%s", s_str(d, "number"));
    assert_true(strncmp(num, "HQ-", 3) == 0);
    /* parties and instalments as given; the note with a comma kept */
    json_t *terms = json_object_get(d, "terms");
    assert_int_equal(json_array_size(json_object_get(terms, "parties")), 2);
    assert_string_equal(s_str(json_array_get(json_object_get(terms, "schedule"), 1), "note"), "balance, on delivery");
    assert_int_equal(s_int(json_object_get(terms, "payment"), "prepayment_bp", NULL), 4000);

    /* above anna's limit: the head of department */
    json_t *s = OK_JSON(P_ANNA, "contracts", "submit", num);
    assert_string_equal(s_str(s, "status"), "CONTRACT_STATUS_PENDING_APPROVAL");
    json_decref(s);
    s_expect(RUN(P_BORIS, "contracts", "approve", num), 1, "PERMISSION_DENIED");
    s_expect(RUN(P_HANNA, "contracts", "reject", num), 2, "--comment: required");
    s = OK_JSON(P_HANNA, "contracts", "reject", num, "--comment", "the prepayment is too low");
    assert_string_equal(s_str(s, "status"), "CONTRACT_STATUS_DRAFT");
    json_decref(s);

    /* back in draft: update-draft changes what is given and keeps the rest */
    s = OK_JSON(P_ANNA, "contracts", "update-draft", num, "--prepayment", "50", "--referral-clause");
    json_t *t2 = json_object_get(s, "terms");
    assert_int_equal(s_int(json_object_get(t2, "payment"), "prepayment_bp", NULL), 5000);
    assert_int_equal(s_int(json_object_get(t2, "payment"), "days", NULL), 30);
    assert_true(json_is_true(json_object_get(t2, "referral_clause")));
    assert_int_equal(s_int(t2, "value", "units"), 3000000);
    assert_int_equal(json_array_size(json_object_get(t2, "schedule")), 2);
    assert_string_equal(s_str(t2, "special_terms"), "Volume bonus of 2 % above 1000 units.");
    json_decref(s);
    s = OK_JSON(P_ANNA, "contracts", "update-draft", num, "--no-referral-clause");
    assert_false(json_is_true(json_object_get(json_object_get(s, "terms"), "referral_clause")));
    json_decref(s);

    /* round 2: hanna approves with a comment */
    json_decref(OK_JSON(P_ANNA, "contracts", "submit", num));
    s = OK_JSON(P_HANNA, "contracts", "approve", num, "--comment", "fits the budget");
    assert_string_equal(s_str(s, "status"), "CONTRACT_STATUS_APPROVED");
    json_decref(s);

    /* the signing documents first */
    rp_cli_run_t r = RUN(P_ANNA, "contracts", "docs", "list", num);
    s_has(r.out, "specification");
    s_has(r.out, "power_of_attorney");
    s_has(r.out, "required");
    s_expect(r, 0, NULL);
    s_expect(RUN(P_ANNA, "contracts", "sign", num), 1, "FAILED_PRECONDITION");
    static const char *const kinds[] = { "specification", "power_of_attorney" };
    for (int i = 0; i < 2; i++) {
        s_expect(RUN(P_ANNA, "contracts", "docs", "receive", num, kinds[i], "--note", "scan 17"), 0, NULL);
        s_expect(RUN(P_ANNA, "contracts", "docs", "verify", num, kinds[i]), 0, NULL);
    }
    r = RUN(P_ANNA, "contracts", "docs", "list", num);
    s_has(r.out, "verified");
    s_has(r.out, "u-anna");
    s_expect(r, 0, NULL);
    json_t *sig = OK_JSON(P_ANNA, "contracts", "sign", num);
    assert_string_equal(s_str(sig, "status"), "CONTRACT_STATUS_ACTIVE");     /* it starts today */
    const char *hash = s_str(sig, "signature.content_hash");
    const char *key_id = s_str(sig, "signature.key_id");
    assert_int_equal(strlen(hash), 64);

    /* verify: exit 0 */
    r = RUN(P_FIN, "contracts", "verify", num);
    s_has(r.out, "valid");
    s_has(r.out, hash);
    s_expect(r, 0, NULL);

    /* show --format text: a contract to print */
    r = RUN(P_FIN, "contracts", "show", num, "--format", "text");
    char fp[24];
    snprintf(fp, sizeof fp, "%.4s %.4s %.4s %.4s", hash, hash + 4, hash + 8, hash + 12);
    const char *want[] = {
        "CONTRACT ", num, "Kind:            initial", "Type:            supply", "Owner:           u-anna",
        "seller       Rapport GmbH, tax id DE111, represented by Anna Manager",
        "buyer        Acme Pumps AG, tax id DE222, represented by Ann Buyer",
        "Value:           30000.00 EUR", "prepayment 50.00%", "Delivery:        DAP Berlin",
        "12000.00 EUR", "18000.00 EUR", "balance, on delivery", "total", "Volume bonus of 2 % above 1000 units.",
        "power_of_attorney", "the prepayment is too low", "fits the budget", "u-hanna", "head_of_department",
        "Signed by:       u-anna", key_id, fp, hash, "rapport contracts verify",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        s_has(r.out, want[i]);
    s_expect(r, 0, NULL);

    /* one byte of the stored contract changed: verify exits 1, saying why */
    char id[32];
    snprintf(id, sizeof id, "%s", s_str(sig, "id"));
    assert_int_equal(rp_suite_kill(TC.suite, "contracts", SIGTERM), 0);
    tc_tamper(id, "Volume bonus of 2 %", 16, '9');
    rp_suite_start_following(TC.suite, "contracts", "leads", TC_ENV);
    tc_clients();
    r = RUN(P_FIN, "contracts", "verify", num);
    s_has(r.out, "NOT VALID");
    s_has(r.err, "is not the one that was signed");
    s_has(r.err, "differs from what was signed");
    s_expect(r, 1, NULL);
    r = rp_suite_cli(TC.suite, TC.tok[P_FIN], NULL, (const char *const[]) { "--json", "contracts", "verify", num, NULL });
    assert_int_equal(r.status, 1);
    json_t *v = rp_test_json(r.out);
    assert_false(json_is_true(json_object_get(v, "valid")));
    assert_string_equal(s_str(v, "stored_hash"), hash);
    json_decref(v);
    rp_cli_run_free(&r);

    /* a change after signing is an amendment: a new draft of its own linking it */
    json_t *am = OK_JSON(P_ANNA, "contracts", "amend", num, "--special-terms", "Volume bonus of 3 % above 1000 units.");
    assert_string_equal(s_str(am, "kind"), "CONTRACT_KIND_AMENDMENT");
    assert_string_equal(s_str(am, "parent_number"), num);
    assert_string_not_equal(s_str(am, "number"), num);
    assert_int_equal(s_int(json_object_get(am, "terms"), "value", "units"), 3000000);
    json_decref(am);
    s_expect(RUN(P_ANNA, "contracts", "update-draft", num, "--delivery", "EXW"), 1, "FAILED_PRECONDITION");

    r = RUN(P_ANNA, "contracts", "list");
    s_has(r.out, num);
    s_has(r.out, "amendment");
    s_expect(r, 0, NULL);
    json_t *k = OK_JSON(P_ANNA, "contracts", "signing-key");
    assert_string_equal(s_str(k, "key_id"), key_id);
    json_t *ring = json_object_get(k, "keys");
    assert_int_equal(json_array_size(ring), 1);
    assert_string_equal(s_str(json_array_get(ring, 0), "key_id"), key_id);
    /* as text: the current key, then the keyring as a table */
    r = RUN(P_ANNA, "contracts", "signing-key");
    char *kring = rp_sprintf("key_id: %s\npublic_key: %s\nkeyring:\n", key_id, s_str(k, "public_key"));
    s_has(r.out, kring);
    s_has(r.out, "KEY ID");
    s_has(r.out, "STATE");
    char *row = rp_sprintf("%s  current", key_id);
    s_has(r.out, row);
    s_expect(r, 0, NULL);
    free(kring);
    free(row);
    json_decref(k);
    json_decref(sig);
    json_decref(d);
}

static void test_orders(void **state)
{
    (void)state;
    TContract *c = tc_signed(500000, 0, 365, P_ANNA);
    assert_int_equal(c->status, CST(ACTIVE));
    char due[11], today[11];
    s_day(14, due);
    s_day(0, today);
    json_t *o = OK_JSON(P_ANNA, "orders", "place", c->number, "--item", "Pump, large,2,pcs", "--item", "Seal kit,10,pcs",
                        "--due", due, "--planned-delivery", due, "--note", "first call-off");
    const char *oid = s_str(o, "id");
    assert_string_equal(s_str(o, "status"), "ORDER_STATUS_RECEIVED");
    assert_string_equal(s_str(o, "contract_number"), c->number);
    assert_string_equal(s_str(json_array_get(json_object_get(o, "items"), 0), "description"), "Pump, large");
    s_expect(RUN(P_ANNA, "orders", "ship", oid), 1, "FAILED_PRECONDITION");      /* not processing yet */
    json_t *h = OK_JSON(P_ANNA, "orders", "handoff", oid, "--department", "logistics", "--note", "urgent");
    assert_string_equal(s_str(h, "status"), "ORDER_STATUS_PROCESSING");
    assert_string_equal(s_str(json_array_get(json_object_get(h, "handoffs"), 0), "department"), "logistics");
    json_decref(h);
    s_expect(RUN(P_ANNA, "orders", "ship", oid, "--planned", due), 0, NULL);
    rp_cli_run_t r = RUN(P_ANNA, "orders", "list", c->number);
    s_has(r.out, oid);
    s_has(r.out, "shipped");
    s_has(r.out, "logistics");
    s_expect(r, 0, NULL);
    char future[11];
    s_expect(RUN(P_ANNA, "orders", "deliver", oid, "--date", s_day(3, future)), 1, "date");
    h = OK_JSON(P_ANNA, "orders", "deliver", oid);
    assert_string_equal(s_str(h, "status"), "ORDER_STATUS_DELIVERED");
    assert_int_equal(s_int(json_object_get(h, "actual_delivery"), "day", NULL), atoi(today + 8));
    json_decref(h);
    s_expect(RUN(P_ANNA, "orders", "status", oid, "closed"), 0, NULL);
    r = RUN(P_ANNA, "orders", "get", oid);
    s_has(r.out, "closed");
    s_has(r.out, "actual_delivery");
    s_expect(r, 0, NULL);
    /* a second order, cancelled with its reason */
    json_t *o2 = OK_JSON(P_ANNA, "orders", "place", c->id, "--item", "Spare,1,pcs", "--due", due);
    s_expect(RUN(P_ANNA, "orders", "cancel", s_str(o2, "id"), "--reason", "client withdrew"), 0, NULL);
    json_decref(o2);
    /* under a draft: refused */
    json_t *d = s_draft();
    s_expect(RUN(P_ANNA, "orders", "place", s_str(d, "number"), "--item", "X,1,pcs", "--due", due), 1,
             "FAILED_PRECONDITION");
    json_decref(d);
    json_decref(o);
    tc_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_usage),
        cmocka_unit_test(test_quote_to_contract),
        cmocka_unit_test(test_approval_chain),
        cmocka_unit_test(test_orders),
    };
    return cmocka_run_group_tests(tests, tc_setup, tc_teardown);
}
