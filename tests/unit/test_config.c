/* test_config.c -- the YAML configuration: the shipped example files, defaults, units, secrets
 * from the environment, and one precise "FILE:LINE: KEY-PATH: problem" line per mistake.
 * Runs from the repository root (make one / make unit), so conf/ paths are relative to it. */
#include "config.h"
#include "pem_fixture.h"
#include "auth.h"
#include "jwt_fixture.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A config_t with every byte zero: what a failed load must leave behind. */
static void assert_zeroed(const config_t *cfg)
{
    static const config_t zero;
    cr_assert(memcmp(cfg, &zero, sizeof zero) == 0, "a failed load left data in *cfg");
}

static void load_ok(const char *yaml, config_t *cfg)
{
    char err[512] = "";
    int rc = config_load_string(yaml, "t.conf", cfg, err, sizeof err);
    cr_assert_eq(rc, 0, "unexpected error: %s", err);
}

/* ---- the shipped files ------------------------------------------------------------------- */

Test(config, demo_file_loads)
{
    config_t cfg;
    char err[512] = "";
    cr_assert_eq(config_load("conf/activity-stream.conf", &cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.nlisten, 1);
    cr_assert_str_eq(cfg.listen[0], "127.0.0.1:8080");
    cr_assert_str_eq(cfg.data_dir, "./data");
    cr_assert_str_eq(cfg.path, "conf/activity-stream.conf");
    cr_assert_eq(cfg.nfeeds, 2);
    const config_feed_t *d = &cfg.feeds[0], *o = &cfg.feeds[1];
    cr_assert_str_eq(d->id, "demo");
    cr_assert_str_eq(d->url, "http://127.0.0.1:8081/feed");
    cr_assert_eq(d->style, FEED_STYLE_ACTIVITY_STREAM);
    cr_assert_eq(d->poll_interval_ms, 1000);
    cr_assert_eq(d->full_sync_interval_ms, 30000, "short in the demo, so that deletes show");
    cr_assert_eq(o->full_sync_interval_ms, 30000);
    cr_assert_eq(d->timeout_ms, 30000);
    cr_assert_eq(d->auth.type, AUTH_NONE);
    cr_assert_str_eq(o->id, "outbox");
    cr_assert_str_eq(o->url, "http://127.0.0.1:8082/outbox");
    cr_assert_eq(o->style, FEED_STYLE_OUTBOX);
    cr_assert_eq(o->poll_interval_ms, 1000);
    config_free(&cfg);
}

Test(config, full_example_loads_every_key)
{
    setenv("AS_PARTNER_HAWK_KEY", "werxhqb98rpaxn39848xrunpaw3489ruxnpa98w4rxn", 1);
    setenv("AS_ARCHIVE_TOKEN", "tok-123", 1);
    setenv("AS_LEGACY_PASSWORD", "s3cret", 1);
    setenv("DATAHUB_HAWK_KEY", "datahub-hawk-key", 1);
    setenv("REPORTING_TOKEN", "reporting-token-0123456789", 1);
    setenv("AS_JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
    config_t cfg;
    char err[512] = "";
    cr_assert_eq(config_load("conf/example-full.conf", &cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.nlisten, 2);
    cr_assert_str_eq(cfg.listen[0], "127.0.0.1:8080");
    cr_assert_str_eq(cfg.listen[1], "[::1]:8080");
    cr_assert_null(cfg.tls_cert, "tls is shown commented out: its files exist only on a deployment");
    cr_assert_null(cfg.tls_key);
    cr_assert_eq(cfg.ncors_origins, 2);
    cr_assert_str_eq(cfg.cors_origins[0], "https://dashboard.example.org");
    cr_assert_str_eq(cfg.web_root, "./web");
    cr_assert_eq(cfg.max_streams, 10000);
    cr_assert_eq(cfg.max_streams_per_client, 100);
    cr_assert_eq(cfg.threads, 4);
    cr_assert_eq(cfg.poll_interval_ms, 1000);
    cr_assert_eq(cfg.heartbeat_interval_ms, 15000);
    cr_assert_eq(cfg.retry_ms, 3000);
    cr_assert_eq(cfg.write_timeout_ms, 60000);
    cr_assert_str_eq(cfg.data_dir, "./data");
    cr_assert_eq(cfg.map_size, 64ull << 30);
    cr_assert_str_eq(cfg.ca_file, "/etc/ssl/certs/ca-certificates.crt");
    cr_assert_eq(cfg.nfeeds, 3);

    const config_feed_t *h = &cfg.feeds[0];
    cr_assert_str_eq(h->id, "partner-events");
    cr_assert_eq(h->style, FEED_STYLE_ACTIVITY_STREAM);
    cr_assert_eq(h->connect_timeout_ms, 10000);
    cr_assert_eq(h->max_page_bytes, 64ull << 20);
    cr_assert_null(h->ca_file, "commented out, as tls");
    cr_assert_eq(h->auth.type, AUTH_HAWK);
    cr_assert_str_eq(h->auth.id, "activity-stream");
    cr_assert_str_eq(h->auth.key, "werxhqb98rpaxn39848xrunpaw3489ruxnpa98w4rxn");
    cr_assert_eq(h->nheaders, 2);
    cr_assert_str_eq(h->headers[0].name, "Accept");
    cr_assert_str_eq(h->headers[0].value, "application/activity+json");
    cr_assert_str_eq(h->headers[1].name, "X-Client");

    const config_feed_t *b = &cfg.feeds[1];
    cr_assert_str_eq(b->id, "archive.outbox");
    cr_assert_eq(b->style, FEED_STYLE_OUTBOX);
    cr_assert_eq(b->poll_interval_ms, 30000);
    cr_assert_eq(b->full_sync_interval_ms, 6 * 3600 * 1000);
    cr_assert_eq(b->auth.type, AUTH_BEARER);
    cr_assert_str_eq(b->auth.token, "tok-123");
    cr_assert_null(b->ca_file);

    const config_feed_t *l = &cfg.feeds[2];
    cr_assert_str_eq(l->id, "legacy_cms");
    cr_assert_eq(l->auth.type, AUTH_BASIC);
    cr_assert_str_eq(l->auth.user, "reader");
    cr_assert_str_eq(l->auth.password, "s3cret");
    cr_assert_eq(l->nheaders, 0);

    const config_access_t *acc = &cfg.auth;
    cr_assert(acc->enabled);
    cr_assert_eq(acc->ntrusted_proxies, 2);
    cr_assert_eq(acc->trusted_proxies[1].prefix, 128);
    cr_assert_eq(acc->nclients, 2);
    cr_assert_str_eq(acc->clients[0].id, "datahub-search");
    cr_assert_str_eq(acc->clients[0].hawk_key, "datahub-hawk-key");
    cr_assert_null(acc->clients[0].token);
    cr_assert_eq(acc->clients[0].nip_allow, 2);
    cr_assert_str_eq(acc->clients[0].scope, "{\"terms\":{\"feed\":[\"crm\",\"events\"]}}");
    cr_assert_eq(acc->clients[0].allow, AUTH_ALLOW_STREAM | AUTH_ALLOW_SEARCH);
    cr_assert_str_eq(acc->clients[1].token, "reporting-token-0123456789");
    cr_assert_str_eq(acc->clients[1].scope,
                     "{\"bool\":{\"filter\":[{\"term\":{\"feed\":\"crm\"}},{\"term\":{\"type\":\"Create\"}}]}}");
    cr_assert_eq(acc->clients[1].allow, AUTH_ALLOW_STREAM | AUTH_ALLOW_SEARCH | AUTH_ALLOW_FEEDS | AUTH_ALLOW_METRICS);
    cr_assert_str_eq(acc->jwt_hs256_secret, "0123456789abcdef0123456789abcdef");
    cr_assert_str_eq(acc->jwt_public_key_file, "conf/example-jwt-public.pem");
    cr_assert(strstr(acc->jwt_public_key_pem, "-----BEGIN PUBLIC KEY-----"));
    cr_assert_str_eq(acc->jwt_issuer, "https://auth.example.org");
    cr_assert_str_eq(acc->jwt_audience, "activity-stream");
    cr_assert_eq(acc->jwt_leeway_s, 0, "no clock skew unless configured");
    config_free(&cfg);
    load_ok("auth:\n  jwt: {hs256_secret: 0123456789abcdef0123456789abcdef, leeway: 1m}\n", &cfg);
    cr_assert_eq(cfg.auth.jwt_leeway_s, 60);
    config_free(&cfg);
}

/* ---- defaults and values ----------------------------------------------------------------- */

static void assert_top_defaults(const config_t *cfg)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cr_assert_eq(cfg->nlisten, 1);
    cr_assert_str_eq(cfg->listen[0], "127.0.0.1:8080");
    cr_assert_str_eq(cfg->data_dir, "./data");
    cr_assert_str_eq(cfg->web_root, "./web");
    cr_assert_eq(cfg->map_size, 64ull << 30);
    cr_assert_eq(cfg->threads, cores < 1 ? 1 : cores > 256 ? 256 : cores);
    cr_assert_eq(cfg->poll_interval_ms, 1000);
    cr_assert_eq(cfg->heartbeat_interval_ms, 15000);
    cr_assert_eq(cfg->retry_ms, 3000);
    cr_assert_eq(cfg->write_timeout_ms, 60000);
    cr_assert_eq(cfg->max_streams, 10000);
    cr_assert_eq(cfg->max_streams_per_client, 0);
    cr_assert_eq(cfg->ncors_origins, 0);
    cr_assert_null(cfg->ca_file);
    cr_assert_null(cfg->tls_cert);
    cr_assert_null(cfg->tls_key);
    cr_assert_eq(cfg->nfeeds, 0);
    cr_assert_not(cfg->auth.enabled);
    cr_assert_eq(cfg->auth.nclients, 0);
}

Test(config, defaults_function)
{
    config_t cfg;
    cr_assert_eq(config_defaults(&cfg), 0);
    assert_top_defaults(&cfg);
    cr_assert_null(cfg.path);
    config_free(&cfg);
    assert_zeroed(&cfg);
    config_free(&cfg);    /* twice is harmless */
    config_free(NULL);
}

Test(config, empty_file_and_empty_feeds_give_defaults)
{
    const char *docs[] = {"", "# only a comment\n", "feeds: []\n", "feeds:\n", "cors_origins: []\n"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        config_t cfg;
        load_ok(docs[i], &cfg);
        assert_top_defaults(&cfg);
        cr_assert_str_eq(cfg.path, "t.conf");
        config_free(&cfg);
    }
}

Test(config, feed_defaults)
{
    config_t cfg;
    load_ok("feeds:\n  - id: a\n    url: https://x.example/feed\n", &cfg);
    cr_assert_eq(cfg.nfeeds, 1);
    const config_feed_t *f = &cfg.feeds[0];
    cr_assert_eq(f->style, FEED_STYLE_ACTIVITY_STREAM);
    cr_assert_eq(f->poll_interval_ms, 1000);
    cr_assert_eq(f->full_sync_interval_ms, 600000);
    cr_assert_eq(f->timeout_ms, 30000);
    cr_assert_eq(f->connect_timeout_ms, 10000);
    cr_assert_eq(f->max_page_bytes, 64ull << 20);
    cr_assert_null(f->ca_file);
    cr_assert_eq(f->auth.type, AUTH_NONE);
    cr_assert_eq(f->nheaders, 0);
    config_free(&cfg);
}

Test(config, durations_in_each_unit)
{
    config_t cfg;
    load_ok("poll_interval: 250ms\n"
            "heartbeat_interval: 20s\n"
            "retry: 2m\n"
            "write_timeout: 1h\n"
            "feeds:\n"
            "  - id: a\n"
            "    url: http://127.0.0.1:9/\n"
            "    poll_interval: 1500ms\n"
            "    full_sync_interval: 2h\n"
            "    timeout: 45s\n"
            "    connect_timeout: 1m\n",
            &cfg);
    cr_assert_eq(cfg.poll_interval_ms, 250);
    cr_assert_eq(cfg.heartbeat_interval_ms, 20000);
    cr_assert_eq(cfg.retry_ms, 120000);
    cr_assert_eq(cfg.write_timeout_ms, 3600000);
    cr_assert_eq(cfg.feeds[0].poll_interval_ms, 1500);
    cr_assert_eq(cfg.feeds[0].full_sync_interval_ms, 7200000);
    cr_assert_eq(cfg.feeds[0].timeout_ms, 45000);
    cr_assert_eq(cfg.feeds[0].connect_timeout_ms, 60000);
    config_free(&cfg);
}

Test(config, retention_keys)
{
    config_t cfg;
    load_ok("feeds: []\n", &cfg);
    cr_assert_eq(cfg.version_retention_ms, 24LL * 3600 * 1000, "default 24h");
    cr_assert_eq(cfg.tombstone_retention_ms, 30LL * 86400 * 1000, "default 30d");
    config_free(&cfg);
    load_ok("version_retention: 0s\ntombstone_retention: 7d\n", &cfg);
    cr_assert_eq(cfg.version_retention_ms, 0, "0s is valid: superseded versions are not kept");
    cr_assert_eq(cfg.tombstone_retention_ms, 7LL * 86400 * 1000);
    config_free(&cfg);
}

Test(config, sizes_in_each_unit)
{
    const struct { const char *text; uint64_t bytes; } cases[] = {
        {"1024", 1024}, {"512B", 512}, {"4KiB", 4096}, {"512MiB", 512ull << 20},
        {"2GiB", 2ull << 30}, {"1TiB", 1ull << 40}, {"8MB", 8ull << 20},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char yaml[256];
        config_t cfg;
        snprintf(yaml, sizeof yaml, "map_size: %s\nfeeds:\n  - {id: a, url: 'http://h/', max_page_size: %s}\n",
                 cases[i].text, cases[i].text);
        load_ok(yaml, &cfg);
        cr_assert_eq(cfg.map_size, cases[i].bytes, "%s", cases[i].text);
        cr_assert_eq(cfg.feeds[0].max_page_bytes, cases[i].bytes, "%s", cases[i].text);
        config_free(&cfg);
    }
}

Test(config, scalar_values_and_listen_forms)
{
    config_t cfg;
    load_ok("listen: [':8080', '[::]:443', 'localhost:1', '0.0.0.0:65535']\n"
            "threads: 256\n"
            "max_streams: 1\n"
            "data_dir: /var/lib/as\n"
            "web_root: \"/srv/web\"\n"
            "cors_origins: ['*', 'https://a.example:8443']\n",
            &cfg);
    cr_assert_eq(cfg.nlisten, 4);
    cr_assert_str_eq(cfg.listen[0], ":8080");
    cr_assert_str_eq(cfg.listen[1], "[::]:443");
    cr_assert_str_eq(cfg.listen[3], "0.0.0.0:65535");
    cr_assert_eq(cfg.threads, 256);
    cr_assert_eq(cfg.max_streams, 1);
    cr_assert_str_eq(cfg.data_dir, "/var/lib/as");
    cr_assert_str_eq(cfg.web_root, "/srv/web");
    cr_assert_eq(cfg.ncors_origins, 2);
    cr_assert_str_eq(cfg.cors_origins[0], "*");
    config_free(&cfg);

    load_ok("listen: '[::1]:9000'\nthreads: 1\n", &cfg);
    cr_assert_eq(cfg.nlisten, 1);
    cr_assert_str_eq(cfg.listen[0], "[::1]:9000");
    cr_assert_eq(cfg.threads, 1);
    config_free(&cfg);
}

Test(config, feed_id_edges_and_flow_style)
{
    config_t cfg;
    char yaml[512];
    char id64[65];
    memset(id64, 'x', 64);
    id64[64] = '\0';
    snprintf(yaml, sizeof yaml,
             "feeds:\n"
             "  - {id: A.b_c-9, url: HTTPS://h.example/x, style: outbox}\n"
             "  - {id: %s, url: 'http://h/'}\n",
             id64);
    load_ok(yaml, &cfg);
    cr_assert_str_eq(cfg.feeds[0].id, "A.b_c-9");
    cr_assert_str_eq(cfg.feeds[0].url, "HTTPS://h.example/x");
    cr_assert_eq(cfg.feeds[0].style, FEED_STYLE_OUTBOX);
    cr_assert_str_eq(cfg.feeds[1].id, id64);
    config_free(&cfg);
}

Test(config, headers_allow_token_names_and_tabs)
{
    config_t cfg;
    load_ok("feeds:\n"
            "  - id: a\n"
            "    url: http://h/\n"
            "    headers:\n"
            "      X-Api_Key.v2!: \"a\\tb\"\n"
            "      X-Empty: ''\n",
            &cfg);
    cr_assert_eq(cfg.feeds[0].nheaders, 2);
    cr_assert_str_eq(cfg.feeds[0].headers[0].name, "X-Api_Key.v2!");
    cr_assert_str_eq(cfg.feeds[0].headers[0].value, "a\tb");
    cr_assert_str_eq(cfg.feeds[0].headers[1].value, "");
    config_free(&cfg);
}

/* ---- secrets ----------------------------------------------------------------------------- */

Test(config, env_secrets_resolve)
{
    setenv("T_HAWK_KEY", "hawk-secret", 1);
    setenv("T_TOKEN", "bearer-secret", 1);
    setenv("T_PASSWORD", "basic-secret", 1);
    config_t cfg;
    load_ok("feeds:\n"
            "  - id: h\n    url: http://h/\n    auth: {type: hawk, id: me, key_env: T_HAWK_KEY}\n"
            "  - id: b\n    url: http://h/\n    auth: {type: bearer, token_env: T_TOKEN}\n"
            "  - id: p\n    url: http://h/\n    auth: {type: basic, user: u, password_env: T_PASSWORD}\n",
            &cfg);
    cr_assert_eq(cfg.feeds[0].auth.type, AUTH_HAWK);
    cr_assert_str_eq(cfg.feeds[0].auth.id, "me");
    cr_assert_str_eq(cfg.feeds[0].auth.key, "hawk-secret");
    cr_assert_eq(cfg.feeds[1].auth.type, AUTH_BEARER);
    cr_assert_str_eq(cfg.feeds[1].auth.token, "bearer-secret");
    cr_assert_eq(cfg.feeds[2].auth.type, AUTH_BASIC);
    cr_assert_str_eq(cfg.feeds[2].auth.user, "u");
    cr_assert_str_eq(cfg.feeds[2].auth.password, "basic-secret");
    config_free(&cfg);
}

Test(config, inline_secrets)
{
    config_t cfg;
    load_ok("feeds:\n"
            "  - id: h\n    url: http://h/\n    auth: {type: hawk, id: me, key: k1}\n"
            "  - id: b\n    url: http://h/\n    auth: {type: bearer, token: t1}\n"
            "  - id: p\n    url: http://h/\n    auth: {type: basic, user: u, password: p1}\n",
            &cfg);
    cr_assert_str_eq(cfg.feeds[0].auth.key, "k1");
    cr_assert_str_eq(cfg.feeds[1].auth.token, "t1");
    cr_assert_str_eq(cfg.feeds[2].auth.password, "p1");
    config_free(&cfg);
}

Test(config, secrets_are_never_echoed)
{
    config_t cfg;
    char err[512] = "";
    setenv("T_BAD", "line1\nline2", 1);
    cr_assert_eq(config_load_string("feeds:\n  - id: a\n    url: http://h/\n"
                                    "    auth: {type: bearer, token_env: T_BAD}\n",
                                    "t.conf", &cfg, err, sizeof err), -1);
    cr_assert(strstr(err, "t.conf:4: feeds[0].auth.token_env: ") == err, "%s", err);
    cr_assert(strstr(err, "control characters"), "%s", err);
    cr_assert_null(strstr(err, "line1"), "%s", err);
    cr_assert_null(strchr(err, '\n'));
    assert_zeroed(&cfg);
}

/* ---- errors ------------------------------------------------------------------------------ */

typedef struct {
    const char *yaml;
    const char *where;    /* "t.conf:LINE: PATH: " -- the line must start with it */
    const char *problem;  /* and contain this */
} error_case_t;

#define FEED "feeds:\n  - id: a\n    url: http://h/\n"    /* feeds[0], lines 1-3 */
#define AUTH "auth:\n  clients:\n"                           /* auth.clients[0] at line 3 */
#define TOK "tok-0123456789abcdef"

static const error_case_t errors[] = {
    /* unknown keys, at every level */
    {"listen: :1\nlisten_on: :2\n", "t.conf:2: listen_on: ", "unknown key"},
    {FEED "    polling: 1s\n", "t.conf:4: feeds[0].polling: ", "unknown key"},
    {"tls: {cert: a, key: b, ca: c}\n", "t.conf:1: tls.ca: ", "unknown key"},
    {FEED "    auth: {type: hawk, id: i, key: k, secret: s}\n", "t.conf:4: feeds[0].auth.secret: ", "unknown key"},
    /* wrong types */
    {"data_dir: [a, b]\n", "t.conf:1: data_dir: ", "expected a string, got a list"},
    {"web_root:\n  a: b\n", "t.conf:2: web_root: ", "expected a string, got a mapping"},
    {"ca_file:\n", "t.conf:1: ca_file: ", "expected a string, got nothing"},
    {"data_dir: ''\n", "t.conf:1: data_dir: ", "must not be empty"},
    {"threads: abc\n", "t.conf:1: threads: ", "expected an integer from 1 to 256, got 'abc'"},
    {"threads: 0\n", "t.conf:1: threads: ", "expected an integer from 1 to 256, got '0'"},
    {"threads: 257\n", "t.conf:1: threads: ", "got '257'"},
    {"threads: -4\n", "t.conf:1: threads: ", "got '-4'"},
    {"threads: 2.5\n", "t.conf:1: threads: ", "got '2.5'"},
    {"threads: [1]\n", "t.conf:1: threads: ", "got a list"},
    {"max_streams: lots\n", "t.conf:1: max_streams: ", "expected an integer from 1 to 1000000, got 'lots'"},
    {"max_streams: 0\n", "t.conf:1: max_streams: ", "got '0'"},
    {"max_streams_per_client: -1\n", "t.conf:1: max_streams_per_client: ",
     "expected an integer from 0 to 1000000, got '-1'"},
    {"feeds: {id: a}\n", "t.conf:1: feeds: ", "expected a list of feeds, got a mapping"},
    {"feeds:\n  - just-a-string\n", "t.conf:2: feeds[0]: ", "expected a mapping, got 'just-a-string'"},
    {"- a\n- b\n", "t.conf:1: ", "expected a mapping of settings at the top level, got a list"},
    {"[a]: b\n", "t.conf:1: ", "expected a key name, got a list"},
    /* durations and sizes */
    {"# c\n\nfeeds:\n  - id: x\n    url: http://h/\n  - id: y\n    url: http://h/\n    poll_interval: soon\n",
     "t.conf:8: feeds[1].poll_interval: ", "expected a duration like 1s or 500ms, got 'soon'"},
    {"heartbeat_interval: 0s\n", "t.conf:1: heartbeat_interval: ", "must be greater than 0, got '0s'"},
    {"version_retention: soon\n", "t.conf:1: version_retention: ", "expected a duration like 24h, 30d or 0s, got 'soon'"},
    {"replicate_from: http://p:1\nfeeds:\n  - id: a\n    url: http://h/\n", "t.conf:1: replicate_from: ",
     "a replica takes its data from its primary: remove the feeds"},
    {"replicate_auth: {type: bearer, token: abcdefghijklmnop}\n", "t.conf:1: replicate_auth: ",
     "only used with replicate_from"},
    {"replicate_from: http://p:1\nreplicate_auth: {type: basic, user: u, password: p}\n", "t.conf:2: replicate_auth: ",
     "a primary accepts hawk or bearer credentials, not basic"},
    {"replicate_from: ftp://p\n", "t.conf:1: replicate_from: ", "expected a URL starting with http://"},
    {"tombstone_retention: 4000d\n", "t.conf:1: tombstone_retention: ", "must be at most 3650d, got '4000d'"},
    {"tombstone_retention: 0s\n", "t.conf:1: tombstone_retention: ", "must be greater than 0, got '0s'"},
    {"retry: 0ms\n", "t.conf:1: retry: ", "must be greater than 0"},
    {"write_timeout: 10\n", "t.conf:1: write_timeout: ", "expected a duration like 1s or 500ms, got '10'"},
    {"poll_interval: 1w\n", "t.conf:1: poll_interval: ", "got '1w'"},
    {"poll_interval: 9000h\n", "t.conf:1: poll_interval: ", "must be at most 365d"},
    {FEED "    timeout: 0s\n", "t.conf:4: feeds[0].timeout: ", "must be greater than 0"},
    {FEED "    connect_timeout: -1s\n", "t.conf:4: feeds[0].connect_timeout: ", "got '-1s'"},
    {FEED "    full_sync_interval: [1s]\n", "t.conf:4: feeds[0].full_sync_interval: ", "got a list"},
    {"map_size: big\n", "t.conf:1: map_size: ", "expected a size like 64MiB or 4096, got 'big'"},
    {"map_size: 0\n", "t.conf:1: map_size: ", "must be greater than 0"},
    {FEED "    max_page_size: 1.5MiB\n", "t.conf:4: feeds[0].max_page_size: ", "got '1.5MiB'"},
    /* required keys, ids, urls, style */
    {"feeds:\n  - url: http://h/\n", "t.conf:2: feeds[0]: ", "missing required key 'id'"},
    {"feeds:\n  - id: a\n    url: http://h/\n  - id: b\n    style: outbox\n", "t.conf:4: feeds[1]: ",
     "missing required key 'url'"},
    {"feeds:\n  - id: demo\n    url: http://h/\n  - id: other\n    url: http://h/\n  - url: http://h/\n"
     "    id: demo\n",
     "t.conf:7: feeds[2].id: ", "duplicate feed id 'demo' (first at line 2)"},
    {"feeds:\n  - id: a b\n    url: http://h/\n", "t.conf:2: feeds[0].id: ", "expected 1-64 characters"},
    {"feeds:\n  - id: a/b\n    url: http://h/\n", "t.conf:2: feeds[0].id: ", "got 'a/b'"},
    {"feeds:\n  - id: ''\n    url: http://h/\n", "t.conf:2: feeds[0].id: ", "expected 1-64 characters"},
    {"feeds:\n  - id: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n    url: http://h/\n",
     "t.conf:2: feeds[0].id: ", "expected 1-64 characters"},
    {"feeds:\n  - id: a\n    url: ftp://h/feed\n", "t.conf:3: feeds[0].url: ",
     "expected a URL starting with http:// or https://, got 'ftp://h/feed'"},
    {"feeds:\n  - id: a\n    url: https://\n", "t.conf:3: feeds[0].url: ", "URL has no host"},
    {"feeds:\n  - id: a\n    url: \"http://h/a b\"\n", "t.conf:3: feeds[0].url: ", "contains a space"},
    {FEED "    style: rss\n", "t.conf:4: feeds[0].style: ", "expected activity-stream or outbox, got 'rss'"},
    /* duplicate keys */
    {"data_dir: a\nthreads: 2\ndata_dir: b\n", "t.conf:3: data_dir: ", "duplicate key (first at line 1)"},
    {FEED "    url: http://other/\n", "t.conf:4: feeds[0].url: ", "duplicate key (first at line 3)"},
    /* auth */
    {FEED "    auth: {type: digest}\n", "t.conf:4: feeds[0].auth.type: ", "expected hawk, bearer or basic, got 'digest'"},
    {FEED "    auth: {id: i, key: k}\n", "t.conf:4: feeds[0].auth: ", "missing required key 'type'"},
    {FEED "    auth: hawk\n", "t.conf:4: feeds[0].auth: ", "expected a mapping, got 'hawk'"},
    {FEED "    auth:\n      type: hawk\n      key: k\n", "t.conf:5: feeds[0].auth: ", "missing required key 'id'"},
    {FEED "    auth:\n      type: hawk\n      id: i\n", "t.conf:5: feeds[0].auth: ",
     "missing required key 'key' or 'key_env'"},
    {FEED "    auth:\n      type: hawk\n      id: i\n      key: k\n      key_env: T_K\n",
     "t.conf:8: feeds[0].auth.key_env: ", "give either 'key' or 'key_env', not both"},
    {FEED "    auth:\n      type: hawk\n      id: i\n      key_env: AS_TEST_SURELY_UNSET_VAR\n",
     "t.conf:7: feeds[0].auth.key_env: ", "environment variable 'AS_TEST_SURELY_UNSET_VAR' is not set"},
    {FEED "    auth: {type: hawk, id: 'a\"b', key: k}\n", "t.conf:4: feeds[0].auth.id: ", "must not contain"},
    {FEED "    auth: {type: hawk, id: i, key: k, token: t}\n", "t.conf:4: feeds[0].auth.token: ",
     "not used with auth type 'hawk'"},
    {FEED "    auth: {type: bearer}\n", "t.conf:4: feeds[0].auth: ", "missing required key 'token' or 'token_env'"},
    {FEED "    auth: {type: bearer, token: ''}\n", "t.conf:4: feeds[0].auth.token: ", "must not be empty"},
    {FEED "    auth: {type: bearer, token: t, user: u}\n", "t.conf:4: feeds[0].auth.user: ",
     "not used with auth type 'bearer'"},
    {FEED "    auth: {type: basic, password: p}\n", "t.conf:4: feeds[0].auth: ", "missing required key 'user'"},
    {FEED "    auth: {type: basic, user: 'a:b', password: p}\n", "t.conf:4: feeds[0].auth.user: ", "must not contain"},
    {FEED "    auth: {type: basic, user: u, password: p, password_env: P}\n", "t.conf:4: feeds[0].auth.password_env: ",
     "not both"},
    {FEED "    auth: {type: basic, user: u}\n", "t.conf:4: feeds[0].auth: ",
     "missing required key 'password' or 'password_env'"},
    /* listen */
    {"listen: 8080\n", "t.conf:1: listen: ", "expected host:port, [v6]:port or :port, got '8080'"},
    {"listen: ':0'\n", "t.conf:1: listen: ", "port must be a number from 1 to 65535, got ':0'"},
    {"listen: ':65536'\n", "t.conf:1: listen: ", "port must be a number from 1 to 65535"},
    {"listen: 'h:80x'\n", "t.conf:1: listen: ", "port must be a number from 1 to 65535"},
    {"listen: '::1:80'\n", "t.conf:1: listen: ", "an IPv6 address must be in brackets"},
    {"listen: '[zz::1]:80'\n", "t.conf:1: listen: ", "invalid IPv6 address"},
    {"listen: '[::1]80'\n", "t.conf:1: listen: ", "expected host:port"},
    {"listen: 'a b:80'\n", "t.conf:1: listen: ", "invalid host name"},
    {"listen:\n  - ':80'\n  - {a: b}\n", "t.conf:3: listen[1]: ", "got a mapping"},
    {"listen:\n  - ':80'\n  - ':80'\n", "t.conf:3: listen[1]: ", "duplicate address ':80'"},
    {"listen: []\n", "t.conf:1: listen: ", "expected at least one address"},
    /* tls and cors */
    {"tls:\n  cert: a.pem\n", "t.conf:2: tls: ", "missing required key 'key'"},
    {"tls: {key: k.pem}\n", "t.conf:1: tls: ", "missing required key 'cert'"},
    {"tls: yes\n", "t.conf:1: tls: ", "expected a mapping, got 'yes'"},
    {"cors_origins: '*'\n", "t.conf:1: cors_origins: ", "expected a list of origins, got '*'"},
    {"cors_origins:\n  - https://ok.example\n  - example.org\n", "t.conf:3: cors_origins[1]: ",
     "expected an origin like https://example.org or \"*\", got 'example.org'"},
    {"cors_origins: ['https://a.example/path']\n", "t.conf:1: cors_origins[0]: ", "expected an origin"},
    {"cors_origins: [[a]]\n", "t.conf:1: cors_origins[0]: ", "got a list"},
    /* headers */
    {FEED "    headers:\n      Bad Name: x\n", "t.conf:5: feeds[0].headers.Bad Name: ", "invalid header name"},
    {FEED "    headers:\n      'X:Y': x\n", "t.conf:5: feeds[0].headers.X:Y: ", "invalid header name"},
    {FEED "    headers:\n      X-Ok: \"a\\r\\nInjected: 1\"\n", "t.conf:5: feeds[0].headers.X-Ok: ",
     "must not contain CR, LF"},
    {FEED "    headers:\n      X-Ok: [a]\n", "t.conf:5: feeds[0].headers.X-Ok: ", "expected a string, got a list"},
    {FEED "    headers:\n      Accept: a\n      accept: b\n", "t.conf:6: feeds[0].headers.accept: ",
     "duplicate header 'Accept'"},
    {FEED "    headers:\n      X: a\n      X: b\n", "t.conf:6: feeds[0].headers.X: ", "duplicate key (first at line 5)"},
    {FEED "    headers: [a]\n", "t.conf:4: feeds[0].headers: ", "expected a mapping of header names to values"},
    /* auth */
    {"auth:\n  foo: 1\n", "t.conf:2: auth.foo: ", "unknown key"},
    {"auth: {}\n", "t.conf:1: auth: ", "no credentials configured: give 'clients' or 'jwt'"},
    {"auth:\n  trusted_proxies: [10.0.0.0/8]\n", "t.conf:2: auth: ", "no credentials configured"},
    {"auth:\n  clients: []\n", "t.conf:2: auth: ", "no credentials configured"},
    {"auth: yes\n", "t.conf:1: auth: ", "expected a mapping, got 'yes'"},
    {"auth:\n  clients: {id: a}\n", "t.conf:2: auth.clients: ", "expected a list of clients, got a mapping"},
    {AUTH "    - {id: a}\n", "t.conf:3: auth.clients[0]: ",
     "no credentials: give 'hawk_key', 'hawk_key_env', 'token' or 'token_env'"},
    {AUTH "    - {hawk_key: k}\n", "t.conf:3: auth.clients[0]: ", "missing required key 'id'"},
    {AUTH "    - {id: a, hawk_key: k, secret: s}\n", "t.conf:3: auth.clients[0].secret: ", "unknown key"},
    {AUTH "    - {id: a, hawk_key: k}\n    - {id: b, hawk_key: k}\n    - id: a\n      token: " TOK "\n",
     "t.conf:5: auth.clients[2].id: ", "duplicate client id 'a' (first at line 3)"},
    {AUTH "    - {id: a, hawk_key: k, hawk_key_env: K}\n", "t.conf:3: auth.clients[0].hawk_key_env: ",
     "give either 'hawk_key' or 'hawk_key_env', not both"},
    {AUTH "    - {id: a, token: " TOK ", token_env: T}\n", "t.conf:3: auth.clients[0].token_env: ", "not both"},
    {AUTH "    - {id: a, hawk_key_env: AS_TEST_SURELY_UNSET_VAR}\n", "t.conf:3: auth.clients[0].hawk_key_env: ",
     "environment variable 'AS_TEST_SURELY_UNSET_VAR' is not set"},
    {AUTH "    - {id: a, token: 'a token with spaces in it'}\n", "t.conf:3: auth.clients[0].token: ",
     "must consist of A-Z a-z 0-9"},
    {AUTH "    - {id: a, token: 'abcdefghijklmnop=q'}\n", "t.conf:3: auth.clients[0].token: ", "must consist of"},
    {AUTH "    - {id: 'a\"b', hawk_key: k}\n", "t.conf:3: auth.clients[0].id: ", "must not contain"},
    {AUTH "    - {id: '', hawk_key: k}\n", "t.conf:3: auth.clients[0].id: ", "must be 1 to 127 characters"},
    {AUTH "    - {id: a, hawk_key: k, ip_allow: [10.0.0.1/8]}\n", "t.conf:3: auth.clients[0].ip_allow[0]: ",
     "host bits are set (the block is 10.0.0.0/8), got '10.0.0.1/8'"},
    {AUTH "    - {id: a, hawk_key: k, ip_allow: [192.0.2.0/24, nonsense]}\n", "t.conf:3: auth.clients[0].ip_allow[1]: ",
     "expected an IPv4 or IPv6 address or block like 10.0.0.0/8, got 'nonsense'"},
    {AUTH "    - {id: a, hawk_key: k, ip_allow: []}\n", "t.conf:3: auth.clients[0].ip_allow: ",
     "expected at least one address or block"},
    {AUTH "    - {id: a, hawk_key: k, ip_allow: {a: b}}\n", "t.conf:3: auth.clients[0].ip_allow: ",
     "expected a list of addresses or blocks like 10.0.0.0/8, got a mapping"},
    {"auth:\n  trusted_proxies: ['2001:db8::/129']\n  clients: [{id: a, hawk_key: k}]\n",
     "t.conf:2: auth.trusted_proxies[0]: ", "from 0 to 128, got '2001:db8::/129'"},
    {AUTH "    - {id: a, hawk_key: k, allow: [stream, admin]}\n", "t.conf:3: auth.clients[0].allow[1]: ",
     "expected stream, search, feeds, metrics or replicate, got 'admin'"},
    {AUTH "    - {id: a, hawk_key: k, allow: [stream, stream]}\n", "t.conf:3: auth.clients[0].allow[1]: ",
     "duplicate permission 'stream'"},
    {AUTH "    - {id: a, hawk_key: k, allow: []}\n", "t.conf:3: auth.clients[0].allow: ",
     "expected at least one of stream, search, feeds, metrics, replicate"},
    {AUTH "    - {id: a, hawk_key: k, scope: {\"bogus\": {}}}\n", "t.conf:3: auth.clients[0].scope: ",
     "not a valid query: query: unknown query type 'bogus'"},
    {AUTH "    - id: a\n      hawk_key: k\n      scope:\n        range:\n          published: {gtx: now}\n",
     "t.conf:6: auth.clients[0].scope: ", "not a valid query: query.range.published: unknown key 'gtx'"},
    {AUTH "    - {id: a, hawk_key: k, scope: match_all}\n", "t.conf:3: auth.clients[0].scope: ",
     "expected a query such as {\"term\": {\"feed\": \"crm\"}}, got 'match_all'"},
    {AUTH "    - {id: a, hawk_key: k, scope: {\"term\": {\"type\": \"A\"}, \"term\": {}}}\n",
     "t.conf:3: auth.clients[0].scope.term: ", "duplicate key"},
    {AUTH "    - {id: a, hawk_key: k, scope: {[x]: 1}}\n", "t.conf:3: auth.clients[0].scope: ", "expected a key name"},
    {"auth:\n  jwt: {}\n", "t.conf:2: auth.jwt: ",
     "missing required key 'hs256_secret', 'hs256_secret_env' or 'public_key_file'"},
    {"auth:\n  jwt: {issuer: x, audience: y}\n", "t.conf:2: auth.jwt: ", "missing required key"},
    {"auth:\n  jwt: {hs256_secret: x, hs256_secret_env: Y}\n", "t.conf:2: auth.jwt.hs256_secret_env: ", "not both"},
    {"auth:\n  jwt: {alg: HS256}\n", "t.conf:2: auth.jwt.alg: ", "unknown key"},
    {"auth:\n  jwt: {hs256_secret: 0123456789abcdef0123456789abcdef, leeway: 10m}\n", "t.conf:2: auth.jwt.leeway: ",
     "must be at most 5m, got '10m'"},
    {"auth:\n  jwt: {hs256_secret: 0123456789abcdef0123456789abcdef, leeway: 1500ms}\n", "t.conf:2: auth.jwt.leeway: ",
     "must be whole seconds"},
    {"auth:\n  jwt: {hs256_secret: 0123456789abcdef0123456789abcdef, leeway: soon}\n", "t.conf:2: auth.jwt.leeway: ",
     "expected a duration like 0s or 30s, got 'soon'"},
    {"auth:\n  jwt:\n    public_key_file: /nonexistent/key.pem\n", "t.conf:3: auth.jwt.public_key_file: ",
     "cannot read '/nonexistent/key.pem': No such file or directory"},
    {"auth:\n  jwt:\n    public_key_file: conf/activity-stream.conf\n", "t.conf:3: auth.jwt.public_key_file: ",
     "not a PEM public key"},
    {"auth:\n  jwt:\n    public_key_file: conf\n", "t.conf:3: auth.jwt.public_key_file: ", "Is a directory"},
    /* YAML itself */
    {"data_dir: a\nthreads: [1\n", "t.conf:3: ", "YAML syntax error"},
    {"data_dir: \"a\\0b\"\n", "t.conf:1: data_dir: ", "contains a NUL character"},
    {"data_dir: a\n---\ndata_dir: b\n", "t.conf:3: ", "only one YAML document is allowed"},
    {"data_dir: a\n\n\xff\xfe: 1\n", "t.conf:3: ", "invalid input"},
    {"data_dir: *nope\n", "t.conf:1: ", "YAML syntax error: found undefined alias"},
};

static void check_error(const error_case_t *ec)
{
    config_t cfg;
    char err[512] = "";
    int rc = config_load_string(ec->yaml, "t.conf", &cfg, err, sizeof err);
    cr_assert_eq(rc, -1, "accepted: %s", ec->yaml);
    cr_assert(strncmp(err, ec->where, strlen(ec->where)) == 0, "expected '%s...', got '%s'", ec->where, err);
    cr_assert(strstr(err, ec->problem) != NULL, "expected '%s' in '%s'", ec->problem, err);
    cr_assert_null(strchr(err, '\n'), "not one line: %s", err);
    assert_zeroed(&cfg);
}

Test(config, errors_name_file_line_and_key)
{
    unsetenv("AS_TEST_SURELY_UNSET_VAR");
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        check_error(&errors[i]);
}

Test(config, syntax_error_reports_libyaml_line_and_problem)
{
    config_t cfg;
    char err[512] = "";
    cr_assert_eq(config_load_string("listen: :1\nfeeds:\n  - id: a\n   url: b\n", "s.conf", &cfg, err,
                                    sizeof err), -1);
    cr_assert(strncmp(err, "s.conf:4: YAML syntax error: ", 29) == 0, "%s", err);
    assert_zeroed(&cfg);
}

Test(config, empty_env_secret_is_an_error)
{
    setenv("T_EMPTY", "", 1);
    check_error(&(error_case_t){FEED "    auth: {type: bearer, token_env: T_EMPTY}\n",
                                "t.conf:4: feeds[0].auth.token_env: ", "environment variable 'T_EMPTY' is empty"});
}

Test(config, long_values_are_cut_in_messages)
{
    char yaml[2048], err[256];
    config_t cfg;
    memset(yaml, 0, sizeof yaml);
    strcpy(yaml, "threads: ");
    memset(yaml + 9, '7', 1000);
    strcat(yaml, "\n");
    cr_assert_eq(config_load_string(yaml, "t.conf", &cfg, err, sizeof err), -1);
    cr_assert(strstr(err, "t.conf:1: threads: expected an integer") == err, "%s", err);
    cr_assert(strstr(err, "...'"), "%s", err);
    assert_zeroed(&cfg);
}

Test(config, small_or_null_error_buffer_is_safe)
{
    config_t cfg;
    char err[8];
    cr_assert_eq(config_load_string("threads: x\n", "t.conf", &cfg, err, sizeof err), -1);
    cr_assert_str_eq(err, "t.conf:");
    cr_assert_eq(config_load_string("threads: x\n", "t.conf", &cfg, NULL, 0), -1);
    cr_assert_eq(config_load("/nonexistent/x.conf", &cfg, NULL, 0), -1);
    assert_zeroed(&cfg);
}

/* ---- files ------------------------------------------------------------------------------- */

Test(config, missing_file_reports_path_and_strerror)
{
    config_t cfg;
    char err[512] = "";
    cr_assert_eq(config_load("conf/does-not-exist.conf", &cfg, err, sizeof err), -1);
    cr_assert_str_eq(err, "conf/does-not-exist.conf: No such file or directory");
    assert_zeroed(&cfg);
}

Test(config, directory_is_not_a_config_file)
{
    config_t cfg;
    char err[512] = "";
    cr_assert_eq(config_load("conf", &cfg, err, sizeof err), -1);
    cr_assert_str_eq(err, "conf: Is a directory");
    assert_zeroed(&cfg);
}

/* A temporary file with `text`; its path goes into `path` (PATH_MAX-sized). */
static void write_temp(char *path, const char *text, size_t len)
{
    strcpy(path, "/tmp/test_config_XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
}

Test(config, file_errors_use_the_file_name)
{
    char path[64], err[512] = "", want[128];
    config_t cfg;
    write_temp(path, "data_dir: ./d\n\nthreads: soon\n", 29);
    cr_assert_eq(config_load(path, &cfg, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:3: threads: expected an integer from 1 to 256, got 'soon'", path);
    cr_assert_str_eq(err, want);
    assert_zeroed(&cfg);
    unlink(path);
}

Test(config, unreadable_file_reports_strerror)
{
    char path[64], err[512] = "", want[128];
    config_t cfg;
    write_temp(path, "threads: 2\n", 11);
    chmod(path, 0);
    if (access(path, R_OK) == 0) {    /* root reads anything: nothing to test */
        unlink(path);
        cr_skip_test("running as root");
    }
    cr_assert_eq(config_load(path, &cfg, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: Permission denied", path);
    cr_assert_str_eq(err, want);
    assert_zeroed(&cfg);
    unlink(path);
}

Test(config, oversized_file_is_refused)
{
    char path[64], err[512] = "";
    config_t cfg;
    size_t len = (1u << 20) + 10;
    char *big = malloc(len);
    cr_assert_not_null(big);
    memset(big, '#', len);
    big[len - 1] = '\n';
    write_temp(path, big, len);
    free(big);
    cr_assert_eq(config_load(path, &cfg, err, sizeof err), -1);
    cr_assert(strstr(err, "larger than 1 MiB"), "%s", err);
    assert_zeroed(&cfg);
    unlink(path);
}

Test(config, file_of_many_chunks_loads)
{
    /* longer than the first read buffer, so the reader grows it */
    char path[64], err[512] = "";
    config_t cfg;
    size_t len = 20000;
    char *text = malloc(len + 32);
    cr_assert_not_null(text);
    memset(text, '#', len);
    for (size_t i = 79; i < len; i += 80)
        text[i] = '\n';
    strcpy(text + len, "\nthreads: 3\n");
    write_temp(path, text, strlen(text));
    free(text);
    cr_assert_eq(config_load(path, &cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cfg.threads, 3);
    config_free(&cfg);
    unlink(path);
}

/* ---- auth -------------------------------------------------------------------------------- */

/* Set the environment variables of a NULL-terminated name, value, name, value... list. */
static void setenvs(const char *const *kv)
{
    for (; *kv; kv += 2)
        setenv(kv[0], kv[1], 1);
}

Test(config, auth_block_of_the_issue_loads)
{
    static const char *const env[] = {"T_DATAHUB_HAWK_KEY", "hawk-secret", "T_REPORTING_TOKEN",
                                      "reporting-token-0123456789", "T_JWT_SECRET",
                                      "0123456789abcdef0123456789abcdef", NULL};
    setenvs(env);
    config_t cfg;
    load_ok("auth:\n"
            "  trusted_proxies: [10.0.0.0/8, \"::1/128\"]\n"
            "  clients:\n"
            "    - id: datahub-search\n"
            "      hawk_key_env: T_DATAHUB_HAWK_KEY\n"
            "      ip_allow: [192.0.2.0/24, \"2001:db8::/32\"]\n"
            "      scope: {\"terms\": {\"feed\": [\"crm\", \"events\"]}}\n"
            "      allow: [stream, search]\n"
            "    - id: reporting\n"
            "      token_env: T_REPORTING_TOKEN\n"
            "      scope: {\"bool\": {\"filter\": [{\"term\": {\"feed\": \"crm\"}}, {\"term\": {\"type\": \"Create\"}}]}}\n"
            "  jwt:\n"
            "    hs256_secret_env: T_JWT_SECRET\n"
            "    issuer: https://auth.example.org\n"
            "    audience: activity-stream\n",
            &cfg);
    const config_access_t *a = &cfg.auth;
    cr_assert(a->enabled);
    cr_assert_eq(a->ntrusted_proxies, 2);
    cr_assert_eq(a->trusted_proxies[0].prefix, 8);
    cr_assert_eq(a->nclients, 2);
    cr_assert_str_eq(a->clients[0].hawk_key, "hawk-secret");
    cr_assert_eq(a->clients[0].nip_allow, 2);
    cr_assert_eq(a->clients[0].ip_allow[1].prefix, 32);
    cr_assert_eq(a->clients[0].allow, AUTH_ALLOW_STREAM | AUTH_ALLOW_SEARCH);
    cr_assert_str_eq(a->clients[1].token, "reporting-token-0123456789");
    cr_assert_null(a->clients[1].hawk_key);
    cr_assert_eq(a->clients[1].allow, AUTH_ALLOW_DEFAULT, "default allow");
    cr_assert_eq(a->clients[1].nip_allow, 0);
    cr_assert_str_eq(a->jwt_hs256_secret, "0123456789abcdef0123456789abcdef");
    cr_assert_null(a->jwt_public_key_file);
    cr_assert_str_eq(a->jwt_issuer, "https://auth.example.org");
    config_free(&cfg);
    cr_assert_not(cfg.auth.enabled);
}

Test(config, auth_client_defaults_and_single_values)
{
    config_t cfg;
    load_ok("auth:\n  trusted_proxies: 10.1.2.3\n  clients:\n"
            "    - {id: a, hawk_key: k, token: " TOK ", ip_allow: '::1', allow: metrics}\n"
            "    - {id: b, token: 'AbC-._~+/0123456789=='}\n",
            &cfg);
    cr_assert_eq(cfg.auth.ntrusted_proxies, 1);
    cr_assert_eq(cfg.auth.trusted_proxies[0].prefix, 32);
    cr_assert_str_eq(cfg.auth.clients[0].hawk_key, "k");
    cr_assert_str_eq(cfg.auth.clients[0].token, TOK);
    cr_assert_eq(cfg.auth.clients[0].nip_allow, 1);
    cr_assert_eq(cfg.auth.clients[0].allow, AUTH_ALLOW_METRICS);
    cr_assert_null(cfg.auth.clients[0].scope, "no scope: everything");
    cr_assert_str_eq(cfg.auth.clients[1].token, "AbC-._~+/0123456789==");
    config_free(&cfg);
}

/* The scope of the only client of `yaml`, as stored. */
static char *scope_of(const char *yaml)
{
    config_t cfg;
    load_ok(yaml, &cfg);
    char *s = strdup(cfg.auth.clients[0].scope);
    config_free(&cfg);
    return s;
}

Test(config, auth_scope_json_and_block_yaml_agree)
{
    char *flow = scope_of("auth:\n  clients:\n    - id: a\n      hawk_key: k\n      scope: "
                          "{\"bool\": {\"filter\": [{\"term\": {\"feed\": \"crm\"}}, "
                          "{\"range\": {\"n\": {\"gte\": 5, \"lt\": 7.5}}}, {\"term\": {\"flag\": true}}, "
                          "{\"term\": {\"code\": \"5\"}}]}}\n");
    char *block = scope_of("auth:\n  clients:\n    - id: a\n      hawk_key: k\n      scope:\n"
                           "        bool:\n"
                           "          filter:\n"
                           "            - term:\n"
                           "                feed: crm\n"
                           "            - range: {n: {gte: 5, lt: 7.5}}\n"
                           "            - term: {flag: true}\n"
                           "            - term: {code: '5'}\n");
    const char *want = "{\"bool\":{\"filter\":[{\"term\":{\"feed\":\"crm\"}},{\"range\":{\"n\":{\"gte\":5,\"lt\":7.5}}},"
                       "{\"term\":{\"flag\":true}},{\"term\":{\"code\":\"5\"}}]}}";
    cr_assert_str_eq(flow, want);
    cr_assert_str_eq(block, want);
    free(flow);
    free(block);
    char *dates = scope_of("auth:\n  clients:\n    - id: a\n      hawk_key: k\n      scope:\n"
                           "        range: {published: {gte: now-30d/d, lt: 2024-01-01}}\n");
    cr_assert_str_eq(dates, "{\"range\":{\"published\":{\"gte\":\"now-30d/d\",\"lt\":\"2024-01-01\"}}}");
    free(dates);
}

Test(config, auth_scope_size_is_bounded)
{
    char yaml[4096], err[512] = "";
    config_t cfg;
    int n = snprintf(yaml, sizeof yaml, "auth:\n  clients:\n    - id: a\n      hawk_key: k\n      scope: ");
    for (int i = 0; i < 70; i++)
        n += snprintf(yaml + n, sizeof yaml - n, "{\"bool\": {\"must\": ");
    n += snprintf(yaml + n, sizeof yaml - n, "{}");
    for (int i = 0; i < 70; i++)
        n += snprintf(yaml + n, sizeof yaml - n, "}}");
    snprintf(yaml + n, sizeof yaml - n, "\n");
    cr_assert_eq(config_load_string(yaml, "t.conf", &cfg, err, sizeof err), -1);
    cr_assert(strstr(err, "nested too deeply"), "%s", err);
    assert_zeroed(&cfg);
}

/* Aliases: five levels of ten references would be 100,000 nodes from a few lines. */
Test(config, auth_scope_alias_bomb_stops_at_the_budget)
{
    char err[512] = "";
    config_t cfg;
    const char *bomb = "auth:\n  clients:\n    - id: a\n      hawk_key: k\n      scope:\n"
                       "        terms:\n"
                       "          feed: [&a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a],"
                       " &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b], &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c],"
                       " [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]]\n";
    cr_assert_eq(config_load_string(bomb, "t.conf", &cfg, err, sizeof err), -1);
    cr_assert(strstr(err, "t.conf:") == err && strstr(err, "auth.clients[0].scope.terms.feed"), "%s", err);
    cr_assert(strstr(err, "too large"), "%s", err);
    assert_zeroed(&cfg);
}

static void check_key_file(const char *pem, const char *problem)
{
    char *path = jwtfx_temp_file(pem), yaml[512], err[512] = "";
    config_t cfg;
    snprintf(yaml, sizeof yaml, "auth:\n  jwt:\n    public_key_file: %s\n", path);
    int rc = config_load_string(yaml, "t.conf", &cfg, err, sizeof err);
    if (!problem) {
        cr_assert_eq(rc, 0, "%s", err);
        cr_assert_str_eq(cfg.auth.jwt_public_key_file, path);
        cr_assert_str_eq(cfg.auth.jwt_public_key_pem, pem);
        config_free(&cfg);
    } else {
        cr_assert_eq(rc, -1);
        cr_assert(strstr(err, "t.conf:3: auth.jwt.public_key_file: ") == err, "%s", err);
        cr_assert(strstr(err, problem), "'%s' lacks '%s'", err, problem);
        assert_zeroed(&cfg);
    }
    unlink(path);
    free(path);
}

Test(config, auth_jwt_public_key_files)
{
    EVP_PKEY *rsa = jwtfx_rsa_key(2048), *ec = jwtfx_ec_key("P-256"), *weak = jwtfx_rsa_key(1024);
    char *rsa_pem = jwtfx_public_pem(rsa), *ec_pem = jwtfx_public_pem(ec), *weak_pem = jwtfx_public_pem(weak);
    char *priv = jwtfx_private_pem(ec);
    check_key_file(rsa_pem, NULL);
    check_key_file(ec_pem, NULL);
    check_key_file(weak_pem, "the RSA key has 1024 bits; at least 2048 are required");
    check_key_file(priv, "this is a private key");
    check_key_file("", "not a PEM public key");
    check_key_file("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a PEM public key");
    free(rsa_pem);
    free(ec_pem);
    free(weak_pem);
    free(priv);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(weak);
}

Test(config, auth_secrets_are_never_echoed)
{
    config_t cfg;
    char err[512] = "";
    setenv("T_BAD_TOKEN", "sekrit with spaces", 1);
    cr_assert_eq(config_load_string("auth:\n  clients:\n    - {id: a, token_env: T_BAD_TOKEN}\n",
                                    "t.conf", &cfg, err, sizeof err), -1);
    cr_assert(strstr(err, "t.conf:3: auth.clients[0].token_env: ") == err, "%s", err);
    cr_assert_null(strstr(err, "sekrit"), "%s", err);
    assert_zeroed(&cfg);
}

/* A short static token or HS256 secret is a warning, not a refusal (tests and closed networks
 * use them); neither warning shows the secret. */
Test(config, short_secrets_are_warnings)
{
    config_t cfg;
    config_report_t rep;
    setenv("T_SHORT_TOKEN", "sekrit", 1);
    cr_assert_eq(config_load_string_ex("auth:\n  clients:\n    - {id: a, token_env: T_SHORT_TOKEN}\n"
                                       "  jwt: {hs256_secret: sekrit-but-short}\n", "t.conf", 0, &cfg, &rep), 0,
                 "%s", rep.errors.p);
    cr_assert_eq(rep.nwarnings, 2, "%s", rep.warnings.p);
    cr_assert(strstr(rep.warnings.p, "t.conf:3: auth.clients[0].token_env: warning: a token shorter than 16 "
                     "characters can be guessed"), "%s", rep.warnings.p);
    cr_assert(strstr(rep.warnings.p, "t.conf:4: auth.jwt.hs256_secret: warning: an HS256 secret shorter than 32 "
                     "bytes can be guessed"), "%s", rep.warnings.p);
    cr_assert_null(strstr(rep.warnings.p, "sekrit"), "%s", rep.warnings.p);
    cr_assert_str_eq(cfg.auth.jwt_hs256_secret, "sekrit-but-short");
    config_free(&cfg);
    config_report_free(&rep);
}

/* ---- several problems, suggestions, warnings, files ---------------------------------------- */

/* Load with flags; the caller frees the report. */
static int load_ex(const char *yaml, unsigned flags, config_t *cfg, config_report_t *rep)
{
    int rc = config_load_string_ex(yaml, "t.conf", flags, cfg, rep);
    if (rc == 0)
        config_free(cfg);
    else
        assert_zeroed(cfg);
    return rc;
}

/* Each of want[] is somewhere in the report's problems, and there are n of them. */
static void expect_errors(const config_report_t *rep, const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(strstr(rep->errors.p, want[i]), "lacks '%s' in:\n%s", want[i], rep->errors.p);
    cr_assert_eq(rep->nerrors, n, "%s", rep->errors.p);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

Test(config, several_mistakes_are_reported_together)
{
    config_t cfg;
    config_report_t rep;
    const char *yaml = "threads: many\n"                       /* 1 */
                       "poll_intervl: 2s\n"                    /* 2 */
                       "feeds:\n"
                       "  - id: a\n"
                       "    url: ftp://h/\n"                   /* 5 */
                       "  - id: b\n"                           /* 6: no url */
                       "    poll_interval: soon\n"             /* 7 */
                       "  - id: a\n"                           /* 8: duplicate */
                       "    url: http://h/\n"
                       "retry: 0s\n";                          /* 10 */
    cr_assert_eq(load_ex(yaml, 0, &cfg, &rep), -1);
    const char *want[] = {
        "t.conf:1: threads: expected an integer from 1 to 256, got 'many'\n",
        "t.conf:2: poll_intervl: unknown key, did you mean poll_interval?\n",
        "t.conf:5: feeds[0].url: expected a URL starting with http:// or https://",
        "t.conf:7: feeds[1].poll_interval: expected a duration",
        "t.conf:6: feeds[1]: missing required key 'url'\n",
        "t.conf:8: feeds[2].id: duplicate feed id 'a' (first at line 4)\n",
        "t.conf:10: retry: must be greater than 0",
    };
    expect_errors(&rep, want, sizeof want / sizeof want[0]);
    cr_assert_eq(count_lines(rep.errors.p), 7);
    config_report_free(&rep);
    /* config_load_string gives the same lines, joined */
    char err[2048];
    cr_assert_eq(config_load_string(yaml, "t.conf", &cfg, err, sizeof err), -1);
    cr_assert_eq(count_lines(err), 6, "%s", err);
    cr_assert(strstr(err, "did you mean poll_interval?"), "%s", err);
}

Test(config, unknown_keys_suggest_the_nearest_known_key)
{
    static const struct { const char *yaml, *line; } cases[] = {
        {"data-dir: x\n", "t.conf:1: data-dir: unknown key, did you mean data_dir?"},
        {"Threads: 2\n", "t.conf:1: Threads: unknown key, did you mean threads?"},
        {"heartbeat_intreval: 1s\n", "did you mean heartbeat_interval?"},
        {FEED "    full_sync: 1m\n", "t.conf:4: feeds[0].full_sync: unknown key, did you mean"},
        {FEED "    stlye: outbox\n", "feeds[0].stlye: unknown key, did you mean style?"},
        {"tls: {cert: a, kye: b}\n", "tls.kye: unknown key, did you mean key?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config_t cfg;
        char err[512];
        cr_assert_eq(config_load_string(cases[i].yaml, "t.conf", &cfg, err, sizeof err), -1);
        cr_assert(strstr(err, cases[i].line), "'%s' lacks '%s'", err, cases[i].line);
    }
    config_t cfg;
    char err[512];
    cr_assert_eq(config_load_string("polling: 1s\n", "t.conf", &cfg, err, sizeof err), -1);
    cr_assert_str_eq(err, "t.conf:1: polling: unknown key");
}

Test(config, problems_beyond_the_limit_are_counted)
{
    char yaml[2048] = "";
    for (int i = 0; i < CONFIG_MAX_ERRORS + 5; i++)
        snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml), "bogus%d: 1\n", i);
    config_t cfg;
    config_report_t rep;
    cr_assert_eq(load_ex(yaml, 0, &cfg, &rep), -1);
    cr_assert_eq(rep.nerrors, CONFIG_MAX_ERRORS + 5);
    cr_assert_eq(count_lines(rep.errors.p), CONFIG_MAX_ERRORS + 1);
    cr_assert(strstr(rep.errors.p, "t.conf: 5 more problems not listed\n"), "%s", rep.errors.p);
    config_report_free(&rep);
}

Test(config, unset_env_variables_are_warnings_when_asked)
{
    config_t cfg;
    config_report_t rep;
    unsetenv("AS_TEST_UNSET_A");
    setenv("AS_TEST_EMPTY_B", "", 1);
    const char *yaml = FEED "    auth: {type: hawk, id: i, key_env: AS_TEST_UNSET_A}\n"
                       "  - id: b\n    url: http://h/\n    auth: {type: bearer, token_env: AS_TEST_EMPTY_B}\n"
                       "auth:\n  clients:\n    - {id: c, token_env: AS_TEST_UNSET_A}\n"
                       "  jwt: {hs256_secret_env: AS_TEST_UNSET_A}\n";
    cr_assert_eq(load_ex(yaml, CONFIG_ENV_WARNINGS, &cfg, &rep), 0, "%s", rep.errors.p);
    cr_assert_eq(rep.nwarnings, 4, "%s", rep.warnings.p);
    cr_assert(strstr(rep.warnings.p, "t.conf:4: feeds[0].auth.key_env: warning: environment variable "
                                     "'AS_TEST_UNSET_A' is not set"), "%s", rep.warnings.p);
    cr_assert(strstr(rep.warnings.p, "feeds[1].auth.token_env: warning: environment variable 'AS_TEST_EMPTY_B' "
                                     "is empty"), "%s", rep.warnings.p);
    config_report_free(&rep);
    /* without the flag each one is a problem */
    cr_assert_eq(load_ex(yaml, 0, &cfg, &rep), -1);
    cr_assert_eq(rep.nerrors, 4, "%s", rep.errors.p);
    cr_assert_eq(rep.nwarnings, 0);
    config_report_free(&rep);
    /* other problems stay problems */
    cr_assert_eq(load_ex("threads: 0\n", CONFIG_ENV_WARNINGS, &cfg, &rep), -1);
    config_report_free(&rep);
}

/* A temporary directory with a certificate, a key and a text file; the cwd moves into it. */
static void files_dir(char *dir)
{
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(chdir(dir), 0);
    FILE *f = fopen("cert.pem", "w");
    fputs(PEMFX_CERT, f);
    fclose(f);
    f = fopen("key.pem", "w");
    fputs(PEMFX_KEY, f);
    fclose(f);
    f = fopen("text.txt", "w");
    fputs("not pem\n", f);
    fclose(f);
    mkdir("web", 0755);
}

Test(config, named_files_are_checked_with_their_cause)
{
    char dir[] = "/tmp/test_config.XXXXXX";
    files_dir(dir);
    config_t cfg;
    config_report_t rep;
    const char *good = "tls: {cert: cert.pem, key: key.pem}\nca_file: cert.pem\ndata_dir: data\nweb_root: web\n"
                       FEED "    ca_file: cert.pem\n";
    cr_assert_eq(load_ex(good, CONFIG_CHECK_FILES, &cfg, &rep), 0, "%s", rep.errors.p);
    config_report_free(&rep);
    const char *bad = "tls: {cert: none.crt, key: cert.pem}\n"   /* 1 */
                      "ca_file: text.txt\n"                      /* 2 */
                      "data_dir: text.txt/data\n"               /* 3 */
                      "web_root: www\n"                          /* 4 */
                      "feeds:\n  - id: a\n    url: http://h/\n    ca_file: web\n";   /* 8 */
    cr_assert_eq(load_ex(bad, CONFIG_CHECK_FILES, &cfg, &rep), -1);
    const char *want[] = {
        "t.conf:1: tls.cert: 'none.crt': No such file or directory\n",
        "t.conf:1: tls.key: 'cert.pem': not a PEM private key",
        "t.conf:2: ca_file: 'text.txt': not a PEM certificate",
        "t.conf:3: data_dir: 'text.txt/data': Not a directory\n",
        "t.conf:4: web_root: 'www': No such file or directory\n",
        "t.conf:8: feeds[0].ca_file: 'web': Is a directory\n",
    };
    expect_errors(&rep, want, sizeof want / sizeof want[0]);
    config_report_free(&rep);
    /* without the flag, files are not looked at */
    cr_assert_eq(load_ex(bad, 0, &cfg, &rep), 0, "%s", rep.errors.p);
    config_report_free(&rep);
}

Test(config, default_directories_are_checked_too)
{
    char dir[] = "/tmp/test_config.XXXXXX";
    files_dir(dir);
    config_t cfg;
    config_report_t rep;
    cr_assert_eq(load_ex("", CONFIG_CHECK_FILES, &cfg, &rep), 0, "%s", rep.errors.p);   /* ./web is there */
    config_report_free(&rep);
    rmdir("web");
    cr_assert_eq(load_ex("threads: 1\n", CONFIG_CHECK_FILES, &cfg, &rep), -1);
    cr_assert_str_eq(rep.errors.p, "t.conf: web_root: './web' (the default): No such file or directory\n");
    config_report_free(&rep);
}

Test(config, replica_keys)
{
    config_t cfg;
    load_ok("replicate_from: http://primary:8080\nreplicate_auth: {type: bearer, token: abcdefghijklmnop}\n"
            "max_replica_lag: 2s\n", &cfg);
    cr_assert_str_eq(cfg.replicate_from, "http://primary:8080");
    cr_assert_eq(cfg.replicate_auth.type, AUTH_BEARER);
    cr_assert_eq(cfg.max_replica_lag_ms, 2000);
    config_free(&cfg);
    load_ok("feeds: []\n", &cfg);
    cr_assert_null(cfg.replicate_from);
    cr_assert_eq(cfg.max_replica_lag_ms, 5000, "default 5s");
    config_free(&cfg);
}
