/* Time helpers: RFC 3339 parsing and formatting in milliseconds since the
 * Unix epoch (UTC). Everything aftercare schedules or compares is kept as an
 * int64_t count of milliseconds so that arithmetic never depends on the
 * process's local timezone. */
#ifndef AC_TIMEUTIL_H
#define AC_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Size of a buffer that holds any timestamp ac_time_format() writes. */
#define AC_TIME_BUFSZ 32

/* Parses "2026-11-25T10:15:00Z", "2026-11-25T10:15:00.123+01:00" or a bare
 * date "2026-11-25" (taken as midnight UTC). Returns 0 and fills *ms, or -1
 * when the text is not a valid RFC 3339 timestamp or date. */
int ac_time_parse(const char *s, int64_t *ms);

/* Writes ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (AC_TIME_BUFSZ bytes). */
void ac_time_format(int64_t ms, char *buf, size_t bufsz);

/* Wall-clock time in milliseconds since the epoch. */
int64_t ac_time_now_ms(void);

/* Copies the calendar date of s ("2024-11-07" or "2024-11-07T18:00:00+01:00")
 * into date as "YYYY-MM-DD". Returns 0, or -1 when s does not start with a
 * valid date. Dates compare correctly with strcmp(). */
int ac_time_date(const char *s, char date[11]);

/* Monotonic time in milliseconds, for timeouts and backoff. */
int64_t ac_time_mono_ms(void);

#endif
