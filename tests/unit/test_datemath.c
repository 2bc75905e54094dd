/* test_datemath.c -- the spans query dates cover and Elasticsearch date math.
 *
 * Expected epoch values were computed independently with GNU date, e.g.
 *   date -u -d 2024-02-29 +%s   -> 1709164800
 * and are hard-coded here (seconds * 1000000, minus 1 for the last microsecond of a span). */
#include "datemath.h"
#include <criterion/criterion.h>
#include <string.h>

#define S INT64_C(1000000)
#define MIN (60 * S)
#define DAY (86400 * S)

/* 2024-03-05T10:30:00Z, a Tuesday: the "now" of every date math test. */
#define NOW (INT64_C(1709634600) * S)

static int parse_date(const char *s, datemath_span_t *sp)
{
    return datemath_parse_date(s, strlen(s), sp);
}

static int parse_math(const char *s, datemath_span_t *sp)
{
    return datemath_parse(s, strlen(s), NOW, sp);
}

static void expect_math(const char *s, int64_t lo, int64_t hi)
{
    datemath_span_t sp = {0, 0};
    cr_assert_eq(parse_math(s, &sp), 0, "%s", s);
    cr_expect_eq(sp.lo, lo, "%s: lo %lld, want %lld", s, (long long)sp.lo, (long long)lo);
    cr_expect_eq(sp.hi, hi, "%s: hi %lld, want %lld", s, (long long)sp.hi, (long long)hi);
}

Test(datemath, date_span_covers_the_precision_written)
{
    static const struct { const char *in; int64_t lo, hi; } cases[] = {
        {"2024-01-01", 1704067200 * S, 1704067200 * S + DAY - 1},            /* the day */
        {"2024-01-01T10:00Z", 1704103200 * S, 1704103200 * S + MIN - 1},     /* the minute */
        {"2024-01-01T10:00:05Z", 1704103205 * S, 1704103206 * S - 1},        /* the second */
        {"2024-01-01T10:00:05.5Z", 1704103205 * S + S / 2, 1704103205 * S + S / 2},
        {"2024-01-01T10:00:05+02:00", 1704096005 * S, 1704096006 * S - 1},   /* zone applied */
        {"1969-12-31", -86400 * S, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        datemath_span_t sp = {0, 0};
        cr_assert_eq(parse_date(cases[i].in, &sp), 0, "%s", cases[i].in);
        cr_expect_eq(sp.lo, cases[i].lo, "%s lo", cases[i].in);
        cr_expect_eq(sp.hi, cases[i].hi, "%s hi", cases[i].in);
    }
}

Test(datemath, date_rejects_what_is_not_a_date)
{
    static const char *const bad[] = {"", "2024", "2024-13-01", "2024-02-30", "2023-02-29",
                                      "20240101", "hello world", "2024-01-01T", "2024-01-01T25:00Z",
                                      "2024-01-01T10:00:00Zjunk", "now"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        datemath_span_t sp = {7, 7};
        cr_expect_eq(parse_date(bad[i], &sp), DATEMATH_ERR_INVALID, "'%s'", bad[i]);
        cr_expect(sp.lo == 7 && sp.hi == 7, "'%s': out untouched", bad[i]);
    }
}

Test(datemath, date_need_not_be_nul_terminated)
{
    datemath_span_t sp;
    const char buf[] = "2024-03-04X";   /* the X is past the length given */
    cr_assert_eq(datemath_parse_date(buf, 10, &sp), 0);
    cr_expect_eq(sp.lo, 1709510400 * S);
}

Test(datemath, now_relative_arithmetic)
{
    expect_math("now", NOW, NOW);
    expect_math("now-1d", NOW - DAY, NOW - DAY);
    expect_math("now+2h-30m", NOW + 90 * MIN, NOW + 90 * MIN);
    expect_math("now+1H", NOW + 60 * MIN, NOW + 60 * MIN);          /* H is h */
    expect_math("now-10s", NOW - 10 * S, NOW - 10 * S);
    expect_math("now-1w", 1709029800 * S, 1709029800 * S);           /* 2024-02-27T10:30Z */
    expect_math("now-1M", 1707129000 * S, 1707129000 * S);           /* 2024-02-05T10:30Z */
    expect_math("now+1y", 1741170600 * S, 1741170600 * S);           /* 2025-03-05T10:30Z */
}

Test(datemath, rounding_widens_to_the_whole_unit)
{
    expect_math("now/d", 1709596800 * S, 1709683200 * S - 1);        /* 2024-03-05 */
    expect_math("now-1d/d", 1709510400 * S, 1709596800 * S - 1);     /* 2024-03-04 */
    expect_math("now/w", 1709510400 * S, 1710115200 * S - 1);        /* Monday 03-04 .. 03-10 */
    expect_math("now/M", 1709251200 * S, 1711929600 * S - 1);        /* March 2024 */
    expect_math("now/y", 1704067200 * S, 1735689600 * S - 1);        /* 2024 */
    expect_math("now/h", 1709632800 * S, 1709636400 * S - 1);        /* 10:00 .. 10:59:59.999999 */
    expect_math("now/m", NOW, NOW + MIN - 1);
    expect_math("2024-01-01||+1M/M", 1706745600 * S, 1709251200 * S - 1);   /* February 2024 */
}

Test(datemath, rounding_before_the_epoch_goes_down)
{
    datemath_span_t sp;
    /* one microsecond before 1970 rounds to 1969-12-31, not to 1970-01-01 */
    cr_assert_eq(datemath_parse("now/d", 5, -1, &sp), 0);
    cr_expect_eq(sp.lo, -DAY);
    cr_expect_eq(sp.hi, -1);
    /* 1969-12-31 was a Wednesday: its week starts on Monday 1969-12-29 */
    cr_assert_eq(datemath_parse("now/w", 5, -1, &sp), 0);
    cr_expect_eq(sp.lo, -3 * DAY);
    cr_expect_eq(sp.hi, 4 * DAY - 1);
}

Test(datemath, months_and_years_clamp_the_day)
{
    expect_math("2024-01-31||+1M", 1709164800 * S, 1709164800 * S + DAY - 1);  /* 2024-02-29 */
    expect_math("2023-01-31||+1M", 1677542400 * S, 1677542400 * S + DAY - 1);  /* 2023-02-28 */
    expect_math("2024-03-31||-1M", 1709164800 * S, 1709164800 * S + DAY - 1);  /* 2024-02-29 */
    expect_math("2024-02-29||+1y", 1740700800 * S, 1740700800 * S + DAY - 1);  /* 2025-02-28 */
    expect_math("2024-01-31||+1M+1M", 1711670400 * S, 1711670400 * S + DAY - 1); /* 03-29 */
    /* the time of day and the precision are kept */
    expect_math("2024-01-31T10:00:00Z||+1M", 1709200800 * S, 1709200801 * S - 1);
}

Test(datemath, extreme_times_that_fit_are_kept)
{
    /* 1.6 days after the first int64_t microsecond (NOW - 15253111 weeks): still a time, and so
     * is the start of its hour */
    const int64_t t = INT64_C(-9223371898200000000);
    expect_math("now-7000000w-7000000w-1253111w", t, t);
    expect_math("now-7000000w-7000000w-1253111w/h", INT64_C(-9223371900000000000),
                INT64_C(-9223371896400000001));
}

Test(datemath, not_date_math)
{
    static const char *const plain[] = {"2024-01-01", "hello", "", "no|bars", "nope"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        datemath_span_t sp = {7, 7};
        cr_expect_eq(parse_math(plain[i], &sp), DATEMATH_ERR_NOTMATH, "'%s'", plain[i]);
        cr_expect(sp.lo == 7 && sp.hi == 7, "'%s': out untouched", plain[i]);
    }
}

Test(datemath, invalid_date_math)
{
    static const char *const bad[] = {
        "now+", "now+1", "now+1x", "now/", "now/x", "now*1d", "now 1d", "now-d",
        "2024-13-01||+1d", "||+1d", "2024-01-01||1d",
        "9999-12-01||+1M",                      /* past year 9999 */
        "0000-01-15||-1M",                      /* before year 0 */
        "now+8000000w",                         /* one step of over INT64_MAX / 2 us */
        "now+7000000w+7000000w+7000000w",       /* past the last int64_t microsecond */
        "now-7000000w-7000000w-1253112w",       /* before the first one */
        "now-7000000w-7000000w-1253111w/y",     /* valid, but its year starts before it */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        datemath_span_t sp = {7, 7};
        cr_expect_eq(parse_math(bad[i], &sp), DATEMATH_ERR_INVALID, "'%s'", bad[i]);
        cr_expect(sp.lo == 7 && sp.hi == 7, "'%s': out untouched", bad[i]);
    }
}
