/* cli_import.c - `rapport import leads FILE.csv` and `rapport import clients
 * FILE.csv`: bulk creation from a CSV file (libcsv). The header row names the
 * columns (docs/CLI.md lists them). Each good row becomes a create request whose
 * import_key is the hex BLAKE2b-128 of the normalised row and whose request id is
 * derived from that key, so running the same file again creates nothing twice: the
 * service answers ALREADY_EXISTS for a known import_key (or replays its stored reply
 * for a known request id), both counted as "already imported". Requests are
 * pipelined (64 in flight by default), with a progress bar on a terminal. Bad rows
 * are reported (row number, field, rule) and skipped; good rows land.
 *
 * Leads: a row is a Leads/Create. Clients: rows are grouped into clients by tax id
 * (folded to letters and digits, as the service compares it; rows without one by
 * their client columns), and the first row of a client gives its fields. Each
 * client is an Accounts/CreateClient (a client that exists with that tax id answers
 * ALREADY_EXISTS with its id), then each row's contact, if it has one, an
 * Accounts/CreateContact of that client with its own import key.
 */
#include <ctype.h>
#include <csv.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "cli.h"
#include "rapport/clock.h"
#include "rapport/status.h"
#include "rapport/ulid.h"
#include "rapport/util.h"
#include "rapport/pbjson.h"
#include "rapport/leads/v1/leads.pb-c.h"
#include "rapport/accounts/v1/accounts.pb-c.h"

#define MAX_INFLIGHT 512
#define MAX_FIELDS 64

/* The columns, in the canonical order the import key hashes them. */
enum {
    C_COMPANY, C_TAX_ID, C_REGION, C_INDUSTRY, C_SIZE, C_CONTACT_NAME, C_CONTACT_ROLE,
    C_CONTACT_EMAIL, C_CONTACT_PHONE, C_CONTACT_POSITION, C_SOURCE, C_REFERRER, C_CAMPAIGN,
    C_NEEDS, C_VALUE, C_CURRENCY, C_CLOSE, C_OWNER, C_OWNER_UNIT, C_COUNT
};

typedef struct {
    const char *name;
    const char *aliases[3];
    char fold;          /* 'l' lower-case, 'u' upper-case, 0 as is (for the key) */
    const char *path;   /* clients: the request field ("+...": of the contact), or NULL */
} s_column_t;

static const s_column_t s_columns[C_COUNT] = {
    [C_COMPANY]          = { "company", { "company_name", NULL }, 0, NULL },
    [C_TAX_ID]           = { "tax_id", { NULL }, 0, NULL },
    [C_REGION]           = { "region", { NULL }, 0, NULL },
    [C_INDUSTRY]         = { "industry", { NULL }, 0, NULL },
    [C_SIZE]             = { "size", { "company_size", NULL }, 'l', NULL },
    [C_CONTACT_NAME]     = { "contact_name", { "contact", NULL }, 0, NULL },
    [C_CONTACT_ROLE]     = { "contact_role", { "role", NULL }, 'l', NULL },
    [C_CONTACT_EMAIL]    = { "contact_email", { "email", NULL }, 'l', NULL },
    [C_CONTACT_PHONE]    = { "contact_phone", { "phone", NULL }, 0, NULL },
    [C_CONTACT_POSITION] = { "contact_position", { "position", NULL }, 0, NULL },
    [C_SOURCE]           = { "source", { NULL }, 'l', NULL },
    [C_REFERRER]         = { "referrer_client_id", { "referrer", NULL }, 0, NULL },
    [C_CAMPAIGN]         = { "campaign", { NULL }, 0, NULL },
    [C_NEEDS]            = { "needs", { NULL }, 0, NULL },
    [C_VALUE]            = { "value", { "expected_value", NULL }, 0, NULL },
    [C_CURRENCY]         = { "currency", { NULL }, 'u', NULL },
    [C_CLOSE]            = { "close", { "expected_close", "close_date" }, 0, NULL },
    [C_OWNER]            = { "owner", { NULL }, 0, NULL },
    [C_OWNER_UNIT]       = { "owner_unit", { NULL }, 0, NULL },
};

/* ---- reading the file ---- */

typedef struct {
    char **fields;
    size_t n;
} s_row_t;

typedef struct {
    s_row_t *rows;
    size_t n, cap;
    s_row_t cur;
    size_t cur_cap;
} s_csv_t;

static void s_on_field(void *data, size_t len, void *arg)
{
    s_csv_t *c = arg;
    if (c->cur.n == c->cur_cap) {
        c->cur_cap = c->cur_cap ? c->cur_cap * 2 : 16;
        c->cur.fields = rp_realloc(c->cur.fields, c->cur_cap * sizeof(char *));
    }
    c->cur.fields[c->cur.n++] = rp_strndup(data ? data : "", data ? len : 0);
}

static void s_on_row(int term, void *arg)
{
    (void) term;
    s_csv_t *c = arg;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->rows = rp_realloc(c->rows, c->cap * sizeof(s_row_t));
    }
    c->rows[c->n++] = c->cur;
    memset(&c->cur, 0, sizeof c->cur);
    c->cur_cap = 0;
}

static void s_csv_free(s_csv_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        for (size_t k = 0; k < c->rows[i].n; k++)
            free(c->rows[i].fields[k]);
        free(c->rows[i].fields);
    }
    free(c->rows);
    for (size_t k = 0; k < c->cur.n; k++)
        free(c->cur.fields[k]);
    free(c->cur.fields);
}

/* s_read_csv - parse the whole file into rows. 0, or -1 with why. */
static int s_read_csv(const char *path, unsigned char delim, s_csv_t *out, char *why, size_t cap)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(why, cap, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct csv_parser p;
    if (csv_init(&p, CSV_APPEND_NULL) != 0) {
        snprintf(why, cap, "cannot initialise the CSV parser");
        if (f != stdin)
            fclose(f);
        return -1;
    }
    csv_set_delim(&p, delim);
    char buf[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        if (csv_parse(&p, buf, n, s_on_field, s_on_row, out) != n) {
            snprintf(why, cap, "%s: %s", path, csv_strerror(csv_error(&p)));
            rc = -1;
            break;
        }
    if (rc == 0 && ferror(f)) {
        snprintf(why, cap, "cannot read %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0)
        csv_fini(&p, s_on_field, s_on_row, out);
    csv_free(&p);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* ---- rows to requests ---- */

typedef struct {
    size_t row;             /* row number in the file, the header being row 1 */
    size_t seq;             /* order of report, for a stable sort */
    char code[32];
    char field[128];
    char rule[384];
} s_error_t;

typedef struct {
    s_error_t *v;
    size_t n, cap;
} s_errors_t;

static void s_error_add(s_errors_t *e, size_t row, const char *code, const char *field, const char *rule)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->v = rp_realloc(e->v, e->cap * sizeof(s_error_t));
    }
    s_error_t *x = &e->v[e->n];
    x->seq = e->n++;
    x->row = row;
    rp_strlcpy(x->code, code, sizeof x->code);
    rp_strlcpy(x->field, field ? field : "", sizeof x->field);
    rp_strlcpy(x->rule, rule ? rule : "", sizeof x->rule);
}

static char *s_normalise(const char *s, char fold)
{
    char *out = rp_malloc(strlen(s) + 1);
    size_t o = 0;
    bool space = false;
    while (isspace((unsigned char) *s))
        s++;
    for (; *s; s++) {
        if (isspace((unsigned char) *s)) {
            space = true;
            continue;
        }
        if (space && o)
            out[o++] = ' ';
        space = false;
        char ch = *s;
        if (fold == 'l')
            ch = (char) tolower((unsigned char) ch);
        else if (fold == 'u')
            ch = (char) toupper((unsigned char) ch);
        out[o++] = ch;
    }
    out[o] = 0;
    return out;
}

/* s_fold_tax_id - the letters and digits of s, upper-case, as the services compare tax ids. */
static void s_fold_tax_id(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 1 < cap; s++)
        if (isalnum((unsigned char) *s))
            out[o++] = (char) toupper((unsigned char) *s);
    out[o] = 0;
}

/* s_enum_col - parse an enum column; on failure add an error naming the choices. */
static int s_enum_col(s_errors_t *errs, size_t row, const char *col, const ProtobufCEnumDescriptor *d,
                      const char *text, int *out)
{
    if (cli_enum_parse(d, text, out) == 0)
        return 0;
    char ch[1024];
    cli_enum_choices(d, ch, sizeof ch);
    char *why = rp_sprintf("unknown value '%s'; one of: %s", text, ch);
    s_error_add(errs, row, "INVALID_ARGUMENT", col, why);
    free(why);
    return -1;
}

/* ---- import keys ---- */

/* s_hash_begin / s_hash_col / s_hash_end - import_key = hex BLAKE2b-128 over
 * "name=value\x1f" of each column in the canonical order. */
static void s_hash_col(crypto_generichash_state *st, const char *name, const char *val)
{
    crypto_generichash_update(st, (const unsigned char *) name, strlen(name));
    crypto_generichash_update(st, (const unsigned char *) "=", 1);
    crypto_generichash_update(st, (const unsigned char *) val, strlen(val));
    crypto_generichash_update(st, (const unsigned char *) "\x1f", 1);
}

static void s_hash_end(crypto_generichash_state *st, char key[33])
{
    unsigned char h[16];
    crypto_generichash_final(st, h, sizeof h);
    rp_hex_encode(h, sizeof h, key);
}

/* s_request_id - the request id of an import key: a ULID-shaped BLAKE2b-128 of it. */
static void s_request_id(const char key[33], char out[RP_ULID_STRLEN + 1])
{
    static const char ctx[] = "rapport.import.request:";
    unsigned char in[sizeof ctx - 1 + 32];
    memcpy(in, ctx, sizeof ctx - 1);
    memcpy(in + sizeof ctx - 1, key, 32);
    rp_ulid_t u;
    crypto_generichash(u.b, sizeof u.b, in, sizeof in, NULL, 0);
    rp_ulid_format(&u, out);
}

/* A set of import keys (open addressing on the key's first 64 bits): what a row
 * repeats of an earlier one. */
typedef struct {
    const char **keys;
    size_t *rows;
    size_t cap;
} s_seen_t;

static void s_seen_init(s_seen_t *s, size_t n)
{
    s->cap = 64;
    while (s->cap < n * 2)
        s->cap *= 2;
    s->keys = rp_calloc(s->cap, sizeof *s->keys);
    s->rows = rp_calloc(s->cap, sizeof *s->rows);
}

/* s_seen_put - 0 after adding key (borrowed: it must outlive the set) of row, or
 * the row that had it first. */
static size_t s_seen_put(s_seen_t *s, const char *key, size_t row)
{
    char head[17];
    memcpy(head, key, 16);
    head[16] = 0;
    size_t slot = (size_t) strtoull(head, NULL, 16) & (s->cap - 1);
    for (; s->keys[slot]; slot = (slot + 1) & (s->cap - 1))
        if (strcmp(s->keys[slot], key) == 0)
            return s->rows[slot];
    s->keys[slot] = key;
    s->rows[slot] = row;
    return 0;
}

static void s_seen_free(s_seen_t *s)
{
    free(s->keys);
    free(s->rows);
}

/* ---- leads ---- */

/* A prepared row: the request and what its strings point into. */
typedef struct {
    size_t row;
    char *vals[C_COUNT];    /* normalised values (malloc'd) */
    char import_key[33];
    char request_id[RP_ULID_STRLEN + 1];
    Rapport__Leads__V1__CreateRequest req;
    Rapport__Leads__V1__Company company;
    Rapport__Leads__V1__Contact contact, *contacts[1];
    Rapport__V1__Money value;
    Rapport__V1__Date close;
    bool done;
} s_item_t;

static void s_item_free(s_item_t *it)
{
    for (int k = 0; k < C_COUNT; k++)
        free(it->vals[k]);
}

/* s_prepare - check a row locally and build its request; 0, or -1 after adding
 * its errors. */
static int s_prepare(s_item_t *it, s_errors_t *errs)
{
    char why[256];
    int bad = 0;
    char **v = it->vals;
    Rapport__Leads__V1__CreateRequest req0 = RAPPORT__LEADS__V1__CREATE_REQUEST__INIT;
    Rapport__Leads__V1__Company co0 = RAPPORT__LEADS__V1__COMPANY__INIT;
    Rapport__Leads__V1__Contact ct0 = RAPPORT__LEADS__V1__CONTACT__INIT;
    Rapport__V1__Money mo0 = RAPPORT__V1__MONEY__INIT;
    Rapport__V1__Date da0 = RAPPORT__V1__DATE__INIT;
    it->req = req0;
    it->company = co0;
    it->contact = ct0;
    it->value = mo0;
    it->close = da0;

    if (!v[C_COMPANY][0]) {
        s_error_add(errs, it->row, "INVALID_ARGUMENT", "company", "required");
        bad++;
    }
    it->company.name = v[C_COMPANY];
    it->company.tax_id = v[C_TAX_ID];
    it->company.region = v[C_REGION];
    it->company.industry = v[C_INDUSTRY];
    int e;
    if (v[C_SIZE][0]) {
        if (s_enum_col(errs, it->row, "size", &rapport__leads__v1__company_size__descriptor, v[C_SIZE], &e) != 0) {
            bad++;
        } else {
            it->company.size = e;
        }
    }
    it->req.company = &it->company;

    bool any_contact = false;
    for (int k = C_CONTACT_NAME; k <= C_CONTACT_POSITION; k++)
        any_contact |= v[k][0] != 0;
    if (any_contact) {
        if (!v[C_CONTACT_NAME][0]) {
            s_error_add(errs, it->row, "INVALID_ARGUMENT", "contact_name", "required with the other contact columns");
            bad++;
        }
        if (!v[C_CONTACT_ROLE][0]) {
            s_error_add(errs, it->row, "INVALID_ARGUMENT", "contact_role", "required with the other contact columns");
            bad++;
        } else if (s_enum_col(errs, it->row, "contact_role", &rapport__leads__v1__contact_role__descriptor,
                              v[C_CONTACT_ROLE], &e) != 0) {
            bad++;
        } else {
            it->contact.role = e;
        }
        it->contact.name = v[C_CONTACT_NAME];
        it->contact.email = v[C_CONTACT_EMAIL];
        it->contact.phone = v[C_CONTACT_PHONE];
        it->contact.position = v[C_CONTACT_POSITION];
        it->contacts[0] = &it->contact;
        it->req.contacts = it->contacts;
        it->req.n_contacts = 1;
    }

    if (!v[C_SOURCE][0]) {
        it->req.source = RAPPORT__LEADS__V1__LEAD_SOURCE__LEAD_SOURCE_IMPORT;
    } else if (s_enum_col(errs, it->row, "source", &rapport__leads__v1__lead_source__descriptor, v[C_SOURCE], &e) != 0) {
        bad++;
    } else {
        it->req.source = e;
    }
    it->req.referrer_client_id = v[C_REFERRER];
    it->req.campaign = v[C_CAMPAIGN];
    it->req.needs = v[C_NEEDS];

    if (v[C_VALUE][0]) {
        int64_t units;
        char code[4];
        if (cli_money_parse(v[C_VALUE], v[C_CURRENCY], &units, code, why, sizeof why) != 0) {
            s_error_add(errs, it->row, "INVALID_ARGUMENT", "value", why);
            bad++;
        } else {
            it->value.units = units;
            free(v[C_CURRENCY]);
            v[C_CURRENCY] = rp_strdup(code);    /* the key hashes the currency used */
            it->value.currency = v[C_CURRENCY];
            it->req.expected_value = &it->value;
        }
    }
    if (v[C_CLOSE][0]) {
        int y, m, d;
        if (cli_parse_date(v[C_CLOSE], &y, &m, &d) != 0) {
            snprintf(why, sizeof why, "must be a calendar date YYYY-MM-DD, got '%s'", v[C_CLOSE]);
            s_error_add(errs, it->row, "INVALID_ARGUMENT", "close", why);
            bad++;
        } else {
            it->close.year = y;
            it->close.month = m;
            it->close.day = d;
            it->req.expected_close = &it->close;
        }
    }
    it->req.owner = v[C_OWNER];
    it->req.owner_unit = v[C_OWNER_UNIT];
    return bad ? -1 : 0;
}

/* s_key - the lead's import_key (every column) and request id. */
static void s_key(s_item_t *it)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    for (int k = 0; k < C_COUNT; k++)
        s_hash_col(&st, s_columns[k].name, it->vals[k]);
    s_hash_end(&st, it->import_key);
    it->req.import_key = it->import_key;
    s_request_id(it->import_key, it->request_id);
}

/* ---- progress ---- */

/* The progress bar: on a terminal, rows answered out of every row to send. */
typedef struct {
    bool on;
    size_t done, total;
} s_bar_t;

static void s_progress(bool on, size_t done, size_t total, bool final)
{
    static int64_t last;
    if (!on || total == 0)
        return;
    int64_t now = rp_clock_mono_us();
    if (!final && now - last < 100000)
        return;
    last = now;
    int width = 30, fill = (int) (done * (size_t) width / total);
    fprintf(stderr, "\rimporting [%.*s%*s] %zu/%zu rows %3zu%%", fill,
            "##############################", width - fill, "", done, total, done * 100 / total);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

/* ---- sending: a window of requests in flight ---- */

/* One request of an import and, once answered, its outcome. */
typedef struct {
    size_t row;                     /* for the report */
    const char *method;
    const ProtobufCMessage *msg;    /* borrowed */
    const ProtobufCMessageDescriptor *out;
    char request_id[RP_ULID_STRLEN + 1];
    int code;                       /* -1 until answered */
    char id[32];                    /* the record's id (OK), or the existing one (ALREADY_EXISTS) */
    bool created;                   /* OK and new, not a reply kept from an earlier run */
} s_send_t;

/* s_answer - the outcome of reply r to s. */
static void s_answer(s_send_t *s, const Rapport__V1__Reply *r, int64_t start_ms, s_errors_t *errs)
{
    rp_call_status_t st;
    memset(&st, 0, sizeof st);
    rp_status_from_reply(r, &st);
    s->code = st.code;
    if (st.code == RP_OK) {
        ProtobufCMessage *m = protobuf_c_message_unpack(s->out, NULL, r->body.len, r->body.data);
        s->created = true;
        if (m) {
            const ProtobufCFieldDescriptor *fid = cli_engine_field(m->descriptor, "id"),
                                           *fat = cli_engine_field(m->descriptor, "created_at");
            const char *id = *(char *const *) ((const char *) m + fid->offset);
            int64_t created_at = *(const int64_t *) ((const char *) m + fat->offset);
            rp_strlcpy(s->id, id ? id : "", sizeof s->id);
            /* A replayed reply (the request id was seen before) is an old record. */
            s->created = !(created_at && created_at < start_ms);
            protobuf_c_message_free_unpacked(m, NULL);
        }
    } else if (st.code == RP_ALREADY_EXISTS) {
        rp_strlcpy(s->id, st.existing_id, sizeof s->id);
    } else {
        if (st.n_violations == 0)
            s_error_add(errs, s->row, rp_code_name(st.code), "", st.message);
        for (size_t v = 0; v < st.n_violations && v < 8; v++)
            s_error_add(errs, s->row, rp_code_name(st.code), st.violations[v].field, st.violations[v].description);
    }
}

/* s_pipeline - send every request of v, window at a time, and record each answer.
 * Unanswered requests are sent again with the same ids (nothing is created twice),
 * twice at most. 0, CLI_EXIT_UNREACHABLE (those in flight are reported) or
 * CLI_EXIT_LOCAL. */
static int s_pipeline(cli_t *cli, rp_client_t *c, s_send_t **v, size_t n, int window, int64_t start_ms,
                      s_errors_t *errs, s_bar_t *bar)
{
    size_t next = 0, finished = 0;
    s_send_t *inflight[MAX_INFLIGHT];
    int nin = 0, stalls = 0;
    while (finished < n) {
        /* Fill the window. */
        while (nin < window && next < n) {
            s_send_t *s = v[next++];
            s->code = -1;
            if (rp_client_send(c, s->request_id, s->method, s->msg, NULL) != 0)
                return cli_local_error(cli, "cannot send to %s", cli->endpoint);
            inflight[nin++] = s;
        }
        if (nin == 0)
            break;
        Rapport__V1__Reply *reply = NULL;
        int r = rp_client_recv(c, cli->timeout_ms, &reply);
        if (r == 1) {
            if (++stalls > 2) {
                for (int k = 0; k < nin; k++) {
                    inflight[k]->code = RP_UNAVAILABLE;
                    s_error_add(errs, inflight[k]->row, "UNAVAILABLE", "", "no answer from the service");
                }
                return CLI_EXIT_UNREACHABLE;
            }
            for (int k = 0; k < nin; k++)
                rp_client_send(c, inflight[k]->request_id, inflight[k]->method, inflight[k]->msg, NULL);
            continue;
        }
        if (r < 0 || !reply)
            continue;
        stalls = 0;
        int k;
        for (k = 0; k < nin; k++)
            if (reply->id && strcmp(reply->id, inflight[k]->request_id) == 0)
                break;
        if (k == nin) {         /* a late duplicate of a resent request */
            rapport__v1__reply__free_unpacked(reply, NULL);
            continue;
        }
        s_send_t *s = inflight[k];
        inflight[k] = inflight[--nin];
        finished++;
        s_answer(s, reply, start_ms, errs);
        rapport__v1__reply__free_unpacked(reply, NULL);
        bar->done++;
        s_progress(bar->on, bar->done, bar->total, false);
    }
    return 0;
}

/* s_tally - add the outcomes of v to the counts: created, already there (a kept
 * reply or ALREADY_EXISTS), failed (any other answer). */
static void s_tally(const s_send_t *v, size_t n, size_t *created, size_t *already, size_t *failed)
{
    for (size_t i = 0; i < n; i++) {
        *created += v[i].code == RP_OK && v[i].created;
        *already += (v[i].code == RP_OK && !v[i].created) || v[i].code == RP_ALREADY_EXISTS;
        *failed += v[i].code > 0 && v[i].code != RP_ALREADY_EXISTS;
    }
}

/* ---- the commands ---- */

static const cli_flag_t s_import_flags[] = {
    { "report",    "FILE", "also write the per-row errors as CSV (row,code,field,rule) to FILE", false },
    { "in-flight", "N",    "requests in flight at once, 1..512 (default 64)", false },
    { "delimiter", "CHAR", "field separator (default ','; e.g. ';')", false },
    { "dry-run",   NULL,   "check the rows locally and send nothing", false },
    { NULL, NULL, NULL, false }
};

static int s_write_report(const char *path, const s_errors_t *errs)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("row,code,field,rule\n", f);
    for (size_t i = 0; i < errs->n; i++) {
        const s_error_t *e = &errs->v[i];
        fprintf(f, "%zu,", e->row);
        csv_fwrite(f, e->code, strlen(e->code));
        fputc(',', f);
        csv_fwrite(f, e->field, strlen(e->field));
        fputc(',', f);
        csv_fwrite(f, e->rule, strlen(e->rule));
        fputc('\n', f);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int s_error_cmp(const void *a, const void *b)
{
    const s_error_t *x = a, *y = b;
    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* s_options - --in-flight and --delimiter. 0 or the exit code. */
static int s_options(const cli_args_t *a, int *window, unsigned char *delim)
{
    *window = 64;
    if (cli_flag(a, "in-flight")) {
        uint64_t w;
        if (cli_parse_u64(cli_flag(a, "in-flight"), &w) != 0 || w < 1 || w > MAX_INFLIGHT)
            return cli_usage_error(a, "--in-flight: must be from 1 to %d", MAX_INFLIGHT);
        *window = (int) w;
    }
    *delim = ',';
    if (cli_flag(a, "delimiter")) {
        const char *d = cli_flag(a, "delimiter");
        if (strcmp(d, "\\t") == 0 || strcmp(d, "tab") == 0)
            *delim = '\t';
        else if (strlen(d) == 1 && d[0] != '"' && d[0] != '\n')
            *delim = (unsigned char) d[0];
        else
            return cli_usage_error(a, "--delimiter: must be one character (or 'tab')");
    }
    return 0;
}

/* s_load - read the file and map its header row onto cols (map[k]: the column of
 * field k); the column `need` must be there. 0, or the exit code after printing why
 * (csv is then freed). */
static int s_load(cli_t *cli, const cli_args_t *a, unsigned char delim, const s_column_t *cols, int ncols,
                  int need, s_csv_t *csv, int map[MAX_FIELDS])
{
    const char *path = a->pos[0];
    char why[512];
    if (s_read_csv(path, delim, csv, why, sizeof why) != 0) {
        s_csv_free(csv);
        return cli_local_error(cli, "%s", why);
    }
    if (csv->n == 0) {
        s_csv_free(csv);
        return cli_usage_error(a, "%s: empty file: the first row must name the columns", path);
    }
    const s_row_t *hdr = &csv->rows[0];
    if (hdr->n > MAX_FIELDS) {
        s_csv_free(csv);
        return cli_usage_error(a, "%s: more than %d columns", path, MAX_FIELDS);
    }
    bool have_need = false;
    for (size_t k = 0; k < hdr->n; k++) {
        const char *raw = hdr->fields[k];
        if (k == 0 && (unsigned char) raw[0] == 0xEF && (unsigned char) raw[1] == 0xBB && (unsigned char) raw[2] == 0xBF)
            raw += 3;   /* a UTF-8 byte order mark */
        char *name = s_normalise(raw, 'l');
        for (char *p = name; *p; p++)
            if (*p == ' ' || *p == '-')
                *p = '_';
        map[k] = -1;
        for (int c = 0; c < ncols && map[k] < 0; c++) {
            if (strcmp(name, cols[c].name) == 0)
                map[k] = c;
            for (int al = 0; al < 3 && cols[c].aliases[al]; al++)
                if (strcmp(name, cols[c].aliases[al]) == 0)
                    map[k] = c;
        }
        int rc = 0;
        if (map[k] < 0) {
            char list[1024] = "";
            for (int c = 0; c < ncols; c++) {
                strncat(list, c ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, cols[c].name, sizeof list - strlen(list) - 1);
            }
            rc = cli_usage_error(a, "%s: unknown column '%s' in the header row; columns: %s", path, name, list);
        }
        for (size_t j = 0; j < k && rc == 0; j++)
            if (map[j] == map[k])
                rc = cli_usage_error(a, "%s: column '%s' appears twice in the header row", path, name);
        free(name);
        if (rc) {
            s_csv_free(csv);
            return rc;
        }
        have_need |= map[k] == need;
    }
    if (!have_need) {
        s_csv_free(csv);
        return cli_usage_error(a, "%s: the header row has no '%s' column", path, cols[need].name);
    }
    return 0;
}

/* s_values - the normalised values of data row r (every column, "" when absent). */
static void s_values(const s_csv_t *csv, size_t r, const int *map, const s_column_t *cols, int ncols, char **vals)
{
    const s_row_t *hdr = &csv->rows[0], *row = &csv->rows[r];
    for (int c = 0; c < ncols; c++)
        vals[c] = NULL;
    for (size_t k = 0; k < row->n && k < hdr->n; k++)
        vals[map[k]] = s_normalise(row->fields[k], cols[map[k]].fold);
    for (int c = 0; c < ncols; c++)
        if (!vals[c])
            vals[c] = rp_strdup("");
}

/* s_too_wide - report data row r when it has more fields than the header. */
static bool s_too_wide(const s_csv_t *csv, size_t r, s_errors_t *errs)
{
    if (csv->rows[r].n <= csv->rows[0].n)
        return false;
    char why[128];
    snprintf(why, sizeof why, "the row has %zu fields, the header %zu", csv->rows[r].n, csv->rows[0].n);
    s_error_add(errs, r + 1, "INVALID_ARGUMENT", "", why);
    return true;
}

/* s_print_errors - the errors, sorted, on stdout (not with --json), and --report. 0 or
 * the exit code of a report that cannot be written. */
static int s_print_errors(cli_t *cli, const cli_args_t *a, s_errors_t *errs)
{
    if (errs->n)
        qsort(errs->v, errs->n, sizeof *errs->v, s_error_cmp);
    int rc = 0;
    if (cli_flag(a, "report") && s_write_report(cli_flag(a, "report"), errs) != 0)
        rc = cli_local_error(cli, "cannot write the report %s: %s", cli_flag(a, "report"), strerror(errno));
    for (size_t i = 0; !cli->json && i < errs->n; i++) {
        const s_error_t *e = &errs->v[i];
        if (e->field[0])
            printf("row %zu: %s: %s (%s)\n", e->row, e->field, e->rule, e->code);
        else
            printf("row %zu: %s: %s\n", e->row, e->code, e->rule);
    }
    return rc;
}

/* s_errors_json - the errors as a JSON array. */
static json_t *s_errors_json(const s_errors_t *errs)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < errs->n; i++)
        json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s}", "row", (json_int_t) errs->v[i].row,
                                             "code", errs->v[i].code, "field", errs->v[i].field,
                                             "rule", errs->v[i].rule));
    return arr;
}

static int s_import_leads(cli_t *cli, const cli_args_t *a)
{
    const char *path = a->pos[0];
    int window;
    unsigned char delim;
    int rc = s_options(a, &window, &delim);
    if (rc)
        return rc;
    bool dry = cli_flag_set(a, "dry-run");
    s_csv_t csv = { 0 };
    int map[MAX_FIELDS];
    if ((rc = s_load(cli, a, delim, s_columns, C_COUNT, C_COMPANY, &csv, map)) != 0)
        return rc;

    /* Prepare every row: local checks, import key, request id. */
    size_t nrows = csv.n - 1;
    s_item_t *items = rp_calloc(nrows ? nrows : 1, sizeof *items);
    s_send_t *sends = rp_calloc(nrows ? nrows : 1, sizeof *sends), **queue = rp_calloc(nrows ? nrows : 1, sizeof *queue);
    s_errors_t errs = { 0 };
    size_t good = 0, bad = 0, dup = 0, created = 0, already = 0, failed = 0;
    const char *defcur = cli_default_currency();
    s_seen_t seen;
    s_seen_init(&seen, nrows);
    for (size_t i = 0; i < nrows; i++) {
        s_item_t *it = &items[i];
        it->row = i + 2;
        s_values(&csv, i + 1, map, s_columns, C_COUNT, it->vals);
        if (it->vals[C_VALUE][0] && !it->vals[C_CURRENCY][0]) {
            free(it->vals[C_CURRENCY]);
            it->vals[C_CURRENCY] = s_normalise(defcur, 'u');
        }
        if (s_too_wide(&csv, i + 1, &errs) || s_prepare(it, &errs) != 0) {
            bad++;
            continue;
        }
        s_key(it);
        /* The same row twice in the file: import it once. */
        size_t first = s_seen_put(&seen, it->import_key, it->row);
        if (first) {
            char why[64];
            snprintf(why, sizeof why, "the same as row %zu", first);
            s_error_add(&errs, it->row, "ALREADY_EXISTS", "", why);
            dup++;
            continue;
        }
        sends[good] = (s_send_t) { .row = it->row, .method = "rapport.leads.v1.Leads/Create", .msg = &it->req.base,
                                   .out = &rapport__leads__v1__lead__descriptor, .code = -1 };
        memcpy(sends[good].request_id, it->request_id, sizeof it->request_id);
        queue[good] = &sends[good];
        good++;
    }

    bool tty = !cli->json && isatty(STDERR_FILENO);
    if (!dry && good) {
        rc = cli_get_token(cli, true);
        rp_client_t *c = NULL;
        if (rc == 0)
            rc = cli_connect(cli, "leads", &c);
        s_bar_t bar = { tty, 0, good };
        if (rc == 0)
            rc = s_pipeline(cli, c, queue, good, window, rp_clock_now_ms(), &errs, &bar);
        s_progress(tty, bar.done, good, true);
        rp_client_destroy(&c);
        s_tally(sends, good, &created, &already, &failed);
    }

    int report_rc = 0;
    if (rc != CLI_EXIT_LOCAL && rc != CLI_EXIT_USAGE) {
        /* (When nothing was sent for want of a token or keys, the message said why.) */
        report_rc = s_print_errors(cli, a, &errs);
        if (cli->json) {
            json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:o}", "file", path,
                                  "rows", (json_int_t) nrows, "created", (json_int_t) created,
                                  "already_imported", (json_int_t) already,
                                  "duplicate_rows", (json_int_t) dup,
                                  "invalid", (json_int_t) bad, "failed", (json_int_t) failed,
                                  "dry_run", dry, "errors", s_errors_json(&errs));
            cli_print_json(j);
            json_decref(j);
        } else if (dry) {
            printf("checked %s: %zu rows, %zu good, %zu invalid, %zu duplicate rows (dry run: nothing sent)\n",
                   path, nrows, good, bad, dup);
        } else {
            printf("imported %s: %zu rows, %zu created, %zu already imported, %zu duplicate rows, "
                   "%zu invalid, %zu failed\n", path, nrows, created, already, dup, bad, failed);
        }
    }
    for (size_t i = 0; i < nrows; i++)
        s_item_free(&items[i]);
    free(items);
    free(sends);
    free(queue);
    s_seen_free(&seen);
    free(errs.v);
    s_csv_free(&csv);
    if (rc)
        return rc;
    if (report_rc)
        return report_rc;
    return (bad || failed) ? CLI_EXIT_SERVICE : CLI_EXIT_OK;
}

/* ---- clients ---- */

/* The client columns, in the canonical order the import keys hash them; a path
 * "+..." is a field of the row's contact (CreateContactRequest). */
enum { K_LEGAL_NAME = 1, K_TAX_ID = 3, K_CONTACT = 21, K_COUNT = 30 };

static const s_column_t s_client_columns[K_COUNT] = {
    { "kind",             { NULL },                     'l', "kind" },
    { "legal_name",       { "name", "company", NULL },  0,   "legal_name" },
    { "trade_name",       { NULL },                     0,   "trade_name" },
    { "tax_id",           { NULL },                     0,   "tax_id" },
    { "country",          { NULL },                     'u', "country" },
    { "region",           { NULL },                     0,   "region" },
    { "address_line1",    { "address", "street", NULL }, 0,  "address.line1" },
    { "address_line2",    { NULL },                     0,   "address.line2" },
    { "city",             { NULL },                     0,   "address.city" },
    { "postal_code",      { "zip", "postcode", NULL },  0,   "address.postal_code" },
    { "industry",         { NULL },                     0,   "industry" },
    { "size",             { "company_size", NULL },     'l', "size" },
    { "language",         { NULL },                     'l', "language" },
    { "tier",             { NULL },                     'l', "tier" },
    { "lifecycle",        { NULL },                     'l', "lifecycle" },
    { "segments",         { "segment", NULL },          0,   "segments" },
    { "parent_id",        { "parent", NULL },           0,   "parent_id" },
    { "preferences",      { NULL },                     0,   "preferences" },
    { "notes",            { NULL },                     0,   "notes" },
    { "owner",            { NULL },                     0,   "owner" },
    { "owner_unit",       { NULL },                     0,   "owner_unit" },
    [K_CONTACT] =
    { "contact_name",     { "contact", NULL },          0,   "+name" },
    { "contact_position", { "position", NULL },         0,   "+position" },
    { "contact_role",     { "role", NULL },             'l', "+role" },
    { "contact_phone",    { "phone", "phones", NULL },  0,   "+phones" },
    { "contact_email",    { "email", "emails", NULL },  'l', "+emails" },
    { "contact_channel",  { "preferred_channel", NULL }, 'l', "+preferred_channel" },
    { "contact_consent",  { "consent", NULL },          'l', "+consent.state" },
    { "contact_do_not_contact", { "do_not_contact", NULL }, 'l', "+do_not_contact" },
    { "contact_note",     { NULL },                     0,   "+note" },
};

/* A row of the file: its client (the group it belongs to) and its contact. */
typedef struct {
    size_t row;
    char *vals[K_COUNT];
    json_t *client, *contact;       /* the requests as JSON (contact: NULL when none) */
    char client_key[33], contact_key[33];
    char client_body[33];           /* the key of every client column: its request id's */
    bool bad;
} s_crow_t;

/* s_cell_value - the JSON of column col's text for field fd: a string, a list of
 * ';'-separated strings, an enum by name, a yes/no. NULL after adding an error. */
static json_t *s_cell_value(s_errors_t *errs, size_t row, const s_column_t *col,
                            const ProtobufCFieldDescriptor *fd, const char *text)
{
    int e;
    if (fd->type == PROTOBUF_C_TYPE_ENUM)
        return s_enum_col(errs, row, col->name, fd->descriptor, text, &e) == 0 ? json_integer(e) : NULL;
    if (fd->type == PROTOBUF_C_TYPE_BOOL) {
        if (!strcmp(text, "yes") || !strcmp(text, "y") || !strcmp(text, "true") || !strcmp(text, "1"))
            return json_true();
        if (!strcmp(text, "no") || !strcmp(text, "n") || !strcmp(text, "false") || !strcmp(text, "0"))
            return json_false();
        s_error_add(errs, row, "INVALID_ARGUMENT", col->name, "must be yes or no");
        return NULL;
    }
    if (fd->label != PROTOBUF_C_LABEL_REPEATED)
        return json_string_nocheck(text);
    json_t *arr = json_array();
    char *buf = rp_strdup(text), *save = NULL;
    for (char *p = strtok_r(buf, ";", &save); p; p = strtok_r(NULL, ";", &save))
        if (*cli_engine_trim(p))
            json_array_append_new(arr, json_string_nocheck(cli_engine_trim(p)));
    free(buf);
    return arr;
}

/* s_prepare_client - check row r locally and build its client and contact requests
 * and their import keys. 0, or -1 after adding its errors. */
static int s_prepare_client(s_crow_t *r, s_errors_t *errs)
{
    char **v = r->vals;
    int bad = 0;
    r->client = json_object();
    if (!v[K_LEGAL_NAME][0]) {
        s_error_add(errs, r->row, "INVALID_ARGUMENT", "legal_name", "required");
        bad++;
    }
    if (!v[0][0])
        json_object_set_new(r->client, "kind", json_string("legal_entity"));
    bool any_contact = false;
    for (int k = K_CONTACT; k < K_COUNT; k++)
        any_contact |= v[k][0] != 0;
    if (any_contact) {
        r->contact = json_object();
        if (!v[K_CONTACT][0]) {
            s_error_add(errs, r->row, "INVALID_ARGUMENT", "contact_name", "required with the other contact columns");
            bad++;
        }
        if (!v[K_CONTACT + 2][0]) {
            s_error_add(errs, r->row, "INVALID_ARGUMENT", "contact_role", "required with the other contact columns");
            bad++;
        }
    }
    for (int k = 0; k < K_COUNT; k++) {
        const s_column_t *col = &s_client_columns[k];
        bool contact = col->path[0] == '+';
        if (!v[k][0] || (contact && !r->contact))
            continue;
        const char *path = col->path + contact;
        const ProtobufCMessageDescriptor *d = contact ? &rapport__accounts__v1__create_contact_request__descriptor
                                                      : &rapport__accounts__v1__create_client_request__descriptor;
        json_t *val = s_cell_value(errs, r->row, col, cli_engine_field(d, path), v[k]);
        if (!val) {
            bad++;
            continue;
        }
        cli_engine_set(contact ? r->contact : r->client, path, val);
    }
    if (r->contact && json_object_get(json_object_get(r->contact, "consent"), "state"))
        cli_engine_set(r->contact, "consent.source", json_string("import"));

    /* The client's key: its folded tax id, else every client column. */
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    char folded[256];
    s_fold_tax_id(v[K_TAX_ID], folded, sizeof folded);
    if (folded[0])
        s_hash_col(&st, "client.tax_id", folded);
    else
        for (int k = 0; k < K_CONTACT; k++)
            s_hash_col(&st, s_client_columns[k].name, v[k]);
    s_hash_end(&st, r->client_key);
    json_object_set_new(r->client, "import_key", json_string(r->client_key));
    /* The request id follows the whole request: a row that renames a client known by
     * its tax id is another request (answered ALREADY_EXISTS), not a changed retry. */
    crypto_generichash_init(&st, NULL, 0, 16);
    s_hash_col(&st, "client", r->client_key);
    for (int k = 0; k < K_CONTACT; k++)
        s_hash_col(&st, s_client_columns[k].name, v[k]);
    s_hash_end(&st, r->client_body);
    if (r->contact) {
        crypto_generichash_init(&st, NULL, 0, 16);
        s_hash_col(&st, "client", r->client_key);
        for (int k = K_CONTACT; k < K_COUNT; k++)
            s_hash_col(&st, s_client_columns[k].name, v[k]);
        s_hash_end(&st, r->contact_key);
        json_object_set_new(r->contact, "import_key", json_string(r->contact_key));
    }
    return bad ? -1 : 0;
}

/* s_send_json - a send of method with the request req (the message into *msg,
 * which the caller frees) and the request id of key; -1 when the service's type
 * refuses a value (a row error). */
static int s_send_json(s_send_t *s, size_t row, const char *method, const ProtobufCMessageDescriptor *in,
                       const ProtobufCMessageDescriptor *out, json_t *req, const char *key,
                       ProtobufCMessage **msg, s_errors_t *errs)
{
    char err[512];
    *msg = rp_pb_from_json(in, req, err, sizeof err);
    if (!*msg) {
        s_error_add(errs, row, "INVALID_ARGUMENT", "", err);
        return -1;
    }
    *s = (s_send_t) { .row = row, .method = method, .msg = *msg, .out = out, .code = -1 };
    s_request_id(key, s->request_id);
    return 0;
}

static int s_import_clients(cli_t *cli, const cli_args_t *a)
{
    const char *path = a->pos[0];
    int window;
    unsigned char delim;
    int rc = s_options(a, &window, &delim);
    if (rc)
        return rc;
    bool dry = cli_flag_set(a, "dry-run");
    s_csv_t csv = { 0 };
    int map[MAX_FIELDS];
    if ((rc = s_load(cli, a, delim, s_client_columns, K_COUNT, K_LEGAL_NAME, &csv, map)) != 0)
        return rc;

    size_t nrows = csv.n - 1, n1 = nrows ? nrows : 1;
    s_crow_t *rows = rp_calloc(n1, sizeof *rows);
    s_send_t *csends = rp_calloc(n1, sizeof *csends), *ksends = rp_calloc(n1, sizeof *ksends);
    s_send_t **cq = rp_calloc(n1, sizeof *cq), **kq = rp_calloc(n1, sizeof *kq);
    ProtobufCMessage **msgs = rp_calloc(2 * n1, sizeof *msgs);
    size_t *client_send = rp_calloc(n1, sizeof *client_send);  /* row index -> its client's send */
    s_errors_t errs = { 0 };
    size_t nclients = 0, ncontacts = 0, nmsgs = 0, bad = 0, dup = 0, failed = 0;
    size_t clients_created = 0, clients_there = 0, contacts_created = 0, contacts_there = 0;
    s_seen_t seen_clients, seen_contacts;
    s_seen_init(&seen_clients, nrows);
    s_seen_init(&seen_contacts, nrows);

    for (size_t i = 0; i < nrows; i++) {
        s_crow_t *r = &rows[i];
        r->row = i + 2;
        s_values(&csv, i + 1, map, s_client_columns, K_COUNT, r->vals);
        if (s_too_wide(&csv, i + 1, &errs) || s_prepare_client(r, &errs) != 0) {
            r->bad = true;
            bad++;
            continue;
        }
        /* The client: new in the file, or the one of an earlier row. */
        size_t first = s_seen_put(&seen_clients, r->client_key, r->row);
        if (!first) {
            if (s_send_json(&csends[nclients], r->row, "rapport.accounts.v1.Accounts/CreateClient",
                            &rapport__accounts__v1__create_client_request__descriptor,
                            &rapport__accounts__v1__client__descriptor, r->client, r->client_body,
                            &msgs[nmsgs], &errs) != 0) {
                r->bad = true;
                bad++;
                continue;
            }
            nmsgs++;
            client_send[i] = nclients;
            cq[nclients] = &csends[nclients];
            nclients++;
        } else {
            client_send[i] = client_send[first - 2];
        }
        size_t first_contact = r->contact ? s_seen_put(&seen_contacts, r->contact_key, r->row) : 0;
        if (first && (!r->contact || first_contact)) {
            char why[96];
            snprintf(why, sizeof why, "the same as row %zu", r->contact ? first_contact : first);
            s_error_add(&errs, r->row, "ALREADY_EXISTS", "", why);
            dup++;
        } else if (r->contact && !first_contact) {
            ncontacts++;
        }
    }

    bool tty = !cli->json && isatty(STDERR_FILENO);
    s_bar_t bar = { tty, 0, nclients + ncontacts };
    if (!dry && nclients) {
        rc = cli_get_token(cli, true);
        rp_client_t *c = NULL;
        if (rc == 0)
            rc = cli_connect(cli, "accounts", &c);
        int64_t start_ms = rp_clock_now_ms();
        if (rc == 0)
            rc = s_pipeline(cli, c, cq, nclients, window, start_ms, &errs, &bar);
        for (size_t i = 0; i < nclients; i++)
            if (csends[i].code == RP_ALREADY_EXISTS && !csends[i].id[0]) {
                s_error_add(&errs, csends[i].row, "ALREADY_EXISTS", "tax_id",
                            "a client with this tax id exists out of your scope");
                csends[i].code = RP_PERMISSION_DENIED;    /* counted as failed */
            }
        /* Then the contacts of the clients that are there. */
        size_t nk = 0;
        for (size_t i = 0; rc == 0 && i < nrows; i++) {
            s_crow_t *r = &rows[i];
            if (r->bad || !r->contact || s_seen_put(&seen_contacts, r->contact_key, r->row) != r->row)
                continue;
            const s_send_t *cs = &csends[client_send[i]];
            if ((cs->code != RP_OK && cs->code != RP_ALREADY_EXISTS) || !cs->id[0]) {
                /* Its client's row says why; another row's contact says which. */
                if (cs->row != r->row) {
                    char why[128];
                    snprintf(why, sizeof why, "its client (row %zu) was not imported", cs->row);
                    s_error_add(&errs, r->row, "FAILED_PRECONDITION", "", why);
                    failed++;
                }
                bar.total--;
                continue;
            }
            json_object_set_new(r->contact, "client_id", json_string(cs->id));
            if (s_send_json(&ksends[nk], r->row, "rapport.accounts.v1.Accounts/CreateContact",
                            &rapport__accounts__v1__create_contact_request__descriptor,
                            &rapport__accounts__v1__contact__descriptor, r->contact, r->contact_key,
                            &msgs[nmsgs], &errs) != 0) {
                failed++;
                bar.total--;
                continue;
            }
            nmsgs++;
            kq[nk] = &ksends[nk];
            nk++;
        }
        if (rc == 0)
            rc = s_pipeline(cli, c, kq, nk, window, start_ms, &errs, &bar);
        s_progress(tty, bar.done, bar.total, true);
        rp_client_destroy(&c);
        s_tally(csends, nclients, &clients_created, &clients_there, &failed);
        s_tally(ksends, nk, &contacts_created, &contacts_there, &failed);
    }

    int report_rc = 0;
    if (rc != CLI_EXIT_LOCAL && rc != CLI_EXIT_USAGE) {
        report_rc = s_print_errors(cli, a, &errs);
        if (cli->json) {
            json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:o}", "file", path,
                                  "rows", (json_int_t) nrows, "created", (json_int_t) clients_created,
                                  "already_imported", (json_int_t) clients_there,
                                  "contacts_created", (json_int_t) contacts_created,
                                  "contacts_already_imported", (json_int_t) contacts_there,
                                  "duplicate_rows", (json_int_t) dup,
                                  "invalid", (json_int_t) bad, "failed", (json_int_t) failed,
                                  "dry_run", dry, "errors", s_errors_json(&errs));
            cli_print_json(j);
            json_decref(j);
        } else if (dry) {
            printf("checked %s: %zu rows, %zu clients and %zu contacts to import, %zu invalid, %zu duplicate rows "
                   "(dry run: nothing sent)\n", path, nrows, nclients, ncontacts, bad, dup);
        } else {
            printf("imported %s: %zu rows, %zu clients created, %zu already imported, %zu contacts created, "
                   "%zu already imported, %zu duplicate rows, %zu invalid, %zu failed\n", path, nrows,
                   clients_created, clients_there, contacts_created, contacts_there, dup, bad, failed);
        }
    }
    for (size_t i = 0; i < nrows; i++) {
        for (int k = 0; k < K_COUNT; k++)
            free(rows[i].vals[k]);
        json_decref(rows[i].client);
        json_decref(rows[i].contact);
    }
    for (size_t i = 0; i < nmsgs; i++)
        protobuf_c_message_free_unpacked(msgs[i], NULL);
    free(msgs);
    free(rows);
    free(csends);
    free(ksends);
    free(cq);
    free(kq);
    free(client_send);
    s_seen_free(&seen_clients);
    s_seen_free(&seen_contacts);
    free(errs.v);
    s_csv_free(&csv);
    if (rc)
        return rc;
    if (report_rc)
        return report_rc;
    return (bad || failed) ? CLI_EXIT_SERVICE : CLI_EXIT_OK;
}

const cli_cmd_t cli_import_cmds[] = {
    { "leads", "FILE.csv", "create leads from a CSV file; re-running it creates nothing twice",
      s_import_flags, 1, 1, s_import_leads,
      "The header row names the columns (any order, case-insensitive): company (required), tax_id,\n"
      "  region, industry, size, contact_name, contact_role, contact_email, contact_phone,\n"
      "  contact_position, source (default import), referrer_client_id, campaign, needs, value,\n"
      "  currency, close (YYYY-MM-DD), owner, owner_unit. Rows are numbered as in a spreadsheet\n"
      "  (the header is row 1). Exit 1 when any row failed; the good rows are imported anyway." },
    { "clients", "FILE.csv", "create clients and their contacts from a CSV file; re-running it creates nothing twice",
      s_import_flags, 1, 1, s_import_clients,
      "The header row names the columns (any order, case-insensitive): legal_name (required), kind\n"
      "  (default legal_entity), trade_name, tax_id, country, region, address_line1, address_line2,\n"
      "  city, postal_code, industry, size, language, tier, lifecycle, segments (';'-separated),\n"
      "  parent_id, preferences, notes, owner, owner_unit; and a contact per row: contact_name,\n"
      "  contact_role (both required with a contact), contact_position, contact_phone and\n"
      "  contact_email (';'-separated), contact_channel, contact_consent (given or withdrawn; source\n"
      "  import), contact_do_not_contact (yes/no), contact_note. Rows with the same tax id are one\n"
      "  client (the first row gives its fields); a client that exists with that tax id gets the\n"
      "  rows' contacts. Needs accounts.import. Exit 1 when any row failed; the good rows land." },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }
};
