/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The clocks every part of flowbpf reads, in one place. */
#ifndef FLOWBPF_CLOCK_H
#define FLOWBPF_CLOCK_H

#include <time.h>
#include <linux/types.h>

/* A clock in ns: CLOCK_MONOTONIC, CLOCK_REALTIME, a CPU-time clock. */
__u64 clock_now_ns(clockid_t c);
/* CLOCK_MONOTONIC ns (the kernel's bpf_ktime_get_ns) now. */
__u64 mono_now_ns(void);
/* The same in ms, for timeouts and deadlines. */
__u64 mono_now_ms(void);
/* Wall-clock ms since the epoch. */
__u64 wall_now_ms(void);
/* CLOCK_MONOTONIC ns to wall-clock ns since the epoch. */
__u64 mono_to_wall_ns(__u64 mono);

#endif
