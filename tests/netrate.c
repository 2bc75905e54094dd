/* netrate.c -- the loopback TCP rate of a file (see netrate.h). */
#include "netrate.h"
#include "clock.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int lfd;              /* borrowed: the listening socket */
    const char *path;     /* borrowed */
    uint64_t size;
    int rc;               /* 0 once every byte was sent */
} sender_t;

/* The helper thread: accept one connection and sendfile the file into it. */
static void *sender_main(void *arg)
{
    sender_t *s = arg;
    s->rc = -1;
    int cfd = accept(s->lfd, NULL, NULL);
    int ffd = open(s->path, O_RDONLY | O_CLOEXEC);
    off_t off = 0;
    while (cfd >= 0 && ffd >= 0 && (uint64_t)off < s->size) {
        ssize_t w = sendfile(cfd, ffd, &off, s->size - (uint64_t)off);
        if (w <= 0)
            break;
    }
    if ((uint64_t)off == s->size)
        s->rc = 0;
    if (cfd >= 0)
        close(cfd);
    if (ffd >= 0)
        close(ffd);
    return NULL;
}

static int connect_loopback(const struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (const struct sockaddr *)a, sizeof *a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

double netrate_loopback(const char *path, uint64_t size, size_t read_buf)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    sender_t s = {.path = path, .size = size, .rc = -1};
    pthread_t th;
    char *buf = read_buf ? malloc(read_buf) : NULL;
    double rate = -1;
    s.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (!buf || s.lfd < 0 || bind(s.lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s.lfd, 1) != 0 ||
        getsockname(s.lfd, (struct sockaddr *)&a, &alen) != 0 || pthread_create(&th, NULL, sender_main, &s) != 0)
        goto out;
    int64_t t0 = clock_mono_ns();
    int fd = connect_loopback(&a);
    uint64_t got = 0;
    ssize_t n;
    while (fd >= 0 && (n = read(fd, buf, read_buf)) > 0)
        got += (uint64_t)n;
    double secs = (clock_mono_ns() - t0) / 1e9;
    if (fd >= 0)
        close(fd);
    else
        shutdown(s.lfd, SHUT_RDWR);   /* wakes the thread's accept (Linux) */
    pthread_join(th, NULL);
    if (s.rc == 0 && got == size)
        rate = (double)size / secs;
out:
    if (s.lfd >= 0)
        close(s.lfd);
    free(buf);
    return rate;
}
