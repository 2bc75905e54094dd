/* test_esroute.c -- which requests are the Elasticsearch API's, their operations, decoded index
 * expressions and ids, wrong methods and unknown paths, and the media types. */
#include "esops.h"
#include "esroute.h"
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static bool claims(const char *method, const char *path, const char *accept)
{
    return esroute_claims(method, strlen(method), path, strlen(path), accept, accept ? strlen(accept) : 0);
}

Test(esroute, claims)
{
    cr_expect(claims("GET", "/", NULL));
    cr_expect(claims("GET", "/", "application/vnd.elasticsearch+json; compatible-with=8,text/plain"));
    cr_expect(!claims("GET", "/", "text/html,application/xhtml+xml,*/*;q=0.8"), "a browser gets the dashboard");
    cr_expect(claims("POST", "/", "text/html"), "not a page load");
    cr_expect(claims("GET", "/_search", NULL));
    cr_expect(claims("DELETE", "/_pit", NULL));
    cr_expect(claims("GET", "/crm%2Cevents*/_search", NULL));
    cr_expect(claims("GET", "/activities/_count", NULL));
    cr_expect(claims("GET", "/_cat/indices", NULL));
    cr_expect(claims("GET", "/crm/_doc/urn%3Ax", NULL));
    cr_expect(claims("GET", "/anything/_unknown", NULL));
    cr_expect(!claims("GET", "/stream", NULL));
    cr_expect(!claims("GET", "/feeds", NULL));
    cr_expect(!claims("GET", "/app.js", NULL));
    cr_expect(!claims("GET", "/css/site.css", NULL));
}

typedef struct {
    const char *method, *path;
    int rc, op;
    const char *index, *id;
} route_case_t;

Test(esroute, routes)
{
    static const route_case_t cases[] = {
        {"GET", "/", 0, ESOP_ROOT, NULL, NULL},
        {"HEAD", "/", 0, ESOP_ROOT, NULL, NULL},
        {"GET", "/_search", 0, ESOP_SEARCH, NULL, NULL},
        {"POST", "/_search/", 0, ESOP_SEARCH, NULL, NULL},
        {"POST", "/crm%2Cevents*/_search", 0, ESOP_SEARCH, "crm,events*", NULL},
        {"POST", "/_all/_search", 0, ESOP_SEARCH, "_all", NULL},
        {"GET", "/activities/_count", 0, ESOP_COUNT, "activities", NULL},
        {"POST", "/_msearch", 0, ESOP_MSEARCH, NULL, NULL},
        {"POST", "/crm/_msearch", 0, ESOP_MSEARCH, "crm", NULL},
        {"POST", "/_search/scroll", 0, ESOP_SCROLL, NULL, NULL},
        {"GET", "/_search/scroll/abc", 0, ESOP_SCROLL, NULL, "abc"},
        {"DELETE", "/_search/scroll", 0, ESOP_CLEAR_SCROLL, NULL, NULL},
        {"DELETE", "/_search/scroll/_all", 0, ESOP_CLEAR_SCROLL, NULL, "_all"},
        {"POST", "/crm/_pit", 0, ESOP_PIT_OPEN, "crm", NULL},
        {"DELETE", "/_pit", 0, ESOP_PIT_CLOSE, NULL, NULL},
        {"GET", "/crm/_doc/urn%3Afeedsim%3A1%3A5", 0, ESOP_DOC, "crm", "urn:feedsim:1:5"},
        {"HEAD", "/crm/_doc/a%2Fb+c", 0, ESOP_DOC, "crm", "a/b+c"},
        {"GET", "/_mapping", 0, ESOP_MAPPING, NULL, NULL},
        {"GET", "/crm/_mapping", 0, ESOP_MAPPING, "crm", NULL},
        {"GET", "/_cat/indices", 0, ESOP_CAT_INDICES, NULL, NULL},
        {"GET", "/_cat/indices/crm*", 0, ESOP_CAT_INDICES, "crm*", NULL},
        {"PUT", "/_search", ESROUTE_ERR_METHOD, -1, NULL, NULL},
        {"POST", "/_pit", ESROUTE_ERR_METHOD, -1, NULL, NULL},
        {"DELETE", "/crm/_pit", ESROUTE_ERR_METHOD, -1, NULL, NULL},
        {"POST", "/crm/_doc/1", ESROUTE_ERR_METHOD, -1, NULL, NULL},
        {"DELETE", "/", ESROUTE_ERR_METHOD, -1, NULL, NULL},
        {"GET", "/_cluster/health", ESROUTE_ERR_NO_HANDLER, -1, NULL, NULL},
        {"GET", "/crm/_stats", ESROUTE_ERR_NO_HANDLER, -1, NULL, NULL},
        {"GET", "/_search/scroll/a/b", ESROUTE_ERR_NO_HANDLER, -1, NULL, NULL},
        {"GET", "/crm/_doc/a%zz", ESROUTE_ERR_PATH, -1, NULL, NULL},
        {"GET", "/crm/_doc/a%00", ESROUTE_ERR_PATH, -1, NULL, NULL},
        {"GET", "//_search", ESROUTE_ERR_PATH, -1, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const route_case_t *c = &cases[i];
        char buf[256];
        esroute_t rt;
        int rc = esroute_match(c->method, strlen(c->method), c->path, strlen(c->path), buf, sizeof buf, &rt);
        cr_expect_eq(rc, c->rc, "%s %s -> %d", c->method, c->path, rc);
        if (rc || c->rc)
            continue;
        cr_expect_eq(rt.op, c->op, "%s %s", c->method, c->path);
        cr_expect_eq(rt.head, strcmp(c->method, "HEAD") == 0);
        if (c->index)
            cr_expect_str_eq(rt.index ? rt.index : "(null)", c->index, "%s", c->path);
        else
            cr_expect_null(rt.index, "%s", c->path);
        if (c->id) {
            cr_expect_str_eq(rt.id ? rt.id : "(null)", c->id, "%s", c->path);
            cr_expect_eq(rt.id_len, strlen(c->id));
        } else {
            cr_expect_null(rt.id, "%s", c->path);
        }
    }
    char buf[64];
    esroute_t rt;
    cr_expect_eq(esroute_match("PUT", 3, "/_search", 8, buf, sizeof buf, &rt), ESROUTE_ERR_METHOD);
    cr_expect_str_eq(rt.allow, "GET, POST");
    cr_expect_str_eq(rt.path, "/_search");
    cr_expect_eq(esroute_match("GET", 3, "/a%2Cb/_count", 13, buf, sizeof buf, &rt), 0);
    cr_expect_str_eq(rt.path, "/a,b/_count", "the decoded path for messages");
}

Test(esroute, media_types)
{
    const char *ct;
    cr_expect_eq(esroute_accept(NULL, 0, &ct), 0);
    cr_expect_str_eq(ct, "application/json; charset=UTF-8");
    const char *a8 = "application/vnd.elasticsearch+json; compatible-with=8,text/plain";
    cr_expect_eq(esroute_accept(a8, strlen(a8), &ct), 0);
    cr_expect_str_eq(ct, "application/vnd.elasticsearch+json;compatible-with=8");
    const char *a7 = "application/vnd.elasticsearch+json;compatible-with=7";
    cr_expect_eq(esroute_accept(a7, strlen(a7), &ct), 0);
    cr_expect_str_eq(ct, "application/vnd.elasticsearch+json;compatible-with=7");
    const char *a6 = "application/vnd.elasticsearch+json;compatible-with=6";
    cr_expect_eq(esroute_accept(a6, strlen(a6), &ct), ESROUTE_ERR_MEDIA);
    const char *aj = "application/json";
    cr_expect_eq(esroute_accept(aj, strlen(aj), &ct), 0);
    cr_expect_str_eq(ct, "application/json; charset=UTF-8");
    static const char *const ok[] = {"application/json", "application/json; charset=UTF-8", "application/x-ndjson",
                                     "application/vnd.elasticsearch+json; compatible-with=8",
                                     "application/vnd.elasticsearch+x-ndjson; compatible-with=8",
                                     "application/vnd.elasticsearch+json;compatible-with=7",
                                     "application/x-www-form-urlencoded"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        cr_expect_eq(esroute_content_type(ok[i], strlen(ok[i])), 0, "%s", ok[i]);
    const char *bad = "application/vnd.elasticsearch+json; compatible-with=9";
    cr_expect_eq(esroute_content_type(bad, strlen(bad)), ESROUTE_ERR_MEDIA);
    cr_expect_eq(esroute_content_type(NULL, 0), 0);
}

/* Header values are not NUL-terminated: nothing past len is read (ASan checks the heap copy). */
Test(esroute, header_values_are_read_within_their_length)
{
    const char *ct;
    static const char text[] = "application/vnd.elasticsearch+json";
    char *exact = malloc(sizeof text - 1);
    memcpy(exact, text, sizeof text - 1);
    cr_expect_eq(esroute_accept(exact, sizeof text - 1, &ct), 0);
    cr_expect_eq(esroute_content_type(exact, sizeof text - 1), 0);
    cr_expect_eq(esroute_accept(exact, 3, &ct), 0);
    free(exact);
}
