/* docfield.h -- the fields of a stored activity as Elasticsearch requests name them, and their
 * values: what the query DSL (query.c) and aggregations (agg.c) read from a record.
 *
 * A field is a dotted path into the activity JSON ("object.type", "dit:application"); a key
 * may itself contain dots, so "a.b" finds {"a":{"b":..}} and {"a.b":..}. Arrays anywhere along
 * the path are flattened: every element is a value. A trailing ".keyword" selects the same
 * values with keyword semantics (string values only), as Elasticsearch's dynamic mapping does
 * for strings. These names come from the record's stored columns, never from the JSON:
 *   feed, _index -> rec->feed          type -> rec->types (every type of the activity)
 *   actor, actor.id -> rec->actor      id, _id -> rec->id
 *   published -> rec->published_us (a date; "published.keyword" is the JSON's own field)
 *
 * Values carry the type of the stored value, as dynamic mapping would give it: a JSON number
 * is numeric (its text, parsed on demand by docfield_num_parse), true/false boolean, a string
 * a keyword that may also read as a date (docfield_str_date), `published` a date. null is a
 * value of type DOCFIELD_V_NULL and an object one of DOCFIELD_V_OBJ (for `exists`).
 *
 * Reading the activity: a docfield_doc_t parses rec->json at most once, lazily, into a token
 * tape (jsontape.h), however many fields are read from it; a record whose JSON does not parse
 * (or memory running out for a huge one) has no JSON fields. Nothing here allocates for
 * activities under JSONTAPE_STACK tokens; a compiled field is never written after compiling,
 * so one serves any number of threads, each with its own docfield_doc_t. */
#ifndef DOCFIELD_H
#define DOCFIELD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "jsontape.h"
#include "store.h"

/* Error codes (negative). */
enum {
    DOCFIELD_ERR_INVALID = -1,   /* not a field name we can read; the reason is in err */
    DOCFIELD_ERR_NOMEM = -2,
};

#define DOCFIELD_MAX_LEN 1024

/* Where a field's values come from. */
enum { DOCFIELD_JSON, DOCFIELD_FEED, DOCFIELD_TYPE, DOCFIELD_ACTOR, DOCFIELD_PUBLISHED, DOCFIELD_ID };

typedef struct {
    int kind;             /* DOCFIELD_JSON ... DOCFIELD_ID */
    bool keyword;         /* ".keyword": string values only */
    char *path;           /* owned; DOCFIELD_JSON only: the path without ".keyword" */
    size_t n;             /* its length */
} docfield_t;

/* Compile `name` (NUL-terminated, BORROWED) into *f, which must be zeroed. Returns 0, or
 * DOCFIELD_ERR_INVALID with a reason in err ("wildcards in field names are not supported",
 * "invalid field name (empty path segment)", "invalid field name (empty or longer than 1024
 * bytes)"), or DOCFIELD_ERR_NOMEM ("out of memory"). On error nothing is left to free. */
int docfield_compile(const char *name, docfield_t *f, char *err, size_t errlen);

/* Free what f owns (f itself is the caller's); the field is zeroed. */
void docfield_free(docfield_t *f);

/* Is the field a date (`published`)? A keyword (feed, type, actor, id, or ".keyword")? */
bool docfield_is_date(const docfield_t *f);
bool docfield_is_keyword(const docfield_t *f);

/* ---- values ---- */

typedef struct { const char *p; size_t n; } docfield_str_t;

enum { DOCFIELD_V_STR, DOCFIELD_V_NUM, DOCFIELD_V_BOOL, DOCFIELD_V_NULL, DOCFIELD_V_OBJ,
       DOCFIELD_V_DATE };

/* One value of a field. Strings are BORROWED: they point into the record or the tape (or a
 * scratch buffer, for a string with escapes) and are valid only during the callback. */
typedef struct {
    int type;             /* DOCFIELD_V_* */
    docfield_str_t s;     /* V_STR: decoded bytes; V_NUM: the number's JSON text */
    bool b;               /* V_BOOL */
    int64_t us;           /* V_DATE: microseconds since the epoch */
    uint32_t tok;         /* V_OBJ: the object's tape index (what exists looks into) */
} docfield_val_t;

/* A record being read. `rec` and its bytes are BORROWED; the tape is OWNED and keeps its heap
 * array across docfield_doc_reset, so one doc reads many records without allocating. */
typedef struct {
    const store_rec_t *rec;
    int parsed;           /* 0: not yet; 1: tape holds the activity object; -1: unusable */
    jsontape_t tape;
} docfield_doc_t;

/* Start reading rec (no allocation, no parsing yet). */
void docfield_doc_init(docfield_doc_t *d, const store_rec_t *rec);

/* Read another record with the same doc (the tape's memory is reused). */
void docfield_doc_reset(docfield_doc_t *d, const store_rec_t *rec);

/* Free what the doc owns; it may be initialized again. */
void docfield_doc_release(docfield_doc_t *d);

/* Parse rec->json if not yet done; true when it holds an object. */
bool docfield_doc_ready(docfield_doc_t *d);

/* Called with each value; return true to stop the walk. */
typedef bool docfield_fn(docfield_doc_t *d, const docfield_val_t *v, void *ud);

/* Call fn on every value of field f in d's record, arrays (nested ones too) flattened; with
 * ".keyword", on string values only. Returns true when fn stopped the walk. */
bool docfield_each(const docfield_t *f, docfield_doc_t *d, docfield_fn *fn, void *ud);

/* ---- conversions ---- */

typedef struct { bool is_int; int64_t i; double d; } docfield_num_t;

/* Parse a whole decimal number ("5", "-2.5e3"; no spaces, hex, inf or nan) into *out:
 * integers that fit int64 exactly, anything else as a double. */
bool docfield_num_parse(const char *s, size_t n, docfield_num_t *out);

/* -1, 0 or 1; exact between integers. */
int docfield_num_cmp(const docfield_num_t *a, const docfield_num_t *b);

/* A string value read as a date (not for ".keyword" fields): the instant it names (the start
 * of the span it covers), as datemath_parse_date reads it. */
bool docfield_str_date(const docfield_t *f, const docfield_str_t *s, int64_t *us);

#endif
