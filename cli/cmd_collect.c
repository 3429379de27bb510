// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * flowbpf collect: sweeps an interface's flow map every interval and
 * writes accounting records as JSON lines and/or IPFIX until SIGTERM or
 * SIGINT, then flushes every live flow as a final record.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <bpf/bpf.h>
#include "cli.h"
#include "collect.h"
#include "flowfmt.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"

static int parse_duration_opt(const char *name, const char *arg, __u64 *ns,
			      bool zero_ok)
{
	if (duration_parse(arg, ns) || (!zero_ok && !*ns))
		return cli_usage_error(
			"%s must be a duration such as 500ms or 15s, not '%s'",
			name, arg);
	return 0;
}

/* The last sweep, and what became of everything. */
static int final_sweep(struct collector *c, const char *ifname)
{
	struct collect_status st;
	int err = collector_sweep(c, true, NULL);

	collector_status(c, &st);
	pr_info("%s: stopped; %llu records in all, %llu flows evicted, %llu write errors, %llu records lost\n",
		ifname, (unsigned long long)collector_acct(c)->records,
		(unsigned long long)collector_acct(c)->flows_evicted,
		(unsigned long long)st.write_errors,
		(unsigned long long)st.records_lost);
	if (!err)
		return EXIT_OK;
	return cli_error(
		EXIT_FAIL,
		"%s: the last records could not be written (%s); the flows not reported stay in the flow map",
		ifname, strerror(-err));
}

/* What --metrics shows of a collector (docs/metrics.md). */
struct collect_metrics {
	struct collector *c;
	const char *ifname;
	__u32 flows_max;
	__u64 sweep_ns; /* the last sweep took this long */
	time_t started;
};

static void one(struct metrics_buf *b, const char *name, const char *type,
		const char *help, const char *ifname, __u64 v)
{
	metrics_family(b, name, type, help);
	metrics_u64(b, name, v, "iface", ifname, NULL, NULL);
}

static void one_f(struct metrics_buf *b, const char *name, const char *help,
		  const char *ifname, double v)
{
	metrics_family(b, name, "gauge", help);
	metrics_f64(b, name, v, "iface", ifname, NULL, NULL);
}

static int collect_metrics(void *ctx, struct metrics_buf *b)
{
	const struct collect_metrics *m = ctx;
	const struct flowbpf_acct *a = collector_acct(m->c);
	const char *i = m->ifname;
	struct collect_status st;

	collector_status(m->c, &st);
	one(b, "flowbpf_records_total", "counter",
	    "Accounting records written (every sink took them).", i,
	    a->records);
	one(b, "flowbpf_record_packets_total", "counter",
	    "Packets in the records written.", i, a->packets);
	one(b, "flowbpf_record_bytes_total", "counter",
	    "Bytes in the records written.", i, a->bytes);
	one(b, "flowbpf_record_write_errors_total", "counter",
	    "Writes of records or of the state file that failed (each retry counts).",
	    i, st.write_errors);
	one(b, "flowbpf_records_pending", "gauge",
	    "Records waiting to be written after a failed write.", i,
	    st.records_pending);
	one(b, "flowbpf_records_lost_total", "counter",
	    "Records dropped: more waited to be written than the queue holds.",
	    i, st.records_lost);
	one(b, "flowbpf_sweeps_total", "counter",
	    "Sweeps of the flow map on this attach.", i, a->sweeps);
	one_f(b, "flowbpf_sweep_duration_seconds",
	      "How long the last sweep took.", i, m->sweep_ns / 1e9);
	one_f(b, "flowbpf_last_sweep_timestamp_seconds",
	      "When the last sweep ended, seconds since the epoch.", i,
	      a->sweeps ? mono_to_wall_ns(a->last_sweep_ns) / 1e9 : 0);
	one(b, "flowbpf_flows", "gauge",
	    "Entries in the flow map at the last sweep.", i, a->flows_live);
	one(b, "flowbpf_flows_max", "gauge",
	    "Entries the flow map holds at most (LRU: then it evicts).", i,
	    m->flows_max);
	one(b, "flowbpf_flows_accounted_total", "counter",
	    "Flow entries the collector removed and reported.", i,
	    a->flows_accounted);
	one(b, "flowbpf_flows_evicted_total", "counter",
	    "Flow entries the LRU map evicted before the collector removed them.",
	    i, a->flows_evicted);
	one(b, "flowbpf_flows_evicted_seen_total", "counter",
	    "Of those, flows reported from their last values seen.", i,
	    a->evicted_seen);
	metrics_family(b, "flowbpf_collector_start_time_seconds", "gauge",
		       "When the collector started, seconds since the epoch.");
	metrics_u64(b, "flowbpf_collector_start_time_seconds", m->started,
		    "iface", i, NULL, NULL);
	return 0;
}

/* Entries the pinned flow map holds at most; 0 if it cannot be read. */
static __u32 flows_max(const char *ifname)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = flowbpf_pin_get(ifname, FB_MAP_FLOWS);

	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.max_entries = 0;
	close(fd);
	return info.max_entries;
}

/*
 * Waits wait_ns for a signal of sigs, serving metrics meanwhile when ms
 * is not NULL (sfd: a signalfd of sigs, epfd: both in one set).  The
 * signal, or 0 when the time was up.
 */
static int wait_signal(const sigset_t *sigs, __u64 wait_ns,
		       struct metrics_server *ms, int sfd, int epfd)
{
	struct signalfd_siginfo si;
	struct epoll_event ev[4];
	struct timespec ts;
	__u64 end = mono_now_ns() + wait_ns, now;
	int sig;

	if (!ms) {
		ts.tv_sec = wait_ns / 1000000000;
		ts.tv_nsec = wait_ns % 1000000000;
		sig = sigtimedwait(sigs, NULL, &ts);
		return sig < 0 ? 0 : sig;
	}
	for (;;) {
		if (read(sfd, &si, sizeof(si)) == sizeof(si))
			return si.ssi_signo;
		metrics_serve(ms);
		now = mono_now_ns();
		if (now >= end)
			return 0;
		/* At most a second: metrics_serve() also times clients out. */
		epoll_wait(epfd, ev, 4,
			   (end - now) / 1000000 + 1 > 1000
				   ? 1000
				   : (int)((end - now) / 1000000 + 1));
	}
}

int cmd_collect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "idle", required_argument, NULL, 'I' },
		{ "active", required_argument, NULL, 'A' },
		{ "tcp-end", required_argument, NULL, 'E' },
		{ "output", required_argument, NULL, 'o' },
		{ "rotate-size", required_argument, NULL, 'R' },
		{ "rotate-time", required_argument, NULL, 'T' },
		{ "no-compress", no_argument, NULL, 'Z' },
		{ "ipfix", required_argument, NULL, 'x' },
		{ "mtu", required_argument, NULL, 'M' },
		{ "template-refresh", required_argument, NULL, 'F' },
		{ "domain", required_argument, NULL, 'D' },
		{ "no-batch", no_argument, NULL, 'B' },
		{ "metrics", required_argument, NULL, 'P' },
		{},
	};
	struct jsonl_opts jo = { .gzip = true };
	struct ipfix_sink_opts xo = { .mtu = 1500,
				      .template_refresh_ns = 60000000000ULL };
	__u64 interval = COLLECT_DEFAULT_INTERVAL_NS, v;
	struct collect_opts co;
	struct collector *c = NULL;
	struct sweep_result res;
	struct acct_sink *s;
	struct collect_metrics cm = { .started = time(NULL) };
	struct epoll_event ev = { .events = EPOLLIN };
	struct metrics_server *ms = NULL;
	struct metrics_addr ma;
	bool domain_set = false, metrics = false;
	char pin_dir[128];
	sigset_t sigs;
	int opt, sig, sfd = -1, epfd = -1, ret = EXIT_FAIL;

	collect_opts_init(&co);
	while ((opt = cli_getopt(argc, argv, opts, "i:o:")) != -1) {
		switch (opt) {
		case 'h':
			return cli_help();
		case 'i':
			if (parse_duration_opt("--interval", optarg, &interval,
					       false))
				return EXIT_USAGE;
			break;
		case 'I':
			if (parse_duration_opt("--idle", optarg, &co.idle_ns,
					       false))
				return EXIT_USAGE;
			break;
		case 'A':
			if (parse_duration_opt("--active", optarg,
					       &co.active_ns, false))
				return EXIT_USAGE;
			break;
		case 'E':
			if (parse_duration_opt("--tcp-end", optarg, &co.end_ns,
					       true))
				return EXIT_USAGE;
			break;
		case 'o':
			jo.path = optarg;
			break;
		case 'R':
			if (size_parse(optarg, &jo.rotate_bytes) ||
			    !jo.rotate_bytes)
				return cli_usage_error(
					"--rotate-size must be a size such as 100M, not '%s'",
					optarg);
			break;
		case 'T':
			if (parse_duration_opt("--rotate-time", optarg,
					       &jo.rotate_ns, false))
				return EXIT_USAGE;
			break;
		case 'Z':
			jo.gzip = false;
			break;
		case 'x':
			xo.collector = optarg;
			break;
		case 'M':
			if (count_parse(optarg, &v) || v < 576 || v > 65535)
				return cli_usage_error(
					"--mtu must be between 576 and 65535, not '%s'",
					optarg);
			xo.mtu = v;
			break;
		case 'F':
			if (parse_duration_opt("--template-refresh", optarg,
					       &xo.template_refresh_ns, false))
				return EXIT_USAGE;
			break;
		case 'D':
			if (count_parse(optarg, &v) || v > 0xffffffffULL)
				return cli_usage_error(
					"--domain must be a 32-bit number, not '%s'",
					optarg);
			xo.domain = v;
			domain_set = true;
			break;
		case 'B':
			co.no_batch = true;
			break;
		case 'P':
			if (metrics_addr_parse(optarg, &ma))
				return cli_usage_error("%s", err_get());
			metrics = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(optind >= argc
					       ? "collect needs an interface"
					       : "collect takes one interface");
	if ((jo.rotate_bytes || jo.rotate_ns) &&
	    (!jo.path || !strcmp(jo.path, "-")))
		return cli_usage_error("rotation needs --output FILE");
	if (!jo.path && !xo.collector)
		jo.path = "-";

	/* Signals are taken synchronously: a sweep is never cut short. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	c = collector_open(argv[optind], &co);
	if (!c)
		return cli_error(EXIT_FAIL, "%s", err_get());
	if (jo.path) {
		s = jsonl_sink_new(&jo);
		if (!s) {
			ret = cli_error(EXIT_FAIL, "%s", err_get());
			goto out;
		}
		collector_add_sink(c, s);
	}
	if (xo.collector) {
		if (!domain_set)
			xo.domain = if_nametoindex(argv[optind]);
		s = ipfix_sink_new(&xo);
		if (!s) {
			ret = cli_error(EXIT_FAIL, "%s", err_get());
			goto out;
		}
		collector_add_sink(c, s);
	}
	flowbpf_pin_path(pin_dir, sizeof(pin_dir), argv[optind], -1);
	if (metrics) {
		cm.c = c;
		cm.ifname = argv[optind];
		cm.flows_max = flows_max(argv[optind]);
		ms = metrics_open(&ma, collect_metrics, &cm);
		sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
		epfd = epoll_create1(EPOLL_CLOEXEC);
		if (!ms || sfd < 0 || epfd < 0 ||
		    epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev) ||
		    epoll_ctl(epfd, EPOLL_CTL_ADD, metrics_fd(ms), &ev)) {
			ret = cli_error(EXIT_FAIL, "%s",
					ms ? strerror(errno) : err_get());
			goto out;
		}
	}
	pr_info("%s: collecting every %.3gs (idle %.3gs, active %.3gs, tcp-end %.3gs)\n",
		argv[optind], interval / 1e9, co.idle_ns / 1e9,
		co.active_ns / 1e9, co.end_ns / 1e9);

	for (;;) {
		__u64 wait;

		collector_sweep(c, false, &res);
		cm.sweep_ns = res.total_ns;
		pr_debug(
			"%s: sweep of %llu flows: %.3f ms (scan %.3f ms), %llu records, %llu removed, %llu evicted\n",
			argv[optind], (unsigned long long)res.scanned,
			res.total_ns / 1e6, res.scan_ns / 1e6,
			(unsigned long long)res.records,
			(unsigned long long)res.removed,
			(unsigned long long)res.evicted);
		wait = res.total_ns < interval ? interval - res.total_ns : 0;
		sig = wait_signal(&sigs, wait, ms, sfd, epfd);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		/* Detached: the maps live on through our fds, nothing new
		 * comes; report what they hold and stop. */
		if (access(pin_dir, F_OK)) {
			pr_warn("%s: detached; reporting the last flows and stopping\n",
				argv[optind]);
			break;
		}
	}
	ret = final_sweep(c, argv[optind]);
out:
	metrics_close(ms);
	if (sfd >= 0)
		close(sfd);
	if (epfd >= 0)
		close(epfd);
	collector_free(c);
	return ret;
}

json_t *accounting_json(const char *ifname, int flows_fd, int stats_fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct collect_status st;
	struct flowbpf_acct a;
	bool running = false;
	json_t *o;

	if (acct_evicted(ifname, flows_fd, stats_fd, &a, &running))
		return NULL;
	/* Only a state of this attach counts; none: nothing went wrong. */
	if (bpf_obj_get_info_by_fd(flows_fd, &info, &len) ||
	    collect_status_read(ifname, info.id, &st))
		memset(&st, 0, sizeof(st));
	o = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		      "collector_running", running, "collector_pid",
		      (json_int_t)a.collector_pid, "sweeps",
		      (json_int_t)a.sweeps, "flows_created",
		      (json_int_t)a.flows_created, "flows_accounted",
		      (json_int_t)a.flows_accounted, "flows_live",
		      (json_int_t)a.flows_live, "flows_evicted",
		      (json_int_t)a.flows_evicted, "evicted_seen",
		      (json_int_t)a.evicted_seen, "records",
		      (json_int_t)a.records, "record_packets",
		      (json_int_t)a.packets, "record_bytes",
		      (json_int_t)a.bytes);
	if (o) {
		json_object_set_new(o, "write_errors",
				    json_integer(st.write_errors));
		json_object_set_new(o, "records_pending",
				    json_integer(st.records_pending));
		json_object_set_new(o, "records_lost",
				    json_integer(st.records_lost));
	}
	if (o && a.sweeps && running)
		json_object_set_new(
			o, "last_sweep_age_ms",
			json_integer((mono_now_ns() - a.last_sweep_ns) /
				     1000000));
	return o;
}

void accounting_print(const json_t *acct)
{
	const char *key;
	json_t *v;

	if (!acct) {
		printf("  accounting: not available (attached by an older flowbpf)\n");
		return;
	}
	if (json_is_true(json_object_get(acct, "collector_running")))
		printf("  accounting (collector pid %lld, as of its last sweep):\n",
		       json_integer_value(
			       json_object_get(acct, "collector_pid")));
	else
		printf("  accounting (no collector running):\n");
	json_object_foreach((json_t *)acct, key, v) {
		if (json_is_integer(v) && strcmp(key, "collector_pid"))
			printf("    %-26s %lld\n", key, json_integer_value(v));
	}
}
