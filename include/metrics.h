/* metrics.h -- the Prometheus text exposition of the server's counters (GET /metrics). */
#ifndef METRICS_H
#define METRICS_H
#include <stddef.h>
#include "ingest.h"
#include "store.h"
#include "stream.h"

typedef struct {
    size_t open_streams;
    stream_counters_t streams;           /* summed over the workers */
    store_stats_t store;
    const ingest_feed_metrics_t *feeds;  /* BORROWED */
    size_t nfeeds;
} metrics_snapshot_t;

/* Render the snapshot; returns a malloc'd NUL-terminated text (caller frees) or NULL. */
char *metrics_render(const metrics_snapshot_t *m);

#endif
