/* test_feedsim.c -- integration tests of bin/feedsim (AS_FEEDSIM): paging in both styles,
 * live changes, control endpoints, Hawk, injected faults, conditional GET, determinism,
 * keep-alive/pipelining/concurrency and process behaviour. Loopback only. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "clock.h"
#include "hawk.h"

/* ---- fixtures: every feedsim started is stopped, even when an assertion fails ---- */

static pid_t pids[4];
static int npids;

static void stop_all(void)
{
    for (int i = 0; i < npids; i++)
        if (pids[i] > 0)
            h_stop(pids[i], SIGKILL, 1000);
    npids = 0;
}

TestSuite(feedsim, .fini = stop_all, .timeout = 60);

#define START(port, ...) track(h_start_feedsim(port, "/dev/null", __VA_ARGS__, NULL))
#define START0(port) track(h_start_feedsim(port, "/dev/null", NULL))

static pid_t track(pid_t pid)
{
    cr_assert_gt(pid, 0, "feedsim did not start (%s)", h_feedsim_bin());
    pids[npids++] = pid;
    return pid;
}

/* ---- helpers ---- */

static char *url(int port, const char *path)
{
    static char buf[8][512];
    static int k;
    char *u = buf[k++ % 8];
    snprintf(u, sizeof buf[0], "http://127.0.0.1:%d%s", port, path);
    return u;
}

/* GET url (optional extra headers), assert the status, return the parsed JSON body. */
static json_t *get_json(const char *u, const char *const *hdrs, long want_status)
{
    h_resp_t r;
    cr_assert_eq(h_http("GET", u, hdrs, NULL, &r, 10000), 0, "GET %s failed", u);
    cr_assert_eq(r.status, want_status, "GET %s: %ld %s", u, r.status, r.body);
    json_error_t err;
    json_t *j = json_loadb(r.body, r.len, 0, &err);
    cr_assert_not_null(j, "GET %s: not JSON (%s): %.200s", u, err.text, r.body);
    h_resp_free(&r);
    return j;
}

static json_t *post_json(const char *u, long want_status)
{
    h_resp_t r;
    cr_assert_eq(h_http("POST", u, NULL, NULL, &r, 10000), 0, "POST %s failed", u);
    cr_assert_eq(r.status, want_status, "POST %s: %ld %s", u, r.status, r.body);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    cr_assert_not_null(j, "POST %s: not JSON: %s", u, r.body);
    h_resp_free(&r);
    return j;
}

static const char *sget(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static long long iget(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* The value of response header `name` (case-sensitive prefix match on a line), copied. */
static int header_value(const char *headers, const char *name, char *out, size_t outlen)
{
    for (const char *p = headers; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        size_t nl = strlen(name);
        if (strncasecmp(p, name, nl) != 0 || p[nl] != ':')
            continue;
        const char *v = p + nl + 1;
        v += strspn(v, " ");
        size_t vl = strcspn(v, "\r\n");
        snprintf(out, outlen, "%.*s", (int)vl, v);
        return 0;
    }
    return -1;
}

typedef struct {
    char ids[2048][48];
    size_t n;
    int pages;
    int last_page_size;
} walk_t;

/* Follow `next` from u collecting item ids, asserting each page is a DIT-style Collection. */
static void walk_feed(const char *u, walk_t *w)
{
    char next[512];
    snprintf(next, sizeof next, "%s", u);
    w->n = 0;
    w->pages = 0;
    for (;;) {
        json_t *page = get_json(next, NULL, 200);
        cr_assert_str_eq(sget(page, "type"), "Collection");
        json_t *items = json_object_get(page, "orderedItems");
        cr_assert(json_is_array(items));
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            cr_assert_lt(w->n, 2048);
            snprintf(w->ids[w->n++], 48, "%s", sget(it, "id"));
        }
        w->pages++;
        w->last_page_size = (int)json_array_size(items);
        const char *nx = sget(page, "next");
        if (!nx) {
            json_decref(page);
            return;
        }
        snprintf(next, sizeof next, "%s", nx);
        json_decref(page);
        cr_assert_lt(w->pages, 100, "too many pages");
    }
}

static json_t *state(int port)
{
    return get_json(url(port, "/_control/state"), NULL, 200);
}

/* ---- activity-stream style ---- */

Test(feedsim, walk_pages_in_order)
{
    int port;
    START(&port, "--count", "250", "--page-size", "100", "--seed", "7");
    walk_t *w = calloc(1, sizeof *w);
    walk_feed(url(port, "/feed"), w);
    cr_assert_eq(w->n, 250);
    cr_assert_eq(w->pages, 3);
    cr_assert_eq(w->last_page_size, 50);
    for (size_t i = 0; i < w->n; i++) {
        char want[48];
        snprintf(want, sizeof want, "urn:feedsim:7:%zu", i);
        cr_assert_str_eq(w->ids[i], want);
    }
    free(w);
}

Test(feedsim, exact_multiple_ends_with_empty_page)
{
    int port;
    START(&port, "--count", "200", "--page-size", "100");
    walk_t *w = calloc(1, sizeof *w);
    walk_feed(url(port, "/feed"), w);
    cr_assert_eq(w->n, 200);
    cr_assert_eq(w->pages, 3);
    cr_assert_eq(w->last_page_size, 0);
    free(w);
}

Test(feedsim, activity_shape)
{
    int port;
    START(&port, "--count", "3", "--seed", "9", "--size", "600");
    json_t *page = get_json(url(port, "/feed"), NULL, 200);
    cr_assert_str_eq(sget(page, "@context"), "https://www.w3.org/ns/activitystreams");
    cr_assert_null(json_object_get(page, "next"), "a page that is not full has no next");
    json_t *a = json_array_get(json_object_get(page, "orderedItems"), 2);
    cr_assert_str_eq(sget(a, "id"), "urn:feedsim:9:2");
    cr_assert_str_eq(sget(a, "published"), "2024-01-01T00:00:02Z");
    const char *type = sget(a, "type");
    cr_assert(strstr(" Create Update Announce Like Follow ", type), "type %s", type);
    json_t *actor = json_object_get(a, "actor");
    cr_assert_eq(strncmp(sget(actor, "id"), "urn:feedsim:actor:", 18), 0);
    cr_assert_str_eq(sget(actor, "type"), "Person");
    cr_assert_not_null(sget(actor, "name"));
    json_t *obj = json_object_get(a, "object");
    cr_assert_str_eq(sget(obj, "type"), "Note");
    cr_assert_not_null(sget(obj, "name"));
    cr_assert_eq(iget(a, "feedsim:version"), 1);
    char *dump = json_dumps(a, JSON_COMPACT);
    cr_assert(strlen(dump) > 450 && strlen(dump) < 750, "activity is %zu bytes", strlen(dump));
    free(dump);
    json_decref(page);
}

Test(feedsim, start_time_option)
{
    int port, port2;
    START(&port, "--count", "2", "--start-time", "1700000000");
    START(&port2, "--count", "2", "--start-time", "2020-02-29T23:59:59+01:00");
    json_t *p = get_json(url(port, "/feed"), NULL, 200);
    cr_assert_str_eq(sget(json_array_get(json_object_get(p, "orderedItems"), 1), "published"),
                     "2023-11-14T22:13:21Z");
    json_decref(p);
    p = get_json(url(port2, "/feed"), NULL, 200);
    cr_assert_str_eq(sget(json_array_get(json_object_get(p, "orderedItems"), 0), "published"),
                     "2020-02-29T22:59:59Z");
    json_decref(p);
}

Test(feedsim, after_cursor_returns_new_items)
{
    int port;
    START(&port, "--count", "10", "--seed", "3");
    json_t *p = get_json(url(port, "/feed"), NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(p, "orderedItems")), 10);
    json_decref(p);
    p = get_json(url(port, "/feed?after=10"), NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(p, "orderedItems")), 0);
    cr_assert_null(json_object_get(p, "next"));
    json_decref(p);

    json_t *r = post_json(url(port, "/_control/add?n=3"), 200);
    cr_assert_eq(iget(r, "added"), 3);
    cr_assert_eq(iget(r, "count"), 13);
    json_decref(r);

    p = get_json(url(port, "/feed?after=10"), NULL, 200);
    json_t *items = json_object_get(p, "orderedItems");
    cr_assert_eq(json_array_size(items), 3);
    cr_assert_str_eq(sget(json_array_get(items, 0), "id"), "urn:feedsim:3:10");
    cr_assert_str_eq(sget(json_array_get(items, 2), "id"), "urn:feedsim:3:12");
    char year[8];
    time_t t = time(NULL);
    strftime(year, sizeof year, "%Y", gmtime(&t));
    cr_assert_eq(strncmp(sget(json_array_get(items, 0), "published"), year, 4), 0, "live items get the current time");
    json_decref(p);
}

Test(feedsim, next_uses_host_header)
{
    int port;
    START(&port, "--count", "5", "--page-size", "2");
    const char *hdrs[] = {"Host: feeds.example:8443", NULL};
    json_t *p = get_json(url(port, "/feed"), hdrs, 200);
    cr_assert_str_eq(sget(p, "next"), "http://feeds.example:8443/feed?after=2");
    json_decref(p);
}

Test(feedsim, update_moves_item_to_end)
{
    int port;
    START(&port, "--count", "5", "--seed", "4");
    json_t *before = get_json(url(port, "/feed"), NULL, 200);
    json_t *old = json_array_get(json_object_get(before, "orderedItems"), 1);

    json_t *r = post_json(url(port, "/_control/update?id=urn%3Afeedsim%3A4%3A1"), 200);
    cr_assert_eq(iget(r, "updated"), 1);
    cr_assert_eq(iget(r, "count"), 5);
    json_decref(r);

    json_t *after = get_json(url(port, "/feed"), NULL, 200);
    json_t *items = json_object_get(after, "orderedItems");
    cr_assert_eq(json_array_size(items), 5);
    const char *order[] = {"urn:feedsim:4:0", "urn:feedsim:4:2", "urn:feedsim:4:3", "urn:feedsim:4:4",
                           "urn:feedsim:4:1"};
    for (int i = 0; i < 5; i++)
        cr_assert_str_eq(sget(json_array_get(items, i), "id"), order[i]);
    json_t *moved = json_array_get(items, 4);
    cr_assert_eq(iget(moved, "feedsim:version"), 2);
    cr_assert_not_null(sget(moved, "updated"));
    cr_assert_str_eq(sget(moved, "published"), sget(old, "published"));
    cr_assert_str_eq(sget(moved, "type"), sget(old, "type"), "type is stable per activity");
    cr_assert_str_neq(sget(json_object_get(moved, "object"), "name"), sget(json_object_get(old, "object"), "name"));
    json_decref(before);
    json_decref(after);

    /* The cursor of the old end now returns just the updated item. */
    json_t *p = get_json(url(port, "/feed?after=5"), NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(p, "orderedItems")), 1);
    json_decref(p);

    /* n=K updates the K oldest. */
    r = post_json(url(port, "/_control/update?n=2"), 200);
    cr_assert_eq(iget(r, "updated"), 2);
    cr_assert_eq(iget(r, "mseq"), 8);
    json_decref(r);
    h_resp_t ids;
    cr_assert_eq(h_get(url(port, "/_control/ids"), &ids), 0);
    cr_assert_str_eq(ids.body, "{\"id\":\"urn:feedsim:4:3\",\"version\":1}\n"
                               "{\"id\":\"urn:feedsim:4:4\",\"version\":1}\n"
                               "{\"id\":\"urn:feedsim:4:1\",\"version\":2}\n"
                               "{\"id\":\"urn:feedsim:4:0\",\"version\":2}\n"
                               "{\"id\":\"urn:feedsim:4:2\",\"version\":2}\n");
    h_resp_free(&ids);
}

Test(feedsim, delete_removes_item)
{
    int port;
    START(&port, "--count", "4", "--seed", "5");
    json_t *r = post_json(url(port, "/_control/delete?id=urn:feedsim:5:2"), 200);
    cr_assert_eq(iget(r, "deleted"), 1);
    cr_assert_eq(iget(r, "count"), 3);
    cr_assert_eq(iget(r, "mseq"), 5, "a delete is a modification");
    json_decref(r);
    json_t *p = get_json(url(port, "/feed"), NULL, 200);
    json_t *items = json_object_get(p, "orderedItems");
    cr_assert_eq(json_array_size(items), 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_str_neq(sget(json_array_get(items, i), "id"), "urn:feedsim:5:2");
    json_decref(p);

    r = post_json(url(port, "/_control/delete?id=urn:feedsim:5:2"), 404);
    cr_assert_str_eq(sget(r, "error"), "no such activity");
    json_decref(r);
    r = post_json(url(port, "/_control/delete?n=10"), 200);
    cr_assert_eq(iget(r, "deleted"), 3);
    cr_assert_eq(iget(r, "count"), 0);
    json_decref(r);
    json_t *s = get_json(url(port, "/_control/state?ids=1"), NULL, 200);
    cr_assert_eq(iget(s, "count"), 0);
    cr_assert_eq(json_array_size(json_object_get(s, "ids")), 0);
    json_decref(s);
}

Test(feedsim, state_lists_ids_and_counts_requests)
{
    int port;
    START(&port, "--count", "3", "--seed", "11");
    json_decref(get_json(url(port, "/feed"), NULL, 200));
    json_decref(get_json(url(port, "/feed?after=3"), NULL, 200));
    json_t *s = get_json(url(port, "/_control/state?ids=1"), NULL, 200);
    cr_assert_eq(iget(s, "count"), 3);
    cr_assert_eq(iget(s, "mseq"), 3);
    cr_assert_eq(iget(s, "requests"), 2, "control requests are not counted");
    cr_assert_eq(iget(s, "auth_failures"), 0);
    cr_assert_str_eq(sget(s, "last_authorization"), "");
    json_t *ids = json_object_get(s, "ids");
    cr_assert_eq(json_array_size(ids), 3);
    cr_assert_str_eq(json_string_value(json_array_get(ids, 2)), "urn:feedsim:11:2");
    json_decref(s);
    s = state(port);
    cr_assert_null(json_object_get(s, "ids"));
    json_decref(s);
}

/* ---- outbox style ---- */

Test(feedsim, outbox_pages_newest_first_to_the_end)
{
    int port;
    START(&port, "--style", "outbox", "--count", "5", "--page-size", "2", "--seed", "8");
    json_t *c = get_json(url(port, "/outbox"), NULL, 200);
    cr_assert_str_eq(sget(c, "type"), "OrderedCollection");
    cr_assert_eq(iget(c, "totalItems"), 5);
    char next[512];
    snprintf(next, sizeof next, "%s", sget(c, "first"));
    cr_assert_str_eq(next, url(port, "/outbox?page=true"));
    json_decref(c);

    const char *want[] = {"urn:feedsim:8:4", "urn:feedsim:8:3", "urn:feedsim:8:2", "urn:feedsim:8:1",
                          "urn:feedsim:8:0"};
    size_t k = 0;
    int pages = 0;
    for (;;) {
        json_t *p = get_json(next, NULL, 200);
        cr_assert_str_eq(sget(p, "type"), "OrderedCollectionPage");
        json_t *items = json_object_get(p, "orderedItems");
        if (json_is_object(items)) {    /* the GoToSocial quirk: one item, no array */
            cr_assert_str_eq(sget(items, "id"), want[k++]);
        } else {
            cr_assert_eq(json_array_size(items), 2);
            for (size_t i = 0; i < 2; i++)
                cr_assert_str_eq(sget(json_array_get(items, i), "id"), want[k++]);
        }
        pages++;
        const char *nx = sget(p, "next");
        if (!nx) {
            json_decref(p);
            break;
        }
        snprintf(next, sizeof next, "%s", nx);
        json_decref(p);
        cr_assert_lt(pages, 10);
    }
    cr_assert_eq(k, 5);
    cr_assert_eq(pages, 3);
}

Test(feedsim, outbox_min_id_and_update)
{
    int port;
    START(&port, "--style", "outbox", "--count", "3", "--page-size", "10", "--seed", "2");
    json_t *r = post_json(url(port, "/_control/update?id=urn:feedsim:2:0"), 200);
    json_decref(r);
    json_t *p = get_json(url(port, "/outbox?page=true"), NULL, 200);
    json_t *items = json_object_get(p, "orderedItems");
    cr_assert_eq(json_array_size(items), 3);
    cr_assert_str_eq(sget(json_array_get(items, 0), "id"), "urn:feedsim:2:0", "updated item is newest");
    cr_assert_eq(iget(json_array_get(items, 0), "feedsim:version"), 2);
    cr_assert_null(json_object_get(p, "next"));
    json_decref(p);

    r = post_json(url(port, "/_control/add?n=2"), 200);
    json_decref(r);
    p = get_json(url(port, "/outbox?page=true&min_id=4"), NULL, 200);
    items = json_object_get(p, "orderedItems");
    cr_assert_eq(json_array_size(items), 2);
    cr_assert_str_eq(sget(json_array_get(items, 0), "id"), "urn:feedsim:2:4");
    cr_assert_str_eq(sget(json_array_get(items, 1), "id"), "urn:feedsim:2:3");
    cr_assert_str_eq(sget(p, "prev"), url(port, "/outbox?page=true&min_id=6"));
    json_decref(p);
    p = get_json(url(port, "/outbox?page=true&max_id=0"), NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(p, "orderedItems")), 0);
    json_decref(p);
}

Test(feedsim, style_selects_endpoint)
{
    int port, port2;
    START(&port, "--style", "outbox", "--count", "1");
    START(&port2, "--count", "1");
    json_decref(get_json(url(port, "/feed"), NULL, 404));
    json_decref(get_json(url(port2, "/outbox"), NULL, 404));
}

/* ---- Hawk ---- */

Test(feedsim, hawk_required)
{
    int port;
    START(&port, "--count", "2", "--hawk-id", "feed-reader", "--hawk-key", "s3cr3t-key");
    const char *u = url(port, "/feed?after=0");

    h_resp_t r;
    cr_assert_eq(h_get(u, &r), 0);
    cr_assert_eq(r.status, 401);
    cr_assert(strstr(r.body, "missing Authorization header"), "%s", r.body);
    cr_assert(strstr(r.headers, "WWW-Authenticate: Hawk"), "%s", r.headers);
    h_resp_free(&r);

    char auth[600] = "Authorization: ";
    cr_assert_gt(hawk_authorization("feed-reader", "s3cr3t-key", "GET", u, NULL, NULL, 0, (int64_t)time(NULL),
                                    NULL, auth + 15, sizeof auth - 15), 0);
    const char *good[] = {auth, NULL};
    json_t *p = get_json(u, good, 200);
    cr_assert_eq(json_array_size(json_object_get(p, "orderedItems")), 2);
    json_decref(p);

    char bad[600] = "Authorization: ";
    cr_assert_gt(hawk_authorization("feed-reader", "wrong-key", "GET", u, NULL, NULL, 0, (int64_t)time(NULL),
                                    NULL, bad + 15, sizeof bad - 15), 0);
    const char *badh[] = {bad, NULL};
    json_t *e = get_json(u, badh, 401);
    cr_assert_str_eq(sget(e, "error"), "bad mac");
    json_decref(e);

    char stale[600] = "Authorization: ";
    cr_assert_gt(hawk_authorization("feed-reader", "s3cr3t-key", "GET", u, NULL, NULL, 0,
                                    (int64_t)time(NULL) - 3600, NULL, stale + 15, sizeof stale - 15), 0);
    const char *staleh[] = {stale, NULL};
    e = get_json(u, staleh, 401);
    cr_assert_str_eq(sget(e, "error"), "stale timestamp");
    json_decref(e);

    json_t *s = state(port);
    cr_assert_eq(iget(s, "auth_failures"), 3);
    cr_assert_eq(iget(s, "requests"), 4);
    cr_assert_str_eq(sget(s, "last_authorization"), stale + 15);
    json_decref(s);
}

Test(feedsim, hawk_signs_the_path_it_is_sent_to)
{
    int port;
    START(&port, "--count", "2", "--hawk-id", "id1", "--hawk-key", "k1");
    char auth[600] = "Authorization: ";
    cr_assert_gt(hawk_authorization("id1", "k1", "GET", url(port, "/feed?after=1"), NULL, NULL, 0,
                                    (int64_t)time(NULL), NULL, auth + 15, sizeof auth - 15), 0);
    const char *h[] = {auth, NULL};
    json_t *e = get_json(url(port, "/feed?after=0"), h, 401);
    cr_assert_str_eq(sget(e, "error"), "bad mac");
    json_decref(e);
    json_t *p = get_json(url(port, "/_control/state"), NULL, 200);   /* control needs no auth */
    json_decref(p);
}

/* ---- faults ---- */

Test(feedsim, fault_429_has_retry_after)
{
    int port;
    START(&port, "--count", "2", "--fault-429", "1", "--retry-after", "7");
    h_resp_t r;
    cr_assert_eq(h_get(url(port, "/feed"), &r), 0);
    cr_assert_eq(r.status, 429);
    char v[32];
    cr_assert_eq(header_value(r.headers, "Retry-After", v, sizeof v), 0, "%s", r.headers);
    cr_assert_str_eq(v, "7");
    h_resp_free(&r);

    json_decref(post_json(url(port, "/_control/fault?429=0"), 200));
    json_decref(get_json(url(port, "/feed"), NULL, 200));
}

Test(feedsim, fault_5xx_at_runtime_and_reset)
{
    int port;
    START(&port, "--count", "2");
    json_t *f = post_json(url(port, "/_control/fault?5xx=1&retry_after=3"), 200);
    cr_assert_eq(json_number_value(json_object_get(f, "5xx")), 1.0);
    cr_assert_eq(iget(f, "retry_after"), 3);
    json_decref(f);
    for (int i = 0; i < 3; i++)
        json_decref(get_json(url(port, "/feed"), NULL, 503));
    json_decref(post_json(url(port, "/_control/reset-faults"), 200));
    json_decref(get_json(url(port, "/feed"), NULL, 200));
}

Test(feedsim, fault_ratio_is_partial)
{
    int port;
    START(&port, "--count", "1", "--fault-5xx", "0.5", "--seed", "12");
    int fails = 0;
    for (int i = 0; i < 40; i++) {
        h_resp_t r;
        cr_assert_eq(h_get(url(port, "/feed"), &r), 0);
        cr_assert(r.status == 200 || r.status == 503);
        fails += r.status == 503;
        h_resp_free(&r);
    }
    cr_assert(fails > 5 && fails < 35, "%d of 40 failed at ratio 0.5", fails);
}

Test(feedsim, fault_invalid_body_is_not_json)
{
    int port;
    START(&port, "--count", "2", "--fault-invalid", "1");
    h_resp_t r;
    cr_assert_eq(h_get(url(port, "/feed"), &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_null(json_loadb(r.body, r.len, 0, NULL), "body parsed: %s", r.body);
    h_resp_free(&r);
}

Test(feedsim, fault_truncate_cuts_body)
{
    int port;
    START(&port, "--count", "20", "--fault-truncate", "1");
    h_resp_t r;
    h_http("GET", url(port, "/feed"), NULL, NULL, &r, 5000);
    cr_assert_eq(r.status, 200);
    char cl[32];
    cr_assert_eq(header_value(r.headers, "Content-Length", cl, sizeof cl), 0);
    cr_assert_gt((size_t)atol(cl), 1000);
    cr_assert_lt(r.len, (size_t)atol(cl), "got %zu of %s bytes", r.len, cl);
    cr_assert_gt(r.len, 0);
    cr_assert_null(json_loadb(r.body, r.len, 0, NULL));
    h_resp_free(&r);
}

Test(feedsim, fault_slow_delays_concurrently)
{
    int port;
    START(&port, "--count", "2", "--fault-slow", "400");
    long t0 = clock_mono_ms();
    json_decref(get_json(url(port, "/feed"), NULL, 200));
    long one = clock_mono_ms() - t0;
    cr_assert_geq(one, 390, "took %ld ms", one);

    /* Five clients at once: delayed responses do not block each other. */
    pid_t kids[5];
    t0 = clock_mono_ms();
    for (int i = 0; i < 5; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            h_resp_t r;
            int ok = h_get(url(port, "/feed"), &r) == 0 && r.status == 200;
            _exit(ok ? 0 : 1);
        }
    }
    for (int i = 0; i < 5; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    long five = clock_mono_ms() - t0;
    cr_assert_lt(five, 1500, "five concurrent slow requests took %ld ms", five);
}

/* ---- conditional GET ---- */

Test(feedsim, etag_304)
{
    int port;
    START(&port, "--count", "3");
    h_resp_t r;
    cr_assert_eq(h_get(url(port, "/feed"), &r), 0);
    char etag[96], hdr[128];
    cr_assert_eq(header_value(r.headers, "ETag", etag, sizeof etag), 0, "%s", r.headers);
    h_resp_free(&r);
    snprintf(hdr, sizeof hdr, "If-None-Match: %s", etag);
    const char *h[] = {hdr, NULL};
    cr_assert_eq(h_http("GET", url(port, "/feed"), h, NULL, &r, 5000), 0);
    cr_assert_eq(r.status, 304);
    cr_assert_eq(r.len, 0);
    h_resp_free(&r);

    json_decref(post_json(url(port, "/_control/add"), 200));
    cr_assert_eq(h_http("GET", url(port, "/feed"), h, NULL, &r, 5000), 0);
    cr_assert_eq(r.status, 200, "a change invalidates the ETag");
    char etag2[96];
    cr_assert_eq(header_value(r.headers, "ETag", etag2, sizeof etag2), 0);
    cr_assert_str_neq(etag, etag2);
    h_resp_free(&r);
}

/* ---- determinism ---- */

static char *fetch_body(int port, const char *path)
{
    const char *h[] = {"Host: feed.test", NULL};
    h_resp_t r;
    cr_assert_eq(h_http("GET", url(port, path), h, NULL, &r, 10000), 0);
    cr_assert_eq(r.status, 200);
    char *b = r.body;
    r.body = NULL;
    free(r.headers);
    return b;
}

Test(feedsim, same_seed_same_bytes)
{
    int a, b, c;
    START(&a, "--count", "300", "--seed", "42");
    START(&b, "--count", "300", "--seed", "42");
    START(&c, "--count", "300", "--seed", "43");
    const char *paths[] = {"/feed", "/feed?after=100", "/feed?after=250"};
    for (int i = 0; i < 3; i++) {
        char *x = fetch_body(a, paths[i]), *y = fetch_body(b, paths[i]), *z = fetch_body(c, paths[i]);
        cr_assert_str_eq(x, y, "page %s differs between runs", paths[i]);
        cr_assert_str_neq(x, z);
        free(x);
        free(y);
        free(z);
    }
}

/* ---- live rates ---- */

Test(feedsim, rates_add_update_delete)
{
    int port;
    START(&port, "--count", "100", "--rate", "100", "--update-rate", "50", "--delete-rate", "20");
    usleep(600 * 1000);
    json_t *s = state(port);
    long long count = iget(s, "count"), mseq = iget(s, "mseq");
    json_decref(s);
    /* ~0.6 s: ~60 added, ~30 updated, ~12 deleted (each takes one mseq). */
    cr_assert(mseq > 100 + 40, "mseq %lld", mseq);
    cr_assert(count > 100 + 20 && count < 100 + 100, "count %lld", count);
    h_resp_t ids;
    cr_assert_eq(h_get(url(port, "/_control/ids"), &ids), 0);
    cr_assert(strstr(ids.body, "\"version\":2"), "no updated item");
    h_resp_free(&ids);
}

/* ---- control errors ---- */

Test(feedsim, control_errors)
{
    int port;
    START0(&port);
    json_decref(post_json(url(port, "/_control/add?n=abc"), 400));
    json_decref(post_json(url(port, "/_control/add?n=99999999999"), 400));
    json_decref(post_json(url(port, "/_control/update?n=1&id=urn:feedsim:1:1"), 400));
    json_decref(post_json(url(port, "/_control/update?id=urn:other:1"), 404));
    json_decref(post_json(url(port, "/_control/fault?5xx=2"), 400));
    json_decref(post_json(url(port, "/_control/fault?slow=x"), 400));
    json_decref(post_json(url(port, "/_control/nope"), 404));
    json_decref(get_json(url(port, "/_control/add"), NULL, 405));
    json_decref(post_json(url(port, "/_control/state"), 405));
    json_decref(get_json(url(port, "/feed?after=x"), NULL, 400));
    h_resp_t r;
    cr_assert_eq(h_http("POST", url(port, "/feed"), NULL, "x", &r, 5000), 0);
    cr_assert_eq(r.status, 405);
    h_resp_free(&r);
    json_t *s = state(port);
    cr_assert_eq(iget(s, "count"), 1000, "default --count");
    json_decref(s);
}

/* ---- HTTP/1.1 behaviour over a raw socket ---- */

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Read exactly `want` complete responses (Content-Length framed) from fd; returns the
 * statuses in st[]. Returns the number read. */
static int read_responses(int fd, int want, int *st)
{
    static char buf[1 << 20];
    size_t len = 0;
    int got = 0;
    while (got < want) {
        char *end = memmem(buf, len, "\r\n\r\n", 4);
        if (end) {
            size_t hl = (size_t)(end - buf) + 4;
            char *cl = strcasestr(buf, "Content-Length:");
            size_t bl = cl && cl < end ? (size_t)atol(cl + 15) : 0;
            if (len >= hl + bl) {
                st[got++] = atoi(buf + 9);
                memmove(buf, buf + hl + bl, len - hl - bl);
                len -= hl + bl;
                continue;
            }
        }
        ssize_t n = recv(fd, buf + len, sizeof buf - len - 1, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
    }
    return got;
}

Test(feedsim, keepalive_pipelining)
{
    int port;
    START(&port, "--count", "50");
    int fd = connect_port(port);
    const char req[] = "GET /feed HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /feed?after=10 HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert_eq(send(fd, req, sizeof req - 1, 0), (ssize_t)sizeof req - 1);
    int st[3];
    cr_assert_eq(read_responses(fd, 3, st), 3);
    cr_assert_eq(st[0], 200);
    cr_assert_eq(st[1], 200);
    cr_assert_eq(st[2], 404);
    /* Same connection, later request with a body. */
    const char post[] = "POST /_control/add?n=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    cr_assert_eq(send(fd, post, sizeof post - 1, 0), (ssize_t)sizeof post - 1);
    cr_assert_eq(read_responses(fd, 1, st), 1);
    cr_assert_eq(st[0], 200);
    close(fd);
    json_t *s = state(port);
    cr_assert_eq(iget(s, "count"), 52);
    json_decref(s);
}

Test(feedsim, concurrent_connections_interleaved)
{
    int port;
    START(&port, "--count", "10");
    int fds[20], st[1];
    for (int i = 0; i < 20; i++)
        fds[i] = connect_port(port);
    const char part1[] = "GET /feed HTTP/1.1\r\nHo", part2[] = "st: x\r\n\r\n";
    for (int i = 0; i < 20; i++)
        cr_assert_gt(send(fds[i], part1, sizeof part1 - 1, 0), 0);
    for (int i = 19; i >= 0; i--) {
        cr_assert_gt(send(fds[i], part2, sizeof part2 - 1, 0), 0);
        cr_assert_eq(read_responses(fds[i], 1, st), 1);
        cr_assert_eq(st[0], 200);
    }
    for (int i = 0; i < 20; i++)
        close(fds[i]);
}

Test(feedsim, bad_requests_rejected)
{
    int port;
    START(&port, "--count", "1");
    const char *bad[] = {"NONSENSE\r\n\r\n", "GET /feed HTTP/2.0\r\n\r\n",
                         "POST /_control/add HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                         "POST /_control/add HTTP/1.1\r\nContent-Length: -4\r\n\r\n"};
    const int want[] = {400, 400, 501, 413};
    for (int i = 0; i < 4; i++) {
        int fd = connect_port(port), st[1];
        cr_assert_gt(send(fd, bad[i], strlen(bad[i]), 0), 0);
        cr_assert_eq(read_responses(fd, 1, st), 1, "%s", bad[i]);
        cr_assert_eq(st[0], want[i], "%s", bad[i]);
        close(fd);
    }
    /* HTTP/1.0 without keep-alive: the server closes after the response. */
    int fd = connect_port(port), st[1];
    const char r10[] = "GET /feed HTTP/1.0\r\n\r\n";
    cr_assert_gt(send(fd, r10, sizeof r10 - 1, 0), 0);
    cr_assert_eq(read_responses(fd, 1, st), 1);
    char c;
    cr_assert_eq(recv(fd, &c, 1, 0), 0, "connection left open");
    close(fd);
}

/* ---- process ---- */

Test(feedsim, sigterm_exits_zero)
{
    int port;
    pid_t pid = START(&port, "--count", "10", "--rate", "5");
    int st = h_stop(pid, SIGTERM, 3000);
    pids[--npids] = 0;
    cr_assert(WIFEXITED(st), "did not exit on SIGTERM");
    cr_assert_eq(WEXITSTATUS(st), 0);
    pid = START(&port, "--count", "10");
    st = h_stop(pid, SIGINT, 3000);
    pids[--npids] = 0;
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int run_status(char *const argv[], const char *log)
{
    pid_t pid = h_spawn(argv, log);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

Test(feedsim, command_line)
{
    const char *bin = h_feedsim_bin();
    char *dir = h_tmpdir(), log[512];
    snprintf(log, sizeof log, "%s/out", dir);
    char *help[] = {(char *)bin, "--help", NULL};
    cr_assert_eq(run_status(help, log), 0);
    char *text = h_read_file(log, NULL);
    cr_assert_not_null(text);
    const char *opts[] = {"--port", "--style", "--count", "--rate", "--page-size", "--seed", "--update-rate",
                          "--delete-rate", "--hawk-id", "--hawk-key", "--fault-5xx", "--fault-slow",
                          "--fault-truncate", "--fault-429", "--retry-after", "--fault-invalid", "--size",
                          "--start-time"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        cr_assert(strstr(text, opts[i]), "--help does not mention %s", opts[i]);
    free(text);

    char *bad1[] = {(char *)bin, "--style", "rss", NULL};
    char *bad2[] = {(char *)bin, "--fault-5xx", "1.5", NULL};
    char *bad3[] = {(char *)bin, "--hawk-id", "x", NULL};
    char *bad4[] = {(char *)bin, "--bogus", NULL};
    char *bad5[] = {(char *)bin, "--start-time", "yesterday", NULL};
    char *bad6[] = {(char *)bin, "--page-size", "0", NULL};
    cr_assert_eq(run_status(bad1, log), 2);
    cr_assert_eq(run_status(bad2, log), 2);
    cr_assert_eq(run_status(bad3, log), 2);
    cr_assert_eq(run_status(bad4, log), 2);
    cr_assert_eq(run_status(bad5, log), 2);
    cr_assert_eq(run_status(bad6, log), 2);
    h_rmdir(dir);
    free(dir);
}

Test(feedsim, logs_listening_line)
{
    char *dir = h_tmpdir(), log[512];
    snprintf(log, sizeof log, "%s/log", dir);
    int port;
    pid_t pid = track(h_start_feedsim(&port, log, "--style", "outbox", "--count", "12", NULL));
    h_stop(pid, SIGTERM, 3000);
    pids[--npids] = 0;
    char *text = h_read_file(log, NULL), want[128];
    cr_assert_not_null(text);
    snprintf(want, sizeof want, "feedsim: listening on 127.0.0.1:%d style=outbox count=12", port);
    cr_assert(strstr(text, want), "log: %s", text);
    free(text);
    h_rmdir(dir);
    free(dir);
}
