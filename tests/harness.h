/* harness.h -- helpers for integration tests: free loopback ports, temporary directories,
 * child processes (the real server and feedsim), HTTP requests and an SSE reader (libcurl).
 * Binaries come from the environment: AS_SERVER (default bin/activity-stream), AS_FEEDSIM
 * (default bin/feedsim), AS_FIXTURES (default tests/fixtures). Traffic goes to 127.0.0.1 only. */
#ifndef HARNESS_H
#define HARNESS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>

/* A free TCP port on 127.0.0.1 (bound and released; race-tolerant enough for tests). */
int h_free_port(void);

/* mkdtemp under /tmp; returns a malloc'd path. h_rmdir removes it recursively. */
char *h_tmpdir(void);
void h_rmdir(const char *path);

/* Write `text` to `path` (truncating). Returns 0. */
int h_write_file(const char *path, const char *text);

/* The whole file, malloc'd and NUL-terminated (the caller frees it); *len (may be NULL) gets
 * its length. NULL when it cannot be read. */
char *h_read_file(const char *path, size_t *len);

/* The binaries under test: AS_SERVER (default bin/activity-stream) and AS_FEEDSIM (default
 * bin/feedsim). The strings belong to the environment or are static. */
const char *h_server_bin(void);
const char *h_feedsim_bin(void);

/* Spawn argv[0] (a path, or a name looked up in PATH) with argv (NULL-terminated); stdout/stderr are appended to `log_path` (may be
 * NULL: inherited). The child dies with the calling process (PR_SET_PDEATHSIG) and starts with
 * SIGPIPE at its default. Returns the pid, or -1 when fork failed. */
pid_t h_spawn(char *const argv[], const char *log_path);

/* Block until 127.0.0.1:port accepts a connection or timeout_ms passes. Returns 0 or -1. */
int h_wait_port(int port, int timeout_ms);

/* Send `sig`, wait up to timeout_ms for exit; SIGKILL after that. Returns the wait status. */
int h_stop(pid_t pid, int sig, int timeout_ms);

/* Start feedsim on a free port with extra args (NULL-terminated list); waits until it listens.
 * *port gets the port. Returns the pid. */
pid_t h_start_feedsim(int *port, const char *log_path, ...) __attribute__((sentinel));

/* Write a config (the given YAML text) into dir/server.conf, start AS_SERVER with it and
 * wait until `port` listens. Returns the pid. */
pid_t h_start_server(const char *dir, const char *yaml, int port, const char *log_path);

/* HTTP response. */
typedef struct {
    long status;
    char *body;        /* malloc'd, NUL-terminated */
    size_t len;
    char *headers;     /* malloc'd raw header block */
} h_resp_t;
void h_resp_free(h_resp_t *r);

/* GET/POST a URL (http://127.0.0.1:port/...); extra headers are "Name: value" strings,
 * NULL-terminated array or NULL. Returns 0 if a response arrived. */
int h_http(const char *method, const char *url, const char *const *headers, const char *body,
           h_resp_t *out, long timeout_ms);
int h_get(const char *url, h_resp_t *out);

/* Same, asking for a CURL_HTTP_VERSION_* (certificates are not verified: loopback test
 * servers use throwaway ones); *got_version (may be NULL) receives the version used. */
int h_http_ex(const char *method, const char *url, const char *const *headers, const char *body,
              h_resp_t *out, long timeout_ms, long http_version, long *got_version);

/* Poll GET url every 50 ms until the body contains `needle` (or timeout). Returns 0 or -1. */
int h_wait_body_contains(const char *url, const char *needle, int timeout_ms);

/* The value of the sample `series` (its name with its labels, e.g. as_x_total{reason="a"}) in
 * the Prometheus text that GET url (a /metrics) answers with headers (as h_http); -1 when it is
 * absent or the answer is not a 200. */
long h_metric(const char *url, const char *const *headers, const char *series);

/* ---- shell commands ---- */

/* What h_run saw. */
typedef struct {
    char *out;         /* malloc'd, NUL-terminated: what the command wrote */
    size_t len;
    int exited;        /* 1: it exited by itself (then status is its wait status); 0: it was killed */
    int status;
} h_cmd_t;

/* Run `cmd` with /bin/sh -c in a process group of its own, its stdout captured (and stderr too
 * when `with_stderr`; else stderr goes to /dev/null), until it exits, or what it wrote contains
 * `stop_at` (NULL: never), or timeout_ms passes; then the whole group is killed (SIGKILL), so a
 * command that streams forever (curl -N) ends there. Environment and working directory are the
 * caller's. Returns 0, or -1 when it could not be started. */
int h_run(const char *cmd, int with_stderr, const char *stop_at, long timeout_ms, h_cmd_t *out);
void h_cmd_free(h_cmd_t *c);

/* ---- SSE ---- */
typedef struct {
    char id[128];
    char event[64];
    char *data;        /* malloc'd */
} h_event_t;

typedef struct {
    h_event_t *ev; size_t n, cap;
    long status;
    int comments;      /* ": ..." lines seen (keepalives) */
    int retry_ms;      /* last retry: field, -1 if none */
    char last_id[128]; /* last id seen */
    int ended;         /* the response finished */
    char *headers;     /* raw response headers */
} h_sse_t;

/* Read an SSE stream from `url` (extra headers as in h_http) until one of: the response ends,
 * `stop_after` events have been read (0: no limit), an event named `stop_event` arrived (NULL:
 * none), or timeout_ms passed. Appends into *out (zero it first). Returns 0 unless curl failed
 * to connect. */
int h_sse_read(const char *url, const char *const *headers, size_t stop_after,
               const char *stop_event, long timeout_ms, h_sse_t *out);
void h_sse_free(h_sse_t *s);

/* Count of events named `name`. */
size_t h_sse_count(const h_sse_t *s, const char *name);

#endif
