/* The renderer: the language a message is written in, the values its
 * template can name, and ac_render_message() putting them together with
 * the template found for it (render_int.h lists the other files). */
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "render_int.h"
#include "template.h"

static const char *languages[] = {"en", "de"};

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

const char *ac_render_store_language(const ac_event_t *ev)
{
    const char *l = match_language(ev->store.locale);
    return l ? l : "en";
}

const char *ac_render_language(const ac_event_t *ev)
{
    const char *l = match_language(ev->customer.locale);
    if (!l)
        l = match_language(ev->store.locale);
    return l ? l : "en";
}

/* The value of the variable name (len bytes, not NUL-terminated) for
 * ac_template_render(); NULL leaves it out, so its {{#sections}} drop and
 * its {{^fallbacks}} step in. */
static const char *lookup(void *ctx, const char *name, size_t len)
{
    render_vars_t *v = ctx;
    const ac_event_t *ev = v->ev;
    if (v->n_shed > 0 && ac_render_is_shed(v, name, len))
        return NULL;
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
    if (IS("tracking_number"))
        return ev->shipment.tracking_number;
    if (IS("estimated_delivery"))
        return v->estimated_delivery;
    if (IS("refund_amount"))
        return v->refund_amount[0] ? v->refund_amount : NULL;
    if (IS("return_label_url"))
        return v->return_label_url;
    if (IS("review_url"))
        return v->x->review_url;
    if (IS("referral_url"))
        return v->x->referral_url;
    if (IS("referral_code"))
        return v->x->referral_code;
    if (IS("suggestion"))
        return v->x->suggestion && *v->x->suggestion ? v->x->suggestion : NULL;
    if (IS("rating"))
        return v->rating[0] ? v->rating : NULL;
    if (IS("stars"))
        return v->stars[0] ? v->stars : NULL;
    if (IS("comment"))
        return ev->feedback.comment && *ev->feedback.comment ? ev->feedback.comment : NULL;
    if (IS("customer_id"))
        return ev->customer.id;
    if (IS("support"))
        return v->x->support;
    /* rating_1_url .. rating_5_url: the one-click rating links. */
    if (len == 12 && memcmp(name, "rating_", 7) == 0 && name[7] >= '1' && name[7] <= '5' &&
        memcmp(name + 8, "_url", 4) == 0)
        return v->x->rating_urls ? v->x->rating_urls[name[7] - '1'] : NULL;
    /* A section variable only: shipping updates word "out for delivery
     * today" differently from "on its way". */
    if (IS("out_for_delivery"))
        return ev->type == AC_EVENT_SHIPMENT_OUT_FOR_DELIVERY ? "yes" : NULL;
    /* Set until an SMS sheds it: the sentences it marks are welcome but
     * not needed. */
    if (IS("extra"))
        return "yes";
#undef IS
    return NULL;
}

/* Computes every value a template may name once, before rendering, since
 * an SMS may be rendered several times while it is made to fit. */
static void vars_init(render_vars_t *v, const ac_message_t *m, const ac_render_extras_t *x)
{
    static const ac_render_extras_t none;
    const ac_event_t *ev = m->event;
    memset(v, 0, sizeof(*v));
    v->x = x ? x : &none;
    v->ev = ev;
    v->language = ac_render_language(ev);
    if (m->kind == AC_KIND_STORE_ALERT)
        v->language = ac_render_store_language(ev); /* read by the store's team */
    if (ev->feedback.rating >= 1 && ev->feedback.rating <= 5) {
        snprintf(v->rating, sizeof(v->rating), "%d", (int)ev->feedback.rating);
        for (int i = 0; i < 5; i++)
            strcat(v->stars, i < ev->feedback.rating ? "★" : "☆");
    }
    const char *num = ev->order.number ? ev->order.number : ev->order.id;
    snprintf(v->order_number, sizeof(v->order_number), "%s%s", num[0] == '#' ? "" : "#", num);
    if (ev->order.has_total)
        ac_render_money(ev->order.total, ev->order.currency, v->language, v->total,
                        sizeof(v->total));
    const char *eta = ev->shipment.estimated_delivery;
    if (eta && *eta)
        v->estimated_delivery =
            ac_render_date(eta, v->language, v->delivery_date, sizeof(v->delivery_date)) == 0
                ? v->delivery_date
                : eta;
    if (ev->ret.has_refund_amount)
        ac_render_money(ev->ret.refund_amount, ev->order.currency, v->language, v->refund_amount,
                        sizeof(v->refund_amount));
    v->return_label_url =
        ev->ret.label_url && *ev->ret.label_url ? ev->ret.label_url : ev->ret.instructions_url;
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

/* The store's own template in the customer's language, else the shared
 * override, else the built-in one; then the same in English. */
static const template_entry_t *find_template(ac_kind_t kind, ac_channel_t ch, const char *language,
                                             const ac_templates_t *o, const char *store)
{
    const char *langs[] = {language, "en"};
    for (size_t l = 0; l < 2; l++) {
        const template_entry_t *t = ac_templates_find(o, kind, ch, langs[l], store);
        if (!t)
            t = ac_render_find_builtin(kind, ch, langs[l]);
        if (t)
            return t;
    }
    return NULL;
}

/* See render_int.h. */
int ac_render_part(const char *tpl, render_vars_t *vars, ac_template_escape_t esc, ac_buf_t *out,
                   char *err, size_t errsz)
{
    return tpl ? ac_template_render(tpl, lookup, vars, esc, out, err, errsz) : 0;
}

int ac_render_message(const ac_message_t *m, ac_channel_t ch, ac_rendered_t *out, char *err,
                      size_t errsz)
{
    return ac_render_message_with(m, ch, NULL, out, err, errsz);
}

int ac_render_message_with(const ac_message_t *m, ac_channel_t ch, const ac_render_extras_t *x,
                           ac_rendered_t *out, char *err, size_t errsz)
{
    int rc = -1;
    render_vars_t vars;
    ac_buf_t subject = AC_BUF_INIT, text = AC_BUF_INIT, html = AC_BUF_INIT;
    memset(out, 0, sizeof(*out));
    vars_init(&vars, m, x);
    const template_entry_t *t =
        find_template(m->kind, ch, vars.language, vars.x->templates, m->event->store.id);
    if (!t) {
        snprintf(err, errsz, "no template for %s over %s", ac_kind_name(m->kind),
                 ac_channel_name(ch));
        goto out;
    }
    if (ac_render_part(t->subject, &vars, AC_TEMPLATE_ESCAPE_NONE, &subject, err, errsz) < 0)
        goto out;
    if (ch == AC_CHANNEL_SMS) {
        if (ac_render_sms(t, &vars, &text, &out->sms, err, errsz) < 0)
            goto out;
    } else {
        if (ac_render_part(t->text, &vars, AC_TEMPLATE_ESCAPE_NONE, &text, err, errsz) < 0)
            goto out;
        if (ac_render_html(t, &vars, &html, err, errsz) < 0)
            goto out;
    }
    int has_html = ch == AC_CHANNEL_EMAIL;
    out->subject = t->subject ? ac_buf_steal(&subject) : NULL;
    out->text = ac_buf_steal(&text);
    out->html = has_html ? ac_buf_steal(&html) : NULL;
    out->language = t->language;
    if (!out->text || (t->subject && !out->subject) || (has_html && !out->html)) {
        snprintf(err, errsz, "out of memory");
        ac_rendered_free(out);
        goto out;
    }
    rc = 0;
out:
    ac_buf_free(&subject);
    ac_buf_free(&text);
    ac_buf_free(&html);
    vars_free(&vars);
    return rc;
}
