/* Which node of a Redis Cluster serves each hash slot (slot.h), learnt
 * from a CLUSTER SLOTS reply and corrected by MOVED redirections: what a
 * cluster-aware batch needs to send one pipeline per node (issue 16).
 * Modelled on hiredis-cluster's route table (hircluster.c, built from
 * CLUSTER SLOTS and updated on MOVED), without its hiredis 1.x
 * dependency. The Redis client's cluster mode (redis_cluster.c) routes
 * by it.
 *
 * Ownership: the map owns its node addresses; the reply it is built from
 * stays the caller's. */
#ifndef AC_SLOTMAP_H
#define AC_SLOTMAP_H

#include <stddef.h>

#include <hiredis/hiredis.h>

typedef struct ac_slotmap ac_slotmap_t;

/* Builds the map of a CLUSTER SLOTS reply: an array of [start, end,
 * [host, port, id...], replicas...], of which the first node of each
 * range, its master, is kept. Returns NULL with err when the reply is
 * not of that shape or memory runs out. */
ac_slotmap_t *ac_slotmap_from_slots(const redisReply *reply, char *err, size_t errsz);

/* Accepts NULL. */
void ac_slotmap_destroy(ac_slotmap_t *m);

/* The node serving slot, an index below ac_slotmap_count(), or -1 when
 * no node serves it (the cluster is down for it). */
int ac_slotmap_node(const ac_slotmap_t *m, int slot);

size_t ac_slotmap_count(const ac_slotmap_t *m);

/* A node's address. Its host is "" when the cluster did not say (the
 * node that answered CLUSTER SLOTS, then). */
const char *ac_slotmap_host(const ac_slotmap_t *m, size_t node);
int ac_slotmap_port(const ac_slotmap_t *m, size_t node);

/* A MOVED redirection: slot now lives at host:port, a node added to the
 * map when it is new. Returns the node's index, or -1 when out of memory
 * or the slot is out of range. */
int ac_slotmap_move(ac_slotmap_t *m, int slot, const char *host, int port);

#endif
