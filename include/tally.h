/* tally.h -- counts by name, shared by threads: how many streams each client has open (gate.h).
 * A name is remembered from the tally_up that first counts it to the tally_down that brings it
 * back to 0, so memory follows the names in use. One mutex around each call. */
#ifndef TALLY_H
#define TALLY_H
#include <stddef.h>

/* Error codes (negative). */
enum {
    TALLY_OK = 0,
    TALLY_ERR_NOMEM = -1,
};

typedef struct tally tally_t;

/* An empty tally. Returns TALLY_OK and *out (tally_free), or TALLY_ERR_NOMEM (*out NULL). */
int tally_new(tally_t **out);
void tally_free(tally_t *t);   /* NULL is a no-op */

/* Count one more for `name` (copied). Returns the new count (>= 1), or TALLY_ERR_NOMEM when a
 * new name cannot be remembered (nothing is counted then). */
long tally_up(tally_t *t, const char *name);

/* Count one less; the name is forgotten at 0. Returns the new count; 0, changing nothing, for
 * a name that is not counted. */
long tally_down(tally_t *t, const char *name);

/* The count of `name`: 0 when it is not counted. */
long tally_get(tally_t *t, const char *name);

/* Call fn for each name counted now (count >= 1), in no particular order, with the lock held:
 * fn must not call into t. `name` is BORROWED for the call. Returns the number of names. */
typedef void tally_fn(const char *name, long count, void *ud);
size_t tally_each(tally_t *t, tally_fn *fn, void *ud);

#endif
