/* cli_import.c - `rapport import leads FILE.csv`: bulk creation of leads from a CSV
 * file (libcsv). The header row names the columns (docs/CLI.md lists them); each
 * good row becomes a Leads/Create whose import_key is the hex BLAKE2b-128 of the
 * normalised row and whose request id is derived from that key, so running the same
 * file again creates nothing twice: the service answers ALREADY_EXISTS for a known
 * import_key (or replays its stored reply for a known request id), both counted as
 * "already imported". Requests are pipelined (64 in flight by default). Bad rows
 * are reported (row number, field, rule) and skipped; good rows land.
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
#include "rapport/leads/v1/leads.pb-c.h"

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
} s_column_t;

static const s_column_t s_columns[C_COUNT] = {
    [C_COMPANY]          = { "company", { "company_name", NULL }, 0 },
    [C_TAX_ID]           = { "tax_id", { NULL }, 0 },
    [C_REGION]           = { "region", { NULL }, 0 },
    [C_INDUSTRY]         = { "industry", { NULL }, 0 },
    [C_SIZE]             = { "size", { "company_size", NULL }, 'l' },
    [C_CONTACT_NAME]     = { "contact_name", { "contact", NULL }, 0 },
    [C_CONTACT_ROLE]     = { "contact_role", { "role", NULL }, 'l' },
    [C_CONTACT_EMAIL]    = { "contact_email", { "email", NULL }, 'l' },
    [C_CONTACT_PHONE]    = { "contact_phone", { "phone", NULL }, 0 },
    [C_CONTACT_POSITION] = { "contact_position", { "position", NULL }, 0 },
    [C_SOURCE]           = { "source", { NULL }, 'l' },
    [C_REFERRER]         = { "referrer_client_id", { "referrer", NULL }, 0 },
    [C_CAMPAIGN]         = { "campaign", { NULL }, 0 },
    [C_NEEDS]            = { "needs", { NULL }, 0 },
    [C_VALUE]            = { "value", { "expected_value", NULL }, 0 },
    [C_CURRENCY]         = { "currency", { NULL }, 'u' },
    [C_CLOSE]            = { "close", { "expected_close", "close_date" }, 0 },
    [C_OWNER]            = { "owner", { NULL }, 0 },
    [C_OWNER_UNIT]       = { "owner_unit", { NULL }, 0 },
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
    int tries;
    bool done;
} s_item_t;

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

static void s_item_free(s_item_t *it)
{
    for (int k = 0; k < C_COUNT; k++)
        free(it->vals[k]);
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

/* s_key - import_key = hex BLAKE2b-128 of the normalised row (every column in the
 * canonical order); the request id is a ULID-shaped BLAKE2b-128 of that key. */
static void s_key(s_item_t *it)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    for (int k = 0; k < C_COUNT; k++) {
        crypto_generichash_update(&st, (const unsigned char *) s_columns[k].name, strlen(s_columns[k].name));
        crypto_generichash_update(&st, (const unsigned char *) "=", 1);
        crypto_generichash_update(&st, (const unsigned char *) it->vals[k], strlen(it->vals[k]));
        crypto_generichash_update(&st, (const unsigned char *) "\x1f", 1);
    }
    unsigned char h[16];
    crypto_generichash_final(&st, h, sizeof h);
    rp_hex_encode(h, sizeof h, it->import_key);
    it->req.import_key = it->import_key;

    static const char ctx[] = "rapport.import.request:";
    unsigned char in[sizeof ctx - 1 + 32];
    memcpy(in, ctx, sizeof ctx - 1);
    memcpy(in + sizeof ctx - 1, it->import_key, 32);
    rp_ulid_t u;
    crypto_generichash(u.b, sizeof u.b, in, sizeof in, NULL, 0);
    rp_ulid_format(&u, it->request_id);
}

/* ---- progress ---- */

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

/* ---- the command ---- */

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

static int s_import_leads(cli_t *cli, const cli_args_t *a)
{
    const char *path = a->pos[0];
    int window = 64;
    if (cli_flag(a, "in-flight")) {
        uint64_t w;
        if (cli_parse_u64(cli_flag(a, "in-flight"), &w) != 0 || w < 1 || w > MAX_INFLIGHT)
            return cli_usage_error(a, "--in-flight: must be from 1 to %d", MAX_INFLIGHT);
        window = (int) w;
    }
    unsigned char delim = ',';
    if (cli_flag(a, "delimiter")) {
        const char *d = cli_flag(a, "delimiter");
        if (strcmp(d, "\\t") == 0 || strcmp(d, "tab") == 0)
            delim = '\t';
        else if (strlen(d) == 1 && d[0] != '"' && d[0] != '\n')
            delim = (unsigned char) d[0];
        else
            return cli_usage_error(a, "--delimiter: must be one character (or 'tab')");
    }
    bool dry = cli_flag_set(a, "dry-run");

    s_csv_t csv = { 0 };
    char why[512];
    if (s_read_csv(path, delim, &csv, why, sizeof why) != 0) {
        s_csv_free(&csv);
        return cli_local_error(cli, "%s", why);
    }
    if (csv.n == 0) {
        s_csv_free(&csv);
        return cli_usage_error(a, "%s: empty file: the first row must name the columns", path);
    }

    /* The header row: which column is which. */
    int map[MAX_FIELDS];
    const s_row_t *hdr = &csv.rows[0];
    if (hdr->n > MAX_FIELDS) {
        s_csv_free(&csv);
        return cli_usage_error(a, "%s: more than %d columns", path, MAX_FIELDS);
    }
    bool have_company = false;
    for (size_t k = 0; k < hdr->n; k++) {
        const char *raw = hdr->fields[k];
        if (k == 0 && (unsigned char) raw[0] == 0xEF && (unsigned char) raw[1] == 0xBB && (unsigned char) raw[2] == 0xBF)
            raw += 3;   /* a UTF-8 byte order mark */
        char *name = s_normalise(raw, 'l');
        for (char *p = name; *p; p++)
            if (*p == ' ' || *p == '-')
                *p = '_';
        map[k] = -1;
        for (int c = 0; c < C_COUNT && map[k] < 0; c++) {
            if (strcmp(name, s_columns[c].name) == 0)
                map[k] = c;
            for (int al = 0; al < 3 && s_columns[c].aliases[al]; al++)
                if (strcmp(name, s_columns[c].aliases[al]) == 0)
                    map[k] = c;
        }
        if (map[k] < 0) {
            char list[1024] = "";
            for (int c = 0; c < C_COUNT; c++) {
                strncat(list, c ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, s_columns[c].name, sizeof list - strlen(list) - 1);
            }
            int rc = cli_usage_error(a, "%s: unknown column '%s' in the header row; columns: %s", path, name, list);
            free(name);
            s_csv_free(&csv);
            return rc;
        }
        for (size_t j = 0; j < k; j++)
            if (map[j] == map[k]) {
                int rc = cli_usage_error(a, "%s: column '%s' appears twice in the header row", path, name);
                free(name);
                s_csv_free(&csv);
                return rc;
            }
        have_company |= map[k] == C_COMPANY;
        free(name);
    }
    if (!have_company) {
        s_csv_free(&csv);
        return cli_usage_error(a, "%s: the header row has no 'company' column", path);
    }

    /* Prepare every row: local checks, import key, request id. */
    size_t nrows = csv.n - 1;
    s_item_t *items = rp_calloc(nrows ? nrows : 1, sizeof *items);
    s_errors_t errs = { 0 };
    size_t good = 0, bad = 0, dup = 0, created = 0, already = 0, failed = 0;
    const char *defcur = cli_default_currency();
    size_t seen_cap = 64;
    while (seen_cap < nrows * 2)
        seen_cap *= 2;
    const s_item_t **seen_tab = rp_calloc(seen_cap, sizeof *seen_tab);
    for (size_t i = 0; i < nrows; i++) {
        const s_row_t *r = &csv.rows[i + 1];
        s_item_t *it = &items[i];
        it->row = i + 2;
        for (int c = 0; c < C_COUNT; c++)
            it->vals[c] = NULL;
        for (size_t k = 0; k < r->n && k < hdr->n; k++)
            it->vals[map[k]] = s_normalise(r->fields[k], s_columns[map[k]].fold);
        for (int c = 0; c < C_COUNT; c++)
            if (!it->vals[c])
                it->vals[c] = rp_strdup("");
        if (it->vals[C_VALUE][0] && !it->vals[C_CURRENCY][0]) {
            free(it->vals[C_CURRENCY]);
            it->vals[C_CURRENCY] = s_normalise(defcur, 'u');
        }
        it->done = true;
        if (r->n > hdr->n) {
            snprintf(why, sizeof why, "the row has %zu fields, the header %zu", r->n, hdr->n);
            s_error_add(&errs, it->row, "INVALID_ARGUMENT", "", why);
            bad++;
            continue;
        }
        if (s_prepare(it, &errs) != 0) {
            bad++;
            continue;
        }
        s_key(it);
        /* The same row twice in the file: import it once (open addressing on the key). */
        char head[17];
        memcpy(head, it->import_key, 16);
        head[16] = 0;
        size_t slot = (size_t) strtoull(head, NULL, 16) & (seen_cap - 1);
        bool seen = false;
        while (seen_tab[slot]) {
            const s_item_t *o = seen_tab[slot];
            if (strcmp(o->import_key, it->import_key) == 0) {
                seen = true;
                snprintf(why, sizeof why, "the same as row %zu", o->row);
                break;
            }
            slot = (slot + 1) & (seen_cap - 1);
        }
        if (!seen)
            seen_tab[slot] = it;
        if (seen) {
            s_error_add(&errs, it->row, "ALREADY_EXISTS", "", why);
            dup++;
            continue;
        }
        it->done = false;
        good++;
    }

    int rc = CLI_EXIT_OK;
    bool tty = !cli->json && isatty(STDERR_FILENO);
    if (!dry && good) {
        rc = cli_get_token(cli, true);
        rp_client_t *c = NULL;
        if (rc == 0)
            rc = cli_connect(cli, "leads", &c);
        int64_t start_ms = rp_clock_now_ms();
        size_t next = 0, finished = 0;
        s_item_t *inflight[MAX_INFLIGHT];
        int nin = 0, stalls = 0;
        while (rc == 0 && finished < good) {
            /* Fill the window. */
            while (nin < window && next < nrows) {
                s_item_t *it = &items[next++];
                if (it->done)
                    continue;
                if (rp_client_send(c, it->request_id, "rapport.leads.v1.Leads/Create", &it->req.base, NULL) != 0) {
                    rc = cli_local_error(cli, "cannot send to %s", cli->endpoint);
                    break;
                }
                it->tries = 1;
                inflight[nin++] = it;
            }
            if (rc || nin == 0)
                break;
            Rapport__V1__Reply *reply = NULL;
            int r = rp_client_recv(c, cli->timeout_ms, &reply);
            if (r == 1) {
                /* Nothing within the timeout: resend what is in flight (same ids, so
                 * nothing is created twice), twice at most. */
                if (++stalls > 2) {
                    for (int k = 0; k < nin; k++) {
                        s_error_add(&errs, inflight[k]->row, "UNAVAILABLE", "", "no answer from the service");
                        failed++;
                    }
                    rc = CLI_EXIT_UNREACHABLE;
                    break;
                }
                for (int k = 0; k < nin; k++)
                    rp_client_send(c, inflight[k]->request_id, "rapport.leads.v1.Leads/Create", &inflight[k]->req.base, NULL);
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
            s_item_t *it = inflight[k];
            inflight[k] = inflight[--nin];
            it->done = true;
            finished++;
            rp_call_status_t st;
            memset(&st, 0, sizeof st);
            rp_status_from_reply(reply, &st);
            if (st.code == RP_OK) {
                Rapport__Leads__V1__Lead *lead = rapport__leads__v1__lead__unpack(NULL, reply->body.len, reply->body.data);
                /* A replayed reply (the request id was seen before) is an old lead. */
                if (lead && lead->created_at && lead->created_at < start_ms)
                    already++;
                else
                    created++;
                if (lead)
                    rapport__leads__v1__lead__free_unpacked(lead, NULL);
            } else if (st.code == RP_ALREADY_EXISTS) {
                already++;
            } else {
                failed++;
                if (st.n_violations == 0)
                    s_error_add(&errs, it->row, rp_code_name(st.code), "", st.message);
                for (size_t v = 0; v < st.n_violations && v < 8; v++)
                    s_error_add(&errs, it->row, rp_code_name(st.code), st.violations[v].field,
                                st.violations[v].description);
            }
            rapport__v1__reply__free_unpacked(reply, NULL);
            s_progress(tty, finished, good, false);
        }
        s_progress(tty, finished, good, true);
        rp_client_destroy(&c);
    }

    if (rc == CLI_EXIT_LOCAL || rc == CLI_EXIT_USAGE) {
        /* Nothing was sent (no token, no keys): the message said why. */
        for (size_t i = 0; i < nrows; i++)
            s_item_free(&items[i]);
        free(items);
        free(seen_tab);
        free(errs.v);
        s_csv_free(&csv);
        return rc;
    }
    if (errs.n)
        qsort(errs.v, errs.n, sizeof *errs.v, s_error_cmp);
    int report_rc = 0;
    if (cli_flag(a, "report") && s_write_report(cli_flag(a, "report"), &errs) != 0)
        report_rc = cli_local_error(cli, "cannot write the report %s: %s", cli_flag(a, "report"), strerror(errno));

    if (cli->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < errs.n; i++)
            json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s}", "row", (json_int_t) errs.v[i].row,
                                                 "code", errs.v[i].code, "field", errs.v[i].field,
                                                 "rule", errs.v[i].rule));
        json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:o}", "file", path,
                              "rows", (json_int_t) nrows, "created", (json_int_t) created,
                              "already_imported", (json_int_t) already,
                              "duplicate_rows", (json_int_t) dup,
                              "invalid", (json_int_t) bad, "failed", (json_int_t) failed,
                              "dry_run", dry, "errors", arr);
        cli_print_json(j);
        json_decref(j);
    } else {
        for (size_t i = 0; i < errs.n; i++) {
            const s_error_t *e = &errs.v[i];
            if (e->field[0])
                printf("row %zu: %s: %s (%s)\n", e->row, e->field, e->rule, e->code);
            else
                printf("row %zu: %s: %s\n", e->row, e->code, e->rule);
        }
        if (dry)
            printf("checked %s: %zu rows, %zu good, %zu invalid, %zu duplicate rows (dry run: nothing sent)\n",
                   path, nrows, good, bad, dup);
        else
            printf("imported %s: %zu rows, %zu created, %zu already imported, %zu duplicate rows, "
                   "%zu invalid, %zu failed\n", path, nrows, created, already, dup, bad, failed);
    }

    for (size_t i = 0; i < nrows; i++)
        s_item_free(&items[i]);
    free(items);
    free(seen_tab);
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
    { NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }
};
