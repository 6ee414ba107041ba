/* ac-bench-schedule --events FILE: Redis memory per pending message with
 * real events, in the form earlier versions stored (a notification record
 * per message, the consumed event in it verbatim) and in the form the
 * event workers store now (the trimmed event, packed, once for the messages
 * of an order decided from it), in one run on the same events.
 *
 * Each order is a delivery: the event of FILE's line (order % lines) and
 * the two messages shipment-worker schedules for it, a review request due
 * 7 days and a referral invitation due 14 days after the delivery. The
 * first --due orders were delivered 15 days ago, so that their messages
 * are due and the take can be timed; the rest within the last hour. */
#include "schedule_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evzip.h"
#include "journey.h"
#include "journey_redis.h"
#include "timeutil.h"
#include "watermark.h"

#define DAY      86400000LL
#define ORDERS   500 /* per batch: two messages each */
#define TAKE_MAX 500

/* FILE's events: as consumed and trimmed. */
typedef struct events {
    char **raw, **trim;
    size_t *raw_len, *trim_len, *packed_len;
    size_t n;
} events_t;

/* One form's figures. */
typedef struct figures {
    double add_rate, per_message, take_median, take_max, kept;
    long taken;
    long long pending;
} figures_t;

static void events_free(events_t *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->raw[i]);
        free(e->trim[i]);
    }
    free(e->raw);
    free(e->trim);
    free(e->raw_len);
    free(e->trim_len);
    free(e->packed_len);
}

/* Keeps the lines of path that the event contract accepts. 0, or -1
 * after reporting. */
static int events_load(const char *path, events_t *e)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, room = 0;
    ssize_t len;
    memset(e, 0, sizeof(*e));
    if (!f) {
        perror(path);
        return -1;
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        ac_event_error_t err;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        ac_event_t *ev = ac_event_parse(line, (size_t)len, 0, &err);
        if (!ev)
            continue;
        if (e->n == room) {
            room = room ? 2 * room : 256;
            e->raw = realloc(e->raw, room * sizeof(char *));
            e->trim = realloc(e->trim, room * sizeof(char *));
            e->raw_len = realloc(e->raw_len, room * sizeof(size_t));
            e->trim_len = realloc(e->trim_len, room * sizeof(size_t));
            e->packed_len = realloc(e->packed_len, room * sizeof(size_t));
            if (!e->raw || !e->trim || !e->raw_len || !e->trim_len || !e->packed_len)
                abort();
        }
        e->raw[e->n] = strdup(line);
        e->raw_len[e->n] = (size_t)len;
        e->trim[e->n] = ac_event_encode(ev, &e->trim_len[e->n]);
        ac_event_destroy(ev);
        if (!e->raw[e->n] || !e->trim[e->n])
            abort();
        /* What Redis keeps of it (schedule.c packs it). */
        char *packed = ac_evzip_pack(e->trim[e->n], e->trim_len[e->n], &e->packed_len[e->n]);
        if (!packed)
            abort();
        free(packed);
        e->n++;
    }
    free(line);
    fclose(f);
    if (e->n == 0)
        fprintf(stderr, "ac-bench-schedule: %s holds no event the contract accepts\n", path);
    return e->n ? 0 : -1;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* The median of n sizes (n >= 1). */
static double median_size(const size_t *v, size_t n)
{
    size_t *c = malloc(n * sizeof(*c));
    if (!c)
        abort();
    memcpy(c, v, n * sizeof(*c));
    qsort(c, n, sizeof(*c), cmp_size);
    double m = (double)c[n / 2];
    free(c);
    return m;
}

/* The batch being filled: ops and the strings they point to. */
static ac_schedule_op_t ops[2 * ORDERS];
static char ids[2 * ORDERS][AC_MESSAGE_ID_LEN], keys[ORDERS][AC_SCHEDULE_KEY_LEN];
static char *records[2 * ORDERS];

/* Fills ops[2k], ops[2k+1] with order i's two messages: with records of
 * their own (shared 0) or sharing the trimmed event. */
static void order_ops(const events_t *e, long i, size_t k, long due_orders, int64_t now, int shared)
{
    static const ac_kind_t kinds[2] = {AC_KIND_REVIEW_REQUEST, AC_KIND_REFERRAL_INVITE};
    static const int64_t delay[2] = {7 * DAY, 14 * DAY};
    char order[32];
    size_t ev = (size_t)i % e->n;
    int64_t delivered = i < due_orders ? now - 15 * DAY - i : now - i % 3600000;
    snprintf(order, sizeof(order), "ord_%ld", i);
    ac_journey_key("bench", order, keys[k], sizeof(keys[k]));
    for (size_t m = 0; m < 2; m++) {
        size_t o = 2 * k + m;
        int64_t due = delivered + delay[m];
        ac_message_id(kinds[m], "bench", order, NULL, ids[o]);
        ops[o] = (ac_schedule_op_t){.type = AC_SCHEDULE_ADD,
                                    .id = ids[o],
                                    .kind = kinds[m],
                                    .due_ms = due,
                                    .journey_key = keys[k],
                                    .release_ms = ac_watermark_release(kinds[m], due, DAY),
                                    .occurred_ms = delivered};
        records[o] = NULL;
        if (shared) {
            ops[o].event = e->trim[ev];
            ops[o].event_len = e->trim_len[ev];
            continue;
        }
        records[o] = ac_message_encode_json(ids[o], kinds[m], delivered, due, e->raw[ev],
                                            e->raw_len[ev], &ops[o].record_len);
        if (!records[o])
            abort();
        ops[o].record = records[o];
    }
}

/* Schedules the orders' messages. Returns the seconds it took, or -1
 * after reporting. */
static double add_orders(ac_schedule_t *s, const events_t *e, long orders, long due_orders,
                         int shared)
{
    char err[256];
    int64_t now = ac_time_now_ms(), t0 = ac_time_mono_ms();
    for (long base = 0; base < orders; base += ORDERS) {
        size_t n = 0;
        for (long i = base; i < orders && i < base + ORDERS; i++, n++)
            order_ops(e, i, n, due_orders, now, shared);
        int rc = ac_schedule_apply(s, ops, 2 * n, err, sizeof(err));
        for (size_t o = 0; o < 2 * n; o++)
            free(records[o]);
        if (rc < 0) {
            fprintf(stderr, "ac-bench-schedule: add: %s\n", err);
            return -1;
        }
    }
    return (double)(ac_time_mono_ms() - t0) / 1000.0;
}

/* The consent a referral invitation needs by the time it fires, in the
 * journeys of the orders whose messages are due. */
static int give_consent(ac_redis_t *r, long due_orders, char *err, size_t errsz)
{
    char order[32], key[AC_SCHEDULE_KEY_LEN];
    for (long base = 0; base < due_orders; base += ORDERS) {
        ac_redis_batch_t *b = ac_redis_batch_begin(r, NULL, NULL, err, errsz);
        if (!b)
            return -1;
        for (long i = base; i < due_orders && i < base + ORDERS; i++) {
            snprintf(order, sizeof(order), "ord_%ld", i);
            ac_journey_key("bench", order, key, sizeof(key));
            ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "HSET %s %s 1", key,
                                   ac_fact_name(AC_FACT_CONSENT));
        }
        if (ac_redis_batch_exec(b, err, errsz) < 0)
            return -1;
    }
    return 0;
}

/* Takes and acknowledges want due messages, TAKE_MAX a round, timing
 * each take (records rebuilt included). Returns how many were taken, or
 * -1 after reporting. */
static long take_due(ac_schedule_t *s, long want, figures_t *f)
{
    static ac_schedule_due_t due[TAKE_MAX];
    const ac_schedule_due_t *ack[TAKE_MAX];
    size_t rounds = (size_t)(2 * want / TAKE_MAX + 4), ran = 0, n = 0;
    double *lat = calloc(rounds, sizeof(double));
    char err[256];
    long taken = 0;
    if (!lat)
        abort();
    for (; ran < rounds && taken < want; ran++) {
        int64_t a = ac_time_mono_ms();
        int rc = ac_schedule_take(s, ac_time_now_ms(), 30000, TAKE_MAX, due, &n, err, sizeof(err));
        lat[ran] = (double)(ac_time_mono_ms() - a);
        for (size_t k = 0; rc == 0 && k < n; k++)
            ack[k] = &due[k];
        if (rc < 0 || ac_schedule_ack(s, ack, n, err, sizeof(err)) < 0) {
            fprintf(stderr, "ac-bench-schedule: take: %s\n", err);
            free(lat);
            return -1;
        }
        taken += (long)n;
        ac_schedule_due_clear(due, n);
    }
    qsort(lat, ran, sizeof(double), bench_cmp_double);
    f->take_median = ran ? lat[ran / 2] : 0;
    f->take_max = ran ? lat[ran - 1] : 0;
    free(lat);
    return taken;
}

/* One form on an empty Redis: add, memory, take. 0, or -1 after
 * reporting. */
static int run_form(ac_redis_t *r, ac_schedule_t *s, const events_t *e, long orders,
                    long due_orders, int shared, figures_t *f)
{
    char err[256];
    redisReply *rep = ac_redis_command(r, err, sizeof(err), "FLUSHALL");
    if (!rep) {
        fprintf(stderr, "ac-bench-schedule: FLUSHALL: %s\n", err);
        return -1;
    }
    freeReplyObject(rep);
    long long mem0 = bench_used_memory(r);
    double add_s = add_orders(s, e, orders, due_orders, shared);
    if (add_s < 0)
        return -1;
    long long mem1 = bench_used_memory(r);
    f->add_rate = (double)(2 * orders) / (add_s > 0 ? add_s : 1e-3);
    f->per_message = (double)(mem1 - mem0) / (double)(2 * orders);
    if (give_consent(r, due_orders, err, sizeof(err)) < 0) {
        fprintf(stderr, "ac-bench-schedule: consent: %s\n", err);
        return -1;
    }
    if ((f->taken = take_due(s, 2 * due_orders, f)) < 0)
        return -1;
    return ac_schedule_pending(s, &f->pending, err, sizeof(err));
}

int bench_events(ac_redis_t *r, ac_schedule_t *s, const char *path, long orders, long due_orders)
{
    events_t e;
    figures_t today, shared;
    memset(&today, 0, sizeof(today));
    memset(&shared, 0, sizeof(shared));
    if (events_load(path, &e) < 0)
        return 2;
    double raw = median_size(e.raw_len, e.n), trim = median_size(e.trim_len, e.n);
    double packed = median_size(e.packed_len, e.n);
    /* A record is the envelope (about 160 bytes) and the event. */
    size_t envelope = 0;
    char *probe = ac_message_encode_json("msg_00000000000000000000000000000000",
                                         AC_KIND_REFERRAL_INVITE, 1, 2, "{}", 2, &envelope);
    free(probe);
    today.kept = 2 * (raw + (double)envelope - 2);
    shared.kept = packed;
    if (run_form(r, s, &e, orders, due_orders, 0, &today) < 0 ||
        run_form(r, s, &e, orders, due_orders, 1, &shared) < 0) {
        events_free(&e);
        return 1;
    }
    printf("| form | orders | messages pending | bytes kept per order | add rate (messages/s) | "
           "Redis memory per pending message | take %d due: median / max |\n",
           TAKE_MAX);
    printf("|---|---|---|---|---|---|---|\n");
    const figures_t *fs[2] = {&today, &shared};
    const char *names[2] = {"a record per message (earlier versions)",
                            "the trimmed event, shared by the order's messages"};
    for (int i = 0; i < 2; i++)
        printf("| %s | %ld | %ld | %.0f B | %.0f | %.0f B | %.1f ms / %.1f ms |\n", names[i],
               orders, 2 * orders, fs[i]->kept, fs[i]->add_rate, fs[i]->per_message,
               fs[i]->take_median, fs[i]->take_max);
    printf("shared / per message: %.2f of the memory per pending message (%zu events, median "
           "%.0f bytes as consumed, %.0f trimmed, %.0f packed)\n",
           shared.per_message / today.per_message, e.n, raw, trim, packed);
    long want = 2 * due_orders;
    long long left = 2 * (orders - due_orders);
    printf("taken %ld and %ld of %ld due; %lld and %lld left pending\n", today.taken, shared.taken,
           want, today.pending, shared.pending);
    events_free(&e);
    return today.taken == want && shared.taken == want && today.pending == left &&
                   shared.pending == left
               ? 0
               : 1;
}
