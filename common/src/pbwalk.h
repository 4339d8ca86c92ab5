/* pbwalk.h - private helpers for walking a protobuf-c message field by field
 * from its descriptor (pbjson.c, validate.c): the path of the field a walk is
 * at, for error messages, and where each field lives and whether it is set. Not a
 * public module: it lives in src/ like arena.h.
 *
 * protobuf-c lays out a field by its label and flags:
 *   - REQUIRED and proto3's NONE: the member alone, always present (a NULL
 *     string or message pointer is the caller's "unset");
 *   - OPTIONAL: a scalar, enum or bytes member has a has_ flag
 *     (protobuf_c_boolean) at quantifier_offset; a string or message has none
 *     and is unset when NULL;
 *   - REPEATED: an n_ count (size_t) at quantifier_offset and the member is a
 *     pointer to an array of n values;
 *   - a oneof member (PROTOBUF_C_FIELD_FLAG_ONEOF): set when the case word
 *     (uint32_t) at quantifier_offset holds its field number.
 * Every rp_pb_field_* function takes a field descriptor f of m's own descriptor.
 */
#ifndef RAPPORT_PBWALK_H
#define RAPPORT_PBWALK_H
#include <stdbool.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

#define RP_PB_PATH_MAX 512

/* rp_pb_path_t - where a walk is, for error messages: "status.field_violations[1].field".
 * A zeroed one is the empty path (the top message). */
typedef struct {
    char text[RP_PB_PATH_MAX];
    size_t len;             /* may exceed the buffer: then text is truncated */
} rp_pb_path_t;

/* rp_pb_path_push_field - append a field name ("name" at the top, ".name"
 * below); returns the length to pop back to. */
size_t rp_pb_path_push_field(rp_pb_path_t *path, const char *name);

/* rp_pb_path_push_index - append an element index ("[i]"); returns the length to
 * pop back to. */
size_t rp_pb_path_push_index(rp_pb_path_t *path, size_t i);

/* rp_pb_path_pop - go back to old, a length a push returned. */
void rp_pb_path_pop(rp_pb_path_t *path, size_t old);

/* rp_pb_field_elem_size - the size of one value of type t in a struct or array. */
size_t rp_pb_field_elem_size(ProtobufCType t);

/* rp_pb_field_present - whether f is set in m: a oneof member when the case word
 * holds its number, an OPTIONAL scalar, enum or bytes field when its has_ flag
 * is set; any other field (repeated ones included) is always present. */
bool rp_pb_field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f);

/* rp_pb_field_member - where the member of f is stored in m: the value of a
 * singular field, the array pointer of a repeated one. Borrowed from m. */
const void *rp_pb_field_member(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f);

/* rp_pb_field_count - the element count of repeated field f of m. */
size_t rp_pb_field_count(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f);

/* rp_pb_field_elem - element i (below the count) of repeated field f of m, or
 * NULL when m has no array for it. Borrowed from m. */
const void *rp_pb_field_elem(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                             size_t i);

/* rp_pb_field_set - copy one value of f's type from value into singular field f
 * of m and mark it present (the oneof case word or the has_ flag). */
void rp_pb_field_set(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const void *value);

/* rp_pb_field_set_array - store arr (n elements; m takes it) as repeated field f of m. */
void rp_pb_field_set_array(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, void *arr,
                           size_t n);

#endif
