/* esindex.c -- Elasticsearch index expressions over the feeds. See esindex.h. */
#include "esindex.h"
#include "errfmt.h"
#include <stdlib.h>
#include <string.h>

bool esindex_glob(const char *pat, const char *s, size_t n)
{
    const char *star = NULL;   /* just after the last '*' seen */
    size_t i = 0, from = 0;    /* from: where that star's run started in s */
    while (i < n) {
        if (*pat == '*') {
            star = ++pat;
            from = i;
        } else if (*pat && *pat == s[i]) {
            pat++;
            i++;
        } else if (star) {   /* let the star take one more byte */
            pat = star;
            i = ++from;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return !*pat;
}

static bool is_all(const char *item, size_t n)
{
    return (n == 4 && memcmp(item, "_all", 4) == 0) || (n == 1 && item[0] == '*') ||
           (n == strlen(ESINDEX_ALL_ALIAS) && memcmp(item, ESINDEX_ALL_ALIAS, n) == 0);
}

bool esindex_is_single(const char *expr)
{
    size_t n = expr ? strlen(expr) : 0;
    return n && !strpbrk(expr, ",*") && expr[0] != '-' && !is_all(expr, n);
}

void esindex_free(esindex_t *x)
{
    for (size_t i = 0; i < x->n; i++)
        free(x->feeds[i]);
    free(x->feeds);
    *x = (esindex_t){0};
}

/* ---- the set being built ---- */

typedef struct {
    esindex_t *x;
    size_t cap;
    bool nomem;
} set_t;

static bool set_has(const esindex_t *x, const char *name)
{
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->feeds[i], name) == 0)
            return true;
    return false;
}

static void set_add(set_t *s, const char *name)
{
    esindex_t *x = s->x;
    if (s->nomem || x->all || set_has(x, name))
        return;
    if (x->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        char **p = realloc(x->feeds, cap * sizeof *p);
        if (!p) {
            s->nomem = true;
            return;
        }
        x->feeds = p;
        s->cap = cap;
    }
    if (!(x->feeds[x->n] = strdup(name)))
        s->nomem = true;
    else
        x->n++;
}

/* Exclusions need the list: "every feed" becomes the known ones. */
static void set_materialize(set_t *s, const char *const *known, size_t nknown)
{
    if (!s->x->all)
        return;
    s->x->all = false;
    for (size_t i = 0; i < nknown; i++)
        set_add(s, known[i]);
}

static void set_remove(set_t *s, const char *pat, bool wild)
{
    esindex_t *x = s->x;
    size_t k = 0;
    for (size_t i = 0; i < x->n; i++) {
        bool drop = wild ? esindex_glob(pat, x->feeds[i], strlen(x->feeds[i])) : strcmp(pat, x->feeds[i]) == 0;
        if (drop)
            free(x->feeds[i]);
        else
            x->feeds[k++] = x->feeds[i];
    }
    x->n = k;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- resolving ---- */

static bool known_has(const char *const *known, size_t nknown, const char *name)
{
    for (size_t i = 0; i < nknown; i++)
        if (strcmp(known[i], name) == 0)
            return true;
    return false;
}

/* One item (NUL-terminated). Returns 0 or ESINDEX_ERR_MISSING. */
static int add_item(set_t *s, const char *item, const char *const *known, size_t nknown, const esindex_opts_t *o,
                    char *err, size_t errlen)
{
    size_t n = strlen(item);
    bool wild = strchr(item, '*') != NULL;
    if (n == 0)
        return 0;
    if (item[0] == '-' && n > 1) {
        set_materialize(s, known, nknown);
        set_remove(s, item + 1, wild);
        return 0;
    }
    if (is_all(item, n)) {
        esindex_free(s->x);
        s->cap = 0;
        s->x->all = true;
        return 0;
    }
    if (wild) {
        for (size_t i = 0; i < nknown && !o->no_wildcards; i++)
            if (esindex_glob(item, known[i], strlen(known[i])))
                set_add(s, known[i]);
        return 0;
    }
    if (known_has(known, nknown, item))
        set_add(s, item);
    else if (!o->ignore_unavailable) {
        errfmt(err, errlen, "%s", item);
        return ESINDEX_ERR_MISSING;
    }
    return 0;
}

int esindex_resolve(const char *expr, const char *const *known, size_t nknown, const esindex_opts_t *o,
                    esindex_t *out, char *err, size_t errlen)
{
    static const esindex_opts_t defaults = {0};
    *out = (esindex_t){0};
    o = o ? o : &defaults;
    if (!expr || !*expr)
        expr = "_all";
    char *copy = strdup(expr), *save = NULL;
    set_t s = {.x = out, .nomem = !copy};
    int rc = 0;
    for (char *item = copy ? strtok_r(copy, ",", &save) : NULL; item && rc == 0 && !s.nomem;
         item = strtok_r(NULL, ",", &save))
        rc = add_item(&s, item, known, nknown, o, err, errlen);
    free(copy);
    if (rc == 0 && !s.nomem && o->forbid_empty && !out->all && out->n == 0) {
        errfmt(err, errlen, "%s", expr);
        rc = ESINDEX_ERR_MISSING;
    }
    if (rc == 0 && s.nomem)
        rc = ESINDEX_ERR_NOMEM;
    if (rc) {
        esindex_free(out);
        return rc;
    }
    if (out->n > 1)
        qsort(out->feeds, out->n, sizeof *out->feeds, cmp_names);
    return 0;
}

int esindex_copy(esindex_t *dst, const esindex_t *src)
{
    set_t s = {.x = dst};
    *dst = (esindex_t){.all = src->all};
    for (size_t i = 0; i < src->n; i++)
        set_add(&s, src->feeds[i]);
    if (!s.nomem)
        return 0;
    esindex_free(dst);
    return ESINDEX_ERR_NOMEM;
}

/* Byte order of feed against name, as strcmp orders the (NUL-free) names. */
static int cmp_feed(const char *feed, size_t len, const char *name)
{
    size_t nl = strlen(name);
    int c = memcmp(feed, name, len < nl ? len : nl);
    return c ? c : (len > nl) - (len < nl);
}

bool esindex_has(const esindex_t *x, const char *feed, size_t len)
{
    if (x->all)
        return true;
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_feed(feed, len, x->feeds[mid]);
        if (c == 0)
            return true;
        if (c > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}
