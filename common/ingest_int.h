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

/* The rating links, GET and POST /r/{token} (ingest_rating.c): answers
 * the request, sets *topic to the label value of its kind ("link" or
 * "comment") and returns the result label value. */
const char *ac_ingest_rating_route(ac_ingest_t *g, const ac_ingest_req_t *req,
                                   ac_ingest_resp_t *resp, const char **topic);

/* Declares the rating links' metric families, every rating at 0. */
void ac_ingest_rating_describe_metrics(ac_metrics_t *m);

#endif
