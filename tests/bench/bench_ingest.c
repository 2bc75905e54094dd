/* bench_ingest.c -- ingest rate end to end: bin/feedsim serves 200,000 activities of about
 * 400 bytes in 1,000-item pages over loopback; the ingest thread fetches, parses and commits
 * them into a fresh store. Prints `ingest.rate  N activities/s (target >= 100000)`.
 * Environment: AS_FEEDSIM (default bin/feedsim), AS_BENCH_COUNT (default 200000). Exits 1 when
 * something fails (not when the target is missed). */
#include "bench.h"
#include "config.h"
#include "harness.h"
#include "ingest.h"
#include "store.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TIMEOUT_S 120

int main(void)
{
    const char *count_s = getenv("AS_BENCH_COUNT") ? getenv("AS_BENCH_COUNT") : "200000";
    uint64_t want = strtoull(count_s, NULL, 10);
    char url[64], err[256];
    char *dir = h_tmpdir();
    int port = -1, rc = 1;
    store_t *st = NULL;
    ingest_t *ing = NULL;
    pid_t sim = -1;
    if (!dir) {
        perror("bench_ingest: setup");
        return 1;
    }
    /* feedsim (AS_FEEDSIM) on a free port, its log on our stdout; waits until it listens */
    sim = h_start_feedsim(&port, NULL, "--count", count_s, "--page-size", "1000", "--size", "400",
                          (char *)NULL);
    if (sim < 0) {
        fprintf(stderr, "bench_ingest: feedsim did not start\n");
        goto out;
    }
    if (store_open(&st, dir, 0, err, sizeof err) < 0) {
        fprintf(stderr, "bench_ingest: %s\n", err);
        goto out;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/feed", port);
    config_feed_t feed = {
        .id = "bench", .url = url, .style = FEED_STYLE_ACTIVITY_STREAM,
        .poll_interval_ms = 1000, .full_sync_interval_ms = 3600000, .timeout_ms = 30000,
        .connect_timeout_ms = 5000, .max_page_bytes = 64ull << 20,
    };
    config_t cfg = {.data_dir = dir, .feeds = &feed, .nfeeds = 1};
    double t0 = bench_now_s();
    if (ingest_start(&ing, &cfg, st) < 0)
        goto out;
    uint64_t n = 0;
    while ((n = store_feed_count(st, "bench")) < want && bench_now_s() - t0 < TIMEOUT_S)
        usleep(2000);
    double dt = bench_now_s() - t0;
    if (n < want) {
        fprintf(stderr, "bench_ingest: only %llu of %llu activities after %d s\n",
                (unsigned long long)n, (unsigned long long)want, TIMEOUT_S);
        goto out;
    }
    printf("ingest.rate  %.0f activities/s (target >= 100000)  [%llu activities in %.3f s]\n",
           (double)n / dt, (unsigned long long)n, dt);
    rc = 0;
out:
    ingest_stop(ing);
    store_close(st);
    if (sim > 0)
        h_stop(sim, SIGTERM, 10000);
    h_rmdir(dir);
    free(dir);
    return rc;
}
