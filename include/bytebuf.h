/* bytebuf.h -- the tree's one growable byte buffer: appends, reserve-then-write, printf, an
 * optional size limit, and a sticky failure flag so that a long run of appends (a response
 * being built) checks for failure once at the end.
 *
 * Growth doubles from 4 KiB and never exceeds `max` + 1 bytes when a limit is set. After a
 * successful bytebuf_append* or bytebuf_printf the bytes are followed by a NUL (not counted in
 * len), so text can be used as a C string; a caller that writes after bytebuf_reserve itself
 * (the hot paths) leaves that to itself. A zeroed bytebuf_t ({0}) is an empty buffer without a limit; no allocation
 * happens until the first append. Not thread-safe: one owner at a time. */
#ifndef BYTEBUF_H
#define BYTEBUF_H
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

/* Error codes (negative). */
enum {
    BYTEBUF_ERR_NOMEM = -1,   /* malloc/realloc failed; the buffer is unchanged */
    BYTEBUF_ERR_LIMIT = -2,   /* the bytes would exceed `max`; the buffer is unchanged */
};

typedef struct {
    char *p;        /* owned (malloc); NULL until the first append */
    size_t len;     /* bytes in use */
    size_t cap;     /* bytes allocated (len < cap once anything was appended) */
    size_t max;     /* 0: no limit; else len never exceeds max */
    int failed;     /* an append or reserve failed since the last clear (sticky) */
} bytebuf_t;

/* Make room for `extra` more bytes (and the NUL after them): afterwards the caller may write up
 * to `extra` bytes at p + len and add them to len. Returns 0, BYTEBUF_ERR_NOMEM or
 * BYTEBUF_ERR_LIMIT (and sets failed). */
int bytebuf_grow(bytebuf_t *b, size_t extra);

static inline int bytebuf_reserve(bytebuf_t *b, size_t extra)
{
    return b->cap - b->len > extra ? 0 : bytebuf_grow(b, extra);
}

/* Append n bytes (s may be NULL when n is 0). Returns like bytebuf_reserve. */
static inline int bytebuf_append(bytebuf_t *b, const void *s, size_t n)
{
    int rc = bytebuf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static inline int bytebuf_appends(bytebuf_t *b, const char *s) { return bytebuf_append(b, s, strlen(s)); }
static inline int bytebuf_appendc(bytebuf_t *b, char c) { return bytebuf_append(b, &c, 1); }

/* Append formatted text. Returns like bytebuf_reserve. */
int bytebuf_printf(bytebuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bytebuf_vprintf(bytebuf_t *b, const char *fmt, va_list ap);

/* Append s as a JSON string literal, quotes included: `"` and `\` escaped, control bytes as
 * \n, \t ... or \u00XX; other bytes (UTF-8) copied. Returns like bytebuf_reserve. */
int bytebuf_append_json_str(bytebuf_t *b, const char *s, size_t n);

/* The same escaping written at dst, which must hold BYTEBUF_JSON_STR_MAX(n) bytes (for writers
 * that size a record first); returns the end of what was written. */
#define BYTEBUF_JSON_STR_MAX(n) (6 * (size_t)(n) + 2)
char *bytebuf_put_json_str(char *dst, const char *s, size_t n);

/* Empty the buffer (len 0, failed 0), keeping its memory. */
void bytebuf_clear(bytebuf_t *b);

/* Empty it and free its memory when more than `keep` bytes are allocated (a buffer reused for
 * requests of very different sizes should not hold the largest forever). */
void bytebuf_trim(bytebuf_t *b, size_t keep);

/* Free the memory; the buffer is empty and reusable (its limit is kept). */
void bytebuf_free(bytebuf_t *b);

/* Hand the bytes out: returns p (NUL-terminated, *len bytes; the caller frees it) and leaves the
 * buffer empty. Returns NULL when an append failed (the memory is freed) or nothing was ever
 * appended. `len` may be NULL. */
char *bytebuf_take(bytebuf_t *b, size_t *len);

/* Compare two byte strings in unsigned byte order (= UTF-8 code point order), a prefix first:
 * -1, 0 or 1. Either may be empty (its pointer is then not read). */
int bytes_cmp(const void *a, size_t an, const void *b, size_t bn);

#endif
