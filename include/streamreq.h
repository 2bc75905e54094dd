/* streamreq.h -- the parameters of a GET /stream request, parsed and validated from the query
 * string, the Last-Event-ID and Accept headers and an optional body {"query": {...}}; and the
 * filter they describe. Pure (no sockets), so every 400 is tested without a server. */
#ifndef STREAMREQ_H
#define STREAMREQ_H
#include <stddef.h>
#include <stdint.h>
#include "eventid.h"
#include "query.h"
#include "store.h"

typedef struct {
    char **items; size_t n;   /* owned strings */
} streamreq_list_t;

typedef struct {
    int64_t start_us;          /* history lower bound (inclusive) */
    int64_t end_us;            /* upper bound (exclusive); INT64_MAX when there is no end */
    int has_end;
    streamreq_list_t feeds, types, actors;   /* each empty = no filter; OR within, AND across */
    query_t *query;            /* owned; NULL = none */
    const query_t *scope;      /* BORROWED: the client's data scope (auth.h), set by the caller
                                  after parsing, alive as long as this; NULL = everything */
    int has_resume;
    eventid_t resume;          /* from last_event_id or the Last-Event-ID header */
    int format;                /* SSE_FORMAT_* */
} streamreq_t;

/* Parse. `query_string` is the part after '?' (may be NULL); header values may be NULL.
 * `now_us` resolves `now`. On error returns -1, with a message in err and the offending
 * parameter's name in param, e.g. ("start must be an RFC 3339 time, Unix milliseconds or now",
 * "start"). On success returns 0; free with streamreq_free. */
int streamreq_parse(streamreq_t *out, const char *query_string, size_t qs_len,
                    const char *last_event_id, size_t lei_len, const char *accept, size_t accept_len,
                    const char *body, size_t body_len, int64_t now_us,
                    char *err, size_t errlen, char *param, size_t paramlen);
void streamreq_free(streamreq_t *r);

/* Does the record pass the feed/type/actor filters, the query and the scope? A delete passes
 * when its feed and types do and the scope may admit it (query_admits_tombstone): a tombstone
 * has no actor and no content to judge. (Time bounds are the caller's.) */
int streamreq_match(const streamreq_t *r, const store_rec_t *rec);

#endif
