/* agg.c -- Elasticsearch aggregations: the public API, the compiled tree, options, buckets and
 * output shared by the kinds in agg_*.c (agg_impl.h lists the files).
 *
 * Request. "aggs" is {"<name>": {"<type>": {<options>}, "aggs": {...}, "meta": {...}}, ...};
 * names may hold any character but '[', ']' and '>'. Every option of every aggregation is
 * checked, and anything not understood is an error that names the aggregation (by its path of
 * names, "by_feed>per_hour") and the option. Options, as Elasticsearch 8 spells them:
 *   terms           field, size (10), order ({"_count"|"_key": "asc"|"desc"} or a list of
 *                   them; default _count desc, ties by key asc), min_doc_count (1), missing,
 *                   shard_size (accepted, one shard)
 *   date_histogram  field (a date), calendar_interval (minute 1m hour 1h day 1d week 1w month 1M
 *                   quarter 1q year 1y) or fixed_interval (<n>ms|s|m|h|d), time_zone, offset,
 *                   min_doc_count (0), extended_bounds {min, max}, format, keyed
 *   histogram       field (a number), interval, offset, min_doc_count (0), extended_bounds,
 *                   keyed
 *   range           field (a number), ranges [{from, to, key}], keyed
 *   date_range      field (a date), ranges (from/to: dates, date math, epoch ms), format, keyed
 *   filter          a query; filters: filters ({name: query} or [query, ...]), other_bucket,
 *                   other_bucket_key, keyed
 *   min max avg sum value_count stats cardinality  field (cardinality: precision_threshold,
 *                   accepted; the count is exact)
 *   top_hits        size (3), from (0), sort (published asc|desc), _source
 *
 * Values. Fields are read as the query DSL reads them (docfield.h). terms and cardinality key
 * on each value by its type: strings by bytes, numbers by value (5 and 5.0 are one key),
 * booleans as 1/0 with key_as_string "true"/"false", `published` as epoch milliseconds with
 * key_as_string. Numeric aggregations (histogram, range, min...) read JSON numbers, and
 * `published` as epoch milliseconds (with *_as_string); date aggregations read `published` and
 * JSON strings that are RFC 3339 dates. Other values are skipped. A record counts once per
 * bucket however many of its values fall in it; metrics see every value (as Elasticsearch's
 * multi-valued fields).
 *
 * Where this differs from Elasticsearch, and why:
 *   - Fields have no mapping: a field holding both strings and numbers gives keys of both kinds
 *     (numbers sort before strings); a date-like JSON string is a keyword for terms, a date for
 *     date aggregations, and min/max/avg/sum read only JSON numbers (and `published`).
 *   - terms with min_doc_count 0 cannot list terms that no matching record has (we only see the
 *     matching records); it behaves as 1. Counts are exact, so doc_count_error_upper_bound is 0.
 *   - time_zone is a fixed offset ("+01:00", "UTC"); zones with daylight-saving rules are an
 *     error. Dates without an offset in extended_bounds are read in that offset.
 *   - top_hits orders by (published millisecond, id, feed) and its hits carry "sort" like
 *     _search's (milliseconds).
 *   - cardinality is exact (a hash set), not HyperLogLog.
 *   - order by a sub-aggregation, scripts, include/exclude, hard_bounds and the other
 *     aggregation types are not supported (an error, never ignored).
 *
 * Memory: the compiled tree is read-only after agg_compile. Each aggregation has one collector
 * per parent bucket; bucket aggregations keep their buckets in arrays grown by doubling and
 * find them through keytab.h, so adding a record allocates only when it opens a bucket. */
#include "agg_impl.h"
#include "datemath.h"
#include "errfmt.h"
#include "query.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US_PER_MS 1000
#define US_PER_SEC INT64_C(1000000)
#define MAX_DATE_MS INT64_C(253402300799999)   /* 9999-12-31T23:59:59.999Z, as far as dates go */

struct agg {
    json_t *root;               /* owned reference: the request's "aggs", which names borrow */
    agg_node_t **nodes;         /* owned array of owned */
    size_t n;
};

struct agg_run {
    const agg_t *a;             /* borrowed */
    agg_coll_t **colls;         /* owned: one per top-level aggregation */
    docfield_doc_t doc;         /* the record being added; its tape is reused */
    uint64_t docno;
    bool failed;                /* out of memory: nothing more is added */
};

static const agg_kind_t *const kinds[] = {
    &agg_kind_terms, &agg_kind_date_histogram, &agg_kind_histogram, &agg_kind_range,
    &agg_kind_date_range, &agg_kind_filter, &agg_kind_filters, &agg_kind_cardinality,
    &agg_kind_min, &agg_kind_max, &agg_kind_avg, &agg_kind_sum, &agg_kind_value_count,
    &agg_kind_stats, &agg_kind_top_hits,
};

/* ======================================================================================
 * Messages
 * ====================================================================================== */

/* "[path] [opt] of aggregation [kind] <message>", or "[path] <message>" without opt. */
static int vfail(agg_cc_t *c, const char *opt, const char *fmt, va_list ap)
{
    char msg[512];
    const char *path = c->path[0] ? c->path : "aggs";
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (opt)
        errfmt(c->err, c->errlen, "[%s] [%s] of aggregation [%s] %s", path, opt, c->kind, msg);
    else
        errfmt(c->err, c->errlen, "[%s] %s", path, msg);
    return AGG_ERR_INVALID;
}

int agg_fail(agg_cc_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, NULL, fmt, ap);
    va_end(ap);
    return AGG_ERR_INVALID;
}

int agg_fail_opt(agg_cc_t *c, const char *opt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, opt, fmt, ap);
    va_end(ap);
    return AGG_ERR_INVALID;
}

int agg_fail_oom(agg_cc_t *c)
{
    agg_fail(c, "out of memory");
    return AGG_ERR_NOMEM;
}

const char *agg_quote(const json_t *v, char *buf)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, AGG_QUOTE_MAX, "%s", text ? text : "a value");
    if (text && strlen(text) >= AGG_QUOTE_MAX)
        memcpy(buf + AGG_QUOTE_MAX - 4, "...", 4);
    free(text);
    return buf;
}

/* ======================================================================================
 * Option values
 * ====================================================================================== */

void *agg_opt_new(agg_cc_t *c, agg_node_t *n, size_t size)
{
    if (!(n->opt = calloc(1, size)))
        agg_fail_oom(c);
    return n->opt;
}

int agg_opt_int(agg_cc_t *c, const char *opt, json_t *v, int64_t min, int64_t *out)
{
    char q[AGG_QUOTE_MAX];
    if (!json_is_integer(v))
        return agg_fail_opt(c, opt, "must be an integer, found %s", agg_quote(v, q));
    if (json_integer_value(v) < min)
        return agg_fail_opt(c, opt, "must be at least %lld, found [%lld]", (long long)min,
                            (long long)json_integer_value(v));
    *out = json_integer_value(v);
    return 0;
}

int agg_opt_bool(agg_cc_t *c, const char *opt, json_t *v, bool *out)
{
    char q[AGG_QUOTE_MAX];
    if (!json_is_boolean(v))
        return agg_fail_opt(c, opt, "must be true or false, found %s", agg_quote(v, q));
    *out = json_is_true(v);
    return 0;
}

int agg_opt_number(agg_cc_t *c, const char *opt, json_t *v, double *out)
{
    char q[AGG_QUOTE_MAX];
    if (!json_is_number(v))
        return agg_fail_opt(c, opt, "must be a number, found %s", agg_quote(v, q));
    *out = json_number_value(v);
    return 0;
}

int agg_opt_string(agg_cc_t *c, const char *opt, json_t *v, const char **out)
{
    char q[AGG_QUOTE_MAX];
    if (!json_is_string(v))
        return agg_fail_opt(c, opt, "must be a string, found %s", agg_quote(v, q));
    *out = json_string_value(v);
    return 0;
}

int agg_opt_datepat(agg_cc_t *c, json_t *v, datepat_t *out)
{
    const char *s = NULL;
    char why[256];
    if (agg_opt_string(c, "format", v, &s) < 0)
        return AGG_ERR_INVALID;
    if (datepat_compile(s, out, why, sizeof why) < 0)
        return agg_fail_opt(c, "format", "%s", why);
    return 0;
}

/* Does the date text (or the anchor of date math, before "||") name its offset? */
static bool text_has_zone(const char *s, size_t n)
{
    const char *bars = memmem(s, n, "||", 2);
    if (bars)
        n = (size_t)(bars - s);
    for (size_t i = 10; i < n; i++)
        if (s[i] == 'Z' || s[i] == 'z' || s[i] == '+' || s[i] == '-')
            return true;
    return false;
}

int agg_opt_date(agg_cc_t *c, const char *opt, json_t *v, int32_t zone_s, int64_t *us)
{
    char q[AGG_QUOTE_MAX];
    if (json_is_integer(v)) {
        json_int_t ms = json_integer_value(v);
        if (ms > MAX_DATE_MS || ms < -MAX_DATE_MS)
            return agg_fail_opt(c, opt, "is out of range: [%lld]", (long long)ms);
        *us = ms * US_PER_MS;
        return 0;
    }
    if (!json_is_string(v))
        return agg_fail_opt(c, opt, "must be a date or epoch milliseconds, found %s", agg_quote(v, q));
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    datemath_span_t sp;
    int r = datemath_parse(s, n, c->now_us, &sp);
    if (r == DATEMATH_ERR_NOTMATH)
        r = datemath_parse_date(s, n, &sp);
    if (r < 0)
        return agg_fail_opt(c, opt, "is not a date or date math: [%s]", s);
    bool now = n >= 3 && memcmp(s, "now", 3) == 0;
    *us = sp.lo - (now || text_has_zone(s, n) ? 0 : (int64_t)zone_s * US_PER_SEC);
    return 0;
}

static const char *field_type_name(const docfield_t *f)
{
    return docfield_is_date(f) ? "date" : "keyword";
}

/* Can a kind that reads `want` read field f? Keyword columns hold no numbers or dates;
 * `published` is no plain number. JSON fields are read for what they hold. */
static bool field_fits(const docfield_t *f, int want)
{
    switch (want) {
    case AGG_FIELD_NUMERIC: return f->kind == DOCFIELD_JSON && !f->keyword;
    case AGG_FIELD_DATE:
    case AGG_FIELD_NUMERIC_OR_DATE: return docfield_is_date(f) || (f->kind == DOCFIELD_JSON && !f->keyword);
    default: return true;
    }
}

int agg_opt_field(agg_cc_t *c, agg_node_t *n, json_t *v, int want)
{
    const char *name = NULL;
    char why[256];
    if (!v)
        return agg_fail(c, "aggregation [%s] requires [field]", c->kind);
    if (agg_opt_string(c, "field", v, &name) < 0)
        return AGG_ERR_INVALID;
    int r = docfield_compile(name, &n->field, why, sizeof why);
    if (r == DOCFIELD_ERR_NOMEM)
        return agg_fail_oom(c);
    if (r < 0)
        return agg_fail(c, "field [%s]: %s", name, why);
    if (!field_fits(&n->field, want))
        return agg_fail(c, "field [%s] of type [%s] is not supported for aggregation [%s]", name,
                        field_type_name(&n->field), c->kind);
    return 0;
}

int agg_opt_query(agg_cc_t *c, const char *what, json_t *v, query_t **out)
{
    char why[512];
    if (query_compile(v, out, why, sizeof why) < 0)
        return agg_fail(c, "%s: %s", what, why);
    return 0;
}

/* ======================================================================================
 * Compiling the tree
 * ====================================================================================== */

static void node_free(agg_node_t *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nsubs; i++)
        node_free(n->subs[i]);
    free(n->subs);
    if (n->kind && n->kind->opt_free)
        n->kind->opt_free(n->opt);
    else
        free(n->opt);
    docfield_free(&n->field);
    free(n->meta);
    free(n);
}

static size_t path_push(agg_cc_t *c, const char *name)
{
    size_t old = strlen(c->path);
    snprintf(c->path + old, sizeof c->path - old, "%s%s", old ? ">" : "", name);
    return old;
}

static void path_pop(agg_cc_t *c, size_t old)
{
    c->path[old] = '\0';
}

static const agg_kind_t *kind_find(const char *name)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}

/* The kind's options: every key of body must be one it takes. */
static int compile_options(agg_cc_t *c, agg_node_t *n, json_t *body)
{
    char q[AGG_QUOTE_MAX];
    json_t *vals[16] = {NULL};
    const char *k;
    json_t *v;
    if (!n->kind->opts)
        return n->kind->compile(c, n, &body);   /* filter: the body is a query */
    if (!json_is_object(body))
        return agg_fail(c, "aggregation [%s] takes an object of options, found %s", c->kind,
                        agg_quote(body, q));
    json_object_foreach(body, k, v) {
        size_t i = 0;
        while (n->kind->opts[i] && strcmp(n->kind->opts[i], k) != 0)
            i++;
        if (!n->kind->opts[i])
            return agg_fail(c, "unknown option [%s] of aggregation [%s]", k, c->kind);
        vals[i] = v;
    }
    return n->kind->compile(c, n, vals);
}

static int compile_level(agg_cc_t *c, json_t *aggs, int depth, agg_node_t ***out, size_t *nout);

/* The members of one aggregation's definition: its type, "aggs"/"aggregations", "meta". */
typedef struct {
    const char *type;
    json_t *body, *subs, *meta;
} def_t;

static int split_def(agg_cc_t *c, json_t *def, def_t *d)
{
    char q[AGG_QUOTE_MAX];
    const char *k;
    json_t *v;
    if (!json_is_object(def))
        return agg_fail(c, "expected an object with an aggregation type, found %s", agg_quote(def, q));
    json_object_foreach(def, k, v) {
        if (strcmp(k, "aggs") == 0 || strcmp(k, "aggregations") == 0) {
            if (d->subs)
                return agg_fail(c, "found two sub-aggregation definitions ([aggs] and [aggregations])");
            d->subs = v;
        } else if (strcmp(k, "meta") == 0) {
            d->meta = v;
        } else if (d->type) {
            return agg_fail(c, "found two aggregation types: [%s] and [%s]", d->type, k);
        } else {
            d->type = k;
            d->body = v;
        }
    }
    if (!d->type)
        return agg_fail(c, "missing the aggregation type");
    return 0;
}

static int compile_meta(agg_cc_t *c, agg_node_t *n, json_t *meta)
{
    char q[AGG_QUOTE_MAX];
    if (!json_is_object(meta))
        return agg_fail(c, "[meta] must be an object, found %s", agg_quote(meta, q));
    if (!(n->meta = json_dumps(meta, JSON_COMPACT)))
        return agg_fail_oom(c);
    return 0;
}

static int compile_node(agg_cc_t *c, const char *name, json_t *def, int depth, agg_node_t **out)
{
    def_t d = {0};
    int r = split_def(c, def, &d);
    if (r < 0)
        return r;
    agg_node_t *n = calloc(1, sizeof *n);
    if (!n)
        return agg_fail_oom(c);
    n->name = name;
    n->kind = kind_find(d.type);
    c->kind = d.type;
    if (!n->kind)
        r = agg_fail(c, "aggregation type [%s] is not supported", d.type);
    else if (d.subs && !n->kind->takes_subs)
        r = agg_fail(c, "aggregation [%s] cannot take sub-aggregations", d.type);
    if (r == 0 && d.meta)
        r = compile_meta(c, n, d.meta);
    if (r == 0)
        r = compile_options(c, n, d.body);
    if (r == 0 && d.subs)
        r = compile_level(c, d.subs, depth + 1, &n->subs, &n->nsubs);
    if (r < 0) {
        node_free(n);
        return r;
    }
    *out = n;
    return 0;
}

static bool name_ok(const char *name)
{
    return name[0] && !strpbrk(name, "[]>");
}

/* An "aggs" object: named aggregations, compiled into a new array. */
static int compile_level(agg_cc_t *c, json_t *aggs, int depth, agg_node_t ***out, size_t *nout)
{
    char q[AGG_QUOTE_MAX];
    if (!json_is_object(aggs))
        return agg_fail(c, "[aggs] must be an object of named aggregations, found %s", agg_quote(aggs, q));
    if (depth > AGG_MAX_DEPTH)
        return agg_fail(c, "aggregations nested deeper than %d", AGG_MAX_DEPTH);
    size_t cnt = json_object_size(aggs);
    if (cnt && !(*out = calloc(cnt, sizeof **out)))
        return agg_fail_oom(c);
    const char *name;
    json_t *def;
    json_object_foreach(aggs, name, def) {
        if (!name_ok(name))
            return agg_fail(c, "invalid aggregation name [%s]: names may hold any character "
                               "but '[', ']' and '>'", name);
        size_t old = path_push(c, name);
        int r = compile_node(c, name, def, depth, &(*out)[*nout]);
        if (r < 0)
            return r;
        (*nout)++;
        path_pop(c, old);
    }
    return 0;
}

int agg_compile(json_t *aggs, int64_t now_us, agg_t **out, char *err, size_t errlen)
{
    char q[AGG_QUOTE_MAX];
    agg_cc_t c = {.err = err, .errlen = errlen, .now_us = now_us, .kind = ""};
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!json_is_object(aggs)) {
        errfmt(err, errlen, "[aggs] must be an object of named aggregations, found %s", agg_quote(aggs, q));
        return AGG_ERR_INVALID;
    }
    agg_t *a = calloc(1, sizeof *a);
    if (!a) {
        errfmt(err, errlen, "out of memory");
        return AGG_ERR_NOMEM;
    }
    a->root = json_incref(aggs);
    int r = compile_level(&c, aggs, 1, &a->nodes, &a->n);
    if (r < 0) {
        agg_free(a);
        return r;
    }
    *out = a;
    return 0;
}

void agg_free(agg_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        node_free(a->nodes[i]);
    free(a->nodes);
    json_decref(a->root);
    free(a);
}

/* ======================================================================================
 * Collectors and buckets
 * ====================================================================================== */

int agg_coll_new(const agg_node_t *n, agg_coll_t **out)
{
    agg_coll_t *c = calloc(1, n->kind->coll_size);
    if (!c)
        return AGG_ERR_NOMEM;
    c->node = n;
    if (n->kind->coll_init && n->kind->coll_init(c) < 0) {
        agg_coll_free(c);
        return AGG_ERR_NOMEM;
    }
    *out = c;
    return 0;
}

void agg_coll_free(agg_coll_t *c)
{
    if (c && c->node->kind->coll_fini)
        c->node->kind->coll_fini(c);
    free(c);
}

static void subs_free(const agg_node_t *n, agg_coll_t **subs)
{
    if (!subs)
        return;
    for (size_t i = 0; i < n->nsubs; i++)
        agg_coll_free(subs[i]);
    free(subs);
}

/* One new collector per sub-aggregation of n. */
static int subs_new(const agg_node_t *n, agg_coll_t ***out)
{
    agg_coll_t **subs = calloc(n->nsubs, sizeof *subs);
    if (!subs)
        return AGG_ERR_NOMEM;
    for (size_t i = 0; i < n->nsubs; i++) {
        if (agg_coll_new(n->subs[i], &subs[i]) < 0) {
            subs_free(n, subs);
            return AGG_ERR_NOMEM;
        }
    }
    *out = subs;
    return 0;
}

int agg_bucket_hit(const agg_node_t *n, agg_bucket_t *b, const agg_rec_t *r)
{
    if (b->last == r->docno)
        return 0;
    b->last = r->docno;
    b->count++;
    if (n->nsubs == 0)
        return 0;
    if (!b->subs && subs_new(n, &b->subs) < 0)
        return AGG_ERR_NOMEM;
    for (size_t i = 0; i < n->nsubs; i++) {
        agg_coll_t *s = b->subs[i];
        if (s->node->kind->add(s, r) < 0)
            return AGG_ERR_NOMEM;
    }
    return 0;
}

void agg_bucket_free(const agg_node_t *n, agg_bucket_t *b)
{
    subs_free(n, b->subs);
    b->subs = NULL;
}

int agg_buckets_reserve(agg_bucket_t **arr, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    agg_bucket_t *a = realloc(*arr, ncap * sizeof *a);
    if (!a)
        return AGG_ERR_NOMEM;
    memset(a + *cap, 0, (ncap - *cap) * sizeof *a);
    *arr = a;
    *cap = ncap;
    return 0;
}

int agg_keyed_find(agg_keyed_t *k, uint8_t tag, const void *p, size_t len, uint32_t *idx)
{
    int rc = keytab_put(&k->keys, tag, p, len, idx);
    if (rc < 0 || (rc == 1 && agg_buckets_reserve(&k->b, &k->cap, (size_t)*idx + 1) < 0))
        return AGG_ERR_NOMEM;
    return 0;
}

void agg_keyed_free(const agg_node_t *n, agg_keyed_t *k)
{
    for (size_t i = 0; i < k->cap; i++)
        agg_bucket_free(n, &k->b[i]);
    free(k->b);
    keytab_free(&k->keys);
}

bool agg_out_bucket(agg_out_t *o)
{
    if (++o->nbuckets > AGG_MAX_BUCKETS)
        o->too_many = true;
    return !o->too_many;
}

static void render_sub(const agg_node_t *sub, agg_coll_t *c, agg_out_t *o)
{
    bytebuf_appends(o->b, ",");
    bytebuf_append_json_str(o->b, sub->name, strlen(sub->name));
    bytebuf_appends(o->b, ":");
    agg_coll_t *empty = NULL;
    if (!c && agg_coll_new(sub, &empty) < 0) {
        o->b->failed = 1;
        return;
    }
    agg_render(c ? c : empty, o);
    agg_coll_free(empty);
}

void agg_bucket_body(const agg_node_t *n, const agg_bucket_t *b, agg_out_t *o)
{
    bytebuf_printf(o->b, "\"doc_count\":%llu", (unsigned long long)b->count);
    for (size_t i = 0; i < n->nsubs && !o->too_many; i++)
        render_sub(n->subs[i], b->subs ? b->subs[i] : NULL, o);
}

void agg_render(const agg_coll_t *c, agg_out_t *o)
{
    bytebuf_appends(o->b, "{");
    if (c->node->meta) {
        bytebuf_appends(o->b, "\"meta\":");
        bytebuf_appends(o->b, c->node->meta);
        bytebuf_appends(o->b, ",");
    }
    c->node->kind->render(c, o);
    bytebuf_appends(o->b, "}");
}

/* ======================================================================================
 * Output helpers
 * ====================================================================================== */

size_t agg_fmt_double(char *buf, size_t cap, double v)
{
    int n = 0;
    if (!isfinite(v))
        return (size_t)snprintf(buf, cap, "null");
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".e") && (size_t)n + 2 < cap)
        n += snprintf(buf + n, cap - (size_t)n, ".0");
    return (size_t)n;
}

void agg_put_double(bytebuf_t *b, double v)
{
    char buf[AGG_DOUBLE_MAX];
    bytebuf_append(b, buf, agg_fmt_double(buf, sizeof buf, v));
}

void agg_put_date(bytebuf_t *b, const datepat_t *f, int64_t us, int32_t off_s)
{
    char buf[DATEPAT_OUT_MAX];
    size_t n = datepat_format(f, us, off_s, buf);
    bytebuf_append_json_str(b, buf, n);
}

int64_t agg_ms(int64_t us)
{
    return us / US_PER_MS - (us % US_PER_MS < 0);
}

/* ======================================================================================
 * Runs
 * ====================================================================================== */

int agg_run_new(const agg_t *a, agg_run_t **out)
{
    agg_run_t *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r || (a->n && !(r->colls = calloc(a->n, sizeof *r->colls)))) {
        free(r);
        return AGG_ERR_NOMEM;
    }
    r->a = a;
    docfield_doc_init(&r->doc, NULL);
    for (size_t i = 0; i < a->n; i++) {
        if (agg_coll_new(a->nodes[i], &r->colls[i]) < 0) {
            agg_run_free(r);
            return AGG_ERR_NOMEM;
        }
    }
    *out = r;
    return 0;
}

int agg_run_add(agg_run_t *r, const store_rec_t *rec)
{
    if (r->failed)
        return AGG_ERR_NOMEM;
    docfield_doc_reset(&r->doc, rec);
    agg_rec_t ar = {&r->doc, ++r->docno};
    for (size_t i = 0; i < r->a->n; i++) {
        agg_coll_t *c = r->colls[i];
        if (c->node->kind->add(c, &ar) < 0) {
            r->failed = true;
            return AGG_ERR_NOMEM;
        }
    }
    return 0;
}

static int fail_nomem(char *err, size_t errlen)
{
    errfmt(err, errlen, "out of memory");
    return AGG_ERR_NOMEM;
}

int agg_run_render(agg_run_t *r, bytebuf_t *out, char *err, size_t errlen)
{
    agg_out_t o = {.b = out};
    if (r->failed)
        return fail_nomem(err, errlen);
    bytebuf_appends(out, "{");
    for (size_t i = 0; i < r->a->n && !o.too_many; i++) {
        const agg_node_t *n = r->a->nodes[i];
        if (i)
            bytebuf_appends(out, ",");
        bytebuf_append_json_str(out, n->name, strlen(n->name));
        bytebuf_appends(out, ":");
        agg_render(r->colls[i], &o);
    }
    bytebuf_appends(out, "}");
    if (o.too_many) {
        errfmt(err, errlen, "Trying to create too many buckets. Must be less than or equal to: "
                            "[%d] but this number of buckets was exceeded. This limit can be set "
                            "by changing the [search.max_buckets] cluster level setting.",
               AGG_MAX_BUCKETS);
        return AGG_ERR_TOO_MANY_BUCKETS;
    }
    return out->failed ? fail_nomem(err, errlen) : 0;
}

void agg_run_free(agg_run_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->colls && i < r->a->n; i++)
        agg_coll_free(r->colls[i]);
    free(r->colls);
    docfield_doc_release(&r->doc);
    free(r);
}
