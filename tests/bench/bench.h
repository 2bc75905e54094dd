/* bench.h -- small helpers shared by the benchmark programs in tests/bench/: the wall and CPU
 * clocks, the machine description printed next to the figures, where temporary stores go, and
 * the id of the n-th bench activity. Static inline because every bench is one program built
 * from one .c file (plus tests/harness.c, which provides ports, temporary directories and child
 * processes, and the load client tests/loadclient.c).
 * Nothing here allocates; nothing here can fail except reading /proc/cpuinfo, which falls back
 * to a caller-chosen text, and bench_mkdtemp. */
#ifndef BENCH_H
#define BENCH_H
#include "clock.h"
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

#endif
