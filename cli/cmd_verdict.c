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
#include "params.h"

/* IFACE FLOW... [pass|drop]: the words after "set" or "clear". */
static int verdict_write(int argc, char **argv, bool set)
{
	const char *action = set ? "set" : "clear", *ifname = argv[0];
	__u32 verdict = FLOWBPF_VERDICT_NONE;
	int nflow = argc - 1 - set, err, ret = EXIT_FAIL;
	char spec[160], why[128];
	struct flowbpf_handle h;
	struct flowbpf_key k;
	bool live = false;

	if (argc < 1)
		return cli_usage_error(
			"verdict %s needs an interface and a flow", action);
	if (nflow < 1)
		return cli_usage_error("verdict %s needs a flow%s", action,
				       set ? " and pass|drop" : "");
	if (set && verdict_parse(argv[argc - 1], &verdict))
		return cli_usage_error(
			"the verdict must be 'pass' or 'drop', not '%s'",
			argv[argc - 1]);
	err = flow_spec_parse_why(nflow, argv + 1, &k, why, sizeof(why));
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
				   set ? verdict_name(verdict) : "none", "live",
				   live));
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

static int verdict_set(int argc, char **argv, void *ctx)
{
	return verdict_write(argc, argv, true);
}

static int verdict_clear(int argc, char **argv, void *ctx)
{
	return verdict_write(argc, argv, false);
}

static const struct subcmd verdict_cmds[] = {
	{ "set", verdict_set },
	{ "clear", verdict_clear },
	{},
};

/* flowbpf verdict set IFACE FLOW... pass|drop
 * flowbpf verdict clear IFACE FLOW... */
int cmd_verdict(int argc, char **argv)
{
	int ret;

	if (!PARAMS_NONE(argc, argv, &ret))
		return ret;
	return cli_subcmd(verdict_cmds, argc - optind, argv + optind, NULL);
}
