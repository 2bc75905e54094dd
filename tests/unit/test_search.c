/* test_search.c -- _search and _count over a real store in a temporary directory: order
 * (published millisecond, id, feed) ascending and descending, search_after paging over many
 * activities that share a millisecond at different microseconds (each exactly once), from/size,
 * hits.total and track_total_hits, _source filtering, _count, the response shape, every 400;
 * runs restricted to feeds and a scope, over a frozen view, with aggregations, with a known
 * total, and the last hit's sort values. */
#include "search.h"
#include "store.h"
#include "timefmt.h"
#include <criterion/criterion.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_ACTS 300
#define GROUP 25                       /* activities per published microsecond */
#define BASE_US INT64_C(1700000000000000)

typedef struct { int64_t pub; char id[32]; char feed[8]; int announce; } exp_t;

static int64_t ms(int64_t us) { return us / 1000; }   /* the fixture's times are after 1970 */

static char *g_dir;
static store_t *g_st;
static exp_t g_exp[N_ACTS + 4];        /* what the store holds, in (published, id, feed) order */
static size_t g_nexp;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static int exp_cmp(const void *a, const void *b)
{
    const exp_t *x = a, *y = b;
    if (ms(x->pub) != ms(y->pub))
        return ms(x->pub) < ms(y->pub) ? -1 : 1;
    int c = strcmp(x->id, y->id);
    return c ? c : strcmp(x->feed, y->feed);
}

static void put(store_batch_t *b, const char *feed, const char *id, int64_t pub, int announce, int n)
{
    char json[512], when[TIMEFMT_RFC3339_MAX];
    timefmt_format_rfc3339(pub, when);
    const char *type = announce ? "Announce" : "Create";
    int len = snprintf(json, sizeof json,
                       "{\"id\":\"%s\",\"type\":\"%s\",\"published\":\"%s\",\"actor\":{\"id\":\"u%d\","
                       "\"name\":\"User %d\"},\"object\":{\"type\":\"Note\",\"id\":\"obj-%d\","
                       "\"content\":\"note number %d%s\"}}",
                       id, type, when, n % 5, n % 5, n, n, n % 10 == 0 ? " special" : "");
    char actor[16];
    snprintf(actor, sizeof actor, "u%d", n % 5);
    store_activity_t a = {.feed = feed, .feed_len = strlen(feed), .id = id, .id_len = strlen(id),
                          .published_us = pub, .types = type, .types_len = strlen(type),
                          .actor = actor, .actor_len = strlen(actor), .json = json,
                          .json_len = (size_t)len};
    cr_assert_eq(store_batch_upsert(b, &a, 0), 0);
    exp_t *e = &g_exp[g_nexp++];
    e->pub = pub;
    snprintf(e->id, sizeof e->id, "%s", id);
    snprintf(e->feed, sizeof e->feed, "%s", feed);
    e->announce = announce;
}

/* 300 activities in 12 runs of 25 sharing one published millisecond (at microseconds, and
 * inserted -- so seq-ordered -- in an order unrelated to their ids); one id in two feeds at the
 * same time; one deleted. */
static void setup(void)
{
    char tmpl[] = "/tmp/test_search.XXXXXX", err[256];
    cr_assert_not_null(mkdtemp(tmpl));
    g_dir = strdup(tmpl);
    cr_assert_eq(store_open(&g_st, g_dir, 0, err, sizeof err), 0, "%s", err);
    store_batch_t *b;
    cr_assert_eq(store_batch_new(g_st, &b), 0);
    static const char *feeds[] = {"f1", "f2", "f3"};
    g_nexp = 0;
    for (int i = 0; i < N_ACTS; i++) {
        char id[32];
        int n = (i * 7) % N_ACTS;
        snprintf(id, sizeof id, "act-%03d", n);
        put(b, feeds[i % 3], id, BASE_US + (i / GROUP) * 1000 + (n * 37) % 1000, n % 4 == 0, n);
        if (i % 100 == 99)
            cr_assert_eq(store_batch_commit(b, NULL), 0);
    }
    put(b, "f2", "dup", BASE_US + 5000, 0, 1);
    put(b, "f1", "dup", BASE_US + 5000, 0, 2);
    put(b, "f9", "gone", BASE_US + 5000, 0, 3);
    cr_assert_eq(store_batch_commit(b, NULL), 0);
    cr_assert_eq(store_batch_delete(b, "f9", "gone", 4), 0);
    cr_assert_eq(store_batch_commit(b, NULL), 0);
    g_nexp--;
    store_batch_free(b);
    qsort(g_exp, g_nexp, sizeof g_exp[0], exp_cmp);
}

static void teardown(void)
{
    store_close(g_st);
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(g_dir);
}

TestSuite(search, .init = setup, .fini = teardown, .timeout = 60);

/* Run and parse; the response must always be JSON. */
static json_t *run(int kind, const char *body, int *status)
{
    char *out;
    size_t len;
    *status = search_execute(g_st, NULL, kind, body, body ? strlen(body) : 0, &out, &len);
    cr_assert_not_null(out);
    json_error_t je;
    json_t *j = json_loadb(out, len, 0, &je);
    cr_assert_not_null(j, "response is not JSON (%s): %.*s", je.text, (int)len, out);
    free(out);
    return j;
}

static json_t *ok(const char *body)
{
    int status;
    json_t *j = run(SEARCH_SEARCH, body, &status);
    cr_assert_eq(status, 200, "%s -> %d %s", body, status, json_dumps(j, 0));
    return j;
}

static json_t *hits_of(json_t *res) { return json_object_get(json_object_get(res, "hits"), "hits"); }

/* "feed/id" of hit i. */
static void hit_key(json_t *res, size_t i, char *out, size_t n)
{
    json_t *h = json_array_get(hits_of(res), i);
    snprintf(out, n, "%s/%s", json_string_value(json_object_get(h, "_index")),
             json_string_value(json_object_get(h, "_id")));
}

static void exp_key(size_t i, char *out, size_t n) { snprintf(out, n, "%s/%s", g_exp[i].feed, g_exp[i].id); }

Test(search, sorts_by_published_then_id_then_feed)
{
    json_t *r = ok("{\"size\":10000}");
    cr_assert_eq(json_array_size(hits_of(r)), g_nexp);
    for (size_t i = 0; i < g_nexp; i++) {
        char got[64], want[64];
        hit_key(r, i, got, sizeof got);
        exp_key(i, want, sizeof want);
        cr_assert_str_eq(got, want, "hit %zu", i);
    }
    json_decref(r);
}

Test(search, descending_is_the_exact_reverse)
{
    json_t *r = ok("{\"size\":10000,\"sort\":[{\"published\":{\"order\":\"desc\"}}]}");
    cr_assert_eq(json_array_size(hits_of(r)), g_nexp);
    for (size_t i = 0; i < g_nexp; i++) {
        char got[64], want[64];
        hit_key(r, i, got, sizeof got);
        exp_key(g_nexp - 1 - i, want, sizeof want);
        cr_assert_str_eq(got, want, "hit %zu", i);
    }
    json_decref(r);
}

/* Page through with search_after, `size` at a time; returns the keys seen, in order. */
static size_t page_all(const char *sort, const char *query, int size, char keys[][64])
{
    json_t *after = NULL;
    size_t n = 0;
    for (int pages = 0; pages < 1000; pages++) {
        char body[1024];
        char *after_txt = after ? json_dumps(after, JSON_COMPACT) : NULL;
        snprintf(body, sizeof body, "{\"size\":%d,\"sort\":%s%s%s%s%s%s}", size, sort,
                 query ? ",\"query\":" : "", query ? query : "", after_txt ? ",\"search_after\":" : "",
                 after_txt ? after_txt : "", "");
        free(after_txt);
        json_t *r = ok(body);
        json_t *hits = hits_of(r);
        size_t nh = json_array_size(hits);
        cr_assert(nh <= (size_t)size);
        for (size_t i = 0; i < nh; i++)
            hit_key(r, i, keys[n++], 64);
        json_decref(after);
        after = nh ? json_incref(json_object_get(json_array_get(hits, nh - 1), "sort")) : NULL;
        json_decref(r);
        if (!nh)
            return n;
    }
    cr_assert_fail("paging did not end");
    return n;
}

Test(search, search_after_pages_visit_each_activity_once)
{
    static char keys[N_ACTS + 8][64];
    static const int sizes[] = {1, 7, 25, 26, 100};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = page_all("[{\"published\":\"asc\"}]", NULL, sizes[s], keys);
        cr_assert_eq(n, g_nexp, "size %d", sizes[s]);
        for (size_t i = 0; i < n; i++) {
            char want[64];
            exp_key(i, want, sizeof want);
            cr_assert_str_eq(keys[i], want, "size %d, hit %zu", sizes[s], i);
        }
        n = page_all("{\"published\":\"desc\"}", NULL, sizes[s], keys);
        cr_assert_eq(n, g_nexp, "desc size %d", sizes[s]);
        for (size_t i = 0; i < n; i++) {
            char want[64];
            exp_key(g_nexp - 1 - i, want, sizeof want);
            cr_assert_str_eq(keys[i], want, "desc size %d, hit %zu", sizes[s], i);
        }
    }
}

Test(search, search_after_with_a_query)
{
    static char keys[N_ACTS + 8][64];
    size_t n = page_all("\"published\"", "{\"term\":{\"type\":\"Announce\"}}", 4, keys), k = 0;
    for (size_t i = 0; i < g_nexp; i++) {
        if (!g_exp[i].announce)
            continue;
        char want[64];
        exp_key(i, want, sizeof want);
        cr_assert(k < n);
        cr_assert_str_eq(keys[k], want);
        k++;
    }
    cr_assert_eq(n, k);
    cr_assert_eq(k, N_ACTS / 4);
}

Test(search, search_after_accepts_an_rfc3339_time)
{
    char when[TIMEFMT_RFC3339_MAX], body[256];
    timefmt_format_rfc3339(g_exp[50].pub, when);
    snprintf(body, sizeof body, "{\"size\":1,\"search_after\":[\"%s\",\"%s\",\"%s\"]}", when,
             g_exp[50].id, g_exp[50].feed);
    json_t *r = ok(body);
    char got[64], want[64];
    hit_key(r, 0, got, sizeof got);
    exp_key(51, want, sizeof want);
    cr_expect_str_eq(got, want);
    json_decref(r);
}

Test(search, from_and_size_slice_the_order)
{
    json_t *r = ok("{\"from\":40,\"size\":30}");
    cr_assert_eq(json_array_size(hits_of(r)), 30);
    for (size_t i = 0; i < 30; i++) {
        char got[64], want[64];
        hit_key(r, i, got, sizeof got);
        exp_key(40 + i, want, sizeof want);
        cr_assert_str_eq(got, want);
    }
    json_decref(r);
    r = ok("{\"from\":300,\"size\":10}");
    cr_assert_eq(json_array_size(hits_of(r)), g_nexp - 300);
    json_decref(r);
}

Test(search, response_has_elasticsearch_shape)
{
    json_t *r = ok(NULL);   /* empty body: match_all, size 10 */
    cr_assert(json_is_integer(json_object_get(r, "took")));
    cr_assert(json_is_false(json_object_get(r, "timed_out")));
    json_t *hits = json_object_get(r, "hits");
    json_t *total = json_object_get(hits, "total");
    cr_assert_eq(json_integer_value(json_object_get(total, "value")), (json_int_t)g_nexp);
    cr_assert_str_eq(json_string_value(json_object_get(total, "relation")), "eq");
    cr_assert_eq(json_real_value(json_object_get(hits, "max_score")), 1.0);
    cr_assert_eq(json_array_size(hits_of(r)), 10);
    json_t *h = json_array_get(hits_of(r), 0);
    cr_assert_str_eq(json_string_value(json_object_get(h, "_index")), g_exp[0].feed);
    cr_assert_str_eq(json_string_value(json_object_get(h, "_id")), g_exp[0].id);
    cr_assert_eq(json_real_value(json_object_get(h, "_score")), 1.0);
    json_t *src = json_object_get(h, "_source");
    cr_assert_str_eq(json_string_value(json_object_get(src, "id")), g_exp[0].id);
    json_t *sort = json_object_get(h, "sort");
    cr_assert_eq(json_array_size(sort), 3);
    cr_assert_eq(json_integer_value(json_array_get(sort, 0)), ms(g_exp[0].pub));
    cr_assert_str_eq(json_string_value(json_array_get(sort, 1)), g_exp[0].id);
    cr_assert_str_eq(json_string_value(json_array_get(sort, 2)), g_exp[0].feed);
    json_decref(r);
    /* with an explicit sort: null scores, as Elasticsearch */
    r = ok("{\"sort\":\"published\",\"size\":1}");
    cr_assert(json_is_null(json_object_get(json_object_get(r, "hits"), "max_score")));
    cr_assert(json_is_null(json_object_get(json_array_get(hits_of(r), 0), "_score")));
    json_decref(r);
    /* whitespace is an empty body too; no hits: max_score null */
    r = ok(" \n");
    json_decref(r);
    r = ok("{\"query\":{\"match_none\":{}}}");
    cr_assert(json_is_null(json_object_get(json_object_get(r, "hits"), "max_score")));
    cr_assert_eq(json_array_size(hits_of(r)), 0);
    json_decref(r);
}

static json_t *total_of(json_t *r) { return json_object_get(json_object_get(r, "hits"), "total"); }

Test(search, total_hits_tracking)
{
    json_t *r = ok("{\"size\":0,\"track_total_hits\":100}");
    cr_assert_eq(json_array_size(hits_of(r)), 0);
    cr_assert_eq(json_integer_value(json_object_get(total_of(r), "value")), 100);
    cr_assert_str_eq(json_string_value(json_object_get(total_of(r), "relation")), "gte");
    json_decref(r);
    r = ok("{\"size\":0,\"track_total_hits\":true}");
    cr_assert_eq(json_integer_value(json_object_get(total_of(r), "value")), (json_int_t)g_nexp);
    cr_assert_str_eq(json_string_value(json_object_get(total_of(r), "relation")), "eq");
    json_decref(r);
    r = ok("{\"size\":3,\"track_total_hits\":false}");
    cr_assert_null(total_of(r));
    cr_assert_eq(json_array_size(hits_of(r)), 3);
    json_decref(r);
    /* exactly the limit is still exact */
    r = ok("{\"size\":1,\"track_total_hits\":302,\"query\":{\"match_all\":{}}}");
    cr_assert_eq(json_integer_value(json_object_get(total_of(r), "value")), 302);
    cr_assert_str_eq(json_string_value(json_object_get(total_of(r), "relation")), "eq");
    json_decref(r);
    /* the total covers what lies before a search_after cursor too */
    char body[256];
    snprintf(body, sizeof body, "{\"size\":2,\"query\":{\"term\":{\"type\":\"Announce\"}},"
                                "\"search_after\":[%lld,\"%s\",\"%s\"]}",
             (long long)ms(g_exp[200].pub), g_exp[200].id, g_exp[200].feed);
    r = ok(body);
    cr_assert_eq(json_integer_value(json_object_get(total_of(r), "value")), N_ACTS / 4);
    json_decref(r);
    snprintf(body, sizeof body, "{\"size\":2,\"sort\":{\"published\":\"desc\"},"
                                "\"search_after\":[%lld,\"%s\",\"%s\"]}",
             (long long)ms(g_exp[200].pub), g_exp[200].id, g_exp[200].feed);
    r = ok(body);
    cr_assert_eq(json_integer_value(json_object_get(total_of(r), "value")), (json_int_t)g_nexp);
    char got[64], want[64];
    hit_key(r, 0, got, sizeof got);
    exp_key(199, want, sizeof want);
    cr_assert_str_eq(got, want);
    json_decref(r);
}

static json_int_t count(const char *body)
{
    int status;
    json_t *r = run(SEARCH_COUNT, body, &status);
    cr_assert_eq(status, 200, "%s", body);
    json_int_t n = json_integer_value(json_object_get(r, "count"));
    json_decref(r);
    return n;
}

Test(search, count)
{
    cr_expect_eq(count(NULL), (json_int_t)g_nexp);
    cr_expect_eq(count("{}"), (json_int_t)g_nexp);
    cr_expect_eq(count("{\"query\":{\"match_all\":{}}}"), (json_int_t)g_nexp);
    cr_expect_eq(count("{\"query\":{\"term\":{\"type\":\"Announce\"}}}"), N_ACTS / 4);
    cr_expect_eq(count("{\"query\":{\"ids\":{\"values\":[\"gone\",\"dup\"]}}}"), 2);
    cr_expect_eq(count("{\"query\":{\"match\":{\"object.content\":\"special\"}}}"), N_ACTS / 10);
    cr_expect_eq(count("{\"query\":{\"range\":{\"published\":{\"lt\":1700000000000}}}}"), 0);
    cr_expect_eq(count("{\"query\":{\"range\":{\"published\":{\"lt\":1700000000001}}}}"), GROUP);
}

static json_t *first_source(const char *body)
{
    json_t *r = ok(body);
    json_t *s = json_incref(json_object_get(json_array_get(hits_of(r), 0), "_source"));
    json_decref(r);
    return s;
}

static void expect_source(const char *body, const char *want_json)
{
    json_t *s = first_source(body);
    json_t *want = json_loads(want_json, 0, NULL);
    cr_assert_not_null(want);
    char *got = s ? json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS) : strdup("(none)");
    char *exp = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    cr_expect_str_eq(got, exp, "%s", body);
    free(got);
    free(exp);
    json_decref(s);
    json_decref(want);
}

Test(search, source_filtering)
{
    const exp_t *e = &g_exp[0];
    int n = atoi(e->id + 4);
    char want[512], body[256];
    snprintf(body, sizeof body, "{\"size\":1,\"_source\":false}");
    json_t *s = first_source(body);
    cr_expect_null(s);
    snprintf(want, sizeof want, "{\"object\":{\"type\":\"Note\"}}");
    expect_source("{\"size\":1,\"_source\":\"object.type\"}", want);
    expect_source("{\"size\":1,\"_source\":[\"object.type\"]}", want);
    expect_source("{\"size\":1,\"_source\":{\"includes\":\"object.type\"}}", want);
    snprintf(want, sizeof want, "{\"actor\":{\"id\":\"u%d\"},\"object\":{\"id\":\"obj-%d\"}}", n % 5, n);
    expect_source("{\"size\":1,\"_source\":[\"*.id\"]}", want);
    snprintf(want, sizeof want, "{\"id\":\"%s\",\"actor\":{\"id\":\"u%d\",\"name\":\"User %d\"}}", e->id, n % 5, n % 5);
    expect_source("{\"size\":1,\"_source\":{\"includes\":[\"id\",\"actor\"]}}", want);
    snprintf(want, sizeof want, "{\"id\":\"%s\",\"actor\":{\"name\":\"User %d\"}}", e->id, n % 5);
    expect_source("{\"size\":1,\"_source\":{\"include\":[\"id\",\"actor\"],\"exclude\":\"actor.id\"}}", want);
    json_t *all = first_source("{\"size\":1,\"_source\":{\"excludes\":[\"object\",\"published\"]}}");
    cr_expect_null(json_object_get(all, "object"));
    cr_expect_null(json_object_get(all, "published"));
    cr_expect_not_null(json_object_get(all, "actor"));
    cr_expect_not_null(json_object_get(all, "type"));
    json_decref(all);
    expect_source("{\"size\":1,\"_source\":[\"nothing.here\"]}", "{}");
    expect_source("{\"size\":1,\"_source\":[\"obj*.c*\"]}", "{\"object\":{\"content\":\"note number 0 special\"}}");
}

/* ---- 400s ---- */

static void expect_400(int kind, const char *body, size_t len, const char *reason_part)
{
    char *out;
    size_t olen;
    int status = search_execute(g_st, NULL, kind, body, len, &out, &olen);
    cr_assert_eq(status, 400, "%.200s -> %d %.*s", body, status, (int)olen, out);
    json_t *r = json_loadb(out, olen, 0, NULL);
    cr_assert_not_null(r, "error body is not JSON: %.*s", (int)olen, out);
    json_t *err = json_object_get(r, "error");
    cr_expect_str_eq(json_string_value(json_object_get(err, "type")), "parsing_exception");
    const char *reason = json_string_value(json_object_get(err, "reason"));
    cr_assert_not_null(reason);
    cr_expect(strstr(reason, reason_part) != NULL, "%.200s: reason '%s' lacks '%s'", body, reason, reason_part);
    json_t *rc = json_array_get(json_object_get(err, "root_cause"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(rc, "reason")), reason);
    cr_expect_eq(json_integer_value(json_object_get(r, "status")), 400);
    json_decref(r);
    free(out);
}

/* {"_source": [[[...]]]} with k brackets: nesting 1 + k. */
static size_t nested_source(char *buf, int k)
{
    size_t n = (size_t)sprintf(buf, "{\"_source\":");
    for (int i = 0; i < k; i++)
        buf[n++] = '[';
    for (int i = 0; i < k; i++)
        buf[n++] = ']';
    buf[n++] = '}';
    return n;
}

static void bad(const char *body, const char *reason_part)
{
    expect_400(SEARCH_SEARCH, body, strlen(body), reason_part);
}

Test(search, bad_requests_are_400)
{
    bad("{\"query\":", "not valid JSON");
    bad("[]", "must be a JSON object");
    bad("{\"size\":1,\"size\":2}", "not valid JSON");
    bad("{\"highlight\":{}}", "unknown key [highlight] in the search body");
    bad("{\"aggs\":{\"a\":{\"geo_distance\":{}}}}", "[a] aggregation type [geo_distance] is not supported");
    bad("{\"aggs\":{},\"aggregations\":{}}", "found two aggregation definitions");
    bad("{\"size\":-1}", "[size] parameter cannot be negative, found [-1]");
    bad("{\"size\":10001}", "Result window is too large, from + size must be less than or equal to: [10000] but was [10001]");
    bad("{\"size\":9000,\"from\":1001}", "but was [10001]");
    bad("{\"from\":-5}", "[from] parameter cannot be negative");
    bad("{\"size\":\"10\"}", "[size] must be an integer");
    bad("{\"size\":1.5}", "[size] must be an integer");
    bad("{\"from\":true}", "[from] must be an integer");
    bad("{\"sort\":\"_id\"}", "unknown sort field [_id]");
    bad("{\"sort\":{\"_doc\":\"desc\"}}", "index order, ascending only");
    bad("{\"sort\":[\"_doc\",\"published\"]}", "index order must come last");
    bad("{\"sort\":[{\"_score\":\"desc\"}]}", "unknown sort field [_score]");
    bad("{\"sort\":{\"published\":\"up\"}}", "order must be \"asc\" or \"desc\"");
    bad("{\"sort\":{\"published\":{\"order\":\"asc\",\"format\":\"x\"}}}", "unknown key [format] in [sort.published]");
    bad("{\"sort\":{\"published\":3}}", "[sort.published] must be");
    bad("{\"sort\":[\"published\",{\"id\":\"asc\"}]}", "unknown sort field [id]");
    bad("{\"sort\":[\"published\",{\"published\":\"desc\"}]}", "names [published] twice");
    bad("{\"sort\":7}", "[sort] elements must be");
    bad("{\"search_after\":[1,\"a\"]}", "[search_after] must be the \"sort\" array of a hit");
    bad("{\"search_after\":[\"yesterday\",\"a\",\"f\"]}", "[search_after] must be");
    bad("{\"search_after\":[1,2,\"f\"]}", "[search_after] must be");
    bad("{\"search_after\":[1,\"a\",\"f\"],\"from\":1}", "[from] parameter must be set to 0 when [search_after] is used");
    bad("{\"track_total_hits\":\"yes\"}", "[track_total_hits] must be");
    bad("{\"track_total_hits\":-2}", "[track_total_hits] must be");
    bad("{\"_source\":5}", "[_source] must be");
    bad("{\"_source\":[\"a\",1]}", "[_source.includes] must be a string or an array of strings");
    bad("{\"_source\":{\"excludes\":{}}}", "[_source.excludes] must be");
    bad("{\"_source\":{\"fields\":[]}}", "unknown key [fields] in [_source]");
    bad("{\"query\":{\"fuzzy\":{\"a\":\"b\"}}}", "query: unknown query type 'fuzzy'");
    bad("{\"query\":{\"bool\":{\"must\":[{\"range\":{\"published\":{\"gt\":\"x\"}}}]}}}",
        "query.bool.must[0].range.published.gt: expected a date or number");
    expect_400(SEARCH_COUNT, "{\"size\":1}", 10, "unknown key [size] in the count body");
    expect_400(SEARCH_COUNT, "{\"query\":{}}", 12, "query: empty query object");

    /* nesting: 32 levels is fine (the error is about the value), 33 is not */
    char deep[128];
    size_t n = nested_source(deep, 31);
    expect_400(SEARCH_SEARCH, deep, n, "[_source.includes] must be");
    n = nested_source(deep, 32);
    expect_400(SEARCH_SEARCH, deep, n, "request body is nested deeper than 32");

    /* over 1 MiB, even when it is otherwise valid */
    size_t big = 1024 * 1024 + 1;
    char *text = malloc(big + 1);
    memset(text, ' ', big);
    text[0] = '{';
    text[big - 1] = '}';
    text[big] = '\0';
    expect_400(SEARCH_SEARCH, text, big, "request body is larger than 1 MiB");
    text[0] = text[big - 1] = ' ';
    text[1] = '{';
    text[big - 2] = '}';
    char *out;
    size_t olen;
    cr_expect_eq(search_execute(g_st, NULL, SEARCH_SEARCH, text + 1, big - 2, &out, &olen), 200);
    free(out);
    free(text);
}

Test(search, store_failure_is_500)
{
    char *out;
    size_t len;
    int status = search_execute(NULL, NULL, SEARCH_SEARCH, "{\"query\":{\"match_all\":{}}}", 26, &out, &len);
    cr_assert_eq(status, 500);
    json_t *r = json_loadb(out, len, 0, NULL);
    cr_assert_not_null(r);
    cr_expect_eq(json_integer_value(json_object_get(r, "status")), 500);
    json_decref(r);
    free(out);
}

/* ---- runs: feeds, scope, views, aggregations, known totals ---- */

/* Parse `body` and run it over src; the response parsed. */
static json_t *run_src(int kind, const char *body, const search_src_t *src, const search_opts_t *o,
                       search_result_t *res, int *status)
{
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    search_t *s;
    char err[512];
    cr_assert_eq(search_parse(kind, j, 0, &s, err, sizeof err), 0, "%s", err);
    json_decref(j);
    bytebuf_t b = {0};
    *status = search_run(s, src, o, &b, res);
    search_free(s);
    json_t *r = json_loadb(b.p, b.len, 0, NULL);
    cr_assert_not_null(r, "%.*s", (int)b.len, b.p);
    bytebuf_free(&b);
    return r;
}

static json_int_t total_value(json_t *r)
{
    return json_integer_value(json_object_get(total_of(r), "value"));
}

Test(search, runs_restricted_to_feeds_and_scope)
{
    static const char *const f1[] = {"f1"}, *const f23[] = {"f2", "f3"};
    size_t in_f1 = 0;
    for (size_t i = 0; i < g_nexp; i++)
        in_f1 += strcmp(g_exp[i].feed, "f1") == 0;
    int status;
    search_src_t src = {.st = g_st, .feeds = f1, .nfeeds = 1};
    json_t *r = run_src(SEARCH_SEARCH, "{\"size\":1000,\"track_total_hits\":true}", &src, NULL, NULL, &status);
    cr_assert_eq(status, 200);
    cr_expect_eq(total_value(r), (json_int_t)in_f1);
    for (size_t i = 0; i < json_array_size(hits_of(r)); i++)
        cr_expect_str_eq(json_string_value(json_object_get(json_array_get(hits_of(r), i), "_index")), "f1");
    json_decref(r);
    r = run_src(SEARCH_COUNT, NULL, &src, NULL, NULL, &status);   /* the stored counts */
    cr_expect_eq(json_integer_value(json_object_get(r, "count")), (json_int_t)in_f1);
    json_decref(r);
    src.feeds = f23;
    src.nfeeds = 2;
    r = run_src(SEARCH_COUNT, "{\"query\":{\"match_all\":{}}}", &src, NULL, NULL, &status);
    cr_expect_eq(json_integer_value(json_object_get(r, "count")), (json_int_t)(g_nexp - in_f1));
    json_decref(r);
    src.nfeeds = 0;   /* no feed at all */
    r = run_src(SEARCH_COUNT, NULL, &src, NULL, NULL, &status);
    cr_expect_eq(json_integer_value(json_object_get(r, "count")), 0);
    json_decref(r);
    /* a scope ANDs into hits, totals, counts and aggregations */
    query_t *scope;
    char err[256];
    cr_assert_eq(query_compile_text("{\"term\":{\"type\":\"Announce\"}}", 28, &scope, err, sizeof err), 0, "%s", err);
    src = (search_src_t){.st = g_st, .scope = scope};
    r = run_src(SEARCH_COUNT, NULL, &src, NULL, NULL, &status);
    cr_expect_eq(json_integer_value(json_object_get(r, "count")), N_ACTS / 4);
    json_decref(r);
    r = run_src(SEARCH_SEARCH, "{\"size\":0,\"aggs\":{\"t\":{\"terms\":{\"field\":\"type\"}}}}", &src, NULL, NULL, &status);
    cr_assert_eq(status, 200);
    cr_expect_eq(total_value(r), N_ACTS / 4);
    json_t *buckets = json_object_get(json_object_get(json_object_get(r, "aggregations"), "t"), "buckets");
    cr_assert_eq(json_array_size(buckets), 1);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(buckets, 0), "key")), "Announce");
    json_decref(r);
    query_free(scope);
}

Test(search, aggregations_see_every_match_whatever_the_page)
{
    int status;
    search_src_t src = {.st = g_st};
    char body[512];
    snprintf(body, sizeof body, "{\"size\":2,\"search_after\":[%lld,\"%s\",\"%s\"],\"aggs\":{\"f\":{\"terms\":"
             "{\"field\":\"feed\"}},\"n\":{\"value_count\":{\"field\":\"id\"}}}}",
             (long long)ms(g_exp[100].pub), g_exp[100].id, g_exp[100].feed);
    json_t *r = run_src(SEARCH_SEARCH, body, &src, NULL, NULL, &status);
    cr_assert_eq(status, 200);
    cr_expect_eq(total_value(r), (json_int_t)g_nexp);
    cr_expect_eq(json_array_size(hits_of(r)), 2);
    json_t *aggs = json_object_get(r, "aggregations");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(aggs, "n"), "value")), (json_int_t)g_nexp);
    cr_expect_eq(json_array_size(json_object_get(json_object_get(aggs, "f"), "buckets")), 3);
    char got[64], want[64];
    hit_key(r, 0, got, sizeof got);
    exp_key(101, want, sizeof want);
    cr_expect_str_eq(got, want);
    json_decref(r);
    /* left out when asked (scroll pages after the first) */
    search_opts_t o = {.no_aggs = true};
    r = run_src(SEARCH_SEARCH, body, &src, &o, NULL, &status);
    cr_expect_null(json_object_get(r, "aggregations"));
    cr_expect_eq(total_value(r), (json_int_t)g_nexp);
    json_decref(r);
    r = run_src(SEARCH_SEARCH, "{\"aggs\":{\"h\":{\"date_histogram\":{\"field\":\"published\",\"fixed_interval\":\"1h\"}}},"
                "\"size\":0}", &src, NULL, NULL, &status);
    json_t *buckets = json_object_get(json_object_get(json_object_get(r, "aggregations"), "h"), "buckets");
    cr_expect_eq(json_array_size(buckets), 1);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(buckets, 0), "doc_count")), (json_int_t)g_nexp);
    json_decref(r);
}

Test(search, known_totals_ids_and_the_last_sort)
{
    int status;
    search_src_t src = {.st = g_st};
    search_result_t res;
    search_opts_t o = {.id_key = "pit_id", .id = "abc", .have_total = true, .total = 7};
    json_t *r = run_src(SEARCH_SEARCH, "{\"size\":3,\"sort\":\"_doc\"}", &src, &o, &res, &status);
    cr_assert_eq(status, 200);
    cr_expect_str_eq(json_string_value(json_object_get(r, "pit_id")), "abc");
    cr_expect_eq(total_value(r), 7);
    cr_expect(json_is_null(json_object_get(json_object_get(r, "hits"), "max_score")));
    cr_expect_eq(res.counted, 7);
    cr_assert_not_null(res.last_sort);
    cr_expect(json_equal(res.last_sort, json_object_get(json_array_get(hits_of(r), 2), "sort")));
    json_decref(res.last_sort);
    json_decref(r);
    /* counted as asked: the limit + 1 at most; totals as numbers */
    o = (search_opts_t){.total_as_int = true};
    r = run_src(SEARCH_SEARCH, "{\"size\":0,\"track_total_hits\":true}", &src, &o, &res, &status);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(r, "hits"), "total")), (json_int_t)g_nexp);
    cr_expect_null(res.last_sort);
    json_decref(r);
    r = run_src(SEARCH_SEARCH, "{\"size\":0,\"track_total_hits\":10}", &src, NULL, &res, &status);
    cr_expect_eq(res.counted, 11);
    json_decref(r);
}

static int put_one(store_batch_t *b, const char *feed, const char *id, int64_t pub)
{
    store_activity_t a = {.feed = feed, .feed_len = strlen(feed), .id = id, .id_len = strlen(id),
                          .published_us = pub, .types = "Create", .types_len = 6, .json = "{\"type\":\"Create\"}",
                          .json_len = 17};
    return store_batch_upsert(b, &a, 0);
}

Test(search, a_view_sees_the_store_as_it_was)
{
    store_view_t *v;
    cr_assert_eq(store_view_open(g_st, &v), 0);
    store_batch_t *b;
    cr_assert_eq(store_batch_new(g_st, &b), 0);
    cr_assert_eq(put_one(b, "f1", "late", BASE_US), 0);
    cr_assert_eq(store_batch_delete(b, "f1", g_exp[0].id, strlen(g_exp[0].id)), 0);
    cr_assert_eq(store_batch_delete(b, g_exp[0].feed, g_exp[0].id, strlen(g_exp[0].id)), 0);
    cr_assert_eq(store_batch_commit(b, NULL), 0);
    store_batch_free(b);
    int status;
    search_src_t src = {.st = g_st, .view = v};
    json_t *r = run_src(SEARCH_SEARCH, "{\"size\":1,\"query\":{\"match_all\":{}}}", &src, NULL, NULL, &status);
    cr_assert_eq(status, 200);
    cr_expect_eq(total_value(r), (json_int_t)g_nexp);
    char got[64], want[64];
    hit_key(r, 0, got, sizeof got);
    exp_key(0, want, sizeof want);
    cr_expect_str_eq(got, want, "the deleted activity is still there");
    json_decref(r);
    r = run_src(SEARCH_COUNT, NULL, &src, NULL, NULL, &status);
    cr_expect_eq(json_integer_value(json_object_get(r, "count")), (json_int_t)g_nexp);
    json_decref(r);
    src.view = NULL;   /* the store itself has moved on */
    r = run_src(SEARCH_COUNT, "{\"query\":{\"ids\":{\"values\":[\"late\"]}}}", &src, NULL, NULL, &status);
    cr_expect_eq(json_integer_value(json_object_get(r, "count")), 1);
    json_decref(r);
    store_view_close(v);
}
