/* store_batch.c -- writing the store: batches buffer operations and apply them in one write
 * transaction (contract in store.h; layout in store_int.h).
 *
 * A batch copies every operation into one growing arena it owns (reused across commits, so the
 * hot path does not allocate); the record of an upsert is built there once. store_batch_commit
 * applies the arena in one write transaction, assigning seqs head+1, ... New change-log entries
 * are appended (MDB_APPEND); moving a retired version's record into the change log overwrites
 * an existing key, rewriting (and maybe splitting) an older page of `changes`, so inserts write
 * half the bytes updates and deletes do. On MDB_MAP_FULL the commit aborts, doubles the map and
 * replays the same arena. */
#include "store_int.h"
#include "bytebuf.h"
#include "log.h"
#include "timefmt.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

enum { OP_UPSERT = 1, OP_DELETE, OP_SWEEP, OP_STATE, OP_ENTRY, OP_COMMIT, OP_PRUNE_TO };

/* One buffered operation in the arena, followed by len1 + len2 payload bytes, padded to 8.
 *   OP_UPSERT: the record (len1)          OP_DELETE: feed (len1), id (len2)
 *   OP_SWEEP:  feed (len1), gen, max deletions in `pad` (0: all)
 *   OP_STATE:  feed (len1), blob (len2)
 * A replica's ops (store_batch_apply_*), applying what its primary wrote:
 *   OP_ENTRY:  a record as the primary stores it (len1), its commit time in `gen`
 *   OP_COMMIT: repl_commit_t (len1)        OP_PRUNE_TO: repl_marks_t (len1) */
typedef struct {
    uint32_t kind, len1, len2, pad;
    uint64_t gen;
} op_t;

typedef struct {
    const char *feed;                 /* borrowed from the arena */
    size_t len;
    int64_t delta;
} count_delta_t;

struct store_batch {
    store_t *st;                      /* borrowed */
    uint8_t *ops;                     /* owned arena of op_t + payload */
    size_t len, cap;
    uint8_t *scratch;                 /* owned: tombstone records under construction */
    size_t scratch_cap;
    uint8_t *hold;                    /* owned: copy of the record of a version being retired */
    size_t hold_cap;
    count_delta_t *deltas;            /* owned: per-feed count changes of one attempt */
    size_t ndeltas, deltas_cap;
    uint64_t *prev;                   /* owned: the superseded-version list being rewritten */
    size_t prev_cap;
};

typedef struct {
    uint64_t last_seq;
    int64_t commit_us;
    uint64_t chain;
} repl_commit_t;

typedef struct {
    uint64_t low_water, tomb_horizon, commit_horizon;
} repl_marks_t;

/* State of one attempt at applying a batch. */
typedef struct {
    store_t *st;
    store_batch_t *b;
    MDB_txn *txn;
    MDB_cursor *c_acts, *c_time, *c_changes;   /* closed with the write txn */
    MDB_cursor *c_superseded, *c_tombs;
    uint64_t head;                             /* last seq assigned in this attempt */
    uint8_t max_time[16];                      /* largest key in `time` seen so far */
    int have_max_time;
    uint8_t max_acts[MAX_KEY];                 /* largest key in `acts` seen so far */
    size_t max_acts_len;                       /* 0: acts is empty */
    int64_t now_us;                            /* the commit's time: deletions, retirements */
    uint64_t chain;                            /* the commit chain after the last record */
    uint64_t forced_seq;                       /* a replicated entry's seq for next_seq (0: none) */
    int replicated;                            /* the batch applies a primary's commits */
    uint64_t low_water;                        /* raised when a version is not kept */
    uint64_t tomb_horizon, commit_horizon;     /* raised by a replicated prune */
    int prune_pending;                         /* a replicated prune to run after the entries */
    size_t nprev;                              /* entries of b->prev in use */
    uint64_t pruned_versions, pruned_tombs;    /* for /metrics, added once the commit is made */
    uint64_t erased;
    store_batch_stats_t stats;
} apply_t;

/* The current version of an activity, as get_current reads it. */
typedef struct {
    acts_val_t av;
    uint8_t tk[16];                            /* its `time` key */
    MDB_val rec;                               /* its record (BORROWED: until the next write) */
} current_t;


/* ---------------------------------------------------------------------------------------- */
/* Batches: buffering                                                                        */

int store_batch_new(store_t *st, store_batch_t **out)
{
    *out = NULL;
    if (!st)
        return STORE_ERR_INVALID;
    store_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return STORE_ERR_NOMEM;
    b->st = st;
    *out = b;
    return 0;
}

void store_batch_free(store_batch_t *b)
{
    if (!b)
        return;
    free(b->ops);
    free(b->scratch);
    free(b->hold);
    free(b->deltas);
    free(b->prev);
    free(b);
}

void store_batch_reset(store_batch_t *b)
{
    b->len = 0;
    b->ndeltas = 0;
    if (b->cap > ARENA_KEEP) {   /* do not keep the memory of one giant batch forever */
        free(b->ops);
        b->ops = NULL;
        b->cap = 0;
    }
}

/* Room for n more bytes at b->ops + b->len; NULL on malloc failure. */
static uint8_t *arena_room(store_batch_t *b, size_t n)
{
    if (n > SIZE_MAX / 4 - b->len)
        return NULL;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64 * 1024;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->ops, cap);
        if (!p)
            return NULL;
        b->ops = p;
        b->cap = cap;
    }
    return b->ops + b->len;
}

/* Append an op whose payload (already written after the op_t slot at `p`) is len1 + len2. */
static void arena_push(store_batch_t *b, uint8_t *p, uint32_t kind, size_t len1, size_t len2,
                       uint64_t gen)
{
    op_t op = {kind, (uint32_t)len1, (uint32_t)len2, 0, gen};
    memcpy(p, &op, sizeof op);
    size_t n = align8(sizeof op + len1 + len2);
    memset(p + sizeof op + len1 + len2, 0, n - (sizeof op + len1 + len2));
    b->len += n;
}

/* Build the upsert record of `a` at rec (seq 0); returns its length. */
static size_t rec_build_upsert(uint8_t *rec, const store_activity_t *a)
{
    uint8_t *p = rec + sizeof(rec_hdr_t);
    p = put_bytes(p, a->feed, a->feed_len);
    p = put_bytes(p, a->id, a->id_len);
    p = put_bytes(p, a->types, a->types_len);
    p = put_bytes(p, a->actor, a->actor_len);
    uint8_t *data = p;
    p = put_lit(p, "{\"feed\":");
    p = (uint8_t *)bytebuf_put_json_str((char *)p, a->feed, a->feed_len);
    p = put_lit(p, ",\"activity\":");
    uint8_t *json = p;
    p = put_bytes(p, a->json, a->json_len);
    *p++ = '}';
    rec_hdr_t h = {
        .seq = 0, .published_us = a->published_us, .kind = STORE_REC_UPSERT,
        .feed_len = (uint32_t)a->feed_len, .id_len = (uint32_t)a->id_len,
        .types_len = (uint32_t)a->types_len, .actor_len = (uint32_t)a->actor_len,
        .data_len = (uint32_t)(p - data), .json_off = (uint32_t)(json - rec),
        .json_len = (uint32_t)a->json_len,
    };
    memcpy(rec, &h, sizeof h);
    return (size_t)(p - rec);
}

int store_batch_upsert(store_batch_t *b, const store_activity_t *a, uint64_t gen)
{
    if (!b || !a || store_check_feed(a->feed, a->feed_len) || !a->json || a->json_len == 0
        || (a->id_len && !a->id) || (a->types_len && !a->types) || (a->actor_len && !a->actor))
        return STORE_ERR_INVALID;
    /* Event data goes out as one SSE line: compact JSON never holds a raw CR or LF. */
    if (memchr(a->json, '\n', a->json_len) || memchr(a->json, '\r', a->json_len))
        return STORE_ERR_INVALID;
    size_t max = sizeof(rec_hdr_t) + a->feed_len + 8 + JSON_STR_MAX(a->feed_len) + 12 + 1;
    if (a->id_len > UINT32_MAX / 4 || a->types_len > UINT32_MAX / 4
        || a->actor_len > UINT32_MAX / 4 || a->json_len > UINT32_MAX / 4
        || a->id_len + a->types_len + a->actor_len + a->json_len > UINT32_MAX - max - 8)
        return STORE_ERR_INVALID;
    max += a->id_len + a->types_len + a->actor_len + a->json_len;
    uint8_t *p = arena_room(b, align8(sizeof(op_t) + max));
    if (!p)
        return STORE_ERR_NOMEM;
    size_t rlen = rec_build_upsert(p + sizeof(op_t), a);
    arena_push(b, p, OP_UPSERT, rlen, 0, gen);
    return 0;
}

/* Buffer an op carrying feed and an optional second blob. */
static int push_feed_op(store_batch_t *b, uint32_t kind, const char *feed, const void *blob,
                        size_t blen, uint64_t gen)
{
    if (!b)
        return STORE_ERR_INVALID;
    size_t flen = feed ? strlen(feed) : 0;
    if (store_check_feed(feed, flen) || blen > UINT32_MAX / 2 || (blen && !blob))
        return STORE_ERR_INVALID;
    uint8_t *p = arena_room(b, align8(sizeof(op_t) + flen + blen));
    if (!p)
        return STORE_ERR_NOMEM;
    put_bytes(put_bytes(p + sizeof(op_t), feed, flen), blob, blen);
    arena_push(b, p, kind, flen, blen, gen);
    return 0;
}

int store_batch_delete(store_batch_t *b, const char *feed, const char *id, size_t id_len)
{
    if (id_len && !id)
        return STORE_ERR_INVALID;
    return push_feed_op(b, OP_DELETE, feed, id, id_len, 0);
}

int store_batch_sweep(store_batch_t *b, const char *feed, uint64_t gen)
{
    return store_batch_sweep_some(b, feed, gen, 0);
}

int store_batch_sweep_some(store_batch_t *b, const char *feed, uint64_t gen, size_t max)
{
    size_t len = b ? b->len : 0;
    int rc = push_feed_op(b, OP_SWEEP, feed, NULL, 0, gen);
    if (rc == 0) {   /* the limit rides in the op's spare word */
        op_t op;
        memcpy(&op, b->ops + len, sizeof op);
        op.pad = max > UINT32_MAX ? UINT32_MAX : (uint32_t)max;
        memcpy(b->ops + len, &op, sizeof op);
    }
    return rc;
}

int store_batch_apply_entry(store_batch_t *b, const void *record, size_t len, int64_t commit_us)
{
    store_rec_t r;
    if (!b || !record || store_rec_decode(record, len, &r) || len > UINT32_MAX / 2)
        return STORE_ERR_INVALID;
    uint8_t *p = arena_room(b, align8(sizeof(op_t) + len));
    if (!p)
        return STORE_ERR_NOMEM;
    memcpy(p + sizeof(op_t), record, len);
    arena_push(b, p, OP_ENTRY, len, 0, (uint64_t)commit_us);
    return 0;
}

/* Buffer an op whose payload is a fixed struct. */
static int push_fixed(store_batch_t *b, uint32_t kind, const void *payload, size_t len)
{
    if (!b)
        return STORE_ERR_INVALID;
    uint8_t *p = arena_room(b, align8(sizeof(op_t) + len));
    if (!p)
        return STORE_ERR_NOMEM;
    memcpy(p + sizeof(op_t), payload, len);
    arena_push(b, p, kind, len, 0, 0);
    return 0;
}

int store_batch_apply_commit(store_batch_t *b, uint64_t last_seq, int64_t commit_us, uint64_t chain)
{
    repl_commit_t c = {last_seq, commit_us, chain};
    return push_fixed(b, OP_COMMIT, &c, sizeof c);
}

int store_batch_prune_to(store_batch_t *b, uint64_t low_water, uint64_t tomb_horizon, uint64_t commit_horizon)
{
    repl_marks_t m = {low_water, tomb_horizon, commit_horizon};
    return push_fixed(b, OP_PRUNE_TO, &m, sizeof m);
}

int store_batch_put_feed_state(store_batch_t *b, const char *feed, const void *state, size_t len)
{
    return push_feed_op(b, OP_STATE, feed, state, len, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Batches: applying                                                                         */

static int count_add(apply_t *ap, const char *feed, size_t len, int64_t delta)
{
    store_batch_t *b = ap->b;
    for (size_t i = b->ndeltas; i-- > 0;) {
        count_delta_t *d = &b->deltas[i];
        if (d->len == len && memcmp(d->feed, feed, len) == 0) {
            d->delta += delta;
            return 0;
        }
    }
    if (b->ndeltas == b->deltas_cap) {
        size_t cap = b->deltas_cap ? b->deltas_cap * 2 : 8;
        count_delta_t *p = realloc(b->deltas, cap * sizeof *p);
        if (!p)
            return ENOMEM;
        b->deltas = p;
        b->deltas_cap = cap;
    }
    b->deltas[b->ndeltas++] = (count_delta_t){feed, len, delta};
    return 0;
}


static int flush_counts(apply_t *ap)
{
    for (size_t i = 0; i < ap->b->ndeltas; i++) {
        const count_delta_t *d = &ap->b->deltas[i];
        if (d->delta == 0)
            continue;
        char key[6 + STORE_MAX_FEED_LEN];
        size_t klen = store_count_key(key, d->feed, d->len);
        uint64_t n = 0;
        int rc = store_meta_get_u64(ap->txn, ap->st->meta, key, klen, &n);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        n = d->delta < 0 && (uint64_t)-d->delta > n ? 0 : n + (uint64_t)d->delta;
        rc = store_meta_put_u64(ap->txn, ap->st->meta, key, klen, n);
        if (rc)
            return rc;
    }
    return 0;
}

/* At least n bytes in the owned buffer *buf of capacity *cap; NULL on malloc failure. */
static uint8_t *buf_room(uint8_t **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return *buf;
    uint8_t *p = realloc(*buf, n);
    if (!p)
        return NULL;
    *buf = p;
    *cap = n;
    return p;
}

/* Append an entry (a pointer or a record) to the change log under seq; the chain takes in the
 * full record (`rec`, which for a pointer is the record it points to). */
static int put_change(apply_t *ap, uint64_t seq, const void *entry, size_t len, const void *rec,
                      size_t rec_len)
{
    uint8_t kb[8];
    put_be64(kb, seq);
    MDB_val k = {8, kb}, v = {len, NULL};
    int rc = mdb_cursor_put(ap->c_changes, &k, &v, MDB_APPEND | MDB_RESERVE);
    if (rc)
        return rc;
    memcpy(v.mv_data, entry, len);
    ap->chain = store_chain_next(ap->chain, rec, rec_len);
    return 0;
}

/* Put rec into the time index; appends in place when the key is past the end. */
static int put_time(apply_t *ap, const uint8_t tk[16], const void *rec, size_t len)
{
    int append = !ap->have_max_time || memcmp(tk, ap->max_time, 16) > 0;
    MDB_val k = {16, (void *)tk}, v = {len, NULL};
    int rc = mdb_cursor_put(ap->c_time, &k, &v, MDB_RESERVE | (append ? MDB_APPEND : 0));
    if (rc == MDB_KEYEXIST && append) {
        v = (MDB_val){len, NULL};
        rc = mdb_cursor_put(ap->c_time, &k, &v, MDB_RESERVE);
    }
    if (rc)
        return rc;
    memcpy(v.mv_data, rec, len);
    if (append) {
        memcpy(ap->max_time, tk, 16);
        ap->have_max_time = 1;
    }
    return 0;
}

/* LMDB's default key order: memcmp, then the shorter first. */
static int key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    int d = memcmp(a, b, alen < blen ? alen : blen);
    return d ? d : (alen > blen) - (alen < blen);
}

/* Is akey past the last key of `acts` (so it cannot exist, and can be appended)? */
static int acts_past_end(const apply_t *ap, const MDB_val *akey)
{
    return ap->max_acts_len == 0
           || key_cmp(akey->mv_data, akey->mv_size, ap->max_acts, ap->max_acts_len) > 0;
}

/* The seq of the next change: head + 1, or a replicated entry's own seq. */
static uint64_t next_seq(apply_t *ap)
{
    uint64_t seq = ap->forced_seq ? ap->forced_seq : ap->head + 1;
    ap->forced_seq = 0;
    if (seq > ap->head)
        ap->head = seq;
    if (!ap->stats.first_seq)
        ap->stats.first_seq = seq;
    ap->stats.last_seq = seq;
    return seq;
}

/* ---- the superseded-version list of an acts value (in b->prev while it is rewritten) ---- */

static int prev_room(apply_t *ap, size_t n)
{
    if (n <= ap->b->prev_cap)
        return 0;
    size_t cap = ap->b->prev_cap ? ap->b->prev_cap * 2 : 16;
    while (cap < n)
        cap *= 2;
    uint64_t *p = realloc(ap->b->prev, cap * sizeof *p);
    if (!p)
        return ENOMEM;
    ap->b->prev = p;
    ap->b->prev_cap = cap;
    return 0;
}

/* Write the acts value: the header and ap->b->prev[0..nprev). */
static int put_acts_list(apply_t *ap, MDB_val *akey, const acts_val_t *av)
{
    size_t n = ap->nprev, len = sizeof *av + n * sizeof(uint64_t);
    MDB_val v = {len, NULL};
    int append = acts_past_end(ap, akey);
    int rc = mdb_put(ap->txn, ap->st->acts, akey, &v, MDB_RESERVE | (append ? MDB_APPEND : 0));
    if (rc)
        return rc;
    memcpy(v.mv_data, av, sizeof *av);
    if (n)
        memcpy((uint8_t *)v.mv_data + sizeof *av, ap->b->prev, n * sizeof(uint64_t));
    if (append) {
        memcpy(ap->max_acts, akey->mv_data, akey->mv_size);
        ap->max_acts_len = akey->mv_size;
    }
    return 0;
}

/* Write a new current version at `seq` (patched into the record in the arena): its record into
 * `time`, a pointer to it into the change log, and its acts value with ap->b->prev. */
static int write_version(apply_t *ap, uint8_t *rec, size_t len, MDB_val *akey, uint64_t gen,
                         uint64_t seq)
{
    rec_hdr_t h;
    memcpy(&h, rec, sizeof h);
    memcpy(rec, &seq, sizeof seq);
    int rc = put_change(ap, seq, &h.published_us, PTR_LEN, rec, len);
    if (rc)
        return rc;
    uint8_t tk[16];
    time_key(tk, h.published_us, seq);
    rc = put_time(ap, tk, rec, len);
    if (rc)
        return rc;
    acts_val_t av = {h.published_us, seq, gen};
    return put_acts_list(ap, akey, &av);
}

/* Look up the current version of an acts entry: its acts value (the superseded list copied
 * into ap->b->prev, ap->nprev) and its record in `time`. */
static int get_current(apply_t *ap, MDB_val *akey, current_t *cur)
{
    MDB_val v;
    int rc = mdb_get(ap->txn, ap->st->acts, akey, &v);
    if (rc)
        return rc;
    size_t n = v.mv_size >= sizeof cur->av ? (v.mv_size - sizeof cur->av) / sizeof(uint64_t) : 0;
    if (v.mv_size < sizeof cur->av || v.mv_size != sizeof cur->av + n * sizeof(uint64_t))
        return MDB_CORRUPTED;
    if ((rc = prev_room(ap, n + 1)) != 0)
        return rc;
    memcpy(&cur->av, v.mv_data, sizeof cur->av);
    memcpy(ap->b->prev, (uint8_t *)v.mv_data + sizeof cur->av, n * sizeof(uint64_t));
    ap->nprev = n;
    time_key(cur->tk, cur->av.published_us, cur->av.seq);
    MDB_val k = {16, cur->tk};
    rc = mdb_get(ap->txn, ap->st->time, &k, &cur->rec);
    return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
}

/* Drop listed versions that pruning already removed (oldest first): the list stays short. */
static int prev_trim(apply_t *ap)
{
    size_t drop = 0;
    for (; drop < ap->nprev; drop++) {
        uint8_t kb[8];
        put_be64(kb, ap->b->prev[drop]);
        MDB_val k = {8, kb}, v;
        int rc = mdb_get(ap->txn, ap->st->changes, &k, &v);
        if (rc == 0)
            break;
        if (rc != MDB_NOTFOUND)
            return rc;
    }
    memmove(ap->b->prev, ap->b->prev + drop, (ap->nprev - drop) * sizeof(uint64_t));
    ap->nprev -= drop;
    if (ap->nprev >= MAX_PREV) {   /* leave the oldest to pruning alone */
        memmove(ap->b->prev, ap->b->prev + 1, (ap->nprev - 1) * sizeof(uint64_t));
        ap->nprev--;
    }
    return 0;
}

/* The current version `cur` is superseded by the version at `by`. Kept (version_retention >
 * 0): copy its record into the batch's hold buffer (it points into a page the writes below may
 * move), move it into changes[its seq] over the pointer, queue it for pruning and list it in
 * ap->b->prev. Not kept: delete it and its pointer, and raise the low-water mark to `by`.
 * Either way its `time` record goes. */
static int retire_version(apply_t *ap, const current_t *cur, uint64_t by)
{
    MDB_val k = {8, (void *)(cur->tk + 8)};   /* be64(seq): a changes key */
    int rc;
    /* A replica keeps versions until its primary's marks say otherwise: one superseded at or
     * below the low-water mark the primary has pruned already. */
    if (ap->replicated ? by <= ap->low_water : ap->st->version_keep_us == 0) {
        rc = mdb_del(ap->txn, ap->st->changes, &k, NULL);
        if (by > ap->low_water)
            ap->low_water = by;
        ap->pruned_versions++;   /* not kept: pruned at once */
    } else {
        uint8_t *rec = buf_room(&ap->b->hold, &ap->b->hold_cap, cur->rec.mv_size);
        if (!rec)
            return ENOMEM;
        memcpy(rec, cur->rec.mv_data, cur->rec.mv_size);
        MDB_val v = {cur->rec.mv_size, rec};
        rc = mdb_put(ap->txn, ap->st->changes, &k, &v, 0);
        uint8_t sk[16];
        superseded_key(sk, by, cur->av.seq);
        MDB_val qk = {16, sk}, qv = {sizeof ap->now_us, &ap->now_us};
        if (!rc)
            rc = mdb_cursor_put(ap->c_superseded, &qk, &qv, MDB_APPEND);
        if (!rc && (rc = prev_room(ap, ap->nprev + 1)) == 0)
            ap->b->prev[ap->nprev++] = cur->av.seq;
    }
    if (rc)
        return rc;
    k = (MDB_val){16, (void *)cur->tk};
    return mdb_del(ap->txn, ap->st->time, &k, NULL);
}

static int apply_upsert(apply_t *ap, const op_t *op, uint8_t *rec)
{
    rec_hdr_t h;
    memcpy(&h, rec, sizeof h);
    const char *feed = (const char *)rec + sizeof h, *id = feed + h.feed_len;
    uint8_t kb[MAX_KEY + 1];
    MDB_val akey = {store_acts_key(ap->st, kb, feed, h.feed_len, id, h.id_len), kb};
    current_t cur;
    int rc = acts_past_end(ap, &akey) ? MDB_NOTFOUND : get_current(ap, &akey, &cur);
    if (rc == MDB_NOTFOUND) {
        ap->nprev = 0;
        rc = write_version(ap, rec, op->len1, &akey, op->gen, next_seq(ap));
        ap->stats.inserted++;
        return rc ? rc : count_add(ap, feed, h.feed_len, 1);
    }
    if (rc)
        return rc;
    /* Same bytes after seq and published: unchanged. The time is left out because an activity
     * without published/updated is dated at ingest, so every re-poll would date it anew. */
    if (cur.rec.mv_size == op->len1 && memcmp((uint8_t *)cur.rec.mv_data + 16, rec + 16, op->len1 - 16) == 0) {
        ap->stats.unchanged++;
        if (op->gen <= cur.av.gen)
            return 0;
        cur.av.gen = op->gen;
        return put_acts_list(ap, &akey, &cur.av);
    }
    uint64_t seq = next_seq(ap);
    if ((rc = prev_trim(ap)) != 0 || (rc = retire_version(ap, &cur, seq)) != 0)
        return rc;
    ap->stats.updated++;
    return write_version(ap, rec, op->len1, &akey, op->gen > cur.av.gen ? op->gen : cur.av.gen, seq);
}

/* Erase every stored version of the activity whose current version is `cur` (superseded list
 * in ap->b->prev): their change-log entries, their retention queue entries, the `time` record
 * and the acts entry. */
static int erase_versions(apply_t *ap, MDB_val *akey, const current_t *cur)
{
    int rc = 0;
    for (size_t i = 0; i < ap->nprev && !rc; i++) {
        uint64_t by = i + 1 < ap->nprev ? ap->b->prev[i + 1] : cur->av.seq;
        uint8_t kb[8], sk[16];
        put_be64(kb, ap->b->prev[i]);
        superseded_key(sk, by, ap->b->prev[i]);
        rc = store_del_quiet(ap->txn, ap->st->changes, kb, 8);
        if (!rc)
            rc = store_del_quiet(ap->txn, ap->st->superseded, sk, 16);
    }
    if (!rc)
        rc = store_del_quiet(ap->txn, ap->st->changes, cur->tk + 8, 8);   /* the pointer */
    if (!rc)
        rc = store_del_quiet(ap->txn, ap->st->time, cur->tk, 16);
    return rc ? rc : mdb_del(ap->txn, ap->st->acts, akey, NULL);
}

/* Append the tombstone tomb[0..len) (its seq is patched in) and queue it for pruning. */
static int put_tombstone(apply_t *ap, uint8_t *tomb, size_t len)
{
    uint64_t seq = next_seq(ap);
    memcpy(tomb, &seq, sizeof seq);
    int rc = put_change(ap, seq, tomb, len, tomb, len);
    uint8_t kb[8];
    put_be64(kb, seq);
    MDB_val k = {8, kb}, v = {sizeof ap->now_us, &ap->now_us};
    return rc ? rc : mdb_cursor_put(ap->c_tombs, &k, &v, MDB_APPEND);
}

/* Delete the activity behind akey whose current version is `cur`: build its tombstone (from
 * the record, before it goes; or take the replicated one, `given`), erase every version,
 * append the tombstone, count. */
static int remove_current(apply_t *ap, const char *feed, size_t flen, MDB_val *akey, const current_t *cur,
                          uint8_t *given, size_t given_len)
{
    store_rec_t r;
    if (store_rec_decode(cur->rec.mv_data, cur->rec.mv_size, &r))
        return MDB_CORRUPTED;
    uint8_t *tomb = given;
    size_t tlen = given_len;
    if (!given) {
        tlen = store_tomb_build(&r, ap->now_us, &ap->b->scratch, &ap->b->scratch_cap);
        tomb = ap->b->scratch;
    }
    if (!tlen)
        return ENOMEM;
    int rc = erase_versions(ap, akey, cur);
    if (!rc)
        rc = put_tombstone(ap, tomb, tlen);
    if (rc)
        return rc;
    ap->stats.deleted++;
    ap->erased++;
    return count_add(ap, feed, flen, -1);
}

static int apply_delete(apply_t *ap, const op_t *op, const uint8_t *body)
{
    const char *feed = (const char *)body, *id = feed + op->len1;
    uint8_t kb[MAX_KEY + 1];
    MDB_val akey = {store_acts_key(ap->st, kb, feed, op->len1, id, op->len2), kb};
    current_t cur;
    int rc = get_current(ap, &akey, &cur);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0 && akey.mv_size == ap->st->maxkey) {   /* hashed key: make sure it is this id */
        store_rec_t r;
        rc = store_rec_decode(cur.rec.mv_data, cur.rec.mv_size, &r);
        if (rc == 0 && (r.id_len != op->len2 || memcmp(r.id, id, r.id_len) != 0))
            return 0;
    }
    return rc ? rc : remove_current(ap, feed, op->len1, &akey, &cur, NULL, 0);
}

/* Delete the activities of a feed not seen by generation op->gen, at most op->pad of them
 * (0: all); stats.sweep_more says when some remain. */
static int apply_sweep(apply_t *ap, const op_t *op, const uint8_t *body)
{
    const char *feed = (const char *)body;
    size_t plen = op->len1 + 1, done = 0;
    uint8_t cur_key[MAX_KEY + 1];
    memcpy(cur_key, feed, op->len1);
    cur_key[op->len1] = 0;
    MDB_val k = {plen, cur_key}, v;
    int rc = mdb_cursor_get(ap->c_acts, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        if (k.mv_size < plen || k.mv_size > MAX_KEY || memcmp(k.mv_data, feed, op->len1) != 0
            || ((const uint8_t *)k.mv_data)[op->len1] != 0)
            break;
        acts_val_t av;
        if (v.mv_size < sizeof av)
            return MDB_CORRUPTED;
        memcpy(&av, v.mv_data, sizeof av);
        if (av.gen >= op->gen) {
            rc = mdb_cursor_get(ap->c_acts, &k, &v, MDB_NEXT);
            continue;
        }
        if (op->pad && done == op->pad) {
            ap->stats.sweep_more = 1;
            break;
        }
        size_t klen = k.mv_size;
        memcpy(cur_key, k.mv_data, klen);
        MDB_val akey = {klen, cur_key};
        current_t cur;
        if ((rc = get_current(ap, &akey, &cur)) != 0)
            return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
        if ((rc = remove_current(ap, feed, op->len1, &akey, &cur, NULL, 0)) != 0)
            return rc;
        done++;
        k = (MDB_val){klen, cur_key};   /* the deleted key is gone: this lands on the next one */
        rc = mdb_cursor_get(ap->c_acts, &k, &v, MDB_SET_RANGE);
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* A replicated record at its own seq: an upsert as the primary applied it, or a tombstone that
 * erases the activity here too. Entries at or below the head were applied already. */
static int apply_entry(apply_t *ap, const op_t *op, uint8_t *rec)
{
    rec_hdr_t h;
    store_rec_t r;
    if (store_rec_decode(rec, op->len1, &r))
        return MDB_CORRUPTED;
    memcpy(&h, rec, sizeof h);
    if (h.seq <= ap->head)
        return 0;
    ap->replicated = 1;
    ap->now_us = (int64_t)op->gen;   /* the primary's commit time */
    ap->forced_seq = h.seq;
    if (h.kind == STORE_REC_UPSERT) {
        op_t up = *op;
        up.gen = 0;   /* generations are the primary's ingest business */
        return apply_upsert(ap, &up, rec);
    }
    uint8_t kb[MAX_KEY + 1];
    MDB_val akey = {store_acts_key(ap->st, kb, r.feed, r.feed_len, r.id, r.id_len), kb};
    current_t cur;
    int rc = get_current(ap, &akey, &cur);
    if (rc == MDB_NOTFOUND)
        return put_tombstone(ap, rec, op->len1);
    return rc ? rc : remove_current(ap, r.feed, r.feed_len, &akey, &cur, rec, op->len1);
}

/* The end of one of the primary's commits: its head and chain become this store's (also when
 * every entry of it was erased since, and none arrived). */
static int apply_commit(apply_t *ap, const op_t *op, const uint8_t *body)
{
    repl_commit_t c;
    memcpy(&c, body, sizeof c);
    ap->replicated = 1;
    if (c.last_seq <= ap->st->wr_head)
        return 0;
    if (c.last_seq > ap->head)
        ap->head = c.last_seq;
    ap->chain = c.chain;
    uint8_t kb[8];
    put_be64(kb, c.last_seq);
    commit_t v = {c.commit_us, c.chain};
    MDB_val k = {8, kb}, d = {sizeof v, &v};
    return mdb_put(ap->txn, ap->st->commits, &k, &d, 0);
}

/* The primary's marks: raised now (entries superseded at or below the low-water mark are not
 * kept from here on), pruned after the batch's entries (run_pending_prune). */
static int apply_prune_to(apply_t *ap, const op_t *op, const uint8_t *body)
{
    repl_marks_t m;
    memcpy(&m, body, sizeof m);
    ap->replicated = 1;
    if (m.low_water > ap->low_water)
        ap->low_water = m.low_water;
    if (m.tomb_horizon > ap->tomb_horizon)
        ap->tomb_horizon = m.tomb_horizon;
    if (m.commit_horizon > ap->commit_horizon)
        ap->commit_horizon = m.commit_horizon;
    ap->prune_pending = 1;
    return 0;
}

static int run_pending_prune(apply_t *ap)
{
    uint64_t versions = 0, tombs = 0;
    if (!ap->prune_pending)
        return 0;
    int rc = store_prune_marks(ap->st, ap->txn, ap->low_water, ap->tomb_horizon, ap->commit_horizon,
                               &versions, &tombs);
    ap->pruned_versions += versions;
    ap->pruned_tombs += tombs;
    return rc;
}

static int apply_state(apply_t *ap, const op_t *op, const uint8_t *body)
{
    MDB_val k = {op->len1, (void *)body}, v = {op->len2, (void *)(body + op->len1)};
    return mdb_put(ap->txn, ap->st->feeds, &k, &v, 0);
}

static int apply_ops(apply_t *ap)
{
    store_batch_t *b = ap->b;
    for (size_t off = 0; off < b->len;) {
        op_t op;
        memcpy(&op, b->ops + off, sizeof op);
        uint8_t *body = b->ops + off + sizeof op;
        int rc;
        switch (op.kind) {
        case OP_UPSERT: rc = apply_upsert(ap, &op, body); break;
        case OP_DELETE: rc = apply_delete(ap, &op, body); break;
        case OP_SWEEP: rc = apply_sweep(ap, &op, body); break;
        case OP_ENTRY: rc = apply_entry(ap, &op, body); break;
        case OP_COMMIT: rc = apply_commit(ap, &op, body); break;
        case OP_PRUNE_TO: rc = apply_prune_to(ap, &op, body); break;
        default: rc = apply_state(ap, &op, body); break;
        }
        if (rc)
            return rc;
        off += align8(sizeof op + op.len1 + op.len2);
    }
    return 0;
}

/* This commit's entry in `commits`: its last seq, time and chain. */
static int put_commit(apply_t *ap)
{
    uint8_t kb[8];
    put_be64(kb, ap->head);
    commit_t v = {ap->now_us, ap->chain};
    MDB_val k = {8, kb}, d = {sizeof v, &v};
    return mdb_put(ap->txn, ap->st->commits, &k, &d, MDB_APPEND);
}

static int apply_begin(apply_t *ap)
{
    store_t *st = ap->st;
    int rc = mdb_txn_begin(st->env, NULL, 0, &ap->txn);
    if (rc)
        return rc;
    rc = mdb_cursor_open(ap->txn, st->acts, &ap->c_acts);
    if (!rc)
        rc = mdb_cursor_open(ap->txn, st->time, &ap->c_time);
    if (!rc)
        rc = mdb_cursor_open(ap->txn, st->changes, &ap->c_changes);
    if (!rc)
        rc = mdb_cursor_open(ap->txn, st->superseded, &ap->c_superseded);
    if (!rc)
        rc = mdb_cursor_open(ap->txn, st->tombs, &ap->c_tombs);
    if (rc)
        return rc;
    MDB_val k, v;
    rc = mdb_cursor_get(ap->c_time, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 16) {
        memcpy(ap->max_time, k.mv_data, 16);
        ap->have_max_time = 1;
    }
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    rc = mdb_cursor_get(ap->c_acts, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size > 0 && k.mv_size <= MAX_KEY) {
        memcpy(ap->max_acts, k.mv_data, k.mv_size);
        ap->max_acts_len = k.mv_size;
    } else if (rc == 0) {
        rc = MDB_CORRUPTED;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* One attempt: apply everything and commit. Returns an LMDB code. */
static int commit_once(store_batch_t *b, store_batch_stats_t *stats)
{
    store_t *st = b->st;
    apply_t ap = {.st = st, .b = b, .head = st->wr_head, .low_water = st->wr_low_water,
                  .tomb_horizon = st->wr_tomb_horizon, .commit_horizon = st->wr_commit_horizon,
                  .now_us = timefmt_now_us(), .chain = st->wr_chain};
    b->ndeltas = 0;
    int rc = apply_begin(&ap);
    if (!rc)
        rc = apply_ops(&ap);
    if (!rc)
        rc = run_pending_prune(&ap);
    if (!rc)
        rc = flush_counts(&ap);
    if (!rc && ap.head != st->wr_head && !ap.replicated)
        rc = put_commit(&ap);
    if (!rc && ap.head != st->wr_head)
        rc = store_meta_put_u64(ap.txn, st->meta, "head", 4, ap.head);
    if (!rc && ap.low_water != st->wr_low_water)
        rc = store_meta_put_u64(ap.txn, st->meta, "low_water", 9, ap.low_water);
    if (!rc && ap.tomb_horizon != st->wr_tomb_horizon)
        rc = store_meta_put_u64(ap.txn, st->meta, "tomb_horizon", 12, ap.tomb_horizon);
    if (!rc && ap.commit_horizon != st->wr_commit_horizon)
        rc = store_meta_put_u64(ap.txn, st->meta, "commit_horizon", 14, ap.commit_horizon);
    if (rc) {
        if (ap.txn)
            mdb_txn_abort(ap.txn);
        return rc;
    }
    rc = mdb_txn_commit(ap.txn);   /* frees the txn and its cursors whatever the result */
    if (rc)
        return rc;
    st->wr_head = ap.head;
    st->wr_chain = ap.chain;
    store_publish_marks(st, ap.low_water, ap.tomb_horizon, ap.commit_horizon);
    atomic_fetch_add_explicit(&st->pruned_versions, ap.pruned_versions, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->pruned_tombs, ap.pruned_tombs, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->erased, ap.erased, memory_order_relaxed);
    *stats = ap.stats;
    return 0;
}

/* LMDB reports a short write as EIO, and a full disk or a file size limit usually shows up as
 * one. Tell them apart so that the caller sees STORE_ERR_FULL: returns ENOSPC or EFBIG when the
 * disk (or the limit) has no room for about `need` more bytes, else rc. */
static int write_error_cause(const store_t *st, int rc, uint64_t need)
{
    if (rc != EIO)
        return rc;
    struct statvfs vs;
    if (statvfs(st->path, &vs) == 0 && (uint64_t)vs.f_bavail * vs.f_frsize < need)
        return ENOSPC;
    struct rlimit rl;
    struct stat sb;
    char file[4096];
    snprintf(file, sizeof file, "%s/data.mdb", st->path);
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
        && stat(file, &sb) == 0 && (uint64_t)sb.st_size + need > rl.rlim_cur)
        return EFBIG;
    return rc;
}

int store_batch_commit(store_batch_t *b, store_batch_stats_t *stats)
{
    store_batch_stats_t s = {0};
    int rc = 0;
    if (!b)
        return STORE_ERR_INVALID;
    store_t *st = b->st;
    for (int attempt = 0; b->len > 0; attempt++) {
        rc = commit_once(b, &s);
        if ((rc != MDB_MAP_FULL && rc != MDB_MAP_RESIZED) || attempt == MAX_GROW_ATTEMPTS)
            break;
        int grc = rc == MDB_MAP_FULL ? store_map_grow(st) : store_map_resize(st, 0);
        if (grc) {
            rc = grc;
            break;
        }
    }
    if (rc)
        rc = write_error_cause(st, rc, 3 * (uint64_t)b->len + (16u << 20));
    store_batch_reset(b);
    if (rc) {
        log_error("store", "%s: batch not committed: %s%s", st->path,
                  store_code(rc) == STORE_ERR_FULL ? "no room on disk: " : "", mdb_strerror(rc));
        memset(&s, 0, sizeof s);
    }
    if (stats)
        *stats = s;
    if (rc)
        return store_code(rc) == STORE_ERR_NOTFOUND ? STORE_ERR_CORRUPT : store_code(rc);
    if (s.last_seq) {
        atomic_store_explicit(&st->head, s.last_seq, memory_order_release);
        if (st->hook)
            st->hook(s.last_seq, st->hook_ud);
    }
    return 0;
}

