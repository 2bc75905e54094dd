/* timefmt.h -- RFC 3339 timestamps and config durations, as microseconds / milliseconds.
 * Pure functions; no allocation; thread-safe. */
#ifndef TIMEFMT_H
#define TIMEFMT_H
#include <stddef.h>
#include <stdint.h>

/* Parse an RFC 3339 time as real feeds send it: 0-9 fractional digits, `Z`, `z`, `+hh:mm`,
 * `-hh:mm`, seconds optional (`2015-12-12T12:34Z`), no zone at all (taken as UTC); a space
 * instead of `T` is accepted. `s` need not be NUL-terminated. On success stores microseconds
 * since the Unix epoch in *out_us and returns 0; otherwise returns -1 and, when `why` is not
 * NULL, points it at a static reason ("missing time zone ..."). */
int timefmt_parse_rfc3339(const char *s, size_t len, int64_t *out_us, const char **why);

/* Format microseconds since the epoch as `YYYY-MM-DDThh:mm:ss.ffffffZ` (always 6 fractional
 * digits, UTC). `buf` must hold TIMEFMT_RFC3339_MAX bytes; returns the length written
 * (NUL-terminated). */
#define TIMEFMT_RFC3339_MAX 40
size_t timefmt_format_rfc3339(int64_t us, char *buf);

/* Parse a duration "250ms", "1s", "10m", "2h", "30d" (a non-negative integer and a unit). Returns 0
 * and stores milliseconds, or -1 on anything else. */
int timefmt_parse_duration(const char *s, int64_t *out_ms);

/* Parse a size "64GiB", "512MiB", "4KiB", "1024" (bytes; also KB/MB/GB as powers of 1024).
 * Returns 0 or -1. */
int timefmt_parse_size(const char *s, uint64_t *out_bytes);

/* Civil dates (proleptic Gregorian calendar, Hinnant's algorithms), for modules that do calendar
 * arithmetic (datemath). Days are counted from 1970-01-01 (day 0); months are 1-12, days 1-31.
 * Exact for every day an int64_t of microseconds can reach, and far beyond. Not validated:
 * days_from_civil expects a real date (timefmt_days_in_month gives a month's last day). */
int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d);
void timefmt_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/* Days in month m (1-12) of year y: 28-31, leap years included. */
unsigned timefmt_days_in_month(int64_t y, unsigned m);

/* Wall clock now, in microseconds since the epoch. */
int64_t timefmt_now_us(void);

#endif
