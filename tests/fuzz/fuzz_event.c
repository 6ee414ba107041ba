/* Fuzz target: an event record as the event workers read it from Kafka.
 *
 * The whole input is one record value: it is validated (ac_event_parse(),
 * and again through ac_event_parse_json() + ac_event_from_json(), which
 * must agree), a valid event must keep the contract of docs/events.md and
 * read back the same from its trimmed form (ac_event_encode()),
 * and the business rules run on it; every message they decide is encoded
 * as a notification record and decoded again, as notify-worker will.
 *
 * An input with NUL bytes is, besides, a run of records (split at each
 * NUL) of one order: each valid one is merged into the order's journey
 * before the rules see it, as the pipeline does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "evzip.h"
#include "fuzz_common.h"
#include "journey.h"
#include "message.h"
#include "rules.h"
#include "stores.h"

#define MAX_RECORDS 8

/* The trimmed form the schedule keeps (ac_event_encode(), packed with
 * ac_evzip_pack()) reads back as the same event, alone and inside the
 * notification record rebuilt from it when the message fires. */
static void check_trimmed(const ac_event_t *ev)
{
    ac_event_error_t err;
    size_t n = 0, rn = 0;
    char *enc = ac_event_encode(ev, &n);
    FUZZ_CHECK(enc && strlen(enc) == n, "the trimmed event is not one string");
    ac_event_t *back = ac_event_parse(enc, n, 0, &err);
    FUZZ_CHECK(back, "the trimmed event does not parse: %s", err.detail);
    fuzz_check_same_event(ev, back);
    ac_event_destroy(back);
    /* Packed for Redis and unpacked, it is the same bytes. */
    size_t pn = 0, un = 0;
    char *packed = ac_evzip_pack(enc, n, &pn);
    FUZZ_CHECK(packed, "the trimmed event does not pack");
    char *unpacked = ac_evzip_unpack(packed, pn, &un);
    FUZZ_CHECK(unpacked && un == n && memcmp(unpacked, enc, n) == 0,
               "the packed event does not unpack to itself");
    free(unpacked);
    free(packed);
    char id[AC_MESSAGE_ID_LEN];
    ac_message_id(AC_KIND_REVIEW_REQUEST, ev->store.id, ev->order.id, NULL, id);
    char *rec = ac_message_encode_json(id, AC_KIND_REVIEW_REQUEST, ev->occurred_ms,
                                       ev->occurred_ms + 1, enc, n, &rn);
    FUZZ_CHECK(rec, "no record from the trimmed event");
    ac_message_t *m = ac_message_decode(rec, rn, 0, &err);
    FUZZ_CHECK(m, "the record rebuilt from the trimmed event does not decode: %s", err.detail);
    fuzz_check_same_event(ev, m->event);
    ac_message_destroy(m);
    free(rec);
    free(enc);
}

static ac_event_t *parse_record(const char *buf, size_t len)
{
    ac_event_error_t err, err2;
    memset(&err, 0, sizeof(err));
    memset(&err2, 0, sizeof(err2));
    ac_event_t *ev = ac_event_parse(buf, len, 0, &err);
    if (ev) {
        FUZZ_CHECK(err.code == AC_EVENT_OK && err.detail[0] == '\0', "a valid event with an error");
        fuzz_check_event(ev);
        check_trimmed(ev);
    } else {
        FUZZ_CHECK(err.code != AC_EVENT_OK && err.detail[0], "refused without a reason");
        FUZZ_CHECK(strcmp(ac_event_err_name(err.code), "invalid") != 0, "reason %d has no name",
                   err.code);
    }

    /* The same in two steps, as the workers that look at the JSON first do. */
    json_object *root = ac_event_parse_json(buf, len, 0, &err2);
    ac_event_t *ev2 = root ? ac_event_from_json(root, &err2) : NULL;
    json_object_put(root);
    /* ac_event_parse() reads with yajl and the second way with json-c: they
     * must agree on every record, to the words of the error. */
    FUZZ_CHECK(!ev == !ev2 && err.code == err2.code && strcmp(err.detail, err2.detail) == 0,
               "the two ways disagree: %s / %s", err.detail, err2.detail);
    if (ev2)
        fuzz_check_same_event(ev, ev2);
    ac_event_destroy(ev2);

    /* A record one byte over the limit is refused before it is read. */
    if (len > 1) {
        FUZZ_CHECK(!ac_event_parse(buf, len, len - 1, &err2) && err2.code == AC_EVENT_ERR_TOO_LARGE,
                   "a record over the limit was not refused as too large");
    }
    return ev;
}

static ac_rules_fn rules_for(ac_event_type_t t)
{
    const char *topic = ac_event_type_topic(t);
    if (!topic)
        return NULL;
    if (strcmp(topic, "orders") == 0)
        return ac_rules_orders;
    if (strcmp(topic, "shipments") == 0)
        return ac_rules_shipments;
    return ac_rules_returns;
}

/* Runs the rules of ev's topic over its order's journey j (which already
 * holds ev's facts) and round-trips every message they decide. */
static void decide(const ac_event_t *ev, const ac_journey_t *j, const ac_store_settings_t *s)
{
    ac_rules_fn rules = rules_for(ev->type);
    if (!rules)
        return;
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    memset(d, 0, sizeof(d));
    size_t n = rules(ev, j, s, d, AC_RULES_MAX_DECISIONS);
    FUZZ_CHECK(n <= AC_RULES_MAX_DECISIONS, "%zu decisions", n);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(d[i].kind >= 0 && d[i].kind < AC_KIND__COUNT, "kind %d", d[i].kind);
        FUZZ_CHECK(d[i].action >= AC_ACTION_SEND && d[i].action <= AC_ACTION_SUPPRESS, "action %d",
                   d[i].action);
        FUZZ_CHECK(ac_message_id_valid(d[i].id), "message id \"%.40s\"", d[i].id);
        if (d[i].action == AC_ACTION_SUPPRESS)
            FUZZ_CHECK(d[i].reason && *d[i].reason, "suppressed without a reason");
        if (d[i].action != AC_ACTION_SEND && d[i].action != AC_ACTION_SCHEDULE)
            continue;
        /* What the pipeline produces (or schedules) for it. */
        ac_message_t m;
        memset(&m, 0, sizeof(m));
        memcpy(m.id, d[i].id, sizeof(m.id));
        m.kind = d[i].kind;
        m.created_ms = ev->occurred_ms;
        m.due_ms = d[i].action == AC_ACTION_SCHEDULE ? d[i].due_ms : 0;
        m.event = (ac_event_t *)ev;
        fuzz_check_message_roundtrip(&m);
    }
}

static int same_order(const ac_event_t *a, const ac_event_t *b)
{
    return strcmp(a->order.id, b->order.id) == 0 &&
           ((!a->store.id && !b->store.id) ||
            (a->store.id && b->store.id && strcmp(a->store.id, b->store.id) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The worker's defaults, with both kinds of shipping update on. */
    const ac_store_settings_t settings = {
        .review_delay_ms = 7LL * 86400000,
        .referral_delay_ms = 14LL * 86400000,
        .shipped_updates = 1,
        .out_for_delivery_updates = 1,
        .review_requests = 1,
        .referral_invites = 1,
    };
    ac_journey_t j;

    /* The input as one record, exactly as long as it is. */
    char *whole = fuzz_memdup(data, size);
    ac_event_t *ev = parse_record(whole, size);
    if (ev) {
        memset(&j, 0, sizeof(j));
        ac_journey_merge(&j, ev);
        decide(ev, &j, &settings);
        ac_event_destroy(ev);
    }
    free(whole);

    if (!memchr(data, '\0', size))
        return 0;

    /* Records of one order, in the order given. */
    ac_event_t *evs[MAX_RECORDS] = {0};
    size_t n = 0;
    const uint8_t *p = data, *end = data + size;
    while (p < end && n < MAX_RECORDS) {
        const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));
        size_t len = nul ? (size_t)(nul - p) : (size_t)(end - p);
        char *rec = fuzz_memdup(p, len);
        ac_event_t *e = parse_record(rec, len);
        free(rec);
        if (e && n > 0 && !same_order(evs[0], e)) {
            ac_event_destroy(e);
            e = NULL;
        }
        if (e)
            evs[n++] = e;
        p += len + 1;
    }
    memset(&j, 0, sizeof(j));
    for (size_t i = 0; i < n; i++) {
        ac_journey_merge(&j, evs[i]);
        decide(evs[i], &j, &settings);
    }
    for (size_t i = 0; i < n; i++)
        ac_event_destroy(evs[i]);
    return 0;
}
