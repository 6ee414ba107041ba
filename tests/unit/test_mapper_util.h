/* What the platform mapper tests share: reading fixtures, looking into the
 * events a mapper built, and running each through the workers' validator.
 * Include it after <cmocka.h>. */
#ifndef AC_TEST_MAPPER_UTIL_H
#define AC_TEST_MAPPER_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "canon.h"
#include "event.h"

#ifndef AC_FIXTURES
#error "AC_FIXTURES (tests/data/platforms) is defined by tests/unit/CMakeLists.txt"
#endif

/* The whole of fixture rel (under tests/data/platforms), NUL-terminated;
 * its length in *len when len is non-NULL. Fails the test when absent. */
static inline char *mt_slurp(const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", AC_FIXTURES, rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        print_error("cannot open fixture %s\n", path);
        fail();
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Fixture rel parsed (json-c keeps 64-bit integers exact). */
static inline json_object *mt_load(const char *rel)
{
    char *text = mt_slurp(rel, NULL);
    json_object *o = json_tokener_parse(text);
    free(text);
    if (!o) {
        print_error("fixture %s is not JSON\n", rel);
        fail();
    }
    return o;
}

/* The member at a dotted path ("order.items.1.sku"; a number indexes an
 * array) as text: strings as they are, numbers and booleans as json-c
 * prints them. NULL when any step is absent or null. */
static inline const char *mt_at(json_object *o, const char *path)
{
    char part[128];
    const char *p = path;
    while (o && *p) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof(part))
            return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        p += n + (p[n] == '.');
        if (json_object_is_type(o, json_type_array)) {
            char *end = NULL;
            long i = strtol(part, &end, 10);
            if (*end || i < 0 || (size_t)i >= json_object_array_length(o))
                return NULL;
            o = json_object_array_get_idx(o, (size_t)i);
        } else if (!json_object_is_type(o, json_type_object) ||
                   !json_object_object_get_ex(o, part, &o)) {
            return NULL;
        }
    }
    return o ? json_object_get_string(o) : NULL;
}

#define assert_at(obj, path, want) assert_string_equal(mt_at((obj), (path)), (want))
#define assert_absent(obj, path)   assert_null(mt_at((obj), (path)))

/* Serialises ev and runs it through ac_event_parse() as a worker would
 * read the Kafka record: it must pass unchanged. Returns the parsed event
 * (ac_event_destroy() it). */
static inline ac_event_t *mt_validate(json_object *ev)
{
    size_t len = 0;
    const char *text = json_object_to_json_string_length(ev, JSON_C_TO_STRING_PLAIN, &len);
    ac_event_error_t err;
    memset(&err, 0, sizeof(err));
    ac_event_t *parsed = ac_event_parse(text, len, 0, &err);
    if (!parsed) {
        print_error("the validator refused %s: %s (%s)\n", text, err.detail,
                    ac_event_err_name(err.code));
        fail();
    }
    assert_int_not_equal(parsed->type, AC_EVENT_UNKNOWN);
    assert_string_equal(ac_canon_topic(parsed->type_name), ac_event_type_topic(parsed->type));
    return parsed;
}

/* Every event of b passes the validator, and complete: with a customer. */
static inline void mt_validate_all(const ac_canon_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        ac_event_t *ev = mt_validate(b->ev[i]);
        assert_false(ac_canon_needs_context(b->ev[i]));
        ac_event_destroy(ev);
    }
}

/* The event id ac_canon_event_id() gives these parts, for comparing. */
static inline const char *mt_event_id(const char *platform, const char *store, const char *identity,
                                      const char *type, const char *disc, char out[48])
{
    ac_canon_event_id(platform, store, identity, type, disc, out, 48);
    return out;
}

#endif
