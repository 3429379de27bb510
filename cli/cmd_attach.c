// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include "cli.h"
#include "flowfmt.h"
#include "loader.h"
#include "log.h"
#include "params.h"

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

static const struct name_value ingress_names[] = {
	{ "xdp", INGRESS_XDP },
	{ "tc", INGRESS_TC },
	{},
};

static const struct name_value xdp_mode_names[] = {
	{ "native", XDPM_NATIVE },
	{ "generic", XDPM_GENERIC },
	{ "drv", XDPM_NATIVE },
	{ "skb", XDPM_GENERIC },
	{},
};

static const struct name_value xdp_attach_names[] = {
	{ "auto", XDPA_AUTO },
	{ "dispatcher", XDPA_DISPATCHER },
	{ "direct", XDPA_DIRECT },
	{},
};

static const struct name_value decap_names[] = {
	{ "outer", false },
	{ "inner", true },
	{},
};

#define ATTACH_FIELD(m) PARAM_FIELD(struct flowbpf_attach_opts, m)

static const struct param attach_params[] = {
	{ "mode", 'm', P_ENUM, ATTACH_FIELD(mode), .names = mode_names,
	  .help = "monitor accounts only and never drops" },
	{ "ingress", 0, P_ENUM, ATTACH_FIELD(ingress), .names = ingress_names,
	  .help = "hook that sees ingress: XDP, or tc clsact ingress (tc on devices without Ethernet header: tun, wireguard, ipip, gre, sit, ppp)",
	  .dflt = "xdp, tc on devices without Ethernet header" },
	{ "decap", 0, P_ENUM, ATTACH_FIELD(decap_inner), .names = decap_names,
	  .help = "a VXLAN, GENEVE, GRE, IPIP, SIT or IPv6-tunnelled packet counts as the tunnel's flow or as the flow it carries" },
	{ "flows", 'f', P_COUNT, ATTACH_FIELD(flows), .arg = "N",
	  .help = "flow map size (k/M suffixes)", .min = 1,
	  .max = FLOWBPF_FLOWS_MAX },
	{ "pending", 0, P_ENUM, ATTACH_FIELD(pending), .names = pending_names,
	  .help = "what packets of a flow awaiting a verdict get: hold hands them to the daemon until it decides",
	  .dflt = "hold in enforce mode, pass in monitor mode" },
	{ "hold-packets", 0, P_COUNT, ATTACH_FIELD(hold_pkts), .arg = "N",
	  .help = "held packets per flow at most", .min = 1,
	  .max = FLOWBPF_HOLD_PKTS_MAX },
	{ "hold-bytes", 0, P_SIZE, ATTACH_FIELD(hold_bytes), .arg = "BYTES",
	  .help = "held bytes per flow at most", .min = 1,
	  .max = FLOWBPF_HOLD_BYTES_MAX },
	{ "default", 0, P_ENUM, ATTACH_FIELD(dflt), .names = verdict_names,
	  .help = "verdict set when no decision comes in time" },
	{ "malformed", 0, P_ENUM, ATTACH_FIELD(malformed),
	  .names = verdict_names,
	  .help = "IP frames the parser cannot read (too deep a VLAN stack or IPv6 header chain, truncated headers); non-IP frames always pass",
	  .dflt = "drop in enforce mode, pass in monitor mode" },
	{ "timeout", 't', P_DURATION, ATTACH_FIELD(timeout_ns),
	  .arg = "DURATION", .help = "decision timeout, e.g. 2s, 500ms",
	  .min = FLOWBPF_TIMEOUT_MIN_NS },
	{ "xdp-mode", 0, P_ENUM, ATTACH_FIELD(xdp_mode),
	  .names = xdp_mode_names, .help = "XDP attach mode" },
	{ "xdp-attach", 0, P_ENUM, ATTACH_FIELD(xdp_attach),
	  .names = xdp_attach_names,
	  .help = "share the XDP hook through libxdp's dispatcher, or hold it alone (direct); auto: the dispatcher where the kernel runs it, else direct" },
	{ "ringbuf", 0, P_SIZE, ATTACH_FIELD(ringbuf), .arg = "BYTES",
	  .help = "event ring buffer size, a power of two, K/M suffixes",
	  .min = FLOWBPF_RINGBUF_MIN, .max = FLOWBPF_RINGBUF_MAX,
	  .flags = P_POW2 },
	{ "max-queued", 0, P_COUNT, ATTACH_FIELD(max_queued), .arg = "N",
	  .help = "new flows awaiting a verdict per timeout window; beyond it a new flow gets the default verdict at once (0 = no limit)",
	  .max = FLOWBPF_MAX_QUEUED_MAX },
	{},
};

/* What was attached, and how the XDP program ended up on the hook. */
static void attach_report(const struct flowbpf_attach_opts *o)
{
	struct flowbpf_xdp_state xs = { .how = FB_XDP_NONE };
	struct flowbpf_handle h;
	const char *how;
	char dir[256];

	if (!flowbpf_open(o->ifname, &h)) {
		flowbpf_xdp_state(&h, &xs);
		flowbpf_close(&h);
	}
	how = flowbpf_xdp_how_name(xs.how);
	if (env.json) {
		json_out(json_pack(
			"{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s}",
			"ifname", o->ifname, "mode", mode_name(o->mode),
			"pending", pending_name(o->pending), "default",
			verdict_name(o->dflt), "timeout_ms",
			(json_int_t)(o->timeout_ns / 1000000), "flows_max",
			(json_int_t)o->flows, "xdp_mode",
			o->ingress == INGRESS_TC      ? "none"
			: o->xdp_mode == XDPM_GENERIC ? "generic"
						      : "native",
			"ingress", o->ingress == INGRESS_TC ? "tc" : "xdp",
			"xdp_attach", how, "link", o->l3 ? "ip" : "ethernet",
			"decap", o->decap_inner ? "inner" : "outer"));
		return;
	}
	flowbpf_pin_path(dir, sizeof(dir), o->ifname, -1);
	if (o->ingress == INGRESS_TC)
		printf("%s: attached, mode %s, ingress tc, pins in %s\n",
		       o->ifname, mode_name(o->mode), dir);
	else
		printf("%s: attached, mode %s, xdp %s (%s), pins in %s\n",
		       o->ifname, mode_name(o->mode),
		       o->xdp_mode == XDPM_GENERIC ? "generic" : "native",
		       xs.how == FB_XDP_DISPATCHER ? "libxdp dispatcher" : how,
		       dir);
}

int cmd_attach(int argc, char **argv)
{
	struct flowbpf_attach_opts o;
	__u64 seen;
	int err, rc;

	flowbpf_attach_opts_init(&o);
	if (!PARAMS_PARSE(attach_params, &o, argc, argv, &seen, &rc))
		return rc;
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
	if (o.l3 && params_given(attach_params, seen, "ingress") &&
	    o.ingress == INGRESS_XDP)
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

	if (!params_given(attach_params, seen, "pending") &&
	    o.mode == FLOWBPF_MODE_ENFORCE && native && live)
		o.pending = FLOWBPF_PENDING_HOLD;
	if (o.pending == FLOWBPF_PENDING_HOLD && !native)
		return cli_usage_error(
			"--pending hold needs native XDP on ingress (not --ingress tc or --xdp-mode generic)");
	if (o.pending == FLOWBPF_PENDING_HOLD && !live)
		return cli_error(
			EXIT_FAIL,
			"--pending hold needs Linux 5.18 or later to re-inject held frames; use --pending pass or drop");
	if ((params_given(attach_params, seen, "xdp-mode") ||
	     params_given(attach_params, seen, "xdp-attach")) &&
	    o.ingress == INGRESS_TC)
		return cli_usage_error(
			"--xdp-mode and --xdp-attach apply to --ingress xdp only");

	err = flowbpf_attach(&o);
	if (err)
		return cli_error(EXIT_FAIL, "%s", err_get());
	attach_report(&o);
	return EXIT_OK;
}

int cmd_detach(int argc, char **argv)
{
	int err, ret;

	if (!PARAMS_NONE(argc, argv, &ret))
		return ret;
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
