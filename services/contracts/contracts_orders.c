/* contracts_orders.c - orders under an active contract and their deliveries:
 *   PlaceOrder (RECEIVED); HandOff records the department it went to (RECEIVED ->
 *   PROCESSING); SetOrderStatus walks RECEIVED -> PROCESSING -> SHIPPED ->
 *   DELIVERED -> CLOSED (PROCESSING -> DELIVERED for services), CANCELLED from
 *   RECEIVED or PROCESSING with a reason; DELIVERED records the actual delivery
 *   date; contracts_overdue_orders (timer) raises order.overdue once per open order
 *   past its due date through ix_order_due. A delivered, closed or cancelled order
 *   may complete its contract (contracts_check_fulfilled).
 * Events: order.placed, order.updated, order.delivered, order.overdue (Order).
 */
#include <string.h>
#include "contracts.h"
#include "rapport/log.h"
#include "rapport/perm.h"
#include "rapport/util.h"

typedef Rapport__Contracts__V1__PlaceOrderRequest PlaceOrderRequest;
typedef Rapport__Contracts__V1__OrderActionRequest OrderActionRequest;
typedef Rapport__Contracts__V1__ListOrdersRequest ListOrdersRequest;
typedef Rapport__Contracts__V1__GetRequest GetRequest;

static const char *s_status(int s)
{
    return contracts_enum_name(&rapport__contracts__v1__order_status__descriptor, s);
}

static int s_load_or_reply(rp_ctx_t *ctx, const char *id, Order **out)
{
    rp_ulid_t u;
    if (rp_ulid_or_reply(ctx, "id", id, &u) < 0)
        return -1;
    int rc = contracts_store_get(ctx, CE_ORDER, &u, (ProtobufCMessage **)out);
    if (rc == MDB_NOTFOUND)
        return rp_reply_error(ctx, RP_NOT_FOUND, "order %s not found", id);
    if (rc != 0)
        return -1;
    return rp_scope_or_reply(ctx, "order", id, (*out)->owner, (*out)->unit);
}

static int s_write(rp_ctx_t *ctx, Order *o, const char *type)
{
    o->updated_at = rp_ctx_now(ctx);
    if (contracts_store_put(ctx, CE_ORDER, &o->base) < 0)
        return -1;
    return type ? contracts_emit(ctx, type, o->id, &o->base) : 0;
}

int contracts_place_order(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const PlaceOrderRequest *in = (const PlaceOrderRequest *)in_;
    Contract *c;
    int32_t days;
    if (in->n_items < 1 || in->n_items > CT_MAX_ITEMS)
        rp_reply_violation(ctx, "items", "1 to %d items", CT_MAX_ITEMS);
    for (size_t i = 0; i < in->n_items && i < CT_MAX_ITEMS; i++) {
        const OrderItem *it = in->items[i];
        rp_len_or_reply(ctx, rp_ctx_sprintf(ctx, "items[%zu].description", i), it->description, 1, CT_DESC_MAX);
        rp_range_or_reply(ctx, rp_ctx_sprintf(ctx, "items[%zu].quantity", i), it->quantity, 1, CT_QTY_MAX);
        rp_len_or_reply(ctx, rp_ctx_sprintf(ctx, "items[%zu].unit", i), it->unit, 1, CT_UNIT_NAME_MAX);
    }
    if (!in->due)
        rp_reply_violation(ctx, "due", "is required");
    else
        rp_date_or_reply(ctx, "due", in->due, &days);
    if (in->planned_delivery)
        rp_date_or_reply(ctx, "planned_delivery", in->planned_delivery, &days);
    rp_len_or_reply(ctx, "note", in->note, 0, CT_NOTE_MAX);
    if (rp_ctx_failed(ctx) || contracts_load_or_reply(ctx, "contract_id", in->contract_id, &c) < 0)
        return -1;
    if (c->status != CS_ACTIVE)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "contract %s is %s; orders are taken under an "
                              "active contract", c->number,
                              contracts_enum_name(&rapport__contracts__v1__contract_status__descriptor, c->status));
    Order *o = rp_ctx_alloc(ctx, sizeof *o);
    rapport__contracts__v1__order__init(o);
    o->id = rp_ctx_new_id_str(ctx);
    o->contract_id = c->id;
    o->contract_number = c->number;
    o->owner = c->owner;
    o->unit = c->unit;
    o->items = in->items;
    o->n_items = in->n_items;
    o->due = in->due;
    o->planned_delivery = in->planned_delivery;
    o->note = in->note;
    o->status = OS_RECEIVED;
    o->created_by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    o->created_at = rp_ctx_now(ctx);
    if (s_write(ctx, o, "order.placed") < 0)
        return -1;
    *out = &o->base;
    return 0;
}

int contracts_get_order(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const GetRequest *in = (const GetRequest *)in_;
    Order *o;
    if (s_load_or_reply(ctx, in->id, &o) < 0)
        return -1;
    *out = &o->base;
    return 0;
}

int contracts_hand_off(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const OrderActionRequest *in = (const OrderActionRequest *)in_;
    Order *o;
    rp_len_or_reply(ctx, "department", in->department, 1, CT_DEPT_MAX);
    rp_len_or_reply(ctx, "note", in->note, 0, CT_DESC_MAX);
    if (rp_ctx_failed(ctx) || s_load_or_reply(ctx, in->id, &o) < 0)
        return -1;
    if (o->status != OS_RECEIVED && o->status != OS_PROCESSING)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "order %s is %s; it is handed off while received "
                              "or processing", o->id, s_status(o->status));
    if (o->n_handoffs >= CT_MAX_HANDOFFS)
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "an order keeps at most %d hand-offs", CT_MAX_HANDOFFS);
    HandOff *h = rp_ctx_alloc(ctx, sizeof *h);
    rapport__contracts__v1__hand_off__init(h);
    h->department = in->department;
    h->note = in->note;
    h->by = rp_ctx_strdup(ctx, rp_actor(rp_ctx_claims(ctx)));
    h->at = rp_ctx_now(ctx);
    o->handoffs = (HandOff **)rp_ctx_append(ctx, (void **)o->handoffs, o->n_handoffs, h);
    o->n_handoffs++;
    o->status = OS_PROCESSING;
    if (s_write(ctx, o, "order.updated") < 0)
        return -1;
    *out = &o->base;
    return 0;
}

/* s_move_ok - the order status machine. */
static bool s_move_ok(int from, int to)
{
    switch (to) {
    case OS_PROCESSING: return from == OS_RECEIVED;
    case OS_SHIPPED:    return from == OS_PROCESSING;
    case OS_DELIVERED:  return from == OS_PROCESSING || from == OS_SHIPPED;
    case OS_CLOSED:     return from == OS_DELIVERED;
    case OS_CANCELLED:  return from == OS_RECEIVED || from == OS_PROCESSING;
    default:            return false;
    }
}

int contracts_set_order_status(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const OrderActionRequest *in = (const OrderActionRequest *)in_;
    Order *o;
    int32_t days = 0;
    if (in->status == RAPPORT__CONTRACTS__V1__ORDER_STATUS__ORDER_STATUS_UNSPECIFIED
        || in->status == OS_RECEIVED)
        rp_reply_violation(ctx, "status", "PROCESSING, SHIPPED, DELIVERED, CLOSED or CANCELLED");
    if (in->status == OS_CANCELLED)
        rp_len_or_reply(ctx, "note", in->note, 1, CT_DESC_MAX);
    else
        rp_len_or_reply(ctx, "note", in->note, 0, CT_DESC_MAX);
    if (in->date)
        rp_date_or_reply(ctx, "date", in->date, &days);
    if (rp_ctx_failed(ctx) || s_load_or_reply(ctx, in->id, &o) < 0)
        return -1;
    if (!s_move_ok(o->status, in->status))
        return rp_reply_error(ctx, RP_FAILED_PRECONDITION, "order %s cannot move from %s to %s",
                              o->id, s_status(o->status), s_status(in->status));
    if (in->status == OS_DELIVERED && in->date && days > rp_ctx_today(ctx))
        return rp_reply_violation(ctx, "date", "an actual delivery is not in the future");
    o->status = in->status;
    const char *type = "order.updated";
    if (in->status == OS_SHIPPED && in->date)
        o->planned_delivery = in->date;
    else if (in->status == OS_DELIVERED) {
        o->actual_delivery = in->date ? in->date : rp_ctx_date(ctx, rp_ctx_today(ctx));
        type = "order.delivered";
    } else if (in->status == OS_CANCELLED)
        o->cancel_reason = in->note;
    if (s_write(ctx, o, type) < 0)
        return -1;
    if (in->status == OS_DELIVERED || in->status == OS_CLOSED || in->status == OS_CANCELLED) {
        rp_ulid_t cid;
        Contract *c;
        if (rp_ulid_parse(o->contract_id, &cid) < 0)
            return rp_reply_error(ctx, RP_INTERNAL, "order without a contract");
        int rc = contracts_store_get(ctx, CE_CONTRACT, &cid, (ProtobufCMessage **)&c);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return -1;
        if (rc == 0 && contracts_check_fulfilled(ctx, c) < 0)
            return -1;
    }
    *out = &o->base;
    return 0;
}

typedef struct {
    rp_ctx_t *ctx;
    Order **v;
    size_t n;
} s_page_t;

static int s_keep(void *arg, const ProtobufCMessage *m)
{
    s_page_t *p = arg;
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = rp_ctx_alloc(p->ctx, len + 1);
    protobuf_c_message_pack(m, buf);
    Order *o = (Order *)protobuf_c_message_unpack(m->descriptor, rp_ctx_allocator(p->ctx), len, buf);
    if (!o)
        return 0;
    p->v[p->n++] = o;
    return 1;
}

int contracts_list_orders(rp_ctx_t *ctx, const ProtobufCMessage *in_, ProtobufCMessage **out)
{
    const ListOrdersRequest *in = (const ListOrdersRequest *)in_;
    Contract *c;
    rp_ulid_t cid;
    if (contracts_load_or_reply(ctx, "contract_id", in->contract_id, &c) < 0)
        return -1;
    if (rp_ulid_parse(c->id, &cid) < 0)
        return rp_reply_error(ctx, RP_INTERNAL, "stored contract id is not a ULID");
    int limit = contracts_page_size(in->page_size);
    s_page_t p = { ctx, rp_ctx_alloc(ctx, (size_t)limit * sizeof(Order *)), 0 };
    char *next = NULL;
    int rc = contracts_store_query(ctx, CQ_ORDERS_BY_CONTRACT, NULL, &cid,
                                   rp_str_empty(in->page_token) ? NULL : in->page_token, (uint32_t)limit,
                                   s_keep, &p, &next);
    if (rc == -1 || rp_page_or_reply(ctx, rc) < 0)
        return -1;
    Rapport__Contracts__V1__ListOrdersReply *r = rp_ctx_alloc(ctx, sizeof *r);
    rapport__contracts__v1__list_orders_reply__init(r);
    r->orders = p.v;
    r->n_orders = p.n;
    r->next_page_token = next ? next : "";
    *out = &r->base;
    return 0;
}

int contracts_overdue_orders(rp_ctx_t *ctx)
{
    rp_ulid_t ids[CT_JOB_BATCH];
    int n = contracts_store_due(ctx, "ix_order_due", rp_ctx_today(ctx), ids, CT_JOB_BATCH);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        Order *o;
        int rc = contracts_store_get(ctx, CE_ORDER, &ids[i], (ProtobufCMessage **)&o);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc != 0)
            return -1;
        if (o->overdue_raised)
            continue;
        o->overdue_raised = true;
        if (s_write(ctx, o, "order.overdue") < 0)
            return -1;
    }
    if (n > 0)
        rp_info("contracts: %d order(s) overdue", n);
    return 0;
}
