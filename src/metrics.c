/* metrics.c -- Prometheus text format for GET /metrics. */
#include "metrics.h"
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void metric(FILE *f, const char *name, const char *type, const char *help, uint64_t value)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name, value);
}

static void feed_family(FILE *f, const metrics_snapshot_t *m, const char *name, const char *type, const char *help,
                        size_t offset)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (size_t i = 0; i < m->nfeeds; i++) {
        uint64_t v = *(const uint64_t *)((const char *)&m->feeds[i] + offset);
        fprintf(f, "%s{feed=\"%s\"} %" PRIu64 "\n", name, m->feeds[i].id, v);
    }
}

char *metrics_render(const metrics_snapshot_t *m)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    const stream_counters_t *s = &m->streams;
    metric(f, "as_streams_open", "gauge", "Open /stream responses.", m->open_streams);
    metric(f, "as_streams_opened_total", "counter", "Streams accepted.", s->opened);
    metric(f, "as_streams_rejected_total", "counter", "Streams refused because max_streams was reached.", s->rejected_full);
    metric(f, "as_stream_write_timeouts_total", "counter", "Streams disconnected after write_timeout.", s->write_timeouts);
    fprintf(f, "# HELP as_events_sent_total Events sent to clients, by part of the stream.\n"
               "# TYPE as_events_sent_total counter\n"
               "as_events_sent_total{part=\"history\"} %" PRIu64 "\n"
               "as_events_sent_total{part=\"live\"} %" PRIu64 "\n",
            s->history_events, s->live_events);
    metric(f, "as_bytes_sent_total", "counter", "Bytes of stream bodies handed to the HTTP layer.", s->bytes);
    metric(f, "as_live_polls_total", "counter", "Change-log polls by the live hubs (ticks and wake-ups).", s->hub_polls);
    metric(f, "as_live_wakes_total", "counter", "Wake-ups of the live hubs by ingest commits.", s->wakes);
    metric(f, "as_store_map_bytes", "gauge", "Size of the LMDB map.", m->store.map_size);
    metric(f, "as_store_used_bytes", "gauge", "Bytes of the LMDB map in use.", m->store.used_bytes);
    metric(f, "as_store_activities", "gauge", "Activities stored.", m->store.activities);
    metric(f, "as_changelog_head", "gauge", "Last change-log sequence number.", m->store.head);
    metric(f, "as_changelog_entries", "gauge", "Entries in the change log.", m->store.changes);
    feed_family(f, m, "as_feed_pages_total", "counter", "Pages fetched per feed.", offsetof(ingest_feed_metrics_t, pages));
    feed_family(f, m, "as_feed_bytes_total", "counter", "Bytes fetched per feed.", offsetof(ingest_feed_metrics_t, bytes));
    feed_family(f, m, "as_feed_activities_written_total", "counter", "New or changed activities written per feed.",
                offsetof(ingest_feed_metrics_t, activities_written));
    feed_family(f, m, "as_feed_skipped_items_total", "counter", "Invalid items skipped per feed.",
                offsetof(ingest_feed_metrics_t, skipped_items));
    feed_family(f, m, "as_feed_errors_total", "counter", "Feed errors per feed.", offsetof(ingest_feed_metrics_t, errors));
    feed_family(f, m, "as_feed_full_syncs_total", "counter", "Completed full syncs per feed.",
                offsetof(ingest_feed_metrics_t, full_syncs));
    fprintf(f, "# HELP as_feed_state Feed state: 0 syncing, 1 ok, 2 failing.\n# TYPE as_feed_state gauge\n");
    for (size_t i = 0; i < m->nfeeds; i++)
        fprintf(f, "as_feed_state{feed=\"%s\"} %d\n", m->feeds[i].id, m->feeds[i].state);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
