/* config.c -- loads and validates the YAML configuration with libyaml's document API.
 * Every problem becomes one line "FILE:LINE: KEY-PATH: problem"; a problem in one key does not
 * stop the walk, so one load reports them all (up to CONFIG_MAX_ERRORS); on failure nothing
 * stays allocated. All strings in a config_t are malloc'd and owned by it (config_free). No global
 * state; values echoed in messages are sanitised and secrets are never echoed. */
#include "config.h"
#include "auth.h"
#include "jwt.h"
#include "netaddr.h"
#include "pathcheck.h"
#include "query.h"
#include "timefmt.h"
#include <jansson.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#define MAX_FILE_BYTES  (1u << 20)                 /* a config file larger than this is a mistake */
#define MAX_DURATION_MS (8760LL * 3600 * 1000)     /* one year keeps later arithmetic far from overflow */
#define MAX_THREADS     256
#define MAX_STREAMS     1000000
#define MAX_SEARCH_CONTEXTS 1024
#define MAX_FEED_ID     64
#define MAX_HAWK_ID     127                        /* hawk.h: ids under 128 bytes */
#define PATH_LEN        192                        /* key paths such as feeds[3].headers.X-Foo */
#define SHOW_LEN        64                         /* echoed values are cut to this */
#define MIN_TOKEN_LEN   16                         /* a static token shorter than this is guessable: a warning */
#define MAX_SCOPE_DEPTH 64                         /* YAML nesting of a scope (query.h allows 32) */
#define MAX_SCOPE_NODES 10000                      /* nodes of a scope, aliases counted each time */

#define MAX_SUGGEST_LEN 64                         /* keys longer than this get no suggestion */

/* One load: the document being walked and where messages go. */
typedef struct {
    yaml_document_t *doc;   /* borrowed */
    const char *name;       /* borrowed: the file name used in messages */
    unsigned flags;         /* CONFIG_* */
    config_report_t *rep;   /* borrowed: problems and warnings are appended to it */
} ctx_t;

/* A handler stores the value of one key into `dst` (a field, or the whole struct). */
typedef int field_fn(ctx_t *c, yaml_node_t *val, const char *path, void *dst);
typedef struct {
    const char *name;
    field_fn *fn;
    size_t offset;          /* of the field within the struct handed to walk_mapping */
} field_t;

/* ---- messages ---------------------------------------------------------------------------- */

/* Append "NAME:LINE: PATH: <kind>message\n" to `out` (no LINE when line is 0, no PATH when
 * empty); kind is "" or "warning: ". */
static void append_line(ctx_t *c, bytebuf_t *out, size_t line, const char *path, const char *kind,
                        const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
static void append_line(ctx_t *c, bytebuf_t *out, size_t line, const char *path, const char *kind,
                        const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    bytebuf_appends(out, c->name);
    if (line)
        bytebuf_printf(out, ":%zu", line);
    if (path && *path)
        bytebuf_printf(out, ": %s", path);
    bytebuf_printf(out, ": %s%s\n", kind, msg);
}

/* Report a problem at `line` (1-based; 0: none); always returns -1. */
static int fail_line(ctx_t *c, size_t line, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_line(ctx_t *c, size_t line, const char *path, const char *fmt, ...)
{
    va_list ap;
    if (c->rep->nerrors++ >= CONFIG_MAX_ERRORS)
        return -1;
    va_start(ap, fmt);
    append_line(c, &c->rep->errors, line, path, "", fmt, ap);
    va_end(ap);
    return -1;
}

static size_t line_of(const yaml_node_t *node)
{
    return node ? node->start_mark.line + 1 : 1;
}

/* Report a problem at `node`'s line; always returns -1. */
static int fail(ctx_t *c, const yaml_node_t *node, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(ctx_t *c, const yaml_node_t *node, const char *path, const char *fmt, ...)
{
    va_list ap;
    if (c->rep->nerrors++ >= CONFIG_MAX_ERRORS)
        return -1;
    va_start(ap, fmt);
    append_line(c, &c->rep->errors, line_of(node), path, "", fmt, ap);
    va_end(ap);
    return -1;
}

/* Report a warning at `node`'s line; returns 0. */
static int warn(ctx_t *c, const yaml_node_t *node, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int warn(ctx_t *c, const yaml_node_t *node, const char *path, const char *fmt, ...)
{
    va_list ap;
    c->rep->nwarnings++;
    va_start(ap, fmt);
    append_line(c, &c->rep->warnings, line_of(node), path, "warning: ", fmt, ap);
    va_end(ap);
    return 0;
}

/* Copy `s` into buf for a message: printable ASCII only, cut with "..." when long. */
static const char *show_text(const char *s, char *buf, size_t len)
{
    size_t n = 0;
    for (; *s && n + 4 < len; s++)
        buf[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    if (*s)
        memcpy(buf + n, "...", 3), n += 3;
    buf[n] = '\0';
    return buf;
}

static const char *show(const yaml_node_t *n, char *buf, size_t len)
{
    return show_text((const char *)n->data.scalar.value, buf, len);
}

/* ---- nodes ------------------------------------------------------------------------------- */

static yaml_node_t *node_at(ctx_t *c, int index)
{
    return yaml_document_get_node(c->doc, index);
}

/* A plain empty, "~" or "null" scalar: the YAML way of writing nothing. */
static int is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* What a node is, for "expected X, got Y". */
static const char *describe(const yaml_node_t *n, char *buf, size_t len)
{
    if (n->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (is_null(n))
        return "nothing";
    char v[SHOW_LEN];
    snprintf(buf, len, "'%s'", show(n, v, sizeof v));
    return buf;
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* The text of scalar `n`, or NULL after reporting "expected <want>, got ...". */
static const char *scalar_text(ctx_t *c, yaml_node_t *n, const char *path, const char *want)
{
    char got[SHOW_LEN + 2];
    if (n->type != YAML_SCALAR_NODE || is_null(n)) {
        fail(c, n, path, "expected %s, got %s", want, describe(n, got, sizeof got));
        return NULL;
    }
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
        fail(c, n, path, "contains a NUL character");
        return NULL;
    }
    return (const char *)n->data.scalar.value;
}

/* The value node of key `name` in mapping `map`, or NULL. */
static yaml_node_t *find_value(ctx_t *c, yaml_node_t *map, const char *name)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(c, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, name))
            return node_at(c, p->value);
    }
    return NULL;
}

/* out = "path.key" (or "key" at the top), the key sanitised and cut like any echoed value. */
static void join_path(char *out, const char *path, const char *key)
{
    size_t n = 0;
    if (path && *path) {
        n = strnlen(path, PATH_LEN - SHOW_LEN - 1);
        memcpy(out, path, n);
        out[n++] = '.';
    }
    show_text(key, out + n, SHOW_LEN);
}

/* Pair `p` of `map` must have a scalar key not used earlier in the mapping. Writes the key's
 * path into `sub`. */
static int check_key(ctx_t *c, yaml_node_t *map, yaml_node_pair_t *p, const char *path, char *sub)
{
    char got[SHOW_LEN + 2];
    yaml_node_t *k = node_at(c, p->key);
    if (k->type != YAML_SCALAR_NODE || is_null(k))
        return fail(c, k, path, "expected a key name, got %s", describe(k, got, sizeof got));
    const char *name = (const char *)k->data.scalar.value;
    join_path(sub, path, name);
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
        yaml_node_t *prev = node_at(c, q->key);
        if (prev->type == YAML_SCALAR_NODE && !strcmp((const char *)prev->data.scalar.value, name))
            return fail(c, k, sub, "duplicate key (first at line %zu)", prev->start_mark.line + 1);
    }
    return 0;
}

/* Edit distance between a and b (adjacent transpositions count as one), capped inputs. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), d[MAX_SUGGEST_LEN + 1][MAX_SUGGEST_LEN + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1], best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

/* How far `name` is from the known key `known`: 0 for a difference of case only or a start
 * of it (4 characters at least: full_sync for full_sync_interval), else the edit distance. */
static size_t key_distance(const char *name, const char *known)
{
    size_t n = strlen(name);
    if (strcasecmp(name, known) == 0 || (n >= 4 && strncasecmp(name, known, n) == 0))
        return 0;
    return strlen(known) > MAX_SUGGEST_LEN ? SIZE_MAX : edit_distance(name, known);
}

/* The known key nearest to `name`, or NULL when none is near enough to be what was meant. */
static const char *nearest_key(const char *name, const field_t *fields, size_t nfields)
{
    const char *best = NULL;
    size_t best_d = 1 + strlen(name) / 4 + 1;
    if (strlen(name) > MAX_SUGGEST_LEN)
        return NULL;
    for (size_t i = 0; i < nfields; i++) {
        size_t d = key_distance(name, fields[i].name);
        if (d < best_d) {
            best = fields[i].name;
            best_d = d;
        }
    }
    return best;
}

static int unknown_key(ctx_t *c, yaml_node_t *key, const char *path, const field_t *fields, size_t nfields)
{
    const char *near = nearest_key((const char *)key->data.scalar.value, fields, nfields);
    if (near)
        return fail(c, key, path, "unknown key, did you mean %s?", near);
    return fail(c, key, path, "unknown key");
}

static const field_t *find_field(const char *name, const field_t *fields, size_t nfields)
{
    for (size_t i = 0; i < nfields; i++)
        if (!strcmp(fields[i].name, name))
            return &fields[i];
    return NULL;
}

/* Walk mapping `map`, handing each key's value to its handler in `fields`. A problem with one
 * key is reported and the walk goes on with the next; returns -1 when there was any. */
static int walk_mapping(ctx_t *c, yaml_node_t *map, const char *path, const field_t *fields,
                        size_t nfields, void *base)
{
    char got[SHOW_LEN + 2], sub[PATH_LEN];
    int rc = 0;
    if (map->type != YAML_MAPPING_NODE)
        return fail(c, map, path, "expected a mapping, got %s", describe(map, got, sizeof got));
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        if (check_key(c, map, p, path, sub) < 0) {
            rc = -1;
            continue;
        }
        yaml_node_t *key = node_at(c, p->key);
        const field_t *f = find_field((const char *)key->data.scalar.value, fields, nfields);
        if (!f)
            rc = unknown_key(c, key, sub, fields, nfields);
        else if (f->fn(c, node_at(c, p->value), sub, (char *)base + f->offset) < 0)
            rc = -1;
    }
    return rc;
}

/* After a walk: report `name` missing from `map` when it is not there at all (a key that is
 * there but was refused has been reported already). Returns 0 when it is there. */
static int require_key(ctx_t *c, yaml_node_t *map, const char *path, const char *name)
{
    if (map->type != YAML_MAPPING_NODE)
        return -1;
    if (find_value(c, map, name))
        return 0;
    return fail(c, map, path, "missing required key '%s'", name);
}

/* ---- scalar values ----------------------------------------------------------------------- */

static int set_string(ctx_t *c, yaml_node_t *n, const char *path, const char *text, char **dst)
{
    char *copy = strdup(text);
    if (!copy)
        return fail(c, n, path, "out of memory");
    free(*dst);
    *dst = copy;
    return 0;
}

/* A non-empty string (file names and the like). */
static int parse_string(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    const char *s = scalar_text(c, n, path, "a string");
    if (!s)
        return -1;
    if (!*s)
        return fail(c, n, path, "must not be empty");
    if (has_ctl(s))
        return fail(c, n, path, "must not contain control characters");
    return set_string(c, n, path, s, dst);
}

/* A file or directory name; with CONFIG_CHECK_FILES, checked as the server will use it. */
static int parse_path(ctx_t *c, yaml_node_t *n, const char *path, void *dst,
                      int (*check)(const char *, char *, size_t))
{
    char why[512], shown[SHOW_LEN];
    if (parse_string(c, n, path, dst) < 0)
        return -1;
    if (!(c->flags & CONFIG_CHECK_FILES) || check(*(char **)dst, why, sizeof why) == 0)
        return 0;
    return fail(c, n, path, "'%s': %s", show(n, shown, sizeof shown), why);
}

static int parse_data_dir(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    return parse_path(c, n, path, dst, pathcheck_dir_writable);
}

static int parse_web_root(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    return parse_path(c, n, path, dst, pathcheck_dir_readable);
}

static int parse_certs_file(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    return parse_path(c, n, path, dst, pathcheck_pem_certs);
}

static int parse_key_file(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    return parse_path(c, n, path, dst, pathcheck_pem_key);
}

/* What a duration key takes: the form its messages show, whether 0 is allowed, the largest. */
typedef struct {
    const char *like;        /* "1s or 500ms" */
    int zero_ok;
    int64_t max_ms;
    const char *max_text;    /* max_ms as written in a message: "365d" */
} duration_range_t;

/* A duration within `r`, in milliseconds, into *ms. */
static int duration_within(ctx_t *c, yaml_node_t *n, const char *path, const duration_range_t *r, int64_t *ms)
{
    char v[SHOW_LEN], what[64];
    snprintf(what, sizeof what, "a duration like %s", r->like);
    const char *s = scalar_text(c, n, path, what);
    if (!s)
        return -1;
    if (timefmt_parse_duration(s, ms) < 0)
        return fail(c, n, path, "expected %s, got '%s'", what, show(n, v, sizeof v));
    if (*ms <= 0 && !r->zero_ok)
        return fail(c, n, path, "must be greater than 0, got '%s'", show(n, v, sizeof v));
    if (*ms > r->max_ms)
        return fail(c, n, path, "must be at most %s, got '%s'", r->max_text, show(n, v, sizeof v));
    return 0;
}

static int parse_duration(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    static const duration_range_t r = {"1s or 500ms", 0, MAX_DURATION_MS, "365d"};
    return duration_within(c, n, path, &r, dst);
}

/* version_retention: a duration that may be 0 ("0s": not kept) and up to ten years. */
static int parse_version_retention(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    static const duration_range_t r = {"24h, 30d or 0s", 1, 10 * MAX_DURATION_MS, "3650d"};
    return duration_within(c, n, path, &r, dst);
}

/* tombstone_retention: up to ten years, and never 0 (like every duration but the one above: a
 * store that forgot each deletion at once would answer every resume with a reset). */
static int parse_tombstone_retention(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    static const duration_range_t r = {"30d or 24h", 0, 10 * MAX_DURATION_MS, "3650d"};
    return duration_within(c, n, path, &r, dst);
}

static int parse_size(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    char v[SHOW_LEN];
    uint64_t bytes;
    const char *s = scalar_text(c, n, path, "a size like 64MiB or 4096");
    if (!s)
        return -1;
    if (timefmt_parse_size(s, &bytes) < 0)
        return fail(c, n, path, "expected a size like 64MiB or 4096, got '%s'", show(n, v, sizeof v));
    if (bytes == 0)
        return fail(c, n, path, "must be greater than 0, got '%s'", show(n, v, sizeof v));
    *(uint64_t *)dst = bytes;
    return 0;
}

/* A decimal integer in [lo, hi]: digits only, no sign, no fraction. */
static int parse_int(ctx_t *c, yaml_node_t *n, const char *path, long lo, long hi, long *out)
{
    char v[SHOW_LEN], want[64];
    snprintf(want, sizeof want, "an integer from %ld to %ld", lo, hi);
    const char *s = scalar_text(c, n, path, want);
    if (!s)
        return -1;
    long val = 0;
    size_t len = strlen(s);
    int ok = len > 0 && len <= 9;
    for (size_t i = 0; ok && i < len; i++) {
        ok = s[i] >= '0' && s[i] <= '9';
        val = val * 10 + (s[i] - '0');
    }
    if (!ok || val < lo || val > hi)
        return fail(c, n, path, "expected %s, got '%s'", want, show(n, v, sizeof v));
    *out = val;
    return 0;
}

static int parse_threads(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    long v;
    if (parse_int(c, n, path, 1, MAX_THREADS, &v) < 0)
        return -1;
    *(int *)dst = (int)v;
    return 0;
}

/* A count from min to max into a size_t. */
static int parse_count(ctx_t *c, yaml_node_t *n, const char *path, long min, long max, void *dst)
{
    long v;
    if (parse_int(c, n, path, min, max, &v) < 0)
        return -1;
    *(size_t *)dst = (size_t)v;
    return 0;
}

static int parse_max_streams(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    return parse_count(c, n, path, 1, MAX_STREAMS, dst);
}

/* max_streams_per_client: 0 (no limit) or a cap as high as max_streams may be. */
static int parse_per_client(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    return parse_count(c, n, path, 0, MAX_STREAMS, dst);
}

/* Open points in time and scrolls: each holds a read transaction of the store. */
static int parse_search_contexts(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    return parse_count(c, n, path, 1, MAX_SEARCH_CONTEXTS, dst);
}

/* ---- listen and cors_origins ------------------------------------------------------------- */

static const char *port_problem(const char *p)
{
    size_t len = strlen(p);
    long port = 0;
    if (len == 0 || len > 5)
        return "port must be a number from 1 to 65535";
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return "port must be a number from 1 to 65535";
        port = port * 10 + (p[i] - '0');
    }
    return (port < 1 || port > 65535) ? "port must be a number from 1 to 65535" : NULL;
}

/* NULL when `s` is "host:port", "[v6]:port" or ":port"; else why not. */
static const char *listen_problem(const char *s)
{
    const char *colon;
    if (s[0] == '[') {
        char host[INET6_ADDRSTRLEN];
        struct in6_addr addr;
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return "expected host:port, [v6]:port or :port";
        size_t n = (size_t)(close - s - 1);
        if (n == 0 || n >= sizeof host)
            return "invalid IPv6 address";
        memcpy(host, s + 1, n);
        host[n] = '\0';
        if (inet_pton(AF_INET6, host, &addr) != 1)
            return "invalid IPv6 address";
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return "expected host:port, [v6]:port or :port";
        if (memchr(s, ':', (size_t)(colon - s)))
            return "an IPv6 address must be in brackets, like [::1]:8080";
        for (const char *p = s; p < colon; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  *p == '.' || *p == '-' || *p == '_'))
                return "invalid host name";
    }
    return port_problem(colon + 1);
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Check one listen address and append it to (*v)[*n]. */
static int add_listen(ctx_t *c, yaml_node_t *n, const char *path, char **v, size_t *count)
{
    char shown[SHOW_LEN];
    const char *s = scalar_text(c, n, path, "an address like 127.0.0.1:8080");
    if (!s)
        return -1;
    const char *why = listen_problem(s);
    if (why)
        return fail(c, n, path, "%s, got '%s'", why, show(n, shown, sizeof shown));
    for (size_t i = 0; i < *count; i++)
        if (!strcmp(v[i], s))
            return fail(c, n, path, "duplicate address '%s'", show(n, shown, sizeof shown));
    if (!(v[*count] = strdup(s)))
        return fail(c, n, path, "out of memory");
    (*count)++;
    return 0;
}

/* listen: one address or a list of them. */
static int parse_listen(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    config_t *cfg = dst;
    char sub[PATH_LEN];
    size_t count = 0, want = 1;
    if (n->type == YAML_SEQUENCE_NODE)
        want = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (want == 0)
        return fail(c, n, path, "expected at least one address");
    char **v = calloc(want, sizeof *v);
    if (!v)
        return fail(c, n, path, "out of memory");
    int rc = 0;
    if (n->type != YAML_SEQUENCE_NODE)
        rc = add_listen(c, n, path, v, &count);
    for (size_t i = 0; i < want && n->type == YAML_SEQUENCE_NODE; i++) {
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        if (add_listen(c, node_at(c, n->data.sequence.items.start[i]), sub, v, &count) < 0)
            rc = -1;
    }
    if (rc < 0) {
        free_strv(v, count);
        return -1;
    }
    free_strv(cfg->listen, cfg->nlisten);
    cfg->listen = v;
    cfg->nlisten = count;
    return 0;
}

/* "*" or scheme://host[:port] with an http(s) scheme, nothing after. */
static int origin_ok(const char *s)
{
    if (!strcmp(s, "*"))
        return 1;
    const char *host;
    if (!strncasecmp(s, "http://", 7))
        host = s + 7;
    else if (!strncasecmp(s, "https://", 8))
        host = s + 8;
    else
        return 0;
    if (!*host || *host == ':')
        return 0;
    for (const char *p = host; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '/' || *p == '?' || *p == '#')
            return 0;
    return 1;
}

/* Check one origin and append it to v[*count]. */
static int add_origin(ctx_t *c, yaml_node_t *n, const char *path, char **v, size_t *count)
{
    char shown[SHOW_LEN];
    const char *s = scalar_text(c, n, path, "an origin like https://example.org or \"*\"");
    if (!s)
        return -1;
    if (!origin_ok(s))
        return fail(c, n, path, "expected an origin like https://example.org or \"*\", got '%s'",
                    show(n, shown, sizeof shown));
    if (!(v[*count] = strdup(s)))
        return fail(c, n, path, "out of memory");
    (*count)++;
    return 0;
}

static int parse_cors(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    config_t *cfg = dst;
    char got[SHOW_LEN + 2], sub[PATH_LEN];
    if (is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, path, "expected a list of origins, got %s", describe(n, got, sizeof got));
    size_t want = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start), count = 0;
    char **v = want ? calloc(want, sizeof *v) : NULL;
    if (want && !v)
        return fail(c, n, path, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < want; i++) {
        yaml_node_t *item = node_at(c, n->data.sequence.items.start[i]);
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        if (add_origin(c, item, sub, v, &count) < 0)
            rc = -1;
    }
    if (rc < 0) {
        free_strv(v, count);
        return -1;
    }
    free_strv(cfg->cors_origins, cfg->ncors_origins);
    cfg->cors_origins = v;
    cfg->ncors_origins = count;
    return 0;
}

/* ---- tls --------------------------------------------------------------------------------- */

static const field_t tls_fields[] = {
    {"cert", parse_certs_file, offsetof(config_t, tls_cert)},
    {"key", parse_key_file, offsetof(config_t, tls_key)},
};

static int parse_tls(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    config_t *cfg = dst;
    int rc = walk_mapping(c, n, path, tls_fields, 2, cfg);
    if (require_key(c, n, path, "cert") < 0)
        rc = -1;
    if (require_key(c, n, path, "key") < 0)
        rc = -1;
    return rc;
}

/* ---- feeds: id, url, style --------------------------------------------------------------- */

static int parse_feed_id(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    char v[SHOW_LEN];
    const char *s = scalar_text(c, n, path, "a feed id");
    if (!s)
        return -1;
    size_t len = strlen(s);
    int ok = len >= 1 && len <= MAX_FEED_ID;
    for (size_t i = 0; ok && i < len; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
             s[i] == '.' || s[i] == '_' || s[i] == '-';
    if (!ok)
        return fail(c, n, path, "expected 1-64 characters of A-Z a-z 0-9 . _ -, got '%s'", show(n, v, sizeof v));
    return set_string(c, n, path, s, dst);
}

static int parse_url(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    char v[SHOW_LEN];
    const char *s = scalar_text(c, n, path, "a URL");
    if (!s)
        return -1;
    const char *rest = !strncasecmp(s, "http://", 7) ? s + 7 : !strncasecmp(s, "https://", 8) ? s + 8 : NULL;
    if (!rest)
        return fail(c, n, path, "expected a URL starting with http:// or https://, got '%s'", show(n, v, sizeof v));
    if (!*rest || *rest == '/' || *rest == '?' || *rest == '#')
        return fail(c, n, path, "URL has no host, got '%s'", show(n, v, sizeof v));
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return fail(c, n, path, "URL contains a space, control or non-ASCII character "
                                    "(percent-encode it), got '%s'", show(n, v, sizeof v));
    return set_string(c, n, path, s, dst);
}

static int parse_style(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    char v[SHOW_LEN];
    const char *s = scalar_text(c, n, path, "activity-stream or outbox");
    if (!s)
        return -1;
    if (!strcmp(s, "activity-stream"))
        *(feed_style_t *)dst = FEED_STYLE_ACTIVITY_STREAM;
    else if (!strcmp(s, "outbox"))
        *(feed_style_t *)dst = FEED_STYLE_OUTBOX;
    else
        return fail(c, n, path, "expected activity-stream or outbox, got '%s'", show(n, v, sizeof v));
    return 0;
}

/* ---- feeds: auth ------------------------------------------------------------------------- */

/* The auth mapping's values, collected before the type is known. */
typedef struct {
    yaml_node_t *type, *id, *key, *key_env, *token, *token_env, *user, *password, *password_env;
} auth_nodes_t;

static int keep_node(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    *(yaml_node_t **)dst = n;
    return 0;
}

enum { FOR_HAWK = 1, FOR_BEARER = 2, FOR_BASIC = 4 };
static const struct {
    field_t f;
    int used_by;
} auth_keys[] = {
    {{"type", keep_node, offsetof(auth_nodes_t, type)}, FOR_HAWK | FOR_BEARER | FOR_BASIC},
    {{"id", keep_node, offsetof(auth_nodes_t, id)}, FOR_HAWK},
    {{"key", keep_node, offsetof(auth_nodes_t, key)}, FOR_HAWK},
    {{"key_env", keep_node, offsetof(auth_nodes_t, key_env)}, FOR_HAWK},
    {{"token", keep_node, offsetof(auth_nodes_t, token)}, FOR_BEARER},
    {{"token_env", keep_node, offsetof(auth_nodes_t, token_env)}, FOR_BEARER},
    {{"user", keep_node, offsetof(auth_nodes_t, user)}, FOR_BASIC},
    {{"password", keep_node, offsetof(auth_nodes_t, password)}, FOR_BASIC},
    {{"password_env", keep_node, offsetof(auth_nodes_t, password_env)}, FOR_BASIC},
};
#define NAUTH_KEYS (sizeof auth_keys / sizeof auth_keys[0])

/* A plain identifier (hawk id, basic user): non-empty, no control characters nor `bad`. */
static int auth_name(ctx_t *c, yaml_node_t *map, yaml_node_t *n, const char *path, const char *key,
                     const char *bad, size_t max, char **out)
{
    char sub[PATH_LEN];
    if (!n)
        return fail(c, map, path, "missing required key '%s'", key);
    join_path(sub, path, key);
    const char *s = scalar_text(c, n, sub, "a string");
    if (!s)
        return -1;
    if (!*s || strlen(s) > max)
        return fail(c, n, sub, "must be 1 to %zu characters", max);
    if (has_ctl(s) || strpbrk(s, bad))
        return fail(c, n, sub, "must not contain control characters or any of %s", bad);
    return set_string(c, n, sub, s, out);
}

/* The environment variable named by `env` is unset or empty (`what`): a problem, or with
 * CONFIG_ENV_WARNINGS a warning (the secret stays NULL). */
static int unset_env(ctx_t *c, yaml_node_t *env, const char *path, const char *what)
{
    char shown[SHOW_LEN];
    show(env, shown, sizeof shown);
    if (c->flags & CONFIG_ENV_WARNINGS)
        return warn(c, env, path, "environment variable '%s' %s (it must be set when the server runs)", shown,
                    what);
    return fail(c, env, path, "environment variable '%s' %s", shown, what);
}

/* A secret given inline (`key`) or through an environment variable (`key_env`): at most one of
 * the two, and at least one of them is given. */
static int secret_value(ctx_t *c, const char *path, yaml_node_t *inl, yaml_node_t *env, const char *key,
                        char **out)
{
    char sub[PATH_LEN], envkey[32], shown[SHOW_LEN];
    snprintf(envkey, sizeof envkey, "%s_env", key);
    if (inl && env) {
        join_path(sub, path, envkey);
        return fail(c, env, sub, "give either '%s' or '%s', not both", key, envkey);
    }
    join_path(sub, path, inl ? key : envkey);
    const char *s = scalar_text(c, inl ? inl : env, sub, inl ? "a string" : "an environment variable name");
    if (!s)
        return -1;
    if (env) {
        const char *name = s;
        if (!*name || strchr(name, '='))
            return fail(c, env, sub, "invalid environment variable name '%s'", show(env, shown, sizeof shown));
        if (!(s = getenv(name)) || !*s)
            return unset_env(c, env, sub, s ? "is empty" : "is not set");
    }
    if (!*s)
        return fail(c, inl, sub, "must not be empty");
    if (has_ctl(s))
        return fail(c, inl ? inl : env, sub, "the secret contains control characters");
    return set_string(c, inl ? inl : env, sub, s, out);
}

/* The same, exactly one of the two required. */
static int auth_secret(ctx_t *c, yaml_node_t *map, const char *path, yaml_node_t *inl, yaml_node_t *env,
                       const char *key, char **out)
{
    if (!inl && !env)
        return fail(c, map, path, "missing required key '%s' or '%s_env'", key, key);
    return secret_value(c, path, inl, env, key, out);
}

static int parse_auth(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    config_auth_t *auth = dst;
    auth_nodes_t a = {0};
    field_t fields[NAUTH_KEYS];
    char sub[PATH_LEN], v[SHOW_LEN];
    for (size_t i = 0; i < NAUTH_KEYS; i++)
        fields[i] = auth_keys[i].f;
    if (walk_mapping(c, n, path, fields, NAUTH_KEYS, &a) < 0)
        return -1;
    if (!a.type)
        return fail(c, n, path, "missing required key 'type'");
    join_path(sub, path, "type");
    const char *type = scalar_text(c, a.type, sub, "hawk, bearer or basic");
    if (!type)
        return -1;
    int mask = !strcmp(type, "hawk") ? FOR_HAWK : !strcmp(type, "bearer") ? FOR_BEARER
             : !strcmp(type, "basic") ? FOR_BASIC : 0;
    if (!mask)
        return fail(c, a.type, sub, "expected hawk, bearer or basic, got '%s'", show(a.type, v, sizeof v));
    for (size_t i = 0; i < NAUTH_KEYS; i++) {
        yaml_node_t *val = *(yaml_node_t **)((char *)&a + auth_keys[i].f.offset);
        if (!val || (auth_keys[i].used_by & mask))
            continue;
        join_path(sub, path, auth_keys[i].f.name);
        return fail(c, val, sub, "not used with auth type '%s'", type);
    }
    int rc;
    if (mask == FOR_HAWK) {
        auth->type = AUTH_HAWK;
        rc = auth_name(c, n, a.id, path, "id", "\"\\", MAX_HAWK_ID, &auth->id);
        rc = rc < 0 ? rc : auth_secret(c, n, path, a.key, a.key_env, "key", &auth->key);
    } else if (mask == FOR_BEARER) {
        auth->type = AUTH_BEARER;
        rc = auth_secret(c, n, path, a.token, a.token_env, "token", &auth->token);
    } else {
        auth->type = AUTH_BASIC;
        rc = auth_name(c, n, a.user, path, "user", ":", 255, &auth->user);
        rc = rc < 0 ? rc : auth_secret(c, n, path, a.password, a.password_env, "password", &auth->password);
    }
    return rc;
}

/* ---- feeds: headers ---------------------------------------------------------------------- */

static int is_tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* One "Name: value" pair into h; headers[0..i) are already filled. */
static int parse_header(ctx_t *c, yaml_node_t *map, yaml_node_pair_t *p, const char *path,
                        config_header_t *hs, size_t i)
{
    char sub[PATH_LEN], got[SHOW_LEN + 2];
    if (check_key(c, map, p, path, sub) < 0)
        return -1;
    yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
    const char *name = (const char *)k->data.scalar.value;
    for (const char *s = name; *s; s++)
        if (!is_tchar(*s))
            return fail(c, k, sub, "invalid header name: use letters, digits and !#$%%&'*+-.^_`|~");
    for (size_t j = 0; j < i; j++)
        if (hs[j].name && !strcasecmp(hs[j].name, name))
            return fail(c, k, sub, "duplicate header '%s'", hs[j].name);
    if (v->type != YAML_SCALAR_NODE)
        return fail(c, v, sub, "expected a string, got %s", describe(v, got, sizeof got));
    const char *value = (const char *)v->data.scalar.value;
    for (const char *s = value; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return fail(c, v, sub, "header value must not contain CR, LF or other control characters");
    if (strlen(value) != v->data.scalar.length)
        return fail(c, v, sub, "contains a NUL character");
    if (!(hs[i].name = strdup(name)) || !(hs[i].value = strdup(value)))
        return fail(c, v, sub, "out of memory");
    return 0;
}

static int parse_headers(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    config_feed_t *f = dst;
    char got[SHOW_LEN + 2];
    if (is_null(n))
        return 0;
    if (n->type != YAML_MAPPING_NODE)
        return fail(c, n, path, "expected a mapping of header names to values, got %s",
                    describe(n, got, sizeof got));
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count == 0)
        return 0;
    if (!(f->headers = calloc(count, sizeof *f->headers)))
        return fail(c, n, path, "out of memory");
    f->nheaders = count;    /* zeroed entries free cleanly if we stop half-way */
    int rc = 0;
    for (size_t i = 0; i < count; i++)
        if (parse_header(c, n, n->data.mapping.pairs.start + i, path, f->headers, i) < 0)
            rc = -1;
    return rc;
}

/* ---- feeds ------------------------------------------------------------------------------- */

static const field_t feed_fields[] = {
    {"id", parse_feed_id, offsetof(config_feed_t, id)},
    {"url", parse_url, offsetof(config_feed_t, url)},
    {"style", parse_style, offsetof(config_feed_t, style)},
    {"poll_interval", parse_duration, offsetof(config_feed_t, poll_interval_ms)},
    {"full_sync_interval", parse_duration, offsetof(config_feed_t, full_sync_interval_ms)},
    {"timeout", parse_duration, offsetof(config_feed_t, timeout_ms)},
    {"connect_timeout", parse_duration, offsetof(config_feed_t, connect_timeout_ms)},
    {"max_page_size", parse_size, offsetof(config_feed_t, max_page_bytes)},
    {"ca_file", parse_certs_file, offsetof(config_feed_t, ca_file)},
    {"auth", parse_auth, offsetof(config_feed_t, auth)},
    {"headers", parse_headers, 0},
};

static void feed_defaults(config_feed_t *f)
{
    memset(f, 0, sizeof *f);
    f->style = FEED_STYLE_ACTIVITY_STREAM;
    f->poll_interval_ms = 1000;
    f->full_sync_interval_ms = 10 * 60 * 1000;
    f->timeout_ms = 30 * 1000;
    f->connect_timeout_ms = 10 * 1000;
    f->max_page_bytes = 64ull << 20;
}

static void credentials_free(config_auth_t *a)
{
    free(a->id);
    free(a->key);
    free(a->token);
    free(a->user);
    free(a->password);
}

static void feed_free(config_feed_t *f)
{
    free(f->id);
    free(f->url);
    free(f->ca_file);
    credentials_free(&f->auth);
    for (size_t i = 0; i < f->nheaders; i++) {
        free(f->headers[i].name);
        free(f->headers[i].value);
    }
    free(f->headers);
}

/* Item i of list `seq` against the items before it (all have ids): report a repeated id at its
 * line. The ids are the `char *` at `id_offset` in items of `stride` bytes from `arr`; `what`
 * names the kind ("feed", "client"). */
static int check_duplicate_id(ctx_t *c, yaml_node_t *seq, size_t i, const void *arr, size_t stride,
                              size_t id_offset, const char *what, const char *path)
{
    char sub[PATH_LEN];
    const char *id = *(char *const *)((const char *)arr + i * stride + id_offset);
    for (size_t j = 0; id && j < i; j++) {
        const char *other = *(char *const *)((const char *)arr + j * stride + id_offset);
        if (!other || strcmp(other, id))   /* an item whose id was refused has none */
            continue;
        yaml_node_t *first = find_value(c, node_at(c, seq->data.sequence.items.start[j]), "id");
        yaml_node_t *again = find_value(c, node_at(c, seq->data.sequence.items.start[i]), "id");
        join_path(sub, path, "id");
        return fail(c, again, sub, "duplicate %s id '%s' (first at line %zu)", what, id,
                    first->start_mark.line + 1);
    }
    return 0;
}

static int parse_feed(ctx_t *c, yaml_node_t *item, const char *path, config_feed_t *f)
{
    feed_defaults(f);
    int rc = walk_mapping(c, item, path, feed_fields, sizeof feed_fields / sizeof feed_fields[0], f);
    if (require_key(c, item, path, "id") < 0)
        rc = -1;
    if (require_key(c, item, path, "url") < 0)
        rc = -1;
    return rc;
}

static int parse_feeds(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    config_t *cfg = dst;
    char got[SHOW_LEN + 2], sub[PATH_LEN];
    if (is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, path, "expected a list of feeds, got %s", describe(n, got, sizeof got));
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count == 0)
        return 0;
    if (!(cfg->feeds = calloc(count, sizeof *cfg->feeds)))
        return fail(c, n, path, "out of memory");
    cfg->nfeeds = count;    /* zeroed entries free cleanly if we stop half-way */
    int rc = 0;
    for (size_t i = 0; i < count; i++) {   /* a problem in one feed does not hide the next */
        yaml_node_t *item = node_at(c, n->data.sequence.items.start[i]);
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        if (parse_feed(c, item, sub, &cfg->feeds[i]) < 0 ||
            check_duplicate_id(c, n, i, cfg->feeds, sizeof *cfg->feeds, offsetof(config_feed_t, id), "feed",
                               sub) < 0)
            rc = -1;
    }
    return rc;
}

/* ---- auth: lists --------------------------------------------------------------------------- */

/* Handle item i of a list; `path` names it ("auth.clients[2]"). */
typedef int item_fn(ctx_t *c, yaml_node_t *item, const char *path, size_t i, void *dst);

/* Call fn for each item of sequence n, or for n itself when it is a scalar and `one_ok` (a list
 * of one may be written without brackets). *count is the number of items. */
static int each_item(ctx_t *c, yaml_node_t *n, const char *path, int one_ok, const char *want,
                     item_fn *fn, void *dst, size_t *count)
{
    char got[SHOW_LEN + 2], sub[PATH_LEN];
    if (one_ok && n->type == YAML_SCALAR_NODE && !is_null(n)) {
        *count = 1;
        return fn(c, n, path, 0, dst);
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, path, "expected %s, got %s", want, describe(n, got, sizeof got));
    *count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    int rc = 0;
    for (size_t i = 0; i < *count; i++) {
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        if (fn(c, node_at(c, n->data.sequence.items.start[i]), sub, i, dst) < 0)
            rc = -1;
    }
    return rc;
}

static int add_cidr(ctx_t *c, yaml_node_t *n, const char *path, size_t i, void *dst)
{
    char why[128], shown[SHOW_LEN];
    const char *s = scalar_text(c, n, path, "an address or block like 10.0.0.0/8");
    if (!s)
        return -1;
    if (netaddr_parse_cidr(s, &((netaddr_cidr_t *)dst)[i], why, sizeof why) < 0)
        return fail(c, n, path, "%s, got '%s'", why, show(n, shown, sizeof shown));
    return 0;
}

/* A list of address blocks (or one) into *list, *count; `min` items at least. */
static int parse_cidrs(ctx_t *c, yaml_node_t *n, const char *path, size_t min, netaddr_cidr_t **list,
                       size_t *count)
{
    size_t want = 1;
    if (n->type == YAML_SEQUENCE_NODE)
        want = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    netaddr_cidr_t *v = calloc(want ? want : 1, sizeof *v);
    size_t got = 0;
    if (!v)
        return fail(c, n, path, "out of memory");
    if (each_item(c, n, path, 1, "a list of addresses or blocks like 10.0.0.0/8", add_cidr, v, &got) < 0) {
        free(v);
        return -1;
    }
    if (got < min) {
        free(v);
        return fail(c, n, path, "expected at least one address or block");
    }
    free(*list);
    *list = v;
    *count = got;
    return 0;
}

static int parse_trusted_proxies(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    config_access_t *acc = dst;
    return parse_cidrs(c, n, path, 0, &acc->trusted_proxies, &acc->ntrusted_proxies);
}

static int parse_ip_allow(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    config_client_t *cl = dst;
    return parse_cidrs(c, n, path, 1, &cl->ip_allow, &cl->nip_allow);
}

static int add_permission(ctx_t *c, yaml_node_t *n, const char *path, size_t i, void *dst)
{
    char shown[SHOW_LEN];
    unsigned *mask = dst;
    const char *s = scalar_text(c, n, path, "a permission");
    if (!s)
        return -1;
    unsigned bit = auth_allow_bit(s);
    if (!bit)
        return fail(c, n, path, "expected stream, search, feeds, metrics or replicate, got '%s'",
                    show(n, shown, sizeof shown));
    if (*mask & bit)
        return fail(c, n, path, "duplicate permission '%s'", s);
    *mask |= bit;
    return 0;
}

static int parse_allow(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    unsigned mask = 0;
    size_t count = 0;
    if (each_item(c, n, path, 1, "a list of permissions", add_permission, &mask, &count) < 0)
        return -1;
    if (count == 0)
        return fail(c, n, path, "expected at least one of stream, search, feeds, metrics, replicate");
    *(unsigned *)dst = mask;
    return 0;
}

/* ---- auth: scope (YAML to JSON) ------------------------------------------------------------ */

static json_t *to_json(ctx_t *c, yaml_node_t *n, const char *path, int depth, size_t *budget);

/* A plain scalar is null, a boolean or a number when it reads as one (YAML's core schema, as
 * JSON writes them); anything quoted, and any other text, is a string. */
static json_t *scalar_to_json(ctx_t *c, yaml_node_t *n, const char *path)
{
    const char *s = (const char *)n->data.scalar.value;
    if (is_null(n))
        return json_null();
    if (strlen(s) != n->data.scalar.length) {
        fail(c, n, path, "contains a NUL character");
        return NULL;
    }
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
            return json_true();
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
            return json_false();
        json_t *num = json_loads(s, JSON_DECODE_ANY, NULL);
        if (json_is_number(num))
            return num;
        json_decref(num);
    }
    json_t *str = json_string(s);
    if (!str)
        fail(c, n, path, "out of memory");
    return str;
}

/* Child i of a sequence or mapping: its value node, with its path in sub; NULL after reporting
 * a bad key. */
static yaml_node_t *child_at(ctx_t *c, yaml_node_t *n, size_t i, const char *path, char *sub)
{
    if (n->type == YAML_SEQUENCE_NODE) {
        snprintf(sub, PATH_LEN, "%s[%zu]", path, i);
        return node_at(c, n->data.sequence.items.start[i]);
    }
    yaml_node_pair_t *p = n->data.mapping.pairs.start + i;
    return check_key(c, n, p, path, sub) < 0 ? NULL : node_at(c, p->value);
}

/* A sequence as an array, a mapping as an object. */
static json_t *container_to_json(ctx_t *c, yaml_node_t *n, const char *path, int depth, size_t *budget)
{
    char sub[PATH_LEN];
    int seq = n->type == YAML_SEQUENCE_NODE;
    size_t count = seq ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
                       : (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    json_t *out = seq ? json_array() : json_object();
    for (size_t i = 0; out && i < count; i++) {
        yaml_node_t *item = child_at(c, n, i, path, sub);
        json_t *v = item ? to_json(c, item, sub, depth + 1, budget) : NULL;
        if (!v) {
            json_decref(out);
            return NULL;
        }
        yaml_node_t *key = seq ? NULL : node_at(c, n->data.mapping.pairs.start[i].key);
        int rc = seq ? json_array_append_new(out, v)
                     : json_object_set_new(out, (const char *)key->data.scalar.value, v);
        if (rc < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    if (!out)
        fail(c, n, path, "out of memory");
    return out;
}

/* Node n as JSON (a new reference), or NULL after reporting why. `budget` counts nodes, so that
 * aliases cannot make a small file expand into a huge document. */
static json_t *to_json(ctx_t *c, yaml_node_t *n, const char *path, int depth, size_t *budget)
{
    if (depth > MAX_SCOPE_DEPTH || *budget == 0) {
        fail(c, n, path, depth > MAX_SCOPE_DEPTH ? "nested too deeply" : "too large");
        return NULL;
    }
    (*budget)--;
    if (n->type == YAML_MAPPING_NODE || n->type == YAML_SEQUENCE_NODE)
        return container_to_json(c, n, path, depth, budget);
    return scalar_to_json(c, n, path);
}

/* scope: a query, written as JSON (YAML's flow style) or as block YAML; kept as compact JSON
 * once query_compile accepts it. */
static int parse_scope(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    char got[SHOW_LEN + 2], qerr[256];
    size_t budget = MAX_SCOPE_NODES;
    query_t *q = NULL;
    if (n->type != YAML_MAPPING_NODE)
        return fail(c, n, path, "expected a query such as {\"term\": {\"feed\": \"crm\"}}, got %s",
                    describe(n, got, sizeof got));
    json_t *j = to_json(c, n, path, 0, &budget);
    if (!j)
        return -1;
    int rc = query_compile(j, &q, qerr, sizeof qerr);
    query_free(q);
    char *text = rc < 0 ? NULL : json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (rc < 0)
        return fail(c, n, path, "not a valid query: %s", qerr);
    if (!text)
        return fail(c, n, path, "out of memory");
    free(*(char **)dst);
    *(char **)dst = text;
    return 0;
}

/* ---- auth: clients ------------------------------------------------------------------------- */

/* A client while its mapping is walked: secrets are resolved once all keys are known. */
typedef struct {
    config_client_t cl;
    yaml_node_t *hawk_key, *hawk_key_env, *token, *token_env;
} client_nodes_t;

static int parse_client_id(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    const char *s = scalar_text(c, n, path, "a client id");
    if (!s)
        return -1;
    if (!*s || strlen(s) > MAX_HAWK_ID)
        return fail(c, n, path, "must be 1 to %d characters", MAX_HAWK_ID);
    if (has_ctl(s) || strpbrk(s, "\"\\"))
        return fail(c, n, path, "must not contain control characters or any of \"\\");
    return set_string(c, n, path, s, dst);
}

static const field_t client_fields[] = {
    {"id", parse_client_id, offsetof(client_nodes_t, cl.id)},
    {"hawk_key", keep_node, offsetof(client_nodes_t, hawk_key)},
    {"hawk_key_env", keep_node, offsetof(client_nodes_t, hawk_key_env)},
    {"token", keep_node, offsetof(client_nodes_t, token)},
    {"token_env", keep_node, offsetof(client_nodes_t, token_env)},
    {"ip_allow", parse_ip_allow, offsetof(client_nodes_t, cl)},
    {"scope", parse_scope, offsetof(client_nodes_t, cl.scope)},
    {"allow", parse_allow, offsetof(client_nodes_t, cl.allow)},
};

static void client_free(config_client_t *cl)
{
    free(cl->id);
    free(cl->hawk_key);
    free(cl->token);
    free(cl->ip_allow);
    free(cl->scope);
}

/* A static token must be sendable as `Bearer <token68>`; one too short to resist guessing is a
 * warning (the server runs: a test or a closed network may want a short one). */
static int check_token(ctx_t *c, const client_nodes_t *cn, const char *path)
{
    char sub[PATH_LEN];
    const char *t = cn->cl.token;
    yaml_node_t *n = cn->token ? cn->token : cn->token_env;
    if (!t)
        return 0;   /* its variable is unset (a warning): nothing to check */
    join_path(sub, path, cn->token ? "token" : "token_env");
    if (!auth_is_token68(t, strlen(t)))
        return fail(c, n, sub, "the token must consist of A-Z a-z 0-9 - . _ ~ + / (then any '=')");
    if (strlen(t) < MIN_TOKEN_LEN)
        return warn(c, n, sub, "a token shorter than %d characters can be guessed: use a longer one", MIN_TOKEN_LEN);
    return 0;
}

static int client_secrets(ctx_t *c, yaml_node_t *item, const char *path, client_nodes_t *cn)
{
    if (!cn->hawk_key && !cn->hawk_key_env && !cn->token && !cn->token_env)
        return fail(c, item, path, "no credentials: give 'hawk_key', 'hawk_key_env', 'token' or 'token_env'");
    if ((cn->hawk_key || cn->hawk_key_env)
        && secret_value(c, path, cn->hawk_key, cn->hawk_key_env, "hawk_key", &cn->cl.hawk_key) < 0)
        return -1;
    if ((cn->token || cn->token_env)
        && (secret_value(c, path, cn->token, cn->token_env, "token", &cn->cl.token) < 0
            || check_token(c, cn, path) < 0))
        return -1;
    return 0;
}

static int parse_client(ctx_t *c, yaml_node_t *item, const char *path, size_t i, void *dst)
{
    config_client_t *cl = &((config_client_t *)dst)[i];
    client_nodes_t cn = {.cl = {.allow = AUTH_ALLOW_DEFAULT}};
    int rc = walk_mapping(c, item, path, client_fields, sizeof client_fields / sizeof client_fields[0], &cn);
    if (rc == 0 && !cn.cl.id)
        rc = fail(c, item, path, "missing required key 'id'");
    if (rc == 0)
        rc = client_secrets(c, item, path, &cn);
    *cl = cn.cl;    /* freed with the others, whatever happened */
    return rc;
}

static int parse_clients(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    config_access_t *acc = dst;
    char got[SHOW_LEN + 2], sub[PATH_LEN];
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, path, "expected a list of clients, got %s", describe(n, got, sizeof got));
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start), done = 0;
    if (count == 0)
        return 0;
    if (!(acc->clients = calloc(count, sizeof *acc->clients)))
        return fail(c, n, path, "out of memory");
    acc->nclients = count;    /* zeroed entries free cleanly if we stop half-way */
    if (each_item(c, n, path, 0, "a list of clients", parse_client, acc->clients, &done) < 0)
        return -1;
    for (size_t i = 1; i < count; i++) {
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        if (check_duplicate_id(c, n, i, acc->clients, sizeof *acc->clients, offsetof(config_client_t, id),
                               "client", sub) < 0)
            return -1;
    }
    return 0;
}

/* ---- auth: jwt ----------------------------------------------------------------------------- */

/* The jwt mapping while it is walked. */
typedef struct {
    yaml_node_t *secret, *secret_env;
    char *public_key_file, *public_key_pem, *issuer, *audience;   /* owned until moved */
    int64_t leeway_ms;
} jwt_nodes_t;

static int read_file(const char *path, unsigned char **out, size_t *outlen);

/* Check `pem` (NUL-terminated) the way auth.c will load it: a PEM public key of a usable kind. */
static int check_public_key(ctx_t *c, yaml_node_t *n, const char *path, const char *pem, size_t len)
{
    char why[256];
    jwt_verifier_t *v = NULL;
    jwt_config_t jc = {.public_key_pem = pem, .public_key_pem_len = len};
    if (memchr(pem, '\0', len))
        return fail(c, n, path, "not a PEM public key (the file holds a NUL byte)");
    if (jwt_verifier_new(&v, &jc, why, sizeof why) < 0)
        return fail(c, n, path, "%s", why);
    jwt_verifier_free(v);
    return 0;
}

static int parse_public_key(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    jwt_nodes_t *j = dst;
    unsigned char *buf = NULL;
    size_t len = 0;
    char eb[128], shown[SHOW_LEN];
    if (parse_string(c, n, path, &j->public_key_file) < 0)
        return -1;
    int e = read_file(j->public_key_file, &buf, &len);
    if (e)
        return fail(c, n, path, "cannot read '%s': %s", show(n, shown, sizeof shown),
                    e == EFBIG ? "larger than 1 MiB" : strerror_r(e, eb, sizeof eb));
    char *pem = realloc(buf, len + 1);
    if (!pem) {
        free(buf);
        return fail(c, n, path, "out of memory");
    }
    pem[len] = '\0';
    free(j->public_key_pem);
    j->public_key_pem = pem;
    return check_public_key(c, n, path, pem, len);
}

/* The clock skew allowed for a JWT's exp and nbf: whole seconds from 0s to 5m. */
static int parse_leeway(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    static const duration_range_t r = {"0s or 30s", 1, JWT_MAX_LEEWAY_S * 1000LL, "5m"};
    char v[SHOW_LEN];
    int64_t *ms = dst;
    if (duration_within(c, n, path, &r, ms) < 0)
        return -1;
    if (*ms % 1000)
        return fail(c, n, path, "must be whole seconds (a JWT's times are), got '%s'", show(n, v, sizeof v));
    return 0;
}

static const field_t jwt_fields[] = {
    {"hs256_secret", keep_node, offsetof(jwt_nodes_t, secret)},
    {"hs256_secret_env", keep_node, offsetof(jwt_nodes_t, secret_env)},
    {"public_key_file", parse_public_key, 0},
    {"issuer", parse_string, offsetof(jwt_nodes_t, issuer)},
    {"audience", parse_string, offsetof(jwt_nodes_t, audience)},
    {"leeway", parse_leeway, offsetof(jwt_nodes_t, leeway_ms)},
};

/* The HS256 secret, checked the way auth.c will use it. */
static int jwt_secret(ctx_t *c, const jwt_nodes_t *j, const char *path, char **out)
{
    char why[256], sub[PATH_LEN];
    jwt_verifier_t *v = NULL;
    if (secret_value(c, path, j->secret, j->secret_env, "hs256_secret", out) < 0)
        return -1;
    if (!*out)
        return 0;   /* its variable is unset (a warning): nothing to check */
    jwt_config_t jc = {.hs256_secret = *out, .hs256_secret_len = strlen(*out)};
    join_path(sub, path, j->secret ? "hs256_secret" : "hs256_secret_env");
    if (jwt_verifier_new(&v, &jc, why, sizeof why) < 0)
        return fail(c, j->secret ? j->secret : j->secret_env, sub, "%s", why);
    jwt_verifier_free(v);
    if (strlen(*out) < JWT_MIN_HS256_SECRET)
        return warn(c, j->secret ? j->secret : j->secret_env, sub, "an HS256 secret shorter than %d bytes can be "
                    "guessed (RFC 7518 asks for at least %d): use a longer one", JWT_MIN_HS256_SECRET,
                    JWT_MIN_HS256_SECRET);
    return 0;
}

static int parse_jwt(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    config_access_t *acc = dst;
    jwt_nodes_t j = {0};
    int rc = walk_mapping(c, n, path, jwt_fields, sizeof jwt_fields / sizeof jwt_fields[0], &j);
    if (rc == 0 && !j.secret && !j.secret_env && !j.public_key_file)
        rc = fail(c, n, path, "missing required key 'hs256_secret', 'hs256_secret_env' or 'public_key_file'");
    if (rc == 0 && (j.secret || j.secret_env))
        rc = jwt_secret(c, &j, path, &acc->jwt_hs256_secret);
    acc->jwt_public_key_file = j.public_key_file;    /* moved: freed with the config */
    acc->jwt_public_key_pem = j.public_key_pem;
    acc->jwt_issuer = j.issuer;
    acc->jwt_audience = j.audience;
    acc->jwt_leeway_s = j.leeway_ms / 1000;
    return rc;
}

/* ---- auth ---------------------------------------------------------------------------------- */

static const field_t access_fields[] = {
    {"trusted_proxies", parse_trusted_proxies, 0},
    {"clients", parse_clients, 0},
    {"jwt", parse_jwt, 0},
};

static int parse_access(ctx_t *c, yaml_node_t *n, const char *path, void *dst)
{
    config_access_t *acc = dst;
    if (walk_mapping(c, n, path, access_fields, sizeof access_fields / sizeof access_fields[0], acc) < 0)
        return -1;
    if (acc->nclients == 0 && !acc->jwt_hs256_secret && !acc->jwt_public_key_pem)
        return fail(c, n, path, "no credentials configured: give 'clients' or 'jwt'");
    acc->enabled = 1;
    return 0;
}

static void access_free(config_access_t *acc)
{
    free(acc->trusted_proxies);
    for (size_t i = 0; i < acc->nclients; i++)
        client_free(&acc->clients[i]);
    free(acc->clients);
    free(acc->jwt_hs256_secret);
    free(acc->jwt_public_key_file);
    free(acc->jwt_public_key_pem);
    free(acc->jwt_issuer);
    free(acc->jwt_audience);
    memset(acc, 0, sizeof *acc);
}

/* ---- the document ------------------------------------------------------------------------ */

static const field_t top_fields[] = {
    {"listen", parse_listen, 0},
    {"data_dir", parse_data_dir, offsetof(config_t, data_dir)},
    {"map_size", parse_size, offsetof(config_t, map_size)},
    {"threads", parse_threads, offsetof(config_t, threads)},
    {"poll_interval", parse_duration, offsetof(config_t, poll_interval_ms)},
    {"heartbeat_interval", parse_duration, offsetof(config_t, heartbeat_interval_ms)},
    {"retry", parse_duration, offsetof(config_t, retry_ms)},
    {"write_timeout", parse_duration, offsetof(config_t, write_timeout_ms)},
    {"max_streams", parse_max_streams, offsetof(config_t, max_streams)},
    {"max_streams_per_client", parse_per_client, offsetof(config_t, max_streams_per_client)},
    {"max_search_contexts", parse_search_contexts, offsetof(config_t, max_search_contexts)},
    {"version_retention", parse_version_retention, offsetof(config_t, version_retention_ms)},
    {"tombstone_retention", parse_tombstone_retention, offsetof(config_t, tombstone_retention_ms)},
    {"cors_origins", parse_cors, 0},
    {"web_root", parse_web_root, offsetof(config_t, web_root)},
    {"ca_file", parse_certs_file, offsetof(config_t, ca_file)},
    {"tls", parse_tls, 0},
    {"feeds", parse_feeds, 0},
    {"auth", parse_access, offsetof(config_t, auth)},
    {"replicate_from", parse_url, offsetof(config_t, replicate_from)},
    {"replicate_auth", parse_auth, offsetof(config_t, replicate_auth)},
    {"max_replica_lag", parse_duration, offsetof(config_t, max_replica_lag_ms)},
};

static size_t line_of_offset(const unsigned char *buf, size_t len, size_t off)
{
    size_t line = 1;
    for (size_t i = 0; i < off && i < len; i++)
        line += buf[i] == '\n';
    return line;
}

static int syntax_error(ctx_t *c, const yaml_parser_t *p, const unsigned char *buf, size_t len)
{
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->error == YAML_MEMORY_ERROR)
        return fail_line(c, 1, NULL, "out of memory");
    if (p->error == YAML_READER_ERROR)
        return fail_line(c, line_of_offset(buf, len, p->problem_offset), NULL,
                         "invalid input: %s (at byte %zu)", problem, p->problem_offset);
    if (p->context)
        return fail_line(c, p->problem_mark.line + 1, NULL, "YAML syntax error: %s (%s at line %zu)",
                         problem, p->context, p->context_mark.line + 1);
    return fail_line(c, p->problem_mark.line + 1, NULL, "YAML syntax error: %s", problem);
}

/* After the first document: the stream must end (reports trailing syntax errors too). */
static int expect_end(ctx_t *c, yaml_parser_t *p, const unsigned char *buf, size_t len)
{
    yaml_document_t next;
    if (!yaml_parser_load(p, &next))
        return syntax_error(c, p, buf, len);
    yaml_node_t *root = yaml_document_get_root_node(&next);
    int rc = root ? fail(c, root, NULL, "only one YAML document is allowed") : 0;
    yaml_document_delete(&next);
    return rc;
}

/* With CONFIG_CHECK_FILES: a directory key the file does not set is checked at its default. */
static void check_default_dir(ctx_t *c, yaml_node_t *root, const char *key, const char *dir,
                              int (*check)(const char *, char *, size_t))
{
    char why[512];
    if (!(c->flags & CONFIG_CHECK_FILES) || (root && find_value(c, root, key)))
        return;
    if (check(dir, why, sizeof why) != 0)
        fail_line(c, 0, key, "'%s' (the default): %s", dir, why);
}

/* A replica has no feeds; replicate_auth goes with replicate_from. */
static int check_replication(ctx_t *c, yaml_node_t *root, const config_t *cfg)
{
    yaml_node_t *from = find_value(c, root, "replicate_from"), *auth = find_value(c, root, "replicate_auth");
    int rc = 0;
    if (from && cfg->nfeeds)
        rc = fail(c, from, "replicate_from", "a replica takes its data from its primary: remove the feeds, "
                  "or remove replicate_from to make this node a primary");
    if (auth && !from)
        rc = fail(c, auth, "replicate_auth", "only used with replicate_from");
    if (auth && cfg->replicate_auth.type == AUTH_BASIC)
        rc = fail(c, auth, "replicate_auth", "a primary accepts hawk or bearer credentials, not basic");
    return rc;
}

static int parse_root(ctx_t *c, config_t *cfg)
{
    char got[SHOW_LEN + 2];
    yaml_node_t *root = yaml_document_get_root_node(c->doc);
    if (root && root->type != YAML_MAPPING_NODE)
        return fail(c, root, NULL, "expected a mapping of settings at the top level, got %s",
                    describe(root, got, sizeof got));
    int rc = root ? walk_mapping(c, root, "", top_fields, sizeof top_fields / sizeof top_fields[0], cfg) : 0;
    if (root && check_replication(c, root, cfg) < 0)
        rc = -1;
    check_default_dir(c, root, "data_dir", cfg->data_dir, pathcheck_dir_writable);
    check_default_dir(c, root, "web_root", cfg->web_root, pathcheck_dir_readable);
    return rc;   /* an empty file: all defaults, no feeds */
}

/* After the walk: a line for the problems that were counted but not listed. */
static void note_unlisted(ctx_t *c)
{
    if (c->rep->nerrors > CONFIG_MAX_ERRORS)
        bytebuf_printf(&c->rep->errors, "%s: %zu more problems not listed\n", c->name,
                       c->rep->nerrors - CONFIG_MAX_ERRORS);
}

static int load_buffer(const unsigned char *buf, size_t len, const char *name, unsigned flags, config_t *out,
                       config_report_t *rep)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    config_t cfg;
    ctx_t c = {.doc = &doc, .name = name, .flags = flags, .rep = rep};
    int have_doc = 0;

    memset(out, 0, sizeof *out);
    if (config_defaults(&cfg) < 0)
        return fail_line(&c, 1, NULL, "out of memory");
    if (!yaml_parser_initialize(&parser)) {
        config_free(&cfg);
        return fail_line(&c, 1, NULL, "out of memory");
    }
    yaml_parser_set_input_string(&parser, buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(&c, &parser, buf, len);
    } else {
        have_doc = 1;
        parse_root(&c, &cfg);
        expect_end(&c, &parser, buf, len);
    }
    if (rep->nerrors == 0 && !(cfg.path = strdup(name)))
        fail_line(&c, 1, NULL, "out of memory");
    note_unlisted(&c);
    if (rep->nerrors == 0) {
        *out = cfg;
        memset(&cfg, 0, sizeof cfg);
    }
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    config_free(&cfg);
    return rep->nerrors ? -1 : 0;
}

/* Read all of `path` (at most MAX_FILE_BYTES) into a malloc'd buffer. Returns 0 or an errno. */
static int read_file(const char *path, unsigned char **out, size_t *outlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return errno;
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    int e = buf ? 0 : ENOMEM;
    while (!e) {
        if (len == cap) {
            unsigned char *bigger = cap >= MAX_FILE_BYTES ? NULL : realloc(buf, cap * 2);
            if (!bigger) {
                e = cap >= MAX_FILE_BYTES ? EFBIG : ENOMEM;
                break;
            }
            buf = bigger, cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, fp);
        len += n;
        if (n == 0 && ferror(fp))
            e = errno ? errno : EIO;
        else if (n == 0)
            break;
    }
    fclose(fp);
    if (e) {
        free(buf);
        return e;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

/* ---- public ------------------------------------------------------------------------------ */

int config_defaults(config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (int)cores;
    cfg->map_size = 64ull << 30;
    cfg->poll_interval_ms = 1000;
    cfg->heartbeat_interval_ms = 15 * 1000;
    cfg->retry_ms = 3 * 1000;
    cfg->write_timeout_ms = 60 * 1000;
    cfg->max_streams = 10000;
    cfg->max_replica_lag_ms = 5000;
    cfg->max_search_contexts = 32;
    cfg->version_retention_ms = 24LL * 3600 * 1000;
    cfg->tombstone_retention_ms = 30LL * 86400 * 1000;
    cfg->listen = calloc(1, sizeof *cfg->listen);
    if (cfg->listen && (cfg->listen[0] = strdup("127.0.0.1:8080")))
        cfg->nlisten = 1;
    cfg->data_dir = strdup("./data");
    cfg->web_root = strdup("./web");
    if (!cfg->nlisten || !cfg->data_dir || !cfg->web_root) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

int config_load_string_ex(const char *yaml, const char *name, unsigned flags, config_t *cfg,
                          config_report_t *rep)
{
    memset(rep, 0, sizeof *rep);
    return load_buffer((const unsigned char *)yaml, strlen(yaml), name, flags, cfg, rep);
}

int config_load_ex(const char *path, unsigned flags, config_t *cfg, config_report_t *rep)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    memset(cfg, 0, sizeof *cfg);
    memset(rep, 0, sizeof *rep);
    int e = read_file(path, &buf, &len);
    if (e) {
        char eb[128];
        const char *why = e == EFBIG ? "file is larger than 1 MiB" : strerror_r(e, eb, sizeof eb);
        rep->nerrors = 1;
        bytebuf_printf(&rep->errors, "%s: %s\n", path, why);
        return -1;
    }
    int rc = load_buffer(buf, len, path, flags, cfg, rep);
    free(buf);
    return rc;
}

void config_report_free(config_report_t *rep)
{
    if (!rep)
        return;
    bytebuf_free(&rep->errors);
    bytebuf_free(&rep->warnings);
    memset(rep, 0, sizeof *rep);
}

/* The report's problems into the caller's buffer, without the last newline. */
static int copy_errors(int rc, config_report_t *rep, char *err, size_t errlen)
{
    if (err && errlen) {
        size_t n = rep->errors.len;
        if (n && rep->errors.p[n - 1] == '\n')
            n--;
        snprintf(err, errlen, "%.*s", (int)n, rep->errors.p ? rep->errors.p : "");
        if (rc != 0 && n == 0)
            snprintf(err, errlen, "out of memory");
    }
    config_report_free(rep);
    return rc;
}

int config_load_string(const char *yaml, const char *name, config_t *cfg, char *err, size_t errlen)
{
    config_report_t rep;
    int rc = config_load_string_ex(yaml, name, 0, cfg, &rep);
    return copy_errors(rc, &rep, err, errlen);
}

int config_load(const char *path, config_t *cfg, char *err, size_t errlen)
{
    config_report_t rep;
    int rc = config_load_ex(path, 0, cfg, &rep);
    return copy_errors(rc, &rep, err, errlen);
}

void config_free(config_t *cfg)
{
    if (!cfg)
        return;
    free_strv(cfg->listen, cfg->nlisten);
    free(cfg->data_dir);
    free_strv(cfg->cors_origins, cfg->ncors_origins);
    free(cfg->replicate_from);
    credentials_free(&cfg->replicate_auth);
    free(cfg->web_root);
    free(cfg->ca_file);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    for (size_t i = 0; i < cfg->nfeeds; i++)
        feed_free(&cfg->feeds[i]);
    free(cfg->feeds);
    access_free(&cfg->auth);
    free(cfg->path);
    memset(cfg, 0, sizeof *cfg);
}
