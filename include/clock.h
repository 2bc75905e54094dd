/* clock.h -- the monotonic clock, for timeouts, intervals and durations (never for times shown
 * to anyone: wall-clock time is timefmt_now_us). Thread-safe; no allocation. */
#ifndef CLOCK_H
#define CLOCK_H
#include <stdint.h>

/* Milliseconds / microseconds / nanoseconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
int64_t clock_mono_ms(void);
int64_t clock_mono_us(void);
int64_t clock_mono_ns(void);

#endif
