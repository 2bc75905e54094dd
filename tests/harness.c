/* harness.c -- integration-test helpers: ports, temp dirs, child processes, HTTP and SSE
 * over libcurl. Everything talks to 127.0.0.1 only. See harness.h. */
#include "harness.h"
#include "clock.h"
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int h_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

char *h_tmpdir(void)
{
    char *p = strdup("/tmp/as-test-XXXXXX");
    if (p && !mkdtemp(p)) {
        free(p);
        return NULL;
    }
    return p;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

void h_rmdir(const char *path)
{
    if (path)
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int h_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

char *h_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
        buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (f)
        fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = (size_t)n;
    return buf;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

const char *h_server_bin(void)
{
    return env_or("AS_SERVER", "bin/activity-stream");
}

const char *h_feedsim_bin(void)
{
    return env_or("AS_FEEDSIM", "bin/feedsim");
}

pid_t h_spawn(char *const argv[], const char *log_path)
{
    pid_t parent = getpid(), pid = fork();
    if (pid != 0)
        return pid; /* -1 when fork failed */
    /* Die with the test process, even when a failed assertion skips its cleanup. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    signal(SIGPIPE, SIG_DFL);
    if (log_path) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
    }
    execvp(argv[0], argv);   /* a bare name is looked up in PATH */
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

int h_wait_port(int port, int timeout_ms)
{
    long deadline = clock_mono_ms() + timeout_ms;
    do {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return 0;
        usleep(20000);
    } while (clock_mono_ms() < deadline);
    return -1;
}

int h_stop(pid_t pid, int sig, int timeout_ms)
{
    int status = 0;
    long deadline = clock_mono_ms() + timeout_ms;
    kill(pid, sig);
    while (clock_mono_ms() < deadline) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return status;
}

/* ---- shell commands ---- */

static void run_child(const char *cmd, int out_fd, int with_stderr)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGPIPE, SIG_DFL);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(out_fd, 1);
    dup2(with_stderr ? out_fd : null, 2);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
}

/* Append what is readable on fd to out; returns 0 at end of file or on an error. */
static int run_read(int fd, h_cmd_t *out)
{
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0)
        return n < 0 && errno == EINTR;
    char *p = realloc(out->out, out->len + (size_t)n + 1);
    if (!p)
        return 0;
    memcpy(p + out->len, buf, (size_t)n);
    out->out = p;
    out->len += (size_t)n;
    p[out->len] = '\0';
    return 1;
}

int h_run(const char *cmd, int with_stderr, const char *stop_at, long timeout_ms, h_cmd_t *out)
{
    int fds[2];
    memset(out, 0, sizeof *out);
    if (!(out->out = calloc(1, 1)) || pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0)
        run_child(cmd, fds[1], with_stderr);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    setpgid(pid, pid);
    long deadline = clock_mono_ms() + timeout_ms;
    int open_ = 1;
    while (open_ && !(stop_at && strstr(out->out, stop_at))) {
        long left = deadline - clock_mono_ms();
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        if (left <= 0)
            break;
        if (poll(&pfd, 1, (int)left) > 0)
            open_ = run_read(fds[0], out);
    }
    close(fds[0]);
    /* at end of output the command is exiting: give it a moment to be reaped */
    for (long until = clock_mono_ms() + (open_ ? 0 : 2000); !out->exited;) {
        out->exited = waitpid(pid, &out->status, WNOHANG) == pid;
        if (out->exited || clock_mono_ms() >= until)
            break;
        usleep(5000);
    }
    if (!out->exited) {
        kill(-pid, SIGKILL);
        waitpid(pid, &out->status, 0);
    }
    kill(-pid, SIGKILL);   /* anything the command left behind in its group */
    return 0;
}

void h_cmd_free(h_cmd_t *c)
{
    free(c->out);
    c->out = NULL;
    c->len = 0;
}

pid_t h_start_feedsim(int *port, const char *log_path, ...)
{
    char *argv[64];
    char portbuf[16];
    int n = 0;
    *port = h_free_port();
    snprintf(portbuf, sizeof portbuf, "%d", *port);
    argv[n++] = (char *)h_feedsim_bin();
    argv[n++] = "--port";
    argv[n++] = portbuf;
    va_list ap;
    va_start(ap, log_path);
    for (char *a; n < 63 && (a = va_arg(ap, char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    pid_t pid = h_spawn(argv, log_path);
    if (h_wait_port(*port, 10000) != 0) {
        h_stop(pid, SIGKILL, 1000);
        return -1;
    }
    return pid;
}

pid_t h_start_server(const char *dir, const char *yaml, int port, const char *log_path)
{
    char conf[4096];
    snprintf(conf, sizeof conf, "%s/server.conf", dir);
    if (h_write_file(conf, yaml) != 0)
        return -1;
    char *argv[] = {(char *)h_server_bin(), "--config", conf, NULL};
    pid_t pid = h_spawn(argv, log_path);
    if (h_wait_port(port, 20000) != 0) {
        h_stop(pid, SIGKILL, 1000);
        return -1;
    }
    return pid;
}

/* ---- HTTP ---- */

typedef struct {
    char *p;
    size_t len;
} growbuf_t;

static size_t growbuf_write(char *data, size_t size, size_t nmemb, void *ud)
{
    growbuf_t *b = ud;
    size_t n = size * nmemb;
    char *np = realloc(b->p, b->len + n + 1);
    if (!np)
        return 0;
    memcpy(np + b->len, data, n);
    b->p = np;
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

void h_resp_free(h_resp_t *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

static struct curl_slist *make_headers(const char *const *headers)
{
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    return list;
}

int h_http(const char *method, const char *url, const char *const *headers, const char *body,
           h_resp_t *out, long timeout_ms)
{
    return h_http_ex(method, url, headers, body, out, timeout_ms, CURL_HTTP_VERSION_NONE, NULL);
}

int h_http_ex(const char *method, const char *url, const char *const *headers, const char *body,
              h_resp_t *out, long timeout_ms, long http_version, long *got_version)
{
    growbuf_t b = {0}, h = {0};
    CURL *c = curl_easy_init();
    struct curl_slist *list = make_headers(headers);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, growbuf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, growbuf_write);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, http_version);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L); /* throwaway certificates, loopback only */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    if (strcmp(method, "HEAD") == 0)   /* no body follows, whatever the headers say */
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    CURLcode rc = curl_easy_perform(c);
    memset(out, 0, sizeof *out);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    if (got_version)
        curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, got_version);
    out->body = b.p ? b.p : strdup("");
    out->len = b.len;
    out->headers = h.p ? h.p : strdup("");
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    return rc == CURLE_OK || out->status > 0 ? 0 : -1;
}

int h_get(const char *url, h_resp_t *out)
{
    return h_http("GET", url, NULL, NULL, out, 10000);
}

int h_wait_body_contains(const char *url, const char *needle, int timeout_ms)
{
    long deadline = clock_mono_ms() + timeout_ms;
    do {
        h_resp_t r;
        int found = h_get(url, &r) == 0 && r.body && strstr(r.body, needle);
        h_resp_free(&r);
        if (found)
            return 0;
        usleep(50000);
    } while (clock_mono_ms() < deadline);
    return -1;
}

long h_metric(const char *url, const char *const *headers, const char *series)
{
    h_resp_t r;
    long v = -1;
    size_t n = strlen(series);
    if (h_http("GET", url, headers, NULL, &r, 10000) == 0 && r.status == 200 && r.body)
        for (const char *p = r.body; p && v < 0; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
            if (strncmp(p, series, n) == 0 && p[n] == ' ')
                v = strtol(p + n + 1, NULL, 10);
    h_resp_free(&r);
    return v;
}

/* ---- SSE ---- */

typedef struct {
    h_sse_t *out;
    growbuf_t line;          /* partial input not yet split into lines */
    h_event_t cur;           /* event being assembled */
    growbuf_t data;
    int have_event;
    size_t stop_after;
    const char *stop_event;
    int stop;
} sse_reader_t;

static void sse_dispatch(sse_reader_t *r)
{
    h_sse_t *s = r->out;
    if (!r->have_event) {
        memset(&r->cur, 0, sizeof r->cur);
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->ev = realloc(s->ev, s->cap * sizeof *s->ev);
    }
    h_event_t *e = &s->ev[s->n++];
    *e = r->cur;
    if (!e->event[0])
        strcpy(e->event, "message");
    e->data = r->data.p ? r->data.p : strdup("");
    if (e->id[0])
        strcpy(s->last_id, e->id);
    memset(&r->cur, 0, sizeof r->cur);
    memset(&r->data, 0, sizeof r->data);
    r->have_event = 0;
    if ((r->stop_after && s->n >= r->stop_after) || (r->stop_event && strcmp(e->event, r->stop_event) == 0))
        r->stop = 1;
}

static void sse_line(sse_reader_t *r, char *line)
{
    if (!*line) {
        sse_dispatch(r);
        return;
    }
    if (*line == ':') {
        r->out->comments++;
        return;
    }
    char *colon = strchr(line, ':');
    char *val = colon ? colon + 1 : line + strlen(line);
    if (colon)
        *colon = '\0';
    if (*val == ' ')
        val++;
    /* As EventSource does: a block without a data line dispatches nothing. */
    if (strcmp(line, "data") == 0)
        r->have_event = 1;
    if (strcmp(line, "id") == 0)
        snprintf(r->cur.id, sizeof r->cur.id, "%s", val);
    else if (strcmp(line, "event") == 0)
        snprintf(r->cur.event, sizeof r->cur.event, "%s", val);
    else if (strcmp(line, "retry") == 0)
        r->out->retry_ms = atoi(val);
    else if (strcmp(line, "data") == 0) {
        if (r->data.p)
            growbuf_write("\n", 1, 1, &r->data);
        growbuf_write(val, 1, strlen(val), &r->data);
        if (!r->data.p)
            r->data.p = strdup("");
    }
}

static size_t sse_write(char *data, size_t size, size_t nmemb, void *ud)
{
    sse_reader_t *r = ud;
    size_t n = size * nmemb;
    growbuf_write(data, 1, n, &r->line);
    char *start = r->line.p, *nl;
    while (!r->stop && (nl = memchr(start, '\n', r->line.len - (start - r->line.p)))) {
        *nl = '\0';
        if (nl > start && nl[-1] == '\r')
            nl[-1] = '\0';
        sse_line(r, start);
        start = nl + 1;
    }
    size_t rest = r->line.len - (start - r->line.p);
    memmove(r->line.p, start, rest);
    r->line.len = rest;
    r->line.p[rest] = '\0';
    return r->stop ? 0 : n;
}

int h_sse_read(const char *url, const char *const *headers, size_t stop_after,
               const char *stop_event, long timeout_ms, h_sse_t *out)
{
    sse_reader_t r = {.out = out, .stop_after = stop_after, .stop_event = stop_event};
    growbuf_t h = {0};
    if (out->cap == 0)
        out->retry_ms = -1;
    stop_after = stop_after ? out->n + stop_after : 0;
    r.stop_after = stop_after;
    CURL *c = curl_easy_init();
    struct curl_slist *list = make_headers(headers);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, growbuf_write);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    out->ended = rc == CURLE_OK;
    free(out->headers);
    out->headers = h.p ? h.p : strdup("");
    free(r.line.p);
    free(r.data.p);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    return rc == CURLE_COULDNT_CONNECT ? -1 : 0;
}

void h_sse_free(h_sse_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->ev[i].data);
    free(s->ev);
    free(s->headers);
    memset(s, 0, sizeof *s);
}

size_t h_sse_count(const h_sse_t *s, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += strcmp(s->ev[i].event, name) == 0;
    return n;
}
