/* test_store_repl.c -- the store's side of replication, without sockets: a replica store that
 * applies its primary's log (store_log_scan) ends byte for byte equal to it (records, change
 * log, time index, head, chain) through inserts, updates, erasures and pruning; snapshots
 * install the primary's whole state and identity; a promotion makes a new identity; chains tell
 * diverged histories apart. */
#include "store_fixture.h"
#include "timefmt.h"
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(store_repl, .init = store_fixture_setup, .fini = store_fixture_teardown, .timeout = 60);

typedef struct {
    store_batch_t *b;
    int commits;
} apply_ud_t;

static int apply_item(const store_log_item_t *it, void *ud)
{
    apply_ud_t *a = ud;
    int rc = 0;
    if (it->kind == STORE_LOG_MARKS)
        rc = store_batch_prune_to(a->b, it->low_water, it->tomb_horizon, it->commit_horizon);
    else if (it->kind == STORE_LOG_ENTRY)
        rc = store_batch_apply_entry(a->b, it->record, it->record_len, it->commit_us);
    else if ((rc = store_batch_apply_commit(a->b, it->seq, it->commit_us, it->chain)) == 0)
        a->commits++;
    cr_assert_eq(rc, 0);
    return 0;
}

/* Bring `replica` up to `primary` through its log, in one batch. */
static void follow(store_t *primary, store_t *replica)
{
    apply_ud_t a = {0};
    uint64_t last;
    cr_assert_eq(store_batch_new(replica, &a.b), 0);
    cr_assert_eq(store_log_scan(primary, store_head(replica), 0, apply_item, &a, &last), 0);
    commit_ok(a.b);
    store_batch_free(a.b);
}

Test(store_repl, a_replica_follows_inserts_updates_erasure_and_pruning)
{
    char dir[4096];
    store_t *r = second_store(dir, sizeof dir);
    upsert(g_b, "f", "a", 10, "{\"v\":1}", 1);
    upsert(g_b, "f", "b", 20, "{\"v\":1}", 1);
    commit_ok(g_b);
    follow(g_st, r);
    assert_same_stores(g_st, r);
    upsert(g_b, "f", "a", 10, "{\"v\":2}", 1);
    upsert(g_b, "f", "c", 30, "{\"v\":1,\"secret\":\"S\"}", 1);
    commit_ok(g_b);
    upsert(g_b, "f", "c", 30, "{\"v\":2,\"secret\":\"S\"}", 1);
    commit_ok(g_b);
    follow(g_st, r);
    assert_same_stores(g_st, r);
    cr_assert_eq(store_batch_delete(g_b, "f", "c", 1), 0);   /* erases c's two versions */
    commit_ok(g_b);
    follow(g_st, r);
    assert_same_stores(g_st, r);
    coll_t c = {0};
    cr_assert_eq(store_scan_changes(r, 0, 0, 0, collect, &c, NULL), 0);
    for (size_t i = 0; i < c.n; i++)
        cr_assert_null(strstr(c.r[i].data, "secret"), "the replica kept an erased version");
    coll_free(&c);
    store_set_retention(g_st, 1, 1);
    cr_assert_eq(store_prune(g_st, timefmt_now_us() + 1000000, 5000, 0, NULL), 0);
    cr_assert_gt(store_low_water(g_st), 0);
    follow(g_st, r);   /* nothing new but the marks */
    assert_same_stores(g_st, r);
    store_close(r);
}

/* A replica that was away while the primary pruned and erased catches up to the same state. */
Test(store_repl, a_late_replica_catches_up_through_erasure_and_pruning)
{
    char dir[4096];
    store_t *r = second_store(dir, sizeof dir);
    write_numbered(g_b, 0, 50);
    commit_ok(g_b);
    follow(g_st, r);
    char id[32], json[512];
    for (int round = 1; round <= 3; round++) {
        for (int i = 0; i < 50; i += 2) {
            snprintf(id, sizeof id, "n%06d", i);
            pad_json(json, sizeof json, id, i + 1000 * round);
            upsert(g_b, "g", id, i, json, 1);
        }
        commit_ok(g_b);
    }
    cr_assert_eq(store_batch_delete(g_b, "g", "n000004", 7), 0);
    commit_ok(g_b);
    store_set_retention(g_st, 1, 86400000);
    cr_assert_eq(store_prune(g_st, timefmt_now_us() + 1000000, 5000, 0, NULL), 0);
    follow(g_st, r);
    assert_same_stores(g_st, r);
    store_close(r);
}

Test(store_repl, chains_tell_histories_apart)
{
    char dir[4096];
    store_t *r = second_store(dir, sizeof dir);
    upsert(g_b, "f", "a", 10, "{\"v\":1}", 1);
    commit_ok(g_b);
    follow(g_st, r);
    uint64_t cp, cr_, head;
    cr_assert_eq(store_commit_chain(g_st, 1, &cp), 0);
    cr_assert_eq(store_commit_chain(r, 1, &cr_), 0);
    cr_assert_eq(cp, cr_);
    cr_assert_eq(store_chain(r, &head), cp);
    cr_assert_eq(head, 1);
    /* the replica writes on its own (as a promoted node would): same seq 2, other content */
    store_batch_t *rb;
    cr_assert_eq(store_batch_new(r, &rb), 0);
    upsert(rb, "f", "b", 20, "{\"v\":\"replica\"}", 1);
    commit_ok(rb);
    upsert(g_b, "f", "b", 20, "{\"v\":\"primary\"}", 1);
    commit_ok(g_b);
    cr_assert_eq(store_commit_chain(g_st, 2, &cp), 0);
    cr_assert_eq(store_commit_chain(r, 2, &cr_), 0);
    cr_assert_neq(cp, cr_, "two different seq-2 commits have the same chain");
    cr_assert_eq(store_commit_chain(g_st, 7, &cp), STORE_ERR_NOTFOUND);
    store_batch_free(rb);
    store_close(r);
}

Test(store_repl, a_snapshot_installs_the_primary_and_a_promotion_forks_it)
{
    char dir[4096], snap[4200];
    store_t *r = second_store(dir, sizeof dir);
    write_numbered(g_b, 0, 100);
    commit_ok(g_b);
    cr_assert_eq(store_batch_delete(g_b, "g", "n000001", 7), 0);
    commit_ok(g_b);
    snprintf(snap, sizeof snap, "%s/snap.mdb", dir);
    int fd = open(snap, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(store_snapshot_write(g_st, fd), 0);
    close(fd);
    char err[512];
    cr_assert_str_neq(store_id(r), store_id(g_st));
    cr_assert_eq(store_snapshot_install(r, snap, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(store_id(r), store_id(g_st), "a replica takes its primary's identity");
    cr_assert(store_is_replica(r));
    assert_same_stores(g_st, r);
    upsert(g_b, "f", "x", 1, "{\"after\":1}", 1);   /* and follows from the snapshot's head */
    commit_ok(g_b);
    follow(g_st, r);
    assert_same_stores(g_st, r);
    char old_id[33];
    snprintf(old_id, sizeof old_id, "%s", store_id(r));
    cr_assert_eq(store_promote(r), 0);
    cr_assert_str_neq(store_id(r), old_id);
    cr_assert_not(store_is_replica(r));
    store_identity_t ident, prim;
    store_identity(r, &ident);
    store_identity(g_st, &prim);
    cr_assert_eq(memcmp(ident.parent, prim.id, 16), 0);
    cr_assert_eq(ident.fork, store_head(r));
    store_close(r);
}

/* A file that is no store snapshot is refused before anything changes: the store keeps its
 * data and stays usable. */
Test(store_repl, a_file_that_is_no_snapshot_is_refused_untouched)
{
    write_numbered(g_b, 0, 10);
    commit_ok(g_b);
    uint64_t head = store_head(g_st);
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/incoming", g_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    char junk[65536];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 7);
    cr_assert_eq(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
    cr_assert_eq(store_snapshot_install(g_st, path, err, sizeof err), STORE_ERR_CORRUPT);
    cr_assert(strstr(err, "not a store snapshot"), "%s", err);
    cr_assert_eq(store_head(g_st), head);
    verify_numbered(10);
    write_numbered(g_b, 10, 5);   /* and it takes writes */
    commit_ok(g_b);
    verify_numbered(15);
}
