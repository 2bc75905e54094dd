/* esroute.c -- routing of the Elasticsearch API's requests and its media types. See esroute.h. */
#include "esroute.h"
#include "esops.h"
#include "urlcode.h"
#include <string.h>
#include <strings.h>

#define MAX_SEGS 4

static const char ct_json[] = "application/json; charset=UTF-8";
static const char ct_compat8[] = "application/vnd.elasticsearch+json;compatible-with=8";
static const char ct_compat7[] = "application/vnd.elasticsearch+json;compatible-with=7";

static bool is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* ---- claims ---- */

/* The raw segments' starts and lengths (a trailing '/' adds none). Returns how many, or
 * MAX_SEGS + 1 when there are more. */
static size_t split(const char *path, size_t len, const char *seg[], size_t seglen[])
{
    size_t n = 0, i = len && path[0] == '/' ? 1 : 0;
    while (i < len && n <= MAX_SEGS) {
        const char *slash = memchr(path + i, '/', len - i);
        size_t w = slash ? (size_t)(slash - path) - i : len - i;
        if (n < MAX_SEGS) {
            seg[n] = path + i;
            seglen[n] = w;
        }
        n++;
        i += w + 1;
    }
    return n;
}

static bool wants_html(const char *accept, size_t alen)
{
    return accept && memmem(accept, alen, "text/html", 9) != NULL;
}

bool esroute_claims(const char *method, size_t mlen, const char *path, size_t len, const char *accept,
                    size_t alen)
{
    const char *seg[MAX_SEGS];
    size_t seglen[MAX_SEGS], n = split(path, len, seg, seglen);
    if (n == 0)   /* "/": the dashboard for a browser, else the root document */
        return !(wants_html(accept, alen) && (is(method, mlen, "GET") || is(method, mlen, "HEAD")));
    return (seglen[0] && seg[0][0] == '_') || (n >= 2 && seglen[1] && seg[1][0] == '_');
}

/* ---- routes ---- */

enum { M_GET = 1, M_HEAD = 2, M_POST = 4, M_DELETE = 8 };

typedef struct {
    const char *s0, *s1;        /* fixed segments; "*": the index (s0) or an id (s1/s2) */
    size_t nsegs;
    int methods;                /* M_* it takes */
    int op, delete_op;          /* the operation; DELETE's if it is another (-1: none) */
    int id_seg;                 /* which segment is an id (-1: none) */
} route_t;

static const route_t routes[] = {
    {"_search", NULL, 1, M_GET | M_POST, ESOP_SEARCH, -1, -1},
    {"_count", NULL, 1, M_GET | M_POST, ESOP_COUNT, -1, -1},
    {"_msearch", NULL, 1, M_GET | M_POST, ESOP_MSEARCH, -1, -1},
    {"_search", "scroll", 2, M_GET | M_POST | M_DELETE, ESOP_SCROLL, ESOP_CLEAR_SCROLL, -1},
    {"_search", "scroll", 3, M_GET | M_POST | M_DELETE, ESOP_SCROLL, ESOP_CLEAR_SCROLL, 2},
    {"_pit", NULL, 1, M_DELETE, -1, ESOP_PIT_CLOSE, -1},
    {"_mapping", NULL, 1, M_GET, ESOP_MAPPING, -1, -1},
    {"_cat", "indices", 2, M_GET, ESOP_CAT_INDICES, -1, -1},
    {"_cat", "indices", 3, M_GET, ESOP_CAT_INDICES, -1, -1},   /* segment 2: the index */
    {"*", "_search", 2, M_GET | M_POST, ESOP_SEARCH, -1, -1},
    {"*", "_count", 2, M_GET | M_POST, ESOP_COUNT, -1, -1},
    {"*", "_msearch", 2, M_GET | M_POST, ESOP_MSEARCH, -1, -1},
    {"*", "_pit", 2, M_POST, ESOP_PIT_OPEN, -1, -1},
    {"*", "_mapping", 2, M_GET, ESOP_MAPPING, -1, -1},
    {"*", "_doc", 3, M_GET | M_HEAD, ESOP_DOC, -1, 2},
};

static int method_bit(const char *m, size_t n)
{
    return is(m, n, "GET") ? M_GET : is(m, n, "HEAD") ? M_HEAD : is(m, n, "POST") ? M_POST
           : is(m, n, "DELETE") ? M_DELETE : 0;
}

static const char *allow_text(int methods)
{
    static const char *const texts[] = {"", "GET", "HEAD", "GET, HEAD", "POST", "GET, POST", "HEAD, POST",
                                        "GET, HEAD, POST", "DELETE", "GET, DELETE", "HEAD, DELETE",
                                        "GET, HEAD, DELETE", "POST, DELETE", "GET, POST, DELETE",
                                        "HEAD, POST, DELETE", "GET, HEAD, POST, DELETE"};
    return texts[methods & 15];
}

/* Does the route fit the decoded segments? An index segment may be anything but an API name
 * (it starts with '_' only as _all). */
static bool fits(const route_t *rt, char *const seg[], size_t n)
{
    if (rt->nsegs != n)
        return false;
    if (strcmp(rt->s0, "*") == 0 ? seg[0][0] == '_' && strcmp(seg[0], "_all") != 0 : strcmp(rt->s0, seg[0]) != 0)
        return false;
    return !rt->s1 || strcmp(rt->s1, seg[1]) == 0;
}

static int fill(const route_t *rt, int bit, char *const seg[], esroute_t *out)
{
    out->op = bit == M_DELETE ? rt->delete_op : rt->op;
    out->head = bit == M_HEAD;
    if (strcmp(rt->s0, "*") == 0)
        out->index = seg[0];
    else if (rt->op == ESOP_CAT_INDICES && rt->nsegs == 3)
        out->index = seg[2];
    if (rt->id_seg >= 0) {
        out->id = seg[rt->id_seg];
        out->id_len = strlen(seg[rt->id_seg]);
    }
    return 0;
}

/* The decoded segments into buf; returns how many, or -1 (bad escape, empty or too many). */
static int decode_segs(const char *path, size_t len, char *buf, size_t buflen, char *seg[])
{
    const char *raw[MAX_SEGS];
    size_t rawlen[MAX_SEGS], n = split(path, len, raw, rawlen), used = 0;
    if (n > MAX_SEGS)
        return -1;
    for (size_t i = 0; i < n; i++) {
        long d = rawlen[i] ? urlcode_decode_path(raw[i], rawlen[i], buf + used, buflen - used) : -1;
        if (d < 0)
            return -1;
        seg[i] = buf + used;
        used += (size_t)d + 1;
    }
    return (int)n;
}

int esroute_match(const char *method, size_t mlen, const char *path, size_t len, char *buf, size_t buflen,
                  esroute_t *out)
{
    char *seg[MAX_SEGS];
    *out = (esroute_t){.op = -1, .path = buf};
    if (urlcode_decode_path(path, len, buf, buflen) < 0)
        return ESROUTE_ERR_PATH;
    size_t used = strlen(buf) + 1;
    int n = decode_segs(path, len, buf + used, buflen - used, seg), bit = method_bit(method, mlen);
    if (n == 0) {
        out->op = ESOP_ROOT;
        out->head = bit == M_HEAD;
        out->allow = "GET, HEAD";
        return bit == M_GET || bit == M_HEAD ? 0 : ESROUTE_ERR_METHOD;
    }
    int methods = 0;
    for (size_t i = 0; n > 0 && i < sizeof routes / sizeof routes[0]; i++) {
        if (!fits(&routes[i], seg, (size_t)n))
            continue;
        if (routes[i].methods & bit)
            return fill(&routes[i], bit, seg, out);
        methods |= routes[i].methods;
    }
    out->allow = allow_text(methods);
    return n < 0 ? ESROUTE_ERR_PATH : methods ? ESROUTE_ERR_METHOD : ESROUTE_ERR_NO_HANDLER;
}

/* ---- media types ---- */

/* One media range s[0..n) ("type/sub; param=v; ..."): 0 for plain JSON or NDJSON (or anything
 * else), 7 or 8 for Elasticsearch's compatible types, -1 for another compatible-with. */
static int media_version(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    const char *semi = memchr(s, ';', n);   /* s is not NUL-terminated: a header value */
    size_t tl = semi ? (size_t)(semi - s) : n;
    while (tl && (s[tl - 1] == ' ' || s[tl - 1] == '\t'))
        tl--;
    if (!((tl == 34 && strncasecmp(s, "application/vnd.elasticsearch+json", 34) == 0) ||
          (tl == 36 && strncasecmp(s, "application/vnd.elasticsearch+x-ndjson", 36) == 0)))
        return 0;
    const char *cw = memmem(s, n, "compatible-with=", 16);
    if (!cw)
        return 0;
    size_t rest = n - (size_t)(cw + 16 - s);
    if (rest >= 1 && (cw[16] == '7' || cw[16] == '8') && (rest == 1 || cw[17] == ';' || cw[17] == ' '))
        return cw[16] - '0';
    return -1;
}

int esroute_content_type(const char *ct, size_t len)
{
    return ct && media_version(ct, len) < 0 ? ESROUTE_ERR_MEDIA : 0;
}

int esroute_accept(const char *accept, size_t len, const char **out)
{
    *out = ct_json;
    for (size_t i = 0; accept && i < len;) {
        const char *comma = memchr(accept + i, ',', len - i);
        size_t w = comma ? (size_t)(comma - accept) - i : len - i;
        int v = media_version(accept + i, w);
        if (v < 0)
            return ESROUTE_ERR_MEDIA;
        if (v)
            *out = v == 7 ? ct_compat7 : ct_compat8;
        i += w + 1;
    }
    return 0;
}
