/* httpreq.c -- helpers over the server's libh2o requests: query string, headers, responses. */
#include "httpreq.h"
#include <jansson.h>
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

void httpreq_send_error(h2o_req_t *req, int status, const char *msg, const char *param)
{
    json_t *o = json_object();
    json_t *m = json_string(msg), *p = param ? json_string(param) : NULL;
    /* Parameter names and values echoed from the URL may be invalid UTF-8. */
    json_object_set_new(o, "error", m ? m : json_string("request rejected (the message was not valid UTF-8)"));
    if (param)
        json_object_set_new(o, "parameter", p ? p : json_string("(not valid UTF-8)"));
    char *text = json_dumps(o, JSON_COMPACT);
    httpreq_send(req, status, NULL, "application/json; charset=utf-8", text, strlen(text));
    free(text);
    json_decref(o);
}
