/* identity.h - private types and functions of rapport-identity.
 *
 * The service is split Postfix-style: main.c (the definition, settings and the
 * issuer key), identity_handlers.c (user management), identity_auth.c (logins,
 * tokens, passwords), identity_policy.c (pure rules: usernames, password policy,
 * who may grant which role), identity_org.c (the org tree and personnel orders),
 * identity_keys.c (registered CURVE client keys),
 * identity_guard.c (the brute-force guard and what a failed login keeps) and
 * identity_store.c, the only file that touches the tables.
 *
 * A request that fails rolls back alone (DESIGN.md §4). What a failure must
 * leave behind -- its audit record, the failed-attempt count and lock of the
 * name, a user.locked event, the revocation of a replayed refresh token's family
 * -- is kept through the skeleton's rp_ctx_keep_on_error, written in the same
 * commit as everything else before the error reply goes out (identity_guard.c).
 *
 * Clocks: lock-out windows use the service clock (rp_ctx_now, moved by tests);
 * token and refresh-token lifetimes use the real wall clock (id_wall_ms), because
 * every service checks tokens against real time.
 */
#ifndef RAPPORT_IDENTITY_H
#define RAPPORT_IDENTITY_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <sodium.h>
#include "rapport/service.h"
#include "rapport/store.h"
#include "rapport/identity/v1/identity.pb-c.h"
#include "rapport/identity/v1/store.pb-c.h"

typedef Rapport__Identity__V1__User User;
typedef Rapport__Identity__V1__StoredUser StoredUser;
typedef Rapport__Identity__V1__LoginGuard LoginGuard;
typedef Rapport__Identity__V1__RefreshRecord RefreshRecord;
typedef Rapport__Identity__V1__TokenPair TokenPair;
typedef Rapport__Identity__V1__Delegation Delegation;
typedef Rapport__Identity__V1__StoredDelegation StoredDelegation;
typedef Rapport__Identity__V1__Unit Unit;
typedef Rapport__Identity__V1__OrgOrder OrgOrder;
typedef Rapport__Identity__V1__ClientKey ClientKey;

#define ID_USERNAME_MAX     63
#define ID_DISPLAY_MAX      200
#define ID_BRANCH_MAX       63
#define ID_UNIT_MAX         127
#define ID_REASON_MAX       500
#define ID_PASSWORD_MIN     12
#define ID_PASSWORD_MAX     256
#define ID_PAGE_DEFAULT     50
#define ID_PAGE_MAX         500
#define ID_REFRESH_BYTES    32
#define ID_REFRESH_STRLEN   43          /* base64url of 32 bytes, no padding */
#define ID_HASH_BYTES       32          /* BLAKE2b-256 of a refresh token */
#define ID_FAMILY_BYTES     RP_ULID_LEN
#define ID_DELEG_MAX_MS     (366LL * 86400 * 1000)  /* longest delegation period */
#define ID_DELEG_TOKENS_MAX 256         /* live ActAs tokens kept per delegation */
#define ID_LIMIT_VALUE_MAX  1000000000000000LL  /* 10^15 minor units (the JWT's bound) */
#define ID_LIMIT_BP_MAX     10000       /* 100 % */

#define ID_MSG_BAD_LOGIN    "invalid username or password"
#define ID_MSG_LOCKED       "account locked, try again later"
#define ID_MSG_SLOW         "too many failed attempts, try again in %lld s"
#define ID_MSG_MUST_CHANGE  "password change required"
#define ID_MSG_BAD_REFRESH  "invalid refresh token"

/* ---- main.c: settings and keys, read once at start ---- */

typedef struct {
    int64_t access_ttl_s;           /* RAPPORT_IDENTITY_ACCESS_TTL, 900 */
    int64_t refresh_ttl_s;          /* RAPPORT_IDENTITY_REFRESH_TTL, 604800 */
    int64_t lock_failures;          /* RAPPORT_IDENTITY_LOCK_FAILURES, 5 */
    int64_t lock_window_s;          /* RAPPORT_IDENTITY_LOCK_WINDOW_S, 900 */
    int64_t lock_s;                 /* RAPPORT_IDENTITY_LOCK_S, 900 */
    int64_t slow_after;             /* RAPPORT_IDENTITY_SLOW_AFTER, 3 (0: no slow-down) */
    unsigned char *issuer_sk;       /* 64 bytes, sodium_malloc'd */
    unsigned char issuer_pk[crypto_sign_PUBLICKEYBYTES];
    char kid[17];
    bool has_previous;                  /* issuer-previous.pub: during a rotation */
    unsigned char previous_pk[crypto_sign_PUBLICKEYBYTES];
    char previous_kid[17];
    char dummy_hash[crypto_pwhash_STRBYTES];    /* verified when the user is unknown */
} id_config_t;

extern id_config_t id_cfg;

/* id_wall_ms - the real wall clock (tokens are checked against it everywhere). */
int64_t id_wall_ms(void);

/* ---- identity_policy.c: pure rules ---- */

/* id_username_fold - lower-case ASCII copy of s into out[ID_USERNAME_MAX + 1];
 * false when s is not a valid username once folded (then out is "" ). */
bool id_username_fold(const char *s, char out[ID_USERNAME_MAX + 1]);
/* id_username_valid - 1..63 of a-z 0-9 . _ -, starting with a letter (already folded). */
bool id_username_valid(const char *s);
/* id_password_problem - NULL when password meets the policy for username, else why. */
const char *id_password_problem(const char *username, const char *password);
/* id_roles_or_reply - roles known, 1..8, no repeats (violations on field). */
int id_roles_or_reply(rp_ctx_t *ctx, const char *field, char *const *roles, size_t n);
/* id_may_grant - true when the caller may give (or take away) role. */
bool id_may_grant(const rp_claims_t *caller, const char *role);
/* id_limits_or_reply - value and bp in range (violations on the fields named), and
 * not above what the caller may grant: an admin any, anyone else at most the
 * limits their own token carries (PERMISSION_DENIED). */
int id_limits_or_reply(rp_ctx_t *ctx, const char *value_field, int64_t value, const char *bp_field,
                       int32_t bp);
/* id_claims_of - token claims for user u (roles, branch, unit, scope, limits) and
 * sub into *c, times and jti left zero. */
void id_claims_of(const User *u, const char *sub, rp_claims_t *c);
/* id_scope_of - the widest default scope of roles: "company" > "unit" > "own". */
const char *id_scope_of(char *const *roles, size_t n);
/* id_unit_valid - "/a/b": starts with '/', 1..127 bytes, no spaces or control
 * chars, no empty segment, no trailing '/' (but the root "/"). */
bool id_unit_valid(const char *unit);

/* ---- identity_store.c: tables ---- */

extern const rp_table_t id_tables[];
extern const rp_migration_t id_migrations[];

/* id_store_user_by_name - the user with this (folded) username, into the arena.
 * 0, MDB_NOTFOUND, or -1 after replying. */
int id_store_user_by_name(rp_ctx_t *ctx, const char *username, StoredUser **out);
/* id_store_user_put - write a new or changed user and keep its indexes. 0 or -1. */
int id_store_user_put(rp_ctx_t *ctx, const StoredUser *su);
/* id_store_guard_get - the login guard state of a folded username, into the arena
 * (a zeroed one when none is stored). 0 or -1 (replied). */
int id_store_guard_get(rp_ctx_t *ctx, const char *name, LoginGuard **out);
/* id_store_guard_put - store g as the guard state of name; NULL deletes it. 0 or -1. */
int id_store_guard_put(rp_ctx_t *ctx, const char *name, const LoginGuard *g);
/* id_store_users_page - one page of users in scope (company: by username; unit:
 * the unit's subtree, by unit then username). fn gets arena users. */
typedef int (*id_user_fn)(void *arg, User *u);
int id_store_users_page(rp_ctx_t *ctx, const char *unit_prefix, const char *page_token,
                        uint32_t limit, id_user_fn fn, void *arg, char **next_token);

/* Refresh tokens, by BLAKE2b-256 hash. get: 0, MDB_NOTFOUND or -1 (replied). */
int id_store_refresh_get(rp_ctx_t *ctx, const uint8_t hash[ID_HASH_BYTES], RefreshRecord **out);
int id_store_refresh_put(rp_ctx_t *ctx, const uint8_t hash[ID_HASH_BYTES], const RefreshRecord *r);
/* id_store_access_put - remember access token jti (expires exp_s) as part of family. */
int id_store_access_put(rp_ctx_t *ctx, const uint8_t family[ID_FAMILY_BYTES], const char *jti,
                        int64_t exp_s);
/* id_store_jti_family - the family of an access token's jti: 1 found, 0 none, -1 replied. */
int id_store_jti_family(rp_ctx_t *ctx, const char *jti, uint8_t family[ID_FAMILY_BYTES]);
/* id_store_jti_revoked - 1 when jti is revoked, 0 not, -1 replied. */
int id_store_jti_revoked(rp_ctx_t *ctx, const char *jti);
/* id_store_revoke_jti - revoke one access token and emit token.revoked. 1 revoked
 * now, 0 already revoked, -1 replied. */
int id_store_revoke_jti(rp_ctx_t *ctx, const char *jti, int64_t exp_s, const char *sub,
                        const char *reason);
/* id_store_family_revoked - 1 when the family was revoked, 0 not, -1 replied. */
int id_store_family_revoked(rp_ctx_t *ctx, const uint8_t family[ID_FAMILY_BYTES]);
/* id_store_revoke_family - mark every refresh token of the family revoked and
 * revoke every access token of it not yet expired (token.revoked each). Counts
 * into *n_refresh and *n_access (may be NULL). 0 or -1 (replied). */
int id_store_revoke_family(rp_ctx_t *ctx, const uint8_t family[ID_FAMILY_BYTES], const char *sub,
                           const char *reason, uint32_t *n_refresh, uint32_t *n_access);
/* id_store_revoke_user - end every live session of username: each family of theirs
 * not yet revoked goes through id_store_revoke_family (its refresh tokens revoked,
 * token.revoked with reason for each of its live access tokens), in the caller's
 * write transaction. Revocations are permanent: enabling the user again, or
 * giving the old roles back, does not bring a token back. Also revokes every live
 * delegated token (ActAs) held by username or acting on their behalf. Counts into
 * *n_families and *n_access (may be NULL). 0 or -1 (replied). */
int id_store_revoke_user(rp_ctx_t *ctx, const char *username, const char *reason,
                         uint32_t *n_families, uint32_t *n_access);

/* Delegations. get: 0, MDB_NOTFOUND (also for a malformed id) or -1 (replied). */
int id_store_delegation_get(rp_ctx_t *ctx, const char *id, StoredDelegation **out);
/* id_store_delegation_put - write a new or changed delegation and its index. 0 or -1. */
int id_store_delegation_put(rp_ctx_t *ctx, const StoredDelegation *sd);
/* fn gets an arena delegation; returns 1 kept / go on, 0 skip (page) or stop
 * (_of), -1 abort (replied). */
typedef int (*id_delegation_fn)(void *arg, StoredDelegation *sd);
/* id_store_delegations_of - every delegation naming substitute for absent. 0 or -1. */
int id_store_delegations_of(rp_ctx_t *ctx, const char *substitute, const char *absent,
                            id_delegation_fn fn, void *arg);
/* id_store_delegations_page - one page of delegations in order of creation
 * (fn filters: 1 kept, 0 skipped). 0, -1 (replied) or -2 (bad page token). */
int id_store_delegations_page(rp_ctx_t *ctx, const char *page_token, uint32_t limit,
                              id_delegation_fn fn, void *arg, char **next_token);

/* The org tree (units). get: 0, MDB_NOTFOUND or -1 (replied). */
int id_store_unit_get(rp_ctx_t *ctx, const char *path, Unit **out);
/* id_store_unit_put - write a new or changed unit. 0 or -1. */
int id_store_unit_put(rp_ctx_t *ctx, const Unit *u);
/* id_store_units_ensure - create path (valid, see id_unit_valid) and every missing
 * unit above it, with the default kinds, emitting unit.created for each. 0 or -1. */
int id_store_units_ensure(rp_ctx_t *ctx, const char *path);
/* id_msg_fn - a row of a page: an arena message (a Unit, a ClientKey); returns 1
 * kept, 0 skipped, -1 abort (replied). */
typedef int (*id_msg_fn)(void *arg, ProtobufCMessage *m);
/* id_store_units_page - one page of the units within root, in path order. 0, -1
 * (replied) or -2 (bad page token). */
int id_store_units_page(rp_ctx_t *ctx, const char *root, const char *page_token, uint32_t limit,
                        id_msg_fn fn, void *arg, char **next_token);
/* id_unit_parent - the parent path of path into out ("" for "/"). 0, or -1 when
 * path has no '/'. */
int id_unit_parent(const char *path, char out[ID_UNIT_MAX + 1]);
/* id_unit_kind_below - the default kind of a child of a unit of parent_kind. */
int id_unit_kind_below(int parent_kind);

/* Registered CURVE client keys, by Z85 public key. get: 0, MDB_NOTFOUND or -1. */
int id_store_key_get(rp_ctx_t *ctx, const char *public_key, ClientKey **out);
int id_store_key_put(rp_ctx_t *ctx, const ClientKey *ck);
/* id_store_keys_page - one page of keys by public key. 0, -1 (replied) or -2. */
int id_store_keys_page(rp_ctx_t *ctx, const char *page_token, uint32_t limit, id_msg_fn fn, void *arg,
                       char **next_token);

/* ---- identity_guard.c: the brute-force guard, kept by failed logins ---- */

/* id_guard_retry_after - ms until a name with the guard state g may try again
 * after its failures (0: now). */
int64_t id_guard_retry_after(const LoginGuard *g, int64_t now_ms);
/* id_guard_count - count one failure into g; true when it locked the name (then
 * g->locked_until is set and the count starts again). */
bool id_guard_count(LoginGuard *g, int64_t now_ms);
/* id_guard_keep - if this request fails, keep (rp_ctx_keep_on_error) its audit
 * record with outcome, and for a valid name (non-empty): guard as the stored state
 * of name (NULL: leave it), or clear it; with lock_user, also lock the user named
 * (if one exists) until guard->locked_until and emit user.locked. */
void id_guard_keep(rp_ctx_t *ctx, const char *name, const char *outcome, LoginGuard *guard,
                   bool clear, bool lock_user);
/* id_guard_keep_revoke_family - if this request fails, keep its audit record with
 * outcome and the revocation of family (a replayed refresh token) for sub. */
void id_guard_keep_revoke_family(rp_ctx_t *ctx, const char *outcome,
                                 const uint8_t family[ID_FAMILY_BYTES], const char *sub);

/* ---- identity_auth.c ---- */

/* id_caller_or_reply - UNAUTHENTICATED when the caller's token was revoked here or
 * its user is disabled. Every authenticated method calls it first. */
int id_caller_or_reply(rp_ctx_t *ctx);
/* id_hash_password_or_reply - Argon2id hash into out. 0 or -1 (INTERNAL). */
int id_hash_password_or_reply(rp_ctx_t *ctx, const char *password, char out[crypto_pwhash_STRBYTES]);
/* id_emit - emit type with m as data; 0 or -1 (replied). */
int id_emit(rp_ctx_t *ctx, const char *type, const char *subject, const ProtobufCMessage *m);

/* ---- identity_handlers.c: shared with identity_org.c ---- */

/* id_push - append item to the arena vector *vec_p (an array of pointers holding
 * *n, with room for *cap), growing it. */
void id_push(rp_ctx_t *ctx, void *vec_p, size_t *n, size_t *cap, void *item);
/* id_page_size - a request's page_size: 0 means def, at most max. */
uint32_t id_page_size(uint32_t asked, uint32_t def, uint32_t max);
/* id_text_or_reply - a required single-line text of at most max bytes. */
int id_text_or_reply(rp_ctx_t *ctx, const char *field, const char *s, size_t max);
/* id_target_or_reply - the user named in field, within the caller's reach (else
 * NOT_FOUND); with manage, also one the caller may manage (every role they hold
 * grantable, not the caller). 0 or -1 (replied). */
int id_target_or_reply(rp_ctx_t *ctx, const char *field, const char *username, bool manage, StoredUser **out);

/* ---- identity_org.c: the org tree ---- */

/* id_order_or_reply - a personnel order in field (required: ref, date, reason),
 * copied into the arena with given_by = the caller. 0 or -1 (violations). */
int id_order_or_reply(rp_ctx_t *ctx, const char *field, const OrgOrder *in, OrgOrder **out);
/* id_emit_order - emit type (user.appointed, user.moved, user.dismissed) with a
 * PersonnelOrder of u from unit from to unit to (NULL: ""). 0 or -1. */
int id_emit_order(rp_ctx_t *ctx, const char *type, const User *u, const char *from, const char *to,
                  OrgOrder *order);
/* id_manager_or_reply - manager (may be empty) names an enabled user other than
 * username. 0 or -1 (a violation on field). */
int id_manager_or_reply(rp_ctx_t *ctx, const char *field, const char *manager, const char *username);
/* id_line_manager - set u->line_manager (for replies only, never stored). 0 or -1. */
int id_line_manager(rp_ctx_t *ctx, User *u);

/* ---- method handlers ---- */
int id_create_user(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_get_user(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_list_users(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_disable_user(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_enable_user(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_set_roles(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_set_limits(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_change_password(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_reset_password(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_login(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_refresh(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_logout(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_whoami(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_jwks(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_delegate(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_revoke_delegation(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_list_delegations(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_act_as(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_add_unit(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_get_unit(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_list_units(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_set_unit_head(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_move_user(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_dismiss_user(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_register_key(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_revoke_key(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_list_keys(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);
int id_revoke_token(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out);

#endif
