/* testnode.c - the descriptor of the hand-built "Node" message (testnode.h). */
#include <string.h>

#include "testnode.h"
#include "rapport/v1/rpc.pb-c.h"

void
node_init(node_t *n)
{
    memset(n, 0, sizeof *n);
    n->base.descriptor = &node_descriptor;
}

#define NODE_FIELD(nm, id, label, type, q, member, desc, flags) \
    { nm, id, label, type, q, offsetof(node_t, member), desc, NULL, flags, 0, NULL, NULL }

static const ProtobufCFieldDescriptor node_fields[] = {
    NODE_FIELD("name", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING,
               offsetof(node_t, kind_case), name, NULL, PROTOBUF_C_FIELD_FLAG_ONEOF),
    NODE_FIELD("num", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_INT32,
               offsetof(node_t, kind_case), num, NULL, PROTOBUF_C_FIELD_FLAG_ONEOF),
    NODE_FIELD("sub", 3, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE,
               offsetof(node_t, kind_case), sub, &node_descriptor, PROTOBUF_C_FIELD_FLAG_ONEOF),
    NODE_FIELD("child", 4, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE,
               0, child, &node_descriptor, 0),
    NODE_FIELD("tags", 5, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_STRING,
               offsetof(node_t, n_tags), tags, NULL, 0),
    NODE_FIELD("opt", 6, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_INT64,
               offsetof(node_t, has_opt), opt, NULL, 0),
    NODE_FIELD("d", 7, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_DOUBLE, 0, d, NULL, 0),
    NODE_FIELD("f", 8, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_FLOAT, 0, f, NULL, 0),
    NODE_FIELD("codes", 9, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_ENUM,
               offsetof(node_t, n_codes), codes, &rapport__v1__code__descriptor,
               PROTOBUF_C_FIELD_FLAG_PACKED),
    NODE_FIELD("label", 10, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_STRING,
               0, label, NULL, 0),
    NODE_FIELD("blob", 11, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_BYTES,
               offsetof(node_t, has_blob), blob, NULL, 0),
};
/* blob child codes d f label name num opt sub tags */
static const unsigned node_by_name[] = { 10, 3, 8, 6, 7, 9, 0, 1, 5, 2, 4 };
static const ProtobufCIntRange node_ranges[] = { { 1, 0 }, { 0, 11 } };

const ProtobufCMessageDescriptor node_descriptor = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "test.Node", "Node", "Node", "test",
    sizeof(node_t), 11, node_fields, node_by_name, 1, node_ranges,
    (ProtobufCMessageInit) node_init, NULL, NULL, NULL
};
