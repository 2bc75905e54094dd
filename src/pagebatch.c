/* pagebatch.c -- one fetched Activity Streams document to store operations (contract in
 * pagebatch.h).
 *
 * pagescan validates the body in one pass, copies each item minified (the stored form) and
 * leaves a small envelope in which every item is replaced by its index; jansson parses only
 * the envelope and as2_read_page reads it. Each item is checked by as2_read_activity on a
 * stand-in holding just the members it reads (pagescan_standin), and the scanned bytes are
 * what the batch stores.
 *
 * Memory policy: allocation failures are PAGEBATCH_ERR_NOMEM; nothing aborts. */
#include "pagebatch.h"
#include "as2.h"
#include "bytebuf.h"
#include "errfmt.h"
#include "fetch.h"
#include "pagescan.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pagebatch {
    pagescan_t scan;          /* the current document's scan (buffers reused) */
    bytebuf_t types;          /* scratch: the joined types of one item */
};

/* One pagebatch_read call: its arguments, so that the steps take one pointer. */
typedef struct {
    pagebatch_t *pb;
    const char *url;          /* requested (messages, self links) */
    const char *base;         /* after redirects (links, messages about the page) */
    const char *feed;
    size_t feed_len;
    uint64_t gen;
    int64_t now_us;
    store_batch_t *batch;
    pagebatch_result_t *out;
    char *err;
    size_t errlen;
} rd_t;

/* Write the message and return `code`. */
static int fail(const rd_t *rd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const rd_t *rd, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verrfmt(rd->err, rd->errlen, fmt, ap);
    va_end(ap);
    return code;
}

int pagebatch_new(pagebatch_t **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return PAGEBATCH_ERR_NOMEM;
    pagescan_init(&(*out)->scan);
    return 0;
}

void pagebatch_free(pagebatch_t *pb)
{
    if (!pb)
        return;
    pagescan_free(&pb->scan);
    bytebuf_free(&pb->types);
    free(pb);
}

void pagebatch_result_free(pagebatch_result_t *out)
{
    free(out->next);
    out->next = NULL;
}

/* ---- items ---- */

/* The types joined with STORE_TYPE_SEP into pb->types. Returns 0 or -1 (out of memory). */
static int join_types(pagebatch_t *pb, const as2_activity_t *a)
{
    bytebuf_clear(&pb->types);
    for (size_t i = 0; i < a->ntypes; i++) {
        if (i)
            bytebuf_appendc(&pb->types, STORE_TYPE_SEP);
        bytebuf_appends(&pb->types, a->types[i]);
    }
    return pb->types.failed ? -1 : 0;
}

static int add_item(const rd_t *rd, const pagescan_item_t *it, const as2_activity_t *a)
{
    pagebatch_t *pb = rd->pb;
    if (join_types(pb, a) < 0)
        return fail(rd, PAGEBATCH_ERR_NOMEM, "out of memory reading activity %s", a->id);
    store_activity_t sa = {
        .feed = rd->feed, .feed_len = rd->feed_len,
        .id = a->id, .id_len = strlen(a->id),
        .published_us = a->published_us,
        .types = pb->types.p ? pb->types.p : "", .types_len = pb->types.len,
        .actor = a->actor ? a->actor : "", .actor_len = a->actor ? strlen(a->actor) : 0,
        .json = pb->scan.items.p + it->json.off, .json_len = it->json.len,
    };
    int rc = store_batch_upsert(rd->batch, &sa, rd->gen);
    if (rc < 0)
        return fail(rd, PAGEBATCH_ERR_STORE, "store: %s (activity %s)", store_strerror(rc), a->id);
    return 0;
}

/* Item i of a page: the envelope holds the pagescan index; the stand-in is what
 * as2_read_activity reads, the scanned bytes what the store keeps. */
static int add_page_item(const rd_t *rd, const as2_page_t *p, size_t i)
{
    pagescan_t *scan = &rd->pb->scan;
    json_t *index = as2_page_item(p, i);
    json_int_t k = json_integer_value(index);
    if (!json_is_integer(index) || k < 0 || (size_t)k >= scan->nitems)
        return fail(rd, PAGEBATCH_ERR_INTERNAL, "internal error: item %zu has no scanned index", i);
    json_t *item = pagescan_standin(scan, (size_t)k);
    if (!item)
        return fail(rd, PAGEBATCH_ERR_NOMEM, "out of memory reading item %zu", i);
    as2_activity_t a;
    char why[160];
    int rc = 0;
    if (as2_read_activity(item, rd->now_us, &a, why, sizeof why) < 0) {
        if (rd->out->skipped++ == 0)
            snprintf(rd->out->reason, sizeof rd->out->reason, "item %zu: %s", i, why);
    } else if ((rc = add_item(rd, &scan->item[k], &a)) == 0) {
        rd->out->valid++;
    }
    json_decref(item);
    return rc;
}

static int add_items(const rd_t *rd, const as2_page_t *p)
{
    for (size_t i = 0; i < p->nitems; i++) {
        int rc = add_page_item(rd, p, i);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- the document ---- */

static int is_collection_type(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    return (n >= 10 && strcmp(t + n - 10, "Collection") == 0) ||
           (n >= 14 && strcmp(t + n - 14, "CollectionPage") == 0);
}

/* A collection or a page: items or links to follow, or a type that says so. */
static int is_page_like(json_t *doc, const as2_page_t *p)
{
    if (p->items || p->next.url || p->next.page || p->first.url || p->first.page)
        return 1;
    json_t *type = json_object_get(doc, "type"), *t;
    size_t i;
    if (is_collection_type(json_string_value(type)))
        return 1;
    json_array_foreach(type, i, t)
        if (is_collection_type(json_string_value(t)))
            return 1;
    return 0;
}

static const char *type_desc(json_t *doc, char *buf, size_t len)
{
    const char *t = json_string_value(json_object_get(doc, "type"));
    if (t)
        snprintf(buf, len, "type '%.60s'", t);
    else
        snprintf(buf, len, "no type");
    return buf;
}

/* The link to go on with: `next`, or `first` of a collection without items. */
static const as2_link_t *onward(const as2_page_t *p)
{
    if (!p->items && !p->next.url && !p->next.page)
        return &p->first;
    return &p->next;
}

/* Resolve the link to fetch next into out->next (none: NULL). */
static int resolve_next(const rd_t *rd, const as2_link_t *link)
{
    const char *u = as2_link_url(link);
    if (!u)
        return 0;
    rd->out->next = fetch_resolve_url(rd->base, u);
    if (!rd->out->next)
        return fail(rd, PAGEBATCH_ERR_PAGE, "cannot follow link '%.200s' in %s", u, rd->base);
    return 0;
}

/* Read the document: its items and those of embedded pages go into the batch. */
static int read_doc(const rd_t *rd, json_t *root)
{
    json_t *cur = root;
    for (int depth = 0;; depth++) {
        as2_page_t p;
        char why[200];
        if (as2_read_page(cur, &p, why, sizeof why) < 0)
            return fail(rd, PAGEBATCH_ERR_PAGE, "not an Activity Streams page: %s (%s)", why,
                        rd->base);
        if (depth == 0 && !is_page_like(cur, &p))
            return fail(rd, PAGEBATCH_ERR_PAGE, "not an Activity Streams collection or page: %s, "
                        "and no orderedItems, items, first or next (%s)",
                        type_desc(cur, why, sizeof why), rd->base);
        if (p.items) {
            rd->out->has_items = 1;
            int rc = add_items(rd, &p);
            if (rc < 0)
                return rc;
        }
        const as2_link_t *link = onward(&p);
        if (!link->page || depth >= PAGEBATCH_MAX_EMBEDDED)
            return resolve_next(rd, link);
        cur = link->page;
    }
}

/* Scan the body and parse its envelope into *root; on a refusal jansson names the error. */
static int load(const rd_t *rd, const char *body, size_t len, json_t **root)
{
    pagescan_t *scan = &rd->pb->scan;
    json_error_t je;
    int rc = pagescan_run(scan, body, len);
    if (rc == PAGESCAN_NOMEM)
        return fail(rd, PAGEBATCH_ERR_NOMEM, "out of memory reading %s", rd->url);
    if (rc == PAGESCAN_INVALID) {
        json_t *doc = json_loadb(body, len, 0, &je);
        if (!doc)
            return fail(rd, PAGEBATCH_ERR_JSON, "not JSON: %s at line %d column %d (%s)",
                        je.text, je.line, je.column, rd->url);
        json_decref(doc);   /* jansson skips a NUL after a number (pagescan.h): name the byte */
        return fail(rd, PAGEBATCH_ERR_JSON, "not JSON: %s at byte %zu (%s)", scan->err,
                    scan->err_pos, rd->url);
    }
    *root = json_loadb(scan->env.p, scan->env.len, 0, &je);
    if (!*root)
        return fail(rd, PAGEBATCH_ERR_INTERNAL, "cannot read %s: %s", rd->url, je.text);
    return 0;
}

/* A `next` that points back at the document itself ends the walk. */
static void drop_self_link(const rd_t *rd)
{
    char *next = rd->out->next;
    if (next && (strcmp(next, rd->url) == 0 || strcmp(next, rd->base) == 0))
        pagebatch_result_free(rd->out);
}

int pagebatch_read(pagebatch_t *pb, const char *body, size_t len, const char *url,
                   const char *base_url, const char *feed_id, uint64_t gen, int64_t now_us,
                   store_batch_t *batch, pagebatch_result_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    rd_t rd = {
        .pb = pb, .url = url, .base = base_url, .feed = feed_id, .feed_len = strlen(feed_id),
        .gen = gen, .now_us = now_us, .batch = batch, .out = out, .err = err, .errlen = errlen,
    };
    json_t *root = NULL;
    int rc = load(&rd, body, len, &root);
    if (rc < 0)
        return rc;
    rc = read_doc(&rd, root);
    json_decref(root);
    if (rc < 0)
        pagebatch_result_free(out);
    else
        drop_self_link(&rd);
    return rc;
}
