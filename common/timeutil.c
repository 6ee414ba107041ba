#include "timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Days from 1970-01-01 to the given civil date, valid for every year in the
 * proleptic Gregorian calendar (Howard Hinnant's algorithm). We avoid timegm()
 * so that parsing is pure and has no locale or TZ dependence. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Reads exactly n decimal digits; returns -1 if any is missing. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

int ac_time_parse(const char *s, int64_t *ms)
{
    if (!s)
        return -1;
    const char *p = s;
    int y = digits(&p, 4);
    if (y < 0 || *p++ != '-')
        return -1;
    int mo = digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-')
        return -1;
    int d = digits(&p, 2);
    if (d < 1 || d > days_in_month(y, mo))
        return -1;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    if (*p == '\0') {
        *ms = days * 86400000LL;
        return 0;
    }
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    int h = digits(&p, 2);
    if (h < 0 || h > 23 || *p++ != ':')
        return -1;
    int mi = digits(&p, 2);
    if (mi < 0 || mi > 59 || *p++ != ':')
        return -1;
    int sec = digits(&p, 2);
    if (sec < 0 || sec > 60) /* 60 allows a leap second */
        return -1;
    int frac_ms = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            return -1;
        for (; n < 3; n++)
            frac_ms *= 10;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh = digits(&p, 2);
        if (oh < 0 || oh > 23 || *p++ != ':')
            return -1;
        int om = digits(&p, 2);
        if (om < 0 || om > 59)
            return -1;
        offset_min = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    int64_t secs = days * 86400LL + h * 3600LL + mi * 60LL + sec - offset_min * 60LL;
    *ms = secs * 1000LL + frac_ms;
    return 0;
}

void ac_time_format(int64_t ms, char *buf, size_t bufsz)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int msec = (int)(ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm = {0};
    int ok = gmtime_r(&t, &tm) != NULL;
    int year = tm.tm_year + 1900;
    if (!ok || year < 0 || year > 9999 || bufsz < 25) {
        snprintf(buf, bufsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, msec);
        return;
    }
    /* Every message carries two of these: by hand, not through printf. */
    const int parts[] = {year / 100, year % 100, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min,  tm.tm_sec};
    static const char seps[] = {0, 0, '-', '-', 'T', ':', ':'};
    char *p = buf;
    for (size_t i = 0; i < 7; i++) {
        if (seps[i])
            *p++ = seps[i];
        *p++ = (char)('0' + parts[i] / 10);
        *p++ = (char)('0' + parts[i] % 10);
    }
    *p++ = '.';
    *p++ = (char)('0' + msec / 100);
    *p++ = (char)('0' + msec / 10 % 10);
    *p++ = (char)('0' + msec % 10);
    *p++ = 'Z';
    *p = '\0';
}

int64_t ac_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ac_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ac_time_date(const char *s, char date[11])
{
    static const char shape[] = "dddd-dd-dd";
    date[0] = '\0';
    if (!s)
        return -1;
    for (int i = 0; i < 10; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != '-')
            return -1;
    }
    if (s[10] != '\0' && s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return -1;
    int month = (s[5] - '0') * 10 + (s[6] - '0');
    int day = (s[8] - '0') * 10 + (s[9] - '0');
    int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month < 1 || month > 12 || day < 1 || day > days[month - 1] + (month == 2 && leap))
        return -1;
    memcpy(date, s, 10);
    date[10] = '\0';
    return 0;
}
