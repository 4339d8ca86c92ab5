/* identity_auth.c - logins and tokens: Login, Refresh, Logout, WhoAmI, Jwks,
 * ChangePassword, ResetPassword, and ActAs (a substitute's delegated token).
 *
 * Tokens (PROTOCOL.md §9): sub is the username (unique for ever: users are never
 * deleted or renamed), roles/branch/unit/limits from the user record, scope the widest
 * default scope of the roles, jti a ULID, iat = nbf = now, exp = now +
 * RAPPORT_IDENTITY_ACCESS_TTL, all from the real wall clock. A refresh token is 32
 * random bytes in base64url; only its BLAKE2b-256 hash is stored, with its family
 * (the login it descends from), so that one replay can revoke the whole family.
 *
 * A wrong password, an unknown user and a disabled user answer the same status
 * and message, after the same Argon2id work (an unknown user is checked against a
 * dummy hash). Password checks use crypto_pwhash_str_verify, hashes of refresh
 * tokens are looked up by key (the hash itself is the secret-free index), and
 * JWT signatures are libsodium's: every comparison of a secret is constant-time.
 *
 * Ending sessions: Logout revokes its own family, a replayed refresh token its
 * family (kept by the failing Refresh: rp_ctx_keep_on_error), and ChangePassword and ResetPassword every family of
 * the user (id_store_revoke_user, reasons "password_changed" and "password_reset"),
 * in the transaction of the change; all go through id_store_revoke_family.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <jansson.h>
#include "identity.h"
#include "rapport/log.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Identity__V1__LoginRequest LoginRequest;
typedef Rapport__Identity__V1__RefreshRequest RefreshRequest;
typedef Rapport__Identity__V1__LogoutReply LogoutReply;
typedef Rapport__Identity__V1__WhoAmIReply WhoAmIReply;
typedef Rapport__Identity__V1__Claims Claims;
typedef Rapport__Identity__V1__JwksReply JwksReply;
typedef Rapport__Identity__V1__ChangePasswordRequest ChangePasswordRequest;
typedef Rapport__Identity__V1__ResetPasswordRequest ResetPasswordRequest;
typedef Rapport__Identity__V1__ActAsRequest ActAsRequest;
typedef Rapport__Identity__V1__ActAsReply ActAsReply;
typedef Rapport__Identity__V1__IssuedToken IssuedToken;

int id_emit(rp_ctx_t *ctx, const char *type, const char *subject, const ProtobufCMessage *m)
{
    if (rp_ctx_emit(ctx, type, subject, m) == 0)
        return 0;
    if (!rp_ctx_failed(ctx))
        rp_reply_error(ctx, RP_INTERNAL, "cannot append event %s", type);
    return -1;
}

int id_hash_password_or_reply(rp_ctx_t *ctx, const char *password, char out[crypto_pwhash_STRBYTES])
{
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return rp_reply_error(ctx, RP_INTERNAL, "cannot hash the password");
    return 0;
}

int id_caller_or_reply(rp_ctx_t *ctx)
{
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    /* The user first: disabling also revokes the user's tokens, and "user
     * disabled" says why (it covers tokens minted offline too). */
    char name[ID_USERNAME_MAX + 1];
    StoredUser *su = NULL;
    if (id_username_fold(cl->sub, name)) {
        int rc = id_store_user_by_name(ctx, name, &su);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return -1;
        if (rc == 0 && su->user->disabled)
            return rp_reply_error(ctx, RP_UNAUTHENTICATED, "user disabled");
    }
    /* A delegated token also ends when the absent user is disabled. */
    if (cl->on_behalf_of[0] && id_username_fold(cl->on_behalf_of, name)) {
        int rc = id_store_user_by_name(ctx, name, &su);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return -1;
        if (rc == 0 && su->user->disabled)
            return rp_reply_error(ctx, RP_UNAUTHENTICATED, "user disabled");
    }
    int r = id_store_jti_revoked(ctx, cl->jti);
    if (r < 0)
        return -1;
    if (r == 1)
        return rp_reply_error(ctx, RP_UNAUTHENTICATED, "token revoked");
    return 0;
}

/* s_authenticate - check username and password through the guard. 0 with *out the
 * user, or -1 after replying (UNAUTHENTICATED, RESOURCE_EXHAUSTED when slowed down,
 * or FAILED_PRECONDITION when a change is required and allow_must_change is false).
 * Every failure keeps its audit record (what: "login", "password change") and the
 * guard's new state (identity_guard.c). The outcome is the same for an unknown
 * user, a wrong password and a disabled user, like the reply; the record's
 * subject is the user's id when the user exists (auditors may tell, the caller
 * may not). */
static int s_authenticate(rp_ctx_t *ctx, const char *username, const char *password,
                          bool allow_must_change, const char *what, StoredUser **out)
{
    char name[ID_USERNAME_MAX + 1];
    StoredUser *su = NULL;
    if (id_username_fold(username, name)) {
        int rc = id_store_user_by_name(ctx, name, &su);
        if (rc == MDB_NOTFOUND)
            su = NULL;
        else if (rc)
            return -1;
    }
    /* The audit record's actor is the name claimed; a string that is no username
     * (perhaps a password typed in the wrong field) is never recorded. */
    rp_ctx_set_audit_actor(ctx, name[0] ? name : "(invalid username)");
    if (su)
        rp_ctx_set_subject(ctx, su->user->id);
    int64_t now = rp_ctx_now(ctx);
    LoginGuard *g = NULL;
    if (name[0] && id_store_guard_get(ctx, name, &g) < 0)
        return -1;
    /* Slowed down after a few failures: refused before any password is checked (the
     * guard keeps unknown names too, so this tells nothing about who exists). */
    int64_t wait_ms = g ? id_guard_retry_after(g, now) : 0;
    if (wait_ms > 0) {
        id_guard_keep(ctx, name, rp_ctx_sprintf(ctx, "%s refused: slowed down after %u failures", what,
                                                g->failures), NULL, false, false);
        return rp_reply_error(ctx, RP_RESOURCE_EXHAUSTED, ID_MSG_SLOW, (long long)((wait_ms + 999) / 1000));
    }
    /* The same Argon2id work whether or not the user exists. */
    const char *hash = su ? su->password_hash : id_cfg.dummy_hash;
    bool ok = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0 && su;
    if ((g && g->locked_until > now) || (su && su->user->locked_until > now)) {
        id_guard_keep(ctx, name, rp_ctx_sprintf(ctx, "%s refused: account locked", what), NULL, false,
                      false);
        return rp_reply_error(ctx, RP_UNAUTHENTICATED, ID_MSG_LOCKED);
    }
    if (!ok) {
        bool locked = g && id_guard_count(g, now);
        const char *outcome = locked
            ? rp_ctx_sprintf(ctx, "%s failed: bad credentials; locked for %lld s after %lld failures", what,
                             (long long)id_cfg.lock_s, (long long)id_cfg.lock_failures)
            : rp_ctx_sprintf(ctx, "%s failed: bad credentials", what);
        id_guard_keep(ctx, name, outcome, g, false, locked);
        rp_info("identity: failed %s for %s", what, name[0] ? name : "(invalid name)");
        return rp_reply_error(ctx, RP_UNAUTHENTICATED, ID_MSG_BAD_LOGIN);
    }
    if (su->user->disabled) {
        id_guard_keep(ctx, name, rp_ctx_sprintf(ctx, "%s failed: bad credentials", what), NULL, false, false);
        return rp_reply_error(ctx, RP_UNAUTHENTICATED, ID_MSG_BAD_LOGIN);
    }
    /* The right password: the failures are forgotten, also when the login is
     * refused below for a password change. */
    bool clear = g && (g->failures || g->locked_until);
    if (!allow_must_change && su->user->must_change_password) {
        id_guard_keep(ctx, name, rp_ctx_sprintf(ctx, "%s refused: password change required", what), NULL,
                      clear, false);
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, ID_MSG_MUST_CHANGE);
    }
    if (clear && id_store_guard_put(ctx, name, NULL) < 0)
        return -1;
    *out = su;
    return 0;
}

static void s_refresh_hash(const char *token, uint8_t out[ID_HASH_BYTES])
{
    crypto_generichash(out, ID_HASH_BYTES, (const unsigned char *)token, strlen(token), NULL, 0);
}

/* s_issue - a new access token and refresh token for u in family. 0 or -1. */
static int s_issue(rp_ctx_t *ctx, const User *u, const uint8_t family[ID_FAMILY_BYTES], TokenPair **out)
{
    int64_t now_ms = id_wall_ms(), now_s = now_ms / 1000;
    rp_claims_t c;
    id_claims_of(u, u->username, &c);
    rp_ulid_new_str(now_ms, c.jti);
    c.iat = c.nbf = now_s;
    c.exp = now_s + id_cfg.access_ttl_s;
    char *jwt = rp_jwt_mint(&c, id_cfg.issuer_sk);
    if (!jwt)
        return rp_reply_error(ctx, RP_INTERNAL, "cannot sign the token");

    uint8_t raw[ID_REFRESH_BYTES], hash[ID_HASH_BYTES];
    randombytes_buf(raw, sizeof raw);
    char *refresh = rp_b64url_encode(raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    s_refresh_hash(refresh, hash);

    TokenPair *p = rp_ctx_alloc(ctx, sizeof *p);
    rapport__identity__v1__token_pair__init(p);
    p->access_token = rp_ctx_strdup(ctx, jwt);
    p->access_expires_at = c.exp * 1000;
    p->refresh_token = rp_ctx_strdup(ctx, refresh);
    p->refresh_expires_at = now_ms + id_cfg.refresh_ttl_s * 1000;
    p->token_type = (char *)"Bearer";
    free(jwt);
    sodium_memzero(refresh, strlen(refresh));
    free(refresh);

    RefreshRecord r = RAPPORT__IDENTITY__V1__REFRESH_RECORD__INIT;
    r.family.data = (uint8_t *)family;
    r.family.len = ID_FAMILY_BYTES;
    r.username = u->username;
    r.issued_at = now_ms;
    r.expires_at = p->refresh_expires_at;
    if (id_store_refresh_put(ctx, hash, &r) < 0 || id_store_access_put(ctx, family, c.jti, c.exp) < 0)
        return -1;
    *out = p;
    return 0;
}

/* ---- Login ---- */

int id_login(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const LoginRequest *in = (const LoginRequest *)in_;
    StoredUser *su = NULL;
    if (s_authenticate(ctx, in->username, in->password, false, "login", &su) < 0)
        return -1;
    rp_ulid_t family;
    char fam_str[RP_ULID_STRLEN + 1];
    rp_ctx_new_id(ctx, &family, fam_str);
    rp_ctx_set_subject(ctx, su->user->id);
    TokenPair *p = NULL;
    if (s_issue(ctx, su->user, family.b, &p) < 0)
        return -1;
    rp_info("identity: login of %s", su->user->username);
    *out = &p->base;
    return 0;
}

/* ---- Refresh ---- */

int id_refresh(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const RefreshRequest *in = (const RefreshRequest *)in_;
    if (strlen(in->refresh_token) != ID_REFRESH_STRLEN)
        return rp_reply_error(ctx, RP_UNAUTHENTICATED, ID_MSG_BAD_REFRESH);
    uint8_t hash[ID_HASH_BYTES];
    s_refresh_hash(in->refresh_token, hash);
    RefreshRecord *r = NULL;
    int rc = id_store_refresh_get(ctx, hash, &r);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_UNAUTHENTICATED, ID_MSG_BAD_REFRESH);
    if (rc)
        return -1;
    int fam_revoked = id_store_family_revoked(ctx, r->family.data);
    if (fam_revoked < 0)
        return -1;
    if (r->revoked || fam_revoked)
        return rp_reply_error(ctx, RP_UNAUTHENTICATED, "refresh token revoked");
    if (r->used) {
        /* A rotated token presented again: stolen or replayed. This request fails,
         * and keeps the revocation of the family (and its audit record). */
        rp_ctx_set_audit_actor(ctx, r->username);
        id_guard_keep_revoke_family(ctx, "refresh failed: a used refresh token was presented again; "
                                    "its session is revoked", r->family.data, r->username);
        rp_warn("identity: refresh token of %s replayed; its family is revoked", r->username);
        return rp_reply_error(ctx, RP_UNAUTHENTICATED, "refresh token already used: the session is revoked");
    }
    if (r->expires_at <= id_wall_ms())
        return rp_reply_error(ctx, RP_UNAUTHENTICATED, "refresh token expired");
    StoredUser *su = NULL;
    rc = id_store_user_by_name(ctx, r->username, &su);
    if (rc == MDB_NOTFOUND || (rc == 0 && su->user->disabled))
        return rp_reply_error(ctx, RP_UNAUTHENTICATED, ID_MSG_BAD_REFRESH);
    if (rc)
        return -1;
    if (r->issued_at < su->user->password_changed_at)
        return rp_reply_error(ctx, RP_UNAUTHENTICATED, "refresh token revoked by a password change");
    if (su->user->must_change_password)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, ID_MSG_MUST_CHANGE);
    r->used = true;
    if (id_store_refresh_put(ctx, hash, r) < 0)
        return -1;
    rp_ctx_set_subject(ctx, su->user->id);
    TokenPair *p = NULL;
    if (s_issue(ctx, su->user, r->family.data, &p) < 0)
        return -1;
    *out = &p->base;
    return 0;
}

/* ---- Logout ---- */

int id_logout(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    (void)in_;
    if (id_caller_or_reply(ctx) < 0)
        return -1;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    LogoutReply *rep = rp_ctx_alloc(ctx, sizeof *rep);
    rapport__identity__v1__logout_reply__init(rep);
    rp_ctx_set_subject(ctx, cl->sub);
    uint8_t family[ID_FAMILY_BYTES];
    int r = id_store_jti_family(ctx, cl->jti, family);
    if (r < 0)
        return -1;
    if (r == 1 && id_store_revoke_family(ctx, family, cl->sub, "logout", &rep->revoked_refresh_tokens,
                                         &rep->revoked_access_tokens) < 0)
        return -1;
    /* A token minted offline has no family: revoke it alone. */
    r = id_store_revoke_jti(ctx, cl->jti, cl->exp, cl->sub, "logout");
    if (r < 0)
        return -1;
    rep->revoked_access_tokens += (uint32_t)r;
    *out = &rep->base;
    return 0;
}

/* ---- WhoAmI ---- */

int id_whoami(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    (void)in_;
    if (id_caller_or_reply(ctx) < 0)
        return -1;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    WhoAmIReply *rep = rp_ctx_alloc(ctx, sizeof *rep);
    rapport__identity__v1__who_am_ireply__init(rep);
    Claims *c = rp_ctx_alloc(ctx, sizeof *c);
    rapport__identity__v1__claims__init(c);
    c->sub = rp_ctx_strdup(ctx, cl->sub);
    c->jti = rp_ctx_strdup(ctx, cl->jti);
    c->branch = rp_ctx_strdup(ctx, cl->branch);
    c->unit = rp_ctx_strdup(ctx, cl->unit);
    c->scope = rp_ctx_strdup(ctx, cl->scope);
    c->on_behalf_of = rp_ctx_strdup(ctx, cl->on_behalf_of);
    c->iat = cl->iat;
    c->exp = cl->exp;
    c->limit_contract_value = cl->limit_contract_value;
    c->limit_discount_bp = cl->limit_discount_bp;
    int nr = cl->n_roles < 0 ? 0 : cl->n_roles > RP_JWT_MAX_ROLES ? RP_JWT_MAX_ROLES : cl->n_roles;
    c->roles = rp_ctx_alloc(ctx, (size_t)(nr + 1) * sizeof *c->roles);
    for (int i = 0; i < nr; i++)
        c->roles[i] = rp_ctx_strdup(ctx, cl->roles[i]);
    c->n_roles = (size_t)nr;
    rep->claims = c;
    char name[ID_USERNAME_MAX + 1];
    StoredUser *su = NULL;
    if (id_username_fold(cl->sub, name)) {
        int rc = id_store_user_by_name(ctx, name, &su);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return -1;
        if (rc == 0 && id_line_manager(ctx, su->user) < 0)
            return -1;
        if (rc == 0)
            rep->user = su->user;
    }
    *out = &rep->base;
    return 0;
}

/* ---- Jwks ---- */

int id_jwks(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    (void)in_;
    /* The current key first, then the previous one during a rotation. */
    json_t *keys = json_array();
    for (int i = 0; i < (id_cfg.has_previous ? 2 : 1); i++) {
        const unsigned char *pk = i ? id_cfg.previous_pk : id_cfg.issuer_pk;
        char *x = rp_b64url_encode(pk, crypto_sign_PUBLICKEYBYTES);
        json_array_append_new(keys, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "OKP",
                                              "crv", "Ed25519", "x", x,
                                              "kid", i ? id_cfg.previous_kid : id_cfg.kid,
                                              "use", "sig", "alg", "EdDSA"));
        free(x);
    }
    json_t *doc = json_pack("{s:o}", "keys", keys);
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!s)
        return rp_reply_error(ctx, RP_INTERNAL, "cannot build the JWKS");
    JwksReply *rep = rp_ctx_alloc(ctx, sizeof *rep);
    rapport__identity__v1__jwks_reply__init(rep);
    rep->jwks = rp_ctx_strdup(ctx, s);
    free(s);
    *out = &rep->base;
    return 0;
}

/* ---- passwords ---- */

/* s_set_password - hash password into su, stamp the change. 0 or -1. */
static int s_set_password(rp_ctx_t *ctx, StoredUser *su, const char *password, bool must_change)
{
    char hash[crypto_pwhash_STRBYTES];
    if (id_hash_password_or_reply(ctx, password, hash) < 0)
        return -1;
    su->password_hash = rp_ctx_strdup(ctx, hash);
    su->user->must_change_password = must_change;
    su->user->password_changed_at = id_wall_ms();   /* compared with refresh issued_at */
    su->user->updated_at = rp_ctx_now(ctx);
    return 0;
}

int id_change_password(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ChangePasswordRequest *in = (const ChangePasswordRequest *)in_;
    char name[ID_USERNAME_MAX + 1];
    id_username_fold(in->username, name);
    const char *why = id_password_problem(name[0] ? name : in->username, in->new_password);
    if (why)
        return rp_reply_violation(ctx, "new_password", "%s", why);
    if (strcmp(in->new_password, in->old_password) == 0)
        return rp_reply_violation(ctx, "new_password", "must differ from the old password");
    StoredUser *su = NULL;
    if (s_authenticate(ctx, in->username, in->old_password, true, "password change", &su) < 0)
        return -1;
    if (s_set_password(ctx, su, in->new_password, false) < 0 || id_store_user_put(ctx, su) < 0)
        return -1;
    if (id_emit(ctx, "user.password_changed", su->user->id, &su->user->base) < 0
        || id_store_revoke_user(ctx, su->user->username, "password_changed", NULL, NULL) < 0)
        return -1;
    *out = &su->user->base;
    return 0;
}

int id_reset_password(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ResetPasswordRequest *in = (const ResetPasswordRequest *)in_;
    if (id_caller_or_reply(ctx) < 0)
        return -1;
    char name[ID_USERNAME_MAX + 1];
    if (!id_username_fold(in->username, name))
        return rp_reply_violation(ctx, "username", "is not a valid username");
    const char *why = id_password_problem(name, in->temporary_password);
    if (why)
        return rp_reply_violation(ctx, "temporary_password", "%s", why);
    StoredUser *su = NULL;
    int rc = id_store_user_by_name(ctx, name, &su);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "user %s not found", name);
    if (rc)
        return -1;
    if (s_set_password(ctx, su, in->temporary_password, true) < 0)
        return -1;
    su->user->locked_until = 0;     /* a reset also lifts a lock */
    if (id_store_guard_put(ctx, name, NULL) < 0 || id_store_user_put(ctx, su) < 0)
        return -1;
    if (id_emit(ctx, "user.password_reset", su->user->id, &su->user->base) < 0
        || id_store_revoke_user(ctx, su->user->username, "password_reset", NULL, NULL) < 0)
        return -1;
    *out = &su->user->base;
    return 0;
}

/* ---- ActAs ----
 *
 * The substitute (the caller) asks for a token on behalf of the absent user. It
 * needs a delegation naming them for that user that is active by the service
 * clock (from <= now < until, not revoked), and both users enabled; anything
 * else is PERMISSION_DENIED (the caller is who they say, but may not act so).
 * The token: sub = the substitute, on_behalf_of = the absent user, roles, branch,
 * unit and scope the absent user's, exp = now + min(access TTL, until - now) --
 * so it ends by itself with the period. No refresh token: call ActAs again. Its
 * jti is kept in the delegation, so RevokeDelegation can revoke it. */

typedef struct {
    int64_t now;
    StoredDelegation *best;     /* the active one that lasts longest */
} s_act_t;

static int s_act_pick(void *arg, StoredDelegation *sd)
{
    s_act_t *a = arg;
    const Delegation *d = sd->delegation;
    if (!d->revoked && d->from <= a->now && a->now < d->until
        && (!a->best || d->until > a->best->delegation->until))
        a->best = sd;
    return 1;
}

int id_act_as(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ActAsRequest *in = (const ActAsRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    if (id_caller_or_reply(ctx) < 0)
        return -1;
    if (cl->on_behalf_of[0])
        return rp_reply_error(ctx, RP_PERMISSION_DENIED, "a delegated token cannot act as another user");
    char absent[ID_USERNAME_MAX + 1], me[ID_USERNAME_MAX + 1];
    if (!id_username_fold(in->absent, absent))
        return rp_reply_violation(ctx, "absent", "is not a valid username");
    if (!id_username_fold(cl->sub, me))
        return rp_reply_error(ctx, RP_PERMISSION_DENIED, "no active delegation of %s to you", absent);
    StoredUser *sub = NULL, *ab = NULL;
    int rc = id_store_user_by_name(ctx, me, &sub);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return -1;
    if (rc == MDB_NOTFOUND)     /* a token minted offline: no user, no delegation */
        return rp_reply_error(ctx, RP_PERMISSION_DENIED, "no active delegation of %s to you", absent);
    s_act_t a = { rp_ctx_now(ctx), NULL };
    if (id_store_delegations_of(ctx, me, absent, s_act_pick, &a) < 0)
        return -1;
    if (!a.best)
        return rp_reply_error(ctx, RP_PERMISSION_DENIED, "no active delegation of %s to you", absent);
    rc = id_store_user_by_name(ctx, absent, &ab);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return -1;
    if (rc == MDB_NOTFOUND || ab->user->disabled)
        return rp_reply_error(ctx, RP_PERMISSION_DENIED, "user %s is disabled", absent);
    StoredDelegation *sd = a.best;
    Delegation *d = sd->delegation;

    int64_t now_ms = id_wall_ms(), now_s = now_ms / 1000;
    int64_t left_s = (d->until - a.now) / 1000;     /* whole seconds: never past until */
    if (left_s > id_cfg.access_ttl_s)
        left_s = id_cfg.access_ttl_s;
    if (left_s < 1)
        return rp_reply_error(ctx, RP_PERMISSION_DENIED, "the delegation of %s to you is ending", absent);

    /* Keep only the live tokens of the delegation, and bound them. */
    size_t n = 0;
    for (size_t i = 0; i < sd->n_tokens; i++)
        if (sd->tokens[i]->exp > now_s)
            sd->tokens[n++] = sd->tokens[i];
    sd->n_tokens = n;
    if (n >= ID_DELEG_TOKENS_MAX)
        return rp_reply_error(ctx, RP_RESOURCE_EXHAUSTED, "too many live delegated tokens; try again later");

    const User *u = ab->user;
    rp_claims_t c;
    id_claims_of(u, sub->user->username, &c);      /* the absent user's roles and limits */
    rp_strlcpy(c.on_behalf_of, u->username, sizeof c.on_behalf_of);
    rp_ulid_new_str(now_ms, c.jti);
    c.iat = c.nbf = now_s;
    c.exp = now_s + left_s;
    char *jwt = rp_jwt_mint(&c, id_cfg.issuer_sk);
    if (!jwt)
        return rp_reply_error(ctx, RP_INTERNAL, "cannot sign the token");

    IssuedToken *t = rp_ctx_alloc(ctx, sizeof *t);
    rapport__identity__v1__issued_token__init(t);
    t->jti = rp_ctx_strdup(ctx, c.jti);
    t->exp = c.exp;
    IssuedToken **v = rp_ctx_alloc(ctx, (n + 1) * sizeof *v);
    if (n)
        memcpy(v, sd->tokens, n * sizeof *v);
    v[n] = t;
    sd->tokens = v;
    sd->n_tokens = n + 1;
    rp_ctx_set_subject(ctx, d->id);
    if (id_store_delegation_put(ctx, sd) < 0) {
        free(jwt);
        return -1;
    }
    ActAsReply *rep = rp_ctx_alloc(ctx, sizeof *rep);
    rapport__identity__v1__act_as_reply__init(rep);
    rep->access_token = rp_ctx_strdup(ctx, jwt);
    rep->access_expires_at = c.exp * 1000;
    rep->token_type = (char *)"Bearer";
    rep->delegation_id = d->id;
    rep->on_behalf_of = u->username;
    free(jwt);
    rp_info("identity: %s acts as delegate of %s (delegation %s)", c.sub, c.on_behalf_of, d->id);
    *out = &rep->base;
    return 0;
}

/* ---- RevokeToken ----
 *
 * An admin revokes one token by jti: for tokens minted offline, which no account
 * change reaches. id_store_revoke_jti does the rest (the revoked set here, the
 * token.revoked event for every other service). */

#define S_MINT_TTL_MAX_S (30LL * 86400 + 60)    /* rapport token mint --ttl at most 30 d */

int id_revoke_token(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const Rapport__Identity__V1__RevokeTokenRequest *in = (const Rapport__Identity__V1__RevokeTokenRequest *)in_;
    if (id_caller_or_reply(ctx) < 0)
        return -1;
    int64_t now_s = id_wall_ms() / 1000;
    size_t n = rp_str_empty(in->jti) ? 0 : strlen(in->jti);
    bool ok = n > 0 && n < sizeof ((rp_claims_t *)0)->jti;
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)in->jti[i] > ' ' && in->jti[i] != 0x7f;
    if (!ok)
        rp_reply_violation(ctx, "jti", "must be a token id: 1..39 characters, no spaces");
    if (in->expires_at != 0 && (in->expires_at <= now_s || in->expires_at > now_s + 31LL * 86400))
        rp_reply_violation(ctx, "expires_at", "must be 0 or a time (unix s) within the next 31 days");
    if (!rp_str_empty(in->sub) && strlen(in->sub) > ID_USERNAME_MAX)
        rp_reply_violation(ctx, "sub", "must be at most 63 bytes");
    rp_len_or_reply(ctx, "reason", in->reason, 0, ID_REASON_MAX);
    if (rp_ctx_failed(ctx))
        return -1;
    int64_t until = in->expires_at ? in->expires_at : now_s + S_MINT_TTL_MAX_S;
    rp_ctx_set_subject(ctx, in->jti);
    int r = id_store_revoke_jti(ctx, in->jti, until, rp_str_empty(in->sub) ? "" : in->sub, "admin_revoked");
    if (r < 0)
        return -1;
    Rapport__Identity__V1__RevokeTokenReply *rep = rp_ctx_alloc(ctx, sizeof *rep);
    rapport__identity__v1__revoke_token_reply__init(rep);
    rep->revoked = r == 1;
    rep->until = until;
    rp_info("identity: token %s revoked by %s", in->jti, rp_actor(rp_ctx_claims(ctx)));
    *out = &rep->base;
    return 0;
}
