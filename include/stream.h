/* stream.h -- /stream (GET, or POST with a JSON body) on one event-loop worker: history from
 * the time index as of a snapshot S0, then live changes from the change log after S0, exactly
 * once per version.
 *
 * Each worker has one hub. Streams that are idle and caught up wait on the hub; when ingest
 * commits (stream_hub_wake from the loop thread) or the poll tick fires, the hub reads the new
 * change-log range once and copies each waiting stream's matching, pre-framed events into that
 * stream's buffer. Streams that are behind (history, slow sockets) read the store themselves
 * from their own bookmark in bounded batches when h2o asks for more (proceed), so a slow
 * client costs no memory beyond one batch. At most one h2o_send is in flight per stream. */
#ifndef STREAM_H
#define STREAM_H
#include <stdint.h>
#include "gate.h"
#include "httpreq.h"
#include "store.h"

typedef struct {
    int64_t poll_interval_ms, heartbeat_interval_ms, retry_ms, write_timeout_ms;
    size_t max_streams;
    int replica;                    /* a replica: a resume beyond the head waits for it */
    _Atomic size_t *open_streams;   /* shared by all workers; BORROWED */
    const char *const *feed_ids;    /* the configured feeds, for the feed filter's 400; BORROWED */
    size_t nfeed_ids;
} stream_settings_t;

typedef struct stream_hub stream_hub_t;

/* Create a worker's hub on ctx's loop. `st` and `settings` are BORROWED. NULL on no memory. */
stream_hub_t *stream_hub_new(h2o_context_t *ctx, store_t *st, const stream_settings_t *settings);
/* Free the hub; every stream must have ended (stream_hub_open() == 0). */
void stream_hub_free(stream_hub_t *hub);

/* Serve GET or POST /stream (streamreq.h) for `who` (gate.h; held by the stream while it lasts,
 * NULL: everything): its scope is ANDed into everything the stream sends (history, live part,
 * deletes, resumes), and the stream ends when who's credentials expire (a last comment, then the
 * response ends). Always answers (400/204/503 or the event stream). */
void stream_handle(stream_hub_t *hub, h2o_req_t *req, const gate_who_t *who);

/* Deliver changes committed since the last pass (called when ingest signals a commit). */
void stream_hub_wake(stream_hub_t *hub);

/* End every stream (clients resume elsewhere with their last id) and refuse new ones. */
void stream_hub_shutdown(stream_hub_t *hub);

/* End every stream (clients resume with their last id); new ones are still admitted. */
void stream_hub_end_all(stream_hub_t *hub);

/* Streams open on this worker. */
size_t stream_hub_open(const stream_hub_t *hub);

/* The streams' /metrics families, summed over the given hubs (one per event loop). */
struct metrics_out;
void stream_report_metrics(struct metrics_out *out, stream_hub_t *const *hubs, size_t nhubs);

/* Monotonic ms of the hub's last poll tick (for /health: a stuck loop stops ticking). */
int64_t stream_hub_last_tick_ms(const stream_hub_t *hub);

#endif
