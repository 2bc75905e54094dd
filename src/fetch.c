/* fetch.c -- one reusable HTTP GET slot per feed: a configured libcurl easy handle, a body
 * buffer capped at max_page_bytes, captured validators and Retry-After, and error messages
 * that name the URL. The ingest thread owns every slot and drives them with its multi handle.
 *
 * Memory policy: allocation failures become errors ("out of memory ..."), never crashes; a
 * body that outgrows the cap aborts the transfer from the write callback. */
#include "fetch.h"
#include "errfmt.h"
#include "bytebuf.h"
#include "hawk.h"
#include "version.h"
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_MAX_PAGE (64ull << 20)
#define BODY_KEEP (8u << 20)       /* a larger body buffer is freed before the next request */
#define ACCEPT_HEADER \
    "Accept: application/activity+json, application/ld+json; q=0.9, application/json; q=0.8"

struct fetch {
    const config_feed_t *feed;  /* borrowed */
    CURL *easy;                 /* owned */
    struct curl_slist *headers; /* owned; the current request's headers */
    char *url;                  /* owned; the current request's URL */
    bytebuf_t body;             /* owned; limited to max_bytes */
    uint64_t max_bytes;
    int too_large;              /* the write callback refused the body */
    int nomem;                  /* the write callback could not grow the buffer */
    char *etag, *last_modified; /* owned; from the final response */
    int64_t retry_after_ms;
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- callbacks ---- */

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    fetch_t *f = ud;
    size_t bytes = size * n;
    int rc = bytebuf_append(&f->body, data, bytes);
    if (rc == BYTEBUF_ERR_LIMIT)
        f->too_large = 1;
    else if (rc < 0)
        f->nomem = 1;
    return rc < 0 ? 0 : bytes;
}

/* Trimmed copy of a header value (without CR/LF and surrounding blanks); NULL when empty. */
static char *header_value(const char *v, size_t len)
{
    while (len && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' ' ||
                   v[len - 1] == '\t'))
        len--;
    return len ? strndup(v, len) : NULL;
}

static int64_t parse_retry_after(const char *v)
{
    if (!v)
        return -1;
    if (isdigit((unsigned char)v[0])) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(v, &end, 10);
        if (errno || *end)
            return -1;
        return s > 86400ull * 365 ? 86400ll * 365 * 1000 : (int64_t)s * 1000;
    }
    time_t t = curl_getdate(v, NULL);
    if (t == (time_t)-1)
        return -1;
    time_t now = time(NULL);
    return t > now ? (int64_t)(t - now) * 1000 : 0;
}

static void reset_captured(fetch_t *f)
{
    free(f->etag);
    free(f->last_modified);
    f->etag = f->last_modified = NULL;
    f->retry_after_ms = -1;
}

static int header_is(const char *line, size_t len, const char *name, const char **value,
                     size_t *vlen)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return 0;
    *value = line + n + 1;
    *vlen = len - n - 1;
    return 1;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
    fetch_t *f = ud;
    size_t len = size * n, vlen;
    const char *v;
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        reset_captured(f); /* a new response (after a redirect or 100 Continue) */
    } else if (header_is(line, len, "etag", &v, &vlen)) {
        free(f->etag);
        f->etag = header_value(v, vlen);
    } else if (header_is(line, len, "last-modified", &v, &vlen)) {
        free(f->last_modified);
        f->last_modified = header_value(v, vlen);
    } else if (header_is(line, len, "retry-after", &v, &vlen)) {
        char *s = header_value(v, vlen);
        f->retry_after_ms = parse_retry_after(s);
        free(s);
    }
    return len;
}

/* ---- setup ---- */

static int set_options(fetch_t *f, const char *ca_file, char *err, size_t errlen)
{
    const config_feed_t *c = f->feed;
    int bad = 0; /* any option libcurl refused */
    bad |= curl_easy_setopt(f->easy, CURLOPT_NOSIGNAL, 1L);
    bad |= curl_easy_setopt(f->easy, CURLOPT_ERRORBUFFER, f->errbuf);
    bad |= curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, on_body);
    bad |= curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, (void *)f);
    bad |= curl_easy_setopt(f->easy, CURLOPT_HEADERFUNCTION, on_header);
    bad |= curl_easy_setopt(f->easy, CURLOPT_HEADERDATA, (void *)f);
    bad |= curl_easy_setopt(f->easy, CURLOPT_USERAGENT, AS_USER_AGENT);
    bad |= curl_easy_setopt(f->easy, CURLOPT_ACCEPT_ENCODING, "");
    bad |= curl_easy_setopt(f->easy, CURLOPT_FOLLOWLOCATION, 1L);
    bad |= curl_easy_setopt(f->easy, CURLOPT_MAXREDIRS, 5L);
    bad |= curl_easy_setopt(f->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    bad |= curl_easy_setopt(f->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    bad |= curl_easy_setopt(f->easy, CURLOPT_SSL_VERIFYPEER, 1L);
    bad |= curl_easy_setopt(f->easy, CURLOPT_SSL_VERIFYHOST, 2L);
    bad |= curl_easy_setopt(f->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    bad |= curl_easy_setopt(f->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->max_bytes);
    if (c->timeout_ms > 0)
        bad |= curl_easy_setopt(f->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    if (c->connect_timeout_ms > 0)
        bad |= curl_easy_setopt(f->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
    const char *ca = c->ca_file ? c->ca_file : ca_file;
    if (ca)
        bad |= curl_easy_setopt(f->easy, CURLOPT_CAINFO, ca);
    if (c->auth.type == AUTH_BASIC) {
        bad |= curl_easy_setopt(f->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        bad |= curl_easy_setopt(f->easy, CURLOPT_USERNAME, c->auth.user ? c->auth.user : "");
        bad |= curl_easy_setopt(f->easy, CURLOPT_PASSWORD, c->auth.password ? c->auth.password : "");
    }
    if (bad)
        return errfmt(err, errlen, "feed %s: libcurl refused an option", c->id);
    return 0;
}

int fetch_new(fetch_t **out, const config_feed_t *feed, const char *ca_file, char *err,
              size_t errlen)
{
    *out = NULL;
    fetch_t *f = calloc(1, sizeof *f);
    if (!f)
        return errfmt(err, errlen, "out of memory");
    f->feed = feed;
    f->max_bytes = feed->max_page_bytes ? feed->max_page_bytes : DEFAULT_MAX_PAGE;
    f->body.max = f->max_bytes > SIZE_MAX / 4 ? SIZE_MAX / 4 : (size_t)f->max_bytes;
    f->retry_after_ms = -1;
    f->easy = curl_easy_init();
    if (!f->easy) {
        errfmt(err, errlen, "feed %s: curl_easy_init failed", feed->id);
        goto fail;
    }
    if (set_options(f, ca_file, err, errlen) < 0)
        goto fail;
    *out = f;
    return 0;
fail:
    fetch_free(f);
    return -1;
}

void fetch_free(fetch_t *f)
{
    if (!f)
        return;
    if (f->easy)
        curl_easy_cleanup(f->easy);
    curl_slist_free_all(f->headers);
    reset_captured(f);
    free(f->url);
    bytebuf_free(&f->body);
    free(f);
}

/* ---- one request ---- */

static int add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l)
        return -1;
    *list = l;
    return 0;
}

static int add_headerf(struct curl_slist **list, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int add_headerf(struct curl_slist **list, const char *fmt, ...)
{
    char *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    int rc = add_header(list, line);
    free(line);
    return rc;
}

static int add_auth(fetch_t *f, struct curl_slist **list, const char *url, char *err,
                    size_t errlen)
{
    const config_auth_t *a = &f->feed->auth;
    if (a->type == AUTH_BEARER)
        return add_headerf(list, "Authorization: Bearer %s", a->token ? a->token : "") < 0
                   ? errfmt(err, errlen, "out of memory building headers")
                   : 0;
    if (a->type != AUTH_HAWK)
        return 0;
    char value[1024];
    if (hawk_authorization(a->id ? a->id : "", a->key ? a->key : "", "GET", url, "", NULL, 0,
                           (int64_t)time(NULL), NULL, value, sizeof value) < 0)
        return errfmt(err, errlen, "cannot build a Hawk header for %s", url);
    if (add_headerf(list, "Authorization: %s", value) < 0)
        return errfmt(err, errlen, "out of memory building headers");
    return 0;
}

static int build_headers(fetch_t *f, const char *url, const char *etag, const char *lm,
                         struct curl_slist **out, char *err, size_t errlen)
{
    struct curl_slist *list = NULL;
    const config_feed_t *c = f->feed;
    if (add_header(&list, ACCEPT_HEADER) < 0)
        goto nomem;
    for (size_t i = 0; i < c->nheaders; i++)
        if (add_headerf(&list, "%s: %s", c->headers[i].name, c->headers[i].value) < 0)
            goto nomem;
    if (etag && add_headerf(&list, "If-None-Match: %s", etag) < 0)
        goto nomem;
    if (lm && add_headerf(&list, "If-Modified-Since: %s", lm) < 0)
        goto nomem;
    if (add_auth(f, &list, url, err, errlen) < 0) {
        curl_slist_free_all(list);
        return -1;
    }
    *out = list;
    return 0;
nomem:
    curl_slist_free_all(list);
    return errfmt(err, errlen, "out of memory building headers");
}

CURL *fetch_prepare(fetch_t *f, const char *url, const char *etag, const char *last_modified,
                    char *err, size_t errlen)
{
    struct curl_slist *headers = NULL;
    char *copy = strdup(url);
    if (!copy) {
        errfmt(err, errlen, "out of memory");
        return NULL;
    }
    if (build_headers(f, url, etag, last_modified, &headers, err, errlen) < 0) {
        free(copy);
        return NULL;
    }
    if (curl_easy_setopt(f->easy, CURLOPT_URL, copy) != CURLE_OK ||
        curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, headers) != CURLE_OK) {
        errfmt(err, errlen, "libcurl refused the URL %s", url);
        curl_slist_free_all(headers);
        free(copy);
        return NULL;
    }
    curl_slist_free_all(f->headers);
    free(f->url);
    f->headers = headers;
    f->url = copy;
    bytebuf_trim(&f->body, BODY_KEEP);
    f->too_large = f->nomem = 0;
    f->errbuf[0] = '\0';
    reset_captured(f);
    return f->easy;
}

CURL *fetch_handle(fetch_t *f)
{
    return f->easy;
}

/* ---- results ---- */

static int transport_error(fetch_t *f, CURLcode code, char *err, size_t errlen)
{
    const char *url = f->url;
    const char *detail = f->errbuf[0] ? f->errbuf : curl_easy_strerror(code);
    long os_errno = 0;
    curl_off_t connect_us = 0;
    curl_easy_getinfo(f->easy, CURLINFO_OS_ERRNO, &os_errno);
    curl_easy_getinfo(f->easy, CURLINFO_CONNECT_TIME_T, &connect_us);
    if (f->too_large || code == CURLE_FILESIZE_EXCEEDED)
        return errfmt(err, errlen, "page larger than %" PRIu64 " bytes: %s", f->max_bytes, url);
    if (f->nomem)
        return errfmt(err, errlen, "out of memory reading %s", url);
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        if (connect_us == 0 && f->feed->connect_timeout_ms > 0)
            return errfmt(err, errlen, "connect timeout after %lld ms fetching %s",
                        (long long)f->feed->connect_timeout_ms, url);
        return errfmt(err, errlen, "timeout after %lld ms fetching %s",
                    (long long)f->feed->timeout_ms, url);
    case CURLE_COULDNT_CONNECT:
        if (os_errno == ECONNREFUSED)
            return errfmt(err, errlen, "connection refused fetching %s", url);
        return errfmt(err, errlen, "cannot connect fetching %s: %s", url, detail);
    case CURLE_COULDNT_RESOLVE_HOST:
        return errfmt(err, errlen, "cannot resolve host fetching %s: %s", url, detail);
    case CURLE_TOO_MANY_REDIRECTS:
        return errfmt(err, errlen, "more than 5 redirects fetching %s", url);
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return errfmt(err, errlen, "connection closed early fetching %s: %s", url, detail);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
        return errfmt(err, errlen, "TLS error fetching %s: %s", url, detail);
    default:
        return errfmt(err, errlen, "%s fetching %s", detail, url);
    }
}

int fetch_result(fetch_t *f, CURLcode code, fetch_result_t *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    res->retry_after_ms = -1;
    res->url = f->url;
    if (code != CURLE_OK)
        return transport_error(f, code, err, errlen);
    char *eff = NULL;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &res->status);
    curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &eff);
    res->effective_url = eff ? eff : f->url;
    res->body = f->body.p ? f->body.p : "";
    res->len = f->body.len;
    res->etag = f->etag;
    res->last_modified = f->last_modified;
    res->retry_after_ms = f->retry_after_ms;
    return 0;
}

void fetch_body_excerpt(const fetch_result_t *res, char *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < res->len && n + 1 < max; i++) {
        unsigned char c = (unsigned char)res->body[i];
        if (c == '\n' || c == '\r')
            break;
        out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    while (n && out[n - 1] == ' ')
        n--;
    if (max)
        out[n] = '\0';
}

char *fetch_resolve_url(const char *base, const char *ref)
{
    char *out = NULL, *scheme = NULL;
    CURLU *u = curl_url();
    if (!u)
        return NULL;
    if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        goto done;
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
        goto done;
    curl_url_get(u, CURLUPART_URL, &out, 0);
done:
    curl_free(scheme);
    curl_url_cleanup(u);
    if (!out)
        return NULL;
    char *copy = strdup(out); /* hand back plain malloc memory */
    curl_free(out);
    return copy;
}
