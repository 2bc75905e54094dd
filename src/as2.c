/* as2.c -- reading Activity Streams 2.0 pages and activities from jansson values.
 *
 * Pure functions over json_t: nothing is allocated, every returned pointer is BORROWED from
 * the json and lives as long as it does, and no JSON value makes them crash.
 *
 * Decisions beyond as2.h (the leniency that real feeds need):
 * - Page: `orderedItems` wins over `items` when both are there. Either may be an array or a
 *   single object (GoToSocial collapses one-item arrays); any other type, JSON null
 *   included, is an error. Neither present: a page with 0 items (a bare collection with
 *   `first`, a terminal empty page, or `{}`). `type` is never checked: DIT sends
 *   `Collection` with `orderedItems`, which a strict reader would reject.
 * - Links (`next`, `prev`, `first`, `last`): absent, JSON null or "" mean no link.
 *   A string is the URL. An object is, in this order: an embedded page if it has
 *   `orderedItems`/`items` or a `type` ending in "CollectionPage" (then `page` is set, and
 *   `url` too when the page has a string `id`, so a caller may use either); a Link if it has
 *   `href` or `type: "Link"` (its `href` must then be a non-empty string); otherwise any
 *   object with a string `id` names the URL. Anything else (a number, an array, an object
 *   with none of those such as an embedded Offer) is an error: silently dropping `next`
 *   would truncate a feed without a word.
 * - Activity: an object with a non-empty string `id`. `published`, else `updated`, else
 *   the ingest time; JSON null counts as absent, anything else present must be a valid
 *   RFC 3339 string (both are checked even when `published` alone is used).
 *   `type`: a string, or an array whose string members are kept (at most AS2_MAX_TYPES,
 *   others ignored); any other `type` value is ignored. `actor`: a string, an object's
 *   string `id`, or for an array the first element's (string or `id`); else NULL.
 * - Ids, URLs and actors are used as C strings, so one with an embedded NUL ("\u0000") is
 *   refused (id, link, href) or treated as absent (actor), never truncated. */
#include "as2.h"
#include "errfmt.h"
#include "timefmt.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* "an object", "a number", ... for error messages. */
static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "of unknown type";
}

/* The C string of `v` if it is a non-empty JSON string without an embedded NUL (which
 * would silently truncate it), else NULL. */
static const char *clean_str(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && *s && strlen(s) == json_string_length(v) ? s : NULL;
}

static const char *str_member(const json_t *obj, const char *key)
{
    return clean_str(json_object_get(obj, key));
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static int is_embedded_page(json_t *obj)
{
    if (json_object_get(obj, "orderedItems") || json_object_get(obj, "items"))
        return 1;
    const char *type = json_string_value(json_object_get(obj, "type"));
    return type && ends_with(type, "CollectionPage");
}

static int read_link_object(json_t *obj, const char *name, as2_link_t *out, char *err,
                            size_t errlen)
{
    if (is_embedded_page(obj)) {
        out->page = obj;
        json_t *id = json_object_get(obj, "id");
        out->url = str_member(obj, "id") ? id : NULL;
        return 0;
    }
    json_t *href = json_object_get(obj, "href");
    const char *type = json_string_value(json_object_get(obj, "type"));
    if (href || (type && strcmp(type, "Link") == 0)) {
        if (!str_member(obj, "href"))
            return errfmt(err, errlen, "%s is a Link without a string href", name);
        out->url = href;
        return 0;
    }
    if (str_member(obj, "id")) {
        out->url = json_object_get(obj, "id");
        return 0;
    }
    return errfmt(err, errlen, "%s is an object without href, id or items", name);
}

static int read_link(json_t *root, const char *name, as2_link_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, name);
    out->url = out->page = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        if (json_string_length(v) == 0)
            return 0;
        if (!clean_str(v))
            return errfmt(err, errlen, "%s contains a NUL character", name);
        out->url = v;
        return 0;
    }
    if (json_is_object(v))
        return read_link_object(v, name, out, err, errlen);
    return errfmt(err, errlen, "%s is %s, not a URL, Link or page", name, type_name(v));
}

static int read_items(json_t *root, as2_page_t *out, char *err, size_t errlen)
{
    const char *key = "orderedItems";
    json_t *v = json_object_get(root, key);
    if (!v) {
        key = "items";
        v = json_object_get(root, key);
    }
    if (!v)
        return 0;
    if (json_is_array(v)) {
        out->items = v;
        out->nitems = json_array_size(v);
        return 0;
    }
    if (json_is_object(v)) {
        out->items = v;
        out->nitems = 1;
        return 0;
    }
    return errfmt(err, errlen, "%s is %s, not an array or object", key, type_name(v));
}

int as2_read_page(json_t *root, as2_page_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!root)
        return errfmt(err, errlen, "no document");
    if (!json_is_object(root))
        return errfmt(err, errlen, "top level is %s, not an object", type_name(root));
    if (read_items(root, out, err, errlen) < 0 ||
        read_link(root, "next", &out->next, err, errlen) < 0 ||
        read_link(root, "prev", &out->prev, err, errlen) < 0 ||
        read_link(root, "first", &out->first, err, errlen) < 0 ||
        read_link(root, "last", &out->last, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    memset(out, 0, sizeof *out);
    return -1;
}

json_t *as2_page_item(const as2_page_t *p, size_t i)
{
    if (!p || !p->items || i >= p->nitems)
        return NULL;
    if (json_is_array(p->items))
        return json_array_get(p->items, i);
    return p->items; /* a single object: i == 0 */
}

const char *as2_link_url(const as2_link_t *l)
{
    return l ? json_string_value(l->url) : NULL;
}

/* Reads the time member `key` if present: 1 and *us on success, 0 when absent or null,
 * -1 (with err) when present but not a valid time. */
static int read_time(json_t *item, const char *key, int64_t *us, char *err, size_t errlen)
{
    json_t *v = json_object_get(item, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return errfmt(err, errlen, "%s is %s, not a string", key, type_name(v));
    const char *why = "invalid";
    if (timefmt_parse_rfc3339(json_string_value(v), json_string_length(v), us, &why) < 0)
        return errfmt(err, errlen, "%s '%.64s': %s", key, json_string_value(v), why);
    return 1;
}

static int read_times(json_t *item, int64_t ingest_us, as2_activity_t *out, char *err,
                      size_t errlen)
{
    int64_t pub = 0, upd = 0;
    int has_pub = read_time(item, "published", &pub, err, errlen);
    if (has_pub < 0)
        return -1;
    int has_upd = read_time(item, "updated", &upd, err, errlen);
    if (has_upd < 0)
        return -1;
    out->published_us = has_pub ? pub : has_upd ? upd : ingest_us;
    out->time_source = has_pub ? AS2_TIME_PUBLISHED : has_upd ? AS2_TIME_UPDATED : AS2_TIME_INGEST;
    return 0;
}

static void read_types(json_t *item, as2_activity_t *out)
{
    json_t *type = json_object_get(item, "type");
    if (json_is_string(type)) {
        out->types[out->ntypes++] = json_string_value(type);
        return;
    }
    size_t i;
    json_t *t;
    json_array_foreach(type, i, t) {
        if (out->ntypes == AS2_MAX_TYPES)
            break;
        if (json_is_string(t))
            out->types[out->ntypes++] = json_string_value(t);
    }
}

/* An actor reference: a non-empty string, or an object's non-empty string `id`. */
static const char *actor_id(json_t *v)
{
    if (json_is_object(v))
        return str_member(v, "id");
    return clean_str(v);
}

static const char *read_actor(json_t *item)
{
    json_t *actor = json_object_get(item, "actor");
    if (json_is_array(actor))
        return actor_id(json_array_get(actor, 0));
    return actor_id(actor);
}

int as2_read_activity(json_t *item, int64_t ingest_us, as2_activity_t *out, char *err,
                      size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!item)
        return errfmt(err, errlen, "no item");
    if (!json_is_object(item))
        return errfmt(err, errlen, "item is %s, not an object", type_name(item));
    json_t *id = json_object_get(item, "id");
    if (!id)
        return errfmt(err, errlen, "item has no string id");
    if (!json_is_string(id))
        return errfmt(err, errlen, "id is %s, not a string", type_name(id));
    if (json_string_length(id) == 0)
        return errfmt(err, errlen, "id is an empty string");
    if (!clean_str(id))
        return errfmt(err, errlen, "id contains a NUL character");
    if (read_times(item, ingest_us, out, err, errlen) < 0)
        goto fail;
    out->id = json_string_value(id);
    read_types(item, out);
    out->actor = read_actor(item);
    return 0;
fail:
    memset(out, 0, sizeof *out);
    return -1;
}
