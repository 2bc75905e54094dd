/* hawk.c -- Hawk request authentication (SHA-256), client and server side, with OpenSSL.
 *
 * Builds the Authorization header a Hawk server (DIT's activity-stream) expects, and is the
 * server side: parses a header with the reference implementation's grammar, checks its MAC and
 * payload hash (constant-time comparisons), answers a stale timestamp with the signed ts/tsm
 * challenge. No allocation: every string is built in fixed buffers on the stack, and anything
 * that does not fit is an error, never a truncation. Thread-safe.
 *
 * Normalisation follows the Hawk reference implementation: the method is upper-cased, the
 * payload content type is lower-cased with its parameters (";charset=...") dropped, the host
 * is taken as written (brackets kept for IPv6), the port defaults to 80/443. */
#include "hawk.h"

#include <ctype.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define B64_SHA256_LEN 44       /* base64 of 32 bytes, without the NUL */
#define HAWK_NORM_MAX 8192      /* longest normalised string (the request target dominates) */

/* ---- small helpers ---- */

/* base64 of `len` bytes into out (needs 4*ceil(len/3)+1 bytes). */
static void b64(const unsigned char *in, size_t len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

/* `ct` lower-cased up to the first ';', surrounding blanks trimmed, into out. */
static int normalize_content_type(const char *ct, char *out, size_t outlen)
{
    size_t n = 0;
    if (!ct)
        ct = "";
    while (*ct == ' ' || *ct == '\t')
        ct++;
    for (; *ct && *ct != ';'; ct++) {
        if (n + 1 >= outlen)
            return -1;
        out[n++] = (char)tolower((unsigned char)*ct);
    }
    while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
        n--;
    out[n] = '\0';
    return 0;
}

int hawk_payload_hash(const char *content_type, const void *body, size_t len, char *out, size_t outlen)
{
    char ct[256];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int rc = -1;

    if (outlen < B64_SHA256_LEN + 1 || normalize_content_type(content_type, ct, sizeof ct) < 0)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -1;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1
        || EVP_DigestUpdate(ctx, "hawk.1.payload\n", 15) != 1
        || EVP_DigestUpdate(ctx, ct, strlen(ct)) != 1
        || EVP_DigestUpdate(ctx, "\n", 1) != 1
        || (len && EVP_DigestUpdate(ctx, body, len) != 1)
        || EVP_DigestUpdate(ctx, "\n", 1) != 1
        || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
        goto done;
    b64(md, mdlen, out);
    rc = 0;
done:
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* The fields that enter the MAC. All strings are borrowed. */
typedef struct {
    const char *ts, *nonce, *method, *resource, *host, *hash, *ext, *app, *dlg;
    int port;
} hawk_norm_t;

/* base64(HMAC-SHA256(key, normalised string)) into mac (>= 45 bytes). */
static int compute_mac(const char *key, const hawk_norm_t *f, char *mac)
{
    char norm[HAWK_NORM_MAX], method[32];
    size_t i;

    for (i = 0; f->method[i] && i + 1 < sizeof method; i++)
        method[i] = (char)toupper((unsigned char)f->method[i]);
    if (f->method[i])
        return -1;
    method[i] = '\0';
    int n = snprintf(norm, sizeof norm, "hawk.1.header\n%s\n%s\n%s\n%s\n%s\n%d\n%s\n%s\n",
                     f->ts, f->nonce, method, f->resource, f->host, f->port,
                     f->hash ? f->hash : "", f->ext ? f->ext : "");
    if (n < 0 || (size_t)n >= sizeof norm)
        return -1;
    if (f->app) {
        int m = snprintf(norm + n, sizeof norm - n, "%s\n%s\n", f->app, f->dlg ? f->dlg : "");
        if (m < 0 || (size_t)m >= sizeof norm - n)
            return -1;
        n += m;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)norm, (size_t)n, md, &mdlen))
        return -1;
    b64(md, mdlen, mac);
    return 0;
}

/* A character allowed inside a quoted Hawk attribute value: printable ASCII but '"' and '\'. */
static int attr_char_ok(int c)
{
    return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';
}

static int attr_ok(const char *s)
{
    for (; *s; s++)
        if (!attr_char_ok((unsigned char)*s))
            return 0;
    return 1;
}

/* ---- building a header ---- */

typedef struct {
    char host[256];
    int port;
    const char *resource;   /* borrowed from the URL: path and query, fragment excluded */
    size_t resource_len;
} hawk_url_t;

static int parse_port(const char *s, size_t len, int *out)
{
    long v = 0;
    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

/* Split an absolute http(s) URL into host, port and request target. */
static int parse_url(const char *url, hawk_url_t *u)
{
    const char *p;
    if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
        u->port = 80;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        p = url + 8;
        u->port = 443;
    } else {
        return -1;
    }
    size_t alen = strcspn(p, "/?#");
    const char *at = memchr(p, '@', alen);   /* drop userinfo */
    if (at) {
        alen -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t hlen;
    if (alen > 0 && p[0] == '[') {
        const char *rb = memchr(p, ']', alen);
        if (!rb)
            return -1;
        hlen = (size_t)(rb - p) + 1;
    } else {
        const char *colon = memchr(p, ':', alen);
        hlen = colon ? (size_t)(colon - p) : alen;
    }
    if (hlen == 0 || hlen >= sizeof u->host)
        return -1;
    if (hlen < alen) {
        if (p[hlen] != ':' || parse_port(p + hlen + 1, alen - hlen - 1, &u->port) < 0)
            return -1;
    }
    memcpy(u->host, p, hlen);
    u->host[hlen] = '\0';
    u->resource = p + alen;
    u->resource_len = strcspn(u->resource, "#");
    return 0;
}

/* The request target a client sends for u: "/" when the URL has no path ("http://h?q" -> "/?q"). */
static int request_target(const hawk_url_t *u, char *out, size_t outlen)
{
    const char *slash = u->resource_len && u->resource[0] == '/' ? "" : "/";
    int n = snprintf(out, outlen, "%s%.*s", slash, (int)u->resource_len, u->resource);
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* `n` random alphanumerics into out (n + 1 bytes). */
static int random_nonce(char *out, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char raw[32];
    if (n > sizeof raw || RAND_bytes(raw, (int)n) != 1)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[raw[i] % (sizeof alphabet - 1)];
    out[n] = '\0';
    return 0;
}

int hawk_authorization(const char *id, const char *key, const char *method, const char *url,
                       const char *content_type, const void *body, size_t body_len,
                       int64_t ts, const char *nonce, char *out, size_t outlen)
{
    hawk_url_t u;
    char resource[4096], hash[B64_SHA256_LEN + 4], mac[B64_SHA256_LEN + 4];
    char tsbuf[24], nbuf[16];

    if (!id || !key || !method || !url || !out || !attr_ok(id) || parse_url(url, &u) < 0
        || request_target(&u, resource, sizeof resource) < 0)
        return -1;
    if (!nonce) {
        if (random_nonce(nbuf, 8) < 0)
            return -1;
        nonce = nbuf;
    }
    if (!attr_ok(nonce) || *nonce == '\0')
        return -1;
    snprintf(tsbuf, sizeof tsbuf, "%" PRId64, ts);
    if (hawk_payload_hash(content_type, body, body_len, hash, sizeof hash) < 0)
        return -1;
    hawk_norm_t f = {.ts = tsbuf, .nonce = nonce, .method = method, .resource = resource,
                     .host = u.host, .port = u.port, .hash = hash};
    if (compute_mac(key, &f, mac) < 0)
        return -1;
    int n = snprintf(out, outlen, "Hawk mac=\"%s\", hash=\"%s\", id=\"%s\", ts=\"%s\", nonce=\"%s\"",
                     mac, hash, id, tsbuf, nonce);
    if (n < 0 || (size_t)n >= outlen)
        return -1;
    return n;
}

/* ---- parsing a header (the reference's grammar) ---- */

/* The attributes: where each lives in hawk_header_t and how long it may be. */
static const struct {
    const char *name;
    size_t offset, size;       /* size includes the NUL */
} attrs[] = {
    {"id", offsetof(hawk_header_t, id), sizeof ((hawk_header_t *)0)->id},
    {"ts", offsetof(hawk_header_t, ts), sizeof ((hawk_header_t *)0)->ts},
    {"nonce", offsetof(hawk_header_t, nonce), sizeof ((hawk_header_t *)0)->nonce},
    {"hash", offsetof(hawk_header_t, hash), sizeof ((hawk_header_t *)0)->hash},
    {"ext", offsetof(hawk_header_t, ext), sizeof ((hawk_header_t *)0)->ext},
    {"mac", offsetof(hawk_header_t, mac), sizeof ((hawk_header_t *)0)->mac},
    {"app", offsetof(hawk_header_t, app), sizeof ((hawk_header_t *)0)->app},
    {"dlg", offsetof(hawk_header_t, dlg), sizeof ((hawk_header_t *)0)->dlg},
};
#define NATTRS (sizeof attrs / sizeof attrs[0])

static int is_word(int c)
{
    return isalnum(c) || c == '_';
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t';
}

static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && is_blank((unsigned char)*p))
        p++;
    return p;
}

static int find_attr(const char *name, size_t len)
{
    for (size_t i = 0; i < NATTRS; i++)
        if (strlen(attrs[i].name) == len && memcmp(attrs[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

/* One `name="value"` at *pp, and the blanks and ',' after it. Returns NULL or the reason. */
static const char *parse_attr(const char **pp, const char *end, hawk_header_t *h, unsigned *seen)
{
    const char *p = *pp, *name = p;
    while (p < end && is_word((unsigned char)*p))
        p++;
    if (p == name || end - p < 2 || p[0] != '=' || p[1] != '"')
        return "malformed header: expected name=\"value\"";
    int idx = find_attr(name, (size_t)(p - name));
    if (idx < 0)
        return "malformed header: unknown attribute";
    if (*seen & (1u << idx))
        return "malformed header: duplicate attribute";
    const char *val = p + 2, *close = val;
    while (close < end && *close != '"' && *close != '\\')
        close++;
    if (close == end || *close != '"')
        return "malformed header: unterminated attribute value";
    size_t n = (size_t)(close - val);
    for (size_t i = 0; i < n; i++)
        if (!attr_char_ok((unsigned char)val[i]))
            return "malformed header: bad character in attribute value";
    if (n == 0)
        return "malformed header: empty attribute value";
    if (n >= attrs[idx].size)
        return "malformed header: attribute value too long";
    char *dst = (char *)h + attrs[idx].offset;
    memcpy(dst, val, n);
    dst[n] = '\0';
    *seen |= 1u << idx;
    p = skip_blanks(close + 1, end);
    if (p < end && *p != ',')
        return "malformed header: expected ',' between attributes";
    *pp = p < end ? skip_blanks(p + 1, end) : p;
    return NULL;
}

/* Digits only, and a value that fits an int64_t. */
static int parse_ts(const char *s, int64_t *out)
{
    int64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s) || v > (INT64_MAX - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

static const char *parse(const char *value, size_t len, hawk_header_t *h)
{
    const char *p = value, *end = value + len;
    unsigned seen = 0;
    if (len > HAWK_HEADER_MAX)
        return "malformed header: longer than 4096 bytes";
    while (p < end && is_word((unsigned char)*p))
        p++;
    if (p == value || (p < end && !is_blank((unsigned char)*p)))
        return "malformed header: invalid syntax";
    if (p - value != 4 || strncasecmp(value, "hawk", 4) != 0)
        return "malformed header: scheme is not Hawk";
    p = skip_blanks(p, end);
    if (p == end)
        return "malformed header: no attributes";
    while (p < end) {
        const char *why = parse_attr(&p, end, h, &seen);
        if (why)
            return why;
    }
    if (!h->id[0] || !h->ts[0] || !h->nonce[0] || !h->mac[0])
        return "malformed header: missing id, ts, nonce or mac";
    if (parse_ts(h->ts, &h->ts_s) < 0)
        return "malformed header: ts is not a number";
    return NULL;
}

int hawk_parse(const char *value, size_t len, hawk_header_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    const char *reason = value ? parse(value, len, out) : "missing Authorization header";
    if (why)
        *why = reason ? reason : "ok";
    return reason ? HAWK_ERR_MALFORMED : HAWK_OK;
}

/* ---- checking a request ---- */

/* Constant-time equality of two NUL-terminated base64 strings (their lengths are public). */
static int b64_equal(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

static int ts_within(int64_t ts, int64_t now_s, int skew_s)
{
    int64_t lo = ts < now_s ? ts : now_s, hi = ts < now_s ? now_s : ts;
    uint64_t diff = (uint64_t)hi - (uint64_t)lo;    /* exact: hi >= lo, so no overflow */
    return diff <= (uint64_t)(skew_s > 0 ? skew_s : 0);
}

static int check_mac(const hawk_header_t *h, const char *key, const hawk_request_t *req)
{
    char mac[B64_SHA256_LEN + 4];
    hawk_norm_t f = {.ts = h->ts, .nonce = h->nonce, .method = req->method, .resource = req->path_query,
                     .host = req->host, .port = req->port, .hash = h->hash[0] ? h->hash : NULL,
                     .ext = h->ext[0] ? h->ext : NULL, .app = h->app[0] ? h->app : NULL,
                     .dlg = h->dlg[0] ? h->dlg : NULL};
    if (compute_mac(key, &f, mac) < 0)
        return HAWK_ERR_INVALID;
    return b64_equal(mac, h->mac) ? HAWK_OK : HAWK_ERR_BAD_MAC;
}

static int check_payload(const hawk_header_t *h, const hawk_request_t *req)
{
    char hash[B64_SHA256_LEN + 4];
    if (!h->hash[0])
        return req->body_len > 0 ? HAWK_ERR_MISSING_HASH : HAWK_OK;
    if (hawk_payload_hash(req->content_type, req->body, req->body_len, hash, sizeof hash) < 0
        || !b64_equal(hash, h->hash))
        return HAWK_ERR_BAD_HASH;
    return HAWK_OK;
}

int hawk_check(const hawk_header_t *h, const char *key, const hawk_request_t *req, int64_t now_s, int skew_s)
{
    int rc = check_mac(h, key, req);
    if (rc == HAWK_OK)
        rc = check_payload(h, req);
    if (rc == HAWK_OK && !ts_within(h->ts_s, now_s, skew_s))
        rc = HAWK_ERR_STALE;
    return rc;
}

int hawk_ts_challenge(const char *key, int64_t now_s, char *out, size_t outlen)
{
    char msg[48], tsm[B64_SHA256_LEN + 4];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int n = snprintf(msg, sizeof msg, "hawk.1.ts\n%" PRId64 "\n", now_s);
    if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg, (size_t)n, md, &mdlen))
        return -1;
    b64(md, mdlen, tsm);
    n = snprintf(out, outlen, "Hawk ts=\"%" PRId64 "\", tsm=\"%s\", error=\"Stale timestamp\"", now_s, tsm);
    return n < 0 || (size_t)n >= outlen ? -1 : n;
}

const char *hawk_strerror(int code)
{
    switch (code) {
    case HAWK_OK: return "ok";
    case HAWK_ERR_MALFORMED: return "malformed header";
    case HAWK_ERR_BAD_MAC: return "bad mac";
    case HAWK_ERR_MISSING_HASH: return "missing payload hash";
    case HAWK_ERR_BAD_HASH: return "bad payload hash";
    case HAWK_ERR_STALE: return "stale timestamp";
    case HAWK_ERR_INVALID: return "request too large to authenticate";
    default: return "unknown error";
    }
}

/* ---- the simple verifier (feedsim, tests) ---- */

static const char *verify(const char *header, const char *id, const char *key, const char *method,
                          const char *path_query, const char *host, int port, int64_t now_s, int skew_s)
{
    hawk_header_t h;
    const char *why;
    if (!header || !*header)
        return "missing Authorization header";
    if (hawk_parse(header, strlen(header), &h, &why) < 0)
        return why;
    if (strcmp(h.id, id) != 0)
        return "unknown credentials id";
    hawk_request_t req = {.method = method, .path_query = path_query, .host = host, .port = port};
    int rc = check_mac(&h, key, &req);    /* header only: the body is not known here */
    if (rc == HAWK_OK && !ts_within(h.ts_s, now_s, skew_s))
        rc = HAWK_ERR_STALE;
    return rc == HAWK_OK ? NULL : hawk_strerror(rc);
}

int hawk_verify(const char *header, const char *id, const char *key, const char *method,
                const char *path_query, const char *host, int port, int64_t now_s, int skew_s,
                const char **why)
{
    const char *reason = "missing credentials";
    if (id && key && method && path_query && host)
        reason = verify(header, id, key, method, path_query, host, port, now_s, skew_s);
    if (why)
        *why = reason ? reason : "ok";
    return reason ? -1 : 0;
}
