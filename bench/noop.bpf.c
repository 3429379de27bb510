// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Baselines for the benchmarks: programs that do nothing but return
 * "pass".  Their cost is the cost of the hook itself, which every other
 * program pays too.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int bench_noop_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int bench_noop_tc(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}
