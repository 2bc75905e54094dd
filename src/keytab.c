/* keytab.c -- keys to dense indexes (see keytab.h).
 *
 * Open addressing with linear probing over a power-of-two slot array kept at most half full;
 * each slot holds an entry index, each entry the key's full hash, so a probe compares bytes
 * only when the hashes agree and growing rehashes nothing. The hash reads the key 8 bytes at a
 * time (multiply and xor-shift; the tail in two overlapping loads, as wyhash does), then mixes
 * (MurmurHash3's finalizer). */
#include "keytab.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS (UINT32_C(1) << 31)
#define FIRST_SLOTS 16

static uint64_t fmix(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    return h ^ (h >> 33);
}

static uint64_t load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static uint64_t load32(const unsigned char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* The last n (< 8) bytes as one word: two overlapping loads, no byte loop. */
static uint64_t tail_word(const unsigned char *p, size_t n)
{
    if (n >= 4)
        return load32(p) | load32(p + n - 4) << 32;
    if (n > 0)
        return (uint64_t)p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16;
    return 0;
}

static uint64_t hash_key(uint8_t tag, const unsigned char *p, size_t n)
{
    uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ ((uint64_t)n << 8) ^ tag;
    for (; n >= 8; p += 8, n -= 8) {
        h = (h ^ load64(p)) * UINT64_C(0x9fb21c651e98df25);
        h ^= h >> 29;
    }
    h = (h ^ tail_word(p, n)) * UINT64_C(0x9fb21c651e98df25);
    return fmix(h);
}

/* a[0..n) == b[0..n)? Keys are mostly short: compare them in words, without a call. */
static bool same_bytes(const unsigned char *a, const unsigned char *b, size_t n)
{
    if (n < 8)
        return tail_word(a, n) == tail_word(b, n);
    if (n <= 16)
        return load64(a) == load64(b) && load64(a + n - 8) == load64(b + n - 8);
    return memcmp(a, b, n) == 0;
}

static bool ent_is(const keytab_t *t, const keytab_ent_t *e, uint64_t h, uint8_t tag, const void *p, size_t n)
{
    return e->hash == h && e->len == n && e->tag == tag &&
           same_bytes((const unsigned char *)t->arena + e->off, p, n);
}

/* Double the slots (or make the first ones) and place every entry again. */
static int grow_slots(keytab_t *t)
{
    size_t nslots = t->mask ? ((size_t)t->mask + 1) * 2 : FIRST_SLOTS;
    uint32_t *s = calloc(nslots, sizeof *s);
    if (!s)
        return KEYTAB_ERR_NOMEM;
    uint32_t mask = (uint32_t)(nslots - 1);
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t at = (uint32_t)t->ents[i].hash & mask;
        while (s[at])
            at = (at + 1) & mask;
        s[at] = i + 1;
    }
    free(t->slots);
    t->slots = s;
    t->mask = mask;
    return 0;
}

static int reserve(keytab_t *t, size_t keylen)
{
    if (t->n >= MAX_KEYS || keylen > UINT32_MAX - t->alen)
        return KEYTAB_ERR_FULL;
    if ((size_t)t->n + 1 > ((size_t)t->mask + 1) / 2 && grow_slots(t) < 0)
        return KEYTAB_ERR_NOMEM;
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : FIRST_SLOTS / 2;
        keytab_ent_t *e = realloc(t->ents, (size_t)cap * sizeof *e);
        if (!e)
            return KEYTAB_ERR_NOMEM;
        t->ents = e;
        t->cap = cap;
    }
    if (t->alen + keylen > t->acap) {
        size_t cap = t->acap ? t->acap : 256;
        while (cap < t->alen + keylen)
            cap *= 2;
        char *a = realloc(t->arena, cap);
        if (!a)
            return KEYTAB_ERR_NOMEM;
        t->arena = a;
        t->acap = cap;
    }
    return 0;
}

int keytab_put(keytab_t *t, uint8_t tag, const void *p, size_t n, uint32_t *idx)
{
    uint64_t h = hash_key(tag, p, n);
    if (t->mask) {
        for (uint32_t at = (uint32_t)h & t->mask; t->slots[at]; at = (at + 1) & t->mask) {
            if (ent_is(t, &t->ents[t->slots[at] - 1], h, tag, p, n)) {
                *idx = t->slots[at] - 1;
                return 0;
            }
        }
    }
    int rc = reserve(t, n);
    if (rc < 0)
        return rc;
    uint32_t at = (uint32_t)h & t->mask;
    while (t->slots[at])
        at = (at + 1) & t->mask;
    if (n)
        memcpy(t->arena + t->alen, p, n);
    t->ents[t->n] = (keytab_ent_t){h, (uint32_t)t->alen, (uint32_t)n, tag};
    t->alen += n;
    t->slots[at] = t->n + 1;
    *idx = t->n++;
    return 1;
}

void keytab_free(keytab_t *t)
{
    free(t->slots);
    free(t->ents);
    free(t->arena);
    *t = (keytab_t){0};
}
