/* Provider adapters: the request each provider gets for a message, the
 * settings that choose and configure them, and the failover breaker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "config.h"
#include "message.h"
#include "notify.h"
#include "provider.h"
#include "render.h"
#include "test_util.h"
#include "webhook.h"

#define SECRET   "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SID      "AC0123456789abcdef"
#define TOKEN    "tok_3n9!x"
#define API_KEY  "SG.key-123.abc"
#define NOW_MS   1764064800123LL /* 2025-11-25T10:00:00.123Z */
#define NOW_SECS "1764064800"

#define RECORD                                                                                     \
    "{\"event_id\":\"e-1\",\"type\":\"order.placed\",\"occurred_at\":\"2026-11-25T10:00:00Z\","    \
    "\"store\":{\"id\":\"s1\",\"name\":\"Bergladen\"},\"order\":{\"id\":\"o1\",\"number\":"        \
    "\"77\"},\"customer\":{\"id\":\"c1\",\"email\":\"j@example.de\",\"phone\":\"+49 151 "          \
    "12345678\",\"first_name\":\"Jürgen\"}}"

/* A message with its event, and a rendering made up by hand so that these
 * tests do not depend on the templates. */
typedef struct fixture {
    ac_message_t m;
    ac_rendered_t email, sms;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    ac_event_error_t eerr;
    f->m.event = ac_event_parse(RECORD, strlen(RECORD), 0, &eerr);
    assert_non_null(f->m.event);
    f->m.kind = AC_KIND_ORDER_CONFIRMATION;
    f->m.created_ms = f->m.event->occurred_ms;
    ac_message_id(f->m.kind, "s1", "o1", NULL, f->m.id);
    f->email.subject = strdup("Your order #77 at Bergladen");
    f->email.text = strdup("Hallo Jürgen,\n\ndanke für Ihre Bestellung #77 & mehr.");
    f->email.html = strdup("<!DOCTYPE html>\n<p>Hallo J&uuml;rgen,</p>");
    f->email.language = "de";
    f->sms.text = strdup("Hi Zoë & co: 100% + more\n美咲 ~ a=b?c/d");
    f->sms.language = "en";
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    ac_event_destroy(f->m.event);
    ac_rendered_free(&f->email);
    ac_rendered_free(&f->sms);
    free(f);
    return 0;
}

/* Settings with every provider fully configured. */
static ac_provider_settings_t full_settings(void)
{
    ac_provider_settings_t s;
    memset(&s, 0, sizeof(s));
    s.primary[AC_CHANNEL_EMAIL] = AC_PROVIDER_SENDGRID;
    s.primary[AC_CHANNEL_SMS] = AC_PROVIDER_TWILIO;
    s.fallback[AC_CHANNEL_EMAIL] = AC_PROVIDER_WEBHOOK;
    s.fallback[AC_CHANNEL_SMS] = AC_PROVIDER_WEBHOOK;
    s.webhook_url = "http://127.0.0.1:9/webhook";
    s.webhook_secret = SECRET;
    s.sendgrid_url = "http://127.0.0.1:9/v3/mail/send";
    s.sendgrid_api_key = API_KEY;
    s.email_from = "orders@bergladen.example";
    s.email_from_name = "Bergladen – Kundenservice";
    s.twilio_url = "http://127.0.0.1:9/";
    s.twilio_account_sid = SID;
    s.twilio_auth_token = TOKEN;
    s.sms_from = "+15005550006";
    s.failover_after = 5;
    s.failover_cooldown_ms = 30000;
    return s;
}

/* Builds the request provider kind makes for the fixture's message on ch. */
static ac_provider_request_t request_for(fixture_t *f, const ac_provider_settings_t *s,
                                         ac_provider_kind_t kind, ac_channel_t ch, const char *to)
{
    char err[256];
    ac_provider_t *p = ac_provider_new(kind, s, err, sizeof(err));
    if (!p)
        fail_msg("provider not created: %s", err);
    assert_int_equal(ac_provider_kind(p), kind);
    ac_provider_request_t req;
    const ac_rendered_t *r = ch == AC_CHANNEL_EMAIL ? &f->email : &f->sms;
    if (ac_provider_request(p, &f->m, ch, to, r, NOW_MS, &req, err, sizeof(err)) < 0)
        fail_msg("request not built: %s", err);
    ac_provider_destroy(p);
    assert_non_null(req.url);
    assert_non_null(req.body);
    assert_int_equal(strlen(req.body), req.body_len);
    return req;
}

/* The header lines of req, one per line, to compare in one go. */
static char *header_lines(const ac_provider_request_t *req)
{
    size_t n = 1;
    for (const struct curl_slist *h = req->headers; h; h = h->next)
        n += strlen(h->data) + 1;
    char *out = calloc(1, n);
    for (const struct curl_slist *h = req->headers; h; h = h->next) {
        strcat(out, h->data);
        strcat(out, "\n");
    }
    return out;
}

/* The field key of o, which must exist and have type t. */
static json_object *field(json_object *o, const char *key, json_type t)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
    if (!json_object_is_type(v, t))
        fail_msg("\"%s\" is a %s", key, json_type_to_name(json_object_get_type(v)));
    return v;
}

static const char *str_field(json_object *o, const char *key)
{
    return json_object_get_string(field(o, key, json_type_string));
}

/* ------------------------------------------------------------------ names */

static void names_parse_and_channels(void **state)
{
    (void)state;
    ac_provider_kind_t k;
    const char *names[] = {"none", "webhook", "sendgrid", "twilio"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ac_provider_parse(names[i], &k), 0);
        assert_int_equal(k, (ac_provider_kind_t)i);
        assert_string_equal(ac_provider_name(k), names[i]);
    }
    assert_int_equal(ac_provider_parse("Twilio", &k), -1);
    assert_int_equal(ac_provider_parse("", &k), -1);
    assert_int_equal(ac_provider_parse(NULL, &k), -1);
    assert_true(ac_provider_serves(AC_PROVIDER_WEBHOOK, AC_CHANNEL_EMAIL));
    assert_true(ac_provider_serves(AC_PROVIDER_WEBHOOK, AC_CHANNEL_SMS));
    assert_true(ac_provider_serves(AC_PROVIDER_SENDGRID, AC_CHANNEL_EMAIL));
    assert_false(ac_provider_serves(AC_PROVIDER_SENDGRID, AC_CHANNEL_SMS));
    assert_true(ac_provider_serves(AC_PROVIDER_TWILIO, AC_CHANNEL_SMS));
    assert_false(ac_provider_serves(AC_PROVIDER_TWILIO, AC_CHANNEL_EMAIL));
    assert_false(ac_provider_serves(AC_PROVIDER_NONE, AC_CHANNEL_EMAIL));
}

/* --------------------------------------------------------------- webhook */

/* The webhook request is what notify-worker sent before providers
 * existed: the webhook body, signed, with the same headers in the same
 * order. */
static void webhook_request_is_the_signed_webhook(void **state)
{
    fixture_t *f = *state;
    ac_provider_settings_t s = full_settings();
    ac_provider_request_t req =
        request_for(f, &s, AC_PROVIDER_WEBHOOK, AC_CHANNEL_EMAIL, "j@example.de");
    assert_string_equal(req.url, "http://127.0.0.1:9/webhook");
    size_t len = 0;
    char *body = ac_webhook_body(&f->m, AC_CHANNEL_EMAIL, "j@example.de", &f->email, &len);
    assert_string_equal(req.body, body);
    assert_int_equal(req.body_len, len);

    char sig[512], err[256], want[2048];
    assert_int_equal(ac_webhook_sign(SECRET, f->m.id, NOW_MS / 1000, body, len, sig, sizeof(sig),
                                     err, sizeof(err)),
                     0);
    snprintf(want, sizeof(want),
             "Content-Type: application/json\n"
             "Idempotency-Key: %s\n"
             "webhook-id: %s\n"
             "webhook-timestamp: " NOW_SECS "\n"
             "webhook-signature: %s\n"
             "Expect:\n",
             f->m.id, f->m.id, sig);
    char *got = header_lines(&req);
    assert_string_equal(got, want);
    free(got);
    free(body);
    ac_provider_request_free(&req);

    /* Without a secret: the same, unsigned. SMS goes the same way. */
    s.webhook_secret = NULL;
    req = request_for(f, &s, AC_PROVIDER_WEBHOOK, AC_CHANNEL_SMS, "+49 151 12345678");
    got = header_lines(&req);
    assert_not_contains(got, "webhook-signature");
    assert_contains(got, "webhook-timestamp: " NOW_SECS "\n");
    json_object *o = json_tokener_parse(req.body);
    assert_string_equal(str_field(o, "channel"), "sms");
    assert_string_equal(str_field(o, "to"), "+49 151 12345678");
    json_object_put(o);
    free(got);
    ac_provider_request_free(&req);
}

/* -------------------------------------------------------------- sendgrid */

/* The exact SendGrid v3 mail send document, parsed back. */
static void sendgrid_request_shape(void **state)
{
    fixture_t *f = *state;
    ac_provider_settings_t s = full_settings();
    ac_provider_request_t req =
        request_for(f, &s, AC_PROVIDER_SENDGRID, AC_CHANNEL_EMAIL, "j@example.de");
    assert_string_equal(req.url, "http://127.0.0.1:9/v3/mail/send");

    json_object *o = json_tokener_parse(req.body);
    assert_non_null(o);
    assert_int_equal(json_object_object_length(o), 5);
    json_object *pers = field(o, "personalizations", json_type_array);
    assert_int_equal(json_object_array_length(pers), 1);
    json_object *p0 = json_object_array_get_idx(pers, 0);
    assert_int_equal(json_object_object_length(p0), 1);
    json_object *to = field(p0, "to", json_type_array);
    assert_int_equal(json_object_array_length(to), 1);
    json_object *to0 = json_object_array_get_idx(to, 0);
    assert_int_equal(json_object_object_length(to0), 1);
    assert_string_equal(str_field(to0, "email"), "j@example.de");

    json_object *from = field(o, "from", json_type_object);
    assert_int_equal(json_object_object_length(from), 2);
    assert_string_equal(str_field(from, "email"), "orders@bergladen.example");
    assert_string_equal(str_field(from, "name"), "Bergladen – Kundenservice");
    assert_string_equal(str_field(o, "subject"), "Your order #77 at Bergladen");

    json_object *content = field(o, "content", json_type_array);
    assert_int_equal(json_object_array_length(content), 2);
    json_object *plain = json_object_array_get_idx(content, 0);
    assert_int_equal(json_object_object_length(plain), 2);
    assert_string_equal(str_field(plain, "type"), "text/plain");
    assert_string_equal(str_field(plain, "value"), f->email.text);
    json_object *html = json_object_array_get_idx(content, 1);
    assert_int_equal(json_object_object_length(html), 2);
    assert_string_equal(str_field(html, "type"), "text/html");
    assert_string_equal(str_field(html, "value"), f->email.html);

    json_object *args = field(o, "custom_args", json_type_object);
    assert_int_equal(json_object_object_length(args), 1);
    assert_string_equal(str_field(args, "message_id"), f->m.id);
    json_object_put(o);
    /* Written as UTF-8, not as \u escapes, and slashes left alone. */
    assert_contains(req.body, "Jürgen");
    assert_contains(req.body, "text/plain");

    char want[512];
    snprintf(want, sizeof(want),
             "Content-Type: application/json\n"
             "Authorization: Bearer " API_KEY "\n"
             "Idempotency-Key: %s\n"
             "Expect:\n",
             f->m.id);
    char *got = header_lines(&req);
    assert_string_equal(got, want);
    free(got);
    ac_provider_request_free(&req);
}

/* Without a sender name "from" has the address only; a message without
 * HTML goes as text alone. */
static void sendgrid_optional_parts(void **state)
{
    fixture_t *f = *state;
    ac_provider_settings_t s = full_settings();
    s.email_from_name = NULL;
    free(f->email.html);
    f->email.html = NULL;
    ac_provider_request_t req =
        request_for(f, &s, AC_PROVIDER_SENDGRID, AC_CHANNEL_EMAIL, "j@example.de");
    json_object *o = json_tokener_parse(req.body);
    json_object *from = field(o, "from", json_type_object);
    assert_int_equal(json_object_object_length(from), 1);
    assert_string_equal(str_field(from, "email"), "orders@bergladen.example");
    json_object *content = field(o, "content", json_type_array);
    assert_int_equal(json_object_array_length(content), 1);
    assert_string_equal(str_field(json_object_array_get_idx(content, 0), "type"), "text/plain");
    json_object_put(o);
    ac_provider_request_free(&req);
}

/* ---------------------------------------------------------------- twilio */

/* Form fields in order, each URL-encoded: '+' and '&' escaped, spaces as
 * '+', UTF-8 byte by byte; basic auth and both idempotency headers. */
static void twilio_request_shape(void **state)
{
    fixture_t *f = *state;
    ac_provider_settings_t s = full_settings();
    ac_provider_request_t req =
        request_for(f, &s, AC_PROVIDER_TWILIO, AC_CHANNEL_SMS, "+49 151 12345678");
    /* The base URL's trailing slash is not doubled. */
    assert_string_equal(req.url, "http://127.0.0.1:9/2010-04-01/Accounts/" SID "/Messages.json");
    /* As Python's urllib.parse.urlencode writes the same fields. */
    assert_string_equal(req.body, "To=%2B49+151+12345678&From=%2B15005550006&Body=Hi+Zo%C3%AB+%26+"
                                  "co%3A+100%25+%2B+more%0A%E7%BE%8E%E5%92%B2+~+a%3Db%3Fc%2Fd");
    char want[512];
    snprintf(want, sizeof(want),
             "Content-Type: application/x-www-form-urlencoded\n"
             /* base64 of "AC0123456789abcdef:tok_3n9!x" */
             "Authorization: Basic QUMwMTIzNDU2Nzg5YWJjZGVmOnRva18zbjkheA==\n"
             "I-Twilio-Idempotency-Token: %s\n"
             "Idempotency-Key: %s\n"
             "Expect:\n",
             f->m.id, f->m.id);
    char *got = header_lines(&req);
    assert_string_equal(got, want);
    free(got);
    ac_provider_request_free(&req);

    /* An alphanumeric sender and a base URL without a slash. */
    s.sms_from = "Berg Laden";
    s.twilio_url = "https://api.twilio.com";
    req = request_for(f, &s, AC_PROVIDER_TWILIO, AC_CHANNEL_SMS, "+4915112345678");
    assert_string_equal(req.url,
                        "https://api.twilio.com/2010-04-01/Accounts/" SID "/Messages.json");
    assert_true(strncmp(req.body, "To=%2B4915112345678&From=Berg+Laden&Body=Hi+Zo", 46) == 0);
    ac_provider_request_free(&req);
}

/* A provider never sends a channel it does not serve. */
static void provider_refuses_other_channel(void **state)
{
    fixture_t *f = *state;
    ac_provider_settings_t s = full_settings();
    char err[256];
    ac_provider_request_t req;
    ac_provider_t *p = ac_provider_new(AC_PROVIDER_SENDGRID, &s, err, sizeof(err));
    assert_int_equal(ac_provider_request(p, &f->m, AC_CHANNEL_SMS, "+1", &f->sms, NOW_MS, &req, err,
                                         sizeof(err)),
                     -1);
    assert_contains(err, "sendgrid cannot send sms");
    assert_null(req.url);
    assert_null(req.headers);
    assert_null(req.body);
    ac_provider_destroy(p);
    p = ac_provider_new(AC_PROVIDER_TWILIO, &s, err, sizeof(err));
    assert_int_equal(ac_provider_request(p, &f->m, AC_CHANNEL_EMAIL, "a@b", &f->email, NOW_MS, &req,
                                         err, sizeof(err)),
                     -1);
    ac_provider_destroy(p);
    assert_null(ac_provider_new(AC_PROVIDER_NONE, &s, err, sizeof(err)));
    ac_provider_request_free(&req); /* a failed request is empty; freeing it is harmless */
}

/* -------------------------------------------------------------- settings */

/* Parses env through notify-worker's own option table and runs the
 * spec's check. Returns the check's result; err holds the line. */
static int check_env(const char **env, char *err, size_t errsz)
{
    ac_config_t *cfg =
        ac_config_new("notify-worker", "test", ac_notify_options, ac_notify_n_options);
    char *argv[] = {(char *)"notify-worker", NULL};
    err[0] = '\0';
    int rc = ac_config_parse(cfg, 1, argv, (char **)env, err, errsz);
    if (rc == AC_CONFIG_OK)
        rc = ac_provider_config_check(cfg, err, errsz);
    ac_config_destroy(cfg);
    return rc;
}

#define EXPECT_OK(...)                                                                             \
    do {                                                                                           \
        const char *env_[] = {__VA_ARGS__, NULL};                                                  \
        if (check_env(env_, err, sizeof(err)) != 0)                                                \
            fail_msg("expected the settings to pass, got: %s", err);                               \
    } while (0)

#define EXPECT_REFUSED(needle, ...)                                                                \
    do {                                                                                           \
        const char *env_[] = {__VA_ARGS__, NULL};                                                  \
        assert_int_equal(check_env(env_, err, sizeof(err)), -1);                                   \
        assert_contains(err, needle);                                                              \
        assert_not_contains(err, "\n");                                                            \
    } while (0)

#define SENDGRID_OK "SENDGRID_API_KEY=" API_KEY, "EMAIL_FROM=orders@example.com"
#define TWILIO_OK   "TWILIO_ACCOUNT_SID=" SID, "TWILIO_AUTH_TOKEN=" TOKEN, "SMS_FROM=+15005550006"

/* WEBHOOK_URL is needed exactly when some channel uses the webhook. */
static void webhook_url_required_only_when_used(void **state)
{
    (void)state;
    char err[512];
    /* The defaults use the webhook for both channels. */
    EXPECT_REFUSED("missing setting WEBHOOK_URL (--webhook-url): required when "
                   "EMAIL_PROVIDER=webhook",
                   "LOG_LEVEL=info");
    EXPECT_OK("WEBHOOK_URL=http://127.0.0.1:9/hook");
    EXPECT_OK("EMAIL_PROVIDER=sendgrid", "SMS_PROVIDER=twilio", SENDGRID_OK, TWILIO_OK);
    EXPECT_REFUSED("WEBHOOK_URL (--webhook-url): required when SMS_PROVIDER=webhook",
                   "EMAIL_PROVIDER=sendgrid", SENDGRID_OK);
    EXPECT_REFUSED("WEBHOOK_URL (--webhook-url): required when SMS_FALLBACK=webhook",
                   "EMAIL_PROVIDER=sendgrid", "SMS_PROVIDER=twilio", SENDGRID_OK, TWILIO_OK,
                   "SMS_FALLBACK=webhook");
    EXPECT_OK("EMAIL_PROVIDER=sendgrid", "SMS_PROVIDER=twilio", SENDGRID_OK, TWILIO_OK,
              "SMS_FALLBACK=webhook", "EMAIL_FALLBACK=webhook", "WEBHOOK_URL=https://h.example/x");
}

/* Each provider in use names what it lacks, first in table order. */
static void providers_name_missing_settings(void **state)
{
    (void)state;
    char err[512];
    const char *hook = "WEBHOOK_URL=http://127.0.0.1:9/hook";
    EXPECT_REFUSED("missing setting SENDGRID_API_KEY (--sendgrid-api-key): required when "
                   "EMAIL_PROVIDER=sendgrid",
                   hook, "EMAIL_PROVIDER=sendgrid");
    EXPECT_REFUSED("missing setting EMAIL_FROM (--email-from): required when "
                   "EMAIL_PROVIDER=sendgrid",
                   hook, "EMAIL_PROVIDER=sendgrid", "SENDGRID_API_KEY=k");
    /* An empty variable leaves the default URL; settings built otherwise
     * are checked all the same. */
    EXPECT_OK(hook, "EMAIL_PROVIDER=sendgrid", SENDGRID_OK, "SENDGRID_URL=");
    ac_provider_settings_t s = full_settings();
    s.sendgrid_url = NULL;
    assert_int_equal(ac_provider_settings_check(&s, err, sizeof(err)), -1);
    assert_contains(err, "missing setting SENDGRID_URL (--sendgrid-url): required when "
                         "EMAIL_PROVIDER=sendgrid");
    s = full_settings();
    assert_int_equal(ac_provider_settings_check(&s, err, sizeof(err)), 0);
    s.twilio_url = NULL;
    assert_int_equal(ac_provider_settings_check(&s, err, sizeof(err)), -1);
    assert_contains(err, "TWILIO_URL (--twilio-url): required when SMS_PROVIDER=twilio");
    EXPECT_REFUSED("missing setting TWILIO_ACCOUNT_SID (--twilio-account-sid): required when "
                   "SMS_PROVIDER=twilio",
                   hook, "SMS_PROVIDER=twilio");
    EXPECT_REFUSED("TWILIO_AUTH_TOKEN (--twilio-auth-token): required when SMS_PROVIDER=twilio",
                   hook, "SMS_PROVIDER=twilio", "TWILIO_ACCOUNT_SID=" SID);
    EXPECT_REFUSED("SMS_FROM (--sms-from): required when SMS_PROVIDER=twilio", hook,
                   "SMS_PROVIDER=twilio", "TWILIO_ACCOUNT_SID=" SID, "TWILIO_AUTH_TOKEN=t");
    /* A fallback needs its settings just as a primary does. */
    EXPECT_REFUSED("missing setting SENDGRID_API_KEY (--sendgrid-api-key): required when "
                   "EMAIL_FALLBACK=sendgrid",
                   hook, "EMAIL_FALLBACK=sendgrid");
    EXPECT_REFUSED("TWILIO_ACCOUNT_SID (--twilio-account-sid): required when SMS_FALLBACK=twilio",
                   hook, "SMS_FALLBACK=twilio");
    EXPECT_OK(hook, "EMAIL_FALLBACK=sendgrid", "SMS_FALLBACK=twilio", SENDGRID_OK, TWILIO_OK);
}

/* Values are checked one by one at parse time; secrets are not echoed. */
static void values_are_validated(void **state)
{
    (void)state;
    char err[512];
    const char *hook = "WEBHOOK_URL=http://127.0.0.1:9/hook";
    EXPECT_REFUSED("invalid setting EMAIL_PROVIDER=twilio: expected webhook or sendgrid", hook,
                   "EMAIL_PROVIDER=twilio");
    EXPECT_REFUSED("invalid setting SMS_PROVIDER=sendgrid: expected webhook or twilio", hook,
                   "SMS_PROVIDER=sendgrid");
    EXPECT_REFUSED("invalid setting SMS_PROVIDER=none: expected webhook or twilio", hook,
                   "SMS_PROVIDER=none");
    EXPECT_REFUSED("invalid setting EMAIL_FALLBACK=twilio: expected none, webhook or sendgrid",
                   hook, "EMAIL_FALLBACK=twilio");
    EXPECT_REFUSED("invalid setting SMS_FALLBACK=Twilio: expected none, webhook or twilio", hook,
                   "SMS_FALLBACK=Twilio");
    EXPECT_REFUSED("invalid setting EMAIL_FALLBACK=webhook: must differ from EMAIL_PROVIDER", hook,
                   "EMAIL_FALLBACK=webhook");
    EXPECT_REFUSED("invalid setting SMS_FALLBACK=twilio: must differ from SMS_PROVIDER", hook,
                   "SMS_PROVIDER=twilio", "SMS_FALLBACK=twilio", TWILIO_OK);
    EXPECT_REFUSED("invalid setting SENDGRID_URL=ftp://x/", hook, "SENDGRID_URL=ftp://x/");
    EXPECT_REFUSED("invalid setting TWILIO_URL=api.twilio.com", hook, "TWILIO_URL=api.twilio.com");
    EXPECT_REFUSED("FAILOVER_AFTER", hook, "FAILOVER_AFTER=0");
    EXPECT_REFUSED("FAILOVER_COOLDOWN", hook, "FAILOVER_COOLDOWN=soon");
    /* A credential with a line break would add headers of its own. */
    EXPECT_REFUSED("invalid setting SENDGRID_API_KEY=(hidden): expected printable ASCII", hook,
                   "SENDGRID_API_KEY=abc\r\nX-Evil: 1");
    assert_not_contains(err, "abc");
    EXPECT_REFUSED("invalid setting TWILIO_AUTH_TOKEN=(hidden)", hook, "TWILIO_AUTH_TOKEN=a b");
    EXPECT_REFUSED("invalid setting TWILIO_ACCOUNT_SID=AC\t1", hook, "TWILIO_ACCOUNT_SID=AC\t1");
    EXPECT_REFUSED("EMAIL_FROM=orders", hook, "EMAIL_FROM=orders");
    EXPECT_REFUSED("EMAIL_FROM", hook, "EMAIL_FROM=Orders <orders@example.com>");
    EXPECT_REFUSED("EMAIL_FROM", hook, "EMAIL_FROM=@example.com");
    EXPECT_REFUSED("EMAIL_FROM", hook, "EMAIL_FROM=a@b@c");
    EXPECT_REFUSED("EMAIL_FROM_NAME", hook, "EMAIL_FROM_NAME=Shop\tBcc: x");
    EXPECT_REFUSED("SMS_FROM", hook, "SMS_FROM=+49 151 1234");
    EXPECT_REFUSED("SMS_FROM", hook, "SMS_FROM=+123");
    EXPECT_REFUSED("SMS_FROM", hook, "SMS_FROM=123456789");
    EXPECT_REFUSED("SMS_FROM", hook, "SMS_FROM=TwelveLetter");
    EXPECT_OK(hook, "SMS_FROM=Bergladen", "EMAIL_FROM_NAME=Zoë's Shop – «Kundendienst»",
              "EMAIL_FROM=o.r+ders@mail.example.co.uk", "SMS_FROM=+4915112345678");
}

/* The loaded settings carry the defaults the README documents. */
static void settings_defaults(void **state)
{
    (void)state;
    const char *env[] = {"WEBHOOK_URL=http://127.0.0.1:9/hook", NULL};
    char err[512];
    char *argv[] = {(char *)"notify-worker", NULL};
    ac_config_t *cfg =
        ac_config_new("notify-worker", "test", ac_notify_options, ac_notify_n_options);
    assert_int_equal(ac_config_parse(cfg, 1, argv, (char **)env, err, sizeof(err)), 0);
    ac_provider_settings_t s;
    assert_int_equal(ac_provider_settings_load(cfg, &s, err, sizeof(err)), 0);
    assert_int_equal(s.primary[AC_CHANNEL_EMAIL], AC_PROVIDER_WEBHOOK);
    assert_int_equal(s.primary[AC_CHANNEL_SMS], AC_PROVIDER_WEBHOOK);
    assert_int_equal(s.fallback[AC_CHANNEL_EMAIL], AC_PROVIDER_NONE);
    assert_int_equal(s.fallback[AC_CHANNEL_SMS], AC_PROVIDER_NONE);
    assert_string_equal(s.sendgrid_url, "https://api.sendgrid.com/v3/mail/send");
    assert_string_equal(s.twilio_url, "https://api.twilio.com");
    assert_null(s.webhook_secret);
    assert_null(s.sendgrid_api_key);
    assert_null(s.email_from);
    assert_int_equal(s.failover_after, 5);
    assert_int_equal(s.failover_cooldown_ms, 30000);
    ac_config_destroy(cfg);
}

/* --------------------------------------------------------------- breaker */

#define COOLDOWN 30000

/* Transient failures of the primary until the circuit opens, at time t.
 * Returns how many it took: seven on an empty window whatever the
 * threshold below that, since seven of seven is the fewest that show at
 * 99 % confidence that at least half of the attempts fail. */
static int open_now(ac_breaker_t *b, int64_t t)
{
    int n = 1;
    while (ac_breaker_report(b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t) != AC_BREAKER_OPENED)
        assert_true(++n <= 1000);
    return n;
}

static void breaker_opens_after_consecutive_failures(void **state)
{
    (void)state;
    ac_breaker_t b;
    ac_breaker_init(&b, 3, COOLDOWN);
    int64_t t = 1000;
    assert_int_equal(ac_breaker_route(&b, t), AC_ROUTE_PRIMARY);
    /* Two failures, then a delivery: the count starts again. */
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t), AC_BREAKER_SAME);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t), AC_BREAKER_SAME);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_DELIVERED, t),
                     AC_BREAKER_SAME);
    /* A permanent rejection means the provider answers: it resets too. */
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t), AC_BREAKER_SAME);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t), AC_BREAKER_SAME);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_PERMANENT, t),
                     AC_BREAKER_SAME);
    assert_false(ac_breaker_open(&b));
    assert_int_equal(ac_breaker_route(&b, t), AC_ROUTE_PRIMARY);
    /* Three in a row are not enough after two answers among six: it
     * takes eight, 12 failures of 14 attempts, to be sure; then it opens,
     * once. */
    assert_int_equal(open_now(&b, t), 8);
    assert_true(ac_breaker_open(&b));
    assert_int_equal(ac_breaker_route(&b, t), AC_ROUTE_FALLBACK);
    /* Requests that were in flight to the primary fail late: no second
     * opening, no extension. Late successes do not close it either. */
    for (int i = 0; i < 50; i++)
        assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t + 10),
                         AC_BREAKER_SAME);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_DELIVERED, t + 10),
                     AC_BREAKER_SAME);
    /* The fallback's outcomes never move it. */
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_FALLBACK, AC_OUTCOME_RETRY, t + 20),
                     AC_BREAKER_SAME);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_FALLBACK, AC_OUTCOME_DELIVERED, t + 20),
                     AC_BREAKER_SAME);
    assert_int_equal(ac_breaker_route(&b, t + COOLDOWN - 1), AC_ROUTE_FALLBACK);
    assert_true(ac_breaker_open(&b));
}

/* A provider failing a third of requests at random, at 5 000 attempts/s:
 * five failures in a row come every few hundred attempts, and opened the
 * circuit for a cooldown each time; failures never make half the window,
 * so it stays closed. */
static void breaker_random_third_never_opens(void **state)
{
    (void)state;
    ac_breaker_t b;
    ac_breaker_init(&b, 5, COOLDOWN);
    uint32_t x = 2463534242u;
    int run = 0, runs = 0;
    for (int i = 0; i < 1000000; i++) {
        int64_t t = 1000 + i / 5;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        int fail = x % 3 == 0;
        run = fail ? run + 1 : 0;
        runs += run == 5;
        assert_int_equal(ac_breaker_route(&b, t), AC_ROUTE_PRIMARY);
        assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY,
                                           fail ? AC_OUTCOME_RETRY : AC_OUTCOME_DELIVERED, t),
                         AC_BREAKER_SAME);
    }
    assert_false(ac_breaker_open(&b));
    assert_true(runs > 1000); /* the old criterion would have opened that often */
}

/* A provider that goes down opens the circuit after the threshold when its
 * recent past is failures or quiet, and within half a window when the
 * channel was busy delivering. */
static void breaker_down_provider_opens(void **state)
{
    (void)state;
    ac_breaker_t b;
    ac_breaker_init(&b, 5, COOLDOWN);
    int64_t t = 1000;
    for (int i = 0; i < 6; i++) /* seven failures of seven: sure at 99 % */
        assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t),
                         AC_BREAKER_SAME);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t),
                     AC_BREAKER_OPENED);
    /* A higher threshold than that is what counts. */
    ac_breaker_init(&b, 10, COOLDOWN);
    for (int i = 0; i < 9; i++)
        assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t),
                         AC_BREAKER_SAME);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t),
                     AC_BREAKER_OPENED);

    /* Busy: a full window of deliveries, then every attempt fails. */
    ac_breaker_init(&b, 5, COOLDOWN);
    for (int i = 0; i < 1000; i++)
        ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_DELIVERED, t);
    int n = 0;
    while (ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t) == AC_BREAKER_SAME)
        n++;
    assert_int_equal(n + 1, 149); /* 58 % of the window: at least half, at 99 % */

    /* Quiet: the deliveries were longer ago than the window's time. */
    ac_breaker_init(&b, 5, COOLDOWN);
    for (int i = 0; i < 1000; i++)
        ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_DELIVERED, t);
    t += AC_BREAKER_WINDOW_MS + 1;
    for (int i = 0; i < 6; i++)
        assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t + i),
                         AC_BREAKER_SAME);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t + 6),
                     AC_BREAKER_OPENED);
}

/* The first attempts of a provider failing a third at random, as at the
 * start of every burst after the circuit closed: 10,000 fresh breakers of
 * 300 attempts each. Half of a small window, with five in a row, opened
 * hundreds of them (a benchmark's delivery collapsed to 15 messages/s
 * when it did); the confidence bound opens almost none. */
static void breaker_random_third_at_the_start(void **state)
{
    (void)state;
    uint32_t x = 12345;
    int opened = 0, naive = 0;
    for (int run = 0; run < 10000; run++) {
        ac_breaker_t b;
        ac_breaker_init(&b, 5, COOLDOWN);
        int in_row = 0, failed = 0, naive_opened = 0;
        for (int i = 0; i < 300; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            int fail = x % 3 == 0;
            in_row = fail ? in_row + 1 : 0;
            failed += fail;
            naive_opened |= in_row >= 5 && failed * 2 >= i + 1;
            if (ac_breaker_report(&b, AC_ROUTE_PRIMARY,
                                  fail ? AC_OUTCOME_RETRY : AC_OUTCOME_DELIVERED,
                                  1000) == AC_BREAKER_OPENED) {
                opened++;
                break;
            }
        }
        naive += naive_opened;
    }
    assert_true(naive > 100);
    assert_true(opened <= 10); /* seven failures first: once in 2,187 */
}

/* Closing after a trial starts an empty window: the failures that opened
 * the circuit do not count against the recovered provider, which a
 * threshold of new failures in a row opens again. */
static void breaker_recovers_with_an_empty_window(void **state)
{
    (void)state;
    ac_breaker_t b;
    ac_breaker_init(&b, 5, COOLDOWN);
    int64_t t = 1000;
    while (ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t) == AC_BREAKER_SAME)
        ;
    t += COOLDOWN;
    assert_int_equal(ac_breaker_route(&b, t), AC_ROUTE_TRIAL);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_TRIAL, AC_OUTCOME_DELIVERED, t),
                     AC_BREAKER_CLOSED);
    /* Recovered but shaky: a third failing keeps it closed. */
    for (int i = 0; i < 3000; i++)
        assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY,
                                           i % 3 == 0 ? AC_OUTCOME_RETRY : AC_OUTCOME_DELIVERED,
                                           t + i / 5),
                         AC_BREAKER_SAME);
    assert_false(ac_breaker_open(&b));
    /* A dead one again: opened once failures outweigh the window. */
    int n = 0;
    while (ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t + 600) == AC_BREAKER_SAME)
        n++;
    assert_true(n < AC_BREAKER_WINDOW);
    assert_true(ac_breaker_open(&b));
}

/* After the cooldown one attempt tries the primary; its success closes. */
static void breaker_half_open_trial_closes(void **state)
{
    (void)state;
    ac_breaker_t b;
    ac_breaker_init(&b, 1, COOLDOWN);
    int64_t t = 5000;
    assert_int_equal(open_now(&b, t), 7);
    assert_int_equal(ac_breaker_route(&b, t + COOLDOWN - 1), AC_ROUTE_FALLBACK);
    t += COOLDOWN;
    assert_int_equal(ac_breaker_route(&b, t), AC_ROUTE_TRIAL);
    /* Only one trial at a time. */
    assert_int_equal(ac_breaker_route(&b, t + 1), AC_ROUTE_FALLBACK);
    assert_int_equal(ac_breaker_route(&b, t + 2), AC_ROUTE_FALLBACK);
    assert_true(ac_breaker_open(&b));
    /* A late primary failure from before does not decide it. */
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t + 3),
                     AC_BREAKER_SAME);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_TRIAL, AC_OUTCOME_DELIVERED, t + 4),
                     AC_BREAKER_CLOSED);
    assert_false(ac_breaker_open(&b));
    assert_int_equal(ac_breaker_route(&b, t + 5), AC_ROUTE_PRIMARY);
    /* A second report of a trial after closing changes nothing. */
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_TRIAL, AC_OUTCOME_RETRY, t + 6),
                     AC_BREAKER_SAME);
    assert_int_equal(ac_breaker_route(&b, t + 7), AC_ROUTE_PRIMARY);
}

/* A failed trial opens the circuit for another cooldown; a rejected one
 * (the provider answered) closes it. */
static void breaker_trial_failure_reopens(void **state)
{
    (void)state;
    ac_breaker_t b;
    ac_breaker_init(&b, 2, COOLDOWN);
    int64_t t = 0;
    assert_int_equal(open_now(&b, t), 7);
    t += COOLDOWN;
    assert_int_equal(ac_breaker_route(&b, t), AC_ROUTE_TRIAL);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_TRIAL, AC_OUTCOME_RETRY, t + 100),
                     AC_BREAKER_OPENED);
    assert_int_equal(ac_breaker_route(&b, t + 100), AC_ROUTE_FALLBACK);
    assert_int_equal(ac_breaker_route(&b, t + 100 + COOLDOWN - 1), AC_ROUTE_FALLBACK);
    assert_int_equal(ac_breaker_route(&b, t + 100 + COOLDOWN), AC_ROUTE_TRIAL);
    assert_int_equal(
        ac_breaker_report(&b, AC_ROUTE_TRIAL, AC_OUTCOME_PERMANENT, t + 200 + COOLDOWN),
        AC_BREAKER_CLOSED);
    assert_int_equal(ac_breaker_route(&b, t + 300 + COOLDOWN), AC_ROUTE_PRIMARY);
    /* Closed again, it counts from zero: one failure does not reopen. */
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_PRIMARY, AC_OUTCOME_RETRY, t + 400 + COOLDOWN),
                     AC_BREAKER_SAME);
    assert_int_equal(ac_breaker_route(&b, t + 400 + COOLDOWN), AC_ROUTE_PRIMARY);
}

/* A trial whose result never comes (its job given up) does not leave the
 * channel on the fallback for good: after a cooldown another trial goes. */
static void breaker_lost_trial_is_replaced(void **state)
{
    (void)state;
    ac_breaker_t b;
    ac_breaker_init(&b, 1, COOLDOWN);
    open_now(&b, 0);
    assert_int_equal(ac_breaker_route(&b, COOLDOWN), AC_ROUTE_TRIAL);
    assert_int_equal(ac_breaker_route(&b, 2 * COOLDOWN - 1), AC_ROUTE_FALLBACK);
    assert_int_equal(ac_breaker_route(&b, 2 * COOLDOWN), AC_ROUTE_TRIAL);
    assert_int_equal(ac_breaker_route(&b, 2 * COOLDOWN + 1), AC_ROUTE_FALLBACK);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_TRIAL, AC_OUTCOME_DELIVERED, 2 * COOLDOWN + 5),
                     AC_BREAKER_CLOSED);
    assert_int_equal(ac_breaker_route(&b, 2 * COOLDOWN + 6), AC_ROUTE_PRIMARY);
}

/* A nonsensical threshold still opens (as a threshold of one does, after
 * seven failures) rather than never. */
static void breaker_threshold_floor(void **state)
{
    (void)state;
    ac_breaker_t b;
    ac_breaker_init(&b, 0, COOLDOWN);
    assert_int_equal(open_now(&b, 0), 7);
}

/* Retry-After from the primary while the circuit is closed pauses it: the
 * routes say fallback (or hold) until the pause ends, then primary again,
 * without the circuit counting as open. A shorter pause asked later does
 * not cut a longer one short. */
static void breaker_pause_routes_away_until_it_ends(void **state)
{
    (void)state;
    ac_breaker_t b;
    ac_breaker_init(&b, 3, COOLDOWN);
    int64_t t = 5000;
    ac_breaker_pause(&b, t + 10000);
    assert_int_equal(ac_breaker_route(&b, t), AC_ROUTE_FALLBACK);
    assert_int_equal(ac_breaker_route(&b, t + 9999), AC_ROUTE_FALLBACK);
    assert_false(ac_breaker_open(&b));
    assert_int_equal(ac_breaker_next_ms(&b, t), t + 10000);
    ac_breaker_pause(&b, t + 2000);
    assert_int_equal(ac_breaker_route(&b, t + 5000), AC_ROUTE_FALLBACK);
    assert_int_equal(ac_breaker_next_ms(&b, t + 5000), t + 10000);
    /* What the fallback answers meanwhile moves nothing. */
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_FALLBACK, AC_OUTCOME_RETRY, t + 6000),
                     AC_BREAKER_SAME);
    assert_int_equal(ac_breaker_route(&b, t + 10000), AC_ROUTE_PRIMARY);
    assert_int_equal(ac_breaker_next_ms(&b, t + 10000), t + 10000);
    assert_int_equal(ac_breaker_next_ms(&b, t + 20000), t + 20000);
    /* A longer pause asked later does extend it. */
    ac_breaker_pause(&b, t + 40000);
    assert_int_equal(ac_breaker_route(&b, t + 30000), AC_ROUTE_FALLBACK);
    assert_int_equal(ac_breaker_route(&b, t + 40000), AC_ROUTE_PRIMARY);
}

/* next_ms says when the primary takes an attempt again: at once while
 * closed, at the end of the cooldown while open, and a cooldown after a
 * trial went out while half-open (the next trial). */
static void breaker_next_ms_follows_the_state(void **state)
{
    (void)state;
    ac_breaker_t b;
    ac_breaker_init(&b, 1, COOLDOWN);
    int64_t t = 1000;
    assert_int_equal(ac_breaker_next_ms(&b, t), t);
    open_now(&b, t);
    assert_int_equal(ac_breaker_next_ms(&b, t), t + COOLDOWN);
    assert_int_equal(ac_breaker_next_ms(&b, t + COOLDOWN - 1), t + COOLDOWN);
    /* Once the cooldown has passed, the next route is the trial: now. */
    assert_int_equal(ac_breaker_next_ms(&b, t + COOLDOWN + 7), t + COOLDOWN + 7);
    assert_int_equal(ac_breaker_route(&b, t + COOLDOWN + 7), AC_ROUTE_TRIAL);
    assert_int_equal(ac_breaker_next_ms(&b, t + COOLDOWN + 8), t + 2 * COOLDOWN + 7);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_TRIAL, AC_OUTCOME_DELIVERED, t + COOLDOWN + 9),
                     AC_BREAKER_CLOSED);
    assert_int_equal(ac_breaker_next_ms(&b, t + COOLDOWN + 10), t + COOLDOWN + 10);
}

/* Without a fallback, "fallback" means hold: while the primary fails
 * everything, exactly one attempt per cooldown (the trial) reaches it and
 * every other message is held, however many ask. */
static void breaker_hold_without_fallback_probes_once_per_cooldown(void **state)
{
    (void)state;
    ac_breaker_t b;
    ac_breaker_init(&b, 2, COOLDOWN);
    int64_t t = 100000;
    open_now(&b, t);
    int trials = 0, primaries = 0, held = 0;
    /* Five cooldowns, a message every 100 ms; each trial's failure is
     * reported at the next step, 100 ms after it went out. */
    int64_t pending_trial = -1;
    for (int64_t now = t; now < t + 5 * COOLDOWN; now += 100) {
        if (pending_trial >= 0 && now >= pending_trial + 50) {
            assert_int_equal(ac_breaker_report(&b, AC_ROUTE_TRIAL, AC_OUTCOME_RETRY, now),
                             AC_BREAKER_OPENED);
            pending_trial = -1;
        }
        switch (ac_breaker_route(&b, now)) {
        case AC_ROUTE_TRIAL:
            trials++;
            pending_trial = now;
            break;
        case AC_ROUTE_PRIMARY:
            primaries++;
            break;
        case AC_ROUTE_FALLBACK:
            held++;
            break;
        }
    }
    /* The trial at t + COOLDOWN fails 100 ms later and reopens the
     * circuit until t + 2 COOLDOWN + 100; each later trial comes 100 ms
     * later than a whole cooldown, so five cooldowns hold four trials. */
    assert_int_equal(trials, 4);
    assert_int_equal(primaries, 0);
    assert_int_equal(held, 5 * COOLDOWN / 100 - 4);
    assert_true(ac_breaker_open(&b));
}

/* After a trial closes the circuit, the requests allowed in flight to the
 * primary grow from one to the full count over the ramp, so the backlog
 * does not knock the provider over again. */
static void breaker_ramps_up_after_closing(void **state)
{
    (void)state;
    const int64_t ramp = 10000;
    ac_breaker_t b;
    ac_breaker_init(&b, 1, COOLDOWN);
    ac_breaker_set_ramp(&b, ramp);
    /* Never opened: no ramp, the full count. */
    assert_int_equal(ac_breaker_limit(&b, 100, 5000), 100);
    open_now(&b, 5000);
    int64_t t = 5000 + COOLDOWN;
    assert_int_equal(ac_breaker_route(&b, t), AC_ROUTE_TRIAL);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_TRIAL, AC_OUTCOME_DELIVERED, t),
                     AC_BREAKER_CLOSED);
    assert_int_equal(ac_breaker_limit(&b, 100, t), 1);
    assert_int_equal(ac_breaker_limit(&b, 100, t + 50), 1);
    assert_int_equal(ac_breaker_limit(&b, 100, t + ramp / 4), 25);
    assert_int_equal(ac_breaker_limit(&b, 100, t + ramp / 2), 50);
    assert_int_equal(ac_breaker_limit(&b, 100, t + ramp - 1), 99);
    assert_int_equal(ac_breaker_limit(&b, 100, t + ramp), 100);
    assert_int_equal(ac_breaker_limit(&b, 100, t + 10 * ramp), 100);
    /* Never below one, or nothing would go at all. */
    assert_int_equal(ac_breaker_limit(&b, 3, t + 1), 1);
    assert_int_equal(ac_breaker_limit(&b, 1, t + 1), 1);
    /* The ramp grows without ever shrinking. */
    int last = 0;
    for (int64_t dt = 0; dt <= ramp; dt += 37) {
        int l = ac_breaker_limit(&b, 64, t + dt);
        assert_true(l >= last && l >= 1 && l <= 64);
        last = l;
    }
    /* A second outage and recovery ramps again, from its own close. */
    open_now(&b, t + 2 * ramp);
    int64_t t2 = t + 2 * ramp + COOLDOWN;
    assert_int_equal(ac_breaker_route(&b, t2), AC_ROUTE_TRIAL);
    ac_breaker_report(&b, AC_ROUTE_TRIAL, AC_OUTCOME_PERMANENT, t2);
    assert_int_equal(ac_breaker_limit(&b, 100, t2 + ramp / 2), 50);
}

/* CIRCUIT_RAMP=0 (or a nonsensical negative value) means no ramp: the full
 * count as soon as the circuit closes. */
static void breaker_without_ramp_allows_all(void **state)
{
    (void)state;
    const int64_t ramps[] = {0, -5000};
    for (size_t i = 0; i < sizeof(ramps) / sizeof(ramps[0]); i++) {
        ac_breaker_t b;
        ac_breaker_init(&b, 1, COOLDOWN);
        ac_breaker_set_ramp(&b, ramps[i]);
        open_now(&b, 1000);
        assert_int_equal(ac_breaker_route(&b, 1000 + COOLDOWN), AC_ROUTE_TRIAL);
        assert_int_equal(
            ac_breaker_report(&b, AC_ROUTE_TRIAL, AC_OUTCOME_DELIVERED, 1000 + COOLDOWN),
            AC_BREAKER_CLOSED);
        assert_int_equal(ac_breaker_limit(&b, 100, 1000 + COOLDOWN), 100);
    }
}

/* A trial answered with 429 and a Retry-After longer than the cooldown:
 * the circuit opens again and the provider asked for no request before
 * the pause ends. No trial may go to the primary before then, and next_ms
 * (which a held message waits for) says so. */
static void breaker_pause_holds_back_trials_while_open(void **state)
{
    (void)state;
    ac_breaker_t b;
    ac_breaker_init(&b, 1, COOLDOWN);
    int64_t t = 1000;
    open_now(&b, t);
    int64_t trial = t + COOLDOWN;
    assert_int_equal(ac_breaker_route(&b, trial), AC_ROUTE_TRIAL);
    assert_int_equal(ac_breaker_report(&b, AC_ROUTE_TRIAL, AC_OUTCOME_RETRY, trial + 10),
                     AC_BREAKER_OPENED);
    int64_t pause_end = trial + 10 + 10 * COOLDOWN;
    ac_breaker_pause(&b, pause_end);
    assert_int_equal(ac_breaker_next_ms(&b, trial + 20), pause_end);
    assert_int_equal(ac_breaker_route(&b, trial + 10 + COOLDOWN), AC_ROUTE_FALLBACK);
    assert_int_equal(ac_breaker_route(&b, pause_end - 1), AC_ROUTE_FALLBACK);
    assert_int_equal(ac_breaker_route(&b, pause_end), AC_ROUTE_TRIAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_parse_and_channels),
        cmocka_unit_test_setup_teardown(webhook_request_is_the_signed_webhook, setup, teardown),
        cmocka_unit_test_setup_teardown(sendgrid_request_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(sendgrid_optional_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(twilio_request_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(provider_refuses_other_channel, setup, teardown),
        cmocka_unit_test(webhook_url_required_only_when_used),
        cmocka_unit_test(providers_name_missing_settings),
        cmocka_unit_test(values_are_validated),
        cmocka_unit_test(settings_defaults),
        cmocka_unit_test(breaker_opens_after_consecutive_failures),
        cmocka_unit_test(breaker_random_third_never_opens),
        cmocka_unit_test(breaker_random_third_at_the_start),
        cmocka_unit_test(breaker_down_provider_opens),
        cmocka_unit_test(breaker_recovers_with_an_empty_window),
        cmocka_unit_test(breaker_half_open_trial_closes),
        cmocka_unit_test(breaker_trial_failure_reopens),
        cmocka_unit_test(breaker_lost_trial_is_replaced),
        cmocka_unit_test(breaker_threshold_floor),
        cmocka_unit_test(breaker_pause_routes_away_until_it_ends),
        cmocka_unit_test(breaker_next_ms_follows_the_state),
        cmocka_unit_test(breaker_hold_without_fallback_probes_once_per_cooldown),
        cmocka_unit_test(breaker_ramps_up_after_closing),
        cmocka_unit_test(breaker_without_ramp_allows_all),
        cmocka_unit_test(breaker_pause_holds_back_trials_while_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
