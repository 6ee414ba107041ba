#include "prefs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channel.h"
#include "redis_key.h"
#include "timeutil.h"

#define DAY_S 86400

int ac_prefs_marketing(ac_kind_t kind)
{
    return kind == AC_KIND_REVIEW_REQUEST || kind == AC_KIND_REFERRAL_INVITE;
}

/* Reads "HH:MM" or "HH:MM:SS" from *p, advancing it. */
static int parse_clock(const char **p, int *seconds)
{
    int h, m, s = 0, n = 0;
    if (sscanf(*p, "%2d:%2d%n", &h, &m, &n) != 2)
        return -1;
    *p += n;
    if (**p == ':') {
        int k = 0;
        if (sscanf(*p, ":%2d%n", &s, &k) != 1)
            return -1;
        *p += k;
    }
    if (h < 0 || h > 24 || m < 0 || m > 59 || s < 0 || s > 59 || (h == 24 && (m || s)))
        return -1;
    *seconds = h * 3600 + m * 60 + s;
    return 0;
}

int ac_prefs_parse_quiet(const char *text, ac_quiet_t *q, char *why, size_t whysz)
{
    q->start_s = q->end_s = 0;
    if (strcmp(text, "off") == 0)
        return 0;
    const char *p = text;
    if (parse_clock(&p, &q->start_s) < 0 || *p++ != '-' || parse_clock(&p, &q->end_s) < 0 ||
        *p != '\0') {
        snprintf(why, whysz, "expected HH:MM-HH:MM such as 21:00-08:00, or off");
        return -1;
    }
    return 0;
}

int64_t ac_prefs_quiet_until(const ac_quiet_t *q, int64_t now_ms, int utc_offset_s)
{
    if (q->start_s == q->end_s)
        return now_ms;
    int64_t local_s = now_ms / 1000 + utc_offset_s;
    int64_t day = local_s >= 0 ? local_s % DAY_S : (local_s % DAY_S + DAY_S) % DAY_S;
    int64_t wait; /* seconds until the quiet period ends, 0 outside it */
    if (q->start_s < q->end_s)
        wait = (day >= q->start_s && day < q->end_s) ? q->end_s - day : 0;
    else if (day >= q->start_s)
        wait = DAY_S - day + q->end_s;
    else
        wait = day < q->end_s ? q->end_s - day : 0;
    if (wait == 0)
        return now_ms;
    /* From the start of the current second: the end is a whole second. */
    return (now_ms / 1000 + wait) * 1000;
}

/* One cached offset per zone: zones change offset a few times a year, and
 * setting TZ reads the zone file. */
typedef struct zone_cache {
    char name[64];
    int64_t until_ms;
    int offset_s;
} zone_cache_t;

int ac_prefs_utc_offset(const char *tz, int64_t at_ms, int *offset_s)
{
    static zone_cache_t cache[32];
    static unsigned next;
    if (!tz || !*tz || strlen(tz) >= sizeof(cache[0].name) || strstr(tz, "..") || tz[0] == '/')
        return -1;
    for (size_t i = 0; i < sizeof(cache) / sizeof(cache[0]); i++) {
        if (strcmp(cache[i].name, tz) == 0 && at_ms < cache[i].until_ms &&
            at_ms >= cache[i].until_ms - 3600000) {
            *offset_s = cache[i].offset_s;
            return 0;
        }
    }
    /* An unknown zone silently means UTC to the C library: check the file. */
    char path[128];
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fclose(f);
    char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    setenv("TZ", tz, 1);
    tzset();
    time_t t = (time_t)(at_ms / 1000);
    struct tm tm;
    int rc = localtime_r(&t, &tm) ? 0 : -1;
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
    if (rc < 0)
        return -1;
    *offset_s = (int)tm.tm_gmtoff;
    zone_cache_t *c = &cache[next++ % (sizeof(cache) / sizeof(cache[0]))];
    snprintf(c->name, sizeof(c->name), "%s", tz);
    c->offset_s = *offset_s;
    c->until_ms = at_ms + 3600000;
    return 0;
}

void ac_prefs_key(const char *store_id, const char *customer_id, char *buf, size_t bufsz)
{
    ac_redis_key(buf, bufsz, "p", store_id, customer_id);
}

/* Beside the preferences, on their Redis Cluster slot: the check script
 * reads both. Earlier versions named it "ac:f:…" (see the check). */
void ac_prefs_sends_key(const char *store_id, const char *customer_id, char *buf, size_t bufsz)
{
    char prefs[600];
    ac_prefs_key(store_id, customer_id, prefs, sizeof(prefs));
    if (ac_redis_key_beside(buf, bufsz, prefs, ":f") < 0)
        ac_redis_key(buf, bufsz, "f", store_id, customer_id);
}

/* KEYS[1] preferences, KEYS[2] marketing sends; ARGV[1] message id,
 * ARGV[2] kind, ARGV[3] channel, ARGV[4] now ms, ARGV[5] cap, ARGV[6]
 * window ms, ARGV[7] the sends' key of earlier versions ("" on a Redis
 * Cluster, where none exists): taken over the first time, so that an
 * upgrade does not restart anyone's cap window. */
static ac_redis_script_t check_script = {
    "if ARGV[7] ~= '' and redis.call('EXISTS', ARGV[7]) == 1 then\n"
    "  if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('RENAME', ARGV[7], KEYS[2])\n"
    "  else\n"
    "    redis.call('ZUNIONSTORE', KEYS[2], 2, KEYS[2], ARGV[7], 'AGGREGATE', 'MAX')\n"
    "    redis.call('DEL', ARGV[7])\n"
    "  end\n"
    "end\n"
    "if redis.call('HEXISTS', KEYS[1], 'marketing') == 1 or\n"
    "   redis.call('HEXISTS', KEYS[1], 'kind:' .. ARGV[2]) == 1 or\n"
    "   redis.call('HEXISTS', KEYS[1], 'channel:' .. ARGV[3]) == 1 then return 1 end\n"
    "local cap = tonumber(ARGV[5])\n"
    "if cap > 0 then\n"
    "  local now = tonumber(ARGV[4])\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[6]))\n"
    "  if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then\n"
    "    if redis.call('ZCARD', KEYS[2]) >= cap then return 2 end\n"
    "    redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])\n"
    "  end\n"
    "  redis.call('PEXPIRE', KEYS[2], ARGV[6])\n"
    "end\n"
    "return 0\n",
    {0}};

void ac_prefs_register(ac_redis_t *r)
{
    ac_redis_register_script(r, &check_script);
}

/* Sets reqs[item]'s verdict from the check script's reply; anything
 * unexpected lets the message go, as a missing preference would. */
static int check_reply(void *ctx, size_t item, const redisReply *reply, char *err, size_t errsz)
{
    (void)err;
    (void)errsz;
    ((ac_prefs_req_t *)ctx)[item].verdict =
        reply->type == REDIS_REPLY_INTEGER ? (ac_prefs_verdict_t)reply->integer : AC_PREFS_SEND;
    return 0;
}

int ac_prefs_check(ac_redis_t *r, ac_prefs_req_t *reqs, size_t n, int64_t now_ms, int cap,
                   int64_t window_ms, char *err, size_t errsz)
{
    char now[24], capbuf[16], window[24];
    if (n == 0)
        return 0;
    ac_redis_batch_t *b = ac_redis_batch_begin(r, check_reply, reqs, err, errsz);
    if (!b)
        return -1;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(capbuf, sizeof(capbuf), "%d", cap);
    snprintf(window, sizeof(window), "%lld", (long long)window_ms);
    int single = !ac_redis_is_cluster(r);
    for (size_t i = 0; i < n; i++) {
        char legacy[620] = "";
        if (single && strncmp(reqs[i].prefs_key, "ac:p:", 5) == 0)
            snprintf(legacy, sizeof(legacy), "ac:f:%s", reqs[i].prefs_key + 5);
        const char *argv[] = {reqs[i].prefs_key,
                              reqs[i].sends_key,
                              reqs[i].id,
                              ac_kind_name(reqs[i].kind),
                              reqs[i].channel,
                              now,
                              capbuf,
                              window,
                              legacy};
        ac_redis_batch_script(b, i, &check_script, 2, 9, argv, NULL);
    }
    return ac_redis_batch_exec(b, err, errsz);
}

/* Sets prefer[item] from the stored "prefer" field; -1 when there is none
 * or it names no channel this version knows. */
static int prefer_reply(void *ctx, size_t item, const redisReply *reply, char *err, size_t errsz)
{
    int *prefer = ctx;
    (void)err;
    (void)errsz;
    ac_channel_t ch;
    prefer[item] = -1;
    if (reply->type == REDIS_REPLY_STRING && ac_channel_parse(reply->str, &ch) == 0)
        prefer[item] = (int)ch;
    return 0;
}

int ac_prefs_channels(ac_redis_t *r, const char *const *prefs_keys, size_t n, int *prefer,
                      char *err, size_t errsz)
{
    if (n == 0)
        return 0;
    ac_redis_batch_t *b = ac_redis_batch_begin(r, prefer_reply, prefer, err, errsz);
    if (!b)
        return -1;
    for (size_t i = 0; i < n; i++)
        ac_redis_batch_command(b, i, "HGET %s prefer", prefs_keys[i]);
    return ac_redis_batch_exec(b, err, errsz);
}

int ac_prefs_set(ac_redis_t *r, const char *prefs_key, const char *what, int optout, char *err,
                 size_t errsz)
{
    char when[AC_TIME_BUFSZ];
    ac_time_format(ac_time_now_ms(), when, sizeof(when));
    redisReply *rep = optout
                          ? ac_redis_command(r, err, errsz, "HSET %s %s %s", prefs_key, what, when)
                          : ac_redis_command(r, err, errsz, "HDEL %s %s", prefs_key, what);
    if (!rep)
        return -1;
    int rc = rep->type == REDIS_REPLY_ERROR ? -1 : 0;
    if (rc < 0)
        snprintf(err, errsz, "redis: %s", rep->str);
    freeReplyObject(rep);
    return rc;
}
