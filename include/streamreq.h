/* streamreq.h -- the parameters of a /stream request (GET or POST), parsed and validated from
 * the query string, the Last-Event-ID and Accept headers and an optional JSON body; and the
 * filter they describe. Pure (no sockets), so every 400 is tested without a server.
 *
 * The body is either a query ({"query": {...}} or the bare query object), or an object of
 * parameters: "query" (a query object) and any of start, end, feed, type, actor,
 * last_event_id, format, with string values (feed, type and actor also take a list of strings;
 * start and end also a number of milliseconds). A parameter given both in the URL and in the
 * body is "given more than once", as when it is repeated in the URL. */
#ifndef STREAMREQ_H
#define STREAMREQ_H
#include <stddef.h>
#include <stdint.h>
#include "eventid.h"
#include "query.h"
#include "store.h"

/* A bare number in start or end at most this is refused: as milliseconds it is before
 * 1973-03-03, so it is almost certainly Unix seconds (0 still means the beginning). */
#define STREAMREQ_MAX_SECONDS_LIKE 99999999999LL

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

/* What a request brings; every pointer is BORROWED and may be NULL (with its length 0). */
typedef struct {
    const char *query_string; size_t qs_len;   /* the part after '?' */
    const char *last_event_id; size_t lei_len; /* the Last-Event-ID header */
    const char *accept; size_t accept_len;     /* the Accept header */
    const char *body; size_t body_len;         /* the request body */
    int64_t now_us;                            /* what `now` is in date math */
    const char *const *feed_ids; size_t nfeed_ids;   /* the configured feeds */
    int check_feeds;           /* 1: a feed filter naming a feed not in feed_ids is a 400 */
    const char *const *readable_ids; size_t nreadable_ids;   /* what that 400 lists when the
                                  client may read only some feeds (its scope); NULL: feed_ids */
} streamreq_in_t;

/* Parse. On error returns -1, with a one-line message in err and the offending parameter's
 * name in param, e.g. ("start must be an RFC 3339 time, ...", "start"). The 400s: a time that
 * is none of RFC 3339, a date, Unix milliseconds, now or date math (now-1h, now-1d/d,
 * 2024-01-01||+1M), or that looks like Unix seconds (1 to STREAMREQ_MAX_SECONDS_LIKE); end
 * before start; a feed that is not configured (the message lists the configured ones); a bad
 * last_event_id, format, q or body; a parameter given twice; an unknown parameter (named in
 * param). On success returns 0; free with streamreq_free. */
int streamreq_parse(streamreq_t *out, const streamreq_in_t *in, char *err, size_t errlen, char *param,
                    size_t paramlen);
void streamreq_free(streamreq_t *r);

/* Does the record pass the feed/type/actor filters, the query and the scope? A delete passes
 * when its feed and types do and the scope may admit it (query_admits_tombstone): a tombstone
 * has no actor and no content to judge. (Time bounds are the caller's.) */
int streamreq_match(const streamreq_t *r, const store_rec_t *rec);

#endif
