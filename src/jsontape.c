/* jsontape.c -- a single-pass JSON tokenizer into a flat token array (see jsontape.h).
 *
 * The parser is a state machine over the bytes, no recursion: an open object or array keeps
 * its parent's index in `end` until it closes, when `end` becomes the index after its
 * subtree. Strings are scanned for their closing quote and left in place; escapes are decoded
 * only when jsontape_str is asked for the bytes (the scan for the closing quote reads 8 bytes
 * at a time). Malformed input fails the whole parse. */
#include "jsontape.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX   /* parent of the top-level value */

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

void jsontape_init(jsontape_t *t)
{
    t->s = NULL;
    t->tok = t->stack;
    t->n = 0;
    t->cap = JSONTAPE_STACK;
}

void jsontape_release(jsontape_t *t)
{
    if (t->tok != t->stack)
        free(t->tok);
    jsontape_init(t);
}

/* Append a token; returns its index or a negative JSONTAPE_ERR_*. */
static int push(jsontape_t *t, int type, size_t off, size_t len)
{
    if (t->n == t->cap) {
        if (t->cap > UINT32_MAX / 4)
            return JSONTAPE_ERR_TOOBIG;
        jsontape_tok_t *nt = malloc((size_t)t->cap * 2 * sizeof *nt);
        if (!nt)
            return JSONTAPE_ERR_NOMEM;
        memcpy(nt, t->tok, (size_t)t->n * sizeof *nt);
        if (t->tok != t->stack)
            free(t->tok);
        t->tok = nt;
        t->cap *= 2;
    }
    t->tok[t->n] = (jsontape_tok_t){(uint8_t)type, 0, 0, (uint32_t)off, (uint32_t)len, t->n + 1};
    return (int)t->n++;   /* cap <= UINT32_MAX / 2 fits an int */
}

/* ---- parsing ---- */

enum { ST_VALUE, ST_VALUE_OR_CLOSE, ST_KEY, ST_KEY_OR_CLOSE, ST_COLON, ST_COMMA_OR_CLOSE, ST_DONE };

typedef struct {
    jsontape_t *t;
    const char *s;        /* borrowed */
    size_t len, i;        /* i: the next byte to read */
    uint32_t open;        /* innermost open object or array, or NONE */
    int st;               /* ST_*: what may come next */
} parser_t;

/* Does byte c end a run of plain string bytes: a quote, a backslash or a control byte? */
static bool string_special(unsigned char c)
{
    return c == '"' || c == '\\' || c < 0x20;
}

/* The index of the first special byte at or after i (len if none), 8 bytes at a time: in each
 * word, the lowest byte flagged by "has a zero byte" tests (x - 0x01..) & ~x & 0x80.. on
 * w ^ '"', w ^ '\\' and "less than 0x20" is a real one (flags above it may be false). */
static size_t skip_plain(const char *s, size_t len, size_t i)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    for (; i + 8 <= len; i += 8) {
        uint64_t w, q, b;
        memcpy(&w, s + i, 8);
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        uint64_t m = (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & highs;
        if (m)
            return i + (size_t)(__builtin_ctzll(m) >> 3);
    }
#endif
    while (i < len && !string_special((unsigned char)s[i]))
        i++;
    return i;
}

/* Scan a string starting after its opening quote; returns the index of the closing quote
 * or 0 on error (a string cannot close at index 0). */
static size_t scan_string(const char *s, size_t len, size_t i, bool *esc)
{
    *esc = false;
    while ((i = skip_plain(s, len, i)) < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            return i;
        if (c < 0x20)
            return 0;
        *esc = true;   /* a backslash: skip the escaped byte */
        i += 2;
    }
    return 0;
}

static size_t scan_number(const char *s, size_t len, size_t i)
{
    while (i < len && (is_digit(s[i]) || s[i] == '-' || s[i] == '+' || s[i] == '.' ||
                       s[i] == 'e' || s[i] == 'E'))
        i++;
    return i;
}

static void after_value(parser_t *p)
{
    p->st = p->open == NONE ? ST_DONE : ST_COMMA_OR_CLOSE;
}

static int open_container(parser_t *p, int type)
{
    int idx = push(p->t, type, p->i, 0);
    if (idx < 0)
        return idx;
    p->t->tok[idx].end = p->open;
    p->open = (uint32_t)idx;
    p->st = type == JSONTAPE_OBJ ? ST_KEY_OR_CLOSE : ST_VALUE_OR_CLOSE;
    p->i++;
    return 0;
}

static int close_container(parser_t *p, char c)
{
    if (p->open == NONE)
        return JSONTAPE_ERR_SYNTAX;
    jsontape_tok_t *o = &p->t->tok[p->open];
    if ((c == '}') != (o->type == JSONTAPE_OBJ))
        return JSONTAPE_ERR_SYNTAX;
    uint32_t parent = o->end;
    o->end = p->t->n;
    p->open = parent;
    p->i++;
    after_value(p);
    return 0;
}

static int string_token(parser_t *p, bool key)
{
    bool esc;
    size_t q = scan_string(p->s, p->len, p->i + 1, &esc);
    if (!q)
        return JSONTAPE_ERR_SYNTAX;
    int idx = push(p->t, JSONTAPE_STR, p->i + 1, q - p->i - 1);
    if (idx < 0)
        return idx;
    p->t->tok[idx].esc = esc;
    p->t->tok[idx].key = key;
    p->i = q + 1;
    if (key)
        p->st = ST_COLON;
    else
        after_value(p);
    return 0;
}

static int literal_token(parser_t *p, const char *word, int type)
{
    size_t wn = strlen(word);
    if (p->len - p->i < wn || memcmp(p->s + p->i, word, wn) != 0)
        return JSONTAPE_ERR_SYNTAX;
    int idx = push(p->t, type, p->i, wn);
    if (idx < 0)
        return idx;
    p->i += wn;
    after_value(p);
    return 0;
}

static int number_token(parser_t *p)
{
    size_t e = scan_number(p->s, p->len, p->i);
    int idx = push(p->t, JSONTAPE_NUM, p->i, e - p->i);
    if (idx < 0)
        return idx;
    p->i = e;
    after_value(p);
    return 0;
}

static int value_token(parser_t *p, char c)
{
    switch (c) {
    case '{': return open_container(p, JSONTAPE_OBJ);
    case '[': return open_container(p, JSONTAPE_ARR);
    case '"': return string_token(p, false);
    case 't': return literal_token(p, "true", JSONTAPE_TRUE);
    case 'f': return literal_token(p, "false", JSONTAPE_FALSE);
    case 'n': return literal_token(p, "null", JSONTAPE_NULL);
    default: return c == '-' || is_digit(c) ? number_token(p) : JSONTAPE_ERR_SYNTAX;
    }
}

/* One step at the non-space byte c = s[i]. */
static int step(parser_t *p, char c)
{
    switch (p->st) {
    case ST_VALUE_OR_CLOSE:
        return c == ']' ? close_container(p, c) : value_token(p, c);
    case ST_VALUE:
        return value_token(p, c);
    case ST_KEY_OR_CLOSE:
        if (c == '}')
            return close_container(p, c);
        return c == '"' ? string_token(p, true) : JSONTAPE_ERR_SYNTAX;
    case ST_KEY:
        return c == '"' ? string_token(p, true) : JSONTAPE_ERR_SYNTAX;
    case ST_COLON:
        if (c != ':')
            return JSONTAPE_ERR_SYNTAX;
        p->i++;
        p->st = ST_VALUE;
        return 0;
    case ST_COMMA_OR_CLOSE:
        if (c == ']' || c == '}')
            return close_container(p, c);
        if (c != ',')
            return JSONTAPE_ERR_SYNTAX;
        p->i++;
        p->st = p->t->tok[p->open].type == JSONTAPE_OBJ ? ST_KEY : ST_VALUE;
        return 0;
    default:
        return JSONTAPE_ERR_SYNTAX;   /* ST_DONE: something after the value */
    }
}

int jsontape_parse(jsontape_t *t, const char *s, size_t len)
{
    if (len >= UINT32_MAX)
        return JSONTAPE_ERR_TOOBIG;
    parser_t p = {t, s, len, 0, NONE, ST_VALUE};
    t->s = s;
    t->n = 0;
    while (p.i < len) {
        char c = s[p.i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            p.i++;
            continue;
        }
        int r = step(&p, c);
        if (r < 0)
            return r;
    }
    return p.st == ST_DONE ? 0 : JSONTAPE_ERR_SYNTAX;
}

/* ---- decoding strings ---- */

void jsontape_scratch_release(jsontape_scratch_t *sc)
{
    free(sc->heap);
    sc->heap = NULL;
}

static int hex4(const char *s, size_t n, size_t i, unsigned *out)
{
    if (i + 4 > n)
        return -1;
    unsigned v = 0;
    for (size_t k = i; k < i + 4; k++) {
        int c = s[k], h;
        if (is_digit(c))
            h = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            h = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode one escape at s[i] (the byte after the backslash) into o; returns the bytes
 * consumed. The output is never longer than the escape's text. */
static size_t unescape_one(const char *s, size_t n, size_t i, char *o, size_t *olen)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (i >= n) {
        *olen = 0;
        return 0;
    }
    const char *hit = s[i] ? strchr(from, s[i]) : NULL;
    if (hit) {
        o[0] = to[hit - from];
        *olen = 1;
        return 1;
    }
    unsigned cp, lo;
    if (s[i] != 'u' || hex4(s, n, i + 1, &cp) < 0) {
        o[0] = s[i];   /* not a valid escape: keep the byte */
        *olen = 1;
        return 1;
    }
    size_t used = 5;
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 11 <= n && s[i + 5] == '\\' && s[i + 6] == 'u' &&
        hex4(s, n, i + 7, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        used = 11;
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
        cp = 0xFFFD;
    }
    *olen = put_utf8(o, cp);
    return used;
}

int jsontape_unescape(const jsontape_t *t, uint32_t k, jsontape_scratch_t *sc, const char **p,
                      size_t *n)
{
    const jsontape_tok_t *tk = &t->tok[k];
    const char *s = t->s + tk->off;
    size_t len = tk->len;
    char *o = sc->buf;
    if (len > sizeof sc->buf) {
        if (!(sc->heap = malloc(len))) {
            *p = "";
            *n = 0;
            return JSONTAPE_ERR_NOMEM;
        }
        o = sc->heap;
    }
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        if (s[i] != '\\') {
            o[w++] = s[i++];
            continue;
        }
        size_t olen;
        i++;
        i += unescape_one(s, len, i, o + w, &olen);
        w += olen;
    }
    *p = o;
    *n = w;
    return 0;
}
