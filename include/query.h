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
#include "store.h"

typedef struct query query_t;

#define QUERY_MAX_DEPTH 32

/* Compile the query object (what Elasticsearch takes under "query"), e.g.
 * {"term": {"type": "Create"}}. `q` is BORROWED. Returns 0 and a new query in *out, or -1 with
 * err like "query.bool.must[1].range.published: unknown key 'gtx'". */
int query_compile(json_t *q, query_t **out, char *err, size_t errlen);

/* Parse text (a JSON query object) and compile it; depth over QUERY_MAX_DEPTH, malformed
 * JSON are errors. */
int query_compile_text(const char *text, size_t len, query_t **out, char *err, size_t errlen);

/* Does the record match? For a delete record, evaluates against the deleted version (rec->json).
 * Thread-safe for concurrent calls on one query. */
int query_match(const query_t *q, const store_rec_t *rec);

void query_free(query_t *q); /* NULL is a no-op */

#endif
