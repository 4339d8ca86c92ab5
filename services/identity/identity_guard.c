/* identity_guard.c - the brute-force guard and the work failed requests leave.
 *
 * A failed request rolls back alone, so what a failure must leave behind lives
 * here, in the process, until the timer job id_guard_flush writes it:
 *  - failed attempts per username (known or not, so that neither the slow-down nor
 *    a lock-out tells whether a user exists). First it slows down: once
 *    RAPPORT_IDENTITY_SLOW_AFTER failures (3) are counted within the window, the
 *    next attempt must wait 2 s after the last failure, then 4 s, 8 s, ... (at
 *    most the lock time); earlier attempts are refused before any password is
 *    checked and are not counted. Then it locks: RAPPORT_IDENTITY_LOCK_FAILURES failures within
 *    RAPPORT_IDENTITY_LOCK_WINDOW_S lock the name for RAPPORT_IDENTITY_LOCK_S, at
 *    once; for an existing user the flush also stores locked_until in the user
 *    record (it survives a restart) and emits user.locked (audited);
 *  - families whose used refresh token was presented again: refused at once, and
 *    revoked in the store by the flush (token.revoked for each live access token).
 * A handler may run twice for one request (a group of writes rolled back and
 * rerun, DESIGN.md §4): failures remember the last attempts they counted, by
 * rp_ctx_serial (never by the client's request id, which a guesser could reuse).
 * The flush is idempotent: an item stays queued until a later flush sees it
 * applied in the store, so a rolled-back or retried job loses nothing.
 * The table is bounded (S_MAX names); when full, the stalest unlocked entry goes.
 * A lock lifted (ResetPassword) before the flush wrote it stays queued, marked
 * lifted: it no longer refuses logins, and the flush still records it (user.locked,
 * StoredUser.lock_recorded_until) without locking the user record again.
 */
#include <string.h>
#include "identity.h"
#include "rapport/log.h"
#include "rapport/util.h"

#define S_MAX       8192
#define S_REQS      4
#define S_PENDING   256

typedef struct {
    char name[ID_USERNAME_MAX + 1];     /* "" = free slot */
    uint32_t failures;
    int64_t window_start, last_ms, locked_until;
    int64_t last_fail_ms;               /* when the last counted failure came */
    char reqs[S_REQS][65];
    unsigned next_req;
    char lock_req[65];                  /* the request whose failure locked it */
    bool lock_pending;                  /* write the lock into the user record */
    bool lifted;                        /* reset while pending: record, do not enforce */
} s_entry_t;

typedef struct {
    uint8_t family[ID_FAMILY_BYTES];
    char sub[ID_USERNAME_MAX + 1];
} s_family_t;

static s_entry_t s_table[S_MAX];
static s_family_t s_families[S_PENDING];
static size_t s_n_families;

static s_entry_t *s_find(const char *name)
{
    for (size_t i = 0; i < S_MAX; i++)
        if (s_table[i].name[0] && strcmp(s_table[i].name, name) == 0)
            return &s_table[i];
    return NULL;
}

/* s_slot - the entry of name, making one (evicting the stalest unlocked entry). */
static s_entry_t *s_slot(const char *name, int64_t now_ms)
{
    s_entry_t *e = s_find(name), *victim = NULL;
    if (e)
        return e;
    for (size_t i = 0; i < S_MAX; i++) {
        s_entry_t *x = &s_table[i];
        if (!x->name[0]) {
            victim = x;
            break;
        }
        if (x->lock_pending || x->locked_until > now_ms)
            continue;
        if (!victim || x->last_ms < victim->last_ms)
            victim = x;
    }
    if (!victim) {              /* every entry is locked: drop the oldest lock */
        victim = &s_table[0];
        for (size_t i = 1; i < S_MAX; i++)
            if (!s_table[i].lock_pending && s_table[i].locked_until < victim->locked_until)
                victim = &s_table[i];
    }
    memset(victim, 0, sizeof *victim);
    rp_strlcpy(victim->name, name, sizeof victim->name);
    return victim;
}

int64_t id_guard_locked_until(const char *username, const char *req_id, int64_t now_ms)
{
    const s_entry_t *e = s_find(username);
    if (!e || e->lifted || e->locked_until <= now_ms)
        return 0;
    if (req_id && strcmp(e->lock_req, req_id) == 0)
        return 0;               /* a rerun of the failure that locked it answers as it did */
    return e->locked_until;
}

int64_t id_guard_retry_after(const char *username, const char *req_id, int64_t now_ms)
{
    const s_entry_t *e = s_find(username);
    if (!e || id_cfg.slow_after <= 0 || e->lifted || e->failures < (uint32_t)id_cfg.slow_after
        || now_ms - e->window_start >= id_cfg.lock_window_s * 1000)
        return 0;
    for (int i = 0; i < S_REQS; i++)
        if (req_id && e->reqs[i][0] && strcmp(e->reqs[i], req_id) == 0)
            return 0;           /* a rerun of a counted failure answers as it did */
    uint32_t shift = e->failures - (uint32_t)id_cfg.slow_after + 1;
    int64_t wait_ms = (int64_t)1000 << (shift > 20 ? 20 : shift);
    if (wait_ms > id_cfg.lock_s * 1000)
        wait_ms = id_cfg.lock_s * 1000;
    int64_t until = e->last_fail_ms + wait_ms;
    return until > now_ms ? until - now_ms : 0;
}

bool id_guard_fail(const char *username, const char *req_id, int64_t now_ms, bool exists)
{
    if (!username[0])
        return false;
    s_entry_t *e = s_slot(username, now_ms);
    for (int i = 0; i < S_REQS; i++)
        if (req_id && e->reqs[i][0] && strcmp(e->reqs[i], req_id) == 0)
            return false;       /* a rerun of a request already counted */
    if (req_id) {
        rp_strlcpy(e->reqs[e->next_req % S_REQS], req_id, sizeof e->reqs[0]);
        e->next_req++;
    }
    e->last_ms = now_ms;
    if (e->locked_until > now_ms && !e->lifted)
        return false;
    if (e->failures == 0 || now_ms - e->window_start >= id_cfg.lock_window_s * 1000) {
        e->failures = 0;
        e->window_start = now_ms;
    }
    e->failures++;
    e->last_fail_ms = now_ms;
    if (e->failures < (uint32_t)id_cfg.lock_failures)
        return false;
    e->locked_until = now_ms + id_cfg.lock_s * 1000;
    rp_strlcpy(e->lock_req, req_id ? req_id : "", sizeof e->lock_req);
    e->failures = 0;            /* a fresh count once the lock ends */
    e->lock_pending = exists || e->lock_pending;    /* a lifted lock still pending: this one records it */
    e->lifted = false;
    rp_warn("identity: account %s locked after %lld failed attempts", username,
            (long long)id_cfg.lock_failures);
    return true;
}

void id_guard_reset(const char *username)
{
    s_entry_t *e = s_find(username);
    if (e && !e->lock_pending)
        memset(e, 0, sizeof *e);
    else if (e) {               /* not flushed yet: keep locked_until so it is recorded */
        e->failures = 0;
        e->lifted = true;
    }
}

void id_guard_revoke_family(const uint8_t family[ID_FAMILY_BYTES], const char *sub)
{
    if (id_guard_family_pending(family))
        return;
    if (s_n_families == S_PENDING) {
        rp_error("identity: revocation queue full; family revocation delayed");
        return;     /* the token stays refused: it is used, and a new replay queues again */
    }
    s_family_t *f = &s_families[s_n_families++];
    memcpy(f->family, family, ID_FAMILY_BYTES);
    rp_strlcpy(f->sub, sub ? sub : "", sizeof f->sub);
}

bool id_guard_family_pending(const uint8_t family[ID_FAMILY_BYTES])
{
    for (size_t i = 0; i < s_n_families; i++)
        if (memcmp(s_families[i].family, family, ID_FAMILY_BYTES) == 0)
            return true;
    return false;
}

/* s_flush_lock - store e's lock in its user record (once). 1 done, 0 to retry, -1 failed. */
static int s_flush_lock(rp_ctx_t *ctx, s_entry_t *e)
{
    StoredUser *su = NULL;
    int rc = id_store_user_by_name(ctx, e->name, &su);
    if (rc == MDB_NOTFOUND)
        return 1;
    if (rc)
        return -1;
    if (su->user->locked_until >= e->locked_until || su->lock_recorded_until >= e->locked_until)
        return 1;               /* written by an earlier flush */
    su->lock_recorded_until = e->locked_until;
    if (!e->lifted)             /* a lock lifted by a reset is recorded, not applied */
        su->user->locked_until = e->locked_until;
    su->user->updated_at = rp_ctx_now(ctx);
    if (id_store_user_put(ctx, su) < 0)
        return -1;
    Rapport__Identity__V1__UserLocked ev = RAPPORT__IDENTITY__V1__USER_LOCKED__INIT;
    ev.username = e->name;
    ev.locked_until = e->locked_until;
    ev.failures = (uint32_t)id_cfg.lock_failures;
    if (id_emit(ctx, "user.locked", su->user->id, &ev.base) < 0)
        return -1;
    return 0;
}

int id_guard_flush(rp_ctx_t *ctx)
{
    for (size_t i = 0; i < S_MAX; i++) {
        s_entry_t *e = &s_table[i];
        if (!e->name[0] || !e->lock_pending)
            continue;
        int r = s_flush_lock(ctx, e);
        if (r < 0)
            return -1;
        if (r == 1) {
            e->lock_pending = false;
            if (e->lifted)      /* recorded; nothing left to enforce */
                memset(e, 0, sizeof *e);
        }
    }
    for (size_t i = 0; i < s_n_families;) {
        s_family_t *f = &s_families[i];
        int r = id_store_family_revoked(ctx, f->family);
        if (r < 0)
            return -1;
        if (r == 1) {           /* committed by an earlier flush: done */
            s_families[i] = s_families[--s_n_families];
            continue;
        }
        if (id_store_revoke_family(ctx, f->family, f->sub, "refresh_replay", NULL, NULL) < 0)
            return -1;
        i++;
    }
    return 0;
}
