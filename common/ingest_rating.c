/* The one-click rating links, GET and POST /r/{token}: a customer's click
 * on one of the five stars of a review request, and the comment they may
 * add, become feedback.received events on the orders topic.
 *
 * Unlike the webhooks, the caller is a person with a browser, so every
 * answer is a small page in their language (rating_page.c), and it says
 * nothing a forged link could have chosen: the store's name is shown only
 * once the token verified. Everything the events say comes from the
 * signed token; the request adds only the comment and the language.
 *
 * A token is not single-use, and one message's five links all name the
 * same message, so every click of them gives the same event id: the
 * order-worker keeps the first and drops the others, which makes the first
 * click the rating. The comment has an event id of its own, derived the
 * same way, so the first comment counts too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ingest.h"
#include "ingest_int.h"
#include "log.h"
#include "rating_page.h"
#include "timeutil.h"

/* One request to /r/, from its token to its page. */
typedef struct click {
    ac_ingest_t *g;
    const ac_ingest_req_t *req;
    ac_ingest_resp_t *resp;
    const char *token;
    const char *lang;
    const char *result;
    /* The token's store in STORE_SETTINGS: NULL until the token verified,
     * and for a store the file does not list. */
    const ac_store_creds_t *store;
    ac_rtoken_t tok;
} click_t;

static const char *const RATING_LABELS[5] = {"rating=\"1\"", "rating=\"2\"", "rating=\"3\"",
                                             "rating=\"4\"", "rating=\"5\""};

/* Every rating is exported from the start, at 0, so that a rate over it
 * is defined before the first customer clicked that star. */
void ac_ingest_rating_describe_metrics(ac_metrics_t *m)
{
    ac_metrics_describe(m, "aftercare_ratings_received_total", AC_METRIC_COUNTER,
                        "One-click ratings produced to Kafka, by rating (1 to 5); repeated "
                        "clicks of one message's links count again, the workers keep the first.");
    for (size_t i = 0; i < 5; i++)
        ac_metrics_add(m, "aftercare_ratings_received_total", RATING_LABELS[i], 0);
}

/* "evt_rating_" and the first 32 hex digits of the SHA-256 of the message
 * id, with "\ncomment" appended for the comment's event: the same for
 * every click of one message's links. */
static void event_id(const char *message, int comment, char out[44])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    memset(md, 0, sizeof(md));
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(ctx, message, strlen(message)) == 1 &&
        (!comment || EVP_DigestUpdate(ctx, "\ncomment", 8) == 1))
        EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    memcpy(out, "evt_rating_", 11);
    for (size_t i = 0; i < 16; i++)
        snprintf(out + 11 + 2 * i, 3, "%02x", md[i]);
}

json_object *ac_ingest_rating_event(const ac_rtoken_t *t, const ac_canon_store_t *store,
                                    const char *comment, int64_t now_ms)
{
    char id[44], at[AC_TIME_BUFSZ];
    ac_canon_store_t s = {t->store, NULL, NULL, NULL};
    if (store) {
        s.name = store->name;
        s.locale = store->locale;
        s.timezone = store->timezone;
    }
    event_id(t->message, comment != NULL, id);
    ac_time_format(now_ms, at, sizeof(at));
    json_object *ev = ac_canon_event_new(id, "feedback.received", at, &s, t->order);
    json_object *customer = ev ? ac_canon_section(ev, "customer") : NULL;
    json_object *fb = ev ? ac_canon_section(ev, "feedback") : NULL;
    json_object *rating = json_object_new_int(t->rating);
    if (!customer || !fb || !rating) {
        json_object_put(rating);
        json_object_put(ev);
        return NULL;
    }
    ac_canon_set_str(customer, "id", t->customer);
    json_object_object_add(fb, "rating", rating);
    ac_canon_set_str(fb, "message_id", t->message);
    ac_canon_set_str(fb, "source", "rating_link");
    if (comment)
        ac_canon_set_str(fb, "comment", comment);
    return ev;
}

/* Answers with a page of kind; a THANKS page gets the comment form when
 * form is set. Without memory for the page, the one-line text goes. */
static void page(click_t *c, int status, ac_rating_page_kind_t kind, const char *result, int form)
{
    char action[AC_RTOKEN_MAX_LEN + 16];
    ac_rating_page_t p = {kind, c->lang, c->store ? c->store->store.name : NULL, 0, NULL};
    if (kind == AC_RATING_PAGE_THANKS) {
        p.rating = c->tok.rating;
        /* Relative to /r/{token}, so that it works behind a proxy that
         * serves the gateway under a path of its own. */
        snprintf(action, sizeof(action), "%s?lang=%s", c->token, c->lang);
        p.form_action = form ? action : NULL;
    }
    c->result = result;
    c->resp->status = status;
    snprintf(c->resp->text, sizeof(c->resp->text), "rating link: %s", result);
    c->resp->body = ac_rating_page_render(&p, &c->resp->body_len);
    if (c->resp->body) {
        c->resp->content_type = AC_RATING_PAGE_CONTENT_TYPE;
        c->resp->headers = ac_rating_page_headers;
    }
}

/* Checks the token; answers 404 or 410 when it does not verify. The store
 * and the language are known only from a genuine token. */
static int verified(click_t *c)
{
    size_t len = strnlen(c->token, AC_RTOKEN_MAX_LEN);
    ac_rtoken_result_t r =
        ac_rtoken_verify(c->g->o.rating_secrets, c->token, len, ac_time_now_ms() / 1000, &c->tok);
    if (r == AC_RTOKEN_OK || r == AC_RTOKEN_EXPIRED)
        c->store = ac_creds_by_id(c->g->creds, c->tok.store);
    c->lang = ac_rating_page_lang(c->req->query, c->store ? c->store->store.locale : NULL);
    if (r == AC_RTOKEN_OK)
        return 1;
    /* Refusals are logged at info: anyone on the internet can make them,
     * and a customer clicking an old email is no incident. */
    if (r == AC_RTOKEN_EXPIRED) {
        ac_log(AC_LOG_INFO, "refused a rating link for store %s: 410 expired", c->tok.store);
        page(c, 410, AC_RATING_PAGE_EXPIRED, "expired", 0);
    } else {
        ac_log(AC_LOG_INFO, "refused a rating link: 404 %s", ac_rtoken_result_name(r));
        page(c, 404, AC_RATING_PAGE_INVALID, "invalid", 0);
    }
    return 0;
}

/* Produces the token's event (with the comment, when not NULL) to the
 * orders topic, keyed by its order like every event of the order. Returns
 * 0, or -1 having answered 503. */
static int produce(click_t *c, const char *comment)
{
    char err[256] = "out of memory", labels[160];
    json_object *ev = ac_ingest_rating_event(&c->tok, c->store ? &c->store->store : NULL, comment,
                                             ac_time_now_ms());
    int rc = -1;
    if (ev) {
        const char *v = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
        ac_iprod_rec_t rec = {c->g->o.topic_orders, c->tok.order, v, strlen(v), NULL};
        rc = ac_iprod_send(c->g->prod, &rec, 1, err, sizeof(err));
    }
    json_object_put(ev);
    if (rc < 0) {
        ac_log(AC_LOG_WARN, "refused a rating link for store %s: 503 %s", c->tok.store, err);
        page(c, 503, AC_RATING_PAGE_UNAVAILABLE, "unavailable", 0);
        return -1;
    }
    snprintf(labels, sizeof(labels), "topic=\"%s\",type=\"feedback.received\"",
             c->g->o.topic_orders);
    ac_metrics_add(c->g->m, "aftercare_ingest_events_produced_total", labels, 1);
    return 0;
}

static void take_rating(click_t *c)
{
    if (produce(c, NULL) < 0)
        return;
    ac_metrics_add(c->g->m, "aftercare_ratings_received_total", RATING_LABELS[c->tok.rating - 1],
                   1);
    page(c, 200, AC_RATING_PAGE_THANKS, "ok", ac_rating_page_wants_comment(c->tok.rating));
}

/* A comment for any rating is taken, though only the low ones are asked
 * for one: what the customer wrote is worth passing on. */
static void take_comment(click_t *c)
{
    char comment[AC_RATING_PAGE_MAX_COMMENT + 1];
    if (!ac_rating_page_comment(c->req->body, c->req->len, comment, sizeof(comment))) {
        page(c, 200, AC_RATING_PAGE_THANKS, "ignored", 0);
        return;
    }
    if (produce(c, comment) == 0)
        page(c, 200, AC_RATING_PAGE_COMMENTED, "ok", 0);
}

const char *ac_ingest_rating_route(ac_ingest_t *g, const ac_ingest_req_t *req,
                                   ac_ingest_resp_t *resp, const char **topic)
{
    int post = !req->method || strcmp(req->method, "POST") == 0;
    click_t c = {.g = g,
                 .req = req,
                 .resp = resp,
                 .token = req->path + 3,
                 .lang = "en",
                 .result = "not_found"};
    *topic = post ? "comment" : "link";
    if (!g->o.rating_secrets || !g->o.rating_secrets->n) {
        resp->status = 404;
        snprintf(resp->text, sizeof(resp->text), "rating links are not set up");
        return "not_found";
    }
    if (!verified(&c))
        return c.result;
    if (post)
        take_comment(&c);
    else
        take_rating(&c);
    return c.result;
}
