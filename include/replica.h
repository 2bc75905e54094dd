/* replica.h -- a replica's replication thread: it follows its primary's change log
 * (GET <replicate_from>/_replication, replsend.h) and applies every entry with the same seq into
 * the local store, which is then its only writer (no ingest runs on a replica). When the primary
 * answers that the replica cannot continue (a new replica, a pruned log, a diverged history) it
 * fetches a snapshot (GET <replicate_from>/_replication/snapshot), checks its size and SHA-256,
 * and installs it; a corrupt or truncated one is refused and the previous store kept. A primary
 * that is down or a dropped connection is retried with backoff (100 ms doubling to 5 s); no
 * frame for DISCONNECT_S (3 s) counts as disconnected; a snapshot that is arriving does not.
 *
 * Lag: every frame carries the primary's clock (a commit its commit time, a heartbeat its send
 * time). The lag is how long ago, by that clock (estimated from the last heartbeat and the
 * local time since it arrived), the newest frame the replica has applied was sent. */
#ifndef REPLICA_H
#define REPLICA_H
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "store.h"

typedef struct replica replica_t;

/* Called on the replication thread after a snapshot replaced the store (open streams must end:
 * their positions may not mean the same any more). */
typedef void replica_installed_fn(void *ud);

/* Start following cfg->replicate_from into `st` (both BORROWED; they outlive the replica). The
 * store's commit hook is the caller's (it wakes the loops). Returns 0, or -1 when the thread or
 * libcurl cannot start (logged). */
int replica_start(replica_t **out, const config_t *cfg, store_t *st, replica_installed_fn *installed, void *ud);

/* Stop the thread (it finishes the transaction it is in), join, free. NULL is a no-op. */
void replica_stop(replica_t *r);

typedef struct {
    int connected;                 /* frames (or a snapshot) are arriving */
    int64_t disconnected_since_us; /* wall clock; 0 while connected */
    double lag_s;                  /* while connected */
    uint64_t applied_seq;
    uint64_t reconnects, snapshots;
} replica_status_t;

/* A snapshot of the state (any thread). */
void replica_status(replica_t *r, replica_status_t *out);

/* The primary's /feeds document as last received (malloc'd; "[]" before any), any thread. */
char *replica_feeds_json(void *replica);

/* The replica's /metrics families (a metrics_collect_fn; `replica` is the replica_t). */
struct metrics_out;
void replica_report_metrics(struct metrics_out *out, void *replica);

#endif
