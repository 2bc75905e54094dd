/* api.c -- the HTTP endpoints: limits, routing, CORS, methods, and the small JSON endpoints
 * (/feeds, /health, /metrics); /stream is stream.c, the Elasticsearch API esapi.c. See api.h. */
#include "api.h"
#include "esapi.h"
#include "log.h"
#include "timefmt.h"
#include "version.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_URL_BYTES 8192            /* longer: 414 */
#define MAX_HEADER_BYTES (64 * 1024)  /* all request headers together; more: 431 */
#define MAX_FEEDS_IN_METRICS 1024

struct api {
    const config_t *cfg;        /* borrowed */
    store_t *st;                /* borrowed */
    gate_t *gate;               /* borrowed */
    ingest_t *_Atomic ing;      /* borrowed; NULL: no feeds */
    replica_t *_Atomic replica; /* borrowed; NULL: a primary */
    metrics_t *metrics;         /* owned */
    esapi_t *es;                /* owned: the Elasticsearch API */
    api_health_fn *health;
    void *health_ud;
    _Atomic int stopping;
};

typedef enum { R_NONE, R_STREAM, R_FEEDS, R_HEALTH, R_METRICS, R_REPL, R_SNAPSHOT } route_t;

static const struct {
    const char *path;
    route_t route;
    int post;                   /* POST allowed besides GET and HEAD */
    unsigned allow;             /* the permission it needs (auth.h); 0: public, no gate */
} routes[] = {
    {"/stream", R_STREAM, 1, AUTH_ALLOW_STREAM},
    {"/feeds", R_FEEDS, 0, AUTH_ALLOW_FEEDS},
    {"/health", R_HEALTH, 0, 0},
    {"/metrics", R_METRICS, 0, AUTH_ALLOW_METRICS},
    {"/_replication", R_REPL, 0, AUTH_ALLOW_REPLICATE},
    {"/_replication/snapshot", R_SNAPSHOT, 0, AUTH_ALLOW_REPLICATE},
};

/* ---- CORS ---- */

static const char *allowed_origin(const config_t *cfg, const char *origin, size_t len)
{
    for (size_t i = 0; i < cfg->ncors_origins; i++) {
        const char *o = cfg->cors_origins[i];
        if (strcmp(o, "*") == 0)
            return "*";
        if (strlen(o) == len && memcmp(o, origin, len) == 0)
            return o;
    }
    return NULL;
}

/* Adds the CORS response headers; returns 1 when the request is an answered preflight. */
static int apply_cors(api_t *api, h2o_req_t *req)
{
    const char *origin;
    size_t len;
    httpreq_header(req, "origin", &origin, &len);
    const char *allow = origin ? allowed_origin(api->cfg, origin, len) : NULL;
    if (allow) {
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-origin"), 0, NULL,
                              allow, strlen(allow));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS")))
        return 0;
    if (allow) {
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-methods"), 0, NULL,
                              H2O_STRLIT("GET, POST, OPTIONS"));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-headers"), 0, NULL,
                              H2O_STRLIT("Authorization, Last-Event-ID, Content-Type, Accept, Cache-Control"));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-max-age"), 0, NULL,
                              H2O_STRLIT("600"));
    }
    req->res.status = 204;
    req->res.reason = "No Content";
    h2o_send_inline(req, "", 0);
    return 1;
}

/* ---- endpoints ---- */

static void send_owned_json(h2o_req_t *req, int status, char *text)
{
    if (!text) {
        httpreq_send_error(req, 500, "out of memory", NULL);
        return;
    }
    httpreq_send(req, status, NULL, "application/json; charset=utf-8", text, strlen(text));
    free(text);
}

/* Every feed's status: what this node ingests, or (a replica) what its primary sent. */
char *api_feeds_json(void *ud)
{
    api_t *api = ud;
    ingest_t *ing = atomic_load(&api->ing);
    replica_t *replica = atomic_load(&api->replica);
    return ing ? ingest_feeds_json(ing) : replica ? replica_feeds_json(replica) : strdup("[]");
}

static void handle_feeds(api_t *api, h2o_req_t *req, const gate_who_t *who)
{
    send_owned_json(req, 200, gate_feeds_json(who, api_feeds_json(api)));
}

static const char *health_problem(api_t *api)
{
    const char *problem = api->health ? api->health(api->health_ud) : NULL;
    ingest_t *ing = atomic_load(&api->ing);
    if (!problem && ing && !ingest_healthy(ing))
        problem = "the ingest thread is not running";
    if (!problem && atomic_load(&api->stopping))
        problem = "shutting down";
    return problem;
}

/* A replica's part of /health: while frames arrive, a lag over max_replica_lag is a problem
 * (a load balancer moves new clients to fresher nodes); a replica that hears nothing stays in
 * rotation (when the primary is down every replica has the same data) and says so. */
static const char *replica_health(api_t *api, char *extra, size_t len)
{
    replica_t *replica = atomic_load(&api->replica);
    extra[0] = '\0';
    if (!replica)
        return NULL;
    replica_status_t s;
    replica_status(replica, &s);
    if (!s.connected) {
        char since[TIMEFMT_RFC3339_MAX];
        timefmt_format_rfc3339(s.disconnected_since_us, since);
        snprintf(extra, len, ",\"replication\":\"disconnected\",\"since\":\"%s\"", since);
        return NULL;
    }
    snprintf(extra, len, ",\"replication\":\"connected\",\"lag_seconds\":%.3f", s.lag_s);
    return s.lag_s * 1000 > (double)api->cfg->max_replica_lag_ms ? "replica lag over max_replica_lag" : NULL;
}

static void handle_health(api_t *api, h2o_req_t *req)
{
    char extra[160], body[512];
    const char *problem = health_problem(api), *lag = replica_health(api, extra, sizeof extra);
    if (!problem)
        problem = lag;
    if (problem)   /* the error shape, with the status fields a health check reads */
        snprintf(body, sizeof body, "{\"error\":\"%s\",\"status\":\"unavailable\",\"reason\":\"%s\"%s}",
                 problem, problem, extra);
    else
        snprintf(body, sizeof body, "{\"status\":\"ok\",\"version\":\"%s\",\"head\":%llu%s}", AS_VERSION,
                 (unsigned long long)store_head(api->st), extra);
    httpreq_send(req, problem ? 503 : 200, NULL, "application/json; charset=utf-8", body, strlen(body));
}

static void handle_metrics(api_t *api, h2o_req_t *req)
{
    size_t len;
    char *text = metrics_render(api->metrics, &len);
    if (!text) {
        httpreq_send_error(req, 500, "out of memory", NULL);
        return;
    }
    httpreq_send(req, 200, NULL, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

/* ---- the feeds' /metrics families ---- */

static void feed_family(metrics_out_t *out, const ingest_feed_metrics_t *feeds, size_t n, const char *name,
                        const char *help, size_t offset)
{
    metrics_family(out, name, "counter", help);
    for (size_t i = 0; i < n; i++)
        metrics_sample(out, name, "feed", feeds[i].id, *(const uint64_t *)((const char *)&feeds[i] + offset));
}

static void report_feeds(metrics_out_t *out, void *ud)
{
    api_t *api = ud;
    ingest_t *ing = atomic_load(&api->ing);
    ingest_feed_metrics_t *f = calloc(MAX_FEEDS_IN_METRICS, sizeof *f);
    size_t n = f && ing ? ingest_metrics(ing, f, MAX_FEEDS_IN_METRICS) : 0;
    if (n > MAX_FEEDS_IN_METRICS)
        n = MAX_FEEDS_IN_METRICS;
    feed_family(out, f, n, "as_feed_pages_total", "Pages fetched per feed.", offsetof(ingest_feed_metrics_t, pages));
    feed_family(out, f, n, "as_feed_bytes_total", "Bytes fetched per feed.", offsetof(ingest_feed_metrics_t, bytes));
    feed_family(out, f, n, "as_feed_activities_written_total", "New or changed activities written per feed.",
                offsetof(ingest_feed_metrics_t, activities_written));
    feed_family(out, f, n, "as_feed_skipped_items_total", "Invalid items skipped per feed.",
                offsetof(ingest_feed_metrics_t, skipped_items));
    feed_family(out, f, n, "as_feed_errors_total", "Feed errors per feed.", offsetof(ingest_feed_metrics_t, errors));
    feed_family(out, f, n, "as_feed_full_syncs_total", "Completed full syncs per feed.",
                offsetof(ingest_feed_metrics_t, full_syncs));
    metrics_family(out, "as_feed_state", "gauge", "Feed state: 0 syncing, 1 ok, 2 failing.");
    for (size_t i = 0; i < n; i++)
        metrics_sample(out, "as_feed_state", "feed", f[i].id, (uint64_t)f[i].state);
    free(f);
}

static void report_replica(metrics_out_t *out, void *ud)
{
    replica_t *replica = atomic_load(&((api_t *)ud)->replica);
    if (replica)
        replica_report_metrics(out, replica);
}

/* ---- routing ---- */

static int is_method(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static int route_of(h2o_req_t *req)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (h2o_memis(req->path_normalized.base, req->path_normalized.len, routes[i].path, strlen(routes[i].path)))
            return (int)i;
    return -1;
}

/* Answers requests over the URL or header limits; returns 1 when it did. */
static int refuse_oversized(h2o_req_t *req)
{
    size_t header_bytes = 0;
    for (size_t i = 0; i < req->headers.size; i++)
        header_bytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len;
    if (req->path.len > MAX_URL_BYTES) {
        httpreq_send_error_limit(req, 414, "the URL is longer than 8192 bytes", MAX_URL_BYTES);
        return 1;
    }
    if (header_bytes > MAX_HEADER_BYTES) {
        httpreq_send_error_limit(req, 431, "the request headers are larger than 64 KiB", MAX_HEADER_BYTES);
        return 1;
    }
    return 0;
}

/* 405 for a method the route does not take; returns 1 when it answered. */
static int refuse_method(h2o_req_t *req, int post_ok)
{
    if (is_method(req, "GET") || is_method(req, "HEAD") || (post_ok && is_method(req, "POST")))
        return 0;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, post_ok ? "GET, POST, OPTIONS" : "GET, OPTIONS",
                   post_ok ? 18 : 12);
    httpreq_send_error_field(req, 405, "method not allowed", "method", req->method.base, req->method.len);
    return 1;
}

static int refuse_file_method(h2o_req_t *req)
{
    if (is_method(req, "GET") || is_method(req, "HEAD"))
        return 0;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
    httpreq_send_error_field(req, 405, "method not allowed", "method", req->method.base, req->method.len);
    return 1;
}

/* The Elasticsearch API (/_search, /{index}/_search, GET / for clients ...): its own routes,
 * methods and error shape. */
static int handle_es(api_t *api, const api_loop_t *loop, h2o_req_t *req)
{
    if (apply_cors(api, req))
        return 0;
    const gate_who_t *who = gate_check(api->gate, req, AUTH_ALLOW_SEARCH);
    if (who)   /* else the gate answered: 401 or 403 */
        esapi_handle(api->es, loop->offload_done, req, who);
    return 0;
}

int api_handle(api_t *api, const api_loop_t *loop, h2o_req_t *req)
{
    if (refuse_oversized(req))
        return 0;
    int i = route_of(req);
    if (i < 0 && esapi_claims(req))
        return handle_es(api, loop, req);
    if (i < 0)   /* the dashboard's files, which take GET and HEAD (h2o would answer in text) */
        return refuse_file_method(req) ? 0 : -1;
    route_t r = routes[i].route;
    if (apply_cors(api, req) || refuse_method(req, routes[i].post))
        return 0;
    if (atomic_load(&api->stopping) && r != R_HEALTH) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
        httpreq_send_error(req, 503, "the server is shutting down", NULL);
        return 0;
    }
    const gate_who_t *who = NULL;
    if (routes[i].allow && !(who = gate_check(api->gate, req, routes[i].allow)))
        return 0;   /* the gate answered: 401 or 403 */
    switch (r) {
    case R_STREAM: stream_handle(loop->hub, req, who); break;
    case R_FEEDS: handle_feeds(api, req, who); break;
    case R_HEALTH: handle_health(api, req); break;
    case R_METRICS: handle_metrics(api, req); break;
    case R_REPL: replsend_handle(loop->repl, req); break;
    case R_SNAPSHOT: replsend_snapshot(loop->repl, req); break;
    case R_NONE: break;
    }
    return 0;
}

void api_not_found(h2o_req_t *req)
{
    httpreq_send_error_field(req, 404, "not found: no endpoint or dashboard file at this path", "path",
                             req->path_normalized.base, req->path_normalized.len);
}

/* ---- lifecycle ---- */

void api_free(api_t *api)
{
    if (!api)
        return;
    esapi_free(api->es);
    metrics_free(api->metrics);
    free(api);
}

int api_new(api_t **out, const config_t *cfg, store_t *st, gate_t *gate)
{
    api_t *api = calloc(1, sizeof *api);
    *out = NULL;
    if (!api || metrics_new(&api->metrics) != 0) {
        free(api);
        return -1;
    }
    api->cfg = cfg;
    api->st = st;
    api->gate = gate;
    if (metrics_register(api->metrics, store_report_metrics, st) != 0 ||
        metrics_register(api->metrics, report_feeds, api) != 0 ||
        metrics_register(api->metrics, report_replica, api) != 0 ||
        metrics_register(api->metrics, gate_report_metrics, gate) != 0 ||
        esapi_new(&api->es, cfg, st, api->metrics) != 0) {
        api_free(api);
        return -1;
    }
    *out = api;
    return 0;
}


metrics_t *api_metrics(api_t *api) { return api->metrics; }

void api_set_ingest(api_t *api, ingest_t *ing) { atomic_store(&api->ing, ing); }

void api_set_replica(api_t *api, replica_t *replica) { atomic_store(&api->replica, replica); }

void api_set_health(api_t *api, api_health_fn *fn, void *ud)
{
    api->health = fn;
    api->health_ud = ud;
}

void api_begin_shutdown(api_t *api)
{
    atomic_store(&api->stopping, 1);
    esapi_shutdown(api->es);   /* its views go before the store */
}
