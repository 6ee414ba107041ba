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

/* What a Redis Cluster error reply asks of the client (the
 * specification's "Redirection and resharding"): MOVED (the slot lives on
 * another node: refresh the map and send it there), ASK (this one key is
 * being migrated: send ASKING and the command to that node once, keeping
 * the map), TRYAGAIN (a multi-key command during a migration: retry after
 * a moment), CLUSTERDOWN (no node serves the slot now: retry later). */
typedef enum ac_slot_reply {
    AC_SLOT_REPLY_OTHER = 0, /* not a cluster error */
    AC_SLOT_REPLY_MOVED,
    AC_SLOT_REPLY_ASK,
    AC_SLOT_REPLY_TRYAGAIN,
    AC_SLOT_REPLY_CLUSTERDOWN,
} ac_slot_reply_t;

typedef struct ac_slot_redirect {
    int slot;
    char host[256]; /* "" when the node sent none: the node that replied */
    int port;
} ac_slot_redirect_t;

/* Classifies an error reply's text ("MOVED 3999 127.0.0.1:6381", without
 * the leading '-' hiredis strips), filling *to for MOVED and ASK. The
 * port follows the last ':', so an IPv6 address needs no brackets, as
 * Redis writes it. A MOVED or ASK that does not parse is AC_SLOT_REPLY_OTHER. */
ac_slot_reply_t ac_slot_reply(const char *err, ac_slot_redirect_t *to);

#endif
