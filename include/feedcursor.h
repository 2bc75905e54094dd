/* feedcursor.h -- the persisted per-feed ingest state (the "cursor"): generations, where the
 * running full sync goes next, the poll URL, the validators for conditional GETs and a summary
 * of the last completed full sync. Ingest writes it as a JSON blob into the same store batch
 * as the page it describes, and reads it back at start.
 *
 * The blob: {"v":1,"url":<feed url>,"gen":..,"sync_gen":..,"sync_next":..|null,"sync_pages":..,
 * "sync_items":..,"sync_started_us":..,"poll_url":..|null,"v_url":..|null,"etag":..|null,
 * "last_modified":..|null,"last":{"started_us","finished_us","duration_ms","pages","items"}|null}.
 * Readers ignore unknown members and take absent or negative numbers as 0.
 *
 * Pure functions over a plain struct: no I/O, no global state. Every string in a cursor is
 * OWNED by it (malloc'd); a zeroed feedcursor_t ({0}) is an empty cursor. */
#ifndef FEEDCURSOR_H
#define FEEDCURSOR_H
#include <stddef.h>
#include <stdint.h>

/* Error codes (negative). */
enum {
    FEEDCURSOR_OK = 0,
    FEEDCURSOR_ERR_NOMEM = -1,    /* out of memory */
    FEEDCURSOR_ERR_INVALID = -2,  /* the blob is not a JSON object */
};

/* The summary of a completed full sync (also shown in /feeds). */
typedef struct {
    int has;                  /* 0: no full sync has completed yet (the rest is 0) */
    int64_t started_us, finished_us;   /* wall-clock times */
    int64_t duration_ms;
    uint64_t pages, items;
} feedcursor_last_t;

typedef struct {
    uint64_t gen;             /* generation of the last completed full sync (0: none) */
    uint64_t sync_gen;        /* generation of the running full sync (0: none) */
    char *sync_next;          /* owned: URL the running sync fetches next */
    uint64_t sync_pages, sync_items;   /* of the running sync so far */
    int64_t sync_started_us;  /* wall-clock start of the running sync */
    char *poll_url;           /* owned: first URL of a poll; NULL until a full sync completed */
    char *v_url, *etag, *lm;  /* owned: validators for conditional GETs of v_url (any NULL) */
    feedcursor_last_t last;   /* the last completed full sync */
} feedcursor_t;

/* Free the strings and leave *c empty. NULL is a no-op. */
void feedcursor_free(feedcursor_t *c);

/* Make *dst a deep copy of *src (whatever *dst held is overwritten, not freed). Returns 0, or
 * FEEDCURSOR_ERR_NOMEM with *dst left empty. */
int feedcursor_copy(feedcursor_t *dst, const feedcursor_t *src);

/* Start a new full sync at `url` (copied): sync_gen becomes max(gen, sync_gen) + 1, the running
 * sync's counters restart, sync_started_us = now_us. Returns 0, or FEEDCURSOR_ERR_NOMEM with
 * *c unchanged. */
int feedcursor_begin_sync(feedcursor_t *c, const char *url, int64_t now_us);

/* Fold the running full sync into the cursor: gen = sync_gen, sync_gen = 0, sync_next = NULL,
 * poll_url = a copy of `poll_url`, `last` = the sync's summary (finished at now_us, lasting
 * duration_ms). Returns 0, or FEEDCURSOR_ERR_NOMEM with *c unchanged. */
int feedcursor_finish_sync(feedcursor_t *c, const char *poll_url, int64_t now_us,
                           int64_t duration_ms);

/* Replace the poll URL with a copy of `url` (NULL clears it). Returns 0, or
 * FEEDCURSOR_ERR_NOMEM with *c unchanged. */
int feedcursor_set_poll_url(feedcursor_t *c, const char *url);

/* Remember the validators of a response of `url`: its ETag and Last-Modified (each may be
 * NULL), all copied. Returns 0, or FEEDCURSOR_ERR_NOMEM with *c unchanged. */
int feedcursor_set_validators(feedcursor_t *c, const char *url, const char *etag,
                              const char *last_modified);

/* Forget the validators (the next conditional GET becomes unconditional). */
void feedcursor_clear_validators(feedcursor_t *c);

/* Serialize *c as the blob above, naming `feed_url` (BORROWED) as the feed it belongs to.
 * Returns a malloc'd NUL-terminated string (caller frees; *len gets its length), or NULL when
 * out of memory. */
char *feedcursor_dump(const feedcursor_t *c, const char *feed_url, size_t *len);

/* Read a blob (`len` bytes, not necessarily NUL-terminated) into *c, which must be empty (its
 * strings are not freed). When the blob was written for another URL than `feed_url` (the
 * configuration changed), the poll URL and the validators are dropped: they belong to the old
 * source; the generations are kept. Returns 0; FEEDCURSOR_ERR_INVALID when the blob is not a
 * JSON object; FEEDCURSOR_ERR_NOMEM. On an error *c is left empty. */
int feedcursor_load(feedcursor_t *c, const void *blob, size_t len, const char *feed_url);

#endif
