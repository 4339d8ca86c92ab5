/* cli_health.c - `rapport health [SERVICE]`: System/Health of one service, or of
 * every service in services.h at once (requests go out in parallel; those that
 * answer within the timeout are listed, the silent ones named on stderr). A
 * socket monitor on each connection notices a refused connection, so a service
 * that is not running (or not built) is named at once instead of holding the
 * command until the timeout.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "cli.h"
#include "rapport/clock.h"
#include "rapport/pbjson.h"
#include "rapport/services.h"
#include "rapport/status.h"
#include "rapport/sys/v1/system.pb-c.h"
#include "rapport/util.h"

#define MAX_SVC 32

typedef struct {
    const char *name;
    rp_client_t *client;
    char endpoint[256];
    char why[512];                      /* why it could not be asked */
    bool answered;
    bool refused;                       /* the monitor saw a refused connection */
    zsock_t *monitor;                   /* PAIR reading connection events */
    rp_call_status_t st;
    Rapport__Sys__V1__HealthReply *health;
} s_target_t;

static void s_uptime(int64_t ms, char *out, size_t cap)
{
    int64_t s = ms / 1000;
    if (s < 60)
        snprintf(out, cap, "%" PRId64 "s", s);
    else if (s < 3600)
        snprintf(out, cap, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, cap, "%" PRId64 "h%02" PRId64 "m", s / 3600, (s % 3600) / 60);
    else
        snprintf(out, cap, "%" PRId64 "d%02" PRId64 "h", s / 86400, (s % 86400) / 3600);
}

/* s_watch - attach a monitor reporting failed connection attempts of x's socket. */
static void s_watch(s_target_t *x, int i)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://rapport-health-%d", i);
    void *sock = zsock_resolve(rp_client_socket(x->client));
    if (zmq_socket_monitor(sock, ep, ZMQ_EVENT_CONNECT_RETRIED) != 0)
        return;                         /* no monitor: the timeout still applies */
    x->monitor = zsock_new_pair(ep);
    if (!x->monitor)
        zmq_socket_monitor(sock, NULL, 0);
}

/* s_unwatch - stop x's monitor before its socket goes. */
static void s_unwatch(s_target_t *x)
{
    if (!x->monitor)
        return;
    zmq_socket_monitor(zsock_resolve(rp_client_socket(x->client)), NULL, 0);
    zsock_destroy(&x->monitor);
}

/* s_monitor_event - read one event off x's monitor: a refused connection. */
static void s_monitor_event(s_target_t *x)
{
    zmsg_t *m = zmsg_recv(x->monitor);
    if (!m)
        return;
    zmsg_destroy(&m);
    x->refused = true;
    char ep[sizeof x->endpoint];
    rp_strlcpy(ep, x->endpoint, sizeof ep);
    snprintf(x->why, sizeof x->why, "not running: %s refused the connection", ep);
}

static int s_health(cli_t *cli, const cli_args_t *a)
{
    s_target_t t[MAX_SVC];
    int n = 0;
    memset(t, 0, sizeof t);
    const char *one = a->npos ? a->pos[0] : NULL;
    if (one) {
        if (!rp_service_find(one)) {
            char list[512] = "";
            for (const rp_service_info_t *s = rp_services(); s->name; s++) {
                strncat(list, " ", sizeof list - strlen(list) - 1);
                strncat(list, s->name, sizeof list - strlen(list) - 1);
            }
            return cli_usage_error(a, "unknown service '%s'; services:%s", one, list);
        }
        t[n++].name = rp_service_find(one)->name;
    } else {
        for (const rp_service_info_t *s = rp_services(); s->name && n < MAX_SVC; s++)
            t[n++].name = s->name;
    }
    int rc = cli_get_token(cli, false);
    if (rc)
        return rc;

    Rapport__Sys__V1__HealthRequest req = RAPPORT__SYS__V1__HEALTH_REQUEST__INIT;
    int local_fail = 0;
    for (int i = 0; i < n; i++) {
        rp_service_endpoint(t[i].name, 0, t[i].endpoint, sizeof t[i].endpoint);
        if (cli_connect_quiet(cli, t[i].name, &t[i].client, t[i].why, sizeof t[i].why) != 0) {
            local_fail++;
            continue;
        }
        if (rp_client_send(t[i].client, NULL, "rapport.sys.v1.System/Health", &req.base, NULL) != 0) {
            rp_strlcpy(t[i].why, "cannot send the request", sizeof t[i].why);
            rp_client_destroy(&t[i].client);
            continue;
        }
        s_watch(&t[i], i);
    }

    /* Asking every service: those not running should not hold us for 10 s. */
    int wait_ms = (one || cli->timeout_set) ? cli->timeout_ms : 2000;
    int64_t deadline = rp_clock_mono_us() + (int64_t) wait_ms * 1000;
    for (;;) {
        zmq_pollitem_t items[2 * MAX_SVC];
        int map[2 * MAX_SVC], k = 0, waiting = 0;
        for (int i = 0; i < n; i++)
            if (t[i].client && !t[i].answered && !t[i].refused) {
                /* zsock_resolve: client.c hands out its CZMQ zsock_t; a raw socket passes as is. */
                items[k] = (zmq_pollitem_t) { .socket = zsock_resolve(rp_client_socket(t[i].client)),
                                              .events = ZMQ_POLLIN };
                map[k++] = i;
                waiting++;
                if (t[i].monitor) {
                    items[k] = (zmq_pollitem_t) { .socket = zsock_resolve(t[i].monitor), .events = ZMQ_POLLIN };
                    map[k++] = -1 - i;
                }
            }
        int64_t left = (deadline - rp_clock_mono_us()) / 1000;
        if (waiting == 0 || left <= 0)
            break;
        if (zmq_poll(items, k, (long) left) < 0)
            break;
        for (int j = 0; j < k; j++) {
            if (!(items[j].revents & ZMQ_POLLIN))
                continue;
            if (map[j] < 0) {
                s_monitor_event(&t[-1 - map[j]]);
                continue;
            }
            s_target_t *x = &t[map[j]];
            Rapport__V1__Reply *reply = NULL;
            if (rp_client_recv(x->client, 0, &reply) != 0 || !reply)
                continue;
            x->answered = true;
            rp_status_from_reply(reply, &x->st);
            if (x->st.code == RP_OK)
                x->health = rapport__sys__v1__health_reply__unpack(NULL, reply->body.len, reply->body.data);
            rapport__v1__reply__free_unpacked(reply, NULL);
        }
    }

    int answered = 0, failed = 0;
    json_t *arr = json_array(), *silent = json_array(), *down = json_array();
    const char *hdr[] = { "SERVICE", "STATUS", "VERSION", "LAST_SEQ", "UPTIME", "ENDPOINT" };
    cli_table_t *tab = cli_table_new(6, hdr);
    for (int i = 0; i < n; i++) {
        s_target_t *x = &t[i];
        if (!x->answered) {
            json_array_append_new(x->refused ? down : silent, json_string(x->name));
            continue;
        }
        answered++;
        const char *status;
        char seq[32] = "", up[32] = "";
        if (x->st.code != RP_OK) {
            failed++;
            status = rp_code_name(x->st.code);
        } else if (!x->health) {
            failed++;
            status = "BAD_REPLY";
        } else {
            status = x->health->ready ? (x->health->test_clock ? "ready (test clock)" : "ready") : "not ready";
            snprintf(seq, sizeof seq, "%" PRIu64, x->health->last_seq);
            s_uptime(x->health->uptime_ms, up, sizeof up);
        }
        const char *row[] = { x->name, status, x->health ? x->health->version : "", seq, up, x->endpoint };
        cli_table_add(tab, row);
        json_t *o = json_pack("{s:s,s:s,s:s}", "service", x->name, "endpoint", x->endpoint,
                              "status", x->st.code == RP_OK ? "OK" : rp_code_name(x->st.code));
        if (x->health)
            json_object_set_new(o, "health", rp_pb_to_json(&x->health->base));
        else if (x->st.message[0])
            json_object_set_new(o, "message", json_string(x->st.message));
        json_array_append_new(arr, o);
    }

    if (cli->json) {
        json_t *j = json_pack("{s:O,s:O,s:O}", "services", arr, "no_answer", silent, "not_running", down);
        cli_print_json(j);
        json_decref(j);
    } else {
        if (answered) {
            cli_table_print(tab, stdout);
            fflush(stdout);             /* the table first, then what went wrong */
        }
        for (int i = 0; i < n; i++)
            if (!t[i].answered && t[i].why[0])
                fprintf(stderr, "rapport: %s: %s\n", t[i].name, t[i].why);
        int quiet = 0;
        for (int i = 0; i < n; i++)
            quiet += !t[i].answered && !t[i].why[0];
        if (quiet) {
            fprintf(stderr, "rapport: no answer within %d ms from:", wait_ms);
            const char *sep = " ";
            for (int i = 0; i < n; i++)
                if (!t[i].answered && !t[i].why[0]) {
                    if (one)
                        fprintf(stderr, " %s at %s", t[i].name, t[i].endpoint);
                    else
                        fprintf(stderr, "%s%s", sep, t[i].name);
                    sep = ", ";
                }
            fputc('\n', stderr);
        }
        for (int i = 0; i < n; i++)
            if (t[i].answered && t[i].st.code != RP_OK && t[i].st.message[0])
                fprintf(stderr, "rapport: %s: %s: %s\n", t[i].name, rp_code_name(t[i].st.code), t[i].st.message);
    }
    cli_table_destroy(&tab);
    json_decref(arr);
    json_decref(silent);
    json_decref(down);
    for (int i = 0; i < n; i++) {
        s_unwatch(&t[i]);
        rp_client_destroy(&t[i].client);
        if (t[i].health)
            rapport__sys__v1__health_reply__free_unpacked(t[i].health, NULL);
    }
    if (answered == 0)
        return (one && local_fail) ? CLI_EXIT_LOCAL : CLI_EXIT_UNREACHABLE;
    return failed ? CLI_EXIT_SERVICE : CLI_EXIT_OK;
}

const cli_cmd_t cli_health_cmds[] = {
    { "", "[SERVICE]", "System/Health of one service, or of every service that answers", NULL, 0, 1, s_health,
      "Without SERVICE every service of the suite is asked at once and the ones that answer\n"
      "  within 2 s (or --timeout) are listed; one that refuses the connection is named as not\n"
      "  running at once. Exit 0 when every answer is OK, 1 when a service\n"
      "  answered an error, 3 when none answered." },
    { NULL, NULL, NULL, NULL, 0, 0, NULL, NULL }
};
