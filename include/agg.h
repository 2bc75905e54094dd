/* agg.h -- Elasticsearch aggregations over stored activities: compiled once per search from
 * the request's "aggs" (or "aggregations") object, fed each matching record in scan order,
 * rendered as the value of the response's "aggregations". Pure: no I/O, no clock, no global
 * state; the caller scans the store and turns errors into a 400.
 *
 * Supported, with Elasticsearch 8's request options and response shapes:
 *   bucket:  terms, date_histogram, histogram, range, date_range, filter, filters
 *   metric:  min, max, avg, sum, value_count, stats, cardinality (exact), top_hits
 * Bucket aggregations take sub-aggregations ("aggs"/"aggregations") to any depth up to
 * AGG_MAX_DEPTH; every aggregation takes "meta", echoed in its result. Fields are named as in
 * the query DSL (docfield.h): feed/_index, type, actor/actor.id, id/_id and published come from
 * the record's columns, other dotted paths from the activity JSON (parsed at most once per
 * record, however many aggregations read it). src/agg.c's top comment lists the options and
 * where the results differ from Elasticsearch's.
 *
 * Errors at compile name the aggregation by its path of names and the option:
 * "[by_feed>by_type] unknown option [sizee] of aggregation [terms]",
 * "[geo] aggregation type [geo_distance] is not supported".
 *
 * Threads: a compiled agg_t is read-only and may serve runs on any number of threads; a run
 * belongs to one thread. */
#ifndef AGG_H
#define AGG_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "bytebuf.h"
#include "store.h"

typedef struct agg agg_t;
typedef struct agg_run agg_run_t;

/* Error codes (negative). */
enum {
    AGG_ERR_INVALID = -1,            /* the request is wrong: err says where and why */
    AGG_ERR_NOMEM = -2,
    AGG_ERR_TOO_MANY_BUCKETS = -3,   /* the result would hold more than AGG_MAX_BUCKETS buckets */
};

#define AGG_MAX_BUCKETS 65536   /* Elasticsearch's search.max_buckets */
#define AGG_MAX_DEPTH 16        /* levels of aggregations */

/* Compile the "aggs" object `aggs` ({"<name>": {"<type>": {...}, "aggs": {...}}, ...}).
 * now_us is "now" for date math (date_range, extended_bounds). The agg takes its own reference
 * to `aggs` (names and _source patterns point into it); the caller keeps its own. Returns 0 and
 * a new agg in *out (free with agg_free), or AGG_ERR_INVALID / AGG_ERR_NOMEM with a one-line
 * message in err and *out NULL. */
int agg_compile(json_t *aggs, int64_t now_us, agg_t **out, char *err, size_t errlen);

/* NULL is a no-op. Every run of it must be freed first. */
void agg_free(agg_t *a);

/* An accumulator for one search over `a` (BORROWED: it must outlive the run). Returns 0 and
 * the run in *out, or AGG_ERR_NOMEM. */
int agg_run_new(const agg_t *a, agg_run_t **out);

/* Add one matching record (BORROWED: read during the call only). Returns 0, or AGG_ERR_NOMEM,
 * after which the run is failed: further adds do nothing and agg_run_render reports it. A
 * record allocates only when it opens a bucket, brings a value cardinality has not seen, or is
 * kept by top_hits in a slot too small for it (tables and arrays grow by doubling); its JSON,
 * when an aggregation reads it, is parsed once into a tape reused from record to record. */
int agg_run_add(agg_run_t *r, const store_rec_t *rec);

/* Append the value of "aggregations" ({"<name>": {...}, ...}) to out. Returns 0, or
 * AGG_ERR_TOO_MANY_BUCKETS (message in err, like Elasticsearch's too_many_buckets_exception)
 * or AGG_ERR_NOMEM (also when out's failure flag is set); after an error out holds a partial
 * text the caller discards. The run is not changed: rendering twice gives the same text. */
int agg_run_render(agg_run_t *r, bytebuf_t *out, char *err, size_t errlen);

/* NULL is a no-op. */
void agg_run_free(agg_run_t *r);

#endif
