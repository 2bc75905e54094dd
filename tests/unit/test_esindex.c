/* test_esindex.c -- index expressions: aliases of every feed, names, lists, patterns,
 * exclusions, unknown names and the options. */
#include "esindex.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const char *const known[] = {"crm", "crm-eu", "events", "sim"};
#define NKNOWN (sizeof known / sizeof known[0])

/* The selection as text: "*" for every feed, else the names joined by ','. */
static const char *sel(const char *expr, const esindex_opts_t *o)
{
    static char out[256];
    char err[128] = "";
    esindex_t x;
    int rc = esindex_resolve(expr, known, NKNOWN, o, &x, err, sizeof err);
    if (rc) {
        snprintf(out, sizeof out, "error %d [%s]", rc, err);
        return out;
    }
    out[0] = '\0';
    if (x.all)
        strcpy(out, "*");
    for (size_t i = 0; i < x.n; i++) {
        strcat(out, i ? "," : "");
        strcat(out, x.feeds[i]);
    }
    esindex_free(&x);
    return out;
}

Test(esindex, aliases_of_every_feed)
{
    cr_expect_str_eq(sel("_all", NULL), "*");
    cr_expect_str_eq(sel("*", NULL), "*");
    cr_expect_str_eq(sel("activities", NULL), "*");
    cr_expect_str_eq(sel("", NULL), "*");
    cr_expect_str_eq(sel(NULL, NULL), "*");
    cr_expect_str_eq(sel("crm,_all", NULL), "*");
}

Test(esindex, names_lists_and_patterns)
{
    cr_expect_str_eq(sel("crm", NULL), "crm");
    cr_expect_str_eq(sel("sim,crm,sim", NULL), "crm,sim");
    cr_expect_str_eq(sel("crm*", NULL), "crm,crm-eu");
    cr_expect_str_eq(sel("*-eu,events", NULL), "crm-eu,events");
    cr_expect_str_eq(sel("c*m", NULL), "crm");
    cr_expect_str_eq(sel("*e*", NULL), "crm-eu,events");
    cr_expect_str_eq(sel("nothing*", NULL), "");
    cr_expect_str_eq(sel("crm*,-crm-eu", NULL), "crm");
    cr_expect_str_eq(sel("_all,-crm*", NULL), "events,sim");
    cr_expect_str_eq(sel("*,-sim,-e*", NULL), "crm,crm-eu");
}

Test(esindex, unknown_names)
{
    cr_expect_str_eq(sel("nope", NULL), "error -1 [nope]");
    cr_expect_str_eq(sel("crm,nope,sim", NULL), "error -1 [nope]");
    esindex_opts_t o = {.ignore_unavailable = true};
    cr_expect_str_eq(sel("crm,nope", &o), "crm");
    esindex_opts_t strict = {.forbid_empty = true};
    cr_expect_str_eq(sel("none*", &strict), "error -1 [none*]");
    cr_expect_str_eq(sel("crm*", &strict), "crm,crm-eu");
    esindex_opts_t nowild = {.no_wildcards = true};
    cr_expect_str_eq(sel("crm*,sim", &nowild), "sim");
}

Test(esindex, membership_and_helpers)
{
    esindex_t x, y;
    cr_assert_eq(esindex_resolve("sim,crm-eu,crm", known, NKNOWN, NULL, &x, NULL, 0), 0);
    cr_expect(esindex_has(&x, "crm", 3));
    cr_expect(esindex_has(&x, "crm-eu", 6));
    cr_expect(esindex_has(&x, "sim", 3));
    cr_expect(!esindex_has(&x, "cr", 2));
    cr_expect(!esindex_has(&x, "events", 6));
    cr_assert_eq(esindex_copy(&y, &x), 0);
    cr_expect_eq(y.n, 3);
    cr_expect(esindex_has(&y, "crm-eu", 6));
    esindex_free(&x);
    esindex_free(&y);
    esindex_t all = {.all = true};
    cr_expect(esindex_has(&all, "anything", 8));
    esindex_t none = {0};
    cr_expect(!esindex_has(&none, "crm", 3));
    cr_expect(esindex_is_single("crm"));
    cr_expect(!esindex_is_single("crm,sim"));
    cr_expect(!esindex_is_single("crm*"));
    cr_expect(!esindex_is_single("_all"));
    cr_expect(!esindex_is_single("activities"));
    cr_expect(esindex_glob("a*b*c", "axxbyyc", 7));
    cr_expect(!esindex_glob("a*b*c", "axxbyy", 6));
    cr_expect(esindex_glob("**", "", 0));
    cr_expect(esindex_glob("*ab", "aab", 3));
}
