/* test_esops.c -- the operations of the Elasticsearch API without sockets, over a real store:
 * the root document, index expressions, URL parameters, _count, _msearch with errors in place,
 * points in time and scrolls that keep seeing what they saw while the store changes (each
 * activity exactly once), their limits and errors, _doc, _mapping, _cat/indices, filter_path
 * and pretty, and a caller's scope in everything. */
#include "esops.h"
#include "pit.h"
#include "store.h"
#include "timefmt.h"
#include <criterion/criterion.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE_US INT64_C(1704067200000000)   /* 2024-01-01T00:00:00Z */
#define N_CRM 50
#define N_EVENTS 30
#define N_OLD 5

static char *g_dir;
static store_t *g_st;
static pit_reg_t *g_pits;
static const char *const g_feeds[] = {"crm", "events", "empty"};   /* configured; "old" is stored only */
static esops_env_t g_env;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void put(store_batch_t *b, const char *feed, const char *id, int64_t us, const char *type, int version)
{
    char json[512], when[TIMEFMT_RFC3339_MAX];
    timefmt_format_rfc3339(us, when);
    int len = snprintf(json, sizeof json,
                       "{\"id\":\"%s\",\"type\":\"%s\",\"published\":\"%s\",\"actor\":{\"id\":\"u%d\"},"
                       "\"object\":{\"type\":\"Note\",\"content\":\"hello world\",\"n\":%d},\"v\":%d,\"ok\":true}",
                       id, type, when, version % 3, version, version);
    store_activity_t a = {.feed = feed, .feed_len = strlen(feed), .id = id, .id_len = strlen(id),
                          .published_us = us, .types = type, .types_len = strlen(type), .actor = "u0",
                          .actor_len = 2, .json = json, .json_len = (size_t)len};
    cr_assert_eq(store_batch_upsert(b, &a, 0), 0);
}

static void commit(store_batch_t *b)
{
    cr_assert_eq(store_batch_commit(b, NULL), 0);
}

static void setup(void)
{
    char tmpl[] = "/tmp/test_esops.XXXXXX", err[256], id[32];
    cr_assert_not_null(mkdtemp(tmpl));
    g_dir = strdup(tmpl);
    cr_assert_eq(store_open(&g_st, g_dir, 0, err, sizeof err), 0, "%s", err);
    store_batch_t *b;
    cr_assert_eq(store_batch_new(g_st, &b), 0);
    for (int i = 0; i < N_CRM; i++) {
        snprintf(id, sizeof id, "c%02d", i);
        put(b, "crm", id, BASE_US + i * INT64_C(1000000), i % 2 ? "Like" : "Create", 1);
    }
    for (int i = 0; i < N_EVENTS; i++) {
        snprintf(id, sizeof id, "e%02d", i);
        put(b, "events", id, BASE_US + i * INT64_C(500), "Follow", 1);   /* 2 per millisecond */
    }
    for (int i = 0; i < N_OLD; i++) {
        snprintf(id, sizeof id, "o%d", i);
        put(b, "old", id, BASE_US - INT64_C(86400000000), "Create", 1);
    }
    put(b, "crm", "dup", BASE_US, "Create", 1);
    put(b, "events", "dup", BASE_US, "Create", 1);
    commit(b);
    store_batch_free(b);
    cr_assert_eq(pit_reg_new(&g_pits, g_st, 3, PIT_MAX_KEEP_ALIVE_MS), 0);
    g_env = (esops_env_t){.st = g_st, .pits = g_pits, .feeds = g_feeds, .nfeeds = 3, .node_name = "node-1"};
}

static void teardown(void)
{
    pit_reg_free(g_pits);
    store_close(g_st);
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(g_dir);
}

TestSuite(esops, .init = setup, .fini = teardown, .timeout = 60);

/* ---- running operations ---- */

typedef struct {
    int status;
    json_t *j;          /* the body parsed (NULL for text) */
    char *text;
} res_t;

static res_t run_scoped(int op, const char *index, const char *id, const char *qs, const char *body,
                        const query_t *scope)
{
    esop_t o = {.op = op, .path = "/test", .index = index, .id = id, .id_len = id ? strlen(id) : 0, .qs = qs,
                .qs_len = qs ? strlen(qs) : 0, .body = body, .body_len = body ? strlen(body) : 0, .scope = scope};
    bytebuf_t b = {0};
    bool text;
    res_t r = {0};
    r.status = esops_run(&g_env, &o, &b, &text);
    cr_assert(!b.failed);
    r.text = bytebuf_take(&b, NULL);
    cr_assert_not_null(r.text);
    if (!text) {
        json_error_t je;
        r.j = json_loads(r.text, 0, &je);
        cr_assert_not_null(r.j, "not JSON (%s): %s", je.text, r.text);
    }
    return r;
}

static res_t run(int op, const char *index, const char *qs, const char *body)
{
    return run_scoped(op, index, NULL, qs, body, NULL);
}

static void res_free(res_t *r)
{
    json_decref(r->j);
    free(r->text);
}

static json_int_t total(const res_t *r)
{
    json_t *t = json_object_get(json_object_get(r->j, "hits"), "total");
    return json_is_integer(t) ? json_integer_value(t) : json_integer_value(json_object_get(t, "value"));
}

static json_t *hits(const res_t *r) { return json_object_get(json_object_get(r->j, "hits"), "hits"); }

static const char *err_type(const res_t *r)
{
    return json_string_value(json_object_get(json_object_get(r->j, "error"), "type"));
}

static const char *err_reason(const res_t *r)
{
    const char *s = json_string_value(json_object_get(json_object_get(r->j, "error"), "reason"));
    return s ? s : "";
}

static json_int_t count(const char *index, const char *qs, const char *body)
{
    res_t r = run(ESOP_COUNT, index, qs, body);
    cr_assert_eq(r.status, 200, "%s", r.text);
    json_int_t n = json_integer_value(json_object_get(r.j, "count"));
    res_free(&r);
    return n;
}

static void expect_error(res_t r, int status, const char *type, const char *reason_part)
{
    cr_expect_eq(r.status, status, "%s", r.text);
    cr_expect_str_eq(err_type(&r) ? err_type(&r) : "(none)", type, "%s", r.text);
    cr_expect(strstr(err_reason(&r), reason_part), "'%s' lacks '%s'", err_reason(&r), reason_part);
    cr_expect_eq(json_integer_value(json_object_get(r.j, "status")), status);
    res_free(&r);
}

/* ---- the root, index expressions, parameters ---- */

Test(esops, root_document)
{
    res_t r = run(ESOP_ROOT, NULL, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_expect_str_eq(json_string_value(json_object_get(r.j, "name")), "node-1");
    cr_expect_str_eq(json_string_value(json_object_get(r.j, "cluster_uuid")), store_id(g_st));
    cr_expect_eq(strlen(store_id(g_st)), 32);
    json_t *v = json_object_get(r.j, "version");
    cr_expect_str_eq(json_string_value(json_object_get(v, "number")), "8.11.0");
    cr_expect_str_eq(json_string_value(json_object_get(v, "build_flavor")), "default");
    cr_expect_not_null(json_object_get(v, "lucene_version"));
    cr_expect_not_null(json_object_get(v, "minimum_wire_compatibility_version"));
    cr_expect_not_null(json_object_get(v, "minimum_index_compatibility_version"));
    cr_expect_str_eq(json_string_value(json_object_get(r.j, "tagline")), "You Know, for Search");
    res_free(&r);
}

Test(esops, index_expressions)
{
    const json_int_t all = N_CRM + N_EVENTS + N_OLD + 2;
    cr_expect_eq(count(NULL, NULL, NULL), all);
    cr_expect_eq(count("activities", NULL, NULL), all);
    cr_expect_eq(count("_all", NULL, NULL), all);
    cr_expect_eq(count("*", NULL, NULL), all);
    cr_expect_eq(count("crm", NULL, NULL), N_CRM + 1);
    cr_expect_eq(count("crm,events", NULL, NULL), N_CRM + N_EVENTS + 2);
    cr_expect_eq(count("c*,ev*", NULL, NULL), N_CRM + N_EVENTS + 2);
    cr_expect_eq(count("old", NULL, NULL), N_OLD, "a feed with data is an index, configured or not");
    cr_expect_eq(count("empty", NULL, NULL), 0, "a configured feed without data is an index");
    cr_expect_eq(count("nothing*", NULL, NULL), 0);
    cr_expect_eq(count("*,-crm", NULL, "{\"query\":{\"match_all\":{}}}"), N_EVENTS + N_OLD + 1);
    cr_expect_eq(count("crm,nope", "ignore_unavailable=true", NULL), N_CRM + 1);
    res_t r = run(ESOP_SEARCH, "crm,events", "size=100", NULL);
    cr_expect_eq(total(&r), N_CRM + N_EVENTS + 2);
    for (size_t i = 0; i < json_array_size(hits(&r)); i++) {
        const char *ix = json_string_value(json_object_get(json_array_get(hits(&r), i), "_index"));
        cr_expect(strcmp(ix, "crm") == 0 || strcmp(ix, "events") == 0, "%s", ix);
    }
    res_free(&r);
    r = run(ESOP_COUNT, "crm,nope", NULL, NULL);
    cr_expect_eq(r.status, 404);
    cr_expect_str_eq(err_type(&r), "index_not_found_exception");
    json_t *cause = json_array_get(json_object_get(json_object_get(r.j, "error"), "root_cause"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(cause, "index")), "nope");
    cr_expect_str_eq(json_string_value(json_object_get(cause, "resource.type")), "index_or_alias");
    res_free(&r);
    expect_error(run(ESOP_SEARCH, "nothing*", "allow_no_indices=false", NULL), 404, "index_not_found_exception",
                 "no such index [nothing*]");
}

Test(esops, url_parameters)
{
    res_t r = run(ESOP_SEARCH, "crm", "size=2&from=1&sort=published:desc&_source=id", "{\"size\":10}");
    cr_assert_eq(r.status, 200, "%s", r.text);
    cr_assert_eq(json_array_size(hits(&r)), 2);
    json_t *h = json_array_get(hits(&r), 0);
    cr_expect_str_eq(json_string_value(json_object_get(h, "_id")), "c48");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(h, "_source"), "id")), "c48");
    cr_expect_eq(json_object_size(json_object_get(h, "_source")), 1);
    cr_expect_eq(json_integer_value(json_array_get(json_object_get(h, "sort"), 0)), (BASE_US + 48000000) / 1000,
                 "sort values are milliseconds");
    cr_expect_not_null(json_object_get(r.j, "_shards"));
    res_free(&r);
    r = run(ESOP_SEARCH, "crm", "size=0&track_total_hits=10", NULL);
    cr_expect_eq(total(&r), 10);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(r.j, "hits"), "total"),
                                                       "relation")), "gte");
    res_free(&r);
    r = run(ESOP_SEARCH, "crm", "size=0&rest_total_hits_as_int=true", NULL);
    cr_expect(json_is_integer(json_object_get(json_object_get(r.j, "hits"), "total")));
    cr_expect_eq(total(&r), N_CRM + 1);
    res_free(&r);
    r = run(ESOP_SEARCH, "crm", "size=1&track_total_hits=false", NULL);
    cr_expect_null(json_object_get(json_object_get(r.j, "hits"), "total"));
    res_free(&r);
    r = run(ESOP_SEARCH, "crm", "size=1&source=%7B%22size%22%3A3%7D", NULL);
    cr_expect_eq(json_array_size(hits(&r)), 1, "the source parameter is the body (URL parameters win)");
    res_free(&r);
    expect_error(run(ESOP_SEARCH, NULL, "q=type:Create", NULL), 400, "illegal_argument_exception",
                 "Lucene query strings are not supported");
    expect_error(run(ESOP_SEARCH, NULL, "nonsense=1", NULL), 400, "illegal_argument_exception",
                 "unrecognized parameter: [nonsense]");
    expect_error(run(ESOP_SEARCH, NULL, "size=x", NULL), 400, "illegal_argument_exception", "[size]");
    expect_error(run(ESOP_SEARCH, NULL, "expand_wildcards=sometimes", NULL), 400, "illegal_argument_exception",
                 "expand_wildcards");
    expect_error(run(ESOP_SEARCH, NULL, NULL, "{\"query\":"), 400, "parsing_exception", "not valid JSON");
    expect_error(run(ESOP_SEARCH, NULL, NULL, "{\"aggs\":{\"x\":{\"geo_bounds\":{}}}}"), 400, "parsing_exception",
                 "[x] aggregation type [geo_bounds] is not supported");
    expect_error(run(ESOP_SEARCH, NULL, "rest_total_hits_as_int=true", "{\"track_total_hits\":5}"), 400,
                 "illegal_argument_exception", "rest_total_hits_as_int");
}

Test(esops, aggregations_in_search_responses)
{
    res_t r = run(ESOP_SEARCH, "crm", NULL, "{\"size\":0,\"aggs\":{\"types\":{\"terms\":{\"field\":\"type\"},"
                  "\"aggs\":{\"n\":{\"max\":{\"field\":\"object.n\"}}}},\"per_10s\":{\"date_histogram\":{\"field\":"
                  "\"published\",\"fixed_interval\":\"10s\"}}}}");
    cr_assert_eq(r.status, 200, "%s", r.text);
    json_t *aggs = json_object_get(r.j, "aggregations");
    json_t *b = json_object_get(json_object_get(aggs, "types"), "buckets");
    cr_assert_eq(json_array_size(b), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(b, 0), "key")), "Create");
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(b, 0), "doc_count")), N_CRM / 2 + 1);
    cr_expect_eq(json_real_value(json_object_get(json_object_get(json_array_get(b, 0), "n"), "value")), 1.0);
    json_t *h = json_object_get(json_object_get(aggs, "per_10s"), "buckets");
    cr_expect_eq(json_array_size(h), 5);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(h, 0), "doc_count")), 11);
    res_free(&r);
}

/* ---- _msearch ---- */

Test(esops, msearch_answers_each_search_in_place)
{
    const char *body = "{\"index\":\"crm\"}\n{\"size\":0}\n"
                       "{}\n{\"query\":{\"fuzzy\":{}}}\n"
                       "{\"index\":\"nope\"}\n{}\n"
                       "\n{\"size\":1,\"query\":{\"term\":{\"type\":\"Follow\"}}}\n"
                       "{\"index\":[\"crm\",\"events\"],\"ignore_unavailable\":true}\r\n{\"size\":0}\r\n";
    res_t r = run(ESOP_MSEARCH, NULL, NULL, body);
    cr_assert_eq(r.status, 200, "%s", r.text);
    cr_expect(json_is_integer(json_object_get(r.j, "took")));
    json_t *rs = json_object_get(r.j, "responses");
    cr_assert_eq(json_array_size(rs), 5);
    res_t item = {.j = json_array_get(rs, 0)};
    cr_expect_eq(json_integer_value(json_object_get(item.j, "status")), 200);
    cr_expect_eq(total(&item), N_CRM + 1);
    item.j = json_array_get(rs, 1);
    cr_expect_eq(json_integer_value(json_object_get(item.j, "status")), 400);
    cr_expect_str_eq(err_type(&item), "parsing_exception");
    item.j = json_array_get(rs, 2);
    cr_expect_eq(json_integer_value(json_object_get(item.j, "status")), 404);
    cr_expect_str_eq(err_type(&item), "index_not_found_exception");
    item.j = json_array_get(rs, 3);
    cr_expect_eq(total(&item), N_EVENTS);
    item.j = json_array_get(rs, 4);
    cr_expect_eq(total(&item), N_CRM + N_EVENTS + 2);
    res_free(&r);
    /* the path's index is the default */
    r = run(ESOP_MSEARCH, "events", NULL, "{}\n{\"size\":0}\n");
    res_t one = {.j = json_array_get(json_object_get(r.j, "responses"), 0)};
    cr_expect_eq(total(&one), N_EVENTS + 1);
    res_free(&r);
    expect_error(run(ESOP_MSEARCH, NULL, NULL, ""), 400, "action_request_validation_exception", "no requests added");
    expect_error(run(ESOP_MSEARCH, NULL, NULL, "{}\n{\"size\":\n"), 400, "parsing_exception", "line 2");
    expect_error(run(ESOP_MSEARCH, NULL, NULL, "{}\n"), 400, "parsing_exception", "without a body line");
    r = run(ESOP_MSEARCH, NULL, NULL, "{\"color\":\"red\"}\n{}\n");
    one.j = json_array_get(json_object_get(r.j, "responses"), 0);
    cr_expect(strstr(err_reason(&one), "key [color] is not supported in the metadata section"), "%s", r.text);
    res_free(&r);
}

/* ---- points in time ---- */

static char *open_pit(const char *index, const char *keep)
{
    char qs[64];
    snprintf(qs, sizeof qs, "keep_alive=%s", keep);
    res_t r = run(ESOP_PIT_OPEN, index, qs, NULL);
    cr_assert_eq(r.status, 200, "%s", r.text);
    char *id = strdup(json_string_value(json_object_get(r.j, "id")));
    res_free(&r);
    return id;
}

static void change_the_store(void)
{
    store_batch_t *b;
    cr_assert_eq(store_batch_new(g_st, &b), 0);
    put(b, "crm", "c05", BASE_US + 5000000, "Create", 2);   /* updated */
    put(b, "crm", "new1", BASE_US + 7000000, "Create", 1);  /* added in the middle */
    put(b, "crm", "new2", BASE_US + 999000000, "Create", 1);
    cr_assert_eq(store_batch_delete(b, "crm", "c10", 3), 0);
    cr_assert_eq(store_batch_delete(b, "events", "e03", 3), 0);
    commit(b);
    store_batch_free(b);
}

/* Append "feed/id@v " of every hit of r to seen; returns the last hit's sort values (BORROWED)
 * or NULL without hits. */
static json_t *add_keys(bytebuf_t *seen, const res_t *r)
{
    json_t *last = NULL;
    for (size_t i = 0; i < json_array_size(hits(r)); i++) {
        json_t *h = json_array_get(hits(r), i);
        bytebuf_printf(seen, "%s/%s@%lld ", json_string_value(json_object_get(h, "_index")),
                       json_string_value(json_object_get(h, "_id")),
                       (long long)json_integer_value(json_object_get(json_object_get(h, "_source"), "v")));
        last = json_object_get(h, "sort");
    }
    return last;
}

/* Page through a point in time, `size` at a time; returns "feed/id@v" of each hit, in order,
 * joined by spaces (malloc'd), and checks every page's total. */
static char *walk_pit(const char *id, int size, const char *extra, json_int_t want_total)
{
    bytebuf_t seen = {0};
    char *after = NULL;
    for (int page = 0; page < 1000; page++) {
        char body[1024];
        snprintf(body, sizeof body, "{\"pit\":{\"id\":\"%s\",\"keep_alive\":\"1m\"},\"size\":%d,\"sort\":[{\"published\":"
                 "\"asc\"},{\"_shard_doc\":\"asc\"}]%s%s%s%s}", id, size, extra ? "," : "", extra ? extra : "",
                 after ? ",\"search_after\":" : "", after ? after : "");
        free(after);
        after = NULL;
        res_t r = run(ESOP_SEARCH, NULL, NULL, body);
        cr_assert_eq(r.status, 200, "%s", r.text);
        cr_expect_str_eq(json_string_value(json_object_get(r.j, "pit_id")), id);
        cr_expect_eq(total(&r), want_total, "page %d", page);
        json_t *last = add_keys(&seen, &r);
        after = last ? json_dumps(last, JSON_COMPACT) : NULL;
        res_free(&r);
        if (!after)
            return bytebuf_take(&seen, NULL);
    }
    cr_assert_fail("paging did not end");
    return NULL;
}

Test(esops, a_point_in_time_is_frozen_and_paged_exactly)
{
    char *all = open_pit("crm,events", "1m");
    char *before = walk_pit(all, 1000, NULL, N_CRM + N_EVENTS + 2);
    change_the_store();
    for (int size = 1; size <= 7; size += 3) {
        char *again = walk_pit(all, size, NULL, N_CRM + N_EVENTS + 2);
        cr_expect_str_eq(again, before, "pages of %d", size);
        free(again);
    }
    cr_expect(strstr(before, "crm/c05@1 ") && strstr(before, "crm/c10@1 ") && !strstr(before, "new1"));
    /* a query, and a count that is reused from page to page */
    char *creates = walk_pit(all, 4, "\"query\":{\"term\":{\"type\":\"Create\"}}", N_CRM / 2 + 2);
    free(creates);
    /* the store itself has moved on */
    cr_expect_eq(count("crm,events", NULL, NULL), N_CRM + N_EVENTS + 2 + 2 - 2);
    char body[256];
    snprintf(body, sizeof body, "{\"pit\":{\"id\":\"%s\"}}", all);
    expect_error(run(ESOP_PIT_CLOSE, NULL, NULL, body), 400, "action_request_validation_exception", "[id]");
    snprintf(body, sizeof body, "{\"id\":\"%s\"}", all);
    res_t r;
    r = run(ESOP_PIT_CLOSE, NULL, NULL, body);
    cr_expect_eq(r.status, 200, "%s", r.text);
    cr_expect(json_is_true(json_object_get(r.j, "succeeded")));
    cr_expect_eq(json_integer_value(json_object_get(r.j, "num_freed")), 1);
    res_free(&r);
    r = run(ESOP_PIT_CLOSE, NULL, NULL, body);
    cr_expect_eq(r.status, 404);
    cr_expect_eq(json_integer_value(json_object_get(r.j, "num_freed")), 0);
    res_free(&r);
    snprintf(body, sizeof body, "{\"pit\":{\"id\":\"%s\"}}", all);
    expect_error(run(ESOP_SEARCH, NULL, NULL, body), 404, "search_context_missing_exception",
                 "No search context found for id");
    free(before);
    free(all);
}

Test(esops, point_in_time_errors_and_bounds)
{
    expect_error(run(ESOP_PIT_OPEN, "crm", NULL, NULL), 400, "action_request_validation_exception", "keep_alive");
    expect_error(run(ESOP_PIT_OPEN, "crm", "keep_alive=11m", NULL), 400, "illegal_argument_exception",
                 "Keep alive for request (11m) is too large");
    expect_error(run(ESOP_PIT_OPEN, "crm", "keep_alive=1x", NULL), 400, "illegal_argument_exception", "time value");
    expect_error(run(ESOP_PIT_OPEN, "nope", "keep_alive=1m", NULL), 404, "index_not_found_exception", "nope");
    expect_error(run(ESOP_PIT_OPEN, "crm", "keep_alive=1m", "{\"index_filter\":{}}"), 400, "parsing_exception",
                 "index_filter");
    char *ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = open_pit("crm", "1m");
    expect_error(run(ESOP_PIT_OPEN, "crm", "keep_alive=1m", NULL), 429, "es_rejected_execution_exception",
                 "too many search contexts");
    char body[256];
    snprintf(body, sizeof body, "{\"pit\":{\"id\":\"%s\"}}", ids[0]);
    expect_error(run(ESOP_SEARCH, "crm", NULL, body), 400, "illegal_argument_exception", "[indices] cannot be used");
    expect_error(run(ESOP_SEARCH, NULL, "scroll=1m", body), 400, "illegal_argument_exception", "scroll context");
    snprintf(body, sizeof body, "{\"pit\":{\"id\":\"%s\",\"keep_alive\":\"1h\"}}", ids[0]);
    expect_error(run(ESOP_SEARCH, NULL, NULL, body), 400, "illegal_argument_exception", "too large");
    expect_error(run(ESOP_SEARCH, NULL, NULL, "{\"pit\":{\"keep_alive\":\"1m\"}}"), 400, "parsing_exception",
                 "requires [id]");
    expect_error(run(ESOP_SEARCH, NULL, NULL, "{\"pit\":\"abc\"}"), 400, "parsing_exception", "[pit]");
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof body, "{\"id\":\"%s\"}", ids[i]);
        res_t r = run(ESOP_PIT_CLOSE, NULL, NULL, body);
        cr_expect_eq(r.status, 200);
        res_free(&r);
        free(ids[i]);
    }
    free(open_pit("crm", "500ms"));   /* room again */
}

/* ---- scrolls ---- */

/* Scroll through `index` (the URL's parameters qs); returns "feed/id@v " of every hit. */
static char *scroll_all(const char *index, const char *qs, const char *body, json_int_t want_total, bool change)
{
    res_t r = run(ESOP_SEARCH, index, qs, body);
    cr_assert_eq(r.status, 200, "%s", r.text);
    char *id = strdup(json_string_value(json_object_get(r.j, "_scroll_id")));
    bytebuf_t seen = {0};
    for (int page = 0; page < 1000; page++) {
        cr_expect_eq(total(&r), want_total, "page %d: %s", page, r.text);
        cr_expect_str_eq(json_string_value(json_object_get(r.j, "_scroll_id")), id);
        bool any = add_keys(&seen, &r) != NULL;
        res_free(&r);
        if (!any)
            break;
        if (change && page == 0)
            change_the_store();
        char next[256];
        snprintf(next, sizeof next, "{\"scroll\":\"1m\",\"scroll_id\":\"%s\"}", id);
        r = run(ESOP_SCROLL, NULL, NULL, next);
        cr_assert_eq(r.status, 200, "%s", r.text);
    }
    char clear[256];
    snprintf(clear, sizeof clear, "{\"scroll_id\":[\"%s\"]}", id);
    r = run(ESOP_CLEAR_SCROLL, NULL, NULL, clear);
    cr_expect_eq(r.status, 200, "%s", r.text);
    cr_expect_eq(json_integer_value(json_object_get(r.j, "num_freed")), 1);
    res_free(&r);
    free(id);
    return bytebuf_take(&seen, NULL);
}

Test(esops, a_scroll_is_frozen_and_gives_each_activity_once)
{
    char *plain = scroll_all("crm,events", "scroll=1m&size=1000", NULL, N_CRM + N_EVENTS + 2, false);
    char *paged = scroll_all("crm,events", "scroll=1m&size=7", "{\"sort\":\"_doc\"}", N_CRM + N_EVENTS + 2, true);
    cr_expect_str_eq(paged, plain);
    free(plain);
    free(paged);
    /* descending, with a query and aggregations (first page only), the scroll in the body */
    res_t r = run(ESOP_SEARCH, "crm", NULL, "{\"scroll\":\"1m\",\"size\":3,\"sort\":{\"published\":\"desc\"},"
                  "\"query\":{\"term\":{\"type\":\"Like\"}},\"aggs\":{\"t\":{\"terms\":{\"field\":\"type\"}}}}");
    cr_assert_eq(r.status, 200, "%s", r.text);
    cr_expect_not_null(json_object_get(r.j, "aggregations"));
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(hits(&r), 0), "_id")), "c49");
    char next[256];
    snprintf(next, sizeof next, "{\"scroll_id\":\"%s\"}", json_string_value(json_object_get(r.j, "_scroll_id")));
    res_free(&r);
    r = run(ESOP_SCROLL, NULL, "rest_total_hits_as_int=true", next);
    cr_assert_eq(r.status, 200, "%s", r.text);
    cr_expect_null(json_object_get(r.j, "aggregations"));
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(hits(&r), 0), "_id")), "c43");
    cr_expect(json_is_integer(json_object_get(json_object_get(r.j, "hits"), "total")));
    cr_expect_eq(total(&r), N_CRM / 2 - 1, "c05 is a Create now (the scrolls above changed the store)");
    res_free(&r);
    r = run(ESOP_CLEAR_SCROLL, NULL, NULL, "{\"scroll_id\":\"_all\"}");
    cr_expect_eq(json_integer_value(json_object_get(r.j, "num_freed")), 1);
    res_free(&r);
    expect_error(run(ESOP_SCROLL, NULL, NULL, next), 404, "search_context_missing_exception", "No search context");
    r = run(ESOP_CLEAR_SCROLL, NULL, NULL, next);
    cr_expect_eq(r.status, 404);
    cr_expect_eq(json_integer_value(json_object_get(r.j, "num_freed")), 0);
    res_free(&r);
}

Test(esops, scroll_errors)
{
    expect_error(run(ESOP_SEARCH, NULL, "scroll=1m", "{\"search_after\":[1,\"a\",\"b\"]}"), 400,
                 "illegal_argument_exception", "[search_after] cannot be used in a scroll context");
    expect_error(run(ESOP_SEARCH, NULL, "scroll=1m&from=2", NULL), 400, "illegal_argument_exception", "[from]");
    expect_error(run(ESOP_SEARCH, NULL, "scroll=1m&track_total_hits=false", NULL), 400, "illegal_argument_exception",
                 "disabling [track_total_hits]");
    expect_error(run(ESOP_SEARCH, NULL, "scroll=20m", NULL), 400, "illegal_argument_exception", "too large");
    expect_error(run(ESOP_SCROLL, NULL, NULL, "{}"), 400, "action_request_validation_exception", "scrollId is missing");
    expect_error(run(ESOP_SCROLL, NULL, NULL, "{\"scroll_id\":\"x\",\"size\":3}"), 400, "parsing_exception", "[size]");
    expect_error(run(ESOP_CLEAR_SCROLL, NULL, NULL, "{}"), 400, "action_request_validation_exception", "no scroll ids");
}

/* ---- _doc ---- */

Test(esops, documents_by_id)
{
    res_t r = run_scoped(ESOP_DOC, "crm", "c07", NULL, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.text);
    cr_expect_str_eq(json_string_value(json_object_get(r.j, "_index")), "crm");
    cr_expect_str_eq(json_string_value(json_object_get(r.j, "_id")), "c07");
    cr_expect_eq(json_integer_value(json_object_get(r.j, "_version")), 1);
    cr_expect_eq(json_integer_value(json_object_get(r.j, "_primary_term")), 1);
    cr_expect(json_integer_value(json_object_get(r.j, "_seq_no")) > 0);
    cr_expect(json_is_true(json_object_get(r.j, "found")));
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(r.j, "_source"), "type")), "Like");
    res_free(&r);
    r = run_scoped(ESOP_DOC, "activities", "e04", "_source_includes=object.n", NULL, NULL);
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(json_string_value(json_object_get(r.j, "_index")), "events");
    char *src = json_dumps(json_object_get(r.j, "_source"), JSON_COMPACT);
    cr_expect_str_eq(src, "{\"object\":{\"n\":1}}");
    free(src);
    res_free(&r);
    r = run_scoped(ESOP_DOC, "crm", "c07", "_source=false", NULL, NULL);
    cr_expect_null(json_object_get(r.j, "_source"));
    res_free(&r);
    r = run_scoped(ESOP_DOC, "crm", "nope", NULL, NULL, NULL);
    cr_expect_eq(r.status, 404);
    cr_expect(json_is_false(json_object_get(r.j, "found")));
    cr_expect_str_eq(json_string_value(json_object_get(r.j, "_id")), "nope");
    res_free(&r);
    expect_error(run_scoped(ESOP_DOC, "nope", "c07", NULL, NULL, NULL), 404, "index_not_found_exception", "nope");
    expect_error(run_scoped(ESOP_DOC, "activities", "dup", NULL, NULL, NULL), 400, "illegal_argument_exception",
                 "more than one index");
    expect_error(run_scoped(ESOP_DOC, "crm*", "c07", NULL, NULL, NULL), 400, "illegal_argument_exception",
                 "names several indices");
}

/* ---- _mapping, _cat/indices, output options ---- */

Test(esops, mappings)
{
    res_t r = run(ESOP_MAPPING, "crm,old", NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.text);
    cr_expect_eq(json_object_size(r.j), 2);
    json_t *p = json_object_get(json_object_get(json_object_get(r.j, "crm"), "mappings"), "properties");
    const char *want[][2] = {{"published", "date"}, {"id", "keyword"}, {"type", "keyword"}, {"feed", "keyword"},
                             {"v", "long"}, {"ok", "boolean"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect_str_eq(json_string_value(json_object_get(json_object_get(p, want[i][0]), "type")), want[i][1], "%s",
                         want[i][0]);
    json_t *actor_id = json_object_get(json_object_get(json_object_get(p, "actor"), "properties"), "id");
    cr_expect_str_eq(json_string_value(json_object_get(actor_id, "type")), "keyword");
    json_t *content = json_object_get(json_object_get(json_object_get(p, "object"), "properties"), "content");
    cr_expect_str_eq(json_string_value(json_object_get(content, "type")), "text");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(content, "fields"), "keyword"),
                                                       "type")), "keyword");
    res_free(&r);
    r = run(ESOP_MAPPING, NULL, NULL, NULL);
    cr_expect_eq(json_object_size(r.j), 4, "every index: crm, empty, events, old");
    res_free(&r);
    expect_error(run(ESOP_MAPPING, "nope", NULL, NULL), 404, "index_not_found_exception", "nope");
}

Test(esops, cat_indices)
{
    res_t r = run(ESOP_CAT_INDICES, NULL, "format=json", NULL);
    cr_assert_eq(r.status, 200, "%s", r.text);
    cr_assert_eq(json_array_size(r.j), 4);
    json_t *crm = json_array_get(r.j, 0);
    cr_expect_str_eq(json_string_value(json_object_get(crm, "index")), "crm");
    cr_expect_str_eq(json_string_value(json_object_get(crm, "docs.count")), "51");
    cr_expect_str_eq(json_string_value(json_object_get(crm, "health")), "green");
    cr_expect_eq(strlen(json_string_value(json_object_get(crm, "uuid"))), 22);
    res_free(&r);
    r = run(ESOP_CAT_INDICES, "e*", "v&h=index,dc&s=dc:desc", NULL);
    cr_assert_null(r.j);
    cr_expect_str_eq(r.text, "index  docs.count\nevents         31\nempty           0\n");
    res_free(&r);
    r = run(ESOP_CAT_INDICES, NULL, "format=json&health=red", NULL);
    cr_expect_eq(json_array_size(r.j), 0);
    res_free(&r);
    expect_error(run(ESOP_CAT_INDICES, NULL, "format=json&h=nope", NULL), 400, "illegal_argument_exception", "nope");
    expect_error(run(ESOP_CAT_INDICES, NULL, "format=yaml", NULL), 400, "illegal_argument_exception", "yaml");
}

Test(esops, filter_path_and_pretty)
{
    res_t r = run(ESOP_SEARCH, "crm", "size=2&filter_path=hits.hits._id,hits.total,-hits.total.relation", NULL);
    cr_assert_eq(r.status, 200);
    char *t = json_dumps(r.j, JSON_COMPACT);
    cr_expect_str_eq(t, "{\"hits\":{\"total\":{\"value\":51},\"hits\":[{\"_id\":\"c00\"},{\"_id\":\"dup\"}]}}");
    free(t);
    res_free(&r);
    r = run(ESOP_COUNT, "crm", "pretty", NULL);
    cr_expect(strstr(r.text, "\n  \"count\": 51"), "%s", r.text);
    res_free(&r);
    r = run(ESOP_COUNT, "crm", "filter_path=nothing", NULL);
    cr_expect_str_eq(r.text, "{}");
    res_free(&r);
}

/* ---- a scope ---- */

Test(esops, a_scope_limits_everything)
{
    query_t *scope;
    char err[256];
    const char *q = "{\"term\":{\"type\":\"Like\"}}";
    cr_assert_eq(query_compile_text(q, strlen(q), &scope, err, sizeof err), 0, "%s", err);
    res_t r = run_scoped(ESOP_COUNT, NULL, NULL, NULL, NULL, scope);
    cr_expect_eq(json_integer_value(json_object_get(r.j, "count")), N_CRM / 2);
    res_free(&r);
    r = run_scoped(ESOP_DOC, "crm", "c00", NULL, NULL, scope);
    cr_expect_eq(r.status, 404, "a Create is outside the scope");
    res_free(&r);
    r = run_scoped(ESOP_DOC, "crm", "c01", NULL, NULL, scope);
    cr_expect_eq(r.status, 200);
    res_free(&r);
    r = run_scoped(ESOP_MSEARCH, NULL, NULL, NULL, "{}\n{\"size\":0,\"aggs\":{\"t\":{\"terms\":{\"field\":\"type\"}}}}\n",
                   scope);
    json_t *b = json_object_get(json_object_get(json_object_get(json_array_get(json_object_get(r.j, "responses"), 0),
                                                                "aggregations"), "t"), "buckets");
    cr_expect_eq(json_array_size(b), 1);
    res_free(&r);
    r = run_scoped(ESOP_CAT_INDICES, "crm", NULL, "format=json", NULL, scope);
    cr_assert_eq(r.status, 200, "%s", r.text);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(r.j, 0), "docs.count")), "25");
    res_free(&r);
    char *id = open_pit("crm", "1m"), body[256];
    snprintf(body, sizeof body, "{\"pit\":{\"id\":\"%s\"},\"size\":100}", id);
    r = run_scoped(ESOP_SEARCH, NULL, NULL, NULL, body, scope);
    cr_expect_eq(total(&r), N_CRM / 2);
    cr_expect_eq(json_array_size(hits(&r)), N_CRM / 2);
    res_free(&r);
    r = run_scoped(ESOP_SEARCH, NULL, NULL, NULL, body, NULL);
    cr_expect_eq(total(&r), N_CRM + 1, "another caller, another scope: no count shared");
    res_free(&r);
    free(id);
    query_free(scope);
}
