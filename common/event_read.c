/* Reading a record without a JSON tree (event_int.h): yajl's callbacks fill
 * the contract's fields as the record streams past, and only the strings the
 * event keeps are copied, into memory the event owns.  json-c's tree is what
 * defines a record's meaning (ac_event_from_json()), so this reader gives
 * up, leaving the record to json-c, wherever yajl could read it differently:
 * invalid JSON of any kind (json-c then names the error), a number outside
 * JSON's grammar, nesting near json-c's depth limit, white space JSON does
 * not know, a string holding NUL (json-c keeps only the last of two members
 * of the same name, so a NUL in the first must not count), and a \u escape
 * of a surrogate (the two libraries decode a lone one differently). A member
 * given twice counts once, the last time, as in json-c's tree: an object
 * given again replaces all it held. fuzz_event checks that both ways agree
 * on every input. */
#include "event_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

/* json-c's tokener refuses nesting of 64 and more; well below it this
 * reader gives up. */
#define MAX_DEPTH 48

/* What the object or array being read is. */
typedef enum target {
    T_IGNORE = 0,
    T_ROOT,
    T_STORE,
    T_ORDER,
    T_ITEMS,
    T_ITEM,
    T_CUSTOMER,
    T_SHIPMENT,
    T_RETURN,
    T_FEEDBACK,
} target_t;

typedef struct reader {
    ac_event_fields_t *f;
    char *arena; /* the event's memory for the strings it keeps */
    size_t used, cap;
    target_t stack[MAX_DEPTH];
    int depth;
    ac_jv_t *pending;     /* where the value of the member just named goes */
    target_t pending_obj; /* what that value is, should it be an object or array */
    int root_seen;
    yajl_handle h;
    size_t end; /* where the top object ended */
} reader_t;

/* A member of a known object: its name, and where its value goes. */
typedef struct member {
    const char *name;
    size_t off; /* of its ac_jv_t in ac_event_fields_t (or in an item) */
    target_t obj;
} member_t;

#define F(path) offsetof(ac_event_fields_t, path)
#define I(path) offsetof(ac_event_item_fields_t, path)
#define M(n, off)                                                                                  \
    {                                                                                              \
        n, off, T_IGNORE                                                                           \
    }
#define O(n, off, tg)                                                                              \
    {                                                                                              \
        n, off, tg                                                                                 \
    }

static const member_t root_members[] = {M("event_id", F(event_id)),
                                        M("type", F(type)),
                                        M("occurred_at", F(occurred_at)),
                                        O("store", F(store_v), T_STORE),
                                        O("order", F(order_v), T_ORDER),
                                        O("customer", F(customer_v), T_CUSTOMER),
                                        O("shipment", F(shipment_v), T_SHIPMENT),
                                        O("return", F(ret_v), T_RETURN),
                                        O("feedback", F(feedback_v), T_FEEDBACK),
                                        {NULL, 0, T_IGNORE}};
static const member_t store_members[] = {M("id", F(store.id)),
                                         M("name", F(store.name)),
                                         M("locale", F(store.locale)),
                                         M("timezone", F(store.timezone)),
                                         {NULL, 0, T_IGNORE}};
static const member_t order_members[] = {
    M("id", F(order.id)),
    M("number", F(order.number)),
    M("currency", F(order.currency)),
    M("promised_delivery_date", F(order.promised_delivery_date)),
    M("total", F(order.total)),
    O("items", F(order.items), T_ITEMS),
    {NULL, 0, T_IGNORE}};
static const member_t item_members[] = {M("sku", I(sku)),           M("name", I(name)),
                                        M("category", I(category)), M("quantity", I(quantity)),
                                        M("price", I(price)),       {NULL, 0, T_IGNORE}};
static const member_t customer_members[] = {M("id", F(customer.id)),
                                            M("email", F(customer.email)),
                                            M("phone", F(customer.phone)),
                                            M("first_name", F(customer.first_name)),
                                            M("locale", F(customer.locale)),
                                            M("timezone", F(customer.timezone)),
                                            M("marketing_consent", F(customer.marketing_consent)),
                                            {NULL, 0, T_IGNORE}};
static const member_t shipment_members[] = {M("id", F(shipment.id)),
                                            M("carrier", F(shipment.carrier)),
                                            M("tracking_number", F(shipment.tracking_number)),
                                            M("tracking_url", F(shipment.tracking_url)),
                                            M("status", F(shipment.status)),
                                            M("estimated_delivery", F(shipment.estimated_delivery)),
                                            {NULL, 0, T_IGNORE}};
static const member_t return_members[] = {M("id", F(ret.id)),
                                          M("reason", F(ret.reason)),
                                          M("label_url", F(ret.label_url)),
                                          M("instructions_url", F(ret.instructions_url)),
                                          M("refund_amount", F(ret.refund_amount)),
                                          {NULL, 0, T_IGNORE}};
static const member_t feedback_members[] = {
    M("rating", F(feedback.rating)), M("comment", F(feedback.comment)), {NULL, 0, T_IGNORE}};

static const member_t *members_of(target_t t)
{
    switch (t) {
    case T_ROOT:
        return root_members;
    case T_STORE:
        return store_members;
    case T_ORDER:
        return order_members;
    case T_ITEM:
        return item_members;
    case T_CUSTOMER:
        return customer_members;
    case T_SHIPMENT:
        return shipment_members;
    case T_RETURN:
        return return_members;
    case T_FEEDBACK:
        return feedback_members;
    default:
        return NULL;
    }
}

/* Forgets what an object held, as json-c's tree does when a member of the
 * same name comes again. */
static void reset(ac_event_fields_t *f, target_t t)
{
    switch (t) {
    case T_STORE:
        memset(&f->store, 0, sizeof(f->store));
        break;
    case T_ORDER: {
        ac_event_item_fields_t *keep = f->order.item;
        size_t cap = f->order.cap;
        memset(&f->order, 0, sizeof(f->order));
        f->order.item = keep;
        f->order.cap = cap;
        break;
    }
    case T_ITEMS:
        f->order.n_items = 0;
        break;
    case T_CUSTOMER:
        memset(&f->customer, 0, sizeof(f->customer));
        break;
    case T_SHIPMENT:
        memset(&f->shipment, 0, sizeof(f->shipment));
        break;
    case T_RETURN:
        memset(&f->ret, 0, sizeof(f->ret));
        break;
    case T_FEEDBACK:
        memset(&f->feedback, 0, sizeof(f->feedback));
        break;
    default:
        break;
    }
}

/* Copies n bytes into the arena, NUL-terminated. */
static const char *keep(reader_t *r, const char *s, size_t n)
{
    if (r->used + n + 1 > r->cap)
        return NULL;
    char *d = r->arena + r->used;
    memcpy(d, s, n);
    d[n] = '\0';
    r->used += n + 1;
    return d;
}

/* Takes the slot the next value goes to (NULL: nowhere), and whether the
 * reader stays in business. */
static ac_jv_t *take_pending(reader_t *r, target_t *obj)
{
    ac_jv_t *v = r->pending;
    *obj = r->pending_obj;
    r->pending = NULL;
    r->pending_obj = T_IGNORE;
    return v;
}

/* The slot of the next element of the array being read: a new item for
 * an object in order.items, else nowhere. */
static int element_slot(reader_t *r, int is_object, target_t *obj)
{
    *obj = T_IGNORE;
    if (r->depth == 0 || r->stack[r->depth - 1] != T_ITEMS || !is_object)
        return 0;
    ac_event_fields_t *f = r->f;
    if (f->order.n_items == f->order.cap) {
        size_t cap = f->order.cap ? 2 * f->order.cap : 4;
        void *p = realloc(f->order.item, cap * sizeof(*f->order.item));
        if (!p)
            return -1;
        f->order.item = p;
        f->order.cap = cap;
    }
    memset(&f->order.item[f->order.n_items++], 0, sizeof(*f->order.item));
    *obj = T_ITEM;
    return 0;
}

static int on_scalar(reader_t *r, const ac_jv_t *v)
{
    target_t obj;
    ac_jv_t *slot = take_pending(r, &obj);
    if (r->depth == 0)
        return 0; /* not an object at the top: json-c says what it is */
    if (slot) {
        *slot = *v;
        reset(r->f, obj); /* an object given before is gone */
    }
    return 1;
}

static int cb_null(void *ctx)
{
    ac_jv_t v = {.kind = AC_JV_NULL};
    return on_scalar(ctx, &v);
}

static int cb_boolean(void *ctx, int b)
{
    ac_jv_t v = {.kind = AC_JV_BOOL, .b = b};
    return on_scalar(ctx, &v);
}

/* Whether s is a number as JSON's grammar writes it: yajl's lexer is
 * more lenient in places, and json-c then decides. */
static int json_number(const char *s, size_t n, int *is_double)
{
    size_t i = 0;
    *is_double = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        *is_double = 1;
        if (++i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        *is_double = 1;
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i == n;
}

/* A whole number as json-c reads it: clamped to 64 bits (beyond them it
 * is INT64_MAX or INT64_MIN, which ids refuse), its text in decimal. */
static int int_value(reader_t *r, const char *text, size_t n, ac_jv_t *v)
{
    char tmp[32], out[24];
    if (n >= sizeof(tmp)) {
        v->i = text[0] == '-' ? INT64_MIN : INT64_MAX;
    } else {
        memcpy(tmp, text, n);
        tmp[n] = '\0';
        errno = 0;
        long long x = strtoll(tmp, NULL, 10);
        v->i = errno == ERANGE ? (text[0] == '-' ? INT64_MIN : INT64_MAX) : x;
    }
    v->kind = AC_JV_INT;
    int len = snprintf(out, sizeof(out), "%lld", (long long)v->i);
    v->n = (size_t)len;
    return (v->s = keep(r, out, (size_t)len)) != NULL;
}

static int cb_number(void *ctx, const char *s, size_t n)
{
    reader_t *r = ctx;
    int is_double;
    ac_jv_t v = {0};
    if (!json_number(s, n, &is_double))
        return 0;
    if (!r->pending) /* nobody keeps it: only its form mattered */
        return on_scalar(r, &v);
    if (is_double) {
        char tmp[64];
        if (n >= sizeof(tmp))
            return 0; /* json-c reads such a double; leave it to it */
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        v.kind = AC_JV_DOUBLE;
        v.d = strtod(tmp, NULL);
    } else if (!int_value(r, s, n, &v)) {
        return 0;
    }
    return on_scalar(r, &v);
}

static int cb_string(void *ctx, const unsigned char *s, size_t n)
{
    reader_t *r = ctx;
    ac_jv_t v = {.kind = AC_JV_STRING, .n = n};
    if (memchr(s, '\0', n))
        return 0;
    if (r->pending && !(v.s = keep(r, (const char *)s, n)))
        return 0;
    return on_scalar(r, &v);
}

/* Opens an object or array: whatever named it now holds one, and what it
 * is decides how its members are read. */
static int open_container(reader_t *r, ac_jv_kind_t kind)
{
    target_t obj;
    if (r->depth == MAX_DEPTH)
        return 0;
    if (r->depth == 0) {
        if (r->root_seen || kind != AC_JV_OBJECT)
            return 0;
        r->root_seen = 1;
        r->stack[r->depth++] = T_ROOT;
        return 1;
    }
    ac_jv_t *slot = take_pending(r, &obj);
    if (slot) {
        memset(slot, 0, sizeof(*slot));
        slot->kind = kind;
        reset(r->f, obj);
    } else if (element_slot(r, kind == AC_JV_OBJECT, &obj) < 0) {
        return 0;
    }
    /* Only objects are read into, and order.items as an array. */
    if ((kind == AC_JV_OBJECT) != (obj != T_ITEMS))
        obj = T_IGNORE;
    r->stack[r->depth++] = obj;
    return 1;
}

static int cb_start_map(void *ctx)
{
    return open_container(ctx, AC_JV_OBJECT);
}

static int cb_start_array(void *ctx)
{
    return open_container(ctx, AC_JV_ARRAY);
}

static int cb_end(void *ctx)
{
    reader_t *r = ctx;
    if (--r->depth == 0)
        r->end = yajl_get_bytes_consumed(r->h);
    return 1;
}

/* A member's name: json-c keeps it only up to a NUL, so this does too. */
static int cb_map_key(void *ctx, const unsigned char *key, size_t n)
{
    reader_t *r = ctx;
    const member_t *m = members_of(r->stack[r->depth - 1]);
    const char *nul = memchr(key, '\0', n);
    if (nul)
        n = (size_t)(nul - (const char *)key);
    r->pending = NULL;
    r->pending_obj = T_IGNORE;
    /* The first byte rules out most names without a strlen (a profile had
     * strlen here at 2 % of order-worker's CPU). */
    unsigned char first = n ? key[0] : 0;
    for (; m && m->name; m++) {
        if ((unsigned char)m->name[0] != first || strlen(m->name) != n ||
            memcmp(m->name, key, n) != 0)
            continue;
        char *base = r->stack[r->depth - 1] == T_ITEM
                         ? (char *)&r->f->order.item[r->f->order.n_items - 1]
                         : (char *)r->f;
        r->pending = (ac_jv_t *)(base + m->off);
        r->pending_obj = m->obj;
        break;
    }
    return 1;
}

static const yajl_callbacks callbacks = {cb_null,   cb_boolean,     NULL,         NULL,
                                         cb_number, cb_string,      cb_start_map, cb_map_key,
                                         cb_end,    cb_start_array, cb_end};

/* Whether the record holds a \u escape of a UTF-16 surrogate (or what
 * looks like one after an escaped backslash: reading that with json-c too
 * only costs time). */
static int has_surrogate_escape(const char *buf, size_t len)
{
    for (const char *p = memchr(buf, '\\', len); p;
         p = memchr(p + 1, '\\', len - (size_t)(p + 1 - buf))) {
        size_t left = len - (size_t)(p - buf);
        if (left >= 4 && p[1] == 'u' && (p[2] == 'd' || p[2] == 'D') && p[3] &&
            strchr("89abcdefABCDEF", p[3]))
            return 1;
        if (left < 2)
            break;
    }
    return 0;
}

/* Runs yajl over the record. Returns 1 when it read a whole object, 0
 * when json-c must decide. */
static int run(reader_t *r, const char *buf, size_t len)
{
    yajl_handle h = r->h = yajl_alloc(&callbacks, NULL, r);
    if (!h)
        return 0;
    /* The record is UTF-8 already (ac_event_precheck()). */
    yajl_config(h, yajl_dont_validate_strings, 1);
    int ok = yajl_parse(h, (const unsigned char *)buf, len) == yajl_status_ok &&
             yajl_complete_parse(h) == yajl_status_ok && r->root_seen && r->depth == 0;
    yajl_free(h);
    /* yajl lets an unfinished token after the value pass (a lone quote):
     * only white space may follow it. */
    for (size_t i = r->end; ok && i < len; i++)
        ok = buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r';
    return ok;
}

ac_event_t *ac_event_read(const char *buf, size_t len, ac_event_error_t *err, int *decided)
{
    ac_event_fields_t f;
    memset(&f, 0, sizeof(f));
    *decided = 0;
    /* yajl also takes form feeds and vertical tabs for white space; JSON
     * does not, and neither may stand raw inside a string. */
    if (has_surrogate_escape(buf, len) || memchr(buf, '\f', len) || memchr(buf, '\v', len))
        return NULL;
    /* One block: the event, its copy of the record, and the strings it
     * keeps, which are never longer than the record's text of them. */
    size_t arena = 2 * len + 64;
    ac_event_t *ev = calloc(1, sizeof(*ev) + len + 1 + arena);
    if (!ev)
        return NULL;
    char *raw = (char *)(ev + 1);
    memcpy(raw, buf, len);
    raw[len] = '\0';
    ev->raw = raw;
    ev->raw_len = len;
    reader_t r = {.f = &f, .arena = raw + len + 1, .cap = arena};
    if (!run(&r, buf, len))
        goto fail;
    *decided = 1;
    if (ac_event_build(ev, &f, err) < 0)
        goto fail;
    free(f.order.item);
    return ev;
fail:
    free(f.order.item);
    ac_event_destroy(ev);
    return NULL;
}
