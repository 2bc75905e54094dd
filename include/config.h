/* config.h -- the server's YAML configuration (libyaml), validated strictly: unknown keys
 * (with the nearest known key suggested), wrong types, missing required keys and duplicate feed
 * ids are errors that name the file, line and key; every problem of a file is reported, not
 * only the first; the files it names can be checked too (config_load_ex). Durations take
 * ms/s/m/h/d; sizes take B/KiB/MiB/GiB. Secrets may come from environment variables named in
 * the file (key_env, token_env, password_env).
 *
 * Top-level keys (defaults):
 *   listen: 127.0.0.1:8080 (a string or a list; "host:port", "[v6]:port" or ":port")
 *   data_dir: ./data          map_size: 64GiB          threads: number of cores
 *   poll_interval: 1s (live bookmark poll)            heartbeat_interval: 15s
 *   retry: 3s (SSE retry hint)  write_timeout: 60s    max_streams: 10000
 *   max_streams_per_client: 0 (no limit; a client is its address, or its id once authenticated)
 *   max_search_contexts: 32 (open Elasticsearch points in time and scrolls, 1-1024)
 *   version_retention: 24h (0s allowed: not kept)     tombstone_retention: 30d
 *   replicate_from: URL of the primary (a replica; no feeds then)   max_replica_lag: 5s
 *   replicate_auth: as a feed's auth (how the replica authenticates to the primary)
 *   cors_origins: []           web_root: ./web        ca_file: (system bundle)
 *   tls: {cert: FILE, key: FILE}   (optional)
 *   feeds: [...]  (see config_feed_t; may be empty)
 *   auth: {...}   (see config_access_t; absent: no client authentication)
 * Feed keys: id, url (required); style: activity-stream|outbox; poll_interval: 1s;
 *   full_sync_interval: 10m; timeout: 30s; connect_timeout: 10s; max_page_size: 64MiB;
 *   ca_file; auth: {type: hawk, id, key|key_env} | {type: bearer, token|token_env}
 *   | {type: basic, user, password|password_env}; headers: {Name: value}.
 * auth keys: trusted_proxies: [CIDR...]; clients: [{id, hawk_key|hawk_key_env,
 *   token|token_env (at least one of the two kinds), ip_allow: [CIDR...], scope: a query (JSON
 *   flow or block YAML), allow: [stream|search|feeds|metrics|replicate]}]; jwt: {hs256_secret |
 *   hs256_secret_env, public_key_file, issuer, audience, leeway (0s to 5m, whole seconds)}.
 *   Validation compiles every scope (query_compile) and loads the public key (jwt_verifier_new).
 */
#ifndef CONFIG_H
#define CONFIG_H
#include <stddef.h>
#include <stdint.h>

#include "bytebuf.h"
#include "netaddr.h"

typedef enum { FEED_STYLE_ACTIVITY_STREAM = 0, FEED_STYLE_OUTBOX = 1 } feed_style_t;
typedef enum { AUTH_NONE = 0, AUTH_HAWK, AUTH_BEARER, AUTH_BASIC } auth_type_t;

typedef struct { char *name, *value; } config_header_t;

typedef struct {
    auth_type_t type;
    char *id, *key;          /* hawk; key resolved from key_env when given */
    char *token;             /* bearer */
    char *user, *password;   /* basic */
} config_auth_t;

typedef struct {
    char *id, *url;
    feed_style_t style;
    int64_t poll_interval_ms, full_sync_interval_ms, timeout_ms, connect_timeout_ms;
    uint64_t max_page_bytes;
    char *ca_file;           /* NULL: the top-level ca_file, else the system bundle */
    config_auth_t auth;
    config_header_t *headers; size_t nheaders;
} config_feed_t;

/* auth.clients[i]: one client of this server (auth.h). */
typedef struct {
    char *id;                /* unique; the Hawk credentials id and the name in logs */
    char *hawk_key;          /* NULL: no Hawk credentials (resolved from hawk_key_env) */
    char *token;             /* NULL: no static bearer token (resolved from token_env) */
    netaddr_cidr_t *ip_allow; size_t nip_allow;   /* none: any address */
    char *scope;             /* a compiled-and-checked query as compact JSON; NULL: everything */
    unsigned allow;          /* AUTH_ALLOW_* bits (auth.h); default stream and search */
} config_client_t;

/* The top-level `auth` block: who may read what. */
typedef struct {
    int enabled;             /* the file has an auth block (then clients or jwt are given) */
    netaddr_cidr_t *trusted_proxies; size_t ntrusted_proxies;
    config_client_t *clients; size_t nclients;
    char *jwt_hs256_secret;  /* NULL: HS256 tokens are refused */
    char *jwt_public_key_file;   /* NULL: RS256/ES256 tokens are refused */
    char *jwt_public_key_pem;    /* that file's contents, read and checked at load */
    char *jwt_issuer;        /* NULL: iss is not checked */
    char *jwt_audience;      /* NULL: aud is not checked */
    int64_t jwt_leeway_s;    /* clock skew allowed for exp and nbf (auth.jwt.leeway); default 0 */
} config_access_t;

typedef struct {
    char **listen; size_t nlisten;
    char *data_dir;
    uint64_t map_size;
    int threads;
    int64_t poll_interval_ms, heartbeat_interval_ms, retry_ms, write_timeout_ms;
    size_t max_streams;
    size_t max_streams_per_client;  /* 0: no limit */
    size_t max_search_contexts;     /* open points in time and scrolls (esapi.h) */
    int64_t version_retention_ms;   /* superseded versions kept this long (0: not kept) */
    int64_t tombstone_retention_ms; /* tombstones kept this long */
    char *replicate_from;           /* a replica: the primary's base URL (then no feeds) */
    config_auth_t replicate_auth;   /* how the replica authenticates to its primary */
    int64_t max_replica_lag_ms;     /* a replica lagging more answers /health 503 */
    char **cors_origins; size_t ncors_origins;
    char *web_root;
    char *ca_file;
    char *tls_cert, *tls_key;
    config_feed_t *feeds; size_t nfeeds;
    config_access_t auth;    /* the `auth` block */
    char *path;              /* the file it came from */
} config_t;

/* Fill *cfg with the defaults (no feeds); release with config_free. Returns 0, or -1 when out
 * of memory (then *cfg holds nothing that needs freeing). */
int config_defaults(config_t *cfg);

/* Load and validate `path`. Returns 0, or -1 with every problem in err, one line each
 * ("\n" between them, up to CONFIG_MAX_ERRORS, then a line saying how many more), such as
 * "conf/x.conf:12: feeds[1].poll_interval: expected a duration like 1s, got 'soon'" or
 * "conf/x.conf:3: poll_intervl: unknown key, did you mean poll_interval?". err may be NULL; it
 * is cut to errlen. Files are not looked at (config_load_ex does). On failure *cfg holds
 * nothing that needs freeing. */
int config_load(const char *path, config_t *cfg, char *err, size_t errlen);

/* Same, from a string (`name` is used in messages). */
int config_load_string(const char *yaml, const char *name, config_t *cfg, char *err, size_t errlen);

#define CONFIG_MAX_ERRORS 20   /* problems listed; more are counted */

/* Flags of config_load_ex. */
enum {
    /* Check the files and directories the config names, as the server will use them: tls.cert
     * (PEM certificates), tls.key (a PEM private key), ca_file and feeds[].ca_file (PEM
     * certificates), web_root (a readable directory) and data_dir (a writable directory, or
     * one that can be created). Relative paths are relative to the working directory. */
    CONFIG_CHECK_FILES = 1 << 0,
    /* An environment variable named by a *_env key that is unset or empty is a warning, not a
     * problem, and the secret stays NULL: for --check-config on a machine without the secrets.
     * A config loaded this way is for reporting only, never for running. */
    CONFIG_ENV_WARNINGS = 1 << 1,
};

/* What a load found: every problem and warning, one line each, each line ending in '\n'. */
typedef struct {
    bytebuf_t errors;      /* owned */
    bytebuf_t warnings;    /* owned */
    size_t nerrors;        /* problems found, also those beyond CONFIG_MAX_ERRORS not listed */
    size_t nwarnings;
} config_report_t;

/* Load and validate `path` with CONFIG_* flags. Returns 0 (warnings may have been found), or
 * -1 when there is a problem (or the file cannot be read: then one line "PATH: reason").
 * *rep is overwritten; release it with config_report_free whatever the result. On failure
 * *cfg holds nothing that needs freeing. */
int config_load_ex(const char *path, unsigned flags, config_t *cfg, config_report_t *rep);

/* Same, from a string (`name` is used in messages). */
int config_load_string_ex(const char *yaml, const char *name, unsigned flags, config_t *cfg,
                          config_report_t *rep);

void config_report_free(config_report_t *rep);   /* NULL is a no-op */

void config_free(config_t *cfg);

#endif
