/* server.h -- the HTTP machinery: libh2o event loops (one per thread, HTTP/1.1 and HTTP/2, h2c
 * and TLS with ALPN), each with its stream hub; listeners; the dashboard's static files; and
 * graceful shutdown. Requests are answered by the endpoints (api.h). */
#ifndef SERVER_H
#define SERVER_H
#include <stddef.h>
#include "api.h"
#include "config.h"
#include "store.h"

typedef struct server server_t;

/* Bind every listen address and start cfg->threads event loops serving `api`. `cfg`, `st` and
 * `api` are BORROWED and must outlive the server. Registers the streams' /metrics collector and
 * the loops' health check with the api. Returns 0, or -1 with one line in err, e.g.
 * "listen 127.0.0.1:80: Permission denied", "tls.cert server.crt: no such file" or
 * "event loop 1: out of memory or file descriptors". */
int server_start(server_t **out, const config_t *cfg, store_t *st, api_t *api, char *err,
                 size_t errlen);

/* Wake every loop to deliver new changes; callable from any thread (the store's commit hook). */
void server_notify_commit(server_t *srv);

/* End every open stream (clients resume with their ids): after a replica installed a snapshot,
 * positions may not mean what they meant. Any thread. */
void server_end_streams(server_t *srv);

/* Stop accepting, answer new requests 503, end every stream (clients resume with their ids),
 * wait for the loops to finish (at most about 4 s), join the threads, wait for searches still
 * running. */
void server_stop(server_t *srv);

void server_free(server_t *srv); /* NULL is a no-op; stops first if needed */

#endif
