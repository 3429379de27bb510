// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Read-only commands: status, flows, stats. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "clock.h"
#include "cli.h"
#include "daemon.h"
#include "flowfmt.h"
#include "params.h"
#include "loader.h"
#include "log.h"

/*
 * Attached interface names: the one given, or all.  The count, or -errno
 * (-E2BIG: more than one given, -ENAMETOOLONG: a name that would have to
 * be cut, perhaps to the name of another interface).
 */
static int iface_list(int argc, char **argv, char (*names)[IF_NAMESIZE])
{
	int n;

	if (optind < argc) {
		if (optind + 1 != argc)
			return -E2BIG;
		if (strlen(argv[optind]) >= IF_NAMESIZE)
			return -ENAMETOOLONG;
		snprintf(names[0], IF_NAMESIZE, "%s", argv[optind]);
		return 1;
	}
	n = flowbpf_list(names, FLOWBPF_MAX_IFACES);
	if (n < 0)
		err_set("cannot list %s: %s", FLOWBPF_PIN_ROOT, strerror(-n));
	return n;
}

/* The usage error for what iface_list refused. */
static int iface_list_usage(int err, const char *cmd, const char *name)
{
	if (err == -E2BIG)
		return cli_usage_error("%s takes at most one interface", cmd);
	return cli_usage_error(
		"interface name '%s' is longer than %d characters", name,
		IF_NAMESIZE - 1);
}

json_t *daemon_json(void)
{
	json_t *reply;

	if (ctl_request(env.socket, "stats", &reply))
		return json_null();
	return reply;
}

static void print_daemon(void)
{
	json_t *d = daemon_json(), *lat, *v;

	if (json_is_null(d)) {
		printf("daemon: not running (no answer on %s)\n", env.socket);
		json_decref(d);
		return;
	}
	lat = json_object_get(d, "latency_us");
	v = json_object_get(d, "verdicts");
	printf("daemon: pid %lld, policy %s, up %llds\n"
	       "  events %lld, verdicts pass %lld drop %lld, reloads %lld (%lld failed), errors %lld\n"
	       "  decision latency p50 %.0fus p99 %.0fus max %.0fus over %lld\n",
	       json_integer_value(json_object_get(d, "pid")),
	       json_string_value(json_object_get(d, "policy")),
	       json_integer_value(json_object_get(d, "uptime_s")),
	       json_integer_value(json_object_get(d, "events")),
	       json_integer_value(json_object_get(v, "pass")),
	       json_integer_value(json_object_get(v, "drop")),
	       json_integer_value(json_object_get(d, "reloads")),
	       json_integer_value(json_object_get(d, "reload_errors")),
	       json_integer_value(json_object_get(d, "errors")),
	       json_real_value(json_object_get(lat, "p50")),
	       json_real_value(json_object_get(lat, "p99")),
	       json_real_value(json_object_get(lat, "max")),
	       json_integer_value(json_object_get(lat, "count")));
	json_decref(d);
}

static __u64 map_fill(int fd, __u32 ks, __u32 vs)
{
	void *k, *v;
	size_t n = 0;

	if (flowbpf_map_dump(fd, ks, vs, &k, &v, &n))
		return 0;
	free(k);
	free(v);
	return n;
}

static const char *xdp_mode_str(const struct flowbpf_config *cfg)
{
	if (cfg->flags & FLOWBPF_CFG_INGRESS_TC)
		return "none";
	return cfg->xdp_flags & 2 /* XDP_FLAGS_SKB_MODE */ ? "generic"
							   : "native";
}

/* Where parsing starts: the Ethernet header, or the IP header of an L3
 * device (tun, wireguard, ipip, gre, sit, ppp), which tc serves. */
static const char *link_name(const struct flowbpf_config *cfg)
{
	return cfg->flags & FLOWBPF_CFG_L3 ? "ip" : "ethernet";
}

static const char *decap_name(const struct flowbpf_config *cfg)
{
	return cfg->flags & FLOWBPF_CFG_DECAP_INNER ? "inner" : "outer";
}

static void status_link_json(json_t *o, const struct flowbpf_config *cfg)
{
	json_object_set_new(o, "link", json_string(link_name(cfg)));
	json_object_set_new(o, "decap", json_string(decap_name(cfg)));
}

/* How the XDP program is attached, as the kernel says now. */
static void status_xdp_json(json_t *o, const struct flowbpf_xdp_state *xs)
{
	json_object_set_new(o, "xdp_attach",
			    json_string(flowbpf_xdp_how_name(xs->how)));
	json_object_set_new(o, "xdp_dispatcher_id",
			    json_integer(xs->dispatcher_id));
	json_object_set_new(o, "xdp_run_prio", json_integer(xs->run_prio));
	json_object_set_new(o, "xdp_position", json_integer(xs->position));
	json_object_set_new(o, "xdp_programs", json_integer(xs->programs));
}

static void status_xdp_line(const struct flowbpf_handle *h,
			    const struct flowbpf_xdp_state *xs)
{
	const char *mode = xdp_mode_str(&h->cfg);
	__u32 egress = h->id[FB_PROG_TC_EGRESS];

	if (xs->how == FB_XDP_NONE)
		printf("  tc ingress prog id %u, tc egress prog id %u\n",
		       h->id[FB_PROG_TC_INGRESS], egress);
	else if (xs->how == FB_XDP_DISPATCHER)
		printf("  xdp %s prog id %u in libxdp dispatcher %u (priority %u, %d of %d), tc egress prog id %u\n",
		       mode, h->id[FB_PROG_XDP], xs->dispatcher_id,
		       xs->run_prio, xs->position, xs->programs, egress);
	else if (xs->how == FB_XDP_DIRECT)
		printf("  xdp %s prog id %u (link %u, direct), tc egress prog id %u\n",
		       mode, h->id[FB_PROG_XDP], h->id[FB_LINK_XDP], egress);
	else
		printf("  xdp prog id %u not attached (removed by another tool?), tc egress prog id %u\n",
		       h->id[FB_PROG_XDP], egress);
}

/* What status shows of one attached interface. */
struct iface_status {
	const char *ifname;
	struct flowbpf_handle h;
	struct flowbpf_xdp_state xs;
	__u64 flows, manual;
	bool present, tc_ing;
};

static int iface_status_read(const char *ifname, struct iface_status *st)
{
	unsigned int ifindex;

	st->ifname = ifname;
	if (flowbpf_open(ifname, &st->h))
		return -1;
	st->flows = map_fill(st->h.fd[FB_MAP_FLOWS], sizeof(struct flowbpf_key),
			     sizeof(struct flowbpf_flow));
	st->manual = map_fill(st->h.fd[FB_MAP_MANUAL],
			      sizeof(struct flowbpf_key),
			      sizeof(struct flowbpf_manual));
	ifindex = if_nametoindex(ifname);
	st->present = ifindex && ifindex == st->h.cfg.ifindex;
	st->tc_ing = st->h.cfg.flags & FLOWBPF_CFG_INGRESS_TC;
	flowbpf_xdp_state(&st->h, &st->xs);
	return 0;
}

static json_t *iface_status_json(const struct iface_status *st)
{
	const struct flowbpf_handle *h = &st->h;

	json_t *o = json_pack(
		"{s:o, s:I, s:b, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"ifname", ctl_json_str(st->ifname), "ifindex",
		(json_int_t)h->cfg.ifindex, "present", st->present, "mode",
		mode_name(h->cfg.mode), "pending", pending_name(h->cfg.pending),
		"default", verdict_name(h->cfg.dflt), "timeout_ms",
		(json_int_t)(h->cfg.timeout_ns / 1000000), "malformed",
		verdict_name(h->cfg.malformed), "ingress",
		st->tc_ing ? "tc" : "xdp", "xdp_mode", xdp_mode_str(&h->cfg),
		"xdp_prog_id", (json_int_t)h->id[FB_PROG_XDP], "xdp_link_id",
		(json_int_t)h->id[FB_LINK_XDP], "tc_egress_prog_id",
		(json_int_t)h->id[FB_PROG_TC_EGRESS], "tc_ingress_prog_id",
		(json_int_t)h->id[FB_PROG_TC_INGRESS], "flows",
		(json_int_t)st->flows, "manual_verdicts",
		(json_int_t)st->manual, "flows_max", (json_int_t)h->flows_max);

	if (o) {
		status_xdp_json(o, &st->xs);
		status_link_json(o, &h->cfg);
	}
	return o;
}

static void iface_status_print(const struct iface_status *st)
{
	const struct flowbpf_handle *h = &st->h;

	printf("%s (ifindex %u%s): mode %s, pending %s, default %s after %.3gs, malformed %s\n",
	       st->ifname, h->cfg.ifindex,
	       st->present ? "" : ", interface gone", mode_name(h->cfg.mode),
	       pending_name(h->cfg.pending), verdict_name(h->cfg.dflt),
	       h->cfg.timeout_ns / 1e9, verdict_name(h->cfg.malformed));
	status_xdp_line(h, &st->xs);
	printf("  link %s, tunnels counted as their %s flow\n",
	       link_name(&h->cfg), decap_name(&h->cfg));
	printf("  flows %llu/%u (%.1f%%), manual verdicts %llu/%u\n",
	       (unsigned long long)st->flows, h->flows_max,
	       100.0 * st->flows / h->flows_max, (unsigned long long)st->manual,
	       FLOWBPF_MANUAL_MAX);
}

int cmd_status(int argc, char **argv)
{
	char names[FLOWBPF_MAX_IFACES][IF_NAMESIZE];
	struct iface_status st;
	json_t *arr = NULL;
	int n, i, rc, ret = EXIT_OK;

	if (!PARAMS_NONE(argc, argv, &rc))
		return rc;
	n = iface_list(argc, argv, names);
	if (n == -E2BIG || n == -ENAMETOOLONG)
		return iface_list_usage(n, "status", argv[optind]);
	if (n < 0)
		return cli_error(EXIT_FAIL, "%s", err_get());
	if (env.json)
		arr = json_array();
	else if (!n)
		printf("no interface attached\n");
	for (i = 0; i < n; i++) {
		if (iface_status_read(names[i], &st)) {
			ret = cli_error(EXIT_FAIL, "%s", err_get());
			break;
		}
		if (env.json)
			json_array_append_new(arr, iface_status_json(&st));
		else
			iface_status_print(&st);
		flowbpf_close(&st.h);
	}
	if (env.json) {
		if (ret == EXIT_OK)
			json_out(json_pack("{s:o, s:o}", "interfaces", arr,
					   "daemon", daemon_json()));
		else
			json_decref(arr);
	} else if (ret == EXIT_OK) {
		print_daemon();
	}
	return ret;
}

static json_t *stats_json(const struct flowbpf_stats *s)
{
	json_t *o = json_object();
	int i;

	for (i = 0; i < FLOWBPF_STAT_MAX; i++)
		json_object_set_new(o, stat_name(i), json_integer(s->c[i]));
	return o;
}

int cmd_stats(int argc, char **argv)
{
	char names[FLOWBPF_MAX_IFACES][IF_NAMESIZE];
	struct flowbpf_stats total = {};
	json_t *arr = NULL;
	int n, i, j, rc, ret = EXIT_OK;

	if (!PARAMS_NONE(argc, argv, &rc))
		return rc;
	n = iface_list(argc, argv, names);
	if (n == -E2BIG || n == -ENAMETOOLONG)
		return iface_list_usage(n, "stats", argv[optind]);
	if (n < 0)
		return cli_error(EXIT_FAIL, "%s", err_get());
	if (env.json)
		arr = json_array();
	else if (!n)
		printf("no interface attached\n");

	for (i = 0; i < n; i++) {
		struct flowbpf_handle h;
		struct flowbpf_stats s;
		json_t *acct;
		int err;

		if (flowbpf_open(names[i], &h)) {
			ret = cli_error(EXIT_FAIL, "%s", err_get());
			break;
		}
		err = flowbpf_stats_read(h.fd[FB_MAP_STATS], &s);
		acct = err ? NULL
			   : accounting_json(names[i], h.fd[FB_MAP_FLOWS],
					     h.fd[FB_MAP_STATS]);
		flowbpf_close(&h);
		if (err) {
			ret = cli_error(EXIT_FAIL, "%s: cannot read stats: %s",
					names[i], strerror(-err));
			break;
		}
		for (j = 0; j < FLOWBPF_STAT_MAX; j++)
			total.c[j] += s.c[j];
		if (env.json) {
			json_array_append_new(
				arr, json_pack("{s:o, s:s, s:o}", "ifname",
					       ctl_json_str(names[i]), "mode",
					       mode_name(h.cfg.mode),
					       "counters", stats_json(&s)));
			json_object_set_new(json_array_get(arr, i),
					    "accounting",
					    acct ? acct : json_null());
			continue;
		}
		printf("%s (%s):\n", names[i], mode_name(h.cfg.mode));
		for (j = 0; j < FLOWBPF_STAT_MAX; j++)
			printf("  %-28s %llu\n", stat_name(j),
			       (unsigned long long)s.c[j]);
		accounting_print(acct);
		json_decref(acct);
	}
	if (env.json) {
		if (ret == EXIT_OK)
			json_out(json_pack("{s:o, s:o, s:o}", "interfaces", arr,
					   "total", stats_json(&total),
					   "daemon", daemon_json()));
		else
			json_decref(arr);
	} else if (ret == EXIT_OK) {
		print_daemon();
	}
	return ret;
}

enum sort_by { SORT_BYTES, SORT_PACKETS, SORT_LAST };

/* qsort_r()'s: arg is the enum sort_by. */
static int row_cmp(const void *a, const void *b, void *arg)
{
	const struct flow_row *x = a, *y = b;
	__u64 vx, vy;

	switch (*(const __u32 *)arg) {
	case SORT_PACKETS:
		vx = x->flow.packets, vy = y->flow.packets;
		break;
	case SORT_LAST:
		vx = x->last_ns, vy = y->last_ns;
		break;
	default:
		vx = x->flow.bytes, vy = y->flow.bytes;
	}
	if (vx != vy)
		return vx < vy ? 1 : -1;
	return memcmp(&x->key, &y->key, sizeof(x->key));
}

/* nfdump-style TCP flags: UAPRSF, '.' for unset. */
static void tcp_flags_str(__u32 f, char *buf)
{
	static const char letters[] = "UAPRSF";
	int i;

	for (i = 0; i < 6; i++)
		buf[i] = f & (1 << (5 - i)) ? letters[i] : '.';
	buf[6] = '\0';
}

json_t *row_json(const struct flow_row *r)
{
	const struct flowbpf_key *k = &r->key;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], spec[160];
	const char *pn = proto_name(k->proto);
	json_t *o;

	key_addr_str(k, true, src, sizeof(src));
	key_addr_str(k, false, dst, sizeof(dst));
	flow_spec_str(k, spec, sizeof(spec));
	o = json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:s}", "flow", spec,
		      "dir", dir_name(k->dir), "family", k->family, "proto",
		      k->proto, "proto_name", pn ? pn : "", "src", src, "dst",
		      dst);
	key_ports_json(o, k);
	json_object_set_new(o, "vlan", json_integer(k->vlan));
	json_object_set_new(o, "inner_vlan", json_integer(k->inner_vlan));
	json_object_set_new(o, "packets", json_integer(r->flow.packets));
	json_object_set_new(o, "bytes", json_integer(r->flow.bytes));
	json_object_set_new(o, "tcp_flags", json_integer(r->flow.tcp_flags));
	json_object_set_new(
		o, "first_seen_ms",
		json_integer(mono_to_wall_ns(r->first_ns) / 1000000));
	json_object_set_new(
		o, "last_seen_ms",
		json_integer(mono_to_wall_ns(r->last_ns) / 1000000));
	json_object_set_new(o, "verdict",
			    json_string(verdict_name(r->flow.verdict)));
	json_object_set_new(o, "verdict_source",
			    json_string(source_name(r->flow.source)));
	return o;
}

static void age_str(__u64 now, __u64 t, char *buf, size_t len)
{
	double s = now > t ? (now - t) / 1e9 : 0;

	if (s < 60) {
		snprintf(buf, len, "%.1fs", s);
	} else if (s < 3600) {
		unsigned int whole = s;

		snprintf(buf, len, "%um%02us", whole / 60, whole % 60);
	} else {
		snprintf(buf, len, "%.1fh", s / 3600);
	}
}

void flow_cells(const struct flow_row *r, __u64 now, struct flow_cells *c)
{
	const struct flowbpf_key *k = &r->key;
	const char *pn = proto_name(k->proto);

	if (flowbpf_proto_is_icmp(k->proto))
		snprintf(c->proto, sizeof(c->proto), "%s %u/%u", pn,
			 ntohs(k->dport) >> 8, ntohs(k->dport) & 0xff);
	else if (pn)
		snprintf(c->proto, sizeof(c->proto), "%s", pn);
	else
		snprintf(c->proto, sizeof(c->proto), "%u", k->proto);
	if (k->inner_vlan)
		snprintf(c->vlan, sizeof(c->vlan), "%u.%u", k->vlan,
			 k->inner_vlan);
	else if (k->vlan)
		snprintf(c->vlan, sizeof(c->vlan), "%u", k->vlan);
	else
		snprintf(c->vlan, sizeof(c->vlan), "-");
	if (k->tun_type)
		tunnel_str(k->tun_type, k->tun_id, c->tun, sizeof(c->tun));
	else
		snprintf(c->tun, sizeof(c->tun), "-");
	key_endpoint_str(k, true, c->src, sizeof(c->src));
	key_endpoint_str(k, false, c->dst, sizeof(c->dst));
	human_count(r->flow.packets, c->pk, sizeof(c->pk));
	human_bytes(r->flow.bytes, c->by, sizeof(c->by));
	if (k->proto == 6)
		tcp_flags_str(r->flow.tcp_flags, c->fl);
	else
		snprintf(c->fl, sizeof(c->fl), "-");
	age_str(now, r->first_ns, c->age, sizeof(c->age));
	age_str(now, r->last_ns, c->idle, sizeof(c->idle));
}

#define WIDEN(w, s)                  \
	do {                         \
		int __l = strlen(s); \
		if (__l > (w))       \
			(w) = __l;   \
	} while (0)

/*
 * Columns as wide as their widest cell, like ss(8) and ip(8).  TUNNEL
 * only when some flow came in one, so the usual table stays as it was.
 */
static void print_table(const struct flow_row *rows, size_t n, __u64 now)
{
	int wp = 5, wv = 4, ws = 6, wd = 11, wt = 0;
	struct flow_cells c;
	size_t i;

	for (i = 0; i < n; i++) {
		flow_cells(&rows[i], now, &c);
		WIDEN(wp, c.proto);
		WIDEN(wv, c.vlan);
		WIDEN(ws, c.src);
		WIDEN(wd, c.dst);
		if (rows[i].key.tun_type && wt < 6)
			wt = 6;
		if (wt)
			WIDEN(wt, c.tun);
	}
	printf("%-3s %-*s %-*s%s%-*s %-*s %-*s %8s %9s %-6s %-7s %-7s %7s %7s\n",
	       "DIR", wp, "PROTO", wv, "VLAN", wt ? " " : "", wt,
	       wt ? "TUNNEL" : "", ws, "SOURCE", wd, "DESTINATION", "PACKETS",
	       "BYTES", "FLAGS", "VERDICT", "SET-BY", "AGE", "IDLE");
	for (i = 0; i < n; i++) {
		flow_cells(&rows[i], now, &c);
		printf("%-3s %-*s %-*s%s%-*s %-*s %-*s %8s %9s %-6s %-7s %-7s %7s %7s\n",
		       dir_name(rows[i].key.dir), wp, c.proto, wv, c.vlan,
		       wt ? " " : "", wt, wt ? c.tun : "", ws, c.src, wd, c.dst,
		       c.pk, c.by, c.fl, verdict_name(rows[i].flow.verdict),
		       source_name(rows[i].flow.source), c.age, c.idle);
	}
}

struct flows_args {
	__u32 sort; /* enum sort_by */
	__u64 limit;
};

static const struct name_value sort_names[] = {
	{ "bytes", SORT_BYTES },
	{ "packets", SORT_PACKETS },
	{ "last", SORT_LAST },
	{},
};

static const struct param flows_params[] = {
	{ "sort", 's', P_ENUM, PARAM_FIELD(struct flows_args, sort),
	  .names = sort_names, .help = "order" },
	{ "limit", 'n', P_COUNT, PARAM_FIELD(struct flows_args, limit),
	  .arg = "N", .help = "show at most N flows", .dflt = "all" },
	{},
};

int cmd_flows(int argc, char **argv)
{
	struct flows_args a = { .sort = SORT_BYTES, .limit = ~0ULL };
	struct flowbpf_key *keys = NULL;
	struct flowbpf_flow *vals = NULL;
	struct flow_row *rows = NULL;
	struct flowbpf_handle h;
	size_t n = 0, i;
	__u64 now;
	json_t *arr;
	int err, rc, ret = EXIT_FAIL;

	if (!PARAMS_PARSE(flows_params, &a, argc, argv, NULL, &rc))
		return rc;
	if (optind + 1 != argc)
		return cli_usage_error(optind >= argc
					       ? "flows needs an interface"
					       : "flows takes one interface");
	if (flowbpf_open(argv[optind], &h))
		return cli_error(EXIT_FAIL, "%s", err_get());
	err = flowbpf_map_dump(h.fd[FB_MAP_FLOWS], sizeof(*keys), sizeof(*vals),
			       (void **)&keys, (void **)&vals, &n);
	if (err) {
		ret = cli_error(EXIT_FAIL, "%s: cannot read flow map: %s",
				argv[optind], strerror(-err));
		goto cleanup;
	}
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows) {
		ret = cli_error(EXIT_FAIL, "out of memory");
		goto cleanup;
	}
	now = mono_now_ns();
	for (i = 0; i < n; i++) {
		rows[i].key = keys[i];
		rows[i].flow = vals[i];
		rows[i].first_ns = flowbpf_tick_ns(vals[i].first, now);
		rows[i].last_ns = flowbpf_tick_ns(vals[i].last, now);
	}
	qsort_r(rows, n, sizeof(*rows), row_cmp, &a.sort);
	if (a.limit < n)
		n = a.limit;

	if (env.json) {
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, row_json(&rows[i]));
		json_out(json_pack("{s:o, s:o}", "ifname",
				   ctl_json_str(argv[optind]), "flows", arr));
		ret = EXIT_OK;
		goto cleanup;
	}

	print_table(rows, n, now);
	ret = EXIT_OK;
cleanup:
	free(keys);
	free(vals);
	free(rows);
	flowbpf_close(&h);
	return ret;
}
