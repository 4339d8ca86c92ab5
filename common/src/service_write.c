/* service_write.c - one turn of the loop (DESIGN.md §4): drain up to batch_max
 * requests, answer READs at once in one read transaction, run every WRITE of the
 * batch in ONE write transaction (each in a nested transaction, with its events,
 * audit record and idempotency record), commit once, and only then reply and
 * publish. Also the PUB heartbeat and the periodic jobs, which use the same path.
 */
#include "service_internal.h"

/* ------------------------------------------------------------------ the batch */

/* s_wall_ms - real time in unix ms, never moved by the test clock. */
static int64_t
s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* s_id_ok - request ids are 1..64 characters of [A-Za-z0-9_-]. */
static bool
s_id_ok(const char *id)
{
    size_t n = 0;
    for (const char *p = id; *p; p++, n++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_'))
            return false;
    return n >= 1 && n <= S_MAX_ID;
}

/* s_authorize - verify the bearer token (cached) and the method's permission.
 * Pipelining clients send the same token on every request: the verdict on the
 * previous request of this turn is reused when the token and the second of wall
 * time are the same (rp_jwt_verify would answer the same: revocations only take
 * effect between turns), which saves its two keyed hashes. */
static int
s_authorize(rp_service_t *svc, rp_ctx_t *ctx, int64_t wall)
{
    const char *token = ctx->req->token;
    if (rp_str_empty(token))
        return rp_reply_error(ctx, RP_UNAUTHENTICATED, "a bearer token is required");
    int64_t wall_s = wall / 1000;
    size_t len = strnlen(token, RP_JWT_MAX_LEN + 1);
    if (svc->memo_len && len == svc->memo_len && wall_s == svc->memo_s
        && memcmp(token, svc->memo_token, len) == 0)
        ctx->claims = svc->memo_claims;
    else {
        const rp_claims_t *claims;
        rp_jwt_result_t jr = rp_jwt_verify(svc->verifier, token, wall, &claims);
        if (jr != RP_JWT_OK) {
            svc->memo_len = 0;
            return rp_reply_error(ctx, RP_UNAUTHENTICATED, "token rejected: %s", rp_jwt_result_name(jr));
        }
        ctx->claims = *claims;
        if (len <= RP_JWT_MAX_LEN) {
            memcpy(svc->memo_token, token, len);
            svc->memo_len = len;
            svc->memo_s = wall_s;
            svc->memo_claims = *claims;
        }
    }
    if (!rp_perm_allows(&ctx->claims, ctx->route->perm))
        return rp_reply_error(ctx, RP_PERMISSION_DENIED, "%s needs the permission %s",
                              ctx->route->full, ctx->route->perm);
    return 0;
}

/* s_prepare - decode, authenticate, authorise and validate one request.
 * 0 when it is ready to run; -1 when ctx already holds its error reply. */
static int
s_prepare(rp_service_t *svc, rp_ctx_t *ctx, const uint8_t *data, size_t len)
{
    ctx->req = rapport__v1__request__unpack(&ctx->arena.pb, len, data);
    if (!ctx->req)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "the frame is not a rapport.v1.Request");
    if (!s_id_ok(ctx->req->id)) {
        const char *bad = ctx->req->id;
        ctx->req->id = (char *) "";
        return rp_reply_violation(ctx, "id", rp_str_empty(bad)
                                  ? "is required (a ULID, the idempotency key)"
                                  : "must be 1..64 characters of A-Z a-z 0-9 - _");
    }
    /* Deadlines and token lifetimes are the client's and the issuer's wall clock:
     * they are checked against real time even when the test clock has moved. */
    int64_t wall = s_wall_ms();
    if (ctx->req->deadline && ctx->req->deadline < wall)
        return rp_reply_error(ctx, RP_DEADLINE_EXCEEDED, "the deadline passed before the request ran");
    ctx->route = svc_route_find(svc, ctx->req->method);
    if (!ctx->route) {
        rp_counter_add(svc->m_unroutable, 1);
        return rp_reply_error(ctx, RP_UNIMPLEMENTED, "unknown method \"%.100s\"", ctx->req->method);
    }
    /* A public method (a login) needs no token: its handler sees empty claims. */
    if (strcmp(ctx->route->perm, RP_PUBLIC) != 0 && s_authorize(svc, ctx, wall) != 0)
        return -1;
    ctx->in = protobuf_c_message_unpack(ctx->route->input, &ctx->arena.pb,
                                        ctx->req->body.len, ctx->req->body.data);
    if (!ctx->in)
        return rp_reply_error(ctx, RP_INVALID_ARGUMENT, "the body is not a %s", ctx->route->input->name);
    char path[256], why[256];
    if (rp_validate(ctx->in, &svc->limits, path, sizeof path, why, sizeof why) != 0)
        return rp_reply_violation(ctx, path, "%s", why);
    if (ctx->route->kind == RP_READ) {
        ctx->prepared = rp_arena_mark(&ctx->arena);
        return 0;                       /* no idempotency record, no audit: no digest */
    }
    /* A secret-bearing body (a password) is never hashed into a stored digest. */
    if (ctx->route->kind == RP_WRITE_SECRET)
        rp_idem_digest(ctx->route->full, NULL, 0, ctx->digest);
    else
        rp_idem_digest(ctx->route->full, ctx->req->body.data, ctx->req->body.len, ctx->digest);
    /* Request ids are the caller's: the same id from another user is another
     * request, and can never be answered with someone else's reply. */
    ctx->idem_key = svc_ctx_cat(ctx, 3, (const char *[]) { ctx->claims.sub, "/", ctx->req->id });
    ctx->prepared = rp_arena_mark(&ctx->arena);
    return 0;
}

/* s_run - call the handler and pack its reply. */
static void
s_run(rp_ctx_t *ctx)
{
    ProtobufCMessage *out = NULL;
    int rc = ctx->route->handler(ctx, ctx->in, &out);
    if (rc != 0 && ctx->code == RP_OK)
        rp_reply_error(ctx, RP_INTERNAL, "the handler failed without saying why");
    if (rc == 0 && ctx->code != RP_OK)
        rc = -1;                    /* violations recorded but 0 returned: still an error */
    if (rc == 0 && !out && !ctx->body) {
        /* An empty reply of the output type. */
        out = rp_ctx_alloc(ctx, ctx->route->output->sizeof_message);
        protobuf_c_message_init(ctx->route->output, out);
    }
    svc_pack_reply(ctx, rc == 0 ? out : NULL);
}

/* svc_audit_outcome - append the audit record of a write: a successful one (code
 * RP_OK, outcome NULL) or a failed one that keeps its record. */
int
svc_audit_outcome(rp_ctx_t *ctx, const char *method, int code, const char *outcome)
{
    Rapport__Sys__V1__AuditRecord rec = RAPPORT__SYS__V1__AUDIT_RECORD__INIT;
    rec.time = ctx->svc->now;
    /* No token (a public method): the actor the handler named, if any. */
    rec.actor = ctx->claims.sub[0] || !ctx->audit_actor ? ctx->claims.sub : ctx->audit_actor;
    rec.code = code;
    rec.outcome = (char *) (outcome ? outcome : "");
    rec.on_behalf_of = ctx->claims.on_behalf_of;
    rec.method = (char *) method;
    rec.request_id = ctx->req->id;
    rec.subject = ctx->subject ? ctx->subject : (char *) "";
    rec.digest.data = ctx->digest;
    rec.digest.len = RP_IDEM_DIGEST;
    return rp_audit_append(ctx->txn, rp_store_dbi(ctx->svc->store, "audit"), &ctx->svc->audit_head, &rec);
}

/* svc_audit - append the audit record of a successful write. */
int
svc_audit(rp_ctx_t *ctx, const char *method)
{
    return svc_audit_outcome(ctx, method, RP_OK, NULL);
}

/* s_idem_answered - answer ctx from its idempotency record when it has one, seen
 * from txn: the same request again gets the same reply and changes nothing; the
 * same id with another request is refused. true when ctx is answered. */
static bool
s_idem_answered(rp_service_t *svc, rp_ctx_t *ctx, MDB_txn *txn)
{
    if (ctx->route->kind == RP_WRITE_SECRET)
        return false;                   /* no record is ever kept for these */
    const uint8_t *stored;
    size_t stored_len;
    switch (rp_idem_lookup(txn, rp_store_dbi(svc->store, "idem"), ctx->idem_key, svc->now,
                           ctx->digest, &stored, &stored_len)) {
    case RP_IDEM_REPLAY:
        ctx->reply = rp_arena_alloc(&ctx->arena, stored_len);
        memcpy(ctx->reply, stored, stored_len);
        ctx->reply_len = stored_len;
        ctx->has_reply = true;
        rp_counter_add(svc->m_replays, 1);
        return true;
    case RP_IDEM_MISMATCH:
        rp_reply_error(ctx, RP_FAILED_PRECONDITION,
                       "request id %s was already used for a different request", ctx->req->id);
        svc_pack_reply(ctx, NULL);
        return true;
    case RP_IDEM_NEW:
        break;
    }
    return false;
}

/* s_apply - run the handler in ctx->txn and, when it succeeds, append its audit
 * and idempotency records there. ctx->code says how it went; on failure the
 * caller discards the transaction, and with it the events. */
static void
s_apply(rp_service_t *svc, rp_ctx_t *ctx)
{
    s_run(ctx);
    if (ctx->code != RP_OK)
        return;
    int rc = svc_audit(ctx, ctx->route->full);
    if (rc == 0 && ctx->route->kind != RP_WRITE_SECRET)
        rc = rp_idem_store(ctx->txn, rp_store_dbi(svc->store, "idem"),
                           rp_store_dbi(svc->store, "idem_exp"), ctx->idem_key, ctx->digest,
                           ctx->reply, ctx->reply_len, svc->now + svc->idem_ttl_s * 1000);
    if (rc) {
        rp_reply_lmdb(ctx, rc, "audit/idempotency record");
        svc_pack_reply(ctx, NULL);
    }
}

/* s_discard - forget the events of a write whose transaction is thrown away. */
static void
s_discard(rp_ctx_t *ctx)
{
    ctx->events = NULL;
    ctx->events_tail = &ctx->events;
    ctx->revokes = NULL;
}

/* s_keep - ctx failed and its handler asked to keep a record (rp_ctx_keep_on_error):
 * in a nested transaction of parent, run its keep function and append its audit
 * record with the error's code and outcome. The error reply stands; when the kept
 * record cannot be written, nothing is kept and the reply says so. */
static void
s_keep(rp_service_t *svc, rp_ctx_t *ctx, MDB_txn *parent)
{
    rp_audit_head_t head = svc->audit_head;
    int code = ctx->code;
    char *message = ctx->message, *existing_id = ctx->existing_id;
    size_t n_violations = ctx->n_violations;
    ctx->code = RP_OK;                  /* so that a failure of fn shows */
    ctx->message = NULL;
    int rc = mdb_txn_begin(rp_store_env(svc->store), parent, 0, &ctx->txn);
    if (rc) {
        ctx->txn = NULL;
        rp_reply_lmdb(ctx, rc, "begin nested (kept record)");
    } else {
        if (ctx->keep_fn && ctx->keep_fn(ctx, ctx->keep_arg) != 0 && !rp_ctx_failed(ctx))
            rp_reply_error(ctx, RP_INTERNAL, "the record of the failure could not be kept");
        if (!rp_ctx_failed(ctx)) {
            rc = svc_audit_outcome(ctx, ctx->route->full, code, ctx->keep_outcome);
            if (rc)
                rp_reply_lmdb(ctx, rc, "audit record (kept)");
        }
        if (!rp_ctx_failed(ctx) && (rc = mdb_txn_commit(ctx->txn)) != 0)
            rp_reply_lmdb(ctx, rc, "commit nested (kept record)");
        else if (rp_ctx_failed(ctx))
            mdb_txn_abort(ctx->txn);
        ctx->txn = NULL;
    }
    if (rp_ctx_failed(ctx)) {
        if (!ctx->map_full)             /* a full map reruns the batch: not an error */
            rp_log(RP_LOG_ERROR, rp_ctx_request_id(ctx), ctx->req->trace_id,
                   "%s failed (%s) and its record could not be kept: %s", ctx->route->full,
                   rp_code_name(code), ctx->message ? ctx->message : "error");
        s_discard(ctx);
        svc->audit_head = head;
        ctx->n_violations = 0;
        svc_pack_reply(ctx, NULL);
        return;
    }
    /* Kept: the reply already packed for the error stands. */
    ctx->code = code;
    ctx->message = message;
    ctx->existing_id = existing_id;
    ctx->n_violations = n_violations;
}

/* s_write_one - run one write in its own nested transaction of parent, so that it
 * rolls back alone. Returns -1 only when the whole batch must be retried (the map
 * is full). */
static int
s_write_one(rp_service_t *svc, rp_ctx_t *ctx, MDB_txn *parent)
{
    if (s_idem_answered(svc, ctx, parent))
        return 0;
    rp_audit_head_t head = svc->audit_head;     /* restored if this write rolls back */
    int rc = mdb_txn_begin(rp_store_env(svc->store), parent, 0, &ctx->txn);
    if (rc) {
        ctx->txn = NULL;
        rp_reply_lmdb(ctx, rc, "begin nested");
        svc_pack_reply(ctx, NULL);
        return ctx->map_full ? -1 : 0;
    }
    s_apply(svc, ctx);
    rc = ctx->code == RP_OK ? mdb_txn_commit(ctx->txn) : (mdb_txn_abort(ctx->txn), 0);
    ctx->txn = NULL;
    if (ctx->code != RP_OK || rc) {
        s_discard(ctx);
        svc->audit_head = head;
        if (rc) {
            rp_reply_lmdb(ctx, rc, "commit nested");
            svc_pack_reply(ctx, NULL);
        } else if (ctx->keep_outcome && !ctx->map_full)
            s_keep(svc, ctx, parent);
    }
    return ctx->map_full ? -1 : 0;
}

/* s_undo - forget the outcomes of writes[0..n), whose group was thrown away. */
static void
s_undo(rp_ctx_t **writes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rp_arena_release(&writes[i]->arena, writes[i]->prepared);
        svc_ctx_clear_outcome(writes[i]);
    }
}

/* s_write_group - run writes[0..n) speculatively in ONE nested transaction of
 * parent. Most writes succeed, and a nested transaction copies every page it
 * touches, so sharing one among many writes saves most of that work. Stops at the
 * first write that fails: then the group is thrown away and *failed is its index;
 * otherwise the group is committed into parent and *failed is n. Returns -1 only
 * when the batch must be retried (the map is full). */
static int
s_write_group(rp_service_t *svc, rp_ctx_t **writes, size_t n, MDB_txn *parent, size_t *failed)
{
    rp_audit_head_t head = svc->audit_head;
    MDB_txn *group = NULL;
    *failed = 0;
    if (mdb_txn_begin(rp_store_env(svc->store), parent, 0, &group) != 0)
        return 0;
    bool full = false;
    size_t i;
    for (i = 0; i < n; i++) {
        rp_ctx_t *ctx = writes[i];
        if (s_idem_answered(svc, ctx, group))
            continue;
        ctx->txn = group;
        s_apply(svc, ctx);
        ctx->txn = NULL;
        full = ctx->map_full;
        if (ctx->code != RP_OK)
            break;
    }
    if (i == n) {
        int rc = mdb_txn_commit(group);
        if (rc == 0) {
            *failed = n;
            return 0;
        }
        full = rc == MDB_MAP_FULL;
        i = 0;                  /* the commit failed: no write of the group is known good */
    } else
        mdb_txn_abort(group);
    svc->audit_head = head;
    s_undo(writes, i < n ? i + 1 : n);
    *failed = i;
    return full ? -1 : 0;
}

/* s_write_all - run writes[0..n) so that each has the outcome it would have in a
 * nested transaction of its own, in order. They run in groups (s_write_group);
 * when a write fails, the writes before it run again as a group (they succeeded
 * on the same state, so they succeed again), the failing one runs alone in its
 * own nested transaction (s_write_one) to record its error, and the group goes on
 * after it. A batch with one bad write costs one extra pass over the writes
 * before it, not one nested transaction per write. -1 when the map is full. */
static int
s_write_all(rp_service_t *svc, rp_ctx_t **writes, size_t n, MDB_txn *parent)
{
    size_t i = 0;
    while (i < n) {
        size_t bad;
        if (s_write_group(svc, writes + i, n - i, parent, &bad) != 0)
            return -1;
        if (bad == n - i)
            return 0;
        if (bad > 0) {
            /* Again without the failing write. Should it fail now after all (a
             * handler that depends on more than the state), run each alone. */
            size_t again;
            if (s_write_group(svc, writes + i, bad, parent, &again) != 0)
                return -1;
            if (again != bad) {
                for (size_t k = i; k < i + bad; k++)
                    if (s_write_one(svc, writes[k], parent) != 0)
                        return -1;
            }
        }
        if (s_write_one(svc, writes[i + bad], parent) != 0)
            return -1;
        i += bad + 1;
    }
    return 0;
}

/* svc_publish - a request committed: refuse the tokens it revoked, and send its
 * events on the PUB socket. */
void
svc_publish(rp_service_t *svc, rp_ctx_t *ctx)
{
    for (s_pending_revoke_t *r = ctx->revokes; r; r = r->next)
        rp_jwt_verifier_revoke(svc->verifier, r->jti, r->exp_s);
    void *sock = zsock_resolve(svc->pub);
    for (s_pending_event_t *e = ctx->events; e; e = e->next) {
        zmq_send(sock, e->type, strlen(e->type), ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(sock, e->data, e->len, ZMQ_DONTWAIT);
        rp_counter_add(svc->m_events, 1);
    }
}

/* s_run_writes - the write path: one transaction, one commit, then replies. */
static void
s_run_writes(rp_service_t *svc, rp_ctx_t **writes, size_t n)
{
    MDB_env *env = rp_store_env(svc->store);
    for (;;) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(env, NULL, 0, &txn);
        if (rc) {
            rp_error("write path: begin: %s", mdb_strerror(rc));
            for (size_t i = 0; i < n; i++) {
                rp_reply_error(writes[i], RP_UNAVAILABLE, "storage unavailable");
                svc_pack_reply(writes[i], NULL);
            }
            return;
        }
        bool full = s_write_all(svc, writes, n, txn) != 0;
        uint64_t last = 0;
        if (!full) {
            last = rp_events_last_seq(txn, rp_store_dbi(svc->store, "events"));
            int64_t t0 = rp_clock_mono_us();
            rc = mdb_txn_commit(txn);       /* frees txn, also on failure */
            rp_histogram_observe(svc->m_commit_us, rp_clock_mono_us() - t0);
            /* The commit itself may need pages (the free list): grow and rerun. */
            full = rc == MDB_MAP_FULL;
            if (rc && !full) {
                svc->audit_head.known = false;
                rp_error("write path: commit: %s", mdb_strerror(rc));
                for (size_t i = 0; i < n; i++) {
                    writes[i]->events = NULL;
                    rp_arena_release(&writes[i]->arena, writes[i]->prepared);
                    svc_ctx_clear_outcome(writes[i]);
                    rp_reply_error(writes[i], RP_UNAVAILABLE, "the commit failed; nothing was written");
                    svc_pack_reply(writes[i], NULL);
                }
                return;
            }
        } else
            mdb_txn_abort(txn);
        if (full) {
            /* Throw the batch away, grow the map, and run it again from scratch. */
            svc->audit_head.known = false;
            if (rp_store_grow(svc->store) != 0) {
                for (size_t i = 0; i < n; i++) {
                    rp_arena_release(&writes[i]->arena, writes[i]->prepared);
                    svc_ctx_clear_outcome(writes[i]);
                    rp_reply_error(writes[i], RP_RESOURCE_EXHAUSTED, "the database cannot grow");
                    svc_pack_reply(writes[i], NULL);
                }
                return;
            }
            rp_gauge_set(svc->m_map_size, (int64_t) rp_store_map_size(svc->store));
            for (size_t i = 0; i < n; i++) {
                rp_arena_release(&writes[i]->arena, writes[i]->prepared);
                svc_ctx_clear_outcome(writes[i]);
            }
            continue;
        }
        rp_counter_add(svc->m_commits, 1);
        svc->last_seq = last;
        rp_gauge_set(svc->m_last_seq, (int64_t) last);
        return;
    }
}

/* s_recv_one - read one request (routing id + one frame) into ctx. 1 when a
 * request was read, 0 when none is waiting, -1 for a malformed multi-frame one
 * (ctx holds its error reply). */
static int
s_recv_one(rp_service_t *svc, rp_ctx_t *ctx, zmq_msg_t *msg)
{
    void *sock = zsock_resolve(svc->router);
    int n = zmq_recv(sock, ctx->identity, sizeof ctx->identity, ZMQ_DONTWAIT);
    if (n < 0)
        return 0;
    ctx->identity_len = (size_t) n > sizeof ctx->identity ? sizeof ctx->identity : (size_t) n;
    ctx->start_us = rp_clock_mono_us();
    ctx->serial = ++svc->next_serial;
    int more = 0;
    size_t more_len = sizeof more;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len);
    if (!more)
        return 0;                       /* a routing id alone: nothing to answer */
    if (zmq_msg_recv(msg, sock, 0) < 0)
        return 0;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len);
    if (more) {
        /* One request is one frame: swallow the rest and say so. */
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        while (more && zmq_msg_recv(&extra, sock, 0) >= 0)
            zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &more_len);
        zmq_msg_close(&extra);
        rp_reply_error(ctx, RP_INVALID_ARGUMENT, "a request is exactly one frame");
        return -1;
    }
    return 1;
}

/* svc_batch - one turn of the loop: drain, read, write, commit, reply, publish. */
void
svc_batch(rp_service_t *svc)
{
    rp_ctx_t **writes = svc->batch + svc->batch_max;   /* second half: write list */
    size_t n = 0, n_writes = 0;
    MDB_txn *rtxn = NULL;
    svc->now = rp_clock_now_ms();
    svc->memo_len = 0;                  /* revocations may have changed since the last turn */

    zmq_msg_t msg;
    zmq_msg_init(&msg);
    int64_t gather_until = 0;
    while (n < (size_t) svc->batch_max) {
        rp_ctx_t *ctx = svc->batch[n];
        svc_ctx_reset(ctx);
        int got = s_recv_one(svc, ctx, &msg);
        if (got == 0) {
            /* Group commit: when the last batch held several writes, clients are
             * pipelining; wait a moment for as many, so one fsync serves them all.
             * A lone client (last batch of one) never waits. */
            if (n_writes == 0 || n_writes >= svc->gather_target || svc->gather_us == 0)
                break;
            int64_t now = rp_clock_mono_us();
            if (!gather_until)
                gather_until = now + svc->gather_us;
            if (now >= gather_until)
                break;
            zmq_pollitem_t item = { zsock_resolve(svc->router), 0, ZMQ_POLLIN, 0 };
            long ms = (long) ((gather_until - now + 999) / 1000);
            if (zmq_poll(&item, 1, ms) <= 0 || zsys_interrupted)
                break;
            continue;
        }
        n++;
        if (got < 0 || s_prepare(svc, ctx, zmq_msg_data(&msg), zmq_msg_size(&msg)) != 0) {
            svc_pack_reply(ctx, NULL);
            continue;
        }
        if (ctx->route->kind != RP_READ) {
            ctx->queued = true;
            writes[n_writes++] = ctx;
            continue;
        }
        /* READ: at once, in the batch's read transaction. */
        if (!rtxn && mdb_txn_begin(rp_store_env(svc->store), NULL, MDB_RDONLY, &rtxn) != 0) {
            rtxn = NULL;
            rp_reply_error(ctx, RP_UNAVAILABLE, "storage unavailable");
            svc_pack_reply(ctx, NULL);
            continue;
        }
        ctx->txn = rtxn;
        s_run(ctx);
        ctx->txn = NULL;
    }
    zmq_msg_close(&msg);
    if (rtxn)
        mdb_txn_abort(rtxn);
    if (n == 0)
        return;
    rp_counter_add(svc->m_batches, 1);
    rp_counter_add(svc->m_batched, n);
    /* Reads answer at once; writes wait for their commit. */
    for (size_t i = 0; i < n; i++)
        if (!svc->batch[i]->queued)
            svc_send(svc, svc->batch[i]);
    svc->gather_target = n_writes;
    if (n_writes) {
        s_run_writes(svc, writes, n_writes);
        for (size_t i = 0; i < n_writes; i++)
            svc_send(svc, writes[i]);
        for (size_t i = 0; i < n_writes; i++)
            svc_publish(svc, writes[i]);
    }
}

/* svc_heartbeat - tell subscribers the last committed seq, so they notice a lost tail. */
void
svc_heartbeat(rp_service_t *svc)
{
    Rapport__V1__Heartbeat hb = RAPPORT__V1__HEARTBEAT__INIT;
    hb.service = (char *) svc->def->name;
    hb.last_seq = svc->last_seq;
    hb.time = rp_clock_now_ms();
    uint8_t buf[128];
    size_t len = rapport__v1__heartbeat__pack(&hb, buf);
    void *sock = zsock_resolve(svc->pub);
    zmq_send(sock, S_HEARTBEAT_TYPE, strlen(S_HEARTBEAT_TYPE), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(sock, buf, len, ZMQ_DONTWAIT);
}

/* svc_run_job - one periodic job (or the idempotency sweep) through the write path. */
void
svc_run_job(rp_service_t *svc, const char *name, int (*run)(rp_ctx_t *ctx))
{
    rp_ctx_t *ctx = svc->batch[0];
    for (int attempt = 0; attempt < 8; attempt++) {
        svc_ctx_reset(ctx);
        svc->now = rp_clock_now_ms();
        rp_strlcpy(ctx->claims.sub, "system", sizeof ctx->claims.sub);
        rp_strlcpy(ctx->claims.scope, "company", sizeof ctx->claims.scope);
        ctx->req = rp_ctx_alloc(ctx, sizeof *ctx->req);
        rapport__v1__request__init(ctx->req);
        ctx->req->id = rp_ctx_sprintf(ctx, "job-%s", name);
        MDB_txn *txn;
        int rc = mdb_txn_begin(rp_store_env(svc->store), NULL, 0, &txn);
        if (rc) {
            rp_error("job %s: begin: %s", name, mdb_strerror(rc));
            return;
        }
        ctx->txn = txn;
        rc = run(ctx);
        if (rc == 0 && ctx->code == RP_OK && ctx->events) {
            /* Jobs that change state leave an audit record like any write. */
            char *method = rp_ctx_sprintf(ctx, "job/%s", name);
            rp_idem_digest(method, NULL, 0, ctx->digest);
            rc = svc_audit(ctx, method);
            if (rc)
                rp_reply_lmdb(ctx, rc, "job audit");
        }
        if (rc == 0 && ctx->code == RP_OK) {
            uint64_t last = rp_events_last_seq(txn, rp_store_dbi(svc->store, "events"));
            rc = mdb_txn_commit(txn);
            if (rc == 0) {
                svc->last_seq = last;
                svc_publish(svc, ctx);
                svc_ctx_reset(ctx);
                return;
            }
            svc->audit_head.known = false;
            if (rc == MDB_MAP_FULL && rp_store_grow(svc->store) == 0)
                continue;
            rp_error("job %s: commit: %s", name, mdb_strerror(rc));
            svc_ctx_reset(ctx);
            return;
        }
        mdb_txn_abort(txn);
        svc->audit_head.known = false;
        if (ctx->map_full && rp_store_grow(svc->store) == 0)
            continue;
        rp_warn("job %s failed: %s", name, ctx->message ? ctx->message : "error");
        svc_ctx_reset(ctx);
        return;
    }
}

int
svc_job_idem_sweep(rp_ctx_t *ctx)
{
    rp_store_t *st = ctx->svc->store;
    int n = rp_idem_expire(ctx->txn, rp_store_dbi(st, "idem"), rp_store_dbi(st, "idem_exp"),
                           ctx->svc->now, 10000);
    if (n < 0)
        return rp_reply_lmdb(ctx, MDB_PANIC, "idempotency sweep");
    return svc_revocations_sweep(ctx);
}

