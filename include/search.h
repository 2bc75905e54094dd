/* search.h -- the Elasticsearch-compatible endpoints /activities/_search and
 * /activities/_count over the store: request body in (JSON text, may be empty), response body
 * and HTTP status out. Independent of the HTTP server so it is tested without sockets.
 *
 * _search body: query, size (default 10, max 10000), from (0 only with search_after unset),
 * sort on "published" asc|desc (ties by id), search_after, _source (bool, include list, or
 * {"includes","excludes"}). Response: {"took","timed_out","hits":{"total":{"value",
 * "relation"},"max_score","hits":[{"_index":feed,"_id":id,"_score","_source","sort"}]}}.
 * Errors: status 400 with Elasticsearch's error shape
 * {"error":{"type":"parsing_exception","reason":"..."},"status":400}. */
#ifndef SEARCH_H
#define SEARCH_H
#include <stddef.h>
#include "query.h"
#include "store.h"

enum { SEARCH_SEARCH, SEARCH_COUNT };

/* Run `kind` with `body` (len 0: match_all) within `scope` (BORROWED: the client's data scope,
 * auth.h; NULL: everything), which is ANDed into every hit and every count: what lies outside
 * it is neither returned nor counted. Sets *out (malloc'd, caller frees) and *out_len and
 * returns the HTTP status: 200; 400 (a bad body: its error in Elasticsearch's shape); 500 (a
 * store failure, or out of memory: then *out may be NULL). Blocks for the whole scan. */
int search_execute(store_t *st, int kind, const char *body, size_t len, const query_t *scope, char **out,
                   size_t *out_len);

#endif
