/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Every map of the datapath, in one place.  Sizes are set by the loader
 * between open and load; the values here are only defaults. */
#ifndef FLOWBPF_MAPS_BPF_H
#define FLOWBPF_MAPS_BPF_H

#include "flowbpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FLOWBPF_DEFAULT_FLOWS);
	__type(key, struct flowbpf_key);
	__type(value, struct flowbpf_flow);
} flows SEC(".maps");

/* Manual verdicts: a plain hash, so that eviction cannot take them;
 * allocated as used, so that an empty table costs only its buckets. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, FLOWBPF_MANUAL_MAX);
	__type(key, struct flowbpf_key);
	__type(value, struct flowbpf_manual);
} manual SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flowbpf_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FLOWBPF_DEFAULT_RINGBUF);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flowbpf_qstate);
} qstate SEC(".maps");

/* Written by the collector in userspace, read by "flowbpf stats". */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flowbpf_acct);
} acct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flowbpf_heartbeat);
} heartbeat SEC(".maps");

/* Entries the expiry program removed, for the collector; sized by the
 * loader from the flow table. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FLOWBPF_EXPIRED_RING_MIN);
} expired SEC(".maps");

/* Each CPU's clock reading of the current jiffy (see packet_tick()). */
struct clock_cache {
	__u64 jiffies;
	__u32 tick;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct clock_cache);
} clock SEC(".maps");

/* The outer endpoints of IP tunnels, for records (maps/flowbpf.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FLOWBPF_TUNNELS_MAX);
	__type(key, struct flowbpf_tunnel_key);
	__type(value, struct flowbpf_tunnel);
} tunnels SEC(".maps");

/* The outer endpoints of the packet being parsed, from the parser to
 * flow_create (only tunnelled packets touch it). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flowbpf_tunnel);
} tun_scratch SEC(".maps");

/* Scratch space to assemble a held frame before it goes to the ring. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flowbpf_held);
} hold_scratch SEC(".maps");

#endif
