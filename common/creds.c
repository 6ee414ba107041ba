#include "creds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event.h"
#include "webhook.h"

struct ac_creds {
    ac_store_creds_t *v;
    size_t n;
};

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Appends one secret, trimmed of surrounding blanks (a file's final
 * newline, an editor's stray space); an empty one is not added. */
static int add_one(ac_secrets_t *s, const char *p, size_t n)
{
    while (n && strchr(" \t\r\n", *p))
        p++, n--;
    while (n && strchr(" \t\r\n", p[n - 1]))
        n--;
    if (!n)
        return 0;
    char **v = realloc(s->v, (s->n + 1) * sizeof(*v));
    if (!v)
        return -1;
    s->v = v;
    if (!(s->v[s->n] = strndup(p, n)))
        return -1;
    s->n++;
    return 0;
}

/* True when a list entry, once trimmed as add_one trims it, still holds a
 * line break: a list gives one secret per entry, and an entry that spans
 * lines is a mistake to name rather than a secret to split or keep. */
static int spans_lines(const char *p)
{
    size_t n = strlen(p);
    while (n && strchr(" \t\r\n", *p))
        p++, n--;
    while (n && strchr(" \t\r\n", p[n - 1]))
        n--;
    return memchr(p, '\n', n) || memchr(p, '\r', n);
}

/* Appends every line of text as a secret. Only a newline separates:
 * WooCommerce lets a merchant type any secret, spaces and commas
 * included, so neither may split one. */
static int add_lines(ac_secrets_t *s, const char *text)
{
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        if (add_one(s, p, n) < 0)
            return -1;
        p += n + (p[n] == '\n');
    }
    return 0;
}

/* Reads a small secret file (a mounted Kubernetes Secret) into a string;
 * NULL when it cannot be read or holds a NUL byte, which no secret does. */
static char *read_small(const char *path)
{
    char *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    text = calloc(1, 65537);
    if (text) {
        size_t n = fread(text, 1, 65536, f);
        if (memchr(text, '\0', n)) {
            free(text);
            text = NULL;
        }
    }
    fclose(f);
    return text;
}

/* Fills s from section's member name: a string (one secret per line) or
 * list of strings (one secret each) given inline, <name>_env or
 * <name>_file. Absent is not an error here: whether
 * the secret is required depends on the platform. The error names the
 * store, section and field, never a value. */
static int get_secrets(json_object *section, const char *store, const char *sec, const char *name,
                       ac_secrets_t *s, char *err, size_t errsz)
{
    json_object *v;
    char key[64];
    if (json_object_object_get_ex(section, name, &v)) {
        if (json_object_is_type(v, json_type_string)) {
            if (add_lines(s, json_object_get_string(v)) < 0)
                goto oom;
        } else if (json_object_is_type(v, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                json_object *e = json_object_array_get_idx(v, i);
                if (!json_object_is_type(e, json_type_string)) {
                    snprintf(err, errsz, "store %s: %s.%s must hold strings", store, sec, name);
                    return -1;
                }
                const char *one = json_object_get_string(e);
                if (spans_lines(one)) {
                    snprintf(err, errsz,
                             "store %s: %s.%s[%zu] holds a line break; give one secret per entry",
                             store, sec, name, i);
                    return -1;
                }
                if (add_one(s, one, strlen(one)) < 0)
                    goto oom;
            }
        } else {
            snprintf(err, errsz, "store %s: %s.%s must be a string or a list", store, sec, name);
            return -1;
        }
    }
    snprintf(key, sizeof(key), "%s_env", name);
    const char *env = ac_canon_str(section, key);
    if (env) {
        const char *val = getenv(env);
        if (!val || !*val) {
            snprintf(err, errsz, "store %s: %s.%s names %s, which is not set", store, sec, key,
                     env);
            return -1;
        }
        if (add_lines(s, val) < 0)
            goto oom;
    }
    snprintf(key, sizeof(key), "%s_file", name);
    const char *path = ac_canon_str(section, key);
    if (path) {
        char *text = read_small(path);
        int rc = text ? add_lines(s, text) : 0;
        free(text);
        if (!text) {
            snprintf(err, errsz, "store %s: %s.%s: cannot read %s (or it holds a NUL byte)", store,
                     sec, key, path);
            return -1;
        }
        if (rc < 0)
            goto oom;
    }
    return 0;
oom:
    snprintf(err, errsz, "out of memory");
    return -1;
}

/* One secret that must be present, such as the BigCommerce API token. */
static int get_one(json_object *section, const char *store, const char *sec, const char *name,
                   const char **out, char *err, size_t errsz)
{
    ac_secrets_t s = {0};
    if (get_secrets(section, store, sec, name, &s, err, errsz) < 0) {
        ac_secrets_clear(&s);
        return -1;
    }
    if (s.n != 1) {
        snprintf(err, errsz, "store %s: %s.%s (or %s_env, %s_file) must give one value", store, sec,
                 name, name, name);
        ac_secrets_clear(&s);
        return -1;
    }
    *out = s.v[0];
    free(s.v);
    return 0;
}

static int need(const ac_secrets_t *s, const char *store, const char *sec, char *err, size_t errsz)
{
    if (s->n)
        return 0;
    snprintf(err, errsz, "store %s: %s needs webhook_secret (or webhook_secret_env, _file)", store,
             sec);
    return -1;
}

/* Standard Webhooks secrets (whsec_<base64>) are checked at start, so
 * that a mistyped one stops the gateway rather than failing every
 * request. */
static int check_whsec(const ac_secrets_t *s, const char *store, const char *field, char *err,
                       size_t errsz)
{
    char why[256];
    for (size_t i = 0; i < s->n; i++)
        if (ac_webhook_validate_secret(s->v[i], why, sizeof(why)) < 0) {
            snprintf(err, errsz, "store %s: %s: %s", store, field, why);
            return -1;
        }
    return 0;
}

static int parse_platforms(json_object *o, ac_store_creds_t *c, char *err, size_t errsz)
{
    const char *id = c->store.id;
    json_object *sec;
    if ((sec = ac_canon_obj(o, "shopify"))) {
        const char *dom = ac_canon_str(sec, "shop_domain");
        if (!dom || !strchr(dom, '.')) {
            snprintf(err, errsz, "store %s: shopify.shop_domain must be like acme.myshopify.com",
                     id);
            return -1;
        }
        if (!(c->shop_domain = strdup(dom)) ||
            get_secrets(sec, id, "shopify", "webhook_secret", &c->shopify, err, errsz) < 0 ||
            need(&c->shopify, id, "shopify", err, errsz) < 0)
            return -1;
    }
    if ((sec = ac_canon_obj(o, "woocommerce")) &&
        (get_secrets(sec, id, "woocommerce", "webhook_secret", &c->woo, err, errsz) < 0 ||
         need(&c->woo, id, "woocommerce", err, errsz) < 0))
        return -1;
    if ((sec = ac_canon_obj(o, "bigcommerce"))) {
        const char *hash = ac_canon_str(sec, "store_hash");
        c->has_bigcommerce = 1;
        if (!hash || strpbrk(hash, "/?#% ")) {
            snprintf(err, errsz, "store %s: bigcommerce.store_hash must be the store's hash", id);
            return -1;
        }
        if (!(c->bigc_store_hash = strdup(hash)) ||
            get_one(sec, id, "bigcommerce", "api_token", &c->bigc_api_token, err, errsz) < 0 ||
            get_secrets(sec, id, "bigcommerce", "webhook_secret", &c->bigc_shared, err, errsz) <
                0 ||
            get_secrets(sec, id, "bigcommerce", "client_secret", &c->bigc_client, err, errsz) < 0)
            return -1;
        if (!c->bigc_shared.n && !c->bigc_client.n) {
            snprintf(err, errsz, "store %s: bigcommerce needs webhook_secret or client_secret", id);
            return -1;
        }
        if (check_whsec(&c->bigc_client, id, "bigcommerce.client_secret", err, errsz) < 0)
            return -1;
    }
    if ((sec = ac_canon_obj(o, "events"))) {
        if (get_secrets(sec, id, "events", "webhook_secret", &c->events, err, errsz) < 0 ||
            need(&c->events, id, "events", err, errsz) < 0)
            return -1;
        if (check_whsec(&c->events, id, "events.webhook_secret", err, errsz) < 0)
            return -1;
    }
    return 0;
}

/* JSON may carry a NUL byte (\u0000) in a string, which C reads as the
 * string's end: a store hash or a secret cut short there would be used
 * silently. Every string of a store's settings is checked, whatever it is
 * for. */
static int has_nul(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_string:
        return strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v);
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (has_nul(json_object_array_get_idx(v, i)))
                return 1;
        return 0;
    case json_type_object: {
        json_object_object_foreach(v, key, val)
        {
            (void)key;
            if (has_nul(val))
                return 1;
        }
        return 0;
    }
    default:
        return 0;
    }
}

static int parse_store(const char *id, json_object *o, ac_store_creds_t *c, char *err, size_t errsz)
{
    if (!json_object_is_type(o, json_type_object)) {
        snprintf(err, errsz, "store %s: settings must be a JSON object", id);
        return -1;
    }
    if (has_nul(o)) {
        snprintf(err, errsz, "store %s: a setting holds a NUL byte", id);
        return -1;
    }
    if (strlen(id) > AC_EVENT_MAX_ID_LEN) {
        snprintf(err, errsz, "a store id is longer than %d bytes", AC_EVENT_MAX_ID_LEN);
        return -1;
    }
    c->store.id = strdup(id);
    c->store.name = dup_or_null(ac_canon_str(o, "name"));
    c->store.locale = dup_or_null(ac_canon_str(o, "locale"));
    c->store.timezone = dup_or_null(ac_canon_str(o, "timezone"));
    if (!c->store.id) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return parse_platforms(o, c, err, errsz);
}

static void clear_store(ac_store_creds_t *c)
{
    free((char *)c->store.id);
    free((char *)c->store.name);
    free((char *)c->store.locale);
    free((char *)c->store.timezone);
    free((char *)c->shop_domain);
    free((char *)c->bigc_store_hash);
    free((char *)c->bigc_api_token);
    ac_secrets_clear(&c->shopify);
    ac_secrets_clear(&c->woo);
    ac_secrets_clear(&c->bigc_shared);
    ac_secrets_clear(&c->bigc_client);
    ac_secrets_clear(&c->events);
}

/* Two stores claiming one Shopify domain would make webhooks ambiguous. */
static int check_domains(const ac_creds_t *c, char *err, size_t errsz)
{
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = i + 1; c->v[i].shop_domain && j < c->n; j++)
            if (c->v[j].shop_domain && strcasecmp(c->v[i].shop_domain, c->v[j].shop_domain) == 0) {
                snprintf(err, errsz, "stores %s and %s: the same shopify.shop_domain",
                         c->v[i].store.id, c->v[j].store.id);
                return -1;
            }
    return 0;
}

ac_creds_t *ac_creds_new(const char *json, size_t len, char *err, size_t errsz)
{
    ac_event_error_t jerr;
    json_object *stores = NULL;
    ac_creds_t *c = calloc(1, sizeof(*c));
    json_object *root = ac_event_parse_json(json, len, 16 * 1024 * 1024, &jerr);
    if (!c) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    if (!root || !json_object_object_get_ex(root, "stores", &stores) ||
        !json_object_is_type(stores, json_type_object)) {
        snprintf(err, errsz, "expected an object {\"stores\": {\"<store id>\": {...}}}");
        goto fail;
    }
    size_t n = (size_t)json_object_object_length(stores);
    if (!(c->v = calloc(n ? n : 1, sizeof(*c->v)))) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    json_object_object_foreach(stores, id, val)
    {
        c->n++;
        if (parse_store(id, val, &c->v[c->n - 1], err, errsz) < 0)
            goto fail;
    }
    if (check_domains(c, err, errsz) < 0)
        goto fail;
    json_object_put(root);
    return c;
fail:
    json_object_put(root);
    ac_creds_destroy(c);
    return NULL;
}

ac_creds_t *ac_creds_load(const char *path, char *err, size_t errsz)
{
    char why[300];
    ac_creds_t *c = NULL;
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
    if (!(c = ac_creds_new(text, (size_t)size, why, sizeof(why))))
        snprintf(err, errsz, "%s: %s", path, why);
out:
    free(text);
    fclose(f);
    return c;
}

void ac_creds_destroy(ac_creds_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        clear_store(&c->v[i]);
    free(c->v);
    free(c);
}

/* A linear scan: a gateway serves tens of stores per settings file, and
 * the scan is cheap next to verifying an HMAC. */
const ac_store_creds_t *ac_creds_by_id(const ac_creds_t *c, const char *store_id)
{
    for (size_t i = 0; c && store_id && i < c->n; i++)
        if (strcmp(c->v[i].store.id, store_id) == 0)
            return &c->v[i];
    return NULL;
}

const ac_store_creds_t *ac_creds_by_shop(const ac_creds_t *c, const char *domain)
{
    for (size_t i = 0; c && domain && i < c->n; i++)
        if (c->v[i].shop_domain && strcasecmp(c->v[i].shop_domain, domain) == 0)
            return &c->v[i];
    return NULL;
}

size_t ac_creds_count(const ac_creds_t *c)
{
    return c ? c->n : 0;
}
