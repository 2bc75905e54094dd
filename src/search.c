/* search.c -- the search engine of _search and _count: a parsed request run over the store or a
 * frozen view, restricted to feeds and a scope; hits, totals and aggregations rendered in
 * Elasticsearch's shape. See search.h.
 *
 * Order and paging. Hits are sorted by (published millisecond, id, feed) ascending, or all three
 * descending with "sort": [{"published": "desc"}]; without "sort" (or with "_doc", index order)
 * the order is ascending. Every hit carries "sort": [published, id, feed] -- published in
 * MILLISECONDS since the epoch, as Elasticsearch gives a `date` field's sort value -- and
 * "search_after" takes that array back (published may also be an RFC 3339 string). The order is
 * the one the sort values describe, so a search_after page starts exactly after the previous
 * one: nothing is skipped or repeated, however many activities share a millisecond (their
 * microseconds do not order them; their ids do).
 * The time index orders by (microsecond, seq), so the scan collects each run of matching records
 * within one millisecond, sorts it by (id, feed) and emits from it; the run is kept to at most
 * about twice what the page still needs (sorted and cut when it grows).
 *
 * hits.total follows track_total_hits (default 10,000, as Elasticsearch): matches are counted
 * up to that number and reported as {"value": N, "relation": "eq"}, or {"value": limit,
 * "relation": "gte"} past it; `true` counts them all, `false` leaves hits.total out. Counting
 * covers the whole selection, also the part before a search_after cursor (a second scan); a
 * caller that knows the count (a frozen view) passes it in instead. Aggregations see every
 * match, whatever the page: with "aggs" one scan feeds them and counts, then a second collects
 * the page (and stops as soon as it is full).
 *
 * Scores: nothing is scored. Without "sort" every hit has _score 1.0 and max_score is 1.0 (null
 * without hits), as for a constant-score filter; with "sort", _score and max_score are null, as
 * Elasticsearch returns them for sorted searches.
 *
 * What a run reads: the store (one read transaction per scan) or a view; of each record, only
 * those of the selected feeds that match the scope and the query. */
#include "search.h"
#include "bytebuf.h"
#include "agg.h"
#include "errfmt.h"
#include "eserror.h"
#include "srcfilter.h"
#include "timefmt.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TRACK 10000       /* Elasticsearch's default track_total_hits */
#define TRACK_ALL UINT64_MAX

struct search {
    int kind;                       /* SEARCH_SEARCH or SEARCH_COUNT */
    query_t *q;                     /* owned; NULL: match everything */
    agg_t *aggs;                    /* owned; NULL: none */
    size_t size, from;
    bool sort_given, desc;
    bool after;                     /* search_after given: */
    int64_t after_ms;
    const char *after_id, *after_feed;   /* borrowed from body */
    size_t after_id_len, after_feed_len;
    uint64_t track;                 /* count matches up to this; 0: do not count */
    srcfilter_t src;                /* owned; its patterns are borrowed from body */
    json_t *body;                   /* a reference: the body, which the fields above borrow */
};

/* ======================================================================================
 * Parsing the body
 * ====================================================================================== */

typedef struct {
    search_t *s;
    char *err;
    size_t errlen;
} parse_t;

static int bad(parse_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(parse_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verrfmt(p->err, p->errlen, fmt, ap);
    va_end(ap);
    return SEARCH_ERR_INVALID;
}

static int parse_window(parse_t *p, json_t *size, json_t *from)
{
    json_int_t sz = 10, fr = 0;
    if (size && !json_is_integer(size))
        return bad(p, "[size] must be an integer");
    if (from && !json_is_integer(from))
        return bad(p, "[from] must be an integer");
    if (size)
        sz = json_integer_value(size);
    if (from)
        fr = json_integer_value(from);
    if (sz < 0)
        return bad(p, "[size] parameter cannot be negative, found [%lld]", (long long)sz);
    if (fr < 0)
        return bad(p, "[from] parameter cannot be negative, found [%lld]", (long long)fr);
    if (sz > SEARCH_MAX_WINDOW || fr > SEARCH_MAX_WINDOW || sz + fr > SEARCH_MAX_WINDOW)
        return bad(p, "Result window is too large, from + size must be less than or equal to: [%d] but was [%lld]",
                   SEARCH_MAX_WINDOW,
                   (long long)(sz > SEARCH_MAX_WINDOW || fr > SEARCH_MAX_WINDOW ? (sz > fr ? sz : fr) : sz + fr));
    p->s->size = (size_t)sz;
    p->s->from = (size_t)fr;
    return 0;
}

/* "asc" or "desc" into *desc. */
static int sort_order(parse_t *p, json_t *v, bool *desc)
{
    const char *o = json_is_string(v) ? json_string_value(v) : NULL;
    if (!o || (strcmp(o, "asc") != 0 && strcmp(o, "desc") != 0))
        return bad(p, "[sort] order must be \"asc\" or \"desc\"");
    *desc = strcmp(o, "desc") == 0;
    return 0;
}

/* The order of one sort element's spec: absent, "asc"|"desc", or {"order": ...}. */
static int sort_spec(parse_t *p, const char *field, json_t *spec, bool *desc)
{
    *desc = false;
    if (!spec)
        return 0;
    if (json_is_string(spec))
        return sort_order(p, spec, desc);
    if (!json_is_object(spec))
        return bad(p, "[sort.%s] must be \"asc\", \"desc\" or {\"order\": ...}", field);
    const char *k;
    json_t *v;
    json_object_foreach(spec, k, v) {
        if (strcmp(k, "order") != 0)
            return bad(p, "unknown key [%s] in [sort.%s]; supported: order", k, field);
        if (sort_order(p, v, desc) < 0)
            return SEARCH_ERR_INVALID;
    }
    return 0;
}

static bool index_order(const char *field)
{
    return strcmp(field, "_doc") == 0 || strcmp(field, "_shard_doc") == 0;
}

/* What the sort elements so far named. */
typedef struct { bool published, index; } sort_seen_t;

/* A sort element's field and order spec (may be NULL). */
static int sort_field(parse_t *p, const char *field, json_t *spec, sort_seen_t *seen, bool *desc)
{
    bool idx = index_order(field);
    if (!idx && strcmp(field, "published") != 0)
        return bad(p, "unknown sort field [%s]; only [published] and [_doc] are supported (ties are broken by "
                      "id and feed)", field);
    if (sort_spec(p, field, spec, desc) < 0)
        return SEARCH_ERR_INVALID;
    if (idx && *desc)
        return bad(p, "[sort] on [%s] is index order, ascending only", field);
    if (!idx && seen->published)
        return bad(p, "[sort] names [published] twice");
    if (!idx && seen->index)
        return bad(p, "[sort] on [published] after [_doc]: index order must come last");
    seen->published |= !idx;
    seen->index |= idx;
    p->s->sort_given = true;
    if (!idx)
        p->s->desc = *desc;
    return 0;
}

/* One sort element: "published", {"published": "asc"}, {"published": {"order": "desc"}},
 * "published:desc" (the URL form, which clients also put in bodies), or "_doc"/"_shard_doc"
 * (index order: ascending published; after "published", a tiebreaker that the (id, feed) order
 * already is). */
static int parse_sort_one(parse_t *p, json_t *e, sort_seen_t *seen)
{
    char field[64];
    json_t *spec = NULL;
    bool desc;
    if (json_is_string(e)) {
        const char *s = json_string_value(e), *colon = strchr(s, ':');
        snprintf(field, sizeof field, "%.*s", colon ? (int)(colon - s) : (int)strlen(s), s);
        spec = colon ? json_string(colon + 1) : NULL;
    } else if (json_is_object(e) && json_object_size(e) == 1) {
        snprintf(field, sizeof field, "%s", json_object_iter_key(json_object_iter(e)));
        spec = json_incref(json_object_iter_value(json_object_iter(e)));
    } else {
        return bad(p, "[sort] elements must be a field name or an object with one field");
    }
    int rc = sort_field(p, field, spec, seen, &desc);
    json_decref(spec);
    return rc;
}

static int parse_sort(parse_t *p, json_t *v)
{
    sort_seen_t seen = {false, false};
    if (!json_is_array(v))
        return parse_sort_one(p, v, &seen);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (parse_sort_one(p, e, &seen) < 0)
            return SEARCH_ERR_INVALID;
    }
    return 0;
}

/* Milliseconds down from microseconds (floor, also before 1970). */
static int64_t ms_of(int64_t us) { return srcfilter_ms(us); }

/* [published (milliseconds, or RFC 3339), id, feed]: a hit's "sort" array. */
static int parse_after(parse_t *p, json_t *v)
{
    static const char want[] = "[search_after] must be the \"sort\" array of a hit: "
                               "[published milliseconds, id, feed]";
    search_t *s = p->s;
    if (!json_is_array(v) || json_array_size(v) != 3)
        return bad(p, "%s", want);
    json_t *pub = json_array_get(v, 0), *id = json_array_get(v, 1), *feed = json_array_get(v, 2);
    int64_t us;
    if (!json_is_string(id) || !json_is_string(feed))
        return bad(p, "%s", want);
    if (json_is_integer(pub))
        s->after_ms = json_integer_value(pub);
    else if (json_is_string(pub) && timefmt_parse_rfc3339(json_string_value(pub), json_string_length(pub), &us, NULL) == 0)
        s->after_ms = ms_of(us);
    else
        return bad(p, "%s", want);
    s->after = true;
    s->after_id = json_string_value(id);
    s->after_id_len = json_string_length(id);
    s->after_feed = json_string_value(feed);
    s->after_feed_len = json_string_length(feed);
    return 0;
}

static int parse_track(parse_t *p, json_t *v)
{
    if (json_is_boolean(v)) {
        p->s->track = json_is_true(v) ? TRACK_ALL : 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < -1)
        return bad(p, "[track_total_hits] must be true, false or a non-negative integer");
    p->s->track = json_integer_value(v) < 0 ? 0 : (uint64_t)json_integer_value(v);
    return 0;
}

static int parse_source(parse_t *p, json_t *v)
{
    return srcfilter_parse(&p->s->src, v, p->err, p->errlen) < 0 ? SEARCH_ERR_INVALID : 0;
}

static int parse_query(parse_t *p, json_t *v)
{
    char err[768];
    if (query_compile(v, &p->s->q, err, sizeof err) < 0)
        return bad(p, "%s", err);
    return 0;
}

static int parse_aggs(parse_t *p, json_t *aggs, json_t *aggregations, int64_t now_us)
{
    char err[768];
    if (aggs && aggregations)
        return bad(p, "found two aggregation definitions: [aggs] and [aggregations]");
    int rc = agg_compile(aggs ? aggs : aggregations, now_us, &p->s->aggs, err, sizeof err);
    if (rc == AGG_ERR_NOMEM)
        return SEARCH_ERR_NOMEM;
    return rc ? bad(p, "%s", err) : 0;
}

static int parse_timeout(parse_t *p, json_t *v)
{
    return json_is_string(v) ? 0 : bad(p, "[timeout] must be a time value such as \"10s\"");
}

enum { K_QUERY, K_SIZE, K_FROM, K_SORT, K_AFTER, K_SOURCE, K_TRACK, K_AGGS, K_AGGREGATIONS, K_TIMEOUT, K_N };
static const char *const search_keys[K_N] = {"query", "size", "from", "sort", "search_after", "_source",
                                             "track_total_hits", "aggs", "aggregations", "timeout"};

/* The body's members by key; an unknown key (or one _count does not take) is an error. */
static int body_members(parse_t *p, json_t *body, json_t *vals[K_N])
{
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        size_t i = 0;
        while (i < K_N && strcmp(search_keys[i], k) != 0)
            i++;
        if (p->s->kind == SEARCH_COUNT && i != K_QUERY)
            return bad(p, "unknown key [%s] in the count body; supported: query", k);
        if (i == K_N)
            return bad(p, "unknown key [%s] in the search body; supported: query, size, from, sort, search_after, "
                          "_source, track_total_hits, aggs, aggregations, timeout", k);
        vals[i] = v;
    }
    return 0;
}

static int parse_body(parse_t *p, json_t *body, int64_t now_us)
{
    json_t *v[K_N] = {NULL};
    int rc = body_members(p, body, v);
    if (rc == 0 && v[K_QUERY])
        rc = parse_query(p, v[K_QUERY]);
    if (rc == 0)
        rc = parse_window(p, v[K_SIZE], v[K_FROM]);
    if (rc == 0 && v[K_SORT])
        rc = parse_sort(p, v[K_SORT]);
    if (rc == 0 && v[K_AFTER])
        rc = parse_after(p, v[K_AFTER]);
    if (rc == 0 && v[K_SOURCE])
        rc = parse_source(p, v[K_SOURCE]);
    if (rc == 0 && v[K_TRACK])
        rc = parse_track(p, v[K_TRACK]);
    if (rc == 0 && (v[K_AGGS] || v[K_AGGREGATIONS]))
        rc = parse_aggs(p, v[K_AGGS], v[K_AGGREGATIONS], now_us);
    if (rc == 0 && v[K_TIMEOUT])
        rc = parse_timeout(p, v[K_TIMEOUT]);
    if (rc == 0 && p->s->after && p->s->from > 0)
        rc = bad(p, "[from] parameter must be set to 0 when [search_after] is used");
    return rc;
}

void search_free(search_t *s)
{
    if (!s)
        return;
    query_free(s->q);
    agg_free(s->aggs);
    srcfilter_free(&s->src);
    json_decref(s->body);
    free(s);
}

int search_parse(int kind, json_t *body, int64_t now_us, search_t **out, char *err, size_t errlen)
{
    search_t *s = calloc(1, sizeof *s);
    parse_t p = {s, err, errlen};
    *out = NULL;
    if (!s) {
        errfmt(err, errlen, "out of memory");
        return SEARCH_ERR_NOMEM;
    }
    *s = (search_t){.kind = kind, .size = 10, .track = DEFAULT_TRACK, .body = json_incref(body)};
    int rc = 0;
    if (body && !json_is_object(body))
        rc = bad(&p, "request body must be a JSON object");
    else if (body)
        rc = parse_body(&p, body, now_us);
    if (rc == SEARCH_ERR_NOMEM)
        errfmt(err, errlen, "out of memory");
    if (rc) {
        search_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

uint64_t search_track_limit(const search_t *s) { return s->track; }

/* ======================================================================================
 * Scanning
 * ====================================================================================== */

typedef struct {
    int64_t ms;
    const char *feed, *id, *json;   /* into mem */
    size_t feed_len, id_len, json_len;
    int64_t us;
    char *mem;                      /* owned */
} hit_t;

typedef struct {
    const search_t *s;
    const search_src_t *src;
    bool counting;                  /* the page scans count (no aggregation scan did) */
    uint64_t total, cap;            /* cap: stop counting here (0: count nothing) */
    agg_run_t *run;                 /* owned; NULL: no aggregations */
    hit_t *page;                    /* owned, `need` entries */
    size_t npage, need;
    hit_t *grp;                     /* owned: matches in millisecond grp_ms, not yet sorted */
    size_t ngrp, grpcap;
    int64_t grp_ms;
    bool nomem;
} scan_t;

static void hit_free(hit_t *h) { free(h->mem); }

/* (published ms, id, feed) of the record against the cursor, ascending order: -1, 0, 1. */
static int cursor_cmp(const search_t *s, const store_rec_t *r)
{
    int64_t ms = ms_of(r->published_us);
    if (ms != s->after_ms)
        return ms < s->after_ms ? -1 : 1;
    int c = bytes_cmp(r->id, r->id_len, s->after_id, s->after_id_len);
    return c ? c : bytes_cmp(r->feed, r->feed_len, s->after_feed, s->after_feed_len);
}

static bool past_cursor(const search_t *s, const store_rec_t *r)
{
    if (!s->after)
        return true;
    int c = cursor_cmp(s, r);
    return s->desc ? c < 0 : c > 0;
}

static bool in_feeds(const search_src_t *src, const store_rec_t *r)
{
    if (!src->feeds)
        return true;
    for (size_t i = 0; i < src->nfeeds; i++)
        if (strlen(src->feeds[i]) == r->feed_len && memcmp(src->feeds[i], r->feed, r->feed_len) == 0)
            return true;
    return false;
}

static bool matches(const scan_t *sc, const store_rec_t *r)
{
    return in_feeds(sc->src, r) && (!sc->src->scope || query_match(sc->src->scope, r)) &&
           (!sc->s->q || query_match(sc->s->q, r));
}

static int hit_cmp_asc(const void *a, const void *b)
{
    const hit_t *x = a, *y = b;
    int c = bytes_cmp(x->id, x->id_len, y->id, y->id_len);
    return c ? c : bytes_cmp(x->feed, x->feed_len, y->feed, y->feed_len);
}

static int hit_cmp_desc(const void *a, const void *b) { return hit_cmp_asc(b, a); }

/* Sort the run and keep its first `keep` entries. */
static void group_cut(scan_t *sc, size_t keep)
{
    qsort(sc->grp, sc->ngrp, sizeof *sc->grp, sc->s->desc ? hit_cmp_desc : hit_cmp_asc);
    for (size_t i = keep; i < sc->ngrp; i++)
        hit_free(&sc->grp[i]);
    if (keep < sc->ngrp)
        sc->ngrp = keep;
}

/* The run is complete: move what the page still needs into it, in order. */
static void group_flush(scan_t *sc)
{
    group_cut(sc, sc->need - sc->npage);
    memcpy(sc->page + sc->npage, sc->grp, sc->ngrp * sizeof *sc->grp);
    sc->npage += sc->ngrp;
    sc->ngrp = 0;
}

static int group_grow(scan_t *sc)
{
    if (sc->ngrp < sc->grpcap)
        return 0;
    size_t cap = sc->grpcap ? sc->grpcap * 2 : 64;
    hit_t *g = realloc(sc->grp, cap * sizeof *g);
    if (!g)
        return -1;
    sc->grp = g;
    sc->grpcap = cap;
    return 0;
}

static int group_add(scan_t *sc, const store_rec_t *r)
{
    char *mem = group_grow(sc) ? NULL : malloc(r->feed_len + r->id_len + r->json_len + 1);
    if (!mem)
        return -1;
    hit_t *h = &sc->grp[sc->ngrp++];
    *h = (hit_t){.ms = ms_of(r->published_us), .us = r->published_us, .mem = mem, .feed_len = r->feed_len,
                 .id_len = r->id_len, .json_len = r->json_len};
    h->feed = memcpy(mem, r->feed, r->feed_len);
    h->id = memcpy(mem + r->feed_len, r->id, r->id_len);
    h->json = memcpy(mem + r->feed_len + r->id_len, r->json, r->json_len);
    sc->grp_ms = h->ms;
    size_t want = sc->need - sc->npage;
    if (sc->ngrp >= 64 && sc->ngrp >= 2 * want)
        group_cut(sc, want);
    return 0;
}

static bool done(const scan_t *sc) { return sc->npage >= sc->need && (!sc->counting || sc->total >= sc->cap); }

static void count_one(scan_t *sc)
{
    if (sc->total < sc->cap)
        sc->total++;
}

/* The page scan, in sort order from the cursor: counts and collects. */
static int page_cb(const store_rec_t *r, void *ud)
{
    scan_t *sc = ud;
    if (!past_cursor(sc->s, r) || !matches(sc, r))
        return 0;
    if (sc->counting)
        count_one(sc);
    if (sc->npage < sc->need) {
        if (sc->ngrp && ms_of(r->published_us) != sc->grp_ms)
            group_flush(sc);
        if (sc->npage < sc->need && group_add(sc, r) < 0) {
            sc->nomem = true;
            return 1;
        }
    }
    return done(sc);
}

/* The count of what lies before the cursor. */
static int before_cb(const store_rec_t *r, void *ud)
{
    scan_t *sc = ud;
    if (!past_cursor(sc->s, r) && matches(sc, r))
        count_one(sc);
    return sc->total >= sc->cap;
}

/* Every match, for aggregations and _count. */
static int all_cb(const store_rec_t *r, void *ud)
{
    scan_t *sc = ud;
    if (!matches(sc, r))
        return 0;
    count_one(sc);
    if (sc->run && agg_run_add(sc->run, r) != 0) {
        sc->nomem = true;
        return 1;
    }
    return 0;
}

/* Walk the time index of the store or the view from `from` (exclusive) towards `bound`. */
static int walk(scan_t *sc, bool desc, store_tpos_t from, int64_t bound, store_scan_fn *fn)
{
    const search_src_t *src = sc->src;
    if (src->view)
        return store_view_scan_time(src->view, from, bound, desc, 0, fn, sc, NULL);
    if (desc)
        return store_scan_time_desc(src->st, from, bound, 0, 0, fn, sc, NULL);
    return store_scan_time(src->st, from, bound, 0, 0, fn, sc, NULL);
}

static int walk_all(scan_t *sc, store_scan_fn *fn)
{
    return walk(sc, false, (store_tpos_t){INT64_MIN, 0}, INT64_MAX, fn);
}

/* The first microsecond of millisecond ms, and the first of the next, within int64. */
static int64_t ms_start_us(int64_t ms)
{
    return ms > INT64_MAX / 1000 ? INT64_MAX : ms < INT64_MIN / 1000 ? INT64_MIN : ms * 1000;
}

static int64_t ms_end_us(int64_t ms) { return ms >= INT64_MAX / 1000 ? INT64_MAX : ms_start_us(ms + 1); }

static int scan_page(scan_t *sc)
{
    const search_t *s = sc->s;
    int r;
    if (!s->desc)
        r = walk(sc, false, (store_tpos_t){s->after ? ms_start_us(s->after_ms) : INT64_MIN, 0}, INT64_MAX, page_cb);
    else if (s->after)
        r = walk(sc, true, (store_tpos_t){ms_end_us(s->after_ms), 0}, INT64_MIN, page_cb);
    else
        r = walk(sc, true, (store_tpos_t){INT64_MAX, UINT64_MAX}, INT64_MIN, page_cb);
    if (r < 0)
        return r;
    if (sc->ngrp && !sc->nomem)
        group_flush(sc);
    return 0;
}

/* Matches before the cursor, for hits.total. */
static int scan_before(scan_t *sc)
{
    const search_t *s = sc->s;
    if (!s->after || !sc->counting || sc->total >= sc->cap)
        return 0;
    if (!s->desc)
        return walk(sc, false, (store_tpos_t){INT64_MIN, 0}, ms_end_us(s->after_ms), before_cb);
    return walk(sc, false, (store_tpos_t){ms_start_us(s->after_ms), 0}, INT64_MAX, before_cb);
}

static void scan_free(scan_t *sc)
{
    for (size_t i = 0; i < sc->npage; i++)
        hit_free(&sc->page[i]);
    for (size_t i = 0; i < sc->ngrp; i++)
        hit_free(&sc->grp[i]);
    free(sc->page);
    free(sc->grp);
    agg_run_free(sc->run);
}

/* ======================================================================================
 * Responses
 * ====================================================================================== */

static const char shards[] = "\"_shards\":{\"total\":1,\"successful\":1,\"skipped\":0,\"failed\":0}";

/* Put back what was appended since `mark` and answer with an error instead. */
static int fail(bytebuf_t *out, size_t mark, int status, const char *type, const char *reason)
{
    if (out->p && mark <= out->len) {
        out->len = mark;
        out->p[mark] = '\0';
    }
    out->failed = 0;
    return eserror_put(out, status, type, reason, NULL);
}

static int fail_store(bytebuf_t *out, size_t mark, int code)
{
    char reason[256];
    snprintf(reason, sizeof reason, "store failure: %s", store_strerror(code));
    return fail(out, mark, 500, "store_exception", reason);
}

static void put_total(bytebuf_t *b, const search_t *s, const search_opts_t *o, uint64_t total)
{
    if (!s->track) {
        if (o->total_as_int)
            bytebuf_appends(b, "\"total\":-1,");
        return;
    }
    bool over = s->track != TRACK_ALL && total > s->track;
    unsigned long long v = over ? s->track : total;
    if (o->total_as_int)
        bytebuf_printf(b, "\"total\":%llu,", v);
    else
        bytebuf_printf(b, "\"total\":{\"value\":%llu,\"relation\":\"%s\"},", v, over ? "gte" : "eq");
}

static void put_head(bytebuf_t *b, const search_opts_t *o)
{
    bytebuf_appendc(b, '{');
    if (!o->id_key)
        return;
    bytebuf_append_json_str(b, o->id_key, strlen(o->id_key));
    bytebuf_appendc(b, ':');
    bytebuf_append_json_str(b, o->id, strlen(o->id));
    bytebuf_appendc(b, ',');
}

static void put_hits(bytebuf_t *b, const search_t *s, const scan_t *sc)
{
    size_t nhits = sc->npage > s->from ? sc->npage - s->from : 0;
    bytebuf_appends(b, s->sort_given || nhits == 0 ? "\"max_score\":null,\"hits\":[" : "\"max_score\":1.0,\"hits\":[");
    for (size_t i = s->from; i < sc->npage; i++) {
        const hit_t *h = &sc->page[i];
        srcfilter_hit_t sh = {h->feed, h->feed_len, h->id, h->id_len, h->json, h->json_len, h->us};
        if (i > s->from)
            bytebuf_appendc(b, ',');
        srcfilter_put_hit(b, &s->src, &sh, !s->sort_given);
    }
    bytebuf_appends(b, "]}");
}

static int respond_search(const search_t *s, const search_opts_t *o, scan_t *sc, int64_t t0, bytebuf_t *b)
{
    size_t mark = b->len;
    char err[512];
    put_head(b, o);
    bytebuf_printf(b, "\"took\":%lld,\"timed_out\":false,%s,\"hits\":{",
                   (long long)((timefmt_now_us() - t0) / 1000), shards);
    put_total(b, s, o, o->have_total ? o->total : sc->total);
    put_hits(b, s, sc);
    if (sc->run) {
        bytebuf_appends(b, ",\"aggregations\":");
        int rc = agg_run_render(sc->run, b, err, sizeof err);
        if (rc == AGG_ERR_TOO_MANY_BUCKETS)
            return fail(b, mark, 400, "too_many_buckets_exception", err);
        if (rc)
            return fail(b, mark, 500, "out_of_memory", "out of memory");
    }
    bytebuf_appendc(b, '}');
    return b->failed ? fail(b, mark, 500, "out_of_memory", "out of memory") : 200;
}

/* The last hit's sort values, for a caller that pages on. */
static json_t *last_sort(const search_t *s, const scan_t *sc)
{
    if (sc->npage <= s->from)
        return NULL;
    const hit_t *h = &sc->page[sc->npage - 1];
    return json_pack("[I,s%,s%]", (json_int_t)h->ms, h->id, h->id_len, h->feed, h->feed_len);
}

static int run_search(const search_t *s, const search_src_t *src, const search_opts_t *o, bytebuf_t *out,
                      search_result_t *res)
{
    int64_t t0 = timefmt_now_us();
    size_t mark = out->len;
    bool count = s->track && !o->have_total;
    scan_t sc = {.s = s, .src = src, .need = s->from + s->size};
    sc.cap = !count ? 0 : s->track == TRACK_ALL ? TRACK_ALL : s->track + 1;
    sc.counting = count && !(s->aggs && !o->no_aggs);
    int r = 0, status;
    if ((sc.need && !(sc.page = calloc(sc.need, sizeof *sc.page))) ||
        (s->aggs && !o->no_aggs && agg_run_new(s->aggs, &sc.run) != 0))
        sc.nomem = true;
    if (!sc.nomem && sc.run)
        r = walk_all(&sc, all_cb);
    if (r == 0 && !sc.nomem && !done(&sc))
        r = scan_page(&sc);
    if (r == 0 && !sc.nomem)
        r = scan_before(&sc);
    res->store_rc = r < 0 ? r : 0;
    if (sc.nomem)
        status = fail(out, mark, 500, "out_of_memory", "out of memory");
    else if (r < 0)
        status = fail_store(out, mark, r);
    else
        status = respond_search(s, o, &sc, t0, out);
    res->counted = o->have_total ? o->total : sc.total;
    res->last_sort = status == 200 ? last_sort(s, &sc) : NULL;
    scan_free(&sc);
    return status;
}

/* Without a query, scope or view, the counts the store keeps answer _count. */
static int count_fast(const search_src_t *src, uint64_t *n)
{
    *n = 0;
    if (!src->feeds) {
        store_stats_t stats;
        store_stats(src->st, &stats);
        *n = stats.activities;
        return 0;
    }
    for (size_t i = 0; i < src->nfeeds; i++)
        *n += store_feed_count(src->st, src->feeds[i]);
    return 0;
}

static int run_count(const search_t *s, const search_src_t *src, bytebuf_t *out, search_result_t *res)
{
    scan_t sc = {.s = s, .src = src, .cap = TRACK_ALL};
    int r = !s->q && !src->scope && !src->view ? count_fast(src, &sc.total) : walk_all(&sc, all_cb);
    res->store_rc = r < 0 ? r : 0;
    res->counted = sc.total;
    if (r < 0)
        return fail_store(out, out->len, r);
    bytebuf_printf(out, "{\"count\":%llu,%s}", (unsigned long long)sc.total, shards);
    return out->failed ? fail(out, out->len, 500, "out_of_memory", "out of memory") : 200;
}

int search_run(const search_t *s, const search_src_t *src, const search_opts_t *o, bytebuf_t *out,
               search_result_t *res)
{
    static const search_opts_t defaults = {0};
    search_result_t ignored;
    o = o ? o : &defaults;
    res = res ? res : &ignored;
    *res = (search_result_t){0};
    int status = s->kind == SEARCH_COUNT ? run_count(s, src, out, res) : run_search(s, src, o, out, res);
    if (res == &ignored)
        json_decref(ignored.last_sort);
    return status;
}

/* ======================================================================================
 * One call, from the body text
 * ====================================================================================== */

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static int execute(store_t *st, const query_t *scope, int kind, const char *body, size_t len, bytebuf_t *out)
{
    char err[1024];
    json_t *j = NULL;
    search_t *s = NULL;
    if (body && !(len <= QUERY_MAX_TEXT && blank(body, len)) &&
        query_parse_text(body, len, "request body", &j, err, sizeof err) < 0)
        return eserror_put(out, 400, "parsing_exception", err, NULL);
    int rc = search_parse(kind, j, timefmt_now_us(), &s, err, sizeof err);
    json_decref(j);
    if (rc)
        return eserror_put(out, rc == SEARCH_ERR_NOMEM ? 500 : 400, rc == SEARCH_ERR_NOMEM ? "out_of_memory" : "parsing_exception",
                           err, NULL);
    search_src_t src = {.st = st, .scope = scope};
    int status = search_run(s, &src, NULL, out, NULL);
    search_free(s);
    return status;
}

int search_execute(store_t *st, const query_t *scope, int kind, const char *body, size_t len, char **out,
                   size_t *out_len)
{
    bytebuf_t b = {0};
    int status = execute(st, scope, kind, body, len, &b);
    *out = bytebuf_take(&b, out_len);
    if (*out)
        return status;
    *out_len = 0;
    return 500;
}
