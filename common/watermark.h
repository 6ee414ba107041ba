/* Event-time watermarks: how far the facts of each input topic are known.
 *
 * A review request due at T must not go out while a return requested
 * before T still waits, unread, in the returns topic: its consumer may be
 * crashed, rebalancing, lagging behind a spike or scaled to zero. Like
 * Flink's and Beam's watermarks for timers, a scheduled message due at T
 * fires only once every topic whose facts can block it has been consumed
 * up to T: for each partition, either nothing waits, or the first record
 * its consumer group has not committed was written after T.
 *
 * This module is the pure part: the watermark of one topic from its
 * partitions' offsets and the timestamp of their first unprocessed record,
 * the bound a firing round may take due messages up to, the release time
 * that caps how long a message is held, and the WATERMARK_TOPICS setting.
 * wmprobe.h reads the offsets and timestamps from Kafka. */
#ifndef AC_WATERMARK_H
#define AC_WATERMARK_H

#include <stddef.h>
#include <stdint.h>

#include "message.h"

/* No watermark is known (never computed, or the topic is unreadable):
 * nothing gated may fire. */
#define AC_WATERMARK_UNKNOWN INT64_MIN

/* What Kafka said about one partition of a watched topic. */
typedef struct ac_wm_partition {
    int64_t committed; /* the group's next offset to process; < 0: none committed */
    int64_t start;     /* the log start offset (where a group without a commit begins) */
    int64_t end;       /* the high watermark: one past the last record */
    int64_t head_ts;   /* ms timestamp of the first unprocessed record; < 0: unknown */
} ac_wm_partition_t;

/* True when records wait in p for its group: the first of them is at
 * ac_watermark_next(p). */
int ac_watermark_waiting(const ac_wm_partition_t *p);

/* The offset the group processes next: its commit, or the log start. */
int64_t ac_watermark_next(const ac_wm_partition_t *p);

/* The watermark of a topic with n partitions, whose offsets were read at
 * queried_ms (taken before the requests went out): every fact written to
 * the topic before the returned time has been processed. A partition with
 * nothing waiting counts as queried_ms (a record written after the query
 * may still come); one with records waiting counts as its first record's
 * timestamp; one whose first record's timestamp is unknown makes the topic
 * AC_WATERMARK_UNKNOWN. A topic with no partitions is unknown too. */
int64_t ac_watermark_topic(const ac_wm_partition_t *parts, size_t n, int64_t queried_ms);

/* The bound of a firing round at now_ms: messages due strictly before it
 * may fire. The lowest of the topics' watermarks, never above now_ms + 1;
 * AC_WATERMARK_UNKNOWN when any is. With no topics watched, now_ms + 1. */
int64_t ac_watermark_bound(const int64_t *topic_wm, size_t n, int64_t now_ms);

/* True when facts a watermark waits for can stop a message of kind: it
 * has blockers or requirements (journey.h). Messages of other kinds, an
 * order confirmation retried later, are never held. */
int ac_watermark_gated(ac_kind_t kind);

/* When a message of kind due at due_ms fires whatever the watermark says:
 * due_ms + max_hold_ms for a gated kind, due_ms otherwise. */
int64_t ac_watermark_release(ac_kind_t kind, int64_t due_ms, int64_t max_hold_ms);

/* One watched topic and the consumer group whose commits say how far it
 * was processed. */
#define AC_WATERMARK_MAX_TOPICS 8
#define AC_WATERMARK_NAME_MAX   249

typedef struct ac_wm_topic {
    char topic[AC_WATERMARK_NAME_MAX + 1];
    char group[AC_WATERMARK_NAME_MAX + 1];
} ac_wm_topic_t;

/* Parses WATERMARK_TOPICS: "topic:group,topic:group", or "none" for no
 * topics. Fills out[] (room for AC_WATERMARK_MAX_TOPICS) and *n. Returns 0,
 * or -1 with a one-line reason in why. */
int ac_watermark_parse_topics(const char *spec, ac_wm_topic_t *out, size_t *n, char *why,
                              size_t whysz);

#endif
