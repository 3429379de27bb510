// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The totals in PostgreSQL, and what happens when the server goes away:
 * the records wait in the collector (counted in write_errors and
 * records_pending) and are written when it returns, every datagram once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "netns.h"
#include "test.h"
#include "test_collect.h"
#include "test_units.h"

static json_t *acct_stats(const char *ifname)
{
	char *out = NULL;
	json_t *o = NULL, *a = NULL;

	if (!run(&out, NULL, "%s -j stats %s", flowbpf_bin(), ifname))
		o = json_loads(out, 0, NULL);
	free(out);
	a = json_object_get(json_array_get(json_object_get(o, "interfaces"), 0),
			    "accounting");
	json_incref(a);
	json_decref(o);
	return a;
}

static void test_outage(void)
{
	char pol[96], why[256];
	struct burst b[2] = {}, hold = {};
	pid_t rx = -1;
	struct test_net n = {};
	struct pg pg = {};
	struct total t;
	json_t *a = NULL;
	pid_t col = -1;

	if (test_pg_start(&pg, why, sizeof(why))) {
		test__skip("%s", why);
		test_pg_stop(&pg);
		return;
	}
	snprintf(pol, sizeof(pol), "%s/units.conf", pg.dir);
	if (!ASSERT_OK(net_setup(&n), "net_setup") ||
	    !ASSERT_OK(test_unit_sources(n.ns, n.peer_if), "sources") ||
	    !ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
			   n.host_if),
		       "attach"))
		goto out;
	test_write_file(pol, "unit h1 { " UNIT_S1 " }\naccount h1;\n");
	col = spawn(
		"exec %s collect %s --interval 100ms --active 100ms --units %s --db '%s'",
		flowbpf_bin(), n.host_if, pol, pg.dsn);
	hold = (struct burst){ .src = n.host_ip, .port = 8080 };
	rx = fork();
	if (!rx)
		_exit(udp_hold(&hold));
	usleep(500000);
	b[0] = (struct burst){ UNIT_S1, n.host_ip, 8080, 100, 72, 1000 };
	ASSERT_EQ(ns_fork(n.ns, udp_bursts, b, true), 0, "sent before");
	usleep(500000);
	if (!ASSERT_OK(test_pg_ctl(&pg, "stop"), "server stops"))
		goto out;
	b[0].count = 200;
	ASSERT_EQ(ns_fork(n.ns, udp_bursts, b, true), 0, "sent while away");
	usleep(1000000);
	a = acct_stats(n.host_if);
	ASSERT_GE(json_integer_value(json_object_get(a, "write_errors")), 1,
		  "write errors counted");
	ASSERT_GE(json_integer_value(json_object_get(a, "records_pending")), 1,
		  "records wait");
	if (!ASSERT_OK(test_pg_ctl(&pg, "start"), "server returns"))
		goto out;
	usleep(1500000);
	ASSERT_EQ(stop(col, 5000), 0, "collector exits 0");
	col = -1;
	ASSERT_OK(db_total(pg.dsn, "h1", "out", "", "day", &t), "h1 out");
	ASSERT_EQ(t.packets, 300, "every datagram once");
	ASSERT_EQ(t.bytes, 300 * 100, "and its bytes");
	test_report_check(pg.dsn, "h1", 300, 300 * 100);
out:
	json_decref(a);
	if (col > 0)
		stop(col, 3000);
	if (rx > 0)
		stop(rx, 2000);
	net_cleanup(&n);
	test_pg_stop(&pg);
}

void test_units_pg(void)
{
	if (test__start_subtest("outage"))
		test_outage();
}
