/* cli_engine.c - the table-driven command engine: a command group on the methods of
 * one protobuf service is its tables (cli.h, cli_engine_t), and this file turns a
 * command line into the request, calls and prints.
 *
 * A flag's text becomes a JSON value by its kind (CLI_F_TEXT, CLI_F_ENUM,
 * CLI_F_DATE, ... or one of the engine's own kinds); the values go to their paths in
 * one JSON request, which rp_pb_from_json makes a message of the method's input
 * type. Usage errors name the flag and the rule; the service names the field of any
 * rule it enforces, which cli_call prints. A list view pages through the reply's
 * repeated field (one table, or with --json each reply, or with --all one array).
 * cli_engine_init checks every row against the descriptors, so a changed .proto
 * fails at once rather than at a user's command.
 */
#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "cli.h"
#include "rapport/pbjson.h"
#include "rapport/ulid.h"
#include "rapport/util.h"

/* The engines initialised, so that a command finds its own. */
#define MAX_ENGINES 32
static const cli_engine_t *s_engines[MAX_ENGINES];
static size_t s_nengines;

/* ---- descriptors ---- */

static const ProtobufCMethodDescriptor *s_method(const cli_engine_t *e, const char *name)
{
    return protobuf_c_service_descriptor_get_method_by_name(e->svc, name);
}

const ProtobufCFieldDescriptor *cli_engine_field(const ProtobufCMessageDescriptor *d, const char *path)
{
    char key[64];
    for (;;) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t) (dot - path) : strlen(path);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
        if (!f || !dot)
            return f;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            return NULL;
        d = f->descriptor;
        path = dot + 1;
    }
}

/* s_is_field - whether flags of this kind set a request field. */
static bool s_is_field(int kind)
{
    return kind < CLI_F_CURRENCY || kind >= CLI_F_CUSTOM;
}

/* s_filter - the method a "Method/field" flag picks, else NULL. */
static const ProtobufCMethodDescriptor *s_filter(const cli_engine_t *e, const cli_eflag_t *f)
{
    const char *slash = f->field ? strchr(f->field, '/') : NULL;
    char name[64];
    if (!slash || (size_t) (slash - f->field) >= sizeof name)
        return NULL;
    memcpy(name, f->field, (size_t) (slash - f->field));
    name[slash - f->field] = 0;
    return s_method(e, name);
}

/* s_flag_field - the request field of flag f of row c; *path (when not NULL) its path. */
static const ProtobufCFieldDescriptor *s_flag_field(const cli_engine_t *e, const cli_erow_t *c,
                                                     const cli_eflag_t *f, const char **path)
{
    const ProtobufCMethodDescriptor *m = s_filter(e, f);
    const char *p = m ? strchr(f->field, '/') + 1 : f->field;
    if (path)
        *path = p;
    return cli_engine_field((m ? m : s_method(e, c->method))->input, p);
}

static const cli_eflag_t *s_find_kind(const cli_erow_t *c, int kind)
{
    for (const cli_eflag_t *f = c->flags; f && f->name; f++)
        if (CLI_F_KIND(f->how) == kind)
            return f;
    return NULL;
}

/* s_optional - whether positional argument i of c is optional ("[USER]"). */
static bool s_optional(const cli_erow_t *c, int i)
{
    const char *w = c->args;
    for (; i > 0 && w; i--)
        if ((w = strchr(w, ' ')))
            w++;
    return w && *w == '[';
}

/* ---- flag values: each returns the JSON value, or NULL after a usage error ---- */

json_t *cli_engine_bad(const cli_args_t *a, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_usage_error(a, "%s", msg);
    return NULL;
}

char *cli_engine_trim(char *s)
{
    while (isspace((unsigned char) *s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char) s[n - 1]))
        s[--n] = 0;
    return s;
}

json_t *cli_engine_enum(const cli_args_t *a, const char *flag, const ProtobufCEnumDescriptor *d, const char *text)
{
    int v;
    if (cli_enum_parse(d, text, &v) == 0)
        return json_integer(v);
    char choices[1024];
    cli_enum_choices(d, choices, sizeof choices);
    return cli_engine_bad(a, "--%s: unknown value '%s'; one of: %s", flag, text, choices);
}

static int s_uint(const cli_args_t *a, const char *flag, const char *text, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (cli_parse_u64(text, &v) != 0 || v > max)
        return cli_usage_error(a, "--%s: must be a whole number from 0 to %u, got '%s'", flag, max, text);
    *out = (uint32_t) v;
    return 0;
}

static json_t *s_date(const cli_args_t *a, const char *flag, const char *text)
{
    int y, m, d;
    if (cli_parse_date(text, &y, &m, &d) != 0)
        return cli_engine_bad(a, "--%s: must be a calendar date YYYY-MM-DD, got '%s'", flag, text);
    return json_pack("{s:i,s:i,s:i}", "year", y, "month", m, "day", d);
}

/* s_time - YYYY-MM-DD[THH:MM[:SS]] (UTC) as unix ms; with until, a bare date means
 * the end of that day (the next midnight). */
static json_t *s_time(const cli_args_t *a, const char *flag, const char *text, bool until)
{
    int64_t ms;
    int y, m, d;
    if (cli_parse_time(text, &ms) != 0)
        return cli_engine_bad(a, "--%s: must be YYYY-MM-DD[THH:MM[:SS]] (UTC), got '%s'", flag, text);
    if (until && strlen(text) == 10 && cli_parse_date(text, &y, &m, &d) == 0)
        ms += 86400 * 1000LL;
    return json_integer(ms);
}

json_t *cli_engine_money(const cli_args_t *a, const char *flag, const char *text)
{
    const char *def = cli_flag_count(a, "currency") ? cli_flag(a, "currency") : cli_default_currency();
    char code[4], why[256];
    int64_t units;
    if (cli_money_parse(text, def, &units, code, why, sizeof why) != 0)
        return cli_engine_bad(a, "--%s: %s", flag, why);
    return json_pack("{s:I,s:s}", "units", (json_int_t) units, "currency", code);
}

/* s_percent_bp - "2.5" or "2.5%" (0..100, at most two decimals) in basis points. */
static int s_percent_bp(const char *s, uint32_t *bp)
{
    unsigned whole = 0, frac = 0, digits = 0;
    const char *p = s;
    if (!isdigit((unsigned char) *p))
        return -1;
    while (isdigit((unsigned char) *p) && whole <= 100)
        whole = whole * 10 + (unsigned) (*p++ - '0');
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char) *p) && digits < 3) {
            frac = frac * 10 + (unsigned) (*p++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 2)
            return -1;
        if (digits == 1)
            frac *= 10;
    }
    if (*p == '%')
        p++;
    if (*p || whole > 100 || (whole == 100 && frac > 0))
        return -1;
    *bp = whole * 100 + frac;
    return 0;
}

json_t *cli_engine_percent(const cli_args_t *a, const char *flag, const char *text)
{
    uint32_t bp;
    if (s_percent_bp(text, &bp) != 0)
        return cli_engine_bad(a, "--%s: must be a percentage from 0 to 100 with at most two decimals, got '%s'",
                              flag, text);
    return json_integer(bp);
}

json_t *cli_engine_date(const cli_args_t *a, const char *flag, const char *text)
{
    return s_date(a, flag, text);
}

/* s_value - the JSON of one value of flag f, which sets field fd. */
static json_t *s_value(const cli_engine_t *e, const cli_args_t *a, const cli_eflag_t *f,
                       const ProtobufCFieldDescriptor *fd, const char *text)
{
    uint32_t u = 0;
    int kind = CLI_F_KIND(f->how);
    if (kind >= CLI_F_CUSTOM)
        return e->kinds[kind - CLI_F_CUSTOM].parse(a, f, fd, text);
    switch (kind) {
    case CLI_F_TEXT:
        if ((f->how & CLI_F_NONEMPTY) && !text[0])
            return cli_engine_bad(a, "--%s: empty", f->name);
        return json_string_nocheck(text);
    case CLI_F_ENUM:
        return cli_engine_enum(a, f->name, fd->descriptor, text);
    case CLI_F_UINT:
        return s_uint(a, f->name, text, CLI_F_MAX_OF(f->how), &u) ? NULL : json_integer(u);
    case CLI_F_BOOL:
        return json_true();
    case CLI_F_DATE:
        return s_date(a, f->name, text);
    case CLI_F_TIME:
    case CLI_F_UNTIL:
        return s_time(a, f->name, text, kind == CLI_F_UNTIL);
    case CLI_F_MONEY:
        return cli_engine_money(a, f->name, text);
    case CLI_F_PERCENT:
        return cli_engine_percent(a, f->name, text);
    }
    return NULL;
}

/* ---- the request ---- */

void cli_engine_set(json_t *obj, const char *path, json_t *v)
{
    const char *dot;
    while ((dot = strchr(path, '.'))) {
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int) (dot - path), path);
        json_t *sub = json_object_get(obj, key);
        if (!sub)
            json_object_set_new(obj, key, sub = json_object());
        obj = sub;
        path = dot + 1;
    }
    json_object_set_new(obj, path, v);
}

/* s_mask_add - path into the update mask; whole: its first component, once. */
static void s_mask_add(json_t *mask, const char *path, bool whole)
{
    if (!whole) {
        json_array_append_new(mask, json_string(path));
        return;
    }
    char top[64];
    snprintf(top, sizeof top, "%.*s", (int) strcspn(path, "."), path);
    size_t i;
    json_t *v;
    json_array_foreach(mask, i, v)
        if (strcmp(json_string_value(v), top) == 0)
            return;
    json_array_append_new(mask, json_string(top));
}

/* s_joins - whether filter flag p belongs to the filter of the flag before it. */
static bool s_joins(const cli_engine_t *e, const cli_eflag_t *first, const cli_eflag_t *p)
{
    return p > first && s_filter(e, p) && s_filter(e, p) == s_filter(e, p - 1);
}

/* s_names - the flags [f, end) as "--a, --b and --c" (last: " and " or " or "); with
 * filters, the flags of one filter make one item: "--close-from/--close-to". */
static void s_names(const cli_engine_t *e, const cli_eflag_t *f, const cli_eflag_t *end, bool filters,
                    const char *last, char *out, size_t cap)
{
    int n = 0, i = 0;
    for (const cli_eflag_t *p = f; p < end; p++)
        n += !(filters && s_joins(e, f, p));
    out[0] = 0;
    for (const cli_eflag_t *p = f; p < end; p++) {
        size_t len = strlen(out);
        if (filters && s_joins(e, f, p))
            snprintf(out + len, cap - len, "/--%s", p->name);
        else {
            snprintf(out + len, cap - len, "%s--%s", i == 0 ? "" : i == n - 1 ? last : ", ", p->name);
            i++;
        }
    }
}

/* s_rules - the rules between flags: filters (flags whose field is "Method/field") that
 * pick different methods exclude each other, and the one given picks call->method; a
 * group of CLI_F_BOTH flags goes together; of a group of CLI_F_EITHER flags one is needed. */
static int s_rules(const cli_args_t *a, cli_ecall_t *call)
{
    const cli_engine_t *e = call->engine;
    const cli_erow_t *c = call->row;
    const cli_eflag_t *first = NULL, *end = NULL;
    const ProtobufCMethodDescriptor *picked = NULL;
    bool clash = false;
    char names[512];
    for (const cli_eflag_t *f = c->flags; f && f->name; f++) {
        const ProtobufCMethodDescriptor *m = s_filter(e, f);
        if (!m)
            continue;
        first = first ? first : f;
        end = f + 1;
        if (cli_flag_count(a, f->name)) {
            clash |= picked && picked != m;
            picked = m;
        }
    }
    if (clash) {
        s_names(e, first, end, true, " or ", names, sizeof names);
        return cli_usage_error(a, "one filter at a time: %s", names);
    }
    if (picked)
        call->method = picked;
    for (const cli_eflag_t *f = c->flags; f && f->name;) {
        uint32_t group = f->how & (CLI_F_BOTH | CLI_F_EITHER);
        if (!group) {
            f++;
            continue;
        }
        int given = 0, n = 0;
        for (end = f; end->name && (end->how & group); end++, n++)
            given += cli_flag_count(a, end->name) > 0;
        s_names(e, f, end, false, group == CLI_F_BOTH ? " and " : " or ", names, sizeof names);
        if (group == CLI_F_EITHER && given == 0)
            return cli_usage_error(a, "%s: required", names);
        if (group == CLI_F_BOTH && given < n && (f->how & CLI_F_REQUIRED))
            return cli_usage_error(a, "%s: required", names);
        if (group == CLI_F_BOTH && given < n && given > 0)
            return cli_usage_error(a, "%s go together", names);
        f = end;
    }
    return 0;
}

/* s_alone_required - a required flag that is not part of a group (s_rules checks those). */
static bool s_alone_required(const cli_eflag_t *f)
{
    return (f->how & CLI_F_REQUIRED) && !(f->how & (CLI_F_BOTH | CLI_F_EITHER));
}

/* s_flags - put the value of every given flag (that has all the bits of only) into req,
 * in the table's order, and the paths of entity fields into mask. 0 or the exit code. */
static int s_flags(const cli_args_t *a, const cli_ecall_t *call, json_t *req, json_t *mask, uint32_t only)
{
    const cli_engine_t *e = call->engine;
    const cli_erow_t *c = call->row;
    for (const cli_eflag_t *f = c->flags; f && f->name; f++) {
        int kind = CLI_F_KIND(f->how), n = cli_flag_count(a, f->name);
        if ((f->how & only) != only || kind == CLI_F_SECRET)
            continue;
        if (kind == CLI_F_CURRENCY && n) {
            const cli_eflag_t *money = s_find_kind(c, CLI_F_MONEY);
            if (money && !cli_flag_count(a, money->name))
                return cli_usage_error(a, "--%s: goes with --%s", f->name, money->name);
        }
        if (!s_is_field(kind))
            continue;
        const char *path;
        const ProtobufCFieldDescriptor *fd = s_flag_field(e, c, f, &path);
        bool repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
        if (n == 0) {
            /* Where --from-json could stand in, s_request checks after every flag. */
            if (s_alone_required(f) && !s_find_kind(c, CLI_F_FROM_JSON)) {
                if (repeated)
                    return cli_usage_error(a, "--%s: at least one %s is required", f->name, f->name);
                return cli_usage_error(a, "--%s: required", f->name);
            }
            continue;
        }
        if (kind == CLI_F_CLEAR) {
            for (const cli_eflag_t *g = c->flags; g->name; g++)
                if (g != f && g->field && strcmp(g->field, f->field) == 0 && cli_flag_count(a, g->name))
                    return cli_usage_error(a, "--%s: cannot be combined with --%s", f->name, g->name);
        } else {
            json_t *v = repeated ? json_array() : s_value(e, a, f, fd, cli_flag(a, f->name));
            for (int i = 0; repeated && v && i < n; i++) {
                json_t *x = s_value(e, a, f, fd, cli_flag_at(a, f->name, i));
                if (x)
                    json_array_append_new(v, x);
                else
                    json_decref(v), v = NULL;
            }
            if (!v)
                return CLI_EXIT_USAGE;
            cli_engine_set(req, path, v);
        }
        if (mask && ((f->how & CLI_F_MASK) || kind == CLI_F_CLEAR))
            s_mask_add(mask, path, (f->how & CLI_F_MASK_WHOLE) != 0);
    }
    return 0;
}

/* s_from_json - the request from the JSON file at path ("-": stdin), checked against
 * the request type, with the CLI_F_WITH_JSON flags on top. */
static int s_from_json(cli_t *cli, const cli_args_t *a, const char *path, cli_ecall_t *call)
{
    for (const cli_eflag_t *f = call->row->flags; f->name; f++)
        if ((f->how & CLI_F_MASK) && cli_flag_count(a, f->name))
            return cli_usage_error(a, "--from-json: cannot be combined with --%s", f->name);
    json_error_t jerr;
    json_t *obj = strcmp(path, "-") == 0 ? json_loadf(stdin, 0, &jerr) : json_load_file(path, 0, &jerr);
    if (!obj) {
        if (jerr.line < 0)
            return cli_local_error(cli, "cannot read %s: %s", path, jerr.text);
        return cli_usage_error(a, "--from-json: %s line %d column %d: %s", path, jerr.line, jerr.column, jerr.text);
    }
    char err[512];
    ProtobufCMessage *m = rp_pb_from_json(call->method->input, obj, err, sizeof err);
    if (!m) {
        json_decref(obj);
        return cli_usage_error(a, "--from-json: %s: %s", path, err);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    json_decref(call->req);
    call->req = obj;
    return s_flags(a, call, obj, NULL, CLI_F_WITH_JSON);
}

/* s_preset - put the row's preset fields ("stage=won", "a=1&b=[\"x\"]") into req.
 * -1 when a part is not field=value. */
static int s_preset(const cli_erow_t *c, json_t *req)
{
    for (const char *p = c->preset; *p;) {
        size_t n = strcspn(p, "&");
        const char *eq = memchr(p, '=', n);
        if (!eq)
            return -1;
        char key[64], val[256];
        snprintf(key, sizeof key, "%.*s", (int) (eq - p), p);
        snprintf(val, sizeof val, "%.*s", (int) (n - (size_t) (eq + 1 - p)), eq + 1);
        json_t *v = json_loads(val, JSON_DECODE_ANY, NULL);
        json_object_set_new(req, key, v ? v : json_string(val));
        p += n + (p[n] == '&');
    }
    return 0;
}

/* s_arg - the JSON of positional argument i: a string, or an enum value by name. */
static json_t *s_arg(const cli_args_t *a, const cli_erow_t *c, const ProtobufCFieldDescriptor *fd, int i)
{
    int v;
    if (fd->type != PROTOBUF_C_TYPE_ENUM)
        return json_string_nocheck(a->pos[i]);
    if (cli_enum_parse(fd->descriptor, a->pos[i], &v) == 0)
        return json_integer(v);
    char meta[32], choices[1024];
    const char *word = i == 0 ? c->args : strchr(c->args, ' ') + 1;   /* its name in the synopsis */
    snprintf(meta, sizeof meta, "%.*s", (int) strcspn(word, " "), word);
    cli_enum_choices(fd->descriptor, choices, sizeof choices);
    return cli_engine_bad(a, "%s: unknown %s '%s'; one of: %s", meta, fd->name, a->pos[i], choices);
}

/* s_request - the call row c makes of the command line: the method, the request as
 * JSON and the request id. 0, or the exit code after printing why. Usage errors come
 * in this order: arguments, --request-id, --from-json, the rules between flags, then
 * each flag in the table's order. */
static int s_request(cli_t *cli, const cli_args_t *a, cli_ecall_t *call)
{
    const cli_engine_t *e = call->engine;
    const cli_erow_t *c = call->row;
    call->method = s_method(e, c->method);
    call->req = json_object();
    if (c->preset)
        s_preset(c, call->req);
    for (int i = 0; i < a->npos; i++) {
        json_t *v = s_arg(a, c, cli_engine_field(call->method->input, c->pos[i]), i);
        if (!v)
            return CLI_EXIT_USAGE;
        json_object_set_new(call->req, c->pos[i], v);
    }
    const cli_eflag_t *rid = s_find_kind(c, CLI_F_REQUEST_ID), *from_json = s_find_kind(c, CLI_F_FROM_JSON);
    rp_ulid_t u;
    if (rid && (call->id = cli_flag(a, rid->name)) && rp_ulid_parse(call->id, &u) != 0)
        return cli_usage_error(a, "--%s: must be a ULID (26 Crockford base32 characters), got '%s'",
                               rid->name, call->id);

    int rc;
    if (from_json && cli_flag(a, from_json->name))
        rc = s_from_json(cli, a, cli_flag(a, from_json->name), call);
    else if ((rc = s_rules(a, call)) == 0) {
        json_t *mask = json_array();
        rc = s_flags(a, call, call->req, mask, 0);
        for (const cli_eflag_t *f = c->flags; from_json && rc == 0 && f->name; f++)
            if (s_alone_required(f) && !cli_flag_count(a, f->name))
                rc = cli_usage_error(a, "--%s: required (or --from-json)", f->name);
        if (rc == 0 && cli_engine_field(call->method->input, "update_mask")) {
            json_t *preset = json_object_get(call->req, "update_mask");
            if (json_array_size(mask) == 0 && !preset)
                rc = cli_usage_error(a, "nothing to update: give at least one field flag");
            else if (preset)
                json_array_extend(preset, mask);
            else
                json_object_set(call->req, "update_mask", mask);
        }
        json_decref(mask);
    }
    snprintf(call->name, sizeof call->name, "%s/%s", e->svc->name, call->method->name);
    return rc;
}

/* The flag parsers make only values the request type takes, so a failure is a
 * programming error. */
ProtobufCMessage *cli_engine_message(const cli_ecall_t *call)
{
    char err[512];
    ProtobufCMessage *m = rp_pb_from_json(call->method->input, call->req, err, sizeof err);
    if (!m) {
        fprintf(stderr, "rapport: internal error: %s: %s\n", call->name, err);
        abort();
    }
    return m;
}

/* ---- secrets ---- */

/* s_secret_slot - the string field name of msg, emptied, to take a secret. */
static char **s_secret_slot(ProtobufCMessage *msg, const char *name)
{
    const ProtobufCFieldDescriptor *fd = cli_engine_field(msg->descriptor, name);
    char **slot = (char **) ((char *) msg + fd->offset);
    if (*slot && *slot != (char *) protobuf_c_empty_string)
        free(*slot);
    *slot = NULL;
    return slot;
}

/* ---- calling the service and printing ---- */

int cli_engine_connect(cli_t *cli, const cli_ecall_t *call, rp_client_t **c)
{
    int rc = cli_get_token(cli, true);
    return rc ? rc : cli_connect(cli, call->engine->service, c);
}

int cli_engine_show(cli_t *cli, const cli_args_t *a, cli_ecall_t *call)
{
    const cli_erow_t *c = call->row;
    const cli_eflag_t *sf = s_find_kind(c, CLI_F_SECRET);
    char secret[1024] = "";
    int rc = 0;
    if (sf) {
        char prompt[160];
        snprintf(prompt, sizeof prompt, "%c%s%s%s: ", toupper((unsigned char) sf->name[0]), sf->name + 1,
                 a->npos ? " for " : "", a->npos ? a->pos[0] : "");
        rc = cli_read_new_secret(a, sf->name, prompt, secret, sizeof secret);
    }
    rp_client_t *client = NULL;
    if (rc == 0)
        rc = cli_engine_connect(cli, call, &client);
    if (rc) {
        sodium_memzero(secret, sizeof secret);
        return rc;
    }
    ProtobufCMessage *in = cli_engine_message(call), *out = NULL;
    char **slot = sf ? s_secret_slot(in, sf->field) : NULL;
    if (slot)
        *slot = rp_strdup(secret);
    sodium_memzero(secret, sizeof secret);
    rc = cli_call(cli, client, call->id, call->name, in, call->method->output, &out);
    if (slot)
        sodium_memzero(*slot, strlen(*slot));
    protobuf_c_message_free_unpacked(in, NULL);
    rp_client_destroy(&client);
    if (rc)
        return rc;
    if (c->view && c->view->print && !cli->json)
        c->view->print(cli, a, out);
    else
        cli_print_message(cli, out);
    protobuf_c_message_free_unpacked(out, NULL);
    return CLI_EXIT_OK;
}

static const char *s_get_str(const ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f = cli_engine_field(m->descriptor, name);
    if (!f)
        return NULL;
    return *(char *const *) ((const char *) m + f->offset);
}

/* s_items - the repeated message field items of m: its length, the array in *list. */
static size_t s_items(const ProtobufCMessage *m, const char *items, ProtobufCMessage ***list)
{
    const ProtobufCFieldDescriptor *f = cli_engine_field(m->descriptor, items);
    *list = *(ProtobufCMessage ***) ((const char *) m + f->offset);
    return *(const size_t *) ((const char *) m + f->quantifier_offset);
}

cli_table_t *cli_engine_table_new(const cli_ecol_t *cols)
{
    const char *hdr[16];
    int n = 0;
    for (; cols[n].header; n++)
        hdr[n] = cols[n].header;
    return cli_table_new(n, hdr);
}

void cli_engine_table_add(cli_table_t *t, const cli_eview_t *view, const cli_ecol_t *cols,
                          const ProtobufCMessage *m, const char *items)
{
    ProtobufCMessage **list;
    size_t n = s_items(m, items, &list);
    for (size_t i = 0; i < n; i++) {
        char *cells[16];
        int k = 0;
        for (; cols[k].header; k++) {
            if (cols[k].form == CLI_COL_CELL) {
                cells[k] = view->cell(list[i], cols[k].path);
                continue;
            }
            cells[k] = cli_field_text(list[i], cols[k].path);
            if (cols[k].form == CLI_COL_DAY && strlen(cells[k]) > 10)
                cells[k][10] = 0;
            if (cols[k].form == CLI_COL_BP) {
                unsigned long bp = strtoul(cells[k], NULL, 10);
                free(cells[k]);
                cells[k] = rp_sprintf("%lu.%02lu%%", bp / 100, bp % 100);
            }
        }
        cli_table_add(t, (const char *const *) cells);
        while (k--)
            free(cells[k]);
    }
}

/* cli_engine_list - page through the list method of call, printing the rows of each reply as one
 * table (--json: each reply; with --all one array of every row). A request without
 * page_size/page_token is one call. */
int cli_engine_list(cli_t *cli, const cli_args_t *a, cli_ecall_t *call)
{
    const cli_eview_t *v = call->row->view;
    bool paged = cli_engine_field(call->method->input, "page_token") != NULL;
    uint32_t page_size = 0;
    const char *ps = cli_flag(a, "page-size");
    if (ps && v->page_max) {
        uint64_t n;
        if (cli_parse_u64(ps, &n) != 0 || n < 1 || n > v->page_max)
            return cli_usage_error(a, "--page-size: must be a whole number from 1 to %u, got '%s'", v->page_max, ps);
        page_size = (uint32_t) n;
    } else if (ps) {
        if (s_uint(a, "page-size", ps, 500, &page_size))
            return CLI_EXIT_USAGE;
        if (page_size == 0)
            return cli_usage_error(a, "--page-size: must be from 1 to 500");
    }
    bool has_all = false;
    for (const cli_eflag_t *f = call->row->flags; f && f->name && !has_all; f++)
        has_all = strcmp(f->name, "all") == 0;
    bool all = v->follow ? !ps && !cli_flag(a, "page-token") : has_all && cli_flag_set(a, "all");
    if (paged)
        json_object_set_new(call->req, "page_size", json_integer(page_size));
    char *token = rp_strdup(cli_flag(a, "page-token") ? cli_flag(a, "page-token") : "");

    rp_client_t *client = NULL;
    int rc = cli_engine_connect(cli, call, &client);
    if (rc) {
        free(token);
        return rc;
    }
    cli_table_t *t = cli_engine_table_new(v->cols);
    json_t *acc = json_array();
    size_t rows = 0;
    for (;;) {
        if (paged)
            json_object_set_new(call->req, "page_token", json_string_nocheck(token));
        ProtobufCMessage *in = cli_engine_message(call), *rep = NULL;
        rc = cli_call(cli, client, NULL, call->name, in, call->method->output, &rep);
        protobuf_c_message_free_unpacked(in, NULL);
        if (rc)
            break;
        ProtobufCMessage **list;
        size_t n = s_items(rep, v->items, &list);
        const char *next = s_get_str(rep, "next_page_token");
        free(token);
        token = rp_strdup(next ? next : "");
        if (cli->json && !all) {
            json_t *j = rp_pb_to_json(rep);
            cli_print_json(j);
            json_decref(j);
        }
        if (cli->json)
            for (size_t i = 0; i < n; i++)
                json_array_append_new(acc, rp_pb_to_json(list[i]));
        else
            cli_engine_table_add(t, v, v->cols, rep, v->items);
        rows += n;
        protobuf_c_message_free_unpacked(rep, NULL);
        if (!all || !token[0])
            break;
    }
    rp_client_destroy(&client);
    if (rc == 0) {
        if (cli->json) {
            if (all) {
                json_t *j = json_pack("{s:O}", v->items, acc);
                cli_print_json(j);
                json_decref(j);
            }
        } else if (rows == 0) {
            fprintf(stderr, "no %s found\n", v->none);
        } else {
            cli_table_print(t, stdout);
            if (token[0])
                fprintf(stderr, "more: --page-token %s%s\n", token, has_all ? " (or --all)" : "");
        }
    }
    json_decref(acc);
    cli_table_destroy(&t);
    free(token);
    return rc;
}

/* s_run - every engine command: build the request from its row, call, print. */
static int s_run(cli_t *cli, const cli_args_t *a)
{
    cli_ecall_t call = { 0 };
    for (size_t i = 0; i < s_nengines && !call.engine; i++) {
        const cli_engine_t *e = s_engines[i];
        if (a->cmd >= e->cmds && a->cmd < e->cmds + e->nrows) {
            call.engine = e;
            call.row = &e->rows[a->cmd - e->cmds];
        }
    }
    for (size_t i = 0; i < s_nengines && !call.engine; i++)    /* a copy (cli_engine_join) */
        for (size_t r = 0; r < s_engines[i]->nrows && !call.engine; r++)
            if (strcmp(s_engines[i]->group, a->group) == 0 && strcmp(s_engines[i]->rows[r].name, a->cmd->name) == 0) {
                call.engine = s_engines[i];
                call.row = &s_engines[i]->rows[r];
            }
    assert(call.engine);
    const cli_eview_t *v = call.row->view;
    int rc = s_request(cli, a, &call);
    if (rc == 0)
        rc = v && v->run ? v->run(cli, a, &call) : v && v->items ? cli_engine_list(cli, a, &call)
                                                               : cli_engine_show(cli, a, &call);
    json_decref(call.req);
    return rc;
}

/* ---- checking the tables ---- */

/* s_bug - a row does not fit the descriptors: a programming error. */
static void s_bug(const cli_engine_t *e, const cli_erow_t *c, const char *what, const char *why)
{
    fprintf(stderr, "rapport: internal error: %s %s: %s: %s\n", e->group, c->name, what, why);
    abort();
}

/* What the field of each built-in kind of flag must be. */
static const struct {
    ProtobufCType type;
    const char *message;
} s_kind_field[] = {
    [CLI_F_TEXT] = { PROTOBUF_C_TYPE_STRING, NULL },
    [CLI_F_ENUM] = { PROTOBUF_C_TYPE_ENUM, NULL },
    [CLI_F_UINT] = { PROTOBUF_C_TYPE_UINT32, NULL },
    [CLI_F_BOOL] = { PROTOBUF_C_TYPE_BOOL, NULL },
    [CLI_F_DATE] = { PROTOBUF_C_TYPE_MESSAGE, "rapport.v1.Date" },
    [CLI_F_TIME] = { PROTOBUF_C_TYPE_INT64, NULL },
    [CLI_F_UNTIL] = { PROTOBUF_C_TYPE_INT64, NULL },
    [CLI_F_MONEY] = { PROTOBUF_C_TYPE_MESSAGE, "rapport.v1.Money" },
    [CLI_F_PERCENT] = { PROTOBUF_C_TYPE_UINT32, NULL },
    [CLI_F_SECRET] = { PROTOBUF_C_TYPE_STRING, NULL },
};

/* s_check_flag - abort unless flag f of row c fits its field. */
static void s_check_flag(const cli_engine_t *e, const cli_erow_t *c, const cli_eflag_t *f)
{
    int kind = CLI_F_KIND(f->how);
    const ProtobufCFieldDescriptor *fd = f->field ? s_flag_field(e, c, f, NULL) : NULL;
    if (kind >= CLI_F_CUSTOM + (int) e->nkinds)
        s_bug(e, c, f->name, "no such kind of flag");
    if (s_is_field(kind) ? !fd : f->field != NULL)
        s_bug(e, c, f->name, "the field does not fit the kind of flag");
    if (kind == CLI_F_CLEAR || !s_is_field(kind))
        return;
    ProtobufCType type = kind >= CLI_F_CUSTOM ? e->kinds[kind - CLI_F_CUSTOM].type : s_kind_field[kind].type;
    const char *want = kind >= CLI_F_CUSTOM ? e->kinds[kind - CLI_F_CUSTOM].message : s_kind_field[kind].message;
    if (fd->type != type || (want && strcmp(((const ProtobufCMessageDescriptor *) fd->descriptor)->name, want) != 0))
        s_bug(e, c, f->name, "the field's type does not fit the kind of flag");
    if (kind == CLI_F_SECRET && (fd->label == PROTOBUF_C_LABEL_REPEATED || s_find_kind(c, CLI_F_SECRET) != f))
        s_bug(e, c, f->name, "one secret a command, for a single string field");
    if (kind == CLI_F_UINT && CLI_F_MAX_OF(f->how) == 0)
        s_bug(e, c, f->name, "CLI_F_UINT without CLI_F_MAX");
}

/* s_check - abort unless row c fits the service's descriptors. */
static void s_check(const cli_engine_t *e, const cli_erow_t *c)
{
    const ProtobufCMethodDescriptor *m = s_method(e, c->method);
    if (!m)
        s_bug(e, c, c->method, "no such method");
    for (int i = 0; i < 2 && c->pos[i]; i++) {
        const ProtobufCFieldDescriptor *fd = cli_engine_field(m->input, c->pos[i]);
        if (!fd || (fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_ENUM))
            s_bug(e, c, c->pos[i], "not a string or enum field of the request");
    }
    if (c->preset) {
        json_t *req = json_object();
        char err[256];
        if (s_preset(c, req) != 0)
            s_bug(e, c, c->preset, "the preset is not field=value[&field=value...]");
        ProtobufCMessage *msg = rp_pb_from_json(m->input, req, err, sizeof err);
        json_decref(req);
        if (!msg)
            s_bug(e, c, c->preset, err);
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    for (const cli_eflag_t *f = c->flags; f && f->name; f++)
        s_check_flag(e, c, f);
    const cli_eview_t *v = c->view;
    if (v && v->items) {
        const ProtobufCFieldDescriptor *fd = cli_engine_field(m->output, v->items);
        if (!fd || fd->type != PROTOBUF_C_TYPE_MESSAGE || fd->label != PROTOBUF_C_LABEL_REPEATED)
            s_bug(e, c, v->items, "not a repeated message field of the reply");
        for (const cli_ecol_t *col = v->cols; col->header; col++) {
            if (col - v->cols >= 16)
                s_bug(e, c, col->header, "more than 16 columns");
            if (col->form == CLI_COL_CELL ? !v->cell : !cli_engine_field(fd->descriptor, col->path))
                s_bug(e, c, col->path, "no such field of the rows");
        }
    }
}

void cli_engine_init(const cli_engine_t *e)
{
    assert(s_nengines < MAX_ENGINES);
    s_engines[s_nengines++] = e;
    for (size_t i = 0; i < e->nrows; i++) {
        const cli_erow_t *c = &e->rows[i];
        s_check(e, c);
        int n = 0;
        for (const cli_eflag_t *f = c->flags; f && f->name; f++) {
            if (CLI_F_KIND(f->how) == CLI_F_SECRET)
                continue;       /* read from the terminal or stdin, not a flag */
            if (n == CLI_MAX_FLAGS)
                s_bug(e, c, f->name, "more than CLI_MAX_FLAGS flags");
            const ProtobufCFieldDescriptor *fd = f->field && s_is_field(CLI_F_KIND(f->how))
                                                 ? s_flag_field(e, c, f, NULL) : NULL;
            e->flags[i][n++] = (cli_flag_t) { f->name, f->arg, f->help,
                                              fd && fd->label == PROTOBUF_C_LABEL_REPEATED };
        }
        int npos = (c->pos[0] != NULL) + (c->pos[1] != NULL), min = npos;
        while (min > 0 && s_optional(c, min - 1))
            min--;
        e->cmds[i] = (cli_cmd_t) { c->name, c->args, c->summary, n ? e->flags[i] : NULL,
                                   min, npos, s_run, c->help };
    }
}

void cli_engine_join(const cli_engine_t *e, const cli_cmd_t *local, cli_cmd_t *out, size_t cap)
{
    cli_engine_init(e);
    size_t n = 0;
    for (const cli_cmd_t *l = local; l->name; l++) {
        assert(n < cap);
        out[n++] = *l;
    }
    assert(n + e->nrows <= cap);
    memcpy(out + n, e->cmds, e->nrows * sizeof *out);
    memset(out + n + e->nrows, 0, sizeof *out);
}
