#include "tierdns/clock.h"

#include <stdbool.h>
#include <time.h>

static bool fake_on;
static uint64_t fake_ms; /* epoch milliseconds of the fake clock */

uint64_t clock_now(void)
{
	struct timespec ts;

	if (fake_on)
		return fake_ms / 1000;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec;
}

/* Milliseconds of clock id, or the fake clock's. */
static uint64_t mono_of(clockid_t id)
{
	struct timespec ts;

	if (fake_on)
		return fake_ms;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t clock_mono_ms(void)
{
	return mono_of(CLOCK_MONOTONIC);
}

uint64_t clock_mono_coarse_ms(void)
{
	return mono_of(CLOCK_MONOTONIC_COARSE);
}

void clock_set_fake(uint64_t epoch_sec)
{
	fake_on = epoch_sec != 0;
	fake_ms = epoch_sec * 1000u;
}

void clock_advance_ms(uint64_t ms)
{
	fake_ms += ms;
}
