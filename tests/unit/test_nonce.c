/* test_nonce.c -- the Hawk replay cache: replays refused, expiry after the TTL, bounded memory,
 * and concurrent callers. */
#include "nonce.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static nonce_cache_t *cache(size_t cap, int64_t ttl)
{
    nonce_cache_t *c = NULL;
    cr_assert_eq(nonce_cache_new(&c, cap, ttl), NONCE_OK);
    return c;
}

/* One call and what it must return. */
typedef struct {
    const char *id, *nonce;
    int64_t now;
    int want;
} step_t;

/* Run the steps against a new cache of `cap` entries and a TTL of 120 s; returns its size. */
static size_t run_steps(size_t cap, const step_t *steps, size_t n)
{
    nonce_cache_t *c = cache(cap, 120);
    for (size_t i = 0; i < n; i++) {
        const step_t *s = &steps[i];
        cr_assert_eq(nonce_cache_check(c, s->id, s->nonce, s->now), s->want, "step %zu", i);
    }
    size_t size = nonce_cache_size(c);
    nonce_cache_free(c);
    return size;
}

#define RUN(cap, steps) run_steps(cap, steps, sizeof steps / sizeof steps[0])

Test(nonce, second_use_is_a_replay)
{
    static const step_t steps[] = {
        {"client", "n1", 1000, NONCE_OK},
        {"client", "n1", 1001, NONCE_ERR_REPLAY},
    };
    cr_assert_eq(RUN(16, steps), 1);
}

/* The key is the client and the nonce: the same nonce with another ts is a replay too. */
Test(nonce, key_is_id_and_nonce)
{
    static const step_t steps[] = {
        {"a", "n", 1000, NONCE_OK},
        {"b", "n", 1000, NONCE_OK},             /* another client */
        {"a", "m", 1000, NONCE_OK},             /* another nonce */
        {"a", "n", 1001, NONCE_ERR_REPLAY},     /* the same nonce again (the cache never sees ts) */
        {"ab", "c", 1000, NONCE_OK},            /* length prefixes: ("ab", "c") is not ("a", "bc") */
        {"a", "bc", 1000, NONCE_OK},
    };
    cr_assert_eq(RUN(16, steps), 5);
}

Test(nonce, entries_expire_after_the_ttl)
{
    static const step_t steps[] = {
        {"a", "n", 1000, NONCE_OK},
        {"a", "n", 1119, NONCE_ERR_REPLAY},
        {"a", "n", 1120, NONCE_OK},    /* forgotten after 120 s */
    };
    cr_assert_eq(RUN(16, steps), 1);
}

Test(nonce, full_cache_refuses_instead_of_forgetting)
{
    static const step_t steps[] = {
        {"a", "n0", 1000, NONCE_OK},
        {"a", "n1", 1001, NONCE_OK},
        {"a", "n2", 1002, NONCE_OK},
        {"a", "n3", 1003, NONCE_OK},
        {"a", "n4", 1010, NONCE_ERR_FULL},
        {"a", "n0", 1010, NONCE_ERR_REPLAY},   /* still remembered */
        {"a", "n4", 1120, NONCE_OK},           /* room once n0 expired */
        {"a", "n0", 1120, NONCE_ERR_FULL},
        {"a", "n1", 1121, NONCE_OK},           /* n1 expired at 1121 */
    };
    RUN(4, steps);
}

Test(nonce, invalid_parameters)
{
    nonce_cache_t *c = (nonce_cache_t *)1;
    cr_assert_eq(nonce_cache_new(&c, 0, 120), NONCE_ERR_INVALID);
    cr_assert_null(c);
    cr_assert_eq(nonce_cache_new(&c, 8, 0), NONCE_ERR_INVALID);
    cr_assert_eq(nonce_cache_new(&c, (size_t)1 << 40, 120), NONCE_ERR_INVALID);
    nonce_cache_free(NULL);
}

/* Many entries through a small table with continuous expiry: every live one stays findable
 * (the backward-shift deletion keeps probe runs intact) and every expired one is gone. */
Test(nonce, churn_keeps_the_index_consistent)
{
    enum { CAP = 128, TTL = 10, ROUNDS = 5000 };
    nonce_cache_t *c = cache(CAP, TTL);
    char n[32];
    for (int i = 0; i < ROUNDS; i++) {
        int64_t now = i / 6;    /* six (and a seventh) new entries a second: about 70 live */
        snprintf(n, sizeof n, "n%d", i);
        cr_assert_eq(nonce_cache_check(c, "id", n, now), NONCE_OK, "round %d", i);
        if (i % 7 == 0 && i >= 20) {
            snprintf(n, sizeof n, "n%d", i - 20);    /* recorded at most 4 s ago: live */
            cr_assert_eq(nonce_cache_check(c, "id", n, now), NONCE_ERR_REPLAY, "round %d", i);
        }
        if (i % 7 == 0 && i >= 100) {
            snprintf(n, sizeof n, "n%d", i - 100);   /* recorded at least 16 s ago: expired */
            cr_assert_eq(nonce_cache_check(c, "id", n, now), NONCE_OK, "round %d", i);
        }
    }
    cr_assert_leq(nonce_cache_size(c), CAP);
    nonce_cache_free(c);
}

typedef struct {
    nonce_cache_t *c;
    int accepted;
} race_t;

static void *racer(void *arg)
{
    race_t *r = arg;
    char n[16];
    for (int i = 0; i < 2000; i++) {
        snprintf(n, sizeof n, "n%d", i);
        if (nonce_cache_check(r->c, "same-client", n, 1000) == NONCE_OK)
            r->accepted++;
    }
    return NULL;
}

Test(nonce, each_nonce_accepted_once_across_threads)
{
    nonce_cache_t *c = cache(4096, 120);
    race_t r[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (race_t){c, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, racer, &r[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += r[i].accepted;
    }
    cr_assert_eq(total, 2000);
    cr_assert_eq(nonce_cache_size(c), 2000);
    nonce_cache_free(c);
}
