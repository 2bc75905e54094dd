/* ingest.c -- the ingest thread: pulls every configured feed into the store (its only writer)
 * with one libcurl multi loop, one small state machine per feed.
 *
 * Per feed, at most one request is in flight. Between requests the scheduler picks, in this
 * order: the next page of a running poll walk; a poll when it is due; the next page of the
 * running full sync; a new full sync when it is due. A full sync therefore never holds up
 * polling for more than one page, and polls never wait for a sync to finish.
 *
 * Newer data is never undone: requests of a feed are strictly sequential and responses are
 * committed in the order they were requested, so the store applies the source's states in
 * the order they were observed; a page fetched later always reflects the source at a later
 * time and simply wins (byte-identical upserts are no-ops). No poll commit counter is needed
 * because a full-sync page is never in flight while a poll commits. The one overlap: while a
 * sync page commits (an fsync), the request for the next sync page is already sent when no
 * poll is due -- still one request in flight, and still committed after the page before it.
 *
 * Reading a response is pagebatch's (pagebatch.h): the body becomes the batch's upserts, the
 * next URL and a count of skipped invalid items, which are logged once per page (identical
 * lines at most once a minute) and shown in /feeds (feedstatus.h).
 *
 * Generations: a full sync runs under gen = max(last completed, last started) + 1 and stamps
 * every item it sees; polls stamp with the running sync's generation (else the last completed
 * one), so an item first seen by a poll during a sync is not swept by it. The sweep starts in
 * the same transaction as the last page and deletes at most SWEEP_CHUNK activities per
 * transaction; what remains is swept in further transactions between other work, so a source
 * that deleted 100,000 records does not hold the writer (and every other feed) for seconds.
 * A crash in between is harmless: every start begins with a full sync, whose sweep finishes
 * the job.
 *
 * Retention: the writer is also the one to prune (store_prune), a short transaction at a time
 * about once a second, or back to back while more is due.
 *
 * Each response is one store batch: its items plus the feed's cursor (feedcursor.h, the
 * persisted state serialized as JSON). At start every feed begins a new full sync from its
 * url, so a kill -9 at any moment only repeats upserts of the same bytes (no-ops, no events).
 * A failure during a full sync deletes nothing and marks the feed failing; after the backoff
 * the sync resumes from the page that failed when the failure was transient (transport
 * error, 5xx, 408, 429), and starts over under a new generation otherwise (another 4xx, a
 * document error, a store error), since a cursor URL may have expired.
 *
 * Conditional GETs use the validators of one "anchor" URL: for the activity-stream style the
 * last page (the poll URL); for the outbox style the first document of a walk that holds
 * items (the collection when `first` is embedded, else the first page).
 *
 * Memory policy: allocation failures become feed errors (retried with backoff) or a failed
 * ingest_start; nothing aborts. */
#include "ingest.h"
#include "clock.h"
#include "errfmt.h"
#include "feedcursor.h"
#include "feedstatus.h"
#include "fetch.h"
#include "log.h"
#include "pagebatch.h"
#include "timefmt.h"
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOD "ingest"
#define BACKOFF_BASE_MS 1000
#define BACKOFF_MAX_MS 300000
#define RETRY_AFTER_MAX_MS 3600000
#define ERROR_LOG_INTERVAL_MS 60000
#define MAX_WAIT_MS 1000
#define HEALTH_STALE_MS 120000
#define ERR_MAX 512
#define SWEEP_CHUNK 2000          /* activities deleted per sweep transaction */
#define PRUNE_INTERVAL_MS 1000

typedef enum { REQ_NONE = 0, REQ_SYNC, REQ_POLL } req_t;

/* Identical warn lines at most once a minute. */
typedef struct {
    char last[ERR_MAX];
    int64_t at_ms;
    unsigned suppressed;
} ratelog_t;

typedef struct {
    const config_feed_t *cfg; /* borrowed */
    size_t idx;               /* in the configuration and the status board */
    fetch_t *fetch;           /* owned */
    req_t inflight;
    feedcursor_t cur;         /* as last committed */
    int sync_restart;         /* the next sync attempt starts over under a new generation */
    int sync_anchor;          /* the running sync recorded the outbox anchor's validators */
    int64_t sync_started_ms;  /* monotonic */
    int poll_active;          /* a poll walk is between pages */
    char *poll_next;          /* owned: next URL of the poll walk */
    int poll_anchor;          /* the current poll walk recorded the anchor's validators */
    int64_t next_sync_ms, next_poll_ms, retry_ms; /* monotonic deadlines */
    unsigned failures;
    uint64_t sweep_gen;       /* a sweep of generations below this one is under way (0: none) */
    size_t swept;             /* activities that sweep deleted so far */
    ratelog_t err_log;        /* feed errors */
    ratelog_t skip_log;       /* skipped invalid items */
} feed_t;

struct ingest {
    const config_t *cfg;      /* borrowed */
    store_t *st;              /* borrowed */
    CURLM *multi;             /* owned */
    store_batch_t *batch;     /* owned; reused for every response */
    pagebatch_t *reader;      /* owned; reads every response (buffers reused) */
    feedstatus_t *status;     /* owned; what /feeds and /metrics show */
    feed_t *feeds;            /* owned array */
    size_t nfeeds;
    pthread_t thread;
    int thread_started;
    atomic_int stop;
    atomic_int alive;
    atomic_llong heartbeat_ms;
    uint64_t rng;             /* xorshift state for jitter (ingest thread only) */
    int64_t next_prune_ms;    /* monotonic */
};

/* ---- small helpers ---- */

static uint64_t next_rand(ingest_t *ing)
{
    uint64_t x = ing->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return ing->rng = x;
}

/* Exponential backoff with jitter: base 1 s doubling per failure up to 5 min; the delay is
 * uniform in [base/2, base]. */
static int64_t backoff_ms(ingest_t *ing, unsigned failures)
{
    unsigned shift = failures > 0 ? failures - 1 : 0;
    int64_t base = shift >= 20 ? BACKOFF_MAX_MS : (int64_t)BACKOFF_BASE_MS << shift;
    if (base > BACKOFF_MAX_MS)
        base = BACKOFF_MAX_MS;
    return base / 2 + (int64_t)(next_rand(ing) % (uint64_t)(base / 2 + 1));
}

/* Remember the validators of the response `res` in cursor c. Returns 0 or -1 (out of memory). */
static int set_validators(feedcursor_t *c, const fetch_result_t *res)
{
    return feedcursor_set_validators(c, res->url, res->etag, res->last_modified) < 0 ? -1 : 0;
}

/* ---- status ---- */

static int feed_state(const feed_t *f)
{
    if (f->failures > 0)
        return FEEDSTATUS_FAILING;
    return f->cur.sync_gen || f->sync_restart ? FEEDSTATUS_SYNCING : FEEDSTATUS_OK;
}

static void status_refresh(ingest_t *ing, feed_t *f)
{
    feedstatus_set_state(ing->status, f->idx, feed_state(f), f->failures, &f->cur.last);
}


/* One warn line per message; identical repeats at most once a minute (per feed and kind). */
static void rate_log(ratelog_t *rl, const char *feed, const char *msg)
{
    int64_t now = clock_mono_ms();
    int same = strcmp(msg, rl->last) == 0;
    if (same && now - rl->at_ms < ERROR_LOG_INTERVAL_MS) {
        rl->suppressed++;
        return;
    }
    if (same && rl->suppressed)
        log_warn(MOD, "feed %s: %s (%u more times in the last minute)", feed, msg, rl->suppressed);
    else
        log_warn(MOD, "feed %s: %s", feed, msg);
    snprintf(rl->last, sizeof rl->last, "%s", msg);
    rl->at_ms = now;
    rl->suppressed = 0;
}

/* ---- failures ---- */

/* Leave the poll walk (finished or abandoned). */
static void end_poll_walk(feed_t *f)
{
    f->poll_active = 0;
    f->poll_anchor = 0;
    free(f->poll_next);
    f->poll_next = NULL;
}

/* Abandon the poll walk; the anchor validators it recorded may describe a page whose
 * successors were not read, so they are dropped (the next poll fetches unconditionally). */
static void abort_poll(feed_t *f)
{
    if (f->poll_active && f->poll_anchor)
        feedcursor_clear_validators(&f->cur);
    end_poll_walk(f);
}

/* A feed error: back off (or honour Retry-After), mark failing, log (rate-limited). A
 * non-transient failure of a sync page makes the next attempt start a new full sync. */
static void feed_fail(ingest_t *ing, feed_t *f, req_t kind, const char *msg,
                      int64_t retry_after_ms, int transient)
{
    int64_t now = clock_mono_ms();
    f->failures++;
    int64_t delay = retry_after_ms >= 0 ? retry_after_ms : backoff_ms(ing, f->failures);
    if (delay > RETRY_AFTER_MAX_MS)
        delay = RETRY_AFTER_MAX_MS;
    f->retry_ms = now + delay;
    if (kind == REQ_POLL)
        abort_poll(f);
    if (kind == REQ_SYNC && !transient)
        f->sync_restart = 1;
    rate_log(&f->err_log, f->cfg->id, msg);
    int64_t wall = timefmt_now_us();
    feedstatus_failed(ing->status, f->idx, msg, wall, wall + delay * 1000);
    status_refresh(ing, f);
}

static void feed_ok(ingest_t *ing, feed_t *f)
{
    f->failures = 0;
    f->retry_ms = 0;
    status_refresh(ing, f);
}

/* ---- reading and committing ---- */

/* Skipped items, for the log and /feeds; `url` names the page. */
static void note_skips(ingest_t *ing, feed_t *f, const pagebatch_result_t *pg, const char *url)
{
    char msg[ERR_MAX];
    snprintf(msg, sizeof msg, "skipped %zu invalid item%s in %s (first: %s)", pg->skipped,
             pg->skipped == 1 ? "" : "s", url, pg->reason);
    rate_log(&f->skip_log, f->cfg->id, msg);
    feedstatus_skipped(ing->status, f->idx, pg->skipped, pg->reason, url, timefmt_now_us());
}

/* Read the body into the (empty) batch; *pg gets what it held (pg->next owned). */
static int parse_response(ingest_t *ing, feed_t *f, const fetch_result_t *res, uint64_t gen,
                          pagebatch_result_t *pg, char *err, size_t errlen)
{
    store_batch_reset(ing->batch);
    int rc = pagebatch_read(ing->reader, res->body, res->len, res->url, res->effective_url,
                            f->cfg->id, gen, timefmt_now_us(), ing->batch, pg, err, errlen);
    if (rc < 0)
        return -1;
    if (pg->skipped)
        note_skips(ing, f, pg, res->url);
    return 0;
}

/* Commit the batch with cursor *c as the feed's state; on success *c becomes f->cur (and *c is
 * left empty) and the written activities are counted. */
static int commit(ingest_t *ing, feed_t *f, feedcursor_t *c, store_batch_stats_t *stats,
                  char *err, size_t errlen)
{
    size_t len = 0;
    char *blob = feedcursor_dump(c, f->cfg->url, &len);
    if (!blob) {
        store_batch_reset(ing->batch);
        return errfmt(err, errlen, "out of memory serializing the feed state");
    }
    int rc = store_batch_put_feed_state(ing->batch, f->cfg->id, blob, len);
    free(blob);
    if (rc == 0)
        rc = store_batch_commit(ing->batch, stats);
    else
        store_batch_reset(ing->batch);
    if (rc < 0)
        return errfmt(err, errlen, "store commit failed: %s", store_strerror(rc));
    feedcursor_free(&f->cur);
    f->cur = *c;
    memset(c, 0, sizeof *c);
    feedstatus_written(ing->status, f->idx, stats->inserted + stats->updated);
    return 0;
}

/* ---- requests ---- */

/* Put a GET of url in flight (conditional when url is the anchor of a poll). */
static int launch(ingest_t *ing, feed_t *f, req_t kind, const char *url, char *err,
                  size_t errlen)
{
    const char *etag = NULL, *lm = NULL;
    if (kind == REQ_POLL && f->cur.v_url && strcmp(url, f->cur.v_url) == 0) {
        etag = f->cur.etag;
        lm = f->cur.lm;
    }
    CURL *easy = fetch_prepare(f->fetch, url, etag, lm, err, errlen);
    if (!easy)
        return -1;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)f);
    if (curl_multi_add_handle(ing->multi, easy) != CURLM_OK)
        return errfmt(err, errlen, "libcurl refused the request for %s", url);
    f->inflight = kind;
    return 0;
}

/* Abandon the request in flight, if any. */
static void cancel(ingest_t *ing, feed_t *f)
{
    if (!f->inflight)
        return;
    curl_multi_remove_handle(ing->multi, fetch_handle(f->fetch));
    f->inflight = REQ_NONE;
}

/* While a sync page commits (an fsync), let the source produce the next one: the request is
 * sent now and read after the commit. Only when no poll is due, so polls keep their turn.
 * Still one request in flight: the previous one has completed. */
static void prefetch(ingest_t *ing, feed_t *f, const char *next)
{
    char err[ERR_MAX];
    int running;
    if (atomic_load(&ing->stop) || (f->cur.poll_url && clock_mono_ms() >= f->next_poll_ms))
        return;
    if (launch(ing, f, REQ_SYNC, next, err, sizeof err) == 0)
        curl_multi_perform(ing->multi, &running);
}

/* ---- full sync ---- */

static int start_sync(ingest_t *ing, feed_t *f)
{
    if (feedcursor_begin_sync(&f->cur, f->cfg->url, timefmt_now_us()) < 0)
        return -1;
    f->sync_started_ms = clock_mono_ms();
    f->sync_restart = 0;
    f->sync_anchor = 0;
    log_info(MOD, "feed %s: full sync %" PRIu64 " started (%s)", f->cfg->id, f->cur.sync_gen,
             f->cfg->url);
    status_refresh(ing, f);
    return 0;
}

/* Fold the finished sync into the cursor: sweep, new generation, poll URL (and for the
 * activity-stream style the validators of that last page), summary. */
static int finish_sync(ingest_t *ing, feed_t *f, feedcursor_t *nc, const fetch_result_t *res,
                       char *err, size_t errlen)
{
    int rc = store_batch_sweep_some(ing->batch, f->cfg->id, nc->sync_gen, SWEEP_CHUNK);
    if (rc < 0)
        return errfmt(err, errlen, "store: %s (sweep)", store_strerror(rc));
    int outbox = f->cfg->style == FEED_STYLE_OUTBOX;
    if (!outbox && set_validators(nc, res) < 0)
        return errfmt(err, errlen, "out of memory");
    if (feedcursor_finish_sync(nc, outbox ? f->cfg->url : res->url, timefmt_now_us(),
                               clock_mono_ms() - f->sync_started_ms) < 0)
        return errfmt(err, errlen, "out of memory");
    return 0;
}

/* The sync and its sweep are complete. */
static void sync_finished(ingest_t *ing, feed_t *f)
{
    int64_t now = clock_mono_ms();
    const config_feed_t *c = f->cfg;
    log_info(MOD, "feed %s: full sync %" PRIu64 " finished: %" PRIu64 " pages, %" PRIu64
             " activities, %zu deleted, %" PRId64 " ms", c->id, f->cur.gen, f->cur.last.pages,
             f->cur.last.items, f->swept, f->cur.last.duration_ms);
    f->sweep_gen = 0;
    f->next_sync_ms = c->full_sync_interval_ms > 0 ? now + c->full_sync_interval_ms : INT64_MAX;
    feedstatus_full_sync_done(ing->status, f->idx);
}

/* The last page committed with the first piece of the sweep: finish now, or sweep on. */
static void sweep_started(ingest_t *ing, feed_t *f, const store_batch_stats_t *stats)
{
    f->swept = stats->deleted;
    f->sweep_gen = f->cur.gen;
    if (!stats->sweep_more) {
        sync_finished(ing, f);
        return;
    }
    f->next_sync_ms = INT64_MAX;   /* no new sync before this one's sweep is done */
    log_info(MOD, "feed %s: full sync %" PRIu64 ": sweeping deleted activities in the background",
             f->cfg->id, f->cur.gen);
}

/* One more piece of a running sweep, in a transaction of its own. */
static void sweep_step(ingest_t *ing, feed_t *f)
{
    store_batch_stats_t stats;
    store_batch_reset(ing->batch);
    int rc = store_batch_sweep_some(ing->batch, f->cfg->id, f->sweep_gen, SWEEP_CHUNK);
    if (rc == 0)
        rc = store_batch_commit(ing->batch, &stats);
    if (rc < 0) {   /* the next full sync sweeps again */
        char msg[ERR_MAX];
        snprintf(msg, sizeof msg, "store: %s (sweep)", store_strerror(rc));
        feed_fail(ing, f, REQ_NONE, msg, -1, 1);
        f->sweep_gen = 0;
        f->next_sync_ms = clock_mono_ms();
        return;
    }
    f->swept += stats.deleted;
    if (!stats.sweep_more)
        sync_finished(ing, f);
}

static int on_sync_page(ingest_t *ing, feed_t *f, const fetch_result_t *res, char *err,
                        size_t errlen)
{
    pagebatch_result_t pg = {0};
    feedcursor_t nc;
    store_batch_stats_t stats = {0};
    int done = 0, rc = -1;
    if (feedcursor_copy(&nc, &f->cur) < 0)
        return errfmt(err, errlen, "out of memory");
    if (parse_response(ing, f, res, nc.sync_gen, &pg, err, errlen) < 0)
        goto out;
    nc.sync_pages++;
    nc.sync_items += pg.valid;
    int anchor = f->cfg->style == FEED_STYLE_OUTBOX && !f->sync_anchor && pg.has_items;
    if (anchor && set_validators(&nc, res) < 0) {
        errfmt(err, errlen, "out of memory");
        goto out;
    }
    if (pg.next) {
        free(nc.sync_next);
        nc.sync_next = pg.next;
        pg.next = NULL;
        prefetch(ing, f, nc.sync_next); /* reuses the fetch slot: `res` is gone after this */
    } else {
        if (finish_sync(ing, f, &nc, res, err, errlen) < 0)
            goto out;
        done = 1;
    }
    if (commit(ing, f, &nc, &stats, err, errlen) < 0) {
        cancel(ing, f);
        goto out;
    }
    f->sync_anchor |= anchor;
    if (done)
        sweep_started(ing, f, &stats);
    rc = 0;
out:
    store_batch_reset(ing->batch);
    feedcursor_free(&nc);
    pagebatch_result_free(&pg);
    return rc;
}

/* ---- polls ---- */

static int start_poll(feed_t *f)
{
    const char *url = f->cfg->style == FEED_STYLE_OUTBOX ? f->cfg->url : f->cur.poll_url;
    char *copy = strdup(url);
    if (!copy)
        return -1;
    free(f->poll_next);
    f->poll_next = copy;
    f->poll_active = 1;
    f->poll_anchor = 0;
    return 0;
}

static void poll_finished(ingest_t *ing, feed_t *f)
{
    end_poll_walk(f);
    f->next_poll_ms = clock_mono_ms() + (f->cfg->poll_interval_ms > 0 ? f->cfg->poll_interval_ms : 1000);
}

/* Decide the poll's next step before the commit: the activity-stream style follows `next`
 * to the page without one, which becomes the poll URL (and the anchor). */
static int poll_plan_as(feedcursor_t *nc, const fetch_result_t *res, const pagebatch_result_t *pg)
{
    if (pg->next)
        return 0;
    if (feedcursor_set_poll_url(nc, res->url) < 0 || set_validators(nc, res) < 0)
        return -1;
    return 0;
}

static int on_poll_page(ingest_t *ing, feed_t *f, const fetch_result_t *res, char *err,
                        size_t errlen)
{
    pagebatch_result_t pg = {0};
    feedcursor_t nc;
    store_batch_stats_t stats = {0};
    int rc = -1, outbox = f->cfg->style == FEED_STYLE_OUTBOX, anchor = 0;
    if (feedcursor_copy(&nc, &f->cur) < 0)
        return errfmt(err, errlen, "out of memory");
    uint64_t gen = nc.sync_gen ? nc.sync_gen : nc.gen;
    if (parse_response(ing, f, res, gen, &pg, err, errlen) < 0)
        goto out;
    if (outbox) {
        anchor = !f->poll_anchor && pg.has_items;
        if (anchor && set_validators(&nc, res) < 0)
            goto nomem;
    } else if (poll_plan_as(&nc, res, &pg) < 0) {
        goto nomem;
    }
    if (commit(ing, f, &nc, &stats, err, errlen) < 0)
        goto out;
    f->poll_anchor |= anchor;
    /* outbox: stop at the end or at a page whose items were all already there, unchanged */
    int stop = !pg.next || (outbox && pg.has_items && stats.unchanged >= pg.valid);
    if (stop) {
        poll_finished(ing, f);
    } else {
        free(f->poll_next);
        f->poll_next = pg.next;
        pg.next = NULL;
    }
    rc = 0;
    goto out;
nomem:
    errfmt(err, errlen, "out of memory");
out:
    store_batch_reset(ing->batch);
    feedcursor_free(&nc);
    pagebatch_result_free(&pg);
    return rc;
}

/* ---- responses ---- */

static int is_transient_status(long status)
{
    return status >= 500 || status == 408 || status == 429;
}

static void on_http_error(ingest_t *ing, feed_t *f, req_t kind, const fetch_result_t *res)
{
    char msg[ERR_MAX], excerpt[120];
    int64_t retry = -1;
    if (res->status == 429 || res->status == 503)
        retry = res->retry_after_ms;
    fetch_body_excerpt(res, excerpt, sizeof excerpt);
    if (retry >= 0)
        snprintf(msg, sizeof msg, "HTTP %ld from %s (retry after %" PRId64 " ms)", res->status,
                 res->url, retry);
    else if (excerpt[0])
        snprintf(msg, sizeof msg, "HTTP %ld from %s: %s", res->status, res->url, excerpt);
    else
        snprintf(msg, sizeof msg, "HTTP %ld from %s", res->status, res->url);
    feed_fail(ing, f, kind, msg, retry, is_transient_status(res->status));
}

static void on_done(ingest_t *ing, feed_t *f, CURLcode code)
{
    req_t kind = f->inflight;
    fetch_result_t res;
    char err[ERR_MAX];
    f->inflight = REQ_NONE;
    if (fetch_result(f->fetch, code, &res, err, sizeof err) < 0) {
        feed_fail(ing, f, kind, err, -1, 1);
        return;
    }
    feedstatus_fetched(ing->status, f->idx, res.len, kind == REQ_POLL ? timefmt_now_us() : 0);
    if (res.status == 304 && kind == REQ_POLL) {
        poll_finished(ing, f);
        feed_ok(ing, f);
        return;
    }
    if (res.status < 200 || res.status > 299) {
        on_http_error(ing, f, kind, &res);
        return;
    }
    int rc = kind == REQ_SYNC ? on_sync_page(ing, f, &res, err, sizeof err)
                              : on_poll_page(ing, f, &res, err, sizeof err);
    if (rc < 0)
        feed_fail(ing, f, kind, err, -1, 0);
    else
        feed_ok(ing, f);
}

/* ---- scheduling ---- */

static void start_request(ingest_t *ing, feed_t *f, req_t kind, const char *url)
{
    char err[ERR_MAX];
    if (launch(ing, f, kind, url, err, sizeof err) < 0)
        feed_fail(ing, f, kind, err, -1, 0);
}

/* Start the feed's next request if one is due. Returns how long (ms) until the feed next
 * needs attention (INT64_MAX while a request is in flight). */
static int64_t schedule_feed(ingest_t *ing, feed_t *f, int64_t now)
{
    if (f->inflight)
        return INT64_MAX;
    if (now < f->retry_ms)
        return f->retry_ms - now;
    req_t kind = REQ_POLL;
    if (f->poll_active) {
        /* continue the poll walk */
    } else if (f->cur.poll_url && now >= f->next_poll_ms) {
        if (start_poll(f) < 0)
            goto nomem;
    } else if (f->cur.sync_gen && !f->sync_restart) {
        kind = REQ_SYNC;
    } else if (f->sync_restart || now >= f->next_sync_ms) {
        if (start_sync(ing, f) < 0)
            goto nomem;
        kind = REQ_SYNC;
    } else {
        int64_t t = f->next_sync_ms;
        if (f->cur.poll_url && f->next_poll_ms < t)
            t = f->next_poll_ms;
        return t - now;
    }
    start_request(ing, f, kind, kind == REQ_POLL ? f->poll_next : f->cur.sync_next);
    return f->inflight ? INT64_MAX : f->retry_ms - now;
nomem:
    feed_fail(ing, f, REQ_NONE, "out of memory", -1, 1);
    return f->retry_ms - now;
}

/* Handle finished transfers. Returns how many. */
static int drain(ingest_t *ing)
{
    int n = 0, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(ing->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode code = m->data.result;
        feed_t *f = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&f);
        curl_multi_remove_handle(ing->multi, easy);
        if (f && !atomic_load(&ing->stop))
            on_done(ing, f, code);
        else if (f)
            f->inflight = REQ_NONE;
        n++;
    }
    return n;
}

/* Store upkeep between requests: one piece of each running sweep, and pruning when due.
 * Returns how long (ms) until it wants to run again. */
static int64_t upkeep(ingest_t *ing, int64_t now)
{
    int64_t wait = MAX_WAIT_MS;
    for (size_t i = 0; i < ing->nfeeds; i++) {
        if (ing->feeds[i].sweep_gen) {
            sweep_step(ing, &ing->feeds[i]);
            wait = 0;
        }
    }
    if (now < ing->next_prune_ms)
        return ing->next_prune_ms - now < wait ? ing->next_prune_ms - now : wait;
    int rc = store_prune(ing->st, timefmt_now_us(), STORE_PRUNE_BUDGET_US, 1, NULL);
    ing->next_prune_ms = rc == 1 ? now : now + PRUNE_INTERVAL_MS;
    return rc == 1 ? 0 : wait;
}

static void *run(void *arg)
{
    ingest_t *ing = arg;
    while (!atomic_load(&ing->stop)) {
        int64_t now = clock_mono_ms();
        atomic_store(&ing->heartbeat_ms, now);
        int64_t wait = upkeep(ing, now);
        for (size_t i = 0; i < ing->nfeeds; i++) {
            int64_t w = schedule_feed(ing, &ing->feeds[i], now);
            if (w < wait)
                wait = w;
        }
        int running = 0;
        curl_multi_perform(ing->multi, &running);
        if (drain(ing) > 0)
            continue;
        curl_multi_poll(ing->multi, NULL, 0, wait > 0 ? (int)wait : 0, NULL);
    }
    atomic_store(&ing->alive, 0);
    return NULL;
}

/* ---- lifecycle ---- */

static void load_cursor(ingest_t *ing, feed_t *f)
{
    void *blob = NULL;
    size_t len = 0;
    int rc = store_get_feed_state(ing->st, f->cfg->id, &blob, &len);
    if (rc == 0 && feedcursor_load(&f->cur, blob, len, f->cfg->url) < 0)
        log_error(MOD, "feed %s: unreadable feed state in the store; starting afresh",
                  f->cfg->id);
    else if (rc < 0 && rc != STORE_ERR_NOTFOUND)
        log_error(MOD, "feed %s: cannot read its state: %s", f->cfg->id, store_strerror(rc));
    free(blob);
}

static int init_feed(ingest_t *ing, size_t i)
{
    feed_t *f = &ing->feeds[i];
    const config_feed_t *c = &ing->cfg->feeds[i];
    char err[ERR_MAX];
    size_t id_len = strlen(c->id);
    f->cfg = c;
    f->idx = i;
    if (id_len == 0 || id_len > STORE_MAX_FEED_LEN) {
        log_error(MOD, "feed id '%.40s' must be 1 to %d bytes", c->id, STORE_MAX_FEED_LEN);
        return -1;
    }
    if (fetch_new(&f->fetch, c, ing->cfg->ca_file, err, sizeof err) < 0) {
        log_error(MOD, "%s", err);
        return -1;
    }
    load_cursor(ing, f);
    f->sync_restart = 1; /* a full sync always runs at start */
    status_refresh(ing, f);
    return 0;
}

static void free_all(ingest_t *ing)
{
    for (size_t i = 0; ing->feeds && i < ing->nfeeds; i++) {
        feed_t *f = &ing->feeds[i];
        if (f->inflight && f->fetch)
            curl_multi_remove_handle(ing->multi, fetch_handle(f->fetch));
        fetch_free(f->fetch);
        feedcursor_free(&f->cur);
        free(f->poll_next);
    }
    free(ing->feeds);
    if (ing->multi)
        curl_multi_cleanup(ing->multi);
    store_batch_free(ing->batch);
    pagebatch_free(ing->reader);
    feedstatus_free(ing->status);
    free(ing);
    curl_global_cleanup();
}

int ingest_start(ingest_t **out, const config_t *cfg, store_t *st)
{
    *out = NULL;
    ingest_t *ing = calloc(1, sizeof *ing);
    if (!ing) {
        log_error(MOD, "out of memory");
        return -1;
    }
    ing->cfg = cfg;
    ing->st = st;
    ing->rng = (uint64_t)timefmt_now_us() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error(MOD, "curl_global_init failed");
        free(ing);
        return -1;
    }
    int rc = store_batch_new(st, &ing->batch);
    if (rc < 0) {
        log_error(MOD, "cannot create a store batch: %s", store_strerror(rc));
        goto fail;
    }
    ing->multi = curl_multi_init();
    ing->feeds = cfg->nfeeds ? calloc(cfg->nfeeds, sizeof *ing->feeds) : NULL;
    if (!ing->multi || (cfg->nfeeds && !ing->feeds) || pagebatch_new(&ing->reader) < 0 ||
        feedstatus_new(&ing->status, cfg->feeds, cfg->nfeeds) < 0) {
        log_error(MOD, "out of memory");
        goto fail;
    }
    ing->nfeeds = cfg->nfeeds;
    for (size_t i = 0; i < cfg->nfeeds; i++)
        if (init_feed(ing, i) < 0)
            goto fail;
    atomic_store(&ing->heartbeat_ms, clock_mono_ms());
    atomic_store(&ing->alive, 1);
    if (pthread_create(&ing->thread, NULL, run, ing) != 0) {
        log_error(MOD, "cannot start the ingest thread");
        goto fail;
    }
    ing->thread_started = 1;
    *out = ing;
    return 0;
fail:
    free_all(ing);
    return -1;
}

void ingest_stop(ingest_t *ing)
{
    if (!ing)
        return;
    atomic_store(&ing->stop, 1);
    if (ing->thread_started) {
        curl_multi_wakeup(ing->multi);
        pthread_join(ing->thread, NULL);
    }
    free_all(ing);
}

/* ---- what the HTTP threads read ---- */

char *ingest_feeds_json(ingest_t *ing)
{
    return feedstatus_json(ing->status, ing->st);
}

size_t ingest_metrics(ingest_t *ing, ingest_feed_metrics_t *out, size_t max)
{
    for (size_t i = 0; i < ing->nfeeds && i < max; i++) {
        feedstatus_feed_t s;
        feedstatus_get(ing->status, i, &s);
        out[i] = (ingest_feed_metrics_t){
            .id = ing->feeds[i].cfg->id, .state = s.state, .pages = s.pages, .bytes = s.bytes,
            .activities_written = s.written, .skipped_items = s.skipped,
            .errors = s.errors, .full_syncs = s.full_syncs,
        };
    }
    return ing->nfeeds;
}

int ingest_healthy(ingest_t *ing)
{
    if (!ing || !atomic_load(&ing->alive))
        return 0;
    return clock_mono_ms() - atomic_load(&ing->heartbeat_ms) < HEALTH_STALE_MS;
}
