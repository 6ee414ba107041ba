/* The ingest gateway's view of the per-store settings file (STORE_SETTINGS,
 * the same file stores.h reads for the workers): each store's name,
 * locale and timezone for the canonical "store" object, and its platform
 * credentials:
 *
 *   {"stores": {"st_acme": {
 *      "name": "Acme Outdoor", "locale": "en-US", "timezone": "America/New_York",
 *      "shopify":     {"shop_domain": "acme.myshopify.com", "webhook_secret": "…"},
 *      "woocommerce": {"webhook_secret": "…"},
 *      "bigcommerce": {"store_hash": "abc123", "api_token": "…",
 *                      "webhook_secret": "…", "client_secret": "…"},
 *      "events":      {"webhook_secret": "whsec_…"}}}}
 *
 * Every secret (webhook_secret, client_secret, api_token) may instead be
 * given as <name>_env (an environment variable holding it) or <name>_file
 * (a file holding it, as a Kubernetes Secret mounts it), and webhook
 * secrets as a list or one per line, so that a store can rotate: any of
 * them verifies. A setting holding a NUL byte is refused. Secrets never appear in an
 * error message. */
#ifndef AC_CREDS_H
#define AC_CREDS_H

#include <stddef.h>

#include "canon.h"
#include "sig.h"

typedef struct ac_store_creds {
    ac_canon_store_t store;  /* id, name, locale, timezone */
    const char *shop_domain; /* NULL: not connected to Shopify */
    ac_secrets_t shopify;    /* X-Shopify-Hmac-Sha256 keys */
    ac_secrets_t woo;        /* X-WC-Webhook-Signature keys */
    int has_bigcommerce;
    const char *bigc_store_hash;
    const char *bigc_api_token; /* X-Auth-Token for the orders API */
    ac_secrets_t bigc_shared;   /* the hook's X-Aftercare-Webhook-Secret header values */
    ac_secrets_t bigc_client;   /* Standard Webhooks signatures, when BigCommerce sends them */
    ac_secrets_t events;        /* whsec_ keys of POST /events */
} ac_store_creds_t;

typedef struct ac_creds ac_creds_t;

/* Parses the settings JSON. Returns the table (free with
 * ac_creds_destroy()) or NULL with one line in err naming the store and
 * field at fault. */
ac_creds_t *ac_creds_new(const char *json, size_t len, char *err, size_t errsz);

/* Same, from a file. */
ac_creds_t *ac_creds_load(const char *path, char *err, size_t errsz);

void ac_creds_destroy(ac_creds_t *c);

/* The store with aftercare id store_id, or NULL. Valid while c lives. */
const ac_store_creds_t *ac_creds_by_id(const ac_creds_t *c, const char *store_id);

/* The store whose shopify.shop_domain is domain (case-insensitive), or
 * NULL. */
const ac_store_creds_t *ac_creds_by_shop(const ac_creds_t *c, const char *domain);

/* How many stores the file names. */
size_t ac_creds_count(const ac_creds_t *c);

#endif
