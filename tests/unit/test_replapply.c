/* test_replapply.c -- a replica's applier without sockets: the primary's log, encoded as
 * replication frames (replproto_put_log_item) and fed in pieces of any size, interleaved with
 * heartbeats and feed states, leaves the replica store equal to the primary's; a commit is
 * never half applied; heartbeats report "idle" only when everything before them is applied; a
 * corrupt frame stops the stream and keeps what was committed. */
#include "replapply.h"
#include "replproto.h"
#include "store_fixture.h"
#include "timefmt.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(replapply, .init = store_fixture_setup, .fini = store_fixture_teardown, .timeout = 60);

typedef struct {
    int hellos, heartbeats, idle_heartbeats, feeds;
    int64_t applied_us;   /* the last `applied` hook's time */
    int refuse_hello;
} hooks_seen_t;

static int on_hello(void *ud, const char *json, size_t len)
{
    hooks_seen_t *h = ud;
    h->hellos++;
    return h->refuse_hello ? -1 : 0;
}

static void on_heartbeat(void *ud, int64_t primary_us, int idle)
{
    hooks_seen_t *h = ud;
    h->heartbeats++;
    h->idle_heartbeats += idle;
}

static void on_feeds(void *ud, const char *json, size_t len)
{
    ((hooks_seen_t *)ud)->feeds++;
}

static void on_applied(void *ud, int64_t primary_us)
{
    ((hooks_seen_t *)ud)->applied_us = primary_us;
}

static int put_item(const store_log_item_t *it, void *ud)
{
    cr_assert_eq(replproto_put_log_item(ud, it), 0);
    return 0;
}

/* The primary's log after `after`, as frames appended to out. */
static void encode_log(store_t *primary, uint64_t after, bytebuf_t *out)
{
    uint64_t last;
    cr_assert_eq(store_log_scan(primary, after, 0, put_item, out, &last), 0);
}

/* Feed b to a in pieces of `piece` bytes (0: at once); every call must succeed. */
static void feed_pieces(replapply_t *a, const bytebuf_t *b, size_t piece)
{
    size_t step = piece ? piece : b->len;
    for (size_t off = 0; off < b->len; off += step) {
        size_t n = b->len - off < step ? b->len - off : step;
        cr_assert_eq(replapply_feed(a, b->p + off, n), 0, "at byte %zu", off);
    }
}

static void primary_history(void)
{
    upsert(g_b, "f", "a", 10, "{\"v\":1,\"secret\":\"S\"}", 1);
    upsert(g_b, "f", "b", 20, "{\"v\":1}", 1);
    commit_ok(g_b);
    upsert(g_b, "f", "a", 10, "{\"v\":2,\"secret\":\"S\"}", 1);
    commit_ok(g_b);
    cr_assert_eq(store_batch_delete(g_b, "f", "a", 1), 0);
    commit_ok(g_b);
    write_numbered(g_b, 0, 30);
    commit_ok(g_b);
}

Test(replapply, frames_in_any_pieces_make_an_equal_store)
{
    primary_history();
    size_t pieces[] = {0, 1, 7, 100};
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        char dir[4096];
        store_t *r = second_store(dir, sizeof dir);
        hooks_seen_t seen = {0};
        replapply_hooks_t hooks = {on_hello, on_heartbeat, on_feeds, on_applied, &seen};
        replapply_t *a;
        cr_assert_eq(replapply_new(&a, r, &hooks), 0);
        bytebuf_t b = {0};
        replproto_put_hello(&b, "{}", 2);
        encode_log(g_st, 0, &b);
        replproto_put_heartbeat(&b, 123, store_head(g_st));
        feed_pieces(a, &b, pieces[k]);
        assert_same_stores(g_st, r);
        cr_assert_eq(seen.hellos, 1);
        cr_assert_eq(seen.idle_heartbeats, 1, "after the last commit the replica is idle");
        cr_assert_gt(seen.applied_us, 0);
        bytebuf_free(&b);
        replapply_free(a);
        store_close(r);
        rm_tree(dir);
    }
}

/* Erasure, and pruning that happens while the replica is away, reach it as well. (A replica
 * away longer than the tombstones are kept gets a snapshot instead: replsend checks.) */
Test(replapply, later_erasure_and_pruning_follow)
{
    char dir[4096];
    store_t *r = second_store(dir, sizeof dir);
    replapply_t *a;
    cr_assert_eq(replapply_new(&a, r, NULL), 0);
    primary_history();
    bytebuf_t b = {0};
    encode_log(g_st, 0, &b);
    feed_pieces(a, &b, 0);
    uint64_t head = store_head(g_st);
    cr_assert_eq(store_batch_delete(g_b, "f", "b", 1), 0);
    commit_ok(g_b);
    bytebuf_clear(&b);
    encode_log(g_st, head, &b);
    feed_pieces(a, &b, 3);
    assert_same_stores(g_st, r);
    head = store_head(g_st);
    upsert(g_b, "f", "c", 30, "{\"v\":1}", 1);
    commit_ok(g_b);
    upsert(g_b, "f", "c", 30, "{\"v\":2}", 1);   /* a superseded version to prune */
    commit_ok(g_b);
    store_set_retention(g_st, 1, 1);
    cr_assert_eq(store_prune(g_st, timefmt_now_us() + 1000000, 5000, 0, NULL), 0);
    cr_assert_gt(store_low_water(g_st), head, "c's first version is pruned");
    cr_assert_leq(store_tombstone_horizon(g_st), head, "b's tombstone was seen before it went");
    bytebuf_clear(&b);
    encode_log(g_st, head, &b);
    feed_pieces(a, &b, 3);
    assert_same_stores(g_st, r);
    bytebuf_free(&b);
    replapply_free(a);
    store_close(r);
}

/* Bytes that end inside a commit leave the replica at the previous commit; a heartbeat there
 * is not idle; the rest completes it. Feed states wait for the commit they arrive in. */
Test(replapply, a_commit_is_never_half_applied)
{
    char dir[4096];
    store_t *r = second_store(dir, sizeof dir);
    hooks_seen_t seen = {0};
    replapply_hooks_t hooks = {NULL, on_heartbeat, NULL, on_applied, &seen};
    replapply_t *a;
    cr_assert_eq(replapply_new(&a, r, &hooks), 0);
    write_numbered(g_b, 0, 10);
    commit_ok(g_b);
    bytebuf_t all = {0}, part = {0};
    encode_log(g_st, 0, &all);
    /* the first entry, a heartbeat and a feed state inside the commit */
    replproto_frame_t f;
    long used = 0, n;
    do {   /* up to the first entry (after the pruning marks) */
        n = replproto_next(all.p + used, all.len - (size_t)used, &f);
        cr_assert_gt(n, 0);
        used += n;
    } while (f.type != REPL_ENTRY);
    bytebuf_append(&part, all.p, (size_t)used);
    replproto_put_heartbeat(&part, 5, 0);
    replproto_put_feed_state(&part, "g", 1, "state", 5);
    feed_pieces(a, &part, 0);
    cr_assert_eq(store_head(r), 0, "half a commit is not visible");
    cr_assert_eq(seen.heartbeats, 0, "a heartbeat inside a commit waits for it");
    void *blob;
    size_t blen;
    cr_assert_neq(store_get_feed_state(r, "g", &blob, &blen), 0, "the feed state waits for the commit");
    cr_assert_eq(replapply_feed(a, all.p + used, all.len - (size_t)used), 0);
    assert_same_stores(g_st, r);
    cr_assert_eq(seen.heartbeats, 1);
    cr_assert_eq(seen.idle_heartbeats, 0, "a heartbeat inside a commit is not idle");
    cr_assert_eq(store_get_feed_state(r, "g", &blob, &blen), 0);
    cr_assert_eq(blen, 5);
    cr_assert_eq(memcmp(blob, "state", 5), 0);
    free(blob);
    /* a feed state between commits is written by the next heartbeat, which is then idle */
    bytebuf_clear(&part);
    replproto_put_feed_state(&part, "g", 1, "later", 5);
    replproto_put_heartbeat(&part, 6, store_head(g_st));
    feed_pieces(a, &part, 0);
    cr_assert_eq(seen.idle_heartbeats, 1);
    cr_assert_eq(store_get_feed_state(r, "g", &blob, &blen), 0);
    cr_assert_eq(memcmp(blob, "later", 5), 0);
    free(blob);
    bytebuf_free(&all);
    bytebuf_free(&part);
    replapply_free(a);
    store_close(r);
}

Test(replapply, a_corrupt_frame_stops_and_keeps_what_was_committed)
{
    char dir[4096];
    store_t *r = second_store(dir, sizeof dir);
    replapply_t *a;
    cr_assert_eq(replapply_new(&a, r, NULL), 0);
    write_numbered(g_b, 0, 5);
    commit_ok(g_b);
    uint64_t head = store_head(g_st);
    write_numbered(g_b, 5, 5);
    commit_ok(g_b);
    bytebuf_t b = {0};
    encode_log(g_st, 0, &b);
    b.p[b.len - 3] ^= 0x40;   /* inside the last frame: its CRC no longer matches */
    cr_assert_eq(replapply_feed(a, b.p, b.len), REPLAPPLY_ERR_CORRUPT);
    cr_assert_eq(store_head(r), head, "the first commit stays, the second is not half applied");
    coll_t c = {0};
    cr_assert_eq(store_scan_changes(r, 0, 0, 0, collect, &c, NULL), 0);
    cr_assert_eq(c.n, 5, "no entry of the broken commit is stored");
    coll_free(&c);
    replapply_reset(a);
    bytebuf_clear(&b);
    encode_log(g_st, head, &b);   /* reconnecting from the replica's head */
    feed_pieces(a, &b, 0);
    assert_same_stores(g_st, r);
    bytebuf_free(&b);
    replapply_free(a);
    store_close(r);
}

Test(replapply, a_refused_hello_stops_the_stream)
{
    char dir[4096];
    store_t *r = second_store(dir, sizeof dir);
    hooks_seen_t seen = {.refuse_hello = 1};
    replapply_hooks_t hooks = {on_hello, NULL, NULL, NULL, &seen};
    replapply_t *a;
    cr_assert_eq(replapply_new(&a, r, &hooks), 0);
    bytebuf_t b = {0};
    replproto_put_hello(&b, "{}", 2);
    cr_assert_eq(replapply_feed(a, b.p, b.len), REPLAPPLY_ERR_CORRUPT);
    bytebuf_free(&b);
    replapply_free(a);
    store_close(r);
}
