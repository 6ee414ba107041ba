/* Internals of the ingest gateway shared by ingest.c (delivery to Kafka)
 * and ingest_routes.c (the endpoints). Not for other modules. */
#ifndef AC_INGEST_INT_H
#define AC_INGEST_INT_H

#include "ingest.h"

struct ac_ingest {
    const ac_creds_t *creds;
    ac_iprod_t *prod;
    ac_ictx_t *ictx;
    ac_metrics_t *m;
    ac_ingest_opts_t o;
};

#endif
