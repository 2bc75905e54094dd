/* test_netaddr.c -- addresses, blocks, and the client behind trusted proxies. */
#include "netaddr.h"
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

static netaddr_t addr(const char *s)
{
    netaddr_t a;
    cr_assert_eq(netaddr_parse(s, strlen(s), &a), NETADDR_OK, "'%s'", s);
    return a;
}

static netaddr_cidr_t block(const char *s)
{
    netaddr_cidr_t c;
    char err[128] = "";
    cr_assert_eq(netaddr_parse_cidr(s, &c, err, sizeof err), NETADDR_OK, "'%s': %s", s, err);
    return c;
}

static const char *fmt(const netaddr_t *a)
{
    static char buf[NETADDR_STRLEN];
    return netaddr_format(a, buf);
}

Test(netaddr, parses_and_formats_both_families)
{
    netaddr_t a = addr("192.0.2.1");
    cr_assert_eq(a.family, AF_INET);
    cr_assert_str_eq(fmt(&a), "192.0.2.1");
    a = addr("2001:DB8::1");
    cr_assert_eq(a.family, AF_INET6);
    cr_assert_str_eq(fmt(&a), "2001:db8::1");
    a = addr("::1");
    cr_assert_str_eq(fmt(&a), "::1");
    netaddr_t none = {0};
    cr_assert_str_eq(fmt(&none), "-");
}

Test(netaddr, v4_mapped_is_v4)
{
    netaddr_t a = addr("::ffff:10.1.2.3");
    cr_assert_eq(a.family, AF_INET);
    cr_assert_str_eq(fmt(&a), "10.1.2.3");
    netaddr_cidr_t c = block("10.0.0.0/8");
    cr_assert(netaddr_in_cidr(&c, &a));
    netaddr_cidr_t m = block("::ffff:10.0.0.0/104");
    cr_assert_eq(m.net.family, AF_INET);
    cr_assert_eq(m.prefix, 8);
    cr_assert(netaddr_in_cidr(&m, &a));
}

Test(netaddr, loopback_addresses)
{
    const char *yes[] = {"127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"};
    const char *no[] = {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "::2", "2001:db8::1", "fe80::1"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        netaddr_t a = addr(yes[i]);
        cr_expect(netaddr_is_loopback(&a), "%s", yes[i]);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        netaddr_t a = addr(no[i]);
        cr_expect_not(netaddr_is_loopback(&a), "%s", no[i]);
    }
    netaddr_t none = {0};
    cr_expect_not(netaddr_is_loopback(&none));
}

Test(netaddr, rejects_bad_addresses)
{
    const char *bad[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", " ::1", "[::1]", "::1%eth0",
                         "fe80::1::2", "example.com", "1.2.3.4/8", "0x7f.0.0.1"};
    netaddr_t a;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(netaddr_parse(bad[i], strlen(bad[i]), &a), NETADDR_ERR_INVALID, "'%s'", bad[i]);
    cr_assert_eq(netaddr_parse("1.2.3.4\0x", 9, &a), NETADDR_ERR_INVALID);
    char longtext[100];
    memset(longtext, '1', sizeof longtext);
    cr_assert_eq(netaddr_parse(longtext, sizeof longtext, &a), NETADDR_ERR_INVALID);
    cr_assert_eq(netaddr_parse(NULL, 0, &a), NETADDR_ERR_INVALID);
}

Test(netaddr, blocks_match_their_members_only)
{
    netaddr_cidr_t c = block("192.0.2.0/24");
    cr_assert(netaddr_in_cidr(&c, &(netaddr_t){0}) == 0);
    netaddr_t in = addr("192.0.2.255"), out = addr("192.0.3.0"), v6 = addr("2001:db8::1");
    cr_assert(netaddr_in_cidr(&c, &in));
    cr_assert_not(netaddr_in_cidr(&c, &out));
    cr_assert_not(netaddr_in_cidr(&c, &v6));
    netaddr_cidr_t d = block("2001:db8::/32");
    cr_assert(netaddr_in_cidr(&d, &v6));
    netaddr_t other = addr("2001:db9::1");
    cr_assert_not(netaddr_in_cidr(&d, &other));
    netaddr_cidr_t odd = block("10.128.0.0/9");
    netaddr_t a = addr("10.200.0.1"), b = addr("10.127.255.255");
    cr_assert(netaddr_in_cidr(&odd, &a));
    cr_assert_not(netaddr_in_cidr(&odd, &b));
    netaddr_cidr_t all4 = block("0.0.0.0/0"), one = block("203.0.113.7");
    cr_assert(netaddr_in_cidr(&all4, &out));
    cr_assert_not(netaddr_in_cidr(&all4, &v6));
    cr_assert_eq(one.prefix, 32);
    netaddr_cidr_t list[] = {c, d};
    cr_assert(netaddr_in_list(list, 2, &v6));
    cr_assert_not(netaddr_in_list(list, 2, &out));
    cr_assert_not(netaddr_in_list(list, 0, &in));
}

Test(netaddr, cidr_errors_say_why)
{
    const struct { const char *text, *why; } cases[] = {
        {"10.0.0.1/8", "host bits are set (the block is 10.0.0.0/8)"},
        {"2001:db8::1/32", "host bits are set (the block is 2001:db8::/32)"},
        {"10.0.0.0/33", "the prefix length must be a number from 0 to 32"},
        {"::/129", "from 0 to 128"},
        {"10.0.0.0/", "prefix length"},
        {"10.0.0.0/08", "prefix length"},
        {"10.0.0.0/-1", "prefix length"},
        {"10.0.0.0/8/8", "prefix length"},
        {"::ffff:10.0.0.0/8", "at least 96"},
        {"nonsense/8", "expected an IPv4 or IPv6 address or block"},
        {"", "expected an IPv4 or IPv6 address"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        netaddr_cidr_t c;
        char err[128] = "";
        cr_assert_eq(netaddr_parse_cidr(cases[i].text, &c, err, sizeof err), NETADDR_ERR_INVALID, "%s", cases[i].text);
        cr_assert(strstr(err, cases[i].why), "'%s': '%s'", cases[i].text, err);
    }
}

Test(netaddr, from_sockaddr)
{
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET, "198.51.100.9", &s4.sin_addr);
    inet_pton(AF_INET6, "::ffff:198.51.100.9", &s6.sin6_addr);
    netaddr_t a, b;
    cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&s4, &a), NETADDR_OK);
    cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&s6, &b), NETADDR_OK);
    cr_assert_str_eq(fmt(&a), "198.51.100.9");
    cr_assert(memcmp(&a, &b, sizeof a) == 0, "mapped v6 peer equals the v4 one");
    struct sockaddr un = {.sa_family = AF_UNIX};
    cr_assert_eq(netaddr_from_sockaddr(&un, &a), NETADDR_ERR_INVALID);
    cr_assert_eq(a.family, 0);
}

/* ---- X-Forwarded-For ---- */

static const char *client(const char *peer, const char *xff, int *rc)
{
    netaddr_cidr_t trusted[] = {block("10.0.0.0/8"), block("::1")};
    netaddr_t p = addr(peer), out;
    *rc = netaddr_client(&p, xff, trusted, 2, &out);
    return fmt(&out);
}

Test(netaddr, xff_resolution)
{
    static const struct { const char *peer, *xff, *want; int rc; } cases[] = {
        /* from an untrusted peer, X-Forwarded-For is ignored, even when malformed */
        {"203.0.113.5", "192.0.2.1", "203.0.113.5", NETADDR_OK},
        {"2001:db8::9", "192.0.2.1", "2001:db8::9", NETADDR_OK},
        {"203.0.113.5", "garbage", "203.0.113.5", NETADDR_OK},
        /* a trusted peer without the header is the client */
        {"10.0.0.1", NULL, "10.0.0.1", NETADDR_OK},
        {"10.0.0.1", "", "10.0.0.1", NETADDR_OK},
        /* the right-most untrusted entry: what a client sends itself stays to its left */
        {"10.0.0.1", "192.0.2.1", "192.0.2.1", NETADDR_OK},
        {"10.0.0.1", "1.1.1.1, 192.0.2.1", "192.0.2.1", NETADDR_OK},
        {"10.0.0.1", "1.1.1.1, 192.0.2.1, 10.9.9.9", "192.0.2.1", NETADDR_OK},
        {"10.0.0.1", "1.1.1.1,192.0.2.1,\t10.9.9.9 , 10.1.1.1", "192.0.2.1", NETADDR_OK},
        {"::1", "2001:db8::7", "2001:db8::7", NETADDR_OK},
        {"::1", "192.0.2.1, ::ffff:10.2.3.4", "192.0.2.1", NETADDR_OK},
        /* all trusted: the left-most */
        {"10.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3", NETADDR_OK},
        {"::1", "::1", "::1", NETADDR_OK},
        /* ports and brackets */
        {"10.0.0.1", "192.0.2.1:5555", "192.0.2.1", NETADDR_OK},
        {"10.0.0.1", "[2001:db8::1]:443", "2001:db8::1", NETADDR_OK},
        {"10.0.0.1", "[2001:db8::1]", "2001:db8::1", NETADDR_OK},
        {"10.0.0.1", " 2001:db8::2 ", "2001:db8::2", NETADDR_OK},
        /* a malformed deciding entry: an error, and the nearest trusted hop */
        {"10.0.0.1", "unknown", "10.0.0.1", NETADDR_ERR_INVALID},
        {"10.0.0.1", "192.0.2.1, 10.0.0.5, garbage", "10.0.0.1", NETADDR_ERR_INVALID},
        {"10.0.0.1", "192.0.2.1, garbage, 10.0.0.5", "10.0.0.5", NETADDR_ERR_INVALID},
        {"10.0.0.1", "192.0.2.1,", "10.0.0.1", NETADDR_ERR_INVALID},
        {"10.0.0.1", "192.0.2.1,,10.0.0.2", "10.0.0.2", NETADDR_ERR_INVALID},
        {"10.0.0.1", "[2001:db8::1", "10.0.0.1", NETADDR_ERR_INVALID},
        {"10.0.0.1", "[2001:db8::1]x", "10.0.0.1", NETADDR_ERR_INVALID},
        {"10.0.0.1", "192.0.2.1:99999", "10.0.0.1", NETADDR_ERR_INVALID},
        {"10.0.0.1", "2001:db8::1:80:x", "10.0.0.1", NETADDR_ERR_INVALID},
        /* a malformed entry left of the deciding one does not matter */
        {"10.0.0.1", "garbage, 192.0.2.1", "192.0.2.1", NETADDR_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        const char *got = client(cases[i].peer, cases[i].xff, &rc);
        cr_assert_eq(rc, cases[i].rc, "case %zu: rc %d", i, rc);
        cr_assert_str_eq(got, cases[i].want, "case %zu", i);
    }
}

/* "192.0.2.1" and then `hops` trusted proxies. */
static const char *chain(char *buf, int hops)
{
    strcpy(buf, "192.0.2.1");
    for (int i = 0; i < hops; i++)
        strcat(buf, ", 10.0.0.9");
    return buf;
}

Test(netaddr, xff_too_many_trusted_hops_fails)
{
    char xff[2048];
    int rc;
    client("10.0.0.1", chain(xff, NETADDR_MAX_HOPS), &rc);
    cr_assert_eq(rc, NETADDR_ERR_INVALID);
    cr_assert_str_eq(client("10.0.0.1", chain(xff, NETADDR_MAX_HOPS - 1), &rc), "192.0.2.1");
    cr_assert_eq(rc, NETADDR_OK);
}
