/* replapply.h -- applying a primary's replication stream (replproto frames) to a replica's
 * store: what the replica thread does with the bytes it receives, without HTTP, so that tests
 * and benchmarks drive it directly.
 *
 * Bytes may arrive in any pieces: incomplete frames wait for the rest, and the frames of one of
 * the primary's commits wait for its COMMIT frame, so the store never shows half of a commit.
 * Whole commits go into a store batch, committed when nothing more is waiting (the primary has
 * sent all it had) or every REPLAPPLY_BATCH operations while catching up (one fsync for many).
 * HELLO, HEARTBEAT and FEEDS frames go to the hooks. Not thread-safe: one applier per thread. */
#ifndef REPLAPPLY_H
#define REPLAPPLY_H
#include <stddef.h>
#include <stdint.h>
#include "store.h"

#define REPLAPPLY_BATCH 4096

/* Error codes (negative). */
enum {
    REPLAPPLY_ERR_CORRUPT = -1,   /* a corrupt frame, or a HELLO the hook refused */
    REPLAPPLY_ERR_STORE = -2,     /* the store refused a write (full disk, ...): logged */
    REPLAPPLY_ERR_NOMEM = -3,
};

typedef struct {
    /* The primary's HELLO (JSON, see replproto.h): return 0 to go on, -1 to refuse. */
    int (*hello)(void *ud, const char *json, size_t len);
    /* A heartbeat sent at primary_us; `idle`: everything before it is applied. */
    void (*heartbeat)(void *ud, int64_t primary_us, int idle);
    /* The primary's /feeds document. */
    void (*feeds)(void *ud, const char *json, size_t len);
    /* Commits up to one made at primary_us are applied. */
    void (*applied)(void *ud, int64_t primary_us);
    void *ud;
} replapply_hooks_t;

typedef struct replapply replapply_t;

/* A new applier writing into st (BORROWED); hooks are copied, any of them may be NULL.
 * Returns 0 or REPLAPPLY_ERR_NOMEM. */
int replapply_new(replapply_t **out, store_t *st, const replapply_hooks_t *hooks);
void replapply_free(replapply_t *a);   /* NULL is a no-op; what is not committed is dropped */

/* Take the next bytes of the stream. Returns 0, or an error code: the stream cannot go on
 * (start again from the store's head); the whole commits received before the error are kept. */
int replapply_feed(replapply_t *a, const void *data, size_t len);

/* Commit what the batch holds (up to its last COMMIT frame). Returns 0 or REPLAPPLY_ERR_STORE. */
int replapply_flush(replapply_t *a);

/* Forget incomplete frames and uncommitted operations (a new connection starts). */
void replapply_reset(replapply_t *a);

#endif
