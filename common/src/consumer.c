/* consumer.c - deliver a service's events in seq order, each exactly once, across
 * disconnects: live events from PUB, gaps filled through System/Replay, and the
 * heartbeat revealing a tail that was missed (DESIGN.md §7).
 *
 * The consumer's position is the next seq it will examine. It is either live
 * (delivering events from the SUB socket as they come, while they are exactly at
 * the position) or behind (a gap was seen, a heartbeat announced events it lacks,
 * or it just started). While behind it keeps one Replay request in flight on its
 * DEALER and drops live events: they will come back through Replay. A Replay reply
 * that reaches the last committed seq makes it live again; an event lost between
 * that reply and the next live one shows up as a gap or in the next heartbeat.
 *
 * Nothing here blocks longer than the caller's timeout, so a service can poll the
 * consumer's sockets in its own loop and keep serving while it catches up.
 */
#include <assert.h>
#include <string.h>
#include <czmq.h>
#include "rapport/clock.h"
#include "rapport/client.h"
#include "rapport/consumer.h"
#include "rapport/status.h"
#include "rapport/util.h"
#include "rapport/sys/v1/system.pb-c.h"

#define S_HEARTBEAT_TYPE "rapport.sys.v1.heartbeat"
#define S_REPLAY_METHOD "rapport.sys.v1.System/Replay"
#define S_REPLAY_BATCH 500
#define S_REPLAY_TIMEOUT_US (10 * 1000000LL)
#define S_REPLAY_RESEND_US (2 * 1000000LL)

struct rp_consumer {
    rp_client_t *rpc;
    zsock_t *sub;
    char *prefix;
    uint64_t position;          /* next seq to examine */
    bool behind;                /* events may exist at or past position: replay */
    bool inflight;              /* a Replay request is on its way */
    char inflight_id[RP_ULID_STRLEN + 1];
    int64_t inflight_since_us;
    zlist_t *ready;             /* Rapport__V1__Event * ready to hand out, in order */
    char error[600];
};

rp_consumer_t *
rp_consumer_new(const rp_consumer_opts_t *o)
{
    assert(o && o->rpc_endpoint && o->pub_endpoint && o->server_public_z85 && o->me);
    rp_consumer_t *self = rp_calloc(1, sizeof *self);
    self->ready = zlist_new();
    self->rpc = rp_client_new(o->rpc_endpoint, o->server_public_z85, o->me, o->token);
    self->sub = zsock_new(ZMQ_SUB);
    if (!self->rpc || !self->sub) {
        rp_consumer_destroy(&self);
        return NULL;
    }
    zsock_set_curve_serverkey(self->sub, o->server_public_z85);
    zsock_set_curve_publickey(self->sub, o->me->public_z85);
    zsock_set_curve_secretkey(self->sub, o->me->secret_z85);
    zsock_set_rcvhwm(self->sub, 100000);
    zsock_set_linger(self->sub, 0);
    self->prefix = rp_strdup(o->type_prefix ? o->type_prefix : "");
    zsock_set_subscribe(self->sub, self->prefix);
    if (self->prefix[0])
        zsock_set_subscribe(self->sub, S_HEARTBEAT_TYPE);
    if (zsock_connect(self->sub, "%s", o->pub_endpoint) < 0) {
        rp_consumer_destroy(&self);
        return NULL;
    }
    self->position = o->from_seq ? o->from_seq : 1;
    self->behind = true;        /* whatever was committed before we subscribed */
    return self;
}

void
rp_consumer_destroy(rp_consumer_t **self_p)
{
    assert(self_p);
    rp_consumer_t *self = *self_p;
    if (!self)
        return;
    if (self->ready) {
        Rapport__V1__Event *ev;
        while ((ev = zlist_pop(self->ready)))
            rapport__v1__event__free_unpacked(ev, NULL);
        zlist_destroy(&self->ready);
    }
    rp_client_destroy(&self->rpc);
    zsock_destroy(&self->sub);
    free(self->prefix);
    free(self);
    *self_p = NULL;
}

uint64_t
rp_consumer_position(const rp_consumer_t *self)
{
    /* The next seq to deliver: the first ready event's, else where fetching stands.
     * A caller that stores this after handling an event resumes exactly there. */
    const Rapport__V1__Event *head = zlist_head(self->ready);
    return head ? head->seq : self->position;
}

void *
rp_consumer_socket(rp_consumer_t *self)
{
    return self->sub;
}

void *
rp_consumer_rpc_socket(rp_consumer_t *self)
{
    return rp_client_socket(self->rpc);
}

bool
rp_consumer_pending(const rp_consumer_t *self)
{
    /* Ready events, a replay to send, or a replay past its deadline (to report):
     * all can be done without waiting. */
    return zlist_size(self->ready) > 0 || (self->behind && !self->inflight)
        || (self->inflight && rp_clock_mono_us() - self->inflight_since_us > S_REPLAY_TIMEOUT_US);
}

const char *
rp_consumer_last_error(const rp_consumer_t *self)
{
    return self->error;
}

/* s_replay_send - ask for the next page from position; never waits. */
static int
s_replay_send(rp_consumer_t *self)
{
    Rapport__Sys__V1__ReplayRequest req = RAPPORT__SYS__V1__REPLAY_REQUEST__INIT;
    req.from_seq = self->position;
    req.limit = S_REPLAY_BATCH;
    req.type_prefix = self->prefix;
    if (rp_client_send(self->rpc, NULL, S_REPLAY_METHOD, &req.base, self->inflight_id) != 0) {
        snprintf(self->error, sizeof self->error, "replay from %llu: cannot send",
                 (unsigned long long) self->position);
        return -1;
    }
    self->inflight = true;
    self->inflight_since_us = rp_clock_mono_us();
    return 0;
}

/* s_replay_take - handle the Replay reply. 0, or -1 with self->error set. */
static int
s_replay_take(rp_consumer_t *self, Rapport__V1__Reply *reply)
{
    if (strcmp(reply->id, self->inflight_id) != 0)
        return 0;                       /* a late reply to an abandoned request */
    self->inflight = false;
    int code = reply->status ? (int) reply->status->code : RP_OK;
    if (code != RP_OK) {
        snprintf(self->error, sizeof self->error, "replay from %llu: %s: %s",
                 (unsigned long long) self->position, rp_code_name(code),
                 reply->status && reply->status->message ? reply->status->message : "");
        return -1;
    }
    Rapport__Sys__V1__ReplayReply *r =
        rapport__sys__v1__replay_reply__unpack(NULL, reply->body.len, reply->body.data);
    if (!r) {
        snprintf(self->error, sizeof self->error, "replay from %llu: the reply does not decode",
                 (unsigned long long) self->position);
        return -1;
    }
    size_t kept = 0;
    for (size_t i = 0; i < r->n_events; i++) {
        Rapport__V1__Event *ev = r->events[i];
        if (ev->seq >= self->position) {
            zlist_append(self->ready, ev);      /* taken out of the reply */
            self->position = ev->seq + 1;
        } else
            r->events[kept++] = ev;             /* freed with the reply */
    }
    r->n_events = kept;
    if (r->next_seq > self->position)
        self->position = r->next_seq;           /* other types were skipped */
    self->behind = self->position <= r->last_seq;
    rapport__sys__v1__replay_reply__free_unpacked(r, NULL);
    return 0;
}

/* s_live - one message from SUB. */
static void
s_live(rp_consumer_t *self)
{
    zmsg_t *msg = zmsg_recv_nowait(self->sub);
    if (!msg)
        return;
    zframe_t *type = zmsg_first(msg), *body = zmsg_next(msg);
    if (type && body && zframe_streq(type, S_HEARTBEAT_TYPE)) {
        Rapport__V1__Heartbeat *hb =
            rapport__v1__heartbeat__unpack(NULL, zframe_size(body), zframe_data(body));
        if (hb) {
            if (hb->last_seq >= self->position)
                self->behind = true;            /* events we have not seen */
            /* The upstream is alive: a Replay outstanding this long was lost with a
             * restart (a DEALER does not resend), so ask again. Replay only reads,
             * and the late reply to the old request is ignored by its id. */
            if (self->inflight && rp_clock_mono_us() - self->inflight_since_us > S_REPLAY_RESEND_US)
                self->inflight = false;
            rapport__v1__heartbeat__free_unpacked(hb, NULL);
        }
    } else if (type && body) {
        Rapport__V1__Event *ev = rapport__v1__event__unpack(NULL, zframe_size(body), zframe_data(body));
        if (ev && !self->behind && ev->seq == self->position) {
            zlist_append(self->ready, ev);
            self->position = ev->seq + 1;
            ev = NULL;
        } else if (ev && ev->seq > self->position)
            self->behind = true;                /* a gap: replay it */
        if (ev)
            rapport__v1__event__free_unpacked(ev, NULL);   /* old, or replay will bring it */
    }
    zmsg_destroy(&msg);
}

int
rp_consumer_next(rp_consumer_t *self, int timeout_ms, Rapport__V1__Event **ev)
{
    *ev = NULL;
    int64_t until = rp_clock_mono_us() + (int64_t) timeout_ms * 1000;
    for (;;) {
        *ev = zlist_pop(self->ready);
        if (*ev)
            return 0;
        if (self->behind && !self->inflight && s_replay_send(self) != 0)
            return -1;
        if (self->inflight && rp_clock_mono_us() - self->inflight_since_us > S_REPLAY_TIMEOUT_US) {
            snprintf(self->error, sizeof self->error, "replay from %llu: no reply within %lld s",
                     (unsigned long long) self->position, S_REPLAY_TIMEOUT_US / 1000000);
            self->inflight = false;
            return -1;
        }
        int64_t left = (until - rp_clock_mono_us()) / 1000;
        if (left < 0)
            left = 0;
        zmq_pollitem_t items[2] = {
            { zsock_resolve(self->sub), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve(rp_client_socket(self->rpc)), 0, ZMQ_POLLIN, 0 },
        };
        if (zmq_poll(items, 2, (long) left) <= 0)
            return 1;
        if (items[1].revents & ZMQ_POLLIN) {
            Rapport__V1__Reply *reply;
            int rc = rp_client_recv(self->rpc, 0, &reply);
            if (rc == 0) {
                rc = s_replay_take(self, reply);
                rapport__v1__reply__free_unpacked(reply, NULL);
                if (rc != 0)
                    return -1;
            }
        }
        if (items[0].revents & ZMQ_POLLIN)
            s_live(self);
        if (left == 0 && !zlist_size(self->ready))
            return 1;
    }
}
