/* client.c - a DEALER client for Rapport services: CURVE always on, many requests
 * in flight on one socket, replies matched by request id.
 *
 * rp_client_call keeps replies to other requests that arrive while it waits (a
 * caller may mix pipelined sends with synchronous calls) and hands them out from
 * rp_client_recv later.
 */
#include <assert.h>
#include <string.h>
#include <czmq.h>
#include "rapport/client.h"
#include "rapport/clock.h"
#include "rapport/status.h"
#include "rapport/util.h"

struct rp_client {
    zsock_t *sock;
    char *token;
    zlist_t *stash;         /* Rapport__V1__Reply * that arrived for someone else */
};

rp_client_t *
rp_client_new(const char *endpoint, const char *server_public_z85, const rp_curve_t *me,
              const char *token)
{
    assert(endpoint && server_public_z85 && me);
    if (strlen(server_public_z85) != 40)
        return NULL;
    zsys_init();
    rp_client_t *self = rp_calloc(1, sizeof *self);
    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->sock) {
        free(self);
        return NULL;
    }
    zsock_set_curve_serverkey(self->sock, server_public_z85);
    zsock_set_curve_publickey(self->sock, me->public_z85);
    zsock_set_curve_secretkey(self->sock, me->secret_z85);
    zsock_set_linger(self->sock, 0);
    zsock_set_sndhwm(self->sock, 100000);
    zsock_set_rcvhwm(self->sock, 100000);
    if (zsock_connect(self->sock, "%s", endpoint) < 0) {
        zsock_destroy(&self->sock);
        free(self);
        return NULL;
    }
    self->token = rp_strdup(token);
    self->stash = zlist_new();
    return self;
}

void
rp_client_destroy(rp_client_t **self_p)
{
    assert(self_p);
    rp_client_t *self = *self_p;
    if (!self)
        return;
    Rapport__V1__Reply *r;
    while ((r = zlist_pop(self->stash)))
        rapport__v1__reply__free_unpacked(r, NULL);
    zlist_destroy(&self->stash);
    zsock_destroy(&self->sock);
    if (self->token) {
        sodium_memzero(self->token, strlen(self->token));
        free(self->token);
    }
    free(self);
    *self_p = NULL;
}

void
rp_client_set_token(rp_client_t *self, const char *token)
{
    if (self->token) {
        sodium_memzero(self->token, strlen(self->token));
        free(self->token);
    }
    self->token = rp_strdup(token);
}

void *
rp_client_socket(rp_client_t *self)
{
    return self->sock;
}

/* s_send_raw - pack a Request around body and send it. */
static int
s_send_raw(rp_client_t *self, const char *id, const char *method, const uint8_t *body,
           size_t len, char *id_out, size_t id_cap)
{
    char fresh[RP_ULID_STRLEN + 1];
    if (!id) {
        rp_ulid_new_str(rp_clock_now_ms(), fresh);
        id = fresh;
    }
    if (id_out)
        rp_strlcpy(id_out, id, id_cap);
    Rapport__V1__Request req = RAPPORT__V1__REQUEST__INIT;
    req.id = (char *) id;
    req.method = (char *) method;
    req.body.data = (uint8_t *) body;
    req.body.len = len;
    req.token = self->token ? self->token : (char *) "";
    size_t n = rapport__v1__request__get_packed_size(&req);
    zmq_msg_t msg;
    zmq_msg_init_size(&msg, n);
    rapport__v1__request__pack(&req, zmq_msg_data(&msg));
    int rc = zmq_msg_send(&msg, zsock_resolve(self->sock), 0);
    if (rc < 0) {
        zmq_msg_close(&msg);
        return -1;
    }
    return 0;
}

int
rp_client_send(rp_client_t *self, const char *id, const char *method,
               const ProtobufCMessage *in, char id_out[RP_ULID_STRLEN + 1])
{
    size_t len = in ? protobuf_c_message_get_packed_size(in) : 0;
    uint8_t *buf = rp_malloc(len ? len : 1);
    if (in)
        protobuf_c_message_pack(in, buf);
    int rc = s_send_raw(self, id, method, buf, len, id_out, RP_ULID_STRLEN + 1);
    free(buf);
    return rc;
}

int
rp_client_send_frame(rp_client_t *self, const void *data, size_t len)
{
    return zmq_send(zsock_resolve(self->sock), data, len, 0) < 0 ? -1 : 0;
}

/* s_recv_socket - one reply from the socket. 0, 1 timeout, -1 undecodable. */
static int
s_recv_socket(rp_client_t *self, int timeout_ms, Rapport__V1__Reply **reply)
{
    zmq_pollitem_t item = { zsock_resolve(self->sock), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return 1;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, item.socket, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return 1;
    }
    *reply = rapport__v1__reply__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    return *reply ? 0 : -1;
}

int
rp_client_recv(rp_client_t *self, int timeout_ms, Rapport__V1__Reply **reply)
{
    *reply = zlist_pop(self->stash);
    if (*reply)
        return 0;
    return s_recv_socket(self, timeout_ms, reply);
}

void
rp_status_from_reply(const Rapport__V1__Reply *reply, rp_call_status_t *st)
{
    memset(st, 0, sizeof *st);
    if (!reply->status)
        return;
    st->code = reply->status->code;
    rp_strlcpy(st->message, reply->status->message, sizeof st->message);
    rp_strlcpy(st->existing_id, reply->status->existing_id, sizeof st->existing_id);
    for (size_t i = 0; i < reply->status->n_field_violations && i < 8; i++) {
        rp_strlcpy(st->violations[i].field, reply->status->field_violations[i]->field,
                   sizeof st->violations[i].field);
        rp_strlcpy(st->violations[i].description, reply->status->field_violations[i]->description,
                   sizeof st->violations[i].description);
        st->n_violations = i + 1;
    }
}

int
rp_client_call_raw(rp_client_t *self, const char *id, const char *method,
                   const uint8_t *body, size_t len, Rapport__V1__Reply **reply, int timeout_ms)
{
    char sent[RP_REQUEST_ID_MAX + 1];        /* ids may be up to 64 characters */
    *reply = NULL;
    if (s_send_raw(self, id, method, body, len, sent, sizeof sent) != 0)
        return RP_UNAVAILABLE;
    int64_t until = rp_clock_mono_us() + (int64_t) timeout_ms * 1000;
    for (;;) {
        int64_t left = (until - rp_clock_mono_us()) / 1000;
        if (left < 0)
            return RP_UNAVAILABLE;
        Rapport__V1__Reply *r;
        int rc = s_recv_socket(self, (int) left, &r);
        if (rc == 1)
            return RP_UNAVAILABLE;
        if (rc < 0)
            return RP_INTERNAL;
        /* An undecodable request is answered with an empty id: it can only be ours
         * when nothing else is in flight, which is how tests send garbage. */
        if (strcmp(r->id, sent) == 0 || (r->id[0] == '\0' && zlist_size(self->stash) == 0)) {
            *reply = r;
            return r->status ? r->status->code : RP_OK;
        }
        zlist_append(self->stash, r);
    }
}

int
rp_client_call(rp_client_t *self, const char *id, const char *method,
               const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
               ProtobufCMessage **out, rp_call_status_t *st, int timeout_ms)
{
    rp_call_status_t local;
    st = st ? st : &local;
    memset(st, 0, sizeof *st);
    if (out)
        *out = NULL;
    size_t len = in ? protobuf_c_message_get_packed_size(in) : 0;
    uint8_t *buf = rp_malloc(len ? len : 1);
    if (in)
        protobuf_c_message_pack(in, buf);
    Rapport__V1__Reply *reply;
    int code = rp_client_call_raw(self, id, method, buf, len, &reply, timeout_ms);
    free(buf);
    if (!reply) {
        st->code = code;
        rp_strlcpy(st->message, code == RP_UNAVAILABLE ? "no reply before the timeout"
                                                       : "the reply does not decode", sizeof st->message);
        return code;
    }
    rp_status_from_reply(reply, st);
    if (st->code == RP_OK && out && out_desc) {
        *out = protobuf_c_message_unpack(out_desc, NULL, reply->body.len, reply->body.data);
        if (!*out) {
            st->code = RP_INTERNAL;
            snprintf(st->message, sizeof st->message, "the reply body is not a %s", out_desc->name);
        }
    }
    rapport__v1__reply__free_unpacked(reply, NULL);
    return st->code;
}
