/* test_bytebuf.c -- the growable byte buffer: appends keep a NUL after the bytes, growth from
 * empty, the size limit, the sticky failure flag, printf of long text, JSON string escaping,
 * trim and take. */
#include "bytebuf.h"
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

Test(bytebuf, appends_grow_and_stay_nul_terminated)
{
    bytebuf_t b = {0};
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(bytebuf_appends(&b, "abc"), 0);
    cr_assert_eq(b.len, 30000);
    cr_assert_eq(b.p[b.len], '\0');
    cr_assert_gt(b.cap, b.len);
    cr_assert_eq(bytebuf_appendc(&b, 'z'), 0);
    cr_assert_str_eq(b.p + 29998, "bcz");
    bytebuf_free(&b);
    cr_assert_null(b.p);
    cr_assert_eq(b.len, 0);
}

Test(bytebuf, limit_refuses_and_leaves_the_buffer_unchanged)
{
    bytebuf_t b = {.max = 10};
    cr_assert_eq(bytebuf_append(&b, "0123456789", 10), 0);
    cr_assert_eq(bytebuf_appendc(&b, 'x'), BYTEBUF_ERR_LIMIT);
    cr_assert_eq(b.len, 10);
    cr_assert(b.failed);
    cr_assert_leq(b.cap, 11, "a limited buffer never allocates beyond max + 1");
    cr_assert_null(bytebuf_take(&b, NULL), "a failed buffer hands nothing out");
    cr_assert_null(b.p);
}

Test(bytebuf, printf_longer_than_the_small_buffer)
{
    bytebuf_t b = {0};
    char big[1000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(bytebuf_printf(&b, "<%s|%d>", big, 42), 0);
    cr_assert_eq(b.len, 999 + 5);
    cr_assert_eq(strncmp(b.p + 999 + 1, "|42>", 4), 0);
    size_t len;
    char *p = bytebuf_take(&b, &len);
    cr_assert_eq(len, 1004);
    cr_assert_eq(p[len], '\0');
    free(p);
    cr_assert_null(b.p);
}

Test(bytebuf, json_strings_are_escaped)
{
    bytebuf_t b = {0};
    cr_assert_eq(bytebuf_append_json_str(&b, "a\"b\\c\n\t\x01\xc3\xa9", 10), 0);
    cr_assert_str_eq(b.p, "\"a\\\"b\\\\c\\n\\t\\u0001\xc3\xa9\"");
    bytebuf_free(&b);
}

Test(bytebuf, trim_frees_only_large_buffers)
{
    bytebuf_t b = {0};
    bytebuf_appends(&b, "small");
    bytebuf_trim(&b, 1 << 20);
    cr_assert_not_null(b.p, "a small buffer is kept for reuse");
    cr_assert_eq(b.len, 0);
    char big[8192] = {0};
    bytebuf_append(&b, big, sizeof big);
    bytebuf_trim(&b, 4096);
    cr_assert_null(b.p);
    bytebuf_free(&b);
}

Test(bytebuf, bytes_compare_in_unsigned_order_prefix_first)
{
    cr_assert_eq(bytes_cmp("a", 1, "b", 1), -1);
    cr_assert_eq(bytes_cmp("b", 1, "a", 1), 1);
    cr_assert_eq(bytes_cmp("ab", 2, "ab", 2), 0);
    cr_assert_eq(bytes_cmp("ab", 2, "abc", 3), -1, "a prefix first");
    cr_assert_eq(bytes_cmp("abc", 3, "ab", 2), 1);
    cr_assert_eq(bytes_cmp(NULL, 0, "a", 1), -1, "empty first, its pointer unread");
    cr_assert_eq(bytes_cmp(NULL, 0, NULL, 0), 0);
    cr_assert_eq(bytes_cmp("\xc3\xa9", 2, "z", 1), 1, "unsigned: UTF-8 code point order");
}
