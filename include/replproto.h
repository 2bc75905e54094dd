/* replproto.h -- the framing of the replication stream (GET /_replication): what a primary
 * sends and a replica reads, as binary frames that carry records byte for byte. Pure: bytes in,
 * bytes out; no I/O.
 *
 * A frame is a 9-byte header -- type (1 byte), payload length (4 bytes), CRC-32 of the payload
 * (4 bytes), both big-endian -- then the payload. Integers in payloads are big-endian.
 *   HELLO      JSON {"store": hex id, "parent": hex id or "", "fork", "head", "time_us"}
 *   MARKS      u64 low_water, u64 tomb_horizon, u64 commit_horizon, i64 time_us
 *   ENTRY      u64 seq, i64 commit_us, the record as the primary stores it
 *   COMMIT     u64 last_seq, i64 commit_us, u64 chain
 *   FEED_STATE u16 feed length, the feed id, the state blob
 *   FEEDS      i64 time_us, the primary's /feeds document (JSON)
 *   HEARTBEAT  i64 time_us, u64 head
 * Every frame carries the primary's clock: an entry or commit its commit time, the others the
 * time they were sent. A corrupt frame (CRC), an unknown type or a length over
 * REPLPROTO_MAX_PAYLOAD is an error: the replica drops the connection and starts again from
 * what it committed. */
#ifndef REPLPROTO_H
#define REPLPROTO_H
#include <stddef.h>
#include <stdint.h>
#include "bytebuf.h"
#include "store.h"

enum {
    REPL_HELLO = 1, REPL_MARKS, REPL_ENTRY, REPL_COMMIT, REPL_FEED_STATE, REPL_FEEDS, REPL_HEARTBEAT,
};

#define REPLPROTO_HEADER 9
#define REPLPROTO_MAX_PAYLOAD (256u << 20)

/* Error codes (negative). */
enum {
    REPLPROTO_ERR_CORRUPT = -1,   /* CRC mismatch, unknown type, bad length or payload */
    REPLPROTO_ERR_NOMEM = -2,
};

/* A decoded frame; pointers BORROW from the bytes given to replproto_next. */
typedef struct {
    int type;
    int64_t time_us;                       /* MARKS, ENTRY, COMMIT, FEEDS, HEARTBEAT */
    uint64_t seq;                          /* ENTRY: its seq; COMMIT: last seq; HEARTBEAT: head */
    uint64_t chain;                        /* COMMIT */
    uint64_t low_water, tomb_horizon, commit_horizon;   /* MARKS */
    const char *feed; size_t feed_len;     /* FEED_STATE */
    const void *data; size_t data_len;     /* ENTRY: record; FEED_STATE: blob; FEEDS, HELLO: JSON */
} replproto_frame_t;

/* Append one frame to out. Returns 0 or REPLPROTO_ERR_NOMEM (out's sticky flag is set). */
int replproto_put_hello(bytebuf_t *out, const char *json, size_t len);
int replproto_put_marks(bytebuf_t *out, uint64_t low_water, uint64_t tomb_horizon, uint64_t commit_horizon,
                        int64_t time_us);
int replproto_put_entry(bytebuf_t *out, uint64_t seq, int64_t commit_us, const void *rec, size_t len);
int replproto_put_commit(bytebuf_t *out, uint64_t last_seq, int64_t commit_us, uint64_t chain);
int replproto_put_feed_state(bytebuf_t *out, const char *feed, size_t feed_len, const void *blob, size_t len);
int replproto_put_feeds(bytebuf_t *out, int64_t time_us, const char *json, size_t len);
int replproto_put_heartbeat(bytebuf_t *out, int64_t time_us, uint64_t head);
/* One item of store_log_scan: an ENTRY, a COMMIT or (marks, stamped now) a MARKS frame. */
int replproto_put_log_item(bytebuf_t *out, const store_log_item_t *it);

/* Decode the frame at the start of p[0..n). Returns the bytes it takes (*out filled), 0 when
 * more bytes are needed, or REPLPROTO_ERR_CORRUPT. */
long replproto_next(const void *p, size_t n, replproto_frame_t *out);

#endif
