/* http.h -- small helpers over libh2o requests shared by the endpoints: reading the query
 * string and headers, sending JSON bodies and JSON errors. Event-loop thread only. */
#ifndef HTTP_H
#define HTTP_H
#include <stddef.h>
#define H2O_USE_LIBUV 0
#include <h2o.h>

/* The query string after '?' (BORROWED from req->path) or NULL/0 when there is none. */
void http_query_string(h2o_req_t *req, const char **qs, size_t *len);

/* The value of a request header by lower-case name (BORROWED), or NULL/0. */
void http_header(h2o_req_t *req, const char *name, const char **val, size_t *len);

/* Send `body` (copied into the request pool) with the given status and content type. */
void http_send(h2o_req_t *req, int status, const char *reason, const char *content_type,
               const char *body, size_t len);

/* Send {"error": msg, "parameter": param} (parameter omitted when NULL) as JSON. */
void http_send_error(h2o_req_t *req, int status, const char *msg, const char *param);

/* Standard reason phrase for a status code. */
const char *http_reason(int status);

#endif
