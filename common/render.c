#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "buf.h"
#include "sms.h"
#include "render_int.h"
#include "template.h"

/* The built-in template catalog (render_int.h has the entry). */

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
    /* The currency whole or not at all: a cut one could end inside a
     * UTF-8 character. */
    if (currency && *currency && n > 0 && (size_t)n + 1 + strlen(currency) < bufsz)
        snprintf(buf + n, bufsz - (size_t)n, " %s", currency);
}

/* Writes the calendar date that s starts with ("2024-11-07" or an RFC 3339
 * date-time such as "2024-11-07T18:00:00+01:00") the way a reader of
 * language writes it: "7 November 2024", "7. November 2024". Only the date
 * part of a date-time is used, as written: the customer needs the day, and
 * converting the time to another zone could move it. Returns 0, or -1 when
 * s does not start with a valid date. */
static int format_date(const char *s, const char *language, char *buf, size_t bufsz)
{
    static const char *const en[] = {"January",   "February", "March",    "April",
                                     "May",       "June",     "July",     "August",
                                     "September", "October",  "November", "December"};
    static const char *const de[] = {"Januar",    "Februar", "März",     "April",
                                     "Mai",       "Juni",    "Juli",     "August",
                                     "September", "Oktober", "November", "Dezember"};
    static const char pattern[] = "dddd-dd-dd";
    for (size_t i = 0; i < sizeof(pattern) - 1; i++) {
        int digit = s[i] >= '0' && s[i] <= '9';
        if (pattern[i] == 'd' ? !digit : s[i] != pattern[i])
            return -1;
    }
    if (s[10] != '\0' && s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return -1;
    int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int month = (s[5] - '0') * 10 + (s[6] - '0');
    int day = (s[8] - '0') * 10 + (s[9] - '0');
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12 || day < 1)
        return -1;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > days[month - 1] + (month == 2 && leap))
        return -1;
    if (strcmp(language, "de") == 0)
        snprintf(buf, bufsz, "%d. %s %d", day, de[month - 1], year);
    else
        snprintf(buf, bufsz, "%d %s %d", day, en[month - 1], year);
    return 0;
}

/* Values a template can name, computed once per rendering. */
typedef struct render_vars {
    const ac_event_t *ev;
    const char *language;
    char order_number[AC_EVENT_MAX_ID_LEN + 2]; /* "#" and the number or id */
    char total[64];
    char *items;        /* one line per item */
    char *item_summary; /* "Rain Jacket and 2 more" */
    char delivery_date[48];
    /* delivery_date when the estimate is a date, else the store's own text
     * (owned by ev); NULL when there is no estimate. */
    const char *estimated_delivery;
    char refund_amount[64];
    /* The return label, or the instructions when the store sent no label;
     * owned by ev. */
    const char *return_label_url;
    char rating[4], stars[32];   /* feedback: "2" and "★★☆☆☆" */
    const ac_render_extras_t *x; /* never NULL */
    /* The first n_shed names of the template's shed list have no value,
     * while an SMS is made to fit. */
    const char *shed;
    size_t n_shed;
} render_vars_t;

/* Whether name is among the first n names of the space-separated list. */
static int is_shed(const char *list, size_t n, const char *name, size_t len)
{
    for (const char *p = list; p && *p && n > 0; n--) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (w == len && memcmp(p, name, len) == 0)
            return 1;
        p += w;
    }
    return 0;
}

/* The number of names in a space-separated list. */
static size_t count_names(const char *list)
{
    size_t n = 0;
    for (const char *p = list; p && *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        n++;
        p += strcspn(p, " ");
    }
    return n;
}

static const char *lookup(void *ctx, const char *name, size_t len)
{
    render_vars_t *v = ctx;
    const ac_event_t *ev = v->ev;
    if (v->n_shed > 0 && is_shed(v->shed, v->n_shed, name, len))
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
            format_date(eta, v->language, v->delivery_date, sizeof(v->delivery_date)) == 0
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

/* Templates a store's team wrote, loaded from TEMPLATE_DIR. */
struct ac_templates {
    template_entry_t *entries;
    char **stores; /* per entry: the store it is for, NULL for every store */
    size_t n, cap;
};

/* The first template of (kind, ch, language) among entries: one for the
 * store, else one for every store. */
static const template_entry_t *find_override(const ac_templates_t *o, ac_kind_t kind,
                                             ac_channel_t ch, const char *language,
                                             const char *store)
{
    const template_entry_t *any = NULL;
    for (size_t i = 0; o && i < o->n; i++) {
        const template_entry_t *t = &o->entries[i];
        if (t->kind != kind || t->channel != ch || strcmp(t->language, language) != 0)
            continue;
        if (!o->stores[i])
            any = t;
        else if (store && strcmp(o->stores[i], store) == 0)
            return t;
    }
    return any;
}

/* The number of built-in templates, and the i-th: this file's catalog
 * then the feedback messages' (render_feedback.c). */
static size_t n_builtin(void)
{
    return sizeof(catalog) / sizeof(catalog[0]) + ac_render_n_feedback_templates;
}

static const template_entry_t *builtin(size_t i)
{
    size_t n = sizeof(catalog) / sizeof(catalog[0]);
    return i < n ? &catalog[i] : &ac_render_feedback_templates[i - n];
}

static const template_entry_t *find_builtin(ac_kind_t kind, ac_channel_t ch, const char *language)
{
    for (size_t i = 0; i < n_builtin(); i++) {
        const template_entry_t *t = builtin(i);
        if (t->kind == kind && t->channel == ch && strcmp(t->language, language) == 0)
            return t;
    }
    return NULL;
}

/* The store's own template in the customer's language, else the shared
 * override, else the built-in one; then the same in English. */
static const template_entry_t *find_template(ac_kind_t kind, ac_channel_t ch, const char *language,
                                             const ac_templates_t *o, const char *store)
{
    const char *langs[] = {language, "en"};
    for (size_t l = 0; l < 2; l++) {
        const template_entry_t *t = find_override(o, kind, ch, langs[l], store);
        if (!t)
            t = find_builtin(kind, ch, langs[l]);
        if (t)
            return t;
    }
    return NULL;
}

/* Renders tpl with vars into out; a template part that is not there (an
 * SMS's subject) renders as nothing. */
static int render_part(const char *tpl, render_vars_t *vars, ac_template_escape_t esc,
                       ac_buf_t *out, char *err, size_t errsz)
{
    return tpl ? ac_template_render(tpl, lookup, vars, esc, out, err, errsz) : 0;
}

/* Renders the text of SMS template t into text, leaving out one more of
 * the names t->shed lists each time the text needs more segments than an
 * SMS may have, and counts the result into count. */
static int render_sms(const template_entry_t *t, render_vars_t *vars, ac_buf_t *text,
                      ac_sms_count_t *count, char *err, size_t errsz)
{
    size_t names = count_names(t->shed);
    vars->shed = t->shed;
    for (vars->n_shed = 0;; vars->n_shed++) {
        ac_buf_free(text);
        if (render_part(t->text, vars, AC_TEMPLATE_ESCAPE_NONE, text, err, errsz) < 0)
            return -1;
        ac_sms_count(text->data ? text->data : "", count);
        /* With nothing left to shed the shortest form goes as it is: a
         * message in three parts is better than none. */
        if (count->segments <= AC_RENDER_SMS_MAX_SEGMENTS || vars->n_shed >= names)
            return 0;
    }
}

/* Writes body, a plain-text email rendered in AC_TEMPLATE_ESCAPE_HTML_TEXT,
 * as paragraphs: a blank line (or several) ends one, a single line break
 * inside one becomes <br>. */
static void html_paragraphs(ac_buf_t *out, const char *body)
{
    const char *p = body;
    for (;;) {
        while (*p == '\n')
            p++;
        if (!*p)
            break;
        const char *end = strstr(p, "\n\n");
        if (!end)
            end = p + strlen(p);
        size_t n = (size_t)(end - p);
        while (n > 0 && p[n - 1] == '\n')
            n--;
        ac_buf_puts(out, "<p>");
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '\n')
                ac_buf_puts(out, "<br>\n");
            else
                ac_buf_append(out, p + i, 1);
        }
        ac_buf_puts(out, "</p>\n");
        p = end;
    }
}

/* Writes the HTML document of an email: title and body are the subject and
 * text rendered in AC_TEMPLATE_ESCAPE_HTML_TEXT, language one of the
 * template languages. Mail clients strip or ignore most of <head>, so it
 * holds only what a browser opening the file needs to show it right. */
static void html_document(ac_buf_t *out, const char *language, const char *title, const char *body)
{
    ac_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"");
    ac_buf_puts(out, language);
    ac_buf_puts(out, "\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<title>");
    ac_buf_puts(out, title);
    ac_buf_puts(out, "</title>\n</head>\n<body>\n");
    html_paragraphs(out, body);
    ac_buf_puts(out, "</body>\n</html>\n");
}

/* Renders the HTML of email template t into html. */
static int render_html(const template_entry_t *t, render_vars_t *vars, ac_buf_t *html, char *err,
                       size_t errsz)
{
    int rc = -1;
    ac_buf_t title = AC_BUF_INIT, body = AC_BUF_INIT;
    if (render_part(t->subject, vars, AC_TEMPLATE_ESCAPE_HTML_TEXT, &title, err, errsz) < 0 ||
        render_part(t->text, vars, AC_TEMPLATE_ESCAPE_HTML_TEXT, &body, err, errsz) < 0)
        goto out;
    html_document(html, t->language, title.data ? title.data : "", body.data ? body.data : "");
    rc = 0;
out:
    ac_buf_free(&title);
    ac_buf_free(&body);
    return rc;
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
    if (render_part(t->subject, &vars, AC_TEMPLATE_ESCAPE_NONE, &subject, err, errsz) < 0)
        goto out;
    if (ch == AC_CHANNEL_SMS) {
        if (render_sms(t, &vars, &text, &out->sms, err, errsz) < 0)
            goto out;
    } else {
        if (render_part(t->text, &vars, AC_TEMPLATE_ESCAPE_NONE, &text, err, errsz) < 0)
            goto out;
        if (render_html(t, &vars, &html, err, errsz) < 0)
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

int ac_render_check_templates(char *err, size_t errsz)
{
    for (size_t i = 0; i < n_builtin(); i++) {
        const template_entry_t *t = builtin(i);
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
        /* A misspelt name would shed nothing and cost a rendering. */
        for (const char *p = t->shed; p && *p;) {
            while (*p == ' ')
                p++;
            size_t w = strcspn(p, " ");
            char section[80];
            snprintf(section, sizeof(section), "{{#%.*s}}", (int)w, p);
            if (w > 0 && !strstr(t->text, section)) {
                snprintf(err, errsz, "%s %s %s: sheds %.*s, which it has no section for",
                         ac_kind_name(t->kind), ac_channel_name(t->channel), t->language, (int)w,
                         p);
                return -1;
            }
            p += w;
        }
    }
    return 0;
}

/* Reads "<kind>.<channel>.<language>.txt": an email's first line is
 * "Subject: ...", then a blank line, then the text. */
static int load_file(ac_templates_t *o, const char *dir, const char *name, const char *store,
                     char *err, size_t errsz)
{
    char kind_name[64], ch_name[16], lang[8], path[1024];
    ac_kind_t kind;
    ac_channel_t ch;
    int n = 0;
    if (sscanf(name, "%63[a-z_].%15[a-z].%7[a-z].txt%n", kind_name, ch_name, lang, &n) != 3 ||
        name[n] != '\0' || ac_kind_parse(kind_name, &kind) < 0 ||
        ac_channel_parse(ch_name, &ch) < 0 || strlen(lang) != 2) {
        snprintf(err, errsz, "%s/%s: not <kind>.<email|sms>.<language>.txt", dir, name);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    ac_buf_t b = AC_BUF_INIT;
    char chunk[4096];
    size_t got;
    if (!f) {
        snprintf(err, errsz, "%s: cannot read it", path);
        return -1;
    }
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < 256 * 1024)
        ac_buf_append(&b, chunk, got);
    fclose(f);
    char *text = ac_buf_steal(&b);
    ac_buf_free(&b);
    if (!text) {
        snprintf(err, errsz, "%s: empty", path);
        return -1;
    }
    char *subject = NULL, *body = text;
    if (ch == AC_CHANNEL_EMAIL) {
        char *nl = strchr(text, '\n');
        if (strncmp(text, "Subject: ", 9) != 0 || !nl) {
            snprintf(err, errsz, "%s: an email template starts with a \"Subject: \" line", path);
            free(text);
            return -1;
        }
        *nl = '\0';
        subject = strdup(text + 9);
        body = nl + 1;
        while (*body == '\n')
            body++;
        body = strdup(body);
        free(text);
        text = NULL;
    }
    char why[256] = "";
    if (ch == AC_CHANNEL_EMAIL && (!subject || !body))
        snprintf(why, sizeof(why), "out of memory");
    else if (subject && ac_template_check(subject, why, sizeof(why)) == 0)
        ac_template_check(body, why, sizeof(why));
    else if (!subject)
        ac_template_check(body, why, sizeof(why));
    if (why[0]) {
        snprintf(err, errsz, "%s: %s", path, why);
        free(subject);
        free(body);
        return -1;
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        template_entry_t *e = realloc(o->entries, cap * sizeof(*e));
        char **st = e ? realloc(o->stores, cap * sizeof(*st)) : NULL;
        if (e)
            o->entries = e;
        if (st)
            o->stores = st;
        if (!e || !st) {
            snprintf(err, errsz, "out of memory");
            free(subject);
            free(body);
            return -1;
        }
        o->cap = cap;
    }
    const char *language = strcmp(lang, "de") == 0 ? "de" : strcmp(lang, "en") == 0 ? "en" : NULL;
    if (!language) {
        snprintf(err, errsz, "%s: language %s is not one aftercare writes (en, de)", path, lang);
        free(subject);
        free(body);
        return -1;
    }
    o->entries[o->n] = (template_entry_t){kind, ch, language, subject, body, NULL};
    o->stores[o->n] = store ? strdup(store) : NULL;
    o->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads the .txt files of dir (store NULL) or of one store's
 * subdirectory, in name order so that errors are reported predictably. */
static int load_dir(ac_templates_t *o, const char *dir, const char *store, char *err, size_t errsz)
{
    int rc = -1;
    size_t n = 0, cap = 0;
    char **names = NULL, path[1024];
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errsz, "%s: cannot open the directory", dir);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown)
                goto out;
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name)))
            goto out;
        n++;
    }
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (stat(path, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (store) {
                snprintf(err, errsz, "%s: store directories do not nest", path);
                goto out;
            }
            if (load_dir(o, path, names[i], err, errsz) < 0)
                goto out;
        } else if (load_file(o, dir, names[i], store, err, errsz) < 0) {
            goto out;
        }
    }
    rc = 0;
out:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

ac_templates_t *ac_templates_load(const char *dir, char *err, size_t errsz)
{
    ac_templates_t *o = calloc(1, sizeof(*o));
    if (!o) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    if (dir && *dir && load_dir(o, dir, NULL, err, errsz) < 0) {
        ac_templates_destroy(o);
        return NULL;
    }
    return o;
}

void ac_templates_destroy(ac_templates_t *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++) {
        free((char *)o->entries[i].subject);
        free((char *)o->entries[i].text);
        free(o->stores[i]);
    }
    free(o->entries);
    free(o->stores);
    free(o);
}

size_t ac_templates_count(const ac_templates_t *o)
{
    return o ? o->n : 0;
}
