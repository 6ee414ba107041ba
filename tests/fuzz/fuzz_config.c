/* Fuzz target: configuration, as the workers read it at start-up.
 *
 * The first byte picks what the rest is:
 *   'e'  the settings of an event worker (order-, shipment-, return-worker)
 *   'n'  the settings of notify-worker
 *        For both: NUL-separated "NAME=value" environment entries, an empty
 *        field, then NUL-separated command-line arguments. ac_config_parse()
 *        must accept only values that fit their type, bounds and
 *        validator, and never echo a secret; notify-worker's provider
 *        settings that pass their check must build working providers.
 *   'd'  one value for each of the small parsers: durations, RFC 3339
 *        times, the Redis URL, QUIET_HOURS, SHIPPING_UPDATES, the setting
 *        validators and the names of kinds, event types and providers.
 *   's'  a STORE_SETTINGS file (JSON), read by ac_stores_new().
 * Any other first byte picks one of these by its value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "config.h"
#include "duration.h"
#include "fuzz_common.h"
#include "links.h"
#include "log.h"
#include "notify.h"
#include "pipeline.h"
#include "prefs.h"
#include "provider.h"
#include "redis_url.h"
#include "stores.h"
#include "timeutil.h"
#include "webhook.h"
#include "worker.h"

#define MAX_ARGS 256
#define DAY_S    86400

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ------------------------------------------------------------- settings */

/* A message rendered on ch, to build provider requests with. */
static const char EVENT[] =
    "{\"event_id\":\"evt_1\",\"type\":\"shipment.shipped\","
    "\"occurred_at\":\"2024-11-05T14:20:00Z\","
    "\"store\":{\"id\":\"st_1\",\"name\":\"Nordwind\"},\"order\":{\"id\":\"ord_1\"},"
    "\"customer\":{\"id\":\"c1\",\"email\":\"zoe@example.com\",\"phone\":\"+4915155597971\"},"
    "\"shipment\":{\"tracking_url\":\"https://track.example/1\"}}";

/* notify-worker's providers, from settings that passed their check: each
 * one a channel uses must come up and build a clean request. */
static void check_providers(const ac_config_t *c)
{
    char err[512] = "";
    ac_provider_settings_t s;
    if (ac_provider_config_check(c, err, sizeof(err)) < 0) {
        FUZZ_CHECK(err[0], "provider settings refused without a reason");
        return;
    }
    FUZZ_CHECK(ac_provider_settings_load(c, &s, err, sizeof(err)) == 0, "%s", err);
    ac_message_t m;
    memset(&m, 0, sizeof(m));
    m.kind = AC_KIND_SHIPPING_UPDATE;
    m.event = ac_event_parse(EVENT, sizeof(EVENT) - 1, 0, NULL);
    FUZZ_CHECK(m.event != NULL, "the fixed event does not parse");
    ac_message_id(m.kind, "st_1", "ord_1", NULL, m.id);
    for (int ch = 0; ch < AC_CHANNEL__COUNT; ch++) {
        ac_rendered_t r;
        FUZZ_CHECK(ac_render_message(&m, (ac_channel_t)ch, &r, err, sizeof(err)) == 0, "%s", err);
        const char *to = ch == AC_CHANNEL_EMAIL ? m.event->customer.email : m.event->customer.phone;
        ac_provider_kind_t kinds[2] = {s.primary[ch], s.fallback[ch]};
        for (int k = 0; k < 2; k++) {
            if (kinds[k] == AC_PROVIDER_NONE)
                continue;
            FUZZ_CHECK(ac_provider_serves(kinds[k], (ac_channel_t)ch), "%s cannot serve %s",
                       ac_provider_name(kinds[k]), ac_channel_name((ac_channel_t)ch));
            fuzz_check_provider(kinds[k], &s, &m, (ac_channel_t)ch, to, &r);
        }
        ac_rendered_free(&r);
    }
    ac_event_destroy(m.event);
}

/* Every value of a parsed configuration fits its option. */
static void check_values(const ac_config_t *c, const ac_option_t *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const ac_option_t *o = &opts[i];
        const char *v = ac_config_str(c, o->env);
        int64_t x = ac_config_int(c, o->env);
        char why[256] = "";
        if (!v) {
            FUZZ_CHECK(!(o->flags & AC_OPT_REQUIRED), "required %s is unset", o->env);
            continue;
        }
        if (o->validate)
            FUZZ_CHECK(o->validate(v, why, sizeof(why)) == 0, "%s=%s was accepted: %s", o->env, v,
                       why);
        if (o->type == AC_OPT_BOOL)
            FUZZ_CHECK(x == 0 || x == 1, "%s=%s reads %lld", o->env, v, (long long)x);
        if (o->type == AC_OPT_DURATION) {
            int64_t ms = -1;
            FUZZ_CHECK(ac_duration_parse(v, &ms) == 0 && ms == x, "%s=%s reads %lld", o->env, v,
                       (long long)x);
        }
        if (o->type == AC_OPT_INT) {
            char *end = NULL;
            FUZZ_CHECK(strtoll(v, &end, 10) == x && end && !*end, "%s=%s reads %lld", o->env, v,
                       (long long)x);
        }
        if ((o->type == AC_OPT_INT || o->type == AC_OPT_DURATION) && (o->min || o->max))
            FUZZ_CHECK(x >= o->min && x <= o->max, "%s=%s is out of bounds", o->env, v);
    }
}

static void fuzz_settings(const uint8_t *data, size_t size, int notify)
{
    const ac_option_t *own = notify ? ac_notify_options : ac_pipeline_options;
    size_t n_own = notify ? ac_notify_n_options : ac_pipeline_n_options;
    size_t n_common;
    const ac_option_t *common = ac_worker_common_options(&n_common);
    size_t n_opts = n_common + n_own;
    ac_option_t *opts = malloc(n_opts * sizeof(*opts));
    if (!opts)
        return;
    memcpy(opts, common, n_common * sizeof(*opts));
    memcpy(opts + n_common, own, n_own * sizeof(*opts));
    /* The run-time defaults a worker fills in from its spec. */
    for (size_t k = 0; k < n_common; k++) {
        if (strcmp(opts[k].env, "KAFKA_GROUP") == 0)
            opts[k].def = "aftercare-worker";
        if (strcmp(opts[k].env, "KAFKA_TOPIC") == 0)
            opts[k].def = "orders";
    }

    char *copy;
    const char *f[MAX_ARGS];
    size_t n = fuzz_split(data, size, &copy, f, MAX_ARGS);
    char *envp[MAX_ARGS + 1], *argv[MAX_ARGS + 1];
    int envc = 0, argc = 0;
    size_t i = 0;
    argv[argc++] = "fuzz";
    for (; i < n && *f[i]; i++)
        envp[envc++] = (char *)f[i];
    envp[envc] = NULL;
    for (i++; i < n; i++) {
        /* --help and --version print to stdout and end the parse. */
        if (strcmp(f[i], "--help") == 0 || strcmp(f[i], "-h") == 0 ||
            strcmp(f[i], "--version") == 0)
            continue;
        argv[argc++] = (char *)f[i];
    }
    argv[argc] = NULL;

    ac_config_t *c = ac_config_new("fuzz", "Fuzzing the configuration.", opts, n_opts);
    if (!c) {
        free(opts);
        free(copy);
        return;
    }
    char err[512] = "";
    int rc = ac_config_parse(c, argc, argv, envp, err, sizeof(err));
    FUZZ_CHECK(rc == AC_CONFIG_OK || rc == -1, "parse returned %d", rc);
    if (rc < 0) {
        FUZZ_CHECK(err[0], "refused without a reason");
        for (size_t k = 0; k < n_opts; k++) {
            char prefix[128];
            snprintf(prefix, sizeof(prefix), "invalid setting %s=", opts[k].env);
            if ((opts[k].flags & AC_OPT_SECRET) && starts_with(err, prefix))
                FUZZ_CHECK(starts_with(err + strlen(prefix), "(hidden)"), "a secret shown: %s",
                           err);
        }
    } else {
        check_values(c, opts, n_opts);
        for (size_t k = 0; k < ac_config_kafka_prop_count(c); k++) {
            const char *name, *value;
            ac_config_kafka_prop(c, k, &name, &value);
            FUZZ_CHECK(name && *name && value, "librdkafka property %zu", k);
        }
        if (notify) {
            check_providers(c);
        } else {
            ac_store_settings_t s;
            char why[256] = "";
            FUZZ_CHECK(ac_stores_parse_updates(ac_config_str(c, "SHIPPING_UPDATES"), &s, why,
                                               sizeof(why)) == 0,
                       "SHIPPING_UPDATES was accepted: %s", why);
        }
        char *usage = NULL;
        size_t usage_len = 0;
        FILE *out = open_memstream(&usage, &usage_len);
        if (out) {
            ac_config_usage(c, out);
            fclose(out);
            FUZZ_CHECK(usage && strstr(usage, "--kafka-brokers"), "usage without the settings");
        }
        free(usage);
    }
    ac_config_destroy(c);
    free(opts);
    free(copy);
}

/* ------------------------------------------------------------- parsers */

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void check_duration(const char *s, uint64_t h)
{
    int64_t ms = -1, back = -1;
    char buf[64];
    if (ac_duration_parse(s, &ms) == 0) {
        FUZZ_CHECK(ms >= 0, "%s reads %lld", s, (long long)ms);
        ac_duration_format(ms, buf, sizeof(buf));
        FUZZ_CHECK(ac_duration_parse(buf, &back) == 0 && back == ms, "%s -> %lld -> %s", s,
                   (long long)ms, buf);
    }
    /* Any count of milliseconds formats, and a positive one reads back. */
    ms = (int64_t)h;
    ac_duration_format(ms, buf, sizeof(buf));
    if (ms > 0)
        FUZZ_CHECK(ac_duration_parse(buf, &back) == 0 && back == ms, "%lld -> %s", (long long)ms,
                   buf);
}

static void check_time(const char *s)
{
    int64_t ms = 0, back = 0;
    char buf[AC_TIME_BUFSZ], date[11];
    int parsed = ac_time_parse(s, &ms) == 0;
    int dated = ac_time_date(s, date) == 0;
    if (!parsed)
        return;
    FUZZ_CHECK(dated && strncmp(date, s, 10) == 0, "%s has no date", s);
    ac_time_format(ms, buf, sizeof(buf));
    if (ms >= -62167219200000LL && ms <= 253402300799999LL)
        FUZZ_CHECK(ac_time_parse(buf, &back) == 0 && back == ms, "%s -> %lld -> %s", s,
                   (long long)ms, buf);
}

/* Writes u back as a URL, every seed with its port and the database. */
static void write_redis_url(const ac_redis_url_t *u, char *url, size_t urlsz)
{
    size_t n = (size_t)snprintf(url, urlsz, "redis://%s%s%s", u->password[0] ? ":" : "",
                                u->password, u->password[0] ? "@" : "");
    for (size_t i = 0; i < u->n_seeds && n < urlsz; i++)
        n += (size_t)snprintf(url + n, urlsz - n, "%s%s:%d", i ? "," : "", u->seeds[i].host,
                              u->seeds[i].port);
    if (n < urlsz)
        snprintf(url + n, urlsz - n, "/%d", u->db);
}

static void check_redis_url(const char *s)
{
    ac_redis_url_t u, v;
    char why[256] = "", url[AC_REDIS_URL_MAX_SEEDS * 300 + 600];
    if (ac_redis_url_parse(s, &u, why, sizeof(why)) < 0) {
        FUZZ_CHECK(why[0], "refused without a reason");
        return;
    }
    FUZZ_CHECK(u.n_seeds >= 1 && u.n_seeds <= AC_REDIS_URL_MAX_SEEDS, "%zu seeds", u.n_seeds);
    FUZZ_CHECK(strcmp(u.host, u.seeds[0].host) == 0 && u.port == u.seeds[0].port,
               "host %s:%d is not the first seed", u.host, u.port);
    for (size_t i = 0; i < u.n_seeds; i++) {
        FUZZ_CHECK(u.seeds[i].host[0] && !strpbrk(u.seeds[i].host, ":/,"), "host %s",
                   u.seeds[i].host);
        FUZZ_CHECK(u.seeds[i].port >= 1 && u.seeds[i].port <= 65535, "port %d", u.seeds[i].port);
    }
    FUZZ_CHECK(u.db >= 0 && u.db <= 1000000, "db %d", u.db);
    write_redis_url(&u, url, sizeof(url));
    FUZZ_CHECK(ac_redis_url_parse(url, &v, why, sizeof(why)) == 0, "%s -> %s: %s", s, url, why);
    int same = strcmp(u.password, v.password) == 0 && u.db == v.db && u.n_seeds == v.n_seeds;
    for (size_t i = 0; same && i < u.n_seeds; i++)
        same = strcmp(u.seeds[i].host, v.seeds[i].host) == 0 && u.seeds[i].port == v.seeds[i].port;
    FUZZ_CHECK(same, "%s -> %s reads differently", s, url);
}

static void check_quiet(const char *s, uint64_t h)
{
    ac_quiet_t q;
    char why[256] = "";
    if (ac_prefs_parse_quiet(s, &q, why, sizeof(why)) < 0) {
        FUZZ_CHECK(why[0], "refused without a reason");
        return;
    }
    FUZZ_CHECK(q.start_s >= 0 && q.start_s <= DAY_S && q.end_s >= 0 && q.end_s <= DAY_S,
               "%s reads %d-%d", s, q.start_s, q.end_s);
    /* A moment from 1970 to 9999, in a time zone from UTC-14 to UTC+14. */
    int64_t now = (int64_t)(h % 253402300799999ULL);
    int offset = (int)((h >> 20) % (28 * 3600 + 1)) - 14 * 3600;
    int64_t until = ac_prefs_quiet_until(&q, now, offset);
    FUZZ_CHECK(until >= now && until - now <= (int64_t)DAY_S * 1000,
               "%s at %lld (offset %d) waits until %lld", s, (long long)now, offset,
               (long long)until);
    /* Once quiet hours end, a message may go; a window of the whole day
     * (00:00-24:00) never ends and is left out here. */
    if (until != now && !(q.start_s == 0 && q.end_s == DAY_S))
        FUZZ_CHECK(ac_prefs_quiet_until(&q, until, offset) == until,
                   "%s: still quiet at %lld, the end of quiet hours from %lld (offset %d)", s,
                   (long long)until, (long long)now, offset);
}

typedef int (*validator_fn)(const char *value, char *why, size_t whysz);

static void fuzz_parsers(const uint8_t *data, size_t size)
{
    char *s = fuzz_strndup(data, size);
    uint64_t h = hash(s) ^ size;
    char why[512];

    check_duration(s, h);
    check_time(s);
    check_redis_url(s);
    check_quiet(s, h);

    ac_store_settings_t st;
    memset(why, 0, sizeof(why));
    if (ac_stores_parse_updates(s, &st, why, sizeof(why)) == 0)
        FUZZ_CHECK((st.shipped_updates == 0 || st.shipped_updates == 1) &&
                       (st.out_for_delivery_updates == 0 || st.out_for_delivery_updates == 1),
                   "%s", s);
    else
        FUZZ_CHECK(why[0], "refused without a reason");

    static const validator_fn validators[] = {
        ac_config_validate_http_url,        ac_config_validate_redis_url,
        ac_config_validate_redis_cluster,   ac_config_validate_log_level,
        ac_config_validate_topic,           ac_provider_validate_email_provider,
        ac_provider_validate_sms_provider,  ac_provider_validate_email_fallback,
        ac_provider_validate_sms_fallback,  ac_provider_validate_credential,
        ac_provider_validate_email_address, ac_provider_validate_display_name,
        ac_provider_validate_sms_sender,    ac_webhook_validate_secret,
    };
    for (size_t i = 0; i < sizeof(validators) / sizeof(validators[0]); i++) {
        memset(why, 0, sizeof(why));
        if (validators[i](s, why, sizeof(why)) < 0)
            FUZZ_CHECK(why[0], "validator %zu refused without a reason", i);
    }
    if (ac_config_validate_http_url(s, why, sizeof(why)) == 0)
        FUZZ_CHECK(starts_with(s, "http://") || starts_with(s, "https://"), "URL %s", s);
    if (ac_config_validate_log_level(s, why, sizeof(why)) == 0)
        FUZZ_CHECK(ac_log_level_parse(s) >= 0, "log level %s", s);

    ac_kind_t kind;
    if (ac_kind_parse(s, &kind) == 0)
        FUZZ_CHECK(strcmp(ac_kind_name(kind), s) == 0, "kind %s", s);
    ac_event_type_t type = ac_event_type_parse(s);
    if (type != AC_EVENT_UNKNOWN)
        FUZZ_CHECK(strcmp(ac_event_type_name(type), s) == 0, "type %s", s);
    ac_provider_kind_t provider;
    if (ac_provider_parse(s, &provider) == 0)
        FUZZ_CHECK(strcmp(ac_provider_name(provider), s) == 0, "provider %s", s);
    free(s);
}

/* ------------------------------------------------------- store settings */

/* An order whose ids need encoding in a link. */
static const char LINK_EVENT[] =
    "{\"event_id\":\"e1\",\"type\":\"shipment.delivered\",\"occurred_at\":\"2024-11-07\","
    "\"order\":{\"id\":\"ord 1/ü\",\"number\":\"#10 431\"},\"customer\":{\"id\":42}}";

static void fuzz_stores(const uint8_t *data, size_t size)
{
    static const ac_store_settings_t defaults = {
        7LL * 86400000, 14LL * 86400000, 1, 0, 86400000, 1, 1, NULL, NULL, 0, 0, 0, 0, NULL};
    char *text = fuzz_memdup(data, size), err[512] = "";
    ac_stores_t *t = ac_stores_new(&defaults, text, size, err, sizeof(err));
    if (!t) {
        FUZZ_CHECK(err[0], "refused without a reason");
        free(text);
        return;
    }
    /* Every store the file names has its own settings, and they are sound. */
    json_object *root = ac_event_parse_json(text, size, 16 * 1024 * 1024, NULL), *stores = NULL;
    FUZZ_CHECK(root && json_object_object_get_ex(root, "stores", &stores), "accepted, unreadable");
    FUZZ_CHECK((size_t)json_object_object_length(stores) == ac_stores_count(t), "%zu stores of %d",
               ac_stores_count(t), json_object_object_length(stores));
    ac_event_t *ev = ac_event_parse(LINK_EVENT, sizeof(LINK_EVENT) - 1, 0, NULL);
    FUZZ_CHECK(ev != NULL, "the fixed event does not parse");
    const ac_store_settings_t *none = ac_stores_get(t, NULL);
    int64_t longest = ac_stores_longest_delay(t);
    json_object_object_foreach(stores, id, val)
    {
        (void)val;
        const ac_store_settings_t *s = ac_stores_get(t, id);
        FUZZ_CHECK(s != none, "store %s has the defaults", id);
        FUZZ_CHECK(s->review_delay_ms > 0 && s->referral_delay_ms > 0, "store %s: delays", id);
        FUZZ_CHECK(s->review_delay_ms <= longest && s->referral_delay_ms <= longest,
                   "store %s: a delay beyond the longest", id);
        const char *urls[] = {s->review_url, s->referral_url};
        for (int k = 0; k < 2; k++) {
            char link[1024], code[AC_LINKS_CODE_LEN + 1];
            if (!urls[k])
                continue;
            ac_links_referral_code(id, "42", code);
            if (ac_links_render(urls[k], ev, code, link, sizeof(link)) == 0)
                FUZZ_CHECK(starts_with(link, "http://") || starts_with(link, "https://"),
                           "store %s: link %s", id, link);
        }
    }
    ac_event_destroy(ev);
    json_object_put(root);
    ac_stores_destroy(t);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    switch (mode) {
    case 'e':
        mode = 0;
        break;
    case 'n':
        mode = 1;
        break;
    case 'd':
        mode = 2;
        break;
    case 's':
        mode = 3;
        break;
    default:
        mode %= 4;
    }
    if (mode == 0 || mode == 1)
        fuzz_settings(data + 1, size - 1, mode == 1);
    else if (mode == 2)
        fuzz_parsers(data + 1, size - 1);
    else
        fuzz_stores(data + 1, size - 1);
    return 0;
}
