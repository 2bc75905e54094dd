/* test_churn.c -- clients that come and go, against the real server (AS_SERVER) and feedsim.
 *
 * A client that closes (FIN) or resets (RST) its connection frees its slot within 1 s, over
 * HTTP/1.1 and over HTTP/2 (h2c), with a heartbeat far longer than that, and leaves no socket
 * behind in CLOSE-WAIT. 2,000 streams that drop at once and reconnect a second later with
 * Last-Event-ID are all admitted under max_streams: 2100, twice, and each continues exactly
 * where it stopped. max_streams_per_client counts clients by address (127.0.0.1 and 127.0.0.2
 * apart): 429 with Retry-After and the limit named, 503 naming max_streams when the server is
 * full instead, both counted in /metrics by reason, and a client's slot is back once one of
 * its streams ends; with access control, by client id (two clients behind one address apart).
 *
 * Single streams are opened by hand on raw sockets (the request bytes are the test's: HTTP/1.1
 * text, or the h2c preface and frames); the storm uses the load client (tests/loadclient.h). */
#include "clock.h"
#include "loadclient.h"
#include "testenv.h"
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FREED_WITHIN_MS 1000

TestSuite(churn, .fini = env_down);

/* ---- /metrics ---- */

static const char *const *metric_headers;   /* credentials for /metrics, when auth is on */

/* The value of the sample `name` (with its labels, e.g. `x_total{reason="a"}`), or -1. */
static long metric(const char *name)
{
    return h_metric(url("/metrics", NULL), metric_headers, name);
}

/* Poll /metrics every 20 ms until `name` is `want`; returns the ms it took, or -1 after
 * timeout_ms. */
static long wait_metric(const char *name, long want, int timeout_ms)
{
    int64_t t0 = clock_mono_ms();
    do {
        if (metric(name) == want)
            return (long)(clock_mono_ms() - t0);
        usleep(20000);
    } while (clock_mono_ms() - t0 < timeout_ms);
    return -1;
}

/* Sockets of the server's port in CLOSE-WAIT (state 08 in /proc/net/tcp). */
static int close_wait_sockets(void)
{
    char line[512];
    int n = 0;
    FILE *f = fopen("/proc/net/tcp", "r");
    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f)) {
        unsigned port, state;
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %x", &port, &state) == 2)
            n += port == (unsigned)E.port && state == 0x08;
    }
    fclose(f);
    return n;
}

/* ---- raw clients ---- */

/* Connect from `src` (a 127.0.0.x address) to the server and send req[len]. */
static int raw_connect(const char *src, const void *req, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in from = {.sin_family = AF_INET}, to = {.sin_family = AF_INET, .sin_port = htons(E.port)};
    inet_pton(AF_INET, src, &from.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&from, sizeof from), 0, "bind %s", src);
    cr_assert_eq(connect(fd, (struct sockaddr *)&to, sizeof to), 0);
    cr_assert_eq(write(fd, req, len), (ssize_t)len);
    return fd;
}

/* Read into buf (NUL-terminated; binary frames are searched as bytes) until `until` appears,
 * the server closes, or 5 s pass. Returns the bytes read. */
static size_t raw_read(int fd, char *buf, size_t cap, const char *until)
{
    size_t len = 0;
    int64_t deadline = clock_mono_ms() + 5000;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (len + 1 < cap && !(until && memmem(buf, len, until, strlen(until))) && clock_mono_ms() < deadline) {
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = 0;
    return len;
}

/* GET /stream over HTTP/1.1 from `src` with more header lines `extra` ("" or lines ending in
 * CRLF); returns the socket once `live` arrived. */
static int open_http1_with(const char *src, const char *extra)
{
    char req[512], buf[4096];
    int len = snprintf(req, sizeof req, "GET /stream HTTP/1.1\r\nHost: test\r\n%s\r\n", extra);
    int fd = raw_connect(src, req, (size_t)len);
    raw_read(fd, buf, sizeof buf, "event: live\n");
    cr_assert(strstr(buf, "HTTP/1.1 200") && strstr(buf, "event: live\n"), "no live stream: %s", buf);
    return fd;
}

static int open_http1(const char *src)
{
    return open_http1_with(src, "");
}

/* GET /stream over h2c with prior knowledge: the preface, an empty SETTINGS frame and one
 * HEADERS frame (stream 1, END_STREAM | END_HEADERS) whose HPACK block is :method GET (static
 * 2), :scheme http (6), :path "/stream" and :authority "test" (literals, names 4 and 1).
 * Returns the socket once the DATA carried `live`. */
static int open_h2c(void)
{
    static const char req[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                              "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
                              "\x00\x00\x11\x01\x05\x00\x00\x00\x01"
                              "\x82\x86\x44\x07/stream\x41\x04test";
    char buf[4096];
    int fd = raw_connect("127.0.0.1", req, sizeof req - 1);
    size_t len = raw_read(fd, buf, sizeof buf, "event: live\n");
    cr_assert(memmem(buf, len, "event: live\n", 12), "no live h2c stream (%zu bytes)", len);
    return fd;
}

/* Close as a client does: FIN (shut down, drain, close) or RST (linger 0). */
static void raw_close(int fd, int how)
{
    if (how == LC_RST) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    } else {
        char sink[4096];
        shutdown(fd, SHUT_WR);
        while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
            ;
    }
    close(fd);
}

/* ---- a client that leaves frees its slot ---- */

/* Open a stream with `open_fn`, leave as `how` says, and assert the slot, the hang-up and the
 * socket are all dealt with within FREED_WITHIN_MS. */
static void leave_and_check(int (*open_fn)(void), int how, const char *what)
{
    int fd = open_fn();
    cr_assert_eq(wait_metric("as_streams_open", 1, 2000) >= 0, 1, "%s: the stream is not counted", what);
    int64_t t0 = clock_mono_ms();
    raw_close(fd, how);
    long took = wait_metric("as_streams_open", 0, 5000);
    cr_assert(took >= 0 && took <= FREED_WITHIN_MS, "%s: the slot was freed after %ld ms (-1: not in 5 s)", what, took);
    while (close_wait_sockets() > 0 && clock_mono_ms() - t0 < FREED_WITHIN_MS)
        usleep(20000);
    cr_assert_eq(close_wait_sockets(), 0, "%s: the server's socket is still in CLOSE-WAIT", what);
}

static int open_http1_local(void)
{
    return open_http1("127.0.0.1");
}

Test(churn, http1_client_that_closes_or_resets_frees_its_slot_within_1s, .timeout = 60)
{
    env_up(0, "10m", "60s", 100);
    leave_and_check(open_http1_local, LC_FIN, "HTTP/1.1, FIN");
    leave_and_check(open_http1_local, LC_RST, "HTTP/1.1, RST");
    cr_assert_eq(metric("as_stream_hangups_total"), 2);
    cr_assert_eq(metric("as_streams_opened_total"), 2);
}

Test(churn, h2c_client_that_closes_or_resets_frees_its_slot_within_1s, .timeout = 60)
{
    env_up(0, "10m", "60s", 100);
    leave_and_check(open_h2c, LC_FIN, "h2c, FIN");
    leave_and_check(open_h2c, LC_RST, "h2c, RST");
    cr_assert_eq(metric("as_streams_opened_total"), 2);
}

/* ---- a reconnect storm ---- */

#define STORM 2000
#define STORM_BATCH 5

/* Add a batch at feedsim and wait until the server has stored it (the change-log head). */
static uint64_t add_batch(uint64_t head)
{
    char path[64];
    snprintf(path, sizeof path, "/_control/add?n=%d", STORM_BATCH);
    sim_post(path);
    head += STORM_BATCH;
    cr_assert_geq(wait_metric("as_changelog_head", (long)head, 10000), 0, "the batch was not ingested");
    return head;
}

/* Poll until every stream has change `seq` (at most 20 s). */
static void run_until_all_at(lc_t *cl, uint64_t seq)
{
    int64_t deadline = clock_mono_ms() + 20000;
    size_t i = 0;
    while (i < STORM && clock_mono_ms() < deadline) {
        if (lc_stream(cl, i)->last_seq >= seq)
            i++;
        else
            lc_poll(cl, 50);
    }
    cr_assert_eq(i, STORM, "stream %zu is at %" PRIu64 ", not %" PRIu64, i, lc_stream(cl, i)->last_seq, seq);
}

/* Every stream open, every response a 200 with `live`. */
static void assert_all_admitted(lc_t *cl, const char *when)
{
    lc_count_t k;
    cr_assert_eq(lc_wait_open(cl, 60000), 0, "%s: streams still opening", when);
    lc_count(cl, &k);
    cr_assert_eq(k.ok, STORM, "%s: %zu of %d streams admitted (%zu non-200, %zu failed)", when, k.ok, STORM,
                 k.non200, lc_stats(cl)->failed);
}

/* All streams leave at once (half FIN, half RST), stay away a second while a batch is
 * committed, and come back with Last-Event-ID. */
static uint64_t storm_round(lc_t *cl, uint64_t head)
{
    int64_t t0 = clock_mono_ms();
    for (size_t i = 0; i < STORM; i++)
        lc_close(cl, i, i % 2 ? LC_RST : LC_FIN);
    long freed = wait_metric("as_streams_open", 0, 5000);
    cr_assert(freed >= 0 && freed <= FREED_WITHIN_MS, "%d slots freed after %ld ms (-1: not in 5 s)", STORM, freed);
    head = add_batch(head);
    int64_t left = 1000 - (clock_mono_ms() - t0);
    if (left > 0)
        usleep((useconds_t)left * 1000);
    lc_open_all(cl, LC_RESUME);
    assert_all_admitted(cl, "after the reconnect");
    return head;
}

Test(churn, a_storm_of_2000_reconnecting_streams_is_admitted_and_exact, .timeout = 180)
{
    uint64_t limit, bad = 0, head = 0;
    lc_t *cl = NULL;
    cr_assert_eq(lc_raise_nofile(STORM, &limit), 0, "open-file limit %" PRIu64, limit);
    env_opts_t o = {.count = 0, .heartbeat = "60s", .max_streams = STORM + 100};
    env_up_opts(&o);
    lc_opts_t lo = {.port = E.port, .on_live = lc_count_disorder, .ud = &bad};
    cr_assert_eq(lc_new(&cl, &lo, STORM), 0);
    lc_open_all(cl, 0);
    assert_all_admitted(cl, "at the start");
    head = add_batch(head);
    run_until_all_at(cl, head);
    for (int round = 0; round < 2; round++) {
        head = storm_round(cl, head);
        head = add_batch(head);
        run_until_all_at(cl, head);
    }
    cr_assert_eq(bad, 0, "%" PRIu64 " changes arrived out of order or twice", bad);
    for (size_t i = 0; i < STORM; i++)
        cr_assert_eq(lc_stream(cl, i)->events, head, "stream %zu: %" PRIu64 " events of %" PRIu64, i,
                     lc_stream(cl, i)->events, head);
    cr_assert_eq(metric("as_streams_rejected_total{reason=\"max_streams\"}"), 0);
    lc_free(cl);
}

/* ---- max_streams_per_client ---- */

/* A stream from `src` (more header lines: `extra`) that must be refused: asserts the status,
 * Retry-After and the limit. */
static void assert_refused_with(const char *src, const char *extra, const char *status, const char *limit)
{
    char req[512], buf[4096], want[128];
    int len = snprintf(req, sizeof req, "GET /stream HTTP/1.1\r\nHost: test\r\n%s\r\n", extra);
    int fd = raw_connect(src, req, (size_t)len);
    raw_read(fd, buf, sizeof buf, "}");
    close(fd);
    snprintf(want, sizeof want, "\"limit\": \"%s\"", limit);
    cr_assert(strncmp(buf, status, strlen(status)) == 0, "from %s: %s", src, buf);
    cr_assert(strcasestr(buf, "\r\nretry-after: 5\r\n"), "%s", buf);
    cr_assert(strstr(buf, want) && strstr(buf, "\"error\": \"too many open streams"), "%s", buf);
}

static void assert_refused(const char *src, const char *status, const char *limit)
{
    assert_refused_with(src, "", status, limit);
}

Test(churn, max_streams_per_client_counts_each_address_apart, .timeout = 60)
{
    int a[3], b[2];
    env_opts_t o = {.count = 0, .max_streams = 5, .extra = "max_streams_per_client: 3\n"};
    env_up_opts(&o);
    for (int i = 0; i < 3; i++)
        a[i] = open_http1("127.0.0.1");
    assert_refused("127.0.0.1", "HTTP/1.1 429 Too Many Requests", "max_streams_per_client");
    for (int i = 0; i < 2; i++)
        b[i] = open_http1("127.0.0.2");   /* another client: not at its limit */
    assert_refused("127.0.0.2", "HTTP/1.1 503", "max_streams");   /* the server is full */
    cr_assert_eq(metric("as_streams_rejected_total{reason=\"max_streams_per_client\"}"), 1);
    cr_assert_eq(metric("as_streams_rejected_total{reason=\"max_streams\"}"), 1);
    cr_assert_eq(metric("as_streams_open"), 5);

    raw_close(a[0], LC_FIN);   /* 127.0.0.1's slot comes back with its stream */
    cr_assert(wait_metric("as_streams_open", 4, FREED_WITHIN_MS) >= 0);
    a[0] = open_http1("127.0.0.1");
    for (int i = 0; i < 3; i++)
        raw_close(a[i], LC_RST);
    for (int i = 0; i < 2; i++)
        raw_close(b[i], LC_FIN);
    cr_assert(wait_metric("as_streams_open", 0, FREED_WITHIN_MS) >= 0);
}

/* With access control a client is its id, wherever it connects from: two clients behind one
 * address (a proxy, a NAT) each get their share. */
Test(churn, max_streams_per_client_counts_each_authenticated_client_apart, .timeout = 60)
{
    static const char *const one_h[] = {"Authorization: Bearer token-one-0123456789ab", NULL};
    const char *one = "Authorization: Bearer token-one-0123456789ab\r\n";
    const char *two = "Authorization: Bearer token-two-0123456789ab\r\n";
    int a[2], b[2];
    env_opts_t o = {.count = 0, .max_streams = 10,
                    .extra = "max_streams_per_client: 2\nauth:\n  clients:\n"
                             "    - id: one\n      token: token-one-0123456789ab\n      allow: [stream, metrics]\n"
                             "    - id: two\n      token: token-two-0123456789ab\n"};
    env_up_opts(&o);
    metric_headers = one_h;
    for (int i = 0; i < 2; i++)
        a[i] = open_http1_with("127.0.0.1", one);
    assert_refused_with("127.0.0.1", one, "HTTP/1.1 429 Too Many Requests", "max_streams_per_client");
    for (int i = 0; i < 2; i++)
        b[i] = open_http1_with("127.0.0.1", two);   /* the same address, another client */
    assert_refused_with("127.0.0.2", two, "HTTP/1.1 429 Too Many Requests", "max_streams_per_client");
    cr_assert_eq(metric("as_streams_rejected_total{reason=\"max_streams_per_client\"}"), 2);
    cr_assert_eq(metric("as_streams_open"), 4);
    for (int i = 0; i < 2; i++) {
        raw_close(a[i], LC_FIN);
        raw_close(b[i], LC_FIN);
    }
    cr_assert(wait_metric("as_streams_open", 0, FREED_WITHIN_MS) >= 0);
    metric_headers = NULL;
}

