/* hawk.c -- Hawk request authentication (header only, SHA-256) with OpenSSL.
 *
 * Builds the Authorization header a Hawk server (DIT's activity-stream) expects and verifies
 * one (feedsim, tests). No allocation: every string is built in fixed buffers on the stack,
 * and anything that does not fit is an error, never a truncation. Thread-safe.
 *
 * Normalisation follows the Hawk reference implementation: the method is upper-cased, the
 * payload content type is lower-cased with its parameters (";charset=...") dropped, the host
 * is taken as written (brackets kept for IPv6), the port defaults to 80/443. */
#include "hawk.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define B64_SHA256_LEN 44       /* base64 of 32 bytes, without the NUL */
#define HAWK_FIELD_MAX 512      /* longest attribute value we accept */
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

/* ---- verifying a header ---- */

enum { A_ID, A_TS, A_NONCE, A_HASH, A_EXT, A_MAC, A_APP, A_DLG, A_COUNT };
static const char *const attr_names[A_COUNT] = {"id", "ts", "nonce", "hash", "ext", "mac", "app", "dlg"};

typedef struct {
    char val[A_COUNT][HAWK_FIELD_MAX];
    int seen[A_COUNT];
} hawk_attrs_t;

static int attr_index(const char *name, size_t len)
{
    for (int i = 0; i < A_COUNT; i++)
        if (strlen(attr_names[i]) == len && memcmp(attr_names[i], name, len) == 0)
            return i;
    return -1;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Parse one `name="value"` at *pp into a. Returns NULL on success or the reason. */
static const char *parse_attr(const char **pp, hawk_attrs_t *a)
{
    const char *p = *pp, *name = p;
    while (isalpha((unsigned char)*p))
        p++;
    int idx = attr_index(name, (size_t)(p - name));
    if (idx < 0)
        return "malformed header: unknown attribute";
    if (a->seen[idx])
        return "malformed header: duplicate attribute";
    if (p[0] != '=' || p[1] != '"')
        return "malformed header: expected name=\"value\"";
    p += 2;
    size_t n = 0;
    for (; *p && *p != '"'; p++) {
        if (!attr_char_ok((unsigned char)*p))
            return "malformed header: bad character in attribute value";
        if (n + 1 >= HAWK_FIELD_MAX)
            return "malformed header: attribute value too long";
        a->val[idx][n++] = *p;
    }
    if (*p != '"')
        return "malformed header: unterminated attribute value";
    a->val[idx][n] = '\0';
    a->seen[idx] = 1;
    *pp = p + 1;
    return NULL;
}

static const char *parse_header(const char *h, hawk_attrs_t *a)
{
    memset(a->seen, 0, sizeof a->seen);
    h = skip_ws(h);
    if (strncasecmp(h, "Hawk", 4) != 0 || (h[4] != ' ' && h[4] != '\t'))
        return "malformed header: scheme is not Hawk";
    const char *p = skip_ws(h + 4);
    for (;;) {
        const char *why = parse_attr(&p, a);
        if (why)
            return why;
        p = skip_ws(p);
        if (*p == '\0')
            break;
        if (*p != ',')
            return "malformed header: expected ',' between attributes";
        p = skip_ws(p + 1);
    }
    if (!a->seen[A_ID] || !a->seen[A_TS] || !a->seen[A_NONCE] || !a->seen[A_MAC])
        return "malformed header: missing id, ts, nonce or mac";
    return NULL;
}

static int parse_ts(const char *s, int64_t *out)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno)
        return -1;
    *out = v;
    return 0;
}

static const char *verify(const char *header, const char *id, const char *key, const char *method,
                          const char *path_query, const char *host, int port, int64_t now_s, int skew_s)
{
    hawk_attrs_t a;
    int64_t ts;
    char mac[B64_SHA256_LEN + 4];

    if (!header || !*header)
        return "missing Authorization header";
    const char *why = parse_header(header, &a);
    if (why)
        return why;
    if (parse_ts(a.val[A_TS], &ts) < 0)
        return "malformed header: ts is not a number";
    if (strcmp(a.val[A_ID], id) != 0)
        return "unknown credentials id";
    hawk_norm_t f = {.ts = a.val[A_TS], .nonce = a.val[A_NONCE], .method = method,
                     .resource = path_query, .host = host, .port = port,
                     .hash = a.seen[A_HASH] ? a.val[A_HASH] : NULL,
                     .ext = a.seen[A_EXT] ? a.val[A_EXT] : NULL,
                     .app = a.seen[A_APP] ? a.val[A_APP] : NULL,
                     .dlg = a.seen[A_DLG] ? a.val[A_DLG] : NULL};
    if (compute_mac(key, &f, mac) < 0)
        return "request too large to authenticate";
    size_t maclen = strlen(a.val[A_MAC]);
    if (maclen != strlen(mac) || CRYPTO_memcmp(mac, a.val[A_MAC], maclen) != 0)
        return "bad mac";
    int64_t lo = ts < now_s ? ts : now_s, hi = ts < now_s ? now_s : ts;
    uint64_t diff = (uint64_t)hi - (uint64_t)lo;    /* exact: hi >= lo, so no overflow */
    if (diff > (uint64_t)(skew_s > 0 ? skew_s : 0))
        return "stale timestamp";
    return NULL;
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
