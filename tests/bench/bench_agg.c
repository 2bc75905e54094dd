/* bench_agg.c -- aggregations and paging over a store of 1,000,000 ~410-byte activities
 * (written in batches of 1,000 into a temporary directory, one second apart: 278 hours):
 * first the engine alone, the whole time index scanned into one aggregation run, then rendered:
 *   agg.terms_type          {"terms":{"field":"type"}}                        (target >= 5,000,000/s)
 *   agg.date_histogram_hour {"date_histogram":{"field":"published","calendar_interval":"hour"}}
 *                                                                             (target >= 5,000,000/s)
 *   agg.terms_object_type   {"terms":{"field":"object.type"}} (reads the JSON) (target >= 1,000,000/s)
 * and, for reference, the bare scan and three levels (terms of feed, hours, terms of type);
 * then the same three through the search path (search.*: a _search body with "size": 0 and the
 * aggregation, parsed, run and rendered as the server does, hits.total counted too); then
 *   pit.walk_1000           a point in time paged with search_after, 1,000 hits a page, through
 *                           the API's operations (esops.h, no sockets): every activity rendered
 *                           with its _source                                 (target >= 500,000/s)
 * Rates are activities per second of wall time (clock.h), best of 3; the bucket counts and the
 * walk are checked against what was written. Exit status 0 unless something failed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "agg.h"
#include "bench.h"
#include "clock.h"
#include "esops.h"
#include "harness.h"
#include "pit.h"
#include "search.h"
#include "store.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ACTS 1000000
#define BASE_US 1700000000000000LL   /* 2023-11-14T22:13:20Z */
#define STEP_US 1000000LL            /* one activity a second */

static const char *const object_types[] = {"Note", "Article", "Image", "Video", "Event", "Question",
                                            "Page"};
#define N_OBJECT_TYPES (sizeof object_types / sizeof object_types[0])

/* What the aggregations must find. */
typedef struct { long creates, announces, notes; } truth_t;

/* The i-th activity, ~410 bytes: 3 in 4 Create (1 in 10 of those also Announce), else Update;
 * one in three in feed "other". Counts what the aggregations must find. */
static int make_activity(long i, store_activity_t *a, void *ud)
{
    static char json[640], id[96], actor[64], types[32];
    truth_t *t = ud;
    const char *otype = object_types[(i * 31) % N_OBJECT_TYPES];
    bool create = i % 4 != 3, announce = create && i % 10 == 0;
    snprintf(types, sizeof types, "%s%s", create ? "Create" : "Update",
             announce ? "\x1f" "Announce" : "");
    t->creates += create;
    t->announces += announce;
    t->notes += otype == object_types[0];
    size_t id_len = bench_activity_id(id, i);
    int alen = snprintf(actor, sizeof actor, "https://bench.example/users/u%ld", i % 97);
    int len = snprintf(json, sizeof json,
        "{\"@context\":\"https://www.w3.org/ns/activitystreams\",\"type\":%s,\"id\":\"%s\","
        "\"actor\":{\"id\":\"%s\",\"type\":\"Person\"},\"published\":\"2023-11-14T22:13:20Z\","
        "\"object\":{\"type\":\"%s\",\"id\":\"https://bench.example/objects/%08ld\",\"content\":"
        "\"lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
        "incididunt ut labore %ld.\"}}",
        announce ? "[\"Create\",\"Announce\"]" : create ? "\"Create\"" : "\"Update\"", id, actor, otype,
        i, i);
    *a = (store_activity_t){
        .feed = i % 3 ? "bench" : "other", .feed_len = 5, .id = id, .id_len = id_len,
        .published_us = BASE_US + i * STEP_US, .types = types, .types_len = strlen(types),
        .actor = actor, .actor_len = (size_t)alen, .json = json, .json_len = (size_t)len,
    };
    return 0;
}

static int on_rec(const store_rec_t *r, void *ud)
{
    return agg_run_add(ud, r) ? 1 : 0;
}

/* doc_count of the bucket with this key in aggregations.<name>.buckets, summed over all
 * buckets when key is NULL; -1 when the output is not as expected. */
static long bucket_count(const char *text, const char *name, const char *key)
{
    json_t *j = json_loads(text, 0, NULL), *b = json_object_get(json_object_get(j, name), "buckets");
    long n = json_is_array(b) ? 0 : -1;
    size_t i;
    json_t *e;
    json_array_foreach(b, i, e) {
        const char *k = json_string_value(json_object_get(e, "key"));
        if (!key || (k && strcmp(k, key) == 0))
            n += (long)json_integer_value(json_object_get(e, "doc_count"));
    }
    json_decref(j);
    return n;
}

typedef struct {
    const char *label, *aggs, *target;
    const char *key;    /* the bucket to check (NULL: the sum of all), or no check when want < 0 */
    long want;
} bench_t;

/* One pass: a new run over the whole store, rendered. Returns the rate, or -1. */
static double one_pass(store_t *st, const agg_t *a, bytebuf_t *out)
{
    agg_run_t *run;
    char err[512];
    if (agg_run_new(a, &run))
        return -1;
    int64_t t0 = clock_mono_ns();
    int rc = store_scan_time(st, (store_tpos_t){INT64_MIN, 0}, INT64_MAX, 0, 0, on_rec, run, NULL);
    bytebuf_clear(out);
    if (rc == 0 && agg_run_render(run, out, err, sizeof err))
        rc = -1;
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    agg_run_free(run);
    return rc ? -1 : N_ACTS / secs;
}

static int bench_one(store_t *st, const bench_t *bn)
{
    char err[512];
    json_t *j = json_loads(bn->aggs, 0, NULL);
    agg_t *a;
    if (!j || agg_compile(j, BASE_US, &a, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", bn->label, j ? err : "bad JSON");
        json_decref(j);
        return -1;
    }
    json_decref(j);
    bytebuf_t out = {0};
    double best = 0;
    long got = 0;
    for (int round = 0; round < 3 && best >= 0; round++) {
        double rate = one_pass(st, a, &out);
        best = rate < 0 ? -1 : rate > best ? rate : best;
    }
    if (best > 0 && bn->want >= 0)
        got = bucket_count(out.p, "a", bn->key);
    agg_free(a);
    bytebuf_free(&out);
    if (best < 0 || (bn->want >= 0 && got != bn->want)) {
        fprintf(stderr, "%s: failed (%ld counted under %s, want %ld)\n", bn->label, got,
                bn->key ? bn->key : "all buckets", bn->want);
        return -1;
    }
    printf("%s  %.0f activities/s%s  [%s; best of 3]\n", bn->label, best, bn->target, bn->aggs);
    return 0;
}

/* ---- the search path ---- */

/* One search with the aggregation: parsed, run over the whole store, rendered. Returns the
 * rate (or -1), the response in out. */
static double search_pass(store_t *st, json_t *body, bytebuf_t *out)
{
    search_t *s;
    char err[512];
    int64_t t0 = clock_mono_ns();
    if (search_parse(SEARCH_SEARCH, body, BASE_US, &s, err, sizeof err) != 0) {
        fprintf(stderr, "search: %s\n", err);
        return -1;
    }
    search_src_t src = {.st = st};
    bytebuf_clear(out);
    int status = search_run(s, &src, NULL, out, NULL);
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    search_free(s);
    return status == 200 ? N_ACTS / secs : -1;
}

static int bench_search(store_t *st, const bench_t *bn)
{
    char text[1024];
    snprintf(text, sizeof text, "{\"size\":0,\"aggs\":%s}", bn->aggs);
    json_t *body = json_loads(text, 0, NULL);
    bytebuf_t out = {0};
    double best = 0;
    for (int round = 0; round < 3 && best >= 0 && body; round++) {
        double rate = search_pass(st, body, &out);
        best = rate < 0 ? -1 : rate > best ? rate : best;
    }
    json_t *res = best > 0 ? json_loads(out.p, 0, NULL) : NULL;
    char *aggs = res ? json_dumps(json_object_get(res, "aggregations"), JSON_COMPACT) : NULL;
    long got = aggs && bn->want >= 0 ? bucket_count(aggs, "a", bn->key) : 0;
    json_decref(body);
    json_decref(res);
    bytebuf_free(&out);
    free(aggs);
    if (best <= 0 || (bn->want >= 0 && got != bn->want)) {
        fprintf(stderr, "search.%s: failed (%ld counted, want %ld)\n", bn->label + 4, got, bn->want);
        return -1;
    }
    printf("search.%s  %.0f activities/s%s  [_search with size 0; best of 3]\n", bn->label + 4, best, bn->target);
    return 0;
}

/* ---- a point in time, paged ---- */

/* The last "sort":[...] of a response, copied into buf; 0 or -1. Hits come last in each. */
static int last_sort(const bytebuf_t *b, char *buf, size_t len)
{
    static const char key[] = "\"sort\":[";
    const char *p = NULL;
    for (const char *q = b->p; (q = memmem(q, b->len - (size_t)(q - b->p), key, sizeof key - 1)); q += sizeof key - 1)
        p = q;
    const char *from = p ? p + sizeof key - 1 : NULL, *end = p ? strchr(from, ']') : NULL;
    if (!end || (size_t)(end - from) >= len)
        return -1;
    snprintf(buf, len, "%.*s", (int)(end - from), from);
    return 0;
}

static size_t count_hits(const bytebuf_t *b)
{
    static const char hit[] = "{\"_index\":";
    size_t n = 0;
    for (const char *q = b->p; (q = memmem(q, b->len - (size_t)(q - b->p), hit, sizeof hit - 1)); q += sizeof hit - 1)
        n++;
    return n;
}

/* Open a point in time and page through it; returns activities per second, or -1. */
static double pit_walk(const esops_env_t *env)
{
    bytebuf_t out = {0};
    bool text;
    esop_t open = {.op = ESOP_PIT_OPEN, .path = "/_pit", .index = "bench,other", .qs = "keep_alive=5m", .qs_len = 13};
    if (esops_run(env, &open, &out, &text) != 200)
        return -1;
    json_t *j = json_loads(out.p, 0, NULL);
    char id[PIT_ID_LEN + 1], after[256] = "", body[512];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    size_t seen = 0, n;
    int64_t t0 = clock_mono_ns();
    do {
        snprintf(body, sizeof body, "{\"pit\":{\"id\":\"%s\",\"keep_alive\":\"5m\"},\"size\":1000,\"sort\":"
                 "[{\"published\":\"asc\"}]%s%s%s}", id, after[0] ? ",\"search_after\":[" : "", after, after[0] ? "]" : "");
        esop_t page = {.op = ESOP_SEARCH, .path = "/_search", .body = body, .body_len = strlen(body)};
        bytebuf_clear(&out);
        if (esops_run(env, &page, &out, &text) != 200) {
            fprintf(stderr, "pit.walk_1000: %.300s\n", out.p);
            break;
        }
        seen += n = count_hits(&out);
    } while (n && last_sort(&out, after, sizeof after) == 0);
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    bytebuf_free(&out);
    if (seen != N_ACTS)
        fprintf(stderr, "pit.walk_1000: %zu activities seen, want %d\n", seen, N_ACTS);
    return seen == N_ACTS ? N_ACTS / secs : -1;
}

static int bench_pit(store_t *st)
{
    pit_reg_t *pits;
    if (pit_reg_new(&pits, st, 4, PIT_MAX_KEEP_ALIVE_MS) != 0)
        return -1;
    esops_env_t env = {.st = st, .pits = pits};
    double best = 0;
    for (int round = 0; round < 3 && best >= 0; round++) {
        double rate = pit_walk(&env);
        best = rate < 0 ? -1 : rate > best ? rate : best;
    }
    pit_reg_free(pits);
    if (best <= 0) {
        fprintf(stderr, "pit.walk_1000: failed (not every activity exactly once)\n");
        return -1;
    }
    printf("pit.walk_1000  %.0f activities/s (target >= 500000)  [pages of 1,000 with search_after, "
           "_source rendered; best of 3]\n", best);
    return 0;
}

static int run_all(store_t *st, const truth_t *t)
{
    const bench_t benches[] = {
        {"agg.scan_only", "{}", "", NULL, -1},
        {"agg.terms_type", "{\"a\":{\"terms\":{\"field\":\"type\"}}}", " (target >= 5000000)",
         "Create", t->creates},
        {"agg.date_histogram_hour",
         "{\"a\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"hour\"}}}",
         " (target >= 5000000)", NULL, N_ACTS},
        {"agg.terms_object_type", "{\"a\":{\"terms\":{\"field\":\"object.type\"}}}",
         " (target >= 1000000)", "Note", t->notes},
        {"agg.nested_3", "{\"a\":{\"terms\":{\"field\":\"feed\"},\"aggs\":{\"h\":{\"date_histogram\":"
         "{\"field\":\"published\",\"calendar_interval\":\"hour\"},\"aggs\":{\"t\":{\"terms\":"
         "{\"field\":\"type\"}}}}}}}", "", NULL, N_ACTS},
    };
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        if (bench_one(st, &benches[i]))
            return -1;
    for (size_t i = 1; i < 4; i++)   /* the targets' three through the search path */
        if (bench_search(st, &benches[i]))
            return -1;
    return t->announces > 0 && bench_pit(st) == 0 ? 0 : -1;
}

int main(void)
{
    const char *tmp = bench_shm_has_room(4e9) ? "/dev/shm" : bench_tmp_parent();
    bench_print_machine();
    char dir[4096], err[512];
    if (bench_mkdtemp(dir, sizeof dir, tmp, "bench_agg") != 0)
        return 1;
    store_t *st = NULL;
    truth_t t = {0, 0, 0};
    int rc = store_open(&st, dir, 0, err, sizeof err);
    if (rc)
        fprintf(stderr, "store_open: %s\n", err);
    if (rc == 0)
        rc = bench_fill_store(st, N_ACTS, make_activity, &t, "agg.setup");
    if (rc == 0)
        rc = run_all(st, &t);
    store_close(st);
    h_rmdir(dir);
    return rc ? 1 : 0;
}
