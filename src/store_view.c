/* store_view.c -- frozen views: a read transaction kept open across calls (the environment is
 * opened with MDB_NOTLS, so it may move between threads), for searches that page through one
 * consistent state of the store (Elasticsearch's point in time and scroll). A view pins the
 * pages it sees while it lives: its owner bounds how many are open and for how long, and the
 * store ends every view before the map is resized or the file replaced (a remap needs no read
 * transaction active in the process); a view ended that way answers STORE_ERR_EXPIRED.
 *
 * Locking: a scan on a view holds the map-growth lock for reading, like any scan; expiring
 * happens under it for writing, so never in the middle of a scan. `views_mu` guards the list. */
#include "store_int.h"
#include "log.h"
#include <errno.h>
#include <stdlib.h>

struct store_view {
    store_t *st;                      /* borrowed */
    MDB_txn *txn;                     /* owned; NULL once expired */
    uint64_t head;
    struct store_view *next, **pprev; /* in st->views */
};

int store_view_open(store_t *st, store_view_t **out)
{
    *out = NULL;
    store_view_t *v = calloc(1, sizeof *v);
    if (!v)
        return STORE_ERR_NOMEM;
    v->st = st;
    pthread_rwlock_rdlock(&st->grow);
    int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &v->txn);
    uint64_t head = 0;
    if (!rc) {
        rc = store_meta_get_u64(v->txn, st->meta, "head", 4, &head);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (!rc) {
        v->head = head;
        pthread_mutex_lock(&st->views_mu);
        v->next = st->views;
        if (v->next)
            v->next->pprev = &v->next;
        v->pprev = &st->views;
        st->views = v;
        pthread_mutex_unlock(&st->views_mu);
    } else if (v->txn) {
        mdb_txn_abort(v->txn);
    }
    pthread_rwlock_unlock(&st->grow);
    if (rc) {
        free(v);
        log_error("store", "%s: cannot open a view: %s", st->path, mdb_strerror(rc));
        return rc == ENOMEM ? STORE_ERR_NOMEM : STORE_ERR_IO;
    }
    *out = v;
    return 0;
}

void store_view_close(store_view_t *v)
{
    if (!v)
        return;
    store_t *st = v->st;
    pthread_mutex_lock(&st->views_mu);
    if (v->pprev) {
        *v->pprev = v->next;
        if (v->next)
            v->next->pprev = v->pprev;
    }
    MDB_txn *txn = v->txn;
    v->txn = NULL;
    pthread_mutex_unlock(&st->views_mu);
    if (txn)
        mdb_txn_abort(txn);
    free(v);
}

void store_views_expire(store_t *st)
{
    pthread_mutex_lock(&st->views_mu);
    for (store_view_t *v = st->views; v; v = v->next) {
        if (v->txn)
            mdb_txn_abort(v->txn);
        v->txn = NULL;
    }
    pthread_mutex_unlock(&st->views_mu);
}

uint64_t store_view_head(const store_view_t *v) { return v->head; }

int store_view_scan_time(store_view_t *v, store_tpos_t after, int64_t end_us, int descending, size_t limit,
                         store_scan_fn *fn, void *ud, store_tpos_t *last)
{
    store_t *st = v->st;
    if (last)
        *last = after;
    pthread_rwlock_rdlock(&st->grow);
    int rc = v->txn ? store_scan_time_txn(st, v->txn, after, end_us, 0, limit, fn, ud, last, !descending)
                    : STORE_ERR_EXPIRED;
    pthread_rwlock_unlock(&st->grow);
    return rc;
}

int store_view_get(store_view_t *v, const char *feed, const char *id, size_t id_len, store_scan_fn *fn, void *ud)
{
    store_t *st = v->st;
    pthread_rwlock_rdlock(&st->grow);
    int rc = v->txn ? store_get_txn(st, v->txn, feed, id, id_len, fn, ud) : STORE_ERR_EXPIRED;
    pthread_rwlock_unlock(&st->grow);
    return rc;
}
