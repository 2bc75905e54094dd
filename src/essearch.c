/* essearch.c -- _search, _count and _msearch of the Elasticsearch API: the URL parameters and
 * _msearch headers turned into one search each, over an index expression, a point in time
 * (esctx.c) or a new scroll (esctx.c). See esops.h. */
#include "esops_int.h"
#include "timefmt.h"
#include <stdlib.h>
#include <string.h>

int esops_parse(esreq_t *r, int kind, json_t *body, search_t **s)
{
    int rc = search_parse(kind, body, timefmt_now_us(), s, r->err, sizeof r->err);
    if (rc == SEARCH_ERR_NOMEM)
        return esops_nomem(r);
    return rc ? eserror_put(r->out, 400, "parsing_exception", r->err, NULL) : 0;
}

/* A search or count over an index expression, on the store as it is now. */
static int plain_search(esreq_t *r, int kind, const char *index, const essearch_opts_t *so, json_t *body)
{
    esindex_t idx;
    search_t *s = NULL;
    int status = esops_resolve(r, index, &so->index, ESOPS_FOR_READ, &idx);
    if (status == 0)
        status = esops_parse(r, kind, body, &s);
    if (status == 0) {
        search_src_t src = {.st = r->env->st, .scope = r->op->scope};
        search_opts_t o = {.total_as_int = so->total_as_int};
        esops_src_feeds(&idx, &src);
        status = search_run(s, &src, &o, r->out, NULL);
    }
    search_free(s);
    esindex_free(&idx);
    return status;
}

/* rest_total_hits_as_int needs exact totals: track them all unless the body says otherwise. */
static int totals_as_int(esreq_t *r, json_t *body)
{
    json_t *t = json_object_get(body, "track_total_hits");
    if (t && !json_is_true(t))
        return esops_fail(r, 400, "illegal_argument_exception", "[rest_total_hits_as_int] cannot be used if the "
                          "tracking of total hits is not accurate");
    return json_object_set_new(body, "track_total_hits", json_true()) ? esops_nomem(r) : 0;
}

/* The body's "scroll" member (a keep-alive), copied into buf; "" when absent. */
static int body_scroll(esreq_t *r, json_t *body, char *buf, size_t len)
{
    json_t *v = json_object_get(body, "scroll");
    buf[0] = '\0';
    if (!v)
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= len)
        return esops_fail(r, 400, "parsing_exception", "[scroll] must be a time value such as \"1m\"");
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    json_object_del(body, "scroll");
    return 0;
}

int esops_search_body(esreq_t *r, const char *index, const essearch_opts_t *so, json_t *body)
{
    char scroll_buf[64];
    int status = body_scroll(r, body, scroll_buf, sizeof scroll_buf);
    const char *scroll = so->scroll ? so->scroll : scroll_buf[0] ? scroll_buf : NULL;
    json_t *pit = json_incref(json_object_get(body, "pit"));
    json_object_del(body, "pit");
    if (status == 0 && pit && index)
        status = esops_fail(r, 400, "illegal_argument_exception", "[indices] cannot be used with point in time. Do "
                            "not specify any index with point in time.");
    if (status == 0 && pit && scroll)
        status = esops_fail(r, 400, "illegal_argument_exception", "using [point in time] is not allowed in a scroll "
                            "context");
    if (status == 0 && so->total_as_int)
        status = totals_as_int(r, body);
    if (status == 0 && pit) {
        status = esops_pit_search(r, pit, so, body);
    } else if (status == 0 && scroll) {
        int64_t keep;
        status = esops_keep_alive(r, "scroll", scroll, &keep);
        if (status == 0)
            status = esops_scroll_open(r, index, so, keep, body);
    } else if (status == 0) {
        status = plain_search(r, SEARCH_SEARCH, index, so, body);
    }
    json_decref(pit);
    return status;
}

/* The options of the URL parameters. */
static int url_opts(esreq_t *r, essearch_opts_t *so)
{
    *so = (essearch_opts_t){.scroll = esparams_get(&r->params, "scroll")};
    int status = esops_index_opts(r, &so->index);
    if (status == 0 && esparams_bool(&r->params, "rest_total_hits_as_int", false, &so->total_as_int, r->err,
                                     sizeof r->err) < 0)
        status = esops_fail(r, 400, "illegal_argument_exception", "%s", r->err);
    return status;
}

/* _search and _count: the URL's options and parameters, the body, then one search. */
static int search_or_count(esreq_t *r, int kind)
{
    essearch_opts_t so;
    json_t *body = NULL;
    int status = url_opts(r, &so);
    if (status == 0)
        status = esops_body(r, &body);
    if (status == 0 && kind == SEARCH_SEARCH && esparams_apply_search(&r->params, body, r->err, sizeof r->err) < 0)
        status = esops_fail(r, 400, "illegal_argument_exception", "%s", r->err);
    if (status == 0)
        status = kind == SEARCH_SEARCH ? esops_search_body(r, r->op->index, &so, body)
                                       : plain_search(r, SEARCH_COUNT, r->op->index, &so, body);
    json_decref(body);
    return status;
}

int esops_search(esreq_t *r) { return search_or_count(r, SEARCH_SEARCH); }

int esops_count(esreq_t *r) { return search_or_count(r, SEARCH_COUNT); }

/* ======================================================================================
 * _msearch
 * ====================================================================================== */

/* An NDJSON line: [*p, eol) without its "\r\n" or "\n"; *p moves past it. */
typedef struct {
    const char *p, *end;
    size_t lineno;
} lines_t;

static bool next_line(lines_t *ls, const char **s, size_t *n)
{
    if (ls->p >= ls->end)
        return false;
    const char *nl = memchr(ls->p, '\n', (size_t)(ls->end - ls->p)), *eol = nl ? nl : ls->end;
    *s = ls->p;
    *n = (size_t)(eol - ls->p);
    if (*n && (*s)[*n - 1] == '\r')
        (*n)--;
    ls->p = nl ? nl + 1 : ls->end;
    ls->lineno++;
    return true;
}

/* A header's boolean option: true/false or "true"/"false". */
static int header_bool(esreq_t *r, const char *key, json_t *v, bool *out)
{
    const char *s = json_string_value(v);
    *out = false;
    if (json_is_boolean(v) || (s && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0))) {
        *out = json_is_true(v) || (s && strcmp(s, "true") == 0);
        return 0;
    }
    return esops_fail(r, 400, "illegal_argument_exception", "[%s] in the msearch header must be true or false", key);
}

/* "index": "a,b" or ["a", "b"] into buf. */
static int header_index(esreq_t *r, json_t *v, char *buf, size_t len)
{
    bytebuf_t b = {0};
    size_t i;
    json_t *e;
    if (json_is_string(v))
        bytebuf_appends(&b, json_string_value(v));
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            break;
        bytebuf_printf(&b, "%s%s", i ? "," : "", json_string_value(e));
    }
    bool ok = !b.failed && b.len < len && (json_is_string(v) || (json_is_array(v) && i == json_array_size(v)));
    if (ok)
        memcpy(buf, b.p ? b.p : "", b.len + 1);
    bytebuf_free(&b);
    return ok ? 0 : esops_fail(r, 400, "illegal_argument_exception", "[index] in the msearch header must be a string "
                                "or an array of strings");
}

static const char *const header_noop[] = {"search_type", "preference", "routing", "request_cache",
                                          "ccs_minimize_roundtrips", "allow_partial_search_results",
                                          "ignore_throttled", "max_concurrent_shard_requests",
                                          "pre_filter_shard_size", NULL};

static bool is_noop(const char *key)
{
    for (size_t i = 0; header_noop[i]; i++)
        if (strcmp(header_noop[i], key) == 0)
            return true;
    return false;
}

static int header_member(esreq_t *r, const char *key, json_t *v, essearch_opts_t *so, char *index, size_t len)
{
    bool b = false;
    if (strcmp(key, "index") == 0)
        return header_index(r, v, index, len);
    if (strcmp(key, "ignore_unavailable") == 0 || strcmp(key, "allow_no_indices") == 0) {
        int status = header_bool(r, key, v, &b);
        if (status)
            return status;
        if (key[0] == 'i')
            so->index.ignore_unavailable = b;
        else
            so->index.forbid_empty = !b;
        return 0;
    }
    if (strcmp(key, "expand_wildcards") == 0) {
        const char *s = json_string_value(v);
        so->index.no_wildcards = s && strcmp(s, "none") == 0;
        return s ? 0 : esops_fail(r, 400, "illegal_argument_exception", "[expand_wildcards] must be a string");
    }
    if (is_noop(key))
        return 0;
    return esops_fail(r, 400, "illegal_argument_exception", "key [%s] is not supported in the metadata section", key);
}

/* One item: its header (options over the URL's) and body, answered into r->out. */
static int msearch_item(esreq_t *r, json_t *header, json_t *body, const essearch_opts_t *url)
{
    essearch_opts_t so = *url;
    char index[4096];
    bool has_index = false;
    const char *k;
    json_t *v;
    json_object_foreach(header, k, v) {
        int status = header_member(r, k, v, &so, index, sizeof index);
        if (status)
            return status;
        has_index |= strcmp(k, "index") == 0;
    }
    return esops_search_body(r, has_index ? index : r->op->index, &so, body);
}

/* Parse an NDJSON line as an object. Returns 0, or the 400 of the whole request. */
static int msearch_line(esreq_t *r, const lines_t *ls, const char *s, size_t n, const char *what, json_t **out)
{
    *out = NULL;
    if (n == 0 && what[0] == 'h') {   /* an empty header is {} */
        *out = json_object();
        return *out ? 0 : esops_nomem(r);
    }
    if (query_parse_text(s, n, what, out, r->err, sizeof r->err) < 0)
        return esops_fail(r, 400, "parsing_exception", "line %zu: %s", ls->lineno, r->err);
    if (json_is_object(*out))
        return 0;
    json_decref(*out);
    *out = NULL;
    return esops_fail(r, 400, "parsing_exception", "line %zu: the %s must be a JSON object", ls->lineno, what);
}

/* The items, answered into `items` one after the other ("," between them). */
static int msearch_items(esreq_t *r, const essearch_opts_t *url, bytebuf_t *items, size_t *count)
{
    lines_t ls = {r->op->body, r->op->body + r->op->body_len, 0};
    const char *hs, *bs;
    size_t hn, bn;
    bytebuf_t *out = r->out;
    int status = 0;
    while (status == 0 && next_line(&ls, &hs, &hn)) {
        json_t *header = NULL, *body = NULL;
        if (hn == 0 && ls.p >= ls.end)
            break;   /* the final newline */
        if (!next_line(&ls, &bs, &bn))
            return esops_fail(r, 400, "parsing_exception", "line %zu: a header without a body line", ls.lineno);
        status = msearch_line(r, &ls, hs, hn, "header", &header);
        if (status == 0)
            status = msearch_line(r, &ls, bs, bn, "msearch body", &body);
        if (status == 0) {
            bytebuf_appends(items, (*count)++ ? "," : "");
            r->out = items;
            int item = msearch_item(r, header, body, url);
            r->out = out;
            if (item == 200 && items->len && items->p[items->len - 1] == '}') {
                items->len--;   /* the item's closing brace: the status goes in */
                bytebuf_appends(items, ",\"status\":200}");
            }
        }
        json_decref(header);
        json_decref(body);
    }
    return status;
}

int esops_msearch(esreq_t *r)
{
    int64_t t0 = timefmt_now_us();
    essearch_opts_t url;
    bytebuf_t items = {0};
    size_t count = 0;
    int status = url_opts(r, &url);
    if (status == 0)
        status = msearch_items(r, &url, &items, &count);
    if (status == 0 && count == 0)
        status = esops_fail(r, 400, "action_request_validation_exception", "Validation Failed: 1: no requests added;");
    if (status == 0 && items.failed)
        status = esops_nomem(r);
    if (status == 0) {
        bytebuf_printf(r->out, "{\"took\":%lld,\"responses\":[", (long long)((timefmt_now_us() - t0) / 1000));
        bytebuf_append(r->out, items.p, items.len);
        bytebuf_appends(r->out, "]}");
        status = 200;
    }
    bytebuf_free(&items);
    return status;
}
