/* identity_keys.c - CURVE client keys registered in identity: RegisterKey,
 * RevokeKey, ListKeys.
 *
 * A key's record (ClientKey, revoked ones too) is in the table keys; a live key is
 * also let into identity's own ZAP handler in the same transaction
 * (rp_ctx_client_key), and every other service follows the key.registered and
 * key.revoked events into its own (common/src/service_keys.c). Public keys are
 * Z85 (40 characters) that decode to 32 bytes; anything else is refused before
 * anything is written.
 */
#include <string.h>
#include <zmq.h>
#include "identity.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Identity__V1__RegisterKeyRequest RegisterKeyRequest;
typedef Rapport__Identity__V1__RevokeKeyRequest RevokeKeyRequest;
typedef Rapport__Identity__V1__ListKeysRequest ListKeysRequest;
typedef Rapport__Identity__V1__ListKeysReply ListKeysReply;

#define S_NAME_MAX      100
#define S_KEYS_DEFAULT  100
#define S_KEYS_MAX      1000

/* s_public_key_or_reply - a CURVE public key in Z85. */
static int s_public_key_or_reply(rp_ctx_t *ctx, const char *field, const char *z85)
{
    uint8_t raw[32];
    if (!z85 || strlen(z85) != 40 || !zmq_z85_decode(raw, z85))
        return rp_reply_violation(ctx, field, "must be a CURVE public key in Z85 (40 characters)");
    return 0;
}

int id_register_key(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const RegisterKeyRequest *in = (const RegisterKeyRequest *)in_;
    if (id_caller_or_reply(ctx) < 0)
        return -1;
    s_public_key_or_reply(ctx, "public_key", in->public_key);
    id_text_or_reply(ctx, "name", in->name, S_NAME_MAX);
    if (!rp_str_empty(in->owner))
        id_text_or_reply(ctx, "owner", in->owner, ID_USERNAME_MAX);
    if (!rp_str_empty(in->note))
        id_text_or_reply(ctx, "note", in->note, ID_REASON_MAX);
    if (rp_ctx_failed(ctx))
        return -1;
    ClientKey *old = NULL;
    int rc = id_store_key_get(ctx, in->public_key, &old);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return -1;
    if (rc == 0 && !old->revoked)
        return rp_reply_error(ctx, RP_ALREADY_EXISTS, "key %s is registered already (as %s)", in->public_key,
                              old->name);
    ClientKey *ck = rp_ctx_alloc(ctx, sizeof *ck);
    rapport__identity__v1__client_key__init(ck);
    ck->public_key = in->public_key;
    ck->name = in->name;
    ck->owner = rp_str_empty(in->owner) ? (char *)"" : in->owner;
    ck->note = rp_str_empty(in->note) ? (char *)"" : in->note;
    ck->registered_at = rp_ctx_now(ctx);
    ck->registered_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    ck->revoked_by = ck->revoke_reason = (char *)"";
    if (id_store_key_put(ctx, ck) < 0 || id_emit(ctx, "key.registered", ck->public_key, &ck->base) < 0
        || rp_ctx_client_key(ctx, ck->public_key, ck->name, true) < 0)
        return -1;
    *out = &ck->base;
    return 0;
}

int id_revoke_key(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const RevokeKeyRequest *in = (const RevokeKeyRequest *)in_;
    if (id_caller_or_reply(ctx) < 0 || s_public_key_or_reply(ctx, "public_key", in->public_key) < 0
        || rp_len_or_reply(ctx, "reason", in->reason, 0, ID_REASON_MAX) < 0)
        return -1;
    ClientKey *ck = NULL;
    int rc = id_store_key_get(ctx, in->public_key, &ck);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "key %s is not registered", in->public_key);
    if (rc)
        return -1;
    if (ck->revoked)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "key %s is revoked already", in->public_key);
    ck->revoked = true;
    ck->revoked_at = rp_ctx_now(ctx);
    ck->revoked_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    ck->revoke_reason = rp_str_empty(in->reason) ? (char *)"" : in->reason;
    if (id_store_key_put(ctx, ck) < 0 || id_emit(ctx, "key.revoked", ck->public_key, &ck->base) < 0
        || rp_ctx_client_key(ctx, ck->public_key, ck->name, false) < 0)
        return -1;
    *out = &ck->base;
    return 0;
}

typedef struct {
    rp_ctx_t *ctx;
    ListKeysReply *rep;
    bool include_revoked;
    size_t cap;
} s_klist_t;

static int s_klist_row(void *arg, ProtobufCMessage *m)
{
    s_klist_t *l = arg;
    ClientKey *ck = (ClientKey *)m;
    if (ck->revoked && !l->include_revoked)
        return 0;
    id_push(l->ctx, &l->rep->keys, &l->rep->n_keys, &l->cap, ck);
    return 1;
}

int id_list_keys(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ListKeysRequest *in = (const ListKeysRequest *)in_;
    if (id_caller_or_reply(ctx) < 0)
        return -1;
    uint32_t size = id_page_size(in->page_size, S_KEYS_DEFAULT, S_KEYS_MAX);
    ListKeysReply *rep = rp_ctx_alloc(ctx, sizeof *rep);
    rapport__identity__v1__list_keys_reply__init(rep);
    rep->next_page_token = (char *)"";
    s_klist_t l = { ctx, rep, in->include_revoked, 0 };
    char *next = NULL;
    int rc = id_store_keys_page(ctx, in->page_token, size, s_klist_row, &l, &next);
    if (rc < 0)
        return rp_page_or_reply(ctx, rc);
    if (next)
        rep->next_page_token = next;
    *out = &rep->base;
    return 0;
}
