/* ac-bench-schedule: how the durable schedule (common/schedule.c) behaves
 * with many pending messages: the cost of adding, of taking what is due
 * while millions are not, of cancelling, and Redis memory per item.
 *
 *   ac-bench-schedule --redis redis://127.0.0.1:6379/0 [--items N]
 *                     [--due N] [--record-bytes N]
 *
 * It writes into the given Redis (keys ac:sched*, ac:j:*): point it at a
 * throwaway server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journey_redis.h"
#include "schedule.h"
#include "timeutil.h"

#define BATCH 1000
#define TAKE  500

static long long used_memory(ac_redis_t *r)
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    long items = 1000000, due_items = 50000, record_bytes = 1200;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--redis") == 0)
            url = argv[i + 1];
        else if (strcmp(argv[i], "--items") == 0)
            items = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--due") == 0)
            due_items = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--record-bytes") == 0)
            record_bytes = atol(argv[i + 1]);
    }
    if (!url || items < BATCH || due_items > items || record_bytes < 16) {
        fprintf(stderr,
                "usage: ac-bench-schedule --redis URL [--items N>=%d] [--due N] "
                "[--record-bytes N>=16]\n",
                BATCH);
        return 2;
    }
    char err[256];
    ac_redis_t *r = ac_redis_new(url, 30000, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "ac-bench-schedule: %s\n", err);
        return 2;
    }
    ac_journey_register(r);
    ac_schedule_register(r);
    if (ac_redis_connect(r, err, sizeof(err)) < 0) {
        fprintf(stderr, "ac-bench-schedule: %s\n", err);
        return 1;
    }
    char *record = malloc((size_t)record_bytes + 1);
    memset(record, 'x', (size_t)record_bytes);
    memcpy(record, "{\"v\":1,\"note\":\"", 15);
    record[record_bytes - 2] = '"';
    record[record_bytes - 1] = '}';
    record[record_bytes] = '\0';

    static ac_schedule_op_t ops[BATCH];
    static char ids[BATCH][AC_MESSAGE_ID_LEN], keys[BATCH][64];
    long long mem0 = used_memory(r);
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
            return 1;
        }
    }
    double add_s = (double)(ac_time_mono_ms() - t0) / 1000.0;
    long long mem1 = used_memory(r);

    /* Take what is due, TAKE at a time, while the rest stays pending. */
    size_t rounds = (size_t)(due_items / TAKE), n;
    double *lat = calloc(rounds ? rounds : 1, sizeof(double));
    static ac_schedule_due_t due[TAKE];
    const char *ack[TAKE];
    long taken = 0;
    for (size_t round = 0; round < rounds; round++) {
        int64_t a = ac_time_mono_ms();
        if (ac_schedule_take(r, ac_time_now_ms(), 30000, TAKE, due, &n, err, sizeof(err)) < 0) {
            fprintf(stderr, "ac-bench-schedule: take: %s\n", err);
            return 1;
        }
        lat[round] = (double)(ac_time_mono_ms() - a);
        for (size_t k = 0; k < n; k++)
            ack[k] = due[k].id;
        taken += (long)n;
        if (ac_schedule_ack(r, ack, n, err, sizeof(err)) < 0) {
            fprintf(stderr, "ac-bench-schedule: ack: %s\n", err);
            return 1;
        }
        ac_schedule_due_clear(due, n);
    }
    qsort(lat, rounds, sizeof(double), cmp_double);

    /* Cancel a batch of pending ones. */
    for (int k = 0; k < BATCH; k++) {
        char order[32];
        snprintf(order, sizeof(order), "ord_%ld", due_items + k);
        ac_message_id(AC_KIND_REVIEW_REQUEST, "bench", order, NULL, ids[k]);
        ops[k] = (ac_schedule_op_t){
            .type = AC_SCHEDULE_CANCEL, .id = ids[k], .kind = AC_KIND_REVIEW_REQUEST, .due_ms = 0};
    }
    t0 = ac_time_mono_ms();
    if (ac_schedule_apply(r, ops, BATCH, err, sizeof(err)) < 0) {
        fprintf(stderr, "ac-bench-schedule: cancel: %s\n", err);
        return 1;
    }
    double cancel_ms = (double)(ac_time_mono_ms() - t0);
    long long pending = 0;
    ac_schedule_pending(r, &pending, err, sizeof(err));

    printf("| items pending | record bytes | add rate (items/s) | Redis memory per item | "
           "take %d due: median / max | cancel %d |\n",
           TAKE, BATCH);
    printf("|---|---|---|---|---|---|\n");
    printf("| %ld | %ld | %.0f | %.0f B | %.1f ms / %.1f ms | %.1f ms |\n", items, record_bytes,
           (double)items / add_s, (double)(mem1 - mem0) / (double)items,
           rounds ? lat[rounds / 2] : 0.0, rounds ? lat[rounds - 1] : 0.0, cancel_ms);
    printf("taken %ld of %ld due; %lld left pending\n", taken, due_items, pending);
    free(lat);
    free(record);
    ac_redis_destroy(r);
    return taken == due_items && pending == items - due_items - BATCH ? 0 : 1;
}
