/* eventid.c -- stream event ids (see eventid.h for the format). */
#include "eventid.h"
#include <string.h>

/* Decimal digits of v at p; returns the end. (snprintf was a sixth of history replay.) */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, 0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

size_t eventid_format(const eventid_t *id, char *buf)
{
    char *p = buf;
    switch (id->kind) {
    case EVENTID_HISTORY:
        *p++ = 'h';
        p = put_u64(p, id->s0);
        *p++ = '_';
        p = put_i64(p, id->published_us);
        *p++ = '_';
        p = put_u64(p, id->seq);
        break;
    case EVENTID_LIVE:
        *p++ = 'l';
        p = put_u64(p, id->seq);
        break;
    default:
        *p++ = 'e';
        p = put_u64(p, id->seq);
        break;
    }
    size_t tag = strnlen(id->tag, EVENTID_TAG_MAX);
    if (tag && (size_t)(p - buf) + 1 + tag < EVENTID_MAX) {
        *p++ = '.';
        memcpy(p, id->tag, tag);
        p += tag;
    }
    *p = '\0';
    return (size_t)(p - buf);
}

/* Split off a ".<tag>" suffix into out->tag; returns the length left, or -1 for a bad tag. */
static long split_tag(const char *s, size_t len, eventid_t *out)
{
    const char *dot = memchr(s, '.', len);
    if (!dot)
        return (long)len;
    size_t n = len - (size_t)(dot - s) - 1;
    if (n == 0 || n > EVENTID_TAG_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = dot[1 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')))
            return -1;
    }
    memcpy(out->tag, dot + 1, n);
    out->tag[n] = '\0';
    return (long)(dot - s);
}

/* Parse decimal digits (with an optional '-' when `sign`) from *p up to end. */
static int parse_num(const char **p, const char *end, int sign, int64_t *s, uint64_t *u)
{
    const char *q = *p;
    int neg = 0;
    if (sign && q < end && *q == '-') {
        neg = 1;
        q++;
    }
    if (q == end || *q < '0' || *q > '9' || (*q == '0' && q + 1 < end && q[1] >= '0' && q[1] <= '9'))
        return -1;
    uint64_t v = 0;
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        if (v > (UINT64_MAX - (uint64_t)(*q - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*q - '0');
    }
    if (sign) {
        if (v > (uint64_t)INT64_MAX + neg)
            return -1;
        *s = neg ? (int64_t)(0 - v) : (int64_t)v;
    } else {
        *u = v;
    }
    *p = q;
    return 0;
}

int eventid_parse(const char *s, size_t len, eventid_t *out)
{
    memset(out, 0, sizeof *out);
    if (len < 2 || len >= EVENTID_MAX)
        return -1;
    long body = split_tag(s, len, out);
    if (body < 2)
        return -1;
    const char *p = s + 1, *end = s + body;
    switch (s[0]) {
    case 'h':
        out->kind = EVENTID_HISTORY;
        if (parse_num(&p, end, 0, NULL, &out->s0) != 0 || p == end || *p++ != '_' ||
            parse_num(&p, end, 1, &out->published_us, NULL) != 0 || p == end || *p++ != '_' ||
            parse_num(&p, end, 0, NULL, &out->seq) != 0)
            return -1;
        if (out->seq > out->s0)
            return -1;
        break;
    case 'l':
        out->kind = EVENTID_LIVE;
        if (parse_num(&p, end, 0, NULL, &out->seq) != 0)
            return -1;
        break;
    case 'e':
        out->kind = EVENTID_END;
        if (parse_num(&p, end, 0, NULL, &out->seq) != 0)
            return -1;
        break;
    default:
        return -1;
    }
    return p == end ? 0 : -1;
}
