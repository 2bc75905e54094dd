/* esops_int.h -- what the files of the esops module share (not a public header): one request
 * being answered, and the helpers every operation uses.
 *
 *   esops.c        dispatch, the request helpers below, pretty and filter_path, the root
 *   essearch.c     _search, _count, _msearch (one search: search_body)
 *   esctx.c        points in time and scrolls: open, search on, page, close
 *   esmeta.c       _doc, _mapping, _cat/indices
 *
 * Every esops_* function that answers returns the HTTP status after appending the body (or
 * the error, in Elasticsearch's shape) to r->out. */
#ifndef ESOPS_INT_H
#define ESOPS_INT_H
#include "esindex.h"
#include "esops.h"
#include "esparams.h"
#include "eserror.h"
#include "search.h"
#include <jansson.h>
#include <stdbool.h>

/* One request being answered. */
typedef struct {
    const esops_env_t *env;         /* borrowed */
    const esop_t *op;               /* borrowed */
    esparams_t params;              /* owned: the URL parameters, checked */
    bytebuf_t *out;                 /* borrowed: the response body (an _msearch item's while
                                       that item is answered) */
    bool text;                      /* the body is text/plain (_cat without format=json) */
    char err[1024];                 /* scratch for messages */
} esreq_t;

/* How one search is asked for: by URL parameters or by an _msearch header. */
typedef struct {
    esindex_opts_t index;           /* the index options */
    bool total_as_int;              /* rest_total_hits_as_int */
    const char *scroll;             /* the scroll keep-alive text, or NULL */
} essearch_opts_t;

/* ---- esops.c: helpers ---- */

/* Append an error with a formatted reason; returns status. */
int esops_fail(esreq_t *r, int status, const char *type, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* 500 out_of_memory. */
int esops_nomem(esreq_t *r);

/* Which indices exist for an operation. A read (search, count, msearch, point in time, scroll,
 * a document by id) sees every feed: the caller's scope is ANDed into what it returns, so a feed
 * outside the scope reads as empty, not as an error (issue 11). A listing (_cat/indices,
 * _mapping) sees only the feeds the caller may read (esop_t.visible). */
typedef enum { ESOPS_FOR_READ, ESOPS_FOR_LISTING } esops_use_t;

/* The indices that exist for `use`: the configured feeds and those with activities stored (a
 * list: free with esindex_free). Returns 0, or 500 (answered). */
int esops_known(esreq_t *r, esops_use_t use, esindex_t *known);

/* Resolve an index expression (NULL: every feed) against the indices that exist for `use`.
 * Returns 0, or the status of the answered error: 404 index_not_found_exception, 500. */
int esops_resolve(esreq_t *r, const char *expr, const esindex_opts_t *o, esops_use_t use, esindex_t *out);

/* The feeds a selection reads as a search source's list (NULL for every feed). */
void esops_src_feeds(const esindex_t *x, search_src_t *src);

/* The index options of the URL parameters. Returns 0 or 400 (answered). */
int esops_index_opts(esreq_t *r, esindex_opts_t *o);

/* The request body as a JSON object (a NEW reference in *out): the body, else the `source`
 * parameter, else {}. Returns 0 or 400 (answered: not JSON, too large, too deep, not an
 * object). */
int esops_body(esreq_t *r, json_t **out);

/* A time value of the request (a URL parameter or a body member, `name` for messages) in
 * milliseconds, at most the longest keep-alive. Returns 0 or 400 (answered). */
int esops_keep_alive(esreq_t *r, const char *name, const char *value, int64_t *ms);

/* Answer a pit.h error for the search context `id`: 404 search_context_missing_exception,
 * 429, 500, 503. Returns the status. */
int esops_pit_error(esreq_t *r, int code, const char *id);

/* ---- essearch.c ---- */

int esops_search(esreq_t *r);
int esops_count(esreq_t *r);
int esops_msearch(esreq_t *r);

/* One search of `body` (BORROWED; its "pit" and "scroll" members are taken out) over the index
 * expression `index` (NULL: every feed). */
int esops_search_body(esreq_t *r, const char *index, const essearch_opts_t *so, json_t *body);

/* Parse `body` as a search; 0 and *s, or the status of the answered 400/500. */
int esops_parse(esreq_t *r, int kind, json_t *body, search_t **s);

/* ---- esctx.c ---- */

int esops_pit_open(esreq_t *r);
int esops_pit_close(esreq_t *r);
int esops_scroll(esreq_t *r);
int esops_clear_scroll(esreq_t *r);

/* A search on the point in time `pit` (the body's "pit" member, BORROWED). */
int esops_pit_search(esreq_t *r, json_t *pit, const essearch_opts_t *so, json_t *body);

/* Open a scroll over `index` kept `keep_ms`, answering its first page. */
int esops_scroll_open(esreq_t *r, const char *index, const essearch_opts_t *so, int64_t keep_ms, json_t *body);

/* ---- esmeta.c ---- */

int esops_root(esreq_t *r);
int esops_doc(esreq_t *r);
int esops_mapping(esreq_t *r);
int esops_cat_indices(esreq_t *r);

#endif
