/* Which offset may be committed when records finish out of order.
 *
 * notify-worker works on many records of a partition at once and they
 * finish in any order (a slow provider, a retry). Kafka can only commit "all
 * before offset N", so the committable offset is one past the longest
 * finished prefix of what was consumed. A record that is still retrying
 * therefore holds back the commit of its partition, which is exactly what
 * makes a restart resume it rather than lose it. */
#ifndef AC_OFFSETS_H
#define AC_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ac_offsets ac_offsets_t;

ac_offsets_t *ac_offsets_new(void);
void ac_offsets_destroy(ac_offsets_t *t);

/* Records that offset of partition is being worked on. Offsets of one
 * partition must be begun in increasing order. Returns 0 or -1 (no memory). */
int ac_offsets_begin(ac_offsets_t *t, int32_t partition, int64_t offset);

/* Records that offset is finished. Returns the offset to commit for the
 * partition (one past the last finished record of the finished prefix) when
 * it moved forward, or -1 when it did not (or the offset is unknown). */
int64_t ac_offsets_done(ac_offsets_t *t, int32_t partition, int64_t offset);

/* Forgets a partition, e.g. when it is revoked. */
void ac_offsets_reset(ac_offsets_t *t, int32_t partition);

/* Records begun and not yet finished, over all partitions. */
size_t ac_offsets_pending(const ac_offsets_t *t);

#endif
