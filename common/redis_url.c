#include "redis_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_FORM "expected redis://[:password@]host:port[,host:port...][/db]"

/* Reads one "host[:port]" of the seed list at *p into seed, leaving *p on
 * the ',', '/' or end after it. Returns 0, or -1 with why. */
static int parse_seed(const char **p, ac_redis_seed_t *seed, char *why, size_t whysz)
{
    const char *s = *p;
    size_t hostlen = strcspn(s, ":/,");
    if (hostlen == 0 || hostlen >= sizeof(seed->host)) {
        snprintf(why, whysz, "%s: no host", URL_FORM);
        return -1;
    }
    memcpy(seed->host, s, hostlen);
    seed->host[hostlen] = '\0';
    seed->port = 6379;
    s += hostlen;
    if (*s == ':') {
        char *end;
        long port = strtol(s + 1, &end, 10);
        if (end == s + 1 || port < 1 || port > 65535 || (*end && *end != '/' && *end != ',')) {
            snprintf(why, whysz, "port must be a number from 1 to 65535");
            return -1;
        }
        seed->port = (int)port;
        s = end;
    }
    *p = s;
    return 0;
}

/* Reads the seed list at *p, up to the '/' or the end. */
static int parse_seeds(const char **p, ac_redis_url_t *u, char *why, size_t whysz)
{
    for (;;) {
        if (u->n_seeds == AC_REDIS_URL_MAX_SEEDS) {
            snprintf(why, whysz, "at most %d hosts", AC_REDIS_URL_MAX_SEEDS);
            return -1;
        }
        if (parse_seed(p, &u->seeds[u->n_seeds], why, whysz) < 0)
            return -1;
        u->n_seeds++;
        if (**p != ',')
            return 0;
        (*p)++;
    }
}

/* The password is everything between the scheme (or a leading ":") and
 * the last "@", so that a password may itself contain "@". */
int ac_redis_url_parse(const char *url, ac_redis_url_t *u, char *why, size_t whysz)
{
    memset(u, 0, sizeof(*u));
    u->port = 6379;
    if (!url || strncmp(url, "redis://", 8) != 0) {
        snprintf(why, whysz, URL_FORM);
        return -1;
    }
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        size_t n = (size_t)(at - pw);
        if (n >= sizeof(u->password)) {
            snprintf(why, whysz, "password too long");
            return -1;
        }
        memcpy(u->password, pw, n);
        u->password[n] = '\0';
        p = at + 1;
    }
    if (parse_seeds(&p, u, why, whysz) < 0)
        return -1;
    memcpy(u->host, u->seeds[0].host, sizeof(u->host));
    u->port = u->seeds[0].port;
    if (*p == '/') {
        p++;
        if (*p) {
            char *end;
            long db = strtol(p, &end, 10);
            if (end == p || *end || db < 0 || db > 1000000) {
                snprintf(why, whysz, "database must be a number");
                return -1;
            }
            u->db = (int)db;
        }
    } else if (*p) {
        snprintf(why, whysz, URL_FORM);
        return -1;
    }
    return 0;
}

int ac_redis_cluster_parse(const char *value, ac_redis_cluster_t *mode, char *why, size_t whysz)
{
    if (value && strcmp(value, "auto") == 0)
        *mode = AC_REDIS_CLUSTER_AUTO;
    else if (value && strcmp(value, "on") == 0)
        *mode = AC_REDIS_CLUSTER_ON;
    else if (value && strcmp(value, "off") == 0)
        *mode = AC_REDIS_CLUSTER_OFF;
    else {
        snprintf(why, whysz, "expected auto, on or off");
        return -1;
    }
    return 0;
}
