#include "journey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_key.h"
#include "timeutil.h"

static const char *fact_names[AC_FACT__COUNT] = {
    [AC_FACT_PLACED] = "placed",     [AC_FACT_CANCELLED] = "cancelled",
    [AC_FACT_SHIPPED] = "shipped",   [AC_FACT_DELIVERED] = "delivered",
    [AC_FACT_RETURNED] = "returned", [AC_FACT_REFUNDED] = "refunded",
    [AC_FACT_FEEDBACK] = "feedback", [AC_FACT_UNHAPPY] = "unhappy",
    [AC_FACT_CONSENT] = "consent",
};

const char *ac_fact_name(ac_fact_t f)
{
    return (f >= 0 && f < AC_FACT__COUNT) ? fact_names[f] : "unknown";
}

size_t ac_journey_facts(const ac_event_t *ev, ac_fact_t out[AC_FACT__COUNT])
{
    size_t n = 0;
    switch (ev->type) {
    case AC_EVENT_ORDER_PLACED:
        out[n++] = AC_FACT_PLACED;
        break;
    case AC_EVENT_ORDER_CANCELLED:
        out[n++] = AC_FACT_CANCELLED;
        break;
    case AC_EVENT_SHIPMENT_SHIPPED:
        out[n++] = AC_FACT_SHIPPED;
        break;
    case AC_EVENT_SHIPMENT_DELIVERED:
        out[n++] = AC_FACT_DELIVERED;
        break;
    case AC_EVENT_RETURN_REQUESTED:
    case AC_EVENT_RETURN_RECEIVED:
        /* A received return was requested, even if that event is lost. */
        out[n++] = AC_FACT_RETURNED;
        break;
    case AC_EVENT_RETURN_REFUNDED:
        /* A refund may be a goodwill gesture without a return: it blocks
         * nothing by itself. */
        out[n++] = AC_FACT_REFUNDED;
        break;
    case AC_EVENT_FEEDBACK_RECEIVED:
        out[n++] = AC_FACT_FEEDBACK;
        if (ev->feedback.rating > 0 && ev->feedback.rating <= AC_JOURNEY_UNHAPPY_RATING)
            out[n++] = AC_FACT_UNHAPPY;
        break;
    default:
        break;
    }
    if (ev->type != AC_EVENT_UNKNOWN && ev->customer.marketing_consent)
        out[n++] = AC_FACT_CONSENT;
    return n;
}

/* FNV-1a, 64 bits: parcels are told apart by a hash of their id, which
 * keeps the journey a fixed-size value. 0 is kept for "no parcel named". */
static uint64_t parcel_hash(const char *shipment_id)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    if (!shipment_id || !*shipment_id)
        return 0;
    /* Ids longer than any valid one are told apart by their first bytes. */
    const unsigned char *p = (const unsigned char *)shipment_id;
    for (size_t i = 0; p[i] && i < AC_EVENT_MAX_ID_LEN; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h ? h : 1;
}

static void parcel_delivered(ac_journey_t *j, uint64_t shipment, int64_t at)
{
    for (size_t i = 0; i < j->n_parcels; i++) {
        if (j->parcels[i].shipment == shipment) {
            if (at < j->parcels[i].at)
                j->parcels[i].at = at;
            return;
        }
    }
    if (j->n_parcels < AC_JOURNEY_MAX_PARCELS) {
        j->parcels[j->n_parcels].shipment = shipment;
        j->parcels[j->n_parcels++].at = at;
    }
}

void ac_journey_merge(ac_journey_t *j, const ac_event_t *ev)
{
    if (ev->type == AC_EVENT_SHIPMENT_DELIVERED)
        parcel_delivered(j, parcel_hash(ev->shipment.id), ev->occurred_ms);
    ac_fact_t f[AC_FACT__COUNT];
    size_t n = ac_journey_facts(ev, f);
    for (size_t i = 0; i < n; i++)
        if (j->at[f[i]] == 0 || ev->occurred_ms < j->at[f[i]])
            j->at[f[i]] = ev->occurred_ms;
    if (!j->promised[0])
        ac_time_date(ev->order.promised_delivery_date, j->promised);
}

#define BIT(f) (1u << (f))

unsigned ac_journey_blockers(ac_kind_t kind)
{
    switch (kind) {
    case AC_KIND_SHIPPING_UPDATE:
    case AC_KIND_DELAY_NOTICE:
        /* News about the parcel is noise once it arrived or was sent back. */
        return BIT(AC_FACT_CANCELLED) | BIT(AC_FACT_DELIVERED) | BIT(AC_FACT_RETURNED);
    case AC_KIND_REVIEW_REQUEST:
        /* Customers returning the item, or who already told us what they
         * think, are not asked again. */
        return BIT(AC_FACT_CANCELLED) | BIT(AC_FACT_RETURNED) | BIT(AC_FACT_FEEDBACK);
    case AC_KIND_REFERRAL_INVITE:
        /* Only happy customers are asked to recommend the store. */
        return BIT(AC_FACT_CANCELLED) | BIT(AC_FACT_RETURNED) | BIT(AC_FACT_UNHAPPY);
    default:
        /* Confirmations, cancellation, return and refund notices answer
         * something the customer or the store just did. */
        return 0;
    }
}

const char *ac_journey_blockers_csv(ac_kind_t kind)
{
    switch (kind) {
    case AC_KIND_SHIPPING_UPDATE:
    case AC_KIND_DELAY_NOTICE:
        return "cancelled,delivered,returned";
    case AC_KIND_REVIEW_REQUEST:
        return "cancelled,returned,feedback";
    case AC_KIND_REFERRAL_INVITE:
        return "cancelled,returned,unhappy";
    default:
        return "";
    }
}

const char *ac_journey_order_blockers_csv(ac_kind_t kind)
{
    /* Which parcel "delivered" is about is not in the schedule's item:
     * for news about one parcel only the order-wide facts are checked at
     * fire time, and notify-worker checks the parcel before sending. */
    if (ac_journey_blockers(kind) & BIT(AC_FACT_DELIVERED))
        return "cancelled,returned";
    return ac_journey_blockers_csv(kind);
}

int ac_journey_blocked_parcel(const ac_journey_t *j, ac_kind_t kind, int64_t at_ms,
                              const char *shipment_id, ac_fact_t *why)
{
    if (!shipment_id || !*shipment_id || !(ac_journey_blockers(kind) & BIT(AC_FACT_DELIVERED)))
        return ac_journey_blocked(j, kind, at_ms, why);
    /* Judge "delivered" by this parcel, and by deliveries naming none. */
    ac_journey_t k = *j;
    uint64_t mine = parcel_hash(shipment_id);
    k.at[AC_FACT_DELIVERED] = 0;
    for (size_t i = 0; i < j->n_parcels; i++) {
        uint64_t s = j->parcels[i].shipment;
        if ((s == mine || s == 0) &&
            (k.at[AC_FACT_DELIVERED] == 0 || j->parcels[i].at < k.at[AC_FACT_DELIVERED]))
            k.at[AC_FACT_DELIVERED] = j->parcels[i].at;
    }
    return ac_journey_blocked(&k, kind, at_ms, why);
}

const char *ac_journey_requires_csv(ac_kind_t kind)
{
    return kind == AC_KIND_REFERRAL_INVITE ? "consent" : "";
}

int ac_journey_blocked(const ac_journey_t *j, ac_kind_t kind, int64_t at_ms, ac_fact_t *why)
{
    unsigned b = ac_journey_blockers(kind);
    int found = 0;
    int64_t earliest = 0;
    for (int f = 0; f < AC_FACT__COUNT; f++) {
        if (!(b & BIT(f)) || j->at[f] == 0 || j->at[f] > at_ms)
            continue;
        if (!found || j->at[f] < earliest) {
            earliest = j->at[f];
            if (why)
                *why = (ac_fact_t)f;
        }
        found = 1;
    }
    return found;
}

void ac_journey_key(const char *store_id, const char *order_id, char *buf, size_t bufsz)
{
    ac_redis_key(buf, bufsz, "j", store_id, order_id);
}

void ac_journey_parse(const char *const *fields, const char *const *values, size_t n,
                      ac_journey_t *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        if (strcmp(fields[i], "promised") == 0) {
            ac_time_date(values[i], out->promised);
            continue;
        }
        if (strncmp(fields[i], "d:", 2) == 0) {
            parcel_delivered(out, parcel_hash(fields[i] + 2), strtoll(values[i], NULL, 10));
            continue;
        }
        for (int f = 0; f < AC_FACT__COUNT; f++)
            if (strcmp(fields[i], fact_names[f]) == 0)
                out->at[f] = strtoll(values[i], NULL, 10);
    }
}
