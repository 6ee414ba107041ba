/* Twelve-factor configuration: every setting comes from an environment
 * variable (KAFKA_BROKERS) or the equivalent flag (--kafka-brokers VALUE or
 * --kafka-brokers=VALUE); a flag wins over the environment. Any librdkafka
 * property passes through as RDKAFKA_<NAME> (dots as "_", an underscore as
 * "__": RDKAFKA_SASL_MECHANISMS=PLAIN) or --rdkafka name=value.
 *
 * A worker declares its settings in a table of ac_option_t; parsing checks
 * every value and reports the first bad one in a single line that names the
 * variable, so a misconfigured pod says exactly what to fix. */
#ifndef AC_CONFIG_H
#define AC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ac_opt_type {
    AC_OPT_STR,      /* free text */
    AC_OPT_INT,      /* decimal integer within [min, max] */
    AC_OPT_DURATION, /* "500ms", "30s", "15m", "2h", "7d": stored in ms, within [min, max] */
    AC_OPT_BOOL,     /* true/false, 1/0, yes/no, on/off */
} ac_opt_type_t;

#define AC_OPT_REQUIRED 0x1 /* must be set, has no default */
#define AC_OPT_SECRET   0x2 /* never echoed back in messages */

/* Checks a value beyond its type; returns 0 or -1 with a reason in why. */
typedef int (*ac_opt_validate_fn)(const char *value, char *why, size_t whysz);

typedef struct ac_option {
    const char *env; /* KAFKA_BROKERS; the flag is derived: --kafka-brokers */
    ac_opt_type_t type;
    const char *def; /* default as text, NULL for none */
    unsigned flags;
    int64_t min, max; /* bounds for INT and DURATION (ms); both 0 = unbounded */
    ac_opt_validate_fn validate;
    const char *help;
} ac_option_t;

typedef struct ac_config ac_config_t;

/* Outcomes of ac_config_parse() besides an error (-1). */
#define AC_CONFIG_OK   0
#define AC_CONFIG_EXIT 1 /* --help or --version was printed: exit 0 */

/* Creates a configuration for the given option table, which must outlive
 * it. prog and summary are used by --help. Free with ac_config_destroy(). */
ac_config_t *ac_config_new(const char *prog, const char *summary, const ac_option_t *opts,
                           size_t n_opts);
void ac_config_destroy(ac_config_t *c);

/* Reads envp (NULL-terminated "NAME=value" strings) then argv. Returns
 * AC_CONFIG_OK, AC_CONFIG_EXIT, or -1 with one line in err naming the
 * setting and why it was refused. */
int ac_config_parse(ac_config_t *c, int argc, char **argv, char **envp, char *err, size_t errsz);

/* The value of a setting, or NULL when it is unset and has no default.
 * Strings belong to the config. */
const char *ac_config_str(const ac_config_t *c, const char *env);

/* The value of an INT, BOOL (0/1) or DURATION (ms) setting; 0 when unset. */
int64_t ac_config_int(const ac_config_t *c, const char *env);

/* The librdkafka pass-through properties, in the order given. */
size_t ac_config_kafka_prop_count(const ac_config_t *c);
void ac_config_kafka_prop(const ac_config_t *c, size_t i, const char **name, const char **value);

/* Prints --help text: every setting with its flag, default and meaning. */
void ac_config_usage(const ac_config_t *c, FILE *f);

/* Validators shared by workers. */
int ac_config_validate_http_url(const char *value, char *why, size_t whysz);
int ac_config_validate_redis_url(const char *value, char *why, size_t whysz);
int ac_config_validate_redis_cluster(const char *value, char *why, size_t whysz);
int ac_config_validate_log_level(const char *value, char *why, size_t whysz);
int ac_config_validate_topic(const char *value, char *why, size_t whysz);

#endif
