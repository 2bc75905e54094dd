/* store_int.h -- the store's private header, shared by its files (store.c: opening and
 * reading; store_batch.c: writing; store_prune.c: retention; store_upgrade.c: schema upgrades).
 * Nothing outside src/store*.c includes it: MDB_* codes never leave the store.
 *
 * Databases (keys are big-endian so that LMDB's memcmp order is numeric order; integers inside
 * values are host byte order and always read with memcpy, because LMDB values are unaligned):
 *   acts    feed '\0' id                      -> acts_val_t {published_us, seq, gen}, then the
 *           seqs of its superseded versions still in `changes`, oldest first (u64 each)
 *           An id too long for an LMDB key is stored as feed '\0' id-prefix hash128(id), which is
 *           exactly maxkey bytes long; every plain key is shorter, so the two never meet. (A
 *           feed that forged a hash collision could only overwrite its own activities.)
 *   time    be64(published ^ 1<<63) be64(seq) -> record       (sign bit flipped: negatives first)
 *   changes be64(seq)                         -> pointer or record
 *   superseded be64(by) be64(seq)             -> i64 retired_us: the version at seq, superseded
 *           by the version (or tombstone) at `by`, at retired_us; the queue of version pruning
 *   tombs   be64(seq)                         -> i64 deleted_us: the queue of tombstone pruning
 *   commits be64(last seq of a commit)        -> commit_t {commit_us, chain}: one per commit; the
 *           chain is a running 64-bit digest of every record the store's history appended, so
 *           two stores with the same chain at a seq have the same history up to it (replicas
 *           copy it, and compare it to detect divergence); pruned by time with the tombstones
 *   feeds   feed                              -> state blob (owned by ingest)
 *   meta    "schema" -> u32, "head" -> u64, "count\0<feed>" -> u64 activities of the feed,
 *           "low_water" -> u64, "tomb_horizon" -> u64, "commit_horizon" -> u64 (highest pruned
 *           commit), "upgrade3" -> u64 (an upgrade in progress), "id" -> 16 random bytes made at
 *           creation (the store's identity, copied by replicas), "parent" -> the id this store
 *           was promoted from and "fork" -> u64 the seq it forked at (none for an original)
 * A record is rec_hdr_t (48 bytes, seq first) then feed, id, types, actor and data. For an
 * upsert the JSON is a slice of data ({"feed":...,"activity":<json>}); json_off says where,
 * counted from the record start. Two versions are "unchanged" when their records are equal
 * byte for byte after the seq. A tombstone holds feed, id, the types and published time of the
 * last version, and its event data; no actor and no JSON (json_len 0).
 *
 * Each record is written once (schema 2). The record of a CURRENT version lives in `time`
 * only; its change-log entry is a pointer: the 8-byte published_us (shorter than any record,
 * so the length tells them apart), which with the entry's seq is its `time` key. When a
 * version stops being current (superseded by an update, deleted, swept), the apply step first
 * moves its record into changes[its seq], overwriting the pointer, then deletes it from
 * `time`: every version stays readable from the change log until it is pruned. Tombstones are
 * records in `changes` only.
 *
 * Erasure (schema 3). Deleting an activity removes, in the same transaction, every version the
 * store holds of it: the current one (its `time` record and change-log pointer) and each
 * superseded version listed in its acts value (their change-log records and `superseded`
 * entries); what remains is the tombstone. Retention: a superseded version is pruned
 * version_retention after it was superseded, a tombstone tombstone_retention after the delete,
 * by store_prune in bounded transactions, oldest first. The low-water mark W is the highest
 * `by` of a pruned version (with version_retention 0 no version is kept and W is raised to the
 * superseding seq at once): every change with seq > P is still stored when P >= W. The
 * tombstone horizon H is the highest pruned tombstone seq: no deletion after P is forgotten
 * when P >= H. Both only grow and are kept in meta.
 *
 * Map growth and readers: every read transaction is taken under st->grow in read mode; growth
 * takes it in write mode, so no read transaction of this process is active while
 * mdb_env_set_mapsize remaps. glibc rwlocks prefer readers, so a scan callback may call other
 * read functions of the store (nested read lock) without deadlocking. */
#ifndef STORE_INT_H
#define STORE_INT_H
#include "store.h"
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define SCHEMA_VERSION 3
#define DEFAULT_MAP_BYTES (64ULL << 30)
#define MAX_KEY 511               /* LMDB's default MDB_MAXKEYSIZE; we never use more */
#define MAX_GROW_ATTEMPTS 48
#define ARENA_KEEP (64u << 20)    /* a reset batch frees an arena larger than this */
#define JSON_STR_MAX(n) BYTEBUF_JSON_STR_MAX(n)
#define TS_MAX TIMEFMT_RFC3339_MAX
#define PTR_LEN sizeof(int64_t)   /* a change-log pointer: published_us; a record is longer */

/* ---------------------------------------------------------------------------------------- */
/* On-disk layouts                                                                           */

typedef struct {
    uint64_t seq;             /* seq and published first: what follows is compared at once */
    int64_t published_us;
    uint32_t kind;            /* STORE_REC_* */
    uint32_t feed_len, id_len, types_len, actor_len, data_len;
    uint32_t json_off, json_len;
} rec_hdr_t;
_Static_assert(sizeof(rec_hdr_t) == 48, "record header must stay 48 bytes, no padding");
_Static_assert(PTR_LEN < sizeof(rec_hdr_t), "a pointer must be shorter than any record");

typedef struct {
    int64_t published_us;     /* where the current version sits in `time` */
    uint64_t seq;
    uint64_t gen;             /* highest generation that saw the activity */
} acts_val_t;                 /* followed by the superseded versions' seqs (u64), oldest first */
#define MAX_PREV 4096         /* superseded versions listed per activity; more are left to pruning */


struct store {
    MDB_env *env;                     /* owned */
    MDB_dbi acts, time, changes, superseded, tombs, commits, feeds, meta;
    char *path;                       /* owned */
    pthread_rwlock_t grow;            /* read: any read txn; write: map resize */
    int grow_init;
    _Atomic uint64_t head;            /* last committed seq, for readers */
    uint64_t wr_head;                 /* the writer's copy */
    size_t maxkey;                    /* longest acts key we write (<= MAX_KEY) */
    store_commit_hook_fn *hook;
    void *hook_ud;
    int64_t version_keep_us, tomb_keep_us;      /* retention (writer thread) */
    _Atomic uint64_t low_water, tomb_horizon;   /* committed values, for readers */
    uint64_t wr_low_water, wr_tomb_horizon;     /* the writer's copies */
    _Atomic uint64_t pruned_versions, pruned_tombs, erased;   /* since open, for /metrics */
    uint64_t wr_chain;                          /* the chain digest at wr_head */
    uint64_t wr_commit_horizon;                 /* highest pruned commit (writer's copy) */
    _Atomic uint64_t commit_horizon;
    uint8_t id[16], parent[16];                 /* identity; parent all zero for an original */
    uint64_t fork;                              /* the seq this store forked from its parent */
    char id_hex[33], tag[STORE_TAG_LEN + 1];    /* the id as text, and its short tag */
    pthread_mutex_t views_mu;                   /* guards `views` */
    struct store_view *views;                   /* open frozen views (store_view.c) */
};

/* One commit's entry in `commits`. */
typedef struct {
    int64_t commit_us;
    uint64_t chain;
} commit_t;

#define DEFAULT_VERSION_KEEP_US (24LL * 3600 * 1000000)
#define DEFAULT_TOMB_KEEP_US (30LL * 86400 * 1000000)

/* ---- byte helpers ---- */

static inline size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

static inline void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static inline void time_key(uint8_t k[16], int64_t published_us, uint64_t seq)
{
    put_be64(k, (uint64_t)published_us ^ (1ULL << 63));
    put_be64(k + 8, seq);
}

static inline int64_t time_key_published(const uint8_t *k)
{
    return (int64_t)(get_be64(k) ^ (1ULL << 63));
}

static inline uint8_t *put_bytes(uint8_t *p, const void *s, size_t n)
{
    if (n)
        memcpy(p, s, n);
    return p + n;
}

static inline uint8_t *put_lit(uint8_t *p, const char *s) { return put_bytes(p, s, strlen(s)); }

/* ---- shared internals (store.c) ---- */

/* Translate an LMDB (or errno) code to a STORE_ERR_* code. */
int store_code(int rc);

/* Build the acts key of (feed, id) into buf (MAX_KEY + 1 bytes); returns its length. */
size_t store_acts_key(const store_t *st, uint8_t *buf, const char *feed, size_t flen, const char *id,
                      size_t idlen);

/* STORE_ERR_INVALID unless feed is 1..STORE_MAX_FEED_LEN bytes without a NUL; else 0. */
int store_check_feed(const char *feed, size_t len);

/* Decode a record. Pointers borrow from `p`. Returns 0 or MDB_CORRUPTED. */
int store_rec_decode(const void *p, size_t n, store_rec_t *r);

/* A read transaction under the map-growth lock (read side); end it with store_read_end. */
int store_read_begin(store_t *st, MDB_txn **txn);
void store_read_end(store_t *st, MDB_txn *txn);

/* Resize the map to `bytes` (0: adopt the size another process set) with no read txn active;
 * store_map_grow doubles it. The writer calls these with no transaction of its own. */
int store_map_resize(store_t *st, uint64_t bytes);
int store_map_grow(store_t *st);

/* u64 values of `meta` (and of any other database holding u64 values). */
int store_meta_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t klen, uint64_t *out);
int store_meta_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t klen, uint64_t val);

/* The meta key of a feed's activity count ("count\0<feed>") into buf; returns its length. */
size_t store_count_key(char *buf, const char *feed, size_t len);

/* The time-index walk and the lookup of a current version, in a read txn the caller holds (a
 * plain scan's or a view's). Return like store_scan_time / store_get. */
int store_scan_time_txn(store_t *st, MDB_txn *txn, store_tpos_t from, int64_t bound_us, uint64_t max_seq,
                        size_t limit, store_scan_fn *fn, void *ud, store_tpos_t *last, int ascending);
int store_get_txn(store_t *st, MDB_txn *txn, const char *feed, const char *id, size_t id_len,
                  store_scan_fn *fn, void *ud);

/* Fill id_hex and tag from id. */
void store_identity_text(store_t *st);

/* The record of change-log entry *v at seq: a pointer entry is resolved through `time` with
 * cursor ct (*ct_set: it sits on the last entry found; start with 0). Returns 0, an LMDB code,
 * or STORE_ERR_CORRUPT (logged) when the pointer leads nowhere. */
int store_change_record(store_t *st, MDB_cursor *ct, int *ct_set, uint64_t seq, MDB_val *v);

/* Frozen views (store_view.c): every open view's read txn ends before the map is resized or the
 * file replaced; called with st->grow held for writing. */
void store_views_expire(store_t *st);

/* Close the environment and open it again (the writer's business: no write may be under way),
 * after renaming `replacement` (a store file, may be NULL) over data.mdb. Read transactions
 * wait meanwhile (the map-growth lock). Returns 0 or a code with err set. */
int store_reopen(store_t *st, const char *replacement, char *err, size_t errlen);

/* Schema upgrades (store_upgrade.c). store_upgrade_begin runs in the opening write txn and
 * records what is left to do; store_upgrade_finish runs after it, in bounded transactions of
 * its own, and resumes an upgrade that a crash interrupted. Return LMDB codes. */
int store_upgrade_begin(store_t *st, MDB_txn *txn, uint32_t from);
int store_upgrade_finish(store_t *st);

/* Build a tombstone record for the version `old` (a record), deleted at `deleted_us`, into
 * *buf (grown as needed; owned by the caller). Returns its length, or 0 when out of memory or
 * the record is corrupt. seq is left 0. */
size_t store_tomb_build(const store_rec_t *old, int64_t deleted_us, uint8_t **buf, size_t *cap);

/* A fast, non-cryptographic 64-bit digest of bytes (for the commit chain: detecting that two
 * histories differ, not resisting an adversary). */
static inline uint64_t store_hash64(const void *p, size_t n, uint64_t seed)
{
    const uint8_t *s = p;
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    for (; n >= 8; n -= 8, s += 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    memcpy(&tail, s, n);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 32);
}

/* The chain after appending a record. */
static inline uint64_t store_chain_next(uint64_t chain, const void *rec, size_t len)
{
    return store_hash64(rec, len, chain);
}

/* Set the writer's and the readers' copies of the three marks (after a commit). */
void store_publish_marks(store_t *st, uint64_t low_water, uint64_t tomb_horizon, uint64_t commit_horizon);

/* In a write txn: prune superseded versions superseded at or below low_water, tombstones at or
 * below tomb_horizon and commits at or below commit_horizon, whatever their time (a replica
 * follows its primary's marks). Counts into *versions and *tombs. Returns an LMDB code; the
 * caller records the marks in meta. */
int store_prune_marks(store_t *st, MDB_txn *txn, uint64_t low_water, uint64_t tomb_horizon,
                      uint64_t commit_horizon, uint64_t *versions, uint64_t *tombs);

/* Read `commits` at the first commit whose last seq is >= seq: its last seq and entry.
 * Returns 0, MDB_NOTFOUND or an LMDB code. */
int store_commit_at(MDB_txn *txn, MDB_dbi commits, uint64_t seq, uint64_t *last, commit_t *c);

/* superseded and tombs keys and values. */
static inline void superseded_key(uint8_t k[16], uint64_t by, uint64_t seq)
{
    put_be64(k, by);
    put_be64(k + 8, seq);
}

/* Delete key k of dbi; a missing key is not an error. Returns an LMDB code. */
int store_del_quiet(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen);

#endif
