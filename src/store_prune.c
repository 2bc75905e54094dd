/* store_prune.c -- retention: superseded versions and tombstones that the configured retention
 * no longer keeps are removed, oldest first, in short write transactions, so that the writer
 * (which also commits ingest's pages) never stalls behind pruning (contract in store.h; layout
 * in store_int.h).
 *
 * Both queues are ordered by the seq that started their clock: `superseded` by the superseding
 * seq, `tombs` by the tombstone's seq; their values are the time the clock started. A pass walks
 * each queue from its start while the entries are due, deleting the change-log entry and the
 * queue entry, and raises the low-water mark (versions) or the tombstone horizon (tombstones) to
 * the last seq it passed, in the same transaction; a crash at any point leaves a consistent
 * store. The work of one transaction stops after `budget_us`, checked every few entries. The
 * commit log (`commits`, one entry per commit, for replicas) is pruned with the tombstones'
 * retention: a replica that was away longer starts from a snapshot anyway.
 *
 * A replica does not prune by time: it applies its primary's marks (store_prune_marks). */
#include "store_int.h"
#include "clock.h"
#include "log.h"
#include <errno.h>

#define CHECK_EVERY 32   /* entries between two looks at the clock */

typedef struct {
    store_t *st;
    MDB_txn *txn;
    int64_t now_us, deadline_us;
    uint64_t low_water, horizon, commit_horizon;
    uint64_t versions, tombstones;
    int more;            /* stopped by the budget with due entries left */
    int64_t commit_us;   /* how long the last commit took (its sync) */
} prune_t;

static int over_budget(prune_t *p, uint64_t n)
{
    if (n == 0 || n % CHECK_EVERY || clock_mono_us() < p->deadline_us)   /* progress first */
        return 0;
    p->more = 1;
    return 1;
}

/* Walk one queue. `keep_us` is its retention; `key_len` 16 (superseded: by, seq) or 8 (tombs,
 * commits: seq); its values start with the time its clock started. `del_change`: remove the
 * change-log entry too (versions and tombstones; not commits). Raises *mark to the
 * clock-starting seq of each entry removed; counts into *count. */
static int prune_queue(prune_t *p, MDB_dbi queue, size_t key_len, int64_t keep_us, int del_change,
                       uint64_t *mark, uint64_t *count)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(p->txn, queue, &c);
    if (rc)
        return rc;
    MDB_val k, v;
    uint64_t n = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) {
        int64_t since;
        if (k.mv_size != key_len || v.mv_size < sizeof since) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(&since, v.mv_data, sizeof since);
        if (since > p->now_us - keep_us || over_budget(p, n))
            break;
        if (!del_change && get_be64(k.mv_data) >= p->st->wr_head)
            break;   /* the newest commit stays: its chain is what a replica checks against */
        const uint8_t *kb = k.mv_data;
        uint64_t start = get_be64(kb);
        if ((del_change && (rc = store_del_quiet(p->txn, p->st->changes, kb + key_len - 8, 8)) != 0) ||
            (rc = mdb_cursor_del(c, 0)) != 0)
            break;
        if (start > *mark)
            *mark = start;
        (*count)++;
        n++;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* One transaction of pruning. Returns an LMDB code. */
static int prune_once(prune_t *p, int64_t budget_us)
{
    store_t *st = p->st;
    p->low_water = st->wr_low_water;
    p->horizon = st->wr_tomb_horizon;
    p->commit_horizon = st->wr_commit_horizon;
    p->versions = p->tombstones = 0;
    p->more = 0;
    p->commit_us = 0;
    p->deadline_us = clock_mono_us() + budget_us;
    int rc = mdb_txn_begin(st->env, NULL, 0, &p->txn);
    if (rc)
        return rc;
    uint64_t commits = 0;
    rc = prune_queue(p, st->superseded, 16, st->version_keep_us, 1, &p->low_water, &p->versions);
    if (!rc && !p->more)
        rc = prune_queue(p, st->tombs, 8, st->tomb_keep_us, 1, &p->horizon, &p->tombstones);
    if (!rc && !p->more)
        rc = prune_queue(p, st->commits, 8, st->tomb_keep_us, 0, &p->commit_horizon, &commits);
    if (!rc && p->low_water != st->wr_low_water)
        rc = store_meta_put_u64(p->txn, st->meta, "low_water", 9, p->low_water);
    if (!rc && p->horizon != st->wr_tomb_horizon)
        rc = store_meta_put_u64(p->txn, st->meta, "tomb_horizon", 12, p->horizon);
    if (!rc && p->commit_horizon != st->wr_commit_horizon)
        rc = store_meta_put_u64(p->txn, st->meta, "commit_horizon", 14, p->commit_horizon);
    if (rc) {
        mdb_txn_abort(p->txn);
        return rc;
    }
    if (p->versions + p->tombstones + commits == 0) {
        mdb_txn_abort(p->txn);   /* nothing was due: no commit, no sync */
        return 0;
    }
    int64_t t0 = clock_mono_us();
    rc = mdb_txn_commit(p->txn);
    p->commit_us = clock_mono_us() - t0;
    if (rc)
        return rc;
    store_publish_marks(st, p->low_water, p->horizon, p->commit_horizon);
    atomic_fetch_add_explicit(&st->pruned_versions, p->versions, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->pruned_tombs, p->tombstones, memory_order_relaxed);
    return 0;
}

int store_prune(store_t *st, int64_t now_us, int64_t budget_us, unsigned max_txns, store_prune_stats_t *out)
{
    store_prune_stats_t s = {0};
    prune_t p = {.st = st, .now_us = now_us};
    int rc = 0, grown = 0;
    for (unsigned n = 0; max_txns == 0 || n < max_txns; n++) {
        int64_t t0 = clock_mono_us();
        rc = prune_once(&p, budget_us);
        if (rc == MDB_MAP_FULL && !grown++ && (rc = store_map_grow(st)) == 0)
            continue;   /* deleting can need a page or two: grow once and try again */
        if (rc == MDB_MAP_RESIZED && (rc = store_map_resize(st, 0)) == 0)
            continue;
        if (rc)
            break;
        int64_t took = clock_mono_us() - t0;
        if (took > s.txn_us && p.versions + p.tombstones)
            s.txn_us = took;
        if (p.commit_us > s.commit_us)
            s.commit_us = p.commit_us;
        s.versions += p.versions;
        s.tombstones += p.tombstones;
        if (!p.more)
            break;
    }
    if (out)
        *out = s;
    if (rc) {
        log_error("store", "%s: pruning failed: %s", st->path, mdb_strerror(rc));
        int code = store_code(rc);
        return code == STORE_ERR_NOTFOUND ? STORE_ERR_CORRUPT : code;
    }
    return p.more;
}

void store_publish_marks(store_t *st, uint64_t low_water, uint64_t tomb_horizon, uint64_t commit_horizon)
{
    st->wr_low_water = low_water;
    st->wr_tomb_horizon = tomb_horizon;
    st->wr_commit_horizon = commit_horizon;
    atomic_store_explicit(&st->low_water, low_water, memory_order_release);
    atomic_store_explicit(&st->tomb_horizon, tomb_horizon, memory_order_release);
    atomic_store_explicit(&st->commit_horizon, commit_horizon, memory_order_release);
}

/* Remove the entries of a queue whose clock-starting seq (the key's first 8 bytes) is at most
 * `upto`, and (del_change) their change-log entries. */
static int prune_upto(MDB_txn *txn, store_t *st, MDB_dbi queue, size_t key_len, int del_change, uint64_t upto,
                      uint64_t *count)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, queue, &c);
    if (rc)
        return rc;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) {
        if (k.mv_size != key_len) {
            rc = MDB_CORRUPTED;
            break;
        }
        const uint8_t *kb = k.mv_data;
        if (get_be64(kb) > upto)
            break;
        if ((del_change && (rc = store_del_quiet(txn, st->changes, kb + key_len - 8, 8)) != 0) ||
            (rc = mdb_cursor_del(c, 0)) != 0)
            break;
        (*count)++;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_prune_marks(store_t *st, MDB_txn *txn, uint64_t low_water, uint64_t tomb_horizon,
                      uint64_t commit_horizon, uint64_t *versions, uint64_t *tombs)
{
    uint64_t commits = 0;
    int rc = prune_upto(txn, st, st->superseded, 16, 1, low_water, versions);
    if (!rc)
        rc = prune_upto(txn, st, st->tombs, 8, 1, tomb_horizon, tombs);
    if (!rc)
        rc = prune_upto(txn, st, st->commits, 8, 0, commit_horizon, &commits);
    return rc;
}
