/* test_tally.c -- counts by name: up, down, forgetting at zero, many names (the table grows),
 * the walk over what is counted, and several threads on one tally. */
#include "tally.h"
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

Test(tally, counts_up_and_down_and_forgets_at_zero)
{
    tally_t *t;
    cr_assert_eq(tally_new(&t), TALLY_OK);
    cr_expect_eq(tally_get(t, "a"), 0);
    cr_expect_eq(tally_up(t, "a"), 1);
    cr_expect_eq(tally_up(t, "a"), 2);
    cr_expect_eq(tally_up(t, "b"), 1);
    cr_expect_eq(tally_down(t, "a"), 1);
    cr_expect_eq(tally_down(t, "a"), 0);
    cr_expect_eq(tally_get(t, "a"), 0);
    cr_expect_eq(tally_down(t, "a"), 0, "a name not counted stays at 0");
    cr_expect_eq(tally_down(t, "never"), 0);
    cr_expect_eq(tally_get(t, "b"), 1);
    tally_free(t);
    tally_free(NULL);
}

static void sum(const char *name, long count, void *ud)
{
    long *s = ud;
    s[0] += count;
    s[1]++;
    cr_expect_gt(count, 0, "%s is listed with %ld", name, count);
}

Test(tally, many_names_grow_the_table_and_are_all_walked)
{
    tally_t *t;
    char name[32];
    cr_assert_eq(tally_new(&t), TALLY_OK);
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof name, "client-%d", i);
        cr_assert_eq(tally_up(t, name), 1);
        if (i % 2)
            cr_assert_eq(tally_up(t, name), 2);
    }
    for (int i = 0; i < 10000; i += 4) {
        snprintf(name, sizeof name, "client-%d", i);
        cr_assert_eq(tally_down(t, name), 0);
    }
    long s[2] = {0, 0};
    cr_expect_eq(tally_each(t, sum, s), 7500);
    cr_expect_eq(s[1], 7500);
    cr_expect_eq(s[0], 2500 + 5000 * 2);
    snprintf(name, sizeof name, "client-%d", 9999);
    cr_expect_eq(tally_get(t, name), 2);
    tally_free(t);
}

static void *hammer(void *arg)
{
    tally_t *t = arg;
    for (int i = 0; i < 20000; i++) {
        tally_up(t, i % 2 ? "x" : "y");
        tally_down(t, i % 2 ? "x" : "y");
    }
    tally_up(t, "x");
    return NULL;
}

Test(tally, threads_share_one_tally)
{
    tally_t *t;
    pthread_t th[4];
    cr_assert_eq(tally_new(&t), TALLY_OK);
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, t);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    cr_expect_eq(tally_get(t, "x"), 4);
    cr_expect_eq(tally_get(t, "y"), 0);
    tally_free(t);
}
