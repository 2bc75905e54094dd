/* test_gate.c -- the gate's pure part: access_token taken out of a query string (the rest as
 * sent, the value decoded, duplicates made unusable). The HTTP part is tested through the real
 * server in tests/integration/test_auth.c. */
#include "gate.h"
#include <criterion/criterion.h>
#include <string.h>

typedef struct {
    const char *qs, *rest, *token;   /* token NULL: not given */
} take_case_t;

static const take_case_t CASES[] = {
    {"", "", NULL},
    {"start=0&feed=a", "start=0&feed=a", NULL},
    {"access_token=abc", "", "abc"},
    {"start=0&access_token=abc&feed=a,b", "start=0&feed=a,b", "abc"},
    {"access_token=a.b.c&q=%7B%7D", "q=%7B%7D", "a.b.c"},
    {"access%5Ftoken=tok%2Bx%2F%3D", "", "tok+x/="},
    {"access_token=", "", ""},
    {"access_token", "", ""},
    {"access_token=a&access_token=b", "", "a,b"},
    {"access_token=%zz", "", "%zz"},
    {"access_tokens=x&xaccess_token=y", "access_tokens=x&xaccess_token=y", NULL},
    {"&&access_token=t&&end=now&", "end=now", "t"},
};

Test(gate, access_token_is_taken_out_of_the_query_string)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const take_case_t *c = &CASES[i];
        size_t len = strlen(c->qs), rest_len = 99;
        char rest[256], token[256];
        int found = gate_take_access_token(c->qs, len, rest, &rest_len, token);
        cr_expect_eq(found, c->token != NULL, "'%s'", c->qs);
        if (!c->token)
            continue;
        cr_expect_str_eq(rest, c->rest, "'%s'", c->qs);
        cr_expect_eq(rest_len, strlen(c->rest), "'%s'", c->qs);
        cr_expect_str_eq(token, c->token, "'%s'", c->qs);
    }
}
