/* testenv.c -- the integration tests' usual setup (see testenv.h). */
#include "testenv.h"
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

env_t E;

void env_up_opts(const env_opts_t *o)
{
    char countbuf[16], seedbuf[16];
    memset(&E, 0, sizeof E);
    E.dir = h_tmpdir();
    cr_assert_not_null(E.dir);
    snprintf(countbuf, sizeof countbuf, "%d", o->count);
    snprintf(seedbuf, sizeof seedbuf, "%d", o->seed ? o->seed : 1);
    snprintf(E.log, sizeof E.log, "%s/log", E.dir);
    E.sim = h_start_feedsim(&E.sim_port, E.log, "--count", countbuf, "--page-size", "50", "--start-time",
                            FEEDSIM_START, "--seed", seedbuf, NULL);
    cr_assert_gt(E.sim, 0, "feedsim did not start");
    E.port = h_free_port();
    int n = snprintf(E.conf, sizeof E.conf,
             "listen: 127.0.0.1:%d\ndata_dir: %s/data\nthreads: 2\npoll_interval: 200ms\n"
             "heartbeat_interval: %s\nwrite_timeout: 5s\nmax_streams: %d\nretry: 1500ms\n"
             "cors_origins: [http://app.example]\nweb_root: web\n%s"
             "feeds:\n  - id: sim\n    url: http://127.0.0.1:%d/feed\n    poll_interval: 100ms\n"
             "    full_sync_interval: %s\n    timeout: 5s\n",
             E.port, E.dir, o->heartbeat ? o->heartbeat : "15s", o->max_streams ? o->max_streams : 100,
             o->extra ? o->extra : "", E.sim_port, o->full_sync ? o->full_sync : "10m");
    if (o->twin)
        snprintf(E.conf + n, sizeof E.conf - (size_t)n,
                 "  - id: sim2\n    url: http://127.0.0.1:%d/feed\n    poll_interval: 100ms\n"
                 "    full_sync_interval: %s\n    timeout: 5s\n", E.sim_port, o->full_sync ? o->full_sync : "10m");
    E.server = h_start_server(E.dir, E.conf, E.port, E.log);
    cr_assert_gt(E.server, 0, "server did not start");
    snprintf(E.base, sizeof E.base, "http://127.0.0.1:%d", E.port);
    snprintf(E.sim_base, sizeof E.sim_base, "http://127.0.0.1:%d", E.sim_port);
}

void env_up(int count, const char *full_sync, const char *heartbeat, int max_streams)
{
    env_opts_t o = {.count = count, .full_sync = full_sync, .heartbeat = heartbeat, .max_streams = max_streams};
    env_up_opts(&o);
}

void env_restart_server(void)
{
    int status = h_stop(E.server, SIGTERM, 8000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server did not exit 0 on SIGTERM (status %d)", status);
    E.server = h_start_server(E.dir, E.conf, E.port, E.log);
    cr_assert_gt(E.server, 0);
}

/* Also the suite's .fini, so a failed assertion leaves no process behind. */
void env_down(void)
{
    if (E.server > 0)
        h_stop(E.server, SIGTERM, 8000);
    if (E.sim > 0)
        h_stop(E.sim, SIGTERM, 3000);
    E.server = E.sim = 0;
    if (E.dir)
        h_rmdir(E.dir);
    free(E.dir);
    E.dir = NULL;
}

char *url(const char *fmt, const char *arg)
{
    static char buf[2048];
    char path[1900];
    snprintf(path, sizeof path, fmt, arg);
    snprintf(buf, sizeof buf, "%s%s", E.base, path);
    return buf;
}

void sim_post(const char *path)
{
    char u[512];
    h_resp_t r;
    snprintf(u, sizeof u, "%s%s", E.sim_base, path);
    cr_assert_eq(h_http("POST", u, NULL, NULL, &r, 5000), 0);
    cr_assert_eq(r.status, 200, "%s -> %ld %s", path, r.status, r.body);
    h_resp_free(&r);
}

/* POST path to feedsim from a child process after delay_us, while the test reads a stream.
 * Returns the child's pid, for sim_post_done. */
pid_t sim_post_later(const char *path, useconds_t delay_us)
{
    pid_t pid = fork();
    if (pid == 0) {
        char u[512];
        h_resp_t r;
        usleep(delay_us);
        snprintf(u, sizeof u, "%s%s", E.sim_base, path);
        _exit(h_http("POST", u, NULL, NULL, &r, 5000) == 0 && r.status == 200 ? 0 : 1);
    }
    return pid;
}

/* Wait for a sim_post_later child; asserts that feedsim took the POST. */
void sim_post_done(pid_t pid)
{
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "feedsim did not take the new activities");
}

/* Headers resuming after event `id` (static storage: valid until the next call). */
const char *const *resume_headers(const char *id)
{
    static char hdr[200];
    static const char *hdrs[] = {hdr, NULL};
    snprintf(hdr, sizeof hdr, "Last-Event-ID: %s", id);
    return hdrs;
}

/* Wait until /feeds reports `n` activities for feed sim. */
void wait_count(long n)
{
    long seen = -1;
    for (int i = 0; i < 400; i++) {
        h_resp_t r;
        if (h_get(url("/feeds", NULL), &r) == 0 && r.status == 200) {
            json_t *feeds = json_loads(r.body, 0, NULL), *f = json_array_get(feeds, 0);
            seen = json_integer_value(json_object_get(f, "activities"));
            json_decref(feeds);
        }
        h_resp_free(&r);
        if (seen == n)
            return;
        usleep(50000);
    }
    cr_assert_fail("store holds %ld activities, expected %ld", seen, n);
}

/* activity id and feedsim version of an event */
void event_activity(const h_event_t *e, char *id, size_t idlen, int *version)
{
    json_t *d = json_loads(e->data, 0, NULL);
    cr_assert_not_null(d, "event data is not JSON: %s", e->data);
    cr_assert_str_eq(json_string_value(json_object_get(d, "feed")), "sim", "%s", e->data);
    json_t *a = json_object_get(d, "activity");
    snprintf(id, idlen, "%s", json_string_value(json_object_get(a, "id")));
    *version = (int)json_integer_value(json_object_get(a, "feedsim:version"));
    json_decref(d);
}


json_t *source_state(void)
{
    h_resp_t r;
    char u[256];
    snprintf(u, sizeof u, "%s/_control/ids", E.sim_base);
    cr_assert_eq(h_get(u, &r), 0);
    cr_assert_eq(r.status, 200);
    json_t *state = json_object();
    char *save = NULL;
    for (char *line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(line, 0, NULL);
        cr_assert_not_null(o, "feedsim ids line: %s", line);
        json_object_set(state, json_string_value(json_object_get(o, "id")), json_object_get(o, "version"));
        json_decref(o);
    }
    h_resp_free(&r);
    return state;
}

static void apply_one(json_t *state, json_t *seen, const h_event_t *e)
{
    json_t *d = json_loads(e->data, 0, NULL);
    cr_assert_not_null(d, "event data is not JSON: %s", e->data);
    json_t *a = json_object_get(d, "activity");
    const char *id = json_string_value(json_object_get(a, "id"));
    cr_assert_not_null(id, "%s event without an activity id: %s", e->event, e->data);
    if (strcmp(e->event, "delete") == 0) {
        cr_assert_str_eq(json_string_value(json_object_get(a, "type")), "Tombstone");
        json_object_del(state, id);
    } else {
        char key[300];
        json_t *v = json_object_get(a, "feedsim:version");
        snprintf(key, sizeof key, "%s#%lld", id, (long long)json_integer_value(v));
        cr_assert_null(json_object_get(seen, key), "(%s) delivered twice", key);
        json_object_set_new(seen, key, json_true());
        json_object_set(state, id, v);
    }
    json_decref(d);
}

void state_apply(json_t *state, json_t *seen, const h_sse_t *s, int *resets)
{
    for (size_t i = 0; i < s->n; i++) {
        const h_event_t *e = &s->ev[i];
        if (strcmp(e->event, "reset") == 0) {
            json_object_clear(state);
            json_object_clear(seen);
            if (resets)
                (*resets)++;
        } else if (strcmp(e->event, "activity") == 0 || strcmp(e->event, "delete") == 0) {
            apply_one(state, seen, e);
        }
    }
}

void state_assert_equal(json_t *got, json_t *want, const char *what)
{
    const char *id;
    json_t *v;
    json_object_foreach(want, id, v) {
        json_t *g = json_object_get(got, id);
        cr_assert_not_null(g, "%s: %s missing", what, id);
        cr_assert_eq(json_integer_value(g), json_integer_value(v), "%s: %s at version %lld, source has %lld",
                     what, id, (long long)json_integer_value(g), (long long)json_integer_value(v));
    }
    json_object_foreach(got, id, v)
        cr_assert_not_null(json_object_get(want, id), "%s: %s is deleted at the source", what, id);
}
