/* Fuzz target: the ingest gateway's view of STORE_SETTINGS, the stores'
 * platform credentials (common/creds.c).
 *
 * The whole input is the settings file, read by ac_creds_new(). Secrets
 * may come from the environment and from files: the target sets
 * AC_FUZZ_SECRET, AC_FUZZ_ROTATION, AC_FUZZ_TOKEN, AC_FUZZ_WHSEC and
 * AC_FUZZ_EMPTY, and writes secret, rotation, token, whsec and empty into
 * /tmp/aftercare-fuzz-creds/ (the same every time). An input naming a
 * <name>_file outside that directory is skipped, so that no fuzzed path
 * reads a device or a pipe.
 *
 * A refusal says why in one line that never holds a secret read from the
 * environment or a file. An accepted file gives one entry per store, each
 * found by its id and (case-insensitively) by its Shopify domain; each
 * platform section it has carries what the gateway needs (a verifying
 * secret, BigCommerce's API token, whsec_ keys for POST /events), and
 * every secret is one non-empty line with no blanks around it. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "canon.h"
#include "creds.h"
#include "event.h"
#include "fuzz_common.h"
#include "webhook.h"

#define DIR_PATH "/tmp/aftercare-fuzz-creds"

/* Secret values that reach creds.c only through the environment or a
 * file: none may show in an error. */
static const char *const HIDDEN[] = {
    "shpss-envsecret-7d1f3a0b", "rot-envsecret-one-4c2e", "rot-envsecret-two-91fa",
    "tok-envsecret-5b8d77",     "filesecret-0a9e2c41",    "filerot-one-77c1d2",
    "filerot-two-3e5f90",       "filetok-8812ab3c",
};

static void write_file(const char *name, const char *text)
{
    char path[256], tmp[300];
    snprintf(path, sizeof(path), "%s/%s", DIR_PATH, name);
    snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
    rename(tmp, path); /* whole, even with other fuzzers at it */
}

static void setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    setenv("AC_FUZZ_SECRET", "shpss-envsecret-7d1f3a0b", 1);
    setenv("AC_FUZZ_ROTATION", "rot-envsecret-one-4c2e\n rot-envsecret-two-91fa", 1);
    setenv("AC_FUZZ_TOKEN", "tok-envsecret-5b8d77", 1);
    setenv("AC_FUZZ_WHSEC", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
    setenv("AC_FUZZ_EMPTY", "", 1);
    mkdir(DIR_PATH, 0700);
    write_file("secret", "filesecret-0a9e2c41\n");
    write_file("rotation", "filerot-one-77c1d2\nfilerot-two-3e5f90\n");
    write_file("token", "filetok-8812ab3c");
    write_file("whsec", "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=\n");
    write_file("empty", "");
}

/* True when every <name>_file value anywhere in o names a file in
 * DIR_PATH. */
static int files_confined(json_object *o, int depth)
{
    if (!o || depth > 32)
        return depth <= 32;
    if (json_object_is_type(o, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (!files_confined(json_object_array_get_idx(o, i), depth + 1))
                return 0;
        return 1;
    }
    if (!json_object_is_type(o, json_type_object))
        return 1;
    json_object_object_foreach(o, key, val)
    {
        size_t n = strlen(key);
        if (n >= 5 && strcmp(key + n - 5, "_file") == 0 &&
            json_object_is_type(val, json_type_string)) {
            const char *path = json_object_get_string(val);
            if (strncmp(path, DIR_PATH "/", sizeof(DIR_PATH)) != 0 || strstr(path, ".."))
                return 0;
        }
        if (!files_confined(val, depth + 1))
            return 0;
    }
    return 1;
}

static void check_secrets(const ac_secrets_t *s, const char *what)
{
    FUZZ_CHECK(s->n == 0 || s->v != NULL, "%s: %zu secrets, no array", what, s->n);
    for (size_t i = 0; i < s->n; i++) {
        FUZZ_CHECK(s->v[i] && s->v[i][0], "%s: secret %zu is empty", what, i);
        size_t n = strlen(s->v[i]);
        FUZZ_CHECK(!strchr(s->v[i], '\n'), "%s: secret %zu holds a newline", what, i);
        FUZZ_CHECK(n && !strchr(" \t\r", s->v[i][0]) && !strchr(" \t\r", s->v[i][n - 1]),
                   "%s: secret %zu starts or ends with a blank", what, i);
    }
}

static void check_store(const ac_creds_t *c, const char *id, json_object *o)
{
    const ac_store_creds_t *s = ac_creds_by_id(c, id);
    FUZZ_CHECK(s != NULL, "store %.60s is not found by its id", id);
    FUZZ_CHECK(s->store.id && strcmp(s->store.id, id) == 0, "store %.60s is found as %.60s", id,
               s->store.id ? s->store.id : "(none)");
    FUZZ_CHECK(strlen(id) <= AC_EVENT_MAX_ID_LEN, "a store id of %zu bytes", strlen(id));
    const char *name = ac_canon_str(o, "name");
    FUZZ_CHECK((!name && !s->store.name) || (name && s->store.name && !strcmp(name, s->store.name)),
               "store %.60s has another name", id);

    check_secrets(&s->shopify, "shopify");
    check_secrets(&s->woo, "woocommerce");
    check_secrets(&s->bigc_shared, "bigcommerce.webhook_secret");
    check_secrets(&s->bigc_client, "bigcommerce.client_secret");
    check_secrets(&s->events, "events");

    if (ac_canon_obj(o, "shopify")) {
        FUZZ_CHECK(s->shop_domain && strchr(s->shop_domain, '.'), "store %.60s: shop domain", id);
        FUZZ_CHECK(s->shopify.n > 0, "store %.60s: Shopify without a secret", id);
        /* Found by its domain whatever the case. */
        char *upper = strdup(s->shop_domain);
        if (upper) {
            for (char *p = upper; *p; p++)
                *p = (char)toupper((unsigned char)*p);
            FUZZ_CHECK(ac_creds_by_shop(c, upper) == s, "store %.60s is not found by %.60s", id,
                       upper);
            free(upper);
        }
        FUZZ_CHECK(ac_creds_by_shop(c, s->shop_domain) == s, "store %.60s: by its domain", id);
    } else {
        FUZZ_CHECK(!s->shop_domain && s->shopify.n == 0, "store %.60s: Shopify from nowhere", id);
    }
    FUZZ_CHECK(ac_canon_obj(o, "woocommerce") ? s->woo.n > 0 : s->woo.n == 0,
               "store %.60s: WooCommerce secrets %zu", id, s->woo.n);
    if (ac_canon_obj(o, "bigcommerce")) {
        FUZZ_CHECK(s->has_bigcommerce && s->bigc_store_hash && *s->bigc_store_hash,
                   "store %.60s: BigCommerce without a store hash", id);
        FUZZ_CHECK(!strpbrk(s->bigc_store_hash, "/?#% "), "store %.60s: store hash %.60s", id,
                   s->bigc_store_hash);
        FUZZ_CHECK(s->bigc_api_token && *s->bigc_api_token, "store %.60s: no API token", id);
        FUZZ_CHECK(!strpbrk(s->bigc_api_token, "\r\n"),
                   "store %.60s: an API token breaks its header line", id);
        FUZZ_CHECK(s->bigc_shared.n + s->bigc_client.n > 0,
                   "store %.60s: BigCommerce with nothing to verify", id);
    } else {
        FUZZ_CHECK(!s->has_bigcommerce && !s->bigc_api_token && !s->bigc_shared.n &&
                       !s->bigc_client.n,
                   "store %.60s: BigCommerce from nowhere", id);
    }
    if (ac_canon_obj(o, "events")) {
        FUZZ_CHECK(s->events.n > 0, "store %.60s: events without a secret", id);
        for (size_t i = 0; i < s->events.n; i++) {
            char why[256];
            FUZZ_CHECK(ac_webhook_validate_secret(s->events.v[i], why, sizeof(why)) == 0,
                       "store %.60s: events secret %zu is not whsec_: %s", id, i, why);
        }
    } else {
        FUZZ_CHECK(s->events.n == 0, "store %.60s: events secrets from nowhere", id);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    char *json = fuzz_memdup(data, size);
    ac_event_error_t jerr;
    json_object *root = ac_event_parse_json(json, size, 16 * 1024 * 1024, &jerr);
    if (root && !files_confined(root, 0)) {
        json_object_put(root);
        free(json);
        return 0;
    }

    char err[512] = "";
    ac_creds_t *c = ac_creds_new(json, size, err, sizeof(err));
    if (!c) {
        FUZZ_CHECK(err[0], "refused without a reason");
        for (size_t i = 0; i < sizeof(HIDDEN) / sizeof(HIDDEN[0]); i++) {
            /* Unless the input itself holds it (as a store id, say). */
            if (memmem(data, size, HIDDEN[i], strlen(HIDDEN[i])))
                continue;
            FUZZ_CHECK(!strstr(err, HIDDEN[i]), "an error shows a secret: %s", err);
        }
    } else {
        json_object *stores = NULL;
        FUZZ_CHECK(root && json_object_object_get_ex(root, "stores", &stores) &&
                       json_object_is_type(stores, json_type_object),
                   "accepted settings without a stores object");
        FUZZ_CHECK(ac_creds_count(c) == (size_t)json_object_object_length(stores),
                   "%zu stores, the file names %d", ac_creds_count(c),
                   json_object_object_length(stores));
        json_object_object_foreach(stores, id, o) check_store(c, id, o);
        FUZZ_CHECK(!ac_creds_by_id(c, NULL) && !ac_creds_by_shop(c, NULL), "a NULL key finds");
        FUZZ_CHECK(!ac_creds_by_shop(c, "") && !ac_creds_by_shop(c, "no-such-shop.example"),
                   "an unknown shop is found");
        if (!json_object_object_get_ex(stores, "st_no_such_store", NULL))
            FUZZ_CHECK(!ac_creds_by_id(c, "st_no_such_store"), "an unknown store is found");
        ac_creds_destroy(c);
    }
    ac_creds_destroy(NULL);
    json_object_put(root);
    free(json);
    return 0;
}
