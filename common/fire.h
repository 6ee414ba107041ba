/* Firing the scheduled messages that are due: every event worker does it
 * (SCHEDULER=true), any number of replicas at once.
 *
 * Each round takes the due items from the durable schedule (schedule.h),
 * as far as the input topics' event-time watermarks let it (watermark.h,
 * read from Kafka by wmprobe.h): a review request due at T waits until
 * every watched topic was processed up to T, so that a return still unread
 * in its topic stops it, or until its store's WATERMARK_MAX_HOLD passed.
 * Taking an item leases it, so each goes to one firer; it is produced to
 * the notifications topic and removed only once Kafka has it. A firer that
 * dies in between leaves the item to be taken again when the lease lapses;
 * the message id makes that second copy a duplicate notify-worker drops.
 *
 * Reads FIRE_INTERVAL, FIRE_LEASE, NOTIFY_TOPIC, WATERMARK_TOPICS and
 * WATERMARK_INTERVAL from the worker's settings. */
#ifndef AC_FIRE_H
#define AC_FIRE_H

#include <stddef.h>

#include "schedule.h"
#include "worker.h"

typedef struct ac_fire ac_fire_t;

/* Sets up firing for w (which must outlive it) and starts reading the
 * watermarks. Returns NULL with err filled. */
ac_fire_t *ac_fire_new(ac_worker_t *w, ac_schedule_t *sched, char *err, size_t errsz);

/* Stops the watermark reader and frees everything. Accepts NULL. */
void ac_fire_destroy(ac_fire_t *f);

/* Runs a firing round when FIRE_INTERVAL has passed since the last one
 * (a second after a Redis failure); otherwise returns at once. Accepts
 * NULL (a worker that does not fire). */
void ac_fire_poll(ac_fire_t *f);

#endif
