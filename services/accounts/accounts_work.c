/* accounts_work.c - the daily work of rapport-accounts: interactions (which keep a
 * client's last contact), tasks (my tasks today, overdue tasks, the day plan), the
 * client's 360 timeline, and the contact-policy job: each tier has a longest
 * allowed silence; the job raises client.contact_overdue and creates a task for the
 * owner once per lapse, and task.overdue once per open task past its due date.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "accounts.h"
#include "rapport/log.h"
#include "rapport/pbjson.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Accounts__V1__LogInteractionRequest LogInteractionRequest;
typedef Rapport__Accounts__V1__ListInteractionsRequest ListInteractionsRequest;
typedef Rapport__Accounts__V1__ListInteractionsReply ListInteractionsReply;
typedef Rapport__Accounts__V1__CreateTaskRequest CreateTaskRequest;
typedef Rapport__Accounts__V1__UpdateTaskRequest UpdateTaskRequest;
typedef Rapport__Accounts__V1__CloseTaskRequest CloseTaskRequest;
typedef Rapport__Accounts__V1__ListTasksRequest ListTasksRequest;
typedef Rapport__Accounts__V1__ListTasksReply ListTasksReply;
typedef Rapport__Accounts__V1__TimelineRequest TimelineRequest;
typedef Rapport__Accounts__V1__TimelineReply TimelineReply;

#define JOB_BATCH 256           /* clients or tasks one job run handles per scan */
#define PURGE_SCAN 20000        /* pending keys one job run looks at (keys only: ~ms) */
#define PURGE_DROP 2000         /* and drops at most */
#define TEN_YEARS_MS (3650 * RP_DAY_MS)

/* s_enum_text - an enum value as people read it ("no contact"), in the arena. */
static const char *s_enum_text(rp_ctx_t *ctx, const ProtobufCEnumDescriptor *d, int v)
{
    char buf[64];
    return rp_ctx_strdup(ctx, rp_enum_text(d, v, buf, sizeof buf) ? buf : "?");
}

/* ---- interactions ---- */

/* s_client_contact_or_reply - the contact contact_id of client (NOT_FOUND otherwise). */
static int s_client_contact_or_reply(rp_ctx_t *ctx, const char *field, const char *contact_id,
                                     const Client *client, Contact **out)
{
    Contact *c;
    if (acc_contact_load_or_reply(ctx, field, contact_id, &c, NULL) < 0)
        return -1;
    if (strcasecmp(c->client_id, client->id) != 0)
        return rp_reply_error(ctx, RP_NOT_FOUND, "contact %s is not a contact of client %s", contact_id,
                              client->id);
    *out = c;
    return 0;
}

int acc_log_interaction(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const LogInteractionRequest *in = (const LogInteractionRequest *)in_;
    int64_t now = rp_ctx_now(ctx);
    Client *client;
    Contact *contact = NULL;

    if (in->channel == ACC_(CHANNEL, CHANNEL_UNSPECIFIED))
        rp_reply_violation(ctx, "channel", "is required");
    if (in->direction == ACC_(DIRECTION, DIRECTION_UNSPECIFIED))
        rp_reply_violation(ctx, "direction", "is required");
    if (in->outcome == ACC_(OUTCOME, OUTCOME_UNSPECIFIED))
        rp_reply_violation(ctx, "outcome", "is required");
    rp_len_or_reply(ctx, "summary", in->summary, 1, ACC_NOTES_MAX);
    if (in->link) {
        if (in->link->kind == ACC_(LINK_KIND, LINK_KIND_UNSPECIFIED))
            rp_reply_violation(ctx, "link.kind", "is required with a link");
        rp_len_or_reply(ctx, "link.id", in->link->id, 1, ACC_LINK_ID_MAX);
    }
    if (in->occurred_at != 0)
        rp_range_or_reply(ctx, "occurred_at", in->occurred_at, now - TEN_YEARS_MS, now + 60000);
    if (rp_ctx_failed(ctx))
        return -1;
    if (acc_client_load_or_reply(ctx, "client_id", in->client_id, &client) < 0)
        return -1;
    if (!rp_str_empty(in->contact_id)) {
        if (s_client_contact_or_reply(ctx, "contact_id", in->contact_id, client, &contact) < 0)
            return -1;
        if (in->direction == ACC_(DIRECTION, DIRECTION_OUTBOUND) && acc_contact_reachable_or_reply(ctx, contact) < 0)
            return -1;
    }

    Interaction *x = rp_ctx_alloc(ctx, sizeof *x);
    rapport__accounts__v1__interaction__init(x);
    x->id = rp_ctx_new_id_str(ctx);
    x->client_id = client->id;
    x->contact_id = contact ? contact->id : "";
    x->channel = in->channel;
    x->direction = in->direction;
    x->summary = in->summary;
    x->outcome = in->outcome;
    x->link = in->link;
    x->occurred_at = in->occurred_at ? in->occurred_at : now;
    x->by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    x->created_at = now;

    client->interaction_count++;
    if (in->outcome != ACC_(OUTCOME, OUTCOME_NO_CONTACT) && x->occurred_at > client->last_contact_at)
        client->last_contact_at = x->occurred_at;
    client->updated_at = now;

    TimelineEntry *t = rp_ctx_alloc(ctx, sizeof *t);
    rapport__accounts__v1__timeline_entry__init(t);
    t->id = x->id;
    t->kind = ACC_(TIMELINE_KIND, TIMELINE_KIND_INTERACTION);
    t->at = x->occurred_at;
    t->source = "accounts";
    t->type = "interaction.logged";
    t->subject = x->id;
    /* "Phone, outbound, positive" */
    t->summary = rp_ctx_sprintf(ctx, "%s, %s, %s",
                                s_enum_text(ctx, &rapport__accounts__v1__channel__descriptor, x->channel),
                                s_enum_text(ctx, &rapport__accounts__v1__direction__descriptor, x->direction),
                                s_enum_text(ctx, &rapport__accounts__v1__outcome__descriptor, x->outcome));
    t->summary[0] = (char)toupper((unsigned char)t->summary[0]);
    t->actor = x->by;
    t->interaction = x;
    rp_ulid_t cid;
    rp_ulid_parse(client->id, &cid);

    if (acc_put(ctx, &ACC_INTERACTION, &x->base) < 0 || acc_put(ctx, &ACC_CLIENT, &client->base) < 0
        || acc_timeline_put(ctx, &cid, t) < 0 || acc_emit(ctx, "interaction.logged", x->id, &x->base) < 0)
        return -1;
    *out = &x->base;
    return 0;
}

/* s_collect - a row function that keeps a copy of every row. */
static int s_collect(void *arg, const ProtobufCMessage *m)
{
    acc_rows_t *x = arg;
    x->v[x->n++] = acc_copy(x->ctx, m);
    return 1;
}

int acc_list_interactions(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ListInteractionsRequest *in = (const ListInteractionsRequest *)in_;
    Client *client;
    rp_ulid_t id;
    if (acc_client_load_or_reply(ctx, "client_id", in->client_id, &client) < 0)
        return -1;
    rp_ulid_parse(client->id, &id);
    acc_query_t q = { .kind = AQ_INTERACTION_CLIENT, .u = &id };
    acc_rows_t x;
    return acc_list_page(ctx, &q, in->page_size, in->page_token, s_collect, &x,
                         &rapport__accounts__v1__list_interactions_reply__descriptor, "interactions", out);
}

int acc_timeline(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const TimelineRequest *in = (const TimelineRequest *)in_;
    Client *client;
    rp_ulid_t id;
    if (acc_client_load_or_reply(ctx, "client_id", in->client_id, &client) < 0)
        return -1;
    rp_ulid_parse(client->id, &id);
    uint32_t limit = acc_page_size(in->page_size);
    TimelineReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__accounts__v1__timeline_reply__init(r);
    r->entries = rp_ctx_alloc(ctx, limit * sizeof(TimelineEntry *));
    char *next = NULL;
    int rc = acc_timeline_page(ctx, &id, rp_str_empty(in->page_token) ? NULL : in->page_token, limit,
                               r->entries, &r->n_entries, &next);
    if (rc == -1 || rp_page_or_reply(ctx, rc) < 0)
        return -1;
    r->next_page_token = next ? next : "";
    *out = &r->base;
    return 0;
}

/* ---- tasks ---- */

static int s_task_load_or_reply(rp_ctx_t *ctx, const char *field, const char *id, Task **out)
{
    rp_ulid_t u;
    Task *t = NULL;
    if (rp_ulid_or_reply(ctx, field, id, &u) < 0)
        return -1;
    int rc = acc_get(ctx, &ACC_TASK, &u, &t);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "task %s not found", id);
    if (rc != 0)
        return -1;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    bool sees = rp_scope_sees(cl, t->assignee, t->assignee_unit);
    if (!sees && !rp_str_empty(t->client_id)) {
        Client *c;
        rc = acc_get_str(ctx, &ACC_CLIENT, t->client_id, &c);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return -1;
        sees = rc == 0 && rp_scope_sees(cl, c->owner, c->unit);
    }
    if (!sees)
        return rp_reply_error(ctx, RP_NOT_FOUND, "task %s not found", id);
    *out = t;
    return 0;
}

/* s_task_client_count - adjust the open task count of the task's client. */
static int s_task_client_count(rp_ctx_t *ctx, const Task *t, int delta)
{
    Client *c;
    if (rp_str_empty(t->client_id))
        return 0;
    int rc = acc_get_str(ctx, &ACC_CLIENT, t->client_id, &c);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return -1;
    if (delta < 0 && c->open_tasks == 0)
        return 0;
    c->open_tasks = (uint32_t)((int64_t)c->open_tasks + delta);
    return acc_put(ctx, &ACC_CLIENT, &c->base);
}

int acc_task_add(rp_ctx_t *ctx, Task *t)
{
    if (acc_put(ctx, &ACC_TASK, &t->base) < 0 || s_task_client_count(ctx, t, +1) < 0)
        return -1;
    return acc_emit(ctx, "task.created", t->id, &t->base);
}

int acc_create_task(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const CreateTaskRequest *in = (const CreateTaskRequest *)in_;
    const rp_claims_t *cl = rp_ctx_claims(ctx);
    int32_t days;
    Client *client = NULL;
    Contact *contact = NULL;

    if (in->kind == ACC_(TASK_KIND, TASK_KIND_UNSPECIFIED))
        rp_reply_violation(ctx, "kind", "is required");
    rp_len_or_reply(ctx, "title", in->title, 1, ACC_LINE_MAX);
    rp_len_or_reply(ctx, "note", in->note, 0, ACC_NOTE_MAX);
    if (!in->due)
        rp_reply_violation(ctx, "due", "is required");
    else
        rp_date_or_reply(ctx, "due", in->due, &days);
    acc_due_time_or_reply(ctx, "due_time", in->due_time);
    if (!rp_str_empty(in->assignee) || !rp_str_empty(in->assignee_unit))
        rp_owner_or_reply(ctx, "assignee", in->assignee, "assignee_unit", in->assignee_unit);
    if (!rp_str_empty(in->contact_id) && rp_str_empty(in->client_id))
        rp_reply_violation(ctx, "client_id", "is required with a contact");
    if (rp_ctx_failed(ctx))
        return -1;

    const char *assignee = rp_principal(cl), *unit = cl->unit;
    if (!rp_str_empty(in->assignee) && !(strcmp(in->assignee, assignee) == 0 && strcmp(in->assignee_unit, unit) == 0)) {
        if (!rp_ctx_allowed(ctx, "accounts.assign"))
            return rp_reply_error(ctx, RP_PERMISSION_DENIED, "assigning a task to someone else needs accounts.assign");
        if (rp_unit_or_reply(ctx, "assignee_unit", in->assignee_unit) < 0)
            return -1;
        assignee = in->assignee;
        unit = in->assignee_unit;
    }
    if (!rp_str_empty(in->client_id) && acc_client_load_or_reply(ctx, "client_id", in->client_id, &client) < 0)
        return -1;
    if (!rp_str_empty(in->contact_id)) {
        if (s_client_contact_or_reply(ctx, "contact_id", in->contact_id, client, &contact) < 0
            || acc_contact_reachable_or_reply(ctx, contact) < 0)
            return -1;
    }

    int64_t now = rp_ctx_now(ctx);
    Task *t = rp_ctx_alloc(ctx, sizeof *t);
    rapport__accounts__v1__task__init(t);
    t->id = rp_ctx_new_id_str(ctx);
    t->client_id = client ? client->id : "";
    t->contact_id = contact ? contact->id : "";
    t->kind = in->kind;
    t->title = in->title;
    t->note = in->note;
    t->assignee = rp_ctx_strdup(ctx, assignee);
    t->assignee_unit = rp_ctx_strdup(ctx, unit);
    t->assigned_by = rp_ctx_strdup(ctx, rp_actor(cl));
    t->due = in->due;
    t->due_time = in->due_time;
    t->priority = in->priority != ACC_(TASK_PRIORITY, TASK_PRIORITY_UNSPECIFIED) ? (int)in->priority : TP_NORMAL;
    t->status = TS_OPEN;
    t->created_at = t->updated_at = now;
    if (acc_task_add(ctx, t) < 0)
        return -1;
    *out = &t->base;
    return 0;
}

int acc_get_task(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const Rapport__Accounts__V1__GetTaskRequest *in = (const void *)in_;
    Task *t;
    if (s_task_load_or_reply(ctx, "id", in->id, &t) < 0)
        return -1;
    *out = &t->base;
    return 0;
}

static int s_open_or_reply(rp_ctx_t *ctx, const Task *t)
{
    if (t->status != TS_OPEN)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "task %s is %s", t->id,
                              t->status == TS_DONE ? "done" : "cancelled");
    return 0;
}

static const char *const s_task_paths[] = { "title", "note", "due", "due_time", "priority", "kind", NULL };

int acc_update_task(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const UpdateTaskRequest *in = (const UpdateTaskRequest *)in_;
    char *const *m = in->update_mask;
    size_t nm = in->n_update_mask;
    int32_t days;
    Task *t;
    if (acc_mask_or_reply(ctx, m, nm, s_task_paths) < 0)
        return -1;
    if (acc_mask_has(m, nm, "title"))
        rp_len_or_reply(ctx, "title", in->title, 1, ACC_LINE_MAX);
    rp_len_or_reply(ctx, "note", in->note, 0, ACC_NOTE_MAX);
    if (acc_mask_has(m, nm, "due")) {
        if (!in->due)
            rp_reply_violation(ctx, "due", "is required");
        else
            rp_date_or_reply(ctx, "due", in->due, &days);
    }
    acc_due_time_or_reply(ctx, "due_time", in->due_time);
    if (acc_mask_has(m, nm, "kind") && in->kind == ACC_(TASK_KIND, TASK_KIND_UNSPECIFIED))
        rp_reply_violation(ctx, "kind", "is required");
    if (acc_mask_has(m, nm, "priority") && in->priority == ACC_(TASK_PRIORITY, TASK_PRIORITY_UNSPECIFIED))
        rp_reply_violation(ctx, "priority", "is required");
    if (rp_ctx_failed(ctx))
        return -1;
    if (s_task_load_or_reply(ctx, "id", in->id, &t) < 0 || s_open_or_reply(ctx, t) < 0)
        return -1;
    for (size_t i = 0; i < nm; i++) {
        const char *p = m[i];
        if (!strcmp(p, "title")) t->title = in->title;
        else if (!strcmp(p, "note")) t->note = in->note;
        else if (!strcmp(p, "due")) { t->due = in->due; t->overdue_raised = false; }
        else if (!strcmp(p, "due_time")) t->due_time = in->due_time;
        else if (!strcmp(p, "priority")) t->priority = in->priority;
        else if (!strcmp(p, "kind")) t->kind = in->kind;
    }
    t->updated_at = rp_ctx_now(ctx);
    if (acc_put(ctx, &ACC_TASK, &t->base) < 0 || acc_emit(ctx, "task.updated", t->id, &t->base) < 0)
        return -1;
    *out = &t->base;
    return 0;
}

static int s_close(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out, int status,
                   const char *type)
{
    const CloseTaskRequest *in = (const CloseTaskRequest *)in_;
    Task *t;
    if (rp_len_or_reply(ctx, "result", in->result, 0, ACC_NOTE_MAX) < 0)
        return -1;
    if (s_task_load_or_reply(ctx, "id", in->id, &t) < 0 || s_open_or_reply(ctx, t) < 0)
        return -1;
    t->status = status;
    t->result = in->result;
    t->closed_at = t->updated_at = rp_ctx_now(ctx);
    if (acc_put(ctx, &ACC_TASK, &t->base) < 0 || s_task_client_count(ctx, t, -1) < 0
        || acc_emit(ctx, type, t->id, &t->base) < 0)
        return -1;
    *out = &t->base;
    return 0;
}

int acc_complete_task(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    return s_close(ctx, in, out, TS_DONE, "task.completed");
}

int acc_cancel_task(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    return s_close(ctx, in, out, TS_CANCELLED, "task.cancelled");
}

typedef struct {
    acc_rows_t rows;            /* first: acc_list_page's */
    bool day_plan;
} s_tasks_t;

static int s_task_row(void *arg, const ProtobufCMessage *m)
{
    s_tasks_t *x = arg;
    const Task *t = (const Task *)m;
    if (x->day_plan && t->kind != TK_CALL && t->kind != TK_MEETING && t->kind != TK_VISIT)
        return 0;
    x->rows.v[x->rows.n++] = acc_copy(x->rows.ctx, m);
    return 1;
}

/* s_task_row_scoped - tasks of an assignee: the caller sees them through the assignee. */
static int s_task_row_scoped(void *arg, const ProtobufCMessage *m)
{
    s_tasks_t *x = arg;
    const Task *t = (const Task *)m;
    if (!rp_scope_sees(rp_ctx_claims(x->rows.ctx), t->assignee, t->assignee_unit))
        return 0;
    return s_task_row(arg, m);
}

int acc_list_tasks(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ListTasksRequest *in = (const ListTasksRequest *)in_;
    int32_t today = rp_ctx_today(ctx), day = 0;
    rp_ulid_t cid;
    s_tasks_t x = { .day_plan = in->view == ACC_(TASK_VIEW, TASK_VIEW_DAY_PLAN) };
    acc_query_t q = { 0 };
    acc_row_fn fn = s_task_row_scoped;

    if (x.day_plan) {
        if (!in->date)
            rp_reply_violation(ctx, "date", "is required for the day plan");
        else
            rp_date_or_reply(ctx, "date", in->date, &day);
    }
    rp_len_or_reply(ctx, "assignee", in->assignee, 0, ACC_USER_MAX);
    if (rp_ctx_failed(ctx))
        return -1;
    if (!rp_str_empty(in->client_id)) {
        Client *c;
        if (acc_client_load_or_reply(ctx, "client_id", in->client_id, &c) < 0)
            return -1;
        rp_ulid_parse(c->id, &cid);
        q.kind = AQ_TASK_CLIENT;
        q.u = &cid;
        fn = s_task_row;            /* seen through the client */
    } else {
        q.kind = AQ_TASK_ASSIGNEE;
        q.s = rp_str_empty(in->assignee) ? rp_principal(rp_ctx_claims(ctx)) : in->assignee;
        switch (in->view) {
        case ACC_(TASK_VIEW, TASK_VIEW_TODAY):    q.n1 = today; q.n2 = (int64_t)today + 1; break;
        case ACC_(TASK_VIEW, TASK_VIEW_OVERDUE):  q.n1 = INT32_MIN; q.n2 = today; break;
        case ACC_(TASK_VIEW, TASK_VIEW_DAY_PLAN): q.n1 = day; q.n2 = (int64_t)day + 1; break;
        default:                                  q.n1 = INT32_MIN; q.n2 = (int64_t)INT32_MAX + 1; break;
        }
    }
    return acc_list_page(ctx, &q, in->page_size, in->page_token, fn, &x.rows,
                         &rapport__accounts__v1__list_tasks_reply__descriptor, "tasks", out);
}

/* ---- contact policy ---- */

int acc_get_contact_policy(rp_ctx_t *ctx, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    (void)in;
    Rapport__Accounts__V1__ContactPolicy *p = rp_ctx_alloc(ctx, sizeof *p);
    rapport__accounts__v1__contact_policy__init(p);
    p->tiers = rp_ctx_alloc(ctx, TIER_COUNT * sizeof *p->tiers);
    for (int t = TIER_KEY; t <= TIER_RETAIL; t++) {
        Rapport__Accounts__V1__TierPolicy *tp = rp_ctx_alloc(ctx, sizeof *tp);
        rapport__accounts__v1__tier_policy__init(tp);
        tp->tier = t;
        tp->max_silence_days = acc_settings.silence_days[t];
        p->tiers[p->n_tiers++] = tp;
    }
    *out = &p->base;
    return 0;
}

/* s_raise_silence - client.contact_overdue and a task for the owner, once for this
 * silence (overdue_raised_for takes the client out of ix_c_silent). */
static int s_raise_silence(rp_ctx_t *ctx, Client *c)
{
    uint32_t allowed = acc_settings.silence_days[c->tier];
    Task *t = rp_ctx_alloc(ctx, sizeof *t);
    rapport__accounts__v1__task__init(t);
    t->id = rp_ctx_new_id_str(ctx);
    t->client_id = c->id;
    t->contact_id = "";
    t->kind = TK_CALL;
    t->title = rp_ctx_sprintf(ctx, "Get in touch with %.100s: no contact for %u days (tier allows %u)",
                              rp_str_empty(c->trade_name) ? c->legal_name : c->trade_name,
                              acc_silence_days(ctx, c), allowed);
    t->assignee = c->owner;
    t->assignee_unit = c->unit;
    t->assigned_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    t->due = rp_ctx_date(ctx, rp_ctx_today(ctx));
    t->priority = TP_HIGH;
    t->status = TS_OPEN;
    t->origin = "contact_policy";
    t->created_at = t->updated_at = rp_ctx_now(ctx);

    c->overdue_raised_for = c->last_contact_at;
    c->open_tasks++;
    c->updated_at = t->created_at;

    Rapport__Accounts__V1__ContactOverdue *o = rp_ctx_alloc(ctx, sizeof *o);
    rapport__accounts__v1__contact_overdue__init(o);
    o->client_id = c->id;
    o->owner = c->owner;
    o->unit = c->unit;
    o->tier = c->tier;
    o->last_contact_at = c->last_contact_at;
    o->max_silence_days = allowed;
    o->task_id = t->id;
    rp_ctx_set_event_branch(ctx, c->branch);       /* a job has no caller's branch */
    if (acc_put(ctx, &ACC_CLIENT, &c->base) < 0 || acc_put(ctx, &ACC_TASK, &t->base) < 0
        || acc_emit(ctx, "client.contact_overdue", c->id, &o->base) < 0
        || acc_emit(ctx, "task.created", t->id, &t->base) < 0)
        return -1;
    return 0;
}

/* acc_policy_job - also purges pending timeline entries that never joined a client
 * (older than RAPPORT_ACCOUNTS_PENDING_DAYS), a bounded batch each run. */
int acc_policy_job(rp_ctx_t *ctx)
{
    int64_t now = rp_ctx_now(ctx);
    size_t raised = 0, overdue = 0;
    for (int tier = TIER_KEY; tier <= TIER_RETAIL; tier++) {
        uint32_t days = acc_settings.silence_days[tier];
        if (days == 0)
            continue;
        acc_rows_t x = { ctx, rp_ctx_alloc(ctx, JOB_BATCH * sizeof(void *)), 0 };
        acc_query_t q = { .kind = AQ_CLIENT_SILENT, .n1 = tier, .n2 = now - (int64_t)days * RP_DAY_MS };
        if (acc_query(ctx, &q, NULL, JOB_BATCH, 0, s_collect, &x, NULL) != 0)
            return -1;
        for (size_t i = 0; i < x.n; i++)
            if (s_raise_silence(ctx, x.v[i]) < 0)
                return -1;
        raised += x.n;
    }
    acc_rows_t x = { ctx, rp_ctx_alloc(ctx, JOB_BATCH * sizeof(void *)), 0 };
    acc_query_t q = { .kind = AQ_TASK_DUE, .n2 = rp_ctx_today(ctx) };
    if (acc_query(ctx, &q, NULL, JOB_BATCH, 0, s_collect, &x, NULL) != 0)
        return -1;
    for (size_t i = 0; i < x.n; i++) {
        Task *t = x.v[i];
        t->overdue_raised = true;
        if (acc_put(ctx, &ACC_TASK, &t->base) < 0 || acc_emit(ctx, "task.overdue", t->id, &t->base) < 0)
            return -1;
    }
    overdue = x.n;
    size_t purged = 0;
    if (acc_settings.pending_days
        && acc_pending_purge(ctx, now - (int64_t)acc_settings.pending_days * RP_DAY_MS, PURGE_SCAN, PURGE_DROP,
                             &purged) < 0)
        return -1;
    if (raised || overdue || purged)
        rp_info("accounts: %zu contact lapse(s) raised, %zu task(s) overdue, %zu pending timeline entr%s "
                "older than %u days dropped", raised, overdue, purged, purged == 1 ? "y" : "ies",
                acc_settings.pending_days);
    return 0;
}
