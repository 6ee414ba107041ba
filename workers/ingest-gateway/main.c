/* ingest-gateway: receives the store platforms' signed webhooks (Shopify,
 * WooCommerce, BigCommerce) and stores' own canonical events, verifies
 * them, and produces canonical events to orders, shipments and returns,
 * answering only once Kafka has them (common/ingest.h); and customers'
 * one-click ratings from review request emails (GET /r/{token}). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "creds.h"
#include "http.h"
#include "ictx.h"
#include "ihttp.h"
#include "ingest.h"
#include "ingest_bg.h"
#include "iprod.h"
#include "log.h"
#include "metrics.h"
#include "rtoken.h"
#include "timeutil.h"
#include "worker.h"

extern char **environ;

#define DAY_MS (86400000LL)

static const ac_option_t options[] = {
    {"KAFKA_BROKERS", AC_OPT_STR, NULL, AC_OPT_REQUIRED, 0, 0, NULL,
     "Kafka bootstrap servers, host:port[,host:port...]"},
    {"REDIS_URL", AC_OPT_STR, "redis://127.0.0.1:6379/0", 0, 0, 0, ac_config_validate_redis_url,
     "Redis for order context, thin events waiting for their order and BigCommerce fetches, "
     "redis://[:password@]host:port[,host:port...][/db]"},
    {"REDIS_CLUSTER", AC_OPT_STR, "auto", 0, 0, 0, ac_config_validate_redis_cluster,
     "whether Redis is a Redis Cluster: auto (ask it), on or off"},
    {"STORE_SETTINGS", AC_OPT_STR, NULL, AC_OPT_REQUIRED, 0, 0, NULL,
     "per-store settings file with each store's name, locale, timezone and platform "
     "credentials (docs/platforms.md)"},
    {"INGEST_PORT", AC_OPT_INT, "8090", 0, 1, 65535, NULL, "port for the webhooks"},
    {"HTTP_PORT", AC_OPT_INT, "8080", 0, 0, 65535, NULL,
     "port for /healthz, /readyz and /metrics; 0 turns it off"},
    {"LOG_LEVEL", AC_OPT_STR, "info", 0, 0, 0, ac_config_validate_log_level,
     "debug, info, warn or error"},
    {"LOG_MASK", AC_OPT_BOOL, "true", 0, 0, 0, NULL,
     "mask customer email addresses and phone numbers in logs"},
    {"SHUTDOWN_TIMEOUT", AC_OPT_DURATION, "20s", 0, 1000, 600000, NULL,
     "on SIGTERM, the time allowed to answer requests in flight; keep it below the pod's "
     "termination grace period"},
    {"MAX_BODY_BYTES", AC_OPT_INT, "1048576", 0, 1024, 64LL * 1024 * 1024, NULL,
     "larger bodies are refused with 413"},
    {"MAX_CONNECTIONS", AC_OPT_INT, "1024", 0, 1, 65536, NULL,
     "connections served at once (a thread each)"},
    {"PRODUCE_TIMEOUT", AC_OPT_DURATION, "4s", 0, 100, 300000, NULL,
     "how long a request waits for Kafka before it is answered 503 (Shopify waits 5s)"},
    {"EVENTS_TOLERANCE", AC_OPT_DURATION, "5m", 0, 1000, DAY_MS, NULL,
     "how far a Standard Webhooks timestamp may be from now"},
    {"ORDER_WAIT", AC_OPT_DURATION, "7d", 0, 1000, 365 * DAY_MS, NULL,
     "how long a thin event (a fulfillment, refund or return) waits for its order before it "
     "is dead-lettered"},
    {"CONTEXT_TTL", AC_OPT_DURATION, "180d", 0, 60000, 3650 * DAY_MS, NULL,
     "how long an order's context (customer, number, items) is kept to complete thin events"},
    {"INGEST_DLQ_TOPIC", AC_OPT_STR, "ingest.dlq", 0, 0, 0, ac_config_validate_topic,
     "dead-letter topic for payloads that cannot be mapped and thin events whose order never "
     "came"},
    {"TOPIC_ORDERS", AC_OPT_STR, "orders", 0, 0, 0, ac_config_validate_topic, "orders topic"},
    {"TOPIC_SHIPMENTS", AC_OPT_STR, "shipments", 0, 0, 0, ac_config_validate_topic,
     "shipments topic"},
    {"TOPIC_RETURNS", AC_OPT_STR, "returns", 0, 0, 0, ac_config_validate_topic, "returns topic"},
    {"BIGCOMMERCE_API_URL", AC_OPT_STR, "https://api.bigcommerce.com", 0, 0, 0,
     ac_config_validate_http_url, "BigCommerce API base URL"},
    {"BIGCOMMERCE_TIMEOUT", AC_OPT_DURATION, "10s", 0, 100, 300000, NULL,
     "timeout of each BigCommerce API call"},
    {"BIGCOMMERCE_RETRY", AC_OPT_DURATION, "30s", 0, 100, DAY_MS, NULL,
     "wait before fetching again after the BigCommerce API failed"},
    {"BIGCOMMERCE_FETCHERS", AC_OPT_INT, "2", 0, 1, 16, NULL,
     "threads fetching BigCommerce orders"},
    {"REDIS_POOL", AC_OPT_INT, "16", 0, 1, 256, NULL, "Redis connections shared by requests"},
    {"RATING_SECRET", AC_OPT_STR, NULL, AC_OPT_SECRET, 0, 0, ac_rtoken_validate_keys,
     "secrets of the one-click rating links (GET /r/{token}), whitespace-separated, the signing "
     "one first, each at least 16 bytes: the same list as notify-worker's; unset, /r/ answers "
     "404"},
};

typedef struct gateway {
    ac_config_t *cfg;
    ac_creds_t *creds;
    ac_metrics_t *metrics;
    ac_iprod_t *prod;
    ac_ictx_t *ictx;
    ac_ingest_t *ingest;
    ac_http_t *ops;
    ac_ihttp_t *web;
    ac_ingest_bg_t *bg;
    ac_secrets_t rating; /* RATING_SECRET */
} gateway_t;

static int ready(void *ctx, char *why, size_t whysz)
{
    gateway_t *gw = ctx;
    if (!ac_iprod_connected(gw->prod)) {
        snprintf(why, whysz, "kafka is not reachable");
        return 0;
    }
    if (!ac_ictx_ok(gw->ictx)) {
        snprintf(why, whysz, "redis is not reachable");
        return 0;
    }
    return 1;
}

/* Parses the settings and loads the store file; exits 2 naming what is
 * wrong. */
static int configure(gateway_t *gw, int argc, char **argv)
{
    char err[512];
    gw->cfg = ac_config_new("ingest-gateway",
                            "receives store platforms' webhooks and produces canonical events",
                            options, sizeof(options) / sizeof(options[0]));
    int rc = gw->cfg ? ac_config_parse(gw->cfg, argc, argv, environ, err, sizeof(err)) : -1;
    if (rc == AC_CONFIG_EXIT)
        return AC_EXIT_OK;
    if (rc < 0) {
        fprintf(stderr, "ingest-gateway: %s\n", gw->cfg ? err : "out of memory");
        return AC_EXIT_CONFIG;
    }
    if (!(gw->creds = ac_creds_load(ac_config_str(gw->cfg, "STORE_SETTINGS"), err, sizeof(err)))) {
        fprintf(stderr, "ingest-gateway: invalid setting STORE_SETTINGS: %s\n", err);
        return AC_EXIT_CONFIG;
    }
    /* Validated already; this fails only when out of memory. */
    if (ac_rtoken_keys_parse(ac_config_str(gw->cfg, "RATING_SECRET"), &gw->rating, err,
                             sizeof(err)) < 0) {
        fprintf(stderr, "ingest-gateway: invalid setting RATING_SECRET: %s\n", err);
        return AC_EXIT_CONFIG;
    }
    return -1;
}

/* Creates the clients and starts serving. */
/* REDIS_CLUSTER, which the option table validated. */
static ac_redis_cluster_t redis_cluster(const ac_config_t *c)
{
    ac_redis_cluster_t mode = AC_REDIS_CLUSTER_AUTO;
    char why[64];
    ac_redis_cluster_parse(ac_config_str(c, "REDIS_CLUSTER"), &mode, why, sizeof(why));
    return mode;
}

static int start(gateway_t *gw)
{
    char err[512];
    const ac_config_t *c = gw->cfg;
    ac_ingest_opts_t o = {ac_config_str(c, "TOPIC_ORDERS"),
                          ac_config_str(c, "TOPIC_SHIPMENTS"),
                          ac_config_str(c, "TOPIC_RETURNS"),
                          ac_config_str(c, "INGEST_DLQ_TOPIC"),
                          ac_config_int(c, "EVENTS_TOLERANCE") / 1000,
                          (size_t)ac_config_int(c, "MAX_BODY_BYTES"),
                          &gw->rating};
    ac_ingest_bg_opts_t bo = {
        ac_config_str(c, "BIGCOMMERCE_API_URL"), ac_config_int(c, "BIGCOMMERCE_TIMEOUT"),
        ac_config_int(c, "BIGCOMMERCE_RETRY"), (int)ac_config_int(c, "BIGCOMMERCE_FETCHERS"), 1000};
    if (!(gw->metrics = ac_metrics_new()))
        return -1;
    ac_ingest_describe_metrics(gw->metrics);
    if (!(gw->prod = ac_iprod_new(c, "ingest-gateway", ac_config_int(c, "PRODUCE_TIMEOUT"), err,
                                  sizeof(err))) ||
        !(gw->ictx = ac_ictx_new(
              ac_config_str(c, "REDIS_URL"), redis_cluster(c), (int)ac_config_int(c, "REDIS_POOL"),
              ac_config_int(c, "CONTEXT_TTL"), ac_config_int(c, "ORDER_WAIT"), err, sizeof(err))) ||
        !(gw->ingest = ac_ingest_new(gw->creds, gw->prod, gw->ictx, gw->metrics, &o))) {
        ac_log(AC_LOG_ERROR, "cannot start: %s", err);
        return -1;
    }
    int port = (int)ac_config_int(c, "HTTP_PORT");
    if ((port && !(gw->ops = ac_http_start(port, gw->metrics, ready, gw, err, sizeof(err)))) ||
        !(gw->web = ac_ihttp_start((int)ac_config_int(c, "INGEST_PORT"),
                                   (unsigned)ac_config_int(c, "MAX_CONNECTIONS"), o.max_body,
                                   gw->ingest, err, sizeof(err))) ||
        !(gw->bg = ac_ingest_bg_start(gw->ingest, gw->ictx, gw->metrics, &bo, err, sizeof(err)))) {
        ac_log(AC_LOG_ERROR, "cannot start: %s", err);
        return -1;
    }
    ac_log(AC_LOG_INFO,
           "ingest-gateway %s started: webhooks on port %lld, %zu store(s), rating links %s",
           AC_VERSION, (long long)ac_config_int(c, "INGEST_PORT"), ac_creds_count(gw->creds),
           gw->rating.n ? "on" : "off (no RATING_SECRET)");
    return 0;
}

/* Stops accepting, lets requests in flight finish within SHUTDOWN_TIMEOUT
 * (each waits at most PRODUCE_TIMEOUT for Kafka), then stops. */
static void drain(gateway_t *gw)
{
    int64_t until = ac_time_mono_ms() + (gw->cfg ? ac_config_int(gw->cfg, "SHUTDOWN_TIMEOUT") : 0);
    ac_ihttp_quiesce(gw->web);
    while (ac_ihttp_in_flight(gw->web) > 0 && ac_time_mono_ms() < until)
        ac_worker_sleep(50);
    if (ac_ihttp_in_flight(gw->web) > 0)
        ac_log(AC_LOG_WARN, "stopping with %d request(s) unanswered: their platforms retry",
               ac_ihttp_in_flight(gw->web));
}

static void destroy(gateway_t *gw)
{
    ac_ihttp_stop(gw->web);
    ac_ingest_bg_stop(gw->bg);
    ac_http_stop(gw->ops);
    ac_iprod_destroy(gw->prod, 5000);
    ac_ingest_destroy(gw->ingest);
    ac_ictx_destroy(gw->ictx);
    ac_metrics_destroy(gw->metrics);
    ac_creds_destroy(gw->creds);
    ac_secrets_clear(&gw->rating);
    ac_config_destroy(gw->cfg);
}

int main(int argc, char **argv)
{
    gateway_t gw = {0};
    int rc = configure(&gw, argc, argv);
    if (rc >= 0) {
        destroy(&gw);
        return rc;
    }
    ac_log_init("ingest-gateway", ac_log_level_parse(ac_config_str(gw.cfg, "LOG_LEVEL")));
    ac_log_set_mask((int)ac_config_int(gw.cfg, "LOG_MASK"));
    ac_worker_signals(ac_config_int(gw.cfg, "SHUTDOWN_TIMEOUT"));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = start(&gw) == 0 ? AC_EXIT_OK : AC_EXIT_RUNTIME;
    while (rc == AC_EXIT_OK && !ac_worker_stopping()) {
        ac_http_beat(gw.ops);
        ac_worker_sleep(200);
    }
    if (gw.web)
        drain(&gw);
    destroy(&gw);
    curl_global_cleanup();
    ac_log(AC_LOG_INFO, "ingest-gateway stopped");
    return rc;
}
