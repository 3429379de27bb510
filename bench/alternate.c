// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * alternate IFACE xdp|tc udp|bytes SLICE_MS BLOCKS [control|calib]
 *
 * The throughput targets compare flowbpf with a no-op program on the same
 * hook.  On this machine the rate of one unchanged setup drifts by tens of
 * percent within a minute, far more than flowbpf costs, so measuring the
 * two one after the other compares moments more than programs.  Instead,
 * with traffic running all along, this swaps the two on IFACE (where
 * flowbpf is attached) every SLICE_MS, in blocks of four slices ordered
 * no-op, flowbpf, flowbpf, no-op, so that a drift that is linear within a
 * block cancels.  A swap is an in-place update of the XDP link, or a
 * replace of the tc filter at flowbpf's handle; flowbpf's tc egress
 * program is off in no-op slices.  Each slice starts a few milliseconds
 * after its swap, so that the queues settle.
 *
 * Counted per slice: "udp" the datagrams delivered to sockets (Udp
 * InDatagrams of /proc/net/snmp), "bytes" the interface's rx_bytes.
 * Prints one line per block: "BLOCK NOOP_RATE FLOWBPF_RATE RATIO", rates
 * per second.  "control" puts the no-op program in flowbpf's slices too:
 * the ratios it prints are those of the method alone, which should center
 * on 1.  "calib" (XDP only) puts the calibrator of part 1 there instead,
 * one lookup and one count per packet and no egress program: the least a
 * per-flow datapath costs on the same traffic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bench.h"
#include "noop.skel.h"
#include "calib.skel.h"
#include "loader.h"

#define SETTLE_MS 20

struct alt {
	const char *ifname;
	unsigned int ifindex;
	int tc;
	int link;	 /* flowbpf's pinned XDP link (XDP only) */
	int prog[2];	 /* [0] no-op, [1] flowbpf, on the ingress hook */
	int egress;	 /* flowbpf's tc egress program */
	int bytes;	 /* count rx_bytes, else UDP datagrams */
	int on;		 /* what is in place now */
	int calib;	 /* prog[1] is the calibrator: no egress program */
};

static __u64 udp_in(void)
{
	char line[512];
	__u64 v = 0;
	int seen = 0;
	FILE *f = fopen("/proc/net/snmp", "r");

	if (!f)
		die("/proc/net/snmp: %s", strerror(errno));
	/* The second "Udp:" line holds the values; InDatagrams is first. */
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Udp:", 4) && seen++) {
			v = strtoull(line + 4, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static __u64 rx_bytes(const char *ifname)
{
	char path[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/rx_bytes",
		 ifname);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%llu", &v) != 1)
		die("%s: %s", path, strerror(errno));
	fclose(f);
	return v;
}

static __u64 counter(const struct alt *a)
{
	return a->bytes ? rx_bytes(a->ifname) : udp_in();
}

static void tc_put(const struct alt *a, int egress, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = FLOWBPF_TC_HANDLE,
		    .priority = FLOWBPF_TC_PRIO);
	int err;

	if (prog_fd < 0) {
		err = bpf_tc_detach(&hook, &tc);
		if (err == -ENOENT)
			err = 0;
	} else {
		tc.prog_fd = prog_fd;
		tc.flags = BPF_TC_F_REPLACE;
		err = bpf_tc_attach(&hook, &tc);
	}
	if (err)
		die("%s: tc %s: %s", a->ifname, egress ? "egress" : "ingress",
		    strerror(-err));
}

/* Puts flowbpf's programs (on) or the no-op (off) in place. */
static void put(struct alt *a, int on)
{
	if (!on && a->on && !a->calib)
		tc_put(a, 1, -1);
	if (a->tc)
		tc_put(a, 0, a->prog[on]);
	else if (bpf_link_update(a->link, a->prog[on], NULL))
		die("%s: XDP link update: %s", a->ifname, strerror(errno));
	if (on && !a->on && !a->calib)
		tc_put(a, 1, a->egress);
	a->on = on;
}

/* The rate of one slice with prog "on" in place, per second. */
static double slice(struct alt *a, int on, int control, int ms)
{
	struct timespec settle = { 0, SETTLE_MS * 1000000L };
	struct timespec len = { ms / 1000, ms % 1000 * 1000000L };
	__u64 c0, c1, t0, t1;

	put(a, on && !control);
	nanosleep(&settle, NULL);
	c0 = counter(a);
	t0 = mono_ns();
	nanosleep(&len, NULL);
	c1 = counter(a);
	t1 = mono_ns();
	return (c1 - c0) / ((t1 - t0) / 1e9);
}

static void alt_open(struct alt *a, struct bench_noop **skel)
{
	a->ifindex = if_nametoindex(a->ifname);
	if (!a->ifindex)
		die("%s: no such interface", a->ifname);
	*skel = bench_noop__open_and_load();
	if (!*skel)
		die("cannot load the no-op programs: %s", strerror(errno));
	a->prog[0] = a->tc ? bpf_program__fd((*skel)->progs.bench_noop_tc)
			   : bpf_program__fd((*skel)->progs.bench_noop_xdp);
	a->prog[1] = flowbpf_pin_get(a->ifname, a->tc ? FB_PROG_TC_INGRESS
						      : FB_PROG_XDP);
	a->egress = flowbpf_pin_get(a->ifname, FB_PROG_TC_EGRESS);
	a->link = a->tc ? -1 : flowbpf_pin_get(a->ifname, FB_LINK_XDP);
	if (a->prog[1] < 0 || a->egress < 0 || (!a->tc && a->link < 0))
		die("%s: flowbpf is not attached (with --ingress %s%s)",
		    a->ifname, a->tc ? "tc" : "xdp",
		    a->tc ? "" : " --xdp-attach direct");
}

int cmd_alternate(int argc, char **argv)
{
	struct alt a = { .link = -1, .on = 1 };
	struct bench_calib *cal = NULL;
	struct bench_noop *skel;
	int ms, blocks, control, b, i;
	double r[4];

	if (argc < 6 || argc > 7 ||
	    (strcmp(argv[2], "xdp") && strcmp(argv[2], "tc")) ||
	    (strcmp(argv[3], "udp") && strcmp(argv[3], "bytes")) ||
	    (argc == 7 && strcmp(argv[6], "control") &&
	     strcmp(argv[6], "calib")))
		die("usage: alternate IFACE xdp|tc udp|bytes SLICE_MS BLOCKS [control|calib]");
	a.ifname = argv[1];
	a.tc = !strcmp(argv[2], "tc");
	a.bytes = !strcmp(argv[3], "bytes");
	ms = atoi(argv[4]);
	blocks = atoi(argv[5]);
	control = argc == 7 && !strcmp(argv[6], "control");
	a.calib = argc == 7 && !strcmp(argv[6], "calib");
	if (a.calib && a.tc)
		die("calib: XDP only");
	if (ms < 10 || blocks < 1)
		die("SLICE_MS must be at least 10 and BLOCKS at least 1");
	alt_open(&a, &skel);
	if (a.calib) {
		cal = bench_calib__open_and_load();
		if (!cal)
			die("cannot load the calibrator: %s", strerror(errno));
		a.prog[1] = bpf_program__fd(cal->progs.bench_calib_new);
		/* Its egress program stays off throughout. */
		tc_put(&a, 1, -1);
		a.on = 0;
	}
	for (b = 1; b <= blocks; b++) {
		for (i = 0; i < 4; i++)
			r[i] = slice(&a, i == 1 || i == 2, control, ms);
		printf("%d %.1f %.1f %.5f\n", b, (r[0] + r[3]) / 2,
		       (r[1] + r[2]) / 2,
		       r[0] + r[3] > 0 ? (r[1] + r[2]) / (r[0] + r[3]) : 0);
		fflush(stdout);
	}
	/* Leave flowbpf as it was found. */
	if (a.calib) {
		a.calib = 0;
		a.prog[1] = flowbpf_pin_get(a.ifname, FB_PROG_XDP);
		if (a.prog[1] < 0)
			die("%s: flowbpf's XDP program is gone", a.ifname);
	}
	put(&a, 1);
	bench_calib__destroy(cal);
	bench_noop__destroy(skel);
	return 0;
}
