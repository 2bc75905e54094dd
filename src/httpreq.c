/* httpreq.c -- helpers over the server's libh2o requests: query string, headers, responses. */
#include "httpreq.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void httpreq_query_string(h2o_req_t *req, const char **qs, size_t *len)
{
    if (req->query_at == SIZE_MAX) {
        *qs = NULL;
        *len = 0;
        return;
    }
    *qs = req->path.base + req->query_at + 1;
    *len = req->path.len - req->query_at - 1;
}

void httpreq_header(h2o_req_t *req, const char *name, const char **val, size_t *len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    *val = i >= 0 ? req->headers.entries[i].value.base : NULL;
    *len = i >= 0 ? req->headers.entries[i].value.len : 0;
}

const char *httpreq_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

void httpreq_send(h2o_req_t *req, int status, const char *reason, const char *content_type,
               const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason ? reason : httpreq_reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    char *copy = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(copy, body, len);
    h2o_send_inline(req, copy, len);
}

/* Send error object o (STOLEN) as JSON, written as the issues and the README write it:
 * {"error": "...", "limit": ...}. */
static void send_error_object(h2o_req_t *req, int status, json_t *o)
{
    static const char nomem[] = "{\"error\": \"out of memory\"}";
    char *text = o ? json_dumps(o, 0) : NULL;
    httpreq_send(req, status, NULL, "application/json; charset=utf-8", text ? text : nomem,
                 text ? strlen(text) : sizeof nomem - 1);
    free(text);
    json_decref(o);
}

/* {"error": msg}; a message that is not valid UTF-8 (it may echo the URL) is replaced. */
static json_t *error_object(const char *msg)
{
    json_t *o = json_object(), *m = json_string(msg);
    json_object_set_new(o, "error", m ? m : json_string("request rejected (the message was not valid UTF-8)"));
    return o;
}

void httpreq_send_error(h2o_req_t *req, int status, const char *msg, const char *param)
{
    json_t *o = error_object(msg);
    if (param) {
        json_t *p = json_string(param);
        json_object_set_new(o, "parameter", p ? p : json_string("(not valid UTF-8)"));
    }
    send_error_object(req, status, o);
}

void httpreq_send_error_limit(h2o_req_t *req, int status, const char *msg, long long limit)
{
    json_t *o = error_object(msg);
    json_object_set_new(o, "limit", json_integer(limit));
    send_error_object(req, status, o);
}

void httpreq_send_error_field(h2o_req_t *req, int status, const char *msg, const char *key, const char *value,
                              size_t value_len)
{
    json_t *o = error_object(msg), *v = json_stringn(value, value_len);
    json_object_set_new(o, key, v ? v : json_string("(not valid UTF-8)"));
    send_error_object(req, status, o);
}
