#include "slot.h"

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
