/* The event workers' pipeline (pipeline.c), shared between its files and
 * not part of its interface: the batch it works on, and the steps kept in
 * files of their own (pipeline_kafka.c: collecting, producing a batch's
 * output and rewinding; pipeline_marks.c: done marks and offsets, carried
 * by the next batch's seen check; pipeline_record.c: the journeys,
 * contexts and history in one round trip, the schedule and facts in two;
 * pipeline_tally.c: the metrics; pipeline_options.c: the settings). */
#ifndef AC_PIPELINE_INT_H
#define AC_PIPELINE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "event.h"
#include "facts.h"
#include "fire.h"
#include "journey.h"
#include "kafka.h"
#include "message.h"
#include "rules.h"
#include "schedule.h"
#include "stores.h"
#include "worker.h"

/* What became of one consumed record. */
typedef enum item_state {
    ITEM_INVALID,   /* to the dead-letter topic */
    ITEM_UNKNOWN,   /* valid, but a type no rule here handles */
    ITEM_DUPLICATE, /* already processed */
    ITEM_NEW,       /* to decide and produce */
} item_state_t;

typedef struct tally {
    double consumed[AC_EVENT__COUNT + 1]; /* last slot: invalid records */
    double duplicates[AC_EVENT__COUNT], unknown, decided[AC_KIND__COUNT];
    double dead[AC_EVENT_ERR_INVALID_FIELD + 1];
    double scheduled[AC_KIND__COUNT], cancelled[AC_KIND__COUNT];
    double suppressed[AC_KIND__COUNT]
                     [AC_FACT__COUNT + 4]; /* facts, disabled, no_consent, no_support, blocked */
} tally_t;

typedef struct item {
    rd_kafka_message_t *msg;
    ac_event_t *ev;
    ac_event_error_t err;
    item_state_t state;
    char *key;     /* dedup key, for valid events */
    char *payload; /* the record completed from its order's context (octx.h), or NULL */
    size_t payload_len;
    ac_journey_t journey;
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    size_t nd;
} item_t;

typedef struct batch {
    item_t *items;
    size_t n, cap;
    const char **keys; /* scratch for Redis calls */
    int *seen;
    const ac_event_t **evs;     /* scratch for the journey */
    ac_journey_t *journeys;     /* scratch for the journey */
    ac_schedule_op_t *ops;      /* AC_RULES_MAX_DECISIONS per item */
    item_t **op_items;          /* the item of each op */
    char (*jkeys)[600];         /* journey key per item */
    char **records;             /* trimmed event per ADD op, owned while a batch is scheduled */
    size_t n_ops;               /* ops of the last schedule() */
    ac_facts_msg_t *facts;      /* scratch for the report's facts */
    char **merged;              /* scratch for complete_events() */
    int64_t started_ms;         /* when the batch's first record was consumed */
    tally_t tally;              /* the batch's counts, added to the metrics when it is done */
    ac_kafka_tracker_t tracker; /* its produced records until Kafka has them */
    const char **flight;        /* its new events' keys, sorted, while it is in flight */
    size_t n_flight;
} batch_t;

/* A finished batch whose done marks and offsets wait for the next batch's
 * seen check (pipeline_marks.c). */
typedef struct pending {
    char **keys; /* its events' keys, owned; room for BATCH_SIZE */
    size_t n;
    rd_kafka_topic_partition_list_t *offsets; /* to store once marked, or NULL */
    tally_t tally;                            /* added to the metrics then */
    int64_t started_ms;
    size_t records; /* its records; 0: nothing pending */
} pending_t;

/* What a worker's pipeline works with besides the batch. */
typedef struct pipe {
    ac_worker_t *w;
    ac_rules_fn rules;
    ac_stores_t *stores;
    const char *notify_topic;
    int64_t journey_ttl, history_ttl, facts_ttl; /* facts_ttl 0: ANALYTICS=false */
    ac_schedule_t *sched;                        /* the schedule, over w->redis */
    ac_fire_t *fire;          /* NULL: this worker does not fire scheduled messages */
    struct batch *in_flight;  /* the batch awaiting Kafka's acknowledgement, or NULL */
    struct batch *collecting; /* the batch being collected */
    int64_t dedup_ttl;        /* how long an event's done mark lasts */
    int rc;                   /* the exit status once the loop stops */
    int revoked;              /* in_flight finished at a revocation: 1 rewound, -1 failed */
    pending_t pending;        /* the last finished batch, not marked done yet */
} pipe_t;

/* Batch-local counters, added to the registry once per batch. */

#define REASON_DISABLED   AC_FACT__COUNT
#define REASON_NO_CONSENT (AC_FACT__COUNT + 1)
#define REASON_NO_SUPPORT (AC_FACT__COUNT + 2)
#define REASON_BLOCKED    (AC_FACT__COUNT + 3)
#define N_REASONS         (AC_FACT__COUNT + 4)

/* After a failed Redis round trip: reports it and waits before the next
 * attempt. Returns -1 instead when the worker is stopping. */
int ac_pipe_redis_retry(ac_worker_t *w, int attempt, const char *err);

/* The record an item's messages carry: as consumed, or as completed. */
const char *ac_pipe_item_payload(const item_t *it, size_t *len);

/* Writes what the batch's new events bring, in one round trip: their
 * journeys (read back into the items), new orders' contexts (completing
 * the events that lack the customer's address, octx.h) and purchase
 * history. Returns -1 only when stopping. */
int ac_pipe_write_events(pipe_t *p, batch_t *b);

/* Writes the batch's scheduling ops (b->ops, b->n_ops; their results
 * filled) and the retention report's facts (facts.h) in two round trips,
 * retried through an outage. Returns -1 only when stopping. */
int ac_pipe_write_outcomes(pipe_t *p, batch_t *b);

/* The index of a suppression reason in tally_t.suppressed. */
int ac_pipe_reason_index(const char *reason);

/* Adds counts of records by type to metric. */
void ac_pipe_count_events(ac_worker_t *w, const tally_t *t, const char *metric);

/* Adds a batch's counts to the registry (all: every known series, at 0
 * for a zero tally). */
void ac_pipe_add_tally(ac_worker_t *w, const tally_t *t, int all);

/* Adds a finished batch's counts and processing time: n records, the
 * first consumed at started_ms (monotonic). */
void ac_pipe_flush_tally(ac_worker_t *w, int64_t started_ms, size_t n, const tally_t *t);

/* Polls records into b until it holds max, or wait_ms passed since its
 * first record, or nothing arrived within first_ms. */
void ac_pipe_collect(ac_worker_t *w, batch_t *b, size_t max, int wait_ms, int first_ms);

/* Drops the records of the partitions in parts from b, a batch being
 * collected. */
void ac_pipe_drop_revoked(batch_t *b, const rd_kafka_topic_partition_list_t *parts);

/* Produces the messages and dead letters of batch b, counted in
 * b->tracker, without waiting for Kafka's acknowledgements. */
void ac_pipe_produce(ac_worker_t *w, batch_t *b, const char *notify_topic);

/* Waits until Kafka has every record b produced. When the worker is
 * stopping, the records still waited for are given up (ac_kafka_abandon()
 * purges every batch's). Returns 0, or -1 when any failed or was given
 * up. */
int ac_pipe_produced(ac_worker_t *w, batch_t *b);

/* Seeks every partition of the n batches back to its lowest offset in
 * them: a failed batch and every batch consumed after it are consumed
 * again. Returns -1 when a partition could not be sought back. */
int ac_pipe_rewind(ac_worker_t *w, batch_t *const *bs, size_t n);

/* The done marks and offsets of finished batches (pipeline_marks.c):
 * ac_pipe_pend() holds back b's (taking its keys), ac_pipe_check_seen()
 * writes them in the same round trip as the next batch's seen check, and
 * ac_pipe_flush_pending() in one of their own when no batch follows. The
 * offsets are stored once the marks are written. ac_pipe_check_seen()
 * returns -1 only when stopping; ac_pipe_pending_alloc() -1 when out of
 * memory. */
int ac_pipe_pending_alloc(pipe_t *p, size_t max);
void ac_pipe_pend(pipe_t *p, batch_t *b);
int ac_pipe_check_seen(pipe_t *p, batch_t *b);
void ac_pipe_flush_pending(pipe_t *p);
void ac_pipe_pending_free(pipe_t *p);

/* The per-store table from STORE_SETTINGS, or NULL with err. */
ac_stores_t *ac_pipe_load_stores(const ac_config_t *cfg, char *err, size_t errsz);

#endif
