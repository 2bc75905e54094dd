/* test_load.c -- load: many streams at once, from the load client (tests/loadclient.c: one
 * epoll thread in this process, HTTP/1.0) against AS_SERVER (`make test` gives the ASan build).
 *
 * 10,000 idle streams, no feeds, held 3 s: every stream must have got `retry:` and the `live`
 * event and still be open, the server must be alive, and with the streams still open it must
 * exit 0 within 5 s of SIGTERM.
 * Churn: of 90 live streams fed by feedsim, 30 leave with a FIN and 30 with a reset, then come
 * back with Last-Event-ID: each receives every change exactly once, in order. */
#include "clock.h"
#include "harness.h"
#include "loadclient.h"
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define STREAMS 10000
#define HOLD_MS 3000
#define OPEN_TIMEOUT_MS 90000
#define STOP_WITHIN_MS 5000
#define SERVER_YAML "listen: 127.0.0.1:%d\ndata_dir: %s/data\nthreads: 2\nmax_streams: %d\nweb_root: %s\n"

static struct {
    char *dir;                   /* owned */
    pid_t server, sim;           /* 0: none (stopped, or reaped) */
    lc_t *cl;                    /* owned */
    char log[512];
} L;

/* The suite's .fini, so a failed assertion leaves no process behind. */
static void load_down(void)
{
    lc_free(L.cl);
    L.cl = NULL;
    if (L.server > 0)
        h_stop(L.server, SIGKILL, 1000);
    if (L.sim > 0)
        h_stop(L.sim, SIGKILL, 1000);
    L.server = L.sim = 0;
    h_rmdir(L.dir);
    free(L.dir);
    L.dir = NULL;
}

TestSuite(load, .fini = load_down);

/* The last bytes of the server's log (static storage), for failure messages. */
static const char *log_tail(void)
{
    static char tail[2048];
    size_t len = 0;
    char *text = h_read_file(L.log, &len);
    snprintf(tail, sizeof tail, "%s", text ? text + (len > sizeof tail - 1 ? len - (sizeof tail - 1) : 0) : "");
    free(text);
    return tail;
}

static void make_dir(void)
{
    L.dir = h_tmpdir();
    cr_assert_not_null(L.dir);
    snprintf(L.log, sizeof L.log, "%s/server.log", L.dir);
}

/* The server with room for the streams, and the `feeds` YAML (may be ""); returns its port. */
static int start_server(const char *feeds)
{
    char yaml[2048];
    int port = h_free_port();
    int len = snprintf(yaml, sizeof yaml, SERVER_YAML "%s", port, L.dir, STREAMS + 100, L.dir, feeds);
    cr_assert_lt((size_t)len, sizeof yaml);
    L.server = h_start_server(L.dir, yaml, port, L.log);
    cr_assert_gt(L.server, 0, "the server did not start:\n%s", log_tail());
    return port;
}

/* SIGTERM with the streams open; asserts a clean exit in time. */
static void stop_server(void)
{
    int64_t t0 = clock_mono_ms();
    int status = h_stop(L.server, SIGTERM, 2 * STOP_WITHIN_MS);
    int64_t took = clock_mono_ms() - t0;
    L.server = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "after SIGTERM the server %s %d (%" PRId64 " ms):\n%s",
              WIFSIGNALED(status) ? "died of signal" : "exited with status",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), took, log_tail());
    cr_assert_leq(took, STOP_WITHIN_MS, "the server took %" PRId64 " ms to exit after SIGTERM", took);
}

Test(load, ten_thousand_idle_streams_hold, .timeout = 120)
{
    uint64_t limit = 0;
    cr_assert_eq(lc_raise_nofile(STREAMS, &limit), 0, "open-file limit %" PRIu64 ": %s", limit,
                 lc_strerror(LC_ERR_NOFILE));
    make_dir();
    lc_opts_t o = {.port = start_server(""), .max_retries = 5};
    cr_assert_eq(lc_new(&L.cl, &o, STREAMS), 0);
    lc_open_all(L.cl, 0);
    int opened = lc_wait_open(L.cl, OPEN_TIMEOUT_MS);
    lc_run_until(L.cl, clock_mono_ns() + HOLD_MS * 1000000LL);

    lc_count_t k;
    const lc_stats_t *st = lc_stats(L.cl);
    lc_count(L.cl, &k);
    int alive = waitpid(L.server, NULL, WNOHANG) == 0;
    if (!alive)
        L.server = 0;   /* reaped */
    cr_assert(alive, "the server died with %zu streams open:\n%s", st->live, log_tail());
    cr_assert_eq(opened, 0, "streams still opening after %d ms: %zu queued, %zu opening", OPEN_TIMEOUT_MS,
                 st->queued, st->opening);
    cr_assert_eq(k.ok, STREAMS,
                 "%zu of %d streams ok after %d ms: %zu without retry:, %zu without live, %zu not open, "
                 "%zu non-200 (%zu failed, %" PRIu64 " reconnects, %" PRIu64 " dropped; last error: %s)",
                 k.ok, STREAMS, HOLD_MS, k.no_retry, k.no_live, k.not_open, k.non200, st->failed, st->retries,
                 st->dropped, strerror(st->last_errno));
    stop_server();
}

/* ---- churn ---- */

#define CHURN_STREAMS 90
#define CHURN_BATCH 20

/* Add CHURN_BATCH activities at feedsim; the head moves by as many. */
static void sim_add(int sim_port)
{
    char u[128];
    h_resp_t r;
    snprintf(u, sizeof u, "http://127.0.0.1:%d/_control/add?n=%d", sim_port, CHURN_BATCH);
    cr_assert_eq(h_http("POST", u, NULL, NULL, &r, 5000), 0);
    cr_assert_eq(r.status, 200, "%s -> %ld %s", u, r.status, r.body);
    h_resp_free(&r);
}

/* Poll until streams [from, to) have received change `seq` (at most 10 s). */
static void run_until_at(size_t from, size_t to, uint64_t seq)
{
    int64_t deadline = clock_mono_ms() + 10000;
    size_t i = from;
    while (i < to && clock_mono_ms() < deadline) {
        if (lc_stream(L.cl, i)->last_seq >= seq)
            i++;
        else
            lc_poll(L.cl, 50);
    }
    cr_assert_eq(i, to, "stream %zu is at %" PRIu64 ", not %" PRIu64 " (state %d)", i, lc_stream(L.cl, i)->last_seq,
                 seq, lc_stream(L.cl, i)->state);
}

Test(load, streams_that_leave_and_resume_miss_nothing, .timeout = 60)
{
    char feeds[256];
    int sim_port;
    uint64_t bad = 0;
    make_dir();
    L.sim = h_start_feedsim(&sim_port, L.log, "--count", "0", NULL);
    cr_assert_gt(L.sim, 0, "feedsim did not start");
    snprintf(feeds, sizeof feeds, "feeds:\n  - id: sim\n    url: http://127.0.0.1:%d/feed\n    poll_interval: 100ms\n",
             sim_port);
    lc_opts_t o = {.port = start_server(feeds), .on_live = lc_count_disorder, .ud = &bad};
    cr_assert_eq(lc_new(&L.cl, &o, CHURN_STREAMS), 0);
    lc_open_all(L.cl, 0);
    cr_assert_eq(lc_wait_open(L.cl, 20000), 0);
    cr_assert_eq(lc_stats(L.cl)->live, CHURN_STREAMS);
    sim_add(sim_port);
    run_until_at(0, CHURN_STREAMS, CHURN_BATCH);

    for (size_t i = 0; i < 2 * CHURN_STREAMS / 3; i++)   /* a third FIN, a third reset */
        lc_close(L.cl, i, i < CHURN_STREAMS / 3 ? LC_FIN : LC_RST);
    sim_add(sim_port);
    run_until_at(2 * CHURN_STREAMS / 3, CHURN_STREAMS, 2 * CHURN_BATCH);
    for (size_t i = 0; i < 2 * CHURN_STREAMS / 3; i++)
        lc_open(L.cl, i, LC_RESUME);
    cr_assert_eq(lc_wait_open(L.cl, 20000), 0);
    cr_assert_eq(lc_stats(L.cl)->live, CHURN_STREAMS);
    sim_add(sim_port);
    run_until_at(0, CHURN_STREAMS, 3 * CHURN_BATCH);

    cr_assert_eq(bad, 0, "%" PRIu64 " changes arrived out of order or twice", bad);
    for (size_t i = 0; i < CHURN_STREAMS; i++)
        cr_assert_eq(lc_stream(L.cl, i)->events, 3 * CHURN_BATCH, "stream %zu: %" PRIu64 " events", i,
                     lc_stream(L.cl, i)->events);
    cr_assert_eq(lc_stats(L.cl)->dropped, 0);
    stop_server();
}
