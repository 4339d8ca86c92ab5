/* cli_output.c - what the command line prints: aligned tables for lists, key: value
 * lines for one record, and JSON for scripts (--json). Values are rendered from the
 * protobuf descriptors, so every message of every service prints the same way:
 * money as "1234.50 EUR", dates as 2026-03-31, unix-ms times (fields named time or
 * *_at) as RFC 3339, enum values by their short lower-case name.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "rapport/clock.h"
#include "rapport/money.h"
#include "rapport/pbjson.h"
#include "rapport/util.h"

#define CELL_MAX 40     /* display columns of one table cell before it is cut */

/* ---- tables ---- */

struct cli_table {
    int ncols;
    size_t cut;
    char **cells;       /* (nrows + 1) * ncols, row 0 the headers */
    size_t nrows, cap;
};

cli_table_t *cli_table_new(int ncols, const char *const *headers)
{
    cli_table_t *t = rp_calloc(1, sizeof *t);
    t->ncols = ncols;
    t->cut = CELL_MAX;
    t->cap = 16;
    t->cells = rp_calloc(t->cap * (size_t) ncols, sizeof(char *));
    for (int c = 0; c < ncols; c++)
        t->cells[c] = rp_strdup(headers[c]);
    return t;
}

void cli_table_add(cli_table_t *t, const char *const *cells)
{
    if (t->nrows + 2 > t->cap) {
        t->cap *= 2;
        t->cells = rp_realloc(t->cells, t->cap * (size_t) t->ncols * sizeof(char *));
    }
    char **row = t->cells + (t->nrows + 1) * (size_t) t->ncols;
    for (int c = 0; c < t->ncols; c++)
        row[c] = rp_strdup(cells[c] ? cells[c] : "");
    t->nrows++;
}

/* s_width - display columns of a UTF-8 string (code points; control chars count 1). */
static size_t s_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char) *s & 0xC0) != 0x80)
            w++;
    return w;
}

/* s_cut - s shortened to at most max columns, ending in "…" when cut; new lines and
 * tabs become spaces. malloc'd. */
static char *s_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    char *out = rp_malloc(n + 4);
    size_t w = 0, o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char) s[i];
        bool start = (ch & 0xC0) != 0x80;
        if (start) {
            if (w == max - 1 && s_width(s + i) > 1) {
                memcpy(out + o, "\xe2\x80\xa6", 3);
                o += 3;
                break;
            }
            w++;
        }
        out[o++] = (ch == '\n' || ch == '\t' || ch == '\r') ? ' ' : (char) ch;
    }
    out[o] = 0;
    return out;
}

void cli_table_set_cut(cli_table_t *t, size_t max)
{
    t->cut = max;
}

void cli_table_print(cli_table_t *t, FILE *f)
{
    size_t *w = rp_calloc((size_t) t->ncols, sizeof *w);
    size_t total = (t->nrows + 1) * (size_t) t->ncols;
    for (size_t i = 0; i < total; i++) {
        char *cut = s_cut(t->cells[i], t->cut ? t->cut : SIZE_MAX);
        free(t->cells[i]);
        t->cells[i] = cut;
        size_t cw = s_width(cut);
        if (cw > w[i % (size_t) t->ncols])
            w[i % (size_t) t->ncols] = cw;
    }
    size_t cap = 256, len;
    char *line = rp_malloc(cap);
    for (size_t r = 0; r <= t->nrows; r++) {
        len = 0;
        for (int c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * (size_t) t->ncols + c];
            size_t cl = strlen(cell), pad = c == t->ncols - 1 ? 0 : w[c] - s_width(cell) + 2;
            if (len + cl + pad + 2 > cap) {
                cap = (len + cl + pad + 2) * 2;
                line = rp_realloc(line, cap);
            }
            memcpy(line + len, cell, cl);
            len += cl;
            memset(line + len, ' ', pad);
            len += pad;
        }
        while (len && line[len - 1] == ' ')
            len--;
        line[len++] = '\n';
        fwrite(line, 1, len, f);
    }
    free(line);
    free(w);
}

void cli_table_destroy(cli_table_t **t_p)
{
    if (!t_p || !*t_p)
        return;
    cli_table_t *t = *t_p;
    size_t total = (t->nrows + 1) * (size_t) t->ncols;
    for (size_t i = 0; i < total; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
    *t_p = NULL;
}

/* ---- values ---- */

void cli_format_time(int64_t ms, char *out, size_t cap)
{
    if (ms == 0) {
        if (cap)
            out[0] = 0;
        return;
    }
    rp_time_format_rfc3339(ms, out, cap);
}

void cli_enum_short(const ProtobufCEnumDescriptor *d, int value, char *out, size_t cap)
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, value);
    if (!ev) {
        snprintf(out, cap, "%d", value);
        return;
    }
    /* The common prefix of every value's name, up to and including its last '_'. */
    size_t plen = 0;
    if (d->n_values > 1) {
        plen = strlen(d->values[0].name);
        for (unsigned i = 1; i < d->n_values; i++) {
            size_t k = 0;
            while (k < plen && d->values[i].name[k] == d->values[0].name[k])
                k++;
            plen = k;
        }
        while (plen > 0 && d->values[0].name[plen - 1] != '_')
            plen--;
    }
    const char *name = ev->name;
    if (plen >= strlen(name))
        plen = 0;
    size_t o = 0;
    for (const char *p = name + plen; *p && o + 1 < cap; p++)
        out[o++] = (char) tolower((unsigned char) *p);
    out[o] = 0;
}

static bool s_is_time_field(const char *name)
{
    size_t n = strlen(name);
    return strcmp(name, "time") == 0 || strcmp(name, "now") == 0 || strcmp(name, "at") == 0 ||
           strcmp(name, "from") == 0 || strcmp(name, "until") == 0 ||     /* int64 only: Delegation */
           (n > 3 && strcmp(name + n - 3, "_at") == 0) ||
           (n > 5 && strcmp(name + n - 5, "_time") == 0);
}

/* s_is_set - false for an optional/oneof field that is not present. */
static bool s_is_set(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const char *base = (const char *) m;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *) (base + f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
        f->type != PROTOBUF_C_TYPE_STRING)
        return *(const protobuf_c_boolean *) (base + f->quantifier_offset) != 0;
    return true;
}

/* s_value_text - one value (element) of field f at p, malloc'd. */
static char *s_value_text(const ProtobufCFieldDescriptor *f, const void *p)
{
    char buf[128];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        return rp_sprintf("%" PRId32, *(const int32_t *) p);
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        return rp_sprintf("%" PRIu32, *(const uint32_t *) p);
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64: {
        int64_t v = *(const int64_t *) p;
        if (s_is_time_field(f->name)) {
            cli_format_time(v, buf, sizeof buf);
            return rp_strdup(buf);
        }
        return rp_sprintf("%" PRId64, v);
    }
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        return rp_sprintf("%" PRIu64, *(const uint64_t *) p);
    case PROTOBUF_C_TYPE_BOOL:
        return rp_strdup(*(const protobuf_c_boolean *) p ? "true" : "false");
    case PROTOBUF_C_TYPE_FLOAT:
        return rp_sprintf("%g", (double) *(const float *) p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return rp_sprintf("%g", *(const double *) p);
    case PROTOBUF_C_TYPE_ENUM:
        cli_enum_short(f->descriptor, *(const int *) p, buf, sizeof buf);
        return rp_strdup(buf);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *) p;
        return rp_strdup(s ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        char *hex = rp_malloc(b->len * 2 + 1);
        rp_hex_encode(b->data, b->len, hex);
        return hex;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *) p;
        if (!sub)
            return rp_strdup("");
        const char *tn = sub->descriptor->name;
        if (strcmp(tn, "rapport.v1.Money") == 0) {
            const ProtobufCFieldDescriptor *fu = protobuf_c_message_descriptor_get_field_by_name(sub->descriptor, "units");
            const ProtobufCFieldDescriptor *fc = protobuf_c_message_descriptor_get_field_by_name(sub->descriptor, "currency");
            int64_t units = *(const int64_t *) ((const char *) sub + fu->offset);
            const char *cur = *(char *const *) ((const char *) sub + fc->offset);
            if (rp_money_format(units, cur ? cur : "", buf, sizeof buf) == 0)
                return rp_strdup(buf);
            return rp_sprintf("%" PRId64 " %s", units, cur ? cur : "");
        }
        if (strcmp(tn, "rapport.v1.Date") == 0) {
            const int32_t *ymd[3];
            const char *names[3] = { "year", "month", "day" };
            for (int i = 0; i < 3; i++) {
                const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field_by_name(sub->descriptor, names[i]);
                ymd[i] = (const int32_t *) ((const char *) sub + fd->offset);
            }
            if (*ymd[0] == 0)
                return rp_strdup("");
            return rp_sprintf("%04d-%02d-%02d", *ymd[0], *ymd[1], *ymd[2]);
        }
        json_t *j = rp_pb_to_json(sub);
        char *s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        char *out = rp_strdup(s ? s : "");
        free(s);
        return out;
    }
    }
    return rp_strdup("");
}

static size_t s_elem_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* s_field_text - the whole field (repeated ones joined by ", "), malloc'd. */
static char *s_field_text(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const char *base = (const char *) m;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *) (base + f->quantifier_offset);
        const char *arr = *(char *const *) (base + f->offset);
        size_t sz = s_elem_size(f), len = 0;
        char *out = rp_strdup("");
        for (size_t i = 0; i < n; i++) {
            char *v = s_value_text(f, arr + i * sz);
            size_t vl = strlen(v);
            out = rp_realloc(out, len + vl + 3);
            if (i) {
                memcpy(out + len, ", ", 2);
                len += 2;
            }
            memcpy(out + len, v, vl + 1);
            len += vl;
            free(v);
        }
        return out;
    }
    if (!s_is_set(m, f))
        return rp_strdup("");
    return s_value_text(f, base + f->offset);
}

char *cli_field_text(const ProtobufCMessage *m, const char *path)
{
    char seg[128];
    const char *p = path;
    while (m) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t) (dot - p) : strlen(p);
        if (n >= sizeof seg)
            return rp_strdup("");
        memcpy(seg, p, n);
        seg[n] = 0;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, seg);
        if (!f)
            return rp_strdup("");
        if (!dot)
            return s_field_text(m, f);
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED || !s_is_set(m, f))
            return rp_strdup("");
        m = *(ProtobufCMessage *const *) ((const char *) m + f->offset);
        p = dot + 1;
    }
    return rp_strdup("");
}

/* ---- records ---- */

typedef struct {
    char **keys, **vals;
    size_t n, cap;
} s_lines_t;

static void s_lines_add(s_lines_t *l, const char *key, char *val /* owned */)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->keys = rp_realloc(l->keys, l->cap * sizeof(char *));
        l->vals = rp_realloc(l->vals, l->cap * sizeof(char *));
    }
    l->keys[l->n] = rp_strdup(key);
    l->vals[l->n] = val;
    l->n++;
}

static bool s_is_value_message(const ProtobufCMessageDescriptor *d)
{
    return strcmp(d->name, "rapport.v1.Money") == 0 || strcmp(d->name, "rapport.v1.Date") == 0;
}

static void s_collect(const ProtobufCMessage *m, const char *prefix, s_lines_t *l, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char key[256];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", f->name);
        const char *base = (const char *) m;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && !s_is_value_message(f->descriptor) && depth < 6) {
            if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                size_t n = *(const size_t *) (base + f->quantifier_offset);
                ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *) (base + f->offset);
                for (size_t k = 0; k < n; k++) {
                    char ek[300];
                    snprintf(ek, sizeof ek, "%s[%zu]", key, k);
                    s_collect(arr[k], ek, l, depth + 1);
                }
            } else if (s_is_set(m, f)) {
                const ProtobufCMessage *sub = *(ProtobufCMessage *const *) (base + f->offset);
                if (sub)
                    s_collect(sub, key, l, depth + 1);
            }
            continue;
        }
        /* Unset and zero values say nothing; nor does an enum's zero (UNSPECIFIED). */
        if (f->type == PROTOBUF_C_TYPE_ENUM && f->label != PROTOBUF_C_LABEL_REPEATED &&
            f->label != PROTOBUF_C_LABEL_OPTIONAL && *(const int *) ((const char *) m + f->offset) == 0)
            continue;
        char *v = s_field_text(m, f);
        if (!v[0] || (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BOOL &&
                      f->label != PROTOBUF_C_LABEL_OPTIONAL && strcmp(v, "0") == 0)) {
            free(v);
            continue;
        }
        s_lines_add(l, key, v);
    }
}

void cli_print_record(const ProtobufCMessage *m, FILE *f)
{
    s_lines_t l = { 0 };
    s_collect(m, "", &l, 0);
    size_t w = 0;
    for (size_t i = 0; i < l.n; i++)
        if (s_width(l.keys[i]) > w)
            w = s_width(l.keys[i]);
    if (w > 32)
        w = 32;
    for (size_t i = 0; i < l.n; i++) {
        size_t kw = s_width(l.keys[i]);
        fprintf(f, "%s:%*s %s\n", l.keys[i], kw < w ? (int) (w - kw) : 0, "", l.vals[i]);
        free(l.keys[i]);
        free(l.vals[i]);
    }
    free(l.keys);
    free(l.vals);
}

/* ---- JSON ---- */

void cli_print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2));
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
}

void cli_print_message(cli_t *cli, const ProtobufCMessage *m)
{
    if (cli->json) {
        json_t *j = rp_pb_to_json(m);
        cli_print_json(j);
        json_decref(j);
    } else {
        cli_print_record(m, stdout);
    }
}

const ProtobufCMessageDescriptor *cli_find_descriptor(const char *full_name)
{
    for (size_t i = 0; cli_registry[i]; i++)
        if (strcmp(cli_registry[i]->name, full_name) == 0)
            return cli_registry[i];
    return NULL;
}
