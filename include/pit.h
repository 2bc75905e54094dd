/* pit.h -- the registry of open frozen views (store_view_t): Elasticsearch's points in time and
 * scroll contexts. Each entry holds one view and its owner's state behind an unguessable id,
 * lives until it is closed or its keep-alive passes, and is used by one search at a time.
 *
 * Bounds: at most `max_open` entries (PIT and scroll together), each kept alive at most
 * `max_keep_alive_ms` past its last use; a reaper thread closes expired entries every second, so
 * that no view pins the store's pages for longer. An entry whose view the store ended (map
 * growth: STORE_ERR_EXPIRED) is dropped by the search that finds out.
 *
 * Threads: every function may be called from any thread. An entry given out by pit_open or
 * pit_acquire is HELD: nobody else uses its view or state until pit_release; closing or expiry
 * meanwhile only unlists it (later lookups miss), and the last holder frees it. */
#ifndef PIT_H
#define PIT_H
#include <stddef.h>
#include <stdint.h>
#include "metrics.h"
#include "store.h"

typedef struct pit_reg pit_reg_t;
typedef struct pit pit_t;

/* Error codes (negative). */
enum {
    PIT_ERR_TOO_MANY = -1,     /* max_open entries are open */
    PIT_ERR_MISSING = -2,      /* no such entry (never was, closed, or expired) */
    PIT_ERR_NOMEM = -3,
    PIT_ERR_STORE = -4,        /* the store could not open a view */
    PIT_ERR_CLOSED = -5,       /* the registry is shutting down */
    PIT_ERR_KEEP_ALIVE = -6,   /* keep-alive not in 1 ms .. max_keep_alive_ms */
};

/* The kinds of entry; an id finds only an entry of the kind asked for. */
enum { PIT_KIND_PIT = 1, PIT_KIND_SCROLL = 2 };

#define PIT_ID_LEN 32                     /* hex digits of 16 random bytes */
#define PIT_DEFAULT_MAX_OPEN 32
#define PIT_MAX_KEEP_ALIVE_MS (10 * 60 * 1000)

/* What an entry's owner keeps with it; freed with the entry. */
typedef void pit_state_free_fn(void *state);

/* A registry over `st` (BORROWED: it must outlive the registry) with its reaper thread running.
 * Returns 0, PIT_ERR_NOMEM, or PIT_ERR_CLOSED when the thread cannot start. */
int pit_reg_new(pit_reg_t **out, store_t *st, size_t max_open, int64_t max_keep_alive_ms);

/* Stop the reaper and close every entry (held ones when their holder releases them); opens and
 * lookups fail with PIT_ERR_CLOSED from now on. Before the store closes. Idempotent. */
void pit_reg_shutdown(pit_reg_t *r);

/* Shut down and free. No entry may still be held. NULL is a no-op. */
void pit_reg_free(pit_reg_t *r);

/* Open a view of the store as it is now under a new id, kept alive keep_alive_ms, with `state`
 * (the entry OWNS it from a successful return: freed with free_state, which may be NULL).
 * Returns 0 and the entry HELD in *out, or PIT_ERR_TOO_MANY, PIT_ERR_KEEP_ALIVE, PIT_ERR_STORE,
 * PIT_ERR_NOMEM, PIT_ERR_CLOSED (then the state is still the caller's). */
int pit_open(pit_reg_t *r, int kind, int64_t keep_alive_ms, void *state, pit_state_free_fn *free_state,
             pit_t **out);

/* Find the entry of `kind` with id[0..len) and hold it (waiting while another search uses it);
 * keep_alive_ms > 0 extends it to that long from now. Returns 0 and *out, PIT_ERR_MISSING,
 * PIT_ERR_KEEP_ALIVE or PIT_ERR_CLOSED. */
int pit_acquire(pit_reg_t *r, int kind, const char *id, size_t len, int64_t keep_alive_ms, pit_t **out);

/* Give a held entry back. */
void pit_release(pit_t *p);

/* Give it back and close it: its view answered STORE_ERR_EXPIRED (or it is of no more use). */
void pit_drop(pit_t *p);

/* Close the entry of `kind` with this id. Returns 0 or PIT_ERR_MISSING. */
int pit_close(pit_reg_t *r, int kind, const char *id, size_t len);

/* Close every entry of `kind`; returns how many. */
size_t pit_close_kind(pit_reg_t *r, int kind);

/* A held entry's id (PIT_ID_LEN characters, NUL-terminated), view and state (all BORROWED for
 * as long as it is held). */
const char *pit_id(const pit_t *p);
store_view_t *pit_view(pit_t *p);
void *pit_state(pit_t *p);

/* Entries open now. */
size_t pit_count(pit_reg_t *r);

/* Close what expired by now_ms (clock_mono_ms); what the reaper runs every second. Returns how
 * many were closed. */
size_t pit_reap(pit_reg_t *r, int64_t now_ms);

/* /metrics: entries open, opened, refused over the bound, reaped (a metrics_collect_fn; `reg`
 * is the pit_reg_t). */
void pit_report_metrics(metrics_out_t *out, void *reg);

#endif
