/* esctx.c -- search contexts of the Elasticsearch API: points in time (POST /{index}/_pit, a
 * search's "pit", DELETE /_pit) and scrolls (a search's `scroll`, POST and DELETE
 * /_search/scroll), each a frozen view of the store held in the registry (pit.h).
 *
 * A point in time keeps the feeds its index expression named when it was opened, and the last
 * count made on it: a page with the same query and track limit (and no scope: a scope may
 * differ from caller to caller) reuses it, so paging through a view counts once.
 * A scroll keeps its search (without the aggregations, which only its first page carries), the
 * sort values of the last hit it gave and its total (counted once, exactly, as Elasticsearch
 * requires of a scroll); each page is the search again with search_after at that hit. See
 * esops.h. */
#include "esops_int.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    esindex_t index;         /* owned: the feeds it reads */
    char *count_key;         /* owned: the query and track limit `counted` is for; NULL: none */
    uint64_t counted;
} pit_state_t;

typedef struct {
    esindex_t index;         /* owned */
    json_t *body;            /* owned: the search, without aggregations */
    json_t *after;           /* owned: the last hit's sort values; NULL: none yet */
    uint64_t total;          /* counted under the owner's scope */
    bool done;               /* a page came back empty: every later one is */
    char *owner;             /* owned: esop_t.owner of the search that opened it; NULL: none */
} scroll_state_t;

static void pit_state_free(void *p)
{
    pit_state_t *ps = p;
    if (!ps)
        return;
    esindex_free(&ps->index);
    free(ps->count_key);
    free(ps);
}

static void scroll_state_free(void *p)
{
    scroll_state_t *ss = p;
    if (!ss)
        return;
    esindex_free(&ss->index);
    json_decref(ss->body);
    json_decref(ss->after);
    free(ss->owner);
    free(ss);
}

/* Put back what was appended to the response since `mark`. */
static void rewind_to(bytebuf_t *b, size_t mark)
{
    if (b->p && mark <= b->len) {
        b->len = mark;
        b->p[mark] = '\0';
    }
    b->failed = 0;
}

/* A search ran on an entry: a view the store ended makes the context missing. Releases p. */
static int after_run(esreq_t *r, pit_t *p, const search_result_t *res, size_t mark, int status)
{
    if (res->store_rc != STORE_ERR_EXPIRED) {
        pit_release(p);
        return status;
    }
    char id[PIT_ID_LEN + 1];
    memcpy(id, pit_id(p), sizeof id);
    rewind_to(r->out, mark);
    pit_drop(p);
    return esops_pit_error(r, PIT_ERR_MISSING, id);
}

/* ======================================================================================
 * Points in time
 * ====================================================================================== */

int esops_pit_open(esreq_t *r)
{
    const char *ka = esparams_get(&r->params, "keep_alive");
    esindex_opts_t io;
    int64_t keep;
    json_t *body = NULL;
    if (!ka)
        return esops_fail(r, 400, "action_request_validation_exception", "Validation Failed: 1: [keep_alive] is not "
                          "specified;");
    int status = esops_keep_alive(r, "keep_alive", ka, &keep);
    if (status == 0)
        status = esops_body(r, &body);
    if (status == 0 && json_object_size(body))
        status = esops_fail(r, 400, "parsing_exception", "unknown key [%s] in the point-in-time body; index_filter "
                            "is not supported", json_object_iter_key(json_object_iter(body)));
    json_decref(body);
    if (status == 0)
        status = esops_index_opts(r, &io);
    pit_state_t *ps = status ? NULL : calloc(1, sizeof *ps);
    if (status == 0 && !ps)
        status = esops_nomem(r);
    if (status == 0)
        status = esops_resolve(r, r->op->index, &io, ESOPS_FOR_READ, &ps->index);
    pit_t *p = NULL;
    int rc = status ? 0 : pit_open(r->env->pits, PIT_KIND_PIT, keep, ps, pit_state_free, &p);
    if (status == 0 && rc)
        status = esops_pit_error(r, rc, "");
    if (status || rc) {
        pit_state_free(ps);
        return status;
    }
    bytebuf_appends(r->out, "{\"id\":");
    bytebuf_append_json_str(r->out, pit_id(p), PIT_ID_LEN);
    bytebuf_appends(r->out, ",\"_shards\":{\"total\":1,\"successful\":1,\"skipped\":0,\"failed\":0}}");
    pit_release(p);
    return 200;
}

int esops_pit_close(esreq_t *r)
{
    json_t *body = NULL;
    int status = esops_body(r, &body);
    const char *id = json_string_value(json_object_get(body, "id"));
    if (status == 0 && !id)
        status = esops_fail(r, 400, "action_request_validation_exception", "Validation Failed: 1: [id] of the point "
                            "in time is missing;");
    if (status == 0) {
        bool freed = pit_close(r->env->pits, PIT_KIND_PIT, id, strlen(id)) == 0;
        bytebuf_printf(r->out, "{\"succeeded\":true,\"num_freed\":%d}", freed);
        status = freed ? 200 : 404;
    }
    json_decref(body);
    return status;
}

/* The body's "pit": {"id": ..., "keep_alive": ...}. */
static int pit_spec(esreq_t *r, json_t *pit, const char **id, int64_t *keep)
{
    const char *k;
    json_t *v;
    *id = NULL;
    *keep = 0;
    if (!json_is_object(pit))
        return esops_fail(r, 400, "parsing_exception", "[pit] must be an object {\"id\": ..., \"keep_alive\": ...}");
    json_object_foreach(pit, k, v) {
        int status = 0;
        if (strcmp(k, "id") == 0 && json_is_string(v))
            *id = json_string_value(v);
        else if (strcmp(k, "keep_alive") == 0 && json_is_string(v))
            status = esops_keep_alive(r, "pit.keep_alive", json_string_value(v), keep);
        else
            status = esops_fail(r, 400, "parsing_exception", "[pit] takes id and keep_alive (strings); got [%s]", k);
        if (status)
            return status;
    }
    return *id ? 0 : esops_fail(r, 400, "parsing_exception", "[pit] requires [id]");
}

/* What a count is for: the query and the track limit (NULL: not to be reused). */
static char *count_key(esreq_t *r, json_t *body, const search_t *s)
{
    if (r->op->scope || !search_track_limit(s))
        return NULL;
    json_t *q = json_object_get(body, "query");
    char *qt = q ? json_dumps(q, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL, *key = NULL;
    if (q && !qt)
        return NULL;
    if (asprintf(&key, "%llu|%s", (unsigned long long)search_track_limit(s), qt ? qt : "") < 0)
        key = NULL;
    free(qt);
    return key;
}

static void pit_page(esreq_t *r, pit_t *p, const search_t *s, char *key, const essearch_opts_t *so,
                     search_result_t *res, int *status)
{
    pit_state_t *ps = pit_state(p);
    search_opts_t o = {.id_key = "pit_id", .id = pit_id(p), .total_as_int = so->total_as_int};
    search_src_t src = {.st = r->env->st, .view = pit_view(p), .scope = r->op->scope};
    esops_src_feeds(&ps->index, &src);
    if (key && ps->count_key && strcmp(key, ps->count_key) == 0) {
        o.have_total = true;
        o.total = ps->counted;
    }
    *status = search_run(s, &src, &o, r->out, res);
    if (*status == 200 && key && !o.have_total) {
        free(ps->count_key);
        ps->count_key = strdup(key);
        ps->counted = res->counted;
    }
}

int esops_pit_search(esreq_t *r, json_t *pit, const essearch_opts_t *so, json_t *body)
{
    const char *id;
    int64_t keep;
    search_t *s = NULL;
    pit_t *p;
    int status = pit_spec(r, pit, &id, &keep);
    if (status == 0)
        status = esops_parse(r, SEARCH_SEARCH, body, &s);
    int rc = status ? 0 : pit_acquire(r->env->pits, PIT_KIND_PIT, id, strlen(id), keep, &p);
    if (status == 0 && rc)
        status = esops_pit_error(r, rc, id);
    if (status == 0) {
        char *key = count_key(r, body, s);
        search_result_t res;
        size_t mark = r->out->len;
        pit_page(r, p, s, key, so, &res, &status);
        status = after_run(r, p, &res, mark, status);
        json_decref(res.last_sort);
        free(key);
    }
    search_free(s);
    return status;
}

/* ======================================================================================
 * Scrolls
 * ====================================================================================== */

/* What Elasticsearch refuses in a scroll context; the total is counted exactly. */
static int scroll_checks(esreq_t *r, json_t *body)
{
    json_t *from = json_object_get(body, "from"), *track = json_object_get(body, "track_total_hits");
    if (json_object_get(body, "search_after"))
        return esops_fail(r, 400, "illegal_argument_exception", "[search_after] cannot be used in a scroll context");
    if (from && !(json_is_integer(from) && json_integer_value(from) == 0))
        return esops_fail(r, 400, "illegal_argument_exception", "using [from] is not allowed in a scroll context");
    if (track && !json_is_true(track))
        return esops_fail(r, 400, "illegal_argument_exception", "disabling [track_total_hits] is not allowed in a "
                          "scroll context");
    return json_object_set_new(body, "track_total_hits", json_true()) ? esops_nomem(r) : 0;
}

/* One page of a held scroll; releases it. */
static int scroll_page(esreq_t *r, pit_t *p, const search_t *s, bool first, bool total_as_int)
{
    scroll_state_t *ss = pit_state(p);
    search_opts_t o = {.id_key = "_scroll_id", .id = pit_id(p), .total_as_int = total_as_int,
                       .have_total = !first, .total = ss->total, .no_aggs = !first};
    search_src_t src = {.st = r->env->st, .view = pit_view(p), .scope = r->op->scope};
    search_result_t res;
    size_t mark = r->out->len;
    esops_src_feeds(&ss->index, &src);
    int status = search_run(s, &src, &o, r->out, &res);
    if (status == 200 && first)
        ss->total = res.counted;
    if (status == 200 && res.last_sort) {
        json_decref(ss->after);
        ss->after = json_incref(res.last_sort);
    } else if (status == 200) {
        ss->done = true;
    }
    json_decref(res.last_sort);
    return after_run(r, p, &res, mark, status);
}

/* The scroll's state for `body` over idx (moved into it), opened by `owner` (may be NULL).
 * NULL when out of memory. */
static scroll_state_t *scroll_state(json_t *body, esindex_t *idx, const char *owner)
{
    scroll_state_t *ss = calloc(1, sizeof *ss);
    json_t *saved = json_copy(body);
    char *who = owner ? strdup(owner) : NULL;
    if (!ss || !saved || (owner && !who)) {
        free(ss);
        free(who);
        json_decref(saved);
        return NULL;
    }
    ss->owner = who;
    json_object_del(saved, "aggs");
    json_object_del(saved, "aggregations");
    ss->body = saved;
    ss->index = *idx;
    *idx = (esindex_t){0};
    return ss;
}

int esops_scroll_open(esreq_t *r, const char *index, const essearch_opts_t *so, int64_t keep_ms, json_t *body)
{
    esindex_t idx = {0};
    search_t *s = NULL;
    scroll_state_t *ss = NULL;
    pit_t *p = NULL;
    int status = scroll_checks(r, body);
    if (status == 0)
        status = esops_resolve(r, index, &so->index, ESOPS_FOR_READ, &idx);
    if (status == 0)
        status = esops_parse(r, SEARCH_SEARCH, body, &s);
    if (status == 0 && !(ss = scroll_state(body, &idx, r->op->owner)))
        status = esops_nomem(r);
    int rc = status ? 0 : pit_open(r->env->pits, PIT_KIND_SCROLL, keep_ms, ss, scroll_state_free, &p);
    if (status == 0 && rc) {
        scroll_state_free(ss);
        status = esops_pit_error(r, rc, "");
    }
    if (status == 0)
        status = scroll_page(r, p, s, true, so->total_as_int);
    search_free(s);
    esindex_free(&idx);
    return status;
}

/* May `owner` continue the scroll? Only the client that opened it (its total was counted under
 * that client's scope), as in Elasticsearch; without access control anyone may. */
static bool same_owner(const scroll_state_t *ss, const char *owner)
{
    return !ss->owner ? !owner : owner && strcmp(ss->owner, owner) == 0;
}

/* The next page's search: the saved one after the last hit (or nothing, once done). */
static int next_search(esreq_t *r, scroll_state_t *ss, search_t **s)
{
    json_t *body = json_copy(ss->body);
    int rc = !body ? -1 : ss->done ? json_object_set_new(body, "size", json_integer(0))
                    : ss->after ? json_object_set(body, "search_after", ss->after) : 0;
    int status = rc ? esops_nomem(r) : esops_parse(r, SEARCH_SEARCH, body, s);
    json_decref(body);
    return status;
}

/* scroll_id and scroll from the body, else the URL (or the path's id). */
static int scroll_request(esreq_t *r, json_t *body, const char **id, const char **keep)
{
    const char *k;
    json_t *v;
    *id = r->op->id ? r->op->id : esparams_get(&r->params, "scroll_id");
    *keep = esparams_get(&r->params, "scroll");
    json_object_foreach(body, k, v) {
        if (strcmp(k, "scroll_id") == 0 && json_is_string(v))
            *id = json_string_value(v);
        else if (strcmp(k, "scroll") == 0 && json_is_string(v))
            *keep = json_string_value(v);
        else if (strcmp(k, "rest_total_hits_as_int") != 0)
            return esops_fail(r, 400, "parsing_exception", "unknown key [%s] in the scroll body; supported: scroll_id, "
                              "scroll", k);
    }
    return *id ? 0 : esops_fail(r, 400, "action_request_validation_exception", "Validation Failed: 1: scrollId is "
                                "missing;");
}

int esops_scroll(esreq_t *r)
{
    json_t *body = NULL;
    const char *id = NULL, *keep_text = NULL;
    int64_t keep = 0;
    bool as_int = false;
    pit_t *p = NULL;
    search_t *s = NULL;
    int status = esops_body(r, &body);
    if (status == 0)
        status = scroll_request(r, body, &id, &keep_text);
    if (status == 0 && keep_text)
        status = esops_keep_alive(r, "scroll", keep_text, &keep);
    if (status == 0 && esparams_bool(&r->params, "rest_total_hits_as_int", false, &as_int, r->err, sizeof r->err) < 0)
        status = esops_fail(r, 400, "illegal_argument_exception", "%s", r->err);
    as_int |= json_is_true(json_object_get(body, "rest_total_hits_as_int"));
    int rc = status ? 0 : pit_acquire(r->env->pits, PIT_KIND_SCROLL, id, strlen(id), keep, &p);
    if (status == 0 && !rc && !same_owner(pit_state(p), r->op->owner)) {
        pit_release(p);   /* another client's scroll: to this one, it does not exist */
        rc = PIT_ERR_MISSING;
    }
    if (status == 0 && rc)
        status = esops_pit_error(r, rc, id);
    if (status == 0 && (status = next_search(r, pit_state(p), &s)) != 0)
        pit_release(p);
    else if (status == 0)
        status = scroll_page(r, p, s, false, as_int);
    search_free(s);
    json_decref(body);
    return status;
}

/* One id (or _all) of a clear; returns how many were freed. */
static size_t clear_one(esreq_t *r, const char *id, size_t len)
{
    if (len == 4 && memcmp(id, "_all", 4) == 0)
        return pit_close_kind(r->env->pits, PIT_KIND_SCROLL);
    return pit_close(r->env->pits, PIT_KIND_SCROLL, id, len) == 0;
}

static size_t clear_list(esreq_t *r, const char *list)
{
    size_t n = 0;
    for (const char *p = list; *p;) {
        size_t w = strcspn(p, ",");
        n += w ? clear_one(r, p, w) : 0;
        p += w;
        p += *p == ',';
    }
    return n;
}

int esops_clear_scroll(esreq_t *r)
{
    json_t *body = NULL, *ids;
    const char *param = r->op->id ? r->op->id : esparams_get(&r->params, "scroll_id");
    size_t freed = 0, i;
    json_t *e;
    int status = esops_body(r, &body);
    if (status)
        return status;
    ids = json_object_get(body, "scroll_id");
    if (!param && !json_is_string(ids) && !json_is_array(ids))
        status = esops_fail(r, 400, "action_request_validation_exception", "Validation Failed: 1: no scroll ids "
                            "specified;");
    if (status == 0 && param)
        freed += clear_list(r, param);
    if (status == 0 && json_is_string(ids))
        freed += clear_one(r, json_string_value(ids), json_string_length(ids));
    json_array_foreach(ids, i, e) {
        if (status == 0 && json_is_string(e))
            freed += clear_one(r, json_string_value(e), json_string_length(e));
    }
    json_decref(body);
    if (status)
        return status;
    bytebuf_printf(r->out, "{\"succeeded\":true,\"num_freed\":%zu}", freed);
    return freed ? 200 : 404;
}
