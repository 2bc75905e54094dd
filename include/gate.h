/* gate.h -- access control where HTTP meets the decision core (auth.h). Every request for an
 * endpoint except GET /health passes gate_check (api.c): it describes the h2o request to
 * auth_check (method, target as sent, Host, TLS, Authorization, access_token, X-Forwarded-*,
 * Content-Type and body, the socket's peer), answers 401 or 403 itself, logs each refusal with
 * its reason, the claimed client and the address (never a credential, never the query string),
 * and removes access_token from the query string the endpoints parse. What it grants is a
 * gate_who_t the endpoints read: the client's scope for streams, searches and /feeds, when a
 * stream must end, and the per-client count of open streams (as_client_streams_open).
 *
 * Without an `auth` block every request passes, known by its address (open access).
 * Event-loop threads only, except gate_new, gate_free and gate_report_metrics (any thread). */
#ifndef GATE_H
#define GATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"
#include "httpreq.h"
#include "metrics.h"
#include "store.h"

typedef struct gate gate_t;

/* Who a request is. Lives in the request's pool as h2o shared memory: valid until the request
 * is disposed of, or longer for whoever holds it (gate_who_hold). Read-only: may be read from
 * any thread while held (a search on a helper thread). */
typedef struct {
    gate_t *gate;                    /* borrowed */
    auth_principal_t *principal;     /* owned; NULL without an auth block */
    const char *client;              /* the key for per-client accounting: the principal's id
                                        when auth is configured, else `addr`; points into this */
    char addr[NETADDR_STRLEN];       /* the client's address: the socket peer, or what trusted
                                        proxies say (netaddr_client) */
    int64_t ends_us;                 /* wall clock (µs) from which the credentials are refused
                                        (auth_principal_ends_s); 0: never */
} gate_who_t;

/* The gate for cfg (BORROWED: it must outlive the gate): auth_new of the `auth` block, if any.
 * Returns 0 and *out (gate_free), or -1 with one line in err: "auth.jwt: ..." (a key that does
 * not load) or "out of memory". */
int gate_new(gate_t **out, const config_t *cfg, char *err, size_t errlen);
void gate_free(gate_t *g);   /* NULL is a no-op; nothing may use it any more */

/* Decide whether `req` may use an endpoint that needs permission `allow` (AUTH_ALLOW_* bits;
 * 0: credentials but no particular permission). Returns who the request is, or NULL when the
 * gate answered the request itself:
 *   401 {"error": "unauthorized"} with WWW-Authenticate: missing or invalid credentials, or an
 *       address outside the client's ip_allow (the same answer whatever the reason);
 *   403 {"error": "forbidden"}: the client may not use this endpoint;
 *   500: out of memory.
 * Either way access_token is gone from req->path (and req->query_at) afterwards. */
const gate_who_t *gate_check(gate_t *g, h2o_req_t *req, unsigned allow);

/* Keep `who` beyond its request (h2o_mem_addref_shared) / let it go. Loop thread only. */
void gate_who_hold(const gate_who_t *who);
void gate_who_release(const gate_who_t *who);

/* The client's scope (BORROWED from who, a compiled query), or NULL: everything. */
const query_t *gate_who_scope(const gate_who_t *who);

/* A stream of this client opened / closed: the counts behind as_client_streams_open (and a
 * per-client limit). gate_stream_opened returns the client's open streams counting this one,
 * or -1 when out of memory (then it is not counted: do not call gate_stream_closed). */
long gate_stream_opened(const gate_who_t *who);
void gate_stream_closed(const gate_who_t *who);

/* /feeds for this client: `feeds_json` (OWNED, malloc'd: the array of ingest_feeds_json) with
 * only the feeds its scope can admit (auth_admits_feed). Returns malloc'd text: feeds_json
 * itself when nothing is left out (no auth block, or a scope that does not name feeds); NULL
 * when feeds_json is NULL, or out of memory, or it is not a JSON array when it must be read. */
char *gate_feeds_json(const gate_who_t *who, char *feeds_json);

/* The feeds of ids[0..n) this client's scope can admit, in order, into out (n slots; strings
 * BORROWED from ids); returns how many. who may be NULL (everything). So that a feed outside
 * the scope is, to this client, a feed that does not exist. */
size_t gate_visible_feeds(const gate_who_t *who, const char *const *ids, size_t n, const char **out);

/* Whether this client's scope can admit the feed feed[0..len) (who NULL: yes). */
bool gate_admits_feed(const gate_who_t *who, const char *feed, size_t len);

/* The gate's /metrics families (a metrics_collect_fn; ud: the gate_t): with an auth block,
 * as_auth_failures_total{reason} and as_client_streams_open{client}. */
void gate_report_metrics(metrics_out_t *out, void *gate);

/* Pure, for tests: split the query string qs[0..len) into the access_token parameter and the
 * rest. `rest` and `token` each hold len + 1 bytes. The rest keeps every other parameter in
 * order, as sent (empty ones dropped). The token is the percent-decoded value (as sent when
 * it does not decode, so that it fails as malformed); several access_token parameters are
 * joined with ',' (never a valid token). Both are written NUL-terminated in any case. Returns 1
 * when access_token was given, else 0. */
int gate_take_access_token(const char *qs, size_t len, char *rest, size_t *rest_len, char *token);

#endif
