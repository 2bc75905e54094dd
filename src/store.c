/* store.c -- activities of many feeds, a time index and a durable change log in one LMDB
 * environment under a data directory (contract in store.h; layout in store_int.h): opening,
 * schema checks, reading and the helpers the store's other files share. Writing is
 * store_batch.c.
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
 * when nothing was visited *last is left at the starting position. store_scan_changes resolves
 * a pointer through a cursor on `time` in the same read transaction (a pointer without its
 * `time` entry is corruption).
 *
 * Memory: on malloc failure functions return STORE_ERR_NOMEM; nothing aborts.
 * Errors: MDB_* codes never leave the store's files; store_code() translates them and failures
 * are logged (module "store") with the path and the LMDB reason. */
#include "store_int.h"
#include "bytebuf.h"
#include "errfmt.h"
#include "log.h"
#include "metrics.h"
#include "timefmt.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------- */
/* Shared helpers                                                                            */

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
    case STORE_ERR_EXPIRED: return "view expired";
    default: return "unknown store error";
    }
}

int store_code(int rc)
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

size_t store_acts_key(const store_t *st, uint8_t *buf, const char *feed, size_t flen,
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

int store_check_feed(const char *feed, size_t len)
{
    if (!feed || len == 0 || len > STORE_MAX_FEED_LEN || memchr(feed, 0, len))
        return STORE_ERR_INVALID;
    return 0;
}

int store_rec_decode(const void *p, size_t n, store_rec_t *r)
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

int store_read_begin(store_t *st, MDB_txn **txn)
{
    pthread_rwlock_rdlock(&st->grow);
    int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
    if (rc)
        pthread_rwlock_unlock(&st->grow);
    return rc;
}

void store_read_end(store_t *st, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&st->grow);
}

/* Resize the map to `bytes` (0: adopt the size another process set) with no read txn active.
 * The writer calls this with no transaction of its own. */
int store_map_resize(store_t *st, uint64_t bytes)
{
    pthread_rwlock_wrlock(&st->grow);
    store_views_expire(st);   /* a remap needs every read txn of this process ended */
    int rc = mdb_env_set_mapsize(st->env, (size_t)bytes);
    pthread_rwlock_unlock(&st->grow);
    return rc;
}

int store_map_grow(store_t *st)
{
    MDB_envinfo info;
    mdb_env_info(st->env, &info);
    uint64_t cur = info.me_mapsize, next = cur * 2;
    if (next < cur || next > (SIZE_MAX >> 1))
        return ENOSPC;
    int rc = store_map_resize(st, next);
    if (rc) {
        log_error("store", "%s: cannot grow the map to %llu bytes: %s", st->path,
                  (unsigned long long)next, mdb_strerror(rc));
        return rc == ENOMEM ? ENOSPC : rc;   /* no address space left: the map cannot grow */
    }
    log_info("store", "%s: map grown to %llu bytes", st->path, (unsigned long long)next);
    return 0;
}

int store_meta_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t klen, uint64_t *out)
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

int store_meta_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t klen, uint64_t val)
{
    MDB_val k = {klen, (void *)key}, v = {sizeof val, &val};
    return mdb_put(txn, dbi, &k, &v, 0);
}

size_t store_count_key(char *buf, const char *feed, size_t len)
{
    memcpy(buf, "count", 6);   /* with its '\0' */
    memcpy(buf + 6, feed, len);
    return 6 + len;
}

int store_del_quiet(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen)
{
    MDB_val key = {klen, (void *)k};
    int rc = mdb_del(txn, dbi, &key, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* "formerType": the types, a string for one and an array for several; nothing for none. */
static uint8_t *put_former_type(uint8_t *p, const char *types, size_t len)
{
    if (!len)
        return p;
    const char *end = types + len, *sep = memchr(types, STORE_TYPE_SEP, len);
    p = put_lit(p, ",\"formerType\":");
    if (!sep)
        return (uint8_t *)bytebuf_put_json_str((char *)p, types, len);
    *p++ = '[';
    for (const char *t = types; t < end; t = sep + 1) {
        sep = memchr(t, STORE_TYPE_SEP, (size_t)(end - t));
        if (!sep)
            sep = end;
        if (t != types)
            *p++ = ',';
        p = (uint8_t *)bytebuf_put_json_str((char *)p, t, (size_t)(sep - t));
    }
    *p++ = ']';
    return p;
}

size_t store_tomb_build(const store_rec_t *old, int64_t deleted_us, uint8_t **buf, size_t *cap)
{
    char del[TS_MAX], pub[TS_MAX];
    size_t dl = timefmt_format_rfc3339(deleted_us, del), pl = timefmt_format_rfc3339(old->published_us, pub);
    size_t ntypes = 1;
    for (size_t i = 0; i < old->types_len; i++)
        ntypes += old->types[i] == STORE_TYPE_SEP;
    size_t max = sizeof(rec_hdr_t) + old->feed_len + old->id_len + old->types_len + 64
                 + JSON_STR_MAX(old->feed_len) + JSON_STR_MAX(old->id_len)
                 + JSON_STR_MAX(old->types_len) + 3 * ntypes + pl + dl;
    if (max > UINT32_MAX)
        return 0;
    if (max > *cap) {
        uint8_t *p = realloc(*buf, max);
        if (!p)
            return 0;
        *buf = p;
        *cap = max;
    }
    uint8_t *rec = *buf, *p = rec + sizeof(rec_hdr_t);
    p = put_bytes(p, old->feed, old->feed_len);
    p = put_bytes(p, old->id, old->id_len);
    p = put_bytes(p, old->types, old->types_len);
    uint8_t *data = p;
    p = put_lit(p, "{\"feed\":");
    p = (uint8_t *)bytebuf_put_json_str((char *)p, old->feed, old->feed_len);
    p = put_lit(p, ",\"activity\":{\"type\":\"Tombstone\",\"id\":");
    p = (uint8_t *)bytebuf_put_json_str((char *)p, old->id, old->id_len);
    p = put_former_type(p, old->types, old->types_len);
    p = put_lit(p, ",\"published\":\"");
    p = put_bytes(p, pub, pl);
    p = put_lit(p, "\",\"deleted\":\"");
    p = put_bytes(p, del, dl);
    p = put_lit(p, "\"}}");
    rec_hdr_t h = {
        .seq = 0, .published_us = old->published_us, .kind = STORE_REC_DELETE,
        .feed_len = (uint32_t)old->feed_len, .id_len = (uint32_t)old->id_len,
        .types_len = (uint32_t)old->types_len, .actor_len = 0,
        .data_len = (uint32_t)(p - data), .json_off = (uint32_t)(p - rec), .json_len = 0,
    };
    memcpy(rec, &h, sizeof h);
    return (size_t)(p - rec);
}

static int read_fail(store_t *st, const char *what, int rc);

int store_get_txn(store_t *st, MDB_txn *txn, const char *feed, const char *id, size_t id_len,
                  store_scan_fn *fn, void *ud)
{
    size_t flen = strlen(feed);
    if (store_check_feed(feed, flen) || (id_len && !id))
        return STORE_ERR_INVALID;
    uint8_t kb[MAX_KEY + 1];
    MDB_val k = {store_acts_key(st, kb, feed, flen, id, id_len), kb}, v;
    int rc = mdb_get(txn, st->acts, &k, &v);
    acts_val_t av;
    if (rc == 0 && v.mv_size < sizeof av)
        rc = MDB_CORRUPTED;
    if (rc)
        return rc == MDB_NOTFOUND ? STORE_ERR_NOTFOUND : read_fail(st, "lookup", rc);
    memcpy(&av, v.mv_data, sizeof av);
    uint8_t tk[16];
    time_key(tk, av.published_us, av.seq);
    k = (MDB_val){16, tk};
    store_rec_t r;
    rc = mdb_get(txn, st->time, &k, &v);
    if (rc || store_rec_decode(v.mv_data, v.mv_size, &r))
        return read_fail(st, "lookup", rc ? rc : MDB_CORRUPTED);
    if (r.id_len != id_len || memcmp(r.id, id, id_len) != 0)   /* a hashed key of another id */
        return STORE_ERR_NOTFOUND;
    fn(&r, ud);
    return 0;
}

int store_get(store_t *st, const char *feed, const char *id, size_t id_len, store_scan_fn *fn, void *ud)
{
    MDB_txn *txn;
    int rc = store_read_begin(st, &txn);
    if (rc)
        return read_fail(st, "lookup", rc);
    rc = store_get_txn(st, txn, feed, id, id_len, fn, ud);
    store_read_end(st, txn);
    return rc;
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
        rc = mdb_env_set_maxdbs(st->env, 16);
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

/* In an open write txn: check the schema of an existing store (before creating anything) or
 * initialize a new one; *from gets the version found (SCHEMA_VERSION for a new store).
 * Returns an LMDB code, or a STORE_ERR_* code with err set. */
static int schema_check(store_t *st, MDB_txn *txn, uint32_t *from, char *err, size_t errlen)
{
    *from = SCHEMA_VERSION;
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
    *from = v;
    return 0;
}

/* A u64 of meta; an absent key reads as 0. Returns an LMDB code. */
static int meta_u64_or_zero(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t *out)
{
    *out = 0;
    int rc = store_meta_get_u64(txn, meta, key, strlen(key), out);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The id as 32 hex digits, and the tag event ids carry: its first STORE_TAG_LEN digits. */
void store_identity_text(store_t *st)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        st->id_hex[2 * i] = hex[st->id[i] >> 4];
        st->id_hex[2 * i + 1] = hex[st->id[i] & 15];
    }
    st->id_hex[32] = '\0';
    memcpy(st->tag, st->id_hex, STORE_TAG_LEN);
    st->tag[STORE_TAG_LEN] = '\0';
}

/* Read the store's identity from meta, making one (16 random bytes) for a store without. */
static int identity_load(store_t *st, MDB_txn *txn)
{
    MDB_val k = {2, "id"}, v;
    int rc = mdb_get(txn, st->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        if (getrandom(st->id, sizeof st->id, 0) != (ssize_t)sizeof st->id)
            return errno ? errno : EIO;
        v = (MDB_val){sizeof st->id, st->id};
        rc = mdb_put(txn, st->meta, &k, &v, 0);
    } else if (rc == 0 && v.mv_size == sizeof st->id) {
        memcpy(st->id, v.mv_data, sizeof st->id);
    } else if (rc == 0) {
        rc = MDB_CORRUPTED;
    }
    if (rc)
        return rc;
    k = (MDB_val){6, "parent"};
    rc = mdb_get(txn, st->meta, &k, &v);
    if (rc == 0 && v.mv_size == sizeof st->parent)
        memcpy(st->parent, v.mv_data, sizeof st->parent);
    if (rc == 0 || rc == MDB_NOTFOUND)
        rc = meta_u64_or_zero(txn, st->meta, "fork", &st->fork);
    store_identity_text(st);
    return rc;
}

/* The chain of the newest commit (0 for a store without commits). */
static int last_chain(store_t *st, MDB_txn *txn, uint64_t *chain)
{
    MDB_cursor *c;
    MDB_val k, v;
    *chain = 0;
    int rc = mdb_cursor_open(txn, st->commits, &c);
    if (rc)
        return rc;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0 && v.mv_size == sizeof(commit_t)) {
        commit_t ct;
        memcpy(&ct, v.mv_data, sizeof ct);
        *chain = ct.chain;
    } else if (rc == 0) {
        rc = MDB_CORRUPTED;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_commit_at(MDB_txn *txn, MDB_dbi commits, uint64_t seq, uint64_t *last, commit_t *c)
{
    MDB_cursor *cur;
    uint8_t kb[8];
    put_be64(kb, seq);
    MDB_val k = {8, kb}, v;
    int rc = mdb_cursor_open(txn, commits, &cur);
    if (rc)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && (k.mv_size != 8 || v.mv_size != sizeof *c))
        rc = MDB_CORRUPTED;
    if (rc == 0) {
        *last = get_be64(k.mv_data);
        memcpy(c, v.mv_data, sizeof *c);
    }
    mdb_cursor_close(cur);
    return rc;
}

static int schema_init(store_t *st, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc)
        return open_error(st->path, rc, err, errlen);
    uint32_t from;
    rc = schema_check(st, txn, &from, err, errlen);
    if (!rc)
        rc = mdb_dbi_open(txn, "acts", MDB_CREATE, &st->acts);
    if (!rc)
        rc = mdb_dbi_open(txn, "time", MDB_CREATE, &st->time);
    if (!rc)
        rc = mdb_dbi_open(txn, "changes", MDB_CREATE, &st->changes);
    if (!rc)
        rc = mdb_dbi_open(txn, "superseded", MDB_CREATE, &st->superseded);
    if (!rc)
        rc = mdb_dbi_open(txn, "tombs", MDB_CREATE, &st->tombs);
    if (!rc)
        rc = mdb_dbi_open(txn, "commits", MDB_CREATE, &st->commits);
    if (!rc)
        rc = mdb_dbi_open(txn, "feeds", MDB_CREATE, &st->feeds);
    if (!rc && from < SCHEMA_VERSION)
        rc = store_upgrade_begin(st, txn, from);
    uint64_t head = 0, low = 0, horizon = 0, commit_horizon = 0, chain = 0;
    if (!rc)
        rc = identity_load(st, txn);
    if (!rc)
        rc = last_chain(st, txn, &chain);
    if (!rc)
        rc = meta_u64_or_zero(txn, st->meta, "commit_horizon", &commit_horizon);
    if (!rc)
        rc = meta_u64_or_zero(txn, st->meta, "head", &head);
    if (!rc)
        rc = meta_u64_or_zero(txn, st->meta, "low_water", &low);
    if (!rc)
        rc = meta_u64_or_zero(txn, st->meta, "tomb_horizon", &horizon);
    if (rc) {
        mdb_txn_abort(txn);
        return rc < 0 && rc >= STORE_ERR_NOTFOUND ? rc : open_error(st->path, rc, err, errlen);
    }
    rc = mdb_txn_commit(txn);
    if (rc)
        return open_error(st->path, rc, err, errlen);
    st->wr_head = head;
    atomic_store(&st->head, head);
    st->wr_chain = chain;
    store_publish_marks(st, low, horizon, commit_horizon);
    rc = store_upgrade_finish(st);
    return rc ? open_error(st->path, rc, err, errlen) : 0;
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
    pthread_mutex_init(&st->views_mu, NULL);
    st->version_keep_us = DEFAULT_VERSION_KEEP_US;
    st->tomb_keep_us = DEFAULT_TOMB_KEEP_US;
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

int store_reopen(store_t *st, const char *replacement, char *err, size_t errlen)
{
    MDB_envinfo info;
    mdb_env_info(st->env, &info);
    uint64_t map = info.me_mapsize;
    char data[4096], lock[4096];
    snprintf(data, sizeof data, "%s/data.mdb", st->path);
    snprintf(lock, sizeof lock, "%s/lock.mdb", st->path);
    char previous[4200];
    snprintf(previous, sizeof previous, "%s/data.mdb.previous", st->path);
    pthread_rwlock_wrlock(&st->grow);   /* no read transaction while the file changes */
    store_views_expire(st);
    mdb_env_close(st->env);
    st->env = NULL;
    int rc = 0;
    if (replacement && (rename(data, previous) != 0 || rename(replacement, data) != 0)) {
        errfmt(err, errlen, "%s: cannot install %s: %s", st->path, replacement, strerror(errno));
        rc = STORE_ERR_IO;
    }
    if (replacement)
        unlink(lock);   /* describes the old file */
    if (!rc)
        rc = env_open(st, map, err, errlen);
    if (!rc)
        rc = schema_init(st, err, errlen);
    if (rc && replacement && access(previous, F_OK) == 0) {   /* put the old file back and open it */
        char again[256];
        if (st->env)
            mdb_env_close(st->env);
        st->env = NULL;
        rename(previous, data);
        unlink(lock);
        if (env_open(st, map, again, sizeof again) != 0 || schema_init(st, again, sizeof again) != 0)
            log_error("store", "%s: the previous store does not open again either: %s", st->path, again);
    } else if (replacement) {
        unlink(previous);
    }
    pthread_rwlock_unlock(&st->grow);
    return rc;
}

void store_close(store_t *st)
{
    if (!st)
        return;
    if (st->env)
        mdb_env_close(st->env);
    if (st->grow_init) {
        pthread_rwlock_destroy(&st->grow);
        pthread_mutex_destroy(&st->views_mu);
    }
    free(st->path);
    free(st);
}

void store_set_commit_hook(store_t *st, store_commit_hook_fn *fn, void *ud)
{
    st->hook = fn;
    st->hook_ud = ud;
}

const char *store_path(store_t *st) { return st->path; }

/* Write a compacted copy of the store (one read transaction; only pages in use, so freed pages
 * and what they held are left behind) to path, synced. Returns 0 or an errno/LMDB code. */
static int copy_compacted(store_t *st, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    int rc = mdb_env_copyfd2(st->env, fd, MDB_CP_COMPACT);
    if (!rc && fsync(fd) != 0)
        rc = errno;
    if (close(fd) != 0 && !rc)
        rc = errno;
    return rc;
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* rename(2) from, to, then sync the directory so that the rename survives a power loss. */
static int rename_synced(const char *dir, const char *from, const char *to)
{
    if (rename(from, to) != 0)
        return errno;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno;
    int rc = fsync(dfd) == 0 ? 0 : errno;
    close(dfd);
    return rc;
}

int store_compact(const char *dir, uint64_t *before, uint64_t *after, char *err, size_t errlen)
{
    store_t *st;
    char data[4096], tmp[4200], lock[4200];
    int rc = store_open(&st, dir, 0, err, errlen);
    if (rc)
        return rc;
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    snprintf(tmp, sizeof tmp, "%s/data.mdb.compact", dir);
    snprintf(lock, sizeof lock, "%s/lock.mdb", dir);
    *before = file_size(data);
    rc = copy_compacted(st, tmp);
    store_close(st);
    if (!rc)
        rc = rename_synced(dir, tmp, data);
    if (rc) {
        unlink(tmp);
        errfmt(err, errlen, "%s: compacting failed: %s", dir, mdb_strerror(rc));
        return store_code(rc) == STORE_ERR_NOTFOUND ? STORE_ERR_IO : store_code(rc);
    }
    unlink(lock);   /* describes the old file; the next opener makes a new one */
    *after = file_size(data);
    return 0;
}

void store_set_retention(store_t *st, int64_t version_ms, int64_t tombstone_ms)
{
    st->version_keep_us = version_ms < 0 ? 0 : version_ms * 1000;
    st->tomb_keep_us = tombstone_ms < 0 ? 0 : tombstone_ms * 1000;
}

uint64_t store_low_water(store_t *st) { return atomic_load_explicit(&st->low_water, memory_order_acquire); }

uint64_t store_tombstone_horizon(store_t *st)
{
    return atomic_load_explicit(&st->tomb_horizon, memory_order_acquire);
}

uint64_t store_head(store_t *st) { return atomic_load_explicit(&st->head, memory_order_acquire); }


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
    if (store_check_feed(feed, flen))
        return STORE_ERR_INVALID;
    MDB_txn *txn;
    int rc = store_read_begin(st, &txn);
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
    store_read_end(st, txn);
    if (rc == MDB_NOTFOUND)
        return STORE_ERR_NOTFOUND;
    if (rc)
        return read_fail(st, "feed state", rc);
    return *out ? 0 : STORE_ERR_NOMEM;
}

uint64_t store_feed_count(store_t *st, const char *feed)
{
    size_t flen = feed ? strlen(feed) : 0;
    if (store_check_feed(feed, flen))
        return 0;
    char key[6 + STORE_MAX_FEED_LEN];
    size_t klen = store_count_key(key, feed, flen);
    MDB_txn *txn;
    uint64_t n = 0;
    if (store_read_begin(st, &txn))
        return 0;
    int rc = store_meta_get_u64(txn, st->meta, key, klen, &n);
    store_read_end(st, txn);
    return rc ? 0 : n;
}

void store_stats(store_t *st, store_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->head = store_head(st);
    MDB_txn *txn;
    if (store_read_begin(st, &txn))
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
    store_read_end(st, txn);
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
    store_t *st = store;
    metrics_gauge(out, "as_store_low_water_seq", "Below this change-log seq superseded versions may be pruned.",
                  store_low_water(st));
    metrics_gauge(out, "as_store_tombstone_horizon_seq", "Below this change-log seq deletions may be forgotten.",
                  store_tombstone_horizon(st));
    metrics_counter(out, "as_store_pruned_versions_total", "Superseded versions pruned (since start).",
                    atomic_load(&st->pruned_versions));
    metrics_counter(out, "as_store_pruned_tombstones_total", "Tombstones pruned (since start).",
                    atomic_load(&st->pruned_tombs));
    metrics_counter(out, "as_store_erased_activities_total", "Activities erased by a delete or sweep (since start).",
                    atomic_load(&st->erased));
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
static int scan_visit(scan_t *s, const MDB_val *v, int superseded)
{
    store_rec_t r;
    if (store_rec_decode(v->mv_data, v->mv_size, &r))
        return MDB_CORRUPTED;
    r.superseded = superseded && r.kind == STORE_REC_UPSERT;
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
    store_read_end(st, txn);
    if (mrc && mrc != MDB_NOTFOUND)
        return read_fail(st, "scan", mrc);
    return s->cb_rc;
}

static int scan_open(store_t *st, MDB_dbi dbi, MDB_txn **txn, MDB_cursor **c)
{
    int rc = store_read_begin(st, txn);
    if (rc)
        return rc;
    rc = mdb_cursor_open(*txn, dbi, c);
    if (rc)
        store_read_end(st, *txn);
    return rc;
}

/* The count keys of `meta` ("count\0<feed>") sort together: walk them. Returns an LMDB code;
 * *stop gets the callback's value when it stopped the walk. */
static int feeds_walk(MDB_cursor *c, store_feed_fn *fn, void *ud, int *stop)
{
    MDB_val k = {6, "count"}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    for (; rc == 0 && !*stop; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= 6 || memcmp(k.mv_data, "count", 6) != 0)
            return 0;
        uint64_t n;
        if (v.mv_size != sizeof n)
            return MDB_CORRUPTED;
        memcpy(&n, v.mv_data, sizeof n);
        *stop = n ? fn((const char *)k.mv_data + 6, k.mv_size - 6, n, ud) : 0;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_feeds(store_t *st, store_feed_fn *fn, void *ud)
{
    MDB_txn *txn;
    MDB_cursor *c;
    int stop = 0, rc = scan_open(st, st->meta, &txn, &c);
    if (rc)
        return read_fail(st, "feeds", rc);
    rc = feeds_walk(c, fn, ud, &stop);
    mdb_cursor_close(c);
    store_read_end(st, txn);
    return rc ? read_fail(st, "feeds", rc) : stop;
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
int store_scan_time_txn(store_t *st, MDB_txn *txn, store_tpos_t from, int64_t bound_us, uint64_t max_seq,
                        size_t limit, store_scan_fn *fn, void *ud, store_tpos_t *last, int ascending)
{
    scan_t s = {.fn = fn, .ud = ud, .max_seq = max_seq, .limit = limit};
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, st->time, &c);
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
        if ((rc = scan_visit(&s, &v, 0)) != 0)
            break;
        if (last && s.visited != before)
            *last = pos;
        if (scan_stop(&s))
            break;
    }
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND)
        return read_fail(st, "scan", rc);
    return s.cb_rc;
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
    MDB_txn *txn;
    int rc = store_read_begin(st, &txn);
    if (rc)
        return read_fail(st, "scan", rc);
    rc = store_scan_time_txn(st, txn, from, bound_us, max_seq, limit, fn, ud, last, ascending);
    store_read_end(st, txn);
    return rc;
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
int store_change_record(store_t *st, MDB_cursor *ct, int *ct_set, uint64_t seq, MDB_val *v)
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
        store_read_end(st, txn);
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
        int is_record = v.mv_size != PTR_LEN;   /* not a pointer: superseded, or a tombstone */
        if ((rc = store_change_record(st, ct, &ct_set, seq, &v)) != 0 || (rc = scan_visit(&s, &v, is_record)) != 0)
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

