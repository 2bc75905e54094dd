/* feedsim.c -- a synthetic Activity Streams feed server for tests and benchmarks.
 *
 * Serves a deterministic feed on 127.0.0.1:PORT, in one of two styles:
 *   activity-stream  GET /feed -> {"type":"Collection","orderedItems":[oldest first],
 *                    "next":".../feed?after=<mseq>"}; `next` only on full pages; a client
 *                    re-polls the last page's URL to see new items (the last page may be empty).
 *   outbox           GET /outbox -> OrderedCollection {totalItems, first, last};
 *                    /outbox?page=true[&max_id=M | &min_id=M] -> newest first, `next` while
 *                    older items remain; a one-item page has a bare object as orderedItems.
 * The model is an ordered log: an update moves an activity to the end with version+1 and an
 * `updated` time; a delete removes it. Activity ids are urn:feedsim:<seed>:<n>.
 *
 * Options (also --help):
 *   --port N              listen port (default 8090)
 *   --style S             activity-stream (default) | outbox
 *   --count N             historical activities (default 1000)
 *   --page-size N         items per page (default 100)
 *   --size BYTES          approximate JSON size of one activity (default 400)
 *   --seed S              deterministic seed, a number (default 1)
 *   --start-time T        published time of item 0, RFC 3339, Unix seconds or date math
 *                         such as now-2h (default 2024-01-01T00:00:00Z); item n is 1 s
 *                         after item n-1;
 *                         items added live get the current time
 *   --rate R              new activities per second (default 0)
 *   --update-rate U       updates per second of random existing activities (default 0)
 *   --delete-rate D       deletions per second of random existing activities (default 0)
 *   --hawk-id ID --hawk-key KEY
 *                         require a valid Hawk Authorization on every feed request (401 + reason)
 *   --fault-5xx R         ratio 0..1 of feed requests answered 503
 *   --fault-429 R         ratio answered 429 with Retry-After (--retry-after S, default 1)
 *   --fault-invalid R     ratio answered 200 with a body that is not JSON
 *   --fault-truncate R    ratio whose body is cut in the middle (full Content-Length, then close)
 *   --fault-slow MS       delay every feed response by MS
 * Control endpoints (never authenticated or faulted):
 *   POST /_control/add?n=K            append K new activities now
 *   POST /_control/update?n=K|id=URN  update the K oldest activities, or one by id
 *   POST /_control/delete?n=K|id=URN  delete the K oldest activities, or one by id
 *   POST /_control/fault?5xx=R&429=R&invalid=R&truncate=R&slow=MS&retry_after=S
 *   POST /_control/reset-faults
 *   GET  /_control/state[?ids=1]      {"count","mseq","requests","auth_failures",
 *                                      "last_authorization"[,"ids"]}
 *   GET  /_control/ids                one {"id","version"} JSON object per line
 * Pages carry an ETag; If-None-Match answers 304. SIGINT/SIGTERM exit 0. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datemath.h"
#include "feed.h"
#include "httpd.h"
#include "log.h"
#include "sim.h"
#include "timefmt.h"

static const char usage[] =
    "usage: feedsim [options]\n"
    "Serves a deterministic synthetic Activity Streams feed on 127.0.0.1.\n"
    "  --port N              listen port (default 8090)\n"
    "  --style S             activity-stream (GET /feed, default) | outbox (GET /outbox)\n"
    "  --count N             historical activities (default 1000)\n"
    "  --page-size N         items per page (default 100)\n"
    "  --size BYTES          approximate size of one activity's JSON (default 400)\n"
    "  --seed S              seed (a number; default 1); ids are urn:feedsim:<seed>:<n>\n"
    "  --start-time T        published time of item 0, RFC 3339, Unix seconds or date math\n"
    "                        such as now-2h (default 2024-01-01T00:00:00Z); items 1 s apart\n"
    "  --rate R              new activities per second (default 0)\n"
    "  --update-rate U       updates per second of random activities (default 0)\n"
    "  --delete-rate D       deletions per second of random activities (default 0)\n"
    "  --hawk-id ID          with --hawk-key: require Hawk authentication (else 401)\n"
    "  --hawk-key KEY\n"
    "  --fault-5xx R         ratio (0..1) of feed requests answered 503\n"
    "  --fault-429 R         ratio answered 429 with Retry-After\n"
    "  --retry-after S       Retry-After of 429 answers (default 1)\n"
    "  --fault-invalid R     ratio answered with a body that is not JSON\n"
    "  --fault-truncate R    ratio whose body is cut in the middle\n"
    "  --fault-slow MS       delay every feed response by MS milliseconds\n"
    "  --help                this text\n"
    "Control (no auth, no faults): POST /_control/add?n=K, /_control/update?n=K|id=URN,\n"
    "  /_control/delete?n=K|id=URN, /_control/fault?5xx=R&429=R&invalid=R&truncate=R&slow=MS\n"
    "  &retry_after=S, /_control/reset-faults; GET /_control/state[?ids=1], /_control/ids.\n";

typedef struct {
    int port;
    feed_opts_t feed;
    sim_opts_t sim;
} options_t;

enum {
    O_PORT = 1, O_STYLE, O_COUNT, O_PAGE, O_SIZE, O_SEED, O_START, O_RATE, O_URATE, O_DRATE,
    O_HID, O_HKEY, O_F5XX, O_F429, O_RETRY, O_FINV, O_FTRUNC, O_FSLOW, O_HELP
};

static const struct option longopts[] = {
    {"port", 1, NULL, O_PORT}, {"style", 1, NULL, O_STYLE}, {"count", 1, NULL, O_COUNT},
    {"page-size", 1, NULL, O_PAGE}, {"size", 1, NULL, O_SIZE}, {"seed", 1, NULL, O_SEED},
    {"start-time", 1, NULL, O_START}, {"rate", 1, NULL, O_RATE}, {"update-rate", 1, NULL, O_URATE},
    {"delete-rate", 1, NULL, O_DRATE}, {"hawk-id", 1, NULL, O_HID}, {"hawk-key", 1, NULL, O_HKEY},
    {"fault-5xx", 1, NULL, O_F5XX}, {"fault-429", 1, NULL, O_F429}, {"retry-after", 1, NULL, O_RETRY},
    {"fault-invalid", 1, NULL, O_FINV}, {"fault-truncate", 1, NULL, O_FTRUNC},
    {"fault-slow", 1, NULL, O_FSLOW}, {"help", 0, NULL, O_HELP}, {NULL, 0, NULL, 0},
};

static int parse_ull(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return *end || errno || *out > max ? -1 : 0;
}

static int parse_double(const char *s, double max, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end == s || *end || !(*out >= 0.0 && *out <= max) ? -1 : 0;
}

static int parse_start(const char *s, int64_t *out_us)
{
    unsigned long long secs;
    datemath_span_t span;
    if (parse_ull(s, 253402300799ULL, &secs) == 0) {
        *out_us = (int64_t)secs * 1000000;
        return 0;
    }
    if (datemath_parse(s, strlen(s), timefmt_now_us(), &span) == 0) {
        *out_us = span.lo;
        return 0;
    }
    return timefmt_parse_rfc3339(s, strlen(s), out_us, NULL);
}

static int parse_int_opt(int c, const char *v, options_t *o)
{
    unsigned long long n;
    switch (c) {
    case O_PORT:
        if (parse_ull(v, 65535, &n) < 0) return -1;
        o->port = (int)n;
        return 0;
    case O_COUNT:
        if (parse_ull(v, 100000000ULL, &n) < 0) return -1;
        o->sim.count = (size_t)n;
        return 0;
    case O_PAGE:
        if (parse_ull(v, 1000000ULL, &n) < 0 || n == 0) return -1;
        o->feed.page_size = (size_t)n;
        return 0;
    case O_SIZE:
        if (parse_ull(v, 16 * 1024 * 1024ULL, &n) < 0) return -1;
        o->sim.size = (size_t)n;
        return 0;
    case O_SEED:
        if (parse_ull(v, UINT64_MAX, &n) < 0) return -1;
        o->sim.seed = n;
        return 0;
    case O_RETRY:
        if (parse_ull(v, 86400, &n) < 0) return -1;
        o->feed.faults.retry_after_s = (int)n;
        return 0;
    case O_FSLOW:
        if (parse_ull(v, 600000, &n) < 0) return -1;
        o->feed.faults.slow_ms = (int)n;
        return 0;
    }
    return -1;
}

static int parse_opt(int c, const char *v, options_t *o)
{
    feed_opts_t *f = &o->feed;
    switch (c) {
    case O_STYLE:
        if (strcmp(v, "activity-stream") == 0) f->style = FEED_ACTIVITY_STREAM;
        else if (strcmp(v, "outbox") == 0) f->style = FEED_OUTBOX;
        else return -1;
        return 0;
    case O_START: return parse_start(v, &o->sim.start_us);
    case O_RATE: return parse_double(v, 1e7, &f->rate);
    case O_URATE: return parse_double(v, 1e7, &f->update_rate);
    case O_DRATE: return parse_double(v, 1e7, &f->delete_rate);
    case O_HID: f->hawk_id = v; return *v ? 0 : -1;
    case O_HKEY: f->hawk_key = v; return *v ? 0 : -1;
    case O_F5XX: return parse_double(v, 1.0, &f->faults.r5xx);
    case O_F429: return parse_double(v, 1.0, &f->faults.r429);
    case O_FINV: return parse_double(v, 1.0, &f->faults.rinvalid);
    case O_FTRUNC: return parse_double(v, 1.0, &f->faults.rtruncate);
    }
    return parse_int_opt(c, v, o);
}

/* Returns 0 to run, 1 after --help, -1 on a bad command line (reported on stderr). */
static int parse_args(int argc, char **argv, options_t *o)
{
    *o = (options_t){.port = 8090,
                     .feed = {.style = FEED_ACTIVITY_STREAM, .page_size = 100, .faults = {.retry_after_s = 1}},
                     .sim = {.seed = 1, .count = 1000, .size = 400, .start_us = 1704067200LL * 1000000}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == O_HELP) {
            fputs(usage, stdout);
            return 1;
        }
        if (c == '?' || c == ':') {
            fprintf(stderr, "feedsim: unknown option or missing value: %s\n", argv[optind - 1]);
            return -1;
        }
        if (parse_opt(c, optarg, o) < 0) {
            fprintf(stderr, "feedsim: bad value for --%s: %s\n", longopts[c - 1].name, optarg);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "feedsim: unexpected argument: %s\n", argv[optind]);
        return -1;
    }
    if (!o->feed.hawk_id != !o->feed.hawk_key) {
        fprintf(stderr, "feedsim: --hawk-id and --hawk-key go together\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options_t o;
    sim_t *sim = NULL;
    feed_t *feed = NULL;
    httpd_t *h = NULL;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        if (rc < 0)
            fputs("try: feedsim --help\n", stderr);
        return rc < 0 ? 2 : 0;
    }
    if ((rc = sim_create(&sim, &o.sim)) < 0 || (rc = feed_create(&feed, &o.feed, sim)) < 0) {
        log_error("feedsim", "cannot create the feed: %s", strerror(-rc));
        return 1;
    }
    if ((rc = httpd_create(&h, o.port, feed_handle, feed_tick, feed)) < 0) {
        log_error("feedsim", "cannot listen on 127.0.0.1:%d: %s", o.port, strerror(-rc));
        feed_destroy(feed);
        return 1;
    }
    feed_set_port(feed, httpd_port(h));
    log_info("feedsim", "listening on 127.0.0.1:%d style=%s count=%zu", httpd_port(h),
             o.feed.style == FEED_OUTBOX ? "outbox" : "activity-stream", o.sim.count);
    rc = httpd_run(h);
    if (rc < 0)
        log_error("feedsim", "event loop failed: %s", strerror(-rc));
    httpd_destroy(h);
    feed_destroy(feed);
    return rc < 0 ? 1 : 0;
}
