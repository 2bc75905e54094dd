/* test_stream.c -- GET /stream end to end: the real server (AS_SERVER) on a free loopback port,
 * fed by the real bin/feedsim. History, live, resume across disconnects and restarts, deletes,
 * finite ranges, keepalives, every 400, limits, and the other endpoints. */
#include "testenv.h"
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(stream, .fini = env_down);

Test(stream, finite_replay_equals_the_store_in_order, .timeout = 60)
{
    env_up(300, "10m", "15s", 100);
    wait_count(300);
    h_sse_t s = {0};
    h_sse_read(url("/stream?start=" FEEDSIM_START "&end=now", NULL), NULL, 0, NULL, 20000, &s);
    cr_assert_eq(s.status, 200);
    cr_assert(strstr(s.headers, "text/event-stream"), "%s", s.headers);
    cr_assert(strcasestr(s.headers, "cache-control: no-cache"));
    cr_assert(strcasestr(s.headers, "x-accel-buffering: no"));
    cr_assert_eq(s.retry_ms, 1500);
    cr_assert(s.ended, "a finite stream must end");
    cr_assert_eq(h_sse_count(&s, "activity"), 300);
    cr_assert_eq(h_sse_count(&s, "end"), 1);
    cr_assert_eq(h_sse_count(&s, "live"), 0);
    cr_assert_str_eq(s.ev[s.n - 1].event, "end");
    cr_assert_str_eq(s.ev[s.n - 1].data, "{}");
    for (size_t i = 0; i < 300; i++) { /* feedsim publishes item n at start + n s: order = id order */
        char id[128], want[128];
        int v;
        event_activity(&s.ev[i], id, sizeof id, &v);
        snprintf(want, sizeof want, "urn:feedsim:1:%zu", i);
        cr_assert_str_eq(id, want, "event %zu out of order", i);
        cr_assert_lt(strlen(s.ev[i].id), 64);
    }
    /* A reconnect with the id of the finished stream gets 204: EventSource stops. */
    const char *const *hdrs = resume_headers(s.ev[s.n - 1].id);
    h_resp_t r;
    h_http("GET", url("/stream?start=" FEEDSIM_START "&end=now", NULL), hdrs, NULL, &r, 5000);
    cr_assert_eq(r.status, 204);
    h_resp_free(&r);
    h_sse_free(&s);
    env_down();
}

Test(stream, ranges_and_filters_bound_the_history, .timeout = 60)
{
    env_up(100, "10m", "15s", 100);
    wait_count(100);
    h_sse_t s = {0};
    /* items 10..19 by time (start inclusive, end exclusive) */
    h_sse_read(url("/stream?start=2024-01-01T00:00:10Z&end=1704067220000", NULL), NULL, 0, NULL, 10000, &s);
    cr_assert_eq(h_sse_count(&s, "activity"), 10);
    h_sse_free(&s);
    memset(&s, 0, sizeof s);
    h_sse_read(url("/stream?start=" FEEDSIM_START "&end=now&feed=sim&type=NoSuchType", NULL), NULL, 0, NULL, 10000, &s);
    cr_assert_eq(h_sse_count(&s, "activity"), 0);
    cr_assert_eq(h_sse_count(&s, "end"), 1);
    h_sse_free(&s);
    memset(&s, 0, sizeof s);
    h_sse_read(url("/stream?start=" FEEDSIM_START "&end=now&format=ndjson", NULL), NULL, 0, NULL, 10000, &s);
    cr_assert(strstr(s.headers, "application/x-ndjson"));
    h_sse_free(&s);
    env_down();
}

Test(stream, history_then_live_from_a_concurrent_ingest, .timeout = 60)
{
    env_up(50, "10m", "15s", 100);
    wait_count(50);
    h_sse_t s = {0};
    h_sse_read(url("/stream?start=" FEEDSIM_START, NULL), NULL, 0, "live", 10000, &s);
    cr_assert_eq(h_sse_count(&s, "activity"), 50);
    cr_assert_eq(h_sse_count(&s, "live"), 1);
    json_t *live = json_loads(s.ev[s.n - 1].data, 0, NULL);
    cr_assert(json_is_string(json_object_get(live, "at")), "live data: %s", s.ev[s.n - 1].data);
    json_decref(live);
    /* resume from the live marker while feedsim gains 5 activities */
    const char *const *hdrs = resume_headers(s.last_id);
    sim_post("/_control/add?n=5");
    h_sse_t l = {0};
    h_sse_read(url("/stream?start=" FEEDSIM_START, NULL), hdrs, 6, NULL, 10000, &l);
    cr_assert_str_eq(l.ev[0].event, "live", "a resumed live stream is marked live first");
    cr_assert_eq(h_sse_count(&l, "activity"), 5);
    for (size_t i = 1; i < l.n; i++)
        cr_assert_eq(l.ev[i].id[0], 'l');
    h_sse_free(&l);
    h_sse_free(&s);
    env_down();
}

Test(stream, start_now_gets_only_what_arrives_later, .timeout = 60)
{
    env_up(20, "10m", "15s", 100);
    wait_count(20);
    h_sse_t s = {0};
    pid_t adder = sim_post_later("/_control/add?n=3", 700000);
    h_sse_read(url("/stream", NULL), NULL, 4, NULL, 10000, &s);
    sim_post_done(adder);
    cr_assert_str_eq(s.ev[0].event, "live");
    cr_assert_eq(h_sse_count(&s, "activity"), 3);
    h_sse_free(&s);
    env_down();
}

/* Live streams with filters, each reading the same passes of the hub: each gets exactly the
 * activities its filter admits, in order (the same list a finite stream with the filter gives
 * afterwards), whether its share of a pass is everything, nothing, a few runs with gaps, or
 * scattered enough to be copied. */
#define FILTERS 6
#define NOTHING 2   /* the filter that admits nothing */
static const char *const live_filters[FILTERS] = {"", "&feed=sim", "&type=NoSuchType", "&type=Create,Update",
                                                  "&type=Create", "&type=Create,Update,Announce,Like"};

/* The activity ids of the events of s, one per line, into path. */
static void write_ids(const h_sse_t *s, const char *path)
{
    FILE *f = fopen(path, "w");
    for (size_t i = 0; f && i < s->n; i++) {
        char id[128];
        int v;
        if (strcmp(s->ev[i].event, "activity") != 0)
            continue;
        event_activity(&s->ev[i], id, sizeof id, &v);
        fprintf(f, "%s\n", id);
    }
    if (f)
        fclose(f);
}

static pid_t read_live_later(int k, const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        h_sse_t s = {0};
        char target[256];
        snprintf(target, sizeof target, "/stream?start=now%s", live_filters[k]);
        h_sse_read(url("%s", target), NULL, 0, NULL, 4000, &s);
        write_ids(&s, path);
        _exit(0);
    }
    return pid;
}

Test(stream, live_filters_get_exactly_their_share_of_each_pass, .timeout = 60)
{
    char path[FILTERS][600], target[256];
    pid_t readers[FILTERS];
    env_up(0, "10m", "15s", 100);
    usleep(500000);
    for (int k = 0; k < FILTERS; k++) {
        snprintf(path[k], sizeof path[k], "%s/live-%d.txt", E.dir, k);
        readers[k] = read_live_later(k, path[k]);
    }
    usleep(1000000);
    sim_post("/_control/add?n=70");   /* two pages: two passes of 50 and 20 */
    for (int k = 0; k < FILTERS; k++)
        waitpid(readers[k], NULL, 0);
    for (int k = 0; k < FILTERS; k++) {
        h_sse_t s = {0};
        char want[600], *got;
        snprintf(target, sizeof target, "/stream?start=" FEEDSIM_START "&end=now%s", live_filters[k]);
        h_sse_read(url("%s", target), NULL, 0, NULL, 10000, &s);
        snprintf(want, sizeof want, "%s/want-%d.txt", E.dir, k);
        write_ids(&s, want);
        char *expected = h_read_file(want, NULL);
        got = h_read_file(path[k], NULL);
        cr_assert_not_null(got, "reader %d wrote nothing", k);
        cr_assert_str_eq(got, expected, "filter '%s': the live stream differs from the finite one", live_filters[k]);
        cr_assert(k == NOTHING || strlen(expected) > 0, "filter '%s' admitted nothing", live_filters[k]);
        free(got);
        free(expected);
        h_sse_free(&s);
    }
    env_down();
}

/* A client that drops the connection at random moments and resumes with its last id, while
 * the source adds, updates and deletes, and the server restarts once: every (id, version) exactly
 * once. */
Test(stream, resume_delivers_every_version_exactly_once, .timeout = 120)
{
    env_up(200, "700ms", "15s", 100);
    wait_count(200);
    srand(42);
    json_t *seen = json_object();
    char last[128] = "";
    size_t total = 0;
    for (int round = 0; round < 14; round++) {
        if (round % 3 == 1)
            sim_post("/_control/add?n=7");
        if (round % 3 == 2)
            sim_post("/_control/update?n=4");
        if (round == 5)
            sim_post("/_control/delete?n=2");
        if (round == 7)
            env_restart_server();
        const char *const *hdrs = resume_headers(last);
        h_sse_t s = {0};
        h_sse_read(url("/stream?start=" FEEDSIM_START, NULL), last[0] ? hdrs : NULL, 1 + rand() % 60, NULL,
                   round == 13 ? 3000 : 1500, &s);
        for (size_t i = 0; i < s.n; i++) {
            if (strcmp(s.ev[i].event, "activity") != 0)
                continue;
            char id[128], key[160];
            int v;
            event_activity(&s.ev[i], id, sizeof id, &v);
            snprintf(key, sizeof key, "%s#%d", id, v);
            cr_assert_null(json_object_get(seen, key), "(%s) delivered twice", key);
            json_object_set_new(seen, key, json_true());
            total++;
        }
        if (s.last_id[0])
            strcpy(last, s.last_id);
        h_sse_free(&s);
    }
    /* every current (id, version) at the source was delivered */
    h_resp_t r;
    char u[256];
    snprintf(u, sizeof u, "%s/_control/ids", E.sim_base);
    cr_assert_eq(h_get(u, &r), 0);
    size_t current = 0;
    for (char *line = strtok(r.body, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *o = json_loads(line, 0, NULL);
        char key[160];
        snprintf(key, sizeof key, "%s#%d", json_string_value(json_object_get(o, "id")),
                 (int)json_integer_value(json_object_get(o, "version")));
        json_decref(o);
        cr_assert_not_null(json_object_get(seen, key), "(%s) never delivered", key);
        current++;
    }
    h_resp_free(&r);
    cr_assert_gt(current, 200);
    cr_assert_geq(total, current);
    json_decref(seen);
    env_down();
}

Test(stream, deletes_at_the_source_arrive_as_tombstones, .timeout = 60)
{
    env_up(30, "500ms", "15s", 100);
    wait_count(30);
    h_sse_t s = {0};
    h_sse_read(url("/stream", NULL), NULL, 1, NULL, 5000, &s); /* the live marker */
    const char *const *hdrs = resume_headers(s.last_id);
    sim_post("/_control/delete?id=urn:feedsim:1:7");
    h_sse_read(url("/stream", NULL), hdrs, 0, "delete", 10000, &s);
    cr_assert_eq(h_sse_count(&s, "delete"), 1, "no delete event after a full sync");
    json_t *d = json_loads(s.ev[s.n - 1].data, 0, NULL);
    json_t *a = json_object_get(d, "activity");
    cr_assert_str_eq(json_string_value(json_object_get(d, "feed")), "sim");
    cr_assert_str_eq(json_string_value(json_object_get(a, "type")), "Tombstone");
    cr_assert_str_eq(json_string_value(json_object_get(a, "id")), "urn:feedsim:1:7");
    cr_assert(json_is_string(json_object_get(a, "deleted")));
    json_decref(d);
    h_sse_free(&s);
    env_down();
}

Test(stream, future_end_goes_live_then_ends, .timeout = 60)
{
    env_up(10, "10m", "15s", 100);
    wait_count(10);
    char q[128];
    long long end_ms = (long long)time(NULL) * 1000 + 1500;
    snprintf(q, sizeof q, "/stream?start=" FEEDSIM_START "&end=%lld", end_ms);
    h_sse_t s = {0};
    h_sse_read(url("%s", q), NULL, 0, NULL, 10000, &s);
    cr_assert(s.ended);
    cr_assert_eq(h_sse_count(&s, "activity"), 10);
    cr_assert_eq(h_sse_count(&s, "live"), 1);
    cr_assert_str_eq(s.ev[s.n - 1].event, "end");
    h_sse_free(&s);
    env_down();
}

Test(stream, keepalive_comments_while_idle, .timeout = 30)
{
    env_up(1, "10m", "200ms", 100);
    h_sse_t s = {0};
    h_sse_read(url("/stream", NULL), NULL, 0, NULL, 1200, &s);
    cr_assert_geq(s.comments, 3, "only %d keepalives in 1.2 s at 200 ms", s.comments);
    h_sse_free(&s);
    env_down();
}

static void expect_400(const char *query, const char *param)
{
    h_resp_t r;
    cr_assert_eq(h_get(url("/stream?%s", query), &r), 0);
    cr_assert_eq(r.status, 400, "%s -> %ld", query, r.status);
    json_t *o = json_loads(r.body, 0, NULL);
    cr_assert_not_null(o, "400 body is not JSON: %s", r.body);
    cr_assert(json_is_string(json_object_get(o, "error")));
    cr_assert_str_eq(json_string_value(json_object_get(o, "parameter")), param, "%s", r.body);
    json_decref(o);
    h_resp_free(&r);
}

Test(stream, bad_requests_get_400_naming_the_parameter, .timeout = 30)
{
    env_up(1, "10m", "15s", 100);
    expect_400("start=tomorrowish", "start");
    expect_400("end=12:00", "end");
    expect_400("start=2024-01-02T00:00:00Z&end=2024-01-01T00:00:00Z", "end");
    expect_400("last_event_id=bogus", "last_event_id");
    expect_400("format=csv", "format");
    expect_400("colour=blue", "colour");
    expect_400("start=1700000000", "start");          /* Unix seconds */
    expect_400("start=now-1x", "start");              /* not date math */
    expect_400("feed=sim,nosuchfeed", "feed");
    h_resp_t r;
    const char *hdrs[] = {"Last-Event-ID: nope", NULL};
    h_http("GET", url("/stream", NULL), hdrs, NULL, &r, 5000);
    cr_assert_eq(r.status, 400);
    h_resp_free(&r);
    h_get(url("/nope/../../etc/passwd", NULL), &r);
    cr_assert_eq(r.status, 404);
    h_resp_free(&r);
    h_get(url("/no-such-page", NULL), &r);
    cr_assert_eq(r.status, 404);
    h_resp_free(&r);
    h_http("PUT", url("/stream", NULL), NULL, "", &r, 5000);
    cr_assert_eq(r.status, 405);
    h_resp_free(&r);
    h_http("DELETE", url("/feeds", NULL), NULL, NULL, &r, 5000);
    cr_assert_eq(r.status, 405);
    h_resp_free(&r);
    /* size limits: URL, headers, and a search body over 1 MiB */
    size_t big = 2 * 1024 * 1024;
    char *huge = malloc(big + 64);
    memset(huge, 'a', big);
    int n = snprintf(huge, big, "%s/stream?start=now&x=", E.base);
    huge[n] = 'a';
    huge[n + 9000] = '\0';
    h_get(huge, &r);
    cr_assert_eq(r.status, 414);
    h_resp_free(&r);
    char *hdr = malloc(70000 + 16);
    memcpy(hdr, "X-Big: ", 7);
    memset(hdr + 7, 'b', 70000);
    hdr[70007] = '\0';
    const char *big_hdrs[] = {hdr, NULL};
    h_http("GET", url("/stream", NULL), big_hdrs, NULL, &r, 5000);
    cr_assert_eq(r.status, 431);
    h_resp_free(&r);
    free(hdr);
    const char *head = "{\"size\":1,\"query\":{\"match\":{\"x\":\"";
    memcpy(huge, head, strlen(head));
    memset(huge + strlen(head), 'a', big - 5 - strlen(head));
    strcpy(huge + big - 5, "\"}}}");
    h_http("POST", url("/activities/_search", NULL), NULL, huge, &r, 10000);
    cr_assert_eq(r.status, 400, "%ld", r.status);
    cr_assert(strstr(r.body, "1 MiB"), "%.200s", r.body);
    h_resp_free(&r);
    free(huge);
    env_down();
}

Test(stream, max_streams_answers_503_with_retry_after, .timeout = 30)
{
    env_up(1, "10m", "15s", 2);
    pid_t holders[2];
    for (int i = 0; i < 2; i++) {
        if ((holders[i] = fork()) == 0) {
            h_sse_t s = {0};
            h_sse_read(url("/stream", NULL), NULL, 0, NULL, 4000, &s);
            _exit(0);
        }
    }
    usleep(800000);
    h_resp_t r;
    h_get(url("/stream", NULL), &r);
    cr_assert_eq(r.status, 503);
    cr_assert(strcasestr(r.headers, "retry-after:"), "%s", r.headers);
    h_resp_free(&r);
    for (int i = 0; i < 2; i++)
        waitpid(holders[i], NULL, 0);
    env_down();
}

Test(stream, other_endpoints_and_cors, .timeout = 30)
{
    env_up(5, "10m", "15s", 100);
    wait_count(5);
    h_resp_t r;
    h_get(url("/health", NULL), &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "\"ok\""));
    h_resp_free(&r);
    h_get(url("/metrics", NULL), &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "as_streams_open "));
    cr_assert(strstr(r.body, "as_changelog_head 5"), "%s", r.body);
    cr_assert(strstr(r.body, "as_feed_pages_total{feed=\"sim\"}"));
    h_resp_free(&r);
    h_get(url("/feeds", NULL), &r);
    json_t *feeds = json_loads(r.body, 0, NULL), *f = json_array_get(feeds, 0);
    cr_assert_str_eq(json_string_value(json_object_get(f, "id")), "sim");
    cr_assert_str_eq(json_string_value(json_object_get(f, "state")), "ok");
    json_decref(feeds);
    h_resp_free(&r);
    const char *allowed[] = {"Origin: http://app.example", NULL};
    h_http("GET", url("/stream?start=now&end=now", NULL), allowed, NULL, &r, 5000);
    cr_assert(strcasestr(r.headers, "access-control-allow-origin: http://app.example"), "%s", r.headers);
    h_resp_free(&r);
    const char *other[] = {"Origin: http://evil.example", NULL};
    h_http("GET", url("/stream?start=now&end=now", NULL), other, NULL, &r, 5000);
    cr_assert_null(strcasestr(r.headers, "access-control-allow-origin"));
    h_resp_free(&r);
    const char *browser[] = {"Accept: text/html,application/xhtml+xml,*/*;q=0.8", NULL};
    h_http("GET", url("/", NULL), browser, NULL, &r, 5000);   /* the dashboard, for a browser */
    cr_assert_eq(r.status, 200);
    cr_assert(strcasestr(r.headers, "text/html"));
    h_resp_free(&r);
    h_get(url("/", NULL), &r);   /* Elasticsearch's root document for everyone else (test_es.c) */
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "\"tagline\":\"You Know, for Search\""), "%s", r.body);
    h_resp_free(&r);
    env_down();
}

Test(stream, sigterm_ends_open_streams_and_exits_zero, .timeout = 30)
{
    env_up(5, "10m", "15s", 100);
    pid_t reader = fork();
    if (reader == 0) {
        h_sse_t s = {0};
        h_sse_read(url("/stream", NULL), NULL, 0, NULL, 10000, &s);
        _exit(s.ended ? 0 : 1); /* the server ended the response cleanly */
    }
    usleep(500000);
    int status = h_stop(E.server, SIGTERM, 6000);
    E.server = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    int rs;
    waitpid(reader, &rs, 0);
    cr_assert(WIFEXITED(rs) && WEXITSTATUS(rs) == 0, "the stream was not ended cleanly");
    env_down();
}

Test(stream, empty_store_then_live_delivers_each_activity_once, .timeout = 60)
{
    env_up(0, "10m", "15s", 100);
    usleep(500000); /* the first full sync of an empty feed */
    h_sse_t s = {0};
    pid_t adder = sim_post_later("/_control/add?n=2", 800000);
    h_sse_read(url("/stream?start=" FEEDSIM_START, NULL), NULL, 0, NULL, 2500, &s);
    sim_post_done(adder);
    cr_assert_str_eq(s.ev[0].event, "live");
    cr_assert_eq(h_sse_count(&s, "activity"), 2, "got %zu activity events", h_sse_count(&s, "activity"));
    h_sse_free(&s);
    env_down();
}

/* The same query through a finite /stream and through /activities/_search: same ids, same
 * order (feedsim publishes one activity per second, so there are no ties to break). */
Test(stream, query_through_stream_and_search_agree, .timeout = 60)
{
    env_up(150, "10m", "15s", 100);
    wait_count(150);
    const char *query = "{\"bool\":{\"must\":[{\"terms\":{\"type\":[\"Create\",\"Like\"]}}],"
                        "\"must_not\":[{\"range\":{\"published\":{\"lt\":\"2024-01-01T00:00:20Z\"}}}]}}";
    char *enc = curl_easy_escape(NULL, query, 0), path[1024], body[1024];
    snprintf(path, sizeof path, "/stream?start=" FEEDSIM_START "&end=now&q=%s", enc);
    curl_free(enc);
    h_sse_t s = {0};
    h_sse_read(url("%s", path), NULL, 0, NULL, 10000, &s);
    cr_assert_eq(s.status, 200);
    snprintf(body, sizeof body, "{\"query\":%s,\"size\":1000,\"sort\":[{\"published\":\"asc\"}]}", query);
    h_resp_t r;
    const char *json_hdr[] = {"Content-Type: application/json", NULL};
    cr_assert_eq(h_http("POST", url("/activities/_search", NULL), json_hdr, body, &r, 10000), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *res = json_loads(r.body, 0, NULL), *hits = json_object_get(json_object_get(res, "hits"), "hits");
    size_t nstream = h_sse_count(&s, "activity");
    cr_assert_gt(nstream, 10, "the query should match a good share of 150 activities");
    cr_assert_lt(nstream, 140);
    cr_assert_eq(json_array_size(hits), nstream);
    for (size_t i = 0; i < nstream; i++) {
        char id[128];
        int v;
        event_activity(&s.ev[i], id, sizeof id, &v);
        json_t *hit = json_array_get(hits, i);
        cr_assert_str_eq(json_string_value(json_object_get(hit, "_id")), id, "hit %zu", i);
        cr_assert_str_eq(json_string_value(json_object_get(hit, "_index")), "sim");
    }
    json_decref(res);
    h_resp_free(&r);
    cr_assert_eq(h_http("GET", url("/activities/_count", NULL), json_hdr, "{\"query\":{\"match_all\":{}}}", &r, 5000), 0);
    cr_assert(strstr(r.body, "\"count\":150"), "%s", r.body);
    h_resp_free(&r);
    cr_assert_eq(h_http("POST", url("/activities/_search", NULL), json_hdr, "{\"query\":{\"fuzzy\":{}}}", &r, 5000), 0);
    cr_assert_eq(r.status, 400);
    h_resp_free(&r);
    h_sse_free(&s);
}

/* A client that stops reading: its write stays stuck, and after write_timeout (5 s here) the
 * server disconnects it instead of buffering the history in memory. */
Test(stream, a_client_that_stops_reading_is_cut_off_after_write_timeout, .timeout = 90)
{
    env_up(20000, "10m", "15s", 100);
    wait_count(20000);
    int fd = socket(AF_INET, SOCK_STREAM, 0), small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(E.port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *req = "GET /stream?start=" FEEDSIM_START " HTTP/1.1\r\nHost: test\r\n\r\n";
    cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    /* never read */
    cr_assert_eq(h_wait_body_contains(url("/metrics", NULL), "as_stream_write_timeouts_total 1\n", 20000), 0,
                 "the stuck client was not disconnected");
    cr_assert_eq(h_wait_body_contains(url("/metrics", NULL), "as_streams_open 0\n", 5000), 0);
    close(fd);
}

/* One JSON shape for every error outside the Elasticsearch API: {"error": ...} and a field
 * naming what was wrong. Returns the body as JSON (the caller frees it). */
static json_t *error_json(h_resp_t *r, long status)
{
    cr_assert_eq(r->status, status, "%ld: %s", r->status, r->body);
    cr_assert(strstr(r->headers, "application/json"), "%s", r->headers);
    json_t *o = json_loads(r->body, 0, NULL);
    cr_assert_not_null(o, "not JSON: %s", r->body);
    cr_assert(json_is_string(json_object_get(o, "error")), "%s", r->body);
    h_resp_free(r);
    return o;
}

Test(stream, errors_have_one_json_shape, .timeout = 30)
{
    env_up(1, "10m", "15s", 100);
    h_resp_t r;
    h_get(url("/stream?feed=nosuchfeed", NULL), &r);
    json_t *o = error_json(&r, 400);
    cr_assert_str_eq(json_string_value(json_object_get(o, "parameter")), "feed");
    cr_assert(strstr(json_string_value(json_object_get(o, "error")), "'nosuchfeed'; the configured feeds are: sim"));
    json_decref(o);
    h_get(url("/stream?start=1733000000", NULL), &r);
    o = error_json(&r, 400);
    cr_assert(strstr(json_string_value(json_object_get(o, "error")), "looks like Unix seconds"));
    json_decref(o);
    h_get(url("/no/such/page", NULL), &r);
    o = error_json(&r, 404);
    cr_assert_str_eq(json_string_value(json_object_get(o, "path")), "/no/such/page");
    json_decref(o);
    h_http("DELETE", url("/feeds", NULL), NULL, NULL, &r, 5000);
    o = error_json(&r, 405);
    cr_assert_str_eq(json_string_value(json_object_get(o, "method")), "DELETE");
    json_decref(o);
    h_http("DELETE", url("/index.html", NULL), NULL, NULL, &r, 5000);
    json_decref(error_json(&r, 405));
    char *long_url = malloc(9100);
    int n = snprintf(long_url, 9100, "%s/stream?x=", E.base);
    memset(long_url + n, 'a', 9000 - n);
    long_url[9000] = '\0';
    h_get(long_url, &r);
    free(long_url);
    o = error_json(&r, 414);
    cr_assert_eq(json_integer_value(json_object_get(o, "limit")), 8192);
    json_decref(o);
    h_get(url("/", NULL), &r);   /* the dashboard is still served */
    cr_assert_eq(r.status, 200);
    h_resp_free(&r);
    env_down();
}

Test(stream, start_and_end_take_date_math, .timeout = 30)
{
    env_up(5, "10m", "15s", 100);
    wait_count(5);
    sim_post("/_control/add?n=2");   /* published now */
    wait_count(7);
    h_sse_t s = {0};
    h_sse_read(url("/stream?start=now-1h&end=now%%2B2s", NULL), NULL, 0, NULL, 10000, &s);
    cr_assert(s.ended);
    cr_assert_eq(h_sse_count(&s, "activity"), 2, "only what was published in the last hour");
    h_sse_free(&s);
    memset(&s, 0, sizeof s);
    h_sse_read(url("/stream?start=2024-01-01&end=now-1d/d", NULL), NULL, 0, NULL, 10000, &s);
    cr_assert(s.ended);
    cr_assert_eq(h_sse_count(&s, "activity"), 5, "the history of 2024");
    h_sse_free(&s);
    env_down();
}

Test(stream, post_with_a_json_body_streams_like_get, .timeout = 30)
{
    env_up(10, "10m", "15s", 100);
    wait_count(10);
    h_resp_t r;
    const char *body = "{\"start\": \"" FEEDSIM_START "\", \"end\": \"now\", \"feed\": [\"sim\"], "
                       "\"query\": {\"ids\": {\"values\": [\"urn:feedsim:1:3\", \"urn:feedsim:1:4\"]}}, "
                       "\"format\": \"ndjson\"}";
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    cr_assert_eq(h_http("POST", url("/stream", NULL), hdrs, body, &r, 10000), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.headers, "application/x-ndjson"), "%s", r.headers);
    cr_assert(strstr(r.body, "urn:feedsim:1:3") && strstr(r.body, "urn:feedsim:1:4"), "%s", r.body);
    cr_assert_null(strstr(r.body, "urn:feedsim:1:5\""), "%s", r.body);
    cr_assert(strstr(r.body, "\"event\":\"end\""), "%s", r.body);
    h_resp_free(&r);
    cr_assert_eq(h_http("POST", url("/stream", NULL), hdrs, "{\"start\":\"now\",\"size\":3}", &r, 5000), 0);
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(r.body, "\"parameter\": \"size\""), "%s", r.body);
    h_resp_free(&r);
    env_down();
}
