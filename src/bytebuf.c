/* bytebuf.c -- the growable byte buffer (see bytebuf.h). */
#include "bytebuf.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FIRST_CAP 4096

int bytebuf_grow(bytebuf_t *b, size_t extra)
{
    if (extra > SIZE_MAX / 4 - b->len || (b->max && b->len + extra > b->max)) {
        b->failed = 1;
        return extra > SIZE_MAX / 4 - b->len ? BYTEBUF_ERR_NOMEM : BYTEBUF_ERR_LIMIT;
    }
    size_t need = b->len + extra + 1, cap = b->cap ? b->cap : FIRST_CAP;
    if (need <= b->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    if (b->max && cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return BYTEBUF_ERR_NOMEM;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

int bytebuf_vprintf(bytebuf_t *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    int rc = n < 0 ? BYTEBUF_ERR_NOMEM : 0;
    if (rc == 0 && (size_t)n < sizeof small)
        rc = bytebuf_append(b, small, (size_t)n);
    else if (rc == 0 && (rc = bytebuf_reserve(b, (size_t)n)) == 0) {
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
    if (rc)
        b->failed = 1;
    return rc;
}

int bytebuf_printf(bytebuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = bytebuf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *bytebuf_put_json_str(char *p, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *p++ = (char)c;
            continue;
        }
        *p++ = '\\';
        switch (c) {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        default:
            *p++ = 'u'; *p++ = '0'; *p++ = '0';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p++ = '"';
    return p;
}

int bytebuf_append_json_str(bytebuf_t *b, const char *s, size_t n)
{
    int rc = bytebuf_reserve(b, BYTEBUF_JSON_STR_MAX(n));
    if (rc)
        return rc;
    b->len = (size_t)(bytebuf_put_json_str(b->p + b->len, s, n) - b->p);
    b->p[b->len] = '\0';
    return 0;
}

void bytebuf_clear(bytebuf_t *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->p)
        b->p[0] = '\0';
}

void bytebuf_trim(bytebuf_t *b, size_t keep)
{
    if (b->cap > keep)
        bytebuf_free(b);
    else
        bytebuf_clear(b);
}

void bytebuf_free(bytebuf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

char *bytebuf_take(bytebuf_t *b, size_t *len)
{
    char *p = b->failed ? NULL : b->p;
    if (len)
        *len = p ? b->len : 0;
    if (!p)
        free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
    return p;
}

int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int r = n ? memcmp(a, b, n) : 0;
    if (r)
        return r < 0 ? -1 : 1;
    return an < bn ? -1 : an > bn;
}
