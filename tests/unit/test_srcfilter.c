/* test_srcfilter.c -- _source filtering on its own: every request form, includes and excludes
 * with globs through objects and arrays, bytes copied untouched without patterns, unparsable
 * activities, every parse error, and the hit object. (test_search.c checks it through _search.) */
#include "srcfilter.h"
#include <criterion/criterion.h>
#include <string.h>

static const char DOC[] = "{\"id\":\"a1\",  \"actor\":{\"id\":\"u1\",\"name\":\"Ann\"},\"object\":{\"type\":\"Note\","
                          "\"tag\":[{\"name\":\"x\",\"rank\":1},{\"rank\":2}]},\"published\":\"2024-01-01T00:00:00Z\"}";

static void expect_source(const char *request, const char *want)
{
    json_t *v = json_loads(request, JSON_DECODE_ANY, NULL);
    srcfilter_t f = {0};
    char err[256];
    bytebuf_t b = {0};
    cr_assert_eq(srcfilter_parse(&f, v, err, sizeof err), 0, "%s: %s", request, err);
    srcfilter_put(&b, &f, DOC, sizeof DOC - 1);
    cr_expect_str_eq(b.p, want, "%s", request);
    bytebuf_free(&b);
    srcfilter_free(&f);
    json_decref(v);
}

Test(srcfilter, request_forms_and_patterns)
{
    expect_source("true", DOC);   /* copied as stored, spaces and all */
    expect_source("\"actor.name\"", "{\"actor\":{\"name\":\"Ann\"}}");
    expect_source("[\"id\",\"object.type\"]", "{\"id\":\"a1\",\"object\":{\"type\":\"Note\"}}");
    expect_source("{\"includes\":\"*.id\"}", "{\"actor\":{\"id\":\"u1\"}}");
    expect_source("{\"include\":[\"actor\"],\"exclude\":\"actor.id\"}", "{\"actor\":{\"name\":\"Ann\"}}");
    expect_source("{\"excludes\":[\"object\",\"published\",\"a*\"]}", "{\"id\":\"a1\"}");
    expect_source("[\"object.tag.rank\"]", "{\"object\":{\"tag\":[{\"rank\":1},{\"rank\":2}]}}");
    expect_source("[\"object.tag.name\"]", "{\"object\":{\"tag\":[{\"name\":\"x\"}]}}");
    expect_source("[\"nothing\"]", "{}");
}

Test(srcfilter, unparsable_activity_is_null)
{
    json_t *v = json_loads("[\"id\"]", 0, NULL);
    srcfilter_t f = {0};
    bytebuf_t b = {0};
    cr_assert_eq(srcfilter_parse(&f, v, NULL, 0), 0);
    srcfilter_put(&b, &f, "{\"id\":", 6);
    cr_expect_str_eq(b.p, "null");
    bytebuf_free(&b);
    srcfilter_free(&f);
    json_decref(v);
}

Test(srcfilter, parse_errors)
{
    static const struct { const char *req, *err; } bad[] = {
        {"5", "[_source] must be true, false, a pattern, a list of patterns or {\"includes\": [...], \"excludes\": [...]}"},
        {"[1]", "[_source.includes] must be a string or an array of strings"},
        {"{\"excludes\":{}}", "[_source.excludes] must be a string or an array of strings"},
        {"{\"fields\":[\"a\"]}", "unknown key [fields] in [_source]; supported: includes, excludes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *v = json_loads(bad[i].req, JSON_DECODE_ANY, NULL);
        srcfilter_t f = {0};
        char err[256] = "";
        cr_expect_eq(srcfilter_parse(&f, v, err, sizeof err), -1, "%s", bad[i].req);
        cr_expect_str_eq(err, bad[i].err);
        srcfilter_free(&f);
        json_decref(v);
    }
}

Test(srcfilter, hit_object)
{
    srcfilter_t f = {0};
    bytebuf_t b = {0};
    srcfilter_hit_t h = {"f\"1", 3, "a1", 2, "{\"id\":\"a1\"}", 11, INT64_C(1704067200000000)};
    srcfilter_put_hit(&b, &f, &h, true);
    cr_expect_str_eq(b.p, "{\"_index\":\"f\\\"1\",\"_id\":\"a1\",\"_score\":1.0,\"_source\":{\"id\":\"a1\"},"
                          "\"sort\":[1704067200000,\"a1\",\"f\\\"1\"]}");
    bytebuf_clear(&b);
    f.none = true;
    srcfilter_put_hit(&b, &f, &h, false);
    cr_expect_str_eq(b.p, "{\"_index\":\"f\\\"1\",\"_id\":\"a1\",\"_score\":null,\"sort\":[1704067200000,\"a1\",\"f\\\"1\"]}");
    bytebuf_free(&b);
}

Test(srcfilter, milliseconds_round_down)
{
    cr_expect_eq(srcfilter_ms(INT64_C(1704067200123999)), INT64_C(1704067200123));
    cr_expect_eq(srcfilter_ms(0), 0);
    cr_expect_eq(srcfilter_ms(999), 0);
    cr_expect_eq(srcfilter_ms(-1), -1);
    cr_expect_eq(srcfilter_ms(-1000), -1);
    cr_expect_eq(srcfilter_ms(-1001), -2);
    cr_expect_eq(srcfilter_ms(INT64_MIN), INT64_MIN / 1000 - 1);
}
