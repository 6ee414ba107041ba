/* Event-time watermarks: the watermark of one topic from its partitions'
 * offsets, the bound of a firing round, which kinds the watermarks gate,
 * how long a gated message may be held, and the WATERMARK_TOPICS setting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "watermark.h"
#include "test_util.h"

#define QUERIED 1795601700000LL /* 2026-11-25T10:15:00Z: when the offsets were read */
#define HOUR    3600000LL

/* A partition whose group committed `committed` (< 0: nothing), with the
 * log from `start` to `end` and the first unprocessed record at head_ts. */
static ac_wm_partition_t part(int64_t committed, int64_t start, int64_t end, int64_t head_ts)
{
    ac_wm_partition_t p = {committed, start, end, head_ts};
    return p;
}

/* ------------------------------------------------------------ partitions */

/* A group that committed reads on from its commit; one that never
 * committed starts where the log does. A commit of 0 is a commit, not
 * "none": only negative offsets (librdkafka's -1001) mean none. */
static void next_offset_is_commit_or_log_start(void **state)
{
    (void)state;
    ac_wm_partition_t p = part(42, 10, 50, 0);
    assert_int_equal(ac_watermark_next(&p), 42);
    p = part(0, 10, 50, 0);
    assert_int_equal(ac_watermark_next(&p), 0);
    p = part(-1, 10, 50, 0);
    assert_int_equal(ac_watermark_next(&p), 10);
    p = part(-1001, 7, 50, 0);
    assert_int_equal(ac_watermark_next(&p), 7);
}

/* Records wait exactly when the next offset is below the high watermark:
 * a commit at the end, or past it, leaves nothing waiting. */
static void waiting_when_next_is_below_end(void **state)
{
    (void)state;
    ac_wm_partition_t p = part(49, 0, 50, 0);
    assert_true(ac_watermark_waiting(&p));
    p = part(50, 0, 50, 0);
    assert_false(ac_watermark_waiting(&p));
    p = part(51, 0, 50, 0);
    assert_false(ac_watermark_waiting(&p));
    /* Without a commit, the log start decides. */
    p = part(-1, 50, 50, -1);
    assert_false(ac_watermark_waiting(&p));
    p = part(-1, 49, 50, -1);
    assert_true(ac_watermark_waiting(&p));
    /* An empty partition, never written to, has nothing waiting. */
    p = part(-1, 0, 0, -1);
    assert_false(ac_watermark_waiting(&p));
}

/* ----------------------------------------------------------------- topic */

/* When every partition is caught up, everything written before the query
 * has been processed, but a record written after it may still come: the
 * watermark is the query time, not "infinity". */
static void caught_up_topic_is_at_query_time(void **state)
{
    (void)state;
    ac_wm_partition_t parts[] = {part(100, 0, 100, -1), part(7, 0, 7, -1), part(0, 0, 0, -1)};
    assert_int_equal(ac_watermark_topic(parts, 3, QUERIED), QUERIED);
    /* An unknown head timestamp on a partition with nothing waiting does
     * not matter: there is no first unprocessed record to stamp. */
    assert_int_equal(ac_watermark_topic(parts, 1, QUERIED), QUERIED);
}

/* One partition lagging holds the whole topic back to the timestamp of
 * the first record its consumer has not processed. */
static void lagging_partition_holds_topic_at_its_head(void **state)
{
    (void)state;
    ac_wm_partition_t parts[] = {
        part(100, 0, 100, -1),
        part(40, 0, 45, QUERIED - HOUR),
        part(9, 0, 9, -1),
    };
    assert_int_equal(ac_watermark_topic(parts, 3, QUERIED), QUERIED - HOUR);
}

/* With several lagging partitions, the oldest unprocessed record wins:
 * the watermark is the minimum of their head timestamps. The order of the
 * partitions does not matter. */
static void several_lagging_partitions_take_the_minimum(void **state)
{
    (void)state;
    ac_wm_partition_t parts[] = {
        part(1, 0, 5, QUERIED - 2 * HOUR),
        part(1, 0, 5, QUERIED - 5 * HOUR),
        part(1, 0, 5, QUERIED - 3 * HOUR),
        part(5, 0, 5, -1),
    };
    assert_int_equal(ac_watermark_topic(parts, 4, QUERIED), QUERIED - 5 * HOUR);
    ac_wm_partition_t reversed[] = {parts[3], parts[2], parts[1], parts[0]};
    assert_int_equal(ac_watermark_topic(reversed, 4, QUERIED), QUERIED - 5 * HOUR);
    /* A timestamp of 0 is a (very old) known time, not "unknown". */
    parts[2].head_ts = 0;
    assert_int_equal(ac_watermark_topic(parts, 4, QUERIED), 0);
}

/* A waiting record written after the query (the clocks of producer and
 * worker differ) does not lift the watermark beyond the query time: other
 * partitions may still receive records written before it. */
static void head_after_query_counts_as_query_time(void **state)
{
    (void)state;
    ac_wm_partition_t parts[] = {part(3, 0, 4, QUERIED + 5000)};
    assert_int_equal(ac_watermark_topic(parts, 1, QUERIED), QUERIED);
}

/* If a record waits whose timestamp could not be read, nothing is known
 * about how old it is: the topic is unknown, whatever the other
 * partitions say, so nothing gated fires on a guess. */
static void unknown_head_makes_topic_unknown(void **state)
{
    (void)state;
    ac_wm_partition_t parts[] = {
        part(1, 0, 5, QUERIED - HOUR),
        part(2, 0, 5, -1),
        part(5, 0, 5, -1),
    };
    assert_true(ac_watermark_topic(parts, 3, QUERIED) == AC_WATERMARK_UNKNOWN);
    /* In any position: the unknown partition first. */
    ac_wm_partition_t first[] = {parts[1], parts[0]};
    assert_true(ac_watermark_topic(first, 2, QUERIED) == AC_WATERMARK_UNKNOWN);
}

/* A group that never committed has all of the log still to process: its
 * first record is the log start's. When the log start is the end
 * (retention removed everything), nothing waits. */
static void no_commit_uses_log_start(void **state)
{
    (void)state;
    ac_wm_partition_t waiting[] = {part(-1001, 20, 30, QUERIED - 10 * HOUR)};
    assert_int_equal(ac_watermark_topic(waiting, 1, QUERIED), QUERIED - 10 * HOUR);
    ac_wm_partition_t empty[] = {part(-1001, 30, 30, -1)};
    assert_int_equal(ac_watermark_topic(empty, 1, QUERIED), QUERIED);
}

/* A topic without partitions is one that does not exist or could not be
 * described: unknown, never "caught up". */
static void zero_partitions_is_unknown(void **state)
{
    (void)state;
    ac_wm_partition_t unused = part(0, 0, 0, -1);
    assert_true(ac_watermark_topic(&unused, 0, QUERIED) == AC_WATERMARK_UNKNOWN);
    assert_true(ac_watermark_topic(NULL, 0, QUERIED) == AC_WATERMARK_UNKNOWN);
}

/* ----------------------------------------------------------------- bound */

/* The round takes messages due strictly before the bound: the lowest
 * watermark of the watched topics. */
static void bound_is_the_lowest_topic(void **state)
{
    (void)state;
    int64_t now = QUERIED + 100;
    int64_t wm[] = {QUERIED, QUERIED - HOUR, QUERIED - 30 * 60000};
    assert_int_equal(ac_watermark_bound(wm, 3, now), QUERIED - HOUR);
    int64_t one[] = {QUERIED - 1};
    assert_int_equal(ac_watermark_bound(one, 1, now), QUERIED - 1);
}

/* A watermark ahead of the round's clock (another clock read the offsets)
 * never lets a message fire before it is due: the bound is capped at
 * now + 1, which lets exactly the messages due up to now through. */
static void bound_is_capped_at_now_plus_one(void **state)
{
    (void)state;
    int64_t now = QUERIED;
    int64_t wm[] = {QUERIED + HOUR, QUERIED + 2 * HOUR};
    assert_int_equal(ac_watermark_bound(wm, 2, now), now + 1);
    int64_t equal[] = {now + 1};
    assert_int_equal(ac_watermark_bound(equal, 1, now), now + 1);
}

/* One unknown topic stops every gated message, wherever it is in the list
 * and however far the others are. */
static void bound_unknown_when_any_topic_is(void **state)
{
    (void)state;
    int64_t now = QUERIED;
    int64_t last[] = {QUERIED, QUERIED - HOUR, AC_WATERMARK_UNKNOWN};
    assert_true(ac_watermark_bound(last, 3, now) == AC_WATERMARK_UNKNOWN);
    int64_t first[] = {AC_WATERMARK_UNKNOWN, QUERIED};
    assert_true(ac_watermark_bound(first, 2, now) == AC_WATERMARK_UNKNOWN);
}

/* With no topics watched (WATERMARK_TOPICS=none), messages fire when due:
 * the bound is now + 1. */
static void bound_without_topics_is_now_plus_one(void **state)
{
    (void)state;
    assert_int_equal(ac_watermark_bound(NULL, 0, QUERIED), QUERIED + 1);
    int64_t unused[] = {AC_WATERMARK_UNKNOWN};
    assert_int_equal(ac_watermark_bound(unused, 0, QUERIED), QUERIED + 1);
}

/* ---------------------------------------------------------- gated kinds */

/* Kinds that a late fact can stop (a cancellation, a return, feedback, a
 * delivery) or that need a fact (consent) wait for the watermarks; the
 * others answer something that already happened and never wait. */
static void gated_kinds(void **state)
{
    (void)state;
    assert_true(ac_watermark_gated(AC_KIND_REVIEW_REQUEST));
    assert_true(ac_watermark_gated(AC_KIND_REFERRAL_INVITE));
    assert_true(ac_watermark_gated(AC_KIND_SHIPPING_UPDATE));
    assert_true(ac_watermark_gated(AC_KIND_DELAY_NOTICE));
    assert_false(ac_watermark_gated(AC_KIND_ORDER_CONFIRMATION));
    assert_false(ac_watermark_gated(AC_KIND_ORDER_CANCELLED));
    assert_false(ac_watermark_gated(AC_KIND_RETURN_CONFIRMATION));
    assert_false(ac_watermark_gated(AC_KIND_REFUND_NOTICE));
}

/* A gated message is held at most max_hold past its due time; an ungated
 * one fires when due. */
static void release_is_due_plus_hold_for_gated_kinds(void **state)
{
    (void)state;
    int64_t due = QUERIED, hold = 24 * HOUR;
    assert_int_equal(ac_watermark_release(AC_KIND_REVIEW_REQUEST, due, hold), due + hold);
    assert_int_equal(ac_watermark_release(AC_KIND_REFERRAL_INVITE, due, hold), due + hold);
    assert_int_equal(ac_watermark_release(AC_KIND_SHIPPING_UPDATE, due, hold), due + hold);
    assert_int_equal(ac_watermark_release(AC_KIND_DELAY_NOTICE, due, hold), due + hold);
    assert_int_equal(ac_watermark_release(AC_KIND_ORDER_CONFIRMATION, due, hold), due);
    assert_int_equal(ac_watermark_release(AC_KIND_ORDER_CANCELLED, due, hold), due);
    assert_int_equal(ac_watermark_release(AC_KIND_RETURN_CONFIRMATION, due, hold), due);
    assert_int_equal(ac_watermark_release(AC_KIND_REFUND_NOTICE, due, hold), due);
    /* A hold of zero (or a nonsensical negative one) holds nothing. */
    assert_int_equal(ac_watermark_release(AC_KIND_REVIEW_REQUEST, due, 0), due);
    assert_int_equal(ac_watermark_release(AC_KIND_REVIEW_REQUEST, due, -5), due);
}

/* A due time near the end of time does not wrap round to the distant
 * past, which would release the message at once: it clamps. */
static void release_clamps_instead_of_overflowing(void **state)
{
    (void)state;
    int64_t hold = 24 * HOUR;
    assert_true(ac_watermark_release(AC_KIND_REVIEW_REQUEST, INT64_MAX - 5, hold) == INT64_MAX);
    assert_true(ac_watermark_release(AC_KIND_REVIEW_REQUEST, INT64_MAX, hold) == INT64_MAX);
    assert_true(ac_watermark_release(AC_KIND_DELAY_NOTICE, INT64_MAX - hold, hold) == INT64_MAX);
    assert_true(ac_watermark_release(AC_KIND_DELAY_NOTICE, INT64_MAX - hold - 1, hold) ==
                INT64_MAX - 1);
    assert_true(ac_watermark_release(AC_KIND_REVIEW_REQUEST, 1, INT64_MAX) == INT64_MAX);
    /* An ungated kind is untouched even there. */
    assert_true(ac_watermark_release(AC_KIND_ORDER_CONFIRMATION, INT64_MAX - 5, hold) ==
                INT64_MAX - 5);
}

/* ------------------------------------------------------- WATERMARK_TOPICS */

#define DEFAULT_TOPICS                                                                             \
    "orders:aftercare-order-worker,shipments:aftercare-shipment-worker,"                           \
    "returns:aftercare-return-worker"

/* Parses spec, which must be accepted; returns the count. */
static size_t parse_ok(const char *spec, ac_wm_topic_t *out)
{
    char why[256] = "";
    size_t n = 99;
    if (ac_watermark_parse_topics(spec, out, &n, why, sizeof(why)) != 0)
        fail_msg("expected \"%s\" to parse, got: %s", spec ? spec : "(null)", why);
    return n;
}

/* Parses spec, which must be refused with a reason containing want. */
static void parse_fails(const char *spec, const char *want)
{
    ac_wm_topic_t out[AC_WATERMARK_MAX_TOPICS];
    char why[256] = "";
    size_t n = 0;
    if (ac_watermark_parse_topics(spec, out, &n, why, sizeof(why)) != -1)
        fail_msg("expected \"%s\" to be refused, but it parsed to %zu pairs", spec, n);
    assert_contains(why, want);
}

/* The default setting: the three event topics, each with the group of the
 * worker that consumes it, in order. */
static void parse_default_topics(void **state)
{
    (void)state;
    ac_wm_topic_t t[AC_WATERMARK_MAX_TOPICS];
    assert_int_equal(parse_ok(DEFAULT_TOPICS, t), 3);
    assert_string_equal(t[0].topic, "orders");
    assert_string_equal(t[0].group, "aftercare-order-worker");
    assert_string_equal(t[1].topic, "shipments");
    assert_string_equal(t[1].group, "aftercare-shipment-worker");
    assert_string_equal(t[2].topic, "returns");
    assert_string_equal(t[2].group, "aftercare-return-worker");
}

/* "none" switches the watermarks off, as does an unset value; a single
 * pair, topic names with '.', '_' and '-', and two topics sharing a group
 * are all fine. */
static void parse_none_and_simple_forms(void **state)
{
    (void)state;
    ac_wm_topic_t t[AC_WATERMARK_MAX_TOPICS];
    assert_int_equal(parse_ok("none", t), 0);
    assert_int_equal(parse_ok(NULL, t), 0);
    assert_int_equal(parse_ok("shop.orders_v2-eu:g.1_x-y", t), 1);
    assert_string_equal(t[0].topic, "shop.orders_v2-eu");
    assert_string_equal(t[0].group, "g.1_x-y");
    assert_int_equal(parse_ok("a:g,b:g", t), 2);
    assert_string_equal(t[1].topic, "b");
    assert_string_equal(t[1].group, "g");
}

/* Exactly AC_WATERMARK_MAX_TOPICS pairs fit; one more is refused with the
 * limit in the reason (out[] has no room for it). Names of the longest
 * length Kafka allows fit; one character more is refused. */
static void parse_limits(void **state)
{
    (void)state;
    ac_wm_topic_t t[AC_WATERMARK_MAX_TOPICS];
    assert_int_equal(parse_ok("t1:g,t2:g,t3:g,t4:g,t5:g,t6:g,t7:g,t8:g", t), 8);
    assert_string_equal(t[7].topic, "t8");
    parse_fails("t1:g,t2:g,t3:g,t4:g,t5:g,t6:g,t7:g,t8:g,t9:g", "at most 8");

    char spec[2 * AC_WATERMARK_NAME_MAX + 8];
    char name[AC_WATERMARK_NAME_MAX + 2];
    memset(name, 'a', AC_WATERMARK_NAME_MAX);
    name[AC_WATERMARK_NAME_MAX] = '\0';
    snprintf(spec, sizeof(spec), "%s:%s", name, name);
    assert_int_equal(parse_ok(spec, t), 1);
    assert_int_equal(strlen(t[0].topic), AC_WATERMARK_NAME_MAX);
    assert_int_equal(strlen(t[0].group), AC_WATERMARK_NAME_MAX);
    strcat(name, "a");
    snprintf(spec, sizeof(spec), "%s:g", name);
    parse_fails(spec, "longer than 249");
    snprintf(spec, sizeof(spec), "t:%s", name);
    parse_fails(spec, "group is empty or longer than 249");
}

/* Each mistake is refused with a reason that says what is wrong, so that
 * the operator can fix the setting from the start-up error alone. */
static void parse_refuses_with_reason(void **state)
{
    (void)state;
    /* A pair without a colon, an empty value, a stray comma. */
    parse_fails("orders", "topic:group");
    parse_fails("", "topic:group");
    parse_fails("orders:g,", "topic:group");
    parse_fails("orders:g,,returns:g", "topic:group");
    parse_fails("orders:g,returns", "topic:group");
    /* An empty topic or group. */
    parse_fails(":aftercare-order-worker", "topic is empty");
    parse_fails("orders:", "group is empty");
    parse_fails("orders:g,:g", "topic is empty");
    /* Characters Kafka does not allow, named with the offending value. */
    parse_fails("ord$rs:g", "topic 'ord$rs'");
    parse_fails("ord$rs:g", "letters, digits");
    parse_fails("orders: g", "group ' g'");
    parse_fails("orders:g, returns:g", "topic ' returns'");
    parse_fails("orders:a:b", "group 'a:b'");
    parse_fails("..:g", "topic '..'");
    /* The same topic twice would be read twice, with two groups that
     * cannot both be right. */
    parse_fails("orders:a,returns:r,orders:b", "'orders' is named twice");
    parse_fails("orders:a,orders:a", "named twice");
    /* "none" only on its own. */
    parse_fails("none,orders:g", "topic:group");
    parse_fails("NONE", "topic:group");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(next_offset_is_commit_or_log_start),
        cmocka_unit_test(waiting_when_next_is_below_end),
        cmocka_unit_test(caught_up_topic_is_at_query_time),
        cmocka_unit_test(lagging_partition_holds_topic_at_its_head),
        cmocka_unit_test(several_lagging_partitions_take_the_minimum),
        cmocka_unit_test(head_after_query_counts_as_query_time),
        cmocka_unit_test(unknown_head_makes_topic_unknown),
        cmocka_unit_test(no_commit_uses_log_start),
        cmocka_unit_test(zero_partitions_is_unknown),
        cmocka_unit_test(bound_is_the_lowest_topic),
        cmocka_unit_test(bound_is_capped_at_now_plus_one),
        cmocka_unit_test(bound_unknown_when_any_topic_is),
        cmocka_unit_test(bound_without_topics_is_now_plus_one),
        cmocka_unit_test(gated_kinds),
        cmocka_unit_test(release_is_due_plus_hold_for_gated_kinds),
        cmocka_unit_test(release_clamps_instead_of_overflowing),
        cmocka_unit_test(parse_default_topics),
        cmocka_unit_test(parse_none_and_simple_forms),
        cmocka_unit_test(parse_limits),
        cmocka_unit_test(parse_refuses_with_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
