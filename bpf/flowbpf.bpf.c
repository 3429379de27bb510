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
#include "flowbpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"

#define TC_ACT_OK 0
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

/* Copies the packet head and the key into the ring buffer; -1 if full. */
static __always_inline int send_event(void *ctx, bool xdp,
				      const struct flowbpf_key *k,
				      __u32 frame_len, __u32 linear, __u64 now)
{
	struct flowbpf_event *e;
	__u64 cap = linear;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return -1;
	e->hdr.type = FLOWBPF_EV_NEW_FLOW;
	e->hdr.ifindex = k->ifindex;
	e->hdr.key = *k;
	e->hdr.ts_ns = now;
	e->hdr.pkt_len = frame_len;
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
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Holding is only worth it while a daemon is there to release packets. */
static __always_inline bool daemon_alive(__u64 now)
{
	struct flowbpf_heartbeat *hb;
	__u32 zero = 0;

	hb = bpf_map_lookup_elem(&heartbeat, &zero);
	/* It beats every 100 ms; a short timeout must not miss beats. */
	return hb && hb->alive_ns &&
	       now - hb->alive_ns < (cfg.timeout_ns > 300000000ULL
					     ? cfg.timeout_ns
					     : 300000000ULL);
}

/*
 * Hands a whole frame of a QUEUED flow to the daemon.  Returns the stat
 * the packet ends in: held, or dropped (over the flow's limit, too big,
 * ring buffer full).
 */
static __always_inline int hold_packet(void *ctx, bool xdp,
				       const struct flowbpf_key *k,
				       struct flowbpf_flow *f,
				       struct flowbpf_verdict_val *v,
				       __u32 frame_len, __u64 now)
{
	struct flowbpf_held *h;
	__u32 zero = 0, len = frame_len;

	/* f and v are NULL on the flow's first packet: it inserted them. */
	if (!v)
		v = bpf_map_lookup_elem(&verdicts, k);
	if (!v)
		return FLOWBPF_STAT_HOLD_FAILED;
	if (v->held_pkts >= cfg.hold_pkts ||
	    v->held_bytes + frame_len > cfg.hold_bytes)
		return FLOWBPF_STAT_HOLD_LIMIT;
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
	h->hdr.ifindex = k->ifindex;
	h->hdr.ts_ns = now;
	h->hdr.key = *k;
	h->hdr.pkt_len = frame_len;
	h->hdr.cap_len = len;
	if (bpf_ringbuf_output(&events, h, sizeof(h->hdr) + len, 0))
		return FLOWBPF_STAT_HOLD_FAILED;
	/* Racing CPUs may overshoot the limit by a packet or two. */
	__sync_fetch_and_add(&v->held_pkts, 1);
	__sync_fetch_and_add(&v->held_bytes, frame_len);
	/* After the record is out: the daemon reads this count first and
	 * then drains the ring, so it finds every packet counted here. */
	if (!f)
		f = bpf_map_lookup_elem(&flows, k);
	if (f)
		__sync_fetch_and_add(&f->held, 1);
	return FLOWBPF_STAT_QUEUED_HELD;
}

/*
 * True if one more flow may be QUEUED now (and counts it).  Windows are
 * rolled by whichever CPU first sees a new one; counts near a roll are
 * approximate, which a flood guard can afford.
 */
static __always_inline bool queue_admit(__u64 now)
{
	struct flowbpf_qstate *q;
	__u64 epoch, old;
	__u32 zero = 0;

	if (!cfg.max_queued)
		return true;
	q = bpf_map_lookup_elem(&qstate, &zero);
	if (!q)
		return true;
	epoch = now / cfg.timeout_ns;
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

/*
 * Accounts the packet to its flow and returns the verdict that applies to
 * it.  The first packet of a flow records it as QUEUED and sends an event.
 * *fp and *vp get the flow and verdict entries when they were there
 * before (NULL when this packet inserted them).
 */
static __always_inline __u32
flow_verdict(void *ctx, bool xdp, struct flowbpf_stats *st,
	     struct flowbpf_key *k, struct pkt_meta *m, __u32 segs,
	     __u32 frame_len, __u32 linear, __u64 bytes, __u64 now,
	     struct flowbpf_flow **fp, struct flowbpf_verdict_val **vp)
{
	struct flowbpf_verdict_val *v;
	struct flowbpf_flow *f;

	/* Look up first: updating an existing LRU key may evict others. */
	f = bpf_map_lookup_elem(&flows, k);
	if (!f) {
		struct flowbpf_flow nf = {
			.packets = segs,
			.bytes = bytes,
			.first_ns = now,
			.last_ns = now,
			.tcp_flags = m->tcp_flags,
		};

		if (!bpf_map_update_elem(&flows, k, &nf, BPF_NOEXIST)) {
			stat_add(st, FLOWBPF_STAT_FLOWS_CREATED, 1);
		} else {
			/* Another CPU created it in between. */
			f = bpf_map_lookup_elem(&flows, k);
			if (!f)
				stat_add(st, FLOWBPF_STAT_FLOW_INSERT_FAIL, 1);
		}
	}
	if (f) {
		__sync_fetch_and_add(&f->packets, segs);
		__sync_fetch_and_add(&f->bytes, bytes);
		if (m->tcp_flags)
			__sync_fetch_and_or(&f->tcp_flags, m->tcp_flags);
		f->last_ns = now;
	}

	v = bpf_map_lookup_elem(&verdicts, k);
	if (!v) {
		struct flowbpf_verdict_val nv = {
			.verdict = FLOWBPF_VERDICT_QUEUED,
			.source = FLOWBPF_SRC_KERNEL,
			.set_ns = now,
		};
		bool admit = queue_admit(now);

		/* Over the limit: decide at once, without asking anybody. */
		if (!admit) {
			nv.verdict = cfg.dflt;
			nv.source = FLOWBPF_SRC_LIMIT;
		}
		if (bpf_map_update_elem(&verdicts, k, &nv, BPF_NOEXIST)) {
			v = bpf_map_lookup_elem(&verdicts, k);
			if (!v) {
				stat_add(st, FLOWBPF_STAT_VERDICT_INSERT_FAIL,
					 1);
				return cfg.dflt;
			}
		} else if (!admit) {
			stat_add(st, FLOWBPF_STAT_QUEUE_LIMIT, 1);
			return cfg.dflt;
		} else {
			if (send_event(ctx, xdp, k, frame_len, linear, now))
				stat_add(st, FLOWBPF_STAT_EVENTS_LOST, 1);
			else
				stat_add(st, FLOWBPF_STAT_EVENTS_SENT, 1);
			return FLOWBPF_VERDICT_QUEUED;
		}
	}

	if (v->verdict == FLOWBPF_VERDICT_QUEUED &&
	    now - v->set_ns >= cfg.timeout_ns) {
		/* Only the CPU that wins the exchange counts and stamps it. */
		if (__sync_val_compare_and_swap(
			    &v->verdict, FLOWBPF_VERDICT_QUEUED, cfg.dflt) ==
		    FLOWBPF_VERDICT_QUEUED) {
			v->source = FLOWBPF_SRC_TIMEOUT;
			v->set_ns = now;
			stat_add(st, FLOWBPF_STAT_DEFAULT_APPLIED, 1);
		}
		return cfg.dflt;
	}
	*fp = f;
	*vp = v;
	return v->verdict;
}

static __always_inline int handle(void *ctx, bool xdp, void *data,
				  void *data_end, __u32 frame_len,
				  __u32 hw_vlan, __u32 ifindex, __u8 dir,
				  __u32 segs)
{
	struct flowbpf_key k = {};
	struct pkt_meta m = {};
	struct flowbpf_stats *st;
	struct flowbpf_verdict_val *v = NULL;
	struct flowbpf_flow *f = NULL;
	__u32 zero = 0, verdict;
	bool holding;
	__u64 bytes, now;
	int ret;

	st = bpf_map_lookup_elem(&stats, &zero);
	stat_add(st, FLOWBPF_STAT_PACKETS, segs);

	ret = parse_packet(ctx, xdp, data, data_end, frame_len, hw_vlan, &k,
			   &m);
	if (ret) {
		/* Not ours to judge: non-IP and malformed frames go on, counted. */
		stat_add(st, ret, segs);
		return ACT_PASS;
	}
	if (m.frag == FRAG_FIRST)
		stat_add(st, FLOWBPF_STAT_FRAG_FIRST, 1);
	else if (m.frag == FRAG_LATER)
		stat_add(st, FLOWBPF_STAT_FRAG_LATER, 1);

	k.ifindex = ifindex;
	k.dir = dir;
	/* A GSO super-packet stands for segs wire packets, each with headers. */
	bytes = m.ip_len;
	if (segs > 1)
		bytes += (__u64)(segs - 1) * m.hdr_len;
	now = bpf_ktime_get_ns();

	verdict = flow_verdict(ctx, xdp, st, &k, &m, segs, frame_len,
			       data_end - data, bytes, now, &f, &v);

	/*
	 * Held: packets of a QUEUED flow, and those of a flow the daemon
	 * passed while held ones are still on their way back (only the
	 * daemon releases them; a flow entry made anew after aging out
	 * starts its count from 0 again), so none overtakes them.
	 */
	holding =
		cfg.mode == FLOWBPF_MODE_ENFORCE &&
		cfg.pending == FLOWBPF_PENDING_HOLD &&
		(verdict == FLOWBPF_VERDICT_QUEUED ||
		 (verdict == FLOWBPF_VERDICT_PASS && f && v &&
		  v->source == FLOWBPF_SRC_DAEMON && f->held > v->released)) &&
		daemon_alive(now);
	if (holding) {
		int res = hold_packet(ctx, xdp, &k, f, v, frame_len, now);

		stat_add(st, res, segs);
		if (res == FLOWBPF_STAT_QUEUED_HELD) {
			stat_add(st, FLOWBPF_STAT_QUEUED_HELD_BYTES, bytes);
			return ACT_HELD;
		}
		stat_add(st, FLOWBPF_STAT_QUEUED_DROP, segs);
		stat_add(st, FLOWBPF_STAT_QUEUED_DROP_BYTES, bytes);
		return ACT_DROP;
	}

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

SEC("xdp")
int flowbpf_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return handle(ctx, true, data, data_end, data_end - data, 0,
		      ctx->ingress_ifindex, FLOWBPF_DIR_INGRESS, 1) == ACT_PASS
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
	__u32 len = skb->len, ifindex = skb->ifindex;
	__u32 segs = skb->gso_segs ?: 1;
	__u32 want = len < 256 ? len : 256;
	__u32 hw_vlan = skb->vlan_present
				? HW_VLAN_PRESENT | (skb->vlan_tci & 0xffff)
				: 0;
	void *data, *data_end;

	/* Headers may sit in paged data; make them readable directly. */
	if (SKB_PTR(skb, data_end) - SKB_PTR(skb, data) < want)
		bpf_skb_pull_data(skb, want);
	data = SKB_PTR(skb, data);
	data_end = SKB_PTR(skb, data_end);

	switch (handle(skb, false, data, data_end, len, hw_vlan, ifindex, dir,
		       segs)) {
	case ACT_PASS:
		return TC_ACT_OK;
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
