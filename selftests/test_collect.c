// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Accounting records: the JSON record and its rotation, and "flowbpf
 * collect" end to end: timeouts, the final flush, evictions counted in
 * "stats", and an IPFIX export read back by nfdump from a real nfcapd
 * (the IPFIX encoder and transports are tested in test_ipfix.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <jansson.h>
#include "collect.h"
#include "ipfix.h"
#include "netns.h"
#include "test.h"
#include "test_collect.h"

void test_record_v4(struct acct_record *r, __u32 i)
{
	memset(r, 0, sizeof(*r));
	r->ifindex = 7;
	r->key.dir = FLOWBPF_DIR_INGRESS;
	r->key.family = 4;
	r->key.proto = 6;
	r->key.vlan = 10;
	r->key.saddr[2] = r->key.daddr[2] = htonl(0xffff);
	r->key.saddr[3] = htonl(0xc6120001);
	r->key.daddr[3] = htonl(0xc6120002);
	r->key.sport = htons(40000 + i);
	r->key.dport = htons(443);
	r->start_ms = 1700000000123ULL;
	r->end_ms = 1700000004567ULL;
	r->packets = 10 + i;
	r->bytes = 1000 + i;
	r->tcp_flags = 0x1b;
	r->verdict = FLOWBPF_VERDICT_PASS;
	r->reason = ACCT_END;
	r->ifname = "eth0";
}

void test_record_v6_icmp(struct acct_record *r)
{
	memset(r, 0, sizeof(*r));
	r->ifindex = 7;
	r->key.dir = FLOWBPF_DIR_EGRESS;
	r->key.family = 6;
	r->key.proto = 58;
	r->key.saddr[0] = htonl(0x20010db8);
	r->key.saddr[3] = htonl(1);
	r->key.daddr[0] = htonl(0x20010db8);
	r->key.daddr[3] = htonl(2);
	r->key.dport = htons(128 << 8 | 0);
	r->start_ms = 1700000000000ULL;
	r->end_ms = 1700000001000ULL;
	r->packets = 3;
	r->bytes = 312;
	r->verdict = FLOWBPF_VERDICT_DROP;
	r->reason = ACCT_IDLE;
	r->ifname = "eth0";
}

/* ---- JSON ---- */

static void subtest_json_fields(void)
{
	struct acct_record r;
	json_t *o;

	test_record_v4(&r, 0);
	o = acct_record_json(&r);
	if (!ASSERT_OK_PTR(o, "json"))
		return;
	ASSERT_STREQ(json_string_value(json_object_get(o, "start")),
		     "2023-11-14T22:13:20.123Z", "start, RFC 3339");
	ASSERT_STREQ(json_string_value(json_object_get(o, "end")),
		     "2023-11-14T22:13:24.567Z", "end, RFC 3339");
	ASSERT_EQ(json_integer_value(json_object_get(o, "start_ms")),
		  1700000000123LL, "start_ms");
	ASSERT_EQ(json_integer_value(json_object_get(o, "end_ms")),
		  1700000004567LL, "end_ms");
	ASSERT_STREQ(json_string_value(json_object_get(o, "ifname")), "eth0",
		     "ifname");
	ASSERT_EQ(json_integer_value(json_object_get(o, "ifindex")), 7,
		  "ifindex");
	ASSERT_STREQ(json_string_value(json_object_get(o, "dir")), "in", "dir");
	ASSERT_EQ(json_integer_value(json_object_get(o, "vlan")), 10, "vlan");
	ASSERT_EQ(json_integer_value(json_object_get(o, "proto")), 6, "proto");
	ASSERT_STREQ(json_string_value(json_object_get(o, "proto_name")), "tcp",
		     "proto_name");
	ASSERT_STREQ(json_string_value(json_object_get(o, "src")), "198.18.0.1",
		     "src");
	ASSERT_STREQ(json_string_value(json_object_get(o, "dst")), "198.18.0.2",
		     "dst");
	ASSERT_EQ(json_integer_value(json_object_get(o, "sport")), 40000,
		  "sport");
	ASSERT_EQ(json_integer_value(json_object_get(o, "dport")), 443,
		  "dport");
	ASSERT_EQ(json_integer_value(json_object_get(o, "packets")), 10,
		  "packets");
	ASSERT_EQ(json_integer_value(json_object_get(o, "bytes")), 1000,
		  "bytes");
	ASSERT_EQ(json_integer_value(json_object_get(o, "tcp_flags")), 0x1b,
		  "tcp_flags");
	ASSERT_STREQ(json_string_value(json_object_get(o, "verdict")), "pass",
		     "verdict");
	ASSERT_STREQ(json_string_value(json_object_get(o, "end_reason")), "end",
		     "end_reason");
	ASSERT_FALSE(json_object_get(o, "icmp_type"), "no icmp_type for tcp");
	json_decref(o);

	test_record_v6_icmp(&r);
	o = acct_record_json(&r);
	if (!ASSERT_OK_PTR(o, "json"))
		return;
	ASSERT_STREQ(json_string_value(json_object_get(o, "src")),
		     "2001:db8::1", "IPv6 src");
	ASSERT_EQ(json_integer_value(json_object_get(o, "family")), 6,
		  "family");
	ASSERT_STREQ(json_string_value(json_object_get(o, "dir")), "out",
		     "egress dir");
	ASSERT_EQ(json_integer_value(json_object_get(o, "icmp_type")), 128,
		  "icmp_type");
	ASSERT_EQ(json_integer_value(json_object_get(o, "icmp_code")), 0,
		  "icmp_code");
	ASSERT_FALSE(json_object_get(o, "sport"), "no ports for ICMP");
	ASSERT_STREQ(json_string_value(json_object_get(o, "verdict")), "drop",
		     "verdict");
	ASSERT_STREQ(json_string_value(json_object_get(o, "end_reason")),
		     "idle", "end_reason");
	json_decref(o);
}

/* Lines of a file, gzip or plain (zlib reads both). */
static int count_lines(const char *path, json_int_t *packets)
{
	char line[4096];
	int n = 0;
	gzFile f = gzopen(path, "rb");

	if (!f)
		return -1;
	while (gzgets(f, line, sizeof(line))) {
		json_t *o = json_loads(line, 0, NULL);

		if (o) {
			n++;
			*packets += json_integer_value(
				json_object_get(o, "packets"));
			json_decref(o);
		}
	}
	gzclose(f);
	return n;
}

static void subtest_json_rotate(void)
{
	char dir[] = "/tmp/flowbpf-rotate-XXXXXX", path[128], pat[160];
	struct jsonl_opts jo = { .rotate_bytes = 2000, .gzip = true };
	json_int_t packets = 0, want = 0;
	struct acct_sink *s;
	struct acct_record r;
	int i, lines = 0;
	size_t j;
	glob_t g;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/flows.jsonl", dir);
	jo.path = path;
	s = jsonl_sink_new(&jo);
	if (!ASSERT_OK_PTR(s, "sink"))
		goto out;
	for (i = 0; i < 40; i++) {
		test_record_v4(&r, i);
		want += r.packets;
		s->write(s, &r);
	}
	s->flush(s);
	s->close(s);
	snprintf(pat, sizeof(pat), "%s/flows.jsonl.*.gz", dir);
	if (ASSERT_OK(glob(pat, 0, NULL, &g), "rotated files")) {
		/* ~460 bytes a line: a rotation every 5 lines. */
		ASSERT_GE(g.gl_pathc, 5, "several rotations");
		for (j = 0; j < g.gl_pathc; j++)
			lines += count_lines(g.gl_pathv[j], &packets);
		globfree(&g);
	}
	snprintf(pat, sizeof(pat), "%s/flows.jsonl.*[0-9Z]", dir);
	ASSERT_EQ(glob(pat, 0, NULL, &g), GLOB_NOMATCH,
		  "no uncompressed rotated file left");
	lines += count_lines(path, &packets);
	ASSERT_EQ(lines, 40, "every record in exactly one file");
	ASSERT_EQ(packets, want, "packets survive rotation");

	/* By age: the first flush after it rotates a file that has records. */
	snprintf(path, sizeof(path), "%s/aged.jsonl", dir);
	jo = (struct jsonl_opts){ .path = path, .rotate_ns = 1, .gzip = false };
	s = jsonl_sink_new(&jo);
	if (!ASSERT_OK_PTR(s, "sink"))
		goto out;
	s->flush(s);
	test_record_v4(&r, 0);
	s->write(s, &r);
	s->flush(s);
	s->close(s);
	snprintf(pat, sizeof(pat), "%s/aged.jsonl.*Z", dir);
	if (ASSERT_OK(glob(pat, 0, NULL, &g), "rotated by age, uncompressed")) {
		ASSERT_EQ(g.gl_pathc, 1,
			  "one rotation (an empty file is kept)");
		packets = 0;
		ASSERT_EQ(count_lines(g.gl_pathv[0], &packets), 1,
			  "its record");
		globfree(&g);
	}
out:
	run(NULL, NULL, "rm -rf %s", dir);
}

/* ---- flowbpf collect, end to end ---- */

pid_t spawn(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	test__log("  $ %s &\n", cmd);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (!env_verbose)
			dup2(null, 2);
		dup2(null, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

int stop(pid_t pid, int timeout_ms)
{
	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	return ns_wait(pid, timeout_ms);
}

int read_records(const char *path, struct rec **out)
{
	char line[8192];
	struct rec *r = NULL;
	int n = 0;
	FILE *f = fopen(path, "r");

	*out = NULL;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		json_t *o = json_loads(line, 0, NULL);
		struct rec *nr;
		json_t *p;

		if (!o)
			continue;
		nr = realloc(r, (n + 1) * sizeof(*r));
		if (!nr) {
			json_decref(o);
			break;
		}
		r = nr;
		memset(&r[n], 0, sizeof(r[n]));
		snprintf(r[n].src, sizeof(r[n].src), "%s",
			 json_string_value(json_object_get(o, "src")));
		snprintf(r[n].dst, sizeof(r[n].dst), "%s",
			 json_string_value(json_object_get(o, "dst")));
		snprintf(r[n].dir, sizeof(r[n].dir), "%s",
			 json_string_value(json_object_get(o, "dir")));
		snprintf(r[n].reason, sizeof(r[n].reason), "%s",
			 json_string_value(json_object_get(o, "end_reason")));
		r[n].proto = json_integer_value(json_object_get(o, "proto"));
		p = json_object_get(o, "sport");
		if (p) {
			r[n].sport = json_integer_value(p);
			r[n].dport =
				json_integer_value(json_object_get(o, "dport"));
		} else {
			r[n].sport = 0;
			r[n].dport = json_integer_value(
					     json_object_get(o, "icmp_type"))
					     << 8 |
				     json_integer_value(
					     json_object_get(o, "icmp_code"));
		}
		r[n].packets =
			json_integer_value(json_object_get(o, "packets"));
		r[n].bytes = json_integer_value(json_object_get(o, "bytes"));
		r[n].start_ms =
			json_integer_value(json_object_get(o, "start_ms"));
		r[n].end_ms = json_integer_value(json_object_get(o, "end_ms"));
		r[n].tcp_flags =
			json_integer_value(json_object_get(o, "tcp_flags"));
		json_decref(o);
		n++;
	}
	fclose(f);
	*out = r;
	return n;
}

void flow_sum(const struct rec *r, int n, const char *dir, int proto,
	      const char *src, const char *dst, int dport, struct rec *sum,
	      int *reasons)
{
	int i;

	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < n; i++) {
		if (strcmp(r[i].dir, dir) || r[i].proto != proto ||
		    strcmp(r[i].src, src) || strcmp(r[i].dst, dst) ||
		    (dport >= 0 && r[i].dport != dport))
			continue;
		sum->packets += r[i].packets;
		sum->bytes += r[i].bytes;
		sum->tcp_flags |= r[i].tcp_flags;
		if (!strcmp(r[i].reason, "idle"))
			reasons[0]++;
		else if (!strcmp(r[i].reason, "active"))
			reasons[1]++;
		else if (!strcmp(r[i].reason, "end"))
			reasons[2]++;
		else if (!strcmp(r[i].reason, "shutdown"))
			reasons[3]++;
		else if (!strcmp(r[i].reason, "evicted"))
			reasons[4]++;
	}
}

/* Sends bytes over TCP, slowly enough to span active timeouts. */
static int tcp_send(struct test_net *n, long bytes, int chunks, int gap_ms,
		    int *sport, struct tcp_info *ti)
{
	socklen_t tl = sizeof(*ti);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(5301) },
			   me;
	socklen_t ml = sizeof(me);
	struct test_srv s = { .port = 5301, .want = bytes / chunks * chunks };
	char *buf = calloc(1, bytes / chunks + 1), c;
	int pid, fd, i, err = -1;

	if (!buf)
		goto out;
	pid = server_start(n, tcp_sink, &s);
	if (pid <= 0)
		goto out;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, n->peer_ip, &a.sin_addr);
	if (connect(fd, (void *)&a, sizeof(a)))
		goto out_fd;
	getsockname(fd, (void *)&me, &ml);
	*sport = ntohs(me.sin_port);
	for (i = 0; i < chunks; i++) {
		if (write(fd, buf, bytes / chunks) != bytes / chunks)
			goto out_fd;
		usleep(gap_ms * 1000);
	}
	/* Half-close and wait for the server's FIN: then tcp_info holds the
	 * segments of the whole connection (as in test_monitor). */
	shutdown(fd, SHUT_WR);
	if (read(fd, &c, 1) == 0)
		err = ns_wait(pid, 5000);
	pid = -1;
	usleep(100000);
	memset(ti, 0, sizeof(*ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &tl))
		err = -errno;
out_fd:
	close(fd);
	if (pid > 0)
		ns_wait(pid, 100);
out:
	free(buf);
	return err;
}

/* What the end-to-end tests share: a directory for the records, a
 * namespace with flowbpf attached to its host side, and a collector. */
struct collect_env {
	char dir[48], out[128];
	struct test_net n;
	pid_t col;
};

/* /tmp/flowbpf-<tag>-XXXXXX with out = dir/flows.jsonl in it, then
 * net_attach(): false once an assert failed.  collect_env_cleanup() it
 * either way. */
static bool collect_env_setup(struct collect_env *e, const char *tag)
{
	memset(e, 0, sizeof(*e));
	e->col = -1;
	snprintf(e->dir, sizeof(e->dir), "/tmp/flowbpf-%s-XXXXXX", tag);
	if (!ASSERT_OK_PTR(mkdtemp(e->dir), "mkdtemp")) {
		e->dir[0] = '\0';
		return false;
	}
	snprintf(e->out, sizeof(e->out), "%s/flows.jsonl", e->dir);
	return net_attach(&e->n, NULL);
}

static void collect_env_cleanup(struct collect_env *e)
{
	if (e->col > 0)
		stop(e->col, 2000);
	e->col = -1;
	net_cleanup(&e->n);
	if (e->dir[0])
		run(NULL, NULL, "rm -rf %s", e->dir);
}

/*
 * "flowbpf -j stats" of ifname, asserted as what: its "accounting" object
 * (asserted as acct_what), or NULL.  *j holds the whole answer, NULL or
 * not: json_decref() it.
 */
static json_t *stats_accounting(const char *ifname, const char *what,
				const char *acct_what, json_t **j)
{
	json_t *a = NULL;
	char *so = NULL;

	*j = NULL;
	if (ASSERT_OK(run(&so, NULL, "%s -j stats %s", flowbpf_bin(), ifname),
		      what)) {
		*j = json_loads(so, 0, NULL);
		a = json_object_get(
			json_array_get(json_object_get(*j, "interfaces"), 0),
			"accounting");
		ASSERT_OK_PTR(a, acct_what);
	}
	free(so);
	return a;
}

/* The sweeps test: what the collector wrote, and what the kernel and the
 * sockets counted of the same traffic. */
struct sweeps {
	struct collect_env e;
	struct flowbpf_flow f; /* the second ping's entry after the shutdown */
	struct tcp_info ti;
	int sport;
	pid_t ping;
	struct rec *r;
	int nr;
};

static void sweeps_traffic(struct sweeps *s)
{
	struct test_net *n = &s->e.n;
	struct flowbpf_key k;
	int i;

	/* A ping that idles out (before the active timeout). */
	ASSERT_OK(run(NULL, NULL, "ping -c 2 -i 0.2 -W 2 %s", n->peer_ip),
		  "ping");
	/* A TCP transfer of ~2 s: active records, then a FIN. */
	ASSERT_OK(tcp_send(n, 1 << 20, 20, 100, &s->sport, &s->ti),
		  "tcp transfer");
	/* Idle and TCP-end timeouts pass; then a ping still running when the
	 * collector stops: its requests are in the shutdown record or, after
	 * it, in a new entry, every one of them. */
	usleep(1200000);
	key_icmp4(&k, FLOWBPF_DIR_EGRESS, n->host_ip, n->peer_ip, 8, 0);
	s->ping = spawn("exec ping -c 40 -i 0.05 -W 2 %s", n->peer_ip);
	/* Stop while it runs: once a few requests are in a new entry. */
	for (i = 0; i < 500; i++) {
		if (!pinned_flow(n->host_if, &k, &s->f) && s->f.packets >= 3)
			break;
		usleep(10000);
	}
	ASSERT_LE(i, 499, "second ping under way");
	ASSERT_EQ(stop(s->e.col, 5000), 0, "collector exits 0 on SIGTERM");
	s->e.col = -1;
	ASSERT_EQ(ns_wait(s->ping, 10000), 0, "ping");
	s->ping = -1;
	if (pinned_flow(n->host_if, &k, &s->f))
		memset(&s->f, 0, sizeof(s->f));
}

static void sweeps_check_ping(const struct sweeps *s)
{
	const struct test_net *n = &s->e.n;
	int reasons[5] = {};
	struct rec sum;

	/* The first ping: three requests, one idle record. */
	flow_sum(s->r, s->nr, "out", 1, n->host_ip, n->peer_ip, 8 << 8, &sum,
		 reasons);
	ASSERT_EQ(sum.packets + s->f.packets, 2 + 40,
		  "echo requests: records + entry after shutdown");
	ASSERT_EQ(sum.bytes + s->f.bytes, (2 + 40) * 84, "echo request bytes");
	ASSERT_EQ(reasons[0], 1, "first ping ends idle");
	ASSERT_EQ(reasons[3], 1, "second ping flushed at shutdown");
	ASSERT_GE(s->f.packets, 1, "second ping went on after the shutdown");
}

/* TCP: several active records, then one ended by FIN, summing up. */
static void sweeps_check_tcp(const struct sweeps *s)
{
	const struct test_net *n = &s->e.n;
	int reasons[5] = {};
	struct rec sum;

	flow_sum(s->r, s->nr, "out", 6, n->host_ip, n->peer_ip, 5301, &sum,
		 reasons);
	ASSERT_GE(reasons[1], 2, "active records of the transfer");
	ASSERT_EQ(reasons[2], 1, "one record ended by FIN");
	ASSERT_EQ(reasons[0] + reasons[3] + reasons[4], 0, "no other end");
	ASSERT_EQ(sum.tcp_flags & TCP_SAF, TCP_SAF, "SYN, ACK and FIN seen");
	ASSERT_GE(sum.bytes, 1 << 20, "bytes of the transfer");
	/* Across the intervals and the removal, not a segment lost. */
	ASSERT_EQ(sum.packets, s->ti.tcpi_segs_out,
		  "records' packets = segs_out");
	memset(reasons, 0, sizeof(reasons));
	flow_sum(s->r, s->nr, "in", 6, n->peer_ip, n->host_ip, s->sport, &sum,
		 reasons);
	ASSERT_EQ(sum.packets, s->ti.tcpi_segs_in,
		  "records' packets = segs_in");
	ASSERT_EQ(reasons[2], 1, "the reverse flow ends by FIN too");
}

/* The map is empty after the flush, and stats say nothing was lost. */
static void sweeps_check_stats(const struct sweeps *s)
{
	json_t *j, *a;

	a = stats_accounting(s->e.n.host_if, "stats", "accounting in stats",
			     &j);
	if (a) {
		ASSERT_FALSE(
			json_is_true(json_object_get(a, "collector_running")),
			"collector gone");
		ASSERT_EQ(
			json_integer_value(json_object_get(a, "flows_evicted")),
			0, "flows evicted");
		ASSERT_EQ(
			json_integer_value(
				json_object_get(a, "flows_accounted")) +
				json_integer_value(
					json_object_get(a, "flows_live")),
			json_integer_value(json_object_get(a, "flows_created")),
			"every created flow accounted or live");
		ASSERT_EQ(json_integer_value(json_object_get(a, "records")),
			  s->nr, "records counted");
	}
	json_decref(j);
}

static void subtest_sweeps(void)
{
	struct sweeps s = {};

	s.ping = -1;
	if (!collect_env_setup(&s.e, "collect"))
		goto out;
	s.e.col = spawn(
		"exec %s collect %s --interval 100ms --idle 500ms --active 800ms --tcp-end 300ms -o %s",
		flowbpf_bin(), s.e.n.host_if, s.e.out);
	if (!ASSERT_GE(s.e.col, 1, "collector"))
		goto out;
	sweeps_traffic(&s);
	s.nr = read_records(s.e.out, &s.r);
	if (!ASSERT_GE(s.nr, 1, "records written"))
		goto out;
	sweeps_check_ping(&s);
	sweeps_check_tcp(&s);
	sweeps_check_stats(&s);
out:
	if (s.ping > 0)
		stop(s.ping, 2000);
	free(s.r);
	collect_env_cleanup(&s.e);
}

/* UDP datagrams from many source ports: more flows than the map holds. */
static int udp_burst(const char *dst, int flows)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
	int i, fd;

	inet_pton(AF_INET, dst, &a.sin_addr);
	for (i = 0; i < flows; i++) {
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0)
			return -1;
		sendto(fd, "x", 1, 0, (void *)&a, sizeof(a));
		close(fd);
	}
	return 0;
}

static void subtest_evicted(void)
{
	char *se = NULL;
	struct test_net n;
	pid_t col = -1;
	json_t *j = NULL, *a;
	long long created, accounted, live, evicted;

	/* 64 entries: 300 new flows between two sweeps cannot all stay. */
	if (!net_attach(&n, "--flows 64"))
		goto out;
	ASSERT_OK(run(NULL, NULL, "ping -c 1 -W 2 %s", n.peer_ip), "arp");
	col = spawn(
		"exec %s collect %s --interval 1500ms -o /dev/null 2>/tmp/flowbpf-evict-%d.log",
		flowbpf_bin(), n.host_if, getpid());
	usleep(300000);
	ASSERT_OK(udp_burst(n.peer_ip, 300), "udp burst");
	usleep(1800000);
	a = stats_accounting(n.host_if, "stats while running", "accounting",
			     &j);
	if (a) {
		ASSERT_TRUE(
			json_is_true(json_object_get(a, "collector_running")),
			"collector running");
		created =
			json_integer_value(json_object_get(a, "flows_created"));
		accounted = json_integer_value(
			json_object_get(a, "flows_accounted"));
		live = json_integer_value(json_object_get(a, "flows_live"));
		evicted =
			json_integer_value(json_object_get(a, "flows_evicted"));
		ASSERT_GE(created, 300, "flows created");
		ASSERT_GE(evicted, 300 - 64, "evictions counted");
		ASSERT_EQ(evicted, created - accounted - live,
			  "evicted = created - accounted - live");
	}
	ASSERT_EQ(stop(col, 5000), 0, "collector exits");
	col = -1;
	ASSERT_OK(run(&se, NULL, "cat /tmp/flowbpf-evict-%d.log", getpid()),
		  "collector log");
	ASSERT_HAS(se, "evicted", "eviction logged");
out:
	if (col > 0)
		stop(col, 2000);
	run(NULL, NULL, "rm -f /tmp/flowbpf-evict-%d.log", getpid());
	json_decref(j);
	free(se);
	net_cleanup(&n);
}

int free_udp_port(void)
{
	return free_port(SOCK_DGRAM);
}

bool have_tool(const char *tool)
{
	return run(NULL, NULL, "command -v %s", tool) == 0;
}

/* nfdump prints protocols by name. */
static int proto_number(const char *s)
{
	static const struct {
		const char *name;
		int proto;
	} names[] = { { "ICMP", 1 },  { "IGMP", 2 },   { "TCP", 6 },
		      { "UDP", 17 },  { "GRE", 47 },   { "ESP", 50 },
		      { "AH", 51 },   { "ICMP6", 58 }, { "OSPF", 89 },
		      { "PIM", 103 }, { "VRRP", 112 }, { "SCTP", 132 } };
	size_t i;

	while (*s == ' ')
		s++;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].proto;
	return atoi(s);
}

int nfdump_read(const char *dir, struct rec **out)
{
	char *csv = NULL, *line, *save;
	struct rec *r = NULL;
	int n = 0;

	*out = NULL;
	if (run(&csv, NULL, "nfdump -q -N -R %s -o csv -6", dir))
		goto out;
	for (line = strtok_r(csv, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[64], *tok, *s2;
		int nf = 0;
		struct rec *nr;

		for (tok = strtok_r(line, ",", &s2); tok && nf < 64;
		     tok = strtok_r(NULL, ",", &s2))
			f[nf++] = tok;
		/* ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,... */
		if (nf < 13 || !strcmp(f[0], "ts"))
			continue;
		nr = realloc(r, (n + 1) * sizeof(*r));
		if (!nr)
			break;
		r = nr;
		memset(&r[n], 0, sizeof(r[n]));
		snprintf(r[n].src, sizeof(r[n].src), "%s", f[3]);
		snprintf(r[n].dst, sizeof(r[n].dst), "%s", f[4]);
		r[n].sport = atoi(f[5]);
		if (strchr(f[6], '.'))
			r[n].dport = atoi(f[6]) << 8 |
				     atoi(strchr(f[6], '.') + 1);
		else
			r[n].dport = atoi(f[6]);
		r[n].proto = proto_number(f[7]);
		r[n].packets = strtoull(f[11], NULL, 10);
		r[n].bytes = strtoull(f[12], NULL, 10);
		n++;
	}
out:
	free(csv);
	*out = r;
	return n;
}

int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	int c;

	if ((c = strcmp(x->src, y->src)) || (c = strcmp(x->dst, y->dst)))
		return c;
	if (x->proto != y->proto)
		return x->proto - y->proto;
	if (x->sport != y->sport)
		return x->sport - y->sport;
	if (x->dport != y->dport)
		return x->dport - y->dport;
	if (x->packets != y->packets)
		return x->packets < y->packets ? -1 : 1;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? -1 : 1;
	return 0;
}

/* nfcapd, a collector exporting to it as well as writing JSON lines,
 * traffic; both stopped once it is exported. */
static void nfdump_export(struct collect_env *e, const char *nfdir, pid_t *cap)
{
	int port = free_udp_port(), sport = 0;
	struct tcp_info ti;

	*cap = spawn(
		"exec nfcapd -b 127.0.0.1 -p %d -w %s -t 3600 >%s/nfcapd.log 2>&1",
		port, nfdir, e->dir);
	usleep(300000);
	/* A small MTU, so the export takes several messages. */
	e->col = spawn(
		"exec %s collect %s --interval 100ms --idle 400ms --active 500ms --tcp-end 200ms -o %s --ipfix 127.0.0.1:%d --mtu 600 --template-refresh 1s",
		flowbpf_bin(), e->n.host_if, e->out, port);
	ASSERT_OK(run(NULL, NULL, "ping -c 4 -i 0.2 -W 2 %s", e->n.peer_ip),
		  "ping");
	ASSERT_OK(tcp_send(&e->n, 300000, 10, 100, &sport, &ti),
		  "tcp transfer");
	ASSERT_OK(udp_burst(e->n.peer_ip, 20), "udp flows");
	usleep(800000);
	ASSERT_EQ(stop(e->col, 5000), 0, "collector exits");
	e->col = -1;
	usleep(200000);
	ASSERT_EQ(stop(*cap, 5000), 0, "nfcapd exits");
	*cap = -1;
}

/* Every JSON record has its twin in what nfdump reads. */
static void nfdump_compare(struct rec *jr, int njr, struct rec *nr, int nnr)
{
	char name[160];
	int i;

	ASSERT_GE(njr, 20 + 4, "JSON records");
	ASSERT_EQ(nnr, njr, "nfdump reads as many flows as JSON records");
	if (nnr != njr || njr <= 0)
		return;
	qsort(jr, njr, sizeof(*jr), rec_cmp);
	qsort(nr, nnr, sizeof(*nr), rec_cmp);
	for (i = 0; i < njr; i++) {
		snprintf(name, sizeof(name),
			 "record %s -> %s proto %d %d/%d: %llu pkts %llu bytes",
			 jr[i].src, jr[i].dst, jr[i].proto, jr[i].sport,
			 jr[i].dport, (unsigned long long)jr[i].packets,
			 (unsigned long long)jr[i].bytes);
		ASSERT_EQ(rec_cmp(&jr[i], &nr[i]), 0, name);
	}
}

static void subtest_nfdump(void)
{
	struct rec *jr = NULL, *nr = NULL;
	struct collect_env e;
	char nfdir[128];
	pid_t cap = -1;
	int njr, nnr;

	if (!have_tool("nfcapd") || !have_tool("nfdump")) {
		test__skip(
			"nfcapd/nfdump not installed (Debian package nfdump)");
		return;
	}
	if (!collect_env_setup(&e, "nfcapd"))
		goto out;
	snprintf(nfdir, sizeof(nfdir), "%s/nf", e.dir);
	mkdir(nfdir, 0700);
	nfdump_export(&e, nfdir, &cap);
	/* nfcapd checks every message's sequence number against the count
	 * of records before it. */
	ASSERT_OK(run(NULL, NULL, "grep -q 'Sequence Errors: 0,' %s/nfcapd.log",
		      e.dir),
		  "nfcapd saw no sequence error");
	njr = read_records(e.out, &jr);
	nnr = nfdump_read(nfdir, &nr);
	nfdump_compare(jr, njr, nr, nnr);
out:
	if (cap > 0)
		stop(cap, 2000);
	free(jr);
	free(nr);
	collect_env_cleanup(&e);
}

/*
 * Packets that arrive just as their flow goes idle: bursts of datagrams
 * separated by pauses around the idle timeout, sweeps every 10 ms, so the
 * entry is removed and created again over and over, sometimes while
 * packets arrive.  Every datagram must be in exactly one record.
 */
static void subtest_race(const char *extra)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
	int i, j, fd = -1, nr, reasons[5] = {}, sent = 0;
	char payload[72] = { 0 };
	struct rec *r = NULL, sum;
	struct collect_env e;

	if (!collect_env_setup(&e, "race"))
		goto out;
	ASSERT_OK(run(NULL, NULL, "ping -c 1 -W 2 %s", e.n.peer_ip), "arp");
	e.col = spawn(
		"exec %s collect %s --interval 10ms --idle 100ms -o %s %s",
		flowbpf_bin(), e.n.host_if, e.out, extra);
	usleep(200000);
	/* Not connected: the port unreachable replies must not fail sends. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, e.n.peer_ip, &a.sin_addr);
	srand(getpid());
	for (i = 0; i < 25; i++) {
		for (j = 0; j < 20; j++) {
			if (sendto(fd, payload, sizeof(payload), 0, (void *)&a,
				   sizeof(a)) == sizeof(payload))
				sent++;
			usleep(500);
		}
		/* 80..180 ms: some sweeps find the flow idle, some do not. */
		usleep(80000 + rand() % 100000);
	}
	usleep(50000);
	ASSERT_EQ(stop(e.col, 5000), 0, "collector exits");
	e.col = -1;
	nr = read_records(e.out, &r);
	flow_sum(r, nr, "out", 17, e.n.host_ip, e.n.peer_ip, 9, &sum, reasons);
	ASSERT_EQ(sent, 500, "datagrams sent");
	ASSERT_EQ(sum.packets, sent, "every datagram in a record");
	ASSERT_EQ(sum.bytes, sent * (sizeof(payload) + 28), "and its bytes");
	ASSERT_GE(reasons[0], 5, "the flow went idle and came back");
	test__log("  %d idle records, %d at shutdown\n", reasons[0],
		  reasons[3]);
out:
	if (fd >= 0)
		close(fd);
	free(r);
	collect_env_cleanup(&e);
}

static void subtest_cli(void)
{
	char *out = NULL, *err = NULL;
	struct test_net n;
	pid_t col = -1;
	int rc;

	rc = run(NULL, &err, "%s collect", flowbpf_bin());
	ASSERT_EQ(rc, 2, "no interface is a usage error");
	free(err), err = NULL;
	rc = run(NULL, &err, "%s collect lo --idle soon", flowbpf_bin());
	ASSERT_EQ(rc, 2, "bad --idle");
	ASSERT_HAS(err, "--idle", "names the option");
	free(err), err = NULL;
	rc = run(NULL, &err, "%s collect lo --rotate-size 1M", flowbpf_bin());
	ASSERT_EQ(rc, 2, "rotation without a file");
	free(err), err = NULL;
	rc = run(&out, NULL, "%s collect --help", flowbpf_bin());
	ASSERT_EQ(rc, 0, "--help");
	ASSERT_HAS(out, "--ipfix", "help lists the options");
	free(out), out = NULL;
	rc = run(NULL, &err, "%s collect fbtnoattach0", flowbpf_bin());
	ASSERT_EQ(rc, 1, "interface not attached");
	ASSERT_HAS(err, "not attached", "says so");
	free(err), err = NULL;

	if (!net_attach(&n, NULL))
		goto out;
	rc = run(NULL, &err, "%s collect %s --ipfix nowhere", flowbpf_bin(),
		 n.host_if);
	ASSERT_EQ(rc, 1, "collector address without a port");
	ASSERT_HAS(err, "HOST:PORT", "says what it wants");
	free(err), err = NULL;
	col = spawn("exec %s collect %s -o /dev/null", flowbpf_bin(),
		    n.host_if);
	usleep(300000);
	rc = run(NULL, &err, "%s collect %s -o /dev/null", flowbpf_bin(),
		 n.host_if);
	ASSERT_EQ(rc, 1, "a second collector on the interface");
	ASSERT_HAS(err, "another collector is running (pid", "names the first");
	/* A detach ends the collector by itself. */
	ASSERT_OK(run(NULL, NULL, "%s detach %s", flowbpf_bin(), n.host_if),
		  "detach");
	ASSERT_EQ(ns_wait(col, 5000), 0, "collector stops after a detach");
	col = -1;
out:
	if (col > 0)
		stop(col, 2000);
	free(out);
	free(err);
	net_cleanup(&n);
}

void test_collect(void)
{
	if (test__start_subtest("json_fields"))
		subtest_json_fields();
	if (test__start_subtest("json_rotate"))
		subtest_json_rotate();
	if (test__start_subtest("cli"))
		subtest_cli();
	if (test__start_subtest("sweeps"))
		subtest_sweeps();
	if (test__start_subtest("race"))
		subtest_race("");
	/* The same through the per-element fallback of kernels without
	 * batch operations. */
	if (test__start_subtest("race_no_batch"))
		subtest_race("--no-batch");
	if (test__start_subtest("evicted"))
		subtest_evicted();
	if (test__start_subtest("nfdump"))
		subtest_nfdump();
}
