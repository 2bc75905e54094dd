/* test_auth.c -- the decision core: each kind of credentials, every refusal reason, addresses
 * behind proxies, Hawk's host/port/payload/timestamp/nonce rules, JWT principals and their
 * scopes, and the scope-to-feeds analysis used to filter /feeds. The auth_t comes from a YAML
 * configuration (config_load_string), as the server builds it. */
#include "auth.h"
#include "hawk.h"
#include "jwt.h"
#include "jwt_fixture.h"
#include <criterion/criterion.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1700000000
#define HAWK_KEY "werxhqb98rpaxn39848xrunpaw3489ruxnpa98w4rxn"
#define TOKEN "reporting-token-0123456789"
#define JWT_SECRET "0123456789abcdef0123456789abcdef-hs256"
#define CHALLENGE "Hawk, Bearer realm=\"activity-stream\""

static const char *base_yaml =
    "auth:\n"
    "  trusted_proxies: [10.0.0.0/8, \"::1/128\"]\n"
    "  clients:\n"
    "    - id: datahub-search\n"
    "      hawk_key: " HAWK_KEY "\n"
    "      scope: {\"terms\": {\"feed\": [\"crm\", \"events\"]}}\n"
    "    - id: reporting\n"
    "      token: " TOKEN "\n"
    "      allow: [stream, search, feeds, metrics]\n"
    "      scope:\n"
    "        bool:\n"
    "          filter:\n"
    "            - term: {feed: crm}\n"
    "            - term: {type: Create}\n"
    "    - id: office\n"
    "      token: office-token-0123456789\n"
    "      hawk_key: office-hawk-key\n"
    "      ip_allow: [192.0.2.0/24, \"2001:db8::/32\"]\n"
    "  jwt:\n"
    "    hs256_secret: " JWT_SECRET "\n"
    "    issuer: https://auth.example.org\n"
    "    audience: activity-stream\n";

static auth_t *auth_from(const char *yaml);

static auth_t *base;    /* auth_from(base_yaml), for the tests with the base fixture */

static void base_setup(void)
{
    base = auth_from(base_yaml);
}

static void base_teardown(void)
{
    auth_free(base);
}

static auth_t *auth_from(const char *yaml)
{
    config_t cfg;
    char err[512] = "";
    auth_t *a = NULL;
    cr_assert_eq(config_load_string(yaml, "t.conf", &cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(auth_new(&a, &cfg.auth, err, sizeof err), 0, "%s", err);
    config_free(&cfg);    /* auth_t keeps its own copies */
    return a;
}

static netaddr_t ip(const char *s)
{
    netaddr_t a;
    cr_assert_eq(netaddr_parse(s, strlen(s), &a), NETADDR_OK, "%s", s);
    return a;
}

/* A GET /stream from 203.0.113.9 with Host as.example.org at NOW. */
static auth_request_t get_request(void)
{
    return (auth_request_t){.method = "GET", .path_query = "/stream?feed=crm", .host = "as.example.org",
                            .peer = ip("203.0.113.9"), .now_s = NOW};
}

typedef struct {
    int rc;
    auth_principal_t *p;
    auth_failure_t f;
} outcome_t;

static outcome_t run(auth_t *a, const auth_request_t *r)
{
    outcome_t o;
    o.rc = auth_check(a, r, &o.p, &o.f);
    if (o.rc == AUTH_OK)
        cr_assert_not_null(o.p);
    else
        cr_assert_null(o.p);
    return o;
}

/* Refused with `reason`; returns the failure for more checks. */
static auth_failure_t refused(auth_t *a, const auth_request_t *r, int reason)
{
    outcome_t o = run(a, r);
    cr_assert_eq(o.rc, reason, "expected %s, got %s (%s)", auth_reason_name(reason), auth_reason_name(o.rc),
                 o.rc ? o.f.detail : "granted");
    cr_assert_not_null(o.f.detail);
    cr_assert_eq(o.f.reason, reason);
    return o.f;
}

static auth_principal_t *granted(auth_t *a, const auth_request_t *r)
{
    outcome_t o = run(a, r);
    cr_assert_eq(o.rc, AUTH_OK, "refused: %s (%s)", auth_reason_name(o.rc), o.f.detail);
    return o.p;
}

static void hawk_header(char *out, size_t len, const char *id, const char *key, const char *method,
                        const char *url, const char *ct, const char *body, int64_t ts, const char *nonce)
{
    cr_assert_gt(hawk_authorization(id, key, method, url, ct, body, body ? strlen(body) : 0, ts, nonce, out, len), 0);
}

#define HDR 512    /* room for any header built here */

/* A Hawk header of datahub-search for a request without a body. */
static void sign(char *h, const char *method, const char *url, int64_t ts, const char *nonce)
{
    hawk_header(h, HDR, "datahub-search", HAWK_KEY, method, url, NULL, NULL, ts, nonce);
}

/* ---- no credentials, malformed credentials ---- */

Test(auth, missing_credentials, .init = base_setup, .fini = base_teardown)
{
    auth_request_t r = get_request();
    auth_failure_t f = refused(base, &r, AUTH_ERR_MISSING);
    cr_assert_str_eq(f.www_authenticate, CHALLENGE);
    cr_assert_str_eq(f.addr, "203.0.113.9");
    cr_assert_str_eq(f.client, "");
    r.authorization = "";
    r.access_token = "";
    refused(base, &r, AUTH_ERR_MISSING);
    cr_assert_str_eq(auth_challenge(base), CHALLENGE);
}

Test(auth, malformed_authorization_headers, .init = base_setup, .fini = base_teardown)
{
    auth_request_t r = get_request();
    const char *bad[] = {"Bearer", "Bearer    ", "Bearer a b", "Bearer to\x01ken", "Bearer =abc",
                         "Basic dXNlcjpwYXNz", "Digest x", "Hawk", "Hawk id=\"datahub-search\"",
                         "Hawk id=\"a\", id=\"b\", ts=\"1\", nonce=\"n\", mac=\"m\"", "HawkBearer x", "\x7f",
                         "Bearer\ttab-is-a-blank-but-no-token\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r.authorization = bad[i];
        auth_failure_t f = refused(base, &r, AUTH_ERR_MALFORMED);
        cr_assert_str_eq(f.www_authenticate, CHALLENGE, "the same challenge whatever the reason");
    }
    char *huge = malloc(AUTH_HEADER_MAX + 100);
    memset(huge, 'a', AUTH_HEADER_MAX + 99);
    memcpy(huge, "Bearer ", 7);
    huge[AUTH_HEADER_MAX + 99] = '\0';
    r.authorization = huge;
    refused(base, &r, AUTH_ERR_MALFORMED);
    r.authorization = NULL;
    r.access_token = huge + 7;
    refused(base, &r, AUTH_ERR_MALFORMED);
    free(huge);
}

Test(auth, header_and_access_token_together_are_malformed, .init = base_setup, .fini = base_teardown)
{
    auth_request_t r = get_request();
    r.authorization = "Bearer " TOKEN;
    r.access_token = TOKEN;
    refused(base, &r, AUTH_ERR_MALFORMED);
}

/* ---- static tokens ---- */

Test(auth, static_token_grants_its_client, .init = base_setup, .fini = base_teardown)
{
    auth_request_t r = get_request();
    r.authorization = "Bearer " TOKEN;
    auth_principal_t *p = granted(base, &r);
    cr_assert_str_eq(p->id, "reporting");
    cr_assert_eq(p->by, AUTH_BY_TOKEN);
    cr_assert_eq(p->allow, AUTH_ALLOW_STREAM | AUTH_ALLOW_SEARCH | AUTH_ALLOW_FEEDS | AUTH_ALLOW_METRICS);
    cr_assert_eq(p->expires_s, 0);
    cr_assert_eq(auth_principal_ends_s(p), 0, "a static token does not expire");
    cr_assert_not_null(p->scope);
    cr_assert_not_null(p->scope_json);
    cr_assert_str_eq(p->addr, "203.0.113.9");
    cr_assert_not(p->feeds.all);
    cr_assert_eq(p->feeds.n, 1);
    cr_assert_str_eq(p->feeds.ids[0], "crm");
    cr_assert(auth_admits_feed(p, "crm"));
    cr_assert_not(auth_admits_feed(p, "events"));
    /* the compiled scope admits a Create of crm, nothing else */
    store_rec_t rec = {.feed = "crm", .feed_len = 3, .types = "Create", .types_len = 6, .json = "{}", .json_len = 2};
    cr_assert(query_match(p->scope, &rec));
    rec.types = "Update";
    cr_assert_not(query_match(p->scope, &rec));
    rec = (store_rec_t){.feed = "hr", .feed_len = 2, .types = "Create", .types_len = 6, .json = "{}", .json_len = 2};
    cr_assert_not(query_match(p->scope, &rec));
    auth_principal_free(p);
    r.authorization = "bearer  " TOKEN "  ";    /* scheme in any case, blanks around the token */
    auth_principal_free(granted(base, &r));
}

Test(auth, access_token_parameter_is_a_bearer_token, .init = base_setup, .fini = base_teardown)
{
    auth_request_t r = get_request();
    r.access_token = TOKEN;
    auth_principal_t *p = granted(base, &r);
    cr_assert_str_eq(p->id, "reporting");
    auth_principal_free(p);
    r.access_token = "not-a-token-of-anyone";
    refused(base, &r, AUTH_ERR_UNKNOWN_CLIENT);
    r.access_token = "with space";
    refused(base, &r, AUTH_ERR_MALFORMED);
}

Test(auth, unknown_token_is_refused_like_any_other_failure, .init = base_setup, .fini = base_teardown)
{
    auth_request_t r = get_request();
    const char *near[] = {"Bearer " TOKEN "x", "Bearer reporting-token-012345678", "Bearer REPORTING-TOKEN-0123456789"};
    for (size_t i = 0; i < 3; i++) {
        r.authorization = near[i];
        auth_failure_t f = refused(base, &r, AUTH_ERR_UNKNOWN_CLIENT);
        cr_assert_str_eq(f.www_authenticate, CHALLENGE);
        cr_assert_str_eq(f.client, "");
    }
}

/* ---- ip_allow, X-Forwarded-For ---- */

Test(auth, ip_allow_uses_the_peer_or_the_trusted_forwarded_address, .init = base_setup, .fini = base_teardown)
{
    auth_request_t r = get_request();
    r.authorization = "Bearer office-token-0123456789";
    const struct { const char *peer, *xff; int rc; const char *addr; } cases[] = {
        {"192.0.2.5", NULL, AUTH_OK, "192.0.2.5"},
        {"2001:db8:1::5", NULL, AUTH_OK, "2001:db8:1::5"},
        {"::ffff:192.0.2.77", NULL, AUTH_OK, "192.0.2.77"},
        {"198.51.100.1", NULL, AUTH_ERR_IP_NOT_ALLOWED, "198.51.100.1"},
        {"2001:db9::1", NULL, AUTH_ERR_IP_NOT_ALLOWED, "2001:db9::1"},
        {"10.0.0.1", "192.0.2.5", AUTH_OK, "192.0.2.5"},
        {"::1", "198.51.100.4, 2001:db8::9", AUTH_OK, "2001:db8::9"},
        {"10.0.0.1", "192.0.2.5, 198.51.100.1", AUTH_ERR_IP_NOT_ALLOWED, "198.51.100.1"},
        {"10.0.0.1", "198.51.100.1, 192.0.2.5, 10.3.3.3", AUTH_OK, "192.0.2.5"},
        {"203.0.113.9", "192.0.2.5", AUTH_ERR_IP_NOT_ALLOWED, "203.0.113.9"},   /* untrusted peer */
        {"10.0.0.1", "192.0.2.5, bogus", AUTH_ERR_IP_NOT_ALLOWED, "10.0.0.1"},   /* malformed */
        {"10.0.0.1", NULL, AUTH_ERR_IP_NOT_ALLOWED, "10.0.0.1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r.peer = ip(cases[i].peer);
        r.forwarded_for = cases[i].xff;
        outcome_t o = run(base, &r);
        cr_assert_eq(o.rc, cases[i].rc, "case %zu: %s", i, o.rc ? o.f.detail : "granted");
        cr_assert_str_eq(o.rc ? o.f.addr : o.p->addr, cases[i].addr, "case %zu", i);
        if (o.rc) {
            cr_assert_str_eq(o.f.client, "office");
            cr_assert_str_eq(o.f.www_authenticate, CHALLENGE);
        }
        auth_principal_free(o.p);
    }
    /* a client without ip_allow is not affected by a malformed X-Forwarded-For */
    r.authorization = "Bearer " TOKEN;
    r.peer = ip("10.0.0.1");
    r.forwarded_for = "garbage";
    auth_principal_free(granted(base, &r));
}

/* ---- Hawk ---- */

Test(auth, hawk_request_is_granted_once, .init = base_setup, .fini = base_teardown)
{
    char h[HDR];
    sign(h, "GET", "https://as.example.org/stream?feed=crm", NOW, "n-1");
    auth_request_t r = get_request();
    r.tls = 1;
    r.authorization = h;
    auth_principal_t *p = granted(base, &r);
    cr_assert_str_eq(p->id, "datahub-search");
    cr_assert_eq(p->by, AUTH_BY_HAWK);
    cr_assert_eq(p->allow, AUTH_ALLOW_DEFAULT);
    cr_assert_eq(p->expires_s, 0);
    cr_assert_eq(p->feeds.n, 2);
    cr_assert_str_eq(p->feeds.ids[0], "crm");
    cr_assert_str_eq(p->feeds.ids[1], "events");
    auth_principal_free(p);
    auth_failure_t f = refused(base, &r, AUTH_ERR_REPLAYED_NONCE);
    cr_assert_str_eq(f.client, "datahub-search");
    r.now_s = NOW + 59;    /* still inside the window: still a replay */
    refused(base, &r, AUTH_ERR_REPLAYED_NONCE);
    sign(h, "GET", "https://as.example.org/stream?feed=crm", NOW + 30, "n-1");
    refused(base, &r, AUTH_ERR_REPLAYED_NONCE);   /* the nonce again, signed with another ts */
}

Test(auth, hawk_spec_vectors_nonce_collision_across_keys)
{
    /* hapijs/hawk test/server.js: "errors on a replay" and "does not error on nonce collision if
     * keys differ": two clients, one nonce and ts, each MAC with its own key */
    auth_t *a = auth_from("auth:\n  clients:\n"
                          "    - {id: '123', hawk_key: werxhqb98rpaxn39848xrunpaw3489ruxnpa98w4rxn}\n"
                          "    - {id: '456', hawk_key: xrunpaw3489ruxnpa98w4rxnwerxhqb98rpaxn39848}\n");
    auth_request_t r = {.method = "GET", .path_query = "/resource/4?filter=a", .host = "example.com:8080",
                        .peer = ip("192.0.2.1"), .now_s = 1353788437};
    r.authorization = "Hawk id=\"123\", ts=\"1353788437\", nonce=\"k3j4h2\", "
                      "mac=\"bXx7a7p1h9QYQNZ8x7QhvDQym8ACgab4m3lVSFn4DBw=\", ext=\"hello\"";
    auth_principal_free(granted(a, &r));
    refused(a, &r, AUTH_ERR_REPLAYED_NONCE);
    r.authorization = "Hawk id=\"456\", ts=\"1353788437\", nonce=\"k3j4h2\", "
                      "mac=\"LXfmTnRzrLd9TD7yfH+4se46Bx6AHyhpM94hLCiNia4=\", ext=\"hello\"";
    auth_principal_t *p = granted(a, &r);
    cr_assert_str_eq(p->id, "456");
    cr_assert(p->feeds.all);
    cr_assert_null(p->scope);
    auth_principal_free(p);
    cr_assert_str_eq(auth_challenge(a), "Hawk");
    auth_free(a);
}

/* base64(HMAC-SHA256(key, "hawk.1.ts\n<ts>\n")), computed here independently of hawk.c */
static void expected_tsm(const char *key, int64_t ts, char *out)
{
    char msg[64];
    unsigned char md[32];
    unsigned int n = 0;
    int len = snprintf(msg, sizeof msg, "hawk.1.ts\n%lld\n", (long long)ts);
    HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)msg, (size_t)len, md, &n);
    EVP_EncodeBlock((unsigned char *)out, md, (int)n);
}

Test(auth, hawk_skewed_clock_gets_the_signed_ts_challenge, .init = base_setup, .fini = base_teardown)
{
    char h[512], tsm[64], want[256];
    sign(h, "GET", "http://as.example.org/stream?feed=crm", NOW - 61, "n-stale");
    auth_request_t r = get_request();
    r.authorization = h;
    auth_failure_t f = refused(base, &r, AUTH_ERR_STALE_TIMESTAMP);
    expected_tsm(HAWK_KEY, NOW, tsm);
    snprintf(want, sizeof want, "Hawk ts=\"%d\", tsm=\"%s\", error=\"Stale timestamp\"", NOW, tsm);
    cr_assert_str_eq(f.www_authenticate, want);
    /* a stale request did not burn its nonce: the same header is good when the clock agrees */
    r.now_s = NOW - 61;
    auth_principal_free(granted(base, &r));
    /* the future is stale too */
    sign(h, "GET", "http://as.example.org/stream?feed=crm", NOW + 61, "n-future");
    r.now_s = NOW;
    refused(base, &r, AUTH_ERR_STALE_TIMESTAMP);
    sign(h, "GET", "http://as.example.org/stream?feed=crm", NOW + 60, "n-edge");
    auth_principal_free(granted(base, &r));
}

Test(auth, hawk_refusals, .init = base_setup, .fini = base_teardown)
{
    char h[HDR];
    auth_request_t r = get_request();
    r.authorization = h;
    hawk_header(h, sizeof h, "nobody", HAWK_KEY, "GET", "http://as.example.org/stream?feed=crm", NULL, NULL, NOW, "n1");
    auth_failure_t f = refused(base, &r, AUTH_ERR_UNKNOWN_CLIENT);
    cr_assert_str_eq(f.client, "nobody");
    cr_assert_str_eq(f.www_authenticate, CHALLENGE);
    hawk_header(h, sizeof h, "reporting", HAWK_KEY, "GET", "http://as.example.org/stream?feed=crm", NULL, NULL, NOW, "n1");
    refused(base, &r, AUTH_ERR_UNKNOWN_CLIENT);    /* a client, but without a Hawk key */
    hawk_header(h, sizeof h, "datahub-search", "wrong-key", "GET", "http://as.example.org/stream?feed=crm", NULL,
                NULL, NOW, "n2");
    refused(base, &r, AUTH_ERR_BAD_SIGNATURE);
    sign(h, "GET", "http://as.example.org/stream?feed=all", NOW, "n3");
    refused(base, &r, AUTH_ERR_BAD_SIGNATURE);     /* signed another target */
    sign(h, "POST", "http://as.example.org/stream?feed=crm", NOW, "n4");
    refused(base, &r, AUTH_ERR_BAD_SIGNATURE);     /* another method */
    sign(h, "GET", "http://as.example.org:8080/stream?feed=crm", NOW, "n5");
    refused(base, &r, AUTH_ERR_BAD_SIGNATURE);     /* another port */
    sign(h, "GET", "http://as.example.org/stream?feed=crm", NOW, "n6");
    r.host = NULL;
    refused(base, &r, AUTH_ERR_MALFORMED);         /* no Host */
    const char *bad_hosts[] = {"", ":8080", "as.example.org:", "as.example.org:http", "as.example.org:70000",
                               "[::1", "a b", "as.example.org:80:80"};
    for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++) {
        r.host = bad_hosts[i];
        refused(base, &r, AUTH_ERR_MALFORMED);
    }
    r.host = "as.example.org:80";               /* the default port, written out */
    auth_principal_free(granted(base, &r));
}

Test(auth, hawk_payload_hash_required_and_checked, .init = base_setup, .fini = base_teardown)
{
    const char *body = "{\"query\":{\"term\":{\"feed\":\"crm\"}}}", *url = "http://as.example.org/activities/_search";
    char h[HDR];
    auth_request_t r = {.method = "POST", .path_query = "/activities/_search", .host = "as.example.org",
                        .content_type = "application/json", .body = body, .body_len = strlen(body),
                        .peer = ip("203.0.113.9"), .now_s = NOW, .authorization = h};
    hawk_header(h, sizeof h, "datahub-search", HAWK_KEY, "POST", url, "application/json", body, NOW, "p1");
    auth_principal_free(granted(base, &r));
    hawk_header(h, sizeof h, "datahub-search", HAWK_KEY, "POST", url, "application/json", body, NOW, "p2");
    r.body = "{\"query\":{\"match_all\":{}}}";
    r.body_len = strlen(r.body);
    auth_failure_t f = refused(base, &r, AUTH_ERR_BAD_PAYLOAD_HASH);
    cr_assert(strstr(f.detail, "does not match"), "%s", f.detail);
    r.body = body;
    r.body_len = strlen(body);
    r.content_type = "text/plain";
    refused(base, &r, AUTH_ERR_BAD_PAYLOAD_HASH);
    /* a header without hash on a request with a body */
    char nohash[512];
    snprintf(nohash, sizeof nohash, "%s", h);
    char *hash = strstr(nohash, "hash=\"");
    char *end = strchr(hash + 6, '"') + 3;      /* past `", ` */
    memmove(hash, end, strlen(end) + 1);
    r.authorization = nohash;
    r.content_type = "application/json";
    refused(base, &r, AUTH_ERR_BAD_SIGNATURE);     /* the MAC covered the hash: removing it breaks the MAC */
}

Test(auth, hawk_without_hash_on_a_body_is_refused, .init = base_setup, .fini = base_teardown)
{
    /* A client that signs without a payload hash, then sends a body */
    char h[HDR];
    sign(h, "POST", "http://as.example.org/activities/_count", NOW, "q1");
    /* strip hash="..." and re-sign without it: build the header by hand */
    hawk_header_t parsed;
    cr_assert_eq(hawk_parse(h, strlen(h), &parsed, NULL), HAWK_OK);
    char msg[512], mac[64], hdr[512];
    unsigned char md[32];
    unsigned int n;
    int len = snprintf(msg, sizeof msg, "hawk.1.header\n%d\nq1\nPOST\n/activities/_count\nas.example.org\n80\n\n\n", NOW);
    HMAC(EVP_sha256(), HAWK_KEY, (int)strlen(HAWK_KEY), (unsigned char *)msg, (size_t)len, md, &n);
    EVP_EncodeBlock((unsigned char *)mac, md, (int)n);
    snprintf(hdr, sizeof hdr, "Hawk id=\"datahub-search\", ts=\"%d\", nonce=\"q1\", mac=\"%s\"", NOW, mac);
    auth_request_t r = {.method = "POST", .path_query = "/activities/_count", .host = "as.example.org",
                        .content_type = "application/json", .body = "{}", .body_len = 2,
                        .peer = ip("203.0.113.9"), .now_s = NOW, .authorization = hdr};
    auth_failure_t f = refused(base, &r, AUTH_ERR_BAD_PAYLOAD_HASH);
    cr_assert(strstr(f.detail, "no payload hash"), "%s", f.detail);
    r.body = NULL;
    r.body_len = 0;
    auth_principal_free(granted(base, &r));        /* without a body, no hash is needed */
}

Test(auth, hawk_host_and_port_from_a_trusted_proxy, .init = base_setup, .fini = base_teardown)
{
    char h[HDR];
    sign(h, "GET", "https://public.example.org/stream?feed=crm", NOW, "x1");
    auth_request_t r = get_request();
    r.authorization = h;
    r.host = "backend:8080";
    r.forwarded_host = "public.example.org";
    r.forwarded_proto = "https";
    r.peer = ip("203.0.113.9");             /* not a proxy: the forwarded headers are ignored */
    refused(base, &r, AUTH_ERR_BAD_SIGNATURE);
    r.peer = ip("10.1.2.3");
    auth_principal_free(granted(base, &r));
    /* the left-most of several forwarded values */
    sign(h, "GET", "https://public.example.org/stream?feed=crm", NOW, "x2");
    r.forwarded_host = "public.example.org, backend";
    r.forwarded_proto = "HTTPS,http";
    auth_principal_free(granted(base, &r));
    /* proxied without X-Forwarded-Host: Host with the proxy's scheme */
    sign(h, "GET", "https://backend/stream?feed=crm", NOW, "x3");
    r.host = "backend";
    r.forwarded_host = NULL;
    r.forwarded_proto = "https";
    auth_principal_free(granted(base, &r));
    sign(h, "GET", "https://backend/stream?feed=crm", NOW, "x4");
    r.forwarded_proto = "gopher";
    refused(base, &r, AUTH_ERR_MALFORMED);
    /* IPv6 literal hosts keep their brackets */
    sign(h, "GET", "http://[2001:db8::1]:8080/stream?feed=crm", NOW, "x5");
    r.forwarded_proto = NULL;
    r.host = "[2001:db8::1]:8080";
    auth_principal_free(granted(base, &r));
}

Test(auth, hawk_ip_refusal_does_not_burn_the_nonce, .init = base_setup, .fini = base_teardown)
{
    char h[HDR];
    hawk_header(h, sizeof h, "office", "office-hawk-key", "GET", "http://as.example.org/stream?feed=crm", NULL,
                NULL, NOW, "o1");
    auth_request_t r = get_request();
    r.authorization = h;
    refused(base, &r, AUTH_ERR_IP_NOT_ALLOWED);
    r.peer = ip("192.0.2.10");
    auth_principal_free(granted(base, &r));
    refused(base, &r, AUTH_ERR_REPLAYED_NONCE);
}

/* ---- JWT ---- */

static char *jwt(const char *payload)
{
    return jwtfx_token("HS256", payload, NULL, JWT_SECRET);
}

static char *bearer(const char *token)
{
    char *h = malloc(strlen(token) + 8);
    sprintf(h, "Bearer %s", token);
    return h;
}

/* Authenticate with a JWT of `payload` (iss and aud added); returns the outcome. */
static outcome_t with_jwt(auth_t *a, const char *claims)
{
    char payload[1024];
    snprintf(payload, sizeof payload,
             "{\"iss\":\"https://auth.example.org\",\"aud\":\"activity-stream\",\"exp\":%d,%s}", NOW + 300, claims);
    char *t = jwt(payload), *h = bearer(t);
    auth_request_t r = get_request();
    r.authorization = h;
    outcome_t o = run(a, &r);
    free(t);
    free(h);
    return o;
}

Test(auth, jwt_principal_feeds_and_scope, .init = base_setup, .fini = base_teardown)
{
    outcome_t o = with_jwt(base, "\"sub\":\"svc-42\",\"feeds\":[\"crm\",\"events\"],"
                              "\"scope\":{\"term\":{\"type\":\"Create\"}},\"allow\":[\"stream\",\"replicate\"]");
    cr_assert_eq(o.rc, AUTH_OK, "%s", o.f.detail);
    auth_principal_t *p = o.p;
    cr_assert_str_eq(p->id, "svc-42");
    cr_assert_eq(p->by, AUTH_BY_JWT);
    cr_assert_eq(p->expires_s, NOW + 300);
    cr_assert_eq(auth_principal_ends_s(p), NOW + 300, "refused from exp on (no leeway configured)");
    cr_assert_eq(p->allow, AUTH_ALLOW_STREAM | AUTH_ALLOW_REPLICATE);
    char *s = json_dumps(p->scope_json, JSON_COMPACT);
    cr_assert_str_eq(s, "{\"bool\":{\"filter\":[{\"terms\":{\"feed\":[\"crm\",\"events\"]}},"
                        "{\"term\":{\"type\":\"Create\"}}]}}");
    free(s);
    cr_assert_eq(p->feeds.n, 2);
    store_rec_t rec = {.feed = "events", .feed_len = 6, .types = "Create", .types_len = 6, .json = "{}", .json_len = 2};
    cr_assert(query_match(p->scope, &rec));
    rec.feed = "hr";
    rec.feed_len = 2;
    cr_assert_not(query_match(p->scope, &rec));
    auth_principal_free(p);
}

/* auth.jwt.leeway moves the end of a JWT's principal, and what is refused, by that much. */
Test(auth, jwt_leeway_moves_the_end)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "%s    leeway: 30s\n", base_yaml);
    auth_t *a = auth_from(yaml);
    outcome_t o = with_jwt(a, "\"sub\":\"svc-42\",\"feeds\":[\"*\"]");
    cr_assert_eq(o.rc, AUTH_OK, "%s", o.f.detail);
    cr_assert_eq(auth_principal_ends_s(o.p), NOW + 300 + 30);
    auth_principal_free(o.p);
    auth_free(a);
}

Test(auth, jwt_feed_lists, .init = base_setup, .fini = base_teardown)
{
    outcome_t o = with_jwt(base, "\"sub\":\"all\",\"feeds\":[\"*\"]");
    cr_assert_eq(o.rc, AUTH_OK, "%s", o.f.detail);
    cr_assert_null(o.p->scope);
    cr_assert(o.p->feeds.all);
    cr_assert_eq(o.p->allow, AUTH_ALLOW_DEFAULT);
    auth_principal_free(o.p);
    o = with_jwt(base, "\"sub\":\"all-but-scoped\",\"feeds\":[\"*\"],\"scope\":{\"term\":{\"feed\":\"crm\"}}");
    cr_assert_eq(o.rc, AUTH_OK);
    cr_assert_eq(o.p->feeds.n, 1);
    auth_principal_free(o.p);
    o = with_jwt(base, "\"sub\":\"nothing\",\"feeds\":[]");
    cr_assert_eq(o.rc, AUTH_OK);
    cr_assert_not(o.p->feeds.all);
    cr_assert_eq(o.p->feeds.n, 0);
    store_rec_t rec = {.feed = "crm", .feed_len = 3, .json = "{}", .json_len = 2};
    cr_assert_not(query_match(o.p->scope, &rec));
    auth_principal_free(o.p);
}

Test(auth, jwt_bad_claims, .init = base_setup, .fini = base_teardown)
{
    const char *bad[] = {
        "\"sub\":\"x\"",                                                  /* no feeds */
        "\"sub\":\"x\",\"feeds\":[\"*\",\"crm\"]",
        "\"sub\":\"x\",\"feeds\":[\"\"]",
        "\"sub\":\"x\",\"feeds\":[\"crm\"],\"allow\":[\"admin\"]",
        "\"sub\":\"x\",\"feeds\":[\"crm\"],\"scope\":{\"regexp\":{\"type\":\".*\"}}",
        "\"sub\":\"x\",\"feeds\":[\"crm\"],\"scope\":{}",
        "\"feeds\":[\"crm\"]",                                            /* no sub */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        outcome_t o = with_jwt(base, bad[i]);
        cr_assert_eq(o.rc, AUTH_ERR_BAD_CLAIMS, "%s: %s", bad[i], auth_reason_name(o.rc));
        cr_assert_str_eq(o.f.www_authenticate, CHALLENGE);
    }
}

Test(auth, jwt_refusal_reasons, .init = base_setup, .fini = base_teardown)
{
    auth_request_t r = get_request();
    char p[256];
    const struct { const char *fmt; int offset; int reason; } cases[] = {
        {"{\"sub\":\"late\",\"iss\":\"https://auth.example.org\",\"aud\":\"activity-stream\",\"exp\":%d,\"feeds\":[\"*\"]}",
         -100, AUTH_ERR_EXPIRED},
        {"{\"sub\":\"early\",\"iss\":\"https://auth.example.org\",\"aud\":\"activity-stream\",\"exp\":1800000000,"
         "\"nbf\":%d,\"feeds\":[\"*\"]}", 100, AUTH_ERR_NOT_YET_VALID},
        {"{\"sub\":\"x\",\"iss\":\"https://evil.example.org\",\"aud\":\"activity-stream\",\"exp\":%d,\"feeds\":[\"*\"]}",
         100, AUTH_ERR_WRONG_ISSUER},
        {"{\"sub\":\"x\",\"iss\":\"https://auth.example.org\",\"aud\":\"other\",\"exp\":%d,\"feeds\":[\"*\"]}",
         100, AUTH_ERR_WRONG_AUDIENCE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(p, sizeof p, cases[i].fmt, NOW + cases[i].offset);
        char *t = jwt(p), *h = bearer(t);
        r.authorization = h;
        auth_failure_t f = refused(base, &r, cases[i].reason);
        cr_assert_str_eq(f.www_authenticate, CHALLENGE);
        if (i == 0)
            cr_assert_str_eq(f.client, "late", "the subject of a verified but expired token is logged");
        free(t);
        free(h);
    }
    /* a forged signature, alg none, a truncated token */
    snprintf(p, sizeof p, "{\"sub\":\"x\",\"iss\":\"https://auth.example.org\",\"aud\":\"activity-stream\","
                          "\"exp\":%d,\"feeds\":[\"*\"]}", NOW + 100);
    char *forged = jwtfx_token("HS256", p, NULL, "another-secret-another-secret-another-secret"), *h = bearer(forged);
    r.authorization = h;
    auth_failure_t f = refused(base, &r, AUTH_ERR_BAD_SIGNATURE);
    cr_assert_str_eq(f.client, "", "the subject of an unverified token is not trusted, not even for logs");
    free(h);
    char *none = jwtfx_sign("none", "{\"alg\":\"none\"}", p, NULL, NULL, 0);
    h = bearer(none);
    r.authorization = h;
    refused(base, &r, AUTH_ERR_BAD_ALGORITHM);
    free(h);
    r.authorization = NULL;
    r.access_token = none;
    refused(base, &r, AUTH_ERR_BAD_ALGORITHM);
    char *none_sig = malloc(strlen(none) + 8);
    sprintf(none_sig, "%sAAAA", none);
    r.access_token = none_sig;
    refused(base, &r, AUTH_ERR_BAD_ALGORITHM);
    free(none_sig);
    char *good = jwt(p);
    good[strlen(good) - 10] = '\0';
    r.access_token = good;
    outcome_t o = run(base, &r);
    cr_assert(o.rc == AUTH_ERR_MALFORMED || o.rc == AUTH_ERR_BAD_SIGNATURE, "%s", auth_reason_name(o.rc));
    free(good);
    free(none);
    free(forged);
}

Test(auth, jwt_algorithm_confusion_is_refused)
{
    EVP_PKEY *k = jwtfx_rsa_key(2048);
    char *pem = jwtfx_public_pem(k), *path = jwtfx_temp_file(pem), yaml[512], p[256];
    snprintf(yaml, sizeof yaml, "auth:\n  jwt:\n    public_key_file: %s\n", path);
    auth_t *a = auth_from(yaml);
    cr_assert_str_eq(auth_challenge(a), "Bearer realm=\"activity-stream\"");
    snprintf(p, sizeof p, "{\"sub\":\"x\",\"exp\":%d,\"feeds\":[\"*\"]}", NOW + 100);
    char *forged = jwtfx_sign("HS256", "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", p, NULL, pem, strlen(pem));
    auth_request_t r = get_request();
    r.access_token = forged;
    refused(a, &r, AUTH_ERR_BAD_ALGORITHM);
    char *real = jwtfx_token("RS256", p, k, NULL);
    r.access_token = real;
    auth_principal_free(granted(a, &r));
    free(real);
    free(forged);
    auth_free(a);
    unlink(path);
    free(path);
    free(pem);
    EVP_PKEY_free(k);
}

Test(auth, jwt_without_jwt_config_is_an_unknown_token)
{
    auth_t *a = auth_from("auth:\n  clients:\n    - {id: r, token: " TOKEN "}\n");
    char *t = jwt("{\"sub\":\"x\",\"exp\":1800000000,\"feeds\":[\"*\"]}");
    auth_request_t r = get_request();
    r.access_token = t;
    refused(a, &r, AUTH_ERR_UNKNOWN_CLIENT);
    cr_assert_str_eq(auth_challenge(a), "Bearer realm=\"activity-stream\"");
    free(t);
    auth_free(a);
}

/* ---- counters and names ---- */

Test(auth, failures_are_counted_by_reason, .init = base_setup, .fini = base_teardown)
{
    auth_request_t r = get_request();
    refused(base, &r, AUTH_ERR_MISSING);
    refused(base, &r, AUTH_ERR_MISSING);
    r.authorization = "Bearer nobody-has-this-token";
    refused(base, &r, AUTH_ERR_UNKNOWN_CLIENT);
    r.authorization = "Bearer " TOKEN;
    auth_principal_free(granted(base, &r));
    cr_assert_eq(auth_failures(base, AUTH_ERR_MISSING), 2);
    cr_assert_eq(auth_failures(base, AUTH_ERR_UNKNOWN_CLIENT), 1);
    cr_assert_eq(auth_failures(base, AUTH_ERR_EXPIRED), 0);
    cr_assert_eq(auth_failures(base, AUTH_OK), 0);
    cr_assert_eq(auth_failures(base, -AUTH_NREASONS), 0);
}

Test(auth, reason_names_are_metric_labels)
{
    const char *want[] = {"ok", "missing", "malformed", "unknown_client", "bad_signature", "bad_payload_hash",
                          "stale_timestamp", "replayed_nonce", "nonce_cache_full", "expired", "not_yet_valid",
                          "wrong_issuer", "wrong_audience", "bad_algorithm", "bad_claims", "ip_not_allowed", "nomem"};
    cr_assert_eq(sizeof want / sizeof want[0], AUTH_NREASONS);
    for (int i = 0; i < AUTH_NREASONS; i++)
        cr_assert_str_eq(auth_reason_name(-i), want[i]);
    cr_assert_str_eq(auth_reason_name(1), "unknown");
    cr_assert_str_eq(auth_reason_name(-AUTH_NREASONS), "unknown");
}

Test(auth, allow_names)
{
    cr_assert_eq(auth_allow_bit("stream"), AUTH_ALLOW_STREAM);
    cr_assert_eq(auth_allow_bit("search"), AUTH_ALLOW_SEARCH);
    cr_assert_eq(auth_allow_bit("feeds"), AUTH_ALLOW_FEEDS);
    cr_assert_eq(auth_allow_bit("metrics"), AUTH_ALLOW_METRICS);
    cr_assert_eq(auth_allow_bit("replicate"), AUTH_ALLOW_REPLICATE);
    cr_assert_eq(auth_allow_bit("Stream"), 0);
    cr_assert_eq(auth_allow_bit(NULL), 0);
}

/* ---- scope -> feeds ---- */

static const char *feeds_of(const char *scope_json)
{
    static char out[256];
    json_t *j = scope_json ? json_loads(scope_json, 0, NULL) : NULL;
    auth_feeds_t f;
    cr_assert(!scope_json || j, "bad test JSON: %s", scope_json);
    cr_assert_eq(auth_scope_feeds(j, &f), 0);
    if (f.all) {
        snprintf(out, sizeof out, "*");
    } else {
        out[0] = '\0';
        for (size_t i = 0; i < f.n; i++)
            snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? "," : "", f.ids[i]);
    }
    auth_feeds_release(&f);
    auth_feeds_release(&f);    /* twice is harmless */
    json_decref(j);
    return out;
}

Test(auth, scope_feeds_analysis)
{
    const struct { const char *scope, *feeds; } cases[] = {
        {NULL, "*"},
        {"{\"match_all\":{}}", "*"},
        {"{\"match_none\":{}}", ""},
        {"{\"term\":{\"feed\":\"crm\"}}", "crm"},
        {"{\"term\":{\"_index\":\"crm\"}}", "crm"},
        {"{\"term\":{\"feed.keyword\":{\"value\":\"crm\",\"boost\":2}}}", "crm"},
        {"{\"term\":{\"feed\":{\"value\":\"crm\",\"case_insensitive\":true}}}", "*"},
        {"{\"term\":{\"feed\":5}}", "*"},
        {"{\"term\":{\"type\":\"Create\"}}", "*"},
        {"{\"terms\":{\"feed\":[\"events\",\"crm\",\"crm\"]}}", "crm,events"},
        {"{\"terms\":{\"boost\":1,\"_index.keyword\":[\"b\",\"a\"]}}", "a,b"},
        {"{\"terms\":{\"feed\":[]}}", ""},
        {"{\"terms\":{\"feed\":[\"a\",1]}}", "*"},
        {"{\"bool\":{\"filter\":[{\"term\":{\"feed\":\"crm\"}},{\"term\":{\"type\":\"Create\"}}]}}", "crm"},
        {"{\"bool\":{\"filter\":{\"terms\":{\"feed\":[\"a\",\"b\",\"c\"]}},\"must\":[{\"terms\":{\"feed\":[\"c\",\"b\",\"x\"]}}]}}",
         "b,c"},
        {"{\"bool\":{\"filter\":[{\"term\":{\"feed\":\"a\"}},{\"term\":{\"feed\":\"b\"}}]}}", ""},
        {"{\"bool\":{\"must\":[{\"bool\":{\"filter\":[{\"terms\":{\"feed\":[\"a\",\"b\"]}}]}},{\"term\":{\"_index\":\"b\"}}]}}",
         "b"},
        {"{\"bool\":{\"should\":[{\"term\":{\"feed\":\"a\"}}]}}", "*"},
        {"{\"bool\":{\"must_not\":[{\"term\":{\"feed\":\"a\"}}]}}", "*"},
        {"{\"bool\":{\"filter\":[{\"match_none\":{}}]}}", ""},
        {"{\"bool\":{}}", "*"},
        {"{\"prefix\":{\"feed\":\"cr\"}}", "*"},
        {"[1,2]", "*"},
        {"{\"term\":{\"feed\":\"a\"},\"terms\":{\"feed\":[\"b\"]}}", "*"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_str_eq(feeds_of(cases[i].scope), cases[i].feeds, "%s", cases[i].scope ? cases[i].scope : "NULL");
}

Test(auth, scope_feeds_deep_nesting_is_bounded)
{
    char deep[8192] = "";
    for (int i = 0; i < 100; i++)
        strcat(deep, "{\"bool\":{\"filter\":[");
    strcat(deep, "{\"term\":{\"feed\":\"a\"}}");
    for (int i = 0; i < 100; i++)
        strcat(deep, "]}}");
    cr_assert_str_eq(feeds_of(deep), "*");    /* beyond query.h's depth: no narrowing claimed */
}
