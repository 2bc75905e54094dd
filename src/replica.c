/* replica.c -- a replica's replication thread (see replica.h).
 *
 * One blocking libcurl transfer at a time, on this thread: the write callback hands the body to
 * the applier (replapply.h), which commits at the primary's commit boundaries, so a replica
 * never shows half of a commit. A replica killed at any moment restarts from what it
 * committed: the entries after its head are sent again, the ones at or below it skipped.
 *
 * Identity: the primary's HELLO names its store id; a replica that followed the primary's
 * parent up to the fork (the primary checked that) takes the new identity.
 *
 * Silence: the primary sends a heartbeat every second. A replica that has received nothing for
 * DISCONNECT_S counts as disconnected at once (replica_status), and its transfer is abandoned
 * at the next progress callback (curl calls it about once a second while idle) so that it
 * reconnects; a primary frozen with its connection open is noticed like one that went away.
 * A snapshot the primary asked for is part of following it: the replica counts as connected
 * while the snapshot's bytes arrive and on into the follow stream that comes after it. */
#include "replica.h"
#include "bytebuf.h"
#include "clock.h"
#include "hawk.h"
#include "log.h"
#include "metrics.h"
#include "replapply.h"
#include "timefmt.h"
#include "version.h"
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOD "replica"
#define DISCONNECT_S 3
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct replica {
    const config_t *cfg;          /* borrowed */
    store_t *st;                  /* borrowed */
    replica_installed_fn *installed;
    void *installed_ud;
    pthread_t thread;
    int started;
    atomic_int stop;
    replapply_t *apply;           /* owned: the frames into the store */
    CURL *easy;                   /* borrowed: the transfer in progress */
    bytebuf_t in;                 /* owned: an error response's body */
    int failed;                   /* the stream is unusable (corrupt frame, store error) */
    char conflict[64];            /* the 409's reason, or "" */
    pthread_mutex_t mu;           /* guards what follows */
    char *feeds;                  /* owned: the primary's /feeds document */
    int connected;
    int64_t last_rx_us;           /* monotonic: when the follow stream last brought bytes */
    int64_t disconnected_since_us, hb_primary_us, hb_local_us, applied_primary_us;
    uint64_t reconnects, snapshots;
};

/* ---- status ---- */

/* Has the follow stream been silent for DISCONNECT_S at monotonic time now? (r->mu held) */
static int silent(const replica_t *r, int64_t now)
{
    return now - r->last_rx_us > DISCONNECT_S * 1000000LL;
}

/* The wall-clock time at which a silent stream began to count as disconnected. (r->mu held) */
static int64_t silent_since_us(const replica_t *r, int64_t now)
{
    return timefmt_now_us() - (now - r->last_rx_us - DISCONNECT_S * 1000000LL);
}

static void set_connected(replica_t *r, int connected)
{
    pthread_mutex_lock(&r->mu);
    int64_t now = clock_mono_us();
    if (r->connected && !connected)   /* since it went silent, when that came first */
        r->disconnected_since_us = silent(r, now) ? silent_since_us(r, now) : timefmt_now_us();
    if (connected) {
        r->disconnected_since_us = 0;
        r->last_rx_us = now;
    }
    r->connected = connected;
    pthread_mutex_unlock(&r->mu);
}

void replica_status(replica_t *r, replica_status_t *out)
{
    int64_t now = clock_mono_us();
    pthread_mutex_lock(&r->mu);
    out->connected = r->connected && !silent(r, now);
    out->disconnected_since_us = r->disconnected_since_us;
    if (r->connected && !out->connected)   /* silent, not yet abandoned */
        out->disconnected_since_us = silent_since_us(r, now);
    int64_t primary_now = r->hb_primary_us + (now - r->hb_local_us);
    int64_t lag = r->applied_primary_us ? primary_now - r->applied_primary_us : 0;
    out->lag_s = lag > 0 ? lag / 1e6 : 0;
    out->reconnects = r->reconnects;
    out->snapshots = r->snapshots;
    pthread_mutex_unlock(&r->mu);
    out->applied_seq = store_head(r->st);
}

char *replica_feeds_json(void *replica)
{
    replica_t *r = replica;
    pthread_mutex_lock(&r->mu);
    char *copy = strdup(r->feeds ? r->feeds : "[]");
    pthread_mutex_unlock(&r->mu);
    return copy;
}

void replica_report_metrics(metrics_out_t *out, void *replica)
{
    replica_status_t s;
    replica_status(replica, &s);
    metrics_gauge_double(out, "as_replica_lag_seconds", "How long ago, by the primary's clock, the newest frame "
                         "this replica applied was sent.", s.lag_s);
    metrics_gauge(out, "as_replica_applied_seq", "The primary's change-log seq applied here.", s.applied_seq);
    metrics_gauge(out, "as_replica_connected", "1 while frames (or a snapshot) arrive from the primary.", (uint64_t)s.connected);
    metrics_counter(out, "as_replica_reconnects_total", "Connections to the primary started again after one "
                    "ended or failed (not after a snapshot).", s.reconnects);
    metrics_counter(out, "as_replica_snapshots_total", "Snapshots of the primary installed.", s.snapshots);
}

/* ---- the applier's hooks ---- */

/* The primary's HELLO: take its identity when it is a promoted successor of ours (the primary
 * checked that our history is a prefix of its). */
static int on_hello(void *ud, const char *json, size_t len)
{
    replica_t *r = ud;
    json_t *j = json_loadb(json, len, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "store"));
    int rc = 0;
    if (!id || strlen(id) != 32) {
        rc = -1;
    } else if (strcmp(id, store_id(r->st)) != 0) {
        store_identity_t ident = {0};
        const char *parent = json_string_value(json_object_get(j, "parent"));
        for (int i = 0; i < 16; i++) {
            unsigned a, b;
            sscanf(id + 2 * i, "%1x%1x", &a, &b);
            ident.id[i] = (uint8_t)(a << 4 | b);
            if (parent && strlen(parent) == 32 && sscanf(parent + 2 * i, "%1x%1x", &a, &b) == 2)
                ident.parent[i] = (uint8_t)(a << 4 | b);
        }
        ident.fork = (uint64_t)json_integer_value(json_object_get(j, "fork"));
        log_info(MOD, "following store %s (was %s)", id, store_id(r->st));
        rc = store_adopt_identity(r->st, &ident) == 0 ? 0 : -1;
    }
    json_decref(j);
    return rc;
}

static void on_heartbeat(void *ud, int64_t primary_us, int idle)
{
    replica_t *r = ud;
    pthread_mutex_lock(&r->mu);
    r->hb_primary_us = primary_us;
    r->hb_local_us = clock_mono_us();
    if (idle)   /* everything before it is applied */
        r->applied_primary_us = primary_us;
    pthread_mutex_unlock(&r->mu);
}

static void on_feeds(void *ud, const char *json, size_t len)
{
    replica_t *r = ud;
    char *copy = strndup(json, len);
    pthread_mutex_lock(&r->mu);
    free(r->feeds);
    r->feeds = copy;
    pthread_mutex_unlock(&r->mu);
}

static void on_applied(void *ud, int64_t primary_us)
{
    replica_t *r = ud;
    pthread_mutex_lock(&r->mu);
    r->applied_primary_us = primary_us;
    pthread_mutex_unlock(&r->mu);
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    replica_t *r = ud;
    size_t bytes = size * n;
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (atomic_load(&r->stop) || r->failed)
        return 0;
    if (status != 200)   /* an error's body (a 409's JSON): kept whole, read at the end */
        return bytebuf_append(&r->in, data, bytes) < 0 ? 0 : bytes;
    set_connected(r, 1);
    if (replapply_feed(r->apply, data, bytes) < 0) {
        r->failed = 1;
        return 0;
    }
    return bytes;
}

/* ---- requests ---- */

/* The Authorization header (or basic credentials) for a GET of url, per replicate_auth. */
static struct curl_slist *auth_headers(replica_t *r, CURL *easy, const char *url)
{
    const config_auth_t *a = &r->cfg->replicate_auth;
    char line[1024];
    struct curl_slist *h = NULL;
    if (a->type == AUTH_BEARER) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", a->token);
        h = curl_slist_append(h, line);
    } else if (a->type == AUTH_HAWK) {
        char value[600];
        if (hawk_authorization(a->id, a->key, "GET", url, NULL, NULL, 0, timefmt_now_us() / 1000000, NULL, value,
                               sizeof value) > 0) {
            snprintf(line, sizeof line, "Authorization: %s", value);
            h = curl_slist_append(h, line);
        }
    } else if (a->type == AUTH_BASIC) {
        curl_easy_setopt(easy, CURLOPT_USERNAME, a->user);
        curl_easy_setopt(easy, CURLOPT_PASSWORD, a->password);
    }
    return h;
}

static CURL *new_easy(replica_t *r, const char *url, struct curl_slist **headers)
{
    CURL *easy = curl_easy_init();
    if (!easy)
        return NULL;
    *headers = auth_headers(r, easy, url);
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, *headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, AS_USER_AGENT " (replica)");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    if (r->cfg->ca_file)
        curl_easy_setopt(easy, CURLOPT_CAINFO, r->cfg->ca_file);
    return easy;
}

/* curl's progress callback on the follow stream: abandon it when the primary has been silent for
 * DISCONNECT_S (heartbeats come every second), or when the replica stops. */
static int on_follow_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    replica_t *r = ud;
    pthread_mutex_lock(&r->mu);
    int quiet = silent(r, clock_mono_us());
    pthread_mutex_unlock(&r->mu);
    if (quiet)
        log_warn(MOD, "%s: nothing received for %d s; reconnecting", r->cfg->replicate_from, DISCONNECT_S);
    return quiet || atomic_load(&r->stop);
}

/* A 409's body names why a snapshot is needed. */
static void note_conflict(replica_t *r)
{
    json_t *j = json_loadb(r->in.p ? r->in.p : "", r->in.len, 0, NULL);
    snprintf(r->conflict, sizeof r->conflict, "%s", json_string_value(json_object_get(j, "reason"))
             ? json_string_value(json_object_get(j, "reason")) : "unknown");
    json_decref(j);
}

/* Follow the primary until the stream ends. Returns 1 when a snapshot is needed, 0 when the
 * stream ended (reconnect), -1 on a failure (back off). */
static int follow(replica_t *r)
{
    char url[2048];
    uint64_t head = store_head(r->st), chain = 0;
    if (head)
        store_commit_chain(r->st, head, &chain);
    /* an empty store has no identity worth comparing: the primary's snapshot brings one */
    snprintf(url, sizeof url, "%s/_replication?after=%" PRIu64 "&chain=%" PRIu64 "%s%s", r->cfg->replicate_from,
             head, chain, head ? "&store=" : "", head ? store_id(r->st) : "");
    struct curl_slist *headers = NULL;
    CURL *easy = new_easy(r, url, &headers);
    if (!easy)
        return -1;
    bytebuf_clear(&r->in);
    r->failed = 0;
    replapply_reset(r->apply);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_follow_progress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    pthread_mutex_lock(&r->mu);
    r->last_rx_us = clock_mono_us();   /* connecting counts: CONNECTTIMEOUT bounds it */
    pthread_mutex_unlock(&r->mu);
    r->easy = easy;
    CURLcode code = curl_easy_perform(easy);
    r->easy = NULL;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (status == 409)
        note_conflict(r);
    replapply_flush(r->apply);   /* whatever completed commits arrived */
    replapply_reset(r->apply);
    curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    if (status != 409)   /* a snapshot follows a 409 at once: still following */
        set_connected(r, 0);
    if (status == 409) {
        log_info(MOD, "the primary says a snapshot is needed (%s)", r->conflict);
        return 1;
    }
    if (status == 401 || status == 403)
        log_error(MOD, "%s refused this replica (HTTP %ld): check replicate_auth, and that the primary's auth "
                  "block gives this client `allow: [replicate]`", r->cfg->replicate_from, status);
    else if (status && status != 200)
        log_warn(MOD, "%s: unexpected HTTP status %ld", r->cfg->replicate_from, status);
    else if (!status && code != CURLE_ABORTED_BY_CALLBACK)
        log_warn(MOD, "%s: %s", r->cfg->replicate_from, curl_easy_strerror(code));
    return status == 200 && !r->failed ? 0 : -1;
}

/* ---- snapshots ---- */

typedef struct {
    replica_t *r;
    FILE *f;
    EVP_MD_CTX *md;
    uint64_t size, want_size;
    char want_sha[65], store[40];
} download_t;

static size_t on_snapshot_header(char *line, size_t size, size_t n, void *ud)
{
    download_t *d = ud;
    size_t len = size * n;
    char name[64], value[128];
    if (sscanf(line, "%63[^:]: %127[^\r\n]", name, value) == 2) {
        if (!strcasecmp(name, "x-snapshot-size"))
            d->want_size = strtoull(value, NULL, 10);
        else if (!strcasecmp(name, "x-snapshot-sha256"))
            snprintf(d->want_sha, sizeof d->want_sha, "%.64s", value);
    }
    return len;
}

static size_t on_snapshot_body(char *data, size_t size, size_t n, void *ud)
{
    download_t *d = ud;
    size_t len = size * n;
    if (fwrite(data, 1, len, d->f) != len || !EVP_DigestUpdate(d->md, data, len))
        return 0;
    d->size += len;
    set_connected(d->r, 1);
    return len;
}

/* What is wrong with the download, into buf; NULL when it arrived whole (the size and
 * SHA-256 the primary announced) and is on disk. */
static const char *download_problem(download_t *d, CURLcode code, long status, char *buf, size_t len)
{
    unsigned char md[32];
    unsigned mdlen = 0;
    char hex[65] = "";
    if (!d->f || !d->md)
        return "out of memory, or the file cannot be created";
    if (code != CURLE_OK)
        snprintf(buf, len, "%s after %" PRIu64 " of %" PRIu64 " bytes", curl_easy_strerror(code), d->size,
                 d->want_size);
    else if (status != 200)
        snprintf(buf, len, "HTTP status %ld", status);
    else if (!d->want_size || d->size != d->want_size)
        snprintf(buf, len, "%" PRIu64 " of %" PRIu64 " bytes arrived", d->size, d->want_size);
    else if (fflush(d->f) != 0 || fsync(fileno(d->f)) != 0)
        snprintf(buf, len, "writing it failed: %s", strerror(errno));
    else if (!EVP_DigestFinal_ex(d->md, md, &mdlen) || mdlen != 32)
        snprintf(buf, len, "its checksum cannot be computed");
    else
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
    if (hex[0] && strcmp(hex, d->want_sha) == 0)
        return NULL;
    if (hex[0])
        snprintf(buf, len, "its SHA-256 is not the one announced (a corrupt transfer)");
    return buf;
}

/* Fetch a snapshot into dir/data.mdb.incoming and install it. Returns 0 or -1 (the previous
 * store stays). */
static int take_snapshot(replica_t *r)
{
    char url[2048], path[4200], err[512];
    snprintf(url, sizeof url, "%s/_replication/snapshot", r->cfg->replicate_from);
    snprintf(path, sizeof path, "%s/data.mdb.incoming", store_path(r->st));
    download_t d = {.r = r, .f = fopen(path, "wb"), .md = EVP_MD_CTX_new()};
    struct curl_slist *headers = NULL;
    CURL *easy = d.f && d.md && EVP_DigestInit_ex(d.md, EVP_sha256(), NULL) ? new_easy(r, url, &headers) : NULL;
    long status = 0;
    CURLcode code = CURLE_FAILED_INIT;
    if (easy) {
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, 30L);   /* the primary writes it first */
        curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_snapshot_header);
        curl_easy_setopt(easy, CURLOPT_HEADERDATA, &d);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_snapshot_body);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, &d);
        if ((code = curl_easy_perform(easy)) == CURLE_OK)
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    }
    char why[256];
    const char *problem = download_problem(&d, code, status, why, sizeof why);
    if (d.f)
        fclose(d.f);
    EVP_MD_CTX_free(d.md);
    curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    if (problem) {
        log_warn(MOD, "snapshot from %s refused: %s; keeping the store as it is", url, problem);
        unlink(path);
        set_connected(r, 0);
        return -1;
    }
    if (store_snapshot_install(r->st, path, err, sizeof err) != 0) {
        log_error(MOD, "installing the snapshot failed: %s", err);
        set_connected(r, 0);
        return -1;
    }
    log_info(MOD, "snapshot installed: store %s at seq %" PRIu64, store_id(r->st), store_head(r->st));
    pthread_mutex_lock(&r->mu);
    r->snapshots++;
    pthread_mutex_unlock(&r->mu);
    if (r->installed)
        r->installed(r->installed_ud);
    return 0;
}

/* ---- the thread ---- */

static void sleep_ms(replica_t *r, int64_t ms)
{
    for (int64_t t = 0; t < ms && !atomic_load(&r->stop); t += 50)
        usleep(50000);
}

static void *run(void *arg)
{
    replica_t *r = arg;
    int64_t backoff = BACKOFF_MIN_MS;
    while (!atomic_load(&r->stop)) {
        int rc = follow(r);
        if (atomic_load(&r->stop))
            break;
        if (rc == 1) {
            rc = take_snapshot(r);   /* then follow again: a planned step, not a reconnection */
        } else {
            pthread_mutex_lock(&r->mu);
            r->reconnects++;         /* the stream ended or failed */
            pthread_mutex_unlock(&r->mu);
        }
        if (rc == 0) {
            backoff = BACKOFF_MIN_MS;
            continue;
        }
        sleep_ms(r, backoff / 2 + rand() % (backoff / 2 + 1));
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

int replica_start(replica_t **out, const config_t *cfg, store_t *st, replica_installed_fn *installed, void *ud)
{
    replica_t *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(r);
        log_error(MOD, "out of memory");
        return -1;
    }
    r->cfg = cfg;
    r->st = st;
    r->installed = installed;
    r->installed_ud = ud;
    pthread_mutex_init(&r->mu, NULL);
    r->disconnected_since_us = timefmt_now_us();
    replapply_hooks_t hooks = {on_hello, on_heartbeat, on_feeds, on_applied, r};
    if (replapply_new(&r->apply, st, &hooks) != 0 || pthread_create(&r->thread, NULL, run, r) != 0) {
        log_error(MOD, "cannot start the replication thread");
        replica_stop(r);
        return -1;
    }
    r->started = 1;
    log_info(MOD, "following %s from seq %" PRIu64, cfg->replicate_from, store_head(st));
    *out = r;
    return 0;
}

void replica_stop(replica_t *r)
{
    if (!r)
        return;
    atomic_store(&r->stop, 1);
    if (r->started)
        pthread_join(r->thread, NULL);
    replapply_free(r->apply);
    bytebuf_free(&r->in);
    free(r->feeds);
    pthread_mutex_destroy(&r->mu);
    free(r);
    curl_global_cleanup();
}
