/* store.c -- activities of many feeds, a time index and a durable change log in one LMDB
 * environment under a data directory (contract in store.h).
 *
 * Databases (keys are big-endian so that LMDB's memcmp order is numeric order; integers inside
 * values are host byte order and always read with memcpy, because LMDB values are unaligned):
 *   acts    feed '\0' id                      -> acts_val_t {published_us, seq, gen}
 *           An id too long for an LMDB key is stored as feed '\0' id-prefix hash128(id), which is
 *           exactly maxkey bytes long; every plain key is shorter, so the two never meet. (A
 *           feed that forged a hash collision could only overwrite its own activities.)
 *   time    be64(published ^ 1<<63) be64(seq) -> record       (sign bit flipped: negatives first)
 *   changes be64(seq)                         -> pointer or record
 *   feeds   feed                              -> state blob (owned by ingest)
 *   meta    "schema" -> u32, "head" -> u64, "count\0<feed>" -> u64 activities of the feed
 * A record is rec_hdr_t (48 bytes, seq first) then feed, id, types, actor, data and, for a
 * tombstone only, the deleted version's JSON. For an upsert the JSON is a slice of data
 * ({"feed":...,"activity":<json>}); json_off says where, counted from the record start. Two
 * versions are "unchanged" when their records are equal byte for byte after the seq.
 *
 * Each record is written once (schema 2). The record of a CURRENT version lives in `time`
 * only; its change-log entry is a pointer: the 8-byte published_us (shorter than any record,
 * so the length tells them apart), which with the entry's seq is its `time` key. When a
 * version stops being current (superseded by an update, deleted, swept), the apply step first
 * moves its record into changes[its seq], overwriting the pointer, then deletes it from
 * `time`: every version stays readable from the change log. Tombstones are records in
 * `changes` only. New change-log entries are appended (MDB_APPEND); a move overwrites an
 * existing key, rewriting (and maybe splitting) an older page of `changes`, so inserts write
 * half the bytes they did while updates and deletes cost about the same. store_scan_changes
 * resolves a pointer through a cursor on `time` in the same read transaction (a pointer
 * without its `time` entry is corruption). A store of schema 1 (a record in both indexes) is
 * valid schema 2 data, so opening one only raises its version number, which makes older
 * servers (they cannot read pointers) refuse it; the full copies of its current versions in
 * `changes` stay until those versions are superseded.
 *
 * Writing: a batch copies every operation into one growing arena it owns (reused across
 * commits, so the hot path does not allocate); the record of an upsert is built there once.
 * store_batch_commit applies the arena in one write transaction, assigning seqs head+1, ...
 * On MDB_MAP_FULL it aborts, doubles the map and replays the same arena.
 *
 * Map growth and readers: every read transaction is taken under st->grow in read mode; growth
 * takes it in write mode, so no read transaction of this process is active while
 * mdb_env_set_mapsize remaps. glibc rwlocks prefer readers, so a scan callback may call other
 * read functions of the store (nested read lock) without deadlocking.
 *
 * Durability: every commit is synced (no MDB_NOSYNC, no MDB_NOMETASYNC): a committed batch
 * survives a process crash and a power loss. MDB_NOMETASYNC would keep the store consistent but
 * let a power loss undo the last commit, whose seqs may already have gone out to clients as
 * event ids and would then be reused for other changes. It was measured too: within the noise
 * of the shared test VM, where a commit of 1,000 activities (~0.8 MB of pages) is bound by the
 * disk's sync bandwidth either way. (That is why a record is written once: schema 1 stored it
 * in both `time` and `changes`, twice the bytes to sync.)
 * MDB_WRITEMAP is not used: it makes the data file as large as the map (sparse), and a full
 * disk then arrives as SIGBUS instead of ENOSPC. For the same reason lock.mdb is given real
 * blocks before LMDB maps it (lock_file_prealloc).
 *
 * Scans: reaching `limit` returns 0, like an exhausted range (the caller counts its visits);
 * when nothing was visited *last is left at the starting position.
 *
 * Memory: on malloc failure functions return STORE_ERR_NOMEM; nothing aborts.
 * Errors: MDB_* codes never leave this file; store_code() translates them and write failures
 * are logged (module "store") with the path and the LMDB reason. */
#include "store.h"
#include "bytebuf.h"
#include "errfmt.h"
#include "metrics.h"
#include "log.h"
#include "timefmt.h"
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define SCHEMA_VERSION 2
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
} acts_val_t;

/* ---------------------------------------------------------------------------------------- */
/* Handles                                                                                   */

struct store {
    MDB_env *env;                     /* owned */
    MDB_dbi acts, time, changes, feeds, meta;
    char *path;                       /* owned */
    pthread_rwlock_t grow;            /* read: any read txn; write: map resize */
    int grow_init;
    _Atomic uint64_t head;            /* last committed seq, for readers */
    uint64_t wr_head;                 /* the writer's copy */
    size_t maxkey;                    /* longest acts key we write (<= MAX_KEY) */
    store_commit_hook_fn *hook;
    void *hook_ud;
};

enum { OP_UPSERT = 1, OP_DELETE, OP_SWEEP, OP_STATE };

/* One buffered operation in the arena, followed by len1 + len2 payload bytes, padded to 8.
 *   OP_UPSERT: the record (len1)          OP_DELETE: feed (len1), id (len2)
 *   OP_SWEEP:  feed (len1), gen           OP_STATE:  feed (len1), blob (len2) */
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
};

/* State of one attempt at applying a batch. */
typedef struct {
    store_t *st;
    store_batch_t *b;
    MDB_txn *txn;
    MDB_cursor *c_acts, *c_time, *c_changes;   /* closed with the write txn */
    uint64_t head;                             /* last seq assigned in this attempt */
    uint8_t max_time[16];                      /* largest key in `time` seen so far */
    int have_max_time;
    uint8_t max_acts[MAX_KEY];                 /* largest key in `acts` seen so far */
    size_t max_acts_len;                       /* 0: acts is empty */
    char ts[TS_MAX];                           /* "deleted" stamp for tombstones */
    size_t ts_len;
    store_batch_stats_t stats;
} apply_t;

/* ---------------------------------------------------------------------------------------- */
/* Small helpers                                                                             */

const char *store_strerror(int code)
{
    switch (code) {
    case STORE_OK: return "ok";
    case STORE_ERR_IO: return "i/o error";
    case STORE_ERR_CORRUPT: return "store corrupt or not a store";
    case STORE_ERR_VERSION: return "store written by a newer version";
    case STORE_ERR_FULL: return "disk full";
    case STORE_ERR_NOMEM: return "out of memory";
    case STORE_ERR_INVALID: return "invalid argument";
    case STORE_ERR_NOTFOUND: return "not found";
    default: return "unknown store error";
    }
}

/* Translate an LMDB (or errno) code to a STORE_ERR_* code. */
static int store_code(int rc)
{
    switch (rc) {
    case MDB_SUCCESS: return STORE_OK;
    case MDB_NOTFOUND: return STORE_ERR_NOTFOUND;
    case MDB_INVALID: case MDB_CORRUPTED: case MDB_PAGE_NOTFOUND: case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE: case MDB_BAD_VALSIZE:
        return STORE_ERR_CORRUPT;
    case MDB_MAP_FULL: case ENOSPC: case EDQUOT: case EFBIG:
        return STORE_ERR_FULL;
    case ENOMEM: return STORE_ERR_NOMEM;
    default: return STORE_ERR_IO;
    }
}

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void time_key(uint8_t k[16], int64_t published_us, uint64_t seq)
{
    put_be64(k, (uint64_t)published_us ^ (1ULL << 63));
    put_be64(k + 8, seq);
}

static int64_t time_key_published(const uint8_t *k)
{
    return (int64_t)(get_be64(k) ^ (1ULL << 63));
}

static uint8_t *put_bytes(uint8_t *p, const void *s, size_t n)
{
    if (n)
        memcpy(p, s, n);
    return p + n;
}

static uint8_t *put_lit(uint8_t *p, const char *s) { return put_bytes(p, s, strlen(s)); }

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33; h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

/* 128-bit digest of an over-long id (two seeded FNV-1a lanes, finalized). Only used to tell
 * ids of one feed apart, so it need not be cryptographic. */
static void hash128(const char *s, size_t n, uint8_t out[16])
{
    uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL ^ n;
    for (size_t i = 0; i < n; i++) {
        a = (a ^ (unsigned char)s[i]) * 0x100000001b3ULL;
        b = (b ^ (unsigned char)s[i]) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
    }
    put_be64(out, mix64(a));
    put_be64(out + 8, mix64(b ^ a));
}

/* Build the acts key of (feed, id) into buf (MAX_KEY + 1 bytes); returns its length. */
static size_t acts_key(const store_t *st, uint8_t *buf, const char *feed, size_t flen,
                       const char *id, size_t idlen)
{
    memcpy(buf, feed, flen);
    buf[flen] = 0;
    if (flen + 1 + idlen < st->maxkey) {
        put_bytes(buf + flen + 1, id, idlen);
        return flen + 1 + idlen;
    }
    size_t keep = st->maxkey - flen - 1 - 16;
    memcpy(buf + flen + 1, id, keep);
    hash128(id, idlen, buf + st->maxkey - 16);
    return st->maxkey;
}

static int check_feed(const char *feed, size_t len)
{
    if (!feed || len == 0 || len > STORE_MAX_FEED_LEN || memchr(feed, 0, len))
        return STORE_ERR_INVALID;
    return 0;
}

/* Decode a record. Pointers borrow from `p`. Returns 0 or MDB_CORRUPTED. */
static int rec_decode(const void *p, size_t n, store_rec_t *r)
{
    rec_hdr_t h;
    if (n < sizeof h)
        return MDB_CORRUPTED;
    memcpy(&h, p, sizeof h);
    uint64_t need = (uint64_t)sizeof h + h.feed_len + h.id_len + h.types_len + h.actor_len
                    + h.data_len;
    if (need > n || (h.kind != STORE_REC_UPSERT && h.kind != STORE_REC_DELETE)
        || h.json_off < sizeof h || (uint64_t)h.json_off + h.json_len > n)
        return MDB_CORRUPTED;
    const char *s = (const char *)p + sizeof h;
    r->seq = h.seq;
    r->kind = (int)h.kind;
    r->published_us = h.published_us;
    r->feed = s;                          r->feed_len = h.feed_len;
    r->id = s += h.feed_len;              r->id_len = h.id_len;
    r->types = s += h.id_len;             r->types_len = h.types_len;
    r->actor = s += h.types_len;          r->actor_len = h.actor_len;
    r->data = s += h.actor_len;           r->data_len = h.data_len;
    r->json = (const char *)p + h.json_off;
    r->json_len = h.json_len;
    return 0;
}

int store_rec_has_type(const store_rec_t *rec, const char *type, size_t len)
{
    const char *p = rec->types, *end = rec->types + rec->types_len;
    while (p < end) {
        const char *sep = memchr(p, STORE_TYPE_SEP, (size_t)(end - p));
        const char *e = sep ? sep : end;
        if ((size_t)(e - p) == len && memcmp(p, type, len) == 0)
            return 1;
        p = e + 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Read transactions and map growth                                                          */

static int read_begin(store_t *st, MDB_txn **txn)
{
    pthread_rwlock_rdlock(&st->grow);
    int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
    if (rc)
        pthread_rwlock_unlock(&st->grow);
    return rc;
}

static void read_end(store_t *st, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&st->grow);
}

/* Resize the map to `bytes` (0: adopt the size another process set) with no read txn active.
 * The writer calls this with no transaction of its own. */
static int map_resize(store_t *st, uint64_t bytes)
{
    pthread_rwlock_wrlock(&st->grow);
    int rc = mdb_env_set_mapsize(st->env, (size_t)bytes);
    pthread_rwlock_unlock(&st->grow);
    return rc;
}

static int map_grow(store_t *st)
{
    MDB_envinfo info;
    mdb_env_info(st->env, &info);
    uint64_t cur = info.me_mapsize, next = cur * 2;
    if (next < cur || next > (SIZE_MAX >> 1))
        return ENOSPC;
    int rc = map_resize(st, next);
    if (rc) {
        log_error("store", "%s: cannot grow the map to %llu bytes: %s", st->path,
                  (unsigned long long)next, mdb_strerror(rc));
        return rc == ENOMEM ? ENOSPC : rc;   /* no address space left: the map cannot grow */
    }
    log_info("store", "%s: map grown to %llu bytes", st->path, (unsigned long long)next);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Opening                                                                                   */

/* mkdir -p dir (mode 0755), then make sure it is a directory. */
static int make_dir(const char *dir, char *err, size_t errlen)
{
    char *p = strdup(dir);
    if (!p) {
        errfmt(err, errlen, "%s: out of memory", dir);
        return STORE_ERR_NOMEM;
    }
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        mkdir(p, 0755);   /* errors surface at the final mkdir/stat */
        *s = '/';
    }
    free(p);
    int mk_errno = mkdir(dir, 0755) == 0 ? 0 : errno;
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        int e = mk_errno && mk_errno != EEXIST ? mk_errno : errno;
        errfmt(err, errlen, "%s: cannot create the data directory: %s", dir, strerror(e));
        return e == ENOSPC || e == EDQUOT ? STORE_ERR_FULL : STORE_ERR_IO;
    }
    if (!S_ISDIR(sb.st_mode)) {
        errfmt(err, errlen, "%s: not a directory", dir);
        return STORE_ERR_IO;
    }
    return 0;
}

/* One line for a failed mdb_env_open / schema transaction. Returns the STORE_ERR_* code. */
static int open_error(const char *dir, int rc, char *err, size_t errlen)
{
    switch (rc) {
    case MDB_INVALID:
        errfmt(err, errlen, "%s/data.mdb: not an LMDB store (%s); refusing to touch it", dir,
                mdb_strerror(rc));
        break;
    case MDB_CORRUPTED: case MDB_PAGE_NOTFOUND:
        errfmt(err, errlen, "%s/data.mdb: store is corrupt (%s)", dir, mdb_strerror(rc));
        break;
    case MDB_VERSION_MISMATCH:
        errfmt(err, errlen, "%s: store was written by an incompatible LMDB version (%s)", dir,
                mdb_strerror(rc));
        break;
    case MDB_INCOMPATIBLE:
        errfmt(err, errlen, "%s/data.mdb: an LMDB file, but not an activity store (%s)", dir,
                mdb_strerror(rc));
        break;
    case EACCES: case EPERM:
        errfmt(err, errlen, "%s: permission denied opening the store", dir);
        break;
    case ENOSPC: case EDQUOT: case EFBIG:
        errfmt(err, errlen, "%s: disk full opening the store (%s)", dir, mdb_strerror(rc));
        break;
    default:
        errfmt(err, errlen, "%s: cannot open the store: %s", dir, mdb_strerror(rc));
    }
    return store_code(rc) == STORE_ERR_NOTFOUND ? STORE_ERR_CORRUPT : store_code(rc);
}

/* LMDB sizes lock.mdb with ftruncate and writes it through a shared mapping: on a full disk
 * that is SIGBUS, not an error. Give the file real blocks first (an existing file keeps its
 * size; a new one gets LOCK_FILE_BYTES, which LMDB then uses as is). Returns 0 or an errno;
 * failures other than a full disk are left for mdb_env_open to report. */
#define LOCK_FILE_BYTES (64 * 1024)
static int lock_file_prealloc(const char *dir)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/lock.mdb", dir) >= sizeof path)
        return 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno == ENOSPC || errno == EDQUOT || errno == EFBIG ? errno : 0;
    struct stat sb;
    int rc = fstat(fd, &sb) == 0 ? posix_fallocate(fd, 0, sb.st_size > 0 ? sb.st_size
                                                               : LOCK_FILE_BYTES) : 0;
    close(fd);
    return rc == ENOSPC || rc == EDQUOT || rc == EFBIG ? rc : 0;
}

static int env_open(store_t *st, uint64_t map_bytes, char *err, size_t errlen)
{
    int rc = lock_file_prealloc(st->path);
    if (rc)
        return open_error(st->path, rc, err, errlen);
    rc = mdb_env_create(&st->env);
    if (!rc)
        rc = mdb_env_set_maxreaders(st->env, 512);
    if (!rc)
        rc = mdb_env_set_maxdbs(st->env, 8);
    if (!rc)
        rc = mdb_env_set_mapsize(st->env, (size_t)map_bytes);
    if (!rc)
        rc = mdb_env_open(st->env, st->path, MDB_NOTLS, 0644);
    if (rc)
        return open_error(st->path, rc, err, errlen);
    int mk = mdb_env_get_maxkeysize(st->env);
    st->maxkey = mk < MAX_KEY ? (size_t)mk : MAX_KEY;
    return 0;
}

static int meta_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t klen, uint64_t *out)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc)
        return rc;
    if (v.mv_size != sizeof *out)
        return MDB_CORRUPTED;
    memcpy(out, v.mv_data, sizeof *out);
    return 0;
}

static int meta_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t klen, uint64_t val)
{
    MDB_val k = {klen, (void *)key}, v = {sizeof val, &val};
    return mdb_put(txn, dbi, &k, &v, 0);
}

/* A new store (no "meta" database yet): refuse an LMDB file that holds something else, else
 * create meta with the schema version. Returns an LMDB code or STORE_ERR_CORRUPT (err set). */
static int schema_create(store_t *st, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_stat ms;
    MDB_dbi main_dbi;
    int rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
    if (!rc)
        rc = mdb_stat(txn, main_dbi, &ms);
    if (rc)
        return rc;
    if (ms.ms_entries > 0) {
        errfmt(err, errlen, "%s/data.mdb: an LMDB file without a store schema; "
                "refusing to use it", st->path);
        return STORE_ERR_CORRUPT;
    }
    rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta);
    if (rc)
        return rc;
    uint32_t v = SCHEMA_VERSION;
    MDB_val k = {6, "schema"}, d = {sizeof v, &v};
    return mdb_put(txn, st->meta, &k, &d, 0);
}

/* Schema 1 data is valid schema 2 data (see the top of the file): only the version changes,
 * committed with the rest of the opening transaction. Returns an LMDB code. */
static int schema_upgrade(store_t *st, MDB_txn *txn, uint32_t from)
{
    uint32_t v = SCHEMA_VERSION;
    MDB_val k = {6, "schema"}, d = {sizeof v, &v};
    int rc = mdb_put(txn, st->meta, &k, &d, 0);
    if (!rc)
        log_info("store", "%s: raising the store schema from version %u to %d (servers older "
                 "than this one will refuse it)", st->path, from, SCHEMA_VERSION);
    return rc;
}

/* In an open write txn: check the schema of an existing store (before creating anything) or
 * initialize a new one. Returns an LMDB code, or a STORE_ERR_* code with err set. */
static int schema_check(store_t *st, MDB_txn *txn, char *err, size_t errlen)
{
    int rc = mdb_dbi_open(txn, "meta", 0, &st->meta);
    if (rc == MDB_NOTFOUND)
        return schema_create(st, txn, err, errlen);
    if (rc)
        return rc;
    MDB_val k = {6, "schema"}, d;
    uint32_t v = 0;
    rc = mdb_get(txn, st->meta, &k, &d);
    if (rc == 0 && d.mv_size == sizeof v)
        memcpy(&v, d.mv_data, sizeof v);
    if (rc == MDB_NOTFOUND || (rc == 0 && v == 0)) {
        errfmt(err, errlen, "%s/data.mdb: store has no valid schema version", st->path);
        return STORE_ERR_CORRUPT;
    }
    if (rc)
        return rc;
    if (v > SCHEMA_VERSION) {
        errfmt(err, errlen, "%s: store schema version %u is newer than this server supports (%d)",
                st->path, v, SCHEMA_VERSION);
        return STORE_ERR_VERSION;
    }
    return v < SCHEMA_VERSION ? schema_upgrade(st, txn, v) : 0;
}

static int schema_init(store_t *st, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc)
        return open_error(st->path, rc, err, errlen);
    rc = schema_check(st, txn, err, errlen);
    if (!rc)
        rc = mdb_dbi_open(txn, "acts", MDB_CREATE, &st->acts);
    if (!rc)
        rc = mdb_dbi_open(txn, "time", MDB_CREATE, &st->time);
    if (!rc)
        rc = mdb_dbi_open(txn, "changes", MDB_CREATE, &st->changes);
    if (!rc)
        rc = mdb_dbi_open(txn, "feeds", MDB_CREATE, &st->feeds);
    uint64_t head = 0;
    if (!rc) {
        rc = meta_get_u64(txn, st->meta, "head", 4, &head);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (rc) {
        mdb_txn_abort(txn);
        return rc < 0 && rc >= STORE_ERR_NOTFOUND ? rc : open_error(st->path, rc, err, errlen);
    }
    rc = mdb_txn_commit(txn);
    if (rc)
        return open_error(st->path, rc, err, errlen);
    st->wr_head = head;
    atomic_store(&st->head, head);
    return 0;
}

int store_open(store_t **out, const char *dir, uint64_t map_bytes, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = 0;
    if (out)
        *out = NULL;
    if (!out || !dir || !*dir) {
        errfmt(err, errlen, "store: no data directory given");
        return STORE_ERR_INVALID;
    }
    int rc = make_dir(dir, err, errlen);
    if (rc)
        return rc;
    store_t *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(dir)) || pthread_rwlock_init(&st->grow, NULL) != 0) {
        errfmt(err, errlen, "%s: out of memory opening the store", dir);
        rc = STORE_ERR_NOMEM;
        goto fail;
    }
    st->grow_init = 1;
    rc = env_open(st, map_bytes ? map_bytes : DEFAULT_MAP_BYTES, err, errlen);
    if (!rc)
        rc = schema_init(st, err, errlen);
    if (rc)
        goto fail;
    *out = st;
    return 0;
fail:
    store_close(st);
    return rc;
}

void store_close(store_t *st)
{
    if (!st)
        return;
    if (st->env)
        mdb_env_close(st->env);
    if (st->grow_init)
        pthread_rwlock_destroy(&st->grow);
    free(st->path);
    free(st);
}

void store_set_commit_hook(store_t *st, store_commit_hook_fn *fn, void *ud)
{
    st->hook = fn;
    st->hook_ud = ud;
}

const char *store_path(store_t *st) { return st->path; }

uint64_t store_head(store_t *st) { return atomic_load_explicit(&st->head, memory_order_acquire); }

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
    if (!b || !a || check_feed(a->feed, a->feed_len) || !a->json || a->json_len == 0
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
    if (check_feed(feed, flen) || blen > UINT32_MAX / 2 || (blen && !blob))
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
    return push_feed_op(b, OP_SWEEP, feed, NULL, 0, gen);
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

static size_t count_key(char *buf, const char *feed, size_t len)
{
    memcpy(buf, "count", 6);   /* with its '\0' */
    memcpy(buf + 6, feed, len);
    return 6 + len;
}

static int flush_counts(apply_t *ap)
{
    for (size_t i = 0; i < ap->b->ndeltas; i++) {
        const count_delta_t *d = &ap->b->deltas[i];
        if (d->delta == 0)
            continue;
        char key[6 + STORE_MAX_FEED_LEN];
        size_t klen = count_key(key, d->feed, d->len);
        uint64_t n = 0;
        int rc = meta_get_u64(ap->txn, ap->st->meta, key, klen, &n);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        n = d->delta < 0 && (uint64_t)-d->delta > n ? 0 : n + (uint64_t)d->delta;
        rc = meta_put_u64(ap->txn, ap->st->meta, key, klen, n);
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

/* Append an entry (a pointer or a record) to the change log under seq. */
static int put_change(apply_t *ap, uint64_t seq, const void *rec, size_t len)
{
    uint8_t kb[8];
    put_be64(kb, seq);
    MDB_val k = {8, kb}, v = {len, NULL};
    int rc = mdb_cursor_put(ap->c_changes, &k, &v, MDB_APPEND | MDB_RESERVE);
    if (rc)
        return rc;
    memcpy(v.mv_data, rec, len);
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

static int put_acts(apply_t *ap, MDB_val *akey, const acts_val_t *av)
{
    MDB_val v = {sizeof *av, (void *)av};
    if (!acts_past_end(ap, akey))
        return mdb_put(ap->txn, ap->st->acts, akey, &v, 0);
    int rc = mdb_put(ap->txn, ap->st->acts, akey, &v, MDB_APPEND);
    if (rc == 0) {
        memcpy(ap->max_acts, akey->mv_data, akey->mv_size);
        ap->max_acts_len = akey->mv_size;
    }
    return rc;
}

static uint64_t next_seq(apply_t *ap)
{
    uint64_t seq = ++ap->head;
    if (!ap->stats.first_seq)
        ap->stats.first_seq = seq;
    ap->stats.last_seq = seq;
    return seq;
}

/* Write a new current version (the record in the arena gets its seq patched in): its record
 * into `time`, a pointer to it into the change log. */
static int write_version(apply_t *ap, uint8_t *rec, size_t len, MDB_val *akey, uint64_t gen)
{
    rec_hdr_t h;
    memcpy(&h, rec, sizeof h);
    uint64_t seq = next_seq(ap);
    memcpy(rec, &seq, sizeof seq);
    int rc = put_change(ap, seq, &h.published_us, PTR_LEN);
    if (rc)
        return rc;
    uint8_t tk[16];
    time_key(tk, h.published_us, seq);
    rc = put_time(ap, tk, rec, len);
    if (rc)
        return rc;
    acts_val_t av = {h.published_us, seq, gen};
    return put_acts(ap, akey, &av);
}

/* Look up the current version of an acts entry: *av and the record in `time` (BORROWED until
 * the next write). */
static int get_current(apply_t *ap, MDB_val *akey, acts_val_t *av, uint8_t tk[16], MDB_val *rec)
{
    MDB_val v;
    int rc = mdb_get(ap->txn, ap->st->acts, akey, &v);
    if (rc)
        return rc;
    if (v.mv_size != sizeof *av)
        return MDB_CORRUPTED;
    memcpy(av, v.mv_data, sizeof *av);
    time_key(tk, av->published_us, av->seq);
    MDB_val k = {16, tk};
    rc = mdb_get(ap->txn, ap->st->time, &k, rec);
    return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
}

/* The version whose record `old` sits at tk in `time` stops being current: copy the record
 * into the batch's hold buffer (`old` points into a page that the writes below may move or
 * free), move it into changes[its seq], overwriting the pointer, and delete it from `time`.
 * *copy (may be NULL) receives the copy, valid until the next retire. */
static int retire_version(apply_t *ap, const uint8_t tk[16], const MDB_val *old,
                          const uint8_t **copy)
{
    uint8_t *rec = buf_room(&ap->b->hold, &ap->b->hold_cap, old->mv_size);
    if (!rec)
        return ENOMEM;
    memcpy(rec, old->mv_data, old->mv_size);
    MDB_val k = {8, (void *)(tk + 8)}, v = {old->mv_size, rec};   /* be64(seq): a changes key */
    int rc = mdb_put(ap->txn, ap->st->changes, &k, &v, 0);
    if (rc)
        return rc;
    k = (MDB_val){16, (void *)tk};
    rc = mdb_del(ap->txn, ap->st->time, &k, NULL);
    if (copy)
        *copy = rec;
    return rc;
}

static int apply_upsert(apply_t *ap, const op_t *op, uint8_t *rec)
{
    rec_hdr_t h;
    memcpy(&h, rec, sizeof h);
    const char *feed = (const char *)rec + sizeof h, *id = feed + h.feed_len;
    uint8_t kb[MAX_KEY + 1], tk[16];
    MDB_val akey = {acts_key(ap->st, kb, feed, h.feed_len, id, h.id_len), kb}, old;
    acts_val_t av;
    int rc = acts_past_end(ap, &akey) ? MDB_NOTFOUND : get_current(ap, &akey, &av, tk, &old);
    if (rc == MDB_NOTFOUND) {
        rc = write_version(ap, rec, op->len1, &akey, op->gen);
        ap->stats.inserted++;
        return rc ? rc : count_add(ap, feed, h.feed_len, 1);
    }
    if (rc)
        return rc;
    /* Same bytes after seq and published: unchanged. The time is left out because an activity
     * without published/updated is dated at ingest, so every re-poll would date it anew. */
    if (old.mv_size == op->len1 && memcmp((uint8_t *)old.mv_data + 16, rec + 16, op->len1 - 16) == 0) {
        ap->stats.unchanged++;
        if (op->gen <= av.gen)
            return 0;
        av.gen = op->gen;
        MDB_val v = {sizeof av, &av};
        return mdb_put(ap->txn, ap->st->acts, &akey, &v, 0);
    }
    rc = retire_version(ap, tk, &old, NULL);
    if (rc)
        return rc;
    ap->stats.updated++;
    return write_version(ap, rec, op->len1, &akey, op->gen > av.gen ? op->gen : av.gen);
}

/* Build the tombstone record of the version `old` into the batch's scratch. */
static int tomb_build(apply_t *ap, const MDB_val *old, uint8_t **out, size_t *len)
{
    store_rec_t r;
    if (rec_decode(old->mv_data, old->mv_size, &r))
        return MDB_CORRUPTED;
    size_t max = sizeof(rec_hdr_t) + r.feed_len + r.id_len + r.types_len + r.actor_len
                 + 8 + JSON_STR_MAX(r.feed_len) + 39 + JSON_STR_MAX(r.id_len) + 12 + ap->ts_len
                 + 3 + r.json_len;
    if (max > UINT32_MAX)
        return MDB_BAD_VALSIZE;
    uint8_t *rec = buf_room(&ap->b->scratch, &ap->b->scratch_cap, max);
    if (!rec)
        return ENOMEM;
    uint8_t *p = rec + sizeof(rec_hdr_t);
    p = put_bytes(p, r.feed, r.feed_len + r.id_len + r.types_len + r.actor_len);
    uint8_t *data = p;
    p = put_lit(p, "{\"feed\":");
    p = (uint8_t *)bytebuf_put_json_str((char *)p, r.feed, r.feed_len);
    p = put_lit(p, ",\"activity\":{\"type\":\"Tombstone\",\"id\":");
    p = (uint8_t *)bytebuf_put_json_str((char *)p, r.id, r.id_len);
    p = put_lit(p, ",\"deleted\":\"");
    p = put_bytes(p, ap->ts, ap->ts_len);
    p = put_lit(p, "\"}}");
    uint8_t *json = p;
    p = put_bytes(p, r.json, r.json_len);
    rec_hdr_t h = {
        .seq = 0, .published_us = r.published_us, .kind = STORE_REC_DELETE,
        .feed_len = (uint32_t)r.feed_len, .id_len = (uint32_t)r.id_len,
        .types_len = (uint32_t)r.types_len, .actor_len = (uint32_t)r.actor_len,
        .data_len = (uint32_t)(json - data), .json_off = (uint32_t)(json - rec),
        .json_len = (uint32_t)r.json_len,
    };
    memcpy(rec, &h, sizeof h);
    *out = rec;
    *len = (size_t)(p - rec);
    return 0;
}

/* Delete the current version behind akey, whose record `old` sits at tk in `time`: move the
 * record into the change log, remove it from time and acts, append a tombstone, count. */
static int remove_current(apply_t *ap, const char *feed, size_t flen, MDB_val *akey,
                          const uint8_t tk[16], const MDB_val *old)
{
    const uint8_t *copy;
    int rc = retire_version(ap, tk, old, &copy);
    if (rc)
        return rc;
    MDB_val kept = {old->mv_size, (void *)copy};
    uint8_t *tomb;
    size_t tlen;
    rc = tomb_build(ap, &kept, &tomb, &tlen);
    if (!rc)
        rc = mdb_del(ap->txn, ap->st->acts, akey, NULL);
    if (rc)
        return rc;
    uint64_t seq = next_seq(ap);
    memcpy(tomb, &seq, sizeof seq);
    rc = put_change(ap, seq, tomb, tlen);
    if (rc)
        return rc;
    ap->stats.deleted++;
    return count_add(ap, feed, flen, -1);
}

static int apply_delete(apply_t *ap, const op_t *op, const uint8_t *body)
{
    const char *feed = (const char *)body, *id = feed + op->len1;
    uint8_t kb[MAX_KEY + 1], tk[16];
    MDB_val akey = {acts_key(ap->st, kb, feed, op->len1, id, op->len2), kb}, old;
    acts_val_t av;
    int rc = get_current(ap, &akey, &av, tk, &old);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0 && akey.mv_size == ap->st->maxkey) {   /* hashed key: make sure it is this id */
        store_rec_t r;
        rc = rec_decode(old.mv_data, old.mv_size, &r);
        if (rc == 0 && (r.id_len != op->len2 || memcmp(r.id, id, r.id_len) != 0))
            return 0;
    }
    return rc ? rc : remove_current(ap, feed, op->len1, &akey, tk, &old);
}

static int apply_sweep(apply_t *ap, const op_t *op, const uint8_t *body)
{
    const char *feed = (const char *)body;
    size_t plen = op->len1 + 1;
    uint8_t cur[MAX_KEY + 1];
    memcpy(cur, feed, op->len1);
    cur[op->len1] = 0;
    MDB_val k = {plen, cur}, v;
    int rc = mdb_cursor_get(ap->c_acts, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        if (k.mv_size < plen || k.mv_size > MAX_KEY || memcmp(k.mv_data, feed, op->len1) != 0
            || ((const uint8_t *)k.mv_data)[op->len1] != 0)
            break;
        acts_val_t av;
        if (v.mv_size != sizeof av)
            return MDB_CORRUPTED;
        memcpy(&av, v.mv_data, sizeof av);
        if (av.gen >= op->gen) {
            rc = mdb_cursor_get(ap->c_acts, &k, &v, MDB_NEXT);
            continue;
        }
        size_t klen = k.mv_size;
        memcpy(cur, k.mv_data, klen);
        MDB_val akey = {klen, cur}, old, tkv;
        uint8_t tk[16];
        time_key(tk, av.published_us, av.seq);
        tkv = (MDB_val){16, tk};
        rc = mdb_get(ap->txn, ap->st->time, &tkv, &old);
        if (rc)
            return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
        rc = remove_current(ap, feed, op->len1, &akey, tk, &old);
        if (rc)
            return rc;
        k = (MDB_val){klen, cur};   /* the deleted key is gone: this lands on the next one */
        rc = mdb_cursor_get(ap->c_acts, &k, &v, MDB_SET_RANGE);
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
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
        default: rc = apply_state(ap, &op, body); break;
        }
        if (rc)
            return rc;
        off += align8(sizeof op + op.len1 + op.len2);
    }
    return 0;
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
    apply_t ap = {.st = st, .b = b, .head = st->wr_head};
    ap.ts_len = timefmt_format_rfc3339(timefmt_now_us(), ap.ts);
    b->ndeltas = 0;
    int rc = apply_begin(&ap);
    if (!rc)
        rc = apply_ops(&ap);
    if (!rc)
        rc = flush_counts(&ap);
    if (!rc && ap.head != st->wr_head)
        rc = meta_put_u64(ap.txn, st->meta, "head", 4, ap.head);
    if (rc) {
        if (ap.txn)
            mdb_txn_abort(ap.txn);
        return rc;
    }
    rc = mdb_txn_commit(ap.txn);   /* frees the txn and its cursors whatever the result */
    if (rc)
        return rc;
    st->wr_head = ap.head;
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
        int grc = rc == MDB_MAP_FULL ? map_grow(st) : map_resize(st, 0);
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

/* ---------------------------------------------------------------------------------------- */
/* Reading                                                                                   */

/* Translate an LMDB failure of a read function, logging it. */
static int read_fail(store_t *st, const char *what, int rc)
{
    log_error("store", "%s: %s: %s", st->path, what, mdb_strerror(rc));
    int code = store_code(rc);
    return code == STORE_ERR_NOTFOUND ? STORE_ERR_CORRUPT : code;
}

int store_get_feed_state(store_t *st, const char *feed, void **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    size_t flen = feed ? strlen(feed) : 0;
    if (check_feed(feed, flen))
        return STORE_ERR_INVALID;
    MDB_txn *txn;
    int rc = read_begin(st, &txn);
    if (rc)
        return read_fail(st, "read transaction", rc);
    MDB_val k = {flen, (void *)feed}, v;
    rc = mdb_get(txn, st->feeds, &k, &v);
    if (rc == 0) {
        *out = malloc(v.mv_size ? v.mv_size : 1);
        if (*out) {
            put_bytes(*out, v.mv_data, v.mv_size);
            *len = v.mv_size;
        }
    }
    read_end(st, txn);
    if (rc == MDB_NOTFOUND)
        return STORE_ERR_NOTFOUND;
    if (rc)
        return read_fail(st, "feed state", rc);
    return *out ? 0 : STORE_ERR_NOMEM;
}

uint64_t store_feed_count(store_t *st, const char *feed)
{
    size_t flen = feed ? strlen(feed) : 0;
    if (check_feed(feed, flen))
        return 0;
    char key[6 + STORE_MAX_FEED_LEN];
    size_t klen = count_key(key, feed, flen);
    MDB_txn *txn;
    uint64_t n = 0;
    if (read_begin(st, &txn))
        return 0;
    int rc = meta_get_u64(txn, st->meta, key, klen, &n);
    read_end(st, txn);
    return rc ? 0 : n;
}

void store_stats(store_t *st, store_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->head = store_head(st);
    MDB_txn *txn;
    if (read_begin(st, &txn))
        return;
    MDB_envinfo info;
    MDB_stat es, as, cs;
    if (mdb_env_info(st->env, &info) == 0 && mdb_env_stat(st->env, &es) == 0) {
        out->map_size = info.me_mapsize;
        out->used_bytes = ((uint64_t)info.me_last_pgno + 1) * es.ms_psize;
    }
    if (mdb_stat(txn, st->acts, &as) == 0)
        out->activities = as.ms_entries;
    if (mdb_stat(txn, st->changes, &cs) == 0)
        out->changes = cs.ms_entries;
    read_end(st, txn);
}

void store_report_metrics(metrics_out_t *out, void *store)
{
    store_stats_t s;
    store_stats(store, &s);
    metrics_gauge(out, "as_store_map_bytes", "Size of the LMDB map.", s.map_size);
    metrics_gauge(out, "as_store_used_bytes", "Bytes of the LMDB map in use.", s.used_bytes);
    metrics_gauge(out, "as_store_activities", "Activities stored.", s.activities);
    metrics_gauge(out, "as_changelog_head", "Last change-log sequence number.", s.head);
    metrics_gauge(out, "as_changelog_entries", "Entries in the change log.", s.changes);
}

/* A scan in progress: filters, the callback and its bookkeeping. */
typedef struct {
    store_scan_fn *fn;
    void *ud;
    uint64_t max_seq;
    size_t limit, visited;
    int done;          /* limit reached */
    int cb_rc;         /* non-zero: what the callback returned */
} scan_t;

/* Decode and visit one record. Returns 0 or an LMDB code (MDB_CORRUPTED). */
static int scan_visit(scan_t *s, const MDB_val *v)
{
    store_rec_t r;
    if (rec_decode(v->mv_data, v->mv_size, &r))
        return MDB_CORRUPTED;
    if (s->max_seq && r.seq > s->max_seq)
        return 0;
    s->visited++;
    s->cb_rc = s->fn(&r, s->ud);
    if (s->limit && s->visited >= s->limit)
        s->done = 1;
    return 0;
}

static int scan_stop(const scan_t *s) { return s->cb_rc || s->done; }

/* Common end of the scans: close, translate. mrc is the last LMDB code. */
static int scan_finish(store_t *st, MDB_txn *txn, MDB_cursor *c, const scan_t *s, int mrc)
{
    if (c)
        mdb_cursor_close(c);
    read_end(st, txn);
    if (mrc && mrc != MDB_NOTFOUND)
        return read_fail(st, "scan", mrc);
    return s->cb_rc;
}

static int scan_open(store_t *st, MDB_dbi dbi, MDB_txn **txn, MDB_cursor **c)
{
    int rc = read_begin(st, txn);
    if (rc)
        return rc;
    rc = mdb_cursor_open(*txn, dbi, c);
    if (rc)
        read_end(st, *txn);
    return rc;
}

/* A hint for the next records of a scan. LMDB lays out the nodes of a page downward in the order
 * they were inserted, so in an index filled in key order (both of ours, mostly) the next key's
 * record sits just below this one in memory, and the previous key's just above. Scans are bound
 * by memory latency; this is worth about a quarter of the time. A wrong guess costs nothing
 * (a prefetch never faults; the address is computed as an integer). */
static void prefetch_next(const MDB_val *v, size_t klen, int ascending)
{
    uintptr_t p = (uintptr_t)v->mv_data, step = v->mv_size + klen + 8;
    for (int i = 0; i < 2; i++) {
        p = ascending ? p - step : p + step;
        __builtin_prefetch((const void *)p);
    }
}

static store_tpos_t tpos_of(const MDB_val *k)
{
    return (store_tpos_t){time_key_published(k->mv_data), get_be64((const uint8_t *)k->mv_data + 8)};
}

/* Walk `time` from `from` (exclusive) towards `bound_us`: ascending, up to published < bound;
 * descending, down to published >= bound. */
static int scan_time_dir(store_t *st, store_tpos_t from, int64_t bound_us, uint64_t max_seq, size_t limit,
                         store_scan_fn *fn, void *ud, store_tpos_t *last, int ascending)
{
    if (last)
        *last = from;
    if (!st || !fn)
        return STORE_ERR_INVALID;
    scan_t s = {.fn = fn, .ud = ud, .max_seq = max_seq, .limit = limit};
    MDB_txn *txn;
    MDB_cursor *c;
    int rc = scan_open(st, st->time, &txn, &c);
    if (rc)
        return read_fail(st, "scan", rc);
    uint8_t kb[16];
    time_key(kb, from.published_us, from.seq);
    MDB_val k = {16, kb}, v;
    MDB_cursor_op step = ascending ? MDB_NEXT : MDB_PREV;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (!ascending)
        rc = mdb_cursor_get(c, &k, &v, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
    else if (rc == 0 && k.mv_size == 16 && memcmp(k.mv_data, kb, 16) == 0)
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, step)) {
        if (k.mv_size != 16) {
            rc = MDB_CORRUPTED;
            break;
        }
        prefetch_next(&v, 16, ascending);
        store_tpos_t pos = tpos_of(&k);
        if (ascending ? pos.published_us >= bound_us : pos.published_us < bound_us)
            break;
        size_t before = s.visited;
        if ((rc = scan_visit(&s, &v)) != 0)
            break;
        if (last && s.visited != before)
            *last = pos;
        if (scan_stop(&s))
            break;
    }
    return scan_finish(st, txn, c, &s, rc);
}

int store_scan_time(store_t *st, store_tpos_t after, int64_t end_us, uint64_t max_seq,
                    size_t limit, store_scan_fn *fn, void *ud, store_tpos_t *last)
{
    return scan_time_dir(st, after, end_us, max_seq, limit, fn, ud, last, 1);
}

int store_scan_time_desc(store_t *st, store_tpos_t before, int64_t start_us, uint64_t max_seq,
                         size_t limit, store_scan_fn *fn, void *ud, store_tpos_t *last)
{
    return scan_time_dir(st, before, start_us, max_seq, limit, fn, ud, last, 0);
}

/* Turn the change-log entry *v of seq into its record: a record is left as is; a pointer is
 * looked up in `time` through ct, a cursor of the same read txn (*ct_set: it sits on the last
 * entry found). Seqs written together are mostly neighbours in `time` too, so the entry after
 * the cursor's is tried first; else MDB_SET, which searches the cursor's page before the tree.
 * Returns 0, an LMDB code, or STORE_ERR_CORRUPT (logged here) when the pointer leads nowhere. */
static int change_record(store_t *st, MDB_cursor *ct, int *ct_set, uint64_t seq, MDB_val *v)
{
    if (v->mv_size != PTR_LEN)
        return 0;
    int64_t pub;
    memcpy(&pub, v->mv_data, sizeof pub);
    uint8_t tk[16];
    time_key(tk, pub, seq);
    MDB_val k = {16, tk}, next;
    int rc = MDB_NOTFOUND;
    if (*ct_set) {
        rc = mdb_cursor_get(ct, &next, v, MDB_NEXT);
        if (rc == 0 && (next.mv_size != 16 || memcmp(next.mv_data, tk, 16) != 0))
            rc = MDB_NOTFOUND;
    }
    if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(ct, &k, v, MDB_SET);
    *ct_set = rc == 0;
    if (rc == 0)
        prefetch_next(v, 16, 1);
    uint64_t rec_seq = 0;
    if (rc == 0 && v->mv_size >= sizeof(rec_hdr_t))
        memcpy(&rec_seq, v->mv_data, sizeof rec_seq);
    if (rc == MDB_NOTFOUND || (rc == 0 && rec_seq != seq)) {
        log_error("store", "%s: scan: store corrupt: change %llu points to no record in the time "
                  "index", st->path, (unsigned long long)seq);
        return STORE_ERR_CORRUPT;
    }
    return rc;
}

int store_scan_changes(store_t *st, uint64_t after_seq, uint64_t upto_seq, size_t limit,
                       store_scan_fn *fn, void *ud, uint64_t *last_seq)
{
    if (last_seq)
        *last_seq = after_seq;
    if (!st || !fn)
        return STORE_ERR_INVALID;
    if (upto_seq == 0)
        upto_seq = store_head(st);
    if (after_seq >= upto_seq)
        return 0;
    scan_t s = {.fn = fn, .ud = ud, .limit = limit};
    MDB_txn *txn;
    MDB_cursor *c, *ct;
    int ct_set = 0;
    int rc = scan_open(st, st->changes, &txn, &c);
    if (rc)
        return read_fail(st, "scan", rc);
    rc = mdb_cursor_open(txn, st->time, &ct);
    if (rc) {
        mdb_cursor_close(c);
        read_end(st, txn);
        return read_fail(st, "scan", rc);
    }
    uint8_t kb[8];
    put_be64(kb, after_seq + 1);
    MDB_val k = {8, kb}, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        prefetch_next(&v, 8, 1);
        uint64_t seq = get_be64(k.mv_data);
        if (seq > upto_seq)
            break;
        if ((rc = change_record(st, ct, &ct_set, seq, &v)) != 0 || (rc = scan_visit(&s, &v)) != 0)
            break;
        if (last_seq)
            *last_seq = seq;
        if (scan_stop(&s))
            break;
    }
    mdb_cursor_close(ct);
    if (rc == STORE_ERR_CORRUPT) {   /* a dangling pointer, already logged */
        scan_finish(st, txn, c, &s, 0);
        return rc;
    }
    return scan_finish(st, txn, c, &s, rc);
}
