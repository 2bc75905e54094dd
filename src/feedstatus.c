/* feedstatus.c -- the per-feed status board behind /feeds and /metrics (contract in
 * feedstatus.h): an array of records and the one mutex that guards them. Updates copy small
 * values under the lock; readers copy a record out and build JSON outside it. */
#include "feedstatus.h"
#include "timefmt.h"
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct feedstatus {
    pthread_mutex_t mu;            /* guards feed[] */
    const config_feed_t *cfg;      /* borrowed array of n */
    feedstatus_feed_t *feed;       /* owned array of n */
    size_t n;
};

int feedstatus_new(feedstatus_t **out, const config_feed_t *feeds, size_t nfeeds)
{
    *out = NULL;
    feedstatus_t *fs = calloc(1, sizeof *fs);
    if (!fs)
        return FEEDSTATUS_ERR_NOMEM;
    fs->feed = nfeeds ? calloc(nfeeds, sizeof *fs->feed) : NULL;
    if (nfeeds && !fs->feed) {
        free(fs);
        return FEEDSTATUS_ERR_NOMEM;
    }
    pthread_mutex_init(&fs->mu, NULL);
    fs->cfg = feeds;
    fs->n = nfeeds;
    *out = fs;
    return 0;
}

void feedstatus_free(feedstatus_t *fs)
{
    if (!fs)
        return;
    pthread_mutex_destroy(&fs->mu);
    free(fs->feed);
    free(fs);
}

/* Feed i with the lock held; pair with unlock(). */
static feedstatus_feed_t *lock(feedstatus_t *fs, size_t i)
{
    pthread_mutex_lock(&fs->mu);
    return &fs->feed[i];
}

static void unlock(feedstatus_t *fs)
{
    pthread_mutex_unlock(&fs->mu);
}

/* ---- updates ---- */

void feedstatus_set_state(feedstatus_t *fs, size_t i, int state, unsigned failures,
                          const feedcursor_last_t *last)
{
    feedstatus_feed_t *s = lock(fs, i);
    s->state = state;
    s->failures = failures;
    if (!failures)
        s->next_retry_us = 0;
    s->last = *last;
    unlock(fs);
}

void feedstatus_fetched(feedstatus_t *fs, size_t i, size_t bytes, int64_t poll_us)
{
    feedstatus_feed_t *s = lock(fs, i);
    s->pages++;
    s->bytes += bytes;
    if (poll_us)
        s->last_poll_us = poll_us;
    unlock(fs);
}

void feedstatus_failed(feedstatus_t *fs, size_t i, const char *msg, int64_t at_us,
                       int64_t next_retry_us)
{
    feedstatus_feed_t *s = lock(fs, i);
    snprintf(s->last_error, sizeof s->last_error, "%s", msg);
    s->last_error_us = at_us;
    s->next_retry_us = next_retry_us;
    s->errors++;
    unlock(fs);
}

void feedstatus_skipped(feedstatus_t *fs, size_t i, size_t n, const char *reason,
                        const char *url, int64_t at_us)
{
    feedstatus_feed_t *s = lock(fs, i);
    s->skipped += n;
    snprintf(s->last_skip, sizeof s->last_skip, "%s (%s)", reason, url);
    s->last_skip_us = at_us;
    unlock(fs);
}

void feedstatus_written(feedstatus_t *fs, size_t i, uint64_t n)
{
    lock(fs, i)->written += n;
    unlock(fs);
}

void feedstatus_full_sync_done(feedstatus_t *fs, size_t i)
{
    lock(fs, i)->full_syncs++;
    unlock(fs);
}

void feedstatus_get(feedstatus_t *fs, size_t i, feedstatus_feed_t *out)
{
    *out = *lock(fs, i);
    unlock(fs);
}

/* ---- /feeds ---- */

static json_t *json_time(int64_t us)
{
    char buf[TIMEFMT_RFC3339_MAX];
    if (!us)
        return json_null();
    timefmt_format_rfc3339(us, buf);
    return json_string(buf);
}

static const char *state_name(int state)
{
    return state == FEEDSTATUS_FAILING ? "failing" : state == FEEDSTATUS_OK ? "ok" : "syncing";
}

static const char *style_name(feed_style_t s)
{
    return s == FEED_STYLE_OUTBOX ? "outbox" : "activity-stream";
}

/* {"message","at"} or null when at_us is 0. */
static json_t *message_json(const char *msg, int64_t at_us)
{
    return at_us ? json_pack("{ssso}", "message", msg, "at", json_time(at_us)) : json_null();
}

static json_t *last_sync_json(const feedcursor_last_t *l)
{
    if (!l->has)
        return json_null();
    return json_pack("{soso sI sI sI}", "started", json_time(l->started_us),
                     "finished", json_time(l->finished_us),
                     "duration_ms", (json_int_t)l->duration_ms,
                     "pages", (json_int_t)l->pages, "activities", (json_int_t)l->items);
}

static json_t *feed_json(const config_feed_t *c, const feedstatus_feed_t *s, uint64_t activities)
{
    return json_pack("{sssssssssIsososo sIso sIsosIsI}", "id", c->id, "url", c->url,
                     "style", style_name(c->style), "state", state_name(s->state),
                     "activities", (json_int_t)activities,
                     "last_full_sync", last_sync_json(&s->last),
                     "last_poll", json_time(s->last_poll_us),
                     "last_error", message_json(s->last_error, s->last_error_us),
                     "consecutive_failures", (json_int_t)s->failures,
                     "next_retry", json_time(s->failures ? s->next_retry_us : 0),
                     "skipped_items", (json_int_t)s->skipped,
                     "last_skipped", message_json(s->last_skip, s->last_skip_us),
                     "pages_fetched", (json_int_t)s->pages, "bytes_fetched", (json_int_t)s->bytes);
}

char *feedstatus_json(feedstatus_t *fs, store_t *st)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < fs->n; i++) {
        feedstatus_feed_t s;
        feedstatus_get(fs, i, &s);
        json_t *o = feed_json(&fs->cfg[i], &s, store_feed_count(st, fs->cfg[i].id));
        if (!o || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    char *out = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return out;
}
