/* test_urlcode.c -- percent-decoding of query components. */
#include "urlcode.h"
#include <criterion/criterion.h>
#include <string.h>

static const char *decode(const char *s, char *out, size_t outlen)
{
    return urlcode_decode(s, strlen(s), out, outlen) < 0 ? NULL : out;
}

Test(urlcode, decodes_escapes_and_plus)
{
    char out[64];
    cr_assert_str_eq(decode("a%3Ab+c%2fd", out, sizeof out), "a:b c/d");
    cr_assert_str_eq(decode("%E2%9C%93", out, sizeof out), "\xe2\x9c\x93");
    cr_assert_str_eq(decode("", out, sizeof out), "");
    cr_assert_eq(urlcode_decode("ab%41", 5, out, sizeof out), 3);
}

Test(urlcode, rejects_bad_escapes_nul_and_small_buffers)
{
    char out[8];
    const char *bad[] = {"%", "%4", "%zz", "a%g1", "%00", "x%0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_null(decode(bad[i], out, sizeof out), "accepted '%s'", bad[i]);
    cr_assert_null(decode("12345678", out, sizeof out), "no room for the NUL");
    cr_assert_str_eq(decode("1234567", out, sizeof out), "1234567");
    cr_assert_eq(urlcode_decode("a", 1, out, 0), -1);
}

Test(urlcode, paths_keep_plus)
{
    char out[64];
    cr_assert_eq(urlcode_decode_path("crm%2Cev+ents*", 14, out, sizeof out), 12);
    cr_assert_str_eq(out, "crm,ev+ents*");
    cr_assert_eq(urlcode_decode_path("urn%3Aa%3A1", 11, out, sizeof out), 7);
    cr_assert_str_eq(out, "urn:a:1");
    cr_assert_eq(urlcode_decode_path("%00", 3, out, sizeof out), -1);
    cr_assert_eq(urlcode_decode_path("%4", 2, out, sizeof out), -1);
}
