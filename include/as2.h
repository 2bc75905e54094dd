/* as2.h -- reading Activity Streams 2.0 pages and activities from parsed JSON (jansson).
 * Pure functions over json_t; nothing is allocated except where said; never aborts on input.
 *
 * Leniency (documented in README): a page is any JSON object with `orderedItems` or `items`
 * (array, or a single object: GoToSocial collapses one-item arrays), whatever its `type`
 * (DIT sends `Collection` with `orderedItems`). A collection without items but with `first`
 * is a collection, not an error. Links may be URL strings, Link objects ({"href": ...}) or
 * embedded pages (objects with items). */
#ifndef AS2_H
#define AS2_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

typedef struct {
    json_t *url;    /* BORROWED string (the URL) or NULL */
    json_t *page;   /* BORROWED embedded page object or NULL */
} as2_link_t;

typedef struct {
    json_t *items;                  /* BORROWED: array of items, or the single item object; NULL when none */
    size_t nitems;                  /* number of items (0 for an empty page or a bare collection) */
    as2_link_t next, prev, first, last;
} as2_page_t;

/* Read `root` as a page or collection. Returns 0, or -1 with a reason in err ("top level is
 * an array, not an object", "orderedItems is a number", ...). */
int as2_read_page(json_t *root, as2_page_t *out, char *err, size_t errlen);

/* The i-th item of a page (0 <= i < nitems), BORROWED. */
json_t *as2_page_item(const as2_page_t *p, size_t i);

/* Returns the URL of a link as a C string (BORROWED from the json) or NULL. */
const char *as2_link_url(const as2_link_t *l);

enum { AS2_TIME_PUBLISHED, AS2_TIME_UPDATED, AS2_TIME_INGEST };
#define AS2_MAX_TYPES 8

typedef struct {
    const char *id;                 /* BORROWED */
    int64_t published_us;           /* published, else updated, else the ingest time given */
    int time_source;                /* AS2_TIME_* */
    const char *types[AS2_MAX_TYPES]; /* BORROWED; from `type` string or array of strings */
    size_t ntypes;
    const char *actor;              /* BORROWED actor id: `actor` string, or `actor.id`; NULL if none */
} as2_activity_t;

/* Read one item as an activity. It must be a JSON object with a string `id`; a `published` or
 * `updated` that is present but not a valid RFC 3339 time is an error. Returns 0, or -1 with
 * a reason in err ("item 3 has no string id"). */
int as2_read_activity(json_t *item, int64_t ingest_us, as2_activity_t *out, char *err, size_t errlen);

#endif
