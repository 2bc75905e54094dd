/* bench.h -- small helpers shared by the benchmark programs in tests/bench/: the wall and CPU
 * clocks, the machine description printed next to the figures, where temporary stores go, the
 * id of the n-th bench activity, and filling a store with generated activities. Static inline
 * because every bench is one program built from one .c file (plus tests/harness.c, which
 * provides ports, temporary directories and child processes, and the load client
 * tests/loadclient.c).
 * Nothing here allocates but bench_fill_store (through the store); nothing here can fail
 * except reading /proc/cpuinfo, which falls back to a caller-chosen text, bench_mkdtemp and
 * bench_fill_store. */
#ifndef BENCH_H
#define BENCH_H
#include "clock.h"
#include "store.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* Monotonic wall clock (clock.h), seconds. */
static inline double bench_now_s(void)
{
    return (double)clock_mono_ns() / 1e9;
}

/* CPU time (user + system) of this process, all its threads, in seconds. */
static inline double bench_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the figures were measured on. */
typedef struct {
    char arch[sizeof ((struct utsname *)0)->machine];  /* uname -m, e.g. "x86_64" */
    char model[256];   /* the first "model name" of /proc/cpuinfo, or the fallback text */
    long cores;        /* processors online */
} bench_machine_t;

/* Fill *m; `unknown` (copied) stands for the CPU model when /proc/cpuinfo has none. */
static inline void bench_machine(bench_machine_t *m, const char *unknown)
{
    struct utsname u;
    char line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    snprintf(m->model, sizeof m->model, "%s", unknown);
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(m->model, sizeof m->model, "%s", colon + 2);
            m->model[strcspn(m->model, "\n")] = 0;
            break;
        }
    }
    if (f)
        fclose(f);
    if (uname(&u) != 0)
        snprintf(u.machine, sizeof u.machine, "unknown");
    snprintf(m->arch, sizeof m->arch, "%s", u.machine);
    m->cores = sysconf(_SC_NPROCESSORS_ONLN);
}

/* Print "machine  <arch>, <model>, <n> cores online" (the first line of bench_store and
 * bench_query). */
static inline void bench_print_machine(void)
{
    bench_machine_t m;
    bench_machine(&m, "unknown");
    printf("machine  %s, %s, %ld cores online\n", m.arch, m.model, m.cores);
}

/* Where temporary stores go: $TMPDIR, default /tmp. The string belongs to the environment or
 * is static. */
static inline const char *bench_tmp_parent(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

/* Whether /dev/shm (tmpfs: fsync costs nothing) has more than `bytes` free. */
static inline int bench_shm_has_room(double bytes)
{
    struct statvfs vs;
    return statvfs("/dev/shm", &vs) == 0 && (double)vs.f_bavail * vs.f_frsize > bytes;
}

/* Create a fresh directory "<parent>/<name>.XXXXXX" into dir[cap]. Returns 0, or -1 (said on
 * stderr). The caller removes it (h_rmdir). */
static inline int bench_mkdtemp(char *dir, size_t cap, const char *parent, const char *name)
{
    int n = snprintf(dir, cap, "%s/%s.XXXXXX", parent, name);
    if (n < 0 || (size_t)n >= cap || !mkdtemp(dir)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

/* Write the id of the i-th bench activity, "https://bench.example/activities/<i, 8 digits>",
 * into id[96]. Returns its length. */
static inline size_t bench_activity_id(char *id, long i)
{
    return (size_t)snprintf(id, 96, "https://bench.example/activities/%08ld", i);
}

/* Fill *a with the i-th activity of a bench store. Its strings may live in the callback's own
 * buffers, reused for the next activity: a store batch copies what it is given. Return 0, or
 * non-zero to stop the fill. */
typedef int bench_make_fn(long i, store_activity_t *a, void *ud);

/* Write activities 0..n-1 made by `make` into st, 1,000 per committed batch (generation 1),
 * then print "<label>  <n> activities of <b> bytes on average written in <s> s". Returns 0, or
 * -1 when `make` stopped it or the store failed (said on stderr). */
static inline int bench_fill_store(store_t *st, long n, bench_make_fn *make, void *ud, const char *label)
{
    store_batch_t *b = NULL;
    double t0 = bench_now_s(), bytes = 0;
    int rc = store_batch_new(st, &b), stopped = 0;
    for (long i = 0; rc == 0 && !stopped && i < n; i++) {
        store_activity_t a;
        stopped = make(i, &a, ud);
        rc = stopped ? 0 : store_batch_upsert(b, &a, 1);
        bytes += stopped ? 0 : (double)a.json_len;
        if (rc == 0 && !stopped && (i % 1000 == 999 || i == n - 1))
            rc = store_batch_commit(b, NULL);
    }
    store_batch_free(b);
    if (rc || stopped) {
        fprintf(stderr, "%s: %s\n", label, rc ? store_strerror(rc) : "stopped");
        return -1;
    }
    printf("%s  %ld activities of %.0f bytes on average written in %.1f s\n", label, n, bytes / (double)n,
           bench_now_s() - t0);
    return 0;
}

/* ---- the figures of a run ---- */

#define BENCH_MAX_LINES 16

/* The figure lines of this program (each bench is one program: one copy). */
static char bench_lines[BENCH_MAX_LINES][512];
static int bench_nlines;

/* Print one figure line now and keep it for bench_summary. */
static void bench_report(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void bench_report(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    printf("%s\n", line);
    fflush(stdout);
    if (bench_nlines < BENCH_MAX_LINES)
        snprintf(bench_lines[bench_nlines++], sizeof bench_lines[0], "%s", line);
}

/* Print the kept figure lines again under a heading. */
static inline void bench_summary(const char *heading)
{
    printf("\n== %s\n", heading);
    for (int i = 0; i < bench_nlines; i++)
        printf("%s\n", bench_lines[i]);
}

/* ---- --only lists ---- */

/* Is `name` in the comma-separated list `only` (NULL: everything is)? */
static inline int bench_wants(const char *only, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = only; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return !only;
}

/* Is every name of the comma-separated `list` one of names[0..n)? */
static inline int bench_only_ok(const char *list, const char *const *names, size_t n)
{
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        size_t len = strcspn(p, ","), k = 0;
        while (k < n && (strlen(names[k]) != len || strncmp(p, names[k], len) != 0))
            k++;
        if (k == n)
            return 0;
    }
    return 1;
}

#endif
