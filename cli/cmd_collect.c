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
#include "cli.h"
#include "collect.h"
#include "flowfmt.h"
#include "loader.h"
#include "log.h"

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
		{},
	};
	struct jsonl_opts jo = { .gzip = true };
	struct ipfix_sink_opts xo = { .mtu = 1500,
				      .template_refresh_ns = 60000000000ULL };
	/* --ipfix may be given for several collectors. */
	const char *collectors[COLLECT_MAX_IPFIX];
	int ncollectors = 0, i;
	__u64 interval = COLLECT_DEFAULT_INTERVAL_NS, v;
	struct collect_opts co;
	struct collector *c = NULL;
	struct sweep_result res;
	struct acct_sink *s;
	bool domain_set = false;
	char pin_dir[128];
	sigset_t sigs;
	int opt, sig, ret = EXIT_FAIL;

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
			if (ncollectors == COLLECT_MAX_IPFIX)
				return cli_usage_error(
					"at most %d --ipfix collectors",
					COLLECT_MAX_IPFIX);
			collectors[ncollectors++] = optarg;
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
	if (!jo.path && !ncollectors)
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
	if (!domain_set)
		xo.domain = if_nametoindex(argv[optind]);
	for (i = 0; i < ncollectors; i++) {
		xo.collector = collectors[i];
		s = ipfix_sink_new(&xo);
		if (!s) {
			ret = cli_error(EXIT_FAIL, "%s", err_get());
			goto out;
		}
		collector_add_sink(c, s);
	}
	flowbpf_pin_path(pin_dir, sizeof(pin_dir), argv[optind], -1);
	pr_info("%s: collecting every %.3gs (idle %.3gs, active %.3gs, tcp-end %.3gs)\n",
		argv[optind], interval / 1e9, co.idle_ns / 1e9,
		co.active_ns / 1e9, co.end_ns / 1e9);

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
		wait = res.total_ns < interval ? interval - res.total_ns : 0;
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
