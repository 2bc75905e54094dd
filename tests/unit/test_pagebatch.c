/* test_pagebatch.c -- one fetched document to store operations, without HTTP or threads: items
 * become upserts (minified, types joined, actor and time read), embedded pages are read in the
 * same document, `next` resolves against the URL after redirects and a self link ends the walk,
 * invalid items are skipped with a reason, and documents that are not JSON or not a collection
 * are errors with the messages ingest shows in /feeds. A real store in a temporary directory
 * receives the batch (tests/store_fixture.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pagebatch.h"
#include "store_fixture.h"

#define URL "http://src.example/feed/page1.json"
#define NOW INT64_C(1717236000000000)   /* 2024-06-01T10:00:00Z */
#define GEN 5

static pagebatch_t *g_pb;
static char g_err[512];

static void setup(void)
{
    store_fixture_setup();
    cr_assert_eq(pagebatch_new(&g_pb), 0);
}

static void teardown(void)
{
    pagebatch_free(g_pb);
    store_fixture_teardown();
}

TestSuite(pagebatch, .init = setup, .fini = teardown, .timeout = 60);

/* Read `body`, requested as `url` and served from `base` (after redirects), into the fixture's
 * batch for feed "f". Returns pagebatch_read's code. */
static int read_from(const char *body, const char *url, const char *base, pagebatch_result_t *res)
{
    g_err[0] = '\0';
    return pagebatch_read(g_pb, body, strlen(body), url, base, "f", GEN, NOW, g_b, res, g_err,
                          sizeof g_err);
}

/* Read a document that must be accepted. */
static pagebatch_result_t read_ok(const char *body)
{
    pagebatch_result_t res;
    int rc = read_from(body, URL, URL, &res);
    cr_assert_eq(rc, 0, "pagebatch_read: %d %s", rc, g_err);
    return res;
}

/* Read a document that must be refused with `code` and a message containing `want`. */
static void read_fails(const char *body, int code, const char *want)
{
    pagebatch_result_t res;
    int rc = read_from(body, URL, URL, &res);
    cr_assert_eq(rc, code, "'%s': %d (%s)", body, rc, g_err);
    cr_assert(strstr(g_err, want), "'%s': error '%s', expected '%s'", body, g_err, want);
    cr_assert_null(res.next);
}

/* Commit the batch and collect what the store holds, in time order. */
static coll_t committed(void)
{
    commit_ok(g_b);
    coll_t c = {0};
    scan_all_time(&c);
    return c;
}

Test(pagebatch, page_with_items_becomes_upserts)
{
    pagebatch_result_t res = read_ok(
        "{\"type\": \"OrderedCollectionPage\",\n \"orderedItems\": [\n"
        "  {\"id\": \"urn:a\", \"type\": [\"Create\", \"Announce\"],\n"
        "   \"published\": \"2024-05-01T10:00:00Z\",\n"
        "   \"actor\": {\"id\": \"http://a/u\", \"name\": \"A\"}},\n"
        "  {\"id\": \"urn:b\", \"type\": \"Note\", \"actor\": \"http://a/v\",\n"
        "   \"content\": \"x y\"}\n"
        " ]}");
    cr_assert_eq(res.valid, 2);
    cr_assert_eq(res.skipped, 0);
    cr_assert(res.has_items);
    cr_assert_null(res.next);
    cr_assert_str_eq(res.reason, "");
    coll_t c = committed();
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.r[0].id, "urn:a");
    cr_assert_str_eq(c.r[0].feed, "f");
    cr_assert_eq(c.r[0].pub, INT64_C(1714557600000000));
    cr_assert_str_eq(c.r[0].types, "Create\x1f" "Announce");
    cr_assert_str_eq(c.r[0].actor, "http://a/u");
    cr_assert_str_eq(c.r[0].json, "{\"id\":\"urn:a\",\"type\":[\"Create\",\"Announce\"],"
                     "\"published\":\"2024-05-01T10:00:00Z\",\"actor\":{\"id\":\"http://a/u\","
                     "\"name\":\"A\"}}");
    cr_assert_str_eq(c.r[1].id, "urn:b");
    cr_assert_eq(c.r[1].pub, NOW, "no time: dated now");
    cr_assert_str_eq(c.r[1].types, "Note");
    cr_assert_str_eq(c.r[1].actor, "http://a/v");
    cr_assert_str_eq(c.r[1].json, "{\"id\":\"urn:b\",\"type\":\"Note\",\"actor\":\"http://a/v\","
                     "\"content\":\"x y\"}");
    coll_free(&c);
}

Test(pagebatch, items_are_stamped_with_the_generation)
{
    read_ok("{\"type\":\"Collection\",\"orderedItems\":[{\"id\":\"urn:old\"}]}");
    commit_ok(g_b);
    /* a sweep below GEN keeps it; one above removes it */
    cr_assert_eq(store_batch_sweep(g_b, "f", GEN), 0);
    commit_ok(g_b);
    cr_assert_eq(store_feed_count(g_st, "f"), 1);
    cr_assert_eq(store_batch_sweep(g_b, "f", GEN + 1), 0);
    commit_ok(g_b);
    cr_assert_eq(store_feed_count(g_st, "f"), 0);
}

Test(pagebatch, single_item_object_and_empty_page)
{
    pagebatch_result_t res = read_ok("{\"type\":\"OrderedCollectionPage\","
                                     "\"orderedItems\":{\"id\":\"urn:x\"}}");
    cr_assert_eq(res.valid, 1);
    res = read_ok("{\"type\":\"OrderedCollectionPage\",\"orderedItems\":[]}");
    cr_assert_eq(res.valid, 0);
    cr_assert(res.has_items, "an empty items member still counts as items");
    cr_assert_null(res.next);
}

Test(pagebatch, embedded_first_and_next_pages_are_read_in_the_same_document)
{
    pagebatch_result_t res = read_ok(
        "{\"type\":\"OrderedCollection\",\"totalItems\":3,"
        "\"first\":{\"type\":\"OrderedCollectionPage\",\"orderedItems\":[{\"id\":\"urn:1\"}],"
        "\"next\":{\"type\":\"OrderedCollectionPage\","
        "\"items\":[{\"id\":\"urn:2\"},{\"id\":\"urn:3\"}],\"next\":\"page3.json\"}}}");
    cr_assert_eq(res.valid, 3);
    cr_assert(res.has_items);
    cr_assert_str_eq(res.next, "http://src.example/feed/page3.json");
    pagebatch_result_free(&res);
    cr_assert_null(res.next);
    coll_t c = committed();
    cr_assert_eq(c.n, 3);
    coll_free(&c);
}

Test(pagebatch, collection_without_items_goes_on_with_first)
{
    pagebatch_result_t res = read_ok("{\"type\":\"OrderedCollection\",\"first\":\"?page=1\"}");
    cr_assert_eq(res.valid, 0);
    cr_assert_not(res.has_items);
    cr_assert_str_eq(res.next, "http://src.example/feed/page1.json?page=1");
    pagebatch_result_free(&res);
    res = read_ok("{\"type\":\"OrderedCollection\",\"first\":{\"href\":\"/p/1\"}}");
    cr_assert_str_eq(res.next, "http://src.example/p/1", "a Link object");
    pagebatch_result_free(&res);
}

Test(pagebatch, relative_next_resolves_against_the_url_after_redirects)
{
    pagebatch_result_t res;
    int rc = read_from("{\"type\":\"Collection\",\"orderedItems\":[],\"next\":\"../b/2.json\"}",
                       "http://src.example/start", "http://mirror.example/feed/a/1.json", &res);
    cr_assert_eq(rc, 0, "%s", g_err);
    cr_assert_str_eq(res.next, "http://mirror.example/feed/b/2.json");
    pagebatch_result_free(&res);
}

Test(pagebatch, next_pointing_at_the_document_itself_ends_the_walk)
{
    pagebatch_result_t res = read_ok("{\"type\":\"OrderedCollectionPage\",\"orderedItems\":"
                                     "[{\"id\":\"urn:1\"}],\"next\":\"page1.json\"}");
    cr_assert_eq(res.valid, 1);
    cr_assert_null(res.next, "next equal to the requested URL");
    int rc = read_from("{\"type\":\"OrderedCollectionPage\",\"orderedItems\":[],\"next\":"
                       "\"http://src.example/moved.json\"}", URL, "http://src.example/moved.json",
                       &res);
    cr_assert_eq(rc, 0, "%s", g_err);
    cr_assert_null(res.next, "next equal to the URL after redirects");
    res = read_ok("{\"type\":\"OrderedCollectionPage\",\"orderedItems\":[],"
                  "\"next\":\"page2.json\"}");
    cr_assert_str_eq(res.next, "http://src.example/feed/page2.json");
    pagebatch_result_free(&res);
}

Test(pagebatch, invalid_items_are_skipped_with_the_first_reason)
{
    pagebatch_result_t res = read_ok(
        "{\"type\":\"Collection\",\"orderedItems\":[{\"id\":\"urn:ok\"},{\"type\":\"Note\"},5,"
        "{\"id\":\"urn:t\",\"published\":\"yesterday\"},{\"id\":\"\"},{\"id\":\"urn:ok2\"}]}");
    cr_assert_eq(res.valid, 2);
    cr_assert_eq(res.skipped, 4);
    cr_assert_str_eq(res.reason, "item 1: item has no string id");
    coll_t c = committed();
    cr_assert_eq(c.n, 2, "the valid items are stored");
    coll_free(&c);
}

Test(pagebatch, not_json_is_an_error_naming_the_position_and_url)
{
    read_fails("{\"type\":\"Collection\",\n\"orderedItems\":[", PAGEBATCH_ERR_JSON, "not JSON: ");
    cr_assert(strstr(g_err, " at line 2 column "), "%s", g_err);
    cr_assert(strstr(g_err, "(" URL ")"), "%s", g_err);
    read_fails("", PAGEBATCH_ERR_JSON, "not JSON: ");
    read_fails("42", PAGEBATCH_ERR_JSON, "not JSON: ");
    read_fails("{\"id\":\"\\u0000\"}", PAGEBATCH_ERR_JSON, "not JSON: ");
}

Test(pagebatch, a_nul_jansson_would_skip_is_not_json_at_its_byte)
{
    static const char body[] = "{\"type\":\"Collection\",\"orderedItems\":[],\"n\":1\0}";
    pagebatch_result_t res;
    int rc = pagebatch_read(g_pb, body, sizeof body - 1, URL, URL, "f", GEN, NOW, g_b, &res, g_err,
                            sizeof g_err);
    cr_assert_eq(rc, PAGEBATCH_ERR_JSON, "%d %s", rc, g_err);
    cr_assert(strncmp(g_err, "not JSON: ", 10) == 0 && strstr(g_err, " at byte 44 (" URL ")"),
              "%s", g_err);
}

Test(pagebatch, json_that_is_not_a_collection_is_an_error)
{
    read_fails("{}", PAGEBATCH_ERR_PAGE, "not an Activity Streams collection or page: no type, "
               "and no orderedItems, items, first or next (" URL ")");
    read_fails("[{\"id\":\"urn:1\"}]", PAGEBATCH_ERR_PAGE,
               "not an Activity Streams page: top level is an array, not an object (" URL ")");
    read_fails("{\"type\":\"Collection\",\"orderedItems\":3}", PAGEBATCH_ERR_PAGE,
               "not an Activity Streams page: orderedItems is a number");
}

Test(pagebatch, a_note_instead_of_a_collection_is_an_error)
{
    read_fails("{\"type\":\"Note\",\"id\":\"urn:n\",\"content\":\"hello\"}", PAGEBATCH_ERR_PAGE,
               "not an Activity Streams collection or page: type 'Note', and no orderedItems, "
               "items, first or next (" URL ")");
    coll_t c = committed();
    cr_assert_eq(c.n, 0, "nothing was stored");
    coll_free(&c);
}

Test(pagebatch, a_collection_type_alone_is_an_empty_page)
{
    pagebatch_result_t res = read_ok("{\"type\":[\"Object\",\"OrderedCollectionPage\"]}");
    cr_assert_eq(res.valid, 0);
    cr_assert_not(res.has_items);
    cr_assert_null(res.next);
}

Test(pagebatch, a_link_that_cannot_be_followed_is_an_error)
{
    read_fails("{\"type\":\"Collection\",\"orderedItems\":[],\"next\":\"ftp://src.example/2\"}",
               PAGEBATCH_ERR_PAGE, "cannot follow link 'ftp://src.example/2' in " URL);
}

Test(pagebatch, an_activity_the_store_refuses_fails_the_document)
{
    pagebatch_result_t res;
    const char *body = "{\"type\":\"Collection\",\"orderedItems\":[{\"id\":\"urn:1\"}]}";
    int rc = pagebatch_read(g_pb, body, strlen(body), URL, URL, "", GEN, NOW, g_b, &res, g_err,
                            sizeof g_err);
    cr_assert_eq(rc, PAGEBATCH_ERR_STORE, "an empty feed id: %d %s", rc, g_err);
    cr_assert_str_eq(g_err, "store: invalid argument (activity urn:1)");
    store_batch_reset(g_b);
}

Test(pagebatch, the_reader_is_reused_across_documents)
{
    char body[256];
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body, "{\"type\":\"Collection\",\"orderedItems\":[{\"id\":\"urn:%d\","
                 "\"type\":[\"T%d\",\"U\"]}],\"next\":\"p%d\"}", i, i, i + 1);
        pagebatch_result_t res = read_ok(body);
        cr_assert_eq(res.valid, 1);
        pagebatch_result_free(&res);
    }
    coll_t c = committed();
    cr_assert_eq(c.n, 5);
    for (size_t i = 0; i < c.n; i++) {
        char want[32];
        snprintf(want, sizeof want, "T%zu\x1fU", i);
        cr_assert_str_eq(c.r[i].types, want);
    }
    coll_free(&c);
}
