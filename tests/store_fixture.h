/* store_fixture.h -- shared fixture of the store and replication tests: a fresh temporary
 * directory with an open store and batch per test, activity builders, scan collectors that copy
 * the borrowed records, and a comparison of two stores.
 * Criterion helpers: they assert, so call them from tests only. */
#ifndef STORE_FIXTURE_H
#define STORE_FIXTURE_H
#include "store.h"
#include <stddef.h>
#include <stdint.h>

extern char *g_dir;          /* owned by the fixture: this test's temporary directory */
extern store_t *g_st;        /* owned; NULL when a test closed it */
extern store_batch_t *g_b;   /* owned; a batch of g_st */

/* Criterion .init / .fini of a suite that uses the fixture. */
void store_fixture_setup(void);
void store_fixture_teardown(void);

/* Remove a directory tree (errors ignored). */
void rm_tree(const char *path);

/* Write the LMDB environment described by `dump` (the text of `mdb_dump -a`: named databases of
 * plain btrees, printable or bytevalue) into the directory `dir` (which exists and holds no
 * store). Fixtures of stores written by older code are kept as such dumps: text, reviewable,
 * and independent of page layout. Asserts. */
void load_store_dump(const char *dump, const char *dir);

/* Open a store in dir (asserts success). */
store_t *open_ok(const char *dir, uint64_t map);
/* Close and reopen the fixture's store (the batch is rebuilt for the new handle). */
void reopen(uint64_t map);

/* An activity of `feed` with types Create, Note and actor alice; strings are BORROWED. */
store_activity_t act(const char *feed, const char *id, int64_t pub, const char *json);
void upsert(store_batch_t *b, const char *feed, const char *id, int64_t pub, const char *json,
            uint64_t gen);
store_batch_stats_t commit_ok(store_batch_t *b);

/* A copy of a scanned record (every string owned, NUL-terminated). */
typedef struct {
    uint64_t seq;
    int kind;
    int64_t pub;
    char *feed, *id, *types, *actor, *data, *json;
    int superseded;
} crec_t;

typedef struct {
    crec_t *r;
    size_t n, cap;
    size_t stop_at;   /* return 42 after this many (0: never) */
} coll_t;

/* A malloc'd NUL-terminated copy of n bytes (asserts). */
char *dupn(const char *s, size_t n);

/* A store_scan_fn that appends a copy of each record to the coll_t `ud`. */
int collect(const store_rec_t *rec, void *ud);
void coll_free(coll_t *c);

extern const store_tpos_t T_START, T_END;
void scan_all_time(coll_t *c);
void scan_all_changes(coll_t *c);

/* ~400-byte activity JSON for id, varying with n. */
void pad_json(char *buf, size_t cap, const char *id, int n);
/* Activities n<from>..n<from+count-1> of feed "g" published at i; verify_numbered checks the
 * store holds exactly n0..n<total-1>. */
void write_numbered(store_batch_t *b, int from, int count);
void verify_numbered(int total);

/* Two stores hold the same change log, time index, head, chain and pruning marks (asserts). */
void assert_same_stores(store_t *x, store_t *y);
/* A second store in the fixture's directory (<g_dir>/replica; its path in dir). */
store_t *second_store(char *dir, size_t len);

#endif
