// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include "cli.h"
#include "flowfmt.h"
#include "loader.h"
#include "log.h"

enum {
	OPT_PENDING = 256,
	OPT_DEFAULT,
	OPT_XDP_MODE,
	OPT_RINGBUF,
	OPT_MAX_QUEUED,
	OPT_HOLD_PKTS,
	OPT_HOLD_BYTES,
	OPT_MALFORMED
};
enum { OPT_INGRESS = 300 };
enum { OPT_DECAP = 310 };

static int pass_drop(const char *opt, const char *arg, __u32 *v)
{
	if (verdict_parse(arg, v))
		return cli_usage_error("%s must be 'pass' or 'drop', not '%s'",
				       opt, arg);
	return 0;
}

/*
 * Held ingress frames go back into the stack with BPF_PROG_TEST_RUN and
 * BPF_F_TEST_XDP_LIVE_FRAMES, which kernels before 5.18 do not have.
 */
static bool kernel_has_live_frames(void)
{
	struct utsname u;
	unsigned int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return true; /* unknown: let the daemon report failures */
	return major > 5 || (major == 5 && minor >= 18);
}

int cmd_attach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "ingress", required_argument, NULL, OPT_INGRESS },
		{ "flows", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "pending", required_argument, NULL, OPT_PENDING },
		{ "default", required_argument, NULL, OPT_DEFAULT },
		{ "xdp-mode", required_argument, NULL, OPT_XDP_MODE },
		{ "ringbuf", required_argument, NULL, OPT_RINGBUF },
		{ "max-queued", required_argument, NULL, OPT_MAX_QUEUED },
		{ "hold-packets", required_argument, NULL, OPT_HOLD_PKTS },
		{ "hold-bytes", required_argument, NULL, OPT_HOLD_BYTES },
		{ "malformed", required_argument, NULL, OPT_MALFORMED },
		{ "decap", required_argument, NULL, OPT_DECAP },
		{},
	};
	struct flowbpf_attach_opts o;
	bool xdp_mode_given = false, ingress_given = false;
	__u64 v;
	bool pending_set = false;
	int c, err;

	flowbpf_attach_opts_init(&o);
	while ((c = cli_getopt(argc, argv, opts, "m:f:t:")) != -1) {
		switch (c) {
		case 'h':
			return cli_help();
		case 'm':
			if (mode_parse(optarg, &o.mode))
				return cli_usage_error(
					"--mode must be 'monitor' or 'enforce', not '%s'",
					optarg);
			break;
		case 'f':
			if (count_parse(optarg, &v) || v < 1 || v > (1U << 26))
				return cli_usage_error(
					"--flows must be a number from 1 to %u, not '%s'",
					1U << 26, optarg);
			o.flows = v;
			break;
		case 't':
			if (duration_parse(optarg, &o.timeout_ns) ||
			    o.timeout_ns < 1000000)
				return cli_usage_error(
					"--timeout must be a duration of at least 1ms, e.g. 2s or 500ms, not '%s'",
					optarg);
			break;
		case OPT_PENDING:
			pending_set = true;
			if (!strcmp(optarg, "hold"))
				o.pending = FLOWBPF_PENDING_HOLD;
			else if (verdict_parse(optarg, &o.pending))
				return cli_usage_error(
					"--pending must be 'pass', 'drop' or 'hold', not '%s'",
					optarg);
			break;
		case OPT_HOLD_PKTS:
			if (count_parse(optarg, &v) || v < 1 ||
			    v > FLOWBPF_HOLD_PKTS_MAX)
				return cli_usage_error(
					"--hold-packets must be a number from 1 to %u, not '%s'",
					FLOWBPF_HOLD_PKTS_MAX, optarg);
			o.hold_pkts = v;
			break;
		case OPT_HOLD_BYTES:
			if (size_parse(optarg, &v) || v < 1 || v > (1U << 30))
				return cli_usage_error(
					"--hold-bytes must be a size from 1 to 1G, not '%s'",
					optarg);
			o.hold_bytes = v;
			break;
		case OPT_DEFAULT:
			if ((err = pass_drop("--default", optarg, &o.dflt)))
				return err;
			break;
		case OPT_MALFORMED:
			if ((err = pass_drop("--malformed", optarg,
					     &o.malformed)))
				return err;
			break;
		case OPT_DECAP:
			if (!strcmp(optarg, "outer") || !strcmp(optarg, "inner"))
				o.decap_inner = optarg[0] == 'i';
			else
				return cli_usage_error(
					"--decap must be 'outer' or 'inner', not '%s'",
					optarg);
			break;
		case OPT_INGRESS:
			ingress_given = true;
			if (!strcmp(optarg, "xdp"))
				o.ingress = INGRESS_XDP;
			else if (!strcmp(optarg, "tc"))
				o.ingress = INGRESS_TC;
			else
				return cli_usage_error(
					"--ingress must be 'xdp' or 'tc', not '%s'",
					optarg);
			break;
		case OPT_XDP_MODE:
			xdp_mode_given = true;
			if (!strcmp(optarg, "native") || !strcmp(optarg, "drv"))
				o.xdp_mode = XDPM_NATIVE;
			else if (!strcmp(optarg, "generic") ||
				 !strcmp(optarg, "skb"))
				o.xdp_mode = XDPM_GENERIC;
			else
				return cli_usage_error(
					"--xdp-mode must be 'native' or 'generic', not '%s'",
					optarg);
			break;
		case OPT_RINGBUF:
			if (size_parse(optarg, &v) || v < 4096 ||
			    v > (1U << 30) || (v & (v - 1)))
				return cli_usage_error(
					"--ringbuf must be a power of two from 4096 to 1G, not '%s'",
					optarg);
			o.ringbuf = v;
			break;
		case OPT_MAX_QUEUED:
			if (count_parse(optarg, &v) || v > (1U << 30))
				return cli_usage_error(
					"--max-queued must be a number from 0 (no limit) to %u, not '%s'",
					1U << 30, optarg);
			o.max_queued = v;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(optind >= argc
					       ? "attach needs an interface"
					       : "attach takes one interface");
	o.ifname = argv[optind];
	/* A device without Ethernet header: tc sees both directions there. */
	err = flowbpf_if_is_l3(o.ifname);
	if (err < 0)
		return cli_error(EXIT_FAIL, "%s", err_get());
	o.l3 = err;
	if (o.l3 && ingress_given && o.ingress == INGRESS_XDP)
		return cli_usage_error(
			"%s has no Ethernet header: only --ingress tc serves it",
			o.ifname);
	if (o.l3)
		o.ingress = INGRESS_TC;
	/*
	 * Enforce mode holds new flows' packets for the daemon by default:
	 * neither leaking the first packets nor losing them.  Holding needs
	 * native XDP on ingress: a frame put back into the stack passes a
	 * tc or generic XDP program again, which would hold it again.
	 */
	bool native = o.ingress == INGRESS_XDP && o.xdp_mode == XDPM_NATIVE;
	bool live = kernel_has_live_frames();

	if (!pending_set && o.mode == FLOWBPF_MODE_ENFORCE && native && live)
		o.pending = FLOWBPF_PENDING_HOLD;
	if (o.pending == FLOWBPF_PENDING_HOLD && !native)
		return cli_usage_error(
			"--pending hold needs native XDP on ingress (not --ingress tc or --xdp-mode generic)");
	if (o.pending == FLOWBPF_PENDING_HOLD && !live)
		return cli_error(
			EXIT_FAIL,
			"--pending hold needs Linux 5.18 or later to re-inject held frames; use --pending pass or drop");
	if (xdp_mode_given && o.ingress == INGRESS_TC)
		return cli_usage_error(
			"--xdp-mode applies to --ingress xdp only");

	err = flowbpf_attach(&o);
	if (err)
		return cli_error(EXIT_FAIL, "%s", err_get());
	if (env.json)
		json_out(json_pack(
			"{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s}", "ifname",
			o.ifname, "mode", mode_name(o.mode), "pending",
			pending_name(o.pending), "default",
			verdict_name(o.dflt), "timeout_ms",
			(json_int_t)(o.timeout_ns / 1000000), "flows_max",
			(json_int_t)o.flows, "xdp_mode",
			o.ingress == INGRESS_TC	     ? "none"
			: o.xdp_mode == XDPM_GENERIC ? "generic"
						     : "native",
			"ingress", o.ingress == INGRESS_TC ? "tc" : "xdp", "link",
			o.l3 ? "ip" : "ethernet", "decap",
			o.decap_inner ? "inner" : "outer"));
	else {
		char dir[256];

		flowbpf_pin_path(dir, sizeof(dir), o.ifname, -1);
		printf("%s: attached, mode %s, %s %s, pins in %s\n", o.ifname,
		       mode_name(o.mode),
		       o.ingress == INGRESS_TC ? "ingress" : "xdp",
		       o.ingress == INGRESS_TC	    ? "tc"
		       : o.xdp_mode == XDPM_GENERIC ? "generic"
						    : "native",
		       dir);
	}
	return EXIT_OK;
}

int cmd_detach(int argc, char **argv)
{
	int c, err;

	while ((c = cli_getopt(argc, argv, NULL, "")) != -1) {
		if (c == 'h')
			return cli_help();
		return EXIT_USAGE;
	}
	if (optind + 1 != argc)
		return cli_usage_error(optind >= argc
					       ? "detach needs an interface"
					       : "detach takes one interface");
	err = flowbpf_detach(argv[optind]);
	if (err)
		return cli_error(EXIT_FAIL, "%s", err_get());
	if (env.json)
		json_out(json_pack("{s:s, s:b}", "ifname", argv[optind],
				   "detached", 1));
	else
		printf("%s: detached\n", argv[optind]);
	return EXIT_OK;
}
