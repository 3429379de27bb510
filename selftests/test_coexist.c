// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * flowbpf shares its hooks with other tools (docs/hooks.md): on XDP with
 * xdp-filter (xdp-tools) through libxdp's dispatcher, in either order,
 * each dropping what it should and flowbpf counting exactly what reaches
 * it; on tc with another BPF classifier that runs after flowbpf's filter
 * and outlives flowbpf's detach together with the clsact qdisc.  Where
 * the kernel cannot run libxdp's dispatcher, flowbpf attaches directly
 * and says so, and an XDP program that does not share is refused cleanly
 * both ways.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>
#include <xdp/libxdp.h>
#include "netns.h"
#include "test.h"
#include "selftests/coexist_tc.skel.h"

/* Why the dispatcher subtests cannot run on a kernel. */
#define NO_DISPATCHER                                                      \
	"libxdp cannot run its dispatcher on this kernel (xdp-loader -vv " \
	"tells why)"
#define NO_DISPATCHER_CHECKED \
	NO_DISPATCHER "; checked instead that neither takes the other's hook"

/* Ports xdp-filter denies (PORT_DENY) and lets through (the others). */
enum { PORT_DENY = 7777, PORT_PASS = 7778, PORT_FLOWBPF = 7779 };

/* Whether the XDP program on ifindex is libxdp's dispatcher, and with
 * how many programs. */
static int dispatcher_progs(unsigned int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	int n = 0;

	if (!mp || libxdp_get_error(mp))
		return 0;
	if (!xdp_multiprog__is_legacy(mp))
		n = xdp_multiprog__program_count(mp);
	xdp_multiprog__close(mp);
	return n;
}

static __u32 xdp_prog_on(unsigned int ifindex)
{
	__u32 id = 0;

	bpf_xdp_query_id(ifindex, 0, &id);
	return id;
}

static bool pins_exist(const char *ifname)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", FLOWBPF_PIN_ROOT, ifname);
	return !access(path, F_OK);
}

/* One key of flowbpf's status for ifname: a string, or an integer as
 * text; "" when absent. */
static void status_key(const char *ifname, const char *key, char *buf,
		       size_t len)
{
	char *out = NULL;
	json_t *j, *v;

	buf[0] = '\0';
	run(&out, NULL, "%s status -j %s", flowbpf_bin(), ifname);
	j = json_loads(out ? out : "", 0, NULL);
	v = json_object_get(json_array_get(json_object_get(j, "interfaces"), 0),
			    key);
	if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	json_decref(j);
	free(out);
}

static int status_int(const char *ifname, const char *key)
{
	char buf[32];

	status_key(ifname, key, buf, sizeof(buf));
	return buf[0] ? atoi(buf) : -1;
}

struct udp_burst {
	const char *dst;
	int sport, dport, count;
};

/* Runs in the peer's namespace: count datagrams from sport to dport. */
static int udp_send(void *arg)
{
	const struct udp_burst *b = arg;
	struct sockaddr_in src = { .sin_family = AF_INET,
				   .sin_port = htons(b->sport) };
	struct sockaddr_in dst = { .sin_family = AF_INET,
				   .sin_port = htons(b->dport) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), i;

	inet_pton(AF_INET, b->dst, &dst.sin_addr);
	if (fd < 0 || bind(fd, (void *)&src, sizeof(src)))
		return 1;
	for (i = 0; i < b->count; i++) {
		if (sendto(fd, "flowbpf", 7, 0, (void *)&dst, sizeof(dst)) != 7)
			return 2;
		usleep(2000);
	}
	close(fd);
	return 0;
}

static int udp_sink(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	inet_pton(AF_INET, ip, &a.sin_addr);
	if (fd >= 0 && bind(fd, (void *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Datagrams waiting on fd, once the sender is done (it waited for every
 * send, and delivery on a veth is synchronous with the peer's receive). */
static int udp_drain(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[64];
	int n = 0;

	while (poll(&p, 1, 200) > 0 && recv(fd, buf, sizeof(buf), 0) > 0)
		n++;
	return n;
}

/* Sends count datagrams to each port from port + 30000 and returns what
 * the host's sockets got, in got[]. */
static int udp_round(struct test_net *n, const int *ports, int nports,
		     int count, int *got)
{
	int fds[4], i, err = 0;

	for (i = 0; i < nports; i++)
		fds[i] = udp_sink(n->host_ip, ports[i]);
	for (i = 0; i < nports && !err; i++) {
		struct udp_burst b = { n->host_ip, ports[i] + 30000, ports[i],
				       count };

		if (fds[i] < 0 || ns_fork(n->ns, udp_send, &b, true))
			err = -1;
	}
	for (i = 0; i < nports; i++) {
		got[i] = fds[i] >= 0 ? udp_drain(fds[i]) : -1;
		if (fds[i] >= 0)
			close(fds[i]);
	}
	return err;
}

/* Packets flowbpf counted for one UDP flow into the host; -1 if none. */
static long long flow_packets(struct test_net *n, int dport)
{
	struct flowbpf_flow f;
	struct flowbpf_key k;

	key4(&k, FLOWBPF_DIR_INGRESS, IPPROTO_UDP, n->peer_ip, dport + 30000,
	     n->host_ip, dport);
	return pinned_flow(n->host_if, &k, &f) ? -1 : (long long)f.packets;
}

static void xdp_filter_off(struct test_net *n)
{
	run(NULL, NULL, "xdp-filter unload %s 2>/dev/null", n->host_if);
}

static void cleanup(struct test_net *n)
{
	unsigned int ifindex = n->host_ifindex;

	xdp_filter_off(n);
	net_cleanup(n);
	/* What libxdp pinned for a dispatcher of an interface now gone. */
	if (ifindex)
		libxdp_clean_references(ifindex);
}

/* xdp-filter first, flowbpf joins: flowbpf runs after it and counts
 * exactly what xdp-filter let through. */
static void subtest_filter_first(void)
{
	int ports[] = { PORT_DENY, PORT_PASS }, got[2];
	char *err = NULL;
	struct test_net n;
	__u32 id;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(run(NULL, NULL, "xdp-filter load %s", n.host_if),
		       "xdp-filter load"))
		goto out;
	if (!dispatcher_progs(n.host_ifindex)) {
		/* xdp-filter holds the hook alone: refused, nothing left. */
		id = xdp_prog_on(n.host_ifindex);
		ASSERT_EQ(run(NULL, &err, "%s attach %s", flowbpf_bin(),
			      n.host_if),
			  1, "attach refused");
		ASSERT_HAS(err, "not through libxdp's dispatcher", "why");
		ASSERT_FALSE(pins_exist(n.host_if), "no pins");
		ASSERT_EQ(xdp_prog_on(n.host_ifindex), id, "xdp-filter kept");
		test__skip(NO_DISPATCHER_CHECKED);
		goto out;
	}
	ASSERT_OK(run(NULL, NULL, "xdp-filter port -p udp %d", PORT_DENY),
		  "deny port");
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
			   n.host_if),
		       "attach"))
		goto out;
	ASSERT_EQ(dispatcher_progs(n.host_ifindex), 2, "two programs");
	ASSERT_EQ(status_int(n.host_if, "xdp_programs"), 2, "status count");
	ASSERT_EQ(status_int(n.host_if, "xdp_position"), 2, "runs second");
	ASSERT_EQ(status_int(n.host_if, "xdp_run_prio"), FLOWBPF_XDP_RUN_PRIO,
		  "priority");
	if (!ASSERT_OK(udp_round(&n, ports, 2, 5, got), "traffic"))
		goto out;
	ASSERT_EQ(got[0], 0, "denied port dropped by xdp-filter");
	ASSERT_EQ(got[1], 5, "other port delivered");
	ASSERT_EQ(flow_packets(&n, PORT_PASS), 5, "flowbpf counted it");
	ASSERT_EQ(flow_packets(&n, PORT_DENY), -1, "never saw the denied");
out:
	free(err);
	run(NULL, NULL, "xdp-filter port -r -p udp %d 2>/dev/null", PORT_DENY);
	cleanup(&n);
}

/* flowbpf first, xdp-filter joins: both drop what they should. */
static void subtest_flowbpf_first(void)
{
	int ports[] = { PORT_DENY, PORT_PASS, PORT_FLOWBPF }, got[3];
	struct flowbpf_stats st;
	char how[32];
	struct test_net n;
	__u32 id;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(run(NULL, NULL,
			   "%s attach %s --mode enforce --pending pass",
			   flowbpf_bin(), n.host_if),
		       "attach"))
		goto out;
	status_key(n.host_if, "xdp_attach", how, sizeof(how));
	if (!strcmp(how, "direct")) {
		id = xdp_prog_on(n.host_ifindex);
		ASSERT_NEQ(run(NULL, NULL, "xdp-filter load %s 2>/dev/null",
			       n.host_if),
			   0, "xdp-filter refused");
		ASSERT_EQ(xdp_prog_on(n.host_ifindex), id, "flowbpf kept");
		ASSERT_EQ(status_int(n.host_if, "xdp_prog_id"), (int)id,
			  "flowbpf's program");
		test__skip(NO_DISPATCHER_CHECKED);
		goto out;
	}
	ASSERT_STREQ(how, "dispatcher", "xdp_attach");
	if (!ASSERT_OK(run(NULL, NULL, "xdp-filter load %s", n.host_if),
		       "xdp-filter load"))
		goto out;
	ASSERT_OK(run(NULL, NULL, "xdp-filter port -p udp %d", PORT_DENY),
		  "deny port");
	ASSERT_EQ(status_int(n.host_if, "xdp_programs"), 2, "two programs");
	ASSERT_EQ(status_int(n.host_if, "xdp_position"), 2, "runs second");
	ASSERT_OK(run(NULL, NULL, "%s verdict set %s in udp %s:%d %s:%d drop",
		      flowbpf_bin(), n.host_if, n.peer_ip, PORT_FLOWBPF + 30000,
		      n.host_ip, PORT_FLOWBPF),
		  "flowbpf drop verdict");
	if (!ASSERT_OK(udp_round(&n, ports, 3, 4, got), "traffic"))
		goto out;
	ASSERT_EQ(got[0], 0, "xdp-filter's drop");
	ASSERT_EQ(got[1], 4, "passed by both");
	ASSERT_EQ(got[2], 0, "flowbpf's drop");
	ASSERT_EQ(flow_packets(&n, PORT_PASS), 4, "counted");
	ASSERT_EQ(flow_packets(&n, PORT_FLOWBPF), 4, "counted and dropped");
	ASSERT_EQ(flow_packets(&n, PORT_DENY), -1, "never saw the denied");
	if (ASSERT_OK(pinned_stats(n.host_if, &st), "stats"))
		ASSERT_EQ(st.c[FLOWBPF_STAT_DROP], 4, "drops");
out:
	run(NULL, NULL, "xdp-filter port -r -p udp %d 2>/dev/null", PORT_DENY);
	cleanup(&n);
}

/* Each detach takes away its own program only. */
static void subtest_detach_keeps_other(void)
{
	int ports[] = { PORT_DENY, PORT_PASS }, got[2];
	struct test_net n;
	int fd;
	__u32 id = 0;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(run(NULL, NULL, "xdp-filter load %s", n.host_if),
		       "xdp-filter load"))
		goto out;
	if (!dispatcher_progs(n.host_ifindex)) {
		test__skip(NO_DISPATCHER);
		goto out;
	}
	ASSERT_OK(run(NULL, NULL, "xdp-filter port -p udp %d", PORT_DENY),
		  "deny port");
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
			   n.host_if),
		       "attach"))
		goto out;
	id = status_int(n.host_if, "xdp_prog_id");
	ASSERT_OK(run(NULL, NULL, "%s detach %s", flowbpf_bin(), n.host_if),
		  "flowbpf detach");
	ASSERT_FALSE(pins_exist(n.host_if), "pins gone");
	fd = bpf_prog_get_fd_by_id(id);
	ASSERT_TRUE(fd < 0, "flowbpf's program gone");
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(dispatcher_progs(n.host_ifindex), 1, "xdp-filter left");
	if (ASSERT_OK(udp_round(&n, ports, 2, 3, got), "traffic")) {
		ASSERT_EQ(got[0], 0, "xdp-filter still drops");
		ASSERT_EQ(got[1], 3, "and passes");
	}

	/* The other way round: xdp-filter leaves, flowbpf stays. */
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
			   n.host_if),
		       "attach again"))
		goto out;
	ASSERT_EQ(dispatcher_progs(n.host_ifindex), 2, "two programs");
	ASSERT_OK(run(NULL, NULL, "xdp-filter unload %s", n.host_if),
		  "xdp-filter unload");
	ASSERT_EQ(dispatcher_progs(n.host_ifindex), 1, "flowbpf left");
	ASSERT_EQ(status_int(n.host_if, "xdp_position"), 1, "runs alone");
	if (ASSERT_OK(udp_round(&n, ports, 2, 3, got), "traffic after")) {
		ASSERT_EQ(got[0], 3, "nothing denies now");
		ASSERT_EQ(flow_packets(&n, PORT_DENY), 3, "flowbpf counts it");
	}
out:
	run(NULL, NULL, "xdp-filter port -r -p udp %d 2>/dev/null", PORT_DENY);
	cleanup(&n);
}

/* Echo replies (ingress) or requests (egress) of count pings received. */
static bool ping_ok(struct test_net *n, int count)
{
	return !run(NULL, NULL, "ping -c %d -i 0.2 -W 2 %s", count, n->peer_ip);
}

static __u64 seen(struct coexist_tc *c)
{
	__u64 v = 0;
	__u32 zero = 0;

	bpf_map_lookup_elem(bpf_map__fd(c->maps.seen), &zero, &v);
	return v;
}

/*
 * Another classifier after flowbpf's on the hook flowbpf counts on (tc
 * egress, or tc ingress with --ingress tc) sees every packet, and keeps
 * its filter and the clsact qdisc flowbpf created over flowbpf's detach.
 */
static void tc_chain(bool ingress)
{
	LIBBPF_OPTS(bpf_tc_hook, hook,
		    .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = 1,
		    .priority = FLOWBPF_TC_PRIO + 1);
	struct coexist_tc *c = NULL;
	struct flowbpf_flow f;
	struct flowbpf_key k;
	struct test_net n;
	char *out = NULL;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s%s", flowbpf_bin(),
			   n.host_if, ingress ? " --ingress tc" : ""),
		       "attach"))
		goto out;
	c = coexist_tc__open_and_load();
	if (!ASSERT_OK_PTR(c, "load classifier"))
		goto out;
	hook.ifindex = n.host_ifindex;
	tc.prog_fd = bpf_program__fd(c->progs.coexist_count);
	if (!ASSERT_OK(bpf_tc_attach(&hook, &tc), "second filter"))
		goto out;
	ASSERT_TRUE(ping_ok(&n, 4), "ping");
	ASSERT_EQ(seen(c), 4, "the filter after flowbpf's saw them");
	if (ingress)
		key_icmp4(&k, FLOWBPF_DIR_INGRESS, n.peer_ip, n.host_ip, 0, 0);
	else
		key_icmp4(&k, FLOWBPF_DIR_EGRESS, n.host_ip, n.peer_ip, 8, 0);
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &f), "flowbpf's flow"))
		ASSERT_EQ(f.packets, 4, "flowbpf counted them too");

	ASSERT_OK(run(NULL, NULL, "%s detach %s", flowbpf_bin(), n.host_if),
		  "detach");
	run(&out, NULL, "tc qdisc show dev %s", n.host_if);
	ASSERT_HAS(out, "clsact", "clsact kept for the other filter");
	free(out), out = NULL;
	tc.prog_fd = tc.prog_id = tc.flags = 0;
	ASSERT_OK(bpf_tc_query(&hook, &tc), "other filter kept");
	tc.handle = FLOWBPF_TC_HANDLE;
	tc.priority = FLOWBPF_TC_PRIO;
	tc.prog_id = 0;
	ASSERT_EQ(bpf_tc_query(&hook, &tc), -ENOENT, "flowbpf's filter gone");
	ASSERT_TRUE(ping_ok(&n, 3), "ping after detach");
	ASSERT_EQ(seen(c), 7, "still counting");
out:
	coexist_tc__destroy(c);
	cleanup(&n);
}

/*
 * The fallback, forced where the kernel would run the dispatcher too:
 * with libxdp told to skip it, auto attaches directly and says so,
 * --xdp-attach dispatcher refuses and leaves nothing, and direct
 * refuses to take a hook another program holds.
 */
static void subtest_fallback(void)
{
	char *err = NULL, *out = NULL, how[32];
	struct flowbpf_flow f;
	struct flowbpf_key k;
	struct test_net n;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	ASSERT_EQ(
		run(NULL, &err,
		    "LIBXDP_SKIP_DISPATCHER=1 %s attach %s --xdp-attach dispatcher",
		    flowbpf_bin(), n.host_if),
		1, "dispatcher or nothing");
	ASSERT_HAS(err, "cannot run its dispatcher", "why");
	ASSERT_FALSE(pins_exist(n.host_if), "no pins");
	ASSERT_EQ(xdp_prog_on(n.host_ifindex), 0, "no XDP left");
	run(&out, NULL, "tc qdisc show dev %s", n.host_if);
	ASSERT_FALSE(out && strstr(out, "clsact"), "no clsact left");
	free(out), out = NULL;
	free(err), err = NULL;

	if (!ASSERT_OK(
		    run(NULL, &err,
			"LIBXDP_SKIP_DISPATCHER=1 %s attach %s --mode enforce",
			flowbpf_bin(), n.host_if),
		    "auto falls back"))
		goto out;
	ASSERT_HAS(err, "attached directly", "says so");
	status_key(n.host_if, "xdp_attach", how, sizeof(how));
	ASSERT_STREQ(how, "direct", "status says direct");
	ASSERT_TRUE(status_int(n.host_if, "xdp_link_id") > 0, "own link");
	ASSERT_EQ(xdp_prog_on(n.host_ifindex),
		  (__u32)status_int(n.host_if, "xdp_prog_id"), "on the hook");
	ASSERT_TRUE(ping_ok(&n, 2), "ping");
	/* Counted by the XDP program of the second object instance, into
	 * the maps of the first. */
	key_icmp4(&k, FLOWBPF_DIR_INGRESS, n.peer_ip, n.host_ip, 0, 0);
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &f), "reply flow"))
		ASSERT_EQ(f.packets, 2, "replies counted");
	/* Another tool takes the program off: status tells. */
	ASSERT_OK(run(NULL, NULL, "bpftool link detach pinned %s/%s/%s",
		      FLOWBPF_PIN_ROOT, n.host_if, FLOWBPF_PIN_LINK_XDP),
		  "link detached");
	status_key(n.host_if, "xdp_attach", how, sizeof(how));
	ASSERT_STREQ(how, "detached", "status says detached");
	ASSERT_OK(run(NULL, NULL, "%s detach %s", flowbpf_bin(), n.host_if),
		  "detach");
	ASSERT_EQ(xdp_prog_on(n.host_ifindex), 0, "no XDP after detach");

	/* Direct wants the hook alone. */
	if (!ASSERT_OK(run(NULL, NULL, "xdp-filter load %s", n.host_if),
		       "xdp-filter load"))
		goto out;
	free(err), err = NULL;
	ASSERT_EQ(run(NULL, &err, "%s attach %s --xdp-attach direct",
		      flowbpf_bin(), n.host_if),
		  1, "direct refused");
	ASSERT_HAS(err, "needs the hook to itself", "why");
	ASSERT_FALSE(pins_exist(n.host_if), "no pins");
out:
	free(err);
	cleanup(&n);
}

void test_coexist(void)
{
	if (test__start_subtest("filter_first"))
		subtest_filter_first();
	if (test__start_subtest("flowbpf_first"))
		subtest_flowbpf_first();
	if (test__start_subtest("detach_keeps_other"))
		subtest_detach_keeps_other();
	if (test__start_subtest("tc_egress_chain"))
		tc_chain(false);
	if (test__start_subtest("tc_ingress_chain"))
		tc_chain(true);
	if (test__start_subtest("fallback"))
		subtest_fallback();
}
