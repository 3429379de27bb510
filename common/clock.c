// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "clock.h"

__u64 clock_now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

__u64 mono_now_ns(void)
{
	return clock_now_ns(CLOCK_MONOTONIC);
}

__u64 mono_now_ms(void)
{
	return mono_now_ns() / 1000000;
}

__u64 wall_now_ms(void)
{
	return clock_now_ns(CLOCK_REALTIME) / 1000000;
}

__u64 mono_to_wall_ns(__u64 mono)
{
	__u64 wall = clock_now_ns(CLOCK_REALTIME);

	return wall - (mono_now_ns() - mono);
}
