/* test_jsontape.c -- the one-pass JSON tokenizer: token layout and subtree ends, string
 * decoding, numbers and literals, malformed input, deep nesting and growth past the inline
 * token array (ASan checks the heap array is freed), and the word-at-a-time string scan. */
#include "jsontape.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(jsontape_t *t, const char *s)
{
    jsontape_init(t);
    return jsontape_parse(t, s, strlen(s));
}

/* The decoded string token k, copied into out (NUL-terminated) for comparison. */
static size_t str_of(const jsontape_t *t, uint32_t k, char *out, size_t cap)
{
    jsontape_scratch_t sc = {.heap = NULL};
    const char *p;
    size_t n;
    cr_assert_eq(t->tok[k].type, JSONTAPE_STR, "token %u is not a string", k);
    cr_assert_eq(jsontape_str(t, k, &sc, &p, &n), 0);
    cr_assert_lt(n, cap);
    memcpy(out, p, n);
    out[n] = '\0';
    jsontape_scratch_release(&sc);
    return n;
}

static void expect_text(const jsontape_t *t, uint32_t k, const char *want)
{
    cr_expect_eq(t->tok[k].len, strlen(want), "token %u length", k);
    cr_expect(strncmp(t->s + t->tok[k].off, want, t->tok[k].len) == 0, "token %u text", k);
}

Test(jsontape, object_members_and_subtree_ends)
{
    jsontape_t t;
    cr_assert_eq(parse(&t, "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"x\"}}"), 0);
    static const int type[] = {JSONTAPE_OBJ, JSONTAPE_STR, JSONTAPE_NUM, JSONTAPE_STR, JSONTAPE_ARR,
                               JSONTAPE_TRUE, JSONTAPE_FALSE, JSONTAPE_NULL, JSONTAPE_STR,
                               JSONTAPE_OBJ, JSONTAPE_STR, JSONTAPE_STR};
    static const uint32_t end[] = {12, 2, 3, 4, 8, 6, 7, 8, 9, 12, 11, 12};
    static const int key[] = {0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0};
    cr_assert_eq(t.n, 12);
    for (uint32_t k = 0; k < t.n; k++) {
        cr_expect_eq(t.tok[k].type, type[k], "token %u type", k);
        cr_expect_eq(t.tok[k].end, end[k], "token %u end", k);
        if (t.tok[k].type == JSONTAPE_STR)
            cr_expect_eq(t.tok[k].key, key[k], "token %u key flag", k);
    }
    /* walking the members by jumping over each value's subtree */
    const char *want[] = {"a", "b", "c"};
    size_t m = 0;
    char buf[16];
    for (uint32_t i = 1; i < t.tok[0].end; i = t.tok[i + 1].end, m++) {
        cr_assert_lt(m, 3);
        str_of(&t, i, buf, sizeof buf);
        cr_expect_str_eq(buf, want[m]);
    }
    cr_expect_eq(m, 3);
    expect_text(&t, 2, "1");
    expect_text(&t, 5, "true");
    jsontape_release(&t);
}

Test(jsontape, nested_arrays_are_siblings_by_end)
{
    jsontape_t t;
    cr_assert_eq(parse(&t, " [ [1, 2] ,[3], [] ]\n"), 0);
    cr_assert_eq(t.n, 7);
    cr_expect_eq(t.tok[0].end, 7);
    cr_expect_eq(t.tok[1].end, 4);   /* [1, 2] */
    cr_expect_eq(t.tok[4].end, 6);   /* [3] */
    cr_expect_eq(t.tok[6].type, JSONTAPE_ARR);
    cr_expect_eq(t.tok[6].end, 7);   /* [] */
    expect_text(&t, 5, "3");
    jsontape_release(&t);
}

Test(jsontape, strings_decode_escapes)
{
    jsontape_t t;
    const char *doc = "[\"plain\",\"a\\\"b\\\\c\\/d\\n\\t\",\"\\u00e9\\ud83d\\ude00\","
                      "\"\\ud800x\",\"\\q\",\"\\u00E9\\u0041\"]";
    cr_assert_eq(parse(&t, doc), 0);
    cr_assert_eq(t.n, 7);
    char buf[64];
    const char *p;
    size_t n;
    jsontape_scratch_t sc = {.heap = NULL};
    /* no escapes: read in place */
    cr_expect_eq(t.tok[1].esc, 0);
    cr_assert_eq(jsontape_str(&t, 1, &sc, &p, &n), 0);
    cr_expect(p == doc + 2 && n == 5);
    cr_expect_eq(t.tok[2].esc, 1);
    str_of(&t, 2, buf, sizeof buf);
    cr_expect_str_eq(buf, "a\"b\\c/d\n\t");
    str_of(&t, 3, buf, sizeof buf);
    cr_expect_str_eq(buf, "\xc3\xa9\xf0\x9f\x98\x80");   /* e-acute, then U+1F600 from a pair */
    str_of(&t, 4, buf, sizeof buf);
    cr_expect_str_eq(buf, "\xef\xbf\xbdx");             /* lone surrogate: U+FFFD */
    str_of(&t, 5, buf, sizeof buf);
    cr_expect_str_eq(buf, "q");                         /* unknown escape keeps its byte */
    str_of(&t, 6, buf, sizeof buf);
    cr_expect_str_eq(buf, "\xc3\xa9" "A");              /* upper-case hex */
    jsontape_release(&t);
}

Test(jsontape, long_escaped_string_decodes_on_the_heap)
{
    size_t reps = 200;   /* 200 * 6 bytes of "\u0041" -> 200 'A': past the 256-byte scratch */
    char *doc = malloc(reps * 6 + 3);
    cr_assert_not_null(doc);
    char *w = doc;
    *w++ = '"';
    for (size_t i = 0; i < reps; i++, w += 6)
        memcpy(w, "\\u0041", 6);
    *w++ = '"';
    *w = '\0';
    jsontape_t t;
    cr_assert_eq(parse(&t, doc), 0);
    jsontape_scratch_t sc = {.heap = NULL};
    const char *p;
    size_t n;
    cr_assert_eq(jsontape_str(&t, 0, &sc, &p, &n), 0);
    cr_expect_not_null(sc.heap);
    cr_expect(p == sc.heap);
    cr_assert_eq(n, reps);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(p[i], 'A');
    jsontape_scratch_release(&sc);
    cr_expect_null(sc.heap);
    jsontape_release(&t);
    free(doc);
}

Test(jsontape, numbers_and_literals)
{
    jsontape_t t;
    cr_assert_eq(parse(&t, "{\"n\":[0,-1.5e3,12345678901234567890,2E+2],\"t\":true,\"f\":false,"
                           "\"z\":null}"), 0);
    cr_assert_eq(t.n, 13);
    static const char *const nums[] = {"0", "-1.5e3", "12345678901234567890", "2E+2"};
    for (uint32_t k = 3; k < 7; k++) {
        cr_expect_eq(t.tok[k].type, JSONTAPE_NUM);
        expect_text(&t, k, nums[k - 3]);
    }
    cr_expect_eq(t.tok[8].type, JSONTAPE_TRUE);
    cr_expect_eq(t.tok[10].type, JSONTAPE_FALSE);
    cr_expect_eq(t.tok[12].type, JSONTAPE_NULL);
    expect_text(&t, 10, "false");
    jsontape_release(&t);
}

Test(jsontape, any_value_at_the_top)
{
    jsontape_t t;
    jsontape_init(&t);
    cr_expect_eq(jsontape_parse(&t, " \"x\" ", 5), 0);
    cr_expect(t.n == 1 && t.tok[0].type == JSONTAPE_STR);
    cr_expect_eq(jsontape_parse(&t, "null", 4), 0);
    cr_expect(t.n == 1 && t.tok[0].type == JSONTAPE_NULL);
    cr_expect_eq(jsontape_parse(&t, "-7", 2), 0);
    cr_expect(t.n == 1 && t.tok[0].type == JSONTAPE_NUM);
    /* the length bounds the text: what follows is not read */
    cr_expect_eq(jsontape_parse(&t, "[1]junk", 3), 0);
    cr_expect_eq(t.n, 2);
    jsontape_release(&t);
}

Test(jsontape, malformed_input_is_rejected)
{
    static const char *const bad[] = {
        "", "   ", "{", "}", "[", "]", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{\"a\" 1}",
        "{\"a\":1,}", "{\"a\":1 \"b\":2}", "[1 2]", "{1:2}", "{a:1}", "tru", "truex", "nul",
        "[1]]", "[}", "{]", "\"abc", "\"a\nb\"", "[1] [2]", "'a'", "+1", "[.5]", "{\"a\"::1}",
        "[\"a\",]", "nulls", "{\"k\":1}}"};
    jsontape_t t;
    jsontape_init(&t);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(jsontape_parse(&t, bad[i], strlen(bad[i])), JSONTAPE_ERR_SYNTAX, "'%s'", bad[i]);
    jsontape_release(&t);
}

/* 100,000 levels: no recursion, and far past the inline array (the tape grows on the heap). */
Test(jsontape, deep_nesting_grows_onto_the_heap)
{
    enum { DEPTH = 100000 };
    char *doc = malloc(2 * DEPTH + 2);
    cr_assert_not_null(doc);
    memset(doc, '[', DEPTH);
    doc[DEPTH] = '1';
    memset(doc + DEPTH + 1, ']', DEPTH);
    jsontape_t t;
    jsontape_init(&t);
    cr_assert_eq(jsontape_parse(&t, doc, 2 * DEPTH + 1), 0);
    cr_expect(t.tok != t.stack, "tokens moved to the heap");
    cr_assert_eq(t.n, DEPTH + 1);
    for (uint32_t k = 0; k < DEPTH; k++)
        cr_assert_eq(t.tok[k].end, DEPTH + 1, "level %u", k);
    cr_expect_eq(t.tok[DEPTH].type, JSONTAPE_NUM);
    /* the same depth left open is an error, and the tape is still released cleanly */
    cr_expect_eq(jsontape_parse(&t, doc, DEPTH + 1), JSONTAPE_ERR_SYNTAX);
    /* a reused tape parses a small document into its heap array */
    cr_assert_eq(jsontape_parse(&t, "{\"k\":[]}", 8), 0);
    cr_expect_eq(t.n, 3);
    cr_expect_eq(t.tok[2].type, JSONTAPE_ARR);
    jsontape_release(&t);
    cr_expect(t.tok == t.stack && t.n == 0, "release leaves an empty tape");
    free(doc);
}

Test(jsontape, escaped_key_decodes)
{
    jsontape_t t;
    cr_assert_eq(parse(&t, "{\"a\\u0062\":1}"), 0);
    cr_expect(t.tok[1].key && t.tok[1].esc);
    char buf[8];
    cr_expect_eq(str_of(&t, 1, buf, sizeof buf), 2);
    cr_expect_str_eq(buf, "ab");
    jsontape_release(&t);
}

/* The closing-quote scan reads 8 bytes at a time: a quote, backslash or control byte at every
 * position of a word (and past its end), after plain ASCII and UTF-8 bytes, ends or breaks the
 * string exactly where a byte-by-byte scan would. */
Test(jsontape, string_scan_finds_specials_at_every_offset)
{
    static const char *plain[] = {"abcdefghijklmnopq", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x82\xac\xe2\x82\xac\xf0\x9f\x98\x80"};
    for (size_t p = 0; p < 2; p++) {
        for (size_t at = 0; at <= 17; at++) {
            char doc[256], want[64];
            jsontape_t t;
            snprintf(want, sizeof want, "%.*s", (int)at, plain[p]);
            snprintf(doc, sizeof doc, "[\"%s\",\"%.*s\\\"x\",\"%.*s\\\\\"]", want, (int)at, plain[p], (int)at, plain[p]);
            cr_assert_eq(parse(&t, doc), 0, "%s", doc);
            cr_expect_eq(t.n, 4u);
            cr_expect_eq(t.tok[1].len, at, "%s", doc);
            cr_expect_eq(t.tok[1].esc, 0);
            cr_expect_eq(t.tok[2].len, at + 3, "%s", doc);
            cr_expect_eq(t.tok[2].esc, 1);
            cr_expect_eq(t.tok[3].len, at + 2, "%s", doc);
            snprintf(doc, sizeof doc, "[\"%.*s\x01\"]", (int)at, plain[p]);
            cr_expect_eq(parse(&t, doc), JSONTAPE_ERR_SYNTAX, "control byte at %zu", at);
            snprintf(doc, sizeof doc, "[\"%.*s", (int)at, plain[p]);
            cr_expect_eq(parse(&t, doc), JSONTAPE_ERR_SYNTAX, "unterminated at %zu", at);
            snprintf(doc, sizeof doc, "[\"%.*s\\", (int)at, plain[p]);
            cr_expect_eq(parse(&t, doc), JSONTAPE_ERR_SYNTAX, "trailing backslash at %zu", at);
        }
    }
}
