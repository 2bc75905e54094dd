/* docfield.c -- field names compiled once, values read per record (see docfield.h).
 *
 * The walk over the tape follows the field's path segment by segment: the members of an
 * object whose key is the path, a dotted prefix of it, or (for a key like "meta.source" under
 * the path "meta") a dotted extension of it, which names an object whose contents are that
 * member's value. Arrays on the way are walked element by element, nested arrays flattened. */
#include "docfield.h"
#include "datemath.h"
#include "errfmt.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

/* ======================================================================================
 * Field names
 * ====================================================================================== */

static const struct { const char *name; int kind; } stored_fields[] = {
    {"feed", DOCFIELD_FEED}, {"_index", DOCFIELD_FEED}, {"type", DOCFIELD_TYPE},
    {"actor", DOCFIELD_ACTOR}, {"actor.id", DOCFIELD_ACTOR}, {"published", DOCFIELD_PUBLISHED},
    {"id", DOCFIELD_ID}, {"_id", DOCFIELD_ID},
};

int docfield_compile(const char *name, docfield_t *f, char *err, size_t errlen)
{
    size_t n = strlen(name);
    if (n == 0 || n > DOCFIELD_MAX_LEN) {
        errfmt(err, errlen, "invalid field name (empty or longer than %d bytes)", DOCFIELD_MAX_LEN);
        return DOCFIELD_ERR_INVALID;
    }
    if (strchr(name, '*')) {
        errfmt(err, errlen, "wildcards in field names are not supported");
        return DOCFIELD_ERR_INVALID;
    }
    if (name[0] == '.' || name[n - 1] == '.' || strstr(name, "..")) {
        errfmt(err, errlen, "invalid field name (empty path segment)");
        return DOCFIELD_ERR_INVALID;
    }
    if (n > 8 && memcmp(name + n - 8, ".keyword", 8) == 0) {
        f->keyword = true;
        n -= 8;
    }
    for (size_t i = 0; i < sizeof stored_fields / sizeof stored_fields[0]; i++) {
        if (strlen(stored_fields[i].name) == n && memcmp(stored_fields[i].name, name, n) == 0 &&
            !(f->keyword && stored_fields[i].kind == DOCFIELD_PUBLISHED)) {
            f->kind = stored_fields[i].kind;
            return 0;
        }
    }
    f->kind = DOCFIELD_JSON;
    if (!(f->path = strndup(name, n))) {
        errfmt(err, errlen, "out of memory");
        f->keyword = false;
        return DOCFIELD_ERR_NOMEM;
    }
    f->n = n;
    return 0;
}

void docfield_free(docfield_t *f)
{
    free(f->path);
    *f = (docfield_t){0};
}

bool docfield_is_date(const docfield_t *f)
{
    return f->kind == DOCFIELD_PUBLISHED;
}

bool docfield_is_keyword(const docfield_t *f)
{
    return f->keyword || (f->kind != DOCFIELD_JSON && f->kind != DOCFIELD_PUBLISHED);
}

/* ======================================================================================
 * Reading a record
 * ====================================================================================== */

void docfield_doc_init(docfield_doc_t *d, const store_rec_t *rec)
{
    d->rec = rec;
    d->parsed = 0;
    jsontape_init(&d->tape);
}

void docfield_doc_reset(docfield_doc_t *d, const store_rec_t *rec)
{
    d->rec = rec;
    d->parsed = 0;
}

void docfield_doc_release(docfield_doc_t *d)
{
    jsontape_release(&d->tape);
    d->parsed = 0;
}

bool docfield_doc_ready(docfield_doc_t *d)
{
    if (d->parsed == 0) {
        const store_rec_t *r = d->rec;
        bool ok = r->json && jsontape_parse(&d->tape, r->json, r->json_len) == 0 && d->tape.n > 0 &&
                  d->tape.tok[0].type == JSONTAPE_OBJ;
        d->parsed = ok ? 1 : -1;
    }
    return d->parsed == 1;
}

/* The decoded bytes of string token k; a string that cannot be decoded for lack of memory
 * reads as empty. */
static docfield_str_t tape_str(const jsontape_t *t, uint32_t k, jsontape_scratch_t *sc)
{
    docfield_str_t v;
    jsontape_str(t, k, sc, &v.p, &v.n);   /* on error v is "", 0 */
    return v;
}

/* The arguments of one walk. */
typedef struct {
    const docfield_t *f;
    docfield_doc_t *d;
    docfield_fn *fn;
    void *ud;
} walk_t;

static bool visit_token(const walk_t *w, uint32_t k)
{
    const jsontape_tok_t *t = &w->d->tape.tok[k];
    docfield_val_t v = {.tok = k};
    jsontape_scratch_t sc;   /* not zeroed: only .heap needs a value (see visit_object) */
    sc.heap = NULL;
    switch (t->type) {
    case JSONTAPE_STR: v.type = DOCFIELD_V_STR; v.s = tape_str(&w->d->tape, k, &sc); break;
    case JSONTAPE_NUM: v.type = DOCFIELD_V_NUM; v.s = (docfield_str_t){w->d->tape.s + t->off, t->len}; break;
    case JSONTAPE_TRUE:
    case JSONTAPE_FALSE: v.type = DOCFIELD_V_BOOL; v.b = t->type == JSONTAPE_TRUE; break;
    case JSONTAPE_OBJ: v.type = DOCFIELD_V_OBJ; break;
    default: v.type = DOCFIELD_V_NULL; break;
    }
    if (w->f->keyword && v.type != DOCFIELD_V_STR)
        return false;
    bool stop = w->fn(w->d, &v, w->ud);
    jsontape_scratch_release(&sc);
    return stop;
}

/* Every value at node k, arrays (nested ones too) flattened. */
static bool visit_values(const walk_t *w, uint32_t k)
{
    const jsontape_tok_t *tok = w->d->tape.tok;
    if (tok[k].type != JSONTAPE_ARR)
        return visit_token(w, k);
    for (uint32_t i = k + 1; i < tok[k].end;) {
        if (tok[i].type == JSONTAPE_ARR) {
            i++;   /* descend: its elements follow */
            continue;
        }
        if (visit_token(w, i))
            return true;
        i = tok[i].end;
    }
    return false;
}

static bool visit_path(const walk_t *w, uint32_t k, const char *path, size_t n);

/* Members of object k whose key is `path`, a dotted prefix of it, or (for a key like
 * "meta.source" under path "meta") a dotted extension of it: the path then names an object
 * whose contents are that member's value, which only exists can use. */
static bool visit_object(const walk_t *w, uint32_t k, const char *path, size_t n)
{
    const jsontape_tok_t *tok = w->d->tape.tok;
    for (uint32_t i = k + 1; i < tok[k].end; i = tok[i + 1].end) {
        jsontape_scratch_t sc;   /* only .heap needs a value: zeroing its 256-byte buffer for */
        sc.heap = NULL;          /* every key was a third of the walk */
        docfield_str_t key = tape_str(&w->d->tape, i, &sc);
        size_t kn = key.n;
        bool prefix = kn > 0 && kn <= n && (kn == n || path[kn] == '.') && memcmp(key.p, path, kn) == 0;
        bool ext = kn > n + 1 && key.p[n] == '.' && memcmp(key.p, path, n) == 0;
        jsontape_scratch_release(&sc);
        bool stop = false;
        if (prefix && kn == n)
            stop = visit_values(w, i + 1);
        else if (prefix)
            stop = visit_path(w, i + 1, path + kn + 1, n - kn - 1);
        else if (ext && !w->f->keyword)
            stop = w->fn(w->d, &(docfield_val_t){.type = DOCFIELD_V_OBJ, .tok = i + 1}, w->ud);
        if (stop)
            return true;
    }
    return false;
}

static bool visit_path(const walk_t *w, uint32_t k, const char *path, size_t n)
{
    const jsontape_tok_t *tok = w->d->tape.tok;
    if (tok[k].type == JSONTAPE_OBJ)
        return visit_object(w, k, path, n);
    if (tok[k].type != JSONTAPE_ARR)
        return false;
    for (uint32_t i = k + 1; i < tok[k].end;) {
        if (tok[i].type == JSONTAPE_ARR) {
            i++;
            continue;
        }
        if (tok[i].type == JSONTAPE_OBJ && visit_object(w, i, path, n))
            return true;
        i = tok[i].end;
    }
    return false;
}

static bool visit_str(const walk_t *w, const char *s, size_t n)
{
    docfield_val_t v = {.type = DOCFIELD_V_STR, .s = {s ? s : "", s ? n : 0}};
    return w->fn(w->d, &v, w->ud);
}

/* Each type of the record's types column. Types are a few bytes: a plain loop beats memchr. */
static bool visit_types(const walk_t *w, const store_rec_t *r)
{
    const char *t = r->types;
    for (size_t i = 0, n = r->types_len; i < n;) {
        size_t e = i;
        while (e < n && t[e] != STORE_TYPE_SEP)
            e++;
        if (e > i && visit_str(w, t + i, e - i))
            return true;
        i = e + 1;
    }
    return false;
}

bool docfield_each(const docfield_t *f, docfield_doc_t *d, docfield_fn *fn, void *ud)
{
    const store_rec_t *r = d->rec;
    walk_t w = {f, d, fn, ud};
    switch (f->kind) {
    case DOCFIELD_FEED: return visit_str(&w, r->feed, r->feed_len);
    case DOCFIELD_ID: return visit_str(&w, r->id, r->id_len);
    case DOCFIELD_ACTOR: return r->actor_len > 0 && visit_str(&w, r->actor, r->actor_len);
    case DOCFIELD_TYPE: return visit_types(&w, r);
    case DOCFIELD_PUBLISHED: {
        docfield_val_t v = {.type = DOCFIELD_V_DATE, .us = r->published_us};
        return fn(d, &v, ud);
    }
    default:
        return docfield_doc_ready(d) && visit_path(&w, 0, f->path, f->n);
    }
}

/* ======================================================================================
 * Conversions
 * ====================================================================================== */

bool docfield_num_parse(const char *s, size_t n, docfield_num_t *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    bool intlike = true;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.' || c == 'e' || c == 'E')
            intlike = false;
        else if (!is_digit(c) && c != '-' && c != '+')
            return false;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    if (intlike) {
        long long v = strtoll(buf, &end, 10);
        if (*end == '\0' && end != buf && errno == 0) {
            *out = (docfield_num_t){true, v, (double)v};
            return true;
        }
        errno = 0;
    }
    double d = strtod(buf, &end);
    if (*end != '\0' || end == buf || !isfinite(d))
        return false;
    *out = (docfield_num_t){false, 0, d};
    return true;
}

int docfield_num_cmp(const docfield_num_t *a, const docfield_num_t *b)
{
    if (a->is_int && b->is_int)
        return (a->i > b->i) - (a->i < b->i);
    return (a->d > b->d) - (a->d < b->d);
}

bool docfield_str_date(const docfield_t *f, const docfield_str_t *s, int64_t *us)
{
    datemath_span_t sp;
    if (f->keyword || datemath_parse_date(s->p, s->n, &sp) < 0)
        return false;
    *us = sp.lo;
    return true;
}
