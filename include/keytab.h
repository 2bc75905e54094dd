/* keytab.h -- a hash table from keys to dense indexes (0, 1, 2... in insertion order), for
 * counting distinct values: the buckets of an aggregation, the values of a cardinality. The
 * caller keeps whatever it counts in its own arrays, indexed like the keys.
 *
 * A key is a tag byte (what kind of value it is) and bytes; two keys are equal when both are.
 * Keys are copied into an arena the table owns, so the caller's bytes are BORROWED only for the
 * call. Growth doubles the slot array and the arena, so a run of keytab_put calls allocates
 * O(log n) times; looking up a key already present never allocates. A zeroed keytab_t
 * ({0}) is an empty table. Not thread-safe: one owner at a time. */
#ifndef KEYTAB_H
#define KEYTAB_H
#include <stddef.h>
#include <stdint.h>

/* Error codes (negative). */
enum {
    KEYTAB_ERR_NOMEM = -1,   /* the table is unchanged */
    KEYTAB_ERR_FULL = -2,    /* 2^31 keys, or 4 GiB of key bytes */
};

typedef struct {
    uint64_t hash;
    uint32_t off, len;   /* the key's bytes in the arena */
    uint8_t tag;
} keytab_ent_t;

typedef struct {
    uint32_t *slots;       /* owned: 0 for an empty slot, else the entry's index + 1 */
    uint32_t mask;         /* number of slots - 1 (a power of two), 0 before the first put */
    keytab_ent_t *ents;    /* owned: entries in insertion order, n used of cap */
    uint32_t n, cap;
    char *arena;           /* owned: key bytes, alen used of acap */
    size_t alen, acap;
} keytab_t;

/* Find the key (tag, p[0..n)) or add it. Returns 1 when it was added, 0 when it was there,
 * or KEYTAB_ERR_NOMEM / KEYTAB_ERR_FULL; *idx gets its index on success. */
int keytab_put(keytab_t *t, uint8_t tag, const void *p, size_t n, uint32_t *idx);

/* The bytes of key idx (valid until the next keytab_put or keytab_free), its length in *n. */
static inline const char *keytab_key(const keytab_t *t, uint32_t idx, size_t *n)
{
    *n = t->ents[idx].len;
    return t->arena + t->ents[idx].off;
}

static inline uint8_t keytab_tag(const keytab_t *t, uint32_t idx) { return t->ents[idx].tag; }
static inline uint32_t keytab_count(const keytab_t *t) { return t->n; }

/* Free what the table owns; it is empty (zeroed) again. */
void keytab_free(keytab_t *t);

#endif
