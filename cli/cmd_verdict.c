// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "cli.h"
#include "flowfmt.h"
#include "loader.h"
#include "log.h"

/* flowbpf verdict set IFACE FLOW... pass|drop
 * flowbpf verdict clear IFACE FLOW... */
int cmd_verdict(int argc, char **argv)
{
	struct flowbpf_handle h;
	struct flowbpf_key k;
	__u32 verdict = FLOWBPF_VERDICT_NONE;
	bool live = false;
	const char *action, *ifname;
	char spec[160], why[128];
	int c, nflow, err, ret = EXIT_FAIL;
	bool set;

	while ((c = cli_getopt(argc, argv, NULL, "")) != -1) {
		if (c == 'h')
			return cli_help();
		return EXIT_USAGE;
	}
	if (argc - optind < 3)
		return cli_usage_error(
			"verdict needs set|clear, an interface and a flow");
	action = argv[optind];
	ifname = argv[optind + 1];
	if (!strcmp(action, "set"))
		set = true;
	else if (!strcmp(action, "clear"))
		set = false;
	else
		return cli_usage_error(
			"verdict action must be 'set' or 'clear', not '%s'",
			action);
	nflow = argc - optind - 2 - (set ? 1 : 0);
	if (nflow < 1)
		return cli_usage_error("verdict %s needs a flow%s", action,
				       set ? " and pass|drop" : "");
	if (set && verdict_parse(argv[argc - 1], &verdict))
		return cli_usage_error(
			"the verdict must be 'pass' or 'drop', not '%s'",
			argv[argc - 1]);
	err = flow_spec_parse_why(nflow, argv + optind + 2, &k, why,
				  sizeof(why));
	if (err == -EAFNOSUPPORT)
		return cli_usage_error("%s", why);
	if (err)
		return cli_usage_error("cannot parse the flow; %s", why);

	if (flowbpf_open(ifname, &h))
		return cli_error(EXIT_FAIL, "%s", err_get());
	flow_spec_str(&k, spec, sizeof(spec));
	err = set ? flowbpf_manual_set(&h, &k, verdict, &live)
		  : flowbpf_manual_clear(&h, &k);
	if (err) {
		ret = cli_error(EXIT_FAIL, "%s", err_get());
		goto cleanup;
	}
	if (env.json)
		json_out(json_pack("{s:s, s:s, s:s, s:b}", "ifname", ifname,
				   "flow", spec, "verdict",
				   set ? verdict_name(verdict) : "none",
				   "live", live));
	else if (set)
		printf("%s: %s -> %s%s\n", ifname, spec, verdict_name(verdict),
		       live ? "" : " (kept for when the flow starts)");
	else
		printf("%s: %s -> cleared\n", ifname, spec);
	ret = EXIT_OK;
cleanup:
	flowbpf_close(&h);
	return ret;
}
