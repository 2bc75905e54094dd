/* nonce.c -- the Hawk replay cache (see nonce.h).
 *
 * Entries sit in a ring in the order they were recorded, which is also the order they expire
 * (one TTL for all), so expiry pops from the ring's head. A hash index over the ring (open
 * addressing, linear probing, at most half full, backward-shift deletion) finds an entry by its
 * key. The key is the first 16 bytes of SHA-256 over the length-prefixed id and nonce: fixed
 * size, and uniformly spread whatever clients choose as nonces. */
#include "nonce.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define KEY_LEN 16
#define MAX_CAPACITY ((size_t)1 << 28)

typedef struct {
    unsigned char key[KEY_LEN];
    int64_t expires;           /* seconds: recorded at + ttl */
} entry_t;

struct nonce_cache {
    pthread_mutex_t lock;
    int64_t ttl;
    entry_t *ring;             /* owned: cap entries; live ones are ring[head ..] for count */
    size_t cap, head, count;
    uint32_t *slots;           /* owned: mask + 1 slots; 0 empty, else ring index + 1 */
    size_t mask;
};

/* The key of (id, nonce); -1 when OpenSSL fails. */
static int make_key(const char *id, const char *nonce, unsigned char *key)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    uint32_t idlen = (uint32_t)strlen(id), nlen = (uint32_t)strlen(nonce);
    int ok = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1
        && EVP_DigestUpdate(ctx, &idlen, sizeof idlen) == 1 && EVP_DigestUpdate(ctx, id, idlen) == 1
        && EVP_DigestUpdate(ctx, &nlen, sizeof nlen) == 1 && EVP_DigestUpdate(ctx, nonce, nlen) == 1
        && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1)
        ok = 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    memcpy(key, md, KEY_LEN);
    return 0;
}

static size_t home(const nonce_cache_t *c, const unsigned char *key)
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)h & c->mask;
}

/* The slot holding `key`, or the empty slot where it would go. */
static size_t find_slot(const nonce_cache_t *c, const unsigned char *key)
{
    size_t i = home(c, key);
    while (c->slots[i] && memcmp(c->ring[c->slots[i] - 1].key, key, KEY_LEN) != 0)
        i = (i + 1) & c->mask;
    return i;
}

/* Empty slot i, moving later entries of its probe run back so that none becomes unreachable. */
static void clear_slot(nonce_cache_t *c, size_t i)
{
    for (size_t j = (i + 1) & c->mask; c->slots[j]; j = (j + 1) & c->mask) {
        size_t k = home(c, c->ring[c->slots[j] - 1].key);
        int k_in_i_j = i <= j ? (k > i && k <= j) : (k > i || k <= j);   /* cyclically in (i, j] */
        if (k_in_i_j)
            continue;
        c->slots[i] = c->slots[j];
        i = j;
    }
    c->slots[i] = 0;
}

static void expire(nonce_cache_t *c, int64_t now_s)
{
    while (c->count && c->ring[c->head].expires <= now_s) {
        clear_slot(c, find_slot(c, c->ring[c->head].key));
        c->head = (c->head + 1) % c->cap;
        c->count--;
    }
}

int nonce_cache_new(nonce_cache_t **out, size_t capacity, int64_t ttl_s)
{
    *out = NULL;
    if (capacity == 0 || capacity > MAX_CAPACITY || ttl_s <= 0)
        return NONCE_ERR_INVALID;
    nonce_cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NONCE_ERR_NOMEM;
    size_t nslots = 1;
    while (nslots < 2 * capacity)
        nslots *= 2;
    c->ring = malloc(capacity * sizeof *c->ring);
    c->slots = calloc(nslots, sizeof *c->slots);
    if (!c->ring || !c->slots || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->ring);
        free(c->slots);
        free(c);
        return NONCE_ERR_NOMEM;
    }
    c->cap = capacity;
    c->mask = nslots - 1;
    c->ttl = ttl_s;
    *out = c;
    return NONCE_OK;
}

int nonce_cache_check(nonce_cache_t *c, const char *id, const char *nonce, int64_t now_s)
{
    unsigned char key[KEY_LEN];
    if (make_key(id, nonce, key) < 0)
        return NONCE_ERR_FULL;          /* cannot remember it: refuse, as when full */
    pthread_mutex_lock(&c->lock);
    expire(c, now_s);
    size_t slot = find_slot(c, key);
    int rc = c->slots[slot] ? NONCE_ERR_REPLAY : c->count == c->cap ? NONCE_ERR_FULL : NONCE_OK;
    if (rc == NONCE_OK) {
        size_t idx = (c->head + c->count) % c->cap;
        memcpy(c->ring[idx].key, key, KEY_LEN);
        c->ring[idx].expires = now_s > INT64_MAX - c->ttl ? INT64_MAX : now_s + c->ttl;
        c->slots[slot] = (uint32_t)idx + 1;
        c->count++;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

size_t nonce_cache_size(nonce_cache_t *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

void nonce_cache_free(nonce_cache_t *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->ring);
    free(c->slots);
    free(c);
}
