/* feedcursor.c -- the persisted per-feed ingest state and its JSON blob (contract in
 * feedcursor.h). Every setter copies first and replaces only when all copies succeeded, so an
 * allocation failure leaves the cursor as it was. */
#include "feedcursor.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define BLOB_VERSION 1

/* A malloc'd copy of s into *out (NULL stays NULL). Returns 0 or -1 (out of memory). */
static int dup_opt(const char *s, char **out)
{
    *out = s ? strdup(s) : NULL;
    return s && !*out ? -1 : 0;
}

/* Replace *dst with a copy of src (NULL allowed). Returns 0 or FEEDCURSOR_ERR_NOMEM. */
static int replace(char **dst, const char *src)
{
    char *copy;
    if (dup_opt(src, &copy) < 0)
        return FEEDCURSOR_ERR_NOMEM;
    free(*dst);
    *dst = copy;
    return 0;
}

void feedcursor_free(feedcursor_t *c)
{
    if (!c)
        return;
    free(c->sync_next);
    free(c->poll_url);
    free(c->v_url);
    free(c->etag);
    free(c->lm);
    memset(c, 0, sizeof *c);
}

int feedcursor_copy(feedcursor_t *dst, const feedcursor_t *src)
{
    *dst = *src;
    dst->sync_next = dst->poll_url = dst->v_url = dst->etag = dst->lm = NULL;
    if (dup_opt(src->sync_next, &dst->sync_next) < 0 ||
        dup_opt(src->poll_url, &dst->poll_url) < 0 || dup_opt(src->v_url, &dst->v_url) < 0 ||
        dup_opt(src->etag, &dst->etag) < 0 || dup_opt(src->lm, &dst->lm) < 0) {
        feedcursor_free(dst);
        return FEEDCURSOR_ERR_NOMEM;
    }
    return 0;
}

int feedcursor_begin_sync(feedcursor_t *c, const char *url, int64_t now_us)
{
    if (replace(&c->sync_next, url) < 0)
        return FEEDCURSOR_ERR_NOMEM;
    uint64_t top = c->gen > c->sync_gen ? c->gen : c->sync_gen;
    c->sync_gen = top + 1;
    c->sync_pages = c->sync_items = 0;
    c->sync_started_us = now_us;
    return 0;
}

int feedcursor_finish_sync(feedcursor_t *c, const char *poll_url, int64_t now_us,
                           int64_t duration_ms)
{
    if (replace(&c->poll_url, poll_url) < 0)
        return FEEDCURSOR_ERR_NOMEM;
    free(c->sync_next);
    c->sync_next = NULL;
    c->gen = c->sync_gen;
    c->sync_gen = 0;
    c->last = (feedcursor_last_t){
        .has = 1, .started_us = c->sync_started_us, .finished_us = now_us,
        .duration_ms = duration_ms, .pages = c->sync_pages, .items = c->sync_items,
    };
    return 0;
}

int feedcursor_set_poll_url(feedcursor_t *c, const char *url)
{
    return replace(&c->poll_url, url);
}

int feedcursor_set_validators(feedcursor_t *c, const char *url, const char *etag,
                              const char *last_modified)
{
    char *u = NULL, *e = NULL, *l = NULL;
    if (dup_opt(url, &u) < 0 || dup_opt(etag, &e) < 0 || dup_opt(last_modified, &l) < 0) {
        free(u);
        free(e);
        return FEEDCURSOR_ERR_NOMEM;
    }
    feedcursor_clear_validators(c);
    c->v_url = u;
    c->etag = e;
    c->lm = l;
    return 0;
}

void feedcursor_clear_validators(feedcursor_t *c)
{
    free(c->v_url);
    free(c->etag);
    free(c->lm);
    c->v_url = c->etag = c->lm = NULL;
}

/* ---- the blob ---- */

static json_t *last_json(const feedcursor_last_t *l)
{
    if (!l->has)
        return json_null();
    return json_pack("{sIsIsIsIsI}", "started_us", (json_int_t)l->started_us,
                     "finished_us", (json_int_t)l->finished_us,
                     "duration_ms", (json_int_t)l->duration_ms,
                     "pages", (json_int_t)l->pages, "items", (json_int_t)l->items);
}

char *feedcursor_dump(const feedcursor_t *c, const char *feed_url, size_t *len)
{
    json_t *o = json_pack("{sisssIsIss?sIsIsIss?ss?ss?ss?so}", "v", BLOB_VERSION, "url", feed_url,
                          "gen", (json_int_t)c->gen, "sync_gen", (json_int_t)c->sync_gen,
                          "sync_next", c->sync_next, "sync_pages", (json_int_t)c->sync_pages,
                          "sync_items", (json_int_t)c->sync_items,
                          "sync_started_us", (json_int_t)c->sync_started_us,
                          "poll_url", c->poll_url, "v_url", c->v_url, "etag", c->etag,
                          "last_modified", c->lm, "last", last_json(&c->last));
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s)
        *len = strlen(s);
    return s;
}

static uint64_t get_u64(json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t)v : 0;
}

static int get_str(json_t *o, const char *key, char **dst)
{
    return dup_opt(json_string_value(json_object_get(o, key)), dst);
}

static void load_last(json_t *o, feedcursor_last_t *l)
{
    if (!json_is_object(o))
        return;
    *l = (feedcursor_last_t){
        .has = 1, .started_us = (int64_t)get_u64(o, "started_us"),
        .finished_us = (int64_t)get_u64(o, "finished_us"),
        .duration_ms = (int64_t)get_u64(o, "duration_ms"),
        .pages = get_u64(o, "pages"), .items = get_u64(o, "items"),
    };
}

/* The members of object o into the empty cursor *c. Returns 0 or FEEDCURSOR_ERR_NOMEM. */
static int load_object(feedcursor_t *c, json_t *o, const char *feed_url)
{
    c->gen = get_u64(o, "gen");
    c->sync_gen = get_u64(o, "sync_gen");
    c->sync_pages = get_u64(o, "sync_pages");
    c->sync_items = get_u64(o, "sync_items");
    c->sync_started_us = (int64_t)get_u64(o, "sync_started_us");
    load_last(json_object_get(o, "last"), &c->last);
    if (get_str(o, "sync_next", &c->sync_next) < 0)
        return FEEDCURSOR_ERR_NOMEM;
    const char *was = json_string_value(json_object_get(o, "url"));
    if (!was || strcmp(was, feed_url) != 0)
        return 0; /* another source: no poll URL, no validators */
    if (get_str(o, "poll_url", &c->poll_url) < 0 || get_str(o, "v_url", &c->v_url) < 0 ||
        get_str(o, "etag", &c->etag) < 0 || get_str(o, "last_modified", &c->lm) < 0)
        return FEEDCURSOR_ERR_NOMEM;
    return 0;
}

int feedcursor_load(feedcursor_t *c, const void *blob, size_t len, const char *feed_url)
{
    json_error_t je;
    json_t *o = json_loadb(blob, len, 0, &je);
    int rc = json_is_object(o) ? load_object(c, o, feed_url) : FEEDCURSOR_ERR_INVALID;
    json_decref(o);
    if (rc < 0)
        feedcursor_free(c);
    return rc;
}
