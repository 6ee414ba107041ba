#include "slotmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slot.h"

typedef struct node {
    char *host;
    int port;
} node_t;

struct ac_slotmap {
    node_t *nodes;
    size_t n_nodes, cap_nodes;
    int slots[AC_SLOT_COUNT]; /* node index, -1: unserved */
};

void ac_slotmap_destroy(ac_slotmap_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_nodes; i++)
        free(m->nodes[i].host);
    free(m->nodes);
    free(m);
}

/* The index of host:port, added when new. Returns -1 when out of memory. */
static int node_index(ac_slotmap_t *m, const char *host, int port)
{
    for (size_t i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].port == port && strcmp(m->nodes[i].host, host) == 0)
            return (int)i;
    if (m->n_nodes == m->cap_nodes) {
        size_t cap = m->cap_nodes ? m->cap_nodes * 2 : 8;
        node_t *nodes = realloc(m->nodes, cap * sizeof(*nodes));
        if (!nodes)
            return -1;
        m->nodes = nodes;
        m->cap_nodes = cap;
    }
    char *copy = strdup(host);
    if (!copy)
        return -1;
    m->nodes[m->n_nodes] = (node_t){copy, port};
    return (int)m->n_nodes++;
}

/* One range of a CLUSTER SLOTS reply: [start, end, [host, port, ...],
 * ...]. Returns 0, or -1 with err. */
static int add_range(ac_slotmap_t *m, const redisReply *r, char *err, size_t errsz)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER ||
        r->element[2]->type != REDIS_REPLY_ARRAY || r->element[2]->elements < 2) {
        snprintf(err, errsz, "CLUSTER SLOTS: a range is not [start, end, [host, port]]");
        return -1;
    }
    long long start = r->element[0]->integer, end = r->element[1]->integer;
    const redisReply *master = r->element[2];
    const redisReply *host = master->element[0], *port = master->element[1];
    if (start < 0 || end >= AC_SLOT_COUNT || start > end ||
        (host->type != REDIS_REPLY_STRING && host->type != REDIS_REPLY_NIL) ||
        port->type != REDIS_REPLY_INTEGER || port->integer <= 0 || port->integer > 65535) {
        snprintf(err, errsz, "CLUSTER SLOTS: a range's slots or master are out of bounds");
        return -1;
    }
    int node = node_index(m, host->type == REDIS_REPLY_STRING ? host->str : "", (int)port->integer);
    if (node < 0) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (long long s = start; s <= end; s++)
        m->slots[s] = node;
    return 0;
}

ac_slotmap_t *ac_slotmap_from_slots(const redisReply *reply, char *err, size_t errsz)
{
    ac_slotmap_t *m = NULL;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errsz, "CLUSTER SLOTS: the reply is not an array");
        return NULL;
    }
    if (!(m = calloc(1, sizeof(*m)))) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    for (int s = 0; s < AC_SLOT_COUNT; s++)
        m->slots[s] = -1;
    for (size_t i = 0; i < reply->elements; i++) {
        if (add_range(m, reply->element[i], err, errsz) < 0)
            goto fail;
    }
    return m;
fail:
    ac_slotmap_destroy(m);
    return NULL;
}

int ac_slotmap_node(const ac_slotmap_t *m, int slot)
{
    return slot >= 0 && slot < AC_SLOT_COUNT ? m->slots[slot] : -1;
}

size_t ac_slotmap_count(const ac_slotmap_t *m)
{
    return m->n_nodes;
}

const char *ac_slotmap_host(const ac_slotmap_t *m, size_t node)
{
    return node < m->n_nodes ? m->nodes[node].host : NULL;
}

int ac_slotmap_port(const ac_slotmap_t *m, size_t node)
{
    return node < m->n_nodes ? m->nodes[node].port : -1;
}

int ac_slotmap_move(ac_slotmap_t *m, int slot, const char *host, int port)
{
    if (slot < 0 || slot >= AC_SLOT_COUNT)
        return -1;
    int node = node_index(m, host, port);
    if (node >= 0)
        m->slots[slot] = node;
    return node;
}
