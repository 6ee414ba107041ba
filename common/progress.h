/* Per-partition progress of a consumer: how far behind the newest record
 * each assigned partition is (its lag), and whether a partition with
 * records waiting has stopped moving while the worker runs. A partition
 * that stalls (a poison record, a lease never released, a retry loop) holds
 * back its customers' messages even though the process looks healthy, so
 * it is shown in /metrics and fails /readyz.
 *
 * The tracker is fed from librdkafka's statistics (ac_progress_parse_stats)
 * and is pure: it is given the time, so tests drive it directly. */
#ifndef AC_PROGRESS_H
#define AC_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

/* One partition as librdkafka's statistics report it. */
typedef struct ac_partition_stats {
    int32_t partition;
    int assigned; /* "desired": part of this consumer's assignment */
    int64_t hi;   /* high watermark: the offset the next record will get */
    int64_t done; /* next offset to process: stored, else committed, else the low
                   watermark; -1 unknown */
} ac_partition_stats_t;

/* Reads the partitions of topic from a librdkafka statistics JSON document
 * into out (at most max). Returns how many, or -1 when json is not a
 * statistics document. */
int ac_progress_parse_stats(const char *json, size_t len, const char *topic,
                            ac_partition_stats_t *out, size_t max);

typedef struct ac_progress ac_progress_t;

/* A tracker that calls a partition stalled after stall_ms without
 * progress while records wait. Returns NULL when out of memory; free with
 * ac_progress_destroy(). */
ac_progress_t *ac_progress_new(int64_t stall_ms);
void ac_progress_destroy(ac_progress_t *p);

/* Notes what a partition looks like at now_ms (monotonic). Returns its lag
 * (records waiting, 0 when unknown) and sets *stalled. */
int64_t ac_progress_note(ac_progress_t *p, const ac_partition_stats_t *s, int64_t now_ms,
                         int *stalled);

/* Forgets a partition, e.g. when it is no longer assigned: a later
 * assignment starts its clock afresh. */
void ac_progress_forget(ac_progress_t *p, int32_t partition);

#endif
