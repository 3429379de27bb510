// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Another tool's tc classifier, for test_coexist: counts the IPv4 ICMP
 * packets it sees and lets every packet go on (TC_ACT_UNSPEC), as a
 * well-behaved filter does.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_HLEN 14
#define TC_ACT_UNSPEC (-1)

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

SEC("tc")
int coexist_count(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u8 proto;
	__u64 *n;

	if (skb->protocol != bpf_htons(ETH_P_IP) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + 9, &proto, 1) ||
	    proto != 1 /* ICMP */)
		return TC_ACT_UNSPEC;
	n = bpf_map_lookup_elem(&seen, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_UNSPEC;
}
