/* eventid.h -- stream event ids: short ASCII positions, opaque to clients, valid across
 * restarts and on every node of a cluster because they name change-log sequence numbers, which
 * the store keeps and replicas copy with the same seqs.
 *   h<S0>_<published us>_<seq>  history event: the snapshot head S0 and the time-index position
 *   l<seq>                      live event (and the `live` marker, with seq = S0)
 *   e<seq>                      the `end` event of a finished finite stream
 * each followed by ".<tag>", the short tag of the store's id (store_tag), so that an id from
 * another store (another cluster, or a history a promotion forked from) is recognised. Ids
 * without a tag (from servers before tags) are still accepted. An id stays under 64 bytes: the
 * tag is left out in the (theoretical) case where the numbers alone come close to that. */
#ifndef EVENTID_H
#define EVENTID_H
#include <stddef.h>
#include <stdint.h>

enum { EVENTID_HISTORY = 1, EVENTID_LIVE = 2, EVENTID_END = 3 };
#define EVENTID_MAX 64

#define EVENTID_TAG_MAX 7

typedef struct {
    int kind;              /* EVENTID_* */
    uint64_t s0;           /* history: the snapshot head the history is taken as of */
    int64_t published_us;  /* history: time-index position of the event */
    uint64_t seq;          /* history: its seq; live: the change-log seq; end: the head at the end */
    char tag[EVENTID_TAG_MAX + 1];   /* the store tag ("" when the id has none) */
} eventid_t;

/* Write the id into buf (EVENTID_MAX bytes), NUL-terminated; returns its length. */
size_t eventid_format(const eventid_t *id, char *buf);

/* Parse an id; returns 0, or -1 when it is not one of ours (unknown kind, malformed number,
 * overflow, a history seq beyond its snapshot, a tag of other than 1-7 [0-9a-z], EVENTID_MAX
 * bytes or more). */
int eventid_parse(const char *s, size_t len, eventid_t *out);

#endif
