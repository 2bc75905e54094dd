/* esapi.h -- the Elasticsearch API over HTTP, so that unchanged Elasticsearch clients work:
 * which requests are its (esroute.h), their operations (esops.h) run on helper threads
 * (offload.h) since they read the store, the root document answered on the loop, media types,
 * and the X-Elastic-Product: Elasticsearch header on every response, errors included (the
 * official clients refuse a server without it). api.c hands every request it claims here.
 * Its errors are all in Elasticsearch's shape. Owns the registry of points in time and scroll
 * contexts (pit.h). Event-loop threads only, except where said. */
#ifndef ESAPI_H
#define ESAPI_H
#include <stdbool.h>
#define H2O_USE_LIBUV 0
#include <h2o.h>
#include "config.h"
#include "metrics.h"
#include "gate.h"
#include "store.h"

typedef struct esapi esapi_t;

/* The API over `st` with the feeds of `cfg` (both BORROWED: they outlive it), holding at most
 * cfg->max_search_contexts points in time and scrolls; its /metrics collector is registered in
 * `m`. Returns 0, or -1 when out of memory or the reaper thread cannot start (*out NULL). */
int esapi_new(esapi_t **out, const config_t *cfg, store_t *st, metrics_t *m);

/* Close every point in time and scroll and answer new requests 503: the server is stopping
 * (the store closes after this). Any thread; idempotent. */
void esapi_shutdown(esapi_t *es);

void esapi_free(esapi_t *es);   /* NULL is a no-op; shuts down first */

/* Is `req` a request of the Elasticsearch API? (GET / with Accept: text/html is not: the
 * dashboard answers it.) */
bool esapi_claims(h2o_req_t *req);

/* Answer a claimed request. `done` is the loop's receiver for offloaded work (offload.h);
 * `who` (gate.h; held while the request runs; NULL: everything) is whose scope is ANDed into
 * everything the request reads, and whose feeds are the indices that exist for it. */
void esapi_handle(esapi_t *es, h2o_multithread_receiver_t *done, h2o_req_t *req, const gate_who_t *who);

#endif
