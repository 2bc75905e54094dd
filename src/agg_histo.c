/* agg_histo.c -- date_histogram and histogram: values rounded down to the start of their
 * interval, one bucket per start, empty buckets filled in between (min_doc_count 0).
 *
 * Both keep their buckets by an int64 key in a keytab: the bucket's start in microseconds for
 * dates, the interval's ordinal floor((v - offset) / interval) for numbers. Rendering sorts the
 * keys and walks from the first to the last (or the extended bounds), stepping one interval
 * at a time, so the gaps come out as empty buckets.
 *
 * Dates round in local time, UTC + time_zone - offset: minutes, hours, days and fixed
 * intervals are fixed lengths counted from the epoch, weeks start on Monday, months, quarters
 * and years on the first day. The key is the start as a UTC instant in epoch milliseconds and
 * key_as_string shows it in the time zone. Records come in time order, so the last bucket
 * found ([lo, hi) of its start and the next) answers most lookups without rounding or hashing. */
#include "agg_impl.h"
#include "keytab.h"
#include "timefmt.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SEC)
#define MONDAY_US (-3 * US_PER_DAY)       /* 1969-12-29, a Monday: weeks start there */
#define MAX_ORDINAL 4.0e18                 /* numeric bucket ordinals stay well inside int64 */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ======================================================================================
 * Options
 * ====================================================================================== */

typedef struct {
    bool date;                 /* date_histogram (else histogram) */
    /* date_histogram: */
    int months;                /* 1, 3, 12: calendar months; 0: a fixed length */
    int64_t len_us;            /* the fixed length */
    int64_t origin_us;         /* a fixed-length bucket starts here, in local time */
    int64_t shift_us;          /* local time = UTC + shift_us (time_zone - offset) */
    int32_t zone_s;            /* time_zone, for key_as_string */
    datepat_t fmt;
    /* histogram: */
    double interval, offset;
    /* both: */
    int64_t min_doc_count;
    bool keyed, bounded;
    int64_t bound_lo, bound_hi;   /* extended_bounds as keys */
} histo_opt_t;

static const char *const date_histo_opts[] = {"field", "calendar_interval", "fixed_interval",
                                              "time_zone", "offset", "min_doc_count",
                                              "extended_bounds", "format", "keyed", NULL};
static const char *const histo_opts[] = {"field", "interval", "offset", "min_doc_count",
                                         "extended_bounds", "keyed", NULL};

static const struct { const char *name, *abbr; int months; int64_t len_us; } calendar_units[] = {
    {"second", "1s", 0, US_PER_SEC},        {"minute", "1m", 0, 60 * US_PER_SEC},
    {"hour", "1h", 0, 3600 * US_PER_SEC},   {"day", "1d", 0, US_PER_DAY},
    {"week", "1w", 0, 7 * US_PER_DAY},      {"month", "1M", 1, 0},
    {"quarter", "1q", 3, 0},                {"year", "1y", 12, 0},
};

static int calendar_compile(agg_cc_t *c, json_t *v, histo_opt_t *o)
{
    const char *s = NULL;
    if (agg_opt_string(c, "calendar_interval", v, &s) < 0)
        return AGG_ERR_INVALID;
    for (size_t i = 0; i < sizeof calendar_units / sizeof calendar_units[0]; i++) {
        if (strcmp(s, calendar_units[i].name) && strcmp(s, calendar_units[i].abbr))
            continue;
        o->months = calendar_units[i].months;
        o->len_us = calendar_units[i].len_us;
        o->origin_us = o->len_us == 7 * US_PER_DAY ? MONDAY_US : 0;
        return 0;
    }
    return agg_fail_opt(c, "calendar_interval", "must be one calendar unit (second 1s, minute 1m, "
                        "hour 1h, day 1d, week 1w, month 1M, quarter 1q, year 1y), found [%s]", s);
}

/* A time value "90m", "-6h", "+1d" (units ms s m h d) into microseconds. */
static bool time_value(const char *s, bool sign_ok, int64_t *out)
{
    static const struct { const char *unit; int64_t us; } units[] = {
        {"ms", 1000}, {"s", US_PER_SEC}, {"m", 60 * US_PER_SEC}, {"h", 3600 * US_PER_SEC}, {"d", US_PER_DAY},
    };
    int neg = sign_ok && *s == '-';
    if (sign_ok && (*s == '-' || *s == '+'))
        s++;
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    long long n = strtoll(s, &end, 10);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) != 0)
            continue;
        if (n > INT64_MAX / units[i].us / 2)
            return false;
        *out = (neg ? -n : n) * units[i].us;
        return true;
    }
    return false;
}

static int fixed_compile(agg_cc_t *c, json_t *v, histo_opt_t *o)
{
    const char *s = NULL;
    if (agg_opt_string(c, "fixed_interval", v, &s) < 0)
        return AGG_ERR_INVALID;
    if (!time_value(s, false, &o->len_us) || o->len_us <= 0)
        return agg_fail_opt(c, "fixed_interval", "must be a positive whole number of ms, s, m, h "
                            "or d (like 30s, 90m, 2h, 1d), found [%s]", s);
    return 0;
}

static int interval_compile(agg_cc_t *c, json_t *cal, json_t *fixed, histo_opt_t *o)
{
    if (cal && fixed)
        return agg_fail(c, "aggregation [date_histogram] takes [calendar_interval] or "
                           "[fixed_interval], not both");
    if (!cal && !fixed)
        return agg_fail(c, "aggregation [date_histogram] requires [calendar_interval] or [fixed_interval]");
    return cal ? calendar_compile(c, cal, o) : fixed_compile(c, fixed, o);
}

static int zone_compile(agg_cc_t *c, json_t *v, histo_opt_t *o)
{
    const char *s = NULL;
    if (agg_opt_string(c, "time_zone", v, &s) < 0)
        return AGG_ERR_INVALID;
    if (datepat_parse_zone(s, &o->zone_s) < 0)
        return agg_fail_opt(c, "time_zone", "must be a UTC offset like \"+01:00\" or \"UTC\" (zones "
                            "with daylight-saving rules are not supported), found [%s]", s);
    return 0;
}

static int date_offset_compile(agg_cc_t *c, json_t *v, int64_t *us)
{
    const char *s = NULL;
    if (agg_opt_string(c, "offset", v, &s) < 0)
        return AGG_ERR_INVALID;
    if (!time_value(s, true, us))
        return agg_fail_opt(c, "offset", "must be a time value like \"+6h\" or \"-30m\", found [%s]", s);
    return 0;
}

static int64_t date_floor(const histo_opt_t *o, int64_t us);
static int64_t num_ordinal(const histo_opt_t *o, double v);

/* extended_bounds {min, max}: dates or numbers, made keys. */
static int bounds_compile(agg_cc_t *c, json_t *v, histo_opt_t *o)
{
    json_t *lo = json_object_get(v, "min"), *hi = json_object_get(v, "max");
    if (!json_is_object(v) || !lo || !hi || json_object_size(v) != 2)
        return agg_fail_opt(c, "extended_bounds", "must be an object {\"min\": ..., \"max\": ...}");
    if (o->date) {
        int64_t a, b;
        if (agg_opt_date(c, "extended_bounds.min", lo, o->zone_s, &a) < 0 ||
            agg_opt_date(c, "extended_bounds.max", hi, o->zone_s, &b) < 0)
            return AGG_ERR_INVALID;
        if (a > b)
            return agg_fail_opt(c, "extended_bounds", "min [%lld] is greater than max [%lld]",
                                (long long)agg_ms(a), (long long)agg_ms(b));
        o->bound_lo = date_floor(o, a);
        o->bound_hi = date_floor(o, b);
    } else {
        double a, b;
        if (agg_opt_number(c, "extended_bounds.min", lo, &a) < 0 ||
            agg_opt_number(c, "extended_bounds.max", hi, &b) < 0)
            return AGG_ERR_INVALID;
        if (a > b)
            return agg_fail_opt(c, "extended_bounds", "min [%g] is greater than max [%g]", a, b);
        o->bound_lo = num_ordinal(o, a);
        o->bound_hi = num_ordinal(o, b);
    }
    o->bounded = true;
    return 0;
}

static int date_histo_compile(agg_cc_t *c, agg_node_t *n, json_t *const *v)
{
    histo_opt_t *o = agg_opt_new(c, n, sizeof *o);
    int64_t offset = 0;
    if (!o)
        return AGG_ERR_NOMEM;
    o->date = true;
    if (agg_opt_field(c, n, v[0], AGG_FIELD_DATE) < 0 || interval_compile(c, v[1], v[2], o) < 0 ||
        (v[3] && zone_compile(c, v[3], o) < 0) || (v[4] && date_offset_compile(c, v[4], &offset) < 0) ||
        (v[5] && agg_opt_int(c, "min_doc_count", v[5], 0, &o->min_doc_count) < 0) ||
        (v[7] && agg_opt_datepat(c, v[7], &o->fmt) < 0) ||
        (v[8] && agg_opt_bool(c, "keyed", v[8], &o->keyed) < 0))
        return AGG_ERR_INVALID;
    o->shift_us = (int64_t)o->zone_s * US_PER_SEC - offset;
    return v[6] ? bounds_compile(c, v[6], o) : 0;
}

static int histo_compile(agg_cc_t *c, agg_node_t *n, json_t *const *v)
{
    histo_opt_t *o = agg_opt_new(c, n, sizeof *o);
    if (!o)
        return AGG_ERR_NOMEM;
    if (agg_opt_field(c, n, v[0], AGG_FIELD_NUMERIC) < 0)
        return AGG_ERR_INVALID;
    if (!v[1])
        return agg_fail(c, "aggregation [histogram] requires [interval]");
    if (agg_opt_number(c, "interval", v[1], &o->interval) < 0 ||
        (v[2] && agg_opt_number(c, "offset", v[2], &o->offset) < 0) ||
        (v[3] && agg_opt_int(c, "min_doc_count", v[3], 0, &o->min_doc_count) < 0) ||
        (v[5] && agg_opt_bool(c, "keyed", v[5], &o->keyed) < 0))
        return AGG_ERR_INVALID;
    if (!(o->interval > 0))
        return agg_fail_opt(c, "interval", "must be greater than 0, found [%g]", o->interval);
    return v[4] ? bounds_compile(c, v[4], o) : 0;
}

/* ======================================================================================
 * Rounding
 * ====================================================================================== */

/* Local microseconds of the start of the calendar-month bucket holding local time t. */
static int64_t month_floor(int months, int64_t t)
{
    int64_t y;
    unsigned m, d;
    timefmt_civil_from_days(floor_div(t, US_PER_DAY), &y, &m, &d);
    int64_t idx = floor_div(y * 12 + (m - 1), months) * months, year = floor_div(idx, 12);
    return timefmt_days_from_civil(year, (unsigned)(idx - year * 12) + 1, 1) * US_PER_DAY;
}

/* The start of the bucket holding `us` (UTC instants both). */
static int64_t date_floor(const histo_opt_t *o, int64_t us)
{
    int64_t t = us + o->shift_us;
    if (o->months)
        return month_floor(o->months, t) - o->shift_us;
    return floor_div(t - o->origin_us, o->len_us) * o->len_us + o->origin_us - o->shift_us;
}

/* The start of the bucket after the one starting at `start`. */
static int64_t date_next(const histo_opt_t *o, int64_t start)
{
    if (!o->months)
        return start + o->len_us;
    int64_t t = start + o->shift_us;
    return month_floor(o->months, t + 32 * US_PER_DAY * o->months) - o->shift_us;
}

static int64_t num_ordinal(const histo_opt_t *o, double v)
{
    double k = floor((v - o->offset) / o->interval);
    return (int64_t)(k > MAX_ORDINAL ? MAX_ORDINAL : k < -MAX_ORDINAL ? -MAX_ORDINAL : k);
}

/* ======================================================================================
 * Collecting
 * ====================================================================================== */

typedef struct {
    agg_coll_t base;
    agg_keyed_t k;             /* int64 keys (8 bytes, tag 'k') */
    bool cached;               /* dates: the last bucket found, */
    int64_t lo, hi;            /* covering [lo, hi) */
    uint32_t idx;
} histo_coll_t;

static void histo_fini(agg_coll_t *c)
{
    agg_keyed_free(c->node, &((histo_coll_t *)c)->k);
}

static int64_t key_at(const histo_coll_t *h, uint32_t idx)
{
    size_t n;
    int64_t k;
    memcpy(&k, keytab_key(&h->k.keys, idx, &n), sizeof k);
    return k;
}

/* The bucket of key k, made if new. */
static int bucket_of(histo_coll_t *h, int64_t k, uint32_t *idx)
{
    return agg_keyed_find(&h->k, 'k', &k, sizeof k, idx);
}

static int date_value(histo_coll_t *h, int64_t us, const agg_rec_t *r)
{
    const histo_opt_t *o = h->base.node->opt;
    if (!h->cached || us < h->lo || us >= h->hi) {
        int64_t start = date_floor(o, us);
        if (bucket_of(h, start, &h->idx) < 0)
            return AGG_ERR_NOMEM;
        h->cached = true;
        h->lo = start;
        h->hi = date_next(o, start);
    }
    return agg_bucket_hit(h->base.node, &h->k.b[h->idx], r);
}

static int num_value(histo_coll_t *h, double v, const agg_rec_t *r)
{
    uint32_t idx;
    if (bucket_of(h, num_ordinal(h->base.node->opt, v), &idx) < 0)
        return AGG_ERR_NOMEM;
    return agg_bucket_hit(h->base.node, &h->k.b[idx], r);
}

typedef struct {
    histo_coll_t *h;
    const agg_rec_t *r;
    int rc;
} histo_add_t;

static bool histo_value(docfield_doc_t *d, const docfield_val_t *v, void *ud)
{
    histo_add_t *x = ud;
    const histo_opt_t *o = x->h->base.node->opt;
    int64_t us;
    docfield_num_t num;
    if (o->date && v->type == DOCFIELD_V_DATE)
        x->rc = date_value(x->h, v->us, x->r);
    else if (o->date && v->type == DOCFIELD_V_STR && docfield_str_date(&x->h->base.node->field, &v->s, &us))
        x->rc = date_value(x->h, us, x->r);
    else if (!o->date && v->type == DOCFIELD_V_NUM && docfield_num_parse(v->s.p, v->s.n, &num))
        x->rc = num_value(x->h, num.d, x->r);
    return x->rc < 0;
}

static int histo_add(agg_coll_t *c, const agg_rec_t *r)
{
    histo_add_t x = {(histo_coll_t *)c, r, 0};
    docfield_each(&c->node->field, r->doc, histo_value, &x);
    return x.rc;
}

/* ======================================================================================
 * Rendering
 * ====================================================================================== */

static int key_cmp(const void *a, const void *b, void *ud)
{
    const histo_coll_t *h = ud;
    int64_t x = key_at(h, *(const uint32_t *)a), y = key_at(h, *(const uint32_t *)b);
    return (x > y) - (x < y);
}

static int64_t key_next(const histo_opt_t *o, int64_t k)
{
    return o->date ? date_next(o, k) : k + 1;
}

/* The key members of a bucket (and, keyed, the name it goes under first). */
static void put_key(const histo_opt_t *o, int64_t k, agg_out_t *out)
{
    bytebuf_t *b = out->b;
    if (o->date) {
        char s[DATEPAT_OUT_MAX];
        size_t n = datepat_format(&o->fmt, k, o->zone_s, s);
        if (o->keyed) {
            bytebuf_append_json_str(b, s, n);
            bytebuf_appends(b, ":");
        }
        bytebuf_appends(b, "{\"key_as_string\":");
        bytebuf_append_json_str(b, s, n);
        bytebuf_printf(b, ",\"key\":%lld,", (long long)agg_ms(k));
        return;
    }
    char s[AGG_DOUBLE_MAX];
    size_t n = agg_fmt_double(s, sizeof s, (double)k * o->interval + o->offset);
    if (o->keyed) {
        bytebuf_append_json_str(b, s, n);
        bytebuf_appends(b, ":");
    }
    bytebuf_appends(b, "{\"key\":");
    bytebuf_append(b, s, n);
    bytebuf_appends(b, ",");
}

static void put_bucket(const histo_coll_t *h, int64_t k, const agg_bucket_t *bk, bool first, agg_out_t *o)
{
    static const agg_bucket_t empty = {0};
    if (!agg_out_bucket(o))
        return;
    if (!first)
        bytebuf_appends(o->b, ",");
    put_key(h->base.node->opt, k, o);
    agg_bucket_body(h->base.node, bk ? bk : &empty, o);
    bytebuf_appends(o->b, "}");
}

/* Every key from lo to hi, the buckets in `sorted` at theirs, empty ones between. */
static void put_filled(const histo_coll_t *h, const uint32_t *sorted, uint32_t n, int64_t lo, int64_t hi,
                       agg_out_t *o)
{
    const histo_opt_t *opt = h->base.node->opt;
    uint32_t i = 0;
    for (int64_t k = lo; k <= hi && !o->too_many; k = key_next(opt, k)) {
        const agg_bucket_t *bk = i < n && key_at(h, sorted[i]) == k ? &h->k.b[sorted[i++]] : NULL;
        put_bucket(h, k, bk, k == lo, o);
    }
}

static void put_counted(const histo_coll_t *h, const uint32_t *sorted, uint32_t n, agg_out_t *o)
{
    const histo_opt_t *opt = h->base.node->opt;
    bool first = true;
    for (uint32_t i = 0; i < n && !o->too_many; i++) {
        if (h->k.b[sorted[i]].count < (uint64_t)opt->min_doc_count)
            continue;
        put_bucket(h, key_at(h, sorted[i]), &h->k.b[sorted[i]], first, o);
        first = false;
    }
}

static void histo_render(const agg_coll_t *c, agg_out_t *o)
{
    const histo_coll_t *h = (const histo_coll_t *)c;
    const histo_opt_t *opt = c->node->opt;
    uint32_t n = keytab_count(&h->k.keys), *sorted = malloc(((size_t)n + 1) * sizeof *sorted);
    if (!sorted) {
        o->b->failed = 1;
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        sorted[i] = i;
    qsort_r(sorted, n, sizeof *sorted, key_cmp, (void *)h);
    bytebuf_appends(o->b, opt->keyed ? "\"buckets\":{" : "\"buckets\":[");
    if (opt->min_doc_count > 0) {
        put_counted(h, sorted, n, o);
    } else if (n || opt->bounded) {
        int64_t lo = n ? key_at(h, sorted[0]) : opt->bound_lo;
        int64_t hi = n ? key_at(h, sorted[n - 1]) : opt->bound_hi;
        if (opt->bounded) {
            lo = opt->bound_lo < lo ? opt->bound_lo : lo;
            hi = opt->bound_hi > hi ? opt->bound_hi : hi;
        }
        put_filled(h, sorted, n, lo, hi, o);
    }
    bytebuf_appends(o->b, opt->keyed ? "}" : "]");
    free(sorted);
}

const agg_kind_t agg_kind_date_histogram = {
    .name = "date_histogram", .takes_subs = true, .opts = date_histo_opts, .compile = date_histo_compile,
    .coll_size = sizeof(histo_coll_t), .add = histo_add, .render = histo_render, .coll_fini = histo_fini,
};

const agg_kind_t agg_kind_histogram = {
    .name = "histogram", .takes_subs = true, .opts = histo_opts, .compile = histo_compile,
    .coll_size = sizeof(histo_coll_t), .add = histo_add, .render = histo_render, .coll_fini = histo_fini,
};
