/* main.c -- wiring: parse the command line and config, open the store, start the ingest
 * thread and the event loops, wait for SIGTERM/SIGINT, shut down in order; and the `compact`
 * command. No work here. */
#include "api.h"
#include "config.h"
#include "gate.h"
#include "ingest.h"
#include "log.h"
#include "pidlock.h"
#include "replica.h"
#include "server.h"
#include "store.h"
#include "version.h"
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define DEFAULT_CONFIG "conf/activity-stream.conf"

static void usage(FILE *f)
{
    fprintf(f, "usage: activity-stream [--config FILE]                 run the server\n"
               "       activity-stream compact [--config FILE]         compact the store of FILE's data_dir\n"
               "       activity-stream --check-config FILE [--strict]  validate FILE and exit\n"
               "       activity-stream --version | --help\n"
               "  --config FILE        the configuration (default " DEFAULT_CONFIG ")\n"
               "  --check-config FILE  print every problem of FILE (keys, values, and the files and\n"
               "                       directories it names), or \"ok\"; exit 1 on a problem. An unset\n"
               "                       *_env variable is a warning (exit 0): the server needs it to run\n"
               "  --strict             with --check-config: warnings are problems too (exit 1)\n"
               "  compact              rewrite data.mdb with only the pages in use (erased data\n"
               "                       is gone from the file); the server must be stopped\n"
               "  --version            print the version and exit\n"
               "  --help               print this text and exit\n"
               "Environment: AS_LOG=debug|info|warn|error sets the log level (default info).\n");
}

static const char *plural(size_t n)
{
    return n == 1 ? "" : "s";
}

/* Load `path` with `flags`, printing its problems (and warnings when `show_warnings`) to stderr. */
static int load_config(const char *path, unsigned flags, int show_warnings, config_t *cfg, config_report_t *rep)
{
    int rc = config_load_ex(path, flags, cfg, rep);
    if (show_warnings && rep->warnings.len)
        fputs(rep->warnings.p, stderr);
    if (rc != 0)
        fputs(rep->errors.p ? rep->errors.p : "out of memory\n", stderr);
    return rc;
}

static int check_config(const char *path, int strict)
{
    config_t cfg;
    config_report_t rep;
    int rc = load_config(path, CONFIG_CHECK_FILES | CONFIG_ENV_WARNINGS, 1, &cfg, &rep);
    size_t warnings = rep.nwarnings;
    if (rc != 0)
        fprintf(stderr, "%s: %zu problem%s\n", path, rep.nerrors, plural(rep.nerrors));
    else if (strict && warnings)
        fprintf(stderr, "%s: %zu warning%s, which --strict makes problems\n", path, warnings, plural(warnings));
    else if (warnings)
        printf("%s: ok (%zu feed%s, %zu warning%s)\n", path, cfg.nfeeds, plural(cfg.nfeeds), warnings,
               plural(warnings));
    else
        printf("%s: ok (%zu feed%s)\n", path, cfg.nfeeds, plural(cfg.nfeeds));
    config_free(&cfg);
    config_report_free(&rep);
    return rc != 0 || (strict && warnings) ? 1 : 0;
}

/* Raise the soft descriptor limit to the hard one; say so when it is still too low. */
static void raise_nofile(size_t max_streams)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < max_streams + 64)
        log_warn("main", "open-file limit is %llu, below the %zu that max_streams needs; raise it (ulimit -n)",
                 (unsigned long long)rl.rlim_cur, max_streams + 64);
}

static void on_commit(uint64_t head, void *ud)
{
    server_notify_commit(ud);
}

/* A replica replaced its store with a snapshot: open streams start again from their ids. */
static void on_snapshot(void *ud)
{
    server_end_streams(ud);
}

/* Blocks SIGTERM/SIGINT in every thread (they inherit the mask); main waits for them. */
static void block_signals(sigset_t *set)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);   /* over a file-size limit a write fails (EFBIG, reported) */
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* Keep freed memory in the allocator rather than handing it back to the kernel on every free
 * (with per-stream buffers in the fan-out that was a sixth of the live path's CPU); the stream
 * hubs hand it back with malloc_trim once a wave of departures has settled. One arena for all
 * threads: malloc_trim cannot shrink the free top of a thread's own arena, and with one arena
 * per loop 5 to 30 MiB of the ~60 that 10,000 streams took stayed resident after they left;
 * with one arena all of it goes back (bench stream.churn). */
static void tune_allocator(void)
{
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
}

/* The data directory is this process's alone (two servers would assign the same seqs).
 * Returns the lock's descriptor, or -1 after saying why. */
static int lock_data_dir(const config_t *cfg, const char *what)
{
    char err[512];
    pid_t holder;
    mkdir(cfg->data_dir, 0755);   /* store_open reports what goes wrong with it */
    int fd = pidlock_acquire(cfg->data_dir, &holder, err, sizeof err);
    if (fd == PIDLOCK_ERR_HELD)
        fprintf(stderr, "%s: a server (pid %ld) is running on this data directory; stop it %s\n",
                cfg->data_dir, (long)holder, what);
    else if (fd < 0)
        fprintf(stderr, "%s\n", err);
    return fd < 0 ? -1 : fd;
}

static int compact(const char *path)
{
    config_t cfg;
    config_report_t rep;
    char err[1024];
    uint64_t before, after;
    int loaded = load_config(path, CONFIG_ENV_WARNINGS, 0, &cfg, &rep);   /* no secret is needed */
    config_report_free(&rep);
    if (loaded != 0)
        return 1;
    int rc = 1, lock = lock_data_dir(&cfg, "before compacting");
    if (lock >= 0 && store_compact(cfg.data_dir, &before, &after, err, sizeof err) != 0)
        fprintf(stderr, "%s\n", err);
    else if (lock >= 0) {
        printf("%s/data.mdb: %llu bytes before, %llu bytes after compacting\n", cfg.data_dir,
               (unsigned long long)before, (unsigned long long)after);
        rc = 0;
    }
    pidlock_release(lock);
    config_free(&cfg);
    return rc;
}

static int run(const char *path)
{
    config_t cfg;
    char err[1024];
    store_t *st = NULL;
    ingest_t *ing = NULL;
    replica_t *replica = NULL;
    api_t *api = NULL;
    gate_t *gate = NULL;
    server_t *srv = NULL;
    config_report_t rep;
    sigset_t set;
    int sig, rc = 1;
    int loaded = load_config(path, CONFIG_CHECK_FILES, 1, &cfg, &rep);   /* warnings too (a weak secret) */
    config_report_free(&rep);
    if (loaded != 0)
        return 1;
    block_signals(&set);
    tune_allocator();
    raise_nofile(cfg.max_streams);
    int lock = lock_data_dir(&cfg, "first, or use another data_dir");
    if (lock < 0)
        goto out;
    if (store_open(&st, cfg.data_dir, cfg.map_size, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    store_set_retention(st, cfg.version_retention_ms, cfg.tombstone_retention_ms);
    if (!cfg.replicate_from && store_is_replica(st) && store_promote(st) != 0) {
        fprintf(stderr, "%s: cannot promote the replica's store to a primary's\n", cfg.data_dir);
        goto out;
    }
    if (gate_new(&gate, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    if (api_new(&api, &cfg, st, gate) != 0) {
        fprintf(stderr, "out of memory\n");
        goto out;
    }
    if (server_start(&srv, &cfg, st, api, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    /* the writer starts after the server, so that its first commits already wake the loops: a
     * replica's replication thread, or the ingest (which with no feeds still prunes) */
    store_set_commit_hook(st, on_commit, srv);
    if (cfg.replicate_from ? replica_start(&replica, &cfg, st, on_snapshot, srv) != 0
                           : ingest_start(&ing, &cfg, st) != 0)
        goto out;
    api_set_ingest(api, ing);
    api_set_replica(api, replica);
    if (cfg.replicate_from)
        log_info("main", "activity-stream %s listening on %s (%d threads), data in %s, replica of %s", AS_VERSION,
                 cfg.listen[0], cfg.threads, cfg.data_dir, cfg.replicate_from);
    else
        log_info("main", "activity-stream %s listening on %s (%d threads), data in %s, %zu feeds", AS_VERSION,
                 cfg.listen[0], cfg.threads, cfg.data_dir, cfg.nfeeds);
    sigwait(&set, &sig);
    log_info("main", "%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    rc = 0;
out:
    server_stop(srv);   /* no request uses the ingest or the replica after this */
    ingest_stop(ing);
    replica_stop(replica);
    server_free(srv);
    if (!srv) {          /* a server that ran keeps its loops (and their api and gate) until exit */
        api_free(api);
        gate_free(gate);
    }
    store_close(st);
    pidlock_release(lock);
    config_free(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = DEFAULT_CONFIG, *check = NULL;
    int do_compact = 0, strict = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--config") == 0 && has_value) {
            path = argv[++i];
        } else if (strcmp(a, "--check-config") == 0 && has_value) {
            if (strcmp(argv[i + 1], "--strict") == 0 && i + 2 < argc) {   /* --check-config --strict FILE */
                strict = 1;
                i++;
            }
            check = argv[++i];
        } else if (strcmp(a, "--strict") == 0) {
            strict = 1;
        } else if (strcmp(a, "compact") == 0 && i == 1) {
            do_compact = 1;
        } else if (strcmp(a, "--version") == 0) {
            printf("activity-stream %s\n", AS_VERSION);
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            if (strcmp(a, "--config") == 0 || strcmp(a, "--check-config") == 0)
                fprintf(stderr, "activity-stream: %s needs a file name\n", a);
            else
                fprintf(stderr, "activity-stream: unknown %s '%s'\n", a[0] == '-' ? "option" : "argument", a);
            usage(stderr);
            return 2;
        }
    }
    if (strict && !check) {
        fprintf(stderr, "activity-stream: --strict goes with --check-config\n");
        usage(stderr);
        return 2;
    }
    if (check)
        return check_config(check, strict);
    return do_compact ? compact(path) : run(path);
}
