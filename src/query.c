/* query.c -- a subset of the Elasticsearch Query DSL, compiled once, evaluated per activity.
 *
 * query_compile() turns the JSON query into a tree of `struct query` nodes: range bounds and
 * dates are parsed, match texts tokenized and lowercased, minimum_should_match resolved, so
 * query_match() touches no jansson at all. Every key of every clause is checked; anything not
 * understood is an error "<path>: <reason>", the path naming where it sits in the request
 * ("query.bool.must[1].range.published.gt: expected a date or number").
 *
 * Fields. A field is a dotted path into the activity; like Elasticsearch (which maps dotted
 * keys to objects) a key may itself contain dots, so "a.b" finds {"a":{"b":..}} and {"a.b":..};
 * a key may contain ':' ("dit:application"). Arrays anywhere along the path are flattened and
 * the clause matches if any value does. A trailing ".keyword" selects the same values with
 * keyword semantics (string values only, match is exact), as Elasticsearch's dynamic mapping
 * does for strings. Wildcards in field names are not supported (an error). Field names and
 * reading their values are docfield.c's, shared with the aggregations.
 * These fields come from the record's stored columns, never from the JSON:
 *   feed, _index -> rec->feed          type -> rec->types (every type of the activity)
 *   actor, actor.id -> rec->actor      id, _id -> rec->id
 *   published -> rec->published_us (the time the store indexes the activity under: the
 *                activity's `published`, or what ingest used when it was absent)
 *
 * Value types. Elasticsearch converts a query value to the type of the field it is compared
 * with; fields here have no mapping, so the type of each stored value decides, as dynamic
 * mapping would have: a JSON number is numeric, true/false boolean, a string that parses as an
 * RFC 3339 time (date detection) a date as well as a keyword, any other string a keyword, and
 * `published` a date. So term {"n": "5"} matches 5, term {"n": 5} matches "5", a date string
 * matches a date given in another zone or as epoch milliseconds. Strings compare as bytes
 * (UTF-8 code point order, as keyword range does). null, [] and [null] are no value (exists
 * is false), as in Elasticsearch.
 *
 * Dates in a query (datemath.h): RFC 3339 (timefmt), a bare YYYY-MM-DD, epoch milliseconds (or
 * seconds with "format": "epoch_second"), and date math ("now-1d/d", "2024-01-01||+1M"). As
 * Elasticsearch does, a date covers what it leaves unsaid: "2024-01-01" is that whole day,
 * "...T10:00Z" that minute, "now/d" today; gte and lt use its first microsecond, gt and lte its
 * last, and term matches anything inside ("Missing date components" and "Date math and
 * rounding" in the range query reference). "now" is read once, at compile time.
 *
 * match tokenizes both sides on ASCII non-alphanumerics (bytes >= 0x80 are kept inside tokens,
 * so UTF-8 words stay whole) and lowercases ASCII only. Tokens of all values of the field
 * count together, as values of one field do in an index.
 *
 * Scores do not exist here (every hit scores the same), so "boost" is accepted and validated
 * but has no effect, as in a filter context.
 *
 * Reading the activity: clauses on other fields read rec->json at most once per query_match
 * call (or per docfield_doc_t given to query_match_doc), lazily, into a flat token tape
 * (jsontape.h, through docfield.h) -- jansson's tree parse measured
 * 145,000 activities/s here, under the 300,000/s the match benchmark needs. A record whose JSON
 * does not parse (or memory running out for a huge one) is treated as having no JSON fields.
 *
 * Memory: compile returns -1 with "out of memory" on allocation failure. query_match never
 * allocates for activities under JSONTAPE_STACK tokens and never writes to the query, so one
 * compiled query serves any number of threads. */
#include "query.h"
#include "bytebuf.h"
#include "datemath.h"
#include "docfield.h"
#include "errfmt.h"
#include "jsontape.h"
#include "timefmt.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define US_PER_SEC INT64_C(1000000)
#define MAX_FIELD_LEN 1024
#define MAX_MATCH_TOKENS 1024   /* Elasticsearch caps clauses too (max_clause_count) */
#define MAX_TERMS 65536         /* Elasticsearch's index.max_terms_count default */

/* ======================================================================================
 * Small byte-string helpers
 * ====================================================================================== */

typedef struct { const char *p; size_t n; } sv_t;

static int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }

/* Part of a match token: ASCII letters and digits, and every byte of a multi-byte UTF-8
 * sequence. */
static bool is_tok_byte(unsigned char c)
{
    return c >= 0x80 || is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool bytes_eq(const char *a, size_t an, const char *b, size_t bn, bool ci)
{
    if (an != bn)
        return false;
    if (an == 0)
        return true;
    if (!ci)
        return memcmp(a, b, an) == 0;
    for (size_t i = 0; i < an; i++)
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return false;
    return true;
}

static int sv_cmp(const void *a, const void *b)
{
    const sv_t *x = a, *y = b;
    return bytes_cmp(x->p, x->n, y->p, y->n);
}

static bool sv_bsearch(const sv_t *sorted, size_t n, const char *p, size_t len)
{
    sv_t key = {p, len};
    return n && bsearch(&key, sorted, n, sizeof *sorted, sv_cmp) != NULL;
}

/* ======================================================================================
 * Compiled form
 * ====================================================================================== */

enum { Q_ALL, Q_NONE, Q_TERM, Q_TERMS, Q_RANGE, Q_PREFIX, Q_EXISTS, Q_IDS, Q_MATCH, Q_BOOL };

/* A query value, converted up front to every type a stored value may have. */
typedef struct {
    char *s; size_t n;    /* owned: the text (a number's or boolean's JSON text) */
    bool has_num; docfield_num_t num;
    bool has_bool, b;
    bool has_date; datemath_span_t date;
} qval_t;

typedef struct { bool set, incl; qval_t v; } bound_t;

struct query {
    int kind;             /* Q_* */
    docfield_t f;         /* ".keyword": match is exact */
    bool ci;              /* term, prefix: case_insensitive */
    qval_t v;             /* term, prefix; match: the whole query text */
    qval_t *vals;         /* terms, ids: owned array */
    size_t nvals;
    sv_t *sorted;         /* terms, ids: owned array of views into vals[].s, sorted */
    bool any_date;        /* terms: some value is a date */
    bound_t lo, hi;       /* range */
    sv_t *toks;           /* match: owned array of views into tokbuf, lowercase */
    char *tokbuf;         /* owned */
    size_t ntoks;
    size_t need;          /* match: tokens required; bool: should clauses required */
    bool never;           /* bool/match: need cannot be met */
    query_t **kid[4];     /* bool: must, filter, should, must_not (owned arrays of owned) */
    size_t nkid[4];
};

enum { B_MUST, B_FILTER, B_SHOULD, B_NOT };

static void qval_free(qval_t *v) { free(v->s); }

void query_free(query_t *q)
{
    if (!q)
        return;
    docfield_free(&q->f);
    qval_free(&q->v);
    for (size_t i = 0; i < q->nvals; i++)
        qval_free(&q->vals[i]);
    free(q->vals);
    free(q->sorted);
    qval_free(&q->lo.v);
    qval_free(&q->hi.v);
    free(q->toks);
    free(q->tokbuf);
    for (int b = 0; b < 4; b++) {
        for (size_t i = 0; i < q->nkid[b]; i++)
            query_free(q->kid[b][i]);
        free(q->kid[b]);
    }
    free(q);
}

/* ======================================================================================
 * Compiling
 * ====================================================================================== */

typedef struct {
    char *err; size_t errlen;
    char path[512]; size_t plen;   /* where we are in the request, for messages */
    int64_t now_us;
    bool oom;
} cctx_t;

static size_t path_push(cctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(cctx_t *c, const char *fmt, ...)
{
    size_t old = c->plen;
    if (c->plen < sizeof c->path - 1) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(c->path + c->plen, sizeof c->path - c->plen, fmt, ap);
        va_end(ap);
        if (w > 0)
            c->plen += (size_t)w < sizeof c->path - c->plen ? (size_t)w : sizeof c->path - 1 - c->plen;
    }
    return old;
}

static void path_pop(cctx_t *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

static int fail(cctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(cctx_t *c, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        int w = snprintf(c->err, c->errlen, "%s: ", c->path);
        if (w >= 0 && (size_t)w < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + w, c->errlen - (size_t)w, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static int fail_oom(cctx_t *c)
{
    c->oom = true;
    return fail(c, "out of memory");
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static query_t *node_new(cctx_t *c, int kind)
{
    query_t *q = calloc(1, sizeof *q);
    if (!q) {
        fail_oom(c);
        return NULL;
    }
    q->kind = kind;
    return q;
}

/* "boost" is valid wherever Elasticsearch takes it; it must be a number. */
static int check_boost(cctx_t *c, json_t *v)
{
    if (json_is_number(v))
        return 0;
    size_t old = path_push(c, ".boost");
    fail(c, "expected a number, found %s", json_type_name(v));
    path_pop(c, old);
    return -1;
}

static int check_bool(cctx_t *c, const char *key, json_t *v, bool *out)
{
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    size_t old = path_push(c, ".%s", key);
    fail(c, "expected true or false, found %s", json_type_name(v));
    path_pop(c, old);
    return -1;
}

/* ---- fields ---- */

static int field_compile(cctx_t *c, const char *name, docfield_t *f)
{
    char why[128];
    int r = docfield_compile(name, f, why, sizeof why);
    if (r == DOCFIELD_ERR_NOMEM)
        return fail_oom(c);
    return r < 0 ? fail(c, "%s", why) : 0;
}

/* ---- values ---- */

/* Scale (microseconds per unit) for numbers read as dates: epoch_millis unless "format"
 * says epoch_second; 0 when the format admits no epoch numbers. */
typedef struct { int64_t epoch_us; bool strict; } datefmt_t;

static void qval_set_epoch(qval_t *v, datefmt_t fmt)
{
    if (!v->has_num || fmt.epoch_us == 0)
        return;
    double x = v->num.is_int ? (double)v->num.i * (double)fmt.epoch_us : v->num.d * (double)fmt.epoch_us;
    if (!(fabs(x) < 9.0e18))
        return;
    v->has_date = true;
    if (v->num.is_int && v->num.i < INT64_MAX / fmt.epoch_us && v->num.i > INT64_MIN / fmt.epoch_us)
        v->date.lo = v->date.hi = v->num.i * fmt.epoch_us;
    else
        v->date = (datemath_span_t){(int64_t)ceil(x), (int64_t)floor(x)};  /* empty: not integral */
}

/* Fill *v from a string, number or boolean (callers check the type). Returns 0, or -1 with
 * the error written (out of memory; with strict_dates, a string that starts as date math,
 * "now..." or "...||...", but is not valid date math). */
static int qval_from_json(cctx_t *c, json_t *j, datefmt_t fmt, bool strict_dates, qval_t *v)
{
    char tmp[64];
    const char *text;
    size_t n;
    memset(v, 0, sizeof *v);
    if (json_is_string(j)) {
        text = json_string_value(j);
        n = json_string_length(j);
    } else if (json_is_integer(j)) {
        n = (size_t)snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        text = tmp;
    } else if (json_is_real(j)) {
        double d = json_real_value(j);
        n = (size_t)snprintf(tmp, sizeof tmp, "%.15g", d);
        if (strtod(tmp, NULL) != d)
            n = (size_t)snprintf(tmp, sizeof tmp, "%.17g", d);
        text = tmp;
    } else {
        text = json_is_true(j) ? "true" : "false";
        n = strlen(text);
    }
    if (!(v->s = malloc(n + 1)))
        return fail_oom(c);
    memcpy(v->s, text, n);
    v->s[n] = '\0';
    v->n = n;
    v->has_num = docfield_num_parse(text, n, &v->num);
    if (json_is_integer(j))
        v->num = (docfield_num_t){true, json_integer_value(j), (double)json_integer_value(j)};
    if (json_is_boolean(j) || (n == 4 && !memcmp(text, "true", 4)) ||
        (n == 5 && !memcmp(text, "false", 5))) {
        v->has_bool = true;
        v->b = text[0] == 't';
    }
    if (json_is_string(j)) {
        int dm = datemath_parse(text, n, c->now_us, &v->date);
        if (dm == DATEMATH_ERR_INVALID && strict_dates)
            return fail(c, "invalid date math '%s' (units: y M w d h H m s)", text);
        v->has_date = dm == 0 || datemath_parse_date(text, n, &v->date) == 0;
    }
    if (!v->has_date)
        qval_set_epoch(v, fmt);
    return 0;
}

static bool is_scalar(const json_t *j)
{
    return json_is_string(j) || json_is_number(j) || json_is_boolean(j);
}

static const datefmt_t default_datefmt = {1000, false};   /* strict_date_optional_time||epoch_millis */

/* A scalar query value for `field`; `published` needs a date. Range bounds are strict about
 * date math. */
static int value_compile(cctx_t *c, json_t *j, const docfield_t *f, datefmt_t fmt, qval_t *v)
{
    if (!is_scalar(j))
        return fail(c, "expected a string, number or boolean, found %s", json_type_name(j));
    if (qval_from_json(c, j, fmt, fmt.strict, v) < 0)
        return -1;
    if (f->kind == DOCFIELD_PUBLISHED && !f->keyword && !v->has_date)
        return fail(c, "expected a date or number");
    return 0;
}

/* ---- shapes ---- */

/* body must be an object {field: value} with exactly one field besides any of `extra`
 * (which are returned in extra_vals, NULL when absent). */
static int one_field(cctx_t *c, json_t *body, const char *const *extra, json_t **extra_vals,
                     const char **field, json_t **val)
{
    if (!json_is_object(body))
        return fail(c, "expected an object, found %s", json_type_name(body));
    const char *k;
    json_t *v;
    *field = NULL;
    json_object_foreach(body, k, v) {
        size_t e = 0;
        for (; extra && extra[e]; e++)
            if (strcmp(k, extra[e]) == 0)
                break;
        if (extra && extra[e]) {
            extra_vals[e] = v;
            continue;
        }
        if (*field)
            return fail(c, "expected one field, found '%s' and '%s'", *field, k);
        *field = k;
        *val = v;
    }
    if (!*field)
        return fail(c, "expected a field");
    return 0;
}

/* Walk an options object (anything else is an error): each key must be one of `keys`; values
 * land in vals[]. */
static int options(cctx_t *c, json_t *obj, const char *const *keys, json_t **vals)
{
    if (!json_is_object(obj))
        return fail(c, "expected an object, found %s", json_type_name(obj));
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k) != 0)
            i++;
        if (!keys[i])
            return fail(c, "unknown key '%s'", k);
        vals[i] = v;
    }
    return 0;
}

/* minimum_should_match for `n` optional clauses, as Elasticsearch's
 * Queries.calculateMinShouldMatch: N, -N, "N", "N%", "-N%"; percentages truncate; the result
 * is never below 0 and may exceed n (then nothing matches: elastic/elasticsearch#15571). */
static int msm_compile(cctx_t *c, json_t *v, size_t n, size_t *out)
{
    size_t old = path_push(c, ".minimum_should_match");
    long long spec;
    bool pct = false;
    if (json_is_integer(v)) {
        spec = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        size_t len = strlen(s);
        pct = len > 0 && s[len - 1] == '%';
        errno = 0;
        spec = strtoll(s, &end, 10);
        if (end == s || errno || (size_t)(end - s) != len - pct || !(is_digit(s[0]) || s[0] == '-')) {
            fail(c, "expected an integer or a percentage like \"75%%\", found \"%s\"", s);
            path_pop(c, old);
            return -1;
        }
    } else {
        fail(c, "expected an integer or a percentage, found %s", json_type_name(v));
        path_pop(c, old);
        return -1;
    }
    path_pop(c, old);
    if (spec > 1000000 || spec < -1000000)
        spec = spec > 0 ? 1000000 : -1000000;
    long long calc = pct ? (long long)n * spec / 100 : spec;
    long long r = calc < 0 ? (long long)n + calc : calc;
    *out = r < 0 ? 0 : (size_t)r;
    return 0;
}

/* ---- clauses ---- */

static query_t *compile_node(cctx_t *c, json_t *j, int depth);

static query_t *c_match_all(cctx_t *c, json_t *body, int kind)
{
    static const char *const keys[] = {"boost", NULL};
    json_t *vals[1] = {NULL};
    if (options(c, body, keys, vals) < 0 || (vals[0] && check_boost(c, vals[0]) < 0))
        return NULL;
    return node_new(c, kind);
}

/* term: {"f": v} or {"f": {"value": v, "case_insensitive": b, "boost": n}} */
static int term_body(cctx_t *c, query_t *q, json_t *v, const char *what)
{
    json_t *val = v;
    if (json_is_object(v)) {
        static const char *const keys[] = {"value", "case_insensitive", "boost", NULL};
        json_t *o[3] = {NULL, NULL, NULL};
        if (options(c, v, keys, o) < 0)
            return -1;
        if (!o[0])
            return fail(c, "missing '%s'", what);
        if ((o[1] && check_bool(c, "case_insensitive", o[1], &q->ci) < 0) ||
            (o[2] && check_boost(c, o[2]) < 0))
            return -1;
        val = o[0];
        size_t old = path_push(c, ".value");
        int r = value_compile(c, val, &q->f, default_datefmt, &q->v);
        path_pop(c, old);
        return r;
    }
    return value_compile(c, val, &q->f, default_datefmt, &q->v);
}

static query_t *c_term(cctx_t *c, json_t *body, int kind)
{
    const char *field;
    json_t *v;
    query_t *q = node_new(c, kind);
    if (!q || one_field(c, body, NULL, NULL, &field, &v) < 0)
        goto err;
    size_t old = path_push(c, ".%s", field);
    if (field_compile(c, field, &q->f) < 0 || term_body(c, q, v, "value") < 0)
        goto err;
    if (kind == Q_PREFIX && q->f.kind == DOCFIELD_PUBLISHED && !q->f.keyword) {
        fail(c, "prefix is not supported on the date field 'published'");
        goto err;
    }
    if (kind == Q_PREFIX && !json_is_string(json_is_object(v) ? json_object_get(v, "value") : v)) {
        fail(c, "expected a string");
        goto err;
    }
    path_pop(c, old);
    return q;
err:
    query_free(q);
    return NULL;
}

static int values_sorted(cctx_t *c, query_t *q)
{
    if (q->nvals == 0)
        return 0;
    if (!(q->sorted = malloc(q->nvals * sizeof *q->sorted)))
        return fail_oom(c);
    for (size_t i = 0; i < q->nvals; i++) {
        q->sorted[i] = (sv_t){q->vals[i].s, q->vals[i].n};
        q->any_date |= q->vals[i].has_date;
    }
    qsort(q->sorted, q->nvals, sizeof *q->sorted, sv_cmp);
    return 0;
}

/* An array of scalars into q->vals (ids: strings only). */
static int values_compile(cctx_t *c, query_t *q, json_t *arr, bool strings_only)
{
    if (!json_is_array(arr)) {
        if (json_is_object(arr))
            return fail(c, "terms lookup is not supported; expected an array");
        return fail(c, "expected an array, found %s", json_type_name(arr));
    }
    size_t n = json_array_size(arr);
    if (n > MAX_TERMS)
        return fail(c, "too many values (%zu, at most %d)", n, MAX_TERMS);
    if (n && !(q->vals = calloc(n, sizeof *q->vals)))
        return fail_oom(c);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        size_t old = path_push(c, "[%zu]", i);
        int r = strings_only && !json_is_string(e)
                    ? fail(c, "expected a string, found %s", json_type_name(e))
                    : value_compile(c, e, &q->f, default_datefmt, &q->vals[i]);
        q->nvals = i + 1;
        path_pop(c, old);
        if (r < 0)
            return -1;
    }
    return values_sorted(c, q);
}

/* terms: {"f": [v, ...], "boost": n} */
static query_t *c_terms(cctx_t *c, json_t *body, int kind)
{
    static const char *const extra[] = {"boost", NULL};
    json_t *ev[1] = {NULL};
    const char *field;
    json_t *v;
    query_t *q = node_new(c, kind);
    if (!q || one_field(c, body, extra, ev, &field, &v) < 0 || (ev[0] && check_boost(c, ev[0]) < 0))
        goto err;
    size_t old = path_push(c, ".%s", field);
    if (field_compile(c, field, &q->f) < 0 || values_compile(c, q, v, false) < 0)
        goto err;
    path_pop(c, old);
    return q;
err:
    query_free(q);
    return NULL;
}

/* ids: {"values": [...]} */
static query_t *c_ids(cctx_t *c, json_t *body, int kind)
{
    static const char *const keys[] = {"values", "boost", NULL};
    json_t *o[2] = {NULL, NULL};
    query_t *q = node_new(c, kind);
    if (!q)
        return NULL;
    q->f.kind = DOCFIELD_ID;
    if (options(c, body, keys, o) < 0 || (o[1] && check_boost(c, o[1]) < 0))
        goto err;
    if (!o[0]) {
        fail(c, "missing 'values'");
        goto err;
    }
    size_t old = path_push(c, ".values");
    if (values_compile(c, q, o[0], true) < 0)
        goto err;
    path_pop(c, old);
    return q;
err:
    query_free(q);
    return NULL;
}

/* exists: {"field": "name"} */
static query_t *c_exists(cctx_t *c, json_t *body, int kind)
{
    static const char *const keys[] = {"field", "boost", NULL};
    json_t *o[2] = {NULL, NULL};
    query_t *q = node_new(c, kind);
    if (!q)
        return NULL;
    if (options(c, body, keys, o) < 0 || (o[1] && check_boost(c, o[1]) < 0))
        goto err;
    if (!o[0] || !json_is_string(o[0])) {
        fail(c, o[0] ? "'field' must be a string" : "missing 'field'");
        goto err;
    }
    size_t old = path_push(c, ".field");
    if (field_compile(c, json_string_value(o[0]), &q->f) < 0)
        goto err;
    path_pop(c, old);
    return q;
err:
    query_free(q);
    return NULL;
}

/* "format": "a||b" of the formats we read: RFC 3339 ones and epoch_millis/epoch_second. */
static int datefmt_compile(cctx_t *c, json_t *v, datefmt_t *fmt)
{
    static const char *const known[] = {"strict_date_optional_time", "date_optional_time",
                                        "strict_date_time", "date_time", "epoch_millis",
                                        "epoch_second", NULL};
    size_t old = path_push(c, ".format");
    if (!json_is_string(v)) {
        fail(c, "expected a string, found %s", json_type_name(v));
        path_pop(c, old);
        return -1;
    }
    fmt->epoch_us = 0;
    const char *s = json_string_value(v);
    while (*s) {
        const char *bar = strstr(s, "||");
        size_t n = bar ? (size_t)(bar - s) : strlen(s), i = 0;
        while (known[i] && (strlen(known[i]) != n || memcmp(known[i], s, n) != 0))
            i++;
        if (!known[i]) {
            fail(c, "unsupported date format '%.*s' (supported: strict_date_optional_time, "
                    "date_optional_time, strict_date_time, date_time, epoch_millis, epoch_second)",
                 (int)n, s);
            path_pop(c, old);
            return -1;
        }
        if (fmt->epoch_us == 0 && strncmp(s, "epoch_", 6) == 0)
            fmt->epoch_us = s[6] == 'm' ? 1000 : US_PER_SEC;
        s += n + (bar ? 2 : 0);
    }
    path_pop(c, old);
    return 0;
}

static int bound_compile(cctx_t *c, const query_t *q, const char *key, json_t *v, datefmt_t fmt,
                         bound_t *b, bool incl)
{
    if (json_is_null(v))
        return 0;   /* Elasticsearch: a null bound is unbounded */
    if (b->set)
        return fail(c, "both '%s' and '%s' given",
                    b == &q->lo ? (incl ? "gt" : "gte") : (incl ? "lt" : "lte"), key);
    size_t old = path_push(c, ".%s", key);
    int r;
    if (!json_is_string(v) && !json_is_number(v))
        r = fail(c, q->f.kind == DOCFIELD_PUBLISHED ? "expected a date or number, found %s"
                                              : "expected a string or number, found %s",
                 json_type_name(v));
    else
        r = value_compile(c, v, &q->f, fmt, &b->v);
    path_pop(c, old);
    b->set = r == 0;
    b->incl = incl;
    return r;
}

/* range: {"f": {"gt"|"gte"|"lt"|"lte": v, "format": s, "boost": n}} */
static query_t *c_range(cctx_t *c, json_t *body, int kind)
{
    static const char *const keys[] = {"gt", "gte", "lt", "lte", "format", "boost", NULL};
    json_t *o[6] = {NULL};
    const char *field;
    json_t *v;
    datefmt_t fmt = {1000, true};
    query_t *q = node_new(c, kind);
    if (!q || one_field(c, body, NULL, NULL, &field, &v) < 0)
        goto err;
    size_t old = path_push(c, ".%s", field);
    if (field_compile(c, field, &q->f) < 0)
        goto err;
    if (!json_is_object(v)) {
        fail(c, "expected an object with gt, gte, lt or lte, found %s", json_type_name(v));
        goto err;
    }
    if (options(c, v, keys, o) < 0 || (o[4] && datefmt_compile(c, o[4], &fmt) < 0) ||
        (o[5] && check_boost(c, o[5]) < 0))
        goto err;
    if ((o[0] && bound_compile(c, q, "gt", o[0], fmt, &q->lo, false) < 0) ||
        (o[1] && bound_compile(c, q, "gte", o[1], fmt, &q->lo, true) < 0) ||
        (o[2] && bound_compile(c, q, "lt", o[2], fmt, &q->hi, false) < 0) ||
        (o[3] && bound_compile(c, q, "lte", o[3], fmt, &q->hi, true) < 0))
        goto err;
    path_pop(c, old);
    return q;
err:
    query_free(q);
    return NULL;
}

/* Lowercased tokens of text into q->toks. */
static int tokenize_query(cctx_t *c, query_t *q, const char *s, size_t n)
{
    if (!(q->tokbuf = malloc(n + 1)) || !(q->toks = malloc((n / 2 + 1) * sizeof *q->toks)))
        return fail_oom(c);
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        if (!is_tok_byte((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t start = w;
        while (i < n && is_tok_byte((unsigned char)s[i]))
            q->tokbuf[w++] = (char)ascii_lower((unsigned char)s[i++]);
        if (q->ntoks == MAX_MATCH_TOKENS)
            return fail(c, "too many terms in the query text (at most %d)", MAX_MATCH_TOKENS);
        q->toks[q->ntoks++] = (sv_t){q->tokbuf + start, w - start};
    }
    return 0;
}

/* After the options: operator, minimum_should_match, zero_terms_query decide `need`. */
static int match_finish(cctx_t *c, query_t *q, json_t *op, json_t *msm, json_t *ztq)
{
    bool and_op = false, zero_all = false;
    if (op) {
        const char *s = json_is_string(op) ? json_string_value(op) : "";
        if (strcasecmp(s, "and") && strcasecmp(s, "or")) {
            size_t old = path_push(c, ".operator");
            fail(c, "expected \"or\" or \"and\"");
            path_pop(c, old);
            return -1;
        }
        and_op = strcasecmp(s, "and") == 0;
    }
    if (ztq) {
        const char *s = json_is_string(ztq) ? json_string_value(ztq) : "";
        if (strcasecmp(s, "none") && strcasecmp(s, "all")) {
            size_t old = path_push(c, ".zero_terms_query");
            fail(c, "expected \"none\" or \"all\"");
            path_pop(c, old);
            return -1;
        }
        zero_all = strcasecmp(s, "all") == 0;
    }
    q->need = and_op ? q->ntoks : 1;
    if (msm && !and_op) {
        if (msm_compile(c, msm, q->ntoks, &q->need) < 0)
            return -1;
        if (q->need == 0)
            q->need = 1;   /* a pure disjunction needs one (Lucene BooleanQuery) */
    } else if (msm && msm_compile(c, msm, q->ntoks, &(size_t){0}) < 0) {
        return -1;
    }
    q->never = q->need > q->ntoks;
    if (q->ntoks == 0)   /* the analyzer left nothing: zero_terms_query decides */
        q->kind = zero_all ? Q_ALL : Q_NONE;
    return 0;
}

/* match: {"f": text} or {"f": {"query": text, "operator", "minimum_should_match",
 * "zero_terms_query", "boost"}}. On `published` and on ".keyword" fields it is a term query,
 * as Elasticsearch does for non-text fields. */
static query_t *c_match(cctx_t *c, json_t *body, int kind)
{
    static const char *const keys[] = {"query", "operator", "minimum_should_match",
                                       "zero_terms_query", "boost", NULL};
    json_t *o[5] = {NULL};
    const char *field;
    json_t *v;
    query_t *q = node_new(c, kind);
    if (!q || one_field(c, body, NULL, NULL, &field, &v) < 0)
        goto err;
    size_t old = path_push(c, ".%s", field);
    if (field_compile(c, field, &q->f) < 0)
        goto err;
    if (json_is_object(v)) {
        if (options(c, v, keys, o) < 0 || (o[4] && check_boost(c, o[4]) < 0))
            goto err;
        if (!o[0]) {
            fail(c, "missing 'query'");
            goto err;
        }
        size_t old2 = path_push(c, ".query");
        int r = value_compile(c, o[0], &q->f, default_datefmt, &q->v);
        path_pop(c, old2);
        if (r < 0)
            goto err;
    } else if (value_compile(c, v, &q->f, default_datefmt, &q->v) < 0) {
        goto err;
    }
    if (q->f.kind == DOCFIELD_PUBLISHED || q->f.keyword) {
        q->kind = Q_TERM;
    } else if (tokenize_query(c, q, q->v.s, q->v.n) < 0 || match_finish(c, q, o[1], o[2], o[3]) < 0) {
        goto err;
    }
    path_pop(c, old);
    return q;
err:
    query_free(q);
    return NULL;
}

/* One bool occurrence: an object or an array of objects. */
static int bool_kids(cctx_t *c, query_t *q, int b, json_t *v, int depth)
{
    bool arr = json_is_array(v);
    size_t n = arr ? json_array_size(v) : 1;
    if (!arr && !json_is_object(v))
        return fail(c, "expected an object or an array, found %s", json_type_name(v));
    if (n && !(q->kid[b] = calloc(n, sizeof *q->kid[b])))
        return fail_oom(c);
    for (size_t i = 0; i < n; i++) {
        size_t old = arr ? path_push(c, "[%zu]", i) : c->plen;
        query_t *k = compile_node(c, arr ? json_array_get(v, i) : v, depth + 1);
        if (!k)
            return -1;
        q->kid[b][q->nkid[b]++] = k;
        path_pop(c, old);
    }
    return 0;
}

/* bool: must, filter, should, must_not, minimum_should_match, boost. Which should clauses
 * are needed follows the bool query reference: minimum_should_match defaults to 1 when there
 * are should clauses and no must or filter, else 0; without must or filter at least one
 * should must match even when it says 0 (elastic/elasticsearch#52735); more than there are
 * should clauses matches nothing (elastic/elasticsearch#15571, #21844); a bool with no
 * clauses at all matches everything. */
static query_t *c_bool(cctx_t *c, json_t *body, int kind, int depth)
{
    static const char *const keys[] = {"must", "filter", "should", "must_not",
                                       "minimum_should_match", "boost", NULL};
    json_t *o[6] = {NULL};
    query_t *q = node_new(c, kind);
    if (!q)
        return NULL;
    if (options(c, body, keys, o) < 0 || (o[5] && check_boost(c, o[5]) < 0))
        goto err;
    for (int b = 0; b < 4; b++) {
        if (!o[b])
            continue;
        size_t old = path_push(c, ".%s", keys[b]);
        if (bool_kids(c, q, b, o[b], depth) < 0)
            goto err;
        path_pop(c, old);
    }
    size_t nreq = q->nkid[B_MUST] + q->nkid[B_FILTER], nshould = q->nkid[B_SHOULD];
    q->need = nshould > 0 && nreq == 0;
    if (o[4] && msm_compile(c, o[4], nshould, &q->need) < 0)
        goto err;
    if (nshould > 0 && nreq == 0 && q->need == 0)
        q->need = 1;
    q->never = q->need > nshould && nreq + nshould + q->nkid[B_NOT] > 0;
    return q;
err:
    query_free(q);
    return NULL;
}

typedef query_t *clause_fn(cctx_t *c, json_t *body, int kind);

static const struct { const char *name; clause_fn *fn; int kind; } clauses[] = {
    {"match_all", c_match_all, Q_ALL}, {"match_none", c_match_all, Q_NONE},
    {"term", c_term, Q_TERM},          {"terms", c_terms, Q_TERMS},
    {"range", c_range, Q_RANGE},       {"prefix", c_term, Q_PREFIX},
    {"exists", c_exists, Q_EXISTS},    {"ids", c_ids, Q_IDS},
    {"match", c_match, Q_MATCH},
};

static query_t *compile_node(cctx_t *c, json_t *j, int depth)
{
    if (depth > QUERY_MAX_DEPTH) {
        fail(c, "query nested deeper than %d", QUERY_MAX_DEPTH);
        return NULL;
    }
    if (!json_is_object(j)) {
        fail(c, "expected a query object, found %s", json_type_name(j));
        return NULL;
    }
    if (json_object_size(j) != 1) {
        fail(c, json_object_size(j) ? "expected one query type, found %zu keys"
                                    : "empty query object (expected one query type)",
             json_object_size(j));
        return NULL;
    }
    const char *name = json_object_iter_key(json_object_iter(j));
    json_t *body = json_object_iter_value(json_object_iter(j));
    size_t n = sizeof clauses / sizeof clauses[0], i = 0;
    while (i < n && strcmp(name, clauses[i].name) != 0)
        i++;
    if (i == n && strcmp(name, "bool") != 0) {
        fail(c, "unknown query type '%s'", name);
        return NULL;
    }
    size_t old = path_push(c, ".%s", name);
    query_t *q = i < n ? clauses[i].fn(c, body, clauses[i].kind) : c_bool(c, body, Q_BOOL, depth);
    if (q)
        path_pop(c, old);
    return q;
}

int query_compile(json_t *q, query_t **out, char *err, size_t errlen)
{
    cctx_t c = {.err = err, .errlen = errlen, .now_us = timefmt_now_us()};
    memcpy(c.path, "query", 6);
    c.plen = 5;
    if (err && errlen)
        err[0] = '\0';
    *out = compile_node(&c, q, 1);
    return *out ? 0 : -1;
}

/* Nesting depth of JSON text, strings skipped; stops counting past `limit`. */
static int json_text_depth(const char *s, size_t len, int limit)
{
    int depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len && max <= limit; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '{' || ch == '[') {
            if (++depth > max)
                max = depth;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return max;
}

int query_parse_text(const char *text, size_t len, const char *what, json_t **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    if (len > QUERY_MAX_TEXT)
        return errfmt(err, errlen, "%s is larger than 1 MiB (%zu bytes)", what, len);
    /* jansson recurses per level: refuse deep nesting before it parses */
    if (json_text_depth(text, len, QUERY_MAX_DEPTH) > QUERY_MAX_DEPTH)
        return errfmt(err, errlen, "%s is nested deeper than %d", what, QUERY_MAX_DEPTH);
    json_error_t je;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!*out)
        return errfmt(err, errlen, "%s is not valid JSON: %s at line %d column %d", what, je.text,
                      je.line, je.column);
    return 0;
}

int query_compile_text(const char *text, size_t len, query_t **out, char *err, size_t errlen)
{
    json_t *j;
    *out = NULL;
    if (query_parse_text(text, len, "query", &j, err, errlen) < 0)
        return -1;
    int r = query_compile(j, out, err, errlen);
    json_decref(j);
    return r;
}

/* ======================================================================================
 * Matching
 * ====================================================================================== */

/* A walk over the values of q's field: the clause and its per-call state (match's). */
typedef struct {
    const query_t *q;
    void *st;
} visit_t;

/* Call fn on every value of q's field; true when fn stopped the walk. */
static bool for_each_value(const query_t *q, docfield_doc_t *d, docfield_fn *fn, void *st)
{
    visit_t x = {q, st};
    return docfield_each(&q->f, d, fn, &x);
}

/* ---- per-clause value tests ---- */

/* Does value v equal query value qv (converted to v's type)? */
static bool value_eq(const query_t *q, const docfield_val_t *v, const qval_t *qv)
{
    docfield_num_t x;
    int64_t us;
    switch (v->type) {
    case DOCFIELD_V_STR:
        if (bytes_eq(v->s.p, v->s.n, qv->s, qv->n, q->ci))
            return true;
        return qv->has_date && docfield_str_date(&q->f, &v->s, &us) && us >= qv->date.lo && us <= qv->date.hi;
    case DOCFIELD_V_NUM: return qv->has_num && docfield_num_parse(v->s.p, v->s.n, &x) && docfield_num_cmp(&x, &qv->num) == 0;
    case DOCFIELD_V_BOOL: return qv->has_bool && v->b == qv->b;
    case DOCFIELD_V_DATE: return qv->has_date && v->us >= qv->date.lo && v->us <= qv->date.hi;
    default: return false;
    }
}

static bool t_term(docfield_doc_t *d, const docfield_val_t *v, void *ud)
{
    const query_t *q = ((const visit_t *)ud)->q;
    return value_eq(q, v, &q->v);
}

static bool t_terms(docfield_doc_t *d, const docfield_val_t *v, void *ud)
{
    const query_t *q = ((const visit_t *)ud)->q;
    if (v->type == DOCFIELD_V_STR) {
        if (sv_bsearch(q->sorted, q->nvals, v->s.p, v->s.n))
            return true;
        int64_t us;
        if (!q->any_date || !docfield_str_date(&q->f, &v->s, &us))
            return false;
    }
    for (size_t i = 0; i < q->nvals; i++)
        if (v->type != DOCFIELD_V_STR ? value_eq(q, v, &q->vals[i])
                              : (q->vals[i].has_date && value_eq(q, v, &q->vals[i])))
            return true;
    return false;
}

static bool t_prefix(docfield_doc_t *d, const docfield_val_t *v, void *ud)
{
    const query_t *q = ((const visit_t *)ud)->q;
    return v->type == DOCFIELD_V_STR && v->s.n >= q->v.n && bytes_eq(v->s.p, q->v.n, q->v.s, q->v.n, q->ci);
}

/* A scalar that is not null (a key string counts: callers skip keys). */
static bool tok_is_value(const jsontape_tok_t *t)
{
    return t->type != JSONTAPE_OBJ && t->type != JSONTAPE_ARR && t->type != JSONTAPE_NULL;
}

/* exists: a value that is not null; an object exists when something non-null is inside
 * (DOCFIELD_V_OBJ may also point at the value under a dotted key that extends the path). */
static bool t_exists(docfield_doc_t *d, const docfield_val_t *v, void *ud)
{
    if (v->type != DOCFIELD_V_OBJ)
        return v->type != DOCFIELD_V_NULL;
    const jsontape_tok_t *tok = d->tape.tok;
    if (tok[v->tok].type != JSONTAPE_OBJ && tok[v->tok].type != JSONTAPE_ARR)
        return tok[v->tok].type != JSONTAPE_NULL;
    for (uint32_t i = v->tok + 1; i < tok[v->tok].end; i++)
        if (tok_is_value(&tok[i]) && !tok[i].key)
            return true;
    return false;
}

/* Compare value v against bound b: <0, 0, >0, or 2 when they cannot be compared. lower says
 * which end of a date span applies. */
static int bound_cmp(const query_t *q, const docfield_val_t *v, const bound_t *b, bool lower, int64_t *sdate,
                     int *sdate_state)
{
    const qval_t *bv = &b->v;
    docfield_num_t x;
    int64_t edge = lower ? (b->incl ? bv->date.lo : bv->date.hi) : (b->incl ? bv->date.hi : bv->date.lo);
    switch (v->type) {
    case DOCFIELD_V_DATE:
        return bv->has_date ? (v->us > edge) - (v->us < edge) : 2;
    case DOCFIELD_V_NUM:
        return bv->has_num && docfield_num_parse(v->s.p, v->s.n, &x) ? docfield_num_cmp(&x, &bv->num) : 2;
    case DOCFIELD_V_BOOL:
        return bv->has_bool ? (int)v->b - (int)bv->b : 2;
    case DOCFIELD_V_STR:
        if (bv->has_date) {
            if (*sdate_state == 0)
                *sdate_state = docfield_str_date(&q->f, &v->s, sdate) ? 1 : -1;
            if (*sdate_state == 1)
                return (*sdate > edge) - (*sdate < edge);
        }
        return bytes_cmp(v->s.p, v->s.n, bv->s, bv->n);
    default:
        return 2;
    }
}

static bool t_range(docfield_doc_t *d, const docfield_val_t *v, void *ud)
{
    const query_t *q = ((const visit_t *)ud)->q;
    if (v->type == DOCFIELD_V_NULL || v->type == DOCFIELD_V_OBJ)
        return false;
    int64_t sdate = 0;
    int sdate_state = 0;
    if (q->lo.set) {
        int r = bound_cmp(q, v, &q->lo, true, &sdate, &sdate_state);
        if (r == 2 || r < 0 || (r == 0 && !q->lo.incl))
            return false;
    }
    if (q->hi.set) {
        int r = bound_cmp(q, v, &q->hi, false, &sdate, &sdate_state);
        if (r == 2 || r > 0 || (r == 0 && !q->hi.incl))
            return false;
    }
    return true;
}

typedef struct { uint8_t *seen; size_t count; } match_st_t;

static bool t_match(docfield_doc_t *d, const docfield_val_t *v, void *ud)
{
    const query_t *q = ((const visit_t *)ud)->q;
    match_st_t *st = ((const visit_t *)ud)->st;
    if (v->type != DOCFIELD_V_STR) {
        if (!value_eq(q, v, &q->v))
            return false;
        st->count = q->ntoks;   /* the whole query equals a non-text value */
        return true;
    }
    const char *s = v->s.p;
    for (size_t i = 0, n = v->s.n; i < n;) {
        if (!is_tok_byte((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < n && is_tok_byte((unsigned char)s[i]))
            i++;
        for (size_t t = 0; t < q->ntoks; t++)
            if (!st->seen[t] && bytes_eq(s + start, i - start, q->toks[t].p, q->toks[t].n, true)) {
                st->seen[t] = 1;
                if (++st->count >= q->need)
                    return true;
            }
    }
    return false;
}

static bool eval(const query_t *q, docfield_doc_t *d);

static bool eval_bool(const query_t *q, docfield_doc_t *d)
{
    if (q->never)
        return false;
    for (int b = B_FILTER; b >= B_MUST; b--)
        for (size_t i = 0; i < q->nkid[b]; i++)
            if (!eval(q->kid[b][i], d))
                return false;
    for (size_t i = 0; i < q->nkid[B_NOT]; i++)
        if (eval(q->kid[B_NOT][i], d))
            return false;
    size_t got = 0, left = q->nkid[B_SHOULD];
    for (size_t i = 0; got < q->need && i < q->nkid[B_SHOULD]; i++, left--) {
        if (got + left < q->need)
            return false;
        got += eval(q->kid[B_SHOULD][i], d);
    }
    return got >= q->need;
}

static bool eval(const query_t *q, docfield_doc_t *d)
{
    switch (q->kind) {
    case Q_ALL: return true;
    case Q_NONE: return false;
    case Q_TERM: return for_each_value(q, d, t_term, NULL);
    case Q_TERMS: return for_each_value(q, d, t_terms, NULL);
    case Q_PREFIX: return for_each_value(q, d, t_prefix, NULL);
    case Q_EXISTS: return for_each_value(q, d, t_exists, NULL);
    case Q_RANGE: return for_each_value(q, d, t_range, NULL);
    case Q_IDS: return sv_bsearch(q->sorted, q->nvals, d->rec->id, d->rec->id_len);
    case Q_MATCH: {
        if (q->never)
            return false;
        uint8_t seen[MAX_MATCH_TOKENS];
        memset(seen, 0, q->ntoks);
        match_st_t st = {seen, 0};
        for_each_value(q, d, t_match, &st);
        return st.count >= q->need;
    }
    case Q_BOOL: return eval_bool(q, d);
    default: return false;
    }
}

int query_match(const query_t *q, const store_rec_t *rec)
{
    docfield_doc_t d;
    docfield_doc_init(&d, rec);
    bool r = eval(q, &d);
    docfield_doc_release(&d);
    return r;
}

int query_match_doc(const query_t *q, docfield_doc_t *doc)
{
    return eval(q, doc);
}

/* ======================================================================================
 * Tombstones
 * ====================================================================================== */

/* A tombstone keeps its feed, id, types and published time: clauses on those decide; a
 * clause on anything else (the actor, the content) cannot be judged: unknown. Kleene's
 * three-valued logic then combines them, and only a definite "no" refuses. */
typedef enum { TV_NO, TV_YES, TV_UNKNOWN } tv_t;

static bool tomb_has_field(const query_t *q)
{
    switch (q->kind) {
    case Q_ALL:
    case Q_NONE:
    case Q_IDS: return true;
    default:
        return q->f.kind == DOCFIELD_FEED || q->f.kind == DOCFIELD_TYPE || q->f.kind == DOCFIELD_ID ||
               q->f.kind == DOCFIELD_PUBLISHED;
    }
}

static tv_t tomb_eval(const query_t *q, docfield_doc_t *d);

/* must and filter: no if any is no; must_not: no if any is yes; should: no when fewer than
 * `need` can match, counting unknown ones as matching; unknown when the sure ones are fewer. */
static tv_t tomb_bool(const query_t *q, docfield_doc_t *d)
{
    tv_t r = TV_YES;
    if (q->never)
        return TV_NO;
    for (int b = B_MUST; b <= B_NOT; b++) {
        if (b == B_SHOULD)
            continue;
        for (size_t i = 0; i < q->nkid[b]; i++) {
            tv_t v = tomb_eval(q->kid[b][i], d);
            if (v == (b == B_NOT ? TV_YES : TV_NO))
                return TV_NO;
            if (v == TV_UNKNOWN)
                r = TV_UNKNOWN;
        }
    }
    size_t sure = 0, maybe = 0;
    for (size_t i = 0; i < q->nkid[B_SHOULD] && sure < q->need; i++) {
        tv_t v = tomb_eval(q->kid[B_SHOULD][i], d);
        sure += v == TV_YES;
        maybe += v != TV_NO;
    }
    if (maybe < q->need)
        return TV_NO;
    return sure < q->need ? TV_UNKNOWN : r;
}

static tv_t tomb_eval(const query_t *q, docfield_doc_t *d)
{
    if (q->kind == Q_BOOL)
        return tomb_bool(q, d);
    if (!tomb_has_field(q))
        return TV_UNKNOWN;
    return eval(q, d) ? TV_YES : TV_NO;   /* stored columns only: the JSON is never read */
}

int query_admits_tombstone(const query_t *q, const store_rec_t *rec)
{
    docfield_doc_t d;
    docfield_doc_init(&d, rec);
    d.parsed = -1;   /* there is no JSON to read */
    tv_t v = tomb_eval(q, &d);
    docfield_doc_release(&d);
    return v != TV_NO;
}
