/* stream.h -- /stream (GET, or POST with a JSON body) on one event-loop worker: history from
 * the time index as of a snapshot S0, then live changes from the change log after S0, exactly
 * once per version.
 *
 * Each worker has one hub. Streams that are idle and caught up wait on the hub; when ingest
 * commits (stream_hub_wake from the loop thread) or the poll tick fires, the hub reads the new
 * change-log range once, frames each change once, and hands each waiting SSE stream the runs of
 * those frames its filters admit, as they are (h2o writes from the hub's buffer, which lives
 * until the last such write completes); NDJSON streams get a copy in their own buffer. An idle
 * stream thus holds no buffer of its own. Streams that are behind (history, slow sockets) read
 * the store themselves from their own bookmark in bounded batches when h2o asks for more
 * (proceed), so a slow client costs no memory beyond one batch. At most one h2o_send is in
 * flight per stream.
 *
 * A client that leaves is noticed at once: HTTP/1 sockets, which libh2o stops reading after the
 * request, are watched for the client closing or resetting its connection (sockwatch.h); HTTP/2
 * connections are read all along and libh2o ends their streams. Either way the stream's slots
 * go back at that moment. After a wave of departures the hub hands the freed memory back to the
 * kernel (malloc_trim) once streams have stopped ending for a second. */
#ifndef STREAM_H
#define STREAM_H
#include <stdint.h>
#include "clientcap.h"
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
    clientcap_t *per_client;        /* max_streams_per_client, shared by all workers; BORROWED;
                                       NULL: no limit */
} stream_settings_t;

typedef struct stream_hub stream_hub_t;

/* Create a worker's hub on ctx's loop. `st` and `settings` are BORROWED. NULL when out of
 * memory or descriptors (the hub's epoll set). */
stream_hub_t *stream_hub_new(h2o_context_t *ctx, store_t *st, const stream_settings_t *settings);
/* Free the hub; every stream must have ended (stream_hub_open() == 0). */
void stream_hub_free(stream_hub_t *hub);

/* Serve GET or POST /stream (streamreq.h) for `who` (gate.h; held by the stream while it lasts,
 * NULL: everything, counted for no client): its scope is ANDed into everything the stream sends
 * (history, live part, deletes, resumes), and the stream ends when who's credentials expire (a
 * last comment, then the response ends). Always answers: 400, 204, the event stream, or a
 * refusal with Retry-After and {"error": ..., "limit": ...}: 429 "max_streams_per_client" when
 * the client (who->client: its id, or its address without auth) holds its share already, 503
 * "max_streams" when the server does, 503 during shutdown. */
void stream_handle(stream_hub_t *hub, h2o_req_t *req, const gate_who_t *who);

/* The three calls below write to sockets: call them from inside h2o_evloop_run (a timeout or
 * socket callback of the hub's loop), never between two runs (libh2o completes the writes made
 * in a run before it polls again; a write made between runs can leave its socket polled for a
 * write that has ended, and the loop aborts). */

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
