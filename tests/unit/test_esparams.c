/* test_esparams.c -- URL parameters of the Elasticsearch API: decoding, what each operation
 * takes (honoured, accepted, refused, unknown, q), booleans and time values, and the search
 * parameters merged into a body. */
#include "esops.h"
#include "esparams.h"
#include <criterion/criterion.h>
#include <string.h>

static int parse(int op, const char *qs, esparams_t *p, char *err, size_t errlen)
{
    return esparams_parse(op, "/x/_search", qs, strlen(qs), p, err, errlen);
}

Test(esparams, decodes_and_finds_values)
{
    esparams_t p;
    char err[256];
    cr_assert_eq(parse(ESOP_SEARCH, "size=5&sort=published%3Adesc&_source=id,actor.id&pretty&from=", &p, err,
                       sizeof err), 0, "%s", err);
    cr_expect_str_eq(esparams_get(&p, "size"), "5");
    cr_expect_str_eq(esparams_get(&p, "sort"), "published:desc");
    cr_expect_str_eq(esparams_get(&p, "_source"), "id,actor.id");
    cr_expect_str_eq(esparams_get(&p, "pretty"), "");
    cr_expect_str_eq(esparams_get(&p, "from"), "");
    cr_expect_null(esparams_get(&p, "scroll"));
    bool b;
    cr_expect_eq(esparams_bool(&p, "pretty", false, &b, err, sizeof err), 0);
    cr_expect(b);
    esparams_free(&p);
    cr_assert_eq(parse(ESOP_SEARCH, "size=1&size=2&track_total_hits=false", &p, err, sizeof err), 0);
    cr_expect_str_eq(esparams_get(&p, "size"), "2", "the last one wins");
    cr_expect_eq(esparams_bool(&p, "track_total_hits", true, &b, err, sizeof err), 0);
    cr_expect(!b);
    esparams_free(&p);
    cr_assert_eq(parse(ESOP_SEARCH, "pretty=yes", &p, err, sizeof err), 0);
    cr_expect_eq(esparams_bool(&p, "pretty", false, &b, err, sizeof err), ESPARAMS_ERR_INVALID);
    cr_expect(strstr(err, "only [true] or [false]"));
    esparams_free(&p);
    cr_expect_eq(parse(ESOP_SEARCH, "", &p, err, sizeof err), 0);
    esparams_free(&p);
    cr_expect_eq(esparams_parse(ESOP_SEARCH, "/_search", NULL, 0, &p, err, sizeof err), 0);
    esparams_free(&p);
}

Test(esparams, refuses_what_it_does_not_take)
{
    esparams_t p;
    char err[256];
    cr_expect_eq(parse(ESOP_SEARCH, "foo=1", &p, err, sizeof err), ESPARAMS_ERR_INVALID);
    cr_expect_str_eq(err, "request [/x/_search] contains unrecognized parameter: [foo]");
    cr_expect_eq(parse(ESOP_SEARCH, "q=type:Create", &p, err, sizeof err), ESPARAMS_ERR_INVALID);
    cr_expect(strstr(err, "Lucene query strings are not supported"), "%s", err);
    cr_expect_eq(parse(ESOP_COUNT, "q=x", &p, err, sizeof err), ESPARAMS_ERR_INVALID);
    cr_expect_eq(parse(ESOP_SEARCH, "typed_keys=true", &p, err, sizeof err), ESPARAMS_ERR_INVALID);
    cr_expect(strstr(err, "unsupported parameter: [typed_keys]"), "%s", err);
    cr_expect_eq(parse(ESOP_SEARCH, "df=content", &p, err, sizeof err), ESPARAMS_ERR_INVALID);
    cr_expect_eq(parse(ESOP_DOC, "size=1", &p, err, sizeof err), ESPARAMS_ERR_INVALID, "not a _doc parameter");
    cr_expect_eq(parse(ESOP_SEARCH, "a%zz=1", &p, err, sizeof err), ESPARAMS_ERR_INVALID);
    cr_expect(strstr(err, "malformed escape"), "%s", err);
    /* accepted everywhere, or where they belong */
    cr_expect_eq(parse(ESOP_SEARCH, "preference=_local&routing=a&request_cache=true&timeout=1s&error_trace=true"
                       "&human=true&filter_path=hits&ignore_unavailable=true&expand_wildcards=open", &p, err, sizeof err),
                 0, "%s", err);
    esparams_free(&p);
    cr_expect_eq(parse(ESOP_PIT_OPEN, "keep_alive=1m&ignore_unavailable=true", &p, err, sizeof err), 0);
    esparams_free(&p);
    cr_expect_eq(parse(ESOP_SCROLL, "scroll=1m&rest_total_hits_as_int=true", &p, err, sizeof err), 0);
    esparams_free(&p);
    cr_expect_eq(parse(ESOP_CAT_INDICES, "format=json&v&h=index,dc&s=index:desc&bytes=b", &p, err, sizeof err), 0);
    esparams_free(&p);
    cr_expect_eq(parse(ESOP_DOC, "_source_includes=a&realtime=false", &p, err, sizeof err), 0);
    esparams_free(&p);
}

Test(esparams, time_values)
{
    int64_t ms;
    char err[256];
    cr_expect_eq(esparams_time("keep_alive", "1m", &ms, err, sizeof err), 0);
    cr_expect_eq(ms, 60000);
    cr_expect_eq(esparams_time("keep_alive", "500ms", &ms, err, sizeof err), 0);
    cr_expect_eq(ms, 500);
    cr_expect_eq(esparams_time("keep_alive", NULL, &ms, err, sizeof err), 0);
    cr_expect_eq(ms, 0);
    cr_expect_eq(esparams_time("scroll", "soon", &ms, err, sizeof err), ESPARAMS_ERR_INVALID);
    cr_expect(strstr(err, "[scroll] with value [soon]"), "%s", err);
}

/* The body after merging `qs` into `body_text`, as compact JSON with sorted keys. */
static const char *merged(const char *qs, const char *body_text)
{
    static char out[1024];
    esparams_t p;
    char err[256];
    cr_assert_eq(parse(ESOP_SEARCH, qs, &p, err, sizeof err), 0, "%s", err);
    json_t *body = json_loads(body_text, 0, NULL);
    cr_assert_not_null(body);
    if (esparams_apply_search(&p, body, err, sizeof err) < 0) {
        snprintf(out, sizeof out, "error: %s", err);
    } else {
        char *t = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(out, sizeof out, "%s", t);
        free(t);
    }
    json_decref(body);
    esparams_free(&p);
    return out;
}

Test(esparams, search_parameters_merge_into_the_body)
{
    cr_expect_str_eq(merged("size=3&from=6", "{\"size\":1}"), "{\"from\":6,\"size\":3}");
    cr_expect_str_eq(merged("sort=published:desc", "{}"), "{\"sort\":[{\"published\":\"desc\"}]}");
    cr_expect_str_eq(merged("sort=published,_doc", "{}"), "{\"sort\":[\"published\",\"_doc\"]}");
    cr_expect_str_eq(merged("_source=false", "{}"), "{\"_source\":false}");
    cr_expect_str_eq(merged("_source=id,actor.*", "{}"), "{\"_source\":[\"id\",\"actor.*\"]}");
    cr_expect_str_eq(merged("_source_includes=a&_source_excludes=b,c", "{}"),
                     "{\"_source\":{\"excludes\":[\"b\",\"c\"],\"includes\":[\"a\"]}}");
    cr_expect_str_eq(merged("_source=x&_source_excludes=y", "{}"),
                     "{\"_source\":{\"excludes\":[\"y\"],\"includes\":[\"x\"]}}");
    cr_expect_str_eq(merged("track_total_hits=true", "{}"), "{\"track_total_hits\":true}");
    cr_expect_str_eq(merged("track_total_hits=100", "{}"), "{\"track_total_hits\":100}");
    cr_expect_str_eq(merged("", "{\"query\":{}}"), "{\"query\":{}}");
    cr_expect_str_eq(merged("size=ten", "{}"), "error: Failed to parse int parameter [size] with value [ten]");
    cr_expect_str_eq(merged("from=", "{}"), "error: Failed to parse int parameter [from] with value []");
}
