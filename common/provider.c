/* The providers' table and what is the same for all of them: names,
 * settings, and the dispatch of ac_provider_new() and
 * ac_provider_request() to the provider files (provider_int.h). */
#include "provider.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider_int.h"

/* Indexed by kind; AC_PROVIDER_NONE has no entry. */
static const ac_provider_ops_t *const table[AC_PROVIDER__COUNT] = {
    [AC_PROVIDER_WEBHOOK] = &ac_provider_webhook_ops,
    [AC_PROVIDER_SENDGRID] = &ac_provider_sendgrid_ops,
    [AC_PROVIDER_TWILIO] = &ac_provider_twilio_ops,
};

/* The provider of kind, NULL for none or a value outside the enum. */
static const ac_provider_ops_t *ops_of(ac_provider_kind_t kind)
{
    return (unsigned)kind < AC_PROVIDER__COUNT ? table[kind] : NULL;
}

/* ------------------------------------------------------------------ names */

const char *ac_provider_name(ac_provider_kind_t kind)
{
    const ac_provider_ops_t *ops = ops_of(kind);
    if (kind == AC_PROVIDER_NONE)
        return "none";
    return ops ? ops->name : "unknown";
}

int ac_provider_parse(const char *name, ac_provider_kind_t *kind)
{
    for (int k = 0; name && k < AC_PROVIDER__COUNT; k++) {
        if (strcmp(name, ac_provider_name((ac_provider_kind_t)k)) == 0) {
            *kind = (ac_provider_kind_t)k;
            return 0;
        }
    }
    return -1;
}

int ac_provider_serves(ac_provider_kind_t kind, ac_channel_t ch)
{
    const ac_provider_ops_t *ops = ops_of(kind);
    return ops && (unsigned)ch < AC_CHANNEL__COUNT && (ops->channels & AC_PROVIDER_CHANNEL(ch));
}

/* -------------------------------------------------------------- settings */

/* Writes the providers that can serve ch as a reader expects them ("a or
 * b", "a, b or c"), from the table so that a new provider is offered
 * without touching the messages. */
static void serving(ac_channel_t ch, char *buf, size_t bufsz)
{
    size_t n = 0, left = 0, used = 0;
    for (int k = 0; k < AC_PROVIDER__COUNT; k++)
        n += ac_provider_serves((ac_provider_kind_t)k, ch) != 0;
    buf[0] = '\0';
    for (int k = 0; k < AC_PROVIDER__COUNT && used < bufsz; k++) {
        if (!ac_provider_serves((ac_provider_kind_t)k, ch))
            continue;
        const char *sep = left == 0 ? "" : left + 1 == n ? " or " : ", ";
        int w = snprintf(buf + used, bufsz - used, "%s%s", sep,
                         ac_provider_name((ac_provider_kind_t)k));
        used += w > 0 ? (size_t)w : 0;
        left++;
    }
}

/* Accepts the providers that can serve ch, and "none" when allow_none. */
static int validate_kind(const char *value, ac_channel_t ch, int allow_none, char *why,
                         size_t whysz)
{
    ac_provider_kind_t k;
    char names[128];
    if (ac_provider_parse(value, &k) == 0 &&
        (k == AC_PROVIDER_NONE ? allow_none : ac_provider_serves(k, ch)))
        return 0;
    serving(ch, names, sizeof(names));
    snprintf(why, whysz, "expected %s%s", allow_none ? "none, " : "", names);
    return -1;
}

int ac_provider_validate_email_provider(const char *value, char *why, size_t whysz)
{
    return validate_kind(value, AC_CHANNEL_EMAIL, 0, why, whysz);
}

int ac_provider_validate_sms_provider(const char *value, char *why, size_t whysz)
{
    return validate_kind(value, AC_CHANNEL_SMS, 0, why, whysz);
}

int ac_provider_validate_email_fallback(const char *value, char *why, size_t whysz)
{
    return validate_kind(value, AC_CHANNEL_EMAIL, 1, why, whysz);
}

int ac_provider_validate_sms_fallback(const char *value, char *why, size_t whysz)
{
    return validate_kind(value, AC_CHANNEL_SMS, 1, why, whysz);
}

/* Shared by the providers that put a key or token in a header line. */
int ac_provider_validate_credential(const char *value, char *why, size_t whysz)
{
    /* It ends up inside a header line: a space would be ambiguous and a
     * line break would let the value add headers of its own. */
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            snprintf(why, whysz, "expected printable ASCII without spaces");
            return -1;
        }
    }
    if (strlen(value) > 512) {
        snprintf(why, whysz, "longer than 512 characters");
        return -1;
    }
    return 0;
}

const char *ac_provider_setting(const ac_config_t *cfg, const char *name)
{
    const char *v = ac_config_str(cfg, name);
    return v && *v ? v : NULL;
}

static int load_kind(const ac_config_t *cfg, const char *name, const char *def,
                     ac_provider_kind_t *out, char *err, size_t errsz)
{
    const char *v = ac_provider_setting(cfg, name);
    if (!v)
        v = def;
    if (ac_provider_parse(v, out) < 0) {
        snprintf(err, errsz, "invalid setting %s=%s: not a provider", name, v);
        return -1;
    }
    return 0;
}

/* The providers' own settings are loaded whether a channel uses them or
 * not: notify-worker's store alerts go to WEBHOOK_URL whatever the
 * customers' messages use. */
int ac_provider_settings_load(const ac_config_t *cfg, ac_provider_settings_t *s, char *err,
                              size_t errsz)
{
    memset(s, 0, sizeof(*s));
    if (load_kind(cfg, "EMAIL_PROVIDER", "webhook", &s->primary[AC_CHANNEL_EMAIL], err, errsz) <
            0 ||
        load_kind(cfg, "SMS_PROVIDER", "webhook", &s->primary[AC_CHANNEL_SMS], err, errsz) < 0 ||
        load_kind(cfg, "EMAIL_FALLBACK", "none", &s->fallback[AC_CHANNEL_EMAIL], err, errsz) < 0 ||
        load_kind(cfg, "SMS_FALLBACK", "none", &s->fallback[AC_CHANNEL_SMS], err, errsz) < 0)
        return -1;
    for (int k = 0; k < AC_PROVIDER__COUNT; k++)
        if (table[k])
            table[k]->load(cfg, s);
    s->failover_after = (int)ac_config_int(cfg, "FAILOVER_AFTER");
    s->failover_cooldown_ms = ac_config_int(cfg, "FAILOVER_COOLDOWN");
    return 0;
}

/* The flag of a setting: WEBHOOK_URL -> webhook-url. */
static void flag_of(const char *env, char *buf, size_t bufsz)
{
    size_t i = 0;
    for (; env[i] && i + 1 < bufsz; i++)
        buf[i] = env[i] == '_' ? '-' : (char)tolower((unsigned char)env[i]);
    buf[i] = '\0';
}

int ac_provider_need(const ac_provider_required_t *req, size_t n, const char *user,
                     const char *provider, char *err, size_t errsz)
{
    char flag[64];
    for (size_t i = 0; i < n; i++) {
        if (req[i].value)
            continue;
        flag_of(req[i].name, flag, sizeof(flag));
        snprintf(err, errsz, "missing setting %s (--%s): required when %s=%s", req[i].name, flag,
                 user, provider);
        return -1;
    }
    return 0;
}

typedef struct use {
    const char *name; /* the setting that chose the provider */
    ac_provider_kind_t kind;
    ac_channel_t ch;
    int fallback;
} use_t;

/* Checks one use of a provider: that it can send the channel, that a
 * fallback is not its primary again, and that it has its settings. */
static int check_use(const ac_provider_settings_t *s, const use_t *u, const char *primary_name,
                     char *err, size_t errsz)
{
    const char *kname = ac_provider_name(u->kind);
    if (u->kind == AC_PROVIDER_NONE && u->fallback)
        return 0;
    if (!ac_provider_serves(u->kind, u->ch)) {
        snprintf(err, errsz, "invalid setting %s=%s: %s cannot send %s", u->name, kname, kname,
                 ac_channel_name(u->ch));
        return -1;
    }
    if (u->fallback && u->kind == s->primary[u->ch]) {
        snprintf(err, errsz, "invalid setting %s=%s: must differ from %s", u->name, kname,
                 primary_name);
        return -1;
    }
    return ops_of(u->kind)->check(s, u->name, err, errsz);
}

int ac_provider_settings_check(const ac_provider_settings_t *s, char *err, size_t errsz)
{
    static const char *const primary_names[] = {"EMAIL_PROVIDER", "SMS_PROVIDER"};
    static const char *const fallback_names[] = {"EMAIL_FALLBACK", "SMS_FALLBACK"};
    /* Every use in the order the settings are documented, so that the
     * first problem reported is the first a reader meets. */
    use_t uses[2 * AC_CHANNEL__COUNT];
    size_t n = 0;
    for (int ch = 0; ch < AC_CHANNEL__COUNT; ch++)
        uses[n++] = (use_t){primary_names[ch], s->primary[ch], (ac_channel_t)ch, 0};
    for (int ch = 0; ch < AC_CHANNEL__COUNT; ch++)
        uses[n++] = (use_t){fallback_names[ch], s->fallback[ch], (ac_channel_t)ch, 1};
    for (size_t i = 0; i < n; i++)
        if (check_use(s, &uses[i], primary_names[uses[i].ch], err, errsz) < 0)
            return -1;
    return 0;
}

int ac_provider_config_check(const ac_config_t *cfg, char *err, size_t errsz)
{
    ac_provider_settings_t s;
    if (ac_provider_settings_load(cfg, &s, err, errsz) < 0)
        return -1;
    return ac_provider_settings_check(&s, err, errsz);
}

/* ------------------------------------------------------------- providers */

struct ac_provider {
    ac_provider_kind_t kind;
    const ac_provider_ops_t *ops;
    char *url;   /* where every request goes */
    void *state; /* the provider's own, from ops->open() */
};

char *ac_provider_strdup(const char *s, int *oom)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = 1;
    return d;
}

ac_provider_t *ac_provider_new(ac_provider_kind_t kind, const ac_provider_settings_t *s, char *err,
                               size_t errsz)
{
    const ac_provider_ops_t *ops = ops_of(kind);
    ac_provider_t *p = NULL;
    if (!ops) {
        snprintf(err, errsz, "no provider to create");
        return NULL;
    }
    if (!(p = calloc(1, sizeof(*p)))) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    p->kind = kind;
    p->ops = ops;
    if (ops->open(s, &p->state, &p->url, err, errsz) < 0)
        goto out;
    if (!p->url) {
        snprintf(err, errsz, "%s has no URL", ops->name);
        goto out;
    }
    return p;
out:
    ac_provider_destroy(p);
    return NULL;
}

void ac_provider_destroy(ac_provider_t *p)
{
    if (!p)
        return;
    p->ops->close(p->state);
    free(p->url);
    free(p);
}

ac_provider_kind_t ac_provider_kind(const ac_provider_t *p)
{
    return p->kind;
}

/* ------------------------------------------------------------- requests */

void ac_provider_add_header(struct curl_slist **h, int *failed, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    if (*failed)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    struct curl_slist *grown =
        n >= 0 && (size_t)n < sizeof(line) ? curl_slist_append(*h, line) : NULL;
    if (!grown) {
        curl_slist_free_all(*h);
        *h = NULL;
        *failed = 1;
        return;
    }
    *h = grown;
}

int ac_provider_request(const ac_provider_t *p, const ac_message_t *m, ac_channel_t ch,
                        const char *to, const ac_rendered_t *r, int64_t now_ms,
                        ac_provider_request_t *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof(*out));
    if (!ac_provider_serves(p->kind, ch)) {
        snprintf(err, errsz, "%s cannot send %s", ac_provider_name(p->kind), ac_channel_name(ch));
        return -1;
    }
    if (p->ops->request(p->state, m, ch, to, r, now_ms, out, err, errsz) < 0)
        goto out;
    if (!(out->url = strdup(p->url))) {
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    return 0;
out:
    ac_provider_request_free(out);
    return -1;
}

void ac_provider_request_free(ac_provider_request_t *req)
{
    free(req->url);
    curl_slist_free_all(req->headers);
    free(req->body);
    memset(req, 0, sizeof(*req));
}
