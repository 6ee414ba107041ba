#include "report_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "facts.h"
#include "message.h"

#define DAY_MS     86400000LL
#define ARENA_SIZE (1 << 20)
#define TZ_LEN     128

/* Strings live in large chunks freed together: a million orders would
 * otherwise be two million small allocations. */
typedef struct chunk {
    struct chunk *next;
    size_t used;
    char data[];
} chunk_t;

struct ac_report_load {
    ac_report_input_t in;
    chunk_t *chunks;
    ac_report_order_t *orders;
    ac_report_rating_t *ratings;
    ac_report_msg_t *msgs;
    const char **returned;
    size_t cap_orders, cap_ratings, cap_msgs, cap_returned;
    char from[11], to[11], prev_from[11], prev_to[11], tz[TZ_LEN], store[256];
    int oom;
    const char *kinds[AC_KIND__COUNT];
};

static const char *marketing_kinds[] = {"review_request", "referral_invite",
                                        AC_REPORT_CROSS_SELL_KIND};

int64_t ac_report_days_from_civil(int y, int m, int d)
{
    /* Howard Hinnant's days_from_civil, for the proleptic Gregorian calendar. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int ac_report_parse_date(const char *s, int *y, int *m, int *d)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    *y = atoi(s);
    *m = atoi(s + 5);
    *d = atoi(s + 8);
    if (*y < 1970 || *m < 1 || *m > 12 || *d < 1 || *d > mdays[*m - 1])
        return -1;
    int leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
    return *m == 2 && *d == 29 && !leap ? -1 : 0;
}

/* The civil date of a day number (the inverse of days_from_civil). */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Local midnight starting day number day, in the zone TZ names. */
static int64_t local_midnight_ms(int64_t day)
{
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm) * 1000;
}

/* The local day number and month (year * 12 + month - 1) of an instant. */
static void local_day(int64_t ms, int *day, int *month)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    if (day)
        *day = (int)ac_report_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    if (month)
        *month = (tm.tm_year + 1900) * 12 + tm.tm_mon;
}

static const char *keep(ac_report_load_t *l, const char *s, size_t len)
{
    chunk_t *c = l->chunks;
    if (!c || c->used + len + 1 > ARENA_SIZE) {
        size_t size = len + 1 > ARENA_SIZE ? len + 1 : ARENA_SIZE;
        if (!(c = malloc(sizeof(*c) + size))) {
            l->oom = 1;
            return "";
        }
        c->next = l->chunks;
        c->used = 0;
        l->chunks = c;
    }
    char *p = c->data + c->used;
    memcpy(p, s, len);
    p[len] = '\0';
    c->used += len + 1;
    return p;
}

/* Makes room for one more element in *arr (of size elem). */
static int grow(ac_report_load_t *l, void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 4096;
    void *p = realloc(*arr, ncap * elem);
    if (!p) {
        l->oom = 1;
        return -1;
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

static void on_order(void *arg, const char *f, size_t flen, const char *v, size_t vlen)
{
    ac_report_load_t *l = arg;
    ac_facts_order_t o;
    if (ac_facts_decode_order(v, vlen, &o) < 0 ||
        grow(l, (void **)&l->orders, &l->cap_orders, l->in.n_orders, sizeof(*l->orders)) < 0)
        return;
    ac_report_order_t *r = &l->orders[l->in.n_orders++];
    r->order_id = keep(l, f, flen);
    r->customer_id = keep(l, o.customer, o.customer_len);
    r->placed_ms = o.placed_ms;
    local_day(o.placed_ms, NULL, &r->month);
}

static void on_return(void *arg, const char *f, size_t flen, const char *v, size_t vlen)
{
    ac_report_load_t *l = arg;
    (void)v;
    (void)vlen;
    if (grow(l, (void **)&l->returned, &l->cap_returned, l->in.n_returned, sizeof(*l->returned)) ==
        0)
        l->returned[l->in.n_returned++] = keep(l, f, flen);
}

static void on_rating(void *arg, const char *f, size_t flen, const char *v, size_t vlen)
{
    ac_report_load_t *l = arg;
    ac_facts_rating_t o;
    if (ac_facts_decode_rating(v, vlen, &o) < 0 ||
        grow(l, (void **)&l->ratings, &l->cap_ratings, l->in.n_ratings, sizeof(*l->ratings)) < 0)
        return;
    ac_report_rating_t *r = &l->ratings[l->in.n_ratings++];
    r->order_id = keep(l, f, flen);
    r->customer_id = keep(l, o.customer, o.customer_len);
    r->stars = o.stars;
    r->received_ms = o.received_ms;
}

static void on_msg(void *arg, const char *f, size_t flen, const char *v, size_t vlen)
{
    ac_report_load_t *l = arg;
    ac_facts_msgval_t o;
    if (ac_facts_decode_msg(v, vlen, &o) < 0 ||
        grow(l, (void **)&l->msgs, &l->cap_msgs, l->in.n_msgs, sizeof(*l->msgs)) < 0)
        return;
    ac_report_msg_t *r = &l->msgs[l->in.n_msgs++];
    r->message_id = keep(l, f, flen);
    r->kind = keep(l, o.kind, o.kind_len);
    r->order_id = keep(l, o.order, o.order_len);
    r->customer_id = keep(l, o.customer, o.customer_len);
    r->channel = o.channel_len ? keep(l, o.channel, o.channel_len) : NULL;
    r->reason = o.reason_len ? keep(l, o.reason, o.reason_len) : NULL;
    r->at_ms = o.at_ms;
    local_day(o.at_ms, &r->day, NULL);
}

/* Scans table t for every UTC month from from_ms to to_ms. */
static int scan_months(ac_redis_t *r, ac_report_load_t *l, ac_facts_table_t t, int64_t from_ms,
                       int64_t to_ms, ac_facts_fn fn, char *err, size_t errsz)
{
    time_t s = (time_t)(from_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    for (int64_t at = (int64_t)timegm(&tm) * 1000; at <= to_ms;) {
        if (ac_facts_scan(r, t, l->in.store, at, fn, l, err, errsz) < 0)
            return -1;
        if (l->oom) {
            snprintf(err, errsz, "out of memory reading the facts");
            return -1;
        }
        tm.tm_mon++;
        at = (int64_t)timegm(&tm) * 1000;
    }
    return 0;
}

/* Uses zone (an IANA name such as "Europe/Berlin") for every local date
 * from here on. Returns 0, or -1 when the zone is not installed: glibc
 * would otherwise fall back to UTC without a word. */
static int use_zone(const char *zone, char *err, size_t errsz)
{
    char path[TZ_LEN + 32];
    if (!*zone || zone[0] == '/' || strstr(zone, "..") || strlen(zone) >= TZ_LEN) {
        snprintf(err, errsz, "invalid time zone %.64s", zone);
        return -1;
    }
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", zone);
    FILE *f = fopen(path, "rb");
    if (!f && strcmp(zone, "UTC") != 0) {
        snprintf(err, errsz, "unknown time zone %.64s (is tzdata installed?)", zone);
        return -1;
    }
    if (f)
        fclose(f);
    setenv("TZ", zone, 1);
    tzset();
    return 0;
}

/* The zone to place dates in: the one asked for, else the one the workers
 * recorded from the store's events, else UTC. */
static int pick_zone(ac_redis_t *r, ac_report_load_t *l, const char *asked, char *err, size_t errsz)
{
    char key[600];
    snprintf(l->tz, sizeof(l->tz), "UTC");
    if (asked) {
        snprintf(l->tz, sizeof(l->tz), "%s", asked);
    } else {
        ac_facts_meta_key(key, sizeof(key), l->in.store);
        redisReply *rep = ac_redis_command(r, err, errsz, "HGET %s timezone", key);
        if (!rep)
            return -1;
        if (rep->type == REDIS_REPLY_STRING && rep->len > 0 && rep->len < sizeof(l->tz))
            snprintf(l->tz, sizeof(l->tz), "%s", rep->str);
        freeReplyObject(rep);
    }
    return use_zone(l->tz, err, errsz);
}

/* Fills the period's bounds from its dates. */
static int set_period(ac_report_load_t *l, const ac_report_period_t *p, char *err, size_t errsz)
{
    int fy, fm, fd, ty, tm, td, y, m, d;
    if (ac_report_parse_date(p->from, &fy, &fm, &fd) < 0) {
        snprintf(err, errsz, "invalid --from %.20s: give a date as YYYY-MM-DD", p->from);
        return -1;
    }
    if (ac_report_parse_date(p->to, &ty, &tm, &td) < 0) {
        snprintf(err, errsz, "invalid --to %.20s: give a date as YYYY-MM-DD", p->to);
        return -1;
    }
    int64_t from_day = ac_report_days_from_civil(fy, fm, fd);
    int64_t to_day = ac_report_days_from_civil(ty, tm, td);
    if (to_day < from_day) {
        snprintf(err, errsz, "invalid --to %s: before --from %s", p->to, p->from);
        return -1;
    }
    int64_t prev_from_day = from_day - (to_day - from_day + 1);
    memcpy(l->from, p->from, 11);
    memcpy(l->to, p->to, 11);
    civil_from_days(prev_from_day, &y, &m, &d);
    snprintf(l->prev_from, sizeof(l->prev_from), "%04d-%02d-%02d", y, m, d);
    civil_from_days(from_day - 1, &y, &m, &d);
    snprintf(l->prev_to, sizeof(l->prev_to), "%04d-%02d-%02d", y, m, d);
    l->in.from = l->from;
    l->in.to = l->to;
    l->in.prev_from = l->prev_from;
    l->in.prev_to = l->prev_to;
    l->in.from_ms = local_midnight_ms(from_day);
    l->in.to_ms = local_midnight_ms(to_day + 1);
    l->in.prev_from_ms = local_midnight_ms(prev_from_day);
    l->in.from_day = (int)from_day;
    l->in.to_day = (int)to_day;
    l->in.from_month = fy * 12 + fm - 1;
    l->in.to_month = ty * 12 + tm - 1;
    return 0;
}

/* Reads the four tables over the months each is needed for: orders as far
 * back as they are kept (first orders, cohorts), returns until now,
 * ratings from as far back (an order's first rating is the one that
 * counts, in whichever month it was kept) until 14 days after the period
 * (review request responses), messages of the period. */
static int read_facts(ac_redis_t *r, ac_report_load_t *l, const ac_report_period_t *p, char *err,
                      size_t errsz)
{
    const ac_report_input_t *in = &l->in;
    int64_t oldest = in->to_ms - p->retention_ms - 31 * DAY_MS;
    if (in->prev_from_ms < oldest)
        oldest = in->prev_from_ms;
    int64_t until = p->now_ms > in->to_ms ? p->now_ms : in->to_ms;
    if (scan_months(r, l, AC_FACTS_ORDERS, oldest, in->to_ms, on_order, err, errsz) < 0 ||
        scan_months(r, l, AC_FACTS_RETURNS, in->from_ms, until, on_return, err, errsz) < 0 ||
        scan_months(r, l, AC_FACTS_RATINGS, oldest, in->to_ms + 14 * DAY_MS, on_rating, err,
                    errsz) < 0 ||
        scan_months(r, l, AC_FACTS_MESSAGES, in->from_ms, in->to_ms, on_msg, err, errsz) < 0)
        return -1;
    l->in.orders = l->orders;
    l->in.ratings = l->ratings;
    l->in.msgs = l->msgs;
    l->in.returned = l->returned;
    return 0;
}

ac_report_load_t *ac_report_load(ac_redis_t *r, const ac_report_period_t *p, char *err,
                                 size_t errsz)
{
    ac_report_load_t *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    if (!p->store || !*p->store || strlen(p->store) >= sizeof(l->store)) {
        snprintf(err, errsz, "invalid --store: give the store's aftercare id");
        goto fail;
    }
    snprintf(l->store, sizeof(l->store), "%s", p->store);
    l->in.store = l->store;
    for (int k = 0; k < AC_KIND__COUNT; k++)
        l->kinds[k] = ac_kind_name((ac_kind_t)k);
    l->in.kinds = l->kinds;
    l->in.n_kinds = AC_KIND__COUNT;
    l->in.marketing = marketing_kinds;
    l->in.n_marketing = sizeof(marketing_kinds) / sizeof(marketing_kinds[0]);
    if (ac_redis_connect(r, err, errsz) < 0 || pick_zone(r, l, p->timezone, err, errsz) < 0)
        goto fail;
    l->in.timezone = l->tz;
    if (set_period(l, p, err, errsz) < 0 || read_facts(r, l, p, err, errsz) < 0)
        goto fail;
    return l;
fail:
    ac_report_load_destroy(l);
    return NULL;
}

const ac_report_input_t *ac_report_load_input(const ac_report_load_t *l)
{
    return &l->in;
}

void ac_report_load_destroy(ac_report_load_t *l)
{
    if (!l)
        return;
    for (chunk_t *c = l->chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(l->orders);
    free(l->ratings);
    free(l->msgs);
    free(l->returned);
    free(l);
}
