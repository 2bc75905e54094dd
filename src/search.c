/* search.c -- Elasticsearch's _search and _count over the store, without sockets: body in,
 * status and response body out.
 *
 * Order and paging. Hits are sorted by (published, id, feed) ascending, or all three
 * descending with "sort": [{"published": "desc"}]; without "sort" the order is ascending.
 * Every hit carries "sort": [published, id, feed] -- published in MICROSECONDS since the
 * epoch (the store's precision; Elasticsearch gives milliseconds for `date` and nanoseconds for
 * `date_nanos` fields, and clients pass sort values back opaquely) -- and "search_after" takes
 * that array back (published may also be an RFC 3339 string). Since (id, feed) is unique, a
 * search_after page starts exactly after the previous one: nothing is skipped or repeated,
 * however many activities share a published time.
 * The time index orders ties by seq, not by id, so the scan collects each run of records with
 * the same published microsecond that match, sorts it by (id, feed), and emits from it; the run
 * is kept to at most about twice what the page still needs (sorted and cut when it grows).
 *
 * hits.total follows track_total_hits (default 10,000, as Elasticsearch): matches are counted
 * up to that number and reported as {"value": N, "relation": "eq"}, or {"value": limit,
 * "relation": "gte"} past it; `true` counts them all, `false` (or -1) leaves hits.total out.
 * Counting covers the whole store, also the part before a search_after cursor (a second scan);
 * this is a scan, not an index lookup, so a large limit with a rare match costs a full scan.
 *
 * Scores: nothing is scored. Without "sort" every hit has _score 1.0 and max_score is 1.0 (null
 * without hits), as for a constant-score filter; with "sort", _score and max_score are null, as
 * Elasticsearch returns them for sorted searches.
 *
 * _source: true (default), false, a pattern, a list of patterns, or {"includes": [...],
 * "excludes": [...]} ("include"/"exclude" too), as srcfilter.h describes; srcfilter.c filters
 * and renders the hits.
 *
 * Bodies: at most 1 MiB, nesting at most 32, an object; unknown keys are errors that name
 * them. Errors are 400 with Elasticsearch's error shape. A store failure is 500. Out of memory
 * is 500 too (with no body when even that cannot be allocated).
 *
 * search_execute blocks for the whole scan; it holds one LMDB read transaction per scan. */
#include "search.h"
#include "bytebuf.h"
#include "errfmt.h"
#include "query.h"
#include "srcfilter.h"
#include "timefmt.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WINDOW 10000          /* Elasticsearch's index.max_result_window */
#define DEFAULT_TRACK 10000       /* Elasticsearch's default track_total_hits */
#define TRACK_ALL UINT64_MAX

/* ======================================================================================
 * Output buffer
 * ====================================================================================== */

/* Hand the buffer out as the response. */
static int buf_give(bytebuf_t *b, int status, char **out, size_t *out_len);

static int respond_oom(char **out, size_t *out_len)
{
    static const char body[] = "{\"error\":{\"root_cause\":[{\"type\":\"out_of_memory\",\"reason\":"
                               "\"out of memory\"}],\"type\":\"out_of_memory\",\"reason\":\"out of "
                               "memory\"},\"status\":500}";
    *out = strdup(body);
    *out_len = *out ? sizeof body - 1 : 0;
    return 500;
}

static int buf_give(bytebuf_t *b, int status, char **out, size_t *out_len)
{
    *out = bytebuf_take(b, out_len);
    return *out ? status : respond_oom(out, out_len);
}

/* {"error":{"root_cause":[{"type","reason"}],"type","reason"},"status"} */
static int respond_error(char **out, size_t *out_len, int status, const char *type,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int respond_error(char **out, size_t *out_len, int status, const char *type,
                         const char *fmt, ...)
{
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    bytebuf_t b = {0};
    for (int i = 0; i < 2; i++) {
        bytebuf_appends(&b, i ? "],\"type\":" : "{\"error\":{\"root_cause\":[{\"type\":");
        bytebuf_append_json_str(&b, type, strlen(type));
        bytebuf_appends(&b, ",\"reason\":");
        bytebuf_append_json_str(&b, reason, strlen(reason));
        if (i == 0)
            bytebuf_appends(&b, "}");
    }
    bytebuf_printf(&b, "},\"status\":%d}", status);
    return buf_give(&b, status, out, out_len);
}

/* ======================================================================================
 * Request
 * ====================================================================================== */

typedef struct {
    int kind;                       /* SEARCH_SEARCH or SEARCH_COUNT */
    query_t *q;                     /* owned; NULL: match everything */
    const query_t *scope;           /* borrowed: the client's scope; NULL: everything */
    size_t size, from;
    bool sort_given, desc;
    bool after;                     /* search_after given: */
    int64_t after_us;
    const char *after_id, *after_feed;   /* borrowed from body */
    size_t after_id_len, after_feed_len;
    uint64_t track;                 /* count matches up to this; 0: do not count */
    srcfilter_t src;                /* owned; its patterns are borrowed from body */
    json_t *body;                   /* owned: the parsed body, which the fields above borrow */
    char err[1024];                 /* the 400 reason */
} req_t;

static void req_free(req_t *rq)
{
    query_free(rq->q);
    json_decref(rq->body);
    srcfilter_free(&rq->src);
}

static int bad(req_t *rq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(req_t *rq, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verrfmt(rq->err, sizeof rq->err, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_window(req_t *rq, json_t *size, json_t *from)
{
    json_int_t sz = 10, fr = 0;
    if (size && !json_is_integer(size))
        return bad(rq, "[size] must be an integer");
    if (from && !json_is_integer(from))
        return bad(rq, "[from] must be an integer");
    if (size)
        sz = json_integer_value(size);
    if (from)
        fr = json_integer_value(from);
    if (sz < 0)
        return bad(rq, "[size] parameter cannot be negative, found [%lld]", (long long)sz);
    if (fr < 0)
        return bad(rq, "[from] parameter cannot be negative, found [%lld]", (long long)fr);
    if (sz > MAX_WINDOW || fr > MAX_WINDOW || sz + fr > MAX_WINDOW)
        return bad(rq, "Result window is too large, from + size must be less than or equal to: "
                       "[%d] but was [%lld]", MAX_WINDOW,
                   (long long)(sz > MAX_WINDOW || fr > MAX_WINDOW ? (sz > fr ? sz : fr) : sz + fr));
    rq->size = (size_t)sz;
    rq->from = (size_t)fr;
    return 0;
}

static int sort_order(req_t *rq, json_t *v)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (s && strcmp(s, "asc") == 0)
        rq->desc = false;
    else if (s && strcmp(s, "desc") == 0)
        rq->desc = true;
    else
        return bad(rq, "[sort] order must be \"asc\" or \"desc\"");
    return 0;
}

/* One sort element: "published", {"published": "asc"}, {"published": {"order": "desc"}}. */
static int parse_sort_one(req_t *rq, json_t *e)
{
    const char *field;
    json_t *spec = NULL;
    if (json_is_string(e)) {
        field = json_string_value(e);
    } else if (json_is_object(e) && json_object_size(e) == 1) {
        field = json_object_iter_key(json_object_iter(e));
        spec = json_object_iter_value(json_object_iter(e));
    } else {
        return bad(rq, "[sort] elements must be a field name or an object with one field");
    }
    if (strcmp(field, "published") != 0)
        return bad(rq, "unknown sort field [%s]; only [published] is supported (ties are broken by "
                       "id and feed)", field);
    rq->sort_given = true;
    if (!spec)
        return 0;
    if (json_is_string(spec))
        return sort_order(rq, spec);
    if (!json_is_object(spec))
        return bad(rq, "[sort.published] must be \"asc\", \"desc\" or {\"order\": ...}");
    const char *k;
    json_t *v;
    json_object_foreach(spec, k, v) {
        if (strcmp(k, "order") != 0)
            return bad(rq, "unknown key [%s] in [sort.published]; supported: order", k);
        if (sort_order(rq, v) < 0)
            return -1;
    }
    return 0;
}

static int parse_sort(req_t *rq, json_t *v)
{
    if (!json_is_array(v))
        return parse_sort_one(rq, v);
    if (json_array_size(v) > 1)
        return bad(rq, "[sort] on more than one field is not supported; only [published] "
                       "(ties are broken by id and feed)");
    return json_array_size(v) ? parse_sort_one(rq, json_array_get(v, 0)) : 0;
}

/* [published (microseconds, or RFC 3339), id, feed]: a hit's "sort" array. */
static int parse_after(req_t *rq, json_t *v)
{
    static const char want[] = "[search_after] must be the \"sort\" array of a hit: "
                               "[published microseconds, id, feed]";
    if (!json_is_array(v) || json_array_size(v) != 3)
        return bad(rq, "%s", want);
    json_t *p = json_array_get(v, 0), *id = json_array_get(v, 1), *feed = json_array_get(v, 2);
    if (!json_is_string(id) || !json_is_string(feed))
        return bad(rq, "%s", want);
    if (json_is_integer(p)) {
        rq->after_us = json_integer_value(p);
    } else if (!json_is_string(p) ||
               timefmt_parse_rfc3339(json_string_value(p), json_string_length(p), &rq->after_us, NULL)) {
        return bad(rq, "%s", want);
    }
    rq->after = true;
    rq->after_id = json_string_value(id);
    rq->after_id_len = json_string_length(id);
    rq->after_feed = json_string_value(feed);
    rq->after_feed_len = json_string_length(feed);
    return 0;
}

static int parse_track(req_t *rq, json_t *v)
{
    if (json_is_boolean(v)) {
        rq->track = json_is_true(v) ? TRACK_ALL : 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < -1)
        return bad(rq, "[track_total_hits] must be true, false or a non-negative integer");
    rq->track = json_integer_value(v) < 0 ? 0 : (uint64_t)json_integer_value(v);
    return 0;
}

static int parse_source(req_t *rq, json_t *v)
{
    return srcfilter_parse(&rq->src, v, rq->err, sizeof rq->err);
}

static int parse_query(req_t *rq, json_t *v)
{
    char err[768];
    if (query_compile(v, &rq->q, err, sizeof err) < 0)
        return bad(rq, "%s", err);
    return 0;
}

static const char *const search_keys[] = {"query", "size", "from", "sort", "search_after",
                                          "_source", "track_total_hits", NULL};
static const char *const count_keys[] = {"query", NULL};

static int parse_body(req_t *rq, json_t *body)
{
    const char *const *keys = rq->kind == SEARCH_COUNT ? count_keys : search_keys;
    json_t *vals[7] = {NULL};
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k) != 0)
            i++;
        if (!keys[i])
            return bad(rq, rq->kind == SEARCH_COUNT
                               ? "unknown key [%s] in the count body; supported: query"
                               : "unknown key [%s] in the search body; supported: query, size, from, "
                                 "sort, search_after, _source, track_total_hits", k);
        vals[i] = v;
    }
    if ((vals[0] && parse_query(rq, vals[0]) < 0) || parse_window(rq, vals[1], vals[2]) < 0 ||
        (vals[3] && parse_sort(rq, vals[3]) < 0) || (vals[4] && parse_after(rq, vals[4]) < 0) ||
        (vals[5] && parse_source(rq, vals[5]) < 0) || (vals[6] && parse_track(rq, vals[6]) < 0))
        return -1;
    if (rq->after && rq->from > 0)
        return bad(rq, "[from] parameter must be set to 0 when [search_after] is used");
    return 0;
}

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* Parse and check the body into rq. Returns 0 or -1 with rq->err set. */
static int parse_request(req_t *rq, const char *body, size_t len)
{
    rq->size = 10;
    rq->track = DEFAULT_TRACK;
    if (!body || (len <= QUERY_MAX_TEXT && blank(body, len)))
        return 0;
    json_t *j;
    if (query_parse_text(body, len, "request body", &j, rq->err, sizeof rq->err) < 0)
        return -1;
    rq->body = j;
    return json_is_object(j) ? parse_body(rq, j) : bad(rq, "request body must be a JSON object");
}

/* ======================================================================================
 * Scanning
 * ====================================================================================== */

typedef struct {
    int64_t pub;
    const char *feed, *id, *json;   /* into mem */
    size_t feed_len, id_len, json_len;
    char *mem;                      /* owned */
} hit_t;

typedef struct {
    const req_t *rq;
    uint64_t total, cap;            /* cap: stop counting here (0: count nothing) */
    hit_t *page;                    /* owned, `need` entries */
    size_t npage, need;
    hit_t *grp;                     /* owned: matches sharing grp_pub, not yet sorted */
    size_t ngrp, grpcap;
    int64_t grp_pub;
    bool nomem;
} scan_t;

static void hit_free(hit_t *h) { free(h->mem); }

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int r = n ? memcmp(a, b, n) : 0;
    if (r)
        return r < 0 ? -1 : 1;
    return an < bn ? -1 : an > bn;
}

/* (published, id, feed) of the record against the cursor, ascending order: -1, 0, 1. */
static int cursor_cmp(const req_t *rq, const store_rec_t *r)
{
    if (r->published_us != rq->after_us)
        return r->published_us < rq->after_us ? -1 : 1;
    int c = cmp_bytes(r->id, r->id_len, rq->after_id, rq->after_id_len);
    return c ? c : cmp_bytes(r->feed, r->feed_len, rq->after_feed, rq->after_feed_len);
}

static bool past_cursor(const req_t *rq, const store_rec_t *r)
{
    if (!rq->after)
        return true;
    int c = cursor_cmp(rq, r);
    return rq->desc ? c < 0 : c > 0;
}

static bool matches(const req_t *rq, const store_rec_t *r)
{
    return (!rq->q || query_match(rq->q, r)) && (!rq->scope || query_match(rq->scope, r));
}

static int hit_cmp_asc(const void *a, const void *b)
{
    const hit_t *x = a, *y = b;
    int c = cmp_bytes(x->id, x->id_len, y->id, y->id_len);
    return c ? c : cmp_bytes(x->feed, x->feed_len, y->feed, y->feed_len);
}

static int hit_cmp_desc(const void *a, const void *b) { return hit_cmp_asc(b, a); }

/* Sort the run and keep its first `keep` entries. */
static void group_cut(scan_t *s, size_t keep)
{
    qsort(s->grp, s->ngrp, sizeof *s->grp, s->rq->desc ? hit_cmp_desc : hit_cmp_asc);
    for (size_t i = keep; i < s->ngrp; i++)
        hit_free(&s->grp[i]);
    if (keep < s->ngrp)
        s->ngrp = keep;
}

/* The run is complete: move what the page still needs into it, in order. */
static void group_flush(scan_t *s)
{
    size_t want = s->need - s->npage;
    group_cut(s, want);
    memcpy(s->page + s->npage, s->grp, s->ngrp * sizeof *s->grp);
    s->npage += s->ngrp;
    s->ngrp = 0;
}

static int group_add(scan_t *s, const store_rec_t *r)
{
    if (s->ngrp == s->grpcap) {
        size_t cap = s->grpcap ? s->grpcap * 2 : 64;
        hit_t *g = realloc(s->grp, cap * sizeof *g);
        if (!g)
            return -1;
        s->grp = g;
        s->grpcap = cap;
    }
    char *mem = malloc(r->feed_len + r->id_len + r->json_len + 1);
    if (!mem)
        return -1;
    hit_t *h = &s->grp[s->ngrp++];
    h->mem = mem;
    h->pub = r->published_us;
    h->feed = memcpy(mem, r->feed, r->feed_len);
    h->id = memcpy(mem + r->feed_len, r->id, r->id_len);
    h->json = memcpy(mem + r->feed_len + r->id_len, r->json, r->json_len);
    h->feed_len = r->feed_len;
    h->id_len = r->id_len;
    h->json_len = r->json_len;
    s->grp_pub = r->published_us;
    size_t want = s->need - s->npage;
    if (s->ngrp >= 64 && s->ngrp >= 2 * want)
        group_cut(s, want);
    return 0;
}

static bool done(const scan_t *s) { return s->npage >= s->need && s->total >= s->cap; }

/* The page scan, in sort order from the cursor: counts and collects. */
static int page_cb(const store_rec_t *r, void *ud)
{
    scan_t *s = ud;
    if (!past_cursor(s->rq, r) || !matches(s->rq, r))
        return 0;
    if (s->total < s->cap)
        s->total++;
    if (s->npage < s->need) {
        if (s->ngrp && r->published_us != s->grp_pub)
            group_flush(s);
        if (s->npage < s->need && group_add(s, r) < 0) {
            s->nomem = true;
            return 1;
        }
    }
    return done(s);
}

/* The count of what lies before the cursor. */
static int count_cb(const store_rec_t *r, void *ud)
{
    scan_t *s = ud;
    if (!past_cursor(s->rq, r) && matches(s->rq, r))
        s->total++;
    return s->total >= s->cap;
}

/* Every match, for _count. */
static int all_cb(const store_rec_t *r, void *ud)
{
    scan_t *s = ud;
    s->total += matches(s->rq, r);
    return 0;
}

static int scan_page(store_t *st, scan_t *s)
{
    const req_t *rq = s->rq;
    int r;
    if (!rq->desc) {
        store_tpos_t from = {rq->after ? rq->after_us : INT64_MIN, 0};
        r = store_scan_time(st, from, INT64_MAX, 0, 0, page_cb, s, NULL);
    } else {
        store_tpos_t before = {rq->after ? rq->after_us : INT64_MAX, UINT64_MAX};
        r = store_scan_time_desc(st, before, INT64_MIN, 0, 0, page_cb, s, NULL);
    }
    if (r < 0)
        return r;
    if (s->ngrp && !s->nomem)
        group_flush(s);
    return 0;
}

/* Matches before the cursor, for hits.total. */
static int scan_before(store_t *st, scan_t *s)
{
    const req_t *rq = s->rq;
    if (!rq->after || s->total >= s->cap)
        return 0;
    if (!rq->desc) {
        int64_t end = rq->after_us == INT64_MAX ? INT64_MAX : rq->after_us + 1;
        return store_scan_time(st, (store_tpos_t){INT64_MIN, 0}, end, 0, 0, count_cb, s, NULL);
    }
    return store_scan_time(st, (store_tpos_t){rq->after_us, 0}, INT64_MAX, 0, 0, count_cb, s, NULL);
}

/* ======================================================================================
 * Responses
 * ====================================================================================== */

static void put_hit(bytebuf_t *b, const req_t *rq, const hit_t *h)
{
    srcfilter_hit_t sh = {h->feed, h->feed_len, h->id, h->id_len, h->json, h->json_len, h->pub};
    srcfilter_put_hit(b, &rq->src, &sh, !rq->sort_given);
}

static int respond_search(const req_t *rq, const scan_t *s, int64_t t0, char **out, size_t *out_len)
{
    bytebuf_t b = {0};
    size_t nhits = s->npage > rq->from ? s->npage - rq->from : 0;
    bytebuf_printf(&b, "{\"took\":%lld,\"timed_out\":false,\"_shards\":{\"total\":1,\"successful\":1,"
                   "\"skipped\":0,\"failed\":0},\"hits\":{",
               (long long)((timefmt_now_us() - t0) / 1000));
    if (rq->track) {
        bool over = rq->track != TRACK_ALL && s->total > rq->track;
        bytebuf_printf(&b, "\"total\":{\"value\":%llu,\"relation\":\"%s\"},",
                   (unsigned long long)(over ? rq->track : s->total), over ? "gte" : "eq");
    }
    bytebuf_appends(&b, rq->sort_given || nhits == 0 ? "\"max_score\":null,\"hits\":[" : "\"max_score\":1.0,\"hits\":[");
    for (size_t i = rq->from; i < s->npage; i++) {
        if (i > rq->from)
            bytebuf_appends(&b, ",");
        put_hit(&b, rq, &s->page[i]);
    }
    bytebuf_appends(&b, "]}}");
    return buf_give(&b, 200, out, out_len);
}

static int respond_count(uint64_t n, char **out, size_t *out_len)
{
    bytebuf_t b = {0};
    bytebuf_printf(&b, "{\"count\":%llu,\"_shards\":{\"total\":1,\"successful\":1,\"skipped\":0,"
                   "\"failed\":0}}", (unsigned long long)n);
    return buf_give(&b, 200, out, out_len);
}

static int respond_store_error(int code, char **out, size_t *out_len)
{
    return respond_error(out, out_len, 500, "store_exception", "store failure: %s", store_strerror(code));
}

static int run_count(store_t *st, const req_t *rq, char **out, size_t *out_len)
{
    scan_t s = {.rq = rq, .cap = TRACK_ALL};
    if (!rq->q && !rq->scope) {
        store_stats_t stats;
        store_stats(st, &stats);
        return respond_count(stats.activities, out, out_len);
    }
    int r = store_scan_time(st, (store_tpos_t){INT64_MIN, 0}, INT64_MAX, 0, 0, all_cb, &s, NULL);
    if (r < 0)
        return respond_store_error(r, out, out_len);
    return respond_count(s.total, out, out_len);
}

static int run_search(store_t *st, const req_t *rq, int64_t t0, char **out, size_t *out_len)
{
    scan_t s = {.rq = rq, .need = rq->from + rq->size};
    s.cap = rq->track == 0 ? 0 : rq->track == TRACK_ALL ? TRACK_ALL : rq->track + 1;
    int status;
    if (s.need && !(s.page = calloc(s.need, sizeof *s.page)))
        return respond_oom(out, out_len);
    int r = done(&s) ? 0 : scan_page(st, &s);
    if (r == 0 && !s.nomem)
        r = scan_before(st, &s);
    if (s.nomem)
        status = respond_oom(out, out_len);
    else if (r < 0)
        status = respond_store_error(r, out, out_len);
    else
        status = respond_search(rq, &s, t0, out, out_len);
    for (size_t i = 0; i < s.npage; i++)
        hit_free(&s.page[i]);
    for (size_t i = 0; i < s.ngrp; i++)
        hit_free(&s.grp[i]);
    free(s.page);
    free(s.grp);
    return status;
}

int search_execute(store_t *st, int kind, const char *body, size_t len, const query_t *scope, char **out,
                   size_t *out_len)
{
    int64_t t0 = timefmt_now_us();
    req_t rq = {.kind = kind, .scope = scope};
    *out = NULL;
    *out_len = 0;
    int status;
    if (parse_request(&rq, body, len) < 0)
        status = respond_error(out, out_len, 400, "parsing_exception", "%s", rq.err);
    else if (kind == SEARCH_COUNT)
        status = run_count(st, &rq, out, out_len);
    else
        status = run_search(st, &rq, t0, out, out_len);
    req_free(&rq);
    return status;
}
