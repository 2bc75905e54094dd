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

/* Errors outside the Elasticsearch API (/activities/_search and _count answer in Elasticsearch's
 * own shape) all have one JSON shape: {"error": "<one-line message>"} plus, where they apply,
 * fields that name what was wrong: "parameter" (the request parameter), "limit" (the bound that
 * was exceeded: a number, or the name of the configured limit such as "max_streams_per_client"),
 * "method" and "path". Texts that are not valid UTF-8 are replaced by a note saying so. */

/* Send {"error": msg, "parameter": param} (parameter omitted when NULL). */
void httpreq_send_error(h2o_req_t *req, int status, const char *msg, const char *param);

/* Send {"error": msg, "limit": limit}. */
void httpreq_send_error_limit(h2o_req_t *req, int status, const char *msg, long long limit);

/* Send {"error": msg, "<key>": value} (a string field such as "path", "method", or "limit"
 * naming a configured limit). */
void httpreq_send_error_field(h2o_req_t *req, int status, const char *msg, const char *key, const char *value,
                              size_t value_len);

/* Standard reason phrase for a status code. */
const char *httpreq_reason(int status);

#endif
