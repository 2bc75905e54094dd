/* datepat.h -- dates as Elasticsearch prints them in aggregation results (key_as_string,
 * value_as_string, from_as_string...), in a fixed offset from UTC; and the `time_zone`
 * parameter read as such an offset.
 *
 * Formats: Elasticsearch's default, strict_date_optional_time, prints
 * "2024-01-01T00:00:00.000Z" ("...000+01:00" in another offset); a few other built-in names;
 * epoch_millis and epoch_second; and Java date patterns built from the letters
 * y u (year), M (month: 1-2 digits, MMM "Jan", MMMM "January"), d, H, m, s (two-digit fields
 * when doubled), S (fraction digits), X (offset "Z"/"+01", XX "+0100", XXX "+01:00"), x (the
 * same but "+00" for UTC), Z ("+0100"), with other characters copied and 'quoted' text
 * literal. "a||b" prints with a. Time zones with rules (Europe/Paris) are not supported, only
 * fixed offsets. Pure functions: no allocation, thread-safe. */
#ifndef DATEPAT_H
#define DATEPAT_H
#include <stddef.h>
#include <stdint.h>

/* Error codes (negative). */
enum { DATEPAT_ERR_INVALID = -1 };

#define DATEPAT_PAT_MAX 64    /* the longest pattern kept */
#define DATEPAT_OUT_MAX 160   /* datepat_format writes at most this many bytes, NUL included */

enum { DATEPAT_ISO, DATEPAT_EPOCH_MILLIS, DATEPAT_EPOCH_SECOND, DATEPAT_PATTERN };

typedef struct {
    int kind;                    /* DATEPAT_*; a zeroed datepat_t is the default (ISO) */
    char pat[DATEPAT_PAT_MAX];   /* DATEPAT_PATTERN: the (checked) pattern */
} datepat_t;

/* Read a format name or pattern (NUL-terminated). Returns 0, or DATEPAT_ERR_INVALID with err
 * saying why ("unsupported letter [E] in date format [EEE yyyy]"). */
int datepat_compile(const char *spec, datepat_t *out, char *err, size_t errlen);

/* Print `us` (microseconds since the epoch) in format f, as seen from UTC + off_s seconds,
 * into buf (DATEPAT_OUT_MAX bytes). Returns the length (buf is NUL-terminated). Years outside
 * 0000-9999 print with as many digits as they need (and a sign when negative). */
size_t datepat_format(const datepat_t *f, int64_t us, int32_t off_s, char *buf);

/* A time zone as a fixed offset: "UTC", "GMT", "Z", "+01:00", "-05:30", "+0100", "+01"
 * (at most 18 hours). Returns 0 and the offset in seconds east of UTC, or DATEPAT_ERR_INVALID. */
int datepat_parse_zone(const char *s, int32_t *off_s);

#endif
