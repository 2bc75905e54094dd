/* agg_impl.h -- what the files of the aggregation module share (not a public header): the
 * compiled tree, the table of aggregation kinds, per-bucket state with its sub-aggregations,
 * and the helpers for options and output.
 *
 *   agg.c         the public API, compiling the tree, options, buckets, output helpers
 *   agg_terms.c   terms, cardinality (values as keys)
 *   agg_histo.c   date_histogram, histogram (rounding, empty buckets)
 *   agg_range.c   range, date_range, filter, filters
 *   agg_metric.c  min, max, avg, sum, value_count, stats, top_hits
 *
 * A kind compiles its options into n->opt, makes collectors (agg_coll_t, one per aggregation
 * per parent bucket), adds records to them and renders them. Collectors embed agg_coll_t
 * first. */
#ifndef AGG_IMPL_H
#define AGG_IMPL_H
#include "agg.h"
#include "bytebuf.h"
#include "datepat.h"
#include "docfield.h"
#include "keytab.h"
#include "query.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct agg_node agg_node_t;
typedef struct agg_coll agg_coll_t;

/* Compiling: where we are in the request, for messages. */
typedef struct {
    char *err;
    size_t errlen;
    char path[256];          /* the names from the top, joined by '>' */
    const char *kind;        /* the aggregation type being compiled */
    int64_t now_us;
} agg_cc_t;

/* The record being added. */
typedef struct {
    docfield_doc_t *doc;     /* doc->rec is the record */
    uint64_t docno;          /* 1, 2, ...: which record of the run */
} agg_rec_t;

/* Rendering. */
typedef struct {
    bytebuf_t *b;
    size_t nbuckets;         /* buckets written so far, across the whole result */
    bool too_many;           /* nbuckets passed AGG_MAX_BUCKETS: stop */
} agg_out_t;

/* What a kind's field may be. */
enum { AGG_FIELD_ANY, AGG_FIELD_NUMERIC, AGG_FIELD_DATE, AGG_FIELD_NUMERIC_OR_DATE };

typedef struct {
    const char *name;
    bool takes_subs;                 /* a bucket aggregation */
    const char *const *opts;         /* the options it takes, NULL-terminated; NULL: the
                                        body is no options object (filter: a query) */
    /* vals[i] is the value of opts[i] or NULL (without opts, vals[0] is the body). Fills
     * n->opt / n->field. */
    int (*compile)(agg_cc_t *c, agg_node_t *n, json_t *const *vals);
    size_t coll_size;                /* its collector, zeroed when made */
    int (*coll_init)(agg_coll_t *c);                           /* NULL, or 0 or AGG_ERR_NOMEM */
    int (*add)(agg_coll_t *c, const agg_rec_t *r);             /* 0 or AGG_ERR_NOMEM */
    void (*render)(const agg_coll_t *c, agg_out_t *o);         /* the members of the result */
    void (*coll_fini)(agg_coll_t *c);    /* NULL, or frees what the collector owns */
    void (*opt_free)(void *opt);     /* NULL: plain free() */
} agg_kind_t;

struct agg_node {
    const char *name;                /* borrowed from the request (the agg keeps a reference) */
    const agg_kind_t *kind;
    char *meta;                      /* owned: "meta" as compact JSON, or NULL */
    docfield_t field;                /* owned, for kinds that read a field */
    agg_node_t **subs;               /* owned array of owned sub-aggregations */
    size_t nsubs;
    void *opt;                       /* owned: the kind's compiled options */
};

struct agg_coll {
    const agg_node_t *node;          /* borrowed */
};

/* The kinds (agg_*.c). */
extern const agg_kind_t agg_kind_terms, agg_kind_cardinality, agg_kind_date_histogram,
    agg_kind_histogram, agg_kind_range, agg_kind_date_range, agg_kind_filter, agg_kind_filters,
    agg_kind_min, agg_kind_max, agg_kind_avg, agg_kind_sum, agg_kind_value_count, agg_kind_stats,
    agg_kind_top_hits;

/* ---- compiling (agg.c) ---- */

/* "[path] <message>"; returns AGG_ERR_INVALID. */
int agg_fail(agg_cc_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "[path] [opt] of aggregation [kind] <message>"; returns AGG_ERR_INVALID. */
int agg_fail_opt(agg_cc_t *c, const char *opt, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "[path] out of memory"; returns AGG_ERR_NOMEM. */
int agg_fail_oom(agg_cc_t *c);
/* How messages quote a request value: its compact JSON ("5", {"a":1}), cut short with "..."
 * past AGG_QUOTE_MAX - 1 bytes. Writes into buf (AGG_QUOTE_MAX bytes) and returns it. */
#define AGG_QUOTE_MAX 64
const char *agg_quote(const json_t *v, char *buf);

/* n->opt = `size` zeroed bytes; NULL (with the message written) when out of memory. */
void *agg_opt_new(agg_cc_t *c, agg_node_t *n, size_t size);

/* Option values; each returns 0 or AGG_ERR_INVALID with the message written. */
int agg_opt_int(agg_cc_t *c, const char *opt, json_t *v, int64_t min, int64_t *out);
int agg_opt_bool(agg_cc_t *c, const char *opt, json_t *v, bool *out);
int agg_opt_number(agg_cc_t *c, const char *opt, json_t *v, double *out);
int agg_opt_string(agg_cc_t *c, const char *opt, json_t *v, const char **out);
/* "format": a date format (datepat.h). */
int agg_opt_datepat(agg_cc_t *c, json_t *v, datepat_t *out);
/* A date given as date math / RFC 3339 text or epoch milliseconds (a number); `zone_s` is
 * applied to texts that carry no offset of their own. Gives the first microsecond it covers. */
int agg_opt_date(agg_cc_t *c, const char *opt, json_t *v, int32_t zone_s, int64_t *us);
/* The "field" option into n->field, checked against what the kind can read (AGG_FIELD_*). */
int agg_opt_field(agg_cc_t *c, agg_node_t *n, json_t *v, int want);
/* Compile a query in the DSL (query.h) for filter/filters into *out (owned by the caller). */
int agg_opt_query(agg_cc_t *c, const char *what, json_t *v, query_t **out);

/* ---- buckets (agg.c) ---- */

typedef struct {
    uint64_t count;
    uint64_t last;           /* docno of the last record counted (each counts once) */
    agg_coll_t **subs;       /* owned: one collector per sub-aggregation, made at the first
                                record; NULL before, and without sub-aggregations */
} agg_bucket_t;

/* Count the record in bucket b of node n (once per record) and add it to the sub-aggregations. */
int agg_bucket_hit(const agg_node_t *n, agg_bucket_t *b, const agg_rec_t *r);
void agg_bucket_free(const agg_node_t *n, agg_bucket_t *b);
/* "doc_count":N and ,"<sub>":{...} for each sub-aggregation (empty ones when b never got a
 * record). */
void agg_bucket_body(const agg_node_t *n, const agg_bucket_t *b, agg_out_t *o);
/* Count one more bucket of the result; false (and o->too_many) past AGG_MAX_BUCKETS. */
bool agg_out_bucket(agg_out_t *o);

/* Grow an array of buckets (zeroing the new ones) to hold at least `need`. 0 or AGG_ERR_NOMEM. */
int agg_buckets_reserve(agg_bucket_t **arr, size_t *cap, size_t need);

/* Buckets found by a key (terms, histograms): a keytab and the buckets indexed like it. */
typedef struct {
    keytab_t keys;
    agg_bucket_t *b;         /* owned */
    size_t cap;
} agg_keyed_t;

/* The index of key (tag, p[0..len)), its bucket made if new. 0 or AGG_ERR_NOMEM. */
int agg_keyed_find(agg_keyed_t *k, uint8_t tag, const void *p, size_t len, uint32_t *idx);
void agg_keyed_free(const agg_node_t *n, agg_keyed_t *k);

/* ---- collectors (agg.c) ---- */

/* A new collector of node n (its kind's coll_size, zeroed, then coll_init): 0 or AGG_ERR_NOMEM. */
int agg_coll_new(const agg_node_t *n, agg_coll_t **out);
void agg_coll_free(agg_coll_t *c);   /* NULL is a no-op */
/* {"meta":...,<members>} */
void agg_render(const agg_coll_t *c, agg_out_t *o);

/* ---- output (agg.c) ---- */

/* A double as Elasticsearch writes one: shortest text that reads back the same, with ".0"
 * when integral; null when not finite. agg_fmt_double writes it into buf (cap bytes, at least
 * AGG_DOUBLE_MAX) and returns its length. */
#define AGG_DOUBLE_MAX 40
size_t agg_fmt_double(char *buf, size_t cap, double v);
void agg_put_double(bytebuf_t *b, double v);
/* A date (microseconds) as a JSON string in format f at offset off_s. */
void agg_put_date(bytebuf_t *b, const datepat_t *f, int64_t us, int32_t off_s);
/* Milliseconds of a microsecond time, rounded down. */
int64_t agg_ms(int64_t us);

#endif
