/* test_agg.c -- the aggregations engine over a small store in a temporary directory: ten
 * activities whose every aggregation result is worked out by hand below (tables of request ->
 * expected "aggregations" value, compared as JSON: numbers of the wrong type, 5 for 5.0, fail),
 * every option and its defaults, bucket order and ties, empty buckets, time zones that move
 * activities across midnight, extended_bounds, missing, min_doc_count, three levels of
 * sub-aggregations, and every error with its exact message. */
#include "agg.h"
#include "query.h"
#include "store.h"
#include "store_fixture.h"
#include "timefmt.h"
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- the data set ----
 * published (UTC)        feed id   types            actor  object
 * 2024-01-01T00:30       f1   a01  Create           u1     Note n=1   tags x,y  flag true
 * 2024-01-01T01:15       f1   a02  Create           u2     Note n=2.5 tags x    flag false
 * 2024-01-01T01:45       f2   a03  Update           u1     Article n=10 tags []
 * 2024-01-01T23:30       f1   a04  Create,Announce  u3     [Image n=5 tags y,y; Note n=7]
 * 2024-01-02T00:10       f2   a05  Like             u2     "a01" (a string)
 * 2024-01-02T05:00       f3   a06  Create           u1     Note n=5.0 tags "z"
 * 2024-01-03T12:00       f1   a07  Delete           -      Tombstone n=-1
 * 2024-01-05T09:00       f3   a08  Create           u4     Note n="100" tags y
 * 2024-01-05T09:00       f2   a09  Create           u1     Note n=3 flag true
 * 2024-02-10T00:00       f1   a10  Update           u2     Article n=null
 * In epoch ms: a01 1704069000000, a02 1704071700000, a03 1704073500000, a04 1704151800000,
 * a05 1704154200000, a06 1704171600000, a07 1704283200000, a08 = a09 1704445200000,
 * a10 1707523200000. 2024-01-01T00:00Z is 1704067200000; a day is 86400000. */
typedef struct { const char *feed, *id, *published, *types, *actor, *json; } fx_t;

static const fx_t FX[] = {
    {"f1", "a01", "2024-01-01T00:30:00Z", "Create", "u1",
     "{\"id\":\"a01\",\"type\":\"Create\",\"actor\":{\"id\":\"u1\"},\"object\":{\"type\":\"Note\",\"n\":1,"
     "\"tags\":[\"x\",\"y\"],\"flag\":true,\"when\":\"2024-01-10T00:00:00Z\"}}"},
    {"f1", "a02", "2024-01-01T01:15:00Z", "Create", "u2",
     "{\"id\":\"a02\",\"type\":\"Create\",\"actor\":\"u2\",\"object\":{\"type\":\"Note\",\"n\":2.5,"
     "\"tags\":[\"x\"],\"flag\":false}}"},
    {"f2", "a03", "2024-01-01T01:45:00Z", "Update", "u1",
     "{\"id\":\"a03\",\"type\":\"Update\",\"actor\":\"u1\",\"object\":{\"type\":\"Article\",\"n\":10,\"tags\":[]}}"},
    {"f1", "a04", "2024-01-01T23:30:00Z", "Create|Announce", "u3",
     "{\"id\":\"a04\",\"type\":[\"Create\",\"Announce\"],\"actor\":\"u3\",\"object\":[{\"type\":\"Image\","
     "\"n\":5,\"tags\":[\"y\",\"y\"]},{\"type\":\"Note\",\"n\":7}]}"},
    {"f2", "a05", "2024-01-02T00:10:00Z", "Like", "u2",
     "{\"id\":\"a05\",\"type\":\"Like\",\"actor\":\"u2\",\"object\":\"a01\"}"},
    {"f3", "a06", "2024-01-02T05:00:00Z", "Create", "u1",
     "{\"id\":\"a06\",\"type\":\"Create\",\"actor\":\"u1\",\"object\":{\"type\":\"Note\",\"n\":5.0,\"tags\":\"z\","
     "\"when\":\"2024-01-12T10:00:00+02:00\"}}"},
    {"f1", "a07", "2024-01-03T12:00:00Z", "Delete", "",
     "{\"id\":\"a07\",\"type\":\"Delete\",\"object\":{\"type\":\"Tombstone\",\"n\":-1}}"},
    {"f3", "a08", "2024-01-05T09:00:00Z", "Create", "u4",
     "{\"id\":\"a08\",\"type\":\"Create\",\"actor\":\"u4\",\"object\":{\"type\":\"Note\",\"n\":\"100\",\"tags\":[\"y\"]}}"},
    {"f2", "a09", "2024-01-05T09:00:00Z", "Create", "u1",
     "{\"id\":\"a09\",\"type\":\"Create\",\"actor\":\"u1\",\"object\":{\"type\":\"Note\",\"n\":3,\"flag\":true}}"},
    {"f1", "a10", "2024-02-10T00:00:00Z", "Update", "u2",
     "{\"id\":\"a10\",\"type\":\"Update\",\"actor\":\"u2\",\"object\":{\"type\":\"Article\",\"n\":null}}"},
};
#define NFX (sizeof FX / sizeof FX[0])

/* "now" for date math: 2024-02-15T00:00:00Z */
#define NOW_US INT64_C(1707955200000000)

static void put(store_batch_t *b, const fx_t *f)
{
    char types[64];
    int64_t us;
    snprintf(types, sizeof types, "%s", f->types);
    for (char *p = types; *p; p++)
        if (*p == '|')
            *p = STORE_TYPE_SEP;
    cr_assert_eq(timefmt_parse_rfc3339(f->published, strlen(f->published), &us, NULL), 0);
    store_activity_t a = {.feed = f->feed, .feed_len = strlen(f->feed), .id = f->id, .id_len = strlen(f->id),
                          .published_us = us, .types = types, .types_len = strlen(types),
                          .actor = f->actor, .actor_len = strlen(f->actor), .json = f->json,
                          .json_len = strlen(f->json)};
    cr_assert_eq(store_batch_upsert(b, &a, 0), 0);
}

/* The store fixture's temporary store (g_st), holding the data set. */
static void setup(void)
{
    store_fixture_setup();
    for (size_t i = 0; i < NFX; i++)
        put(g_b, &FX[i]);
    commit_ok(g_b);
}

TestSuite(agg, .init = setup, .fini = store_fixture_teardown);

/* ---- running aggregations ---- */

typedef struct { agg_run_t *run; const query_t *q; } feed_t;

static int feed_rec(const store_rec_t *rec, void *ud)
{
    feed_t *f = ud;
    if (!f->q || query_match(f->q, rec))
        cr_assert_eq(agg_run_add(f->run, rec), 0);
    return 0;
}

/* Compile `aggs`, feed it the records matching `query` (NULL: all), render. Returns the
 * rendered text (caller frees) or NULL with *rc and err set. */
static char *run_aggs(const char *aggs, const char *query, int *rc, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j = json_loads(aggs, 0, &je);
    cr_assert_not_null(j, "bad test JSON %s: %s", aggs, je.text);
    agg_t *a = NULL;
    *rc = agg_compile(j, NOW_US, &a, err, errlen);
    json_decref(j);
    if (*rc)
        return NULL;
    query_t *q = NULL;
    if (query)
        cr_assert_eq(query_compile_text(query, strlen(query), &q, err, errlen), 0, "%s", err);
    agg_run_t *run;
    cr_assert_eq(agg_run_new(a, &run), 0);
    feed_t f = {run, q};
    cr_assert_eq(store_scan_time(g_st, (store_tpos_t){INT64_MIN, 0}, INT64_MAX, 0, 0, feed_rec, &f, NULL), 0);
    bytebuf_t b = {0};
    *rc = agg_run_render(run, &b, err, errlen);
    char *text = *rc ? NULL : bytebuf_take(&b, NULL);
    bytebuf_free(&b);
    agg_run_free(run);
    agg_free(a);
    query_free(q);
    return text;
}

static void expect_aggs(const char *aggs, const char *query, const char *want)
{
    char err[1024] = "";
    int rc;
    char *got = run_aggs(aggs, query, &rc, err, sizeof err);
    cr_assert_eq(rc, 0, "%s: %s", aggs, err);
    json_t *g = json_loads(got, 0, NULL), *w = json_loads(want, 0, NULL);
    cr_assert_not_null(g, "%s: output is not JSON: %s", aggs, got);
    cr_assert_not_null(w, "bad expected JSON: %s", want);
    cr_expect(json_equal(g, w), "%s\n  got:  %s\n  want: %s", aggs, got, want);
    json_decref(g);
    json_decref(w);
    free(got);
}

typedef struct { const char *aggs, *query, *want; } case_t;

static void run_table(const case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect_aggs(cases[i].aggs, cases[i].query, cases[i].want);
}

#define RUN(table) run_table(table, sizeof table / sizeof table[0])
#define BEFORE_JAN4 "{\"range\":{\"published\":{\"lt\":\"2024-01-04\"}}}"
#define BEFORE_JAN10 "{\"range\":{\"published\":{\"lt\":\"2024-01-10\"}}}"

/* ---- terms ---- */

static const case_t TERMS[] = {
    /* defaults: size 10, _count desc, ties by key asc */
    {"{\"t\":{\"terms\":{\"field\":\"type\"}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":["
     "{\"key\":\"Create\",\"doc_count\":6},{\"key\":\"Update\",\"doc_count\":2},"
     "{\"key\":\"Announce\",\"doc_count\":1},{\"key\":\"Delete\",\"doc_count\":1},{\"key\":\"Like\",\"doc_count\":1}]}}"},
    /* size cuts, the rest is sum_other_doc_count */
    {"{\"t\":{\"terms\":{\"field\":\"type\",\"size\":2}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":3,\"buckets\":["
     "{\"key\":\"Create\",\"doc_count\":6},{\"key\":\"Update\",\"doc_count\":2}]}}"},
    {"{\"t\":{\"terms\":{\"field\":\"type\",\"order\":{\"_key\":\"asc\"}}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":["
     "{\"key\":\"Announce\",\"doc_count\":1},{\"key\":\"Create\",\"doc_count\":6},{\"key\":\"Delete\",\"doc_count\":1},"
     "{\"key\":\"Like\",\"doc_count\":1},{\"key\":\"Update\",\"doc_count\":2}]}}"},
    {"{\"t\":{\"terms\":{\"field\":\"type\",\"order\":{\"_key\":\"desc\"},\"size\":2}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":8,\"buckets\":["
     "{\"key\":\"Update\",\"doc_count\":2},{\"key\":\"Like\",\"doc_count\":1}]}}"},
    /* _count asc: ties still by key asc */
    {"{\"t\":{\"terms\":{\"field\":\"type\",\"order\":{\"_count\":\"asc\"}}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":["
     "{\"key\":\"Announce\",\"doc_count\":1},{\"key\":\"Delete\",\"doc_count\":1},{\"key\":\"Like\",\"doc_count\":1},"
     "{\"key\":\"Update\",\"doc_count\":2},{\"key\":\"Create\",\"doc_count\":6}]}}"},
    /* a list of criteria */
    {"{\"t\":{\"terms\":{\"field\":\"type\",\"order\":[{\"_count\":\"desc\"},{\"_key\":\"desc\"}]}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":["
     "{\"key\":\"Create\",\"doc_count\":6},{\"key\":\"Update\",\"doc_count\":2},{\"key\":\"Like\",\"doc_count\":1},"
     "{\"key\":\"Delete\",\"doc_count\":1},{\"key\":\"Announce\",\"doc_count\":1}]}}"},
    /* min_doc_count drops buckets; what it drops is not "other" */
    {"{\"t\":{\"terms\":{\"field\":\"type\",\"min_doc_count\":2,\"shard_size\":50}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":["
     "{\"key\":\"Create\",\"doc_count\":6},{\"key\":\"Update\",\"doc_count\":2}]}}"},
    {"{\"t\":{\"terms\":{\"field\":\"type\",\"min_doc_count\":0,\"size\":1}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":5,\"buckets\":["
     "{\"key\":\"Create\",\"doc_count\":6}]}}"},
    /* feed and its alias _index; actor with missing (a07 has none) */
    {"{\"t\":{\"terms\":{\"field\":\"_index\"}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":["
     "{\"key\":\"f1\",\"doc_count\":5},{\"key\":\"f2\",\"doc_count\":3},{\"key\":\"f3\",\"doc_count\":2}]}}"},
    {"{\"t\":{\"terms\":{\"field\":\"actor.id\",\"missing\":\"nobody\"}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":["
     "{\"key\":\"u1\",\"doc_count\":4},{\"key\":\"u2\",\"doc_count\":3},{\"key\":\"nobody\",\"doc_count\":1},"
     "{\"key\":\"u3\",\"doc_count\":1},{\"key\":\"u4\",\"doc_count\":1}]}}"},
    {"{\"t\":{\"terms\":{\"field\":\"actor\"}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":["
     "{\"key\":\"u1\",\"doc_count\":4},{\"key\":\"u2\",\"doc_count\":3},"
     "{\"key\":\"u3\",\"doc_count\":1},{\"key\":\"u4\",\"doc_count\":1}]}}"},
    /* JSON fields: arrays of objects give each element's value; a05's object is a string */
    {"{\"t\":{\"terms\":{\"field\":\"object.type\",\"missing\":\"none\"}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":["
     "{\"key\":\"Note\",\"doc_count\":6},{\"key\":\"Article\",\"doc_count\":2},{\"key\":\"Image\",\"doc_count\":1},"
     "{\"key\":\"Tombstone\",\"doc_count\":1},{\"key\":\"none\",\"doc_count\":1}]}}"},
    {"{\"t\":{\"terms\":{\"field\":\"object.type.keyword\",\"size\":1}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":4,\"buckets\":["
     "{\"key\":\"Note\",\"doc_count\":6}]}}"},
    /* a record counts once per bucket: a04 has tags y, y */
    {"{\"t\":{\"terms\":{\"field\":\"object.tags\"}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":["
     "{\"key\":\"y\",\"doc_count\":3},{\"key\":\"x\",\"doc_count\":2},{\"key\":\"z\",\"doc_count\":1}]}}"},
    /* numbers key by value (5 and 5.0 meet), before strings; "100" stays a string */
    {"{\"t\":{\"terms\":{\"field\":\"object.n\"}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":["
     "{\"key\":5,\"doc_count\":2},{\"key\":-1,\"doc_count\":1},{\"key\":1,\"doc_count\":1},"
     "{\"key\":2.5,\"doc_count\":1},{\"key\":3,\"doc_count\":1},{\"key\":7,\"doc_count\":1},"
     "{\"key\":10,\"doc_count\":1},{\"key\":\"100\",\"doc_count\":1}]}}"},
    {"{\"t\":{\"terms\":{\"field\":\"object.n\",\"order\":{\"_key\":\"desc\"},\"size\":3}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":6,\"buckets\":["
     "{\"key\":\"100\",\"doc_count\":1},{\"key\":10,\"doc_count\":1},{\"key\":7,\"doc_count\":1}]}}"},
    /* booleans: 1/0 with key_as_string; missing as a number */
    {"{\"t\":{\"terms\":{\"field\":\"object.flag\",\"missing\":-1}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":["
     "{\"key\":-1,\"doc_count\":7},{\"key\":1,\"key_as_string\":\"true\",\"doc_count\":2},"
     "{\"key\":0,\"key_as_string\":\"false\",\"doc_count\":1}]}}"},
    /* the date field: epoch ms keys with key_as_string */
    {"{\"t\":{\"terms\":{\"field\":\"published\",\"size\":2}}}", NULL,
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":7,\"buckets\":["
     "{\"key\":1704445200000,\"key_as_string\":\"2024-01-05T09:00:00.000Z\",\"doc_count\":2},"
     "{\"key\":1704069000000,\"key_as_string\":\"2024-01-01T00:30:00.000Z\",\"doc_count\":1}]}}"},
    /* nothing matches: no buckets */
    {"{\"t\":{\"terms\":{\"field\":\"type\"}}}", "{\"match_none\":{}}",
     "{\"t\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":[]}}"},
};

Test(agg, terms)
{
    RUN(TERMS);
}

/* ---- date_histogram ---- */

static const case_t DATE_HISTOGRAMS[] = {
    /* days, the empty 4th filled (min_doc_count 0) */
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\"}}}", BEFORE_JAN10,
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2024-01-01T00:00:00.000Z\",\"key\":1704067200000,\"doc_count\":4},"
     "{\"key_as_string\":\"2024-01-02T00:00:00.000Z\",\"key\":1704153600000,\"doc_count\":2},"
     "{\"key_as_string\":\"2024-01-03T00:00:00.000Z\",\"key\":1704240000000,\"doc_count\":1},"
     "{\"key_as_string\":\"2024-01-04T00:00:00.000Z\",\"key\":1704326400000,\"doc_count\":0},"
     "{\"key_as_string\":\"2024-01-05T00:00:00.000Z\",\"key\":1704412800000,\"doc_count\":2}]}}"},
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"1d\",\"min_doc_count\":1}}}", BEFORE_JAN10,
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2024-01-01T00:00:00.000Z\",\"key\":1704067200000,\"doc_count\":4},"
     "{\"key_as_string\":\"2024-01-02T00:00:00.000Z\",\"key\":1704153600000,\"doc_count\":2},"
     "{\"key_as_string\":\"2024-01-03T00:00:00.000Z\",\"key\":1704240000000,\"doc_count\":1},"
     "{\"key_as_string\":\"2024-01-05T00:00:00.000Z\",\"key\":1704412800000,\"doc_count\":2}]}}"},
    /* +01:00 moves a04 (23:30Z) into 2 January; keys are local midnights as UTC instants */
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\",\"time_zone\":\"+01:00\"}}}",
     BEFORE_JAN10,
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2024-01-01T00:00:00.000+01:00\",\"key\":1704063600000,\"doc_count\":3},"
     "{\"key_as_string\":\"2024-01-02T00:00:00.000+01:00\",\"key\":1704150000000,\"doc_count\":3},"
     "{\"key_as_string\":\"2024-01-03T00:00:00.000+01:00\",\"key\":1704236400000,\"doc_count\":1},"
     "{\"key_as_string\":\"2024-01-04T00:00:00.000+01:00\",\"key\":1704322800000,\"doc_count\":0},"
     "{\"key_as_string\":\"2024-01-05T00:00:00.000+01:00\",\"key\":1704409200000,\"doc_count\":2}]}}"},
    /* -05:30 moves a01..a03 back into 31 December and a05, a06 into 1 January */
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\",\"time_zone\":\"-05:30\","
     "\"min_doc_count\":1}}}", BEFORE_JAN10,
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2023-12-31T00:00:00.000-05:30\",\"key\":1704000600000,\"doc_count\":3},"
     "{\"key_as_string\":\"2024-01-01T00:00:00.000-05:30\",\"key\":1704087000000,\"doc_count\":3},"
     "{\"key_as_string\":\"2024-01-03T00:00:00.000-05:30\",\"key\":1704259800000,\"doc_count\":1},"
     "{\"key_as_string\":\"2024-01-05T00:00:00.000-05:30\",\"key\":1704432600000,\"doc_count\":2}]}}"},
    /* UTC and Z print Z */
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"year\",\"time_zone\":\"UTC\"}}}", NULL,
     "{\"h\":{\"buckets\":[{\"key_as_string\":\"2024-01-01T00:00:00.000Z\",\"key\":1704067200000,\"doc_count\":10}]}}"},
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"1y\",\"time_zone\":\"Z\"}}}", NULL,
     "{\"h\":{\"buckets\":[{\"key_as_string\":\"2024-01-01T00:00:00.000Z\",\"key\":1704067200000,\"doc_count\":10}]}}"},
    /* hours, only the counted ones */
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"hour\",\"min_doc_count\":1}}}",
     BEFORE_JAN4,
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2024-01-01T00:00:00.000Z\",\"key\":1704067200000,\"doc_count\":1},"
     "{\"key_as_string\":\"2024-01-01T01:00:00.000Z\",\"key\":1704070800000,\"doc_count\":2},"
     "{\"key_as_string\":\"2024-01-01T23:00:00.000Z\",\"key\":1704150000000,\"doc_count\":1},"
     "{\"key_as_string\":\"2024-01-02T00:00:00.000Z\",\"key\":1704153600000,\"doc_count\":1},"
     "{\"key_as_string\":\"2024-01-02T05:00:00.000Z\",\"key\":1704171600000,\"doc_count\":1},"
     "{\"key_as_string\":\"2024-01-03T12:00:00.000Z\",\"key\":1704283200000,\"doc_count\":1}]}}"},
    /* fixed 90 minutes from the epoch: 00:00 (a01, a02), 01:30 (a03) */
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"fixed_interval\":\"90m\"}}}",
     "{\"range\":{\"published\":{\"lt\":\"2024-01-01T02:00:00Z\"}}}",
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2024-01-01T00:00:00.000Z\",\"key\":1704067200000,\"doc_count\":2},"
     "{\"key_as_string\":\"2024-01-01T01:30:00.000Z\",\"key\":1704072600000,\"doc_count\":1}]}}"},
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"fixed_interval\":\"30s\",\"min_doc_count\":2}}}", NULL,
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2024-01-05T09:00:00.000Z\",\"key\":1704445200000,\"doc_count\":2}]}}"},
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"fixed_interval\":\"2d\",\"min_doc_count\":1}}}", BEFORE_JAN10,
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2023-12-31T00:00:00.000Z\",\"key\":1703980800000,\"doc_count\":4},"
     "{\"key_as_string\":\"2024-01-02T00:00:00.000Z\",\"key\":1704153600000,\"doc_count\":3},"
     "{\"key_as_string\":\"2024-01-04T00:00:00.000Z\",\"key\":1704326400000,\"doc_count\":2}]}}"},
    /* offset: days starting 06:00 */
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\",\"offset\":\"+6h\"}}}",
     BEFORE_JAN10,
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2023-12-31T06:00:00.000Z\",\"key\":1704002400000,\"doc_count\":3},"
     "{\"key_as_string\":\"2024-01-01T06:00:00.000Z\",\"key\":1704088800000,\"doc_count\":3},"
     "{\"key_as_string\":\"2024-01-02T06:00:00.000Z\",\"key\":1704175200000,\"doc_count\":0},"
     "{\"key_as_string\":\"2024-01-03T06:00:00.000Z\",\"key\":1704261600000,\"doc_count\":1},"
     "{\"key_as_string\":\"2024-01-04T06:00:00.000Z\",\"key\":1704348000000,\"doc_count\":0},"
     "{\"key_as_string\":\"2024-01-05T06:00:00.000Z\",\"key\":1704434400000,\"doc_count\":2}]}}"},
    /* weeks start on Monday (1 January 2024 is one); the gap to a10's week is filled */
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"week\",\"format\":\"yyyy-MM-dd\"}}}", NULL,
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2024-01-01\",\"key\":1704067200000,\"doc_count\":9},"
     "{\"key_as_string\":\"2024-01-08\",\"key\":1704672000000,\"doc_count\":0},"
     "{\"key_as_string\":\"2024-01-15\",\"key\":1705276800000,\"doc_count\":0},"
     "{\"key_as_string\":\"2024-01-22\",\"key\":1705881600000,\"doc_count\":0},"
     "{\"key_as_string\":\"2024-01-29\",\"key\":1706486400000,\"doc_count\":0},"
     "{\"key_as_string\":\"2024-02-05\",\"key\":1707091200000,\"doc_count\":1}]}}"},
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"1M\"}}}", NULL,
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2024-01-01T00:00:00.000Z\",\"key\":1704067200000,\"doc_count\":9},"
     "{\"key_as_string\":\"2024-02-01T00:00:00.000Z\",\"key\":1706745600000,\"doc_count\":1}]}}"},
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"quarter\",\"format\":\"epoch_millis\"}}}", NULL,
     "{\"h\":{\"buckets\":[{\"key_as_string\":\"1704067200000\",\"key\":1704067200000,\"doc_count\":10}]}}"},
    /* extended_bounds widen the filled range, in whole months */
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"month\",\"format\":\"yyyy-MM\","
     "\"extended_bounds\":{\"min\":\"2023-11-15\",\"max\":1709251200000}}}}", NULL,
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2023-11\",\"key\":1698796800000,\"doc_count\":0},"
     "{\"key_as_string\":\"2023-12\",\"key\":1701388800000,\"doc_count\":0},"
     "{\"key_as_string\":\"2024-01\",\"key\":1704067200000,\"doc_count\":9},"
     "{\"key_as_string\":\"2024-02\",\"key\":1706745600000,\"doc_count\":1},"
     "{\"key_as_string\":\"2024-03\",\"key\":1709251200000,\"doc_count\":0}]}}"},
    /* bounds alone, without records; a bound without offset is read in the time zone */
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\",\"time_zone\":\"+01:00\","
     "\"extended_bounds\":{\"min\":\"2024-01-01\",\"max\":\"2024-01-02T23:59:59\"}}}}", "{\"match_none\":{}}",
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2024-01-01T00:00:00.000+01:00\",\"key\":1704063600000,\"doc_count\":0},"
     "{\"key_as_string\":\"2024-01-02T00:00:00.000+01:00\",\"key\":1704150000000,\"doc_count\":0}]}}"},
    /* date math in bounds: now is 2024-02-15 */
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"month\",\"format\":\"yyyy-MM\","
     "\"extended_bounds\":{\"min\":\"now-1M/M\",\"max\":\"now\"}}}}", "{\"match_none\":{}}",
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2024-01\",\"key\":1704067200000,\"doc_count\":0},"
     "{\"key_as_string\":\"2024-02\",\"key\":1706745600000,\"doc_count\":0}]}}"},
    /* bounds do not fill when min_doc_count > 0 */
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"month\",\"min_doc_count\":1,"
     "\"extended_bounds\":{\"min\":\"2023-11-15\",\"max\":\"2024-03-01\"}}}}", NULL,
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2024-01-01T00:00:00.000Z\",\"key\":1704067200000,\"doc_count\":9},"
     "{\"key_as_string\":\"2024-02-01T00:00:00.000Z\",\"key\":1706745600000,\"doc_count\":1}]}}"},
    /* keyed: an object by key_as_string */
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"month\",\"keyed\":true}}}", NULL,
     "{\"h\":{\"buckets\":{"
     "\"2024-01-01T00:00:00.000Z\":{\"key_as_string\":\"2024-01-01T00:00:00.000Z\",\"key\":1704067200000,\"doc_count\":9},"
     "\"2024-02-01T00:00:00.000Z\":{\"key_as_string\":\"2024-02-01T00:00:00.000Z\",\"key\":1706745600000,\"doc_count\":1}}}}"},
    /* a JSON date field: "2024-01-12T10:00:00+02:00" is 08:00Z */
    {"{\"h\":{\"date_histogram\":{\"field\":\"object.when\",\"calendar_interval\":\"day\",\"min_doc_count\":1}}}", NULL,
     "{\"h\":{\"buckets\":["
     "{\"key_as_string\":\"2024-01-10T00:00:00.000Z\",\"key\":1704844800000,\"doc_count\":1},"
     "{\"key_as_string\":\"2024-01-12T00:00:00.000Z\",\"key\":1705017600000,\"doc_count\":1}]}}"},
    {"{\"h\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\"}}}", "{\"match_none\":{}}",
     "{\"h\":{\"buckets\":[]}}"},
};

Test(agg, date_histogram)
{
    RUN(DATE_HISTOGRAMS);
}

/* ---- histogram, range, date_range ---- */

static const case_t NUMERIC_BUCKETS[] = {
    /* object.n: 1, 2.5, 10, 5 and 7 (a04), 5.0, -1, 3; "100" is a string, null no value */
    {"{\"h\":{\"histogram\":{\"field\":\"object.n\",\"interval\":2}}}", NULL,
     "{\"h\":{\"buckets\":[{\"key\":-2.0,\"doc_count\":1},{\"key\":0.0,\"doc_count\":1},{\"key\":2.0,\"doc_count\":2},"
     "{\"key\":4.0,\"doc_count\":2},{\"key\":6.0,\"doc_count\":1},{\"key\":8.0,\"doc_count\":0},{\"key\":10.0,\"doc_count\":1}]}}"},
    {"{\"h\":{\"histogram\":{\"field\":\"object.n\",\"interval\":2,\"min_doc_count\":2}}}", NULL,
     "{\"h\":{\"buckets\":[{\"key\":2.0,\"doc_count\":2},{\"key\":4.0,\"doc_count\":2}]}}"},
    {"{\"h\":{\"histogram\":{\"field\":\"object.n\",\"interval\":2,\"extended_bounds\":{\"min\":-5,\"max\":13}}}}", NULL,
     "{\"h\":{\"buckets\":[{\"key\":-6.0,\"doc_count\":0},{\"key\":-4.0,\"doc_count\":0},{\"key\":-2.0,\"doc_count\":1},"
     "{\"key\":0.0,\"doc_count\":1},{\"key\":2.0,\"doc_count\":2},{\"key\":4.0,\"doc_count\":2},{\"key\":6.0,\"doc_count\":1},"
     "{\"key\":8.0,\"doc_count\":0},{\"key\":10.0,\"doc_count\":1},{\"key\":12.0,\"doc_count\":0}]}}"},
    /* offset: buckets [-4, 1), [1, 6), [6, 11); a04 (5 and 7) in two */
    {"{\"h\":{\"histogram\":{\"field\":\"object.n\",\"interval\":5,\"offset\":1}}}", NULL,
     "{\"h\":{\"buckets\":[{\"key\":-4.0,\"doc_count\":1},{\"key\":1.0,\"doc_count\":5},{\"key\":6.0,\"doc_count\":2}]}}"},
    {"{\"h\":{\"histogram\":{\"field\":\"object.n\",\"interval\":2.5,\"keyed\":true,\"min_doc_count\":2}}}", NULL,
     "{\"h\":{\"buckets\":{\"2.5\":{\"key\":2.5,\"doc_count\":2},\"5.0\":{\"key\":5.0,\"doc_count\":2}}}}"},
    /* range: sorted by from, a04 in two ranges; keys as Elasticsearch names them */
    {"{\"r\":{\"range\":{\"field\":\"object.n\",\"ranges\":[{\"from\":6},{\"to\":2},{\"from\":2,\"to\":6,\"key\":\"mid\"}]}}}", NULL,
     "{\"r\":{\"buckets\":[{\"key\":\"*-2.0\",\"to\":2.0,\"doc_count\":2},"
     "{\"key\":\"mid\",\"from\":2.0,\"to\":6.0,\"doc_count\":4},{\"key\":\"6.0-*\",\"from\":6.0,\"doc_count\":2}]}}"},
    {"{\"r\":{\"range\":{\"field\":\"object.n\",\"keyed\":true,\"ranges\":[{\"to\":2.5},{\"from\":\"2.5\",\"to\":null}]}}}", NULL,
     "{\"r\":{\"buckets\":{\"*-2.5\":{\"to\":2.5,\"doc_count\":2},\"2.5-*\":{\"from\":2.5,\"doc_count\":5}}}}"},
    /* date_range: dates, date math (now is 2024-02-15), epoch ms; from/to as ms */
    {"{\"r\":{\"date_range\":{\"field\":\"published\",\"ranges\":[{\"to\":\"2024-01-02\"},"
     "{\"from\":\"2024-01-02\",\"to\":1704412800000},{\"from\":\"now-10d/d\"}]}}}", NULL,
     "{\"r\":{\"buckets\":["
     "{\"key\":\"*-2024-01-02T00:00:00.000Z\",\"to\":1704153600000.0,\"to_as_string\":\"2024-01-02T00:00:00.000Z\",\"doc_count\":4},"
     "{\"key\":\"2024-01-02T00:00:00.000Z-2024-01-05T00:00:00.000Z\",\"from\":1704153600000.0,"
     "\"from_as_string\":\"2024-01-02T00:00:00.000Z\",\"to\":1704412800000.0,\"to_as_string\":\"2024-01-05T00:00:00.000Z\",\"doc_count\":3},"
     "{\"key\":\"2024-02-05T00:00:00.000Z-*\",\"from\":1707091200000.0,\"from_as_string\":\"2024-02-05T00:00:00.000Z\",\"doc_count\":1}]}}"},
    {"{\"r\":{\"date_range\":{\"field\":\"published\",\"format\":\"yyyy-MM-dd\",\"keyed\":true,"
     "\"ranges\":[{\"from\":\"2024-01-01T01:00:00+01:00\",\"to\":\"2024-01-02||+1d\",\"key\":\"early\"}]}}}", NULL,
     "{\"r\":{\"buckets\":{\"early\":{\"from\":1704067200000.0,\"from_as_string\":\"2024-01-01\","
     "\"to\":1704240000000.0,\"to_as_string\":\"2024-01-03\",\"doc_count\":6}}}}"},
    /* a JSON date field */
    {"{\"r\":{\"date_range\":{\"field\":\"object.when\",\"ranges\":[{\"from\":\"2024-01-11\"}]}}}", NULL,
     "{\"r\":{\"buckets\":[{\"key\":\"2024-01-11T00:00:00.000Z-*\",\"from\":1704931200000.0,"
     "\"from_as_string\":\"2024-01-11T00:00:00.000Z\",\"doc_count\":1}]}}"},
};

Test(agg, histogram_range_and_date_range)
{
    RUN(NUMERIC_BUCKETS);
}

/* ---- filter, filters ---- */

static const case_t FILTERS[] = {
    {"{\"f\":{\"filter\":{\"term\":{\"type\":\"Create\"}}}}", NULL, "{\"f\":{\"doc_count\":6}}"},
    /* values of Create records: 1, 2.5, 5, 7, 5.0, 3 ("100" is no number) */
    {"{\"f\":{\"filter\":{\"term\":{\"type\":\"Create\"}},\"aggs\":{\"a\":{\"avg\":{\"field\":\"object.n\"}}}}}", NULL,
     "{\"f\":{\"doc_count\":6,\"a\":{\"value\":3.9166666666666665}}}"},
    /* named filters sorted by name, the other bucket last */
    {"{\"f\":{\"filters\":{\"filters\":{\"creates\":{\"term\":{\"type\":\"Create\"}},\"announces\":"
     "{\"term\":{\"type\":\"Announce\"}}},\"other_bucket\":true}}}", NULL,
     "{\"f\":{\"buckets\":{\"announces\":{\"doc_count\":1},\"creates\":{\"doc_count\":6},\"_other_\":{\"doc_count\":4}}}}"},
    {"{\"f\":{\"filters\":{\"filters\":{\"creates\":{\"term\":{\"type\":\"Create\"}},\"announces\":"
     "{\"term\":{\"type\":\"Announce\"}}},\"keyed\":false}}}", NULL,
     "{\"f\":{\"buckets\":[{\"key\":\"announces\",\"doc_count\":1},{\"key\":\"creates\",\"doc_count\":6}]}}"},
    /* anonymous filters keep their order; other_bucket_key alone asks for the other bucket */
    {"{\"f\":{\"filters\":{\"filters\":[{\"term\":{\"feed\":\"f2\"}},{\"match\":{\"object.type\":\"article\"}}],"
     "\"other_bucket_key\":\"rest\"}}}", NULL,
     "{\"f\":{\"buckets\":[{\"doc_count\":3},{\"doc_count\":2},{\"doc_count\":6}]}}"},
    {"{\"f\":{\"filters\":{\"filters\":{\"x\":{\"match_all\":{}}},\"other_bucket_key\":\"rest\"}}}", NULL,
     "{\"f\":{\"buckets\":{\"x\":{\"doc_count\":10},\"rest\":{\"doc_count\":0}}}}"},
};

Test(agg, filter_and_filters)
{
    RUN(FILTERS);
}

/* ---- metrics ---- */

static const case_t METRICS[] = {
    /* numbers only: 1 + 2.5 + 10 + 5 + 7 + 5.0 - 1 + 3 = 32.5 over 8 values */
    {"{\"a\":{\"min\":{\"field\":\"object.n\"}},\"b\":{\"max\":{\"field\":\"object.n\"}},\"c\":{\"sum\":{\"field\":\"object.n\"}},"
     "\"d\":{\"avg\":{\"field\":\"object.n\"}},\"e\":{\"value_count\":{\"field\":\"object.n\"}},"
     "\"f\":{\"stats\":{\"field\":\"object.n\"}},\"g\":{\"cardinality\":{\"field\":\"object.n\"}}}", NULL,
     "{\"a\":{\"value\":-1.0},\"b\":{\"value\":10.0},\"c\":{\"value\":32.5},\"d\":{\"value\":4.0625},"
     "\"e\":{\"value\":9},\"f\":{\"count\":8,\"min\":-1.0,\"max\":10.0,\"avg\":4.0625,\"sum\":32.5},\"g\":{\"value\":8}}"},
    /* the date field: epoch ms and *_as_string */
    {"{\"a\":{\"min\":{\"field\":\"published\"}},\"b\":{\"max\":{\"field\":\"published\"}},"
     "\"s\":{\"stats\":{\"field\":\"published\"}}}", NULL,
     "{\"a\":{\"value\":1704069000000.0,\"value_as_string\":\"2024-01-01T00:30:00.000Z\"},"
     "\"b\":{\"value\":1707523200000.0,\"value_as_string\":\"2024-02-10T00:00:00.000Z\"},"
     "\"s\":{\"count\":10,\"min\":1704069000000.0,\"min_as_string\":\"2024-01-01T00:30:00.000Z\","
     "\"max\":1707523200000.0,\"max_as_string\":\"2024-02-10T00:00:00.000Z\",\"avg\":1704538860000.0,"
     "\"avg_as_string\":\"2024-01-06T11:01:00.000Z\",\"sum\":17045388600000.0,\"sum_as_string\":\"2510-02-23T14:10:00.000Z\"}}"},
    /* nothing: null min, max, avg; sum 0.0; counts 0 */
    {"{\"a\":{\"min\":{\"field\":\"object.n\"}},\"b\":{\"max\":{\"field\":\"published\"}},\"c\":{\"sum\":{\"field\":\"object.n\"}},"
     "\"d\":{\"avg\":{\"field\":\"object.n\"}},\"e\":{\"value_count\":{\"field\":\"type\"}},"
     "\"f\":{\"stats\":{\"field\":\"object.n\"}},\"g\":{\"cardinality\":{\"field\":\"type\"}}}", "{\"match_none\":{}}",
     "{\"a\":{\"value\":null},\"b\":{\"value\":null},\"c\":{\"value\":0.0},\"d\":{\"value\":null},\"e\":{\"value\":0},"
     "\"f\":{\"count\":0,\"min\":null,\"max\":null,\"avg\":null,\"sum\":0.0},\"g\":{\"value\":0}}"},
    /* every type counts; distinct values of each column */
    {"{\"e\":{\"value_count\":{\"field\":\"type\"}},\"t\":{\"cardinality\":{\"field\":\"type\"}},"
     "\"u\":{\"cardinality\":{\"field\":\"actor\",\"precision_threshold\":100}},\"i\":{\"cardinality\":{\"field\":\"_id\"}},"
     "\"p\":{\"cardinality\":{\"field\":\"published\"}},\"g\":{\"cardinality\":{\"field\":\"object.tags\"}}}", NULL,
     "{\"e\":{\"value\":11},\"t\":{\"value\":5},\"u\":{\"value\":4},\"i\":{\"value\":10},\"p\":{\"value\":9},\"g\":{\"value\":3}}"},
};

Test(agg, metrics)
{
    RUN(METRICS);
}

/* ---- top_hits ---- */

static const case_t TOP_HITS[] = {
    /* default: 3 hits in (published, id, feed) order, scored like an unsorted search */
    {"{\"t\":{\"top_hits\":{\"_source\":false}}}", BEFORE_JAN10,
     "{\"t\":{\"hits\":{\"total\":{\"value\":9,\"relation\":\"eq\"},\"max_score\":1.0,\"hits\":["
     "{\"_index\":\"f1\",\"_id\":\"a01\",\"_score\":1.0,\"sort\":[1704069000000,\"a01\",\"f1\"]},"
     "{\"_index\":\"f1\",\"_id\":\"a02\",\"_score\":1.0,\"sort\":[1704071700000,\"a02\",\"f1\"]},"
     "{\"_index\":\"f2\",\"_id\":\"a03\",\"_score\":1.0,\"sort\":[1704073500000,\"a03\",\"f2\"]}]}}}"},
    /* newest first; a09 and a08 share a time: id breaks the tie */
    {"{\"t\":{\"top_hits\":{\"size\":3,\"sort\":[{\"published\":{\"order\":\"desc\"}}],\"_source\":[\"id\",\"object.n\"]}}}", NULL,
     "{\"t\":{\"hits\":{\"total\":{\"value\":10,\"relation\":\"eq\"},\"max_score\":null,\"hits\":["
     "{\"_index\":\"f1\",\"_id\":\"a10\",\"_score\":null,\"_source\":{\"id\":\"a10\",\"object\":{\"n\":null}},"
     "\"sort\":[1707523200000,\"a10\",\"f1\"]},"
     "{\"_index\":\"f2\",\"_id\":\"a09\",\"_score\":null,\"_source\":{\"id\":\"a09\",\"object\":{\"n\":3}},"
     "\"sort\":[1704445200000,\"a09\",\"f2\"]},"
     "{\"_index\":\"f3\",\"_id\":\"a08\",\"_score\":null,\"_source\":{\"id\":\"a08\",\"object\":{\"n\":\"100\"}},"
     "\"sort\":[1704445200000,\"a08\",\"f3\"]}]}}}"},
    /* from skips; full _source; sort "published" is ascending */
    {"{\"t\":{\"top_hits\":{\"size\":1,\"from\":1,\"sort\":\"published\",\"_source\":{\"includes\":[\"obj*\"],"
     "\"excludes\":[\"object.tags\",\"object.n\"]}}}}", "{\"term\":{\"feed\":\"f2\"}}",
     "{\"t\":{\"hits\":{\"total\":{\"value\":3,\"relation\":\"eq\"},\"max_score\":null,\"hits\":["
     "{\"_index\":\"f2\",\"_id\":\"a05\",\"_score\":null,\"_source\":{\"object\":\"a01\"},"
     "\"sort\":[1704154200000,\"a05\",\"f2\"]}]}}}"},
    {"{\"t\":{\"top_hits\":{\"size\":0}}}", NULL,
     "{\"t\":{\"hits\":{\"total\":{\"value\":10,\"relation\":\"eq\"},\"max_score\":null,\"hits\":[]}}}"},
    /* the newest of each feed */
    {"{\"f\":{\"terms\":{\"field\":\"feed\"},\"aggs\":{\"last\":{\"top_hits\":{\"size\":1,\"sort\":{\"published\":\"desc\"},"
     "\"_source\":\"id\"}}}}}", NULL,
     "{\"f\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":["
     "{\"key\":\"f1\",\"doc_count\":5,\"last\":{\"hits\":{\"total\":{\"value\":5,\"relation\":\"eq\"},\"max_score\":null,"
     "\"hits\":[{\"_index\":\"f1\",\"_id\":\"a10\",\"_score\":null,\"_source\":{\"id\":\"a10\"},\"sort\":[1707523200000,\"a10\",\"f1\"]}]}}},"
     "{\"key\":\"f2\",\"doc_count\":3,\"last\":{\"hits\":{\"total\":{\"value\":3,\"relation\":\"eq\"},\"max_score\":null,"
     "\"hits\":[{\"_index\":\"f2\",\"_id\":\"a09\",\"_score\":null,\"_source\":{\"id\":\"a09\"},\"sort\":[1704445200000,\"a09\",\"f2\"]}]}}},"
     "{\"key\":\"f3\",\"doc_count\":2,\"last\":{\"hits\":{\"total\":{\"value\":2,\"relation\":\"eq\"},\"max_score\":null,"
     "\"hits\":[{\"_index\":\"f3\",\"_id\":\"a08\",\"_score\":null,\"_source\":{\"id\":\"a08\"},\"sort\":[1704445200000,\"a08\",\"f3\"]}]}}}]}}"},
};

Test(agg, top_hits)
{
    RUN(TOP_HITS);
}

/* ---- nesting, meta ---- */

Test(agg, three_levels_of_sub_aggregations)
{
    /* records before 4 January: f1 a01 a02 a04 (1 Jan) a07 (3 Jan); f2 a03 (1 Jan) a05 (2 Jan);
     * f3 a06 (2 Jan). f1's empty 2 January carries an empty terms. */
    expect_aggs(
        "{\"by_feed\":{\"terms\":{\"field\":\"feed\"},\"aggs\":{\"per_day\":{\"date_histogram\":{\"field\":\"published\","
        "\"calendar_interval\":\"day\",\"format\":\"yyyy-MM-dd\"},\"aggs\":{\"by_type\":{\"terms\":{\"field\":\"type\"}}}}}}}",
        BEFORE_JAN4,
        "{\"by_feed\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":["
        "{\"key\":\"f1\",\"doc_count\":4,\"per_day\":{\"buckets\":["
        "{\"key_as_string\":\"2024-01-01\",\"key\":1704067200000,\"doc_count\":3,\"by_type\":{\"doc_count_error_upper_bound\":0,"
        "\"sum_other_doc_count\":0,\"buckets\":[{\"key\":\"Create\",\"doc_count\":3},{\"key\":\"Announce\",\"doc_count\":1}]}},"
        "{\"key_as_string\":\"2024-01-02\",\"key\":1704153600000,\"doc_count\":0,\"by_type\":{\"doc_count_error_upper_bound\":0,"
        "\"sum_other_doc_count\":0,\"buckets\":[]}},"
        "{\"key_as_string\":\"2024-01-03\",\"key\":1704240000000,\"doc_count\":1,\"by_type\":{\"doc_count_error_upper_bound\":0,"
        "\"sum_other_doc_count\":0,\"buckets\":[{\"key\":\"Delete\",\"doc_count\":1}]}}]}},"
        "{\"key\":\"f2\",\"doc_count\":2,\"per_day\":{\"buckets\":["
        "{\"key_as_string\":\"2024-01-01\",\"key\":1704067200000,\"doc_count\":1,\"by_type\":{\"doc_count_error_upper_bound\":0,"
        "\"sum_other_doc_count\":0,\"buckets\":[{\"key\":\"Update\",\"doc_count\":1}]}},"
        "{\"key_as_string\":\"2024-01-02\",\"key\":1704153600000,\"doc_count\":1,\"by_type\":{\"doc_count_error_upper_bound\":0,"
        "\"sum_other_doc_count\":0,\"buckets\":[{\"key\":\"Like\",\"doc_count\":1}]}}]}},"
        "{\"key\":\"f3\",\"doc_count\":1,\"per_day\":{\"buckets\":["
        "{\"key_as_string\":\"2024-01-02\",\"key\":1704153600000,\"doc_count\":1,\"by_type\":{\"doc_count_error_upper_bound\":0,"
        "\"sum_other_doc_count\":0,\"buckets\":[{\"key\":\"Create\",\"doc_count\":1}]}}]}}]}}");
}

Test(agg, sub_aggregations_in_every_bucket_kind_and_meta)
{
    static const case_t cases[] = {
        {"{\"r\":{\"range\":{\"field\":\"object.n\",\"ranges\":[{\"to\":0}]},\"meta\":{\"color\":\"red\",\"n\":[1]},"
         "\"aggregations\":{\"ids\":{\"terms\":{\"field\":\"id\"}}}}}", NULL,
         "{\"r\":{\"meta\":{\"color\":\"red\",\"n\":[1]},\"buckets\":[{\"key\":\"*-0.0\",\"to\":0.0,\"doc_count\":1,"
         "\"ids\":{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":0,\"buckets\":[{\"key\":\"a07\",\"doc_count\":1}]}}]}}"},
        {"{\"h\":{\"histogram\":{\"field\":\"object.n\",\"interval\":100,\"min_doc_count\":1},"
         "\"aggs\":{\"s\":{\"sum\":{\"field\":\"object.n\"},\"meta\":{}}}}}", NULL,
         "{\"h\":{\"buckets\":[{\"key\":-100.0,\"doc_count\":1,\"s\":{\"meta\":{},\"value\":-1.0}},"
         "{\"key\":0.0,\"doc_count\":6,\"s\":{\"meta\":{},\"value\":33.5}}]}}"},
        {"{\"f\":{\"filters\":{\"filters\":[{\"term\":{\"feed\":\"f3\"}}]},\"aggs\":{\"c\":{\"value_count\":{\"field\":\"object.tags\"}}}}}",
         NULL, "{\"f\":{\"buckets\":[{\"doc_count\":2,\"c\":{\"value\":2}}]}}"},
        {"{\"d\":{\"date_range\":{\"field\":\"published\",\"ranges\":[{\"from\":\"2024-02-01\"}]},"
         "\"aggs\":{\"f\":{\"filter\":{\"term\":{\"feed\":\"f1\"}},\"aggs\":{\"m\":{\"max\":{\"field\":\"published\"}}}}}}}", NULL,
         "{\"d\":{\"buckets\":[{\"key\":\"2024-02-01T00:00:00.000Z-*\",\"from\":1706745600000.0,"
         "\"from_as_string\":\"2024-02-01T00:00:00.000Z\",\"doc_count\":1,\"f\":{\"doc_count\":1,"
         "\"m\":{\"value\":1707523200000.0,\"value_as_string\":\"2024-02-10T00:00:00.000Z\"}}}]}}"},
        {"{}", NULL, "{}"},
    };
    RUN(cases);
}

/* Rendering does not change the run: twice gives the same text. */
Test(agg, render_twice_is_the_same)
{
    json_t *j = json_loads("{\"t\":{\"terms\":{\"field\":\"object.type\"},\"aggs\":{\"h\":{\"date_histogram\":"
                           "{\"field\":\"published\",\"calendar_interval\":\"day\"}}}}}", 0, NULL);
    agg_t *a;
    agg_run_t *run;
    char err[256];
    cr_assert_eq(agg_compile(j, NOW_US, &a, err, sizeof err), 0, "%s", err);
    json_decref(j);   /* the agg keeps its own reference */
    cr_assert_eq(agg_run_new(a, &run), 0);
    feed_t f = {run, NULL};
    cr_assert_eq(store_scan_time(g_st, (store_tpos_t){INT64_MIN, 0}, INT64_MAX, 0, 0, feed_rec, &f, NULL), 0);
    bytebuf_t b1 = {0}, b2 = {0};
    cr_assert_eq(agg_run_render(run, &b1, err, sizeof err), 0);
    cr_assert_eq(agg_run_render(run, &b2, err, sizeof err), 0);
    cr_expect_str_eq(b1.p, b2.p);
    bytebuf_free(&b1);
    bytebuf_free(&b2);
    agg_run_free(run);
    agg_free(a);
}

Test(agg, too_many_buckets)
{
    char err[512];
    int rc;
    /* 1 January to 10 February by the second: 3.5 million buckets */
    char *got = run_aggs("{\"h\":{\"date_histogram\":{\"field\":\"published\",\"fixed_interval\":\"1s\"}}}", NULL,
                         &rc, err, sizeof err);
    cr_expect_null(got);
    cr_expect_eq(rc, AGG_ERR_TOO_MANY_BUCKETS);
    cr_expect_str_eq(err, "Trying to create too many buckets. Must be less than or equal to: [65536] but this "
                          "number of buckets was exceeded. This limit can be set by changing the "
                          "[search.max_buckets] cluster level setting.");
    /* the limit counts every level: 10 terms x 7,000 days */
    got = run_aggs("{\"t\":{\"terms\":{\"field\":\"id\"},\"aggs\":{\"h\":{\"date_histogram\":{\"field\":\"published\","
                   "\"calendar_interval\":\"day\",\"extended_bounds\":{\"min\":\"2000-01-01\",\"max\":\"2019-01-01\"}}}}}}",
                   NULL, &rc, err, sizeof err);
    cr_expect_null(got);
    cr_expect_eq(rc, AGG_ERR_TOO_MANY_BUCKETS);
}

/* A record of a04's columns whose JSON is a page that faults when read. */
static store_rec_t unreadable_json(size_t *pagelen)
{
    *pagelen = (size_t)sysconf(_SC_PAGESIZE);
    void *guard = mmap(NULL, *pagelen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(guard, MAP_FAILED);
    static char types[] = "Create\x1f" "Announce";
    return (store_rec_t){.kind = STORE_REC_UPSERT, .published_us = INT64_C(1704151800000000), .feed = "f1",
                         .feed_len = 2, .id = "a04", .id_len = 3, .types = types, .types_len = strlen(types),
                         .actor = "u3", .actor_len = 2, .json = guard, .json_len = *pagelen};
}

/* Aggregations on the record's columns never read the JSON. */
Test(agg, columns_never_read_the_json)
{
    size_t pagelen;
    store_rec_t r = unreadable_json(&pagelen);
    json_t *j = json_loads("{\"a\":{\"terms\":{\"field\":\"type\"},\"aggs\":{\"b\":{\"date_histogram\":{\"field\":"
                           "\"published\",\"fixed_interval\":\"1h\"},\"aggs\":{\"c\":{\"cardinality\":{\"field\":\"actor\"}},"
                           "\"d\":{\"stats\":{\"field\":\"published\"}},\"e\":{\"terms\":{\"field\":\"_index\"}},"
                           "\"f\":{\"value_count\":{\"field\":\"_id\"}},\"g\":{\"filter\":{\"term\":{\"type\":\"Announce\"}}},"
                           "\"h\":{\"date_range\":{\"field\":\"published\",\"ranges\":[{\"to\":\"now\"}]}}}}}}}", 0, NULL);
    agg_t *a;
    agg_run_t *run;
    char err[256];
    cr_assert_eq(agg_compile(j, NOW_US, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(agg_run_new(a, &run), 0);
    cr_assert_eq(agg_run_add(run, &r), 0);
    bytebuf_t b = {0};
    cr_assert_eq(agg_run_render(run, &b, err, sizeof err), 0);
    cr_expect(strstr(b.p, "\"key\":\"Announce\",\"doc_count\":1") != NULL, "%s", b.p);
    bytebuf_free(&b);
    agg_run_free(run);
    agg_free(a);
    json_decref(j);
    munmap((void *)r.json, pagelen);
}

/* ---- errors ---- */

typedef struct { const char *aggs, *err; } err_case_t;

static const err_case_t ERRORS[] = {
    /* the tree */
    {"[]", "[aggs] must be an object of named aggregations, found []"},
    {"{\"a\":1}", "[a] expected an object with an aggregation type, found 1"},
    {"{\"a\":{}}", "[a] missing the aggregation type"},
    {"{\"a\":{\"meta\":{}}}", "[a] missing the aggregation type"},
    {"{\"geo\":{\"geo_distance\":{\"field\":\"x\"}}}", "[geo] aggregation type [geo_distance] is not supported"},
    {"{\"a\":{\"terms\":{\"field\":\"type\"},\"avg\":{\"field\":\"n\"}}}", "[a] found two aggregation types: [terms] and [avg]"},
    {"{\"a\":{\"terms\":{\"field\":\"type\"},\"aggs\":{},\"aggregations\":{}}}",
     "[a] found two sub-aggregation definitions ([aggs] and [aggregations])"},
    {"{\"a\":{\"avg\":{\"field\":\"n\"},\"aggs\":{\"b\":{\"max\":{\"field\":\"n\"}}}}}",
     "[a] aggregation [avg] cannot take sub-aggregations"},
    {"{\"a\":{\"terms\":{\"field\":\"type\"},\"aggs\":[]}}", "[a] [aggs] must be an object of named aggregations, found []"},
    {"{\"a>b\":{\"avg\":{\"field\":\"n\"}}}",
     "[aggs] invalid aggregation name [a>b]: names may hold any character but '[', ']' and '>'"},
    {"{\"a\":{\"terms\":{\"field\":\"type\"},\"aggs\":{\"b[1]\":{\"avg\":{\"field\":\"n\"}}}}}",
     "[a] invalid aggregation name [b[1]]: names may hold any character but '[', ']' and '>'"},
    {"{\"a\":{\"avg\":{\"field\":\"n\"},\"meta\":[1]}}", "[a] [meta] must be an object, found [1]"},
    {"{\"a\":{\"terms\":[]}}", "[a] aggregation [terms] takes an object of options, found []"},
    /* options of every kind, named with the path */
    {"{\"by_type\":{\"terms\":{\"field\":\"type\",\"sizee\":3}}}", "[by_type] unknown option [sizee] of aggregation [terms]"},
    {"{\"a\":{\"terms\":{\"field\":\"type\"},\"aggs\":{\"b\":{\"terms\":{\"field\":\"feed\",\"include\":\"x\"}}}}}",
     "[a>b] unknown option [include] of aggregation [terms]"},
    {"{\"a\":{\"terms\":{}}}", "[a] aggregation [terms] requires [field]"},
    {"{\"a\":{\"terms\":{\"field\":7}}}", "[a] [field] of aggregation [terms] must be a string, found 7"},
    {"{\"a\":{\"terms\":{\"field\":\"x.*\"}}}", "[a] field [x.*]: wildcards in field names are not supported"},
    {"{\"a\":{\"terms\":{\"field\":\"x..y\"}}}", "[a] field [x..y]: invalid field name (empty path segment)"},
    {"{\"a\":{\"terms\":{\"field\":\"type\",\"size\":\"5\"}}}", "[a] [size] of aggregation [terms] must be an integer, found \"5\""},
    {"{\"a\":{\"terms\":{\"field\":\"type\",\"size\":0}}}", "[a] [size] of aggregation [terms] must be at least 1, found [0]"},
    {"{\"a\":{\"terms\":{\"field\":\"type\",\"min_doc_count\":-1}}}",
     "[a] [min_doc_count] of aggregation [terms] must be at least 0, found [-1]"},
    {"{\"a\":{\"terms\":{\"field\":\"type\",\"shard_size\":0}}}", "[a] [shard_size] of aggregation [terms] must be at least 1, found [0]"},
    {"{\"a\":{\"terms\":{\"field\":\"type\",\"order\":{\"my_avg\":\"desc\"}}}}",
     "[a] [order] of aggregation [terms] by [my_avg] is not supported; order by [_count] or [_key]"},
    {"{\"a\":{\"terms\":{\"field\":\"type\",\"order\":{\"_count\":\"down\"}}}}",
     "[a] [order] of aggregation [terms] direction must be [asc] or [desc]"},
    {"{\"a\":{\"terms\":{\"field\":\"type\",\"order\":\"_count\"}}}",
     "[a] [order] of aggregation [terms] must be {\"_count\"|\"_key\": \"asc\"|\"desc\"} or a list of them"},
    {"{\"a\":{\"terms\":{\"field\":\"type\",\"order\":[]}}}", "[a] [order] of aggregation [terms] must list 1 to 4 criteria"},
    {"{\"a\":{\"terms\":{\"field\":\"type\",\"size\":[\"a long list of values that does not fit\",\"in a message of 63 bytes\"]}}}",
     "[a] [size] of aggregation [terms] must be an integer, found [\"a long list of values that does not fit\",\"in a message of ..."},
    {"{\"a\":{\"terms\":{\"field\":\"type\",\"missing\":{}}}}",
     "[a] [missing] of aggregation [terms] must be a string, number or boolean, found {}"},
    /* date_histogram */
    {"{\"d\":{\"date_histogram\":{\"field\":\"type\",\"calendar_interval\":\"day\"}}}",
     "[d] field [type] of type [keyword] is not supported for aggregation [date_histogram]"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"object.type.keyword\",\"calendar_interval\":\"day\"}}}",
     "[d] field [object.type.keyword] of type [keyword] is not supported for aggregation [date_histogram]"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\"}}}",
     "[d] aggregation [date_histogram] requires [calendar_interval] or [fixed_interval]"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\",\"fixed_interval\":\"1d\"}}}",
     "[d] aggregation [date_histogram] takes [calendar_interval] or [fixed_interval], not both"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"interval\":\"day\"}}}",
     "[d] unknown option [interval] of aggregation [date_histogram]"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"2d\"}}}",
     "[d] [calendar_interval] of aggregation [date_histogram] must be one calendar unit (second 1s, minute 1m, hour 1h, "
     "day 1d, week 1w, month 1M, quarter 1q, year 1y), found [2d]"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"fixed_interval\":\"1M\"}}}",
     "[d] [fixed_interval] of aggregation [date_histogram] must be a positive whole number of ms, s, m, h or d "
     "(like 30s, 90m, 2h, 1d), found [1M]"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"fixed_interval\":\"0s\"}}}",
     "[d] [fixed_interval] of aggregation [date_histogram] must be a positive whole number of ms, s, m, h or d "
     "(like 30s, 90m, 2h, 1d), found [0s]"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"fixed_interval\":30}}}",
     "[d] [fixed_interval] of aggregation [date_histogram] must be a string, found 30"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\",\"time_zone\":\"Europe/Paris\"}}}",
     "[d] [time_zone] of aggregation [date_histogram] must be a UTC offset like \"+01:00\" or \"UTC\" (zones with "
     "daylight-saving rules are not supported), found [Europe/Paris]"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\",\"time_zone\":\"+25:00\"}}}",
     "[d] [time_zone] of aggregation [date_histogram] must be a UTC offset like \"+01:00\" or \"UTC\" (zones with "
     "daylight-saving rules are not supported), found [+25:00]"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\",\"offset\":\"6 hours\"}}}",
     "[d] [offset] of aggregation [date_histogram] must be a time value like \"+6h\" or \"-30m\", found [6 hours]"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\",\"format\":\"EEE\"}}}",
     "[d] [format] of aggregation [date_histogram] unsupported letter [E] in date format [EEE]"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\",\"keyed\":1}}}",
     "[d] [keyed] of aggregation [date_histogram] must be true or false, found 1"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\",\"extended_bounds\":{\"min\":1}}}}",
     "[d] [extended_bounds] of aggregation [date_histogram] must be an object {\"min\": ..., \"max\": ...}"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\",\"extended_bounds\":"
     "{\"min\":\"2024-02-01\",\"max\":\"2024-01-01\"}}}}",
     "[d] [extended_bounds] of aggregation [date_histogram] min [1706745600000] is greater than max [1704067200000]"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\",\"extended_bounds\":"
     "{\"min\":\"yesterday\",\"max\":\"now\"}}}}",
     "[d] [extended_bounds.min] of aggregation [date_histogram] is not a date or date math: [yesterday]"},
    {"{\"d\":{\"date_histogram\":{\"field\":\"published\",\"calendar_interval\":\"day\",\"extended_bounds\":"
     "{\"min\":\"now\",\"max\":true}}}}",
     "[d] [extended_bounds.max] of aggregation [date_histogram] must be a date or epoch milliseconds, found true"},
    /* histogram, range, date_range */
    {"{\"h\":{\"histogram\":{\"field\":\"published\",\"interval\":5}}}",
     "[h] field [published] of type [date] is not supported for aggregation [histogram]"},
    {"{\"h\":{\"histogram\":{\"field\":\"feed\",\"interval\":5}}}",
     "[h] field [feed] of type [keyword] is not supported for aggregation [histogram]"},
    {"{\"h\":{\"histogram\":{\"field\":\"object.n\"}}}", "[h] aggregation [histogram] requires [interval]"},
    {"{\"h\":{\"histogram\":{\"field\":\"object.n\",\"interval\":0}}}",
     "[h] [interval] of aggregation [histogram] must be greater than 0, found [0]"},
    {"{\"h\":{\"histogram\":{\"field\":\"object.n\",\"interval\":\"5\"}}}",
     "[h] [interval] of aggregation [histogram] must be a number, found \"5\""},
    {"{\"h\":{\"histogram\":{\"field\":\"object.n\",\"interval\":5,\"extended_bounds\":{\"min\":5,\"max\":1}}}}",
     "[h] [extended_bounds] of aggregation [histogram] min [5] is greater than max [1]"},
    {"{\"r\":{\"range\":{\"field\":\"object.n\"}}}", "[r] aggregation [range] requires [ranges]"},
    {"{\"r\":{\"range\":{\"field\":\"object.n\",\"ranges\":[]}}}", "[r] [ranges] of aggregation [range] must be a non-empty array"},
    {"{\"r\":{\"range\":{\"field\":\"object.n\",\"ranges\":[{\"from\":1,\"too\":2}]}}}",
     "[r] [ranges] of aggregation [range] has an unknown key [too]; supported: from, to, key"},
    {"{\"r\":{\"range\":{\"field\":\"object.n\",\"ranges\":[{\"from\":\"one\"}]}}}",
     "[r] [ranges.from] of aggregation [range] must be a number, found \"one\""},
    {"{\"r\":{\"range\":{\"field\":\"object.n\",\"ranges\":[{\"to\":1,\"key\":1}]}}}",
     "[r] [ranges] of aggregation [range] key must be a string, found 1"},
    {"{\"r\":{\"range\":{\"field\":\"published\",\"ranges\":[{\"to\":1}]}}}",
     "[r] field [published] of type [date] is not supported for aggregation [range]"},
    {"{\"r\":{\"date_range\":{\"field\":\"actor\",\"ranges\":[{\"to\":\"now\"}]}}}",
     "[r] field [actor] of type [keyword] is not supported for aggregation [date_range]"},
    {"{\"r\":{\"date_range\":{\"field\":\"published\",\"ranges\":[{\"to\":\"now-1x\"}]}}}",
     "[r] [ranges.to] of aggregation [date_range] is not a date or date math: [now-1x]"},
    {"{\"r\":{\"date_range\":{\"field\":\"published\",\"ranges\":[{\"from\":9999999999999999}]}}}",
     "[r] [ranges.from] of aggregation [date_range] is out of range: [9999999999999999]"},
    {"{\"r\":{\"date_range\":{\"field\":\"published\",\"ranges\":[3]}}}",
     "[r] [ranges] of aggregation [date_range] must hold objects {\"from\", \"to\", \"key\"}, found 3"},
    /* filter, filters */
    {"{\"f\":{\"filter\":{\"term\":{\"type\":\"Create\"},\"match_all\":{}}}}",
     "[f] filter: query: expected one query type, found 2 keys"},
    {"{\"f\":{\"filter\":{\"fuzzy\":{\"a\":\"b\"}}}}", "[f] filter: query: unknown query type 'fuzzy'"},
    {"{\"f\":{\"filters\":{}}}", "[f] aggregation [filters] requires [filters]"},
    {"{\"f\":{\"filters\":{\"filters\":\"x\"}}}",
     "[f] [filters] of aggregation [filters] must be an object of named queries or an array of queries, found \"x\""},
    {"{\"f\":{\"filters\":{\"filters\":{\"a\":{\"term\":{}}}}}}", "[f] filters[a]: query.term: expected a field"},
    {"{\"f\":{\"filters\":{\"filters\":[{\"match_all\":{}},{\"bool\":{\"x\":1}}]}}}",
     "[f] filters[1]: query.bool: unknown key 'x'"},
    {"{\"f\":{\"filters\":{\"filters\":[],\"keyed\":true}}}",
     "[f] [keyed] of aggregation [filters] needs named filters (an object)"},
    {"{\"f\":{\"filters\":{\"filters\":[],\"other_bucket\":\"yes\"}}}",
     "[f] [other_bucket] of aggregation [filters] must be true or false, found \"yes\""},
    {"{\"f\":{\"filters\":{\"filters\":[],\"other_bucket_key\":1}}}",
     "[f] [other_bucket_key] of aggregation [filters] must be a string, found 1"},
    /* metrics */
    {"{\"m\":{\"avg\":{\"field\":\"type\"}}}", "[m] field [type] of type [keyword] is not supported for aggregation [avg]"},
    {"{\"m\":{\"sum\":{\"field\":\"id\"}}}", "[m] field [id] of type [keyword] is not supported for aggregation [sum]"},
    {"{\"m\":{\"stats\":{\"field\":\"n\",\"missing\":0}}}", "[m] unknown option [missing] of aggregation [stats]"},
    {"{\"m\":{\"min\":{}}}", "[m] aggregation [min] requires [field]"},
    {"{\"m\":{\"max\":{\"field\":\"\"}}}", "[m] field []: invalid field name (empty or longer than 1024 bytes)"},
    {"{\"m\":{\"value_count\":{\"script\":\"x\"}}}", "[m] unknown option [script] of aggregation [value_count]"},
    {"{\"m\":{\"cardinality\":{\"field\":\"n\",\"precision_threshold\":-1}}}",
     "[m] [precision_threshold] of aggregation [cardinality] must be at least 0, found [-1]"},
    /* top_hits */
    {"{\"t\":{\"top_hits\":{\"size\":-1}}}", "[t] [size] of aggregation [top_hits] must be at least 0, found [-1]"},
    {"{\"t\":{\"top_hits\":{\"size\":60,\"from\":41}}}",
     "[t] top_hits window too large: from + size must be at most [100], found [101]"},
    {"{\"t\":{\"top_hits\":{\"sort\":[{\"_score\":\"desc\"}]}}}",
     "[t] [sort] of aggregation [top_hits] on [_score] is not supported; only [published]"},
    {"{\"t\":{\"top_hits\":{\"sort\":{\"published\":\"newest\"}}}}",
     "[t] [sort] of aggregation [top_hits] must be [published], {\"published\": \"asc\"|\"desc\"} or "
     "{\"published\": {\"order\": \"asc\"|\"desc\"}}"},
    {"{\"t\":{\"top_hits\":{\"_source\":5}}}",
     "[t] [_source] must be true, false, a pattern, a list of patterns or {\"includes\": [...], \"excludes\": [...]}"},
    {"{\"t\":{\"top_hits\":{\"_source\":{\"includes\":[1]}}}}",
     "[t] [_source.includes] must be a string or an array of strings"},
    {"{\"t\":{\"top_hits\":{\"field\":\"id\"}}}", "[t] unknown option [field] of aggregation [top_hits]"},
};

Test(agg, errors_name_the_aggregation_and_the_option)
{
    for (size_t i = 0; i < sizeof ERRORS / sizeof ERRORS[0]; i++) {
        char err[1024] = "";
        json_error_t je;
        json_t *j = json_loads(ERRORS[i].aggs, JSON_DECODE_ANY, &je);
        cr_assert_not_null(j, "bad test JSON %s: %s", ERRORS[i].aggs, je.text);
        agg_t *a = (agg_t *)1;
        int rc = agg_compile(j, NOW_US, &a, err, sizeof err);
        json_decref(j);
        cr_expect_eq(rc, AGG_ERR_INVALID, "%s compiled (%d)", ERRORS[i].aggs, rc);
        cr_expect_null(a, "%s: *out not NULL", ERRORS[i].aggs);
        cr_expect_str_eq(err, ERRORS[i].err, "%s\n  got:  %s\n  want: %s", ERRORS[i].aggs, err, ERRORS[i].err);
    }
}

Test(agg, nesting_deeper_than_the_limit_is_an_error)
{
    json_t *top = json_pack("{s:{s:{s:s}}}", "m", "avg", "field", "n");
    for (int i = 0; i < AGG_MAX_DEPTH; i++)
        top = json_pack("{s:{s:{s:s},s:o}}", "t", "terms", "field", "type", "aggs", top);
    char err[1024];
    agg_t *a;
    cr_expect_eq(agg_compile(top, NOW_US, &a, err, sizeof err), AGG_ERR_INVALID);
    cr_expect(strstr(err, "] aggregations nested deeper than 16") != NULL, "%s", err);
    json_decref(top);
}

Test(agg, free_null_is_a_noop)
{
    agg_free(NULL);
    agg_run_free(NULL);
}
