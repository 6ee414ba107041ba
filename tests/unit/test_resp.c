/* Unit tests for common/resp.h: commands formatted as hiredis formats
 * them, their arguments read back, and the key (and slot) each command is
 * routed by in a Redis Cluster. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "resp.h"
#include "slot.h"
#include "test_util.h"

/* The command as hiredis formats it, for comparison (malloc'd). */
static char *hiredis_format(int argc, const char **argv, const size_t *lens, int *len)
{
    char *cmd = NULL;
    *len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    assert_true(*len > 0);
    return cmd;
}

static void test_format_like_hiredis(void **state)
{
    (void)state;
    const char *argv[] = {
        "EVALSHA",   "0123456789abcdef0123456789abcdef01234567", "2", "{a}k1", "{a}k2", "",
        "bin\r\nary"};
    size_t lens[] = {7, 40, 1, 5, 5, 0, 9};
    ac_buf_t b = AC_BUF_INIT;
    int n;
    char *want = hiredis_format(7, argv, lens, &n);
    ac_resp_append_argv(&b, 7, argv, lens);
    assert_int_equal(b.len, (size_t)n);
    assert_memory_equal(b.data, want, (size_t)n);
    /* A second command follows the first; NULL lengths mean strlen. */
    const char *get[] = {"GET", "key-with-a-long-name-0123456789012345678901234567890123456789"};
    char *want2 = hiredis_format(2, get, NULL, &n);
    size_t first = b.len;
    ac_resp_append_argv(&b, 2, get, NULL);
    assert_int_equal(b.len - first, (size_t)n);
    assert_memory_equal(b.data + first, want2, (size_t)n);
    free(want);
    free(want2);
    ac_buf_free(&b);
}

/* Formats fmt both ways and compares: ac_resp_append_vfmt() must write
 * what hiredis's redisvFormatCommand() writes, byte for byte. */
static int ac_resp_append_vfmt_test(ac_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ac_resp_append_vfmt(b, fmt, ap);
    va_end(ap);
    return rc;
}

static void check_fmt(const char *fmt, ...)
{
    va_list ap, cp;
    va_start(ap, fmt);
    va_copy(cp, ap);
    char *want = NULL;
    int n = redisvFormatCommand(&want, fmt, cp);
    va_end(cp);
    ac_buf_t b = AC_BUF_INIT;
    ac_buf_append(&b, "x", 1); /* appends after what is there */
    assert_int_equal(ac_resp_append_vfmt(&b, fmt, ap), 0);
    va_end(ap);
    assert_true(n > 0);
    assert_int_equal(b.len - 1, (size_t)n);
    assert_memory_equal(b.data + 1, want, (size_t)n);
    free(want);
    ac_buf_free(&b);
}

static void test_vfmt_like_hiredis(void **state)
{
    (void)state;
    check_fmt("PING");
    check_fmt("GET %s", "k");
    check_fmt("  SET   %s %s  PX %lld ", "{a}k", "", (long long)-9223372036854775807LL - 1);
    check_fmt("HSET %s %s %b %s %s", "h", "id", "bin\0\r\nary", (size_t)9, "id:m", "1 2 3");
    check_fmt("EXISTS ac:m:{%s}", "st\xc3\xa4re");
    check_fmt("ZREVRANGE %s 0 %d", "z", -2147483647 - 1);
    check_fmt("ZINCRBY %s %lld %s", "z", 0LL, "cat%x");
    check_fmt("X 100%% a%sb%dc", "", 7);
    /* What it does not handle it refuses, leaving the buffer as it was. */
    ac_buf_t b = AC_BUF_INIT;
    assert_int_equal(ac_resp_append_vfmt_test(&b, "SET %s %f", "k", 1.5), -1);
    assert_int_equal(b.len, 0);
    char many[200] = "MSET";
    for (int i = 0; i < AC_RESP_FMT_MAX; i++)
        strcat(many, " a");
    assert_int_equal(ac_resp_append_vfmt_test(&b, many), -1);
    assert_int_equal(b.len, 0);
    ac_buf_free(&b);
}

static void test_arg(void **state)
{
    (void)state;
    const char *argv[] = {"SET", "k", "", "value"};
    ac_buf_t b = AC_BUF_INIT;
    ac_resp_append_argv(&b, 4, argv, NULL);
    const char *arg;
    size_t len;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ac_resp_arg(b.data, b.len, i, &arg, &len), 0);
        assert_int_equal(len, strlen(argv[i]));
        assert_memory_equal(arg, argv[i], len);
    }
    assert_int_equal(ac_resp_arg(b.data, b.len, 4, &arg, &len), -1);
    assert_int_equal(ac_resp_arg(b.data, b.len, -1, &arg, &len), -1);
    /* Cut anywhere, the last argument is no longer there. */
    for (size_t cut = 0; cut < b.len; cut++)
        assert_int_equal(ac_resp_arg(b.data, cut, 3, &arg, &len), -1);
    ac_buf_free(&b);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "GET k\r\n",
        "*1\r\n",
        "*x\r\n$3\r\nGET\r\n",
        "*2\r\n$3\r\nGET\r\n$5\r\nk\r\n",
        "*2\r\n$3\r\nGET\r\n$1\r\nkk\r\n",
        "*2\r\n$3\r\nGET\r\n$-1\r\n",
        "*2\r\n$3\r\nGET\r\n$1\nk\r\n",
        "*2\r\n$3\r\nGET\r\n$99999999999999999999999\r\nk\r\n",
        "*2\r\n+3\r\nGET\r\n$1\r\nk\r\n",
    };
    const char *key;
    size_t len;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ac_resp_key(bad[i], strlen(bad[i]), &key, &len) != -1)
            fail_msg("expected no key in \"%s\"", bad[i]);
        assert_int_equal(ac_resp_slot(bad[i], strlen(bad[i])), -1);
    }
}

/* The key of a command given as words, or "" when it has none. */
static void check_key(int argc, const char **argv, const char *want)
{
    ac_buf_t b = AC_BUF_INIT;
    const char *key;
    size_t len;
    ac_resp_append_argv(&b, argc, argv, NULL);
    int rc = ac_resp_key(b.data, b.len, &key, &len);
    if (!*want) {
        if (rc != -1)
            fail_msg("%s: expected no key, got %.*s", argv[0], (int)len, key);
        assert_int_equal(ac_resp_slot(b.data, b.len), -1);
    } else {
        if (rc != 0 || len != strlen(want) || memcmp(key, want, len) != 0)
            fail_msg("%s: expected key %s", argv[0], want);
        assert_int_equal(ac_resp_slot(b.data, b.len), ac_slot_of(want, strlen(want)));
    }
    ac_buf_free(&b);
}

static void test_routing_key(void **state)
{
    (void)state;
    check_key(3, (const char *[]){"SET", "ac:e:{st}:1", "1"}, "ac:e:{st}:1");
    check_key(2, (const char *[]){"get", "k"}, "k");
    check_key(4, (const char *[]){"HSET", "h", "f", "v"}, "h");
    check_key(5, (const char *[]){"EVALSHA", "sha", "2", "{o}a", "{o}b"}, "{o}a");
    check_key(4, (const char *[]){"evalsha", "sha", "1", "k1"}, "k1");
    check_key(5, (const char *[]){"EVAL", "return 1", "01", "k", "arg"}, "k");
    check_key(4, (const char *[]){"FCALL", "fn", "1", "fk"}, "fk");
    /* No key: numkeys 0, or not a number. */
    check_key(4, (const char *[]){"EVALSHA", "sha", "0", "arg"}, "");
    check_key(4, (const char *[]){"EVAL", "return 1", "00", "arg"}, "");
    check_key(4, (const char *[]){"EVALSHA", "sha", "x", "arg"}, "");
    check_key(3, (const char *[]){"EVALSHA", "sha", "1"}, "");
    /* Commands about a server. */
    check_key(1, (const char *[]){"PING"}, "");
    check_key(2, (const char *[]){"ping", "hello"}, "");
    check_key(3, (const char *[]){"SCRIPT", "LOAD", "return 1"}, "");
    check_key(2, (const char *[]){"INFO", "memory"}, "");
    check_key(2, (const char *[]){"CLUSTER", "SLOTS"}, "");
    check_key(1, (const char *[]){"FLUSHALL"}, "");
    check_key(3, (const char *[]){"WAIT", "1", "0"}, "");
    /* A command without arguments has no key. */
    check_key(1, (const char *[]){"MULTI"}, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_like_hiredis),
        cmocka_unit_test(test_vfmt_like_hiredis),
        cmocka_unit_test(test_arg),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_routing_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
