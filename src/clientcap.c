/* clientcap.c -- streams per client, shared by the event loops (see clientcap.h).
 *
 * An open-addressing hash table (FNV-1a, linear probing, deletion by backward shift, so there
 * are no tombstones) under one mutex. It doubles when half full and halves when an eighth full,
 * down to MIN_SLOTS. */
#include "clientcap.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SLOTS 16

typedef struct {
    char *key;        /* owned; NULL: an empty slot */
    uint32_t hash;
    uint32_t held;    /* >= 1 while the key is in the table */
} slot_t;

struct clientcap {
    pthread_mutex_t lock;
    slot_t *slot;     /* owned, [cap]; cap is a power of two */
    size_t cap, n;
    size_t limit;
};

static uint32_t hash_key(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The slot holding `key`, or the empty slot where it would go. */
static size_t find(const clientcap_t *cc, const char *key, uint32_t h)
{
    size_t mask = cc->cap - 1, i = h & mask;
    while (cc->slot[i].key && (cc->slot[i].hash != h || strcmp(cc->slot[i].key, key) != 0))
        i = (i + 1) & mask;
    return i;
}

static int resize(clientcap_t *cc, size_t cap)
{
    slot_t *old = cc->slot, *fresh = calloc(cap, sizeof *fresh);
    size_t oldcap = cc->cap;
    if (!fresh)
        return CLIENTCAP_ERR_NOMEM;
    cc->slot = fresh;
    cc->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key)
            cc->slot[find(cc, old[i].key, old[i].hash)] = old[i];
    free(old);
    return 0;
}

/* A new client with its first stream; `i` is find()'s empty slot. */
static int insert(clientcap_t *cc, size_t i, const char *key, uint32_t h)
{
    if ((cc->n + 1) * 2 > cc->cap) {
        if (resize(cc, cc->cap * 2) != 0)
            return CLIENTCAP_ERR_NOMEM;
        i = find(cc, key, h);
    }
    char *copy = strdup(key);
    if (!copy)
        return CLIENTCAP_ERR_NOMEM;
    cc->slot[i] = (slot_t){copy, h, 1};
    cc->n++;
    return 0;
}

/* Empty slot i, moving later entries of its probe run back so every lookup still finds them:
 * the entry at j may fill the hole at i when i lies between its home slot and j. */
static void remove_at(clientcap_t *cc, size_t i)
{
    size_t mask = cc->cap - 1;
    free(cc->slot[i].key);
    for (size_t j = (i + 1) & mask; cc->slot[j].key; j = (j + 1) & mask) {
        size_t home = cc->slot[j].hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            cc->slot[i] = cc->slot[j];
            i = j;
        }
    }
    cc->slot[i] = (slot_t){0};
    cc->n--;
    if (cc->cap > MIN_SLOTS && cc->n * 8 < cc->cap)
        resize(cc, cc->cap / 2);   /* out of memory: stay as large as it was */
}

int clientcap_new(clientcap_t **out, size_t limit)
{
    clientcap_t *cc = calloc(1, sizeof *cc);
    *out = NULL;
    if (!cc || !(cc->slot = calloc(MIN_SLOTS, sizeof *cc->slot))) {
        free(cc);
        return CLIENTCAP_ERR_NOMEM;
    }
    pthread_mutex_init(&cc->lock, NULL);
    cc->cap = MIN_SLOTS;
    cc->limit = limit;
    *out = cc;
    return 0;
}

void clientcap_free(clientcap_t *cc)
{
    if (!cc)
        return;
    for (size_t i = 0; i < cc->cap; i++)
        free(cc->slot[i].key);
    free(cc->slot);
    pthread_mutex_destroy(&cc->lock);
    free(cc);
}

int clientcap_acquire(clientcap_t *cc, const char *key)
{
    uint32_t h = hash_key(key);
    int rc = 0;
    pthread_mutex_lock(&cc->lock);
    size_t i = find(cc, key, h);
    if (!cc->slot[i].key)
        rc = insert(cc, i, key, h);
    else if (cc->slot[i].held >= cc->limit)
        rc = CLIENTCAP_ERR_FULL;
    else
        cc->slot[i].held++;
    pthread_mutex_unlock(&cc->lock);
    return rc;
}

void clientcap_release(clientcap_t *cc, const char *key)
{
    uint32_t h = hash_key(key);
    pthread_mutex_lock(&cc->lock);
    size_t i = find(cc, key, h);
    if (cc->slot[i].key && --cc->slot[i].held == 0)
        remove_at(cc, i);
    pthread_mutex_unlock(&cc->lock);
}

size_t clientcap_held(clientcap_t *cc, const char *key)
{
    uint32_t h = hash_key(key);
    pthread_mutex_lock(&cc->lock);
    size_t i = find(cc, key, h), held = cc->slot[i].key ? cc->slot[i].held : 0;
    pthread_mutex_unlock(&cc->lock);
    return held;
}

size_t clientcap_clients(clientcap_t *cc)
{
    pthread_mutex_lock(&cc->lock);
    size_t n = cc->n;
    pthread_mutex_unlock(&cc->lock);
    return n;
}
