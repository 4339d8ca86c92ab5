/* pbjson.h - protobuf-c messages to and from JSON (jansson), driven by descriptors,
 * for the CLI's --json output, CloudEvents JSON and CLI input.
 *
 * Mapping (close to proto3's canonical JSON): field names as in the .proto
 * (snake_case); int64/uint64 as JSON numbers when |v| < 2^53 else strings; bytes as
 * base64 (standard); enums by name; repeated as arrays; unset message fields omitted;
 * rapport.v1.Money as {"units":..,"currency":..}.
 */
#ifndef RAPPORT_PBJSON_H
#define RAPPORT_PBJSON_H
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* rp_pb_to_json - a new JSON object (caller json_decref's). Never NULL for valid m. */
json_t *rp_pb_to_json(const ProtobufCMessage *m);
/* rp_pb_from_json - build a message of desc from obj (malloc'd; free with
 * protobuf_c_message_free_unpacked(m, NULL)). Unknown keys are an error. NULL with
 * err (cap bytes) naming the field on failure. */
ProtobufCMessage *rp_pb_from_json(const ProtobufCMessageDescriptor *desc, json_t *obj,
                                  char *err, size_t cap);
/* rp_enum_name / rp_enum_value - an enum value's name without the type prefix
 * ("STAGE_WON" -> as declared) and back; NULL / -1 when unknown. Matching by
 * rp_enum_value is case-insensitive and also accepts the name without a common
 * prefix ("won" for LEAD_STAGE_WON when the prefix is "LEAD_STAGE_"). */
const char *rp_enum_name(const ProtobufCEnumDescriptor *d, int value);
int rp_enum_value(const ProtobufCEnumDescriptor *d, const char *name, int *value);
/* rp_enum_text - an enum value for people: its name without the prefix every name of
 * the enum shares, in lower case, '_' as ' ' (LEAD_STAGE_NEEDS_IDENTIFIED -> "needs
 * identified"), into out (cut to cap - 1 bytes). Returns out, or NULL (out "") when
 * the value is unknown. */
const char *rp_enum_text(const ProtobufCEnumDescriptor *d, int value, char *out, size_t cap);

#endif
