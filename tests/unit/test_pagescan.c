/* test_pagescan.c -- the ingest's page scanner: accepts exactly what jansson accepts, items
 * come out minified and equal to jansson's reading, stand-ins read like the whole items,
 * envelopes replace items by their index. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "as2.h"
#include "pagescan.h"

static int jansson_accepts(const char *buf, size_t len)
{
    json_t *j = json_loadb(buf, len, 0, NULL);
    json_decref(j);
    return j != NULL;
}

static void assert_parity(pagescan_t *ps, const char *buf, size_t len)
{
    int rc = pagescan_run(ps, buf, len);
    cr_assert_neq(rc, PAGESCAN_NOMEM);
    int j = jansson_accepts(buf, len);
    cr_assert_eq(rc == PAGESCAN_OK, j, "pagescan %s, jansson %s: '%.*s' (%s)",
                 rc == PAGESCAN_OK ? "accepts" : "refuses", j ? "accepts" : "refuses",
                 (int)(len > 200 ? 200 : len), buf, ps->err);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static const char *fixtures(void)
{
    const char *f = getenv("AS_FIXTURES");
    return f && *f ? f : "tests/fixtures";
}

Test(pagescan, accepts_exactly_what_jansson_accepts)
{
    static const char *const docs[] = {
        "{}", "[]", " { } ", "{\"a\":1}", "[1,2,3]", "{\"a\":[true,false,null]}",
        "", " ", "1", "\"s\"", "null", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]",
        "[,1]", "{1:2}", "{\"a\":1 \"b\":2}", "[1 2]", "{\"a\":1}x", "{\"a\":1} {}",
        "[01]", "[-0]", "[0.5]", "[-]", "[1.]", "[.5]", "[1e5]", "[1E+5]", "[1e-5]", "[1e]",
        "[1e+]", "[+1]", "[0x10]", "[1.5e3]", "[-12.5E-3]",
        "[9223372036854775807]", "[9223372036854775808]", "[-9223372036854775808]",
        "[-9223372036854775809]", "[123456789012345678901234567890]", "[1e308]", "[1e309]",
        "[-1e309]", "[1e-400]", "[1.0e400]",
        "[true]", "[truex]", "[tru]", "[nul]", "[nulll]", "[True]", "[false1]",
        "[\"a\\\"b\"]", "[\"\\\\\"]", "[\"\\/\"]", "[\"\\b\\f\\n\\r\\t\"]", "[\"\\x\"]",
        "[\"\\u00e9\"]", "[\"\\u00E9\"]", "[\"\\u00g9\"]", "[\"\\u12\"]", "[\"\\u0000\"]",
        "[\"\\ud83d\\ude00\"]", "[\"\\ud83d\"]", "[\"\\ud83dx\"]", "[\"\\ude00\"]",
        "[\"\\ud83d\\u0041\"]", "[\"a\tb\"]", "[\"a\nb\"]", "[\"a\x01\"]", "[\"a\x7f\"]",
        "[\"caf\xc3\xa9\"]", "[\"\xc3\"]", "[\"\xc3\x28\"]", "[\"\xc0\xaf\"]", "[\"\xe0\x80\xaf\"]",
        "[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]", "[\"\xf0\x9f\x98\x80\"]", "[\"\xff\"]",
        "[\"\xe2\x82\xac\"]", "[\"\xe2\x82\"]", "[\"unterminated]", "{\"a\":\"b}",
        "\xef\xbb\xbf{}", "{\"\":1}", "{\"a\":1,\"a\":2}",
    };
    pagescan_t ps;
    pagescan_init(&ps);
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        assert_parity(&ps, docs[i], strlen(docs[i]));
    assert_parity(&ps, "[\"a\0b\"]", 7);
    assert_parity(&ps, "{}\0", 3);
    pagescan_free(&ps);
}

/* The one documented difference (pagescan.h): jansson skips a NUL byte right after a number or
 * a literal; pagescan refuses it, at that byte. */
Test(pagescan, a_nul_after_a_number_or_literal_is_refused_though_jansson_skips_it)
{
    static const struct { const char *doc; size_t len, pos; } cases[] = {
        {"[1\0]", 4, 2}, {"[true\0]", 7, 5}, {"{\"a\":-1.5e3\0}", 13, 11},
    };
    pagescan_t ps;
    pagescan_init(&ps);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert(jansson_accepts(cases[i].doc, cases[i].len), "case %zu: jansson's quirk", i);
        cr_assert_eq(pagescan_run(&ps, cases[i].doc, cases[i].len), PAGESCAN_INVALID, "case %zu", i);
        cr_assert_eq(ps.err_pos, cases[i].pos, "case %zu: %s at %zu", i, ps.err, ps.err_pos);
    }
    pagescan_free(&ps);
}

Test(pagescan, nesting_limit_matches_jansson)
{
    pagescan_t ps;
    pagescan_init(&ps);
    for (int depth = 2047; depth <= 2050; depth++) {
        char *buf = malloc((size_t)depth * 2 + 1);
        memset(buf, '[', (size_t)depth);
        memset(buf + depth, ']', (size_t)depth);
        assert_parity(&ps, buf, (size_t)depth * 2);
        free(buf);
    }
    pagescan_free(&ps);
}

/* Deterministic mutations of a real page: flips, cuts, insertions. */
Test(pagescan, mutated_pages_keep_parity)
{
    static const char inserts[] = "{}[]\",:\\ u0\xc3\xa9\xff\x01-.eE1";
    char path[512];
    size_t len;
    snprintf(path, sizeof path, "%s/as2/w3c_core-ex21b_collection-first-page.json", fixtures());
    char *orig = read_file(path, &len);
    char *buf = malloc(len + 8);
    pagescan_t ps;
    pagescan_init(&ps);
    uint64_t x = 88172645463325252ull;
    for (int round = 0; round < 4000; round++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(buf, orig, len);
        size_t n = len, at = (size_t)(x % len);
        switch ((x >> 32) % 3) {
        case 0: buf[at] = inserts[(x >> 40) % (sizeof inserts - 1)]; break;
        case 1: n = at; break;
        default:
            memmove(buf + at + 1, buf + at, len - at);
            buf[at] = inserts[(x >> 40) % (sizeof inserts - 1)];
            n = len + 1;
        }
        assert_parity(&ps, buf, n);
    }
    pagescan_free(&ps);
    free(buf);
    free(orig);
}

/* Item i of the envelope's page, as the stand-in index. */
static size_t index_of(const as2_page_t *p, size_t i)
{
    json_t *v = as2_page_item(p, i);
    cr_assert(json_is_integer(v), "the envelope holds an index for item %zu", i);
    return (size_t)json_integer_value(v);
}

static void assert_same_activity(json_t *full, json_t *standin, const char *what)
{
    as2_activity_t a, b;
    char ea[200] = "", eb[200] = "";
    int ra = as2_read_activity(full, 42, &a, ea, sizeof ea);
    int rb = as2_read_activity(standin, 42, &b, eb, sizeof eb);
    cr_assert_eq(ra, rb, "%s: %s / %s", what, ea, eb);
    if (ra < 0) {
        cr_assert_str_eq(ea, eb, "%s", what);
        return;
    }
    cr_assert_str_eq(a.id, b.id, "%s", what);
    cr_assert_eq(a.published_us, b.published_us, "%s", what);
    cr_assert_eq(a.time_source, b.time_source, "%s", what);
    cr_assert_eq(a.ntypes, b.ntypes, "%s", what);
    for (size_t t = 0; t < a.ntypes; t++)
        cr_assert_str_eq(a.types[t], b.types[t], "%s", what);
    cr_assert_eq(!a.actor, !b.actor, "%s", what);
    if (a.actor)
        cr_assert_str_eq(a.actor, b.actor, "%s", what);
}

/* For a document: the envelope reads as the document does (same links, same number of
 * items), each scanned item parses to the same value as jansson's item, and its stand-in
 * reads as the same activity. Follows embedded pages like the ingest does. */
static void check_document(pagescan_t *ps, const char *buf, size_t len, const char *name)
{
    json_t *full = json_loadb(buf, len, 0, NULL);
    if (!full) {
        cr_assert_eq(pagescan_run(ps, buf, len), PAGESCAN_INVALID, "%s", name);
        return;
    }
    cr_assert_eq(pagescan_run(ps, buf, len), PAGESCAN_OK, "%s: %s", name, ps->err);
    json_t *env = json_loadb(ps->env.p, ps->env.len, 0, NULL);
    cr_assert(env, "%s: the envelope is JSON", name);
    json_t *fcur = full, *ecur = env;
    for (int depth = 0; fcur && ecur && depth < 8; depth++) {
        as2_page_t fp, ep;
        char fe[200] = "", ee[200] = "";
        int fr = as2_read_page(fcur, &fp, fe, sizeof fe), er = as2_read_page(ecur, &ep, ee, sizeof ee);
        cr_assert_eq(fr, er, "%s: %s / %s", name, fe, ee);
        if (fr < 0)
            break;
        cr_assert_eq(fp.nitems, ep.nitems, "%s", name);
        cr_assert_eq(!as2_link_url(&fp.next), !as2_link_url(&ep.next), "%s", name);
        if (as2_link_url(&fp.next))
            cr_assert_str_eq(as2_link_url(&fp.next), as2_link_url(&ep.next), "%s", name);
        for (size_t i = 0; i < fp.nitems; i++) {
            size_t k = index_of(&ep, i);
            cr_assert(k < ps->nitems);
            const pagescan_item_t *it = &ps->item[k];
            json_t *mine = json_loadb(ps->items.p + it->json.off, it->json.len, JSON_DECODE_ANY, NULL);
            cr_assert(json_equal(mine, as2_page_item(&fp, i)), "%s: item %zu differs", name, i);
            for (size_t b = 0; b < it->json.len; b++) /* minified: no newline survives */
                cr_assert_neq(ps->items.p[it->json.off + b], '\n', "%s: item %zu", name, i);
            json_t *si = pagescan_standin(ps, k);
            cr_assert(si);
            assert_same_activity(as2_page_item(&fp, i), si, name);
            json_decref(si);
            json_decref(mine);
        }
        const as2_link_t *fl = fp.items || fp.next.url || fp.next.page ? &fp.next : &fp.first;
        const as2_link_t *el = ep.items || ep.next.url || ep.next.page ? &ep.next : &ep.first;
        fcur = fl->page;
        ecur = el->page;
        cr_assert_eq(!fcur, !ecur, "%s: embedded pages", name);
    }
    json_decref(env);
    json_decref(full);
}

static void check_dir(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert(d, "open %s", dir);
    pagescan_t ps;
    pagescan_init(&ps);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".json") != 0)
            continue;
        char path[1024];
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *buf = read_file(path, &len);
        check_document(&ps, buf, len, e->d_name);
        free(buf);
        n++;
    }
    closedir(d);
    pagescan_free(&ps);
    cr_assert(n > 5, "fixtures found in %s", dir);
}

Test(pagescan, fixtures_read_the_same_as_with_jansson)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/as2", fixtures());
    check_dir(dir);
    snprintf(dir, sizeof dir, "%s/as2/invalid", fixtures());
    check_dir(dir);
}

Test(pagescan, edge_documents_read_the_same_as_with_jansson)
{
    static const char *const docs[] = {
        /* single object items (GoToSocial), escaped member names, duplicates (last wins) */
        "{\"orderedItems\":{\"id\":\"a\",\"type\":\"Note\"}}",
        "{\"ordered\\u0049tems\":[{\"i\\u0064\":\"x\",\"published\":\"2024-01-01T00:00:00Z\"}]}",
        "{\"orderedItems\":[{\"id\":\"first\",\"id\":\"second\",\"actor\":\"a\",\"actor\":{\"id\":\"b\"}}]}",
        "{\"orderedItems\":[{\"id\":\"x\",\"actor\":{\"id\":\"a\",\"id\":\"b\"}}]}",
        "{\"orderedItems\":[{\"id\":\"x\",\"actor\":{\"name\":\"no id\"}}]}",
        "{\"orderedItems\":[{\"id\":\"x\",\"actor\":[{\"id\":\"arr\"},\"b\"]}]}",
        "{\"orderedItems\":[{\"id\":\"x\",\"actor\":{\"id\":\"a\"},\"actor\":\"plain\"}]}",
        "{\"orderedItems\":[{\"id\":\"x\",\"type\":[\"Create\",1,\"Note\"]}]}",
        "{\"orderedItems\":[{\"id\":\"caf\\u00e9\",\"published\":\"bad\"}]}",
        "{\"orderedItems\":[{\"id\":4}, \"bare-url\", 5, [1], null, {}]}",
        "{\"items\":[{\"id\":\"i\"}],\"orderedItems\":[{\"id\":\"o\"}]}",
        "{\"orderedItems\":[],\"next\":\"http://x/2\"}",
        "{\"orderedItems\":null}",
        "{\"orderedItems\":\"nope\"}",
        "{\"first\":{\"type\":\"OrderedCollectionPage\",\"orderedItems\":[{\"id\":\"e1\"}],"
        "\"next\":{\"orderedItems\":[{\"id\":\"e2\"}]}}}",
        "{\"orderedItems\":[{\"id\":\"nested\",\"object\":{\"orderedItems\":[{\"id\":\"inner\"}]}}]}",
        "  {\n  \"orderedItems\" : [ {\n \"id\" : \"spaced\" ,\n \"content\" : \"a  b\\n\" } ]\n}\n",
        "[{\"orderedItems\":[{\"id\":\"x\"}]}]",
    };
    pagescan_t ps;
    pagescan_init(&ps);
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        check_document(&ps, docs[i], strlen(docs[i]), docs[i]);
    pagescan_free(&ps);
}

Test(pagescan, items_are_minified_source_bytes)
{
    const char *doc = "{ \"orderedItems\" : [ { \"id\" : \"a b\" , \"n\" : [ 1 , 2.5e3 ] , "
                      "\"s\" : \"caf\\u00e9 \\\"q\\\"\" } ,\n\t\"url\" ] , \"next\" : \"n\" }";
    pagescan_t ps;
    pagescan_init(&ps);
    cr_assert_eq(pagescan_run(&ps, doc, strlen(doc)), PAGESCAN_OK);
    cr_assert_eq(ps.nitems, 2);
    cr_assert_eq(ps.item[0].json.len, strlen("{\"id\":\"a b\",\"n\":[1,2.5e3],\"s\":\"caf\\u00e9 \\\"q\\\"\"}"));
    cr_assert(memcmp(ps.items.p + ps.item[0].json.off,
                     "{\"id\":\"a b\",\"n\":[1,2.5e3],\"s\":\"caf\\u00e9 \\\"q\\\"\"}",
                     ps.item[0].json.len) == 0);
    cr_assert(memcmp(ps.items.p + ps.item[1].json.off, "\"url\"", 5) == 0);
    cr_assert_str_eq(ps.env.p, "{\"orderedItems\":[0,1],\"next\":\"n\"}");
    cr_assert(ps.item[0].is_object);
    cr_assert(!ps.item[1].is_object);
    pagescan_free(&ps);
}

Test(pagescan, single_object_items_become_a_one_element_array)
{
    const char *doc = "{\"orderedItems\":{\"id\":\"only\"},\"type\":\"OrderedCollectionPage\"}";
    pagescan_t ps;
    pagescan_init(&ps);
    cr_assert_eq(pagescan_run(&ps, doc, strlen(doc)), PAGESCAN_OK);
    cr_assert_str_eq(ps.env.p, "{\"orderedItems\":[0],\"type\":\"OrderedCollectionPage\"}");
    json_t *si = pagescan_standin(&ps, 0);
    cr_assert_str_eq(json_string_value(json_object_get(si, "id")), "only");
    json_decref(si);
    /* buffers are reused: a second, different run replaces everything */
    cr_assert_eq(pagescan_run(&ps, "[1]", 3), PAGESCAN_OK);
    cr_assert_eq(ps.nitems, 0);
    cr_assert_str_eq(ps.env.p, "[1]");
    pagescan_free(&ps);
    pagescan_free(NULL);
}

Test(pagescan, refusals_say_where)
{
    pagescan_t ps;
    pagescan_init(&ps);
    cr_assert_eq(pagescan_run(&ps, "{\"a\":[1,]}", 10), PAGESCAN_INVALID);
    cr_assert_eq(ps.err_pos, 8);
    cr_assert(ps.err[0]);
    cr_assert_eq(pagescan_run(&ps, "{\"orderedItems\":[{\"id\":\"\xff\"}]}", 30), PAGESCAN_INVALID);
    cr_assert(strstr(ps.err, "UTF-8"), "%s", ps.err);
    pagescan_free(&ps);
}
