// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Part 1: per-packet cost of each program, with BPF_PROG_TEST_RUN.
 *
 * A run of N repetitions is timed with the calling thread's CPU clock
 * (which, unlike wall time, stops while another task has the CPU) and
 * divided by N.  The no-op program's cost is what the test-run loop and
 * the XDP hook cost; the rows "above no-op" subtract it.
 *
 * Established flows: the same frame N times, its flow already in the map
 * with verdict pass ("hot": its map entry stays in the CPU cache), and
 * the frame's flow cycling through 1 000 000 preloaded flows ("cycling":
 * each lookup touches a different entry, as with many active flows).
 * New flows: every repetition is a flow never seen before: on a
 * near-empty map, on a full one (each evicts), and with the flood guard
 * tripped (the same path without the ring-buffer event).  A test run
 * hands the same frame to every repetition, so both "cycling" and "new"
 * go through the vary program (bench/vary.bpf.c), which rewrites the
 * frame's source address and port and tail-calls the program under test;
 * vary's own cost is measured by pointing it at the no-op program and is
 * subtracted.  The calibrator (bench/calib.bpf.c) is measured the same
 * ways: one lookup, and one lookup plus one insert for a new flow.
 *
 * Verdict writes: ns per verdict written through the verdict program
 * (in batches, and one at a time) against the design not taken, whole
 * values written into a hash map of verdicts of its own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bench.h"
#include "flowbpf.h"
#include "flowbpf.skel.h"
#include "loader.h"
#include "noop.skel.h"
#include "calib.skel.h"
#include "vary.skel.h"

#define SEC_PKT "pkt"
#define MAP_BIG (1U << 20)      /* room for 1M flows without eviction */
#define MAP_FULL 1000000U       /* --flows 1M: full after 1M flows */
#define PRELOAD 1000000U
#define HOT_FLOW 7              /* within the preloaded range */
#define NEW_BASE (1ULL << 24)   /* beyond it: never preloaded */
#define RINGBUF (1U << 26)
/* The flood guard runs but never trips: every new flow takes the full
 * path, event included. */
#define GUARD_NEVER (1U << 30)
#define VFLOWS 4096U            /* flows whose verdicts are written, */
#define VPASSES 16U             /* this many times each per variant */
#define VOPS (VFLOWS * VPASSES)

/* Why a target is missed, in short; bench/benchmarks.md.in ("What the
 * misses mean") has the long form. */
#define WHY_50                                                                  \
	"one lookup of the 48-byte key in an LRU hash takes most of the 50 ns " \
	"by itself on this machine: the calibrator, which does nothing else, "  \
	"costs nearly as much above no-op (its rows). Around its one lookup "   \
	"flowbpf parses the frame (direct packet reads for Ethernet with up "   \
	"to two VLAN tags, IPv4 without options, IPv6 without extension "       \
	"headers, TCP/UDP/ICMP), reads the clock, bumps a per-CPU counter and " \
	"adds the packet to its flow with two atomic instructions, which "      \
	"together cost up to as much again"
#define WHY_XF                                                                  \
	"xdp-filter with no rules loaded does a few lookups with short keys "   \
	"and writes only per-CPU counters, while flowbpf hashes a 48-byte key " \
	"and writes to the flow's shared entry with atomic instructions"
#define WHY_COLD                                                             \
	"both are dominated by the cache and TLB misses of a lookup in a "   \
	"2^20-entry table (the calibrator's cycling row), and flowbpf then " \
	"writes the entry (two atomic adds and the last-seen time), which "  \
	"takes its cache line exclusive; the rest is the hot path's work"
#define WHY_NEW                                                                 \
	"one insert into an LRU hash costs more than that on this machine by "  \
	"itself: the calibrator's new-flow rows (lookup, miss, one insert of "  \
	"a flowbpf_flow) are above both limits. flowbpf adds the manual-map "   \
	"lookup, the flood guard's per-CPU count and the ring-buffer event "    \
	"(reserve, a copy of the frame head, submit: the difference from the "  \
	"row with the flood guard tripped, which sends none); on a full map "   \
	"the insert also evicts: the LRU shrinks its lists and unlinks an old " \
	"entry whose cache lines are cold"

static __u32 rep_hot = 2000000, rep_cycle = 500000, rep_new = 50000;

struct frame {
	__u8 d[64];
};

__u16 csum16(const void *p, int len)
{
	const __u8 *b = p;
	__u32 s = 0;
	int i;

	for (i = 0; i + 1 < len; i += 2)
		s += b[i] << 8 | b[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s;
}

/* A 64-byte IPv4/UDP frame of flow n (see vary.bpf.c for the numbering). */
static void frame_of(struct frame *f, __u64 n)
{
	struct ethhdr *eth = (void *)f->d;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	memset(f, 0, sizeof(*f));
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x02", 6);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x01", 6);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(sizeof(f->d) - sizeof(*eth));
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = htonl(0xc6120000 + (__u32)(n >> 16));
	ip->daddr = htonl(0xc6130001);
	ip->check = htons(csum16(ip, sizeof(*ip)));
	udp->source = htons(n & 0xffff);
	udp->dest = htons(9);
	udp->len = htons(sizeof(f->d) - sizeof(*eth) - sizeof(*ip));
}

/* Average ns per repetition of prog on frame f. */
static double run_ns(int prog_fd, const struct frame *f, __u32 repeat)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->d,
		    .data_size_in = sizeof(f->d), .repeat = repeat);
	__u64 t0, t1;
	int err;

	t0 = thread_cpu_ns();
	err = bpf_prog_test_run_opts(prog_fd, &o);
	t1 = thread_cpu_ns();
	if (err)
		die("test run: %s", strerror(-err));
	if (o.retval != XDP_PASS)
		die("test run of prog fd %d returned %u, not XDP_PASS",
		    prog_fd, o.retval);
	return (double)(t1 - t0) / repeat;
}

struct fb {
	struct flowbpf *skel;
	struct ring_buffer *rb;
	int prog, verdict, flows, stats;
};

static int on_event(void *ctx, void *data, size_t size)
{
	return 0;
}

/* max_queued: the flood guard's limit, 0 for the attach default. */
static void fb_open(struct fb *f, __u32 entries, __u32 max_queued)
{
	struct flowbpf_attach_opts o;
	int err;

	memset(f, 0, sizeof(*f));
	f->skel = flowbpf__open();
	if (!f->skel)
		die("flowbpf__open: %s", strerror(errno));
	/* Enforce mode, as attach would set it up; established flows carry
	 * a pass verdict. */
	flowbpf_attach_opts_init(&o);
	o.mode = FLOWBPF_MODE_ENFORCE;
	o.pending = FLOWBPF_PENDING_PASS;
	o.dflt = FLOWBPF_VERDICT_PASS;
	if (max_queued)
		o.max_queued = max_queued;
	/* The ifindex only goes into events; the loopback's will do. */
	flowbpf_config_fill((struct flowbpf_config *)&f->skel->rodata->cfg, &o,
			    1, false);
	bpf_program__set_autoload(f->skel->progs.flowbpf_tc_egress, false);
	bpf_program__set_autoload(f->skel->progs.flowbpf_tc_ingress, false);
	if (bpf_map__set_max_entries(f->skel->maps.flows, entries) ||
	    bpf_map__set_max_entries(f->skel->maps.events, RINGBUF))
		die("cannot size maps");
	err = flowbpf__load(f->skel);
	if (err)
		die("flowbpf__load: %s", strerror(-err));
	f->prog = bpf_program__fd(f->skel->progs.flowbpf_xdp);
	f->verdict = bpf_program__fd(f->skel->progs.flowbpf_verdict);
	f->flows = bpf_map__fd(f->skel->maps.flows);
	f->stats = bpf_map__fd(f->skel->maps.stats);
	f->rb = ring_buffer__new(bpf_map__fd(f->skel->maps.events), on_event,
				 NULL, NULL);
	if (!f->rb)
		die("ring_buffer__new: %s", strerror(errno));
}

static void fb_close(struct fb *f)
{
	ring_buffer__free(f->rb);
	flowbpf__destroy(f->skel);
}

static __u64 fb_stat(struct fb *f, int idx)
{
	struct flowbpf_stats s;

	if (flowbpf_stats_read(f->stats, &s))
		die("cannot read stats");
	return s.c[idx];
}

struct calib {
	struct bench_calib *skel;
	int prog, prog_new, map;
};

static void calib_open(struct calib *c, __u32 entries)
{
	int err;

	c->skel = bench_calib__open();
	if (!c->skel)
		die("calib open: %s", strerror(errno));
	bpf_map__set_max_entries(c->skel->maps.calib_flows, entries);
	err = bench_calib__load(c->skel);
	if (err)
		die("calib load: %s", strerror(-err));
	c->prog = bpf_program__fd(c->skel->progs.bench_calib);
	c->prog_new = bpf_program__fd(c->skel->progs.bench_calib_new);
	c->map = bpf_map__fd(c->skel->maps.calib_flows);
}

/* Runs vary -> target over flows first.. with wrap (0: no wrap). */
static double vary_ns(struct bench_vary *v, int target, const struct frame *f,
		      __u64 first, __u64 wrap, __u32 repeat)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(v->maps.target), &zero, &target,
				BPF_ANY))
		die("cannot set tail-call target: %s", strerror(errno));
	v->bss->next_flow = first;
	v->bss->wrap = wrap;
	return run_ns(bpf_program__fd(v->progs.bench_vary), f, repeat);
}

/* The xdp-filter object, loaded as xdp-filter would, without pins. */
static struct bpf_object *xdpfilter_open(const char *path, int *prog_fd,
					 char *why, size_t whylen)
{
	struct bpf_object *obj;
	struct bpf_program *p;
	struct bpf_map *m;
	int err;

	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		snprintf(why, whylen, "cannot open %s: %s", path,
			 strerror(errno));
		return NULL;
	}
	/* Its maps are pinned by name for xdp-filter's CLI; not here. */
	bpf_object__for_each_map(m, obj)
		bpf_map__set_pin_path(m, NULL);
	err = bpf_object__load(obj);
	if (err) {
		snprintf(why, whylen, "cannot load %s: %s", path,
			 strerror(-err));
		bpf_object__close(obj);
		return NULL;
	}
	p = bpf_object__next_program(obj, NULL);
	*prog_fd = p ? bpf_program__fd(p) : -1;
	if (*prog_fd < 0) {
		snprintf(why, whylen, "%s has no program", path);
		bpf_object__close(obj);
		return NULL;
	}
	return obj;
}

/* What one round measured; ns per repetition, or per verdict written. */
struct round {
	double noop, cal1, calm, calcy, xf, fb1, fbm, fbcy, new1, newfull;
	double cnew1, cnewfull, newguard;
	double vbatch, vsingle, vhash, vhash_batch;
};

/* The value of a verdict map of its own, the design flowbpf did not take:
 * the verdict, who set it and when, written whole by userspace. */
struct decision {
	__u32 verdict;
	__u32 source;
	__u64 set_ns;
};

/*
 * ns per verdict written, VPASSES times to each of VFLOWS flows: through
 * the verdict program, FLOWBPF_VERDICT_BATCH ops a run and one op a run,
 * and, for the alternative, whole values into a plain hash of their own
 * (one update a syscall, and BPF_MAP_UPDATE_BATCH of as many as a
 * verdict run carries).  Both maps have 2^20 entries and hold the same
 * VFLOWS flows, so that their entries are as close together and stay in
 * the cache (and TLB) alike: what is timed is the write path.  Each
 * write replaces an existing entry, as a decision for a known flow would.
 */
static void verdict_bench(struct round *x)
{
	static struct flowbpf_vop ops[VOPS];
	static struct flowbpf_key keys[VOPS];
	static struct decision vals[VOPS];
	static int res[VOPS];
	struct fb v;
	__u32 i, n;
	int hash;

	fb_open(&v, MAP_BIG, 0);
	bench_preload(v.flows, VFLOWS, 0);
	hash = bpf_map_create(BPF_MAP_TYPE_HASH, "decisions", sizeof(keys[0]),
			      sizeof(vals[0]), MAP_BIG, NULL);
	if (hash < 0)
		die("cannot create the decisions map: %s", strerror(errno));
	for (i = 0; i < VOPS; i++) {
		bench_key(&keys[i], i % VFLOWS);
		ops[i] = (struct flowbpf_vop){ .key = keys[i],
					       .op = FLOWBPF_VOP_SET,
					       .verdict = FLOWBPF_VERDICT_PASS,
					       .source = FLOWBPF_SRC_DAEMON };
		vals[i] = (struct decision){ FLOWBPF_VERDICT_PASS,
					     FLOWBPF_SRC_DAEMON, mono_ns() };
	}
	n = VFLOWS;
	if (bpf_map_update_batch(hash, keys, vals, &n, NULL))
		die("cannot fill the decisions map: %s", strerror(errno));

	x->vbatch = thread_cpu_ns();
	if (flowbpf_verdict_run(v.verdict, ops, VOPS, res))
		die("verdict program: %s", strerror(errno));
	x->vbatch = (thread_cpu_ns() - x->vbatch) / VOPS;
	for (i = 0; i < VOPS; i++)
		if (res[i])
			die("verdict write %u: %s", i, strerror(-res[i]));
	x->vsingle = thread_cpu_ns();
	for (i = 0; i < VOPS; i++)
		if (flowbpf_verdict_set(v.verdict, &keys[i],
					FLOWBPF_VERDICT_PASS,
					FLOWBPF_SRC_DAEMON, 0))
			die("verdict write %u failed", i);
	x->vsingle = (thread_cpu_ns() - x->vsingle) / VOPS;
	x->vhash = thread_cpu_ns();
	for (i = 0; i < VOPS; i++)
		if (bpf_map_update_elem(hash, &keys[i], &vals[i], BPF_ANY))
			die("decisions update: %s", strerror(errno));
	x->vhash = (thread_cpu_ns() - x->vhash) / VOPS;
	x->vhash_batch = thread_cpu_ns();
	for (i = 0; i < VOPS; i += FLOWBPF_VERDICT_BATCH) {
		n = FLOWBPF_VERDICT_BATCH;
		if (bpf_map_update_batch(hash, keys + i, vals + i, &n, NULL))
			die("decisions batch update: %s", strerror(errno));
	}
	x->vhash_batch = (thread_cpu_ns() - x->vhash_batch) / VOPS;
	close(hash);
	fb_close(&v);
}

static void targets(void)
{
	emit_target(SEC_PKT, "flowbpf established - no-op, 1 flow", "le", 50,
		    "established cost above no-op <= 50 ns (1 flow)", WHY_50);
	emit_target(SEC_PKT, "flowbpf established - no-op, 1M flows", "le", 50,
		    "established cost above no-op <= 50 ns (1M flows)", WHY_50);
	emit_target(SEC_PKT, "flowbpf/calibrator above no-op, 1 flow", "le", 2,
		    "established <= 2x calibrator, above no-op (1 flow)",
		    WHY_50);
	emit_target(SEC_PKT, "flowbpf/calibrator above no-op, 1M flows", "le",
		    2, "established <= 2x calibrator, above no-op (1M flows)",
		    WHY_50);
	emit_target(SEC_PKT, "flowbpf established / xdp-filter, 1 flow", "le", 1,
		    "established flow costs less than xdp-filter, absolute (1 flow)",
		    WHY_XF);
	emit_target(SEC_PKT, "flowbpf established / xdp-filter, 1M flows", "le",
		    1,
		    "established flow costs less than xdp-filter, absolute (1M flows)",
		    WHY_XF);
	emit_target(SEC_PKT, "flowbpf/calibrator above no-op, cycling 1M flows",
		    "le", 1.3,
		    "established <= 1.3x calibrator, above no-op (cycling 1M flows, cache-cold)",
		    WHY_COLD);
	emit_target(SEC_PKT, "flowbpf new flow - no-op, near-empty map", "le",
		    450, "new flow above no-op <= 450 ns (near-empty map)",
		    WHY_NEW);
	emit_target(SEC_PKT, "flowbpf new flow - no-op, full map (evicts)", "le",
		    900, "new flow above no-op <= 900 ns (full map, evicting)",
		    WHY_NEW);
}

/* The programs and maps of one round. */
struct setup {
	struct fb a, b; /* a: the hot flow alone; b: 1M flows, room to spare */
	struct fb g; /* empty, its flood guard tripping at the second flow */
	struct calib ca, cb; /* the calibrator, the same two ways */
	struct bpf_object *xfo;
	int xf_prog;
};

static void setup_open(struct setup *s, const struct frame *hot,
		       const char *xf_path, char *why, size_t whylen)
{
	struct flowbpf_flow z = {};
	struct flowbpf_key k, got;

	/* The hot flow's first run creates it; the key read back checks
	 * bench_key(). */
	fb_open(&s->a, MAP_FULL, GUARD_NEVER);
	run_ns(s->a.prog, hot, 1);
	if (bpf_map_get_next_key(s->a.flows, NULL, &got))
		die("the first run made no flow");
	bench_key(&k, HOT_FLOW);
	if (memcmp(&k, &got, sizeof(k)))
		die("bench_key() does not match the datapath's key");
	if (flowbpf_verdict_set(s->a.verdict, &k, FLOWBPF_VERDICT_PASS,
				FLOWBPF_SRC_DAEMON, 0))
		die("cannot pass the hot flow");
	calib_open(&s->ca, MAP_FULL);
	bpf_map_update_elem(s->ca.map, &k, &z, BPF_ANY);
	fb_open(&s->g, MAP_FULL, 1);

	fb_open(&s->b, MAP_BIG, GUARD_NEVER);
	bench_preload(s->b.flows, PRELOAD, 0);
	calib_open(&s->cb, MAP_BIG);
	bench_preload(s->cb.map, PRELOAD, 0);
	s->xfo = NULL;
	s->xf_prog = -1;
	if (xf_path)
		s->xfo = xdpfilter_open(xf_path, &s->xf_prog, why, whylen);
}

static void setup_close(struct setup *s)
{
	bpf_object__close(s->xfo);
	bench_calib__destroy(s->ca.skel);
	bench_calib__destroy(s->cb.skel);
	fb_close(&s->a);
	fb_close(&s->b);
	fb_close(&s->g);
}

/* Hot and cycling established flows, interleaved. */
static void measure_established(struct setup *s, struct bench_noop *noop,
				struct bench_vary *vary,
				const struct frame *hot, struct round *x)
{
	int noop_fd = bpf_program__fd(noop->progs.bench_noop_xdp);
	double vnoop;
	__u64 c0, p0;

	x->noop = run_ns(noop_fd, hot, rep_hot);
	x->cal1 = run_ns(s->ca.prog, hot, rep_hot);
	p0 = fb_stat(&s->a, FLOWBPF_STAT_PASS);
	x->fb1 = run_ns(s->a.prog, hot, rep_hot);
	if (fb_stat(&s->a, FLOWBPF_STAT_PASS) - p0 != rep_hot)
		die("established runs (1 flow) did not all pass as established");
	x->xf = s->xfo ? run_ns(s->xf_prog, hot, rep_hot) : -1;
	x->calm = run_ns(s->cb.prog, hot, rep_hot);
	x->fbm = run_ns(s->b.prog, hot, rep_hot);

	vnoop = vary_ns(vary, noop_fd, hot, 0, PRELOAD, rep_cycle);
	x->calcy = vary_ns(vary, s->cb.prog, hot, 0, PRELOAD, rep_cycle) -
		   vnoop + x->noop;
	c0 = fb_stat(&s->b, FLOWBPF_STAT_FLOWS_CREATED);
	p0 = fb_stat(&s->b, FLOWBPF_STAT_PASS);
	x->fbcy = vary_ns(vary, s->b.prog, hot, 0, PRELOAD, rep_cycle) -
		  vnoop + x->noop;
	if (fb_stat(&s->b, FLOWBPF_STAT_FLOWS_CREATED) != c0 ||
	    fb_stat(&s->b, FLOWBPF_STAT_PASS) - p0 != rep_cycle)
		die("cycling run: not every repetition passed a preloaded flow");
}

/* ns above vary's own cost for rep_new new flows from first; dies unless
 * every one made a flow and sent its event. */
static double new_flows(struct fb *f, struct bench_vary *vary,
			const struct frame *hot, __u64 first, double vnoop)
{
	__u64 c0 = fb_stat(f, FLOWBPF_STAT_FLOWS_CREATED);
	__u64 e0 = fb_stat(f, FLOWBPF_STAT_EVENTS_SENT);
	double ns;

	ns = vary_ns(vary, f->prog, hot, first, 0, rep_new) - vnoop;
	if (fb_stat(f, FLOWBPF_STAT_FLOWS_CREATED) - c0 != rep_new ||
	    fb_stat(f, FLOWBPF_STAT_EVENTS_SENT) - e0 != rep_new)
		die("new flows: not every run made a flow and an event");
	ring_buffer__consume(f->rb);
	return ns;
}

/*
 * New flows that the flood guard decides at once (its limit is 1, met by
 * the first): the same path without the event, so the difference from a
 * queued new flow is what the event costs.
 */
static double guarded_flows(struct fb *f, struct bench_vary *vary,
			    const struct frame *hot, double vnoop)
{
	__u64 c0 = fb_stat(f, FLOWBPF_STAT_FLOWS_CREATED);
	__u64 q0 = fb_stat(f, FLOWBPF_STAT_QUEUE_LIMIT);
	double ns;

	vary_ns(vary, f->prog, hot, 0, 0, 1);
	ns = vary_ns(vary, f->prog, hot, NEW_BASE, 0, rep_new) - vnoop;
	/* The limit is per CPU: unpinned, the run's first flow may be
	 * admitted on a CPU the first run did not use. */
	if (fb_stat(f, FLOWBPF_STAT_FLOWS_CREATED) - c0 != rep_new + 1 ||
	    fb_stat(f, FLOWBPF_STAT_QUEUE_LIMIT) - q0 + 1 < rep_new)
		die("new flows (flood guard): not every run was limited");
	return ns;
}

static void measure_new(struct setup *s, struct bench_noop *noop,
			struct bench_vary *vary, const struct frame *hot,
			struct round *x)
{
	int noop_fd = bpf_program__fd(noop->progs.bench_noop_xdp);
	__u32 fill = MAP_BIG - PRELOAD + 65536;
	double vnoop;

	vnoop = vary_ns(vary, noop_fd, hot, NEW_BASE, 0, rep_new);
	x->new1 = new_flows(&s->a, vary, hot, NEW_BASE, vnoop) + x->noop;
	x->cnew1 = vary_ns(vary, s->ca.prog_new, hot, NEW_BASE, 0, rep_new) -
		   vnoop + x->noop;
	x->newguard = guarded_flows(&s->g, vary, hot, vnoop) + x->noop;
	/* Fill the 1M maps to the brim with new flows, then time more: from
	 * here on every new flow evicts one. */
	vary_ns(vary, s->b.prog, hot, NEW_BASE, 0, fill);
	ring_buffer__consume(s->b.rb);
	x->newfull = new_flows(&s->b, vary, hot, NEW_BASE + fill, vnoop) +
		     x->noop;
	vary_ns(vary, s->cb.prog_new, hot, NEW_BASE, 0, fill);
	x->cnewfull = vary_ns(vary, s->cb.prog_new, hot, NEW_BASE + fill, 0,
			      rep_new) -
		      vnoop + x->noop;
}

static void emit_round(int r, const struct round *x)
{
	double n = x->noop;

	emit_row(SEC_PKT, "no-op XDP", r, n, "ns");
	emit_row(SEC_PKT, "calibrator, 1 flow", r, x->cal1, "ns");
	emit_row(SEC_PKT, "calibrator, 1M flows", r, x->calm, "ns");
	emit_row(SEC_PKT, "calibrator, cycling 1M flows", r, x->calcy, "ns");
	emit_row(SEC_PKT, "calibrator new flow (one insert), near-empty map", r,
		 x->cnew1, "ns");
	emit_row(SEC_PKT, "calibrator new flow (one insert), full map (evicts)",
		 r, x->cnewfull, "ns");
	if (x->xf >= 0)
		emit_row(SEC_PKT, "xdp-filter (xdpfilt_alw_all, no rules)", r,
			 x->xf, "ns");
	emit_row(SEC_PKT, "flowbpf established, 1 flow", r, x->fb1, "ns");
	emit_row(SEC_PKT, "flowbpf established, 1M flows", r, x->fbm, "ns");
	emit_row(SEC_PKT, "flowbpf established, cycling 1M flows", r, x->fbcy,
		 "ns");
	emit_row(SEC_PKT, "flowbpf new flow, near-empty map", r, x->new1, "ns");
	emit_row(SEC_PKT, "flowbpf new flow, full map (evicts)", r, x->newfull,
		 "ns");
	emit_row(SEC_PKT,
		 "flowbpf new flow, flood guard tripped (no event), near-empty map",
		 r, x->newguard, "ns");
	emit_row(SEC_PKT, "flowbpf established - no-op, 1 flow", r, x->fb1 - n,
		 "ns");
	emit_row(SEC_PKT, "flowbpf established - no-op, 1M flows", r,
		 x->fbm - n, "ns");
	emit_row(SEC_PKT, "flowbpf established - no-op, cycling 1M flows", r,
		 x->fbcy - n, "ns");
	emit_row(SEC_PKT, "flowbpf new flow - no-op, near-empty map", r,
		 x->new1 - n, "ns");
	emit_row(SEC_PKT, "flowbpf new flow - no-op, full map (evicts)", r,
		 x->newfull - n, "ns");
	emit_row(SEC_PKT, "flowbpf/calibrator above no-op, 1 flow", r,
		 (x->fb1 - n) / (x->cal1 - n), "x");
	emit_row(SEC_PKT, "flowbpf/calibrator above no-op, 1M flows", r,
		 (x->fbm - n) / (x->calm - n), "x");
	emit_row(SEC_PKT, "flowbpf/calibrator above no-op, cycling 1M flows", r,
		 (x->fbcy - n) / (x->calcy - n), "x");
	if (x->xf > 0) {
		emit_row(SEC_PKT, "flowbpf established / xdp-filter, 1 flow", r,
			 x->fb1 / x->xf, "x");
		emit_row(SEC_PKT, "flowbpf established / xdp-filter, 1M flows",
			 r, x->fbm / x->xf, "x");
	}
	emit_row(SEC_PKT, "new/established above no-op, 1 flow", r,
		 (x->new1 - n) / (x->fb1 - n), "x");
	emit_row(SEC_PKT, "new/established above no-op, full map vs cycling 1M",
		 r, (x->newfull - n) / (x->fbcy - n), "x");
	emit_row(SEC_PKT, "verdict write: syscall program, 64 a run", r,
		 x->vbatch, "ns");
	emit_row(SEC_PKT, "verdict write: syscall program, 1 a run", r,
		 x->vsingle, "ns");
	emit_row(SEC_PKT, "verdict write: whole value into a hash, 1 a syscall",
		 r, x->vhash, "ns");
	emit_row(SEC_PKT,
		 "verdict write: whole value into a hash, BPF_MAP_UPDATE_BATCH of 64",
		 r, x->vhash_batch, "ns");
}

int cmd_pkt(int argc, char **argv)
{
	const char *xf_path = NULL;
	struct bench_noop *noop;
	struct bench_vary *vary;
	struct frame hot;
	char why[512] = "";
	int c, r, cpu = -1;

	while ((c = getopt(argc, argv, "x:c:")) != -1) {
		switch (c) {
		case 'x':
			xf_path = optarg;
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (getenv("BENCH_QUICK"))
		rep_hot /= 10, rep_cycle /= 10, rep_new /= 5;
	if (cpu >= 0)
		pin_to_cpu(cpu);
	frame_of(&hot, HOT_FLOW);

	noop = bench_noop__open_and_load();
	vary = bench_vary__open_and_load();
	if (!noop || !vary)
		die("cannot load bench programs: %s", strerror(errno));

	targets();
	emit_note(SEC_PKT,
		  "BPF_PROG_TEST_RUN of a 64-byte IPv4/UDP frame, %u repetitions (hot), %u (cycling), %u (new flows) per round; time is the thread's CPU time per repetition",
		  rep_hot, rep_cycle, rep_new);
	emit_note(SEC_PKT,
		  "verdict writes: %u flows (in the cache) set to pass %u times each per variant, in a flow map and, for the alternative, a preallocated BPF_MAP_TYPE_HASH of whole %zu-byte values, both of 2^20 entries; thread CPU time per verdict, syscalls included; the syscall program changes the verdict word in place, up to %u ops a BPF_PROG_RUN",
		  VFLOWS, VPASSES, sizeof(struct decision),
		  FLOWBPF_VERDICT_BATCH);

	for (r = 1; r <= bench_rounds; r++) {
		struct setup s;
		struct round x;

		fprintf(stderr, "bench pkt: round %d/%d\n", r, bench_rounds);
		setup_open(&s, &hot, xf_path, why, sizeof(why));
		/* Interleaved: every variant once per round. */
		measure_established(&s, noop, vary, &hot, &x);
		verdict_bench(&x);
		measure_new(&s, noop, vary, &hot, &x);
		emit_round(r, &x);
		setup_close(&s);
	}
	if (xf_path && why[0])
		emit_note(SEC_PKT, "xdp-filter not measured: %s", why);
	else if (!xf_path)
		emit_note(SEC_PKT, "xdp-filter not measured: its object was not found (xdp-tools not installed?)");
	bench_vary__destroy(vary);
	bench_noop__destroy(noop);
	return 0;
}
