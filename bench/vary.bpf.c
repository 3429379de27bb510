// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Gives every run of BPF_PROG_TEST_RUN a different flow.  The test run
 * hands the same frame to each repetition, and changes a program makes to
 * it stay; so this program rewrites the IPv4 source address and UDP
 * source port of the frame from a counter, then tail-calls the program
 * under test (slot 0 of "target").  Flow n has source 198.18.0.0 + (n >>
 * 16) (within 198.18.0.0/15 while n < 2^33) and source port n & 0xffff.
 * With wrap set, n runs modulo wrap, cycling through a fixed set of flows.
 * Its own cost is measured by tail-calling the no-op program, and
 * subtracted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target SEC(".maps");

/* Both set by the driver before each run. */
__u64 wrap = 0;
__u64 next_flow = 0;

SEC("xdp")
int bench_vary(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	__be16 *sport = data + sizeof(struct ethhdr) + sizeof(*ip);
	__u64 n = next_flow++;

	if ((void *)(sport + 1) > data_end)
		return XDP_ABORTED;
	if (wrap)
		n %= wrap;
	ip->saddr = bpf_htonl(0xc6120000 + (__u32)(n >> 16));
	*sport = bpf_htons(n & 0xffff);
	bpf_tail_call(ctx, &target, 0);
	return XDP_ABORTED; /* the slot was empty */
}
