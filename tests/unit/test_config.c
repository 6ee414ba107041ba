/* Unit tests for common/config: environment and flag parsing, validation
 * and the librdkafka pass-through. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "test_util.h"

#define SECRET "hunter2-s3cr3t"

static const ac_option_t options[] = {
    {"KAFKA_BROKERS", AC_OPT_STR, NULL, AC_OPT_REQUIRED, 0, 0, NULL, "Kafka bootstrap servers"},
    {"GROUP_ID", AC_OPT_STR, "order-worker", 0, 0, 0, NULL, "consumer group"},
    {"BATCH_SIZE", AC_OPT_INT, "100", 0, 1, 1000, NULL, "records per batch"},
    {"RETRY_LIMIT", AC_OPT_INT, NULL, 0, 0, 0, NULL, "unbounded integer"},
    {"POLL_TIMEOUT", AC_OPT_DURATION, "500ms", 0, 1, 3600000, NULL, "poll timeout"},
    {"DRY_RUN", AC_OPT_BOOL, "false", 0, 0, 0, NULL, "do not send"},
    {"REDIS_URL", AC_OPT_STR, "redis://localhost:6379/0", AC_OPT_SECRET, 0, 0,
     ac_config_validate_redis_url, "Redis URL"},
    {"API_TOKEN", AC_OPT_INT, NULL, AC_OPT_SECRET, 0, 0, NULL, "a secret number"},
    {"LOG_LEVEL", AC_OPT_STR, "info", 0, 0, 0, ac_config_validate_log_level, "log level"},
    {"TOPIC", AC_OPT_STR, "orders", 0, 0, 0, ac_config_validate_topic, "input topic"},
    {"WEBHOOK_URL", AC_OPT_STR, NULL, 0, 0, 0, ac_config_validate_http_url, "webhook"},
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/* Parses env and argv (both NULL-terminated) into a fresh configuration
 * held by *cfg; returns the parse result. */
static int parse(ac_config_t **cfg, const char **env, const char **args, char *err, size_t errsz)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"test-worker";
    for (size_t i = 0; args && args[i]; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    *cfg = ac_config_new("test-worker", "A worker for tests.", options, N_OPTIONS);
    assert_non_null(*cfg);
    err[0] = '\0';
    return ac_config_parse(*cfg, argc, argv, (char **)env, err, errsz);
}

/* Parses and expects success; the caller destroys the result. */
static ac_config_t *parse_ok(const char **env, const char **args)
{
    ac_config_t *cfg;
    char err[512];
    int rc = parse(&cfg, env, args, err, sizeof(err));
    if (rc != AC_CONFIG_OK)
        fail_msg("expected the configuration to parse, got %d: %s", rc, err);
    return cfg;
}

/* Parses and expects -1; returns the error line in a static buffer. */
static const char *parse_err(const char **env, const char **args)
{
    static char err[512];
    ac_config_t *cfg;
    int rc = parse(&cfg, env, args, err, sizeof(err));
    ac_config_destroy(cfg);
    if (rc != -1)
        fail_msg("expected the configuration to be refused, got %d", rc);
    assert_true(strlen(err) > 0);
    /* One line, so a pod's log says it in one entry. */
    assert_null(strchr(err, '\n'));
    return err;
}

static void test_defaults(void **state)
{
    (void)state;
    const char *env[] = {"KAFKA_BROKERS=k1:9092", NULL};
    ac_config_t *c = parse_ok(env, NULL);
    assert_string_equal(ac_config_str(c, "KAFKA_BROKERS"), "k1:9092");
    assert_string_equal(ac_config_str(c, "GROUP_ID"), "order-worker");
    assert_string_equal(ac_config_str(c, "BATCH_SIZE"), "100");
    assert_int_equal(ac_config_int(c, "BATCH_SIZE"), 100);
    assert_int_equal(ac_config_int(c, "POLL_TIMEOUT"), 500);
    assert_int_equal(ac_config_int(c, "DRY_RUN"), 0);
    assert_null(ac_config_str(c, "RETRY_LIMIT"));
    assert_int_equal(ac_config_int(c, "RETRY_LIMIT"), 0);
    assert_null(ac_config_str(c, "WEBHOOK_URL"));
    assert_null(ac_config_str(c, "NO_SUCH_SETTING"));
    assert_int_equal(ac_config_int(c, "NO_SUCH_SETTING"), 0);
    assert_int_equal(ac_config_kafka_prop_count(c), 0);
    ac_config_destroy(c);
}

static void test_env_values(void **state)
{
    (void)state;
    const char *env[] = {"PATH=/usr/bin",
                         "KAFKA_BROKERS=a:9092,b:9092",
                         "BATCH_SIZE=250",
                         "RETRY_LIMIT=-7",
                         "POLL_TIMEOUT=2s",
                         "DRY_RUN=yes",
                         "GROUP_ID=g=with=equals",
                         "NOT_AN_ASSIGNMENT",
                         "kafka_brokers=lowercase-is-another-variable",
                         NULL};
    ac_config_t *c = parse_ok(env, NULL);
    assert_string_equal(ac_config_str(c, "KAFKA_BROKERS"), "a:9092,b:9092");
    assert_int_equal(ac_config_int(c, "BATCH_SIZE"), 250);
    assert_int_equal(ac_config_int(c, "RETRY_LIMIT"), -7);
    assert_int_equal(ac_config_int(c, "POLL_TIMEOUT"), 2000);
    assert_int_equal(ac_config_int(c, "DRY_RUN"), 1);
    assert_string_equal(ac_config_str(c, "GROUP_ID"), "g=with=equals");
    ac_config_destroy(c);
}

static void test_flag_wins_over_env(void **state)
{
    (void)state;
    const char *env[] = {"KAFKA_BROKERS=env:9092", "BATCH_SIZE=10", "POLL_TIMEOUT=1s",
                         "DRY_RUN=false", NULL};
    const char *args[] = {"--kafka-brokers=flag:9092",
                          "--batch-size",
                          "20",
                          "--poll-timeout",
                          "3s",
                          "--dry-run=on",
                          NULL};
    ac_config_t *c = parse_ok(env, args);
    assert_string_equal(ac_config_str(c, "KAFKA_BROKERS"), "flag:9092");
    assert_int_equal(ac_config_int(c, "BATCH_SIZE"), 20);
    assert_int_equal(ac_config_int(c, "POLL_TIMEOUT"), 3000);
    assert_int_equal(ac_config_int(c, "DRY_RUN"), 1);
    ac_config_destroy(c);
}

static void test_flag_forms(void **state)
{
    (void)state;
    /* "--flag value" and "--flag=value" are equivalent; a value may itself
     * start with dashes or contain '='. */
    const char *args[] = {"--kafka-brokers", "k:9092", "--group-id=a=b",
                          "--retry-limit",   "-3",     NULL};
    ac_config_t *c = parse_ok(NULL, args);
    assert_string_equal(ac_config_str(c, "KAFKA_BROKERS"), "k:9092");
    assert_string_equal(ac_config_str(c, "GROUP_ID"), "a=b");
    assert_int_equal(ac_config_int(c, "RETRY_LIMIT"), -3);
    ac_config_destroy(c);

    const char *later[] = {"--kafka-brokers=first", "--kafka-brokers", "second", NULL};
    c = parse_ok(NULL, later);
    assert_string_equal(ac_config_str(c, "KAFKA_BROKERS"), "second");
    ac_config_destroy(c);
}

static void test_bool_spellings(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t value;
    } cases[] = {{"true", 1},  {"TRUE", 1},  {"1", 1}, {"yes", 1}, {"On", 1},
                 {"false", 0}, {"False", 0}, {"0", 0}, {"no", 0},  {"OFF", 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--dry-run=%s", cases[i].text);
        const char *args[] = {"--kafka-brokers=k", flag, NULL};
        ac_config_t *c = parse_ok(NULL, args);
        assert_int_equal(ac_config_int(c, "DRY_RUN"), cases[i].value);
        ac_config_destroy(c);
    }
}

static void test_required_missing(void **state)
{
    (void)state;
    const char *err = parse_err(NULL, NULL);
    assert_contains(err, "KAFKA_BROKERS");
    assert_contains(err, "--kafka-brokers");

    /* An empty value is no value. */
    const char *env[] = {"KAFKA_BROKERS=", NULL};
    err = parse_err(env, NULL);
    assert_contains(err, "KAFKA_BROKERS");
    const char *args[] = {"--kafka-brokers=", NULL};
    err = parse_err(NULL, args);
    assert_contains(err, "KAFKA_BROKERS");
}

static void test_invalid_int(void **state)
{
    (void)state;
    static const char *bad[] = {"12abc", "abc", "1.5", "0x10", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char entry[64];
        snprintf(entry, sizeof(entry), "RETRY_LIMIT=%s", bad[i]);
        const char *env[] = {"KAFKA_BROKERS=k", entry, NULL};
        const char *err = parse_err(env, NULL);
        assert_contains(err, "RETRY_LIMIT");
        assert_contains(err, bad[i]);
    }
}

static void test_int_bounds(void **state)
{
    (void)state;
    const char *low[] = {"KAFKA_BROKERS=k", "BATCH_SIZE=0", NULL};
    const char *err = parse_err(low, NULL);
    assert_contains(err, "BATCH_SIZE");
    assert_contains(err, "1");
    assert_contains(err, "1000");
    const char *high[] = {"KAFKA_BROKERS=k", "BATCH_SIZE=1001", NULL};
    assert_contains(parse_err(high, NULL), "BATCH_SIZE");

    const char *edges[] = {"--kafka-brokers=k", "--batch-size=1000", NULL};
    ac_config_t *c = parse_ok(NULL, edges);
    assert_int_equal(ac_config_int(c, "BATCH_SIZE"), 1000);
    ac_config_destroy(c);
    const char *one[] = {"--kafka-brokers=k", "--batch-size=1", NULL};
    c = parse_ok(NULL, one);
    assert_int_equal(ac_config_int(c, "BATCH_SIZE"), 1);
    ac_config_destroy(c);
}

static void test_invalid_duration(void **state)
{
    (void)state;
    static const char *bad[] = {"5", "5x", "-1s", "fast", "1.5s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--poll-timeout=%s", bad[i]);
        const char *args[] = {"--kafka-brokers=k", flag, NULL};
        const char *err = parse_err(NULL, args);
        assert_contains(err, "POLL_TIMEOUT");
    }
    /* Out of bounds: the message gives the bounds as durations. */
    const char *args[] = {"--kafka-brokers=k", "--poll-timeout=2h", NULL};
    const char *err = parse_err(NULL, args);
    assert_contains(err, "POLL_TIMEOUT");
    assert_contains(err, "1h");
    const char *zero[] = {"--kafka-brokers=k", "--poll-timeout=0", NULL};
    assert_contains(parse_err(NULL, zero), "POLL_TIMEOUT");
}

static void test_invalid_bool(void **state)
{
    (void)state;
    static const char *bad[] = {"maybe", "2", "yess", "t"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char entry[64];
        snprintf(entry, sizeof(entry), "DRY_RUN=%s", bad[i]);
        const char *env[] = {"KAFKA_BROKERS=k", entry, NULL};
        const char *err = parse_err(env, NULL);
        assert_contains(err, "DRY_RUN");
    }
}

static void test_secret_not_echoed(void **state)
{
    (void)state;
    /* A secret that fails its type check. */
    const char *env1[] = {"KAFKA_BROKERS=k", "API_TOKEN=" SECRET, NULL};
    const char *err = parse_err(env1, NULL);
    assert_contains(err, "API_TOKEN");
    assert_not_contains(err, SECRET);
    assert_not_contains(err, "s3cr3t");

    /* A secret that fails its validator. */
    const char *env2[] = {"KAFKA_BROKERS=k", "REDIS_URL=redis://:" SECRET "@cache:99999/0", NULL};
    err = parse_err(env2, NULL);
    assert_contains(err, "REDIS_URL");
    assert_not_contains(err, SECRET);
    assert_not_contains(err, "s3cr3t");

    const char *args[] = {"--kafka-brokers=k", "--redis-url", "rediss://:" SECRET "@cache", NULL};
    err = parse_err(NULL, args);
    assert_contains(err, "REDIS_URL");
    assert_not_contains(err, "s3cr3t");

    /* A valid secret is kept as given. */
    const char *env3[] = {"KAFKA_BROKERS=k", "REDIS_URL=redis://:" SECRET "@cache:6380/1", NULL};
    ac_config_t *c = parse_ok(env3, NULL);
    assert_string_equal(ac_config_str(c, "REDIS_URL"), "redis://:" SECRET "@cache:6380/1");
    ac_config_destroy(c);
}

static void test_non_secret_value_echoed(void **state)
{
    (void)state;
    /* Unlike secrets, an ordinary bad value is quoted to show what to fix. */
    const char *env[] = {"KAFKA_BROKERS=k", "LOG_LEVEL=verbose", NULL};
    const char *err = parse_err(env, NULL);
    assert_contains(err, "LOG_LEVEL");
    assert_contains(err, "verbose");
    /* But a URL's credentials never are, whatever the option. */
    const char *url[] = {"KAFKA_BROKERS=k", "WEBHOOK_URL=ftp://user:s3cr3t@hooks/", NULL};
    err = parse_err(url, NULL);
    assert_contains(err, "WEBHOOK_URL=ftp://***@hooks/");
    assert_not_contains(err, "s3cr3t");
}

static void test_unknown_flag(void **state)
{
    (void)state;
    const char *args[] = {"--kafka-brokers=k", "--no-such-flag=1", NULL};
    assert_contains(parse_err(NULL, args), "--no-such-flag");
    /* Flags are spelled in lower case with dashes, never as the variable. */
    const char *envstyle[] = {"--KAFKA_BROKERS=k", NULL};
    assert_contains(parse_err(NULL, envstyle), "KAFKA_BROKERS");
    const char *underscores[] = {"--kafka_brokers=k", NULL};
    assert_contains(parse_err(NULL, underscores), "kafka_brokers");
    /* A prefix of a flag is not the flag. */
    const char *prefix[] = {"--kafka=k", NULL};
    assert_contains(parse_err(NULL, prefix), "--kafka");
}

static void test_flag_without_value(void **state)
{
    (void)state;
    const char *args[] = {"--kafka-brokers=k", "--batch-size", NULL};
    assert_contains(parse_err(NULL, args), "--batch-size");
}

static void test_positional_argument(void **state)
{
    (void)state;
    const char *args[] = {"--kafka-brokers=k", "extra", NULL};
    assert_contains(parse_err(NULL, args), "extra");
    const char *single[] = {"-x", NULL};
    assert_contains(parse_err(NULL, single), "-x");
}

static void assert_prop(const ac_config_t *c, size_t i, const char *name, const char *value)
{
    const char *n = NULL, *v = NULL;
    assert_true(i < ac_config_kafka_prop_count(c));
    ac_config_kafka_prop(c, i, &n, &v);
    assert_string_equal(n, name);
    assert_string_equal(v, value);
}

static void test_rdkafka_env(void **state)
{
    (void)state;
    const char *env[] = {"KAFKA_BROKERS=k",
                         "RDKAFKA_SASL_MECHANISMS=PLAIN",
                         "RDKAFKA_FOO__BAR=1",
                         "RDKAFKA_SECURITY_PROTOCOL=SASL_SSL",
                         "RDKAFKA_SSL_CA_LOCATION=/etc/ssl/ca.pem",
                         "RDKAFKA_SASL_PASSWORD=p=w",
                         NULL};
    ac_config_t *c = parse_ok(env, NULL);
    assert_int_equal(ac_config_kafka_prop_count(c), 5);
    assert_prop(c, 0, "sasl.mechanisms", "PLAIN");
    assert_prop(c, 1, "foo_bar", "1");
    assert_prop(c, 2, "security.protocol", "SASL_SSL");
    assert_prop(c, 3, "ssl.ca.location", "/etc/ssl/ca.pem");
    assert_prop(c, 4, "sasl.password", "p=w");
    ac_config_destroy(c);
}

static void test_rdkafka_flag(void **state)
{
    (void)state;
    const char *args[] = {"--kafka-brokers=k", "--rdkafka", "a.b=c", "--rdkafka=x.y=z=w", NULL};
    ac_config_t *c = parse_ok(NULL, args);
    assert_int_equal(ac_config_kafka_prop_count(c), 2);
    assert_prop(c, 0, "a.b", "c");
    assert_prop(c, 1, "x.y", "z=w");
    ac_config_destroy(c);
}

static void test_rdkafka_flag_overrides_env(void **state)
{
    (void)state;
    const char *env[] = {"KAFKA_BROKERS=k", "RDKAFKA_SASL_MECHANISMS=PLAIN",
                         "RDKAFKA_CLIENT_ID=env", NULL};
    const char *args[] = {"--rdkafka", "sasl.mechanisms=SCRAM-SHA-512", NULL};
    ac_config_t *c = parse_ok(env, args);
    assert_int_equal(ac_config_kafka_prop_count(c), 2);
    assert_prop(c, 0, "sasl.mechanisms", "SCRAM-SHA-512");
    assert_prop(c, 1, "client.id", "env");
    ac_config_destroy(c);
}

static void test_rdkafka_malformed(void **state)
{
    (void)state;
    const char *noeq[] = {"--kafka-brokers=k", "--rdkafka", "a.b", NULL};
    assert_contains(parse_err(NULL, noeq), "rdkafka");
    const char *noname[] = {"--kafka-brokers=k", "--rdkafka", "=c", NULL};
    assert_contains(parse_err(NULL, noname), "rdkafka");
    const char *env[] = {"KAFKA_BROKERS=k", "RDKAFKA_=x", NULL};
    assert_contains(parse_err(env, NULL), "RDKAFKA_");
}

/* Runs ac_config_parse with stdout sent to a temporary file and returns
 * what it printed (the caller frees it). */
static char *parse_capturing_stdout(const char **args, int *rc)
{
    ac_config_t *c;
    char err[256];
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
    *rc = parse(&c, NULL, args, err, sizeof(err));
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    ac_config_destroy(c);

    /* The output went through the descriptor, so find its end by seeking. */
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

static void test_help(void **state)
{
    (void)state;
    int rc;
    /* --help wins even over a missing required setting. */
    const char *args[] = {"--help", NULL};
    char *out = parse_capturing_stdout(args, &rc);
    assert_int_equal(rc, AC_CONFIG_EXIT);
    assert_contains(out, "test-worker");
    assert_contains(out, "KAFKA_BROKERS");
    assert_contains(out, "--kafka-brokers");
    assert_contains(out, "--poll-timeout");
    assert_contains(out, "(required)");
    assert_contains(out, "500ms");
    assert_contains(out, "RDKAFKA_");
    free(out);

    const char *shortflag[] = {"-h", NULL};
    out = parse_capturing_stdout(shortflag, &rc);
    assert_int_equal(rc, AC_CONFIG_EXIT);
    assert_contains(out, "--kafka-brokers");
    free(out);

    const char *version[] = {"--version", NULL};
    out = parse_capturing_stdout(version, &rc);
    assert_int_equal(rc, AC_CONFIG_EXIT);
    assert_contains(out, "test-worker");
    free(out);
}

static void test_usage(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    ac_config_t *c =
        ac_config_new("order-worker", "Turns orders into messages.", options, N_OPTIONS);
    ac_config_usage(c, f);
    fclose(f);
    assert_contains(text, "order-worker");
    assert_contains(text, "Turns orders into messages.");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        assert_contains(text, options[i].env);
        assert_contains(text, options[i].help);
    }
    assert_contains(text, "--batch-size");
    assert_contains(text, "default: 100");
    ac_config_destroy(c);
    free(text);
}

static void test_validator_failures_name_variable(void **state)
{
    (void)state;
    const char *topic[] = {"--kafka-brokers=k", "--topic=bad topic", NULL};
    assert_contains(parse_err(NULL, topic), "TOPIC");
    const char *url[] = {"--kafka-brokers=k", "--webhook-url=ftp://x", NULL};
    assert_contains(parse_err(NULL, url), "WEBHOOK_URL");
    const char *level[] = {"--kafka-brokers=k", "--log-level=loud", NULL};
    assert_contains(parse_err(NULL, level), "LOG_LEVEL");
    const char *ok[] = {"--kafka-brokers=k", "--webhook-url=https://hooks.example.com/x",
                        "--log-level=debug", "--topic=orders.v2", NULL};
    ac_config_t *c = parse_ok(NULL, ok);
    assert_string_equal(ac_config_str(c, "WEBHOOK_URL"), "https://hooks.example.com/x");
    ac_config_destroy(c);
}

static int valid(ac_opt_validate_fn fn, const char *value)
{
    char why[256] = "";
    int rc = fn(value, why, sizeof(why));
    if (rc < 0 && !why[0])
        fail_msg("validator refused \"%s\" without saying why", value);
    return rc;
}

static void test_validate_http_url(void **state)
{
    (void)state;
    assert_int_equal(valid(ac_config_validate_http_url, "http://x"), 0);
    assert_int_equal(valid(ac_config_validate_http_url, "https://api.example.com/v1/send"), 0);
    assert_int_equal(valid(ac_config_validate_http_url, "http://127.0.0.1:8080/"), 0);
    assert_int_equal(valid(ac_config_validate_http_url, "ftp://example.com"), -1);
    assert_int_equal(valid(ac_config_validate_http_url, "example.com"), -1);
    assert_int_equal(valid(ac_config_validate_http_url, ""), -1);
    assert_int_equal(valid(ac_config_validate_http_url, "http://"), -1);
    assert_int_equal(valid(ac_config_validate_http_url, "https://"), -1);
    assert_int_equal(valid(ac_config_validate_http_url, "https:///path"), -1);
    assert_int_equal(valid(ac_config_validate_http_url, "http://:80/"), -1);
    assert_int_equal(valid(ac_config_validate_http_url, "http:/x"), -1);
}

static void test_validate_redis_url(void **state)
{
    (void)state;
    assert_int_equal(valid(ac_config_validate_redis_url, "redis://cache"), 0);
    assert_int_equal(valid(ac_config_validate_redis_url, "redis://:pw@cache:6380/2"), 0);
    assert_int_equal(valid(ac_config_validate_redis_url, "http://cache"), -1);
    assert_int_equal(valid(ac_config_validate_redis_url, "redis://cache:0"), -1);
    assert_int_equal(valid(ac_config_validate_redis_url, "redis://"), -1);
}

static void test_validate_log_level(void **state)
{
    (void)state;
    assert_int_equal(valid(ac_config_validate_log_level, "debug"), 0);
    assert_int_equal(valid(ac_config_validate_log_level, "info"), 0);
    assert_int_equal(valid(ac_config_validate_log_level, "warn"), 0);
    assert_int_equal(valid(ac_config_validate_log_level, "error"), 0);
    assert_int_equal(valid(ac_config_validate_log_level, "verbose"), -1);
    assert_int_equal(valid(ac_config_validate_log_level, ""), -1);
}

static void test_validate_topic(void **state)
{
    (void)state;
    char longest[251];
    memset(longest, 'a', 249);
    longest[249] = '\0';
    assert_int_equal(valid(ac_config_validate_topic, "orders"), 0);
    assert_int_equal(valid(ac_config_validate_topic, "Orders.v2_eu-west-1"), 0);
    assert_int_equal(valid(ac_config_validate_topic, longest), 0);
    longest[249] = 'a';
    longest[250] = '\0';
    assert_int_equal(valid(ac_config_validate_topic, longest), -1);
    assert_int_equal(valid(ac_config_validate_topic, ""), -1);
    assert_int_equal(valid(ac_config_validate_topic, "."), -1);
    assert_int_equal(valid(ac_config_validate_topic, ".."), -1);
    assert_int_equal(valid(ac_config_validate_topic, "..."), 0);
    assert_int_equal(valid(ac_config_validate_topic, "with space"), -1);
    assert_int_equal(valid(ac_config_validate_topic, "a/b"), -1);
    assert_int_equal(valid(ac_config_validate_topic, "bestellungen-ü"), -1);
}

static void test_empty_table(void **state)
{
    (void)state;
    ac_config_t *c = ac_config_new("x", "y", NULL, 0);
    assert_non_null(c);
    char err[128];
    char *argv[] = {(char *)"x", NULL};
    const char *env[] = {"RDKAFKA_CLIENT_ID=x", NULL};
    assert_int_equal(ac_config_parse(c, 1, argv, (char **)env, err, sizeof(err)), AC_CONFIG_OK);
    assert_int_equal(ac_config_kafka_prop_count(c), 1);
    ac_config_destroy(c);
    ac_config_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_env_values),
        cmocka_unit_test(test_flag_wins_over_env),
        cmocka_unit_test(test_flag_forms),
        cmocka_unit_test(test_bool_spellings),
        cmocka_unit_test(test_required_missing),
        cmocka_unit_test(test_invalid_int),
        cmocka_unit_test(test_int_bounds),
        cmocka_unit_test(test_invalid_duration),
        cmocka_unit_test(test_invalid_bool),
        cmocka_unit_test(test_secret_not_echoed),
        cmocka_unit_test(test_non_secret_value_echoed),
        cmocka_unit_test(test_unknown_flag),
        cmocka_unit_test(test_flag_without_value),
        cmocka_unit_test(test_positional_argument),
        cmocka_unit_test(test_rdkafka_env),
        cmocka_unit_test(test_rdkafka_flag),
        cmocka_unit_test(test_rdkafka_flag_overrides_env),
        cmocka_unit_test(test_rdkafka_malformed),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_validator_failures_name_variable),
        cmocka_unit_test(test_validate_http_url),
        cmocka_unit_test(test_validate_redis_url),
        cmocka_unit_test(test_validate_log_level),
        cmocka_unit_test(test_validate_topic),
        cmocka_unit_test(test_empty_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
