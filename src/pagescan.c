/* pagescan.c -- one validating, minifying pass over an Activity Streams page for the ingest
 * hot path (contract in pagescan.h).
 *
 * A recursive-descent scanner over the bytes. Every token is validated as jansson's lexer
 * does (same UTF-8 rules, escapes, surrogates, \u0000, number grammar and int64 / double
 * range, depth limit) and copied without surrounding whitespace to one of two outputs: the
 * envelope, or -- inside an item -- the items buffer. Strings are copied raw (escapes kept),
 * so an item's stored form is a pure function of its source bytes.
 *
 * Memory: the buffers grow with realloc; a failure stops the scan with PAGESCAN_NOMEM. */
#include "pagescan.h"
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TO_ENV, TO_ITEMS };

enum { M_ID, M_TYPE, M_PUBLISHED, M_UPDATED, M_ACTOR };
static const char *const member_names[PAGESCAN_NMEMBERS] = {"id", "type", "published", "updated",
                                                           "actor"};

/* What object() records: an item's top-level members, or only the `id` of an actor object. */
typedef struct {
    pagescan_item_t *item;      /* the item's top-level object, or NULL */
    pagescan_range_t *id_only;  /* record only `id` here, or NULL */
} rec_t;

typedef struct {
    pagescan_t *ps;
    const unsigned char *begin, *p, *end;
    int depth;
    int nomem;
} sc_t;

/* 1 for bytes that may appear in a string without further checks: printable ASCII (and
 * DEL) except the quote and the backslash. */
static const unsigned char plain[256] = {
    [0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7f] = 1,
};

/* ---- output ---- */

static int put(sc_t *s, bytebuf_t *b, const void *data, size_t n)
{
    if (bytebuf_reserve(b, n) < 0) {
        s->nomem = 1;
        return -1;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static int put_c(sc_t *s, bytebuf_t *b, char c)
{
    return put(s, b, &c, 1);
}

static bytebuf_t *out(sc_t *s, int to)
{
    return to == TO_ENV ? &s->ps->env : &s->ps->items;
}

static int bad_at(sc_t *s, const unsigned char *at, const char *why)
{
    snprintf(s->ps->err, sizeof s->ps->err, "%s", why);
    s->ps->err_pos = (size_t)(at - s->begin);
    return -1;
}

static int bad(sc_t *s, const char *why)
{
    return bad_at(s, s->p, why);
}

static void skip_ws(sc_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

/* ---- strings ---- */

static int hex4(const unsigned char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A \u escape at p (pointing at the backslash), with a surrogate pair's second half. */
static const unsigned char *unicode_escape(sc_t *s, const unsigned char *p)
{
    if (s->end - p < 6 || hex4(p + 2) < 0)
        return bad_at(s, p, "invalid \\u escape"), NULL;
    int u = hex4(p + 2);
    p += 6;
    if (u == 0)
        return bad_at(s, p - 6, "\\u0000 is not allowed"), NULL;
    if (u >= 0xDC00 && u <= 0xDFFF)
        return bad_at(s, p - 6, "invalid Unicode: lone low surrogate"), NULL;
    if (u < 0xD800 || u > 0xDBFF)
        return p;
    if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u')
        return bad_at(s, p - 6, "invalid Unicode: lone high surrogate"), NULL;
    int lo = hex4(p + 2);
    if (lo < 0)
        return bad_at(s, p, "invalid \\u escape"), NULL;
    if (lo < 0xDC00 || lo > 0xDFFF)
        return bad_at(s, p - 6, "invalid Unicode surrogate pair"), NULL;
    return p + 6;
}

static const unsigned char *escape(sc_t *s, const unsigned char *p)
{
    if (s->end - p < 2)
        return bad_at(s, p, "unterminated string"), NULL;
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return p + 2;
    case 'u':
        return unicode_escape(s, p);
    default:
        return bad_at(s, p, "invalid escape"), NULL;
    }
}

/* One UTF-8 sequence of 2 to 4 bytes at p (jansson's rules: no overlongs, no surrogates,
 * nothing above U+10FFFF). */
static const unsigned char *utf8_seq(sc_t *s, const unsigned char *p)
{
    unsigned c = *p, n;
    uint32_t v;
    if (c < 0xC2 || c > 0xF4)
        return bad_at(s, p, "invalid UTF-8"), NULL;
    if (c < 0xE0) {
        n = 1;
        v = c & 0x1F;
    } else if (c < 0xF0) {
        n = 2;
        v = c & 0x0F;
    } else {
        n = 3;
        v = c & 0x07;
    }
    if ((size_t)(s->end - p) <= n)
        return bad_at(s, p, "invalid UTF-8"), NULL;
    for (unsigned i = 1; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return bad_at(s, p, "invalid UTF-8"), NULL;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (n == 2 && v < 0x800) ||
        (n == 3 && v < 0x10000))
        return bad_at(s, p, "invalid UTF-8"), NULL;
    return p + n + 1;
}

/* A string at s->p (the opening quote): validated and copied raw, quotes included. */
static int string(sc_t *s, bytebuf_t *b)
{
    const unsigned char *start = s->p, *p = s->p + 1, *end = s->end;
    for (;;) {
        while (p < end && plain[*p])
            p++;
        if (p >= end)
            return bad_at(s, start, "unterminated string");
        if (*p == '"')
            break;
        if (*p == '\\')
            p = escape(s, p);
        else if (*p < 0x20)
            return bad_at(s, p, "control character in a string");
        else
            p = utf8_seq(s, p);
        if (!p)
            return -1;
    }
    s->p = p + 1;
    return put(s, b, start, (size_t)(s->p - start));
}

/* Does a raw key (between the quotes, escapes undecoded) equal `name` (plain ASCII)? */
static int key_is(const char *raw, size_t len, const char *name)
{
    size_t n = strlen(name), j = 0;
    if (!memchr(raw, '\\', len))
        return len == n && memcmp(raw, name, n) == 0;
    for (size_t i = 0; i < len; j++) {
        int c = (unsigned char)raw[i];
        if (c == '\\' && i + 1 < len && raw[i + 1] == 'u' && i + 6 <= len) {
            c = hex4((const unsigned char *)raw + i + 2);
            i += 6;
        } else if (c == '\\' && i + 1 < len) {
            c = raw[i + 1] == '/' ? '/' : raw[i + 1] == '"' ? '"' : raw[i + 1] == '\\' ? '\\' : -1;
            i += 2;
        } else {
            i++;
        }
        if (j >= n || c != (unsigned char)name[j])
            return 0;
    }
    return j == n;
}

/* ---- numbers and literals ---- */

static int is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* jansson refuses integers outside int64 and reals that overflow a double. */
static int number_in_range(sc_t *s, const unsigned char *start, size_t n, int real)
{
    char small[64], *copy = n < sizeof small ? small : malloc(n + 1);
    if (!copy) {
        s->nomem = 1;
        return -1;
    }
    memcpy(copy, start, n);
    copy[n] = '\0';
    errno = 0;
    int ok;
    if (real) {
        double d = strtod(copy, NULL);
        ok = !(isinf(d) && errno == ERANGE);
    } else {
        (void)strtoll(copy, NULL, 10);
        ok = errno != ERANGE;
    }
    if (copy != small)
        free(copy);
    return ok ? 0 : bad_at(s, start, real ? "real number overflow" : "integer out of range");
}

static int number(sc_t *s, bytebuf_t *b)
{
    const unsigned char *start = s->p, *p = s->p, *end = s->end;
    int real = 0, exp = 0;
    if (*p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (is_digit(p, end) && *p != '0')
        while (is_digit(p, end))
            p++;
    else
        return bad_at(s, start, "invalid number");
    if (p < end && *p == '.') {
        real = 1;
        if (!is_digit(++p, end))
            return bad_at(s, start, "invalid number");
        while (is_digit(p, end))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = exp = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, end))
            return bad_at(s, start, "invalid number");
        while (is_digit(p, end))
            p++;
    }
    size_t n = (size_t)(p - start);
    if (((!real && n >= 19) || (real && (exp || n > 300))) &&
        number_in_range(s, start, n, real) < 0)
        return -1;
    s->p = p;
    return put(s, b, start, n);
}

static int literal(sc_t *s, bytebuf_t *b)
{
    static const char *const words[] = {"true", "false", "null"};
    size_t left = (size_t)(s->end - s->p);
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (left < n || memcmp(s->p, words[i], n) != 0)
            continue;
        const unsigned char *after = s->p + n;
        if (after < s->end && ((*after | 0x20) >= 'a' && (*after | 0x20) <= 'z'))
            break;
        s->p = after;
        return put(s, b, words[i], n);
    }
    return bad(s, "invalid literal");
}

/* ---- structure ---- */

static int value(sc_t *s, int to, const rec_t *rec);
static int item(sc_t *s);

static int enter(sc_t *s)
{
    if (++s->depth > PAGESCAN_MAX_DEPTH)
        return bad(s, "maximum nesting depth reached");
    return 0;
}

/* Close a container or go on: after a value, expects ',' or `close`. Returns 1 when closed,
 * 0 to go on, -1 on error. */
static int next_or_close(sc_t *s, bytebuf_t *b, char close)
{
    skip_ws(s);
    if (s->p < s->end && (*s->p == ',' || *s->p == close)) {
        char c = (char)*s->p++;
        if (put_c(s, b, c) < 0)
            return -1;
        return c == close;
    }
    return bad(s, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

/* Opens a container at s->p; returns 1 when it is empty (and closed), 0 to read it. */
static int open_container(sc_t *s, bytebuf_t *b, char open, char close)
{
    if (enter(s) < 0 || put_c(s, b, open) < 0)
        return -1;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return put_c(s, b, close) < 0 ? -1 : 1;
    }
    return 0;
}

/* The value of an `orderedItems` / `items` member in the envelope. */
static int items_member(sc_t *s)
{
    bytebuf_t *env = &s->ps->env;
    skip_ws(s);
    if (s->p < s->end && *s->p == '{')
        return put_c(s, env, '[') < 0 || item(s) < 0 || put_c(s, env, ']') < 0 ? -1 : 0;
    if (s->p >= s->end || *s->p != '[')
        return value(s, TO_ENV, NULL);
    int rc = open_container(s, env, '[', ']');
    while (rc == 0) {
        if (item(s) < 0)
            return -1;
        rc = next_or_close(s, env, ']');
    }
    if (rc < 0)
        return -1;
    s->depth--;
    return 0;
}

static int member_index(const char *raw, size_t len)
{
    for (int i = 0; i < PAGESCAN_NMEMBERS; i++)
        if (key_is(raw, len, member_names[i]))
            return i;
    return -1;
}

/* One member's value. In the envelope an items member holds items; in an item's top-level
 * object the stand-in members are recorded, in an actor object its id. */
static int member_value(sc_t *s, int to, const rec_t *rec, size_t key_off, size_t key_len)
{
    bytebuf_t *b = out(s, to);
    const char *raw = b->p + key_off;
    if (to == TO_ENV && (key_is(raw, key_len, "orderedItems") || key_is(raw, key_len, "items")))
        return items_member(s);
    pagescan_range_t *dst = NULL;
    rec_t sub = {NULL, NULL};
    if (rec && rec->item) {
        int m = member_index(raw, key_len);
        dst = m >= 0 ? &rec->item->member[m] : NULL;
        if (m == M_ACTOR)
            sub.id_only = &rec->item->actor_id;
    } else if (rec && rec->id_only && key_is(raw, key_len, "id")) {
        dst = rec->id_only;
    }
    skip_ws(s);
    size_t start = b->len;
    if (sub.id_only)
        *sub.id_only = (pagescan_range_t){0, 0}; /* a later actor member replaces an earlier one */
    if (value(s, to, sub.id_only ? &sub : NULL) < 0)
        return -1;
    if (dst)
        *dst = (pagescan_range_t){(uint32_t)start, (uint32_t)(b->len - start)};
    return 0;
}

static int object(sc_t *s, int to, const rec_t *rec)
{
    bytebuf_t *b = out(s, to);
    int rc = open_container(s, b, '{', '}');
    while (rc == 0) {
        skip_ws(s);
        if (s->p >= s->end || *s->p != '"')
            return bad(s, "expected a string key");
        size_t key_off = b->len + 1;
        if (string(s, b) < 0)
            return -1;
        size_t key_len = b->len - 1 - key_off;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return bad(s, "expected ':'");
        s->p++;
        if (put_c(s, b, ':') < 0 || member_value(s, to, rec, key_off, key_len) < 0)
            return -1;
        rc = next_or_close(s, b, '}');
    }
    if (rc < 0)
        return -1;
    s->depth--;
    return 0;
}

static int array(sc_t *s, int to)
{
    bytebuf_t *b = out(s, to);
    int rc = open_container(s, b, '[', ']');
    while (rc == 0) {
        if (value(s, to, NULL) < 0)
            return -1;
        rc = next_or_close(s, b, ']');
    }
    if (rc < 0)
        return -1;
    s->depth--;
    return 0;
}

/* `rec` applies when the value is an object. */
static int value(sc_t *s, int to, const rec_t *rec)
{
    skip_ws(s);
    if (s->p >= s->end)
        return bad(s, "unexpected end of input");
    switch (*s->p) {
    case '{': return object(s, to, rec);
    case '[': return array(s, to);
    case '"': return string(s, out(s, to));
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return number(s, out(s, to));
    case 't': case 'f': case 'n': return literal(s, out(s, to));
    default: return bad(s, "unexpected character");
    }
}

static pagescan_item_t *new_item(sc_t *s)
{
    pagescan_t *ps = s->ps;
    if (ps->nitems == ps->items_cap) {
        size_t cap = ps->items_cap ? ps->items_cap * 2 : 1024;
        pagescan_item_t *n = realloc(ps->item, cap * sizeof *n);
        if (!n) {
            s->nomem = 1;
            return NULL;
        }
        ps->item = n;
        ps->items_cap = cap;
    }
    pagescan_item_t *it = &ps->item[ps->nitems];
    memset(it, 0, sizeof *it);
    return it;
}

/* One item: its JSON goes to items, its index to the envelope. */
static int item(sc_t *s)
{
    pagescan_item_t *it = new_item(s);
    if (!it)
        return -1;
    skip_ws(s);
    it->is_object = s->p < s->end && *s->p == '{';
    it->json.off = (uint32_t)s->ps->items.len;
    rec_t rec = {it, NULL};
    if (value(s, TO_ITEMS, &rec) < 0)
        return -1;
    it->json.len = (uint32_t)(s->ps->items.len - it->json.off);
    char num[24];
    int n = snprintf(num, sizeof num, "%zu", s->ps->nitems++);
    return put(s, &s->ps->env, num, (size_t)n);
}

/* ---- stand-ins ---- */

/* A JSON value from the items buffer: strings without escapes directly, the rest through
 * jansson (already validated, so only memory can fail). */
static json_t *range_value(const pagescan_t *ps, pagescan_range_t r)
{
    const char *v = ps->items.p + r.off;
    if (r.len >= 2 && v[0] == '"' && !memchr(v + 1, '\\', r.len - 2))
        return json_stringn_nocheck(v + 1, r.len - 2);
    return json_loadb(v, r.len, JSON_DECODE_ANY, NULL);
}

static int set_member(json_t *obj, const char *key, json_t *v)
{
    return v ? json_object_set_new_nocheck(obj, key, v) : -1;
}

static json_t *actor_standin(const pagescan_t *ps, const pagescan_item_t *it)
{
    pagescan_range_t r = it->member[M_ACTOR];
    if (ps->items.p[r.off] != '{')
        return range_value(ps, r);
    json_t *o = json_object();
    if (o && it->actor_id.len && set_member(o, "id", range_value(ps, it->actor_id)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *pagescan_standin(const pagescan_t *ps, size_t i)
{
    const pagescan_item_t *it = &ps->item[i];
    if (!it->is_object)
        return json_loadb(ps->items.p + it->json.off, it->json.len, JSON_DECODE_ANY, NULL);
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (int m = 0; m < PAGESCAN_NMEMBERS; m++) {
        if (!it->member[m].len)
            continue;
        json_t *v = m == M_ACTOR ? actor_standin(ps, it) : range_value(ps, it->member[m]);
        if (set_member(o, member_names[m], v) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* ---- public ---- */

void pagescan_init(pagescan_t *ps)
{
    memset(ps, 0, sizeof *ps);
}

void pagescan_free(pagescan_t *ps)
{
    if (!ps)
        return;
    bytebuf_free(&ps->env);
    bytebuf_free(&ps->items);
    free(ps->item);
    memset(ps, 0, sizeof *ps);
}

int pagescan_run(pagescan_t *ps, const char *buf, size_t len)
{
    ps->env.len = ps->items.len = ps->nitems = 0;
    ps->err[0] = '\0';
    ps->err_pos = 0;
    sc_t s = {.ps = ps, .begin = (const unsigned char *)buf, .p = (const unsigned char *)buf,
              .end = (const unsigned char *)buf + len};
    if (len > PAGESCAN_MAX_LEN)
        return bad(&s, "document larger than 4 GiB");
    if (bytebuf_reserve(&ps->items, len) < 0 || bytebuf_reserve(&ps->env, 4095) < 0)
        return PAGESCAN_NOMEM;
    skip_ws(&s);
    int rc;
    if (s.p >= s.end)
        rc = bad(&s, "empty document");
    else if (*s.p != '{' && *s.p != '[')
        rc = bad(&s, "expected '{' or '[' at the top level");
    else
        rc = value(&s, TO_ENV, NULL);
    if (rc == 0) {
        skip_ws(&s);
        if (s.p != s.end)
            rc = bad(&s, "unexpected data after the document");
    }
    if (rc < 0)
        return s.nomem ? PAGESCAN_NOMEM : PAGESCAN_INVALID;
    ps->env.p[ps->env.len] = '\0';
    return PAGESCAN_OK;
}
