/*
 * clock.h - the one injectable source of time.
 *
 * Wall-clock seconds (clock_now) are what the cache stores as absolute expiry,
 * so entries keep their meaning across restarts. Monotonic milliseconds
 * (clock_mono_ms) drive timeouts. Tests install a fake with clock_set_fake()
 * and move time with clock_advance() instead of sleeping.
 */
#ifndef TIERDNS_CLOCK_H
#define TIERDNS_CLOCK_H

#include <stdint.h>

/* Seconds since the Unix epoch (or the fake's value). */
uint64_t clock_now(void);

/* Milliseconds from an arbitrary monotonic origin (or the fake's value * 1000
 * plus its millisecond part). */
uint64_t clock_mono_ms(void);

/* clock_mono_ms at the kernel tick's resolution (a few ms), for counters
 * that need no more and are read per query: cheaper than clock_mono_ms.
 * The fake clock serves both. */
uint64_t clock_mono_coarse_ms(void);

/* Switch this process to a fake clock starting at epoch_sec (0 = use real). */
void clock_set_fake(uint64_t epoch_sec);
/* Move the fake clock forward; no effect with the real clock. */
void clock_advance_ms(uint64_t ms);

#endif
