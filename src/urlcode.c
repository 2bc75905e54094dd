/* urlcode.c -- percent-decoding of URL query components and path segments. See urlcode.h. */
#include "urlcode.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode; `plus` says whether '+' stands for a space (query components) or itself (paths). */
static long decode(const char *s, size_t len, char *out, size_t outlen, int plus)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+' && plus) {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1, lo = hi < 0 ? -1 : hexval(s[i + 2]);
            if (lo < 0 || (hi | lo) == 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n + 1 >= outlen)
            return -1;
        out[n++] = c;
    }
    if (outlen == 0)
        return -1;
    out[n] = '\0';
    return (long)n;
}

long urlcode_decode(const char *s, size_t len, char *out, size_t outlen)
{
    return decode(s, len, out, outlen, 1);
}

long urlcode_decode_path(const char *s, size_t len, char *out, size_t outlen)
{
    return decode(s, len, out, outlen, 0);
}
