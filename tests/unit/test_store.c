/* test_store.c -- the LMDB store: no-op upserts, updates, deletes and sweeps with their change
 * log, the change log's layout (pointers to current versions, records moved in when a version is
 * retired; checked with raw LMDB) and its pointer resolution, the upgrade of a schema-1 store,
 * seq continuity across reopen, the three scans, feed state and counts, map growth from a tiny
 * map (also replaying moves, and under concurrent readers) and the error paths of store_open.
 * Crash safety and full disks need child processes: tests/integration/test_store_crash.c.
 * Every test runs in a fresh temporary directory (store_fixture.h). */
#include "metrics.h"
#include "store.h"
#include "timefmt.h"
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- fixture: one temp dir and (usually) an open store per test ---- */

#include "store_fixture.h"

TestSuite(store, .init = store_fixture_setup, .fini = store_fixture_teardown, .timeout = 120);

/* ---- writes ---- */

Test(store, insert_assigns_seq_and_writes_all_three_indexes)
{
    upsert(g_b, "f", "https://x/1", 1000, "{\"id\":\"https://x/1\"}", 1);
    upsert(g_b, "f", "https://x/2", 2000, "{\"id\":\"https://x/2\"}", 1);
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.inserted, 2);
    cr_assert_eq(s.updated + s.unchanged + s.deleted, 0);
    cr_assert_eq(s.first_seq, 1);
    cr_assert_eq(s.last_seq, 2);
    cr_assert_eq(store_head(g_st), 2);
    coll_t c = {0};
    scan_all_time(&c);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.r[0].id, "https://x/1");
    cr_assert_eq(c.r[0].kind, STORE_REC_UPSERT);
    cr_assert_eq(c.r[0].pub, 1000);
    cr_assert_str_eq(c.r[0].json, "{\"id\":\"https://x/1\"}");
    cr_assert_str_eq(c.r[0].data, "{\"feed\":\"f\",\"activity\":{\"id\":\"https://x/1\"}}");
    cr_assert_str_eq(c.r[0].types, "Create\x1fNote");
    cr_assert_str_eq(c.r[0].actor, "https://a.example/u/alice");
    cr_assert_str_eq(c.r[0].feed, "f");
    coll_free(&c);
    scan_all_changes(&c);
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.r[1].seq, 2);
    coll_free(&c);
    store_stats_t st;
    store_stats(g_st, &st);
    cr_assert_eq(st.activities, 2);
    cr_assert_eq(st.changes, 2);
    cr_assert_eq(st.head, 2);
    cr_assert_gt(st.used_bytes, 0);
    cr_assert_geq(st.map_size, st.used_bytes);
}

Test(store, noop_upsert)
{
    upsert(g_b, "f", "a", 1000, "{\"v\":1}", 1);
    commit_ok(g_b);
    upsert(g_b, "f", "a", 1000, "{\"v\":1}", 2);   /* same bytes: only the generation moves */
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.unchanged, 1);
    cr_assert_eq(s.inserted + s.updated + s.deleted, 0);
    cr_assert_eq(s.first_seq, 0);
    cr_assert_eq(s.last_seq, 0);
    cr_assert_eq(store_head(g_st), 1);
    store_stats_t st;
    store_stats(g_st, &st);
    cr_assert_eq(st.changes, 1);
    /* The raised generation protects it from a sweep under gen 2; gen 0 leaves it. */
    upsert(g_b, "f", "a", 1000, "{\"v\":1}", 0);
    cr_assert_eq(store_batch_sweep(g_b, "f", 2), 0);
    s = commit_ok(g_b);
    cr_assert_eq(s.unchanged, 1);
    cr_assert_eq(s.deleted, 0);
    cr_assert_eq(store_feed_count(g_st, "f"), 1);
}

Test(store, update_moves_time_entry)
{
    upsert(g_b, "f", "a", 5000, "{\"v\":1}", 1);
    upsert(g_b, "f", "b", 6000, "{\"v\":1}", 1);
    commit_ok(g_b);
    upsert(g_b, "f", "a", 9000, "{\"v\":2}", 1);
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.updated, 1);
    cr_assert_eq(s.inserted, 0);
    cr_assert_eq(s.first_seq, 3);
    cr_assert_eq(s.last_seq, 3);
    coll_t c = {0};
    scan_all_time(&c);
    cr_assert_eq(c.n, 2, "the old version's time entry must be gone");
    cr_assert_str_eq(c.r[0].id, "b");
    cr_assert_str_eq(c.r[1].id, "a");
    cr_assert_eq(c.r[1].pub, 9000);
    cr_assert_eq(c.r[1].seq, 3);
    cr_assert_str_eq(c.r[1].json, "{\"v\":2}");
    coll_free(&c);
    /* Same published, different JSON: an update. Same JSON, other published (an activity
     * without published/updated is dated at ingest): a no-op that keeps the first time. */
    upsert(g_b, "f", "a", 9000, "{\"v\":3}", 1);
    upsert(g_b, "f", "b", 1000, "{\"v\":1}", 1);
    s = commit_ok(g_b);
    cr_assert_eq(s.updated, 1);
    cr_assert_eq(s.unchanged, 1);
    scan_all_time(&c);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.r[0].id, "b");
    cr_assert_eq(c.r[0].pub, 6000);
    cr_assert_str_eq(c.r[1].json, "{\"v\":3}");
    coll_free(&c);
    scan_all_changes(&c);   /* every version stays in the change log */
    cr_assert_eq(c.n, 4);
    cr_assert_str_eq(c.r[0].json, "{\"v\":1}");
    cr_assert_eq(c.r[0].pub, 5000);
    coll_free(&c);
    cr_assert_eq(store_feed_count(g_st, "f"), 2);
}

Test(store, same_id_twice_in_one_batch)
{
    upsert(g_b, "f", "a", 1, "{\"v\":1}", 1);
    upsert(g_b, "f", "a", 2, "{\"v\":2}", 1);
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.inserted, 1);
    cr_assert_eq(s.updated, 1);
    coll_t c = {0};
    scan_all_time(&c);
    cr_assert_eq(c.n, 1);
    cr_assert_str_eq(c.r[0].json, "{\"v\":2}");
    coll_free(&c);
    cr_assert_eq(store_feed_count(g_st, "f"), 1);
}

/* Checks a tombstone's data JSON: {"feed":feed,"activity":{"type":"Tombstone","id":id,
 * "deleted":<RFC 3339 within a minute of now>}}. */
/* A tombstone's event data: feed, and an activity holding only type, id, formerType (the
 * fixture's types Create and Note), published and deleted (now). */
static void assert_tombstone_data(const char *data, const char *feed, const char *id, int64_t pub)
{
    json_error_t e;
    json_t *j = json_loads(data, 0, &e);
    cr_assert_not_null(j, "tombstone data is not JSON: %s (%s)", data, e.text);
    cr_assert_eq(json_object_size(j), 2);
    cr_assert_str_eq(json_string_value(json_object_get(j, "feed")), feed);
    json_t *a = json_object_get(j, "activity");
    cr_assert_eq(json_object_size(a), 5, "%s", data);
    cr_assert_str_eq(json_string_value(json_object_get(a, "type")), "Tombstone");
    cr_assert_str_eq(json_string_value(json_object_get(a, "id")), id);
    json_t *ft = json_object_get(a, "formerType");
    cr_assert(json_array_size(ft) == 2 && strcmp(json_string_value(json_array_get(ft, 0)), "Create") == 0 &&
              strcmp(json_string_value(json_array_get(ft, 1)), "Note") == 0, "%s", data);
    char want_pub[TIMEFMT_RFC3339_MAX];
    timefmt_format_rfc3339(pub, want_pub);
    cr_assert_str_eq(json_string_value(json_object_get(a, "published")), want_pub);
    const char *del = json_string_value(json_object_get(a, "deleted"));
    cr_assert_not_null(del);
    int64_t us;
    cr_assert_eq(timefmt_parse_rfc3339(del, strlen(del), &us, NULL), 0, "deleted: %s", del);
    int64_t now = timefmt_now_us();
    cr_assert(us <= now && us > now - 60 * INT64_C(1000000), "deleted %s is not now", del);
    json_decref(j);
}

Test(store, delete_writes_tombstone)
{
    upsert(g_b, "f", "gone", 7000, "{\"id\":\"gone\",\"v\":1}", 1);
    upsert(g_b, "f", "stays", 8000, "{\"id\":\"stays\"}", 1);
    commit_ok(g_b);
    cr_assert_eq(store_batch_delete(g_b, "f", "gone", 4), 0);
    cr_assert_eq(store_batch_delete(g_b, "f", "never-there", 11), 0);   /* ignored */
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.deleted, 1);
    cr_assert_eq(s.first_seq, 3);
    cr_assert_eq(s.last_seq, 3);
    coll_t c = {0};
    cr_assert_eq(store_scan_changes(g_st, 2, 0, 0, collect, &c, NULL), 0);
    cr_assert_eq(c.n, 1);
    crec_t *t = &c.r[0];
    cr_assert_eq(t->seq, 3);
    cr_assert_eq(t->kind, STORE_REC_DELETE);
    cr_assert_eq(t->pub, 7000, "a tombstone carries the deleted version's published");
    cr_assert_str_eq(t->id, "gone");
    cr_assert_str_eq(t->feed, "f");
    cr_assert_str_eq(t->types, "Create\x1fNote");
    cr_assert_str_eq(t->actor, "", "a tombstone keeps no actor");
    cr_assert_str_eq(t->json, "", "a tombstone keeps no content");
    assert_tombstone_data(t->data, "f", "gone", 7000);
    cr_assert_null(strstr(t->data, "\"v\""));
    coll_free(&c);
    scan_all_changes(&c);
    cr_assert_eq(c.n, 2, "the erased activity's own change-log entry is gone");
    cr_assert_str_eq(c.r[0].id, "stays");
    coll_free(&c);
    scan_all_time(&c);
    cr_assert_eq(c.n, 1);
    cr_assert_str_eq(c.r[0].id, "stays");
    coll_free(&c);
    cr_assert_eq(store_feed_count(g_st, "f"), 1);
    store_stats_t st;
    store_stats(g_st, &st);
    cr_assert_eq(st.activities, 1);
    cr_assert_eq(st.changes, 2);
    /* Deleting it again is a no-op; re-creating it is an insert. */
    cr_assert_eq(store_batch_delete(g_b, "f", "gone", 4), 0);
    s = commit_ok(g_b);
    cr_assert_eq(s.deleted + s.last_seq, 0);
    upsert(g_b, "f", "gone", 7000, "{\"id\":\"gone\",\"v\":1}", 1);
    s = commit_ok(g_b);
    cr_assert_eq(s.inserted, 1);
}

Test(store, upsert_then_delete_in_one_batch)
{
    upsert(g_b, "f", "x", 10, "{\"v\":1}", 1);
    cr_assert_eq(store_batch_delete(g_b, "f", "x", 1), 0);
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.inserted, 1);
    cr_assert_eq(s.deleted, 1);
    cr_assert_eq(s.last_seq, 2);
    coll_t c = {0};
    scan_all_time(&c);
    cr_assert_eq(c.n, 0);
    scan_all_changes(&c);
    cr_assert_eq(c.n, 1, "the version is erased; the tombstone remains");
    cr_assert_eq(c.r[0].kind, STORE_REC_DELETE);
    cr_assert_eq(c.r[0].seq, 2);
    coll_free(&c);
    cr_assert_eq(store_feed_count(g_st, "f"), 0);
}

/* ---- the change log's layout: pointers to current versions, records of retired ones ---- */

/* Close the fixture's store: raw LMDB access needs it closed (one env per file per process). */
static void close_fixture(void)
{
    store_batch_free(g_b);
    g_b = NULL;
    store_close(g_st);
    g_st = NULL;
}

static MDB_env *raw_env(void)
{
    MDB_env *env;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, g_dir, 0, 0644), 0);
    return env;
}

static void be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* The store's `time` key of (published, seq). */
static void raw_time_key(uint8_t k[16], int64_t pub, uint64_t seq)
{
    be64(k, (uint64_t)pub ^ (1ULL << 63));
    be64(k + 8, seq);
}

/* Check with raw LMDB that changes[1], changes[2], ... are each a pointer ('P', 8 bytes), a
 * record ('R', 48 bytes or more) or absent ('-', erased or pruned) as `want` says, then reopen
 * the fixture. */
static void assert_change_layout(const char *want)
{
    close_fixture();
    MDB_env *env = raw_env();
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "changes", 0, &dbi), 0);
    cr_assert_eq(mdb_cursor_open(txn, dbi, &c), 0);
    char got[64];
    size_t n = 0;
    MDB_val k, v;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && n < sizeof got - 1;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint8_t want_key[8];
        for (be64(want_key, n + 1); k.mv_size == 8 && memcmp(k.mv_data, want_key, 8) > 0 && n < sizeof got - 1;
             be64(want_key, n + 1))
            got[n++] = '-';
        cr_assert(k.mv_size == 8 && memcmp(k.mv_data, want_key, 8) == 0, "bad key at %zu", n + 1);
        got[n++] = v.mv_size == 8 ? 'P' : v.mv_size >= 48 ? 'R' : '?';
    }
    got[n] = 0;
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    cr_assert_str_eq(got, want, "change log layout %s, expected %s", got, want);
    reopen(0);
}

/* Checks one collected change against what was written. */
static void assert_change(const crec_t *r, uint64_t seq, int kind, const char *id, int64_t pub,
                          const char *json)
{
    cr_assert_eq(r->seq, seq);
    cr_assert_eq(r->kind, kind, "seq %llu kind %d", (unsigned long long)seq, r->kind);
    cr_assert_str_eq(r->feed, "f");
    cr_assert_str_eq(r->id, id);
    cr_assert_eq(r->pub, pub, "seq %llu published %lld", (unsigned long long)seq, (long long)r->pub);
    cr_assert_str_eq(r->types, "Create\x1fNote");
    if (kind == STORE_REC_DELETE) {
        cr_assert_str_eq(r->json, "");
        cr_assert_str_eq(r->actor, "");
        assert_tombstone_data(r->data, "f", id, pub);
        return;
    }
    cr_assert_str_eq(r->json, json, "seq %llu", (unsigned long long)seq);
    cr_assert_str_eq(r->actor, "https://a.example/u/alice");
    char data[512];
    snprintf(data, sizeof data, "{\"feed\":\"f\",\"activity\":%s}", json);
    cr_assert_str_eq(r->data, data);
}

Test(store, insert_logs_a_pointer_and_update_moves_the_record)
{
    upsert(g_b, "f", "a", 5000, "{\"v\":1}", 1);
    upsert(g_b, "f", "b", 6000, "{\"v\":1}", 1);
    commit_ok(g_b);
    assert_change_layout("PP");   /* current versions: the record is in `time` only */
    coll_t c = {0};
    scan_all_changes(&c);         /* resolved through `time` into full records */
    cr_assert_eq(c.n, 2);
    assert_change(&c.r[0], 1, STORE_REC_UPSERT, "a", 5000, "{\"v\":1}");
    assert_change(&c.r[1], 2, STORE_REC_UPSERT, "b", 6000, "{\"v\":1}");
    coll_free(&c);
    upsert(g_b, "f", "a", 9000, "{\"v\":2}", 1);
    commit_ok(g_b);
    assert_change_layout("RPP");  /* a's first version moved into the change log */
    scan_all_changes(&c);
    cr_assert_eq(c.n, 3);
    assert_change(&c.r[0], 1, STORE_REC_UPSERT, "a", 5000, "{\"v\":1}");
    assert_change(&c.r[1], 2, STORE_REC_UPSERT, "b", 6000, "{\"v\":1}");
    assert_change(&c.r[2], 3, STORE_REC_UPSERT, "a", 9000, "{\"v\":2}");
    coll_free(&c);
    /* A resume from the middle sees the same records. */
    cr_assert_eq(store_scan_changes(g_st, 1, 0, 1, collect, &c, NULL), 0);
    cr_assert_eq(c.n, 1);
    assert_change(&c.r[0], 2, STORE_REC_UPSERT, "b", 6000, "{\"v\":1}");
    coll_free(&c);
    store_stats_t st;
    store_stats(g_st, &st);
    cr_assert_eq(st.changes, 3);
    cr_assert_eq(st.activities, 2);
}

Test(store, update_twice_in_one_batch_keeps_every_version)
{
    upsert(g_b, "f", "a", 1000, "{\"v\":1}", 1);
    commit_ok(g_b);
    upsert(g_b, "f", "a", 2000, "{\"v\":2}", 1);
    upsert(g_b, "f", "a", 3000, "{\"v\":3}", 1);
    upsert(g_b, "f", "b", 500, "{\"w\":1}", 1);    /* inserted and updated twice in this batch */
    upsert(g_b, "f", "b", 400, "{\"w\":2}", 1);
    upsert(g_b, "f", "b", 600, "{\"w\":3}", 1);
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.updated, 4);
    cr_assert_eq(s.inserted, 1);
    cr_assert_eq(s.last_seq, 6);
    assert_change_layout("RRPRRP");
    coll_t c = {0};
    scan_all_changes(&c);
    cr_assert_eq(c.n, 6);
    assert_change(&c.r[0], 1, STORE_REC_UPSERT, "a", 1000, "{\"v\":1}");
    assert_change(&c.r[1], 2, STORE_REC_UPSERT, "a", 2000, "{\"v\":2}");
    assert_change(&c.r[2], 3, STORE_REC_UPSERT, "a", 3000, "{\"v\":3}");
    assert_change(&c.r[3], 4, STORE_REC_UPSERT, "b", 500, "{\"w\":1}");
    assert_change(&c.r[4], 5, STORE_REC_UPSERT, "b", 400, "{\"w\":2}");
    assert_change(&c.r[5], 6, STORE_REC_UPSERT, "b", 600, "{\"w\":3}");
    coll_free(&c);
    scan_all_time(&c);
    cr_assert_eq(c.n, 2, "only the current versions are in the time index");
    assert_change(&c.r[0], 6, STORE_REC_UPSERT, "b", 600, "{\"w\":3}");
    assert_change(&c.r[1], 3, STORE_REC_UPSERT, "a", 3000, "{\"v\":3}");
    coll_free(&c);
    cr_assert_eq(store_feed_count(g_st, "f"), 2);
}

Test(store, update_then_delete_in_one_batch_erases_both_versions)
{
    upsert(g_b, "f", "a", 1000, "{\"v\":1}", 1);
    upsert(g_b, "f", "keep", 1500, "{\"k\":1}", 1);
    commit_ok(g_b);
    upsert(g_b, "f", "a", 2000, "{\"v\":2}", 1);
    cr_assert_eq(store_batch_delete(g_b, "f", "a", 1), 0);
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.updated, 1);
    cr_assert_eq(s.deleted, 1);
    assert_change_layout("-P-R");
    coll_t c = {0};
    scan_all_changes(&c);
    cr_assert_eq(c.n, 2);
    assert_change(&c.r[0], 2, STORE_REC_UPSERT, "keep", 1500, "{\"k\":1}");
    assert_change(&c.r[1], 4, STORE_REC_DELETE, "a", 2000, NULL);
    coll_free(&c);
    scan_all_time(&c);
    cr_assert_eq(c.n, 1);
    cr_assert_str_eq(c.r[0].id, "keep");
    coll_free(&c);
    cr_assert_eq(store_feed_count(g_st, "f"), 1);
}

Test(store, sweep_of_an_updated_activity_erases_its_versions)
{
    upsert(g_b, "f", "a", 1000, "{\"v\":1}", 1);
    upsert(g_b, "f", "b", 1100, "{\"b\":1}", 1);
    commit_ok(g_b);
    upsert(g_b, "f", "a", 1200, "{\"v\":2}", 1);
    commit_ok(g_b);
    upsert(g_b, "f", "b", 1100, "{\"b\":1}", 2);   /* seen, unchanged: survives */
    cr_assert_eq(store_batch_sweep(g_b, "f", 2), 0);
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.deleted, 1);
    cr_assert_eq(s.unchanged, 1);
    assert_change_layout("-P-R");
    coll_t c = {0};
    scan_all_changes(&c);
    cr_assert_eq(c.n, 2);
    assert_change(&c.r[0], 2, STORE_REC_UPSERT, "b", 1100, "{\"b\":1}");
    assert_change(&c.r[1], 4, STORE_REC_DELETE, "a", 1200, NULL);
    coll_free(&c);
    cr_assert_eq(store_feed_count(g_st, "f"), 1);
}

/* Many seqs whose time keys are out of seq order, some updated: the change log visits every
 * version in seq order, current ones resolved through `time` to the same records. */
Test(store, scan_changes_resolves_pointers_out_of_time_order)
{
    enum { N = 400 };
    char id[32], json[64];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "p%03d", i);
        snprintf(json, sizeof json, "{\"n\":%d}", i);
        upsert(g_b, "f", id, (i * 7919) % 1000, json, 1);
    }
    commit_ok(g_b);
    for (int i = 0; i < N; i += 3) {   /* seqs N+1 .. : updates of every third */
        snprintf(id, sizeof id, "p%03d", i);
        snprintf(json, sizeof json, "{\"n\":%d,\"u\":1}", i);
        upsert(g_b, "f", id, 5000 + i, json, 1);
    }
    commit_ok(g_b);
    uint64_t head = store_head(g_st);
    cr_assert_eq(head, N + (N + 2) / 3);
    coll_t c = {0};
    uint64_t last = 0;
    for (int guard = 0; guard < 100 && last < head; guard++)   /* in slices of 37 */
        cr_assert_eq(store_scan_changes(g_st, last, 0, 37, collect, &c, &last), 0);
    cr_assert_eq(c.n, head);
    for (size_t s = 0; s < c.n; s++) {
        crec_t *r = &c.r[s];
        int i = s < N ? (int)s : (int)(s - N) * 3;
        snprintf(id, sizeof id, "p%03d", i);
        if (s < N)
            snprintf(json, sizeof json, "{\"n\":%d}", i);
        else
            snprintf(json, sizeof json, "{\"n\":%d,\"u\":1}", i);
        assert_change(r, s + 1, STORE_REC_UPSERT, id, s < N ? (i * 7919) % 1000 : 5000 + i, json);
    }
    /* Current versions: identical to what the time index hands out. */
    coll_t t = {0};
    scan_all_time(&t);
    cr_assert_eq(t.n, N);
    for (size_t j = 0; j < t.n; j++) {
        crec_t *a = &t.r[j], *b = &c.r[a->seq - 1];
        cr_assert_str_eq(a->data, b->data);
        cr_assert_str_eq(a->json, b->json);
        cr_assert_eq(a->pub, b->pub);
    }
    coll_free(&t);
    coll_free(&c);
}

Test(store, pointer_without_time_entry_is_corrupt)
{
    upsert(g_b, "f", "a", 1000, "{\"v\":1}", 1);
    upsert(g_b, "f", "b", 2000, "{\"v\":1}", 1);
    commit_ok(g_b);
    close_fixture();
    MDB_env *env = raw_env();   /* damage it: b's record leaves `time`, its pointer stays */
    MDB_txn *txn;
    MDB_dbi dbi;
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "time", 0, &dbi), 0);
    uint8_t tk[16];
    raw_time_key(tk, 2000, 2);
    MDB_val k = {16, tk};
    cr_assert_eq(mdb_del(txn, dbi, &k, NULL), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    reopen(0);
    coll_t c = {0};
    uint64_t last = 99;
    cr_assert_eq(store_scan_changes(g_st, 0, 0, 0, collect, &c, &last), STORE_ERR_CORRUPT);
    cr_assert_eq(c.n, 1, "seq 1 is intact and was visited");
    cr_assert_eq(last, 1);
    coll_free(&c);
    cr_assert_eq(store_scan_changes(g_st, 1, 0, 0, collect, &c, NULL), STORE_ERR_CORRUPT);
    cr_assert_eq(c.n, 0);
    coll_free(&c);
}

/* Turn the (closed) fixture store into what schema 1 wrote: the record of every version in the
 * change log (each pointer replaced by the record it points to) and schema 1 in meta. */
static void make_schema1(void)
{
    MDB_env *env = raw_env();
    MDB_txn *txn;
    MDB_dbi time_dbi, changes, meta;
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "time", 0, &time_dbi), 0);
    cr_assert_eq(mdb_dbi_open(txn, "changes", 0, &changes), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    for (uint64_t seq = 1;; seq++) {
        uint8_t kb[8], tk[16];
        be64(kb, seq);
        MDB_val k = {8, kb}, v;
        int rc = mdb_get(txn, changes, &k, &v);
        if (rc == MDB_NOTFOUND)
            break;
        cr_assert_eq(rc, 0);
        if (v.mv_size != 8)
            continue;
        int64_t pub;
        memcpy(&pub, v.mv_data, 8);
        raw_time_key(tk, pub, seq);
        MDB_val tkv = {16, tk}, rec;
        cr_assert_eq(mdb_get(txn, time_dbi, &tkv, &rec), 0);
        char *copy = dupn(rec.mv_data, rec.mv_size);
        MDB_val cv = {rec.mv_size, copy};
        cr_assert_eq(mdb_put(txn, changes, &k, &cv, 0), 0);
        free(copy);
    }
    uint32_t ver = 1;
    MDB_val sk = {6, "schema"}, sv = {sizeof ver, &ver};
    cr_assert_eq(mdb_put(txn, meta, &sk, &sv, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static uint32_t raw_schema(void)
{
    MDB_env *env = raw_env();
    MDB_txn *txn;
    MDB_dbi meta;
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_val k = {6, "schema"}, v;
    uint32_t ver = 0;
    cr_assert_eq(mdb_get(txn, meta, &k, &v), 0);
    cr_assert_eq(v.mv_size, sizeof ver);
    memcpy(&ver, v.mv_data, sizeof ver);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return ver;
}

/* Replace the fixture's store with a copy of tests/fixtures/<name>/data.mdb (not opened). */
/* Replace the fixture's store with the one of tests/fixtures/<name>/data.dump (mdb_dump text). */
static void copy_fixture_store(const char *name)
{
    close_fixture();
    const char *dir = getenv("AS_FIXTURES");
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/%s/data.dump", dir && *dir ? dir : "tests/fixtures", name);
    snprintf(dst, sizeof dst, "%s/data.mdb", g_dir);
    remove(dst);
    snprintf(dst, sizeof dst, "%s/lock.mdb", g_dir);
    remove(dst);
    load_store_dump(src, g_dir);
}

/* Does any change-log record or current record hold `needle`? */
static int store_holds(const char *needle)
{
    coll_t c = {0};
    int found = 0;
    scan_all_changes(&c);
    for (size_t i = 0; i < c.n; i++)
        found |= strstr(c.r[i].data, needle) || strstr(c.r[i].json, needle);
    coll_free(&c);
    scan_all_time(&c);
    for (size_t i = 0; i < c.n; i++)
        found |= strstr(c.r[i].data, needle) || strstr(c.r[i].json, needle);
    coll_free(&c);
    return found;
}

/* What tests/fixtures/store-v2 (see its README) must look like after the upgrade: the versions
 * of the deleted urn:b (first life) and urn:c are gone, tombstones keep no content, urn:a keeps
 * its superseded version (until retention prunes it), and a later delete erases it. */
static void assert_upgraded_v2(void)
{
    reopen(0);                           /* the upgrade runs */
    assert_change_layout("R----PRPR");
    cr_assert_eq(store_head(g_st), 9);
    cr_assert_not(store_holds("SECRET-B"), "versions of a deleted activity survived the upgrade");
    cr_assert_not(store_holds("SECRET-C"), "versions of a swept activity survived the upgrade");
    cr_assert(store_holds("SECRET-A1") && store_holds("SECRET-A2"));
    coll_t c = {0};
    scan_all_changes(&c);
    cr_assert_eq(c.n, 5);
    cr_assert(c.r[0].seq == 1 && c.r[0].superseded && strcmp(c.r[0].id, "urn:a") == 0);
    cr_assert(c.r[1].seq == 6 && !c.r[1].superseded);
    cr_assert(c.r[2].seq == 7 && c.r[2].kind == STORE_REC_DELETE && !*c.r[2].json && !*c.r[2].actor);
    cr_assert(strstr(c.r[2].data, "\"deleted\":") && strstr(c.r[2].data, "\"formerType\":[\"Create\",\"Note\"]"),
              "%s", c.r[2].data);
    cr_assert(c.r[3].seq == 8 && strstr(c.r[3].json, "bravo-again"));
    cr_assert(c.r[4].seq == 9 && c.r[4].kind == STORE_REC_DELETE && strcmp(c.r[4].id, "urn:c") == 0);
    coll_free(&c);
    cr_assert_eq(store_feed_count(g_st, "crm"), 2);
    cr_assert_eq(store_batch_delete(g_b, "crm", "urn:a", 5), 0);
    commit_ok(g_b);
    cr_assert_not(store_holds("SECRET-A"), "a delete after the upgrade erases the listed versions");
    close_fixture();
    cr_assert_eq(raw_schema(), 3);
    reopen(0);
}

Test(store, schema2_store_is_upgraded_with_erasure)
{
    copy_fixture_store("store-v2");
    assert_upgraded_v2();
}

/* A schema-1 store kept a full record of each current version in the change log too. */
Test(store, schema1_store_is_upgraded_in_place)
{
    copy_fixture_store("store-v2");
    make_schema1();
    cr_assert_eq(raw_schema(), 1);
    assert_upgraded_v2();   /* the copies of current versions became pointers again */
}

Test(store, sweep_deletes_only_unseen)
{
    upsert(g_b, "f", "a", 1, "{\"v\":\"a\"}", 1);
    upsert(g_b, "f", "b", 2, "{\"v\":\"b\"}", 1);
    upsert(g_b, "f", "c", 3, "{\"v\":\"c\"}", 1);
    upsert(g_b, "f2", "a", 4, "{\"v\":\"f2a\"}", 1);   /* "f\0" must not match "f2\0" */
    upsert(g_b, "e", "z", 5, "{\"v\":\"ez\"}", 1);
    commit_ok(g_b);
    upsert(g_b, "f", "a", 1, "{\"v\":\"a\"}", 2);      /* seen, unchanged */
    upsert(g_b, "f", "b", 2, "{\"v\":\"b2\"}", 2);     /* seen, changed */
    cr_assert_eq(store_batch_sweep(g_b, "f", 2), 0);
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.unchanged, 1);
    cr_assert_eq(s.updated, 1);
    cr_assert_eq(s.deleted, 1);
    cr_assert_eq(s.first_seq, 6);
    cr_assert_eq(s.last_seq, 7);
    coll_t c = {0};
    cr_assert_eq(store_scan_changes(g_st, 5, 0, 0, collect, &c, NULL), 0);
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.r[1].kind, STORE_REC_DELETE);
    cr_assert_str_eq(c.r[1].id, "c");
    cr_assert_str_eq(c.r[1].json, "");
    assert_tombstone_data(c.r[1].data, "f", "c", 3);
    coll_free(&c);
    scan_all_time(&c);
    cr_assert_eq(c.n, 4);
    const char *want[] = {"f/a", "f/b", "f2/a", "e/z"};
    for (size_t i = 0; i < 4; i++) {
        char got[64];
        snprintf(got, sizeof got, "%s/%s", c.r[i].feed, c.r[i].id);
        cr_assert_str_eq(got, want[i]);
    }
    coll_free(&c);
    cr_assert_eq(store_feed_count(g_st, "f"), 2);
    cr_assert_eq(store_feed_count(g_st, "f2"), 1);
    cr_assert_eq(store_feed_count(g_st, "e"), 1);
}

Test(store, sweep_many_deletes_all_unseen)
{
    char id[32], json[64];
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof id, "id-%04d", i);
        snprintf(json, sizeof json, "{\"n\":%d}", i);
        upsert(g_b, "f", id, i, json, i % 3 == 0 ? 5 : 4);
    }
    commit_ok(g_b);
    cr_assert_eq(store_batch_sweep(g_b, "f", 5), 0);
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.deleted, 333);
    cr_assert_eq(store_feed_count(g_st, "f"), 167);
    coll_t c = {0};
    scan_all_time(&c);
    cr_assert_eq(c.n, 167);
    for (size_t i = 0; i < c.n; i++)
        cr_assert_eq(c.r[i].pub % 3, 0);
    coll_free(&c);
}

Test(store, seq_increases_across_reopen)
{
    upsert(g_b, "f", "a", 1, "{\"v\":1}", 1);
    upsert(g_b, "f", "b", 1, "{\"v\":1}", 1);
    commit_ok(g_b);
    reopen(0);
    cr_assert_eq(store_head(g_st), 2);
    upsert(g_b, "f", "a", 1, "{\"v\":2}", 1);
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.first_seq, 3);
    cr_assert_eq(store_batch_delete(g_b, "f", "b", 1), 0);
    commit_ok(g_b);
    reopen(0);
    cr_assert_eq(store_head(g_st), 4);
    coll_t c = {0};
    scan_all_changes(&c);   /* b's version at 2 was erased by its delete at 4 */
    cr_assert_eq(c.n, 3);
    cr_assert_eq(c.r[0].seq, 1);
    cr_assert(c.r[0].superseded, "a's first version is superseded");
    cr_assert_eq(c.r[1].seq, 3);
    cr_assert_not(c.r[1].superseded);
    cr_assert_eq(c.r[2].seq, 4);
    cr_assert_eq(c.r[2].kind, STORE_REC_DELETE);
    coll_free(&c);
}

typedef struct {
    uint64_t heads[8];
    int n;
} hook_log_t;

static void on_commit(uint64_t head, void *ud)
{
    hook_log_t *h = ud;
    cr_assert_lt(h->n, 8);
    h->heads[h->n++] = head;
}

Test(store, commit_hook_gets_new_head)
{
    hook_log_t log = {0};
    store_set_commit_hook(g_st, on_commit, &log);
    upsert(g_b, "f", "a", 1, "{}", 1);
    upsert(g_b, "f", "b", 1, "{}", 1);
    commit_ok(g_b);
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.heads[0], 2);
    cr_assert_eq(store_head(g_st), 2, "head is visible before the hook runs");
    upsert(g_b, "f", "a", 1, "{}", 1);   /* no-op: nothing appended, no hook */
    cr_assert_eq(store_batch_put_feed_state(g_b, "f", "s", 1), 0);
    commit_ok(g_b);
    cr_assert_eq(store_batch_commit(g_b, NULL), 0);   /* empty batch */
    cr_assert_eq(log.n, 1);
    cr_assert_eq(store_batch_delete(g_b, "f", "b", 1), 0);
    commit_ok(g_b);
    cr_assert_eq(log.n, 2);
    cr_assert_eq(log.heads[1], 3);
}

/* ---- scans ---- */

/* Inserts (published, id) in an order that is not the time order; seqs follow this order. */
static void load_time_fixture(void)
{
    static const struct { int64_t pub; const char *id; } rows[] = {
        {500, "p500"}, {-2000000000000, "neg-big"}, {0, "zero-a"}, {-1, "neg-1"},
        {0, "zero-b"}, {INT64_MAX - 1, "max"}, {0, "zero-c"}, {1700000000000000, "now"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        upsert(g_b, "f", rows[i].id, rows[i].pub, "{}", 1);
    commit_ok(g_b);
}

static const char *const TIME_ORDER[] = {"neg-big", "neg-1", "zero-a", "zero-b", "zero-c",
                                         "p500", "now", "max"};

Test(store, scan_time_orders_negative_times_and_ties)
{
    load_time_fixture();
    coll_t c = {0};
    scan_all_time(&c);
    cr_assert_eq(c.n, 8);
    for (size_t i = 0; i < 8; i++)
        cr_assert_str_eq(c.r[i].id, TIME_ORDER[i], "position %zu", i);
    cr_assert_lt(c.r[2].seq, c.r[3].seq, "ties on published are broken by seq");
    cr_assert_lt(c.r[3].seq, c.r[4].seq);
    coll_free(&c);
    /* {start, 0} is inclusive of start; end is exclusive. */
    cr_assert_eq(store_scan_time(g_st, (store_tpos_t){0, 0}, 1700000000000000, 0, 0, collect, &c,
                                 NULL), 0);
    cr_assert_eq(c.n, 4);
    cr_assert_str_eq(c.r[0].id, "zero-a");
    cr_assert_str_eq(c.r[3].id, "p500");
    coll_free(&c);
}

Test(store, scan_time_after_is_strict)
{
    load_time_fixture();
    coll_t c = {0};
    scan_all_time(&c);
    store_tpos_t zb = {c.r[3].pub, c.r[3].seq};   /* zero-b */
    coll_free(&c);
    cr_assert_eq(store_scan_time(g_st, zb, INT64_MAX, 0, 0, collect, &c, NULL), 0);
    cr_assert_eq(c.n, 4);
    cr_assert_str_eq(c.r[0].id, "zero-c");
    coll_free(&c);
}

Test(store, scan_time_max_seq_filter)
{
    load_time_fixture();   /* seqs 1..8 */
    upsert(g_b, "f", "late", 250, "{}", 1);   /* seq 9 */
    commit_ok(g_b);
    coll_t c = {0};
    cr_assert_eq(store_scan_time(g_st, T_START, INT64_MAX, 8, 0, collect, &c, NULL), 0);
    cr_assert_eq(c.n, 8);
    for (size_t i = 0; i < c.n; i++)
        cr_assert_str_neq(c.r[i].id, "late");
    coll_free(&c);
    cr_assert_eq(store_scan_time(g_st, T_START, INT64_MAX, 4, 0, collect, &c, NULL), 0);
    cr_assert_eq(c.n, 4);
    for (size_t i = 0; i < c.n; i++)
        cr_assert_leq(c.r[i].seq, 4);
    coll_free(&c);
}

Test(store, scan_time_limit_and_resume)
{
    load_time_fixture();
    coll_t c = {0};
    store_tpos_t pos = T_START, last;
    for (int round = 0; round < 10 && c.n < 8; round++) {
        size_t before = c.n;
        cr_assert_eq(store_scan_time(g_st, pos, INT64_MAX, 0, 3, collect, &c, &last), 0);
        cr_assert_leq(c.n - before, 3);
        if (c.n == before)
            break;
        cr_assert_eq(last.published_us, c.r[c.n - 1].pub);
        cr_assert_eq(last.seq, c.r[c.n - 1].seq);
        pos = last;
    }
    cr_assert_eq(c.n, 8);
    for (size_t i = 0; i < 8; i++)
        cr_assert_str_eq(c.r[i].id, TIME_ORDER[i]);
    coll_free(&c);
    /* The exhausted range leaves *last at `after`; a callback stop returns its value. */
    cr_assert_eq(store_scan_time(g_st, pos, INT64_MAX, 0, 0, collect, &c, &last), 0);
    cr_assert_eq(c.n, 0);
    cr_assert_eq(last.seq, pos.seq);
    c.stop_at = 2;
    cr_assert_eq(store_scan_time(g_st, T_START, INT64_MAX, 0, 0, collect, &c, &last), 42);
    cr_assert_eq(c.n, 2);
    cr_assert_eq(last.seq, c.r[1].seq);
    coll_free(&c);
}

Test(store, scan_time_desc)
{
    load_time_fixture();
    coll_t c = {0};
    cr_assert_eq(store_scan_time_desc(g_st, T_END, INT64_MIN, 0, 0, collect, &c, NULL), 0);
    cr_assert_eq(c.n, 8);
    for (size_t i = 0; i < 8; i++)
        cr_assert_str_eq(c.r[i].id, TIME_ORDER[7 - i]);
    store_tpos_t zb = {c.r[4].pub, c.r[4].seq};   /* zero-b */
    coll_free(&c);
    /* Strictly before zero-b, published >= -1. */
    store_tpos_t last;
    cr_assert_eq(store_scan_time_desc(g_st, zb, -1, 0, 0, collect, &c, &last), 0);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.r[0].id, "zero-a");
    cr_assert_str_eq(c.r[1].id, "neg-1");
    cr_assert_eq(last.published_us, -1);
    coll_free(&c);
    /* Limit and resume. */
    cr_assert_eq(store_scan_time_desc(g_st, T_END, INT64_MIN, 0, 5, collect, &c, &last), 0);
    cr_assert_eq(c.n, 5);
    cr_assert_eq(store_scan_time_desc(g_st, last, INT64_MIN, 0, 5, collect, &c, &last), 0);
    cr_assert_eq(c.n, 8);
    for (size_t i = 0; i < 8; i++)
        cr_assert_str_eq(c.r[i].id, TIME_ORDER[7 - i]);
    coll_free(&c);
    /* max_seq: the first three inserted are p500 (1), neg-big (2), zero-a (3). */
    cr_assert_eq(store_scan_time_desc(g_st, T_END, INT64_MIN, 3, 0, collect, &c, NULL), 0);
    cr_assert_eq(c.n, 3);
    cr_assert_str_eq(c.r[0].id, "p500");
    cr_assert_str_eq(c.r[2].id, "neg-big");
    coll_free(&c);
}

Test(store, scan_changes_ranges)
{
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "c%d", i);
        upsert(g_b, "f", id, 100 - i, "{}", 1);
    }
    commit_ok(g_b);
    coll_t c = {0};
    uint64_t last = 99;
    cr_assert_eq(store_scan_changes(g_st, 2, 4, 0, collect, &c, &last), 0);
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.r[0].seq, 3);
    cr_assert_eq(c.r[1].seq, 4);
    cr_assert_eq(last, 4);
    coll_free(&c);
    cr_assert_eq(store_scan_changes(g_st, 0, 0, 4, collect, &c, &last), 0);
    cr_assert_eq(c.n, 4);
    cr_assert_eq(last, 4);
    cr_assert_eq(store_scan_changes(g_st, last, 0, 0, collect, &c, &last), 0);
    cr_assert_eq(c.n, 10);
    cr_assert_eq(last, 10);
    for (size_t i = 0; i < c.n; i++)
        cr_assert_eq(c.r[i].seq, i + 1);
    coll_free(&c);
    cr_assert_eq(store_scan_changes(g_st, 10, 0, 0, collect, &c, &last), 0);
    cr_assert_eq(c.n, 0);
    cr_assert_eq(last, 10);
    cr_assert_eq(store_scan_changes(g_st, 5, 100, 0, collect, &c, &last), 0);   /* upto > head */
    cr_assert_eq(c.n, 5);
    coll_free(&c);
    c.stop_at = 3;
    cr_assert_eq(store_scan_changes(g_st, 0, 0, 0, collect, &c, &last), 42);
    cr_assert_eq(last, 3);
    coll_free(&c);
}

/* A scan callback may call the store's other read functions (nested read transaction). */
static int nested_reader(const store_rec_t *rec, void *ud)
{
    store_t *st = ud;
    cr_assert_eq(store_feed_count(st, "f"), 2);
    return 0;
}

Test(store, scan_callback_may_read_the_store)
{
    upsert(g_b, "f", "a", 1, "{}", 1);
    upsert(g_b, "f", "b", 2, "{}", 1);
    commit_ok(g_b);
    cr_assert_eq(store_scan_time(g_st, T_START, INT64_MAX, 0, 0, nested_reader, g_st, NULL), 0);
}

/* ---- feed state, counts, records ---- */

Test(store, feed_state_round_trip)
{
    const char blob[] = "etag=\"abc\"\0binary\xff";
    upsert(g_b, "f", "a", 1, "{}", 1);
    cr_assert_eq(store_batch_put_feed_state(g_b, "f", blob, sizeof blob), 0);
    cr_assert_eq(store_batch_put_feed_state(g_b, "g", "", 0), 0);
    commit_ok(g_b);
    void *p;
    size_t len;
    cr_assert_eq(store_get_feed_state(g_st, "f", &p, &len), 0);
    cr_assert_eq(len, sizeof blob);
    cr_assert_eq(memcmp(p, blob, len), 0);
    free(p);
    cr_assert_eq(store_get_feed_state(g_st, "g", &p, &len), 0);
    cr_assert_eq(len, 0);
    free(p);
    cr_assert_eq(store_get_feed_state(g_st, "h", &p, &len), STORE_ERR_NOTFOUND);
    cr_assert_null(p);
    cr_assert_eq(store_batch_put_feed_state(g_b, "f", "v2", 2), 0);
    commit_ok(g_b);
    reopen(0);
    cr_assert_eq(store_get_feed_state(g_st, "f", &p, &len), 0);
    cr_assert_eq(len, 2);
    cr_assert_eq(memcmp(p, "v2", 2), 0);
    free(p);
}

Test(store, feed_counts)
{
    upsert(g_b, "f", "1", 1, "{}", 1);
    upsert(g_b, "f", "2", 1, "{}", 1);
    upsert(g_b, "f", "3", 1, "{}", 1);
    upsert(g_b, "g", "1", 1, "{}", 1);
    upsert(g_b, "g", "2", 1, "{}", 1);
    commit_ok(g_b);
    cr_assert_eq(store_feed_count(g_st, "f"), 3);
    cr_assert_eq(store_feed_count(g_st, "g"), 2);
    cr_assert_eq(store_feed_count(g_st, "none"), 0);
    upsert(g_b, "f", "1", 2, "{\"changed\":1}", 1);   /* update: count unchanged */
    upsert(g_b, "f", "2", 1, "{}", 1);                 /* no-op */
    cr_assert_eq(store_batch_delete(g_b, "g", "2", 1), 0);
    cr_assert_eq(store_batch_delete(g_b, "g", "3", 1), 0);   /* absent */
    commit_ok(g_b);
    cr_assert_eq(store_feed_count(g_st, "f"), 3);
    cr_assert_eq(store_feed_count(g_st, "g"), 1);
    store_stats_t st;
    store_stats(g_st, &st);
    cr_assert_eq(st.activities, 4);
}

Test(store, rec_has_type)
{
    store_rec_t r = {.types = "Create\x1fNote\x1f" "Article", .types_len = 19};
    cr_assert(store_rec_has_type(&r, "Create", 6));
    cr_assert(store_rec_has_type(&r, "Note", 4));
    cr_assert(store_rec_has_type(&r, "Article", 7));
    cr_assert_not(store_rec_has_type(&r, "Crea", 4));
    cr_assert_not(store_rec_has_type(&r, "Notes", 5));
    cr_assert_not(store_rec_has_type(&r, "", 0));
    store_rec_t none = {.types = "", .types_len = 0};
    cr_assert_not(store_rec_has_type(&none, "Create", 6));
}

Test(store, data_escapes_feed_and_id)
{
    const char *feed = "we\"ird\\feed\t";
    const char id[] = "https://x/\"q\"\\b\n\x01/é";
    store_activity_t a = act(feed, id, 5, "{\"id\":\"x\"}");
    cr_assert_eq(store_batch_upsert(g_b, &a, 1), 0);
    commit_ok(g_b);
    coll_t c = {0};
    scan_all_time(&c);
    cr_assert_eq(c.n, 1);
    json_error_t e;
    json_t *j = json_loads(c.r[0].data, 0, &e);
    cr_assert_not_null(j, "data is not JSON: %s", c.r[0].data);
    cr_assert_str_eq(json_string_value(json_object_get(j, "feed")), feed);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "activity"), "id")), "x");
    json_decref(j);
    cr_assert_null(strchr(c.r[0].data, '\n'), "data must be one line for SSE");
    coll_free(&c);
    cr_assert_eq(store_batch_delete(g_b, feed, id, strlen(id)), 0);
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.deleted, 1);
    scan_all_changes(&c);
    cr_assert_eq(c.n, 1);
    assert_tombstone_data(c.r[0].data, feed, id, 5);
    cr_assert_null(strchr(c.r[0].data, '\n'));
    coll_free(&c);
}

Test(store, long_ids_stay_distinct)
{
    char id1[700], id2[700];
    memset(id1, 'a', 699);
    id1[699] = 0;
    memcpy(id2, id1, sizeof id1);
    id2[698] = 'b';   /* differ only past the longest LMDB key */
    upsert(g_b, "f", id1, 1, "{\"n\":1}", 1);
    upsert(g_b, "f", id2, 2, "{\"n\":2}", 1);
    commit_ok(g_b);
    cr_assert_eq(store_feed_count(g_st, "f"), 2);
    upsert(g_b, "f", id1, 1, "{\"n\":1}", 1);   /* unchanged */
    upsert(g_b, "f", id2, 2, "{\"n\":3}", 1);   /* updated */
    store_batch_stats_t s = commit_ok(g_b);
    cr_assert_eq(s.unchanged, 1);
    cr_assert_eq(s.updated, 1);
    cr_assert_eq(store_batch_delete(g_b, "f", id1, strlen(id1)), 0);
    s = commit_ok(g_b);
    cr_assert_eq(s.deleted, 1);
    coll_t c = {0};
    scan_all_time(&c);
    cr_assert_eq(c.n, 1);
    cr_assert_str_eq(c.r[0].id, id2);
    cr_assert_str_eq(c.r[0].json, "{\"n\":3}");
    coll_free(&c);
}

Test(store, invalid_arguments)
{
    char feed[STORE_MAX_FEED_LEN + 2];
    memset(feed, 'f', sizeof feed - 1);
    feed[sizeof feed - 1] = 0;
    store_activity_t a = act(feed, "a", 1, "{}");
    cr_assert_eq(store_batch_upsert(g_b, &a, 1), STORE_ERR_INVALID);
    feed[STORE_MAX_FEED_LEN] = 0;   /* exactly the maximum is fine */
    a = act(feed, "a", 1, "{}");
    cr_assert_eq(store_batch_upsert(g_b, &a, 1), 0);
    a = act("", "a", 1, "{}");
    cr_assert_eq(store_batch_upsert(g_b, &a, 1), STORE_ERR_INVALID);
    a = act("f", "a", 1, "");
    cr_assert_eq(store_batch_upsert(g_b, &a, 1), STORE_ERR_INVALID);
    a = act("f", "a", 1, "{}");
    a.feed_len = 3;
    a.feed = "f\0g";
    cr_assert_eq(store_batch_upsert(g_b, &a, 1), STORE_ERR_INVALID);
    a = act("f", "a", 1, "{\"a\":\n1}");   /* a raw LF would split the SSE data line */
    cr_assert_eq(store_batch_upsert(g_b, &a, 1), STORE_ERR_INVALID);
    a = act("f", "a", 1, "{\"a\":\r1}");
    cr_assert_eq(store_batch_upsert(g_b, &a, 1), STORE_ERR_INVALID);
    cr_assert_eq(store_batch_delete(g_b, "", "a", 1), STORE_ERR_INVALID);
    cr_assert_eq(store_batch_sweep(g_b, NULL, 1), STORE_ERR_INVALID);
    cr_assert_eq(store_batch_put_feed_state(g_b, feed, NULL, 3), STORE_ERR_INVALID);
    store_batch_stats_t s = commit_ok(g_b);   /* the valid upsert went through */
    cr_assert_eq(s.inserted, 1);
    char err[256];
    store_t *st = (store_t *)1;
    cr_assert_eq(store_open(&st, "", 0, err, sizeof err), STORE_ERR_INVALID);
    cr_assert_null(st);
    cr_assert_gt(strlen(err), 0);
}

Test(store, strerror_names_every_code)
{
    int codes[] = {STORE_OK, STORE_ERR_IO, STORE_ERR_CORRUPT, STORE_ERR_VERSION, STORE_ERR_FULL,
                   STORE_ERR_NOMEM, STORE_ERR_INVALID, STORE_ERR_NOTFOUND, STORE_ERR_EXPIRED};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(store_strerror(codes[i]), store_strerror(codes[j]));
    cr_assert_str_eq(store_strerror(-99), "unknown store error");
}

/* ---- map growth ---- */

Test(store, map_grows_from_tiny)
{
    store_batch_free(g_b);   /* start over in the same dir with a tiny map */
    store_close(g_st);
    rm_tree(g_dir);
    g_st = open_ok(g_dir, 64 * 1024);
    cr_assert_eq(store_batch_new(g_st, &g_b), 0);
    store_stats_t s0, s1;
    store_stats(g_st, &s0);
    cr_assert_leq(s0.map_size, 64 * 1024);
    int total = 0;
    write_numbered(g_b, 0, 1500);   /* one batch much larger than the map: several doublings */
    store_batch_stats_t bs = commit_ok(g_b);
    cr_assert_eq(bs.inserted, 1500);
    total = 1500;
    for (int i = 0; i < 30; i++, total += 100) {
        write_numbered(g_b, total, 100);
        commit_ok(g_b);
    }
    store_stats(g_st, &s1);
    cr_assert_gt(s1.map_size, 4 * s0.map_size);
    cr_assert_leq(s1.used_bytes, s1.map_size);
    verify_numbered(total);
    reopen(64 * 1024);   /* a smaller requested map than the data: LMDB keeps what is needed */
    verify_numbered(total);
    write_numbered(g_b, total, 500);
    commit_ok(g_b);
    verify_numbered(total + 500);
}

/* Moves grow the change log inside the batch: a full map aborts, grows and replays them. */
Test(store, map_growth_replays_moves)
{
    close_fixture();
    rm_tree(g_dir);
    g_st = open_ok(g_dir, 64 * 1024);
    cr_assert_eq(store_batch_new(g_st, &g_b), 0);
    write_numbered(g_b, 0, 300);
    commit_ok(g_b);
    char id[32], json[512];
    for (int i = 0; i < 300; i++) {   /* every activity updated, every sixth then deleted */
        snprintf(id, sizeof id, "n%06d", i);
        pad_json(json, sizeof json, id, i + 1000);
        upsert(g_b, "g", id, i, json, 1);
        if (i % 6 == 0)
            cr_assert_eq(store_batch_delete(g_b, "g", id, strlen(id)), 0);
    }
    store_stats_t s0, s1;
    store_stats(g_st, &s0);
    store_batch_stats_t s = commit_ok(g_b);
    store_stats(g_st, &s1);
    cr_assert_gt(s1.map_size, s0.map_size, "the batch was meant to need a bigger map");
    cr_assert_eq(s.updated, 300);
    cr_assert_eq(s.deleted, 50);
    cr_assert_eq(s.last_seq, 650);
    coll_t c = {0};
    scan_all_changes(&c);   /* every sixth activity erased: its two versions are gone */
    cr_assert_eq(c.n, 650 - 2 * 50);
    size_t k = 0;
    for (int i = 0; i < 300; i++) {   /* the first versions, moved (those not erased) */
        if (i % 6 == 0)
            continue;
        snprintf(id, sizeof id, "n%06d", i);
        pad_json(json, sizeof json, id, i);
        cr_assert(c.r[k].superseded);
        cr_assert_str_eq(c.r[k++].json, json);
    }
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "n%06d", i);
        pad_json(json, sizeof json, id, i + 1000);
        cr_assert_eq(c.r[k].kind, i % 6 == 0 ? STORE_REC_DELETE : STORE_REC_UPSERT);
        cr_assert_str_eq(c.r[k].id, id);
        cr_assert_str_eq(c.r[k++].json, i % 6 == 0 ? "" : json);
    }
    coll_free(&c);
    cr_assert_eq(store_feed_count(g_st, "g"), 250);
}

/* Readers scanning while the writer grows the map: every scan sees whole batches only. */
typedef struct {
    store_t *st;
    volatile int stop;
    int scans, bad;
} reader_arg_t;

static int count_cb(const store_rec_t *rec, void *ud)
{
    size_t *n = ud;
    (*n)++;
    return rec->json_len < 380 ? -1 : 0;
}

static void *reader_main(void *p)
{
    reader_arg_t *r = p;
    while (!r->stop) {
        size_t n = 0;
        int rc = store_scan_time(r->st, T_START, INT64_MAX, 0, 0, count_cb, &n, NULL);
        if (rc != 0 || n % 50 != 0)
            r->bad++;
        r->scans++;
    }
    return NULL;
}

Test(store, map_growth_with_concurrent_readers)
{
    store_batch_free(g_b);
    store_close(g_st);
    rm_tree(g_dir);
    g_st = open_ok(g_dir, 64 * 1024);
    cr_assert_eq(store_batch_new(g_st, &g_b), 0);
    reader_arg_t ra = {.st = g_st};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, reader_main, &ra), 0);
    for (int i = 0; i < 60; i++) {
        write_numbered(g_b, i * 50, 50);
        commit_ok(g_b);
    }
    ra.stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert_gt(ra.scans, 0);
    cr_assert_eq(ra.bad, 0, "%d of %d scans saw a partial batch or failed", ra.bad, ra.scans);
    verify_numbered(60 * 50);
}

Test(store, open_creates_missing_dirs)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/a/b/c", g_dir);
    store_t *st = open_ok(path, 0);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert(S_ISDIR(sb.st_mode));
    cr_assert_str_eq(store_path(st), path);
    cr_assert_eq(store_head(st), 0);
    store_close(st);
    store_close(NULL);
}

Test(store, open_dir_is_a_file)
{
    char path[4096], err[512] = "";
    snprintf(path, sizeof path, "%s/plain", g_dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("x", f);
    fclose(f);
    store_t *st = (store_t *)1;
    cr_assert_eq(store_open(&st, path, 0, err, sizeof err), STORE_ERR_IO);
    cr_assert_null(st);
    cr_assert_not_null(strstr(err, path), "err: %s", err);
    cr_assert_not_null(strstr(err, "not a directory"), "err: %s", err);
}

static void write_garbage(const char *path, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)(i * 131 + 7 + (i >> 8));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, out, n), (ssize_t)n);
    close(fd);
}

static void assert_file_is(const char *path, const unsigned char *want, size_t n)
{
    static unsigned char got[16384];
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    ssize_t r = read(fd, got, sizeof got);
    close(fd);
    cr_assert_eq(r, (ssize_t)n, "the file changed size");
    cr_assert_eq(memcmp(got, want, n), 0, "the file was modified");
}

Test(store, open_garbage_file_is_corrupt_and_untouched)
{
    size_t sizes[] = {12288, 100};
    for (size_t k = 0; k < 2; k++) {
        char dir[4096], path[4200], err[512] = "";
        static unsigned char garbage[12288];
        snprintf(dir, sizeof dir, "%s/g%zu", g_dir, k);
        cr_assert_eq(mkdir(dir, 0755), 0);
        snprintf(path, sizeof path, "%s/data.mdb", dir);
        write_garbage(path, sizes[k], garbage);
        store_t *st = (store_t *)1;
        int rc = store_open(&st, dir, 0, err, sizeof err);
        cr_assert_eq(rc, STORE_ERR_CORRUPT, "rc %d err %s", rc, err);
        cr_assert_null(st);
        cr_assert_not_null(strstr(err, dir), "err: %s", err);
        cr_assert_null(strchr(err, '\n'));
        assert_file_is(path, garbage, sizes[k]);
        rc = store_open(&st, dir, 0, err, sizeof err);   /* and again: still refused */
        cr_assert_eq(rc, STORE_ERR_CORRUPT);
        assert_file_is(path, garbage, sizes[k]);
    }
}

Test(store, open_newer_schema_is_refused)
{
    upsert(g_b, "f", "a", 1, "{}", 1);
    commit_ok(g_b);
    store_batch_free(g_b);
    g_b = NULL;
    store_close(g_st);
    g_st = NULL;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, g_dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    uint32_t v = 4;
    MDB_val k = {6, "schema"}, d = {sizeof v, &v};
    cr_assert_eq(mdb_put(txn, dbi, &k, &d, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    char err[512] = "", want[4200];
    store_t *st = (store_t *)1;
    cr_assert_eq(store_open(&st, g_dir, 0, err, sizeof err), STORE_ERR_VERSION);
    cr_assert_null(st);
    snprintf(want, sizeof want, "%s: store schema version 4 is newer than this server supports (3)",
             g_dir);
    cr_assert_str_eq(err, want);
}

Test(store, open_without_schema_is_refused)
{
    store_batch_free(g_b);
    g_b = NULL;
    store_close(g_st);
    g_st = NULL;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, g_dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    MDB_val k = {6, "schema"};
    cr_assert_eq(mdb_del(txn, dbi, &k, NULL), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    char err[512] = "";
    store_t *st;
    cr_assert_eq(store_open(&st, g_dir, 0, err, sizeof err), STORE_ERR_CORRUPT);
    cr_assert_not_null(strstr(err, g_dir), "err: %s", err);
    cr_assert_not_null(strstr(err, "schema"), "err: %s", err);
}

Test(store, open_foreign_lmdb_is_refused)
{
    char dir[4096], err[512] = "";
    snprintf(dir, sizeof dir, "%s/foreign", g_dir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    MDB_val k = {3, "key"}, d = {5, "value"};
    cr_assert_eq(mdb_put(txn, dbi, &k, &d, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    store_t *st;
    cr_assert_eq(store_open(&st, dir, 0, err, sizeof err), STORE_ERR_CORRUPT);
    cr_assert_not_null(strstr(err, dir), "err: %s", err);
}

Test(store, open_unreadable_dir)
{
    if (geteuid() == 0) {
        store_fixture_teardown();   /* a skipped test does not get its .fini */
        cr_skip_test("running as root: permissions are not enforced");
    }
    char dir[4096], err[512] = "";
    snprintf(dir, sizeof dir, "%s/locked", g_dir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    store_t *st = open_ok(dir, 0);
    store_close(st);
    cr_assert_eq(chmod(dir, 0), 0);
    int rc = store_open(&st, dir, 0, err, sizeof err);
    chmod(dir, 0755);
    cr_assert_eq(rc, STORE_ERR_IO);
    cr_assert_not_null(strstr(err, dir), "err: %s", err);
    cr_assert_not_null(strstr(err, "permission denied"), "err: %s", err);
}

/* ---- erasure and retention ---- */

/* Three versions of an activity, then a delete: no byte of any version is left, the
 * tombstone remains. */
Test(store, delete_erases_every_version)
{
    upsert(g_b, "f", "x", 100, "{\"id\":\"x\",\"c\":\"MARK-1\"}", 1);
    upsert(g_b, "f", "y", 200, "{\"id\":\"y\"}", 1);
    commit_ok(g_b);
    upsert(g_b, "f", "x", 100, "{\"id\":\"x\",\"c\":\"MARK-2\"}", 1);
    commit_ok(g_b);
    upsert(g_b, "f", "x", 150, "{\"id\":\"x\",\"c\":\"MARK-3\"}", 1);
    commit_ok(g_b);
    cr_assert(store_holds("MARK-1") && store_holds("MARK-2") && store_holds("MARK-3"));
    cr_assert_eq(store_batch_delete(g_b, "f", "x", 1), 0);
    commit_ok(g_b);
    cr_assert_not(store_holds("MARK-"), "a version of the deleted activity is still stored");
    assert_change_layout("-P--R");
    store_stats_t s;
    store_stats(g_st, &s);
    cr_assert_eq(s.changes, 2);
}

/* A counter of g_st's /metrics collector, or -1 when it is not rendered. */
static long store_metric(const char *name)
{
    metrics_t *m = NULL;
    cr_assert_eq(metrics_new(&m), 0);
    cr_assert_eq(metrics_register(m, store_report_metrics, g_st), 0);
    char *text = metrics_render(m, NULL), line[128];
    cr_assert_not_null(text);
    snprintf(line, sizeof line, "\n%s ", name);
    const char *at = strstr(text, line);
    long v = at ? strtol(at + strlen(line), NULL, 10) : -1;
    free(text);
    metrics_free(m);
    return v;
}

/* version_retention 0: a superseded version is not kept, and the low-water mark says so; it
 * counts as pruned at once. */
Test(store, retention_zero_keeps_no_superseded_version)
{
    store_set_retention(g_st, 0, 86400000);
    upsert(g_b, "f", "x", 100, "{\"v\":1}", 1);
    upsert(g_b, "f", "y", 100, "{\"v\":1}", 1);
    commit_ok(g_b);
    cr_assert_eq(store_low_water(g_st), 0);
    upsert(g_b, "f", "x", 100, "{\"v\":2}", 1);
    commit_ok(g_b);
    cr_assert_eq(store_low_water(g_st), 3, "a resume from below 3 may miss a version");
    cr_assert_eq(store_metric("as_store_pruned_versions_total"), 1);
    reopen(0);
    cr_assert_eq(store_low_water(g_st), 3, "the mark is kept in meta");
    assert_change_layout("-PP");
}

/* With a retention of 1 ms, pruning at a later time removes superseded versions and
 * tombstones, raises both marks and keeps the current versions. */
Test(store, prune_removes_what_retention_no_longer_keeps)
{
    store_set_retention(g_st, 1, 1);
    upsert(g_b, "f", "a", 10, "{\"v\":1}", 1);
    upsert(g_b, "f", "b", 20, "{\"v\":1}", 1);
    commit_ok(g_b);
    upsert(g_b, "f", "a", 10, "{\"v\":2}", 1);   /* 3 supersedes 1 */
    cr_assert_eq(store_batch_delete(g_b, "f", "b", 1), 0);   /* tombstone 4 */
    commit_ok(g_b);
    assert_change_layout("R-PR");
    store_set_retention(g_st, 1, 1);   /* reopen forgot it */
    store_prune_stats_t ps;
    cr_assert_eq(store_prune(g_st, timefmt_now_us() - 60000000, 5000, 0, &ps), 0);
    cr_assert_eq(ps.versions + ps.tombstones, 0, "nothing is due a minute ago");
    cr_assert_eq(store_prune(g_st, timefmt_now_us() + 1000000, 5000, 0, &ps), 0);
    cr_assert_eq(ps.versions, 1);
    cr_assert_eq(ps.tombstones, 1);
    cr_assert_eq(store_low_water(g_st), 3);
    cr_assert_eq(store_tombstone_horizon(g_st), 4);
    assert_change_layout("--P");
    store_set_retention(g_st, 1, 1);
    cr_assert_eq(store_low_water(g_st), 3);
    cr_assert_eq(store_tombstone_horizon(g_st), 4);
    /* The pruned version was listed for `a`: deleting `a` now erases what is left. */
    cr_assert_eq(store_batch_delete(g_b, "f", "a", 1), 0);
    commit_ok(g_b);
    coll_t c = {0};
    scan_all_changes(&c);
    cr_assert_eq(c.n, 1);
    cr_assert_eq(c.r[0].kind, STORE_REC_DELETE);
    coll_free(&c);
}

/* Pruning works in bounded transactions: with a tiny budget and one transaction at a time it
 * reports that more is due, and a run without a limit finishes the job. */
Test(store, prune_in_bounded_transactions)
{
    store_set_retention(g_st, 1, 86400000);
    write_numbered(g_b, 0, 300);
    commit_ok(g_b);
    char id[32], json[512];
    for (int round = 1; round <= 3; round++) {
        for (int i = 0; i < 300; i++) {
            snprintf(id, sizeof id, "n%06d", i);
            pad_json(json, sizeof json, id, i + round * 1000);
            upsert(g_b, "g", id, i, json, 1);
        }
        commit_ok(g_b);
    }
    int64_t later = timefmt_now_us() + 1000000;
    store_prune_stats_t ps;
    cr_assert_eq(store_prune(g_st, later, 1, 1, &ps), 1, "one tiny transaction cannot prune 900 versions");
    cr_assert_gt(ps.versions, 0);
    cr_assert_lt(ps.versions, 900);
    uint64_t first = ps.versions;
    cr_assert_eq(store_prune(g_st, later, 1, 0, &ps), 0);
    cr_assert_eq(first + ps.versions, 900);
    cr_assert_eq(store_low_water(g_st), 1200);
    store_stats_t s;
    store_stats(g_st, &s);
    cr_assert_eq(s.changes, 300, "only the current versions' pointers are left");
}

/* A sweep may be cut into pieces: at most `max` deletions per commit, and the stats say when
 * more remain. */
Test(store, sweep_in_pieces)
{
    char id[32];
    for (int i = 0; i < 25; i++) {
        snprintf(id, sizeof id, "s%02d", i);
        upsert(g_b, "f", id, i, "{\"v\":1}", 1);
    }
    commit_ok(g_b);
    size_t deleted = 0;
    int pieces = 0;
    for (;;) {
        cr_assert_eq(store_batch_sweep_some(g_b, "f", 2, 10), 0);
        store_batch_stats_t s = commit_ok(g_b);
        deleted += s.deleted;
        pieces++;
        cr_assert_leq(s.deleted, 10);
        if (!s.sweep_more)
            break;
        cr_assert_lt(pieces, 10);
    }
    cr_assert_eq(deleted, 25);
    cr_assert_eq(pieces, 3);
    cr_assert_eq(store_feed_count(g_st, "f"), 0);
}

/* ---- identity and the list of feeds ---- */

static int list_feed(const char *feed, size_t len, uint64_t count, void *ud)
{
    char *out = ud;
    snprintf(out + strlen(out), 256 - strlen(out), "%.*s=%llu ", (int)len, feed, (unsigned long long)count);
    return 0;
}

static int stop_first(const char *feed, size_t len, uint64_t count, void *ud) { return 7; }

/* The store's id is 32 hex digits, the same after a reopen; store_feeds lists the feeds that
 * hold activities, in id order, with their counts. */
Test(store, id_and_feeds)
{
    char id[33], list[256] = "";
    snprintf(id, sizeof id, "%s", store_id(g_st));
    cr_assert_eq(strlen(id), 32);
    cr_assert_eq(strspn(id, "0123456789abcdef"), 32);
    cr_assert_eq(store_feeds(g_st, list_feed, list), 0);
    cr_assert_str_eq(list, "");
    upsert(g_b, "zz", "a", 10, "{}", 1);
    upsert(g_b, "f", "a", 10, "{}", 1);
    upsert(g_b, "f", "b", 10, "{}", 1);
    upsert(g_b, "gone", "a", 10, "{}", 1);
    commit_ok(g_b);
    cr_assert_eq(store_batch_delete(g_b, "gone", "a", 1), 0);
    commit_ok(g_b);
    cr_assert_eq(store_feeds(g_st, list_feed, list), 0);
    cr_assert_str_eq(list, "f=2 zz=1 ");
    cr_assert_eq(store_feeds(g_st, stop_first, NULL), 7);
    close_fixture();
    g_st = open_ok(g_dir, 0);
    cr_assert_eq(store_batch_new(g_st, &g_b), 0);
    cr_assert_str_eq(store_id(g_st), id);
}

/* ---- frozen views and lookups ---- */

static int copy_json(const store_rec_t *rec, void *ud)
{
    snprintf(ud, 256, "%.*s", (int)rec->json_len, rec->json);
    return 0;
}

/* A view sees the store as it was when it opened, whatever is written, updated or deleted
 * afterwards; a lookup finds the current version; growth of the map ends open views. */
Test(store, views_are_frozen_and_lookups_find_the_current_version)
{
    upsert(g_b, "f", "a", 10, "{\"v\":1}", 1);
    upsert(g_b, "f", "b", 20, "{\"v\":1}", 1);
    commit_ok(g_b);
    store_view_t *v;
    cr_assert_eq(store_view_open(g_st, &v), 0);
    cr_assert_eq(store_view_head(v), 2);
    upsert(g_b, "f", "a", 10, "{\"v\":2}", 1);
    upsert(g_b, "f", "c", 30, "{\"v\":1}", 1);
    cr_assert_eq(store_batch_delete(g_b, "f", "b", 1), 0);
    commit_ok(g_b);
    char json[256] = "";
    cr_assert_eq(store_get(g_st, "f", "a", 1, copy_json, json), 0);
    cr_assert_str_eq(json, "{\"v\":2}");
    cr_assert_eq(store_get(g_st, "f", "b", 1, copy_json, json), STORE_ERR_NOTFOUND);
    cr_assert_eq(store_view_get(v, "f", "a", 1, copy_json, json), 0);
    cr_assert_str_eq(json, "{\"v\":1}", "the view keeps the version it saw");
    cr_assert_eq(store_view_get(v, "f", "b", 1, copy_json, json), 0, "and the activity deleted since");
    coll_t c = {0};
    cr_assert_eq(store_view_scan_time(v, T_START, INT64_MAX, 0, 0, collect, &c, NULL), 0);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.r[0].id, "a");
    cr_assert_str_eq(c.r[1].id, "b");
    coll_free(&c);
    cr_assert_eq(store_view_scan_time(v, T_END, INT64_MIN, 1, 0, collect, &c, NULL), 0);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.r[0].id, "b", "descending");
    coll_free(&c);
    store_view_close(v);
    /* A view open while the map grows is ended, and says so. */
    close_fixture();
    rm_tree(g_dir);
    g_st = open_ok(g_dir, 64 * 1024);
    cr_assert_eq(store_batch_new(g_st, &g_b), 0);
    cr_assert_eq(store_view_open(g_st, &v), 0);
    write_numbered(g_b, 0, 300);
    commit_ok(g_b);
    cr_assert_eq(store_view_scan_time(v, T_START, INT64_MAX, 0, 0, collect, &c, NULL), STORE_ERR_EXPIRED);
    cr_assert_eq(store_view_get(v, "g", "n000001", 7, copy_json, json), STORE_ERR_EXPIRED);
    store_view_close(v);
}
