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
 * New flows: every repetition is a flow never seen before.  A test run
 * hands the same frame to every repetition, so both "cycling" and "new"
 * go through the vary program (bench/vary.bpf.c), which rewrites the
 * frame's source address and port and tail-calls the program under test;
 * vary's own cost is measured by pointing it at the no-op program and is
 * subtracted.
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

static __u32 rep_hot = 2000000, rep_cycle = 500000, rep_new = 50000;

struct frame {
	__u8 d[64];
};

static __u16 csum16(const void *p, int len)
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
	int prog, flows, verdicts, stats;
};

static int on_event(void *ctx, void *data, size_t size)
{
	return 0;
}

static void fb_open(struct fb *f, __u32 entries)
{
	int err;

	memset(f, 0, sizeof(*f));
	f->skel = flowbpf__open();
	if (!f->skel)
		die("flowbpf__open: %s", strerror(errno));
	/* Enforce mode; established flows carry a pass verdict. */
	f->skel->rodata->cfg.mode = FLOWBPF_MODE_ENFORCE;
	f->skel->rodata->cfg.pending = FLOWBPF_VERDICT_PASS;
	f->skel->rodata->cfg.dflt = FLOWBPF_VERDICT_PASS;
	f->skel->rodata->cfg.timeout_ns = FLOWBPF_DEFAULT_TIMEOUT_NS;
#ifdef FLOWBPF_DEFAULT_MAX_QUEUED
	/* The flood guard runs but never trips: every new flow takes the
	 * full path, event included. */
	f->skel->rodata->cfg.max_queued = 1U << 30;
#endif
	bpf_program__set_autoload(f->skel->progs.flowbpf_tc_egress, false);
	bpf_program__set_autoload(f->skel->progs.flowbpf_tc_ingress, false);
	if (bpf_map__set_max_entries(f->skel->maps.flows, entries) ||
	    bpf_map__set_max_entries(f->skel->maps.verdicts, entries) ||
	    bpf_map__set_max_entries(f->skel->maps.events, RINGBUF))
		die("cannot size maps");
	err = flowbpf__load(f->skel);
	if (err)
		die("flowbpf__load: %s", strerror(-err));
	f->prog = bpf_program__fd(f->skel->progs.flowbpf_xdp);
	f->flows = bpf_map__fd(f->skel->maps.flows);
	f->verdicts = bpf_map__fd(f->skel->maps.verdicts);
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
	int prog, map;
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

static void targets(void)
{
	static const char why_50[] =
		"per packet flowbpf makes two lookups of the 48-byte key in "
		"two LRU hashes (flows, then verdicts), where the calibrator "
		"makes one, and around them the per-CPU stats lookup, "
		"bpf_ktime_get_ns(), the parser's bpf_xdp_load_bytes() helper "
		"calls and atomic counter updates; the calibrator's single "
		"lookup alone (its row above no-op) takes most of the 50 ns "
		"budget on this machine. Keeping the verdict in the flow value "
		"(one map, one lookup, one key hashed) and reading untagged "
		"IPv4/IPv6 L4 headers through direct packet pointers instead "
		"of the helper would remove the larger part of the difference";
	static const char why_new[] =
		"a new flow inserts into two LRU maps (taking a node from the "
		"LRU free lists, under their lock), goes through the flood "
		"guard when present, and reserves, fills (bpf_xdp_load_bytes of "
		"the frame head) and submits a ring-buffer event; with one map "
		"instead of two, one insert would go";

	emit_target(SEC_PKT, "flowbpf established - no-op, 1 flow", "le", 50,
		    "established cost above no-op <= 50 ns (1 flow)", why_50);
	emit_target(SEC_PKT, "flowbpf established - no-op, 1M flows", "le", 50,
		    "established cost above no-op <= 50 ns (1M flows)", why_50);
	emit_target(SEC_PKT, "flowbpf/calibrator above no-op, 1 flow", "le", 2,
		    "established <= 2x calibrator, above no-op (1 flow)",
		    why_50);
	emit_target(SEC_PKT, "flowbpf/calibrator above no-op, 1M flows", "le",
		    2, "established <= 2x calibrator, above no-op (1M flows)",
		    why_50);
	emit_target(SEC_PKT, "flowbpf/calibrator above no-op, cycling 1M flows",
		    "le", 2,
		    "established <= 2x calibrator, above no-op (cycling 1M flows)",
		    why_50);
	emit_target(SEC_PKT, "new/established above no-op, 1 flow", "le", 4,
		    "new flow <= 4x established, above no-op (near-empty map)",
		    why_new);
	emit_target(SEC_PKT, "new/established above no-op, 1M flows", "le", 4,
		    "new flow <= 4x established, above no-op (full map vs cycling 1M)",
		    why_new);
}

int cmd_pkt(int argc, char **argv)
{
	const char *xf_path = NULL;
	struct flowbpf_key k, got;
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

	for (r = 1; r <= bench_rounds; r++) {
		double noop_ns, cal1, calm, calcy, xf = -1, fb1, fbm, fbcy;
		double vnoop_cy, vnoop_new, new1, newfull;
		struct calib ca, cb;
		struct fb a, b;
		__u32 ifindex, pass_n;
		__u64 c0, e0, l0;
		struct bpf_object *xfo = NULL;
		int xf_prog = -1;
		struct flowbpf_verdict_val pass = {
			.verdict = FLOWBPF_VERDICT_PASS,
			.source = FLOWBPF_SRC_DAEMON,
		};

		fprintf(stderr, "bench pkt: round %d/%d\n", r, bench_rounds);
		/* A: the hot flow alone.  Its first run creates it; the key
		 * read back checks bench_key() and tells the test-run ifindex. */
		fb_open(&a, MAP_FULL);
		run_ns(a.prog, &hot, 1);
		if (bpf_map_get_next_key(a.flows, NULL, &got))
			die("the first run made no flow");
		ifindex = got.ifindex;
		bench_key(&k, ifindex, HOT_FLOW);
		if (memcmp(&k, &got, sizeof(k)))
			die("bench_key() does not match the datapath's key");
		pass.set_ns = mono_ns();
		bpf_map_update_elem(a.verdicts, &k, &pass, BPF_ANY);
		calib_open(&ca, MAP_FULL);
		{
			struct flowbpf_flow z = {};

			bpf_map_update_elem(ca.map, &k, &z, BPF_ANY);
		}

		/* B: 1M preloaded flows with pass verdicts, room to spare. */
		fb_open(&b, MAP_BIG);
		bench_preload(b.flows, b.verdicts, ifindex, PRELOAD, 0);
		calib_open(&cb, MAP_BIG);
		bench_preload(cb.map, -1, ifindex, PRELOAD, 0);
		if (xf_path)
			xfo = xdpfilter_open(xf_path, &xf_prog, why,
					     sizeof(why));

		/* Interleaved: every variant once per round. */
		noop_ns = run_ns(bpf_program__fd(noop->progs.bench_noop_xdp),
				 &hot, rep_hot);
		cal1 = run_ns(ca.prog, &hot, rep_hot);
		fb1 = run_ns(a.prog, &hot, rep_hot);
		if (xfo)
			xf = run_ns(xf_prog, &hot, rep_hot);
		calm = run_ns(cb.prog, &hot, rep_hot);
		fbm = run_ns(b.prog, &hot, rep_hot);

		vnoop_cy = vary_ns(vary,
				   bpf_program__fd(noop->progs.bench_noop_xdp),
				   &hot, 0, PRELOAD, rep_cycle);
		calcy = vary_ns(vary, cb.prog, &hot, 0, PRELOAD, rep_cycle) -
			vnoop_cy + noop_ns;
		c0 = fb_stat(&b, FLOWBPF_STAT_FLOWS_CREATED);
		fbcy = vary_ns(vary, b.prog, &hot, 0, PRELOAD, rep_cycle) -
		       vnoop_cy + noop_ns;
		if (fb_stat(&b, FLOWBPF_STAT_FLOWS_CREATED) != c0)
			die("cycling run created flows: the preload is not all there");

		vnoop_new = vary_ns(vary,
				    bpf_program__fd(noop->progs.bench_noop_xdp),
				    &hot, NEW_BASE, 0, rep_new);
		c0 = fb_stat(&a, FLOWBPF_STAT_FLOWS_CREATED);
		e0 = fb_stat(&a, FLOWBPF_STAT_EVENTS_SENT);
		new1 = vary_ns(vary, a.prog, &hot, NEW_BASE, 0, rep_new) -
		       vnoop_new + noop_ns;
		if (fb_stat(&a, FLOWBPF_STAT_FLOWS_CREATED) - c0 != rep_new ||
		    fb_stat(&a, FLOWBPF_STAT_EVENTS_SENT) - e0 != rep_new)
			die("new flows (near-empty map): not every run made a flow and an event");
		ring_buffer__consume(a.rb);

		/* Fill B to the brim with new flows, then time more: from
		 * here on every new flow evicts one in each map. */
		pass_n = MAP_BIG - PRELOAD + 65536;
		vary_ns(vary, b.prog, &hot, NEW_BASE, 0, pass_n);
		ring_buffer__consume(b.rb);
		c0 = fb_stat(&b, FLOWBPF_STAT_FLOWS_CREATED);
		e0 = fb_stat(&b, FLOWBPF_STAT_EVENTS_SENT);
		l0 = fb_stat(&b, FLOWBPF_STAT_EVENTS_LOST);
		newfull = vary_ns(vary, b.prog, &hot, NEW_BASE + pass_n, 0,
				  rep_new) -
			  vnoop_new + noop_ns;
		if (fb_stat(&b, FLOWBPF_STAT_FLOWS_CREATED) - c0 != rep_new ||
		    fb_stat(&b, FLOWBPF_STAT_EVENTS_SENT) - e0 != rep_new ||
		    fb_stat(&b, FLOWBPF_STAT_EVENTS_LOST) != l0)
			die("new flows (full map): not every run made a flow and an event");
		ring_buffer__consume(b.rb);

		emit_row(SEC_PKT, "no-op XDP", r, noop_ns, "ns");
		emit_row(SEC_PKT, "calibrator, 1 flow", r, cal1, "ns");
		emit_row(SEC_PKT, "calibrator, 1M flows", r, calm, "ns");
		emit_row(SEC_PKT, "calibrator, cycling 1M flows", r, calcy, "ns");
		if (xfo)
			emit_row(SEC_PKT, "xdp-filter (xdpfilt_alw_all, no rules)",
				 r, xf, "ns");
		emit_row(SEC_PKT, "flowbpf established, 1 flow", r, fb1, "ns");
		emit_row(SEC_PKT, "flowbpf established, 1M flows", r, fbm, "ns");
		emit_row(SEC_PKT, "flowbpf established, cycling 1M flows", r,
			 fbcy, "ns");
		emit_row(SEC_PKT, "flowbpf new flow, near-empty map", r, new1,
			 "ns");
		emit_row(SEC_PKT, "flowbpf new flow, full map (evicts)", r,
			 newfull, "ns");
		emit_row(SEC_PKT, "flowbpf established - no-op, 1 flow", r,
			 fb1 - noop_ns, "ns");
		emit_row(SEC_PKT, "flowbpf established - no-op, 1M flows", r,
			 fbm - noop_ns, "ns");
		emit_row(SEC_PKT, "flowbpf established - no-op, cycling 1M flows",
			 r, fbcy - noop_ns, "ns");
		emit_row(SEC_PKT, "flowbpf/calibrator above no-op, 1 flow", r,
			 (fb1 - noop_ns) / (cal1 - noop_ns), "x");
		emit_row(SEC_PKT, "flowbpf/calibrator above no-op, 1M flows", r,
			 (fbm - noop_ns) / (calm - noop_ns), "x");
		emit_row(SEC_PKT,
			 "flowbpf/calibrator above no-op, cycling 1M flows", r,
			 (fbcy - noop_ns) / (calcy - noop_ns), "x");
		emit_row(SEC_PKT, "new/established above no-op, 1 flow", r,
			 (new1 - noop_ns) / (fb1 - noop_ns), "x");
		emit_row(SEC_PKT, "new/established above no-op, 1M flows", r,
			 (newfull - noop_ns) / (fbcy - noop_ns), "x");

		bpf_object__close(xfo);
		bench_calib__destroy(ca.skel);
		bench_calib__destroy(cb.skel);
		fb_close(&a);
		fb_close(&b);
	}
	if (xf_path && why[0])
		emit_note(SEC_PKT, "xdp-filter not measured: %s", why);
	else if (!xf_path)
		emit_note(SEC_PKT, "xdp-filter not measured: its object was not found (xdp-tools not installed?)");
	bench_vary__destroy(vary);
	bench_noop__destroy(noop);
	return 0;
}
