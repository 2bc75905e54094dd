/* store_upgrade.c -- bringing an older store up to the current schema, in place, on open.
 *
 * Schema 1 kept a full record of each current version in both `time` and `changes`; schema 2
 * keeps a pointer in `changes`; schema 3 (erasure) lists each activity's superseded versions
 * in its acts value, queues superseded versions and tombstones for pruning, and keeps no
 * content in tombstones. Upgrading to 3:
 *   begin (in the opening transaction): the schema number becomes 3 (an older server refuses
 *   the store from then on) and meta "upgrade3" records the progress: the last change-log seq
 *   done, or UPGRADE_LISTS once the log has been walked.
 *   walk (transactions of WALK_CHUNK entries): a record that is the current version (schema 1)
 *   becomes a pointer; a superseded version is noted under its activity in the temporary
 *   database "upgrade3"; a tombstone erases the versions noted for its activity (they belong
 *   to the life it ended) and is rewritten without content, keeping its deletion time, and
 *   queued for pruning.
 *   lists (transactions of LIST_CHUNK activities): each noted list becomes the activity's acts
 *   list and its versions are queued for pruning from now (the time they were superseded is not
 *   known); a list whose activity is gone is erased. The temporary database is dropped and the
 *   marker removed with the last chunk.
 * Every step is one transaction that records its progress, so a crash resumes where it stopped,
 * and a step done twice does the same thing again. */
#include "store_int.h"
#include "log.h"
#include "timefmt.h"
#include <errno.h>
#include <stdlib.h>

#define WALK_CHUNK 20000
#define LIST_CHUNK 5000
#define UPGRADE_LISTS UINT64_MAX

int store_upgrade_begin(store_t *st, MDB_txn *txn, uint32_t from)
{
    uint32_t v = SCHEMA_VERSION;
    MDB_val k = {6, "schema"}, d = {sizeof v, &v};
    int rc = mdb_put(txn, st->meta, &k, &d, 0);
    if (!rc)
        rc = store_meta_put_u64(txn, st->meta, "upgrade3", 8, 0);
    if (!rc)
        log_info("store", "%s: upgrading the store from schema %u to %d (erasure and retention); "
                 "servers older than this one will refuse it", st->path, from, SCHEMA_VERSION);
    return rc;
}

/* Work state of one upgrade transaction. */
typedef struct {
    store_t *st;
    MDB_txn *txn;
    MDB_dbi tmp;
    int64_t now_us;
    uint8_t *scratch;      /* owned: tombstones and lists being rebuilt */
    size_t scratch_cap;
} up_t;

static int room(up_t *u, size_t n)
{
    if (n <= u->scratch_cap)
        return 0;
    uint8_t *p = realloc(u->scratch, n);
    if (!p)
        return ENOMEM;
    u->scratch = p;
    u->scratch_cap = n;
    return 0;
}

static size_t key_of(up_t *u, const store_rec_t *r, uint8_t *kb)
{
    return store_acts_key(u->st, kb, r->feed, r->feed_len, r->id, r->id_len);
}

/* Note superseded version `seq` under its activity (appended to its list in tmp). */
static int note_version(up_t *u, const store_rec_t *r, uint64_t seq)
{
    uint8_t kb[MAX_KEY + 1];
    MDB_val k = {key_of(u, r, kb), kb}, v, av;
    int rc = mdb_get(u->txn, u->st->acts, &k, &av);
    if (rc == 0 && av.mv_size >= sizeof(acts_val_t)) {
        acts_val_t a;
        memcpy(&a, av.mv_data, sizeof a);
        if (a.seq == seq) {   /* schema 1's copy of the current version: make it a pointer */
            uint8_t kseq[8];
            put_be64(kseq, seq);
            MDB_val ck = {8, kseq}, cv = {PTR_LEN, &a.published_us};
            return mdb_put(u->txn, u->st->changes, &ck, &cv, 0);
        }
    } else if (rc && rc != MDB_NOTFOUND) {
        return rc;
    }
    rc = mdb_get(u->txn, u->tmp, &k, &v);
    size_t n = rc == 0 ? v.mv_size : 0;
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if ((rc = room(u, n + 8)) != 0)
        return rc;
    if (n)
        memcpy(u->scratch, v.mv_data, n);
    if (n == 0 || memcmp(u->scratch + n - 8, &seq, 8) != 0) {   /* a walk step done twice */
        memcpy(u->scratch + n, &seq, 8);
        n += 8;
    }
    v = (MDB_val){n, u->scratch};
    return mdb_put(u->txn, u->tmp, &k, &v, 0);
}

/* Erase the versions noted for the activity whose acts key is k, and forget them. */
static int erase_noted(up_t *u, MDB_val *k)
{
    MDB_val v;
    int rc = mdb_get(u->txn, u->tmp, k, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    for (size_t i = 0; i + 8 <= v.mv_size && !rc; i += 8) {
        uint64_t seq;
        uint8_t kseq[8];
        memcpy(&seq, (uint8_t *)v.mv_data + i, 8);
        put_be64(kseq, seq);
        rc = store_del_quiet(u->txn, u->st->changes, kseq, 8);
    }
    return rc ? rc : mdb_del(u->txn, u->tmp, k, NULL);
}

/* The deletion time an old tombstone's data carries ("deleted":"<RFC 3339>"), else now. */
static int64_t deleted_at(const up_t *u, const store_rec_t *r)
{
    static const char tag[] = "\"deleted\":\"";
    const char *p = memmem(r->data, r->data_len, tag, sizeof tag - 1), *end = r->data + r->data_len;
    int64_t us;
    if (!p)
        return u->now_us;
    p += sizeof tag - 1;
    const char *q = memchr(p, '"', (size_t)(end - p));
    return q && timefmt_parse_rfc3339(p, (size_t)(q - p), &us, NULL) == 0 ? us : u->now_us;
}

/* A tombstone: rewrite it without content, erase its activity's earlier versions, queue it.
 * (r points into a page: everything is read from it before the first write.) */
static int upgrade_tomb(up_t *u, const store_rec_t *r, uint64_t seq)
{
    int64_t when = deleted_at(u, r);
    uint8_t kb[MAX_KEY + 1];
    MDB_val key = {key_of(u, r, kb), kb};
    size_t len = store_tomb_build(r, when, &u->scratch, &u->scratch_cap);
    if (!len)
        return ENOMEM;
    int rc = erase_noted(u, &key);
    if (rc)
        return rc;
    memcpy(u->scratch, &seq, sizeof seq);
    uint8_t kseq[8];
    put_be64(kseq, seq);
    MDB_val k = {8, kseq}, v = {len, u->scratch}, t = {sizeof when, &when};
    rc = mdb_put(u->txn, u->st->changes, &k, &v, 0);
    return rc ? rc : mdb_put(u->txn, u->st->tombs, &k, &t, 0);
}

/* Walk up to WALK_CHUNK change-log entries after *pos; *pos gets the last seq done, or
 * UPGRADE_LISTS at the end of the log. */
static int walk_chunk(up_t *u, uint64_t *pos)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(u->txn, u->st->changes, &c);
    if (rc)
        return rc;
    uint8_t kb[8];
    put_be64(kb, *pos + 1);
    MDB_val k = {8, kb}, v;
    size_t n = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && n < WALK_CHUNK; n++) {
        uint64_t seq = get_be64(k.mv_data);
        store_rec_t r;
        if (v.mv_size != PTR_LEN) {
            if (store_rec_decode(v.mv_data, v.mv_size, &r)) {
                rc = MDB_CORRUPTED;
                break;
            }
            rc = r.kind == STORE_REC_DELETE ? upgrade_tomb(u, &r, seq) : note_version(u, &r, seq);
            if (rc)
                break;
        }
        *pos = seq;
        put_be64(kb, seq);   /* the writes above may have moved the cursor: find our place again */
        k = (MDB_val){8, kb};
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == 0)
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) {
        *pos = UPGRADE_LISTS;
        rc = 0;
    }
    return rc;
}

static uint64_t get_list(const MDB_val *list, size_t i)
{
    uint64_t seq;
    memcpy(&seq, (const uint8_t *)list->mv_data + i * 8, 8);
    return seq;
}

/* One noted list: the activity's acts list and pruning queue entries, or erased. */
static int settle_list(up_t *u, const MDB_val *key, const MDB_val *list)
{
    MDB_val av;
    size_t n = list->mv_size / 8, skip = n > MAX_PREV ? n - MAX_PREV : 0;
    int rc = mdb_get(u->txn, u->st->acts, (MDB_val *)key, &av);
    if (rc == MDB_NOTFOUND || (rc == 0 && av.mv_size < sizeof(acts_val_t))) {
        for (size_t i = 0; i < n && !rc; i++) {
            uint8_t kseq[8];
            put_be64(kseq, get_list(list, i));
            rc = store_del_quiet(u->txn, u->st->changes, kseq, 8);
        }
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (rc || (rc = room(u, sizeof(acts_val_t) + (n - skip) * 8)) != 0)
        return rc;
    acts_val_t a;
    memcpy(&a, av.mv_data, sizeof a);
    memcpy(u->scratch, &a, sizeof a);
    for (size_t i = skip; i < n && !rc; i++) {
        uint64_t seq = get_list(list, i), by = i + 1 < n ? get_list(list, i + 1) : a.seq;
        memcpy(u->scratch + sizeof a + (i - skip) * 8, &seq, 8);
        uint8_t sk[16];
        superseded_key(sk, by, seq);
        MDB_val qk = {16, sk}, qv = {sizeof u->now_us, &u->now_us};
        rc = mdb_put(u->txn, u->st->superseded, &qk, &qv, 0);
    }
    MDB_val nv = {sizeof a + (n - skip) * 8, u->scratch};
    return rc ? rc : mdb_put(u->txn, u->st->acts, (MDB_val *)key, &nv, 0);
}

/* Settle up to LIST_CHUNK noted lists; *done when none is left. */
static int list_chunk(up_t *u, int *done)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(u->txn, u->tmp, &c);
    if (rc)
        return rc;
    MDB_val k, v;
    size_t n = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && n < LIST_CHUNK; n++) {
        if ((rc = settle_list(u, &k, &v)) != 0 || (rc = mdb_cursor_del(c, 0)) != 0)
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    }
    mdb_cursor_close(c);
    *done = rc == MDB_NOTFOUND;
    return *done ? 0 : rc;
}

/* One step in its own transaction. Returns an LMDB code; *finished when nothing is left. */
static int upgrade_step(up_t *u, int *finished)
{
    store_t *st = u->st;
    uint64_t pos;
    int rc = mdb_txn_begin(st->env, NULL, 0, &u->txn);
    if (rc)
        return rc;
    rc = store_meta_get_u64(u->txn, st->meta, "upgrade3", 8, &pos);
    if (rc == MDB_NOTFOUND) {
        *finished = 1;
        mdb_txn_abort(u->txn);
        return 0;
    }
    if (!rc)
        rc = mdb_dbi_open(u->txn, "upgrade3", MDB_CREATE, &u->tmp);
    int lists_done = 0;
    if (!rc && pos != UPGRADE_LISTS)
        rc = walk_chunk(u, &pos);
    else if (!rc)
        rc = list_chunk(u, &lists_done);
    if (!rc && lists_done) {
        rc = mdb_drop(u->txn, u->tmp, 1);
        if (!rc)
            rc = store_del_quiet(u->txn, st->meta, "upgrade3", 8);
    } else if (!rc) {
        rc = store_meta_put_u64(u->txn, st->meta, "upgrade3", 8, pos);
    }
    if (rc) {
        mdb_txn_abort(u->txn);
        return rc;
    }
    return mdb_txn_commit(u->txn);
}

int store_upgrade_finish(store_t *st)
{
    up_t u = {.st = st, .now_us = timefmt_now_us()};
    int finished = 0, rc = 0, steps = 0;
    while (!finished && rc == 0) {
        rc = upgrade_step(&u, &finished);
        if (rc == MDB_MAP_FULL && (rc = store_map_grow(st)) == 0)
            continue;
        steps++;
    }
    free(u.scratch);
    if (rc == 0 && steps > 1)
        log_info("store", "%s: store upgraded to schema %d", st->path, SCHEMA_VERSION);
    return rc;
}
