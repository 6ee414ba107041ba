/* Unit tests for ac_redis_url_parse (common/redis_url.h), the pure parse
 * of the Redis client's URL. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "redis_url.h"
#include "test_util.h"

static ac_redis_url_t parse_ok(const char *url)
{
    ac_redis_url_t u;
    char why[256] = "";
    memset(&u, 0x5a, sizeof(u));
    if (ac_redis_url_parse(url, &u, why, sizeof(why)) != 0)
        fail_msg("expected %s to parse: %s", url, why);
    return u;
}

static const char *parse_fails(const char *url)
{
    static char why[256];
    ac_redis_url_t u;
    why[0] = '\0';
    if (ac_redis_url_parse(url, &u, why, sizeof(why)) != -1)
        fail_msg("expected %s to be refused", url ? url : "(null)");
    assert_true(strlen(why) > 0);
    return why;
}

static void test_host_only(void **state)
{
    (void)state;
    ac_redis_url_t u = parse_ok("redis://cache");
    assert_string_equal(u.host, "cache");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.password, "");

    u = parse_ok("redis://10.0.0.5");
    assert_string_equal(u.host, "10.0.0.5");
    assert_int_equal(u.port, 6379);

    u = parse_ok("redis://redis-master.aftercare.svc.cluster.local/");
    assert_string_equal(u.host, "redis-master.aftercare.svc.cluster.local");
    assert_int_equal(u.db, 0);
}

static void test_port_and_db(void **state)
{
    (void)state;
    ac_redis_url_t u = parse_ok("redis://host:6380/2");
    assert_string_equal(u.host, "host");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 2);
    assert_string_equal(u.password, "");

    u = parse_ok("redis://host:65535");
    assert_int_equal(u.port, 65535);
    u = parse_ok("redis://host:1/");
    assert_int_equal(u.port, 1);
    assert_int_equal(u.db, 0);
    u = parse_ok("redis://host/15");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 15);
}

static void test_password(void **state)
{
    (void)state;
    ac_redis_url_t u = parse_ok("redis://:secret@host:1/0");
    assert_string_equal(u.password, "secret");
    assert_string_equal(u.host, "host");
    assert_int_equal(u.port, 1);
    assert_int_equal(u.db, 0);

    /* A user name before the colon is ignored (Redis < 6 AUTH). */
    u = parse_ok("redis://default:s3cr3t@cache:6379/1");
    assert_string_equal(u.password, "s3cr3t");
    assert_string_equal(u.host, "cache");
    assert_int_equal(u.db, 1);

    /* A password may itself contain '@' and ':'. */
    u = parse_ok("redis://:p@ss:w0rd@cache");
    assert_string_equal(u.password, "p@ss:w0rd");
    assert_string_equal(u.host, "cache");
}

static void test_bad_scheme(void **state)
{
    (void)state;
    parse_fails(NULL);
    parse_fails("");
    parse_fails("cache:6379");
    parse_fails("http://cache");
    parse_fails("rediss://cache");
    parse_fails("redis:/cache");
    parse_fails("redis//cache");
    parse_fails("REDIS://cache");
    parse_fails(" redis://cache");
}

static void test_bad_port(void **state)
{
    (void)state;
    static const char *bad[] = {
        "redis://host:",         "redis://host:0",
        "redis://host:65536",    "redis://host:-1",
        "redis://host:abc",      "redis://host:80x",
        "redis://host:6379junk", "redis://host:99999999999999999999",
        "redis://host::6379",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_contains(parse_fails(bad[i]), "port");
}

static void test_empty_host(void **state)
{
    (void)state;
    parse_fails("redis://");
    parse_fails("redis://:6379");
    parse_fails("redis:///0");
    parse_fails("redis://:pw@");
    parse_fails("redis://:pw@:6379/0");
}

static void test_bad_db(void **state)
{
    (void)state;
    parse_fails("redis://host/x");
    parse_fails("redis://host/-1");
    parse_fails("redis://host/1x");
    parse_fails("redis://host:6379/1/2");
}

static void test_too_long(void **state)
{
    (void)state;
    char url[1024];
    char host[300];
    memset(host, 'h', sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(url, sizeof(url), "redis://%s:6379", host);
    parse_fails(url);
    /* 255 characters still fit. */
    host[255] = '\0';
    snprintf(url, sizeof(url), "redis://%s:6379", host);
    ac_redis_url_t u = parse_ok(url);
    assert_int_equal(strlen(u.host), 255);

    char pw[300];
    memset(pw, 'p', sizeof(pw) - 1);
    pw[sizeof(pw) - 1] = '\0';
    snprintf(url, sizeof(url), "redis://:%s@cache", pw);
    parse_fails(url);
}

static void test_reason_hides_password(void **state)
{
    (void)state;
    static const char *bad[] = {"redis://:hunter2@cache:99999", "redis://:hunter2@cache/x",
                                "redis://:hunter2@", "rediss://:hunter2@cache"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_not_contains(parse_fails(bad[i]), "hunter2");
}

static void test_resets_previous_values(void **state)
{
    (void)state;
    ac_redis_url_t u;
    char why[128];
    assert_int_equal(ac_redis_url_parse("redis://:pw@a:1/3", &u, why, sizeof(why)), 0);
    assert_int_equal(ac_redis_url_parse("redis://b", &u, why, sizeof(why)), 0);
    assert_string_equal(u.password, "");
    assert_string_equal(u.host, "b");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_int_equal(u.n_seeds, 1);
}

static void test_seed_list(void **state)
{
    (void)state;
    ac_redis_url_t u = parse_ok("redis://:pw@a:7000,b,c:7002/0");
    assert_int_equal(u.n_seeds, 3);
    assert_string_equal(u.seeds[0].host, "a");
    assert_int_equal(u.seeds[0].port, 7000);
    assert_string_equal(u.seeds[1].host, "b");
    assert_int_equal(u.seeds[1].port, 6379);
    assert_string_equal(u.seeds[2].host, "c");
    assert_int_equal(u.seeds[2].port, 7002);
    /* The first seed is the host of the callers that know of one. */
    assert_string_equal(u.host, "a");
    assert_int_equal(u.port, 7000);
    assert_string_equal(u.password, "pw");
    assert_int_equal(u.db, 0);

    u = parse_ok("redis://cache");
    assert_int_equal(u.n_seeds, 1);
    assert_string_equal(u.seeds[0].host, "cache");
    assert_int_equal(u.seeds[0].port, 6379);

    u = parse_ok("redis://10.0.0.1:6379,10.0.0.2:6380");
    assert_int_equal(u.n_seeds, 2);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.seeds[1].host, "10.0.0.2");
    assert_int_equal(u.seeds[1].port, 6380);

    u = parse_ok("redis://a,b/3");
    assert_int_equal(u.n_seeds, 2);
    assert_int_equal(u.db, 3);
}

static void test_bad_seed_list(void **state)
{
    (void)state;
    parse_fails("redis://a,");
    parse_fails("redis://,a");
    parse_fails("redis://a,,b");
    parse_fails("redis://a,:6379");
    assert_contains(parse_fails("redis://a:1,b:0"), "port");
    assert_contains(parse_fails("redis://a:1,b:x"), "port");
    assert_contains(parse_fails("redis://a:1x,b"), "port");
    assert_not_contains(parse_fails("redis://:hunter2@a,,b"), "hunter2");

    /* Sixteen hosts fit, seventeen do not. */
    char url[512] = "redis://h0";
    for (int i = 1; i < AC_REDIS_URL_MAX_SEEDS; i++)
        snprintf(url + strlen(url), sizeof(url) - strlen(url), ",h%d:%d", i, 7000 + i);
    ac_redis_url_t u = parse_ok(url);
    assert_int_equal(u.n_seeds, AC_REDIS_URL_MAX_SEEDS);
    assert_string_equal(u.seeds[15].host, "h15");
    assert_int_equal(u.seeds[15].port, 7015);
    strcat(url, ",h16");
    assert_contains(parse_fails(url), "at most 16");
}

static void test_cluster_mode(void **state)
{
    (void)state;
    ac_redis_cluster_t m = AC_REDIS_CLUSTER_OFF;
    char why[128];
    assert_int_equal(ac_redis_cluster_parse("auto", &m, why, sizeof(why)), 0);
    assert_int_equal(m, AC_REDIS_CLUSTER_AUTO);
    assert_int_equal(ac_redis_cluster_parse("on", &m, why, sizeof(why)), 0);
    assert_int_equal(m, AC_REDIS_CLUSTER_ON);
    assert_int_equal(ac_redis_cluster_parse("off", &m, why, sizeof(why)), 0);
    assert_int_equal(m, AC_REDIS_CLUSTER_OFF);
    static const char *bad[] = {"", "ON", "yes", "true", "1", "auto ", "cluster"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        assert_int_equal(ac_redis_cluster_parse(bad[i], &m, why, sizeof(why)), -1);
        assert_contains(why, "auto, on or off");
    }
    assert_int_equal(ac_redis_cluster_parse(NULL, &m, why, sizeof(why)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_only),
        cmocka_unit_test(test_port_and_db),
        cmocka_unit_test(test_password),
        cmocka_unit_test(test_bad_scheme),
        cmocka_unit_test(test_bad_port),
        cmocka_unit_test(test_empty_host),
        cmocka_unit_test(test_bad_db),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_reason_hides_password),
        cmocka_unit_test(test_resets_previous_values),
        cmocka_unit_test(test_seed_list),
        cmocka_unit_test(test_bad_seed_list),
        cmocka_unit_test(test_cluster_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
