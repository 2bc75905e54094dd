/* offload.h -- answer a request from a helper thread: blocking work (a search that may scan the
 * whole store) runs off the event loop; the loop thread sends the response. A client that
 * leaves meanwhile is noticed and the result dropped. At most OFFLOAD_MAX_RUNNING jobs run at
 * once in the process; over that, offload_request refuses and the caller answers (503 with
 * Retry-After, in its own error shape). */
#ifndef OFFLOAD_H
#define OFFLOAD_H
#include <stddef.h>
#include "httpreq.h"

#define OFFLOAD_MAX_RUNNING 4

/* Error codes (negative). */
enum {
    OFFLOAD_ERR_BUSY = -1,    /* OFFLOAD_MAX_RUNNING jobs are running */
    OFFLOAD_ERR_NOMEM = -2,
};

/* The work, on a helper thread: fill *body (malloc'd) and *len, return the HTTP status.
 * *content_type is the one offload_request was given; the work may point it at another static
 * string. `arg` is what offload_request was given. */
typedef int offload_fn(void *arg, char **body, size_t *len, const char **content_type);

/* Run fn(arg) on a new thread and answer `req` with its result (content_type: a static string).
 * `done` is the loop's receiver: its callback must pass the messages it gets to
 * offload_deliver. Returns 0: `arg` is OWNED by the job from here on and released with
 * free_arg (may be NULL) on the loop thread. Or OFFLOAD_ERR_BUSY / OFFLOAD_ERR_NOMEM: nothing
 * was started, `arg` is still the caller's, and the caller answers the request. */
int offload_request(h2o_req_t *req, h2o_multithread_receiver_t *done, offload_fn *fn, void *arg,
                    void (*free_arg)(void *), const char *content_type);

/* Send the responses of finished jobs (loop thread; `messages` from the receiver callback). */
void offload_deliver(h2o_linklist_t *messages);

/* Jobs still running (for shutdown: the store must outlive them). */
int offload_running(void);

#endif
