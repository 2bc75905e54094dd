/* agg_range.c -- buckets given by the request: range and date_range (a bucket per [from, to)
 * interval of a field's values), filter and filters (a bucket per query).
 *
 * Ranges are sorted by (from, to), as Elasticsearch returns them; a record counts once in each
 * range one of its values falls in (ranges may overlap). A range without a key is named
 * "from-to", "*" for an open end, numbers as doubles ("*-100.0") and dates in the format.
 * date_range bounds are dates, date math or epoch milliseconds, in UTC unless they carry an
 * offset. Filters read the record through the run's doc, so a query on JSON fields parses
 * nothing the other aggregations have not parsed already. Named filters are sorted by name
 * (Elasticsearch's "fixed order of filters"); anonymous ones keep the request's order. */
#include "agg_impl.h"
#include "query.h"
#include <stdlib.h>
#include <string.h>

#define OTHER_KEY "_other_"

/* ======================================================================================
 * range, date_range
 * ====================================================================================== */

typedef struct {
    char *key;                 /* owned: the bucket's key */
    bool has_from, has_to;
    double from, to;           /* range */
    int64_t from_us, to_us;    /* date_range */
    size_t pos;                /* position in the request (ties) */
} range_t;

typedef struct {
    bool date, keyed;
    datepat_t fmt;
    range_t *r;                /* owned, sorted */
    size_t n;
} range_opt_t;

typedef struct {
    agg_coll_t base;
    agg_bucket_t *b;           /* owned: one per range */
} range_coll_t;

static const char *const range_opts[] = {"field", "ranges", "keyed", NULL};
static const char *const date_range_opts[] = {"field", "ranges", "keyed", "format", NULL};

static void range_opt_free(void *p)
{
    range_opt_t *o = p;
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++)
        free(o->r[i].key);
    free(o->r);
    free(o);
}

/* One end of a numeric range: a number or a numeric string; null leaves it open. */
static int num_end(agg_cc_t *c, const char *what, json_t *v, bool *has, double *out)
{
    docfield_num_t num;
    *has = v && !json_is_null(v);
    if (!*has)
        return 0;
    if (json_is_string(v) && docfield_num_parse(json_string_value(v), json_string_length(v), &num)) {
        *out = num.d;
        return 0;
    }
    return agg_opt_number(c, what, v, out);
}

static int date_end(agg_cc_t *c, const char *what, json_t *v, bool *has, int64_t *out)
{
    *has = v && !json_is_null(v);
    return *has ? agg_opt_date(c, what, v, 0, out) : 0;
}

/* "from-to" of the formatted ends, or the given key. */
static int range_key(agg_cc_t *c, const range_opt_t *o, range_t *r, json_t *key)
{
    char q[AGG_QUOTE_MAX];
    char a[DATEPAT_OUT_MAX] = "*", b[DATEPAT_OUT_MAX] = "*";
    if (key && !json_is_string(key))
        return agg_fail_opt(c, "ranges", "key must be a string, found %s", agg_quote(key, q));
    if (o->date) {
        if (r->has_from)
            datepat_format(&o->fmt, r->from_us, 0, a);
        if (r->has_to)
            datepat_format(&o->fmt, r->to_us, 0, b);
    } else {
        if (r->has_from)
            agg_fmt_double(a, sizeof a, r->from);
        if (r->has_to)
            agg_fmt_double(b, sizeof b, r->to);
    }
    size_t n = strlen(a) + strlen(b) + 2;
    if (!(r->key = key ? strdup(json_string_value(key)) : malloc(n)))
        return agg_fail_oom(c);
    if (!key)
        snprintf(r->key, n, "%s-%s", a, b);
    return 0;
}

static int range_one(agg_cc_t *c, range_opt_t *o, json_t *v, range_t *r)
{
    char q[AGG_QUOTE_MAX];
    const char *k;
    json_t *e, *from = NULL, *to = NULL, *key = NULL;
    if (!json_is_object(v))
        return agg_fail_opt(c, "ranges", "must hold objects {\"from\", \"to\", \"key\"}, found %s",
                            agg_quote(v, q));
    json_object_foreach(v, k, e) {
        if (strcmp(k, "from") == 0)
            from = e;
        else if (strcmp(k, "to") == 0)
            to = e;
        else if (strcmp(k, "key") == 0)
            key = e;
        else
            return agg_fail_opt(c, "ranges", "has an unknown key [%s]; supported: from, to, key", k);
    }
    bool ok = o->date ? date_end(c, "ranges.from", from, &r->has_from, &r->from_us) == 0 &&
                            date_end(c, "ranges.to", to, &r->has_to, &r->to_us) == 0
                      : num_end(c, "ranges.from", from, &r->has_from, &r->from) == 0 &&
                            num_end(c, "ranges.to", to, &r->has_to, &r->to) == 0;
    return ok ? range_key(c, o, r, key) : AGG_ERR_INVALID;
}

/* (from, to) ascending, open ends outermost; then request order. */
static int range_cmp(const void *a, const void *b, void *ud)
{
    const range_t *x = a, *y = b;
    const range_opt_t *o = ud;
    int c;
    if (x->has_from != y->has_from)
        return x->has_from ? 1 : -1;
    c = !x->has_from ? 0 : o->date ? (x->from_us > y->from_us) - (x->from_us < y->from_us)
                                   : (x->from > y->from) - (x->from < y->from);
    if (c)
        return c;
    if (x->has_to != y->has_to)
        return x->has_to ? -1 : 1;
    c = !x->has_to ? 0 : o->date ? (x->to_us > y->to_us) - (x->to_us < y->to_us)
                                 : (x->to > y->to) - (x->to < y->to);
    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static int ranges_compile(agg_cc_t *c, json_t *v, range_opt_t *o)
{
    if (!v)
        return agg_fail(c, "aggregation [%s] requires [ranges]", c->kind);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return agg_fail_opt(c, "ranges", "must be a non-empty array");
    if (!(o->r = calloc(json_array_size(v), sizeof *o->r)))
        return agg_fail_oom(c);
    for (size_t i = 0; i < json_array_size(v); i++) {
        o->r[i].pos = i;
        o->n = i + 1;
        if (range_one(c, o, json_array_get(v, i), &o->r[i]) < 0)
            return AGG_ERR_INVALID;
    }
    qsort_r(o->r, o->n, sizeof *o->r, range_cmp, o);
    return 0;
}

static int range_compile_as(agg_cc_t *c, agg_node_t *n, json_t *const *v, bool date)
{
    range_opt_t *o = agg_opt_new(c, n, sizeof *o);
    if (!o)
        return AGG_ERR_NOMEM;
    o->date = date;
    if (agg_opt_field(c, n, v[0], date ? AGG_FIELD_DATE : AGG_FIELD_NUMERIC) < 0 ||
        (v[2] && agg_opt_bool(c, "keyed", v[2], &o->keyed) < 0) ||
        (date && v[3] && agg_opt_datepat(c, v[3], &o->fmt) < 0))
        return AGG_ERR_INVALID;
    return ranges_compile(c, v[1], o);
}

static int range_compile(agg_cc_t *c, agg_node_t *n, json_t *const *v)
{
    return range_compile_as(c, n, v, false);
}

static int date_range_compile(agg_cc_t *c, agg_node_t *n, json_t *const *v)
{
    return range_compile_as(c, n, v, true);
}

/* A collector's `nb` buckets (range, filter, filters). */
static int buckets_init(agg_coll_t *c, size_t nb)
{
    range_coll_t *r = (range_coll_t *)c;
    return (r->b = calloc(nb ? nb : 1, sizeof *r->b)) ? 0 : AGG_ERR_NOMEM;
}

static void buckets_fini(agg_coll_t *c, size_t nb)
{
    range_coll_t *r = (range_coll_t *)c;
    for (size_t i = 0; r->b && i < nb; i++)
        agg_bucket_free(c->node, &r->b[i]);
    free(r->b);
}

static int range_init(agg_coll_t *c)
{
    return buckets_init(c, ((const range_opt_t *)c->node->opt)->n);
}

static void range_fini(agg_coll_t *c)
{
    buckets_fini(c, ((const range_opt_t *)c->node->opt)->n);
}

typedef struct {
    range_coll_t *rc;
    const agg_rec_t *r;
    int rc_err;
} range_add_t;

static bool in_range(const range_opt_t *o, const range_t *r, double v, int64_t us)
{
    if (o->date)
        return (!r->has_from || us >= r->from_us) && (!r->has_to || us < r->to_us);
    return (!r->has_from || v >= r->from) && (!r->has_to || v < r->to);
}

/* Value v as the range's kind reads it: a number, or a date (microseconds). */
static bool range_operand(const agg_node_t *n, const docfield_val_t *v, double *num, int64_t *us)
{
    docfield_num_t x;
    if (!((const range_opt_t *)n->opt)->date) {
        if (v->type != DOCFIELD_V_NUM || !docfield_num_parse(v->s.p, v->s.n, &x))
            return false;
        *num = x.d;
        return true;
    }
    if (v->type == DOCFIELD_V_DATE) {
        *us = v->us;
        return true;
    }
    return v->type == DOCFIELD_V_STR && docfield_str_date(&n->field, &v->s, us);
}

static bool range_value(docfield_doc_t *d, const docfield_val_t *v, void *ud)
{
    range_add_t *x = ud;
    const agg_node_t *n = x->rc->base.node;
    const range_opt_t *o = n->opt;
    double num = 0;
    int64_t us = 0;
    if (!range_operand(n, v, &num, &us))
        return false;
    for (size_t i = 0; i < o->n && x->rc_err == 0; i++)
        if (in_range(o, &o->r[i], num, us))
            x->rc_err = agg_bucket_hit(n, &x->rc->b[i], x->r);
    return x->rc_err < 0;
}

static int range_add(agg_coll_t *c, const agg_rec_t *r)
{
    range_add_t x = {(range_coll_t *)c, r, 0};
    docfield_each(&c->node->field, r->doc, range_value, &x);
    return x.rc_err;
}

/* "from"/"to" (and *_as_string for dates) of one end. */
static void put_end(bytebuf_t *b, const range_opt_t *o, const char *name, double v, int64_t us)
{
    bytebuf_printf(b, "\"%s\":", name);
    agg_put_double(b, o->date ? (double)agg_ms(us) : v);
    if (o->date) {
        bytebuf_printf(b, ",\"%s_as_string\":", name);
        agg_put_date(b, &o->fmt, us, 0);
    }
    bytebuf_appends(b, ",");
}

/* The opening of a bucket named `key` (NULL: an anonymous one): "key":{ when keyed, else
 * {"key":"...", (or just {). */
static void open_bucket(bytebuf_t *b, const char *key, bool keyed)
{
    if (!key) {
        bytebuf_appends(b, "{");
        return;
    }
    bytebuf_appends(b, keyed ? "" : "{\"key\":");
    bytebuf_append_json_str(b, key, strlen(key));
    bytebuf_appends(b, keyed ? ":{" : ",");
}

/* Writes the opening of bucket i of a collector and its members before doc_count. */
typedef void bucket_head_fn(const agg_coll_t *c, size_t i, bytebuf_t *b);

/* "buckets": the nb buckets of a range or filters collector, in an object when keyed. */
static void put_buckets(const agg_coll_t *c, size_t nb, bool keyed, bucket_head_fn *head, agg_out_t *o)
{
    const range_coll_t *rc = (const range_coll_t *)c;
    bytebuf_appends(o->b, keyed ? "\"buckets\":{" : "\"buckets\":[");
    for (size_t i = 0; i < nb && agg_out_bucket(o); i++) {
        bytebuf_appends(o->b, i ? "," : "");
        head(c, i, o->b);
        agg_bucket_body(c->node, &rc->b[i], o);
        bytebuf_appends(o->b, "}");
    }
    bytebuf_appends(o->b, keyed ? "}" : "]");
}

static void range_head(const agg_coll_t *c, size_t i, bytebuf_t *b)
{
    const range_opt_t *opt = c->node->opt;
    const range_t *r = &opt->r[i];
    open_bucket(b, r->key, opt->keyed);
    if (r->has_from)
        put_end(b, opt, "from", r->from, r->from_us);
    if (r->has_to)
        put_end(b, opt, "to", r->to, r->to_us);
}

static void range_render(const agg_coll_t *c, agg_out_t *o)
{
    const range_opt_t *opt = c->node->opt;
    put_buckets(c, opt->n, opt->keyed, range_head, o);
}

const agg_kind_t agg_kind_range = {
    .name = "range", .takes_subs = true, .opts = range_opts, .compile = range_compile,
    .coll_size = sizeof(range_coll_t), .coll_init = range_init, .add = range_add,
    .render = range_render, .coll_fini = range_fini, .opt_free = range_opt_free,
};

const agg_kind_t agg_kind_date_range = {
    .name = "date_range", .takes_subs = true, .opts = date_range_opts, .compile = date_range_compile,
    .coll_size = sizeof(range_coll_t), .coll_init = range_init, .add = range_add,
    .render = range_render, .coll_fini = range_fini, .opt_free = range_opt_free,
};

/* ======================================================================================
 * filter, filters
 * ====================================================================================== */

typedef struct {
    char *name;                /* owned; NULL for anonymous filters */
    query_t *q;                /* owned */
} filter_t;

typedef struct {
    filter_t *f;               /* owned, sorted by name when named */
    size_t n;
    bool named, keyed, other;
    const char *other_key;     /* borrowed from the request, or OTHER_KEY */
} filters_opt_t;

static void filters_opt_free(void *p)
{
    filters_opt_t *o = p;
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++) {
        free(o->f[i].name);
        query_free(o->f[i].q);
    }
    free(o->f);
    free(o);
}

static int filters_alloc(agg_cc_t *c, agg_node_t *n, size_t cnt, filters_opt_t **out)
{
    filters_opt_t *o = agg_opt_new(c, n, sizeof *o);
    if (!o)
        return AGG_ERR_NOMEM;
    if (!(o->f = calloc(cnt ? cnt : 1, sizeof *o->f)))
        return agg_fail_oom(c);
    o->other_key = OTHER_KEY;
    *out = o;
    return 0;
}

static int filter_compile(agg_cc_t *c, agg_node_t *n, json_t *const *v)
{
    filters_opt_t *o = NULL;
    if (filters_alloc(c, n, 1, &o) < 0)
        return AGG_ERR_NOMEM;
    o->n = 1;
    return agg_opt_query(c, "filter", v[0], &o->f[0].q);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const filter_t *)a)->name, ((const filter_t *)b)->name);
}

static int filters_list(agg_cc_t *c, filters_opt_t *o, json_t *v)
{
    char what[64];
    size_t i;
    json_t *q;
    json_array_foreach(v, i, q) {
        snprintf(what, sizeof what, "filters[%zu]", i);
        if (agg_opt_query(c, what, q, &o->f[o->n].q) < 0)
            return AGG_ERR_INVALID;
        o->n++;
    }
    return 0;
}

static int filters_named(agg_cc_t *c, filters_opt_t *o, json_t *v)
{
    char what[300];
    const char *name;
    json_t *q;
    o->named = o->keyed = true;
    json_object_foreach(v, name, q) {
        snprintf(what, sizeof what, "filters[%s]", name);
        if (!(o->f[o->n].name = strdup(name)))
            return agg_fail_oom(c);
        o->n++;
        if (agg_opt_query(c, what, q, &o->f[o->n - 1].q) < 0)
            return AGG_ERR_INVALID;
    }
    qsort(o->f, o->n, sizeof *o->f, name_cmp);
    return 0;
}

static const char *const filters_opts[] = {"filters", "other_bucket", "other_bucket_key", "keyed", NULL};

static int filters_compile(agg_cc_t *c, agg_node_t *n, json_t *const *v)
{
    char q[AGG_QUOTE_MAX];
    filters_opt_t *o = NULL;
    json_t *fs = v[0];
    if (!fs)
        return agg_fail(c, "aggregation [filters] requires [filters]");
    if (!json_is_object(fs) && !json_is_array(fs))
        return agg_fail_opt(c, "filters", "must be an object of named queries or an array of queries, "
                            "found %s", agg_quote(fs, q));
    size_t cnt = json_is_object(fs) ? json_object_size(fs) : json_array_size(fs);
    if (filters_alloc(c, n, cnt, &o) < 0)
        return AGG_ERR_NOMEM;
    if ((json_is_object(fs) ? filters_named(c, o, fs) : filters_list(c, o, fs)) < 0 ||
        (v[1] && agg_opt_bool(c, "other_bucket", v[1], &o->other) < 0) ||
        (v[2] && agg_opt_string(c, "other_bucket_key", v[2], &o->other_key) < 0))
        return AGG_ERR_INVALID;
    if (v[3] && agg_opt_bool(c, "keyed", v[3], &o->keyed) < 0)
        return AGG_ERR_INVALID;
    if (o->keyed && !o->named)
        return agg_fail_opt(c, "keyed", "needs named filters (an object)");
    o->other |= v[2] != NULL;
    return 0;
}

/* Buckets: one per filter, and the other bucket last. */
static size_t filters_nb(const agg_node_t *n)
{
    const filters_opt_t *o = n->opt;
    return o->n + o->other;
}

static int filters_init(agg_coll_t *c)
{
    return buckets_init(c, filters_nb(c->node));
}

static void filters_fini(agg_coll_t *c)
{
    buckets_fini(c, filters_nb(c->node));
}

static int filters_add(agg_coll_t *c, const agg_rec_t *r)
{
    range_coll_t *fc = (range_coll_t *)c;
    const filters_opt_t *o = c->node->opt;
    bool any = false;
    for (size_t i = 0; i < o->n; i++) {
        if (!query_match_doc(o->f[i].q, r->doc))
            continue;
        any = true;
        if (agg_bucket_hit(c->node, &fc->b[i], r) < 0)
            return AGG_ERR_NOMEM;
    }
    return o->other && !any ? agg_bucket_hit(c->node, &fc->b[o->n], r) : 0;
}

static void filter_render(const agg_coll_t *c, agg_out_t *o)
{
    agg_bucket_body(c->node, &((const range_coll_t *)c)->b[0], o);
}

static void filters_head(const agg_coll_t *c, size_t i, bytebuf_t *b)
{
    const filters_opt_t *opt = c->node->opt;
    const char *name = i < opt->n ? opt->f[i].name : opt->other_key;
    open_bucket(b, opt->named ? name : NULL, opt->keyed);
}

static void filters_render(const agg_coll_t *c, agg_out_t *o)
{
    const filters_opt_t *opt = c->node->opt;
    put_buckets(c, filters_nb(c->node), opt->keyed, filters_head, o);
}

const agg_kind_t agg_kind_filter = {
    .name = "filter", .takes_subs = true, .opts = NULL, .compile = filter_compile,
    .coll_size = sizeof(range_coll_t), .coll_init = filters_init, .add = filters_add,
    .render = filter_render, .coll_fini = filters_fini, .opt_free = filters_opt_free,
};

const agg_kind_t agg_kind_filters = {
    .name = "filters", .takes_subs = true, .opts = filters_opts, .compile = filters_compile,
    .coll_size = sizeof(range_coll_t), .coll_init = filters_init, .add = filters_add,
    .render = filters_render, .coll_fini = filters_fini, .opt_free = filters_opt_free,
};
