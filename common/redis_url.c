#include "redis_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The password is everything between the scheme (or a leading ":") and
 * the last "@", so that a password may itself contain "@". */
int ac_redis_url_parse(const char *url, ac_redis_url_t *u, char *why, size_t whysz)
{
    memset(u, 0, sizeof(*u));
    u->port = 6379;
    if (!url || strncmp(url, "redis://", 8) != 0) {
        snprintf(why, whysz, "expected redis://[:password@]host:port[/db]");
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
    size_t hostlen = strcspn(p, ":/");
    if (hostlen == 0 || hostlen >= sizeof(u->host)) {
        snprintf(why, whysz, "expected redis://[:password@]host:port[/db]: no host");
        return -1;
    }
    memcpy(u->host, p, hostlen);
    u->host[hostlen] = '\0';
    p += hostlen;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535 || (*end && *end != '/')) {
            snprintf(why, whysz, "port must be a number from 1 to 65535");
            return -1;
        }
        u->port = (int)port;
        p = end;
    }
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
        snprintf(why, whysz, "expected redis://[:password@]host:port[/db]");
        return -1;
    }
    return 0;
}
