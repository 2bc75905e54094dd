/* replsend.c -- the primary's side of replication: the change log as a stream of replproto
 * frames, and snapshots (see replsend.h).
 *
 * A replication stream works like /stream (stream.c): at most one h2o_send in flight; when h2o
 * asks for more it reads the next bounded batch of the log (store_log_scan) from its bookmark;
 * when it has caught up it waits on its loop until a commit wakes it. Each second a heartbeat
 * also carries what changed of the feeds' states and of the /feeds document.
 *
 * A snapshot is written by a helper thread into a temporary file in the data directory
 * (unlinked at once: the descriptor keeps it), measured and hashed; the loop looks every
 * SNAP_POLL_MS whether it is ready, then sends it in chunks as the client drains them. */
#include "replsend.h"
#include "bytebuf.h"
#include "log.h"
#include "replproto.h"
#include "timefmt.h"
#include "urlcode.h"
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILL_TARGET (256 * 1024)   /* bytes handed to one h2o_send */
#define SCAN_ITEMS 4096            /* log items read per batch */
#define HEARTBEAT_MS 1000
#define SNAP_POLL_MS 20
#define SNAP_CHUNK (256 * 1024)
#define MAX_SNAPSHOTS 2

struct replsend_loop {
    h2o_context_t *ctx;
    store_t *st;                       /* borrowed */
    replsend_feeds_fn *feeds_fn;
    void *feeds_ud;
    h2o_linklist_t streams, waiting;
    h2o_timeout_t heartbeat, snap_poll;
};

/* One feed's state as last sent (its name and a digest of the blob). */
typedef struct {
    char feed[STORE_MAX_FEED_LEN + 1];
    uint64_t digest;
} sent_state_t;

typedef struct {
    h2o_generator_t super;             /* first: h2o hands it back */
    h2o_req_t *req;                    /* borrowed; NULL once stopped */
    replsend_loop_t *loop;
    uint64_t bookmark;                 /* last log seq sent */
    uint64_t marks[3];                 /* the pruning marks as last sent */
    int marks_sent, inflight, finishing, due;   /* due: a heartbeat's extras are owed */
    uint64_t feeds_digest;
    sent_state_t *states;              /* owned */
    size_t nstates;
    bytebuf_t out[2];                  /* out[cur] is filled, the other lent to h2o */
    int cur;
    h2o_linklist_t all_link, wait_link;
    h2o_timeout_entry_t heartbeat_entry;
} rstream_t;

static _Atomic int snapshots_running;

static uint64_t digest(const void *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ULL;
    return h;
}

static void unlink_list(h2o_linklist_t *l)
{
    if (h2o_linklist_is_linked(l))
        h2o_linklist_unlink(l);
}

/* ---- filling ---- */

static int on_log_item(const store_log_item_t *it, void *ud)
{
    rstream_t *s = ud;
    bytebuf_t *b = &s->out[s->cur];
    if (it->kind == STORE_LOG_MARKS) {
        uint64_t m[3] = {it->low_water, it->tomb_horizon, it->commit_horizon};
        int changed = !s->marks_sent || memcmp(m, s->marks, sizeof m) != 0;
        memcpy(s->marks, m, sizeof m);
        s->marks_sent = 1;
        if (!changed)
            return 0;
    }
    replproto_put_log_item(b, it);
    return b->len >= FILL_TARGET;
}

static int on_feed_state(const char *feed, size_t len, const void *blob, size_t blen, void *ud)
{
    rstream_t *s = ud;
    uint64_t d = digest(blob, blen);
    size_t i = 0;
    while (i < s->nstates && !(strlen(s->states[i].feed) == len && memcmp(s->states[i].feed, feed, len) == 0))
        i++;
    if (i == s->nstates) {
        sent_state_t *p = realloc(s->states, (s->nstates + 1) * sizeof *p);
        if (!p || len > STORE_MAX_FEED_LEN)
            return 0;
        s->states = p;
        memcpy(p[i].feed, feed, len);
        p[i].feed[len] = '\0';
        p[i].digest = d + 1;
        s->nstates++;
    }
    if (s->states[i].digest != d)
        replproto_put_feed_state(&s->out[s->cur], feed, len, blob, blen);
    s->states[i].digest = d;
    return 0;
}

/* A heartbeat's extras: changed feed states, a changed /feeds document, the heartbeat. */
static void fill_heartbeat(rstream_t *s)
{
    replsend_loop_t *l = s->loop;
    store_feed_states(l->st, on_feed_state, s);
    char *feeds = l->feeds_fn ? l->feeds_fn(l->feeds_ud) : NULL;
    if (feeds && digest(feeds, strlen(feeds)) != s->feeds_digest) {
        s->feeds_digest = digest(feeds, strlen(feeds));
        replproto_put_feeds(&s->out[s->cur], timefmt_now_us(), feeds, strlen(feeds));
    }
    free(feeds);
    replproto_put_heartbeat(&s->out[s->cur], timefmt_now_us(), store_head(l->st));
    s->due = 0;
}

/* One batch of the log from the bookmark. Returns non-zero when it brought anything. */
static int fill_log(rstream_t *s)
{
    size_t before = s->out[s->cur].len;
    uint64_t last;
    int rc = store_log_scan(s->loop->st, s->bookmark, SCAN_ITEMS, on_log_item, s, &last);
    if (rc < 0) {
        log_error("replication", "reading the change log failed: %s; ending the stream", store_strerror(rc));
        s->finishing = 1;
        return 0;
    }
    s->bookmark = last;
    return s->out[s->cur].len > before;
}

/* ---- sending ---- */

static void rstream_send(rstream_t *s)
{
    bytebuf_t *b = &s->out[s->cur];
    if (b->failed)
        s->finishing = 1;
    h2o_iovec_t vec = h2o_iovec_init(b->p, b->failed ? 0 : b->len);
    int final = s->finishing;
    h2o_req_t *req = s->req;
    s->cur ^= 1;
    bytebuf_clear(&s->out[s->cur]);
    s->inflight = 1;
    if (final) {
        unlink_list(&s->all_link);
        unlink_list(&s->wait_link);
        if (h2o_timeout_is_linked(&s->heartbeat_entry))
            h2o_timeout_unlink(&s->heartbeat_entry);
        s->req = NULL;
    }
    h2o_send(req, &vec, vec.len ? 1 : 0, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void rstream_pump(rstream_t *s)
{
    if (!s->req || s->inflight)
        return;
    if (!s->finishing && s->due)
        fill_heartbeat(s);
    while (!s->finishing && s->out[s->cur].len < FILL_TARGET && fill_log(s))
        ;
    if (s->finishing || s->out[s->cur].len) {
        unlink_list(&s->wait_link);
        rstream_send(s);
    } else if (!h2o_linklist_is_linked(&s->wait_link)) {
        h2o_linklist_insert(&s->loop->waiting, &s->wait_link);
    }
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    rstream_t *s = (rstream_t *)g;
    s->inflight = 0;
    rstream_pump(s);
}

static void rstream_forget(rstream_t *s)
{
    unlink_list(&s->all_link);
    unlink_list(&s->wait_link);
    if (h2o_timeout_is_linked(&s->heartbeat_entry))
        h2o_timeout_unlink(&s->heartbeat_entry);
    s->req = NULL;
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    rstream_forget((rstream_t *)g);
}

static void on_dispose(void *p)
{
    rstream_t *s = p;
    rstream_forget(s);
    bytebuf_free(&s->out[0]);
    bytebuf_free(&s->out[1]);
    free(s->states);
}

static void on_heartbeat(h2o_timeout_entry_t *e)
{
    rstream_t *s = H2O_STRUCT_FROM_MEMBER(rstream_t, heartbeat_entry, e);
    if (!s->req)
        return;
    s->due = 1;
    h2o_timeout_link(s->loop->ctx->loop, &s->loop->heartbeat, &s->heartbeat_entry);
    rstream_pump(s);
}

/* ---- the loop ---- */

replsend_loop_t *replsend_loop_new(h2o_context_t *ctx, store_t *st, replsend_feeds_fn *feeds_fn, void *ud)
{
    replsend_loop_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->ctx = ctx;
    l->st = st;
    l->feeds_fn = feeds_fn;
    l->feeds_ud = ud;
    h2o_linklist_init_anchor(&l->streams);
    h2o_linklist_init_anchor(&l->waiting);
    h2o_timeout_init(ctx->loop, &l->heartbeat, HEARTBEAT_MS);
    h2o_timeout_init(ctx->loop, &l->snap_poll, SNAP_POLL_MS);
    return l;
}

void replsend_loop_wake(replsend_loop_t *l)
{
    if (!l)
        return;
    h2o_linklist_t woken;   /* a stream with nothing new waits again: not in this list */
    h2o_linklist_init_anchor(&woken);
    h2o_linklist_insert_list(&woken, &l->waiting);
    while (!h2o_linklist_is_empty(&woken)) {
        rstream_t *s = H2O_STRUCT_FROM_MEMBER(rstream_t, wait_link, woken.next);
        h2o_linklist_unlink(&s->wait_link);
        rstream_pump(s);
    }
}

void replsend_loop_shutdown(replsend_loop_t *l)
{
    if (!l)
        return;
    for (h2o_linklist_t *p = l->streams.next, *next; p != &l->streams; p = next) {
        next = p->next;
        rstream_t *s = H2O_STRUCT_FROM_MEMBER(rstream_t, all_link, p);
        s->finishing = 1;
        unlink_list(&s->wait_link);
        if (!s->inflight)
            rstream_send(s);
    }
}

/* ---- accepting ---- */

typedef struct {
    uint64_t after, chain;
    int has_chain;
    char store[40];
} replreq_t;

/* after=, chain= (decimal) and store= (hex) from the query string; 0 or -1 (malformed). */
static int parse_params(h2o_req_t *req, replreq_t *r)
{
    const char *qs;
    size_t len;
    memset(r, 0, sizeof *r);
    httpreq_query_string(req, &qs, &len);
    for (const char *p = qs, *end = qs ? qs + len : NULL; p && p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        char val[64];
        if (!eq || urlcode_decode(eq + 1, (size_t)(stop - eq - 1), val, sizeof val) < 0)
            return -1;
        char *rest = val;
        size_t klen = (size_t)(eq - p);
        if (klen == 5 && !memcmp(p, "after", 5)) {
            r->after = strtoull(val, &rest, 10);
        } else if (klen == 5 && !memcmp(p, "chain", 5)) {
            r->chain = strtoull(val, &rest, 10);
            r->has_chain = 1;
        } else if (klen == 5 && !memcmp(p, "store", 5) && strlen(val) < sizeof r->store) {
            memcpy(r->store, val, strlen(val) + 1);
            rest = val + strlen(val);
        } else {
            return -1;
        }
        if (*rest || !*val)
            return -1;
        p = stop + 1;
    }
    return 0;
}

static void hex16(const uint8_t id[16], char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[id[i] >> 4];
        out[2 * i + 1] = hex[id[i] & 15];
    }
    out[32] = '\0';
}

/* Why a replica at r cannot continue from this store, or NULL. Without `chain` the caller
 * claims no history (a person or a tool reading the log): only a position the log no longer
 * reaches, or has not reached, is refused; a replica always sends its head's chain. */
static const char *snapshot_reason(store_t *st, const replreq_t *r)
{
    store_identity_t ident;
    char parent[33];
    store_identity(st, &ident);
    hex16(ident.parent, parent);
    if (r->store[0] && strcmp(r->store, store_id(st)) != 0 && !(strcmp(r->store, parent) == 0 && r->after <= ident.fork))
        return "other store";
    uint64_t head = store_head(st), chain;
    if (r->after > head)
        return "diverged";
    if (r->after == 0)
        return head ? "new" : NULL;
    if (!r->has_chain)
        return r->after < store_tombstone_horizon(st) ? "pruned" : NULL;
    int rc = store_commit_chain(st, r->after, &chain);
    if (rc == STORE_ERR_NOTFOUND || r->after < store_tombstone_horizon(st))
        return "pruned";
    if (rc || !r->has_chain || chain != r->chain)
        return "diverged";
    return NULL;
}

static void send_conflict(h2o_req_t *req, const char *reason)
{
    char body[160];
    snprintf(body, sizeof body, "{\"error\":\"snapshot needed\",\"reason\":\"%s\"}", reason);
    httpreq_send(req, 409, "Conflict", "application/json; charset=utf-8", body, strlen(body));
}

static void start_stream(replsend_loop_t *l, h2o_req_t *req, uint64_t after)
{
    rstream_t *s = h2o_mem_alloc_shared(&req->pool, sizeof *s, on_dispose);
    memset(s, 0, sizeof *s);
    s->super.proceed = on_proceed;
    s->super.stop = on_stop;
    s->req = req;
    s->loop = l;
    s->bookmark = after;
    s->due = 1;
    s->heartbeat_entry.cb = on_heartbeat;
    h2o_linklist_insert(&l->streams, &s->all_link);
    h2o_timeout_link(l->ctx->loop, &l->heartbeat, &s->heartbeat_entry);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/octet-stream"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-accel-buffering"), 0, NULL, H2O_STRLIT("no"));
    h2o_start_response(req, &s->super);
    store_identity_t ident;
    char parent[33], hello[320];
    store_identity(l->st, &ident);
    hex16(ident.parent, parent);
    int n = snprintf(hello, sizeof hello, "{\"store\":\"%s\",\"parent\":\"%s\",\"fork\":%" PRIu64 ",\"head\":%" PRIu64
                     ",\"time_us\":%" PRId64 "}", store_id(l->st), ident.parent[0] || ident.fork ? parent : "",
                     ident.fork, store_head(l->st), timefmt_now_us());
    replproto_put_hello(&s->out[s->cur], hello, (size_t)n);
    rstream_pump(s);
}

void replsend_handle(replsend_loop_t *l, h2o_req_t *req)
{
    replreq_t r;
    if (parse_params(req, &r) != 0) {
        httpreq_send_error(req, 400, "expected after=<seq>, chain=<chain> and store=<id>", "query");
        return;
    }
    const char *reason = snapshot_reason(l->st, &r);
    if (reason) {
        send_conflict(req, reason);
        return;
    }
    start_stream(l, req, r.after);
}

/* ---- snapshots ---- */

/* What the helper thread makes; shared by the thread and the request, freed by the last. */
typedef struct {
    store_t *st;
    int fd;                            /* the snapshot file (unlinked); -1 until made */
    uint64_t size, head;
    char sha256[65], id[33];
    _Atomic int ready;                 /* 1 made, -1 failed */
    _Atomic int refs;
} snapjob_t;

static void job_release(snapjob_t *j)
{
    if (atomic_fetch_sub(&j->refs, 1) != 1)
        return;
    if (j->fd >= 0)
        close(j->fd);
    free(j);
}

/* Hash the file at fd with SHA-256 into hex; its size into *size. Returns 0 or -1. */
static int hash_file(int fd, uint64_t *size, char hex[65])
{
    unsigned char md[32];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char *buf = malloc(SNAP_CHUNK);
    ssize_t n = -1;
    int ok = ctx && buf && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (*size = 0; ok && (n = pread(fd, buf, SNAP_CHUNK, (off_t)*size)) > 0; *size += (uint64_t)n)
        ok = EVP_DigestUpdate(ctx, buf, (size_t)n);
    ok = ok && n == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32;
    for (unsigned i = 0; ok && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    free(buf);
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* The helper thread: write the copy, read back its head and id, hash it. */
static void *snap_main(void *p)
{
    snapjob_t *j = p;
    char path[4200];
    snprintf(path, sizeof path, "%s/.snapshot-XXXXXX", store_path(j->st));
    int fd = mkstemp(path);
    int ok = fd >= 0 && store_snapshot_write(j->st, fd) == 0 && store_snapshot_info(path, &j->head, j->id) == 0;
    if (fd >= 0)
        unlink(path);
    ok = ok && hash_file(fd, &j->size, j->sha256) == 0;
    j->fd = fd;
    atomic_fetch_sub(&snapshots_running, 1);
    atomic_store(&j->ready, ok ? 1 : -1);
    job_release(j);
    return NULL;
}

typedef struct {
    h2o_generator_t super;
    h2o_req_t *req;                    /* borrowed; NULL once stopped */
    replsend_loop_t *loop;
    snapjob_t *job;                    /* one reference */
    uint64_t sent;
    char *chunk;                       /* owned: the piece lent to h2o */
    h2o_timeout_entry_t poll;
} snap_t;

static void snap_send_next(snap_t *s)
{
    snapjob_t *j = s->job;
    size_t want = j->size - s->sent > SNAP_CHUNK ? SNAP_CHUNK : (size_t)(j->size - s->sent);
    ssize_t n = want ? pread(j->fd, s->chunk, want, (off_t)s->sent) : 0;
    if (n < 0)
        n = 0;   /* a short body: the replica's size and hash checks refuse it */
    s->sent += (uint64_t)n;
    int final = n == 0 || s->sent >= j->size;
    h2o_iovec_t vec = h2o_iovec_init(s->chunk, (size_t)n);
    h2o_req_t *req = s->req;
    if (final)
        s->req = NULL;
    h2o_send(req, &vec, n ? 1 : 0, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void snap_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    snap_t *s = (snap_t *)g;
    if (s->req)
        snap_send_next(s);
}

static void snap_stop(h2o_generator_t *g, h2o_req_t *req)
{
    ((snap_t *)g)->req = NULL;
}

static void snap_dispose(void *p)
{
    snap_t *s = p;
    if (h2o_timeout_is_linked(&s->poll))
        h2o_timeout_unlink(&s->poll);
    free(s->chunk);
    job_release(s->job);
}

static void add_header(h2o_req_t *req, const char *name, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, value, strlen(value));
}

static void snap_start(snap_t *s)
{
    h2o_req_t *req = s->req;
    snapjob_t *j = s->job;
    char num[32];
    s->chunk = malloc(SNAP_CHUNK);
    if (atomic_load(&j->ready) < 0 || !s->chunk) {
        httpreq_send_error(req, 500, s->chunk ? "the snapshot could not be written (see the log)" : "out of memory",
                           NULL);
        return;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/octet-stream"));
    snprintf(num, sizeof num, "%" PRIu64, j->head);
    add_header(req, "x-snapshot-head", num);
    snprintf(num, sizeof num, "%" PRIu64, j->size);
    add_header(req, "x-snapshot-size", num);
    add_header(req, "x-snapshot-sha256", j->sha256);
    add_header(req, "x-store-id", j->id);
    s->super.proceed = snap_proceed;
    s->super.stop = snap_stop;
    h2o_start_response(req, &s->super);
    snap_send_next(s);
}

static void on_snap_poll(h2o_timeout_entry_t *e)
{
    snap_t *s = H2O_STRUCT_FROM_MEMBER(snap_t, poll, e);
    if (!atomic_load(&s->job->ready)) {
        h2o_timeout_link(s->loop->ctx->loop, &s->loop->snap_poll, &s->poll);
        return;
    }
    if (s->req)
        snap_start(s);
}

void replsend_snapshot(replsend_loop_t *l, h2o_req_t *req)
{
    snapjob_t *j = calloc(1, sizeof *j);
    if (!j || atomic_fetch_add(&snapshots_running, 1) >= MAX_SNAPSHOTS) {
        if (j)
            atomic_fetch_sub(&snapshots_running, 1);
        free(j);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("5"));
        httpreq_send_error(req, 503, "snapshots are being made for other replicas; retry shortly", NULL);
        return;
    }
    j->st = l->st;
    j->fd = -1;
    atomic_store(&j->refs, 2);
    snap_t *s = h2o_mem_alloc_shared(&req->pool, sizeof *s, snap_dispose);
    memset(s, 0, sizeof *s);
    s->req = req;
    s->loop = l;
    s->job = j;
    s->poll.cb = on_snap_poll;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, snap_main, j) != 0)
        snap_main(j);
    pthread_attr_destroy(&attr);
    h2o_timeout_link(l->ctx->loop, &l->snap_poll, &s->poll);
}
