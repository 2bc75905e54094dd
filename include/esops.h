/* esops.h -- the operations of the Elasticsearch API, without sockets: a request already routed
 * (which operation, the index expression and id from its path, its query string and body) in,
 * the HTTP status and the response body out, in Elasticsearch's shapes. esapi.c routes HTTP
 * requests here and runs the operations that read the store on helper threads (offload.h).
 *
 * Operations and what they answer:
 *   ROOT          GET|HEAD /: the root document (name, cluster_name, cluster_uuid = the store's
 *                 id, version 8.11.0, tagline)
 *   SEARCH        /{index}/_search, /_search: hits, totals, aggregations (search.h); "pit" in
 *                 the body searches a point in time; `scroll` (URL or body) opens a scroll
 *   COUNT         /{index}/_count, /_count: {"count"}
 *   MSEARCH       /{index}/_msearch, /_msearch: NDJSON header and body lines, answered as
 *                 {"took","responses":[...]} with each search's error in its place
 *   SCROLL        POST /_search/scroll: the next page of a scroll
 *   CLEAR_SCROLL  DELETE /_search/scroll[/{ids}|/_all]
 *   PIT_OPEN      POST /{index}/_pit?keep_alive=1m: {"id"}
 *   PIT_CLOSE     DELETE /_pit {"id"}
 *   DOC           GET|HEAD /{index}/_doc/{id}: the current version, or 404 "found": false
 *   MAPPING       GET /{index}/_mapping, /_mapping: a mapping per feed (fixed fields, the rest
 *                 inferred from the feed's newest activities)
 *   CAT_INDICES   GET /_cat/indices[/{index}]: the feeds as indices (text, or format=json)
 * Every operation checks its URL parameters (esparams.h) and honours pretty and filter_path.
 * Errors: Elasticsearch's shape (eserror.h), with its status codes: 400 for a bad request,
 * 404 for an unknown index (index_not_found_exception) or search context
 * (search_context_missing_exception) or document, 429 over the bound of open search contexts,
 * 500 for a store failure or out of memory.
 *
 * Threads: an esops_env_t is read-only after setup, so operations run on any threads at once. */
#ifndef ESOPS_H
#define ESOPS_H
#include <stdbool.h>
#include <stddef.h>
#include "bytebuf.h"
#include "pit.h"
#include "query.h"
#include "store.h"

enum {
    ESOP_ROOT, ESOP_SEARCH, ESOP_COUNT, ESOP_MSEARCH, ESOP_SCROLL, ESOP_CLEAR_SCROLL, ESOP_PIT_OPEN,
    ESOP_PIT_CLOSE, ESOP_DOC, ESOP_MAPPING, ESOP_CAT_INDICES, ESOP_N
};

/* What the operations work with. Everything BORROWED; it outlives every operation. */
typedef struct {
    store_t *st;
    pit_reg_t *pits;                 /* points in time and scroll contexts */
    const char *const *feeds;        /* the configured feed ids (with those in the store, the
                                        indices that exist) */
    size_t nfeeds;
    const char *node_name;           /* the root document's "name" */
} esops_env_t;

/* Does the caller see the feed feed[0..len)? */
typedef bool esops_feed_fn(const void *ud, const char *feed, size_t len);

/* One request. Everything BORROWED for the call. */
typedef struct {
    int op;                          /* ESOP_* */
    bool head;                       /* HEAD: the status is what counts (the body is dropped) */
    const char *path;                /* the decoded path, for messages ("/crm,events*\/_search") */
    const char *index;               /* the decoded index expression of the path; NULL: none */
    const char *id;                  /* the decoded document or scroll id of the path; NULL: none */
    size_t id_len;
    const char *qs;                  /* the query string after '?', not decoded; may be NULL */
    size_t qs_len;
    const char *body;                /* the request body; may be NULL */
    size_t body_len;
    const query_t *scope;            /* the caller's scope, ANDed into everything read; NULL:
                                        everything */
    esops_feed_fn *visible;          /* which indices listings (_cat/indices, _mapping) show the
                                        caller: a feed outside its scope is left out (reads see
                                        every feed, through the scope); NULL: every feed */
    const void *visible_ud;
    const char *owner;               /* the authenticated client (its id); NULL without access
                                        control. A scroll is continued only by its owner */
} esop_t;

/* Run `op` and append its response body to out: JSON, or text (then *text is set: _cat without
 * format=json). Returns the HTTP status. Out of memory: 500, with out's failure flag set when
 * even the error could not be written. */
int esops_run(const esops_env_t *env, const esop_t *op, bytebuf_t *out, bool *text);

#endif
