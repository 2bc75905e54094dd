/* tally.c -- counts by name behind one mutex: a chained hash table (FNV-1a) that doubles its
 * buckets when it holds more names than buckets. See tally.h. */
#include "tally.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_BUCKETS 64

typedef struct entry {
    struct entry *next;
    long count;
    char name[];
} entry_t;

struct tally {
    pthread_mutex_t lock;
    entry_t **buckets;       /* owned, nbuckets (a power of two) chains of owned entries */
    size_t nbuckets, n;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The link that points at name's entry, or at the NULL ending its chain. */
static entry_t **slot(const tally_t *t, const char *name)
{
    entry_t **p = &t->buckets[hash(name) & (t->nbuckets - 1)];
    while (*p && strcmp((*p)->name, name) != 0)
        p = &(*p)->next;
    return p;
}

/* Twice the buckets; on failure the table stays as it is (only slower). */
static void grow(tally_t *t)
{
    size_t nb = t->nbuckets * 2;
    entry_t **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        for (entry_t *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            entry_t **head = &b[hash(e->name) & (nb - 1)];
            e->next = *head;
            *head = e;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

static long add_locked(tally_t *t, const char *name)
{
    entry_t **p = slot(t, name);
    if (*p)
        return ++(*p)->count;
    size_t len = strlen(name);
    entry_t *e = malloc(sizeof *e + len + 1);
    if (!e)
        return TALLY_ERR_NOMEM;
    memcpy(e->name, name, len + 1);
    e->count = 1;
    e->next = NULL;
    *p = e;
    if (++t->n > t->nbuckets)
        grow(t);
    return 1;
}

long tally_up(tally_t *t, const char *name)
{
    pthread_mutex_lock(&t->lock);
    long c = add_locked(t, name);
    pthread_mutex_unlock(&t->lock);
    return c;
}

long tally_down(tally_t *t, const char *name)
{
    long c = 0;
    pthread_mutex_lock(&t->lock);
    entry_t **p = slot(t, name), *e = *p;
    if (e && (c = --e->count) == 0) {
        *p = e->next;
        free(e);
        t->n--;
    }
    pthread_mutex_unlock(&t->lock);
    return c;
}

long tally_get(tally_t *t, const char *name)
{
    pthread_mutex_lock(&t->lock);
    entry_t *e = *slot(t, name);
    long c = e ? e->count : 0;
    pthread_mutex_unlock(&t->lock);
    return c;
}

size_t tally_each(tally_t *t, tally_fn *fn, void *ud)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->nbuckets; i++)
        for (const entry_t *e = t->buckets[i]; e; e = e->next)
            fn(e->name, e->count, ud);
    size_t n = t->n;
    pthread_mutex_unlock(&t->lock);
    return n;
}

int tally_new(tally_t **out)
{
    tally_t *t = calloc(1, sizeof *t);
    *out = NULL;
    if (!t || !(t->buckets = calloc(INITIAL_BUCKETS, sizeof *t->buckets))) {
        free(t);
        return TALLY_ERR_NOMEM;
    }
    t->nbuckets = INITIAL_BUCKETS;
    pthread_mutex_init(&t->lock, NULL);
    *out = t;
    return TALLY_OK;
}

void tally_free(tally_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (entry_t *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(t->buckets);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
