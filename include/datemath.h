/* datemath.h -- dates as an Elasticsearch query writes them: the span of time a date covers and
 * date math ("now-1d/d", "2024-01-01||+1M/M"). Times are microseconds since the Unix epoch.
 * Pure functions on the caller's bytes (which need not be NUL-terminated): no allocation, no
 * global state, thread-safe. Built on timefmt (RFC 3339 parsing, civil dates). */
#ifndef DATEMATH_H
#define DATEMATH_H
#include <stddef.h>
#include <stdint.h>

/* Error codes (negative). */
enum {
    DATEMATH_ERR_NOTMATH = -1,  /* datemath_parse: the text is not date math at all */
    DATEMATH_ERR_INVALID = -2,  /* not a date, or date math that cannot be evaluated */
};

/* The microseconds a date covers, both ends included: lo <= hi for every parsed date. */
typedef struct { int64_t lo, hi; } datemath_span_t;

/* A date as Elasticsearch reads it from a query, covering the precision written (its "missing
 * date components"): "2024-01-01" is that whole day, "2024-01-01T10:00Z" that minute,
 * "...T10:00:05Z" that second, "...T10:00:05.5Z" (any fraction) the instant. Accepts a bare
 * YYYY-MM-DD or what timefmt_parse_rfc3339 accepts. Returns 0 and the span in *out, or
 * DATEMATH_ERR_INVALID (*out untouched). */
int datemath_parse_date(const char *s, size_t n, datemath_span_t *out);

/* Date math: an anchor, "now" (now_us, as the instant) or "<date>||" (a date as above), then
 * any number of operations, each "+<n><unit>" or "-<n><unit>" (n: decimal digits) or
 * "/<unit>" (round down to the unit's start), units y M w d h H m s (H = h; weeks start on
 * Monday). Adding months or years keeps the day when the target month has it, else clamps to
 * its last day (2024-01-31||+1M is 2024-02-29). Operations apply to both ends of the span;
 * rounding widens it to the whole unit ("now/d" is today, 00:00 to 23:59:59.999999).
 * Returns 0 and the span in *out; DATEMATH_ERR_NOTMATH when s neither starts with "now" nor
 * holds "||" (it may still be a plain date); DATEMATH_ERR_INVALID when it is date math but a
 * malformed one, or lands outside years 0000-9999 after month/year arithmetic, or overflows.
 * On error *out is untouched. */
int datemath_parse(const char *s, size_t n, int64_t now_us, datemath_span_t *out);

#endif
