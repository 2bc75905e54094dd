/* agg_metric.c -- metrics over the records of a bucket: min, max, avg, sum, stats (numbers,
 * or `published` as epoch milliseconds with *_as_string), value_count (values of any type),
 * and top_hits (the first records in an order, as search hits).
 *
 * The numeric ones share one accumulator: count, min, max, and a compensated (Kahan) sum, as
 * Elasticsearch keeps, so integer values sum exactly far beyond 2^53 in total. With no value,
 * min, max and avg are null, sum is 0.0 and stats says count 0 (as Elasticsearch).
 *
 * top_hits keeps copies of its from + size best records (at most 100), best first; a record
 * that does not make the cut is never copied, and one that does reuses the memory of the one it
 * pushes out, so a long scan allocates only while the list fills or a record outgrows it. */
#include "agg_impl.h"
#include "bytebuf.h"
#include "srcfilter.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOP_WINDOW 100   /* Elasticsearch's index.max_inner_result_window */

/* ======================================================================================
 * Numeric metrics
 * ====================================================================================== */

typedef struct {
    agg_coll_t base;
    uint64_t count;
    double min, max, sum, comp;   /* comp: the Kahan compensation of sum */
} stats_coll_t;

static const char *const field_only[] = {"field", NULL};

static int numeric_compile(agg_cc_t *c, agg_node_t *n, json_t *const *v)
{
    return agg_opt_field(c, n, v[0], AGG_FIELD_NUMERIC_OR_DATE);
}

static int any_compile(agg_cc_t *c, agg_node_t *n, json_t *const *v)
{
    return agg_opt_field(c, n, v[0], AGG_FIELD_ANY);
}

static int stats_init(agg_coll_t *c)
{
    stats_coll_t *s = (stats_coll_t *)c;
    s->min = INFINITY;
    s->max = -INFINITY;
    return 0;
}

static void stats_put(stats_coll_t *s, double v)
{
    double y = v - s->comp, t = s->sum + y;
    s->comp = (t - s->sum) - y;
    s->sum = t;
    s->count++;
    s->min = v < s->min ? v : s->min;
    s->max = v > s->max ? v : s->max;
}

static bool stats_value(docfield_doc_t *d, const docfield_val_t *v, void *ud)
{
    docfield_num_t num;
    if (v->type == DOCFIELD_V_DATE)
        stats_put(ud, (double)agg_ms(v->us));
    else if (v->type == DOCFIELD_V_NUM && docfield_num_parse(v->s.p, v->s.n, &num))
        stats_put(ud, num.d);
    return false;
}

static int stats_add(agg_coll_t *c, const agg_rec_t *r)
{
    docfield_each(&c->node->field, r->doc, stats_value, c);
    return 0;
}

static bool count_value(docfield_doc_t *d, const docfield_val_t *v, void *ud)
{
    stats_coll_t *s = ud;
    s->count += v->type != DOCFIELD_V_NULL && v->type != DOCFIELD_V_OBJ;
    return false;
}

static int count_add(agg_coll_t *c, const agg_rec_t *r)
{
    docfield_each(&c->node->field, r->doc, count_value, c);
    return 0;
}

/* "<name>":<v or null>, and "<name>_as_string" for a date field with a value. */
static void put_metric(const stats_coll_t *s, agg_out_t *o, const char *name, double v, bool has)
{
    static const datepat_t iso = {0};
    bytebuf_printf(o->b, "\"%s\":", name);
    if (!has) {
        bytebuf_appends(o->b, "null");
        return;
    }
    agg_put_double(o->b, v);
    if (docfield_is_date(&s->base.node->field)) {
        bytebuf_printf(o->b, ",\"%s_as_string\":", name);
        agg_put_date(o->b, &iso, (int64_t)v * 1000, 0);
    }
}

static void min_render(const agg_coll_t *c, agg_out_t *o)
{
    const stats_coll_t *s = (const stats_coll_t *)c;
    put_metric(s, o, "value", s->min, s->count > 0);
}

static void max_render(const agg_coll_t *c, agg_out_t *o)
{
    const stats_coll_t *s = (const stats_coll_t *)c;
    put_metric(s, o, "value", s->max, s->count > 0);
}

static void avg_render(const agg_coll_t *c, agg_out_t *o)
{
    const stats_coll_t *s = (const stats_coll_t *)c;
    put_metric(s, o, "value", s->count ? s->sum / (double)s->count : 0, s->count > 0);
}

static void sum_render(const agg_coll_t *c, agg_out_t *o)
{
    const stats_coll_t *s = (const stats_coll_t *)c;
    if (s->count)
        put_metric(s, o, "value", s->sum, true);
    else
        bytebuf_appends(o->b, "\"value\":0.0");
}

static void count_render(const agg_coll_t *c, agg_out_t *o)
{
    bytebuf_printf(o->b, "\"value\":%llu", (unsigned long long)((const stats_coll_t *)c)->count);
}

static void stats_render(const agg_coll_t *c, agg_out_t *o)
{
    const stats_coll_t *s = (const stats_coll_t *)c;
    bytebuf_printf(o->b, "\"count\":%llu,", (unsigned long long)s->count);
    put_metric(s, o, "min", s->min, s->count > 0);
    bytebuf_appends(o->b, ",");
    put_metric(s, o, "max", s->max, s->count > 0);
    bytebuf_appends(o->b, ",");
    put_metric(s, o, "avg", s->count ? s->sum / (double)s->count : 0, s->count > 0);
    bytebuf_appends(o->b, ",");
    if (s->count)
        put_metric(s, o, "sum", s->sum, true);
    else
        bytebuf_appends(o->b, "\"sum\":0.0");
}

#define NUMERIC_KIND(kname, compile_fn, add_fn, render_fn)                                        \
    {                                                                                             \
        .name = kname, .opts = field_only, .compile = compile_fn,                                 \
        .coll_size = sizeof(stats_coll_t), .coll_init = stats_init, .add = add_fn,                \
        .render = render_fn,                                                                      \
    }

const agg_kind_t agg_kind_min = NUMERIC_KIND("min", numeric_compile, stats_add, min_render);
const agg_kind_t agg_kind_max = NUMERIC_KIND("max", numeric_compile, stats_add, max_render);
const agg_kind_t agg_kind_avg = NUMERIC_KIND("avg", numeric_compile, stats_add, avg_render);
const agg_kind_t agg_kind_sum = NUMERIC_KIND("sum", numeric_compile, stats_add, sum_render);
const agg_kind_t agg_kind_stats = NUMERIC_KIND("stats", numeric_compile, stats_add, stats_render);
const agg_kind_t agg_kind_value_count = NUMERIC_KIND("value_count", any_compile, count_add, count_render);

/* ======================================================================================
 * top_hits
 * ====================================================================================== */

typedef struct {
    int64_t size, from;
    bool sorted, desc;
    srcfilter_t src;           /* owned arrays; patterns borrowed from the request */
} top_opt_t;

typedef struct {
    int64_t pub;
    char *mem;                 /* owned: feed, id, json one after the other */
    size_t cap;
    size_t feed_len, id_len, json_len;
} top_hit_t;

typedef struct {
    agg_coll_t base;
    uint64_t total;
    top_hit_t *h;              /* owned: from + size slots, n in use, best first */
    size_t n;
} top_coll_t;

static const char *const top_opts[] = {"size", "from", "sort", "_source", NULL};

static void top_opt_free(void *p)
{
    top_opt_t *o = p;
    if (o)
        srcfilter_free(&o->src);
    free(o);
}

/* "published" | {"published": "asc"|"desc"} | {"published": {"order": ...}} | [one of those] */
static int top_sort(agg_cc_t *c, json_t *v, top_opt_t *o)
{
    static const char want[] = "must be [published], {\"published\": \"asc\"|\"desc\"} or "
                               "{\"published\": {\"order\": \"asc\"|\"desc\"}}";
    if (json_is_array(v) && json_array_size(v) == 1)
        v = json_array_get(v, 0);
    const char *field = json_is_string(v) ? json_string_value(v) : NULL;
    json_t *dir = NULL;
    if (json_is_object(v) && json_object_size(v) == 1) {
        field = json_object_iter_key(json_object_iter(v));
        dir = json_object_iter_value(json_object_iter(v));
    }
    if (!field)
        return agg_fail_opt(c, "sort", "%s", want);
    if (strcmp(field, "published") != 0)
        return agg_fail_opt(c, "sort", "on [%s] is not supported; only [published]", field);
    if (json_is_object(dir) && json_object_size(dir) == 1)
        dir = json_object_get(dir, "order");
    const char *d = dir ? (json_is_string(dir) ? json_string_value(dir) : "") : "asc";
    if (strcmp(d, "asc") && strcmp(d, "desc"))
        return agg_fail_opt(c, "sort", "%s", want);
    o->sorted = true;
    o->desc = d[0] == 'd';
    return 0;
}

static int top_compile(agg_cc_t *c, agg_node_t *n, json_t *const *v)
{
    char why[512];
    top_opt_t *o = agg_opt_new(c, n, sizeof *o);
    if (!o)
        return AGG_ERR_NOMEM;
    o->size = 3;
    if ((v[0] && agg_opt_int(c, "size", v[0], 0, &o->size) < 0) ||
        (v[1] && agg_opt_int(c, "from", v[1], 0, &o->from) < 0) || (v[2] && top_sort(c, v[2], o) < 0))
        return AGG_ERR_INVALID;
    if (v[3] && srcfilter_parse(&o->src, v[3], why, sizeof why) < 0)
        return agg_fail(c, "%s", why);
    if (o->from + o->size > MAX_TOP_WINDOW)
        return agg_fail(c, "top_hits window too large: from + size must be at most [%d], found [%lld]",
                        MAX_TOP_WINDOW, (long long)(o->from + o->size));
    return 0;
}

static size_t top_cap(const top_coll_t *t)
{
    const top_opt_t *o = t->base.node->opt;
    return (size_t)(o->from + o->size);
}

/* from + size slots and the spare one. */
static int top_init(agg_coll_t *c)
{
    top_coll_t *t = (top_coll_t *)c;
    return (t->h = calloc(top_cap(t) + 1, sizeof *t->h)) ? 0 : AGG_ERR_NOMEM;
}

static void top_fini(agg_coll_t *c)
{
    top_coll_t *t = (top_coll_t *)c;
    for (size_t i = 0; t->h && i <= top_cap(t); i++)
        free(t->h[i].mem);
    free(t->h);
}

/* Does record r come before kept hit h in the order? (published millisecond, id, feed): the
 * order of _search, whose sort values are milliseconds. */
static bool ranks_before(const top_opt_t *o, const store_rec_t *r, const top_hit_t *h)
{
    int64_t rm = srcfilter_ms(r->published_us), hm = srcfilter_ms(h->pub);
    int c = (rm > hm) - (rm < hm);
    if (!c)
        c = bytes_cmp(r->id, r->id_len, h->mem + h->feed_len, h->id_len);
    if (!c)
        c = bytes_cmp(r->feed, r->feed_len, h->mem, h->feed_len);
    return o->desc ? c > 0 : c < 0;
}

static int hit_copy(top_hit_t *h, const store_rec_t *r)
{
    size_t need = r->feed_len + r->id_len + r->json_len + 1;
    if (need > h->cap) {
        char *m = realloc(h->mem, need);
        if (!m)
            return AGG_ERR_NOMEM;
        h->mem = m;
        h->cap = need;
    }
    memcpy(h->mem, r->feed, r->feed_len);
    memcpy(h->mem + r->feed_len, r->id, r->id_len);
    memcpy(h->mem + r->feed_len + r->id_len, r->json, r->json_len);
    h->pub = r->published_us;
    h->feed_len = r->feed_len;
    h->id_len = r->id_len;
    h->json_len = r->json_len;
    return 0;
}

static int top_add(agg_coll_t *c, const agg_rec_t *r)
{
    top_coll_t *t = (top_coll_t *)c;
    const top_opt_t *o = c->node->opt;
    const store_rec_t *rec = r->doc->rec;
    size_t cap = top_cap(t), at = t->n;
    t->total++;
    if (cap == 0 || (t->n == cap && !ranks_before(o, rec, &t->h[cap - 1])))
        return 0;
    while (at > 0 && ranks_before(o, rec, &t->h[at - 1]))
        at--;
    /* the spare slot h[cap] (or the dropped last one) takes the record, then moves to `at` */
    top_hit_t spare = t->n == cap ? t->h[cap - 1] : t->h[cap];
    if (hit_copy(&spare, rec) < 0)
        return AGG_ERR_NOMEM;
    size_t last = t->n == cap ? cap - 1 : t->n;
    if (t->n < cap)
        t->h[cap] = (top_hit_t){0};
    memmove(&t->h[at + 1], &t->h[at], (last - at) * sizeof *t->h);
    t->h[at] = spare;
    t->n += t->n < cap;
    return 0;
}

static void top_render(const agg_coll_t *c, agg_out_t *o)
{
    const top_coll_t *t = (const top_coll_t *)c;
    const top_opt_t *opt = c->node->opt;
    size_t from = (size_t)opt->from;
    bool any = t->n > from;
    bytebuf_printf(o->b, "\"hits\":{\"total\":{\"value\":%llu,\"relation\":\"eq\"},"
                         "\"max_score\":%s,\"hits\":[",
                   (unsigned long long)t->total, any && !opt->sorted ? "1.0" : "null");
    for (size_t i = from; i < t->n; i++) {
        const top_hit_t *h = &t->h[i];
        srcfilter_hit_t sh = {h->mem, h->feed_len, h->mem + h->feed_len, h->id_len,
                              h->mem + h->feed_len + h->id_len, h->json_len, h->pub};
        if (i > from)
            bytebuf_appends(o->b, ",");
        srcfilter_put_hit(o->b, &opt->src, &sh, !opt->sorted);
    }
    bytebuf_appends(o->b, "]}");
}

const agg_kind_t agg_kind_top_hits = {
    .name = "top_hits", .opts = top_opts, .compile = top_compile, .coll_size = sizeof(top_coll_t),
    .coll_init = top_init, .add = top_add, .render = top_render, .coll_fini = top_fini,
    .opt_free = top_opt_free,
};
