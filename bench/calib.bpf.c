// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Calibrator: the least a per-flow datapath must do.  It reads the flow
 * key of an untagged IPv4 TCP/UDP frame at fixed offsets, looks it up
 * once in an LRU hash of the same key and value types as flowbpf's
 * "flows" map (48-byte key, 40-byte value), and counts the packet on a
 * hit.  No options, no VLANs, no IPv6, no verdict, no statistics, no
 * events: flowbpf's cost above this is the price of everything it does
 * beyond one lookup.  bench_calib_new adds one insert on a miss, the
 * least a new flow can cost.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "flowbpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FLOWBPF_DEFAULT_FLOWS);
	__type(key, struct flowbpf_key);
	__type(value, struct flowbpf_flow);
} calib_flows SEC(".maps");

/* The flow key of an untagged IPv4 TCP/UDP frame; false for others. */
static __always_inline bool calib_key(struct xdp_md *ctx, struct flowbpf_key *k)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__be16 *ports = data + sizeof(*eth) + sizeof(*ip);

	if ((void *)(ports + 2) > data_end ||
	    eth->h_proto != bpf_htons(0x0800))
		return false;
	k->family = 4;
	k->proto = ip->protocol;
	k->sport = ports[0];
	k->dport = ports[1];
	k->saddr[2] = k->daddr[2] = bpf_htonl(0xffff);
	k->saddr[3] = ip->saddr;
	k->daddr[3] = ip->daddr;
	return true;
}

/* One lookup, the packet counted on a hit; on a miss, with insert, one
 * insert of a flowbpf_flow value. */
static __always_inline int calib_flow(struct xdp_md *ctx, bool insert)
{
	struct flowbpf_flow nf = { .packets = 1 };
	struct flowbpf_key k = {};
	struct flowbpf_flow *f;

	if (!calib_key(ctx, &k))
		return XDP_PASS;
	f = bpf_map_lookup_elem(&calib_flows, &k);
	if (f)
		__sync_fetch_and_add(&f->packets, 1);
	else if (insert)
		bpf_map_update_elem(&calib_flows, &k, &nf, BPF_NOEXIST);
	return XDP_PASS;
}

SEC("xdp")
int bench_calib(struct xdp_md *ctx)
{
	return calib_flow(ctx, false);
}

/*
 * The least a new flow costs: the same lookup and, on a miss, one insert
 * of a flowbpf_flow value (a node from the LRU free lists, or an evicted
 * one when there is none left).  No event, no verdict, no flood guard.
 */
SEC("xdp")
int bench_calib_new(struct xdp_md *ctx)
{
	return calib_flow(ctx, true);
}
