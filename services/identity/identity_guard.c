/* identity_guard.c - the brute-force guard, and what a failed login leaves behind.
 *
 * A failed request rolls back alone (DESIGN.md §4), so a failed login keeps its
 * trace through the skeleton's rp_ctx_keep_on_error (service.h): after the
 * rollback, in the same group commit, before the error reply goes out, the
 * skeleton writes the failure's audit record (actor: the username claimed; the
 * outcome, e.g. "login failed: bad credentials"; never the password) and runs the
 * keep function here, which stores the new state of the guard. The state lives in
 * the table login_guard (identity_store.c), so it survives a restart or kill -9,
 * for unknown names too.
 *
 * The rules, per folded username (known or not, so that neither the slow-down nor
 * a lock-out tells whether a user exists):
 *  - slow-down: once RAPPORT_IDENTITY_SLOW_AFTER failures (3) are counted within
 *    the window, the next attempt must wait 2 s after the last failure, then 4 s,
 *    8 s, ... (at most the lock time); an earlier attempt is refused before any
 *    password is checked, audited ("login refused: slowed down") and not counted;
 *  - lock: RAPPORT_IDENTITY_LOCK_FAILURES failures within
 *    RAPPORT_IDENTITY_LOCK_WINDOW_S lock the name for RAPPORT_IDENTITY_LOCK_S, at
 *    once; for an existing user the failure that locks also stores locked_until in
 *    the user record and emits user.locked. While locked every attempt is refused
 *    (after the same password work), audited, and not counted;
 *  - a good password (a login, a password change) or a ResetPassword clears it.
 * A handler may run twice for one request (a group of writes rolled back and rerun,
 * DESIGN.md §4): the first run's writes were rolled back, so the rerun reads the
 * same state and counts the failure once. A retry with the same request id is
 * another attempt: failed requests keep no idempotency record.
 *
 * A replayed refresh token revokes its whole family the same way: the failing
 * Refresh keeps the revocation (token.revoked for each live access token).
 */
#include <stdio.h>
#include <string.h>
#include "identity.h"
#include "rapport/log.h"
#include "rapport/util.h"

int64_t id_guard_retry_after(const LoginGuard *g, int64_t now_ms)
{
    if (id_cfg.slow_after <= 0 || g->failures < (uint32_t)id_cfg.slow_after
        || now_ms - g->window_start >= id_cfg.lock_window_s * 1000)
        return 0;
    uint32_t shift = g->failures - (uint32_t)id_cfg.slow_after + 1;
    int64_t wait_ms = (int64_t)1000 << (shift > 20 ? 20 : shift);
    if (wait_ms > id_cfg.lock_s * 1000)
        wait_ms = id_cfg.lock_s * 1000;
    int64_t until = g->last_fail_ms + wait_ms;
    return until > now_ms ? until - now_ms : 0;
}

bool id_guard_count(LoginGuard *g, int64_t now_ms)
{
    if (g->failures == 0 || now_ms - g->window_start >= id_cfg.lock_window_s * 1000) {
        g->failures = 0;
        g->window_start = now_ms;
    }
    g->failures++;
    g->last_fail_ms = now_ms;
    if (g->failures < (uint32_t)id_cfg.lock_failures)
        return false;
    g->locked_until = now_ms + id_cfg.lock_s * 1000;
    g->failures = 0;            /* a fresh count once the lock ends */
    return true;
}

typedef struct {
    char name[ID_USERNAME_MAX + 1];
    LoginGuard *guard;          /* the new state; NULL: leave it */
    bool clear;                 /* delete the state (a good password) */
    bool lock_user;             /* the user record gets guard->locked_until */
} s_keep_login_t;

/* s_keep_login - the keep function of a failed login (runs after the rollback). */
static int s_keep_login(rp_ctx_t *ctx, void *arg)
{
    const s_keep_login_t *k = arg;
    if ((k->guard || k->clear) && id_store_guard_put(ctx, k->name, k->clear ? NULL : k->guard) < 0)
        return -1;
    if (!k->lock_user)
        return 0;
    StoredUser *su = NULL;
    int rc = id_store_user_by_name(ctx, k->name, &su);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return -1;
    su->user->locked_until = k->guard->locked_until;
    su->user->updated_at = rp_ctx_now(ctx);
    if (id_store_user_put(ctx, su) < 0)
        return -1;
    Rapport__Identity__V1__UserLocked ev = RAPPORT__IDENTITY__V1__USER_LOCKED__INIT;
    ev.username = su->user->username;
    ev.locked_until = k->guard->locked_until;
    ev.failures = (uint32_t)id_cfg.lock_failures;
    rp_warn("identity: account %s locked after %lld failed attempts", k->name,
            (long long)id_cfg.lock_failures);
    return id_emit(ctx, "user.locked", su->user->id, &ev.base);
}

void id_guard_keep(rp_ctx_t *ctx, const char *name, const char *outcome, LoginGuard *guard,
                   bool clear, bool lock_user)
{
    s_keep_login_t *k = rp_ctx_alloc(ctx, sizeof *k);
    rp_strlcpy(k->name, name, sizeof k->name);
    k->guard = name[0] ? guard : NULL;
    k->clear = name[0] && clear;
    k->lock_user = k->guard && lock_user;
    rp_ctx_keep_on_error(ctx, outcome, s_keep_login, k);
}

typedef struct {
    uint8_t family[ID_FAMILY_BYTES];
    char sub[ID_USERNAME_MAX + 1];
} s_keep_family_t;

static int s_keep_family(rp_ctx_t *ctx, void *arg)
{
    const s_keep_family_t *f = arg;
    return id_store_revoke_family(ctx, f->family, f->sub, "refresh_replay", NULL, NULL);
}

void id_guard_keep_revoke_family(rp_ctx_t *ctx, const char *outcome,
                                 const uint8_t family[ID_FAMILY_BYTES], const char *sub)
{
    s_keep_family_t *f = rp_ctx_alloc(ctx, sizeof *f);
    memcpy(f->family, family, ID_FAMILY_BYTES);
    rp_strlcpy(f->sub, sub ? sub : "", sizeof f->sub);
    rp_ctx_keep_on_error(ctx, outcome, s_keep_family, f);
}
