/* feed.h -- feedsim's HTTP behaviour on top of the model (sim.h): the activity-stream and
 * outbox endpoints, Hawk checking, injected faults, live changes driven by rates, and the
 * /_control endpoints tests use. Single-threaded (runs inside httpd's loop). */
#ifndef FEEDSIM_FEED_H
#define FEEDSIM_FEED_H
#include <stddef.h>

#include "httpd.h"
#include "sim.h"

enum { FEED_ACTIVITY_STREAM, FEED_OUTBOX };

typedef struct {
    double r5xx, r429, rinvalid, rtruncate;     /* ratios of feed requests, 0..1 */
    int slow_ms;                                /* delay of every feed response */
    int retry_after_s;                          /* Retry-After of 429 answers */
} feed_faults_t;

typedef struct {
    int style;                  /* FEED_* */
    size_t page_size;
    double rate, update_rate, delete_rate;      /* per second */
    const char *hawk_id, *hawk_key;             /* BORROWED; NULL: no authentication */
    feed_faults_t faults;
} feed_opts_t;

typedef struct feed feed_t;

/* Takes ownership of `sim`, also on failure. Returns 0 or -ENOMEM. */
int feed_create(feed_t **out, const feed_opts_t *o, sim_t *sim);
void feed_destroy(feed_t *f);           /* NULL is a no-op */
void feed_set_port(feed_t *f, int port);    /* for URLs when a request has no Host */

/* httpd callbacks; `ud` is the feed_t. */
void feed_handle(void *ud, const httpd_req_t *req, httpd_resp_t *resp);
int feed_tick(void *ud);

#endif
