/* The built-in template catalog: the order's journey here, the feedback
 * messages in render_feedback.c, both plain data the renderer searches
 * (render_int.h has the entry), and the check the unit tests run over
 * them. */
#include "render.h"

#include <stdio.h>
#include <string.h>

#include "render_int.h"
#include "template.h"

static const template_entry_t catalog[] = {
    {AC_KIND_ORDER_CONFIRMATION, AC_CHANNEL_EMAIL, "en",
     "Your order {{order_number}}{{#store_name}} at {{store_name}}{{/store_name}} is confirmed",
     "{{#first_name}}Hi {{first_name}},{{/first_name}}{{^first_name}}Hello,{{/first_name}}\n\n"
     "thank you for your order {{order_number}}{{#store_name}} at {{store_name}}{{/store_name}}."
     " We have received it and are getting it ready.\n\n"
     "{{#items}}What you ordered:\n{{items}}{{/items}}"
     "{{#total}}Total: {{total}}\n{{/total}}\n"
     "We will let you know as soon as it is on its way.\n",
     NULL},
    {AC_KIND_ORDER_CONFIRMATION, AC_CHANNEL_EMAIL, "de",
     "Ihre Bestellung {{order_number}}{{#store_name}} bei {{store_name}}{{/store_name}} ist "
     "bestätigt",
     "{{#first_name}}Hallo {{first_name}},{{/first_name}}{{^first_name}}Guten Tag,{{/first_name}}"
     "\n\nvielen Dank für Ihre Bestellung {{order_number}}{{#store_name}} bei "
     "{{store_name}}{{/store_name}}. Wir haben sie erhalten und bereiten sie für den Versand "
     "vor.\n\n"
     "{{#items}}Ihre Bestellung:\n{{items}}{{/items}}"
     "{{#total}}Gesamt: {{total}}\n{{/total}}\n"
     "Wir melden uns, sobald sie unterwegs ist.\n",
     NULL},
    {AC_KIND_ORDER_CONFIRMATION, AC_CHANNEL_SMS, "en", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}{{#first_name}}Hi {{first_name}}, "
     "thanks{{/first_name}}{{^first_name}}Thanks{{/first_name}} for your order "
     "{{order_number}}{{#item_summary}} "
     "({{item_summary}}){{/item_summary}}.{{#extra}} We'll text you when it ships.{{/extra}}",
     "extra store_name item_summary first_name"},
    {AC_KIND_ORDER_CONFIRMATION, AC_CHANNEL_SMS, "de", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}{{#first_name}}Hallo {{first_name}}, "
     "danke{{/first_name}}{{^first_name}}Danke{{/first_name}} für Ihre Bestellung "
     "{{order_number}}{{#item_summary}} "
     "({{item_summary}}){{/item_summary}}.{{#extra}} Wir melden uns beim Versand.{{/extra}}",
     "extra store_name item_summary first_name"},
    {AC_KIND_ORDER_CANCELLED, AC_CHANNEL_EMAIL, "en",
     "Your order {{order_number}} has been cancelled",
     "{{#first_name}}Hi {{first_name}},{{/first_name}}{{^first_name}}Hello,{{/first_name}}\n\n"
     "your order {{order_number}}{{#store_name}} at {{store_name}}{{/store_name}} has been "
     "cancelled.{{#total}} If you were charged {{total}}, the money goes back to your original "
     "payment method.{{/total}}\n\n"
     "{{#items}}The cancelled order:\n{{items}}\n{{/items}}"
     "If you did not ask for this, just reply to this message and we will sort it out.\n",
     NULL},
    {AC_KIND_ORDER_CANCELLED, AC_CHANNEL_EMAIL, "de",
     "Ihre Bestellung {{order_number}} wurde storniert",
     "{{#first_name}}Hallo {{first_name}},{{/first_name}}{{^first_name}}Guten Tag,{{/first_name}}"
     "\n\nIhre Bestellung {{order_number}}{{#store_name}} bei {{store_name}}{{/store_name}} "
     "wurde storniert.{{#total}} Falls Ihnen {{total}} belastet wurden, erhalten Sie den Betrag "
     "über Ihre ursprüngliche Zahlungsart zurück.{{/total}}\n\n"
     "{{#items}}Die stornierte Bestellung:\n{{items}}\n{{/items}}"
     "Falls Sie das nicht veranlasst haben, antworten Sie einfach auf diese Nachricht.\n",
     NULL},
    {AC_KIND_ORDER_CANCELLED, AC_CHANNEL_SMS, "en", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}Your order {{order_number}} has been "
     "cancelled.{{#total}} Any payment of {{total}} will be refunded.{{/total}}",
     "store_name total"},
    {AC_KIND_ORDER_CANCELLED, AC_CHANNEL_SMS, "de", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}Ihre Bestellung {{order_number}} wurde "
     "storniert.{{#total}} Eine Zahlung von {{total}} wird erstattet.{{/total}}",
     "store_name total"},
    /* Shipping updates cover two events: the parcel leaving the warehouse
     * and the parcel being out for delivery. The out_for_delivery variable is
     * set only for the latter, so one template speaks of "on its way" or of
     * "today" as the carrier reported. */
    {AC_KIND_SHIPPING_UPDATE, AC_CHANNEL_EMAIL, "en",
     "{{#out_for_delivery}}Your order {{order_number}} is out for delivery "
     "today{{/out_for_delivery}}{{^out_for_delivery}}Your order {{order_number}} is on its "
     "way{{/out_for_delivery}}",
     "{{#first_name}}Hi {{first_name}},{{/first_name}}{{^first_name}}Hello,{{/first_name}}\n\n"
     "{{#out_for_delivery}}good news: your order {{order_number}}{{#store_name}} from "
     "{{store_name}}{{/store_name}} is out for delivery{{#carrier}} with {{carrier}}{{/carrier}} "
     "and should arrive today.{{/out_for_delivery}}"
     "{{^out_for_delivery}}good news: your order {{order_number}}{{#store_name}} from "
     "{{store_name}}{{/store_name}} is on its way{{#carrier}} with {{carrier}}{{/carrier}}."
     "{{#estimated_delivery}} It should arrive on {{estimated_delivery}}.{{/estimated_delivery}}"
     "{{/out_for_delivery}}"
     "{{#tracking_number}} Your tracking number is {{tracking_number}}.{{/tracking_number}}\n\n"
     "{{#tracking_url}}You can follow your parcel here:\n{{tracking_url}}\n\n{{/tracking_url}}"
     "If anything is not right with your delivery, just reply to this message.\n",
     NULL},
    {AC_KIND_SHIPPING_UPDATE, AC_CHANNEL_EMAIL, "de",
     "{{#out_for_delivery}}Ihre Bestellung {{order_number}} wird heute "
     "zugestellt{{/out_for_delivery}}{{^out_for_delivery}}Ihre Bestellung {{order_number}} ist "
     "unterwegs{{/out_for_delivery}}",
     "{{#first_name}}Hallo {{first_name}},{{/first_name}}{{^first_name}}Guten Tag,{{/first_name}}"
     "\n\n{{#out_for_delivery}}gute Nachrichten: Ihre Bestellung {{order_number}}{{#store_name}} "
     "bei {{store_name}}{{/store_name}} ist heute{{#carrier}} mit {{carrier}}{{/carrier}} in der "
     "Zustellung und sollte im Laufe des Tages ankommen.{{/out_for_delivery}}"
     "{{^out_for_delivery}}gute Nachrichten: Ihre Bestellung {{order_number}}{{#store_name}} bei "
     "{{store_name}}{{/store_name}} ist{{#carrier}} mit {{carrier}}{{/carrier}} unterwegs zu "
     "Ihnen.{{#estimated_delivery}} Sie kommt voraussichtlich am {{estimated_delivery}} "
     "an.{{/estimated_delivery}}{{/out_for_delivery}}"
     "{{#tracking_number}} Ihre Sendungsnummer lautet {{tracking_number}}.{{/tracking_number}}"
     "\n\n{{#tracking_url}}Hier können Sie Ihre Sendung verfolgen:\n{{tracking_url}}\n\n"
     "{{/tracking_url}}"
     "Falls mit der Lieferung etwas nicht stimmt, antworten Sie einfach auf diese Nachricht.\n",
     NULL},
    /* An SMS has room for one way to follow the parcel: the link when there
     * is one, else the tracking number. */
    {AC_KIND_SHIPPING_UPDATE, AC_CHANNEL_SMS, "en", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}Your order {{order_number}} is "
     "{{#out_for_delivery}}out for delivery{{#carrier}} with {{carrier}}{{/carrier}} and should "
     "arrive today.{{/out_for_delivery}}{{^out_for_delivery}}on its way{{#carrier}} with "
     "{{carrier}}{{/carrier}}.{{/out_for_delivery}}"
     "{{#tracking_url}} Track it: {{tracking_url}}{{/tracking_url}}"
     "{{^tracking_url}}{{#tracking_number}} Tracking number: "
     "{{tracking_number}}{{/tracking_number}}{{/tracking_url}}",
     "store_name carrier tracking_url tracking_number"},
    {AC_KIND_SHIPPING_UPDATE, AC_CHANNEL_SMS, "de", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}Ihre Bestellung {{order_number}} ist "
     "{{#out_for_delivery}}heute{{#carrier}} mit {{carrier}}{{/carrier}} in der "
     "Zustellung.{{/out_for_delivery}}{{^out_for_delivery}}{{#carrier}}mit {{carrier}} "
     "{{/carrier}}unterwegs.{{/out_for_delivery}}"
     "{{#tracking_url}} Sendung verfolgen: {{tracking_url}}{{/tracking_url}}"
     "{{^tracking_url}}{{#tracking_number}} Sendungsnummer: "
     "{{tracking_number}}{{/tracking_number}}{{/tracking_url}}",
     "store_name carrier tracking_url tracking_number"},
    /* A delay notice apologises and says what we know. Without a new
     * estimate it says so plainly rather than guessing a date. */
    {AC_KIND_DELAY_NOTICE, AC_CHANNEL_EMAIL, "en", "Your order {{order_number}} is running late",
     "{{#first_name}}Hi {{first_name}},{{/first_name}}{{^first_name}}Hello,{{/first_name}}\n\n"
     "we are sorry: the parcel with your order {{order_number}}{{#store_name}} from "
     "{{store_name}}{{/store_name}} is running late."
     "{{#estimated_delivery}} It should now arrive on "
     "{{estimated_delivery}}.{{/estimated_delivery}}"
     "{{^estimated_delivery}} The carrier has not given us a new delivery date yet."
     "{{/estimated_delivery}}\n\n"
     "{{#tracking_url}}You can follow your parcel here:\n{{tracking_url}}\n\n{{/tracking_url}}"
     "We apologise for the wait. If you have any questions, just reply to this message.\n",
     NULL},
    {AC_KIND_DELAY_NOTICE, AC_CHANNEL_EMAIL, "de",
     "Ihre Bestellung {{order_number}} verspätet sich",
     "{{#first_name}}Hallo {{first_name}},{{/first_name}}{{^first_name}}Guten Tag,{{/first_name}}"
     "\n\nes tut uns leid: Die Sendung mit Ihrer Bestellung {{order_number}}{{#store_name}} bei "
     "{{store_name}}{{/store_name}} verspätet sich."
     "{{#estimated_delivery}} Sie kommt nun voraussichtlich am {{estimated_delivery}} "
     "an.{{/estimated_delivery}}"
     "{{^estimated_delivery}} Der Versanddienstleister hat uns noch keinen neuen Liefertermin "
     "genannt.{{/estimated_delivery}}\n\n"
     "{{#tracking_url}}Hier können Sie Ihre Sendung verfolgen:\n{{tracking_url}}\n\n"
     "{{/tracking_url}}"
     "Bitte entschuldigen Sie die Verzögerung. Wenn Sie Fragen haben, antworten Sie einfach auf "
     "diese Nachricht.\n",
     NULL},
    {AC_KIND_DELAY_NOTICE, AC_CHANNEL_SMS, "en", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}Sorry, your order {{order_number}} is running "
     "late.{{#estimated_delivery}} New estimate: {{estimated_delivery}}.{{/estimated_delivery}}"
     "{{#tracking_url}} Track it: {{tracking_url}}{{/tracking_url}}",
     "store_name tracking_url estimated_delivery"},
    {AC_KIND_DELAY_NOTICE, AC_CHANNEL_SMS, "de", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}Ihre Bestellung {{order_number}} verspätet "
     "sich leider.{{#estimated_delivery}} Neuer Termin: {{estimated_delivery}}."
     "{{/estimated_delivery}}{{#tracking_url}} Sendung verfolgen: "
     "{{tracking_url}}{{/tracking_url}}",
     "store_name tracking_url estimated_delivery"},
    /* A review request asks once, warmly, and offers a reply as the easiest
     * way to answer; there is no review link in the event to point to. */
    {AC_KIND_REVIEW_REQUEST, AC_CHANNEL_EMAIL, "en",
     "{{#item_summary}}How are you getting on with your {{item_summary}}?{{/item_summary}}"
     "{{^item_summary}}How are you getting on with your order {{order_number}}?{{/item_summary}}",
     "{{#first_name}}Hi {{first_name}},{{/first_name}}{{^first_name}}Hello,{{/first_name}}\n\n"
     "we hope your order {{order_number}}{{#store_name}} from {{store_name}}{{/store_name}} "
     "arrived safely.{{#item_summary}} How are you getting on with your "
     "{{item_summary}}?{{/item_summary}}{{^item_summary}} How are you getting on with "
     "it?{{/item_summary}}\n\n"
     "{{#rating_5_url}}How happy are you with it? One click is enough:\n"
     "★★★★★ {{rating_5_url}}\n★★★★☆ {{rating_4_url}}\n★★★☆☆ {{rating_3_url}}\n"
     "★★☆☆☆ {{rating_2_url}}\n★☆☆☆☆ {{rating_1_url}}\n\n{{/rating_5_url}}"
     "If you have a moment, would you tell other customers what you think? "
     "{{#review_url}}It takes a minute: {{review_url}}{{/review_url}}{{^review_url}}Just reply to "
     "this message with a few words, or leave a review on the product page.{{/review_url}}\n\n"
     "{{#suggestion}}Customers who like what you bought often enjoy our {{suggestion}} "
     "too.\n\n{{/suggestion}}"
     "And if something is not quite right, please tell us too, so that we can help.\n",
     NULL},
    {AC_KIND_REVIEW_REQUEST, AC_CHANNEL_EMAIL, "de",
     "Wie gefällt Ihnen Ihre Bestellung {{order_number}}?",
     "{{#first_name}}Hallo {{first_name}},{{/first_name}}{{^first_name}}Guten Tag,{{/first_name}}"
     "\n\nwir hoffen, Ihre Bestellung {{order_number}}{{#item_summary}} "
     "({{item_summary}}){{/item_summary}}{{#store_name}} bei {{store_name}}{{/store_name}} ist "
     "gut angekommen. Wie zufrieden sind Sie damit?\n\n"
     "{{#rating_5_url}}Ein Klick genügt:\n"
     "★★★★★ {{rating_5_url}}\n★★★★☆ {{rating_4_url}}\n★★★☆☆ {{rating_3_url}}\n"
     "★★☆☆☆ {{rating_2_url}}\n★☆☆☆☆ {{rating_1_url}}\n\n{{/rating_5_url}}"
     "Wenn Sie einen Moment Zeit haben, erzählen Sie anderen Kundinnen und Kunden doch, was Sie "
     "davon halten: {{#review_url}}Das geht in einer Minute: {{review_url}}{{/review_url}}"
     "{{^review_url}}Antworten Sie einfach mit ein paar Worten auf diese Nachricht oder schreiben "
     "Sie eine Bewertung auf der Produktseite.{{/review_url}}\n\n"
     "{{#suggestion}}Vielleicht gefällt Ihnen auch: {{suggestion}}.\n\n{{/suggestion}}"
     "Und falls etwas nicht passt, sagen Sie es uns bitte auch, damit wir helfen können.\n",
     NULL},
    {AC_KIND_REVIEW_REQUEST, AC_CHANNEL_SMS, "en", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}{{#first_name}}Hi {{first_name}}, "
     "how{{/first_name}}{{^first_name}}How{{/first_name}} are you getting on with your "
     "{{#item_summary}}{{item_summary}}{{/item_summary}}{{^item_summary}}order "
     "{{order_number}}{{/item_summary}}?{{#review_url}} Tell us: {{review_url}}{{/review_url}}"
     "{{^review_url}} Just reply to tell other customers what you think.{{/review_url}}",
     "store_name item_summary review_url first_name"},
    {AC_KIND_REVIEW_REQUEST, AC_CHANNEL_SMS, "de", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}{{#first_name}}Hallo {{first_name}}, "
     "wie{{/first_name}}{{^first_name}}Wie{{/first_name}} gefällt Ihnen Ihre Bestellung "
     "{{order_number}}{{#item_summary}} ({{item_summary}}){{/item_summary}}?"
     "{{#review_url}} Ihre Meinung: {{review_url}}{{/review_url}}{{^review_url}} Antworten Sie "
     "gern, das hilft anderen Kunden.{{/review_url}}",
     "store_name item_summary review_url first_name"},
    /* The link and code come from the store's settings (notify-worker's
     * STORE_SETTINGS); without them the invitation only asks customers to
     * tell their friends. It never promises a reward the store did not
     * describe. */
    {AC_KIND_REFERRAL_INVITE, AC_CHANNEL_EMAIL, "en",
     "{{#store_name}}Know someone who would like {{store_name}} too?{{/store_name}}"
     "{{^store_name}}Know someone who would like our shop too?{{/store_name}}",
     "{{#first_name}}Hi {{first_name}},{{/first_name}}{{^first_name}}Hello,{{/first_name}}\n\n"
     "thank you for shopping with us{{#store_name}} at {{store_name}}{{/store_name}}. We hope you "
     "are enjoying your order {{order_number}}.\n\n"
     "If you have friends or family who might like our shop too, we would be delighted if you "
     "told them about us. A recommendation from a happy customer means more to us than any "
     "advert.{{#referral_url}} Share this link with them: {{referral_url}}{{/referral_url}}"
     "{{#referral_code}} Your personal code: {{referral_code}}{{/referral_code}}\n\n"
     "{{#suggestion}}And for yourself, perhaps our {{suggestion}}?\n\n{{/suggestion}}"
     "You are getting this message because you agreed to hear from us. If you would rather not, "
     "just reply and let us know.\n",
     NULL},
    {AC_KIND_REFERRAL_INVITE, AC_CHANNEL_EMAIL, "de",
     "{{#store_name}}Kennen Sie jemanden, dem {{store_name}} auch gefallen "
     "würde?{{/store_name}}{{^store_name}}Kennen Sie jemanden, dem unser Shop auch gefallen "
     "würde?{{/store_name}}",
     "{{#first_name}}Hallo {{first_name}},{{/first_name}}{{^first_name}}Guten Tag,{{/first_name}}"
     "\n\nvielen Dank für Ihren Einkauf{{#store_name}} bei {{store_name}}{{/store_name}}. Wir "
     "hoffen, Ihre Bestellung {{order_number}} gefällt Ihnen.\n\n"
     "Wenn Sie Freunde oder Familie haben, denen unser Angebot auch gefallen könnte, freuen wir "
     "uns sehr, wenn Sie uns weiterempfehlen. Die Empfehlung zufriedener Kundinnen und Kunden "
     "bedeutet uns mehr als jede Werbung.{{#referral_url}} Teilen Sie dazu einfach diesen Link: "
     "{{referral_url}}{{/referral_url}}{{#referral_code}} Ihr persönlicher Code: "
     "{{referral_code}}{{/referral_code}}\n\n"
     "{{#suggestion}}Und für Sie selbst vielleicht: {{suggestion}}?\n\n{{/suggestion}}"
     "Sie erhalten diese Nachricht, weil Sie zugestimmt haben, von uns zu hören. Wenn Sie das "
     "nicht mehr möchten, antworten Sie einfach kurz auf diese Nachricht.\n",
     NULL},
    {AC_KIND_REFERRAL_INVITE, AC_CHANNEL_SMS, "en", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}{{#first_name}}Hi {{first_name}}, "
     "thank{{/first_name}}{{^first_name}}Thank{{/first_name}} you for shopping with us! Know "
     "someone who would like our shop too? We would love it if you told them about us."
     "{{#referral_url}} {{referral_url}}{{/referral_url}}{{#referral_code}} Code: "
     "{{referral_code}}{{/referral_code}}",
     "store_name referral_code first_name referral_url"},
    {AC_KIND_REFERRAL_INVITE, AC_CHANNEL_SMS, "de", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}{{#first_name}}Hallo {{first_name}}, "
     "danke{{/first_name}}{{^first_name}}Danke{{/first_name}} für Ihren Einkauf! Kennen Sie "
     "jemanden, dem unser Shop auch gefallen würde? Empfehlen Sie uns gern weiter!"
     "{{#referral_url}} {{referral_url}}{{/referral_url}}{{#referral_code}} Code: "
     "{{referral_code}}{{/referral_code}}",
     "store_name referral_code first_name referral_url"},
    /* The return reason stays out of the message: the customer gave it and
     * does not need it read back. What they need is the next step. */
    {AC_KIND_RETURN_CONFIRMATION, AC_CHANNEL_EMAIL, "en",
     "We have received your return request for order {{order_number}}",
     "{{#first_name}}Hi {{first_name}},{{/first_name}}{{^first_name}}Hello,{{/first_name}}\n\n"
     "we have received your return request for order {{order_number}}{{#store_name}} at "
     "{{store_name}}{{/store_name}}.\n\n"
     "What happens next:\n"
     "1. Please send the items back to us.{{#return_label_url}} Your return label and "
     "instructions are here:\n   {{return_label_url}}{{/return_label_url}}"
     "{{^return_label_url}} If you need a return label, just ask.{{/return_label_url}}\n"
     "2. Once they have arrived, we will refund the money to your original payment method and "
     "let you know.\n\n"
     "If you have any other questions, just reply to this message.\n",
     NULL},
    {AC_KIND_RETURN_CONFIRMATION, AC_CHANNEL_EMAIL, "de",
     "Ihre Retoure zur Bestellung {{order_number}} ist angemeldet",
     "{{#first_name}}Hallo {{first_name}},{{/first_name}}{{^first_name}}Guten Tag,{{/first_name}}"
     "\n\nwir haben Ihre Rücksendeanfrage zur Bestellung {{order_number}}{{#store_name}} bei "
     "{{store_name}}{{/store_name}} erhalten.\n\n"
     "So geht es weiter:\n"
     "1. Bitte senden Sie die Artikel an uns zurück.{{#return_label_url}} Ihr Rücksendeetikett "
     "und die Anleitung finden Sie hier:\n   {{return_label_url}}{{/return_label_url}}"
     "{{^return_label_url}} Falls Sie ein Rücksendeetikett brauchen, geben Sie uns bitte "
     "Bescheid.{{/return_label_url}}\n"
     "2. Sobald die Artikel angekommen sind, erstatten wir den Betrag über Ihre ursprüngliche "
     "Zahlungsart und informieren Sie darüber.\n\n"
     "Wenn Sie weitere Fragen haben, antworten Sie einfach auf diese Nachricht.\n",
     NULL},
    {AC_KIND_RETURN_CONFIRMATION, AC_CHANNEL_SMS, "en", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}Return for order {{order_number}} "
     "registered. Please send the items back{{#return_label_url}} "
     "({{return_label_url}}){{/return_label_url}}{{#extra}}; we refund on arrival{{/extra}}.",
     "extra store_name return_label_url"},
    {AC_KIND_RETURN_CONFIRMATION, AC_CHANNEL_SMS, "de", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}Retoure zu Bestellung {{order_number}} "
     "angemeldet. Bitte senden Sie die Artikel zurück{{#return_label_url}} "
     "({{return_label_url}}){{/return_label_url}}{{#extra}}; Erstattung nach "
     "Eingang{{/extra}}.",
     "extra store_name return_label_url"},
    /* The amount is optional in the event, so it sits inside the sentence
     * as a section: without it the sentence still reads whole. */
    {AC_KIND_REFUND_NOTICE, AC_CHANNEL_EMAIL, "en",
     "Your refund for order {{order_number}} is on its way",
     "{{#first_name}}Hi {{first_name}},{{/first_name}}{{^first_name}}Hello,{{/first_name}}\n\n"
     "your refund{{#refund_amount}} of {{refund_amount}}{{/refund_amount}} for order "
     "{{order_number}}{{#store_name}} at {{store_name}}{{/store_name}} is on its way to your "
     "original payment method. Depending on your bank, it may take a few days to appear on your "
     "statement.\n\n"
     "If you have any questions, just reply to this message.\n",
     NULL},
    {AC_KIND_REFUND_NOTICE, AC_CHANNEL_EMAIL, "de",
     "Ihre Erstattung zur Bestellung {{order_number}} ist unterwegs",
     "{{#first_name}}Hallo {{first_name}},{{/first_name}}{{^first_name}}Guten Tag,{{/first_name}}"
     "\n\ndie Erstattung{{#refund_amount}} über {{refund_amount}}{{/refund_amount}} für Ihre "
     "Bestellung {{order_number}}{{#store_name}} bei {{store_name}}{{/store_name}} ist "
     "veranlasst. Sie erhalten den Betrag über Ihre ursprüngliche Zahlungsart zurück; je nach "
     "Bank kann es einige Tage dauern, bis er auf Ihrem Konto erscheint.\n\n"
     "Wenn Sie Fragen haben, antworten Sie einfach auf diese Nachricht.\n",
     NULL},
    {AC_KIND_REFUND_NOTICE, AC_CHANNEL_SMS, "en", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}Your refund{{#refund_amount}} of "
     "{{refund_amount}}{{/refund_amount}} for order {{order_number}} is on its way to your "
     "original payment method.",
     "store_name refund_amount"},
    {AC_KIND_REFUND_NOTICE, AC_CHANNEL_SMS, "de", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}Ihre Erstattung{{#refund_amount}} über "
     "{{refund_amount}}{{/refund_amount}} für Bestellung {{order_number}} ist veranlasst und geht "
     "an Ihre ursprüngliche Zahlungsart.",
     "store_name refund_amount"},
};

size_t ac_render_n_builtin(void)
{
    return sizeof(catalog) / sizeof(catalog[0]) + ac_render_n_feedback_templates;
}

const template_entry_t *ac_render_builtin(size_t i)
{
    size_t n = sizeof(catalog) / sizeof(catalog[0]);
    return i < n ? &catalog[i] : &ac_render_feedback_templates[i - n];
}

const template_entry_t *ac_render_find_builtin(ac_kind_t kind, ac_channel_t ch,
                                               const char *language)
{
    for (size_t i = 0; i < ac_render_n_builtin(); i++) {
        const template_entry_t *t = ac_render_builtin(i);
        if (t->kind == kind && t->channel == ch && strcmp(t->language, language) == 0)
            return t;
    }
    return NULL;
}

/* Fails unless every name t sheds has a {{#name}} section in its text: a
 * misspelt name would shed nothing and cost a rendering. */
static int check_shed(const template_entry_t *t, char *err, size_t errsz)
{
    for (const char *p = t->shed; p && *p;) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        char section[80];
        snprintf(section, sizeof(section), "{{#%.*s}}", (int)w, p);
        if (w > 0 && !strstr(t->text, section)) {
            snprintf(err, errsz, "%s %s %s: sheds %.*s, which it has no section for",
                     ac_kind_name(t->kind), ac_channel_name(t->channel), t->language, (int)w, p);
            return -1;
        }
        p += w;
    }
    return 0;
}

/* The catalog is data no compiler checks, so the unit tests run this over
 * it: a malformed template would otherwise first fail when a customer's
 * message needs it. */
int ac_render_check_templates(char *err, size_t errsz)
{
    for (size_t i = 0; i < ac_render_n_builtin(); i++) {
        const template_entry_t *t = ac_render_builtin(i);
        char why[160];
        if ((t->subject && ac_template_check(t->subject, why, sizeof(why)) < 0) ||
            ac_template_check(t->text, why, sizeof(why)) < 0) {
            snprintf(err, errsz, "%s %s %s: %s", ac_kind_name(t->kind), ac_channel_name(t->channel),
                     t->language, why);
            return -1;
        }
        if ((t->channel == AC_CHANNEL_SMS) != (t->shed != NULL)) {
            snprintf(err, errsz, "%s %s %s: %s", ac_kind_name(t->kind), ac_channel_name(t->channel),
                     t->language,
                     t->shed ? "an email has no segments to shed" : "an SMS says what it can shed");
            return -1;
        }
        if (check_shed(t, err, errsz) < 0)
            return -1;
    }
    return 0;
}
