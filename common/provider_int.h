/* Shared by provider.c and the providers, not part of the interface.
 *
 * Each provider is one file (provider_webhook.c, provider_sendgrid.c,
 * provider_twilio.c) exposing one ac_provider_ops_t; provider.c holds the
 * table of them, indexed by ac_provider_kind_t, and does everything that
 * is the same for all of them. Adding a provider is a kind in provider.h,
 * its settings in ac_provider_settings_t, one file and one table entry. */
#ifndef AC_PROVIDER_INT_H
#define AC_PROVIDER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "provider.h"

/* What one provider does. The state open() makes is the provider's own;
 * provider.c only hands it back to request() and close(). */
typedef struct ac_provider_ops {
    const char *name;  /* in settings and the provider="..." metric label */
    unsigned channels; /* AC_PROVIDER_CHANNEL(ch) for every channel it serves */
    /* Reads the provider's own settings from cfg into s, borrowed from cfg
     * as ac_provider_settings_t says. */
    void (*load)(const ac_config_t *cfg, ac_provider_settings_t *s);
    /* Returns 0 when s has what the provider needs, or -1 with err naming
     * the first missing setting and user, the setting that chose it. */
    int (*check)(const ac_provider_settings_t *s, const char *user, char *err, size_t errsz);
    /* Makes the state from s (which passed check()) into *state and the
     * URL every request goes to into *url (malloc'd; left NULL when s has
     * none). Returns 0, or -1 with err filled and nothing left to free. */
    int (*open)(const ac_provider_settings_t *s, void **state, char **url, char *err, size_t errsz);
    /* Frees what open() made; accepts NULL. */
    void (*close)(void *state);
    /* Fills out's body and headers (provider.c adds the URL) for m on a
     * channel the provider serves. Returns 0, or -1 with err filled; out
     * is freed by the caller either way. */
    int (*request)(const void *state, const ac_message_t *m, ac_channel_t ch, const char *to,
                   const ac_rendered_t *r, int64_t now_ms, ac_provider_request_t *out, char *err,
                   size_t errsz);
} ac_provider_ops_t;

#define AC_PROVIDER_CHANNEL(ch) (1u << (ch))

extern const ac_provider_ops_t ac_provider_webhook_ops;
extern const ac_provider_ops_t ac_provider_sendgrid_ops;
extern const ac_provider_ops_t ac_provider_twilio_ops;

/* The configuration's value of name, NULL when unset or empty. */
const char *ac_provider_setting(const ac_config_t *cfg, const char *name);

/* A setting a provider needs: its value (NULL when unset) and name. */
typedef struct ac_provider_required {
    const char *value;
    const char *name;
} ac_provider_required_t;

/* Returns 0 when every one of the n settings in req is set, else -1 with
 * err naming the first missing one, its flag, and user=provider, the
 * setting that needs it. */
int ac_provider_need(const ac_provider_required_t *req, size_t n, const char *user,
                     const char *provider, char *err, size_t errsz);

/* A copy of s (NULL for NULL); sets *oom when it cannot be made, so that
 * several copies are checked once. */
char *ac_provider_strdup(const char *s, int *oom);

/* Appends one header line; on failure the list is freed and left NULL,
 * and later calls do nothing, so that a request is built whole or not at
 * all with a single check at the end. */
void ac_provider_add_header(struct curl_slist **h, int *failed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
