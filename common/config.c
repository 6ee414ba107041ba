#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "log.h"
#include "redis_url.h"

#define AC_CONFIG_MAX_PROPS 128

struct ac_config {
    const char *prog;
    const char *summary;
    const ac_option_t *opts;
    size_t n_opts;
    char **values; /* one per option: owned copy, NULL when unset */
    int64_t *ints; /* parsed INT, BOOL and DURATION values */
    char *prop_names[AC_CONFIG_MAX_PROPS];
    char *prop_values[AC_CONFIG_MAX_PROPS];
    size_t n_props;
};

ac_config_t *ac_config_new(const char *prog, const char *summary, const ac_option_t *opts,
                           size_t n_opts)
{
    ac_config_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->prog = prog;
    c->summary = summary;
    c->opts = opts;
    c->n_opts = n_opts;
    c->values = calloc(n_opts ? n_opts : 1, sizeof(char *));
    c->ints = calloc(n_opts ? n_opts : 1, sizeof(int64_t));
    if (!c->values || !c->ints) {
        ac_config_destroy(c);
        return NULL;
    }
    return c;
}

void ac_config_destroy(ac_config_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->values && i < c->n_opts; i++)
        free(c->values[i]);
    for (size_t i = 0; i < c->n_props; i++) {
        free(c->prop_names[i]);
        free(c->prop_values[i]);
    }
    free(c->values);
    free(c->ints);
    free(c);
}

/* KAFKA_BROKERS -> kafka-brokers, the flag spelling of an option. */
static void flag_name(const char *env, char *buf, size_t bufsz)
{
    size_t i = 0;
    for (; env[i] && i + 1 < bufsz; i++)
        buf[i] = env[i] == '_' ? '-' : (char)tolower((unsigned char)env[i]);
    buf[i] = '\0';
}

static int find_option(const ac_config_t *c, const char *env)
{
    for (size_t i = 0; i < c->n_opts; i++)
        if (strcmp(c->opts[i].env, env) == 0)
            return (int)i;
    return -1;
}

static int find_flag(const ac_config_t *c, const char *flag, size_t flaglen)
{
    char buf[128];
    for (size_t i = 0; i < c->n_opts; i++) {
        flag_name(c->opts[i].env, buf, sizeof(buf));
        if (strlen(buf) == flaglen && strncmp(buf, flag, flaglen) == 0)
            return (int)i;
    }
    return -1;
}

/* An empty value means "not set": the default applies. */
static int set_value(ac_config_t *c, int i, const char *v)
{
    if (!*v)
        v = c->opts[i].def ? c->opts[i].def : "";
    char *copy = strdup(v);
    if (!copy)
        return -1;
    free(c->values[i]);
    c->values[i] = copy;
    return 0;
}

/* Adds or replaces a librdkafka property; later sources override earlier. */
static int add_prop(ac_config_t *c, const char *name, size_t namelen, const char *value, char *err,
                    size_t errsz)
{
    for (size_t i = 0; i < c->n_props; i++) {
        if (strlen(c->prop_names[i]) == namelen && strncmp(c->prop_names[i], name, namelen) == 0) {
            char *v = strdup(value);
            if (!v)
                return -1;
            free(c->prop_values[i]);
            c->prop_values[i] = v;
            return 0;
        }
    }
    if (c->n_props == AC_CONFIG_MAX_PROPS) {
        snprintf(err, errsz, "too many librdkafka properties (at most %d)", AC_CONFIG_MAX_PROPS);
        return -1;
    }
    c->prop_names[c->n_props] = strndup(name, namelen);
    c->prop_values[c->n_props] = strdup(value);
    if (!c->prop_names[c->n_props] || !c->prop_values[c->n_props]) {
        free(c->prop_names[c->n_props]);
        free(c->prop_values[c->n_props]);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    c->n_props++;
    return 0;
}

/* RDKAFKA_SASL_MECHANISMS=PLAIN -> sasl.mechanisms; "__" stands for "_". */
static int env_prop(ac_config_t *c, const char *entry, char *err, size_t errsz)
{
    const char *name = entry + strlen("RDKAFKA_");
    const char *eq = strchr(name, '=');
    char prop[256];
    size_t j = 0;
    if (!eq || eq == name) {
        snprintf(err, errsz, "invalid setting %.*s: expected RDKAFKA_<PROPERTY>=value",
                 (int)(eq ? eq - entry : (long)strlen(entry)), entry);
        return -1;
    }
    for (const char *p = name; p < eq && j + 1 < sizeof(prop); p++) {
        if (p[0] == '_' && p + 1 < eq && p[1] == '_') {
            prop[j++] = '_';
            p++;
        } else if (*p == '_') {
            prop[j++] = '.';
        } else {
            prop[j++] = (char)tolower((unsigned char)*p);
        }
    }
    prop[j] = '\0';
    return add_prop(c, prop, j, eq + 1, err, errsz);
}

static int parse_bool(const char *v, int64_t *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* Writes v for an error message with the credentials of a URL
 * ("scheme://user:password@host") replaced by "***": a REDIS_URL or
 * KAFKA_BROKERS value may carry a password, which must never reach a log. */
static const char *shown_value(const char *v, char *buf, size_t bufsz)
{
    const char *scheme = v ? strstr(v, "://") : NULL;
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    if (!at)
        return v;
    snprintf(buf, bufsz, "%.*s***%s", (int)(scheme + 3 - v), v, at);
    return buf;
}

/* Checks one value against its option's type, bounds and validator. */
static int check_value(ac_config_t *c, size_t i, char *err, size_t errsz)
{
    const ac_option_t *o = &c->opts[i];
    const char *v = c->values[i];
    char masked[512];
    const char *shown =
        (o->flags & AC_OPT_SECRET) ? "(hidden)" : shown_value(v, masked, sizeof(masked));
    char why[256] = "";
    char flag[128];
    flag_name(o->env, flag, sizeof(flag));

    if (!v || !*v) {
        if (o->flags & AC_OPT_REQUIRED) {
            snprintf(err, errsz, "missing setting %s (--%s): %s", o->env, flag, o->help);
            return -1;
        }
        return 0;
    }
    switch (o->type) {
    case AC_OPT_STR:
        break;
    case AC_OPT_BOOL:
        if (parse_bool(v, &c->ints[i]) < 0)
            snprintf(why, sizeof(why), "expected true or false");
        break;
    case AC_OPT_INT: {
        char *end = NULL;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || !end || *end || end == v)
            snprintf(why, sizeof(why), "expected a whole number");
        else if ((o->min || o->max) && (n < o->min || n > o->max))
            snprintf(why, sizeof(why), "must be between %lld and %lld", (long long)o->min,
                     (long long)o->max);
        c->ints[i] = n;
        break;
    }
    case AC_OPT_DURATION: {
        int64_t ms = 0;
        char lo[32], hi[32];
        if (ac_duration_parse(v, &ms) < 0) {
            snprintf(why, sizeof(why), "expected a duration such as 500ms, 30s, 15m, 2h or 7d");
        } else if ((o->min || o->max) && (ms < o->min || ms > o->max)) {
            ac_duration_format(o->min, lo, sizeof(lo));
            ac_duration_format(o->max, hi, sizeof(hi));
            snprintf(why, sizeof(why), "must be between %s and %s", lo, hi);
        }
        c->ints[i] = ms;
        break;
    }
    }
    if (!why[0] && o->validate)
        o->validate(v, why, sizeof(why));
    if (why[0]) {
        snprintf(err, errsz, "invalid setting %s=%s: %s", o->env, shown, why);
        return -1;
    }
    return 0;
}

int ac_config_parse(ac_config_t *c, int argc, char **argv, char **envp, char *err, size_t errsz)
{
    for (size_t i = 0; i < c->n_opts; i++)
        if (c->opts[i].def && set_value(c, (int)i, c->opts[i].def) < 0)
            goto oom;

    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, "RDKAFKA_", 8) == 0) {
            if (env_prop(c, *e, err, errsz) < 0)
                return -1;
            continue;
        }
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(eq - *e), *e);
        int i = find_option(c, name);
        if (i >= 0 && set_value(c, i, eq + 1) < 0)
            goto oom;
    }

    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            ac_config_usage(c, stdout);
            return AC_CONFIG_EXIT;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("%s %s\n", c->prog, AC_VERSION);
            return AC_CONFIG_EXIT;
        }
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errsz, "unexpected argument '%s' (see --help)", arg);
            return -1;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t namelen = eq ? (size_t)(eq - name) : strlen(name);
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (a + 1 >= argc) {
                snprintf(err, errsz, "flag --%s needs a value", name);
                return -1;
            }
            value = argv[++a];
        }
        if (namelen == 7 && strncmp(name, "rdkafka", 7) == 0) {
            const char *peq = strchr(value, '=');
            if (!peq || peq == value) {
                /* The value is not echoed: it may hold a password. */
                snprintf(err, errsz, "invalid flag --rdkafka: expected property=value");
                return -1;
            }
            if (add_prop(c, value, (size_t)(peq - value), peq + 1, err, errsz) < 0)
                return -1;
            continue;
        }
        int i = find_flag(c, name, namelen);
        if (i < 0) {
            snprintf(err, errsz, "unknown flag --%.*s (see --help)", (int)namelen, name);
            return -1;
        }
        if (set_value(c, i, value) < 0)
            goto oom;
    }

    for (size_t i = 0; i < c->n_opts; i++)
        if (check_value(c, i, err, errsz) < 0)
            return -1;
    return AC_CONFIG_OK;
oom:
    snprintf(err, errsz, "out of memory while reading configuration");
    return -1;
}

const char *ac_config_str(const ac_config_t *c, const char *env)
{
    int i = find_option(c, env);
    if (i < 0 || !c->values[i] || !c->values[i][0])
        return NULL;
    return c->values[i];
}

int64_t ac_config_int(const ac_config_t *c, const char *env)
{
    int i = find_option(c, env);
    return i < 0 ? 0 : c->ints[i];
}

size_t ac_config_kafka_prop_count(const ac_config_t *c)
{
    return c->n_props;
}

void ac_config_kafka_prop(const ac_config_t *c, size_t i, const char **name, const char **value)
{
    *name = c->prop_names[i];
    *value = c->prop_values[i];
}

void ac_config_usage(const ac_config_t *c, FILE *f)
{
    char flag[128];
    fprintf(f, "Usage: %s [--flag value ...]\n%s\n\n", c->prog, c->summary);
    fprintf(f, "Every setting is an environment variable or the equivalent flag; a flag wins.\n\n");
    for (size_t i = 0; i < c->n_opts; i++) {
        const ac_option_t *o = &c->opts[i];
        flag_name(o->env, flag, sizeof(flag));
        fprintf(f, "  %-24s --%-24s %s\n", o->env, flag, o->help);
        if (o->flags & AC_OPT_REQUIRED)
            fprintf(f, "  %-24s   %-24s (required)\n", "", "");
        else if (o->def && *o->def)
            fprintf(f, "  %-24s   %-24s default: %s\n", "", "", o->def);
    }
    fprintf(f,
            "\n  RDKAFKA_<PROPERTY>       --rdkafka property=value   any librdkafka property,\n"
            "                           e.g. RDKAFKA_SECURITY_PROTOCOL=SASL_SSL (\"_\" for \".\","
            " \"__\" for \"_\")\n"
            "  --help, --version\n");
}

int ac_config_validate_http_url(const char *value, char *why, size_t whysz)
{
    if (strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0) {
        snprintf(why, whysz, "expected an http:// or https:// URL");
        return -1;
    }
    const char *host = value + (value[4] == 's' ? 8 : 7);
    if (!*host || *host == '/' || *host == ':') {
        snprintf(why, whysz, "the URL has no host");
        return -1;
    }
    return 0;
}

int ac_config_validate_redis_url(const char *value, char *why, size_t whysz)
{
    ac_redis_url_t u;
    return ac_redis_url_parse(value, &u, why, whysz);
}

int ac_config_validate_redis_cluster(const char *value, char *why, size_t whysz)
{
    ac_redis_cluster_t mode;
    return ac_redis_cluster_parse(value, &mode, why, whysz);
}

int ac_config_validate_log_level(const char *value, char *why, size_t whysz)
{
    if (ac_log_level_parse(value) < 0) {
        snprintf(why, whysz, "expected debug, info, warn or error");
        return -1;
    }
    return 0;
}

/* Kafka topic names: 1 to 249 characters of [a-zA-Z0-9._-]. */
int ac_config_validate_topic(const char *value, char *why, size_t whysz)
{
    size_t n = strlen(value);
    if (n == 0 || n > 249 || strcmp(value, ".") == 0 || strcmp(value, "..") == 0) {
        snprintf(why, whysz, "not a valid Kafka topic name");
        return -1;
    }
    for (const char *p = value; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-') {
            snprintf(why, whysz, "a Kafka topic name has only letters, digits, '.', '_' and '-'");
            return -1;
        }
    }
    return 0;
}
