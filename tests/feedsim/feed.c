/* feed.c -- feedsim's endpoints: GET /feed (activity-stream style), GET /outbox (outbox style),
 * Hawk checking, injected faults, rate-driven changes and the /_control endpoints.
 *
 * Pages are concatenations of the model's cached activity JSON; nothing is re-serialised per
 * request. Feed requests (everything outside /_control/) are counted, authenticated when a
 * Hawk id is configured, and subject to the fault ratios; control requests never are. */
#include "feed.h"
#include "clock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hawk.h"
#include "urlcode.h"

#define AS_CONTEXT "https://www.w3.org/ns/activitystreams"
#define HAWK_SKEW_S 60
#define MAX_CONTROL_N 10000000UL

struct feed {
    feed_opts_t o;
    sim_t *sim;                 /* owned */
    sim_item_t *items;          /* owned scratch, page_size entries */
    int port;
    uint64_t frng;              /* fault draws */
    uint64_t requests, auth_failures;
    char *last_auth;            /* owned; Authorization of the last feed request ("" if none) */
    int64_t t0_ms;              /* when the rates started */
    uint64_t rate_added, rate_updated, rate_deleted;
};

/* ---- helpers ---- */

/* Wall clock in microseconds, truncated to milliseconds (live items' published time). */
static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000000 * 1000;
}

/* A uniform draw in [0, 1). */
static double draw(feed_t *f)
{
    uint64_t x = (f->frng += 0x9e3779b97f4a7c15ULL);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (double)(x >> 11) / 9007199254740992.0;
}

/* Value of query parameter `name`, percent-decoded into out. Returns 1 if present, 0 if absent,
 * -1 if it does not fit or is badly encoded. */
static int qparam(const char *query, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = query; *p; p += strcspn(p, "&"), p += *p == '&') {
        if (strncmp(p, name, nl) != 0 || (p[nl] != '=' && p[nl] != '&' && p[nl] != '\0'))
            continue;
        const char *v = p[nl] == '=' ? p + nl + 1 : p + nl;
        return urlcode_decode(v, strcspn(v, "&"), out, outlen) < 0 ? -1 : 1;
    }
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9' || strlen(s) > 19)
        return -1;
    *out = strtoull(s, &end, 10);
    return *end ? -1 : 0;
}

/* Optional unsigned parameter: 0 (absent: *out = dflt), 1 (present), -1 (invalid). */
static int qnum(const char *query, const char *name, uint64_t dflt, uint64_t *out)
{
    char v[32];
    int r = qparam(query, name, v, sizeof v);
    if (r <= 0) {
        *out = dflt;
        return r;
    }
    return parse_u64(v, out) < 0 ? -1 : 1;
}

/* Append the characters of s escaped for the inside of a JSON string. */
static void json_chars(buf_t *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)   /* keeps the output ASCII whatever the input */
            buf_printf(b, "\\u%04x", c);
        else
            buf_append(b, s, 1);
    }
}

/* Append s as a JSON string (with quotes). */
static void json_str(buf_t *b, const char *s)
{
    buf_puts(b, "\"");
    json_chars(b, s);
    buf_puts(b, "\"");
}

static void error_json(httpd_resp_t *r, int status, const char *msg)
{
    r->status = status;
    r->body->len = 0;
    buf_puts(r->body, "{\"error\":");
    json_str(r->body, msg);
    buf_puts(r->body, "}\n");
}

/* The authority clients used (Host header when it is plain), for absolute URLs. */
static void authority(const feed_t *f, const httpd_req_t *req, char *out, size_t outlen)
{
    const char *h = httpd_header(req, "Host");
    if (h && *h && strlen(h) < outlen && strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                  "0123456789.-:[]") == strlen(h)) {
        strcpy(out, h);
        return;
    }
    snprintf(out, outlen, "127.0.0.1:%d", f->port);
}

/* Whether If-None-Match names etag (or is "*"). */
static int not_modified(const httpd_req_t *req, const char *etag)
{
    const char *inm = httpd_header(req, "If-None-Match");
    return inm && (strcmp(inm, "*") == 0 || strstr(inm, etag));
}

/* Send 304 when the client has this page; otherwise add the ETag header. Returns 1 on 304. */
static int etag_check(const httpd_req_t *req, httpd_resp_t *r, const char *etag)
{
    buf_printf(r->headers, "ETag: %s\r\nCache-Control: no-cache\r\n", etag);
    if (!not_modified(req, etag))
        return 0;
    r->status = 304;
    return 1;
}

/* Append items[0..k) as a JSON array (reserving the bytes once). */
static void items_array(buf_t *b, const sim_item_t *items, long k)
{
    size_t total = 2;
    for (long i = 0; i < k; i++)
        total += items[i].len + 1;
    if (buf_reserve(b, total) < 0)
        return;
    buf_puts(b, "[");
    for (long i = 0; i < k; i++) {
        if (i)
            buf_puts(b, ",");
        buf_append(b, items[i].json, items[i].len);
    }
    buf_puts(b, "]");
}

/* ---- activity-stream style ---- */

static void serve_feed(feed_t *f, const httpd_req_t *req, httpd_resp_t *r)
{
    uint64_t after;
    char host[256], etag[96];
    int has_after = qnum(req->query, "after", 0, &after);
    if (has_after < 0) {
        error_json(r, 400, "after must be a modification sequence number");
        return;
    }
    long k = sim_after(f->sim, after, f->o.page_size, f->items);
    if (k < 0) {
        error_json(r, 500, "out of memory");
        return;
    }
    snprintf(etag, sizeof etag, "\"%" PRIu64 "-%" PRIu64 "-%zu\"", sim_mseq(f->sim), after, f->o.page_size);
    if (etag_check(req, r, etag))
        return;
    authority(f, req, host, sizeof host);
    buf_printf(r->body, "{\"@context\":\"" AS_CONTEXT "\",\"id\":\"http://%s/feed", host);
    if (has_after)
        buf_printf(r->body, "?after=%" PRIu64, after);
    buf_puts(r->body, "\",\"type\":\"Collection\",\"orderedItems\":");
    items_array(r->body, f->items, k);
    if ((size_t)k == f->o.page_size)
        buf_printf(r->body, ",\"next\":\"http://%s/feed?after=%" PRIu64 "\"", host, f->items[k - 1].mseq);
    buf_puts(r->body, "}");
}

/* ---- outbox style ---- */

static void serve_outbox_collection(feed_t *f, const httpd_req_t *req, httpd_resp_t *r)
{
    char host[256], etag[64];
    snprintf(etag, sizeof etag, "\"%" PRIu64 "-c\"", sim_mseq(f->sim));
    if (etag_check(req, r, etag))
        return;
    authority(f, req, host, sizeof host);
    buf_printf(r->body,
               "{\"@context\":\"" AS_CONTEXT "\",\"id\":\"http://%s/outbox\",\"type\":\"OrderedCollection\","
               "\"totalItems\":%zu,\"first\":\"http://%s/outbox?page=true\","
               "\"last\":\"http://%s/outbox?page=true&min_id=0\"}",
               host, sim_count(f->sim), host, host);
}

/* Items newest first: before max_id, or the oldest page after min_id (reversed). */
static long outbox_items(feed_t *f, int has_max, uint64_t max_id, int has_min, uint64_t min_id)
{
    if (has_max && max_id == 0)
        return 0;
    if (!has_min)
        return sim_before(f->sim, max_id, f->o.page_size, f->items);
    long k = sim_after(f->sim, min_id, f->o.page_size, f->items);
    for (long i = 0; i < k / 2; i++) {
        sim_item_t t = f->items[i];
        f->items[i] = f->items[k - 1 - i];
        f->items[k - 1 - i] = t;
    }
    return k;
}

static void serve_outbox_page(feed_t *f, const httpd_req_t *req, httpd_resp_t *r)
{
    uint64_t max_id, min_id;
    char host[256], etag[128];
    int has_max = qnum(req->query, "max_id", 0, &max_id), has_min = qnum(req->query, "min_id", 0, &min_id);
    if (has_max < 0 || has_min < 0) {
        error_json(r, 400, "max_id and min_id must be modification sequence numbers");
        return;
    }
    long k = outbox_items(f, has_max, max_id, has_min, min_id);
    if (k < 0) {
        error_json(r, 500, "out of memory");
        return;
    }
    snprintf(etag, sizeof etag, "\"%" PRIu64 "-o%d:%" PRIu64 "-m%d:%" PRIu64 "-%zu\"", sim_mseq(f->sim),
             has_max, max_id, has_min, min_id, f->o.page_size);
    if (etag_check(req, r, etag))
        return;
    authority(f, req, host, sizeof host);
    buf_printf(r->body, "{\"@context\":\"" AS_CONTEXT "\",\"id\":\"http://%s", host);
    json_chars(r->body, req->target);
    buf_printf(r->body, "\",\"type\":\"OrderedCollectionPage\",\"partOf\":\"http://%s/outbox\",\"orderedItems\":", host);
    if (k == 1)     /* GoToSocial collapses a one-item array into the bare object */
        buf_append(r->body, f->items[0].json, f->items[0].len);
    else
        items_array(r->body, f->items, k);
    if (k > 0 && sim_has_before(f->sim, f->items[k - 1].mseq))
        buf_printf(r->body, ",\"next\":\"http://%s/outbox?page=true&max_id=%" PRIu64 "\"", host,
                   f->items[k - 1].mseq);
    if (k > 0)
        buf_printf(r->body, ",\"prev\":\"http://%s/outbox?page=true&min_id=%" PRIu64 "\"", host,
                   f->items[0].mseq);
    buf_puts(r->body, "}");
}

static void serve_outbox(feed_t *f, const httpd_req_t *req, httpd_resp_t *r)
{
    char v[16];
    if (qparam(req->query, "page", v, sizeof v) == 0 && qparam(req->query, "max_id", v, sizeof v) == 0
        && qparam(req->query, "min_id", v, sizeof v) == 0)
        serve_outbox_collection(f, req, r);
    else
        serve_outbox_page(f, req, r);
}

/* ---- authentication and faults ---- */

/* Host and port the client addressed, from the Host header (default port 80). */
static void split_host(const feed_t *f, const httpd_req_t *req, char *host, size_t hostlen, int *port)
{
    const char *h = httpd_header(req, "Host");
    *port = 80;
    if (!h || !*h) {
        snprintf(host, hostlen, "127.0.0.1");
        *port = f->port;
        return;
    }
    const char *colon = h[0] == '[' ? strstr(h, "]:") : strrchr(h, ':');
    if (colon && h[0] == '[')
        colon++;
    size_t hl = colon ? (size_t)(colon - h) : strlen(h);
    snprintf(host, hostlen, "%.*s", (int)hl, h);
    if (colon)
        *port = atoi(colon + 1);
}

/* Returns 0 when the request may proceed; otherwise fills a 401. */
static int check_auth(feed_t *f, const httpd_req_t *req, httpd_resp_t *r)
{
    char host[256];
    int port;
    const char *why = NULL;
    split_host(f, req, host, sizeof host, &port);
    if (hawk_verify(httpd_header(req, "Authorization"), f->o.hawk_id, f->o.hawk_key, req->method,
                    req->target, host, port, (int64_t)time(NULL), HAWK_SKEW_S, &why) == 0)
        return 0;
    f->auth_failures++;
    error_json(r, 401, why);
    buf_printf(r->headers, "WWW-Authenticate: Hawk error=\"%s\"\r\n", why);
    return -1;
}

static void remember_auth(feed_t *f, const httpd_req_t *req)
{
    const char *a = httpd_header(req, "Authorization");
    char *copy = strdup(a ? a : "");
    if (!copy)
        return;     /* keep the previous value; state is diagnostic only */
    free(f->last_auth);
    f->last_auth = copy;
}

/* Apply the fault ratios. Returns 1 when the response is decided (an injected error). */
static int inject_fault(feed_t *f, httpd_resp_t *r)
{
    const feed_faults_t *q = &f->o.faults;
    double d5 = draw(f), d4 = draw(f), di = draw(f), dt = draw(f);   /* always four draws */
    r->delay_ms = q->slow_ms;
    r->truncate = dt < q->rtruncate;
    if (d5 < q->r5xx) {
        error_json(r, 503, "simulated server failure");
    } else if (d4 < q->r429) {
        error_json(r, 429, "simulated rate limit");
        buf_printf(r->headers, "Retry-After: %d\r\n", q->retry_after_s);
    } else if (di < q->rinvalid) {
        buf_puts(r->body, "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1> simulated invalid body");
    } else {
        return 0;
    }
    r->truncate = 0;
    return 1;
}

static void serve_feed_request(feed_t *f, const httpd_req_t *req, httpd_resp_t *r)
{
    const char *want = f->o.style == FEED_OUTBOX ? "/outbox" : "/feed";
    f->requests++;
    remember_auth(f, req);
    if (f->o.hawk_id && check_auth(f, req, r) < 0) {
        r->delay_ms = f->o.faults.slow_ms;
        return;
    }
    if (inject_fault(f, r))
        return;
    if (strcmp(req->path, want) != 0) {
        r->truncate = 0;
        error_json(r, 404, f->o.style == FEED_OUTBOX ? "not found; this feed is at /outbox"
                                                     : "not found; this feed is at /feed");
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        r->truncate = 0;
        error_json(r, 405, "only GET and HEAD");
        buf_puts(r->headers, "Allow: GET, HEAD\r\n");
        return;
    }
    if (f->o.style == FEED_OUTBOX)
        serve_outbox(f, req, r);
    else
        serve_feed(f, req, r);
    if (r->status != 200)
        r->truncate = 0;
}

/* ---- control endpoints ---- */

static void state_json(feed_t *f, httpd_resp_t *r)
{
    buf_printf(r->body, ",\"count\":%zu,\"mseq\":%" PRIu64 "}\n", sim_count(f->sim), sim_mseq(f->sim));
}

typedef int change_n_fn(sim_t *s, size_t k, int64_t now_us);
typedef int change_id_fn(sim_t *s, const char *urn, int64_t now_us);

static int update_oldest(sim_t *s, size_t k, int64_t now_us) { return sim_update_oldest(s, k, now_us); }
static int delete_oldest(sim_t *s, size_t k, int64_t now_us) { return sim_delete_oldest(s, k); }
static int update_id(sim_t *s, const char *urn, int64_t now_us) { return sim_update_id(s, urn, now_us); }
static int delete_id(sim_t *s, const char *urn, int64_t now_us) { return sim_delete_id(s, urn); }

/* POST /_control/update or /_control/delete: ?id=URN or ?n=K (the K oldest, default 1). */
static void control_change(feed_t *f, const httpd_req_t *req, httpd_resp_t *r, const char *verb,
                           change_n_fn *by_n, change_id_fn *by_id)
{
    char id[256];
    uint64_t n;
    int has_id = qparam(req->query, "id", id, sizeof id), has_n = qnum(req->query, "n", 1, &n);
    if (has_id < 0 || has_n < 0 || n > MAX_CONTROL_N || (has_id && has_n)) {
        error_json(r, 400, "give either id=URN or n=COUNT (up to 10000000)");
        return;
    }
    int done;
    if (has_id) {
        int rc = by_id(f->sim, id, wall_us());
        if (rc == -ENOENT) {
            error_json(r, 404, "no such activity");
            return;
        }
        done = rc < 0 ? rc : 1;
    } else {
        done = by_n(f->sim, (size_t)n, wall_us());
    }
    if (done < 0) {
        error_json(r, 500, "out of memory");
        return;
    }
    buf_printf(r->body, "{\"%s\":%d", verb, done);
    state_json(f, r);
}

static void control_add(feed_t *f, const httpd_req_t *req, httpd_resp_t *r)
{
    uint64_t n;
    if (qnum(req->query, "n", 1, &n) < 0 || n > MAX_CONTROL_N) {
        error_json(r, 400, "n must be a count up to 10000000");
        return;
    }
    if (sim_add(f->sim, (size_t)n, wall_us()) < 0) {
        error_json(r, 500, "out of memory");
        return;
    }
    buf_printf(r->body, "{\"added\":%" PRIu64, n);
    state_json(f, r);
}

static int qratio(const char *query, const char *name, double *out)
{
    char v[32], *end;
    int r = qparam(query, name, v, sizeof v);
    if (r <= 0)
        return r;
    double d = strtod(v, &end);
    if (end == v || *end || !(d >= 0.0 && d <= 1.0))
        return -1;
    *out = d;
    return 1;
}

static void faults_json(const feed_faults_t *q, buf_t *b)
{
    buf_printf(b, "{\"5xx\":%g,\"429\":%g,\"invalid\":%g,\"truncate\":%g,\"slow\":%d,\"retry_after\":%d}\n",
               q->r5xx, q->r429, q->rinvalid, q->rtruncate, q->slow_ms, q->retry_after_s);
}

static void control_fault(feed_t *f, const httpd_req_t *req, httpd_resp_t *r)
{
    feed_faults_t q = f->o.faults;
    uint64_t slow, retry;
    int bad = qratio(req->query, "5xx", &q.r5xx) < 0 || qratio(req->query, "429", &q.r429) < 0
              || qratio(req->query, "invalid", &q.rinvalid) < 0 || qratio(req->query, "truncate", &q.rtruncate) < 0;
    int hs = qnum(req->query, "slow", (uint64_t)q.slow_ms, &slow);
    int hr = qnum(req->query, "retry_after", (uint64_t)q.retry_after_s, &retry);
    if (bad || hs < 0 || hr < 0 || slow > 600000 || retry > 86400) {
        error_json(r, 400, "ratios must be in 0..1, slow in ms up to 600000, retry_after in s up to 86400");
        return;
    }
    q.slow_ms = (int)slow;
    q.retry_after_s = (int)retry;
    f->o.faults = q;
    faults_json(&f->o.faults, r->body);
}

static void control_reset_faults(feed_t *f, const httpd_req_t *req, httpd_resp_t *r)
{
    f->o.faults = (feed_faults_t){.retry_after_s = 1};
    faults_json(&f->o.faults, r->body);
}

typedef struct {
    buf_t *b;
    uint64_t seed;
    int lines;      /* 1: one {"id","version"} object per line; 0: a JSON array of ids */
    size_t k;
} ids_ctx_t;

static void each_id(uint64_t n, uint32_t version, void *ud)
{
    ids_ctx_t *c = ud;
    if (c->lines)
        buf_printf(c->b, "{\"id\":\"urn:feedsim:%" PRIu64 ":%" PRIu64 "\",\"version\":%u}\n", c->seed, n, version);
    else
        buf_printf(c->b, "%s\"urn:feedsim:%" PRIu64 ":%" PRIu64 "\"", c->k ? "," : "", c->seed, n);
    c->k++;
}

static void control_state(feed_t *f, const httpd_req_t *req, httpd_resp_t *r)
{
    char v[8];
    buf_printf(r->body, "{\"count\":%zu,\"mseq\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"auth_failures\":%" PRIu64
               ",\"last_authorization\":", sim_count(f->sim), sim_mseq(f->sim), f->requests, f->auth_failures);
    json_str(r->body, f->last_auth ? f->last_auth : "");
    if (qparam(req->query, "ids", v, sizeof v) == 1 && strcmp(v, "0") != 0) {
        ids_ctx_t c = {.b = r->body, .seed = sim_seed(f->sim)};
        buf_puts(r->body, ",\"ids\":[");
        sim_each(f->sim, each_id, &c);
        buf_puts(r->body, "]");
    }
    buf_puts(r->body, "}\n");
}

static void control_ids(feed_t *f, const httpd_req_t *req, httpd_resp_t *r)
{
    ids_ctx_t c = {.b = r->body, .seed = sim_seed(f->sim), .lines = 1};
    r->content_type = "application/x-ndjson";
    sim_each(f->sim, each_id, &c);
}

static void control_update(feed_t *f, const httpd_req_t *req, httpd_resp_t *r)
{
    control_change(f, req, r, "updated", update_oldest, update_id);
}

static void control_delete(feed_t *f, const httpd_req_t *req, httpd_resp_t *r)
{
    control_change(f, req, r, "deleted", delete_oldest, delete_id);
}

typedef void control_fn(feed_t *f, const httpd_req_t *req, httpd_resp_t *r);

static const struct {
    const char *path, *method;
    control_fn *fn;
} controls[] = {
    {"/_control/add", "POST", control_add},
    {"/_control/update", "POST", control_update},
    {"/_control/delete", "POST", control_delete},
    {"/_control/fault", "POST", control_fault},
    {"/_control/reset-faults", "POST", control_reset_faults},
    {"/_control/state", "GET", control_state},
    {"/_control/ids", "GET", control_ids},
};

static void serve_control(feed_t *f, const httpd_req_t *req, httpd_resp_t *r)
{
    for (size_t i = 0; i < sizeof controls / sizeof controls[0]; i++) {
        if (strcmp(req->path, controls[i].path) != 0)
            continue;
        if (strcmp(req->method, controls[i].method) != 0) {
            error_json(r, 405, controls[i].method[0] == 'P' ? "use POST" : "use GET");
            buf_printf(r->headers, "Allow: %s\r\n", controls[i].method);
            return;
        }
        controls[i].fn(f, req, r);
        return;
    }
    error_json(r, 404, "unknown control endpoint");
}

/* ---- public ---- */

void feed_handle(void *ud, const httpd_req_t *req, httpd_resp_t *r)
{
    feed_t *f = ud;
    if (strncmp(req->path, "/_control/", 10) == 0)
        serve_control(f, req, r);
    else
        serve_feed_request(f, req, r);
}

/* How many of `rate`-per-second events are due since t0 but not done yet. */
static uint64_t due(double rate, int64_t elapsed_ms, uint64_t done)
{
    uint64_t want = (uint64_t)(rate * (double)elapsed_ms / 1000.0);
    return want > done ? want - done : 0;
}

int feed_tick(void *ud)
{
    feed_t *f = ud;
    if (f->o.rate <= 0 && f->o.update_rate <= 0 && f->o.delete_rate <= 0)
        return -1;
    int64_t el = clock_mono_ms() - f->t0_ms, now = wall_us();
    uint64_t a = due(f->o.rate, el, f->rate_added), u = due(f->o.update_rate, el, f->rate_updated),
             d = due(f->o.delete_rate, el, f->rate_deleted);
    if (a && sim_add(f->sim, (size_t)a, now) == 0)
        f->rate_added += a;
    if (u && sim_update_random(f->sim, (size_t)u, now) >= 0)
        f->rate_updated += u;
    if (d && sim_delete_random(f->sim, (size_t)d) >= 0)
        f->rate_deleted += d;
    return 10;
}

int feed_create(feed_t **out, const feed_opts_t *o, sim_t *sim)
{
    feed_t *f = calloc(1, sizeof *f);
    sim_item_t *items = calloc(o->page_size ? o->page_size : 1, sizeof *items);
    if (!f || !items) {
        free(f);
        free(items);
        sim_destroy(sim);
        return -ENOMEM;
    }
    *f = (feed_t){.o = *o, .sim = sim, .items = items, .frng = sim_seed(sim) ^ 0xfa017ULL, .t0_ms = clock_mono_ms()};
    *out = f;
    return 0;
}

void feed_set_port(feed_t *f, int port) { f->port = port; }

void feed_destroy(feed_t *f)
{
    if (!f)
        return;
    sim_destroy(f->sim);
    free(f->items);
    free(f->last_auth);
    free(f);
}
