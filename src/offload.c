/* offload.c -- run a request's blocking work on a helper thread, answer on the loop thread. */
#include "offload.h"
#include "log.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct job job_t;

typedef struct {
    h2o_generator_t super;
    job_t *job;                        /* BORROWED; the job outlives this only on success */
} job_generator_t;

struct job {
    h2o_multithread_message_t msg;     /* first: queued to the loop when the work is done */
    h2o_multithread_receiver_t *done;
    h2o_req_t *req;                    /* borrowed; NULL once the client left (loop thread only) */
    offload_fn *fn;
    void *arg;                         /* owned */
    void (*free_arg)(void *);
    const char *content_type;          /* static; the work may choose another */
    int status;
    char *body;                        /* owned (malloc), set by the helper thread */
    size_t len;
};

static _Atomic int running;

int offload_running(void)
{
    return atomic_load(&running);
}

static void job_free(job_t *job)
{
    if (job->free_arg)
        job->free_arg(job->arg);
    free(job->body);
    free(job);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    ((job_generator_t *)g)->job->req = NULL;
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    /* the response is sent in one piece with FINAL: nothing more to give */
}

static void *job_main(void *p)
{
    job_t *job = p;
    job->status = job->fn(job->arg, &job->body, &job->len, &job->content_type);
    atomic_fetch_sub(&running, 1);
    h2o_multithread_send_message(job->done, &job->msg);
    return NULL;
}

static void send_result(job_t *job)
{
    h2o_req_t *req = job->req;
    if (!job->body) {
        job->status = 500;
        job->body = strdup("{\"error\":\"out of memory\"}");
        job->len = job->body ? strlen(job->body) : 0;
    }
    /* Status and headers go out with the first send; the length stays unset because the
     * response filters were chosen at h2o_start_response. */
    req->res.status = job->status;
    req->res.reason = httpreq_reason(job->status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, job->content_type,
                   strlen(job->content_type));
    h2o_iovec_t body = h2o_strdup(&req->pool, job->body ? job->body : "", job->len);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

void offload_deliver(h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        job_t *job = H2O_STRUCT_FROM_MEMBER(job_t, msg.link, messages->next);
        h2o_linklist_unlink(&job->msg.link);
        if (job->req)
            send_result(job);
        job_free(job);
    }
}

int offload_request(h2o_req_t *req, h2o_multithread_receiver_t *done, offload_fn *fn, void *arg,
                    void (*free_arg)(void *), const char *content_type)
{
    pthread_t t;
    pthread_attr_t attr;
    if (atomic_fetch_add(&running, 1) >= OFFLOAD_MAX_RUNNING) {
        atomic_fetch_sub(&running, 1);
        return OFFLOAD_ERR_BUSY;
    }
    job_t *job = calloc(1, sizeof *job);
    if (!job) {
        atomic_fetch_sub(&running, 1);
        return OFFLOAD_ERR_NOMEM;
    }
    *job = (job_t){.done = done, .req = req, .fn = fn, .arg = arg, .free_arg = free_arg, .content_type = content_type};
    job_generator_t *gen = h2o_mem_alloc_pool(&req->pool, sizeof *gen);
    gen->super.proceed = on_proceed;
    gen->super.stop = on_stop;
    gen->job = job;
    h2o_start_response(req, &gen->super);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, job_main, job) != 0) {
        log_error("offload", "cannot start a thread; running the job on the loop");
        job_main(job);
    }
    pthread_attr_destroy(&attr);
    return 0;
}
