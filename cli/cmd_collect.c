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
#include <bpf/bpf.h>
#include "acct.h"
#include "clock.h"
#include "cli.h"
#include "collect.h"
#include "flowfmt.h"
#include "loader.h"
#include "log.h"
#include "params.h"

/* Everything collect's options set. */
struct collect_args {
	__u64 interval;
	struct collect_opts co;
	struct jsonl_opts jo;
	struct ipfix_sink_opts xo;
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
	{ "ipfix", 0, P_STR, COLLECT_FIELD(xo.collector), .arg = "HOST:PORT",
	  .help = "export IPFIX over UDP to a collector" },
	{ "mtu", 0, P_COUNT, COLLECT_FIELD(xo.mtu), .arg = "BYTES",
	  .help = "path MTU; IPFIX messages stay under it", .min = 576,
	  .max = 65535 },
	{ "template-refresh", 0, P_DURATION,
	  COLLECT_FIELD(xo.template_refresh_ns), .arg = "DURATION",
	  .help = "resend IPFIX templates this often", .min = 1 },
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

int cmd_collect(int argc, char **argv)
{
	struct collect_args a = {
		.interval = COLLECT_DEFAULT_INTERVAL_NS,
		.jo = { .gzip = true },
		.xo = { .mtu = 1500, .template_refresh_ns = 60000000000ULL },
	};
	struct jsonl_opts *jo = &a.jo;
	struct ipfix_sink_opts *xo = &a.xo;
	struct collector *c = NULL;
	struct sweep_result res;
	struct acct_sink *s;
	char pin_dir[128], host[256] = "";
	sigset_t sigs;
	int sig, rc, ret = EXIT_FAIL;
	__u64 seen;

	collect_opts_init(&a.co);
	if (!PARAMS_PARSE(collect_params, &a, argc, argv, &seen, &rc))
		return rc;
	if (optind + 1 != argc)
		return cli_usage_error(optind >= argc
					       ? "collect needs an interface"
					       : "collect takes one interface");
	if ((jo->rotate_bytes || jo->rotate_ns) &&
	    (!jo->path || !strcmp(jo->path, "-")))
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
	if (!jo->path && !xo->collector && !a.uo.policy_file)
		jo->path = "-";

	/* Signals are taken synchronously: a sweep is never cut short. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	c = collector_open(argv[optind], &a.co);
	if (!c)
		return cli_error(EXIT_FAIL, "%s", err_get());
	if (jo->path) {
		s = jsonl_sink_new(jo);
		if (!s) {
			ret = cli_error(EXIT_FAIL, "%s", err_get());
			goto out;
		}
		collector_add_sink(c, s);
	}
	if (xo->collector) {
		if (!params_given(collect_params, seen, "domain"))
			xo->domain = if_nametoindex(argv[optind]);
		s = ipfix_sink_new(xo);
		if (!s) {
			ret = cli_error(EXIT_FAIL, "%s", err_get());
			goto out;
		}
		collector_add_sink(c, s);
	}
	if (a.uo.policy_file) {
		s = units_sink_new(&a.uo);
		if (!s) {
			ret = cli_error(EXIT_FAIL, "%s", err_get());
			goto out;
		}
		collector_add_sink(c, s);
	}
	flowbpf_pin_path(pin_dir, sizeof(pin_dir), argv[optind], -1);
	pr_info("%s: collecting every %.3gs (idle %.3gs, active %.3gs, tcp-end %.3gs)\n",
		argv[optind], a.interval / 1e9, a.co.idle_ns / 1e9,
		a.co.active_ns / 1e9, a.co.end_ns / 1e9);

	for (;;) {
		struct timespec ts;
		__u64 wait;

		collector_sweep(c, false, &res);
		pr_debug(
			"%s: sweep of %llu flows: %.3f ms (scan %.3f ms), %llu records, %llu removed, %llu evicted\n",
			argv[optind], (unsigned long long)res.scanned,
			res.total_ns / 1e6, res.scan_ns / 1e6,
			(unsigned long long)res.records,
			(unsigned long long)res.removed,
			(unsigned long long)res.evicted);
		wait = res.total_ns < a.interval ? a.interval - res.total_ns
						 : 0;
		ts.tv_sec = wait / 1000000000;
		ts.tv_nsec = wait % 1000000000;
		sig = sigtimedwait(&sigs, NULL, &ts);
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
