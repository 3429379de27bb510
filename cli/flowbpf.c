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
#include "params.h"

#define FLOWBPF_VERSION "0.1.0"

struct cli_env env = { .socket = FLOWBPF_DEFAULT_SOCKET };

static const struct cmd cmds[] = {
	{ "attach", cmd_attach, "IFACE [OPTIONS]",
	  "load and attach the datapath to an interface", "" },
	{ "detach", cmd_detach, "IFACE",
	  "remove flowbpf's programs, tc filters and pins from an interface; other\n"
	  "programs on its hooks stay", "" },
	{ "status", cmd_status, "[IFACE]",
	  "attached interfaces, mode, program ids, map fill", "" },
	{ "flows", cmd_flows, "IFACE [OPTIONS]", "the live flow table", "" },
	{ "top", cmd_top, "[IFACE] [OPTIONS]",
	  "a live view of the busiest flows and the interface totals",
	  "  Without IFACE, every attached interface.\n"
	  "  EXPR words: in|out, tcp|udp|icmp|..., proto P, port|sport|dport N,\n"
	  "    [host|src|dst] ADDR[/LEN], pass|drop|queued, by kernel|timeout|daemon|manual|limit\n"
	  "  Keys: b p t sort by bytes/s, packets/s, total bytes; / filter; space or P\n"
	  "    pause; q quit.\n" },
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
	  "      --socket PATH  control socket (default " FLOWBPF_DEFAULT_SOCKET
	  ")\n"
	  "  Signals: SIGHUP reloads the policy; SIGTERM/SIGINT stop.\n" },
	{ "collect", cmd_collect, "IFACE [OPTIONS]",
	  "sweep the flow map into accounting records: JSON lines, IPFIX",
	  "  Runs until SIGTERM or SIGINT, then reports every live flow as 'shutdown'.\n"
	  "  See docs/accounting.md.\n" },
	{ "reload", cmd_reload, "", "make the running daemon reload its policy",
	  "      --socket PATH    control socket (default " FLOWBPF_DEFAULT_SOCKET
	  ")\n" },
	{ "policy", cmd_policy, "check FILE | test FILE FLOW",
	  "validate a policy, or show which rule a flow matches (no kernel needed)",
	  "  FLOW is written as for 'flowbpf verdict'.\n" },
	{ "report", cmd_report, "[OPTIONS]",
	  "per-unit totals and charges from the accounting store",
	  "  See docs/units.md.\n" },
	{ "quota", cmd_quota, "[--db DSN]",
	  "each quota's use, limit, state and reset time",
	  "  See docs/units.md.\n" },
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
		"      --socket PATH  the daemon's control socket (default " FLOWBPF_DEFAULT_SOCKET
		")\n\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int cli_help_params(const struct param *params, const void *args)
{
	printf("Usage: flowbpf %s %s\n%s.\n", cur_cmd->name, cur_cmd->args,
	       cur_cmd->summary);
	if (params && params[0].name) {
		printf("\nOptions:\n");
		params_help(stdout, params, args);
	}
	if (cur_cmd->help[0])
		printf("%s%s", params ? "" : "\nOptions:\n", cur_cmd->help);
	printf("\nCommon options: -j/--json, -p/--pretty, -v/--verbose, -h/--help\n");
	return EXIT_OK;
}

int cli_subcmd(const struct subcmd *tbl, int argc, char **argv, void *ctx)
{
	char names[128];
	size_t i, n = 0;

	for (i = 0; argc > 0 && tbl[i].name; i++)
		if (!strcmp(argv[0], tbl[i].name))
			return tbl[i].fn(argc - 1, argv + 1, ctx);
	for (i = 0; tbl[i].name; i++)
		n += snprintf(names + n, sizeof(names) - n, "%s%s",
			      i ? "|" : "", tbl[i].name);
	if (argc <= 0)
		return cli_usage_error("%s needs %s", cur_cmd->name, names);
	return cli_usage_error("%s takes %s, not '%s'", cur_cmd->name, names,
			       argv[0]);
}

int cli_help(void)
{
	return cli_help_params(NULL, NULL);
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
#define NCOMMON (sizeof(common_opts) / sizeof(common_opts[0]))
/* The most options one command takes besides the common ones. */
#define CMD_OPTS_MAX 48

int cli_getopt(int argc, char **argv, const struct option *longopts,
	       const char *shortopts)
{
	/* getopt_long() keeps its place across calls: so must these. */
	static struct option all[CMD_OPTS_MAX + NCOMMON + 1];
	static char shorts[2 * CMD_OPTS_MAX];
	size_t n = 0, i;
	int c;

	for (i = 0; longopts && longopts[i].name; i++) {
		if (n == CMD_OPTS_MAX) {
			/* A table that outgrew this is a bug, never input. */
			pr_warn("internal error: more than %d options\n",
				CMD_OPTS_MAX);
			abort();
		}
		all[n++] = longopts[i];
	}
	for (i = 0; i < NCOMMON; i++)
		all[n++] = common_opts[i];
	memset(&all[n], 0, sizeof(all[n]));
	if (!shortopts)
		shortopts = "";
	if (strlen(shortopts) + sizeof(COMMON_SHORT) + 2 > sizeof(shorts)) {
		pr_warn("internal error: short options '%s' too long\n",
			shortopts);
		abort();
	}
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
