/* ingest.h -- the ingest thread: pulls every configured feed with libcurl's multi interface
 * into the store (its only writer). Full sync at start and every full_sync_interval under a new
 * generation, then a sweep; polling of the last page (activity-stream style) or of `first`
 * (outbox style) every poll_interval; per-feed backoff with jitter; Retry-After on 429/503;
 * conditional GET on the polled page. Each page is one store batch together with the feed's
 * cursor state. */
#ifndef INGEST_H
#define INGEST_H
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "store.h"

typedef struct ingest ingest_t;

/* Start the thread. `cfg` and `st` are BORROWED and must outlive the ingest. The store's commit
 * hook (store_set_commit_hook) is left to the caller. Returns 0 or -1 (message logged). */
int ingest_start(ingest_t **out, const config_t *cfg, store_t *st);

/* Ask the thread to stop: it finishes the transaction it is in, then exits; joins and frees.
 * NULL is a no-op. */
void ingest_stop(ingest_t *ing);

/* /feeds: a JSON array, one object per feed:
 *   {"id","url","style","state": "syncing"|"ok"|"failing","activities",
 *    "last_full_sync": {"started","finished","duration_ms","pages","activities"} | null,
 *    "last_poll": "<RFC 3339>" | null,
 *    "last_error": {"message","at"} | null,
 *    "consecutive_failures","next_retry": "<RFC 3339>" | null,
 *    "skipped_items", "last_skipped": {"message","at"} | null (why an item was skipped),
 *    "pages_fetched", "bytes_fetched"}
 * Returns a malloc'd NUL-terminated string (caller frees), thread-safe. */
char *ingest_feeds_json(ingest_t *ing);

/* Counters for /metrics, per feed, thread-safe snapshot. */
typedef struct {
    const char *id;            /* BORROWED from the config */
    int state;                 /* 0 syncing, 1 ok, 2 failing */
    uint64_t pages, bytes, activities_written, skipped_items, errors, full_syncs;
} ingest_feed_metrics_t;
/* Fills up to `max` entries; returns the number of feeds. */
size_t ingest_metrics(ingest_t *ing, ingest_feed_metrics_t *out, size_t max);

/* True while the thread is alive and not wedged (used by /health). */
int ingest_healthy(ingest_t *ing);

#endif
