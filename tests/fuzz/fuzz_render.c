/* Fuzz target: templates, built-in and the store's own.
 *
 * Input: one control byte, then NUL-separated fields:
 *   0  an event record (JSON)
 *   1  a template override, as a file in TEMPLATE_DIR holds it (an email's
 *      starts with "Subject: ")
 *   2  the store's review_url link template (STORE_SETTINGS)
 *   3  the store's referral_url link template
 *   4  a product suggestion (also the value of every variable in the
 *      direct template checks)
 * Control byte: bits 0-2 the message kind; bit 3 the override is an SMS
 * template (else email); bit 4 it is the event's store's own (else for
 * every store); bit 5 it is German (else English); bits 6-7 the customer's
 * preferred channel (0, 3: none, 1: email, 2: SMS).
 *
 * Field 1 is checked and rendered directly by ac_template_render() in
 * every escape mode (checking and rendering agree; text written as HTML
 * has no markup but links). With a valid event, the override is written
 * to a temporary TEMPLATE_DIR and loaded with ac_templates_load(), the
 * links are rendered with ac_links_render(), and the message goes through
 * rendering on both channels and every provider's request. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fuzz_common.h"
#include "links.h"
#include "message.h"
#include "render.h"
#include "template.h"

enum { F_EVENT, F_TEMPLATE, F_REVIEW_URL, F_REFERRAL_URL, F_SUGGESTION, N_FIELDS };

/* Variables for the direct checks: a name ending in "_url" has the link
 * text, others have the value, an empty value or none, by name. */
typedef struct tvars {
    const char *value, *url;
} tvars_t;

static const char *tlookup(void *ctx, const char *name, size_t len)
{
    const tvars_t *v = ctx;
    if (len > 4 && memcmp(name + len - 4, "_url", 4) == 0)
        return v->url;
    unsigned h = 0;
    for (size_t i = 0; i < len; i++)
        h = h * 31 + (unsigned char)name[i];
    return h % 3 == 0 ? NULL : h % 3 == 1 ? "" : v->value;
}

static void check_template(const char *tpl, const tvars_t *vars)
{
    char err[256] = "";
    int checked = ac_template_check(tpl, err, sizeof(err));
    FUZZ_CHECK(checked == 0 || err[0], "refused without a reason");
    static const ac_template_escape_t modes[] = {AC_TEMPLATE_ESCAPE_NONE, AC_TEMPLATE_ESCAPE_HTML,
                                                 AC_TEMPLATE_ESCAPE_HTML_TEXT};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        ac_buf_t out = AC_BUF_INIT;
        char rerr[256] = "";
        int rc = ac_template_render(tpl, tlookup, (void *)vars, modes[i], &out, rerr, sizeof(rerr));
        FUZZ_CHECK(rc == checked, "check says %d, rendering (mode %zu) %d: %s%s", checked, i, rc,
                   err, rerr);
        if (rc == 0 && modes[i] == AC_TEMPLATE_ESCAPE_HTML_TEXT && out.data)
            fuzz_check_html_text(out.data);
        if (rc == 0 && modes[i] == AC_TEMPLATE_ESCAPE_NONE && !strstr(tpl, "{{"))
            FUZZ_CHECK(strcmp(out.data ? out.data : "", tpl) == 0, "plain text changed");
        ac_buf_free(&out);
    }
}

/* Percent-encoding as RFC 3986 has it, with no length limit. */
static void url_encode(ac_buf_t *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~')
            ac_buf_append(b, (const char *)p, 1);
        else
            ac_buf_printf(b, "%%%02X", *p);
    }
}

/* A link either renders whole or not at all: every id (at most
 * AC_EVENT_MAX_ID_LEN bytes) and an order number as long as the texts show
 * it (95 bytes) appear encoded in full. */
static void check_link_values(const ac_event_t *ev, const char *code)
{
    char link[4096];
    ac_buf_t want = AC_BUF_INIT;
    int with_number = ev->order.number && strlen(ev->order.number) <= 95;
    const char *tpl = with_number
                          ? "{{order_id}}/{{customer_id}}/{{referral_code}}/{{order_number}}"
                          : "{{order_id}}/{{customer_id}}/{{referral_code}}";
    url_encode(&want, ev->order.id);
    ac_buf_puts(&want, "/");
    url_encode(&want, ev->customer.id);
    ac_buf_puts(&want, "/");
    url_encode(&want, code);
    if (with_number) {
        ac_buf_puts(&want, "/");
        url_encode(&want, ev->order.number);
    }
    int rc = ac_links_render(tpl, ev, code, link, sizeof(link));
    FUZZ_CHECK(rc == 0, "the ids do not make a link");
    size_t at = 0;
    while (link[at] && link[at] == want.data[at])
        at++;
    FUZZ_CHECK(link[at] == want.data[at],
               "the link (%zu bytes) differs from the ids encoded (%zu bytes) at byte %zu: "
               "\"%.20s\" for \"%.20s\"",
               strlen(link), want.len, at, link + at, want.data + at);
    ac_buf_free(&want);
}

/* Renders the store's link template tpl into buf (1024 bytes, as
 * notify-worker does); "" when it does not render. */
static void link_for(const char *tpl, const ac_event_t *ev, const char *code, char *buf)
{
    char err[256];
    buf[0] = '\0';
    if (!*tpl)
        return;
    if (ac_links_render(tpl, ev, code, buf, 1024) < 0) {
        buf[0] = '\0';
        return;
    }
    FUZZ_CHECK(ac_template_check(tpl, err, sizeof(err)) == 0, "a malformed link template rendered");
    FUZZ_CHECK(strlen(buf) < 1024, "the link overflows");
}

/* A store id that is a plain directory name. */
static int safe_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
            return 0;
    return 1;
}

/* Whether notify-worker must accept tpl as an override of channel ch. */
static int acceptable(const char *tpl, ac_channel_t ch)
{
    char err[256];
    if (!*tpl)
        return 0;
    if (ch == AC_CHANNEL_SMS)
        return ac_template_check(tpl, err, sizeof(err)) == 0;
    const char *nl = strchr(tpl, '\n');
    if (strncmp(tpl, "Subject: ", 9) != 0 || !nl)
        return 0;
    char *subject = strndup(tpl + 9, (size_t)(nl - tpl - 9));
    const char *body = nl + 1;
    while (*body == '\n')
        body++;
    int ok = subject && ac_template_check(subject, err, sizeof(err)) == 0 &&
             ac_template_check(body, err, sizeof(err)) == 0;
    free(subject);
    return ok;
}

/* Writes tpl as TEMPLATE_DIR/[store/]<kind>.<ch>.<language>.txt in a new
 * temporary directory, loads the directory and removes it. */
static ac_templates_t *load_override(const char *tpl, ac_kind_t kind, ac_channel_t ch,
                                     const char *language, const char *store)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512], sub[600], file[800], err[512] = "";
    snprintf(dir, sizeof(dir), "%s/ac-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return NULL;
    snprintf(sub, sizeof(sub), "%s/%s", dir, store ? store : "");
    if (store && mkdir(sub, 0700) < 0) {
        rmdir(dir);
        return NULL;
    }
    snprintf(file, sizeof(file), "%s/%s.%s.%s.txt", store ? sub : dir, ac_kind_name(kind),
             ac_channel_name(ch), language);
    FILE *f = fopen(file, "wb");
    size_t len = strlen(tpl);
    int written = f && fwrite(tpl, 1, len, f) == len;
    if (f)
        fclose(f);
    ac_templates_t *o = written ? ac_templates_load(dir, err, sizeof(err)) : NULL;
    unlink(file);
    if (store)
        rmdir(sub);
    rmdir(dir);
    if (!written)
        return NULL;
    if (o)
        FUZZ_CHECK(ac_templates_count(o) == 1, "%zu templates from one file",
                   ac_templates_count(o));
    else
        FUZZ_CHECK(err[0], "refused without a reason");
    FUZZ_CHECK(o || !acceptable(tpl, ch), "a good override was refused: %s", err);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned ctl = data[0];
    char *copy;
    const char *f[N_FIELDS];
    fuzz_split(data + 1, size - 1, &copy, f, N_FIELDS);

    const tvars_t vars = {f[F_SUGGESTION], f[F_REVIEW_URL]};
    check_template(f[F_TEMPLATE], &vars);

    ac_event_t *ev = ac_event_parse(f[F_EVENT], strlen(f[F_EVENT]), 0, NULL);
    if (!ev) {
        free(copy);
        return 0;
    }
    ac_message_t m;
    memset(&m, 0, sizeof(m));
    m.kind = (ac_kind_t)(ctl % AC_KIND__COUNT);
    m.event = ev;
    m.created_ms = ev->occurred_ms;
    ac_message_id(m.kind, ev->store.id, ev->order.id, NULL, m.id);

    char code[AC_LINKS_CODE_LEN + 1], review[1024], referral[1024];
    ac_links_referral_code(ev->store.id, ev->customer.id, code);
    check_link_values(ev, code);
    link_for(f[F_REVIEW_URL], ev, NULL, review);
    link_for(f[F_REFERRAL_URL], ev, code, referral);

    ac_channel_t ch = ctl & 0x08 ? AC_CHANNEL_SMS : AC_CHANNEL_EMAIL;
    const char *store = ctl & 0x10 && safe_name(ev->store.id) ? ev->store.id : NULL;
    ac_templates_t *o =
        *f[F_TEMPLATE] ? load_override(f[F_TEMPLATE], m.kind, ch, ctl & 0x20 ? "de" : "en", store)
                       : NULL;

    static const char *const rating_urls[5] = {"https://r.example/r/1.a", "https://r.example/r/1.b",
                                               "https://r.example/r/1.c", "https://r.example/r/1.d",
                                               "https://r.example/r/1.e"};
    ac_render_extras_t x = {
        review[0] ? review : NULL,
        referral[0] ? referral : NULL,
        m.kind == AC_KIND_REFERRAL_INVITE ? code : NULL,
        *f[F_SUGGESTION] ? f[F_SUGGESTION] : NULL,
        o,
        m.kind == AC_KIND_REVIEW_REQUEST && (ctl & 0x10) ? rating_urls : NULL,
        ctl & 0x08 ? "yes" : NULL,
    };
    int prefer = (ctl >> 6) == 1 ? AC_CHANNEL_EMAIL : (ctl >> 6) == 2 ? AC_CHANNEL_SMS : -1;
    int utf8 = 1;
    for (int i = F_TEMPLATE; i < N_FIELDS; i++)
        utf8 &= fuzz_utf8_valid(f[i], strlen(f[i]));
    fuzz_deliver(&m, &x, prefer, utf8);

    ac_templates_destroy(o);
    ac_event_destroy(ev);
    free(copy);
    return 0;
}
