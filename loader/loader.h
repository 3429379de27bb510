/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Skeleton lifecycle: load, attach, pin, detach, and opening what an
 * attach left pinned under /sys/fs/bpf/flowbpf/<ifname>/.
 * int functions return 0 or -errno and set err_get() on failure.
 */
#ifndef FLOWBPF_LOADER_H
#define FLOWBPF_LOADER_H

#include <stdbool.h>
#include <net/if.h>
#include <linux/types.h>
#include "flowbpf.h"

enum flowbpf_xdp_mode { XDPM_NATIVE = 0, XDPM_GENERIC = 1 };
/* Which hook sees ingress: XDP (default) or the clsact ingress hook. */
enum flowbpf_ingress { INGRESS_XDP = 0, INGRESS_TC = 1 };
/*
 * How the XDP program is attached (docs/hooks.md): through libxdp's
 * dispatcher, sharing the hook with other libxdp programs, falling back
 * to a link of its own where the kernel cannot run the dispatcher (auto,
 * the default); the dispatcher or nothing; or a link of its own, alone
 * on the hook (direct).
 */
enum flowbpf_xdp_attach { XDPA_AUTO = 0, XDPA_DISPATCHER, XDPA_DIRECT };

/* Every object an attach pins, in the order of the pin table (loader.c). */
enum flowbpf_obj {
	FB_LINK_XDP,
	FB_PROG_XDP,
	FB_PROG_TC_EGRESS,
	FB_PROG_TC_INGRESS,
	FB_PROG_REINJECT,
	FB_PROG_VERDICT,
	FB_PROG_EXPIRE,
	FB_MAP_FLOWS,
	FB_MAP_MANUAL,
	FB_MAP_STATS,
	FB_MAP_EVENTS,
	FB_MAP_CONFIG,
	FB_MAP_ACCT,
	FB_MAP_QSTATE,
	FB_MAP_HEARTBEAT,
	FB_MAP_EXPIRED,
	FB_MAP_TUNNELS,
	FB_OBJ_MAX
};

/* The pin name of an object (FLOWBPF_PIN_*). */
const char *flowbpf_obj_name(enum flowbpf_obj obj);

struct flowbpf_attach_opts {
	const char *ifname;
	__u32 mode; /* enum flowbpf_mode */
	__u32 pending; /* enum flowbpf_pending */
	__u32 dflt; /* FLOWBPF_VERDICT_PASS or _DROP */
	__u64 timeout_ns;
	__u32 flows; /* flow map size */
	__u32 ringbuf; /* ring buffer bytes, power of two */
	__u32 max_queued; /* new QUEUED flows per timeout window, 0 = no limit */
	__u32 hold_pkts; /* --pending hold: per-flow limits */
	__u32 hold_bytes;
	/* FLOWBPF_VERDICT_PASS or _DROP for unreadable IP frames; 0: drop
	 * in enforce mode, pass in monitor mode */
	__u32 malformed;
	enum flowbpf_xdp_mode xdp_mode;
	enum flowbpf_ingress ingress;
	enum flowbpf_xdp_attach xdp_attach;
	bool decap_inner; /* tunnelled packets count as their inner flow */
	bool l3; /* no link-layer header (flowbpf_if_is_l3): tc ingress only */
};

/* 1 if ifname's frames start at the IP header (tun, wireguard, ipip, gre,
 * sit, ip6tnl, ppp), 0 if at an Ethernet header, or -errno. */
int flowbpf_if_is_l3(const char *ifname);

/* The ranges of the options, for the CLI's tables and attach's checks. */
#define FLOWBPF_FLOWS_MAX (1U << 26)
#define FLOWBPF_RINGBUF_MIN 4096U
#define FLOWBPF_RINGBUF_MAX (1U << 30)
#define FLOWBPF_HOLD_BYTES_MAX (1U << 30)
#define FLOWBPF_MAX_QUEUED_MAX (1U << 30)
#define FLOWBPF_TIMEOUT_MIN_NS 1000000ULL

void flowbpf_attach_opts_init(struct flowbpf_attach_opts *o);
/* The longest frame a live-frame XDP test run re-injects on this kernel
 * (probed once, with a program that drops it); 0 if it cannot. */
__u32 flowbpf_live_frame_max(void);
/* The datapath's configuration (.rodata) for these options; attach uses
 * it, and so do tests and benchmarks that load the object themselves. */
void flowbpf_config_fill(struct flowbpf_config *cfg,
			 const struct flowbpf_attach_opts *o,
			 unsigned int ifindex, bool own_qdisc);
int flowbpf_attach(const struct flowbpf_attach_opts *o);
int flowbpf_detach(const char *ifname);

/* What is pinned for one attached interface: an fd for every object
 * (-1 for one this attach has not: prog_xdp/link_xdp or prog_tc_ingress). */
struct flowbpf_handle {
	char ifname[IF_NAMESIZE];
	int fd[FB_OBJ_MAX];
	__u32 id[FB_OBJ_MAX]; /* program, map and link ids, 0 if absent */
	struct flowbpf_config cfg;
	__u32 flows_max;
};

/* The path of one pinned object of ifname (obj -1: their directory);
 * 0 or -ENAMETOOLONG.  Nothing else builds a pin path. */
int flowbpf_pin_path(char *buf, size_t len, const char *ifname, int obj);

/* Opens one pinned object of ifname; fd or -errno. */
int flowbpf_pin_get(const char *ifname, enum flowbpf_obj obj);
/* The kernel's id of what is pinned as obj for ifname; 0 when nothing. */
__u32 flowbpf_pinned_id(const char *ifname, enum flowbpf_obj obj);

/* The pin directory of ifname, opened O_DIRECTORY (for flock); fd or -errno. */
int flowbpf_pin_dir_open(const char *ifname);

/* Opens everything pinned for ifname; NULL-safe close. */
int flowbpf_open(const char *ifname, struct flowbpf_handle *h);
void flowbpf_close(struct flowbpf_handle *h);

/* Where the XDP program is, as the kernel tells now. */
enum flowbpf_xdp_how {
	FB_XDP_NONE, /* --ingress tc: there is none */
	FB_XDP_DIRECT, /* flowbpf's own link (link_xdp) */
	FB_XDP_DISPATCHER, /* a program of libxdp's dispatcher */
	FB_XDP_GONE, /* attached no longer (removed by another tool) */
};
struct flowbpf_xdp_state {
	enum flowbpf_xdp_how how;
	__u32 dispatcher_id; /* FB_XDP_DISPATCHER: its program id */
	__u32 run_prio; /* flowbpf's run priority there */
	int position; /* flowbpf's place in the run order, from 1 */
	int programs; /* programs in the dispatcher */
};
int flowbpf_xdp_state(const struct flowbpf_handle *h,
		      struct flowbpf_xdp_state *st);
const char *flowbpf_xdp_how_name(enum flowbpf_xdp_how how);

/*
 * Verdicts.  Every write goes through the verdict program, in place, so
 * that no counter is lost; one call runs it once per
 * FLOWBPF_VERDICT_BATCH ops.  results[i] (may be NULL) gets 0, -ENOENT
 * (no such flow) or -EPERM (the flow's state refused the op).  Returns 0
 * or -errno of the run itself.  prog_fd is FB_PROG_VERDICT's (or a
 * skeleton's own flowbpf_verdict).
 */
int flowbpf_verdict_run(int prog_fd, const struct flowbpf_vop *ops, size_t n,
			int *results);
/* One SET op: verdict and source; flags FLOWBPF_VOP_F_*. */
int flowbpf_verdict_set(int prog_fd, const struct flowbpf_key *k, __u32 verdict,
			__u32 source, __u32 flags);
/*
 * A manual verdict: kept in the "manual" map (never evicted; -ENOSPC
 * when it holds FLOWBPF_MANUAL_MAX) and set on the live flow if any.
 * *live tells whether there was one.
 */
int flowbpf_manual_set(const struct flowbpf_handle *h,
		       const struct flowbpf_key *k, __u32 verdict, bool *live);
/* Forgets it; a live flow is QUEUED again for the daemon to decide.
 * -ENOENT if there was neither a manual verdict nor a flow. */
int flowbpf_manual_clear(const struct flowbpf_handle *h,
			 const struct flowbpf_key *k);

/*
 * Removes, in the kernel, every flow idle since before idle_cutoff (or
 * end_cutoff after a FIN or RST; ticks), handing each to cb as it was
 * just before its removal.  A thread drains the "expired" ring while the
 * program runs, so that one walk of the map does it.  *n counts them.
 * prog_fd and ring_fd are FB_PROG_EXPIRE's and FB_MAP_EXPIRED's.
 */
int flowbpf_expire(int prog_fd, int ring_fd, __u32 idle_cutoff,
		   __u32 end_cutoff,
		   void (*cb)(void *ctx, const struct flowbpf_expired *e),
		   void *ctx, __u64 *n);
/* The size of the "expired" ring for a flow table of this size. */
__u32 flowbpf_expired_ring_size(__u32 flows);

/* CLOCK_MONOTONIC nanoseconds of a flow-map tick, read near now_ns. */
__u64 flowbpf_tick_ns(__u32 tick, __u64 now_ns);
/* The tick of a CLOCK_MONOTONIC time. */
static inline __u32 flowbpf_ns_tick(__u64 ns)
{
	return ns >> FLOWBPF_TICK_SHIFT;
}

/* The most interfaces one host's flowbpf lists or one daemon serves. */
#define FLOWBPF_MAX_IFACES 256

/* Names of attached interfaces (pin directories), sorted; returns count. */
int flowbpf_list(char (*names)[IF_NAMESIZE], int max);

/* Sums the per-CPU stats map into out, "packets" derived from the outcomes. */
int flowbpf_stats_read(int stats_fd, struct flowbpf_stats *out);

/* Number of entries in a hash map (walks the keys). */
int flowbpf_map_count(int fd, __u32 key_size, __u64 *count);

/* Mounts bpffs on /sys/fs/bpf unless it is already there. */
int flowbpf_bpffs_ensure(void);

/*
 * Reads every entry of a hash map into newly allocated arrays (free()
 * both).  Uses BPF_MAP_LOOKUP_BATCH, falling back to per-key lookups on
 * kernels or map types without it.
 */
int flowbpf_map_dump(int fd, __u32 key_size, __u32 value_size, void **keys,
		     void **values, size_t *count);
/* 0 if the map's key and value have these sizes (the structs of this
 * ABI), -EPROTO if not, or -errno. */
int flowbpf_map_check(int fd, __u32 key_size, __u32 value_size);
/*
 * The same into the caller's arrays of cap entries.  With *batch, by
 * BPF_MAP_LOOKUP_BATCH; where the kernel has none, *batch becomes false
 * and the entries are read key by key, as they are without it.  Entries
 * the map holds beyond cap are not read.  0 or -errno.
 */
int flowbpf_map_read(int fd, __u32 key_size, __u32 value_size, void *keys,
		     void *values, size_t cap, size_t *count, bool *batch);
#endif
