// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --pending hold: packets of an undecided flow wait in the daemon and are
 * re-injected (or discarded) once it decides.  Connections start without
 * a retransmitted SYN; held packets arrive exactly once and in order, in
 * both directions; per-flow and QUEUED limits hold; without a daemon the
 * default applies.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <linux/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <jansson.h>
#include "clock.h"
#include "daemon.h"
#include "loader.h"
#include "netns.h"
#include "test.h"

#define PORT_OK 5401
#define PORT_DENY 5402
#define UDP_PORT 5403
#define NSEQ 50

/* Listens on both ports for 3 s; exit code: accepted on OK + 16 * DENY. */
static int tcp_listener(void *arg)
{
	const char *ip = arg;
	int fds[2] = { tcp_listen(ip, PORT_OK, 16),
		       tcp_listen(ip, PORT_DENY, 16) };
	__u64 end = mono_now_ms() + 3000;
	int n[2] = {}, i;

	if (fds[0] < 0 || fds[1] < 0)
		return 255;
	while (mono_now_ms() < end) {
		struct pollfd p[2] = { { .fd = fds[0], .events = POLLIN },
				       { .fd = fds[1], .events = POLLIN } };

		if (poll(p, 2, 100) <= 0)
			continue;
		for (i = 0; i < 2; i++) {
			if (p[i].revents & POLLIN) {
				int c = accept(fds[i], NULL, NULL);

				if (c >= 0) {
					n[i]++;
					close(c);
				}
			}
		}
	}
	return n[0] + 16 * n[1];
}

/* Connects; on success returns the time taken (ms) and the socket's
 * retransmissions; -1 on failure. */
static int timed_connect(const char *ip, int port, int timeout_ms,
			 unsigned int *retrans)
{
	struct tcp_info ti = {};
	socklen_t tl = sizeof(ti);
	__u64 t0 = mono_now_ms();
	int fd, ms;

	fd = tcp_connect_wait(ip, port, timeout_ms);
	if (fd < 0)
		return -1;
	ms = mono_now_ms() - t0;
	getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl);
	*retrans = ti.tcpi_total_retrans;
	close(fd);
	return ms;
}

static void subtest_tcp(void)
{
	struct test_net n;
	struct test_daemon d = { .pid = -1 };
	unsigned int retrans = 99;
	char policy[256];
	int srv = -1, ms, st;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	snprintf(policy, sizeof(policy),
		 "default allow;\nrule deny dir out proto tcp dport %d;\n",
		 PORT_DENY);
	if (!ASSERT_OK(test_attach_daemon(&n, &d, "hold", "--mode enforce",
					  policy),
		       "attach and daemon"))
		goto out;
	srv = ns_fork(n.ns, tcp_listener, n.peer_ip, false);
	usleep(200000);
	ms = timed_connect(n.peer_ip, PORT_OK, 3000, &retrans);
	ASSERT_GE(ms, 0, "allowed port connects");
	/* A dropped SYN would be resent after 1 s. */
	ASSERT_LE(ms, 500, "without waiting for a retransmit");
	ASSERT_EQ(retrans, 0, "no retransmitted SYN");
	ASSERT_EQ(timed_connect(n.peer_ip, PORT_DENY, 1500, &retrans), -1,
		  "denied port does not connect");
	st = ns_wait(srv, 5000);
	srv = -1;
	ASSERT_EQ(st & 15, 1, "one connection accepted on the allowed port");
	ASSERT_EQ(st >> 4, 0, "none reached the denied port's socket");
out:
	if (srv > 0)
		ns_wait(srv, 5000);
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

/* What a receiver saw, in memory shared with the test across fork(). */
struct seq_result {
	int got, bad;
};

struct seq {
	const char *bind_ip, *to_ip;
	int count;
	int ready[2];
	struct seq_result *res; /* NULL: the exit code says it all */
};

static struct seq_result *seq_result_new(void)
{
	void *p = mmap(NULL, sizeof(struct seq_result), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Receives datagrams for 2 s; 0 iff exactly count arrived, in order. */
static int seq_receiver(void *arg)
{
	struct seq *s = arg;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(UDP_PORT) };
	struct timeval tv = { .tv_usec = 200000 };
	__u64 end;
	int fd, next = 0, got = 0, bad = 0;
	__u32 v;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, s->bind_ip, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (void *)&a, sizeof(a)))
		return 2;
	if (write(s->ready[1], "x", 1) != 1)
		return 2;
	end = mono_now_ms() + 2000;
	while (mono_now_ms() < end) {
		if (recv(fd, &v, sizeof(v), 0) != sizeof(v))
			continue;
		/* Numbering goes on from earlier senders: start where it is. */
		if (!got++)
			next = v;
		bad += v != (__u32)next;
		next = v + 1;
	}
	close(fd);
	if (s->res) {
		s->res->got = got;
		s->res->bad = bad;
	}
	return got == s->count && !bad ? 0 : got == s->count ? 3 : 4;
}

/*
 * Sends count numbered datagrams back to back from source port 40000 +
 * UDP_PORT, so that every call adds to the same flow.  The numbers go on
 * from call to call.
 */
static int seq_sender(void *arg)
{
	static __u32 next;
	struct seq *s = arg;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(UDP_PORT) };
	struct sockaddr_in me = { .sin_family = AF_INET,
				  .sin_port = htons(40000 + UDP_PORT) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, i;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (void *)&me, sizeof(me)))
		return 1;
	inet_pton(AF_INET, s->to_ip, &a.sin_addr);
	for (i = 0; i < s->count; i++, next++)
		if (sendto(fd, &next, sizeof(next), 0, (void *)&a, sizeof(a)) <
		    0)
			return 1;
	close(fd);
	return 0;
}

static int wait_ready(struct seq *s)
{
	char c;
	int ok;

	close(s->ready[1]);
	ok = read(s->ready[0], &c, 1) == 1;
	close(s->ready[0]);
	return ok ? 0 : -1;
}

/* In order, exactly once, egress (tc) or ingress (XDP, re-injected with
 * live frames). */
static void order(bool ingress)
{
	struct flowbpf_stats st;
	struct test_net n;
	struct test_daemon d = { .pid = -1 };
	struct seq s = { .count = NSEQ };
	json_t *ds = NULL, *held;
	int rcv = -1;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(test_attach_daemon(&n, &d, "hold",
					  "--mode enforce --pending hold",
					  "default allow;\n"),
		       "attach and daemon"))
		goto out;
	/* Neighbours first, so the burst is not queued on ARP instead. */
	run(NULL, NULL, "ping -c 3 -i 0.2 -W 1 %s", n.peer_ip);
	s.bind_ip = ingress ? n.host_ip : n.peer_ip;
	s.to_ip = s.bind_ip;
	if (pipe(s.ready))
		goto out;
	/* The receiver runs where the datagrams go; the sender elsewhere. */
	if (ingress) {
		rcv = fork();
		if (!rcv)
			_exit(seq_receiver(&s));
		if (!ASSERT_OK(wait_ready(&s), "receiver"))
			goto out;
		ASSERT_OK(ns_fork(n.ns, seq_sender, &s, true), "send");
	} else {
		rcv = ns_fork(n.ns, seq_receiver, &s, false);
		if (!ASSERT_OK(wait_ready(&s), "receiver"))
			goto out;
		ASSERT_OK(seq_sender(&s), "send");
	}
	ASSERT_EQ(ns_wait(rcv, 5000), 0, "all arrived, once, in order");
	rcv = -1;
	if (ASSERT_OK(pinned_stats(n.host_if, &st), "stats")) {
		ASSERT_GE(st.c[FLOWBPF_STAT_QUEUED_HELD], 1, "some were held");
		ASSERT_EQ(st.c[FLOWBPF_STAT_HOLD_LIMIT] +
				  st.c[FLOWBPF_STAT_HOLD_FAILED],
			  0, "none dropped");
		ctl_request(d.sock, "stats", &ds);
		held = json_object_get(ds, "held");
		ASSERT_EQ(json_integer_value(json_object_get(held, "released")),
			  st.c[FLOWBPF_STAT_QUEUED_HELD],
			  "the daemon released every held packet");
		ASSERT_EQ(json_integer_value(
				  json_object_get(held, "reinject_errors")),
			  0, "no re-injection errors");
		json_decref(ds);
	}
out:
	if (rcv > 0)
		ns_wait(rcv, 5000);
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

/* A stopped daemon: the per-flow limit caps what is held, and the QUEUED
 * limit lets a flood of new flows through at once with the default. */
static void subtest_limits(void)
{
	struct flowbpf_stats st;
	struct test_net n;
	struct test_daemon d = { .pid = -1 };
	struct seq s = { .count = 20 };
	int rcv = -1, i, fd;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(
		    test_attach_daemon(
			    &n, &d, "hold",
			    "--mode enforce --pending hold --hold-packets 3 --max-queued 20 --timeout 3s",
			    "default allow;\n"),
		    "attach and daemon"))
		goto out;
	run(NULL, NULL, "ping -c 3 -i 0.2 -W 1 %s", n.peer_ip);
	s.bind_ip = s.to_ip = n.peer_ip;
	if (pipe(s.ready))
		goto out;
	s.res = seq_result_new();
	if (!ASSERT_OK_PTR(s.res, "shared result"))
		goto out;
	rcv = ns_fork(n.ns, seq_receiver, &s, false);
	if (!ASSERT_OK(wait_ready(&s), "receiver"))
		goto out;

	/* Frozen, it still counts as alive until the timeout. */
	kill(d.pid, SIGSTOP);
	ASSERT_OK(seq_sender(&s), "one flow, 20 packets");
	/* 100 more flows, a packet each. */
	for (i = 0; i < 100; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons(UDP_PORT + 1) };

		fd = socket(AF_INET, SOCK_DGRAM, 0);
		inet_pton(AF_INET, n.peer_ip, &a.sin_addr);
		sendto(fd, "x", 1, 0, (void *)&a, sizeof(a));
		close(fd);
	}
	if (ASSERT_OK(pinned_stats(n.host_if, &st), "stats while frozen")) {
		ASSERT_EQ(st.c[FLOWBPF_STAT_HOLD_LIMIT], 17,
			  "beyond 3 held packets the flow's are dropped");
		ASSERT_GE(st.c[FLOWBPF_STAT_QUEUE_LIMIT], 75,
			  "new flows beyond max-queued decided at once");
	}
	kill(d.pid, SIGCONT);
	/* The receiver expects 20; it gets the 3 held ones, in order. */
	ASSERT_EQ(ns_wait(rcv, 5000), 4, "not all 20 arrive");
	rcv = -1;
	ASSERT_EQ(s.res->got, 3, "the 3 held packets arrive");
	ASSERT_EQ(s.res->bad, 0, "in order");
	ASSERT_OK(run(NULL, NULL, "ping -c 1 -W 1 %s", n.peer_ip),
		  "nothing wedged");
out:
	if (rcv > 0)
		ns_wait(rcv, 5000);
	if (s.res)
		munmap(s.res, sizeof(*s.res));
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

/* No daemon: hold degrades to the default at once; a killed one stops
 * holding once its heartbeat is older than the timeout. */
static void subtest_no_daemon(void)
{
	struct flowbpf_flow v;
	struct flowbpf_stats st;
	struct flowbpf_key k;
	struct test_net n;
	struct test_daemon d = { .pid = -1 };

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(
		    run(NULL, NULL,
			"%s attach %s --mode enforce --pending hold --default pass --timeout 1s",
			flowbpf_bin(), n.host_if),
		    "attach"))
		goto out;
	ASSERT_OK(run(NULL, NULL, "ping -c 3 -i 0.2 -W 1 %s", n.peer_ip),
		  "no daemon: traffic flows");
	if (ASSERT_OK(pinned_stats(n.host_if, &st), "stats")) {
		ASSERT_EQ(st.c[FLOWBPF_STAT_QUEUED_HELD], 0, "nothing held");
		ASSERT_GE(st.c[FLOWBPF_STAT_QUEUED_PASS], 6, "default applied");
	}
	usleep(1100000);
	ASSERT_OK(run(NULL, NULL, "ping -c 1 -W 1 %s", n.peer_ip), "ping");
	key_icmp4(&k, FLOWBPF_DIR_EGRESS, n.host_ip, n.peer_ip, 8, 0);
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &v), "verdict")) {
		ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_PASS, "default verdict");
		ASSERT_EQ(v.source, FLOWBPF_SRC_TIMEOUT, "after the timeout");
	}

	if (!ASSERT_OK(test_daemon_start(&d, "hold", n.host_if,
					 "default allow;\n"),
		       "daemon"))
		goto out;
	test_daemon_kill(&d, SIGKILL);
	usleep(1100000);
	ASSERT_OK(run(NULL, NULL, "ping -c 2 -i 0.2 -W 1 -p 0102 %s",
		      n.peer_ip),
		  "killed daemon: default again after the timeout");
out:
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

/*
 * A held egress packet is "stolen", not a failed send: ping sends each
 * request once.  A pass verdict set by hand on a flow with held packets
 * does not leave it queueing behind them, and hold refuses hooks where a
 * re-injected frame would meet the program again.
 */
static void subtest_manual_and_hooks(void)
{
	struct test_daemon d = { .pid = -1 };
	struct seq s = { .count = NSEQ };
	struct test_net n;
	char *out = NULL;
	int rcv = -1, rc;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	rc = run(NULL, NULL,
		 "%s attach %s --mode enforce --pending hold --ingress tc",
		 flowbpf_bin(), n.host_if);
	ASSERT_EQ(rc, 2, "hold with --ingress tc is refused");
	rc = run(
		NULL, NULL,
		"%s attach %s --mode enforce --pending hold --xdp-mode generic",
		flowbpf_bin(), n.host_if);
	ASSERT_EQ(rc, 2, "hold with generic XDP is refused");
	if (!ASSERT_OK(test_attach_daemon(&n, &d, "hold", "--mode enforce",
					  "default allow;\n"),
		       "attach and daemon"))
		goto out;
	run(&out, NULL, "ping -c 3 -i 0.2 -W 1 %s", n.peer_ip);
	ASSERT_HAS(out, "3 packets transmitted, 3 received", "each ping once");
	free(out);
	out = NULL;

	/* Frozen daemon: the flow's first packets are held... */
	s.bind_ip = s.to_ip = n.peer_ip;
	if (pipe(s.ready))
		goto out;
	rcv = ns_fork(n.ns, seq_receiver, &s, false);
	if (!ASSERT_OK(wait_ready(&s), "receiver"))
		goto out;
	kill(d.pid, SIGSTOP);
	s.count = 2;
	ASSERT_OK(seq_sender(&s), "two held packets");
	/* ...then passed by hand: later packets must not queue behind. */
	ASSERT_OK(run(&out, NULL,
		      "%s flows -j %s | grep -o '\"flow\":\"out udp [^\"]*'",
		      flowbpf_bin(), n.host_if),
		  "find the flow");
	if (out && strlen(out) > 8) {
		char *spec = out + strlen("\"flow\":\""),
		     *nl = strchr(spec, '\n');

		if (nl)
			*nl = '\0';
		ASSERT_OK(run(NULL, NULL, "%s verdict set %s %s pass",
			      flowbpf_bin(), n.host_if, spec),
			  "manual pass");
	}
	free(out);
	out = NULL;
	kill(d.pid, SIGCONT);
	usleep(200000);
	s.count = 100;
	ASSERT_OK(seq_sender(&s), "100 more");
	/* The receiver wanted NSEQ; it got 2 held + 100 passed, in order. */
	rc = ns_wait(rcv, 5000);
	rcv = -1;
	ASSERT_EQ(rc, 4, "none of the later packets dropped (exit 4: count)");
	{
		struct flowbpf_stats st;

		if (ASSERT_OK(pinned_stats(n.host_if, &st), "stats"))
			ASSERT_EQ(st.c[FLOWBPF_STAT_HOLD_LIMIT], 0,
				  "nothing ran into the hold limit");
	}
out:
	if (rcv > 0)
		ns_wait(rcv, 5000);
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

/* One UDP datagram whose frame is len bytes, from the namespace. */
static int big_sender(void *arg)
{
	const struct seq *s = arg;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(UDP_PORT) };
	static char buf[FLOWBPF_HOLD_MAX];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, s->to_ip, &a.sin_addr);
	/* count: the frame's length; less Ethernet, IP and UDP headers. */
	return sendto(fd, buf, s->count - 42, 0, (void *)&a, sizeof(a)) < 0;
}

/*
 * An ingress frame longer than a live-frame test run re-injects is not
 * held, where the daemon could only lose it, but dropped and counted.
 * veth takes native XDP up to an MTU of about a page, a little more than
 * re-injection takes, so the MTU is raised just past the limit.
 */
static void subtest_too_big(void)
{
	struct test_daemon d = { .pid = -1 };
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct flowbpf_stats st, st0;
	struct flowbpf_handle h;
	int sink = -1;
	struct test_net n;
	struct seq s = {};
	__u32 max;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	max = flowbpf_live_frame_max();
	if (!ASSERT_GE(max, 1500, "live frames re-inject at least 1500 bytes"))
		goto out;
	if (run(NULL, NULL,
		"ip link set %s mtu %u && ip -n %s link set %s mtu %u && "
		"%s attach %s --mode enforce --pending hold",
		n.host_if, max, n.ns, n.peer_if, max, flowbpf_bin(),
		n.host_if)) {
		test__skip("no native XDP on veth at MTU %u", max);
		goto out;
	}
	if (!ASSERT_OK(flowbpf_open(n.host_if, &h), "open"))
		goto out;
	ASSERT_EQ(h.cfg.hold_frame_max, max, "config.hold_frame_max");
	flowbpf_close(&h);
	if (!ASSERT_OK(test_daemon_start(&d, "big", n.host_if,
					 "default allow;\n"),
		       "daemon"))
		goto out;
	run(NULL, NULL, "ping -c 1 -W 1 %s", n.peer_ip);
	if (!ASSERT_OK(pinned_stats(n.host_if, &st0), "stats before"))
		goto out;
	/* A socket there, or the port unreachable reply is a held flow too. */
	a.sin_port = htons(UDP_PORT);
	inet_pton(AF_INET, n.host_ip, &a.sin_addr);
	sink = socket(AF_INET, SOCK_DGRAM, 0);
	if (!ASSERT_OK(bind(sink, (void *)&a, sizeof(a)), "bind"))
		goto out;
	s.to_ip = n.host_ip;
	s.count = max + 1;
	ASSERT_OK(ns_fork(n.ns, big_sender, &s, true), "one frame too long");
	s.count = max;
	ASSERT_OK(ns_fork(n.ns, big_sender, &s, true), "one that fits");
	if (ASSERT_OK(pinned_stats(n.host_if, &st), "stats")) {
		ASSERT_EQ(st.c[FLOWBPF_STAT_HOLD_TOO_BIG] -
				  st0.c[FLOWBPF_STAT_HOLD_TOO_BIG],
			  1, "too big: dropped");
		ASSERT_EQ(st.c[FLOWBPF_STAT_QUEUED_HELD] -
				  st0.c[FLOWBPF_STAT_QUEUED_HELD],
			  1, "the other held");
	}
out:
	if (sink >= 0)
		close(sink);
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

/* From the namespace: a UDP datagram to UDP_PORT + 2 whose checksum is
 * wrong, or with count 0 none (0, valid for IPv4), from a source port
 * of its own; a raw socket sends the UDP header as given. */
static int bad_csum_sender(void *arg)
{
	const struct seq *s = arg;
	struct sockaddr_in a = { .sin_family = AF_INET };
	__u8 dg[12] = { 0x9c,
			0x40,
			(UDP_PORT + 2) >> 8,
			(UDP_PORT + 2) & 0xff,
			0,
			12,
			0xde,
			0xad,
			'b',
			'a',
			'd',
			'!' };
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);

	if (!s->count) {
		dg[1] = 0x41;
		dg[6] = dg[7] = 0;
	}
	inet_pton(AF_INET, s->to_ip, &a.sin_addr);
	return fd < 0 ||
	       sendto(fd, dg, sizeof(dg), 0, (void *)&a, sizeof(a)) < 0;
}

/*
 * A held ingress frame goes back as it came: a datagram whose checksum
 * was wrong on the wire is still refused by the stack after the daemon
 * re-injects it.  (Only egress frames, whose checksum the stack left to
 * the device, are completed before they go out.)
 */
static void subtest_bad_checksum(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(UDP_PORT + 2) };
	struct test_daemon d = { .pid = -1 };
	struct timeval tv = { .tv_usec = 500000 };
	struct flowbpf_stats st;
	struct test_net n;
	struct seq s = {};
	char buf[16];
	int fd = -1;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(test_attach_daemon(&n, &d, "csum",
					  "--mode enforce --pending hold",
					  "default allow;\n"),
		       "attach and daemon"))
		goto out;
	run(NULL, NULL, "ping -c 1 -W 1 %s", n.peer_ip);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, n.host_ip, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (!ASSERT_OK(bind(fd, (void *)&a, sizeof(a)), "bind"))
		goto out;
	s.to_ip = n.host_ip;
	s.count = 1;
	ASSERT_OK(ns_fork(n.ns, bad_csum_sender, &s, true), "send");
	ASSERT_EQ(recv(fd, buf, sizeof(buf), 0), -1, "bad checksum: refused");
	s.count = 0;
	ASSERT_OK(ns_fork(n.ns, bad_csum_sender, &s, true), "send");
	ASSERT_EQ(recv(fd, buf, sizeof(buf), 0), 4, "no checksum: delivered");
	if (ASSERT_OK(pinned_stats(n.host_if, &st), "stats"))
		ASSERT_GE(st.c[FLOWBPF_STAT_QUEUED_HELD], 2, "both were held");
out:
	if (fd >= 0)
		close(fd);
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

void test_hold(void)
{
	if (test__start_subtest("tcp_connect"))
		subtest_tcp();
	if (test__start_subtest("order_egress"))
		order(false);
	if (test__start_subtest("order_ingress"))
		order(true);
	if (test__start_subtest("limits"))
		subtest_limits();
	if (test__start_subtest("no_daemon"))
		subtest_no_daemon();
	if (test__start_subtest("manual_pass_and_hooks"))
		subtest_manual_and_hooks();
	if (test__start_subtest("too_big_not_held"))
		subtest_too_big();
	if (test__start_subtest("bad_checksum_stays_bad"))
		subtest_bad_checksum();
}
