/* Reads event-time watermarks (watermark.h) from Kafka, in a thread of its
 * own so that the worker's loop never waits on it.
 *
 * Every interval it reads, for each watched topic, the committed offsets
 * of the group that consumes it and the partitions' start and end offsets,
 * and for each partition with records waiting the timestamp of the first
 * of them, by peeking at it. Nothing here depends on that group having a
 * live member: a crashed, rebalancing or scaled-to-zero consumer leaves
 * its commits behind, and its unread records keep the watermark back.
 * The peeked timestamp is cached per (partition, offset), so a stalled
 * group costs one fetch, not one per round.
 *
 * A round that fails (a broker down, a timeout) keeps the last watermark
 * of the topic: a watermark only says that facts written before it were
 * processed, which stays true. The peek assumes record timestamps grow
 * with offsets, as they do with LogAppendTime or with CreateTime from
 * producers whose clocks agree (docs/journey.md). */
#ifndef AC_WMPROBE_H
#define AC_WMPROBE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "watermark.h"

typedef struct ac_wmprobe ac_wmprobe_t;

/* Starts reading the n topics (copied) every interval_ms, with one Kafka
 * reader per distinct group. Returns NULL with err filled. */
ac_wmprobe_t *ac_wmprobe_new(const ac_config_t *cfg, const char *client_id,
                             const ac_wm_topic_t *topics, size_t n, int64_t interval_ms, char *err,
                             size_t errsz);

/* Stops the thread (within one request timeout) and frees everything.
 * Accepts NULL. */
void ac_wmprobe_destroy(ac_wmprobe_t *p);

/* Copies the latest watermark of each topic, in the order given to
 * ac_wmprobe_new(), into wm[] (room for n): AC_WATERMARK_UNKNOWN for a
 * topic never read. Safe from any thread. Returns the count. */
size_t ac_wmprobe_read(ac_wmprobe_t *p, int64_t *wm, size_t n);

/* The name of topic i. */
const char *ac_wmprobe_topic(const ac_wmprobe_t *p, size_t i);

#endif
