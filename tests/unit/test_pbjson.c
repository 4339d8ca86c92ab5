/* test_pbjson.c - protobuf-c <-> JSON over the real wire protos (Reply with its
 * Status enum and repeated FieldViolation, ReplayReply with repeated nested
 * Event carrying bytes and uint64, AuditRecord bytes, HealthReply bools and
 * int64) and the hand-built "Node" (testnode.h) for oneofs, float/double and
 * proto2-style optional fields, which the real protos do not have yet.
 *
 * Round trips go message -> JSON (compared with want_json) -> message -> packed
 * bytes, which must equal the original's. Parse rows give JSON text and either
 * the error wanted or a check of the decoded message. Every message built by
 * rp_pb_from_json is freed with protobuf_c_message_free_unpacked(m, NULL), so
 * the leak checker covers the ownership contract, on failures too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rapport/pbjson.h"
#include "rapport/v1/rpc.pb-c.h"
#include "rapport/v1/event.pb-c.h"
#include "rapport/v1/types.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"
#include "testnode.h"

/* LeadStage: a hand-built enum whose names share the prefix "LEAD_STAGE_". */
static const ProtobufCEnumValue stage_values[] = {
    { "LEAD_STAGE_UNSPECIFIED", "LEAD_STAGE_UNSPECIFIED", 0 },
    { "LEAD_STAGE_NEW", "LEAD_STAGE_NEW", 1 },
    { "LEAD_STAGE_WON", "LEAD_STAGE_WON", 5 },
};
static const ProtobufCEnumValueIndex stage_by_name[] = {
    { "LEAD_STAGE_NEW", 1 }, { "LEAD_STAGE_UNSPECIFIED", 0 }, { "LEAD_STAGE_WON", 2 },
};
static const ProtobufCIntRange stage_ranges[] = { { 0, 0 }, { 5, 2 }, { 0, 3 } };
static const ProtobufCEnumDescriptor stage_descriptor = {
    PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC, "test.LeadStage", "LeadStage", "LeadStage", "test",
    3, stage_values, 3, stage_by_name, 2, stage_ranges, NULL, NULL, NULL, NULL
};

/* --------------------------------------------------------------------------
 * Builders for round trips: static storage, never freed.
 */
static Rapport__V1__Reply s_reply;
static Rapport__V1__Status s_status;
static Rapport__V1__FieldViolation s_fv[2];
static Rapport__V1__FieldViolation *s_fvp[2];
static uint8_t s_bytes[32] = { 0x00, 0x01, 0xff, 0xfe, 0x80, 0x7f, 0x3e, 0x3f };

static const ProtobufCMessage *
b_empty_reply(void)
{
    rapport__v1__reply__init(&s_reply);
    return &s_reply.base;
}

static const ProtobufCMessage *
b_reply(void)
{
    rapport__v1__reply__init(&s_reply);
    rapport__v1__status__init(&s_status);
    s_reply.id = "01HZX3Y6Q9ZT6W8V4KX2M3N4P5";
    s_reply.status = &s_status;
    s_reply.body.len = 3;
    s_reply.body.data = s_bytes;
    s_status.code = RAPPORT__V1__CODE__INVALID_ARGUMENT;
    s_status.message = "bad \"input\"\n\xC3\xA9";
    for (int i = 0; i < 2; i++) {
        rapport__v1__field_violation__init(&s_fv[i]);
        s_fvp[i] = &s_fv[i];
    }
    s_fv[0].field = "company.name";
    s_fv[0].description = "must not be empty";
    s_fv[1].field = "contacts[2].email";
    s_status.n_field_violations = 2;
    s_status.field_violations = s_fvp;
    return &s_reply.base;
}

static Rapport__Sys__V1__HealthReply s_health;
static const ProtobufCMessage *
b_health(void)
{
    rapport__sys__v1__health_reply__init(&s_health);
    s_health.service = "leads";
    s_health.version = "0.1.0";
    s_health.ready = 1;
    s_health.last_seq = 42;
    s_health.uptime_ms = 1000;
    s_health.now = 1700000000000;
    return &s_health.base;
}

static Rapport__Sys__V1__ReplayReply s_replay;
static Rapport__V1__Event s_ev[4];
static Rapport__V1__Event *s_evp[4];
static const ProtobufCMessage *
b_replay(void)
{
    static const uint64_t seqs[4] = { 9007199254740991ULL, 9007199254740992ULL,
                                      UINT64_MAX, 0 };
    static const int64_t times[4] = { -9007199254740991LL, -9007199254740992LL,
                                      INT64_MIN, INT64_MAX };
    rapport__sys__v1__replay_reply__init(&s_replay);
    for (int i = 0; i < 4; i++) {
        rapport__v1__event__init(&s_ev[i]);
        s_ev[i].seq = seqs[i];
        s_ev[i].time = times[i];
        s_ev[i].type = "t";
        s_ev[i].data.len = (size_t) i;          /* 0..3 bytes: every padding case */
        s_ev[i].data.data = i ? s_bytes : NULL;
        s_evp[i] = &s_ev[i];
    }
    s_replay.n_events = 4;
    s_replay.events = s_evp;
    s_replay.last_seq = 4;
    s_replay.next_seq = 5;
    return &s_replay.base;
}

static Rapport__Sys__V1__AuditRecord s_audit;
static const ProtobufCMessage *
b_audit(void)
{
    rapport__sys__v1__audit_record__init(&s_audit);
    s_audit.seq = 7;
    s_audit.actor = "u1";
    s_audit.digest.len = 32;
    s_audit.digest.data = s_bytes;
    s_audit.prev.len = 6;
    s_audit.prev.data = s_bytes + 2;    /* ff fe 80 7f 3e 3f: '+' and '/' in base64 */
    return &s_audit.base;
}

static Rapport__V1__Money s_money;
static const ProtobufCMessage *
b_money(void)
{
    rapport__v1__money__init(&s_money);
    s_money.units = -123456;
    s_money.currency = "EUR";
    return &s_money.base;
}

static node_t s_nodes[4];
static char *s_tags[3] = { "a", "", "\xE2\x82\xAC" };
static int s_codes[2] = { 0, 5 };

static const ProtobufCMessage *
b_node_name(void)
{
    node_init(&s_nodes[0]);
    s_nodes[0].kind_case = 1;
    s_nodes[0].name = "n";
    s_nodes[0].d = 0.1;
    s_nodes[0].f = 1.5f;
    s_nodes[0].n_tags = 3;
    s_nodes[0].tags = s_tags;
    s_nodes[0].n_codes = 2;
    s_nodes[0].codes = s_codes;
    return &s_nodes[0].base;
}

static const ProtobufCMessage *
b_node_num(void)
{
    node_init(&s_nodes[0]);
    s_nodes[0].kind_case = 2;
    s_nodes[0].num = -7;
    s_nodes[0].has_opt = 1;
    s_nodes[0].opt = 0;                 /* set to zero: written because has_opt */
    s_nodes[0].d = INFINITY;
    s_nodes[0].f = -INFINITY;
    s_nodes[0].label = "";
    s_nodes[0].has_blob = 1;            /* set and empty */
    return &s_nodes[0].base;
}

static const ProtobufCMessage *
b_node_sub(void)
{
    for (int i = 0; i < 3; i++)
        node_init(&s_nodes[i]);
    s_nodes[0].kind_case = 3;
    s_nodes[0].sub = &s_nodes[1];
    s_nodes[1].child = &s_nodes[2];
    s_nodes[2].kind_case = 2;
    s_nodes[2].num = 0;
    s_nodes[2].d = -2.5e-300;
    s_nodes[2].has_blob = 1;
    s_nodes[2].blob.len = 5;
    s_nodes[2].blob.data = s_bytes;
    return &s_nodes[0].base;
}

typedef struct {
    const char *name;
    const ProtobufCMessage *(*build)(void);
    const char *want_json;      /* compact, in field order */
} roundtrip_case_t;

static const roundtrip_case_t s_roundtrips[] = {
    { "empty reply", b_empty_reply, "{\"id\":\"\",\"body\":\"\"}" },
    { "reply", b_reply,
      "{\"id\":\"01HZX3Y6Q9ZT6W8V4KX2M3N4P5\",\"status\":{\"code\":\"INVALID_ARGUMENT\","
      "\"message\":\"bad \\\"input\\\"\\n\xC3\xA9\",\"field_violations\":["
      "{\"field\":\"company.name\",\"description\":\"must not be empty\"},"
      "{\"field\":\"contacts[2].email\",\"description\":\"\"}],\"existing_id\":\"\"},"
      "\"body\":\"AAH/\"}" },
    { "health", b_health,
      "{\"service\":\"leads\",\"version\":\"0.1.0\",\"ready\":true,\"last_seq\":42,"
      "\"uptime_ms\":1000,\"now\":1700000000000,\"test_clock\":false}" },
    { "replay 64-bit edges", b_replay,
      "{\"events\":["
      "{\"seq\":9007199254740991,\"id\":\"\",\"type\":\"t\",\"source\":\"\",\"subject\":\"\","
      "\"time\":-9007199254740991,\"branch\":\"\",\"actor\":\"\",\"data\":\"\","
      "\"dataschema\":\"\",\"on_behalf_of\":\"\"},"
      "{\"seq\":\"9007199254740992\",\"id\":\"\",\"type\":\"t\",\"source\":\"\",\"subject\":\"\","
      "\"time\":\"-9007199254740992\",\"branch\":\"\",\"actor\":\"\",\"data\":\"AA==\","
      "\"dataschema\":\"\",\"on_behalf_of\":\"\"},"
      "{\"seq\":\"18446744073709551615\",\"id\":\"\",\"type\":\"t\",\"source\":\"\",\"subject\":\"\","
      "\"time\":\"-9223372036854775808\",\"branch\":\"\",\"actor\":\"\",\"data\":\"AAE=\","
      "\"dataschema\":\"\",\"on_behalf_of\":\"\"},"
      "{\"seq\":0,\"id\":\"\",\"type\":\"t\",\"source\":\"\",\"subject\":\"\","
      "\"time\":\"9223372036854775807\",\"branch\":\"\",\"actor\":\"\",\"data\":\"AAH/\","
      "\"dataschema\":\"\",\"on_behalf_of\":\"\"}],"
      "\"last_seq\":4,\"next_seq\":5}" },
    { "audit bytes", b_audit,
      "{\"seq\":7,\"time\":0,\"actor\":\"u1\",\"on_behalf_of\":\"\",\"method\":\"\","
      "\"request_id\":\"\",\"subject\":\"\","
      "\"digest\":\"AAH//oB/Pj8AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"prev\":\"//6Afz4/\","
      "\"hash\":\"\",\"code\":0,\"outcome\":\"\"}" },
    { "money", b_money, "{\"units\":-123456,\"currency\":\"EUR\"}" },
    { "oneof string", b_node_name,
      "{\"name\":\"n\",\"tags\":[\"a\",\"\",\"\xE2\x82\xAC\"],\"d\":0.10000000000000001,"
      "\"f\":1.5,\"codes\":[\"OK\",\"NOT_FOUND\"]}" },
    { "oneof scalar", b_node_num,
      "{\"num\":-7,\"tags\":[],\"opt\":0,\"d\":\"Infinity\",\"f\":\"-Infinity\",\"codes\":[],"
      "\"label\":\"\",\"blob\":\"\"}" },
    { "oneof message", b_node_sub,
      "{\"sub\":{\"child\":{\"num\":0,\"tags\":[],\"d\":-2.5e-300,\"f\":0.0,\"codes\":[],"
      "\"blob\":\"AAH//oA=\"},\"tags\":[],\"d\":0.0,\"f\":0.0,\"codes\":[]},"
      "\"tags\":[],\"d\":0.0,\"f\":0.0,\"codes\":[]}" },
};

/* s_pack - the packed bytes of m (malloc'd). */
static uint8_t *
s_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    assert_int_equal(protobuf_c_message_pack(m, buf), *len);
    return buf;
}

static void
test_roundtrip(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof s_roundtrips / sizeof s_roundtrips[0]; i++) {
        const roundtrip_case_t *c = &s_roundtrips[i];
        const ProtobufCMessage *m = c->build();
        json_t *j = rp_pb_to_json(m);
        assert_non_null(j);
        char *text = json_dumps(j, JSON_COMPACT);
        assert_non_null(text);
        if (strcmp(text, c->want_json) != 0)
            fail_msg("case \"%s\": json\n  %s\nwant\n  %s", c->name, text, c->want_json);

        /* through text, as the CLI does */
        json_error_t jerr;
        json_t *back = json_loads(text, 0, &jerr);
        assert_non_null(back);
        char err[256] = "junk";
        ProtobufCMessage *m2 = rp_pb_from_json(m->descriptor, back, err, sizeof err);
        if (!m2)
            fail_msg("case \"%s\": from_json: %s", c->name, err);
        size_t len1, len2;
        uint8_t *p1 = s_pack(m, &len1), *p2 = s_pack(m2, &len2);
        if (len1 != len2 || memcmp(p1, p2, len1) != 0)
            fail_msg("case \"%s\": packed bytes differ after the round trip", c->name);

        json_t *again = rp_pb_to_json(m2);
        assert_true(json_equal(j, again));

        free(p1);
        free(p2);
        json_decref(again);
        protobuf_c_message_free_unpacked(m2, NULL);
        json_decref(back);
        free(text);
        json_decref(j);
    }
}

/* test_to_json_edges - what cannot round-trip exactly still gives valid JSON. */
static void
test_to_json_edges(void **state)
{
    (void) state;
    Rapport__V1__Status st = RAPPORT__V1__STATUS__INIT;
    st.code = 99;                               /* undeclared: written as a number */
    st.message = "caf\xC3 \xFF!";               /* not UTF-8: U+FFFD per bad byte */
    json_t *j = rp_pb_to_json(&st.base);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_string_equal(text, "{\"code\":99,\"message\":\"caf\xEF\xBF\xBD \xEF\xBF\xBD!\","
                              "\"field_violations\":[],\"existing_id\":\"\"}");
    free(text);
    json_decref(j);

    node_t n;
    node_init(&n);
    n.d = NAN;
    j = rp_pb_to_json(&n.base);
    assert_string_equal(json_string_value(json_object_get(j, "d")), "NaN");
    assert_null(json_object_get(j, "opt"));     /* optional, not set */
    assert_null(json_object_get(j, "label"));   /* optional string, NULL */
    assert_null(json_object_get(j, "blob"));
    assert_null(json_object_get(j, "name"));    /* oneof not set */
    assert_null(json_object_get(j, "num"));
    assert_null(json_object_get(j, "child"));   /* unset message */
    json_decref(j);
}

/* --------------------------------------------------------------------------
 * Parsing
 */
typedef struct {
    const char *name;
    const ProtobufCMessageDescriptor *desc;
    const char *json;
    const char *want_err;               /* NULL: must succeed */
    void (*check)(const ProtobufCMessage *m);
} parse_case_t;

static void
c_health_max(const ProtobufCMessage *m)
{
    const Rapport__Sys__V1__HealthReply *h = (const void *) m;
    assert_true(h->last_seq == UINT64_MAX);
    assert_true(h->uptime_ms == INT64_MIN);
    assert_true(h->now == 2);
    assert_true(h->ready);
    assert_string_equal(h->service, "");
}

static void
c_limit_max(const ProtobufCMessage *m)
{
    assert_true(((const Rapport__Sys__V1__ReplayRequest *) m)->limit == UINT32_MAX);
}

static void
c_code_not_found(const ProtobufCMessage *m)
{
    const Rapport__V1__Status *s = (const void *) m;
    assert_int_equal(s->code, RAPPORT__V1__CODE__NOT_FOUND);
}

static void
c_camel(const ProtobufCMessage *m)
{
    const Rapport__V1__Status *s = (const void *) m;
    assert_int_equal(s->n_field_violations, 1);
    assert_string_equal(s->field_violations[0]->field, "a");
    assert_string_equal(s->existing_id, "x");
    assert_string_equal(s->message, "");
}

static void
c_null_is_unset(const ProtobufCMessage *m)
{
    const Rapport__V1__Reply *r = (const void *) m;
    assert_string_equal(r->id, "");
    assert_null(r->status);
    assert_int_equal(r->body.len, 0);
}

static void
c_body_aah(const ProtobufCMessage *m)
{
    const Rapport__V1__Reply *r = (const void *) m;
    assert_int_equal(r->body.len, 3);
    assert_memory_equal(r->body.data, "\x00\x01\xff", 3);
}

static void
c_body_one(const ProtobufCMessage *m)
{
    const Rapport__V1__Reply *r = (const void *) m;
    assert_int_equal(r->body.len, 1);
    assert_int_equal(r->body.data[0], 1);
}

static void
c_num3(const ProtobufCMessage *m)
{
    const node_t *n = (const void *) m;
    assert_int_equal(n->kind_case, 2);
    assert_int_equal(n->num, 3);
}

static void
c_sub_sub(const ProtobufCMessage *m)
{
    const node_t *n = (const void *) m;
    assert_int_equal(n->kind_case, 3);
    assert_int_equal(n->sub->kind_case, 3);
    assert_int_equal(n->sub->sub->kind_case, 1);
    assert_string_equal(n->sub->sub->name, "deep");
}

static void
c_nan(const ProtobufCMessage *m)
{
    const node_t *n = (const void *) m;
    assert_true(isnan(n->d));
    assert_true(isinf(n->f) && n->f < 0);
}

static void
c_opt_set(const ProtobufCMessage *m)
{
    const node_t *n = (const void *) m;
    assert_true(n->has_opt);
    assert_true(n->opt == -5);
    assert_true(n->has_blob);
    assert_string_equal(n->label, "l");
}

static void
c_codes(const ProtobufCMessage *m)
{
    const node_t *n = (const void *) m;
    assert_int_equal(n->n_codes, 3);
    assert_int_equal(n->codes[0], 5);
    assert_int_equal(n->codes[1], 16);
    assert_int_equal(n->codes[2], 0);
}

static const parse_case_t s_parses[] = {
    /* unknown keys and shapes */
    { "unknown key", &rapport__sys__v1__health_reply__descriptor, "{\"bogus\":1}",
      "bogus: unknown field", NULL },
    { "unknown nested key", &rapport__v1__reply__descriptor, "{\"status\":{\"bogus\":1}}",
      "status.bogus: unknown field", NULL },
    { "not an object", &rapport__v1__reply__descriptor, "[1]", "expected an object", NULL },
    { "message not object", &rapport__v1__reply__descriptor, "{\"status\":\"OK\"}",
      "status: expected an object", NULL },
    { "key twice", &rapport__v1__status__descriptor, "{\"existing_id\":\"a\",\"existingId\":\"b\"}",
      "existing_id: given twice", NULL },
    { "camelCase names", &rapport__v1__status__descriptor,
      "{\"fieldViolations\":[{\"field\":\"a\"}],\"existingId\":\"x\"}", NULL, c_camel },
    { "null is unset", &rapport__v1__reply__descriptor,
      "{\"id\":null,\"status\":null,\"body\":null}", NULL, c_null_is_unset },
    /* integers */
    { "bool mismatch", &rapport__sys__v1__health_reply__descriptor, "{\"ready\":\"yes\"}",
      "ready: expected true or false", NULL },
    { "string mismatch", &rapport__sys__v1__health_reply__descriptor, "{\"service\":1}",
      "service: expected a string", NULL },
    { "64-bit extremes", &rapport__sys__v1__health_reply__descriptor,
      "{\"last_seq\":\"18446744073709551615\",\"uptime_ms\":\"-9223372036854775808\","
      "\"now\":2.0,\"ready\":true}", NULL, c_health_max },
    { "uint64 overflow", &rapport__sys__v1__health_reply__descriptor,
      "{\"last_seq\":\"18446744073709551616\"}", "last_seq: expected an unsigned integer", NULL },
    { "uint64 negative", &rapport__sys__v1__health_reply__descriptor, "{\"last_seq\":-1}",
      "last_seq: out of range", NULL },
    { "uint64 negative string", &rapport__sys__v1__health_reply__descriptor,
      "{\"last_seq\":\"-1\"}", "last_seq: expected an unsigned integer", NULL },
    { "int64 overflow", &rapport__sys__v1__health_reply__descriptor,
      "{\"now\":\"9223372036854775808\"}", "now: expected an integer", NULL },
    { "int64 fraction", &rapport__sys__v1__health_reply__descriptor, "{\"now\":1.5}",
      "now: expected an integer", NULL },
    { "int64 blank", &rapport__sys__v1__health_reply__descriptor, "{\"now\":\" 12\"}",
      "now: expected an integer", NULL },
    { "int64 plus", &rapport__sys__v1__health_reply__descriptor, "{\"now\":\"+12\"}",
      "now: expected an integer", NULL },
    { "int64 junk", &rapport__sys__v1__health_reply__descriptor, "{\"now\":\"12a\"}",
      "now: expected an integer", NULL },
    { "int64 empty", &rapport__sys__v1__health_reply__descriptor, "{\"now\":\"\"}",
      "now: expected an integer", NULL },
    { "int64 bool", &rapport__sys__v1__health_reply__descriptor, "{\"now\":true}",
      "now: expected an integer", NULL },
    { "uint32 max", &rapport__sys__v1__replay_request__descriptor, "{\"limit\":4294967295}",
      NULL, c_limit_max },
    { "uint32 overflow", &rapport__sys__v1__replay_request__descriptor,
      "{\"limit\":4294967296}", "limit: out of range", NULL },
    { "int32 overflow", &node_descriptor, "{\"num\":2147483648}", "num: out of range", NULL },
    { "int32 underflow", &node_descriptor, "{\"num\":\"-2147483649\"}", "num: out of range", NULL },
    /* enums */
    { "enum name", &rapport__v1__status__descriptor, "{\"code\":\"NOT_FOUND\"}", NULL,
      c_code_not_found },
    { "enum any case", &rapport__v1__status__descriptor, "{\"code\":\"not_Found\"}", NULL,
      c_code_not_found },
    { "enum number", &rapport__v1__status__descriptor, "{\"code\":5}", NULL, c_code_not_found },
    { "enum unknown name", &rapport__v1__status__descriptor, "{\"code\":\"nope\"}",
      "code: unknown Code \"nope\"", NULL },
    { "enum unknown number", &rapport__v1__status__descriptor, "{\"code\":99}",
      "code: unknown Code 99", NULL },
    { "enum bool", &rapport__v1__status__descriptor, "{\"code\":true}",
      "code: expected a Code name", NULL },
    { "repeated enum", &node_descriptor, "{\"codes\":[\"not_found\",16,\"OK\"]}", NULL, c_codes },
    { "repeated enum bad", &node_descriptor, "{\"codes\":[\"OK\",\"nah\"]}",
      "codes[1]: unknown Code \"nah\"", NULL },
    /* repeated and nested */
    { "repeated not array", &rapport__v1__status__descriptor, "{\"field_violations\":{}}",
      "field_violations: expected an array", NULL },
    { "repeated element mismatch", &rapport__v1__status__descriptor,
      "{\"field_violations\":[{\"field\":\"a\"},{\"field\":3}]}",
      "field_violations[1].field: expected a string", NULL },
    { "repeated null", &rapport__v1__status__descriptor, "{\"field_violations\":[null]}",
      "field_violations[0]: null in an array", NULL },
    { "cleanup after late failure", &rapport__v1__reply__descriptor,
      "{\"id\":\"abc\",\"body\":\"AAH/\",\"status\":{\"message\":\"m\",\"existing_id\":\"e\","
      "\"field_violations\":[{\"field\":\"a\",\"description\":\"d\"},{\"field\":\"b\"},"
      "{\"description\":false}]}}",
      "status.field_violations[2].description: expected a string", NULL },
    { "cleanup in repeated strings", &node_descriptor,
      "{\"name\":\"x\",\"tags\":[\"a\",\"b\",7],\"blob\":\"AA==\",\"label\":\"l\"}",
      "tags[2]: expected a string", NULL },
    /* strings and bytes */
    { "string with NUL", &rapport__v1__reply__descriptor, "{\"id\":\"a\\u0000b\"}",
      "id: contains a NUL character", NULL },
    { "bytes standard", &rapport__v1__reply__descriptor, "{\"body\":\"AAH/\"}", NULL, c_body_aah },
    { "bytes url-safe", &rapport__v1__reply__descriptor, "{\"body\":\"AAH_\"}", NULL, c_body_aah },
    { "bytes unpadded", &rapport__v1__reply__descriptor, "{\"body\":\"AQ\"}", NULL, c_body_one },
    { "bytes padded", &rapport__v1__reply__descriptor, "{\"body\":\"AQ==\"}", NULL, c_body_one },
    { "bytes bad length", &rapport__v1__reply__descriptor, "{\"body\":\"A\"}",
      "body: not valid base64", NULL },
    { "bytes bad char", &rapport__v1__reply__descriptor, "{\"body\":\"AA*=\"}",
      "body: not valid base64", NULL },
    { "bytes blank", &rapport__v1__reply__descriptor, "{\"body\":\"AA AA\"}",
      "body: not valid base64", NULL },
    { "bytes number", &rapport__v1__reply__descriptor, "{\"body\":5}",
      "body: expected a base64 string", NULL },
    /* oneofs, optional, floats */
    { "oneof two members", &node_descriptor, "{\"name\":\"x\",\"num\":3}",
      "num: only one of name and num may be set", NULL },
    { "oneof member and null", &node_descriptor, "{\"name\":null,\"num\":3}", NULL, c_num3 },
    { "oneof message chain", &node_descriptor, "{\"sub\":{\"sub\":{\"name\":\"deep\"}}}", NULL,
      c_sub_sub },
    { "oneof deep conflict", &node_descriptor,
      "{\"sub\":{\"child\":{\"sub\":{},\"name\":\"x\"}}}",
      "sub.child.name: only one of sub and name may be set", NULL },
    { "optional fields", &node_descriptor, "{\"opt\":\"-5\",\"blob\":\"\",\"label\":\"l\"}",
      NULL, c_opt_set },
    { "nan and infinity", &node_descriptor, "{\"d\":\"NaN\",\"f\":\"-Infinity\"}", NULL, c_nan },
    { "double overflow", &node_descriptor, "{\"d\":\"1e400\"}", "d: expected a number", NULL },
    { "double hex", &node_descriptor, "{\"d\":\"0x10\"}", "d: expected a number", NULL },
    { "double inf spelling", &node_descriptor, "{\"d\":\"inf\"}", "d: expected a number", NULL },
    { "double text", &node_descriptor, "{\"d\":\"abc\"}", "d: expected a number", NULL },
    { "double bool", &node_descriptor, "{\"d\":false}", "d: expected a number", NULL },
    { "float overflow", &node_descriptor, "{\"f\":1e39}", "f: out of range", NULL },
};

static void
test_parse(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof s_parses / sizeof s_parses[0]; i++) {
        const parse_case_t *c = &s_parses[i];
        json_error_t jerr;
        json_t *j = json_loads(c->json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!j)
            fail_msg("case \"%s\": bad test JSON: %s", c->name, jerr.text);
        char err[256] = "junk";
        ProtobufCMessage *m = rp_pb_from_json(c->desc, j, err, sizeof err);
        if (c->want_err) {
            if (m || strcmp(err, c->want_err) != 0)
                fail_msg("case \"%s\": got %s \"%s\", want error \"%s\"", c->name,
                         m ? "a message" : "error", err, c->want_err);
        }
        else {
            if (!m)
                fail_msg("case \"%s\": unexpected error \"%s\"", c->name, err);
            assert_string_equal(err, "");
            assert_ptr_equal(m->descriptor, c->desc);
            if (c->check)
                c->check(m);
            /* whatever was accepted packs and unpacks */
            size_t len;
            uint8_t *buf = s_pack(m, &len);
            ProtobufCMessage *u = protobuf_c_message_unpack(c->desc, NULL, len, buf);
            assert_non_null(u);
            protobuf_c_message_free_unpacked(u, NULL);
            free(buf);
            protobuf_c_message_free_unpacked(m, NULL);
        }
        json_decref(j);
    }
}

/* test_parse_limits - NULL input, tiny error buffers, and nesting bounds. */
static void
test_parse_limits(void **state)
{
    (void) state;
    char err[16];
    assert_null(rp_pb_from_json(&rapport__v1__reply__descriptor, NULL, err, sizeof err));
    assert_string_equal(err, "expected an obj");

    json_t *j = json_pack("{s:{s:i}}", "status", "nope", 1);
    assert_null(rp_pb_from_json(&rapport__v1__reply__descriptor, j, err, 8));
    assert_string_equal(err, "status.");
    assert_null(rp_pb_from_json(&rapport__v1__reply__descriptor, j, NULL, 0));
    json_decref(j);

    /* 64 levels below the top are accepted, 65 are not */
    for (int depth = 64; depth <= 65; depth++) {
        json_t *top = json_object(), *cur = top;
        for (int i = 0; i < depth; i++) {
            json_t *next = json_object();
            json_object_set_new(cur, "child", next);
            cur = next;
        }
        json_object_set_new(cur, "tags", json_pack("[s]", "leaf"));
        char big[1024];
        ProtobufCMessage *m = rp_pb_from_json(&node_descriptor, top, big, sizeof big);
        if (depth == 64) {
            assert_non_null(m);
            protobuf_c_message_free_unpacked(m, NULL);
        }
        else {
            assert_null(m);
            assert_non_null(strstr(big, "nested deeper than 64 levels"));
        }
        json_decref(top);
    }
}

/* --------------------------------------------------------------------------
 * Enum names
 */
typedef struct {
    const ProtobufCEnumDescriptor *desc;
    const char *name;
    int want_rc;
    int want_value;
} enum_case_t;

static const enum_case_t s_enums[] = {
    { &rapport__v1__code__descriptor, "NOT_FOUND", 0, 5 },
    { &rapport__v1__code__descriptor, "not_found", 0, 5 },
    { &rapport__v1__code__descriptor, "ok", 0, 0 },
    { &rapport__v1__code__descriptor, "UNAUTHENTICATED", 0, 16 },
    { &rapport__v1__code__descriptor, "FOUND", -1, 0 },       /* Code has no common prefix */
    { &rapport__v1__code__descriptor, "", -1, 0 },
    { &stage_descriptor, "LEAD_STAGE_WON", 0, 5 },
    { &stage_descriptor, "lead_stage_won", 0, 5 },
    { &stage_descriptor, "won", 0, 5 },
    { &stage_descriptor, "Won", 0, 5 },
    { &stage_descriptor, "new", 0, 1 },
    { &stage_descriptor, "unspecified", 0, 0 },
    { &stage_descriptor, "STAGE_WON", -1, 0 },
    { &stage_descriptor, "LEAD_STAGE_", -1, 0 },
    { &stage_descriptor, "", -1, 0 },
    { &stage_descriptor, "lost", -1, 0 },
};

static void
test_enum_value(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof s_enums / sizeof s_enums[0]; i++) {
        const enum_case_t *c = &s_enums[i];
        int v = -12345;
        int rc = rp_enum_value(c->desc, c->name, &v);
        if (rc != c->want_rc || (rc == 0 && v != c->want_value))
            fail_msg("%s \"%s\": rc %d value %d; want %d %d", c->desc->short_name, c->name,
                     rc, v, c->want_rc, c->want_value);
    }
}

static void
test_enum_name(void **state)
{
    (void) state;
    assert_string_equal(rp_enum_name(&rapport__v1__code__descriptor, 5), "NOT_FOUND");
    assert_string_equal(rp_enum_name(&rapport__v1__code__descriptor, 0), "OK");
    assert_null(rp_enum_name(&rapport__v1__code__descriptor, 17));
    assert_null(rp_enum_name(&rapport__v1__code__descriptor, -1));
    assert_string_equal(rp_enum_name(&stage_descriptor, 5), "LEAD_STAGE_WON");
    assert_null(rp_enum_name(&stage_descriptor, 3));
}

static void
test_enum_text(void **state)
{
    (void) state;
    static const struct {
        const ProtobufCEnumDescriptor *desc;
        int value;
        size_t cap;
        const char *want;               /* NULL: unknown */
    } cases[] = {
        { &stage_descriptor, 5, 32, "won" },
        { &stage_descriptor, 0, 32, "unspecified" },
        { &rapport__v1__code__descriptor, 5, 32, "not found" },     /* no common prefix */
        { &rapport__v1__code__descriptor, 16, 32, "unauthenticated" },
        { &rapport__v1__code__descriptor, 5, 4, "not" },             /* cut to cap - 1 */
        { &stage_descriptor, 3, 32, NULL },
        { &rapport__v1__code__descriptor, -1, 32, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[32] = "x";
        const char *r = rp_enum_text(cases[i].desc, cases[i].value, out, cases[i].cap);
        if (!cases[i].want) {
            assert_null(r);
            assert_string_equal(out, "");
        } else {
            assert_ptr_equal(r, out);
            assert_string_equal(out, cases[i].want);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_to_json_edges),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_enum_value),
        cmocka_unit_test(test_enum_name),
        cmocka_unit_test(test_enum_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
