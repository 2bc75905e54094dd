/* bench_store.c -- store throughput: write 1,000,000 ~400-byte activities in batches of 1,000
 * into a temporary store under $TMPDIR (default /tmp), then scan 500,000 records of the time
 * index from its middle, 500,000 entries of the change log from its middle (each resolved
 * through the time index), and update 100,000 activities spread over the store (every tenth:
 * each update moves the old record into the change log); then retention: every activity
 * updated once more (900,000 more superseded versions: 1,000,000 in all) and all of them pruned
 * as the writer does it (store_prune, 3 ms of work per transaction), reporting versions/s and
 * the longest transaction; and a sweep of 100,000 activities of another feed in the pieces
 * ingest uses (2,000 per transaction), reporting its time and its longest transaction, which
 * is how long another feed's page waits for the writer. Then the same writes again under
 * /dev/shm (tmpfs, where fsync is free) to show the store's own cost apart from the disk's.
 * Prints one line per measure ("store.write  N activities/s (target >= 500000)") and the
 * machine. Only store calls are timed (building the test JSON is not). Stores are removed
 * afterwards. Exit status 0 unless a store call failed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench.h"
#include "harness.h"
#include "store.h"
#include "timefmt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ACTS 1000000
#define BATCH 1000
#define SCAN_N 500000
#define UPDATE_N 100000
#define BASE_US 1700000000000000LL

/* A ~400-byte compact activity (published i ms after BASE_US); `rev` > 0 makes an edited
 * version of it. */
static size_t make_json(char *buf, size_t cap, long i, int rev, char *id, size_t *id_len)
{
    *id_len = bench_activity_id(id, i);
    return (size_t)snprintf(buf, cap,
        "{\"@context\":\"https://www.w3.org/ns/activitystreams\",\"type\":\"Create\","
        "\"id\":\"%s\",\"actor\":\"https://bench.example/users/u%ld\","
        "\"published\":\"2023-11-14T22:13:20.%03ldZ\",\"object\":{\"type\":\"Note\","
        "\"id\":\"https://bench.example/notes/%08ld\",\"content\":\"Lorem ipsum dolor sit amet, "
        "consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore "
        "magna aliqua. Ut enim ad minim veniam, quis nostrud %ld%s.\"}}",
        id, i % 97, i % 1000, i, i, rev ? " (edited)" : "");
}

static store_activity_t bench_act(const char *id, size_t id_len, long i, const char *json,
                                  size_t json_len)
{
    return (store_activity_t){
        .feed = "bench", .feed_len = 5, .id = id, .id_len = id_len,
        .published_us = BASE_US + i * 1000, .types = "Create", .types_len = 6,
        .actor = "https://bench.example/users/u1", .actor_len = 30,
        .json = json, .json_len = json_len,
    };
}

/* Write N_ACTS activities; prints "<label>  N activities/s ..." (wall clock) and the CPU rate. */
static int bench_write(store_t *st, const char *label, const char *where)
{
    store_batch_t *b;
    if (store_batch_new(st, &b))
        return -1;
    static char json[BATCH][512], ids[BATCH][96];
    static size_t jlen[BATCH], idlen[BATCH];
    double spent = 0, cpu = 0;
    for (long base = 0; base < N_ACTS; base += BATCH) {
        for (int j = 0; j < BATCH; j++)
            jlen[j] = make_json(json[j], sizeof json[j], base + j, 0, ids[j], &idlen[j]);
        double t0 = bench_now_s(), c0 = bench_cpu_s();
        for (int j = 0; j < BATCH; j++) {
            store_activity_t a = bench_act(ids[j], idlen[j], base + j, json[j], jlen[j]);
            if (store_batch_upsert(b, &a, 1))
                return -1;
        }
        int rc = store_batch_commit(b, NULL);
        spent += bench_now_s() - t0;
        cpu += bench_cpu_s() - c0;
        if (rc) {
            fprintf(stderr, "commit: %s\n", store_strerror(rc));
            return -1;
        }
    }
    store_batch_free(b);
    printf("%s  %.0f activities/s (target >= 500000)  [%s; %d x %d, %.0f-byte JSON, %.2f s wall, "
           "%.0f/s per CPU-second]\n", label, N_ACTS / spent, where, N_ACTS / BATCH, BATCH,
           (double)jlen[0], spent, N_ACTS / cpu);
    return 0;
}

/* Edit UPDATE_N activities, every tenth of the store, in batches of BATCH. */
static int bench_update(store_t *st)
{
    store_batch_t *b;
    if (store_batch_new(st, &b))
        return -1;
    static char json[BATCH][512], ids[BATCH][96];
    static size_t jlen[BATCH], idlen[BATCH];
    double spent = 0;
    for (long base = 0; base < UPDATE_N; base += BATCH) {
        for (int j = 0; j < BATCH; j++)
            jlen[j] = make_json(json[j], sizeof json[j], (base + j) * 10, 1, ids[j], &idlen[j]);
        double t0 = bench_now_s();
        for (int j = 0; j < BATCH; j++) {
            store_activity_t a = bench_act(ids[j], idlen[j], (base + j) * 10, json[j], jlen[j]);
            if (store_batch_upsert(b, &a, 1))
                return -1;
        }
        store_batch_stats_t s;
        int rc = store_batch_commit(b, &s);
        spent += bench_now_s() - t0;
        if (rc || s.updated != BATCH) {
            fprintf(stderr, "update commit: %s, %zu updated\n", store_strerror(rc), s.updated);
            return -1;
        }
    }
    store_batch_free(b);
    printf("store.update  %.0f activities/s  [%d x %d edits of every tenth activity, %.2f s wall]\n",
           UPDATE_N / spent, UPDATE_N / BATCH, BATCH, spent);
    return 0;
}

/* Update every activity not updated by bench_update (one more superseded version each). */
static int supersede_the_rest(store_t *st)
{
    store_batch_t *b;
    if (store_batch_new(st, &b))
        return -1;
    static char json[512], id[96];
    for (long base = 0; base < N_ACTS; base += BATCH) {
        for (long i = base; i < base + BATCH; i++) {
            if (i % 10 == 0 && i / 10 < UPDATE_N)
                continue;
            size_t idlen, jlen = make_json(json, sizeof json, i, 1, id, &idlen);
            store_activity_t a = bench_act(id, idlen, i, json, jlen);
            if (store_batch_upsert(b, &a, 1))
                return -1;
        }
        if (store_batch_commit(b, NULL))
            return -1;
    }
    store_batch_free(b);
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Prune every superseded version, as the writer thread does (store_prune, 2 ms of work per
 * transaction, back to back). The longest transaction is the target's figure; the p99 beside it
 * shows how much of that is one slow disk sync. */
static int bench_prune(store_t *st)
{
    enum { MAX_TIMED = 8192 };
    static int64_t took[MAX_TIMED];
    if (supersede_the_rest(st))
        return -1;
    store_set_retention(st, 1, 86400000);
    store_prune_stats_t ps;
    uint64_t versions = 0;
    int64_t longest = 0, longest_commit = 0, txns = 0;
    size_t timed = 0;
    double t0 = bench_now_s();
    for (int rc = 1; rc == 1; txns++) {
        rc = store_prune(st, timefmt_now_us() + 1000000, STORE_PRUNE_BUDGET_US, 1, &ps);
        if (rc < 0)
            return -1;
        versions += ps.versions;
        if (ps.txn_us > longest)
            longest = ps.txn_us;
        if (ps.commit_us > longest_commit)
            longest_commit = ps.commit_us;
        if (ps.versions && timed < MAX_TIMED)
            took[timed++] = ps.txn_us;
    }
    double dt = bench_now_s() - t0;
    qsort(took, timed, sizeof *took, cmp_i64);
    printf("store.prune  %.0f versions/s; longest write transaction %.1f ms (target <= 10 ms), of "
           "which the longest commit (disk sync) %.1f ms; p99 %.1f ms, p50 %.1f ms  [%llu superseded "
           "versions in %lld transactions, %.2f s]\n", versions / dt, longest / 1000.0,
           longest_commit / 1000.0, timed ? took[timed * 99 / 100] / 1000.0 : 0,
           timed ? took[timed / 2] / 1000.0 : 0, (unsigned long long)versions, (long long)txns, dt);
    return versions == N_ACTS ? 0 : -1;
}

/* 100,000 activities of another feed, then swept (deleted, every version erased, tombstones
 * written) in pieces of 2,000, as ingest does after a full sync. */
static int bench_sweep(store_t *st)
{
    enum { SWEEP_N = 100000, PIECE = 2000 };
    store_batch_t *b;
    if (store_batch_new(st, &b))
        return -1;
    static char json[512], id[96];
    for (long i = 0; i < SWEEP_N; i++) {
        size_t idlen, jlen = make_json(json, sizeof json, N_ACTS + i, 0, id, &idlen);
        store_activity_t a = bench_act(id, idlen, N_ACTS + i, json, jlen);
        a.feed = "gone";
        a.feed_len = 4;
        if (store_batch_upsert(b, &a, 1) || ((i + 1) % BATCH == 0 && store_batch_commit(b, NULL)))
            return -1;
    }
    size_t deleted = 0;
    double longest = 0, t0 = bench_now_s();
    for (int more = 1; more;) {
        store_batch_stats_t s;
        double t1 = bench_now_s();
        if (store_batch_sweep_some(b, "gone", 2, PIECE) || store_batch_commit(b, &s))
            return -1;
        if (bench_now_s() - t1 > longest)
            longest = bench_now_s() - t1;
        deleted += s.deleted;
        more = s.sweep_more;
    }
    double dt = bench_now_s() - t0;
    store_batch_free(b);
    printf("ingest.sweep  %zu activities deleted in %.2f s (%.0f/s); another feed's page waits at most "
           "%.1f ms (the longest piece of %d)\n", deleted, dt, deleted / dt, longest * 1000, PIECE);
    return deleted == SWEEP_N ? 0 : -1;
}

typedef struct {
    uint64_t n, bytes;
} tally_t;

static int count_rec(const store_rec_t *r, void *ud)
{
    tally_t *t = ud;
    t->n++;
    t->bytes += r->data_len;
    return 0;
}

static int bench_scan(store_t *st)
{
    double best = 0;
    for (int round = 0; round < 3; round++) {
        tally_t t = {0, 0};
        store_tpos_t last;
        double t0 = bench_now_s();
        int rc = store_scan_time(st, (store_tpos_t){BASE_US + (N_ACTS / 2) * 1000LL, 0},
                                 INT64_MAX, 0, SCAN_N, count_rec, &t, &last);
        double dt = bench_now_s() - t0;
        if (rc || t.n != SCAN_N || t.bytes < 400 * t.n) {
            fprintf(stderr, "scan failed: rc %d, %llu records\n", rc, (unsigned long long)t.n);
            return -1;
        }
        double rate = SCAN_N / dt;
        if (round == 0)
            printf("store.scan.cold  %.0f records/s (first pass after the writes)\n", rate);
        if (rate > best)
            best = rate;
    }
    printf("store.scan  %.0f records/s (target >= 5000000)  [%d records from the middle, best of 3]\n",
           best, SCAN_N);
    return 0;
}

/* The change log from its middle, as a client resuming from an event id reads it. */
static int bench_scan_changes(store_t *st)
{
    double best = 0;
    for (int round = 0; round < 3; round++) {
        tally_t t = {0, 0};
        double t0 = bench_now_s();
        int rc = store_scan_changes(st, N_ACTS / 2, 0, SCAN_N, count_rec, &t, NULL);
        double dt = bench_now_s() - t0;
        if (rc || t.n != SCAN_N || t.bytes < 400 * t.n) {
            fprintf(stderr, "change scan failed: rc %d, %llu records\n", rc, (unsigned long long)t.n);
            return -1;
        }
        if (SCAN_N / dt > best)
            best = SCAN_N / dt;
    }
    printf("store.scan.changes  %.0f records/s  [%d change-log entries from the middle, best of 3]\n",
           best, SCAN_N);
    return 0;
}

/* Open a fresh store under `parent`, write (and scan when asked), remove it. */
static int run(const char *parent, const char *label, const char *where, int scan)
{
    char dir[4096], err[512];
    if (bench_mkdtemp(dir, sizeof dir, parent, "bench_store") != 0)
        return -1;
    store_t *st = NULL;
    int rc = store_open(&st, dir, 0, err, sizeof err);
    if (rc)
        fprintf(stderr, "store_open: %s\n", err);
    if (rc == 0)
        rc = bench_write(st, label, where);
    if (rc == 0 && scan)
        rc = bench_scan(st);
    if (rc == 0 && scan)
        rc = bench_scan_changes(st);
    if (st && scan) {
        store_stats_t s;
        store_stats(st, &s);
        printf("store.size  %.1f MiB used for %llu activities\n", s.used_bytes / 1048576.0,
               (unsigned long long)s.activities);
    }
    if (rc == 0 && scan)
        rc = bench_update(st);
    if (rc == 0 && scan)
        rc = bench_prune(st);
    if (rc == 0 && scan)
        rc = bench_sweep(st);
    store_close(st);
    h_rmdir(dir);
    return rc;
}

int main(void)
{
    const char *tmp = bench_tmp_parent();
    bench_print_machine();
    char where[4200];
    snprintf(where, sizeof where, "%s, durable: fsync per commit", tmp);
    if (run(tmp, "store.write", where, 1))
        return 1;
    /* The same writes where fsync costs nothing: the store's own CPU cost, without the disk. */
    if (bench_shm_has_room(4e9) && run("/dev/shm", "store.write.tmpfs", "/dev/shm, no disk: the store's CPU cost", 0))
        return 1;
    return 0;
}
