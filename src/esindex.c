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

/* ---- the set ---- */

/* Byte order of feed against name, as strcmp orders the (NUL-free) names. */
static int cmp_feed(const char *feed, size_t len, const char *name)
{
    size_t nl = strlen(name);
    int c = memcmp(feed, name, len < nl ? len : nl);
    return c ? c : (len > nl) - (len < nl);
}

/* Where feed is, or would go, in the sorted list. */
static size_t lower_bound(const esindex_t *x, const char *feed, size_t len, bool *found)
{
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_feed(feed, len, x->feeds[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < x->n && cmp_feed(feed, len, x->feeds[lo]) == 0;
    return lo;
}

int esindex_add(esindex_t *x, const char *feed, size_t len)
{
    bool found;
    size_t at = x->all ? 0 : lower_bound(x, feed, len, &found);
    if (x->all || found)
        return 0;
    if (x->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 8;
        char **p = realloc(x->feeds, cap * sizeof *p);
        if (!p)
            return ESINDEX_ERR_NOMEM;
        x->feeds = p;
        x->cap = cap;
    }
    char *copy = strndup(feed, len);
    if (!copy)
        return ESINDEX_ERR_NOMEM;
    memmove(x->feeds + at + 1, x->feeds + at, (x->n - at) * sizeof *x->feeds);
    x->feeds[at] = copy;
    x->n++;
    return 0;
}

bool esindex_has(const esindex_t *x, const char *feed, size_t len)
{
    bool found = false;
    if (!x->all)
        lower_bound(x, feed, len, &found);
    return x->all || found;
}

static int add_name(esindex_t *x, const char *name)
{
    return esindex_add(x, name, strlen(name));
}

/* Exclusions need the list: "every feed" becomes the known ones. */
static int materialize(esindex_t *x, const char *const *known, size_t nknown)
{
    int rc = 0;
    if (!x->all)
        return 0;
    x->all = false;
    for (size_t i = 0; i < nknown && rc == 0; i++)
        rc = add_name(x, known[i]);
    return rc;
}

static void remove_matching(esindex_t *x, const char *pat, bool wild)
{
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

/* ---- resolving ---- */

static bool known_has(const char *const *known, size_t nknown, const char *name)
{
    for (size_t i = 0; i < nknown; i++)
        if (strcmp(known[i], name) == 0)
            return true;
    return false;
}

/* One item (NUL-terminated). Returns 0, ESINDEX_ERR_MISSING or ESINDEX_ERR_NOMEM. */
static int add_item(esindex_t *x, const char *item, const char *const *known, size_t nknown, const esindex_opts_t *o,
                    char *err, size_t errlen)
{
    size_t n = strlen(item);
    bool wild = strchr(item, '*') != NULL;
    int rc = 0;
    if (n == 0)
        return 0;
    if (item[0] == '-' && n > 1) {
        rc = materialize(x, known, nknown);
        remove_matching(x, item + 1, wild);
        return rc;
    }
    if (is_all(item, n)) {
        esindex_free(x);
        x->all = true;
        return 0;
    }
    if (wild) {
        for (size_t i = 0; i < nknown && !o->no_wildcards && rc == 0; i++)
            if (esindex_glob(item, known[i], strlen(known[i])))
                rc = add_name(x, known[i]);
        return rc;
    }
    if (known_has(known, nknown, item))
        return add_name(x, item);
    if (o->ignore_unavailable)
        return 0;
    errfmt(err, errlen, "%s", item);
    return ESINDEX_ERR_MISSING;
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
    int rc = copy ? 0 : ESINDEX_ERR_NOMEM;
    for (char *item = copy ? strtok_r(copy, ",", &save) : NULL; item && rc == 0; item = strtok_r(NULL, ",", &save))
        rc = add_item(out, item, known, nknown, o, err, errlen);
    free(copy);
    if (rc == 0 && o->forbid_empty && !out->all && out->n == 0) {
        errfmt(err, errlen, "%s", expr);
        rc = ESINDEX_ERR_MISSING;
    }
    if (rc)
        esindex_free(out);
    return rc;
}

int esindex_copy(esindex_t *dst, const esindex_t *src)
{
    int rc = 0;
    *dst = (esindex_t){.all = src->all};
    for (size_t i = 0; i < src->n && rc == 0; i++)
        rc = add_name(dst, src->feeds[i]);
    if (rc)
        esindex_free(dst);
    return rc;
}
