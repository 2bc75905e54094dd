/* auth.c -- the authentication and scope decision (see auth.h).
 *
 * One auth_check walks: which credentials (Hawk header, Bearer header, access_token) -> verify
 * them (hawk.c, jwt.c, static token digests) -> the client's ip_allow -> for Hawk, the nonce
 * (recorded last, so a refused request never burns one) -> a principal whose scope is compiled
 * now. Everything a request reads is either the request or immutable after auth_new; the only
 * shared mutable state is the nonce cache (its own lock) and the failure counters (atomics). */
#include "auth.h"
#include "errfmt.h"
#include "hawk.h"
#include "jwt.h"
#include "nonce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define TOKEN_DIGEST_LEN 32              /* SHA-256 */
#define HOST_MAX 256
#define MAX_FEED_ID 255                  /* store.h: STORE_MAX_FEED_LEN */
#define REALM "activity-stream"

typedef struct {
    char *id;                            /* owned */
    char *hawk_key;                      /* owned; NULL: no Hawk */
    int has_token;
    unsigned char token_digest[TOKEN_DIGEST_LEN];   /* SHA-256 of the static token */
    netaddr_cidr_t *ip_allow;            /* owned; NULL when nip_allow is 0 */
    size_t nip_allow;
    json_t *scope;                       /* owned; NULL: everything */
    unsigned allow;
} client_t;

struct auth {
    client_t *clients;                   /* owned */
    size_t nclients;
    netaddr_cidr_t *trusted;             /* owned */
    size_t ntrusted;
    jwt_verifier_t *jwt;                 /* owned; NULL: no JWTs */
    nonce_cache_t *nonces;               /* owned; NULL when no client has a Hawk key */
    char challenge[AUTH_CHALLENGE_MAX];
    uint64_t failures[AUTH_NREASONS];    /* by -reason; atomic */
};

/* One auth_check in progress. */
typedef struct {
    auth_t *a;
    const auth_request_t *req;           /* borrowed */
    netaddr_t addr;                      /* the client's address (netaddr_client) */
    int addr_known;                      /* 0: X-Forwarded-For was malformed */
    auth_failure_t *fail;                /* borrowed: the caller's */
    auth_principal_t *p;                 /* the result, once granted */
} check_t;

/* ---- names ----------------------------------------------------------------------------------- */

static const char *const reason_names[AUTH_NREASONS] = {
    "ok", "missing", "malformed", "unknown_client", "bad_signature", "bad_payload_hash",
    "stale_timestamp", "replayed_nonce", "nonce_cache_full", "expired", "not_yet_valid",
    "wrong_issuer", "wrong_audience", "bad_algorithm", "bad_claims", "ip_not_allowed", "nomem",
};

const char *auth_reason_name(int reason)
{
    return reason <= 0 && reason > -AUTH_NREASONS ? reason_names[-reason] : "unknown";
}

static const struct {
    const char *name;
    unsigned bit;
} allow_names[] = {
    {"stream", AUTH_ALLOW_STREAM}, {"search", AUTH_ALLOW_SEARCH}, {"feeds", AUTH_ALLOW_FEEDS},
    {"metrics", AUTH_ALLOW_METRICS}, {"replicate", AUTH_ALLOW_REPLICATE},
};

unsigned auth_allow_bit(const char *name)
{
    for (size_t i = 0; name && i < sizeof allow_names / sizeof allow_names[0]; i++)
        if (!strcmp(allow_names[i].name, name))
            return allow_names[i].bit;
    return 0;
}

/* ---- small helpers --------------------------------------------------------------------------- */

/* s[0..n) into out (AUTH_ID_MAX bytes) for a log line: printable ASCII, others as '?'. */
static void copy_printable(char *out, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n && i + 1 < AUTH_ID_MAX; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[i] = '\0';
}

static int sha256(const void *p, size_t n, unsigned char *md)
{
    unsigned int len = 0;
    return EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) == 1 && len == TOKEN_DIGEST_LEN ? 0 : -1;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int is_token68_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
           || c == '_' || c == '~' || c == '+' || c == '/';
}

int auth_is_token68(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_token68_char(s[i]))
        i++;
    if (i == 0)
        return 0;
    while (i < n && s[i] == '=')
        i++;
    return i == n;
}

/* Record the reason (and the log detail); returns it. */
static int refuse(check_t *c, int reason, const char *detail)
{
    c->fail->reason = reason;
    c->fail->detail = detail;
    return reason;
}

/* ---- principals ------------------------------------------------------------------------------ */

void auth_principal_free(auth_principal_t *p)
{
    if (!p)
        return;
    query_free(p->scope);
    json_decref(p->scope_json);
    auth_feeds_release(&p->feeds);
    free(p);
}

int64_t auth_principal_ends_s(const auth_principal_t *p)
{
    return p->ends_s;
}

/* Grant: a principal for `id` with `scope` (a reference this call takes over; NULL: everything). */
static int grant(check_t *c, const char *id, auth_by_t by, unsigned allow, json_t *scope, int64_t expires_s)
{
    char qerr[256];
    auth_principal_t *p = calloc(1, sizeof *p);
    if (!p) {
        json_decref(scope);
        return refuse(c, AUTH_ERR_NOMEM, "out of memory");
    }
    snprintf(p->id, sizeof p->id, "%s", id);    /* ids and subs are shorter (config.c, jwt.h) */
    p->by = by;
    p->allow = allow;
    p->expires_s = expires_s;
    p->scope_json = scope;
    netaddr_format(&c->addr, p->addr);
    if (scope && query_compile(scope, &p->scope, qerr, sizeof qerr) < 0) {
        auth_principal_free(p);
        return refuse(c, AUTH_ERR_BAD_CLAIMS, "the scope is not a valid query");
    }
    if (auth_scope_feeds(scope, &p->feeds) < 0) {
        auth_principal_free(p);
        return refuse(c, AUTH_ERR_NOMEM, "out of memory");
    }
    c->p = p;
    return AUTH_OK;
}

/* The client's ip_allow, if it has one, must hold the request's address. */
static int address_allowed(check_t *c, const client_t *cl)
{
    if (cl->nip_allow == 0)
        return AUTH_OK;
    if (!c->addr_known)
        return refuse(c, AUTH_ERR_IP_NOT_ALLOWED, "X-Forwarded-For from a trusted proxy is malformed");
    if (!netaddr_in_list(cl->ip_allow, cl->nip_allow, &c->addr))
        return refuse(c, AUTH_ERR_IP_NOT_ALLOWED, "the address is not in the client's ip_allow");
    return AUTH_OK;
}

static int grant_client(check_t *c, const client_t *cl, auth_by_t by)
{
    return grant(c, cl->id, by, cl->allow, cl->scope ? json_incref(cl->scope) : NULL, 0);
}

/* ---- Hawk ------------------------------------------------------------------------------------ */

static const client_t *hawk_client(const auth_t *a, const char *id)
{
    for (size_t i = 0; i < a->nclients; i++)
        if (a->clients[i].hawk_key && !strcmp(a->clients[i].id, id))
            return &a->clients[i];
    return NULL;
}

/* The left-most element of a comma-separated header value, blanks trimmed: [*p, *p + *n). */
static void first_element(const char *v, const char **p, size_t *n)
{
    while (is_blank(*v))
        v++;
    size_t len = strcspn(v, ",");
    while (len && is_blank(v[len - 1]))
        len--;
    *p = v;
    *n = len;
}

static int parse_port(const char *s, size_t n, int *port)
{
    int v = 0;
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = v;
    return 0;
}

/* "host", "host:port", "[v6]" or "[v6]:port" into host (HOST_MAX) and *port (kept when absent). */
static int split_authority(const char *s, size_t n, char *host, int *port)
{
    size_t hlen = n;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return -1;
        hlen = (size_t)(close - s) + 1;
    } else if (memchr(s, ':', n)) {
        hlen = (size_t)((const char *)memchr(s, ':', n) - s);
    }
    if (hlen < n && (s[hlen] != ':' || parse_port(s + hlen + 1, n - hlen - 1, port) < 0))
        return -1;
    if (hlen == 0 || hlen >= HOST_MAX)
        return -1;
    for (size_t i = 0; i < hlen; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == ',' || s[i] == '"')
            return -1;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    return 0;
}

/* The host and port the client addressed: Host and the connection's scheme, or what a trusted
 * proxy says in X-Forwarded-Host and X-Forwarded-Proto. */
static int request_authority(check_t *c, char *host, int *port)
{
    const auth_request_t *r = c->req;
    int from_proxy = netaddr_in_list(c->a->trusted, c->a->ntrusted, &r->peer);
    const char *v = r->host, *p;
    size_t n;
    int tls = r->tls;
    if (from_proxy && r->forwarded_proto && *r->forwarded_proto) {
        first_element(r->forwarded_proto, &p, &n);
        if ((n != 4 || strncasecmp(p, "http", 4)) && (n != 5 || strncasecmp(p, "https", 5)))
            return -1;
        tls = n == 5;
    }
    if (from_proxy && r->forwarded_host && *r->forwarded_host)
        v = r->forwarded_host;
    if (!v)
        return -1;
    first_element(v, &p, &n);
    *port = tls ? 443 : 80;
    return split_authority(p, n, host, port);
}

static int hawk_refusal(check_t *c, const client_t *cl, int rc)
{
    switch (rc) {
    case HAWK_ERR_BAD_MAC:
        return refuse(c, AUTH_ERR_BAD_SIGNATURE, "Hawk: bad mac");
    case HAWK_ERR_MISSING_HASH:
        return refuse(c, AUTH_ERR_BAD_PAYLOAD_HASH, "Hawk: the request has a body but no payload hash");
    case HAWK_ERR_BAD_HASH:
        return refuse(c, AUTH_ERR_BAD_PAYLOAD_HASH, "Hawk: the payload hash does not match the body");
    case HAWK_ERR_STALE:
        hawk_ts_challenge(cl->hawk_key, c->req->now_s, c->fail->www_authenticate, AUTH_CHALLENGE_MAX);
        return refuse(c, AUTH_ERR_STALE_TIMESTAMP, "Hawk: stale timestamp");
    default:
        return refuse(c, AUTH_ERR_MALFORMED, "Hawk: the request is too long to authenticate");
    }
}

static int check_hawk(check_t *c, const char *value, size_t len)
{
    hawk_header_t h;
    const char *why;
    char host[HOST_MAX];
    int port;
    if (hawk_parse(value, len, &h, &why) < 0)
        return refuse(c, AUTH_ERR_MALFORMED, why);
    copy_printable(c->fail->client, h.id, strlen(h.id));
    const client_t *cl = hawk_client(c->a, h.id);
    if (!cl)
        return refuse(c, AUTH_ERR_UNKNOWN_CLIENT, "Hawk: no client has this id");
    const auth_request_t *r = c->req;
    if (!r->method || !r->path_query || request_authority(c, host, &port) < 0)
        return refuse(c, AUTH_ERR_MALFORMED, "Hawk: no usable Host (or X-Forwarded-Host/-Proto)");
    hawk_request_t hr = {.method = r->method, .path_query = r->path_query, .host = host, .port = port,
                         .content_type = r->content_type, .body = r->body, .body_len = r->body_len};
    int rc = hawk_check(&h, cl->hawk_key, &hr, r->now_s, AUTH_HAWK_SKEW_S);
    if (rc != HAWK_OK)
        return hawk_refusal(c, cl, rc);
    if ((rc = address_allowed(c, cl)) != AUTH_OK)
        return rc;
    rc = nonce_cache_check(c->a->nonces, cl->id, h.nonce, r->now_s);
    if (rc == NONCE_ERR_REPLAY)
        return refuse(c, AUTH_ERR_REPLAYED_NONCE, "Hawk: nonce already used");
    if (rc != NONCE_OK)
        return refuse(c, AUTH_ERR_NONCE_CACHE_FULL, "Hawk: the nonce cache is full");
    return grant_client(c, cl, AUTH_BY_HAWK);
}

/* ---- JWT ------------------------------------------------------------------------------------- */

static const struct {
    int jwt;
    int reason;
} jwt_reasons[] = {
    {JWT_ERR_MALFORMED, AUTH_ERR_MALFORMED},       {JWT_ERR_BAD_ALGORITHM, AUTH_ERR_BAD_ALGORITHM},
    {JWT_ERR_BAD_SIGNATURE, AUTH_ERR_BAD_SIGNATURE}, {JWT_ERR_EXPIRED, AUTH_ERR_EXPIRED},
    {JWT_ERR_NOT_YET_VALID, AUTH_ERR_NOT_YET_VALID}, {JWT_ERR_WRONG_ISSUER, AUTH_ERR_WRONG_ISSUER},
    {JWT_ERR_WRONG_AUDIENCE, AUTH_ERR_WRONG_AUDIENCE}, {JWT_ERR_BAD_CLAIMS, AUTH_ERR_BAD_CLAIMS},
};

static int jwt_reason(int rc)
{
    for (size_t i = 0; i < sizeof jwt_reasons / sizeof jwt_reasons[0]; i++)
        if (jwt_reasons[i].jwt == rc)
            return jwt_reasons[i].reason;
    return AUTH_ERR_NOMEM;
}

enum { BAD_FEEDS = 1 };   /* feeds_query, jwt_scope: the feeds claim is not a valid list */

/* The `feeds` claim as a query: NULL for ["*"], match_none for [], else terms on feed. Returns 0,
 * BAD_FEEDS (an empty or over-long id, or "*" among others) or AUTH_ERR_NOMEM. */
static int feeds_query(const json_t *feeds, json_t **out)
{
    size_t i, n = json_array_size(feeds);
    json_t *e;
    int star = 0;
    *out = NULL;
    json_array_foreach(feeds, i, e) {
        size_t len = json_string_length(e);
        star |= !strcmp(json_string_value(e), "*");
        if (len == 0 || len > MAX_FEED_ID)
            return BAD_FEEDS;
    }
    if (star)
        return n == 1 ? 0 : BAD_FEEDS;
    *out = n == 0 ? json_pack("{s:{}}", "match_none") : json_pack("{s:{s:O}}", "terms", "feed", feeds);
    return *out ? 0 : AUTH_ERR_NOMEM;
}

/* The JWT's feeds AND its scope, as one query in *out (a new reference; NULL: everything).
 * Returns like feeds_query. */
static int jwt_scope(const jwt_claims_t *jc, json_t **out)
{
    json_t *f, *s = (json_t *)jc->scope;
    int rc = feeds_query(jc->feeds, &f);
    if (rc != 0)
        return rc;
    if (f && s)
        *out = json_pack("{s:{s:[o,O]}}", "bool", "filter", f, s);
    else
        *out = f ? f : json_incref(s);
    return (f || s) && !*out ? AUTH_ERR_NOMEM : 0;
}

/* The `allow` claim as bits (default stream and search); -1 when it names an unknown permission. */
static int jwt_allow(const json_t *allow, unsigned *bits)
{
    size_t i;
    json_t *e;
    if (!allow) {
        *bits = AUTH_ALLOW_DEFAULT;
        return 0;
    }
    *bits = 0;
    json_array_foreach(allow, i, e) {
        unsigned b = auth_allow_bit(json_string_value(e));
        if (!b)
            return -1;
        *bits |= b;
    }
    return 0;
}

static int grant_jwt(check_t *c, const jwt_claims_t *jc)
{
    unsigned allow;
    json_t *scope;
    if (!jc->feeds)
        return refuse(c, AUTH_ERR_BAD_CLAIMS, "JWT: feeds is missing");
    if (jwt_allow(jc->allow, &allow) < 0)
        return refuse(c, AUTH_ERR_BAD_CLAIMS, "JWT: allow names an unknown permission");
    int rc = jwt_scope(jc, &scope);
    if (rc == BAD_FEEDS)
        return refuse(c, AUTH_ERR_BAD_CLAIMS, "JWT: feeds has an empty or long id, or \"*\" among others");
    if (rc != 0)
        return refuse(c, AUTH_ERR_NOMEM, "out of memory");
    rc = grant(c, jc->sub, AUTH_BY_JWT, allow, scope, jc->exp);
    if (rc == AUTH_OK)
        c->p->ends_s = jc->refused_from;
    return rc;
}

static int check_jwt(check_t *c, const char *token, size_t len)
{
    jwt_claims_t jc;
    int rc = jwt_verify(c->a->jwt, token, len, c->req->now_s, &jc);
    if (jc.sub)
        copy_printable(c->fail->client, jc.sub, strlen(jc.sub));
    rc = rc == JWT_OK ? grant_jwt(c, &jc) : refuse(c, jwt_reason(rc), jc.why);
    jwt_claims_release(&jc);
    return rc;
}

/* ---- bearer tokens --------------------------------------------------------------------------- */

/* The client whose static token this is: every client's digest is compared, whatever matches. */
static const client_t *token_client(const auth_t *a, const char *token, size_t len)
{
    unsigned char md[TOKEN_DIGEST_LEN];
    const client_t *found = NULL;
    if (sha256(token, len, md) < 0)
        return NULL;
    for (size_t i = 0; i < a->nclients; i++) {
        int same = a->clients[i].has_token
                   && CRYPTO_memcmp(md, a->clients[i].token_digest, TOKEN_DIGEST_LEN) == 0;
        if (same && !found)
            found = &a->clients[i];
    }
    return found;
}

static int dots(const char *s, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == '.';
    return k;
}

static int check_bearer(check_t *c, const char *token, size_t len)
{
    if (!auth_is_token68(token, len))
        return refuse(c, AUTH_ERR_MALFORMED, "Bearer: the token has characters outside token68");
    const client_t *cl = token_client(c->a, token, len);
    if (cl) {
        copy_printable(c->fail->client, cl->id, strlen(cl->id));
        int rc = address_allowed(c, cl);
        return rc != AUTH_OK ? rc : grant_client(c, cl, AUTH_BY_TOKEN);
    }
    if (c->a->jwt && dots(token, len) == 2)
        return check_jwt(c, token, len);
    return refuse(c, AUTH_ERR_UNKNOWN_CLIENT, "Bearer: no client has this token");
}

/* ---- dispatch -------------------------------------------------------------------------------- */

static int check_authorization(check_t *c, const char *h)
{
    size_t len = strlen(h), scheme = 0;
    if (len > AUTH_HEADER_MAX)
        return refuse(c, AUTH_ERR_MALFORMED, "the Authorization header is too long");
    while (scheme < len && !is_blank(h[scheme]))
        scheme++;
    if (scheme == 4 && !strncasecmp(h, "hawk", 4))
        return check_hawk(c, h, len);
    if (scheme == 6 && !strncasecmp(h, "bearer", 6)) {
        size_t at = scheme;
        while (at < len && is_blank(h[at]))
            at++;
        while (len > at && is_blank(h[len - 1]))
            len--;
        if (at == scheme || at == len)
            return refuse(c, AUTH_ERR_MALFORMED, "Bearer: no token");
        return check_bearer(c, h + at, len - at);
    }
    return refuse(c, AUTH_ERR_MALFORMED, "the Authorization scheme is not Hawk or Bearer");
}

static int check(check_t *c)
{
    const char *h = c->req->authorization, *t = c->req->access_token;
    int has_h = h && *h, has_t = t && *t;
    if (!has_h && !has_t)
        return refuse(c, AUTH_ERR_MISSING, "no credentials");
    if (has_h && has_t)
        return refuse(c, AUTH_ERR_MALFORMED, "both an Authorization header and access_token");
    if (has_t)
        return strlen(t) > AUTH_HEADER_MAX ? refuse(c, AUTH_ERR_MALFORMED, "access_token is too long")
                                           : check_bearer(c, t, strlen(t));
    return check_authorization(c, h);
}

int auth_check(auth_t *a, const auth_request_t *req, auth_principal_t **out, auth_failure_t *fail)
{
    check_t c = {.a = a, .req = req, .fail = fail};
    memset(fail, 0, sizeof *fail);
    *out = NULL;
    int rc = netaddr_client(&req->peer, req->forwarded_for, a->trusted, a->ntrusted, &c.addr);
    c.addr_known = rc == NETADDR_OK;
    netaddr_format(&c.addr, fail->addr);
    snprintf(fail->www_authenticate, sizeof fail->www_authenticate, "%s", a->challenge);
    fail->detail = "ok";
    rc = check(&c);
    if (rc != AUTH_OK) {
        __atomic_fetch_add(&a->failures[-rc], 1, __ATOMIC_RELAXED);
        return rc;
    }
    *out = c.p;
    return AUTH_OK;
}

uint64_t auth_failures(const auth_t *a, int reason)
{
    if (reason >= 0 || reason <= -AUTH_NREASONS)
        return 0;
    return __atomic_load_n(&a->failures[-reason], __ATOMIC_RELAXED);
}

const char *auth_challenge(const auth_t *a)
{
    return a->challenge;
}

/* ---- scope -> feeds -------------------------------------------------------------------------- */

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void auth_feeds_release(auth_feeds_t *f)
{
    free_strs(f->ids, f->n);
    memset(f, 0, sizeof *f);
}

/* Sorted, unique copies of the string values of `vals` (a string or an array) into *out, *n;
 * 0 with *out NULL when one value is not a string (the values do not narrow the feeds). */
static int string_set(const json_t *vals, char ***out, size_t *n)
{
    size_t want = json_is_array(vals) ? json_array_size(vals) : 1, k = 0, u = 0;
    char **ids = calloc(want ? want : 1, sizeof *ids);
    *out = NULL;
    if (!ids)
        return AUTH_ERR_NOMEM;
    for (; k < want; k++) {
        const json_t *e = json_is_array(vals) ? json_array_get(vals, k) : vals;
        if (!json_is_string(e) || !(ids[k] = strdup(json_string_value(e)))) {
            free_strs(ids, k);
            return json_is_string(e) ? AUTH_ERR_NOMEM : 0;
        }
    }
    if (k)
        qsort(ids, k, sizeof *ids, cmp_str);
    for (size_t i = 0; i < k; i++) {
        if (u && !strcmp(ids[u - 1], ids[i]))
            free(ids[i]);
        else
            ids[u++] = ids[i];
    }
    *out = ids;
    *n = u;
    return 0;
}

/* Narrow *f (all, when called) to the string values of `vals`. */
static int feeds_from_values(const json_t *vals, auth_feeds_t *f)
{
    char **ids;
    size_t n = 0;
    int rc = string_set(vals, &ids, &n);
    if (rc < 0 || !ids)
        return rc;
    auth_feeds_release(f);
    f->ids = ids;
    f->n = n;
    return 0;
}

/* acc = acc AND other (both sorted); other is consumed. */
static void feeds_intersect(auth_feeds_t *acc, auth_feeds_t *other)
{
    if (other->all) {
        auth_feeds_release(other);
        return;
    }
    if (acc->all) {
        *acc = *other;
        memset(other, 0, sizeof *other);
        return;
    }
    size_t u = 0;
    for (size_t i = 0; i < acc->n; i++) {
        if (other->n && bsearch(&acc->ids[i], other->ids, other->n, sizeof *other->ids, cmp_str))
            acc->ids[u++] = acc->ids[i];
        else
            free(acc->ids[i]);
    }
    acc->n = u;
    auth_feeds_release(other);
}

static int is_feed_field(const char *f)
{
    return !strcmp(f, "feed") || !strcmp(f, "_index") || !strcmp(f, "feed.keyword")
           || !strcmp(f, "_index.keyword");
}

/* term {"feed": v} or {"feed": {"value": v, ...}} (case_insensitive: all). */
static int term_feeds(const json_t *body, auth_feeds_t *f)
{
    const char *field;
    json_t *v;
    if (json_object_size(body) != 1)
        return 0;
    json_object_foreach((json_t *)body, field, v) {
        if (!is_feed_field(field))
            return 0;
        if (json_is_object(v)) {
            if (json_is_true(json_object_get(v, "case_insensitive")))
                return 0;
            v = json_object_get(v, "value");
        }
        return json_is_string(v) ? feeds_from_values(v, f) : 0;
    }
    return 0;
}

/* terms {"feed": [...], "boost": n} */
static int terms_feeds(const json_t *body, auth_feeds_t *f)
{
    const char *field;
    json_t *v;
    json_object_foreach((json_t *)body, field, v)
        if (strcmp(field, "boost") != 0)
            return is_feed_field(field) && json_is_array(v) ? feeds_from_values(v, f) : 0;
    return 0;
}

static int scope_feeds(const json_t *q, int depth, auth_feeds_t *f);

/* bool: every clause of filter and must narrows the set. */
static int bool_feeds(const json_t *body, int depth, auth_feeds_t *f)
{
    static const char *const required[] = {"filter", "must"};
    for (size_t k = 0; k < 2; k++) {
        const json_t *cl = json_object_get(body, required[k]);
        size_t n = json_is_array(cl) ? json_array_size(cl) : cl ? 1 : 0;
        for (size_t i = 0; i < n; i++) {
            auth_feeds_t sub = {.all = 1};
            int rc = scope_feeds(json_is_array(cl) ? json_array_get(cl, i) : cl, depth + 1, &sub);
            if (rc < 0) {
                auth_feeds_release(&sub);
                return rc;
            }
            feeds_intersect(f, &sub);
        }
    }
    return 0;
}

/* f starts as all; narrows it by what query q requires. */
static int scope_feeds(const json_t *q, int depth, auth_feeds_t *f)
{
    const char *kind;
    json_t *body;
    if (!json_is_object(q) || json_object_size(q) != 1 || depth > QUERY_MAX_DEPTH)
        return 0;
    json_object_foreach((json_t *)q, kind, body) {
        if (!strcmp(kind, "match_none")) {
            auth_feeds_release(f);
            return 0;
        }
        if (!json_is_object(body))
            return 0;
        if (!strcmp(kind, "term"))
            return term_feeds(body, f);
        if (!strcmp(kind, "terms"))
            return terms_feeds(body, f);
        if (!strcmp(kind, "bool"))
            return bool_feeds(body, depth, f);
    }
    return 0;
}

int auth_scope_feeds(const json_t *scope, auth_feeds_t *out)
{
    memset(out, 0, sizeof *out);
    out->all = 1;
    int rc = scope ? scope_feeds(scope, 0, out) : 0;
    if (rc < 0)
        auth_feeds_release(out);
    return rc;
}

int auth_admits_feed(const auth_principal_t *p, const char *feed)
{
    const auth_feeds_t *f = &p->feeds;
    return f->all || (f->n && bsearch(&feed, f->ids, f->n, sizeof *f->ids, cmp_str) != NULL);
}

/* ---- building -------------------------------------------------------------------------------- */

static int copy_cidrs(netaddr_cidr_t **dst, const netaddr_cidr_t *src, size_t n)
{
    *dst = NULL;
    if (n == 0)
        return 0;
    if (!(*dst = malloc(n * sizeof **dst)))
        return -1;
    memcpy(*dst, src, n * sizeof **dst);
    return 0;
}

static void client_free(client_t *cl)
{
    free(cl->id);
    if (cl->hawk_key)
        OPENSSL_cleanse(cl->hawk_key, strlen(cl->hawk_key));
    free(cl->hawk_key);
    free(cl->ip_allow);
    json_decref(cl->scope);
}

static int client_init(client_t *cl, const config_client_t *cc, char *err, size_t errlen)
{
    cl->allow = cc->allow;
    if (!(cl->id = strdup(cc->id)) || (cc->hawk_key && !(cl->hawk_key = strdup(cc->hawk_key)))
        || copy_cidrs(&cl->ip_allow, cc->ip_allow, cc->nip_allow) < 0)
        return errfmt(err, errlen, "out of memory");
    cl->nip_allow = cc->nip_allow;
    if (cc->token && sha256(cc->token, strlen(cc->token), cl->token_digest) < 0)
        return errfmt(err, errlen, "auth.clients: %s: cannot digest the token", cc->id);
    cl->has_token = cc->token != NULL;
    if (cc->scope && !(cl->scope = json_loads(cc->scope, JSON_REJECT_DUPLICATES, NULL)))
        return errfmt(err, errlen, "auth.clients: %s: the scope is not JSON", cc->id);
    return 0;
}

static int jwt_init(auth_t *a, const config_access_t *cfg, char *err, size_t errlen)
{
    char why[256];
    jwt_config_t jc = {.hs256_secret = cfg->jwt_hs256_secret, .public_key_pem = cfg->jwt_public_key_pem,
                       .issuer = cfg->jwt_issuer, .audience = cfg->jwt_audience,
                       .leeway_s = cfg->jwt_leeway_s};
    if (!jc.hs256_secret && !jc.public_key_pem)
        return 0;
    jc.hs256_secret_len = jc.hs256_secret ? strlen(cfg->jwt_hs256_secret) : 0;
    jc.public_key_pem_len = jc.public_key_pem ? strlen(jc.public_key_pem) : 0;
    if (jwt_verifier_new(&a->jwt, &jc, why, sizeof why) < 0)
        return errfmt(err, errlen, "auth.jwt: %s", why);
    return 0;
}

/* Hawk if a client has a Hawk key; Bearer if one has a token or JWTs are configured. */
static void build_challenge(auth_t *a)
{
    int hawk = 0, bearer = a->jwt != NULL;
    for (size_t i = 0; i < a->nclients; i++) {
        hawk |= a->clients[i].hawk_key != NULL;
        bearer |= a->clients[i].has_token;
    }
    snprintf(a->challenge, sizeof a->challenge, "%s%s%s", hawk ? "Hawk" : "", hawk && bearer ? ", " : "",
             bearer ? "Bearer realm=\"" REALM "\"" : "");
}

int auth_new(auth_t **out, const config_access_t *cfg, char *err, size_t errlen)
{
    *out = NULL;
    auth_t *a = calloc(1, sizeof *a);
    if (!a || copy_cidrs(&a->trusted, cfg->trusted_proxies, cfg->ntrusted_proxies) < 0
        || (cfg->nclients && !(a->clients = calloc(cfg->nclients, sizeof *a->clients)))) {
        errfmt(err, errlen, "out of memory");
        goto fail;
    }
    a->ntrusted = cfg->ntrusted_proxies;
    a->nclients = cfg->nclients;    /* zeroed clients free cleanly if we stop half-way */
    int hawk = 0;
    for (size_t i = 0; i < cfg->nclients; i++) {
        if (client_init(&a->clients[i], &cfg->clients[i], err, errlen) < 0)
            goto fail;
        hawk |= cfg->clients[i].hawk_key != NULL;
    }
    if (jwt_init(a, cfg, err, errlen) < 0)
        goto fail;
    if (hawk && nonce_cache_new(&a->nonces, AUTH_NONCE_CAPACITY, AUTH_HAWK_NONCE_TTL_S) != NONCE_OK) {
        errfmt(err, errlen, "out of memory");
        goto fail;
    }
    build_challenge(a);
    *out = a;
    return 0;
fail:
    auth_free(a);
    return -1;
}

void auth_free(auth_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nclients; i++)
        client_free(&a->clients[i]);
    free(a->clients);
    free(a->trusted);
    jwt_verifier_free(a->jwt);
    nonce_cache_free(a->nonces);
    free(a);
}
