#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "template.h"

/* The built-in template catalog. Each template gives every variable a
 * fallback through sections, so a customer never reads "Hi ," when the
 * store did not send a first name. */
typedef struct template_entry {
    ac_kind_t kind;
    ac_channel_t channel;
    const char *language;
    const char *subject;
    const char *text;
} template_entry_t;

static const template_entry_t catalog[] = {
    {AC_KIND_ORDER_CONFIRMATION, AC_CHANNEL_EMAIL, "en",
     "Your order {{order_number}}{{#store_name}} at {{store_name}}{{/store_name}} is confirmed",
     "{{#first_name}}Hi {{first_name}},{{/first_name}}{{^first_name}}Hello,{{/first_name}}\n\n"
     "thank you for your order {{order_number}}{{#store_name}} at {{store_name}}{{/store_name}}."
     " We have received it and are getting it ready.\n\n"
     "{{#items}}What you ordered:\n{{items}}{{/items}}"
     "{{#total}}Total: {{total}}\n{{/total}}\n"
     "We will let you know as soon as it is on its way.\n"},
    {AC_KIND_ORDER_CONFIRMATION, AC_CHANNEL_EMAIL, "de",
     "Ihre Bestellung {{order_number}}{{#store_name}} bei {{store_name}}{{/store_name}} ist "
     "bestätigt",
     "{{#first_name}}Hallo {{first_name}},{{/first_name}}{{^first_name}}Guten Tag,{{/first_name}}"
     "\n\nvielen Dank für Ihre Bestellung {{order_number}}{{#store_name}} bei "
     "{{store_name}}{{/store_name}}. Wir haben sie erhalten und bereiten sie für den Versand "
     "vor.\n\n"
     "{{#items}}Ihre Bestellung:\n{{items}}{{/items}}"
     "{{#total}}Gesamt: {{total}}\n{{/total}}\n"
     "Wir melden uns, sobald sie unterwegs ist.\n"},
    {AC_KIND_ORDER_CONFIRMATION, AC_CHANNEL_SMS, "en", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}{{#first_name}}Hi {{first_name}}, "
     "thanks{{/first_name}}{{^first_name}}Thanks{{/first_name}} for your order "
     "{{order_number}}{{#item_summary}} "
     "({{item_summary}}){{/item_summary}}. We'll text you when it ships."},
    {AC_KIND_ORDER_CONFIRMATION, AC_CHANNEL_SMS, "de", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}{{#first_name}}Hallo {{first_name}}, "
     "danke{{/first_name}}{{^first_name}}Danke{{/first_name}} für Ihre Bestellung "
     "{{order_number}}{{#item_summary}} "
     "({{item_summary}}){{/item_summary}}. Wir melden uns beim Versand."},
    {AC_KIND_ORDER_CANCELLED, AC_CHANNEL_EMAIL, "en",
     "Your order {{order_number}} has been cancelled",
     "{{#first_name}}Hi {{first_name}},{{/first_name}}{{^first_name}}Hello,{{/first_name}}\n\n"
     "your order {{order_number}}{{#store_name}} at {{store_name}}{{/store_name}} has been "
     "cancelled.{{#total}} If you were charged {{total}}, the money goes back to your original "
     "payment method.{{/total}}\n\n"
     "{{#items}}The cancelled order:\n{{items}}\n{{/items}}"
     "If you did not ask for this, just reply to this message and we will sort it out.\n"},
    {AC_KIND_ORDER_CANCELLED, AC_CHANNEL_EMAIL, "de",
     "Ihre Bestellung {{order_number}} wurde storniert",
     "{{#first_name}}Hallo {{first_name}},{{/first_name}}{{^first_name}}Guten Tag,{{/first_name}}"
     "\n\nIhre Bestellung {{order_number}}{{#store_name}} bei {{store_name}}{{/store_name}} "
     "wurde storniert.{{#total}} Falls Ihnen {{total}} belastet wurden, erhalten Sie den Betrag "
     "über Ihre ursprüngliche Zahlungsart zurück.{{/total}}\n\n"
     "{{#items}}Die stornierte Bestellung:\n{{items}}\n{{/items}}"
     "Falls Sie das nicht veranlasst haben, antworten Sie einfach auf diese Nachricht.\n"},
    {AC_KIND_ORDER_CANCELLED, AC_CHANNEL_SMS, "en", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}Your order {{order_number}} has been "
     "cancelled.{{#total}} Any payment of {{total}} will be refunded.{{/total}}"},
    {AC_KIND_ORDER_CANCELLED, AC_CHANNEL_SMS, "de", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}Ihre Bestellung {{order_number}} wurde "
     "storniert.{{#total}} Eine Zahlung von {{total}} wird erstattet.{{/total}}"},
};

static const char *languages[] = {"en", "de"};

const char *ac_channel_name(ac_channel_t ch)
{
    return ch == AC_CHANNEL_SMS ? "sms" : "email";
}

int ac_render_channel(const ac_event_t *ev, ac_channel_t *ch, const char **to)
{
    if (ev->customer.email && strchr(ev->customer.email, '@')) {
        *ch = AC_CHANNEL_EMAIL;
        *to = ev->customer.email;
        return 0;
    }
    if (ev->customer.phone && *ev->customer.phone) {
        *ch = AC_CHANNEL_SMS;
        *to = ev->customer.phone;
        return 0;
    }
    return -1;
}

/* "de-AT", "de_DE" and "DE" all mean German. */
static const char *match_language(const char *locale)
{
    if (!locale || strlen(locale) < 2)
        return NULL;
    for (size_t i = 0; i < sizeof(languages) / sizeof(languages[0]); i++) {
        if ((locale[0] | 0x20) == languages[i][0] && (locale[1] | 0x20) == languages[i][1] &&
            (locale[2] == '\0' || locale[2] == '-' || locale[2] == '_'))
            return languages[i];
    }
    return NULL;
}

const char *ac_render_language(const ac_event_t *ev)
{
    const char *l = match_language(ev->customer.locale);
    if (!l)
        l = match_language(ev->store.locale);
    return l ? l : "en";
}

void ac_render_money(double amount, const char *currency, const char *language, char *buf,
                     size_t bufsz)
{
    static const char *no_minor[] = {"JPY", "KRW", "VND", "CLP", "ISK", "HUF", "TWD", "UGX"};
    int decimals = 2;
    for (size_t i = 0; currency && i < sizeof(no_minor) / sizeof(no_minor[0]); i++)
        if (strcmp(currency, no_minor[i]) == 0)
            decimals = 0;
    int n = snprintf(buf, bufsz, "%.*f", decimals, amount);
    if (n > 0 && strcmp(language, "de") == 0) {
        char *dot = strchr(buf, '.');
        if (dot)
            *dot = ',';
    }
    if (currency && *currency && n > 0 && (size_t)n < bufsz)
        snprintf(buf + n, bufsz - (size_t)n, " %s", currency);
}

/* Values a template can name, computed once per rendering. */
typedef struct render_vars {
    const ac_event_t *ev;
    const char *language;
    char order_number[96];
    char total[64];
    char *items;        /* one line per item */
    char *item_summary; /* "Rain Jacket and 2 more" */
} render_vars_t;

static const char *lookup(void *ctx, const char *name, size_t len)
{
    render_vars_t *v = ctx;
    const ac_event_t *ev = v->ev;
#define IS(s) (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)
    if (IS("first_name"))
        return ev->customer.first_name;
    if (IS("store_name"))
        return ev->store.name;
    if (IS("order_number"))
        return v->order_number;
    if (IS("total"))
        return v->total[0] ? v->total : NULL;
    if (IS("items"))
        return v->items;
    if (IS("item_summary"))
        return v->item_summary;
    if (IS("tracking_url"))
        return ev->shipment.tracking_url;
    if (IS("carrier"))
        return ev->shipment.carrier;
#undef IS
    return NULL;
}

static void vars_init(render_vars_t *v, const ac_message_t *m)
{
    const ac_event_t *ev = m->event;
    memset(v, 0, sizeof(*v));
    v->ev = ev;
    v->language = ac_render_language(ev);
    const char *num = ev->order.number ? ev->order.number : ev->order.id;
    snprintf(v->order_number, sizeof(v->order_number), "%s%s", num[0] == '#' ? "" : "#", num);
    if (ev->order.has_total)
        ac_render_money(ev->order.total, ev->order.currency, v->language, v->total,
                        sizeof(v->total));
    ac_buf_t items = AC_BUF_INIT;
    size_t named = 0;
    const char *first = NULL;
    for (size_t i = 0; i < ev->order.n_items; i++) {
        const ac_event_item_t *it = &ev->order.items[i];
        if (!it->name)
            continue;
        if (!first)
            first = it->name;
        named++;
        ac_buf_printf(&items, "  %lld × %s", (long long)it->quantity, it->name);
        if (it->has_price) {
            char price[64];
            ac_render_money(it->price * (double)it->quantity, ev->order.currency, v->language,
                            price, sizeof(price));
            ac_buf_printf(&items, " (%s)", price);
        }
        ac_buf_puts(&items, "\n");
    }
    v->items = named ? ac_buf_steal(&items) : NULL;
    ac_buf_free(&items);
    if (first) {
        ac_buf_t sum = AC_BUF_INIT;
        ac_buf_puts(&sum, first);
        if (named > 1)
            ac_buf_printf(&sum,
                          strcmp(v->language, "de") == 0 ? " und %zu weitere" : " and %zu more",
                          named - 1);
        v->item_summary = ac_buf_steal(&sum);
    }
}

static void vars_free(render_vars_t *v)
{
    free(v->items);
    free(v->item_summary);
}

static const template_entry_t *find_template(ac_kind_t kind, ac_channel_t ch, const char *language)
{
    const template_entry_t *fallback = NULL;
    for (size_t i = 0; i < sizeof(catalog) / sizeof(catalog[0]); i++) {
        const template_entry_t *t = &catalog[i];
        if (t->kind != kind || t->channel != ch)
            continue;
        if (strcmp(t->language, language) == 0)
            return t;
        if (strcmp(t->language, "en") == 0)
            fallback = t;
    }
    return fallback;
}

int ac_render_message(const ac_message_t *m, ac_channel_t ch, ac_rendered_t *out, char *err,
                      size_t errsz)
{
    int rc = -1;
    render_vars_t vars;
    ac_buf_t subject = AC_BUF_INIT, text = AC_BUF_INIT;
    memset(out, 0, sizeof(*out));
    vars_init(&vars, m);
    const template_entry_t *t = find_template(m->kind, ch, vars.language);
    if (!t) {
        snprintf(err, errsz, "no template for %s over %s", ac_kind_name(m->kind),
                 ac_channel_name(ch));
        goto out;
    }
    if (t->subject && ac_template_render(t->subject, lookup, &vars, AC_TEMPLATE_ESCAPE_NONE,
                                         &subject, err, errsz) < 0)
        goto out;
    if (ac_template_render(t->text, lookup, &vars, AC_TEMPLATE_ESCAPE_NONE, &text, err, errsz) < 0)
        goto out;
    out->subject = t->subject ? ac_buf_steal(&subject) : NULL;
    out->text = ac_buf_steal(&text);
    out->language = t->language;
    if (!out->text || (t->subject && !out->subject)) {
        snprintf(err, errsz, "out of memory");
        ac_rendered_free(out);
        goto out;
    }
    rc = 0;
out:
    ac_buf_free(&subject);
    ac_buf_free(&text);
    vars_free(&vars);
    return rc;
}

void ac_rendered_free(ac_rendered_t *out)
{
    if (!out)
        return;
    free(out->subject);
    free(out->text);
    out->subject = out->text = NULL;
}
