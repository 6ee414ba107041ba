/* notify-worker's start and end: its settings read once, its providers
 * and breakers per channel, the rating links' secrets, the webhook store
 * alerts go through, and everything freed again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"
#include "history.h"
#include "log.h"
#include "notify_int.h"
#include "schedule.h"

static void read_settings(notify_t *n, const ac_config_t *cfg)
{
    char err[256];
    n->max_in_flight = (int)ac_config_int(cfg, "MAX_IN_FLIGHT");
    n->retry = (ac_retry_policy_t){
        .base_ms = ac_config_int(cfg, "RETRY_BASE"),
        .max_ms = ac_config_int(cfg, "RETRY_MAX"),
        .lifetime_ms = ac_config_int(cfg, "RETRY_FOR"),
        .marketing_lifetime_ms = ac_config_int(cfg, "RETRY_FOR_MARKETING"),
        .defer_after_ms = ac_config_int(cfg, "RETRY_DEFER_AFTER"),
        .max_attempts = (int)ac_config_int(cfg, "MAX_ATTEMPTS"),
    };
    n->recheck_after = ac_config_int(cfg, "RECHECK_AFTER");
    n->hold_ms = ac_config_int(cfg, "WATERMARK_MAX_HOLD");
    n->claim_ttl = ac_config_int(cfg, "CLAIM_TTL");
    n->sent_ttl = ac_config_int(cfg, AC_DEDUP_TTL);
    n->facts_ttl = ac_config_int(cfg, "ANALYTICS") ? ac_config_int(cfg, "ANALYTICS_RETENTION") : 0;
    n->cap = (int)ac_config_int(cfg, "MARKETING_CAP");
    n->cap_window = ac_config_int(cfg, "MARKETING_CAP_WINDOW");
    /* Validated by the option table: it parses. */
    ac_prefs_parse_quiet(ac_config_str(cfg, "QUIET_HOURS"), &n->quiet, err, sizeof(err));
    n->rng = (uint32_t)ac_time_now_ms() ^ (uint32_t)(uintptr_t)n;
}

/* Each channel's primary provider, its fallback if any, and the breaker
 * that chooses between them. Returns 0, or -1 with err. */
static int setup_providers(notify_t *n, const ac_provider_settings_t *ps, char *err, size_t errsz)
{
    for (int ch = 0; ch < AC_CHANNEL__COUNT; ch++) {
        char why[256] = "";
        n->primary[ch] = ac_provider_new(ps->primary[ch], ps, why, sizeof(why));
        if (n->primary[ch] && ps->fallback[ch] != AC_PROVIDER_NONE)
            n->fallback[ch] = ac_provider_new(ps->fallback[ch], ps, why, sizeof(why));
        if (!n->primary[ch] || (ps->fallback[ch] != AC_PROVIDER_NONE && !n->fallback[ch])) {
            snprintf(err, errsz, "cannot set up %s providers: %s", ac_channel_name(ch), why);
            return -1;
        }
        ac_breaker_init(&n->breaker[ch], ps->failover_after, ps->failover_cooldown_ms);
        ac_breaker_set_ramp(&n->breaker[ch], ac_config_int(n->w->cfg, "CIRCUIT_RAMP"));
        ac_log(AC_LOG_INFO, "%s through %s%s%s", ac_channel_name(ch),
               ac_provider_name(ps->primary[ch]), n->fallback[ch] ? ", falling back to " : "",
               n->fallback[ch] ? ac_provider_name(ps->fallback[ch]) : "");
    }
    return 0;
}

/* The rating links' secrets and base, and the webhook provider store
 * alerts to a support URL go through (it needs a URL to be made; each
 * request is pointed at the store's own). Returns 0, or -1 with err. */
static int setup_feedback(notify_t *n, const ac_provider_settings_t *ps, char *err, size_t errsz)
{
    const ac_config_t *cfg = n->w->cfg;
    ac_provider_settings_t alert = *ps;
    if (ac_rtoken_keys_parse(ac_config_str(cfg, "RATING_SECRET"), &n->rating_keys, err, errsz) < 0)
        return -1;
    n->rating_base = ac_config_str(cfg, "RATING_BASE_URL");
    n->rating_ttl = ac_config_int(cfg, "RATING_LINK_TTL");
    if (!alert.webhook_url || !*alert.webhook_url)
        alert.webhook_url = "http://127.0.0.1/";
    n->alert = ac_provider_new(AC_PROVIDER_WEBHOOK, &alert, err, errsz);
    return n->alert ? 0 : -1;
}

/* The machine, the offsets, the delivery engine and the stages' scratch
 * space. Returns 0, or -1 with err. */
static int setup_engine(notify_t *n, char *err, size_t errsz)
{
    const ac_config_t *cfg = n->w->cfg;
    n->jobs = ac_jobs_new();
    n->offsets = ac_offsets_new();
    n->keys = malloc(2 * NOTIFY_BATCH * sizeof(*n->keys));
    n->hist = malloc(NOTIFY_BATCH * sizeof(*n->hist));
    if (!n->jobs || !n->offsets || !n->keys || !n->hist) {
        snprintf(err, errsz, "cannot start delivery: out of memory");
        return -1;
    }
    n->delivery =
        ac_delivery_new(n->max_in_flight, (long)ac_config_int(cfg, "HTTP_CONNECT_TIMEOUT"),
                        (long)ac_config_int(cfg, "HTTP_TIMEOUT"), err, errsz);
    return n->delivery ? 0 : -1;
}

/* Everything notify-worker needs before its loop. Returns 0, or -1 with
 * err and the AC_EXIT_* status in *exit_code. */
int notify_setup(notify_t *n, ac_worker_t *w, char *err, size_t errsz, int *exit_code)
{
    ac_provider_settings_t ps;
    memset(n, 0, sizeof(*n));
    n->w = w;
    read_settings(n, w->cfg);
    ac_prefs_register(w->redis);
    if (!(n->sched = ac_schedule_new(w->redis, (int)ac_config_int(w->cfg, "SCHEDULE_BUCKETS"), err,
                                     errsz))) {
        *exit_code = AC_EXIT_RUNTIME;
        return -1;
    }
    notify_metrics_describe(n);
    *exit_code = AC_EXIT_CONFIG;
    /* Checked at start-up (the spec's check); checked again here so that
     * no combination the check missed runs half-configured. */
    if (ac_provider_settings_load(w->cfg, &ps, err, errsz) < 0 ||
        ac_provider_settings_check(&ps, err, errsz) < 0)
        return -1;
    *exit_code = AC_EXIT_RUNTIME;
    if (setup_providers(n, &ps, err, errsz) < 0)
        return -1;
    *exit_code = AC_EXIT_CONFIG;
    if (ac_notify_load_extras(w->cfg, &n->stores, &n->templates, err, errsz) < 0 ||
        setup_feedback(n, &ps, err, errsz) < 0)
        return -1;
    notify_metrics_zero(n);
    ac_log(AC_LOG_INFO, "%zu store(s) with their own settings, %zu template override(s)",
           ac_stores_count(n->stores), ac_templates_count(n->templates));
    *exit_code = AC_EXIT_RUNTIME;
    return setup_engine(n, err, errsz);
}

/* Frees what notify_setup() made, and the jobs still in hand. Requests
 * still in flight are aborted; their leases expire and their records were
 * not committed, so the next owner delivers them. */
void notify_teardown(notify_t *n)
{
    ac_delivery_destroy(n->delivery);
    n->delivery = NULL;
    if (n->jobs) {
        for (ac_job_state_t s = 0; s < AC_JOB__COUNT; s++) {
            while (ac_jobs_first(n->jobs, s)) {
                ac_job_t *b = ac_jobs_first(n->jobs, s);
                /* Not through the machine: the job is going, whatever its state. */
                ac_jobs_forget(n->jobs, b);
                notify_job_free(job_of(b));
            }
        }
    }
    ac_jobs_destroy(n->jobs);
    ac_offsets_destroy(n->offsets);
    ac_stores_destroy(n->stores);
    ac_templates_destroy(n->templates);
    ac_secrets_clear(&n->rating_keys);
    ac_provider_destroy(n->alert);
    for (int ch = 0; ch < AC_CHANNEL__COUNT; ch++) {
        ac_provider_destroy(n->primary[ch]);
        ac_provider_destroy(n->fallback[ch]);
    }
    free(n->keys);
    free(n->hist);
    ac_schedule_destroy(n->sched);
}
