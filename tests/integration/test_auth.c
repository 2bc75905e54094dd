/* test_auth.c -- who may read what, through the real server and feedsim (two feeds, "sim" and
 * "sim2", reading the same 30 activities, 1 s apart from 2024-01-01): each kind of credentials
 * (Hawk, a static token as Authorization: Bearer and as access_token, JWTs signed with the
 * openssl command line: tests/jwtsign) against every endpoint, in and out of its client's
 * scope, for the history, the live part and resumes (a resume id of another client's stream
 * included); deletes reaching a client as its scope judges the tombstone; every refusal one 401
 * (same body, WWW-Authenticate) with its reason in the log and the metric and no secret in the
 * log; 403 outside `allow`; ip_allow with and without trusted proxies; a JWT's expiry ending its
 * stream; the per-client stream gauge; the public paths; configuration errors; the open-access
 * warning. Hawk headers here come from the server's own hawk.c client; tests/node/ checks them
 * against the reference implementation. */
#include "hawk.h"
#include "loadclient.h"
#include "testenv.h"
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TestSuite(auth, .fini = env_down, .timeout = 120);

#define N 30                                          /* activities per feed */
#define HAWK_ID "hawk-sim2"                           /* Hawk; scope: feed sim2 */
#define HAWK_KEY "werxhqb98rpaxn39848xrunpaw3489ruxnpa98w4rxn"
#define TOK_SIM "tok-sim-0123456789abcdef"            /* scope: feed sim, its first 10 s */
#define TOK_ALL "tok-all-0123456789abcdef"            /* no scope; stream and search only */
#define TOK_ADMIN "tok-admin-0123456789abcdef"        /* no scope; every endpoint */
#define TOK_OFFICE "tok-office-0123456789abcd"        /* ip_allow 192.0.2.0/24 */
#define JWT_SECRET "jwt-secret-0123456789abcdef0123456789"
#define ISS "https://issuer.example"
#define AUD "activity-stream"
#define CHALLENGE "Hawk, Bearer realm=\"activity-stream\""
#define SIM_SCOPE "{\"bool\":{\"filter\":[{\"term\":{\"feed\":\"sim\"}}," \
                  "{\"range\":{\"published\":{\"lt\":\"2024-01-01T00:00:10Z\"}}}]}}"

/* ---- the environment ---------------------------------------------------------------------- */

/* The auth block: the clients above, JWTs with HS256 (and `pubkey`, a public key file, when
 * given), `trusted` proxies when given. */
static const char *auth_yaml(const char *trusted, const char *pubkey)
{
    static char y[4096];
    snprintf(y, sizeof y,
             "auth:\n%s%s%s"
             "  clients:\n"
             "    - id: " HAWK_ID "\n      hawk_key: " HAWK_KEY "\n"
             "      scope: {\"term\": {\"feed\": \"sim2\"}}\n      allow: [stream, search, feeds]\n"
             "    - id: tok-sim\n      token: " TOK_SIM "\n      scope: " SIM_SCOPE "\n"
             "      allow: [stream, search, feeds, metrics]\n"
             "    - id: tok-all\n      token: " TOK_ALL "\n"
             "    - id: admin\n      token: " TOK_ADMIN "\n      allow: [stream, search, feeds, metrics]\n"
             "    - id: office\n      token: " TOK_OFFICE "\n      ip_allow: [192.0.2.0/24]\n"
             "  jwt:\n    hs256_secret: " JWT_SECRET "\n    issuer: " ISS "\n    audience: " AUD "\n%s%s%s",
             trusted ? "  trusted_proxies: [" : "", trusted ? trusted : "", trusted ? "]\n" : "",
             pubkey ? "    public_key_file: " : "", pubkey ? pubkey : "", pubkey ? "\n" : "");
    return y;
}

static long admin_count(const char *query);
static void up_heartbeat(const char *trusted, const char *pubkey, const char *full_sync, const char *heartbeat);

static void up(const char *trusted, const char *pubkey, const char *full_sync)
{
    up_heartbeat(trusted, pubkey, full_sync, NULL);
}

/* feedsim with N activities, two feeds, the auth block; waits until both feeds are stored. */
static void up_heartbeat(const char *trusted, const char *pubkey, const char *full_sync, const char *heartbeat)
{
    env_opts_t o = {.count = N, .twin = 1, .full_sync = full_sync, .heartbeat = heartbeat,
                    .extra = auth_yaml(trusted, pubkey)};
    env_up_opts(&o);
    for (int i = 0; i < 400 && admin_count(NULL) != 2 * N; i++)
        usleep(50000);
    cr_assert_eq(admin_count(NULL), 2 * N, "both feeds stored");
}

/* ---- credentials -------------------------------------------------------------------------- */

typedef enum { BY_HAWK, BY_BEARER, BY_QUERY, BY_NONE } by_t;

typedef struct {
    const char *name;
    by_t by;
    const char *secret;          /* the Hawk key (id HAWK_ID), or the token */
} cred_t;

static const cred_t ADMIN = {"admin", BY_BEARER, TOK_ADMIN};

/* "Name: value" header lines for `c` on method url (body: JSON), NULL-terminated, in hdr. */
static const char *const *cred_headers(const cred_t *c, const char *method, const char *url, const char *body,
                                       char hdr[][2048])
{
    static const char *list[4];
    size_t n = 0;
    if (c->by == BY_HAWK) {
        char h[1024];
        cr_assert_gt(hawk_authorization(HAWK_ID, c->secret, method, url, body ? "application/json" : NULL, body,
                                        body ? strlen(body) : 0, time(NULL), NULL, h, sizeof h), 0);
        snprintf(hdr[n], 2048, "Authorization: %s", h);
        list[n] = hdr[n];
        n++;
    } else if (c->by == BY_BEARER) {
        snprintf(hdr[n], 2048, "Authorization: Bearer %s", c->secret);
        list[n] = hdr[n];
        n++;
    }
    if (body)
        list[n++] = "Content-Type: application/json";
    list[n] = NULL;
    return list;
}

/* E.base + path, with access_token=<token> appended for BY_QUERY. Static. */
static const char *cred_url(const cred_t *c, const char *path)
{
    static char u[8192];
    int n = snprintf(u, sizeof u, "%s%s", E.base, path);
    if (c->by == BY_QUERY)
        snprintf(u + n, sizeof u - (size_t)n, "%saccess_token=%s", strchr(path, '?') ? "&" : "?", c->secret);
    return u;
}

static h_resp_t call(const cred_t *c, const char *method, const char *path, const char *body)
{
    char hdr[3][2048];
    h_resp_t r;
    const char *u = cred_url(c, path);
    cr_assert_eq(h_http(method, u, cred_headers(c, method, u, body, hdr), body, &r, 10000), 0, "%s %s", method, path);
    return r;
}

/* A stream read as `c` (resuming after `resume`) until stop_event, the end or timeout_ms. */
static h_sse_t stream_as(const cred_t *c, const char *path, const char *resume, const char *stop_event,
                         long timeout_ms)
{
    char hdr[3][2048], lei[256];
    h_sse_t s = {0};
    const char *u = cred_url(c, path);
    const char *const *h = cred_headers(c, "GET", u, NULL, hdr);
    const char *list[5] = {0};
    size_t n = 0;
    for (; h[n]; n++)
        list[n] = h[n];
    if (resume) {
        snprintf(lei, sizeof lei, "Last-Event-ID: %s", resume);
        list[n] = lei;
    }
    h_sse_read(u, list, 0, stop_event, timeout_ms, &s);
    return s;
}

/* A JWT signed by tests/jwtsign (the openssl command line). Static storage, until the next call. */
static const char *jwt_signed(const char *alg, const char *key, const char *header, const char *payload)
{
    static char token[8192];
    char out[512];
    snprintf(out, sizeof out, "%s/jwt.out", E.dir);
    unlink(out);
    char *argv[] = {"tests/jwtsign", (char *)alg, (char *)key, (char *)header, (char *)payload, NULL};
    pid_t pid = h_spawn(argv, out);
    int status;
    cr_assert_gt(pid, 0);
    waitpid(pid, &status, 0);
    char *text = h_read_file(out, NULL);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0 && text, "jwtsign %s: %s", alg, text ? text : "");
    snprintf(token, sizeof token, "%.*s", (int)strcspn(text, "\n"), text);
    free(text);
    return token;
}

/* An HS256 JWT with iss and aud right, exp an hour away, and `claims` (",..." JSON members). */
static const char *jwt_hs(const char *claims)
{
    char payload[2048];
    snprintf(payload, sizeof payload, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld%s}",
             (long long)time(NULL) + 3600, claims);
    return jwt_signed("HS256", JWT_SECRET, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload);
}

/* ---- what a client sees ------------------------------------------------------------------- */

static long admin_count(const char *query)
{
    char body[1024];
    snprintf(body, sizeof body, "{\"query\":%s}", query ? query : "{\"match_all\":{}}");
    h_resp_t r = call(&ADMIN, "POST", "/activities/_count", body);
    json_t *j = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    long n = j ? (long)json_integer_value(json_object_get(j, "count")) : -1;
    json_decref(j);
    h_resp_free(&r);
    return n;
}

/* The set {"<feed> <id>": true} of the hits of a _search response `res` (borrowed). */
static json_t *hits_set(json_t *res)
{
    json_t *set = json_object(), *h;
    size_t i;
    json_array_foreach(json_object_get(json_object_get(res, "hits"), "hits"), i, h) {
        char k[300];
        snprintf(k, sizeof k, "%s %s", json_string_value(json_object_get(h, "_index")),
                 json_string_value(json_object_get(h, "_id")));
        json_object_set_new(set, k, json_true());
    }
    return set;
}

/* The same set of the stored activities `query` matches, as admin sees them. */
static json_t *admin_set(const char *query)
{
    char body[1024];
    snprintf(body, sizeof body, "{\"size\":1000,\"_source\":false,\"query\":%s}", query);
    h_resp_t r = call(&ADMIN, "POST", "/activities/_search", body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *j = json_loads(r.body, 0, NULL), *set = hits_set(j);
    json_decref(j);
    h_resp_free(&r);
    return set;
}

/* The same set from a stream's events named `event` (activity, delete). */
static json_t *stream_set(const h_sse_t *s, const char *event)
{
    json_t *set = json_object();
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->ev[i].event, event) != 0)
            continue;
        json_t *d = json_loads(s->ev[i].data, 0, NULL);
        char k[300];
        snprintf(k, sizeof k, "%s %s", json_string_value(json_object_get(d, "feed")),
                 json_string_value(json_object_get(json_object_get(d, "activity"), "id")));
        json_object_set_new(set, k, json_true());
        json_decref(d);
    }
    return set;
}

static void assert_same_set(json_t *got, json_t *want, const char *what)
{
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT), *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
    cr_assert(json_equal(got, want), "%s:\n got  %s\n want %s", what, g, w);
    free(g);
    free(w);
    json_decref(got);
    json_decref(want);
}

/* The feed ids of GET /feeds as `c`, sorted, joined by ','; or the status when not 200. */
static void feeds_seen(const cred_t *c, char *out, size_t len)
{
    h_resp_t r = call(c, "GET", "/feeds", NULL);
    if (r.status != 200) {
        snprintf(out, len, "%ld", r.status);
        h_resp_free(&r);
        return;
    }
    json_t *j = json_loads(r.body, 0, NULL), *f;
    size_t i, n = 0;
    out[0] = '\0';
    json_array_foreach(j, i, f)
        n += (size_t)snprintf(out + n, len - n, "%s%s", i ? "," : "", json_string_value(json_object_get(f, "id")));
    json_decref(j);
    h_resp_free(&r);
}

/* The value of the sample `series` (e.g. as_client_streams_open{client="tok-sim"}) in /metrics
 * as admin; -1 when absent. */
static long metric(const char *series)
{
    static const char *const admin[] = {"Authorization: Bearer " TOK_ADMIN, NULL};
    return h_metric(url("/metrics", NULL), admin, series);
}

static int log_has(const char *needle)
{
    char *text = h_read_file(E.log, NULL);
    int has = text && strstr(text, needle) != NULL;
    free(text);
    return has;
}

/* ---- the matrix: each credential kind x each endpoint x in and out of scope ----------------- */

typedef struct {
    cred_t cred;
    const char *scope;           /* the client's scope as a query (what admin's view is cut to) */
    const char *outside;         /* a feed outside the scope: configured (sim, sim2) or not */
    const char *feeds;           /* what GET /feeds answers: the ids, or the status */
    long metrics;                /* the status of GET /metrics */
} client_case_t;

/* Is feed one of this environment's two feeds? One outside a client's scope reads as empty;
 * any other name is unknown to everyone. */
static int configured(const char *feed)
{
    return strcmp(feed, "sim") == 0 || strcmp(feed, "sim2") == 0;
}

static void check_history(const client_case_t *c)
{
    h_sse_t s = stream_as(&c->cred, "/stream?start=0&end=now", NULL, NULL, 10000);
    cr_assert_eq(s.status, 200, "%s: /stream -> %ld", c->cred.name, s.status);
    cr_assert(s.ended && h_sse_count(&s, "end") == 1, "%s: the finite stream ends", c->cred.name);
    assert_same_set(stream_set(&s, "activity"), admin_set(c->scope), c->cred.name);
    h_sse_free(&s);
    char path[256];
    snprintf(path, sizeof path, "/stream?start=0&end=now&feed=%s", c->outside);
    s = stream_as(&c->cred, path, NULL, NULL, 10000);
    if (configured(c->outside)) {   /* empty, not an error, and a comment says why */
        cr_assert_eq(s.status, 200, "%s: feed=%s -> %ld", c->cred.name, c->outside, s.status);
        cr_assert(s.ended && h_sse_count(&s, "end") == 1, "%s: feed=%s ends", c->cred.name, c->outside);
        cr_assert_eq(h_sse_count(&s, "activity"), 0, "%s: feed=%s sends activities", c->cred.name, c->outside);
        cr_assert_geq(s.comments, 1, "%s: feed=%s has no comment", c->cred.name, c->outside);
    } else {
        cr_assert_eq(s.status, 400, "%s: feed=%s is unknown", c->cred.name, c->outside);
    }
    h_sse_free(&s);
}

static void check_search(const client_case_t *c)
{
    h_resp_t r = call(&c->cred, "POST", "/activities/_search", "{\"size\":1000,\"track_total_hits\":true}");
    cr_assert_eq(r.status, 200, "%s: _search -> %ld %s", c->cred.name, r.status, r.body);
    json_t *j = json_loads(r.body, 0, NULL), *set = hits_set(j);
    long want = admin_count(c->scope);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_object_get(j, "hits"), "total"), "value")),
                 want, "%s: hits.total", c->cred.name);
    json_decref(j);
    h_resp_free(&r);
    assert_same_set(set, admin_set(c->scope), c->cred.name);
    r = call(&c->cred, "GET", "/activities/_count", NULL);
    j = json_loads(r.body, 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(j, "count")), want, "%s: _count %s", c->cred.name, r.body);
    json_decref(j);
    h_resp_free(&r);
    char body[256];
    snprintf(body, sizeof body, "{\"query\":{\"term\":{\"feed\":\"%s\"}}}", c->outside);
    r = call(&c->cred, "POST", "/activities/_count", body);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "\"count\":0,"), "%s: _count on %s: %s", c->cred.name, c->outside, r.body);
    h_resp_free(&r);
    /* a configured feed outside the scope reads as an empty index; another name does not exist */
    char path[256];
    snprintf(path, sizeof path, "/%s/_search", c->outside);
    r = call(&c->cred, "GET", path, NULL);
    if (configured(c->outside)) {
        cr_assert_eq(r.status, 200, "%s: %s -> %ld %s", c->cred.name, path, r.status, r.body);
        j = json_loads(r.body, 0, NULL);
        cr_assert_eq(json_array_size(json_object_get(json_object_get(j, "hits"), "hits")), 0, "%s: %s", path, r.body);
        json_decref(j);
    } else {
        cr_assert_eq(r.status, 404, "%s: %s -> %ld %s", c->cred.name, path, r.status, r.body);
        cr_assert(strstr(r.body, "index_not_found_exception"), "%s", r.body);
    }
    h_resp_free(&r);
    r = call(&c->cred, "GET", "/_cat/indices?format=json&h=index", NULL);
    cr_assert_eq(r.status, 200, "%s: _cat/indices -> %ld", c->cred.name, r.status);
    j = json_loads(r.body, 0, NULL);
    cr_assert(json_is_array(j) && json_array_size(j) > 0, "%s: %s", c->cred.name, r.body);
    for (size_t i = 0; i < json_array_size(j); i++)
        cr_assert_str_neq(json_string_value(json_object_get(json_array_get(j, i), "index")), c->outside,
                          "%s: _cat/indices lists %s", c->cred.name, c->outside);
    json_decref(j);
    h_resp_free(&r);
}

static void check_client(const client_case_t *c)
{
    char feeds[256];
    check_history(c);
    check_search(c);
    feeds_seen(&c->cred, feeds, sizeof feeds);
    cr_assert_str_eq(feeds, c->feeds, "%s: /feeds", c->cred.name);
    h_resp_t r = call(&c->cred, "GET", "/metrics", NULL);
    cr_assert_eq(r.status, c->metrics, "%s: /metrics -> %ld", c->cred.name, r.status);
    if (r.status == 403)
        cr_assert_str_eq(r.body, "{\"error\": \"forbidden\"}");
    h_resp_free(&r);
}

Test(auth, each_credential_kind_on_each_endpoint_sees_its_scope)
{
    up(NULL, NULL, NULL);
    char jwt_pub[4096], jwt_type[4096];
    snprintf(jwt_pub, sizeof jwt_pub, "%s", jwt_hs(",\"sub\":\"svc-early\",\"feeds\":[\"sim\",\"sim2\"],"
                                                   "\"scope\":{\"range\":{\"published\":"
                                                   "{\"lt\":\"2024-01-01T00:00:05Z\"}}},"
                                                   "\"allow\":[\"stream\",\"search\",\"feeds\"]"));
    snprintf(jwt_type, sizeof jwt_type, "%s", jwt_hs(",\"sub\":\"svc-announce\",\"feeds\":[\"*\"],"
                                                     "\"scope\":{\"term\":{\"type\":\"Announce\"}}"));
    const char *early = "{\"range\":{\"published\":{\"lt\":\"2024-01-01T00:00:05Z\"}}}";
    const client_case_t cases[] = {
        {{"hawk", BY_HAWK, HAWK_KEY}, "{\"term\":{\"feed\":\"sim2\"}}", "sim", "sim2", 403},
        {{"bearer", BY_BEARER, TOK_SIM}, SIM_SCOPE, "sim2", "sim", 200},
        {{"access_token", BY_QUERY, TOK_SIM}, SIM_SCOPE, "sim2", "sim", 200},
        {{"jwt", BY_BEARER, jwt_pub}, early, "other", "sim,sim2", 403},
        {{"jwt as access_token", BY_QUERY, jwt_pub}, early, "other", "sim,sim2", 403},
        {{"jwt, every feed", BY_BEARER, jwt_type}, "{\"term\":{\"type\":\"Announce\"}}", "other", "403", 403},
        {{"no scope", BY_BEARER, TOK_ALL}, "{\"match_all\":{}}", "other", "403", 403},
    };
    cr_assert_gt(admin_count("{\"term\":{\"type\":\"Announce\"}}"), 0, "feedsim makes some Announces");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_client(&cases[i]);
    /* HTTP/2 (h2c): Hawk's host and port come from :authority */
    const cred_t hawk = {"hawk", BY_HAWK, HAWK_KEY};
    char hdr[3][2048];
    const char *u = cred_url(&hawk, "/activities/_count");
    long version = 0;
    h_resp_t r;
    cr_assert_eq(h_http_ex("GET", u, cred_headers(&hawk, "GET", u, NULL, hdr), NULL, &r, 10000,
                           CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, &version), 0);
    cr_assert_eq(version, CURL_HTTP_VERSION_2_0);
    cr_assert_eq(r.status, 200, "Hawk over HTTP/2: %ld %s", r.status, r.body);
    h_resp_free(&r);
}

/* ---- live part and resumes ---------------------------------------------------------------- */

/* Keys from the literal list ("sim urn:feedsim:1:3", ...; NULL-terminated) as a set. */
static json_t *set_of(const char *const *keys)
{
    json_t *set = json_object();
    for (; *keys; keys++)
        json_object_set_new(set, *keys, json_true());
    return set;
}

/* Resume as `c` after `id`, reading what is already committed (1.5 s), and compare its events
 * named `event` with `want`. */
static void resume_sees(const cred_t *c, const char *id, const char *event, const char *const *want, const char *what)
{
    h_sse_t s = stream_as(c, "/stream?start=0", id, NULL, 1500);
    cr_assert_eq(s.status, 200, "%s: resume -> %ld", what, s.status);
    assert_same_set(stream_set(&s, event), set_of(want), what);
    h_sse_free(&s);
}

static void wait_admin_count(const char *query, long n)
{
    for (int i = 0; i < 400 && admin_count(query) != n; i++)
        usleep(50000);
    cr_assert_eq(admin_count(query), n, "admin sees %s %ld times", query ? query : "everything", n);
}

#define V2 "{\"term\":{\"feedsim:version\":2}}"

Test(auth, live_part_and_every_resume_follow_the_scope_of_the_request)
{
    up(NULL, NULL, NULL);
    const cred_t sim = {"tok-sim", BY_BEARER, TOK_SIM}, hawk = {"hawk", BY_HAWK, HAWK_KEY};
    h_sse_t a = stream_as(&sim, "/stream?start=0", NULL, "live", 10000);
    h_sse_t b = stream_as(&hawk, "/stream?start=0", NULL, "live", 10000);
    h_sse_t c = stream_as(&ADMIN, "/stream?start=0", NULL, "live", 10000);
    cr_assert(a.status == 200 && b.status == 200 && c.status == 200);
    cr_assert_eq(c.n, 2 * N + 1, "admin's history and live");
    const h_event_t *mid = &c.ev[20];   /* a history id of admin's stream */
    cr_assert_eq(mid->id[0], 'h');

    /* the live part, fanned out by the hub to a waiting stream: sim's update only */
    pid_t p = sim_post_later("/_control/update?id=urn:feedsim:1:4", 300000);
    h_sse_t live = stream_as(&sim, "/stream", NULL, NULL, 3000);
    sim_post_done(p);
    assert_same_set(stream_set(&live, "activity"), set_of((const char *[]){"sim urn:feedsim:1:4", NULL}),
                    "tok-sim live");
    h_sse_free(&live);
    wait_admin_count(V2, 2);

    /* more changes: another update in tok-sim's scope, two new activities (published now) */
    sim_post("/_control/update?id=urn:feedsim:1:3");
    sim_post("/_control/add?n=2");
    wait_admin_count(V2, 4);
    wait_admin_count(NULL, 2 * N + 4);

    const char *sim_sees[] = {"sim urn:feedsim:1:3", "sim urn:feedsim:1:4", NULL};
    const char *hawk_sees[] = {"sim2 urn:feedsim:1:3", "sim2 urn:feedsim:1:4", "sim2 urn:feedsim:1:30",
                               "sim2 urn:feedsim:1:31", NULL};
    resume_sees(&sim, a.last_id, "activity", sim_sees, "tok-sim resumes its own stream");
    resume_sees(&hawk, b.last_id, "activity", hawk_sees, "hawk resumes its own stream");
    resume_sees(&sim, c.last_id, "activity", sim_sees, "tok-sim resumes admin's live id");
    resume_sees(&sim, b.last_id, "activity", sim_sees, "tok-sim resumes hawk's live id");
    const cred_t sim_q = {"tok-sim access_token", BY_QUERY, TOK_SIM};
    resume_sees(&sim_q, c.last_id, "activity", sim_sees, "EventSource's reconnect (access_token, Last-Event-ID)");

    /* admin's history id, resumed by hawk: the rest of that history and the changes, sim2's only */
    h_sse_t rest = {.ev = c.ev + 21, .n = 2 * N - 21};
    json_t *want = stream_set(&rest, "activity"), *sim2_only = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v)
        if (strncmp(k, "sim2 ", 5) == 0)
            json_object_set(sim2_only, k, v);
    json_decref(want);
    for (const char *const *w = hawk_sees; *w; w++)
        json_object_set_new(sim2_only, *w, json_true());
    h_sse_t h = stream_as(&hawk, "/stream?start=0", mid->id, NULL, 1500);
    cr_assert_eq(h.status, 200);
    cr_assert_eq(h_sse_count(&h, "activity"), json_object_size(sim2_only), "nothing twice, nothing more");
    assert_same_set(stream_set(&h, "activity"), sim2_only, "hawk resumes admin's history id");
    h_sse_free(&h);
    h_sse_free(&a);
    h_sse_free(&b);
    h_sse_free(&c);
}

/* ---- deletes ------------------------------------------------------------------------------ */

Test(auth, a_delete_reaches_a_client_when_its_scope_may_admit_the_tombstone)
{
    up(NULL, NULL, "1s");
    char actor_jwt[4096], late_jwt[4096];
    /* a scope on the actor: a tombstone has none, so the delete is let through by feed */
    snprintf(actor_jwt, sizeof actor_jwt, "%s",
             jwt_hs(",\"sub\":\"svc-actor\",\"feeds\":[\"sim\"],\"scope\":{\"term\":{\"actor.id\":\"nobody\"}}"));
    /* a scope on published that leaves the deleted activity (published 00:00:03) out */
    snprintf(late_jwt, sizeof late_jwt, "%s", jwt_hs(",\"sub\":\"svc-late\",\"feeds\":[\"sim\"],"
                                                     "\"scope\":{\"range\":{\"published\":"
                                                     "{\"gte\":\"2024-01-01T00:00:10Z\"}}}"));
    const cred_t creds[] = {{"tok-sim", BY_BEARER, TOK_SIM}, {"hawk", BY_HAWK, HAWK_KEY},
                            {"jwt on actor", BY_BEARER, actor_jwt}, {"jwt from 10 s", BY_BEARER, late_jwt}};
    const char *const sees[][2] = {{"sim urn:feedsim:1:3", NULL}, {"sim2 urn:feedsim:1:3", NULL},
                                   {"sim urn:feedsim:1:3", NULL}, {NULL}};
    enum { NC = sizeof creds / sizeof creds[0] };
    char ids[NC][128];
    for (size_t i = 0; i < NC; i++) {
        h_sse_t s = stream_as(&creds[i], "/stream?start=0", NULL, "live", 10000);
        cr_assert_eq(s.status, 200, "%s", creds[i].name);
        snprintf(ids[i], sizeof ids[i], "%s", s.last_id);
        h_sse_free(&s);
    }
    sim_post("/_control/delete?id=urn:feedsim:1:3");
    wait_admin_count(NULL, 2 * N - 2);
    for (size_t i = 0; i < NC; i++) {
        resume_sees(&creds[i], ids[i], "delete", sees[i], creds[i].name);
        h_sse_t s = stream_as(&creds[i], "/stream?start=0", ids[i], NULL, 1000);
        cr_assert_eq(h_sse_count(&s, "activity"), 0, "%s: a delete only", creds[i].name);
        h_sse_free(&s);
    }
    h_sse_t s = stream_as(&creds[0], "/stream?start=0&end=now", NULL, NULL, 10000);
    cr_assert_eq(h_sse_count(&s, "activity"), 9, "the history no longer holds it");
    h_sse_free(&s);
}

/* ---- refusals ----------------------------------------------------------------------------- */

/* `header` (may be NULL) on GET path: a 401 with the one body and the challenge. */
static void refused(const char *what, const char *header, const char *path)
{
    const char *hdrs[] = {header, NULL};
    h_resp_t r;
    cr_assert_eq(h_http("GET", url("%s", path), header ? hdrs : NULL, NULL, &r, 10000), 0);
    cr_assert_eq(r.status, 401, "%s: %ld %s", what, r.status, r.body);
    cr_assert_str_eq(r.body, "{\"error\": \"unauthorized\"}", "%s", what);
    cr_assert(strcasestr(r.headers, "www-authenticate: " CHALLENGE), "%s: %s", what, r.headers);
    h_resp_free(&r);
}

static void refused_jwt(const char *what, const char *token)
{
    char h[8192];
    snprintf(h, sizeof h, "Authorization: Bearer %s", token);
    refused(what, h, "/activities/_count");
}

/* A Hawk header for GET url with these ts and nonce (NULL: random). */
static const char *hawk_for(const char *path, int64_t ts, const char *nonce)
{
    static char h[1200];
    int n = snprintf(h, sizeof h, "Authorization: ");
    cr_assert_gt(hawk_authorization(HAWK_ID, HAWK_KEY, "GET", url("%s", path), NULL, NULL, 0, ts, nonce, h + n,
                                    sizeof h - (size_t)n), 0);
    return h;
}

static void refusals_of_headers(void)
{
    char huge[6000];
    refused("no credentials", NULL, "/stream");
    refused("empty bearer", "Authorization: Bearer", "/stream");
    refused("two tokens", "Authorization: Bearer a b", "/stream");
    refused("basic", "Authorization: Basic YWRtaW46YWRtaW4=", "/stream");
    refused("unknown token", "Authorization: Bearer not-a-token-of-anyone-0123", "/feeds");
    refused("unknown access_token", NULL, "/stream?access_token=wrong-secret-never-logged-42");
    refused("header and access_token", "Authorization: Bearer " TOK_SIM, "/stream?access_token=" TOK_SIM);
    refused("two access_tokens", NULL, "/stream?access_token=" TOK_SIM "&access_token=" TOK_SIM);
    refused("hawk alone", "Authorization: Hawk", "/stream");
    refused("hawk without mac", "Authorization: Hawk id=\"" HAWK_ID "\", ts=\"1700000000\", nonce=\"abc\"", "/stream");
    int n = snprintf(huge, sizeof huge, "Authorization: Hawk id=\"" HAWK_ID "\", ts=\"1\", nonce=\"n\", mac=\"m\", ext=\"");
    memset(huge + n, 'A', 5000);
    snprintf(huge + n + 5000, sizeof huge - (size_t)n - 5000, "\"");
    refused("hawk with a huge value", huge, "/stream");
    refused("hawk of an unknown id", "Authorization: Hawk id=\"who\", ts=\"1\", nonce=\"n\", mac=\"bWFj\"", "/stream");
    refused("office from 127.0.0.1", "Authorization: Bearer " TOK_OFFICE, "/stream");
    const char *xff[] = {"Authorization: Bearer " TOK_OFFICE, "X-Forwarded-For: 192.0.2.7", NULL};
    h_resp_t r;
    cr_assert_eq(h_http("GET", url("/activities/_count", NULL), xff, NULL, &r, 10000), 0);
    cr_assert_eq(r.status, 401, "X-Forwarded-For from a peer that is not a trusted proxy is ignored");
    h_resp_free(&r);
}

static void refusals_of_hawk(void)
{
    int64_t now = time(NULL);
    const char *h = hawk_for("/activities/_count", now, "nonce-once");
    char again[1200];
    snprintf(again, sizeof again, "%s", h);
    const char *hdrs[] = {again, NULL};
    h_resp_t r;
    cr_assert_eq(h_http("GET", url("/activities/_count", NULL), hdrs, NULL, &r, 10000), 0);
    cr_assert_eq(r.status, 200, "a good Hawk request: %s", r.body);
    h_resp_free(&r);
    refused("replayed nonce", again, "/activities/_count");
    refused("signed for another path", hawk_for("/feeds", now, NULL), "/activities/_count");
    /* a skewed clock: 401 with the signed ts/tsm challenge (tests/node checks it with @hapi/hawk) */
    hdrs[0] = hawk_for("/activities/_count", now - 600, NULL);
    cr_assert_eq(h_http("GET", url("/activities/_count", NULL), hdrs, NULL, &r, 10000), 0);
    cr_assert_eq(r.status, 401);
    cr_assert_str_eq(r.body, "{\"error\": \"unauthorized\"}");
    cr_assert(strcasestr(r.headers, "www-authenticate: Hawk ts=\"") && strstr(r.headers, "tsm=\""), "%s", r.headers);
    h_resp_free(&r);
    /* a body: its hash is required, and must be the body's */
    const char *body = "{\"query\":{\"match_all\":{}}}";
    char auth[1100], hdr[1200];
    const char *post[] = {hdr, "Content-Type: application/json", NULL};
    cr_assert_gt(hawk_authorization(HAWK_ID, HAWK_KEY, "POST", url("/activities/_count", NULL), "application/json",
                                    body, strlen(body), now, NULL, auth, sizeof auth), 0);
    snprintf(hdr, sizeof hdr, "Authorization: %s", auth);
    cr_assert_eq(h_http("POST", url("/activities/_count", NULL), post, "{\"query\":{\"match_none\":{}}}", &r, 10000), 0);
    cr_assert_eq(r.status, 401, "a tampered body");
    h_resp_free(&r);
    cr_assert_gt(hawk_authorization(HAWK_ID, HAWK_KEY, "POST", url("/activities/_count", NULL), NULL, NULL, 0, now,
                                    NULL, auth, sizeof auth), 0);
    snprintf(hdr, sizeof hdr, "Authorization: %s", auth);
    cr_assert_eq(h_http("POST", url("/activities/_count", NULL), post, body, &r, 10000), 0);
    cr_assert_eq(r.status, 401, "a body without a payload hash");
    h_resp_free(&r);
}

/* Keys made here for the JWT refusals: an RSA and an EC key pair (PEM files in E.dir). */
static void make_key(const char *dir, const char *kind, char *priv, char *pub)
{
    char *gen_rsa[] = {"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                       "-out", priv, NULL};
    char *gen_ec[] = {"/usr/bin/openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-out", priv, NULL};
    char *pubout[] = {"/usr/bin/openssl", "pkey", "-in", priv, "-pubout", "-out", pub, NULL};
    char log[600];
    int status;
    snprintf(log, sizeof log, "%s/openssl.log", dir);
    waitpid(h_spawn(strcmp(kind, "RSA") == 0 ? gen_rsa : gen_ec, log), &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "openssl genpkey %s", kind);
    waitpid(h_spawn(pubout, log), &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "openssl pkey %s", kind);
}

static void key_paths(const char *dir, const char *name, char *priv, char *pub)
{
    snprintf(priv, 512, "%s/%s.pem", dir, name);
    snprintf(pub, 512, "%s/%s.pub", dir, name);
}

static void refusals_of_jwts(void)
{
    char payload[1024], rsa[512], rsa_pub[512];
    long long now = time(NULL);
    key_paths(E.dir, "rsa", rsa, rsa_pub);
    make_key(E.dir, "RSA", rsa, rsa_pub);
    const char *hs = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
#define CLAIMS(extra) (snprintf(payload, sizeof payload, "{\"sub\":\"svc\",\"feeds\":[\"sim\"]%s}", extra), payload)
    char ok[256];
    snprintf(ok, sizeof ok, ",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld", now + 3600);
    refused_jwt("bad signature", jwt_signed("HS256", "another-secret-0123456789abcdef012345", hs, CLAIMS(ok)));
    char claims[256];
    snprintf(claims, sizeof claims, ",\"iss\":\"" ISS "\",\"aud\":\"someone-else\",\"exp\":%lld", now + 3600);
    refused_jwt("wrong audience", jwt_signed("HS256", JWT_SECRET, hs, CLAIMS(claims)));
    snprintf(claims, sizeof claims, ",\"iss\":\"https://evil.example\",\"aud\":\"" AUD "\",\"exp\":%lld", now + 3600);
    refused_jwt("wrong issuer", jwt_signed("HS256", JWT_SECRET, hs, CLAIMS(claims)));
    snprintf(claims, sizeof claims, ",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld", now - 3600);
    refused_jwt("expired", jwt_signed("HS256", JWT_SECRET, hs, CLAIMS(claims)));
    snprintf(claims, sizeof claims, ",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%lld,\"nbf\":%lld", now + 7200,
             now + 3600);
    refused_jwt("not yet valid", jwt_signed("HS256", JWT_SECRET, hs, CLAIMS(claims)));
    refused_jwt("alg none", jwt_signed("none", "-", "{\"alg\":\"none\",\"typ\":\"JWT\"}", CLAIMS(ok)));
    char *pem = h_read_file(rsa_pub, NULL);
    refused_jwt("HS256 signed with the RSA public key (algorithm confusion)", jwt_signed("HS256", pem, hs, CLAIMS(ok)));
    free(pem);
    refused_jwt("RS256 without a public key configured",
                jwt_signed("RS256", rsa, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", CLAIMS(ok)));
    char cut[4096];
    snprintf(cut, sizeof cut, "%s", jwt_signed("HS256", JWT_SECRET, hs, CLAIMS(ok)));
    cut[strlen(cut) - 6] = '\0';
    refused_jwt("truncated", cut);
    snprintf(payload, sizeof payload, "{\"sub\":\"svc\"%s}", ok);
    refused_jwt("no feeds claim", jwt_signed("HS256", JWT_SECRET, hs, payload));
#undef CLAIMS
}

Test(auth, every_refusal_is_the_same_401_with_its_reason_in_the_log_and_no_secret)
{
    up(NULL, NULL, NULL);
    refusals_of_headers();
    refusals_of_hawk();
    refusals_of_jwts();
    static const char *const reasons[] = {"missing", "malformed", "unknown_client", "bad_signature",
                                          "bad_payload_hash", "stale_timestamp", "replayed_nonce", "expired",
                                          "not_yet_valid", "wrong_issuer", "wrong_audience", "bad_algorithm",
                                          "bad_claims", "ip_not_allowed"};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        char series[128], line[128];
        snprintf(series, sizeof series, "as_auth_failures_total{reason=\"%s\"}", reasons[i]);
        cr_expect_gt(metric(series), 0, "%s", series);
        snprintf(line, sizeof line, "): %s: ", reasons[i]);
        cr_expect(log_has(line), "the log names the reason %s", reasons[i]);
    }
    cr_expect(log_has("401 GET /stream from 127.0.0.1 (client office): ip_not_allowed"), "client and address");
    cr_expect(log_has("(client hawk-sim2): replayed_nonce"));
    /* a 400 from /stream never echoes the access_token either */
    h_resp_t r;
    cr_assert_eq(h_get(url("/stream?bogus=1&access_token=%s", TOK_SIM), &r), 0);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert_null(strstr(r.body, TOK_SIM), "%s", r.body);
    cr_assert_null(strstr(r.body, "access_token"), "%s", r.body);
    h_resp_free(&r);
    const char *secrets[] = {TOK_SIM, TOK_OFFICE, TOK_ADMIN, HAWK_KEY, JWT_SECRET, "wrong-secret-never-logged-42",
                             "not-a-token-of-anyone-0123", "eyJ"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        cr_expect_not(log_has(secrets[i]), "the log holds a secret: %s", secrets[i]);
}

/* ---- RS256 and ES256 ---------------------------------------------------------------------- */

/* A server whose JWT public key is of `kind` (RSA: RS256, EC: ES256): its tokens are accepted
 * and scoped; tokens of the other algorithm, of another key of the same kind, or HS256 "signed"
 * with the public key's PEM are refused. */
static void public_key_tokens(const char *kind, const char *alg, const char *other_kind, const char *other_alg)
{
    char *keys = h_tmpdir(), priv[512], pub[512], priv2[512], pub2[512], oprv[512], opub[512], header[64];
    key_paths(keys, "key", priv, pub);
    key_paths(keys, "another", priv2, pub2);
    key_paths(keys, "other-kind", oprv, opub);
    make_key(keys, kind, priv, pub);
    make_key(keys, kind, priv2, pub2);
    make_key(keys, other_kind, oprv, opub);
    up(NULL, pub, NULL);
    char claims[512], token[4096];
    snprintf(claims, sizeof claims, "{\"sub\":\"svc-%s\",\"feeds\":[\"sim2\"],\"iss\":\"" ISS "\",\"aud\":\"" AUD
             "\",\"exp\":%lld}", alg, (long long)time(NULL) + 3600);
    snprintf(header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    snprintf(token, sizeof token, "%s", jwt_signed(alg, priv, header, claims));
    const cred_t c = {alg, BY_QUERY, token};
    h_sse_t s = stream_as(&c, "/stream?start=0&end=now", NULL, NULL, 10000);
    cr_assert_eq(s.status, 200, "%s token: %ld", alg, s.status);
    assert_same_set(stream_set(&s, "activity"), admin_set("{\"term\":{\"feed\":\"sim2\"}}"), alg);
    h_sse_free(&s);
    refused_jwt("signed by another key", jwt_signed(alg, priv2, header, claims));
    char oheader[64];
    snprintf(oheader, sizeof oheader, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", other_alg);
    refused_jwt("the other algorithm", jwt_signed(other_alg, oprv, oheader, claims));
    char *pem = h_read_file(pub, NULL);
    refused_jwt("HS256 with the public key as the secret",
                jwt_signed("HS256", pem, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", claims));
    free(pem);
    h_rmdir(keys);
    free(keys);
}

Test(auth, rs256_tokens_and_what_is_refused_beside_them)
{
    public_key_tokens("RSA", "RS256", "EC", "ES256");
}

Test(auth, es256_tokens_and_what_is_refused_beside_them)
{
    public_key_tokens("EC", "ES256", "RSA", "RS256");
}

/* ---- ip_allow behind a trusted proxy -------------------------------------------------------- */

static long status_with(const char *path, const char *const *headers)
{
    h_resp_t r;
    cr_assert_eq(h_http("GET", url("%s", path), headers, NULL, &r, 10000), 0);
    long st = r.status;
    h_resp_free(&r);
    return st;
}

Test(auth, ip_allow_uses_the_right_most_untrusted_forwarded_address)
{
    up("127.0.0.0/8", NULL, NULL);
    static const struct {
        const char *xff;
        long status;
    } cases[] = {
        {NULL, 401},                              /* the peer itself, 127.0.0.1 */
        {"X-Forwarded-For: 192.0.2.7", 200},
        {"X-Forwarded-For: 192.0.2.7, 127.0.0.9", 200},
        {"X-Forwarded-For: 198.51.100.1, 192.0.2.7", 200},
        {"X-Forwarded-For: 192.0.2.7, 198.51.100.1", 401},
        {"X-Forwarded-For: 198.51.100.1", 401},
        {"X-Forwarded-For: garbage", 401},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *h[] = {"Authorization: Bearer " TOK_OFFICE, cases[i].xff, NULL};
        cr_expect_eq(status_with("/activities/_count", h), cases[i].status, "%s", cases[i].xff ? cases[i].xff : "no XFF");
    }
    /* Hawk as the client addressed the proxy: X-Forwarded-Host and -Proto are believed from it */
    char auth[1100], hdr[1200];
    cr_assert_gt(hawk_authorization(HAWK_ID, HAWK_KEY, "GET", "https://public.example/activities/_count", NULL, NULL, 0,
                                    time(NULL), NULL, auth, sizeof auth), 0);
    snprintf(hdr, sizeof hdr, "Authorization: %s", auth);
    const char *h[] = {hdr, "X-Forwarded-Host: public.example", "X-Forwarded-Proto: https", NULL};
    cr_expect_eq(status_with("/activities/_count", h), 200);
    cr_expect(log_has("(client office): ip_not_allowed"));
}

/* A scroll is continued only by the client that opened it (its total was counted under that
 * client's scope): to another, it does not exist. */
Test(auth, a_scroll_belongs_to_the_client_that_opened_it)
{
    up(NULL, NULL, NULL);
    h_resp_t r = call(&ADMIN, "POST", "/activities/_search?scroll=1m", "{\"size\":5}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *j = json_loads(r.body, 0, NULL);
    char body[512];
    snprintf(body, sizeof body, "{\"scroll_id\":\"%s\"}", json_string_value(json_object_get(j, "_scroll_id")));
    json_decref(j);
    h_resp_free(&r);
    const cred_t sim = {"tok-sim", BY_BEARER, TOK_SIM};
    r = call(&sim, "POST", "/_search/scroll", body);
    cr_assert_eq(r.status, 404, "another client's scroll -> %ld %s", r.status, r.body);
    cr_assert(strstr(r.body, "search_context_missing_exception"), "%s", r.body);
    h_resp_free(&r);
    r = call(&ADMIN, "POST", "/_search/scroll", body);
    cr_assert_eq(r.status, 200, "its owner goes on: %s", r.body);
    j = json_loads(r.body, 0, NULL);
    cr_assert_eq(json_array_size(json_object_get(json_object_get(j, "hits"), "hits")), 5, "%s", r.body);
    json_decref(j);
    h_resp_free(&r);
}

/* ---- expiry ------------------------------------------------------------------------------- */

Test(auth, a_stream_ends_when_its_jwt_expires_and_the_reconnect_gets_401)
{
    up(NULL, NULL, NULL);
    /* exp 3 s from now (no leeway is configured: the token is refused from exp on) */
    char payload[512], token[4096];
    snprintf(payload, sizeof payload, "{\"sub\":\"svc-short\",\"feeds\":[\"*\"],\"iss\":\"" ISS "\",\"aud\":\"" AUD
             "\",\"exp\":%lld}", (long long)time(NULL) + 3);
    snprintf(token, sizeof token, "%s", jwt_signed("HS256", JWT_SECRET, "{\"alg\":\"HS256\"}", payload));
    const cred_t c = {"short jwt", BY_QUERY, token};
    time_t t0 = time(NULL);
    h_sse_t s = stream_as(&c, "/stream?start=0", NULL, NULL, 15000);
    cr_assert_eq(s.status, 200);
    cr_assert(s.ended, "the server ended the stream");
    cr_assert_leq(time(NULL) - t0, 8, "it ended when the token expired");
    cr_assert_geq(s.comments, 1, "a last comment");
    cr_assert_eq(h_sse_count(&s, "activity"), 2 * N, "what came before the expiry");
    cr_assert_eq(h_sse_count(&s, "end"), 0, "no `end`: the stream did not finish, its credentials did");
    h_sse_t again = stream_as(&c, "/stream?start=0", s.last_id, NULL, 5000);
    cr_assert_eq(again.status, 401, "the reconnect with the expired token");
    cr_assert(strcasestr(again.headers, "www-authenticate:"));
    cr_expect_eq(metric("as_streams_expired_total"), 1);
    h_sse_free(&again);
    h_sse_free(&s);
}

/* ---- /metrics ----------------------------------------------------------------------------- */

static lc_t *streams_of(const char *token, size_t n)
{
    char hdr[256];
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", token);
    lc_opts_t o = {.port = E.port, .target = "/stream?start=now", .headers = hdr};
    lc_t *cl;
    cr_assert_eq(lc_new(&cl, &o, n), 0);
    lc_open_all(cl, 0);
    cr_assert_eq(lc_wait_open(cl, 10000), 0);
    cr_assert_eq(lc_stats(cl)->live, n);
    return cl;
}

Test(auth, metrics_count_open_streams_per_client)
{
    up_heartbeat(NULL, NULL, NULL, "500ms");   /* a closed idle stream is noticed at its next write */
    lc_t *sim = streams_of(TOK_SIM, 3), *all = streams_of(TOK_ALL, 1);
    cr_expect_eq(metric("as_client_streams_open{client=\"tok-sim\"}"), 3);
    cr_expect_eq(metric("as_client_streams_open{client=\"tok-all\"}"), 1);
    cr_expect_eq(metric("as_streams_open"), 4);
    lc_free(sim);
    for (int i = 0; i < 100 && metric("as_client_streams_open{client=\"tok-sim\"}") != -1; i++)
        usleep(50000);
    cr_expect_eq(metric("as_client_streams_open{client=\"tok-sim\"}"), -1, "a client without streams is not listed");
    cr_expect_eq(metric("as_client_streams_open{client=\"tok-all\"}"), 1);
    lc_free(all);
    cr_expect_eq(metric("as_auth_failures_total{reason=\"missing\"}"), 0);
    refused("no credentials", NULL, "/feeds");
    cr_expect_eq(metric("as_auth_failures_total{reason=\"missing\"}"), 1);
    h_resp_t r = call(&(cred_t){"tok-all", BY_BEARER, TOK_ALL}, "GET", "/feeds", NULL);
    cr_assert_eq(r.status, 403);
    h_resp_free(&r);
    cr_expect_eq(metric("as_auth_failures_total{reason=\"forbidden\"}"), 1);
}

/* ---- what needs no credentials ------------------------------------------------------------ */

Test(auth, health_static_files_and_preflights_need_no_credentials)
{
    up(NULL, NULL, NULL);
    cr_expect_eq(status_with("/health", NULL), 200);
    const char *browser[] = {"Accept: text/html,application/xhtml+xml", NULL};
    cr_expect_eq(status_with("/", browser), 200, "the dashboard's page");
    cr_expect_eq(status_with("/style.css", NULL), 200, "the dashboard's files");
    cr_expect_eq(status_with("/", NULL), 401, "the Elasticsearch root document needs credentials");
    const char *pre[] = {"Origin: http://app.example", "Access-Control-Request-Method: GET",
                         "Access-Control-Request-Headers: authorization", NULL};
    h_resp_t r;
    cr_assert_eq(h_http("OPTIONS", url("/stream", NULL), pre, NULL, &r, 10000), 0);
    cr_expect_eq(r.status, 204);
    cr_expect(strcasestr(r.headers, "access-control-allow-headers: Authorization"), "%s", r.headers);
    h_resp_free(&r);
    const char *cors[] = {"Origin: http://app.example", NULL};
    cr_assert_eq(h_http("GET", url("/stream", NULL), cors, NULL, &r, 10000), 0);
    cr_expect_eq(r.status, 401);
    cr_expect(strcasestr(r.headers, "access-control-allow-origin: http://app.example"), "a page can read the 401");
    h_resp_free(&r);
}

/* ---- configuration ------------------------------------------------------------------------ */

/* Start the server on `yaml` (in a new directory): it must exit 1 and say `message`. */
static void start_fails(const char *yaml, const char *message)
{
    char *dir = h_tmpdir(), conf[512], log[512];
    snprintf(conf, sizeof conf, "%s/server.conf", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    cr_assert_eq(h_write_file(conf, yaml), 0);
    char *argv[] = {(char *)h_server_bin(), "--config", conf, NULL};
    int status;
    waitpid(h_spawn(argv, log), &status, 0);
    char *text = h_read_file(log, NULL);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d: %s", status, text);
    cr_expect(text && strstr(text, message), "expected '%s' in: %s", message, text);
    free(text);
    h_rmdir(dir);
    free(dir);
}

Test(auth, a_client_without_credentials_or_a_repeated_id_stops_the_server)
{
    start_fails("listen: 127.0.0.1:1\nauth:\n  clients:\n    - id: a\n      scope: {\"match_all\": {}}\n",
                "server.conf:4: auth.clients[0]: no credentials");
    start_fails("listen: 127.0.0.1:1\nauth:\n  clients:\n    - id: a\n      token: " TOK_SIM "\n"
                "    - id: a\n      token: " TOK_ALL "\n",
                "server.conf:6: auth.clients[1].id: duplicate client id 'a'");
    start_fails("listen: 127.0.0.1:1\nauth:\n  clients:\n    - id: a\n      token: \"not a token\"\n",
                "auth.clients[0].token: the token must consist of");
}

/* A short token and a short HS256 secret work, and the server says at start that they can be
 * guessed (without showing them). */
Test(auth, short_secrets_start_with_a_warning)
{
    char *dir = h_tmpdir(), yaml[1024], log[512];
    int port = h_free_port();
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(yaml, sizeof yaml, "listen: 127.0.0.1:%d\ndata_dir: %s/data\nthreads: 1\nweb_root: web\n"
             "auth:\n  clients:\n    - id: t\n      token: tiny-token\n  jwt:\n    hs256_secret: tiny-secret\n",
             port, dir);
    pid_t pid = h_start_server(dir, yaml, port, log);
    cr_assert_gt(pid, 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/activities/_count", port);
    const char *auth[] = {"Authorization: Bearer tiny-token", NULL};
    h_resp_t r;
    cr_assert_eq(h_http("GET", url, auth, NULL, &r, 5000), 0);
    cr_expect_eq(r.status, 200, "the short token is accepted: %s", r.body);
    h_resp_free(&r);
    cr_expect_eq(h_stop(pid, SIGTERM, 8000), 0);
    char *text = h_read_file(log, NULL);
    cr_expect(text && strstr(text, "auth.clients[0].token: warning: a token shorter than 16"), "%s", text);
    cr_expect(text && strstr(text, "auth.jwt.hs256_secret: warning: an HS256 secret shorter than 32"), "%s", text);
    cr_expect(text && !strstr(text, "tiny-"), "a secret in the log: %s", text);
    free(text);
    h_rmdir(dir);
    free(dir);
}

Test(auth, open_access_on_a_non_loopback_listener_is_a_warning)
{
    char *dir = h_tmpdir(), yaml[1024], log[512];
    int port = h_free_port();
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(yaml, sizeof yaml, "listen: [\"127.0.0.1:%d\", \":%d\"]\ndata_dir: %s/data\nthreads: 1\nweb_root: web\n",
             port, h_free_port(), dir);
    pid_t pid = h_start_server(dir, yaml, port, log);
    cr_assert_gt(pid, 0);
    cr_expect_eq(h_stop(pid, SIGTERM, 8000), 0);
    char *text = h_read_file(log, NULL);
    cr_expect(text && strstr(text, "without an auth block: anyone who reaches it reads everything"), "%s", text);
    char loopback[64];
    snprintf(loopback, sizeof loopback, "listening on 127.0.0.1:%d without", port);
    cr_expect(text && !strstr(text, loopback), "no warning for loopback: %s", text);
    free(text);
    h_rmdir(dir);
    free(dir);
}
