/* pit.c -- the registry of open frozen views (points in time, scroll contexts) and its reaper.
 * See pit.h.
 *
 * Locking: `mu` guards the table and every entry's refs, listed and expires_ms; an entry's `use`
 * mutex is held by the one search using its view and state. Order: never take `mu` while
 * waiting for `use` (pit_acquire lets go of `mu` first). An entry is freed when its last
 * reference goes: the table's (dropped when it is unlisted: closed, expired, shut down) or a
 * holder's. Views are closed outside `mu`. */
#include "pit.h"
#include "clock.h"
#include "log.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define REAP_EVERY_MS 1000

struct pit {
    pit_reg_t *reg;                   /* borrowed: the registry it was opened in */
    char id[PIT_ID_LEN + 1];
    int kind;
    store_view_t *view;               /* owned */
    void *state;                      /* owned, freed with free_state */
    pit_state_free_fn *free_state;
    int64_t expires_ms;               /* clock_mono_ms; guarded by mu */
    int refs;                         /* guarded by mu: the table's (while listed) + holders' */
    bool listed;                      /* guarded by mu */
    pthread_mutex_t use;              /* held by the one user */
};

struct pit_reg {
    store_t *st;                      /* borrowed */
    pthread_mutex_t mu;
    pthread_cond_t wake;              /* the reaper's sleep (CLOCK_MONOTONIC) */
    pit_t **ents;                     /* owned array of `max` slots; the listed entries */
    size_t n, max;
    int64_t max_keep_alive_ms;
    pthread_t reaper;
    bool reaper_running, closed;      /* guarded by mu */
    _Atomic uint64_t opened, refused, reaped;
};

/* ---- entries ---- */

static void entry_free(pit_t *p)
{
    store_view_close(p->view);
    if (p->free_state)
        p->free_state(p->state);
    pthread_mutex_destroy(&p->use);
    free(p);
}

/* Drop one reference (under mu); returns the entry when it is to be freed (after unlocking). */
static pit_t *unref_locked(pit_t *p)
{
    return --p->refs == 0 ? p : NULL;
}

/* Remove table slot i (under mu); returns the entry when it is to be freed. */
static pit_t *unlist_locked(pit_reg_t *r, size_t i)
{
    pit_t *p = r->ents[i];
    r->ents[i] = r->ents[--r->n];
    p->listed = false;
    return unref_locked(p);
}

static bool id_equal(const pit_t *p, const char *id, size_t len)
{
    unsigned char diff = 0;
    if (len != PIT_ID_LEN)
        return false;
    for (size_t i = 0; i < PIT_ID_LEN; i++)   /* constant time: ids are secrets */
        diff |= (unsigned char)(p->id[i] ^ id[i]);
    return diff == 0;
}

static ssize_t find_locked(pit_reg_t *r, int kind, const char *id, size_t len)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->ents[i]->kind == kind && id_equal(r->ents[i], id, len))
            return (ssize_t)i;
    return -1;
}

static int make_id(char out[PIT_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[PIT_ID_LEN / 2];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[PIT_ID_LEN] = '\0';
    return 0;
}

static bool keep_alive_ok(const pit_reg_t *r, int64_t ms)
{
    return ms > 0 && ms <= r->max_keep_alive_ms;
}

/* ---- open, acquire, release, close ---- */

static pit_t *entry_new(pit_reg_t *r, int kind, void *state, pit_state_free_fn *free_state, int *rc)
{
    pit_t *p = calloc(1, sizeof *p);
    *rc = PIT_ERR_NOMEM;
    if (!p || make_id(p->id) != 0) {
        free(p);
        return NULL;
    }
    if (store_view_open(r->st, &p->view) != 0) {
        *rc = PIT_ERR_STORE;
        free(p);
        return NULL;
    }
    p->reg = r;
    p->kind = kind;
    p->state = state;
    p->free_state = free_state;
    p->refs = 2;   /* the table's and the opener's */
    p->listed = true;
    pthread_mutex_init(&p->use, NULL);
    pthread_mutex_lock(&p->use);
    *rc = 0;
    return p;
}

/* Is there room for one more (under mu)? Counts a refusal when not. */
static int room_locked(pit_reg_t *r)
{
    if (r->closed)
        return PIT_ERR_CLOSED;
    if (r->n < r->max)
        return 0;
    atomic_fetch_add(&r->refused, 1);
    return PIT_ERR_TOO_MANY;
}

int pit_open(pit_reg_t *r, int kind, int64_t keep_alive_ms, void *state, pit_state_free_fn *free_state,
             pit_t **out)
{
    *out = NULL;
    if (!keep_alive_ok(r, keep_alive_ms))
        return PIT_ERR_KEEP_ALIVE;
    pthread_mutex_lock(&r->mu);
    int rc = room_locked(r);
    pthread_mutex_unlock(&r->mu);
    pit_t *p = rc ? NULL : entry_new(r, kind, state, free_state, &rc);
    if (!p)
        return rc;
    pthread_mutex_lock(&r->mu);
    rc = room_locked(r);   /* again: others may have opened meanwhile */
    if (rc == 0) {
        p->expires_ms = clock_mono_ms() + keep_alive_ms;
        r->ents[r->n++] = p;
        atomic_fetch_add(&r->opened, 1);
    }
    pthread_mutex_unlock(&r->mu);
    if (rc) {
        p->free_state = NULL;   /* the state stays the caller's */
        pthread_mutex_unlock(&p->use);
        entry_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* Look the entry up and reference it (under mu). An expired one is unlisted on the way. */
static pit_t *lookup_locked(pit_reg_t *r, int kind, const char *id, size_t len, int64_t keep_alive_ms,
                            pit_t **dead)
{
    int64_t now = clock_mono_ms();
    ssize_t i = find_locked(r, kind, id, len);
    *dead = NULL;
    if (i < 0)
        return NULL;
    pit_t *p = r->ents[i];
    if (p->expires_ms <= now) {
        *dead = unlist_locked(r, (size_t)i);
        return NULL;
    }
    if (keep_alive_ms > 0)
        p->expires_ms = now + keep_alive_ms;
    p->refs++;
    return p;
}

int pit_acquire(pit_reg_t *r, int kind, const char *id, size_t len, int64_t keep_alive_ms, pit_t **out)
{
    pit_t *p = NULL, *dead = NULL;
    *out = NULL;
    if (keep_alive_ms && !keep_alive_ok(r, keep_alive_ms))
        return PIT_ERR_KEEP_ALIVE;
    pthread_mutex_lock(&r->mu);
    int rc = r->closed ? PIT_ERR_CLOSED : 0;
    if (rc == 0 && !(p = lookup_locked(r, kind, id, len, keep_alive_ms, &dead)))
        rc = PIT_ERR_MISSING;
    pthread_mutex_unlock(&r->mu);
    if (dead)
        entry_free(dead);
    if (rc)
        return rc;
    pthread_mutex_lock(&p->use);
    pthread_mutex_lock(&r->mu);
    bool gone = !p->listed;   /* closed or expired while we waited */
    pthread_mutex_unlock(&r->mu);
    if (gone) {
        pit_release(p);
        return PIT_ERR_MISSING;
    }
    *out = p;
    return 0;
}

void pit_release(pit_t *p)
{
    pit_reg_t *r = p->reg;
    pthread_mutex_unlock(&p->use);
    pthread_mutex_lock(&r->mu);
    pit_t *dead = unref_locked(p);
    pthread_mutex_unlock(&r->mu);
    if (dead)
        entry_free(dead);
}

void pit_drop(pit_t *p)
{
    pit_reg_t *r = p->reg;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        if (r->ents[i] != p)
            continue;
        unlist_locked(r, i);   /* never the last reference: we hold one */
        break;
    }
    pthread_mutex_unlock(&r->mu);
    pit_release(p);
}

int pit_close(pit_reg_t *r, int kind, const char *id, size_t len)
{
    pthread_mutex_lock(&r->mu);
    ssize_t i = find_locked(r, kind, id, len);
    pit_t *dead = i >= 0 ? unlist_locked(r, (size_t)i) : NULL;
    pthread_mutex_unlock(&r->mu);
    if (dead)
        entry_free(dead);
    return i >= 0 ? 0 : PIT_ERR_MISSING;
}

/* Unlist every entry that `pred` picks (under mu), then free those nobody holds. Returns how
 * many were unlisted. */
typedef bool pick_fn(const pit_t *p, int64_t arg);

static size_t unlist_where(pit_reg_t *r, pick_fn *pick, int64_t arg)
{
    pit_t *dead[r->max ? r->max : 1];
    size_t ndead = 0, n = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n;) {
        if (!pick(r->ents[i], arg)) {
            i++;
            continue;
        }
        pit_t *d = unlist_locked(r, i);   /* slot i now holds the last entry: look again */
        if (d)
            dead[ndead++] = d;
        n++;
    }
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < ndead; i++)
        entry_free(dead[i]);
    return n;
}

static bool pick_kind(const pit_t *p, int64_t kind) { return p->kind == kind; }
static bool pick_expired(const pit_t *p, int64_t now_ms) { return p->expires_ms <= now_ms; }
static bool pick_any(const pit_t *p, int64_t unused) { return true; }

size_t pit_close_kind(pit_reg_t *r, int kind)
{
    return unlist_where(r, pick_kind, kind);
}

size_t pit_reap(pit_reg_t *r, int64_t now_ms)
{
    size_t n = unlist_where(r, pick_expired, now_ms);
    atomic_fetch_add(&r->reaped, n);
    if (n)
        log_info("pit", "closed %zu expired search context%s", n, n == 1 ? "" : "s");
    return n;
}

/* ---- accessors ---- */

const char *pit_id(const pit_t *p) { return p->id; }
store_view_t *pit_view(pit_t *p) { return p->view; }
void *pit_state(pit_t *p) { return p->state; }

size_t pit_count(pit_reg_t *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void pit_report_metrics(metrics_out_t *out, void *reg)
{
    pit_reg_t *r = reg;
    metrics_gauge(out, "as_es_search_contexts", "Open points in time and scroll contexts (frozen views).",
                  pit_count(r));
    metrics_counter(out, "as_es_search_contexts_opened_total", "Points in time and scroll contexts opened.",
                    atomic_load(&r->opened));
    metrics_counter(out, "as_es_search_contexts_refused_total",
                    "Points in time and scroll contexts refused over the bound (429).", atomic_load(&r->refused));
    metrics_counter(out, "as_es_search_contexts_reaped_total", "Search contexts closed when their keep-alive passed.",
                    atomic_load(&r->reaped));
}

/* ---- the reaper and the registry ---- */

static void *reaper_main(void *arg)
{
    pit_reg_t *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->closed) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += REAP_EVERY_MS / 1000;
        pthread_cond_timedwait(&r->wake, &r->mu, &until);
        if (r->closed)
            break;
        pthread_mutex_unlock(&r->mu);
        pit_reap(r, clock_mono_ms());
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static int start_reaper(pit_reg_t *r)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->reaper, NULL, reaper_main, r) != 0)
        return -1;
    r->reaper_running = true;
    return 0;
}

int pit_reg_new(pit_reg_t **out, store_t *st, size_t max_open, int64_t max_keep_alive_ms)
{
    pit_reg_t *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r || !(r->ents = calloc(max_open ? max_open : 1, sizeof *r->ents))) {
        free(r);
        return PIT_ERR_NOMEM;
    }
    r->st = st;
    r->max = max_open;
    r->max_keep_alive_ms = max_keep_alive_ms;
    pthread_mutex_init(&r->mu, NULL);
    if (start_reaper(r) != 0) {
        pit_reg_free(r);
        return PIT_ERR_CLOSED;
    }
    *out = r;
    return 0;
}

void pit_reg_shutdown(pit_reg_t *r)
{
    pthread_mutex_lock(&r->mu);
    bool join = r->reaper_running;
    r->closed = true;
    r->reaper_running = false;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->mu);
    if (join)
        pthread_join(r->reaper, NULL);
    unlist_where(r, pick_any, 0);
}

void pit_reg_free(pit_reg_t *r)
{
    if (!r)
        return;
    pit_reg_shutdown(r);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->mu);
    free(r->ents);
    free(r);
}
