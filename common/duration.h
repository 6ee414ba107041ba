/* Human durations in configuration: "500ms", "30s", "15m", "2h", "7d". */
#ifndef AC_DURATION_H
#define AC_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses a non-negative duration into milliseconds. A unit is required
 * (ms, s, m, h, d), except for the plain "0". Returns 0 on success, -1 when
 * the text is empty, has no or an unknown unit, or overflows. */
int ac_duration_parse(const char *s, int64_t *ms);

/* Writes ms in the largest unit that divides it exactly, e.g. 7d, 90s. */
void ac_duration_format(int64_t ms, char *buf, size_t bufsz);

#endif
