/* api.h -- the HTTP endpoints, apart from the server machinery (loops, listeners, TLS,
 * shutdown: server.h). Every request the server accepts passes through api_handle, which
 * checks the URL and header limits, routes, applies CORS, refuses wrong methods and, during
 * shutdown, new requests; then one endpoint answers: /stream (stream.h), /feeds, /health,
 * /metrics, /_replication and /_replication/snapshot (replsend.h), or the Elasticsearch API
 * (esapi.h: GET / for clients, /_search, /{index}/_search, _count, _msearch, _doc, points in
 * time, scrolls, _mapping, _cat/indices; searches on helper threads). Paths it does not know go
 * on to the dashboard's static files, then to api_not_found. This is the one place every route
 * passes through: each endpoint but /health passes the gate (gate.h) first, with the permission
 * it needs, and reads what the client may see from what the gate grants. Errors have the shape
 * httpreq.h describes. Event-loop threads only, except where said. */
#ifndef API_H
#define API_H
#include "config.h"
#include "gate.h"
#include "httpreq.h"
#include "ingest.h"
#include "metrics.h"
#include "replica.h"
#include "replsend.h"
#include "store.h"
#include "stream.h"

typedef struct api api_t;

/* What an event loop lends the endpoints for the requests it serves. */
typedef struct {
    stream_hub_t *hub;                        /* this loop's stream hub (BORROWED) */
    h2o_multithread_receiver_t *offload_done; /* this loop's receiver for offloaded requests */
    replsend_loop_t *repl;                    /* this loop's replication streams (BORROWED) */
} api_loop_t;

/* A replica's replication thread, for /feeds, /health and /metrics (NULL: a primary). Any
 * thread. */
void api_set_replica(api_t *api, replica_t *replica);

/* The /feeds document (malloc'd JSON): the ingest's on a primary, the primary's as last received
 * on a replica, "[]" before either exists. A replsend_feeds_fn (`api` is the api_t). */
char *api_feeds_json(void *api);

/* The server's own health: NULL when its loops are fine, else a short reason (any thread). */
typedef const char *api_health_fn(void *ud);

/* Create the endpoints over `cfg`, `st` and `gate` (BORROWED; they outlive the api) with an
 * empty metrics registry to which the store's and the gate's collectors are added. Returns 0,
 * or -1 when out of memory (*out NULL). */
int api_new(api_t **out, const config_t *cfg, store_t *st, gate_t *gate);
void api_free(api_t *api);   /* NULL is a no-op; the server must have stopped */

/* The registry behind /metrics, for modules that report into it (register before serving). */
metrics_t *api_metrics(api_t *api);

/* The ingest thread, for /feeds, /metrics and /health (NULL: no feeds). Any thread. */
void api_set_ingest(api_t *api, ingest_t *ing);

/* The server's health check for /health. Set before serving. */
void api_set_health(api_t *api, api_health_fn *fn, void *ud);

/* From now on every request except /health gets 503 (the server is shutting down), and the
 * Elasticsearch API's points in time and scrolls are closed. Any thread. */
void api_begin_shutdown(api_t *api);

/* Answer `req`. Returns 0 when it was answered, -1 when the path is not an endpoint (the
 * static-file handler comes next). */
int api_handle(api_t *api, const api_loop_t *loop, h2o_req_t *req);

/* Answer 404 in the error shape (httpreq.h) with the path: for a path that is neither an
 * endpoint nor one of the dashboard's files (the server's last handler). */
void api_not_found(h2o_req_t *req);

#endif
