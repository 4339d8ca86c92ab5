/* accounts_rules.c - input validation and small rules of rapport-accounts, kept
 * apart from storage and wiring: the bounds of clients and contacts (see
 * accounts.proto), phone and e-mail shapes, update masks, page sizes, dates.
 */
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "accounts.h"
#include "rapport/clock.h"
#include "rapport/fold.h"
#include "rapport/util.h"

static bool s_letters(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalpha((unsigned char)s[i]))
            return false;
    return true;
}

int acc_client_fields_or_reply(rp_ctx_t *ctx, const char *legal_name, const char *trade_name,
                               const char *tax_id, const char *country, const char *region,
                               const Address *address, const char *industry, const char *language,
                               char *const *segments, size_t n_segments, const char *preferences,
                               const char *notes, bool check_name)
{
    char f[64], buf[512];
    if (check_name && rp_len_or_reply(ctx, "legal_name", legal_name, 1, ACC_NAME_MAX) == 0
        && rp_fold_name(legal_name, buf, sizeof buf) <= 0)
        rp_reply_violation(ctx, "legal_name", "needs letters or digits");
    rp_len_or_reply(ctx, "trade_name", trade_name, 0, ACC_NAME_MAX);
    rp_len_or_reply(ctx, "tax_id", tax_id, 0, ACC_TAXID_MAX);
    if (!rp_str_empty(tax_id) && rp_fold_taxid(tax_id, buf, sizeof buf) <= 0)
        rp_reply_violation(ctx, "tax_id", "needs letters or digits");
    if (!rp_str_empty(country) && !s_letters(country, 2, 2))
        rp_reply_violation(ctx, "country", "must be an ISO 3166-1 alpha-2 code (two letters)");
    rp_len_or_reply(ctx, "region", region, 0, ACC_SHORT_MAX);
    rp_len_or_reply(ctx, "industry", industry, 0, ACC_SHORT_MAX);
    if (!rp_str_empty(language) && !s_letters(language, 2, 3))
        rp_reply_violation(ctx, "language", "must be an ISO 639 code (two or three letters)");
    if (address) {
        rp_len_or_reply(ctx, "address.line1", address->line1, 0, ACC_LINE_MAX);
        rp_len_or_reply(ctx, "address.line2", address->line2, 0, ACC_LINE_MAX);
        rp_len_or_reply(ctx, "address.city", address->city, 0, ACC_LINE_MAX);
        rp_len_or_reply(ctx, "address.postal_code", address->postal_code, 0, ACC_POSTAL_MAX);
    }
    if (n_segments > ACC_SEGMENTS_MAX)
        rp_reply_violation(ctx, "segments", "at most %d", ACC_SEGMENTS_MAX);
    for (size_t i = 0; i < n_segments && i < ACC_SEGMENTS_MAX; i++) {
        snprintf(f, sizeof f, "segments[%zu]", i);
        rp_len_or_reply(ctx, f, segments[i], 1, ACC_SEGMENT_MAX);
        for (size_t j = 0; j < i; j++)
            if (strcmp(segments[i], segments[j]) == 0)
                rp_reply_violation(ctx, f, "repeated");
    }
    rp_len_or_reply(ctx, "preferences", preferences, 0, ACC_PREFS_MAX);
    rp_len_or_reply(ctx, "notes", notes, 0, ACC_NOTES_MAX);
    return rp_ctx_failed(ctx) ? -1 : 0;
}

int acc_phones_or_reply(rp_ctx_t *ctx, const char *field, char *const *v, size_t n)
{
    char f[64];
    if (n > ACC_PHONES_MAX)
        return rp_reply_violation(ctx, field, "at most %d", ACC_PHONES_MAX);
    for (size_t i = 0; i < n; i++) {
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        if (rp_len_or_reply(ctx, f, v[i], 3, ACC_PHONE_MAX) < 0)
            continue;
        int digits = 0;
        for (const char *p = v[i]; *p; p++) {
            if (isdigit((unsigned char)*p))
                digits++;
            else if (!strchr(" +-().", *p)) {
                rp_reply_violation(ctx, f, "digits, spaces and + - ( ) . only");
                break;
            }
        }
        if (digits < 3)
            rp_reply_violation(ctx, f, "needs at least three digits");
    }
    return rp_ctx_failed(ctx) ? -1 : 0;
}

int acc_emails_or_reply(rp_ctx_t *ctx, const char *field, char *const *v, size_t n)
{
    char f[64], buf[320];
    if (n > ACC_PHONES_MAX)
        return rp_reply_violation(ctx, field, "at most %d", ACC_PHONES_MAX);
    for (size_t i = 0; i < n; i++) {
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        if (rp_len_or_reply(ctx, f, v[i], 1, ACC_EMAIL_MAX) == 0 && rp_fold_email(v[i], buf, sizeof buf) < 0)
            rp_reply_violation(ctx, f, "is not an e-mail address");
    }
    return rp_ctx_failed(ctx) ? -1 : 0;
}

bool acc_mask_has(char *const *mask, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(mask[i], path) == 0)
            return true;
    return false;
}

int acc_mask_or_reply(rp_ctx_t *ctx, char *const *mask, size_t n, const char *const *paths)
{
    if (n == 0)
        return rp_reply_violation(ctx, "update_mask", "name at least one field to update");
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (const char *const *p = paths; *p; p++)
            if (strcmp(*p, mask[i]) == 0)
                known = true;
        if (!known) {
            char f[48];
            snprintf(f, sizeof f, "update_mask[%zu]", i);
            rp_reply_violation(ctx, f, "unknown field path");
        }
    }
    return rp_ctx_failed(ctx) ? -1 : 0;
}

uint32_t acc_page_size(uint32_t page_size)
{
    return page_size == 0 ? ACC_PAGE_DEFAULT : page_size > ACC_PAGE_MAX ? ACC_PAGE_MAX : page_size;
}

int acc_list_page(rp_ctx_t *ctx, const acc_query_t *q, uint32_t page_size, const char *page_token,
                  acc_row_fn fn, acc_rows_t *rows, const ProtobufCMessageDescriptor *reply,
                  const char *field, ProtobufCMessage **out)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(reply, field);
    const ProtobufCFieldDescriptor *t = protobuf_c_message_descriptor_get_field_by_name(reply, "next_page_token");
    assert(f && f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE);
    assert(t && t->label != PROTOBUF_C_LABEL_REPEATED && t->type == PROTOBUF_C_TYPE_STRING);
    uint32_t limit = acc_page_size(page_size);
    rows->ctx = ctx;
    rows->v = rp_ctx_alloc(ctx, limit * sizeof *rows->v);
    rows->n = 0;
    char *next = NULL;
    int rc = acc_query(ctx, q, rp_str_empty(page_token) ? NULL : page_token, limit, 0, fn, rows, &next);
    if (rc == -1 || rp_page_or_reply(ctx, rc) < 0)
        return -1;
    ProtobufCMessage *r = rp_ctx_alloc(ctx, reply->sizeof_message);
    protobuf_c_message_init(reply, r);
    *(size_t *)((char *)r + f->quantifier_offset) = rows->n;
    *(void ***)((char *)r + f->offset) = rows->v;
    *(const char **)((char *)r + t->offset) = next ? next : "";
    *out = r;
    return 0;
}

int acc_due_time_or_reply(rp_ctx_t *ctx, const char *field, const char *s)
{
    if (rp_str_empty(s))
        return 0;
    if (strlen(s) != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':'
        || !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4])
        || (s[0] - '0') * 10 + (s[1] - '0') > 23 || (s[3] - '0') * 10 + (s[4] - '0') > 59)
        return rp_reply_violation(ctx, field, "must be HH:MM (00:00..23:59)");
    return 0;
}

char *acc_upper(rp_ctx_t *ctx, const char *s)
{
    char *c = rp_ctx_strdup(ctx, s);
    for (char *p = c; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return c;
}

char *acc_lower(rp_ctx_t *ctx, const char *s)
{
    char *c = rp_ctx_strdup(ctx, s);
    for (char *p = c; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return c;
}

int acc_emit(rp_ctx_t *ctx, const char *type, const char *subject, const ProtobufCMessage *m)
{
    if (rp_ctx_emit(ctx, type, subject, m) == 0)
        return 0;
    if (!rp_ctx_failed(ctx))
        rp_reply_error(ctx, RP_INTERNAL, "cannot append event %s", type);
    return -1;
}

