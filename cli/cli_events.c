/* cli_events.c - `rapport events tail`: a service's events as CloudEvents 1.0 JSON
 * lines (structured mode), for other systems. Without --follow it replays through
 * System/Replay from --from up to the last committed seq and exits; with --follow it
 * goes on live through rp_consumer (consumer.h), which fills gaps by itself.
 *
 * The data is the protobuf message named by the event's dataschema
 * ("proto:rapport.leads.v1.Lead") as JSON (pbjson.h); when no descriptor of that
 * name is known, or the bytes do not decode, it is data_base64 instead.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "cli.h"
#include "rapport/consumer.h"
#include "rapport/pbjson.h"
#include "rapport/services.h"
#include "rapport/sys/v1/system.pb-c.h"
#include "rapport/util.h"

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
}

/* s_cloudevent - the CloudEvents JSON object of an event (caller json_decref's). */
static json_t *s_cloudevent(const Rapport__V1__Event *ev)
{
    json_t *o = json_object();
    json_object_set_new(o, "specversion", json_string("1.0"));
    json_object_set_new(o, "id", json_string(ev->id ? ev->id : ""));
    json_object_set_new(o, "source", json_string(ev->source ? ev->source : ""));
    json_object_set_new(o, "type", json_string(ev->type ? ev->type : ""));
    if (!rp_str_empty(ev->subject))
        json_object_set_new(o, "subject", json_string(ev->subject));
    if (ev->time) {
        char t[40];
        cli_format_time(ev->time, t, sizeof t);
        json_object_set_new(o, "time", json_string(t));
    }

    json_t *data = NULL, *data_b64 = NULL;
    const char *schema = ev->dataschema;
    if (!rp_str_empty(schema) && rp_str_has_prefix(schema, "proto:")) {
        const ProtobufCMessageDescriptor *d = cli_find_descriptor(schema + 6);
        if (d) {
            ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, ev->data.len, ev->data.data);
            if (m) {
                data = rp_pb_to_json(m);
                protobuf_c_message_free_unpacked(m, NULL);
            }
        }
    }
    if (!data && ev->data.len) {
        size_t cap = sodium_base64_encoded_len(ev->data.len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = rp_malloc(cap);
        sodium_bin2base64(b64, cap, ev->data.data, ev->data.len, sodium_base64_VARIANT_ORIGINAL);
        data_b64 = json_string(b64);
        free(b64);
    }
    if (data)
        json_object_set_new(o, "datacontenttype", json_string("application/json"));
    else if (data_b64)
        json_object_set_new(o, "datacontenttype", json_string("application/protobuf"));
    if (!rp_str_empty(schema))
        json_object_set_new(o, "dataschema", json_string(schema));
    json_object_set_new(o, "rapportseq", json_integer((json_int_t) ev->seq));
    if (!rp_str_empty(ev->branch))
        json_object_set_new(o, "rapportbranch", json_string(ev->branch));
    if (!rp_str_empty(ev->actor))
        json_object_set_new(o, "rapportactor", json_string(ev->actor));
    if (!rp_str_empty(ev->on_behalf_of))
        json_object_set_new(o, "rapportonbehalfof", json_string(ev->on_behalf_of));
    if (data)
        json_object_set_new(o, "data", data);
    if (data_b64)
        json_object_set_new(o, "data_base64", data_b64);
    return o;
}

/* s_print_event - one JSON line; -1 when stdout is gone (a closed pipe). */
static int s_print_event(const Rapport__V1__Event *ev)
{
    json_t *o = s_cloudevent(ev);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return 0;
    int rc = (fputs(s, stdout) < 0 || fputc('\n', stdout) < 0 || fflush(stdout) != 0) ? -1 : 0;
    free(s);
    return rc;
}

static const cli_flag_t s_tail_flags[] = {
    { "service", "NAME",   "the service whose events to print (default leads)", false },
    { "from",    "SEQ",    "first seq to print (default 1)", false },
    { "type",    "PREFIX", "only types starting with PREFIX (\"lead.won\" means rapport.<service>.v1.lead.won)", false },
    { "follow",  NULL,     "keep printing new events as they are committed (Ctrl-C to stop)", false },
    { NULL, NULL, NULL, false }
};

static int s_replay(cli_t *cli, const char *service, uint64_t from, const char *prefix)
{
    rp_client_t *c = NULL;
    int rc = cli_connect(cli, service, &c);
    if (rc)
        return rc;
    uint64_t target = 0;
    bool first = true;
    while (!s_stop) {
        Rapport__Sys__V1__ReplayRequest req = RAPPORT__SYS__V1__REPLAY_REQUEST__INIT;
        req.from_seq = from;
        req.type_prefix = (char *) prefix;
        Rapport__Sys__V1__ReplayReply *rep = NULL;
        rc = cli_call(cli, c, NULL, "rapport.sys.v1.System/Replay", &req.base,
                      &rapport__sys__v1__replay_reply__descriptor, (ProtobufCMessage **) &rep);
        if (rc)
            break;
        if (first) {
            target = rep->last_seq;     /* replay up to the last seq at the start */
            first = false;
        }
        for (size_t i = 0; i < rep->n_events && rc == 0; i++) {
            if (rep->events[i]->seq > target)
                break;
            if (s_print_event(rep->events[i]) != 0)
                s_stop = 1;
        }
        uint64_t next = rep->next_seq;
        rapport__sys__v1__replay_reply__free_unpacked(rep, NULL);
        if (next <= from || next > target)
            break;
        from = next;
    }
    rp_client_destroy(&c);
    return rc;
}

static int s_follow(cli_t *cli, const char *service, uint64_t from, const char *prefix)
{
    char rpc[256], pub[256], key[41], why[512];
    rp_curve_t *me = NULL;
    if (rp_service_endpoint(service, 0, rpc, sizeof rpc) != 0 ||
        rp_service_endpoint(service, 1, pub, sizeof pub) != 0)
        return cli_local_error(cli, "no endpoints for service %s", service);
    if (cli_service_keys(cli, service, key, &me, why, sizeof why) != 0)
        return cli_local_error(cli, "%s", why);
    rp_consumer_opts_t o = {
        .rpc_endpoint = rpc, .pub_endpoint = pub, .server_public_z85 = key, .me = me,
        .token = cli->token, .type_prefix = prefix, .from_seq = from,
    };
    rp_consumer_t *cons = rp_consumer_new(&o);
    rp_curve_destroy(&me);
    if (!cons)
        return cli_local_error(cli, "cannot subscribe to %s at %s", service, pub);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int rc = CLI_EXIT_OK;
    while (!s_stop) {
        Rapport__V1__Event *ev = NULL;
        int r = rp_consumer_next(cons, 500, &ev);
        if (r == 0 && ev) {
            if (s_print_event(ev) != 0)
                s_stop = 1;
            rapport__v1__event__free_unpacked(ev, NULL);
        } else if (r < 0) {
            if (s_stop)
                break;
            const char *msg = rp_consumer_last_error(cons);
            if (cli->json) {
                json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", "CONSUMER", "message", msg ? msg : "");
                char *s = json_dumps(j, JSON_COMPACT);
                fprintf(stderr, "%s\n", s ? s : "");
                free(s);
                json_decref(j);
            } else {
                fprintf(stderr, "rapport: events of %s: %s\n", service, msg ? msg : "consumer failed");
            }
            rc = CLI_EXIT_SERVICE;
            break;
        }
    }
    rp_consumer_destroy(&cons);
    return rc;
}

static int s_tail(cli_t *cli, const cli_args_t *a)
{
    const char *service = cli_flag(a, "service") ? cli_flag(a, "service") : "leads";
    if (!rp_service_find(service))
        return cli_usage_error(a, "--service: unknown service '%s'", service);
    uint64_t from = 1;
    if (cli_flag(a, "from") && (cli_parse_u64(cli_flag(a, "from"), &from) != 0 || from < 1))
        return cli_usage_error(a, "--from: must be a seq >= 1, got '%s'", cli_flag(a, "from"));
    char prefix[256] = "";
    const char *type = cli_flag(a, "type");
    if (type && *type) {
        if (rp_str_has_prefix(type, "rapport."))
            rp_strlcpy(prefix, type, sizeof prefix);
        else
            snprintf(prefix, sizeof prefix, "rapport.%s.v1.%s", service, type);
    }
    int rc = cli_get_token(cli, true);
    if (rc)
        return rc;
    if (cli_flag_set(a, "follow"))
        return s_follow(cli, service, from, prefix);
    return s_replay(cli, service, from, prefix);
}

const cli_cmd_t cli_events_cmds[] = {
    { "tail", "", "print events as CloudEvents 1.0 JSON lines (replay, or --follow live)",
      s_tail_flags, 0, 0, s_tail,
      "Each line: specversion, id, source, type, subject, time (RFC 3339), datacontenttype,\n"
      "  dataschema, data (the protobuf data as JSON; data_base64 when its schema is unknown) and\n"
      "  the extensions rapportseq, rapportbranch, rapportactor (and rapportonbehalfof).\n"
      "  Needs a token with events.replay." },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }
};
