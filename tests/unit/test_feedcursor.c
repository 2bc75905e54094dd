/* test_feedcursor.c -- the persisted per-feed ingest state: the blob round-trips, a blob of
 * another feed URL loses its poll URL and validators, unreadable blobs are errors, and the
 * sync transitions move the generations as ingest relies on. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "feedcursor.h"

#define URL "http://src.example/feed"

/* A cursor with every field set (strings owned). */
static feedcursor_t full_cursor(void)
{
    feedcursor_t c = {
        .gen = 7, .sync_gen = 8, .sync_next = strdup(URL "?page=4"), .sync_pages = 3,
        .sync_items = 250, .sync_started_us = INT64_C(1700000000000000),
        .poll_url = strdup(URL "?page=last"), .v_url = strdup(URL "?page=last"),
        .etag = strdup("\"etag-1\""), .lm = strdup("Tue, 01 Oct 2024 10:00:00 GMT"),
        .last = {.has = 1, .started_us = INT64_C(1690000000000000),
                 .finished_us = INT64_C(1690000001000000), .duration_ms = 1000,
                 .pages = 12, .items = 1100},
    };
    cr_assert(c.sync_next && c.poll_url && c.v_url && c.etag && c.lm);
    return c;
}

static void assert_same_last(const feedcursor_last_t *a, const feedcursor_last_t *b)
{
    cr_assert_eq(a->has, b->has);
    cr_assert_eq(a->started_us, b->started_us);
    cr_assert_eq(a->finished_us, b->finished_us);
    cr_assert_eq(a->duration_ms, b->duration_ms);
    cr_assert_eq(a->pages, b->pages);
    cr_assert_eq(a->items, b->items);
}

static void assert_same_numbers(const feedcursor_t *a, const feedcursor_t *b)
{
    cr_assert_eq(a->gen, b->gen);
    cr_assert_eq(a->sync_gen, b->sync_gen);
    cr_assert_eq(a->sync_pages, b->sync_pages);
    cr_assert_eq(a->sync_items, b->sync_items);
    cr_assert_eq(a->sync_started_us, b->sync_started_us);
    assert_same_last(&a->last, &b->last);
}

static feedcursor_t round_trip(const feedcursor_t *c, const char *written_for, const char *read_as)
{
    size_t len = 0;
    char *blob = feedcursor_dump(c, written_for, &len);
    cr_assert_not_null(blob);
    cr_assert_eq(len, strlen(blob));
    feedcursor_t back = {0};
    cr_assert_eq(feedcursor_load(&back, blob, len, read_as), 0, "%s", blob);
    free(blob);
    return back;
}

Test(feedcursor, round_trip_keeps_every_field)
{
    feedcursor_t c = full_cursor();
    feedcursor_t back = round_trip(&c, URL, URL);
    assert_same_numbers(&back, &c);
    cr_assert_str_eq(back.sync_next, URL "?page=4");
    cr_assert_str_eq(back.poll_url, URL "?page=last");
    cr_assert_str_eq(back.v_url, URL "?page=last");
    cr_assert_str_eq(back.etag, "\"etag-1\"");
    cr_assert_str_eq(back.lm, "Tue, 01 Oct 2024 10:00:00 GMT");
    feedcursor_free(&back);
    feedcursor_free(&c);
}

Test(feedcursor, round_trip_of_an_empty_cursor)
{
    feedcursor_t c = {0};
    feedcursor_t back = round_trip(&c, URL, URL);
    assert_same_numbers(&back, &c);
    cr_assert(!back.sync_next && !back.poll_url && !back.v_url && !back.etag && !back.lm);
}

Test(feedcursor, blob_of_another_feed_url_drops_poll_url_and_validators)
{
    feedcursor_t c = full_cursor();
    feedcursor_t back = round_trip(&c, URL, "http://other.example/feed");
    assert_same_numbers(&back, &c);   /* generations are kept: the sweep still works */
    cr_assert_str_eq(back.sync_next, URL "?page=4");
    cr_assert_null(back.poll_url);
    cr_assert_null(back.v_url);
    cr_assert_null(back.etag);
    cr_assert_null(back.lm);
    feedcursor_free(&back);
    feedcursor_free(&c);
}

Test(feedcursor, blob_without_a_url_counts_as_another_feed)
{
    static const char blob[] = "{\"gen\":3,\"poll_url\":\"http://x/p\",\"etag\":\"e\"}";
    feedcursor_t c = {0};
    cr_assert_eq(feedcursor_load(&c, blob, sizeof blob - 1, URL), 0);
    cr_assert_eq(c.gen, 3);
    cr_assert_null(c.poll_url);
    cr_assert_null(c.etag);
    cr_assert_eq(c.last.has, 0);
}

Test(feedcursor, unreadable_blob_is_an_error_and_leaves_the_cursor_empty)
{
    static const char *const blobs[] = {"", "{", "not json", "[]", "[{\"gen\":1}]", "42",
                                        "\"gen\"", "null"};
    for (size_t i = 0; i < sizeof blobs / sizeof blobs[0]; i++) {
        feedcursor_t c = {0};
        int rc = feedcursor_load(&c, blobs[i], strlen(blobs[i]), URL);
        cr_assert_eq(rc, FEEDCURSOR_ERR_INVALID, "'%s': %d", blobs[i], rc);
        cr_assert_null(c.sync_next);
        cr_assert_eq(c.gen, 0);
    }
}

Test(feedcursor, odd_members_read_as_zero_or_absent)
{
    static const char blob[] = "{\"v\":1,\"url\":\"" URL "\",\"gen\":-4,\"sync_gen\":\"9\","
                               "\"sync_next\":5,\"poll_url\":null,\"last\":[1],\"extra\":{}}";
    feedcursor_t c = {0};
    cr_assert_eq(feedcursor_load(&c, blob, sizeof blob - 1, URL), 0);
    cr_assert_eq(c.gen, 0);
    cr_assert_eq(c.sync_gen, 0);
    cr_assert_null(c.sync_next);
    cr_assert_null(c.poll_url);
    cr_assert_eq(c.last.has, 0);
}

Test(feedcursor, copy_is_deep)
{
    feedcursor_t c = full_cursor(), d;
    cr_assert_eq(feedcursor_copy(&d, &c), 0);
    assert_same_numbers(&d, &c);
    cr_assert_neq(d.sync_next, c.sync_next);
    cr_assert_str_eq(d.sync_next, c.sync_next);
    cr_assert_str_eq(d.etag, c.etag);
    feedcursor_free(&c);
    cr_assert_str_eq(d.poll_url, URL "?page=last");   /* still valid after the original is gone */
    feedcursor_free(&d);
    feedcursor_free(NULL);
}

Test(feedcursor, sync_begins_above_both_generations_and_finishes_into_last)
{
    feedcursor_t c = {.gen = 4, .sync_gen = 6, .sync_pages = 9};
    cr_assert_eq(feedcursor_begin_sync(&c, URL, 1000), 0);
    cr_assert_eq(c.sync_gen, 7, "max(gen, sync_gen) + 1");
    cr_assert_eq(c.sync_pages, 0);
    cr_assert_eq(c.sync_started_us, 1000);
    cr_assert_str_eq(c.sync_next, URL);
    c.sync_pages = 2;
    c.sync_items = 30;
    cr_assert_eq(feedcursor_finish_sync(&c, URL "?last", 5000, 4), 0);
    cr_assert_eq(c.gen, 7);
    cr_assert_eq(c.sync_gen, 0);
    cr_assert_null(c.sync_next);
    cr_assert_str_eq(c.poll_url, URL "?last");
    feedcursor_last_t want = {.has = 1, .started_us = 1000, .finished_us = 5000, .duration_ms = 4,
                              .pages = 2, .items = 30};
    assert_same_last(&c.last, &want);
    feedcursor_free(&c);
}

Test(feedcursor, validators_are_replaced_and_cleared_together)
{
    feedcursor_t c = {0};
    cr_assert_eq(feedcursor_set_validators(&c, "http://a/1", "e1", NULL), 0);
    cr_assert_eq(feedcursor_set_validators(&c, "http://a/2", NULL, "lm2"), 0);
    cr_assert_str_eq(c.v_url, "http://a/2");
    cr_assert_null(c.etag);
    cr_assert_str_eq(c.lm, "lm2");
    feedcursor_clear_validators(&c);
    cr_assert_null(c.v_url);
    cr_assert_null(c.lm);
    feedcursor_free(&c);
}
