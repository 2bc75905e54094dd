/* test_erasure.c -- what a source deletes is gone here too, end to end: the real server and
 * feedsim (seed 7, so activity 3 is urn:feedsim:7:3 and its object urn:feedsim:7:3:note, a
 * marker found in every version of it and nowhere else). After the delete no endpoint returns
 * any byte of it: history from any start, resumes from l0, from a live id and from a history
 * id taken before the delete, _search and _count; `compact` removes it from data.mdb and is
 * refused while the server runs. Deletes reach streams filtered by actor or query. Resumes are
 * exact, compacted (version_retention 0s) or an explicit reset (tombstone_retention passed, or
 * an id the server cannot place), each ending in the source's state with nothing twice. */
#include "testenv.h"
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(erasure, .fini = env_down);

#define VICTIM "urn:feedsim:7:3"
#define MARKER "urn:feedsim:7:3:note"

static void up(int count, const char *extra)
{
    env_opts_t o = {.count = count, .seed = 7, .full_sync = "1s", .extra = extra};
    env_up_opts(&o);
    wait_count(count);
}

/* Read a stream (from start 0, resuming after `id` when not NULL) until `stop_event` or the
 * end, and return it (caller frees). */
static h_sse_t read_stream(const char *query, const char *id, const char *stop_event)
{
    h_sse_t s = {0};
    char path[512];
    snprintf(path, sizeof path, "/stream?start=0%s", query ? query : "");
    h_sse_read(url("%s", path), id ? resume_headers(id) : NULL, 0, stop_event, 8000, &s);
    cr_assert_eq(s.status, 200, "%s -> %ld", path, s.status);
    return s;
}

static int stream_holds(const h_sse_t *s, const char *needle)
{
    for (size_t i = 0; i < s->n; i++)
        if (strstr(s->ev[i].data, needle))
            return 1;
    return 0;
}

static const h_event_t *find_event(const h_sse_t *s, const char *event, const char *needle)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ev[i].event, event) == 0 && strstr(s->ev[i].data, needle))
            return &s->ev[i];
    return NULL;
}

static char *search(const char *path, const char *body)
{
    h_resp_t r;
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    cr_assert_eq(h_http("POST", url("%s", path), hdrs, body, &r, 10000), 0);
    cr_assert_eq(r.status, 200, "%s %s -> %ld %s", path, body, r.status, r.body);
    char *text = strdup(r.body);
    h_resp_free(&r);
    return text;
}

/* Wait (up to 10 s) until a search for `query` finds `needle` in the response, or not. */
static void wait_search(const char *query, const char *needle, int present)
{
    for (int i = 0; i < 200; i++) {
        char *body = search("/activities/_search", query);
        int has = strstr(body, needle) != NULL;
        free(body);
        if (has == present)
            return;
        usleep(50000);
    }
    cr_assert_fail("%s never %s %s", query, present ? "found" : "lost", needle);
}

static long metric(const char *name)
{
    return h_metric(url("/metrics", NULL), NULL, name);
}

/* Two versions of the victim, then its delete, noticed by the full sync's sweep. */
static void update_then_delete_victim(void)
{
    sim_post("/_control/update?id=" VICTIM);
    wait_search("{\"query\":{\"ids\":{\"values\":[\"" VICTIM "\"]}}}", "Note 3 v2", 1);
    sim_post("/_control/delete?id=" VICTIM);
    wait_search("{\"query\":{\"ids\":{\"values\":[\"" VICTIM "\"]}}}", MARKER, 0);
}

Test(erasure, an_erased_activity_leaves_no_trace_on_any_endpoint, .timeout = 90)
{
    up(20, NULL);
    h_sse_t before = read_stream(NULL, NULL, "live");   /* the snapshot taken before */
    cr_assert(stream_holds(&before, MARKER));
    const char *history_id = before.ev[0].id, *live_id = before.last_id;
    cr_assert_eq(history_id[0], 'h');
    cr_assert_eq(live_id[0], 'l');
    update_then_delete_victim();
    wait_count(19);

    h_sse_t hist = read_stream("&end=now", NULL, NULL);
    cr_assert(hist.ended && h_sse_count(&hist, "activity") == 19);
    cr_assert_not(stream_holds(&hist, MARKER), "history from 0 holds the erased activity");
    const char *resumes[] = {"l0", live_id, history_id};
    for (size_t i = 0; i < 3; i++) {
        h_sse_t s = read_stream(NULL, resumes[i], "delete");   /* (a history id: its rest, then live) */
        cr_assert_not(stream_holds(&s, MARKER), "resume from %s sends the erased activity", resumes[i]);
        const h_event_t *del = find_event(&s, "delete", "\"" VICTIM "\"");
        cr_assert_not_null(del, "resume from %s: no delete event for the victim", resumes[i]);
        json_t *d = json_loads(del->data, 0, NULL), *a = json_object_get(d, "activity");
        cr_assert_str_eq(json_string_value(json_object_get(d, "feed")), "sim");
        cr_assert_str_eq(json_string_value(json_object_get(a, "type")), "Tombstone");
        cr_assert_eq(json_object_size(a), 5, "a tombstone holds type, id, formerType, published, deleted: %s",
                     del->data);
        cr_assert(json_is_string(json_object_get(a, "formerType")) || json_is_array(json_object_get(a, "formerType")));
        cr_assert(json_is_string(json_object_get(a, "published")) && json_is_string(json_object_get(a, "deleted")));
        json_decref(d);
        h_sse_free(&s);
    }
    char *body = search("/activities/_search", "{\"size\":100}");
    cr_assert_null(strstr(body, MARKER));
    cr_assert(strstr(body, "\"value\":19"), "%s", body);
    free(body);
    body = search("/activities/_count", "{\"query\":{\"term\":{\"object.id\":\"" MARKER "\"}}}");
    cr_assert(strstr(body, "\"count\":0"), "%s", body);
    free(body);
    body = search("/activities/_search", "{\"query\":{\"match\":{\"object.name\":\"Note 3\"}}}");
    cr_assert_null(strstr(body, MARKER));
    free(body);
    cr_assert_geq(metric("as_store_erased_activities_total"), 1);
    h_sse_free(&hist);
    h_sse_free(&before);
}

/* A tombstone has no actor and no content: streams filtered on them still get the feed's
 * deletes; a type filter still applies (to the types the tombstone keeps). */
Test(erasure, deletes_reach_streams_filtered_by_actor_or_query, .timeout = 60)
{
    up(10, NULL);
    const char *filters[] = {"&actor=urn:nobody", "&q=%7B%22match%22%3A%7B%22object.content%22%3A%22zzzz%22%7D%7D",
                             "&type=NoSuchType"};
    char live[3][128];
    for (int i = 0; i < 3; i++) {
        h_sse_t s = read_stream(filters[i], NULL, "live");
        cr_assert_eq(h_sse_count(&s, "activity"), 0, "filter %s matches nothing", filters[i]);
        snprintf(live[i], sizeof live[i], "%s", s.last_id);
        h_sse_free(&s);
    }
    update_then_delete_victim();
    for (int i = 0; i < 3; i++) {
        h_sse_t s = {0};
        char path[512];
        snprintf(path, sizeof path, "/stream?start=0%s", filters[i]);
        h_sse_read(url("%s", path), resume_headers(live[i]), 0, "delete", i < 2 ? 8000 : 2000, &s);
        cr_assert_eq(h_sse_count(&s, "activity"), 0);
        cr_assert_eq(h_sse_count(&s, "delete"), i < 2 ? 1 : 0, "filter %s", filters[i]);
        h_sse_free(&s);
    }
}

/* Follow the stream from `id` to the head, applying what arrives to a client state. Returns
 * the number of reset events seen. */
static int catch_up(json_t *state, json_t *seen, char *id, size_t idlen)
{
    int resets = 0;
    h_sse_t s = {0};
    h_sse_read(url("/stream?start=0", NULL), id[0] ? resume_headers(id) : NULL, 0, NULL, 2500, &s);
    cr_assert_eq(s.status, 200);
    state_apply(state, seen, &s, &resets);
    if (s.last_id[0])
        snprintf(id, idlen, "%s", s.last_id);
    h_sse_free(&s);
    return resets;
}

/* Changes at the source while a client is away: activity 0 updated twice (v3), three more
 * updated, additions, and the victim deleted. */
static void churn_the_source(void)
{
    sim_post("/_control/update?id=urn:feedsim:7:0");
    wait_search("{\"query\":{\"ids\":{\"values\":[\"urn:feedsim:7:0\"]}}}", "Note 0 v2", 1);
    sim_post("/_control/update?id=urn:feedsim:7:0");
    wait_search("{\"query\":{\"ids\":{\"values\":[\"urn:feedsim:7:0\"]}}}", "Note 0 v3", 1);
    sim_post("/_control/update?n=3");
    sim_post("/_control/add?n=4");
    sim_post("/_control/delete?id=" VICTIM);
    wait_search("{\"query\":{\"ids\":{\"values\":[\"" VICTIM "\"]}}}", MARKER, 0);
    wait_count(20 + 4 - 1);
}

/* The client was at `at`; after the churn it resumes and must end in the source's state, with
 * `want_resets` reset events on the way and nothing twice. */
static void resume_and_check(json_t *state, json_t *seen, const char *at, int want_resets)
{
    char id[128];
    snprintf(id, sizeof id, "%s", at);
    int resets = catch_up(state, seen, id, sizeof id);
    cr_assert_eq(resets, want_resets, "resume from %s: %d resets", at, resets);
    json_t *src = source_state();
    state_assert_equal(state, src, at);
    json_decref(src);
}

Test(erasure, exact_resume_delivers_every_version, .timeout = 90)
{
    up(20, NULL);
    json_t *state = json_object(), *seen = json_object();
    char id[128] = "";
    catch_up(state, seen, id, sizeof id);
    churn_the_source();
    resume_and_check(state, seen, id, 0);
    /* every version: the twice-updated activities arrived at v1, v2 and v3 */
    cr_assert_not_null(json_object_get(seen, "urn:feedsim:7:0#2"));
    cr_assert_not_null(json_object_get(seen, "urn:feedsim:7:0#3"));
    json_decref(state);
    json_decref(seen);
}

Test(erasure, compacted_resume_below_the_low_water_mark, .timeout = 90)
{
    up(20, "version_retention: 0s\n");
    json_t *state = json_object(), *seen = json_object(), *fresh = json_object(), *fresh_seen = json_object();
    char id[128] = "";
    catch_up(state, seen, id, sizeof id);
    churn_the_source();
    cr_assert_gt(metric("as_store_low_water_seq"), 20, "superseded versions are not kept");
    resume_and_check(state, seen, id, 0);
    cr_assert_null(json_object_get(seen, "urn:feedsim:7:0#2"), "a pruned intermediate version was sent");
    cr_assert_not_null(json_object_get(seen, "urn:feedsim:7:0#3"));
    resume_and_check(fresh, fresh_seen, "l0", 0);   /* from the very beginning, compacted */
    json_decref(state);
    json_decref(seen);
    json_decref(fresh);
    json_decref(fresh_seen);
}

Test(erasure, reset_below_the_tombstone_horizon_and_for_unknown_ids, .timeout = 90)
{
    up(20, "tombstone_retention: 1s\n");
    json_t *state = json_object(), *seen = json_object();
    char id[128] = "";
    catch_up(state, seen, id, sizeof id);
    churn_the_source();
    for (int i = 0; i < 100 && metric("as_store_tombstone_horizon_seq") <= 0; i++)
        usleep(100000);   /* the tombstone is pruned about a second after the delete */
    cr_assert_gt(metric("as_store_tombstone_horizon_seq"), 0);
    h_sse_t s = {0};
    h_sse_read(url("/stream?start=0", NULL), resume_headers(id), 1, NULL, 5000, &s);
    cr_assert_str_eq(s.ev[0].event, "reset");
    cr_assert_str_eq(s.ev[0].data, "{\"reason\":\"expired\"}");
    h_sse_free(&s);
    resume_and_check(state, seen, id, 1);
    memset(&s, 0, sizeof s);
    h_sse_read(url("/stream?start=0&format=ndjson", NULL), resume_headers("l99999999"), 1, NULL, 5000, &s);
    cr_assert_eq(s.status, 200, "an id beyond the head is not an error: EventSource would stop");
    h_sse_free(&s);
    json_t *fresh = json_object(), *fresh_seen = json_object();
    resume_and_check(fresh, fresh_seen, "l99999999", 1);
    memset(&s, 0, sizeof s);
    h_sse_read(url("/stream?start=0", NULL), resume_headers("l99999999"), 1, NULL, 5000, &s);
    cr_assert_str_eq(s.ev[0].data, "{\"reason\":\"unknown\"}");
    h_sse_free(&s);
    json_decref(state);
    json_decref(seen);
    json_decref(fresh);
    json_decref(fresh_seen);
}

/* Run `bin/activity-stream compact --config <conf>`; returns its exit status, output in *out. */
static int run_compact(char *out, size_t outlen)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s compact --config %s/server.conf 2>&1", h_server_bin(), E.dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int file_holds(const char *path, const char *needle)
{
    size_t len;
    char *data = h_read_file(path, &len);
    cr_assert_not_null(data, "cannot read %s", path);
    int found = memmem(data, len, needle, strlen(needle)) != NULL;
    free(data);
    return found;
}

Test(erasure, compact_removes_erased_bytes_and_is_refused_while_running, .timeout = 90)
{
    up(20, NULL);
    update_then_delete_victim();
    wait_count(19);
    char out[2048], data[4096];
    cr_assert_eq(run_compact(out, sizeof out), 1, "compact must refuse while the server runs: %s", out);
    cr_assert(strstr(out, "running"), "%s", out);
    int status = h_stop(E.server, SIGTERM, 8000);
    E.server = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(run_compact(out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "before") && strstr(out, "after"), "sizes are printed: %s", out);
    snprintf(data, sizeof data, "%s/data/data.mdb", E.dir);
    cr_assert_not(file_holds(data, MARKER), "the erased activity's bytes survived compaction");
    cr_assert_not(file_holds(data, "Note 3 v"));
    cr_assert(file_holds(data, "urn:feedsim:7:4:note"), "the other activities are still there");
    E.server = h_start_server(E.dir, E.conf, E.port, E.log);
    wait_count(19);
}

/* Ids carry the store's tag: an id with another store's tag (another cluster) starts over. */
Test(erasure, an_id_from_another_store_resets, .timeout = 60)
{
    up(5, NULL);
    h_sse_t s = read_stream(NULL, NULL, "live");
    const char *dot = strchr(s.last_id, '.');
    cr_assert_not_null(dot, "ids carry the store's tag: %s", s.last_id);
    char other[64];
    snprintf(other, sizeof other, "%.*s.zzzzzz", (int)(dot - s.last_id), s.last_id);
    h_sse_t r = {0};
    h_sse_read(url("/stream?start=0", NULL), resume_headers(other), 1, NULL, 5000, &r);
    cr_assert_str_eq(r.ev[0].event, "reset");
    cr_assert_str_eq(r.ev[0].data, "{\"reason\":\"unknown\"}");
    h_sse_free(&r);
    memset(&r, 0, sizeof r);
    h_sse_read(url("/stream?start=0", NULL), resume_headers(s.last_id), 1, NULL, 5000, &r);
    cr_assert_str_eq(r.ev[0].event, "live", "its own tag continues");
    h_sse_free(&r);
    h_sse_free(&s);
}
