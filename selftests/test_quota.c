// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Quotas end to end (docs/units.md): a unit with a 1 MiB quota over a
 * short period; a TCP transfer of it is cut off soon after the limit, its
 * new connections are refused while another unit's work, and once the
 * period is over they work again.  The collectors and the daemon share a
 * SQLite store.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <sys/socket.h>
#include "clock.h"
#include "daemon.h"
#include "netns.h"
#include "test.h"
#include "test_collect.h"
#include "test_quota.h"
#include "test_units.h"

#define QUOTA_PERIOD 15
#define QUOTA_PORT 5001

/* Accepts connections on s->ip and reads each to its end, one at a
 * time; later connections wait in the backlog, which is all a connect
 * needs. */
int test_tcp_drain(void *arg)
{
	struct test_srv *s = arg;
	char buf[65536];
	int fd = tcp_listen(s->ip, s->port, 16), c;

	if (fd < 0)
		return 2;
	if (write(s->ready[1], "x", 1) != 1)
		return 2;
	for (;;) {
		c = accept(fd, NULL, NULL);
		if (c < 0)
			continue;
		while (read(c, buf, sizeof(buf)) > 0)
			;
		close(c);
	}
}

/* A TCP connection to ip:port within timeout_ms: fd, or -1. */
int quota_connect(const char *ip, int port, int timeout_ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(err);

	inet_pton(AF_INET, ip, &a.sin_addr);
	if (fd < 0)
		return -1;
	if (connect(fd, (void *)&a, sizeof(a)) && errno != EINPROGRESS)
		goto fail;
	if (poll(&p, 1, timeout_ms) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

__u64 quota_acked(int fd)
{
	struct tcp_info ti = {};
	socklen_t len = sizeof(ti);

	getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
	return ti.tcpi_bytes_acked;
}

/*
 * Sends at about 1.3 MB/s until the bytes acknowledged stop growing for
 * 1.5 s (or 20 s pass).  *cross_ms: when limit bytes were first acked;
 * *stall_ms: the last growth.  Returns the bytes acknowledged.
 */
__u64 quota_transfer(int fd, __u64 limit, __u64 *cross_ms, __u64 *stall_ms)
{
	static char buf[32768];
	__u64 t0 = mono_now_ns() / 1000000, now, last = 0, last_ms = t0;

	*cross_ms = 0;
	for (;;) {
		__u64 a;

		send(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		usleep(25000);
		now = mono_now_ns() / 1000000;
		a = quota_acked(fd);
		if (a != last) {
			last = a;
			last_ms = now;
		}
		if (!*cross_ms && a >= limit)
			*cross_ms = now;
		if (now - last_ms > 1500 || now - t0 > 20000)
			break;
	}
	*stall_ms = last_ms;
	return last;
}

/* Waits for the start of a period of len seconds (wall clock), plus
 * after seconds. */
void quota_wait_period(int len, double after)
{
	struct timespec ts;
	double t, wait;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = ts.tv_sec + ts.tv_nsec / 1e9;
	wait = len - (t - (long)(t / len) * len) + after;
	usleep((useconds_t)(wait * 1e6));
}

int quota_daemon_ready(const char *sock, int pid)
{
	json_t *reply;
	int i;

	for (i = 0; i < 300; i++) {
		if (!ctl_request(sock, "stats", &reply)) {
			json_decref(reply);
			return 0;
		}
		usleep(20000);
	}
	return -1;
}

json_t *quota_of(const char *dsn, const char *name)
{
	char *out = NULL;
	json_t *o, *q, *res = NULL;
	size_t i;

	if (run(&out, NULL, "%s -j quota --db '%s'", flowbpf_bin(), dsn))
		goto out;
	o = json_loads(out, 0, NULL);
	json_array_foreach(json_object_get(o, "quotas"), i, q)
		if (!strcmp(json_string_value(json_object_get(q, "quota")),
			    name))
			res = json_incref(q);
	json_decref(o);
out:
	free(out);
	return res;
}

static __u64 daemon_count(const char *sock, const char *key)
{
	json_t *reply = NULL;
	__u64 v = 0;

	if (!ctl_request(sock, "stats", &reply))
		v = json_integer_value(
			json_object_get(json_object_get(reply, "quotas"), key));
	json_decref(reply);
	return v;
}

/* The setup of test_end_to_end(): two hosts, each with flowbpf, a
 * collector and a server, and one daemon for both. */
struct quota_run {
	char dir[32], db[96], pol[96], sock[96];
	struct test_net n1, n2;
	struct test_srv s1, s2;
	pid_t dmn, c1, c2, srv1, srv2;
};

/* Both hosts, attached in enforce mode, and the policy: unit a with its
 * quota on the first, unit b on the second. */
static bool quota_hosts(struct quota_run *r)
{
	char text[1024];
	int i;

	if (!ASSERT_OK(net_setup(&r->n1), "net_setup 1") ||
	    !ASSERT_OK(net_setup(&r->n2), "net_setup 2"))
		return false;
	for (i = 0; i < 2; i++)
		if (!ASSERT_OK(run(NULL, NULL,
				   "%s attach %s --mode enforce --pending hold",
				   flowbpf_bin(),
				   i ? r->n2.host_if : r->n1.host_if),
			       "attach"))
			return false;
	snprintf(text, sizeof(text),
		 "unit a { %s }\nunit b { %s }\naccount a, b;\n"
		 "quota a limit 1M per %ds deny soft 50%%;\ndefault allow;\n",
		 r->n1.peer_ip, r->n2.peer_ip, QUOTA_PERIOD);
	test_write_file(r->pol, text);
	return true;
}

/* The collectors, the daemon and the servers, once the hosts are up. */
static bool quota_start(struct quota_run *r)
{
	const char *col =
		"exec %s collect %s --interval 100ms --active 100ms --units %s --db %s";

	if (!quota_hosts(r))
		return false;
	r->c1 = spawn(col, flowbpf_bin(), r->n1.host_if, r->pol, r->db);
	r->c2 = spawn(col, flowbpf_bin(), r->n2.host_if, r->pol, r->db);
	r->dmn = spawn("exec %s daemon -c %s --socket %s --db %s %s %s",
		       flowbpf_bin(), r->pol, r->sock, r->db, r->n1.host_if,
		       r->n2.host_if);
	if (!ASSERT_OK(quota_daemon_ready(r->sock, r->dmn), "daemon answers"))
		return false;
	r->srv1 = server_start(&r->n1, test_tcp_drain, &r->s1);
	r->srv2 = server_start(&r->n2, test_tcp_drain, &r->s2);
	return ASSERT_GE(r->srv1, 1, "server 1") &&
	       ASSERT_GE(r->srv2, 1, "server 2");
}

/* A transfer of unit a over its quota, cut off soon after; fd its
 * socket (-1 if it did not connect). */
static bool quota_cut_off(struct quota_run *r, int *fd)
{
	__u64 got, cross, stall;

	*fd = quota_connect(r->n1.peer_ip, QUOTA_PORT, 2000);
	if (!ASSERT_GE(*fd, 0, "connect before the quota"))
		return false;
	got = quota_transfer(*fd, 1 << 20, &cross, &stall);
	test__log("  acked %llu bytes, stalled %llu ms after 1 MiB\n",
		  (unsigned long long)got, (unsigned long long)(stall - cross));
	ASSERT_GE(got, 900000, "the transfer reaches the quota");
	ASSERT_LE(got, 5 << 20, "and is cut off soon after");
	ASSERT_TRUE(cross > 0, "1 MiB acknowledged");
	ASSERT_LE(stall - cross, 4000, "cut off within the sweep and 2 s");
	return true;
}

/* While blocked: unit a is refused, unit b is not, and the store and
 * the daemon say so. */
static void quota_blocked(struct quota_run *r)
{
	json_t *q;
	int c;

	ASSERT_EQ(quota_connect(r->n1.peer_ip, QUOTA_PORT, 1500), -1,
		  "a new connection of the unit is refused");
	c = quota_connect(r->n2.peer_ip, QUOTA_PORT, 1500);
	ASSERT_GE(c, 0, "another unit's connection works");
	if (c >= 0)
		close(c);
	q = test_quota_blocked(r->db, "a/15s");
	if (q)
		ASSERT_EQ(json_integer_value(json_object_get(q, "limit")),
			  1 << 20, "quota limit");
	json_decref(q);
	ASSERT_GE(daemon_count(r->sock, "blocks"), 1,
		  "daemon counts the block");
	ASSERT_GE(daemon_count(r->sock, "soft_warnings"), 1,
		  "daemon counts the 50% warning");
}

static void quota_end(struct quota_run *r)
{
	stop(r->dmn, 3000);
	stop(r->c1, 3000);
	stop(r->c2, 3000);
	stop(r->srv1, 2000);
	stop(r->srv2, 2000);
	net_cleanup(&r->n1);
	net_cleanup(&r->n2);
	run(NULL, NULL, "rm -rf %s", r->dir);
}

static void test_end_to_end(void)
{
	struct quota_run r = { .s1 = { .port = QUOTA_PORT },
			       .s2 = { .port = QUOTA_PORT },
			       .dmn = -1,
			       .c1 = -1,
			       .c2 = -1,
			       .srv1 = -1,
			       .srv2 = -1 };
	int fd = -1, c;

	snprintf(r.dir, sizeof(r.dir), "/tmp/flowbpf-quota-XXXXXX");
	if (!ASSERT_OK_PTR(mkdtemp(r.dir), "mkdtemp"))
		return;
	snprintf(r.db, sizeof(r.db), "%s/acct.db", r.dir);
	snprintf(r.pol, sizeof(r.pol), "%s/quota.conf", r.dir);
	snprintf(r.sock, sizeof(r.sock), "%s/ctl.sock", r.dir);
	if (!quota_start(&r))
		goto out;
	/* All of it within one period. */
	quota_wait_period(QUOTA_PERIOD, 0.2);
	if (!quota_cut_off(&r, &fd))
		goto out;
	quota_blocked(&r);
	/* The next period lifts it, within the daemon's poll. */
	quota_wait_period(QUOTA_PERIOD, 1.5);
	c = quota_connect(r.n1.peer_ip, QUOTA_PORT, 2000);
	ASSERT_GE(c, 0, "the unit connects again in the next period");
	if (c >= 0)
		close(c);
out:
	if (fd >= 0)
		close(fd);
	quota_end(&r);
}

void test_quota(void)
{
	if (test__start_subtest("end_to_end"))
		test_end_to_end();
}
