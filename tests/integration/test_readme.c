/* test_readme.c -- the README's examples, as written, against the demo that `make run` starts:
 * conf/run-demo (on free ports, with the binaries under test) is started, and every curl
 * command of the README's ```sh blocks is run with /bin/sh, its port changed to the demo's.
 * Each must return something: a stream at least one activity (a finite one its end too), a
 * search at least one hit, anything else a body that is not an error. */
#include "harness.h"
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_EXAMPLES 64

static struct {
    pid_t pid;          /* conf/run-demo, leader of its process group */
    char *dir;          /* owned: its log */
    char log[512];
    int port;
} D;

/* ---- the demo ---- */

static void demo_child(int ports[3])
{
    char p[3][16];
    for (int i = 0; i < 3; i++)
        snprintf(p[i], sizeof p[i], "%d", ports[i]);
    setenv("AS_DEMO_PORT", p[0], 1);
    setenv("AS_DEMO_FEED_PORT", p[1], 1);
    setenv("AS_DEMO_OUTBOX_PORT", p[2], 1);
    setenv("AS_SERVER", h_server_bin(), 1);
    setenv("AS_FEEDSIM", h_feedsim_bin(), 1);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);   /* run-demo's trap then stops the server and feedsim */
    FILE *f = freopen(D.log, "a", stdout);
    if (f)
        dup2(fileno(stdout), 2);
    execl("conf/run-demo", "conf/run-demo", (char *)NULL);
    _exit(127);
}

/* Both demo feeds have finished a full sync. */
static int demo_synced(void)
{
    char u[128];
    h_resp_t r;
    snprintf(u, sizeof u, "http://127.0.0.1:%d/feeds", D.port);
    if (h_get(u, &r) != 0 || r.status != 200) {
        h_resp_free(&r);
        return 0;
    }
    json_t *feeds = json_loads(r.body, 0, NULL), *f;
    size_t i, done = 0;
    json_array_foreach(feeds, i, f)
        done += json_is_string(json_object_get(json_object_get(f, "last_full_sync"), "finished"));
    int ok = json_array_size(feeds) == 2 && done == 2;
    json_decref(feeds);
    h_resp_free(&r);
    return ok;
}

static void demo_up(void)
{
    int ports[3] = {h_free_port(), h_free_port(), h_free_port()};
    cr_assert(ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2]);
    D.dir = h_tmpdir();
    cr_assert_not_null(D.dir);
    snprintf(D.log, sizeof D.log, "%s/demo.log", D.dir);
    D.port = ports[0];
    D.pid = fork();
    if (D.pid == 0)
        demo_child(ports);
    cr_assert_gt(D.pid, 0);
    setpgid(D.pid, D.pid);
    cr_assert_eq(h_wait_port(D.port, 20000), 0, "the demo did not start:\n%s", h_read_file(D.log, NULL));
    for (int i = 0; i < 300 && !demo_synced(); i++)
        usleep(100000);
    cr_assert(demo_synced(), "the demo feeds did not sync:\n%s", h_read_file(D.log, NULL));
}

/* Also the suite's .fini. */
static void demo_down(void)
{
    if (D.pid > 0) {
        kill(-D.pid, SIGTERM);   /* run-demo stops its children and removes its store */
        h_stop(D.pid, SIGTERM, 8000);
        kill(-D.pid, SIGKILL);
    }
    D.pid = 0;
    h_rmdir(D.dir);
    free(D.dir);
    D.dir = NULL;
}

TestSuite(readme, .fini = demo_down);

/* ---- the examples ---- */

typedef struct {
    char *cmd[MAX_EXAMPLES];   /* owned */
    size_t n;
} examples_t;

/* Quotes still open after `line`, given those open before it (' or " or 0). */
static char open_quote(const char *line, char q)
{
    for (const char *p = line; *p; p++) {
        if (q && *p == q)
            q = 0;
        else if (!q && (*p == '\'' || *p == '"'))
            q = *p;
        else if (!q && *p == '\\' && p[1])
            p++;
    }
    return q;
}

static int continues(const char *line, char q)
{
    size_t n = strlen(line);
    return q || (n && line[n - 1] == '\\');
}

/* Add the curl commands of one ```sh block (its lines, NUL-separated in `block`). */
static void add_block(examples_t *ex, char *text)
{
    char cmd[4096] = "", q = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!*cmd && (line[0] == '#' || !line[0]))
            continue;
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), "%s%s", *cmd ? "\n" : "", line);
        q = open_quote(line, q);
        if (continues(line, q))
            continue;
        if (strncmp(cmd, "curl ", 5) == 0 && ex->n < MAX_EXAMPLES)
            ex->cmd[ex->n++] = strdup(cmd);
        cmd[0] = '\0';
    }
}

static void read_examples(examples_t *ex)
{
    char *readme = h_read_file("README.md", NULL);
    cr_assert_not_null(readme, "README.md not found (run from the repository root)");
    for (char *p = readme; (p = strstr(p, "\n```sh\n"));) {
        p += 7;
        char *end = strstr(p, "\n```");
        cr_assert_not_null(end);
        *end = '\0';
        add_block(ex, p);
        p = end + 1;
    }
    free(readme);
}

/* The command with the README's address changed to the demo's. */
static char *localize(const char *cmd)
{
    static const char *const hosts[] = {"127.0.0.1:8080", "localhost:8080"};
    char *out = malloc(strlen(cmd) + 64), port[16];
    snprintf(port, sizeof port, "%d", D.port);
    size_t n = 0;
    for (const char *p = cmd; *p;) {
        size_t k = 0;
        while (k < 2 && strncmp(p, hosts[k], strlen(hosts[k])))
            k++;
        if (k == 2) {
            out[n++] = *p++;
            continue;
        }
        n += (size_t)sprintf(out + n, "127.0.0.1:%s", port);
        p += strlen(hosts[k]);
    }
    out[n] = '\0';
    return out;
}

static void check_output(const char *cmd, const h_cmd_t *r)
{
    const char *o = r->out;
    cr_assert(r->len > 0, "no output from:\n%s", cmd);
    cr_assert_null(strstr(o, "\"error\""), "an error from:\n%s\n%.500s", cmd, o);
    if (strstr(cmd, "/stream"))
        cr_assert(strstr(o, "event: activity") || strstr(o, "\"event\":\"activity\""),
                  "no activity from:\n%s\n%.500s", cmd, o);
    if (strstr(cmd, "/stream") && strstr(cmd, "end="))
        cr_assert(r->exited && (strstr(o, "event: end") || strstr(o, "\"event\":\"end\"")),
                  "the finite stream did not end:\n%s\n%.300s", cmd, o + (r->len > 300 ? r->len - 300 : 0));
    if (strstr(cmd, "/_search"))
        cr_assert(strstr(o, "\"_source\""), "no hit from:\n%s\n%.500s", cmd, o);
    if (strstr(cmd, "/_count"))
        cr_assert(strstr(o, "\"count\":") && !strstr(o, "\"count\":0"), "nothing counted:\n%s\n%s", cmd, o);
}

static void run_example(const char *readme_cmd)
{
    char *cmd = localize(readme_cmd);
    h_cmd_t r;
    /* A live stream never ends: its first activity is enough. A finite one must end. */
    const char *enough = strstr(cmd, "end=") ? NULL : "activity";
    cr_assert_eq(h_run(cmd, 0, strstr(cmd, "/stream") ? enough : NULL, 15000, &r), 0);
    check_output(readme_cmd, &r);
    h_cmd_free(&r);
    free(cmd);
}

Test(readme, every_curl_example_returns_something_against_the_demo, .timeout = 120)
{
    examples_t ex = {0};
    read_examples(&ex);
    cr_assert_geq(ex.n, 8, "only %zu curl examples found in README.md", ex.n);
    demo_up();
    for (size_t i = 0; i < ex.n; i++) {
        run_example(ex.cmd[i]);
        free(ex.cmd[i]);
    }
    demo_down();
}

Test(readme, make_help_lists_every_target, .timeout = 30)
{
    h_cmd_t r;
    char *mk = h_read_file("Makefile", NULL), *phony = mk ? strstr(mk, "\n.PHONY:") : NULL;
    cr_assert_not_null(phony);
    cr_assert_eq(h_run("make -s --no-print-directory help", 1, NULL, 20000, &r), 0);
    cr_assert(r.exited && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.out);
    char *end = strchr(phony + 1, '\n'), target[64];
    *end = '\0';
    for (char *t = strtok(phony + 8, " "); t; t = strtok(NULL, " ")) {
        snprintf(target, sizeof target, "make %s ", strcmp(t, "all") ? t : "");
        cr_assert(strstr(r.out, target) || (!strcmp(t, "all") && strstr(r.out, "make all")),
                  "make help does not describe '%s':\n%s", t, r.out);
    }
    h_cmd_free(&r);
    free(mk);
}
