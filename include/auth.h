/* auth.h -- who may read what: the decision whether a request's credentials are good, and if so
 * for whom (a principal: client id, data scope, permissions, expiry). Pure: the caller
 * describes the request (auth_request_t) and gets a decision; no sockets, no HTTP library.
 * Thread-safe: any number of event-loop threads may call auth_check on one auth_t at once.
 *
 * Credentials (configured in the `auth` block, config.h):
 *   Authorization: Hawk ...            a client's Hawk key (id = the client's id), SHA-256, the
 *                                      payload hash required when the request has a body,
 *                                      ts within +-AUTH_HAWK_SKEW_S, nonces remembered
 *                                      AUTH_HAWK_NONCE_TTL_S (nonce.h)
 *   Authorization: Bearer <token>      a client's static token, or a JWT (jwt.h)
 *   ?access_token=<token>              the same, for EventSource (which cannot send headers)
 * Static tokens are compared as SHA-256 digests with CRYPTO_memcmp, against every client, so
 * neither the token's length nor which client matched shows in the timing.
 *
 * The client address is the socket peer, or, when the peer is a trusted proxy, what
 * X-Forwarded-For says (netaddr_client). X-Forwarded-Host and X-Forwarded-Proto are believed
 * only from a trusted proxy too; they give the host and port that Hawk's MAC covers.
 *
 * Every failure is one of the AUTH_ERR_* reasons (for the log and the metric
 * as_auth_failures_total{reason}); the response must not depend on it: the same 401 body,
 * with auth_failure_t.www_authenticate as WWW-Authenticate (which carries Hawk's signed ts
 * challenge when the timestamp was stale: the one case the client must be told). */
#ifndef AUTH_H
#define AUTH_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "netaddr.h"
#include "query.h"

#define AUTH_HAWK_SKEW_S 60         /* Hawk's timestamp window, seconds either way */
#define AUTH_HAWK_NONCE_TTL_S 120   /* twice the window: see nonce.h */
#define AUTH_NONCE_CAPACITY 65536   /* Hawk nonces remembered at most (~3 MiB) */
#define AUTH_ID_MAX 128             /* client ids and JWT subjects are shorter than this */
#define AUTH_CHALLENGE_MAX 192      /* WWW-Authenticate values fit in this, NUL included */
#define AUTH_HEADER_MAX 16384       /* a longer Authorization value is malformed */

/* Permissions (auth_principal_t.allow, config_client_t.allow). */
enum {
    AUTH_ALLOW_STREAM = 1u << 0,    /* GET /stream */
    AUTH_ALLOW_SEARCH = 1u << 1,    /* /activities/_search, _count */
    AUTH_ALLOW_FEEDS = 1u << 2,     /* GET /feeds */
    AUTH_ALLOW_METRICS = 1u << 3,   /* GET /metrics */
    AUTH_ALLOW_REPLICATE = 1u << 4, /* replica nodes (not used yet) */
};
#define AUTH_ALLOW_DEFAULT (AUTH_ALLOW_STREAM | AUTH_ALLOW_SEARCH)

/* The bit of permission `name` ("stream", "search", "feeds", "metrics", "replicate"), or 0. */
unsigned auth_allow_bit(const char *name);

/* 1 when s[0..n) is an RFC 7235 token68, 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
 * *"=": what a Bearer token (static or JWT) must be. Else 0. */
int auth_is_token68(const char *s, size_t n);

/* Failure reasons (negative). auth_reason_name gives the metric label. */
enum {
    AUTH_OK = 0,
    AUTH_ERR_MISSING = -1,          /* no Authorization header and no access_token */
    AUTH_ERR_MALFORMED = -2,        /* unparsable header or token, other scheme, both header and
                                       access_token, no usable Host for Hawk */
    AUTH_ERR_UNKNOWN_CLIENT = -3,   /* no client with that Hawk id or that static token */
    AUTH_ERR_BAD_SIGNATURE = -4,    /* Hawk MAC or JWT signature */
    AUTH_ERR_BAD_PAYLOAD_HASH = -5, /* Hawk: missing on a request with a body, or wrong */
    AUTH_ERR_STALE_TIMESTAMP = -6,  /* Hawk ts outside the window */
    AUTH_ERR_REPLAYED_NONCE = -7,
    AUTH_ERR_NONCE_CACHE_FULL = -8, /* too many Hawk requests within the nonce TTL */
    AUTH_ERR_EXPIRED = -9,          /* JWT exp */
    AUTH_ERR_NOT_YET_VALID = -10,   /* JWT nbf */
    AUTH_ERR_WRONG_ISSUER = -11,
    AUTH_ERR_WRONG_AUDIENCE = -12,
    AUTH_ERR_BAD_ALGORITHM = -13,   /* JWT alg none, unknown, or without a configured key */
    AUTH_ERR_BAD_CLAIMS = -14,      /* JWT sub/exp/feeds/scope/allow missing or invalid */
    AUTH_ERR_IP_NOT_ALLOWED = -15,  /* the client's ip_allow does not hold its address */
    AUTH_ERR_NOMEM = -16,
};
#define AUTH_NREASONS 17            /* reasons are 0 .. -(AUTH_NREASONS - 1) */

/* "ok", "missing", "malformed", "unknown_client", "bad_signature", ...: the label of a reason;
 * "unknown" for anything else. Static. */
const char *auth_reason_name(int reason);

typedef struct auth auth_t;

/* Build the decision core from the `auth` block. Copies what it needs from cfg (which may be
 * freed afterwards). Returns 0 and *out (auth_free), or -1 with err (a key that does not load,
 * out of memory). The configuration has been validated by config.c, so -1 is exceptional. */
int auth_new(auth_t **out, const config_access_t *cfg, char *err, size_t errlen);
void auth_free(auth_t *a);   /* NULL is a no-op */

/* A request, as the caller saw it. Strings are borrowed and NUL-terminated; NULL: absent. */
typedef struct {
    const char *method;          /* "GET", "POST", ... */
    const char *path_query;      /* the request target as sent, e.g. "/stream?feed=a" */
    const char *host;            /* Host (HTTP/1) or :authority (HTTP/2), port included if sent */
    int tls;                     /* the connection to this server is TLS (default port 443) */
    const char *authorization;   /* the Authorization header */
    const char *access_token;    /* the access_token query parameter, percent-decoded */
    const char *forwarded_for;   /* X-Forwarded-For, several headers joined with ", " */
    const char *forwarded_host;  /* X-Forwarded-Host */
    const char *forwarded_proto; /* X-Forwarded-Proto */
    const char *content_type;    /* Content-Type of the body */
    const void *body;            /* the request body (Hawk's payload hash); NULL when none */
    size_t body_len;
    netaddr_t peer;              /* the socket peer */
    int64_t now_s;               /* wall clock: timefmt_now_us() / 1000000 */
} auth_request_t;

/* What a principal's scope can admit among feeds. */
typedef struct {
    int all;                     /* 1: any feed (the scope does not name feeds) */
    char **ids;                  /* owned, sorted, unique: when !all, the only feeds (n may be 0) */
    size_t n;
} auth_feeds_t;

typedef enum { AUTH_BY_HAWK = 1, AUTH_BY_TOKEN, AUTH_BY_JWT } auth_by_t;

/* Who the request is. Owned by the caller: auth_principal_free. Read-only once returned, so it
 * may be shared by threads (a stream and its searches). */
typedef struct {
    char id[AUTH_ID_MAX];        /* the client id, or the JWT's sub */
    auth_by_t by;
    unsigned allow;              /* AUTH_ALLOW_* */
    int64_t expires_s;           /* JWT exp (seconds since the epoch); 0: never (Hawk, token) */
    int64_t ends_s;              /* auth_principal_ends_s */
    json_t *scope_json;          /* owned reference; NULL: everything. For a JWT: its feeds
                                    (as a terms query on feed) ANDed with its scope */
    query_t *scope;              /* owned, compiled from scope_json at auth_check (so date math
                                    like now-1d is read then); NULL: everything */
    auth_feeds_t feeds;          /* what scope admits (auth_scope_feeds) */
    char addr[NETADDR_STRLEN];   /* the client's address, for logs */
} auth_principal_t;

void auth_principal_free(auth_principal_t *p);   /* NULL is a no-op */

/* The first second (since the epoch) at which auth_check refuses the credentials that made `p`:
 * a JWT's exp plus the configured leeway (auth.jwt.leeway, default 0: exp itself); 0 when they
 * do not expire (Hawk, static tokens). A stream opened with them ends then. */
int64_t auth_principal_ends_s(const auth_principal_t *p);

/* Why a request was refused. */
typedef struct {
    int reason;                  /* AUTH_ERR_* */
    const char *detail;          /* static text for the log ("malformed header: duplicate attribute") */
    char client[AUTH_ID_MAX];    /* the id the request claimed (Hawk id, JWT sub, token's client),
                                    printable ASCII only; "" when none is known */
    char addr[NETADDR_STRLEN];   /* the client's address as resolved ("-" when unknown) */
    char www_authenticate[AUTH_CHALLENGE_MAX];  /* the WWW-Authenticate value to send */
} auth_failure_t;

/* Decide. Returns AUTH_OK and a new principal in *out; or an AUTH_ERR_* reason with *fail filled
 * (and *out NULL). A Hawk nonce is recorded only when everything else succeeded. */
int auth_check(auth_t *a, const auth_request_t *req, auth_principal_t **out, auth_failure_t *fail);

/* Failures counted by reason since auth_new (for as_auth_failures_total); 0 for AUTH_OK or
 * an unknown reason. */
uint64_t auth_failures(const auth_t *a, int reason);

/* The WWW-Authenticate value naming the configured schemes, e.g. `Hawk, Bearer
 * realm="activity-stream"` (what a request without credentials is told). Lives as long as a. */
const char *auth_challenge(const auth_t *a);

/* The feeds a scope can admit: when it names feeds with term or terms on `feed` (or `_index`,
 * with or without `.keyword`), at its top or inside a bool's filter or must (intersected, at any
 * depth), those; match_none: none; otherwise all. Never fewer than the scope admits (should,
 * must_not and other fields are left aside). `scope` is borrowed, NULL means everything.
 * Returns 0 and *out (auth_feeds_release), or AUTH_ERR_NOMEM. */
int auth_scope_feeds(const json_t *scope, auth_feeds_t *out);
void auth_feeds_release(auth_feeds_t *f);   /* clears *f; safe twice */

/* 1 when the principal's scope can admit `feed` (filtering GET /feeds), else 0. */
int auth_admits_feed(const auth_principal_t *p, const char *feed);

#endif
