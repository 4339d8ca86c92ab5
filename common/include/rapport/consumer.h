/* consumer.h - an event consumer that never misses or repeats (DESIGN.md §7).
 *
 * It subscribes to a service's PUB socket (the type prefix and the heartbeat) and
 * delivers events strictly in seq order starting at from_seq. When a live event
 * arrives past the expected seq, or a heartbeat says events were committed that it
 * has not seen, it fetches the gap through System/Replay. The caller keeps the
 * position (rp_consumer_position) durably; a durable consumer inside a service keeps
 * it in its own LMDB in the same transaction as the effects of the event.
 */
#ifndef RAPPORT_CONSUMER_H
#define RAPPORT_CONSUMER_H
#include <stdint.h>
#include <stdbool.h>
#include "rapport/keys.h"
#include "rapport/v1/event.pb-c.h"

typedef struct rp_consumer rp_consumer_t;

typedef struct {
    const char *rpc_endpoint;       /* the service's ROUTER */
    const char *pub_endpoint;       /* the service's PUB */
    const char *server_public_z85;  /* the service's CURVE key */
    const rp_curve_t *me;           /* our CURVE identity */
    const char *token;              /* needs events.replay */
    const char *type_prefix;        /* "" = every event */
    uint64_t from_seq;              /* first seq wanted (1 = from the beginning) */
} rp_consumer_opts_t;

rp_consumer_t *rp_consumer_new(const rp_consumer_opts_t *opts);
void rp_consumer_destroy(rp_consumer_t **self_p);
/* rp_consumer_next - the next event in seq order. 0 with *ev set (free with
 * rapport__v1__event__free_unpacked), 1 when none came within timeout_ms, -1 on an
 * error the caller should report (replay refused, bad token). */
int rp_consumer_next(rp_consumer_t *self, int timeout_ms, Rapport__V1__Event **ev);
/* rp_consumer_position - the seq the consumer will deliver (or examine) next. */
uint64_t rp_consumer_position(const rp_consumer_t *self);
/* rp_consumer_socket / rp_consumer_rpc_socket - the SUB socket and the DEALER its
 * Replay requests go out on (zsock_t's), for polling with other sockets: when
 * either is readable, or rp_consumer_pending is true, call rp_consumer_next with
 * timeout 0. rp_consumer_next never waits longer than its timeout, also while it
 * catches up, so a service keeps serving. Borrowed. */
void *rp_consumer_socket(rp_consumer_t *self);
void *rp_consumer_rpc_socket(rp_consumer_t *self);
/* rp_consumer_pending - true when there is work that needs no waiting: events
 * ready to hand out, or a Replay request to send. */
bool rp_consumer_pending(const rp_consumer_t *self);
/* rp_consumer_last_error - a message for the last -1. */
const char *rp_consumer_last_error(const rp_consumer_t *self);

#endif
