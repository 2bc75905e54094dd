/* esindex.h -- Elasticsearch index expressions over the feeds: which feeds a path such as
 * /crm,events*,-events-old/_search reads. Every feed is an index named by its feed id, and
 * `activities` is an alias of all of them (the server's own name for its one store).
 *
 * An expression is a comma-separated list of items, read left to right:
 *   `_all`, `*`, `activities` (or an empty expression)   every feed
 *   a name with `*` (crm*, *-eu)                            the known feeds it matches; none is
 *                                                           no error (an empty result)
 *   `-name` or `-pattern`                                   removes what it names from the
 *                                                           feeds gathered so far
 *   a plain name                                            that feed; one that is not known is
 *                                                           an error (404 index_not_found)
 * Known feeds are the caller's list (the configured feeds and those with data in the store).
 * Options as Elasticsearch's URL parameters: ignore_unavailable (unknown names are skipped),
 * allow_no_indices (false: an expression that ends with no feed is an error too),
 * expand_wildcards=none (patterns match nothing).
 * Pure; allocates only the result. */
#ifndef ESINDEX_H
#define ESINDEX_H
#include <stdbool.h>
#include <stddef.h>

/* Error codes (negative). */
enum {
    ESINDEX_ERR_MISSING = -1,   /* a name (or, with !allow_no_indices, the expression) matches
                                   no feed: err holds the name */
    ESINDEX_ERR_NOMEM = -2,
};

/* A set of feeds: what an expression selects, or the feeds that exist. Zeroed: empty. */
typedef struct {
    bool all;         /* every feed, whatever its name (no list) */
    char **feeds;     /* owned, sorted and unique; NULL when all (or when nothing was added) */
    size_t n, cap;
} esindex_t;

typedef struct {
    bool ignore_unavailable;   /* default false */
    bool forbid_empty;         /* !allow_no_indices; default false (an empty selection is fine) */
    bool no_wildcards;         /* expand_wildcards=none */
} esindex_opts_t;

/* The alias of every feed. */
#define ESINDEX_ALL_ALIAS "activities"

/* Resolve `expr` (NUL-terminated; NULL is the empty expression) against the known feeds
 * known[0..nknown) into *out (zeroed first; free with esindex_free). `o` may be NULL (the
 * defaults). Returns 0, ESINDEX_ERR_MISSING (with the name in err) or ESINDEX_ERR_NOMEM;
 * *out is empty after an error. */
int esindex_resolve(const char *expr, const char *const *known, size_t nknown, const esindex_opts_t *o,
                    esindex_t *out, char *err, size_t errlen);

/* Free what x owns; x is empty (and selects nothing) afterwards. */
void esindex_free(esindex_t *x);

/* Copy src into *dst. Returns 0 or ESINDEX_ERR_NOMEM (*dst empty). */
int esindex_copy(esindex_t *dst, const esindex_t *src);

/* Add feed[0..len) (copied; a NUL-free name) to the list, keeping it sorted and unique; nothing
 * to add when x is `all`. Returns 0 or ESINDEX_ERR_NOMEM (x unchanged). */
int esindex_add(esindex_t *x, const char *feed, size_t len);

/* Does the selection hold `feed` (len bytes)? */
bool esindex_has(const esindex_t *x, const char *feed, size_t len);

/* Is `expr` one concrete feed name (no list, no pattern, not an alias of all)? */
bool esindex_is_single(const char *expr);

/* Does the glob `pat` ('*' matches any run of bytes) match s[0..n)? */
bool esindex_glob(const char *pat, const char *s, size_t n);

#endif
