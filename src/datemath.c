/* datemath.c -- Elasticsearch query dates: the span a written date covers, and date math.
 *
 * A date covers what it leaves unsaid ("Missing date components" in the range query
 * reference), so parsing yields a span [lo, hi]; date math ("Date math and rounding") moves
 * both ends and rounds them. Calendar arithmetic (months, years, rounding to a month or year)
 * goes through timefmt's civil-date conversions; everything else is plain microseconds. */
#include "datemath.h"
#include "timefmt.h"
#include <stdbool.h>
#include <string.h>

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SEC)

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b < 0) ? q - 1 : q;
}

static bool looks_like_date(const char *s, size_t n)
{
    return n >= 10 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) &&
           s[4] == '-' && s[7] == '-';
}

int datemath_parse_date(const char *s, size_t n, datemath_span_t *out)
{
    int64_t us;
    if (!looks_like_date(s, n))
        return DATEMATH_ERR_INVALID;
    if (n == 10) {
        char buf[24];
        memcpy(buf, s, 10);
        memcpy(buf + 10, "T00:00:00Z", 10);
        if (timefmt_parse_rfc3339(buf, 20, &us, NULL) != 0)
            return DATEMATH_ERR_INVALID;
        *out = (datemath_span_t){us, us + US_PER_DAY - 1};
        return 0;
    }
    if (timefmt_parse_rfc3339(s, n, &us, NULL) != 0)
        return DATEMATH_ERR_INVALID;
    int64_t unit = 1;
    if (n <= 16 || s[16] != ':')
        unit = 60 * US_PER_SEC;           /* no seconds: the minute */
    else if (n <= 19 || s[19] != '.')
        unit = US_PER_SEC;                /* no fraction: the second */
    *out = (datemath_span_t){us, us + unit - 1};
    return 0;
}

/* t plus `months` calendar months, the time of day kept and the day clamped to the target
 * month's last day. */
static int add_months(int64_t t, int64_t months, int64_t *out)
{
    int64_t days = floor_div(t, US_PER_DAY), in_day = t - days * US_PER_DAY, y;
    unsigned m, d;
    timefmt_civil_from_days(days, &y, &m, &d);
    int64_t total = y * 12 + (m - 1) + months;
    y = floor_div(total, 12);
    m = (unsigned)(total - y * 12) + 1;
    if (y < 0 || y > 9999)
        return DATEMATH_ERR_INVALID;
    unsigned last = timefmt_days_in_month(y, m);
    if (d > last)
        d = last;
    *out = timefmt_days_from_civil(y, m, d) * US_PER_DAY + in_day;
    return 0;
}

/* Microseconds in one fixed-length unit; 0 for months, years and unknown units. */
static int64_t unit_us(char unit)
{
    switch (unit) {
    case 's': return US_PER_SEC;
    case 'm': return 60 * US_PER_SEC;
    case 'h': case 'H': return 3600 * US_PER_SEC;
    case 'd': return US_PER_DAY;
    case 'w': return 7 * US_PER_DAY;
    default: return 0;
    }
}

/* Add k units to t. */
static int date_add(int64_t t, char unit, int64_t k, int64_t *out)
{
    if (unit == 'M' || unit == 'y')
        return add_months(t, unit == 'y' ? k * 12 : k, out);
    int64_t step = unit_us(unit);
    if (step == 0)
        return DATEMATH_ERR_INVALID;
    int64_t sum;
    if (k > INT64_MAX / step / 2 || k < -(INT64_MAX / step / 2) ||
        __builtin_add_overflow(t, k * step, &sum))
        return DATEMATH_ERR_INVALID;
    *out = sum;
    return 0;
}

/* Round t down to the start of its unit (weeks start on Monday, as in Elasticsearch): the
 * start is n steps from the epoch. */
static int date_floor(int64_t t, char unit, int64_t *out)
{
    int64_t days = floor_div(t, US_PER_DAY), y, n, step = US_PER_DAY, start;
    unsigned m, d;
    switch (unit) {
    case 'w': /* 1970-01-01 was a Thursday: Mondays are days -3 + 7k */
        n = floor_div(days + 3, 7) * 7 - 3;
        break;
    case 'M': case 'y':
        timefmt_civil_from_days(days, &y, &m, &d);
        n = timefmt_days_from_civil(y, unit == 'y' ? 1 : m, 1);
        break;
    default:
        if ((step = unit_us(unit)) == 0)
            return DATEMATH_ERR_INVALID;
        n = floor_div(t, step);
        break;
    }
    if (__builtin_mul_overflow(n, step, &start))
        return DATEMATH_ERR_INVALID;   /* the start is before the earliest int64_t time */
    *out = start;
    return 0;
}

/* "/<unit>": both ends to the start of their unit, hi then to the end of its unit. */
static int span_round(datemath_span_t *sp, char unit)
{
    if (date_floor(sp->lo, unit, &sp->lo) < 0 || date_floor(sp->hi, unit, &sp->hi) < 0 ||
        date_add(sp->hi, unit, 1, &sp->hi) < 0)
        return DATEMATH_ERR_INVALID;
    sp->hi -= 1;
    return 0;
}

/* The anchor: "now" or "<date>||". Sets *i to the first operation. */
static int anchor_parse(const char *s, size_t n, int64_t now_us, datemath_span_t *sp, size_t *i)
{
    if (n >= 3 && memcmp(s, "now", 3) == 0) {
        *sp = (datemath_span_t){now_us, now_us};
        *i = 3;
        return 0;
    }
    const char *bars = NULL;
    for (size_t k = 0; k + 1 < n && !bars; k++)
        if (s[k] == '|' && s[k + 1] == '|')
            bars = s + k;
    if (!bars)
        return DATEMATH_ERR_NOTMATH;
    if (datemath_parse_date(s, (size_t)(bars - s), sp) < 0)
        return DATEMATH_ERR_INVALID;
    *i = (size_t)(bars - s) + 2;
    return 0;
}

int datemath_parse(const char *s, size_t n, int64_t now_us, datemath_span_t *out)
{
    datemath_span_t sp;
    size_t i;
    int r = anchor_parse(s, n, now_us, &sp, &i);
    if (r < 0)
        return r;
    while (i < n) {
        char op = s[i++];
        if (op == '/') {
            if (i >= n || span_round(&sp, s[i]) < 0)
                return DATEMATH_ERR_INVALID;
            i++;
            continue;
        }
        if (op != '+' && op != '-')
            return DATEMATH_ERR_INVALID;
        int64_t k = 0;
        size_t start = i;
        while (i < n && is_digit(s[i]) && k < 100000000)
            k = k * 10 + (s[i++] - '0');
        if (i == start || i >= n)
            return DATEMATH_ERR_INVALID;
        if (op == '-')
            k = -k;
        if (date_add(sp.lo, s[i], k, &sp.lo) < 0 || date_add(sp.hi, s[i], k, &sp.hi) < 0)
            return DATEMATH_ERR_INVALID;
        i++;
    }
    *out = sp;
    return 0;
}
