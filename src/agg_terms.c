/* agg_terms.c -- terms and cardinality: every value of a field as a key (see agg.c's top
 * comment for how values become keys).
 *
 * A key is a keytab key whose tag says what the value was: 's' string (its bytes), 'i' integer
 * and 't' date (epoch milliseconds) as 8 bytes of int64, 'd' non-integral number as 8 bytes of
 * double, 'b' boolean (one byte 0/1). A number with an integral value that a double holds
 * exactly is an integer key, so 5 and 5.0 meet. Keys order numbers (of any tag but 's') by
 * value before strings, strings by bytes. */
#include "agg_impl.h"
#include "keytab.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EXACT_DOUBLE_INT 9007199254740992.0   /* 2^53 */
#define MAX_ORDER 4

enum { KEY_STR = 's', KEY_INT = 'i', KEY_DBL = 'd', KEY_BOOL = 'b', KEY_DATE = 't' };

/* A value as a key. p points at the value's bytes (borrowed) or at buf. */
typedef struct {
    uint8_t tag;
    const void *p;
    size_t n;
    unsigned char buf[8];
} vkey_t;

static void key_int(vkey_t *k, uint8_t tag, int64_t v)
{
    k->tag = tag;
    memcpy(k->buf, &v, 8);
    k->p = k->buf;
    k->n = 8;
}

static void key_number(vkey_t *k, double d, bool is_int, int64_t i)
{
    if (!is_int && d > -EXACT_DOUBLE_INT && d < EXACT_DOUBLE_INT && d == (double)(int64_t)d) {
        is_int = true;
        i = (int64_t)d;
    }
    if (is_int) {
        key_int(k, KEY_INT, i);
        return;
    }
    k->tag = KEY_DBL;
    memcpy(k->buf, &d, 8);
    k->p = k->buf;
    k->n = 8;
}

/* The key of value v; false for values that are no key (null, objects, unreadable numbers). */
static bool value_key(const docfield_val_t *v, vkey_t *k)
{
    docfield_num_t num;
    switch (v->type) {
    case DOCFIELD_V_STR:
        *k = (vkey_t){.tag = KEY_STR, .p = v->s.p, .n = v->s.n};
        return true;
    case DOCFIELD_V_NUM:
        if (!docfield_num_parse(v->s.p, v->s.n, &num))
            return false;
        key_number(k, num.d, num.is_int, num.i);
        return true;
    case DOCFIELD_V_BOOL:
        *k = (vkey_t){.tag = KEY_BOOL, .n = 1};
        k->buf[0] = v->b;
        k->p = k->buf;
        return true;
    case DOCFIELD_V_DATE:
        key_int(k, KEY_DATE, agg_ms(v->us));
        return true;
    default:
        return false;
    }
}

/* ---- reading keys back ---- */

static int64_t key_i64(const keytab_t *t, uint32_t idx)
{
    size_t n;
    const char *p = keytab_key(t, idx, &n);
    int64_t v = 0;
    if (keytab_tag(t, idx) == KEY_BOOL)
        return p[0];
    memcpy(&v, p, sizeof v);
    return v;
}

static double key_dbl(const keytab_t *t, uint32_t idx)
{
    if (keytab_tag(t, idx) != KEY_DBL)
        return (double)key_i64(t, idx);
    size_t n;
    double d;
    memcpy(&d, keytab_key(t, idx, &n), sizeof d);
    return d;
}

static int key_cmp(const keytab_t *t, uint32_t a, uint32_t b)
{
    uint8_t ta = keytab_tag(t, a), tb = keytab_tag(t, b);
    if ((ta == KEY_STR) != (tb == KEY_STR))
        return ta == KEY_STR ? 1 : -1;
    if (ta == KEY_STR) {
        size_t an, bn;
        const char *ap = keytab_key(t, a, &an), *bp = keytab_key(t, b, &bn);
        int r = memcmp(ap, bp, an < bn ? an : bn);
        return r ? (r < 0 ? -1 : 1) : (an > bn) - (an < bn);
    }
    if (ta != KEY_DBL && tb != KEY_DBL) {
        int64_t x = key_i64(t, a), y = key_i64(t, b);
        return (x > y) - (x < y);
    }
    double x = key_dbl(t, a), y = key_dbl(t, b);
    return (x > y) - (x < y);
}

/* "key":... (and "key_as_string" for booleans and dates). */
static void put_key(bytebuf_t *b, const keytab_t *t, uint32_t idx)
{
    static const datepat_t iso = {0};
    size_t n;
    const char *p = keytab_key(t, idx, &n);
    switch (keytab_tag(t, idx)) {
    case KEY_STR:
        bytebuf_appends(b, "\"key\":");
        bytebuf_append_json_str(b, p, n);
        break;
    case KEY_DBL:
        bytebuf_appends(b, "\"key\":");
        agg_put_double(b, key_dbl(t, idx));
        break;
    case KEY_BOOL:
        bytebuf_appends(b, p[0] ? "\"key\":1,\"key_as_string\":\"true\""
                                : "\"key\":0,\"key_as_string\":\"false\"");
        break;
    case KEY_DATE:
        bytebuf_printf(b, "\"key\":%lld,\"key_as_string\":", (long long)key_i64(t, idx));
        agg_put_date(b, &iso, key_i64(t, idx) * 1000, 0);
        break;
    default:
        bytebuf_printf(b, "\"key\":%lld", (long long)key_i64(t, idx));
        break;
    }
}

/* ======================================================================================
 * terms
 * ====================================================================================== */

enum { BY_COUNT, BY_KEY };

typedef struct {
    int by;
    bool desc;
} order_t;

typedef struct {
    int64_t size, min_doc_count;
    order_t order[MAX_ORDER];
    size_t norder;
    bool has_missing;
    vkey_t missing;        /* bytes borrowed from the request */
} terms_opt_t;

typedef struct {
    agg_coll_t base;
    agg_keyed_t k;         /* a bucket per key */
} terms_coll_t;

static const char *const terms_opts[] = {"field", "size", "order", "min_doc_count", "missing",
                                         "shard_size", NULL};

static int order_one(agg_cc_t *c, json_t *v, order_t *o)
{
    if (!json_is_object(v) || json_object_size(v) != 1)
        return agg_fail_opt(c, "order", "must be {\"_count\"|\"_key\": \"asc\"|\"desc\"} or a list of them");
    const char *by = json_object_iter_key(json_object_iter(v));
    json_t *dir = json_object_iter_value(json_object_iter(v));
    if (strcmp(by, "_count") && strcmp(by, "_key"))
        return agg_fail_opt(c, "order", "by [%s] is not supported; order by [_count] or [_key]", by);
    const char *d = json_is_string(dir) ? json_string_value(dir) : "";
    if (strcasecmp(d, "asc") && strcasecmp(d, "desc"))
        return agg_fail_opt(c, "order", "direction must be [asc] or [desc]");
    *o = (order_t){by[1] == 'c' ? BY_COUNT : BY_KEY, strcasecmp(d, "desc") == 0};
    return 0;
}

static int order_compile(agg_cc_t *c, json_t *v, terms_opt_t *o)
{
    o->norder = 0;
    if (!json_is_array(v)) {
        o->norder = 1;
        return order_one(c, v, &o->order[0]);
    }
    if (json_array_size(v) == 0 || json_array_size(v) > MAX_ORDER)
        return agg_fail_opt(c, "order", "must list 1 to %d criteria", MAX_ORDER);
    for (size_t i = 0; i < json_array_size(v); i++)
        if (order_one(c, json_array_get(v, i), &o->order[o->norder++]) < 0)
            return AGG_ERR_INVALID;
    return 0;
}

static int missing_compile(agg_cc_t *c, json_t *v, terms_opt_t *o)
{
    char q[AGG_QUOTE_MAX];
    vkey_t *k = &o->missing;
    o->has_missing = true;
    if (json_is_string(v))
        *k = (vkey_t){.tag = KEY_STR, .p = json_string_value(v), .n = json_string_length(v)};
    else if (json_is_integer(v))
        key_int(k, KEY_INT, json_integer_value(v));
    else if (json_is_real(v))
        key_number(k, json_real_value(v), false, 0);
    else if (json_is_boolean(v))
        *k = (vkey_t){.tag = KEY_BOOL, .p = json_is_true(v) ? "\1" : "\0", .n = 1};
    else
        return agg_fail_opt(c, "missing", "must be a string, number or boolean, found %s", agg_quote(v, q));
    return 0;
}

static int terms_compile(agg_cc_t *c, agg_node_t *n, json_t *const *v)
{
    terms_opt_t *o = agg_opt_new(c, n, sizeof *o);
    int64_t shard_size;
    if (!o)
        return AGG_ERR_NOMEM;
    *o = (terms_opt_t){.size = 10, .min_doc_count = 1, .order = {{BY_COUNT, true}}, .norder = 1};
    if (agg_opt_field(c, n, v[0], AGG_FIELD_ANY) < 0 ||
        (v[1] && agg_opt_int(c, "size", v[1], 1, &o->size) < 0) ||
        (v[2] && order_compile(c, v[2], o) < 0) ||
        (v[3] && agg_opt_int(c, "min_doc_count", v[3], 0, &o->min_doc_count) < 0) ||
        (v[4] && missing_compile(c, v[4], o) < 0) ||
        (v[5] && agg_opt_int(c, "shard_size", v[5], 1, &shard_size) < 0))
        return AGG_ERR_INVALID;
    return 0;
}

static void terms_fini(agg_coll_t *c)
{
    agg_keyed_free(c->node, &((terms_coll_t *)c)->k);
}

/* Count the record under key k. */
static int terms_count(terms_coll_t *t, const vkey_t *k, const agg_rec_t *r)
{
    uint32_t idx;
    if (agg_keyed_find(&t->k, k->tag, k->p, k->n, &idx) < 0)
        return AGG_ERR_NOMEM;
    return agg_bucket_hit(t->base.node, &t->k.b[idx], r);
}

typedef struct {
    terms_coll_t *t;
    const agg_rec_t *r;
    bool seen;             /* the record has a value */
    int rc;
} terms_add_t;

static bool terms_value(docfield_doc_t *d, const docfield_val_t *v, void *ud)
{
    terms_add_t *x = ud;
    vkey_t k;
    if (!value_key(v, &k))
        return false;
    x->seen = true;
    x->rc = terms_count(x->t, &k, x->r);
    return x->rc < 0;
}

static int terms_add(agg_coll_t *c, const agg_rec_t *r)
{
    terms_coll_t *t = (terms_coll_t *)c;
    const terms_opt_t *o = c->node->opt;
    terms_add_t x = {t, r, false, 0};
    docfield_each(&c->node->field, r->doc, terms_value, &x);
    if (x.rc == 0 && !x.seen && o->has_missing)
        x.rc = terms_count(t, &o->missing, r);
    return x.rc;
}

/* Bucket order: the criteria, then key ascending. */
static int terms_cmp(const void *a, const void *b, void *ud)
{
    const terms_coll_t *t = ud;
    const terms_opt_t *o = t->base.node->opt;
    const agg_bucket_t *bk = t->k.b;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    for (size_t i = 0; i < o->norder; i++) {
        int r = o->order[i].by == BY_KEY ? key_cmp(&t->k.keys, x, y)
                                         : (bk[x].count > bk[y].count) - (bk[x].count < bk[y].count);
        if (r)
            return o->order[i].desc ? -r : r;
    }
    return key_cmp(&t->k.keys, x, y);
}

static void terms_render(const agg_coll_t *c, agg_out_t *o)
{
    const terms_coll_t *t = (const terms_coll_t *)c;
    const terms_opt_t *opt = c->node->opt;
    const agg_bucket_t *bk = t->k.b;
    uint32_t n = 0, *order = malloc(((size_t)keytab_count(&t->k.keys) + 1) * sizeof *order);
    uint64_t other = 0;
    if (!order) {
        o->b->failed = 1;
        return;
    }
    for (uint32_t i = 0; i < keytab_count(&t->k.keys); i++)
        if (bk[i].count >= (uint64_t)opt->min_doc_count)
            order[n++] = i;
    qsort_r(order, n, sizeof *order, terms_cmp, (void *)t);
    bytebuf_appends(o->b, "\"doc_count_error_upper_bound\":0,");
    for (uint32_t i = (uint32_t)opt->size; i < n; i++)
        other += bk[order[i]].count;
    bytebuf_printf(o->b, "\"sum_other_doc_count\":%llu,\"buckets\":[", (unsigned long long)other);
    for (uint32_t i = 0; i < n && i < (uint64_t)opt->size && agg_out_bucket(o); i++) {
        bytebuf_appends(o->b, i ? ",{" : "{");
        put_key(o->b, &t->k.keys, order[i]);
        bytebuf_appends(o->b, ",");
        agg_bucket_body(c->node, &bk[order[i]], o);
        bytebuf_appends(o->b, "}");
    }
    bytebuf_appends(o->b, "]");
    free(order);
}

const agg_kind_t agg_kind_terms = {
    .name = "terms", .takes_subs = true, .opts = terms_opts, .compile = terms_compile,
    .coll_size = sizeof(terms_coll_t), .add = terms_add, .render = terms_render, .coll_fini = terms_fini,
};

/* ======================================================================================
 * cardinality
 * ====================================================================================== */

typedef struct {
    agg_coll_t base;
    keytab_t keys;
} card_coll_t;

static const char *const card_opts[] = {"field", "precision_threshold", NULL};

static int card_compile(agg_cc_t *c, agg_node_t *n, json_t *const *v)
{
    int64_t threshold;
    if (agg_opt_field(c, n, v[0], AGG_FIELD_ANY) < 0 ||
        (v[1] && agg_opt_int(c, "precision_threshold", v[1], 0, &threshold) < 0))
        return AGG_ERR_INVALID;
    return 0;
}

static void card_fini(agg_coll_t *c)
{
    keytab_free(&((card_coll_t *)c)->keys);
}

static bool card_value(docfield_doc_t *d, const docfield_val_t *v, void *ud)
{
    card_coll_t *k = ud;
    vkey_t key;
    uint32_t idx;
    return value_key(v, &key) && keytab_put(&k->keys, key.tag, key.p, key.n, &idx) < 0;
}

static int card_add(agg_coll_t *c, const agg_rec_t *r)
{
    return docfield_each(&c->node->field, r->doc, card_value, c) ? AGG_ERR_NOMEM : 0;
}

static void card_render(const agg_coll_t *c, agg_out_t *o)
{
    const card_coll_t *k = (const card_coll_t *)c;
    bytebuf_printf(o->b, "\"value\":%u", (unsigned)keytab_count(&k->keys));
}

const agg_kind_t agg_kind_cardinality = {
    .name = "cardinality", .opts = card_opts, .compile = card_compile,
    .coll_size = sizeof(card_coll_t), .add = card_add, .render = card_render, .coll_fini = card_fini,
};
