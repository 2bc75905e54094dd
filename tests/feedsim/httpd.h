/* httpd.h -- a small single-threaded epoll HTTP/1.1 server for feedsim: keep-alive,
 * pipelining, many concurrent clients, Content-Length request bodies, and the misbehaviours
 * a feed simulator needs (delayed responses, bodies cut short).
 *
 * The handler runs synchronously for each request and fills an httpd_resp_t; the server then
 * writes it (after resp->delay_ms). SIGINT/SIGTERM make httpd_run return 0. */
#ifndef FEEDSIM_HTTPD_H
#define FEEDSIM_HTTPD_H
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer. On allocation failure `oom` is set and appends become no-ops. */
typedef struct {
    char *p;        /* owned */
    size_t len, cap;
    int oom;
} buf_t;
int buf_reserve(buf_t *b, size_t extra);
void buf_append(buf_t *b, const void *data, size_t len);
void buf_puts(buf_t *b, const char *s);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_free(buf_t *b);

#define HTTPD_MAX_HEADERS 64

/* A parsed request. All strings are BORROWED (NUL-terminated, in the connection's input
 * buffer) and valid only during the handler call. */
typedef struct {
    const char *method;
    const char *target;     /* as sent: path and query */
    const char *path;       /* target up to '?' (a copy) */
    const char *query;      /* after '?', "" when none */
    const char *body;
    size_t body_len;
    size_t nheaders;
    const char *hname[HTTPD_MAX_HEADERS], *hvalue[HTTPD_MAX_HEADERS];
} httpd_req_t;

/* Value of a request header (case-insensitive name) or NULL. */
const char *httpd_header(const httpd_req_t *r, const char *name);

/* What the handler fills. `headers` holds extra "Name: value\r\n" lines; `body` the body. */
typedef struct {
    int status;             /* 200 unless set */
    const char *content_type;   /* static string; default application/json */
    buf_t *headers;         /* borrowed from the connection; append to it */
    buf_t *body;            /* borrowed from the connection; append to it */
    int delay_ms;           /* wait this long before sending */
    int truncate;           /* send the full Content-Length but only half the body, then close */
    int close;              /* close the connection after this response */
} httpd_resp_t;

typedef void httpd_handler_fn(void *ud, const httpd_req_t *req, httpd_resp_t *resp);

/* Called on every loop turn; returns how many ms until it wants to run again (-1: never). */
typedef int httpd_tick_fn(void *ud);

typedef struct httpd httpd_t;

/* Listen on 127.0.0.1:port (port 0: any; see httpd_port). Returns 0 or a negative errno. */
int httpd_create(httpd_t **out, int port, httpd_handler_fn *handler, httpd_tick_fn *tick, void *ud);
int httpd_port(const httpd_t *h);
/* Serve until SIGINT or SIGTERM. Returns 0, or a negative errno on a fatal error. */
int httpd_run(httpd_t *h);
void httpd_destroy(httpd_t *h);     /* closes every connection; NULL is a no-op */

#endif
