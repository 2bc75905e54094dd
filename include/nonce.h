/* nonce.h -- the Hawk replay cache: remembers (client id, nonce) for a fixed time, in bounded
 * memory, so that a request seen once is refused when it comes again, and so is any request of
 * that client with the same nonce within the time (issue 11: "a nonce seen twice within 120 s
 * rejected"; stricter than Hawk's own (id, nonce, ts), and clients draw random nonces).
 * Thread-safe: every event loop checks against one cache (a mutex around each call).
 *
 * With a timestamp window of +-W seconds, entries must live 2W: a ts accepted at time t lies in
 * [t - W, t + W] and stays acceptable until t + 2W at the latest (Hawk: W = 60, TTL = 120 s).
 * Callers check the timestamp first, so only requests inside the window reach the cache.
 *
 * When the cache holds `capacity` live entries, new ones are refused (NONCE_ERR_FULL) rather
 * than old ones forgotten early: forgetting would let a replay through. Only requests with a
 * valid MAC get this far, so filling the cache takes a client's own key. */
#ifndef NONCE_H
#define NONCE_H
#include <stddef.h>
#include <stdint.h>

typedef struct nonce_cache nonce_cache_t;

/* Error codes (negative). */
enum {
    NONCE_OK = 0,
    NONCE_ERR_REPLAY = -1,   /* (id, nonce) was seen within the TTL */
    NONCE_ERR_FULL = -2,     /* `capacity` live entries: refused, nothing recorded */
    NONCE_ERR_NOMEM = -3,    /* nonce_cache_new: out of memory */
    NONCE_ERR_INVALID = -4,  /* nonce_cache_new: capacity 0 or too large, ttl <= 0 */
};

/* A cache of at most `capacity` entries (each ~40 bytes of memory, allocated up front), each
 * kept `ttl_s` seconds after it was recorded. Returns NONCE_OK and the cache in *out (free with
 * nonce_cache_free), NONCE_ERR_INVALID or NONCE_ERR_NOMEM. */
int nonce_cache_new(nonce_cache_t **out, size_t capacity, int64_t ttl_s);

/* Record (id, nonce) at time now_s (seconds; the caller's wall clock, as for the ts check)
 * unless it is already there. Entries older than the TTL are dropped first. `id` and `nonce` are
 * NUL-terminated and borrowed. Returns NONCE_OK (first time: recorded), NONCE_ERR_REPLAY or
 * NONCE_ERR_FULL. */
int nonce_cache_check(nonce_cache_t *c, const char *id, const char *nonce, int64_t now_s);

/* Live entries (for tests and metrics). */
size_t nonce_cache_size(nonce_cache_t *c);

void nonce_cache_free(nonce_cache_t *c);   /* NULL is a no-op */

#endif
