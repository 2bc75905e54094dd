/* test_clientcap.c -- streams per client: the cap, release giving a slot back, clients apart,
 * growth and shrinking with many clients (every count survives the moves), and event loops on
 * several threads acquiring and releasing at once. */
#include "clientcap.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>

Test(clientcap, a_client_is_refused_at_its_limit_until_a_stream_ends)
{
    clientcap_t *cc;
    cr_assert_eq(clientcap_new(&cc, 3), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(clientcap_acquire(cc, "10.0.0.1"), 0);
    cr_assert_eq(clientcap_acquire(cc, "10.0.0.1"), CLIENTCAP_ERR_FULL);
    cr_assert_eq(clientcap_held(cc, "10.0.0.1"), 3, "a refusal counts nothing");
    clientcap_release(cc, "10.0.0.1");
    cr_assert_eq(clientcap_acquire(cc, "10.0.0.1"), 0);
    cr_assert_eq(clientcap_held(cc, "10.0.0.1"), 3);
    clientcap_free(cc);
}

Test(clientcap, clients_are_counted_apart_and_forgotten_with_their_last_stream)
{
    clientcap_t *cc;
    cr_assert_eq(clientcap_new(&cc, 1), 0);
    cr_assert_eq(clientcap_acquire(cc, "10.0.0.1"), 0);
    cr_assert_eq(clientcap_acquire(cc, "::1"), 0);
    cr_assert_eq(clientcap_acquire(cc, "client-42"), 0);
    cr_assert_eq(clientcap_acquire(cc, "::1"), CLIENTCAP_ERR_FULL);
    cr_assert_eq(clientcap_clients(cc), 3);
    clientcap_release(cc, "::1");
    clientcap_release(cc, "never-seen");   /* ignored */
    cr_assert_eq(clientcap_held(cc, "::1"), 0);
    cr_assert_eq(clientcap_held(cc, "10.0.0.1"), 1);
    cr_assert_eq(clientcap_clients(cc), 2);
    clientcap_release(cc, "10.0.0.1");
    clientcap_release(cc, "client-42");
    cr_assert_eq(clientcap_clients(cc), 0);
    clientcap_free(cc);
}

/* Client i holds i % 5 + 1 streams. */
static void fill(clientcap_t *cc, int from, int to)
{
    char key[32];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof key, "198.51.%d.%d", i / 256, i % 256);
        for (int k = 0; k <= i % 5; k++)
            cr_assert_eq(clientcap_acquire(cc, key), 0, "%s", key);
    }
}

static void release_all(clientcap_t *cc, int from, int to)
{
    char key[32];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof key, "198.51.%d.%d", i / 256, i % 256);
        for (int k = 0; k <= i % 5; k++)
            clientcap_release(cc, key);
    }
}

static void check(clientcap_t *cc, int from, int to, int present)
{
    char key[32];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof key, "198.51.%d.%d", i / 256, i % 256);
        cr_assert_eq(clientcap_held(cc, key), present ? (size_t)(i % 5 + 1) : 0, "%s", key);
    }
}

Test(clientcap, many_clients_grow_and_shrink_the_table_and_keep_every_count)
{
    clientcap_t *cc;
    cr_assert_eq(clientcap_new(&cc, 5), 0);
    fill(cc, 0, 10000);
    cr_assert_eq(clientcap_clients(cc), 10000);
    release_all(cc, 0, 5000);   /* removals move entries back; the table halves on the way */
    check(cc, 0, 5000, 0);
    check(cc, 5000, 10000, 1);
    fill(cc, 0, 2000);
    check(cc, 0, 2000, 1);
    release_all(cc, 0, 2000);
    release_all(cc, 5000, 10000);
    cr_assert_eq(clientcap_clients(cc), 0);
    clientcap_free(cc);
}

#define THREADS 4
#define ROUNDS 20000

typedef struct {
    clientcap_t *cc;
    int got;   /* acquisitions that succeeded on the shared key */
    int bad;   /* own-client acquisitions refused (none should be) */
} worker_t;

/* Like an event loop: streams of its own clients come and go, and it holds what it can get of
 * one shared client. */
static void *worker(void *arg)
{
    worker_t *w = arg;
    char key[32];
    snprintf(key, sizeof key, "own-%p", arg);
    for (int i = 0; i < ROUNDS; i++) {
        w->bad += clientcap_acquire(w->cc, key) != 0;
        clientcap_release(w->cc, key);
        if (i % 100 == 0)
            w->got += clientcap_acquire(w->cc, "shared") == 0;
    }
    return NULL;
}

Test(clientcap, loops_on_several_threads_share_one_table)
{
    clientcap_t *cc;
    pthread_t th[THREADS];
    worker_t w[THREADS];
    cr_assert_eq(clientcap_new(&cc, 7), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){cc, 0, 0};
        pthread_create(&th[i], NULL, worker, &w[i]);
    }
    int got = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        got += w[i].got;
        cr_assert_eq(w[i].bad, 0);
    }
    cr_assert_eq(got, 7, "the shared client got %d streams, not its limit of 7", got);
    cr_assert_eq(clientcap_held(cc, "shared"), 7);
    cr_assert_eq(clientcap_clients(cc), 1);
    clientcap_free(cc);
}
