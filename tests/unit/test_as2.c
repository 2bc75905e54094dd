/* test_as2.c -- the AS2 page/activity reader against real third-party documents
 * (tests/fixtures/as2/, see MANIFEST.md there) and against hand-made edge cases.
 *
 * Fixtures are read from $AS_FIXTURES/as2/ (default tests/fixtures). Expected epoch seconds
 * were computed with GNU date, e.g. `date -u -d 2018-04-12T12:48:13+00:00 +%s`. */
#include "as2.h"
#include "timefmt.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S INT64_C(1000000)
#define INGEST (INT64_C(1700000000) * S)

/* ---- helpers ---- */

static void fixture_path(const char *name, char *buf, size_t len)
{
    const char *dir = getenv("AS_FIXTURES");
    snprintf(buf, len, "%s/as2/%s", dir && *dir ? dir : "tests/fixtures", name);
}

/* Load a fixture with jansson; asserts it parsed. NEW reference. */
static json_t *load_flags(const char *name, size_t flags)
{
    char path[512];
    json_error_t jerr;
    fixture_path(name, path, sizeof path);
    json_t *j = json_load_file(path, flags, &jerr);
    cr_assert_not_null(j, "%s: %s (line %d)", path, jerr.text, jerr.line);
    return j;
}

static json_t *load(const char *name) { return load_flags(name, 0); }

/* The whole file as bytes (malloc'd), for json_loadb. */
static char *slurp(const char *name, size_t *len)
{
    char path[512];
    fixture_path(name, path, sizeof path);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_geq(n, 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    cr_assert_not_null(j, "%s: %s", text, jerr.text);
    return j;
}

/* Read `doc` as a page and assert success. */
static as2_page_t page_ok(json_t *doc)
{
    as2_page_t p;
    char err[256] = "";
    int rc = as2_read_page(doc, &p, err, sizeof err);
    cr_assert_eq(rc, 0, "page rejected: %s", err);
    return p;
}

/* Read `doc` as a page, assert failure with exactly `why`. */
static void page_fails(json_t *doc, const char *why)
{
    as2_page_t p;
    char err[256] = "";
    cr_assert_eq(as2_read_page(doc, &p, err, sizeof err), -1, "accepted, want '%s'", why);
    cr_assert_str_eq(err, why);
    cr_assert_eq(p.nitems, 0);
    cr_assert_null(p.items);
    cr_assert_null(p.next.url);
}

static as2_activity_t act_ok(json_t *item)
{
    as2_activity_t a;
    char err[256] = "";
    int rc = as2_read_activity(item, INGEST, &a, err, sizeof err);
    cr_assert_eq(rc, 0, "activity rejected: %s", err);
    return a;
}

static void act_fails(json_t *item, const char *why)
{
    as2_activity_t a;
    char err[256] = "";
    cr_assert_eq(as2_read_activity(item, INGEST, &a, err, sizeof err), -1, "accepted, want '%s'",
                 why);
    cr_assert_str_eq(err, why);
    cr_assert_null(a.id);
}

static void page_fails_text(const char *text, const char *why)
{
    json_t *j = parse(text);
    page_fails(j, why);
    json_decref(j);
}

static void act_fails_text(const char *text, const char *why)
{
    json_t *j = parse(text);
    act_fails(j, why);
    json_decref(j);
}

static void no_link(const as2_link_t *l)
{
    cr_assert_null(l->url);
    cr_assert_null(l->page);
    cr_assert_null(as2_link_url(l));
}

static void no_links(const as2_page_t *p)
{
    no_link(&p->next);
    no_link(&p->prev);
    no_link(&p->first);
    no_link(&p->last);
}

/* ---- valid fixtures: DIT ---- */

Test(as2_fixture, dit_multipage_1_has_next_and_one_item)
{
    json_t *doc = load("dit_activity_stream_multipage_1.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 1);
    cr_assert_str_eq(as2_link_url(&p.next),
                     "http://localhost:8081/tests_fixture_activity_stream_multipage_2.json");
    cr_assert_null(p.next.page);
    no_link(&p.prev);
    no_link(&p.first);
    no_link(&p.last);
    as2_activity_t a = act_ok(as2_page_item(&p, 0));
    cr_assert_str_eq(a.id, "dit:exportOpportunities:Enquiry:49863:Create");
    cr_assert_eq(a.published_us, 1523537293 * S); /* 2018-04-12T12:48:13+00:00 */
    cr_assert_eq(a.time_source, AS2_TIME_PUBLISHED);
    cr_assert_eq(a.ntypes, 1);
    cr_assert_str_eq(a.types[0], "Create");
    cr_assert_null(a.actor, "a DIT actor object has no id");
    cr_assert_null(as2_page_item(&p, 1));
    json_decref(doc);
}

Test(as2_fixture, dit_multipage_2_is_last_page)
{
    json_t *doc = load("dit_activity_stream_multipage_2.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 1);
    no_links(&p);
    as2_activity_t a = act_ok(as2_page_item(&p, 0));
    cr_assert_str_eq(a.id, "dit:exportOpportunities:Enquiry:4986999:Create");
    cr_assert_eq(a.published_us, 1302612493 * S); /* 2011-04-12T12:48:13+00:00 */
    json_decref(doc);
}

Test(as2_fixture, dit_empty_page_is_success)
{
    json_t *doc = load("dit_activity_stream_empty.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 0);
    cr_assert(json_is_array(p.items));
    cr_assert_null(as2_page_item(&p, 0));
    no_links(&p);
    json_decref(doc);
}

Test(as2_fixture, dit_missing_fields_fall_back_to_ingest_time)
{
    json_t *doc = load("dit_permissions_1_missing-fields.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 3);
    no_links(&p);
    static const char *const ids[] = {"1:create", "2:create", "3:create"};
    for (size_t i = 0; i < 3; i++) {
        as2_activity_t a = act_ok(as2_page_item(&p, i));
        cr_assert_str_eq(a.id, ids[i]);
        cr_assert_eq(a.time_source, AS2_TIME_INGEST);
        cr_assert_eq(a.published_us, INGEST);
        cr_assert_eq(a.ntypes, 0);
        cr_assert_null(a.actor);
    }
    json_decref(doc);
}

Test(as2_fixture, dit_verification_page_times_without_zone_are_utc)
{
    json_t *doc = load("dit_verification_feed_page_generated.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 3);
    cr_assert_str_eq(as2_link_url(&p.next), "http://localhost:8082/1547553600");
    no_link(&p.prev);
    for (size_t i = 0; i < 3; i++) {
        as2_activity_t a = act_ok(as2_page_item(&p, i));
        /* ids embed the epoch second of their own `published` ("2019-01-15T11:59:57") */
        int64_t secs = 1547553597 + (int64_t)i;
        char want[128];
        snprintf(want, sizeof want, "dit:activityStreamVerificationFeed:Verifier:%lld:Create",
                 (long long)secs);
        cr_assert_str_eq(a.id, want);
        cr_assert_eq(a.published_us, secs * S, "oldest first, no zone = UTC");
        cr_assert_eq(a.time_source, AS2_TIME_PUBLISHED);
    }
    json_decref(doc);
}

Test(as2_fixture, dit_verification_lastpage_is_empty_and_terminal)
{
    json_t *doc = load("dit_verification_feed_lastpage_generated.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 0);
    no_links(&p);
    json_decref(doc);
}

/* ---- valid fixtures: W3C ---- */

Test(as2_fixture, w3c_collection_with_embedded_first_page)
{
    json_t *doc = load("w3c_core-ex21b_collection-first-page.json");
    as2_page_t c = page_ok(doc);
    cr_assert_eq(c.nitems, 0, "a bare collection has no items of its own");
    cr_assert_null(c.items);
    cr_assert_not_null(c.first.page);
    cr_assert_eq(c.first.page, json_object_get(doc, "first"));
    cr_assert_str_eq(as2_link_url(&c.first), "http://example.org/foo?page=1");
    no_link(&c.next);

    as2_page_t p = page_ok(c.first.page);
    cr_assert_eq(p.nitems, 1);
    cr_assert_str_eq(as2_link_url(&p.next), "http://example.org/foo?page=2");
    act_fails(as2_page_item(&p, 0), "item has no string id");
    json_decref(doc);
}

Test(as2_fixture, w3c_inline_ordered_collection_items_have_no_id)
{
    json_t *doc = load("w3c_core-ex22_orderedcollection-inline.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 2);
    no_links(&p);
    act_fails(as2_page_item(&p, 0), "item has no string id");
    act_fails(as2_page_item(&p, 1), "item has no string id");
    json_decref(doc);
}

Test(as2_fixture, w3c_items_with_type_arrays_and_actor_forms)
{
    json_t *doc = load("w3c_core-ex27_collection-create-update-delete.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 3);

    as2_activity_t a = act_ok(as2_page_item(&p, 0));
    cr_assert_str_eq(a.id, "http://example.org/activity/20150101000000");
    cr_assert_eq(a.ntypes, 2);
    cr_assert_str_eq(a.types[0], "Create");
    cr_assert_str_eq(a.types[1], "prov:Activity");
    cr_assert_str_eq(a.actor, "http://example.org/#eric"); /* actor object's id */
    cr_assert_eq(a.published_us, 1420070400 * S);
    cr_assert_eq(a.time_source, AS2_TIME_PUBLISHED);

    a = act_ok(as2_page_item(&p, 1));
    cr_assert_str_eq(a.id, "http://example.org/activity/20150101000059");
    cr_assert_eq(a.ntypes, 3);
    cr_assert_str_eq(a.types[2], "oa:Annotate");
    cr_assert_null(a.actor, "Update without actor");
    cr_assert_eq(a.time_source, AS2_TIME_INGEST, "oa:created is not published");
    cr_assert_eq(a.published_us, INGEST);

    a = act_ok(as2_page_item(&p, 2));
    cr_assert_str_eq(a.id, "http://example.org/activity/20150101010101");
    cr_assert_str_eq(a.types[0], "Delete");
    cr_assert_str_eq(a.actor, "http://example.org/#eric"); /* actor string */
    cr_assert_eq(a.published_us, 1420074061 * S);
    json_decref(doc);
}

Test(as2_fixture, w3c_page_with_part_of_and_no_links)
{
    json_t *doc = load("w3c_vocab-ex6c_orderedcollectionpage.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 2);
    no_links(&p);
    act_fails(as2_page_item(&p, 0), "item has no string id");
    json_decref(doc);
}

Test(as2_fixture, w3c_next_as_link_object_and_url_items)
{
    json_t *doc = load("w3c_vocab-ex97_page-next-as-link.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 3);
    cr_assert_str_eq(as2_link_url(&p.next), "http://example.org/collection?page=2");
    cr_assert_null(p.next.page, "a Link is not an embedded page");
    no_link(&p.prev);
    for (size_t i = 0; i < 3; i++)
        act_fails(as2_page_item(&p, i), "item is a string, not an object");
    json_decref(doc);
}

Test(as2_fixture, w3c_only_prev)
{
    json_t *doc = load("w3c_vocab-ex104_page-prev-url-items.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 3);
    cr_assert_str_eq(as2_link_url(&p.prev), "http://example.org/collection?page=1");
    no_link(&p.next);
    no_link(&p.first);
    json_decref(doc);
}

Test(as2_fixture, w3c_tombstone_in_collection_without_context)
{
    json_t *doc = load("w3c_vocab-ex184_oc-tombstone-nocontext.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 3);
    static const char *const ids[] = {"http://image.example/1", "http://image.example/2",
                                      "http://image.example/3"};
    static const char *const types[] = {"Image", "Tombstone", "Image"};
    for (size_t i = 0; i < 3; i++) {
        as2_activity_t a = act_ok(as2_page_item(&p, i));
        cr_assert_str_eq(a.id, ids[i]);
        cr_assert_str_eq(a.types[0], types[i]);
        cr_assert_eq(a.time_source, AS2_TIME_INGEST, "`deleted` is not a publication time");
    }
    json_decref(doc);
}

/* Single objects (not collections): as pages they have no items; as activities they lack
 * an id, which is checked before anything else. */
Test(as2_fixture, w3c_single_objects_without_id)
{
    static const char *const names[] = {
        "w3c_vocab-ex185b_tombstone-noid.json", "w3c_vocab-ex13_delete.json",
        "w3c_vocab-ex133_namemap-cjk.json", "w3c_vocab-ex56_event-tz-offset.json",
        "w3c_simple0025_published-no-seconds.json",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *doc = load(names[i]);
        as2_page_t p = page_ok(doc);
        cr_assert_eq(p.nitems, 0, "%s", names[i]);
        no_links(&p);
        act_fails(doc, "item has no string id");
        json_decref(doc);
    }
}

Test(as2_fixture, w3c_published_without_seconds)
{
    json_t *doc = load("w3c_simple0025_published-no-seconds.json");
    json_object_set_new(doc, "id", json_string("urn:test:simple0025"));
    as2_activity_t a = act_ok(doc);
    cr_assert_str_eq(a.id, "urn:test:simple0025");
    cr_assert_eq(a.published_us, 1449923640 * S); /* 2015-12-12T12:34Z */
    cr_assert_eq(a.time_source, AS2_TIME_PUBLISHED);
    json_decref(doc);
}

Test(as2_fixture, w3c_negative_offset_times)
{
    /* the Event's own times, used as published/updated of an activity */
    json_t *doc = load("w3c_vocab-ex56_event-tz-offset.json");
    json_t *start = json_object_get(doc, "startTime"), *end = json_object_get(doc, "endTime");
    json_object_set_new(doc, "id", json_string("urn:test:ex56"));
    json_object_set(doc, "updated", end);
    as2_activity_t a = act_ok(doc);
    cr_assert_eq(a.published_us, 1420120800 * S); /* 2015-01-01T06:00:00-08:00 */
    cr_assert_eq(a.time_source, AS2_TIME_UPDATED);
    json_object_set(doc, "published", start);
    a = act_ok(doc);
    cr_assert_eq(a.published_us, 1420095600 * S); /* 2014-12-31T23:00:00-08:00 */
    cr_assert_eq(a.time_source, AS2_TIME_PUBLISHED);
    json_decref(doc);
}

/* ---- valid fixtures: fedify ---- */

Test(as2_fixture, fedify_collection_with_first_url)
{
    json_t *doc = load("fedify-fixture_paged-collection.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 0);
    cr_assert_null(p.items);
    cr_assert_str_eq(as2_link_url(&p.first), "https://example.com/paged/a");
    cr_assert_null(p.first.page);
    no_link(&p.next);
    no_link(&p.last);
    json_decref(doc);
}

Test(as2_fixture, fedify_pages_with_duplicate_ids)
{
    json_t *a = load("fedify-fixture_paged_a_dup-id.json");
    json_t *b = load("fedify-fixture_paged_b_dup-id.json");
    as2_page_t pa = page_ok(a), pb = page_ok(b);
    cr_assert_eq(pa.nitems, 1);
    cr_assert_str_eq(as2_link_url(&pa.next), "https://example.com/paged/b");
    cr_assert_eq(pb.nitems, 2);
    no_links(&pb);
    act_fails(as2_page_item(&pa, 0), "item has no string id");
    act_fails(as2_page_item(&pb, 1), "item has no string id");
    json_decref(a);
    json_decref(b);
}

Test(as2_fixture, fedify_page_part_of_itself)
{
    json_t *doc = load("fedify-fixture_orderedcollectionpage_selfpartof.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 1);
    no_links(&p);
    as2_activity_t a = act_ok(as2_page_item(&p, 0));
    cr_assert_str_eq(a.id, "https://example.com/activities/1");
    cr_assert_eq(a.published_us, 1732029896 * S); /* 2024-11-19T15:24:56Z */
    cr_assert_str_eq(a.actor, "https://example.com/users/1");
    cr_assert_eq(a.ntypes, 1);
    cr_assert_str_eq(a.types[0], "Create");
    json_decref(doc);
}

/* ---- invalid fixtures ---- */

Test(as2_invalid, bad_character_set_fails_in_json_load)
{
    /* Latin-1 bytes: jansson refuses invalid UTF-8, so the caller reports json's error and
     * as2 never sees the document. */
    char path[512];
    json_error_t jerr;
    fixture_path("invalid/w3c_fail_bad-character-set.json", path, sizeof path);
    json_t *j = json_load_file(path, 0, &jerr);
    cr_assert_null(j);
    cr_assert(strstr(jerr.text, "unable to decode byte 0xc6") != NULL, "message: %s", jerr.text);
    cr_assert_eq(jerr.line, 6, "points at the Latin-1 \"eo\" line, got %d", jerr.line);
}

Test(as2_invalid, array_at_top_is_a_page_error)
{
    json_t *doc = load("invalid/w3c_fail_array-at-top.json");
    page_fails(doc, "top level is an array, not an object");
    json_decref(doc);
}

Test(as2_invalid, number_at_top)
{
    /* jansson itself refuses a bare number unless JSON_DECODE_ANY... */
    char path[512];
    json_error_t jerr;
    fixture_path("invalid/w3c_fail_number-at-top.json", path, sizeof path);
    cr_assert_null(json_load_file(path, 0, &jerr));
    /* ...and with it, the page reader says what is wrong */
    json_t *doc = load_flags("invalid/w3c_fail_number-at-top.json", JSON_DECODE_ANY);
    page_fails(doc, "top level is a number, not an object");
    act_fails(doc, "item is a number, not an object");
    json_decref(doc);
}

Test(as2_invalid, number_as_id_is_an_activity_error)
{
    json_t *doc = load("invalid/w3c_fail_number-as-id.json");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 0);
    act_fails(doc, "id is a number, not a string");
    json_decref(doc);
}

/* `{}` (and the documents that only carry `@type`/`_@context`/a foreign @context): as a
 * page they are ACCEPTED with 0 items and no links, because that is exactly what a terminal
 * empty page looks like (GoToSocial ends with an empty page without links; DIT's last page
 * is empty) and the ingest then simply stops. As an activity they are rejected: no id. */
Test(as2_invalid, empty_and_foreign_objects_are_empty_pages_but_not_activities)
{
    static const char *const names[] = {
        "invalid/w3c_empty.json", "invalid/fedify-fixture_wrong-type.json",
        "invalid/npm-activitystrea.ms_test_underscore-context.json",
        "invalid/w3c_fail_other-context.json",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *doc = load(names[i]);
        as2_page_t p = page_ok(doc);
        cr_assert_eq(p.nitems, 0, "%s", names[i]);
        cr_assert_null(p.items);
        no_links(&p);
        act_fails(doc, "item has no string id");
        json_decref(doc);
    }
}

/* Leniency: DIT sources send `type: Collection` with `orderedItems` (see the DIT fixtures and
 * MANIFEST.md "Pagination conventions"), which W3C calls invalid; a reader serving DIT must
 * accept it, and by symmetry OrderedCollection with `items`. The type is not checked. */
Test(as2_invalid, mismatched_collection_types_are_accepted_leniently)
{
    json_t *a = load("invalid/w3c_fail_ordered-collection-with-items.json");
    json_t *b = load("invalid/w3c_fail_unordered-collection-with-ordered-items.json");
    as2_page_t pa = page_ok(a), pb = page_ok(b);
    cr_assert_eq(pa.nitems, 2);
    cr_assert_eq(pa.items, json_object_get(a, "items"));
    cr_assert_eq(pb.nitems, 2);
    cr_assert_eq(pb.items, json_object_get(b, "orderedItems"));
    cr_assert_eq(json_object_get(as2_page_item(&pa, 1), "type"),
                 json_object_get(json_array_get(json_object_get(a, "items"), 1), "type"));
    json_decref(a);
    json_decref(b);
}

Test(as2_invalid, non_page_first_is_a_page_error)
{
    json_t *doc = load("invalid/w3c_fail_ordered-collection-with-non-page-first.json");
    page_fails(doc, "first is an object without href, id or items");
    json_decref(doc);
}

/* A relative `url` is invalid AS2, but this server never dereferences an object's `url`:
 * the Image reads as an activity with its id and the ingest time. */
Test(as2_invalid, relative_url_is_not_interpreted)
{
    json_t *doc = load("invalid/w3c_fail_relative-uri-for-url.json");
    as2_activity_t a = act_ok(doc);
    cr_assert_str_eq(a.id, "http://example.com/images/1");
    cr_assert_str_eq(a.types[0], "Image");
    cr_assert_eq(a.time_source, AS2_TIME_INGEST);
    json_decref(doc);
}

/* ---- pages: edge cases ---- */

Test(as2_page, items_of_wrong_type_are_errors)
{
    page_fails_text("{\"orderedItems\": 3}", "orderedItems is a number, not an array or object");
    page_fails_text("{\"orderedItems\": 2.5}", "orderedItems is a number, not an array or object");
    page_fails_text("{\"orderedItems\": \"x\"}", "orderedItems is a string, not an array or object");
    page_fails_text("{\"orderedItems\": null}", "orderedItems is null, not an array or object");
    page_fails_text("{\"orderedItems\": true}", "orderedItems is a boolean, not an array or object");
    page_fails_text("{\"items\": false}", "items is a boolean, not an array or object");
    page_fails_text("{\"items\": \"http://x/1\"}", "items is a string, not an array or object");
    page_fails_text("\"text\"", "top level is a string, not an object");
    page_fails_text("null", "top level is null, not an object");
    page_fails_text("true", "top level is a boolean, not an object");
    page_fails(NULL, "no document");
}

Test(as2_page, single_object_counts_as_one_item)
{
    json_t *doc = parse("{\"type\":\"OrderedCollectionPage\",\"orderedItems\":{\"id\":\"a:1\"}}");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 1);
    json_t *item = as2_page_item(&p, 0);
    cr_assert_eq(item, json_object_get(doc, "orderedItems"));
    cr_assert_null(as2_page_item(&p, 1));
    cr_assert_str_eq(act_ok(item).id, "a:1");
    json_decref(doc);
}

Test(as2_page, ordered_items_win_over_items)
{
    json_t *doc = parse("{\"items\":[1,2,3],\"orderedItems\":[{\"id\":\"x\"}]}");
    as2_page_t p = page_ok(doc);
    cr_assert_eq(p.nitems, 1);
    cr_assert_eq(p.items, json_object_get(doc, "orderedItems"));
    json_decref(doc);
    /* and a broken orderedItems is not papered over by a good items */
    page_fails_text("{\"items\":[],\"orderedItems\":7}",
                    "orderedItems is a number, not an array or object");
}

Test(as2_page, page_item_bounds)
{
    cr_assert_null(as2_page_item(NULL, 0));
    json_t *doc = parse("{\"orderedItems\":[{\"id\":\"a\"},{\"id\":\"b\"}]}");
    as2_page_t p = page_ok(doc);
    cr_assert_str_eq(act_ok(as2_page_item(&p, 1)).id, "b");
    cr_assert_null(as2_page_item(&p, 2));
    cr_assert_null(as2_page_item(&p, (size_t)-1));
    json_decref(doc);
}

Test(as2_page, link_forms)
{
    json_t *doc = parse("{\"orderedItems\":[],"
                        "\"next\":{\"href\":\"http://h/next\"},"
                        "\"prev\":{\"type\":\"Link\",\"href\":\"http://h/prev\",\"name\":\"p\"},"
                        "\"first\":{\"type\":\"OrderedCollectionPage\",\"id\":\"http://h/1\"},"
                        "\"last\":{\"type\":\"OrderedCollection\",\"id\":\"http://h/last\"}}");
    as2_page_t p = page_ok(doc);
    cr_assert_str_eq(as2_link_url(&p.next), "http://h/next");
    cr_assert_null(p.next.page);
    cr_assert_str_eq(as2_link_url(&p.prev), "http://h/prev");
    /* a *CollectionPage without items is still an embedded page */
    cr_assert_eq(p.first.page, json_object_get(doc, "first"));
    cr_assert_str_eq(as2_link_url(&p.first), "http://h/1");
    /* an object with an id, neither page nor Link: its id is the URL */
    cr_assert_null(p.last.page);
    cr_assert_str_eq(as2_link_url(&p.last), "http://h/last");
    json_decref(doc);
}

Test(as2_page, embedded_page_without_id_has_no_url)
{
    json_t *doc = parse("{\"first\":{\"orderedItems\":[{\"id\":\"i\"}],\"next\":\"http://n\"}}");
    as2_page_t p = page_ok(doc);
    cr_assert_not_null(p.first.page);
    cr_assert_null(as2_link_url(&p.first));
    as2_page_t inner = page_ok(p.first.page);
    cr_assert_eq(inner.nitems, 1);
    cr_assert_str_eq(as2_link_url(&inner.next), "http://n");
    json_decref(doc);
}

Test(as2_page, absent_null_and_empty_links_are_no_link)
{
    json_t *doc = parse("{\"orderedItems\":[],\"next\":null,\"prev\":\"\"}");
    as2_page_t p = page_ok(doc);
    no_links(&p);
    json_decref(doc);
    cr_assert_null(as2_link_url(NULL));
}

Test(as2_page, bad_links_are_errors)
{
    page_fails_text("{\"next\":5}", "next is a number, not a URL, Link or page");
    page_fails_text("{\"prev\":[\"http://a\"]}", "prev is an array, not a URL, Link or page");
    page_fails_text("{\"last\":true}", "last is a boolean, not a URL, Link or page");
    page_fails_text("{\"next\":{\"type\":\"Link\"}}", "next is a Link without a string href");
    page_fails_text("{\"next\":{\"href\":5}}", "next is a Link without a string href");
    page_fails_text("{\"next\":{\"href\":\"\"}}", "next is a Link without a string href");
    page_fails_text("{\"first\":{\"name\":\"x\"}}", "first is an object without href, id or items");
    page_fails_text("{\"first\":{\"id\":7}}", "first is an object without href, id or items");
    /* a broken embedded page's items are reported when that page is read */
    json_t *doc = parse("{\"first\":{\"orderedItems\":\"x\"}}");
    as2_page_t p = page_ok(doc);
    page_fails(p.first.page, "orderedItems is a string, not an array or object");
    json_decref(doc);
}

Test(as2_page, link_with_embedded_nul_is_refused)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "next", json_stringn("http://a\0b", 10));
    page_fails(doc, "next contains a NUL character");
    json_decref(doc);
}

Test(as2_page, null_err_buffer_and_truncation)
{
    json_t *doc = parse("[1]");
    as2_page_t p;
    cr_assert_eq(as2_read_page(doc, &p, NULL, 0), -1);
    char small[8];
    memset(small, 'x', sizeof small);
    cr_assert_eq(as2_read_page(doc, &p, small, sizeof small), -1);
    cr_assert_str_eq(small, "top lev");
    json_decref(doc);
}

/* ---- activities: edge cases ---- */

Test(as2_activity, item_must_be_an_object)
{
    act_fails_text("\"http://example.org/posts/1\"", "item is a string, not an object");
    act_fails_text("[{\"id\":\"a\"}]", "item is an array, not an object");
    act_fails_text("null", "item is null, not an object");
    act_fails_text("1.5", "item is a number, not an object");
    act_fails(NULL, "no item");
}

Test(as2_activity, id_must_be_a_non_empty_string)
{
    act_fails_text("{}", "item has no string id");
    act_fails_text("{\"id\":4}", "id is a number, not a string");
    act_fails_text("{\"id\":null}", "id is null, not a string");
    act_fails_text("{\"id\":{\"id\":\"x\"}}", "id is an object, not a string");
    act_fails_text("{\"id\":[\"x\"]}", "id is an array, not a string");
    act_fails_text("{\"id\":\"\"}", "id is an empty string");
    json_t *item = json_object();
    json_object_set_new(item, "id", json_stringn("a\0b", 3));
    act_fails(item, "id contains a NUL character");
    json_decref(item);
}

Test(as2_activity, invalid_times_name_the_field_and_reason)
{
    act_fails_text("{\"id\":\"a\",\"published\":\"2015-13-01T00:00:00Z\"}",
                   "published '2015-13-01T00:00:00Z': month out of range");
    act_fails_text("{\"id\":\"a\",\"published\":\"yesterday\"}",
                   "published 'yesterday': expected a 4-digit year");
    act_fails_text("{\"id\":\"a\",\"updated\":\"2015-01-01\"}",
                   "updated '2015-01-01': expected 'T' between date and time");
    act_fails_text("{\"id\":\"a\",\"published\":1449923640}", "published is a number, not a string");
    act_fails_text("{\"id\":\"a\",\"updated\":{}}", "updated is an object, not a string");
    /* updated is checked even when a valid published is what gets used */
    act_fails_text("{\"id\":\"a\",\"published\":\"2015-12-12T12:34Z\",\"updated\":\"2015-12-12T25:00Z\"}",
                   "updated '2015-12-12T25:00Z': hour out of range");
}

Test(as2_activity, time_source_precedence)
{
    json_t *j = parse("{\"id\":\"a\",\"published\":\"2015-12-12T12:34Z\",\"updated\":\"2016-01-01T00:00Z\"}");
    as2_activity_t a = act_ok(j);
    cr_assert_eq(a.time_source, AS2_TIME_PUBLISHED);
    cr_assert_eq(a.published_us, 1449923640 * S);
    json_decref(j);

    j = parse("{\"id\":\"a\",\"published\":null,\"updated\":\"2015-12-12T12:34:00.123456789+00:00\"}");
    a = act_ok(j);
    cr_assert_eq(a.time_source, AS2_TIME_UPDATED, "null published counts as absent");
    cr_assert_eq(a.published_us, 1449923640 * S + 123456);
    json_decref(j);

    j = parse("{\"id\":\"a\",\"updated\":null}");
    a = act_ok(j);
    cr_assert_eq(a.time_source, AS2_TIME_INGEST);
    cr_assert_eq(a.published_us, INGEST);
    json_decref(j);
}

Test(as2_activity, types_keep_strings_up_to_the_limit)
{
    json_t *j = parse("{\"id\":\"a\",\"type\":[1,\"T0\",null,\"T1\",{},\"T2\",\"T3\",\"T4\","
                      "\"T5\",\"T6\",\"T7\",\"T8\",\"T9\"]}");
    as2_activity_t a = act_ok(j);
    cr_assert_eq(a.ntypes, AS2_MAX_TYPES);
    for (size_t i = 0; i < AS2_MAX_TYPES; i++) {
        char want[8];
        snprintf(want, sizeof want, "T%zu", i);
        cr_assert_str_eq(a.types[i], want);
    }
    json_decref(j);
    j = parse("{\"id\":\"a\",\"type\":42}");
    cr_assert_eq(act_ok(j).ntypes, 0, "a non-string type is ignored");
    json_decref(j);
    j = parse("{\"id\":\"a\",\"type\":[]}");
    cr_assert_eq(act_ok(j).ntypes, 0);
    json_decref(j);
}

typedef struct {
    const char *json;
    const char *actor; /* NULL: none */
} actor_case_t;

Test(as2_activity, actor_forms)
{
    static const actor_case_t cases[] = {
        {"{\"id\":\"a\",\"actor\":\"http://u/1\"}", "http://u/1"},
        {"{\"id\":\"a\",\"actor\":{\"type\":\"Person\",\"id\":\"http://u/2\"}}", "http://u/2"},
        {"{\"id\":\"a\",\"actor\":{\"type\":\"Person\",\"name\":\"Sally\"}}", NULL},
        /* an array of actors: the first element's id */
        {"{\"id\":\"a\",\"actor\":[{\"id\":\"http://u/3\"},\"http://u/4\"]}", "http://u/3"},
        {"{\"id\":\"a\",\"actor\":[\"http://u/5\",{\"id\":\"http://u/6\"}]}", "http://u/5"},
        {"{\"id\":\"a\",\"actor\":[]}", NULL},
        {"{\"id\":\"a\",\"actor\":[[\"http://u/7\"]]}", NULL},
        {"{\"id\":\"a\",\"actor\":\"\"}", NULL},
        {"{\"id\":\"a\",\"actor\":5}", NULL},
        {"{\"id\":\"a\",\"actor\":{\"id\":5}}", NULL},
        {"{\"id\":\"a\",\"actor\":null}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = parse(cases[i].json);
        as2_activity_t a = act_ok(j);
        if (cases[i].actor)
            cr_expect_str_eq(a.actor ? a.actor : "(null)", cases[i].actor, "%s", cases[i].json);
        else
            cr_expect_null(a.actor, "%s", cases[i].json);
        json_decref(j);
    }
}

Test(as2_activity, failure_clears_output)
{
    json_t *j = parse("{\"id\":\"a\",\"type\":\"Create\",\"actor\":\"u\",\"published\":\"bad\"}");
    as2_activity_t a;
    memset(&a, 0x5a, sizeof a);
    cr_assert_eq(as2_read_activity(j, INGEST, &a, NULL, 0), -1);
    cr_assert_null(a.id);
    cr_assert_null(a.actor);
    cr_assert_eq(a.ntypes, 0);
    json_decref(j);
}

/* ---- never crash: random JSON built from the vocabulary the reader looks at ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static json_t *random_json(int depth)
{
    static const char *const keys[] = {"orderedItems", "items", "next", "prev", "first", "last",
                                       "id", "href", "type", "actor", "published", "updated"};
    static const char *const strs[] = {"", "Link", "CollectionPage", "OrderedCollectionPage",
                                       "http://x/1", "2015-12-12T12:34Z", "2015-13-12T12:34Z",
                                       "Create"};
    unsigned kind = depth > 3 ? rnd(5) : rnd(7);
    switch (kind) {
    case 0: return json_null();
    case 1: return json_integer((json_int_t)rnd(100) - 50);
    case 2: return json_real(1.5);
    case 3: return json_boolean(rnd(2));
    case 4: return json_string(strs[rnd(8)]);
    case 5: {
        json_t *a = json_array();
        for (unsigned i = rnd(4); i > 0; i--)
            json_array_append_new(a, random_json(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = rnd(6); i > 0; i--)
            json_object_set_new(o, keys[rnd(12)], random_json(depth + 1));
        return o;
    }
    }
}

Test(as2_robust, random_documents_never_crash)
{
    for (int n = 0; n < 20000; n++) {
        json_t *doc = random_json(0);
        as2_page_t p;
        char err[128];
        err[0] = '\0';
        int rc = as2_read_page(doc, &p, err, sizeof err);
        cr_assert(rc == 0 || (rc == -1 && err[0] != '\0'));
        for (size_t i = 0; rc == 0 && i < p.nitems; i++) {
            as2_activity_t a;
            err[0] = '\0';
            int arc = as2_read_activity(as2_page_item(&p, i), INGEST, &a, err, sizeof err);
            cr_assert(arc == 0 || (arc == -1 && err[0] != '\0'));
            cr_assert(arc != 0 || (a.id && a.id[0] && a.ntypes <= AS2_MAX_TYPES));
        }
        as2_activity_t a;
        err[0] = '\0';
        rc = as2_read_activity(doc, INGEST, &a, err, sizeof err);
        cr_assert(rc == 0 || (rc == -1 && err[0] != '\0'));
        json_decref(doc);
    }
}

/* ---- content round trip through jansson (what the store keeps and the stream sends) ---- */

static char *roundtrip_dump(const char *name, json_t **out)
{
    size_t len;
    char *bytes = slurp(name, &len);
    json_error_t jerr;
    json_t *j = json_loadb(bytes, len, 0, &jerr);
    cr_assert_not_null(j, "%s: %s", name, jerr.text);
    free(bytes);
    char *dump = json_dumps(j, JSON_COMPACT);
    cr_assert_not_null(dump);
    json_t *again = json_loads(dump, 0, &jerr);
    cr_assert_not_null(again, "%s: %s", name, jerr.text);
    cr_assert(json_equal(j, again), "%s changed in the round trip", name);
    json_decref(again);
    *out = j;
    return dump;
}

Test(as2_content, every_valid_fixture_round_trips)
{
    static const char *const names[] = {
        "dit_activity_stream_empty.json", "dit_activity_stream_multipage_1.json",
        "dit_activity_stream_multipage_2.json", "dit_permissions_1_missing-fields.json",
        "dit_verification_feed_lastpage_generated.json",
        "dit_verification_feed_page_generated.json",
        "fedify-fixture_orderedcollectionpage_selfpartof.json",
        "fedify-fixture_paged-collection.json", "fedify-fixture_paged_a_dup-id.json",
        "fedify-fixture_paged_b_dup-id.json", "w3c_core-ex21b_collection-first-page.json",
        "w3c_core-ex22_orderedcollection-inline.json",
        "w3c_core-ex27_collection-create-update-delete.json",
        "w3c_simple0025_published-no-seconds.json", "w3c_vocab-ex104_page-prev-url-items.json",
        "w3c_vocab-ex133_namemap-cjk.json", "w3c_vocab-ex13_delete.json",
        "w3c_vocab-ex184_oc-tombstone-nocontext.json", "w3c_vocab-ex185b_tombstone-noid.json",
        "w3c_vocab-ex56_event-tz-offset.json", "w3c_vocab-ex6c_orderedcollectionpage.json",
        "w3c_vocab-ex97_page-next-as-link.json",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *j;
        char *dump = roundtrip_dump(names[i], &j);
        cr_assert_eq(strchr(dump, '\n'), NULL, "%s: compact dump", names[i]);
        free(dump);
        json_decref(j);
    }
}

Test(as2_content, dump_keeps_source_key_order_and_utf8)
{
    json_t *j;
    char *dump = roundtrip_dump("w3c_vocab-ex133_namemap-cjk.json", &j);
    cr_assert_str_eq(dump, "{\"@context\":\"https://www.w3.org/ns/activitystreams\","
                           "\"type\":\"Note\",\"nameMap\":{\"en\":\"A simple note\","
                           "\"es\":\"Una nota sencilla\","
                           "\"zh-Hans\":\"\xe4\xb8\x80\xe6\xae\xb5\xe7\xae\x80\xe5\x8d\x95"
                           "\xe7\x9a\x84\xe7\xac\x94\xe8\xae\xb0\"}}");
    cr_assert_null(strstr(dump, "\\u"), "CJK must not be escaped");
    free(dump);
    json_decref(j);

    /* not alphabetical: type before name before startTime before endTime */
    dump = roundtrip_dump("w3c_vocab-ex56_event-tz-offset.json", &j);
    cr_assert_str_eq(dump, "{\"@context\":\"https://www.w3.org/ns/activitystreams\","
                           "\"type\":\"Event\",\"name\":\"A Party!\","
                           "\"startTime\":\"2014-12-31T23:00:00-08:00\","
                           "\"endTime\":\"2015-01-01T06:00:00-08:00\"}");
    free(dump);
    json_decref(j);
}

Test(as2_content, sixty_four_bit_integers_are_exact)
{
    const char *src = "{\"id\":\"a\",\"n\":9007199254740993,\"min\":-9223372036854775808,"
                      "\"max\":9223372036854775807}";
    json_error_t jerr;
    json_t *j = json_loadb(src, strlen(src), 0, &jerr);
    cr_assert_not_null(j, "%s", jerr.text);
    cr_assert_eq(json_integer_value(json_object_get(j, "n")), INT64_C(9007199254740993));
    cr_assert_eq(json_integer_value(json_object_get(j, "min")), INT64_MIN);
    char *dump = json_dumps(j, JSON_COMPACT);
    cr_assert_str_eq(dump, src);
    json_t *again = json_loads(dump, 0, &jerr);
    cr_assert(json_equal(j, again));
    free(dump);
    json_decref(again);
    json_decref(j);
    /* beyond int64 jansson refuses rather than wrapping or rounding */
    cr_assert_null(json_loads("{\"n\":9223372036854775808}", 0, &jerr));
    cr_assert(strstr(jerr.text, "too big") != NULL, "%s", jerr.text);
}
