/* test_es.c -- the Elasticsearch API over HTTP, end to end (the real server reading feedsim):
 * the root document and the dashboard at /, X-Elastic-Product on every response, errors in
 * Elasticsearch's shape, media types, percent-decoded paths, the legacy /activities paths,
 * points in time and scrolls that stay frozen while feedsim adds, updates and deletes, and the
 * bound and expiry of search contexts. (The official clients: tests/clients/.) */
#include "testenv.h"
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(es, .fini = env_down);

static const char *const json_hdr[] = {"Content-Type: application/json", NULL};

/* A request whose body must be JSON; returns it parsed (a new reference). */
static json_t *call(const char *method, const char *path, const char *body, long want, h_resp_t *keep)
{
    h_resp_t r;
    cr_assert_eq(h_http(method, url("%s", path), json_hdr, body, &r, 20000), 0, "%s %s", method, path);
    cr_assert_eq(r.status, want, "%s %s -> %ld %s", method, path, r.status, r.body);
    cr_assert(strcasestr(r.headers, "x-elastic-product: Elasticsearch"), "%s %s: %s", method, path, r.headers);
    json_error_t je;
    json_t *j = json_loads(r.body, 0, &je);
    cr_assert_not_null(j, "%s %s: not JSON (%s): %s", method, path, je.text, r.body);
    if (keep)
        *keep = r;
    else
        h_resp_free(&r);
    return j;
}

static json_int_t count_of(const char *path)
{
    json_t *j = call("GET", path, NULL, 200, NULL);
    json_int_t n = json_integer_value(json_object_get(j, "count"));
    json_decref(j);
    return n;
}

static const char *err_type(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), "type"));
}

Test(es, root_document_dashboard_headers_and_errors, .timeout = 60)
{
    env_up(20, "10m", "15s", 100);
    wait_count(20);
    json_t *j = call("GET", "/", NULL, 200, NULL);
    cr_expect_eq(strlen(json_string_value(json_object_get(j, "cluster_uuid"))), 32);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "version"), "number")), "8.11.0");
    cr_expect_str_eq(json_string_value(json_object_get(j, "tagline")), "You Know, for Search");
    json_decref(j);
    /* a browser gets the dashboard */
    const char *const html[] = {"Accept: text/html,application/xhtml+xml,*/*;q=0.8", NULL};
    h_resp_t r;
    cr_assert_eq(h_http("GET", url("/", NULL), html, NULL, &r, 5000), 0);
    cr_expect_eq(r.status, 200);
    cr_expect(strcasestr(r.headers, "content-type: text/html"), "%s", r.headers);
    cr_expect(!strcasestr(r.headers, "x-elastic-product"));
    h_resp_free(&r);
    cr_assert_eq(h_http("HEAD", url("/", NULL), NULL, NULL, &r, 5000), 0);
    cr_expect_eq(r.status, 200);
    cr_expect(strcasestr(r.headers, "x-elastic-product: Elasticsearch"));
    h_resp_free(&r);
    /* errors: Elasticsearch's shape and header */
    j = call("GET", "/nope/_search", NULL, 404, NULL);
    cr_expect_str_eq(err_type(j), "index_not_found_exception");
    cr_expect_eq(json_integer_value(json_object_get(j, "status")), 404);
    json_decref(j);
    j = call("PUT", "/_search", NULL, 405, &r);
    cr_expect(strcasestr(r.headers, "allow: GET, POST"), "%s", r.headers);
    h_resp_free(&r);
    json_decref(j);
    j = call("GET", "/_cluster/health", NULL, 400, NULL);
    cr_expect_str_eq(err_type(j), "illegal_argument_exception");
    json_decref(j);
    j = call("GET", "/_search?q=type:Create", NULL, 400, NULL);
    cr_expect(strstr(json_string_value(json_object_get(json_object_get(j, "error"), "reason")), "Lucene"));
    json_decref(j);
    j = call("GET", "/sim/_doc/nope", NULL, 404, NULL);
    cr_expect(json_is_false(json_object_get(j, "found")));
    json_decref(j);
    /* media types of the official clients */
    const char *const v8[] = {"Accept: application/vnd.elasticsearch+json; compatible-with=8",
                              "Content-Type: application/vnd.elasticsearch+json; compatible-with=8", NULL};
    cr_assert_eq(h_http("POST", url("/sim/_count", NULL), v8, "{\"query\":{\"match_all\":{}}}", &r, 5000), 0);
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect(strcasestr(r.headers, "content-type: application/vnd.elasticsearch+json;compatible-with=8"), "%s",
              r.headers);
    h_resp_free(&r);
    const char *const v9[] = {"Accept: application/vnd.elasticsearch+json; compatible-with=9", NULL};
    cr_assert_eq(h_http("GET", url("/sim/_count", NULL), v9, NULL, &r, 5000), 0);
    cr_expect_eq(r.status, 400);
    cr_expect(strstr(r.body, "media_type_header_exception"), "%s", r.body);
    cr_expect(strcasestr(r.headers, "x-elastic-product: Elasticsearch"));
    h_resp_free(&r);
    const char *const nd[] = {"Content-Type: application/vnd.elasticsearch+x-ndjson; compatible-with=8", NULL};
    cr_assert_eq(h_http("POST", url("/_msearch", NULL), nd, "{\"index\":\"sim\"}\n{\"size\":0}\n", &r, 5000), 0);
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect(strstr(r.body, "\"status\":200"), "%s", r.body);
    h_resp_free(&r);
    env_down();
}

Test(es, decoded_paths_and_the_legacy_endpoints, .timeout = 60)
{
    env_up(50, "10m", "15s", 100);
    wait_count(50);
    cr_expect_eq(count_of("/sim%2Cnope*/_count"), 50);
    cr_expect_eq(count_of("/s%2A/_count"), 50);
    cr_expect_eq(count_of("/activities/_count"), 50);
    cr_expect_eq(count_of("/_count"), 50);
    json_t *j = call("GET", "/sim/_doc/urn%3Afeedsim%3A1%3A3", NULL, 200, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(j, "_id")), "urn:feedsim:1:3");
    cr_expect_str_eq(json_string_value(json_object_get(j, "_index")), "sim");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "_source"), "id")), "urn:feedsim:1:3");
    json_decref(j);
    h_resp_t r;
    cr_assert_eq(h_http("HEAD", url("%s", "/activities/_doc/urn%3Afeedsim%3A1%3A3"), NULL, NULL, &r, 5000), 0);
    cr_expect_eq(r.status, 200, "%ld %s", r.status, r.headers);
    h_resp_free(&r);
    j = call("POST", "/activities/_search", "{\"query\":{\"term\":{\"id\":\"urn:feedsim:1:7\"}},\"_source\":[\"id\"]}",
             200, NULL);
    json_t *hits = json_object_get(json_object_get(j, "hits"), "hits");
    cr_assert_eq(json_array_size(hits), 1);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(hits, 0), "_index")), "sim");
    json_t *sort = json_object_get(json_array_get(hits, 0), "sort");
    cr_expect_eq(json_integer_value(json_array_get(sort, 0)), INT64_C(1704067207000), "milliseconds");
    json_decref(j);
    j = call("GET", "/sim/_search?size=1&sort=published:desc&_source=false", NULL, 200, NULL);
    hits = json_object_get(json_object_get(j, "hits"), "hits");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(hits, 0), "_id")), "urn:feedsim:1:49");
    cr_expect_null(json_object_get(json_array_get(hits, 0), "_source"));
    json_decref(j);
    env_down();
}

/* Add each hit's "id@version" to `seen` (asserting none comes twice); returns the last hit's
 * sort values (BORROWED from j) or NULL without hits. */
static json_t *add_hits(json_t *seen, json_t *j)
{
    json_t *hits = json_object_get(json_object_get(j, "hits"), "hits"), *last = NULL;
    for (size_t i = 0; i < json_array_size(hits); i++) {
        json_t *src = json_object_get(json_array_get(hits, i), "_source");
        char key[160];
        snprintf(key, sizeof key, "%s@%lld", json_string_value(json_object_get(src, "id")),
                 (long long)json_integer_value(json_object_get(src, "feedsim:version")));
        cr_assert_null(json_object_get(seen, key), "%s twice", key);
        json_object_set_new(seen, key, json_true());
        last = json_object_get(json_array_get(hits, i), "sort");
    }
    return last;
}

/* feedsim adds 15, updates 10 and deletes 10; wait until the store has them. */
static void change_the_source(void)
{
    sim_post("/_control/add?n=15");
    sim_post("/_control/update?n=10");
    sim_post("/_control/delete?n=10");
    for (int i = 0; i < 200 && count_of("/sim/_count") != 205; i++)
        usleep(100000);
    cr_assert_eq(count_of("/sim/_count"), 205, "the store took the changes");
}

/* Page on through a scroll (scroll_id set) or a point in time (pit_id) from its first answer
 * `j` (STOLEN), adding every hit to `seen`; the source changes after page `changes_at`. */
static void drain(json_t *j, json_t *seen, int changes_at)
{
    const char *sid = json_string_value(json_object_get(j, "_scroll_id"));
    char id[128];
    snprintf(id, sizeof id, "%s", sid ? sid : json_string_value(json_object_get(j, "pit_id")));
    for (int page = 0; page < 1000; page++) {
        json_t *last = add_hits(seen, j);
        char *after = last ? json_dumps(last, JSON_COMPACT) : NULL, body[512];
        json_decref(j);
        if (!after)
            return;
        if (page == changes_at)
            change_the_source();
        if (sid)
            snprintf(body, sizeof body, "{\"scroll\":\"1m\",\"scroll_id\":\"%s\"}", id);
        else
            snprintf(body, sizeof body, "{\"pit\":{\"id\":\"%s\",\"keep_alive\":\"1m\"},\"size\":7,"
                     "\"search_after\":%s}", id, after);
        free(after);
        j = call("POST", sid ? "/_search/scroll" : "/_search", body, 200, NULL);
    }
    cr_assert_fail("paging did not end");
}

static char *keys_of(json_t *seen)
{
    char *t = json_dumps(seen, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_not_null(t);
    return t;
}

Test(es, points_in_time_and_scrolls_stay_frozen_while_feedsim_changes, .timeout = 120)
{
    env_up(200, "2s", "15s", 100);
    wait_count(200);
    json_t *all = json_object(), *via_pit = json_object(), *via_scroll = json_object();
    json_t *j = call("POST", "/sim/_search?size=1000", NULL, 200, NULL);
    add_hits(all, j);
    json_decref(j);
    cr_assert_eq(json_object_size(all), 200);
    json_t *p = call("POST", "/sim/_pit?keep_alive=1m", NULL, 200, NULL);
    json_t *s = call("POST", "/sim/_search?scroll=1m&size=9", "{\"sort\":\"_doc\"}", 200, NULL);
    char pit_body[256];
    snprintf(pit_body, sizeof pit_body, "{\"pit\":{\"id\":\"%s\",\"keep_alive\":\"1m\"},\"size\":7}",
             json_string_value(json_object_get(p, "id")));
    drain(call("POST", "/_search", pit_body, 200, NULL), via_pit, 0);   /* changes after the first page */
    char *want = keys_of(all), *got = keys_of(via_pit);
    cr_expect_str_eq(got, want, "the point in time gave each activity it saw, exactly once");
    free(got);
    char scroll_next[256];
    snprintf(scroll_next, sizeof scroll_next, "{\"scroll\":\"1m\",\"scroll_id\":\"%s\"}",
             json_string_value(json_object_get(s, "_scroll_id")));
    drain(s, via_scroll, -1);   /* opened before the changes, paged after them */
    got = keys_of(via_scroll);
    cr_expect_str_eq(got, want, "so did the scroll");
    free(got);
    free(want);
    cr_expect_eq(count_of("/sim/_count"), 205, "while the store itself moved on");
    json_decref(call("DELETE", "/_search/scroll", scroll_next, 200, NULL));
    char close[256];
    snprintf(close, sizeof close, "{\"id\":\"%s\"}", json_string_value(json_object_get(p, "id")));
    json_t *c = call("DELETE", "/_pit", close, 200, NULL);
    cr_expect_eq(json_integer_value(json_object_get(c, "num_freed")), 1);
    json_decref(c);
    json_t *gone = call("POST", "/_search", pit_body, 404, NULL);
    cr_expect_str_eq(err_type(gone), "search_context_missing_exception");
    json_decref(gone);
    json_decref(all);
    json_decref(via_pit);
    json_decref(via_scroll);
    json_decref(p);
    env_down();
}

Test(es, search_contexts_are_bounded_and_expire, .timeout = 60)
{
    env_opts_t o = {.count = 20, .extra = "max_search_contexts: 2\n"};
    env_up_opts(&o);
    wait_count(20);
    json_t *short_lived = call("POST", "/sim/_pit?keep_alive=1s", NULL, 200, NULL);
    json_t *other = call("POST", "/sim/_pit?keep_alive=1m", NULL, 200, NULL);
    json_t *j = call("POST", "/sim/_pit?keep_alive=1m", NULL, 429, NULL);
    cr_expect_str_eq(err_type(j), "es_rejected_execution_exception");
    json_decref(j);
    j = call("POST", "/sim/_search?scroll=1m", NULL, 429, NULL);
    json_decref(j);
    j = call("POST", "/sim/_pit?keep_alive=11m", NULL, 400, NULL);
    cr_expect(strstr(json_string_value(json_object_get(json_object_get(j, "error"), "reason")), "too large"));
    json_decref(j);
    sleep(3);   /* the reaper closes the expired one */
    h_resp_t r;
    cr_assert_eq(h_get(url("/metrics", NULL), &r), 0);
    cr_expect(strstr(r.body, "as_es_search_contexts 1\n"), "%s", r.body);
    cr_expect(strstr(r.body, "as_es_search_contexts_reaped_total 1\n"));
    cr_expect(strstr(r.body, "as_es_search_contexts_refused_total 2\n"));
    h_resp_free(&r);
    char body[256];
    snprintf(body, sizeof body, "{\"pit\":{\"id\":\"%s\"}}", json_string_value(json_object_get(short_lived, "id")));
    j = call("POST", "/_search", body, 404, NULL);
    cr_expect_str_eq(err_type(j), "search_context_missing_exception");
    json_decref(j);
    json_decref(call("POST", "/sim/_pit?keep_alive=1m", NULL, 200, NULL));   /* room again */
    json_decref(short_lived);
    json_decref(other);
    env_down();
}
