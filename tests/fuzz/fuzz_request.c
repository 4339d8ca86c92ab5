/* fuzz_request.c - fuzz the request decode path: rapport.v1.Request, then its body
 * as the input (and output) message of every rapport.sys.v1.System method, each
 * run through rp_validate and rp_pb_to_json, as the skeleton and the CLI do.
 *
 * Oracles, besides the sanitizers: rp_pb_to_json never returns NULL and always
 * gives JSON that parses back; a message that passed rp_validate goes back
 * through rp_pb_from_json to the same JSON, and, when it carried no unknown
 * fields, to the same packed bytes. Any breach aborts.
 *
 * Built with -DRAPPORT_LIBFUZZER it is a plain libFuzzer target. Otherwise it is
 * a program: `fuzz_request [--iterations N] [--seed S] [FILE...]` runs each FILE
 * as one input, then N deterministic pseudo-random mutations (default 10000) of
 * a few seed requests, and exits 0 when nothing broke.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "rapport/pbjson.h"
#include "rapport/validate.h"
#include "rapport/v1/rpc.pb-c.h"
#include "rapport/v1/event.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
    unsigned long requests;     /* inputs that decoded as a Request */
    unsigned long bodies;       /* (body, type) pairs that decoded */
    unsigned long valid;        /* of those, passed rp_validate */
} s_stats;

/* s_die - report a broken oracle and abort, so a fuzzer keeps the input. */
static void __attribute__((noreturn))
s_die(const char *what, const ProtobufCMessageDescriptor *d, const char *detail)
{
    fprintf(stderr, "fuzz_request: %s (%s): %s\n", what, d->name, detail ? detail : "");
    abort();
}

/* s_has_unknown - whether m or any message inside it kept unknown fields. */
static bool
s_has_unknown(const ProtobufCMessage *m)
{
    if (m->n_unknown_fields > 0)
        return true;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *) m;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            && *(const uint32_t *) (base + f->quantifier_offset) != f->id)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) (base + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *) (base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (arr[k] && s_has_unknown(arr[k]))
                    return true;
        }
        else {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *) (base + f->offset);
            if (sub && s_has_unknown(sub))
                return true;
        }
    }
    return false;
}

/* s_packed_equal - whether a and b pack to the same bytes. */
static bool
s_packed_equal(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t la = protobuf_c_message_get_packed_size(a);
    size_t lb = protobuf_c_message_get_packed_size(b);
    if (la != lb)
        return false;
    uint8_t *pa = malloc(la + 1), *pb = malloc(lb + 1);
    if (!pa || !pb)
        abort();
    protobuf_c_message_pack(a, pa);
    protobuf_c_message_pack(b, pb);
    bool same = memcmp(pa, pb, la) == 0;
    free(pa);
    free(pb);
    return same;
}

/* s_exercise - decode buf as d and run it through validate and JSON both ways. */
static void
s_exercise(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, buf);
    if (!m)
        return;
    s_stats.bodies++;

    char path[128], why[128];
    bool valid = rp_validate(m, NULL, path, sizeof path, why, sizeof why) == 0;
    if (valid)
        s_stats.valid++;
    else if (why[0] == '\0')
        s_die("rp_validate failed without a reason", d, path);

    json_t *j = rp_pb_to_json(m);
    if (!j)
        s_die("rp_pb_to_json returned NULL", d, NULL);
    char *text = json_dumps(j, JSON_COMPACT);
    if (!text)
        s_die("json_dumps failed", d, NULL);
    json_error_t jerr;
    json_t *back = json_loads(text, 0, &jerr);
    if (!back)
        s_die("rp_pb_to_json gave JSON that does not parse", d, jerr.text);

    char err[256];
    ProtobufCMessage *m2 = rp_pb_from_json(d, back, err, sizeof err);
    if (!m2 && valid)
        s_die("a valid message did not come back from JSON", d, err);
    if (m2) {
        json_t *again = rp_pb_to_json(m2);
        if (!json_equal(j, again))
            s_die("JSON round trip changed the message", d, text);
        if (valid && !s_has_unknown(m) && !s_packed_equal(m, m2))
            s_die("JSON round trip changed the packed bytes", d, text);
        json_decref(again);
        protobuf_c_message_free_unpacked(m2, NULL);
    }
    json_decref(back);
    free(text);
    json_decref(j);
    protobuf_c_message_free_unpacked(m, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Rapport__V1__Request *req = rapport__v1__request__unpack(NULL, size, data);
    if (!req)
        return 0;
    s_stats.requests++;
    s_exercise(&rapport__v1__request__descriptor, data, size);

    const ProtobufCServiceDescriptor *svc = &rapport__sys__v1__system__descriptor;
    for (unsigned i = 0; i < svc->n_methods; i++) {
        s_exercise(svc->methods[i].input, req->body.data, req->body.len);
        s_exercise(svc->methods[i].output, req->body.data, req->body.len);
    }
    rapport__v1__request__free_unpacked(req, NULL);
    return 0;
}

#ifndef RAPPORT_LIBFUZZER

#define FUZZ_MAX_INPUT 4096     /* mutants are kept below this size */
#define FUZZ_POOL_MAX  64

typedef struct {
    uint8_t *data;
    size_t len;
} s_buf_t;

static uint64_t s_rng_state;

/* s_rand - splitmix64: small, fast and the same on every platform. */
static uint64_t
s_rand(void)
{
    uint64_t z = (s_rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static size_t
s_below(size_t n)
{
    return n ? (size_t) (s_rand() % n) : 0;
}

static s_buf_t
s_pack_owned(const ProtobufCMessage *m)
{
    s_buf_t b;
    b.len = protobuf_c_message_get_packed_size(m);
    b.data = malloc(b.len + 1);
    if (!b.data)
        abort();
    protobuf_c_message_pack(m, b.data);
    return b;
}

/* s_request - a packed Request for method carrying body. */
static s_buf_t
s_request(const char *method, const uint8_t *body, size_t body_len)
{
    Rapport__V1__Request req = RAPPORT__V1__REQUEST__INIT;
    req.id = "01HZX3Y6Q9ZT6W8V4KX2M3N4P5";
    req.method = (char *) method;
    req.body.data = (uint8_t *) body;
    req.body.len = body_len;
    req.token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1MSJ9.c2ln";
    req.deadline = 1700000000000;
    req.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    return s_pack_owned(&req.base);
}

static s_buf_t
s_request_for(const char *method, const ProtobufCMessage *body)
{
    s_buf_t b = s_pack_owned(body);
    s_buf_t r = s_request(method, b.data, b.len);
    free(b.data);
    return r;
}

/* s_seeds - a handful of well-formed requests whose bodies are System messages. */
static size_t
s_seeds(s_buf_t *pool)
{
    size_t n = 0;
    static uint8_t hash[32] = { 1, 2, 3, 0xff, 0xfe, 0x80 };

    Rapport__Sys__V1__HealthRequest health = RAPPORT__SYS__V1__HEALTH_REQUEST__INIT;
    pool[n++] = s_request_for("rapport.sys.v1.System/Health", &health.base);

    Rapport__Sys__V1__ReplayRequest replay = RAPPORT__SYS__V1__REPLAY_REQUEST__INIT;
    replay.from_seq = 1;
    replay.limit = 100;
    replay.type_prefix = "rapport.leads.v1.";
    pool[n++] = s_request_for("rapport.sys.v1.System/Replay", &replay.base);

    Rapport__Sys__V1__AuditRequest audit = RAPPORT__SYS__V1__AUDIT_REQUEST__INIT;
    audit.from_seq = 9007199254740993ULL;
    audit.limit = 4294967295u;
    pool[n++] = s_request_for("rapport.sys.v1.System/Audit", &audit.base);

    Rapport__Sys__V1__ClockAdvanceRequest clock = RAPPORT__SYS__V1__CLOCK_ADVANCE_REQUEST__INIT;
    clock.by_ms = -86400000;
    pool[n++] = s_request_for("rapport.sys.v1.System/ClockAdvance", &clock.base);

    Rapport__V1__Event ev[2] = { RAPPORT__V1__EVENT__INIT, RAPPORT__V1__EVENT__INIT };
    Rapport__V1__Event *evp[2] = { &ev[0], &ev[1] };
    for (int i = 0; i < 2; i++) {
        ev[i].seq = (uint64_t) i + 1;
        ev[i].id = "01HZX3Y6Q9ZT6W8V4KX2M3N4P5";
        ev[i].type = "rapport.leads.v1.lead.won";
        ev[i].source = "/branches/b1/leads";
        ev[i].subject = "01HZX3Y6Q9ZT6W8V4KX2M3N4P6";
        ev[i].time = INT64_MIN + i;
        ev[i].actor = "Soci\xC3\xA9t\xC3\xA9";
        ev[i].data.data = hash;
        ev[i].data.len = sizeof hash;
    }
    Rapport__Sys__V1__ReplayReply rr = RAPPORT__SYS__V1__REPLAY_REPLY__INIT;
    rr.n_events = 2;
    rr.events = evp;
    rr.last_seq = UINT64_MAX;
    pool[n++] = s_request_for("rapport.sys.v1.System/Replay", &rr.base);

    Rapport__Sys__V1__AuditRecord rec = RAPPORT__SYS__V1__AUDIT_RECORD__INIT;
    Rapport__Sys__V1__AuditRecord *recp[1] = { &rec };
    rec.seq = 1;
    rec.actor = "u1";
    rec.method = "rapport.leads.v1.Leads/Create";
    rec.digest.data = hash;
    rec.digest.len = sizeof hash;
    rec.hash.data = hash;
    rec.hash.len = 7;
    Rapport__Sys__V1__AuditReply ar = RAPPORT__SYS__V1__AUDIT_REPLY__INIT;
    ar.n_records = 1;
    ar.records = recp;
    pool[n++] = s_request_for("rapport.sys.v1.System/Audit", &ar.base);

    Rapport__Sys__V1__HealthReply hr = RAPPORT__SYS__V1__HEALTH_REPLY__INIT;
    hr.service = "leads";
    hr.ready = 1;
    hr.last_seq = 42;
    hr.now = 1700000000000;
    pool[n++] = s_request_for("rapport.sys.v1.System/Health", &hr.base);

    /* a Reply as a body: wrong type everywhere, with a nested enum */
    Rapport__V1__Status st = RAPPORT__V1__STATUS__INIT;
    st.code = RAPPORT__V1__CODE__NOT_FOUND;
    st.message = "no such lead";
    Rapport__V1__Reply reply = RAPPORT__V1__REPLY__INIT;
    reply.status = &st;
    pool[n++] = s_request_for("rapport.sys.v1.System/Metrics", &reply.base);
    return n;
}

/* s_mutate - apply one random edit to *b (len stays below FUZZ_MAX_INPUT). */
static void
s_mutate(s_buf_t *b, const s_buf_t *pool, size_t pool_n)
{
    static const uint8_t interesting[] = { 0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x12,
                                           0x1a, 0x22, 0x10, 0x0d, 0x09, 0xc3, 0xed, 0xf4 };
    switch (s_below(8)) {
    case 0:                                             /* flip a bit */
        if (b->len)
            b->data[s_below(b->len)] ^= (uint8_t) (1u << s_below(8));
        break;
    case 1:                                             /* an interesting byte */
        if (b->len)
            b->data[s_below(b->len)] = interesting[s_below(sizeof interesting)];
        break;
    case 2:                                             /* a random byte */
        if (b->len)
            b->data[s_below(b->len)] = (uint8_t) s_rand();
        break;
    case 3: {                                           /* delete a range */
        if (!b->len)
            break;
        size_t at = s_below(b->len), n = 1 + s_below(b->len - at < 16 ? b->len - at : 16);
        memmove(b->data + at, b->data + at + n, b->len - at - n);
        b->len -= n;
        break;
    }
    case 4: {                                           /* insert random bytes */
        size_t n = 1 + s_below(8);
        if (b->len + n >= FUZZ_MAX_INPUT)
            break;
        size_t at = s_below(b->len + 1);
        memmove(b->data + at + n, b->data + at, b->len - at);
        for (size_t i = 0; i < n; i++)
            b->data[at + i] = (uint8_t) s_rand();
        b->len += n;
        break;
    }
    case 5: {                                           /* duplicate a range */
        if (!b->len)
            break;
        size_t at = s_below(b->len), n = 1 + s_below(b->len - at);
        if (b->len + n >= FUZZ_MAX_INPUT)
            break;
        size_t to = s_below(b->len + 1);
        uint8_t tmp[FUZZ_MAX_INPUT];
        memcpy(tmp, b->data + at, n);
        memmove(b->data + to + n, b->data + to, b->len - to);
        memcpy(b->data + to, tmp, n);
        b->len += n;
        break;
    }
    case 6: {                                           /* splice in part of another input */
        const s_buf_t *o = &pool[s_below(pool_n)];
        if (!o->len)
            break;
        size_t from = s_below(o->len), n = 1 + s_below(o->len - from);
        size_t at = s_below(b->len + 1);
        if (at + n >= FUZZ_MAX_INPUT)
            break;
        memcpy(b->data + at, o->data + from, n);
        if (at + n > b->len)
            b->len = at + n;
        break;
    }
    default:                                            /* truncate */
        if (b->len)
            b->len = s_below(b->len);
        break;
    }
}

/* s_mutant - a new input derived from a pool entry: the raw request mutated, or
 * its body mutated and wrapped again in a well-formed Request. */
static s_buf_t
s_mutant(const s_buf_t *pool, size_t pool_n)
{
    const s_buf_t *src = &pool[s_below(pool_n)];
    s_buf_t b = { malloc(FUZZ_MAX_INPUT), 0 };
    if (!b.data)
        abort();
    Rapport__V1__Request *req = NULL;
    if (s_below(2) == 0)
        req = rapport__v1__request__unpack(NULL, src->len, src->data);
    if (req && req->body.len >= FUZZ_MAX_INPUT) {
        rapport__v1__request__free_unpacked(req, NULL);
        req = NULL;
    }
    if (req) {
        if (req->body.len)
            memcpy(b.data, req->body.data, req->body.len);
        b.len = req->body.len;
    }
    else {
        b.len = src->len < FUZZ_MAX_INPUT ? src->len : FUZZ_MAX_INPUT - 1;
        memcpy(b.data, src->data, b.len);
    }
    for (size_t k = 1 + s_below(4); k > 0; k--)
        s_mutate(&b, pool, pool_n);
    if (req) {
        s_buf_t wrapped = s_request(req->method, b.data, b.len);
        rapport__v1__request__free_unpacked(req, NULL);
        free(b.data);
        if (wrapped.len >= FUZZ_MAX_INPUT)
            wrapped.len = FUZZ_MAX_INPUT - 1;
        return wrapped;
    }
    return b;
}

static int
s_run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *data = malloc(cap);
    size_t got;
    while (data && (got = fread(data + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap && cap < (64u << 20))
            data = realloc(data, cap *= 2);
        else if (len == cap)
            break;
    }
    fclose(f);
    if (!data)
        abort();
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

static void
s_usage(void)
{
    fprintf(stderr, "usage: fuzz_request [--iterations N] [--seed S] [FILE...]\n");
}

int
main(int argc, char **argv)
{
    unsigned long iterations = 10000;
    uint64_t seed = 0x5241505054ULL;                    /* "RAPPT" */
    int rc = 0, files = 0;

    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            iterations = strtoul(argv[++i], &end, 10);
            if (*end) {
                s_usage();
                return 2;
            }
        }
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], &end, 0);
            if (*end) {
                s_usage();
                return 2;
            }
        }
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            s_usage();
            return 0;
        }
        else if (argv[i][0] == '-' && argv[i][1] == '-') {
            s_usage();
            return 2;
        }
        else {
            files++;
            if (s_run_file(argv[i]) != 0)
                rc = 1;
        }
    }

    s_rng_state = seed;
    s_buf_t pool[FUZZ_POOL_MAX];
    size_t n_seeds = s_seeds(pool), pool_n = n_seeds;
    for (size_t i = 0; i < n_seeds; i++)
        LLVMFuzzerTestOneInput(pool[i].data, pool[i].len);

    for (unsigned long it = 0; it < iterations; it++) {
        s_buf_t m = s_mutant(pool, pool_n);
        unsigned long before = s_stats.bodies;
        LLVMFuzzerTestOneInput(m.data, m.len);
        /* keep mutants that still decode somewhere deeper, to go further from them */
        if (s_stats.bodies > before + 2) {
            if (pool_n < FUZZ_POOL_MAX)
                pool[pool_n++] = m;
            else {
                size_t victim = n_seeds + s_below(FUZZ_POOL_MAX - n_seeds);
                free(pool[victim].data);
                pool[victim] = m;
            }
        }
        else
            free(m.data);
    }
    for (size_t i = 0; i < pool_n; i++)
        free(pool[i].data);

    printf("fuzz_request: %d files, %lu iterations (seed %llu): %lu requests decoded, "
           "%lu bodies decoded, %lu valid\n", files, iterations, (unsigned long long) seed,
           s_stats.requests, s_stats.bodies, s_stats.valid);
    return rc;
}

#endif /* RAPPORT_LIBFUZZER */
