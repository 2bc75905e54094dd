/* test_timefmt.c -- RFC 3339 parsing/formatting, durations and sizes.
 *
 * Expected epoch values were computed independently with GNU date, e.g.
 *   date -u -d 2014-12-31T23:00:00-08:00 +%s   -> 1420095600
 * and are hard-coded here (seconds * 1000000 + the fraction). */
#include "timefmt.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define S INT64_C(1000000)

typedef struct {
    const char *in;
    int64_t us;
} valid_case_t;

/* Forms real feeds send (see tests/fixtures/as2/MANIFEST.md), with their values. */
static const valid_case_t valid[] = {
    {"1970-01-01T00:00:00Z", 0},
    {"2015-12-12T12:34Z", 1449923640 * S},                 /* no seconds (w3c simple0025) */
    {"2015-12-12T12:34:00Z", 1449923640 * S},
    {"2014-12-31T23:00:00-08:00", 1420095600 * S},         /* w3c ex56 */
    {"2015-01-01T07:00:00Z", 1420095600 * S},              /* same instant in UTC */
    {"2017-04-05T12:00:00+00:00", 1491393600 * S},         /* DIT `+00:00` */
    {"2017-04-05T12:00:00", 1491393600 * S},               /* no zone: UTC (DIT verification) */
    {"2017-04-05 12:00:00Z", 1491393600 * S},              /* space separator */
    {"2017-04-05t12:00:00z", 1491393600 * S},              /* lower case t and z */
    {"2017-04-05T12:00:00+0000", 1491393600 * S},          /* +hhmm */
    {"2019-05-18T17:22:03+05:30", 1558180323 * S},
    {"2019-05-18T17:22:03+0530", 1558180323 * S},
    {"2020-01-01T00:00:00+01:00", 1577833200 * S},
    {"2000-02-29T00:00:00Z", 951782400 * S},               /* leap day, year % 400 == 0 */
    {"1600-02-29T12:00:00Z", -11670955200 * S},
    {"1900-03-01T00:00:00Z", -2203891200 * S},
    {"1969-12-31T23:59:59Z", -1 * S},
    {"1969-12-31T23:59:59.5Z", -S / 2},
    {"1969-12-31T23:59:59.999999Z", -1},
    {"0000-01-01T00:00:00Z", -62167219200 * S},
    {"9999-12-31T23:59:59Z", 253402300799 * S},
    {"2016-12-31T23:59:59Z", 1483228799 * S},
    /* fractions: 1, 3, 6, 7 and 9 digits; beyond 6 truncated, never rounded */
    {"1970-01-01T00:00:01.5Z", S + 500000},
    {"1970-01-01T00:00:01.123Z", S + 123000},
    {"1970-01-01T00:00:01.123456Z", S + 123456},
    {"1970-01-01T00:00:01.1234567Z", S + 123456},
    {"1970-01-01T00:00:01.999999999Z", S + 999999},
    {"1970-01-01T00:00:01.000000001+00:00", S},
    /* leap second clamps to the last microsecond of its minute */
    {"2016-12-31T23:59:60Z", 1483228799 * S + 999999},
    {"2016-12-31T23:59:60.5Z", 1483228799 * S + 999999},
};

typedef struct {
    const char *in;
    const char *why;
} invalid_case_t;

static const invalid_case_t invalid[] = {
    {"", "expected a 4-digit year"},
    {"15-12-12T12:34Z", "expected a 4-digit year"},
    {"2015/12/12T12:34Z", "expected '-' after the year"},
    {"2015-1-12T12:34Z", "expected a 2-digit month"},
    {"2015-00-12T12:34Z", "month out of range"},
    {"2015-13-12T12:34Z", "month out of range"},
    {"2015-12-00T12:34Z", "day out of range for the month"},
    {"2015-04-31T12:34Z", "day out of range for the month"},
    {"2015-02-29T12:34Z", "day out of range for the month"},       /* not a leap year */
    {"1900-02-29T12:34Z", "day out of range for the month"},       /* century, not leap */
    {"2015-12-12", "expected 'T' between date and time"},
    {"2015-12-12X12:34Z", "expected 'T' between date and time"},
    {"2015-12-12T1:34Z", "expected a 2-digit hour"},
    {"2015-12-12T24:00:00Z", "hour out of range"},
    {"2015-12-12T12.34Z", "expected ':' after the hour"},
    {"2015-12-12T12:60Z", "minute out of range"},
    {"2015-12-12T12:34:61Z", "second out of range"},
    {"2015-12-12T12:34:5Z", "expected 2-digit seconds"},
    {"2015-12-12T12:34:56.Z", "expected digits after '.'"},
    {"2015-12-12T12:34:56.1234567890Z", "more than 9 fractional digits"},
    {"2015-12-12T12:34:56 UTC", "expected a time zone ('Z' or +hh:mm)"},
    {"2015-12-12T12:34:56+8", "expected a 2-digit zone hour"},
    {"2015-12-12T12:34:56+08", "expected a 2-digit zone minute"},
    {"2015-12-12T12:34:56+08:0", "expected a 2-digit zone minute"},
    {"2015-12-12T12:34:56+24:00", "time zone offset out of range"},
    {"2015-12-12T12:34:56+08:60", "time zone offset out of range"},
    {"2015-12-12T12:34:56ZZ", "trailing characters"},
    {"2015-12-12T12:34:56+00:00 ", "trailing characters"},
    {"2015-12-12T12:34:56Z\n", "trailing characters"},
    {"-2015-12-12T12:34Z", "expected a 4-digit year"},
};

static int parse_str(const char *s, int64_t *us, const char **why)
{
    return timefmt_parse_rfc3339(s, strlen(s), us, why);
}

Test(timefmt, rfc3339_valid_table)
{
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        int64_t us = 42;
        const char *why = NULL;
        int rc = parse_str(valid[i].in, &us, &why);
        cr_expect_eq(rc, 0, "%s rejected: %s", valid[i].in, why ? why : "?");
        cr_expect_eq(us, valid[i].us, "%s -> %lld, want %lld", valid[i].in, (long long)us,
                     (long long)valid[i].us);
    }
}

Test(timefmt, rfc3339_invalid_table_gives_precise_reason)
{
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        int64_t us = 42;
        const char *why = NULL;
        int rc = parse_str(invalid[i].in, &us, &why);
        cr_expect_eq(rc, -1, "'%s' accepted", invalid[i].in);
        cr_expect_str_eq(why ? why : "(null)", invalid[i].why, "'%s'", invalid[i].in);
        cr_expect_eq(us, 42, "'%s' wrote the output on failure", invalid[i].in);
    }
}

Test(timefmt, rfc3339_null_why_is_allowed)
{
    int64_t us;
    cr_assert_eq(parse_str("nonsense", &us, NULL), -1);
    cr_assert_eq(timefmt_parse_rfc3339(NULL, 0, &us, NULL), -1);
}

Test(timefmt, rfc3339_not_nul_terminated)
{
    /* the length bounds the parse: the bytes after it must not be read or matter */
    const char buf[] = "2015-12-12T12:34Zgarbage";
    int64_t us = 0;
    cr_assert_eq(timefmt_parse_rfc3339(buf, 17, &us, NULL), 0);
    cr_assert_eq(us, 1449923640 * S);
    char exact[10];
    memcpy(exact, "2015-12-12", 10); /* no NUL anywhere */
    const char *why = NULL;
    cr_assert_eq(timefmt_parse_rfc3339(exact, sizeof exact, &us, &why), -1);
    cr_assert_str_eq(why, "expected 'T' between date and time");
    cr_assert_eq(timefmt_parse_rfc3339(buf, 16, &us, NULL), 0); /* "...T12:34", no zone */
    cr_assert_eq(us, 1449923640 * S);
    cr_assert_eq(timefmt_parse_rfc3339(buf, 15, &us, &why), -1); /* "...T12:3" */
    cr_assert_str_eq(why, "expected a 2-digit minute");
}

typedef struct {
    int64_t us;
    const char *out;
} fmt_case_t;

static const fmt_case_t fmt[] = {
    {0, "1970-01-01T00:00:00.000000Z"},
    {1, "1970-01-01T00:00:00.000001Z"},
    {-1, "1969-12-31T23:59:59.999999Z"},
    {-S / 2, "1969-12-31T23:59:59.500000Z"},
    {-86400 * S, "1969-12-31T00:00:00.000000Z"},
    {-86400 * S - 1, "1969-12-30T23:59:59.999999Z"},
    {1420095600 * S + 7, "2015-01-01T07:00:00.000007Z"},
    {951782400 * S, "2000-02-29T00:00:00.000000Z"},
    {-2203891200 * S, "1900-03-01T00:00:00.000000Z"},
    {-62167219200 * S, "0000-01-01T00:00:00.000000Z"},
    {253402300799 * S + 999999, "9999-12-31T23:59:59.999999Z"},
};

Test(timefmt, format_fixed_width_utc_and_pre_epoch)
{
    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
        char buf[TIMEFMT_RFC3339_MAX];
        size_t n = timefmt_format_rfc3339(fmt[i].us, buf);
        cr_expect_str_eq(buf, fmt[i].out, "%lld", (long long)fmt[i].us);
        cr_expect_eq(n, strlen(fmt[i].out));
    }
}

Test(timefmt, format_extremes_fit_the_buffer)
{
    int64_t ext[] = {INT64_MIN, INT64_MAX, INT64_MIN + 1};
    for (size_t i = 0; i < 3; i++) {
        char buf[TIMEFMT_RFC3339_MAX + 8];
        memset(buf, 'x', sizeof buf);
        size_t n = timefmt_format_rfc3339(ext[i], buf);
        cr_expect_lt(n, (size_t)TIMEFMT_RFC3339_MAX);
        cr_expect_eq(buf[n], '\0');
        cr_expect_eq(buf[n - 1], 'Z');
    }
    char buf[TIMEFMT_RFC3339_MAX];
    timefmt_format_rfc3339(INT64_MAX, buf);
    cr_expect_str_eq(buf, "294247-01-10T04:00:54.775807Z");
}

Test(timefmt, round_trip_format_then_parse)
{
    /* a spread of instants, including negative ones and every table value */
    int64_t probes[] = {0, 1, -1, 123456789, -123456789, 1449923640 * S + 123456,
                        -62167219200 * S, 253402300799 * S + 999999, -11670955200 * S + 1};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        char buf[TIMEFMT_RFC3339_MAX];
        int64_t back = 0;
        timefmt_format_rfc3339(probes[i], buf);
        cr_expect_eq(parse_str(buf, &back, NULL), 0, "%s", buf);
        cr_expect_eq(back, probes[i], "%s", buf);
    }
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        char buf[TIMEFMT_RFC3339_MAX];
        int64_t back = 0;
        timefmt_format_rfc3339(valid[i].us, buf);
        cr_expect_eq(parse_str(buf, &back, NULL), 0, "%s", buf);
        cr_expect_eq(back, valid[i].us, "%s", buf);
    }
    /* every day boundary across four centuries around the epoch (leap rules) */
    for (int64_t day = -146097 * 2; day <= 146097 * 2; day += 7) {
        char buf[TIMEFMT_RFC3339_MAX];
        int64_t us = day * 86400 * S + 1, back = 0;
        timefmt_format_rfc3339(us, buf);
        cr_assert_eq(parse_str(buf, &back, NULL), 0, "%s", buf);
        cr_assert_eq(back, us, "%s", buf);
    }
}

Test(timefmt, now_is_plausible)
{
    int64_t a = timefmt_now_us();
    int64_t b = timefmt_now_us();
    cr_assert_gt(a, 1700000000 * S); /* after Nov 2023 */
    cr_assert_geq(b, a - S);          /* wall clock, may step but not by much here */
}

typedef struct {
    const char *in;
    int64_t ms;
} dur_case_t;

Test(timefmt, duration_units)
{
    static const dur_case_t ok[] = {
        {"250ms", 250}, {"0ms", 0}, {"1s", 1000}, {"30s", 30000}, {"10m", 600000},
        {"2h", 7200000}, {"30d", INT64_C(2592000000)}, {"0s", 0}, {"9223372036854775807ms", INT64_MAX},
        {"9223372036854775s", INT64_C(9223372036854775000)},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ms = -7;
        cr_expect_eq(timefmt_parse_duration(ok[i].in, &ms), 0, "%s", ok[i].in);
        cr_expect_eq(ms, ok[i].ms, "%s", ok[i].in);
    }
}

Test(timefmt, duration_rejects_bad_input)
{
    static const char *const bad[] = {
        "10",          /* missing unit */
        "",            /* nothing */
        "ms",          /* no number */
        "-1s",         /* negative */
        "+1s",         /* sign */
        "1.5s",        /* fraction */
        "1 s",         /* space */
        "1S",          /* units are lower case */
        "1sec", "1D", "1dd", "1msx", "1s ",
        "9223372036854775808ms", /* > INT64_MAX */
        "9223372036854776s",     /* overflows once scaled */
        "99999999999999999999999h",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = -7;
        cr_expect_eq(timefmt_parse_duration(bad[i], &ms), -1, "'%s' accepted", bad[i]);
        cr_expect_eq(ms, -7, "'%s' wrote the output", bad[i]);
    }
    int64_t ms;
    cr_expect_eq(timefmt_parse_duration(NULL, &ms), -1);
}

typedef struct {
    const char *in;
    uint64_t bytes;
} size_case_t;

Test(timefmt, size_units_are_powers_of_1024)
{
    static const size_case_t ok[] = {
        {"1024", 1024}, {"0", 0}, {"7B", 7}, {"4KiB", 4096}, {"4KB", 4096},
        {"512MiB", UINT64_C(512) << 20}, {"512MB", UINT64_C(512) << 20},
        {"64GiB", UINT64_C(64) << 30}, {"64GB", UINT64_C(64) << 30},
        {"2TiB", UINT64_C(2) << 40}, {"2TB", UINT64_C(2) << 40},
        {"18446744073709551615", UINT64_MAX}, {"16777215TiB", UINT64_C(16777215) << 40},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        uint64_t b = 7;
        cr_expect_eq(timefmt_parse_size(ok[i].in, &b), 0, "%s", ok[i].in);
        cr_expect_eq(b, ok[i].bytes, "%s", ok[i].in);
    }
}

Test(timefmt, size_rejects_bad_input)
{
    static const char *const bad[] = {
        "", "KiB", "-1", "+1", "1.5GiB", "1 GiB", "1kib", "1kB", "1Gi", "1PiB", "1GiBs",
        "18446744073709551616",   /* > UINT64_MAX */
        "16777216TiB",            /* overflows once scaled */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t b = 7;
        cr_expect_eq(timefmt_parse_size(bad[i], &b), -1, "'%s' accepted", bad[i]);
        cr_expect_eq(b, 7, "'%s' wrote the output", bad[i]);
    }
    uint64_t b;
    cr_expect_eq(timefmt_parse_size(NULL, &b), -1);
}
