/* main.c -- wiring: parse the command line and config, open the store, start the ingest
 * thread and the event loops, wait for SIGTERM/SIGINT, shut down in order. No work here. */
#include "api.h"
#include "config.h"
#include "ingest.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "version.h"
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: activity-stream [--config FILE] [--check-config FILE] [--version]\n"
               "  --config FILE        run with FILE (default conf/activity-stream.conf)\n"
               "  --check-config FILE  validate FILE, print the problem if any, and exit\n");
}

static int check_config(const char *path)
{
    config_t cfg;
    char err[1024];
    if (config_load(path, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("%s: ok (%zu feed%s)\n", path, cfg.nfeeds, cfg.nfeeds == 1 ? "" : "s");
    config_free(&cfg);
    return 0;
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

/* Blocks SIGTERM/SIGINT in every thread (they inherit the mask); main waits for them. */
static void block_signals(sigset_t *set)
{
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* Stream buffers come and go with every fan-out; keep freed memory in the allocator instead of
 * handing it back to the kernel each time (that was a sixth of the live path's CPU). */
static void tune_allocator(void)
{
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
}

static int run(const char *path)
{
    config_t cfg;
    char err[1024];
    store_t *st = NULL;
    ingest_t *ing = NULL;
    api_t *api = NULL;
    server_t *srv = NULL;
    sigset_t set;
    int sig, rc = 1;
    if (config_load(path, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    block_signals(&set);
    tune_allocator();
    raise_nofile(cfg.max_streams);
    if (store_open(&st, cfg.data_dir, cfg.map_size, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    if (api_new(&api, &cfg, st) != 0) {
        fprintf(stderr, "out of memory\n");
        goto out;
    }
    if (server_start(&srv, &cfg, st, api, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    /* ingest starts after the server, so that its first commits already wake the loops */
    store_set_commit_hook(st, on_commit, srv);
    if (cfg.nfeeds && ingest_start(&ing, &cfg, st) != 0)
        goto out;
    api_set_ingest(api, ing);
    log_info("main", "activity-stream %s listening on %s (%d threads), data in %s, %zu feeds", AS_VERSION,
             cfg.listen[0], cfg.threads, cfg.data_dir, cfg.nfeeds);
    sigwait(&set, &sig);
    log_info("main", "%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    rc = 0;
out:
    server_stop(srv);   /* no request uses the ingest after this */
    ingest_stop(ing);
    server_free(srv);
    if (!srv)
        api_free(api);   /* a server that ran keeps its loops (and their api) until exit */
    store_close(st);
    config_free(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = "conf/activity-stream.conf";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--check-config") == 0 && i + 1 < argc) {
            return check_config(argv[i + 1]);
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("activity-stream %s\n", AS_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    return run(path);
}
