/* store_repl.c -- the store's side of replication (contract in store.h, "replication"): its
 * identity, reading the change log the way a replica needs it (every entry's full record, the
 * commit boundaries with their chain, the pruning marks of the same snapshot), snapshots, and a
 * replica's adoption of its primary's identity, promotion and the installation of a snapshot. */
#include "store_int.h"
#include "errfmt.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

const char *store_id(const store_t *st) { return st->id_hex; }

const char *store_tag(const store_t *st) { return st->tag; }

void store_identity(const store_t *st, store_identity_t *out)
{
    memcpy(out->id, st->id, sizeof out->id);
    memcpy(out->parent, st->parent, sizeof out->parent);
    out->fork = st->fork;
}

/* ---- reading the log ---- */

typedef struct {
    store_t *st;
    MDB_txn *txn;
    MDB_cursor *changes, *time, *commits;
    int time_set;
} logscan_t;

/* The full record of change-log entry `v` at seq (a pointer is resolved through `time`). */
static int entry_record(logscan_t *ls, uint64_t seq, MDB_val *v)
{
    int rc = store_change_record(ls->st, ls->time, &ls->time_set, seq, v);
    return rc == STORE_ERR_CORRUPT ? MDB_CORRUPTED : rc;
}

static int log_marks(logscan_t *ls, store_log_fn *fn, void *ud)
{
    store_log_item_t it = {.kind = STORE_LOG_MARKS};
    int rc = store_meta_get_u64(ls->txn, ls->st->meta, "low_water", 9, &it.low_water);
    if (rc == MDB_NOTFOUND || rc == 0)
        rc = store_meta_get_u64(ls->txn, ls->st->meta, "tomb_horizon", 12, &it.tomb_horizon);
    if (rc == MDB_NOTFOUND || rc == 0)
        rc = store_meta_get_u64(ls->txn, ls->st->meta, "commit_horizon", 14, &it.commit_horizon);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    fn(&it, ud);
    return 0;
}

/* Walk entries and commits after `after` in seq order: each entry before the commit that
 * contains it. */
static int log_walk(logscan_t *ls, uint64_t after, size_t limit, store_log_fn *fn, void *ud, uint64_t *last)
{
    uint8_t kb[8];
    put_be64(kb, after + 1);
    MDB_val ek = {8, kb}, ev, ck = {8, kb}, cv;
    int erc = mdb_cursor_get(ls->changes, &ek, &ev, MDB_SET_RANGE);
    int crc = mdb_cursor_get(ls->commits, &ck, &cv, MDB_SET_RANGE);
    size_t n = 0;
    while (crc == 0 && n < limit) {
        if (ck.mv_size != 8 || cv.mv_size != sizeof(commit_t) || (erc == 0 && ek.mv_size != 8))
            return MDB_CORRUPTED;
        uint64_t cseq = get_be64(ck.mv_data);
        commit_t c;
        memcpy(&c, cv.mv_data, sizeof c);
        store_log_item_t it = {.commit_us = c.commit_us};
        if (erc == 0 && get_be64(ek.mv_data) <= cseq) {
            it.kind = STORE_LOG_ENTRY;
            it.seq = get_be64(ek.mv_data);
            int rc = entry_record(ls, it.seq, &ev);
            if (rc)
                return rc;
            it.record = ev.mv_data;
            it.record_len = ev.mv_size;
            erc = mdb_cursor_get(ls->changes, &ek, &ev, MDB_NEXT);
        } else {
            it.kind = STORE_LOG_COMMIT;
            it.seq = cseq;
            it.chain = c.chain;
            crc = mdb_cursor_get(ls->commits, &ck, &cv, MDB_NEXT);
        }
        n++;
        *last = it.seq;
        if (fn(&it, ud))
            break;
    }
    if (erc && erc != MDB_NOTFOUND)
        return erc;
    return crc == MDB_NOTFOUND ? 0 : crc;
}

int store_log_scan(store_t *st, uint64_t after, size_t limit, store_log_fn *fn, void *ud, uint64_t *last)
{
    logscan_t ls = {.st = st};
    *last = after;
    int rc = store_read_begin(st, &ls.txn);
    if (rc)
        return STORE_ERR_IO;
    rc = mdb_cursor_open(ls.txn, st->changes, &ls.changes);
    if (!rc)
        rc = mdb_cursor_open(ls.txn, st->time, &ls.time);
    if (!rc)
        rc = mdb_cursor_open(ls.txn, st->commits, &ls.commits);
    if (!rc)
        rc = log_marks(&ls, fn, ud);
    if (!rc)
        rc = log_walk(&ls, after, limit ? limit : SIZE_MAX, fn, ud, last);
    if (ls.changes)
        mdb_cursor_close(ls.changes);
    if (ls.time)
        mdb_cursor_close(ls.time);
    if (ls.commits)
        mdb_cursor_close(ls.commits);
    store_read_end(st, ls.txn);
    if (rc) {
        log_error("store", "%s: reading the log: %s", st->path, mdb_strerror(rc));
        return store_code(rc) == STORE_ERR_NOTFOUND ? STORE_ERR_CORRUPT : store_code(rc);
    }
    return 0;
}

int store_commit_chain(store_t *st, uint64_t seq, uint64_t *chain)
{
    MDB_txn *txn;
    int rc = store_read_begin(st, &txn);
    if (rc)
        return STORE_ERR_IO;
    uint64_t last = 0;
    commit_t c;
    rc = store_commit_at(txn, st->commits, seq, &last, &c);
    store_read_end(st, txn);
    if (rc == 0 && last != seq)
        rc = MDB_NOTFOUND;
    if (rc)
        return rc == MDB_NOTFOUND ? STORE_ERR_NOTFOUND : store_code(rc);
    *chain = c.chain;
    return 0;
}

uint64_t store_chain(store_t *st, uint64_t *head)
{
    MDB_txn *txn;
    uint64_t chain = 0;
    *head = 0;
    if (store_read_begin(st, &txn))
        return 0;
    MDB_cursor *c;
    MDB_val k, v;
    if (mdb_cursor_open(txn, st->commits, &c) == 0) {
        if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0 && k.mv_size == 8 && v.mv_size == sizeof(commit_t)) {
            commit_t ct;
            memcpy(&ct, v.mv_data, sizeof ct);
            chain = ct.chain;
            *head = get_be64(k.mv_data);
        }
        mdb_cursor_close(c);
    }
    store_read_end(st, txn);
    return chain;
}

/* ---- identity changes ---- */

/* Write id, parent, fork (and the replica marker) in one transaction, then adopt them. */
static int identity_write(store_t *st, const store_identity_t *ident, int replica)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc)
        return store_code(rc);
    MDB_val k = {2, "id"}, v = {sizeof ident->id, (void *)ident->id};
    rc = mdb_put(txn, st->meta, &k, &v, 0);
    k = (MDB_val){6, "parent"};
    v = (MDB_val){sizeof ident->parent, (void *)ident->parent};
    if (!rc)
        rc = mdb_put(txn, st->meta, &k, &v, 0);
    if (!rc)
        rc = store_meta_put_u64(txn, st->meta, "fork", 4, ident->fork);
    if (!rc)
        rc = store_meta_put_u64(txn, st->meta, "replica", 7, (uint64_t)replica);
    if (rc) {
        mdb_txn_abort(txn);
        return store_code(rc);
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return store_code(rc);
    memcpy(st->id, ident->id, sizeof st->id);
    memcpy(st->parent, ident->parent, sizeof st->parent);
    st->fork = ident->fork;
    store_identity_text(st);
    return 0;
}

int store_adopt_identity(store_t *st, const store_identity_t *ident)
{
    return identity_write(st, ident, 1);
}

int store_is_replica(store_t *st)
{
    MDB_txn *txn;
    uint64_t v = 0;
    if (store_read_begin(st, &txn))
        return 0;
    int rc = store_meta_get_u64(txn, st->meta, "replica", 7, &v);
    store_read_end(st, txn);
    return rc == 0 && v;
}

int store_promote(store_t *st)
{
    store_identity_t ident;
    char was[33];
    memcpy(was, st->id_hex, sizeof was);
    memcpy(ident.parent, st->id, sizeof ident.parent);
    ident.fork = st->wr_head;
    if (getrandom(ident.id, sizeof ident.id, 0) != (ssize_t)sizeof ident.id)
        return STORE_ERR_IO;
    int rc = identity_write(st, &ident, 0);
    if (!rc)
        log_info("store", "%s: promoted to a primary: store id %s, forked from %s at seq %llu", st->path,
                 st->id_hex, was, (unsigned long long)ident.fork);
    return rc;
}

/* ---- snapshots ---- */

int store_snapshot_write(store_t *st, int fd)
{
    pthread_rwlock_rdlock(&st->grow);
    int rc = mdb_env_copyfd2(st->env, fd, MDB_CP_COMPACT);
    pthread_rwlock_unlock(&st->grow);
    if (!rc && fsync(fd) != 0)
        rc = errno;
    if (rc) {
        log_error("store", "%s: snapshot: %s", st->path, mdb_strerror(rc));
        return store_code(rc) == STORE_ERR_NOTFOUND ? STORE_ERR_IO : store_code(rc);
    }
    return 0;
}

int store_snapshot_install(store_t *st, const char *path, char *err, size_t errlen)
{
    uint64_t head;
    char id[33];
    if (store_snapshot_info(path, &head, id) != 0 || !id[0]) {   /* before anything is touched */
        errfmt(err, errlen, "%s: not a store snapshot (no LMDB file with a store's identity); the store is "
               "left as it was", path);
        unlink(path);
        return STORE_ERR_CORRUPT;
    }
    int rc = store_reopen(st, path, err, errlen);
    if (rc)
        return rc;
    store_identity_t ident;
    store_identity(st, &ident);
    return identity_write(st, &ident, 1);   /* the copy came from a primary: mark it a replica's */
}

int store_feed_states(store_t *st, store_feed_state_fn *fn, void *ud)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    if (store_read_begin(st, &txn))
        return STORE_ERR_IO;
    int rc = mdb_cursor_open(txn, st->feeds, &c);
    for (rc = rc ? rc : mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if (fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, ud))
            break;
    if (c)
        mdb_cursor_close(c);
    store_read_end(st, txn);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_code(rc);
}

int store_snapshot_info(const char *path, uint64_t *head, char id_hex[33])
{
    MDB_env *env;
    MDB_txn *txn = NULL;
    MDB_dbi meta;
    MDB_val k = {2, "id"}, v;
    *head = 0;
    id_hex[0] = '\0';
    int rc = mdb_env_create(&env);
    if (rc)
        return STORE_ERR_NOMEM;
    rc = mdb_env_set_maxdbs(env, 16);
    if (!rc)
        rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0644);
    if (!rc)
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (!rc)
        rc = mdb_dbi_open(txn, "meta", 0, &meta);
    if (!rc)
        rc = store_meta_get_u64(txn, meta, "head", 4, head);
    if (!rc || rc == MDB_NOTFOUND)
        rc = mdb_get(txn, meta, &k, &v);
    if (!rc && v.mv_size == 16) {
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < 16; i++) {
            id_hex[2 * i] = hex[((const uint8_t *)v.mv_data)[i] >> 4];
            id_hex[2 * i + 1] = hex[((const uint8_t *)v.mv_data)[i] & 15];
        }
        id_hex[32] = '\0';
    } else if (!rc) {
        rc = MDB_CORRUPTED;
    }
    if (txn)
        mdb_txn_abort(txn);
    mdb_env_close(env);
    return rc ? STORE_ERR_CORRUPT : 0;
}
