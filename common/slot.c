#include "slot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bit by bit rather than Redis's 256-entry table: the slot of a batch's
 * few hundred short keys costs microseconds either way, and there is no
 * table to get wrong. */
uint16_t ac_slot_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)buf[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

int ac_slot_of(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t from = (size_t)(open - key) + 1;
        const char *close = memchr(key + from, '}', len - from);
        /* "{}" hashes the whole key, as Redis does. */
        if (close && close > key + from)
            return ac_slot_crc16(key + from, (size_t)(close - (key + from))) & (AC_SLOT_COUNT - 1);
    }
    return ac_slot_crc16(key, len) & (AC_SLOT_COUNT - 1);
}

/* Reads "<slot> <host>:<port>" after MOVED or ASK, the way redis-cli
 * does (src/redis-cli.c) but without writing into the reply. */
static int parse_target(const char *p, ac_slot_redirect_t *to)
{
    char *end;
    long slot = strtol(p, &end, 10);
    if (end == p || *end != ' ' || slot < 0 || slot >= AC_SLOT_COUNT)
        return -1;
    const char *addr = end + 1, *colon = strrchr(addr, ':');
    if (!colon)
        return -1;
    long port = strtol(colon + 1, &end, 10);
    size_t host_len = (size_t)(colon - addr);
    if (end == colon + 1 || *end != '\0' || port <= 0 || port > 65535 ||
        host_len >= sizeof(to->host))
        return -1;
    memcpy(to->host, addr, host_len);
    to->host[host_len] = '\0';
    to->slot = (int)slot;
    to->port = (int)port;
    return 0;
}

ac_slot_reply_t ac_slot_reply(const char *err, ac_slot_redirect_t *to)
{
    if (!err)
        return AC_SLOT_REPLY_OTHER;
    if (strncmp(err, "MOVED ", 6) == 0)
        return parse_target(err + 6, to) == 0 ? AC_SLOT_REPLY_MOVED : AC_SLOT_REPLY_OTHER;
    if (strncmp(err, "ASK ", 4) == 0)
        return parse_target(err + 4, to) == 0 ? AC_SLOT_REPLY_ASK : AC_SLOT_REPLY_OTHER;
    if (strncmp(err, "TRYAGAIN", 8) == 0 && (err[8] == ' ' || err[8] == '\0'))
        return AC_SLOT_REPLY_TRYAGAIN;
    if (strncmp(err, "CLUSTERDOWN", 11) == 0 && (err[11] == ' ' || err[11] == '\0'))
        return AC_SLOT_REPLY_CLUSTERDOWN;
    return AC_SLOT_REPLY_OTHER;
}
