// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Tunnels through real kernel devices: a vxlan, geneve, gre, ipip or sit
 * device in the root namespace and its twin in the test's namespace,
 * over the veth pair that flowbpf sits on (the underlay).  Traffic goes
 * through the overlay; flowbpf counts the inner flows (--decap inner)
 * with the tunnel in the key, or the outer ones (the default), exactly:
 * ping's counts and the TCP socket's own segment counts.  Enforce mode
 * denies one inner port inside a tunnel while another passes.  flowbpf
 * on a device without Ethernet header (tun, gre, ipip) counts and
 * enforces the same.  A kernel without a device type skips its cases.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <bpf/bpf.h>
#include "flowfmt.h"
#include "loader.h"
#include "log.h"
#include "netns.h"
#include "policy.h"
#include "test.h"
#include "test_collect.h"

#define PORT_OK 5311
#define PORT_DENY 5312
#define PINGS 5

struct tun_kind {
	const char *name;
	__u8 type;
	__u32 id;
	bool eth; /* inner Ethernet: static neighbours, so no ARP */
	bool v6; /* IPv6 inside */
	__u8 outer_proto;
	__u32 outer_extra; /* outer bytes a packet adds */
};

static const struct tun_kind kinds[] = {
	{ "vxlan", FLOWBPF_TUN_VXLAN, 100, true, false, 17, 20 + 8 + 8 + 14 },
	{ "geneve", FLOWBPF_TUN_GENEVE, 200, true, false, 17, 20 + 8 + 8 + 14 },
	{ "gre", FLOWBPF_TUN_GRE, 300, false, false, 47, 20 + 4 + 4 },
	{ "ipip", FLOWBPF_TUN_IPIP, 0, false, false, 4, 20 },
	{ "sit", FLOWBPF_TUN_SIT, 0, false, true, 41, 20 },
};

struct tnet {
	struct test_net n;
	const struct tun_kind *k;
	char dev[IF_NAMESIZE]; /* root side of the tunnel */
	char ov_host[48], ov_peer[48]; /* overlay addresses */
	__u32 id; /* the tunnel's id: the kind's, apart per runner */
};

/* The overlay's /30: the one net_setup would give this runner's test
 * 50 places on, which no test of this runner uses meanwhile. */
static void overlay_v4(const struct test_net *n, char *h, char *p)
{
	unsigned int pid = 0, idx = 0, sub, a;

	sscanf(n->host_if, "fbt%uh%u", &pid, &idx);
	sub = (pid % 327) * 100 + (idx + 50) % 100;
	a = (sub * 4) & 0x1ffff;
	snprintf(h, 48, "198.%u.%u.%u", 18 + (a >> 16), (a >> 8) & 0xff,
		 (a & 0xff) + 1);
	snprintf(p, 48, "198.%u.%u.%u", 18 + (a >> 16), (a >> 8) & 0xff,
		 (a & 0xff) + 2);
}

static void link_args(const struct tun_kind *k, __u32 id, const char *local,
		      const char *remote, const char *dev, char *buf,
		      size_t len)
{
	if (k->type == FLOWBPF_TUN_VXLAN)
		snprintf(buf, len,
			 "vxlan id %u local %s remote %s dstport 4789 dev %s",
			 id, local, remote, dev);
	else if (k->type == FLOWBPF_TUN_GENEVE)
		snprintf(buf, len, "geneve id %u remote %s", id, remote);
	else if (k->type == FLOWBPF_TUN_GRE)
		snprintf(buf, len, "gre local %s remote %s key %u", local,
			 remote, id);
	else
		snprintf(buf, len, "%s local %s remote %s", k->name, local,
			 remote);
}

/* 0, -EOPNOTSUPP (the kernel has no such device) or -EIO. */
static int tnet_setup(struct tnet *t, const struct tun_kind *k)
{
	char a[160], b[160], *err = NULL, pfx[8];
	unsigned int pid = 0, idx = 0;
	int ret;

	memset(t, 0, sizeof(*t));
	t->k = k;
	if (net_setup(&t->n))
		return -EIO;
	sscanf(t->n.host_if, "fbt%uh%u", &pid, &idx);
	snprintf(t->dev, sizeof(t->dev), "fbt%ut%u", pid, idx);
	/* Runners in parallel may not share a VNI on one UDP port. */
	t->id = k->id ? k->id + (pid % 10000) * 1000 + idx : 0;
	if (k->v6) {
		snprintf(t->ov_host, sizeof(t->ov_host), "fd00:f1b:%x:%x::1",
			 pid, idx);
		snprintf(t->ov_peer, sizeof(t->ov_peer), "fd00:f1b:%x:%x::2",
			 pid, idx);
		snprintf(pfx, sizeof(pfx), "64");
	} else {
		overlay_v4(&t->n, t->ov_host, t->ov_peer);
		snprintf(pfx, sizeof(pfx), "30");
	}
	link_args(k, t->id, t->n.host_ip, t->n.peer_ip, t->n.host_if, a,
		  sizeof(a));
	link_args(k, t->id, t->n.peer_ip, t->n.host_ip, t->n.peer_if, b,
		  sizeof(b));
	ret = run(NULL, &err, "ip link add %s type %s", t->dev, a);
	if (ret) {
		bool absent = err && strstr(err, "Unknown device type");

		free(err);
		return absent ? -EOPNOTSUPP : -EIO;
	}
	free(err);
	/* IPv6 only where it is the payload: no autoconf chatter. */
	ret = run(
		NULL, NULL,
		"set -e; ip -n %s link add fbttun type %s; "
		"if [ %d = 0 ]; then sysctl -qw net.ipv6.conf.%s.disable_ipv6=1; "
		"ip netns exec %s sysctl -qw net.ipv6.conf.fbttun.disable_ipv6=1; fi; "
		"ip addr add %s/%s dev %s; ip link set %s up; "
		"ip -n %s addr add %s/%s dev fbttun; ip -n %s link set fbttun up",
		t->n.ns, b, k->v6, t->dev, t->n.ns, t->ov_host, pfx, t->dev,
		t->dev, t->n.ns, t->ov_peer, pfx, t->n.ns);
	if (!ret && k->eth)
		ret = run(
			NULL, NULL,
			"set -e; ip neigh replace %s dev %s nud permanent lladdr "
			"$(ip netns exec %s cat /sys/class/net/fbttun/address); "
			"ip -n %s neigh replace %s dev fbttun nud permanent lladdr "
			"$(cat /sys/class/net/%s/address)",
			t->ov_peer, t->dev, t->n.ns, t->n.ns, t->ov_host,
			t->dev);
	return ret ? -EIO : 0;
}

static void tnet_cleanup(struct tnet *t)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/fs/bpf/flowbpf/%s", t->dev);
	if (t->dev[0] && !access(path, F_OK))
		run(NULL, NULL, "%s detach %s", flowbpf_bin(), t->dev);
	if (t->dev[0])
		run(NULL, NULL, "ip link del %s 2>/dev/null", t->dev);
	net_cleanup(&t->n);
}

/* Sets up kind k or says why the subtest is skipped; true to go on. */
static bool tnet_start(struct tnet *t, const struct tun_kind *k)
{
	int err = tnet_setup(t, k);

	if (err == -EOPNOTSUPP) {
		test__skip("this kernel has no %s devices", k->name);
		tnet_cleanup(t);
		return false;
	}
	if (!ASSERT_OK(err, "tunnel setup")) {
		tnet_cleanup(t);
		return false;
	}
	return true;
}

static int ping_received(const char *ip, int count)
{
	char *out = NULL;
	int got = -1;
	const char *p;

	run(&out, NULL, "ping -c %d -i 0.1 -W 1 %s", count, ip);
	p = out ? strstr(out, " received") : NULL;
	if (p) {
		while (p > out && p[-1] >= '0' && p[-1] <= '9')
			p--;
		got = atoi(p);
	}
	free(out);
	return got;
}

static void key_addr(__be32 *a, const char *ip)
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, ip, &a[3]) == 1)
		a[2] = htonl(0xffff);
	else
		inet_pton(AF_INET6, ip, a);
}

/* The key of an overlay flow between the overlay addresses. */
static void ov_key(struct flowbpf_key *k, const struct tnet *t, __u8 dir,
		   bool from_host, __u8 proto, __u16 sport, __u16 dport,
		   bool tunnelled)
{
	memset(k, 0, sizeof(*k));
	k->dir = dir;
	k->family = t->k->v6 ? 6 : 4;
	k->proto = proto;
	k->sport = htons(sport);
	k->dport = htons(dport);
	key_addr(k->saddr, from_host ? t->ov_host : t->ov_peer);
	key_addr(k->daddr, from_host ? t->ov_peer : t->ov_host);
	if (tunnelled) {
		k->tun_type = t->k->type;
		k->tun_id = t->id;
	}
}

/* The echo request and reply flows of PINGS pings, on ifname. */
static void check_pings(const struct tnet *t, const char *ifname,
			bool tunnelled)
{
	__u8 proto = t->k->v6 ? 58 : 1;
	__u16 req = t->k->v6 ? 128 << 8 : 8 << 8;
	__u16 rep = t->k->v6 ? 129 << 8 : 0;
	__u32 len = t->k->v6 ? 104 : 84;
	struct flowbpf_flow f;
	struct flowbpf_key k;

	ov_key(&k, t, FLOWBPF_DIR_EGRESS, true, proto, 0, req, tunnelled);
	if (ASSERT_OK(pinned_flow(ifname, &k, &f), "echo request flow")) {
		ASSERT_EQ(f.packets, PINGS, "requests");
		ASSERT_EQ(f.bytes, PINGS * len, "request bytes");
	}
	ov_key(&k, t, FLOWBPF_DIR_INGRESS, false, proto, 0, rep, tunnelled);
	if (ASSERT_OK(pinned_flow(ifname, &k, &f), "echo reply flow")) {
		ASSERT_EQ(f.packets, PINGS, "replies");
		ASSERT_EQ(f.bytes, PINGS * len, "reply bytes");
	}
}

struct srv_arg {
	const char *ip;
	bool v6;
	int port;
};

static int sa_fill(struct sockaddr_storage *ss, const char *ip, int port)
{
	struct sockaddr_in *a = (void *)ss;
	struct sockaddr_in6 *a6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &a->sin_addr) == 1) {
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		return sizeof(*a);
	}
	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(port);
	inet_pton(AF_INET6, ip, &a6->sin6_addr);
	return sizeof(*a6);
}

/* One connection: reads it to its end, then closes. */
static int sink_server(void *arg)
{
	const struct srv_arg *s = arg;
	struct sockaddr_storage ss;
	int len = sa_fill(&ss, s->ip, s->port), fd, c, one = 1;
	char buf[65536];
	struct pollfd p;

	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (void *)&ss, len) || listen(fd, 4))
		return 1;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&p, 1, 10000) != 1)
		return 2;
	c = accept(fd, NULL, NULL);
	while (c >= 0 && read(c, buf, sizeof(buf)) > 0)
		;
	close(c);
	close(fd);
	return 0;
}

/*
 * A TCP transfer through the overlay; the egress and ingress flows of
 * the connection count the segments the socket says it sent and got.
 */
static void check_tcp(const struct tnet *t, const char *ifname, bool tunnelled)
{
	struct srv_arg s = { t->ov_peer, t->k->v6, 5313 };
	static char data[256 << 10];
	struct sockaddr_storage ss, me;
	socklen_t ml = sizeof(me), il;
	struct tcp_info ti;
	struct flowbpf_flow f;
	struct flowbpf_key k;
	int pid, fd, len, i;
	size_t off = 0;
	char buf[512];
	ssize_t r;

	pid = ns_fork(t->n.ns, sink_server, &s, false);
	if (!ASSERT_GE(pid, 1, "server"))
		return;
	len = sa_fill(&ss, t->ov_peer, s.port);
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	for (i = 0; i < 50; i++) {
		if (!connect(fd, (void *)&ss, len))
			break;
		close(fd);
		usleep(50000);
		fd = socket(ss.ss_family, SOCK_STREAM, 0);
	}
	if (!ASSERT_LE(i, 49, "connect")) {
		close(fd);
		ns_wait(pid, 12000);
		return;
	}
	while (off < sizeof(data) &&
	       (r = write(fd, data + off, sizeof(data) - off)) > 0)
		off += r;
	shutdown(fd, SHUT_WR);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	getsockname(fd, (void *)&me, &ml);
	il = sizeof(ti);
	getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &il);
	close(fd);
	ASSERT_EQ(ns_wait(pid, 5000), 0, "server read everything");
	ASSERT_EQ(off, sizeof(data), "sent");

	ov_key(&k, t, FLOWBPF_DIR_EGRESS, true, 6,
	       ntohs(((struct sockaddr_in *)&me)->sin_port), s.port, tunnelled);
	if (me.ss_family == AF_INET6)
		k.sport = ((struct sockaddr_in6 *)&me)->sin6_port;
	if (ASSERT_OK(pinned_flow(ifname, &k, &f), "tcp egress flow"))
		ASSERT_EQ(f.packets, ti.tcpi_segs_out, "segments sent");
	ov_key(&k, t, FLOWBPF_DIR_INGRESS, false, 6, s.port, 0, tunnelled);
	k.dport = me.ss_family == AF_INET6
			  ? ((struct sockaddr_in6 *)&me)->sin6_port
			  : ((struct sockaddr_in *)&me)->sin_port;
	if (ASSERT_OK(pinned_flow(ifname, &k, &f), "tcp ingress flow"))
		ASSERT_EQ(f.packets, ti.tcpi_segs_in, "segments received");
}

/* Sums the flows of ifname with direction dir and protocol proto
 * between the underlay addresses; *tunnelled counts keys with a tunnel. */
static int outer_sum(const struct tnet *t, __u8 dir, __u8 proto, __u64 *packets,
		     __u64 *bytes, int *tunnelled)
{
	struct flowbpf_key k, next, want;
	struct flowbpf_handle h;
	struct flowbpf_flow f;
	void *prev = NULL;
	int err;

	*packets = *bytes = 0;
	*tunnelled = 0;
	err = flowbpf_open(t->n.host_if, &h);
	if (err)
		return err;
	memset(&want, 0, sizeof(want));
	key_addr(want.saddr,
		 dir == FLOWBPF_DIR_EGRESS ? t->n.host_ip : t->n.peer_ip);
	key_addr(want.daddr,
		 dir == FLOWBPF_DIR_EGRESS ? t->n.peer_ip : t->n.host_ip);
	while (!bpf_map_get_next_key(h.fd[FB_MAP_FLOWS], prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(h.fd[FB_MAP_FLOWS], &k, &f))
			continue;
		*tunnelled += k.tun_type != 0;
		if (k.dir != dir || k.proto != proto ||
		    memcmp(k.saddr, want.saddr, 16) ||
		    memcmp(k.daddr, want.daddr, 16))
			continue;
		*packets += f.packets;
		*bytes += f.bytes;
	}
	flowbpf_close(&h);
	return 0;
}

/* A UDP socket bound on loopback, so that the datagrams sent to it are
 * not refused; its port in *port. */
static int udp_sink(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &al)) {
		close(fd);
		return -errno;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/*
 * The collector's records, as JSON lines into path and, for VXLAN, as
 * IPFIX to loopback, captured by tshark; then Wireshark's IPFIX dissector
 * must decode layer2SegmentId (VxLAN, the VNI) and an MPLS label of 0 in
 * the inner flow's records.
 */
static void collect_records(const struct tnet *t, const char *path)
{
	char pcap[64], *out = NULL, want[32];
	int fd, port = 0;

	if (t->k->type != FLOWBPF_TUN_VXLAN || !have_tool("tshark")) {
		run(NULL, NULL, "timeout -s INT 1 %s collect %s -o - > %s",
		    flowbpf_bin(), t->n.host_if, path);
		return;
	}
	fd = udp_sink(&port);
	if (!ASSERT_GE(fd, 0, "UDP socket for the IPFIX export"))
		return;
	snprintf(pcap, sizeof(pcap), "/tmp/fbtrec-%d.pcap", getpid());
	ASSERT_OK(
		run(NULL, NULL,
		    "tshark -i lo -f 'udp dst port %d' -w %s >%s.log 2>&1 & "
		    "ws=$!; for i in $(seq 100); do "
		    "grep -q 'Capturing on' %s.log && break; sleep 0.1; done; "
		    "timeout -s INT 1 %s collect %s -o - --ipfix 127.0.0.1:%d "
		    "> %s; sleep 0.5; kill -INT $ws; wait $ws; "
		    "grep -q 'Capturing on' %s.log",
		    port, pcap, pcap, pcap, flowbpf_bin(), t->n.host_if, port,
		    path, pcap),
		"tshark captures the IPFIX export");
	close(fd);
	run(&out, NULL,
	    "tshark -r %s -d udp.port==%d,cflow -Y 'cflow.dstaddr == %s' "
	    "-T fields -E occurrence=a -e cflow.layer2_segment_id "
	    "-e cflow.mpls_label; rm -f %s %s.log",
	    pcap, port, t->ov_peer, pcap, pcap);
	snprintf(want, sizeof(want), "%llu\t0",
		 (unsigned long long)(1ULL << 56 | t->id));
	ASSERT_HAS(out, want,
		   "tshark: layer2SegmentId VxLAN and the VNI, MPLS label 0");
	free(out);
}

/* The collector's records of the inner flows name the tunnel, and its
 * outer endpoints. */
static void check_records(const struct tnet *t)
{
	char want[128], path[64], *out = NULL;

	/* At its stop it reports every live flow. */
	snprintf(path, sizeof(path), "/tmp/fbtrec-%d", getpid());
	collect_records(t, path);
	run(&out, NULL,
	    "grep '\"dst\":\"%s\"' /tmp/fbtrec-%d; rm -f /tmp/fbtrec-%d",
	    t->ov_peer, getpid(), getpid());
	snprintf(want, sizeof(want), "\"tunnel\":\"%s\"", t->k->name);
	ASSERT_HAS(out, want, "record names the tunnel");
	if (t->id) {
		snprintf(want, sizeof(want), "\"tunnel_id\":%u", t->id);
		ASSERT_HAS(out, want, "and its id");
	}
	snprintf(want, sizeof(want),
		 "\"outer_src\":\"%s\",\"outer_dst\":\"%s\"", t->n.host_ip,
		 t->n.peer_ip);
	ASSERT_HAS(out, want, "and its outer endpoints");
	free(out);
}

static void subtest_inner(const struct tun_kind *kind)
{
	struct flowbpf_tunnel_key tk = { .dir = FLOWBPF_DIR_EGRESS,
					 .tun_type = kind->type };
	struct flowbpf_tunnel tv;
	struct flowbpf_stats st;
	__be32 want[4];
	struct tnet t;
	int fd;

	if (!tnet_start(&t, kind))
		return;
	tk.tun_id = t.id;
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s --decap inner",
			   flowbpf_bin(), t.n.host_if),
		       "attach --decap inner"))
		goto out;
	ASSERT_EQ(ping_received(t.ov_peer, PINGS), PINGS, "pings answered");
	check_pings(&t, t.n.host_if, true);
	check_tcp(&t, t.n.host_if, true);

	/* The outer endpoints, kept for the records. */
	fd = flowbpf_pin_get(t.n.host_if, FB_MAP_TUNNELS);
	if (ASSERT_GE(fd, 0, "tunnels map") &&
	    ASSERT_OK(bpf_map_lookup_elem(fd, &tk, &tv), "tunnel entry")) {
		ASSERT_EQ(tv.family, 4, "outer family");
		key_addr(want, t.n.host_ip);
		ASSERT_EQ(memcmp(tv.saddr, want, 16), 0, "outer source");
		key_addr(want, t.n.peer_ip);
		ASSERT_EQ(memcmp(tv.daddr, want, 16), 0, "outer destination");
	}
	if (fd >= 0)
		close(fd);
	if (ASSERT_OK(pinned_stats(t.n.host_if, &st), "stats"))
		ASSERT_EQ(st.c[FLOWBPF_STAT_ERR_TUNNEL], 0, "no tunnel errors");
	check_records(&t);
out:
	tnet_cleanup(&t);
}

static void subtest_outer(const struct tun_kind *kind)
{
	__u64 packets, bytes;
	int tunnelled;
	struct tnet t;

	if (!tnet_start(&t, kind))
		return;
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
			   t.n.host_if),
		       "attach (outer, the default)"))
		goto out;
	ASSERT_EQ(ping_received(t.ov_peer, PINGS), PINGS, "pings answered");
	if (ASSERT_OK(outer_sum(&t, FLOWBPF_DIR_EGRESS, kind->outer_proto,
				&packets, &bytes, &tunnelled),
		      "egress flows")) {
		ASSERT_EQ(packets, PINGS, "outer requests");
		ASSERT_EQ(bytes, PINGS * (84 + kind->outer_extra),
			  "outer request bytes");
		ASSERT_EQ(tunnelled, 0, "no inner flows");
	}
	if (ASSERT_OK(outer_sum(&t, FLOWBPF_DIR_INGRESS, kind->outer_proto,
				&packets, &bytes, &tunnelled),
		      "ingress flows")) {
		ASSERT_EQ(packets, PINGS, "outer replies");
		ASSERT_EQ(bytes, PINGS * (84 + kind->outer_extra),
			  "outer reply bytes");
	}
out:
	tnet_cleanup(&t);
}

/* Listens on both ports of the overlay address in the test namespace. */
static int listener(void *arg)
{
	const char *ip = arg;
	int ports[2] = { PORT_OK, PORT_DENY }, i, one = 1;

	for (i = 0; i < 2; i++) {
		struct sockaddr_storage ss;
		int len = sa_fill(&ss, ip, ports[i]);
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);

		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (void *)&ss, len) || listen(fd, 64))
			return 1;
	}
	sleep(30);
	return 0;
}

/* 0 if a TCP connection completes within timeout_ms. */
static int try_connect(const char *ip, int port, int timeout_ms)
{
	struct sockaddr_storage ss;
	int len = sa_fill(&ss, ip, port), fd, err = -1;
	socklen_t l = sizeof(err);
	struct pollfd p;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (connect(fd, (void *)&ss, len) && errno != EINPROGRESS)
		goto out;
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, timeout_ms) != 1)
		goto out;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
out:
	close(fd);
	return err;
}

/*
 * A policy on the inner flow and the tunnel: PORT_DENY is denied in this
 * tunnel; a rule for the same port in another tunnel id, or in none,
 * must not catch PORT_OK.  ifname is the underlay veth or the tunnel
 * device itself (then the flows have no tunnel).
 */
static void enforce_ports(struct tnet *t, const char *ifname, const char *decap,
			  const char *tun)
{
	struct test_daemon d = { .pid = -1 };
	struct flowbpf_stats st;
	char text[512];
	int srv;

	snprintf(
		text, sizeof(text),
		"default allow;\n"
		"rule \"other-tunnel\" deny dir out proto tcp tunnel %s dport %d;\n"
		"rule \"in-tunnel\" deny dir out proto tcp tunnel %s dport %d;\n",
		t->k->type == FLOWBPF_TUN_MPLS ? "gre:1" : "mpls:16", PORT_OK,
		tun, PORT_DENY);
	if (!ASSERT_OK(run(NULL, NULL,
			   "%s attach %s --mode enforce --pending drop %s",
			   flowbpf_bin(), ifname, decap),
		       "attach enforce"))
		return;
	srv = ns_fork(t->n.ns, listener, t->ov_peer, false);
	if (!ASSERT_OK(test_daemon_start(&d, "tun", ifname, text), "daemon"))
		goto out;
	usleep(200000);
	/* The SYN waits for the verdict (pending drop), then is resent. */
	ASSERT_OK(try_connect(t->ov_peer, PORT_OK, 4000), "allowed port");
	ASSERT_ERR(try_connect(t->ov_peer, PORT_DENY, 2500), "denied port");
	if (ASSERT_OK(pinned_stats(ifname, &st), "stats"))
		ASSERT_GE(st.c[FLOWBPF_STAT_DROP], 1, "SYNs dropped");
out:
	test_daemon_cleanup(&d);
	if (srv > 0) {
		kill(srv, SIGKILL);
		ns_wait(srv, 1000);
	}
}

static void subtest_enforce(const struct tun_kind *kind)
{
	char tun[32];
	struct tnet t;

	if (!tnet_start(&t, kind))
		return;
	if (t.id)
		snprintf(tun, sizeof(tun), "%s:%u", kind->name, t.id);
	else
		snprintf(tun, sizeof(tun), "%s", kind->name);
	enforce_ports(&t, t.n.host_if, "--decap inner", tun);
	tnet_cleanup(&t);
}

/* flowbpf on the tunnel device itself: frames start at the IP header. */
static void subtest_l3_kernel(const struct tun_kind *kind)
{
	char *out = NULL;
	struct tnet t;

	if (!tnet_start(&t, kind))
		return;
	if (!ASSERT_OK(run(&out, NULL, "%s -j attach %s", flowbpf_bin(), t.dev),
		       "attach to the tunnel device"))
		goto out;
	ASSERT_HAS(out, "\"ingress\":\"tc\"", "tc serves ingress");
	ASSERT_HAS(out, "\"link\":\"ip\"", "parsed from the IP header");
	free(out);
	out = NULL;
	run(&out, NULL, "%s -j status %s", flowbpf_bin(), t.dev);
	ASSERT_HAS(out, "\"link\":\"ip\"", "status says so");
	ASSERT_EQ(ping_received(t.ov_peer, PINGS), PINGS, "pings answered");
	check_pings(&t, t.dev, false);
	check_tcp(&t, t.dev, false);
	run(NULL, NULL, "%s detach %s", flowbpf_bin(), t.dev);
	enforce_ports(&t, t.dev, "", "none");
out:
	free(out);
	tnet_cleanup(&t);
}

/* An Internet checksum over len bytes. */
static __u16 csum(const __u8 *p, size_t len)
{
	__u32 sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* The peer behind a tun device: answers IPv4 echo requests for 20 s. */
static int tun_responder(int fd)
{
	__u8 pkt[2048], tmp[4];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int i;

	for (i = 0; i < 200; i++) {
		__u32 ihl;
		__u16 c;

		if (poll(&p, 1, 100) != 1)
			continue;
		n = read(fd, pkt, sizeof(pkt));
		if (n < 28 || pkt[0] >> 4 != 4 || pkt[9] != 1)
			continue;
		ihl = (pkt[0] & 15) * 4;
		if ((size_t)n < ihl + 8 || pkt[ihl] != 8)
			continue;
		memcpy(tmp, pkt + 12, 4);
		memcpy(pkt + 12, pkt + 16, 4);
		memcpy(pkt + 16, tmp, 4);
		pkt[ihl] = 0;
		pkt[ihl + 2] = pkt[ihl + 3] = 0;
		c = csum(pkt + ihl, n - ihl);
		pkt[ihl + 2] = c >> 8;
		pkt[ihl + 3] = c & 0xff;
		if (write(fd, pkt, n) != n)
			return 1;
	}
	return 0;
}

/*
 * A tun device (no link-layer header at all, ARPHRD_NONE) with its peer
 * in this process: pings are counted in both directions, and a manual
 * verdict on the replies' flow stops them.
 */
static void subtest_l3_tun(void)
{
	static const struct tun_kind plain = { "tun", 0, 0, false, false, 0, 0 };
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	struct flowbpf_stats st;
	unsigned int pid = 0, idx = 0;
	char *out = NULL;
	struct tnet t;
	int fd = -1, child = -1;

	memset(&t, 0, sizeof(t));
	t.k = &plain;
	if (!ASSERT_OK(net_setup(&t.n), "net_setup"))
		return;
	sscanf(t.n.host_if, "fbt%uh%u", &pid, &idx);
	snprintf(t.dev, sizeof(t.dev), "fbt%uu%u", pid, idx);
	overlay_v4(&t.n, t.ov_host, t.ov_peer);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* A minimal /dev (the VM's) may lack the node until the
		 * module is there: misc device 10:200. */
		run(NULL, NULL,
		    "modprobe tun 2>/dev/null; [ -e /dev/net/tun ] || "
		    "{ mkdir -p /dev/net && mknod /dev/net/tun c 10 200; }");
		fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	}
	if (fd < 0 && (errno == ENOENT || errno == ENODEV)) {
		test__skip("this kernel has no tun device (/dev/net/tun)");
		goto out;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t.dev);
	if (!ASSERT_GE(fd, 0, "open /dev/net/tun") ||
	    !ASSERT_OK(ioctl(fd, TUNSETIFF, &ifr), "TUNSETIFF"))
		goto out;
	if (!ASSERT_OK(run(NULL, NULL,
			   "set -e; sysctl -qw net.ipv6.conf.%s.disable_ipv6=1; "
			   "ip addr add %s/30 dev %s; ip link set %s up",
			   t.dev, t.ov_host, t.dev, t.dev),
		       "tun setup"))
		goto out;
	child = fork();
	if (!child)
		_exit(tun_responder(fd));
	if (!ASSERT_OK(run(&out, NULL,
			   "%s -j attach %s --mode enforce --pending pass",
			   flowbpf_bin(), t.dev),
		       "attach to tun"))
		goto out;
	ASSERT_HAS(out, "\"ingress\":\"tc\"", "tc serves ingress");
	ASSERT_HAS(out, "\"link\":\"ip\"", "parsed from the IP header");
	ASSERT_EQ(ping_received(t.ov_peer, PINGS), PINGS, "pings answered");
	check_pings(&t, t.dev, false);
	ASSERT_OK(run(NULL, NULL,
		      "%s verdict set %s in icmp %s %s type 0 code 0 drop",
		      flowbpf_bin(), t.dev, t.ov_peer, t.ov_host),
		  "verdict set drop");
	ASSERT_EQ(ping_received(t.ov_peer, 3), 0, "replies dropped");
	if (ASSERT_OK(pinned_stats(t.dev, &st), "stats")) {
		ASSERT_EQ(st.c[FLOWBPF_STAT_DROP], 3, "drop verdicts");
		ASSERT_EQ(st.c[FLOWBPF_STAT_NON_IP], 0, "every frame IP");
	}
out:
	free(out);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (fd >= 0)
		close(fd);
	tnet_cleanup(&t);
}

/* FLOW specs and policy rules name the tunnel; both parse back. */
static void subtest_syntax(void)
{
	char *ok[] = { "out udp 198.18.0.1:5 198.18.0.2:53 tunnel vxlan:7" };
	char *bad[][1] = {
		{ "out udp 198.18.0.1:5 198.18.0.2:53 tunnel vxlan" },
		{ "out udp 198.18.0.1:5 198.18.0.2:53 tunnel ipip:3" },
		{ "out udp 198.18.0.1:5 198.18.0.2:53 tunnel vxlan:16777216" },
		{ "out udp 198.18.0.1:5 198.18.0.2:53 tunnel foo" }
	};
	struct flow_ctx fc = { .ifname = "x" };
	struct flowbpf_key k, k2;
	struct policy *p;
	char buf[160];
	size_t i;

	if (ASSERT_OK(flow_spec_parse(1, ok, &k), "FLOW with a tunnel")) {
		ASSERT_EQ(k.tun_type, FLOWBPF_TUN_VXLAN, "type");
		ASSERT_EQ(k.tun_id, 7, "id");
		flow_spec_str(&k, buf, sizeof(buf));
		ASSERT_STREQ(buf, ok[0], "printed as written");
		ok[0] = buf;
		ASSERT_OK(flow_spec_parse(1, ok, &k2), "parsed back");
		ASSERT_EQ(memcmp(&k, &k2, sizeof(k)), 0, "the same key");
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_ERR(flow_spec_parse(1, bad[i], &k2), bad[i][0]);

	p = policy_parse("t", "default allow;\n"
			      "rule deny proto udp tunnel vxlan:7 dport 53;\n"
			      "rule deny proto udp tunnel gre dport 53;\n"
			      "rule deny proto udp tunnel none dport 54;\n");
	if (!ASSERT_OK_PTR(p, err_get()))
		return;
	ASSERT_EQ(policy_match(p, &k, &fc), 0, "vxlan:7 rule");
	k.tun_id = 8;
	ASSERT_EQ(policy_match(p, &k, &fc), -1, "another VNI: no rule");
	k.tun_type = FLOWBPF_TUN_GRE;
	ASSERT_EQ(policy_match(p, &k, &fc), 1, "any GRE key");
	k.tun_type = 0;
	k.tun_id = 0;
	ASSERT_EQ(policy_match(p, &k, &fc), -1, "not tunnelled, port 53");
	k.dport = htons(54);
	ASSERT_EQ(policy_match(p, &k, &fc), 2, "tunnel none");
	policy_free(p);
	p = policy_parse("t", "default allow;\nrule deny tunnel vxlan:x;\n");
	ASSERT_TRUE(!p && strstr(err_get(), "invalid tunnel"),
		    "bad tunnel refused");
	policy_free(p);
}

/* Inner flows, one subtest per kind of tunnel in [from, to). */
static void inner_kinds(size_t from, size_t to)
{
	char name[64];
	size_t i;

	for (i = from; i < to; i++) {
		snprintf(name, sizeof(name), "inner_%s", kinds[i].name);
		if (test__start_subtest(name))
			subtest_inner(&kinds[i]);
	}
}

/*
 * Three tests, not one: each has its own deadline, and each subtest
 * takes about a minute in the emulated VM (docs/testing.md).
 */
void test_tunnels(void)
{
	if (test__start_subtest("syntax"))
		subtest_syntax();
	inner_kinds(0, 3);
}

void test_tunnels_ip(void)
{
	inner_kinds(3, sizeof(kinds) / sizeof(kinds[0]));
	/* Outer flows: a UDP and an IP-protocol tunnel (no IPv6 inside,
	 * whose link-local chatter would be in the outer flow). */
	if (test__start_subtest("outer_vxlan"))
		subtest_outer(&kinds[0]);
	if (test__start_subtest("outer_gre"))
		subtest_outer(&kinds[2]);
}

void test_tunnels_enforce(void)
{
	if (test__start_subtest("enforce_vxlan"))
		subtest_enforce(&kinds[0]);
	if (test__start_subtest("l3_gre"))
		subtest_l3_kernel(&kinds[2]);
	if (test__start_subtest("l3_tun"))
		subtest_l3_tun();
}
