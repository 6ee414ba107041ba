/* Shopify's refunds and returns to canonical events (docs/platforms.md):
 * refunds/create, returns/request and returns/close. The rest of the
 * mapping is in shopify.c. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "shopify_int.h"

/* The currency a refund's money is in: the first transaction naming one
 * (Shopify's sample sends "currency": null on some), else the presentment
 * currency of its refunded line items. */
static const char *refund_currency(json_object *r)
{
    json_object *txs = ac_canon_arr(r, "transactions");
    for (size_t i = 0; txs && i < json_object_array_length(txs); i++) {
        const char *c = ac_canon_str(json_object_array_get_idx(txs, i), "currency");
        if (c)
            return c;
    }
    json_object *lines = ac_canon_arr(r, "refund_line_items");
    json_object *line =
        lines && json_object_array_length(lines) ? json_object_array_get_idx(lines, 0) : NULL;
    json_object *set = ac_canon_obj(ac_canon_obj(line, "subtotal_set"), "presentment_money");
    return ac_canon_str(set, "currency_code");
}

/* What the transactions of a refund say was sent back. */
typedef enum refund_sum { REFUND_NONE, REFUND_SUM, REFUND_UNREADABLE } refund_sum_t;

/* Thousandths of a currency unit in an amount as Shopify writes money, a
 * plain decimal string ("75.00", "1000", "1.234") or number; -1 when it is
 * not one, has more than three significant decimals or is implausibly
 * large. */
static int64_t milli_of(json_object *v)
{
    int64_t units = 0, frac = 0;
    int d = 0;
    if (!v || !(json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int) ||
                json_object_is_type(v, json_type_double)))
        return -1;
    const char *p = json_object_get_string(v); /* a parsed number keeps its text */
    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        units = units * 10 + (*p - '0');
        if (units >= 1000000000000000LL) /* and units * 1000 fits */
            return -1;
    }
    if (*p == '.' && !isdigit((unsigned char)*++p))
        return -1;
    for (; isdigit((unsigned char)*p); p++, d++) {
        if (d < 3)
            frac = frac * 10 + (*p - '0');
        else if (*p != '0')
            return -1;
    }
    if (*p)
        return -1;
    for (; d < 3; d++)
        frac *= 10;
    return units * 1000 + frac;
}

/* The money a refund returned: the sum of its successful "refund"
 * transactions, added exactly and written with two decimals (three when
 * the sum has a third, as KWD amounts may). REFUND_NONE when that is
 * nothing (a restock without money back); REFUND_UNREADABLE when an amount
 * cannot be read, so that the notice goes out without a wrong figure. */
static refund_sum_t refund_sum(json_object *txs, char *out, size_t outsz)
{
    int64_t total = 0;
    int unreadable = 0;
    for (size_t i = 0; txs && i < json_object_array_length(txs); i++) {
        json_object *tx = json_object_array_get_idx(txs, i);
        const char *kind = ac_canon_str(tx, "kind"), *status = ac_canon_str(tx, "status");
        if (!kind || !status || strcmp(kind, "refund") != 0 || strcmp(status, "success") != 0)
            continue;
        int64_t m = milli_of(json_object_object_get(tx, "amount"));
        if (m < 0 || total > INT64_MAX - m)
            unreadable = 1;
        else
            total += m;
    }
    if (unreadable)
        return REFUND_UNREADABLE;
    if (total == 0)
        return REFUND_NONE;
    if (total % 10)
        snprintf(out, outsz, "%" PRId64 ".%03" PRId64, total / 1000, total % 1000);
    else
        snprintf(out, outsz, "%" PRId64 ".%02" PRId64, total / 1000, total % 1000 / 10);
    return REFUND_SUM;
}

/* refunds/create: money sent back. Shopify sends the refund resource
 * itself; the REST API's {"refund": {...}} wrapping is accepted too. */
ac_canon_rc_t ac_shopify_map_refund(const ac_canon_in_t *in, int unused, ac_canon_batch_t *out,
                                    char *err, size_t errsz)
{
    char rid[ID_SZ], oid[ID_SZ], at[TIME_SZ], amount[64], identity[ID_SZ + 16];
    json_object *r = in->body;
    if (!json_object_object_get(r, "id") && ac_canon_obj(r, "refund"))
        r = ac_canon_obj(r, "refund");
    if (!ac_canon_id_of(r, "id", rid, sizeof(rid)))
        return ac_shopify_invalid(err, errsz, "the refund has no usable id");
    if (!ac_canon_id_of(r, "order_id", oid, sizeof(oid)))
        return ac_shopify_invalid(err, errsz, "the refund has no usable order_id");
    refund_sum_t sum = refund_sum(ac_canon_arr(r, "transactions"), amount, sizeof(amount));
    if (sum == REFUND_NONE)
        return AC_CANON_OK;
    snprintf(identity, sizeof(identity), "refund:%s", rid);
    const char *occurred = ac_shopify_when(in, r, "processed_at", "created_at", at, sizeof(at));
    json_object *ev = ac_shopify_new_event(in, identity, "return.refunded", "", occurred, oid);
    if (!ev)
        return ac_shopify_add(out, ev, err, errsz);
    ac_canon_set_str(ac_canon_section(ev, "order"), "currency", refund_currency(r));
    json_object *ret = ac_canon_section(ev, "return");
    ac_canon_set_str(ret, "id", rid);
    if (sum == REFUND_SUM)
        ac_canon_set_str(ret, "refund_amount", amount);
    ac_canon_set_str(ret, "reason", ac_canon_str(r, "note"));
    json_object *lines = ac_canon_arr(r, "refund_line_items");
    json_object *items = json_object_new_array();
    for (size_t i = 0; items && lines && i < json_object_array_length(lines); i++) {
        json_object *rl = json_object_array_get_idx(lines, i);
        ac_shopify_add_item(items, ac_canon_obj(rl, "line_item"),
                            json_object_object_get(rl, "quantity"), 0);
    }
    ac_shopify_set_items(ret, "items", items);
    return ac_shopify_add(out, ev, err, errsz);
}

/* The return section from a return's line items: the first reason given,
 * and the items when the line items name them (Shopify's return line items
 * usually carry only the line item's id). */
static void fill_return_lines(json_object *ret, json_object *r)
{
    json_object *lines = ac_canon_arr(r, "return_line_items");
    json_object *items = json_object_new_array();
    const char *reason = NULL;
    for (size_t i = 0; lines && i < json_object_array_length(lines); i++) {
        json_object *rl = json_object_array_get_idx(lines, i);
        json_object *li = ac_canon_obj(ac_canon_obj(rl, "fulfillment_line_item"), "line_item");
        if (!reason)
            reason = ac_canon_str(rl, "return_reason");
        if (items)
            ac_shopify_add_item(items, li ? li : ac_canon_obj(rl, "line_item"),
                                json_object_object_get(rl, "quantity"), 0);
    }
    ac_canon_set_str(ret, "reason", reason);
    ac_shopify_set_items(ret, "items", items);
}

/* returns/request (requested != 0) and returns/close. The request names
 * its order as order.id, the close as order_id. */
ac_canon_rc_t ac_shopify_map_return(const ac_canon_in_t *in, int requested, ac_canon_batch_t *out,
                                    char *err, size_t errsz)
{
    char rid[ID_SZ], oid[ID_SZ], at[TIME_SZ], identity[ID_SZ + 16];
    json_object *r = in->body;
    const char *type = requested ? "return.requested" : "return.received";
    if (!ac_canon_id_of(r, "id", rid, sizeof(rid)))
        return ac_shopify_invalid(err, errsz, "the return has no usable id");
    if (!ac_canon_id_of(ac_canon_obj(r, "order"), "id", oid, sizeof(oid)) &&
        !ac_canon_id_of(r, "order_id", oid, sizeof(oid)))
        return ac_shopify_invalid(err, errsz, "the return names no usable order id");
    snprintf(identity, sizeof(identity), "return:%s", rid);
    const char *occurred =
        requested ? ac_shopify_when(in, r, "requested_at", "created_at", at, sizeof(at))
                  : ac_shopify_when(in, r, "closed_at", "updated_at", at, sizeof(at));
    json_object *ev = ac_shopify_new_event(in, identity, type, "", occurred, oid);
    if (!ev)
        return ac_shopify_add(out, ev, err, errsz);
    json_object *ret = ac_canon_section(ev, "return");
    ac_canon_set_str(ret, "id", rid);
    fill_return_lines(ret, r);
    return ac_shopify_add(out, ev, err, errsz);
}
