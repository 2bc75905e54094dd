/* esroute.h -- which HTTP requests belong to the Elasticsearch API and to which operation
 * (esops.h), from the method and the raw path; and the media types of its requests and
 * responses. Pure: no h2o, no allocation (the caller lends a buffer).
 *
 * A request is the Elasticsearch API's when its path is `/` (unless a browser asks for
 * text/html: that is the dashboard), its first segment starts with `_` (/_search, /_cat/...),
 * or its second does (/{index}/_search, /{index}/_doc/{id}). Path segments are percent-decoded
 * one by one (the clients send crm%2Cevents* and encoded ids; `+` is itself).
 *
 * Media types: requests may carry application/json, application/x-ndjson, or
 * application/vnd.elasticsearch+json / +x-ndjson with compatible-with=7 or 8 (the official
 * clients' headers); other Content-Types are read as JSON too (curl -d sends form encoding).
 * A response is application/vnd.elasticsearch+json;compatible-with=N when Accept asked for
 * that, else application/json. */
#ifndef ESROUTE_H
#define ESROUTE_H
#include <stdbool.h>
#include <stddef.h>

/* Error codes (negative). */
enum {
    ESROUTE_ERR_METHOD = -1,    /* the path is an operation's, not for this method (405) */
    ESROUTE_ERR_NO_HANDLER = -2,/* an API path that is no operation (400) */
    ESROUTE_ERR_PATH = -3,      /* a malformed escape or an encoded NUL in the path (400) */
    ESROUTE_ERR_MEDIA = -4,     /* a compatible-with version other than 7 or 8 (400) */
};

typedef struct {
    int op;                     /* ESOP_* */
    bool head;                  /* a HEAD request */
    const char *index;          /* decoded, in the caller's buffer; NULL: none in the path */
    const char *id;             /* decoded document or scroll id(s); NULL: none */
    size_t id_len;
    const char *path;           /* the whole path decoded (for messages) */
    const char *allow;          /* ESROUTE_ERR_METHOD: the methods the path takes, "GET, POST" */
} esroute_t;

/* Is this request the Elasticsearch API's? `path` is the raw path without the query string;
 * `accept` the Accept header (may be NULL). */
bool esroute_claims(const char *method, size_t mlen, const char *path, size_t len, const char *accept,
                    size_t alen);

/* Route a claimed request. `buf` (at least 2 * len + 8 bytes) receives the decoded strings.
 * Returns 0 and *out, or an error code (out->allow and out->path set where they apply). */
int esroute_match(const char *method, size_t mlen, const char *path, size_t len, char *buf, size_t buflen,
                  esroute_t *out);

/* Check a request's Content-Type (may be NULL). Returns 0 or ESROUTE_ERR_MEDIA. */
int esroute_content_type(const char *ct, size_t len);

/* The response's Content-Type for an Accept header (may be NULL): a static string in *out.
 * Returns 0 or ESROUTE_ERR_MEDIA. */
int esroute_accept(const char *accept, size_t len, const char **out);

#endif
