// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * flowbpf: per-flow accounting and filtering with XDP and tc.
 * A command table dispatched by (unique prefix of) name, as in bpftool.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "daemon.h"
#include "log.h"

#define FLOWBPF_VERSION "0.1.0"

struct cli_env env = { .socket = FLOWBPF_DEFAULT_SOCKET };

static const struct cmd cmds[] = {
	{ "attach", cmd_attach, "IFACE [OPTIONS]",
	  "load and attach the datapath to an interface",
	  "  -m, --mode monitor|enforce   monitor accounts only and never drops (default monitor)\n"
	  "      --ingress xdp|tc         hook that sees ingress: XDP, or tc clsact ingress (default xdp;\n"
	  "                               tc on devices without Ethernet header: tun, wireguard, ipip, gre, sit, ppp)\n"
	  "      --decap outer|inner      a VXLAN, GENEVE, GRE, IPIP, SIT or IPv6-tunnelled packet counts as\n"
	  "                               the tunnel's flow or as the flow it carries (default outer)\n"
	  "  -f, --flows N                flow map size (default 262144; k/M suffixes)\n"
	  "      --pending pass|drop|hold what packets of a flow awaiting a verdict get: hold hands\n"
	  "                               them to the daemon until it decides (default: hold in\n"
	  "                               enforce mode, pass in monitor mode)\n"
	  "      --hold-packets N         held packets per flow at most (default 64)\n"
	  "      --hold-bytes BYTES       held bytes per flow at most (default 256K)\n"
	  "      --default pass|drop      verdict set when no decision comes in time (default pass)\n"
	  "      --malformed pass|drop    IP frames the parser cannot read (too deep a VLAN stack or\n"
	  "                               IPv6 header chain, truncated headers); non-IP frames always\n"
	  "                               pass (default: drop in enforce mode, pass in monitor mode)\n"
	  "  -t, --timeout DURATION       decision timeout, e.g. 2s, 500ms (default 2s)\n"
	  "      --xdp-mode native|generic  XDP attach mode (default native)\n"
	  "      --ringbuf BYTES          event ring buffer size, a power of two, K/M suffixes (default 1M)\n"
	  "      --max-queued N           new flows awaiting a verdict per timeout window; beyond it\n"
	  "                               a new flow gets the default verdict at once (default 65536, 0 = no limit)\n" },
	{ "detach", cmd_detach, "IFACE",
	  "remove programs, tc filter and pins from an interface", "" },
	{ "status", cmd_status, "[IFACE]",
	  "attached interfaces, mode, program ids, map fill", "" },
	{ "flows", cmd_flows, "IFACE [OPTIONS]", "the live flow table",
	  "  -s, --sort bytes|packets|last  order (default bytes)\n"
	  "  -n, --limit N                  show at most N flows (default all)\n" },
	{ "stats", cmd_stats, "[IFACE]", "datapath counters, summed over CPUs",
	  "" },
	{ "verdict", cmd_verdict, "set|clear IFACE FLOW [pass|drop]",
	  "set or clear the verdict of one flow by hand",
	  "  FLOW is written as the \"flow\" key of 'flowbpf flows -j':\n"
	  "    in|out PROTO SRC[:PORT] DST[:PORT] [type T code C] [vlan V] [ivlan V]\n"
	  "  IPv6 with ports: [2001:db8::1]:443.  'sport N'/'dport N' also work.\n"
	  "  Examples:\n"
	  "    flowbpf verdict set eth0 in tcp 198.18.0.2:40000 198.18.0.1:22 drop\n"
	  "    flowbpf verdict set eth0 in icmp 198.18.0.2 198.18.0.1 type 8 code 0 pass\n"
	  "    flowbpf verdict clear eth0 in udp 198.18.0.2:5353 198.18.0.1:53\n" },
	{ "daemon", cmd_daemon, "-c FILE [IFACE...]",
	  "decide new flows by a policy (every attached interface unless named)",
	  "  -c, --config FILE    the policy (see docs/policy.md)\n"
	  "      --pidfile FILE   write the daemon's pid there\n"
	  "      --socket PATH    control socket (default " FLOWBPF_DEFAULT_SOCKET
	  ")\n"
	  "  Signals: SIGHUP reloads the policy; SIGTERM/SIGINT stop.\n" },
	{ "collect", cmd_collect, "IFACE [OPTIONS]",
	  "sweep the flow map into accounting records: JSON lines, IPFIX",
	  "  -i, --interval DURATION   time between sweeps (default 1s)\n"
	  "      --idle DURATION       a flow without packets this long ends (default 15s)\n"
	  "      --active DURATION     a flow that goes on is reported this often (default 60s)\n"
	  "      --tcp-end DURATION    after a TCP FIN or RST, idle this long ends it (default 5s)\n"
	  "  -o, --output FILE|-       JSON lines to FILE or stdout (the default without --ipfix)\n"
	  "      --rotate-size SIZE    rotate FILE when it reaches SIZE (K/M/G)\n"
	  "      --rotate-time DURATION  rotate FILE when it is this old\n"
	  "      --no-compress         keep rotated files as they are (default: gzip)\n"
	  "      --ipfix [udp://|tcp://]HOST:PORT  export IPFIX to a collector, over UDP\n"
	  "                            (the default) or TCP; repeat for up to 3 collectors\n"
	  "      --mtu BYTES           path MTU; IPFIX messages over UDP stay under it (default 1500)\n"
	  "      --template-refresh DURATION  resend IPFIX templates (UDP) and the exporter's\n"
	  "                            statistics this often (default 60s)\n"
	  "      --domain N            IPFIX observation domain id (default: the ifindex)\n"
	  "      --no-batch            read the map entry by entry (no batch operations)\n"
	  "  Runs until SIGTERM or SIGINT, then reports every live flow as 'shutdown'.\n"
	  "  See docs/accounting.md.\n" },
	{ "reload", cmd_reload, "", "make the running daemon reload its policy",
	  "      --socket PATH    control socket (default " FLOWBPF_DEFAULT_SOCKET
	  ")\n" },
	{ "policy", cmd_policy, "check FILE | test FILE FLOW",
	  "validate a policy, or show which rule a flow matches (no kernel needed)",
	  "      --iface NAME     interface the flow is on (for 'iface' matches)\n"
	  "      --time WHEN      evaluate at HH:MM or 'DAY HH:MM' instead of now\n"
	  "  FLOW is written as for 'flowbpf verdict'.\n" },
};

static const struct cmd *cur_cmd;

static void usage_all(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: flowbpf [-j|-p] [-v] COMMAND [ARGS]\n"
		   "       flowbpf COMMAND --help\n\n"
		   "Commands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f,
		"\nCommon options:\n"
		"  -j, --json     JSON output\n"
		"  -p, --pretty   indented JSON output (implies -j)\n"
		"  -v, --verbose  debug messages, libbpf output and verifier logs\n"
		"  -h, --help     help\n"
		"  -V, --version  version\n"
		"      --socket PATH  the daemon's control socket (default " FLOWBPF_DEFAULT_SOCKET ")\n\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int cli_help(void)
{
	printf("Usage: flowbpf %s %s\n%s.\n", cur_cmd->name, cur_cmd->args,
	       cur_cmd->summary);
	if (cur_cmd->help[0])
		printf("\nOptions:\n%s", cur_cmd->help);
	printf("\nCommon options: -j/--json, -p/--pretty, -v/--verbose, -h/--help\n");
	return EXIT_OK;
}

int cli_usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cur_cmd)
		return cli_error(EXIT_USAGE, "%s (see 'flowbpf %s --help')",
				 msg, cur_cmd->name);
	return cli_error(EXIT_USAGE, "%s (see 'flowbpf --help')", msg);
}

static const struct option common_opts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "pretty", no_argument, NULL, 'p' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "socket", required_argument, NULL, 'S' },
};

#define COMMON_SHORT "jpvh"

int cli_getopt(int argc, char **argv, const struct option *longopts,
	       const char *shortopts)
{
	static struct option all[32];
	static char shorts[64];
	size_t n = 0, i;
	int c;

	for (i = 0; longopts && longopts[i].name && n < 27; i++)
		all[n++] = longopts[i];
	for (i = 0; i < sizeof(common_opts) / sizeof(common_opts[0]); i++)
		all[n++] = common_opts[i];
	memset(&all[n], 0, sizeof(all[n]));
	if (!shortopts)
		shortopts = "";
	/* A leading '+' (stop at the first word) must stay first. */
	snprintf(shorts, sizeof(shorts), "%s:%s%s",
		 shortopts[0] == '+' ? "+" : "",
		 shortopts + (shortopts[0] == '+'), COMMON_SHORT);

	for (;;) {
		c = getopt_long(argc, argv, shorts, all, NULL);
		switch (c) {
		case 'j':
			env.json = true;
			continue;
		case 'p':
			env.json = env.pretty = true;
			continue;
		case 'v':
			env.verbose++;
			log_setup(LOG_DEBUG);
			continue;
		case 'h':
			return 'h';
		case 'S':
			env.socket = optarg;
			continue;
		case ':':
			cli_usage_error("option '%s' needs an argument",
					argv[optind - 1]);
			return '?';
		case '?':
			if (optopt)
				cli_usage_error("unknown option '-%c'", optopt);
			else
				cli_usage_error("unknown option '%s'",
						argv[optind - 1]);
			return '?';
		default:
			return c;
		}
	}
}

static const struct cmd *find_cmd(const char *name)
{
	const struct cmd *found = NULL;
	size_t i, len = strlen(name);

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
		if (len && !strncmp(cmds[i].name, name, len)) {
			if (found)
				return NULL; /* ambiguous */
			found = &cmds[i];
		}
	}
	return found;
}

int main(int argc, char **argv)
{
	static const struct option top[] = {
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	int c;

	log_setup(LOG_WARN);
	opterr = 0;
	while ((c = cli_getopt(argc, argv, top, "+V")) != -1) {
		switch (c) {
		case 'V':
			if (env.json)
				json_out(json_pack("{s:s}", "version",
						   FLOWBPF_VERSION));
			else
				printf("flowbpf %s\n", FLOWBPF_VERSION);
			return EXIT_OK;
		case 'h':
			usage_all(stdout);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage_all(stderr);
		return EXIT_USAGE;
	}
	cur_cmd = find_cmd(argv[optind]);
	if (!cur_cmd)
		return cli_usage_error("unknown or ambiguous command '%s'",
				       argv[optind]);
	/* Commands parse from their own name on, getopt style. */
	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: re-initialise getopt */
	return cur_cmd->fn(argc, argv);
}
