/* pathcheck.c -- files and directories a configuration names: exist, readable or writable,
 * PEM contents that parse. See pathcheck.h. */
#include "pathcheck.h"
#include "errfmt.h"
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int sys_error(char *why, size_t len, int e)
{
    return errfmt(why, len, "%s", strerror(e));
}

/* Open a regular file for reading; NULL after writing the reason. */
static FILE *open_regular(const char *path, char *why, size_t len)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        sys_error(why, len, errno);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        sys_error(why, len, EISDIR);
        return NULL;
    }
    FILE *fp = fopen(path, "r");
    if (!fp)
        sys_error(why, len, errno);
    return fp;
}

/* Count the certificates in fp; -1 when a PEM block is not one that parses. */
static int count_certs(FILE *fp)
{
    int n = 0;
    X509 *x;
    while ((x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    unsigned long e = ERR_peek_last_error();
    int at_end = ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
    ERR_clear_error();
    return at_end ? n : -1;
}

int pathcheck_pem_certs(const char *path, char *why, size_t len)
{
    FILE *fp = open_regular(path, why, len);
    if (!fp)
        return PATHCHECK_ERR;
    int n = count_certs(fp);
    fclose(fp);
    if (n <= 0)
        return errfmt(why, len, n == 0 ? "not a PEM certificate (no BEGIN CERTIFICATE block)"
                                       : "not a PEM certificate (a certificate in it does not parse)");
    return 0;
}

/* A passphrase is never asked for: an encrypted key simply does not load. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

int pathcheck_pem_key(const char *path, char *why, size_t len)
{
    FILE *fp = open_regular(path, why, len);
    if (!fp)
        return PATHCHECK_ERR;
    EVP_PKEY *k = PEM_read_PrivateKey(fp, NULL, no_passphrase, NULL);
    fclose(fp);
    ERR_clear_error();
    if (!k)
        return errfmt(why, len, "not a PEM private key (or one protected by a passphrase)");
    EVP_PKEY_free(k);
    return 0;
}

/* path is a directory that access(mode) allows; else the reason. */
static int dir_access(const char *path, int mode, char *why, size_t len)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return sys_error(why, len, errno);
    if (!S_ISDIR(st.st_mode))
        return sys_error(why, len, ENOTDIR);
    if (access(path, mode) != 0)
        return sys_error(why, len, errno);
    return 0;
}

int pathcheck_dir_readable(const char *path, char *why, size_t len)
{
    return dir_access(path, R_OK | X_OK, why, len);
}

/* The parent directory of path ("." for a bare name) into buf. */
static void parent_of(const char *path, char *buf, size_t len)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    while (n > 0 && path[n - 1] != '/')
        n--;
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n == 0)
        snprintf(buf, len, ".");
    else
        snprintf(buf, len, "%.*s", (int)n, path);
}

/* A directory that does not exist is created with its missing parents (mkdir -p): it can be
 * when the nearest ancestor that exists is a directory we may write. */
int pathcheck_dir_writable(const char *path, char *why, size_t len)
{
    char parent[4096], reason[256];
    struct stat st;
    if (stat(path, &st) == 0 || errno != ENOENT)
        return dir_access(path, W_OK | X_OK, why, len);
    char child[4096];
    snprintf(child, sizeof child, "%s", path);
    for (;;) {
        parent_of(child, parent, sizeof parent);
        if (stat(parent, &st) == 0 || errno != ENOENT || !strcmp(parent, ".") || !strcmp(parent, "/"))
            break;
        memcpy(child, parent, sizeof child);
    }
    if (dir_access(parent, W_OK | X_OK, reason, sizeof reason) != 0)
        return errfmt(why, len, "cannot be created: %s: %s", parent, reason);
    return 0;
}
