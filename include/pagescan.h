/* pagescan.h -- the ingest hot path's reader of an Activity Streams page. One validating pass
 * over the bytes that
 *   1. copies every item minified (no whitespace outside strings; key order and escapes as the
 *      source wrote them) into one buffer: the stored form of an activity, a pure function of
 *      its source bytes, so a re-fetched unchanged item is byte-identical;
 *   2. records, per item, where the values of the members as2_read_activity reads lie (`id`,
 *      `type`, `published`, `updated`, `actor`, and the `id` of an actor object; the last
 *      occurrence wins, as in jansson);
 *   3. writes an "envelope": the whole document minified with every item replaced by its
 *      index (an integer), and an items member holding a single object turned into a
 *      one-element array.
 * Items are the elements (or the single object) of every `orderedItems` or `items` member of
 * any object outside an item: the page, an embedded `first` or `next` page, and so on.
 * The caller parses only the small envelope with jansson, reads it with as2_read_page, and
 * for each index asks pagescan_standin() for a small json_t holding just those members, which
 * as2_read_activity reads as it would the whole item. Parsing every item into a jansson tree
 * and dumping it again costs three to four times as much.
 *
 * Acceptance is that of json_loadb(buf, len, 0, ...): RFC 8259 JSON with an object or array
 * at the top, valid UTF-8, no \u0000, no lone surrogate escapes, integers within int64, reals
 * that do not overflow, nesting up to 2048 levels. One exception: jansson (2.14) skips a single
 * NUL byte directly after a number or true/false/null ("[1\0]"), a quirk of its lexer; pagescan
 * refuses it, as RFC 8259 does. On a refusal use jansson on the same bytes for its error text
 * (and err / err_pos when jansson accepts). No global state; a pagescan_t belongs to one thread
 * at a time. */
#ifndef PAGESCAN_H
#define PAGESCAN_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "bytebuf.h"

#define PAGESCAN_NMEMBERS 5        /* id, type, published, updated, actor */
#define PAGESCAN_MAX_DEPTH 2048
#define PAGESCAN_MAX_LEN 0xFFFFFFF0u  /* offsets are 32-bit */

enum { PAGESCAN_OK = 0, PAGESCAN_INVALID = -1, PAGESCAN_NOMEM = -2 };

typedef struct {
    uint32_t off, len;             /* bytes in pagescan_t.items; len 0: absent */
} pagescan_range_t;

typedef struct {
    pagescan_range_t json;                       /* the item's compact JSON */
    pagescan_range_t member[PAGESCAN_NMEMBERS];  /* values of id, type, published, updated, actor */
    pagescan_range_t actor_id;                   /* `id` inside an actor object */
    int is_object;
} pagescan_item_t;

typedef struct {
    bytebuf_t env;            /* the envelope, NUL-terminated */
    bytebuf_t items;          /* the compact items, back to back */
    pagescan_item_t *item;         /* owned: one per item, in document order */
    size_t nitems, items_cap;
    char err[96];                  /* why the last input was refused */
    size_t err_pos;                /* byte offset of the refusal */
} pagescan_t;

/* Start empty (no allocation). Buffers grow on demand and are kept across runs. */
void pagescan_init(pagescan_t *ps);
void pagescan_free(pagescan_t *ps);   /* frees the buffers; NULL is a no-op */

/* Scan `len` bytes (at most PAGESCAN_MAX_LEN). Returns PAGESCAN_OK, PAGESCAN_INVALID (err,
 * err_pos set; also for a larger input) or PAGESCAN_NOMEM. Results stay valid until the next
 * run. Memory: the items' copy is at most `len` bytes, plus 60 bytes of bookkeeping per item. */
int pagescan_run(pagescan_t *ps, const char *buf, size_t len);

/* A NEW reference to the stand-in of item i (i < nitems): an object with the recorded members
 * (an actor object reduced to its `id`), or for an item that is not an object the item itself
 * as jansson reads it. NULL when out of memory. */
json_t *pagescan_standin(const pagescan_t *ps, size_t i);

#endif
