/* query.h -- a subset of the Elasticsearch Query DSL, compiled once per request and evaluated
 * against stored activities: match_all, match_none, term, terms, range (gt/gte/lt/lte on
 * RFC 3339 dates and numbers), prefix, exists, ids, match (operator or|and), bool (must,
 * filter, should + minimum_should_match, must_not). Fields are dotted paths into the activity;
 * arrays match if any element matches. Clauses on `feed`/`_index`, `type`, `actor.id`/`actor`,
 * `published` and `id`/`_id` use the record's stored fields and never parse the JSON; other
 * clauses parse it once per record (lazily), never once per clause. Anything unsupported is
 * an error naming the clause and its path. */
#ifndef QUERY_H
#define QUERY_H
#include <stddef.h>
#include <jansson.h>
#include "docfield.h"
#include "store.h"

typedef struct query query_t;

#define QUERY_MAX_DEPTH 32             /* nesting of request JSON (jansson recurses per level) */
#define QUERY_MAX_TEXT (1024 * 1024)   /* bytes of request JSON */

/* Compile the query object (what Elasticsearch takes under "query"), e.g.
 * {"term": {"type": "Create"}}. `q` is BORROWED. Returns 0 and a new query in *out, or -1 with
 * err like "query.bool.must[1].range.published: unknown key 'gtx'" (an unsupported clause or
 * key, a value of the wrong type, a bad date, nesting over QUERY_MAX_DEPTH, "out of memory"). */
int query_compile(json_t *q, query_t **out, char *err, size_t errlen);

/* The one door through which request text that carries a query (a query object, a search body,
 * a `q` parameter) becomes JSON, so that every endpoint has the same limits: at most
 * QUERY_MAX_TEXT bytes, nesting at most QUERY_MAX_DEPTH, well-formed JSON (any value; callers
 * check the type), no duplicate keys. `what` names the text in messages ("q", "request body").
 * Returns 0 and a NEW reference in *out, or -1 with err: "<what> is larger than 1 MiB (N bytes)",
 * "<what> is nested deeper than 32", "<what> is not valid JSON: <reason> at line L column C". */
int query_parse_text(const char *text, size_t len, const char *what, json_t **out, char *err,
                     size_t errlen);

/* query_parse_text (as "query") and query_compile in one call. Returns 0 and a new query in
 * *out, or -1 with err. */
int query_compile_text(const char *text, size_t len, query_t **out, char *err, size_t errlen);

/* Does the record match? For a delete record, evaluates against the deleted version (rec->json).
 * Thread-safe for concurrent calls on one query. */
int query_match(const query_t *q, const store_rec_t *rec);

/* The same for a record already being read through `doc` (docfield.h), so that a caller that
 * reads other fields of the record too (aggregations) parses its JSON once: clauses use the
 * doc's tape, parsing it if nobody has yet. `doc` is BORROWED; returns 1 or 0. */
int query_match_doc(const query_t *q, docfield_doc_t *doc);

/* May the query admit the deleted activity of a tombstone `rec` (a STORE_REC_DELETE record:
 * feed, id, types and published, no actor, no content)? Evaluated three-valued: clauses on
 * feed/_index, type, id/_id and published (and match_all, match_none, ids) decide; a clause on
 * any other field is unknown. bool must/filter: no if any is no; must_not: no if any is yes
 * (unknown admits); should: unknown ones count as matching. Returns 0 only when the query
 * certainly refuses the activity, else 1. Never reads rec->json. Thread-safe like query_match.
 * (A client's scope decides which deletes reach it: a delete of what it may have seen.) */
int query_admits_tombstone(const query_t *q, const store_rec_t *rec);

void query_free(query_t *q); /* NULL is a no-op */

#endif
