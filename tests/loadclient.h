/* loadclient.h -- many SSE streams from one thread: the client of the load test
 * (tests/integration/test_load.c), the streaming benchmark (tests/bench/bench_stream.c) and
 * churn tests (clients that go away with a FIN or a reset and come back with their last id).
 *
 * One epoll set; non-blocking sockets to 127.0.0.1:port speaking HTTP/1.0, so a response is
 * close-delimited and never chunked. Of the response it reads only what a load test checks: the
 * status line, `retry:`, `id:` and `event:` (data lines are skipped), with a small carry per
 * stream for a line that a read cut in two. An event counts when its block ends (the blank
 * line), as EventSource dispatches it; its id becomes the stream's last id, and a live id
 * `l<seq>` is also read as a number.
 *
 * Streams are numbered 0..n-1 and opened on request (lc_open, lc_open_all). At most
 * `max_pending` are connecting or waiting for `live` at once, the rest wait in a queue, so a
 * burst of opens never overflows the server's listen backlog. A stream whose connection fails
 * before `live` or `end` (refused, reset, a status other than 200) is opened again, up to
 * `max_retries` times per lc_open.
 *
 * Nothing here prints and nothing is global. Not thread-safe: one lc_t per thread. Memory is
 * allocated by lc_new only (about 300 bytes per stream plus a 256 KiB read buffer). */
#ifndef LOADCLIENT_H
#define LOADCLIENT_H
#include <stddef.h>
#include <stdint.h>

typedef struct lc lc_t;   /* opaque */

#define LC_ID_MAX 64      /* event ids are shorter than this (the server promises it) */

/* Error codes (negative). */
enum {
    LC_ERR_NOMEM = -1,    /* an allocation failed */
    LC_ERR_SYS = -2,      /* a system call failed; errno says which */
    LC_ERR_ARG = -3,      /* a stream index out of range, or a request longer than 4 KiB */
    LC_ERR_TIMEOUT = -4,  /* streams were still opening when the time was up */
    LC_ERR_NOFILE = -5,   /* the open-file limit cannot be raised high enough */
};

/* Flags of lc_open and lc_open_all. */
enum {
    LC_RESUME = 1,        /* send Last-Event-ID: <the stream's last id> (when it has one) */
};

/* How lc_close ends a connection. */
enum {
    LC_FIN = 0,           /* shutdown, drain what is unread, close: an orderly FIN */
    LC_RST = 1,           /* SO_LINGER 0, close: the kernel sends a reset */
};

typedef enum {
    LC_IDLE,              /* no connection: never opened, or closed by lc_close */
    LC_QUEUED,            /* waiting until fewer than max_pending streams are opening */
    LC_CONNECTING,        /* non-blocking connect in progress */
    LC_WAITING,           /* request sent; reading the response up to `live` */
    LC_LIVE,              /* `live` received; the connection is open */
    LC_CLOSED,            /* the server closed the connection after `live` or `end` */
    LC_FAILED,            /* every attempt ended before `live` or `end` (see `status`) */
} lc_state_t;

/* What one stream has seen. "Per response" fields start again at each connection; the others
 * last across reconnects, so a resumed stream keeps counting where it stopped. */
typedef struct {
    lc_state_t state;
    int status;               /* per response: the HTTP status; 0 before the status line, -1 unreadable */
    unsigned got_retry : 1;   /* per response: a `retry:` line arrived */
    unsigned got_live : 1;    /* per response: the `live` event arrived */
    unsigned got_end : 1;     /* per response: the `end` event arrived */
    uint32_t attempts;        /* connections started since the last lc_open (1 + retries) */
    uint32_t drops;           /* times the server closed the stream after `live` */
    uint64_t events;          /* `activity` and `delete` events received */
    uint64_t last_seq;        /* seq of the last live id l<seq> (at `live`: the snapshot head); 0: none */
    char last_id[LC_ID_MAX];  /* id of the last event received, NUL-terminated; "": none */
} lc_stream_t;

/* Totals over all streams, kept up to date by every call. */
typedef struct {
    size_t queued;            /* streams in LC_QUEUED */
    size_t opening;           /* streams in LC_CONNECTING or LC_WAITING */
    size_t live;              /* streams in LC_LIVE */
    size_t failed;            /* streams in LC_FAILED */
    uint64_t dropped;         /* closes by the server after `live` */
    uint64_t non200;          /* responses whose status was not 200 */
    uint64_t retries;         /* connections started again after a failure before `live` */
    uint64_t unsequenced;     /* activity/delete events before `live`, or without a live id */
    uint64_t bytes;           /* response bytes read, headers included */
    int64_t wait_ns;          /* time spent inside epoll_wait (the rest: busy, or waiting for a core) */
    int last_errno;           /* errno of the last failed socket, connect, read or write; 0: none */
} lc_stats_t;

/* Called for each `activity` or `delete` event that carries a live id l<seq> on a stream past
 * `live`, BEFORE the stream's last_seq moves to seq (so s->last_seq is the previous one: a
 * caller can see gaps and repeats; last_seq only ever grows). `s` is BORROWED for the call.
 * recv_ns: clock_mono_ns() when the read that completed the event returned. It must not call
 * lc_open, lc_close or lc_free. */
typedef void lc_live_fn(void *ud, size_t i, const lc_stream_t *s, uint64_t seq, int64_t recv_ns);

/* More request header lines of stream i (each ending in "\r\n"; at most LC_STREAM_HEADERS_MAX
 * bytes in all), for credentials of its own: called at each connection of stream i, the string
 * BORROWED until the next call. NULL: none. */
#define LC_STREAM_HEADERS_MAX 2048
typedef const char *lc_headers_fn(void *ud, size_t i);

/* An lc_live_fn for checks of exactness: adds 1 to *(uint64_t *)ud for each change that is not
 * the one right after the stream's last (a gap, a repeat or a reordering), across reconnects
 * too. */
void lc_count_disorder(void *ud, size_t i, const lc_stream_t *s, uint64_t seq, int64_t recv_ns);

typedef struct {
    int port;                 /* the server, on 127.0.0.1 */
    const char *target;       /* request target, e.g. "/stream?start=now"; NULL: "/stream" */
    const char *headers;      /* extra request header lines, each ending in "\r\n"; NULL: none.
                               * Leave Last-Event-ID out when using LC_RESUME. */
    size_t max_pending;       /* streams connecting or waiting for `live` at once; 0: 256 */
    unsigned max_retries;     /* new attempts per lc_open after a failure before `live` */
    lc_live_fn *on_live;      /* NULL: none */
    void *ud;                 /* passed to on_live */
    lc_headers_fn *stream_headers;   /* NULL: every stream sends the same request */
    void *headers_ud;         /* passed to stream_headers */
} lc_opts_t;

/* A client of n streams (n <= UINT32_MAX), none open yet. The strings of `o` are copied.
 * Returns 0 and sets *out, or LC_ERR_NOMEM, LC_ERR_SYS (epoll_create1), LC_ERR_ARG (n, or the
 * request does not fit in 4 KiB). */
int lc_new(lc_t **out, const lc_opts_t *o, size_t n);

/* Close every connection and free the client. NULL is a no-op. */
void lc_free(lc_t *cl);

/* Queue stream i to be opened (with flags LC_RESUME: resume after its last id); a connection
 * it still has is closed first (LC_FIN). Resets the per-response fields and `attempts`.
 * Connections start during lc_open and the polls, as room under max_pending allows.
 * Returns 0 or LC_ERR_ARG. */
int lc_open(lc_t *cl, size_t i, int flags);

/* lc_open of every stream, in order. Returns 0. */
int lc_open_all(lc_t *cl, int flags);

/* End stream i's connection as `how` says (LC_FIN or LC_RST) and leave it LC_IDLE; a queued
 * stream leaves the queue. A stream without a connection only becomes LC_IDLE.
 * Returns 0 or LC_ERR_ARG. */
int lc_close(lc_t *cl, size_t i, int how);

/* lc_close of every stream. */
void lc_close_all(lc_t *cl, int how);

/* Wait up to timeout_ms (0: do not wait) for socket events, handle them, then start queued
 * connections. Returns the number of socket events handled, or LC_ERR_SYS (epoll_wait). */
int lc_poll(lc_t *cl, int timeout_ms);

/* lc_poll until clock_mono_ns() reaches deadline_ns (at most 50 ms per wait). */
void lc_run_until(lc_t *cl, int64_t deadline_ns);

/* lc_poll until no stream is queued or opening (each is live, closed or failed), at most
 * timeout_ms. Returns 0, or LC_ERR_TIMEOUT. How many got through: lc_stats()->live. */
int lc_wait_open(lc_t *cl, int timeout_ms);

/* Stream i (i < n), BORROWED: valid until lc_free, updated by the calls above. */
const lc_stream_t *lc_stream(const lc_t *cl, size_t i);

/* The totals, BORROWED: valid until lc_free, updated by the calls above. */
const lc_stats_t *lc_stats(const lc_t *cl);

/* A summary of every stream's current response, for a load test's verdict. */
typedef struct {
    size_t ok;                /* LC_LIVE, status 200, got `retry:` and `live` */
    size_t no_retry;          /* no `retry:` line */
    size_t no_live;           /* no `live` event */
    size_t not_open;          /* not LC_LIVE */
    size_t non200;            /* a status line other than 200 */
} lc_count_t;
void lc_count(const lc_t *cl, lc_count_t *out);

/* Raise this process's open-file limit to its hard limit, and check that it leaves room for
 * `streams` sockets and 64 more descriptors. *limit (may be NULL) gets the soft limit after.
 * Returns 0 or LC_ERR_NOFILE. Children started afterwards inherit the limit. */
int lc_raise_nofile(size_t streams, uint64_t *limit);

/* A static description of an LC_ERR_* code. */
const char *lc_strerror(int rc);

#endif
