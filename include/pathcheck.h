/* pathcheck.h -- is a file or directory that a configuration names usable by this process?
 * For --check-config and start-up, so that a missing certificate or an uncreatable data
 * directory is reported with its cause before anything starts. Nothing is created or changed.
 *
 * Each check returns 0, or PATHCHECK_ERR with one line in why (NUL-terminated, cut to len):
 * the system's reason ("No such file or directory", "Permission denied", "Is a directory") or
 * what is wrong with the contents ("not a PEM certificate"). Thread-safe; no global state
 * (OpenSSL's error queue of the calling thread is emptied). */
#ifndef PATHCHECK_H
#define PATHCHECK_H
#include <stddef.h>

enum { PATHCHECK_ERR = -1 };

/* A readable file of PEM certificates (a TLS certificate chain or a CA bundle): at least one,
 * and every PEM block in it a certificate that parses. */
int pathcheck_pem_certs(const char *path, char *why, size_t len);

/* A readable file holding a PEM private key without a passphrase. */
int pathcheck_pem_key(const char *path, char *why, size_t len);

/* A directory this process can list and read (the dashboard's files). */
int pathcheck_dir_readable(const char *path, char *why, size_t len);

/* A directory this process can write, or one it can create: its parent exists and is writable
 * (the data directory; the server creates one level, as mkdir does). */
int pathcheck_dir_writable(const char *path, char *why, size_t len);

#endif
