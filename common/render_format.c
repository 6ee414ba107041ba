/* Money and dates the way a reader of the message's language writes them:
 * the one place that knows "148,98 EUR" and "7. November 2024". */
#include "render.h"

#include <stdio.h>
#include <string.h>

#include "render_int.h"

/* See render.h. A currency without minor units gets no decimals, since
 * "1200.00 JPY" shows a precision the customer never paid in. */
void ac_render_money(double amount, const char *currency, const char *language, char *buf,
                     size_t bufsz)
{
    static const char *no_minor[] = {"JPY", "KRW", "VND", "CLP", "ISK", "HUF", "TWD", "UGX"};
    int decimals = 2;
    for (size_t i = 0; currency && i < sizeof(no_minor) / sizeof(no_minor[0]); i++)
        if (strcmp(currency, no_minor[i]) == 0)
            decimals = 0;
    int n = snprintf(buf, bufsz, "%.*f", decimals, amount);
    if (n > 0 && strcmp(language, "de") == 0) {
        char *dot = strchr(buf, '.');
        if (dot)
            *dot = ',';
    }
    /* The currency whole or not at all: a cut one could end inside a
     * UTF-8 character. */
    if (currency && *currency && n > 0 && (size_t)n + 1 + strlen(currency) < bufsz)
        snprintf(buf + n, bufsz - (size_t)n, " %s", currency);
}

/* See render_int.h. Only the date part of a date-time is used, as written:
 * the customer needs the day, and converting the time to another zone
 * could move it. */
int ac_render_date(const char *s, const char *language, char *buf, size_t bufsz)
{
    static const char *const en[] = {"January",   "February", "March",    "April",
                                     "May",       "June",     "July",     "August",
                                     "September", "October",  "November", "December"};
    static const char *const de[] = {"Januar",    "Februar", "März",     "April",
                                     "Mai",       "Juni",    "Juli",     "August",
                                     "September", "Oktober", "November", "Dezember"};
    static const char pattern[] = "dddd-dd-dd";
    for (size_t i = 0; i < sizeof(pattern) - 1; i++) {
        int digit = s[i] >= '0' && s[i] <= '9';
        if (pattern[i] == 'd' ? !digit : s[i] != pattern[i])
            return -1;
    }
    if (s[10] != '\0' && s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return -1;
    int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int month = (s[5] - '0') * 10 + (s[6] - '0');
    int day = (s[8] - '0') * 10 + (s[9] - '0');
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12 || day < 1)
        return -1;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > days[month - 1] + (month == 2 && leap))
        return -1;
    if (strcmp(language, "de") == 0)
        snprintf(buf, bufsz, "%d. %s %d", day, de[month - 1], year);
    else
        snprintf(buf, bufsz, "%d %s %d", day, en[month - 1], year);
    return 0;
}
