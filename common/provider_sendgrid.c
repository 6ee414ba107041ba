/* The "sendgrid" provider: SendGrid's v3 mail send request, email only.
 * https://docs.sendgrid.com/api-reference/mail-send */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "provider_int.h"

typedef struct sendgrid {
    char *auth; /* the whole Authorization header line */
    char *from; /* EMAIL_FROM */
    char *from_name;
} sendgrid_t;

/* The validators of EMAIL_FROM and EMAIL_FROM_NAME (provider.h), which
 * only SendGrid reads: the webhook's receiver sends from its own. */
int ac_provider_validate_email_address(const char *value, char *why, size_t whysz)
{
    const char *at = strchr(value, '@');
    int ok = at && at > value && at[1] && !strchr(at + 1, '@') && strlen(value) <= 254;
    for (const unsigned char *p = (const unsigned char *)value; ok && *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == ',')
            ok = 0;
    if (!ok) {
        snprintf(why, whysz, "expected an email address such as orders@example.com");
        return -1;
    }
    return 0;
}

int ac_provider_validate_display_name(const char *value, char *why, size_t whysz)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(why, whysz, "control characters are not allowed");
            return -1;
        }
    }
    if (strlen(value) > 256) {
        snprintf(why, whysz, "longer than 256 bytes");
        return -1;
    }
    return 0;
}

static void sendgrid_load(const ac_config_t *cfg, ac_provider_settings_t *s)
{
    s->sendgrid_url = ac_provider_setting(cfg, "SENDGRID_URL");
    s->sendgrid_api_key = ac_provider_setting(cfg, "SENDGRID_API_KEY");
    s->email_from = ac_provider_setting(cfg, "EMAIL_FROM");
    s->email_from_name = ac_provider_setting(cfg, "EMAIL_FROM_NAME");
}

/* SENDGRID_URL has a default in the option table, so it is missing only
 * when set empty; EMAIL_FROM_NAME is optional. */
static int sendgrid_check(const ac_provider_settings_t *s, const char *user, char *err,
                          size_t errsz)
{
    const ac_provider_required_t req[] = {{s->sendgrid_url, "SENDGRID_URL"},
                                          {s->sendgrid_api_key, "SENDGRID_API_KEY"},
                                          {s->email_from, "EMAIL_FROM"}};
    return ac_provider_need(req, sizeof(req) / sizeof(req[0]), user, "sendgrid", err, errsz);
}

static void sendgrid_close(void *state)
{
    sendgrid_t *g = state;
    if (!g)
        return;
    free(g->auth);
    free(g->from);
    free(g->from_name);
    free(g);
}

static int sendgrid_open(const ac_provider_settings_t *s, void **state, char **url, char *err,
                         size_t errsz)
{
    int oom = 0;
    ac_buf_t b = AC_BUF_INIT;
    sendgrid_t *g = calloc(1, sizeof(*g));
    *url = ac_provider_strdup(s->sendgrid_url, &oom);
    if (g) {
        ac_buf_printf(&b, "Authorization: Bearer %s", s->sendgrid_api_key);
        g->auth = ac_buf_steal(&b);
        oom |= !g->auth;
        g->from = ac_provider_strdup(s->email_from, &oom);
        g->from_name = ac_provider_strdup(s->email_from_name, &oom);
    }
    ac_buf_free(&b);
    if (!g || oom) {
        snprintf(err, errsz, "out of memory");
        sendgrid_close(g);
        free(*url);
        *url = NULL;
        return -1;
    }
    *state = g;
    return 0;
}

static json_object *json_str(const char *s)
{
    return json_object_new_string(s ? s : "");
}

/* The request's JSON: one recipient, the sender, the subject, the text
 * and the HTML, and the message id. */
static json_object *sendgrid_json(const sendgrid_t *g, const ac_message_t *m, const char *to,
                                  const ac_rendered_t *r)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object *rcpt = json_object_new_object();
    json_object_object_add(rcpt, "email", json_str(to));
    json_object *tos = json_object_new_array();
    json_object_array_add(tos, rcpt);
    json_object *pers = json_object_new_object();
    json_object_object_add(pers, "to", tos);
    json_object *perss = json_object_new_array();
    json_object_array_add(perss, pers);
    json_object_object_add(o, "personalizations", perss);

    json_object *from = json_object_new_object();
    json_object_object_add(from, "email", json_str(g->from));
    if (g->from_name)
        json_object_object_add(from, "name", json_str(g->from_name));
    json_object_object_add(o, "from", from);
    json_object_object_add(o, "subject", json_str(r->subject));

    /* SendGrid wants text/plain first when both are given; mail clients
     * show the HTML part and fall back to the text. */
    json_object *content = json_object_new_array();
    json_object *plain = json_object_new_object();
    json_object_object_add(plain, "type", json_object_new_string("text/plain"));
    json_object_object_add(plain, "value", json_str(r->text));
    json_object_array_add(content, plain);
    if (r->html) {
        json_object *html = json_object_new_object();
        json_object_object_add(html, "type", json_object_new_string("text/html"));
        json_object_object_add(html, "value", json_str(r->html));
        json_object_array_add(content, html);
    }
    json_object_object_add(o, "content", content);

    /* Comes back in SendGrid's event webhook, tying events to the message. */
    json_object *args = json_object_new_object();
    json_object_object_add(args, "message_id", json_object_new_string(m->id));
    json_object_object_add(o, "custom_args", args);
    return o;
}

static int sendgrid_request(const void *state, const ac_message_t *m, ac_channel_t ch,
                            const char *to, const ac_rendered_t *r, int64_t now_ms,
                            ac_provider_request_t *out, char *err, size_t errsz)
{
    const sendgrid_t *g = state;
    int failed = 0;
    size_t n = 0;
    (void)ch;
    (void)now_ms;
    json_object *o = sendgrid_json(g, m, to, r);
    const char *s = o ? json_object_to_json_string_length(
                            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n)
                      : NULL;
    if (s && (out->body = malloc(n + 1))) {
        memcpy(out->body, s, n + 1);
        out->body_len = n;
    }
    json_object_put(o);
    if (out->body) {
        ac_provider_add_header(&out->headers, &failed, "Content-Type: application/json");
        ac_provider_add_header(&out->headers, &failed, "%s", g->auth);
        ac_provider_add_header(&out->headers, &failed, "Idempotency-Key: %s", m->id);
        ac_provider_add_header(&out->headers, &failed, "Expect:");
    }
    if (!out->body || failed) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}

const ac_provider_ops_t ac_provider_sendgrid_ops = {
    .name = "sendgrid",
    .channels = AC_PROVIDER_CHANNEL(AC_CHANNEL_EMAIL),
    .load = sendgrid_load,
    .check = sendgrid_check,
    .open = sendgrid_open,
    .close = sendgrid_close,
    .request = sendgrid_request,
};
