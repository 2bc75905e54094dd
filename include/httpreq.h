/* httpreq.h -- helpers over the server's libh2o requests, shared by the endpoints: reading the
 * query string and headers, sending bodies and JSON errors. Event-loop thread only. (The HTTP
 * client that pulls feeds is fetch.h.) */
#ifndef HTTPREQ_H
#define HTTPREQ_H
#include <stddef.h>
#define H2O_USE_LIBUV 0
#include <h2o.h>

/* The query string after '?' (BORROWED from req->path) or NULL/0 when there is none. */
void httpreq_query_string(h2o_req_t *req, const char **qs, size_t *len);

/* The value of a request header by lower-case name (BORROWED), or NULL/0. */
void httpreq_header(h2o_req_t *req, const char *name, const char **val, size_t *len);

/* Send `body` (copied into the request pool) with the given status and content type. */
void httpreq_send(h2o_req_t *req, int status, const char *reason, const char *content_type,
               const char *body, size_t len);

/* Send {"error": msg, "parameter": param} (parameter omitted when NULL) as JSON. */
void httpreq_send_error(h2o_req_t *req, int status, const char *msg, const char *param);

/* Standard reason phrase for a status code. */
const char *httpreq_reason(int status);

#endif
