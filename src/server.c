/* server.c -- the HTTP machinery: libh2o event loops (one per thread, each with its stream hub),
 * listeners, TLS, the dashboard's static files and graceful shutdown. Every request goes to the
 * endpoints (api.c) first. */
#include "server.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "offload.h"
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
#define SHUTDOWN_GRACE_MS 4000

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
    replsend_loop_t *repl;             /* this loop's replication streams */
    _Atomic int end_streams;           /* end every stream (a replica installed a snapshot) */
    h2o_timeout_entry_t turn;          /* what other threads asked for, done inside the loop */
    int stopping;
    int64_t stop_deadline_ms, idle_since_ms;
};

struct server {
    const config_t *cfg;
    store_t *st;
    api_t *api;                        /* borrowed */
    stream_hub_t **hubs;               /* owned array of the workers' hubs, for /metrics */
    h2o_globalconf_t globalconf;
    SSL_CTX *ssl_ctx;
    int *fds;
    size_t nfds;
    worker_t *workers;
    int nworkers, started, conf_ready;
    int ran;                           /* loops were started (they live until exit) */
    stream_settings_t stream_settings;
    const char **feed_ids;             /* owned array of the config's feed ids (borrowed strings) */
    _Atomic size_t open_streams;
    clientcap_t *per_client;           /* owned; NULL: no max_streams_per_client */
    _Atomic int stopping;
    sem_t ready;                       /* posted by each worker once its loop is set up */
};

static worker_t *worker_of(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(worker_t, ctx, req->conn->ctx);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    server_t *srv = ((api_handler_t *)self)->srv;
    worker_t *w = worker_of(req);
    api_loop_t loop = {.hub = w->hub, .offload_done = &w->wake, .repl = w->repl};
    return api_handle(srv->api, &loop, req);
}

static int on_not_found(h2o_handler_t *self, h2o_req_t *req)
{
    api_not_found(req);
    return 0;
}

/* The loops' part of /health: a loop whose poll tick stopped is stuck. */
static const char *loops_problem(void *ud)
{
    server_t *srv = ud;
    int64_t now = clock_mono_ms(), limit = 3 * srv->cfg->poll_interval_ms + 5000;
    for (int i = 0; i < srv->nworkers; i++)
        if (srv->hubs[i] && now - stream_hub_last_tick_ms(srv->hubs[i]) > limit)
            return "an event loop is not responding";
    return NULL;
}

static void report_streams(metrics_out_t *out, void *ud)
{
    server_t *srv = ud;
    stream_report_metrics(out, srv->hubs, (size_t)srv->nworkers);
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

/* Without an auth block anyone who reaches a listener reads everything: say so when that is
 * more than this machine. */
static void warn_if_open(const config_t *cfg, const char *spec, const struct sockaddr *sa)
{
    netaddr_t a;
    if (cfg->auth.enabled || (netaddr_from_sockaddr(sa, &a) == NETADDR_OK && netaddr_is_loopback(&a)))
        return;
    log_warn("server", "listening on %s without an auth block: anyone who reaches it reads everything "
                       "(configure auth: clients, see conf/example-full.conf)", spec);
}

static int open_listener(const config_t *cfg, const char *spec, char *err, size_t errlen)
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
    if (fd >= 0)
        warn_if_open(cfg, spec, ai->ai_addr);
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

/* OpenSSL's reason for the oldest queued error, never NULL (a system error has no reason
 * string of its own: then the errno's text). Empties the queue. */
static const char *tls_reason(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    const char *why = ERR_reason_error_string(e);
    if (ERR_SYSTEM_ERROR(e))
        why = strerror(ERR_GET_REASON(e));
    if (!why) {
        ERR_error_string_n(e, buf, len);
        why = buf;
    }
    ERR_clear_error();
    return why;
}

static int setup_tls(server_t *srv, char *err, size_t errlen)
{
    const config_t *cfg = srv->cfg;
    char why[256];
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
        snprintf(err, errlen, "tls.cert %s: %s", cfg->tls_cert, tls_reason(why, sizeof why));
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(srv->ssl_ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(srv->ssl_ctx) != 1) {
        snprintf(err, errlen, "tls.key %s: %s", cfg->tls_key, tls_reason(why, sizeof why));
        return -1;
    }
    h2o_ssl_register_alpn_protocols(srv->ssl_ctx, h2o_http2_alpn_protocols);
    return 0;
fail:
    snprintf(err, errlen, "tls: %s", tls_reason(why, sizeof why));
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
    h2o_handler_t *last = h2o_create_handler(path, sizeof *last);   /* neither an endpoint nor a file */
    last->on_req = on_not_found;
}

/* ---- workers ---- */

/* Wake-ups carry no message (the loop checks its flags after every run); finished offloaded
 * requests do. */
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
    replsend_loop_shutdown(w->repl);
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
    srv->hubs[w->index] = w->hub;
    w->repl = replsend_loop_new(&w->ctx, srv->st, api_feeds_json, srv->api);
    w->listeners = calloc(srv->nfds, sizeof *w->listeners);
    if (!w->hub || !w->repl || !w->listeners)
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

/* What other threads asked of the loop (a commit, a snapshot installed, stopping), done in a
 * zero timeout: inside h2o_evloop_run, which completes the writes it makes before polling again.
 * (Done between two runs, a write that completed at once could leave its socket polled for a
 * write that had ended, and libh2o aborted: seen with 10,000 live streams.) */
static void on_turn(h2o_timeout_entry_t *e)
{
    worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, turn, e);
    if (atomic_exchange(&w->end_streams, 0))
        stream_hub_end_all(w->hub);
    if (atomic_exchange(&w->commit_pending, 0)) {
        stream_hub_wake(w->hub);
        replsend_loop_wake(w->repl);
    }
    if (!w->stopping && atomic_load(&w->srv->stopping))
        worker_begin_stop(w);
}

static int turn_wanted(worker_t *w)
{
    return atomic_load(&w->end_streams) || atomic_load(&w->commit_pending) ||
           (!w->stopping && atomic_load(&w->srv->stopping));
}

/* libh2o's allocators are per thread: a loop must be created and run on the same thread. */
static void *worker_main(void *arg)
{
    worker_t *w = arg;
    w->init_rc = worker_init(w);
    sem_post(&w->srv->ready);
    if (w->init_rc != 0)
        return NULL;
    w->turn.cb = on_turn;
    for (;;) {
        h2o_evloop_run(w->loop, w->stopping ? 20 : INT32_MAX); /* -1 on EINTR: just go round */
        if (turn_wanted(w) && !h2o_timeout_is_linked(&w->turn))
            h2o_timeout_link(w->loop, &w->ctx.zero_timeout, &w->turn);   /* the next run does it */
        if (w->stopping && worker_done(w))
            break;
    }
    return NULL;
}

void server_notify_commit(server_t *srv)
{
    for (int i = 0; i < srv->nworkers; i++) {
        worker_t *w = &srv->workers[i];
        if (!atomic_exchange(&w->commit_pending, 1))
            h2o_multithread_send_message(&w->wake, NULL);
    }
}

void server_end_streams(server_t *srv)
{
    for (int i = 0; i < srv->nworkers; i++) {
        worker_t *w = &srv->workers[i];
        atomic_store(&w->end_streams, 1);
        h2o_multithread_send_message(&w->wake, NULL);
    }
}

static int open_listeners(server_t *srv, char *err, size_t errlen)
{
    srv->fds = calloc(srv->cfg->nlisten, sizeof *srv->fds);
    if (!srv->fds)
        return -1;
    for (size_t i = 0; i < srv->cfg->nlisten; i++) {
        int fd = open_listener(srv->cfg, srv->cfg->listen[i], err, errlen);
        if (fd < 0)
            return -1;
        srv->fds[srv->nfds++] = fd;
    }
    return 0;
}

/* The stream settings' list of configured feeds (a feed filter naming another is a 400). */
static int set_feed_ids(server_t *srv)
{
    const config_t *cfg = srv->cfg;
    srv->feed_ids = calloc(cfg->nfeeds ? cfg->nfeeds : 1, sizeof *srv->feed_ids);
    if (!srv->feed_ids)
        return -1;
    for (size_t i = 0; i < cfg->nfeeds; i++)
        srv->feed_ids[i] = cfg->feeds[i].id;
    srv->stream_settings.feed_ids = srv->feed_ids;
    srv->stream_settings.nfeed_ids = cfg->nfeeds;
    return 0;
}

int server_start(server_t **out, const config_t *cfg, store_t *st, api_t *api, char *err, size_t errlen)
{
    server_t *srv = calloc(1, sizeof *srv);
    *out = NULL;
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    srv->cfg = cfg;
    srv->st = st;
    srv->api = api;
    srv->stream_settings = (stream_settings_t){
        .poll_interval_ms = cfg->poll_interval_ms, .heartbeat_interval_ms = cfg->heartbeat_interval_ms,
        .retry_ms = cfg->retry_ms, .write_timeout_ms = cfg->write_timeout_ms, .max_streams = cfg->max_streams,
        .replica = cfg->replicate_from != NULL,
        .open_streams = &srv->open_streams};
    if ((cfg->max_streams_per_client && clientcap_new(&srv->per_client, cfg->max_streams_per_client) != 0) ||
        set_feed_ids(srv) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    srv->stream_settings.per_client = srv->per_client;
    if (setup_tls(srv, err, errlen) != 0 || open_listeners(srv, err, errlen) != 0)
        goto fail;
    setup_globalconf(srv);
    srv->conf_ready = 1;
    srv->nworkers = cfg->threads > 0 ? cfg->threads : 1;
    srv->workers = calloc(srv->nworkers, sizeof *srv->workers);
    srv->hubs = calloc(srv->nworkers, sizeof *srv->hubs);
    if (!srv->workers || !srv->hubs || metrics_register(api_metrics(api), report_streams, srv) != 0)
        goto fail;
    api_set_health(api, loops_problem, srv);
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
    srv->started = srv->ran = 1;
    if (failed >= 0) {
        snprintf(err, errlen, "event loop %d: out of memory or file descriptors", failed);
        server_free(srv);
        return -1;
    }
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
    api_begin_shutdown(srv->api);
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
    server_stop(srv);
    for (size_t i = 0; i < srv->nfds; i++)
        close(srv->fds[i]);
    srv->nfds = 0;
    if (srv->ran) {
        stopped_servers = srv;
        return;
    }
    /* no loop ever ran: nothing is connected, everything can go */
    free(srv->workers);
    free(srv->hubs);
    free(srv->feed_ids);
    free(srv->fds);
    clientcap_free(srv->per_client);
    if (srv->conf_ready)
        h2o_config_dispose(&srv->globalconf);
    if (srv->ssl_ctx)
        SSL_CTX_free(srv->ssl_ctx);
    free(srv);
}
