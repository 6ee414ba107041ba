#include "stores.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "duration.h"
#include "event.h"
#include "template.h"

typedef struct store_entry {
    char *id;
    ac_store_settings_t s;
} store_entry_t;

struct ac_stores {
    ac_store_settings_t defaults;
    store_entry_t *entries; /* sorted by id */
    size_t n;
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const store_entry_t *)a)->id, ((const store_entry_t *)b)->id);
}

/* Sets one kind of shipping update on or off from its event name. */
static int set_update(const char *name, size_t len, ac_store_settings_t *s)
{
    if (len == 7 && strncmp(name, "shipped", 7) == 0)
        s->shipped_updates = 1;
    else if (len == 16 && strncmp(name, "out_for_delivery", 16) == 0)
        s->out_for_delivery_updates = 1;
    else
        return -1;
    return 0;
}

int ac_stores_parse_updates(const char *list, ac_store_settings_t *s, char *why, size_t whysz)
{
    s->shipped_updates = s->out_for_delivery_updates = 0;
    if (strcmp(list, "none") == 0 || *list == '\0')
        return 0;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        while (len && *p == ' ') {
            p++;
            len--;
        }
        size_t end = len;
        while (end && p[end - 1] == ' ')
            end--;
        if (set_update(p, end, s) < 0) {
            snprintf(why, whysz, "\"%.*s\" is not shipped or out_for_delivery (or none)", (int)end,
                     p);
            return -1;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int get_delay(json_object *o, const char *field, int64_t *ms, const char *store, char *err,
                     size_t errsz)
{
    json_object *v;
    if (!json_object_object_get_ex(o, field, &v))
        return 0;
    if (!json_object_is_type(v, json_type_string) ||
        ac_duration_parse(json_object_get_string(v), ms) < 0 || *ms <= 0) {
        snprintf(err, errsz, "store %s: %s must be a duration such as \"7d\" or \"36h\"", store,
                 field);
        return -1;
    }
    return 0;
}

/* A hold may be zero (fire at the due time whatever the watermark says)
 * and at most a year, like WATERMARK_MAX_HOLD. */
static int get_hold(json_object *o, const char *field, int64_t *ms, const char *store, char *err,
                    size_t errsz)
{
    json_object *v;
    if (!json_object_object_get_ex(o, field, &v))
        return 0;
    if (!json_object_is_type(v, json_type_string) ||
        ac_duration_parse(json_object_get_string(v), ms) < 0 || *ms < 0 || *ms > 365LL * 86400000) {
        snprintf(err, errsz, "store %s: %s must be a duration from \"0s\" to \"365d\"", store,
                 field);
        return -1;
    }
    return 0;
}

static int get_flag(json_object *o, const char *field, int *flag, const char *store, char *err,
                    size_t errsz)
{
    json_object *v;
    if (!json_object_object_get_ex(o, field, &v))
        return 0;
    if (!json_object_is_type(v, json_type_boolean)) {
        snprintf(err, errsz, "store %s: %s must be true or false", store, field);
        return -1;
    }
    *flag = json_object_get_boolean(v);
    return 0;
}

/* A link template: an http(s) URL, well-formed as a template. The string
 * is copied; the table frees it. */
static int get_url(json_object *o, const char *field, const char **url, const char *store,
                   char *err, size_t errsz)
{
    json_object *v;
    char why[128];
    if (!json_object_object_get_ex(o, field, &v))
        return 0;
    const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    if (!s || (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0) ||
        strpbrk(s, " \t\r\n") || ac_template_check(s, why, sizeof(why)) < 0) {
        snprintf(err, errsz,
                 "store %s: %s must be an http(s) URL such as "
                 "\"https://shop.example/review/{{order_id}}\"",
                 store, field);
        return -1;
    }
    if (!(*url = strdup(s))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}

/* "holdout": {"review_request": 10, "referral_invite": 2.5}, shares in
 * percent of the store's customers, kept to hundredths. Half the customers
 * at most: a control group larger than the treated one would cost the
 * store more messages than it measures. */
static int get_holdout(json_object *o, ac_store_settings_t *s, const char *store, char *err,
                       size_t errsz)
{
    json_object *h;
    if (!json_object_object_get_ex(o, "holdout", &h))
        return 0;
    if (!json_object_is_type(h, json_type_object)) {
        snprintf(err, errsz, "store %s: holdout must be an object such as {\"review_request\": 10}",
                 store);
        return -1;
    }
    json_object_object_foreach(h, kind, v)
    {
        int *slot = strcmp(kind, "review_request") == 0    ? &s->holdout_review_bp
                    : strcmp(kind, "referral_invite") == 0 ? &s->holdout_referral_bp
                    : strcmp(kind, "cross_sell") == 0      ? &s->holdout_cross_sell_bp
                                                           : NULL;
        double pct =
            json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)
                ? json_object_get_double(v)
                : -1;
        if (!slot) {
            snprintf(err, errsz,
                     "store %s: holdout is for review_request, referral_invite and cross_sell, "
                     "not \"%s\"",
                     store, kind);
            return -1;
        }
        if (!(pct >= 0 && pct <= 50)) {
            snprintf(err, errsz, "store %s: holdout.%s must be a percentage from 0 to 50", store,
                     kind);
            return -1;
        }
        *slot = (int)(pct * 100 + 0.5);
    }
    return 0;
}

/* "support": where a person at the store hears of a complaint: an
 * http(s) URL (a webhook) or an email address. */
static int get_support(json_object *o, ac_store_settings_t *s, const char *store, char *err,
                       size_t errsz)
{
    json_object *v;
    if (!json_object_object_get_ex(o, "support", &v))
        return 0;
    const char *x = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
    const char *at = strchr(x, '@');
    int url = strncmp(x, "https://", 8) == 0 || strncmp(x, "http://", 7) == 0;
    int email = !url && at && at > x && strchr(at + 1, '.') && !strchr(at + 1, '@');
    if ((!url && !email) || strpbrk(x, " \t\r\n<>\"") || strlen(x) > 512) {
        snprintf(err, errsz,
                 "store %s: support must be a webhook URL (https://...) or an email address",
                 store);
        return -1;
    }
    if (!(s->support = strdup(x))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}

/* Reads one store's object over a copy of the defaults. */
static int parse_store(const char *id, json_object *o, ac_store_settings_t *s, char *err,
                       size_t errsz)
{
    json_object *v;
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errsz, "store %s: settings must be a JSON object", id);
        return -1;
    }
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        static const char *known[] = {
            "shipping_updates", "review_request_delay", "referral_delay", "review_requests",
            "referral_invites", "review_url", "referral_url", "referral_codes",
            "watermark_max_hold", "holdout", "support",
            /* The store's identity and platform credentials, read by the
             * ingest gateway (creds.c). */
            "name", "locale", "timezone", "shopify", "woocommerce", "bigcommerce", "events"};
        size_t k = 0;
        while (k < sizeof(known) / sizeof(known[0]) && strcmp(key, known[k]) != 0)
            k++;
        if (k == sizeof(known) / sizeof(known[0])) {
            snprintf(err, errsz, "store %s: unknown setting \"%s\"", id, key);
            return -1;
        }
    }
    if (json_object_object_get_ex(o, "shipping_updates", &v)) {
        if (!json_object_is_type(v, json_type_array)) {
            snprintf(err, errsz, "store %s: shipping_updates must be a list such as [\"shipped\"]",
                     id);
            return -1;
        }
        s->shipped_updates = s->out_for_delivery_updates = 0;
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            json_object *e = json_object_array_get_idx(v, i);
            const char *name =
                json_object_is_type(e, json_type_string) ? json_object_get_string(e) : "";
            if (set_update(name, strlen(name), s) < 0) {
                snprintf(err, errsz,
                         "store %s: shipping_updates may hold only \"shipped\" and "
                         "\"out_for_delivery\"",
                         id);
                return -1;
            }
        }
    }
    if (get_delay(o, "review_request_delay", &s->review_delay_ms, id, err, errsz) < 0 ||
        get_delay(o, "referral_delay", &s->referral_delay_ms, id, err, errsz) < 0 ||
        get_hold(o, "watermark_max_hold", &s->watermark_hold_ms, id, err, errsz) < 0 ||
        get_flag(o, "review_requests", &s->review_requests, id, err, errsz) < 0 ||
        get_flag(o, "referral_invites", &s->referral_invites, id, err, errsz) < 0 ||
        get_flag(o, "referral_codes", &s->referral_codes, id, err, errsz) < 0 ||
        get_url(o, "review_url", &s->review_url, id, err, errsz) < 0 ||
        get_url(o, "referral_url", &s->referral_url, id, err, errsz) < 0 ||
        get_holdout(o, s, id, err, errsz) < 0 || get_support(o, s, id, err, errsz) < 0)
        return -1;
    return 0;
}

ac_stores_t *ac_stores_new(const ac_store_settings_t *defaults, const char *json, size_t len,
                           char *err, size_t errsz)
{
    json_object *root = NULL, *stores;
    ac_stores_t *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    t->defaults = *defaults;
    if (!json)
        return t;
    /* The same framing checks as an event: one JSON object, UTF-8, and
     * nothing after it (a second object would be silently ignored). */
    ac_event_error_t jerr;
    root = ac_event_parse_json(json, len, 16 * 1024 * 1024, &jerr);
    if (!root && jerr.code != AC_EVENT_ERR_NOT_OBJECT) {
        snprintf(err, errsz, "%s", jerr.detail);
        goto fail;
    }
    if (!root || !json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "stores", &stores) ||
        !json_object_is_type(stores, json_type_object)) {
        snprintf(err, errsz, "expected an object {\"stores\": {\"<store id>\": {...}}}");
        goto fail;
    }
    size_t n = (size_t)json_object_object_length(stores);
    t->entries = calloc(n ? n : 1, sizeof(*t->entries));
    if (!t->entries) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    json_object_object_foreach(stores, id, val)
    {
        store_entry_t *e = &t->entries[t->n];
        e->s = *defaults;
        if (parse_store(id, val, &e->s, err, errsz) < 0) {
            free((char *)e->s.review_url);
            free((char *)e->s.referral_url);
            free((char *)e->s.support);
            goto fail;
        }
        if (!(e->id = strdup(id))) {
            snprintf(err, errsz, "out of memory");
            goto fail;
        }
        t->n++;
    }
    qsort(t->entries, t->n, sizeof(*t->entries), cmp_entry);
    json_object_put(root);
    return t;
fail:
    json_object_put(root);
    ac_stores_destroy(t);
    return NULL;
}

ac_stores_t *ac_stores_load(const ac_store_settings_t *defaults, const char *path, char *err,
                            size_t errsz)
{
    char why[256];
    ac_stores_t *t = NULL;
    char *text = NULL;
    long size;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsz, "cannot read %s", path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0 ||
        size > 16 * 1024 * 1024 || !(text = malloc((size_t)size + 1)) ||
        fread(text, 1, (size_t)size, f) != (size_t)size) {
        snprintf(err, errsz, "cannot read %s", path);
        goto out;
    }
    text[size] = '\0';
    if (!(t = ac_stores_new(defaults, text, (size_t)size, why, sizeof(why))))
        snprintf(err, errsz, "%s: %s", path, why);
out:
    free(text);
    fclose(f);
    return t;
}

void ac_stores_destroy(ac_stores_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->entries[i].id);
        free((char *)t->entries[i].s.review_url);
        free((char *)t->entries[i].s.referral_url);
        free((char *)t->entries[i].s.support);
    }
    free(t->entries);
    free(t);
}

const ac_store_settings_t *ac_stores_get(const ac_stores_t *t, const char *store_id)
{
    if (store_id && t->n) {
        store_entry_t key = {(char *)store_id, {0}};
        const store_entry_t *e = bsearch(&key, t->entries, t->n, sizeof(*e), cmp_entry);
        if (e)
            return &e->s;
    }
    return &t->defaults;
}

size_t ac_stores_count(const ac_stores_t *t)
{
    return t ? t->n : 0;
}

static int64_t longest(const ac_store_settings_t *s)
{
    return s->review_delay_ms > s->referral_delay_ms ? s->review_delay_ms : s->referral_delay_ms;
}

int64_t ac_stores_longest_delay(const ac_stores_t *t)
{
    int64_t max = longest(&t->defaults);
    for (size_t i = 0; i < t->n; i++)
        if (longest(&t->entries[i].s) > max)
            max = longest(&t->entries[i].s);
    return max;
}
