// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Two gateways, one PostgreSQL: two veth pairs, each with its own
 * flowbpf (attach, collector, daemon), write their totals to one private
 * PostgreSQL server that the test starts (initdb and pg_ctl as the
 * postgres user, in a directory under /tmp, on a unix socket only).  A
 * quota on the sum of both is reached by neither alone and enforced on
 * both.
 */
#include <errno.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "netns.h"
#include "test.h"
#include "test_collect.h"
#include "test_quota.h"
#include "test_units.h"

#define GW_PERIOD 20
#define GW_PORT 5001

static int pg_count;

/* pg_ctl start or stop of pg's server; its exit status. */
int test_pg_ctl(struct pg *pg, const char *what)
{
	if (!strcmp(what, "stop"))
		return run(
			NULL, NULL,
			"runuser -u postgres -- %s/pg_ctl -D %s/data -m fast -w stop >/dev/null",
			pg->bin, pg->dir);
	return run(
		NULL, NULL,
		"runuser -u postgres -- %s/pg_ctl -D %s/data -l %s/log -w -t 30 "
		"-o \"-c listen_addresses='' -c unix_socket_directories=%s -p %d -c fsync=off -c dynamic_shared_memory_type=mmap\" start >/dev/null",
		pg->bin, pg->dir, pg->dir, pg->dir, pg->port);
}

/* Starts a PostgreSQL server of its own; 0, or -1 (skip: why in why). */
int test_pg_start(struct pg *pg, char *why, size_t len)
{
	char *out = NULL;

	if (run(&out, NULL,
		"ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1") ||
	    !out || !out[0]) {
		snprintf(
			why, len,
			"no PostgreSQL server installed (scripts/deps.sh installs it)");
		free(out);
		return -1;
	}
	out[strcspn(out, "\n")] = '\0';
	snprintf(pg->bin, sizeof(pg->bin), "%s", out);
	free(out);
	snprintf(pg->dir, sizeof(pg->dir), "/tmp/flowbpf-pg-XXXXXX");
	if (!mkdtemp(pg->dir)) {
		snprintf(why, len, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	pg->port = 40000 + (getpid() * 7 + pg_count++) % 20000;
	if (run(NULL, NULL,
		"chown postgres %s && runuser -u postgres -- %s/initdb -A trust -U postgres -D %s/data >/dev/null",
		pg->dir, pg->bin, pg->dir) ||
	    test_pg_ctl(pg, "start")) {
		snprintf(
			why, len,
			"the private PostgreSQL server did not start (see %s/log)",
			pg->dir);
		return -1;
	}
	pg->up = true;
	snprintf(pg->dsn, sizeof(pg->dsn),
		 "host=%s port=%d dbname=postgres user=postgres", pg->dir,
		 pg->port);
	return 0;
}

void test_pg_stop(struct pg *pg)
{
	if (pg->up)
		run(NULL, NULL,
		    "runuser -u postgres -- %s/pg_ctl -D %s/data -m immediate -w stop >/dev/null",
		    pg->bin, pg->dir);
	pg->up = false;
	if (pg->dir[0])
		run(NULL, NULL, "rm -rf %s", pg->dir);
	pg->dir[0] = '\0';
}

/* Sends until at least want bytes are acknowledged (or 10 s pass, or
 * nothing more is); the bytes acknowledged. */
static __u64 send_upto(int fd, __u64 want)
{
	static char buf[16384];
	__u64 a = 0, last = 0;
	int i, still = 0;

	for (i = 0; i < 400 && a < want && still < 60; i++) {
		if (want - a > sizeof(buf) * 4)
			send(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
		else if (a == last && still > 4)
			send(fd, buf, 4096, MSG_DONTWAIT | MSG_NOSIGNAL);
		usleep(25000);
		a = quota_acked(fd);
		still = a == last ? still + 1 : 0;
		last = a;
	}
	return a;
}

/* Two gateways on one PostgreSQL: a host, flowbpf, a collector, a
 * daemon and a server each. */
struct gw_run {
	struct test_net n[2];
	struct test_srv s[2];
	char pol[96], sock[2][96];
	pid_t dmn[2], col[2], srv[2];
	int fd[2];
	struct pg pg;
};

/* Both hosts attached in enforce mode, and the policy: one unit of both
 * peers with a quota that neither reaches alone. */
static bool gw_hosts(struct gw_run *r)
{
	char text[1024];
	int i;

	snprintf(r->pol, sizeof(r->pol), "%s/gw.conf", r->pg.dir);
	for (i = 0; i < 2; i++)
		if (!ASSERT_OK(net_setup(&r->n[i]), "net_setup") ||
		    !ASSERT_OK(run(NULL, NULL,
				   "%s attach %s --mode enforce --pending hold",
				   flowbpf_bin(), r->n[i].host_if),
			       "attach"))
			return false;
	snprintf(text, sizeof(text),
		 "unit both { %s; %s }\naccount both;\n"
		 "quota both limit 1M per %ds deny;\ndefault allow;\n",
		 r->n[0].peer_ip, r->n[1].peer_ip, GW_PERIOD);
	test_write_file(r->pol, text);
	return true;
}

/* Each gateway's collector, daemon and server. */
static bool gw_start(struct gw_run *r)
{
	int i;

	if (!gw_hosts(r))
		return false;
	for (i = 0; i < 2; i++) {
		snprintf(r->sock[i], sizeof(r->sock[i]), "%s/ctl%d.sock",
			 r->pg.dir, i);
		r->col[i] = spawn(
			"exec %s collect %s --interval 100ms --active 100ms --units %s --db '%s' --gateway gw%d",
			flowbpf_bin(), r->n[i].host_if, r->pol, r->pg.dsn, i);
		r->dmn[i] =
			spawn("exec %s daemon -c %s --socket %s --db '%s' %s",
			      flowbpf_bin(), r->pol, r->sock[i], r->pg.dsn,
			      r->n[i].host_if);
		if (!ASSERT_OK(quota_daemon_ready(r->sock[i], r->dmn[i]),
			       "daemon answers"))
			return false;
		r->srv[i] = server_start(&r->n[i], test_tcp_drain, &r->s[i]);
		if (!ASSERT_GE(r->srv[i], 1, "server"))
			return false;
	}
	return true;
}

/* 600 KB through the first gateway: under the quota, so the unit still
 * connects through the second.  Its totals in t. */
static bool gw_first(struct gw_run *r, struct total *t)
{
	__u64 got;
	int c;

	r->fd[0] = quota_connect(r->n[0].peer_ip, GW_PORT, 2000);
	if (!ASSERT_GE(r->fd[0], 0, "connect through gateway 0"))
		return false;
	got = send_upto(r->fd[0], 600000);
	ASSERT_GE(got, 600000, "gateway 0 carries 600 KB");
	usleep(1500000);
	ASSERT_OK(db_total_gw(r->pg.dsn, "gw0", "both", t), "totals");
	test__log("  gateway 0: %llu bytes acked, %llu in its totals\n",
		  (unsigned long long)got, (unsigned long long)t->bytes);
	ASSERT_LE(t->bytes, (1 << 20) - 1,
		  "gateway 0 alone is under the quota");
	ASSERT_GE(t->bytes, 600000, "gateway 0's totals");
	c = quota_connect(r->n[1].peer_ip, GW_PORT, 1500);
	ASSERT_GE(c, 0, "under the quota, gateway 1 connects");
	if (c >= 0)
		close(c);
	return true;
}

/* 600 KB more through the second: the sum is over, and both gateways
 * refuse the unit.  t0: the first gateway's totals. */
static void gw_second(struct gw_run *r, const struct total *t0)
{
	struct total t1;
	__u64 got;
	int i;

	r->fd[1] = quota_connect(r->n[1].peer_ip, GW_PORT, 2000);
	if (!ASSERT_GE(r->fd[1], 0, "connect through gateway 1"))
		return;
	got = send_upto(r->fd[1], 600000);
	ASSERT_GE(got, 400000, "gateway 1 carries its part");
	usleep(2500000);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(quota_connect(r->n[i].peer_ip, GW_PORT, 1500), -1,
			  "the sum's quota refuses the unit on both gateways");
	json_decref(test_quota_blocked(r->pg.dsn, "both/20s"));
	/* Each gateway wrote its own totals; their sum is over. */
	ASSERT_OK(db_total_gw(r->pg.dsn, "gw1", "both", &t1), "totals");
	test__log("  gateway 1: %llu bytes acked, %llu in its totals\n",
		  (unsigned long long)got, (unsigned long long)t1.bytes);
	ASSERT_GE(t1.bytes, 300000, "gateway 1's totals");
	ASSERT_GE(t0->bytes + t1.bytes, 1 << 20, "the sum is over the quota");
}

static void gw_end(struct gw_run *r)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (r->fd[i] >= 0)
			close(r->fd[i]);
		stop(r->dmn[i], 3000);
		stop(r->col[i], 5000);
		stop(r->srv[i], 2000);
		net_cleanup(&r->n[i]);
	}
	test_pg_stop(&r->pg);
}

static void test_shared(void)
{
	struct gw_run r = {
		.s = { { .port = GW_PORT }, { .port = GW_PORT } },
		.dmn = { -1, -1 },
		.col = { -1, -1 },
		.srv = { -1, -1 },
		.fd = { -1, -1 },
	};
	struct total t0;
	char why[256];

	if (test_pg_start(&r.pg, why, sizeof(why))) {
		test__skip("%s", why);
		test_pg_stop(&r.pg);
		return;
	}
	if (gw_start(&r)) {
		quota_wait_period(GW_PERIOD, 0.2);
		if (gw_first(&r, &t0))
			gw_second(&r, &t0);
	}
	gw_end(&r);
}

void test_quota_gateways(void)
{
	if (test__start_subtest("shared_postgresql"))
		test_shared();
}
