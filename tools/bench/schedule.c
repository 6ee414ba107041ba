/* ac-bench-schedule: how the durable schedule (common/schedule.c) behaves
 * with many pending messages: the cost of adding, of taking what is due
 * while millions are not, of cancelling, and Redis memory per item.
 *
 *   ac-bench-schedule --redis redis://127.0.0.1:6379/0 [--items N]
 *                     [--due N] [--record-bytes N]
 *   ac-bench-schedule --redis URL --events FILE [--orders N] [--due N]
 *
 * The first form schedules synthetic review requests, one per order, each
 * with a record of --record-bytes. The second compares, on the events of
 * FILE (JSON lines), the memory per pending message of the two forms an
 * item can have (schedule_events.c): --due orders' messages are due.
 *
 * It writes into the given Redis (keys ac:sched*, ac:j:*): point it at a
 * throwaway server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journey_redis.h"
#include "schedule.h"
#include "schedule_events.h"
#include "timeutil.h"

#define BATCH 1000
#define TAKE  500

long long bench_used_memory(ac_redis_t *r)
{
    char err[256];
    long long v = -1;
    redisReply *rep = ac_redis_command(r, err, sizeof(err), "INFO memory");
    if (rep && rep->type == REDIS_REPLY_STRING) {
        const char *p = strstr(rep->str, "used_memory:");
        if (p)
            v = atoll(p + strlen("used_memory:"));
    }
    freeReplyObject(rep);
    return v;
}

int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The batch the steps below fill; static, as it is large. */
static ac_schedule_op_t ops[BATCH];
static char ids[BATCH][AC_MESSAGE_ID_LEN], keys[BATCH][AC_SCHEDULE_KEY_LEN];

/* A JSON record of exactly bytes bytes, standing in for a message. */
static char *make_record(long bytes)
{
    char *record = malloc((size_t)bytes + 1);
    memset(record, 'x', (size_t)bytes);
    memcpy(record, "{\"v\":1,\"note\":\"", 15);
    record[bytes - 2] = '"';
    record[bytes - 1] = '}';
    record[bytes] = '\0';
    return record;
}

/* Schedules items messages in batches, the first due_items of them already
 * due and the rest a day away. Returns the seconds it took, or -1 after
 * reporting. */
static double bench_add(ac_schedule_t *r, long items, long due_items, const char *record,
                        long record_bytes)
{
    char err[256];
    int64_t now = ac_time_now_ms(), t0 = ac_time_mono_ms();
    for (long base = 0; base < items; base += BATCH) {
        for (int k = 0; k < BATCH; k++) {
            char order[32];
            long i = base + k;
            snprintf(order, sizeof(order), "ord_%ld", i);
            ac_message_id(AC_KIND_REVIEW_REQUEST, "bench", order, NULL, ids[k]);
            ac_journey_key("bench", order, keys[k], sizeof(keys[k]));
            ops[k] =
                (ac_schedule_op_t){.type = AC_SCHEDULE_ADD,
                                   .id = ids[k],
                                   .kind = AC_KIND_REVIEW_REQUEST,
                                   .due_ms = i < due_items ? now - 1000 - i : now + 86400000 + i,
                                   .journey_key = keys[k],
                                   .record = record,
                                   .record_len = (size_t)record_bytes};
        }
        if (ac_schedule_apply(r, ops, BATCH, err, sizeof(err)) < 0) {
            fprintf(stderr, "ac-bench-schedule: add: %s\n", err);
            return -1;
        }
    }
    return (double)(ac_time_mono_ms() - t0) / 1000.0;
}

/* Takes and acknowledges up to TAKE due messages per round (the buckets
 * share a round, so a round may bring a few less) until want were taken
 * or rounds rounds ran, noting each take's milliseconds in lat (sorted on
 * return). Returns how many were taken, or -1 after reporting. */
static long bench_take(ac_schedule_t *r, size_t rounds, long want, double *lat, size_t *ran)
{
    static ac_schedule_due_t due[TAKE];
    const ac_schedule_due_t *ack[TAKE];
    char err[256];
    size_t n;
    long taken = 0;
    size_t round = 0;
    for (; round < rounds && taken < want; round++) {
        int64_t a = ac_time_mono_ms();
        if (ac_schedule_take(r, ac_time_now_ms(), 30000, TAKE, due, &n, err, sizeof(err)) < 0) {
            fprintf(stderr, "ac-bench-schedule: take: %s\n", err);
            return -1;
        }
        lat[round] = (double)(ac_time_mono_ms() - a);
        for (size_t k = 0; k < n; k++)
            ack[k] = &due[k];
        taken += (long)n;
        if (ac_schedule_ack(r, ack, n, err, sizeof(err)) < 0) {
            fprintf(stderr, "ac-bench-schedule: ack: %s\n", err);
            return -1;
        }
        ac_schedule_due_clear(due, n);
    }
    qsort(lat, round, sizeof(double), bench_cmp_double);
    *ran = round;
    return taken;
}

/* Cancels a batch of the pending messages (those after the due ones).
 * Returns the milliseconds it took, or -1 after reporting. */
static double bench_cancel(ac_schedule_t *r, long due_items)
{
    char err[256];
    for (int k = 0; k < BATCH; k++) {
        char order[32];
        snprintf(order, sizeof(order), "ord_%ld", due_items + k);
        ac_message_id(AC_KIND_REVIEW_REQUEST, "bench", order, NULL, ids[k]);
        ac_journey_key("bench", order, keys[k], sizeof(keys[k]));
        ops[k] = (ac_schedule_op_t){.type = AC_SCHEDULE_CANCEL,
                                    .id = ids[k],
                                    .kind = AC_KIND_REVIEW_REQUEST,
                                    .due_ms = 0,
                                    .journey_key = keys[k]};
    }
    int64_t t0 = ac_time_mono_ms();
    if (ac_schedule_apply(r, ops, BATCH, err, sizeof(err)) < 0) {
        fprintf(stderr, "ac-bench-schedule: cancel: %s\n", err);
        return -1;
    }
    return (double)(ac_time_mono_ms() - t0);
}

/* Runs the steps against a throwaway Redis and prints one table row; the
 * exit status says whether every due message was taken and the pending
 * count came out as expected. */
/* The command line. */
typedef struct args {
    const char *url, *events;
    long items, due_items, record_bytes, orders;
} args_t;

/* Reads the command line into a; 0, or -1 after printing the usage. */
static int parse_args(int argc, char **argv, args_t *a)
{
    *a = (args_t){NULL, NULL, 1000000, -1, 1200, 100000};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--redis") == 0)
            a->url = argv[i + 1];
        else if (strcmp(argv[i], "--items") == 0)
            a->items = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--due") == 0)
            a->due_items = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--record-bytes") == 0)
            a->record_bytes = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--events") == 0)
            a->events = argv[i + 1];
        else if (strcmp(argv[i], "--orders") == 0)
            a->orders = atol(argv[i + 1]);
    }
    if (a->due_items < 0)
        a->due_items = a->events ? a->orders / 4 : 50000;
    if (a->url && a->items >= BATCH && a->record_bytes >= 16 &&
        (a->events ? a->orders >= 1 && a->due_items <= a->orders : a->due_items <= a->items))
        return 0;
    fprintf(stderr,
            "usage: ac-bench-schedule --redis URL [--items N>=%d] [--due N] "
            "[--record-bytes N>=16]\n"
            "       ac-bench-schedule --redis URL --events FILE [--orders N] [--due N<=orders]\n",
            BATCH);
    return -1;
}

int main(int argc, char **argv)
{
    args_t a;
    if (parse_args(argc, argv, &a) < 0)
        return 2;
    const char *url = a.url, *events = a.events;
    long items = a.items, due_items = a.due_items, record_bytes = a.record_bytes;
    char err[256];
    ac_redis_t *r = ac_redis_new(url, 30000, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "ac-bench-schedule: %s\n", err);
        return 2;
    }
    ac_journey_register(r);
    ac_schedule_t *s = ac_schedule_new(r, 64, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "ac-bench-schedule: %s\n", err);
        return 1;
    }
    if (ac_redis_connect(r, err, sizeof(err)) < 0) {
        fprintf(stderr, "ac-bench-schedule: %s\n", err);
        return 1;
    }
    if (events) {
        int rc = bench_events(r, s, events, a.orders, due_items);
        ac_schedule_destroy(s);
        ac_redis_destroy(r);
        return rc;
    }
    char *record = make_record(record_bytes);
    long long mem0 = bench_used_memory(r);
    double add_s = bench_add(s, items, due_items, record, record_bytes);
    if (add_s < 0)
        return 1;
    long long mem1 = bench_used_memory(r);

    /* Take what is due, TAKE at a time, while the rest stays pending. */
    size_t rounds = (size_t)(2 * due_items / TAKE + 2), ran = 0;
    double *lat = calloc(rounds, sizeof(double));
    long taken = bench_take(s, rounds, due_items, lat, &ran);
    if (taken < 0)
        return 1;
    double cancel_ms = bench_cancel(s, due_items);
    if (cancel_ms < 0)
        return 1;
    long long pending = 0;
    ac_schedule_pending(s, &pending, err, sizeof(err));

    printf("| items pending | record bytes | add rate (items/s) | Redis memory per item | "
           "take %d due: median / max | cancel %d |\n",
           TAKE, BATCH);
    printf("|---|---|---|---|---|---|\n");
    printf("| %ld | %ld | %.0f | %.0f B | %.1f ms / %.1f ms | %.1f ms |\n", items, record_bytes,
           (double)items / add_s, (double)(mem1 - mem0) / (double)items, ran ? lat[ran / 2] : 0.0,
           ran ? lat[ran - 1] : 0.0, cancel_ms);
    printf("taken %ld of %ld due; %lld left pending\n", taken, due_items, pending);
    free(lat);
    free(record);
    ac_schedule_destroy(s);
    ac_redis_destroy(r);
    return taken == due_items && pending == items - due_items - BATCH ? 0 : 1;
}
