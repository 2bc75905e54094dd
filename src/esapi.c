/* esapi.c -- the Elasticsearch API over HTTP: claims, routes, media types, the product header,
 * and the operations run on helper threads. See esapi.h. */
#include "esapi.h"
#include "bytebuf.h"
#include "eserror.h"
#include "esops.h"
#include "esroute.h"
#include "httpreq.h"
#include "offload.h"
#include "pit.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct esapi {
    esops_env_t env;             /* what the operations work with */
    pit_reg_t *pits;             /* owned */
    const char **feeds;          /* owned array of the configured feed ids (cfg's strings) */
    char node_name[256];
    _Atomic bool stopping;
};

/* An operation on its way to a helper thread: everything it reads is copied (the client may
 * leave, and its request with it, while the operation runs). */
typedef struct {
    const esops_env_t *env;      /* borrowed */
    const gate_who_t *who;       /* held until the job is freed: the scope and visible feeds */
    esop_t op;                   /* its strings point into mem */
    char mem[];
} job_t;

static const char ct_text[] = "text/plain; charset=UTF-8";

/* ---- responses ---- */

static void send_body(h2o_req_t *req, int status, const char *ct, bool head, bytebuf_t *b)
{
    if (b->failed || !b->p) {
        bytebuf_clear(b);
        status = eserror_put(b, 500, "out_of_memory", "out of memory", NULL);
    }
    httpreq_send(req, status, NULL, ct, b->p ? b->p : "", head || !b->p ? 0 : b->len);
}

static void send_error(h2o_req_t *req, const char *ct, int status, const char *type, const char *reason)
{
    bytebuf_t b = {0};
    eserror_put(&b, status, type, reason, NULL);
    send_body(req, status, ct, false, &b);
    bytebuf_free(&b);
}

/* ---- operations ---- */

static int run_job(void *arg, char **body, size_t *len, const char **content_type)
{
    job_t *job = arg;
    bytebuf_t b = {0};
    bool text;
    int status = esops_run(job->env, &job->op, &b, &text);
    if (text)
        *content_type = ct_text;
    if (b.failed) {
        bytebuf_free(&b);
        status = eserror_put(&b, 500, "out_of_memory", "out of memory", NULL);
    }
    if (job->op.head)
        bytebuf_free(&b);
    *body = bytebuf_take(&b, len);
    if (!*body) {   /* nothing to send (HEAD), or no memory even for the error */
        *body = strdup("");
        *len = 0;
    }
    return status;
}

/* Copy s[0..n) into the job's memory at *at; returns the copy (NUL-terminated), or NULL for NULL. */
static const char *copy_in(job_t *job, size_t *at, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = job->mem + *at;
    memcpy(d, s, n);
    d[n] = '\0';
    *at += n + 1;
    return d;
}

static bool feed_visible(const void *who, const char *feed, size_t len)
{
    return gate_admits_feed(who, feed, len);
}

static void job_free(void *arg)
{
    job_t *job = arg;
    if (job->who)
        gate_who_release(job->who);
    free(job);
}

static job_t *job_new(esapi_t *es, const esroute_t *rt, h2o_req_t *req, const gate_who_t *who)
{
    const char *qs;
    size_t qs_len, at = 0, plen = strlen(rt->path), ilen = rt->index ? strlen(rt->index) : 0;
    httpreq_query_string(req, &qs, &qs_len);
    job_t *job = malloc(sizeof *job + plen + ilen + rt->id_len + qs_len + req->entity.len + 5);
    if (!job)
        return NULL;
    job->env = &es->env;
    job->who = who;
    if (who)
        gate_who_hold(who);
    job->op = (esop_t){.op = rt->op, .head = rt->head, .id_len = rt->id_len, .qs_len = qs_len,
                       .body_len = req->entity.len, .scope = who ? gate_who_scope(who) : NULL,
                       .visible = who ? feed_visible : NULL, .visible_ud = who,
                       .owner = who && who->principal ? who->client : NULL};
    job->op.path = copy_in(job, &at, rt->path, plen);
    job->op.index = copy_in(job, &at, rt->index, ilen);
    job->op.id = copy_in(job, &at, rt->id, rt->id_len);
    job->op.qs = copy_in(job, &at, qs ? qs : "", qs_len);
    job->op.body = copy_in(job, &at, req->entity.base ? req->entity.base : "", req->entity.len);
    return job;
}

static void offload(esapi_t *es, h2o_multithread_receiver_t *done, h2o_req_t *req, const esroute_t *rt,
                    const gate_who_t *who, const char *ct)
{
    job_t *job = job_new(es, rt, req, who);
    int rc = job ? offload_request(req, done, run_job, job, job_free, ct) : OFFLOAD_ERR_NOMEM;
    if (rc == 0)
        return;
    if (job)
        job_free(job);
    if (rc == OFFLOAD_ERR_BUSY) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
        send_error(req, ct, 503, "es_rejected_execution_exception", "too many searches in progress; retry shortly");
    } else {
        send_error(req, ct, 500, "out_of_memory", "out of memory");
    }
}

/* The root document: no store reads but its id, answered on the loop. */
static void answer_root(esapi_t *es, h2o_req_t *req, const esroute_t *rt, const char *ct)
{
    const char *qs;
    size_t qs_len;
    bool text;
    bytebuf_t b = {0};
    httpreq_query_string(req, &qs, &qs_len);
    esop_t op = {.op = ESOP_ROOT, .head = rt->head, .path = rt->path, .qs = qs, .qs_len = qs_len};
    int status = esops_run(&es->env, &op, &b, &text);
    send_body(req, status, ct, rt->head, &b);
    bytebuf_free(&b);
}

/* ---- requests ---- */

static size_t raw_path_len(h2o_req_t *req)
{
    return req->query_at == SIZE_MAX ? req->path.len : req->query_at;
}

bool esapi_claims(h2o_req_t *req)
{
    const char *accept;
    size_t alen;
    httpreq_header(req, "accept", &accept, &alen);
    return esroute_claims(req->method.base, req->method.len, req->path.base, raw_path_len(req), accept, alen);
}

/* Route and check the request; answers and returns -1 when it is refused. */
static int route(h2o_req_t *req, esroute_t *rt, const char *ct)
{
    size_t plen = raw_path_len(req), buflen = 2 * plen + 8;
    char *buf = h2o_mem_alloc_pool(&req->pool, buflen), reason[512];
    const char *ctype;
    size_t ctlen;
    int rc = esroute_match(req->method.base, req->method.len, req->path.base, plen, buf, buflen, rt);
    httpreq_header(req, "content-type", &ctype, &ctlen);
    if (rc == ESROUTE_ERR_METHOD) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, rt->allow, strlen(rt->allow));
        snprintf(reason, sizeof reason, "Incorrect HTTP method for uri [%s] and method [%.*s], allowed: [%s]", rt->path,
                 (int)req->method.len, req->method.base, rt->allow);
        send_error(req, ct, 405, "illegal_argument_exception", reason);
    } else if (rc == ESROUTE_ERR_NO_HANDLER || rc == ESROUTE_ERR_PATH) {
        snprintf(reason, sizeof reason, rc == ESROUTE_ERR_PATH ? "malformed path [%.*s]"
                                                                : "no handler found for uri [%.*s] and method [%.*s]",
                 (int)plen, req->path.base, (int)req->method.len, req->method.base);
        send_error(req, ct, 400, "illegal_argument_exception", reason);
    } else if (req->entity.len && esroute_content_type(ctype, ctlen) < 0) {
        snprintf(reason, sizeof reason, "Content-Type header [%.*s] is not supported: compatible-with must be 7 or 8",
                 (int)ctlen, ctype);
        send_error(req, ct, 400, "media_type_header_exception", reason);
        rc = -1;
    }
    return rc < 0 ? -1 : 0;
}

void esapi_handle(esapi_t *es, h2o_multithread_receiver_t *done, h2o_req_t *req, const gate_who_t *who)
{
    const char *accept, *ct;
    size_t alen;
    esroute_t rt;
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-elastic-product"), 0, NULL,
                          H2O_STRLIT("Elasticsearch"));
    httpreq_header(req, "accept", &accept, &alen);
    if (esroute_accept(accept, alen, &ct) < 0) {
        send_error(req, ct, 400, "media_type_header_exception", "Accept header: compatible-with must be 7 or 8");
        return;
    }
    if (atomic_load(&es->stopping)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
        send_error(req, ct, 503, "node_closed_exception", "the server is shutting down");
        return;
    }
    if (route(req, &rt, ct) < 0)
        return;
    if (rt.op == ESOP_ROOT)
        answer_root(es, req, &rt, ct);
    else
        offload(es, done, req, &rt, who, ct);
}

/* ---- lifecycle ---- */

int esapi_new(esapi_t **out, const config_t *cfg, store_t *st, metrics_t *m)
{
    esapi_t *es = calloc(1, sizeof *es);
    *out = NULL;
    if (!es || !(es->feeds = calloc(cfg->nfeeds ? cfg->nfeeds : 1, sizeof *es->feeds)) ||
        pit_reg_new(&es->pits, st, cfg->max_search_contexts, PIT_MAX_KEEP_ALIVE_MS) != 0 ||
        metrics_register(m, pit_report_metrics, es->pits) != 0) {
        esapi_free(es);
        return -1;
    }
    for (size_t i = 0; i < cfg->nfeeds; i++)
        es->feeds[i] = cfg->feeds[i].id;
    if (gethostname(es->node_name, sizeof es->node_name - 1) != 0 || !es->node_name[0])
        strcpy(es->node_name, "activity-stream");
    es->env = (esops_env_t){.st = st, .pits = es->pits, .feeds = es->feeds, .nfeeds = cfg->nfeeds,
                            .node_name = es->node_name};
    *out = es;
    return 0;
}

void esapi_shutdown(esapi_t *es)
{
    atomic_store(&es->stopping, true);
    if (es->pits)
        pit_reg_shutdown(es->pits);
}

void esapi_free(esapi_t *es)
{
    if (!es)
        return;
    pit_reg_free(es->pits);
    free(es->feeds);
    free(es);
}
