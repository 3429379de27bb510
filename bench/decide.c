// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Parts 3 and 4: how fast first packets get their verdict.
 *
 * flowbpf is attached (enforce, no flood limit, 64 MiB ring buffer) to a
 * veth of our own that carries no traffic; new flows are made by running
 * its pinned XDP program with BPF_PROG_TEST_RUN through the vary program
 * (bench/vary.bpf.c), paced in 1 ms slices at a given rate.  A decider
 * answers each first-packet event with a fixed verdict:
 *   - "flowbpf daemon" with the policy "default allow;" (if this tree has
 *     the daemon), and
 *   - "bench nulld", the least a decider can be (ring buffer callback ->
 *     map update), as a reference for what the kernel side allows.
 * Latency of a flow = verdict.set_ns (stamped by the decider just before
 * it writes the verdict) - flow.first_ns (stamped by the datapath on the
 * first packet); both CLOCK_MONOTONIC.  A flow with no decider verdict
 * after the run (and a grace second) is "undecided".
 *
 * Flow-setup rate: rates tried in increasing order, 2 s each; a rate is
 * sustained if the generator reached it, no event was lost and every
 * flow was decided.  The result is the highest rate sustained before the
 * first that was not.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bench.h"
#include "flowbpf.h"
#include "loader.h"
#include "vary.skel.h"

#define SEC_DEC "decide"
#define MAP_FLOWS (1U << 22)
#define RUN_NS (2ULL * 1000000000ULL)

static const char *flowbpf_bin = "./.output/flowbpf";
static char iface[IF_NAMESIZE], peer[IF_NAMESIZE], tmpdir[64];
static struct bench_vary *vary;
static struct flowbpf_handle h;
static __u64 next_base = 1ULL << 24;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void teardown(void)
{
	if (h.flows_fd > 0)
		flowbpf_close(&h);
	if (iface[0]) {
		sh("[ -e /sys/fs/bpf/flowbpf/%s ] && %s detach %s >/dev/null 2>&1; ip link del %s 2>/dev/null",
		   iface, flowbpf_bin, iface, iface);
		iface[0] = '\0';
	}
	if (tmpdir[0]) {
		sh("rm -rf %s", tmpdir);
		tmpdir[0] = '\0';
	}
}

static void on_exit_signal(int sig)
{
	teardown();
	_exit(128 + sig);
}

/* Generates count new flows from flow number base at rate/s; returns the
 * rate reached. */
static double generate(int prog_fd, __u64 base, __u64 count, double rate)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	static __u8 frame[64];
	__u64 t0 = mono_ns(), done = 0, want, el = 0;
	__u32 zero = 0;

	/* The frame: 64-byte IPv4/UDP, rewritten per run by vary. */
	memset(frame, 0, sizeof(frame));
	memcpy(frame, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
	frame[14] = 0x45;
	frame[16] = 0, frame[17] = 50;
	frame[22] = 64;
	frame[23] = 17;
	memcpy(frame + 30, "\xc6\x13\x00\x01", 4);
	frame[36] = 0, frame[37] = 9;
	frame[38] = 0, frame[39] = 30;
	if (bpf_map_update_elem(bpf_map__fd(vary->maps.target), &zero,
				&prog_fd, BPF_ANY))
		die("cannot set tail-call target: %s", strerror(errno));
	vary->bss->wrap = 0;
	vary->bss->next_flow = base;
	o.data_in = frame;
	o.data_size_in = sizeof(frame);
	while (done < count) {
		el = mono_ns() - t0;
		want = (__u64)(rate * el / 1e9) + 1;
		if (want > count)
			want = count;
		if (want > done) {
			o.repeat = want - done > 4096 ? 4096 : want - done;
			if (bpf_prog_test_run_opts(bpf_program__fd(
							   vary->progs.bench_vary),
						   &o))
				die("test run: %s", strerror(errno));
			done += o.repeat;
		} else {
			usleep(200);
		}
	}
	el = mono_ns() - t0;
	return el ? count / (el / 1e9) : 0;
}

static __u64 flow_num(const struct flowbpf_key *k)
{
	return (__u64)(ntohl(k->saddr[3]) - 0xc6120000) << 16 | ntohs(k->sport);
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

struct outcome {
	double rate;       /* reached by the generator */
	__u64 decided, undecided, lost;
	double p50_us, p99_us;
};

/* Reads and empties both maps; latencies of flows [base, base+count). */
static void collect(__u64 base, __u64 count, struct outcome *out)
{
	void *keys, *vals;
	size_t n, i;
	__u64 *first = calloc(count, sizeof(__u64));
	__u64 *set = calloc(count, sizeof(__u64)), *lat;
	struct flowbpf_key *k;

	if (!first || !set)
		die("out of memory");
	if (flowbpf_map_dump(h.flows_fd, sizeof(struct flowbpf_key),
			     sizeof(struct flowbpf_flow), &keys, &vals, &n))
		die("cannot read flows");
	for (i = 0, k = keys; i < n; i++) {
		__u64 f = flow_num(&k[i]);

		if (f >= base && f - base < count)
			first[f - base] =
				((struct flowbpf_flow *)vals)[i].first_ns;
		bpf_map_delete_elem(h.flows_fd, &k[i]);
	}
	free(keys);
	free(vals);
	if (flowbpf_map_dump(h.verdicts_fd, sizeof(struct flowbpf_key),
			     sizeof(struct flowbpf_verdict_val), &keys, &vals,
			     &n))
		die("cannot read verdicts");
	for (i = 0, k = keys; i < n; i++) {
		struct flowbpf_verdict_val *v =
			(struct flowbpf_verdict_val *)((char *)vals +
						       i * sizeof(*v));
		__u64 f = flow_num(&k[i]);

		if (f >= base && f - base < count &&
		    v->source == FLOWBPF_SRC_DAEMON)
			set[f - base] = v->set_ns;
		bpf_map_delete_elem(h.verdicts_fd, &k[i]);
	}
	free(keys);
	free(vals);
	lat = first; /* reused in place */
	out->decided = out->undecided = 0;
	for (i = 0; i < count; i++) {
		if (first[i] && set[i] >= first[i])
			lat[out->decided++] = set[i] - first[i];
		else
			out->undecided++;
	}
	qsort(lat, out->decided, sizeof(__u64), cmp_u64);
	out->p50_us = out->decided ? lat[out->decided / 2] / 1e3 : 0;
	out->p99_us = out->decided ? lat[out->decided * 99 / 100] / 1e3 : 0;
	free(first);
	free(set);
}

static __u64 lost_events(void)
{
	struct flowbpf_stats s;

	if (flowbpf_stats_read(h.stats_fd, &s))
		die("cannot read stats");
	return s.c[FLOWBPF_STAT_EVENTS_LOST];
}

static void one_run(int prog, double rate, __u64 count, struct outcome *o)
{
	__u64 base = next_base, lost0 = lost_events();

	next_base += count + 1000;
	o->rate = generate(prog, base, count, rate);
	sleep(1); /* grace: the decider catches up */
	o->lost = lost_events() - lost0;
	collect(base, count, o);
}

static pid_t start_decider(const char *cmd, int prog)
{
	struct outcome o;
	pid_t pid;
	int i;

	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	/* Ready when a probe flow gets its verdict. */
	for (i = 0; i < 50; i++) {
		usleep(200000);
		one_run(prog, 1000, 1, &o);
		if (o.decided)
			return pid;
	}
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void stop_decider(pid_t pid)
{
	kill(-pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(50000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void measure(const char *who, const char *cmd, int prog, bool targets)
{
	static const double lat_rates[] = { 1000, 10000, 100000 };
	static const double setup_rates[] = { 25000,  50000,  100000, 150000,
					      200000, 250000, 300000, 400000 };
	char name[160];
	int r;
	size_t i;
	pid_t pid;

	if (targets) {
		snprintf(name, sizeof(name), "%s: p99 latency at 10k new flows/s",
			 who);
		emit_target(SEC_DEC, name, "le", 500,
			    "decision p99 <= 500 us at 10k new flows/s", "");
		snprintf(name, sizeof(name), "%s: highest sustained new flows/s",
			 who);
		emit_target(SEC_DEC, name, "ge", 200000,
			    "flow setup >= 200 000 flows/s with no lost event",
			    "");
	}
	for (r = 1; r <= bench_rounds; r++) {
		double best = 0;

		fprintf(stderr, "bench decide (%s): round %d/%d\n", who, r,
			bench_rounds);
		pid = start_decider(cmd, prog);
		if (pid < 0) {
			emit_note(SEC_DEC, "%s did not answer a probe flow within 10 s: not measured",
				  who);
			return;
		}
		for (i = 0; i < 3; i++) {
			struct outcome o;
			const char *tag = i == 0 ? "1k" : i == 1 ? "10k" : "100k";

			one_run(prog, lat_rates[i], lat_rates[i] * RUN_NS / 1e9,
				&o);
			snprintf(name, sizeof(name),
				 "%s: p50 latency at %s new flows/s", who, tag);
			emit_row(SEC_DEC, name, r, o.p50_us, "us");
			snprintf(name, sizeof(name),
				 "%s: p99 latency at %s new flows/s", who, tag);
			emit_row(SEC_DEC, name, r, o.p99_us, "us");
			snprintf(name, sizeof(name),
				 "%s: undecided or lost at %s new flows/s", who,
				 tag);
			emit_row(SEC_DEC, name, r, o.undecided + o.lost,
				 "flows");
		}
		for (i = 0; i < sizeof(setup_rates) / sizeof(setup_rates[0]);
		     i++) {
			struct outcome o;

			one_run(prog, setup_rates[i],
				setup_rates[i] * RUN_NS / 1e9, &o);
			if (o.rate < 0.95 * setup_rates[i] || o.lost ||
			    o.undecided) {
				emit_note(SEC_DEC,
					  "%s, round %d: %.0f flows/s not sustained: generator reached %.0f/s, %llu events lost, %llu of %.0f flows undecided after 1 s (p99 of the decided: %.0f us)",
					  who, r, setup_rates[i], o.rate,
					  (unsigned long long)o.lost,
					  (unsigned long long)o.undecided,
					  setup_rates[i] * RUN_NS / 1e9,
					  o.p99_us);
				break;
			}
			best = setup_rates[i];
		}
		snprintf(name, sizeof(name), "%s: highest sustained new flows/s",
			 who);
		emit_row(SEC_DEC, name, r, best, "flows/s");
		stop_decider(pid);
	}
}

int cmd_decide(int argc, char **argv)
{
	char cmd[1024], path[256], policy[128];
	bool have_daemon, have_limit;
	int c, prog, cpu = -1;

	while ((c = getopt(argc, argv, "c:b:")) != -1) {
		if (c == 'c')
			cpu = atoi(optarg);
		else if (c == 'b')
			flowbpf_bin = optarg;
		else
			return 2;
	}
	if (cpu >= 0)
		pin_to_cpu(cpu);
	have_daemon = !sh("%s daemon --help >/dev/null 2>&1", flowbpf_bin);
	have_limit = !sh("%s attach --help 2>/dev/null | grep -q -- --max-queued",
			 flowbpf_bin);

	snprintf(iface, sizeof(iface), "fbbd%da", getpid() % 100000);
	snprintf(peer, sizeof(peer), "fbbd%db", getpid() % 100000);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/fbbench-decide.%d", getpid());
	atexit(teardown);
	signal(SIGINT, on_exit_signal);
	signal(SIGTERM, on_exit_signal);
	if (sh("mkdir -p %s && ip link add %s type veth peer name %s && ip link set %s up && ip link set %s up",
	       tmpdir, iface, peer, iface, peer))
		die("cannot create %s", iface);
	if (sh("%s attach %s --mode enforce --pending pass --default pass --timeout 2s --flows %u --ringbuf %u %s >/dev/null",
	       flowbpf_bin, iface, MAP_FLOWS, 1U << 26,
	       have_limit ? "--max-queued 0" : ""))
		die("cannot attach flowbpf to %s", iface);
	if (flowbpf_open(iface, &h))
		die("cannot open the pinned maps of %s", iface);
	snprintf(path, sizeof(path), "%s/%s/%s", FLOWBPF_PIN_ROOT, iface,
		 FLOWBPF_PIN_PROG_XDP);
	prog = bpf_obj_get(path);
	if (prog < 0)
		die("cannot open %s: %s", path, strerror(errno));
	vary = bench_vary__open_and_load();
	if (!vary)
		die("cannot load vary: %s", strerror(errno));

	emit_note(SEC_DEC,
		  "new flows made by BPF_PROG_TEST_RUN of the attached (pinned) XDP program, paced in 1 ms slices; latency = verdict set_ns (stamped by the decider) - flow first_ns; 2 s per rate; setup rates tried: 25k, 50k, 100k, 150k, 200k, 250k, 300k, 400k flows/s%s",
		  have_limit ? "; attached with --max-queued 0 (no flood limit)" :
			       "");
	if (have_daemon) {
		snprintf(policy, sizeof(policy), "%s/policy", tmpdir);
		if (sh("printf 'default allow;\\n' > %s", policy))
			die("cannot write %s", policy);
		snprintf(cmd, sizeof(cmd),
			 "exec %s --socket %s/ctl.sock daemon -c %s %s >%s/daemon.log 2>&1",
			 flowbpf_bin, tmpdir, policy, iface, tmpdir);
		measure("flowbpf daemon", cmd, prog, true);
	} else {
		emit_target(SEC_DEC, "flowbpf daemon: p99 latency at 10k new flows/s",
			    "le", 500, "decision p99 <= 500 us at 10k new flows/s", "");
		emit_target(SEC_DEC, "flowbpf daemon: highest sustained new flows/s",
			    "ge", 200000,
			    "flow setup >= 200 000 flows/s with no lost event", "");
		emit_note(SEC_DEC, "the flowbpf daemon is not in this tree: its rows are not measured");
	}
	snprintf(cmd, sizeof(cmd), "exec /proc/%d/exe nulld %s", getpid(),
		 iface);
	measure("bench nulld (reference)", cmd, prog, false);
	close(prog);
	bench_vary__destroy(vary);
	return 0;
}

/* nulld IFACE: answers every first-packet event of IFACE with pass. */
static int nulld_event(void *ctx, void *data, size_t size)
{
	const struct flowbpf_event *e = data;
	struct flowbpf_verdict_val v = {
		.verdict = FLOWBPF_VERDICT_PASS,
		.source = FLOWBPF_SRC_DAEMON,
	};
	const struct flowbpf_key *k;

	/* The event ABI gains a typed header with held packets; read both
	 * layouts until every tree has the new one. */
#ifdef FLOWBPF_HOLD_MAX
	if (size < sizeof(e->hdr) || e->hdr.type != FLOWBPF_EV_NEW_FLOW)
		return 0;
	k = &e->hdr.key;
#else
	if (size < sizeof(e->key))
		return 0;
	k = &e->key;
#endif
	v.set_ns = mono_ns();
	bpf_map_update_elem(*(int *)ctx, k, &v, BPF_ANY);
	return 0;
}

int cmd_nulld(int argc, char **argv)
{
	struct flowbpf_handle nh;
	struct ring_buffer *rb;

	if (argc != 2)
		die("usage: nulld IFACE");
	if (flowbpf_open(argv[1], &nh))
		die("cannot open %s's pins", argv[1]);
	rb = ring_buffer__new(nh.events_fd, nulld_event, &nh.verdicts_fd, NULL);
	if (!rb)
		die("ring_buffer__new: %s", strerror(errno));
	for (;;)
		if (ring_buffer__poll(rb, 1000) < 0 && errno != EINTR)
			break;
	return 0;
}
