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
#include "acct.h"
#include "clock.h"
#include "cli.h"
#include "collect.h"
#include "flowfmt.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "params.h"

/* Everything collect's options set. */
struct collect_args {
	__u64 interval;
	struct collect_opts co;
	struct jsonl_opts jo;
	struct ipfix_sink_opts xo;
	/* --ipfix may be given for several collectors. */
	const char *collectors[COLLECT_MAX_IPFIX];
	const char *metrics; /* ADDR:PORT */
	struct units_sink_opts uo;
};

#define COLLECT_FIELD(m) PARAM_FIELD(struct collect_args, m)

static const struct param collect_params[] = {
	{ "interval", 'i', P_DURATION, COLLECT_FIELD(interval),
	  .arg = "DURATION", .help = "time between sweeps", .min = 1 },
	{ "idle", 0, P_DURATION, COLLECT_FIELD(co.idle_ns), .arg = "DURATION",
	  .help = "a flow without packets this long ends", .min = 1 },
	{ "active", 0, P_DURATION, COLLECT_FIELD(co.active_ns),
	  .arg = "DURATION",
	  .help = "a flow that goes on is reported this often", .min = 1 },
	{ "tcp-end", 0, P_DURATION, COLLECT_FIELD(co.end_ns), .arg = "DURATION",
	  .help = "after a TCP FIN or RST, idle this long ends it" },
	{ "output", 'o', P_STR, COLLECT_FIELD(jo.path), .arg = "FILE|-",
	  .help = "JSON lines to FILE or stdout",
	  .dflt = "stdout without --ipfix" },
	{ "rotate-size", 0, P_SIZE, COLLECT_FIELD(jo.rotate_bytes),
	  .arg = "SIZE", .help = "rotate FILE when it reaches SIZE", .min = 1,
	  .dflt = "" },
	{ "rotate-time", 0, P_DURATION, COLLECT_FIELD(jo.rotate_ns),
	  .arg = "DURATION", .help = "rotate FILE when it is this old",
	  .min = 1, .dflt = "" },
	{ "no-compress", 0, P_FLAG, COLLECT_FIELD(jo.gzip), .flags = P_INVERT,
	  .help = "keep rotated files as they are (default: gzip)" },
	{ "ipfix", 0, P_LIST, COLLECT_FIELD(collectors),
	  .arg = "[udp://|tcp://]HOST:PORT",
	  .help = "export IPFIX to a collector, over UDP (the default) or TCP; repeat for up to 3 collectors" },
	{ "mtu", 0, P_COUNT, COLLECT_FIELD(xo.mtu), .arg = "BYTES",
	  .help = "path MTU; IPFIX messages over UDP stay under it", .min = 576,
	  .max = 65535 },
	{ "template-refresh", 0, P_DURATION,
	  COLLECT_FIELD(xo.template_refresh_ns), .arg = "DURATION",
	  .help = "resend IPFIX templates (UDP) and the exporter's statistics this often",
	  .min = 1 },
	{ "domain", 0, P_COUNT, COLLECT_FIELD(xo.domain), .arg = "N",
	  .help = "IPFIX observation domain id", .dflt = "the ifindex" },
	{ "units", 0, P_STR, COLLECT_FIELD(uo.policy_file), .arg = "POLICY",
	  .help = "total the accounted units of POLICY (docs/units.md)" },
	{ "db", 0, P_STR, COLLECT_FIELD(uo.dsn), .arg = "DSN",
	  .help = "SQLite file or PostgreSQL connection string for --units" },
	{ "gateway", 0, P_STR, COLLECT_FIELD(uo.gateway), .arg = "NAME",
	  .help = "this gateway's name in the totals",
	  .dflt = "the host name" },
	{ "no-batch", 0, P_FLAG, COLLECT_FIELD(co.no_batch),
	  .help = "read the map entry by entry (no batch operations)" },
	{ "metrics", 0, P_STR, COLLECT_FIELD(metrics), .arg = "ADDR:PORT",
	  .help = "serve Prometheus metrics on http://ADDR:PORT/metrics (records, write errors, map fill, evictions; docs/metrics.md)" },
	{},
};

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

/* The sinks the options ask for, added to c; 0 or an exit code. */
static int collect_sinks(struct collector *c, struct collect_args *a,
			 const char *ifname, __u64 seen)
{
	struct acct_sink *s;
	int i;

	if (a->jo.path) {
		s = jsonl_sink_new(&a->jo);
		if (!s)
			return cli_error(EXIT_FAIL, "%s", err_get());
		collector_add_sink(c, s);
	}
	if (!params_given(collect_params, seen, "domain"))
		a->xo.domain = if_nametoindex(ifname);
	for (i = 0; i < COLLECT_MAX_IPFIX && a->collectors[i]; i++) {
		a->xo.collector = a->collectors[i];
		s = ipfix_sink_new(&a->xo);
		if (!s)
			return cli_error(EXIT_FAIL, "%s", err_get());
		collector_add_sink(c, s);
	}
	if (a->uo.policy_file) {
		s = units_sink_new(&a->uo);
		if (!s)
			return cli_error(EXIT_FAIL, "%s", err_get());
		collector_add_sink(c, s);
	}
	return 0;
}

/* The collector's wait: signals, and the metrics server if asked for. */
struct collect_wait {
	sigset_t sigs;
	struct metrics_addr ma; /* --metrics, parsed */
	struct collect_metrics cm;
	struct metrics_server *ms;
	int sfd, epfd;
};

static int wait_open(struct collect_wait *w, struct collector *c,
		     const char *ifname, const char *metrics)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (!metrics)
		return 0;
	w->cm = (struct collect_metrics){ .c = c,
					  .ifname = ifname,
					  .flows_max = flows_max(ifname),
					  .started = time(NULL) };
	w->ms = metrics_open(&w->ma, collect_metrics, &w->cm);
	w->sfd = signalfd(-1, &w->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!w->ms || w->sfd < 0 || w->epfd < 0 ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->sfd, &ev) ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, metrics_fd(w->ms), &ev))
		return cli_error(EXIT_FAIL, "%s",
				 w->ms ? strerror(errno) : err_get());
	return 0;
}

static void wait_close(struct collect_wait *w)
{
	metrics_close(w->ms);
	if (w->sfd >= 0)
		close(w->sfd);
	if (w->epfd >= 0)
		close(w->epfd);
}

/* Sweeps every interval until a signal to stop or a detach. */
static void collect_loop(struct collector *c, const char *ifname,
			 __u64 interval, struct collect_wait *w)
{
	int sig, err, last_err = 0;
	struct sweep_result res;
	char pin_dir[128];
	__u64 wait;

	flowbpf_pin_path(pin_dir, sizeof(pin_dir), ifname, -1);
	for (;;) {
		err = collector_sweep(c, false, &res);
		/* Said when it starts and when it ends, not every sweep: the
		 * counters (stats, metrics) tell how often. */
		if (err != last_err)
			pr_warn(err ? "%s: sweep failed: %s; the flows stay in the map for the next\n"
				    : "%s: sweeps work again%s\n",
				ifname, err ? strerror(-err) : "");
		last_err = err;
		w->cm.sweep_ns = res.total_ns;
		pr_debug(
			"%s: sweep of %llu flows: %.3f ms (scan %.3f ms), %llu records, %llu removed, %llu evicted\n",
			ifname, (unsigned long long)res.scanned,
			res.total_ns / 1e6, res.scan_ns / 1e6,
			(unsigned long long)res.records,
			(unsigned long long)res.removed,
			(unsigned long long)res.evicted);
		wait = res.total_ns < interval ? interval - res.total_ns : 0;
		sig = wait_signal(&w->sigs, wait, w->ms, w->sfd, w->epfd);
		if (sig == SIGTERM || sig == SIGINT)
			return;
		/* Detached: the maps live on through our fds, nothing new
		 * comes; report what they hold and stop. */
		if (access(pin_dir, F_OK)) {
			pr_warn("%s: detached; reporting the last flows and stopping\n",
				ifname);
			return;
		}
	}
}

int cmd_collect(int argc, char **argv)
{
	struct collect_args a = {
		.interval = COLLECT_DEFAULT_INTERVAL_NS,
		.jo = { .gzip = true },
		.xo = { .mtu = 1500, .template_refresh_ns = 60000000000ULL },
	};
	struct collect_wait w = { .sfd = -1, .epfd = -1 };
	struct collector *c = NULL;
	char host[256] = "";
	int rc, ret = EXIT_FAIL;
	const char *ifname;
	__u64 seen;

	collect_opts_init(&a.co);
	if (!PARAMS_PARSE(collect_params, &a, argc, argv, &seen, &rc))
		return rc;
	if (optind + 1 != argc)
		return cli_usage_error(optind >= argc
					       ? "collect needs an interface"
					       : "collect takes one interface");
	ifname = argv[optind];
	if ((a.jo.rotate_bytes || a.jo.rotate_ns) &&
	    (!a.jo.path || !strcmp(a.jo.path, "-")))
		return cli_usage_error("rotation needs --output FILE");
	if ((a.uo.dsn || a.uo.gateway) && !a.uo.policy_file)
		return cli_usage_error(
			"--db and --gateway need --units POLICY");
	if (!a.uo.gateway) {
		gethostname(host, sizeof(host) - 1);
		a.uo.gateway = host;
	}
	if (!a.uo.dsn)
		a.uo.dsn = ACCT_DB_DEFAULT;
	if (!a.jo.path && !a.collectors[0] && !a.uo.policy_file)
		a.jo.path = "-";
	if (a.metrics && metrics_addr_parse(a.metrics, &w.ma))
		return cli_usage_error("%s", err_get());

	/* Signals are taken synchronously: a sweep is never cut short. */
	sigemptyset(&w.sigs);
	sigaddset(&w.sigs, SIGTERM);
	sigaddset(&w.sigs, SIGINT);
	sigaddset(&w.sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &w.sigs, NULL);

	c = collector_open(ifname, &a.co);
	if (!c)
		return cli_error(EXIT_FAIL, "%s", err_get());
	ret = collect_sinks(c, &a, ifname, seen);
	if (!ret)
		ret = wait_open(&w, c, ifname, a.metrics);
	if (ret)
		goto out;
	pr_info("%s: collecting every %.3gs (idle %.3gs, active %.3gs, tcp-end %.3gs)\n",
		ifname, a.interval / 1e9, a.co.idle_ns / 1e9,
		a.co.active_ns / 1e9, a.co.end_ns / 1e9);
	collect_loop(c, ifname, a.interval, &w);
	ret = final_sweep(c, ifname);
out:
	wait_close(&w);
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
