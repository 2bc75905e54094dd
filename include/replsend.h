/* replsend.h -- the primary's side of replication, on one event loop (every node serves it: a
 * replica can feed another):
 *   GET /_replication?after=<seq>&chain=<chain at seq>&store=<store id>
 *       200: the change log after `after` in replproto frames (HELLO, the pruning marks, every
 *       entry byte for byte with its commit, feed states, the /feeds document, a HEARTBEAT at
 *       least every second), then live: new commits are sent as they happen (wake-on-commit).
 *       409 {"error": "snapshot needed", "reason": ...} when the replica cannot continue from
 *       `after`: "new" (after=0 on a store that has data), "pruned" (the change log no longer
 *       reaches back there), "diverged" (the commit at `after` is not this history's: a primary
 *       restored from a backup, or another node promoted), "other store" (another store id that
 *       is not this store's parent at or before its fork).
 *   GET /_replication/snapshot
 *       200: a compacted copy of the whole store from one read transaction (written to a
 *       temporary file by a helper thread first), with X-Snapshot-Head, X-Snapshot-Size,
 *       X-Snapshot-Sha256 and X-Store-Id headers; 503 when two snapshots are being made.
 * Event-loop thread only, except replsend_loop_new. */
#ifndef REPLSEND_H
#define REPLSEND_H
#include "httpreq.h"
#include "store.h"

typedef struct replsend_loop replsend_loop_t;

/* The /feeds document to forward (malloc'd JSON, or NULL): the ingest's on a primary, the last
 * one received on a replica. Any thread. */
typedef char *replsend_feeds_fn(void *ud);

/* Create the loop's replication state (on its thread). `st` is BORROWED; feeds_fn may be NULL.
 * Returns NULL when out of memory. */
replsend_loop_t *replsend_loop_new(h2o_context_t *ctx, store_t *st, replsend_feeds_fn *feeds_fn, void *ud);

/* New commits: wake the streams that wait for them (loop thread). */
void replsend_loop_wake(replsend_loop_t *l);

/* End every replication stream (shutdown). */
void replsend_loop_shutdown(replsend_loop_t *l);

/* Serve GET /_replication and GET /_replication/snapshot. Always answer. */
void replsend_handle(replsend_loop_t *l, h2o_req_t *req);
void replsend_snapshot(replsend_loop_t *l, h2o_req_t *req);

#endif
