/* server.h -- the HTTP side: libh2o event loops (one per thread, HTTP/1.1 and HTTP/2, h2c and
 * TLS with ALPN), routing of /stream, /feeds, /health, /metrics, /activities/_search|_count
 * and the dashboard's static files, CORS, and graceful shutdown. */
#ifndef SERVER_H
#define SERVER_H
#include <stddef.h>
#include "config.h"
#include "ingest.h"
#include "store.h"

typedef struct server server_t;

/* Bind every listen address and start cfg->threads event loops. `cfg`, `st` and `ing` are
 * BORROWED and must outlive the server (`ing` may be NULL: no feeds). Returns 0, or -1 with one
 * line in err (e.g. "listen 127.0.0.1:80: Permission denied"). */
int server_start(server_t **out, const config_t *cfg, store_t *st, ingest_t *ing, char *err, size_t errlen);

/* Give the server the ingest for /feeds, /metrics and /health (started after the server, so
 * that its first commits already wake the loops). Any thread. */
void server_set_ingest(server_t *srv, ingest_t *ing);

/* Wake every loop to deliver new changes; callable from any thread (the store's commit hook). */
void server_notify_commit(server_t *srv);

/* Stop accepting, end every stream (clients resume with their ids), wait for the loops to
 * finish (at most about 4 s), join the threads. */
void server_stop(server_t *srv);

void server_free(server_t *srv); /* NULL is a no-op; stops first if needed */

#endif
