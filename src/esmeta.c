/* esmeta.c -- the Elasticsearch API's answers about the server and its data rather than
 * searches: the root document (GET /), a document by id (GET /{index}/_doc/{id}), mappings
 * (GET /{index}/_mapping) and the index list (GET /_cat/indices). See esops.h.
 *
 * Mappings are what tools that introspect the server need to find their footing: per feed,
 * published a date; id, type, feed and actor.id keywords; every other field as dynamic mapping
 * would have typed it from the feed's newest activities (up to SAMPLE_PER_FEED of each feed
 * within the newest SAMPLE_SCAN records): strings text with a .keyword field, RFC 3339 strings
 * dates, numbers long or float, booleans boolean, objects their properties. */
#include "esops_int.h"
#include "srcfilter.h"
#include "timefmt.h"
#include "version.h"
#include <stdlib.h>
#include <string.h>

#define SAMPLE_PER_FEED 100
#define SAMPLE_SCAN 50000
#define MAPPING_DEPTH 16            /* deeper objects are left out of mappings */

/* ======================================================================================
 * GET /
 * ====================================================================================== */

int esops_root(esreq_t *r)
{
    bytebuf_t *b = r->out;
    const char *name = r->env->node_name ? r->env->node_name : "activity-stream", *id = store_id(r->env->st);
    bytebuf_appends(b, "{\"name\":");
    bytebuf_append_json_str(b, name, strlen(name));
    bytebuf_appends(b, ",\"cluster_name\":\"activity-stream\",\"cluster_uuid\":");
    bytebuf_append_json_str(b, id, strlen(id));
    bytebuf_appends(b, ",\"version\":{\"number\":\"8.11.0\",\"build_flavor\":\"default\",\"build_type\":"
                       "\"activity-stream\",\"build_hash\":\"activity-stream-" AS_VERSION "\",\"build_date\":"
                       "\"2023-11-04T10:04:57.184859352Z\",\"build_snapshot\":false,\"lucene_version\":\"9.8.0\","
                       "\"minimum_wire_compatibility_version\":\"7.17.0\",\"minimum_index_compatibility_version\":"
                       "\"7.0.0\"},\"tagline\":\"You Know, for Search\"}");
    return 200;
}

/* ======================================================================================
 * GET /{index}/_doc/{id}
 * ====================================================================================== */

typedef struct {
    esreq_t *r;
    const srcfilter_t *f;
    bytebuf_t doc;              /* owned: the first document found */
    char first[STORE_MAX_FEED_LEN + 1], second[STORE_MAX_FEED_LEN + 1];   /* feeds that have it */
    size_t found;
} doc_t;

static int doc_found(const store_rec_t *rec, void *ud)
{
    doc_t *d = ud;
    const query_t *scope = d->r->op->scope;
    if (scope && !query_match(scope, rec))
        return 0;   /* outside the caller's scope: not there */
    char *slot = d->found++ ? d->second : d->first;
    memcpy(slot, rec->feed, rec->feed_len);
    slot[rec->feed_len] = '\0';
    if (d->found > 1)
        return 0;
    bytebuf_appends(&d->doc, "{\"_index\":");
    bytebuf_append_json_str(&d->doc, rec->feed, rec->feed_len);
    bytebuf_appends(&d->doc, ",\"_id\":");
    bytebuf_append_json_str(&d->doc, rec->id, rec->id_len);
    bytebuf_printf(&d->doc, ",\"_version\":1,\"_seq_no\":%llu,\"_primary_term\":1,\"found\":true",
                   (unsigned long long)rec->seq);
    if (!d->f->none) {
        bytebuf_appends(&d->doc, ",\"_source\":");
        srcfilter_put(&d->doc, d->f, rec->json, rec->json_len);
    }
    bytebuf_appendc(&d->doc, '}');
    return 0;
}

/* The feeds a document GET looks in (a list): one named feed, or every feed for the alias of
 * all. */
static int doc_feeds(esreq_t *r, esindex_t *feeds)
{
    const char *expr = r->op->index;
    esindex_t known;
    *feeds = (esindex_t){0};
    int status = esops_known(r, ESOPS_FOR_READ, &known);
    if (status || !esindex_is_single(expr)) {
        *feeds = known;
        return status;
    }
    bool exists = esindex_has(&known, expr, strlen(expr));
    esindex_free(&known);
    if (!exists)
        return eserror_index_missing(r->out, expr);
    return esindex_add(feeds, expr, strlen(expr)) ? esops_nomem(r) : 0;
}

static int doc_answer(esreq_t *r, doc_t *d)
{
    if (d->found > 1)
        return esops_fail(r, 400, "illegal_argument_exception", "alias [%s] has more than one index associated with it "
                          "[%s, %s], can't execute a single index op", r->op->index, d->first, d->second);
    if (d->found && d->doc.failed)
        return esops_nomem(r);
    if (d->found) {
        bytebuf_append(r->out, d->doc.p, d->doc.len);
        return 200;
    }
    bytebuf_appends(r->out, "{\"_index\":");
    bytebuf_append_json_str(r->out, r->op->index, strlen(r->op->index));
    bytebuf_appends(r->out, ",\"_id\":");
    bytebuf_append_json_str(r->out, r->op->id, r->op->id_len);
    bytebuf_appends(r->out, ",\"found\":false}");
    return 404;
}

static int doc_lookup(esreq_t *r, doc_t *d)
{
    esindex_t feeds;
    const char *expr = r->op->index;
    if (!esindex_is_single(expr) && strcmp(expr, ESINDEX_ALL_ALIAS) != 0 && strcmp(expr, "_all") != 0)
        return esops_fail(r, 400, "illegal_argument_exception", "[%s] names several indices; a document GET takes "
                          "one index (a feed id) or the alias [" ESINDEX_ALL_ALIAS "]", expr);
    int status = doc_feeds(r, &feeds);
    for (size_t i = 0; status == 0 && i < feeds.n; i++) {
        int rc = store_get(r->env->st, feeds.feeds[i], r->op->id, r->op->id_len, doc_found, d);
        if (rc < 0 && rc != STORE_ERR_NOTFOUND && rc != STORE_ERR_INVALID)
            status = esops_fail(r, 500, "store_exception", "store failure: %s", store_strerror(rc));
    }
    esindex_free(&feeds);
    return status ? status : doc_answer(r, d);
}

int esops_doc(esreq_t *r)
{
    json_t *want = esparams_source(&r->params);
    srcfilter_t f = {0};
    doc_t d = {.r = r, .f = &f};
    int status = want && srcfilter_parse(&f, want, r->err, sizeof r->err) < 0
                     ? esops_fail(r, 400, "illegal_argument_exception", "%s", r->err)
                     : doc_lookup(r, &d);
    srcfilter_free(&f);
    bytebuf_free(&d.doc);
    json_decref(want);
    return status;
}

/* ======================================================================================
 * GET /{index}/_mapping
 * ====================================================================================== */

static json_t *keyword(void) { return json_pack("{s:s}", "type", "keyword"); }

static json_t *type_of(json_t *v)
{
    int64_t us;
    if (json_is_string(v) && timefmt_parse_rfc3339(json_string_value(v), json_string_length(v), &us, NULL) == 0)
        return json_pack("{s:s}", "type", "date");
    if (json_is_string(v))
        return json_pack("{s:s,s:{s:{s:s,s:i}}}", "type", "text", "fields", "keyword", "type", "keyword",
                         "ignore_above", 256);
    if (json_is_integer(v))
        return json_pack("{s:s}", "type", "long");
    if (json_is_real(v))
        return json_pack("{s:s}", "type", "float");
    return json_is_boolean(v) ? json_pack("{s:s}", "type", "boolean") : NULL;
}

static void infer(json_t *props, json_t *obj, int depth);

/* One field k of value v into props: the first type seen wins, objects merge. */
static void infer_field(json_t *props, const char *k, json_t *v, int depth)
{
    size_t i;
    json_t *e, *have = json_object_get(props, k);
    json_array_foreach(v, i, e)
        infer_field(props, k, e, depth);
    if (json_is_object(v) && !have)
        json_object_set_new(props, k, have = json_pack("{s:{}}", "properties"));
    if (json_is_object(v) && depth < MAPPING_DEPTH)
        infer(json_object_get(have, "properties"), v, depth + 1);
    else if (!have && !json_is_array(v) && !json_is_object(v) && !json_is_null(v))
        json_object_set_new(props, k, type_of(v));
}

static void infer(json_t *props, json_t *obj, int depth)
{
    const char *k;
    json_t *v;
    if (!json_is_object(props))
        return;
    json_object_foreach(obj, k, v)
        infer_field(props, k, v, depth);
}

/* The fields the server reads from its own columns, whatever the activities say. */
static void fixed_fields(json_t *props)
{
    json_t *actor = json_object_get(props, "actor");
    json_object_set_new(props, "id", keyword());
    json_object_set_new(props, "type", keyword());
    json_object_set_new(props, "feed", keyword());
    json_object_set_new(props, "published", json_pack("{s:s}", "type", "date"));
    if (!json_is_object(json_object_get(actor, "properties")))
        json_object_set_new(props, "actor", actor = json_pack("{s:{}}", "properties"));
    json_object_set_new(json_object_get(actor, "properties"), "id", keyword());
}

typedef struct {
    const query_t *scope;
    char **feeds;               /* borrowed: the feeds mapped */
    size_t n;
    json_t **props;             /* borrowed: per feed */
    size_t *sampled;            /* per feed */
    size_t seen, full;          /* records visited; feeds with enough samples */
} sample_t;

static ssize_t feed_slot(const sample_t *s, const char *feed, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->feeds[i]) == len && memcmp(s->feeds[i], feed, len) == 0)
            return (ssize_t)i;
    return -1;
}

static int sample_one(const store_rec_t *rec, void *ud)
{
    sample_t *s = ud;
    ssize_t i = feed_slot(s, rec->feed, rec->feed_len);
    if (++s->seen >= SAMPLE_SCAN)
        return 1;
    if (i < 0 || s->sampled[i] >= SAMPLE_PER_FEED || (s->scope && !query_match(s->scope, rec)))
        return 0;
    json_t *doc = json_loadb(rec->json, rec->json_len, 0, NULL);
    infer(s->props[i], doc, 0);
    json_decref(doc);
    s->full += ++s->sampled[i] == SAMPLE_PER_FEED;
    return s->full == s->n;
}

/* Sample the newest activities of the feeds into props[i]; the store's code. */
static int sample(esreq_t *r, char **feeds, size_t n, json_t **props, size_t *sampled)
{
    sample_t s = {r->op->scope, feeds, n, props, sampled, 0, 0};
    if (!n)
        return 0;
    int rc = store_scan_time_desc(r->env->st, (store_tpos_t){INT64_MAX, UINT64_MAX}, INT64_MIN, 0, 0, sample_one, &s,
                                  NULL);
    return rc < 0 ? rc : 0;
}

/* {"<feed>": {"mappings": {"properties": ...}}, ...} for the feeds of the selection. */
static char *mappings_text(esreq_t *r, char **feeds, size_t n, int *store_rc)
{
    json_t **props = calloc(n ? n : 1, sizeof *props), *all = json_object();
    size_t *sampled = calloc(n ? n : 1, sizeof *sampled);
    bool ok = props && sampled && all;
    for (size_t i = 0; ok && i < n; i++)
        ok = (props[i] = json_object()) != NULL;
    *store_rc = ok ? sample(r, feeds, n, props, sampled) : 0;
    for (size_t i = 0; ok && !*store_rc && i < n; i++) {
        fixed_fields(props[i]);
        ok = json_object_set_new(all, feeds[i], json_pack("{s:{s:O}}", "mappings", "properties", props[i])) == 0;
    }
    char *text = ok && !*store_rc ? json_dumps(all, JSON_COMPACT) : NULL;
    for (size_t i = 0; props && i < n; i++)
        json_decref(props[i]);
    free(props);
    free(sampled);
    json_decref(all);
    return text;
}

static int put_mappings(esreq_t *r, char **feeds, size_t n)
{
    int store_rc;
    char *text = mappings_text(r, feeds, n, &store_rc);
    if (store_rc)
        return esops_fail(r, 500, "store_exception", "store failure: %s", store_strerror(store_rc));
    if (!text)
        return esops_nomem(r);
    bytebuf_appends(r->out, text);
    free(text);
    return 200;
}

/* The feeds of a selection by name, as a list: its own, or every known feed. */
static int selected(esreq_t *r, const char *expr, esindex_t *feeds)
{
    esindex_opts_t io;
    *feeds = (esindex_t){0};
    int status = esops_index_opts(r, &io);
    if (status == 0)
        status = esops_resolve(r, expr, &io, ESOPS_FOR_LISTING, feeds);
    if (status == 0 && feeds->all) {
        esindex_free(feeds);
        return esops_known(r, ESOPS_FOR_LISTING, feeds);
    }
    return status;
}

int esops_mapping(esreq_t *r)
{
    esindex_t feeds;
    int status = selected(r, r->op->index, &feeds);
    if (status == 0)
        status = put_mappings(r, feeds.feeds, feeds.n);
    esindex_free(&feeds);
    return status;
}

/* ======================================================================================
 * GET /_cat/indices
 * ====================================================================================== */

enum { C_HEALTH, C_STATUS, C_INDEX, C_UUID, C_PRI, C_REP, C_COUNT, C_DELETED, C_N };

static const struct {
    const char *name, *aliases;      /* aliases: space-separated */
    bool numeric;
} columns[C_N] = {
    {"health", "h", false},         {"status", "s", false},       {"index", "i idx", false},
    {"uuid", "id", false},          {"pri", "p shards.primary", true}, {"rep", "r shards.replica", true},
    {"docs.count", "dc docsCount", true}, {"docs.deleted", "dd docsDeleted", true},
};

static int column_of(const char *s, size_t n)
{
    for (int c = 0; c < C_N; c++) {
        if (strlen(columns[c].name) == n && memcmp(columns[c].name, s, n) == 0)
            return c;
        for (const char *a = columns[c].aliases; *a;) {
            size_t w = strcspn(a, " ");
            if (w == n && memcmp(a, s, n) == 0)
                return c;
            a += w;
            a += *a == ' ';
        }
    }
    return -1;
}

typedef struct {
    char *index;                    /* borrowed */
    char uuid[23];
    uint64_t count;
} row_t;

typedef struct {
    int cols[C_N];                  /* the columns shown, in order */
    int ncols;
    int sort_col;                   /* -1: by index */
    bool sort_desc, json, header;
} cat_t;

/* A stable 22-character id for the index: the store's id and the feed, hashed. */
static void index_uuid(const char *store, const char *feed, char out[23])
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t h1 = 1469598103934665603ULL, h2 = 0x9e3779b97f4a7c15ULL;
    for (const char *s = store; *s; s++)
        h1 = (h1 ^ (unsigned char)*s) * 1099511628211ULL;
    for (const char *s = feed; *s; s++) {
        h1 = (h1 ^ (unsigned char)*s) * 1099511628211ULL;
        h2 = (h2 ^ (unsigned char)*s) * 0xbf58476d1ce4e5b9ULL;
    }
    for (int i = 0; i < 22; i++) {
        uint64_t *h = i < 11 ? &h1 : &h2;
        out[i] = abc[*h & 63];
        *h >>= 6;
    }
    out[22] = '\0';
}

static void cell(const row_t *row, int c, char *buf, size_t len)
{
    switch (c) {
    case C_HEALTH: snprintf(buf, len, "green"); break;
    case C_STATUS: snprintf(buf, len, "open"); break;
    case C_INDEX: snprintf(buf, len, "%s", row->index); break;
    case C_UUID: snprintf(buf, len, "%s", row->uuid); break;
    case C_PRI: snprintf(buf, len, "1"); break;
    case C_REP: snprintf(buf, len, "0"); break;
    case C_COUNT: snprintf(buf, len, "%llu", (unsigned long long)row->count); break;
    default: snprintf(buf, len, "0"); break;
    }
}

static int cat_opts(esreq_t *r, cat_t *c)
{
    const char *h = esparams_get(&r->params, "h"), *s = esparams_get(&r->params, "s"),
               *fmt = esparams_get(&r->params, "format");
    *c = (cat_t){.sort_col = -1, .json = fmt && strcmp(fmt, "json") == 0};
    if (fmt && !c->json && strcmp(fmt, "text") != 0 && strcmp(fmt, "txt") != 0)
        return esops_fail(r, 400, "illegal_argument_exception", "format [%s] is not supported; use json or text", fmt);
    if (esparams_bool(&r->params, "v", false, &c->header, r->err, sizeof r->err) < 0)
        return esops_fail(r, 400, "illegal_argument_exception", "%s", r->err);
    for (const char *p = h ? h : "health,status,index,uuid,pri,rep,docs.count,docs.deleted"; *p;) {
        size_t w = strcspn(p, ",");
        int col = column_of(p, w);
        if (col < 0 || c->ncols == C_N)
            return esops_fail(r, 400, "illegal_argument_exception", "no column [%.*s] in _cat/indices", (int)w, p);
        c->cols[c->ncols++] = col;
        p += w;
        p += *p == ',';
    }
    if (s) {
        size_t w = strcspn(s, ":,");
        c->sort_col = column_of(s, w);
        c->sort_desc = strncmp(s + w, ":desc", 5) == 0;
        if (c->sort_col < 0)
            return esops_fail(r, 400, "illegal_argument_exception", "no column [%.*s] to sort _cat/indices by", (int)w, s);
    }
    return 0;
}

static int row_cmp(const void *a, const void *b, void *cat)
{
    const row_t *x = a, *y = b;
    const cat_t *c = cat;
    int d = 0;
    if (c->sort_col == C_COUNT)
        d = (x->count > y->count) - (x->count < y->count);
    else if (c->sort_col == C_UUID)
        d = strcmp(x->uuid, y->uuid);
    if (!d)
        d = strcmp(x->index, y->index);
    return c->sort_desc ? -d : d;
}

static void put_json_rows(bytebuf_t *b, const cat_t *c, const row_t *rows, size_t n)
{
    char v[64];
    bytebuf_appendc(b, '[');
    for (size_t i = 0; i < n; i++) {
        bytebuf_appends(b, i ? ",{" : "{");
        for (int k = 0; k < c->ncols; k++) {
            cell(&rows[i], c->cols[k], v, sizeof v);
            bytebuf_printf(b, "%s\"%s\":", k ? "," : "", columns[c->cols[k]].name);
            bytebuf_append_json_str(b, c->cols[k] == C_INDEX ? rows[i].index : v,
                                    strlen(c->cols[k] == C_INDEX ? rows[i].index : v));
        }
        bytebuf_appendc(b, '}');
    }
    bytebuf_appendc(b, ']');
}

static void put_text_rows(bytebuf_t *b, const cat_t *c, const row_t *rows, size_t n)
{
    size_t width[C_N] = {0};
    char v[STORE_MAX_FEED_LEN + 64];
    for (int k = 0; k < c->ncols; k++) {
        width[k] = c->header ? strlen(columns[c->cols[k]].name) : 0;
        for (size_t i = 0; i < n; i++) {
            cell(&rows[i], c->cols[k], v, sizeof v);
            width[k] = strlen(v) > width[k] ? strlen(v) : width[k];
        }
    }
    for (size_t i = 0; i < n + c->header; i++) {
        for (int k = 0; k < c->ncols; k++) {
            bool head = c->header && i == 0, right = columns[c->cols[k]].numeric && !head;
            if (head)
                snprintf(v, sizeof v, "%s", columns[c->cols[k]].name);
            else
                cell(&rows[i - c->header], c->cols[k], v, sizeof v);
            bytebuf_printf(b, "%s%*s", k ? " " : "", right ? (int)width[k] : -(int)width[k], v);
        }
        while (b->len && b->p[b->len - 1] == ' ')
            b->len--;
        bytebuf_appendc(b, '\n');
    }
}

/* The counts within the caller's scope: one scan. */
typedef struct {
    row_t *rows;
    size_t n;
    const query_t *scope;
} scoped_t;

static int count_scoped(const store_rec_t *rec, void *ud)
{
    scoped_t *s = ud;
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->rows[i].index) == rec->feed_len && memcmp(s->rows[i].index, rec->feed, rec->feed_len) == 0)
            s->rows[i].count += query_match(s->scope, rec) != 0;
    return 0;
}

static int cat_rows(esreq_t *r, char **feeds, size_t n, row_t *rows)
{
    for (size_t i = 0; i < n; i++) {
        rows[i].index = feeds[i];
        index_uuid(store_id(r->env->st), feeds[i], rows[i].uuid);
        rows[i].count = r->op->scope ? 0 : store_feed_count(r->env->st, feeds[i]);
    }
    scoped_t s = {rows, n, r->op->scope};
    int rc = s.scope ? store_scan_time(r->env->st, (store_tpos_t){INT64_MIN, 0}, INT64_MAX, 0, 0, count_scoped, &s, NULL)
                     : 0;
    return rc < 0 ? esops_fail(r, 500, "store_exception", "store failure: %s", store_strerror(rc)) : 0;
}

int esops_cat_indices(esreq_t *r)
{
    cat_t c;
    esindex_t feeds = {0};
    const char *health = esparams_get(&r->params, "health");
    int status = cat_opts(r, &c);
    if (status == 0)
        status = selected(r, r->op->index, &feeds);
    size_t shown = health && strcmp(health, "green") != 0 ? 0 : feeds.n;   /* every index is green */
    row_t *rows = status ? NULL : calloc(feeds.n ? feeds.n : 1, sizeof *rows);
    if (status == 0 && !rows)
        status = esops_nomem(r);
    if (status == 0)
        status = cat_rows(r, feeds.feeds, shown, rows);
    if (status == 0) {
        qsort_r(rows, shown, sizeof *rows, row_cmp, &c);
        r->text = !c.json;
        (c.json ? put_json_rows : put_text_rows)(r->out, &c, rows, shown);
        status = 200;
    }
    free(rows);
    esindex_free(&feeds);
    return status;
}
