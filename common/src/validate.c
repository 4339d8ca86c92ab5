/* validate.c - generic bounds checks of a decoded protobuf-c message.
 *
 * The skeleton runs rp_validate over every request body before a handler sees
 * it, so handlers never meet an unbounded string or list, a malformed UTF-8
 * string or an enum value the .proto does not declare (DESIGN.md 6, last
 * bullet). The walk is driven by the descriptors alone: it knows the
 * protobuf-c field labels (REQUIRED, OPTIONAL with has_ flags, proto3's NONE,
 * REPEATED with its n_ count) and oneofs (only the member whose number is in
 * the case word is set).
 *
 * Limits: strings are valid UTF-8 (no overlongs, no surrogates, nothing above
 * U+10FFFF) and at most max_string bytes; bytes fields at most 16 * max_string
 * bytes (64 KiB with the defaults); repeated fields at most max_repeated
 * elements; enum values declared by their descriptor; messages nested at most
 * RP_VALIDATE_MAX_DEPTH levels below the top one. A limit of 0 in the limits
 * struct means its default (4096 / 1000). The first violation wins and is
 * reported with its path, e.g. "status.field_violations[2].field".
 */
#include "rapport/validate.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define RP_VALIDATE_DEFAULT_STRING   4096
#define RP_VALIDATE_DEFAULT_REPEATED 1000
#define RP_VALIDATE_BYTES_FACTOR     16
#define RP_VALIDATE_MAX_DEPTH        8
#define RP_VALIDATE_PATH_MAX         512

typedef struct {
    size_t max_string;
    size_t max_bytes;
    size_t max_repeated;
    char path[RP_VALIDATE_PATH_MAX];
    size_t path_len;            /* may exceed the buffer: then the path is truncated */
    char *out_path;
    size_t out_path_cap;
    char *out_why;
    size_t out_why_cap;
} s_ctx_t;

static int s_message(s_ctx_t *ctx, const ProtobufCMessage *m, int depth);

/* s_utf8_valid - strict UTF-8 (RFC 3629): no overlongs, surrogates or > U+10FFFF. */
static bool
s_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;     /* bounds of the second byte */
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;                      /* overlong */
            else if (c == 0xED)
                hi = 0x9F;                      /* surrogates */
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;                      /* overlong */
            else if (c == 0xF4)
                hi = 0x8F;                      /* above U+10FFFF */
        }
        else
            return false;
        if (len - i - 1 < need)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        i += need + 1;
    }
    return true;
}

/* s_push - append a path segment ("name", ".name" or "[i]"); returns the old length. */
static size_t
s_push(s_ctx_t *ctx, const char *fmt, ...)
{
    size_t old = ctx->path_len;
    if (old < sizeof ctx->path) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(ctx->path + old, sizeof ctx->path - old, fmt, ap);
        va_end(ap);
        if (n > 0)
            ctx->path_len = old + (size_t) n;
    }
    return old;
}

static void
s_pop(s_ctx_t *ctx, size_t old)
{
    ctx->path_len = old;
    if (old < sizeof ctx->path)
        ctx->path[old] = '\0';
}

/* s_fail - report the current path and a reason; always -1. */
static int
s_fail(s_ctx_t *ctx, const char *fmt, ...)
{
    if (ctx->out_path && ctx->out_path_cap > 0)
        snprintf(ctx->out_path, ctx->out_path_cap, "%s", ctx->path);
    if (ctx->out_why && ctx->out_why_cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->out_why, ctx->out_why_cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* s_value - check one value of field f stored at p (an element or the member). */
static int
s_value(s_ctx_t *ctx, const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *str = *(char *const *) p;
        if (!str)
            return 0;
        size_t len = strlen(str);
        if (len > ctx->max_string)
            return s_fail(ctx, "longer than %zu bytes", ctx->max_string);
        if (!s_utf8_valid((const unsigned char *) str, len))
            return s_fail(ctx, "not valid UTF-8");
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = p;
        if (bd->len > ctx->max_bytes)
            return s_fail(ctx, "longer than %zu bytes", ctx->max_bytes);
        return 0;
    }
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *) p;
        assert(f->descriptor);
        if (!protobuf_c_enum_descriptor_get_value(f->descriptor, v))
            return s_fail(ctx, "unknown %s value %d",
                          ((const ProtobufCEnumDescriptor *) f->descriptor)->short_name, v);
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *) p;
        if (!sub)
            return 0;
        if (depth + 1 > RP_VALIDATE_MAX_DEPTH)
            return s_fail(ctx, "nested deeper than %d levels", RP_VALIDATE_MAX_DEPTH);
        return s_message(ctx, sub, depth + 1);
    }
    default:
        return 0;                       /* numbers and bools carry no bound here */
    }
}

/* s_elem_size - the size of one element of a repeated field of type t. */
static size_t
s_elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return 4;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    assert(!"unknown protobuf-c type");
    return 0;
}

/* s_field - check field f of m if it is set. */
static int
s_field(s_ctx_t *ctx, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
        int depth)
{
    const char *base = (const char *) m;
    const void *member = base + f->offset;

    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t which = *(const uint32_t *) (base + f->quantifier_offset);
        if (which != f->id)
            return 0;
    }
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL
             && f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) {
        if (!*(const protobuf_c_boolean *) (base + f->quantifier_offset))
            return 0;
    }

    size_t old = s_push(ctx, ctx->path_len ? ".%s" : "%s", f->name);
    int rc = 0;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *) (base + f->quantifier_offset);
        if (n > ctx->max_repeated)
            rc = s_fail(ctx, "more than %zu elements", ctx->max_repeated);
        else if (n > 0) {
            const char *arr = *(const char *const *) member;
            size_t size = s_elem_size(f->type);
            if (!arr)
                rc = s_fail(ctx, "%zu elements but no array", n);
            for (size_t i = 0; rc == 0 && i < n; i++) {
                size_t at = s_push(ctx, "[%zu]", i);
                const void *elem = arr + i * size;
                if ((f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING)
                    && *(const void *const *) elem == NULL)
                    rc = s_fail(ctx, "missing element");
                else
                    rc = s_value(ctx, f, elem, depth);
                s_pop(ctx, at);
            }
        }
    }
    else
        rc = s_value(ctx, f, member, depth);
    if (rc == 0)
        s_pop(ctx, old);
    return rc;
}

static int
s_message(s_ctx_t *ctx, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    assert(d && d->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    for (unsigned i = 0; i < d->n_fields; i++)
        if (s_field(ctx, m, &d->fields[i], depth) != 0)
            return -1;
    return 0;
}

int
rp_validate(const ProtobufCMessage *m, const rp_validate_limits_t *limits,
            char *path, size_t path_cap, char *why, size_t why_cap)
{
    assert(m);
    s_ctx_t ctx = {
        .max_string = RP_VALIDATE_DEFAULT_STRING,
        .max_repeated = RP_VALIDATE_DEFAULT_REPEATED,
        .out_path = path, .out_path_cap = path_cap,
        .out_why = why, .out_why_cap = why_cap,
    };
    if (limits && limits->max_string)
        ctx.max_string = limits->max_string;
    if (limits && limits->max_repeated)
        ctx.max_repeated = limits->max_repeated;
    ctx.max_bytes = ctx.max_string > SIZE_MAX / RP_VALIDATE_BYTES_FACTOR
                  ? SIZE_MAX : ctx.max_string * RP_VALIDATE_BYTES_FACTOR;

    if (s_message(&ctx, m, 0) != 0)
        return -1;
    if (path && path_cap > 0)
        path[0] = '\0';
    if (why && why_cap > 0)
        why[0] = '\0';
    return 0;
}
