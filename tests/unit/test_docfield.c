/* test_docfield.c -- field names and the values they read: the stored columns and their
 * aliases, dotted paths through objects, arrays and dotted keys, ".keyword", the type of each
 * value, invalid names, one doc reading many records (its heap tape reused), numbers and dates.
 * (The query engine's tests exercise the same walk through every clause.) */
#include "docfield.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static docfield_t field(const char *name)
{
    docfield_t f = {0};
    char err[128];
    cr_assert_eq(docfield_compile(name, &f, err, sizeof err), 0, "%s: %s", name, err);
    return f;
}

/* The values of `name` in rec, as "<type>:<text>" joined by spaces. */
static bool collect(docfield_doc_t *d, const docfield_val_t *v, void *ud)
{
    static const char *const tn[] = {"s", "n", "b", "null", "obj", "date"};
    char *out = ud, buf[128];
    if (v->type == DOCFIELD_V_BOOL)
        snprintf(buf, sizeof buf, "b:%d", v->b);
    else if (v->type == DOCFIELD_V_DATE)
        snprintf(buf, sizeof buf, "date:%lld", (long long)v->us);
    else if (v->type == DOCFIELD_V_STR || v->type == DOCFIELD_V_NUM)
        snprintf(buf, sizeof buf, "%s:%.*s", tn[v->type], (int)v->s.n, v->s.p);
    else
        snprintf(buf, sizeof buf, "%s", tn[v->type]);
    size_t n = strlen(out);
    snprintf(out + n, 512 - n, "%s%s", n ? " " : "", buf);
    return false;
}

static void expect_values(const char *name, const store_rec_t *rec, const char *want)
{
    docfield_t f = field(name);
    docfield_doc_t d;
    char got[512] = "";
    docfield_doc_init(&d, rec);
    docfield_each(&f, &d, collect, got);
    cr_expect_str_eq(got, want, "%s", name);
    docfield_doc_release(&d);
    docfield_free(&f);
}

static const char DOC[] =
    "{\"id\":\"x\",\"actor\":{\"id\":\"u1\",\"name\":\"A\\u00e9\"},\"object\":[{\"type\":\"Note\",\"n\":5},"
    "{\"type\":\"Image\",\"n\":[1,[2.5]],\"ok\":true}],\"meta.source\":\"api\",\"meta\":{\"x\":null},"
    "\"when\":\"2024-01-01T00:00:00Z\"}";

static store_rec_t record(void)
{
    return (store_rec_t){.published_us = 42, .feed = "f1", .feed_len = 2, .id = "x", .id_len = 1,
                         .types = "Create\x1f" "Announce", .types_len = 15, .actor = "u1", .actor_len = 2,
                         .json = DOC, .json_len = sizeof DOC - 1};
}

/* field name -> its values in record() */
static const struct { const char *name, *values; } VALUES[] = {
    /* the stored columns and their aliases */
    {"feed", "s:f1"}, {"_index", "s:f1"}, {"type", "s:Create s:Announce"},
    {"type.keyword", "s:Create s:Announce"}, {"actor", "s:u1"}, {"actor.id", "s:u1"}, {"_id", "s:x"},
    {"published", "date:42"},
    /* JSON paths: arrays of objects, nested arrays, escapes, dotted keys, objects, null */
    {"object.type", "s:Note s:Image"}, {"object.n", "n:5 n:1 n:2.5"}, {"object.ok", "b:1"},
    {"object.ok.keyword", ""}, {"actor.name", "s:A\xc3\xa9"}, {"meta.source", "s:api"},
    {"meta", "obj obj"}, {"meta.x", "null"}, {"published.keyword", ""},
    {"when", "s:2024-01-01T00:00:00Z"}, {"nothing.here", ""},
};

Test(docfield, values_of_columns_and_json_paths)
{
    store_rec_t r = record();
    for (size_t i = 0; i < sizeof VALUES / sizeof VALUES[0]; i++)
        expect_values(VALUES[i].name, &r, VALUES[i].values);
    r.actor_len = 0;
    expect_values("actor", &r, "");
}

Test(docfield, names_and_kinds)
{
    docfield_t f = field("object.type.keyword");
    cr_expect_eq(f.kind, DOCFIELD_JSON);
    cr_expect(f.keyword);
    cr_expect_str_eq(f.path, "object.type");
    cr_expect(docfield_is_keyword(&f));
    docfield_free(&f);
    f = field("published");
    cr_expect(docfield_is_date(&f) && !docfield_is_keyword(&f));
    docfield_free(&f);
    f = field("object.n");
    cr_expect(!docfield_is_date(&f) && !docfield_is_keyword(&f));
    docfield_free(&f);
    static const struct { const char *name, *err; } bad[] = {
        {"", "invalid field name (empty or longer than 1024 bytes)"},
        {"a*", "wildcards in field names are not supported"},
        {"a..b", "invalid field name (empty path segment)"},
        {".a", "invalid field name (empty path segment)"},
        {"a.", "invalid field name (empty path segment)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        docfield_t g = {0};
        char err[128];
        cr_expect_eq(docfield_compile(bad[i].name, &g, err, sizeof err), DOCFIELD_ERR_INVALID);
        cr_expect_str_eq(err, bad[i].err);
        cr_expect_null(g.path);
    }
}

/* One doc, many records: each parsed once, a big one on the heap, then small ones again. */
Test(docfield, one_doc_reads_many_records)
{
    size_t cap = 200000;
    char *big = malloc(cap);
    size_t w = (size_t)snprintf(big, cap, "{\"n\":[");
    for (int i = 0; i < 5000; i++)
        w += (size_t)snprintf(big + w, cap - w, "%s%d", i ? "," : "", i);
    w += (size_t)snprintf(big + w, cap - w, "],\"last\":\"yes\"}");
    store_rec_t small = {.json = "{\"last\":\"no\"}", .json_len = 13}, large = {.json = big, .json_len = w},
                broken = {.json = "{\"last\":", .json_len = 8};
    docfield_t f = field("last");
    docfield_doc_t d;
    char got[512] = "";
    docfield_doc_init(&d, &small);
    const store_rec_t *seq[] = {&small, &large, &broken, &small};
    for (size_t i = 0; i < 4; i++) {
        docfield_doc_reset(&d, seq[i]);
        docfield_each(&f, &d, collect, got);
        cr_expect_eq(docfield_doc_ready(&d), seq[i] != &broken);
    }
    cr_expect_str_eq(got, "s:no s:yes s:no");
    docfield_doc_release(&d);
    docfield_free(&f);
    free(big);
}

Test(docfield, numbers_and_dates)
{
    docfield_num_t n;
    cr_expect(docfield_num_parse("5", 1, &n) && n.is_int && n.i == 5);
    cr_expect(docfield_num_parse("-2.5e3", 6, &n) && !n.is_int && n.d == -2500.0);
    cr_expect(docfield_num_parse("99999999999999999999", 20, &n) && !n.is_int);
    cr_expect(!docfield_num_parse("5 ", 2, &n));
    cr_expect(!docfield_num_parse("", 0, &n));
    cr_expect(!docfield_num_parse("0x10", 4, &n));
    docfield_num_t a = {true, 3, 3.0}, b = {false, 0, 2.5};
    cr_expect_eq(docfield_num_cmp(&a, &b), 1);
    cr_expect_eq(docfield_num_cmp(&b, &a), -1);
    docfield_t f = field("when"), k = field("when.keyword");
    int64_t us;
    docfield_str_t s = {"2024-01-01T01:00:00+01:00", 25};
    cr_expect(docfield_str_date(&f, &s, &us) && us == INT64_C(1704067200000000));
    cr_expect(!docfield_str_date(&k, &s, &us));
    s = (docfield_str_t){"soon", 4};
    cr_expect(!docfield_str_date(&f, &s, &us));
    docfield_free(&f);
    docfield_free(&k);
}
