/* netaddr.c -- IPv4/IPv6 addresses, CIDR blocks and the client behind trusted proxies (see
 * netaddr.h). Text is parsed with inet_pton on a bounded copy; nothing is allocated. */
#include "netaddr.h"
#include "errfmt.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define TEXT_MAX 64    /* longer than any address text; longer input is invalid */

static const unsigned char v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* ::ffff:a.b.c.d becomes a.b.c.d. */
static void unmap(netaddr_t *a)
{
    if (a->family != AF_INET6 || memcmp(a->b, v4_mapped_prefix, 12) != 0)
        return;
    memmove(a->b, a->b + 12, 4);
    memset(a->b + 4, 0, 12);
    a->family = AF_INET;
}

int netaddr_parse(const char *s, size_t len, netaddr_t *out)
{
    char text[TEXT_MAX];
    if (!s || len == 0 || len >= sizeof text || memchr(s, '\0', len))
        return NETADDR_ERR_INVALID;
    memcpy(text, s, len);
    text[len] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, text, out->b) == 1) {
        out->family = AF_INET;
        return NETADDR_OK;
    }
    if (inet_pton(AF_INET6, text, out->b) == 1) {
        out->family = AF_INET6;
        unmap(out);
        return NETADDR_OK;
    }
    memset(out, 0, sizeof *out);
    return NETADDR_ERR_INVALID;
}

static unsigned max_prefix(const netaddr_t *a)
{
    return a->family == AF_INET ? 32 : 128;
}

/* Does `a` agree with `net` on the first `prefix` bits? */
static int same_prefix(const unsigned char *a, const unsigned char *net, unsigned prefix)
{
    unsigned whole = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (net[whole] & mask);
}

/* `a` with every bit after `prefix` cleared, into out. */
static void network_of(const netaddr_t *a, unsigned prefix, netaddr_t *out)
{
    *out = *a;
    for (unsigned bit = prefix; bit < 128; bit++)
        out->b[bit / 8] &= (unsigned char)~(0x80 >> (bit % 8));
}

/* The prefix after '/': 1-3 digits, at most `max`. */
static int parse_prefix(const char *p, unsigned max, unsigned *out)
{
    unsigned v = 0;
    size_t n = strlen(p);
    if (n == 0 || n > 3)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v > max || (n > 1 && p[0] == '0'))
        return -1;
    *out = v;
    return 0;
}

int netaddr_parse_cidr(const char *s, netaddr_cidr_t *out, char *err, size_t errlen)
{
    netaddr_t a, net;
    char shown[NETADDR_STRLEN];
    const char *slash = s ? strchr(s, '/') : NULL;
    size_t alen = s ? (slash ? (size_t)(slash - s) : strlen(s)) : 0;

    memset(out, 0, sizeof *out);
    if (netaddr_parse(s, alen, &a) < 0)     /* errfmt's -1 is NETADDR_ERR_INVALID */
        return errfmt(err, errlen, "expected an IPv4 or IPv6 address or block like 10.0.0.0/8");
    int mapped = a.family == AF_INET && memchr(s, ':', alen) != NULL;   /* ::ffff:a.b.c.d */
    unsigned prefix = max_prefix(&a);
    if (slash) {
        unsigned written_max = mapped ? 128 : prefix;
        if (parse_prefix(slash + 1, written_max, &prefix) < 0)
            return errfmt(err, errlen, "the prefix length must be a number from 0 to %u", written_max);
        if (mapped && prefix < 96)
            return errfmt(err, errlen, "an IPv4-mapped block needs a prefix of at least 96");
        if (mapped)
            prefix -= 96;
    }
    network_of(&a, prefix, &net);
    if (memcmp(&net, &a, sizeof net) != 0)
        return errfmt(err, errlen, "host bits are set (the block is %s/%u)", netaddr_format(&net, shown),
                      prefix);
    out->net = net;
    out->prefix = prefix;
    return NETADDR_OK;
}

int netaddr_from_sockaddr(const struct sockaddr *sa, netaddr_t *out)
{
    memset(out, 0, sizeof *out);
    if (sa && sa->sa_family == AF_INET) {
        memcpy(out->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        out->family = AF_INET;
        return NETADDR_OK;
    }
    if (sa && sa->sa_family == AF_INET6) {
        memcpy(out->b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        out->family = AF_INET6;
        unmap(out);
        return NETADDR_OK;
    }
    return NETADDR_ERR_INVALID;
}

int netaddr_in_cidr(const netaddr_cidr_t *c, const netaddr_t *a)
{
    return a->family != 0 && a->family == c->net.family && same_prefix(a->b, c->net.b, c->prefix);
}

int netaddr_in_list(const netaddr_cidr_t *list, size_t n, const netaddr_t *a)
{
    for (size_t i = 0; i < n; i++)
        if (netaddr_in_cidr(&list[i], a))
            return 1;
    return 0;
}

int netaddr_is_loopback(const netaddr_t *a)
{
    static const unsigned char v6_loopback[16] = {[15] = 1};
    if (a->family == AF_INET)
        return a->b[0] == 127;
    return a->family == AF_INET6 && memcmp(a->b, v6_loopback, 16) == 0;
}

const char *netaddr_format(const netaddr_t *a, char *buf)
{
    if (a->family == 0 || !inet_ntop(a->family, a->b, buf, NETADDR_STRLEN))
        snprintf(buf, NETADDR_STRLEN, "-");
    return buf;
}

/* ---- X-Forwarded-For -------------------------------------------------------------------- */

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* A port after an address: 1-5 digits, at most 65535. */
static int is_port(const char *p, size_t n)
{
    unsigned v = 0;
    if (n == 0 || n > 5)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v <= 65535;
}

/* One X-Forwarded-For entry, p[0..n): "addr", "[v6]", "[v6]:port" or "v4:port", blanks around. */
static int parse_entry(const char *p, size_t n, netaddr_t *out)
{
    while (n && is_blank(*p))
        p++, n--;
    while (n && is_blank(p[n - 1]))
        n--;
    if (n && p[0] == '[') {
        const char *close = memchr(p, ']', n);
        if (!close)
            return NETADDR_ERR_INVALID;
        size_t after = n - (size_t)(close + 1 - p);
        if (after && (close[1] != ':' || !is_port(close + 2, after - 1)))
            return NETADDR_ERR_INVALID;
        return netaddr_parse(p + 1, (size_t)(close - p - 1), out);
    }
    const char *colon = memchr(p, ':', n);
    if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - p))) {   /* v4:port */
        if (!is_port(colon + 1, n - (size_t)(colon + 1 - p)) || netaddr_parse(p, (size_t)(colon - p), out) < 0)
            return NETADDR_ERR_INVALID;
        return out->family == AF_INET ? NETADDR_OK : NETADDR_ERR_INVALID;
    }
    return netaddr_parse(p, n, out);
}

int netaddr_client(const netaddr_t *peer, const char *xff, const netaddr_cidr_t *trusted,
                   size_t ntrusted, netaddr_t *out)
{
    *out = *peer;
    if (!xff || !*xff || !netaddr_in_list(trusted, ntrusted, peer))
        return NETADDR_OK;
    const char *end = xff + strlen(xff);
    for (int hops = 0; hops < NETADDR_MAX_HOPS; hops++) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        netaddr_t entry;
        if (parse_entry(start, (size_t)(end - start), &entry) < 0)
            return NETADDR_ERR_INVALID;          /* *out: the nearest trusted hop */
        *out = entry;
        if (!netaddr_in_list(trusted, ntrusted, &entry) || start == xff)
            return NETADDR_OK;                   /* untrusted, or the left-most of all-trusted */
        end = start - 1;                         /* before the ',' */
    }
    return NETADDR_ERR_INVALID;
}
