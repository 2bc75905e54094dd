/* server.c -- libh2o event loops (one per thread), listeners, routing, CORS, the small JSON
 * endpoints (/feeds, /health, /metrics, /activities/_search|_count), the dashboard's static
 * files and graceful shutdown. /stream itself lives in stream.c. */
#include "server.h"
#include "clock.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "offload.h"
#include "search.h"
#include "stream.h"
#include "version.h"
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* h2o refuses larger bodies with 413 before a handler sees them; the endpoints themselves
 * answer 400 above their own 1 MiB limit, with a message that says so. */
#define MAX_BODY_BYTES (8 * 1024 * 1024)
#define MAX_URL_BYTES 8192           /* longer: 414 */
#define MAX_HEADER_BYTES (64 * 1024)  /* all request headers together; more: 431 */
#define SHUTDOWN_GRACE_MS 4000
#define MAX_FEEDS_IN_METRICS 1024

typedef struct server_worker worker_t;

typedef struct {
    h2o_handler_t super;
    server_t *srv;
} api_handler_t;

struct server_worker {
    server_t *srv;
    int index;
    pthread_t thread;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t **listeners;          /* one per listen fd (dup'ed) */
    h2o_multithread_receiver_t wake;   /* lets other threads interrupt the loop */
    _Atomic int commit_pending;
    int init_rc;
    stream_hub_t *hub;
    int stopping;
    int64_t stop_deadline_ms, idle_since_ms;
};

struct server {
    const config_t *cfg;
    store_t *st;
    ingest_t *_Atomic ing;
    h2o_globalconf_t globalconf;
    SSL_CTX *ssl_ctx;
    int *fds;
    size_t nfds;
    worker_t *workers;
    int nworkers, started, conf_ready;
    stream_settings_t stream_settings;
    _Atomic size_t open_streams;
    _Atomic int stopping;
    sem_t ready;                       /* posted by each worker once its loop is set up */
};

static worker_t *worker_of(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(worker_t, ctx, req->conn->ctx);
}

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
static int apply_cors(server_t *srv, h2o_req_t *req)
{
    const char *origin;
    size_t len;
    http_header(req, "origin", &origin, &len);
    const char *allow = origin ? allowed_origin(srv->cfg, origin, len) : NULL;
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
                              H2O_STRLIT("Last-Event-ID, Content-Type, Accept, Cache-Control"));
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
        http_send_error(req, 500, "out of memory", NULL);
        return;
    }
    http_send(req, status, NULL, "application/json; charset=utf-8", text, strlen(text));
    free(text);
}

static void handle_feeds(server_t *srv, h2o_req_t *req)
{
    send_owned_json(req, 200, srv->ing ? ingest_feeds_json(srv->ing) : strdup("[]"));
}

static const char *health_problem(server_t *srv)
{
    int64_t now = clock_mono_ms(), limit = 3 * srv->cfg->poll_interval_ms + 5000;
    for (int i = 0; i < srv->nworkers; i++)
        if (now - stream_hub_last_tick_ms(srv->workers[i].hub) > limit)
            return "an event loop is not responding";
    if (srv->ing && !ingest_healthy(srv->ing))
        return "the ingest thread is not running";
    if (atomic_load(&srv->stopping))
        return "shutting down";
    return NULL;
}

static void handle_health(server_t *srv, h2o_req_t *req)
{
    const char *problem = health_problem(srv);
    char body[256];
    if (problem)
        snprintf(body, sizeof body, "{\"status\":\"unavailable\",\"reason\":\"%s\"}", problem);
    else
        snprintf(body, sizeof body, "{\"status\":\"ok\",\"version\":\"%s\",\"head\":%llu}", AS_VERSION,
                 (unsigned long long)store_head(srv->st));
    http_send(req, problem ? 503 : 200, NULL, "application/json; charset=utf-8", body, strlen(body));
}

static void sum_counters(server_t *srv, stream_counters_t *sum)
{
    memset(sum, 0, sizeof *sum);
    for (int i = 0; i < srv->nworkers; i++) {
        stream_counters_t c;
        stream_hub_counters(srv->workers[i].hub, &c);
        sum->opened += c.opened;
        sum->closed += c.closed;
        sum->history_events += c.history_events;
        sum->live_events += c.live_events;
        sum->bytes += c.bytes;
        sum->hub_polls += c.hub_polls;
        sum->wakes += c.wakes;
        sum->write_timeouts += c.write_timeouts;
        sum->rejected_full += c.rejected_full;
    }
}

static void handle_metrics(server_t *srv, h2o_req_t *req)
{
    ingest_feed_metrics_t *feeds = calloc(MAX_FEEDS_IN_METRICS, sizeof *feeds);
    metrics_snapshot_t m = {.open_streams = atomic_load(&srv->open_streams), .feeds = feeds};
    sum_counters(srv, &m.streams);
    store_stats(srv->st, &m.store);
    if (feeds && srv->ing)
        m.nfeeds = ingest_metrics(srv->ing, feeds, MAX_FEEDS_IN_METRICS);
    if (m.nfeeds > MAX_FEEDS_IN_METRICS)
        m.nfeeds = MAX_FEEDS_IN_METRICS;
    char *text = feeds ? metrics_render(&m) : NULL;
    free(feeds);
    if (!text) {
        http_send_error(req, 500, "out of memory", NULL);
        return;
    }
    http_send(req, 200, NULL, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
    free(text);
}

typedef struct {
    store_t *st;
    int kind;
    size_t len;
    char body[];                 /* the request body, copied: the request may go first */
} search_job_t;

static int run_search(void *arg, char **body, size_t *len)
{
    search_job_t *job = arg;
    return search_execute(job->st, job->kind, job->body, job->len, body, len);
}

/* A search may scan the whole store: it runs on a helper thread, not on the loop. */
static void handle_search(server_t *srv, h2o_req_t *req, int kind)
{
    search_job_t *job = malloc(sizeof *job + req->entity.len + 1);
    if (!job) {
        http_send_error(req, 500, "out of memory", NULL);
        return;
    }
    job->st = srv->st;
    job->kind = kind;
    job->len = req->entity.len;
    memcpy(job->body, req->entity.base ? req->entity.base : "", req->entity.len);
    job->body[job->len] = '\0';
    offload_request(req, &worker_of(req)->wake, run_search, job, free, "application/json; charset=utf-8");
}

static int is_method(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

typedef enum { R_NONE, R_STREAM, R_FEEDS, R_HEALTH, R_METRICS, R_SEARCH, R_COUNT } route_t;

static route_t route_of(h2o_req_t *req)
{
    static const struct { const char *path; route_t r; } routes[] = {
        {"/stream", R_STREAM}, {"/feeds", R_FEEDS}, {"/health", R_HEALTH}, {"/metrics", R_METRICS},
        {"/activities/_search", R_SEARCH}, {"/activities/_count", R_COUNT},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (h2o_memis(req->path_normalized.base, req->path_normalized.len, routes[i].path, strlen(routes[i].path)))
            return routes[i].r;
    return R_NONE;
}

/* Answers requests over the URL or header limits; returns 1 when it did. */
static int refuse_oversized(h2o_req_t *req)
{
    size_t header_bytes = 0;
    for (size_t i = 0; i < req->headers.size; i++)
        header_bytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len;
    if (req->path.len > MAX_URL_BYTES) {
        http_send_error(req, 414, "the URL is longer than 8192 bytes", NULL);
        return 1;
    }
    if (header_bytes > MAX_HEADER_BYTES) {
        http_send_error(req, 431, "the request headers are larger than 64 KiB", NULL);
        return 1;
    }
    return 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    server_t *srv = ((api_handler_t *)self)->srv;
    if (refuse_oversized(req))
        return 0;
    route_t r = route_of(req);
    if (r == R_NONE)
        return -1; /* the static file handler comes next */
    if (apply_cors(srv, req))
        return 0;
    int post_ok = r == R_SEARCH || r == R_COUNT;
    if (!is_method(req, "GET") && !is_method(req, "HEAD") && !(post_ok && is_method(req, "POST"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       post_ok ? "GET, POST, OPTIONS" : "GET, OPTIONS", post_ok ? 18 : 12);
        http_send_error(req, 405, "method not allowed", NULL);
        return 0;
    }
    if (atomic_load(&srv->stopping) && r != R_HEALTH) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
        http_send_error(req, 503, "the server is shutting down", NULL);
        return 0;
    }
    switch (r) {
    case R_STREAM: stream_handle(worker_of(req)->hub, req); break;
    case R_FEEDS: handle_feeds(srv, req); break;
    case R_HEALTH: handle_health(srv, req); break;
    case R_METRICS: handle_metrics(srv, req); break;
    case R_SEARCH: handle_search(srv, req, SEARCH_SEARCH); break;
    case R_COUNT: handle_search(srv, req, SEARCH_COUNT); break;
    case R_NONE: break;
    }
    return 0;
}

/* ---- listeners ---- */

/* "host:port", "[v6]:port" or ":port" (all interfaces). */
static int split_listen(const char *spec, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon = strrchr(spec, ':');
    if (!colon)
        return -1;
    const char *h = spec;
    size_t n = colon - spec;
    if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n >= hostlen || strlen(colon + 1) >= portlen)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

static int open_listener(const char *spec, char *err, size_t errlen)
{
    char host[256], port[16];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    if (split_listen(spec, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen, "listen %s: expected host:port", spec);
        return -1;
    }
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "listen %s: %s", spec, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
        snprintf(err, errlen, "listen %s: %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    worker_t *w = listener->data;
    if (err)
        return;
    for (int i = 0; i < 64; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (!sock)
            return;
        h2o_accept(&w->accept_ctx, sock);
    }
}

static int setup_tls(server_t *srv, char *err, size_t errlen)
{
    const config_t *cfg = srv->cfg;
    if (!cfg->tls_cert)
        return 0;
    SSL_load_error_strings();
    SSL_library_init();
    srv->ssl_ctx = SSL_CTX_new(TLS_server_method());
    if (!srv->ssl_ctx)
        goto fail;
    SSL_CTX_set_min_proto_version(srv->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(srv->ssl_ctx, SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_use_certificate_chain_file(srv->ssl_ctx, cfg->tls_cert) != 1) {
        snprintf(err, errlen, "tls.cert %s: %s", cfg->tls_cert, ERR_reason_error_string(ERR_get_error()));
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(srv->ssl_ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(srv->ssl_ctx) != 1) {
        snprintf(err, errlen, "tls.key %s: %s", cfg->tls_key, ERR_reason_error_string(ERR_get_error()));
        return -1;
    }
    h2o_ssl_register_alpn_protocols(srv->ssl_ctx, h2o_http2_alpn_protocols);
    return 0;
fail:
    snprintf(err, errlen, "tls: %s", ERR_reason_error_string(ERR_get_error()));
    return -1;
}

static void setup_globalconf(server_t *srv)
{
    const config_t *cfg = srv->cfg;
    h2o_globalconf_t *g = &srv->globalconf;
    h2o_config_init(g);
    g->server_name = h2o_iovec_init(H2O_STRLIT("activity-stream/" AS_VERSION));
    g->max_request_entity_size = MAX_BODY_BYTES;
    g->http1.req_timeout = 30000;
    g->http2.idle_timeout = 30000;
    h2o_hostconf_t *host = h2o_config_register_host(g, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    api_handler_t *api = (api_handler_t *)h2o_create_handler(path, sizeof *api);
    api->super.on_req = on_req;
    api->srv = srv;
    h2o_file_register(path, cfg->web_root, NULL, NULL, 0);
}

/* ---- workers ---- */

/* Wake-ups carry no message (the loop checks its flags after every iteration); finished
 * offloaded requests do. */
static void on_wake_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    offload_deliver(messages);
}

static void worker_begin_stop(worker_t *w)
{
    w->stopping = 1;
    w->stop_deadline_ms = clock_mono_ms() + SHUTDOWN_GRACE_MS;
    for (size_t i = 0; i < w->srv->nfds; i++) {
        h2o_socket_read_stop(w->listeners[i]);
        h2o_socket_close(w->listeners[i]);
        w->listeners[i] = NULL;
    }
    stream_hub_shutdown(w->hub);
    h2o_context_request_shutdown(&w->ctx);
}

/* Once every stream has ended, give the sockets a moment to flush their last bytes. */
static int worker_done(worker_t *w)
{
    int64_t now = clock_mono_ms();
    if (now >= w->stop_deadline_ms)
        return 1;
    if (stream_hub_open(w->hub) != 0) {
        w->idle_since_ms = 0;
        return 0;
    }
    if (!w->idle_since_ms)
        w->idle_since_ms = now;
    return now - w->idle_since_ms >= 100;
}

static int worker_init(worker_t *w)
{
    server_t *srv = w->srv;
    w->loop = h2o_evloop_create();
    h2o_context_init(&w->ctx, w->loop, &srv->globalconf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = srv->globalconf.hosts;
    w->accept_ctx.ssl_ctx = srv->ssl_ctx;
    h2o_multithread_register_receiver(w->ctx.queue, &w->wake, on_wake_message);
    w->hub = stream_hub_new(&w->ctx, srv->st, &srv->stream_settings);
    w->listeners = calloc(srv->nfds, sizeof *w->listeners);
    if (!w->hub || !w->listeners)
        return -1;
    for (size_t i = 0; i < srv->nfds; i++) {
        int fd = dup(srv->fds[i]);
        if (fd < 0)
            return -1;
        w->listeners[i] = h2o_evloop_socket_create(w->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        w->listeners[i]->data = w;
        h2o_socket_read_start(w->listeners[i], on_accept);
    }
    return 0;
}

/* libh2o's allocators are per thread: a loop must be created and run on the same thread. */
static void *worker_main(void *arg)
{
    worker_t *w = arg;
    w->init_rc = worker_init(w);
    sem_post(&w->srv->ready);
    if (w->init_rc != 0)
        return NULL;
    for (;;) {
        h2o_evloop_run(w->loop, w->stopping ? 20 : INT32_MAX); /* -1 on EINTR: just go round */
        if (atomic_exchange(&w->commit_pending, 0))
            stream_hub_wake(w->hub);
        if (!w->stopping && atomic_load(&w->srv->stopping))
            worker_begin_stop(w);
        if (w->stopping && worker_done(w))
            break;
    }
    return NULL;
}

void server_set_ingest(server_t *srv, ingest_t *ing)
{
    atomic_store(&srv->ing, ing);
}

void server_notify_commit(server_t *srv)
{
    for (int i = 0; i < srv->nworkers; i++) {
        worker_t *w = &srv->workers[i];
        if (!atomic_exchange(&w->commit_pending, 1))
            h2o_multithread_send_message(&w->wake, NULL);
    }
}

static int open_listeners(server_t *srv, char *err, size_t errlen)
{
    srv->fds = calloc(srv->cfg->nlisten, sizeof *srv->fds);
    if (!srv->fds)
        return -1;
    for (size_t i = 0; i < srv->cfg->nlisten; i++) {
        int fd = open_listener(srv->cfg->listen[i], err, errlen);
        if (fd < 0)
            return -1;
        srv->fds[srv->nfds++] = fd;
    }
    return 0;
}

int server_start(server_t **out, const config_t *cfg, store_t *st, ingest_t *ing, char *err, size_t errlen)
{
    server_t *srv = calloc(1, sizeof *srv);
    *out = NULL;
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    srv->cfg = cfg;
    srv->st = st;
    srv->ing = ing;
    srv->stream_settings = (stream_settings_t){
        .poll_interval_ms = cfg->poll_interval_ms, .heartbeat_interval_ms = cfg->heartbeat_interval_ms,
        .retry_ms = cfg->retry_ms, .write_timeout_ms = cfg->write_timeout_ms, .max_streams = cfg->max_streams,
        .open_streams = &srv->open_streams};
    if (setup_tls(srv, err, errlen) != 0 || open_listeners(srv, err, errlen) != 0)
        goto fail;
    setup_globalconf(srv);
    srv->conf_ready = 1;
    srv->nworkers = cfg->threads > 0 ? cfg->threads : 1;
    srv->workers = calloc(srv->nworkers, sizeof *srv->workers);
    if (!srv->workers)
        goto fail;
    sem_init(&srv->ready, 0, 0);
    for (int i = 0; i < srv->nworkers; i++) {
        srv->workers[i].srv = srv;
        srv->workers[i].index = i;
        pthread_create(&srv->workers[i].thread, NULL, worker_main, &srv->workers[i]);
    }
    int failed = -1;
    for (int i = 0; i < srv->nworkers; i++)
        sem_wait(&srv->ready);
    for (int i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].init_rc != 0)
            failed = i;
    srv->started = 1;
    if (failed >= 0) {
        snprintf(err, errlen, "event loop %d: out of memory or file descriptors", failed);
        server_free(srv);
        return -1;
    }
    srv->started = 1;
    *out = srv;
    return 0;
fail:
    server_free(srv);
    return -1;
}

void server_stop(server_t *srv)
{
    if (!srv || !srv->started)
        return;
    atomic_store(&srv->stopping, 1);
    for (int i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].init_rc == 0)
            h2o_multithread_send_message(&srv->workers[i].wake, NULL);
    for (int i = 0; i < srv->nworkers; i++)
        pthread_join(srv->workers[i].thread, NULL);
    /* searches still running read the store, which the caller closes next */
    for (int waited = 0; offload_running() > 0 && waited < 5000; waited += 10)
        usleep(10000);
    srv->started = 0;
}

/* libh2o 2.2.5 cannot close the connections a context still holds (idle keep-alive ones, or a
 * stream whose client stopped reading), and disposing of a context with live connections
 * asserts. So a stopped server's loops, contexts and hubs are left to process exit: it is only
 * stopped at exit. They stay reachable from here so leak checkers do not report them. */
static server_t *stopped_servers;

void server_free(server_t *srv)
{
    if (!srv)
        return;
    int had_loops = srv->started;
    server_stop(srv);
    for (size_t i = 0; i < srv->nfds; i++)
        close(srv->fds[i]);
    srv->nfds = 0;
    if (had_loops) {
        stopped_servers = srv;
        return;
    }
    /* no loop ever ran: nothing is connected, everything can go */
    free(srv->workers);
    free(srv->fds);
    if (srv->conf_ready)
        h2o_config_dispose(&srv->globalconf);
    if (srv->ssl_ctx)
        SSL_CTX_free(srv->ssl_ctx);
    free(srv);
}
