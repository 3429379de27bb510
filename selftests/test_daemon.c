// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The policy daemon end to end: real connections allowed and denied by a
 * policy, a reload that flips a live flow, kill -9 and restart under
 * traffic, and a flood of new flows beyond the QUEUED limit.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <jansson.h>
#include "daemon.h"
#include "loader.h"
#include "netns.h"
#include "test.h"

#define PORT_OK 5301
#define PORT_DENY 5302

/* Keeps listening sockets open on both ports in the test namespace. */
static int listener(void *arg)
{
	const char *ip = arg;

	if (tcp_listen(ip, PORT_OK, 64) < 0 ||
	    tcp_listen(ip, PORT_DENY, 64) < 0)
		return 1;
	/* The kernel completes handshakes; nothing to accept. */
	sleep(60);
	return 0;
}

/* 0 if a TCP connection completes within timeout_ms.  With hold_ms, it
 * then stays open that long and sends a byte before closing. */
static int try_connect(const char *ip, int port, int timeout_ms, int hold_ms)
{
	int fd, err = 0;

	fd = tcp_connect_wait(ip, port, timeout_ms);
	if (fd < 0)
		return -fd;
	if (hold_ms) {
		usleep(hold_ms * 1000);
		if (write(fd, "x", 1) != 1)
			err = -1;
	}
	close(fd);
	return err;
}

static json_t *daemon_stats(struct test_daemon *d)
{
	json_t *reply = NULL;

	ctl_request(d->sock, "stats", &reply);
	return reply;
}

/* "flowbpf flows -j" of ifname, as text (free it); NULL if it failed to
 * run.  The tests search it: source ports are ephemeral. */
static char *flows_text(const char *ifname)
{
	char *out = NULL;

	run(&out, NULL, "%s flows -j %s", flowbpf_bin(), ifname);
	return out;
}

/* flowbpf with --pending drop, a listener on both ports and a daemon
 * whose policy denies this host's connections to PORT_DENY. */
static bool pc_setup(struct test_net *n, struct test_daemon *d, bool enforce,
		     int *srv)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "unit me { %s }\n"
		 "default allow;\n"
		 "rule \"no-%d\" deny dir out proto tcp from me dport %d;\n",
		 n->host_ip, PORT_DENY, PORT_DENY);
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s --mode %s --pending drop",
			   flowbpf_bin(), n->host_if,
			   enforce ? "enforce" : "monitor"),
		       "attach"))
		return false;
	*srv = ns_fork(n->ns, listener, n->peer_ip, false);
	usleep(200000);
	return ASSERT_OK(test_daemon_start(d, "pc", n->host_if, text),
			 "daemon");
}

/* The denied SYNs: dropped in enforce mode, only counted in monitor. */
static void pc_counters(struct test_net *n, bool enforce)
{
	struct flowbpf_stats st;

	if (!ASSERT_OK(pinned_stats(n->host_if, &st), "stats"))
		return;
	if (enforce) {
		ASSERT_GE(st.c[FLOWBPF_STAT_DROP], 1, "SYNs dropped");
		ASSERT_EQ(st.c[FLOWBPF_STAT_WOULD_DROP], 0, "would drop");
	} else {
		ASSERT_EQ(st.c[FLOWBPF_STAT_DROP], 0, "nothing dropped");
		ASSERT_GE(st.c[FLOWBPF_STAT_WOULD_DROP], 2,
			  "counted as would drop");
	}
}

/* What the daemon says it did, on its socket and through "stats". */
static void pc_daemon_stats(struct test_net *n, struct test_daemon *d)
{
	char *out = NULL;
	json_t *s;

	s = daemon_stats(d);
	if (ASSERT_OK_PTR(s, "daemon stats")) {
		json_t *rule = json_array_get(json_object_get(s, "rules"), 0);

		ASSERT_GE(json_integer_value(json_object_get(rule, "hits")), 1,
			  "deny rule hit");
		ASSERT_GE(json_integer_value(json_object_get(s, "events")), 3,
			  "events handled");
		ASSERT_GE(json_integer_value(json_object_get(
				  json_object_get(s, "latency_us"), "count")),
			  3, "latency measured");
		ASSERT_EQ(json_integer_value(json_object_get(s, "errors")), 0,
			  "no errors");
		json_decref(s);
	}
	run(&out, NULL, "%s -j --socket %s stats %s", flowbpf_bin(), d->sock,
	    n->host_if);
	ASSERT_HAS(out, "\"daemon\":{\"pid\":", "stats shows the daemon");
	free(out);
}

static void policy_connect(bool enforce)
{
	struct test_daemon d = { .pid = -1 };
	struct test_net n;
	char *out;
	int srv = -1;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!pc_setup(&n, &d, enforce, &srv))
		goto out;

	/* The SYN waits for the verdict (pending drop), then is resent. */
	ASSERT_OK(try_connect(n.peer_ip, PORT_OK, 4000, 0),
		  "allowed port connects");
	if (enforce)
		ASSERT_NEQ(try_connect(n.peer_ip, PORT_DENY, 3000, 0), 0,
			   "denied port does not");
	else
		ASSERT_OK(try_connect(n.peer_ip, PORT_DENY, 4000, 200),
			  "monitor: denied port still connects");
	pc_counters(&n, enforce);
	/* The denied flow's verdict, by the daemon; any source port. */
	out = flows_text(n.host_if);
	ASSERT_HAS(out, "\"dport\":5302", "denied flow listed");
	free(out);
	pc_daemon_stats(&n, &d);
out:
	test_daemon_cleanup(&d);
	if (srv > 0) {
		kill(srv, SIGKILL);
		ns_wait(srv, 1000);
	}
	net_cleanup(&n);
}

static int ping_ok(const char *ip)
{
	return run(NULL, NULL, "ping -c 1 -W 1 %s", ip);
}

/* 0 if some of a few pings are answered: with --pending drop the first
 * packets of each direction wait for their verdict. */
static int ping_some(const char *ip)
{
	return run(
		NULL, NULL,
		"ping -c 5 -i 0.2 -W 1 -q %s | grep -q ', [1-9][0-9]* received'",
		ip);
}

static void subtest_reload(void)
{
	char text[512], *err = NULL;
	struct flowbpf_flow v;
	struct flowbpf_key k;
	struct test_net n;
	struct test_daemon d = { .pid = -1 };
	int rc;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(test_attach_daemon(&n, &d, "rel", "--mode enforce",
					  "default allow;\n"),
		       "attach and daemon"))
		goto out;
	ASSERT_OK(run(NULL, NULL, "ping -c 3 -i 0.2 -W 1 %s", n.peer_ip),
		  "ping allowed");
	key_icmp4(&k, FLOWBPF_DIR_INGRESS, n.peer_ip, n.host_ip, 0, 0);
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &v), "verdict")) {
		ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_PASS, "pass");
		ASSERT_EQ(v.source, FLOWBPF_SRC_DAEMON, "by the daemon");
	}

	/* A broken file: the reload fails, the old policy keeps running. */
	test_daemon_policy(&d, "default allow;\nrule deny proto icmpp;\n");
	rc = run(NULL, &err, "%s --socket %s reload", flowbpf_bin(), d.sock);
	ASSERT_EQ(rc, 1, "broken reload fails");
	ASSERT_HAS(err, ":2:17: unknown protocol 'icmpp'",
		   "names line and column");
	free(err);
	err = NULL;
	ASSERT_OK(ping_ok(n.peer_ip), "old policy still applies");

	/* A good one flips the live flow. */
	snprintf(
		text, sizeof(text),
		"default allow;\nrule \"no-echo-replies\" deny dir in proto icmp from %s icmp-type 0;\n",
		n.peer_ip);
	test_daemon_policy(&d, text);
	ASSERT_OK(run(NULL, NULL, "%s --socket %s reload", flowbpf_bin(),
		      d.sock),
		  "reload");
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &v), "verdict")) {
		ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_DROP, "now drop");
		ASSERT_EQ(v.source, FLOWBPF_SRC_DAEMON, "by the daemon");
	}
	ASSERT_NEQ(ping_ok(n.peer_ip), 0, "ping blocked after reload");

	/* SIGHUP does the same as "flowbpf reload". */
	test_daemon_policy(&d, "default allow;\n");
	kill(d.pid, SIGHUP);
	usleep(300000);
	ASSERT_OK(ping_ok(n.peer_ip), "ping allowed again after SIGHUP");
out:
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

/* From source port 40000 + port, so that repeated calls are one flow. */
static int send_udp(const char *ip, int port, int count)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	struct sockaddr_in me = { .sin_family = AF_INET,
				  .sin_port = htons(40000 + port) };
	int fd, i, sent = 0, one = 1;

	inet_pton(AF_INET, ip, &a.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (void *)&me, sizeof(me)))
		return 0;
	for (i = 0; i < count; i++)
		sent += sendto(fd, "x", 1, 0, (void *)&a, sizeof(a)) == 1;
	close(fd);
	return sent;
}

/* A ping of count packets in the background, its output discarded; its
 * pid, to reap with ns_wait(). */
static int ping_background(const char *ip, const char *count)
{
	int pid = fork();

	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execlp("ping", "ping", "-q", "-c", count, "-i", "0.2", ip,
		       (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* New flows with no daemon: one the policy would deny, one it would
 * allow; both queue, and the timeout's default applies to the one that
 * sends again after it. */
static void kill9_no_daemon(struct test_net *n)
{
	char *out;

	send_udp(n->peer_ip, 6000, 1);
	send_udp(n->peer_ip, 6001, 1);
	usleep(1200000);
	send_udp(n->peer_ip, 6001, 1);
	out = flows_text(n->host_if);
	ASSERT_HAS(out,
		   "\"dport\":6001,\"vlan\":0,\"inner_vlan\":0,\"packets\":2",
		   "allow-able flow");
	ASSERT_HAS(out, "\"verdict\":\"pass\",\"verdict_source\":\"timeout\"",
		   "default applied after the timeout");
	ASSERT_HAS(out, "\"verdict\":\"queued\"",
		   "deny-able flow still queued");
	free(out);
}

/* The stale socket of the killed daemon must not stop a new one, and it
 * decides what was left queued from the pinned maps alone. */
static void kill9_restart(struct test_net *n, struct test_daemon *d)
{
	char *out;

	if (!ASSERT_OK(test_daemon_start(d, "k9", n->host_if, NULL), "restart"))
		return;
	out = flows_text(n->host_if);
	ASSERT_OK_PTR(out, "flows listed");
	ASSERT_FALSE(out && strstr(out, "\"queued\""), "nothing queued");
	ASSERT_HAS(out, "\"dport\":6000", "denied flow present");
	ASSERT_HAS(out, "\"verdict\":\"drop\",\"verdict_source\":\"daemon\"",
		   "queued flow decided by the new daemon");
	free(out);
}

/*
 * kill -9 under traffic: decided flows keep their verdicts, undecided
 * ones get the default after the timeout, and a new daemon decides what
 * was left QUEUED from the pinned maps alone.
 */
static void subtest_kill9(void)
{
	struct test_daemon d = { .pid = -1 };
	struct test_net n;
	char text[256];
	int ping = -1;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	snprintf(text, sizeof(text),
		 "default allow;\nrule deny dir out proto udp dport 6000;\n");
	if (!ASSERT_OK(
		    test_attach_daemon(
			    &n, &d, "k9",
			    "--mode enforce --pending drop --default pass --timeout 1s",
			    text),
		    "attach and daemon"))
		goto out;
	ASSERT_OK(ping_some(n.peer_ip), "ping before");
	/* Traffic goes on while the daemon dies. */
	ping = ping_background(n.peer_ip, "15");
	usleep(300000);
	test_daemon_kill(&d, SIGKILL);
	ASSERT_OK(ping_ok(n.peer_ip), "decided flow keeps passing");
	kill9_no_daemon(&n);
	ASSERT_EQ(ns_wait(ping, 10000), 0, "ping under kill -9 lost nothing");
	ping = -1;
	kill9_restart(&n, &d);
out:
	if (ping > 0)
		ns_wait(ping, 100);
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

/* Many new flows at once: beyond --max-queued they get the default at
 * once, counted, and the daemon is not asked. */
static void subtest_flood(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(7000) };
	struct flowbpf_stats st;
	struct test_net n;
	struct test_daemon d = { .pid = -1 };
	int i, sent = 0;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(
		    test_attach_daemon(
			    &n, &d, "fl",
			    "--mode enforce --pending drop --max-queued 50 --timeout 5s",
			    "default allow;\n"),
		    "attach and daemon"))
		goto out;
	ASSERT_OK(ping_some(n.peer_ip), "ARP and ping first");
	inet_pton(AF_INET, n.peer_ip, &a.sin_addr);
	/* A new socket each time: a new source port, a new flow. */
	for (i = 0; i < 400; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		sent += sendto(fd, "x", 1, 0, (void *)&a, sizeof(a)) == 1;
		close(fd);
	}
	ASSERT_EQ(sent, 400, "sent");
	if (ASSERT_OK(pinned_stats(n.host_if, &st), "stats")) {
		ASSERT_GE(st.c[FLOWBPF_STAT_QUEUE_LIMIT], 300,
			  "flows over the limit counted");
		ASSERT_LE(st.c[FLOWBPF_STAT_EVENTS_SENT], 52,
			  "the daemon was asked at most max-queued times");
	}
	ASSERT_OK(ping_some(n.peer_ip), "nothing wedged");
out:
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

#define FALLBACK_PORT 9092

/* A datagram on each of count UDP sockets to the peer's FALLBACK_PORT:
 * count flows, each socket its own source port. */
static int send_flows(const char *ip, const int *fds, int count)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(FALLBACK_PORT) };
	int i, sent = 0;

	inet_pton(AF_INET, ip, &a.sin_addr);
	for (i = 0; i < count; i++)
		sent += sendto(fds[i], "x", 1, 0, (void *)&a, sizeof(a)) == 1;
	return sent;
}

/* Flows to FALLBACK_PORT in the map: all of them, and those with the
 * given verdict and source. */
static int count_flows(const char *ifname, __u32 verdict, __u32 source,
		       int *all)
{
	struct flowbpf_handle h;
	struct flowbpf_flow *v = NULL;
	struct flowbpf_key *k = NULL;
	size_t n = 0, i;
	int match = 0;

	*all = 0;
	if (flowbpf_open(ifname, &h))
		return -1;
	if (!flowbpf_map_dump(h.fd[FB_MAP_FLOWS], sizeof(*k), sizeof(*v),
			      (void **)&k, (void **)&v, &n))
		for (i = 0; i < n; i++) {
			if (k[i].proto != IPPROTO_UDP ||
			    k[i].dport != htons(FALLBACK_PORT))
				continue;
			++*all;
			match += v[i].verdict == verdict &&
				 v[i].source == source;
		}
	free(k);
	free(v);
	flowbpf_close(&h);
	return match;
}

/*
 * Verdicts the kernel gave on its own (the timeout's default while no
 * daemon ran, the flood guard's at once) are decided by the policy as
 * soon as the daemon can: at its start, and within a second of a flood.
 */
static void subtest_fallbacks(void)
{
	struct test_daemon d = { .pid = -1 };
	struct test_net n;
	int all, i, drop = 0, fds[230];

	for (i = 0; i < 230; i++)
		fds[i] = -1;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(
		    run(NULL, NULL,
			"%s attach %s --mode enforce --pending drop --default pass --max-queued 20 --timeout 300ms",
			flowbpf_bin(), n.host_if),
		    "attach"))
		goto out;
	for (i = 0; i < 230; i++)
		fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_EQ(send_flows(n.peer_ip, fds, 30), 30, "30 flows, no daemon");
	usleep(400000);
	/* The timeout's default is taken at a flow's next packet. */
	ASSERT_EQ(send_flows(n.peer_ip, fds, 30), 30, "their second packets");
	ASSERT_EQ(count_flows(n.host_if, FLOWBPF_VERDICT_PASS,
			      FLOWBPF_SRC_LIMIT, &all),
		  10, "past max-queued: the default at once");
	ASSERT_EQ(count_flows(n.host_if, FLOWBPF_VERDICT_PASS,
			      FLOWBPF_SRC_TIMEOUT, &all),
		  20, "the others: the default after the timeout");
	if (!ASSERT_OK(test_daemon_start(&d, "fb", n.host_if,
					 "rule deny proto udp dport 9092;\n"
					 "default allow;\n"),
		       "daemon"))
		goto out;
	ASSERT_EQ(send_flows(n.peer_ip, fds + 30, 200), 200,
		  "a flood of 200 more");
	for (i = 0; i < 40 && drop != 230; i++) {
		usleep(100000);
		drop = count_flows(n.host_if, FLOWBPF_VERDICT_DROP,
				   FLOWBPF_SRC_DAEMON, &all);
	}
	ASSERT_EQ(all, 230, "every flow in the map");
	ASSERT_EQ(drop, 230, "every one decided by the policy");
out:
	for (i = 0; i < 230; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

void test_daemon(void)
{
	if (test__start_subtest("enforce_policy"))
		policy_connect(true);
	if (test__start_subtest("monitor_policy"))
		policy_connect(false);
	if (test__start_subtest("reload"))
		subtest_reload();
	if (test__start_subtest("kill9_restart"))
		subtest_kill9();
	if (test__start_subtest("flood"))
		subtest_flood();
	if (test__start_subtest("fallbacks_redecided"))
		subtest_fallbacks();
}
