/* netaddr.h -- IPv4 and IPv6 addresses and CIDR blocks: parsing (configuration), matching, and
 * the client address of a request that came through trusted proxies (X-Forwarded-For).
 * Pure; no allocation; thread-safe.
 *
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address a.b.c.d everywhere, so the
 * peers of a dual-stack socket match IPv4 blocks; a block written in that form (with a prefix
 * of at least 96) is the corresponding IPv4 block. */
#ifndef NETADDR_H
#define NETADDR_H
#include <stddef.h>
#include <sys/socket.h>

#define NETADDR_STRLEN 46      /* INET6_ADDRSTRLEN: any address formatted, with its NUL */
#define NETADDR_MAX_HOPS 32    /* X-Forwarded-For entries examined at most */

/* Error codes (negative). */
enum {
    NETADDR_OK = 0,
    NETADDR_ERR_INVALID = -1,  /* not an address / block; or a malformed X-Forwarded-For entry */
};

typedef struct {
    int family;                /* AF_INET or AF_INET6; 0 (AF_UNSPEC): no address */
    unsigned char b[16];       /* network byte order; an IPv4 address uses b[0..4), rest zero */
} netaddr_t;

typedef struct {
    netaddr_t net;             /* the block's first address (host bits zero) */
    unsigned prefix;           /* 0-32 for IPv4, 0-128 for IPv6 */
} netaddr_cidr_t;

/* Parse one address, s[0..len) (need not be NUL-terminated): dotted IPv4 or IPv6 text, no
 * brackets, no port, no zone. Returns NETADDR_OK or NETADDR_ERR_INVALID. */
int netaddr_parse(const char *s, size_t len, netaddr_t *out);

/* Parse a block "10.0.0.0/8", "2001:db8::/32", or a bare address (a block of one: /32, /128).
 * Host bits must be zero. Returns NETADDR_OK, or NETADDR_ERR_INVALID with a short reason in err
 * (not echoing `s`: the caller names the value), e.g. "host bits are set (the block is
 * 10.0.0.0/8)". */
int netaddr_parse_cidr(const char *s, netaddr_cidr_t *out, char *err, size_t errlen);

/* The address of an AF_INET or AF_INET6 socket address. Returns NETADDR_OK or
 * NETADDR_ERR_INVALID (other families, NULL). */
int netaddr_from_sockaddr(const struct sockaddr *sa, netaddr_t *out);

/* 1 when `a` lies in block `c` (families must agree), else 0. */
int netaddr_in_cidr(const netaddr_cidr_t *c, const netaddr_t *a);

/* 1 when `a` lies in any of list[0..n), else 0 (n == 0: 0). */
int netaddr_in_list(const netaddr_cidr_t *list, size_t n, const netaddr_t *a);

/* 1 when `a` is a loopback address (127.0.0.0/8, ::1), else 0. */
int netaddr_is_loopback(const netaddr_t *a);

/* Format `a` into buf (NETADDR_STRLEN bytes): "192.0.2.1", "2001:db8::1", or "-" when it has no
 * family. Returns buf. */
const char *netaddr_format(const netaddr_t *a, char *buf);

/* The client address of a request whose socket peer is `peer`:
 *  - the peer itself, unless the peer is in trusted[0..ntrusted) and `xff` (X-Forwarded-For,
 *    several headers joined with ", "; NULL or empty: none) is given;
 *  - otherwise the right-most X-Forwarded-For entry that is not itself a trusted proxy, or the
 *    left-most entry when all of them are trusted.
 * Entries are addresses with optional whitespace around them; "[v6]", "[v6]:port" and
 * "v4:port" are accepted too (some proxies add the port). Returns NETADDR_OK with the client in
 * *out; or NETADDR_ERR_INVALID when the entry that would decide is malformed (empty, "unknown",
 * garbage) or more than NETADDR_MAX_HOPS entries are trusted: *out is then the nearest trusted
 * hop, good for a log line but NOT the client's address (an allow-list check must fail). */
int netaddr_client(const netaddr_t *peer, const char *xff, const netaddr_cidr_t *trusted,
                   size_t ntrusted, netaddr_t *out);

#endif
