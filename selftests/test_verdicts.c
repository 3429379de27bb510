// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Verdict writes.  A flow's counters and its verdict share one map entry,
 * and every verdict write (by hand, by the daemon, by a reload) changes
 * that entry in place through the verdict program: no packet counted
 * meanwhile may be lost.  Manual verdicts live in a map of their own that
 * eviction cannot reach, bounded, and are applied when the flow starts.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "loader.h"
#include "daemon.h"
#include "netns.h"
#include "test.h"
#include "test_collect.h"

#define UDP_SPORT 41000
#define UDP_DPORT 9
#define UDP_PAYLOAD 32

/* Sends count datagrams from sport to ip:dport, one every gap_us;
 * returns how many went out. */
static int send_udp(const char *ip, int sport, int dport, int count, int gap_us)
{
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(dport) };
	struct sockaddr_in me = { .sin_family = AF_INET,
				  .sin_port = htons(sport) };
	char buf[UDP_PAYLOAD] = "flowbpf";
	int fd, i, sent = 0, one = 1;

	inet_pton(AF_INET, ip, &to.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (void *)&me, sizeof(me))) {
		close(fd);
		return 0;
	}
	for (i = 0; i < count; i++) {
		sent += sendto(fd, buf, sizeof(buf), 0, (void *)&to,
			       sizeof(to)) == sizeof(buf);
		if (gap_us)
			usleep(gap_us);
	}
	close(fd);
	return sent;
}

/* A child that sends count datagrams; its exit status says all went. */
static int send_udp_child(const char *ip, int count)
{
	int pid = fork();

	if (pid == 0)
		_exit(send_udp(ip, UDP_SPORT, UDP_DPORT, count, 200) == count
			      ? 0
			      : 1);
	return pid;
}

static const char *const policies[] = {
	"default allow;\n",
	"default allow;\nrule \"no-discard\" deny proto udp dport 9;\n",
};

/*
 * While a flow carries a known number of datagrams, its verdict is
 * rewritten again and again: set by hand, cleared (so the daemon decides
 * it again) and flipped by policy reloads.  Monitor mode, so that every
 * datagram is sent whatever the verdict; the flow must count each once.
 */
static void subtest_writes_keep_counts(void)
{
	const int count = 4000;
	struct test_daemon d = { .pid = -1 };
	struct flowbpf_flow f;
	struct flowbpf_key k;
	struct test_net n;
	char spec[128];
	int pid, status = -1, i, writes = 0;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s --mode monitor",
			   flowbpf_bin(), n.host_if),
		       "attach") ||
	    !ASSERT_OK(test_daemon_start(&d, "vw", n.host_if, policies[0]),
		       "daemon"))
		goto out;
	/* Resolve the neighbour first: nothing may wait in its queue. */
	ASSERT_OK(run(NULL, NULL, "ping -c 1 -W 1 %s", n.peer_ip), "ping");
	snprintf(spec, sizeof(spec), "out udp %s:%d %s:%d", n.host_ip,
		 UDP_SPORT, n.peer_ip, UDP_DPORT);
	pid = send_udp_child(n.peer_ip, count);
	if (!ASSERT_GE(pid, 1, "sender"))
		goto out;
	for (i = 0; i < 6; i++) {
		writes += !run(NULL, NULL, "%s verdict set %s %s drop",
			       flowbpf_bin(), n.host_if, spec);
		writes += !run(NULL, NULL, "%s verdict clear %s %s",
			       flowbpf_bin(), n.host_if, spec);
		test_daemon_policy(&d, policies[(i + 1) % 2]);
		writes += !run(NULL, NULL, "%s --socket %s reload",
			       flowbpf_bin(), d.sock);
	}
	waitpid(pid, &status, 0);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "every datagram sent");
	ASSERT_EQ(writes, 18, "verdict writes and reloads done");
	key4(&k, FLOWBPF_DIR_EGRESS, 17, n.host_ip, UDP_SPORT, n.peer_ip,
	     UDP_DPORT);
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &f), "flow")) {
		ASSERT_EQ(f.packets, count, "each datagram counted once");
		ASSERT_EQ(f.bytes, (__u64)count * (28 + UDP_PAYLOAD), "bytes");
		/* The last reload (i = 5) allows it; the daemon wrote that. */
		ASSERT_EQ(f.verdict, FLOWBPF_VERDICT_PASS, "last verdict");
		ASSERT_EQ(f.source, FLOWBPF_SRC_DAEMON, "by the daemon");
	}
out:
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

/*
 * A manual verdict for a flow not seen yet outlives LRU pressure (the
 * flow table is 64 entries, 300 other flows pass through) and is given
 * to the flow when it starts.  Clearing it puts the live flow back in
 * the queue for the daemon.
 */
static void subtest_manual_before_flow(void)
{
	struct flowbpf_stats st;
	struct flowbpf_flow f;
	struct flowbpf_key k;
	struct test_net n;
	char *out = NULL, spec[128];
	int i, others = 0;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(
		    run(NULL, NULL,
			"%s attach %s --mode enforce --pending pass --flows 64",
			flowbpf_bin(), n.host_if),
		    "attach"))
		goto out;
	snprintf(spec, sizeof(spec), "out udp %s:%d %s:%d", n.host_ip,
		 UDP_SPORT, n.peer_ip, UDP_DPORT);
	ASSERT_OK(run(&out, NULL, "%s verdict set %s %s drop", flowbpf_bin(),
		      n.host_if, spec),
		  "verdict set");
	ASSERT_HAS(out, "kept for when the flow starts", "not live yet");
	free(out);
	out = NULL;
	ASSERT_OK(run(NULL, NULL, "ping -c 1 -W 1 %s", n.peer_ip), "ping");
	for (i = 0; i < 300; i++)
		others += send_udp(n.peer_ip, 42000 + i, UDP_DPORT, 1, 0);
	ASSERT_EQ(others, 300, "other flows sent");
	/* Dropped by the manual verdict: sendto reports it. */
	send_udp(n.peer_ip, UDP_SPORT, UDP_DPORT, 3, 0);

	key4(&k, FLOWBPF_DIR_EGRESS, 17, n.host_ip, UDP_SPORT, n.peer_ip,
	     UDP_DPORT);
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &f), "flow")) {
		ASSERT_EQ(f.verdict, FLOWBPF_VERDICT_DROP, "manual verdict");
		ASSERT_EQ(f.source, FLOWBPF_SRC_MANUAL, "source manual");
		ASSERT_EQ(f.packets, 3, "counted");
	}
	if (ASSERT_OK(pinned_stats(n.host_if, &st), "stats")) {
		ASSERT_EQ(st.c[FLOWBPF_STAT_MANUAL_APPLIED], 1,
			  "applied once, at the flow's start");
		ASSERT_EQ(st.c[FLOWBPF_STAT_DROP], 3, "its datagrams dropped");
		ASSERT_GE(st.c[FLOWBPF_STAT_FLOWS_CREATED], 301,
			  "the other flows went through the table");
	}

	ASSERT_OK(run(NULL, NULL, "%s verdict clear %s %s", flowbpf_bin(),
		      n.host_if, spec),
		  "verdict clear");
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &f), "flow after clear")) {
		ASSERT_EQ(f.verdict, FLOWBPF_VERDICT_QUEUED, "queued again");
		ASSERT_EQ(f.source, FLOWBPF_SRC_KERNEL, "source kernel");
		ASSERT_EQ(f.packets, 3, "counters kept");
	}
	ASSERT_EQ(run(NULL, NULL, "%s verdict clear %s %s", flowbpf_bin(),
		      n.host_if, "out udp 198.18.0.1:1 198.18.0.2:2"),
		  1, "clearing nothing fails");
out:
	net_cleanup(&n);
}

/* The manual table is bounded: one more than it holds is a clear error. */
static void subtest_manual_full(void)
{
	struct flowbpf_handle h = {};
	struct flowbpf_key k;
	struct test_net n;
	char *err = NULL;
	bool live, opened = false;
	int i, ok = 0, rc;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s --mode enforce",
			   flowbpf_bin(), n.host_if),
		       "attach") ||
	    !ASSERT_OK(flowbpf_open(n.host_if, &h), "open"))
		goto out;
	opened = true;
	for (i = 0; i < FLOWBPF_MANUAL_MAX; i++) {
		key4(&k, FLOWBPF_DIR_INGRESS, 6, "198.18.7.1", 1024 + i,
		     "198.18.7.2", 80);
		ok += !flowbpf_manual_set(&h, &k, FLOWBPF_VERDICT_DROP, &live);
	}
	ASSERT_EQ(ok, FLOWBPF_MANUAL_MAX, "the table's worth kept");
	/* Replacing one that is there still works when full. */
	ASSERT_OK(flowbpf_manual_set(&h, &k, FLOWBPF_VERDICT_PASS, &live),
		  "replace when full");
	rc = run(NULL, &err,
		 "%s verdict set %s in tcp 198.18.7.3:1 198.18.7.2:80 drop",
		 flowbpf_bin(), n.host_if);
	ASSERT_EQ(rc, 1, "one more fails");
	ASSERT_HAS(err, "manual verdict table is full", "says why");
	free(err);
	err = NULL;
	ASSERT_OK(
		run(NULL, NULL,
		    "%s verdict clear %s in tcp 198.18.7.1:1024 198.18.7.2:80",
		    flowbpf_bin(), n.host_if),
		"clear one");
	ASSERT_OK(
		run(NULL, NULL,
		    "%s verdict set %s in tcp 198.18.7.3:1 198.18.7.2:80 drop",
		    flowbpf_bin(), n.host_if),
		"then there is room");
out:
	if (opened)
		flowbpf_close(&h);
	net_cleanup(&n);
}

/* Events the daemon has handled, from its control socket (not "flowbpf
 * stats", which reads every attached interface, other tests' too); -1 if
 * it cannot say. */
static long daemon_events(const struct test_daemon *d)
{
	json_t *reply = NULL, *ev;
	long n = -1;

	if (ctl_request(d->sock, "stats", &reply))
		return -1;
	ev = json_object_get(reply, "events");
	if (json_is_integer(ev))
		n = json_integer_value(ev);
	json_decref(reply);
	return n;
}

/*
 * When the collector removes an idle flow, the flow's verdict goes with
 * it: the next packet is a new flow, and the daemon is asked again.
 */
static void subtest_idle_redecided(void)
{
	struct test_daemon d = { .pid = -1 };
	struct flowbpf_flow f;
	struct flowbpf_key k;
	struct test_net n;
	long before;
	pid_t col = -1;
	int i;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(test_attach_daemon(&n, &d, "idle", "--mode enforce",
					  "default allow;\n"),
		       "attach and daemon"))
		goto out;
	col = spawn(
		"exec %s collect %s --interval 100ms --idle 300ms -o /dev/null",
		flowbpf_bin(), n.host_if);
	ASSERT_OK(run(NULL, NULL, "ping -c 1 -W 1 %s", n.peer_ip), "ping");
	key_icmp4(&k, FLOWBPF_DIR_EGRESS, n.host_ip, n.peer_ip, 8, 0);
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &f), "flow"))
		ASSERT_EQ(f.source, FLOWBPF_SRC_DAEMON,
			  "decided by the daemon");
	/* Idle for longer than the timeout, and swept. */
	for (i = 0; i < 40 && !pinned_flow(n.host_if, &k, &f); i++)
		usleep(100000);
	ASSERT_NEQ(pinned_flow(n.host_if, &k, &f), 0, "removed when idle");
	before = daemon_events(&d);
	ASSERT_OK(run(NULL, NULL, "ping -c 1 -W 1 %s", n.peer_ip),
		  "ping again");
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &f), "a new flow")) {
		ASSERT_EQ(f.packets, 1, "counted from zero");
		ASSERT_EQ(f.source, FLOWBPF_SRC_DAEMON, "decided again");
	}
	ASSERT_GE(daemon_events(&d), before + 1, "the daemon was asked again");
out:
	if (col > 0)
		stop(col, 3000);
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

void test_verdicts(void)
{
	if (test__start_subtest("writes_keep_counts"))
		subtest_writes_keep_counts();
	if (test__start_subtest("manual_before_flow"))
		subtest_manual_before_flow();
	if (test__start_subtest("manual_full"))
		subtest_manual_full();
	if (test__start_subtest("idle_redecided"))
		subtest_idle_redecided();
}
