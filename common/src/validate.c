/* validate.c - generic bounds checks of a decoded protobuf-c message.
 *
 * The skeleton runs rp_validate over every request body before a handler sees
 * it, so handlers never meet an unbounded string or list, a malformed UTF-8
 * string or an enum value the .proto does not declare (DESIGN.md 6, last
 * bullet). The walk is driven by the descriptors alone, through pbwalk.h,
 * which knows the protobuf-c field labels (REQUIRED, OPTIONAL with has_ flags,
 * proto3's NONE, REPEATED with its n_ count) and oneofs (only the member whose
 * number is in the case word is set).
 *
 * Unknown fields (numbers the descriptor does not declare) are refused at any depth:
 * protobuf-c would keep them unbounded, and a handler storing part of a request
 * would store them.
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
#include "pbwalk.h"

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

typedef struct {
    size_t max_string;
    size_t max_bytes;
    size_t max_repeated;
    rp_pb_path_t path;
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

/* s_fail - report the current path and a reason; always -1. */
static int
s_fail(s_ctx_t *ctx, const char *fmt, ...)
{
    if (ctx->out_path && ctx->out_path_cap > 0)
        snprintf(ctx->out_path, ctx->out_path_cap, "%s", ctx->path.text);
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

/* s_field - check field f of m if it is set. */
static int
s_field(s_ctx_t *ctx, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
        int depth)
{
    if (!rp_pb_field_present(m, f))
        return 0;

    size_t old = rp_pb_path_push_field(&ctx->path, f->name);
    int rc = 0;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = rp_pb_field_count(m, f);
        if (n > ctx->max_repeated)
            rc = s_fail(ctx, "more than %zu elements", ctx->max_repeated);
        else if (n > 0 && !rp_pb_field_elem(m, f, 0))
            rc = s_fail(ctx, "%zu elements but no array", n);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            size_t at = rp_pb_path_push_index(&ctx->path, i);
            const void *elem = rp_pb_field_elem(m, f, i);
            if ((f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING)
                && *(const void *const *) elem == NULL)
                rc = s_fail(ctx, "missing element");
            else
                rc = s_value(ctx, f, elem, depth);
            rp_pb_path_pop(&ctx->path, at);
        }
    }
    else
        rc = s_value(ctx, f, rp_pb_field_member(m, f), depth);
    if (rc == 0)
        rp_pb_path_pop(&ctx->path, old);
    return rc;
}

static int
s_message(s_ctx_t *ctx, const ProtobufCMessage *m, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    assert(d && d->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    /* protobuf-c keeps fields it does not know, unbounded and unchecked; a handler
     * that stores part of a request would store them too. None are accepted. */
    if (m->n_unknown_fields)
        return s_fail(ctx, "has a field this service does not know (number %u)",
                      (unsigned) m->unknown_fields[0].tag);
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
