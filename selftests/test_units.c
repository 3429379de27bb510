// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Accounting by unit (docs/units.md): the policy's new statements and
 * their errors, and the totals of real traffic in the SQLite store: equal
 * to the records attributed to each unit and to an independent count of
 * what was sent, also across a kill -9 of the collector.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "acct.h"
#include "log.h"
#include "netns.h"
#include "policy.h"
#include "test.h"
#include "test_collect.h"
#include "test_units.h"

/* ---- the language ---- */

static const struct {
	const char *text, *err;
} bad_cases[] = {
	{ "unit a { 198.18.0.1 }\naccount b;\n",
	  "t.conf:2:9: unknown unit 'b'" },
	{ "unit a { 198.18.0.1 }\naccount a, a;\n",
	  "t.conf:2:12: unit 'a' is already accounted" },
	{ "unit a { 198.18.0.1 }\naccount a\n",
	  "t.conf:3:1: expected ',' or ';', found end of file" },
	{ "class web proto tcp port 80 price x;\n",
	  "t.conf:1:35: invalid price 'x' (a number per GB)" },
	{ "class web peer lan;\n", "t.conf:1:16: unknown unit 'lan'" },
	{ "class web dport 80;\n",
	  "t.conf:1:11: unknown match 'dport' (expected peer, proto, port or price)" },
	{ "class other proto udp;\n",
	  "t.conf:1:7: class 'other' is the traffic no class takes" },
	{ "class web proto icmp port 80;\n",
	  "t.conf:1:1: ports need proto tcp, udp, sctp, dccp or udplite" },
	{ "class a proto tcp;\nclass a proto udp;\n",
	  "t.conf:2:7: class 'a' is already defined" },
	{ "unit a { 198.18.0.1 }\nquota a limit 1M per day;\n",
	  "t.conf:2:7: unit 'a' is not accounted (account it first)" },
	{ "unit a { 198.18.0.1 }\naccount a;\nquota a limit 1M;\n",
	  "t.conf:3:1: a quota needs limit and per" },
	{ "unit a { 198.18.0.1 }\naccount a;\nquota a limit 1X per day;\n",
	  "t.conf:3:15: invalid limit '1X' (bytes, with K, M, G or T)" },
	{ "unit a { 198.18.0.1 }\naccount a;\nquota a limit 1M per fortnight;\n",
	  "t.conf:3:22: invalid period 'fortnight' (day, week, month, or whole seconds up to 1 day: 30s, 5m)" },
	{ "unit a { 198.18.0.1 }\naccount a;\nquota a limit 1M per day class web;\n",
	  "t.conf:3:32: unknown class 'web'" },
	{ "unit a { 198.18.0.1 }\naccount a;\nquota a limit 1M per day deny warn;\n",
	  "t.conf:3:31: deny and warn exclude each other" },
	{ "unit a { 198.18.0.1 }\naccount a;\nquota a limit 1M per day soft 80%,50%;\n",
	  "t.conf:3:35: soft thresholds must ascend" },
	{ "unit a { 198.18.0.1 }\naccount a;\nquota a limit 1M per day soft 100%;\n",
	  "t.conf:3:31: invalid soft threshold '100%' (1% to 99%)" },
	{ "unit a { 198.18.0.1 }\naccount a;\nquota a limit 1M per day dir up;\n",
	  "t.conf:3:30: expected in or out after dir, found 'up'" },
	{ "unit a { 198.18.0.1 }\naccount a;\nquota a limit 1M limit 2M per day;\n",
	  "t.conf:3:18: 'limit' is given twice in this statement" },
	{ "unit class { 198.18.0.1 }\n",
	  "t.conf:1:6: expected a unit name, found 'class'" },
};

static void test_language(void)
{
	char err[512];
	struct policy *p;
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		err[0] = '\0';
		p = policy_parse("t.conf", bad_cases[i].text);
		snprintf(err, sizeof(err), "%s", p ? "" : err_get());
		ASSERT_TRUE(p == NULL, bad_cases[i].err);
		ASSERT_STREQ(err, bad_cases[i].err, "error message");
		policy_free(p);
	}
	p = policy_parse(
		"t.conf",
		"unit lan { 198.18.0.0/15 }\nunit lab { 198.19.1.0/24 }\n"
		"account lab, lan;\n"
		"class internet peer !lan price 0.25;\n"
		"class web proto tcp port 80,443;\n"
		"quota lab class internet dir out limit 2M per 30s warn soft 50%,90%;\n");
	if (!ASSERT_OK_PTR(p, err_get()))
		return;
	ASSERT_EQ(p->nacct, 2, "accounted units");
	ASSERT_EQ(p->nclasses, 2, "classes");
	ASSERT_EQ(p->nquotas, 1, "quotas");
	ASSERT_EQ(p->quotas[0].limit, 2 << 20, "limit");
	ASSERT_EQ(p->quotas[0].period, PERIOD_SECONDS, "period");
	ASSERT_EQ(p->quotas[0].period_s, 30, "period length");
	ASSERT_EQ(p->quotas[0].dir, ACCT_OUT, "dir");
	ASSERT_EQ(p->quotas[0].cls, 0, "class");
	ASSERT_TRUE(p->quotas[0].warn_only, "warn");
	ASSERT_EQ(p->quotas[0].nsoft, 2, "soft thresholds");
	ASSERT_TRUE(p->classes[0].price == 0.25, "price");
	policy_free(p);
}

/* ---- real traffic ---- */

/* The sources of the units, on the peer's side (its namespace only). */
#define S1 UNIT_S1
#define S2 "198.19.251.2"
#define S3 "198.19.252.1"

static const char units_policy[] = "unit lab1 { 198.19.251.0/24 }\n"
				   "unit lab2 { 198.19.252.0/24 }\n"
				   "unit labs { lab1; lab2 }\n"
				   "unit h1 { " S1 " }\n"
				   "unit peer { %s }\n"
				   "account labs, lab1, lab2, h1, peer;\n"
				   "class web proto udp port 8080;\n"
				   "default allow;\n";

/* Sends each burst's datagrams from its source; 0 once all are sent. */
int udp_bursts(void *arg)
{
	const struct burst *b = arg;
	char buf[1500] = {};

	for (; b->src; b++) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		int fd = socket(AF_INET, SOCK_DGRAM, 0), i;

		inet_pton(AF_INET, b->src, &a.sin_addr);
		if (fd < 0 || bind(fd, (void *)&a, sizeof(a)))
			return 2;
		a.sin_port = htons(b->port);
		inet_pton(AF_INET, b->dst, &a.sin_addr);
		for (i = 0; i < b->count; i++) {
			if (sendto(fd, buf, b->payload, 0, (void *)&a,
				   sizeof(a)) != b->payload)
				return 3;
			if (b->gap_us)
				usleep(b->gap_us);
		}
		close(fd);
	}
	return 0;
}

/* A UDP socket on ip:port that takes datagrams until killed, so that
 * nothing answers them with an ICMP error: the sources have no route
 * back, and an error would leave by the default route. */
int udp_hold(void *arg)
{
	const struct burst *b = arg;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(b->port) };
	char buf[2048];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, b->src, &a.sin_addr);
	if (fd < 0 || bind(fd, (void *)&a, sizeof(a)))
		return 2;
	for (;;)
		if (recv(fd, buf, sizeof(buf), 0) < 0 && errno != EINTR)
			return 3;
}

static int total_row(void *ctx, int n, const char *const *v)
{
	struct total *t = ctx;

	t->packets += v[0] ? strtoull(v[0], NULL, 10) : 0;
	t->bytes += v[1] ? strtoull(v[1], NULL, 10) : 0;
	return 0;
}

/* The store's total of a unit, direction, class ("" any) and roll-up. */
int db_total(const char *dsn, const char *unit, const char *dir,
	     const char *cls, const char *period, struct total *t)
{
	struct acct_db *db;
	int ret;

	memset(t, 0, sizeof(*t));
	if (acct_db_open(dsn, &db)) {
		fprintf(stderr, "%s\n", err_get());
		return -EIO;
	}
	ret = acct_db_exec(
		db,
		"SELECT SUM(packets), SUM(bytes) FROM totals WHERE unit = ? AND dir = ? "
		"AND (class = ? OR ? = '') AND period = ?",
		5,
		(struct acct_val[]){ AVS(unit), AVS(dir), AVS(cls), AVS(cls),
				     AVS(period) },
		total_row, t);
	acct_db_close(db);
	return ret;
}

void test_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

void test_report_check(const char *dsn, const char *unit, __u64 packets,
		       __u64 bytes)
{
	char *out = NULL;
	json_t *o, *u, *c;
	__u64 pk = 0, by = 0;
	size_t i;

	if (!ASSERT_EQ(run(&out, NULL, "%s -j report --db '%s' --unit %s",
			   flowbpf_bin(), dsn, unit),
		       0, "report -j"))
		goto out;
	o = json_loads(out, 0, NULL);
	u = json_array_get(json_object_get(o, "units"), 0);
	ASSERT_STREQ(json_string_value(json_object_get(u, "unit")), unit,
		     "report's unit");
	ASSERT_EQ(json_integer_value(json_object_get(u, "bytes")), bytes,
		  "report's bytes");
	json_array_foreach(json_object_get(u, "classes"), i, c) {
		pk += json_integer_value(
			json_object_get(json_object_get(c, "in"), "packets"));
		pk += json_integer_value(
			json_object_get(json_object_get(c, "out"), "packets"));
		by += json_integer_value(
			json_object_get(json_object_get(c, "in"), "bytes"));
		by += json_integer_value(
			json_object_get(json_object_get(c, "out"), "bytes"));
	}
	ASSERT_EQ(pk, packets, "report's classes: packets");
	ASSERT_EQ(by, bytes, "report's classes: bytes");
	json_decref(o);
	free(out);
	out = NULL;
	ASSERT_EQ(run(&out, NULL, "%s report --db '%s' --csv --unit %s",
		      flowbpf_bin(), dsn, unit),
		  0, "report --csv");
	ASSERT_HAS(
		out,
		"unit,class,packets_in,bytes_in,packets_out,bytes_out,charge\n",
		"csv header");
	ASSERT_HAS(out, unit, "csv row");
	free(out);
	out = NULL;
	ASSERT_EQ(run(&out, NULL, "%s report --db '%s'", flowbpf_bin(), dsn), 0,
		  "report");
	ASSERT_HAS(out, "UNIT", "table header");
	ASSERT_HAS(out, unit, "table row");
out:
	free(out);
}

int db_total_gw(const char *dsn, const char *gw, const char *unit,
		struct total *t)
{
	struct acct_db *db;
	int ret;

	memset(t, 0, sizeof(*t));
	if (acct_db_open(dsn, &db)) {
		fprintf(stderr, "%s\n", err_get());
		return -EIO;
	}
	ret = acct_db_exec(
		db,
		"SELECT SUM(packets), SUM(bytes) FROM totals WHERE gateway = ? "
		"AND unit = ? AND period = 'day'",
		2, (struct acct_val[]){ AVS(gw), AVS(unit) }, total_row, t);
	acct_db_close(db);
	return ret;
}

static bool in_prefix(const char *addr, const char *prefix)
{
	return !strncmp(addr, prefix, strlen(prefix));
}

/* What the records say of a unit given by an address prefix. */
static void rec_total(const struct rec *r, int n, const char *prefix, bool out,
		      struct total *t)
{
	int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < n; i++)
		if (in_prefix(out ? r[i].src : r[i].dst, prefix)) {
			t->packets += r[i].packets;
			t->bytes += r[i].bytes;
		}
}

int test_unit_sources(const char *ns, const char *ifname)
{
	return run(NULL, NULL,
		   "ip -n %s addr add " S1 "/32 dev %s && "
		   "ip -n %s addr add " S2 "/32 dev %s && "
		   "ip -n %s addr add " S3 "/32 dev %s",
		   ns, ifname, ns, ifname, ns, ifname);
}

static int add_sources(struct test_net *n)
{
	return test_unit_sources(n->ns, n->peer_if);
}

/* A test of real traffic: its directory, store, policy and host. */
struct units_run {
	char dir[32], db[96], pol[96];
	struct test_net n;
};

/* A directory of its own, then the host with the units' sources,
 * flowbpf attached and the policy written.  0; -1 if the directory
 * failed (nothing to clean up); 1 if a later step did (units_end()). */
static int units_start(struct units_run *u)
{
	char text[1024];

	snprintf(u->dir, sizeof(u->dir), "/tmp/flowbpf-units-XXXXXX");
	if (!ASSERT_OK_PTR(mkdtemp(u->dir), "mkdtemp"))
		return -1;
	snprintf(u->db, sizeof(u->db), "%s/acct.db", u->dir);
	snprintf(u->pol, sizeof(u->pol), "%s/units.conf", u->dir);
	if (!ASSERT_OK(net_setup(&u->n), "net_setup") ||
	    !ASSERT_OK(add_sources(&u->n), "source addresses") ||
	    !ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
			   u->n.host_if),
		       "attach"))
		return 1;
	snprintf(text, sizeof(text), units_policy, u->n.peer_ip);
	test_write_file(u->pol, text);
	return 0;
}

static void units_end(struct units_run *u)
{
	net_cleanup(&u->n);
	run(NULL, NULL, "rm -rf %s", u->dir);
}

/* A receiver of b (set to ip:port) in a child of the root namespace. */
static pid_t hold_fork(struct burst *b, const char *ip, int port)
{
	pid_t pid;

	*b = (struct burst){ .src = ip, .port = port };
	pid = fork();
	if (!pid)
		_exit(udp_hold(b));
	return pid;
}

/* Stops a child if there is one. */
static void stop_some(pid_t pid)
{
	if (pid > 0)
		stop(pid, 2000);
}

/* A unit's total in the store, against the records and what was sent. */
static void check_unit(const char *db, const struct rec *r, int nr,
		       const char *unit, const char *prefix, bool out,
		       __u64 packets, __u64 bytes)
{
	struct total t, rt, m;
	char what[96];

	snprintf(what, sizeof(what), "%s %s", unit, out ? "out" : "in");
	if (!ASSERT_OK(db_total(db, unit, out ? "out" : "in", "", "day", &t),
		       what))
		return;
	rec_total(r, nr, prefix, out, &rt);
	ASSERT_EQ(t.packets, packets, what);
	ASSERT_EQ(t.bytes, bytes, what);
	ASSERT_EQ(rt.packets, packets, "records' packets");
	ASSERT_EQ(rt.bytes, bytes, "records' bytes");
	/* Every roll-up holds the same traffic. */
	db_total(db, unit, out ? "out" : "in", "", "minute", &m);
	ASSERT_EQ(m.bytes, bytes, "minute roll-ups");
	db_total(db, unit, out ? "out" : "in", "", "month", &m);
	ASSERT_EQ(m.bytes, bytes, "month roll-up");
}

/* The receivers of test_exact(), on both sides, so nothing is
 * answered. */
struct exact_rx {
	struct burst hold, hold2, in_hold[2];
	pid_t ns_rx, host_rx, host_rx2;
};

static void exact_receive(struct test_net *n, struct exact_rx *x)
{
	x->host_rx = hold_fork(&x->hold, n->host_ip, 8080);
	x->host_rx2 = hold_fork(&x->hold2, n->host_ip, 9090);
	x->in_hold[0] = (struct burst){ .src = n->peer_ip, .port = 7000 };
	x->ns_rx = ns_fork(n->ns, udp_hold, x->in_hold, false);
	usleep(100000);
}

/* From each unit's source to the host, and from the host to the peer. */
static void exact_send(struct test_net *n)
{
	struct burst b[4] = {};

	b[0] = (struct burst){ S1, n->host_ip, 8080, 50, 100 };
	b[1] = (struct burst){ S2, n->host_ip, 9090, 30, 200 };
	b[2] = (struct burst){ S3, n->host_ip, 8080, 20, 300 };
	ASSERT_EQ(ns_fork(n->ns, udp_bursts, b, true), 0,
		  "sent from the units");
	b[0] = (struct burst){ n->host_ip, n->peer_ip, 7000, 40, 500 };
	b[1] = (struct burst){};
	ASSERT_EQ(udp_bursts(b), 0, "sent to the peer");
}

/* Each unit's totals against the records and what exact_send() sent. */
static void exact_check(const char *db, const struct rec *r, int nr,
			const char *peer_ip)
{
	struct total t;

	/* IP bytes: 20 of IP and 8 of UDP header per datagram. */
	check_unit(db, r, nr, "h1", S1, true, 50, 50 * 128);
	check_unit(db, r, nr, "lab1", "198.19.251.", true, 80,
		   50 * 128 + 30 * 228);
	check_unit(db, r, nr, "lab2", "198.19.252.", true, 20, 20 * 328);
	check_unit(db, r, nr, "labs", "198.19.25", true, 100,
		   50 * 128 + 30 * 228 + 20 * 328);
	check_unit(db, r, nr, "peer", peer_ip, false, 40, 40 * 528);
	/* Classes split a unit's traffic, and add up to it. */
	ASSERT_OK(db_total(db, "lab1", "out", "web", "day", &t), "class web");
	ASSERT_EQ(t.packets, 50, "lab1 web packets");
	ASSERT_OK(db_total(db, "lab1", "out", "other", "day", &t),
		  "class other");
	ASSERT_EQ(t.packets, 30, "lab1 other packets");
	ASSERT_EQ(t.bytes, 30 * 228, "lab1 other bytes");
	/* Nothing counts for a unit in a direction it has no traffic in. */
	ASSERT_OK(db_total(db, "lab1", "in", "", "day", &t), "lab1 in");
	ASSERT_EQ(t.packets, 0, "lab1 in packets");
	test_report_check(db, "labs", 100, 50 * 128 + 30 * 228 + 20 * 328);
}

static void test_exact(void)
{
	struct exact_rx x = { .ns_rx = -1, .host_rx = -1, .host_rx2 = -1 };
	struct units_run u = {};
	struct rec *r = NULL;
	char out[96];
	pid_t col = -1;
	int nr, ret;

	ret = units_start(&u);
	if (ret < 0)
		return;
	if (ret)
		goto out;
	snprintf(out, sizeof(out), "%s/flows.jsonl", u.dir);
	col = spawn(
		"exec %s collect %s --interval 100ms --units %s --db %s -o %s",
		flowbpf_bin(), u.n.host_if, u.pol, u.db, out);
	usleep(400000);
	exact_receive(&u.n, &x);
	exact_send(&u.n);
	usleep(300000);
	ASSERT_EQ(stop(col, 5000), 0, "collector exits 0");
	col = -1;
	nr = read_records(out, &r);
	ASSERT_GE(nr, 4, "records");
	exact_check(u.db, r, nr, u.n.peer_ip);
out:
	stop_some(col);
	stop_some(x.ns_rx);
	stop_some(x.host_rx);
	stop_some(x.host_rx2);
	free(r);
	units_end(&u);
}

/* kill -9 in the middle of a stream, a new collector, exact totals. */
static void test_restart(void)
{
	struct burst hold = {}, b[2] = {};
	struct units_run u = {};
	char cmd[512];
	struct total t;
	pid_t col = -1, host_rx = -1, tx = -1;
	int kills, ret;

	ret = units_start(&u);
	if (ret < 0)
		return;
	if (ret)
		goto out;
	snprintf(
		cmd, sizeof(cmd),
		"exec %s collect %s --interval 50ms --active 100ms --units %s --db %s",
		flowbpf_bin(), u.n.host_if, u.pol, u.db);
	col = spawn("%s", cmd);
	usleep(400000);
	host_rx = hold_fork(&hold, u.n.host_ip, 8080);
	b[0] = (struct burst){ S1, u.n.host_ip, 8080, 3000, 172, 1000 };
	tx = ns_fork(u.n.ns, udp_bursts, b, false);
	/* Kills while the stream goes on, each after active records. */
	for (kills = 0; kills < 3; kills++) {
		usleep(700000);
		kill(col, SIGKILL);
		ns_wait(col, 2000);
		col = spawn("%s", cmd);
	}
	ASSERT_EQ(ns_wait(tx, 30000), 0, "stream sent");
	tx = -1;
	usleep(200000);
	ASSERT_EQ(stop(col, 5000), 0, "last collector exits 0");
	col = -1;
	ASSERT_OK(db_total(u.db, "h1", "out", "", "day", &t), "h1 out");
	ASSERT_EQ(t.packets, 3000, "packets after three kills");
	ASSERT_EQ(t.bytes, 3000 * 200, "bytes after three kills");
	ASSERT_OK(db_total(u.db, "h1", "out", "", "minute", &t), "h1 minutes");
	ASSERT_EQ(t.bytes, 3000 * 200, "minute roll-ups after three kills");
out:
	stop_some(tx);
	stop_some(col);
	stop_some(host_rx);
	units_end(&u);
}

/* Records written again, or again and longer, add only what is new. */
static void test_identity(void)
{
	char dir[] = "/tmp/flowbpf-units-XXXXXX", db[96];
	struct policy *p = NULL;
	struct acct_record r = {};
	struct acct_db *d = NULL;
	struct total t;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	snprintf(db, sizeof(db), "%s/acct.db", dir);
	p = policy_parse("t.conf", "unit h1 { " S1 " }\naccount h1;\n");
	if (!ASSERT_OK_PTR(p, err_get()) ||
	    !ASSERT_OK(acct_db_open(db, &d), err_get()))
		goto out;
	key4(&r.key, FLOWBPF_DIR_INGRESS, 17, S1, 4000, "198.18.0.1", 53);
	r.end_ms = time(NULL) * 1000ULL;
	r.first_tick = 1234;
	r.ifname = "fbt0";
	r.packets = 10;
	r.bytes = 1000;
	ASSERT_OK(acct_write_batch(d, p, "gw", &r, 1), "first record");
	ASSERT_OK(acct_write_batch(d, p, "gw", &r, 1), "the same again");
	db_total(db, "h1", "out", "", "day", &t);
	ASSERT_EQ(t.packets, 10, "a record written twice counts once");
	/* A collector killed before saving its state reports the interval
	 * again, with what came since. */
	r.packets = 15;
	r.bytes = 1500;
	ASSERT_OK(acct_write_batch(d, p, "gw", &r, 1), "again and longer");
	db_total(db, "h1", "out", "", "day", &t);
	ASSERT_EQ(t.packets, 15, "only the new packets count");
	ASSERT_EQ(t.bytes, 1500, "only the new bytes count");
	r.seq_packets = 15;
	r.seq_bytes = 1500;
	r.packets = 5;
	r.bytes = 500;
	ASSERT_OK(acct_write_batch(d, p, "gw", &r, 1), "the next record");
	ASSERT_OK(acct_write_batch(d, p, "gw", &r, 1), "the next again");
	db_total(db, "h1", "out", "", "day", &t);
	ASSERT_EQ(t.packets, 20, "packets");
	ASSERT_EQ(t.bytes, 2000, "bytes");
	/* A new flow with the same key (another first packet) is its own. */
	r.first_tick = 99;
	r.seq_packets = r.seq_bytes = 0;
	ASSERT_OK(acct_write_batch(d, p, "gw", &r, 1), "a new flow");
	db_total(db, "h1", "out", "", "day", &t);
	ASSERT_EQ(t.packets, 25, "a new flow of the same key counts");
out:
	acct_db_close(d);
	policy_free(p);
	run(NULL, NULL, "rm -rf %s", dir);
}

void test_units(void)
{
	if (test__start_subtest("language"))
		test_language();
	if (test__start_subtest("identity"))
		test_identity();
	if (test__start_subtest("exact"))
		test_exact();
	if (test__start_subtest("restart"))
		test_restart();
}
