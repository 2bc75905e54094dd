/* esops.c -- the operations of the Elasticsearch API: dispatch, what every operation shares
 * (parameters, bodies, index expressions, errors), and the output options pretty and
 * filter_path. See esops.h; the operations are in essearch.c, esctx.c and esmeta.c. */
#include "esops_int.h"
#include "errfmt.h"
#include "query.h"
#include "srcfilter.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================================
 * Helpers of the operations
 * ====================================================================================== */

int esops_fail(esreq_t *r, int status, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    eserror_vputf(r->out, status, type, fmt, ap);
    va_end(ap);
    return status;
}

int esops_nomem(esreq_t *r)
{
    return eserror_put(r->out, 500, "out_of_memory", "out of memory", NULL);
}

typedef struct {
    const esop_t *op;
    esops_use_t use;
    esindex_t *known;
} known_t;

/* Add a feed that exists for this use; non-zero when out of memory. */
static int add_known(const known_t *k, const char *feed, size_t len)
{
    if (k->use == ESOPS_FOR_LISTING && k->op->visible && !k->op->visible(k->op->visible_ud, feed, len))
        return 0;
    return esindex_add(k->known, feed, len);
}

/* store_feeds' callback: each stored feed into the list (stops when out of memory). */
static int stored_feed(const char *feed, size_t len, uint64_t count, void *ud)
{
    return add_known(ud, feed, len) ? 1 : 0;
}

int esops_known(esreq_t *r, esops_use_t use, esindex_t *known)
{
    int rc = 0;
    known_t k = {r->op, use, known};
    *known = (esindex_t){0};
    for (size_t i = 0; i < r->env->nfeeds && rc == 0; i++)
        rc = add_known(&k, r->env->feeds[i], strlen(r->env->feeds[i]));
    if (rc == 0)
        rc = store_feeds(r->env->st, stored_feed, &k);
    if (rc == 0)
        return 0;
    esindex_free(known);
    return rc < 0 ? esops_fail(r, 500, "store_exception", "store failure: %s", store_strerror(rc)) : esops_nomem(r);
}

int esops_resolve(esreq_t *r, const char *expr, const esindex_opts_t *o, esops_use_t use, esindex_t *out)
{
    esindex_t known;
    *out = (esindex_t){0};
    int status = esops_known(r, use, &known);
    if (status)
        return status;
    char missing[512];
    int rc = esindex_resolve(expr, (const char *const *)known.feeds, known.n, o, out, missing, sizeof missing);
    esindex_free(&known);
    if (rc == ESINDEX_ERR_MISSING)
        return eserror_index_missing(r->out, missing);
    return rc ? esops_nomem(r) : 0;
}

void esops_src_feeds(const esindex_t *x, search_src_t *src)
{
    static const char *const none[1] = {NULL};
    src->feeds = x->all ? NULL : x->n ? (const char *const *)x->feeds : none;
    src->nfeeds = x->all ? 0 : x->n;
}

/* expand_wildcards: open, closed, hidden, all, none (a list); only none changes anything. */
static int expand_wildcards(esreq_t *r, const char *v, bool *none)
{
    static const char *const ok[] = {"open", "closed", "hidden", "all", "none"};
    *none = false;
    for (const char *p = v; *p;) {
        size_t w = strcspn(p, ","), i = 0;
        while (i < 5 && !(strlen(ok[i]) == w && memcmp(ok[i], p, w) == 0))
            i++;
        if (i == 5)
            return esops_fail(r, 400, "illegal_argument_exception", "No enum constant for [expand_wildcards]: [%.*s]; "
                              "use open, closed, hidden, all or none", (int)w, p);
        *none |= i == 4;
        p += w;
        p += *p == ',';
    }
    return 0;
}

int esops_index_opts(esreq_t *r, esindex_opts_t *o)
{
    bool allow_none, ignore;
    const char *ew = esparams_get(&r->params, "expand_wildcards");
    *o = (esindex_opts_t){0};
    if (esparams_bool(&r->params, "allow_no_indices", true, &allow_none, r->err, sizeof r->err) ||
        esparams_bool(&r->params, "ignore_unavailable", false, &ignore, r->err, sizeof r->err))
        return esops_fail(r, 400, "illegal_argument_exception", "%s", r->err);
    o->forbid_empty = !allow_none;
    o->ignore_unavailable = ignore;
    return ew ? expand_wildcards(r, ew, &o->no_wildcards) : 0;
}

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

int esops_body(esreq_t *r, json_t **out)
{
    const char *text = r->op->body;
    size_t len = r->op->body_len;
    *out = NULL;
    if (!text || (len <= QUERY_MAX_TEXT && blank(text, len))) {
        text = esparams_get(&r->params, "source");
        len = text ? strlen(text) : 0;
    }
    if (!text || (len <= QUERY_MAX_TEXT && blank(text, len))) {
        *out = json_object();
        return *out ? 0 : esops_nomem(r);
    }
    if (query_parse_text(text, len, "request body", out, r->err, sizeof r->err) < 0)
        return esops_fail(r, 400, "parsing_exception", "%s", r->err);
    if (json_is_object(*out))
        return 0;
    json_decref(*out);
    *out = NULL;
    return esops_fail(r, 400, "parsing_exception", "request body must be a JSON object");
}

int esops_keep_alive(esreq_t *r, const char *name, const char *value, int64_t *ms)
{
    if (esparams_time(name, value, ms, r->err, sizeof r->err) < 0)
        return esops_fail(r, 400, "illegal_argument_exception", "%s", r->err);
    if (*ms <= 0)
        return esops_fail(r, 400, "illegal_argument_exception", "[%s] must be a positive time value, got [%s]", name,
                          value);
    if (*ms > PIT_MAX_KEEP_ALIVE_MS)
        return esops_fail(r, 400, "illegal_argument_exception", "Keep alive for request (%s) is too large. It must be "
                          "less than (10m). This limit is the server's bound on search contexts (points in time "
                          "and scrolls).", value);
    return 0;
}

int esops_pit_error(esreq_t *r, int code, const char *id)
{
    switch (code) {
    case PIT_ERR_MISSING:
        return esops_fail(r, 404, "search_context_missing_exception", "No search context found for id [%s]", id);
    case PIT_ERR_TOO_MANY:
        return esops_fail(r, 429, "es_rejected_execution_exception", "Trying to create too many search contexts "
                          "(points in time and scrolls). Must be less than or equal to the server's "
                          "max_search_contexts. Close the ones you no longer need.");
    case PIT_ERR_CLOSED:
        return esops_fail(r, 503, "node_closed_exception", "the server is shutting down");
    case PIT_ERR_KEEP_ALIVE:
        return esops_fail(r, 400, "illegal_argument_exception", "keep-alive out of range");
    case PIT_ERR_STORE:
        return esops_fail(r, 500, "store_exception", "the store could not open a view");
    default:
        return esops_nomem(r);
    }
}

/* ======================================================================================
 * Output options: filter_path and pretty
 * ====================================================================================== */

/* filter_path's list as a _source filter: "a.b,-c" -> {"includes": ["a.b"], "excludes": ["c"]}
 * ('**' is '*', which already crosses dots). A NEW reference, or NULL when out of memory. */
static json_t *filter_spec(const char *fp)
{
    json_t *inc = json_array(), *exc = json_array();
    json_t *spec = json_pack("{s:o,s:o}", "includes", inc, "excludes", exc);
    for (const char *p = fp; spec && *p;) {
        size_t w = strcspn(p, ",");
        bool minus = w && *p == '-';
        char pat[512];
        size_t n = 0;
        for (size_t i = minus; i < w && n + 1 < sizeof pat; i++)
            if (!(p[i] == '*' && n && pat[n - 1] == '*'))
                pat[n++] = p[i];
        if (n)
            json_array_append_new(minus ? exc : inc, json_stringn(pat, n));
        p += w;
        p += *p == ',';
    }
    return spec;
}

/* Filter the JSON text at out[mark..] and/or indent it. When that cannot be done (no memory)
 * the text stays as it was. */
static void reshape(esreq_t *r, size_t mark, const char *fp, bool pretty)
{
    bytebuf_t *b = r->out;
    json_t *spec = fp ? filter_spec(fp) : NULL;
    srcfilter_t f = {0};
    bytebuf_t kept = {0};
    json_t *j = NULL;
    char *text = NULL;
    if ((fp && (!spec || srcfilter_parse(&f, spec, NULL, 0) < 0)) || b->failed)
        goto out;
    if (fp)
        srcfilter_put(&kept, &f, b->p + mark, b->len - mark);
    else
        bytebuf_append(&kept, b->p + mark, b->len - mark);
    j = kept.failed ? NULL : json_loadb(kept.p, kept.len, 0, NULL);
    text = j ? json_dumps(j, pretty ? JSON_INDENT(2) : JSON_COMPACT) : NULL;
    if (text) {
        b->len = mark;
        bytebuf_appends(b, text);
        if (pretty)
            bytebuf_appendc(b, '\n');
    }
out:
    json_decref(spec);
    json_decref(j);
    srcfilter_free(&f);
    bytebuf_free(&kept);
    free(text);
}

static int finish(esreq_t *r, size_t mark, int status)
{
    const char *fp = esparams_get(&r->params, "filter_path");
    bool pretty = false;
    esparams_bool(&r->params, "pretty", false, &pretty, NULL, 0);
    if (!r->text && (fp || pretty) && r->out->len > mark)
        reshape(r, mark, fp, pretty);
    return status;
}

/* ======================================================================================
 * Dispatch
 * ====================================================================================== */

typedef int op_fn(esreq_t *r);

static op_fn *const ops[ESOP_N] = {
    [ESOP_ROOT] = esops_root,         [ESOP_SEARCH] = esops_search,
    [ESOP_COUNT] = esops_count,       [ESOP_MSEARCH] = esops_msearch,
    [ESOP_SCROLL] = esops_scroll,     [ESOP_CLEAR_SCROLL] = esops_clear_scroll,
    [ESOP_PIT_OPEN] = esops_pit_open, [ESOP_PIT_CLOSE] = esops_pit_close,
    [ESOP_DOC] = esops_doc,           [ESOP_MAPPING] = esops_mapping,
    [ESOP_CAT_INDICES] = esops_cat_indices,
};

int esops_run(const esops_env_t *env, const esop_t *op, bytebuf_t *out, bool *text)
{
    esreq_t r = {.env = env, .op = op, .out = out};
    size_t mark = out->len;
    int status;
    *text = false;
    if (op->op < 0 || op->op >= ESOP_N)
        return eserror_put(out, 400, "illegal_argument_exception", "unknown operation", NULL);
    if (esparams_parse(op->op, op->path, op->qs, op->qs_len, &r.params, r.err, sizeof r.err) < 0)
        status = eserror_put(out, 400, "illegal_argument_exception", r.err, NULL);
    else
        status = finish(&r, mark, ops[op->op](&r));
    esparams_free(&r.params);
    *text = r.text;
    return status;
}
