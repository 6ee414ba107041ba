/* notify-worker's settings: the option table, and the checks that need
 * files or several settings at once (providers, STORE_SETTINGS,
 * TEMPLATE_DIR). Kept apart from the delivery loop in notify.c. */
#include "notify.h"

#include <stdio.h>
#include <string.h>

#include "facts.h"
#include "prefs.h"
#include "provider.h"
#include "rtoken.h"
#include "schedule.h"
#include "webhook.h"

/* RATING_BASE_URL: an http(s) URL without spaces, query or fragment,
 * which the links' "/r/<token>" is appended to. */
static int validate_base_url(const char *value, char *why, size_t whysz)
{
    if (!*value)
        return 0;
    if ((strncmp(value, "https://", 8) != 0 && strncmp(value, "http://", 7) != 0) ||
        strpbrk(value, " \t\r\n?#\"<>") || strlen(value) > 200) {
        snprintf(why, whysz, "an http(s) URL such as https://feedback.example.com");
        return -1;
    }
    return 0;
}

static int validate_quiet(const char *value, char *why, size_t whysz)
{
    ac_quiet_t q;
    return ac_prefs_parse_quiet(value, &q, why, whysz);
}

/* The per-store settings (links, referral codes) and the template
 * overrides. Returns 0, or -1 with one line in err naming the setting. */
int ac_notify_load_extras(const ac_config_t *cfg, ac_stores_t **stores, ac_templates_t **templates,
                          char *err, size_t errsz)
{
    static const ac_store_settings_t none;
    char why[512];
    const char *path = ac_config_str(cfg, "STORE_SETTINGS");
    *templates = NULL;
    *stores = path && *path ? ac_stores_load(&none, path, why, sizeof(why))
                            : ac_stores_new(&none, NULL, 0, why, sizeof(why));
    if (!*stores) {
        snprintf(err, errsz, "invalid setting STORE_SETTINGS: %s", why);
        return -1;
    }
    if (!(*templates = ac_templates_load(ac_config_str(cfg, "TEMPLATE_DIR"), why, sizeof(why)))) {
        snprintf(err, errsz, "invalid setting TEMPLATE_DIR: %s", why);
        ac_stores_destroy(*stores);
        *stores = NULL;
        return -1;
    }
    return 0;
}

int ac_notify_check(const ac_config_t *cfg, char *err, size_t errsz)
{
    ac_stores_t *stores;
    ac_templates_t *templates;
    /* A lease shorter than a request could let a second process send a
     * message while the first is still waiting for the provider. */
    if (ac_config_int(cfg, "CLAIM_TTL") <= ac_config_int(cfg, "HTTP_TIMEOUT")) {
        snprintf(err, errsz, "invalid setting CLAIM_TTL: must exceed HTTP_TIMEOUT");
        return -1;
    }
    if (ac_provider_config_check(cfg, err, errsz) < 0 ||
        ac_notify_load_extras(cfg, &stores, &templates, err, errsz) < 0)
        return -1;
    ac_stores_destroy(stores);
    ac_templates_destroy(templates);
    return 0;
}

const ac_option_t ac_notify_options[] = {
    {"WEBHOOK_URL", AC_OPT_STR, NULL, 0, 0, 0, ac_config_validate_http_url,
     "messages of a channel using the webhook provider are POSTed here as JSON; required then"},
    {"WEBHOOK_SECRET", AC_OPT_STR, "", AC_OPT_SECRET, 0, 0, ac_webhook_validate_secret,
     "Standard Webhooks signing secret whsec_...; several, space-separated, while rotating"},
    {"EMAIL_PROVIDER", AC_OPT_STR, "webhook", 0, 0, 0, ac_provider_validate_email_provider,
     "who delivers email: webhook or sendgrid"},
    {"SMS_PROVIDER", AC_OPT_STR, "webhook", 0, 0, 0, ac_provider_validate_sms_provider,
     "who delivers SMS: webhook or twilio"},
    {"EMAIL_FALLBACK", AC_OPT_STR, "none", 0, 0, 0, ac_provider_validate_email_fallback,
     "email goes here while EMAIL_PROVIDER keeps failing: none, webhook or sendgrid"},
    {"SMS_FALLBACK", AC_OPT_STR, "none", 0, 0, 0, ac_provider_validate_sms_fallback,
     "SMS goes here while SMS_PROVIDER keeps failing: none, webhook or twilio"},
    {"FAILOVER_AFTER", AC_OPT_INT, "5", 0, 1, 1000, NULL,
     "transient failures in a row of a primary provider that open its channel's circuit, when "
     "its recent attempts also show at 99% confidence that at least half fail (seven failures "
     "at the least): sending moves to the fallback, or holds without one"},
    {"FAILOVER_COOLDOWN", AC_OPT_DURATION, "30s", 0, 100, 86400000, NULL,
     "how long a channel's circuit stays open before one attempt probes the primary again"},
    {"CIRCUIT_RAMP", AC_OPT_DURATION, "30s", 0, 0, 3600000, NULL,
     "after a channel's circuit closes, requests in flight grow to MAX_IN_FLIGHT over this; 0: "
     "at once"},
    {"SENDGRID_URL", AC_OPT_STR, AC_PROVIDER_SENDGRID_URL, 0, 0, 0, ac_config_validate_http_url,
     "SendGrid's v3 mail send endpoint"},
    {"SENDGRID_API_KEY", AC_OPT_STR, NULL, AC_OPT_SECRET, 0, 0, ac_provider_validate_credential,
     "SendGrid API key (sent as a Bearer token); required with sendgrid"},
    {"EMAIL_FROM", AC_OPT_STR, NULL, 0, 0, 0, ac_provider_validate_email_address,
     "sender address of email sent through SendGrid; required with sendgrid"},
    {"EMAIL_FROM_NAME", AC_OPT_STR, NULL, 0, 0, 0, ac_provider_validate_display_name,
     "sender name shown with EMAIL_FROM"},
    {"TWILIO_URL", AC_OPT_STR, AC_PROVIDER_TWILIO_URL, 0, 0, 0, ac_config_validate_http_url,
     "Twilio's API base URL; /2010-04-01/Accounts/<sid>/Messages.json is appended"},
    {"TWILIO_ACCOUNT_SID", AC_OPT_STR, NULL, 0, 0, 0, ac_provider_validate_credential,
     "Twilio account SID (AC...); required with twilio"},
    {"TWILIO_AUTH_TOKEN", AC_OPT_STR, NULL, AC_OPT_SECRET, 0, 0, ac_provider_validate_credential,
     "Twilio auth token; required with twilio"},
    {"SMS_FROM", AC_OPT_STR, NULL, 0, 0, 0, ac_provider_validate_sms_sender,
     "sender of SMS sent through Twilio: +E.164 number or alphanumeric id; required with twilio"},
    {"HTTP_TIMEOUT", AC_OPT_DURATION, "10s", 0, 100, 300000, NULL,
     "total time allowed for one delivery request"},
    {"HTTP_CONNECT_TIMEOUT", AC_OPT_DURATION, "3s", 0, 100, 60000, NULL,
     "time allowed to connect to the provider"},
    {"MAX_IN_FLIGHT", AC_OPT_INT, "256", 0, 1, 10000, NULL, "delivery requests in flight at once"},
    {"MAX_ATTEMPTS", AC_OPT_INT, "0", 0, 0, 1000000, NULL,
     "delivery attempts before a message is dead-lettered; 0: no bound but RETRY_FOR"},
    {"RETRY_FOR", AC_OPT_DURATION, "24h", 0, 1000, 30LL * 86400000, NULL,
     "how long after its first attempt a transactional message is retried through transient "
     "failures"},
    {"RETRY_FOR_MARKETING", AC_OPT_DURATION, "3d", 0, 1000, 30LL * 86400000, NULL,
     "the same for review requests and referral invitations"},
    {"RETRY_DEFER_AFTER", AC_OPT_DURATION, "5s", 0, 0, 3600000, NULL,
     "a message waiting longer than this for its next attempt waits in the durable schedule, "
     "not in memory"},
    {"RECHECK_AFTER", AC_OPT_DURATION, "2s", 0, 0, 86400000, NULL,
     "a message decided longer ago than this (or retried) is checked against its order's "
     "journey again right before it is sent"},
    AC_FACTS_RETENTION_OPTION,
    {"RATING_SECRET", AC_OPT_STR, "", AC_OPT_SECRET, 0, 0, ac_rtoken_validate_keys,
     "secrets of the one-click rating links in review requests, whitespace-separated: the first "
     "signs (ingest-gateway must know it); empty: no rating links"},
    {"RATING_BASE_URL", AC_OPT_STR, "", 0, 0, 0, validate_base_url,
     "where ingest-gateway answers GET /r/{token}, e.g. https://feedback.example.com"},
    {"RATING_LINK_TTL", AC_OPT_DURATION, "60d", 0, 3600000, 3650LL * 86400000, NULL,
     "how long a rating link works after the review request is sent"},
    AC_SCHEDULE_BUCKETS_OPTION,
    AC_SCHEDULE_HOLD_OPTION("for messages put back into the schedule: the longest they wait "
                            "for the input topics' watermarks (as the event workers' setting)"),
    {"RETRY_BASE", AC_OPT_DURATION, "1s", 0, 10, 3600000, NULL,
     "first retry delay; doubles on every attempt, with jitter"},
    {"RETRY_MAX", AC_OPT_DURATION, "5m", 0, 10, 86400000, NULL, "longest delay between retries"},
    {"CLAIM_TTL", AC_OPT_DURATION, "30s", 0, 1000, 3600000, NULL,
     "lease on a message being delivered; must exceed HTTP_TIMEOUT"},
    {"STORE_SETTINGS", AC_OPT_STR, "", 0, 0, 0, NULL,
     "JSON file of per-store settings: review and referral links, referral codes "
     "(docs/templates.md)"},
    {"TEMPLATE_DIR", AC_OPT_STR, "", 0, 0, 0, NULL,
     "directory of template overrides, per store or for all (docs/templates.md)"},
    {"QUIET_HOURS", AC_OPT_STR, "21:00-08:00", 0, 0, 0, validate_quiet,
     "marketing messages due in this local time window wait until it ends; off for none"},
    {"MARKETING_CAP", AC_OPT_INT, "2", 0, 0, 1000, NULL,
     "at most this many review requests and referral invitations per customer per "
     "MARKETING_CAP_WINDOW; 0 for no cap"},
    {"MARKETING_CAP_WINDOW", AC_OPT_DURATION, "7d", 0, 60000, 365LL * 86400000, NULL,
     "the rolling window of MARKETING_CAP"},
};
const size_t ac_notify_n_options = sizeof(ac_notify_options) / sizeof(ac_notify_options[0]);
