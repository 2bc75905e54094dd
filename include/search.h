/* search.h -- the search engine behind the Elasticsearch API's _search and _count: a request
 * body parsed and checked once (search_parse), then run (search_run) over the store or a frozen
 * view of it, restricted to some feeds and to the caller's scope, with the response -- hits,
 * totals, aggregations -- rendered in Elasticsearch's shape. No HTTP here (esops.h drives it,
 * with the URL parameters already merged into the body); tested without sockets.
 *
 * _search body: query, size (default 10), from (from + size at most 10,000), sort (published
 * asc|desc; "_doc"/"_shard_doc", index order, alone or as a tiebreaker), search_after,
 * _source (bool, a pattern, a list, or {"includes","excludes"}), track_total_hits (true,
 * false, a number; default 10,000), aggs/aggregations (agg.h), timeout (accepted; a search
 * never stops early). _count body: query.
 * Response: {"took","timed_out","_shards","hits":{"total":{"value","relation"},"max_score",
 * "hits":[{"_index":feed,"_id":id,"_score","_source","sort":[published ms, id, feed]}]},
 * "aggregations"}; _count: {"count","_shards"}.
 * Errors are rendered in Elasticsearch's shape (eserror.h): 400 parsing_exception for a bad
 * body (the reason names the key), 400 too_many_buckets_exception, 500 store_exception.
 *
 * Threads: a parsed search is read-only; runs of it may go on in several threads at once. */
#ifndef SEARCH_H
#define SEARCH_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bytebuf.h"
#include "query.h"
#include "store.h"

enum { SEARCH_SEARCH, SEARCH_COUNT };

/* Error codes (negative). */
enum {
    SEARCH_ERR_INVALID = -1,   /* the body is wrong: err says where and why */
    SEARCH_ERR_NOMEM = -2,
};

#define SEARCH_MAX_WINDOW 10000   /* Elasticsearch's index.max_result_window */

typedef struct search search_t;

/* Parse and check a `kind` body (BORROWED; NULL is {}). now_us is "now" for the date math of
 * aggregations. Returns 0 and a new search in *out (free with search_free), or
 * SEARCH_ERR_INVALID / SEARCH_ERR_NOMEM with a one-line reason in err and *out NULL. */
int search_parse(int kind, json_t *body, int64_t now_us, search_t **out, char *err, size_t errlen);

void search_free(search_t *s);   /* NULL is a no-op */

/* Where a run reads. Everything BORROWED for the call. */
typedef struct {
    store_t *st;                  /* the store: its state at the call, unless `view` is set */
    store_view_t *view;           /* a frozen view (held by the caller for the call), or NULL */
    const char *const *feeds;     /* the feeds read; NULL: every feed (nfeeds 0: none) */
    size_t nfeeds;
    const query_t *scope;         /* ANDed into everything read (hits, totals, aggregations);
                                     NULL: everything */
} search_src_t;

/* How a run answers, beside the body. Zeroed: the defaults. */
typedef struct {
    const char *id_key, *id;      /* a first member such as "pit_id": "<id>"; NULL: none */
    bool total_as_int;            /* hits.total as a number (rest_total_hits_as_int) */
    bool have_total;              /* the match count is known already (a frozen view, the same */
    uint64_t total;               /*   query and track limit): it is used, not counted again */
    bool no_aggs;                 /* leave the aggregations out (scroll pages after the first) */
} search_opts_t;

/* What a run found out, for the caller to keep (a point in time, a scroll). */
typedef struct {
    uint64_t counted;             /* matches counted, up to the track limit + 1 (have_total's
                                     value for the next page) */
    json_t *last_sort;            /* NEW reference: the last hit's "sort"; NULL without hits */
    int store_rc;                 /* the store's error code, 0 if none (STORE_ERR_EXPIRED: the
                                     view was ended; the response is then a 500 to replace) */
} search_result_t;

/* Run the search and append its response (or its error) to out. `o` and `res` may be NULL.
 * Returns the HTTP status: 200, 400 (too many buckets), 500 (store failure, out of memory). */
int search_run(const search_t *s, const search_src_t *src, const search_opts_t *o, bytebuf_t *out,
               search_result_t *res);

/* The track_total_hits limit of a parsed search (UINT64_MAX: all; 0: none), for callers that
 * keep counts across pages. */
uint64_t search_track_limit(const search_t *s);

/* Parse (as `what` in messages), check and run a text body (len 0 or blank: {}) over the whole
 * store, for callers with the body in hand. Sets *out (malloc'd, caller frees) and *out_len and
 * returns the HTTP status; 400 with the error body for a bad body; *out NULL only when out of
 * memory (500). */
int search_execute(store_t *st, const query_t *scope, int kind, const char *body, size_t len, char **out,
                   size_t *out_len);

#endif
