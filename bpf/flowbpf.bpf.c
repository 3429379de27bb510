// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * flowbpf datapath: per-flow accounting and verdicts.
 *
 * The XDP program sees ingress, the tc programs egress (and, optionally,
 * ingress).  All share one parser and one set of maps; the key's dir field
 * keeps the directions apart.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <xdp/xdp_helpers.h>
#include "flowbpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"

#define ENOENT 2
#define EPERM 1
#define EAGAIN 11

#define TC_ACT_UNSPEC (-1)
#define TC_ACT_SHOT 2
#define TC_ACT_STOLEN 4

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The program's only .rodata: pinned as "config" and read back by tools. */
const volatile struct flowbpf_config cfg = {
	.abi_version = FLOWBPF_ABI_VERSION,
	.mode = FLOWBPF_MODE_MONITOR,
	.pending = FLOWBPF_VERDICT_PASS,
	.dflt = FLOWBPF_VERDICT_PASS,
	.timeout_ns = FLOWBPF_DEFAULT_TIMEOUT_NS,
	.timeout_ticks = (FLOWBPF_DEFAULT_TIMEOUT_NS >> FLOWBPF_TICK_SHIFT) + 1,
	.max_queued = FLOWBPF_DEFAULT_MAX_QUEUED,
	.hold_pkts = FLOWBPF_DEFAULT_HOLD_PKTS,
	.hold_bytes = FLOWBPF_DEFAULT_HOLD_BYTES,
};

/* ACT_HELD: dropped here, the daemon has a copy (tc says "stolen", so a
 * local sender does not see a failed send). */
enum { ACT_PASS, ACT_DROP, ACT_HELD };

static __always_inline void stat_add(struct flowbpf_stats *st, int idx, __u64 n)
{
	if (st && idx >= 0 && idx < FLOWBPF_STAT_MAX)
		st->c[idx] += n;
}

/*
 * The time of a packet, in ticks, to within one jiffy (4 ms at HZ=250).
 * bpf_ktime_get_ns() costs about as much as all the rest of an
 * established flow's packet on a virtual machine's clock source, so each
 * CPU reads it once a jiffy (bpf_jiffies64() is inlined, a plain load)
 * and reuses it.  Only last-seen times and the QUEUED timeout use it; a
 * flow's first packet and everything sent to the daemon read the clock
 * itself.
 */
static __always_inline __u32 packet_tick(void)
{
	struct clock_cache *c;
	__u64 j = bpf_jiffies64();
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&clock, &zero);
	if (!c)
		return bpf_ktime_get_ns() >> FLOWBPF_TICK_SHIFT;
	if (c->jiffies != j) {
		c->jiffies = j;
		c->tick = bpf_ktime_get_ns() >> FLOWBPF_TICK_SHIFT;
	}
	return c->tick;
}

/* Submit flags for the ring: no wake-up while the daemon polls it. */
static __always_inline __u64 ring_flags(void)
{
	struct flowbpf_heartbeat *hb;
	__u32 zero = 0;

	hb = bpf_map_lookup_elem(&heartbeat, &zero);
	return hb && hb->polling ? BPF_RB_NO_WAKEUP : 0;
}

/* Copies the packet head and the key into the ring buffer; -1 if full. */
static __always_inline int send_event(void *ctx, bool xdp,
				      const struct flowbpf_key *k,
				      __u32 frame_len, __u64 now)
{
	struct flowbpf_event *e;
	/* The helper reads paged skb data too. */
	__u64 cap = frame_len;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return -1;
	e->hdr.type = FLOWBPF_EV_NEW_FLOW;
	e->hdr.ifindex = cfg.ifindex;
	e->hdr.key = *k;
	e->hdr.ts_ns = now;
	e->hdr.pkt_len = frame_len;
	e->hdr.pad[0] = e->hdr.pad[1] = 0;
	/* Frames are at least ETH_HLEN long, so a short copy is never empty. */
	if (cap > FLOWBPF_EVENT_DATA)
		cap = FLOWBPF_EVENT_DATA;
	if (cap) {
		/* The size is 1..FLOWBPF_EVENT_DATA by its arithmetic, not only
		 * by the test above: verifiers before 6.8 (6.1 among them)
		 * learn no lower bound from "cap != 0" and refuse a helper size
		 * that may be 0.  The barrier keeps clang from folding the
		 * mask away, as it knows the range too. */
		__u64 n = cap - 1;

		barrier_var(n);
		n = (n & (FLOWBPF_EVENT_DATA - 1)) + 1;
		if (xdp ? bpf_xdp_load_bytes(ctx, 0, e->data, n)
			: bpf_skb_load_bytes(ctx, 0, e->data, n))
			cap = 0;
	}
	e->hdr.cap_len = cap;
	bpf_ringbuf_submit(e, ring_flags());
	return 0;
}

/* Holding is only worth it while a daemon is there to release packets. */
static __always_inline bool daemon_alive(__u64 now)
{
	struct flowbpf_heartbeat *hb;
	__u32 zero = 0;

	hb = bpf_map_lookup_elem(&heartbeat, &zero);
	/* A short timeout must not miss beats. */
	return hb && hb->alive_ns &&
	       now - hb->alive_ns < (cfg.timeout_ns > FLOWBPF_HEARTBEAT_MIN_NS
					     ? cfg.timeout_ns
					     : FLOWBPF_HEARTBEAT_MIN_NS);
}

/*
 * Hands a whole frame of a QUEUED flow to the daemon.  Returns the stat
 * the packet ends in: held, or dropped (over the flow's limit, too big,
 * ring buffer full).
 */
static __always_inline int hold_packet(void *ctx, bool xdp,
				       const struct flowbpf_key *k,
				       struct flowbpf_flow *f, __u32 frame_len,
				       __u64 now)
{
	struct flowbpf_flow inc = {};
	struct flowbpf_held *h;
	__u32 zero = 0, len = frame_len;

	/* NULL on the flow's first packet: it inserted the entry. */
	if (!f)
		f = bpf_map_lookup_elem(&flows, k);
	if (!f)
		return FLOWBPF_STAT_HOLD_FAILED;
	if (f->held >= cfg.hold_pkts ||
	    f->held_bytes + frame_len > cfg.hold_bytes)
		return FLOWBPF_STAT_HOLD_LIMIT;
	/* What the daemon could not put back would be lost unseen. */
	if (xdp && frame_len > cfg.hold_frame_max)
		return FLOWBPF_STAT_HOLD_TOO_BIG;
	h = bpf_map_lookup_elem(&hold_scratch, &zero);
	if (!h || len < 1 || len > FLOWBPF_HOLD_MAX)
		return FLOWBPF_STAT_HOLD_FAILED;
	/* A no-op on the values that got here; it shows the verifier that
	 * len is within 1..FLOWBPF_HOLD_MAX, which clang's fused compare
	 * above does not. */
	len = ((len - 1) & (FLOWBPF_HOLD_MAX - 1)) + 1;
	if (xdp ? bpf_xdp_load_bytes(ctx, 0, h->data, len)
		: bpf_skb_load_bytes(ctx, 0, h->data, len))
		return FLOWBPF_STAT_HOLD_FAILED;
	h->hdr.type = FLOWBPF_EV_HELD;
	h->hdr.ifindex = cfg.ifindex;
	h->hdr.ts_ns = now;
	h->hdr.key = *k;
	h->hdr.pkt_len = frame_len;
	h->hdr.cap_len = len;
	h->hdr.pad[0] = h->hdr.pad[1] = 0;
	if (bpf_ringbuf_output(&events, h, sizeof(h->hdr) + len, ring_flags()))
		return FLOWBPF_STAT_HOLD_FAILED;
	/*
	 * After the record is out: the daemon reads this count first and
	 * then drains the ring, so it finds every packet counted here.
	 * Racing CPUs may overshoot the limits by a packet or two, which
	 * FLOWBPF_HOLD_PKTS_MAX leaves room for below the 16-bit carry.
	 */
	__sync_fetch_and_add(&f->held_bytes, frame_len);
	inc.held = 1;
	__sync_fetch_and_add(&f->hword, inc.hword);
	return FLOWBPF_STAT_QUEUED_HELD;
}

/*
 * True if one more flow may be QUEUED now (and counts it).  Windows are
 * rolled by whichever CPU first sees a new one, the only
 * compare-and-swap; counts near a roll are approximate, which a flood
 * guard can afford.  One count for all CPUs: shares per CPU would let a
 * CPU that carries every new flow (one sender, one RX queue) use only
 * its share.
 */
static __always_inline bool queue_admit(__u32 tick)
{
	struct flowbpf_qstate *q;
	__u32 epoch, old, zero = 0;

	if (!cfg.max_queued)
		return true;
	q = bpf_map_lookup_elem(&qstate, &zero);
	if (!q)
		return true;
	epoch = tick / cfg.timeout_ticks;
	old = q->epoch;
	if (old != epoch &&
	    __sync_val_compare_and_swap(&q->epoch, old, epoch) == old) {
		q->count[epoch & 1] = 0;
		if (epoch - old > 1)
			q->count[(epoch + 1) & 1] = 0;
	}
	if (q->count[0] + q->count[1] >= cfg.max_queued)
		return false;
	__sync_fetch_and_add(&q->count[epoch & 1], 1);
	return true;
}

/* The outer endpoints the parser left for an inner flow's tunnel. */
static __always_inline void tunnel_note(const struct flowbpf_key *k)
{
	struct flowbpf_tunnel_key tk = {
		.dir = k->dir,
		.tun_type = k->tun_type,
		.tun_id = k->tun_id,
	};
	struct flowbpf_tunnel *t;
	__u32 zero = 0;

	t = bpf_map_lookup_elem(&tun_scratch, &zero);
	if (t)
		bpf_map_update_elem(&tunnels, &tk, t, BPF_ANY);
}

/*
 * The first packet of a flow: a manual verdict if the operator left one,
 * else QUEUED with an event for the daemon (or the default at once when
 * the flood guard says so).  Returns the verdict, or NONE when another
 * CPU created the entry first (or the insert failed).
 */
static __always_inline __u32 flow_create(void *ctx, bool xdp,
					 struct flowbpf_stats *st,
					 const struct flowbpf_key *k,
					 const struct pkt_meta *m, __u32 segs,
					 __u32 frame_len, __u64 bytes)
{
	/* A record's start and the daemon's latency want the real time. */
	__u64 now = bpf_ktime_get_ns();
	__u32 tick = now >> FLOWBPF_TICK_SHIFT;
	struct flowbpf_flow nf = {
		.packets = segs,
		.bytes = bytes,
		.first = tick,
		.last = tick,
		.set = tick,
		.verdict = FLOWBPF_VERDICT_QUEUED,
		.source = FLOWBPF_SRC_KERNEL,
		.tcp_flags = m->tcp_flags,
		.tos = m->tos,
	};
	struct flowbpf_manual *mv;
	int stat = 0;

	mv = bpf_map_lookup_elem(&manual, k);
	if (mv) {
		nf.verdict = mv->verdict;
		nf.source = FLOWBPF_SRC_MANUAL;
		stat = FLOWBPF_STAT_MANUAL_APPLIED;
	} else if (!queue_admit(tick)) {
		/* Over the limit: decide at once, without asking anybody. */
		nf.verdict = cfg.dflt;
		nf.source = FLOWBPF_SRC_LIMIT;
		stat = FLOWBPF_STAT_QUEUE_LIMIT;
	}
	if (bpf_map_update_elem(&flows, k, &nf, BPF_NOEXIST))
		return FLOWBPF_VERDICT_NONE;
	stat_add(st, FLOWBPF_STAT_FLOWS_CREATED, 1);
	if (k->tun_type && k->tun_type <= FLOWBPF_TUN_IP6)
		tunnel_note(k);
	if (stat) {
		stat_add(st, stat, 1);
		return nf.verdict;
	}
	if (send_event(ctx, xdp, k, frame_len, now))
		stat_add(st, FLOWBPF_STAT_EVENTS_LOST, 1);
	else
		stat_add(st, FLOWBPF_STAT_EVENTS_SENT, 1);
	return FLOWBPF_VERDICT_QUEUED;
}

/* A QUEUED flow past its timeout gets the default; only the CPU that
 * wins the exchange counts and stamps it. */
static __always_inline __u32 queued_verdict(struct flowbpf_flow *f,
					    struct flowbpf_stats *st,
					    __u32 tick)
{
	struct flowbpf_flow w;

	/* Signed: the cached tick may lag the exact one "set" was. */
	if ((__s32)(tick - f->set) < (__s32)cfg.timeout_ticks)
		return FLOWBPF_VERDICT_QUEUED;
	w.vword = f->vword;
	if (w.verdict != FLOWBPF_VERDICT_QUEUED)
		return w.verdict;
	{
		__u32 old = w.vword, got;

		w.verdict = cfg.dflt;
		w.source = FLOWBPF_SRC_TIMEOUT;
		got = __sync_val_compare_and_swap(&f->vword, old, w.vword);
		if (got != old) {
			/* A verdict came in meanwhile: it applies. */
			w.vword = got;
			return w.verdict;
		}
		f->set = tick;
		stat_add(st, FLOWBPF_STAT_DEFAULT_APPLIED, 1);
	}
	return cfg.dflt;
}

/* Counts the packet into its established flow. */
static __always_inline void flow_count(struct flowbpf_flow *f,
				       const struct pkt_meta *m, __u32 segs,
				       __u64 bytes, __u32 tick)
{
	__sync_fetch_and_add(&f->packets, segs);
	__sync_fetch_and_add(&f->bytes, bytes);
	/* Flags rarely change within a flow: an atomic only for a new bit. */
	if (m->tcp_flags & ~f->tcp_flags) {
		struct flowbpf_flow w = {};

		w.tcp_flags = m->tcp_flags;
		__sync_fetch_and_or(&f->hword, w.hword);
	}
	/* The cached tick may lag the first packet's exact one. */
	if ((__s32)(tick - f->last) > 0)
		f->last = tick;
}

/* The action for a packet of a flow with this verdict, counted. */
static __always_inline int verdict_act(struct flowbpf_stats *st,
				       __u32 verdict, __u32 segs, __u64 bytes)
{
	switch (verdict) {
	case FLOWBPF_VERDICT_DROP:
		if (cfg.mode == FLOWBPF_MODE_ENFORCE) {
			stat_add(st, FLOWBPF_STAT_DROP, segs);
			stat_add(st, FLOWBPF_STAT_DROP_BYTES, bytes);
			return ACT_DROP;
		}
		stat_add(st, FLOWBPF_STAT_WOULD_DROP, segs);
		stat_add(st, FLOWBPF_STAT_WOULD_DROP_BYTES, bytes);
		return ACT_PASS;
	case FLOWBPF_VERDICT_QUEUED: {
		__u32 pending = cfg.pending;

		if (cfg.mode != FLOWBPF_MODE_ENFORCE)
			pending = FLOWBPF_PENDING_PASS;
		else if (pending == FLOWBPF_PENDING_HOLD)
			/* No daemon, nobody to hold for: the default now. */
			pending = cfg.dflt;
		if (pending == FLOWBPF_PENDING_DROP) {
			stat_add(st, FLOWBPF_STAT_QUEUED_DROP, segs);
			stat_add(st, FLOWBPF_STAT_QUEUED_DROP_BYTES, bytes);
			return ACT_DROP;
		}
		stat_add(st, FLOWBPF_STAT_QUEUED_PASS, segs);
		stat_add(st, FLOWBPF_STAT_QUEUED_PASS_BYTES, bytes);
		return ACT_PASS;
	}
	default:
		stat_add(st, FLOWBPF_STAT_PASS, segs);
		stat_add(st, FLOWBPF_STAT_PASS_BYTES, bytes);
		return ACT_PASS;
	}
}

/*
 * Held: packets of a QUEUED flow, and those of a flow the daemon passed
 * while held ones are still on their way back (only the daemon releases
 * them; a flow entry made anew after aging out starts its count from 0
 * again), so none overtakes them.
 */
static __always_inline bool must_hold(const struct flowbpf_flow *f,
				      __u32 verdict)
{
	if (cfg.mode != FLOWBPF_MODE_ENFORCE ||
	    cfg.pending != FLOWBPF_PENDING_HOLD)
		return false;
	if (verdict != FLOWBPF_VERDICT_QUEUED &&
	    !(verdict == FLOWBPF_VERDICT_PASS && f &&
	      f->source == FLOWBPF_SRC_DAEMON && f->held != f->released))
		return false;
	return daemon_alive(bpf_ktime_get_ns());
}

static __always_inline int hold_act(void *ctx, bool xdp,
				    struct flowbpf_stats *st,
				    const struct flowbpf_key *k,
				    struct flowbpf_flow *f, __u32 frame_len,
				    __u32 segs, __u64 bytes)
{
	int res = hold_packet(ctx, xdp, k, f, frame_len, bpf_ktime_get_ns());

	stat_add(st, res, segs);
	if (res == FLOWBPF_STAT_QUEUED_HELD) {
		stat_add(st, FLOWBPF_STAT_QUEUED_HELD_BYTES, bytes);
		return ACT_HELD;
	}
	stat_add(st, FLOWBPF_STAT_QUEUED_DROP, segs);
	stat_add(st, FLOWBPF_STAT_QUEUED_DROP_BYTES, bytes);
	return ACT_DROP;
}

static __always_inline int handle(void *ctx, bool xdp, void *data,
				  void *data_end, __u32 frame_len,
				  __u32 hw_vlan, __u8 dir, __u32 segs)
{
	struct flowbpf_key k = {};
	struct pkt_meta m = {};
	struct flowbpf_stats *st;
	struct flowbpf_flow *f;
	__u32 zero = 0, verdict, tick;
	__u64 bytes;
	int ret;

	st = bpf_map_lookup_elem(&stats, &zero);
	ret = parse_packet(ctx, xdp, data, data_end, frame_len, hw_vlan,
			   cfg.flags, &k, &m);
	if (ret) {
		/* Keeps stat_add's bounds test: clang can prove it from the
		 * values the parser returns, 6.1's verifier cannot when they
		 * were computed without a branch. */
		barrier_var(ret);
		stat_add(st, ret, segs);
		/* Non-IP is not ours to judge; an IP frame we cannot read
		 * may still reach a socket, so enforce mode drops it. */
		if (ret != FLOWBPF_STAT_NON_IP &&
		    cfg.mode == FLOWBPF_MODE_ENFORCE &&
		    cfg.malformed == FLOWBPF_VERDICT_DROP) {
			stat_add(st, FLOWBPF_STAT_MALFORMED_DROP, segs);
			return ACT_DROP;
		}
		return ACT_PASS;
	}
	if (m.frag == FRAG_FIRST)
		stat_add(st, FLOWBPF_STAT_FRAG_FIRST, 1);
	else if (m.frag == FRAG_LATER)
		stat_add(st, FLOWBPF_STAT_FRAG_LATER, 1);

	k.dir = dir;
	/* A GSO super-packet stands for segs wire packets, each with headers. */
	bytes = m.ip_len;
	if (segs > 1)
		bytes += (__u64)(segs - 1) * m.hdr_len;

	f = bpf_map_lookup_elem(&flows, &k);
	if (!f) {
		verdict = flow_create(ctx, xdp, st, &k, &m, segs, frame_len,
				      bytes);
		if (verdict != FLOWBPF_VERDICT_NONE)
			goto act;
		/* Another CPU created it in between. */
		f = bpf_map_lookup_elem(&flows, &k);
		if (!f) {
			stat_add(st, FLOWBPF_STAT_FLOW_INSERT_FAIL, 1);
			verdict = cfg.dflt;
			goto act;
		}
	}
	tick = packet_tick();
	flow_count(f, &m, segs, bytes, tick);
	verdict = f->verdict;
	if (verdict == FLOWBPF_VERDICT_QUEUED)
		verdict = queued_verdict(f, st, tick);
act:
	if (must_hold(f, verdict))
		return hold_act(ctx, xdp, st, &k, f, frame_len, segs, bytes);
	return verdict_act(st, verdict, segs, bytes);
}

/*
 * How libxdp's dispatcher runs flowbpf_xdp beside other programs: late
 * (FLOWBPF_XDP_RUN_PRIO, after programs of the default priority), and on
 * to the next program after XDP_PASS only.  Read from BTF by libxdp,
 * also from the loaded program; docs/hooks.md says why.
 */
struct {
	__uint(priority, FLOWBPF_XDP_RUN_PRIO);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(flowbpf_xdp);

SEC("xdp")
int flowbpf_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return handle(ctx, true, data, data_end, data_end - data, 0,
		      FLOWBPF_DIR_INGRESS, 1) == ACT_PASS
		       ? XDP_PASS
		       : XDP_DROP;
}

/*
 * Reads skb->data or ->data_end as a single load from the context: clang
 * would otherwise hoist "skb + offset" into a register, which the verifier
 * rejects as a modified context pointer.
 */
#define SKB_PTR(skb, field)                                                  \
	({                                                                   \
		void *__p;                                                   \
		asm volatile("%0 = *(u32 *)(%1 + %2)"                        \
			     : "=r"(__p)                                     \
			     : "r"(skb), "i"(__builtin_offsetof(             \
						 struct __sk_buff, field))); \
		__p;                                                         \
	})

static __always_inline int handle_skb(struct __sk_buff *skb, __u8 dir)
{
	__u32 len = skb->len;
	__u32 segs = skb->gso_segs ?: 1;
	__u32 hw_vlan = skb->vlan_present
				? HW_VLAN_PRESENT | (skb->vlan_tci & 0xffff)
				: 0;
	void *data, *data_end;

	/* No pull: headers outside the linear data take the slow parser,
	 * whose helper reads reach paged data, rather than every packet
	 * paying for a copy. */
	data = SKB_PTR(skb, data);
	data_end = SKB_PTR(skb, data_end);

	/* A pass is no verdict of tc's: the filters after flowbpf's still
	 * run (TC_ACT_OK would end the chain), and with none left the
	 * packet goes on as it would have without any. */
	switch (handle(skb, false, data, data_end, len, hw_vlan, dir, segs)) {
	case ACT_PASS:
		return TC_ACT_UNSPEC;
	case ACT_HELD:
		return TC_ACT_STOLEN;
	default:
		return TC_ACT_SHOT;
	}
}

/*
 * Run by the daemon with BPF_PROG_TEST_RUN and BPF_F_TEST_XDP_LIVE_FRAMES
 * to re-inject a held ingress frame into the stack as if just received.
 */
SEC("xdp")
int flowbpf_reinject(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* One verdict write in place; -ENOENT, -EPERM (refused) or -EAGAIN. */
static __always_inline int vop_apply(const struct flowbpf_vop *op, __u32 tick,
				     __u64 now)
{
	struct flowbpf_flow *f, w;
	__u32 old;
	int i;

	f = bpf_map_lookup_elem(&flows, &op->key);
	if (!f)
		return -ENOENT;
	/* Before the flow is QUEUED again, or a packet could find it QUEUED
	 * since the old "set" and time it out at once. */
	if (op->op == FLOWBPF_VOP_REQUEUE)
		f->set = tick;
	/* Only the datapath's timeout and other writers race for the word.
	 * Unrolled: 6.1's verifier refuses this loop's back-edge. */
#pragma unroll
	for (i = 0; i < 4; i++) {
		w.vword = old = f->vword;
		if (op->op == FLOWBPF_VOP_SET) {
			if ((op->flags & FLOWBPF_VOP_F_UNDECIDED) &&
			    (w.source == FLOWBPF_SRC_DAEMON ||
			     w.source == FLOWBPF_SRC_MANUAL))
				return -EPERM;
			if ((op->flags & FLOWBPF_VOP_F_KEEP_MANUAL) &&
			    w.source == FLOWBPF_SRC_MANUAL)
				return -EPERM;
			w.verdict = op->verdict;
			w.source = op->source;
		} else if (op->op == FLOWBPF_VOP_REQUEUE) {
			w.verdict = FLOWBPF_VERDICT_QUEUED;
			w.source = FLOWBPF_SRC_KERNEL;
		} else if (op->op == FLOWBPF_VOP_RELEASE) {
			if (w.verdict != FLOWBPF_VERDICT_PASS ||
			    w.source != FLOWBPF_SRC_DAEMON)
				return -EPERM;
			w.released = op->released;
		} else {
			return -EPERM;
		}
		if (__sync_val_compare_and_swap(&f->vword, old, w.vword) == old)
			break;
	}
	if (i == 4)
		return -EAGAIN;
	if (op->op == FLOWBPF_VOP_SET)
		f->set = tick;
	if (op->op == FLOWBPF_VOP_REQUEUE) {
		struct flowbpf_event_hdr e = {
			.type = FLOWBPF_EV_NEW_FLOW,
			.ifindex = cfg.ifindex,
			.ts_ns = now,
			.key = op->key,
		};
		__u32 zero = 0;

		/* No packet to show.  Counted like the datapath's events, so
		 * that the daemon rescans for the flow if this one is lost. */
		stat_add(bpf_map_lookup_elem(&stats, &zero),
			 bpf_ringbuf_output(&events, &e, sizeof(e), ring_flags())
				 ? FLOWBPF_STAT_EVENTS_LOST
				 : FLOWBPF_STAT_EVENTS_SENT,
			 1);
	}
	return 0;
}

/*
 * Verdict writes from userspace (loader/, flowbpf_verdict_*), run with
 * BPF_PROG_RUN: each changes only the verdict word and its time, so no
 * packet counted meanwhile is lost and no other entry is evicted, as a
 * whole-value update from userspace would.
 */
SEC("syscall")
int flowbpf_verdict(struct flowbpf_vbatch *b)
{
	__u64 now = bpf_ktime_get_ns(), applied = 0, missing = 0, refused = 0;
	__u32 tick = now >> FLOWBPF_TICK_SHIFT, n = b->count, i;

	for (i = 0; i < FLOWBPF_VERDICT_BATCH && i < n; i++) {
		struct flowbpf_vop op;
		int err;

		/* The context is kernel memory; this reads it at a variable
		 * offset, which direct access may not. */
		if (bpf_probe_read_kernel(&op, sizeof(op), &b->ops[i]))
			break;
		err = vop_apply(&op, tick, now);
		if (!err)
			applied |= 1ULL << i;
		else if (err == -ENOENT)
			missing |= 1ULL << i;
		else
			refused |= 1ULL << i;
	}
	b->set = tick;
	b->applied = applied;
	b->missing = missing;
	b->refused = refused;
	return 0;
}

/* Idle since before the cutoff (ticks wrap: compare by difference). */
static __always_inline bool idle_since(const struct flowbpf_flow *f,
				       __u32 cutoff)
{
	return (__s32)(f->last - cutoff) < 0;
}

static long expire_one(struct bpf_map *map, struct flowbpf_key *k,
		       struct flowbpf_flow *f, struct flowbpf_expire_args *a)
{
	struct flowbpf_expired *r;

	a->visited++;
	if (!idle_since(f, a->idle_cutoff) &&
	    !((f->tcp_flags & (FLOWBPF_TCP_FIN | FLOWBPF_TCP_RST)) &&
	      idle_since(f, a->end_cutoff)))
		return 0;
	r = bpf_ringbuf_reserve(&expired, sizeof(*r), 0);
	if (!r) {
		a->full = 1;
		return 1;
	}
	r->key = *k;
	r->flow = *f;
	/* The collector drains the ring while this runs, or right after. */
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	/* A packet counted between the copy and here is lost to the
	 * record: a window of a few instructions (docs/accounting.md). */
	bpf_map_delete_elem(&flows, k);
	a->expired++;
	return 0;
}

/* Sweeps the flow map in the kernel (struct flowbpf_expire_args). */
SEC("syscall")
int flowbpf_expire(struct flowbpf_expire_args *ctx)
{
	struct flowbpf_expire_args a = { .idle_cutoff = ctx->idle_cutoff,
					 .end_cutoff = ctx->end_cutoff };

	bpf_for_each_map_elem(&flows, expire_one, &a, 0);
	ctx->full = a.full;
	ctx->visited = a.visited;
	ctx->expired = a.expired;
	return 0;
}

SEC("tc")
int flowbpf_tc_egress(struct __sk_buff *skb)
{
	return handle_skb(skb, FLOWBPF_DIR_EGRESS);
}

SEC("tc")
int flowbpf_tc_ingress(struct __sk_buff *skb)
{
	return handle_skb(skb, FLOWBPF_DIR_INGRESS);
}
