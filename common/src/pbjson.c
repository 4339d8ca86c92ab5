/* pbjson.c - protobuf-c messages to and from JSON (jansson), driven by descriptors.
 *
 * Used by the CLI (--json output and JSON input) and by CloudEvents JSON. The
 * mapping is close to proto3's canonical JSON:
 *   - keys are the .proto field names (snake_case); on input the lowerCamelCase
 *     JSON name is accepted too;
 *   - every scalar, string, bytes and enum field is written, defaults included,
 *     so the shape of the output is stable; repeated fields are arrays (empty
 *     ones included); unset message fields are left out; of a oneof only the
 *     member that is set is written;
 *   - 64-bit integers are JSON numbers when |v| < 2^53, strings otherwise; on
 *     input both numbers and decimal strings are accepted for every integer;
 *   - bytes are standard base64 with padding (input also takes URL-safe and
 *     unpadded base64);
 *   - enums are written by their declared name (numbers when the value is not
 *     declared); input takes the name case-insensitively, with or without the
 *     prefix all the names of the enum share, or a declared number;
 *   - float and double NaN and infinities are "NaN", "Infinity", "-Infinity".
 * JSON null on input means "not given". Unknown keys, a key given twice (as
 * name and JSON name), two members of one oneof, and type mismatches are errors
 * that name the field by its path ("status.field_violations[1].field").
 *
 * Messages built by rp_pb_from_json own all their memory through malloc, the
 * way protobuf_c_message_unpack builds them, so protobuf_c_message_free_unpacked
 * (m, NULL) frees them; a partly built message is always in that state too.
 */
#include "rapport/pbjson.h"
#include "rapport/util.h"
#include "pbwalk.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

#define RP_PBJSON_MAX_DEPTH 64          /* message nesting accepted on input */
#define RP_PBJSON_EXACT_MAX 9007199254740992.0      /* 2^53 */

/* --------------------------------------------------------------------------
 * Shared helpers
 */

/* s_must - a jansson constructor's result; NULL there only means out of memory. */
static json_t *
s_must(json_t *v)
{
    if (!v) {
        fputs("rapport: out of memory (jansson)\n", stderr);
        abort();
    }
    return v;
}

/* s_utf8_seq - length of the well-formed UTF-8 sequence at s (left bytes), or 0. */
static size_t
s_utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    }
    else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    }
    else
        return 0;
    if (left - 1 < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k <= need; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    return need + 1;
}

/* s_json_string - a JSON string for s; bytes that are not UTF-8 become U+FFFD. */
static json_t *
s_json_string(const char *s)
{
    json_t *v = json_string(s);
    if (v)
        return v;
    size_t len = strlen(s);
    char *clean = rp_malloc(len * 3 + 1);
    size_t out = 0;
    for (size_t i = 0; i < len;) {
        size_t n = s_utf8_seq((const unsigned char *) s + i, len - i);
        if (n == 0) {
            memcpy(clean + out, "\xEF\xBF\xBD", 3);
            out += 3;
            i++;
        }
        else {
            memcpy(clean + out, s + i, n);
            out += n;
            i += n;
        }
    }
    clean[out] = '\0';
    v = s_must(json_stringn(clean, out));
    free(clean);
    return v;
}

/* --------------------------------------------------------------------------
 * Enums
 */

const char *
rp_enum_name(const ProtobufCEnumDescriptor *d, int value)
{
    assert(d && d->magic == PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC);
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, value);
    return ev ? ev->name : NULL;
}

/* s_enum_prefix_len - length of the prefix, up to and including a '_', that all
 * names of d share ("LEAD_STAGE_" for LEAD_STAGE_NEW, LEAD_STAGE_WON); 0 if none. */
static size_t
s_enum_prefix_len(const ProtobufCEnumDescriptor *d)
{
    if (d->n_value_names == 0)
        return 0;
    const char *first = d->values_by_name[0].name;
    size_t common = strlen(first);
    for (unsigned i = 1; i < d->n_value_names; i++) {
        const char *other = d->values_by_name[i].name;
        size_t k = 0;
        while (k < common && other[k] == first[k])
            k++;
        common = k;
    }
    while (common > 0 && first[common - 1] != '_')
        common--;
    return common;
}

const char *
rp_enum_text(const ProtobufCEnumDescriptor *d, int value, char *out, size_t cap)
{
    assert(d && d->magic == PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC);
    assert(out && cap > 0);
    out[0] = '\0';
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, value);
    if (!ev)
        return NULL;
    size_t prefix = s_enum_prefix_len(d);
    const char *p = ev->name + (prefix < strlen(ev->name) ? prefix : 0);
    size_t o = 0;
    for (; *p && o + 1 < cap; p++)
        out[o++] = *p == '_' ? ' ' : (char)tolower((unsigned char)*p);
    out[o] = '\0';
    return out;
}

int
rp_enum_value(const ProtobufCEnumDescriptor *d, const char *name, int *value)
{
    assert(d && d->magic == PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC);
    assert(name && value);
    for (unsigned i = 0; i < d->n_value_names; i++)
        if (strcasecmp(name, d->values_by_name[i].name) == 0) {
            *value = d->values[d->values_by_name[i].index].value;
            return 0;
        }
    size_t prefix = s_enum_prefix_len(d);
    if (prefix == 0 || *name == '\0')
        return -1;
    for (unsigned i = 0; i < d->n_value_names; i++) {
        const char *full = d->values_by_name[i].name;
        if (strlen(full) > prefix && strcasecmp(name, full + prefix) == 0) {
            *value = d->values[d->values_by_name[i].index].value;
            return 0;
        }
    }
    return -1;
}

/* --------------------------------------------------------------------------
 * Message to JSON
 */

static json_t *s_message_to_json(const ProtobufCMessage *m);

static json_t *
s_int64_to_json(int64_t v)
{
    if (v > -(int64_t) 9007199254740992LL && v < (int64_t) 9007199254740992LL)
        return s_must(json_integer((json_int_t) v));
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return s_must(json_string(buf));
}

static json_t *
s_uint64_to_json(uint64_t v)
{
    if (v < 9007199254740992ULL)
        return s_must(json_integer((json_int_t) v));
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return s_must(json_string(buf));
}

static json_t *
s_double_to_json(double v)
{
    if (isnan(v))
        return s_must(json_string("NaN"));
    if (isinf(v))
        return s_must(json_string(v > 0 ? "Infinity" : "-Infinity"));
    return s_must(json_real(v));
}

static json_t *
s_bytes_to_json(const ProtobufCBinaryData *bd)
{
    if (bd->len == 0 || !bd->data)
        return s_must(json_string(""));
    size_t cap = sodium_base64_ENCODED_LEN(bd->len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = rp_malloc(cap);
    sodium_bin2base64(b64, cap, bd->data, bd->len, sodium_base64_VARIANT_ORIGINAL);
    json_t *v = s_must(json_string(b64));
    free(b64);
    return v;
}

/* s_value_to_json - the JSON for one value of field f stored at p; NULL to omit. */
static json_t *
s_value_to_json(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        return s_must(json_integer(*(const int32_t *) p));
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        return s_must(json_integer(*(const uint32_t *) p));
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        return s_int64_to_json(*(const int64_t *) p);
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        return s_uint64_to_json(*(const uint64_t *) p);
    case PROTOBUF_C_TYPE_FLOAT:
        return s_double_to_json(*(const float *) p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return s_double_to_json(*(const double *) p);
    case PROTOBUF_C_TYPE_BOOL:
        return s_must(json_boolean(*(const protobuf_c_boolean *) p));
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *) p;
        const char *name = rp_enum_name(f->descriptor, v);
        return name ? s_must(json_string(name)) : s_must(json_integer(v));
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *) p;
        return s ? s_json_string(s) : NULL;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return s_bytes_to_json(p);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *) p;
        return sub ? s_message_to_json(sub) : NULL;
    }
    }
    assert(!"unknown protobuf-c type");
    return NULL;
}

static json_t *
s_message_to_json(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    assert(d && d->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    json_t *obj = s_must(json_object());
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!rp_pb_field_present(m, f))
            continue;
        json_t *v;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = rp_pb_field_count(m, f);
            v = s_must(json_array());
            for (size_t k = 0; k < n; k++) {
                const void *elem = rp_pb_field_elem(m, f, k);
                if (!elem)
                    break;
                json_t *e = s_value_to_json(f, elem);
                json_array_append_new(v, e ? e : s_must(json_null()));
            }
        }
        else if (!(v = s_value_to_json(f, rp_pb_field_member(m, f))))
            continue;           /* a NULL string or message is left out */
        if (json_object_set_new(obj, f->name, v) != 0)
            s_must(NULL);
    }
    return obj;
}

json_t *
rp_pb_to_json(const ProtobufCMessage *m)
{
    assert(m);
    return s_message_to_json(m);
}

/* --------------------------------------------------------------------------
 * JSON to message
 */

typedef struct {
    rp_pb_path_t path;
    char *err;
    size_t cap;
} s_parse_t;

/* one decoded value of any protobuf-c type, before it is stored */
typedef union {
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    float f;
    double d;
    protobuf_c_boolean b;
    int e;
    char *s;
    ProtobufCBinaryData bd;
    ProtobufCMessage *m;
} s_value_t;

static ProtobufCMessage *s_message_from_json(const ProtobufCMessageDescriptor *d,
                                             json_t *obj, s_parse_t *ctx, int depth);

/* s_fail - write "<path>: <reason>" to the caller's buffer; always -1. */
static int
s_fail(s_parse_t *ctx, const char *fmt, ...)
{
    if (!ctx->err || ctx->cap == 0)
        return -1;
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (ctx->path.text[0])
        snprintf(ctx->err, ctx->cap, "%s: %s", ctx->path.text, why);
    else
        snprintf(ctx->err, ctx->cap, "%s", why);
    return -1;
}

/* s_parse_decimal - a strict decimal integer string: [-]digits, nothing else. */
static int
s_parse_decimal(const char *s, bool is_signed, int64_t *sv, uint64_t *uv)
{
    const char *p = s;
    if (*p == '-') {
        if (!is_signed)
            return -1;
        p++;
    }
    if (!isdigit((unsigned char) *p))
        return -1;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char) *q))
            return -1;
    char *end;
    errno = 0;
    if (is_signed)
        *sv = strtoll(s, &end, 10);
    else
        *uv = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    return 0;
}

/* s_parse_signed - an integer in [min, max] from a JSON number or decimal string. */
static int
s_parse_signed(s_parse_t *ctx, json_t *v, int64_t min, int64_t max, int64_t *out)
{
    int64_t x;
    if (json_is_integer(v))
        x = json_integer_value(v);
    else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d))
            return s_fail(ctx, "expected an integer");
        x = (int64_t) d;
    }
    else if (json_is_string(v)) {
        uint64_t unused;
        if (s_parse_decimal(json_string_value(v), true, &x, &unused) != 0)
            return s_fail(ctx, "expected an integer");
    }
    else
        return s_fail(ctx, "expected an integer");
    if (x < min || x > max)
        return s_fail(ctx, "out of range");
    *out = x;
    return 0;
}

/* s_parse_unsigned - an integer in [0, max] from a JSON number or decimal string. */
static int
s_parse_unsigned(s_parse_t *ctx, json_t *v, uint64_t max, uint64_t *out)
{
    uint64_t x;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0)
            return s_fail(ctx, "out of range");
        x = (uint64_t) i;
    }
    else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0.0 && d < 18446744073709551616.0) || d != floor(d))
            return s_fail(ctx, "expected an unsigned integer");
        x = (uint64_t) d;
    }
    else if (json_is_string(v)) {
        int64_t unused;
        if (s_parse_decimal(json_string_value(v), false, &unused, &x) != 0)
            return s_fail(ctx, "expected an unsigned integer");
    }
    else
        return s_fail(ctx, "expected an unsigned integer");
    if (x > max)
        return s_fail(ctx, "out of range");
    *out = x;
    return 0;
}

/* s_parse_double - a number, or "NaN", "Infinity", "-Infinity" or a numeric string. */
static int
s_parse_double(s_parse_t *ctx, json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return s_fail(ctx, "expected a number");
    const char *s = json_string_value(v);
    if (strcmp(s, "NaN") == 0)
        *out = NAN;
    else if (strcmp(s, "Infinity") == 0)
        *out = INFINITY;
    else if (strcmp(s, "-Infinity") == 0)
        *out = -INFINITY;
    else {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        /* only plain decimal numbers: no hex, no "inf"/"nan" spellings, no blanks */
        if (*s == '\0' || *end != '\0' || errno == ERANGE || !isfinite(d)
            || strspn(s, "+-0123456789.eE") != strlen(s))
            return s_fail(ctx, "expected a number");
        *out = d;
    }
    return 0;
}

/* s_parse_bytes - base64 (standard or URL-safe, padded or not) into malloc'd bytes. */
static int
s_parse_bytes(s_parse_t *ctx, json_t *v, ProtobufCBinaryData *out)
{
    static const int variants[] = {
        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
        sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING,
    };
    if (!json_is_string(v))
        return s_fail(ctx, "expected a base64 string");
    const char *s = json_string_value(v);
    size_t slen = json_string_length(v);
    out->len = 0;
    out->data = NULL;
    if (slen == 0)
        return 0;
    size_t cap = slen / 4 * 3 + 3;
    uint8_t *bin = rp_malloc(cap);
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        size_t len = 0;
        if (sodium_base642bin(bin, cap, s, slen, NULL, &len, NULL, variants[i]) == 0) {
            out->len = len;
            out->data = bin;
            if (len == 0) {
                free(bin);
                out->data = NULL;
            }
            return 0;
        }
    }
    free(bin);
    return s_fail(ctx, "not valid base64");
}

/* s_parse_value - decode one JSON value for field f into *out (owning what it allocates). */
static int
s_parse_value(s_parse_t *ctx, const ProtobufCFieldDescriptor *f, json_t *v,
              s_value_t *out, int depth)
{
    int64_t sv;
    uint64_t uv;
    double d;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        if (s_parse_signed(ctx, v, INT32_MIN, INT32_MAX, &sv) != 0)
            return -1;
        out->i32 = (int32_t) sv;
        return 0;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        if (s_parse_signed(ctx, v, INT64_MIN, INT64_MAX, &sv) != 0)
            return -1;
        out->i64 = sv;
        return 0;
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        if (s_parse_unsigned(ctx, v, UINT32_MAX, &uv) != 0)
            return -1;
        out->u32 = (uint32_t) uv;
        return 0;
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        if (s_parse_unsigned(ctx, v, UINT64_MAX, &uv) != 0)
            return -1;
        out->u64 = uv;
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
        if (s_parse_double(ctx, v, &d) != 0)
            return -1;
        if (isfinite(d) && fabs(d) > FLT_MAX)
            return s_fail(ctx, "out of range");
        out->f = (float) d;
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (s_parse_double(ctx, v, &d) != 0)
            return -1;
        out->d = d;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return s_fail(ctx, "expected true or false");
        out->b = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        if (json_is_string(v)) {
            if (rp_enum_value(ed, json_string_value(v), &out->e) != 0)
                return s_fail(ctx, "unknown %s \"%.64s\"", ed->short_name,
                              json_string_value(v));
            return 0;
        }
        if (json_is_integer(v)) {
            json_int_t i = json_integer_value(v);
            if (i < INT32_MIN || i > INT32_MAX
                || !protobuf_c_enum_descriptor_get_value(ed, (int) i))
                return s_fail(ctx, "unknown %s %lld", ed->short_name, (long long) i);
            out->e = (int) i;
            return 0;
        }
        return s_fail(ctx, "expected a %s name", ed->short_name);
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v))
            return s_fail(ctx, "expected a string");
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (strlen(s) != len)
            return s_fail(ctx, "contains a NUL character");
        out->s = rp_strndup(s, len);
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return s_parse_bytes(ctx, v, &out->bd);
    case PROTOBUF_C_TYPE_MESSAGE:
        if (!json_is_object(v))
            return s_fail(ctx, "expected an object");
        if (depth + 1 > RP_PBJSON_MAX_DEPTH)
            return s_fail(ctx, "nested deeper than %d levels", RP_PBJSON_MAX_DEPTH);
        out->m = s_message_from_json(f->descriptor, v, ctx, depth + 1);
        return out->m ? 0 : -1;
    }
    assert(!"unknown protobuf-c type");
    return -1;
}

/* s_camel_eq - whether key is the lowerCamelCase JSON name of field name. */
static bool
s_camel_eq(const char *name, const char *key)
{
    bool upper = false;
    for (; *name; name++) {
        if (*name == '_') {
            upper = true;
            continue;
        }
        char want = upper ? (char) toupper((unsigned char) *name) : *name;
        upper = false;
        if (*key++ != want)
            return false;
    }
    return *key == '\0';
}

static const ProtobufCFieldDescriptor *
s_find_field(const ProtobufCMessageDescriptor *d, const char *key)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
    if (f)
        return f;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (strchr(d->fields[i].name, '_') && s_camel_eq(d->fields[i].name, key))
            return &d->fields[i];
    return NULL;
}

/* s_set_repeated - fill repeated field f of m from the JSON array v. */
static int
s_set_repeated(s_parse_t *ctx, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
               json_t *v, int depth)
{
    if (!json_is_array(v))
        return s_fail(ctx, "expected an array");
    size_t n = json_array_size(v);
    if (n == 0)
        return 0;
    size_t size = rp_pb_field_elem_size(f->type);
    char *arr = rp_calloc(n, size);
    /* published at once, zero-filled, so free_unpacked can free a partial array */
    rp_pb_field_set_array(m, f, arr, n);
    for (size_t i = 0; i < n; i++) {
        size_t at = rp_pb_path_push_index(&ctx->path, i);
        json_t *e = json_array_get(v, i);
        s_value_t val;
        memset(&val, 0, sizeof val);
        if (json_is_null(e))
            return s_fail(ctx, "null in an array");
        if (s_parse_value(ctx, f, e, &val, depth) != 0)
            return -1;
        memcpy(arr + i * size, &val, size);
        rp_pb_path_pop(&ctx->path, at);
    }
    return 0;
}

/* s_set_field - decode v into field f of m, marking it present. */
static int
s_set_field(s_parse_t *ctx, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
            json_t *v, int depth)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return s_set_repeated(ctx, m, f, v, depth);
    s_value_t val;
    memset(&val, 0, sizeof val);
    if (s_parse_value(ctx, f, v, &val, depth) != 0)
        return -1;
    rp_pb_field_set(m, f, &val);
    return 0;
}

static ProtobufCMessage *
s_message_from_json(const ProtobufCMessageDescriptor *d, json_t *obj, s_parse_t *ctx,
                    int depth)
{
    assert(d && d->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    if (!json_is_object(obj)) {
        s_fail(ctx, "expected an object");
        return NULL;
    }
    ProtobufCMessage *m = rp_malloc(d->sizeof_message);
    protobuf_c_message_init(d, m);
    /* 0 = not seen, 1 = seen as null, 2 = set */
    unsigned char *seen = rp_calloc(d->n_fields ? d->n_fields : 1, 1);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        const ProtobufCFieldDescriptor *f = s_find_field(d, key);
        size_t old = rp_pb_path_push_field(&ctx->path, f ? f->name : key);
        if (!f) {
            s_fail(ctx, "unknown field");
            goto fail;
        }
        size_t idx = (size_t) (f - d->fields);
        if (seen[idx]) {
            s_fail(ctx, "given twice");
            goto fail;
        }
        seen[idx] = 1;
        if (json_is_null(v)) {
            rp_pb_path_pop(&ctx->path, old);
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            for (unsigned j = 0; j < d->n_fields; j++) {
                const ProtobufCFieldDescriptor *g = &d->fields[j];
                if (seen[j] == 2 && (g->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                    && g->quantifier_offset == f->quantifier_offset) {
                    s_fail(ctx, "only one of %s and %s may be set", g->name, f->name);
                    goto fail;
                }
            }
        if (s_set_field(ctx, m, f, v, depth) != 0)
            goto fail;
        seen[idx] = 2;
        rp_pb_path_pop(&ctx->path, old);
    }
    free(seen);
    return m;
fail:
    free(seen);
    protobuf_c_message_free_unpacked(m, NULL);
    return NULL;
}

ProtobufCMessage *
rp_pb_from_json(const ProtobufCMessageDescriptor *desc, json_t *obj, char *err, size_t cap)
{
    assert(desc);
    s_parse_t ctx = { .err = err, .cap = cap };
    if (err && cap > 0)
        err[0] = '\0';
    if (!obj) {
        s_fail(&ctx, "expected an object");
        return NULL;
    }
    return s_message_from_json(desc, obj, &ctx, 0);
}
