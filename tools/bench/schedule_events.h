/* The parts of ac-bench-schedule (tools/bench/schedule.c) that
 * schedule_events.c shares with it. */
#ifndef AC_BENCH_SCHEDULE_EVENTS_H
#define AC_BENCH_SCHEDULE_EVENTS_H

#include "schedule.h"

/* Redis's used_memory, or -1. */
long long bench_used_memory(ac_redis_t *r);

/* qsort() order of doubles. */
int bench_cmp_double(const void *a, const void *b);

/* The realistic comparison (--events): prints its table and returns the
 * exit status, 0 when every due message was taken and the rest stayed
 * pending in both forms. It empties the Redis (FLUSHALL) before each. */
int bench_events(ac_redis_t *r, ac_schedule_t *s, const char *path, long orders, long due_orders);

#endif
