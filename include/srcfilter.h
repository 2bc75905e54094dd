/* srcfilter.h -- the _source of search hits: which parts of an activity a request asks for
 * (Elasticsearch's source filtering), and the hit object that carries it. Used by _search
 * (search.c) and the top_hits aggregation (agg.c).
 *
 * A request gives true (default), false, a pattern, a list of patterns, or {"includes": [...],
 * "excludes": [...]} ("include"/"exclude" too). Patterns are dotted paths with '*' matching
 * any run of characters (dots too); an included object is included whole; excludes win;
 * objects inside arrays are filtered at the array's path, as Elasticsearch does.
 *
 * Out of memory while filtering sets the output buffer's sticky failure flag. */
#ifndef SRCFILTER_H
#define SRCFILTER_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bytebuf.h"

typedef struct {
    bool none;                  /* _source: false */
    const char **incl, **excl;  /* owned arrays; the patterns are BORROWED from the request JSON,
                                   which must outlive the filter */
    size_t nincl, nexcl;
} srcfilter_t;

/* Read a request's _source value `v` (BORROWED) into *f, which must be zeroed. Returns 0, or
 * -1 with err naming the problem ("[_source] must be true, false, a pattern, ...", "unknown key
 * [x] in [_source]; supported: includes, excludes", "[_source.includes] must be a string or an
 * array of strings", "out of memory"); srcfilter_free is needed either way. */
int srcfilter_parse(srcfilter_t *f, json_t *v, char *err, size_t errlen);

/* Free the arrays f owns (not f); f is zeroed. */
void srcfilter_free(srcfilter_t *f);

/* Append what f keeps of the activity json[0..len) (compact JSON; "{}" when nothing is kept,
 * null when the JSON does not parse). Without patterns the bytes are copied as they are. */
void srcfilter_put(bytebuf_t *b, const srcfilter_t *f, const char *json, size_t len);

/* One hit: the activity and where it is stored. Everything BORROWED. */
typedef struct {
    const char *feed; size_t feed_len;
    const char *id;   size_t id_len;
    const char *json; size_t json_len;
    int64_t published_us;
} srcfilter_hit_t;

/* Append the hit object {"_index": feed, "_id": id, "_score": 1.0 (null when !scored),
 * "_source": ... (left out when f->none), "sort": [published milliseconds, id, feed]} --
 * milliseconds since the epoch, as Elasticsearch gives the sort values of a `date` field. */
void srcfilter_put_hit(bytebuf_t *b, const srcfilter_t *f, const srcfilter_hit_t *h, bool scored);

/* Microseconds to the millisecond that holds them (rounded down, also before 1970): the
 * published value of a hit's "sort". */
int64_t srcfilter_ms(int64_t us);

#endif
