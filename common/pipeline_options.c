/* The event workers' settings: the option table and the checks that need
 * files or several settings at once. Kept apart from the batch loop in
 * pipeline.c. */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "pipeline_int.h"
#include "watermark.h"

static int validate_watermark_topics(const char *value, char *why, size_t whysz)
{
    ac_wm_topic_t topics[AC_WATERMARK_MAX_TOPICS];
    size_t n;
    return ac_watermark_parse_topics(value, topics, &n, why, whysz);
}

static int validate_updates(const char *value, char *why, size_t whysz)
{
    ac_store_settings_t s;
    return ac_stores_parse_updates(value, &s, why, whysz);
}

const ac_option_t ac_pipeline_options[] = {
    {"NOTIFY_TOPIC", AC_OPT_STR, "notifications", 0, 0, 0, ac_config_validate_topic,
     "topic the decided customer messages are produced to"},
    {"MAX_EVENT_BYTES", AC_OPT_INT, "1048576", 0, 64, 2 * 1024 * 1024, NULL,
     "records larger than this go to the dead-letter topic"},
    {"BATCH_SIZE", AC_OPT_INT, "500", 0, 1, 100000, NULL,
     "records processed together (one Redis round trip, one produce wait)"},
    {"BATCH_WAIT", AC_OPT_DURATION, "5ms", 0, 1, 10000, NULL,
     "how long to wait to fill a batch once its first record arrived"},
    {"REVIEW_REQUEST_DELAY", AC_OPT_DURATION, "7d", 0, 1, 365LL * 86400000, NULL,
     "review_request this long after delivery (STORE_SETTINGS may differ per store)"},
    {"REFERRAL_DELAY", AC_OPT_DURATION, "14d", 0, 1, 365LL * 86400000, NULL,
     "referral_invite this long after delivery (STORE_SETTINGS may differ per store)"},
    {"SHIPPING_UPDATES", AC_OPT_STR, "shipped", 0, 0, 0, validate_updates,
     "shipment events that send a shipping_update: shipped, out_for_delivery (comma-separated), "
     "or none"},
    {"STORE_SETTINGS", AC_OPT_STR, "", 0, 0, 0, NULL,
     "JSON file of per-store settings (docs/journey.md); empty: the defaults for every store"},
    {"JOURNEY_TTL", AC_OPT_DURATION, "120d", 0, 60000, 3650LL * 86400000, NULL,
     "how long an order's journey is kept after its last event; must exceed every delay"},
    {"HISTORY_TTL", AC_OPT_DURATION, "365d", 0, 60000, 3650LL * 86400000, NULL,
     "how long a customer's purchases are remembered for cross-selling"},
    AC_FACTS_RETENTION_OPTION,
    {"SCHEDULER", AC_OPT_BOOL, "true", 0, 0, 0, NULL,
     "fire scheduled messages that are due (any number of workers may)"},
    {"FIRE_INTERVAL", AC_OPT_DURATION, "200ms", 0, 10, 60000, NULL,
     "how often due scheduled messages are looked for"},
    {"FIRE_LEASE", AC_OPT_DURATION, "30s", 0, 1000, 3600000, NULL,
     "a fired message not confirmed in Kafka within this is fired again"},
    {"WATERMARK_TOPICS", AC_OPT_STR,
     "orders:aftercare-order-worker,shipments:aftercare-shipment-worker,"
     "returns:aftercare-return-worker",
     0, 0, 0, validate_watermark_topics,
     "topic:group pairs whose unprocessed records hold back scheduled messages due after them "
     "(event-time watermarks); none: fire when due"},
    AC_SCHEDULE_BUCKETS_OPTION,
    AC_SCHEDULE_HOLD_OPTION("longest a scheduled message waits for the watermarks before it "
                            "fires on the facts known (STORE_SETTINGS may differ per store)"),
    {"WATERMARK_INTERVAL", AC_OPT_DURATION, "1s", 0, 50, 60000, NULL,
     "how often the watermarks are read from Kafka"},
};
const size_t ac_pipeline_n_options = sizeof(ac_pipeline_options) / sizeof(ac_pipeline_options[0]);
/* Builds the per-store table from the settings. Returns it, or NULL with
 * one line in err naming the setting at fault. */
ac_stores_t *ac_pipe_load_stores(const ac_config_t *cfg, char *err, size_t errsz)
{
    char why[512];
    ac_stores_t *t;
    ac_store_settings_t defaults = {
        .review_delay_ms = ac_config_int(cfg, "REVIEW_REQUEST_DELAY"),
        .referral_delay_ms = ac_config_int(cfg, "REFERRAL_DELAY"),
        .review_requests = 1,
        .referral_invites = 1,
        .watermark_hold_ms = ac_config_int(cfg, "WATERMARK_MAX_HOLD"),
    };
    /* Already validated by the option's validator. */
    ac_stores_parse_updates(ac_config_str(cfg, "SHIPPING_UPDATES"), &defaults, why, sizeof(why));
    const char *path = ac_config_str(cfg, "STORE_SETTINGS");
    if (path && *path)
        t = ac_stores_load(&defaults, path, why, sizeof(why));
    else
        t = ac_stores_new(&defaults, NULL, 0, why, sizeof(why));
    if (!t) {
        snprintf(err, errsz, "invalid setting STORE_SETTINGS: %s", why);
        return NULL;
    }
    /* The journey must outlive every scheduled message of the order, or
     * the check at fire time would not see a return. */
    int64_t ttl = ac_config_int(cfg, "JOURNEY_TTL"), longest = ac_stores_longest_delay(t);
    if (ttl <= longest) {
        char a[32], b[32];
        ac_duration_format(ttl, a, sizeof(a));
        ac_duration_format(longest, b, sizeof(b));
        int from_file = longest > defaults.review_delay_ms && longest > defaults.referral_delay_ms;
        snprintf(err, errsz,
                 "invalid setting JOURNEY_TTL=%s: must be longer than the longest delay (%s%s)", a,
                 b, from_file ? ", set for a store in STORE_SETTINGS" : "");
        ac_stores_destroy(t);
        return NULL;
    }
    return t;
}
int ac_pipeline_check(const ac_config_t *cfg, char *err, size_t errsz)
{
    ac_stores_t *t = ac_pipe_load_stores(cfg, err, errsz);
    ac_stores_destroy(t);
    return t ? 0 : -1;
}
