/* test_ingest.c -- the ingest thread against bin/feedsim (and a tiny static file server for
 * the invalid AS2 fixtures): full sync, polls, updates, deletions, failed syncs, Retry-After,
 * backoff, Hawk, kill -9 and restart, conditional GETs, size limits, status JSON.
 * Ingest runs in-process with a config built in code; the store is inspected directly and
 * compared with feedsim's /_control/ids. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "config.h"
#include "clock.h"
#include "harness.h"
#include "ingest.h"
#include "store.h"
#include "timefmt.h"

#define MAX_FEEDS 16

typedef struct {
    char *dir;
    store_t *st;
    ingest_t *ing;
    config_t cfg;
    config_feed_t feed[MAX_FEEDS];
    char url[MAX_FEEDS][256];
    char id[MAX_FEEDS][64];
    size_t nfeeds;
    pid_t sim[MAX_FEEDS];
    int port[MAX_FEEDS];
    size_t nsims;
} rig_t;

/* ---- helpers ---- */

static void sleep_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
}

static void rig_open(rig_t *r)
{
    char err[256];
    memset(r, 0, sizeof *r);
    r->dir = h_tmpdir();
    cr_assert(r->dir, "tmpdir");
    cr_assert_eq(store_open(&r->st, r->dir, 0, err, sizeof err), 0, "store_open: %s", err);
}

/* Start feedsim on a free port with extra arguments; returns its index in the rig. */
#define rig_sim(r, ...) rig_sim_(r, __VA_ARGS__, (char *)NULL)
static size_t rig_sim_(rig_t *r, const char *a0, ...)
{
    char *argv[32], port[16], log[600];
    size_t n = 0, i = r->nsims++;
    const char *bin = getenv("AS_FEEDSIM") && *getenv("AS_FEEDSIM") ? getenv("AS_FEEDSIM")
                                                                     : "bin/feedsim";
    r->port[i] = h_free_port();
    snprintf(port, sizeof port, "%d", r->port[i]);
    snprintf(log, sizeof log, "%s/feedsim-%zu.log", r->dir, i);
    argv[n++] = (char *)bin;
    argv[n++] = "--port";
    argv[n++] = port;
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a && n < 31; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    r->sim[i] = h_spawn(argv, log);
    cr_assert(r->sim[i] > 0 && h_wait_port(r->port[i], 10000) == 0, "feedsim did not start");
    return i;
}

/* Add a feed with test-friendly defaults; returns it for tweaking. */
static config_feed_t *rig_feed(rig_t *r, const char *id, const char *url)
{
    cr_assert(r->nfeeds < MAX_FEEDS);
    size_t i = r->nfeeds++;
    snprintf(r->id[i], sizeof r->id[i], "%s", id);
    snprintf(r->url[i], sizeof r->url[i], "%s", url);
    r->feed[i] = (config_feed_t){
        .id = r->id[i], .url = r->url[i], .style = FEED_STYLE_ACTIVITY_STREAM,
        .poll_interval_ms = 100, .full_sync_interval_ms = 3600000, .timeout_ms = 5000,
        .connect_timeout_ms = 2000, .max_page_bytes = 64ull << 20,
    };
    return &r->feed[i];
}

static config_feed_t *rig_sim_feed(rig_t *r, const char *id, size_t sim, const char *path)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", r->port[sim], path);
    return rig_feed(r, id, url);
}

static void rig_start(rig_t *r)
{
    r->cfg.data_dir = r->dir;
    r->cfg.feeds = r->feed;
    r->cfg.nfeeds = r->nfeeds;
    cr_assert_eq(ingest_start(&r->ing, &r->cfg, r->st), 0, "ingest_start");
}

static void rig_close(rig_t *r)
{
    ingest_stop(r->ing);
    r->ing = NULL;
    store_close(r->st);
    r->st = NULL;
    for (size_t i = 0; i < r->nsims; i++)
        h_stop(r->sim[i], SIGTERM, 2000);
    r->nsims = 0;
    h_rmdir(r->dir);
    free(r->dir);
    r->dir = NULL;
}

/* Each test process has one rig. It is not on the test's stack, since the ingest thread may
 * outlive a failed assertion, and the suite's fini closes it whatever happened. */
static rig_t r;

static void rig_teardown(void)
{
    if (r.dir)
        rig_close(&r);
}

TestSuite(ingest, .fini = rig_teardown);

/* The status object of one feed (new reference). */
static json_t *feed_status(ingest_t *ing, const char *id)
{
    char *s = ingest_feeds_json(ing);
    cr_assert(s, "ingest_feeds_json");
    json_t *arr = json_loads(s, 0, NULL), *v, *found = NULL;
    free(s);
    cr_assert(json_is_array(arr), "feeds JSON is an array");
    size_t i;
    json_array_foreach(arr, i, v)
        if (strcmp(json_string_value(json_object_get(v, "id")), id) == 0)
            found = json_incref(v);
    json_decref(arr);
    cr_assert(found, "feed %s in the status", id);
    return found;
}

static const char *status_str(json_t *st, const char *key)
{
    return json_string_value(json_object_get(st, key));
}

static json_int_t status_int(json_t *st, const char *key)
{
    return json_integer_value(json_object_get(st, key));
}

static const char *error_msg(json_t *st)
{
    const char *m = json_string_value(json_object_get(json_object_get(st, "last_error"), "message"));
    return m ? m : "";
}

static ingest_feed_metrics_t metrics_of(ingest_t *ing, const char *id)
{
    ingest_feed_metrics_t m[MAX_FEEDS];
    size_t n = ingest_metrics(ing, m, MAX_FEEDS);
    for (size_t i = 0; i < n && i < MAX_FEEDS; i++)
        if (strcmp(m[i].id, id) == 0)
            return m[i];
    cr_assert_fail("no metrics for %s", id);
    return m[0];
}

static int wait_full_syncs(ingest_t *ing, const char *id, uint64_t n, int timeout_ms)
{
    int64_t end = clock_mono_ms() + timeout_ms;
    while (clock_mono_ms() < end) {
        if (metrics_of(ing, id).full_syncs >= n)
            return 0;
        sleep_ms(20);
    }
    return -1;
}

/* Wait until the feed's status satisfies pred. */
typedef int status_pred_fn(json_t *st, const void *arg);
static json_t *wait_status(ingest_t *ing, const char *id, status_pred_fn *pred, const void *arg,
                           int timeout_ms)
{
    int64_t end = clock_mono_ms() + timeout_ms;
    for (;;) {
        json_t *st = feed_status(ing, id);
        if (pred(st, arg) || clock_mono_ms() >= end)
            return st;
        json_decref(st);
        sleep_ms(20);
    }
}

static int has_error(json_t *st, const void *arg)
{
    return json_object_get(st, "last_error") != NULL && !json_is_null(json_object_get(st, "last_error"));
}

static int is_failing(json_t *st, const void *arg)
{
    return strcmp(status_str(st, "state"), "failing") == 0;
}

static int settled(json_t *st, const void *arg)
{
    return has_error(st, arg) || !json_is_null(json_object_get(st, "last_full_sync"));
}

static h_resp_t sim_call(rig_t *r, size_t sim, const char *method, const char *path)
{
    char url[256];
    h_resp_t resp;
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", r->port[sim], path);
    cr_assert_eq(h_http(method, url, NULL, NULL, &resp, 5000), 0, "%s %s", method, path);
    cr_assert_eq(resp.status, 200, "%s %s: HTTP %ld %s", method, path, resp.status, resp.body);
    return resp;
}

static void sim_post(rig_t *r, size_t sim, const char *path)
{
    h_resp_t resp = sim_call(r, sim, "POST", path);
    h_resp_free(&resp);
}

static json_t *sim_state(rig_t *r, size_t sim)
{
    h_resp_t resp = sim_call(r, sim, "GET", "/_control/state");
    json_t *j = json_loads(resp.body, 0, NULL);
    h_resp_free(&resp);
    cr_assert(json_is_object(j), "state JSON");
    return j;
}

static json_int_t sim_requests(rig_t *r, size_t sim)
{
    json_t *j = sim_state(r, sim);
    json_int_t n = json_integer_value(json_object_get(j, "requests"));
    json_decref(j);
    return n;
}

/* {id: version} of the source. */
static json_t *source_versions(rig_t *r, size_t sim)
{
    h_resp_t resp = sim_call(r, sim, "GET", "/_control/ids");
    json_t *out = json_object();
    for (char *line = strtok(resp.body, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *o = json_loads(line, 0, NULL);
        cr_assert(json_is_object(o), "ids line: %s", line);
        json_object_set(out, json_string_value(json_object_get(o, "id")),
                        json_object_get(o, "version"));
        json_decref(o);
    }
    h_resp_free(&resp);
    return out;
}

typedef struct {
    const char *feed;
    json_t *out;
} scan_ctx_t;

static int collect_version(const store_rec_t *rec, void *ud)
{
    scan_ctx_t *c = ud;
    if (rec->feed_len != strlen(c->feed) || memcmp(rec->feed, c->feed, rec->feed_len) != 0)
        return 0;
    json_t *a = json_loadb(rec->json, rec->json_len, 0, NULL);
    cr_assert(a, "stored JSON parses");
    char *id = strndup(rec->id, rec->id_len);
    json_object_set(c->out, id, json_object_get(a, "feedsim:version"));
    free(id);
    json_decref(a);
    return 0;
}

/* {id: version} of what the store holds for `feed`. */
static json_t *store_versions(store_t *st, const char *feed)
{
    scan_ctx_t c = {feed, json_object()};
    store_tpos_t from = {INT64_MIN, 0};
    cr_assert(store_scan_time(st, from, INT64_MAX, 0, 0, collect_version, &c, NULL) >= 0);
    return c.out;
}

static int store_matches_source(rig_t *r, const char *feed, size_t sim)
{
    json_t *a = source_versions(r, sim), *b = store_versions(r->st, feed);
    int eq = json_equal(a, b);
    json_decref(a);
    json_decref(b);
    return eq;
}

static int wait_matches(rig_t *r, const char *feed, size_t sim, int timeout_ms)
{
    int64_t end = clock_mono_ms() + timeout_ms;
    do {
        if (store_matches_source(r, feed, sim))
            return 0;
        sleep_ms(50);
    } while (clock_mono_ms() < end);
    return -1;
}

/* Change-log census: upserts per "id#version", deletes. */
typedef struct {
    json_t *per_version;
    size_t upserts, deletes;
} census_t;

static int count_change(const store_rec_t *rec, void *ud)
{
    census_t *c = ud;
    if (rec->kind == STORE_REC_DELETE) {
        c->deletes++;
        return 0;
    }
    c->upserts++;
    json_t *a = json_loadb(rec->json, rec->json_len, 0, NULL);
    char key[512];
    snprintf(key, sizeof key, "%.*s#%lld", (int)rec->id_len, rec->id,
             (long long)json_integer_value(json_object_get(a, "feedsim:version")));
    json_decref(a);
    json_int_t n = json_integer_value(json_object_get(c->per_version, key));
    json_object_set_new(c->per_version, key, json_integer(n + 1));
    return 0;
}

static census_t census(store_t *st)
{
    census_t c = {json_object(), 0, 0};
    cr_assert(store_scan_changes(st, 0, 0, 0, count_change, &c, NULL) >= 0);
    return c;
}

/* Every (id, version) has exactly one upsert entry. */
static void assert_no_duplicate_changes(const census_t *c)
{
    const char *key;
    json_t *v;
    json_object_foreach(c->per_version, key, v)
        cr_assert_eq(json_integer_value(v), 1, "%s has %lld upsert entries", key,
                     (long long)json_integer_value(v));
}

/* ---- a static file server ----
 * Serves files under `root`; keeps every raw request. Special paths: /loop redirects to
 * itself, /redirect-to/X redirects to /X, /to-file redirects to a file:// URL, and X.gz.json
 * is sent gzip-encoded when the client accepts it. */

#define FILES_MAX_REQS 256

typedef struct {
    int fd, port;
    char root[512];
    atomic_int stop;
    pthread_t thread;
    pthread_mutex_t mu;
    char *reqs[FILES_MAX_REQS]; /* owned raw requests */
    size_t nreqs;
} files_t;

static void send_all(int c, const void *p, size_t n)
{
    if (send(c, p, n, MSG_NOSIGNAL) < 0)
        return;
}

static void files_redirect(int c, const char *location)
{
    char head[1024];
    int n = snprintf(head, sizeof head, "HTTP/1.1 302 Found\r\nLocation: %s\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n", location);
    send_all(c, head, (size_t)n);
}

/* gzip `in` into `out` (cap bytes); returns the length. */
static size_t gzip_buf(const char *in, size_t len, char *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = z.total_out;
    deflateEnd(&z);
    return n;
}

static void files_send_file(files_t *fs, int c, const char *name, int gzip)
{
    static char body[1 << 20], packed[1 << 20];
    char path[1024], head[256];
    snprintf(path, sizeof path, "%s/%s", fs->root, name);
    FILE *f = name[0] && !strstr(name, "..") ? fopen(path, "rb") : NULL;
    if (!f) {
        const char *nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        send_all(c, nf, strlen(nf));
        return;
    }
    size_t len = fread(body, 1, sizeof body, f);
    fclose(f);
    const char *data = body;
    if (gzip) {
        len = gzip_buf(body, len, packed, sizeof packed);
        data = packed;
    }
    int hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      "%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
                      gzip ? "Content-Encoding: gzip\r\n" : "", len);
    send_all(c, head, (size_t)hl);
    send_all(c, data, len);
}

static void files_serve(files_t *fs, int c)
{
    char req[8192], name[512] = "";
    ssize_t n = recv(c, req, sizeof req - 1, 0);
    if (n <= 0)
        return;
    req[n] = '\0';
    pthread_mutex_lock(&fs->mu);
    if (fs->nreqs < FILES_MAX_REQS)
        fs->reqs[fs->nreqs++] = strdup(req);
    pthread_mutex_unlock(&fs->mu);
    if (sscanf(req, "GET /%511s ", name) != 1)
        name[0] = '\0';
    size_t len = strlen(name);
    if (strcmp(name, "loop") == 0)
        files_redirect(c, "/loop");
    else if (strcmp(name, "to-file") == 0)
        files_redirect(c, "file:///etc/hostname");
    else if (strncmp(name, "redirect-to/", 12) == 0)
        files_redirect(c, name + 11);
    else
        files_send_file(fs, c, name, len > 8 && strcmp(name + len - 8, ".gz.json") == 0 &&
                                         strstr(req, "gzip"));
}

static void *files_main(void *arg)
{
    files_t *fs = arg;
    while (!atomic_load(&fs->stop)) {
        struct pollfd p = {fs->fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(fs->fd, NULL, NULL);
        if (c < 0)
            continue;
        files_serve(fs, c);
        close(c);
    }
    return NULL;
}

/* fs must not live on a test's stack: the thread may outlive a failed assertion. */
static void files_start(files_t *fs, const char *root)
{
    memset(fs, 0, sizeof *fs);
    pthread_mutex_init(&fs->mu, NULL);
    snprintf(fs->root, sizeof fs->root, "%s", root);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    fs->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fs->fd >= 0);
    cr_assert_eq(bind(fs->fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fs->fd, 64), 0);
    getsockname(fs->fd, (struct sockaddr *)&a, &len);
    fs->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&fs->thread, NULL, files_main, fs), 0);
}

static void files_stop(files_t *fs)
{
    atomic_store(&fs->stop, 1);
    pthread_join(fs->thread, NULL);
    close(fs->fd);
    for (size_t i = 0; i < fs->nreqs; i++)
        free(fs->reqs[i]);
}

/* The first request received for "GET /<name> " (copy; caller frees), or NULL. */
static char *files_request(files_t *fs, const char *name)
{
    char line[600];
    char *found = NULL;
    snprintf(line, sizeof line, "GET /%s ", name);
    pthread_mutex_lock(&fs->mu);
    for (size_t i = 0; i < fs->nreqs && !found; i++)
        if (strncmp(fs->reqs[i], line, strlen(line)) == 0)
            found = strdup(fs->reqs[i]);
    pthread_mutex_unlock(&fs->mu);
    return found;
}

static size_t files_count(files_t *fs, const char *name)
{
    char line[600];
    size_t n = 0;
    snprintf(line, sizeof line, "GET /%s ", name);
    pthread_mutex_lock(&fs->mu);
    for (size_t i = 0; i < fs->nreqs; i++)
        n += strncmp(fs->reqs[i], line, strlen(line)) == 0;
    pthread_mutex_unlock(&fs->mu);
    return n;
}

static void write_doc(const char *dir, const char *name, const char *json)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(h_write_file(path, json), 0, "write %s", path);
}

static config_feed_t *files_feed(rig_t *r, files_t *fs, const char *id, const char *path)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/%s", fs->port, path);
    return rig_feed(r, id, url);
}

/* ---- full sync, polls, updates, deletions ---- */

Test(ingest, full_sync_equals_source)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "2500", "--page-size", "100");
    rig_sim_feed(&r, "demo", s, "/feed");
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "demo", 1, 8000), 0, "first full sync finished");
    cr_assert(store_matches_source(&r, "demo", s), "store equals the source");
    cr_assert_eq(store_feed_count(r.st, "demo"), 2500);

    json_t *st = feed_status(r.ing, "demo");
    cr_assert_str_eq(status_str(st, "state"), "ok");
    cr_assert_str_eq(status_str(st, "style"), "activity-stream");
    cr_assert_str_eq(status_str(st, "url"), r.url[0]);
    cr_assert_eq(status_int(st, "activities"), 2500);
    json_t *last = json_object_get(st, "last_full_sync");
    cr_assert(json_is_object(last));
    cr_assert_eq(json_integer_value(json_object_get(last, "pages")), 26, "25 full pages + the empty last");
    cr_assert_eq(json_integer_value(json_object_get(last, "activities")), 2500);
    cr_assert(json_is_string(json_object_get(last, "started")));
    cr_assert(json_is_string(json_object_get(last, "finished")));
    cr_assert(json_is_integer(json_object_get(last, "duration_ms")));
    cr_assert(json_is_null(json_object_get(st, "last_error")));
    cr_assert(json_is_null(json_object_get(st, "next_retry")));
    cr_assert_eq(status_int(st, "consecutive_failures"), 0);
    cr_assert_eq(status_int(st, "skipped_items"), 0);
    cr_assert(status_int(st, "pages_fetched") >= 26);
    cr_assert(status_int(st, "bytes_fetched") > 2500 * 300);
    json_decref(st);

    census_t c = census(r.st);
    cr_assert_eq(c.upserts, 2500, "one change entry per activity");
    cr_assert_eq(c.deletes, 0);
    json_decref(c.per_version);
    ingest_feed_metrics_t m = metrics_of(r.ing, "demo");
    cr_assert_eq(m.activities_written, 2500);
    cr_assert_eq(m.state, 1);
    cr_assert(ingest_healthy(r.ing));
    rig_close(&r);
}

Test(ingest, poll_picks_up_new_items)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "1000", "--page-size", "100");
    rig_sim_feed(&r, "demo", s, "/feed");
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "demo", 1, 8000), 0);
    sim_post(&r, s, "/_control/add?n=150");
    cr_assert_eq(wait_matches(&r, "demo", s, 5000), 0, "the poll brought the new items");
    cr_assert_eq(store_feed_count(r.st, "demo"), 1150);
    cr_assert_eq(metrics_of(r.ing, "demo").full_syncs, 1, "no second full sync was needed");
    json_t *st = feed_status(r.ing, "demo");
    cr_assert(json_is_string(json_object_get(st, "last_poll")), "last_poll is set");
    json_decref(st);
    rig_close(&r);
}

Test(ingest, updates_replace_with_one_change_each)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "1000", "--page-size", "100");
    rig_sim_feed(&r, "demo", s, "/feed");
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "demo", 1, 8000), 0);
    uint64_t head0 = store_head(r.st);
    sim_post(&r, s, "/_control/update?n=7");
    cr_assert_eq(wait_matches(&r, "demo", s, 5000), 0, "updates arrived");
    cr_assert_eq(store_feed_count(r.st, "demo"), 1000, "updates replace, they do not add");
    sleep_ms(500); /* several more polls of unchanged pages */
    cr_assert_eq(store_head(r.st) - head0, 7, "one change entry per update, none for re-polls");
    census_t c = census(r.st);
    assert_no_duplicate_changes(&c);
    json_decref(c.per_version);
    rig_close(&r);
}

Test(ingest, deletions_disappear_after_full_sync)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "1000", "--page-size", "100");
    rig_sim_feed(&r, "demo", s, "/feed")->full_sync_interval_ms = 300;
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "demo", 1, 8000), 0);
    sim_post(&r, s, "/_control/delete?n=10");
    cr_assert_eq(wait_matches(&r, "demo", s, 6000), 0, "deleted items are gone");
    cr_assert_eq(store_feed_count(r.st, "demo"), 990);
    census_t c = census(r.st);
    cr_assert_eq(c.deletes, 10, "one tombstone per deletion");
    json_decref(c.per_version);
    rig_close(&r);
}

Test(ingest, restart_with_unchanged_source_adds_no_changes)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "800", "--page-size", "100");
    rig_sim_feed(&r, "demo", s, "/feed");
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "demo", 1, 8000), 0);
    uint64_t head = store_head(r.st);
    ingest_stop(r.ing);
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "demo", 1, 8000), 0, "a full sync runs at start");
    cr_assert_eq(store_head(r.st), head, "nothing new: no change entries");
    json_t *st = feed_status(r.ing, "demo");
    cr_assert_eq(status_int(st, "activities"), 800);
    json_decref(st);
    rig_close(&r);
}

Test(ingest, a_changed_feed_url_replaces_the_old_source)
{
    rig_open(&r);
    size_t a = rig_sim(&r, "--count", "300", "--page-size", "100", "--seed", "1");
    size_t b = rig_sim(&r, "--count", "200", "--page-size", "100", "--seed", "2");
    config_feed_t *f = rig_sim_feed(&r, "demo", a, "/feed");
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "demo", 1, 8000), 0);
    ingest_stop(r.ing);
    snprintf(r.url[0], sizeof r.url[0], "http://127.0.0.1:%d/feed", r.port[b]);
    f->url = r.url[0];
    json_int_t before = sim_requests(&r, a);
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "demo", 1, 8000), 0);
    cr_assert(store_matches_source(&r, "demo", b), "the new source replaced the old one");
    sleep_ms(300);
    cr_assert_eq(sim_requests(&r, a), before, "the old source's poll URL was dropped");
    rig_close(&r);
}

Test(ingest, conditional_get_on_the_polled_page)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "300", "--page-size", "100");
    rig_sim_feed(&r, "demo", s, "/feed");
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "demo", 1, 8000), 0);
    sleep_ms(200);
    json_t *a = feed_status(r.ing, "demo");
    sleep_ms(800);
    json_t *b = feed_status(r.ing, "demo");
    cr_assert(status_int(b, "pages_fetched") >= status_int(a, "pages_fetched") + 4, "polls ran");
    cr_assert_eq(status_int(b, "bytes_fetched"), status_int(a, "bytes_fetched"),
                 "unchanged polls are 304 Not Modified, without a body");
    json_decref(a);
    json_decref(b);
    rig_close(&r);
}

Test(ingest, outbox_full_sync_and_poll)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--style", "outbox", "--count", "1050", "--page-size", "100");
    rig_sim_feed(&r, "masto", s, "/outbox")->style = FEED_STYLE_OUTBOX;
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "masto", 1, 8000), 0);
    cr_assert(store_matches_source(&r, "masto", s), "outbox full sync equals the source");
    sim_post(&r, s, "/_control/add?n=30");
    sim_post(&r, s, "/_control/update?n=5");
    cr_assert_eq(wait_matches(&r, "masto", s, 5000), 0, "the poll of `first` brought changes");
    cr_assert_eq(metrics_of(r.ing, "masto").full_syncs, 1);
    json_t *st = feed_status(r.ing, "masto");
    cr_assert_str_eq(status_str(st, "style"), "outbox");
    cr_assert_eq(status_int(st, "skipped_items"), 0);
    json_decref(st);
    census_t c = census(r.st);
    assert_no_duplicate_changes(&c);
    cr_assert_eq(c.upserts, 1050 + 30 + 5);
    json_decref(c.per_version);
    rig_close(&r);
}

/* ---- failures ---- */

Test(ingest, failed_sync_deletes_nothing)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "2000", "--page-size", "100");
    rig_sim_feed(&r, "demo", s, "/feed")->full_sync_interval_ms = 300;
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "demo", 1, 8000), 0);
    sim_post(&r, s, "/_control/fault?slow=100");
    sim_post(&r, s, "/_control/delete?n=50");
    /* let a sync get going, then fail every request mid-way */
    json_int_t req0 = sim_requests(&r, s);
    int64_t end = clock_mono_ms() + 5000;
    while (sim_requests(&r, s) < req0 + 4 && clock_mono_ms() < end)
        sleep_ms(20);
    sim_post(&r, s, "/_control/fault?5xx=1&slow=0");
    json_t *st = wait_status(r.ing, "demo", is_failing, NULL, 3000);
    cr_assert_str_eq(status_str(st, "state"), "failing");
    cr_assert(strstr(error_msg(st), "HTTP 503 from http://127.0.0.1:"), "error: %s", error_msg(st));
    cr_assert(status_int(st, "consecutive_failures") >= 1);
    cr_assert(json_is_string(json_object_get(st, "next_retry")));
    json_decref(st);
    sleep_ms(1000);
    cr_assert_eq(store_feed_count(r.st, "demo"), 2000, "a failed sync deletes nothing");
    cr_assert_eq(census(r.st).deletes, 0);
    sim_post(&r, s, "/_control/reset-faults");
    cr_assert_eq(wait_matches(&r, "demo", s, 8000), 0, "after recovery the deletions arrive");
    st = wait_status(r.ing, "demo", settled, NULL, 100);
    cr_assert_eq(status_int(st, "activities"), 1950);
    json_decref(st);
    rig_close(&r);
}

Test(ingest, retry_after_is_honoured)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "200", "--page-size", "100", "--fault-429", "1",
                       "--retry-after", "3");
    rig_sim_feed(&r, "demo", s, "/feed");
    rig_start(&r);
    json_t *st = wait_status(r.ing, "demo", has_error, NULL, 3000);
    cr_assert(strstr(error_msg(st), "HTTP 429"), "error: %s", error_msg(st));
    const char *at = status_str(json_object_get(st, "last_error"), "at");
    const char *retry = status_str(st, "next_retry");
    int64_t at_us, retry_us;
    cr_assert(at && retry);
    cr_assert_eq(timefmt_parse_rfc3339(at, strlen(at), &at_us, NULL), 0);
    cr_assert_eq(timefmt_parse_rfc3339(retry, strlen(retry), &retry_us, NULL), 0);
    cr_assert(retry_us - at_us > 2900000 && retry_us - at_us < 3100000, "next retry in 3 s");
    json_decref(st);
    sleep_ms(2300);
    cr_assert_eq(sim_requests(&r, s), 1, "no request before Retry-After has passed");
    sim_post(&r, s, "/_control/reset-faults");
    cr_assert_eq(wait_full_syncs(r.ing, "demo", 1, 4000), 0, "the retry after 3 s succeeded");
    rig_close(&r);
}

Test(ingest, errors_back_off_exponentially)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "200", "--fault-5xx", "1");
    rig_sim_feed(&r, "demo", s, "/feed");
    rig_start(&r);
    sleep_ms(2900);
    json_int_t n = sim_requests(&r, s);
    /* attempts at 0, [0.5,1], [1.5,3], [3.5,7] s: two or three within 2.9 s */
    cr_assert(n >= 2 && n <= 3, "%lld requests in 2.9 s", (long long)n);
    json_t *st = feed_status(r.ing, "demo");
    cr_assert_str_eq(status_str(st, "state"), "failing");
    json_int_t fails = status_int(st, "consecutive_failures"); /* the last may be in flight */
    cr_assert(fails >= n - 1 && fails <= n, "%lld failures, %lld requests", (long long)fails,
              (long long)n);
    json_decref(st);
    rig_close(&r);
}

Test(ingest, failing_feed_does_not_stop_the_other)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "1500", "--page-size", "100");
    char dead[128];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d/feed", h_free_port());
    rig_feed(&r, "dead", dead);
    rig_sim_feed(&r, "live", s, "/feed");
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "live", 1, 8000), 0);
    cr_assert(store_matches_source(&r, "live", s));
    json_t *st = wait_status(r.ing, "dead", has_error, NULL, 3000);
    cr_assert_str_eq(status_str(st, "state"), "failing");
    cr_assert(strstr(error_msg(st), "connection refused fetching http://127.0.0.1:"),
              "error: %s", error_msg(st));
    cr_assert_eq(status_int(st, "activities"), 0);
    json_decref(st);
    rig_close(&r);
}

Test(ingest, page_larger_than_the_limit_is_a_feed_error)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "500", "--page-size", "100");
    rig_sim_feed(&r, "demo", s, "/feed")->max_page_bytes = 10000;
    rig_start(&r);
    json_t *st = wait_status(r.ing, "demo", has_error, NULL, 3000);
    cr_assert(strstr(error_msg(st), "page larger than 10000 bytes"), "error: %s", error_msg(st));
    cr_assert_str_eq(status_str(st, "state"), "failing");
    json_decref(st);
    cr_assert_eq(store_feed_count(r.st, "demo"), 0);
    rig_close(&r);
}

Test(ingest, invalid_and_truncated_bodies_are_feed_errors)
{
    rig_open(&r);
    size_t a = rig_sim(&r, "--count", "300", "--fault-invalid", "1");
    size_t b = rig_sim(&r, "--count", "300", "--fault-truncate", "1");
    rig_sim_feed(&r, "invalid", a, "/feed");
    rig_sim_feed(&r, "truncated", b, "/feed");
    rig_start(&r);
    json_t *st = wait_status(r.ing, "invalid", has_error, NULL, 3000);
    cr_assert(strstr(error_msg(st), "not JSON: "), "error: %s", error_msg(st));
    cr_assert(strstr(error_msg(st), " at line "), "error names the position: %s", error_msg(st));
    json_decref(st);
    st = wait_status(r.ing, "truncated", has_error, NULL, 3000);
    cr_assert(strstr(error_msg(st), "connection closed early") || strstr(error_msg(st), "not JSON"),
              "error: %s", error_msg(st));
    json_decref(st);
    rig_close(&r);
}

Test(ingest, unreachable_host_times_out_with_a_clear_error)
{
    rig_open(&r);
    /* a listening socket that never answers: the request times out */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(fd, 8), 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/feed", ntohs(sa.sin_port));
    rig_feed(&r, "silent", url)->timeout_ms = 300;
    rig_start(&r);
    json_t *st = wait_status(r.ing, "silent", has_error, NULL, 3000);
    cr_assert(strstr(error_msg(st), "timeout after 300 ms fetching http://127.0.0.1:"),
              "error: %s", error_msg(st));
    json_decref(st);
    rig_close(&r);
    close(fd);
}

/* ---- Hawk ---- */

Test(ingest, hawk_header_is_verified_by_the_source)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "500", "--page-size", "100", "--hawk-id", "demo",
                       "--hawk-key", "s3cret-key");
    config_feed_t *f = rig_sim_feed(&r, "demo", s, "/feed");
    f->auth = (config_auth_t){.type = AUTH_HAWK, .id = "demo", .key = "s3cret-key"};
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "demo", 1, 8000), 0);
    cr_assert(store_matches_source(&r, "demo", s));
    json_t *state = sim_state(&r, s);
    cr_assert_eq(json_integer_value(json_object_get(state, "auth_failures")), 0);
    cr_assert(strncmp(json_string_value(json_object_get(state, "last_authorization")), "Hawk ", 5) == 0);
    json_decref(state);
    rig_close(&r);
}

Test(ingest, hawk_with_a_wrong_key_is_a_feed_error)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "500", "--hawk-id", "demo", "--hawk-key", "s3cret-key");
    config_feed_t *f = rig_sim_feed(&r, "demo", s, "/feed");
    f->auth = (config_auth_t){.type = AUTH_HAWK, .id = "demo", .key = "wrong-key"};
    rig_start(&r);
    json_t *st = wait_status(r.ing, "demo", has_error, NULL, 3000);
    cr_assert(strstr(error_msg(st), "HTTP 401 from http://127.0.0.1:"), "error: %s", error_msg(st));
    cr_assert_str_eq(status_str(st, "state"), "failing");
    cr_assert_eq(status_int(st, "activities"), 0);
    json_decref(st);
    rig_close(&r);
}

/* ---- kill -9 ---- */

static void run_child_ingest(const char *dir, const char *url)
{
    char err[256];
    store_t *st;
    ingest_t *ing;
    config_feed_t f = {.id = "demo", .url = (char *)url, .poll_interval_ms = 100,
                       .full_sync_interval_ms = 3600000, .timeout_ms = 5000,
                       .connect_timeout_ms = 2000, .max_page_bytes = 64ull << 20};
    config_t cfg = {.data_dir = (char *)dir, .feeds = &f, .nfeeds = 1};
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (store_open(&st, dir, 0, err, sizeof err) < 0 || ingest_start(&ing, &cfg, st) < 0)
        _exit(2);
    sleep(30);
    _exit(0);
}

Test(ingest, kill_9_mid_sync_then_restart_gives_the_same_store)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "3000", "--page-size", "100", "--fault-slow", "40");
    config_feed_t *f = rig_sim_feed(&r, "demo", s, "/feed");
    store_close(r.st); /* the child owns the store until it dies */
    r.st = NULL;
    pid_t child = fork();
    cr_assert(child >= 0);
    if (child == 0)
        run_child_ingest(r.dir, f->url);
    int64_t end = clock_mono_ms() + 6000;
    while (sim_requests(&r, s) < 10 && clock_mono_ms() < end)
        sleep_ms(10);
    kill(child, SIGKILL);
    int status;
    waitpid(child, &status, 0);
    cr_assert(WIFSIGNALED(status), "the child was killed mid-sync");
    /* the source moves on while the server is down */
    sim_post(&r, s, "/_control/update?n=20");
    sim_post(&r, s, "/_control/add?n=10");
    sim_post(&r, s, "/_control/fault?slow=0");

    char err[256];
    cr_assert_eq(store_open(&r.st, r.dir, 0, err, sizeof err), 0, "reopen: %s", err);
    uint64_t kept = store_feed_count(r.st, "demo");
    cr_assert(kept > 0 && kept < 3000, "the killed sync had committed some pages (%llu)",
              (unsigned long long)kept);
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "demo", 1, 8000), 0);
    cr_assert(store_matches_source(&r, "demo", s), "same final store as an uninterrupted run");
    census_t c = census(r.st);
    assert_no_duplicate_changes(&c);
    cr_assert_eq(c.deletes, 0);
    /* 3010 activities, and the 20 updated ones (the oldest, stored before the kill) twice */
    cr_assert_eq(c.upserts, 3030, "%zu upserts", c.upserts);
    json_decref(c.per_version);
    rig_close(&r);
}

/* ---- documents ---- */

typedef struct {
    const char *file;
    const char *error;      /* expected in last_error, or NULL: accepted */
    int skipped;            /* expected skipped_items when accepted */
} fixture_case_t;

Test(ingest, invalid_fixtures_give_clear_feed_errors)
{
    static const fixture_case_t cases[] = {
        {"fedify-fixture_wrong-type.json", "not an Activity Streams collection or page: no type", 0},
        {"npm-activitystrea.ms_test_underscore-context.json", "not an Activity Streams collection or page: no type", 0},
        {"w3c_empty.json", "not an Activity Streams collection or page: no type", 0},
        {"w3c_fail_array-at-top.json", "not an Activity Streams page: top level is an array", 0},
        {"w3c_fail_bad-character-set.json", "not JSON: ", 0},
        {"w3c_fail_number-as-id.json", "not an Activity Streams collection or page: type 'Note'", 0},
        {"w3c_fail_number-at-top.json", "not JSON: ", 0},
        {"w3c_fail_ordered-collection-with-non-page-first.json", "not an Activity Streams page: first", 0},
        {"w3c_fail_other-context.json", "not an Activity Streams collection or page: no type", 0},
        {"w3c_fail_relative-uri-for-url.json", "not an Activity Streams collection or page: type 'Image'", 0},
        /* accepted on purpose (DIT sends Collection + orderedItems); the items lack ids */
        {"w3c_fail_ordered-collection-with-items.json", NULL, 2},
        {"w3c_fail_unordered-collection-with-ordered-items.json", NULL, 2},
    };
    size_t n = sizeof cases / sizeof cases[0];
    const char *fixtures = getenv("AS_FIXTURES") ? getenv("AS_FIXTURES") : "tests/fixtures";
    char root[512];
    snprintf(root, sizeof root, "%s/as2/invalid", fixtures);
    static files_t fs;
    files_start(&fs, root);
    rig_open(&r);
    for (size_t i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "f%zu", i);
        files_feed(&r, &fs, id, cases[i].file);
    }
    rig_start(&r);
    for (size_t i = 0; i < n; i++) {
        json_t *st = wait_status(r.ing, r.id[i], settled, NULL, 5000);
        if (cases[i].error) {
            cr_assert(strstr(error_msg(st), cases[i].error), "%s: error '%s', expected '%s'",
                      cases[i].file, error_msg(st), cases[i].error);
            cr_assert(strstr(error_msg(st), cases[i].file), "the error names the URL");
            cr_assert_str_eq(status_str(st, "state"), "failing");
        } else {
            cr_assert(json_is_null(json_object_get(st, "last_error")), "%s: %s", cases[i].file,
                      error_msg(st));
            /* each poll of the page skips them again */
            cr_assert(status_int(st, "skipped_items") >= cases[i].skipped, "%s", cases[i].file);
            const char *why = json_string_value(
                json_object_get(json_object_get(st, "last_skipped"), "message"));
            cr_assert(why && strstr(why, "item 0: "), "%s: skip reason %s", cases[i].file, why);
        }
        json_decref(st);
    }
    rig_close(&r);
    files_stop(&fs);
}

/* ---- HTTP details ---- */

static int synced(json_t *st, const void *arg)
{
    return !json_is_null(json_object_get(st, "last_full_sync"));
}

Test(ingest, requests_carry_auth_headers_user_agent_and_encodings)
{
    static files_t fs;
    rig_open(&r);
    const char *page = "{\"type\":\"Collection\",\"orderedItems\":[{\"id\":\"urn:x:1\"}]}";
    write_doc(r.dir, "bearer.json", page);
    write_doc(r.dir, "basic.json", page);
    write_doc(r.dir, "headers.gz.json", page);
    files_start(&fs, r.dir);
    files_feed(&r, &fs, "bearer", "bearer.json")->auth =
        (config_auth_t){.type = AUTH_BEARER, .token = "t0ken"};
    files_feed(&r, &fs, "basic", "basic.json")->auth =
        (config_auth_t){.type = AUTH_BASIC, .user = "u", .password = "p"};
    config_header_t extra[] = {{"X-Extra", "v1"}, {"X-Other", "v2"}};
    config_feed_t *h = files_feed(&r, &fs, "headers", "headers.gz.json");
    h->headers = extra;
    h->nheaders = 2;
    rig_start(&r);
    const char *ids[] = {"bearer", "basic", "headers"};
    for (int i = 0; i < 3; i++) {
        json_t *st = wait_status(r.ing, ids[i], synced, NULL, 5000);
        cr_assert(synced(st, NULL), "%s synced: %s", ids[i], error_msg(st));
        cr_assert_eq(status_int(st, "activities"), 1, "%s", ids[i]);
        json_decref(st);
    }
    char *req = files_request(&fs, "bearer.json");
    cr_assert(req && strstr(req, "Authorization: Bearer t0ken\r\n"), "%s", req);
    cr_assert(strstr(req, "User-Agent: activity-stream/0.1.0\r\n"), "%s", req);
    cr_assert(strstr(req, "Accept-Encoding: ") && strstr(req, "gzip") && strstr(req, "deflate"), "%s", req);
    cr_assert(strstr(req, "Accept: application/activity+json"), "%s", req);
    free(req);
    req = files_request(&fs, "basic.json");
    cr_assert(req && strstr(req, "Authorization: Basic dTpw\r\n"), "%s", req);
    free(req);
    req = files_request(&fs, "headers.gz.json");
    cr_assert(req && strstr(req, "X-Extra: v1\r\n") && strstr(req, "X-Other: v2\r\n"), "%s", req);
    cr_assert(!strstr(req, "Authorization:"), "no auth configured: %s", req);
    free(req);
    rig_close(&r);
    files_stop(&fs);
}

Test(ingest, relative_links_embedded_pages_and_self_links)
{
    static files_t fs;
    rig_open(&r);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/sub", r.dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    /* activity-stream: relative next links, ending with an empty page */
    write_doc(r.dir, "a1.json", "{\"type\":\"Collection\",\"orderedItems\":[{\"id\":\"urn:a\"},"
                                "{\"type\":\"Note\"}],\"next\":\"sub/a2.json\"}");
    write_doc(r.dir, "sub/a2.json", "{\"type\":\"Collection\",\"orderedItems\":[{\"id\":\"urn:b\"}],"
                                    "\"next\":\"../a3.json\"}");
    write_doc(r.dir, "a3.json", "{\"type\":\"Collection\",\"orderedItems\":[]}");
    /* outbox: `first` embedded, then a page whose next points at itself */
    write_doc(r.dir, "outbox.json",
              "{\"type\":\"OrderedCollection\",\"first\":{\"type\":\"OrderedCollectionPage\","
              "\"orderedItems\":[{\"id\":\"urn:x1\"}],\"next\":\"p2.json\"}}");
    write_doc(r.dir, "p2.json", "{\"type\":\"OrderedCollectionPage\",\"orderedItems\":"
                                "{\"id\":\"urn:x2\"},\"next\":\"p2.json\"}");
    files_start(&fs, r.dir);
    files_feed(&r, &fs, "as", "redirect-to/a1.json");
    files_feed(&r, &fs, "ob", "outbox.json")->style = FEED_STYLE_OUTBOX;
    rig_start(&r);
    json_t *st = wait_status(r.ing, "as", synced, NULL, 5000);
    cr_assert(synced(st, NULL), "as: %s", error_msg(st));
    cr_assert_eq(status_int(st, "activities"), 2);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(st, "last_full_sync"), "pages")), 3);
    cr_assert_eq(status_int(st, "skipped_items"), 1);
    const char *why = json_string_value(json_object_get(json_object_get(st, "last_skipped"), "message"));
    cr_assert(why && strstr(why, "item 1: ") && strstr(why, "/a1.json"), "%s", why);
    json_decref(st);
    st = wait_status(r.ing, "ob", synced, NULL, 5000);
    cr_assert(synced(st, NULL), "ob: %s", error_msg(st));
    cr_assert_eq(status_int(st, "activities"), 2);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(st, "last_full_sync"), "pages")), 2);
    json_decref(st);
    /* the activity-stream polls go to the last page, resolved against the redirect */
    sleep_ms(400);
    cr_assert(files_count(&fs, "a3.json") >= 3, "the last page is polled");
    cr_assert_eq(files_count(&fs, "a1.json"), 1, "the first page is not");
    rig_close(&r);
    files_stop(&fs);
}

Test(ingest, repolled_items_without_times_make_no_new_versions)
{
    static files_t fs;
    rig_open(&r);
    /* DIT pages carry items without `published`: they are dated at ingest, and re-reading
     * them unchanged must not create versions or events */
    write_doc(r.dir, "last.json", "{\"type\":\"Collection\",\"orderedItems\":["
                                  "{\"id\":\"dit:1:create\",\"type\":\"Create\"},"
                                  "{\"id\":\"dit:2:create\",\"published\":\"2024-05-01T10:00:00Z\"}]}");
    files_start(&fs, r.dir);
    files_feed(&r, &fs, "dit", "last.json");
    rig_start(&r);
    cr_assert_eq(wait_full_syncs(r.ing, "dit", 1, 5000), 0);
    sleep_ms(600);
    cr_assert(files_count(&fs, "last.json") >= 4, "the page was polled again");
    census_t c = census(r.st);
    cr_assert_eq(c.upserts, 2, "one change entry per item, none for re-reads (%zu)", c.upserts);
    json_decref(c.per_version);
    rig_close(&r);
    files_stop(&fs);
}

Test(ingest, redirect_loops_and_other_schemes_are_feed_errors)
{
    static files_t fs;
    rig_open(&r);
    files_start(&fs, r.dir);
    files_feed(&r, &fs, "loop", "loop");
    files_feed(&r, &fs, "tofile", "to-file");
    files_feed(&r, &fs, "missing", "missing.json");
    rig_feed(&r, "ftp", "ftp://127.0.0.1/feed");
    rig_start(&r);
    json_t *st = wait_status(r.ing, "loop", has_error, NULL, 5000);
    cr_assert(strstr(error_msg(st), "more than 5 redirects fetching http://127.0.0.1:"), "%s", error_msg(st));
    json_decref(st);
    st = wait_status(r.ing, "tofile", has_error, NULL, 5000);
    cr_assert(strstr(error_msg(st), "file"), "%s", error_msg(st));
    cr_assert_str_eq(status_str(st, "state"), "failing");
    json_decref(st);
    st = wait_status(r.ing, "missing", has_error, NULL, 5000);
    cr_assert(strstr(error_msg(st), "HTTP 404 from http://127.0.0.1:"), "%s", error_msg(st));
    json_decref(st);
    st = wait_status(r.ing, "ftp", has_error, NULL, 5000);
    cr_assert(strstr(error_msg(st), "ftp://127.0.0.1/feed"), "%s", error_msg(st));
    json_decref(st);
    rig_close(&r);
    files_stop(&fs);
}

Test(ingest, start_refuses_an_overlong_feed_id)
{
    rig_open(&r);
    char id[300];
    memset(id, 'x', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    rig_feed(&r, "ok", "http://127.0.0.1:9/feed");
    config_feed_t *f = rig_feed(&r, "long", "http://127.0.0.1:9/feed");
    f->id = id;
    r.cfg.feeds = r.feed;
    r.cfg.nfeeds = r.nfeeds;
    cr_assert_eq(ingest_start(&r.ing, &r.cfg, r.st), -1);
    cr_assert_null(r.ing);
    rig_close(&r);
}

/* ---- lifecycle ---- */

Test(ingest, stop_is_prompt_while_requests_are_in_flight)
{
    rig_open(&r);
    size_t s = rig_sim(&r, "--count", "500", "--fault-slow", "3000");
    rig_sim_feed(&r, "demo", s, "/feed");
    rig_start(&r);
    sleep_ms(200);
    cr_assert(ingest_healthy(r.ing));
    int64_t t0 = clock_mono_ms();
    ingest_stop(r.ing);
    r.ing = NULL;
    cr_assert(clock_mono_ms() - t0 < 1000, "stop took %lld ms", (long long)(clock_mono_ms() - t0));
    rig_close(&r);
}

Test(ingest, no_feeds_and_null_stop)
{
    rig_open(&r);
    rig_start(&r);
    char *s = ingest_feeds_json(r.ing);
    cr_assert_str_eq(s, "[]");
    free(s);
    ingest_feed_metrics_t m[1];
    cr_assert_eq(ingest_metrics(r.ing, m, 1), 0);
    ingest_stop(NULL);
    rig_close(&r);
}
