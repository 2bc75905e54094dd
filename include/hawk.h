/* hawk.h -- Hawk HTTP authentication (the scheme DIT's activity-stream sources use), SHA-256
 * only: the client's Authorization header, and the server's checks of one (the reference
 * implementation's header grammar, MAC, payload hash, timestamp window and its signed ts/tsm
 * challenge). Responses are not signed (no Server-Authorization). Replays are the caller's
 * business (nonce.h), after hawk_check succeeds. Pure; no allocation; thread-safe.
 *
 *   MAC  = base64(HMAC-SHA256(key, "hawk.1.header\n{ts}\n{nonce}\n{METHOD}\n{path?query}\n
 *          {host}\n{port}\n{hash}\n\n"))
 *   hash = base64(SHA-256("hawk.1.payload\n{content type}\n{body}\n"))
 *   header: Hawk mac="…", hash="…", id="…", ts="…", nonce="…"
 */
#ifndef HAWK_H
#define HAWK_H
#include <stddef.h>
#include <stdint.h>

/* Payload hash of a request body (for a GET: empty body and empty content type).
 * `out` holds at least 48 bytes; returns 0. */
int hawk_payload_hash(const char *content_type, const void *body, size_t len, char *out, size_t outlen);

/* The value of the Authorization header for a request to `url` (absolute http(s) URL; the
 * default port is used when none is given). `nonce` NULL: a random one. Returns the length
 * written (NUL-terminated) or -1 if the URL cannot be parsed or out is too small (512 bytes
 * is always enough for ids under 128 bytes). */
int hawk_authorization(const char *id, const char *key, const char *method, const char *url,
                       const char *content_type, const void *body, size_t body_len,
                       int64_t ts, const char *nonce, char *out, size_t outlen);

/* ---- server side ---- */

#define HAWK_HEADER_MAX 4096   /* a longer Authorization value is refused (as the reference does) */

/* Error codes (negative); hawk_strerror names them. */
enum {
    HAWK_OK = 0,
    HAWK_ERR_MALFORMED = -1,     /* header syntax, unknown/duplicate/missing attribute, bad or
                                    empty or too long value, ts not a number, too long header */
    HAWK_ERR_BAD_MAC = -2,
    HAWK_ERR_MISSING_HASH = -3,  /* the request has a body but the header no payload hash */
    HAWK_ERR_BAD_HASH = -4,      /* the payload hash does not match body and content type */
    HAWK_ERR_STALE = -5,         /* ts outside the window (answer with hawk_ts_challenge) */
    HAWK_ERR_INVALID = -6,       /* the request is too long to normalise (target over ~8 KiB) */
};

/* A parsed header: each attribute NUL-terminated, "" when absent (values are never empty).
 * Values hold only printable ASCII without '"' and '\'. The sizes are the limits. */
typedef struct {
    char id[128], ts[20], nonce[128], hash[64], ext[1024], mac[64], app[128], dlg[128];
    int64_t ts_s;              /* ts as a number */
} hawk_header_t;

/* Parse an Authorization value, value[0..len) (need not be NUL-terminated), with the grammar of
 * the reference implementation: `Hawk` (any case), blanks, then `name="value"` pairs separated
 * by ',' with optional blanks; names among id, ts, nonce, hash, ext, mac, app, dlg, none twice;
 * id, ts, nonce and mac required; at most HAWK_HEADER_MAX bytes. Returns HAWK_OK, or
 * HAWK_ERR_MALFORMED with the reason in *why (static text, "malformed header: ..."; `why` may be
 * NULL). *out is always initialised. */
int hawk_parse(const char *value, size_t len, hawk_header_t *out, const char **why);

/* The request as the client addressed it. All strings borrowed, NUL-terminated. */
typedef struct {
    const char *method;        /* any case */
    const char *path_query;    /* the request target as sent */
    const char *host;          /* as in Host (brackets kept for IPv6), without the port */
    int port;                  /* from Host, else 80 / 443 by scheme */
    const char *content_type;  /* NULL: none */
    const void *body;          /* may be NULL when body_len is 0 */
    size_t body_len;
} hawk_request_t;

/* Check a parsed header against the request and the client's key, in the reference's order:
 * the MAC; the payload hash (required when body_len > 0, checked whenever the header has one);
 * then |now_s - ts| <= skew_s. Comparisons are constant-time. Returns HAWK_OK,
 * HAWK_ERR_BAD_MAC, HAWK_ERR_MISSING_HASH, HAWK_ERR_BAD_HASH, HAWK_ERR_STALE or
 * HAWK_ERR_INVALID. */
int hawk_check(const hawk_header_t *h, const char *key, const hawk_request_t *req, int64_t now_s, int skew_s);

/* The WWW-Authenticate value answering a stale timestamp:
 *   Hawk ts="<now_s>", tsm="<base64(HMAC-SHA256(key, "hawk.1.ts\n<now_s>\n"))>", error="Stale timestamp"
 * with which the client corrects its clock. Returns the length written (NUL-terminated; 128
 * bytes are always enough) or -1 when out is too small. */
int hawk_ts_challenge(const char *key, int64_t now_s, char *out, size_t outlen);

/* A static name for a HAWK_* code ("bad mac", ...). */
const char *hawk_strerror(int code);

/* Verify an Authorization header value for a request (used by feedsim and tests).
 * `path_query` is the request target, `host`/`port` as the client addressed the server.
 * Header only: a payload hash enters the MAC but is not compared with any body.
 * Returns 0 when the id is `id`, the MAC matches and |now - ts| <= skew_s; -1 otherwise, with
 * a reason in *why (static). */
int hawk_verify(const char *header, const char *id, const char *key, const char *method,
                const char *path_query, const char *host, int port, int64_t now_s, int skew_s,
                const char **why);

#endif
