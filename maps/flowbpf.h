/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one header shared by the kernel programs and userspace.
 *
 * Everything that crosses the kernel/user boundary is defined here and
 * nowhere else: map keys and values, the ring buffer event, enums, the
 * statistics table and the names under which maps are pinned.  Only
 * __u8/__u16/__u32/__u64 and __be16/__be32 are used; the includer provides
 * them (vmlinux.h in BPF code, <linux/types.h> in userspace).
 *
 * Layout rule: every struct is explicitly padded so that no implicit hole
 * exists.  Keys are hashed byte for byte, so a hole would make two equal
 * flows differ.
 */
#ifndef FLOWBPF_MAPS_H
#define FLOWBPF_MAPS_H

#define FLOWBPF_ABI_VERSION 5

/*
 * Protocol facts the key is built on, written once for the datapath, the
 * formatters, the policy language and the tests.
 */
/* L4 protocols whose key holds ports: TCP, UDP, DCCP, SCTP, UDP-Lite. */
static inline int flowbpf_proto_has_ports(__u8 proto)
{
	return proto == 6 || proto == 17 || proto == 33 || proto == 132 ||
	       proto == 136;
}

/* ICMP and ICMPv6: the key's dport holds type << 8 | code, sport is 0. */
static inline int flowbpf_proto_is_icmp(__u8 proto)
{
	return proto == 1 || proto == 58;
}

/* Ethertypes of a VLAN tag: 802.1Q, 802.1ad and the pre-standard 0x9100. */
static inline int flowbpf_eth_is_vlan(__u16 ethertype)
{
	return ethertype == 0x8100 || ethertype == 0x88a8 ||
	       ethertype == 0x9100;
}

/* Bits of struct flowbpf_flow's tcp_flags, as in the TCP header. */
#define FLOWBPF_TCP_FIN 0x01
#define FLOWBPF_TCP_SYN 0x02
#define FLOWBPF_TCP_RST 0x04
#define FLOWBPF_TCP_PSH 0x08
#define FLOWBPF_TCP_ACK 0x10

/* Pinning: /sys/fs/bpf/flowbpf/<ifname>/<name> */
#define FLOWBPF_BPFFS "/sys/fs/bpf"
#define FLOWBPF_PIN_ROOT FLOWBPF_BPFFS "/flowbpf"
#define FLOWBPF_PIN_FLOWS "flows"
#define FLOWBPF_PIN_MANUAL "manual"
#define FLOWBPF_PIN_STATS "stats"
#define FLOWBPF_PIN_EVENTS "events"
#define FLOWBPF_PIN_CONFIG "config"
#define FLOWBPF_PIN_QSTATE "qstate"
#define FLOWBPF_PIN_HEARTBEAT "heartbeat"
#define FLOWBPF_PIN_PROG_REINJECT "prog_reinject"
#define FLOWBPF_PIN_PROG_VERDICT "prog_verdict"
#define FLOWBPF_PIN_PROG_EXPIRE "prog_expire"
#define FLOWBPF_PIN_EXPIRED "expired"
#define FLOWBPF_PIN_PROG_XDP "prog_xdp"
#define FLOWBPF_PIN_PROG_TC_EGRESS "prog_tc_egress"
#define FLOWBPF_PIN_PROG_TC_INGRESS "prog_tc_ingress"
#define FLOWBPF_PIN_LINK_XDP "link_xdp"
#define FLOWBPF_PIN_ACCT "acct"
#define FLOWBPF_PIN_TUNNELS "tunnels"

#define FLOWBPF_DEFAULT_FLOWS 262144
#define FLOWBPF_DEFAULT_TIMEOUT_NS 2000000000ULL
#define FLOWBPF_DEFAULT_RINGBUF (1U << 20)
#define FLOWBPF_DEFAULT_MAX_QUEUED 65536
#define FLOWBPF_DEFAULT_HOLD_PKTS 64
#define FLOWBPF_DEFAULT_HOLD_BYTES (256U << 10)
/* Bytes of the "expired" ring per flow-table entry (a power of two is
 * taken): 2 keeps all maps within 160 bytes a flow. */
#define FLOWBPF_EXPIRED_RING_PER_FLOW 2
#define FLOWBPF_EXPIRED_RING_MIN (64U << 10)

/* TCP flags as the datapath ORs them (byte 13 of the TCP header). */
#define FLOWBPF_TCP_FIN 0x01
#define FLOWBPF_TCP_RST 0x04

/* The held count is 16 bits wide and shares a word with the TCP flags. */
#define FLOWBPF_HOLD_PKTS_MAX 32768
/* Manual verdicts ("manual" map, never evicted): at most this many. */
#define FLOWBPF_MANUAL_MAX 4096
/* Verdict writes one run of the verdict program carries. */
#define FLOWBPF_VERDICT_BATCH 64
/* The daemon beats this often; the kernel trusts a beat for at least
 * three periods (or the decision timeout if longer), so that one late
 * beat does not make it apply defaults. */
#define FLOWBPF_HEARTBEAT_NS 100000000ULL
#define FLOWBPF_HEARTBEAT_MIN_NS (3 * FLOWBPF_HEARTBEAT_NS)

/*
 * Times in the flow map are ticks of 2^20 ns (1.048576 ms) in 32 bits:
 * a shift of bpf_ktime_get_ns() (CLOCK_MONOTONIC), with millisecond
 * resolution for records, wrapping every 52 days.  Userspace expands a
 * tick to nanoseconds against the current time (flowbpf_tick_ns()).
 */
#define FLOWBPF_TICK_SHIFT 20
/* Largest frame that can be held (a power of two); larger ones are dropped. */
#define FLOWBPF_HOLD_MAX 8192

/* Priority/handle of the clsact filters, so detach finds exactly ours;
 * filters with a lower priority number run before them. */
#define FLOWBPF_TC_PRIO 0xf10
#define FLOWBPF_TC_HANDLE 0xf10
/* libxdp run priority of the XDP program: programs with a lower number
 * (xdp-filter's 10, the default 50) run before it (docs/hooks.md). */
#define FLOWBPF_XDP_RUN_PRIO 200

/* Extension headers walked before an IPv6 packet is a parse error. */
#define FLOWBPF_V6_EXT_MAX 8
/* MPLS labels walked before a label stack is a parse error. */
#define FLOWBPF_MPLS_MAX 8
/* Tunnels ("tunnels" map) whose outer endpoints are kept for records. */
#define FLOWBPF_TUNNELS_MAX 1024
/* UDP destination ports of the UDP tunnels the parser opens. */
#define FLOWBPF_VXLAN_PORT 4789
#define FLOWBPF_GENEVE_PORT 6081
/* Leading packet bytes copied into a first-packet event. */
#define FLOWBPF_EVENT_DATA 128

enum flowbpf_dir {
	FLOWBPF_DIR_INGRESS = 0,
	FLOWBPF_DIR_EGRESS = 1,
};

/* Zero is deliberately not a verdict: a zeroed value is never mistaken for one. */
enum flowbpf_verdict {
	FLOWBPF_VERDICT_NONE = 0,
	FLOWBPF_VERDICT_PASS = 1,
	FLOWBPF_VERDICT_DROP = 2,
	FLOWBPF_VERDICT_QUEUED = 3,
};

/* Who set a verdict. */
enum flowbpf_source {
	FLOWBPF_SRC_NONE = 0,
	FLOWBPF_SRC_KERNEL = 1, /* first packet: flow recorded as QUEUED */
	FLOWBPF_SRC_TIMEOUT =
		2, /* kernel applied the default after the timeout */
	FLOWBPF_SRC_DAEMON = 3,
	FLOWBPF_SRC_MANUAL = 4,
	FLOWBPF_SRC_LIMIT = 5, /* kernel applied the default: too many queued */
};

/* What happens to packets of a QUEUED flow (config "pending"). */
enum flowbpf_pending {
	FLOWBPF_PENDING_PASS = FLOWBPF_VERDICT_PASS,
	FLOWBPF_PENDING_DROP = FLOWBPF_VERDICT_DROP,
	/* Handed to the daemon, which re-injects or discards them. */
	FLOWBPF_PENDING_HOLD = 4,
};

enum flowbpf_mode {
	FLOWBPF_MODE_MONITOR = 0, /* account only, never drop */
	FLOWBPF_MODE_ENFORCE = 1,
};

/*
 * What a flow was carried in (the key's tun_type); tun_id is the VXLAN or
 * GENEVE VNI, the GRE key, the top MPLS label or the PPPoE session id,
 * and 0 for IPIP, SIT and IPv6 tunnels, which have none.  PPPoE and MPLS
 * are always walked to the IP packet they carry; the IP tunnels only
 * with FLOWBPF_CFG_DECAP_INNER (docs/tunnels.md).
 */
enum flowbpf_tun_type {
	FLOWBPF_TUN_NONE = 0,
	FLOWBPF_TUN_VXLAN = 1,
	FLOWBPF_TUN_GENEVE = 2,
	FLOWBPF_TUN_GRE = 3,
	FLOWBPF_TUN_IPIP = 4, /* IPv4 in IPv4 */
	FLOWBPF_TUN_SIT = 5, /* IPv6 in IPv4 (6in4) */
	FLOWBPF_TUN_IP6 = 6, /* IPv4 or IPv6 in IPv6 */
	FLOWBPF_TUN_MPLS = 7,
	FLOWBPF_TUN_PPPOE = 8,
	FLOWBPF_TUN_MAX,
};

/*
 * A unidirectional flow, as in NetFlow/IPFIX.  Addresses use one 16-byte
 * form: IPv4 is stored IPv4-mapped (::ffff:a.b.c.d) and family tells the
 * two apart.  For ICMP and ICMPv6, sport is 0 and dport carries
 * type << 8 | code in network order (the NetFlow convention).
 */
struct flowbpf_key {
	__u8 dir; /* enum flowbpf_dir */
	__u8 family; /* 4 or 6 */
	__u8 proto; /* IP protocol number of the L4 header */
	__u8 tun_type; /* enum flowbpf_tun_type */
	__u16 vlan; /* outer VLAN id, 0 when untagged */
	__u16 inner_vlan; /* inner VLAN id of a QinQ frame, 0 otherwise */
	__be16 sport;
	__be16 dport;
	__be32 saddr[4];
	__be32 daddr[4];
	__u32 tun_id; /* host order; see enum flowbpf_tun_type */
};

/*
 * The outer endpoints of an IP tunnel ("tunnels" map, LRU), written with
 * the first flow of each tunnel context seen in a direction: records of
 * inner flows name the tunnel they came in without the flow map paying
 * for it (maps/flowbpf.h's 160 bytes a flow).
 */
struct flowbpf_tunnel_key {
	__u8 dir;
	__u8 tun_type;
	__u16 pad;
	__u32 tun_id;
};

struct flowbpf_tunnel {
	__u8 family; /* 4 or 6, addresses as in struct flowbpf_key */
	__u8 pad[3];
	__be32 saddr[4];
	__be32 daddr[4];
};

/*
 * One entry per flow: counters, verdict and hold bookkeeping, so that a
 * packet of an established flow costs one lookup.  Fields written by
 * more than one party share 32-bit words that are only changed with
 * atomic operations (BPF has no 8- or 16-bit atomics):
 * - vword: verdict, source, released.  The datapath switches QUEUED to
 *   the default with one compare-and-swap; userspace writes it only
 *   through the verdict program (prog_verdict), also with a
 *   compare-and-swap, so no write of a verdict ever touches a counter.
 * - hword: held and tcp_flags, atomically added to and ORed into by the
 *   datapath alone, and tos, written once with the new entry.
 */
struct flowbpf_flow {
	__u64 packets;
	__u64 bytes; /* IP-layer bytes: IPv4 total length, IPv6 payload + 40 */
	__u32 first; /* ticks (FLOWBPF_TICK_SHIFT): first packet */
	__u32 last; /* ticks: last packet */
	__u32 set; /* ticks: when the verdict was set */
	union {
		__u32 vword;
		struct {
			__u8 verdict; /* enum flowbpf_verdict */
			__u8 source; /* enum flowbpf_source */
			/*
			 * Held packets the daemon has released (the "held" it
			 * read before draining the ring).  While it is behind,
			 * new packets are held too, so none overtakes one being
			 * re-injected.
			 */
			__u16 released;
		};
	};
	__u32 held_bytes; /* bytes handed to the daemon (--pending hold) */
	union {
		__u32 hword;
		struct {
			__u16 held; /* packets handed to the daemon */
			__u8 tcp_flags; /* OR of the flags of every segment */
			/*
			 * IPv4 TOS or IPv6 traffic class byte (DSCP << 2 | ECN)
			 * of the flow's first packet; part of the initial
			 * value, so it costs no packet after the first.
			 */
			__u8 tos;
		};
	};
};

/* A verdict set by hand ("manual" map): never evicted, and given to the
 * flow when its entry is created. */
struct flowbpf_manual {
	__u32 verdict; /* FLOWBPF_VERDICT_PASS or _DROP */
};

/*
 * Verdict writes, done in the kernel by the BPF_PROG_TYPE_SYSCALL program
 * pinned as "prog_verdict" (run with BPF_PROG_RUN, its context a struct
 * flowbpf_vbatch): each op looks the flow up and changes only the fields
 * it names, in place, so packets counted meanwhile are never lost and no
 * other entry is evicted.  loader/ is the only user (flowbpf_verdict_*).
 */
enum flowbpf_vop_type {
	/* verdict and source; set = now.  Fails with -ENOENT without a flow. */
	FLOWBPF_VOP_SET = 1,
	/* Back to QUEUED (source kernel, set = now) and a new-flow event sent,
	 * so that the daemon decides the flow again. */
	FLOWBPF_VOP_REQUEUE = 2,
	/* released = the op's released, while the flow is PASS by the daemon. */
	FLOWBPF_VOP_RELEASE = 3,
};

/* SET: only a flow no daemon or operator has decided (else refused). */
#define FLOWBPF_VOP_F_UNDECIDED (1U << 0)
/* SET: leave a manual verdict alone (else refused). */
#define FLOWBPF_VOP_F_KEEP_MANUAL (1U << 1)

struct flowbpf_vop {
	struct flowbpf_key key;
	__u8 op; /* enum flowbpf_vop_type */
	__u8 verdict;
	__u8 source;
	__u8 flags; /* FLOWBPF_VOP_F_* */
	__u16 released;
	__u16 pad;
};

/*
 * The program's context.  It can write its context only at fixed
 * offsets, so what became of op i is bit i of one of three masks.
 */
struct flowbpf_vbatch {
	__u32 count; /* in: ops[0..count) */
	__u32 set; /* out: the tick written as "set" */
	__u64 applied; /* out: op i was carried out */
	__u64 missing; /* out: no flow with op i's key */
	__u64 refused; /* out: the flow's state did not allow op i */
	struct flowbpf_vop ops[FLOWBPF_VERDICT_BATCH];
};

/*
 * Sweeps in the kernel: the BPF_PROG_TYPE_SYSCALL program pinned as
 * "prog_expire", run with BPF_PROG_RUN on a struct flowbpf_expire_args,
 * walks the flow map (bpf_for_each_map_elem) and removes every entry
 * idle since before idle_cutoff, or since before end_cutoff once a FIN or
 * RST was seen; each goes to the "expired" ring as it was just before its
 * removal.  Keys and values are not copied out and back, and there is no
 * system call per entry.  loader/ runs it (flowbpf_expire).
 */
struct flowbpf_expired {
	struct flowbpf_key key;
	struct flowbpf_flow flow;
};

struct flowbpf_expire_args {
	__u32 idle_cutoff; /* in: ticks */
	__u32 end_cutoff; /* in: ticks */
	__u32 full; /* out: stopped, the ring was full; run again */
	__u32 pad;
	__u64 visited; /* out: entries looked at */
	__u64 expired; /* out: entries removed */
};

enum flowbpf_event_type {
	FLOWBPF_EV_NEW_FLOW = 1, /* struct flowbpf_event */
	FLOWBPF_EV_HELD = 2, /* struct flowbpf_held */
};

/*
 * Both records share the "events" ring buffer, so a flow's first-packet
 * event is always read before the packets held for it.
 */
struct flowbpf_event_hdr {
	__u32 type; /* enum flowbpf_event_type */
	__u32 ifindex; /* where the packet was seen */
	__u64 ts_ns; /* CLOCK_MONOTONIC */
	struct flowbpf_key key;
	__u32 pkt_len; /* frame length */
	__u32 cap_len; /* bytes valid in data[] */
	__u32 pad[2];
};

/* Sent on the first packet of a flow, for the policy daemon to decide on. */
struct flowbpf_event {
	struct flowbpf_event_hdr hdr;
	__u8 data[FLOWBPF_EVENT_DATA];
};

/* A whole frame of a QUEUED flow under --pending hold; cap_len bytes of
 * data follow the header (the record is only as long as the frame). */
struct flowbpf_held {
	struct flowbpf_event_hdr hdr;
	__u8 data[FLOWBPF_HOLD_MAX];
};

/* Written by the daemon ("heartbeat"): hold only while it is alive. */
struct flowbpf_heartbeat {
	__u64 alive_ns; /* CLOCK_MONOTONIC of the last beat, 0 = gone */
	/*
	 * 1 while the daemon polls its ring without sleeping: records are
	 * then submitted without a wake-up, which on a consumer that keeps
	 * up is an interrupt (irq_work) per record, and on a virtual machine
	 * an exit to the hypervisor.
	 */
	__u32 polling;
	__u32 pad;
};

/*
 * Attach-time configuration.  It is the program's only read-only data
 * (.rodata), pinned as "config" so that tools read back what is running.
 */
struct flowbpf_config {
	__u32 abi_version;
	__u32 mode; /* enum flowbpf_mode */
	__u32 pending; /* enum flowbpf_pending: what QUEUED packets get */
	__u32 dflt; /* verdict set when the decision times out: PASS or DROP */
	__u64 timeout_ns;
	__u32 timeout_ticks; /* timeout_ns in ticks, rounded up, at least 1 */
	__u32 ifindex;
	__u32 xdp_flags; /* XDP_FLAGS_* the program was attached with */
	__u32 flags; /* FLOWBPF_CFG_* */
	__u32 max_queued; /* new QUEUED flows per decision window, 0 = no limit */
	__u32 hold_pkts; /* per-flow limits of --pending hold */
	__u32 hold_bytes;
	/*
	 * FLOWBPF_VERDICT_PASS or _DROP: what an IP frame gets that the
	 * parser cannot read to the end of its flow key (too deep a VLAN
	 * stack or IPv6 header chain, a truncated header).  The stack may
	 * still deliver such a frame, so in enforce mode it must not pass
	 * unjudged.  Non-IP frames always pass.
	 */
	__u32 malformed;
	/*
	 * Ingress frames longer than this are not held but dropped
	 * (hold_too_big_drops): the longest frame BPF_PROG_TEST_RUN with
	 * BPF_F_TEST_XDP_LIVE_FRAMES re-injects on this kernel, probed at
	 * attach; 0 where it cannot.
	 */
	__u32 hold_frame_max;
	__u32 pad;
};

/*
 * Flood guard ("qstate", one array entry).  The flows that can still be
 * QUEUED are those created within the last decision timeout, so counting
 * new QUEUED flows in windows of timeout_ticks, the current one and the
 * one before, bounds them from above without any help from userspace.
 * count[epoch & 1] belongs to window "epoch".
 */
struct flowbpf_qstate {
	__u32 epoch;
	__u32 count[2];
	__u32 pad;
};

/* The clsact qdisc was created by attach, so detach removes it. */
#define FLOWBPF_CFG_OWN_CLSACT (1U << 0)
/* Ingress is seen by the tc program on clsact ingress instead of XDP. */
#define FLOWBPF_CFG_INGRESS_TC (1U << 1)
/* Tunnelled packets count as their inner flow (attach --decap inner). */
#define FLOWBPF_CFG_DECAP_INNER (1U << 2)
/* The device has no link-layer header: frames start at the IP header. */
#define FLOWBPF_CFG_L3 (1U << 3)

/*
 * Statistics: one per-CPU array entry of FLOWBPF_STAT_MAX counters.
 * Each packet seen ends in exactly one "outcome" counter, so the datapath
 * does not count "packets": readers derive it as the sum of the outcomes
 * (flowbpf_stats_read).  X(enum suffix, JSON key, is outcome)
 */
#define FLOWBPF_STATS(X)                                   \
	X(PACKETS, "packets", 0)                           \
	X(PASS, "pass_packets", 1)                         \
	X(PASS_BYTES, "pass_bytes", 0)                     \
	X(DROP, "drop_packets", 1)                         \
	X(DROP_BYTES, "drop_bytes", 0)                     \
	X(WOULD_DROP, "would_drop_packets", 1)             \
	X(WOULD_DROP_BYTES, "would_drop_bytes", 0)         \
	X(QUEUED_PASS, "queued_pass_packets", 1)           \
	X(QUEUED_PASS_BYTES, "queued_pass_bytes", 0)       \
	X(QUEUED_DROP, "queued_drop_packets", 1)           \
	X(QUEUED_DROP_BYTES, "queued_drop_bytes", 0)       \
	X(QUEUED_HELD, "held_packets", 1)                  \
	X(QUEUED_HELD_BYTES, "held_bytes", 0)              \
	X(HOLD_LIMIT, "hold_limit_drops", 0)               \
	X(HOLD_FAILED, "hold_failed_drops", 0)             \
	X(NON_IP, "non_ip_packets", 1)                     \
	X(ERR_L2_TRUNC, "err_l2_truncated", 1)             \
	X(ERR_VLAN_DEPTH, "err_vlan_too_deep", 1)          \
	X(ERR_L3_TRUNC, "err_l3_truncated", 1)             \
	X(ERR_IP_VERSION, "err_ip_version", 1)             \
	X(ERR_BAD_IHL, "err_bad_ihl", 1)                   \
	X(ERR_IP_LEN, "err_ip_length", 1)                  \
	X(ERR_V6_CHAIN, "err_ipv6_chain_too_long", 1)      \
	X(ERR_L4_TRUNC, "err_l4_truncated", 1)             \
	X(ERR_TUNNEL, "err_tunnel_header", 1)              \
	X(FRAG_FIRST, "fragments_first", 0)                \
	X(FRAG_LATER, "fragments_later", 0)                \
	X(FLOWS_CREATED, "flows_created", 0)               \
	X(FLOW_INSERT_FAIL, "flow_insert_failed", 0)       \
	X(MANUAL_APPLIED, "manual_verdicts_applied", 0)    \
	X(EVENTS_SENT, "events_sent", 0)                   \
	X(EVENTS_LOST, "events_lost", 0)                   \
	X(DEFAULT_APPLIED, "default_verdicts_applied", 0)  \
	X(QUEUE_LIMIT, "queue_limit_defaults", 0)          \
	X(MALFORMED_DROP, "malformed_drops", 0)            \
	X(HOLD_TOO_BIG, "hold_too_big_drops", 0)

#define FLOWBPF_STAT_ENUM(name, key, outcome) FLOWBPF_STAT_##name,
enum flowbpf_stat { FLOWBPF_STATS(FLOWBPF_STAT_ENUM) FLOWBPF_STAT_MAX };
#undef FLOWBPF_STAT_ENUM

struct flowbpf_stats {
	__u64 c[FLOWBPF_STAT_MAX];
};

/*
 * Accounting state, written by userspace only: the flow collector
 * ("flowbpf collect") publishes here, after every sweep, how many flows it
 * has accounted, so that "flowbpf stats" (another process) can report the
 * flows the datapath created but nobody accounted: the evicted ones.
 * One entry (key 0) of the pinned array map "acct"; the programs never
 * touch it.  See docs/accounting.md.
 */
struct flowbpf_acct {
	__u64 collector_pid; /* running collector, 0 when none */
	__u64 sweeps; /* sweeps done on this attach */
	__u64 last_sweep_ns; /* CLOCK_MONOTONIC end of the last sweep */
	__u64 flows_created; /* kernel flows_created read by that sweep */
	__u64 flows_accounted; /* entries the collector removed and reported */
	__u64 flows_live; /* entries in the flow map at that sweep */
	__u64 flows_evicted; /* created - accounted - live, never decreasing */
	__u64 evicted_seen; /* of those, flows the collector had seen */
	__u64 records; /* records written */
	__u64 packets; /* packets and bytes in those records */
	__u64 bytes;
};

/* The sizes the memory budget and docs/maps.md are written for. */
_Static_assert(sizeof(struct flowbpf_key) == 48, "flow key layout");
_Static_assert(sizeof(struct flowbpf_tunnel) == 36, "tunnel layout");
_Static_assert(sizeof(struct flowbpf_event_hdr) == 80, "event layout");
_Static_assert(sizeof(struct flowbpf_vop) == 56, "verdict op layout");
_Static_assert(sizeof(struct flowbpf_flow) == 40, "flow value layout");
_Static_assert(sizeof(struct flowbpf_config) == 64, "config layout");

#endif /* FLOWBPF_MAPS_H */
