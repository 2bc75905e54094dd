/* pagebatch.h -- one fetched Activity Streams document to store operations: the body is
 * scanned (pagescan), its envelope parsed (jansson) and read as a page (as2_read_page); every
 * item is read as an activity (as2_read_activity) and upserted into a store batch, or skipped
 * and counted when invalid; embedded pages (`next`, or `first` of a collection without items)
 * are followed inside the document, up to PAGEBATCH_MAX_EMBEDDED; the link to fetch next is
 * resolved against the document's URL.
 *
 * A document must be a collection or a page: it has items or links to follow, or its type says
 * so (an empty terminal page may carry nothing else). A Note or an unrelated document ({}
 * included) is an error, not an empty feed. A `next` that points back at the document itself
 * ends the walk (it would loop forever).
 *
 * Pure: no I/O besides the batch it is given, no clock (the caller passes the time), no global
 * state. A pagebatch_t keeps its buffers across documents and belongs to one thread at a time. */
#ifndef PAGEBATCH_H
#define PAGEBATCH_H
#include <stddef.h>
#include <stdint.h>
#include "store.h"

#define PAGEBATCH_MAX_EMBEDDED 8          /* embedded pages followed inside one document */
#define PAGEBATCH_REASON_MAX 200

/* Error codes (negative). Each comes with a one-line message in err, as ingest shows it in
 * /feeds; messages about the whole document name its URL, those about one item name the item. */
enum {
    PAGEBATCH_OK = 0,
    /* "out of memory reading <url>" (or "... item <i>", "... activity <id>") */
    PAGEBATCH_ERR_NOMEM = -1,
    /* "not JSON: <why> at line L column C (<url>)"; "... at byte N (<url>)" where only pagescan
     * refuses (pagescan.h) */
    PAGEBATCH_ERR_JSON = -2,
    /* JSON, but "not an Activity Streams page: <why> (<url>)", "not an Activity Streams
     * collection or page: ... (<url>)", or "cannot follow link '<link>' in <url>" */
    PAGEBATCH_ERR_PAGE = -3,
    /* store_batch_upsert refused an activity (a bad feed id, out of memory):
     * "store: <why> (activity <id>)" */
    PAGEBATCH_ERR_STORE = -4,
    /* pagescan's envelope does not read as its contract says (a bug): "cannot read <url>: ...",
     * "internal error: ..." */
    PAGEBATCH_ERR_INTERNAL = -5,
};

typedef struct pagebatch pagebatch_t;   /* opaque */

/* What one document gave. */
typedef struct {
    size_t valid;             /* activities upserted into the batch */
    size_t skipped;           /* items skipped as invalid */
    int has_items;            /* the document (or an embedded page) had an items member */
    char *next;               /* OWNED by the caller (free it, or pagebatch_result_free):
                                 absolute http(s) URL to fetch next; NULL at the end */
    char reason[PAGEBATCH_REASON_MAX];  /* why the first skipped item was skipped:
                                           "item <i>: <why>"; "" when none was */
} pagebatch_result_t;

/* A reader with empty buffers. Returns 0 or PAGEBATCH_ERR_NOMEM (*out NULL). */
int pagebatch_new(pagebatch_t **out);
void pagebatch_free(pagebatch_t *pb);   /* NULL is a no-op */

/* Read the document `body` (`len` bytes, BORROWED, not necessarily NUL-terminated) into
 * `batch`: one store_batch_upsert per valid item, for feed `feed_id`, stamped with generation
 * `gen`; items without a time are dated now_us. Items are stored minified, as pagescan copies
 * them.
 *   url       the URL that was requested: named in messages; a `next` equal to it ends the walk
 *   base_url  the URL the document came from after redirects: links resolve against it, it is
 *             named in messages about the page's shape, and a `next` equal to it ends the walk
 * All strings are BORROWED for the call. *out is overwritten (not freed first).
 * Returns 0 with *out filled; or a PAGEBATCH_ERR_* code with a message in err, out->next NULL,
 * and the batch possibly holding some of the document's upserts (reset it). */
int pagebatch_read(pagebatch_t *pb, const char *body, size_t len, const char *url,
                   const char *base_url, const char *feed_id, uint64_t gen, int64_t now_us,
                   store_batch_t *batch, pagebatch_result_t *out, char *err, size_t errlen);

/* Free out->next and set it to NULL. */
void pagebatch_result_free(pagebatch_result_t *out);

#endif
