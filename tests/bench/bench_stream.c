/* bench_stream.c -- streaming benchmarks.
 *
 *   stream.history   one client replays N stored ~400-byte activities (a finite stream);
 *                    events/s, and that rate as a fraction of the rate at which the same
 *                    number of bytes crosses a loopback socket from a file (sendfile).
 *   stream.live      S streams fed by ingest at R activities/s (feedsim; the feed is polled
 *                    every 100 ms, so the default R = 10 is about one activity per commit,
 *                    10 commits/s); latency from the
 *                    commit (observed by polling the change log of the server's LMDB store
 *                    every 1 ms from this process) to the client's read; missed events.
 *   stream.live_auth the same with an auth block: each stream sends its own JWT (HS256) whose
 *                    feeds claim is its scope; compared with stream.live (target: p99 within 10%).
 *   stream.idle_mem  growth of the server's VmRSS per idle stream.
 *   stream.churn     S idle streams opened, closed (half FIN, half reset) and reopened with
 *                    Last-Event-ID, three times in a row: the time until the server reports
 *                    every slot free after each close, refusals (non-200 answers), and the
 *                    server's VmRSS before, at the peak and 10 s after the last close.
 *
 * The streams of stream.live, stream.idle_mem and stream.churn come from the load client,
 * tests/loadclient.c (one epoll thread, HTTP/1.0); stream.live times each live event it reports.
 *
 * Binaries: AS_SERVER (default bin/activity-stream), AS_FEEDSIM (default bin/feedsim); the
 * temporary directories (stores, configs, logs) go under $TMPDIR (default /tmp).
 * Children and temporary directories are removed at exit, on SIGINT/SIGTERM/SIGHUP, and the
 * children get SIGKILL if this process dies (PR_SET_PDEATHSIG). Ports, directory removal,
 * config files, stopping children and the binaries' paths use tests/harness.c; the clocks, the
 * machine line and the temporary directories tests/bench/bench.h; the loopback rate
 * tests/netrate.c; spawning stays here (the child must set PR_SET_PDEATHSIG before exec and be
 * registered for the async-signal-safe cleanup on a fatal signal).
 * Exit status: 0 when every check passed (targets missed are reported, not failed), 1 when a
 * check failed (wrong event count, streams that could not be opened or were dropped, missed
 * events, a server that crashed or did not stop cleanly). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench.h"
#include "harness.h"
#include "jwtmint.h"
#include "loadclient.h"
#include "netrate.h"
#include "store.h"
#include "timefmt.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_US 1704067200000000LL      /* 2024-01-01T00:00:00Z */
#define HISTORY_BATCH 1000
#define READ_BUF (256 * 1024)            /* history client and loopback receiver */
#define PREFIX_KEEP (4u << 20)           /* body bytes kept to build the loopback file */
#define MAX_RETRIES 5                    /* reconnects per stream while opening */
#define OPEN_TIMEOUT_MS 90000
#define HIST_BUCKET_NS 100000            /* 0.1 ms */
#define HIST_BUCKETS 100000              /* up to 10 s */

/* ---------------------------------------------------------------------------------------- */
/* Cleanup: children and temporary directories, at exit and on a fatal signal               */

#define MAX_CHILDREN 8
#define MAX_DIRS 8
static volatile pid_t g_child[MAX_CHILDREN];
static char g_dir[MAX_DIRS][256];
static volatile sig_atomic_t g_dir_used[MAX_DIRS];

static void child_register(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (g_child[i] == 0) {
            g_child[i] = pid;
            return;
        }
}

static void child_forget(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (g_child[i] == pid)
            g_child[i] = 0;
}

/* mkdtemp under $TMPDIR (default /tmp), registered for removal. Returns the slot's path
 * (static) or NULL. */
static const char *tmpdir_new(void)
{
    for (int i = 0; i < MAX_DIRS; i++) {
        if (g_dir_used[i])
            continue;
        if (bench_mkdtemp(g_dir[i], sizeof g_dir[i], bench_tmp_parent(), "bench_stream") != 0)
            return NULL;
        g_dir_used[i] = 1;
        return g_dir[i];
    }
    return NULL;
}

static void tmpdir_remove(const char *dir)
{
    for (int i = 0; i < MAX_DIRS; i++)
        if (g_dir_used[i] && g_dir[i] == dir) {
            h_rmdir(dir);
            g_dir_used[i] = 0;
        }
}

static void cleanup_at_exit(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        pid_t pid = g_child[i];
        if (pid <= 0)
            continue;
        h_stop(pid, SIGTERM, 5000);
        g_child[i] = 0;
    }
    for (int i = 0; i < MAX_DIRS; i++)
        if (g_dir_used[i])
            tmpdir_remove(g_dir[i]);
}

/* Async-signal-safe: kill and reap the children, `rm -rf` the directories, die of `sig`. */
static void on_fatal_signal(int sig)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (g_child[i] > 0) {
            kill(g_child[i], SIGKILL);
            waitpid(g_child[i], NULL, 0);
            g_child[i] = 0;
        }
    for (int i = 0; i < MAX_DIRS; i++) {
        if (!g_dir_used[i])
            continue;
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/rm", "rm", "-rf", g_dir[i], (char *)NULL);
            _exit(127);
        }
        if (pid > 0)
            waitpid(pid, NULL, 0);
        g_dir_used[i] = 0;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_cleanup(void)
{
    atexit(cleanup_at_exit);
    signal(SIGINT, on_fatal_signal);
    signal(SIGTERM, on_fatal_signal);
    signal(SIGHUP, on_fatal_signal);
    signal(SIGPIPE, SIG_IGN);
}

/* ---------------------------------------------------------------------------------------- */
/* Child processes                                                                          */

/* h_spawn (the child dies with us), remembered for the cleanup on fatal signals. */
static pid_t spawn(char *const argv[], const char *log_path)
{
    pid_t pid = h_spawn(argv, log_path);
    if (pid < 0)
        perror("fork");
    else
        child_register(pid);
    return pid;
}

/* SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the wait status; *took_ms (may be
 * NULL) gets how long the exit took. */
static int child_stop(pid_t pid, int timeout_ms, long *took_ms)
{
    int64_t t0 = clock_mono_ns();
    int status = h_stop(pid, SIGTERM, timeout_ms);
    if (took_ms)
        *took_ms = (long)((clock_mono_ns() - t0) / 1000000);
    child_forget(pid);
    return status;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return a;
}

static int connect_blocking(int port)
{
    struct sockaddr_in a = loopback(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void print_log_tail(const char *path)
{
    char buf[4096];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, from);
    close(fd);
    if (n > 0) {
        buf[n] = 0;
        fprintf(stderr, "---- end of %s ----\n%s\n----\n", path, buf);
    }
}

/* Wait until 127.0.0.1:port accepts, while `pid` lives. Returns 0, or -1 (pid reaped). */
static int wait_port(int port, pid_t pid, int timeout_ms)
{
    int64_t t0 = clock_mono_ns();
    while (clock_mono_ns() - t0 < (int64_t)timeout_ms * 1000000) {
        if (h_wait_port(port, 0) == 0)   /* one attempt, then 20 ms of sleep on failure */
            return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            child_forget(pid);
            fprintf(stderr, "bench: process %d exited (status %d) before listening\n", (int)pid, status);
            return -1;
        }
    }
    fprintf(stderr, "bench: port %d not listening after %d ms\n", port, timeout_ms);
    return -1;
}

/* The activity-stream server under test. */
typedef struct {
    pid_t pid;
    int port;
    char log[PATH_MAX];
} server_t;

/* Write dir/server.conf (listen on a free port, data_dir, 2 threads, max_streams, and the
 * `extra` YAML) and start AS_SERVER with it. Returns 0 once it listens. */
static int server_start(server_t *s, const char *dir, const char *data_dir, long max_streams, const char *extra)
{
    char conf[PATH_MAX], yaml[2 * PATH_MAX + 1024];
    s->pid = -1;
    s->port = h_free_port();
    snprintf(conf, sizeof conf, "%s/server.conf", dir);
    snprintf(s->log, sizeof s->log, "%s/server.log", dir);
    int len = snprintf(yaml, sizeof yaml,
                       "listen: 127.0.0.1:%d\ndata_dir: %s\nthreads: 2\nmax_streams: %ld\nweb_root: %s\n%s",
                       s->port, data_dir, max_streams, dir, extra ? extra : "");
    if (s->port < 0 || len < 0 || (size_t)len >= sizeof yaml || h_write_file(conf, yaml) != 0) {
        fprintf(stderr, "bench: cannot write %s\n", conf);
        return -1;
    }
    char *argv[] = {(char *)h_server_bin(), "--config", conf, NULL};
    s->pid = spawn(argv, s->log);
    if (s->pid < 0)
        return -1;
    if (wait_port(s->port, s->pid, 30000) != 0) {
        print_log_tail(s->log);
        s->pid = -1;
        return -1;
    }
    return 0;
}

/* SIGTERM the server; returns 0 when it exited 0 within 5 s (the shutdown promise). */
static int server_stop(server_t *s)
{
    if (s->pid <= 0)
        return -1;
    long took;
    int status;
    if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
        child_forget(s->pid);
        s->pid = -1;
        fprintf(stderr, "bench: the server had already %s %d before it was asked to stop\n",
                WIFSIGNALED(status) ? "died of signal" : "exited with status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        print_log_tail(s->log);
        return -1;
    }
    status = child_stop(s->pid, 10000, &took);
    s->pid = -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && took <= 5000)
        return 0;
    if (WIFSIGNALED(status))
        fprintf(stderr, "bench: the server died of signal %d (after SIGTERM, %ld ms)\n", WTERMSIG(status), took);
    else
        fprintf(stderr, "bench: the server exited with status %d, %ld ms after SIGTERM\n",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1, took);
    print_log_tail(s->log);
    return -1;
}

static long proc_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* User + system CPU seconds of a process. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---------------------------------------------------------------------------------------- */
/* History                                                                                  */

/* A realistic ~400-byte compact activity, published i seconds after 2024-01-01. */
static size_t history_json(char *buf, size_t cap, long i, char *id, size_t *id_len, char *actor, size_t *actor_len)
{
    char when[TIMEFMT_RFC3339_MAX];
    timefmt_format_rfc3339(START_US + (int64_t)i * 1000000, when);
    *id_len = bench_activity_id(id, i);
    *actor_len = (size_t)snprintf(actor, 96, "https://bench.example/users/u%ld", i % 997);
    return (size_t)snprintf(buf, cap,
        "{\"@context\":\"https://www.w3.org/ns/activitystreams\",\"type\":\"Create\",\"id\":\"%s\","
        "\"published\":\"%s\",\"actor\":{\"type\":\"Person\",\"id\":\"%s\",\"name\":\"User %ld\"},"
        "\"object\":{\"type\":\"Note\",\"id\":\"https://bench.example/notes/%08ld\","
        "\"content\":\"Lorem ipsum dolor sit amet, sed do eiusmod tempor incididunt (note %ld).\"}}",
        id, when, actor, i % 997, i, i);
}

/* Write n activities of feed "bench" into the store at data_dir, 1000 per commit. */
static int history_write(const char *data_dir, long n)
{
    store_t *st = NULL;
    store_batch_t *b = NULL;
    char err[512], json[1024], id[96], actor[96];
    int rc = store_open(&st, data_dir, 0, err, sizeof err);
    if (rc) {
        fprintf(stderr, "bench: %s\n", err);
        return -1;
    }
    if ((rc = store_batch_new(st, &b)) != 0)
        goto out;
    for (long i = 0; i < n && rc == 0; i++) {
        size_t id_len, actor_len;
        size_t len = history_json(json, sizeof json, i, id, &id_len, actor, &actor_len);
        store_activity_t a = {.feed = "bench", .feed_len = 5, .id = id, .id_len = id_len,
                              .published_us = START_US + (int64_t)i * 1000000, .types = "Create",
                              .types_len = 6, .actor = actor, .actor_len = actor_len,
                              .json = json, .json_len = len};
        rc = store_batch_upsert(b, &a, 1);
        if (rc == 0 && ((i + 1) % HISTORY_BATCH == 0 || i + 1 == n))
            rc = store_batch_commit(b, NULL);
    }
out:
    if (rc)
        fprintf(stderr, "bench: writing the store: %s\n", store_strerror(rc));
    store_batch_free(b);
    store_close(st);
    return rc ? -1 : 0;
}

typedef struct {
    uint64_t events;      /* "\nevent: activity\n" occurrences */
    uint64_t bytes;       /* whole response, headers included */
    double seconds;       /* connect to EOF */
    int port;
    int status_ok, ended; /* 200; the body ends with the `end` event */
    char *prefix;         /* owned: the first PREFIX_KEEP bytes */
    size_t prefix_len;
    char tail[64];        /* the last bytes */
    size_t tail_len;
} history_result_t;

/* Count occurrences of pat in buf[0..n). The caller carries the last plen-1 bytes of one
 * read to the front of the next: no match fits wholly inside them, so a match straddling two
 * reads is counted once, when it completes. (The pattern can only overlap itself at its
 * newline, hence the plen-1 step.) */
static uint64_t count_matches(const char *buf, size_t n, const char *pat, size_t plen)
{
    uint64_t count = 0;
    const char *p = buf, *end = buf + n;
    while ((size_t)(end - p) >= plen && (p = memmem(p, (size_t)(end - p), pat, plen)) != NULL) {
        count++;
        p += plen - 1;
    }
    return count;
}

static void keep_prefix(history_result_t *r, const char *buf, size_t n)
{
    size_t room = PREFIX_KEEP - r->prefix_len;
    size_t k = n < room ? n : room;
    memcpy(r->prefix + r->prefix_len, buf, k);
    r->prefix_len += k;
}

/* Keep the last sizeof(r->tail) bytes seen. */
static void keep_tail(history_result_t *r, const char *buf, size_t n)
{
    size_t cap = sizeof r->tail;
    if (n >= cap) {
        memcpy(r->tail, buf + n - cap, cap);
        r->tail_len = cap;
        return;
    }
    size_t keep = r->tail_len + n > cap ? cap - n : r->tail_len;
    memmove(r->tail, r->tail + r->tail_len - keep, keep);
    memcpy(r->tail + keep, buf, n);
    r->tail_len = keep + n;
}

/* One client: GET the finite stream over HTTP/1.0 and read it to EOF, counting events. */
static int history_read(history_result_t *r)
{
    static const char req[] = "GET /stream?start=2024-01-01T00:00:00Z&end=now HTTP/1.0\r\n\r\n";
    static const char pat[] = "\nevent: activity\n";
    const size_t plen = sizeof pat - 1;
    char *buf = malloc(READ_BUF + plen);
    size_t carried = 0;
    ssize_t n = -1;
    int fd = -1;
    r->prefix = malloc(PREFIX_KEEP);
    if (!buf || !r->prefix)
        goto out;
    int64_t t0 = clock_mono_ns();
    fd = connect_blocking(r->port);
    if (fd < 0 || write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        perror("bench: history request");
        goto out;
    }
    while ((n = read(fd, buf + carried, READ_BUF)) > 0) {
        size_t total = carried + (size_t)n;
        r->events += count_matches(buf, total, pat, plen);
        keep_prefix(r, buf + carried, (size_t)n);
        keep_tail(r, buf + carried, (size_t)n);
        r->bytes += (uint64_t)n;
        carried = total < plen - 1 ? total : plen - 1;
        memmove(buf, buf + total - carried, carried);
    }
    r->seconds = (clock_mono_ns() - t0) / 1e9;
    if (n < 0)
        perror("bench: history read");
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    r->status_ok = r->prefix && r->prefix_len >= 12 && memcmp(r->prefix, "HTTP/1.", 7) == 0 &&
                   memcmp(r->prefix + 9, "200", 3) == 0;
    r->ended = r->tail_len >= 4 && memmem(r->tail, r->tail_len, "\nevent: end\n", 12) != NULL &&
               memcmp(r->tail + r->tail_len - 2, "\n\n", 2) == 0;
    return n == 0 ? 0 : -1;
}

/* Write `size` bytes to path by repeating `chunk` (the start of the history response). */
static int write_repeated(const char *path, const char *chunk, size_t chunk_len, uint64_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || chunk_len == 0)
        goto fail;
    for (uint64_t done = 0; done < size;) {
        size_t k = size - done < chunk_len ? (size_t)(size - done) : chunk_len;
        ssize_t w = write(fd, chunk, k);
        if (w <= 0)
            goto fail;
        done += (uint64_t)w;
    }
    close(fd);
    return 0;
fail:
    perror("bench: writing the loopback file");
    if (fd >= 0)
        close(fd);
    return -1;
}

static int bench_history(long n)
{
    const char *dir = tmpdir_new();
    char data[PATH_MAX], body[PATH_MAX];
    server_t srv = {.pid = -1};
    history_result_t r = {0};
    int rc = -1;
    if (!dir)
        return -1;
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(body, sizeof body, "%s/body.bin", dir);
    int64_t t0 = clock_mono_ns();
    if (history_write(data, n) != 0)
        goto out;
    printf("  (history: wrote %ld activities with the store API in %.1f s)\n", n, (clock_mono_ns() - t0) / 1e9);
    if (server_start(&srv, dir, data, 20000, NULL) != 0)
        goto out;
    double cpu0 = proc_cpu_s(srv.pid);
    r.port = srv.port;
    int read_rc = history_read(&r);
    double server_cpu = proc_cpu_s(srv.pid) - cpu0;
    int stop_rc = server_stop(&srv);
    if (read_rc != 0 || !r.status_ok || r.events != (uint64_t)n || !r.ended || stop_rc != 0) {
        fprintf(stderr, "bench: history FAILED: %" PRIu64 " events of %ld, status %s, %s, server stop %s\n",
                r.events, n, r.status_ok ? "200" : "not 200", r.ended ? "ended with `end`" : "no `end` event at the end",
                stop_rc == 0 ? "ok" : "failed");
        goto out;
    }
    double lo = -1;   /* the physical limit: the best of three runs */
    if (write_repeated(body, r.prefix, r.prefix_len, r.bytes) == 0)
        for (int k = 0; k < 3; k++) {
            double rate = netrate_loopback(body, r.bytes, READ_BUF);
            lo = rate > lo ? rate : lo;
        }
    unlink(body);
    if (lo <= 0) {
        fprintf(stderr, "bench: the loopback measurement failed\n");
        goto out;
    }
    double hist_bps = r.bytes / r.seconds;
    bench_report("stream.history   %.0f events/s  (target >= 1000000)  = %.2f of loopback file rate (%.0f MB/s)"
           "  [best of 3 sendfile runs; %ld events, %.0f bytes/event, %.0f MB/s, %.2f s; server CPU %.2f s]",
           n / r.seconds, hist_bps / lo, lo / 1e6, n, (double)r.bytes / n, hist_bps / 1e6, r.seconds, server_cpu);
    rc = 0;
out:
    if (srv.pid > 0)
        server_stop(&srv);
    free(r.prefix);
    tmpdir_remove(dir);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Commit observer: when each change-log seq became visible, seen from this process          */

typedef struct {
    store_t *st;                 /* owned: the server's store, opened a second time */
    _Atomic int64_t *seen_ns;    /* owned, [cap]: monotonic time seq was first seen; 0: not yet */
    uint64_t cap;
    uint64_t last;               /* last seq seen (observer thread only) */
    atomic_int stop;
    int64_t scan_ns;             /* time of the current scan */
    pthread_t th;
    int running;
} observer_t;

static int on_observed(const store_rec_t *rec, void *ud)
{
    observer_t *o = ud;
    if (rec->seq < o->cap)
        atomic_store_explicit(&o->seen_ns[rec->seq], o->scan_ns, memory_order_release);
    return 0;
}

/* Every 1 ms: a read transaction on the change log after the last seq seen. The scan bound is
 * UINT64_MAX, not 0, because store_head() only knows this process's commits. */
static void *observer_main(void *arg)
{
    observer_t *o = arg;
    while (!atomic_load(&o->stop)) {
        o->scan_ns = clock_mono_ns();
        uint64_t last = o->last;
        if (store_scan_changes(o->st, o->last, UINT64_MAX, 0, on_observed, o, &last) < 0)
            fprintf(stderr, "bench: observer scan failed\n");
        o->last = last;
        usleep(1000);
    }
    return NULL;
}

static int observer_start(observer_t *o, const char *data_dir, uint64_t cap)
{
    char err[512];
    memset(o, 0, sizeof *o);
    o->cap = cap;
    o->seen_ns = calloc(cap, sizeof *o->seen_ns);
    if (!o->seen_ns)
        return -1;
    if (store_open(&o->st, data_dir, 0, err, sizeof err) != 0) {
        fprintf(stderr, "bench: observer: %s\n", err);
        return -1;
    }
    if (pthread_create(&o->th, NULL, observer_main, o) != 0)
        return -1;
    o->running = 1;
    return 0;
}

static void observer_stop(observer_t *o)
{
    if (o->running) {
        atomic_store(&o->stop, 1);
        pthread_join(o->th, NULL);
        o->running = 0;
    }
    store_close(o->st);
    o->st = NULL;
    free((void *)o->seen_ns);
    o->seen_ns = NULL;
}

static int64_t observed_at(const observer_t *o, uint64_t seq)
{
    return seq < o->cap ? atomic_load_explicit(&o->seen_ns[seq], memory_order_acquire) : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Live measurement: latency histogram, gaps, receipts that beat the observer                */

typedef struct {
    uint64_t seq;
    int64_t recv_ns;
} receipt_t;

typedef struct {
    uint32_t conn;
    uint64_t from, to;           /* seqs a stream skipped, inclusive */
} gap_t;

typedef struct {
    observer_t *obs;             /* borrowed */
    int64_t t0, t1;              /* the measurement window (commit times); empty until set */
    uint32_t *hist;              /* owned, HIST_BUCKETS + 1 (the last one: overflow) */
    uint64_t samples, early;     /* early: received before the observer saw the commit */
    int64_t max_ns;
    receipt_t *unseen;           /* owned: receipts whose commit the observer had not seen */
    size_t nunseen, capunseen;
    gap_t *gaps;                 /* owned */
    size_t ngaps, capgaps;
    uint64_t dropped;            /* receipts or gaps not recorded (out of memory) */
    uint64_t received, dups;     /* change events received; repeated or out-of-order seqs */
} live_meas_t;

static void hist_add(live_meas_t *m, int64_t ns)
{
    if (ns < 0) {
        m->early++;
        ns = 0;
    }
    uint64_t b = (uint64_t)ns / HIST_BUCKET_NS;
    m->hist[b < HIST_BUCKETS ? b : HIST_BUCKETS]++;
    m->samples++;
    if (ns > m->max_ns)
        m->max_ns = ns;
}

/* Upper bound of the bucket holding the p-quantile, in ms. */
static double hist_quantile_ms(const live_meas_t *m, double p)
{
    uint64_t want = (uint64_t)(p * (double)m->samples + 0.999999), cum = 0;
    for (size_t b = 0; b <= HIST_BUCKETS; b++) {
        cum += m->hist[b];
        if (cum >= want && cum > 0)
            return (double)(b + 1) * HIST_BUCKET_NS / 1e6;
    }
    return 0;
}

static int grow(void **arr, size_t *cap, size_t elem)
{
    size_t ncap = *cap ? *cap * 2 : 4096;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

static void gap_add(live_meas_t *m, uint32_t conn, uint64_t from, uint64_t to)
{
    if (m->ngaps == m->capgaps && grow((void **)&m->gaps, &m->capgaps, sizeof *m->gaps) != 0) {
        m->dropped++;
        return;
    }
    m->gaps[m->ngaps++] = (gap_t){conn, from, to};
}

static int in_window(const live_meas_t *m, int64_t commit_ns)
{
    return commit_ns >= m->t0 && commit_ns <= m->t1;
}

/* A change event with this seq arrived at recv_ns. */
static void latency_add(live_meas_t *m, uint64_t seq, int64_t recv_ns)
{
    int64_t commit = observed_at(m->obs, seq);
    if (commit) {
        if (in_window(m, commit))
            hist_add(m, recv_ns - commit);
        return;
    }
    if (m->nunseen == m->capunseen && grow((void **)&m->unseen, &m->capunseen, sizeof *m->unseen) != 0) {
        m->dropped++;
        return;
    }
    m->unseen[m->nunseen++] = (receipt_t){seq, recv_ns};
}

/* Receipts that beat the observer: their commit time is known now. */
static void latency_resolve(live_meas_t *m)
{
    for (size_t k = 0; k < m->nunseen; k++) {
        int64_t commit = observed_at(m->obs, m->unseen[k].seq);
        if (commit && in_window(m, commit))
            hist_add(m, m->unseen[k].recv_ns - commit);
    }
    m->nunseen = 0;
}

static void meas_free(live_meas_t *m)
{
    free(m->hist);
    free(m->unseen);
    free(m->gaps);
}

/* ---------------------------------------------------------------------------------------- */
/* The streams: tests/loadclient.c                                                          */

/* lc_live_fn: a change event with a live id reached stream i (s->last_seq: the one before). */
static void on_live_event(void *ud, size_t i, const lc_stream_t *s, uint64_t seq, int64_t recv_ns)
{
    live_meas_t *m = ud;
    m->received++;
    if (seq <= s->last_seq) {
        m->dups++;
        return;
    }
    if (seq != s->last_seq + 1)
        gap_add(m, (uint32_t)i, s->last_seq + 1, seq - 1);
    latency_add(m, seq, recv_ns);
}

static const char *own_headers(void *ud, size_t i)
{
    return ((char **)ud)[i];
}

/* A client of n streams to the server at port (on_live: NULL, or the live measurement;
 * headers: NULL, or each stream's own header lines). */
static lc_t *client_new(int port, size_t n, live_meas_t *m, char **headers)
{
    lc_opts_t o = {.port = port, .max_retries = MAX_RETRIES, .on_live = m ? on_live_event : NULL, .ud = m,
                   .stream_headers = headers ? own_headers : NULL, .headers_ud = headers};
    lc_t *cl = NULL;
    int rc = lc_new(&cl, &o, n);
    if (rc != 0)
        fprintf(stderr, "bench: load client: %s\n", lc_strerror(rc));
    return cl;
}

/* Open every stream and wait until each got `live`. Returns 0 when all did. */
static int client_open_all(lc_t *cl, size_t n, int timeout_ms)
{
    int64_t t0 = clock_mono_ns();
    lc_open_all(cl, 0);
    lc_wait_open(cl, timeout_ms);
    const lc_stats_t *st = lc_stats(cl);
    printf("  (%zu of %zu streams live in %.1f s; %" PRIu64 " reconnects, %zu failed, %" PRIu64 " dropped, %" PRIu64
           " non-200)\n", st->live, n, (clock_mono_ns() - t0) / 1e9, st->retries, st->failed, st->dropped, st->non200);
    fflush(stdout);
    return st->live == n ? 0 : -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Live fan-out                                                                             */

typedef struct {
    uint64_t lo, hi;             /* seqs committed inside the window; hi < lo: none */
    uint64_t commits;            /* distinct observation times in the window (~ commits) */
    uint64_t missed, gaps;       /* window events not received; gaps that touch the window */
    size_t short_streams;        /* streams that missed any */
} window_result_t;

/* The seqs whose observed commit time lies in [t0, t1] (the change log is contiguous and the
 * observer sees it in order, so they form a range). */
static void window_range(const live_meas_t *m, window_result_t *w)
{
    w->lo = 1;
    w->hi = 0;
    int found = 0;
    for (uint64_t s = 1; s < m->obs->cap; s++) {
        int64_t t = observed_at(m->obs, s);
        if (t == 0 || t > m->t1)
            break;
        if (t < m->t0)
            continue;
        if (!found || t != observed_at(m->obs, s - 1))
            w->commits++;
        if (!found)
            w->lo = s;
        found = 1;
        w->hi = s;
    }
}

static uint64_t overlap(uint64_t a, uint64_t b, uint64_t lo, uint64_t hi)
{
    uint64_t x = a > lo ? a : lo, y = b < hi ? b : hi;
    return y >= x ? y - x + 1 : 0;
}

/* Every stream must have received every seq of the window: count what is missing. */
static void window_missed(const lc_t *cl, size_t n, const live_meas_t *m, window_result_t *w)
{
    uint64_t *missed = calloc(n, sizeof *missed);
    for (size_t i = 0; i < n && w->hi >= w->lo; i++) {
        const lc_stream_t *c = lc_stream(cl, i);
        uint64_t tail = c->last_seq < w->hi ? w->hi - (c->last_seq >= w->lo ? c->last_seq : w->lo - 1) : 0;
        if (missed)
            missed[i] += tail;
        w->missed += tail;
    }
    for (size_t g = 0; g < m->ngaps && w->hi >= w->lo; g++) {
        uint64_t k = overlap(m->gaps[g].from, m->gaps[g].to, w->lo, w->hi);
        w->gaps += k > 0;
        w->missed += k;
        if (missed)
            missed[m->gaps[g].conn] += k;
    }
    for (size_t i = 0; missed && i < n; i++)
        w->short_streams += missed[i] > 0;
    free(missed);
}

static int all_reached(const lc_t *cl, size_t n, uint64_t seq)
{
    for (size_t i = 0; i < n; i++)
        if (lc_stream(cl, i)->state == LC_LIVE && lc_stream(cl, i)->last_seq < seq)
            return 0;
    return 1;
}

/* After the window: read until every open stream has the window's last seq (at most 10 s). */
static void live_drain(lc_t *cl, size_t n, live_meas_t *m, window_result_t *w)
{
    int64_t settle = m->t1 + 20 * 1000000LL, deadline = m->t1 + 10 * 1000000000LL;
    lc_run_until(cl, settle);
    window_range(m, w);
    while (clock_mono_ns() < deadline && !all_reached(cl, n, w->hi))
        lc_run_until(cl, clock_mono_ns() + 20 * 1000000LL);
}

typedef struct {
    long streams, rate, seconds;
    int auth;                    /* stream.live_auth: a JWT per stream, its feeds claim the scope */
} live_opts_t;

#define BENCH_JWT_SECRET "bench-jwt-secret-0123456789abcdef0123"

static void headers_free(char **h, long n)
{
    for (long i = 0; h && i < n; i++)
        free(h[i]);
    free(h);
}

/* "Authorization: Bearer <JWT>\r\n" for each of n streams: sub bench-<i>, feeds ["live"], an
 * hour to live. NULL when out of memory. */
static char **jwt_headers(long n)
{
    char **h = calloc((size_t)n, sizeof *h), payload[160];
    long long exp = (long long)time(NULL) + 3600;
    for (long i = 0; h && i < n; i++) {
        snprintf(payload, sizeof payload, "{\"sub\":\"bench-%ld\",\"feeds\":[\"live\"],\"exp\":%lld}", i, exp);
        char *t = jwtmint_hs256(payload, BENCH_JWT_SECRET);
        if (!t || asprintf(&h[i], "Authorization: Bearer %s\r\n", t) < 0) {
            free(t);
            headers_free(h, n);
            return NULL;
        }
        free(t);
    }
    return h;
}

static int start_feedsim(const char *dir, long rate, pid_t *pid, int *port)
{
    char log[PATH_MAX], portarg[16], ratearg[32];
    snprintf(log, sizeof log, "%s/feedsim.log", dir);
    *port = h_free_port();
    snprintf(portarg, sizeof portarg, "%d", *port);
    snprintf(ratearg, sizeof ratearg, "%ld", rate);
    char *argv[] = {(char *)h_feedsim_bin(), "--port", portarg, "--count", "0",
                    "--rate", ratearg, NULL};
    *pid = spawn(argv, log);
    if (*pid < 0 || wait_port(*port, *pid, 10000) != 0) {
        print_log_tail(log);
        *pid = -1;
        return -1;
    }
    return 0;
}

/* The measurement itself, once the streams are live. */
static int live_measure(lc_t *cl, live_meas_t *m, const live_opts_t *o, pid_t server, pid_t sim, double *p99)
{
    window_result_t w = {0};
    const lc_stats_t *st = lc_stats(cl);
    lc_run_until(cl, clock_mono_ns() + 1000000000LL);   /* warm-up */
    double scpu = proc_cpu_s(server), fcpu = proc_cpu_s(sim), bcpu = bench_cpu_s();
    int64_t waited = st->wait_ns;
    m->t0 = clock_mono_ns();
    m->t1 = m->t0 + o->seconds * 1000000000LL;
    lc_run_until(cl, m->t1);
    double secs = (clock_mono_ns() - m->t0) / 1e9;
    long rss = proc_rss_kib(server);
    double busy = 1 - (st->wait_ns - waited) / 1e9 / secs;
    scpu = (proc_cpu_s(server) - scpu) / secs;
    fcpu = (proc_cpu_s(sim) - fcpu) / secs;
    bcpu = (bench_cpu_s() - bcpu) / secs;
    live_drain(cl, (size_t)o->streams, m, &w);
    latency_resolve(m);
    window_missed(cl, (size_t)o->streams, m, &w);
    uint64_t events = w.hi >= w.lo ? w.hi - w.lo + 1 : 0;
    *p99 = hist_quantile_ms(m, 0.99);
    bench_report("%s %ld streams, %ld activities/s: p50 %.1f ms  p99 %.1f ms  max %.1f ms  "
           "(target p99 <= 50 ms), missed %" PRIu64, o->auth ? "stream.live_auth" : "stream.live     ",
           o->streams, o->rate, hist_quantile_ms(m, 0.50), hist_quantile_ms(m, 0.99), m->max_ns / 1e6, w.missed);
    printf("  (window %.1f s: %" PRIu64 " activities committed in %" PRIu64 " commits, %" PRIu64 " deliveries timed of %" PRIu64
           " expected; %zu streams short, %" PRIu64 " gaps, %" PRIu64 " duplicates, %" PRIu64 " streams dropped, "
           "%" PRIu64 " events without a live id; %" PRIu64 " received before the 1 ms observer saw the commit "
           "(counted as 0 ms))\n",
           secs, events, w.commits, m->samples, events * (uint64_t)o->streams, w.short_streams, w.gaps, m->dups,
           st->dropped, st->unsequenced, m->early);
    printf("  (CPU during the window, in cores: server %.2f (%.1f ms per commit), feedsim %.2f, this client + "
           "observer %.2f; the client's epoll thread was out of epoll_wait (reading, or waiting for a core) %.0f%% "
           "of the time; all share the same %ld cores, so latency includes waiting for a core; server VmRSS at "
           "the end %.1f MiB)\n",
           scpu, w.commits ? scpu * secs * 1000 / (double)w.commits : 0, fcpu, bcpu, busy * 100,
           sysconf(_SC_NPROCESSORS_ONLN), rss / 1024.0);
    if (events == 0)
        fprintf(stderr, "bench: no activity was committed during the window (is feedsim ingesting?)\n");
    return events > 0 && w.missed == 0 && m->dups == 0 && st->dropped == 0 && m->dropped == 0 &&
                   st->unsequenced == 0 ? 0 : -1;
}

static int bench_live(const live_opts_t *o, double *p99)
{
    const char *dir = tmpdir_new();
    char data[PATH_MAX], extra[512];
    server_t srv = {.pid = -1};
    observer_t obs = {0};
    live_meas_t m = {.obs = &obs, .t0 = INT64_MAX, .t1 = INT64_MIN};
    lc_t *cl = NULL;
    char **headers = NULL;
    pid_t sim = -1;
    int sim_port, rc = -1;
    if (!dir)
        return -1;
    snprintf(data, sizeof data, "%s/data", dir);
    if (start_feedsim(dir, o->rate, &sim, &sim_port) != 0)
        goto out;
    snprintf(extra, sizeof extra,
             "poll_interval: 1s\nfeeds:\n  - id: live\n    url: http://127.0.0.1:%d/feed\n"
             "    poll_interval: 100ms\n    full_sync_interval: 10m\n%s", sim_port,
             o->auth ? "auth:\n  jwt:\n    hs256_secret: " BENCH_JWT_SECRET "\n" : "");
    if (server_start(&srv, dir, data, o->streams + 100, extra) != 0)
        goto out;
    uint64_t cap = (uint64_t)o->rate * (uint64_t)(o->seconds + 300) + (1u << 16);
    m.hist = calloc(HIST_BUCKETS + 1, sizeof *m.hist);
    if (o->auth && !(headers = jwt_headers(o->streams)))
        goto out;
    if (!m.hist || observer_start(&obs, data, cap) != 0 ||
        !(cl = client_new(srv.port, (size_t)o->streams, &m, headers)))
        goto out;
    if (client_open_all(cl, (size_t)o->streams, OPEN_TIMEOUT_MS) != 0)
        goto out;
    rc = live_measure(cl, &m, o, srv.pid, sim, p99);
out:
    observer_stop(&obs);
    if (srv.pid > 0 && server_stop(&srv) != 0)
        rc = -1;
    if (sim > 0)
        child_stop(sim, 5000, NULL);
    lc_free(cl);
    meas_free(&m);
    if (rc != 0)
        fprintf(stderr, "bench: stream.live%s FAILED (see above)\n", o->auth ? "_auth" : "");
    headers_free(headers, o->streams);
    tmpdir_remove(dir);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Idle streams: memory per stream                                                          */

/* The end that stream.idle_mem and stream.churn share: stop the server if it still runs, free
 * the load client, say FAILED when rc is not 0, remove the directory. Returns rc. */
static int bench_end(const char *name, int rc, server_t *srv, lc_t *cl, const char *dir)
{
    if (srv->pid > 0)
        server_stop(srv);
    lc_free(cl);
    if (rc != 0)
        fprintf(stderr, "bench: %s FAILED (see above)\n", name);
    tmpdir_remove(dir);
    return rc;
}

/* What stream.idle_mem and stream.churn start from: a fresh server in dir with no feeds and
 * room for n streams, a load client of n streams, and the server's VmRSS once it settled.
 * Returns 0, or -1 (what was set up is left to bench_end). */
static int idle_setup(const char *dir, long n, server_t *srv, lc_t **cl, long *rss0)
{
    char data[PATH_MAX];
    snprintf(data, sizeof data, "%s/data", dir);
    if (server_start(srv, dir, data, n + 100, NULL) != 0 || !(*cl = client_new(srv->port, (size_t)n, NULL, NULL)))
        return -1;
    usleep(200000);
    *rss0 = proc_rss_kib(srv->pid);
    return 0;
}

/* Start a fresh server with no feeds, open n idle streams, hold them hold_ms; the growth of the
 * server's RSS per stream. (The load test, tests/integration/test_load.c, holds 10,000 such
 * streams against the ASan build and checks each of them.) */
static int bench_idle(long n, long hold_ms)
{
    const char *dir = tmpdir_new();
    server_t srv = {.pid = -1};
    lc_t *cl = NULL;
    long rss0 = -1, rss1 = -1;
    int rc = -1, opened = -1, alive = 0, stopped = -1;
    if (!dir)
        return -1;
    if (idle_setup(dir, n, &srv, &cl, &rss0) != 0)
        goto out;
    opened = client_open_all(cl, (size_t)n, OPEN_TIMEOUT_MS);
    lc_run_until(cl, clock_mono_ns() + hold_ms * 1000000LL);
    rss1 = proc_rss_kib(srv.pid);
    alive = waitpid(srv.pid, NULL, WNOHANG) == 0;
    stopped = server_stop(&srv);   /* with the streams open: the shutdown path ends them */
    if (opened == 0 && alive && rss0 > 0 && rss1 > 0)
        bench_report("stream.idle_mem  %.1f KiB per idle stream (target <= 5.5 KiB)  [VmRSS %ld -> %ld KiB with %ld "
               "streams; kernel socket memory not included]", (rss1 - rss0) / (double)n, rss0, rss1, n);
    rc = opened == 0 && alive && stopped == 0 && rss0 > 0 && rss1 > 0 ? 0 : -1;
out:
    return bench_end("stream.idle_mem", rc, &srv, cl, dir);
}

/* ---------------------------------------------------------------------------------------- */
/* Churn: streams that leave and come back                                                  */

#define CHURN_ROUNDS 3
#define CHURN_SETTLE_S 10                /* RSS is read this long after the last close */

typedef struct {
    long free_ms[CHURN_ROUNDS];          /* first close -> the server reports 0 open; -1: never */
    long close_ms[CHURN_ROUNDS];         /* how long the client took to close them all */
    uint64_t refused;                    /* non-200 answers while reopening */
    long rss0, rss_peak, rss_settled;    /* KiB */
    long rss_after[CHURN_SETTLE_S];      /* KiB, 1, 2 ... s after the last close */
} churn_result_t;

/* as_streams_open in the server's /metrics, or -1. */
static long streams_open(int port)
{
    char u[64];
    h_resp_t r;
    long v = -1;
    snprintf(u, sizeof u, "http://127.0.0.1:%d/metrics", port);
    if (h_get(u, &r) == 0 && r.status == 200 && r.body) {
        const char *p = strstr(r.body, "\nas_streams_open ");
        v = p ? strtol(p + 17, NULL, 10) : -1;
    }
    h_resp_free(&r);
    return v;
}

/* Poll /metrics every 10 ms until no stream is open; ms since t0_ns, or -1 after timeout_ms. */
static long wait_all_free(int port, int64_t t0_ns, int timeout_ms)
{
    while (streams_open(port) != 0) {
        if (clock_mono_ns() - t0_ns > timeout_ms * 1000000LL)
            return -1;
        usleep(10000);
    }
    return (long)((clock_mono_ns() - t0_ns) / 1000000);
}

/* Open (resuming after round 0) every stream, note the refusals and the RSS, hold them a
 * moment, then close them all at once and time the server's release. Returns 0 when all
 * streams were live and the server freed every slot. */
static int churn_round(lc_t *cl, const server_t *srv, size_t n, int round, churn_result_t *r)
{
    uint64_t non200 = lc_stats(cl)->non200;
    int64_t t0 = clock_mono_ns();
    lc_open_all(cl, round ? LC_RESUME : 0);
    lc_wait_open(cl, OPEN_TIMEOUT_MS);
    size_t live = lc_stats(cl)->live;
    printf("  (round %d: %zu of %zu streams live in %.1f s)\n", round + 1, live, n, (clock_mono_ns() - t0) / 1e9);
    r->refused += lc_stats(cl)->non200 - non200;
    lc_run_until(cl, clock_mono_ns() + 500000000LL);
    long rss = proc_rss_kib(srv->pid);
    r->rss_peak = rss > r->rss_peak ? rss : r->rss_peak;
    t0 = clock_mono_ns();
    for (size_t i = 0; i < n; i++)
        lc_close(cl, i, i % 2 ? LC_RST : LC_FIN);
    r->close_ms[round] = (long)((clock_mono_ns() - t0) / 1000000);
    r->free_ms[round] = wait_all_free(srv->port, t0, 30000);
    return live == n && r->free_ms[round] >= 0 ? 0 : -1;
}

static void churn_report(long n, const churn_result_t *r)
{
    bench_report("stream.churn     %ld streams x%d: every slot free %ld / %ld / %ld ms after the first close "
           "(target <= 1000), %" PRIu64 " refused (target 0), VmRSS %.1f -> %.1f (peak) -> %.1f MiB %d s "
           "after the last close (target <= +10 MiB)",
           n, CHURN_ROUNDS, r->free_ms[0], r->free_ms[1], r->free_ms[2], r->refused, r->rss0 / 1024.0,
           r->rss_peak / 1024.0, r->rss_settled / 1024.0, CHURN_SETTLE_S);
    printf("  (closing the streams took the client %ld / %ld / %ld ms; max_streams %ld; VmRSS each second after "
           "the last close, MiB:", r->close_ms[0], r->close_ms[1], r->close_ms[2], n + 100);
    for (int i = 0; i < CHURN_SETTLE_S; i++)
        printf(" %.1f", r->rss_after[i] / 1024.0);
    printf(")\n");
}

/* A fresh server with no feeds and max_streams n + 100; CHURN_ROUNDS rounds of n streams
 * opened, held, closed and reopened a second later with their last ids. */
static int bench_churn(long n)
{
    const char *dir = tmpdir_new();
    server_t srv = {.pid = -1};
    lc_t *cl = NULL;
    churn_result_t r;
    int rc = -1;
    memset(&r, 0, sizeof r);
    if (!dir)
        return -1;
    if (idle_setup(dir, n, &srv, &cl, &r.rss0) != 0)
        goto out;
    rc = 0;
    for (int round = 0; round < CHURN_ROUNDS && rc == 0; round++) {
        rc = churn_round(cl, &srv, (size_t)n, round, &r);
        if (round + 1 < CHURN_ROUNDS)
            usleep(1000000);   /* back a second later */
    }
    for (int i = 0; i < CHURN_SETTLE_S; i++) {
        sleep(1);
        r.rss_after[i] = proc_rss_kib(srv.pid);
    }
    r.rss_settled = r.rss_after[CHURN_SETTLE_S - 1];
    churn_report(n, &r);
    if (server_stop(&srv) != 0 || r.refused)
        rc = -1;
out:
    return bench_end("stream.churn", rc, &srv, cl, dir);
}

/* ---------------------------------------------------------------------------------------- */
/* main                                                                                     */

typedef struct {
    long history, streams, rate, seconds;
    const char *only;            /* NULL: all of them */
} opts_t;

static void usage(FILE *f)
{
    fprintf(f,
        "usage: bench_stream [options]\n"
        "  --history N     activities replayed by stream.history (default 1000000)\n"
        "  --streams N     streams of stream.live, stream.idle_mem and stream.churn (default 10000)\n"
        "  --rate R        activities/s ingested during stream.live (default 10: ~1 per commit)\n"
        "  --seconds S     stream.live measurement window (default 10)\n"
        "  --only B,...    run these benchmarks: history, live, live_auth, idle, churn\n"
        "Binaries: AS_SERVER (default bin/activity-stream), AS_FEEDSIM (default bin/feedsim).\n");
}

static int parse_long(const char *s, long min, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min)
        return -1;
    *out = v;
    return 0;
}

static const char *const bench_names[] = {"history", "live", "live_auth", "idle", "churn"};

static int parse_args(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){.history = 1000000, .streams = 10000, .rate = 10, .seconds = 10};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (!v) {
            bad = 1;
        } else if (strcmp(a, "--history") == 0) {
            bad = parse_long(v, 1, &o->history);
        } else if (strcmp(a, "--streams") == 0) {
            bad = parse_long(v, 1, &o->streams);
        } else if (strcmp(a, "--rate") == 0) {
            bad = parse_long(v, 1, &o->rate);
        } else if (strcmp(a, "--seconds") == 0) {
            bad = parse_long(v, 1, &o->seconds);
        } else if (strcmp(a, "--only") == 0) {
            o->only = v;
            bad = !bench_only_ok(v, bench_names, sizeof bench_names / sizeof bench_names[0]);
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "bench_stream: bad option %s%s%s\n", a, v ? " " : "", v ? v : "");
            usage(stderr);
            return -1;
        }
        i++;
    }
    return 0;
}

/* The client needs one descriptor per stream. */
static int raise_nofile(long streams)
{
    uint64_t limit = 0;
    if (lc_raise_nofile((size_t)streams, &limit) == 0)
        return 0;
    fprintf(stderr, "bench_stream: the open-file limit is %" PRIu64 ", below the %ld streams + 64 needed "
                    "(raise the hard limit: ulimit -Hn)\n", limit, streams);
    return -1;
}

int main(int argc, char **argv)
{
    opts_t o;
    bench_machine_t mach;
    int failed = 0;
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    install_cleanup();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (raise_nofile(o.streams) != 0)
        return 1;
    if (bench_wants(o.only, "history"))
        failed |= bench_history(o.history) != 0;
    live_opts_t lo = {.streams = o.streams, .rate = o.rate, .seconds = o.seconds};
    double p99 = 0, p99_auth = 0;
    if (bench_wants(o.only, "live"))
        failed |= bench_live(&lo, &p99) != 0;
    if (bench_wants(o.only, "live_auth")) {
        lo.auth = 1;
        failed |= bench_live(&lo, &p99_auth) != 0;
    }
    if (p99 > 0 && p99_auth > 0)
        bench_report("stream.live_auth p99 = %.2f x stream.live p99 (target <= 1.10)", p99_auth / p99);
    if (bench_wants(o.only, "idle"))
        failed |= bench_idle(o.streams, 1000) != 0;
    if (bench_wants(o.only, "churn"))
        failed |= bench_churn(o.streams) != 0;
    bench_machine(&mach, "unknown cpu");
    bench_report("machine: %s, %ld cores, %s", mach.arch, mach.cores, mach.model);
    bench_summary(failed ? "stream benchmarks (some FAILED: see above)" : "stream benchmarks");
    return failed ? 1 : 0;
}
