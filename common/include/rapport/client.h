/* client.h - a DEALER client for Rapport services: CURVE always on, one socket,
 * many requests in flight, replies matched by request id.
 *
 * Synchronous: rp_client_call. Pipelined: rp_client_send then rp_client_recv.
 */
#ifndef RAPPORT_CLIENT_H
#define RAPPORT_CLIENT_H
#include <stdint.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>
#include "rapport/keys.h"
#include "rapport/ulid.h"
#include "rapport/v1/rpc.pb-c.h"

typedef struct rp_client rp_client_t;

/* rp_client_new - connect to endpoint ("tcp://127.0.0.1:7110") as the CURVE identity
 * `me`, trusting server_public_z85. The cert is copied; token may be NULL and set
 * later. NULL on failure (bad endpoint or key). */
rp_client_t *rp_client_new(const char *endpoint, const char *server_public_z85,
                           const rp_curve_t *me, const char *token);
void rp_client_destroy(rp_client_t **self_p);
void rp_client_set_token(rp_client_t *self, const char *token);
/* rp_client_socket - the CZMQ zsock_t, for polling (zsock_resolve gives the libzmq
 * socket for zmq_poll). Borrowed. */
void *rp_client_socket(rp_client_t *self);

/* The outcome of a call: code/message from the Reply's status (or a local failure:
 * UNAVAILABLE on timeout, INTERNAL when the reply does not decode). */
typedef struct {
    int code;
    char message[512];
    char existing_id[32];
    size_t n_violations;
    struct { char field[128]; char description[256]; } violations[8];
} rp_call_status_t;

/* rp_client_call - send method(in) and wait up to timeout_ms for its reply; on OK
 * unpack the body with out_desc into *out (free with protobuf_c_message_free_unpacked).
 * id may be NULL (a fresh ULID is used) or a caller-chosen idempotency key.
 * Returns the status code (RP_OK = 0). */
int rp_client_call(rp_client_t *self, const char *id, const char *method,
                   const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
                   ProtobufCMessage **out, rp_call_status_t *st, int timeout_ms);
/* rp_client_call_raw - the same with a pre-packed body; *reply is the whole Reply. */
int rp_client_call_raw(rp_client_t *self, const char *id, const char *method,
                       const uint8_t *body, size_t len, Rapport__V1__Reply **reply,
                       int timeout_ms);

/* Request ids are 1..64 characters of A-Z a-z 0-9 - _ (a ULID when generated). */
#define RP_REQUEST_ID_MAX 64

/* rp_client_send - queue a request without waiting. id_out (may be NULL) receives the
 * id used, cut to 26 characters (a generated id always fits). 0, or -1 when the
 * socket refuses. */
int rp_client_send(rp_client_t *self, const char *id, const char *method,
                   const ProtobufCMessage *in, char id_out[RP_ULID_STRLEN + 1]);
/* rp_client_send_frame - send bytes as they are (tests: garbage frames). */
int rp_client_send_frame(rp_client_t *self, const void *data, size_t len);
/* rp_client_recv - the next reply, in any order. 0 with *reply set (free with
 * rapport__v1__reply__free_unpacked), 1 on timeout, -1 on a reply that does not decode. */
int rp_client_recv(rp_client_t *self, int timeout_ms, Rapport__V1__Reply **reply);

/* rp_status_from_reply - fill st from a Reply's status. */
void rp_status_from_reply(const Rapport__V1__Reply *reply, rp_call_status_t *st);

#endif
