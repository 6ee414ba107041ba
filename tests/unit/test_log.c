/* Unit tests for common/log: address masking, level names and the JSON
 * line format. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"
#include "test_util.h"

static const char *mask(const char *addr)
{
    static char buf[128];
    memset(buf, 'x', sizeof(buf));
    const char *r = ac_log_mask(addr, buf, sizeof(buf));
    assert_ptr_equal(r, buf);
    return buf;
}

static void test_mask_email(void **state)
{
    (void)state;
    assert_string_equal(mask("zoe.mueller@example.com"), "z***@example.com");
    assert_string_equal(mask("j@example.de"), "j***@example.de");
    const char *m = mask("juergen+orders@mail.example.co.uk");
    assert_not_contains(m, "juergen");
    assert_not_contains(m, "orders");
    assert_contains(m, "@mail.example.co.uk");
}

static void test_mask_phone(void **state)
{
    (void)state;
    assert_string_equal(mask("+4915112345678"), "+49*********78");
    assert_string_equal(mask("+447700900123"), "+44********23");
    assert_string_equal(mask("015112345678"), "01********78");
    const char *m = mask("+4915112345678");
    assert_int_equal(strlen(m), strlen("+4915112345678"));
    assert_not_contains(m, "151123456");
}

static void test_mask_short_and_other(void **state)
{
    (void)state;
    /* Too short to keep anything without revealing most of it. */
    assert_string_equal(mask("123456"), "***");
    assert_string_equal(mask("+12345"), "***");
    assert_string_equal(mask("hello"), "***");
    assert_string_equal(mask("Zoë Jürgen"), "***");
    assert_string_equal(mask("@example.com"), "***");
    assert_string_equal(mask(""), "-");
    assert_string_equal(mask(NULL), "-");
}

static void test_mask_never_reveals_address(void **state)
{
    (void)state;
    static const char *addrs[] = {"zoe@example.com", "ab@example.com",  "+4915112345678",
                                  "01511234567",     "+1 555 0100 999", "1234567",
                                  "secret-token",    "zoë@exämple.de",  "x@y"};
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        const char *m = mask(addrs[i]);
        if (strcmp(m, addrs[i]) == 0 || strstr(m, addrs[i]) != NULL)
            fail_msg("masking %s revealed it: %s", addrs[i], m);
        assert_contains(m, "*");
    }
}

static void test_mask_small_buffer(void **state)
{
    (void)state;
    char buf[6];
    memset(buf, 'x', sizeof(buf));
    assert_ptr_equal(ac_log_mask("zoe@example.com", buf, sizeof(buf)), buf);
    assert_string_equal(buf, "z***@");
    memset(buf, 'x', sizeof(buf));
    ac_log_mask("+4915112345678", buf, sizeof(buf));
    assert_string_equal(buf, "+49**");
    char one[1] = {'x'};
    ac_log_mask("zoe@example.com", one, sizeof(one));
    assert_int_equal(one[0], '\0');
    char none[1] = {'x'};
    ac_log_mask("zoe@example.com", none, 0);
    assert_int_equal(none[0], 'x');
}

static void test_level_parse(void **state)
{
    (void)state;
    assert_int_equal(ac_log_level_parse("debug"), AC_LOG_DEBUG);
    assert_int_equal(ac_log_level_parse("info"), AC_LOG_INFO);
    assert_int_equal(ac_log_level_parse("warn"), AC_LOG_WARN);
    assert_int_equal(ac_log_level_parse("warning"), AC_LOG_WARN);
    assert_int_equal(ac_log_level_parse("error"), AC_LOG_ERROR);
    assert_int_equal(ac_log_level_parse(""), -1);
    assert_int_equal(ac_log_level_parse("trace"), -1);
    assert_int_equal(ac_log_level_parse("fatal"), -1);
    assert_int_equal(ac_log_level_parse("info "), -1);
    assert_int_equal(ac_log_level_parse("err"), -1);
    assert_int_equal(ac_log_level_parse(NULL), -1);
    assert_true(AC_LOG_DEBUG < AC_LOG_INFO && AC_LOG_INFO < AC_LOG_WARN &&
                AC_LOG_WARN < AC_LOG_ERROR);
}

/* Runs fn with stderr sent to a temporary file; returns what it wrote
 * (the caller frees it). */
static char *capture_stderr(void (*fn)(void))
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    /* The lines went through the descriptor, so find their end by seeking. */
    assert_int_equal(fseek(tmp, 0, SEEK_END), 0);
    long n = ftell(tmp);
    assert_true(n >= 0);
    rewind(tmp);
    char *out = calloc(1, (size_t)n + 1);
    assert_non_null(out);
    assert_int_equal(fread(out, 1, (size_t)n, tmp), (size_t)n);
    fclose(tmp);
    return out;
}

static void emit_lines(void)
{
    ac_log_init("order-worker", AC_LOG_INFO);
    ac_log(AC_LOG_DEBUG, "hidden %d", 1);
    ac_log(AC_LOG_INFO, "started with %d partitions", 3);
    ac_log_ctx_t ctx = {"orders", 2, 1042, "evt\"1\n\\x\x01", "msg_abc"};
    ac_log_at(AC_LOG_WARN, &ctx, "bad record: %s", "line1\nline2\t\"quoted\"");
    ac_log_ctx_t none = AC_LOG_CTX_NONE;
    ac_log_at(AC_LOG_ERROR, &none, "Grüße %s", "🧥");
    ac_log_init("order-worker", AC_LOG_ERROR);
    ac_log(AC_LOG_WARN, "filtered");
    ac_log_init(NULL, AC_LOG_INFO);
    ac_log(AC_LOG_INFO, "default worker");
}

static const char *scrub(const char *in)
{
    static char out[512];
    ac_log_scrub(in, out, sizeof(out));
    return out;
}

/* Addresses inside any message are masked, whatever quotes them; ids,
 * offsets and amounts are left alone. */
static void test_scrub_messages(void **state)
{
    (void)state;
    assert_string_equal(scrub("SendGrid said: invalid to zoe.mueller@example.com, try again"),
                        "SendGrid said: invalid to z***@example.com, try again");
    assert_string_equal(scrub("<zoe@example.com>"), "<z***@example.com>");
    assert_string_equal(scrub("{\"to\":\"+4915112345678\"}"), "{\"to\":\"+49*********78\"}");
    assert_string_equal(scrub("a@b.de and c@d.co.uk."), "a***@b.de and c***@d.co.uk.");
    assert_string_equal(scrub("order ord_1234567890 offset 1042 total +12.50"),
                        "order ord_1234567890 offset 1042 total +12.50");
    assert_string_equal(scrub("user@localhost is not an address; nor is @handle"),
                        "user@localhost is not an address; nor is @handle");
    assert_string_equal(scrub("+4915112345678,+447700900123"), "+49*********78,+44********23");
    /* Output never overruns, and never leaves a clear address at the cut. */
    char small[12];
    ac_log_scrub("x zoe.mueller@example.com", small, sizeof(small));
    assert_true(strlen(small) < sizeof(small));
    assert_null(strstr(small, "mueller"));
}

static void emit_unmasked(void)
{
    ac_log_init("notify-worker", AC_LOG_INFO);
    ac_log(AC_LOG_INFO, "to zoe@example.com");
    ac_log_set_mask(0);
    ac_log(AC_LOG_INFO, "to zoe@example.com");
    ac_log_set_mask(1);
}

/* LOG_MASK=false shows addresses as they are, for local debugging. */
static void test_mask_can_be_turned_off(void **state)
{
    (void)state;
    char *out = capture_stderr(emit_unmasked);
    char *second = strchr(out, '\n');
    assert_non_null(second);
    *second++ = '\0';
    assert_contains(out, "to z***@example.com");
    assert_contains(second, "to zoe@example.com");
    char buf[64];
    assert_string_equal(ac_log_mask("zoe@example.com", buf, sizeof(buf)), "z***@example.com");
    free(out);
}

static json_object *field(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

static void test_json_lines(void **state)
{
    (void)state;
    char *out = capture_stderr(emit_lines);
    assert_not_contains(out, "hidden");
    assert_not_contains(out, "filtered");

    /* Exactly one JSON object per line, whatever the message contains. */
    json_object *lines[8] = {NULL};
    size_t n = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        assert_true(n < 8);
        lines[n] = json_tokener_parse(line);
        if (!lines[n] || !json_object_is_type(lines[n], json_type_object))
            fail_msg("not a JSON object: %s", line);
        assert_non_null(field(lines[n], "ts"));
        n++;
    }
    assert_int_equal(n, 4);

    assert_string_equal(json_object_get_string(field(lines[0], "level")), "info");
    assert_string_equal(json_object_get_string(field(lines[0], "worker")), "order-worker");
    assert_string_equal(json_object_get_string(field(lines[0], "msg")),
                        "started with 3 partitions");
    assert_null(field(lines[0], "topic"));
    assert_null(field(lines[0], "partition"));

    assert_string_equal(json_object_get_string(field(lines[1], "level")), "warn");
    assert_string_equal(json_object_get_string(field(lines[1], "msg")),
                        "bad record: line1\nline2\t\"quoted\"");
    assert_string_equal(json_object_get_string(field(lines[1], "topic")), "orders");
    assert_int_equal(json_object_get_int(field(lines[1], "partition")), 2);
    assert_int_equal(json_object_get_int64(field(lines[1], "offset")), 1042);
    assert_string_equal(json_object_get_string(field(lines[1], "event_id")), "evt\"1\n\\x\x01");
    assert_string_equal(json_object_get_string(field(lines[1], "message_id")), "msg_abc");

    assert_string_equal(json_object_get_string(field(lines[2], "level")), "error");
    assert_string_equal(json_object_get_string(field(lines[2], "msg")), "Grüße 🧥");
    assert_null(field(lines[2], "topic"));
    assert_null(field(lines[2], "offset"));
    assert_null(field(lines[2], "event_id"));

    assert_string_equal(json_object_get_string(field(lines[3], "worker")), "aftercare");

    for (size_t i = 0; i < n; i++)
        json_object_put(lines[i]);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_email),
        cmocka_unit_test(test_mask_phone),
        cmocka_unit_test(test_mask_short_and_other),
        cmocka_unit_test(test_mask_never_reveals_address),
        cmocka_unit_test(test_mask_small_buffer),
        cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_scrub_messages),
        cmocka_unit_test(test_mask_can_be_turned_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
