/* timefmt.c -- RFC 3339 timestamps, durations and sizes, without libc time zones.
 *
 * Pure functions: no allocation, no locale, no TZ, no timegm(); dates are converted with
 * Howard Hinnant's days-from-civil algorithm (proleptic Gregorian calendar), so every
 * result is the same on every machine and thread.
 *
 * Accepted timestamps (what real feeds send):
 *   YYYY-MM-DD('T'|'t'|' ')hh:mm[:ss[.f{1,9}]][Z|z|+hh:mm|-hh:mm|+hhmm|-hhmm]
 * - years 0000-9999; month, day (per month, leap years included), hour, minute checked;
 * - seconds optional (`2015-12-12T12:34Z`); no zone at all means UTC;
 * - fractional digits beyond microseconds are truncated (not rounded);
 * - a leap second (`:60`) is accepted and CLAMPED to hh:mm:59.999999, so it sorts after
 *   every other instant of that minute and before the next minute (we have no leap-second
 *   table; POSIX time cannot represent it otherwise);
 * - zone offsets up to 23:59.
 * Anything else is rejected with a static reason naming the first problem found. */
#include "timefmt.h"
#include <stdbool.h>
#include <string.h>
#include <time.h>

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SEC)

/* Hinnant's "days_from_civil" (proleptic Gregorian); the only copy in the tree. */
int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Its inverse, Hinnant's "civil_from_days". */
void timefmt_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    const int64_t z = days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned timefmt_days_in_month(int64_t y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* A cursor over a string that need not be NUL-terminated. */
typedef struct {
    const char *s;
    size_t len, pos;
} cur_t;

static bool at_end(const cur_t *c) { return c->pos >= c->len; }
static char peek(const cur_t *c) { return at_end(c) ? '\0' : c->s[c->pos]; }
static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* Read exactly n digits into *out; false if fewer are there. */
static bool digits(cur_t *c, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        char ch = peek(c);
        if (!is_digit(ch))
            return false;
        v = v * 10 + (unsigned)(ch - '0');
        c->pos++;
    }
    *out = v;
    return true;
}

static bool accept(cur_t *c, char ch)
{
    if (peek(c) != ch)
        return false;
    c->pos++;
    return true;
}

typedef struct {
    unsigned year, month, day, hour, minute, second;
    int64_t frac_us;
    int64_t offset_min; /* minutes east of UTC */
} tm_fields_t;

static const char *parse_date(cur_t *c, tm_fields_t *t)
{
    if (!digits(c, 4, &t->year))
        return "expected a 4-digit year";
    if (!accept(c, '-'))
        return "expected '-' after the year";
    if (!digits(c, 2, &t->month))
        return "expected a 2-digit month";
    if (t->month < 1 || t->month > 12)
        return "month out of range";
    if (!accept(c, '-'))
        return "expected '-' after the month";
    if (!digits(c, 2, &t->day))
        return "expected a 2-digit day";
    if (t->day < 1 || t->day > timefmt_days_in_month(t->year, t->month))
        return "day out of range for the month";
    return NULL;
}

/* Fractional seconds: 1-9 digits (more than 9 is rejected), truncated to microseconds. */
static const char *parse_fraction(cur_t *c, tm_fields_t *t)
{
    int n = 0;
    int64_t us = 0;
    while (is_digit(peek(c))) {
        if (++n > 9)
            return "more than 9 fractional digits";
        if (n <= 6)
            us = us * 10 + (peek(c) - '0');
        c->pos++;
    }
    if (n == 0)
        return "expected digits after '.'";
    for (int i = n; i < 6; i++)
        us *= 10;
    t->frac_us = us;
    return NULL;
}

static const char *parse_time(cur_t *c, tm_fields_t *t)
{
    if (!digits(c, 2, &t->hour))
        return "expected a 2-digit hour";
    if (t->hour > 23)
        return "hour out of range";
    if (!accept(c, ':'))
        return "expected ':' after the hour";
    if (!digits(c, 2, &t->minute))
        return "expected a 2-digit minute";
    if (t->minute > 59)
        return "minute out of range";
    if (!accept(c, ':'))
        return NULL; /* no seconds */
    if (!digits(c, 2, &t->second))
        return "expected 2-digit seconds";
    if (t->second > 60)
        return "second out of range";
    if (accept(c, '.'))
        return parse_fraction(c, t);
    return NULL;
}

static const char *parse_zone(cur_t *c, tm_fields_t *t)
{
    if (at_end(c))
        return NULL; /* no zone: UTC */
    if (accept(c, 'Z') || accept(c, 'z'))
        return NULL;
    char sign = peek(c);
    if (sign != '+' && sign != '-')
        return "expected a time zone ('Z' or +hh:mm)";
    c->pos++;
    unsigned hh, mm;
    if (!digits(c, 2, &hh))
        return "expected a 2-digit zone hour";
    accept(c, ':'); /* +hh:mm or +hhmm */
    if (!digits(c, 2, &mm))
        return "expected a 2-digit zone minute";
    if (hh > 23 || mm > 59)
        return "time zone offset out of range";
    t->offset_min = (int64_t)(hh * 60 + mm) * (sign == '-' ? -1 : 1);
    return NULL;
}

static int fail(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -1;
}

int timefmt_parse_rfc3339(const char *s, size_t len, int64_t *out_us, const char **why)
{
    if (!s)
        return fail(why, "no timestamp");
    cur_t c = {s, len, 0};
    tm_fields_t t = {0};
    const char *err = parse_date(&c, &t);
    if (err)
        return fail(why, err);
    char sep = peek(&c);
    if (sep != 'T' && sep != 't' && sep != ' ')
        return fail(why, "expected 'T' between date and time");
    c.pos++;
    if ((err = parse_time(&c, &t)) || (err = parse_zone(&c, &t)))
        return fail(why, err);
    if (!at_end(&c))
        return fail(why, "trailing characters");
    if (t.second == 60) { /* leap second: clamp to the last microsecond of the minute */
        t.second = 59;
        t.frac_us = US_PER_SEC - 1;
    }
    int64_t days = timefmt_days_from_civil(t.year, t.month, t.day);
    int64_t secs = days * 86400 + t.hour * 3600 + t.minute * 60 + t.second - t.offset_min * 60;
    *out_us = secs * US_PER_SEC + t.frac_us;
    return 0;
}

/* Floor division and the matching non-negative remainder. */
static int64_t floor_div(int64_t a, int64_t b, int64_t *rem)
{
    int64_t q = a / b, r = a % b;
    if (r < 0) {
        q -= 1;
        r += b;
    }
    *rem = r;
    return q;
}

/* Write v as exactly n decimal digits (v >= 0, zero-padded), return the end. */
static char *put_digits(char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

size_t timefmt_format_rfc3339(int64_t us, char *buf)
{
    int64_t us_of_day, y;
    int64_t days = floor_div(us, US_PER_DAY, &us_of_day);
    unsigned m, d;
    timefmt_civil_from_days(days, &y, &m, &d);
    char *p = buf;
    if (y < 0) {
        *p++ = '-';
        y = -y;
    }
    /* Years beyond 9999 (only from absurd inputs) get as many digits as they need. */
    int ydigits = 4;
    for (int64_t t = y / 10000; t > 0; t /= 10)
        ydigits++;
    p = put_digits(p, (uint64_t)y, ydigits);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    int64_t secs = us_of_day / US_PER_SEC;
    p = put_digits(p, (uint64_t)(secs / 3600), 2);
    *p++ = ':';
    p = put_digits(p, (uint64_t)(secs / 60 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (uint64_t)(secs % 60), 2);
    *p++ = '.';
    p = put_digits(p, (uint64_t)(us_of_day % US_PER_SEC), 6);
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - buf);
}

/* A non-negative decimal integer at *s (no sign, at least one digit, no overflow past
 * INT64_MAX). Advances *s past the digits. */
static int parse_uint(const char **s, uint64_t max, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (!is_digit(*p))
        return -1;
    for (; is_digit(*p); p++) {
        uint64_t dgt = (uint64_t)(*p - '0');
        if (v > (max - dgt) / 10)
            return -1;
        v = v * 10 + dgt;
    }
    *s = p;
    *out = v;
    return 0;
}

typedef struct {
    const char *name;
    uint64_t mult;
} unit_t;

static int scale(uint64_t v, uint64_t mult, uint64_t max, uint64_t *out)
{
    if (mult != 0 && v > max / mult)
        return -1;
    *out = v * mult;
    return 0;
}

static const unit_t *find_unit(const unit_t *units, const char *name)
{
    for (; units->name; units++)
        if (strcmp(units->name, name) == 0)
            return units;
    return NULL;
}

/* Durations: "<digits><unit>", unit one of ms, s, m, h. A bare number ("10") is an error
 * (missing unit) because config readers would otherwise guess seconds vs milliseconds. */
int timefmt_parse_duration(const char *s, int64_t *out_ms)
{
    static const unit_t units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000},
        {NULL, 0}};
    uint64_t v, ms;
    if (!s || parse_uint(&s, INT64_MAX, &v) < 0)
        return -1;
    const unit_t *u = find_unit(units, s);
    if (!u || scale(v, u->mult, INT64_MAX, &ms) < 0)
        return -1;
    *out_ms = (int64_t)ms;
    return 0;
}

/* Sizes: "<digits>[unit]"; no unit or "B" is bytes. KiB/MiB/GiB/TiB are powers of 1024,
 * and so are KB/MB/GB/TB: config files write "64GB" meaning 64 GiB, and a map size has no
 * use for powers of 1000. */
int timefmt_parse_size(const char *s, uint64_t *out_bytes)
{
    static const unit_t units[] = {
        {"", 1}, {"B", 1},
        {"KiB", UINT64_C(1) << 10}, {"MiB", UINT64_C(1) << 20},
        {"GiB", UINT64_C(1) << 30}, {"TiB", UINT64_C(1) << 40},
        {"KB", UINT64_C(1) << 10}, {"MB", UINT64_C(1) << 20},
        {"GB", UINT64_C(1) << 30}, {"TB", UINT64_C(1) << 40},
        {NULL, 0}};
    uint64_t v;
    if (!s || parse_uint(&s, UINT64_MAX, &v) < 0)
        return -1;
    const unit_t *u = find_unit(units, s);
    if (!u)
        return -1;
    return scale(v, u->mult, UINT64_MAX, out_bytes);
}

int64_t timefmt_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * US_PER_SEC + ts.tv_nsec / 1000;
}
