// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bench: the driver behind "make bench".  Each subcommand measures one
 * part and appends its lines to the results file (-o, default stdout);
 * "report" turns a results file into the table.  See docs/benchmarks.md.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "clock.h"
#include "bench.h"
#include "flowbpf.h"
#include "loader.h"

FILE *bench_out;
int bench_rounds = 5;

void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void emit_row(const char *sec, const char *name, int round, double v,
	      const char *unit)
{
	fprintf(bench_out, "row\t%s\t%s\t%d\t%.6g\t%s\n", sec, name, round, v,
		unit);
	fflush(bench_out);
}

void emit_target(const char *sec, const char *name, const char *op,
		 double limit, const char *text, const char *why)
{
	fprintf(bench_out, "target\t%s\t%s\t%s\t%.6g\t%s\t%s\n", sec, name, op,
		limit, text, why ? why : "");
	fflush(bench_out);
}

void emit_note(const char *sec, const char *fmt, ...)
{
	va_list ap;

	fprintf(bench_out, "note\t%s\t", sec);
	va_start(ap, fmt);
	vfprintf(bench_out, fmt, ap);
	va_end(ap);
	fputc('\n', bench_out);
	fflush(bench_out);
}

__u64 mono_ns(void)
{
	return clock_now_ns(CLOCK_MONOTONIC);
}

__u64 thread_cpu_ns(void)
{
	return clock_now_ns(CLOCK_THREAD_CPUTIME_ID);
}

void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("cannot pin to CPU %d: %s", cpu, strerror(errno));
}

long long map_memlock(int fd)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

void bench_key(struct flowbpf_key *k, __u64 n)
{
	memset(k, 0, sizeof(*k));
	k->dir = FLOWBPF_DIR_INGRESS;
	k->family = 4;
	k->proto = IPPROTO_UDP;
	k->sport = htons(n & 0xffff);
	k->dport = htons(9);
	k->saddr[2] = k->daddr[2] = htonl(0xffff);
	k->saddr[3] = htonl(0xc6120000 + (__u32)(n >> 16));
	k->daddr[3] = htonl(0xc6130001);
}

void bench_preload(int flows, __u32 count, int expired_pct)
{
	const __u32 chunk = 65536;
	struct flowbpf_flow *fv = calloc(chunk, sizeof(*fv));
	struct flowbpf_key *kv = calloc(chunk, sizeof(*kv));
	__u64 now = mono_ns(), hour = 3600ULL * 1000000000ULL;
	__u64 old = now > hour ? now - hour : 1; /* uptime may be shorter */
	__u32 done = 0, i, n;

	if (!fv || !kv)
		die("out of memory");
	while (done < count) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		n = count - done < chunk ? count - done : chunk;
		for (i = 0; i < n; i++) {
			__u32 seen = flowbpf_ns_tick(
				(done + i) % 100 < (__u32)expired_pct ? old :
									now);

			bench_key(&kv[i], done + i);
			fv[i] = (struct flowbpf_flow){
				.packets = 1,
				.bytes = 50,
				.first = seen,
				.last = seen,
				.set = seen,
				.verdict = FLOWBPF_VERDICT_PASS,
				.source = FLOWBPF_SRC_DAEMON,
			};
		}
		if (bpf_map_update_batch(flows, kv, fv, &n, &o))
			die("preload flows: %s", strerror(errno));
		done += n;
	}
	free(fv);
	free(kv);
}

static int quiet_print(enum libbpf_print_level level, const char *fmt,
		       va_list ap)
{
	if (level == LIBBPF_WARN || getenv("BENCH_VERBOSE"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} cmds[] = {
	{ "pkt", cmd_pkt, "per-packet cost with BPF_PROG_TEST_RUN (part 1)" },
	{ "sweep", cmd_sweep, "expiry sweep of 1M flows, batch vs per element (part 5)" },
	{ "mem", cmd_mem, "kernel memory per flow, every map of an attach (part 6)" },
	{ "decide", cmd_decide, "decision latency and flow-setup rate (parts 3, 4)" },
	{ "nulld", cmd_nulld, "IFACE: a null decider answering every event with pass" },
	{ "attach-noop", cmd_attach_noop, "IFACE xdp|tc: attach the no-op program" },
	{ "detach-noop", cmd_detach_noop, "IFACE xdp|tc: remove it" },
	{ "alternate", cmd_alternate, "IFACE xdp|tc udp|bytes SLICE_MS BLOCKS [control]: flowbpf against the no-op, swapped in place" },
	{ "udpflood", cmd_udpflood, "IFACE DSTMAC SRC DST PORT SECS: send 64-byte UDP frames from one CPU" },
	{ "udpsink", cmd_udpsink, "IP PORT: count datagrams until idle" },
	{ "listen", cmd_listen, "IP PORT: accept and close TCP connections until killed" },
	{ "connect", cmd_connect, "LABEL SRC DST DPORT: time sequential new TCP connections (part 7)" },
	{ "units", cmd_units, "accounting by unit: cost per record and sweep, store size, quota (part 8)" },
	{ "report", cmd_report, "RESULTS: print the table" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: bench [-r ROUNDS] [-o RESULTS] COMMAND [ARGS]\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-12s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
	const char *outpath = NULL;
	size_t i;
	int c;

	bench_out = stdout;
	libbpf_set_print(quiet_print);
	while ((c = getopt(argc, argv, "+r:o:h")) != -1) {
		switch (c) {
		case 'r':
			bench_rounds = atoi(optarg);
			if (bench_rounds < 1)
				die("-r needs a positive number");
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (outpath) {
		bench_out = fopen(outpath, "a");
		if (!bench_out)
			die("cannot open %s: %s", outpath, strerror(errno));
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmds[i].name, argv[optind])) {
			argv += optind;
			argc -= optind;
			optind = 0;
			return cmds[i].fn(argc, argv);
		}
	usage(stderr);
	return 2;
}
