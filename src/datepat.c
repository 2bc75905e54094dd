/* datepat.c -- dates printed in Elasticsearch's formats (see datepat.h).
 *
 * A pattern is checked once, at compile, letter run by letter run; printing walks it again and
 * expands each run from the civil date and time of (us + offset), which timefmt's civil-date
 * conversion gives. */
#include "datepat.h"
#include "errfmt.h"
#include "timefmt.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SEC)
#define MAX_OFFSET_S (18 * 3600)

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_letter(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ======================================================================================
 * Compiling
 * ====================================================================================== */

static const struct { const char *name; int kind; const char *pat; } builtins[] = {
    {"strict_date_optional_time", DATEPAT_ISO, NULL}, {"date_optional_time", DATEPAT_ISO, NULL},
    {"strict_date_time", DATEPAT_ISO, NULL},          {"date_time", DATEPAT_ISO, NULL},
    {"epoch_millis", DATEPAT_EPOCH_MILLIS, NULL},     {"epoch_second", DATEPAT_EPOCH_SECOND, NULL},
    {"strict_date", DATEPAT_PATTERN, "yyyy-MM-dd"},   {"date", DATEPAT_PATTERN, "yyyy-MM-dd"},
    {"basic_date", DATEPAT_PATTERN, "yyyyMMdd"},
    {"strict_date_hour_minute_second", DATEPAT_PATTERN, "yyyy-MM-dd'T'HH:mm:ss"},
    {"date_hour_minute_second", DATEPAT_PATTERN, "yyyy-MM-dd'T'HH:mm:ss"},
    {"strict_date_hour_minute", DATEPAT_PATTERN, "yyyy-MM-dd'T'HH:mm"},
    {"date_hour_minute", DATEPAT_PATTERN, "yyyy-MM-dd'T'HH:mm"},
    {"strict_year_month", DATEPAT_PATTERN, "yyyy-MM"}, {"year_month", DATEPAT_PATTERN, "yyyy-MM"},
    {"strict_year", DATEPAT_PATTERN, "yyyy"},         {"year", DATEPAT_PATTERN, "yyyy"},
};

/* The longest run a letter may have (0: not a letter we print). */
static int max_run(char c)
{
    switch (c) {
    case 'y': case 'u': return 9;
    case 'M': return 4;
    case 'd': case 'H': case 'm': case 's': return 2;
    case 'S': return 9;
    case 'X': case 'x': case 'Z': return 3;
    default: return 0;
    }
}

/* Length of the run of p[0] starting at p. */
static size_t run_len(const char *p)
{
    size_t n = 1;
    while (p[n] == p[0])
        n++;
    return n;
}

/* The end of quoted text opening at p (just past its closing quote), or NULL when it does not
 * close. Inside, '' stands for a quote; '' outside quotes is a quote as well. */
static const char *quote_end(const char *p)
{
    for (p++; *p; p++) {
        if (*p != '\'')
            continue;
        if (p[1] != '\'')
            return p + 1;
        p++;
    }
    return NULL;
}

static int check_pattern(const char *p, const char *spec, char *err, size_t errlen)
{
    while (*p) {
        if (*p == '\'') {
            if (!(p = quote_end(p)))
                return errfmt(err, errlen, "unterminated quote in date format [%s]", spec);
            continue;
        }
        if (!is_letter(*p)) {
            p++;
            continue;
        }
        size_t n = run_len(p);
        if (max_run(*p) == 0)
            return errfmt(err, errlen, "unsupported letter [%c] in date format [%s]", *p, spec);
        if (n > (size_t)max_run(*p))
            return errfmt(err, errlen, "too many [%c] in date format [%s]", *p, spec);
        p += n;
    }
    return 0;
}

int datepat_compile(const char *spec, datepat_t *out, char *err, size_t errlen)
{
    size_t n = strlen(spec);
    const char *bar = strstr(spec, "||");
    if (bar)
        n = (size_t)(bar - spec);
    if (n == 0) {
        errfmt(err, errlen, "empty date format");
        return DATEPAT_ERR_INVALID;
    }
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        if (strlen(builtins[i].name) != n || memcmp(builtins[i].name, spec, n) != 0)
            continue;
        out->kind = builtins[i].kind;
        snprintf(out->pat, sizeof out->pat, "%s", builtins[i].pat ? builtins[i].pat : "");
        return 0;
    }
    if (n >= sizeof out->pat) {
        errfmt(err, errlen, "date format [%s] is too long", spec);
        return DATEPAT_ERR_INVALID;
    }
    memcpy(out->pat, spec, n);
    out->pat[n] = '\0';
    out->kind = DATEPAT_PATTERN;
    if (check_pattern(out->pat, spec, err, errlen) < 0)
        return DATEPAT_ERR_INVALID;
    return 0;
}

/* ======================================================================================
 * Printing
 * ====================================================================================== */

typedef struct {
    int64_t y;
    unsigned mo, d, h, mi, s;
    int64_t frac_us;       /* microseconds within the second */
    int32_t off_s;
} civil_t;

static civil_t to_civil(int64_t us, int32_t off_s)
{
    civil_t c = {.off_s = off_s};
    int64_t local = us + (int64_t)off_s * US_PER_SEC;
    int64_t days = floor_div(local, US_PER_DAY), in_day = local - days * US_PER_DAY;
    timefmt_civil_from_days(days, &c.y, &c.mo, &c.d);
    int64_t secs = in_day / US_PER_SEC;
    c.h = (unsigned)(secs / 3600);
    c.mi = (unsigned)(secs / 60 % 60);
    c.s = (unsigned)(secs % 60);
    c.frac_us = in_day % US_PER_SEC;
    return c;
}

/* Appending into a fixed buffer: writes stop (silently) at its end. */
typedef struct { char *p; size_t n, cap; } out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
    if (o->n >= o->cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
    va_end(ap);
    if (w > 0)
        o->n += (size_t)w < o->cap - o->n ? (size_t)w : o->cap - 1 - o->n;
}

static const char *const month_names[12] = {"January", "February", "March", "April", "May", "June",
                                            "July", "August", "September", "October",
                                            "November", "December"};

/* The offset: "Z" for UTC when z_for_utc; else sign, hours, and minutes as `style` says
 * (1: "+01", 2: "+0100", 3: "+01:00"); minutes are kept when not whole hours. */
static void put_offset(out_t *o, int32_t off_s, int style, bool z_for_utc)
{
    if (off_s == 0 && z_for_utc) {
        put(o, "Z");
        return;
    }
    int32_t a = off_s < 0 ? -off_s : off_s;
    char sign = off_s < 0 ? '-' : '+';
    if (style == 1 && a % 3600 == 0)
        put(o, "%c%02d", sign, a / 3600);
    else
        put(o, style == 3 ? "%c%02d:%02d" : "%c%02d%02d", sign, a / 3600, a / 60 % 60);
}

static void put_fraction(out_t *o, int64_t frac_us, size_t digits)
{
    char six[8];
    snprintf(six, sizeof six, "%06lld", (long long)frac_us);
    for (size_t i = 0; i < digits; i++)
        put(o, "%c", i < 6 ? six[i] : '0');
}

static void put_year(out_t *o, int64_t y, size_t n)
{
    if (n == 2)
        put(o, "%02lld", (long long)((y % 100 + 100) % 100));
    else
        put(o, "%0*lld", (int)(y < 0 ? n + 1 : n), (long long)y);
}

/* One run of n letters c. */
static void put_run(out_t *o, const civil_t *t, char c, size_t n)
{
    switch (c) {
    case 'y': case 'u': put_year(o, t->y, n); break;
    case 'M':
        if (n >= 3)
            put(o, "%.*s", n == 3 ? 3 : 16, month_names[t->mo - 1]);
        else
            put(o, "%0*u", (int)n, t->mo);
        break;
    case 'd': put(o, "%0*u", (int)n, t->d); break;
    case 'H': put(o, "%0*u", (int)n, t->h); break;
    case 'm': put(o, "%0*u", (int)n, t->mi); break;
    case 's': put(o, "%0*u", (int)n, t->s); break;
    case 'S': put_fraction(o, t->frac_us, n); break;
    case 'X': put_offset(o, t->off_s, (int)n, true); break;
    case 'x': put_offset(o, t->off_s, (int)n, false); break;
    default: put_offset(o, t->off_s, 2, false); break;   /* 'Z' */
    }
}

static void put_pattern(out_t *o, const char *p, const civil_t *t)
{
    while (*p) {
        if (*p == '\'') {
            const char *end = quote_end(p);
            for (const char *q = p + 1; q < end - 1; q++) {
                put(o, "%c", *q);
                q += *q == '\'';   /* '' inside is one quote */
            }
            if (end == p + 2)
                put(o, "'");
            p = end;
        } else if (is_letter(*p)) {
            size_t n = run_len(p);
            put_run(o, t, *p, n);
            p += n;
        } else {
            put(o, "%c", *p++);
        }
    }
}

size_t datepat_format(const datepat_t *f, int64_t us, int32_t off_s, char *buf)
{
    out_t o = {buf, 0, DATEPAT_OUT_MAX};
    buf[0] = '\0';
    if (f->kind == DATEPAT_EPOCH_MILLIS || f->kind == DATEPAT_EPOCH_SECOND) {
        put(&o, "%lld", (long long)floor_div(us, f->kind == DATEPAT_EPOCH_MILLIS ? 1000 : US_PER_SEC));
        return o.n;
    }
    civil_t t = to_civil(us, off_s);
    put_pattern(&o, f->kind == DATEPAT_PATTERN ? f->pat : "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", &t);
    return o.n;
}

/* ======================================================================================
 * Time zones
 * ====================================================================================== */

/* Two digits at s[0..1]. */
static bool two_digits(const char *s, int *out)
{
    if (!is_digit(s[0]) || !is_digit(s[1]))
        return false;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return true;
}

int datepat_parse_zone(const char *s, int32_t *off_s)
{
    if (!strcmp(s, "UTC") || !strcmp(s, "GMT") || !strcmp(s, "Z")) {
        *off_s = 0;
        return 0;
    }
    int h, m = 0;
    size_t n = strlen(s);
    if ((s[0] != '+' && s[0] != '-') || n < 3 || !two_digits(s + 1, &h))
        return DATEPAT_ERR_INVALID;
    bool minutes_ok = n == 3 || (n == 5 && two_digits(s + 3, &m)) ||
                      (n == 6 && s[3] == ':' && two_digits(s + 4, &m));
    if (!minutes_ok)
        return DATEPAT_ERR_INVALID;
    int32_t v = h * 3600 + m * 60;
    if (m > 59 || v > MAX_OFFSET_S)
        return DATEPAT_ERR_INVALID;
    *off_s = s[0] == '-' ? -v : v;
    return 0;
}
