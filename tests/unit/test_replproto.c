/* test_replproto.c -- the replication stream's frames: each kind round-trips, a stream of
 * frames decodes byte by byte (partial input asks for more), and corruption is refused (a
 * flipped payload bit, an unknown type, an impossible length, a truncated fixed part). */
#include "replproto.h"
#include <criterion/criterion.h>
#include <string.h>
#include <zlib.h>

static bytebuf_t sample(void)
{
    bytebuf_t b = {0};
    cr_assert_eq(replproto_put_hello(&b, "{\"store\":\"ab\"}", 14), 0);
    cr_assert_eq(replproto_put_marks(&b, 5, 3, 2, 1700000000000000), 0);
    cr_assert_eq(replproto_put_entry(&b, 42, 1700000000000001, "RECORD-BYTES\0\1", 14), 0);
    cr_assert_eq(replproto_put_commit(&b, 43, 1700000000000002, 0xfeedfacecafebeefULL), 0);
    cr_assert_eq(replproto_put_feed_state(&b, "crm", 3, "{\"gen\":1}", 9), 0);
    cr_assert_eq(replproto_put_feeds(&b, 7, "[]", 2), 0);
    cr_assert_eq(replproto_put_heartbeat(&b, 1700000000000003, 43), 0);
    return b;
}

static void check(const replproto_frame_t *f, int i)
{
    static const int types[] = {REPL_HELLO, REPL_MARKS, REPL_ENTRY, REPL_COMMIT, REPL_FEED_STATE, REPL_FEEDS,
                                REPL_HEARTBEAT};
    cr_assert_eq(f->type, types[i]);
    switch (f->type) {
    case REPL_HELLO: cr_assert(f->data_len == 14 && memcmp(f->data, "{\"store\":\"ab\"}", 14) == 0); break;
    case REPL_MARKS:
        cr_assert(f->low_water == 5 && f->tomb_horizon == 3 && f->commit_horizon == 2);
        cr_assert_eq(f->time_us, 1700000000000000);
        break;
    case REPL_ENTRY:
        cr_assert(f->seq == 42 && f->time_us == 1700000000000001 && f->data_len == 14);
        cr_assert_eq(memcmp(f->data, "RECORD-BYTES\0\1", 14), 0, "records are carried byte for byte");
        break;
    case REPL_COMMIT: cr_assert(f->seq == 43 && f->chain == 0xfeedfacecafebeefULL); break;
    case REPL_FEED_STATE:
        cr_assert(f->feed_len == 3 && memcmp(f->feed, "crm", 3) == 0);
        cr_assert(f->data_len == 9 && memcmp(f->data, "{\"gen\":1}", 9) == 0);
        break;
    case REPL_FEEDS: cr_assert(f->time_us == 7 && f->data_len == 2); break;
    case REPL_HEARTBEAT: cr_assert(f->time_us == 1700000000000003 && f->seq == 43); break;
    }
}

Test(replproto, frames_round_trip_and_decode_incrementally)
{
    bytebuf_t b = sample();
    size_t off = 0;
    int i = 0;
    for (size_t avail = 0; avail <= b.len; avail++) {   /* bytes arriving one at a time */
        replproto_frame_t f;
        long n = replproto_next(b.p + off, avail - off, &f);
        cr_assert_geq(n, 0);
        if (n > 0) {
            check(&f, i++);
            off += (size_t)n;
        }
    }
    cr_assert_eq(i, 7);
    cr_assert_eq(off, b.len);
    bytebuf_free(&b);
}

Test(replproto, corruption_is_refused)
{
    bytebuf_t b = {0};
    replproto_frame_t f;
    replproto_put_entry(&b, 1, 2, "abcdef", 6);
    b.p[REPLPROTO_HEADER + 17] ^= 0x20;   /* a bit of the record */
    cr_assert_eq(replproto_next(b.p, b.len, &f), REPLPROTO_ERR_CORRUPT);
    b.p[REPLPROTO_HEADER + 17] ^= 0x20;
    cr_assert_gt(replproto_next(b.p, b.len, &f), 0);
    b.p[0] = 99;
    cr_assert_eq(replproto_next(b.p, b.len, &f), REPLPROTO_ERR_CORRUPT, "unknown type");
    b.p[0] = REPL_ENTRY;
    b.p[1] = 0xff;
    cr_assert_eq(replproto_next(b.p, b.len, &f), REPLPROTO_ERR_CORRUPT, "length over the maximum");
    bytebuf_free(&b);
    memset(&b, 0, sizeof b);
    replproto_put_heartbeat(&b, 1, 2);
    /* a heartbeat of 15 payload bytes (one short) with a matching CRC is still refused */
    bytebuf_t c = {0};
    unsigned long crc = crc32(crc32(0L, Z_NULL, 0), (const unsigned char *)b.p + REPLPROTO_HEADER, 15);
    uint8_t hdr[REPLPROTO_HEADER] = {REPL_HEARTBEAT, 0, 0, 0, 15, (uint8_t)(crc >> 24), (uint8_t)(crc >> 16),
                                     (uint8_t)(crc >> 8), (uint8_t)crc};
    bytebuf_append(&c, hdr, sizeof hdr);
    bytebuf_append(&c, b.p + REPLPROTO_HEADER, 15);
    cr_assert_eq(replproto_next(c.p, c.len, &f), REPLPROTO_ERR_CORRUPT);
    bytebuf_free(&b);
    bytebuf_free(&c);
}
