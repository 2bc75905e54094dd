/* stream.c -- GET /stream: history as of a snapshot, then live changes, exactly once per
 * version, over SSE or NDJSON. One hub per event-loop worker fans new changes out to the
 * streams that wait at the head; every other stream reads the store itself in bounded
 * batches when h2o asks for more. See stream.h for the design. */
#include "stream.h"
#include "clientcap.h"
#include "clock.h"
#include "eventid.h"
#include "log.h"
#include "metrics.h"
#include "sockwatch.h"
#include "sse.h"
#include "streamreq.h"
#include "timefmt.h"
#include <inttypes.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define FILL_TARGET (64 * 1024)   /* bytes handed to one h2o_send */
#define VISIT_BUDGET 16384        /* records examined per fill before yielding to the loop */
#define HUB_ARENA_BYTES (8u << 20)
#define HUB_MAX_ENTRIES 4096
#define MAX_SHARED_RUNS 8         /* iovecs into the hub's frames per write; more: they are copied */
#define TRIM_AFTER_CLOSES 512     /* streams gone since the last trim before memory is handed back */
#define TRIM_QUIET_MS 1000        /* ... once no stream has ended for this long */

enum { PHASE_HISTORY, PHASE_LIVE, PHASE_DONE };

/* What a hub counts for /metrics (written by its loop thread only). Only uint64_t members:
 * the report sums them as an array. */
typedef struct {
    uint64_t opened, closed, history_events, live_events, bytes, hub_polls, wakes,
             write_timeouts, resets, hangups, expired;
    uint64_t rejected_max, rejected_client, rejected_shutdown;   /* by the reason they name */
} stream_counters_t;

typedef struct {
    store_rec_t rec;               /* pointers into the hub arena */
    size_t frame_off, frame_len;   /* the SSE frame, in the pass's frames */
} hub_entry_t;

/* The SSE frames of one hub pass, in seq order. Streams send them as they are: h2o keeps
 * pointers into them until each write completes (proceed), so a pass that finds the last
 * frames still lent starts new ones, and the last stream to give old ones back frees them. */
typedef struct {
    bytebuf_t buf;
    uint32_t lent;                 /* streams with a write from buf in flight */
} hub_frames_t;

struct stream_hub {
    h2o_context_t *ctx;
    store_t *st;
    const stream_settings_t *set;
    sockwatch_t *watch;            /* owned: HTTP/1 clients that hang up */
    h2o_timeout_t poll_timeout, heartbeat_timeout, write_timeout, trim_timeout;
    h2o_timeout_entry_t poll_entry, trim_entry;
    uint64_t closed_at_trim;       /* c.closed when memory was last handed back */
    uint64_t last_close_ms;        /* loop time of the last stream's end */
    h2o_linklist_t streams;        /* every open stream */
    h2o_linklist_t waiting;        /* idle streams caught up with the change log */
    uint64_t seq;                  /* the change log is distributed up to here */
    char *arena;                   /* owned, HUB_ARENA_BYTES, allocated on first use */
    size_t arena_len;
    hub_entry_t *entries;          /* owned, HUB_MAX_ENTRIES */
    size_t nentries;
    uint64_t batch_last;           /* last seq copied into the batch */
    hub_frames_t *frames;          /* owned: this pass's frames (older ones: their borrowers') */
    size_t with_end;               /* open streams that have an end time */
    int64_t next_expiry_us;        /* no stream's credentials expire before this */
    int shutting_down;
    size_t open;
    stream_counters_t c;
    _Atomic int64_t last_tick_ms;
};

typedef struct {
    h2o_generator_t super;         /* first: h2o hands it back to proceed/stop */
    h2o_req_t *req;                /* borrowed; NULL once ended or stopped: never touch it then */
    stream_hub_t *hub;
    const gate_who_t *who;         /* held (gate_who_hold) until dispose; NULL: no gate */
    streamreq_t p;                 /* owned; p.scope borrows who's scope */
    int64_t ends_us;               /* the credentials expire (wall clock); 0: never */
    int phase;
    uint64_t s0;                   /* snapshot head of the history part */
    store_tpos_t hpos;             /* last time-index position examined */
    uint64_t bookmark;             /* last change-log seq examined (live part) */
    uint64_t compact_upto;         /* a compacted catch-up: up to this seq, superseded versions
                                      are skipped (0: exact) */
    bytebuf_t out[2];              /* owned: out[cur] is filled, the other is lent to h2o */
    int cur, inflight, finishing, counted, client_counted, input_released;
    int watch_fd;                  /* the HTTP/1 socket in hub->watch; -1: none */
    hub_frames_t *lent;            /* hub frames lent to h2o by the write in flight; NULL: none */
    char *client;                  /* max_streams_per_client key (in the request's pool); NULL: none */
    size_t visited;
    h2o_linklist_t all_link, wait_link;
    h2o_timeout_entry_t heartbeat_entry, write_entry, defer_entry;
} stream_t;

static void unlink_timer(h2o_timeout_entry_t *e)
{
    if (h2o_timeout_is_linked(e))
        h2o_timeout_unlink(e);
}

static void unlink_list(h2o_linklist_t *l)
{
    if (h2o_linklist_is_linked(l))
        h2o_linklist_unlink(l);
}

static h2o_socket_t *request_socket(h2o_req_t *req)
{
    h2o_conn_t *conn = req->conn;
    return conn->callbacks->get_socket ? conn->callbacks->get_socket(conn) : NULL;
}

/* Give back the stream's slots (max_streams, max_streams_per_client) and counts, once; the
 * response may still be finishing. A wave of ends arms the memory trim. */
static void stream_release(stream_t *s)
{
    stream_hub_t *hub = s->hub;
    if (s->client_counted) {
        s->client_counted = 0;
        gate_stream_closed(s->who);
    }
    if (!s->counted)
        return;
    s->counted = 0;
    hub->open--;
    hub->c.closed++;
    hub->with_end -= s->p.has_end;
    atomic_fetch_sub(hub->set->open_streams, 1);
    if (s->client)
        clientcap_release(hub->set->per_client, s->client);
    hub->last_close_ms = h2o_now(hub->ctx->loop);
    if (!h2o_timeout_is_linked(&hub->trim_entry))
        h2o_timeout_link(hub->ctx->loop, &hub->trim_timeout, &hub->trim_entry);
}

static void stream_unwatch(stream_t *s)
{
    if (s->watch_fd >= 0)
        sockwatch_remove(s->hub->watch, s->watch_fd);
    s->watch_fd = -1;
}

/* HTTP/1: libh2o reads the socket no more, so watch it for the client hanging up. (HTTP/2
 * connections are always read: libh2o ends their streams when the client goes.) */
static void stream_watch(stream_t *s)
{
    h2o_socket_t *sock = s->req->version < 0x200 ? request_socket(s->req) : NULL;
    int fd = sock ? h2o_socket_get_fd(sock) : -1;
    if (fd >= 0 && sockwatch_add(s->hub->watch, fd, s) == 0)
        s->watch_fd = fd;
}

/* Forget the request: after this the stream is only memory waiting for the pool's dispose.
 * Runs before libh2o closes the socket (the watch must go first). */
static void stream_detach(stream_t *s)
{
    stream_release(s);
    stream_unwatch(s);
    unlink_list(&s->all_link);
    unlink_list(&s->wait_link);
    unlink_timer(&s->heartbeat_entry);
    unlink_timer(&s->write_entry);
    unlink_timer(&s->defer_entry);
    s->req = NULL;
}

/* ---- framing ---- */

/* Format an id of this store (tagged with its store's tag) into buf; returns its length. */
static size_t format_id(const stream_hub_t *hub, eventid_t id, char *buf)
{
    memcpy(id.tag, store_tag(hub->st), sizeof id.tag - 1);
    return eventid_format(&id, buf);
}

static int append_event(stream_t *s, const eventid_t *id, const char *event, const char *data, size_t len)
{
    char idbuf[EVENTID_MAX];
    size_t idlen = format_id(s->hub, *id, idbuf);
    if (sse_append_event(&s->out[s->cur], s->p.format, idbuf, idlen, event, data, len) != 0) {
        log_error("stream", "out of memory framing an event; ending the stream");
        s->finishing = 1;
        return -1;
    }
    return 0;
}

static void append_live_marker(stream_t *s)
{
    char data[TIMEFMT_RFC3339_MAX + 16] = "{\"at\":\"";
    size_t n = strlen(data);
    n += timefmt_format_rfc3339(timefmt_now_us(), data + n);
    memcpy(data + n, "\"}", 3);
    eventid_t id = {.kind = EVENTID_LIVE, .seq = s->bookmark};
    append_event(s, &id, "live", data, n + 2);
}

static void append_end(stream_t *s)
{
    eventid_t id = {.kind = EVENTID_END, .seq = s->phase == PHASE_LIVE ? s->bookmark : s->s0};
    append_event(s, &id, "end", "{}", 2);
    s->phase = PHASE_DONE;
    s->finishing = 1;
}

static int end_passed(const stream_t *s)
{
    return s->p.has_end && timefmt_now_us() >= s->p.end_us;
}

/* ---- reading the store ---- */

static int batch_full(const stream_t *s)
{
    return s->finishing || s->out[s->cur].len >= FILL_TARGET || s->visited >= VISIT_BUDGET;
}

static int on_history_rec(const store_rec_t *rec, void *ud)
{
    stream_t *s = ud;
    s->hpos.published_us = rec->published_us;
    s->hpos.seq = rec->seq;
    s->visited++;
    if (streamreq_match(&s->p, rec)) {
        eventid_t id = {.kind = EVENTID_HISTORY, .s0 = s->s0, .published_us = rec->published_us, .seq = rec->seq};
        if (append_event(s, &id, "activity", rec->data, rec->data_len) == 0)
            s->hub->c.history_events++;
    }
    return batch_full(s);
}

static const char *event_name(const store_rec_t *rec)
{
    return rec->kind == STORE_REC_DELETE ? "delete" : "activity";
}

static int live_wanted(const stream_t *s, const store_rec_t *rec)
{
    if (rec->superseded && rec->seq <= s->compact_upto)
        return 0;   /* a compacted catch-up sends current versions and tombstones only */
    return rec->seq > s->bookmark && !(s->p.has_end && rec->published_us >= s->p.end_us) &&
           streamreq_match(&s->p, rec);
}

static int on_live_rec(const store_rec_t *rec, void *ud)
{
    stream_t *s = ud;
    s->visited++;
    if (live_wanted(s, rec)) {
        eventid_t id = {.kind = EVENTID_LIVE, .seq = rec->seq};
        if (append_event(s, &id, event_name(rec), rec->data, rec->data_len) == 0)
            s->hub->c.live_events++;
    }
    s->bookmark = rec->seq;
    return batch_full(s);
}

static void history_done(stream_t *s)
{
    if (s->p.has_end && s->p.end_us <= timefmt_now_us()) {
        append_end(s);
        return;
    }
    s->phase = PHASE_LIVE;
    s->bookmark = s->s0;
    append_live_marker(s);
}

/* One store read; returns non-zero when another may produce more. */
static int fill_once(stream_t *s)
{
    int rc;
    if (s->phase == PHASE_HISTORY) {
        if (s->s0 > store_head(s->hub->st))
            return 0;   /* a replica behind the snapshot it is asked to continue: wait */
        /* An empty snapshot has no history (and max_seq 0 would mean "no limit"). */
        rc = s->s0 == 0 ? 0 : store_scan_time(s->hub->st, s->hpos, s->p.end_us, s->s0, 0, on_history_rec, s, NULL);
        if (rc == 0)
            history_done(s);
    } else if (s->phase == PHASE_LIVE) {
        if (end_passed(s)) {
            append_end(s);
            return 0;
        }
        uint64_t head = store_head(s->hub->st);
        if (s->bookmark >= head)
            return 0;
        rc = store_scan_changes(s->hub->st, s->bookmark, head, 0, on_live_rec, s, NULL);
        if (rc == 0)
            s->bookmark = head;
    } else {
        return 0;
    }
    if (rc < 0) {
        log_error("stream", "store read failed: %s; ending the stream", store_strerror(rc));
        s->finishing = 1;
        return 0;
    }
    return 1;
}

static void stream_fill(stream_t *s)
{
    s->visited = 0;
    while (!batch_full(s) && fill_once(s))
        ;
}

/* ---- sending ---- */

/* The one write in flight: what every send shares. The stream may be gone when it returns (a
 * final write can end the request at once). */
static void stream_write(stream_t *s, h2o_iovec_t *vecs, size_t n, int final)
{
    stream_hub_t *hub = s->hub;
    h2o_req_t *req = s->req;
    s->inflight = 1;
    for (size_t i = 0; i < n; i++)
        hub->c.bytes += vecs[i].len;
    if (final) {
        stream_detach(s);
    } else {
        unlink_timer(&s->heartbeat_entry);
        h2o_timeout_link(hub->ctx->loop, &hub->heartbeat_timeout, &s->heartbeat_entry);
        h2o_timeout_link(hub->ctx->loop, &hub->write_timeout, &s->write_entry);
    }
    h2o_send(req, vecs, n, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

/* Send what the stream's own buffer holds (and end the response when finishing). */
static void stream_send(stream_t *s)
{
    bytebuf_t *b = &s->out[s->cur];
    h2o_iovec_t vec = h2o_iovec_init(b->p, b->len);
    s->cur ^= 1;
    s->out[s->cur].len = 0;
    stream_write(s, &vec, vec.len ? 1 : 0, s->finishing);
}

/* Send runs of the hub's current frames themselves; they stay lent until proceed. */
static void stream_send_frames(stream_t *s, h2o_iovec_t *vecs, size_t n)
{
    s->lent = s->hub->frames;
    s->lent->lent++;
    stream_write(s, vecs, n, 0);
}

static void frames_free(hub_frames_t *f)
{
    if (!f)
        return;
    bytebuf_free(&f->buf);
    free(f);
}

/* The write from the hub's frames is over (proceed, or the request is gone): give them back. */
static void stream_return_frames(stream_t *s)
{
    hub_frames_t *f = s->lent;
    s->lent = NULL;
    if (f && --f->lent == 0 && f != s->hub->frames)
        frames_free(f);
}

/* An HTTP/1 connection that carries a stream serves nothing after it (EventSource always opens
 * a new one), so it is not kept alive, and the 8 KiB buffer that held the request goes back to
 * the allocator for the stream's whole life: most of an idle stream's memory. Called once the
 * response headers are out; h2o stopped reading this socket after the request. */
static void release_request_buffer(stream_t *s)
{
    if (s->input_released || s->req->version >= 0x200)
        return;
    s->input_released = 1;
    h2o_socket_t *sock = request_socket(s->req);
    if (!sock)
        return;
    s->req->http1_is_persistent = 0;
    h2o_buffer_dispose(&sock->input);
    h2o_buffer_init(&sock->input, &h2o_socket_buffer_prototype);
}

static void stream_wait(stream_t *s)
{
    release_request_buffer(s);
    bytebuf_free(&s->out[0]);
    bytebuf_free(&s->out[1]);
    if (!h2o_linklist_is_linked(&s->wait_link))
        h2o_linklist_insert(&s->hub->waiting, &s->wait_link);
}

/* The credentials the stream was opened with are refused from now on: a last comment, and the
 * response ends. EventSource reconnects with them and gets 401, which stops it. */
static void expire_if_due(stream_t *s)
{
    if (s->finishing || !s->ends_us || timefmt_now_us() < s->ends_us)
        return;
    if (sse_append_comment(&s->out[s->cur], s->p.format, "credentials expired") != 0)
        log_error("stream", "out of memory framing the expiry comment");
    s->phase = PHASE_DONE;
    s->finishing = 1;
    s->hub->c.expired++;
}

/* A live stream that has everything the hub distributed so far leaves the rest to the hub: a
 * commit after the hub's last pass has woken the loop already (or the poll tick finds it), so
 * the hub's next pass brings it, read once for all streams instead of once per stream. */
static int hub_brings_next(const stream_t *s)
{
    return s->phase == PHASE_LIVE && s->bookmark >= s->hub->seq && !end_passed(s);
}

/* Produce and send the next batch, or wait for the hub, or yield and come back. */
static void stream_pump(stream_t *s)
{
    if (!s->req || s->inflight)
        return;
    expire_if_due(s);
    if (!s->finishing && !hub_brings_next(s))
        stream_fill(s);
    if (s->finishing || s->out[s->cur].len) {
        unlink_list(&s->wait_link);
        stream_send(s);
    } else if ((s->phase == PHASE_LIVE && s->bookmark >= s->hub->seq) ||
               (s->phase == PHASE_HISTORY && s->s0 > store_head(s->hub->st))) {
        stream_wait(s);
    } else if (!h2o_timeout_is_linked(&s->defer_entry)) {
        h2o_timeout_link(s->hub->ctx->loop, &s->hub->ctx->zero_timeout, &s->defer_entry);
    }
}

static void on_defer(h2o_timeout_entry_t *e)
{
    stream_pump(H2O_STRUCT_FROM_MEMBER(stream_t, defer_entry, e));
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    stream_t *s = (stream_t *)g;
    s->inflight = 0;
    stream_return_frames(s);
    unlink_timer(&s->write_entry);
    stream_pump(s);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    stream_detach((stream_t *)g);
}

/* The request's pool is being cleared (h2o releases its shared allocations, this one among
 * them, before it frees the pool's chunks, where the stream lives). */
static void on_dispose(void *p)
{
    stream_t *s = *(stream_t **)p;
    stream_detach(s);
    stream_return_frames(s);
    bytebuf_free(&s->out[0]);
    bytebuf_free(&s->out[1]);
    streamreq_free(&s->p);
    if (s->who)
        gate_who_release(s->who);
}

static void on_heartbeat(h2o_timeout_entry_t *e)
{
    stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, heartbeat_entry, e);
    if (!s->req)
        return;
    if (s->inflight) {
        h2o_timeout_link(s->hub->ctx->loop, &s->hub->heartbeat_timeout, &s->heartbeat_entry);
        return;
    }
    if (sse_append_keepalive(&s->out[s->cur], s->p.format) != 0)
        s->finishing = 1;
    unlink_list(&s->wait_link);
    stream_send(s);
}

/* A write stuck longer than write_timeout: shut the socket down; h2o then stops the stream
 * and the client resumes with its last id. */
static void on_write_timeout(h2o_timeout_entry_t *e)
{
    stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, write_entry, e);
    if (!s->req)
        return;
    s->hub->c.write_timeouts++;
    h2o_socket_t *sock = request_socket(s->req);
    int fd = sock ? h2o_socket_get_fd(sock) : -1;
    log_warn("stream", "write stuck for %" PRId64 " ms; disconnecting the client", s->hub->set->write_timeout_ms);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

/* The client closed or reset its HTTP/1 connection (sockwatch): its slots go back now, and the
 * response ends so that libh2o closes the socket. With a write in flight, that write fails or
 * completes, and then the stream ends (h2o stops it, or proceed sends the end). */
static void on_hangup(void *ud)
{
    stream_t *s = ud;
    if (!s->req)
        return;
    s->hub->c.hangups++;
    stream_release(s);
    stream_unwatch(s);
    s->req->http1_is_persistent = 0;
    s->finishing = 1;
    unlink_list(&s->wait_link);
    if (s->inflight)
        return;
    s->out[s->cur].len = 0;   /* nobody is there to read it */
    stream_send(s);
}

/* ---- the hub ---- */

/* Copy a change into the pass: its record into the arena (for the streams' filters), its SSE
 * frame onto the pass's frames. Returns 1 (stop) when the pass is full. */
static int on_hub_rec(const store_rec_t *rec, void *ud)
{
    stream_hub_t *hub = ud;
    bytebuf_t *f = &hub->frames->buf;
    char idbuf[EVENTID_MAX];
    eventid_t id = {.kind = EVENTID_LIVE, .seq = rec->seq};
    int json_inside = rec->json >= rec->data && rec->json + rec->json_len <= rec->data + rec->data_len;
    size_t need = rec->feed_len + rec->id_len + rec->types_len + rec->actor_len + rec->data_len +
                  (json_inside ? 0 : rec->json_len), off = f->len;
    if (hub->nentries == HUB_MAX_ENTRIES || hub->arena_len + need > HUB_ARENA_BYTES ||
        sse_append_event(f, SSE_FORMAT_SSE, idbuf, format_id(hub, id, idbuf), event_name(rec), rec->data,
                         rec->data_len) != 0)
        return 1;
    char *a = hub->arena + hub->arena_len;
    hub_entry_t *e = &hub->entries[hub->nentries++];
    e->rec = *rec;
#define COPY_FIELD(ptr, len) do { memcpy(a, rec->ptr, rec->len); e->rec.ptr = a; a += rec->len; } while (0)
    COPY_FIELD(feed, feed_len);
    COPY_FIELD(id, id_len);
    COPY_FIELD(types, types_len);
    COPY_FIELD(actor, actor_len);
    COPY_FIELD(data, data_len);
    if (json_inside)
        e->rec.json = e->rec.data + (rec->json - rec->data);
    else
        COPY_FIELD(json, json_len);
#undef COPY_FIELD
    e->frame_off = off;
    e->frame_len = f->len - off;
    hub->arena_len += need;
    hub->batch_last = rec->seq;
    return 0;
}

/* Frames for a new pass: the current ones unless a write still holds them. */
static int hub_take_frames(stream_hub_t *hub)
{
    if (hub->frames && !hub->frames->lent) {
        bytebuf_trim(&hub->frames->buf, 4 * FILL_TARGET);   /* a burst's large buffer goes back */
        return 0;
    }
    hub_frames_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    hub->frames = f;   /* lent ones are freed by their last borrower */
    return 0;
}

static int hub_load(stream_hub_t *hub, uint64_t head)
{
    if (!hub->arena) {
        hub->arena = malloc(HUB_ARENA_BYTES);
        hub->entries = malloc(HUB_MAX_ENTRIES * sizeof *hub->entries);
        if (!hub->arena || !hub->entries)
            return -1;
    }
    if (hub_take_frames(hub) != 0)
        return -1;
    hub->arena_len = hub->nentries = 0;
    hub->batch_last = hub->seq;
    int rc = store_scan_changes(hub->st, hub->seq, head, 0, on_hub_rec, hub, NULL);
    if (rc < 0 || hub->batch_last == hub->seq)
        return -1; /* a store error, or a record too big for the arena */
    return 0;
}

/* The frames of this pass that stream s wants, as runs of consecutive entries (adjacent in the
 * frames) into vecs; *events counts them. Returns the number of runs, or MAX_SHARED_RUNS + 1
 * when there are more. */
static size_t wanted_runs(const stream_hub_t *hub, const stream_t *s, h2o_iovec_t *vecs, size_t *events)
{
    size_t n = 0;
    int in_run = 0;
    for (size_t i = 0; i < hub->nentries; i++) {
        const hub_entry_t *e = &hub->entries[i];
        if (!live_wanted(s, &e->rec)) {
            in_run = 0;
            continue;
        }
        (*events)++;
        if (in_run) {
            vecs[n - 1].len += e->frame_len;
            continue;
        }
        if (n == MAX_SHARED_RUNS)
            return MAX_SHARED_RUNS + 1;
        vecs[n++] = h2o_iovec_init(hub->frames->buf.p + e->frame_off, e->frame_len);
        in_run = 1;
    }
    return n;
}

/* The events of this pass that stream s wants, copied into its own buffer (NDJSON, or frames
 * too scattered to send as they are). */
static void hub_copy(stream_hub_t *hub, stream_t *s)
{
    for (size_t i = 0; i < hub->nentries; i++) {
        const hub_entry_t *e = &hub->entries[i];
        if (!live_wanted(s, &e->rec))
            continue;
        eventid_t id = {.kind = EVENTID_LIVE, .seq = e->rec.seq};
        int rc = s->p.format == SSE_FORMAT_SSE
                     ? bytebuf_append(&s->out[s->cur], hub->frames->buf.p + e->frame_off, e->frame_len)
                     : append_event(s, &id, event_name(&e->rec), e->rec.data, e->rec.data_len);
        if (rc == 0)
            hub->c.live_events++;
    }
}

/* Hand this pass to a waiting stream: the shared frames when it takes SSE, else a copy. */
static void hub_deliver(stream_hub_t *hub, stream_t *s)
{
    h2o_iovec_t vecs[MAX_SHARED_RUNS];
    size_t events = 0, n = MAX_SHARED_RUNS + 1;
    if (s->p.format == SSE_FORMAT_SSE && s->out[s->cur].len == 0)
        n = wanted_runs(hub, s, vecs, &events);
    if (n > MAX_SHARED_RUNS)
        hub_copy(hub, s);
    if (hub->batch_last > s->bookmark)
        s->bookmark = hub->batch_last;
    if (n > 0 && n <= MAX_SHARED_RUNS) {
        hub->c.live_events += events;
        h2o_linklist_unlink(&s->wait_link);
        stream_send_frames(s, vecs, n);
    } else if (s->out[s->cur].len || s->finishing) {
        h2o_linklist_unlink(&s->wait_link);
        stream_send(s);
    }
}

/* Waiting streams read the store themselves (after a hub failure). */
static void hub_release_waiting(stream_hub_t *hub)
{
    while (!h2o_linklist_is_empty(&hub->waiting)) {
        stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, wait_link, hub->waiting.next);
        h2o_linklist_unlink(&s->wait_link);
        stream_pump(s);
    }
}

static void hub_end_due_streams(stream_hub_t *hub)
{
    if (!hub->with_end)
        return;
    int64_t now = timefmt_now_us();
    for (h2o_linklist_t *l = hub->streams.next, *next; l != &hub->streams; l = next) {
        next = l->next;
        stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, all_link, l);
        if (s->phase == PHASE_LIVE && s->p.has_end && now >= s->p.end_us && !s->inflight) {
            unlink_list(&s->wait_link);
            stream_pump(s);
        }
    }
}

/* End the streams whose credentials expired (idle ones wait on the hub; the rest find out when
 * they pump). Only when the earliest expiry has come: a scan also finds the next one. */
static void hub_expire_streams(stream_hub_t *hub)
{
    int64_t now = timefmt_now_us(), next = INT64_MAX;
    if (now < hub->next_expiry_us)
        return;
    for (h2o_linklist_t *l = hub->streams.next, *nl; l != &hub->streams; l = nl) {
        nl = l->next;
        stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, all_link, l);
        if (s->ends_us && now < s->ends_us && s->ends_us < next)
            next = s->ends_us;
        if (s->ends_us && now >= s->ends_us && !s->inflight) {
            unlink_list(&s->wait_link);
            stream_pump(s);
        }
    }
    hub->next_expiry_us = next;
}

static void hub_poll(stream_hub_t *hub)
{
    atomic_store_explicit(&hub->last_tick_ms, clock_mono_ms(), memory_order_relaxed);
    hub->c.hub_polls++;
    hub_end_due_streams(hub);
    hub_expire_streams(hub);
    uint64_t head = store_head(hub->st);
    h2o_linklist_t behind;   /* waiting streams that are not live: they read the store themselves */
    h2o_linklist_init_anchor(&behind);
    while (hub->seq < head) {
        if (h2o_linklist_is_empty(&hub->waiting)) {
            hub->seq = head;
            break;
        }
        if (hub_load(hub, head) != 0) {
            hub->seq = head;
            hub_release_waiting(hub);
            break;
        }
        for (h2o_linklist_t *l = hub->waiting.next, *next; l != &hub->waiting; l = next) {
            next = l->next;
            stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, wait_link, l);
            if (s->phase != PHASE_LIVE) {   /* a history waiting for a replica to catch up */
                h2o_linklist_unlink(&s->wait_link);
                h2o_linklist_insert(&behind, &s->wait_link);
                continue;
            }
            hub_deliver(hub, s);
        }
        hub->seq = hub->batch_last;
    }
    while (!h2o_linklist_is_empty(&behind)) {
        stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, wait_link, behind.next);
        h2o_linklist_unlink(&s->wait_link);
        stream_pump(s);
    }
}

static void on_poll_tick(h2o_timeout_entry_t *e)
{
    stream_hub_t *hub = H2O_STRUCT_FROM_MEMBER(stream_hub_t, poll_entry, e);
    hub_poll(hub);
    h2o_timeout_link(hub->ctx->loop, &hub->poll_timeout, &hub->poll_entry);
}

void stream_hub_wake(stream_hub_t *hub)
{
    hub->c.wakes++;
    hub_poll(hub);
}

/* Streams came and went: once they have stopped ending for TRIM_QUIET_MS, hand the memory they
 * freed back to the kernel. (main.c has glibc keep freed memory on every free, which the
 * fan-out needs; a wave of departures is when to give it back.) */
static void on_trim_tick(h2o_timeout_entry_t *e)
{
    stream_hub_t *hub = H2O_STRUCT_FROM_MEMBER(stream_hub_t, trim_entry, e);
    if (h2o_now(hub->ctx->loop) - hub->last_close_ms < TRIM_QUIET_MS) {
        h2o_timeout_link(hub->ctx->loop, &hub->trim_timeout, &hub->trim_entry);
        return;
    }
    if (hub->c.closed - hub->closed_at_trim < TRIM_AFTER_CLOSES)
        return;
    hub->closed_at_trim = hub->c.closed;
    malloc_trim(0);
}

static void hub_init_timers(stream_hub_t *hub, h2o_loop_t *loop, const stream_settings_t *settings)
{
    h2o_timeout_init(loop, &hub->poll_timeout, settings->poll_interval_ms);
    h2o_timeout_init(loop, &hub->heartbeat_timeout, settings->heartbeat_interval_ms);
    h2o_timeout_init(loop, &hub->write_timeout, settings->write_timeout_ms);
    h2o_timeout_init(loop, &hub->trim_timeout, TRIM_QUIET_MS);
    hub->poll_entry.cb = on_poll_tick;
    hub->trim_entry.cb = on_trim_tick;
    h2o_timeout_link(loop, &hub->poll_timeout, &hub->poll_entry);
}

stream_hub_t *stream_hub_new(h2o_context_t *ctx, store_t *st, const stream_settings_t *settings)
{
    stream_hub_t *hub = calloc(1, sizeof *hub);
    if (!hub || sockwatch_new(&hub->watch, ctx->loop, on_hangup) != 0) {
        free(hub);
        return NULL;
    }
    hub->ctx = ctx;
    hub->st = st;
    hub->set = settings;
    hub->seq = store_head(st);
    hub->next_expiry_us = INT64_MAX;
    h2o_linklist_init_anchor(&hub->streams);
    h2o_linklist_init_anchor(&hub->waiting);
    hub_init_timers(hub, ctx->loop, settings);
    atomic_store(&hub->last_tick_ms, clock_mono_ms());
    return hub;
}

void stream_hub_free(stream_hub_t *hub)
{
    if (!hub)
        return;
    unlink_timer(&hub->poll_entry);
    unlink_timer(&hub->trim_entry);
    h2o_timeout_dispose(hub->ctx->loop, &hub->poll_timeout);
    h2o_timeout_dispose(hub->ctx->loop, &hub->heartbeat_timeout);
    h2o_timeout_dispose(hub->ctx->loop, &hub->write_timeout);
    h2o_timeout_dispose(hub->ctx->loop, &hub->trim_timeout);
    sockwatch_free(hub->watch);
    free(hub->arena);
    free(hub->entries);
    if (hub->frames && !hub->frames->lent)
        frames_free(hub->frames);
    free(hub);
}

void stream_hub_shutdown(stream_hub_t *hub)
{
    hub->shutting_down = 1;
    stream_hub_end_all(hub);
}

void stream_hub_end_all(stream_hub_t *hub)
{
    for (h2o_linklist_t *l = hub->streams.next, *next; l != &hub->streams; l = next) {
        next = l->next;
        stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, all_link, l);
        s->finishing = 1;
        unlink_list(&s->wait_link);
        if (!s->inflight)
            stream_send(s);
    }
}

size_t stream_hub_open(const stream_hub_t *hub)
{
    return hub->open;
}

/* The loop thread writes a hub's counters; a relaxed read from the metrics thread may see a
 * value a moment old, which a scrape tolerates. */
static void sum_counters(stream_counters_t *sum, stream_hub_t *const *hubs, size_t nhubs)
{
    uint64_t *to = (uint64_t *)sum;
    memset(sum, 0, sizeof *sum);
    for (size_t i = 0; i < nhubs; i++) {
        const uint64_t *from = hubs[i] ? (const uint64_t *)&hubs[i]->c : NULL;   /* NULL: still starting */
        for (size_t k = 0; from && k < sizeof *sum / sizeof(uint64_t); k++)
            to[k] += from[k];
    }
}

static void report_rejections(metrics_out_t *out, const stream_counters_t *s)
{
    const char *name = "as_streams_rejected_total";
    metrics_family(out, name, "counter", "Streams refused, by the limit or state that refused them.");
    metrics_sample(out, name, "reason", "max_streams", s->rejected_max);
    metrics_sample(out, name, "reason", "max_streams_per_client", s->rejected_client);
    metrics_sample(out, name, "reason", "shutting_down", s->rejected_shutdown);
}

void stream_report_metrics(metrics_out_t *out, stream_hub_t *const *hubs, size_t nhubs)
{
    stream_counters_t s;
    size_t open = 0;
    sum_counters(&s, hubs, nhubs);
    for (size_t i = 0; i < nhubs && !open; i++)
        if (hubs[i])
            open = atomic_load(hubs[i]->set->open_streams);
    metrics_gauge(out, "as_streams_open", "Open /stream responses.", open);
    metrics_counter(out, "as_streams_opened_total", "Streams accepted.", s.opened);
    report_rejections(out, &s);
    metrics_counter(out, "as_stream_hangups_total",
                    "Streams ended because the client closed or reset its HTTP/1 connection.", s.hangups);
    metrics_counter(out, "as_stream_write_timeouts_total", "Streams disconnected after write_timeout.",
                    s.write_timeouts);
    metrics_family(out, "as_events_sent_total", "counter", "Events sent to clients, by part of the stream.");
    metrics_sample(out, "as_events_sent_total", "part", "history", s.history_events);
    metrics_sample(out, "as_events_sent_total", "part", "live", s.live_events);
    metrics_counter(out, "as_bytes_sent_total", "Bytes of stream bodies handed to the HTTP layer.", s.bytes);
    metrics_counter(out, "as_live_polls_total", "Change-log polls by the live hubs (ticks and wake-ups).",
                    s.hub_polls);
    metrics_counter(out, "as_live_wakes_total", "Wake-ups of the live hubs by ingest commits.", s.wakes);
    metrics_counter(out, "as_stream_resets_total", "Resumes that could not continue and started over (event: reset).",
                    s.resets);
    metrics_counter(out, "as_streams_expired_total", "Streams ended because their credentials expired (JWT exp).",
                    s.expired);
}

int64_t stream_hub_last_tick_ms(const stream_hub_t *hub)
{
    return atomic_load_explicit(&hub->last_tick_ms, memory_order_relaxed);
}

/* ---- accepting a request ---- */

/* Answer a refused stream: `status` with Retry-After and {"error": msg, "limit": limit} (the
 * name of the configured limit; no "limit" when NULL). */
static void refuse(h2o_req_t *req, int status, const char *retry_after, const char *msg, const char *limit)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, retry_after, strlen(retry_after));
    if (limit)
        httpreq_send_error_field(req, status, msg, "limit", limit, strlen(limit));
    else
        httpreq_send_error(req, status, msg, NULL);
}

/* The client's slot under max_streams_per_client (none to take without a limit or a key). */
static int admit_client(stream_hub_t *hub, h2o_req_t *req, const char *client)
{
    int rc = client && hub->set->per_client ? clientcap_acquire(hub->set->per_client, client) : 0;
    if (rc == CLIENTCAP_ERR_FULL) {
        hub->c.rejected_client++;
        refuse(req, 429, "5", "too many open streams from this client (max_streams_per_client); retry later",
               "max_streams_per_client");
    } else if (rc != 0) {
        httpreq_send_error(req, 500, "out of memory", NULL);
    }
    return rc;
}

/* Take the stream's slots, or answer the request with the refusal. Returns 0 when admitted. */
static int admit(stream_hub_t *hub, h2o_req_t *req, const char *client)
{
    if (hub->shutting_down) {
        hub->c.rejected_shutdown++;
        refuse(req, 503, "1", "the server is shutting down; reconnect with your last event id", NULL);
        return -1;
    }
    if (admit_client(hub, req, client) != 0)
        return -1;
    size_t open = atomic_fetch_add(hub->set->open_streams, 1);
    if (open < hub->set->max_streams)
        return 0;
    atomic_fetch_sub(hub->set->open_streams, 1);
    if (client && hub->set->per_client)
        clientcap_release(hub->set->per_client, client);
    hub->c.rejected_max++;
    refuse(req, 503, "5", "too many open streams (max_streams); retry later", "max_streams");
    return -1;
}

/* A fresh snapshot: the history from the request's start, as of the head now. */
static void start_fresh(stream_t *s)
{
    s->phase = PHASE_HISTORY;
    s->s0 = store_head(s->hub->st);
    s->hpos.published_us = s->p.start_us;
    s->hpos.seq = 0;
}

/* The resume point cannot be continued: say so, then start over with a new snapshot. Its id
 * positions a reconnect at the start of that snapshot. */
static void start_reset(stream_t *s, const char *reason)
{
    char data[48];
    int n = snprintf(data, sizeof data, "{\"reason\":\"%s\"}", reason);
    start_fresh(s);
    eventid_t id = {.kind = EVENTID_HISTORY, .s0 = s->s0, .published_us = s->p.start_us, .seq = 0};
    append_event(s, &id, "reset", data, (size_t)n);
    s->hub->c.resets++;
}

/* Where a resume from change-log position p stands (store.h): NULL when it can continue,
 * exactly or compacted (then *compact is set), else the reason to start over. */
static const char *resume_problem(stream_t *s, uint64_t p, int *compact)
{
    store_t *st = s->hub->st;
    uint64_t head = store_head(st);
    *compact = 0;
    if (s->p.resume.tag[0] && strcmp(s->p.resume.tag, store_tag(st)) != 0)
        return "unknown";       /* another store's: another cluster, or a history forked from */
    if (p > head && !s->hub->set->replica)
        return "unknown";       /* beyond what this store has written */
    if (p > head)
        return NULL;            /* a replica that is behind: wait until it has caught up */
    if (p < store_tombstone_horizon(st))
        return "expired";       /* deletions after p may have been forgotten */
    *compact = p < store_low_water(st);
    if (*compact)
        s->compact_upto = head;
    return NULL;
}

static void start_position(stream_t *s)
{
    const eventid_t *r = &s->p.resume;
    int compact;
    const char *problem = NULL;
    if (s->p.has_resume && (r->kind == EVENTID_HISTORY || r->kind == EVENTID_LIVE))
        problem = resume_problem(s, r->kind == EVENTID_HISTORY ? r->s0 : r->seq, &compact);
    if (problem) {
        start_reset(s, problem);
    } else if (s->p.has_resume && r->kind == EVENTID_HISTORY) {
        s->phase = PHASE_HISTORY;
        s->s0 = r->s0;
        s->hpos.published_us = r->published_us;
        s->hpos.seq = r->seq;
    } else if (s->p.has_resume && r->kind == EVENTID_LIVE) {
        s->phase = PHASE_LIVE;
        s->bookmark = r->seq;
        append_live_marker(s);
    } else {
        start_fresh(s);
    }
}

static void set_stream_headers(h2o_req_t *req, int format)
{
    req->res.status = 200;
    req->res.reason = "OK";
    if (format == SSE_FORMAT_NDJSON)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/x-ndjson"));
    else
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("text/event-stream; charset=utf-8"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-accel-buffering"), 0, NULL, H2O_STRLIT("no"));
}

/* The stream counts for its client (gate.h) and remembers when its credentials expire. */
static void bind_client(stream_t *s, const gate_who_t *who)
{
    if (!who)
        return;
    gate_who_hold(who);
    s->who = who;
    s->ends_us = who->ends_us;
    s->client_counted = gate_stream_opened(who) > 0;
    if (s->ends_us && s->ends_us < s->hub->next_expiry_us)
        s->hub->next_expiry_us = s->ends_us;
}

/* The stream of an admitted request, counted on the hub (it owns `p` now). It lives in the
 * request's pool, whose first chunk has room to spare (about 600 of its 4 KiB are used by a
 * request), so an idle stream costs no allocation of its own but a one-pointer shared one
 * whose dispose callback cleans the stream up. */
static stream_t *stream_new(stream_hub_t *hub, h2o_req_t *req, const streamreq_t *p, const char *client_key)
{
    stream_t *s = h2o_mem_alloc_pool(&req->pool, sizeof *s);
    stream_t **cleanup = h2o_mem_alloc_shared(&req->pool, sizeof *cleanup, on_dispose);
    *cleanup = s;
    memset(s, 0, sizeof *s);
    s->super.proceed = on_proceed;
    s->super.stop = on_stop;
    s->req = req;
    s->hub = hub;
    s->p = *p;
    s->counted = 1;
    s->watch_fd = -1;
    if (client_key && hub->set->per_client)
        s->client = h2o_strdup(&req->pool, client_key, SIZE_MAX).base;
    s->heartbeat_entry.cb = on_heartbeat;
    s->write_entry.cb = on_write_timeout;
    s->defer_entry.cb = on_defer;
    hub->open++;
    hub->c.opened++;
    hub->with_end += s->p.has_end;
    h2o_linklist_insert(&hub->streams, &s->all_link);
    return s;
}

/* A feed the client named that its scope does not admit reads as empty (issue 11: not an
 * error); a comment at the start says why nothing of it comes. The names are configured feed
 * ids (streamreq_parse checked them), so they are safe in an SSE line. */
static void note_unreadable_feeds(stream_t *s, const gate_who_t *who)
{
    for (size_t i = 0; i < s->p.feeds.n; i++) {
        const char *feed = s->p.feeds.items[i];
        if (gate_admits_feed(who, feed, strlen(feed)))
            continue;
        char text[STORE_MAX_FEED_LEN + 96];
        snprintf(text, sizeof text, "feed %s is outside what these credentials may read: none of it is sent", feed);
        if (sse_append_comment(&s->out[s->cur], s->p.format, text) != 0)
            log_error("stream", "out of memory framing a comment");
    }
}

void stream_handle(stream_hub_t *hub, h2o_req_t *req, const gate_who_t *who)
{
    char err[512], param[128];
    streamreq_t p;
    const char **readable = h2o_mem_alloc_pool(&req->pool, (hub->set->nfeed_ids + 1) * sizeof *readable);
    size_t nreadable = gate_visible_feeds(who, hub->set->feed_ids, hub->set->nfeed_ids, readable);
    streamreq_in_t in = {.body = req->entity.base, .body_len = req->entity.len, .now_us = timefmt_now_us(),
                         .feed_ids = hub->set->feed_ids, .nfeed_ids = hub->set->nfeed_ids, .check_feeds = 1};
    if (nreadable < hub->set->nfeed_ids) {
        in.readable_ids = readable;
        in.nreadable_ids = nreadable;
    }
    httpreq_query_string(req, &in.query_string, &in.qs_len);
    httpreq_header(req, "last-event-id", &in.last_event_id, &in.lei_len);
    httpreq_header(req, "accept", &in.accept, &in.accept_len);
    if (streamreq_parse(&p, &in, err, sizeof err, param, sizeof param) != 0) {
        httpreq_send_error(req, 400, err, param);
        return;
    }
    p.scope = who ? gate_who_scope(who) : NULL;   /* from these credentials, whatever the resume id */
    if (p.has_resume && p.resume.kind == EVENTID_END) {
        streamreq_free(&p);
        req->res.status = 204;
        req->res.reason = "No Content";
        h2o_send_inline(req, "", 0);
        return;
    }
    const char *client_key = who ? who->client : NULL;   /* the client id, or its address */
    if (admit(hub, req, client_key) != 0) {
        streamreq_free(&p);
        return;
    }
    stream_t *s = stream_new(hub, req, &p, client_key);
    bind_client(s, who);
    set_stream_headers(req, s->p.format);
    h2o_start_response(req, &s->super);
    stream_watch(s);
    sse_append_retry(&s->out[s->cur], s->p.format, hub->set->retry_ms);
    if (in.readable_ids)
        note_unreadable_feeds(s, who);
    start_position(s);
    stream_pump(s);
}
