/* sockwatch.h -- notice at once when the peer of a connected socket hangs up (end of input or a
 * reset), on sockets nobody is reading: libh2o 2.2.5 stops reading an HTTP/1 socket once the
 * request is in, so without this a client that left is only noticed when a write fails.
 *
 * One watcher per event loop: its own epoll set, registered on the loop as one socket. Each
 * watched descriptor is in the set for EPOLLRDHUP (and the always-reported EPOLLHUP and
 * EPOLLERR), not for input, so bytes a client sends never wake it. When the peer hangs up, the
 * callback runs once, on the loop thread, with the watch's user data; the watch stays in the
 * set, disarmed, until sockwatch_remove. A half-close (the peer shuts down its sending side)
 * counts as hanging up.
 *
 * Loop thread only. A descriptor must be removed before it is closed (closing it removes it
 * from the kernel's set too, but a descriptor number reused for a new socket must not find an
 * old watch). */
#ifndef SOCKWATCH_H
#define SOCKWATCH_H
#define H2O_USE_LIBUV 0
#include <h2o.h>

typedef struct sockwatch sockwatch_t;

/* The peer of the watched socket hung up. `ud` is what sockwatch_add was given. The watch will
 * not fire again; its owner still removes it (sockwatch_remove) before closing the descriptor.
 * The callback may add and remove watches, this one included. */
typedef void sockwatch_fn(void *ud);

/* Error codes (negative). */
enum {
    SOCKWATCH_ERR_NOMEM = -1,   /* an allocation failed */
    SOCKWATCH_ERR_SYS = -2,     /* epoll_create1 or epoll_ctl failed; errno says why */
};

/* A watcher on `loop` calling `on_hangup`. Returns 0 and sets *out, or SOCKWATCH_ERR_NOMEM,
 * SOCKWATCH_ERR_SYS (*out NULL). */
int sockwatch_new(sockwatch_t **out, h2o_loop_t *loop, sockwatch_fn *on_hangup);

/* Close the epoll set and free the watcher (watches still in it are dropped). NULL is a
 * no-op. */
void sockwatch_free(sockwatch_t *w);

/* Watch connected socket `fd` (BORROWED: the caller keeps it open until sockwatch_remove);
 * `ud` is passed to the callback. A peer that hung up already is reported at the next loop
 * iteration. Returns 0 or SOCKWATCH_ERR_SYS (EEXIST: fd is watched already). */
int sockwatch_add(sockwatch_t *w, int fd, void *ud);

/* Stop watching `fd` (nothing happens when it is not watched). */
void sockwatch_remove(sockwatch_t *w, int fd);

/* Sockets watched now. */
size_t sockwatch_count(const sockwatch_t *w);

#endif
