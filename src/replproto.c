/* replproto.c -- the replication stream's frames (see replproto.h). */
#include "replproto.h"
#include "timefmt.h"
#include <string.h>
#include <zlib.h>

static void be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A frame of `type` whose payload is `fixed` (nfixed bytes) followed by tail[0..ntail). */
static int put_frame(bytebuf_t *out, int type, const uint8_t *fixed, size_t nfixed, const void *tail, size_t ntail)
{
    size_t len = nfixed + ntail;
    if (len > REPLPROTO_MAX_PAYLOAD || bytebuf_reserve(out, REPLPROTO_HEADER + len) < 0) {
        out->failed = 1;
        return REPLPROTO_ERR_NOMEM;
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    if (nfixed)
        crc = crc32(crc, fixed, (uInt)nfixed);
    if (ntail)
        crc = crc32(crc, tail, (uInt)ntail);
    uint8_t *p = (uint8_t *)out->p + out->len;
    p[0] = (uint8_t)type;
    for (int i = 0; i < 4; i++) {
        p[1 + i] = (uint8_t)(len >> (24 - 8 * i));
        p[5 + i] = (uint8_t)(crc >> (24 - 8 * i));
    }
    if (nfixed)
        memcpy(p + REPLPROTO_HEADER, fixed, nfixed);
    if (ntail)
        memcpy(p + REPLPROTO_HEADER + nfixed, tail, ntail);
    out->len += REPLPROTO_HEADER + len;
    return 0;
}

int replproto_put_hello(bytebuf_t *out, const char *json, size_t len)
{
    return put_frame(out, REPL_HELLO, NULL, 0, json, len);
}

int replproto_put_marks(bytebuf_t *out, uint64_t low_water, uint64_t tomb_horizon, uint64_t commit_horizon,
                        int64_t time_us)
{
    uint8_t f[32];
    be64(f, low_water);
    be64(f + 8, tomb_horizon);
    be64(f + 16, commit_horizon);
    be64(f + 24, (uint64_t)time_us);
    return put_frame(out, REPL_MARKS, f, sizeof f, NULL, 0);
}

int replproto_put_entry(bytebuf_t *out, uint64_t seq, int64_t commit_us, const void *rec, size_t len)
{
    uint8_t f[16];
    be64(f, seq);
    be64(f + 8, (uint64_t)commit_us);
    return put_frame(out, REPL_ENTRY, f, sizeof f, rec, len);
}

int replproto_put_commit(bytebuf_t *out, uint64_t last_seq, int64_t commit_us, uint64_t chain)
{
    uint8_t f[24];
    be64(f, last_seq);
    be64(f + 8, (uint64_t)commit_us);
    be64(f + 16, chain);
    return put_frame(out, REPL_COMMIT, f, sizeof f, NULL, 0);
}

int replproto_put_log_item(bytebuf_t *out, const store_log_item_t *it)
{
    switch (it->kind) {
    case STORE_LOG_MARKS:
        return replproto_put_marks(out, it->low_water, it->tomb_horizon, it->commit_horizon, timefmt_now_us());
    case STORE_LOG_ENTRY:
        return replproto_put_entry(out, it->seq, it->commit_us, it->record, it->record_len);
    default:
        return replproto_put_commit(out, it->seq, it->commit_us, it->chain);
    }
}

int replproto_put_feed_state(bytebuf_t *out, const char *feed, size_t feed_len, const void *blob, size_t len)
{
    uint8_t f[2 + 255];
    if (feed_len > 255)
        return REPLPROTO_ERR_CORRUPT;
    f[0] = (uint8_t)(feed_len >> 8);
    f[1] = (uint8_t)feed_len;
    memcpy(f + 2, feed, feed_len);
    return put_frame(out, REPL_FEED_STATE, f, 2 + feed_len, blob, len);
}

int replproto_put_feeds(bytebuf_t *out, int64_t time_us, const char *json, size_t len)
{
    uint8_t f[8];
    be64(f, (uint64_t)time_us);
    return put_frame(out, REPL_FEEDS, f, sizeof f, json, len);
}

int replproto_put_heartbeat(bytebuf_t *out, int64_t time_us, uint64_t head)
{
    uint8_t f[16];
    be64(f, (uint64_t)time_us);
    be64(f + 8, head);
    return put_frame(out, REPL_HEARTBEAT, f, sizeof f, NULL, 0);
}

/* Fill *out from a checked payload; returns 0 or REPLPROTO_ERR_CORRUPT. */
static int decode(int type, const uint8_t *p, size_t n, replproto_frame_t *out)
{
    static const size_t fixed[] = {[REPL_HELLO] = 0, [REPL_MARKS] = 32, [REPL_ENTRY] = 16, [REPL_COMMIT] = 24,
                                   [REPL_FEED_STATE] = 2, [REPL_FEEDS] = 8, [REPL_HEARTBEAT] = 16};
    memset(out, 0, sizeof *out);
    out->type = type;
    if (type < REPL_HELLO || type > REPL_HEARTBEAT || n < fixed[type])
        return REPLPROTO_ERR_CORRUPT;
    switch (type) {
    case REPL_MARKS:
        out->low_water = rd64(p);
        out->tomb_horizon = rd64(p + 8);
        out->commit_horizon = rd64(p + 16);
        out->time_us = (int64_t)rd64(p + 24);
        return n == 32 ? 0 : REPLPROTO_ERR_CORRUPT;
    case REPL_ENTRY:
        out->seq = rd64(p);
        out->time_us = (int64_t)rd64(p + 8);
        break;
    case REPL_COMMIT:
        out->seq = rd64(p);
        out->time_us = (int64_t)rd64(p + 8);
        out->chain = rd64(p + 16);
        return n == 24 ? 0 : REPLPROTO_ERR_CORRUPT;
    case REPL_FEED_STATE:
        out->feed_len = (size_t)p[0] << 8 | p[1];
        if (out->feed_len == 0 || 2 + out->feed_len > n)
            return REPLPROTO_ERR_CORRUPT;
        out->feed = (const char *)p + 2;
        out->data = p + 2 + out->feed_len;
        out->data_len = n - 2 - out->feed_len;
        return 0;
    case REPL_FEEDS:
        out->time_us = (int64_t)rd64(p);
        break;
    case REPL_HEARTBEAT:
        out->time_us = (int64_t)rd64(p);
        out->seq = rd64(p + 8);
        return n == 16 ? 0 : REPLPROTO_ERR_CORRUPT;
    }
    out->data = p + fixed[type];
    out->data_len = n - fixed[type];
    return 0;
}

long replproto_next(const void *buf, size_t n, replproto_frame_t *out)
{
    const uint8_t *p = buf;
    if (n < REPLPROTO_HEADER)
        return 0;
    uint32_t len = rd32(p + 1), crc = rd32(p + 5);
    if (len > REPLPROTO_MAX_PAYLOAD || p[0] < REPL_HELLO || p[0] > REPL_HEARTBEAT)
        return REPLPROTO_ERR_CORRUPT;
    if (n - REPLPROTO_HEADER < len)
        return 0;
    const uint8_t *payload = p + REPLPROTO_HEADER;
    if (crc32(crc32(0L, Z_NULL, 0), payload, len) != crc)
        return REPLPROTO_ERR_CORRUPT;
    if (decode(p[0], payload, len, out) != 0)
        return REPLPROTO_ERR_CORRUPT;
    return (long)(REPLPROTO_HEADER + len);
}
