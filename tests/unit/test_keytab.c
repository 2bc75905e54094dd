/* test_keytab.c -- the key -> dense index table: indexes in insertion order, tags and lengths
 * part of the key, keys of every length up to and past the word-compare sizes, growth through
 * many doublings with every key still found, and an empty key. */
#include "keytab.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(keytab, indexes_in_insertion_order)
{
    keytab_t t = {0};
    uint32_t idx;
    cr_expect_eq(keytab_put(&t, 's', "Create", 6, &idx), 1);
    cr_expect_eq(idx, 0u);
    cr_expect_eq(keytab_put(&t, 's', "Update", 6, &idx), 1);
    cr_expect_eq(idx, 1u);
    cr_expect_eq(keytab_put(&t, 's', "Create", 6, &idx), 0);
    cr_expect_eq(idx, 0u);
    cr_expect_eq(keytab_count(&t), 2u);
    size_t n;
    const char *p = keytab_key(&t, 1, &n);
    cr_expect_eq(n, 6u);
    cr_expect(memcmp(p, "Update", 6) == 0);
    cr_expect_eq(keytab_tag(&t, 1), 's');
    keytab_free(&t);
    cr_expect_eq(keytab_count(&t), 0u);
}

Test(keytab, tag_and_length_are_part_of_the_key)
{
    keytab_t t = {0};
    uint32_t a, b, c, d;
    cr_expect_eq(keytab_put(&t, 's', "abc", 3, &a), 1);
    cr_expect_eq(keytab_put(&t, 'x', "abc", 3, &b), 1);
    cr_expect_eq(keytab_put(&t, 's', "abc\0", 4, &c), 1);
    cr_expect_eq(keytab_put(&t, 's', "", 0, &d), 1);
    cr_expect(a != b && b != c && c != d && a != d);
    cr_expect_eq(keytab_put(&t, 's', NULL, 0, &d), 0);
    cr_expect_eq(keytab_count(&t), 4u);
    keytab_free(&t);
}

/* Keys of 1..40 bytes differing in one byte anywhere: the word compares see every byte. */
Test(keytab, keys_differing_in_any_one_byte_are_distinct)
{
    keytab_t t = {0};
    char key[40];
    uint32_t idx, count = 0;
    for (size_t len = 1; len <= sizeof key; len++) {
        for (size_t at = 0; at < len; at++) {
            memset(key, 'a', len);
            key[at] = 'b';
            cr_assert_eq(keytab_put(&t, 's', key, len, &idx), 1, "len %zu at %zu", len, at);
            cr_expect_eq(idx, count++);
        }
        memset(key, 'a', len);
        cr_assert_eq(keytab_put(&t, 's', key, len, &idx), 1);
        count++;
    }
    for (size_t len = 1; len <= sizeof key; len++) {
        memset(key, 'a', len);
        key[len - 1] = 'b';
        cr_expect_eq(keytab_put(&t, 's', key, len, &idx), 0);
    }
    cr_expect_eq(keytab_count(&t), count);
    keytab_free(&t);
}

Test(keytab, growth_keeps_every_key)
{
    keytab_t t = {0};
    char key[32];
    uint32_t idx;
    for (uint32_t i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof key, "key-%u", i);
        cr_assert_eq(keytab_put(&t, 's', key, (size_t)n, &idx), 1);
        cr_assert_eq(idx, i);
    }
    for (uint32_t i = 0; i < 100000; i += 7) {
        int n = snprintf(key, sizeof key, "key-%u", i);
        cr_assert_eq(keytab_put(&t, 's', key, (size_t)n, &idx), 0);
        cr_assert_eq(idx, i);
        size_t kn;
        const char *p = keytab_key(&t, i, &kn);
        cr_assert(kn == (size_t)n && memcmp(p, key, kn) == 0);
    }
    int64_t v = -5;
    cr_expect_eq(keytab_put(&t, 'i', &v, sizeof v, &idx), 1);
    cr_expect_eq(idx, 100000u);
    keytab_free(&t);
}
