// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Enforce mode end to end: manual verdicts block and restore real
 * traffic; QUEUED flows get the kernel's default verdict after the
 * decision timeout, with no daemon running.
 */
#include <stdlib.h>
#include <unistd.h>
#include "netns.h"
#include "test.h"

/* Echo replies received out of count pings, from ping's summary line. */
static int ping_received(const char *ip, int count, const char *interval)
{
	char *out = NULL;
	int got = -1;
	const char *p;

	run(&out, NULL, "ping -c %d -i %s -W 1 %s", count, interval, ip);
	p = out ? strstr(out, " received") : NULL;
	if (p) {
		while (p > out && p[-1] >= '0' && p[-1] <= '9')
			p--;
		got = atoi(p);
	}
	free(out);
	return got;
}

static void subtest_manual_verdict(void)
{
	struct flowbpf_flow v;
	struct flowbpf_stats st;
	struct flowbpf_key k;
	struct test_net n;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(run(NULL, NULL,
			   "%s attach %s --mode enforce --pending pass",
			   flowbpf_bin(), n.host_if),
		       "attach"))
		goto out;
	ASSERT_EQ(ping_received(n.peer_ip, 2, "0.2"), 2, "ping before");

	ASSERT_OK(run(NULL, NULL,
		      "%s verdict set %s in icmp %s %s type 0 code 0 drop",
		      flowbpf_bin(), n.host_if, n.peer_ip, n.host_ip),
		  "verdict set drop");
	key_icmp4(&k, FLOWBPF_DIR_INGRESS, n.peer_ip, n.host_ip,
		  0, 0);
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &v), "verdict entry")) {
		ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_DROP, "verdict");
		ASSERT_EQ(v.source, FLOWBPF_SRC_MANUAL, "source");
	}
	ASSERT_EQ(ping_received(n.peer_ip, 3, "0.2"), 0, "ping blocked");
	if (ASSERT_OK(pinned_stats(n.host_if, &st), "stats")) {
		ASSERT_EQ(st.c[FLOWBPF_STAT_DROP], 3, "replies dropped");
		ASSERT_EQ(st.c[FLOWBPF_STAT_DROP_BYTES], 3 * 84,
			  "bytes dropped");
	}

	ASSERT_OK(run(NULL, NULL,
		      "%s verdict set %s in icmp %s %s type 0 code 0 pass",
		      flowbpf_bin(), n.host_if, n.peer_ip, n.host_ip),
		  "verdict set pass");
	ASSERT_EQ(ping_received(n.peer_ip, 2, "0.2"), 2, "ping restored");

	/* Clearing makes the flow new again: queued, and pending is pass. */
	ASSERT_OK(run(NULL, NULL,
		      "%s verdict clear %s in icmp %s %s type 0 code 0",
		      flowbpf_bin(), n.host_if, n.peer_ip, n.host_ip),
		  "verdict clear");
	ASSERT_EQ(ping_received(n.peer_ip, 1, "0.2"), 1, "ping after clear");
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &v), "requeued")) {
		ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_QUEUED, "verdict");
		ASSERT_EQ(v.source, FLOWBPF_SRC_KERNEL, "source");
	}
out:
	net_cleanup(&n);
}

/*
 * --pending drop: flows in both directions are held back until the 1 s
 * timeout gives them the default verdict, pass.  The request flow (egress)
 * starts at once; the reply flow (ingress) only when the first request
 * gets through, so replies are lost for about one more second.
 */
static void subtest_pending_timeout(void)
{
	struct flowbpf_flow v;
	struct flowbpf_stats st;
	struct flowbpf_key k;
	struct test_net n;
	int got;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(
		    run(NULL, NULL,
			"%s attach %s --mode enforce --pending drop --default pass --timeout 1s",
			flowbpf_bin(), n.host_if),
		    "attach"))
		goto out;
	/* 20 pings over 3.8 s: about two seconds' worth are lost. */
	got = ping_received(n.peer_ip, 20, "0.2");
	ASSERT_GE(got, 6, "later pings answered");
	ASSERT_LE(got, 17, "first pings lost while queued");

	key_icmp4(&k, FLOWBPF_DIR_EGRESS, n.host_ip, n.peer_ip,
		  8, 0);
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &v),
		      "request verdict")) {
		ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_PASS, "default applied");
		ASSERT_EQ(v.source, FLOWBPF_SRC_TIMEOUT, "set by the timeout");
	}
	key_icmp4(&k, FLOWBPF_DIR_INGRESS, n.peer_ip, n.host_ip,
		  0, 0);
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &v), "reply verdict")) {
		ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_PASS, "default applied");
		ASSERT_EQ(v.source, FLOWBPF_SRC_TIMEOUT, "set by the timeout");
	}
	if (ASSERT_OK(pinned_stats(n.host_if, &st), "stats")) {
		ASSERT_EQ(st.c[FLOWBPF_STAT_DEFAULT_APPLIED], 2,
			  "both flows timed out");
		/* Each lost ping is at least one held request or reply (ping
		 * resends a request whose send failed). */
		ASSERT_GE(st.c[FLOWBPF_STAT_QUEUED_DROP], 20 - got,
			  "held packets dropped");
		ASSERT_EQ(st.c[FLOWBPF_STAT_QUEUED_DROP] +
				  st.c[FLOWBPF_STAT_PASS],
			  st.c[FLOWBPF_STAT_PACKETS] -
				  st.c[FLOWBPF_STAT_NON_IP],
			  "every IP packet held or passed");
		ASSERT_EQ(st.c[FLOWBPF_STAT_DROP], 0, "no DROP verdict");
	}
out:
	net_cleanup(&n);
}

/* --default drop: a flow nobody decides on is cut off after the timeout. */
static void subtest_default_drop(void)
{
	struct flowbpf_flow v;
	struct flowbpf_key k;
	struct test_net n;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(
		    run(NULL, NULL,
			"%s attach %s --mode enforce --pending pass --default drop --timeout 300ms",
			flowbpf_bin(), n.host_if),
		    "attach"))
		goto out;
	ASSERT_EQ(ping_received(n.peer_ip, 1, "0.2"), 1, "first ping passes");
	usleep(400000);
	ASSERT_EQ(ping_received(n.peer_ip, 3, "0.2"), 0, "then dropped");
	key_icmp4(&k, FLOWBPF_DIR_EGRESS, n.host_ip, n.peer_ip,
		  8, 0);
	if (ASSERT_OK(pinned_flow(n.host_if, &k, &v), "verdict")) {
		ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_DROP, "default drop");
		ASSERT_EQ(v.source, FLOWBPF_SRC_TIMEOUT, "set by the timeout");
	}
out:
	net_cleanup(&n);
}

void test_enforce(void)
{
	if (test__start_subtest("manual_verdict"))
		subtest_manual_verdict();
	if (test__start_subtest("pending_drop_timeout"))
		subtest_pending_timeout();
	if (test__start_subtest("default_drop"))
		subtest_default_drop();
}
