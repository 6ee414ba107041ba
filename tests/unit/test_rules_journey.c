/* Unit tests for common/rules with a journey: shipping updates, delay
 * notices (announced and detected), the review request and referral
 * invitation scheduled on delivery, what returns, cancellations and
 * feedback cancel, and that the messages an order ends up with do not
 * depend on the order its events were processed in. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "timeutil.h"
#include "test_util.h"

#define DAY 86400000LL

/* What a test event carries; NULL or 0 leaves the field out. */
typedef struct spec {
    const char *type;
    const char *at;       /* occurred_at; default 2026-11-25T10:00:00Z */
    const char *store;    /* default st_1 */
    const char *order;    /* default ord_1 */
    const char *promised; /* order.promised_delivery_date */
    const char *consent;  /* customer.marketing_consent as JSON: "true", "false" */
    const char *shipment; /* shipment.id; default sh_1 on shipment events */
    const char *estimate; /* shipment.estimated_delivery */
    const char *ret;      /* return.id; default ret_1 on return events */
    int rating;           /* feedback.rating */
} spec_t;

static ac_event_t *make_event(const spec_t *s)
{
    static int seq;
    char json[2048], order[256], customer[256], shipment[256] = "", ret[128] = "", fb[64] = "";
    snprintf(order, sizeof(order), "{\"id\":\"%s\",\"number\":\"1001\"%s%s%s}",
             s->order ? s->order : "ord_1", s->promised ? ",\"promised_delivery_date\":\"" : "",
             s->promised ? s->promised : "", s->promised ? "\"" : "");
    snprintf(customer, sizeof(customer), "{\"id\":\"cus_1\",\"email\":\"zoe@example.com\"%s%s}",
             s->consent ? ",\"marketing_consent\":" : "", s->consent ? s->consent : "");
    if (s->shipment || s->estimate || strncmp(s->type, "shipment.", 9) == 0)
        snprintf(shipment, sizeof(shipment), ",\"shipment\":{\"id\":\"%s\"%s%s%s}",
                 s->shipment ? s->shipment : "sh_1",
                 s->estimate ? ",\"estimated_delivery\":\"" : "", s->estimate ? s->estimate : "",
                 s->estimate ? "\"" : "");
    if (s->ret || strncmp(s->type, "return.", 7) == 0)
        snprintf(ret, sizeof(ret), ",\"return\":{\"id\":\"%s\"}", s->ret ? s->ret : "ret_1");
    if (s->rating)
        snprintf(fb, sizeof(fb), ",\"feedback\":{\"rating\":%d}", s->rating);
    snprintf(json, sizeof(json),
             "{\"event_id\":\"evt_%d\",\"type\":\"%s\",\"occurred_at\":\"%s\","
             "\"store\":{\"id\":\"%s\"},\"order\":%s,\"customer\":%s%s%s%s}",
             ++seq, s->type, s->at ? s->at : "2026-11-25T10:00:00Z", s->store ? s->store : "st_1",
             order, customer, shipment, ret, fb);
    ac_event_error_t err;
    ac_event_t *ev = ac_event_parse(json, strlen(json), 0, &err);
    if (!ev)
        fail_msg("test event does not parse: %s: %s", err.detail, json);
    return ev;
}

#define EV(...) make_event(&(spec_t){__VA_ARGS__})

/* Every flag on, a review after a week and a referral after two. */
static const ac_store_settings_t all_on = {.review_delay_ms = 7 * DAY,
                                           .referral_delay_ms = 14 * DAY,
                                           .shipped_updates = 1,
                                           .out_for_delivery_updates = 1,
                                           .review_requests = 1,
                                           .referral_invites = 1};

static int64_t ms(const char *rfc3339)
{
    int64_t v;
    if (ac_time_parse(rfc3339, &v) < 0)
        fail_msg("bad test time %s", rfc3339);
    return v;
}

/* The rules of ev's topic, as the worker consuming it would run them. */
static ac_rules_fn rules_for(const ac_event_t *ev)
{
    const char *topic = ac_event_type_topic(ev->type);
    if (topic && strcmp(topic, "orders") == 0)
        return ac_rules_orders;
    if (topic && strcmp(topic, "shipments") == 0)
        return ac_rules_shipments;
    if (topic && strcmp(topic, "returns") == 0)
        return ac_rules_returns;
    fail_msg("no topic for %s", ev->type_name);
    return NULL;
}

/* Runs fn over a sentinel-filled output array. */
static size_t run(ac_rules_fn fn, const ac_event_t *ev, const ac_journey_t *j,
                  const ac_store_settings_t *s, ac_decision_t out[AC_RULES_MAX_DECISIONS])
{
    memset(out, 0x5a, sizeof(ac_decision_t) * AC_RULES_MAX_DECISIONS);
    size_t n = fn(ev, j, s, out, AC_RULES_MAX_DECISIONS);
    assert_true(n <= AC_RULES_MAX_DECISIONS);
    return n;
}

/* What the pipeline does with an event: record its facts in the journey
 * first, then run its topic's rules over that journey. */
static size_t process(ac_journey_t *j, const ac_event_t *ev, const ac_store_settings_t *s,
                      ac_decision_t out[AC_RULES_MAX_DECISIONS])
{
    ac_journey_merge(j, ev);
    return run(rules_for(ev), ev, j, s, out);
}

/* A journey that has seen evs (NULL-terminated). */
static ac_journey_t journey_of(ac_event_t *const *evs)
{
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    for (size_t i = 0; evs[i]; i++)
        ac_journey_merge(&j, evs[i]);
    return j;
}

static const char *action_name(ac_action_t a)
{
    switch (a) {
    case AC_ACTION_SEND:
        return "SEND";
    case AC_ACTION_SCHEDULE:
        return "SCHEDULE";
    case AC_ACTION_CANCEL:
        return "CANCEL";
    case AC_ACTION_SUPPRESS:
        return "SUPPRESS";
    }
    return "?";
}

/* Fails at the caller's line unless d is exactly this decision about ev's
 * order: its id is ac_message_id(kind, store, order, disc). */
static void check(const ac_event_t *ev, const ac_decision_t *d, ac_kind_t kind, ac_action_t action,
                  const char *disc, int64_t due, const char *reason, int line)
{
    char id[AC_MESSAGE_ID_LEN];
    ac_message_id(kind, ev->store.id, ev->order.id, disc, id);
    int ok = d->kind == kind && d->action == action && strcmp(d->id, id) == 0 && d->due_ms == due &&
             (reason ? d->reason && strcmp(d->reason, reason) == 0 : d->reason == NULL);
    if (!ok) {
        print_error("expected %s %s [%s] due %lld reason %s, got %s %s due %lld reason %s "
                    "(id %s the expected one)\n",
                    action_name(action), ac_kind_name(kind), disc ? disc : "NULL", (long long)due,
                    reason ? reason : "NULL", action_name(d->action), ac_kind_name(d->kind),
                    (long long)d->due_ms, d->reason ? d->reason : "NULL",
                    strcmp(d->id, id) == 0 ? "is" : "is not");
        _fail(__FILE__, line);
    }
}

#define CHECK(ev, d, kind, action, disc, due, reason)                                              \
    check((ev), (d), (kind), (action), (disc), (due), (reason), __LINE__)

/* ---- shipping updates ------------------------------------------------ */

static void test_shipped_sends_update(void **state)
{
    (void)state;
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *ev = EV(.type = "shipment.shipped", .shipment = "sh_1");
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    assert_int_equal(process(&j, ev, &all_on, d), 1);
    CHECK(ev, &d[0], AC_KIND_SHIPPING_UPDATE, AC_ACTION_SEND, "sh_1:shipment.shipped", 0, NULL);
    ac_event_destroy(ev);
}

static void test_shipping_update_per_shipment_and_stage(void **state)
{
    (void)state;
    /* An order in two parcels gets an update for each, and each parcel one
     * per stage; the same stage reported again is the same message. */
    ac_event_t *evs[] = {
        EV(.type = "shipment.shipped", .shipment = "sh_1"),
        EV(.type = "shipment.shipped", .shipment = "sh_2"),
        EV(.type = "shipment.out_for_delivery", .shipment = "sh_1", .at = "2026-11-27T07:00:00Z"),
        EV(.type = "shipment.out_for_delivery", .shipment = "sh_2", .at = "2026-11-27T07:00:00Z"),
    };
    char ids[4][AC_MESSAGE_ID_LEN];
    for (size_t i = 0; i < 4; i++) {
        ac_journey_t j;
        memset(&j, 0, sizeof(j));
        ac_decision_t d[AC_RULES_MAX_DECISIONS];
        assert_int_equal(process(&j, evs[i], &all_on, d), 1);
        char disc[64];
        snprintf(disc, sizeof(disc), "%s:%s", evs[i]->shipment.id, evs[i]->type_name);
        CHECK(evs[i], &d[0], AC_KIND_SHIPPING_UPDATE, AC_ACTION_SEND, disc, 0, NULL);
        memcpy(ids[i], d[0].id, AC_MESSAGE_ID_LEN);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(ids[i], ids[k]);
    }
    ac_event_t *again =
        EV(.type = "shipment.shipped", .shipment = "sh_1", .at = "2026-11-25T11:00:00Z");
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    assert_int_equal(process(&j, again, &all_on, d), 1);
    assert_string_equal(d[0].id, ids[0]);
    ac_event_destroy(again);
    for (size_t i = 0; i < 4; i++)
        ac_event_destroy(evs[i]);
}

static void test_shipping_updates_disabled(void **state)
{
    (void)state;
    ac_store_settings_t s = all_on;
    ac_event_t *shipped = EV(.type = "shipment.shipped");
    ac_event_t *ofd = EV(.type = "shipment.out_for_delivery", .at = "2026-11-27T07:00:00Z");
    ac_journey_t j;
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    /* Each stage has its own switch; a disabled one is suppressed (and
     * counted), the other still goes out. */
    s.shipped_updates = 0;
    memset(&j, 0, sizeof(j));
    assert_int_equal(process(&j, shipped, &s, d), 1);
    CHECK(shipped, &d[0], AC_KIND_SHIPPING_UPDATE, AC_ACTION_SUPPRESS, "sh_1:shipment.shipped", 0,
          "disabled");
    assert_int_equal(process(&j, ofd, &s, d), 1);
    CHECK(ofd, &d[0], AC_KIND_SHIPPING_UPDATE, AC_ACTION_SEND, "sh_1:shipment.out_for_delivery", 0,
          NULL);
    s = all_on;
    s.out_for_delivery_updates = 0;
    memset(&j, 0, sizeof(j));
    assert_int_equal(process(&j, shipped, &s, d), 1);
    CHECK(shipped, &d[0], AC_KIND_SHIPPING_UPDATE, AC_ACTION_SEND, "sh_1:shipment.shipped", 0,
          NULL);
    assert_int_equal(process(&j, ofd, &s, d), 1);
    CHECK(ofd, &d[0], AC_KIND_SHIPPING_UPDATE, AC_ACTION_SUPPRESS, "sh_1:shipment.out_for_delivery",
          0, "disabled");
    ac_event_destroy(shipped);
    ac_event_destroy(ofd);
}

static void test_shipping_update_late_arrival(void **state)
{
    (void)state;
    /* The shipped event processed after the delivery (another topic's
     * backlog) still happened before it: the update goes out as it would
     * have in order. */
    ac_event_t *shipped = EV(.type = "shipment.shipped", .at = "2026-11-26T08:00:00Z");
    ac_event_t *delivered = EV(.type = "shipment.delivered", .at = "2026-11-28T12:00:00Z");
    ac_event_t *seen[] = {delivered, NULL};
    ac_journey_t j = journey_of(seen);
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    assert_int_equal(process(&j, shipped, &all_on, d), 1);
    CHECK(shipped, &d[0], AC_KIND_SHIPPING_UPDATE, AC_ACTION_SEND, "sh_1:shipment.shipped", 0,
          NULL);
    /* A scan after the parcel arrived is news to nobody. */
    ac_event_t *rescan = EV(.type = "shipment.out_for_delivery", .at = "2026-11-28T12:00:00Z");
    assert_int_equal(process(&j, rescan, &all_on, d), 1);
    CHECK(rescan, &d[0], AC_KIND_SHIPPING_UPDATE, AC_ACTION_SUPPRESS,
          "sh_1:shipment.out_for_delivery", 0, "delivered");
    ac_event_destroy(shipped);
    ac_event_destroy(delivered);
    ac_event_destroy(rescan);
}

static void test_in_transit_on_time_is_quiet(void **state)
{
    (void)state;
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *ev =
        EV(.type = "shipment.in_transit", .promised = "2026-11-28", .estimate = "2026-11-28");
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    assert_int_equal(process(&j, ev, &all_on, d), 0);
    ac_event_destroy(ev);
    ev = EV(.type = "shipment.in_transit");
    assert_int_equal(process(&j, ev, &all_on, d), 0);
    ac_event_destroy(ev);
}

/* ---- delay notices announced by the carrier -------------------------- */

static void test_delayed_sends_notice_with_date(void **state)
{
    (void)state;
    static const struct {
        const char *type, *estimate, *disc;
    } cases[] = {
        {"shipment.delayed", "2026-11-30", "2026-11-30"},
        /* The calendar date of an RFC 3339 estimate, as written. */
        {"shipment.delayed", "2026-11-30T18:00:00+01:00", "2026-11-30"},
        {"shipment.exception", "2026-11-30", "2026-11-30"},
        {"shipment.exception", "2026-12-02T09:00:00Z", "2026-12-02"},
        /* No usable estimate: one notice without a date. */
        {"shipment.delayed", NULL, ""},
        {"shipment.delayed", "in a few days", ""},
        {"shipment.exception", NULL, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ac_journey_t j;
        memset(&j, 0, sizeof(j));
        ac_event_t *ev = EV(.type = cases[i].type, .estimate = cases[i].estimate);
        ac_decision_t d[AC_RULES_MAX_DECISIONS];
        assert_int_equal(process(&j, ev, &all_on, d), 1);
        CHECK(ev, &d[0], AC_KIND_DELAY_NOTICE, AC_ACTION_SEND, cases[i].disc, 0, NULL);
        ac_event_destroy(ev);
    }
}

static void test_delayed_once_even_when_late(void **state)
{
    (void)state;
    /* A delay past the promised date is one notice, not one announced and
     * one detected. */
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *ev =
        EV(.type = "shipment.delayed", .promised = "2026-11-28", .estimate = "2026-11-30");
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    assert_int_equal(process(&j, ev, &all_on, d), 1);
    CHECK(ev, &d[0], AC_KIND_DELAY_NOTICE, AC_ACTION_SEND, "2026-11-30", 0, NULL);
    ac_event_destroy(ev);
}

static void test_delay_blocked_by_earlier_delivery(void **state)
{
    (void)state;
    ac_event_t *delayed =
        EV(.type = "shipment.delayed", .at = "2026-11-28T12:00:00Z", .estimate = "2026-11-30");
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    /* Delivered before (or at) the delay was reported: the notice would
     * only confuse. */
    static const char *when[] = {"2026-11-27T18:00:00Z", "2026-11-28T12:00:00Z"};
    for (size_t i = 0; i < 2; i++) {
        ac_event_t *delivered = EV(.type = "shipment.delivered", .at = when[i]);
        ac_event_t *seen[] = {delivered, NULL};
        ac_journey_t j = journey_of(seen);
        assert_int_equal(process(&j, delayed, &all_on, d), 1);
        CHECK(delayed, &d[0], AC_KIND_DELAY_NOTICE, AC_ACTION_SUPPRESS, "2026-11-30", 0,
              "delivered");
        ac_event_destroy(delivered);
    }
    /* The same for a cancelled order or a parcel on its way back. */
    static const struct {
        const char *type, *reason;
    } others[] = {{"order.cancelled", "cancelled"}, {"return.requested", "returned"}};
    for (size_t i = 0; i < 2; i++) {
        ac_event_t *blocker = EV(.type = others[i].type, .at = "2026-11-27T18:00:00Z");
        ac_event_t *seen[] = {blocker, NULL};
        ac_journey_t j = journey_of(seen);
        assert_int_equal(process(&j, delayed, &all_on, d), 1);
        CHECK(delayed, &d[0], AC_KIND_DELAY_NOTICE, AC_ACTION_SUPPRESS, "2026-11-30", 0,
              others[i].reason);
        ac_event_destroy(blocker);
    }
    ac_event_destroy(delayed);
}

static void test_delay_before_delivery_any_order(void **state)
{
    (void)state;
    /* The delay happened on the 28th, the delivery on the 30th. Whether
     * the delivery was processed first or not, the notice goes out, with
     * the same id. */
    ac_event_t *delayed =
        EV(.type = "shipment.delayed", .at = "2026-11-28T12:00:00Z", .estimate = "2026-11-30");
    ac_event_t *delivered = EV(.type = "shipment.delivered", .at = "2026-11-30T10:00:00Z");
    ac_decision_t in_order[AC_RULES_MAX_DECISIONS], late[AC_RULES_MAX_DECISIONS];
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    assert_int_equal(process(&j, delayed, &all_on, in_order), 1);
    ac_event_t *seen[] = {delivered, NULL};
    j = journey_of(seen);
    assert_int_equal(process(&j, delayed, &all_on, late), 1);
    CHECK(delayed, &in_order[0], AC_KIND_DELAY_NOTICE, AC_ACTION_SEND, "2026-11-30", 0, NULL);
    CHECK(delayed, &late[0], AC_KIND_DELAY_NOTICE, AC_ACTION_SEND, "2026-11-30", 0, NULL);
    ac_event_destroy(delayed);
    ac_event_destroy(delivered);
}

/* ---- delays detected from a slipping estimate ------------------------ */

/* The id a shipment.delayed event with this estimate gets. */
static void delayed_id(const char *estimate, char id[AC_MESSAGE_ID_LEN])
{
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *ev = EV(.type = "shipment.delayed", .estimate = estimate);
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    assert_int_equal(process(&j, ev, &all_on, d), 1);
    memcpy(id, d[0].id, AC_MESSAGE_ID_LEN);
    ac_event_destroy(ev);
}

static void test_proactive_late_estimate(void **state)
{
    (void)state;
    char want[AC_MESSAGE_ID_LEN];
    delayed_id("2026-11-30", want);
    /* Shipped with an estimate two days past the promise: the update and
     * the delay notice the carrier would have sent. */
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *ev = EV(.type = "shipment.shipped", .promised = "2026-11-28",
                        .estimate = "2026-11-30T20:00:00+01:00");
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    assert_int_equal(process(&j, ev, &all_on, d), 2);
    CHECK(ev, &d[0], AC_KIND_SHIPPING_UPDATE, AC_ACTION_SEND, "sh_1:shipment.shipped", 0, NULL);
    CHECK(ev, &d[1], AC_KIND_DELAY_NOTICE, AC_ACTION_SEND, "2026-11-30", 0, NULL);
    assert_string_equal(d[1].id, want);
    ac_event_destroy(ev);
    /* Any news of the parcel counts, announced as a delay or not. */
    static const char *types[] = {"shipment.in_transit", "shipment.out_for_delivery"};
    for (size_t i = 0; i < 2; i++) {
        memset(&j, 0, sizeof(j));
        ev = EV(.type = types[i], .promised = "2026-11-28", .estimate = "2026-11-30");
        size_t n = process(&j, ev, &all_on, d);
        assert_true(n >= 1);
        CHECK(ev, &d[n - 1], AC_KIND_DELAY_NOTICE, AC_ACTION_SEND, "2026-11-30", 0, NULL);
        assert_string_equal(d[n - 1].id, want);
        ac_event_destroy(ev);
    }
}

static void test_proactive_same_estimate_same_id(void **state)
{
    (void)state;
    /* The estimate repeated on every scan is one notice; a further slip is
     * a second one. */
    ac_event_t *placed = EV(.type = "order.placed", .promised = "2026-11-28");
    ac_event_t *evs[] = {
        EV(.type = "shipment.shipped", .at = "2026-11-26T08:00:00Z", .estimate = "2026-11-30"),
        EV(.type = "shipment.in_transit", .at = "2026-11-27T08:00:00Z", .estimate = "2026-11-30"),
        EV(.type = "shipment.in_transit", .at = "2026-11-29T08:00:00Z", .estimate = "2026-12-02"),
        EV(.type = "shipment.out_for_delivery", .at = "2026-12-02T06:00:00Z",
           .estimate = "2026-12-02"),
    };
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    process(&j, placed, &all_on, d);
    char ids[4][AC_MESSAGE_ID_LEN];
    for (size_t i = 0; i < 4; i++) {
        size_t n = process(&j, evs[i], &all_on, d);
        assert_true(n >= 1);
        CHECK(evs[i], &d[n - 1], AC_KIND_DELAY_NOTICE, AC_ACTION_SEND,
              i < 2 ? "2026-11-30" : "2026-12-02", 0, NULL);
        memcpy(ids[i], d[n - 1].id, AC_MESSAGE_ID_LEN);
    }
    assert_string_equal(ids[0], ids[1]);
    assert_string_not_equal(ids[1], ids[2]);
    assert_string_equal(ids[2], ids[3]);
    ac_event_destroy(placed);
    for (size_t i = 0; i < 4; i++)
        ac_event_destroy(evs[i]);
}

static void test_proactive_needs_a_late_estimate(void **state)
{
    (void)state;
    static const struct {
        const char *promised, *estimate;
    } cases[] = {
        {"2026-11-28", "2026-11-28"},           /* on the promised day */
        {"2026-11-28", "2026-11-28T23:59:00Z"}, /* late that day is still that day */
        {"2026-11-28", "2026-11-27"},           /* early */
        {NULL, "2026-12-30"},                   /* nothing was promised */
        {"2026-11-28", NULL},                   /* no estimate */
        {"2026-11-28", "soon"},                 /* no usable estimate */
        {"whenever", "2026-12-30"},             /* no usable promise */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ac_journey_t j;
        memset(&j, 0, sizeof(j));
        ac_event_t *ev = EV(.type = "shipment.in_transit", .promised = cases[i].promised,
                            .estimate = cases[i].estimate);
        ac_decision_t d[AC_RULES_MAX_DECISIONS];
        if (process(&j, ev, &all_on, d) != 0)
            fail_msg("promised %s, estimate %s: %s", cases[i].promised ? cases[i].promised : "NULL",
                     cases[i].estimate ? cases[i].estimate : "NULL", ac_kind_name(d[0].kind));
        ac_event_destroy(ev);
    }
}

static void test_proactive_promise_from_journey(void **state)
{
    (void)state;
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    ac_event_t *placed = EV(.type = "order.placed", .promised = "2026-11-28");
    ac_event_t *seen[] = {placed, NULL};
    /* The shipment event does not repeat the promise: the order's is used. */
    ac_event_t *ev = EV(.type = "shipment.in_transit", .estimate = "2026-11-29");
    ac_journey_t j = journey_of(seen);
    assert_int_equal(process(&j, ev, &all_on, d), 1);
    CHECK(ev, &d[0], AC_KIND_DELAY_NOTICE, AC_ACTION_SEND, "2026-11-29", 0, NULL);
    ac_event_destroy(ev);
    /* The event's own promise wins over the journey's. */
    ev = EV(.type = "shipment.in_transit", .promised = "2026-12-01", .estimate = "2026-11-29");
    j = journey_of(seen);
    assert_int_equal(process(&j, ev, &all_on, d), 0);
    ac_event_destroy(ev);
    ac_event_destroy(placed);
}

static void test_proactive_blocked_and_disabled(void **state)
{
    (void)state;
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    /* Updates switched off do not silence the delay notice. */
    ac_store_settings_t quiet = all_on;
    quiet.shipped_updates = quiet.out_for_delivery_updates = 0;
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *ev =
        EV(.type = "shipment.shipped", .promised = "2026-11-28", .estimate = "2026-11-30");
    assert_int_equal(process(&j, ev, &quiet, d), 2);
    CHECK(ev, &d[0], AC_KIND_SHIPPING_UPDATE, AC_ACTION_SUPPRESS, "sh_1:shipment.shipped", 0,
          "disabled");
    CHECK(ev, &d[1], AC_KIND_DELAY_NOTICE, AC_ACTION_SEND, "2026-11-30", 0, NULL);
    ac_event_destroy(ev);
    /* A late estimate on a scan after the delivery is not news. */
    ac_event_t *delivered = EV(.type = "shipment.delivered", .at = "2026-11-29T10:00:00Z");
    ac_event_t *seen[] = {delivered, NULL};
    j = journey_of(seen);
    ev = EV(.type = "shipment.in_transit", .at = "2026-11-29T11:00:00Z", .promised = "2026-11-28",
            .estimate = "2026-11-30");
    assert_int_equal(process(&j, ev, &all_on, d), 1);
    CHECK(ev, &d[0], AC_KIND_DELAY_NOTICE, AC_ACTION_SUPPRESS, "2026-11-30", 0, "delivered");
    ac_event_destroy(ev);
    ac_event_destroy(delivered);
}

static void test_late_estimate_edges(void **state)
{
    (void)state;
    ac_journey_t jp;
    memset(&jp, 0, sizeof(jp));
    memcpy(jp.promised, "2026-11-28", 11);
    static const struct {
        const char *promised, *estimate;
        int use_journey, late;
        const char *date;
    } cases[] = {
        {"2026-11-28", "2026-11-29", 0, 1, "2026-11-29"},
        {"2026-11-28", "2026-11-29T00:30:00+01:00", 0, 1, "2026-11-29"},
        {"2026-11-28", "2027-01-02", 0, 1, "2027-01-02"},
        {"2026-11-28T18:00:00Z", "2026-11-29", 0, 1, "2026-11-29"},
        {"2026-11-28", "2026-11-28", 0, 0, NULL},
        {"2026-11-28", "2026-11-01", 0, 0, NULL},
        {"2026-12-31", "2027-01-01", 0, 1, "2027-01-01"},
        /* No promise on the event: the journey's, if any. */
        {NULL, "2026-11-29", 1, 1, "2026-11-29"},
        {NULL, "2026-11-28", 1, 0, NULL},
        {NULL, "2026-11-29", 0, 0, NULL},
        {"not a date", "2026-11-29", 1, 1, "2026-11-29"},
        /* The event's promise, when valid, wins over the journey's. */
        {"2026-11-30", "2026-11-29", 1, 0, NULL},
        /* Without a usable estimate nothing is late. */
        {"2026-11-28", NULL, 1, 0, NULL},
        {"2026-11-28", "2026-13-01", 1, 0, NULL},
        {"2026-11-28", "tomorrow", 1, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ac_event_t *ev = EV(.type = "shipment.in_transit", .promised = cases[i].promised,
                            .estimate = cases[i].estimate);
        char late[11];
        memset(late, 'x', sizeof(late));
        int got = ac_rules_late_estimate(ev, cases[i].use_journey ? &jp : NULL, late);
        if (got != cases[i].late)
            fail_msg("case %zu (promised %s, estimate %s): %d", i,
                     cases[i].promised ? cases[i].promised : "NULL",
                     cases[i].estimate ? cases[i].estimate : "NULL", got);
        if (cases[i].late)
            assert_string_equal(late, cases[i].date);
        ac_event_destroy(ev);
    }
    /* An empty journey has no promise either. */
    ac_journey_t empty;
    memset(&empty, 0, sizeof(empty));
    ac_event_t *ev = EV(.type = "shipment.in_transit", .estimate = "2026-11-29");
    char late[11];
    assert_int_equal(ac_rules_late_estimate(ev, &empty, late), 0);
    ac_event_destroy(ev);
}

/* ---- on delivery: review request and referral invitation -------------- */

static void test_delivered_schedules(void **state)
{
    (void)state;
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *ev =
        EV(.type = "shipment.delivered", .at = "2026-11-30T12:00:00Z", .consent = "true");
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    assert_int_equal(process(&j, ev, &all_on, d), 2);
    int64_t t = ms("2026-11-30T12:00:00Z");
    CHECK(ev, &d[0], AC_KIND_REVIEW_REQUEST, AC_ACTION_SCHEDULE, NULL, t + 7 * DAY, NULL);
    CHECK(ev, &d[1], AC_KIND_REFERRAL_INVITE, AC_ACTION_SCHEDULE, NULL, t + 14 * DAY, NULL);
    /* A store's own delays. */
    ac_store_settings_t s = all_on;
    s.review_delay_ms = 3 * DAY;
    s.referral_delay_ms = 36 * 3600000LL;
    memset(&j, 0, sizeof(j));
    assert_int_equal(process(&j, ev, &s, d), 2);
    CHECK(ev, &d[0], AC_KIND_REVIEW_REQUEST, AC_ACTION_SCHEDULE, NULL, t + 3 * DAY, NULL);
    CHECK(ev, &d[1], AC_KIND_REFERRAL_INVITE, AC_ACTION_SCHEDULE, NULL, t + 36 * 3600000LL, NULL);
    ac_event_destroy(ev);
}

static void test_delivered_counts_from_first_delivery(void **state)
{
    (void)state;
    /* The first parcel arrived on the 28th: the second one's delivery, or
     * a replay, does not push the review request later. */
    ac_event_t *first =
        EV(.type = "shipment.delivered", .shipment = "sh_1", .at = "2026-11-28T12:00:00Z");
    ac_event_t *second = EV(.type = "shipment.delivered", .shipment = "sh_2",
                            .at = "2026-11-30T12:00:00Z", .consent = "true");
    ac_event_t *seen[] = {first, NULL};
    ac_journey_t j = journey_of(seen);
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    assert_int_equal(process(&j, second, &all_on, d), 2);
    CHECK(second, &d[0], AC_KIND_REVIEW_REQUEST, AC_ACTION_SCHEDULE, NULL,
          first->occurred_ms + 7 * DAY, NULL);
    CHECK(second, &d[1], AC_KIND_REFERRAL_INVITE, AC_ACTION_SCHEDULE, NULL,
          first->occurred_ms + 14 * DAY, NULL);
    /* And when the journey somehow lacks the event's own delivery, the
     * event's time is the delivery time. */
    memset(&j, 0, sizeof(j));
    assert_int_equal(run(ac_rules_shipments, second, &j, &all_on, d), 2);
    CHECK(second, &d[0], AC_KIND_REVIEW_REQUEST, AC_ACTION_SCHEDULE, NULL,
          second->occurred_ms + 7 * DAY, NULL);
    ac_event_destroy(first);
    ac_event_destroy(second);
}

static void test_referral_needs_consent(void **state)
{
    (void)state;
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    int64_t t = ms("2026-11-30T12:00:00Z");
    /* Whatever is known of the consent so far, the invitation is
     * scheduled: the event that gives it may be processed later, so it is
     * required when the invitation fires (schedule.c), which makes the
     * outcome the same in any processing order. */
    static const char *consent[] = {NULL, "false", "true"};
    for (size_t i = 0; i < 3; i++) {
        ac_event_t *placed = EV(.type = "order.placed", .consent = consent[i]);
        ac_event_t *seen[] = {placed, NULL};
        ac_journey_t j = journey_of(seen);
        ac_event_t *ev =
            EV(.type = "shipment.delivered", .at = "2026-11-30T12:00:00Z", .consent = consent[i]);
        assert_int_equal(process(&j, ev, &all_on, d), 2);
        CHECK(ev, &d[0], AC_KIND_REVIEW_REQUEST, AC_ACTION_SCHEDULE, NULL, t + 7 * DAY, NULL);
        CHECK(ev, &d[1], AC_KIND_REFERRAL_INVITE, AC_ACTION_SCHEDULE, NULL, t + 14 * DAY, NULL);
        assert_int_equal(j.at[AC_FACT_CONSENT] != 0, i == 2);
        ac_event_destroy(ev);
        ac_event_destroy(placed);
    }
    assert_string_equal(ac_journey_requires_csv(AC_KIND_REFERRAL_INVITE), "consent");
    assert_string_equal(ac_journey_requires_csv(AC_KIND_REVIEW_REQUEST), "");
    /* Disabled by the store: nothing to schedule. */
    ac_store_settings_t off = all_on;
    off.referral_invites = 0;
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *ev = EV(.type = "shipment.delivered", .at = "2026-11-30T12:00:00Z");
    assert_int_equal(process(&j, ev, &off, d), 2);
    CHECK(ev, &d[1], AC_KIND_REFERRAL_INVITE, AC_ACTION_SUPPRESS, NULL, 0, "disabled");
    ac_event_destroy(ev);
}

/* Two parcels of one order: the first one's delivery does not silence
 * news about the second. */
static void test_parcels_are_judged_one_by_one(void **state)
{
    (void)state;
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    ac_event_t *first =
        EV(.type = "shipment.delivered", .at = "2026-11-20T12:00:00Z", .shipment = "sh_1");
    ac_event_t *seen[] = {first, NULL};
    ac_journey_t j = journey_of(seen);
    ac_event_t *shipped =
        EV(.type = "shipment.shipped", .at = "2026-11-22T12:00:00Z", .shipment = "sh_2");
    assert_int_equal(process(&j, shipped, &all_on, d), 1);
    assert_int_equal(d[0].action, AC_ACTION_SEND);
    ac_event_t *delayed = EV(.type = "shipment.delayed", .at = "2026-11-24T12:00:00Z",
                             .shipment = "sh_2", .estimate = "2026-11-29");
    assert_int_equal(process(&j, delayed, &all_on, d), 1);
    assert_int_equal(d[0].action, AC_ACTION_SEND);
    assert_int_equal(d[0].kind, AC_KIND_DELAY_NOTICE);
    /* News about the delivered parcel itself stays quiet. */
    ac_event_t *late = EV(.type = "shipment.delayed", .at = "2026-11-24T12:00:00Z",
                          .shipment = "sh_1", .estimate = "2026-11-30");
    assert_int_equal(process(&j, late, &all_on, d), 1);
    CHECK(late, &d[0], AC_KIND_DELAY_NOTICE, AC_ACTION_SUPPRESS, "2026-11-30", 0, "delivered");
    /* A delivery that names no parcel covers them all. */
    ac_event_t *anon =
        EV(.type = "shipment.delivered", .at = "2026-11-23T12:00:00Z", .shipment = "");
    ac_journey_merge(&j, anon);
    assert_true(
        ac_journey_blocked_parcel(&j, AC_KIND_DELAY_NOTICE, delayed->occurred_ms, "sh_2", NULL));
    assert_false(
        ac_journey_blocked_parcel(&j, AC_KIND_DELAY_NOTICE, shipped->occurred_ms, "sh_2", NULL));
    ac_event_destroy(first);
    ac_event_destroy(shipped);
    ac_event_destroy(delayed);
    ac_event_destroy(late);
    ac_event_destroy(anon);
}

static void test_delivered_after_return(void **state)
{
    (void)state;
    int64_t t = ms("2026-11-30T12:00:00Z");
    static const struct {
        int64_t returned;              /* after delivery */
        const char *review, *referral; /* reason, NULL: scheduled */
    } cases[] = {
        {3 * DAY, "returned", "returned"},
        {7 * DAY, "returned", "returned"}, /* at the review's due time */
        {7 * DAY + 1, NULL, "returned"},
        {10 * DAY, NULL, "returned"},
        {14 * DAY, NULL, "returned"},
        {14 * DAY + 1, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char at[AC_TIME_BUFSZ];
        ac_time_format(t + cases[i].returned, at, sizeof(at));
        ac_event_t *ret = EV(.type = "return.requested", .at = at);
        ac_event_t *seen[] = {ret, NULL};
        ac_journey_t j = journey_of(seen);
        ac_event_t *ev =
            EV(.type = "shipment.delivered", .at = "2026-11-30T12:00:00Z", .consent = "true");
        ac_decision_t d[AC_RULES_MAX_DECISIONS];
        assert_int_equal(process(&j, ev, &all_on, d), 2);
        if (cases[i].review)
            CHECK(ev, &d[0], AC_KIND_REVIEW_REQUEST, AC_ACTION_SUPPRESS, NULL, 0, cases[i].review);
        else
            CHECK(ev, &d[0], AC_KIND_REVIEW_REQUEST, AC_ACTION_SCHEDULE, NULL, t + 7 * DAY, NULL);
        if (cases[i].referral)
            CHECK(ev, &d[1], AC_KIND_REFERRAL_INVITE, AC_ACTION_SUPPRESS, NULL, 0,
                  cases[i].referral);
        else
            CHECK(ev, &d[1], AC_KIND_REFERRAL_INVITE, AC_ACTION_SCHEDULE, NULL, t + 14 * DAY, NULL);
        ac_event_destroy(ret);
        ac_event_destroy(ev);
    }
}

static void test_delivered_after_feedback(void **state)
{
    (void)state;
    int64_t t = ms("2026-11-30T12:00:00Z");
    for (int rating = 1; rating <= 5; rating++) {
        ac_event_t *fb =
            EV(.type = "feedback.received", .at = "2026-12-01T08:00:00Z", .rating = rating);
        ac_event_t *seen[] = {fb, NULL};
        ac_journey_t j = journey_of(seen);
        ac_event_t *ev =
            EV(.type = "shipment.delivered", .at = "2026-11-30T12:00:00Z", .consent = "true");
        ac_decision_t d[AC_RULES_MAX_DECISIONS];
        assert_int_equal(process(&j, ev, &all_on, d), 2);
        /* Whoever rated the order is not asked to review it... */
        CHECK(ev, &d[0], AC_KIND_REVIEW_REQUEST, AC_ACTION_SUPPRESS, NULL, 0, "feedback");
        /* ... and only the happy ones are asked to recommend the store. */
        if (rating <= 3)
            CHECK(ev, &d[1], AC_KIND_REFERRAL_INVITE, AC_ACTION_SUPPRESS, NULL, 0, "unhappy");
        else
            CHECK(ev, &d[1], AC_KIND_REFERRAL_INVITE, AC_ACTION_SCHEDULE, NULL, t + 14 * DAY, NULL);
        ac_event_destroy(fb);
        ac_event_destroy(ev);
    }
}

static void test_delivered_disabled_or_cancelled(void **state)
{
    (void)state;
    int64_t t = ms("2026-11-30T12:00:00Z");
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    ac_event_t *ev =
        EV(.type = "shipment.delivered", .at = "2026-11-30T12:00:00Z", .consent = "true");
    ac_store_settings_t s = all_on;
    s.review_requests = 0;
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    assert_int_equal(process(&j, ev, &s, d), 2);
    CHECK(ev, &d[0], AC_KIND_REVIEW_REQUEST, AC_ACTION_SUPPRESS, NULL, 0, "disabled");
    CHECK(ev, &d[1], AC_KIND_REFERRAL_INVITE, AC_ACTION_SCHEDULE, NULL, t + 14 * DAY, NULL);
    s = all_on;
    s.referral_invites = 0;
    assert_int_equal(process(&j, ev, &s, d), 2);
    CHECK(ev, &d[0], AC_KIND_REVIEW_REQUEST, AC_ACTION_SCHEDULE, NULL, t + 7 * DAY, NULL);
    CHECK(ev, &d[1], AC_KIND_REFERRAL_INVITE, AC_ACTION_SUPPRESS, NULL, 0, "disabled");
    /* A cancelled order delivered anyway is not followed up. */
    ac_event_t *cancelled = EV(.type = "order.cancelled", .at = "2026-11-26T12:00:00Z");
    ac_event_t *seen[] = {cancelled, NULL};
    j = journey_of(seen);
    assert_int_equal(process(&j, ev, &all_on, d), 2);
    CHECK(ev, &d[0], AC_KIND_REVIEW_REQUEST, AC_ACTION_SUPPRESS, NULL, 0, "cancelled");
    CHECK(ev, &d[1], AC_KIND_REFERRAL_INVITE, AC_ACTION_SUPPRESS, NULL, 0, "cancelled");
    ac_event_destroy(cancelled);
    ac_event_destroy(ev);
}

/* ---- returns and orders ------------------------------------------------ */

static void test_return_requested(void **state)
{
    (void)state;
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *ev = EV(.type = "return.requested", .at = "2026-12-03T10:00:00Z", .ret = "ret_1");
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    assert_int_equal(process(&j, ev, &all_on, d), 3);
    CHECK(ev, &d[0], AC_KIND_RETURN_CONFIRMATION, AC_ACTION_SEND, "ret_1", 0, NULL);
    CHECK(ev, &d[1], AC_KIND_REVIEW_REQUEST, AC_ACTION_CANCEL, NULL, ev->occurred_ms, NULL);
    CHECK(ev, &d[2], AC_KIND_REFERRAL_INVITE, AC_ACTION_CANCEL, NULL, ev->occurred_ms, NULL);
    /* A second, partial return of the same order is confirmed too. */
    ac_event_t *second =
        EV(.type = "return.requested", .at = "2026-12-05T10:00:00Z", .ret = "ret_2");
    ac_decision_t d2[AC_RULES_MAX_DECISIONS];
    assert_int_equal(process(&j, second, &all_on, d2), 3);
    CHECK(second, &d2[0], AC_KIND_RETURN_CONFIRMATION, AC_ACTION_SEND, "ret_2", 0, NULL);
    assert_string_not_equal(d[0].id, d2[0].id);
    ac_event_destroy(ev);
    ac_event_destroy(second);
}

static void test_return_received_and_refunded(void **state)
{
    (void)state;
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    /* A received return whose request got lost still stops the marketing,
     * but says nothing itself. */
    ac_event_t *received = EV(.type = "return.received", .at = "2026-12-06T10:00:00Z");
    assert_int_equal(process(&j, received, &all_on, d), 2);
    CHECK(received, &d[0], AC_KIND_REVIEW_REQUEST, AC_ACTION_CANCEL, NULL, received->occurred_ms,
          NULL);
    CHECK(received, &d[1], AC_KIND_REFERRAL_INVITE, AC_ACTION_CANCEL, NULL, received->occurred_ms,
          NULL);
    ac_event_t *refunded =
        EV(.type = "return.refunded", .at = "2026-12-07T10:00:00Z", .ret = "ret_1");
    assert_int_equal(process(&j, refunded, &all_on, d), 1);
    CHECK(refunded, &d[0], AC_KIND_REFUND_NOTICE, AC_ACTION_SEND, "ret_1", 0, NULL);
    ac_event_destroy(received);
    ac_event_destroy(refunded);
    /* The returns rules ignore what is not a return. */
    static const char *others[] = {"order.placed", "shipment.delivered", "feedback.received"};
    for (size_t i = 0; i < 3; i++) {
        ac_event_t *ev = EV(.type = others[i], .rating = 5);
        assert_int_equal(run(ac_rules_returns, ev, &j, &all_on, d), 0);
        ac_event_destroy(ev);
    }
}

static void test_order_cancelled(void **state)
{
    (void)state;
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *ev = EV(.type = "order.cancelled", .at = "2026-11-26T10:00:00Z");
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    assert_int_equal(process(&j, ev, &all_on, d), 3);
    CHECK(ev, &d[0], AC_KIND_ORDER_CANCELLED, AC_ACTION_SEND, NULL, 0, NULL);
    CHECK(ev, &d[1], AC_KIND_REVIEW_REQUEST, AC_ACTION_CANCEL, NULL, ev->occurred_ms, NULL);
    CHECK(ev, &d[2], AC_KIND_REFERRAL_INVITE, AC_ACTION_CANCEL, NULL, ev->occurred_ms, NULL);
    ac_event_destroy(ev);
}

static void test_feedback_cancels(void **state)
{
    (void)state;
    for (int rating = 1; rating <= 5; rating++) {
        ac_journey_t j;
        memset(&j, 0, sizeof(j));
        ac_event_t *ev =
            EV(.type = "feedback.received", .at = "2026-12-02T10:00:00Z", .rating = rating);
        ac_decision_t d[AC_RULES_MAX_DECISIONS];
        /* No review request after a rating; no referral invitation after a
         * poor one, but an apology, and an alert for the store's support,
         * which this store has not named. */
        size_t want = rating <= 3 ? 4 : 1;
        assert_int_equal(process(&j, ev, &all_on, d), want);
        CHECK(ev, &d[0], AC_KIND_REVIEW_REQUEST, AC_ACTION_CANCEL, NULL, ev->occurred_ms, NULL);
        if (want == 4) {
            CHECK(ev, &d[1], AC_KIND_REFERRAL_INVITE, AC_ACTION_CANCEL, NULL, ev->occurred_ms,
                  NULL);
            CHECK(ev, &d[2], AC_KIND_FEEDBACK_FOLLOWUP, AC_ACTION_SEND, NULL, 0, NULL);
            CHECK(ev, &d[3], AC_KIND_STORE_ALERT, AC_ACTION_SUPPRESS, NULL, 0, "no_support");
        }
        ac_event_destroy(ev);
    }
}

static void test_no_room(void **state)
{
    (void)state;
    /* With room for one decision, only the first is written. */
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *ev = EV(.type = "shipment.delivered", .consent = "true");
    ac_decision_t d[2];
    memset(d, 0x5a, sizeof(d));
    ac_journey_merge(&j, ev);
    assert_int_equal(ac_rules_shipments(ev, &j, &all_on, d, 1), 1);
    assert_int_equal(d[0].kind, AC_KIND_REVIEW_REQUEST);
    assert_int_equal(((unsigned char *)&d[1])[0], 0x5a);
    assert_int_equal(ac_rules_shipments(ev, &j, &all_on, d, 0), 0);
    ac_event_destroy(ev);
}

/* ---- the same messages whatever order the events are processed in ------ */

#define MAX_LINES 32

/* The messages an order ended up with, one sorted line each. */
typedef struct outcome {
    char line[MAX_LINES][128];
    size_t n;
} outcome_t;

static void add_line(outcome_t *o, const char *kind, const char *verb, const char *id, int64_t due)
{
    char line[128], at[AC_TIME_BUFSZ] = "now";
    if (due)
        ac_time_format(due, at, sizeof(at));
    snprintf(line, sizeof(line), "%s %s %s at %s", verb, kind, id, at);
    /* The same message twice is one message: notify-worker drops the
     * second by its id. */
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->line[i], line) == 0)
            return;
    assert_true(o->n < MAX_LINES);
    memcpy(o->line[o->n++], line, sizeof(line));
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Processes evs in the given order as the pipeline does (journey first,
 * then the topic's rules) and models the schedule in Redis (schedule.c),
 * with every event processed before anything is due: an item is added
 * unless blocked by its due time; a second one of the same kind is ignored
 * unless it is due earlier, which moves the pending item; a CANCEL removes
 * an item due at or after the cancel's time, and its marker; what remains
 * fires unless the final journey blocks it at its due time or lacks what
 * it requires (a referral's consent). */
static void simulate(ac_event_t *const *evs, const size_t *order, size_t n,
                     const ac_store_settings_t *s, outcome_t *out)
{
    struct {
        char id[AC_MESSAGE_ID_LEN];
        ac_kind_t kind;
        int64_t due;
        int live;
    } items[MAX_LINES];
    size_t n_items = 0;
    int64_t marker[AC_KIND__COUNT] = {0}; /* due of the scheduled item; 0: none */
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        ac_decision_t d[AC_RULES_MAX_DECISIONS];
        size_t nd = process(&j, evs[order[i]], s, d);
        for (size_t k = 0; k < nd; k++) {
            switch (d[k].action) {
            case AC_ACTION_SEND:
                add_line(out, ac_kind_name(d[k].kind), "send", d[k].id, 0);
                break;
            case AC_ACTION_SCHEDULE: {
                if (ac_journey_blocked(&j, d[k].kind, d[k].due_ms, NULL))
                    break;
                if (marker[d[k].kind] && marker[d[k].kind] <= d[k].due_ms)
                    break;
                size_t m = 0;
                while (m < n_items && !(items[m].live && strcmp(items[m].id, d[k].id) == 0))
                    m++;
                if (m == n_items) {
                    assert_true(n_items < MAX_LINES);
                    memcpy(items[n_items].id, d[k].id, AC_MESSAGE_ID_LEN);
                    items[n_items].kind = d[k].kind;
                    items[n_items++].live = 1;
                }
                items[m].due = d[k].due_ms;
                marker[d[k].kind] = d[k].due_ms;
                break;
            }
            case AC_ACTION_CANCEL:
                for (size_t m = 0; m < n_items; m++)
                    if (items[m].live && strcmp(items[m].id, d[k].id) == 0 &&
                        items[m].due >= d[k].due_ms) {
                        items[m].live = 0;
                        marker[items[m].kind] = 0;
                    }
                break;
            case AC_ACTION_SUPPRESS:
                break;
            }
        }
    }
    for (size_t m = 0; m < n_items; m++) {
        int needs_consent = items[m].kind == AC_KIND_REFERRAL_INVITE;
        if (items[m].live && !ac_journey_blocked(&j, items[m].kind, items[m].due, NULL) &&
            (!needs_consent || j.at[AC_FACT_CONSENT]))
            add_line(out, ac_kind_name(items[m].kind), "fire", items[m].id, items[m].due);
    }
    qsort(out->line, out->n, sizeof(out->line[0]), cmp_line);
}

static int outcomes_equal(const outcome_t *a, const outcome_t *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->line[i], b->line[i]) != 0)
            return 0;
    return 1;
}

static void print_outcome(const char *title, const outcome_t *o)
{
    print_error("  %s:\n", title);
    for (size_t i = 0; i < o->n; i++)
        print_error("    %s\n", o->line[i]);
}

/* Processes evs (listed in the order they happened) in every order and
 * fails, naming the first processing order that differs, unless all end
 * with the messages of the chronological one, which must be exactly want
 * (kind names of the lines, sorted like them). Frees evs. */
static void check_any_order(ac_event_t **evs, size_t n, const char *const *want, size_t n_want,
                            int line)
{
    size_t idx[8];
    outcome_t in_order, got;
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    simulate(evs, idx, n, &all_on, &in_order);
    int ok = in_order.n == n_want;
    for (size_t i = 0; ok && i < n_want; i++)
        ok = strncmp(in_order.line[i], want[i], strlen(want[i])) == 0 &&
             in_order.line[i][strlen(want[i])] == ' ';
    if (!ok) {
        print_outcome("in order, the messages were", &in_order);
        print_error("  expected:\n");
        for (size_t i = 0; i < n_want; i++)
            print_error("    %s\n", want[i]);
        _fail(__FILE__, line);
    }
    size_t perms = 0, bad = 0;
    while (ac_test_next_permutation(idx, n)) {
        perms++;
        simulate(evs, idx, n, &all_on, &got);
        if (outcomes_equal(&got, &in_order))
            continue;
        if (bad++ == 0) {
            print_error("processing order:");
            for (size_t i = 0; i < n; i++)
                print_error(" %s@%s", evs[idx[i]]->type_name, evs[idx[i]]->occurred_at);
            print_error("\n");
            print_outcome("gave", &got);
            print_outcome("in order, the messages were", &in_order);
        }
    }
    for (size_t i = 0; i < n; i++)
        ac_event_destroy(evs[i]);
    if (bad) {
        print_error("%zu of %zu processing orders differ from the chronological one\n", bad,
                    perms + 1);
        _fail(__FILE__, line);
    }
}

#define CHECK_ANY_ORDER(evs, want)                                                                 \
    check_any_order((evs), sizeof(evs) / sizeof((evs)[0]), (want),                                 \
                    sizeof(want) / sizeof((want)[0]), __LINE__)

static void test_any_order_unhappy_return(void **state)
{
    (void)state;
    /* Every event repeats the promise and the consent, as a storefront
     * that sends the whole order each time does. Late from the start, a
     * carrier delay, a poor rating and a return: the notices go out, and
     * neither the review request nor the invitation, in all 720 orders. */
    ac_event_t *evs[] = {
        EV(.type = "order.placed", .at = "2026-11-25T10:00:00Z", .promised = "2026-11-28",
           .consent = "true"),
        EV(.type = "shipment.shipped", .at = "2026-11-26T08:00:00Z", .promised = "2026-11-28",
           .consent = "true", .estimate = "2026-11-30"),
        EV(.type = "shipment.delayed", .at = "2026-11-29T09:00:00Z", .promised = "2026-11-28",
           .consent = "true", .estimate = "2026-12-01"),
        EV(.type = "shipment.delivered", .at = "2026-12-01T14:00:00Z", .promised = "2026-11-28",
           .consent = "true"),
        EV(.type = "feedback.received", .at = "2026-12-03T09:00:00Z", .promised = "2026-11-28",
           .consent = "true", .rating = 2),
        EV(.type = "return.requested", .at = "2026-12-04T10:00:00Z", .promised = "2026-11-28",
           .consent = "true"),
    };
    static const char *want[] = {"send delay_notice",        "send delay_notice",
                                 "send feedback_followup",   "send order_confirmation",
                                 "send return_confirmation", "send shipping_update"};
    CHECK_ANY_ORDER(evs, want);
}

static void test_any_order_happy(void **state)
{
    (void)state;
    /* Late, delayed, delivered and rated five stars: no review request
     * (they already reviewed) but an invitation two weeks after delivery. */
    ac_event_t *evs[] = {
        EV(.type = "order.placed", .at = "2026-11-25T10:00:00Z", .promised = "2026-11-28",
           .consent = "true"),
        EV(.type = "shipment.shipped", .at = "2026-11-26T08:00:00Z", .promised = "2026-11-28",
           .consent = "true", .estimate = "2026-11-30"),
        EV(.type = "shipment.delayed", .at = "2026-11-28T09:00:00Z", .promised = "2026-11-28",
           .consent = "true", .estimate = "2026-11-30"),
        EV(.type = "shipment.delivered", .at = "2026-11-30T14:00:00Z", .promised = "2026-11-28",
           .consent = "true"),
        EV(.type = "feedback.received", .at = "2026-12-02T09:00:00Z", .promised = "2026-11-28",
           .consent = "true", .rating = 5),
    };
    static const char *want[] = {"fire referral_invite", "send delay_notice",
                                 "send order_confirmation", "send shipping_update"};
    CHECK_ANY_ORDER(evs, want);
}

static void test_any_order_return_before_review(void **state)
{
    (void)state;
    /* Returned three days after delivery, received and refunded: nothing
     * is scheduled to survive. */
    ac_event_t *evs[] = {
        EV(.type = "order.placed", .at = "2026-11-25T10:00:00Z", .promised = "2026-11-28",
           .consent = "true"),
        EV(.type = "shipment.shipped", .at = "2026-11-26T08:00:00Z", .promised = "2026-11-28",
           .consent = "true", .estimate = "2026-11-30"),
        EV(.type = "shipment.delivered", .at = "2026-11-30T12:00:00Z", .promised = "2026-11-28",
           .consent = "true"),
        EV(.type = "return.requested", .at = "2026-12-03T12:00:00Z", .promised = "2026-11-28",
           .consent = "true"),
        EV(.type = "return.received", .at = "2026-12-06T12:00:00Z", .promised = "2026-11-28",
           .consent = "true"),
        EV(.type = "return.refunded", .at = "2026-12-08T12:00:00Z", .promised = "2026-11-28",
           .consent = "true"),
    };
    static const char *want[] = {"send delay_notice", "send order_confirmation",
                                 "send refund_notice", "send return_confirmation",
                                 "send shipping_update"};
    CHECK_ANY_ORDER(evs, want);
}

static void test_any_order_return_between_dues(void **state)
{
    (void)state;
    /* Returned ten days after delivery: the review request (due after
     * seven) went out, the invitation (due after fourteen) does not. */
    ac_event_t *evs[] = {
        EV(.type = "order.placed", .at = "2026-11-25T10:00:00Z", .promised = "2026-11-30",
           .consent = "true"),
        EV(.type = "shipment.shipped", .at = "2026-11-26T08:00:00Z", .promised = "2026-11-30",
           .consent = "true", .estimate = "2026-11-30"),
        EV(.type = "shipment.delivered", .at = "2026-11-30T12:00:00Z", .promised = "2026-11-30",
           .consent = "true"),
        EV(.type = "return.requested", .at = "2026-12-10T12:00:00Z", .promised = "2026-11-30",
           .consent = "true"),
        EV(.type = "return.refunded", .at = "2026-12-12T12:00:00Z", .promised = "2026-11-30",
           .consent = "true"),
    };
    static const char *want[] = {"fire review_request", "send order_confirmation",
                                 "send refund_notice", "send return_confirmation",
                                 "send shipping_update"};
    CHECK_ANY_ORDER(evs, want);
}

static void test_any_order_consent_only_at_checkout(void **state)
{
    (void)state;
    /* The consent and the promise are given at checkout and the shipment
     * events do not repeat them, as carriers' events do not. */
    ac_event_t *evs[] = {
        EV(.type = "order.placed", .at = "2026-11-25T10:00:00Z", .consent = "true"),
        EV(.type = "shipment.shipped", .at = "2026-11-26T08:00:00Z"),
        EV(.type = "shipment.delivered", .at = "2026-11-30T12:00:00Z"),
    };
    static const char *want[] = {"fire referral_invite", "fire review_request",
                                 "send order_confirmation", "send shipping_update"};
    CHECK_ANY_ORDER(evs, want);
}

static void test_any_order_promise_on_the_shipment(void **state)
{
    (void)state;
    /* A delay is detected from the estimate whatever the order, as long as
     * the shipment event repeats the promise (docs/events.md). Without it,
     * the promise is only known once order.placed is processed, and a
     * shipment event processed before that cannot be judged late: a
     * message sent now cannot wait for facts that may never come. */
    ac_event_t *evs[] = {
        EV(.type = "order.placed", .at = "2026-11-25T10:00:00Z", .promised = "2026-11-28"),
        EV(.type = "shipment.shipped", .at = "2026-11-26T08:00:00Z", .estimate = "2026-11-30",
           .promised = "2026-11-28"),
        EV(.type = "shipment.delivered", .at = "2026-11-30T12:00:00Z"),
    };
    static const char *want[] = {"fire review_request", "send delay_notice",
                                 "send order_confirmation", "send shipping_update"};
    CHECK_ANY_ORDER(evs, want);
}

static void test_any_order_two_parcels(void **state)
{
    (void)state;
    /* Two parcels delivered three days apart, and a return eight days
     * after the first: the review request was due (seven days after the
     * first delivery) before the return, so it goes out. */
    ac_event_t *evs[] = {
        EV(.type = "order.placed", .at = "2026-11-25T10:00:00Z", .promised = "2026-11-30",
           .consent = "true"),
        EV(.type = "shipment.delivered", .at = "2026-11-30T12:00:00Z", .shipment = "sh_1",
           .promised = "2026-11-30", .consent = "true"),
        EV(.type = "shipment.delivered", .at = "2026-12-03T12:00:00Z", .shipment = "sh_2",
           .promised = "2026-11-30", .consent = "true"),
        EV(.type = "return.requested", .at = "2026-12-08T12:00:00Z", .promised = "2026-11-30",
           .consent = "true"),
    };
    static const char *want[] = {"fire review_request", "send order_confirmation",
                                 "send return_confirmation"};
    CHECK_ANY_ORDER(evs, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_sends_update),
        cmocka_unit_test(test_shipping_update_per_shipment_and_stage),
        cmocka_unit_test(test_shipping_updates_disabled),
        cmocka_unit_test(test_shipping_update_late_arrival),
        cmocka_unit_test(test_in_transit_on_time_is_quiet),
        cmocka_unit_test(test_delayed_sends_notice_with_date),
        cmocka_unit_test(test_delayed_once_even_when_late),
        cmocka_unit_test(test_delay_blocked_by_earlier_delivery),
        cmocka_unit_test(test_delay_before_delivery_any_order),
        cmocka_unit_test(test_proactive_late_estimate),
        cmocka_unit_test(test_proactive_same_estimate_same_id),
        cmocka_unit_test(test_proactive_needs_a_late_estimate),
        cmocka_unit_test(test_proactive_promise_from_journey),
        cmocka_unit_test(test_proactive_blocked_and_disabled),
        cmocka_unit_test(test_late_estimate_edges),
        cmocka_unit_test(test_delivered_schedules),
        cmocka_unit_test(test_delivered_counts_from_first_delivery),
        cmocka_unit_test(test_referral_needs_consent),
        cmocka_unit_test(test_parcels_are_judged_one_by_one),
        cmocka_unit_test(test_delivered_after_return),
        cmocka_unit_test(test_delivered_after_feedback),
        cmocka_unit_test(test_delivered_disabled_or_cancelled),
        cmocka_unit_test(test_return_requested),
        cmocka_unit_test(test_return_received_and_refunded),
        cmocka_unit_test(test_order_cancelled),
        cmocka_unit_test(test_feedback_cancels),
        cmocka_unit_test(test_no_room),
        cmocka_unit_test(test_any_order_unhappy_return),
        cmocka_unit_test(test_any_order_happy),
        cmocka_unit_test(test_any_order_return_before_review),
        cmocka_unit_test(test_any_order_return_between_dues),
        cmocka_unit_test(test_any_order_consent_only_at_checkout),
        cmocka_unit_test(test_any_order_promise_on_the_shipment),
        cmocka_unit_test(test_any_order_two_parcels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
