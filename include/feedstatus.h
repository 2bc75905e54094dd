/* feedstatus.h -- what /feeds and /metrics show of each feed: one status record per feed,
 * written by the ingest thread and read by the HTTP threads, all behind one lock that this
 * module owns; and the /feeds JSON built from them.
 *
 * Threads: every function is thread-safe. Each update takes the lock once, so a reader sees
 * each update whole (two updates in a row may be seen apart). Feeds are numbered in
 * configuration order; an index must be below the number given to feedstatus_new. */
#ifndef FEEDSTATUS_H
#define FEEDSTATUS_H
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "feedcursor.h"
#include "store.h"

/* Error codes (negative). */
enum { FEEDSTATUS_ERR_NOMEM = -1 };

/* A feed's state, as /feeds names it ("syncing", "ok", "failing") and /metrics numbers it. */
enum { FEEDSTATUS_SYNCING = 0, FEEDSTATUS_OK = 1, FEEDSTATUS_FAILING = 2 };

#define FEEDSTATUS_MSG_MAX 512    /* longer messages are truncated */

/* A snapshot of one feed's status (a plain copy: owns nothing). */
typedef struct {
    int state;                /* FEEDSTATUS_* */
    feedcursor_last_t last;   /* the last completed full sync */
    int64_t last_poll_us;     /* wall clock; 0: never */
    char last_error[FEEDSTATUS_MSG_MAX];
    int64_t last_error_us;    /* 0: no error yet */
    char last_skip[FEEDSTATUS_MSG_MAX];  /* why the last invalid item was skipped, and where */
    int64_t last_skip_us;     /* 0: none yet */
    unsigned failures;        /* consecutive */
    int64_t next_retry_us;    /* wall clock; 0: none scheduled */
    uint64_t pages, bytes, written, skipped, errors, full_syncs;   /* counters */
} feedstatus_feed_t;

typedef struct feedstatus feedstatus_t;   /* opaque */

/* A board for `nfeeds` feeds, all "syncing" with zero counters. `feeds` (an array of nfeeds)
 * is BORROWED and must outlive the board: /feeds shows their id, url and style. Returns 0 or
 * FEEDSTATUS_ERR_NOMEM (*out NULL). */
int feedstatus_new(feedstatus_t **out, const config_feed_t *feeds, size_t nfeeds);
void feedstatus_free(feedstatus_t *fs);   /* NULL is a no-op */

/* ---- updates (the ingest thread) ---- */

/* Set the state, the consecutive failures (0 also clears the next retry) and the summary of
 * the last completed full sync (copied). */
void feedstatus_set_state(feedstatus_t *fs, size_t i, int state, unsigned failures,
                          const feedcursor_last_t *last);

/* A response of `bytes` bytes arrived; `poll_us` is the wall-clock time of a poll's response,
 * 0 for any other request. */
void feedstatus_fetched(feedstatus_t *fs, size_t i, size_t bytes, int64_t poll_us);

/* A feed error at at_us: `msg` (copied, truncated) becomes the last error, the error counter
 * grows, and the next attempt is due at next_retry_us (wall clock). */
void feedstatus_failed(feedstatus_t *fs, size_t i, const char *msg, int64_t at_us,
                       int64_t next_retry_us);

/* `n` invalid items were skipped at at_us in the page at `url`; `reason` says why the first
 * one was (both copied into the message "<reason> (<url>)"). */
void feedstatus_skipped(feedstatus_t *fs, size_t i, size_t n, const char *reason,
                        const char *url, int64_t at_us);

/* `n` activities were written (inserted or updated). */
void feedstatus_written(feedstatus_t *fs, size_t i, uint64_t n);

/* A full sync completed. */
void feedstatus_full_sync_done(feedstatus_t *fs, size_t i);

/* ---- readers (any thread) ---- */

/* Copy feed i's status into *out. */
void feedstatus_get(feedstatus_t *fs, size_t i, feedstatus_feed_t *out);

/* The /feeds document (its shape is documented at ingest_feeds_json in ingest.h), with each
 * feed's activity count read from `st` (BORROWED). Returns a malloc'd NUL-terminated string
 * (caller frees), or NULL when out of memory. */
char *feedstatus_json(feedstatus_t *fs, store_t *st);

#endif
