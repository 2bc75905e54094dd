/* esparams.h -- the URL parameters of the Elasticsearch API: decoded, checked against what each
 * operation takes, and (for searches) merged into the request body. Pure.
 *
 * Each operation has a table of the parameters Elasticsearch defines for it (esparams.c); a
 * parameter is honoured (size, from, sort, _source, _source_includes, _source_excludes,
 * track_total_hits, rest_total_hits_as_int, scroll, keep_alive, the index options ...),
 * accepted with no effect where it cannot change the answer of a one-shard store (preference,
 * routing, request_cache, search_type, timeout ...), or refused (400) where it would and the
 * server does not implement it (typed_keys, explain, stored_fields ...). Every operation takes
 * pretty, human, error_trace, filter_path, source and source_content_type. A parameter no table
 * has is refused as Elasticsearch does: "request [/_search] contains unrecognized parameter:
 * [x]". `q` (a Lucene query string) is refused with a 400 that says so. */
#ifndef ESPARAMS_H
#define ESPARAMS_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Error codes (negative). */
enum {
    ESPARAMS_ERR_INVALID = -1,   /* a parameter is unknown, refused, badly escaped or has a bad
                                    value: err holds Elasticsearch's kind of message */
    ESPARAMS_ERR_NOMEM = -2,
};

typedef struct {
    const char *name, *value;    /* decoded, NUL-terminated; into mem */
} esparam_t;

typedef struct {
    esparam_t *v;                /* owned */
    size_t n;
    char *mem;                   /* owned: the decoded text */
} esparams_t;

/* Decode qs[0..len) (may be NULL) and check each parameter against operation `op` (ESOP_*);
 * `path` names the request in messages. Returns 0 and *out (free with esparams_free), or an
 * error with the message in err (*out then holds nothing). */
int esparams_parse(int op, const char *path, const char *qs, size_t len, esparams_t *out, char *err,
                   size_t errlen);

void esparams_free(esparams_t *p);

/* The value of `name` (the last one given), or NULL. BORROWED from p. */
const char *esparams_get(const esparams_t *p, const char *name);

/* A boolean parameter: "true", "false" or "" (true), else ESPARAMS_ERR_INVALID with ES's
 * message; absent: dflt. */
int esparams_bool(const esparams_t *p, const char *name, bool dflt, bool *out, char *err, size_t errlen);

/* A time value ("30s", "1m", "500ms", "2h", "1d") in milliseconds; absent: 0 (and returns 0).
 * Returns ESPARAMS_ERR_INVALID with ES's message for anything else. Also for body values. */
int esparams_time(const char *name, const char *value, int64_t *ms, char *err, size_t errlen);

/* Merge the search parameters into `body` (a JSON object, changed in place): size, from, sort
 * ("published:desc,_doc"), _source ("false", "true", or a list of patterns), _source_includes,
 * _source_excludes, track_total_hits. URL parameters win over the body's members, as in
 * Elasticsearch. Returns 0, or an error with err. */
int esparams_apply_search(const esparams_t *p, json_t *body, char *err, size_t errlen);

/* The _source filter the parameters of a document GET ask for, as a request's _source value (a
 * NEW reference), or NULL when they ask for none. */
json_t *esparams_source(const esparams_t *p);

#endif
