/* fetch.h -- one reusable HTTP GET slot per feed for the ingest thread: a libcurl easy handle
 * configured from the feed's config (timeouts, TLS verification and CA file, gzip/deflate,
 * up to 5 redirects over http/https only, User-Agent, auth, static headers), a body buffer
 * capped at the feed's max_page_bytes, the captured ETag / Last-Modified / Retry-After, and
 * one-line error messages naming the URL. The caller drives the handle with its own multi
 * handle. Not thread-safe: one thread uses a fetch_t at a time. */
#ifndef FETCH_H
#define FETCH_H
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include "config.h"

typedef struct fetch fetch_t;

/* Create a slot for `feed` (BORROWED, must outlive the slot). `ca_file` (BORROWED, may be
 * NULL) is the top-level CA bundle used when the feed has none. Returns 0, or -1 when out of
 * memory or libcurl refuses an option (message in err). */
int fetch_new(fetch_t **out, const config_feed_t *feed, const char *ca_file, char *err,
              size_t errlen);
void fetch_free(fetch_t *f); /* NULL is a no-op; the handle must not be in a multi handle */

/* Prepare a GET of `url` (absolute http(s) URL, copied). `etag` / `last_modified` (may be
 * NULL) add If-None-Match / If-Modified-Since. Returns the easy handle (BORROWED, owned by
 * the slot) for curl_multi_add_handle, or NULL with a message in err. */
CURL *fetch_prepare(fetch_t *f, const char *url, const char *etag, const char *last_modified,
                    char *err, size_t errlen);

/* The slot's easy handle (BORROWED), e.g. to remove it from a multi handle. */
CURL *fetch_handle(fetch_t *f);

typedef struct {
    long status;                /* HTTP status of the final response */
    const char *body;           /* BORROWED until the next fetch_prepare; not NUL-terminated */
    size_t len;
    const char *etag;           /* BORROWED, NULL when absent */
    const char *last_modified;  /* BORROWED, NULL when absent */
    int64_t retry_after_ms;     /* Retry-After (seconds or HTTP date), -1 when absent/invalid */
    const char *url;            /* BORROWED: the URL given to fetch_prepare */
    const char *effective_url;  /* BORROWED: the URL after redirects */
} fetch_result_t;

/* After the transfer finished with `code` (from CURLMSG_DONE): fill *res and return 0 when an
 * HTTP response arrived (whatever its status); return -1 with a message in err for transport
 * failures ("timeout after 30000 ms fetching URL", "connection refused fetching URL",
 * "page larger than N bytes: URL", ...). */
int fetch_result(fetch_t *f, CURLcode code, fetch_result_t *res, char *err, size_t errlen);

/* A short printable excerpt of an error response body for messages (first line, at most
 * `max` bytes, non-printable bytes replaced), written into out; "" when there is none. */
void fetch_body_excerpt(const fetch_result_t *res, char *out, size_t max);

/* Resolve `ref` (absolute or relative) against `base`. Returns a malloc'd absolute URL
 * (caller frees) or NULL when it cannot be resolved or is not http(s). */
char *fetch_resolve_url(const char *base, const char *ref);

#endif
