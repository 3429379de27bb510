// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Monitor mode end to end: real traffic over a veth pair, counted exactly
 * on ingress (XDP) and egress (tc), and never dropped.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include "netns.h"
#include "test.h"

#define TCP_PORT 5201
#define UDP_PORT 5202
#define TCP_BYTES (4 << 20)
#define UDP_COUNT 10
#define UDP_PAYLOAD 100

/* Echoes UDP_COUNT datagrams back to their sender. */
static int udp_server(void *arg)
{
	struct test_srv *s = arg;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(UDP_PORT) },
			   from;
	socklen_t fl = sizeof(from);
	char buf[2048];
	int fd, i;
	ssize_t r;

	inet_pton(AF_INET, s->ip, &a.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (bind(fd, (void *)&a, sizeof(a)))
		return 2;
	if (write(s->ready[1], "x", 1) != 1)
		return 2;
	for (i = 0; i < UDP_COUNT; i++) {
		fl = sizeof(from);
		r = recvfrom(fd, buf, sizeof(buf), 0, (void *)&from, &fl);
		if (r < 0 || sendto(fd, buf, r, 0, (void *)&from, fl) != r)
			return 3;
	}
	close(fd);
	return 0;
}

static void subtest_ping(void)
{
	struct flowbpf_flow f;
	struct flowbpf_stats st;
	struct flowbpf_key k;
	struct test_net n;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s --mode monitor",
			   flowbpf_bin(), n.host_if),
		       "attach"))
		goto out;
	ASSERT_OK(run(NULL, NULL, "ping -c 5 -i 0.2 -W 2 -s 56 %s", n.peer_ip),
		  "ping");

	key_icmp4(&k, FLOWBPF_DIR_EGRESS, n.host_ip, n.peer_ip, 8, 0);
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &f), "egress echo flow")) {
		ASSERT_EQ(f.packets, 5, "egress echo packets");
		ASSERT_EQ(f.bytes, 5 * 84, "egress echo bytes");
	}
	key_icmp4(&k, FLOWBPF_DIR_INGRESS, n.peer_ip, n.host_ip, 0, 0);
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &f), "ingress reply flow")) {
		ASSERT_EQ(f.packets, 5, "ingress reply packets");
		ASSERT_EQ(f.bytes, 5 * 84, "ingress reply bytes");
		ASSERT_GE((__s32)(f.last - f.first), 0, "first <= last");
	}
	if (ASSERT_OK(pinned_stats(n.host_if, &st), "stats")) {
		ASSERT_EQ(st.c[FLOWBPF_STAT_DROP], 0, "nothing dropped");
		ASSERT_EQ(st.c[FLOWBPF_STAT_QUEUED_DROP], 0, "nothing held");
		ASSERT_GE(st.c[FLOWBPF_STAT_FLOWS_CREATED], 2, "flows created");
		ASSERT_EQ(st.c[FLOWBPF_STAT_EVENTS_SENT],
			  st.c[FLOWBPF_STAT_FLOWS_CREATED],
			  "one event per new flow");
	}
out:
	net_cleanup(&n);
}

/* TCP_BYTES to the server on fd, in writes of up to 64 KiB. */
static bool tcp_stream(int fd, const char *ip)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(TCP_PORT) };
	char *buf = calloc(1, 65536);
	bool ok = false;
	long sent = 0;
	ssize_t w;

	inet_pton(AF_INET, ip, &a.sin_addr);
	if (!ASSERT_OK(connect(fd, (void *)&a, sizeof(a)), "connect"))
		goto out;
	while (sent < TCP_BYTES) {
		long want = TCP_BYTES - sent > 65536 ? 65536 : TCP_BYTES - sent;

		w = write(fd, buf, want);
		if (!ASSERT_GE(w, 1, "write"))
			goto out;
		sent += w;
	}
	ok = true;
out:
	free(buf);
	return ok;
}

/* Both directions of the connection from sport, against what the
 * socket's own tcp_info counted. */
static void tcp_check_flows(struct test_net *n, int sport,
			    const struct tcp_info *ti)
{
	struct flowbpf_flow f;
	struct flowbpf_key k;

	key4(&k, FLOWBPF_DIR_EGRESS, 6, n->host_ip, sport, n->peer_ip,
	     TCP_PORT);
	if (ASSERT_OK(pinned_flow(n->host_if, &k, &f), "egress flow")) {
		/* GSO super-packets are counted as the segments they become. */
		ASSERT_EQ(f.packets, ti->tcpi_segs_out,
			  "egress packets = segs_out");
		/* Each segment: 20 bytes IP + 32..60 bytes TCP + payload. */
		ASSERT_GE(f.bytes,
			  ti->tcpi_bytes_sent + 52ULL * ti->tcpi_segs_out,
			  "egress bytes lower bound");
		ASSERT_LE(f.bytes,
			  ti->tcpi_bytes_sent + 80ULL * ti->tcpi_segs_out,
			  "egress bytes upper bound");
		ASSERT_EQ(f.tcp_flags & TCP_SAF, TCP_SAF,
			  "egress saw SYN, ACK, FIN");
	}
	key4(&k, FLOWBPF_DIR_INGRESS, 6, n->peer_ip, TCP_PORT, n->host_ip,
	     sport);
	if (ASSERT_OK(pinned_flow(n->host_if, &k, &f), "ingress flow")) {
		ASSERT_EQ(f.packets, ti->tcpi_segs_in,
			  "ingress packets = segs_in");
		ASSERT_EQ(f.tcp_flags & TCP_SAF, TCP_SAF,
			  "ingress saw SYN, ACK, FIN");
	}
}

static void subtest_tcp(void)
{
	struct sockaddr_in me;
	socklen_t ml = sizeof(me);
	struct tcp_info ti = {};
	socklen_t tl = sizeof(ti);
	struct test_net n;
	struct test_srv s = { .port = TCP_PORT, .want = TCP_BYTES };
	int pid = -1, fd = -1;
	char c;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
			   n.host_if),
		       "attach"))
		goto out;
	pid = server_start(&n, tcp_sink, &s);
	if (!ASSERT_GE(pid, 1, "server"))
		goto out;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (!tcp_stream(fd, n.peer_ip))
		goto out;
	/* Half-close, then wait for the server's FIN: after that nothing
	 * more leaves this socket but the ACK already sent, so tcp_info
	 * holds the exact segment counts of the whole connection. */
	shutdown(fd, SHUT_WR);
	ASSERT_EQ(read(fd, &c, 1), 0, "server closed");
	getsockname(fd, (void *)&me, &ml);
	usleep(100000);
	ASSERT_OK(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl), "tcp_info");
	ASSERT_EQ(ns_wait(pid, 10000), 0, "server got every byte");
	pid = -1;
	tcp_check_flows(&n, ntohs(me.sin_port), &ti);
out:
	if (fd >= 0)
		close(fd);
	if (pid > 0)
		ns_wait(pid, 100);
	net_cleanup(&n);
}

static void subtest_udp(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(UDP_PORT) },
			   me;
	socklen_t ml = sizeof(me);
	struct timeval tv = { .tv_sec = 2 };
	char buf[UDP_PAYLOAD] = { 0 }, rbuf[2048];
	struct flowbpf_flow f;
	struct flowbpf_key k;
	struct test_net n;
	struct test_srv s = { .port = UDP_PORT };
	int pid = -1, fd = -1, i, got = 0;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
			   n.host_if),
		       "attach"))
		goto out;
	pid = server_start(&n, udp_server, &s);
	if (!ASSERT_GE(pid, 1, "server"))
		goto out;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	inet_pton(AF_INET, n.peer_ip, &a.sin_addr);
	connect(fd, (void *)&a, sizeof(a));
	getsockname(fd, (void *)&me, &ml);
	/* One at a time: an unanswered ARP queue holds only a few packets. */
	for (i = 0; i < UDP_COUNT; i++) {
		if (send(fd, buf, sizeof(buf), 0) != sizeof(buf))
			break;
		if (recv(fd, rbuf, sizeof(rbuf), 0) == sizeof(buf))
			got++;
	}
	ASSERT_EQ(got, UDP_COUNT, "echoes received");
	ASSERT_EQ(ns_wait(pid, 5000), 0, "server");
	pid = -1;

	key4(&k, FLOWBPF_DIR_EGRESS, 17, n.host_ip, ntohs(me.sin_port),
	     n.peer_ip, UDP_PORT);
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &f), "egress flow")) {
		ASSERT_EQ(f.packets, UDP_COUNT, "egress packets");
		ASSERT_EQ(f.bytes, UDP_COUNT * (UDP_PAYLOAD + 28),
			  "egress bytes");
	}
	key4(&k, FLOWBPF_DIR_INGRESS, 17, n.peer_ip, UDP_PORT, n.host_ip,
	     ntohs(me.sin_port));
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &f), "ingress flow")) {
		ASSERT_EQ(f.packets, UDP_COUNT, "ingress packets");
		ASSERT_EQ(f.bytes, UDP_COUNT * (UDP_PAYLOAD + 28),
			  "ingress bytes");
	}
out:
	if (fd >= 0)
		close(fd);
	if (pid > 0)
		ns_wait(pid, 100);
	net_cleanup(&n);
}

/* In monitor mode a DROP verdict is only counted. */
static void subtest_would_drop(void)
{
	struct flowbpf_stats st;
	struct test_net n;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s --mode monitor",
			   flowbpf_bin(), n.host_if),
		       "attach"))
		goto out;
	ASSERT_OK(run(NULL, NULL,
		      "%s verdict set %s in icmp %s %s type 0 code 0 drop",
		      flowbpf_bin(), n.host_if, n.peer_ip, n.host_ip),
		  "verdict set drop");
	ASSERT_OK(run(NULL, NULL, "ping -c 3 -i 0.2 -W 2 %s", n.peer_ip),
		  "ping still answered");
	if (ASSERT_OK(pinned_stats(n.host_if, &st), "stats")) {
		ASSERT_EQ(st.c[FLOWBPF_STAT_WOULD_DROP], 3,
			  "would_drop packets");
		ASSERT_EQ(st.c[FLOWBPF_STAT_WOULD_DROP_BYTES], 3 * 84,
			  "would_drop bytes");
		ASSERT_EQ(st.c[FLOWBPF_STAT_DROP], 0, "dropped");
	}
out:
	net_cleanup(&n);
}

void test_monitor(void)
{
	if (test__start_subtest("ping"))
		subtest_ping();
	if (test__start_subtest("tcp"))
		subtest_tcp();
	if (test__start_subtest("udp"))
		subtest_udp();
	if (test__start_subtest("would_drop"))
		subtest_would_drop();
}
