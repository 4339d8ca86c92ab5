/* cli_leads.c - `rapport leads ...`: every method of rapport.leads.v1.Leads
 * (proto/rapport/leads/v1/leads.proto) as a command. Flags build the request;
 * the service checks the rules and names the field of any violation, which
 * cli_call prints. One record prints as key: value lines, lists as a table;
 * --json prints the reply message as JSON (pbjson.h).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "rapport/pbjson.h"
#include "rapport/ulid.h"
#include "rapport/util.h"
#include "rapport/leads/v1/leads.pb-c.h"

#define M(name) "rapport.leads.v1.Leads/" name

/* ---- per-command scratch memory (freed at exit) ---- */

static void **s_allocs;
static size_t s_nallocs, s_capallocs;

static void s_free_all(void)
{
    for (size_t i = 0; i < s_nallocs; i++)
        free(s_allocs[i]);
    free(s_allocs);
    s_allocs = NULL;
    s_nallocs = s_capallocs = 0;
}

static void *s_new(size_t n)
{
    if (s_nallocs == s_capallocs) {
        if (!s_allocs)
            atexit(s_free_all);
        s_capallocs = s_capallocs ? s_capallocs * 2 : 32;
        s_allocs = rp_realloc(s_allocs, s_capallocs * sizeof(void *));
    }
    void *p = rp_calloc(1, n);
    s_allocs[s_nallocs++] = p;
    return p;
}

static char *s_dup(const char *s)
{
    char *d = s_new(strlen(s) + 1);
    memcpy(d, s, strlen(s) + 1);
    return d;
}

#define S_NEW(T, INIT) ({ T *p_ = s_new(sizeof(T)); T init_ = INIT; *p_ = init_; p_; })

/* ---- flag values ---- */

static char *s_trim(char *s)
{
    while (isspace((unsigned char) *s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char) s[n - 1]))
        s[--n] = 0;
    return s;
}

static int s_enum_flag(const cli_args_t *a, const char *flag, const ProtobufCEnumDescriptor *d,
                       const char *text, int *out)
{
    if (cli_enum_parse(d, text, out) == 0)
        return 0;
    char choices[1024];
    cli_enum_choices(d, choices, sizeof choices);
    return cli_usage_error(a, "--%s: unknown value '%s'; one of: %s", flag, text, choices);
}

static int s_money_flag(const cli_args_t *a, const char *flag, const char *text, Rapport__V1__Money **out)
{
    const char *cur = cli_flag_count(a, "currency") ? cli_flag(a, "currency") : cli_default_currency();
    char code[4], why[256];
    int64_t units;
    if (cli_money_parse(text, cur, &units, code, why, sizeof why) != 0)
        return cli_usage_error(a, "--%s: %s", flag, why);
    Rapport__V1__Money *m = S_NEW(Rapport__V1__Money, RAPPORT__V1__MONEY__INIT);
    m->units = units;
    m->currency = s_dup(code);
    *out = m;
    return 0;
}

static int s_date_flag(const cli_args_t *a, const char *flag, const char *text, Rapport__V1__Date **out)
{
    int y, m, d;
    if (cli_parse_date(text, &y, &m, &d) != 0)
        return cli_usage_error(a, "--%s: must be a calendar date YYYY-MM-DD, got '%s'", flag, text);
    Rapport__V1__Date *dt = S_NEW(Rapport__V1__Date, RAPPORT__V1__DATE__INIT);
    dt->year = y;
    dt->month = m;
    dt->day = d;
    *out = dt;
    return 0;
}

static int s_u32_flag(const cli_args_t *a, const char *flag, const char *text, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (cli_parse_u64(text, &v) != 0 || v > max)
        return cli_usage_error(a, "--%s: must be a whole number from 0 to %u, got '%s'", flag, max, text);
    *out = (uint32_t) v;
    return 0;
}

/* s_request_id - --request-id (a ULID: the idempotency key of a write), or NULL. */
static int s_request_id(const cli_args_t *a, const char **id)
{
    *id = cli_flag(a, "request-id");
    rp_ulid_t u;
    if (*id && rp_ulid_parse(*id, &u) != 0)
        return cli_usage_error(a, "--request-id: must be a ULID (26 Crockford base32 characters), got '%s'", *id);
    return 0;
}

/* s_contact - "NAME,ROLE[,EMAIL[,PHONE[,POSITION]]]" (POSITION takes the rest). */
static int s_contact(const cli_args_t *a, const char *text, Rapport__Leads__V1__Contact **out)
{
    char *buf = s_dup(text), *parts[5] = { 0 };
    int n = 0;
    char *p = buf;
    while (n < 5) {
        parts[n++] = p;
        if (n == 5)
            break;
        char *comma = strchr(p, ',');
        if (!comma)
            break;
        *comma = 0;
        p = comma + 1;
    }
    if (n < 2)
        return cli_usage_error(a, "--contact: must be NAME,ROLE[,EMAIL[,PHONE[,POSITION]]], got '%s'", text);
    Rapport__Leads__V1__Contact *c = S_NEW(Rapport__Leads__V1__Contact, RAPPORT__LEADS__V1__CONTACT__INIT);
    c->name = s_trim(parts[0]);
    int role;
    if (s_enum_flag(a, "contact", &rapport__leads__v1__contact_role__descriptor, s_trim(parts[1]), &role))
        return CLI_EXIT_USAGE;
    c->role = role;
    if (n > 2)
        c->email = s_trim(parts[2]);
    if (n > 3)
        c->phone = s_trim(parts[3]);
    if (n > 4)
        c->position = s_trim(parts[4]);
    *out = c;
    return 0;
}

/* ---- the lead fields shared by create and update ---- */

typedef struct {
    Rapport__Leads__V1__Company **company;
    size_t *n_contacts;
    Rapport__Leads__V1__Contact ***contacts;
    Rapport__Leads__V1__LeadSource *source;
    char **referrer, **campaign, **needs;
    Rapport__V1__Money **value;
    Rapport__V1__Date **close;
    const char *mask[24];
    size_t nmask;
    int nflags;             /* how many field flags were given */
} s_fields_t;

static const char *const s_field_flags[] = {
    "company", "tax-id", "region", "industry", "size", "contact", "source", "referrer",
    "campaign", "needs", "value", "close", NULL
};

static Rapport__Leads__V1__Company *s_company(s_fields_t *f)
{
    if (!*f->company)
        *f->company = S_NEW(Rapport__Leads__V1__Company, RAPPORT__LEADS__V1__COMPANY__INIT);
    return *f->company;
}

static void s_mask(s_fields_t *f, const char *path)
{
    f->mask[f->nmask++] = path;
    f->nflags++;
}

static int s_apply_fields(const cli_args_t *a, s_fields_t *f)
{
    const char *v;
    if ((v = cli_flag(a, "company"))) {
        s_company(f)->name = (char *) v;
        s_mask(f, "company.name");
    }
    if ((v = cli_flag(a, "tax-id"))) {
        s_company(f)->tax_id = (char *) v;
        s_mask(f, "company.tax_id");
    }
    if ((v = cli_flag(a, "region"))) {
        s_company(f)->region = (char *) v;
        s_mask(f, "company.region");
    }
    if ((v = cli_flag(a, "industry"))) {
        s_company(f)->industry = (char *) v;
        s_mask(f, "company.industry");
    }
    if ((v = cli_flag(a, "size"))) {
        int e;
        if (s_enum_flag(a, "size", &rapport__leads__v1__company_size__descriptor, v, &e))
            return CLI_EXIT_USAGE;
        s_company(f)->size = e;
        s_mask(f, "company.size");
    }
    int nc = cli_flag_count(a, "contact");
    if (nc) {
        *f->contacts = s_new((size_t) nc * sizeof(Rapport__Leads__V1__Contact *));
        for (int i = 0; i < nc; i++)
            if (s_contact(a, cli_flag_at(a, "contact", i), &(*f->contacts)[i]))
                return CLI_EXIT_USAGE;
        *f->n_contacts = (size_t) nc;
        s_mask(f, "contacts");
    }
    if ((v = cli_flag(a, "source"))) {
        int e;
        if (s_enum_flag(a, "source", &rapport__leads__v1__lead_source__descriptor, v, &e))
            return CLI_EXIT_USAGE;
        *f->source = e;
        s_mask(f, "source");
    }
    if ((v = cli_flag(a, "referrer"))) {
        *f->referrer = (char *) v;
        s_mask(f, "referrer_client_id");
    }
    if ((v = cli_flag(a, "campaign"))) {
        *f->campaign = (char *) v;
        s_mask(f, "campaign");
    }
    if ((v = cli_flag(a, "needs"))) {
        *f->needs = (char *) v;
        s_mask(f, "needs");
    }
    if ((v = cli_flag(a, "value"))) {
        if (s_money_flag(a, "value", v, f->value))
            return CLI_EXIT_USAGE;
        s_mask(f, "expected_value");
    } else if (cli_flag_count(a, "currency")) {
        return cli_usage_error(a, "--currency: goes with --value");
    }
    if ((v = cli_flag(a, "close"))) {
        if (s_date_flag(a, "close", v, f->close))
            return CLI_EXIT_USAGE;
        s_mask(f, "expected_close");
    }
    return 0;
}

#define S_LEAD_FIELD_FLAGS \
    { "company",  "NAME",   "company name (1..200 bytes)", false }, \
    { "tax-id",   "ID",     "company tax id (duplicates are found by it)", false }, \
    { "region",   "TEXT",   "company region", false }, \
    { "industry", "TEXT",   "company industry", false }, \
    { "size",     "SIZE",   "company size: micro, small, medium, large, enterprise", false }, \
    { "contact",  "CONTACT", "NAME,ROLE[,EMAIL[,PHONE[,POSITION]]]; ROLE: decision_maker, negotiator, influencer, other", true }, \
    { "source",   "SOURCE", "where the lead came from: cold_call, inbound_call, email, web, visit, chat, advertising, exhibition, fair, conference, presentation, referral, partner, tender, social_media, import", false }, \
    { "referrer", "CLIENT_ID", "the referring client's id (source referral)", false }, \
    { "campaign", "NAME",   "marketing campaign", false }, \
    { "needs",    "TEXT",   "what the client needs", false }, \
    { "value",    "AMOUNT", "expected value, e.g. 12000.50 or '12000.50 USD'", false }, \
    { "currency", "CODE",   "currency of --value (default $RAPPORT_CURRENCY or EUR)", false }, \
    { "close",    "DATE",   "expected close date YYYY-MM-DD", false }

/* ---- calling the service ---- */

static int s_rpc(cli_t *cli, const char *method, const ProtobufCMessage *in,
                 const ProtobufCMessageDescriptor *out_desc, const char *id, ProtobufCMessage **out)
{
    int rc = cli_get_token(cli, true);
    if (rc)
        return rc;
    rp_client_t *c = NULL;
    if ((rc = cli_connect(cli, "leads", &c)) != 0)
        return rc;
    rc = cli_call(cli, c, id, method, in, out_desc, out);
    rp_client_destroy(&c);
    return rc;
}

/* s_show - call and print the one record the method returns. */
static int s_show(cli_t *cli, const char *method, const ProtobufCMessage *in,
                  const ProtobufCMessageDescriptor *out_desc, const char *id)
{
    ProtobufCMessage *out = NULL;
    int rc = s_rpc(cli, method, in, out_desc, id, &out);
    if (rc)
        return rc;
    cli_print_message(cli, out);
    protobuf_c_message_free_unpacked(out, NULL);
    return CLI_EXIT_OK;
}

/* ---- lists ---- */

typedef struct {
    const char *header;
    const char *path;
    bool date_only;         /* show only the date of a time */
} s_col_t;

static const s_col_t s_lead_cols[] = {
    { "ID", "id", false }, { "COMPANY", "company_name", false }, { "STAGE", "stage", false },
    { "SOURCE", "source", false }, { "OWNER", "owner", false }, { "VALUE", "expected_value", false },
    { "CLOSE", "expected_close", false }, { "SCORE", "score", false },
    { "LAST ACTIVITY", "last_activity_at", true }, { NULL, NULL, false }
};

static const s_col_t s_activity_cols[] = {
    { "ID", "id", false }, { "WHEN", "occurred_at", false }, { "KIND", "kind", false },
    { "OUTCOME", "outcome", false }, { "SUBJECT", "subject", false }, { "NEXT STEP", "next_step", false },
    { "DUE", "next_step_due", false }, { "BY", "by", false }, { NULL, NULL, false }
};

static const ProtobufCFieldDescriptor *s_field(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    if (!f) {
        fprintf(stderr, "rapport: internal error: %s has no field %s\n", m->descriptor->name, name);
        abort();
    }
    return f;
}

static void s_set_u32(ProtobufCMessage *m, const char *name, uint32_t v)
{
    *(uint32_t *) ((char *) m + s_field(m, name)->offset) = v;
}

static void s_set_str(ProtobufCMessage *m, const char *name, const char *v)
{
    *(const char **) ((char *) m + s_field(m, name)->offset) = v;
}

static const char *s_get_str(const ProtobufCMessage *m, const char *name)
{
    return *(char *const *) ((const char *) m + s_field(m, name)->offset);
}

static size_t s_get_list(const ProtobufCMessage *m, const char *name, ProtobufCMessage ***items)
{
    const ProtobufCFieldDescriptor *f = s_field(m, name);
    *items = *(ProtobufCMessage ***) ((const char *) m + f->offset);
    return *(const size_t *) ((const char *) m + f->quantifier_offset);
}

/* s_list - page through method (request req with page_size/page_token fields),
 * printing the repeated field items of each reply as a table of cols. */
static int s_list(cli_t *cli, const cli_args_t *a, const char *method, ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *reply_desc, const char *items, const s_col_t *cols,
                  const char *what)
{
    uint32_t page_size = 0;
    if (cli_flag(a, "page-size")) {
        if (s_u32_flag(a, "page-size", cli_flag(a, "page-size"), 500, &page_size))
            return CLI_EXIT_USAGE;
        if (page_size == 0)
            return cli_usage_error(a, "--page-size: must be from 1 to 500");
    }
    bool all = cli_flag_set(a, "all");
    s_set_u32(req, "page_size", page_size);
    char *token = rp_strdup(cli_flag(a, "page-token") ? cli_flag(a, "page-token") : "");

    int rc = cli_get_token(cli, true);
    if (rc) {
        free(token);
        return rc;
    }
    rp_client_t *c = NULL;
    if ((rc = cli_connect(cli, "leads", &c)) != 0) {
        free(token);
        return rc;
    }
    int ncols = 0;
    const char *hdr[16];
    for (; cols[ncols].header; ncols++)
        hdr[ncols] = cols[ncols].header;
    cli_table_t *t = cli_table_new(ncols, hdr);
    json_t *acc = json_array();
    size_t rows = 0;
    for (;;) {
        s_set_str(req, "page_token", token);
        ProtobufCMessage *rep = NULL;
        rc = cli_call(cli, c, NULL, method, req, reply_desc, &rep);
        if (rc)
            break;
        ProtobufCMessage **list;
        size_t n = s_get_list(rep, items, &list);
        free(token);
        token = rp_strdup(s_get_str(rep, "next_page_token") ? s_get_str(rep, "next_page_token") : "");
        if (cli->json && !all) {
            json_t *j = rp_pb_to_json(rep);
            cli_print_json(j);
            json_decref(j);
        }
        for (size_t i = 0; i < n; i++) {
            if (cli->json) {
                json_array_append_new(acc, rp_pb_to_json(list[i]));
                continue;
            }
            char *cells[16];
            for (int k = 0; k < ncols; k++) {
                cells[k] = cli_field_text(list[i], cols[k].path);
                if (cols[k].date_only && strlen(cells[k]) > 10)
                    cells[k][10] = 0;
            }
            cli_table_add(t, (const char *const *) cells);
            for (int k = 0; k < ncols; k++)
                free(cells[k]);
        }
        rows += n;
        protobuf_c_message_free_unpacked(rep, NULL);
        if (!all || !token[0])
            break;
    }
    rp_client_destroy(&c);
    if (rc == 0) {
        if (cli->json) {
            if (all) {
                json_t *j = json_pack("{s:O}", items, acc);
                cli_print_json(j);
                json_decref(j);
            }
        } else if (rows == 0) {
            fprintf(stderr, "no %s found\n", what);
        } else {
            cli_table_print(t, stdout);
            if (token[0])
                fprintf(stderr, "more: --page-token %s (or --all)\n", token);
        }
    }
    json_decref(acc);
    cli_table_destroy(&t);
    free(token);
    return rc;
}

#define S_PAGE_FLAGS \
    { "page-size", "N", "rows per page, 1..500 (default 50)", false }, \
    { "page-token", "TOKEN", "continue where a previous page ended", false }, \
    { "all", NULL, "follow the pages to the end", false }

/* ---- commands ---- */

static const cli_flag_t s_create_flags[] = {
    S_LEAD_FIELD_FLAGS,
    { "owner",      "USER",  "owner other than yourself (needs leads.assign)", false },
    { "owner-unit", "PATH",  "the owner's org unit (with --owner)", false },
    { "force",      NULL,    "create despite a duplicate (same tax id, or name and contact e-mail)", false },
    { "from-json",  "FILE",  "read the CreateRequest as JSON from FILE ('-' for stdin) instead of field flags", false },
    { "request-id", "ULID",  "idempotency key: a retry with the same id creates nothing twice", false },
    { NULL, NULL, NULL, false }
};

static int s_create_from_json(cli_t *cli, const cli_args_t *a, const char *path, const char *id)
{
    for (int i = 0; s_field_flags[i]; i++)
        if (cli_flag_count(a, s_field_flags[i]))
            return cli_usage_error(a, "--from-json: cannot be combined with --%s", s_field_flags[i]);
    json_error_t jerr;
    json_t *obj = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &jerr) : json_load_file(path, 0, &jerr);
    if (!obj) {
        if (jerr.line < 0)
            return cli_local_error(cli, "cannot read %s: %s", path, jerr.text);
        return cli_usage_error(a, "--from-json: %s line %d column %d: %s", path, jerr.line, jerr.column, jerr.text);
    }
    char err[512];
    ProtobufCMessage *m = rp_pb_from_json(&rapport__leads__v1__create_request__descriptor, obj, err, sizeof err);
    json_decref(obj);
    if (!m)
        return cli_usage_error(a, "--from-json: %s: %s", path, err);
    Rapport__Leads__V1__CreateRequest *req = (Rapport__Leads__V1__CreateRequest *) m;
    if (cli_flag_set(a, "force"))
        req->force = 1;
    int rc = s_show(cli, M("Create"), m, &rapport__leads__v1__lead__descriptor, id);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int s_create(cli_t *cli, const cli_args_t *a)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    if (cli_flag(a, "from-json"))
        return s_create_from_json(cli, a, cli_flag(a, "from-json"), id);
    Rapport__Leads__V1__CreateRequest req = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
    s_fields_t f = {
        .company = &req.company, .n_contacts = &req.n_contacts, .contacts = &req.contacts,
        .source = &req.source, .referrer = &req.referrer_client_id, .campaign = &req.campaign,
        .needs = &req.needs, .value = &req.expected_value, .close = &req.expected_close,
    };
    if (s_apply_fields(a, &f))
        return CLI_EXIT_USAGE;
    if (!cli_flag(a, "company"))
        return cli_usage_error(a, "--company: required (or --from-json)");
    if (!cli_flag(a, "source"))
        return cli_usage_error(a, "--source: required (or --from-json)");
    if (cli_flag(a, "owner"))
        req.owner = (char *) cli_flag(a, "owner");
    if (cli_flag(a, "owner-unit"))
        req.owner_unit = (char *) cli_flag(a, "owner-unit");
    req.force = cli_flag_set(a, "force");
    return s_show(cli, M("Create"), &req.base, &rapport__leads__v1__lead__descriptor, id);
}

static int s_get(cli_t *cli, const cli_args_t *a)
{
    Rapport__Leads__V1__GetRequest req = RAPPORT__LEADS__V1__GET_REQUEST__INIT;
    req.id = (char *) a->pos[0];
    return s_show(cli, M("Get"), &req.base, &rapport__leads__v1__lead__descriptor, NULL);
}

static const cli_flag_t s_update_flags[] = {
    S_LEAD_FIELD_FLAGS,
    { "clear-value", NULL,   "clear the expected value", false },
    { "clear-close", NULL,   "clear the expected close date", false },
    { "force",       NULL,   "update despite a duplicate", false },
    { "request-id",  "ULID", "idempotency key", false },
    { NULL, NULL, NULL, false }
};

static int s_update(cli_t *cli, const cli_args_t *a)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    Rapport__Leads__V1__UpdateRequest req = RAPPORT__LEADS__V1__UPDATE_REQUEST__INIT;
    req.id = (char *) a->pos[0];
    s_fields_t f = {
        .company = &req.company, .n_contacts = &req.n_contacts, .contacts = &req.contacts,
        .source = &req.source, .referrer = &req.referrer_client_id, .campaign = &req.campaign,
        .needs = &req.needs, .value = &req.expected_value, .close = &req.expected_close,
    };
    if (s_apply_fields(a, &f))
        return CLI_EXIT_USAGE;
    if (cli_flag_set(a, "clear-value")) {
        if (cli_flag(a, "value"))
            return cli_usage_error(a, "--clear-value: cannot be combined with --value");
        s_mask(&f, "expected_value");
    }
    if (cli_flag_set(a, "clear-close")) {
        if (cli_flag(a, "close"))
            return cli_usage_error(a, "--clear-close: cannot be combined with --close");
        s_mask(&f, "expected_close");
    }
    if (f.nmask == 0)
        return cli_usage_error(a, "nothing to update: give at least one field flag");
    req.update_mask = (char **) f.mask;
    req.n_update_mask = f.nmask;
    req.force = cli_flag_set(a, "force");
    return s_show(cli, M("Update"), &req.base, &rapport__leads__v1__lead__descriptor, id);
}

static const cli_flag_t s_assign_flags[] = {
    { "owner",      "USER", "the new owner's user id; required", false },
    { "unit",       "PATH", "the new owner's org unit, within yours; required", false },
    { "request-id", "ULID", "idempotency key", false },
    { NULL, NULL, NULL, false }
};

static int s_assign(cli_t *cli, const cli_args_t *a)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    if (!cli_flag(a, "owner"))
        return cli_usage_error(a, "--owner: required");
    if (!cli_flag(a, "unit"))
        return cli_usage_error(a, "--unit: required");
    Rapport__Leads__V1__AssignRequest req = RAPPORT__LEADS__V1__ASSIGN_REQUEST__INIT;
    req.id = (char *) a->pos[0];
    req.owner = (char *) cli_flag(a, "owner");
    req.unit = (char *) cli_flag(a, "unit");
    return s_show(cli, M("Assign"), &req.base, &rapport__leads__v1__lead__descriptor, id);
}

static const cli_flag_t s_stage_flags[] = {
    { "reason",        "REASON", "with lost: price, competitor, no_budget, no_decision, timing, other", false },
    { "note",          "TEXT",   "with lost: a note", false },
    { "competitor",    "NAME",   "with reason competitor: who won it", false },
    { "competitor-id", "ID",     "with reason competitor: their id in rapport-intel", false },
    { "request-id",    "ULID",   "idempotency key", false },
    { NULL, NULL, NULL, false }
};

/* s_set_stage - SetStage to stage (with the lost flags when given). */
static int s_set_stage(cli_t *cli, const cli_args_t *a, const char *lead, int stage, bool lost_flags)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    Rapport__Leads__V1__SetStageRequest req = RAPPORT__LEADS__V1__SET_STAGE_REQUEST__INIT;
    req.id = (char *) lead;
    req.stage = stage;
    const char *v;
    if (lost_flags && (v = cli_flag(a, "reason"))) {
        int e;
        if (s_enum_flag(a, "reason", &rapport__leads__v1__lost_reason__descriptor, v, &e))
            return CLI_EXIT_USAGE;
        req.lost_reason = e;
    }
    if (lost_flags && (v = cli_flag(a, "note")))
        req.lost_note = (char *) v;
    if (lost_flags && (v = cli_flag(a, "competitor")))
        req.lost_competitor_name = (char *) v;
    if (lost_flags && (v = cli_flag(a, "competitor-id")))
        req.lost_competitor_id = (char *) v;
    return s_show(cli, M("SetStage"), &req.base, &rapport__leads__v1__lead__descriptor, id);
}

static int s_stage(cli_t *cli, const cli_args_t *a)
{
    int e;
    if (cli_enum_parse(&rapport__leads__v1__lead_stage__descriptor, a->pos[1], &e) != 0) {
        char choices[512];
        cli_enum_choices(&rapport__leads__v1__lead_stage__descriptor, choices, sizeof choices);
        return cli_usage_error(a, "STAGE: unknown stage '%s'; one of: %s", a->pos[1], choices);
    }
    return s_set_stage(cli, a, a->pos[0], e, true);
}

static int s_win(cli_t *cli, const cli_args_t *a)
{
    return s_set_stage(cli, a, a->pos[0], RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_WON, false);
}

static int s_lose(cli_t *cli, const cli_args_t *a)
{
    if (!cli_flag(a, "reason"))
        return cli_usage_error(a, "--reason: required");
    return s_set_stage(cli, a, a->pos[0], RAPPORT__LEADS__V1__LEAD_STAGE__LEAD_STAGE_LOST, true);
}

static const cli_flag_t s_win_flags[] = {
    { "request-id", "ULID", "idempotency key", false },
    { NULL, NULL, NULL, false }
};

static const cli_flag_t s_reopen_flags[] = {
    { "stage",      "STAGE", "the open stage to reopen at (default: the stage it was lost from)", false },
    { "request-id", "ULID",  "idempotency key", false },
    { NULL, NULL, NULL, false }
};

static int s_reopen(cli_t *cli, const cli_args_t *a)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    Rapport__Leads__V1__ReopenRequest req = RAPPORT__LEADS__V1__REOPEN_REQUEST__INIT;
    req.id = (char *) a->pos[0];
    if (cli_flag(a, "stage")) {
        int e;
        if (s_enum_flag(a, "stage", &rapport__leads__v1__lead_stage__descriptor, cli_flag(a, "stage"), &e))
            return CLI_EXIT_USAGE;
        req.stage = e;
    }
    return s_show(cli, M("Reopen"), &req.base, &rapport__leads__v1__lead__descriptor, id);
}

static const cli_flag_t s_qualify_flags[] = {
    { "interest",    "0..5",    "the client's interest", false },
    { "financial",   "0..5",    "the client's financial capacity", false },
    { "reliability", "0..5",    "the client's reliability", false },
    { "risk",        "FLAG",    "a risk flag: late_payments, insolvency, legal_disputes, new_company, unclear_ownership, no_budget, no_decision_maker, bad_references, sanctions, other", true },
    { "note",        "TEXT",    "a note", false },
    { "verdict",     "VERDICT", "unknown, promising or unprofitable (default: from the score)", false },
    { "request-id",  "ULID",    "idempotency key", false },
    { NULL, NULL, NULL, false }
};

static int s_qualify(cli_t *cli, const cli_args_t *a)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    Rapport__Leads__V1__QualifyRequest req = RAPPORT__LEADS__V1__QUALIFY_REQUEST__INIT;
    req.id = (char *) a->pos[0];
    const char *v;
    if ((v = cli_flag(a, "interest")) && s_u32_flag(a, "interest", v, 1000, &req.interest))
        return CLI_EXIT_USAGE;
    if ((v = cli_flag(a, "financial")) && s_u32_flag(a, "financial", v, 1000, &req.financial_capacity))
        return CLI_EXIT_USAGE;
    if ((v = cli_flag(a, "reliability")) && s_u32_flag(a, "reliability", v, 1000, &req.reliability))
        return CLI_EXIT_USAGE;
    int nr = cli_flag_count(a, "risk");
    if (nr) {
        req.risk_flags = s_new((size_t) nr * sizeof *req.risk_flags);
        for (int i = 0; i < nr; i++) {
            int e;
            if (s_enum_flag(a, "risk", &rapport__leads__v1__risk_flag__descriptor, cli_flag_at(a, "risk", i), &e))
                return CLI_EXIT_USAGE;
            req.risk_flags[i] = e;
        }
        req.n_risk_flags = (size_t) nr;
    }
    if ((v = cli_flag(a, "note")))
        req.note = (char *) v;
    if ((v = cli_flag(a, "verdict"))) {
        int e;
        if (s_enum_flag(a, "verdict", &rapport__leads__v1__verdict__descriptor, v, &e))
            return CLI_EXIT_USAGE;
        req.verdict = e;
    }
    return s_show(cli, M("Qualify"), &req.base, &rapport__leads__v1__lead__descriptor, id);
}

static const cli_flag_t s_disqualify_flags[] = {
    { "reason",     "TEXT", "why; required", false },
    { "request-id", "ULID", "idempotency key", false },
    { NULL, NULL, NULL, false }
};

static int s_disqualify(cli_t *cli, const cli_args_t *a)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    if (!cli_flag(a, "reason"))
        return cli_usage_error(a, "--reason: required");
    Rapport__Leads__V1__DisqualifyRequest req = RAPPORT__LEADS__V1__DISQUALIFY_REQUEST__INIT;
    req.id = (char *) a->pos[0];
    req.reason = (char *) cli_flag(a, "reason");
    return s_show(cli, M("Disqualify"), &req.base, &rapport__leads__v1__lead__descriptor, id);
}

static const cli_flag_t s_activity_log_flags[] = {
    { "kind",       "KIND",    "call, meeting, email, presentation, correspondence; required", false },
    { "outcome",    "OUTCOME", "positive, neutral, negative, no_contact; required", false },
    { "subject",    "TEXT",    "subject", false },
    { "summary",    "TEXT",    "what happened", false },
    { "next-step",  "TEXT",    "the agreed next step", false },
    { "due",        "DATE",    "when the next step is due, YYYY-MM-DD (required with --next-step)", false },
    { "at",         "TIME",    "when it happened, YYYY-MM-DD[THH:MM[:SS]] UTC (default now)", false },
    { "request-id", "ULID",    "idempotency key", false },
    { NULL, NULL, NULL, false }
};

static int s_activity_log(cli_t *cli, const cli_args_t *a)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    Rapport__Leads__V1__LogActivityRequest req = RAPPORT__LEADS__V1__LOG_ACTIVITY_REQUEST__INIT;
    req.lead_id = (char *) a->pos[0];
    const char *v;
    int e;
    if (!(v = cli_flag(a, "kind")))
        return cli_usage_error(a, "--kind: required");
    if (s_enum_flag(a, "kind", &rapport__leads__v1__activity_kind__descriptor, v, &e))
        return CLI_EXIT_USAGE;
    req.kind = e;
    if (!(v = cli_flag(a, "outcome")))
        return cli_usage_error(a, "--outcome: required");
    if (s_enum_flag(a, "outcome", &rapport__leads__v1__activity_outcome__descriptor, v, &e))
        return CLI_EXIT_USAGE;
    req.outcome = e;
    if ((v = cli_flag(a, "subject")))
        req.subject = (char *) v;
    if ((v = cli_flag(a, "summary")))
        req.summary = (char *) v;
    if ((v = cli_flag(a, "next-step")))
        req.next_step = (char *) v;
    if ((v = cli_flag(a, "due")) && s_date_flag(a, "due", v, &req.next_step_due))
        return CLI_EXIT_USAGE;
    if ((v = cli_flag(a, "at")) && cli_parse_time(v, &req.occurred_at) != 0)
        return cli_usage_error(a, "--at: must be YYYY-MM-DD[THH:MM[:SS]] (UTC), got '%s'", v);
    return s_show(cli, M("LogActivity"), &req.base, &rapport__leads__v1__activity__descriptor, id);
}

static const cli_flag_t s_page_flags[] = {
    S_PAGE_FLAGS,
    { NULL, NULL, NULL, false }
};

static int s_activity_list(cli_t *cli, const cli_args_t *a)
{
    Rapport__Leads__V1__ListActivitiesRequest req = RAPPORT__LEADS__V1__LIST_ACTIVITIES_REQUEST__INIT;
    req.lead_id = (char *) a->pos[0];
    return s_list(cli, a, M("ListActivities"), &req.base, &rapport__leads__v1__list_activities_reply__descriptor,
                  "activities", s_activity_cols, "activities");
}

static const cli_flag_t s_objection_add_flags[] = {
    { "category",   "CATEGORY", "price, product, timing, competitor, authority, need, trust, terms, other; required", false },
    { "text",       "TEXT",     "what the client said; required", false },
    { "response",   "TEXT",     "how it was answered", false },
    { "resolved",   NULL,       "the objection is already resolved", false },
    { "request-id", "ULID",     "idempotency key", false },
    { NULL, NULL, NULL, false }
};

static int s_objection_add(cli_t *cli, const cli_args_t *a)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    Rapport__Leads__V1__RecordObjectionRequest req = RAPPORT__LEADS__V1__RECORD_OBJECTION_REQUEST__INIT;
    req.lead_id = (char *) a->pos[0];
    const char *v;
    int e;
    if (!(v = cli_flag(a, "category")))
        return cli_usage_error(a, "--category: required");
    if (s_enum_flag(a, "category", &rapport__leads__v1__objection_category__descriptor, v, &e))
        return CLI_EXIT_USAGE;
    req.category = e;
    if (!(v = cli_flag(a, "text")))
        return cli_usage_error(a, "--text: required");
    req.text = (char *) v;
    if ((v = cli_flag(a, "response")))
        req.response = (char *) v;
    req.resolved = cli_flag_set(a, "resolved");
    return s_show(cli, M("RecordObjection"), &req.base, &rapport__leads__v1__objection__descriptor, id);
}

static const cli_flag_t s_objection_resolve_flags[] = {
    { "response",   "TEXT", "how it was answered (replaces the response)", false },
    { "request-id", "ULID", "idempotency key", false },
    { NULL, NULL, NULL, false }
};

static int s_objection_resolve(cli_t *cli, const cli_args_t *a)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    Rapport__Leads__V1__UpdateObjectionRequest req = RAPPORT__LEADS__V1__UPDATE_OBJECTION_REQUEST__INIT;
    req.lead_id = (char *) a->pos[0];
    req.objection_id = (char *) a->pos[1];
    if (cli_flag(a, "response"))
        req.response = (char *) cli_flag(a, "response");
    req.resolved = 1;
    return s_show(cli, M("UpdateObjection"), &req.base, &rapport__leads__v1__objection__descriptor, id);
}

static const cli_flag_t s_offer_flags[] = {
    { "line",          "LINE",    "DESCRIPTION,QUANTITY,UNIT_PRICE, e.g. 'Support plan,12,99.50'; 1..100 lines", true },
    { "currency",      "CODE",    "currency of every line (default $RAPPORT_CURRENCY or EUR)", false },
    { "discount",      "PERCENT", "discount on the subtotal, e.g. 5 or 2.5 (0..100, two decimals)", false },
    { "payment-terms", "DAYS",    "payment terms in days (0..365)", false },
    { "valid-until",   "DATE",    "the offer's expiry, YYYY-MM-DD; required", false },
    { "note",          "TEXT",    "a note", false },
    { "request-id",    "ULID",    "idempotency key", false },
    { NULL, NULL, NULL, false }
};

/* s_offer_line - "DESCRIPTION,QUANTITY,UNIT_PRICE", split from the right. */
static int s_offer_line(const cli_args_t *a, const char *text, Rapport__Leads__V1__OfferLine **out)
{
    char *buf = s_dup(text);
    char *c2 = strrchr(buf, ',');
    if (!c2)
        return cli_usage_error(a, "--line: must be DESCRIPTION,QUANTITY,UNIT_PRICE, got '%s'", text);
    *c2 = 0;
    char *c1 = strrchr(buf, ',');
    if (!c1)
        return cli_usage_error(a, "--line: must be DESCRIPTION,QUANTITY,UNIT_PRICE, got '%s'", text);
    *c1 = 0;
    Rapport__Leads__V1__OfferLine *l = S_NEW(Rapport__Leads__V1__OfferLine, RAPPORT__LEADS__V1__OFFER_LINE__INIT);
    l->description = s_trim(buf);
    if (cli_parse_i64(s_trim(c1 + 1), &l->quantity) != 0)
        return cli_usage_error(a, "--line: QUANTITY must be a whole number, got '%s'", s_trim(c1 + 1));
    if (s_money_flag(a, "line", s_trim(c2 + 1), &l->unit_price))
        return CLI_EXIT_USAGE;
    *out = l;
    return 0;
}

/* s_percent_bp - "2.5" or "2.5%" (0..100, at most two decimals) in basis points. */
static int s_percent_bp(const char *s, uint32_t *bp)
{
    unsigned whole = 0, frac = 0, digits = 0;
    const char *p = s;
    if (!isdigit((unsigned char) *p))
        return -1;
    while (isdigit((unsigned char) *p) && whole <= 100)
        whole = whole * 10 + (unsigned) (*p++ - '0');
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char) *p) && digits < 3) {
            frac = frac * 10 + (unsigned) (*p++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 2)
            return -1;
        if (digits == 1)
            frac *= 10;
    }
    if (*p == '%')
        p++;
    if (*p || whole > 100 || (whole == 100 && frac > 0))
        return -1;
    *bp = whole * 100 + frac;
    return 0;
}

static int s_offer_build(const cli_args_t *a, Rapport__Leads__V1__OfferRequest *req)
{
    int nl = cli_flag_count(a, "line");
    if (nl == 0)
        return cli_usage_error(a, "--line: at least one line is required");
    req->lines = s_new((size_t) nl * sizeof *req->lines);
    for (int i = 0; i < nl; i++)
        if (s_offer_line(a, cli_flag_at(a, "line", i), &req->lines[i]))
            return CLI_EXIT_USAGE;
    req->n_lines = (size_t) nl;
    const char *v;
    if ((v = cli_flag(a, "discount")) && s_percent_bp(v, &req->discount_bp) != 0)
        return cli_usage_error(a, "--discount: must be a percentage from 0 to 100 with at most two decimals, got '%s'", v);
    if ((v = cli_flag(a, "payment-terms")) && s_u32_flag(a, "payment-terms", v, 100000, &req->payment_terms_days))
        return CLI_EXIT_USAGE;
    if (!(v = cli_flag(a, "valid-until")))
        return cli_usage_error(a, "--valid-until: required");
    if (s_date_flag(a, "valid-until", v, &req->valid_until))
        return CLI_EXIT_USAGE;
    if ((v = cli_flag(a, "note")))
        req->note = (char *) v;
    return 0;
}

static int s_offer_create(cli_t *cli, const cli_args_t *a)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    Rapport__Leads__V1__OfferRequest req = RAPPORT__LEADS__V1__OFFER_REQUEST__INIT;
    req.lead_id = (char *) a->pos[0];
    if (s_offer_build(a, &req))
        return CLI_EXIT_USAGE;
    return s_show(cli, M("AddOffer"), &req.base, &rapport__leads__v1__offer__descriptor, id);
}

static int s_offer_update(cli_t *cli, const cli_args_t *a)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    Rapport__Leads__V1__OfferRequest req = RAPPORT__LEADS__V1__OFFER_REQUEST__INIT;
    req.lead_id = (char *) a->pos[0];
    req.offer_id = (char *) a->pos[1];
    if (s_offer_build(a, &req))
        return CLI_EXIT_USAGE;
    return s_show(cli, M("UpdateOffer"), &req.base, &rapport__leads__v1__offer__descriptor, id);
}

static const cli_flag_t s_offer_action_flags[] = {
    { "request-id", "ULID", "idempotency key", false },
    { NULL, NULL, NULL, false }
};

static const cli_flag_t s_offer_reject_flags[] = {
    { "reason",     "TEXT", "why the client rejected it", false },
    { "request-id", "ULID", "idempotency key", false },
    { NULL, NULL, NULL, false }
};

static int s_offer_action(cli_t *cli, const cli_args_t *a, const char *method, const char *reason)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    Rapport__Leads__V1__OfferActionRequest req = RAPPORT__LEADS__V1__OFFER_ACTION_REQUEST__INIT;
    req.lead_id = (char *) a->pos[0];
    req.offer_id = (char *) a->pos[1];
    if (reason)
        req.reason = (char *) reason;
    return s_show(cli, method, &req.base, &rapport__leads__v1__offer__descriptor, id);
}

static int s_offer_send(cli_t *cli, const cli_args_t *a)
{
    return s_offer_action(cli, a, M("SendOffer"), NULL);
}

static int s_offer_accept(cli_t *cli, const cli_args_t *a)
{
    return s_offer_action(cli, a, M("AcceptOffer"), NULL);
}

static int s_offer_reject(cli_t *cli, const cli_args_t *a)
{
    return s_offer_action(cli, a, M("RejectOffer"), cli_flag(a, "reason"));
}

static const cli_flag_t s_competitor_add_flags[] = {
    { "name",       "NAME",  "the competitor's name (required without --id)", false },
    { "id",         "ID",    "the competitor's id in rapport-intel", false },
    { "threat",     "LEVEL", "low, medium or high; required", false },
    { "note",       "TEXT",  "a note", false },
    { "request-id", "ULID",  "idempotency key", false },
    { NULL, NULL, NULL, false }
};

static int s_competitor_add(cli_t *cli, const cli_args_t *a)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    if (!cli_flag(a, "name") && !cli_flag(a, "id"))
        return cli_usage_error(a, "--name or --id: required");
    if (!cli_flag(a, "threat"))
        return cli_usage_error(a, "--threat: required");
    Rapport__Leads__V1__Competitor comp = RAPPORT__LEADS__V1__COMPETITOR__INIT;
    int e;
    if (s_enum_flag(a, "threat", &rapport__leads__v1__threat_level__descriptor, cli_flag(a, "threat"), &e))
        return CLI_EXIT_USAGE;
    comp.threat = e;
    if (cli_flag(a, "name"))
        comp.name = (char *) cli_flag(a, "name");
    if (cli_flag(a, "id"))
        comp.competitor_id = (char *) cli_flag(a, "id");
    if (cli_flag(a, "note"))
        comp.note = (char *) cli_flag(a, "note");
    Rapport__Leads__V1__SetCompetitorRequest req = RAPPORT__LEADS__V1__SET_COMPETITOR_REQUEST__INIT;
    req.lead_id = (char *) a->pos[0];
    req.competitor = &comp;
    return s_show(cli, M("SetCompetitor"), &req.base, &rapport__leads__v1__lead__descriptor, id);
}

static const cli_flag_t s_competitor_remove_flags[] = {
    { "name",       "NAME", "the competitor's name", false },
    { "id",         "ID",   "the competitor's id", false },
    { "request-id", "ULID", "idempotency key", false },
    { NULL, NULL, NULL, false }
};

static int s_competitor_remove(cli_t *cli, const cli_args_t *a)
{
    const char *id;
    if (s_request_id(a, &id))
        return CLI_EXIT_USAGE;
    if (!cli_flag(a, "name") && !cli_flag(a, "id"))
        return cli_usage_error(a, "--name or --id: required");
    Rapport__Leads__V1__RemoveCompetitorRequest req = RAPPORT__LEADS__V1__REMOVE_COMPETITOR_REQUEST__INIT;
    req.lead_id = (char *) a->pos[0];
    if (cli_flag(a, "name"))
        req.name = (char *) cli_flag(a, "name");
    if (cli_flag(a, "id"))
        req.competitor_id = (char *) cli_flag(a, "id");
    return s_show(cli, M("RemoveCompetitor"), &req.base, &rapport__leads__v1__lead__descriptor, id);
}

static const cli_flag_t s_list_flags[] = {
    { "owner",       "USER",   "leads of this owner (default: yours)", false },
    { "stage",       "STAGE",  "leads in this stage: new, contacted, interested, needs_identified, offer, negotiation, won, lost", false },
    { "source",      "SOURCE", "leads from this source", false },
    { "campaign",    "NAME",   "leads of this campaign", false },
    { "close-from",  "DATE",   "expected close on or after DATE (with --close-to)", false },
    { "close-to",    "DATE",   "expected close before DATE (with --close-from)", false },
    { "name-prefix", "TEXT",   "company names starting with TEXT (case and accents folded)", false },
    S_PAGE_FLAGS,
    { NULL, NULL, NULL, false }
};

static int s_list_cmd(cli_t *cli, const cli_args_t *a)
{
    int filters = !!cli_flag(a, "owner") + !!cli_flag(a, "stage") + !!cli_flag(a, "source") +
                  !!cli_flag(a, "campaign") + !!(cli_flag(a, "close-from") || cli_flag(a, "close-to")) +
                  !!cli_flag(a, "name-prefix");
    if (filters > 1)
        return cli_usage_error(a, "one filter at a time: --owner, --stage, --source, --campaign, "
                               "--close-from/--close-to or --name-prefix");
    const ProtobufCMessageDescriptor *rd = &rapport__leads__v1__list_leads_reply__descriptor;
    const char *v;
    int e;
    if ((v = cli_flag(a, "stage"))) {
        Rapport__Leads__V1__ListByStageRequest req = RAPPORT__LEADS__V1__LIST_BY_STAGE_REQUEST__INIT;
        if (s_enum_flag(a, "stage", &rapport__leads__v1__lead_stage__descriptor, v, &e))
            return CLI_EXIT_USAGE;
        req.stage = e;
        return s_list(cli, a, M("ListByStage"), &req.base, rd, "leads", s_lead_cols, "leads");
    }
    if ((v = cli_flag(a, "source"))) {
        Rapport__Leads__V1__ListBySourceRequest req = RAPPORT__LEADS__V1__LIST_BY_SOURCE_REQUEST__INIT;
        if (s_enum_flag(a, "source", &rapport__leads__v1__lead_source__descriptor, v, &e))
            return CLI_EXIT_USAGE;
        req.source = e;
        return s_list(cli, a, M("ListBySource"), &req.base, rd, "leads", s_lead_cols, "leads");
    }
    if ((v = cli_flag(a, "campaign"))) {
        Rapport__Leads__V1__ListByCampaignRequest req = RAPPORT__LEADS__V1__LIST_BY_CAMPAIGN_REQUEST__INIT;
        req.campaign = (char *) v;
        return s_list(cli, a, M("ListByCampaign"), &req.base, rd, "leads", s_lead_cols, "leads");
    }
    if (cli_flag(a, "close-from") || cli_flag(a, "close-to")) {
        if (!cli_flag(a, "close-from") || !cli_flag(a, "close-to"))
            return cli_usage_error(a, "--close-from and --close-to go together");
        Rapport__Leads__V1__ListByCloseRequest req = RAPPORT__LEADS__V1__LIST_BY_CLOSE_REQUEST__INIT;
        if (s_date_flag(a, "close-from", cli_flag(a, "close-from"), &req.from) ||
            s_date_flag(a, "close-to", cli_flag(a, "close-to"), &req.to))
            return CLI_EXIT_USAGE;
        return s_list(cli, a, M("ListByClose"), &req.base, rd, "leads", s_lead_cols, "leads");
    }
    if ((v = cli_flag(a, "name-prefix"))) {
        Rapport__Leads__V1__SearchByNameRequest req = RAPPORT__LEADS__V1__SEARCH_BY_NAME_REQUEST__INIT;
        req.prefix = (char *) v;
        return s_list(cli, a, M("SearchByName"), &req.base, rd, "leads", s_lead_cols, "leads");
    }
    Rapport__Leads__V1__ListByOwnerRequest req = RAPPORT__LEADS__V1__LIST_BY_OWNER_REQUEST__INIT;
    if ((v = cli_flag(a, "owner")))
        req.owner = (char *) v;
    return s_list(cli, a, M("ListByOwner"), &req.base, rd, "leads", s_lead_cols, "leads");
}

static const cli_flag_t s_stale_flags[] = {
    { "days", "N", "no activity in the last N days (1..3650); required", false },
    S_PAGE_FLAGS,
    { NULL, NULL, NULL, false }
};

static int s_stale(cli_t *cli, const cli_args_t *a)
{
    Rapport__Leads__V1__ListStaleRequest req = RAPPORT__LEADS__V1__LIST_STALE_REQUEST__INIT;
    if (!cli_flag(a, "days"))
        return cli_usage_error(a, "--days: required");
    if (s_u32_flag(a, "days", cli_flag(a, "days"), 1000000, &req.days))
        return CLI_EXIT_USAGE;
    return s_list(cli, a, M("ListStale"), &req.base, &rapport__leads__v1__list_leads_reply__descriptor,
                  "leads", s_lead_cols, "stale leads");
}

static const cli_flag_t s_funnel_flags[] = {
    { "from", "DATE", "leads created on or after DATE (YYYY-MM-DD); required", false },
    { "to",   "DATE", "leads created before DATE; required", false },
    { NULL, NULL, NULL, false }
};

static void s_bp_text(uint32_t bp, char *out, size_t cap)
{
    snprintf(out, cap, "%u.%02u%%", bp / 100, bp % 100);
}

static int s_funnel(cli_t *cli, const cli_args_t *a)
{
    Rapport__Leads__V1__FunnelRequest req = RAPPORT__LEADS__V1__FUNNEL_REQUEST__INIT;
    if (!cli_flag(a, "from") || !cli_flag(a, "to"))
        return cli_usage_error(a, "--from and --to: required");
    if (s_date_flag(a, "from", cli_flag(a, "from"), &req.from) || s_date_flag(a, "to", cli_flag(a, "to"), &req.to))
        return CLI_EXIT_USAGE;
    Rapport__Leads__V1__FunnelReply *rep = NULL;
    int rc = s_rpc(cli, M("Funnel"), &req.base, &rapport__leads__v1__funnel_reply__descriptor, NULL,
                   (ProtobufCMessage **) &rep);
    if (rc)
        return rc;
    if (cli->json) {
        cli_print_message(cli, &rep->base);
        rapport__leads__v1__funnel_reply__free_unpacked(rep, NULL);
        return CLI_EXIT_OK;
    }
    printf("funnel %s .. %s: %u leads%s\n\n", cli_flag(a, "from"), cli_flag(a, "to"), rep->total,
           rep->truncated ? " (truncated: the period holds more leads than one funnel reads)" : "");
    const char *sh[] = { "STAGE", "NOW", "REACHED", "CONVERSION", "VALUE" };
    cli_table_t *t = cli_table_new(5, sh);
    for (size_t i = 0; i < rep->n_stages; i++) {
        const Rapport__Leads__V1__FunnelStage *s = rep->stages[i];
        char stage[64], now[16], reached[16], conv[16];
        cli_enum_short(&rapport__leads__v1__lead_stage__descriptor, s->stage, stage, sizeof stage);
        snprintf(now, sizeof now, "%u", s->count);
        snprintf(reached, sizeof reached, "%u", s->reached);
        s_bp_text(s->conversion_bp, conv, sizeof conv);
        char *value = cli_field_text(&s->base, "value");
        const char *row[] = { stage, now, reached, conv, value };
        cli_table_add(t, row);
        free(value);
    }
    cli_table_set_cut(t, 0);
    cli_table_print(t, stdout);
    cli_table_destroy(&t);
    if (rep->n_sources) {
        fputc('\n', stdout);
        const char *oh[] = { "SOURCE", "TOTAL", "WON", "LOST", "CONVERSION" };
        t = cli_table_new(5, oh);
        for (size_t i = 0; i < rep->n_sources; i++) {
            const Rapport__Leads__V1__FunnelSource *s = rep->sources[i];
            char src[64], total[16], won[16], lost[16], conv[16];
            cli_enum_short(&rapport__leads__v1__lead_source__descriptor, s->source, src, sizeof src);
            snprintf(total, sizeof total, "%u", s->total);
            snprintf(won, sizeof won, "%u", s->won);
            snprintf(lost, sizeof lost, "%u", s->lost);
            s_bp_text(s->conversion_bp, conv, sizeof conv);
            const char *row[] = { src, total, won, lost, conv };
            cli_table_add(t, row);
        }
        cli_table_print(t, stdout);
        cli_table_destroy(&t);
    }
    rapport__leads__v1__funnel_reply__free_unpacked(rep, NULL);
    return CLI_EXIT_OK;
}

const cli_cmd_t cli_leads_cmds[] = {
    { "create", "", "create a lead (Create)", s_create_flags, 0, 0, s_create,
      "Required: --company and --source (or --from-json). A duplicate in your branch (same tax id, or\n"
      "  same company name and contact e-mail) answers ALREADY_EXISTS with the existing lead's id." },
    { "get", "ID", "show one lead (Get)", NULL, 1, 1, s_get, NULL },
    { "update", "ID", "change the fields given as flags, leaving the others (Update)", s_update_flags, 1, 1, s_update,
      "Only the flags given are changed (update_mask); --contact replaces the whole contact list." },
    { "assign", "ID", "give a lead to another owner (Assign; needs leads.assign)", s_assign_flags, 1, 1, s_assign, NULL },
    { "stage", "ID STAGE", "move a lead to a funnel stage (SetStage)", s_stage_flags, 2, 2, s_stage,
      "STAGE: new, contacted, interested, needs_identified, offer, negotiation, won, lost. Forward any\n"
      "  number of steps, back one; won needs a decision maker and a value; lost needs --reason." },
    { "reopen", "ID", "reopen a lost lead (Reopen)", s_reopen_flags, 1, 1, s_reopen, NULL },
    { "qualify", "ID", "score the lead's interest, capacity, reliability and risks (Qualify)",
      s_qualify_flags, 1, 1, s_qualify,
      "score = 8*interest + 7*financial + 5*reliability - 10 per risk flag (0..100)." },
    { "disqualify", "ID", "mark a lead unprofitable and lost (Disqualify)", s_disqualify_flags, 1, 1, s_disqualify, NULL },
    { "win", "ID", "mark a lead won (SetStage won)", s_win_flags, 1, 1, s_win, NULL },
    { "lose", "ID", "mark a lead lost (SetStage lost)", s_stage_flags, 1, 1, s_lose,
      "--reason is required; with --reason competitor give --competitor or --competitor-id." },
    { "activity log", "LEAD", "log a call, meeting, e-mail... (LogActivity)", s_activity_log_flags, 1, 1, s_activity_log, NULL },
    { "activity list", "LEAD", "list a lead's activities, oldest first (ListActivities)", s_page_flags, 1, 1, s_activity_list, NULL },
    { "objection add", "LEAD", "record a client's objection (RecordObjection)", s_objection_add_flags, 1, 1, s_objection_add, NULL },
    { "objection resolve", "LEAD OBJECTION", "mark an objection resolved (UpdateObjection)",
      s_objection_resolve_flags, 2, 2, s_objection_resolve, NULL },
    { "offer create", "LEAD", "draft an offer (AddOffer)", s_offer_flags, 1, 1, s_offer_create,
      "Totals are computed by the service: line total = quantity * unit price, discount on the subtotal." },
    { "offer update", "LEAD OFFER", "replace a draft offer's lines and terms (UpdateOffer)", s_offer_flags, 2, 2, s_offer_update, NULL },
    { "offer send", "LEAD OFFER", "send a draft offer to the client (SendOffer)", s_offer_action_flags, 2, 2, s_offer_send, NULL },
    { "offer accept", "LEAD OFFER", "the client accepted a sent offer (AcceptOffer)", s_offer_action_flags, 2, 2, s_offer_accept, NULL },
    { "offer reject", "LEAD OFFER", "the client rejected a sent offer (RejectOffer)", s_offer_reject_flags, 2, 2, s_offer_reject, NULL },
    { "competitor add", "LEAD", "add or update a competitor in the deal (SetCompetitor)",
      s_competitor_add_flags, 1, 1, s_competitor_add, NULL },
    { "competitor remove", "LEAD", "remove a competitor from the deal (RemoveCompetitor)",
      s_competitor_remove_flags, 1, 1, s_competitor_remove, NULL },
    { "list", "", "list leads: yours, or by one filter (ListBy*, SearchByName)", s_list_flags, 0, 0, s_list_cmd,
      "Without a filter: your own leads (ListByOwner). One filter at a time." },
    { "stale", "", "open leads with no activity for --days days (ListStale)", s_stale_flags, 0, 0, s_stale, NULL },
    { "funnel", "", "the funnel of leads created in a period: stages, conversion, sources (Funnel)",
      s_funnel_flags, 0, 0, s_funnel, NULL },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }
};
