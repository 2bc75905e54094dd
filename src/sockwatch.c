/* sockwatch.c -- notice peers that hang up on sockets nobody reads: an epoll set of descriptors
 * watched for EPOLLRDHUP, itself one socket of the h2o loop (see sockwatch.h).
 *
 * Watches are one-shot (EPOLLONESHOT): a hang-up is reported once and the descriptor stays in
 * the set, disarmed, until its owner removes it. Events are taken one epoll_wait at a time, so
 * a callback that ends other watches never leaves a stale event behind in a batch. */
#include "sockwatch.h"
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define HANGUPS_PER_ITERATION 256   /* the rest wait for the next loop iteration */

struct sockwatch {
    h2o_socket_t *sock;        /* owned: the epoll descriptor, as a socket of the loop */
    int epfd;                  /* sock's descriptor */
    sockwatch_fn *on_hangup;
    size_t count;
};

/* The epoll set has events (the loop does not read it: H2O_SOCKET_FLAG_DONT_READ). */
static void on_ready(h2o_socket_t *sock, const char *err)
{
    sockwatch_t *w = sock->data;
    struct epoll_event ev;
    for (int i = 0; i < HANGUPS_PER_ITERATION && epoll_wait(w->epfd, &ev, 1, 0) == 1; i++)
        w->on_hangup(ev.data.ptr);
}

int sockwatch_new(sockwatch_t **out, h2o_loop_t *loop, sockwatch_fn *on_hangup)
{
    sockwatch_t *w = calloc(1, sizeof *w);
    *out = NULL;
    if (!w)
        return SOCKWATCH_ERR_NOMEM;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) {
        free(w);
        return SOCKWATCH_ERR_SYS;
    }
    w->on_hangup = on_hangup;
    w->sock = h2o_evloop_socket_create(loop, w->epfd, H2O_SOCKET_FLAG_DONT_READ);
    w->sock->data = w;
    h2o_socket_read_start(w->sock, on_ready);
    *out = w;
    return 0;
}

void sockwatch_free(sockwatch_t *w)
{
    if (!w)
        return;
    h2o_socket_read_stop(w->sock);
    h2o_socket_close(w->sock);   /* closes epfd */
    free(w);
}

int sockwatch_add(sockwatch_t *w, int fd, void *ud)
{
    struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLONESHOT, .data.ptr = ud};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return SOCKWATCH_ERR_SYS;
    w->count++;
    return 0;
}

void sockwatch_remove(sockwatch_t *w, int fd)
{
    if (epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL) == 0)
        w->count--;
}

size_t sockwatch_count(const sockwatch_t *w)
{
    return w->count;
}
