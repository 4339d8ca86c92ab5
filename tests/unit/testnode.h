/* testnode.h - "Node", a hand-built protobuf-c message (testnode.c) for the
 * unit tests of pbjson.c and validate.c: it has what the real protos do not
 * have yet - a oneof, float and double, proto2-style optional fields with and
 * without has_ flags, a packed repeated enum (rapport.v1.Code) and recursion.
 *
 *   oneof kind { string name = 1; int32 num = 2; Node sub = 3; }
 *   Node child = 4;  repeated string tags = 5;  optional int64 opt = 6;
 *   double d = 7;  float f = 8;  repeated rapport.v1.Code codes = 9 [packed];
 *   optional string label = 10;  optional bytes blob = 11;
 */
#ifndef RAPPORT_TESTNODE_H
#define RAPPORT_TESTNODE_H
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

typedef struct node node_t;
struct node {
    ProtobufCMessage base;
    node_t *child;                              /* 4 */
    size_t n_tags;                              /* 5 repeated string */
    char **tags;
    protobuf_c_boolean has_opt;                 /* 6 optional int64 */
    int64_t opt;
    double d;                                   /* 7 */
    float f;                                    /* 8 */
    size_t n_codes;                             /* 9 repeated Code, packed */
    int *codes;
    char *label;                                /* 10 optional string */
    protobuf_c_boolean has_blob;                /* 11 optional bytes */
    ProtobufCBinaryData blob;
    uint32_t kind_case;                         /* oneof kind: 1 name, 2 num, 3 sub */
    union {
        char *name;
        int32_t num;
        node_t *sub;
    };
};

extern const ProtobufCMessageDescriptor node_descriptor;

/* node_init - an empty Node (every field unset). */
void node_init(node_t *n);

#endif
