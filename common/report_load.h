/* Reads a store's facts (facts.h) from Redis into the input of the
 * retention report's formulas (report.h), placing every fact on the
 * store's own calendar: the period's dates are local dates in the store's
 * time zone, and so are the days and months facts are grouped by.
 *
 * The loader owns every string the input points to; they stay valid until
 * ac_report_load_destroy(). The time zone is applied through TZ, which is
 * process-wide: this is for single-threaded tools (ac-report). */
#ifndef AC_REPORT_LOAD_H
#define AC_REPORT_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "report.h"

typedef struct ac_report_load ac_report_load_t;

/* The period asked for: local dates "YYYY-MM-DD", both inclusive. */
typedef struct ac_report_period {
    const char *store, *from, *to;
    const char *timezone; /* IANA name; NULL: the one the workers recorded, else UTC */
    int64_t retention_ms; /* how far back orders are read (ANALYTICS_RETENTION) */
    int64_t now_ms;       /* returns are read up to here */
} ac_report_period_t;

/* Validates the period and reads the facts. Returns the loader, whose
 * input (ac_report_load_input()) is ready for ac_report_compute(), or
 * NULL with a one-line reason in err (a bad date names the flag). */
ac_report_load_t *ac_report_load(ac_redis_t *r, const ac_report_period_t *p, char *err,
                                 size_t errsz);

const ac_report_input_t *ac_report_load_input(const ac_report_load_t *l);

void ac_report_load_destroy(ac_report_load_t *l);

/* Pure date helpers, exported for the tests: days since 1970-01-01 of a
 * civil date, and "YYYY-MM-DD" parsing (0, or -1 when not a real date). */
int64_t ac_report_days_from_civil(int y, int m, int d);
int ac_report_parse_date(const char *s, int *y, int *m, int *d);

#endif
