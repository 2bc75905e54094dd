/* test_cli.c -- the command line of the real binary (AS_SERVER): --check-config on files that
 * are missing or wrong and on a file with several mistakes, warnings and --strict, the same
 * checks when the server starts, what --help and a wrong option say, and the systemd unit. */
#include "harness.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;   /* owned: this test's temporary directory */

static void setup(void)
{
    dir = h_tmpdir();
    cr_assert_not_null(dir);
}

static void teardown(void)
{
    h_rmdir(dir);
    free(dir);
    dir = NULL;
}

TestSuite(cli, .init = setup, .fini = teardown);

/* Write `yaml` (a format with %1$s for the directory) to dir/t.conf; returns its path. */
static const char *write_conf(const char *yaml)
{
    static char path[512];
    char text[4096];
    snprintf(text, sizeof text, yaml, dir);
    snprintf(path, sizeof path, "%s/t.conf", dir);
    h_write_file(path, text);
    return path;
}

/* Run the server binary with `args`, stdout and stderr together; asserts it exited. */
static h_cmd_t run_server(const char *args, int want_exit)
{
    char cmd[2048];
    h_cmd_t r;
    snprintf(cmd, sizeof cmd, "%s %s", h_server_bin(), args);
    cr_assert_eq(h_run(cmd, 1, NULL, 20000, &r), 0);
    cr_assert(r.exited && WIFEXITED(r.status), "%s did not exit:\n%s", cmd, r.out);
    cr_assert_eq(WEXITSTATUS(r.status), want_exit, "%s exited %d, not %d:\n%s", cmd, WEXITSTATUS(r.status),
                 want_exit, r.out);
    return r;
}

/* Run the server binary with `args`: it exits `want_exit` and says `needle`. */
static void expect_output(const char *args, int want_exit, const char *needle)
{
    h_cmd_t r = run_server(args, want_exit);
    cr_assert(strstr(r.out, needle), "%s: lacks '%s' in:\n%s", args, needle, r.out);
    h_cmd_free(&r);
}

static void expect_lines(const h_cmd_t *r, const char *const *lines, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char want[512];
        snprintf(want, sizeof want, lines[i], dir);
        cr_assert(strstr(r->out, want), "lacks '%s' in:\n%s", want, r->out);
    }
    cr_assert_null(strstr(r->out, "(null)"), "%s", r->out);
}

#define BAD_FILES                                                                      \
    "listen: 127.0.0.1:1\n"                                                            \
    "tls: {cert: %1$s/none.crt, key: %1$s/t.conf}\n"                                   \
    "ca_file: %1$s\n"                                                                  \
    "data_dir: %1$s/t.conf/data\n"                                                     \
    "web_root: %1$s/www\n"

static const char *const bad_file_lines[] = {
    "t.conf:2: tls.cert: '%s/none.crt': No such file or directory",
    "t.conf:2: tls.key: '%s/t.conf': not a PEM private key",
    "t.conf:3: ca_file: '%s': Is a directory",
    "t.conf:4: data_dir: '%s/t.conf/data': Not a directory",
    "t.conf:5: web_root: '%s/www': No such file or directory",
    "t.conf: 5 problems",
};

Test(cli, check_config_names_each_missing_or_wrong_file_with_its_cause, .timeout = 30)
{
    char args[600];
    snprintf(args, sizeof args, "--check-config %s", write_conf(BAD_FILES));
    h_cmd_t r = run_server(args, 1);
    expect_lines(&r, bad_file_lines, sizeof bad_file_lines / sizeof bad_file_lines[0]);
    cr_assert_null(strstr(r.out, ": ok"), "%s", r.out);
    h_cmd_free(&r);
}

Test(cli, the_server_refuses_to_start_with_the_same_causes, .timeout = 30)
{
    char args[600];
    snprintf(args, sizeof args, "--config %s", write_conf(BAD_FILES));
    h_cmd_t r = run_server(args, 1);
    expect_lines(&r, bad_file_lines, 5);
    struct stat st;
    char data[512];
    snprintf(data, sizeof data, "%s/no", dir);
    cr_assert_neq(stat(data, &st), 0, "nothing is created when the config is refused");
    h_cmd_free(&r);
}

Test(cli, check_config_reports_several_mistakes_at_once, .timeout = 30)
{
    char args[600];
    snprintf(args, sizeof args, "--check-config %s",
             write_conf("data_dir: %1$s/data\n"
                        "poll_intervl: 1s\n"
                        "threads: lots\n"
                        "feeds:\n"
                        "  - id: a\n"
                        "    url: http://127.0.0.1:1/feed\n"
                        "    full_sync_intreval: 30s\n"
                        "  - id: b\n"
                        "    style: rss\n"));
    h_cmd_t r = run_server(args, 1);
    static const char *const lines[] = {
        "t.conf:2: poll_intervl: unknown key, did you mean poll_interval?\n",
        "t.conf:3: threads: expected an integer from 1 to 256, got 'lots'\n",
        "t.conf:7: feeds[0].full_sync_intreval: unknown key, did you mean full_sync_interval?\n",
        "t.conf:9: feeds[1].style: expected activity-stream or outbox, got 'rss'\n",
        "t.conf:8: feeds[1]: missing required key 'url'\n",
        "t.conf: 5 problems\n",
    };
    expect_lines(&r, lines, sizeof lines / sizeof lines[0]);
    h_cmd_free(&r);
}

Test(cli, example_full_passes_with_warnings_and_strict_makes_them_problems, .timeout = 30)
{
    const char *vars[] = {"AS_PARTNER_HAWK_KEY", "AS_ARCHIVE_TOKEN", "AS_LEGACY_PASSWORD",
                          "DATAHUB_HAWK_KEY", "REPORTING_TOKEN", "AS_JWT_SECRET"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    expect_output("--check-config conf/example-full.conf", 0, "conf/example-full.conf: ok (");
    expect_output("--check-config conf/example-full.conf", 0, " warnings)\n");
    expect_output("--check-config conf/example-full.conf", 0,
                  "feeds[0].auth.key_env: warning: environment variable 'AS_PARTNER_HAWK_KEY' is not set");
    expect_output("--check-config conf/example-full.conf --strict", 1, " warnings, which --strict makes problems");
    expect_output("--check-config --strict conf/example-full.conf", 1, " warnings, which --strict makes problems");
    expect_output("--check-config conf/activity-stream.conf --strict", 0, "conf/activity-stream.conf: ok (2 feeds)");
}

Test(cli, help_and_wrong_options_say_what_there_is, .timeout = 30)
{
    const char *want[] = {"--version", "--check-config FILE", "--strict", "compact", "AS_LOG="};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        expect_output("--help", 0, want[i]);
    expect_output("--bogus", 2, "activity-stream: unknown option '--bogus'\nusage:");
    expect_output("--strict", 2, "--strict goes with --check-config");
}

/* The shipped unit, with ExecStart pointing at the binary under test (verify checks that the
 * command exists), passes systemd-analyze verify without a word. */
Test(cli, systemd_unit_verifies, .timeout = 60)
{
    if (access("/usr/bin/systemd-analyze", X_OK) != 0) {
        cr_log_warn("systemd-analyze is not installed: conf/activity-stream.service not verified");
        return;
    }
    char bin[4096], cmd[8192];
    cr_assert_not_null(realpath(h_server_bin(), bin));
    snprintf(cmd, sizeof cmd,
             "sed 's|/usr/local/bin/activity-stream|%s|g' conf/activity-stream.service > %s/activity-stream.service"
             " && systemd-analyze verify %s/activity-stream.service",
             bin, dir, dir);
    h_cmd_t r;
    cr_assert_eq(h_run(cmd, 1, NULL, 50000, &r), 0);
    cr_assert(r.exited && WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.out);
    cr_assert_eq(r.len, 0, "systemd-analyze verify said:\n%s", r.out);
    h_cmd_free(&r);
}

/* AS_LOG that names no level is said once, at the first record, and the server logs from info on. */
Test(cli, an_unknown_log_level_is_a_warning, .timeout = 30)
{
    char yaml[512], log[512];
    int port = h_free_port();
    snprintf(yaml, sizeof yaml, "listen: 127.0.0.1:%d\ndata_dir: %s/data\nthreads: 1\nweb_root: web\n", port, dir);
    snprintf(log, sizeof log, "%s/log", dir);
    setenv("AS_LOG", "chatty", 1);
    pid_t pid = h_start_server(dir, yaml, port, log);
    unsetenv("AS_LOG");
    cr_assert_gt(pid, 0);
    cr_expect_eq(h_stop(pid, SIGTERM, 8000), 0);
    char *text = h_read_file(log, NULL);
    cr_expect(text && strstr(text, "warn log: AS_LOG=chatty is not a level (debug, info, warn or error)"), "%s", text);
    cr_expect(text && strstr(text, "info main: activity-stream"), "info records follow: %s", text);
    free(text);
}
