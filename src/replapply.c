/* replapply.c -- a replica applies its primary's frames (see replapply.h). */
#include "replapply.h"
#include "bytebuf.h"
#include "log.h"
#include "replproto.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_OPEN_COMMIT SIZE_MAX

struct replapply {
    store_t *st;                  /* borrowed */
    replapply_hooks_t hooks;
    store_batch_t *batch;         /* owned */
    size_t pending;               /* operations in the batch */
    int64_t commit_us;            /* the primary time of the batch's last COMMIT */
    int has_commit;               /* the batch holds a COMMIT */
    int at_boundary;              /* no commit is half in the batch */
    bytebuf_t in;                 /* owned: bytes not applied yet (an incomplete frame, or the
                                   * frames of a commit whose COMMIT has not arrived) */
    size_t parsed;                /* in[0..parsed) holds whole, checked frames */
    size_t open_at;               /* where the open commit's frames start in `in` */
};

int replapply_new(replapply_t **out, store_t *st, const replapply_hooks_t *hooks)
{
    replapply_t *a = calloc(1, sizeof *a);
    *out = NULL;
    if (!a || store_batch_new(st, &a->batch) != 0) {
        free(a);
        return REPLAPPLY_ERR_NOMEM;
    }
    a->st = st;
    a->at_boundary = 1;
    a->open_at = NO_OPEN_COMMIT;
    if (hooks)
        a->hooks = *hooks;
    *out = a;
    return 0;
}

void replapply_free(replapply_t *a)
{
    if (!a)
        return;
    store_batch_free(a->batch);
    bytebuf_free(&a->in);
    free(a);
}

void replapply_reset(replapply_t *a)
{
    store_batch_reset(a->batch);
    a->pending = 0;
    a->has_commit = 0;
    a->at_boundary = 1;
    a->parsed = 0;
    a->open_at = NO_OPEN_COMMIT;
    bytebuf_clear(&a->in);
}

int replapply_flush(replapply_t *a)
{
    if (!a->pending)
        return 0;
    store_batch_stats_t stats;
    int rc = store_batch_commit(a->batch, &stats);
    int had_commit = a->has_commit;
    a->pending = 0;
    a->has_commit = 0;
    if (rc < 0) {
        log_error("replica", "applying the primary's changes failed: %s; replication stops until it can write",
                  store_strerror(rc));
        return REPLAPPLY_ERR_STORE;
    }
    if (had_commit && a->hooks.applied)
        a->hooks.applied(a->hooks.ud, a->commit_us);
    return 0;
}

/* Put one store-changing frame into the batch. */
static int batch_frame(replapply_t *a, const replproto_frame_t *f)
{
    char feed[STORE_MAX_FEED_LEN + 1];
    switch (f->type) {
    case REPL_MARKS:
        return store_batch_prune_to(a->batch, f->low_water, f->tomb_horizon, f->commit_horizon);
    case REPL_ENTRY:
        return store_batch_apply_entry(a->batch, f->data, f->data_len, f->time_us);
    case REPL_FEED_STATE:
        snprintf(feed, sizeof feed, "%.*s", (int)f->feed_len, f->feed);
        return store_batch_put_feed_state(a->batch, feed, f->data, f->data_len);
    default:   /* REPL_COMMIT */
        a->commit_us = f->time_us;
        a->has_commit = 1;
        return store_batch_apply_commit(a->batch, f->seq, f->time_us, f->chain);
    }
}

/* Frames outside the log (HELLO, HEARTBEAT, FEEDS, FEED_STATE) leave the boundary as it was:
 * they may come between two entries of one commit. A heartbeat at a boundary first commits what
 * the batch holds, so that "idle" means everything sent before it is applied. */
static int apply_frame(replapply_t *a, const replproto_frame_t *f)
{
    switch (f->type) {
    case REPL_HELLO:
        return a->hooks.hello && a->hooks.hello(a->hooks.ud, f->data, f->data_len) < 0 ? REPLAPPLY_ERR_CORRUPT : 0;
    case REPL_HEARTBEAT:
        if (a->at_boundary && replapply_flush(a) < 0)
            return REPLAPPLY_ERR_STORE;
        if (a->hooks.heartbeat)
            a->hooks.heartbeat(a->hooks.ud, f->time_us, !a->pending);
        return 0;
    case REPL_FEEDS:
        if (a->hooks.feeds)
            a->hooks.feeds(a->hooks.ud, f->data, f->data_len);
        return 0;
    }
    if (f->type != REPL_FEED_STATE)
        a->at_boundary = f->type == REPL_COMMIT;
    if (batch_frame(a, f) < 0)
        return REPLAPPLY_ERR_CORRUPT;
    a->pending++;
    return 0;
}

/* Apply the frames in in[from..to), all whole and checked. */
static int apply_range(replapply_t *a, size_t from, size_t to)
{
    replproto_frame_t f;
    int rc = 0;
    while (rc == 0 && from < to) {
        long used = replproto_next(a->in.p + from, to - from, &f);
        if (used <= 0)
            return REPLAPPLY_ERR_CORRUPT;
        rc = apply_frame(a, &f);
        from += (size_t)used;
    }
    return rc;
}

int replapply_feed(replapply_t *a, const void *data, size_t len)
{
    if (bytebuf_append(&a->in, data, len) < 0)
        return REPLAPPLY_ERR_NOMEM;
    replproto_frame_t f;
    long used = 0;
    int rc = 0;
    size_t done = 0;   /* in[0..done) is applied */
    while (rc == 0 && (used = replproto_next(a->in.p + a->parsed, a->in.len - a->parsed, &f)) > 0) {
        size_t at = a->parsed;
        a->parsed += (size_t)used;
        if (a->open_at == NO_OPEN_COMMIT && f.type == REPL_ENTRY)
            a->open_at = at;   /* held until its COMMIT arrives */
        if (a->open_at == NO_OPEN_COMMIT) {
            rc = apply_frame(a, &f);
            done = a->parsed;
        } else if (f.type == REPL_COMMIT) {
            rc = apply_range(a, a->open_at, a->parsed);
            a->open_at = NO_OPEN_COMMIT;
            done = a->parsed;
            if (rc == 0 && a->pending >= REPLAPPLY_BATCH)   /* catching up: one fsync per many */
                rc = replapply_flush(a);
        }
    }
    if (rc == 0 && used < 0) {
        log_warn("replica", "a corrupt frame from the primary");
        rc = REPLAPPLY_ERR_CORRUPT;
    }
    if (rc < 0) {   /* keep whole commits, never half of one */
        if (a->at_boundary && replapply_flush(a) == 0)
            return rc;
        replapply_reset(a);
        return rc;
    }
    size_t keep = a->in.len - done;
    memmove(a->in.p, a->in.p + done, keep);
    a->in.len = keep;
    a->parsed -= done;
    if (a->open_at != NO_OPEN_COMMIT)
        a->open_at -= done;
    if (a->open_at == NO_OPEN_COMMIT || a->pending >= REPLAPPLY_BATCH)
        rc = replapply_flush(a);
    return rc;
}
