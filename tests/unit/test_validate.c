/* test_validate.c - rp_validate over the real wire protos (rapport.v1 Request,
 * Reply/Status/FieldViolation, rapport.sys.v1 ReplayReply/Event, AuditRecord)
 * and over the hand-built recursive "Node" (testnode.h) for what the real protos
 * do not have yet: oneofs, proto2-style optional fields and deep nesting.
 *
 * Each row builds a message in static storage, runs rp_validate with the row's
 * limits and compares the return code, the path and the start of the reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "rapport/validate.h"
#include "rapport/v1/rpc.pb-c.h"
#include "rapport/v1/event.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"
#include "testnode.h"

/* --------------------------------------------------------------------------
 * Builders: each fills static storage and returns the message to check.
 */
static Rapport__V1__Reply s_reply;
static Rapport__V1__Status s_status;
static Rapport__V1__FieldViolation s_fv[1100];
static Rapport__V1__FieldViolation *s_fvp[1100];
static char s_long[70000];

/* s_reply_with - a Reply whose Status has n violations; returns it. */
static const ProtobufCMessage *
s_reply_with(size_t n, const char *message, int code)
{
    rapport__v1__reply__init(&s_reply);
    rapport__v1__status__init(&s_status);
    s_reply.id = "r1";
    s_reply.status = &s_status;
    s_status.code = code;
    s_status.message = (char *) message;
    for (size_t i = 0; i < n; i++) {
        rapport__v1__field_violation__init(&s_fv[i]);
        s_fv[i].field = "company.name";
        s_fv[i].description = "must not be empty";
        s_fvp[i] = &s_fv[i];
    }
    s_status.n_field_violations = n;
    s_status.field_violations = n ? s_fvp : NULL;
    return &s_reply.base;
}

/* s_str - a string of n 'a's in static storage. */
static char *
s_str(size_t n)
{
    assert_true(n < sizeof s_long);
    memset(s_long, 'a', n);
    s_long[n] = '\0';
    return s_long;
}

static const ProtobufCMessage *b_empty_reply(void) { return s_reply_with(0, "", 0); }
static const ProtobufCMessage *b_reply_ok(void) { return s_reply_with(3, "no such lead", RAPPORT__V1__CODE__NOT_FOUND); }
static const ProtobufCMessage *b_msg_bad_utf8(void) { return s_reply_with(0, "caf\xC3\x28", 0); }
static const ProtobufCMessage *b_msg_overlong(void) { return s_reply_with(0, "\xC0\xAF", 0); }
static const ProtobufCMessage *b_msg_overlong3(void) { return s_reply_with(0, "\xE0\x80\xAF", 0); }
static const ProtobufCMessage *b_msg_surrogate(void) { return s_reply_with(0, "\xED\xA0\x80", 0); }
static const ProtobufCMessage *b_msg_too_high(void) { return s_reply_with(0, "\xF4\x90\x80\x80", 0); }
static const ProtobufCMessage *b_msg_truncated(void) { return s_reply_with(0, "ok \xE2\x82", 0); }
static const ProtobufCMessage *b_msg_lone_cont(void) { return s_reply_with(0, "\x80", 0); }
static const ProtobufCMessage *b_msg_f5(void) { return s_reply_with(0, "\xF5\x80\x80\x80", 0); }
static const ProtobufCMessage *b_msg_unicode(void) { return s_reply_with(0, "Soci\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF", 0); }
static const ProtobufCMessage *b_msg_4096(void) { return s_reply_with(0, s_str(4096), 0); }
static const ProtobufCMessage *b_msg_4097(void) { return s_reply_with(0, s_str(4097), 0); }
static const ProtobufCMessage *b_msg_5(void) { return s_reply_with(0, "hello", 0); }
static const ProtobufCMessage *b_msg_6(void) { return s_reply_with(0, "hello!", 0); }
static const ProtobufCMessage *b_code_99(void) { return s_reply_with(0, "", 99); }
static const ProtobufCMessage *b_code_neg(void) { return s_reply_with(0, "", -1); }
static const ProtobufCMessage *b_code_16(void) { return s_reply_with(0, "", 16); }
static const ProtobufCMessage *b_fv_1000(void) { return s_reply_with(1000, "", 0); }
static const ProtobufCMessage *b_fv_1001(void) { return s_reply_with(1001, "", 0); }
static const ProtobufCMessage *b_fv_3(void) { return s_reply_with(3, "", 0); }

static const ProtobufCMessage *
b_fv_bad_utf8(void)
{
    const ProtobufCMessage *m = s_reply_with(3, "", 0);
    s_fv[1].field = "contacts.\xFF";
    return m;
}

static const ProtobufCMessage *
b_fv_long_description(void)
{
    const ProtobufCMessage *m = s_reply_with(3, "", 0);
    s_fv[2].description = s_str(5000);
    return m;
}

static const ProtobufCMessage *
b_fv_missing(void)
{
    const ProtobufCMessage *m = s_reply_with(3, "", 0);
    s_fvp[2] = NULL;
    return m;
}

static const ProtobufCMessage *
b_reply_body(size_t len)
{
    const ProtobufCMessage *m = s_reply_with(0, "", 0);
    s_reply.body.len = len;
    s_reply.body.data = (uint8_t *) s_str(len);
    return m;
}
static const ProtobufCMessage *b_body_64k(void) { return b_reply_body(65536); }
static const ProtobufCMessage *b_body_64k1(void) { return b_reply_body(65537); }

static Rapport__V1__Request s_req;
static const ProtobufCMessage *
b_request_long_id(void)
{
    rapport__v1__request__init(&s_req);
    s_req.id = s_str(4097);
    return &s_req.base;
}

static Rapport__Sys__V1__ReplayReply s_replay;
static Rapport__V1__Event s_ev[3];
static Rapport__V1__Event *s_evp[3];
static uint8_t s_data[8] = { 0, 1, 2, 0xff, 0x80, 0, 0, 0 };

static const ProtobufCMessage *
b_replay(void)
{
    rapport__sys__v1__replay_reply__init(&s_replay);
    for (int i = 0; i < 3; i++) {
        rapport__v1__event__init(&s_ev[i]);
        s_ev[i].seq = (uint64_t) i + 1;
        s_ev[i].type = "rapport.leads.v1.lead.won";
        s_ev[i].data.len = sizeof s_data;
        s_ev[i].data.data = s_data;
        s_evp[i] = &s_ev[i];
    }
    s_replay.n_events = 3;
    s_replay.events = s_evp;
    s_replay.last_seq = 3;
    return &s_replay.base;
}

static const ProtobufCMessage *
b_replay_bad_type(void)
{
    const ProtobufCMessage *m = b_replay();
    s_ev[0].type = "lead.\xC3";
    return m;
}

static const ProtobufCMessage *
b_replay_big_data(void)
{
    const ProtobufCMessage *m = b_replay();
    s_ev[2].data.len = 65537;
    s_ev[2].data.data = (uint8_t *) s_str(65537);
    return m;
}

static Rapport__Sys__V1__AuditRecord s_audit;
static const ProtobufCMessage *
b_audit_big_digest(void)
{
    rapport__sys__v1__audit_record__init(&s_audit);
    s_audit.digest.len = 321;           /* with max_string 20: 320 bytes allowed */
    s_audit.digest.data = (uint8_t *) s_str(321);
    return &s_audit.base;
}

static node_t s_nodes[12];
static int s_codes[3];
static char *s_tags[2];

/* s_chain - s_nodes[0] -> child -> ... with n nested children below the top. */
static const ProtobufCMessage *
s_chain(int n)
{
    for (int i = 0; i <= n; i++) {
        node_init(&s_nodes[i]);
        if (i > 0)
            s_nodes[i - 1].child = &s_nodes[i];
    }
    return &s_nodes[0].base;
}
static const ProtobufCMessage *b_depth_8(void) { return s_chain(8); }
static const ProtobufCMessage *b_depth_9(void) { return s_chain(9); }

static const ProtobufCMessage *
b_depth_9_via_oneof(void)
{
    for (int i = 0; i <= 9; i++) {
        node_init(&s_nodes[i]);
        if (i > 0) {
            if (i % 2) {
                s_nodes[i - 1].kind_case = 3;
                s_nodes[i - 1].sub = &s_nodes[i];
            }
            else
                s_nodes[i - 1].child = &s_nodes[i];
        }
    }
    return &s_nodes[0].base;
}

static const ProtobufCMessage *
b_oneof_num(void)
{
    node_init(&s_nodes[0]);
    s_nodes[0].kind_case = 2;
    s_nodes[0].num = 5;                 /* read as a pointer this would crash */
    return &s_nodes[0].base;
}

static const ProtobufCMessage *
b_oneof_not_set(void)
{
    node_init(&s_nodes[0]);
    s_nodes[0].kind_case = 0;
    s_nodes[0].num = 7;
    return &s_nodes[0].base;
}

static const ProtobufCMessage *
b_oneof_name_bad(void)
{
    node_init(&s_nodes[0]);
    s_nodes[0].kind_case = 1;
    s_nodes[0].name = "\xC3";
    return &s_nodes[0].base;
}

static const ProtobufCMessage *
b_oneof_sub_codes(void)
{
    node_init(&s_nodes[0]);
    node_init(&s_nodes[1]);
    s_codes[0] = 0;
    s_codes[1] = 17;
    s_codes[2] = 3;
    s_nodes[1].n_codes = 3;
    s_nodes[1].codes = s_codes;
    s_nodes[0].kind_case = 3;
    s_nodes[0].sub = &s_nodes[1];
    return &s_nodes[0].base;
}

static const ProtobufCMessage *
b_optional_unset(void)
{
    node_init(&s_nodes[0]);
    s_nodes[0].label = NULL;
    s_nodes[0].has_blob = 0;            /* not set: its length must not count */
    s_nodes[0].blob.len = 1u << 30;
    s_nodes[0].blob.data = NULL;
    return &s_nodes[0].base;
}

static const ProtobufCMessage *
b_optional_set(void)
{
    const ProtobufCMessage *m = b_optional_unset();
    s_nodes[0].has_blob = 1;
    return m;
}

static const ProtobufCMessage *
b_optional_label_bad(void)
{
    node_init(&s_nodes[0]);
    s_nodes[0].label = "\xE2\x28\xA1";
    return &s_nodes[0].base;
}

static const ProtobufCMessage *
b_child_tags_bad(void)
{
    node_init(&s_nodes[0]);
    node_init(&s_nodes[1]);
    s_tags[0] = "vip";
    s_tags[1] = "\xF8\x88\x80\x80\x80";
    s_nodes[1].n_tags = 2;
    s_nodes[1].tags = s_tags;
    s_nodes[0].child = &s_nodes[1];
    return &s_nodes[0].base;
}

/* --------------------------------------------------------------------------
 * The table
 */
typedef struct {
    const char *name;
    const ProtobufCMessage *(*build)(void);
    size_t max_string;          /* 0 with max_repeated 0: pass NULL limits */
    size_t max_repeated;
    int want_rc;
    const char *want_path;
    const char *want_why;       /* prefix of the reason */
} validate_case_t;

static const validate_case_t s_cases[] = {
    { "empty reply", b_empty_reply, 0, 0, 0, "", "" },
    { "reply with violations", b_reply_ok, 0, 0, 0, "", "" },
    { "invalid utf-8", b_msg_bad_utf8, 0, 0, -1, "status.message", "not valid UTF-8" },
    { "overlong 2-byte", b_msg_overlong, 0, 0, -1, "status.message", "not valid UTF-8" },
    { "overlong 3-byte", b_msg_overlong3, 0, 0, -1, "status.message", "not valid UTF-8" },
    { "surrogate", b_msg_surrogate, 0, 0, -1, "status.message", "not valid UTF-8" },
    { "above U+10FFFF", b_msg_too_high, 0, 0, -1, "status.message", "not valid UTF-8" },
    { "truncated sequence", b_msg_truncated, 0, 0, -1, "status.message", "not valid UTF-8" },
    { "lone continuation", b_msg_lone_cont, 0, 0, -1, "status.message", "not valid UTF-8" },
    { "F5 lead byte", b_msg_f5, 0, 0, -1, "status.message", "not valid UTF-8" },
    { "valid multi-byte", b_msg_unicode, 0, 0, 0, "", "" },
    { "string at default max", b_msg_4096, 0, 0, 0, "", "" },
    { "string over default max", b_msg_4097, 0, 0, -1, "status.message", "longer than 4096 bytes" },
    { "string at custom max", b_msg_5, 5, 0, 0, "", "" },
    { "string over custom max", b_msg_6, 5, 0, -1, "status.message", "longer than 5 bytes" },
    { "unknown enum", b_code_99, 0, 0, -1, "status.code", "unknown Code value 99" },
    { "negative enum", b_code_neg, 0, 0, -1, "status.code", "unknown Code value -1" },
    { "last enum value", b_code_16, 0, 0, 0, "", "" },
    { "1000 elements", b_fv_1000, 0, 0, 0, "", "" },
    { "1001 elements", b_fv_1001, 0, 0, -1, "status.field_violations", "more than 1000 elements" },
    { "custom repeated max", b_fv_3, 0, 2, -1, "status.field_violations", "more than 2 elements" },
    { "custom repeated at max", b_fv_3, 0, 3, 0, "", "" },
    { "nested element utf-8", b_fv_bad_utf8, 0, 0, -1, "status.field_violations[1].field", "not valid UTF-8" },
    { "nested element length", b_fv_long_description, 0, 0, -1, "status.field_violations[2].description", "longer than" },
    { "missing element", b_fv_missing, 0, 0, -1, "status.field_violations[2]", "missing element" },
    { "bytes at max", b_body_64k, 0, 0, 0, "", "" },
    { "bytes over max", b_body_64k1, 0, 0, -1, "body", "longer than 65536 bytes" },
    { "bytes custom max", b_audit_big_digest, 20, 0, -1, "digest", "longer than 320 bytes" },
    { "top-level string", b_request_long_id, 0, 0, -1, "id", "longer than 4096 bytes" },
    { "replay ok", b_replay, 0, 0, 0, "", "" },
    { "replay event string", b_replay_bad_type, 0, 0, -1, "events[0].type", "not valid UTF-8" },
    { "replay event bytes", b_replay_big_data, 0, 0, -1, "events[2].data", "longer than 65536" },
    { "depth 8", b_depth_8, 0, 0, 0, "", "" },
    { "depth 9", b_depth_9, 0, 0, -1, "child.child.child.child.child.child.child.child.child", "nested deeper than 8" },
    { "depth 9 via oneof", b_depth_9_via_oneof, 0, 0, -1, "sub.child.sub.child.sub.child.sub.child.sub", "nested deeper than 8" },
    { "oneof scalar member", b_oneof_num, 0, 0, 0, "", "" },
    { "oneof not set", b_oneof_not_set, 0, 0, 0, "", "" },
    { "oneof string member", b_oneof_name_bad, 0, 0, -1, "name", "not valid UTF-8" },
    { "oneof message member", b_oneof_sub_codes, 0, 0, -1, "sub.codes[1]", "unknown Code value 17" },
    { "optional unset", b_optional_unset, 0, 0, 0, "", "" },
    { "optional bytes set", b_optional_set, 0, 0, -1, "blob", "longer than 65536" },
    { "optional string", b_optional_label_bad, 0, 0, -1, "label", "not valid UTF-8" },
    { "repeated string in child", b_child_tags_bad, 0, 0, -1, "child.tags[1]", "not valid UTF-8" },
};

static void
test_table(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        const validate_case_t *c = &s_cases[i];
        const ProtobufCMessage *m = c->build();
        rp_validate_limits_t limits = { c->max_string, c->max_repeated };
        char path[256] = "junk", why[256] = "junk";
        int rc = rp_validate(m, c->max_string || c->max_repeated ? &limits : NULL,
                             path, sizeof path, why, sizeof why);
        if (rc != c->want_rc || strcmp(path, c->want_path) != 0
            || strncmp(why, c->want_why, strlen(c->want_why)) != 0)
            fail_msg("case \"%s\": rc %d path \"%s\" why \"%s\"; want %d \"%s\" \"%s\"",
                     c->name, rc, path, why, c->want_rc, c->want_path, c->want_why);
        if (c->want_rc == 0)
            assert_string_equal(why, "");
    }
}

/* test_small_buffers - a short path buffer truncates; NULL buffers are allowed. */
static void
test_small_buffers(void **state)
{
    (void) state;
    char path[8], why[10];
    assert_int_equal(rp_validate(b_fv_bad_utf8(), NULL, path, sizeof path, why, sizeof why), -1);
    assert_string_equal(path, "status.");
    assert_string_equal(why, "not valid");
    assert_int_equal(rp_validate(b_fv_bad_utf8(), NULL, NULL, 0, NULL, 0), -1);
    assert_int_equal(rp_validate(b_reply_ok(), NULL, NULL, 0, NULL, 0), 0);
}

/* test_unpacked - a message decoded from the wire is checked the same way. */
static void
test_unpacked(void **state)
{
    (void) state;
    const ProtobufCMessage *m = b_replay_bad_type();
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t buf[1024];
    assert_true(len <= sizeof buf);
    protobuf_c_message_pack(m, buf);
    ProtobufCMessage *u = protobuf_c_message_unpack(&rapport__sys__v1__replay_reply__descriptor,
                                                    NULL, len, buf);
    if (u) {                            /* protobuf-c may refuse bad UTF-8 itself */
        char path[64], why[64];
        assert_int_equal(rp_validate(u, NULL, path, sizeof path, why, sizeof why), -1);
        assert_string_equal(path, "events[0].type");
        protobuf_c_message_free_unpacked(u, NULL);
    }
    m = b_oneof_sub_codes();
    len = protobuf_c_message_get_packed_size(m);
    assert_true(len <= sizeof buf);
    protobuf_c_message_pack(m, buf);
    u = protobuf_c_message_unpack(&node_descriptor, NULL, len, buf);
    assert_non_null(u);
    char path[64], why[64];
    assert_int_equal(rp_validate(u, NULL, path, sizeof path, why, sizeof why), -1);
    assert_string_equal(path, "sub.codes[1]");
    protobuf_c_message_free_unpacked(u, NULL);
}

/* test_unknown_fields - a field number the descriptor does not declare is refused,
 * at the top and inside a sub-message, naming where it was found. */
static void
test_unknown_fields(void **state)
{
    (void) state;
    static const struct {
        const char *name;
        const ProtobufCMessageDescriptor *desc;
        uint8_t wire[32];
        size_t len;
        int want_rc;
        const char *want_path;
    } cases[] = {
        /* HealthReply { service = "x" } */
        { "known only", &rapport__sys__v1__health_reply__descriptor,
          { 0x0a, 0x01, 'x' }, 3, 0, "" },
        /* ... plus field 99 (varint 7) */
        { "unknown at top", &rapport__sys__v1__health_reply__descriptor,
          { 0x0a, 0x01, 'x', 0x98, 0x06, 0x07 }, 6, -1, "" },
        /* Reply { status { code=5, field 77 (bytes "zz") } } */
        { "unknown in a sub-message", &rapport__v1__reply__descriptor,
          { 0x12, 0x07, 0x08, 0x05, 0xea, 0x04, 0x02, 'z', 'z' }, 9, -1, "status" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ProtobufCMessage *u = protobuf_c_message_unpack(cases[i].desc, NULL, cases[i].len,
                                                        cases[i].wire);
        assert_non_null(u);
        char path[64] = "", why[128] = "";
        int rc = rp_validate(u, NULL, path, sizeof path, why, sizeof why);
        if (rc != cases[i].want_rc)
            fail_msg("%s: rc %d, want %d (%s: %s)", cases[i].name, rc, cases[i].want_rc, path, why);
        if (rc)
            assert_string_equal(path, cases[i].want_path);
        protobuf_c_message_free_unpacked(u, NULL);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_small_buffers),
        cmocka_unit_test(test_unpacked),
        cmocka_unit_test(test_unknown_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
