/* test_pit.c -- the registry of frozen views: ids, kinds, holding, the bound, keep-alives and
 * their ceiling, expiry (lookups and the reaper), closing while held, views the store ended,
 * shutdown, and that a view keeps seeing what it saw. */
#include "pit.h"
#include "clock.h"
#include "store.h"
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *g_dir;
static store_t *g_st;
static int g_freed;   /* states freed */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void put(const char *id)
{
    store_batch_t *b;
    store_activity_t a = {.feed = "f", .feed_len = 1, .id = id, .id_len = strlen(id), .published_us = 1000,
                          .json = "{}", .json_len = 2};
    cr_assert_eq(store_batch_new(g_st, &b), 0);
    cr_assert_eq(store_batch_upsert(b, &a, 0), 0);
    cr_assert_eq(store_batch_commit(b, NULL), 0);
    store_batch_free(b);
}

static void setup(void)
{
    char tmpl[] = "/tmp/test_pit.XXXXXX", err[256];
    cr_assert_not_null(mkdtemp(tmpl));
    g_dir = strdup(tmpl);
    cr_assert_eq(store_open(&g_st, g_dir, 0, err, sizeof err), 0, "%s", err);
    put("a");
    g_freed = 0;
}

static void teardown(void)
{
    store_close(g_st);
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(g_dir);
}

TestSuite(pit, .init = setup, .fini = teardown, .timeout = 30);

static void count_free(void *state)
{
    g_freed++;
    free(state);
}

static pit_t *open_one(pit_reg_t *r, int kind, int64_t keep_ms)
{
    pit_t *p;
    int rc = pit_open(r, kind, keep_ms, malloc(8), count_free, &p);
    cr_assert_eq(rc, 0, "pit_open: %d", rc);
    return p;
}

static int count_cb(const store_rec_t *rec, void *ud)
{
    (*(int *)ud)++;
    return 0;
}

static int view_count(store_view_t *v)
{
    int n = 0;
    cr_assert_eq(store_view_scan_time(v, (store_tpos_t){INT64_MIN, 0}, INT64_MAX, 0, 0, count_cb, &n, NULL), 0);
    return n;
}

Test(pit, open_acquire_release_close)
{
    pit_reg_t *r;
    cr_assert_eq(pit_reg_new(&r, g_st, 4, 60000), 0);
    pit_t *p = open_one(r, PIT_KIND_PIT, 1000);
    char id[PIT_ID_LEN + 1];
    strcpy(id, pit_id(p));
    cr_expect_eq(strlen(id), PIT_ID_LEN);
    cr_expect_eq(strspn(id, "0123456789abcdef"), PIT_ID_LEN);
    pit_release(p);
    cr_expect_eq(pit_count(r), 1);
    put("b");   /* the view does not see it */
    pit_t *q;
    cr_assert_eq(pit_acquire(r, PIT_KIND_PIT, id, PIT_ID_LEN, 0, &q), 0);
    cr_expect_eq(view_count(pit_view(q)), 1);
    pit_release(q);
    /* another kind, another id, a prefix: missing */
    cr_expect_eq(pit_acquire(r, PIT_KIND_SCROLL, id, PIT_ID_LEN, 0, &q), PIT_ERR_MISSING);
    cr_expect_eq(pit_acquire(r, PIT_KIND_PIT, id, PIT_ID_LEN - 1, 0, &q), PIT_ERR_MISSING);
    cr_expect_eq(pit_acquire(r, PIT_KIND_PIT, "00000000000000000000000000000000", PIT_ID_LEN, 0, &q), PIT_ERR_MISSING);
    cr_expect_eq(pit_close(r, PIT_KIND_SCROLL, id, PIT_ID_LEN), PIT_ERR_MISSING);
    cr_expect_eq(pit_close(r, PIT_KIND_PIT, id, PIT_ID_LEN), 0);
    cr_expect_eq(g_freed, 1);
    cr_expect_eq(pit_close(r, PIT_KIND_PIT, id, PIT_ID_LEN), PIT_ERR_MISSING);
    cr_expect_eq(pit_acquire(r, PIT_KIND_PIT, id, PIT_ID_LEN, 0, &q), PIT_ERR_MISSING);
    cr_expect_eq(pit_count(r), 0);
    pit_reg_free(r);
}

Test(pit, the_bound_and_the_keep_alive_ceiling)
{
    pit_reg_t *r;
    pit_t *p;
    cr_assert_eq(pit_reg_new(&r, g_st, 2, 1000), 0);
    pit_release(open_one(r, PIT_KIND_PIT, 1000));
    pit_release(open_one(r, PIT_KIND_SCROLL, 1000));
    void *state = malloc(8);
    cr_expect_eq(pit_open(r, PIT_KIND_PIT, 1000, state, count_free, &p), PIT_ERR_TOO_MANY);
    free(state);   /* still the caller's after a refusal */
    cr_expect_eq(pit_open(r, PIT_KIND_PIT, 1001, NULL, NULL, &p), PIT_ERR_KEEP_ALIVE);
    cr_expect_eq(pit_open(r, PIT_KIND_PIT, 0, NULL, NULL, &p), PIT_ERR_KEEP_ALIVE);
    cr_expect_eq(pit_close_kind(r, PIT_KIND_SCROLL), 1);
    p = open_one(r, PIT_KIND_PIT, 1000);   /* room again */
    pit_t *q;
    cr_expect_eq(pit_acquire(r, PIT_KIND_PIT, pit_id(p), PIT_ID_LEN, 5000, &q), PIT_ERR_KEEP_ALIVE);
    pit_release(p);
    pit_reg_free(r);
    cr_expect_eq(g_freed, 3);
}

Test(pit, expiry_on_lookup_and_by_the_reaper)
{
    pit_reg_t *r;
    pit_t *p, *q;
    char id[PIT_ID_LEN + 1];
    cr_assert_eq(pit_reg_new(&r, g_st, 8, 60000), 0);
    p = open_one(r, PIT_KIND_PIT, 50);
    strcpy(id, pit_id(p));
    pit_release(p);
    usleep(80000);
    cr_expect_eq(pit_acquire(r, PIT_KIND_PIT, id, PIT_ID_LEN, 0, &q), PIT_ERR_MISSING, "expired");
    cr_expect_eq(g_freed, 1);
    /* an acquire with a keep-alive extends it */
    p = open_one(r, PIT_KIND_PIT, 100);
    strcpy(id, pit_id(p));
    pit_release(p);
    for (int i = 0; i < 4; i++) {
        usleep(50000);
        cr_assert_eq(pit_acquire(r, PIT_KIND_PIT, id, PIT_ID_LEN, 100, &q), 0, "round %d", i);
        pit_release(q);
    }
    /* the reaper thread closes what nobody asks for again */
    p = open_one(r, PIT_KIND_SCROLL, 100);
    pit_release(p);
    int64_t t0 = clock_mono_ms();
    while (pit_count(r) > 0 && clock_mono_ms() - t0 < 3000)
        usleep(20000);
    cr_expect_eq(pit_count(r), 0);
    cr_expect_eq(g_freed, 3);
    /* pit_reap itself */
    pit_release(open_one(r, PIT_KIND_PIT, 60000));
    cr_expect_eq(pit_reap(r, clock_mono_ms()), 0);
    cr_expect_eq(pit_reap(r, clock_mono_ms() + 60001), 1);
    pit_reg_free(r);
}

Test(pit, closed_while_held_is_freed_by_the_holder)
{
    pit_reg_t *r;
    pit_t *p, *q;
    char id[PIT_ID_LEN + 1];
    cr_assert_eq(pit_reg_new(&r, g_st, 8, 60000), 0);
    p = open_one(r, PIT_KIND_PIT, 1000);
    strcpy(id, pit_id(p));
    cr_expect_eq(pit_close(r, PIT_KIND_PIT, id, PIT_ID_LEN), 0);
    cr_expect_eq(g_freed, 0, "still held");
    cr_expect_eq(view_count(pit_view(p)), 1, "and its view still works");
    cr_expect_eq(pit_acquire(r, PIT_KIND_PIT, id, PIT_ID_LEN, 0, &q), PIT_ERR_MISSING);
    pit_release(p);
    cr_expect_eq(g_freed, 1);
    /* dropped by its holder (the store ended the view) */
    p = open_one(r, PIT_KIND_PIT, 1000);
    strcpy(id, pit_id(p));
    pit_drop(p);
    cr_expect_eq(g_freed, 2);
    cr_expect_eq(pit_acquire(r, PIT_KIND_PIT, id, PIT_ID_LEN, 0, &q), PIT_ERR_MISSING);
    pit_reg_free(r);
}

Test(pit, shutdown_closes_everything)
{
    pit_reg_t *r;
    pit_t *p;
    cr_assert_eq(pit_reg_new(&r, g_st, 8, 60000), 0);
    pit_release(open_one(r, PIT_KIND_PIT, 1000));
    pit_release(open_one(r, PIT_KIND_SCROLL, 1000));
    pit_reg_shutdown(r);
    cr_expect_eq(g_freed, 2);
    cr_expect_eq(pit_open(r, PIT_KIND_PIT, 1000, NULL, NULL, &p), PIT_ERR_CLOSED);
    cr_expect_eq(pit_acquire(r, PIT_KIND_PIT, "x", 1, 0, &p), PIT_ERR_CLOSED);
    pit_reg_shutdown(r);
    pit_reg_free(r);
}
