#include "watermark.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "journey.h"

int64_t ac_watermark_next(const ac_wm_partition_t *p)
{
    return p->committed >= 0 ? p->committed : p->start;
}

int ac_watermark_waiting(const ac_wm_partition_t *p)
{
    return ac_watermark_next(p) < p->end;
}

int64_t ac_watermark_topic(const ac_wm_partition_t *parts, size_t n, int64_t queried_ms)
{
    int64_t wm = queried_ms;
    if (n == 0)
        return AC_WATERMARK_UNKNOWN;
    for (size_t i = 0; i < n; i++) {
        if (!ac_watermark_waiting(&parts[i]))
            continue;
        if (parts[i].head_ts < 0)
            return AC_WATERMARK_UNKNOWN;
        if (parts[i].head_ts < wm)
            wm = parts[i].head_ts;
    }
    return wm;
}

int64_t ac_watermark_bound(const int64_t *topic_wm, size_t n, int64_t now_ms)
{
    int64_t bound = now_ms + 1;
    for (size_t i = 0; i < n; i++) {
        if (topic_wm[i] == AC_WATERMARK_UNKNOWN)
            return AC_WATERMARK_UNKNOWN;
        if (topic_wm[i] < bound)
            bound = topic_wm[i];
    }
    return bound;
}

int ac_watermark_gated(ac_kind_t kind)
{
    return ac_journey_blockers(kind) != 0 || ac_journey_requires_csv(kind)[0] != '\0';
}

int64_t ac_watermark_release(ac_kind_t kind, int64_t due_ms, int64_t max_hold_ms)
{
    if (!ac_watermark_gated(kind) || max_hold_ms <= 0)
        return due_ms;
    return due_ms > INT64_MAX - max_hold_ms ? INT64_MAX : due_ms + max_hold_ms;
}

/* Kafka's rule for group ids is laxer than for topics, but aftercare's
 * own groups are topic-like names, and a stray ':' or ',' is a typo. */
static int copy_name(const char *s, size_t len, char *out, const char *what, char *why,
                     size_t whysz)
{
    char tmp[AC_WATERMARK_NAME_MAX + 1], inner[160];
    if (len == 0 || len > AC_WATERMARK_NAME_MAX) {
        snprintf(why, whysz,
                 "expected topic:group pairs separated by commas, or none: a %s is "
                 "empty or longer than 249 characters",
                 what);
        return -1;
    }
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (ac_config_validate_topic(tmp, inner, sizeof(inner)) < 0) {
        snprintf(why, whysz, "%s '%.64s': %s", what, tmp, inner);
        return -1;
    }
    memcpy(out, tmp, len + 1);
    return 0;
}

int ac_watermark_parse_topics(const char *spec, ac_wm_topic_t *out, size_t *n, char *why,
                              size_t whysz)
{
    *n = 0;
    if (!spec || strcmp(spec, "none") == 0)
        return 0;
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (!colon) {
            snprintf(why, whysz, "expected topic:group pairs separated by commas, or none");
            return -1;
        }
        if (*n == AC_WATERMARK_MAX_TOPICS) {
            snprintf(why, whysz, "at most %d topics", AC_WATERMARK_MAX_TOPICS);
            return -1;
        }
        ac_wm_topic_t *t = &out[*n];
        if (copy_name(p, (size_t)(colon - p), t->topic, "topic", why, whysz) < 0 ||
            copy_name(colon + 1, len - (size_t)(colon - p) - 1, t->group, "group", why, whysz) < 0)
            return -1;
        for (size_t i = 0; i < *n; i++) {
            if (strcmp(out[i].topic, t->topic) == 0) {
                snprintf(why, whysz, "topic '%.64s' is named twice", t->topic);
                return -1;
            }
        }
        (*n)++;
        if (!end)
            return 0;
        p = end + 1;
    }
}
