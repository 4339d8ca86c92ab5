/* service_internal.h - the skeleton's private types, shared by service*.c only.
 *
 * service.c         configuration, set-up, routing and the loop (rp_service_main)
 * service_ctx.c     the request context: arena, events, errors, *_or_reply helpers
 * service_write.c   a turn of the loop: drain, read, write path with group commit,
 *                   replies, events, heartbeat, periodic jobs
 * service_system.c  the System methods every service answers
 * service_consumer.c  durable consumers of other services' events
 */
#ifndef RAPPORT_SERVICE_INTERNAL_H
#define RAPPORT_SERVICE_INTERNAL_H
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <czmq.h>
#include <sodium.h>
#include "arena.h"
#include "rapport/audit.h"
#include "rapport/clock.h"
#include "rapport/config.h"
#include "rapport/consumer.h"
#include "rapport/events.h"
#include "rapport/http.h"
#include "rapport/idem.h"
#include "rapport/keys.h"
#include "rapport/log.h"
#include "rapport/metrics.h"
#include "rapport/money.h"
#include "rapport/perm.h"
#include "rapport/service.h"
#include "rapport/services.h"
#include "rapport/util.h"
#include "rapport/validate.h"
#include "rapport/v1/rpc.pb-c.h"
#include "rapport/v1/types.pb-c.h"
#include "rapport/sys/v1/system.pb-c.h"

#define S_MAX_VIOLATIONS 16
#define S_MAX_ID 64
#define S_REPLAY_MAX 1000
#define S_REPLAY_BYTES (4u << 20)
#define S_AUDIT_MAX 1000
#define S_HEARTBEAT_TYPE "rapport.sys.v1.heartbeat"

#ifndef RAPPORT_VERSION
#define RAPPORT_VERSION "0.1.0"
#endif

/* One routable method: a service row or a built-in System row. */
typedef struct {
    char *full;                                 /* "rapport.leads.v1.Leads/Create" */
    const ProtobufCMessageDescriptor *input;
    const ProtobufCMessageDescriptor *output;
    rp_handler_fn handler;
    rp_kind_t kind;
    const char *perm;
    const char *name;                           /* "Create" */
    rp_histogram_t *latency;
} s_route_t;

/* An event appended by a request, published after commit. */
/* A token revoked by a request (rp_ctx_revoke), refused once it commits. */
typedef struct s_pending_revoke {
    struct s_pending_revoke *next;
    char *jti;
    int64_t exp_s;
} s_pending_revoke_t;

typedef struct s_pending_event {
    struct s_pending_event *next;
    char *type;                                 /* in the request's arena */
    uint8_t *data;
    size_t len;
} s_pending_event_t;

struct rp_ctx {
    rp_service_t *svc;
    rp_arena_t arena;
    rp_arena_mark_t prepared;                   /* arena state after decoding */
    uint8_t identity[256];                      /* ROUTER routing id */
    size_t identity_len;
    Rapport__V1__Request *req;
    const s_route_t *route;
    ProtobufCMessage *in;
    rp_claims_t claims;
    MDB_txn *txn;
    int64_t start_us;
    /* outcome */
    int code;
    char *message;
    char *existing_id;
    size_t n_violations;
    Rapport__V1__FieldViolation violations[S_MAX_VIOLATIONS];
    Rapport__V1__FieldViolation *violation_ptrs[S_MAX_VIOLATIONS];
    bool map_full;
    char *subject;
    s_pending_event_t *events, **events_tail;
    struct s_pending_revoke *revokes;           /* applied to the verifier after commit */
    uint64_t serial;                            /* rp_ctx_serial */
    uint8_t digest[RP_IDEM_DIGEST];
    char *idem_key;                             /* "<caller>/<request id>" (s_prepare) */
    const uint8_t *body;                        /* rp_ctx_reply_packed, or NULL */
    size_t body_len;
    uint8_t *reply;                             /* packed Reply, in the arena */
    size_t reply_len;
    bool has_reply;
    bool queued;                                /* a prepared write awaiting the commit */
    /* rp_ctx_keep_on_error: what a failed request keeps (keep_outcome non-NULL) */
    char *keep_outcome;
    rp_keep_fn keep_fn;
    void *keep_arg;
    char *audit_actor;                          /* rp_ctx_set_audit_actor, or NULL */
    char *event_branch;                         /* rp_ctx_set_event_branch, or NULL */
};

/* A durable consumer of an upstream service's events. */
typedef struct {
    const rp_consumer_def_t *def;
    char *offset_key;               /* "<upstream>/<type prefix>" in `offsets` */
    rp_consumer_t *consumer;        /* NULL while waiting to (re)connect */
    int64_t retry_at_us;
    rp_counter_t *m_applied, *m_rejected;
} s_upstream_t;

struct rp_service {
    const rp_service_def_t *def;
    /* settings */
    char *data_dir, *keys_dir, *bind, *pub_bind, *http_listen;
    int64_t batch_max, max_msg, map_size, idem_ttl_s, heartbeat_ms, gather_us;
    size_t gather_target;                       /* writes the last batch held */
    /* runtime */
    rp_store_t *store;
    rp_curve_t *curve;
    rp_jwt_verifier_t *verifier;
    /* The last token verified in this turn of the loop and its claims (s_authorize):
     * nothing revokes a token during a turn, so the same token in the same second
     * gets the same verdict. Forgotten at the start of every turn. */
    char *memo_token;                           /* RP_JWT_MAX_LEN + 1 bytes */
    size_t memo_len;                            /* 0: nothing remembered */
    int64_t memo_s;
    rp_claims_t memo_claims;
    zactor_t *auth;
    zsock_t *router, *pub;
    rp_metrics_t *metrics;
    rp_http_t *http;
    s_route_t *routes;
    size_t n_routes;
    rp_validate_limits_t limits;
    rp_ctx_t **batch;                           /* batch_max contexts, reused */
    int64_t now;                                /* the clock, read once per batch */
    uint64_t next_serial;                       /* rp_ctx_serial of the next request */
    int64_t started_ms;
    uint64_t last_seq;                          /* last committed event seq */
    rp_audit_head_t audit_head;                 /* head of the chain as the open txn sees it */
    char *endpoints_path;
    int64_t *timer_due_us;
    s_upstream_t *upstreams;
    size_t n_upstreams;
    char *service_token;
    /* metrics */
    rp_counter_t *m_requests, *m_errors, *m_commits, *m_events, *m_replays, *m_batches,
                 *m_batched,
                 *m_last_seq, *m_map_size, *m_unroutable;
    rp_histogram_t *m_commit_us;
};


/* service_ctx.c */
rp_ctx_t *svc_ctx_new(rp_service_t *svc);
void svc_ctx_destroy(rp_ctx_t **ctx_p);
/* svc_ctx_clear_outcome - forget status, events and reply (a batch retry re-runs it). */
void svc_ctx_clear_outcome(rp_ctx_t *ctx);
/* svc_ctx_reset - ready for the next request, keeping the arena's first chunk. */
void svc_ctx_reset(rp_ctx_t *ctx);
/* svc_ctx_cat - parts[0..n) (n <= 8) concatenated, in ctx's arena. */
char *svc_ctx_cat(rp_ctx_t *ctx, size_t n, const char *const *parts);
/* svc_pack_reply - build the packed Reply for ctx (out on success) in its arena. */
void svc_pack_reply(rp_ctx_t *ctx, const ProtobufCMessage *out);
/* svc_send - route ctx's reply back to the client that asked. */
void svc_send(rp_service_t *svc, rp_ctx_t *ctx);

/* service_system.c */
extern const rp_method_t svc_system_methods[];

/* service.c */
const s_route_t *svc_route_find(rp_service_t *svc, const char *method);

/* service_write.c */
/* svc_batch - one turn: drain, read, write, commit once, reply, publish. */
void svc_batch(rp_service_t *svc);
/* svc_audit - append the audit record of a successful write under method. */
int svc_audit(rp_ctx_t *ctx, const char *method);
/* svc_audit_outcome - svc_audit for a failed request that keeps its record: with
 * its status code and outcome (rp_ctx_keep_on_error). */
int svc_audit_outcome(rp_ctx_t *ctx, const char *method, int code, const char *outcome);
/* svc_publish - send a committed request's events on the PUB socket. */
void svc_publish(rp_service_t *svc, rp_ctx_t *ctx);
void svc_heartbeat(rp_service_t *svc);
/* svc_run_job - a periodic job through the write path, as actor "system". */
void svc_run_job(rp_service_t *svc, const char *name, int (*run)(rp_ctx_t *ctx));
int svc_job_idem_sweep(rp_ctx_t *ctx);

/* service_revoke.c */
/* The built-in consumer of identity's token.revoked events. */
extern const rp_consumer_def_t svc_revocation_consumer;
/* svc_revocations_wanted - every service but the one issuing revocations follows them. */
bool svc_revocations_wanted(rp_service_t *svc);
/* svc_revocations_load - put the revoked tokens still in force into the verifier. */
int svc_revocations_load(rp_service_t *svc);
/* svc_revocations_sweep - drop revoked jtis whose tokens have expired (a job). */
int svc_revocations_sweep(rp_ctx_t *ctx);

/* service_keys.c */
/* The built-in consumer of identity's key.registered and key.revoked events. */
extern const rp_consumer_def_t svc_keys_consumer;
/* svc_keys_auth_new - open the table client_keys, make the ZAP directory (the
 * allowlist directory allow and the registered keys) and start zauth on it. NULL
 * with a log line on failure. */
zactor_t *svc_keys_auth_new(rp_service_t *svc, const char *allow);

/* service_consumer.c */
/* svc_upstreams_open - one durable consumer per row of the definition. 0 or -1. */
int svc_upstreams_open(rp_service_t *svc);
/* svc_upstream_connect - (re)create a consumer at the stored offset. */
void svc_upstream_connect(rp_service_t *svc, s_upstream_t *up);
/* svc_consume - apply the events that are ready, with their offset, in one commit. */
void svc_consume(rp_service_t *svc, s_upstream_t *up);

#endif
