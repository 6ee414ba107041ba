/* The "webhook" provider: the store's own endpoint gets the JSON body of
 * webhook.h, signed per Standard Webhooks, for either channel. */
#include <stdio.h>
#include <stdlib.h>

#include "provider_int.h"
#include "webhook.h"

typedef struct webhook {
    char *secret; /* the Standard Webhooks secret(s), NULL for none */
} webhook_t;

static void webhook_load(const ac_config_t *cfg, ac_provider_settings_t *s)
{
    s->webhook_url = ac_provider_setting(cfg, "WEBHOOK_URL");
    s->webhook_secret = ac_provider_setting(cfg, "WEBHOOK_SECRET");
}

/* The secret is optional: a store may accept unsigned requests. */
static int webhook_check(const ac_provider_settings_t *s, const char *user, char *err, size_t errsz)
{
    const ac_provider_required_t req[] = {{s->webhook_url, "WEBHOOK_URL"}};
    return ac_provider_need(req, sizeof(req) / sizeof(req[0]), user, "webhook", err, errsz);
}

static void webhook_close(void *state)
{
    webhook_t *w = state;
    if (!w)
        return;
    free(w->secret);
    free(w);
}

static int webhook_open(const ac_provider_settings_t *s, void **state, char **url, char *err,
                        size_t errsz)
{
    int oom = 0;
    webhook_t *w = calloc(1, sizeof(*w));
    *url = ac_provider_strdup(s->webhook_url, &oom);
    if (w)
        w->secret = ac_provider_strdup(s->webhook_secret, &oom);
    if (!w || oom) {
        snprintf(err, errsz, "out of memory");
        webhook_close(w);
        free(*url);
        *url = NULL;
        return -1;
    }
    *state = w;
    return 0;
}

/* The body and headers notify-worker has always sent. */
static int webhook_request(const void *state, const ac_message_t *m, ac_channel_t ch,
                           const char *to, const ac_rendered_t *r, int64_t now_ms,
                           ac_provider_request_t *out, char *err, size_t errsz)
{
    const webhook_t *w = state;
    int failed = 0;
    out->body = ac_webhook_body(m, ch, to, r, &out->body_len);
    if (!out->body) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    ac_provider_add_header(&out->headers, &failed, "Content-Type: application/json");
    ac_provider_add_header(&out->headers, &failed, "Idempotency-Key: %s", m->id);
    ac_provider_add_header(&out->headers, &failed, "webhook-id: %s", m->id);
    int64_t ts = now_ms / 1000;
    ac_provider_add_header(&out->headers, &failed, "webhook-timestamp: %lld", (long long)ts);
    if (w->secret) {
        char sig[1024], why[256];
        /* The secrets were validated at start-up, so signing fails only
         * when there are more of them than the header has room for; the
         * request then goes unsigned, as it always has. */
        if (ac_webhook_sign(w->secret, m->id, ts, out->body, out->body_len, sig, sizeof(sig), why,
                            sizeof(why)) == 0)
            ac_provider_add_header(&out->headers, &failed, "webhook-signature: %s", sig);
    }
    ac_provider_add_header(&out->headers, &failed, "Expect:"); /* no 100-continue round trip */
    if (failed)
        snprintf(err, errsz, "out of memory");
    return failed ? -1 : 0;
}

const ac_provider_ops_t ac_provider_webhook_ops = {
    .name = "webhook",
    .channels = AC_PROVIDER_CHANNEL(AC_CHANNEL_EMAIL) | AC_PROVIDER_CHANNEL(AC_CHANNEL_SMS),
    .load = webhook_load,
    .check = webhook_check,
    .open = webhook_open,
    .close = webhook_close,
    .request = webhook_request,
};
