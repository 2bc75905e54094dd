/* store.h -- activities of many feeds, a time index and a durable change log in one LMDB
 * environment under a data directory.
 *
 * Databases inside the environment:
 *   acts    (feed, activity id)  -> where the current version lives, the generation that saw
 *                                   it, and its superseded versions still stored
 *   time    (published us, seq)  -> the record (header, event data, activity JSON)
 *   changes seq                  -> a pointer into `time` while that version is current, its
 *                                   record once superseded, or a tombstone record
 *   superseded, tombs            -> the queues of retention (what to prune, oldest first)
 *   feeds   feed id              -> opaque feed state blob (owned by ingest) + activity count
 *   meta    schema version, change-log head, low-water mark, tombstone horizon
 * Every write is a batch committed in one transaction; seq numbers are assigned at commit,
 * strictly increasing, kept across restarts. A full map aborts the transaction, grows the map
 * and replays the same batch.
 *
 * Erasure: deleting an activity (a delete, a sweep) removes every version of it in the same
 * transaction; what remains is a tombstone with the feed, the id, the last version's types and
 * published time, and the deletion time: no actor, no content. Retention: superseded versions
 * are kept `version_retention` after they were superseded (0: not kept at all), tombstones
 * `tombstone_retention` after the delete; store_prune removes what is older, in bounded
 * transactions. The low-water mark W and the tombstone horizon H say what a resume from a
 * change-log position P can get: P >= W, every change after P (exact); H <= P < W, the current
 * version of everything changed after P and every tombstone after P (compacted); P < H,
 * deletions may have been forgotten (the client must start over).
 *
 * Threads: exactly one writer thread (batches, pruning); any number of reader threads. Scans
 * open and close their own read transaction inside the call, so nothing is held across
 * event-loop callbacks. Records passed to scan callbacks are BORROWED: valid only until the
 * callback returns.
 */
#ifndef STORE_H
#define STORE_H
#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

/* Error codes (negative). store_strerror() names them. */
enum {
    STORE_OK = 0,
    STORE_ERR_IO = -1,        /* read/write/open failure; see store_last_error() */
    STORE_ERR_CORRUPT = -2,   /* not an LMDB store, or damaged */
    STORE_ERR_VERSION = -3,   /* written by a newer schema version */
    STORE_ERR_FULL = -4,      /* disk full (the map could not grow) */
    STORE_ERR_NOMEM = -5,
    STORE_ERR_INVALID = -6,   /* bad argument (e.g. feed id too long) */
    STORE_ERR_NOTFOUND = -7,
    STORE_ERR_EXPIRED = -8,   /* a frozen view the store had to end (map growth, replacement) */
};
const char *store_strerror(int code);

/* Open (creating if absent) the store in `dir` with an initial map of `map_bytes` (0: 64 GiB).
 * An existing store is never recreated or truncated. On failure returns a code and writes one
 * line naming the path and the cause into err.
 * Errors: STORE_ERR_INVALID (no dir), STORE_ERR_IO (not a directory, permission, ...),
 * STORE_ERR_CORRUPT (not an LMDB store, another LMDB file, damaged), STORE_ERR_VERSION (newer
 * schema), STORE_ERR_FULL (no room to create it), STORE_ERR_NOMEM. */
int store_open(store_t **out, const char *dir, uint64_t map_bytes, char *err, size_t errlen);
void store_close(store_t *st); /* NULL is a no-op */

/* Called by the writer thread after each successful commit that appended to the change log,
 * with the new head. Set before the writer starts. */
typedef void store_commit_hook_fn(uint64_t head, void *ud);
void store_set_commit_hook(store_t *st, store_commit_hook_fn *fn, void *ud);

/* ---- writing (one writer thread) ---- */

#define STORE_MAX_FEED_LEN 255
#define STORE_TAG_LEN 6          /* the short tag of a store's id that event ids carry */
#define STORE_TYPE_SEP '\x1f'   /* separates types in store_activity_t.types / store_rec_t.types */

typedef struct {
    const char *feed;  size_t feed_len;
    const char *id;    size_t id_len;
    int64_t published_us;
    const char *types; size_t types_len;   /* types joined by STORE_TYPE_SEP; may be empty */
    const char *actor; size_t actor_len;   /* actor id; may be empty */
    const char *json;  size_t json_len;    /* compact activity JSON, serialized once at ingest;
                                              no raw CR or LF (else STORE_ERR_INVALID) */
} store_activity_t;

typedef struct store_batch store_batch_t;

typedef struct {
    size_t inserted, updated, unchanged, deleted;  /* deleted includes sweep deletions */
    uint64_t first_seq, last_seq;                  /* range appended to the change log; 0,0 if none */
    int sweep_more;                                /* a store_batch_sweep_some stopped at its max */
} store_batch_stats_t;

/* A batch buffers operations in memory (copies everything it is given) and applies them in one
 * write transaction at commit, in order. store_batch_new errors: STORE_ERR_INVALID (st NULL),
 * STORE_ERR_NOMEM. */
int  store_batch_new(store_t *st, store_batch_t **out);
void store_batch_free(store_batch_t *b);   /* NULL is a no-op */
void store_batch_reset(store_batch_t *b);  /* empty it for reuse */

/* Insert or update. Byte-identical JSON for the same (feed, id) is a no-op (no seq, no event)
 * except that the generation stamp is raised to `gen` (0 leaves it). Changed content appends a
 * change-log entry and moves the time-index entry.
 * Errors (nothing is buffered): STORE_ERR_INVALID (feed empty, longer than STORE_MAX_FEED_LEN or
 * holding a NUL; empty JSON or JSON with a raw CR or LF; a field over 1 GiB), STORE_ERR_NOMEM. */
int store_batch_upsert(store_batch_t *b, const store_activity_t *a, uint64_t gen);

/* Delete (feed, id) if present: appends a tombstone change-log entry and removes the activity
 * and its time-index entry. Absent ids are ignored.
 * Errors: STORE_ERR_INVALID (bad feed, id NULL with a length), STORE_ERR_NOMEM. */
int store_batch_delete(store_batch_t *b, const char *feed, const char *id, size_t id_len);

/* Delete, with tombstones, every activity of `feed` whose generation stamp is below `gen`.
 * Only ever called after a complete, successful full sync under `gen`.
 * Errors: STORE_ERR_INVALID (bad feed), STORE_ERR_NOMEM. */
int store_batch_sweep(store_batch_t *b, const char *feed, uint64_t gen);

/* The same, deleting at most `max` activities (0: no limit); when more remain the commit's
 * stats say so (sweep_more), and the caller sweeps again in a later batch. Keeps one large
 * sweep from holding the writer for seconds. */
int store_batch_sweep_some(store_batch_t *b, const char *feed, uint64_t gen, size_t max);

/* Replace the feed's state blob (committed with the rest of the batch).
 * Errors: STORE_ERR_INVALID (bad feed, blob over 2 GiB), STORE_ERR_NOMEM. */
int store_batch_put_feed_state(store_batch_t *b, const char *feed, const void *state, size_t len);

/* Apply everything in one transaction; on MDB_MAP_FULL grow the map and replay. The batch is
 * reset afterwards whatever the result. `stats` may be NULL (zeroed on failure). On success
 * with a new head, the commit hook runs before this returns.
 * Errors (nothing of the batch is written; logged): STORE_ERR_FULL (disk or file-size limit),
 * STORE_ERR_CORRUPT, STORE_ERR_IO, STORE_ERR_NOMEM, STORE_ERR_INVALID (b NULL). */
int store_batch_commit(store_batch_t *b, store_batch_stats_t *stats);

/* ---- retention (the writer thread) ---- */

/* How long superseded versions and tombstones are kept, in milliseconds (defaults: 24 h and
 * 30 days). version_ms 0: a superseded version is not kept at all. Set before writing. */
void store_set_retention(store_t *st, int64_t version_ms, int64_t tombstone_ms);

typedef struct {
    uint64_t versions, tombstones;   /* pruned by this call */
    int64_t txn_us;                  /* its longest write transaction, commit included */
    int64_t commit_us;               /* its longest commit (the disk's sync) */
} store_prune_stats_t;

#define STORE_PRUNE_BUDGET_US 2000   /* the writer's work per pruning transaction (commit on top) */

/* Prune what retention no longer keeps, oldest first, in write transactions of about
 * `budget_us` of work each, until nothing is due or `max_txns` transactions ran (0: no limit).
 * Returns 0 when nothing more is due now, 1 when more is, or a negative code:
 * STORE_ERR_FULL, STORE_ERR_CORRUPT, STORE_ERR_IO, STORE_ERR_NOMEM. `out` may be NULL. */
int store_prune(store_t *st, int64_t now_us, int64_t budget_us, unsigned max_txns,
                store_prune_stats_t *out);

/* The low-water mark W and the tombstone horizon H (see the top). Lock-free, any thread. */
uint64_t store_low_water(store_t *st);
uint64_t store_tombstone_horizon(store_t *st);

/* ---- reading (any thread) ---- */

/* Read the feed's state blob into a malloc'd buffer (*out, *len; caller frees).
 * Errors: STORE_ERR_NOTFOUND (the feed has none), STORE_ERR_INVALID (bad feed),
 * STORE_ERR_NOMEM, STORE_ERR_CORRUPT, STORE_ERR_IO. */
int store_get_feed_state(store_t *st, const char *feed, void **out, size_t *len);

/* Number of activities currently stored for `feed` (0 also when it cannot be read). */
uint64_t store_feed_count(store_t *st, const char *feed);

/* Called with each feed that has activities stored: its id (BORROWED, not NUL-terminated,
 * valid during the call) and count. Return non-zero to stop. */
typedef int store_feed_fn(const char *feed, size_t len, uint64_t count, void *ud);

/* Visit every feed with at least one activity stored, in byte order of their ids. Returns 0,
 * the callback's non-zero value when it stopped, or STORE_ERR_CORRUPT / STORE_ERR_IO. */
int store_feeds(store_t *st, store_feed_fn *fn, void *ud);

/* Last seq committed to the change log (0 for an empty store). Lock-free. */
uint64_t store_head(store_t *st);

enum { STORE_REC_UPSERT = 1, STORE_REC_DELETE = 2 };

typedef struct {
    uint64_t seq;
    int kind;                              /* STORE_REC_* */
    int64_t published_us;                  /* for a delete: the deleted version's */
    const char *feed;  size_t feed_len;
    const char *id;    size_t id_len;
    const char *types; size_t types_len;   /* for a delete: the deleted version's */
    const char *actor; size_t actor_len;   /* empty for a delete */
    const char *data;  size_t data_len;    /* the event data, ready to send:
                                              {"feed":"<feed>","activity":{...}} for an upsert,
                                              {"feed":"<feed>","activity":{"type":"Tombstone",
                                              "id":...,"formerType":<types>,"published":...,
                                              "deleted":"<RFC 3339>"}} for a delete */
    const char *json;  size_t json_len;    /* the activity JSON as stored; empty for a delete */
    int superseded;                        /* store_scan_changes: an upsert that is no longer the
                                              current version */
} store_rec_t;

/* Does rec have this type among its types? */
int store_rec_has_type(const store_rec_t *rec, const char *type, size_t len);

/* Return non-zero to stop the scan (that value is returned by the scan). */
typedef int store_scan_fn(const store_rec_t *rec, void *ud);

/* Position in the time index. */
typedef struct { int64_t published_us; uint64_t seq; } store_tpos_t;

/* Visit current activities in (published, seq) order strictly after `after` and with
 * published < end_us, skipping records with seq > max_seq (0: no limit), at most `limit`
 * records visited (0: no limit). Returns 0 when the range is exhausted, the callback's
 * non-zero value when it stopped, or a negative code. *last (may be NULL) receives the
 * position of the last record visited. Use {start_us, 0} to start at start_us inclusive.
 * Errors (logged): STORE_ERR_INVALID (st or fn NULL), STORE_ERR_CORRUPT, STORE_ERR_IO. */
int store_scan_time(store_t *st, store_tpos_t after, int64_t end_us, uint64_t max_seq,
                    size_t limit, store_scan_fn *fn, void *ud, store_tpos_t *last);

/* Same, newest first: strictly before `before` (use {INT64_MAX, UINT64_MAX} for the end) and
 * with published >= start_us. */
int store_scan_time_desc(store_t *st, store_tpos_t before, int64_t start_us, uint64_t max_seq,
                         size_t limit, store_scan_fn *fn, void *ud, store_tpos_t *last);

/* Visit change-log entries with after_seq < seq <= upto_seq (0: head) in seq order, at most
 * `limit` (0: no limit). Returns like store_scan_time; *last_seq gets the last seq visited.
 * Errors (logged): STORE_ERR_INVALID, STORE_ERR_CORRUPT (also a pointer to no record),
 * STORE_ERR_IO. */
int store_scan_changes(store_t *st, uint64_t after_seq, uint64_t upto_seq, size_t limit,
                       store_scan_fn *fn, void *ud, uint64_t *last_seq);

typedef struct {
    uint64_t map_size, used_bytes, head, activities, changes;
} store_stats_t;
/* Sizes and counts; fields it cannot read are left 0 (no error). */
void store_stats(store_t *st, store_stats_t *out);

/* The current version of (feed, id): fn is called once with its record (BORROWED during the
 * call). Errors: STORE_ERR_NOTFOUND (no such activity), STORE_ERR_INVALID, STORE_ERR_CORRUPT,
 * STORE_ERR_IO. */
int store_get(store_t *st, const char *feed, const char *id, size_t id_len, store_scan_fn *fn, void *ud);

/* ---- replication ---- */

/* The store's identity: 16 random bytes made when it was created (a replica copies its
 * primary's), as 32 hex digits, and the short tag of it that event ids carry. */
const char *store_id(const store_t *st);
const char *store_tag(const store_t *st);

typedef struct {
    uint8_t id[16];
    uint8_t parent[16];       /* the id this store was promoted from; all zero for an original */
    uint64_t fork;            /* the seq at which it was promoted */
} store_identity_t;
void store_identity(const store_t *st, store_identity_t *out);

/* What a replica needs of the change log, in seq order, as of one read transaction: first the
 * pruning marks (STORE_LOG_MARKS), then every entry after `after` with its full record as
 * stored (STORE_LOG_ENTRY: an upsert's record, current or superseded, or a tombstone), each
 * before the commit that wrote it (STORE_LOG_COMMIT: its last seq, time and chain; a commit
 * whose entries were all erased or pruned since comes alone). */
enum { STORE_LOG_MARKS = 1, STORE_LOG_ENTRY, STORE_LOG_COMMIT };
typedef struct {
    int kind;
    uint64_t seq;                          /* ENTRY: its seq; COMMIT: the commit's last seq */
    int64_t commit_us;                     /* ENTRY, COMMIT: when the commit was made */
    uint64_t chain;                        /* COMMIT */
    const void *record; size_t record_len; /* ENTRY (BORROWED during the call) */
    uint64_t low_water, tomb_horizon, commit_horizon;   /* MARKS */
} store_log_item_t;
/* Return non-zero to stop after this item. */
typedef int store_log_fn(const store_log_item_t *it, void *ud);

/* Walk the log after `after`, at most `limit` entries and commits (0: no limit). *last gets
 * the seq of the last entry or commit visited (`after` when none). Errors: STORE_ERR_CORRUPT,
 * STORE_ERR_IO. */
int store_log_scan(store_t *st, uint64_t after, size_t limit, store_log_fn *fn, void *ud, uint64_t *last);

/* The chain of the commit whose last seq is exactly `seq`. Errors: STORE_ERR_NOTFOUND (no
 * such commit: never made, or pruned), STORE_ERR_IO. */
int store_commit_chain(store_t *st, uint64_t seq, uint64_t *chain);

/* The newest commit's chain, and its last seq in *head (0 and 0 for a store without commits). */
uint64_t store_chain(store_t *st, uint64_t *head);

/* A replica's writes: the primary's entries at their own seqs (in order; at or below the head
 * they are skipped), the primary's commits (their last seq becomes the head, their chain this
 * store's, also for a commit none of whose entries arrived), and the primary's pruning marks
 * (what they cover is pruned here, whatever its time). Buffered like every batch operation.
 * Errors: STORE_ERR_INVALID (not a record), STORE_ERR_NOMEM. */
int store_batch_apply_entry(store_batch_t *b, const void *record, size_t len, int64_t commit_us);
int store_batch_apply_commit(store_batch_t *b, uint64_t last_seq, int64_t commit_us, uint64_t chain);
int store_batch_prune_to(store_batch_t *b, uint64_t low_water, uint64_t tomb_horizon, uint64_t commit_horizon);

/* Take the primary's identity (a replica following it), marking the store a replica's. */
int store_adopt_identity(store_t *st, const store_identity_t *ident);
/* Was the store last written as a replica? */
int store_is_replica(store_t *st);
/* Become a primary: a new id, the old one as parent, forked at the head; clears the marker. */
int store_promote(store_t *st);

/* Write a compacted copy of the whole store, from one read transaction, to fd (synced). A
 * replica installs it with store_snapshot_install: the file `path` replaces data.mdb and the
 * environment is opened again (read transactions wait meanwhile; frozen views end); the store
 * is then marked a replica's. A file that is not such a copy is refused (STORE_ERR_CORRUPT)
 * before anything changes, and one that does not open puts the previous file back. Errors:
 * STORE_ERR_FULL, STORE_ERR_IO, STORE_ERR_CORRUPT, and those of store_open. */
int store_snapshot_write(store_t *st, int fd);
int store_snapshot_install(store_t *st, const char *path, char *err, size_t errlen);

/* Visit every feed's state blob (BORROWED during the call); return non-zero to stop.
 * Errors: STORE_ERR_IO, STORE_ERR_CORRUPT. */
typedef int store_feed_state_fn(const char *feed, size_t feed_len, const void *blob, size_t len, void *ud);
int store_feed_states(store_t *st, store_feed_state_fn *fn, void *ud);

/* The head seq and the id (32 hex digits) of a store file written by store_snapshot_write, read
 * without changing it. Errors: STORE_ERR_CORRUPT (not such a file), STORE_ERR_NOMEM. */
int store_snapshot_info(const char *path, uint64_t *head, char id_hex[33]);

/* ---- frozen views: one consistent state across calls (a search's point in time) ---- */

typedef struct store_view store_view_t;

/* Open a view of the store as it is now. A view pins the pages it sees while it lives: bound
 * how many are open and for how long. The store ends every view when it must resize the map or
 * replace the file; the view then answers STORE_ERR_EXPIRED (close it). A view is used by one
 * thread at a time; any thread may close it. Errors: STORE_ERR_NOMEM, STORE_ERR_IO. */
int store_view_open(store_t *st, store_view_t **out);
void store_view_close(store_view_t *v);   /* NULL is a no-op */

/* The change-log head the view sees. */
uint64_t store_view_head(const store_view_t *v);

/* store_scan_time (descending: store_scan_time_desc, with end_us then the lower bound) and
 * store_get, on the view. Errors also STORE_ERR_EXPIRED. */
int store_view_scan_time(store_view_t *v, store_tpos_t after, int64_t end_us, int descending, size_t limit,
                         store_scan_fn *fn, void *ud, store_tpos_t *last);
int store_view_get(store_view_t *v, const char *feed, const char *id, size_t id_len, store_scan_fn *fn, void *ud);

/* The store's /metrics families (a metrics_collect_fn; `store` is the store_t). */
struct metrics_out;
void store_report_metrics(struct metrics_out *out, void *store);

/* Rewrite the store in `dir` compacted: a copy with only the pages in use (so that the bytes
 * of erased activities, which LMDB leaves in freed pages, are gone), taken from one read
 * transaction with mdb_env_copyfd2(MDB_CP_COMPACT) into dir/data.mdb.compact, synced, and
 * renamed over data.mdb. No other process may have the store open (the caller makes sure:
 * pidlock.h). *before and *after get the file's sizes in bytes. Returns 0, or a code with one
 * line in err: those of store_open, STORE_ERR_FULL (no room for the copy), STORE_ERR_IO. */
int store_compact(const char *dir, uint64_t *before, uint64_t *after, char *err, size_t errlen);

/* Path of the data directory (BORROWED). */
const char *store_path(store_t *st);

#endif
