/* service.h - the skeleton every Rapport service runs on (DESIGN.md §4), in the
 * spirit of Postfix's single_server_main: a service's main.c is a definition and
 * one call to rp_service_main.
 *
 * The skeleton owns configuration, logging, signals, keys, the ROUTER and PUB
 * sockets, the LMDB environment, the loop, metrics and the ops HTTP endpoint.
 * One thread runs the loop. Each turn drains up to RAPPORT_BATCH_MAX requests,
 * answers READ methods at once in a read transaction, then runs every WRITE of
 * the batch in ONE write transaction, each in a nested transaction so a failing
 * request rolls back alone, commits once (one fsync), and only then sends the
 * replies and publishes the events.
 *
 * Before a handler runs the skeleton has: decoded the envelope, checked the
 * deadline, verified the token (cached), checked the method's permission,
 * decoded the body with the method's input descriptor, and validated it
 * generically (string and list bounds, UTF-8, enum values; see validate.h).
 * A handler therefore sees a well-formed message of its input type.
 *
 * Handlers are Redis-style: they answer errors with the *_or_reply helpers and
 * return -1, or set *out and return 0. Everything a handler allocates for its
 * reply comes from the request's arena (rp_ctx_alloc and friends, or the
 * allocator rp_ctx_allocator), freed by the skeleton after the reply is sent.
 *
 * Settings (environment; flags override; bad values exit 2 with a message):
 *   RAPPORT_HOST       host of the default endpoints below          (127.0.0.1)
 *   RAPPORT_DATA       data root; the store is <root>/<name>       (./var/data)
 *   RAPPORT_KEYS       keys directory (keys.h layout)               (./var/keys)
 *   RAPPORT_BIND       ROUTER endpoint        (tcp://127.0.0.1:<rpc_port>, services.h)
 *   RAPPORT_PUB_BIND   PUB endpoint           (tcp://127.0.0.1:<rpc_port+1>)
 *   RAPPORT_HTTP       ops HTTP listen address, or "off"  (127.0.0.1:<rpc_port+2>)
 *   RAPPORT_LOG_LEVEL  debug|info|warn|error                         (info)
 *   RAPPORT_BATCH_MAX  requests per loop turn / per commit, 1..4096  (256)
 *   RAPPORT_MAX_MSG    largest accepted frame in bytes (ZMQ_MAXMSGSIZE) (1048576)
 *   RAPPORT_MAP_SIZE   initial LMDB map size in bytes; it grows      (67108864)
 *   RAPPORT_IDEM_TTL   seconds a write's reply is kept for retries   (86400)
 *   RAPPORT_HEARTBEAT_MS  PUB heartbeat interval                     (1000)
 *   RAPPORT_GATHER_US  group commit: when the last batch held several writes, wait
 *                      up to this long for as many before committing; 0 = never (500)
 *   RAPPORT_TEST_CLOCK    1 enables System/ClockAdvance (tests only) (0)
 * Any endpoint may use port * (tcp://127.0.0.1:*): the bound endpoints are then
 * learnt from the ready file. On start, once bound, the skeleton creates its CURVE
 * cert <keys>/<name>.cert if missing (and allowlists it, so services may call each
 * other), and writes <data>/<name>/endpoints atomically, lines of key=value:
 *   rpc=tcp://127.0.0.1:41234
 *   pub=tcp://127.0.0.1:41235
 *   http=127.0.0.1:41236        (absent when off)
 *   pid=1234
 * and removes it on a clean exit.
 */
#ifndef RAPPORT_SERVICE_H
#define RAPPORT_SERVICE_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>
#include "rapport/store.h"
#include "rapport/jwt.h"
#include "rapport/status.h"
#include "rapport/ulid.h"
#include "rapport/v1/event.pb-c.h"

typedef struct rp_ctx rp_ctx_t;
typedef struct rp_service rp_service_t;

/* RP_WRITE_SECRET - a write whose request or reply holds secrets (passwords,
 * tokens): its reply is never kept as an idempotency record (a retry runs again),
 * and its audit digest covers the method only, never the body, so no hash of a
 * password or token is stored. */
typedef enum { RP_READ = 0, RP_WRITE = 1, RP_WRITE_SECRET = 2 } rp_kind_t;

/* A handler: 0 with *out set (may be NULL for an empty reply of the output type),
 * or -1 after one of the *_or_reply helpers set the status. */
typedef int (*rp_handler_fn)(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);

/* One row per method of the service's protobuf `service` block. */
typedef struct {
    const char *name;       /* method name as in the .proto, e.g. "Create" */
    rp_handler_fn handler;
    rp_kind_t kind;
    const char *perm;       /* required permission, e.g. "leads.write"; RP_PUBLIC: none */
} rp_method_t;

/* RP_PUBLIC - the permission of a method anyone may call without a token (a login).
 * The skeleton then skips token verification; the handler sees empty claims. */
#define RP_PUBLIC "public"

/* A periodic job: runs every interval_ms through the write path, as actor "system". */
typedef struct {
    const char *name;
    int64_t interval_ms;
    int (*run)(rp_ctx_t *ctx);   /* 0, or -1 (rolled back, logged) */
} rp_timer_t;

/* A durable consumer of another service's events (DESIGN.md §7). The skeleton
 * subscribes to the upstream service (endpoints from services.h, its CURVE key from
 * <keys>/<upstream>.cert, our own cert as the client identity, and the token in
 * RAPPORT_SERVICE_TOKEN or <keys>/<name>.token, which needs events.replay), gets its
 * events in seq order with no gap (rp_consumer: live, Replay and heartbeat), and
 * applies them through the write path: each apply runs in a nested transaction of a
 * batch, and the upstream's next seq is stored in the table `offsets` in the same
 * transaction, so every event is handled exactly once, across kill -9.
 * apply returns 0, or -1 with a status set: the event's effects roll back, the
 * failure is logged and counted (rapport_consumer_rejected_total), and the offset
 * still moves on, so one bad event cannot stop the stream. A storage failure
 * (MDB_MAP_FULL) retries the batch instead. Claims during apply: sub "system",
 * the event's branch, scope company. */
typedef struct {
    const char *upstream;           /* "leads" */
    const char *type_prefix;        /* "rapport.leads.v1.lead." or "" for all */
    int (*apply)(rp_ctx_t *ctx, const Rapport__V1__Event *ev);
} rp_consumer_def_t;

typedef struct {
    const char *name;                              /* "leads": binary rapport-leads */
    const char *summary;                           /* one line for --help */
    const char *settings_help;                     /* its own RAPPORT_<NAME>_* settings for
                                                    * --help, one per line; may be NULL */
    const ProtobufCServiceDescriptor *descriptor;  /* generated service descriptor */
    const rp_method_t *methods;                    /* NULL-name terminated */
    const rp_table_t *tables;                      /* NULL-name terminated */
    const rp_migration_t *migrations;              /* zero-version terminated, may be NULL */
    const rp_timer_t *timers;                      /* NULL-name terminated, may be NULL */
    const rp_consumer_def_t *consumers;            /* NULL-upstream terminated, may be NULL */
    /* on_open - after the store opened and migrated, before serving; may be NULL. */
    int (*on_open)(rp_service_t *svc, rp_store_t *store);
} rp_service_def_t;

/* rp_service_main - parse argv (--help, --version, --bind, --pub, --http, --data,
 * --keys), read RAPPORT_* settings, run until SIGTERM/SIGINT, drain, and return
 * the process exit status (0 clean, 1 run-time failure, 2 bad configuration). */
int rp_service_main(int argc, char **argv, const rp_service_def_t *def);

/* rp_service_keys_dir - the keys directory in use (--keys or RAPPORT_KEYS), for
 * on_open hooks that load a key of their own. Borrowed, valid while it runs. */
const char *rp_service_keys_dir(const rp_service_t *svc);

/* ---- what a handler may use ---- */

/* rp_ctx_txn - the transaction: read-only for READ, a nested write txn for WRITE. */
MDB_txn *rp_ctx_txn(rp_ctx_t *ctx);
rp_store_t *rp_ctx_store(rp_ctx_t *ctx);
/* rp_ctx_dbi - shorthand for rp_store_dbi(rp_ctx_store(ctx), name). */
MDB_dbi rp_ctx_dbi(rp_ctx_t *ctx, const char *table);
/* rp_ctx_claims - the verified token's claims (a "system" claim set for timers). */
const rp_claims_t *rp_ctx_claims(rp_ctx_t *ctx);
/* rp_ctx_now - the clock, read once per batch. */
int64_t rp_ctx_now(rp_ctx_t *ctx);
const char *rp_ctx_request_id(rp_ctx_t *ctx);
/* rp_ctx_idem_key - the key this write's idempotency record is (or will be) kept
 * under in the platform table "idem" ("<caller>/<request id>"), for a service that
 * must later rewrite its own kept replies (accounts' erasure); NULL outside a
 * write. Owned by the request. */
const char *rp_ctx_idem_key(rp_ctx_t *ctx);
const char *rp_ctx_method(rp_ctx_t *ctx);
bool rp_ctx_allowed(rp_ctx_t *ctx, const char *perm);

/* Arena allocation, freed after the reply is sent. Never NULL. */
void *rp_ctx_alloc(rp_ctx_t *ctx, size_t n);          /* zeroed */
char *rp_ctx_strdup(rp_ctx_t *ctx, const char *s);    /* NULL -> "" */
char *rp_ctx_sprintf(rp_ctx_t *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* rp_ctx_allocator - a ProtobufCAllocator over the arena, for rp_store_get_msg and
 * protobuf_c_message_unpack: messages unpacked with it need no free. */
ProtobufCAllocator *rp_ctx_allocator(rp_ctx_t *ctx);
/* rp_ctx_new_id - a fresh ULID (time = rp_ctx_now) as binary and as string. */
void rp_ctx_new_id(rp_ctx_t *ctx, rp_ulid_t *id, char str[RP_ULID_STRLEN + 1]);
/* rp_ctx_new_id_str - the same as a string in the request's arena: the id of a new
 * record ("l->id = rp_ctx_new_id_str(ctx)"). */
char *rp_ctx_new_id_str(rp_ctx_t *ctx);

/* rp_ctx_emit - append an event "rapport.<service>.v1.<type>" (type e.g. "lead.won")
 * about subject, with data packed from msg (may be NULL), in this request's
 * transaction. Published after commit. The first subject emitted also becomes the
 * audit record's subject. 0, or -1 (then the request fails with INTERNAL). */
int rp_ctx_emit(rp_ctx_t *ctx, const char *type, const char *subject, const ProtobufCMessage *msg);
/* rp_ctx_set_event_branch - the branch of the events this request emits from now
 * on (their `branch` attribute and source "/branches/<branch>/<service>"), in place
 * of the caller's token's branch. For a timer job, which has no caller (its claims
 * name no branch), to say whose entity each event concerns: call it before each
 * emit with the entity's branch. NULL or "" goes back to the token's branch. The
 * audit record keeps the token's claims. Copied; cleared when the request ends. */
void rp_ctx_set_event_branch(rp_ctx_t *ctx, const char *branch);
/* rp_ctx_emit_packed - rp_ctx_emit with data already packed: len bytes of a message
 * of type desc (borrowed; copied into the event). A handler that stores, publishes
 * and returns the same message packs it once (rp_ctx_pack) and passes the bytes
 * to all three. 0 or -1 as rp_ctx_emit. */
int rp_ctx_emit_packed(rp_ctx_t *ctx, const char *type, const char *subject,
                       const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len);
/* rp_ctx_pack - msg packed into the request's arena; its length in *len. */
uint8_t *rp_ctx_pack(rp_ctx_t *ctx, const ProtobufCMessage *msg, size_t *len);
/* rp_ctx_reply_packed - the reply body as len bytes already packed (a message of
 * the method's output type), for a handler that returns 0 with *out NULL. data is
 * borrowed and must stay valid after the handler returns (the arena does). */
void rp_ctx_reply_packed(rp_ctx_t *ctx, const uint8_t *data, size_t len);
/* rp_ctx_revoke - revoke a token (jti, valid until exp_s seconds) in this service:
 * kept in the platform table `revoked` in the request's transaction, and refused
 * by this service's verifier once the request commits. Identity calls it for every
 * token it revokes (its own methods, System ones included, then refuse it at once);
 * other services learn revocations from identity's token.revoked events. 0 or -1. */
int rp_ctx_revoke(rp_ctx_t *ctx, const char *jti, int64_t exp_s);
/* rp_ctx_client_key - let the CURVE client key public_key (Z85, 40 characters;
 * name labels it) into this service's ZAP handler (allow) or stop letting it in,
 * in the request's transaction (the table client_keys, which outlives restarts);
 * new connections see it at once. Identity calls it for the keys it registers and
 * revokes; every other service follows identity's key.* events. 0 or -1 (replied;
 * a malformed key is INTERNAL: validate it first). */
int rp_ctx_client_key(rp_ctx_t *ctx, const char *public_key, const char *name, bool allow);
/* rp_ctx_serial - a number unique to each request this process received, the same
 * when the skeleton runs a request's handler again (a group of writes rolled back
 * and replayed one by one); for handlers that count attempts in memory. */
uint64_t rp_ctx_serial(rp_ctx_t *ctx);
/* rp_ctx_set_subject - the audit subject when no event names it. */

void rp_ctx_set_subject(rp_ctx_t *ctx, const char *subject);
/* rp_ctx_set_audit_actor - the actor of this request's audit record when the
 * request carries no token (a RP_PUBLIC method: a login names the username it
 * claims). Ignored when a verified token names the caller: the token's sub is the
 * actor. Events keep the token's sub either way. Copied. */
void rp_ctx_set_audit_actor(rp_ctx_t *ctx, const char *actor);

/* ---- a record kept when the request fails ----
 *
 * A write that answers an error changes nothing: its nested transaction is
 * aborted, and with it every row, event and revocation it wrote. Some failures
 * must still leave a trace -- a failed login its audit record and the failed-
 * attempt counter that slows the next guess down. A handler that is about to
 * answer an error calls rp_ctx_keep_on_error first (or at any point before it
 * returns; the last call wins). If the request then ends with an error from its
 * handler, the skeleton, after rolling the handler's writes back:
 *   1. opens a new nested transaction of the batch's transaction;
 *   2. runs fn(ctx, arg) there (when fn is not NULL): fn writes what must last,
 *      with the ordinary API (rp_ctx_txn, rp_ctx_emit, rp_ctx_revoke...); it sees
 *      the state as it was before the handler ran, its status is clear while it
 *      runs, and it returns 0, or -1 after a *_or_reply helper;
 *   3. appends the audit record: actor, method, request id, subject (as the
 *      handler or fn set it), digest (as for a success: the method only for
 *      RP_WRITE_SECRET, never a password or token), the error's status code and
 *      outcome (at most RP_OUTCOME_MAX bytes, the rest cut; it must hold no
 *      secret);
 *   4. commits it into the batch: the error reply goes out only after the batch's
 *      one commit (one fsync), like any acknowledged write, and fn's events are
 *      published then.
 * Nothing else of the handler is kept. No idempotency record is stored for a
 * failed request, kept record or not: a retry with the same request id runs
 * again, and is a new attempt (a login counts it again). If fn or the audit
 * append fails, nothing is kept and the reply becomes fn's status (INTERNAL
 * "storage error"); a full map retries the batch. Ignored when the request
 * succeeds (its own writes say what happened), in READ methods, timers and
 * consumers. fn must do a small, bounded amount of work (a few rows): it runs
 * inside the single-threaded write path. outcome is copied; arg is borrowed and
 * must live until the reply is sent (allocate it with rp_ctx_alloc). */
#define RP_OUTCOME_MAX 200
typedef int (*rp_keep_fn)(rp_ctx_t *ctx, void *arg);
void rp_ctx_keep_on_error(rp_ctx_t *ctx, const char *outcome, rp_keep_fn fn, void *arg);

/* ---- errors (Redis's addReplyError family; each returns -1) ---- */
int rp_reply_error(rp_ctx_t *ctx, rp_code_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* rp_reply_violation - add a field violation; status becomes INVALID_ARGUMENT. May be
 * called several times; returns -1 each time. */
int rp_reply_violation(rp_ctx_t *ctx, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* rp_reply_exists - ALREADY_EXISTS naming the existing record's id. */
int rp_reply_exists(rp_ctx_t *ctx, const char *existing_id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* rp_reply_lmdb - INTERNAL for an unexpected LMDB code (MDB_MAP_FULL is handled by
 * the skeleton: the batch is retried after the map grows). */
int rp_reply_lmdb(rp_ctx_t *ctx, int rc, const char *what);
/* rp_ctx_failed - true when a status has been set (e.g. after violations). */
bool rp_ctx_failed(rp_ctx_t *ctx);

/* ---- *_or_reply validators: 0 when fine, else -1 with a field violation ---- */
int rp_ulid_or_reply(rp_ctx_t *ctx, const char *field, const char *s, rp_ulid_t *out);
int rp_required_or_reply(rp_ctx_t *ctx, const char *field, const char *s);
int rp_len_or_reply(rp_ctx_t *ctx, const char *field, const char *s, size_t min, size_t max);
int rp_range_or_reply(rp_ctx_t *ctx, const char *field, int64_t v, int64_t min, int64_t max);
/* rp_money_or_reply - m non-NULL, known currency, units in [min_units, INT64_MAX]. */
struct Rapport__V1__Money;
int rp_money_or_reply(rp_ctx_t *ctx, const char *field, const struct Rapport__V1__Money *m, int64_t min_units);
/* rp_date_or_reply - a real calendar date; *days set to days since epoch. */
struct Rapport__V1__Date;
int rp_date_or_reply(rp_ctx_t *ctx, const char *field, const struct Rapport__V1__Date *d, int32_t *days);
/* rp_date_range_or_reply - two real dates, both required, with to after from (a
 * half-open range [from, to)); days since epoch into *from_days and *to_days. */
int rp_date_range_or_reply(rp_ctx_t *ctx, const char *from_field, const struct Rapport__V1__Date *from,
                           const char *to_field, const struct Rapport__V1__Date *to,
                           int32_t *from_days, int32_t *to_days);
/* rp_page_or_reply - turn rp_page_scan's -2 into INVALID_ARGUMENT on page_token. */
int rp_page_or_reply(rp_ctx_t *ctx, int scan_rc);
/* rp_unit_or_reply - PERMISSION_DENIED unless the caller's scope covers unit: a
 * company scope covers every unit, a unit scope its own unit and those below it,
 * an own scope only its own unit. For putting a record into a unit (assigning). */
int rp_unit_or_reply(rp_ctx_t *ctx, const char *field, const char *unit);
/* rp_owner_or_reply - INVALID_ARGUMENT unless owner is a user id that fits a token's
 * sub (1..63 bytes) and unit an org path ("/hq/sales") that fits its unit (1..127
 * bytes); for a request that names an owner and their unit. */
int rp_owner_or_reply(rp_ctx_t *ctx, const char *owner_field, const char *owner,
                      const char *unit_field, const char *unit);
/* rp_scope_or_reply - NOT_FOUND (so existence does not leak) unless the caller's
 * scope sees a record of this owner and unit. */
int rp_scope_or_reply(rp_ctx_t *ctx, const char *what, const char *id, const char *owner, const char *unit);

#endif
