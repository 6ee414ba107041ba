/* Redis Cluster key slots (pure): which of the 16,384 hash slots a key
 * belongs to, as the Redis Cluster specification defines it, so that a
 * batch can be split into one pipeline per node and keys that a script
 * touches together can be checked to share a slot.
 *
 * The first piece of the cluster-aware layer of issue 16; nothing uses it
 * yet. Written from the specification's "Key distribution model" and
 * "Hash tags" sections and Redis's own keyHashSlot() (src/cluster.c) with
 * its CRC16 (src/crc16.c: CCITT, XMODEM variant); the unit tests' slots
 * were read from redis-server 7.0's CLUSTER KEYSLOT. */
#ifndef AC_SLOT_H
#define AC_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define AC_SLOT_COUNT 16384

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0, no
 * reflection), the checksum Redis Cluster hashes keys with. */
uint16_t ac_slot_crc16(const char *buf, size_t len);

/* The slot of a key of len bytes. When the key holds a '{' followed later
 * by a '}' with at least one byte between them, only the bytes between
 * the first '{' and the first '}' after it are hashed (the hash tag), so
 * that "{order-1}.journey" and "{order-1}.sent" share a slot. */
int ac_slot_of(const char *key, size_t len);

#endif
