// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --metrics: the daemon's and the collector's Prometheus endpoints.
 * The exposition parses line by line and its counters are those of
 * "flowbpf stats -j"; the server answers 404, 405, 400 and 431 where it
 * must and keeps deciding flows while clients hold connections open
 * without a word; bad addresses are usage errors.  Then Debian's real
 * prometheus scrapes both, and what its query API returns equals what
 * "flowbpf stats -j" says; it loads the shipped alert rules, which
 * promtool accepts.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <jansson.h>
#include "flowfmt.h"
#include "loader.h"
#include "metrics.h"
#include "netns.h"
#include "test.h"
#include "test_collect.h"

/* Past the server's limit on a request; more clients than its slots. */
#define METRICS_BIG (METRICS_REQ_MAX + 1024)
#define METRICS_SILENT (METRICS_CONNS + 4)
#define RULES "contrib/prometheus/flowbpf.rules.yml"
#define POLICY            \
	"default deny;\n" \
	"rule \"icmp-ok\" allow proto icmp;\n"

static int free_tcp_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && !bind(fd, (void *)&a, sizeof(a)) &&
	    !getsockname(fd, (void *)&a, &l))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* A connected socket to host:port (each address of a name tried), or -1. */
static int tcp_connect(const char *host, int port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *p;
	char ps[8];
	int fd = -1;

	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(host, ps, &hints, &ai))
		return -1;
	for (p = ai; p; p = p->ai_next) {
		fd = socket(p->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && !connect(fd, p->ai_addr, p->ai_addrlen))
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

/*
 * Sends req (len bytes) and reads the reply until the server closes, for
 * at most timeout_ms.  The HTTP status, or -1; *resp gets the reply.
 */
static int http_raw(const char *host, int port, const char *req, size_t len,
		    char **resp, int timeout_ms)
{
	size_t n = 0, cap = 65536;
	char *buf = malloc(cap + 1);
	struct pollfd p;
	int fd, status = -1;
	ssize_t r;

	*resp = NULL;
	fd = tcp_connect(host, port);
	if (fd < 0 || !buf)
		goto out;
	if (len && write(fd, req, len) != (ssize_t)len)
		goto out;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (poll(&p, 1, timeout_ms) == 1) {
		if (n == cap) {
			char *nb = realloc(buf, cap * 2 + 1);

			if (!nb)
				goto out;
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r <= 0)
			break;
		n += r;
	}
	buf[n] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		status = -1;
	*resp = buf;
	buf = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return status;
}

static int http_get(int port, const char *path, char **resp)
{
	char req[4096];
	/* 1.0: a reply that is not chunked, and a connection closed after it. */
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
			 "Connection: close\r\n\r\n",
			 path);

	return http_raw("127.0.0.1", port, req, n, resp, 10000);
}

/* The body of a reply. */
static const char *body_of(const char *resp)
{
	const char *b = resp ? strstr(resp, "\r\n\r\n") : NULL;

	return b ? b + 4 : "";
}

/*
 * The value of one series, written exactly as in the exposition
 * (name{label="v",...}); -1 when it is not there.
 */
static double series(const char *body, const char *name)
{
	size_t l = strlen(name);
	const char *p = body;

	while (p && *p) {
		if (!strncmp(p, name, l) && p[l] == ' ')
			return strtod(p + l + 1, NULL);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/*
 * Every line of the exposition: a "# HELP" or "# TYPE" comment, or
 * name{labels} value with a name of [a-zA-Z_:][a-zA-Z0-9_:]*, labels of
 * name="escaped value", and a number.  The number of bad lines.
 */
static int bad_lines(const char *body, int *samples)
{
	const char *p = body, *e;
	int bad = 0;

	*samples = 0;
	for (; *p; p = *e ? e + 1 : e) {
		char *end;

		e = strchr(p, '\n');
		if (!e)
			return bad + 1; /* the last line must end too */
		if (!strncmp(p, "# HELP ", 7) || !strncmp(p, "# TYPE ", 7))
			continue;
		if (!(*p == '_' || *p == ':' || (*p | 0x20) >= 'a') ||
		    (*p | 0x20) > 'z') {
			if (*p != '_' && *p != ':') {
				bad++;
				continue;
			}
		}
		while (p < e &&
		       (*p == '_' || *p == ':' || (*p >= '0' && *p <= '9') ||
			((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')))
			p++;
		if (*p == '{') {
			p++;
			while (p < e && *p != '}') {
				while (p < e && *p != '=')
					p++;
				if (p + 1 >= e || p[1] != '"')
					break;
				for (p += 2; p < e && *p != '"'; p++)
					if (*p == '\\')
						p++;
				p++;
				if (*p == ',')
					p++;
			}
			if (*p != '}') {
				bad++;
				continue;
			}
			p++;
		}
		if (*p != ' ') {
			bad++;
			continue;
		}
		strtod(p + 1, &end);
		if (end == p + 1 || end != e) {
			bad++;
			continue;
		}
		(*samples)++;
	}
	return bad;
}

static int wait_http(int port, int ms)
{
	int i, fd;

	for (i = 0; i < ms / 20; i++) {
		fd = tcp_connect("127.0.0.1", port);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		usleep(20000);
	}
	return -1;
}

/* flowbpf stats -j of ifname, parsed. */
static json_t *stats_j(const char *sock, const char *ifname)
{
	char *out = NULL;
	json_t *j = NULL;

	if (!run(&out, NULL, "%s -j --socket %s stats %s", flowbpf_bin(), sock,
		 ifname))
		j = json_loads(out, 0, NULL);
	free(out);
	return j;
}

static long long jint(json_t *j, const char *path)
{
	char buf[256], *tok, *save;
	json_t *v = j;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && v;
	     tok = strtok_r(NULL, ".", &save)) {
		if (*tok >= '0' && *tok <= '9')
			v = json_array_get(v, atoi(tok));
		else
			v = json_object_get(v, tok);
	}
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

struct proc {
	pid_t pid;
	char log[64], conf[64];
};

static int daemon_start(struct proc *p, const char *tag, const char *ifname,
			int port, const char *sock, const char *policy)
{
	char *conf = p->conf;
	FILE *f;

	snprintf(p->conf, sizeof(p->conf), "/tmp/flowbpf-%d-%s.conf", getpid(),
		 tag);
	snprintf(p->log, sizeof(p->log), "/tmp/flowbpf-%d-%s.log", getpid(),
		 tag);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fputs(policy, f);
	fclose(f);
	p->pid = spawn(
		"exec %s daemon -c %s --socket %s --metrics 127.0.0.1:%d %s 2>%s",
		flowbpf_bin(), conf, sock, port, ifname, p->log);
	return wait_http(port, 10000);
}

static void proc_stop(struct proc *p)
{
	char *out = NULL;

	if (p->pid > 0) {
		stop(p->pid, 10000);
		if (env_verbose && p->log[0] &&
		    !run(&out, NULL, "cat %s", p->log))
			test__log("%s", out);
		free(out);
	}
	p->pid = 0;
	if (p->log[0])
		unlink(p->log);
	if (p->conf[0])
		unlink(p->conf);
}

/* One UDP datagram to ip:port from a new socket: a new flow. */
static int send_udp(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), err;

	inet_pton(AF_INET, ip, &a.sin_addr);
	err = sendto(fd, "x", 1, 0, (void *)&a, sizeof(a)) == 1 ? 0 : -1;
	close(fd);
	return err;
}

static void check_requests(int port)
{
	char big[METRICS_BIG], *resp = NULL;
	int st;

	st = http_raw("127.0.0.1", port, "HEAD /metrics HTTP/1.0\r\n\r\n", 26,
		      &resp, 5000);
	ASSERT_EQ(st, 200, "HEAD status");
	ASSERT_STREQ(body_of(resp), "", "HEAD has no body");
	free(resp);
	ASSERT_EQ(http_get(port, "/", &resp), 404, "GET / is 404");
	free(resp);
	ASSERT_EQ(http_get(port, "/metricsx", &resp), 404, "/metricsx 404");
	free(resp);
	st = http_raw("127.0.0.1", port,
		      "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 45,
		      &resp, 5000);
	ASSERT_EQ(st, 405, "POST is 405");
	ASSERT_HAS(resp, "Allow: GET, HEAD", "405 says what is allowed");
	free(resp);
	st = http_raw("127.0.0.1", port, "\x01\x02garbage\xff\r\n\r\n", 14,
		      &resp, 5000);
	ASSERT_EQ(st, 400, "garbage is 400");
	free(resp);
	st = http_raw("127.0.0.1", port, "GET /metrics HTTP/2.0\r\n\r\n", 25,
		      &resp, 5000);
	ASSERT_EQ(st, 400, "HTTP/2.0 line is 400");
	free(resp);
	st = http_raw("127.0.0.1", port, "GET /metrics\0 HTTP/1.0\r\n\r\n", 27,
		      &resp, 5000);
	ASSERT_EQ(st, 400, "a NUL is 400");
	free(resp);
	/* Headers that never end, past the limit. */
	memcpy(big, "GET /metrics HTTP/1.1\r\nX-A: ", 28);
	memset(big + 28, 'a', sizeof(big) - 28);
	st = http_raw("127.0.0.1", port, big, sizeof(big), &resp, 5000);
	ASSERT_EQ(st, 431, "huge request is 431");
	free(resp);
}

/* 0 once the server has closed fd, within ms; -1 otherwise. */
static int closed_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (fd < 0 || poll(&p, 1, ms) != 1)
		return -1;
	return read(fd, &c, 1) <= 0 ? 0 : -1;
}

/*
 * Clients that connect and say nothing, more than the server has slots
 * for, and one that sends half a request: a new flow still gets the
 * daemon's verdict at once, and a scrape is still answered.
 */
static void check_silent_clients(struct test_net *n, int port)
{
	int fds[METRICS_SILENT], i, got = 0;
	struct flowbpf_key k;
	struct flowbpf_flow f;
	char *resp = NULL;

	key4(&k, FLOWBPF_DIR_EGRESS, 17, n->host_ip, 0, n->peer_ip, 5400);
	for (i = 0; i < METRICS_SILENT; i++)
		fds[i] = tcp_connect("127.0.0.1", port);
	if (fds[0] >= 0 && write(fds[0], "GET /met", 8) != 8)
		test__log("partial request not sent\n");
	ASSERT_OK(send_udp(n->peer_ip, 5400), "udp datagram");
	for (i = 0; i < 100 && !got; i++) {
		struct flowbpf_key *keys = NULL;
		struct flowbpf_flow *vals = NULL;
		struct flowbpf_handle h;
		size_t cnt = 0, j;

		usleep(10000);
		if (flowbpf_open(n->host_if, &h))
			continue;
		if (!flowbpf_map_dump(h.fd[FB_MAP_FLOWS], sizeof(k), sizeof(f),
				      (void **)&keys, (void **)&vals, &cnt))
			for (j = 0; j < cnt; j++)
				if (keys[j].proto == 17 &&
				    keys[j].dport == k.dport &&
				    vals[j].source == FLOWBPF_SRC_DAEMON)
					got = 1;
		free(keys);
		free(vals);
		flowbpf_close(&h);
	}
	ASSERT_TRUE(got, "flow decided by the daemon within 1s");
	ASSERT_EQ(http_get(port, "/metrics", &resp), 200,
		  "scrape with every slot taken");
	free(resp);
	/* The last one was not pushed out: it is closed once its time to
	 * send a request is up. */
	ASSERT_OK(closed_within(fds[METRICS_SILENT - 1],
				METRICS_REQ_NS / 1000000 + 3000),
		  "silent client closed after its time");
	for (i = 0; i < METRICS_SILENT; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* The daemon's endpoint, read directly. */
static void subtest_endpoint(void)
{
	char sock[64], name[160], *resp = NULL;
	struct proc d = {};
	struct test_net n;
	json_t *j = NULL;
	int port, st, samples = 0, bad;

	snprintf(sock, sizeof(sock), "/tmp/flowbpf-%d-me.sock", getpid());
	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	port = free_tcp_port();
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
			   n.host_if),
		       "attach") ||
	    !ASSERT_OK(daemon_start(&d, "me", n.host_if, port, sock, POLICY),
		       "daemon serves metrics"))
		goto out;
	ASSERT_OK(run(NULL, NULL, "ping -c 3 -i 0.2 -W 2 %s", n.peer_ip),
		  "ping");
	st = http_get(port, "/metrics", &resp);
	if (!ASSERT_EQ(st, 200, "GET /metrics"))
		goto out;
	ASSERT_HAS(resp, "Content-Type: " METRICS_CONTENT_TYPE "\r\n",
		   "content type");
	bad = bad_lines(body_of(resp), &samples);
	ASSERT_EQ(bad, 0, "every line parses");
	ASSERT_GE(samples, 50, "samples");
	ASSERT_HAS(resp, "# TYPE flowbpf_packets_total counter\n",
		   "packets family");
	ASSERT_HAS(resp, "# TYPE flowbpf_decision_latency_seconds histogram\n",
		   "histogram family");
	/* The pings are over: the counters stand still. */
	j = stats_j(sock, n.host_if);
	snprintf(name, sizeof(name),
		 "flowbpf_packets_total{iface=\"%s\",outcome=\"pass\"}",
		 n.host_if);
	ASSERT_EQ(series(body_of(resp), name),
		  jint(j, "interfaces.0.counters.pass_packets"),
		  "pass packets as stats -j");
	/* Monitor mode: the first packet of each flow passes queued. */
	ASSERT_EQ(jint(j, "interfaces.0.counters.pass_packets") +
			  jint(j, "interfaces.0.counters.queued_pass_packets"),
		  6, "3 echo requests and 3 replies");
	snprintf(name, sizeof(name), "flowbpf_events_sent_total{iface=\"%s\"}",
		 n.host_if);
	ASSERT_EQ(series(body_of(resp), name),
		  jint(j, "interfaces.0.counters.events_sent"),
		  "events sent as stats -j");
	ASSERT_EQ(series(body_of(resp),
			 "flowbpf_decision_latency_seconds_count"),
		  jint(j, "daemon.latency_us.count"), "histogram count");
	ASSERT_EQ(
		series(body_of(resp),
		       "flowbpf_decision_latency_seconds_bucket{le=\"+Inf\"}"),
		2, "two flows decided");
	ASSERT_EQ(
		series(body_of(resp),
		       "flowbpf_rule_hits_total{rule=\"icmp-ok\",index=\"0\"}"),
		2, "rule hits");
	free(resp);
	resp = NULL;
	check_requests(port);
	check_silent_clients(&n, port);
out:
	json_decref(j);
	free(resp);
	proc_stop(&d);
	unlink(sock);
	net_cleanup(&n);
}

/* Addresses that are not ADDR:PORT are usage errors, before anything runs. */
static void subtest_bad_addr(void)
{
	static const char *const bad[] = {
		"127.0.0.1",	   "127.0.0.1:",     "127.0.0.1:0",
		"127.0.0.1:65536", "127.0.0.1:http", "127.0.0.1:-1",
		":9100",	   "::1:9100",	     "[::1]",
		"[::1]9100",	   "[127.0.0.1]:80", "nope",
		"127.0.0.1:80x",   "127.0.0.1: 80",
	};
	char *err = NULL;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = run(NULL, &err, "%s daemon -c /nonexistent --metrics '%s'",
			 flowbpf_bin(), bad[i]);
		if (!ASSERT_EQ(rc, 2, bad[i]))
			test__log("stderr: %s\n", err);
		ASSERT_HAS(err, "--metrics", "message names the option");
		free(err);
		err = NULL;
		rc = run(NULL, &err, "%s collect lo --metrics '%s'",
			 flowbpf_bin(), bad[i]);
		ASSERT_EQ(rc, 2, "collect too");
		free(err);
		err = NULL;
	}
	rc = run(NULL, &err, "%s -j daemon -c /nonexistent --metrics nope",
		 flowbpf_bin());
	ASSERT_EQ(rc, 2, "-j usage error");
	free(err);
}

/* 0 if this host can listen on ::1 (IPv6 may be off). */
static int have_ipv6_lo(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0), err = -1;

	if (fd >= 0 && !bind(fd, (void *)&a, sizeof(a)))
		err = 0;
	if (fd >= 0)
		close(fd);
	return err;
}

/* The collector serves on host:port given as addr; GET through host. */
static void collector_on(const struct test_net *n, const char *addr,
			 const char *host, int port)
{
	char req[] = "GET /metrics HTTP/1.0\r\n\r\n", name[96], *resp = NULL;
	pid_t pid;
	int i, st = -1;

	pid = spawn("exec %s collect %s -o /dev/null --metrics '%s'",
		    flowbpf_bin(), n->host_if, addr);
	for (i = 0; i < 100 && st != 200; i++) {
		usleep(50000);
		free(resp);
		st = http_raw(host, port, req, strlen(req), &resp, 5000);
	}
	ASSERT_EQ(st, 200, addr);
	snprintf(name, sizeof(name), "flowbpf_flows_max{iface=\"%s\"}",
		 n->host_if);
	ASSERT_EQ(series(body_of(resp), name), FLOWBPF_DEFAULT_FLOWS,
		  "collector's flows_max");
	free(resp);
	ASSERT_OK(stop(pid, 5000), "collector stops");
}

/* A request line, then the end of the client's writing: answered. */
static void check_half_close(int port)
{
	char buf[256];
	ssize_t r = -1;
	int fd;

	fd = tcp_connect("127.0.0.1", port);
	if (!ASSERT_TRUE(fd >= 0, "connect"))
		return;
	if (ASSERT_TRUE(write(fd, "GET /metrics HTTP/1.0\r\n", 23) == 23 &&
				!shutdown(fd, SHUT_WR),
			"half-closed request"))
		r = read(fd, buf, sizeof(buf) - 1);
	if (r > 0)
		buf[r] = '\0';
	ASSERT_TRUE(r > 12 && !strncmp(buf, "HTTP/1.1 200", 12),
		    "answered 200");
	close(fd);
}

/* [IPV6]:PORT and a name; a request the client ends by closing. */
static void subtest_addresses(void)
{
	struct test_net n;
	char addr[64];
	pid_t pid;
	int port;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
			   n.host_if),
		       "attach"))
		goto out;
	port = free_tcp_port();
	snprintf(addr, sizeof(addr), "localhost:%d", port);
	collector_on(&n, addr, "localhost", port);
	if (!have_ipv6_lo()) {
		port = free_tcp_port();
		snprintf(addr, sizeof(addr), "[::1]:%d", port);
		collector_on(&n, addr, "::1", port);
	} else {
		fprintf(stderr, "  no IPv6 on loopback: [::1] not tried\n");
	}
	port = free_tcp_port();
	pid = spawn("exec %s collect %s -o /dev/null --metrics 127.0.0.1:%d",
		    flowbpf_bin(), n.host_if, port);
	if (ASSERT_OK(wait_http(port, 10000), "listening"))
		check_half_close(port);
	stop(pid, 5000);
out:
	net_cleanup(&n);
}

/* ---- Debian's prometheus ---- */

struct prom {
	char dir[64];
	int port;
	pid_t pid;
};

static void url_encode(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s && o + 4 < len; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-_.~", *s))
			buf[o++] = *s;
		else
			o += snprintf(buf + o, len - o, "%%%02X",
				      (unsigned char)*s);
	}
	buf[o] = '\0';
}

/* GET path of prometheus's API, parsed; NULL unless it says success. */
static json_t *prom_api(const struct prom *p, const char *path)
{
	char *resp = NULL;
	json_t *j = NULL;

	if (http_get(p->port, path, &resp) == 200)
		j = json_loads(body_of(resp), 0, NULL);
	free(resp);
	if (j && strcmp(json_string_value(json_object_get(j, "status")) ?: "",
			"success")) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/*
 * The value of an instant query with one series in its result, and the
 * time (seconds since the epoch) of the sample; -1 when there is none.
 */
static double prom_query(const struct prom *p, const char *q, double *ts)
{
	char enc[512], path[640];
	json_t *j, *r;
	double v = -1;

	url_encode(q, enc, sizeof(enc));
	snprintf(path, sizeof(path), "/api/v1/query?query=%s", enc);
	j = prom_api(p, path);
	r = json_array_get(
		json_object_get(json_object_get(j, "data"), "result"), 0);
	r = json_object_get(r, "value");
	if (json_array_size(r) == 2) {
		v = strtod(json_string_value(json_array_get(r, 1)) ?: "-1",
			   NULL);
		if (ts)
			*ts = json_number_value(json_array_get(r, 0));
	}
	json_decref(j);
	return v;
}

static int prom_start(struct prom *p, int daemon_port, int collect_port)
{
	char conf[128];
	FILE *f;

	snprintf(p->dir, sizeof(p->dir), "/tmp/flowbpf-%d-prom", getpid());
	run(NULL, NULL, "rm -rf %s; mkdir -p %s/data", p->dir, p->dir);
	snprintf(conf, sizeof(conf), "%s/prometheus.yml", p->dir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f,
		"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
		"rule_files:\n  - %s/" RULES "\n"
		"scrape_configs:\n"
		"  - job_name: flowbpf-daemon\n"
		"    static_configs:\n      - targets: ['127.0.0.1:%d']\n"
		"  - job_name: flowbpf-collect\n"
		"    static_configs:\n      - targets: ['127.0.0.1:%d']\n",
		repo_root(), daemon_port, collect_port);
	fclose(f);
	p->port = free_tcp_port();
	p->pid = spawn("exec prometheus --config.file=%s "
		       "--storage.tsdb.path=%s/data "
		       "--web.listen-address=127.0.0.1:%d 2>%s/log",
		       conf, p->dir, p->port, p->dir);
	/* Under a slow emulator the first start takes a while. */
	return wait_http(p->port, 60000);
}

static void prom_stop(struct prom *p)
{
	char *out = NULL;

	if (p->pid > 0) {
		stop(p->pid, 20000);
		if (env_verbose && !run(&out, NULL, "tail -20 %s/log", p->dir))
			test__log("prometheus log:\n%s", out);
		free(out);
	}
	p->pid = 0;
	if (p->dir[0])
		run(NULL, NULL, "rm -rf %s", p->dir);
}

/* Both targets scraped and up. */
static int prom_targets_up(const struct prom *p, int ms)
{
	int i;

	for (i = 0; i < ms / 250; i++) {
		if (prom_query(p, "count(up == 1)", NULL) == 2)
			return 0;
		usleep(250000);
	}
	return -1;
}

/*
 * A counter as prometheus scraped it, against "flowbpf stats -j": the
 * scrape must come after a first reading and a second reading must agree
 * with the first, so that the three describe one state.
 */
static void prom_equals_stats(const struct prom *p, const char *sock,
			      const char *ifname, const char *q,
			      const char *path, const char *what)
{
	double v = -1, ts = 0, t0;
	long long a = -2, b = -3;
	json_t *j;
	int try, i;

	for (try = 0; try < 5 && a != b; try++) {
		j = stats_j(sock, ifname);
		a = jint(j, path);
		json_decref(j);
		t0 = time(NULL);
		for (i = 0; i < 100; i++) {
			v = prom_query(p, q, &ts);
			if (ts > t0 + 1)
				break;
			usleep(200000);
		}
		j = stats_j(sock, ifname);
		b = jint(j, path);
		json_decref(j);
	}
	if (!ASSERT_EQ(a, b, "counter stood still"))
		return;
	ASSERT_GE(ts, t0 + 1, "a scrape after the reading");
	if (!ASSERT_EQ((long long)v, a, what))
		test__log("query %s: %.17g, stats -j %s: %lld\n", q, v, path,
			  a);
}

/* Until the query has a result; 0 or -1. */
static int wait_query(const struct prom *p, const char *q, int ms)
{
	int i;

	for (i = 0; i < ms / 250; i++) {
		if (prom_query(p, q, NULL) >= 0)
			return 0;
		usleep(250000);
	}
	return -1;
}

/* Prometheus loaded every rule of the file and evaluates each cleanly. */
static void check_rules_loaded(const struct prom *p)
{
	json_t *j = NULL, *groups, *g, *r;
	size_t i, k, nrules = 0, healthy = 0;
	int tries;

	for (tries = 0; tries < 40; tries++) {
		json_decref(j);
		j = prom_api(p, "/api/v1/rules");
		groups = json_object_get(json_object_get(j, "data"), "groups");
		nrules = healthy = 0;
		json_array_foreach(groups, i, g) {
			json_array_foreach(json_object_get(g, "rules"), k, r) {
				nrules++;
				healthy += !strcmp(
					json_string_value(
						json_object_get(r, "health"))
						?: "",
					"ok");
			}
		}
		if (nrules && healthy == nrules)
			break;
		usleep(250000);
	}
	if (!nrules)
		test__log("rules: %s\n", json_dumps(j, 0));
	json_decref(j);
	ASSERT_GE(nrules, 6, "alert rules loaded");
	ASSERT_EQ(healthy, nrules, "every rule evaluates");
}

/* Counters as prometheus scraped them, against "flowbpf stats -j". */
static void prom_compare(const struct prom *p, const char *sock,
			 const char *ifname)
{
	char q[256];

	snprintf(q, sizeof(q),
		 "flowbpf_packets_total{iface=\"%s\",outcome=\"pass\"}",
		 ifname);
	prom_equals_stats(p, sock, ifname, q,
			  "interfaces.0.counters.pass_packets",
			  "pass packets: prometheus = stats -j");
	snprintf(q, sizeof(q),
		 "flowbpf_packets_total{iface=\"%s\",outcome=\"held\"}",
		 ifname);
	prom_equals_stats(p, sock, ifname, q,
			  "interfaces.0.counters.held_packets",
			  "held packets: prometheus = stats -j");
	prom_equals_stats(p, sock, ifname,
			  "flowbpf_decision_latency_seconds_count",
			  "daemon.latency_us.count",
			  "latency count: prometheus = stats -j");
	prom_equals_stats(p, sock, ifname,
			  "flowbpf_rule_hits_total{rule=\"icmp-ok\"}",
			  "daemon.rules.0.hits",
			  "rule hits: prometheus = stats -j");
	snprintf(q, sizeof(q), "flowbpf_records_total{iface=\"%s\"}", ifname);
	prom_equals_stats(p, sock, ifname, q, "interfaces.0.accounting.records",
			  "records: prometheus = stats -j");
}

/* What the traffic of the test must have left in prometheus. */
static void prom_values(const struct prom *p, const char *sock,
			const char *ifname, const char *out_file)
{
	char q[256], *out = NULL;
	json_t *j;
	double v;

	j = stats_j(sock, ifname);
	/* Echo requests and replies: two flows, two decisions by the rule,
	 * 5 + 5 packets; two records once idle. */
	if (!ASSERT_EQ(jint(j, "interfaces.0.counters.pass_packets") +
			       jint(j, "interfaces.0.counters.held_packets"),
		       10, "ping packets") &&
	    !run(&out, NULL, "%s flows %s; cat %s", flowbpf_bin(), ifname,
		 out_file))
		test__log("%s", out);
	free(out);
	ASSERT_EQ(jint(j, "interfaces.0.accounting.records"), 2,
		  "two records written");
	json_decref(j);
	ASSERT_EQ(prom_query(p, "sum(flowbpf_decisions_total)", NULL), 2,
		  "decisions");
	ASSERT_EQ(prom_query(p, "flowbpf_decision_latency_seconds_count", NULL),
		  2, "histogram count = decisions");
	ASSERT_EQ(prom_query(p, "flowbpf_rule_hits_total{rule=\"icmp-ok\"}",
			     NULL),
		  2, "rule hit count");
	snprintf(q, sizeof(q),
		 "flowbpf_record_write_errors_total{iface=\"%s\"}", ifname);
	ASSERT_EQ(prom_query(p, q, NULL), 0, "no write errors");
	snprintf(q, sizeof(q), "flowbpf_flows_max{iface=\"%s\"}", ifname);
	ASSERT_EQ(prom_query(p, q, NULL), FLOWBPF_DEFAULT_FLOWS, "flows max");
	/* The latency lies within the histogram's bounds, and sums up. */
	v = prom_query(p, "flowbpf_decision_latency_seconds_sum", NULL);
	ASSERT_TRUE(v > 0 && v < 4, "latency sum within 2 x timeout");
	v = prom_query(
		p,
		"histogram_quantile(0.5, flowbpf_decision_latency_seconds_bucket)",
		NULL);
	ASSERT_TRUE(v > 0 && v <= 2.5, "median latency");
}

static void subtest_prometheus(void)
{
	char sock[64], out_file[64], *out = NULL;
	struct proc d = {}, c = {};
	struct prom p = {};
	struct test_net n;
	int dport, cport;

	if (access("/usr/bin/prometheus", X_OK) ||
	    access("/usr/bin/promtool", X_OK)) {
		test__skip("prometheus is not installed (scripts/deps.sh)");
		return;
	}
	snprintf(sock, sizeof(sock), "/tmp/flowbpf-%d-mp.sock", getpid());
	snprintf(out_file, sizeof(out_file), "/tmp/flowbpf-%d-mp.jsonl",
		 getpid());
	snprintf(c.log, sizeof(c.log), "/tmp/flowbpf-%d-mpc.log", getpid());
	if (!ASSERT_OK(run(&out, NULL, "promtool check rules %s/%s",
			   repo_root(), RULES),
		       "promtool check rules"))
		goto out;
	ASSERT_HAS(out, "SUCCESS", "promtool says SUCCESS");
	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		goto out;
	dport = free_tcp_port();
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s --mode enforce",
			   flowbpf_bin(), n.host_if),
		       "attach") ||
	    !ASSERT_OK(daemon_start(&d, "mp", n.host_if, dport, sock, POLICY),
		       "daemon"))
		goto out_net;
	cport = free_tcp_port();
	c.pid = spawn("exec %s collect %s --interval 200ms --idle 1s -o %s "
		      "--metrics 127.0.0.1:%d 2>%s",
		      flowbpf_bin(), n.host_if, out_file, cport, c.log);
	if (!ASSERT_OK(wait_http(cport, 10000), "collector serves metrics"))
		goto out_net;
	ASSERT_OK(run(NULL, NULL, "ping -c 5 -i 0.2 -W 2 %s", n.peer_ip),
		  "ping");
	if (!ASSERT_OK(prom_start(&p, dport, cport), "prometheus listens") ||
	    !ASSERT_OK(prom_targets_up(&p, 90000), "both targets up"))
		goto out_net;

	prom_compare(&p, sock, n.host_if);
	prom_values(&p, sock, n.host_if, out_file);
	check_rules_loaded(&p);
	/* A dead daemon is what the rules' "up" catches. */
	proc_stop(&d);
	ASSERT_OK(wait_query(&p, "up{job=\"flowbpf-daemon\"} == 0", 30000),
		  "the daemon's target goes down");
out_net:
	prom_stop(&p);
	proc_stop(&c);
	proc_stop(&d);
	unlink(sock);
	unlink(out_file);
	net_cleanup(&n);
out:
	free(out);
}

void test_metrics(void)
{
	if (test__start_subtest("endpoint"))
		subtest_endpoint();
	if (test__start_subtest("bad_addr"))
		subtest_bad_addr();
	if (test__start_subtest("addresses"))
		subtest_addresses();
	if (test__start_subtest("prometheus"))
		subtest_prometheus();
}
