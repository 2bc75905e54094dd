/* httpd.c -- feedsim's epoll HTTP/1.1 server: one thread, level-triggered epoll, one
 * connection state machine (read a request -> maybe wait -> write the response -> next).
 *
 * Requests on a connection are handled one at a time; pipelined bytes stay in the input
 * buffer until the response before them is written. Responses are written with one
 * sendmsg() of head + body. Limits: 32 KiB of request head, 1 MiB of request body. */
#include "httpd.h"
#include "clock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEAD (32 * 1024)
#define MAX_BODY (1024 * 1024)
#define KEEP_BUF (4 * 1024 * 1024)  /* buffers above this are freed between requests */

/* ---- buffers ---- */

int buf_reserve(buf_t *b, size_t extra)
{
    if (b->oom)
        return -ENOMEM;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -ENOMEM;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void buf_append(buf_t *b, const void *data, size_t len)
{
    if (buf_reserve(b, len) < 0)
        return;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
}

void buf_puts(buf_t *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_free(buf_t *b)
{
    free(b->p);
    *b = (buf_t){0};
}

/* Empty the buffer; give its memory back when it grew large. */
static void buf_reset(buf_t *b)
{
    if (b->cap > KEEP_BUF)
        buf_free(b);
    b->len = 0;
    b->oom = 0;
}

/* ---- connections ---- */

enum { C_READ, C_DELAY, C_WRITE };

typedef struct conn {
    int fd;
    int state;
    uint32_t events;            /* current epoll mask */
    buf_t in;                   /* received bytes; the current request starts at 0 */
    size_t req_len;             /* bytes of `in` the current request occupies */
    int sent_continue;          /* "100 Continue" sent for the current request */
    int eof;                    /* the peer finished sending */
    buf_t scratch;              /* the current request's head (parsed copy) and path */
    buf_t head, hdrs, body;     /* response being built / written */
    size_t off, body_send;      /* bytes written of head+body; body bytes to send */
    int close_after;
    int64_t due_ms;             /* C_DELAY: when to start writing */
    struct conn *prev, *next;   /* all connections */
    struct conn *dprev, *dnext; /* delayed connections */
} conn_t;

struct httpd {
    int epfd, lfd, sfd, port;
    httpd_handler_fn *handler;
    httpd_tick_fn *tick;
    void *ud;
    conn_t *conns;              /* owned list */
    conn_t *delayed;            /* borrowed list (subset of conns) */
};

static char listen_tag, signal_tag;

static void set_events(httpd_t *h, conn_t *c, uint32_t ev)
{
    if (c->events == ev)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(h->epfd, EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

static void delay_unlink(httpd_t *h, conn_t *c)
{
    if (c->state != C_DELAY)
        return;
    if (c->dprev)
        c->dprev->dnext = c->dnext;
    else
        h->delayed = c->dnext;
    if (c->dnext)
        c->dnext->dprev = c->dprev;
    c->dprev = c->dnext = NULL;
}

static void conn_close(httpd_t *h, conn_t *c)
{
    delay_unlink(h, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->scratch);
    buf_free(&c->head);
    buf_free(&c->hdrs);
    buf_free(&c->body);
    free(c);
}

static void on_accept(httpd_t *h)
{
    for (;;) {
        int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_t *c = calloc(1, sizeof *c);
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (!c || epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->events = EPOLLIN;
        c->next = h->conns;
        if (h->conns)
            h->conns->prev = c;
        h->conns = c;
    }
}

/* ---- responses ---- */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/* Build the response head in c->head; c->hdrs and c->body are already filled. */
static void build_head(conn_t *c, const httpd_resp_t *r, int head_only)
{
    int bodyless = r->status == 304 || r->status == 204 || r->status < 200;
    buf_printf(&c->head, "HTTP/1.1 %d %s\r\nServer: feedsim\r\n", r->status, reason_phrase(r->status));
    if (!bodyless)
        buf_printf(&c->head, "Content-Type: %s\r\nContent-Length: %zu\r\n",
                   r->content_type ? r->content_type : "application/json", c->body.len);
    if (c->hdrs.len)
        buf_append(&c->head, c->hdrs.p, c->hdrs.len);
    buf_puts(&c->head, c->close_after ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n");
    c->body_send = bodyless || head_only ? 0 : r->truncate ? c->body.len / 2 : c->body.len;
}

/* A response without handler involvement (protocol errors); always closes. */
static void simple_response(conn_t *c, int status, const char *msg)
{
    httpd_resp_t r = {.status = status, .content_type = "text/plain"};
    c->hdrs.len = c->body.len = 0;
    buf_printf(&c->body, "%s\n", msg);
    c->close_after = 1;
    build_head(c, &r, 0);
    c->off = 0;
    c->state = C_WRITE;
}

/* Write what we can. Returns 1 when the response is complete, 0 to wait, -1 to close. */
static int flush(conn_t *c)
{
    while (c->off < c->head.len + c->body_send) {
        struct iovec iov[2];
        int n = 0;
        if (c->off < c->head.len)
            iov[n++] = (struct iovec){c->head.p + c->off, c->head.len - c->off};
        size_t boff = c->off > c->head.len ? c->off - c->head.len : 0;
        if (c->body_send > boff)
            iov[n++] = (struct iovec){c->body.p + boff, c->body_send - boff};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (w <= 0)
            return -1;
        c->off += (size_t)w;
    }
    return 1;
}

/* The response is out: drop the request from the input and get ready for the next. */
static void finish_response(conn_t *c)
{
    memmove(c->in.p, c->in.p + c->req_len, c->in.len - c->req_len);
    c->in.len -= c->req_len;
    c->req_len = 0;
    c->sent_continue = 0;
    c->off = c->body_send = 0;
    buf_reset(&c->head);
    buf_reset(&c->hdrs);
    buf_reset(&c->body);
        c->state = C_READ;
}

/* ---- requests ---- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

const char *httpd_header(const httpd_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->hname[i], name) == 0)
            return r->hvalue[i];
    return NULL;
}

/* Split the head (NUL-terminated, lines ending in \n or \r\n) into req. Returns 0 or an
 * HTTP status for a bad request. *minor gets the HTTP minor version. */
static int parse_head(char *head, httpd_req_t *req, int *minor)
{
    char *save = NULL, *line = strtok_r(head, "\n", &save);
    if (!line)
        return 400;
    line[strcspn(line, "\r")] = '\0';
    char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1)
        return 400;
    *sp1 = *sp2 = '\0';
    if (strcmp(sp2 + 1, "HTTP/1.1") == 0)
        *minor = 1;
    else if (strcmp(sp2 + 1, "HTTP/1.0") == 0)
        *minor = 0;
    else
        return 400;
    req->method = line;
    req->target = sp1 + 1;
    if (req->target[0] != '/')
        return 400;
    while ((line = strtok_r(NULL, "\n", &save))) {
        line[strcspn(line, "\r")] = '\0';
        if (!*line)
            continue;
        char *colon = strchr(line, ':');
        if (!colon || colon == line)
            return 400;
        if (req->nheaders == HTTPD_MAX_HEADERS)
            return 431;
        *colon = '\0';
        req->hname[req->nheaders] = line;
        req->hvalue[req->nheaders++] = trim(colon + 1);
    }
    return 0;
}

static int parse_content_length(const char *v, size_t *out)
{
    char *end;
    if (!v) {
        *out = 0;
        return 0;
    }
    if (*v < '0' || *v > '9')
        return -1;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end || n > MAX_BODY)
        return -1;
    *out = (size_t)n;
    return 0;
}

static int wants_close(const httpd_req_t *req, int minor)
{
    const char *conn = httpd_header(req, "Connection");
    if (minor == 0)
        return !(conn && strcasestr(conn, "keep-alive"));
    return conn && strcasestr(conn, "close");
}

static void send_continue(conn_t *c, const httpd_req_t *req)
{
    const char *exp = httpd_header(req, "Expect");
    if (c->sent_continue || !exp || strcasecmp(exp, "100-continue") != 0)
        return;
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    ssize_t unused = send(c->fd, msg, sizeof msg - 1, MSG_NOSIGNAL);
    (void)unused;
    c->sent_continue = 1;
}

static void dispatch(httpd_t *h, conn_t *c, httpd_req_t *req, int minor)
{
    size_t qpos = strcspn(req->target, "?");
    req->path = c->scratch.p + c->scratch.len;
    buf_append(&c->scratch, req->target, qpos);   /* fits: reserved by try_request */
    req->query = req->target[qpos] ? req->target + qpos + 1 : "";
    httpd_resp_t r = {.status = 200, .headers = &c->hdrs, .body = &c->body};
    c->close_after = wants_close(req, minor);
    h->handler(h->ud, req, &r);
    if (c->hdrs.oom || c->body.oom) {
        buf_reset(&c->hdrs);
        buf_reset(&c->body);
        r = (httpd_resp_t){.status = 500, .content_type = "text/plain"};
    }
    c->close_after |= r.close || r.truncate;
    build_head(c, &r, strcmp(req->method, "HEAD") == 0);
    if (c->head.oom) {     /* nothing sensible can be sent */
        c->close_after = 1;
        c->head.len = c->body_send = 0;
    }
    c->off = 0;
    if (r.delay_ms <= 0) {
        c->state = C_WRITE;
        return;
    }
    c->state = C_DELAY;
    c->due_ms = clock_mono_ms() + r.delay_ms;
    c->dprev = NULL;
    c->dnext = h->delayed;
    if (h->delayed)
        h->delayed->dprev = c;
    h->delayed = c;
}

/* Where the head of the request at the start of c->in ends (0: not complete yet). */
static size_t head_length(const conn_t *c)
{
    if (c->in.len == 0)
        return 0;
    char *crlf = memmem(c->in.p, c->in.len, "\r\n\r\n", 4), *lf = memmem(c->in.p, c->in.len, "\n\n", 2);
    if (crlf && (!lf || crlf < lf))
        return (size_t)(crlf - c->in.p) + 4;
    return lf ? (size_t)(lf - c->in.p) + 2 : 0;
}

/* Look for a complete request in c->in. Returns 1 when one was handled (state changed),
 * 0 when more bytes are needed. The head is parsed in a copy (c->scratch), so the input
 * stays intact while a body is still arriving. */
static int try_request(httpd_t *h, conn_t *c)
{
    size_t hlen = head_length(c);
    if (hlen == 0 && c->in.len <= MAX_HEAD)
        return 0;
    if (hlen == 0 || hlen > MAX_HEAD) {
        simple_response(c, 431, "request head too large");
        return 1;
    }
    buf_reset(&c->scratch);
    if (buf_reserve(&c->scratch, 2 * hlen + 2) < 0) {
        simple_response(c, 500, "out of memory");
        return 1;
    }
    buf_append(&c->scratch, c->in.p, hlen);   /* cannot fail: reserved; NUL-terminates */
    c->scratch.len++;
    httpd_req_t req = {0};
    int minor = 1, st = parse_head(c->scratch.p, &req, &minor);
    size_t blen = 0;
    if (!st && httpd_header(&req, "Transfer-Encoding"))
        st = 501;
    if (!st && parse_content_length(httpd_header(&req, "Content-Length"), &blen) < 0)
        st = 413;
    if (st) {
        simple_response(c, st, st == 501 ? "chunked request bodies are not supported"
                               : st == 413 ? "bad or too large Content-Length" : "bad request");
        return 1;
    }
    if (c->in.len < hlen + blen) {
        send_continue(c, &req);
        return 0;
    }
    c->req_len = hlen + blen;
    req.body = c->in.p + hlen;
    req.body_len = blen;
    dispatch(h, c, &req, minor);
    return 1;
}

/* Advance a connection as far as possible. May free c. */
static void drive(httpd_t *h, conn_t *c)
{
    for (;;) {
        if (c->state == C_DELAY) {
            set_events(h, c, 0);
            return;
        }
        if (c->state == C_WRITE) {
            int r = flush(c);
            if (r < 0 || (r == 1 && c->close_after)) {
                conn_close(h, c);
                return;
            }
            if (r == 0) {
                set_events(h, c, EPOLLOUT);
                return;
            }
            finish_response(c);
        }
        if (try_request(h, c) == 0) {
            if (c->eof) {
                conn_close(h, c);
                return;
            }
            set_events(h, c, EPOLLIN);
            return;
        }
    }
}

static int read_input(conn_t *c)
{
    for (;;) {
        if (c->in.len > MAX_HEAD + MAX_BODY + 4096)
            return 0;   /* stop reading; try_request will reject */
        if (buf_reserve(&c->in, 16384) < 0)
            return -1;
        ssize_t n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1, 0);
        if (n == 0) {
            c->eof = 1;
            return 0;
        }
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        c->in.len += (size_t)n;
    }
}

static void on_conn(httpd_t *h, conn_t *c, uint32_t ev)
{
    if (ev & (EPOLLERR | EPOLLHUP)) {
        conn_close(h, c);
        return;
    }
    if (c->state == C_READ && (ev & EPOLLIN) && read_input(c) < 0) {
        conn_close(h, c);
        return;
    }
    drive(h, c);
}

static void run_delayed(httpd_t *h, int64_t now)
{
    conn_t *c = h->delayed;
    while (c) {
        conn_t *next = c->dnext;
        if (c->due_ms <= now) {
            delay_unlink(h, c);
            c->state = C_WRITE;
            drive(h, c);
        }
        c = next;
    }
}

static int next_timeout(httpd_t *h, int64_t now)
{
    int t = h->tick ? h->tick(h->ud) : -1;
    for (conn_t *c = h->delayed; c; c = c->dnext) {
        int64_t d = c->due_ms - now;
        int dd = d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
        if (t < 0 || dd < t)
            t = dd;
    }
    return t;
}

/* ---- server ---- */

static int listen_on(int port, int *out_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1024) < 0
        || getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    *out_port = ntohs(a.sin_port);
    return fd;
}

static int watch(int epfd, int fd, void *tag)
{
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

int httpd_create(httpd_t **out, int port, httpd_handler_fn *handler, httpd_tick_fn *tick, void *ud)
{
    int rc = -ENOMEM;
    sigset_t sigs;
    httpd_t *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    *h = (httpd_t){.epfd = -1, .lfd = -1, .sfd = -1, .handler = handler, .tick = tick, .ud = ud};
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    h->sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (h->sfd < 0 || h->epfd < 0) {
        rc = -errno;
        goto err;
    }
    h->lfd = listen_on(port, &h->port);
    if (h->lfd < 0) {
        rc = h->lfd;
        goto err;
    }
    if ((rc = watch(h->epfd, h->lfd, &listen_tag)) < 0 || (rc = watch(h->epfd, h->sfd, &signal_tag)) < 0)
        goto err;
    *out = h;
    return 0;
err:
    httpd_destroy(h);
    return rc;
}

int httpd_port(const httpd_t *h) { return h->port; }

int httpd_run(httpd_t *h)
{
    struct epoll_event evs[128];
    for (;;) {
        int n = epoll_wait(h->epfd, evs, 128, next_timeout(h, clock_mono_ms()));
        if (n < 0 && errno != EINTR)
            return -errno;
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &signal_tag)
                return 0;
            if (p == &listen_tag)
                on_accept(h);
            else
                on_conn(h, p, evs[i].events);
        }
        run_delayed(h, clock_mono_ms());
    }
}

void httpd_destroy(httpd_t *h)
{
    if (!h)
        return;
    while (h->conns)
        conn_close(h, h->conns);
    if (h->lfd >= 0)
        close(h->lfd);
    if (h->sfd >= 0)
        close(h->sfd);
    if (h->epfd >= 0)
        close(h->epfd);
    free(h);
}
