/* sim.h -- feedsim's model: an ordered log of synthetic activities, each with a version and a
 * modification sequence number (mseq), and their pre-rendered JSON.
 *
 * The log is ordered by mseq. Adding appends; updating removes an entry from its place and
 * appends it again with version+1 and a new mseq; deleting removes it. Every change takes the
 * next mseq, so `sim_mseq` changes whenever any page could change. Single-threaded. */
#ifndef FEEDSIM_SIM_H
#define FEEDSIM_SIM_H
#include <stddef.h>
#include <stdint.h>

typedef struct sim sim_t;

typedef struct {
    uint64_t seed;          /* ids are urn:feedsim:<seed>:<n>; content derives from it */
    size_t count;           /* historical activities created at start */
    size_t size;            /* approximate size of one activity's JSON, bytes */
    int64_t start_us;       /* published time of item 0; item n is start + n seconds */
} sim_opts_t;

/* One live activity. Pointers are BORROWED from the model and valid until its next change. */
typedef struct {
    uint64_t n;             /* activity number: id is urn:feedsim:<seed>:<n> */
    uint64_t mseq;          /* modification sequence number (position in the log) */
    uint32_t version;       /* 1 when created, +1 per update */
    const char *json;       /* rendered activity (not NUL-terminated) */
    size_t len;
} sim_item_t;

/* Create the model with o->count historical activities. Returns 0 or -ENOMEM. */
int sim_create(sim_t **out, const sim_opts_t *o);
void sim_destroy(sim_t *s);     /* NULL is a no-op */

size_t sim_count(const sim_t *s);       /* live activities */
uint64_t sim_mseq(const sim_t *s);      /* last modification seq (0: none yet) */
uint64_t sim_seed(const sim_t *s);

/* Append k new activities published at now_us. Returns 0 or -ENOMEM. */
int sim_add(sim_t *s, size_t k, int64_t now_us);

/* Update / delete the k oldest (lowest mseq) activities, or k chosen by the model's
 * deterministic random generator. Return how many were changed (fewer when fewer exist),
 * or -ENOMEM. */
int sim_update_oldest(sim_t *s, size_t k, int64_t now_us);
int sim_update_random(sim_t *s, size_t k, int64_t now_us);
int sim_delete_oldest(sim_t *s, size_t k);
int sim_delete_random(sim_t *s, size_t k);

/* Update / delete the activity with id `urn` (urn:feedsim:<seed>:<n>). Return 0, -ENOENT when
 * there is no such live activity, or -ENOMEM. */
int sim_update_id(sim_t *s, const char *urn, int64_t now_us);
int sim_delete_id(sim_t *s, const char *urn);

/* Up to `max` live activities with mseq > after, oldest first, into items[]. Returns the count,
 * or -ENOMEM when an activity could not be rendered. */
long sim_after(sim_t *s, uint64_t after, size_t max, sim_item_t *items);

/* Up to `max` live activities with mseq < before (0: no bound), newest first. Returns the
 * count or -ENOMEM. */
long sim_before(sim_t *s, uint64_t before, size_t max, sim_item_t *items);

/* Whether a live activity with mseq < before exists. */
int sim_has_before(const sim_t *s, uint64_t before);

/* Call fn for every live activity, oldest first (id number and version). */
typedef void sim_each_fn(uint64_t n, uint32_t version, void *ud);
void sim_each(const sim_t *s, sim_each_fn *fn, void *ud);

#endif
