/* srcfilter.c -- _source filtering and the hit object (see srcfilter.h).
 *
 * Filtering parses the activity with jansson and walks it with the dotted path of each member:
 * a member is kept when a pattern includes it or an ancestor (and no exclude matches it), and
 * walked into when an include pattern may still match below it. Without patterns the stored
 * bytes are copied, never parsed. */
#include "srcfilter.h"
#include "errfmt.h"
#include <stdlib.h>
#include <string.h>

/* ======================================================================================
 * Reading the request
 * ====================================================================================== */

/* Patterns: a string or an array of strings, appended to *arr. */
static int patterns(json_t *v, const char ***arr, size_t *n, const char *what, char *err, size_t errlen)
{
    size_t cnt = json_is_array(v) ? json_array_size(v) : 1;
    if (!json_is_array(v) && !json_is_string(v))
        return errfmt(err, errlen, "[_source.%s] must be a string or an array of strings", what);
    const char **a = realloc(*arr, (*n + cnt + 1) * sizeof *a);
    if (!a)
        return errfmt(err, errlen, "out of memory");
    *arr = a;
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_string(e))
            return errfmt(err, errlen, "[_source.%s] must be a string or an array of strings", what);
        a[(*n)++] = json_string_value(e);
    }
    return 0;
}

int srcfilter_parse(srcfilter_t *f, json_t *v, char *err, size_t errlen)
{
    if (json_is_boolean(v)) {
        f->none = json_is_false(v);
        return 0;
    }
    if (json_is_string(v) || json_is_array(v))
        return patterns(v, &f->incl, &f->nincl, "includes", err, errlen);
    if (!json_is_object(v))
        return errfmt(err, errlen, "[_source] must be true, false, a pattern, a list of patterns or "
                                   "{\"includes\": [...], \"excludes\": [...]}");
    const char *k;
    json_t *e;
    json_object_foreach(v, k, e) {
        int r;
        if (strcmp(k, "includes") == 0 || strcmp(k, "include") == 0)
            r = patterns(e, &f->incl, &f->nincl, "includes", err, errlen);
        else if (strcmp(k, "excludes") == 0 || strcmp(k, "exclude") == 0)
            r = patterns(e, &f->excl, &f->nexcl, "excludes", err, errlen);
        else
            r = errfmt(err, errlen, "unknown key [%s] in [_source]; supported: includes, excludes", k);
        if (r < 0)
            return -1;
    }
    return 0;
}

void srcfilter_free(srcfilter_t *f)
{
    free(f->incl);
    free(f->excl);
    *f = (srcfilter_t){0};
}

/* ======================================================================================
 * Filtering
 * ====================================================================================== */

/* Does `s` match glob `p` ('*' = any run, dots included)? */
static bool glob(const char *p, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            resume = s;
        } else if (*p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static bool any_glob(const char **pats, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (glob(pats[i], path))
            return true;
    return false;
}

/* Could some include pattern match a path below `path` (path + "." + ...)? */
static bool may_include_below(const srcfilter_t *f, const char *path)
{
    size_t pl = strlen(path);
    for (size_t i = 0; i < f->nincl; i++) {
        const char *p = f->incl[i];
        size_t lit = strcspn(p, "*");
        bool has_star = p[lit] == '*';
        if (lit > pl && strncmp(p, path, pl) == 0 && p[pl] == '.')
            return true;   /* the pattern's literal part goes through path. */
        if (has_star && (lit <= pl ? strncmp(p, path, lit) == 0 : strncmp(p, path, pl) == 0))
            return true;   /* a star may reach below */
    }
    return false;
}

static char *path_join(const char *path, const char *key)
{
    size_t a = strlen(path), b = strlen(key);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, path, a);
    if (a)
        p[a++] = '.';
    memcpy(p + a, key, b + 1);
    return p;
}

static json_t *filter_value(const srcfilter_t *f, json_t *v, const char *path, bool inc, bool *oom);

static json_t *filter_object(const srcfilter_t *f, json_t *v, const char *path, bool inc, bool *oom)
{
    json_t *out = json_object();
    const char *k;
    json_t *child;
    if (!out)
        goto nomem;
    json_object_foreach(v, k, child) {
        char *cp = path_join(path, k);
        if (!cp)
            goto nomem;
        bool cinc = inc || any_glob(f->incl, f->nincl, cp);
        json_t *kept = NULL;
        if (!any_glob(f->excl, f->nexcl, cp) && (cinc || may_include_below(f, cp)))
            kept = filter_value(f, child, cp, cinc, oom);
        free(cp);
        if (kept && json_object_set_new(out, k, kept) < 0)
            goto nomem;
    }
    if (*oom || (!inc && json_object_size(out) == 0)) {
        json_decref(out);
        return NULL;
    }
    return out;
nomem:
    *oom = true;
    json_decref(out);
    return NULL;
}

static json_t *filter_array(const srcfilter_t *f, json_t *v, const char *path, bool inc, bool *oom)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;
    if (!out) {
        *oom = true;
        return NULL;
    }
    json_array_foreach(v, i, e) {
        json_t *kept = filter_value(f, e, path, inc, oom);
        if (kept && json_array_append_new(out, kept) < 0)
            *oom = true;
    }
    if (*oom || (!inc && json_array_size(out) == 0)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* What of `v` (at dotted `path`; `inc`: an ancestor was included) the patterns keep, or NULL.
 * Objects in arrays are filtered at the array's path, as Elasticsearch does. */
static json_t *filter_value(const srcfilter_t *f, json_t *v, const char *path, bool inc, bool *oom)
{
    if (json_is_object(v))
        return filter_object(f, v, path, inc, oom);
    if (json_is_array(v))
        return filter_array(f, v, path, inc, oom);
    return inc ? json_incref(v) : NULL;
}

void srcfilter_put(bytebuf_t *b, const srcfilter_t *f, const char *json, size_t len)
{
    if (!f->nincl && !f->nexcl) {
        bytebuf_append(b, json, len);
        return;
    }
    json_t *doc = json_loadb(json, len, 0, NULL);
    bool oom = false;
    json_t *kept = doc ? filter_value(f, doc, "", f->nincl == 0, &oom) : NULL;
    char *text = kept ? json_dumps(kept, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (oom || (kept && !text))
        b->failed = 1;
    bytebuf_appends(b, text ? text : doc ? "{}" : "null");
    free(text);
    json_decref(kept);
    json_decref(doc);
}

/* ======================================================================================
 * The hit object
 * ====================================================================================== */

int64_t srcfilter_ms(int64_t us)
{
    return us >= 0 ? us / 1000 : -((-(us + 1)) / 1000) - 1;
}

void srcfilter_put_hit(bytebuf_t *b, const srcfilter_t *f, const srcfilter_hit_t *h, bool scored)
{
    bytebuf_appends(b, "{\"_index\":");
    bytebuf_append_json_str(b, h->feed, h->feed_len);
    bytebuf_appends(b, ",\"_id\":");
    bytebuf_append_json_str(b, h->id, h->id_len);
    bytebuf_appends(b, scored ? ",\"_score\":1.0" : ",\"_score\":null");
    if (!f->none) {
        bytebuf_appends(b, ",\"_source\":");
        srcfilter_put(b, f, h->json, h->json_len);
    }
    bytebuf_printf(b, ",\"sort\":[%lld,", (long long)srcfilter_ms(h->published_us));
    bytebuf_append_json_str(b, h->id, h->id_len);
    bytebuf_appends(b, ",");
    bytebuf_append_json_str(b, h->feed, h->feed_len);
    bytebuf_appends(b, "]}");
}
