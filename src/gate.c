/* gate.c -- access control at the HTTP layer (see gate.h): the auth request built from an h2o
 * request, the 401/403 answers, refusal logs without secrets, access_token taken out of the
 * query string, per-client open streams and the gate's /metrics families. */
#include "gate.h"
#include "log.h"
#include "tally.h"
#include "timefmt.h"
#include "urlcode.h"
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCESS_TOKEN "access_token"
#define NAME_MAX_ENCODED 40         /* a longer parameter name is not access_token, however encoded */

struct gate {
    auth_t *auth;                   /* owned; NULL: no auth block, open access */
    tally_t *streams;               /* owned: open streams by gate_who_t.client */
    _Atomic uint64_t forbidden;     /* 403s */
};

/* ---- access_token --------------------------------------------------------------------------- */

/* Is the name of the pair p[0..n) (before '=') access_token once percent-decoded? */
static int is_token_pair(const char *p, size_t n)
{
    const char *eq = memchr(p, '=', n);
    size_t nlen = eq ? (size_t)(eq - p) : n;
    char name[NAME_MAX_ENCODED + 1];
    return nlen <= NAME_MAX_ENCODED && urlcode_decode(p, nlen, name, sizeof name) >= 0
           && strcmp(name, ACCESS_TOKEN) == 0;
}

/* Append the value v[0..n) to token (',' before all but the first), decoded when it decodes. */
static void take_value(const char *v, size_t n, char *token, size_t *tlen)
{
    if (*tlen)
        token[(*tlen)++] = ',';
    long d = urlcode_decode(v, n, token + *tlen, n + 1);
    if (d < 0) {
        memcpy(token + *tlen, v, n);
        d = (long)n;
    }
    *tlen += (size_t)d;
    token[*tlen] = '\0';
}

int gate_take_access_token(const char *qs, size_t len, char *rest, size_t *rest_len, char *token)
{
    size_t r = 0, t = 0;
    int found = 0;
    token[0] = '\0';
    for (const char *p = qs, *end = qs + len; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t n = (size_t)((amp ? amp : end) - p);
        const char *eq = memchr(p, '=', n);
        if (n && is_token_pair(p, n)) {
            take_value(eq ? eq + 1 : p + n, eq ? n - (size_t)(eq + 1 - p) : 0, token, &t);
            found = 1;
        } else if (n) {
            if (r)
                rest[r++] = '&';
            memcpy(rest + r, p, n);
            r += n;
        }
        p += n + 1;
    }
    rest[r] = '\0';
    *rest_len = r;
    return found;
}

/* Take access_token out of the request's query string (req->path, req->query_at): the endpoints
 * never see it. *token: its value (in the pool), or NULL when there was none. */
static void strip_access_token(h2o_req_t *req, const char **token)
{
    *token = NULL;
    if (req->query_at == SIZE_MAX)
        return;
    size_t at = req->query_at, len = req->path.len - at - 1, rest_len;
    char *rest = h2o_mem_alloc_pool(&req->pool, len + 1), *tok = h2o_mem_alloc_pool(&req->pool, len + 1);
    if (!gate_take_access_token(req->path.base + at + 1, len, rest, &rest_len, tok))
        return;
    *token = tok;
    if (rest_len == 0) {
        req->path.len = at;
        req->query_at = SIZE_MAX;
        return;
    }
    h2o_iovec_t before = h2o_iovec_init(req->path.base, at + 1);   /* the path and '?' */
    req->path = h2o_concat(&req->pool, before, h2o_iovec_init(rest, rest_len));
}

/* ---- the request, as auth.h wants it -------------------------------------------------------- */

static const char *pool_str(h2o_req_t *req, h2o_iovec_t v)
{
    return v.base ? h2o_strdup(&req->pool, v.base, v.len).base : NULL;
}

/* Every header `name` (lower case) joined with ", " (NUL-terminated, in the pool); NULL: none. */
static const char *header_value(h2o_req_t *req, const char *name)
{
    size_t nlen = strlen(name);
    ssize_t i = h2o_find_header_by_str(&req->headers, name, nlen, -1);
    if (i < 0)
        return NULL;
    h2o_iovec_t v = req->headers.entries[i].value;
    while ((i = h2o_find_header_by_str(&req->headers, name, nlen, i)) >= 0)
        v = h2o_concat(&req->pool, v, h2o_iovec_init(H2O_STRLIT(", ")), req->headers.entries[i].value);
    return pool_str(req, v);
}

/* The socket's peer (family 0 when it cannot be read). */
static void peer_of(h2o_req_t *req, netaddr_t *out)
{
    struct sockaddr_storage ss;
    h2o_conn_t *conn = req->conn;
    h2o_socket_t *sock = conn->callbacks->get_socket ? conn->callbacks->get_socket(conn) : NULL;
    socklen_t n = sock ? h2o_socket_getpeername(sock, (struct sockaddr *)&ss)
                       : conn->callbacks->get_peername(conn, (struct sockaddr *)&ss);
    memset(out, 0, sizeof *out);
    if (n)
        netaddr_from_sockaddr((struct sockaddr *)&ss, out);
}

static void describe(h2o_req_t *req, const char *token, auth_request_t *r)
{
    *r = (auth_request_t){
        .method = pool_str(req, req->input.method),
        .path_query = pool_str(req, req->input.path),    /* as sent, access_token included */
        .host = pool_str(req, req->input.authority),      /* Host, or HTTP/2's :authority */
        .tls = req->input.scheme == &H2O_URL_SCHEME_HTTPS,
        .authorization = header_value(req, "authorization"),
        .access_token = token,
        .forwarded_for = header_value(req, "x-forwarded-for"),
        .forwarded_host = header_value(req, "x-forwarded-host"),
        .forwarded_proto = header_value(req, "x-forwarded-proto"),
        .content_type = header_value(req, "content-type"),
        .body = req->entity.base,
        .body_len = req->entity.base ? req->entity.len : 0,
        .now_s = timefmt_now_us() / 1000000,
    };
    peer_of(req, &r->peer);
}

/* ---- answers -------------------------------------------------------------------------------- */

/* One line per refusal: what was asked (the route, never the query string), by whom, why. */
static void log_refusal(h2o_req_t *req, int status, const char *addr, const char *client, const char *reason,
                        const char *detail)
{
    h2o_iovec_t m = req->method, path = req->path_normalized;
    log_warn("gate", "%d %.*s %.*s from %s (client %s): %s: %s", status, (int)m.len, m.base, (int)path.len, path.base,
             addr, *client ? client : "-", reason, detail);
}

static void answer(h2o_req_t *req, int status, const char *challenge)
{
    if (challenge) {
        h2o_iovec_t v = h2o_strdup(&req->pool, challenge, strlen(challenge));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, v.base, v.len);
    }
    const char *msg = status == 401 ? "unauthorized" : status == 403 ? "forbidden" : "out of memory";
    httpreq_send_error(req, status, msg, NULL);
}

static void on_who_dispose(void *p)
{
    gate_who_t *who = p;
    auth_principal_free(who->principal);
}

/* auth_check, then the permission. Returns 0, or -1 once the request is answered. */
static int authenticate(gate_t *g, h2o_req_t *req, const char *token, unsigned allow, gate_who_t *who)
{
    auth_request_t r;
    auth_failure_t f;
    auth_principal_t *p;
    describe(req, token, &r);
    int rc = auth_check(g->auth, &r, &p, &f);
    if (rc != AUTH_OK) {
        log_refusal(req, 401, f.addr, f.client, auth_reason_name(rc), f.detail);
        answer(req, rc == AUTH_ERR_NOMEM ? 500 : 401, rc == AUTH_ERR_NOMEM ? NULL : f.www_authenticate);
        return -1;
    }
    int64_t ends_s = auth_principal_ends_s(p);
    who->principal = p;
    who->client = p->id;
    who->ends_us = ends_s ? ends_s * 1000000 : 0;
    snprintf(who->addr, sizeof who->addr, "%s", p->addr);
    if ((p->allow & allow) != allow) {
        atomic_fetch_add(&g->forbidden, 1);
        log_refusal(req, 403, p->addr, p->id, "forbidden", "the endpoint is not in the client's allow");
        answer(req, 403, NULL);
        return -1;
    }
    return 0;
}

const gate_who_t *gate_check(gate_t *g, h2o_req_t *req, unsigned allow)
{
    const char *token;
    strip_access_token(req, &token);
    gate_who_t *who = h2o_mem_alloc_shared(&req->pool, sizeof *who, on_who_dispose);
    memset(who, 0, sizeof *who);
    who->gate = g;
    who->client = who->addr;
    if (g->auth)
        return authenticate(g, req, token, allow, who) == 0 ? who : NULL;
    netaddr_t peer;
    peer_of(req, &peer);
    netaddr_format(&peer, who->addr);
    return who;
}

/* ---- what the endpoints ask ----------------------------------------------------------------- */

void gate_who_hold(const gate_who_t *who)
{
    h2o_mem_addref_shared((void *)who);
}

void gate_who_release(const gate_who_t *who)
{
    h2o_mem_release_shared((void *)who);
}

const query_t *gate_who_scope(const gate_who_t *who)
{
    return who->principal ? who->principal->scope : NULL;
}

long gate_stream_opened(const gate_who_t *who)
{
    long n = tally_up(who->gate->streams, who->client);
    return n < 0 ? -1 : n;
}

void gate_stream_closed(const gate_who_t *who)
{
    tally_down(who->gate->streams, who->client);
}

char *gate_feeds_json(const gate_who_t *who, char *feeds_json)
{
    if (!feeds_json || !who->principal || who->principal->feeds.all)
        return feeds_json;
    json_t *feeds = json_loads(feeds_json, 0, NULL);
    free(feeds_json);
    if (!json_is_array(feeds)) {
        json_decref(feeds);
        return NULL;
    }
    for (size_t i = json_array_size(feeds); i-- > 0;) {
        const char *id = json_string_value(json_object_get(json_array_get(feeds, i), "id"));
        if (!id || !auth_admits_feed(who->principal, id))
            json_array_remove(feeds, i);
    }
    char *out = json_dumps(feeds, JSON_COMPACT);
    json_decref(feeds);
    return out;
}

bool gate_admits_feed(const gate_who_t *who, const char *feed, size_t len)
{
    char id[STORE_MAX_FEED_LEN + 1];
    if (!who || !who->principal || who->principal->feeds.all)
        return true;
    if (len > STORE_MAX_FEED_LEN)
        return false;
    memcpy(id, feed, len);
    id[len] = '\0';
    return auth_admits_feed(who->principal, id) != 0;
}

size_t gate_visible_feeds(const gate_who_t *who, const char *const *ids, size_t n, const char **out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (gate_admits_feed(who, ids[i], strlen(ids[i])))
            out[k++] = ids[i];
    return k;
}

/* ---- metrics -------------------------------------------------------------------------------- */

static void client_sample(const char *client, long open, void *out)
{
    metrics_sample(out, "as_client_streams_open", "client", client, (uint64_t)open);
}

void gate_report_metrics(metrics_out_t *out, void *ud)
{
    gate_t *g = ud;
    if (!g->auth)
        return;
    metrics_family(out, "as_auth_failures_total", "counter",
                   "Requests refused: 401 by the reason of auth.h, 403 as forbidden.");
    for (int r = -1; r > -AUTH_NREASONS; r--) {
        uint64_t n = auth_failures(g->auth, r);
        metrics_sample(out, "as_auth_failures_total", "reason", auth_reason_name(r), n);
    }
    metrics_sample(out, "as_auth_failures_total", "reason", "forbidden", atomic_load(&g->forbidden));
    metrics_family(out, "as_client_streams_open", "gauge", "Open /stream responses per client.");
    tally_each(g->streams, client_sample, out);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int gate_new(gate_t **out, const config_t *cfg, char *err, size_t errlen)
{
    gate_t *g = calloc(1, sizeof *g);
    *out = NULL;
    if (!g || tally_new(&g->streams) != TALLY_OK) {
        free(g);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (cfg->auth.enabled && auth_new(&g->auth, &cfg->auth, err, errlen) != 0) {
        gate_free(g);
        return -1;
    }
    *out = g;
    return 0;
}

void gate_free(gate_t *g)
{
    if (!g)
        return;
    auth_free(g->auth);
    tally_free(g->streams);
    free(g);
}
