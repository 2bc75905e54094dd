/* test_replica.c -- more than one machine, on loopback: a primary (the real server reading
 * feedsim, tests/testenv.h), replicas of it (the same binary with replicate_from) and HAProxy in
 * front (conf/haproxy.cfg). A client that reconnects at random through HAProxy (so mostly to
 * another node), across history, live, updates and deletes, while a replica is killed with -9
 * and restarted, ends in the source's state with no version twice; a new replica joins from a
 * snapshot after the primary pruned its log; an erased activity is gone from every node; a
 * replica keeps serving while its primary is down and says so; a lag over max_replica_lag makes
 * /health 503; a promotion forks the history and a replica that went further on the old one
 * starts again from a snapshot, and ids of the old history reset; a protected primary serves its
 * log only to replicas allowed `replicate`. */
#include "testenv.h"
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char dir[600], base[64], conf[2048];
    int port;
    pid_t pid;
} node_t;

static node_t R[2];
static pid_t lb;
static char lb_base[64];

static void cluster_down(void)
{
    if (lb > 0)
        h_stop(lb, SIGTERM, 3000);
    for (int i = 0; i < 2; i++)
        if (R[i].pid > 0)
            h_stop(R[i].pid, SIGTERM, 8000);
    lb = 0;
    memset(R, 0, sizeof R);
    env_down();
}

TestSuite(replica, .fini = cluster_down);

/* Start replica i of the node at `from_port` (the primary unless told otherwise). */
static void replica_up(int i, int from_port, const char *extra)
{
    node_t *n = &R[i];
    if (!n->port) {
        n->port = h_free_port();
        snprintf(n->dir, sizeof n->dir, "%s/replica%d", E.dir, i);
        mkdir(n->dir, 0755);
        snprintf(n->base, sizeof n->base, "http://127.0.0.1:%d", n->port);
    }
    char conf[sizeof n->conf];
    snprintf(conf, sizeof conf,
             "listen: 127.0.0.1:%d\ndata_dir: %s/data\nthreads: 2\npoll_interval: 200ms\nheartbeat_interval: 2s\n"
             "retry: 500ms\nweb_root: web\nreplicate_from: http://127.0.0.1:%d\n%s",
             n->port, n->dir, from_port, extra ? extra : "");
    memcpy(n->conf, conf, sizeof conf);
    n->pid = h_start_server(n->dir, n->conf, n->port, E.log);
    cr_assert_gt(n->pid, 0, "replica %d did not start", i);
}

static void node_stop(pid_t *pid, int sig)
{
    h_stop(*pid, sig, 8000);
    *pid = 0;
}

static void lb_up(void)
{
    char bind[64], n1[64], n2[64], n3[64];
    int port = h_free_port();
    snprintf(bind, sizeof bind, "127.0.0.1:%d", port);
    snprintf(n1, sizeof n1, "127.0.0.1:%d", E.port);
    snprintf(n2, sizeof n2, "127.0.0.1:%d", R[0].port);
    snprintf(n3, sizeof n3, "127.0.0.1:%d", R[1].port);
    setenv("AS_LB_BIND", bind, 1);
    setenv("AS_NODE1", n1, 1);
    setenv("AS_NODE2", n2, 1);
    setenv("AS_NODE3", n3, 1);
    char *argv[] = {"haproxy", "-db", "-f", "conf/haproxy.cfg", NULL};
    lb = h_spawn(argv, E.log);
    cr_assert_eq(h_wait_port(port, 10000), 0, "haproxy did not start (is it installed? .ci/install-deps test)");
    snprintf(lb_base, sizeof lb_base, "http://127.0.0.1:%d", port);
}

/* A node's /health as JSON (new reference), and its head. */
static json_t *health(const char *base, long *status)
{
    char u[128];
    h_resp_t r;
    snprintf(u, sizeof u, "%s/health", base);
    cr_assert_eq(h_get(u, &r), 0);
    json_t *j = json_loads(r.body, 0, NULL);
    cr_assert_not_null(j, "health: %s", r.body);
    if (status)
        *status = r.status;
    h_resp_free(&r);
    return j;
}

static long head_of(const char *base)
{
    json_t *j = health(base, NULL);
    long h = (long)json_integer_value(json_object_get(j, "head"));
    json_decref(j);
    return h;
}

/* Wait until the replica's head reaches the primary's (within 20 s). */
static void caught_up(const node_t *n, const char *primary)
{
    for (int i = 0; i < 400; i++) {
        if (head_of(n->base) >= head_of(primary))
            return;
        usleep(50000);
    }
    cr_assert_fail("%s did not catch up with %s", n->base, primary);
}

static long metric(const char *base, const char *name)
{
    char u[128];
    snprintf(u, sizeof u, "%s/metrics", base);
    return h_metric(u, NULL, name);
}

/* Read a stream from `base` resuming after `id`, apply it to the client's state. */
static void read_some(const char *base, char *id, size_t idlen, size_t max_events, long ms, json_t *state,
                      json_t *seen, int *resets)
{
    char u[256];
    snprintf(u, sizeof u, "%s/stream?start=0", base);
    h_sse_t s = {0};
    h_sse_read(u, id[0] ? resume_headers(id) : NULL, max_events, NULL, ms, &s);
    cr_assert_eq(s.status, 200, "%s answered %ld", base, s.status);
    state_apply(state, seen, &s, resets);
    if (s.last_id[0])
        snprintf(id, idlen, "%s", s.last_id);
    h_sse_free(&s);
}

Test(replica, a_client_moving_between_nodes_gets_everything_once, .timeout = 180)
{
    env_up(200, "700ms", "15s", 100);
    wait_count(200);
    replica_up(0, E.port, NULL);
    replica_up(1, E.port, NULL);
    caught_up(&R[0], E.base);
    caught_up(&R[1], E.base);
    lb_up();
    json_t *state = json_object(), *seen = json_object();
    char id[128] = "";
    int resets = 0;
    srand(7);
    for (int round = 0; round < 18; round++) {
        if (round % 3 == 1)
            sim_post("/_control/add?n=6");
        if (round % 3 == 2)
            sim_post("/_control/update?n=4");
        if (round == 5 || round == 11)
            sim_post("/_control/delete?n=2");
        if (round == 6)
            node_stop(&R[0].pid, SIGKILL);   /* mid-apply, whatever it was doing */
        if (round == 9)
            replica_up(0, E.port, NULL);
        read_some(lb_base, id, sizeof id, 1 + (size_t)(rand() % 80), 1500, state, seen, &resets);
    }
    caught_up(&R[0], E.base);
    caught_up(&R[1], E.base);
    read_some(lb_base, id, sizeof id, 0, 3000, state, seen, &resets);
    cr_assert_eq(resets, 0, "a move between nodes of one cluster never resets");
    json_t *src = source_state();
    state_assert_equal(state, src, "client through HAProxy");
    json_decref(src);
    json_decref(state);
    json_decref(seen);
}

/* The whole history a node serves (a finite stream from 0), read with headers (or NULL). */
static h_sse_t history_of(const char *base, const char *const *headers)
{
    char u[256];
    h_sse_t s = {0};
    snprintf(u, sizeof u, "%s/stream?start=0&end=now", base);
    h_sse_read(u, headers, 0, NULL, 10000, &s);
    return s;
}

/* The same history and the same ids on every node: a history read from each is identical. */
static void assert_same_history(const char *a, const char *b)
{
    h_sse_t x = history_of(a, NULL), y = history_of(b, NULL);
    cr_assert_eq(x.n, y.n, "%s has %zu events, %s %zu", a, x.n, b, y.n);
    for (size_t i = 0; i + 1 < x.n; i++) {   /* (the end events' ids carry each node's head) */
        cr_assert_str_eq(x.ev[i].id, y.ev[i].id);
        cr_assert_str_eq(x.ev[i].data, y.ev[i].data);
    }
    h_sse_free(&x);
    h_sse_free(&y);
}

Test(replica, a_new_replica_joins_from_a_snapshot_after_pruning, .timeout = 120)
{
    env_opts_t o = {.count = 50, .seed = 7, .full_sync = "1s",
                    .extra = "version_retention: 0s\ntombstone_retention: 1s\n"};
    env_up_opts(&o);
    wait_count(50);
    sim_post("/_control/update?n=10");
    sim_post("/_control/delete?n=3");
    wait_count(47);
    for (int i = 0; i < 100 && metric(E.base, "as_store_tombstone_horizon_seq") <= 0; i++)
        usleep(100000);
    cr_assert_gt(metric(E.base, "as_store_tombstone_horizon_seq"), 0, "the primary pruned its log");
    replica_up(0, E.port, NULL);
    caught_up(&R[0], E.base);
    for (int i = 0; i < 50 && metric(R[0].base, "as_replica_snapshots_total") < 1; i++)
        usleep(100000);   /* counted just after the snapshot's head shows */
    cr_assert_geq(metric(R[0].base, "as_replica_snapshots_total"), 1, "a new replica starts from a snapshot");
    assert_same_history(E.base, R[0].base);
    sim_post("/_control/add?n=5");   /* and then follows */
    wait_count(52);
    caught_up(&R[0], E.base);
    assert_same_history(E.base, R[0].base);
    cr_assert_eq(metric(R[0].base, "as_store_low_water_seq"), metric(E.base, "as_store_low_water_seq"));
}

Test(replica, an_erased_activity_is_gone_from_every_node, .timeout = 120)
{
    env_opts_t o = {.count = 20, .seed = 7, .full_sync = "1s"};
    env_up_opts(&o);
    wait_count(20);
    replica_up(0, E.port, NULL);
    replica_up(1, E.port, NULL);
    sim_post("/_control/update?id=urn:feedsim:7:3");
    sim_post("/_control/delete?id=urn:feedsim:7:3");
    wait_count(19);
    const char *bases[] = {E.base, R[0].base, R[1].base};
    for (int i = 0; i < 3; i++) {
        if (i)
            caught_up(&R[i - 1], E.base);
        char u[256];
        h_sse_t s = {0};
        snprintf(u, sizeof u, "%s/stream?start=0", bases[i]);
        h_sse_read(u, resume_headers("l0"), 0, "live", 10000, &s);
        for (size_t k = 0; k < s.n; k++)
            cr_assert_null(strstr(s.ev[k].data, "urn:feedsim:7:3:note"), "%s sends the erased activity", bases[i]);
        h_sse_free(&s);
        h_resp_t r;
        snprintf(u, sizeof u, "%s/activities/_search", bases[i]);
        cr_assert_eq(h_http("POST", u, NULL, "{\"size\":100}", &r, 10000), 0);
        cr_assert_null(strstr(r.body, "urn:feedsim:7:3:note"), "%s finds the erased activity", bases[i]);
        h_resp_free(&r);
    }
}

Test(replica, health_reports_disconnection_and_lag, .timeout = 90)
{
    env_up(20, "10m", "15s", 100);
    wait_count(20);
    replica_up(0, E.port, NULL);
    replica_up(1, E.port, "max_replica_lag: 1ms\n");
    caught_up(&R[0], E.base);
    long status;
    json_t *h = health(R[0].base, &status);
    cr_assert_eq(status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(h, "replication")), "connected");
    json_decref(h);
    for (int i = 0; i < 100; i++) {   /* a lag over 1 ms: no new clients */
        h = health(R[1].base, &status);
        json_decref(h);
        if (status == 503)
            break;
        usleep(50000);
    }
    cr_assert_eq(status, 503, "a replica lagging over max_replica_lag answers 503");
    node_stop(&E.server, SIGTERM);   /* the primary goes down */
    for (int i = 0; i < 100; i++) {
        h = health(R[0].base, &status);
        const char *rep = json_string_value(json_object_get(h, "replication"));
        int down = rep && strcmp(rep, "disconnected") == 0;
        if (down)
            cr_assert(json_is_string(json_object_get(h, "since")));
        json_decref(h);
        if (down)
            break;
        usleep(100000);
    }
    cr_assert_eq(status, 200, "a replica whose primary is down stays in rotation");
    h_sse_t s = history_of(R[0].base, NULL);
    cr_assert_eq(h_sse_count(&s, "activity"), 20, "and keeps serving what it has");
    h_sse_free(&s);
    E.server = h_start_server(E.dir, E.conf, E.port, E.log);   /* back: it follows again */
    sim_post("/_control/add?n=3");
    wait_count(23);
    caught_up(&R[0], E.base);
    cr_assert_geq(metric(R[0].base, "as_replica_reconnects_total"), 1);
}

/* A primary that stops answering with its connection open (frozen) is noticed like one that
 * went away: after 3 s of silence the replica says "disconnected" and stays in rotation (200,
 * never the lag's 503), then follows again once the primary wakes. A new replica's snapshot
 * followed by the log is no reconnection. And a person or a tool may read the log: without
 * `chain` no history is claimed, so it streams from any `after` the log still holds. */
Test(replica, a_frozen_primary_is_a_disconnection_and_the_log_reads_without_a_chain, .timeout = 90)
{
    env_up(20, "10m", "15s", 100);
    wait_count(20);
    replica_up(0, E.port, NULL);
    caught_up(&R[0], E.base);
    cr_assert_eq(metric(R[0].base, "as_replica_reconnects_total"), 0, "snapshot, then the log: no reconnection");
    char u[256];
    snprintf(u, sizeof u, "%s/_replication?after=%ld", E.base, head_of(E.base) - 1);
    h_sse_t log = {0};
    h_sse_read(u, NULL, 0, NULL, 1500, &log);
    cr_assert_eq(log.status, 200, "the log without chain= -> %ld", log.status);
    cr_assert(log.headers && strcasestr(log.headers, "application/octet-stream"), "%s", log.headers);
    h_sse_free(&log);
    snprintf(u, sizeof u, "%s/_replication?after=0", E.base);
    h_resp_t r;
    cr_assert_eq(h_get(u, &r), 0);
    cr_assert_eq(r.status, 409);
    cr_assert(strstr(r.body, "\"reason\":\"new\""), "%s", r.body);
    h_resp_free(&r);

    cr_assert_eq(kill(E.server, SIGSTOP), 0);
    int down = 0, refused = 0;
    char since[64] = "";
    for (int i = 0; i < 100 && !down; i++) {   /* 10 s at most; 3 s of silence is the rule */
        long status;
        json_t *h = health(R[0].base, &status);
        const char *rep = json_string_value(json_object_get(h, "replication"));
        refused |= status != 200;
        down = rep && strcmp(rep, "disconnected") == 0;
        if (down && json_is_string(json_object_get(h, "since")))
            snprintf(since, sizeof since, "%s", json_string_value(json_object_get(h, "since")));
        json_decref(h);
        usleep(100000);
    }
    /* the silent transfer is abandoned at curl's next progress call, about a second later */
    for (int i = 0; i < 50 && metric(R[0].base, "as_replica_reconnects_total") < 1; i++)
        usleep(100000);
    kill(E.server, SIGCONT);
    cr_assert(down, "a frozen primary counts as a disconnection");
    cr_assert(since[0], "and says since when");
    cr_assert_not(refused, "a replica whose primary is silent stays in rotation (200)");
    sim_post("/_control/add?n=3");
    wait_count(23);
    caught_up(&R[0], E.base);
    json_t *h = health(R[0].base, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(h, "replication")), "connected");
    json_decref(h);
    cr_assert_geq(metric(R[0].base, "as_replica_reconnects_total"), 1);
}

/* The primary is lost; replica 0 (which had fallen behind) becomes the primary; replica 1 had
 * gone further on the old history: following the new primary it must start from a snapshot,
 * never merge. Ids of the old history reset on the new one. */
Test(replica, a_promotion_forks_and_a_diverged_replica_starts_again, .timeout = 150)
{
    env_opts_t o = {.count = 30, .seed = 7, .full_sync = "10m"};
    env_up_opts(&o);
    wait_count(30);
    replica_up(0, E.port, NULL);
    replica_up(1, E.port, NULL);
    caught_up(&R[0], E.base);
    caught_up(&R[1], E.base);
    node_stop(&R[0].pid, SIGTERM);
    sim_post("/_control/add?n=5");   /* only the primary and replica 1 see these */
    wait_count(35);
    caught_up(&R[1], E.base);
    char u[256], old_id[128];
    h_sse_t s = {0};
    snprintf(u, sizeof u, "%s/stream?start=0", R[1].base);
    h_sse_read(u, NULL, 0, "live", 10000, &s);
    snprintf(old_id, sizeof old_id, "%s", s.last_id);
    h_sse_free(&s);
    node_stop(&E.server, SIGTERM);
    /* promotion: replica 0's store, with the feeds and without replicate_from */
    char conf[4096];
    snprintf(conf, sizeof conf,
             "listen: 127.0.0.1:%d\ndata_dir: %s/data\nthreads: 2\npoll_interval: 200ms\nweb_root: web\n"
             "feeds:\n  - id: sim\n    url: http://127.0.0.1:%d/feed\n    poll_interval: 100ms\n"
             "    full_sync_interval: 10m\n",
             R[0].port, R[0].dir, E.sim_port);
    R[0].pid = h_start_server(R[0].dir, conf, R[0].port, E.log);
    cr_assert_gt(R[0].pid, 0);
    sim_post("/_control/add?n=2");
    for (int i = 0; i < 200 && head_of(R[0].base) <= 40; i++)
        usleep(50000);
    node_stop(&R[1].pid, SIGTERM);
    long before = metric(R[0].base, "as_replica_snapshots_total");
    cr_assert_eq(before, -1, "the promoted node is a primary");
    replica_up(1, R[0].port, NULL);
    /* its head may already be past the new primary's: the heads alone do not say it followed */
    for (int i = 0; i < 400 && metric(R[1].base, "as_replica_snapshots_total") < 1; i++)
        usleep(50000);
    cr_assert_geq(metric(R[1].base, "as_replica_snapshots_total"), 1, "the diverged replica took a snapshot");
    caught_up(&R[1], R[0].base);
    assert_same_history(R[0].base, R[1].base);
    h_sse_read(u, resume_headers(old_id), 1, NULL, 5000, &s);   /* u: replica 1 */
    cr_assert_str_eq(s.ev[0].event, "reset", "an id of the old history is not this one's");
    h_sse_free(&s);
}

/* Access control: the primary serves its log only to clients allowed `replicate`; a replica
 * with other credentials is refused and says why; a replica given the same auth block serves
 * the same scopes. */
#define AUTH_BLOCK                                                                  \
    "auth:\n  clients:\n"                                                           \
    "    - id: replica\n      token: replica-token-0123456789\n      allow: [replicate]\n" \
    "    - id: reader\n      token: reader-token-0123456789\n      allow: [stream, search]\n"

static long status_of(const char *u, const char *const *headers)
{
    h_resp_t r;
    cr_assert_eq(h_http("GET", u, headers, NULL, &r, 10000), 0);
    long st = r.status;
    h_resp_free(&r);
    return st;
}

Test(replica, only_clients_allowed_to_replicate_follow_a_protected_primary, .timeout = 90)
{
    env_opts_t o = {.count = 20, .seed = 5, .extra = AUTH_BLOCK};
    env_up_opts(&o);
    for (int i = 0; i < 400 && head_of(E.base) < 20; i++)   /* /health needs no credentials */
        usleep(50000);
    char u[256];
    const char *reader[] = {"Authorization: Bearer reader-token-0123456789", NULL};
    snprintf(u, sizeof u, "%s/_replication?after=0", E.base);
    cr_assert_eq(status_of(u, NULL), 401, "no credentials");
    cr_assert_eq(status_of(u, reader), 403, "a reader may not replicate");
    replica_up(0, E.port, AUTH_BLOCK "replicate_auth: {type: bearer, token: replica-token-0123456789}\n");
    replica_up(1, E.port, "replicate_auth: {type: bearer, token: reader-token-0123456789}\n");
    caught_up(&R[0], E.base);
    h_sse_t s = history_of(R[0].base, reader);
    cr_assert_eq(h_sse_count(&s, "activity"), 20, "the replica serves the reader what the primary would");
    h_sse_free(&s);
    snprintf(u, sizeof u, "%s/stream?start=0&end=now", R[0].base);
    cr_assert_eq(status_of(u, NULL), 401, "and refuses a client without credentials, as its primary");
    int refused = 0;
    for (int i = 0; i < 100 && !refused; i++) {
        char *text = h_read_file(E.log, NULL);
        refused = text && strstr(text, "refused this replica (HTTP 403): check replicate_auth");
        free(text);
        if (!refused)
            usleep(100000);
    }
    cr_assert(refused, "the refused replica says why in its log");
    cr_assert_eq(head_of(R[1].base), 0, "and copies nothing");
}

/* Wait until `log` holds `needle` at least `times` times (within 30 s). */
static void wait_log(const char *log, const char *needle, int times)
{
    int seen = 0;
    for (int i = 0; i < 300 && seen < times; i++) {
        char *text = h_read_file(log, NULL);
        seen = 0;
        for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
            seen++;
        free(text);
        if (seen < times)
            usleep(100000);
    }
    cr_assert_geq(seen, times, "'%s' %d times in %s", needle, times, log);
}

/* A primary whose snapshot is corrupt, cut short, or no store at all (tests/integration/
 * fakeprimary.py, each in turn): the replica refuses each, keeps its store and serves it, and
 * tries again. */
Test(replica, a_corrupt_or_truncated_snapshot_leaves_the_store_as_it_was, .timeout = 120)
{
    env_up(20, "10m", "15s", 100);
    wait_count(20);
    replica_up(0, E.port, NULL);
    caught_up(&R[0], E.base);
    node_stop(&R[0].pid, SIGTERM);
    char fake_log[700];
    snprintf(fake_log, sizeof fake_log, "%s/fake.log", E.dir);
    int fake_port = h_free_port();
    char port_arg[16];
    snprintf(port_arg, sizeof port_arg, "%d", fake_port);
    char *argv[] = {"python3", "tests/integration/fakeprimary.py", port_arg, NULL};
    pid_t fake = h_spawn(argv, fake_log);
    cr_assert_gt(fake, 0);
    cr_assert_eq(h_wait_port(fake_port, 10000), 0, "the fake primary did not start");
    replica_up(0, fake_port, NULL);
    wait_log(fake_log, "snapshot 4:", 1);   /* the three kinds, then a fourth try */
    h_stop(fake, SIGTERM, 3000);
    char *text = h_read_file(E.log, NULL);
    cr_assert(text && strstr(text, "refused: its SHA-256 is not the one announced"), "the corrupt one");
    cr_assert(strstr(text, "after 65536 of 131072 bytes; keeping the store as it is"), "the truncated one");
    cr_assert(strstr(text, "installing the snapshot failed"), "the one that is no store");
    free(text);
    cr_assert_eq(head_of(R[0].base), 20, "the replica keeps its store");
    h_sse_t s = history_of(R[0].base, NULL);
    cr_assert_eq(h_sse_count(&s, "activity"), 20, "and serves it");
    h_sse_free(&s);
}

/* A replica that runs out of disk (here: a file-size limit, so that the test needs no full disk)
 * stops replicating with a clear error and keeps serving what it has; the primary goes on. */
Test(replica, a_replica_out_of_disk_stops_with_a_clear_error, .timeout = 120)
{
    env_up(20, "10m", "15s", 100);
    wait_count(20);
    node_t *n = &R[0];
    n->port = h_free_port();
    snprintf(n->dir, sizeof n->dir, "%s/replica0", E.dir);
    mkdir(n->dir, 0755);
    snprintf(n->base, sizeof n->base, "http://127.0.0.1:%d", n->port);
    char conf_path[700], conf[1024];
    snprintf(conf_path, sizeof conf_path, "%s/server.conf", n->dir);
    snprintf(conf, sizeof conf, "listen: 127.0.0.1:%d\ndata_dir: %s/data\nthreads: 1\nweb_root: web\n"
             "replicate_from: http://127.0.0.1:%d\n", n->port, n->dir, E.port);
    cr_assert_eq(h_write_file(conf_path, conf), 0);
    char *argv[] = {"bash", "-c", "ulimit -f 1024 && exec \"$0\" --config \"$1\"", (char *)h_server_bin(), conf_path,
                    NULL};   /* files up to 1 MiB */
    n->pid = h_spawn(argv, E.log);
    cr_assert_eq(h_wait_port(n->port, 20000), 0);
    caught_up(n, E.base);
    sim_post("/_control/add?n=4000");   /* several MiB: more than the replica may write */
    wait_log(E.log, "applying the primary's changes failed", 1);
    wait_count(4020);
    cr_assert_eq(head_of(E.base) >= 4020, 1, "the primary goes on");
    long head = head_of(n->base);
    cr_assert_lt(head, head_of(E.base));
    char *text = h_read_file(E.log, NULL);
    cr_assert(strstr(text, "no room on disk"), "the cause is named");
    free(text);
    h_sse_t s = history_of(n->base, NULL);
    cr_assert_geq(h_sse_count(&s, "activity"), 20, "the replica serves what it has");
    cr_assert(s.ended);
    h_sse_free(&s);
    long status;
    json_decref(health(n->base, &status));
    cr_assert_eq(kill(n->pid, 0), 0, "and is still running");
}
