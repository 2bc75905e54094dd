/* bench_ingest.c -- ingest rate end to end: bin/feedsim serves 200,000 activities of about
 * 400 bytes in 1,000-item pages over loopback; the ingest thread fetches, parses and commits
 * them into a fresh store. Prints `ingest.rate  N activities/s (target >= 100000)`.
 * Environment: AS_FEEDSIM (default bin/feedsim), AS_BENCH_COUNT (default 200000). Exits 1 when
 * something fails (not when the target is missed). */
#include "config.h"
#include "ingest.h"
#include "store.h"
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_S 120

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int wait_port(int port, double timeout_s)
{
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return 0;
        usleep(20000);
    }
    return -1;
}

static pid_t start_feedsim(int port, const char *count)
{
    const char *bin = getenv("AS_FEEDSIM") && *getenv("AS_FEEDSIM") ? getenv("AS_FEEDSIM")
                                                                     : "bin/feedsim";
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        execl(bin, bin, "--port", portbuf, "--count", count, "--page-size", "1000", "--size",
              "400", (char *)NULL);
        fprintf(stderr, "bench_ingest: cannot run %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    return pid;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

int main(void)
{
    const char *count_s = getenv("AS_BENCH_COUNT") ? getenv("AS_BENCH_COUNT") : "200000";
    uint64_t want = strtoull(count_s, NULL, 10);
    char dir[] = "/tmp/as-bench-ingest-XXXXXX", url[64], err[256];
    int port = free_port(), rc = 1;
    store_t *st = NULL;
    ingest_t *ing = NULL;
    if (!mkdtemp(dir) || port < 0) {
        perror("bench_ingest: setup");
        return 1;
    }
    pid_t sim = start_feedsim(port, count_s);
    if (sim < 0 || wait_port(port, 10) < 0) {
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
    double t0 = now_s();
    if (ingest_start(&ing, &cfg, st) < 0)
        goto out;
    uint64_t n = 0;
    while ((n = store_feed_count(st, "bench")) < want && now_s() - t0 < TIMEOUT_S)
        usleep(2000);
    double dt = now_s() - t0;
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
    if (sim > 0) {
        kill(sim, SIGTERM);
        waitpid(sim, NULL, 0);
    }
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
