/* consumer.c - deliver a service's events in seq order, each exactly once, across
 * disconnects: live events from PUB, gaps filled through System/Replay, and the
 * heartbeat revealing a tail that was missed (DESIGN.md §7).
 *
 * The consumer's position is the next seq it will examine. Live events at the
 * position are delivered at once; an event past the position means a gap, and
 * the gap is replayed first; an event below the position was already delivered
 * and is dropped. With a type prefix, Replay skips the other types and reports
 * where it stopped (next_seq), so the position still advances without gaps.
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
#define S_REPLAY_BATCH 500

struct rp_consumer {
    rp_client_t *rpc;
    zsock_t *sub;
    char *prefix;
    uint64_t position;          /* next seq to examine */
    uint64_t known_last;        /* highest committed seq we have heard of */
    zlist_t *ready;             /* Rapport__V1__Event * ready to hand out, in order */
    char error[600];
};

rp_consumer_t *
rp_consumer_new(const rp_consumer_opts_t *o)
{
    assert(o && o->rpc_endpoint && o->pub_endpoint && o->server_public_z85 && o->me);
    rp_consumer_t *self = rp_calloc(1, sizeof *self);
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
    /* Start by catching up: whatever is committed before we subscribed. */
    self->known_last = UINT64_MAX;
    self->ready = zlist_new();
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
    return self->position;
}

void *
rp_consumer_socket(rp_consumer_t *self)
{
    return self->sub;
}

bool
rp_consumer_pending(const rp_consumer_t *self)
{
    return zlist_size(self->ready) > 0 || self->known_last == UINT64_MAX
        || self->known_last >= self->position;
}

const char *
rp_consumer_last_error(const rp_consumer_t *self)
{
    return self->error;
}

/* s_replay - fetch everything committed from position on through System/Replay
 * into the ready list, in order. Live events it overtakes are dropped later as
 * already delivered. 0, or -1 with self->error set. */
static int
s_replay(rp_consumer_t *self)
{
    for (;;) {
        uint64_t start = self->position;
        Rapport__Sys__V1__ReplayRequest req = RAPPORT__SYS__V1__REPLAY_REQUEST__INIT;
        req.from_seq = self->position;
        req.limit = S_REPLAY_BATCH;
        req.type_prefix = self->prefix;
        Rapport__Sys__V1__ReplayReply *r = NULL;
        rp_call_status_t st;
        int code = rp_client_call(self->rpc, NULL, "rapport.sys.v1.System/Replay", &req.base,
                                  &rapport__sys__v1__replay_reply__descriptor,
                                  (ProtobufCMessage **) &r, &st, 10000);
        if (code != RP_OK) {
            snprintf(self->error, sizeof self->error, "replay from %llu: %s: %s",
                     (unsigned long long) self->position, rp_code_name(code), st.message);
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
            self->position = r->next_seq;           /* other types skipped */
        self->known_last = r->last_seq;
        rapport__sys__v1__replay_reply__free_unpacked(r, NULL);
        /* Caught up with what is committed, or no progress (nothing more to read). */
        if (self->position > self->known_last || self->position == start)
            break;
    }
    return 0;
}

/* s_take_live - one message from SUB, handled. 0 ok (maybe nothing ready), -1 error. */
static int
s_take_live(rp_consumer_t *self)
{
    zmsg_t *msg = zmsg_recv(self->sub);
    if (!msg)
        return 0;
    zframe_t *type = zmsg_first(msg), *body = zmsg_next(msg);
    if (!type || !body) {
        zmsg_destroy(&msg);
        return 0;
    }
    int rc = 0;
    if (zframe_streq(type, S_HEARTBEAT_TYPE)) {
        Rapport__V1__Heartbeat *hb = rapport__v1__heartbeat__unpack(NULL, zframe_size(body), zframe_data(body));
        if (hb) {
            if (hb->last_seq >= self->position)
                rc = s_replay(self);
            rapport__v1__heartbeat__free_unpacked(hb, NULL);
        }
    } else {
        Rapport__V1__Event *ev = rapport__v1__event__unpack(NULL, zframe_size(body), zframe_data(body));
        if (ev) {
            if (ev->seq > self->position)
                rc = s_replay(self);                    /* the gap first */
            if (rc == 0 && ev->seq == self->position) {
                zlist_append(self->ready, ev);
                self->position = ev->seq + 1;
                ev = NULL;
            }
            if (ev)
                rapport__v1__event__free_unpacked(ev, NULL);   /* already delivered */
        }
    }
    zmsg_destroy(&msg);
    return rc;
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
        if (self->known_last == UINT64_MAX || self->known_last >= self->position) {
            /* First call, or the heartbeat told us of events we lack: catch up. */
            if (s_replay(self) != 0)
                return -1;
            if (zlist_size(self->ready))
                continue;
        }
        int64_t left = (until - rp_clock_mono_us()) / 1000;
        if (left <= 0)
            return 1;
        zmq_pollitem_t item = { zsock_resolve(self->sub), 0, ZMQ_POLLIN, 0 };
        int n = zmq_poll(&item, 1, (long) left);
        if (n < 0)
            return 1;
        if (n > 0 && s_take_live(self) != 0)
            return -1;
    }
}
