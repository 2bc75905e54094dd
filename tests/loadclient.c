/* loadclient.c -- many SSE streams from one epoll thread (see loadclient.h).
 *
 * Each stream is a conn_t whose first member is the lc_stream_t that callers read. A stream is
 * in at most one place: the queue (LC_QUEUED), the epoll set (LC_CONNECTING, LC_WAITING,
 * LC_LIVE), or neither. The counters of lc_stats_t move only in conn_set_state, so they always
 * agree with the states. */
#include "loadclient.h"
#include "clock.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUF (256 * 1024)
#define REQ_MAX 4096
#define DEFAULT_PENDING 256
#define CARRY 72          /* the lines that matter (status, retry:, id: <64 bytes, event:) fit */
#define MAX_EVENTS 1024

/* The event of the block being read (its `event:` line). */
enum { EV_NONE, EV_LIVE, EV_CHANGE, EV_END, EV_OTHER };

typedef struct {
    lc_stream_t pub;              /* base: what lc_stream() lends out */
    int fd;                       /* owned; -1: none */
    uint8_t carry_len, pend_kind, pend_id_len;
    unsigned hdr_done : 1, truncated : 1, resume : 1, pend_has_id : 1, pend_live_id : 1;
    uint64_t pend_seq;            /* the block's id as l<seq>, when pend_live_id */
    char pend_id[LC_ID_MAX];      /* the block's id line, NUL-terminated */
    char carry[CARRY];            /* the start of a line that the last read cut */
} conn_t;

struct lc {
    int ep;                       /* owned epoll descriptor */
    struct sockaddr_in addr;
    char req[REQ_MAX];            /* "GET <target> HTTP/1.0\r\n<headers>", without the final CRLF */
    size_t req_len;
    conn_t *c;                    /* owned, [n] */
    size_t n;
    uint32_t *queue;              /* owned ring of n: streams to connect, oldest first */
    size_t qhead, qlen;
    size_t max_pending;
    unsigned max_retries;
    lc_live_fn *on_live;
    void *ud;
    lc_headers_fn *stream_headers;
    void *headers_ud;
    lc_stats_t st;
    char *rbuf;                   /* owned, READ_BUF */
};

/* ---------------------------------------------------------------------------------------- */
/* States and counters                                                                        */

static size_t *state_counter(lc_t *cl, lc_state_t s)
{
    switch (s) {
    case LC_QUEUED: return &cl->st.queued;
    case LC_CONNECTING:
    case LC_WAITING: return &cl->st.opening;
    case LC_LIVE: return &cl->st.live;
    case LC_FAILED: return &cl->st.failed;
    default: return NULL;
    }
}

static void conn_set_state(lc_t *cl, conn_t *c, lc_state_t s)
{
    size_t *from = state_counter(cl, c->pub.state), *to = state_counter(cl, s);
    if (from)
        (*from)--;
    if (to)
        (*to)++;
    c->pub.state = s;
}

static void queue_push(lc_t *cl, uint32_t i)
{
    cl->queue[(cl->qhead + cl->qlen++) % cl->n] = i;
    conn_set_state(cl, &cl->c[i], LC_QUEUED);
}

static uint32_t queue_pop(lc_t *cl)
{
    uint32_t i = cl->queue[cl->qhead];
    cl->qhead = (cl->qhead + 1) % cl->n;
    cl->qlen--;
    return i;
}

/* Take i out of the queue (lc_close of a queued stream): the entries after it move up. */
static void queue_remove(lc_t *cl, uint32_t i)
{
    size_t k = 0;
    while (k < cl->qlen && cl->queue[(cl->qhead + k) % cl->n] != i)
        k++;
    for (; k + 1 < cl->qlen; k++)
        cl->queue[(cl->qhead + k) % cl->n] = cl->queue[(cl->qhead + k + 1) % cl->n];
    if (k < cl->qlen)
        cl->qlen--;
}

/* ---------------------------------------------------------------------------------------- */
/* Connections                                                                                */

static void conn_reset_response(conn_t *c)
{
    c->pub.status = 0;
    c->pub.got_retry = c->pub.got_live = c->pub.got_end = 0;
    c->carry_len = c->pend_kind = c->pend_id_len = 0;
    c->hdr_done = c->truncated = c->pend_has_id = c->pend_live_id = 0;
}

static void fd_close(conn_t *c, int how)
{
    if (c->fd < 0)
        return;
    if (how == LC_RST) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    } else if (how == LC_FIN) {
        /* close() with unread bytes would send a reset instead of the FIN */
        char sink[4096];
        shutdown(c->fd, SHUT_WR);
        while (read(c->fd, sink, sizeof sink) > 0)
            ;
    }
    close(c->fd);   /* also leaves the epoll set */
    c->fd = -1;
}

/* Start a non-blocking connect. Returns 0, or -1 (no socket is left open). */
static int conn_connect(lc_t *cl, uint32_t i)
{
    conn_t *c = &cl->c[i];
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = i};
    conn_reset_response(c);
    c->pub.attempts++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0 ||
        (connect(c->fd, (struct sockaddr *)&cl->addr, sizeof cl->addr) != 0 && errno != EINPROGRESS) ||
        epoll_ctl(cl->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        cl->st.last_errno = errno;
        fd_close(c, -1);
        return -1;
    }
    conn_set_state(cl, c, LC_CONNECTING);
    return 0;
}

/* An attempt ended before `live` or `end`: queue another, or give up. */
static void conn_retry(lc_t *cl, uint32_t i)
{
    conn_t *c = &cl->c[i];
    if (c->pub.attempts <= cl->max_retries) {
        cl->st.retries++;
        queue_push(cl, i);
        return;
    }
    conn_set_state(cl, c, LC_FAILED);
}

/* The connection ended on the server's side, or failed. */
static void conn_lost(lc_t *cl, uint32_t i)
{
    conn_t *c = &cl->c[i];
    fd_close(c, -1);
    if (c->pub.got_end) {
        conn_set_state(cl, c, LC_CLOSED);   /* a finite stream is complete */
    } else if (c->pub.got_live) {
        c->pub.drops++;
        cl->st.dropped++;
        conn_set_state(cl, c, LC_CLOSED);
    } else {
        conn_retry(cl, i);
    }
}

/* Start queued connections while fewer than max_pending are opening. */
static void fill(lc_t *cl)
{
    while (cl->st.opening < cl->max_pending && cl->qlen) {
        uint32_t i = queue_pop(cl);
        conn_set_state(cl, &cl->c[i], LC_IDLE);   /* off the queue */
        if (conn_connect(cl, i) != 0) {
            conn_retry(cl, i);   /* out of descriptors, say: try again at the next poll */
            return;
        }
    }
}

/* The request of stream i, with its own headers and Last-Event-ID when resuming. Returns its
 * length (0: it does not fit). */
static size_t build_request(const lc_t *cl, uint32_t i, char *buf, size_t cap)
{
    const conn_t *c = &cl->c[i];
    const char *own = cl->stream_headers ? cl->stream_headers(cl->headers_ud, i) : NULL;
    int n;
    if (c->resume && c->pub.last_id[0])
        n = snprintf(buf, cap, "%.*s%sLast-Event-ID: %s\r\n\r\n", (int)cl->req_len, cl->req, own ? own : "",
                     c->pub.last_id);
    else
        n = snprintf(buf, cap, "%.*s%s\r\n", (int)cl->req_len, cl->req, own ? own : "");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* The connect completed (or failed): send the request, then wait for the response. */
static void conn_writable(lc_t *cl, uint32_t i)
{
    conn_t *c = &cl->c[i];
    char req[REQ_MAX + LC_STREAM_HEADERS_MAX + LC_ID_MAX + 32];
    size_t len = build_request(cl, i, req, sizeof req);
    int err = 0;
    socklen_t elen = sizeof err;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = i};
    if (len == 0 || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0 ||
        write(c->fd, req, len) != (ssize_t)len || epoll_ctl(cl->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        cl->st.last_errno = err ? err : errno;
        conn_lost(cl, i);   /* refused, reset...: retried */
        return;
    }
    conn_set_state(cl, c, LC_WAITING);
}

/* ---------------------------------------------------------------------------------------- */
/* The response                                                                               */

static uint64_t parse_u64(const char *s, size_t len)
{
    uint64_t v = 0;
    for (size_t k = 0; k < len && s[k] >= '0' && s[k] <= '9'; k++)
        v = v * 10 + (uint64_t)(s[k] - '0');
    return v;
}

static int line_is(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && memcmp(s, lit, n) == 0;
}

static void header_line(lc_t *cl, conn_t *c, const char *s, size_t len)
{
    if (c->pub.status == 0) {
        int status = len >= 12 && memcmp(s, "HTTP/1.", 7) == 0 ? (int)parse_u64(s + 9, 3) : 0;
        c->pub.status = status > 0 ? status : -1;
        cl->st.non200 += status != 200;
    } else if (len == 0) {
        c->hdr_done = 1;
    }
}

static void on_live(lc_t *cl, conn_t *c)
{
    if (c->pub.got_live)
        return;
    c->pub.got_live = 1;
    c->pub.last_seq = c->pend_live_id ? c->pend_seq : 0;
    conn_set_state(cl, c, LC_LIVE);
}

/* An `activity` or `delete` event. */
static void on_change(lc_t *cl, uint32_t i, int64_t now)
{
    conn_t *c = &cl->c[i];
    c->pub.events++;
    if (!c->pub.got_live || !c->pend_live_id) {
        cl->st.unsequenced++;
        return;
    }
    if (cl->on_live)
        cl->on_live(cl->ud, i, &c->pub, c->pend_seq, now);
    if (c->pend_seq > c->pub.last_seq)
        c->pub.last_seq = c->pend_seq;
}

/* The blank line that ends a block: the event takes effect, as EventSource dispatches it. */
static void end_block(lc_t *cl, uint32_t i, int64_t now)
{
    conn_t *c = &cl->c[i];
    if (c->pend_has_id)
        memcpy(c->pub.last_id, c->pend_id, (size_t)c->pend_id_len + 1);
    if (c->pend_kind == EV_LIVE)
        on_live(cl, c);
    else if (c->pend_kind == EV_CHANGE)
        on_change(cl, i, now);
    else if (c->pend_kind == EV_END)
        c->pub.got_end = 1;
    c->pend_kind = EV_NONE;
    c->pend_has_id = c->pend_live_id = 0;
}

static void id_line(conn_t *c, const char *v, size_t len)
{
    c->pend_has_id = len < LC_ID_MAX;
    if (!c->pend_has_id)
        return;
    memcpy(c->pend_id, v, len);
    c->pend_id[len] = 0;
    c->pend_id_len = (uint8_t)len;
    c->pend_live_id = len > 1 && v[0] == 'l';
    c->pend_seq = c->pend_live_id ? parse_u64(v + 1, len - 1) : 0;
}

static int event_kind(const char *s, size_t len)
{
    if (line_is(s, len, "activity") || line_is(s, len, "delete"))
        return EV_CHANGE;
    if (line_is(s, len, "live"))
        return EV_LIVE;
    return line_is(s, len, "end") ? EV_END : EV_OTHER;
}

/* One line of the response (without its \n). Only a few kinds matter. */
static void process_line(lc_t *cl, uint32_t i, const char *s, size_t len, int64_t now)
{
    conn_t *c = &cl->c[i];
    if (len && s[len - 1] == '\r')
        len--;
    if (!c->hdr_done)
        header_line(cl, c, s, len);
    else if (len == 0)
        end_block(cl, i, now);
    else if (len >= 4 && memcmp(s, "id: ", 4) == 0)
        id_line(c, s + 4, len - 4);
    else if (len >= 7 && memcmp(s, "event: ", 7) == 0)
        c->pend_kind = (uint8_t)event_kind(s + 7, len - 7);
    else if (len >= 6 && memcmp(s, "retry:", 6) == 0)
        c->pub.got_retry = 1;
}

/* Split a read into lines; a line cut by the read boundary is carried (its first CARRY bytes;
 * a longer one is a data line and is ignored). */
static void parse_chunk(lc_t *cl, uint32_t i, const char *p, size_t n, int64_t now)
{
    conn_t *c = &cl->c[i];
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t seg = (size_t)((nl ? nl : end) - p);
        if (nl && !c->carry_len && !c->truncated) {
            process_line(cl, i, p, seg, now);
        } else {
            size_t room = CARRY - c->carry_len, k = seg < room ? seg : room;
            memcpy(c->carry + c->carry_len, p, k);
            c->carry_len += (uint8_t)k;
            c->truncated |= k < seg;
            if (!nl)
                return;
            if (!c->truncated)
                process_line(cl, i, c->carry, c->carry_len, now);
            c->carry_len = 0;
            c->truncated = 0;
        }
        p = nl + 1;
    }
}

static void conn_readable(lc_t *cl, uint32_t i)
{
    for (int round = 0; round < 4; round++) {
        ssize_t n = read(cl->c[i].fd, cl->rbuf, READ_BUF);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            if (n < 0)
                cl->st.last_errno = errno;
            conn_lost(cl, i);
            return;
        }
        cl->st.bytes += (uint64_t)n;
        parse_chunk(cl, i, cl->rbuf, (size_t)n, clock_mono_ns());
        if ((size_t)n < READ_BUF)
            return;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The interface                                                                              */

static int build_prefix(lc_t *cl, const lc_opts_t *o)
{
    int n = snprintf(cl->req, sizeof cl->req, "GET %s HTTP/1.0\r\n%s", o->target ? o->target : "/stream",
                     o->headers ? o->headers : "");
    if (n < 0 || (size_t)n >= sizeof cl->req)
        return LC_ERR_ARG;
    cl->req_len = (size_t)n;
    return 0;
}

int lc_new(lc_t **out, const lc_opts_t *o, size_t n)
{
    lc_t *cl = calloc(1, sizeof *cl);
    int rc = LC_ERR_NOMEM;
    *out = NULL;
    if (!cl)
        return rc;
    cl->ep = -1;
    if (n == 0 || n > UINT32_MAX || build_prefix(cl, o) != 0) {
        rc = LC_ERR_ARG;
        goto err;
    }
    cl->c = calloc(n, sizeof *cl->c);
    cl->queue = calloc(n, sizeof *cl->queue);
    cl->rbuf = malloc(READ_BUF);
    if (!cl->c || !cl->queue || !cl->rbuf)
        goto err;
    if ((cl->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        rc = LC_ERR_SYS;
        goto err;
    }
    cl->n = n;
    for (size_t i = 0; i < n; i++)
        cl->c[i].fd = -1;
    cl->addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cl->max_pending = o->max_pending ? o->max_pending : DEFAULT_PENDING;
    cl->max_retries = o->max_retries;
    cl->on_live = o->on_live;
    cl->ud = o->ud;
    cl->stream_headers = o->stream_headers;
    cl->headers_ud = o->headers_ud;
    *out = cl;
    return 0;
err:
    lc_free(cl);
    return rc;
}

void lc_free(lc_t *cl)
{
    if (!cl)
        return;
    for (size_t i = 0; cl->c && i < cl->n; i++)
        fd_close(&cl->c[i], -1);
    if (cl->ep >= 0)
        close(cl->ep);
    free(cl->c);
    free(cl->queue);
    free(cl->rbuf);
    free(cl);
}

int lc_close(lc_t *cl, size_t i, int how)
{
    if (i >= cl->n)
        return LC_ERR_ARG;
    conn_t *c = &cl->c[i];
    if (c->pub.state == LC_QUEUED)
        queue_remove(cl, (uint32_t)i);
    fd_close(c, how);
    conn_set_state(cl, c, LC_IDLE);
    return 0;
}

void lc_close_all(lc_t *cl, int how)
{
    cl->qlen = 0;   /* every queued stream leaves the queue: no need to search it */
    for (size_t i = 0; i < cl->n; i++) {
        if (cl->c[i].pub.state == LC_QUEUED)
            conn_set_state(cl, &cl->c[i], LC_IDLE);
        lc_close(cl, i, how);
    }
}

int lc_open(lc_t *cl, size_t i, int flags)
{
    if (i >= cl->n)
        return LC_ERR_ARG;
    conn_t *c = &cl->c[i];
    if (c->pub.state != LC_QUEUED) {
        lc_close(cl, i, LC_FIN);
        queue_push(cl, (uint32_t)i);
    }
    c->resume = (flags & LC_RESUME) != 0;
    c->pub.attempts = 0;
    conn_reset_response(c);
    fill(cl);
    return 0;
}

int lc_open_all(lc_t *cl, int flags)
{
    for (size_t i = 0; i < cl->n; i++)
        lc_open(cl, i, flags);
    return 0;
}

int lc_poll(lc_t *cl, int timeout_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    int64_t t0 = clock_mono_ns();
    int n = epoll_wait(cl->ep, evs, MAX_EVENTS, timeout_ms);
    cl->st.wait_ns += clock_mono_ns() - t0;
    if (n < 0 && errno != EINTR) {
        cl->st.last_errno = errno;
        return LC_ERR_SYS;
    }
    for (int k = 0; k < n; k++) {
        uint32_t i = evs[k].data.u32;
        if (cl->c[i].fd < 0)
            continue;   /* closed by an earlier event of this batch */
        if (cl->c[i].pub.state == LC_CONNECTING)
            conn_writable(cl, i);
        else
            conn_readable(cl, i);
    }
    fill(cl);
    return n > 0 ? n : 0;
}

void lc_run_until(lc_t *cl, int64_t deadline_ns)
{
    int64_t now;
    while ((now = clock_mono_ns()) < deadline_ns) {
        int64_t ms = (deadline_ns - now) / 1000000;
        lc_poll(cl, ms > 50 ? 50 : (int)ms);
    }
}

int lc_wait_open(lc_t *cl, int timeout_ms)
{
    int64_t deadline = clock_mono_ns() + (int64_t)timeout_ms * 1000000;
    while (cl->st.queued + cl->st.opening > 0) {
        int64_t left_ms = (deadline - clock_mono_ns()) / 1000000;
        if (left_ms <= 0)
            return LC_ERR_TIMEOUT;
        lc_poll(cl, left_ms > 50 ? 50 : (int)left_ms);
    }
    return 0;
}

void lc_count_disorder(void *ud, size_t i, const lc_stream_t *s, uint64_t seq, int64_t recv_ns)
{
    uint64_t *bad = ud;
    *bad += seq != s->last_seq + 1;
}

const lc_stream_t *lc_stream(const lc_t *cl, size_t i)
{
    return &cl->c[i].pub;
}

const lc_stats_t *lc_stats(const lc_t *cl)
{
    return &cl->st;
}

void lc_count(const lc_t *cl, lc_count_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < cl->n; i++) {
        const lc_stream_t *s = &cl->c[i].pub;
        int open = s->state == LC_LIVE;
        out->no_retry += !s->got_retry;
        out->no_live += !s->got_live;
        out->not_open += !open;
        out->non200 += s->status != 0 && s->status != 200;
        out->ok += open && s->got_retry && s->got_live && s->status == 200;
    }
}

int lc_raise_nofile(size_t streams, uint64_t *limit)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return LC_ERR_NOFILE;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (limit)
        *limit = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)streams + 64)
        return LC_ERR_NOFILE;
    return 0;
}

const char *lc_strerror(int rc)
{
    switch (rc) {
    case 0: return "success";
    case LC_ERR_NOMEM: return "out of memory";
    case LC_ERR_SYS: return "a system call failed";
    case LC_ERR_ARG: return "bad argument (stream index, or a request over 4 KiB)";
    case LC_ERR_TIMEOUT: return "streams still opening when the time was up";
    case LC_ERR_NOFILE: return "the open-file limit is too low for the streams (raise the hard limit: ulimit -Hn)";
    default: return "unknown error";
    }
}
