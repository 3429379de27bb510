// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Frames the parser cannot judge, on real traffic: IPv6 datagrams behind
 * more Destination Options headers than the parser walks.  Linux delivers
 * them, so in enforce mode they are dropped (--malformed drop, the
 * default); --malformed pass lets them through, which shows the bypass
 * this closes.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include "netns.h"
#include "test.h"

#define DENIED_PORT 9090
#define OPEN_PORT 9091
#define MAX_OPTS 20

struct v6send {
	const char *ifname;
	__u8 dmac[ETH_ALEN];
	struct in6_addr src, dst;
	int opts; /* Destination Options headers before UDP */
	__u16 dport;
};

static __u32 sum16(const void *p, size_t len, __u32 s)
{
	const __u8 *b = p;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += b[i] << 8 | b[i + 1];
	if (len & 1)
		s += b[len - 1] << 8;
	return s;
}

static __u16 fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

/* Ethernet, IPv6, opts 8-byte Destination Options headers, UDP with a
 * 4-byte payload; returns the frame length. */
static size_t v6_frame(const struct v6send *v, __u8 *f, const __u8 *smac)
{
	size_t l4 = ETH_HLEN + 40 + 8 * v->opts, i;
	__u8 *ip = f + ETH_HLEN, *udp = f + l4;
	__u32 s;

	memset(f, 0, l4 + 12);
	memcpy(f, v->dmac, ETH_ALEN);
	memcpy(f + 6, smac, ETH_ALEN);
	f[12] = 0x86, f[13] = 0xdd;
	ip[0] = 0x60;
	ip[4] = (8 * v->opts + 12) >> 8, ip[5] = (8 * v->opts + 12) & 0xff;
	ip[6] = v->opts ? 60 : IPPROTO_UDP;
	ip[7] = 64;
	memcpy(ip + 8, &v->src, 16);
	memcpy(ip + 24, &v->dst, 16);
	for (i = 0; i < (size_t)v->opts; i++) {
		__u8 *h = ip + 40 + 8 * i;

		h[0] = i + 1 < (size_t)v->opts ? 60 : IPPROTO_UDP;
		h[2] = 1, h[3] = 4; /* PadN over the 4 bytes left */
	}
	udp[0] = 40000 >> 8, udp[1] = 40000 & 0xff;
	udp[2] = v->dport >> 8, udp[3] = v->dport & 0xff;
	udp[5] = 12;
	memcpy(udp + 8, "ping", 4);
	s = sum16(&v->src, 16, 0);
	s = sum16(&v->dst, 16, s);
	s += 12 + IPPROTO_UDP;
	s = fold(sum16(udp, 12, s));
	udp[6] = s >> 8, udp[7] = s & 0xff;
	return l4 + 12;
}

/* Runs in the test namespace: sends the frame out of ifname 5 times. */
static int v6_sender(void *arg)
{
	struct v6send *v = arg;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_halen = ETH_ALEN };
	__u8 frame[ETH_HLEN + 40 + 8 * MAX_OPTS + 12], smac[ETH_ALEN];
	struct ifreq ifr = {};
	size_t len;
	int fd, i;

	/* ioctl, not sysfs: /sys still shows the namespace it was mounted in. */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", v->ifname);
	if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr))
		return 1;
	memcpy(smac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	sll.sll_ifindex = if_nametoindex(v->ifname);
	memcpy(sll.sll_addr, v->dmac, ETH_ALEN);
	len = v6_frame(v, frame, smac);
	for (i = 0; i < 5; i++) {
		if (sendto(fd, frame, len, 0, (void *)&sll, sizeof(sll)) !=
		    (ssize_t)len)
			return 1;
		usleep(50000);
	}
	close(fd);
	return 0;
}

/* Datagrams that reached a socket on [dst]:port within 300 ms of the
 * last one sent. */
static int v6_delivered(struct test_net *n, struct v6send *v, int opts,
			__u16 port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons(port),
				  .sin6_addr = v->dst };
	struct timeval tv = { .tv_usec = 300000 };
	char buf[64];
	int fd, got = 0;

	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (void *)&a, sizeof(a)))
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	v->opts = opts;
	v->dport = port;
	if (ns_fork(n->ns, v6_sender, v, true)) {
		close(fd);
		return -1;
	}
	while (recv(fd, buf, sizeof(buf), 0) > 0)
		got++;
	close(fd);
	return got;
}

/* IPv6 on the pair, without duplicate address detection in the way. */
static int v6_setup(struct test_net *n, struct v6send *v)
{
	char host[48], peer[48], *mac = NULL;
	int err;

	snprintf(host, sizeof(host), "fd00:18:%x::1", n->host_ifindex);
	snprintf(peer, sizeof(peer), "fd00:18:%x::2", n->host_ifindex);
	err = run(NULL, NULL,
		  "set -e; sysctl -qw net.ipv6.conf.%s.disable_ipv6=0; "
		  "ip addr add %s/64 dev %s nodad; "
		  "ip netns exec %s sysctl -qw net.ipv6.conf.%s.disable_ipv6=0; "
		  "ip -n %s addr add %s/64 dev %s nodad",
		  n->host_if, host, n->host_if, n->ns, n->peer_if, n->ns, peer,
		  n->peer_if);
	err = err || run(&mac, NULL, "cat /sys/class/net/%s/address",
			 n->host_if);
	if (!err && (!mac || sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx",
				    &v->dmac[0], &v->dmac[1], &v->dmac[2],
				    &v->dmac[3], &v->dmac[4], &v->dmac[5]) != 6))
		err = -1;
	free(mac);
	inet_pton(AF_INET6, peer, &v->src);
	inet_pton(AF_INET6, host, &v->dst);
	v->ifname = n->peer_if;
	return err;
}

static void chain(const char *malformed)
{
	struct test_daemon d = { .pid = -1 };
	struct flowbpf_stats st;
	struct v6send v = {};
	struct test_net n;
	bool drop = !strcmp(malformed, "drop");
	char *out = NULL, want[64];

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(v6_setup(&n, &v), "IPv6 addresses") ||
	    !ASSERT_OK(run(NULL, NULL,
			   "%s attach %s --mode enforce --pending drop --malformed %s",
			   flowbpf_bin(), n.host_if, malformed),
		       "attach") ||
	    !ASSERT_OK(test_daemon_start(&d, "v6c", n.host_if,
					 "rule deny proto udp dport 9090;\n"
					 "default allow;\n"),
		       "daemon"))
		goto out;
	run(&out, NULL, "%s -j status %s", flowbpf_bin(), n.host_if);
	snprintf(want, sizeof(want), "\"malformed\":\"%s\"", malformed);
	ASSERT_HAS(out, want, "status shows it");
	free(out);
	/* The first of a new flow is dropped while it waits for the daemon. */
	ASSERT_GE(v6_delivered(&n, &v, 0, OPEN_PORT), 1, "allowed port");
	ASSERT_EQ(v6_delivered(&n, &v, 0, DENIED_PORT), 0, "denied port");
	ASSERT_EQ(v6_delivered(&n, &v, 9, DENIED_PORT), drop ? 0 : 5,
		  "9 Destination Options headers");
	ASSERT_EQ(v6_delivered(&n, &v, 20, DENIED_PORT), drop ? 0 : 5,
		  "20 Destination Options headers");
	if (ASSERT_OK(pinned_stats(n.host_if, &st), "stats")) {
		ASSERT_EQ(st.c[FLOWBPF_STAT_ERR_V6_CHAIN], 10,
			  "every long chain counted");
		ASSERT_EQ(st.c[FLOWBPF_STAT_MALFORMED_DROP], drop ? 10 : 0,
			  "malformed_drops");
	}
out:
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

void test_malformed_live(void)
{
	if (test__start_subtest("ipv6_chain_dropped"))
		chain("drop");
	if (test__start_subtest("ipv6_chain_passed_when_asked"))
		chain("pass");
}
