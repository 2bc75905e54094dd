/* hawk.h -- Hawk HTTP authentication (the scheme DIT's activity-stream sources use),
 * header-only (no payload validation of responses). Pure; thread-safe.
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

/* Verify an Authorization header value for a request (used by feedsim and tests).
 * `path_query` is the request target, `host`/`port` as the client addressed the server.
 * Returns 0 when the id is `id`, the MAC matches and |now - ts| <= skew_s; -1 otherwise, with
 * a reason in *why (static). */
int hawk_verify(const char *header, const char *id, const char *key, const char *method,
                const char *path_query, const char *host, int port, int64_t now_s, int skew_s,
                const char **why);

#endif
