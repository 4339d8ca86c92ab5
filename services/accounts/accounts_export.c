/* accounts_export.c - exports of the client base (CSV or JSON), audited and held
 * to a size limit: RequestExport counts the rows the requester may export; when
 * they and the rows of the requester's exports that needed no approval within
 * the rolling window (RAPPORT_ACCOUNTS_EXPORT_WINDOW_HOURS) exceed
 * RAPPORT_ACCOUNTS_EXPORT_LIMIT, another person with accounts.export.approve whose
 * scope covers the requester must approve it. The requester's scope is recorded
 * at the request and is what FetchExport filters by. Only the requester fetches
 * it, page by page, through the write path (each page is audited, the export
 * record keeps the rows served), never more rows than were counted; the last page
 * asked again serves the same rows, whatever page_size. Pages are RP_WRITE_SECRET:
 * their rows are never kept as an idempotency reply.
 * Events: export.requested, export.approved, export.rejected, export.completed,
 * each with the Export (row_count, rows_served) as data.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <jansson.h>
#include "accounts.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Accounts__V1__RequestExportRequest RequestExportRequest;
typedef Rapport__Accounts__V1__DecideExportRequest DecideExportRequest;
typedef Rapport__Accounts__V1__FetchExportRequest FetchExportRequest;
typedef Rapport__Accounts__V1__ExportFilter ExportFilter;
typedef Rapport__Accounts__V1__ExportPage ExportPage;
typedef Rapport__Accounts__V1__ExportCursor ExportCursor;

/* Rows one RequestExport may examine (it runs in the write thread): 100 x the
 * limit, at least COUNT_FLOOR, at most COUNT_CEIL. */
#define COUNT_FLOOR 10000u
#define COUNT_CEIL 1000000u
#define FETCH_DEFAULT 200
#define FETCH_MAX 1000
#define WINDOW_EXPORTS_MAX 10000 /* a requester's exports summed in the window */

/* ---- rows ---- */

static const char *const s_columns[] = {
    "id", "kind", "legal_name", "trade_name", "tax_id", "country", "region", "city", "industry",
    "size", "language", "tier", "lifecycle", "segments", "parent_id", "owner", "unit", "branch",
    "last_contact_at", "open_tasks", "created_at", NULL
};

/* s_enum - the value's name without its type's prefix, lower case: TIER_KEY -> "key". */
static char *s_enum(rp_ctx_t *ctx, const ProtobufCEnumDescriptor *d, int v)
{
    const ProtobufCEnumValue *e = protobuf_c_enum_descriptor_get_value(d, v);
    if (!e)
        return "";
    int words = 0;
    for (const char *p = d->short_name; *p; p++)
        if (isupper((unsigned char)*p))
            words++;
    const char *s = e->name;
    for (int i = 0; i < words && (s = strchr(s, '_')); i++)
        s++;
    return acc_lower(ctx, s ? s : e->name);
}

static char *s_time(rp_ctx_t *ctx, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return rp_ctx_strdup(ctx, buf);
}

/* s_values - the row's column values as strings, in s_columns order. */
static void s_values(rp_ctx_t *ctx, const Client *c, const char *v[])
{
    char *segs = rp_ctx_strdup(ctx, "");
    for (size_t i = 0; i < c->n_segments; i++)
        segs = rp_ctx_sprintf(ctx, "%s%s%s", segs, i ? ";" : "", c->segments[i]);
    int i = 0;
    v[i++] = c->id;
    v[i++] = s_enum(ctx, &rapport__accounts__v1__client_kind__descriptor, c->kind);
    v[i++] = c->legal_name;
    v[i++] = c->trade_name;
    v[i++] = c->tax_id;
    v[i++] = c->country;
    v[i++] = c->region;
    v[i++] = c->address ? c->address->city : "";
    v[i++] = c->industry;
    v[i++] = s_enum(ctx, &rapport__accounts__v1__company_size__descriptor, c->size);
    v[i++] = c->language;
    v[i++] = s_enum(ctx, &rapport__accounts__v1__tier__descriptor, c->tier);
    v[i++] = s_enum(ctx, &rapport__accounts__v1__lifecycle__descriptor, c->lifecycle);
    v[i++] = segs;
    v[i++] = c->parent_id;
    v[i++] = c->owner;
    v[i++] = c->unit;
    v[i++] = c->branch;
    v[i++] = s_time(ctx, c->last_contact_at);
    v[i++] = rp_ctx_sprintf(ctx, "%u", c->open_tasks);
    v[i++] = s_time(ctx, c->created_at);
}

/* s_csv_field - RFC 4180: quoted when it holds a comma, quote, CR or LF; quotes doubled.
 * A leading = + - @ is prefixed with ' so a spreadsheet does not run it as a formula. */
static char *s_csv_field(rp_ctx_t *ctx, const char *s)
{
    s = s ? s : "";
    size_t n = strlen(s);
    char *o = rp_ctx_alloc(ctx, 2 * n + 4), *p = o;
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        *p++ = '"';
    if (*s && strchr("=+-@", *s))
        *p++ = '\'';
    for (; *s; s++) {
        if (*s == '"')
            *p++ = '"';
        *p++ = *s;
    }
    if (quote)
        *p++ = '"';
    *p = '\0';
    return o;
}

static char *s_row(rp_ctx_t *ctx, int format, const Client *c)
{
    const char *v[32];
    s_values(ctx, c, v);
    if (format == ACC_(EXPORT_FORMAT, EXPORT_FORMAT_CSV)) {
        char *line = rp_ctx_strdup(ctx, "");
        for (int i = 0; s_columns[i]; i++)
            line = rp_ctx_sprintf(ctx, "%s%s%s", line, i ? "," : "", s_csv_field(ctx, v[i]));
        return line;
    }
    json_t *o = json_object();
    for (int i = 0; s_columns[i]; i++) {
        if (strcmp(s_columns[i], "segments") == 0) {
            json_t *a = json_array();
            for (size_t j = 0; j < c->n_segments; j++)
                json_array_append_new(a, json_string(c->segments[j]));
            json_object_set_new(o, "segments", a);
        } else if (strcmp(s_columns[i], "open_tasks") == 0) {
            json_object_set_new(o, "open_tasks", json_integer(c->open_tasks));
        } else {
            json_object_set_new(o, s_columns[i], json_string(v[i] ? v[i] : ""));
        }
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    char *r = rp_ctx_strdup(ctx, s ? s : "{}");
    free(s);
    return r;
}

static char *s_header(rp_ctx_t *ctx)
{
    char *h = rp_ctx_strdup(ctx, "");
    for (int i = 0; s_columns[i]; i++)
        h = rp_ctx_sprintf(ctx, "%s%s%s", h, i ? "," : "", s_columns[i]);
    return h;
}

/* ---- the rows an export covers ---- */

typedef struct {
    rp_ctx_t *ctx;
    const rp_claims_t *scope;   /* whose data scope filters the rows */
    const ExportFilter *f;
    int format;
    uint64_t count;
    char **rows;            /* NULL: count only */
    size_t n;
} s_scan_t;

static bool s_matches(const s_scan_t *x, const Client *c)
{
    const ExportFilter *f = x->f;
    if (!rp_scope_sees(x->scope, c->owner, c->unit))
        return false;
    if (!f)
        return true;
    if (!rp_str_empty(f->owner) && strcmp(f->owner, c->owner) != 0)
        return false;
    if (f->tier != TIER_UNSPEC && c->tier != f->tier)
        return false;
    if (f->lifecycle != LC_UNSPEC && c->lifecycle != f->lifecycle)
        return false;
    if (!rp_str_empty(f->segment)) {
        bool has = false;
        for (size_t i = 0; i < c->n_segments; i++)
            has = has || strcmp(c->segments[i], f->segment) == 0;
        if (!has)
            return false;
    }
    return true;
}

static int s_scan_row(void *arg, const ProtobufCMessage *m)
{
    s_scan_t *x = arg;
    const Client *c = (const Client *)m;
    if (!s_matches(x, c))
        return 0;
    x->count++;
    if (x->rows)
        x->rows[x->n++] = s_row(x->ctx, x->format, c);
    return 1;
}

/* s_query_of - the index an export's rows come from: the owner's when the filter
 * or an own-scope requester (not delegated) names one, else the clients table. */
static void s_query_of(const ExportFilter *f, const rp_claims_t *scope, acc_query_t *q)
{
    memset(q, 0, sizeof *q);
    if (f && !rp_str_empty(f->owner)) {
        q->kind = AQ_CLIENT_OWNER;
        q->s = f->owner;
    } else if (strcmp(scope->scope, "own") == 0 && scope->on_behalf_of[0] == '\0') {
        q->kind = AQ_CLIENT_OWNER;
        q->s = scope->sub;
    } else {
        q->kind = AQ_CLIENT_ALL;
    }
}

/* ---- methods ---- */

static int s_export_load_or_reply(rp_ctx_t *ctx, const char *id, Export **out)
{
    rp_ulid_t u;
    Export *e = NULL;
    if (rp_ulid_or_reply(ctx, "id", id, &u) < 0)
        return -1;
    int rc = acc_get(ctx, &ACC_EXPORT, &u, &e);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "export %s not found", id);
    if (rc)
        return -1;
    *out = e;
    return 0;
}

/* s_for - whose portfolio the export was requested for (older records: the requester). */
static const char *s_for(const Export *e)
{
    return rp_str_empty(e->requested_for) ? e->requested_by : e->requested_for;
}

/* s_is_requester - the caller is the person who requested it (who fetches it). */
static bool s_is_requester(rp_ctx_t *ctx, const Export *e)
{
    return strcmp(e->requested_by, rp_actor(rp_ctx_claims(ctx))) == 0;
}

/* s_is_party - the caller, or whom they act for, is the requester or whom the
 * requester acted for: nobody decides on an export of their own, a delegate on
 * one of the person they act for, nor that person on their delegate's. */
static bool s_is_party(rp_ctx_t *ctx, const Export *e)
{
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    const char *mine[2] = { rp_actor(cl), rp_principal(cl) };
    const char *theirs[2] = { e->requested_by, s_for(e) };
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (strcmp(mine[i], theirs[j]) == 0)
                return true;
    return false;
}

/* s_scope_of - the requester's claims as recorded at the request: what the rows are
 * filtered by (older records without a scope: the requester's own clients). */
static const rp_claims_t *s_scope_of(rp_ctx_t *ctx, const Export *e)
{
    rp_claims_t *c = rp_ctx_alloc(ctx, sizeof *c);
    rp_strlcpy(c->sub, e->requested_by, sizeof c->sub);
    if (strcmp(s_for(e), e->requested_by) != 0)
        rp_strlcpy(c->on_behalf_of, s_for(e), sizeof c->on_behalf_of);
    rp_strlcpy(c->unit, e->requested_unit, sizeof c->unit);
    rp_strlcpy(c->scope, rp_str_empty(e->requested_scope) ? "own" : e->requested_scope, sizeof c->scope);
    return c;
}

/* s_window_row - add the rows of an export granted without approval. */
static int s_window_row(void *arg, const ProtobufCMessage *m)
{
    const Export *e = (const Export *)m;
    uint64_t *sum = arg;
    if (rp_str_empty(e->decided_by) && (e->status == EX_READY || e->status == EX_DONE))
        *sum += e->row_count;
    return 1;
}

/* s_window_rows - rows the caller exported without approval within the window
 * before now; UINT64_MAX when there are too many exports to sum. -1 replied. */
static int s_window_rows(rp_ctx_t *ctx, uint64_t *sum)
{
    int64_t now = rp_ctx_now(ctx);
    acc_query_t q = { .kind = AQ_EXPORT_REQUESTER, .s = rp_actor(rp_ctx_claims(ctx)),
                      .n1 = now - acc_settings.export_window_ms + 1, .n2 = now + 1 };
    char *next = NULL;
    *sum = 0;
    if (acc_query(ctx, &q, NULL, WINDOW_EXPORTS_MAX, WINDOW_EXPORTS_MAX, s_window_row, sum, &next) != 0)
        return -1;
    if (next)
        *sum = UINT64_MAX;
    return 0;
}

static bool s_approver_sees(rp_ctx_t *ctx, const Export *e)
{
    return rp_ctx_allowed(ctx, "accounts.export.approve")
           && rp_scope_sees(rp_ctx_claims(ctx), e->requested_by, e->requested_unit);
}

int acc_request_export(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const RequestExportRequest *in = (const RequestExportRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    if (in->format == ACC_(EXPORT_FORMAT, EXPORT_FORMAT_UNSPECIFIED))
        rp_reply_violation(ctx, "format", "is required (CSV or JSON)");
    if (in->filter) {
        rp_len_or_reply(ctx, "filter.owner", in->filter->owner, 0, ACC_USER_MAX);
        rp_len_or_reply(ctx, "filter.segment", in->filter->segment, 0, ACC_SEGMENT_MAX);
    }
    rp_len_or_reply(ctx, "reason", in->reason, 0, ACC_REASON_MAX);
    if (rp_ctx_failed(ctx))
        return -1;

    acc_query_t q;
    s_query_of(in->filter, cl, &q);
    s_scan_t x = { .ctx = ctx, .scope = cl, .f = in->filter };
    char *next = NULL;
    uint64_t b = acc_settings.export_limit * 100;
    uint32_t budget = b < COUNT_FLOOR ? COUNT_FLOOR : b > COUNT_CEIL ? COUNT_CEIL : (uint32_t)b;
    if (acc_query(ctx, &q, NULL, UINT32_MAX, budget, s_scan_row, &x, &next) != 0)
        return -1;
    if (next)
        return rp_reply_error(ctx, RP_RESOURCE_EXHAUSTED,
                              "the export would examine more than %u clients; narrow the filter", budget);
    uint64_t window;
    if (s_window_rows(ctx, &window) < 0)
        return -1;
    bool over = x.count > acc_settings.export_limit || window > acc_settings.export_limit - x.count;
    if (over && rp_str_empty(in->reason))
        return rp_reply_violation(ctx, "reason", "is required: %llu rows, with the %llu exported without approval "
                                  "in the last %lld hours, is over the limit of %llu, which needs a head's approval",
                                  (unsigned long long)x.count, window == UINT64_MAX ? 0ULL : (unsigned long long)window,
                                  (long long)(acc_settings.export_window_ms / 3600000),
                                  (unsigned long long)acc_settings.export_limit);

    Export *e = rp_ctx_alloc(ctx, sizeof *e);
    rapport__accounts__v1__export__init(e);
    e->id = rp_ctx_new_id_str(ctx);
    e->format = in->format;
    e->filter = in->filter;
    e->status = over ? EX_PENDING : EX_READY;
    e->row_count = x.count;
    e->requested_by = rp_ctx_strdup(ctx, rp_actor(cl));
    e->requested_unit = rp_ctx_strdup(ctx, cl->unit);
    e->requested_scope = rp_ctx_strdup(ctx, cl->scope);
    e->requested_for = rp_ctx_strdup(ctx, rp_principal(cl));
    e->window_rows = window == UINT64_MAX ? 0 : window;
    e->reason = in->reason;
    e->created_at = rp_ctx_now(ctx);
    e->limit = acc_settings.export_limit;
    if (acc_put(ctx, &ACC_EXPORT, &e->base) < 0 || acc_emit(ctx, "export.requested", e->id, &e->base) < 0)
        return -1;
    *out = &e->base;
    return 0;
}

static int s_decide(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out, int status,
                    const char *type)
{
    const DecideExportRequest *in = (const DecideExportRequest *)in_;
    Export *e;
    if (rp_len_or_reply(ctx, "note", in->note, 0, ACC_REASON_MAX) < 0)
        return -1;
    if (s_export_load_or_reply(ctx, in->id, &e) < 0)
        return -1;
    if (!s_approver_sees(ctx, e) && !s_is_party(ctx, e))
        return rp_reply_error(ctx, RP_NOT_FOUND, "export %s not found", in->id);
    if (s_is_party(ctx, e))
        return rp_reply_error(ctx, RP_PERMISSION_DENIED, "nobody decides on their own export");
    if (e->status != EX_PENDING)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "export %s is not waiting for approval", e->id);
    e->status = status;
    e->decided_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    e->decision_note = in->note;
    e->decided_at = rp_ctx_now(ctx);
    if (acc_put(ctx, &ACC_EXPORT, &e->base) < 0 || acc_emit(ctx, type, e->id, &e->base) < 0)
        return -1;
    *out = &e->base;
    return 0;
}

int acc_approve_export(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    return s_decide(ctx, in, out, EX_READY, "export.approved");
}

int acc_reject_export(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    return s_decide(ctx, in, out, EX_REJECTED, "export.rejected");
}

int acc_get_export(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const Rapport__Accounts__V1__ExportIdRequest *in = (const void *)in_;
    Export *e;
    if (s_export_load_or_reply(ctx, in->id, &e) < 0)
        return -1;
    if (!s_is_party(ctx, e) && !s_approver_sees(ctx, e))
        return rp_reply_error(ctx, RP_NOT_FOUND, "export %s not found", in->id);
    *out = &e->base;
    return 0;
}

int acc_fetch_export(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const FetchExportRequest *in = (const FetchExportRequest *)in_;
    Export *e;
    ExportCursor *cur;
    rp_ulid_t id;
    uint32_t page_size = in->page_size == 0 ? FETCH_DEFAULT : in->page_size > FETCH_MAX ? FETCH_MAX : in->page_size;

    if (s_export_load_or_reply(ctx, in->id, &e) < 0)
        return -1;
    if (!s_is_requester(ctx, e))
        return rp_reply_error(ctx, RP_NOT_FOUND, "export %s not found", in->id);
    bool again = e->pages_served > 0 && in->page + 1 == e->pages_served;
    if (e->status == EX_PENDING)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "export %s is waiting for a head's approval", e->id);
    if (e->status == EX_REJECTED)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "export %s was rejected", e->id);
    if (e->status == EX_DONE && !again)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "export %s is complete", e->id);
    if (!again && in->page != e->pages_served)
        return rp_reply_violation(ctx, "page", "the next page is %u (or %u again)", e->pages_served,
                                  e->pages_served ? e->pages_served - 1 : 0);
    rp_ulid_parse(e->id, &id);
    if (acc_cursor_get(ctx, &id, &cur) < 0)
        return -1;

    /* The last page asked again is the same rows: as many as it had, from where it
     * started, whatever page_size the retry names. */
    const char *from = again ? cur->last_token : cur->next_token;
    uint64_t remaining = e->row_count - e->rows_served;
    uint32_t limit = again ? cur->last_rows : remaining < page_size ? (uint32_t)remaining : page_size;
    s_scan_t x = { .ctx = ctx, .scope = s_scope_of(ctx, e), .f = e->filter, .format = e->format,
                   .rows = rp_ctx_alloc(ctx, (limit + 1) * sizeof(char *)) };
    char *next = NULL;
    if (limit > 0) {
        acc_query_t q;
        s_query_of(e->filter, x.scope, &q);
        int rc = acc_query(ctx, &q, rp_str_empty(from) ? NULL : from, limit, 0, s_scan_row, &x, &next);
        if (rc == -1 || rp_page_or_reply(ctx, rc) < 0)
            return -1;
    }

    if (!again) {
        e->rows_served += x.n;
        e->pages_served++;
        cur->last_token = rp_ctx_strdup(ctx, cur->next_token);
        cur->next_token = next ? next : "";
        cur->last_rows = (uint32_t)x.n;
        bool done = !next || e->rows_served >= e->row_count;
        if (done) {
            e->status = EX_DONE;
            e->finished_at = rp_ctx_now(ctx);
        }
        if (acc_cursor_put(ctx, &id, cur) < 0 || acc_put(ctx, &ACC_EXPORT, &e->base) < 0)
            return -1;
        if (done && acc_emit(ctx, "export.completed", e->id, &e->base) < 0)
            return -1;
    }
    rp_ctx_set_subject(ctx, e->id);

    ExportPage *p = rp_ctx_alloc(ctx, sizeof *p);
    rapport__accounts__v1__export_page__init(p);
    p->export_id = e->id;
    p->page = e->pages_served - 1;
    p->header = e->format == ACC_(EXPORT_FORMAT, EXPORT_FORMAT_CSV) ? s_header(ctx) : "";
    p->rows = x.rows;
    p->n_rows = x.n;
    p->done = e->status == EX_DONE;
    p->rows_served = again ? e->rows_served - cur->last_rows + x.n : e->rows_served;
    *out = &p->base;
    return 0;
}

typedef struct {
    acc_rows_t rows;            /* first: acc_list_page's */
    int status;
} s_list_t;

static int s_list_row(void *arg, const ProtobufCMessage *m)
{
    s_list_t *x = arg;
    const Export *e = (const Export *)m;
    if (x->status && (int)e->status != x->status)
        return 0;
    if (!s_is_party(x->rows.ctx, e) && !s_approver_sees(x->rows.ctx, e))
        return 0;
    x->rows.v[x->rows.n++] = acc_copy(x->rows.ctx, m);
    return 1;
}

int acc_list_exports(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const Rapport__Accounts__V1__ListExportsRequest *in = (const void *)in_;
    s_list_t x = { .status = in->status };
    acc_query_t q = { .kind = AQ_EXPORT_TIME };
    return acc_list_page(ctx, &q, in->page_size, in->page_token, s_list_row, &x.rows,
                         &rapport__accounts__v1__list_exports_reply__descriptor, "exports", out);
}
