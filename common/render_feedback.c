/* The built-in templates of the messages a complaint leads to (rules.c):
 * the customer's follow-up and the store's alert. Kept apart from
 * render_catalog.c's catalog of the order's journey, which they share
 * everything else with. */
#include "render_int.h"

/* The follow-up apologises, says what happens next and how to reach the
 * store; it does not ask for anything, and is sent whatever the
 * customer's marketing choices, being an answer to what they told us. It
 * promises a person's answer within a working day only when the store's
 * support hears of the complaint ({{#support}}: a store_alert goes out);
 * otherwise it promises no more than that the store reads replies. */
const template_entry_t ac_render_feedback_templates[] = {
    {AC_KIND_FEEDBACK_FOLLOWUP, AC_CHANNEL_EMAIL, "en",
     "We are sorry about your order {{order_number}}",
     "{{#first_name}}Hi {{first_name}},{{/first_name}}{{^first_name}}Hello,{{/first_name}}\n\n"
     "thank you for telling us how your order {{order_number}}{{#store_name}} from "
     "{{store_name}}{{/store_name}} went. We are sorry it was not what you hoped for.\n\n"
     "{{#support}}{{#comment}}We have read what you wrote, and {{/comment}}"
     "{{^comment}}What happens next: {{/comment}}"
     "someone from our team will get back to you within one working day to put it right.\n\n"
     "If you would like to tell us more in the meantime, or if something is urgent, just reply "
     "to this message: it reaches a person, not a machine.\n{{/support}}"
     "{{^support}}If you tell us what went wrong by replying to this message, we will do our "
     "best to put it right.\n{{/support}}",
     NULL},
    {AC_KIND_FEEDBACK_FOLLOWUP, AC_CHANNEL_EMAIL, "de",
     "Es tut uns leid: Ihre Bestellung {{order_number}}",
     "{{#first_name}}Hallo {{first_name}},{{/first_name}}{{^first_name}}Guten Tag,{{/first_name}}"
     "\n\ndanke, dass Sie uns gesagt haben, wie es mit Ihrer Bestellung {{order_number}}"
     "{{#store_name}} bei {{store_name}}{{/store_name}} gelaufen ist. Es tut uns leid, dass sie "
     "nicht Ihren Erwartungen entsprach.\n\n"
     "{{#support}}{{#comment}}Wir haben gelesen, was Sie geschrieben haben, und {{/comment}}"
     "{{^comment}}So geht es weiter: {{/comment}}"
     "jemand aus unserem Team meldet sich innerhalb eines Werktags, um die Sache in Ordnung zu "
     "bringen.\n\n"
     "Wenn Sie uns bis dahin mehr erzählen möchten oder es eilig ist, antworten Sie einfach auf "
     "diese Nachricht: Sie erreicht einen Menschen, keine Maschine.\n{{/support}}"
     "{{^support}}Wenn Sie uns mit einer Antwort auf diese Nachricht sagen, was schiefgelaufen "
     "ist, tun wir unser Bestes, es in Ordnung zu bringen.\n{{/support}}",
     NULL},
    {AC_KIND_FEEDBACK_FOLLOWUP, AC_CHANNEL_SMS, "en", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}{{#first_name}}{{first_name}}, "
     "{{/first_name}}sorry your order {{order_number}} let you down."
     "{{#support}} Someone from our team will contact you within a working day"
     "{{#extra}}; reply here to tell us more{{/extra}}.{{/support}}"
     "{{^support}} Reply here to tell us what went wrong.{{/support}}",
     "extra first_name store_name"},
    {AC_KIND_FEEDBACK_FOLLOWUP, AC_CHANNEL_SMS, "de", NULL,
     "{{#store_name}}{{store_name}}: {{/store_name}}{{#first_name}}{{first_name}}, "
     "{{/first_name}}es tut uns leid, dass Bestellung {{order_number}} Sie enttäuscht hat."
     "{{#support}} Wir melden uns innerhalb eines Werktags{{#extra}}; antworten Sie gern "
     "hier{{/extra}}.{{/support}}"
     "{{^support}} Antworten Sie gern hier, was schiefgelaufen ist.{{/support}}",
     "extra first_name store_name"},
    /* The alert is for the store's support team, in the store's language:
     * what was rated, how, and what the customer wrote, so that a person
     * can answer within the day. It names the customer by id and first
     * name; the store's own systems have the rest. */
    {AC_KIND_STORE_ALERT, AC_CHANNEL_EMAIL, "en",
     "Complaint: order {{order_number}}{{#rating}} rated {{rating}} of 5{{/rating}}",
     "A customer rated order {{order_number}}{{#rating}} {{rating}} of 5 "
     "({{stars}}){{/rating}}{{^rating}} poorly{{/rating}}.\n\n"
     "Customer: {{#first_name}}{{first_name}}, {{/first_name}}id {{customer_id}}\n"
     "{{#comment}}They wrote:\n\n{{comment}}\n\n{{/comment}}"
     "{{^comment}}They left no comment.\n\n{{/comment}}"
     "aftercare has sent them an apology saying that someone will get back to them within one "
     "working day. Please contact them today.\n",
     NULL},
    {AC_KIND_STORE_ALERT, AC_CHANNEL_EMAIL, "de",
     "Beschwerde: Bestellung {{order_number}}{{#rating}} mit {{rating}} von 5 "
     "bewertet{{/rating}}",
     "Eine Kundin oder ein Kunde hat die Bestellung {{order_number}}{{#rating}} mit {{rating}} "
     "von 5 ({{stars}}){{/rating}}{{^rating}} schlecht{{/rating}} bewertet.\n\n"
     "Kunde: {{#first_name}}{{first_name}}, {{/first_name}}ID {{customer_id}}\n"
     "{{#comment}}Kommentar:\n\n{{comment}}\n\n{{/comment}}"
     "{{^comment}}Ohne Kommentar.\n\n{{/comment}}"
     "aftercare hat sich entschuldigt und angekündigt, dass sich innerhalb eines Werktags jemand "
     "meldet. Bitte nehmen Sie heute Kontakt auf.\n",
     NULL},
    {AC_KIND_STORE_ALERT, AC_CHANNEL_SMS, "en", NULL,
     "Complaint: order {{order_number}}{{#rating}} rated {{rating}}/5{{/rating}} by customer "
     "{{customer_id}}."
     "{{#comment}} \"{{comment}}\"{{/comment}} Please contact them today.",
     "comment"},
    {AC_KIND_STORE_ALERT, AC_CHANNEL_SMS, "de", NULL,
     "Beschwerde: Bestellung {{order_number}}{{#rating}} mit {{rating}}/5 bewertet{{/rating}}, "
     "Kunde {{customer_id}}."
     "{{#comment}} \"{{comment}}\"{{/comment}} Bitte heute Kontakt aufnehmen.",
     "comment"},
};

const size_t ac_render_n_feedback_templates =
    sizeof(ac_render_feedback_templates) / sizeof(ac_render_feedback_templates[0]);
