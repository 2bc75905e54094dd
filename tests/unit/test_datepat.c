/* test_datepat.c -- dates printed as Elasticsearch prints them: the default format in UTC and
 * in offsets (which move the date across midnight), built-in names, epoch formats, Java
 * pattern letters, quoting, years outside 0000-9999; format errors; time zones as offsets. */
#include "datepat.h"
#include <criterion/criterion.h>
#include <string.h>

#define T0 INT64_C(1704067200000000)   /* 2024-01-01T00:00:00Z */

static void expect_format(const char *spec, int64_t us, int32_t off_s, const char *want)
{
    datepat_t f = {0};
    char err[256], buf[DATEPAT_OUT_MAX];
    if (spec)
        cr_assert_eq(datepat_compile(spec, &f, err, sizeof err), 0, "%s: %s", spec, err);
    size_t n = datepat_format(&f, us, off_s, buf);
    cr_expect_str_eq(buf, want, "%s at %d", spec ? spec : "(default)", off_s);
    cr_expect_eq(n, strlen(want));
}

Test(datepat, default_format_and_offsets)
{
    expect_format(NULL, T0, 0, "2024-01-01T00:00:00.000Z");
    expect_format(NULL, T0 + 123456, 0, "2024-01-01T00:00:00.123Z");
    expect_format(NULL, T0, 3600, "2024-01-01T01:00:00.000+01:00");
    expect_format(NULL, T0, -(5 * 3600 + 1800), "2023-12-31T18:30:00.000-05:30");
    expect_format(NULL, T0 - 1, 0, "2023-12-31T23:59:59.999Z");
    expect_format("strict_date_optional_time", T0, 0, "2024-01-01T00:00:00.000Z");
    expect_format("date_optional_time||epoch_millis", T0, 3600, "2024-01-01T01:00:00.000+01:00");
}

Test(datepat, named_and_epoch_formats)
{
    expect_format("epoch_millis", T0 + 999, 3600, "1704067200000");
    expect_format("epoch_millis", -1, 0, "-1");
    expect_format("epoch_second", T0 + 1500000, 0, "1704067201");
    expect_format("date", T0, -3600, "2023-12-31");
    expect_format("strict_date_hour_minute_second", T0 + 61000000, 0, "2024-01-01T00:01:01");
    expect_format("basic_date", T0, 0, "20240101");
    expect_format("year_month", T0, 0, "2024-01");
}

Test(datepat, pattern_letters)
{
    int64_t t = T0 + INT64_C(((9 * 3600) + (5 * 60) + 7) * 1000000) + 42000;   /* 09:05:07.042 */
    expect_format("yyyy-MM-dd HH:mm:ss.SSS", t, 0, "2024-01-01 09:05:07.042");
    expect_format("yy/M/d H:m:s", t, 0, "24/1/1 9:5:7");
    expect_format("uuuu MMM MMMM", t, 0, "2024 Jan January");
    expect_format("HH:mm:ss.SSSSSSSSS", t, 0, "09:05:07.042000000");
    expect_format("HH:mmX", t, 0, "09:05Z");
    expect_format("HH:mmX", t, 3600, "10:05+01");
    expect_format("HH:mmXX", t, 5400, "10:35+0130");
    expect_format("HH:mmXXX", t, -3600, "08:05-01:00");
    expect_format("HH:mmx", t, 0, "09:05+00");
    expect_format("HH:mmZ", t, 0, "09:05+0000");
    expect_format("yyyy-MM-dd'T'HH 'o''clock'", t, 0, "2024-01-01T09 o'clock");
    expect_format("''yyyy''", t, 0, "'2024'");
}

Test(datepat, years_outside_four_digits)
{
    /* 10000-01-01 and year -1 (2 BCE) */
    expect_format(NULL, INT64_C(253402300800000000), 0, "10000-01-01T00:00:00.000Z");
    expect_format("yyyy", INT64_C(-62198755200000000), 0, "-0001");
}

Test(datepat, format_errors)
{
    static const struct { const char *spec, *err; } bad[] = {
        {"EEE, d MMM", "unsupported letter [E] in date format [EEE, d MMM]"},
        {"yyyy-MM-dd'T", "unterminated quote in date format [yyyy-MM-dd'T]"},
        {"dd ddd", "too many [d] in date format [dd ddd]"},
        {"MMMMM", "too many [M] in date format [MMMMM]"},
        {"", "empty date format"},
        {"||epoch_millis", "empty date format"},
        {"yyyy-MM-dd yyyy-MM-dd yyyy-MM-dd yyyy-MM-dd yyyy-MM-dd yyyy-MM-dd yy",
         "date format [yyyy-MM-dd yyyy-MM-dd yyyy-MM-dd yyyy-MM-dd yyyy-MM-dd yyyy-MM-dd yy] is too long"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        datepat_t f;
        char err[256] = "";
        cr_expect_eq(datepat_compile(bad[i].spec, &f, err, sizeof err), DATEPAT_ERR_INVALID, "%s", bad[i].spec);
        cr_expect_str_eq(err, bad[i].err);
    }
}

Test(datepat, zones_are_fixed_offsets)
{
    static const struct { const char *s; int32_t off; } good[] = {
        {"UTC", 0}, {"GMT", 0}, {"Z", 0}, {"+01:00", 3600}, {"-05:30", -19800}, {"+0130", 5400},
        {"-03", -10800}, {"+18:00", 64800}, {"+00:00", 0},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int32_t off = 99;
        cr_expect_eq(datepat_parse_zone(good[i].s, &off), 0, "%s", good[i].s);
        cr_expect_eq(off, good[i].off, "%s", good[i].s);
    }
    static const char *bad[] = {"Europe/Paris", "utc", "+1:00", "+01:0", "+19:00", "+01:60", "01:00", "", "+",
                                "+01:00:00", "UTC+1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t off;
        cr_expect_eq(datepat_parse_zone(bad[i], &off), DATEPAT_ERR_INVALID, "%s", bad[i]);
    }
}
