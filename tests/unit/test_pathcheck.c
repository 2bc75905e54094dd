/* test_pathcheck.c -- the checks of files and directories a configuration names: each cause
 * (missing, wrong kind, not PEM, cannot be created) in one line. */
#include "pathcheck.h"
#include "pem_fixture.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_pathcheck.XXXXXX";
static char why[256];

static const char *in_dir(const char *name)
{
    static char path[4][512];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    return p;
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(in_dir(name), "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    write_file("cert.pem", PEMFX_CERT);
    write_file("key.pem", PEMFX_KEY);
    write_file("chain.pem", PEMFX_CERT);
    FILE *f = fopen(in_dir("chain.pem"), "a");
    fputs(PEMFX_CERT, f);
    fclose(f);
    write_file("text.txt", "hello\n");
    write_file("broken.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    mkdir(in_dir("sub"), 0755);
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(pathcheck, .init = setup, .fini = teardown);

static void expect(int rc, const char *needle)
{
    cr_assert_eq(rc, PATHCHECK_ERR, "accepted; expected '%s'", needle);
    cr_assert(strstr(why, needle), "'%s' lacks '%s'", why, needle);
    cr_assert_null(strchr(why, '\n'));
}

Test(pathcheck, pem_certificates)
{
    cr_assert_eq(pathcheck_pem_certs(in_dir("cert.pem"), why, sizeof why), 0, "%s", why);
    cr_assert_eq(pathcheck_pem_certs(in_dir("chain.pem"), why, sizeof why), 0, "%s", why);
    expect(pathcheck_pem_certs(in_dir("none.pem"), why, sizeof why), "No such file or directory");
    expect(pathcheck_pem_certs(in_dir("text.txt"), why, sizeof why), "not a PEM certificate");
    expect(pathcheck_pem_certs(in_dir("key.pem"), why, sizeof why), "not a PEM certificate");
    expect(pathcheck_pem_certs(in_dir("broken.pem"), why, sizeof why), "does not parse");
    expect(pathcheck_pem_certs(in_dir("sub"), why, sizeof why), "Is a directory");
    expect(pathcheck_pem_certs(in_dir("text.txt/x"), why, sizeof why), "Not a directory");
}

Test(pathcheck, pem_private_key)
{
    cr_assert_eq(pathcheck_pem_key(in_dir("key.pem"), why, sizeof why), 0, "%s", why);
    expect(pathcheck_pem_key(in_dir("cert.pem"), why, sizeof why), "not a PEM private key");
    expect(pathcheck_pem_key(in_dir("missing.key"), why, sizeof why), "No such file or directory");
}

Test(pathcheck, readable_directory)
{
    cr_assert_eq(pathcheck_dir_readable(dir, why, sizeof why), 0, "%s", why);
    expect(pathcheck_dir_readable(in_dir("nope"), why, sizeof why), "No such file or directory");
    expect(pathcheck_dir_readable(in_dir("text.txt"), why, sizeof why), "Not a directory");
}

Test(pathcheck, writable_or_creatable_directory)
{
    cr_assert_eq(pathcheck_dir_writable(in_dir("sub"), why, sizeof why), 0, "%s", why);
    cr_assert_eq(pathcheck_dir_writable(in_dir("new"), why, sizeof why), 0, "creatable: %s", why);
    cr_assert_eq(pathcheck_dir_writable(in_dir("new/"), why, sizeof why), 0, "creatable: %s", why);
    struct stat st;
    cr_assert_neq(stat(in_dir("new"), &st), 0, "a check must not create anything");
    cr_assert_eq(pathcheck_dir_writable(in_dir("a/b/c"), why, sizeof why), 0, "mkdir -p: %s", why);
    cr_assert_neq(stat(in_dir("a"), &st), 0, "a check must not create anything");
    expect(pathcheck_dir_writable(in_dir("text.txt/a/b"), why, sizeof why), "Not a directory");
    expect(pathcheck_dir_writable(in_dir("text.txt"), why, sizeof why), "Not a directory");
    expect(pathcheck_dir_writable(in_dir("text.txt/data"), why, sizeof why), "Not a directory");
    if (geteuid() == 0)
        return;   /* root may write anywhere: the permission case needs another user */
    chmod(in_dir("sub"), 0555);
    expect(pathcheck_dir_writable(in_dir("sub"), why, sizeof why), "Permission denied");
    expect(pathcheck_dir_writable(in_dir("sub/data/x"), why, sizeof why), "cannot be created");
    chmod(in_dir("sub"), 0755);
}

Test(pathcheck, long_reasons_are_cut)
{
    char small[12];
    cr_assert_eq(pathcheck_pem_certs(in_dir("none.pem"), small, sizeof small), PATHCHECK_ERR);
    cr_assert_eq(strlen(small), sizeof small - 1);
}
