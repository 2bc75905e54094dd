/* test_streamreq.c -- GET /stream parameter parsing: every 400 and the filter, without sockets. */
#include "sse.h"
#include "store.h"
#include "streamreq.h"
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#define NOW 1700000000000000LL

typedef struct {
    int rc;
    char param[128];
    char err[512];
    streamreq_t r;
} parsed_t;

static const char *const FEEDS[] = {"a", "b", "c", "demo"};

/* Parse against the configured feeds FEEDS (or, with `feeds` 0, none are checked). */
static parsed_t parse_in(const char *qs, const char *lei, const char *accept, const char *body, int feeds)
{
    parsed_t p;
    memset(&p, 0, sizeof p);
    streamreq_in_t in = {.query_string = qs, .qs_len = qs ? strlen(qs) : 0, .last_event_id = lei,
                         .lei_len = lei ? strlen(lei) : 0, .accept = accept, .accept_len = accept ? strlen(accept) : 0,
                         .body = body, .body_len = body ? strlen(body) : 0, .now_us = NOW, .feed_ids = FEEDS,
                         .nfeed_ids = feeds ? 4 : 0, .check_feeds = feeds};
    p.rc = streamreq_parse(&p.r, &in, p.err, sizeof p.err, p.param, sizeof p.param);
    return p;
}

static parsed_t parse_full(const char *qs, const char *lei, const char *accept, const char *body)
{
    return parse_in(qs, lei, accept, body, 1);
}

static parsed_t parse(const char *qs)
{
    return parse_full(qs, NULL, NULL, NULL);
}

/* The request is a 400 naming `param`, with `needle` in its message. */
static void expect_400_full(const char *qs, const char *lei, const char *body, const char *param,
                            const char *needle)
{
    parsed_t p = parse_full(qs, lei, NULL, body);
    cr_assert_eq(p.rc, -1, "accepted %s %s", qs ? qs : "", body ? body : "");
    cr_assert_str_eq(p.param, param, "%s %s -> %s", qs ? qs : "", body ? body : "", p.param);
    cr_assert(strstr(p.err, needle), "'%s' lacks '%s'", p.err, needle);
}

static void expect_400(const char *qs, const char *lei, const char *param, const char *needle);

Test(streamreq, defaults_start_now_no_end_sse)
{
    parsed_t p = parse(NULL);
    cr_assert_eq(p.rc, 0);
    cr_assert_eq(p.r.start_us, NOW);
    cr_assert_eq(p.r.end_us, INT64_MAX);
    cr_assert_not(p.r.has_end);
    cr_assert_eq(p.r.format, SSE_FORMAT_SSE);
    cr_assert_not(p.r.has_resume);
    streamreq_free(&p.r);
}

Test(streamreq, time_forms)
{
    parsed_t p = parse("start=2023-11-14T22:13:20Z&end=1700000001000");
    cr_assert_eq(p.rc, 0, "%s", p.err);
    cr_assert_eq(p.r.start_us, NOW);
    cr_assert_eq(p.r.end_us, NOW + 1000000);
    cr_assert(p.r.has_end);
    streamreq_free(&p.r);
    p = parse("start=2023-11-14T23%3A13%3A20%2B01%3A00&end=now");
    cr_assert_eq(p.rc, 0, "%s", p.err);
    cr_assert_eq(p.r.start_us, NOW);
    cr_assert_eq(p.r.end_us, NOW);
    streamreq_free(&p.r);
}

Test(streamreq, date_math_in_start_and_end)
{
    parsed_t p = parse("start=now-1h&end=now%2B30m");
    cr_assert_eq(p.rc, 0, "%s", p.err);
    cr_assert_eq(p.r.start_us, NOW - 3600000000LL);
    cr_assert_eq(p.r.end_us, NOW + 1800000000LL);
    streamreq_free(&p.r);
    /* rounding takes the start of the unit, for end (exclusive, as Elasticsearch's lt) too */
    p = parse("start=now-1d/d&end=now/d");
    cr_assert_eq(p.rc, 0, "%s", p.err);
    int64_t day = 86400000000LL, today = NOW - NOW % day;
    cr_assert_eq(p.r.start_us, today - day);
    cr_assert_eq(p.r.end_us, today);
    streamreq_free(&p.r);
    p = parse("start=2024-01-01&end=2024-01-01||%2B1M");
    cr_assert_eq(p.rc, 0, "%s", p.err);
    cr_assert_eq(p.r.start_us, 1704067200000000LL);
    cr_assert_eq(p.r.end_us, 1706745600000000LL);
    streamreq_free(&p.r);
    expect_400("start=now-1x", NULL, "start", "date math");
    expect_400("end=now-", NULL, "end", "got 'now-'");
}

Test(streamreq, unix_seconds_are_refused_zero_and_milliseconds_are_not)
{
    expect_400("start=1700000000", NULL, "start", "looks like Unix seconds");
    expect_400("start=1", NULL, "start", "1000");
    expect_400("end=99999999999", NULL, "end", "looks like Unix seconds");
    parsed_t p = parse("start=0&end=100000000000");
    cr_assert_eq(p.rc, 0, "%s", p.err);
    cr_assert_eq(p.r.start_us, 0);
    cr_assert_eq(p.r.end_us, 100000000000000LL);
    streamreq_free(&p.r);
    p = parse("start=1700000000000");
    cr_assert_eq(p.rc, 0, "%s", p.err);
    cr_assert_eq(p.r.start_us, NOW);
    streamreq_free(&p.r);
}

Test(streamreq, unknown_feed_is_named_with_the_configured_ones)
{
    expect_400("feed=a,nosuchfeed", NULL, "feed", "unknown feed 'nosuchfeed'; the configured feeds are: a, b, c, demo");
    parsed_t p = parse_in("feed=x", NULL, NULL, NULL, 0);
    cr_assert_eq(p.rc, 0, "unchecked: %s", p.err);
    streamreq_free(&p.r);
    streamreq_in_t in = {.query_string = "feed=demo", .qs_len = 9, .check_feeds = 1};
    char err[256], param[32];
    cr_assert_eq(streamreq_parse(&p.r, &in, err, sizeof err, param, sizeof param), -1);
    cr_assert_str_eq(param, "feed");
    cr_assert(strstr(err, "no feeds configured"), "%s", err);
}

/* A client that may read only some feeds: a configured feed outside them is accepted (its scope
 * makes it read as empty); an unknown one is a 400 that lists only what it may read. */
Test(streamreq, a_scoped_client_hears_only_of_the_feeds_it_may_read)
{
    static const char *const readable[] = {"b"};
    streamreq_in_t in = {.query_string = "feed=c", .qs_len = 6, .feed_ids = FEEDS, .nfeed_ids = 4,
                         .check_feeds = 1, .readable_ids = readable, .nreadable_ids = 1};
    streamreq_t r;
    char err[256], param[32];
    cr_assert_eq(streamreq_parse(&r, &in, err, sizeof err, param, sizeof param), 0, "%s", err);
    cr_assert_eq(r.feeds.n, 1);
    streamreq_free(&r);
    in.query_string = "feed=nosuch";
    in.qs_len = 11;
    cr_assert_eq(streamreq_parse(&r, &in, err, sizeof err, param, sizeof param), -1);
    cr_assert_str_eq(err, "unknown feed 'nosuch'; the feeds these credentials may read are: b");
    in.nreadable_ids = 0;
    cr_assert_eq(streamreq_parse(&r, &in, err, sizeof err, param, sizeof param), -1);
    cr_assert_str_eq(err, "unknown feed 'nosuch'; the feeds these credentials may read are: none");
}

Test(streamreq, body_carries_parameters_as_json)
{
    parsed_t p = parse_full("type=Create", NULL, NULL,
                            "{\"query\":{\"match\":{\"object.content\":\"tempor\"}},\"start\":\"now-1h\","
                            "\"end\":1700000001000,\"feed\":[\"a\",\"b\"],\"actor\":\"u1\",\"format\":\"ndjson\"}");
    cr_assert_eq(p.rc, 0, "%s", p.err);
    cr_assert_not_null(p.r.query);
    cr_assert_eq(p.r.start_us, NOW - 3600000000LL);
    cr_assert_eq(p.r.end_us, NOW + 1000000);
    cr_assert_eq(p.r.feeds.n, 2);
    cr_assert_eq(p.r.types.n, 1);
    cr_assert_str_eq(p.r.actors.items[0], "u1");
    cr_assert_eq(p.r.format, SSE_FORMAT_NDJSON);
    streamreq_free(&p.r);
    /* a bare query is still a query */
    p = parse_full(NULL, NULL, NULL, "{\"term\":{\"type\":\"Create\"}}");
    cr_assert_eq(p.rc, 0, "%s", p.err);
    cr_assert_not_null(p.r.query);
    streamreq_free(&p.r);
}

static void expect_body_400(const char *qs, const char *body, const char *param, const char *needle)
{
    expect_400_full(qs, NULL, body, param, needle);
}

Test(streamreq, body_mistakes_are_400s)
{
    expect_body_400(NULL, "{\"query\":{\"match_all\":{}},\"size\":10}", "size", "unknown field 'size'");
    expect_body_400("start=now", "{\"start\":\"now-1h\"}", "start", "more than once");
    expect_body_400(NULL, "{\"start\":1700000000}", "start", "looks like Unix seconds");
    expect_body_400(NULL, "{\"start\":true}", "start", "must be a string");
    expect_body_400(NULL, "{\"feed\":[\"a\",3]}", "feed", "must be a string");
    expect_body_400(NULL, "{\"feed\":\"zz\"}", "feed", "unknown feed 'zz'");
    expect_body_400(NULL, "{\"query\":{\"fuzzy\":{}}}", "q", "fuzzy");
    expect_body_400(NULL, "start=now", "body", "not valid JSON");
}

Test(streamreq, lists_split_on_commas_and_repeat)
{
    parsed_t p = parse("feed=a,b&type=Create&feed=c&actor=urn%3Ax%3A1");
    cr_assert_eq(p.rc, 0, "%s", p.err);
    cr_assert_eq(p.r.feeds.n, 3);
    cr_assert_str_eq(p.r.feeds.items[2], "c");
    cr_assert_eq(p.r.types.n, 1);
    cr_assert_str_eq(p.r.actors.items[0], "urn:x:1");
    streamreq_free(&p.r);
}

static void expect_400(const char *qs, const char *lei, const char *param, const char *needle)
{
    expect_400_full(qs, lei, NULL, param, needle);
}

Test(streamreq, every_bad_parameter_is_named)
{
    expect_400("start=yesterday", NULL, "start", "RFC 3339");
    expect_400("start=2024-13-01T00:00:00Z", NULL, "start", "start");
    expect_400("end=soon", NULL, "end", "end must be");
    expect_400("start=2024-01-02T00:00:00Z&end=2024-01-01T00:00:00Z", NULL, "end", "before start");
    expect_400("format=xml", NULL, "format", "sse or ndjson");
    expect_400("bogus=1", NULL, "bogus", "unknown parameter");
    expect_400("last_event_id=zzz", NULL, "last_event_id", "not an event id");
    expect_400(NULL, "h1_2", "last_event_id", "not an event id");
    expect_400("start=now&start=now", NULL, "start", "more than once");
    expect_400("start=%zz", NULL, "query", "percent-encoding");
    expect_400("q=%7Bnot%20json", NULL, "q", "not valid JSON");
    expect_400("q=%7B%22fuzzy%22%3A%7B%7D%7D", NULL, "q", "fuzzy");
}

Test(streamreq, header_last_event_id_wins_over_parameter)
{
    parsed_t p = parse_full("last_event_id=l5", "l9", NULL, NULL);
    cr_assert_eq(p.rc, 0, "%s", p.err);
    cr_assert_eq(p.r.resume.kind, EVENTID_LIVE);
    cr_assert_eq(p.r.resume.seq, 9);
    streamreq_free(&p.r);
    p = parse("last_event_id=h7_100_3");
    cr_assert_eq(p.rc, 0, "%s", p.err);
    cr_assert_eq(p.r.resume.kind, EVENTID_HISTORY);
    cr_assert_eq(p.r.resume.s0, 7);
    streamreq_free(&p.r);
}

Test(streamreq, accept_header_and_format_choose_ndjson)
{
    parsed_t p = parse_full(NULL, NULL, "application/x-ndjson", NULL);
    cr_assert_eq(p.r.format, SSE_FORMAT_NDJSON);
    streamreq_free(&p.r);
    p = parse("format=ndjson");
    cr_assert_eq(p.r.format, SSE_FORMAT_NDJSON);
    streamreq_free(&p.r);
    p = parse_full("format=sse", NULL, "application/x-ndjson", NULL);
    cr_assert_eq(p.r.format, SSE_FORMAT_SSE);
    streamreq_free(&p.r);
}

Test(streamreq, query_in_body_or_q_but_not_both)
{
    parsed_t p = parse_full(NULL, NULL, NULL, "{\"query\":{\"term\":{\"type\":\"Create\"}}}");
    cr_assert_eq(p.rc, 0, "%s", p.err);
    cr_assert_not_null(p.r.query);
    streamreq_free(&p.r);
    p = parse_full("q=%7B%22match_all%22%3A%7B%7D%7D", NULL, NULL, "{\"query\":{\"match_all\":{}}}");
    cr_assert_eq(p.rc, -1);
    cr_assert_str_eq(p.param, "q");
}

static store_rec_t rec(const char *feed, const char *types, const char *actor)
{
    store_rec_t r = {.seq = 1, .kind = STORE_REC_UPSERT, .feed = feed, .feed_len = strlen(feed), .id = "x",
                     .id_len = 1, .types = types, .types_len = strlen(types), .actor = actor,
                     .actor_len = strlen(actor), .json = "{\"id\":\"x\"}", .json_len = 10};
    r.data = r.json;
    r.data_len = r.json_len;
    return r;
}

Test(streamreq, filters_are_or_within_and_across)
{
    parsed_t p = parse("feed=a,b&type=Create,Like&actor=u1");
    cr_assert_eq(p.rc, 0);
    store_rec_t ok = rec("b", "Note\x1f" "Like", "u1");
    cr_assert(streamreq_match(&p.r, &ok));
    store_rec_t wrong_feed = rec("c", "Create", "u1");
    cr_assert_not(streamreq_match(&p.r, &wrong_feed));
    store_rec_t wrong_type = rec("a", "Note", "u1");
    cr_assert_not(streamreq_match(&p.r, &wrong_type));
    store_rec_t wrong_actor = rec("a", "Create", "u2");
    cr_assert_not(streamreq_match(&p.r, &wrong_actor));
    store_rec_t prefix_type = rec("a", "Creat", "u1");
    cr_assert_not(streamreq_match(&p.r, &prefix_type));
    streamreq_free(&p.r);
}

/* The client's scope is ANDed with the request's filters; a delete passes when the scope may
 * admit its tombstone. */
Test(streamreq, scope_narrows_every_record_and_judges_deletes_on_what_they_keep)
{
    const char *text = "{\"bool\":{\"filter\":[{\"terms\":{\"feed\":[\"a\",\"b\"]}},{\"term\":{\"actor.id\":\"u1\"}}]}}";
    char err[256];
    query_t *scope;
    cr_assert_eq(query_compile_text(text, strlen(text), &scope, err, sizeof err), 0, "%s", err);
    parsed_t p = parse("type=Create");
    cr_assert_eq(p.rc, 0);
    p.r.scope = scope;
    store_rec_t in = rec("a", "Create", "u1"), other_actor = rec("a", "Create", "u2"),
                other_feed = rec("c", "Create", "u1"), other_type = rec("b", "Like", "u1");
    cr_expect(streamreq_match(&p.r, &in));
    cr_expect_not(streamreq_match(&p.r, &other_actor));
    cr_expect_not(streamreq_match(&p.r, &other_feed));
    cr_expect_not(streamreq_match(&p.r, &other_type), "the request's own filter still applies");
    store_rec_t del_in = rec("b", "Create", ""), del_out = rec("c", "Create", "");
    del_in.kind = del_out.kind = STORE_REC_DELETE;
    cr_expect(streamreq_match(&p.r, &del_in), "the actor of a tombstone is unknown: admitted");
    cr_expect_not(streamreq_match(&p.r, &del_out), "a tombstone of a feed outside the scope");
    p.r.scope = NULL;
    cr_expect(streamreq_match(&p.r, &del_out), "without a scope every delete passes the feed filter");
    streamreq_free(&p.r);
    query_free(scope);
}
