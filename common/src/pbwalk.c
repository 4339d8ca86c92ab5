/* pbwalk.c - what the descriptor-driven walks of pbjson.c and validate.c share:
 * the field path they report errors at, and where a protobuf-c field lives in
 * its message and whether it is set, from the descriptor alone - the one place
 * that knows protobuf-c's layout of labels, has_ flags, n_ counts and oneof case
 * words (see pbwalk.h).
 */
#include "pbwalk.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* s_push - append a segment made from fmt to path, unless it is already full. */
/* s_append - add n bytes of p to the path. The length counts everything pushed,
 * even past the buffer, so pops stay exact; the text keeps what fits, NUL-ended.
 * Paths are built for every field of every request, so no printf here. */
static void
s_append(rp_pb_path_t *path, const char *p, size_t n)
{
    if (path->len < sizeof path->text - 1) {
        size_t room = sizeof path->text - 1 - path->len;
        size_t k = n < room ? n : room;
        memcpy(path->text + path->len, p, k);
        path->text[path->len + k] = '\0';
    }
    path->len += n;
}

size_t
rp_pb_path_push_field(rp_pb_path_t *path, const char *name)
{
    size_t old = path->len;
    if (old)
        s_append(path, ".", 1);
    s_append(path, name, strlen(name));
    return old;
}

size_t
rp_pb_path_push_index(rp_pb_path_t *path, size_t i)
{
    size_t old = path->len;
    char digits[24], *d = digits + sizeof digits;
    *--d = ']';
    do
        *--d = (char) ('0' + i % 10);
    while ((i /= 10) != 0);
    *--d = '[';
    s_append(path, d, (size_t) (digits + sizeof digits - d));
    return old;
}

void
rp_pb_path_pop(rp_pb_path_t *path, size_t old)
{
    path->len = old;
    if (old < sizeof path->text)
        path->text[old] = '\0';
}

size_t
rp_pb_field_elem_size(ProtobufCType t)
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

/* s_has_flag - whether f carries a has_ flag: OPTIONAL, and not a string or message. */
static bool
s_has_flag(const ProtobufCFieldDescriptor *f)
{
    return f->label == PROTOBUF_C_LABEL_OPTIONAL
        && f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE;
}

bool
rp_pb_field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const char *base = (const char *) m;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *) (base + f->quantifier_offset) == f->id;
    if (s_has_flag(f))
        return *(const protobuf_c_boolean *) (base + f->quantifier_offset);
    return true;
}

const void *
rp_pb_field_member(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    return (const char *) m + f->offset;
}

size_t
rp_pb_field_count(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    assert(f->label == PROTOBUF_C_LABEL_REPEATED);
    return *(const size_t *) ((const char *) m + f->quantifier_offset);
}

const void *
rp_pb_field_elem(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t i)
{
    assert(i < rp_pb_field_count(m, f));
    const char *arr = *(const char *const *) rp_pb_field_member(m, f);
    return arr ? arr + i * rp_pb_field_elem_size(f->type) : NULL;
}

void
rp_pb_field_set(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const void *value)
{
    assert(f->label != PROTOBUF_C_LABEL_REPEATED);
    char *base = (char *) m;
    memcpy(base + f->offset, value, rp_pb_field_elem_size(f->type));
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *(uint32_t *) (base + f->quantifier_offset) = f->id;
    else if (s_has_flag(f))
        *(protobuf_c_boolean *) (base + f->quantifier_offset) = 1;
}

void
rp_pb_field_set_array(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, void *arr,
                      size_t n)
{
    assert(f->label == PROTOBUF_C_LABEL_REPEATED);
    char *base = (char *) m;
    *(size_t *) (base + f->quantifier_offset) = n;
    *(void **) (base + f->offset) = arr;
}
