/* test_load.c -- load: 10,000 concurrent idle streams hold.
 *
 * Runs the SSE load client of the streaming benchmark (build/bench/bench_stream, or
 * AS_BENCH_STREAM) with --idle-only 10000: it starts AS_SERVER (inherited from the
 * environment; `make test` gives the ASan build) with no feeds, opens 10,000 streams from one
 * epoll thread, holds them 3 s and exits 0 only when every stream got `retry:` and the `live`
 * event and is still open, the server is alive, and it exits 0 within 5 s of SIGTERM. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *bench_path(void)
{
    const char *p = getenv("AS_BENCH_STREAM");
    return p && *p ? p : "build/bench/bench_stream";
}

/* Run `bench --idle-only n`; returns its wait status. The client is stopped (and cleans up
 * its server) if this test process dies, e.g. on Criterion's timeout. */
static int run_idle(const char *bench, const char *n)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        execl(bench, bench, "--idle-only", n, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

Test(load, ten_thousand_idle_streams_hold, .timeout = 120)
{
    const char *bench = bench_path();
    cr_assert_eq(access(bench, X_OK), 0, "%s is not built (make build/bench/bench_stream)", bench);
    int status = run_idle(bench, "10000");
    cr_assert(WIFEXITED(status), "%s --idle-only 10000 died of signal %d", bench,
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s --idle-only 10000 failed (exit %d; its output says which check)",
                 bench, WEXITSTATUS(status));
}
