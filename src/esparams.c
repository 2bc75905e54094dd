/* esparams.c -- URL parameters of the Elasticsearch API: decoding, the table of what each
 * operation takes, and their values. See esparams.h. */
#include "esparams.h"
#include "errfmt.h"
#include "esops.h"
#include "timefmt.h"
#include "urlcode.h"
#include <stdlib.h>
#include <string.h>

/* What an operation takes, as space-separated names. */
typedef struct {
    const char *honoured;   /* read by the operation */
    const char *noop;       /* accepted: no effect on a one-shard store's answer */
    const char *refused;    /* defined by Elasticsearch, not implemented here: 400 */
} table_t;

static const char common[] = "pretty human error_trace filter_path source source_content_type";
static const char index_opts[] = "allow_no_indices ignore_unavailable expand_wildcards";
static const char lucene[] = "analyzer analyze_wildcard default_operator df lenient";

static const table_t tables[ESOP_N] = {
    [ESOP_ROOT] = {"", "", ""},
    [ESOP_SEARCH] = {"size from sort _source _source_includes _source_excludes track_total_hits "
                     "rest_total_hits_as_int scroll",
                     "ignore_throttled preference routing request_cache search_type batched_reduce_size "
                     "ccs_minimize_roundtrips max_concurrent_shard_requests pre_filter_shard_size "
                     "allow_partial_search_results timeout track_scores",
                     "docvalue_fields explain stored_fields suggest_field suggest_mode suggest_size "
                     "suggest_text terminate_after typed_keys version seq_no_primary_term stats "
                     "min_compatible_shard_node include_named_queries_score force_synthetic_source"},
    [ESOP_COUNT] = {"", "ignore_throttled preference routing", "min_score terminate_after"},
    [ESOP_MSEARCH] = {"rest_total_hits_as_int",
                      "max_concurrent_searches max_concurrent_shard_requests pre_filter_shard_size "
                      "search_type ccs_minimize_roundtrips ignore_throttled routing",
                      "typed_keys include_named_queries_score"},
    [ESOP_SCROLL] = {"scroll scroll_id rest_total_hits_as_int", "", ""},
    [ESOP_CLEAR_SCROLL] = {"scroll_id", "", ""},
    [ESOP_PIT_OPEN] = {"keep_alive", "preference routing allow_partial_search_results max_concurrent_shard_requests",
                       "index_filter"},
    [ESOP_PIT_CLOSE] = {"", "", ""},
    [ESOP_DOC] = {"_source _source_includes _source_excludes", "preference realtime refresh routing",
                  "stored_fields version version_type"},
    [ESOP_MAPPING] = {"", "local master_timeout", ""},
    [ESOP_CAT_INDICES] = {"format v h s health", "bytes local master_timeout pri time include_unloaded_segments",
                          "help"},
};

/* Operations that take an index expression take its options too. */
static bool takes_index_opts(int op)
{
    return op == ESOP_SEARCH || op == ESOP_COUNT || op == ESOP_MSEARCH || op == ESOP_PIT_OPEN ||
           op == ESOP_MAPPING || op == ESOP_CAT_INDICES;
}

/* Is `name` a word of the space-separated `list`? */
static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t w = strcspn(p, " ");
        if (w == n && memcmp(p, name, n) == 0)
            return true;
        p += w;
        p += *p == ' ';
    }
    return false;
}

static int check_name(int op, const char *path, const char *name, char *err, size_t errlen)
{
    const table_t *t = &tables[op];
    if (in_list(common, name) || in_list(t->honoured, name) || in_list(t->noop, name) ||
        (takes_index_opts(op) && in_list(index_opts, name)))
        return 0;
    if ((op == ESOP_SEARCH || op == ESOP_COUNT) && strcmp(name, "q") == 0)
        errfmt(err, errlen, "request [%s] contains parameter [q]: Lucene query strings are not supported; send the "
               "query as the Query DSL in the request body ({\"query\": {...}})", path);
    else if (in_list(t->refused, name) || ((op == ESOP_SEARCH || op == ESOP_COUNT) && in_list(lucene, name)))
        errfmt(err, errlen, "request [%s] contains unsupported parameter: [%s] (defined by Elasticsearch, not "
               "implemented by this server)", path, name);
    else
        errfmt(err, errlen, "request [%s] contains unrecognized parameter: [%s]", path, name);
    return ESPARAMS_ERR_INVALID;
}

void esparams_free(esparams_t *p)
{
    free(p->v);
    free(p->mem);
    *p = (esparams_t){0};
}

/* Decode one "name=value" (or "name") pair at s[0..n) into mem at *used. */
static int decode_pair(esparams_t *p, const char *s, size_t n, size_t *used, char *err, size_t errlen)
{
    const char *eq = memchr(s, '=', n);
    size_t nl = eq ? (size_t)(eq - s) : n, vl = eq ? n - nl - 1 : 0;
    char *name = p->mem + *used;
    long a = urlcode_decode(s, nl, name, nl + 1);
    char *value = name + (a < 0 ? 0 : a) + 1;
    long b = a < 0 ? -1 : urlcode_decode(eq ? eq + 1 : "", vl, value, vl + 1);
    if (a < 0 || b < 0) {
        errfmt(err, errlen, "the query string has a malformed escape or an encoded NUL: [%.*s]", (int)n, s);
        return ESPARAMS_ERR_INVALID;
    }
    *used += (size_t)a + (size_t)b + 2;
    p->v[p->n++] = (esparam_t){name, value};
    return 0;
}

static int decode_all(esparams_t *p, const char *qs, size_t len, char *err, size_t errlen)
{
    size_t pairs = 1, used = 0;
    for (size_t i = 0; i < len; i++)
        pairs += qs[i] == '&';
    p->v = calloc(pairs, sizeof *p->v);
    p->mem = malloc(len + 2 * pairs + 1);
    if (!p->v || !p->mem)
        return ESPARAMS_ERR_NOMEM;
    for (size_t i = 0; i < len;) {
        size_t n = 0;
        while (i + n < len && qs[i + n] != '&')
            n++;
        if (n && decode_pair(p, qs + i, n, &used, err, errlen) < 0)
            return ESPARAMS_ERR_INVALID;
        i += n + 1;
    }
    return 0;
}

int esparams_parse(int op, const char *path, const char *qs, size_t len, esparams_t *out, char *err,
                   size_t errlen)
{
    *out = (esparams_t){0};
    int rc = decode_all(out, qs ? qs : "", qs ? len : 0, err, errlen);
    if (rc == ESPARAMS_ERR_NOMEM)
        errfmt(err, errlen, "out of memory");
    for (size_t i = 0; rc == 0 && i < out->n; i++)
        rc = check_name(op, path, out->v[i].name, err, errlen);
    if (rc)
        esparams_free(out);
    return rc;
}

const char *esparams_get(const esparams_t *p, const char *name)
{
    for (size_t i = p->n; i > 0; i--)
        if (strcmp(p->v[i - 1].name, name) == 0)
            return p->v[i - 1].value;
    return NULL;
}

int esparams_bool(const esparams_t *p, const char *name, bool dflt, bool *out, char *err, size_t errlen)
{
    const char *v = esparams_get(p, name);
    *out = dflt;
    if (!v)
        return 0;
    if (!*v || strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        *out = strcmp(v, "false") != 0;
        return 0;
    }
    errfmt(err, errlen, "Failed to parse value [%s] of parameter [%s] as only [true] or [false] are allowed.", v, name);
    return ESPARAMS_ERR_INVALID;
}

int esparams_time(const char *name, const char *value, int64_t *ms, char *err, size_t errlen)
{
    *ms = 0;
    if (!value)
        return 0;
    if (timefmt_parse_duration(value, ms) == 0)
        return 0;
    errfmt(err, errlen, "failed to parse setting [%s] with value [%s] as a time value: unit is missing or "
           "unrecognized (use ms, s, m, h or d)", name, value);
    return ESPARAMS_ERR_INVALID;
}

/* ---- values of the search parameters ---- */

static int parse_count(const char *name, const char *v, json_int_t *out, char *err, size_t errlen)
{
    size_t n = strlen(v);
    bool neg = n > 1 && v[0] == '-';
    json_int_t x = 0;
    bool ok = n > (size_t)neg && n - neg <= 9;
    for (size_t i = neg; ok && i < n; i++) {
        ok = v[i] >= '0' && v[i] <= '9';
        x = x * 10 + (v[i] - '0');
    }
    *out = neg ? -x : x;
    if (ok)
        return 0;
    errfmt(err, errlen, "Failed to parse int parameter [%s] with value [%s]", name, v);
    return ESPARAMS_ERR_INVALID;
}

/* "a,b,c" as an array of strings (a NEW reference; NULL when out of memory). */
static json_t *list_of(const char *v)
{
    json_t *a = json_array();
    for (const char *p = v; a && *p;) {
        size_t w = strcspn(p, ",");
        if (w && json_array_append_new(a, json_stringn(p, w)) != 0) {
            json_decref(a);
            return NULL;
        }
        p += w;
        p += *p == ',';
    }
    return a;
}

/* "published:desc,_doc" as [{"published": "desc"}, "_doc"]. */
static json_t *sort_of(const char *v)
{
    json_t *items = list_of(v), *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(items, i, e) {
        const char *s = json_string_value(e), *colon = strchr(s, ':');
        json_t *one = colon ? json_pack("{s%:s}", s, (size_t)(colon - s), colon + 1) : json_incref(e);
        if (!one || json_array_append_new(out, one) != 0)
            break;
    }
    if (!items || !out || i < json_array_size(items)) {
        json_decref(out);
        out = NULL;
    }
    json_decref(items);
    return out;
}

json_t *esparams_source(const esparams_t *p)
{
    const char *src = esparams_get(p, "_source"), *inc = esparams_get(p, "_source_includes"),
               *exc = esparams_get(p, "_source_excludes");
    if (!inc && !exc) {
        if (!src)
            return NULL;
        if (strcmp(src, "true") == 0 || strcmp(src, "false") == 0)
            return json_boolean(strcmp(src, "true") == 0);
        return list_of(src);
    }
    json_t *o = json_object();
    json_t *incl = inc ? list_of(inc) : src && strcmp(src, "true") && strcmp(src, "false") ? list_of(src) : NULL;
    if (incl)
        json_object_set_new(o, "includes", incl);
    if (exc)
        json_object_set_new(o, "excludes", list_of(exc));
    return o;
}

static int set_member(json_t *body, const char *key, json_t *v, char *err, size_t errlen)
{
    if (v && json_object_set_new(body, key, v) == 0)
        return 0;
    errfmt(err, errlen, "out of memory");
    return ESPARAMS_ERR_NOMEM;
}

static int apply_int(const esparams_t *p, json_t *body, const char *name, char *err, size_t errlen)
{
    const char *v = esparams_get(p, name);
    json_int_t x;
    if (!v)
        return 0;
    int rc = parse_count(name, v, &x, err, errlen);
    return rc ? rc : set_member(body, name, json_integer(x), err, errlen);
}

static int apply_track(const esparams_t *p, json_t *body, char *err, size_t errlen)
{
    const char *v = esparams_get(p, "track_total_hits");
    json_int_t x;
    if (!v)
        return 0;
    if (!*v || strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
        return set_member(body, "track_total_hits", json_boolean(strcmp(v, "false") != 0), err, errlen);
    int rc = parse_count("track_total_hits", v, &x, err, errlen);
    return rc ? rc : set_member(body, "track_total_hits", json_integer(x), err, errlen);
}

int esparams_apply_search(const esparams_t *p, json_t *body, char *err, size_t errlen)
{
    const char *sort = esparams_get(p, "sort");
    json_t *source = esparams_source(p);
    int rc = apply_int(p, body, "size", err, errlen);
    if (rc == 0)
        rc = apply_int(p, body, "from", err, errlen);
    if (rc == 0)
        rc = apply_track(p, body, err, errlen);
    if (rc == 0 && sort)
        rc = set_member(body, "sort", sort_of(sort), err, errlen);
    if (rc == 0 && source)
        rc = set_member(body, "_source", json_incref(source), err, errlen);
    json_decref(source);
    return rc;
}
