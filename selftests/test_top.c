// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * flowbpf top, the live view, against real traffic: two UDP streams of
 * known rate and size leave the host, one allowed and one denied by the
 * policy daemon.  The full-screen view runs in a detached tmux session of
 * a fixed size (its own server socket), driven by send-keys and read by
 * capture-pane: the flows appear with their rates, verdicts and who set
 * them; the sort and filter keys change what is shown; pause freezes it;
 * q and SIGTERM end it with status 0 and the terminal as it was.  Batch
 * mode prints the same frames as text and JSON; an interface detached and
 * attached again never gets a negative or inflated rate.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <jansson.h>
#include "netns.h"
#include "test.h"

/* Stream A: few large datagrams; B: many small ones, denied. */
#define A_PORT 7001
#define A_PPS 20
#define A_PAYLOAD 1000
#define B_PORT 7002
#define B_PPS 100
#define B_PAYLOAD 10
#define SPORT_A 40001
#define SPORT_B 40002
#define IP_UDP_HDRS 28

struct top_env {
	struct test_net n;
	struct test_daemon d;
	bool daemon;
	int senders[2];
	char dir[64]; /* scratch files of the tmux pane */
	char tmux[96]; /* the tmux server's socket, in dir */
};

/* Sends payload-byte datagrams at pps from src:sport to dst:dport until
 * killed, in bursts of burst datagrams each followed by as long a
 * silence (0: no silence); the child's pid. */
static int udp_bursts(const char *src, int sport, const char *dst, int dport,
		      int pps, int payload, int burst)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timespec gap = { .tv_nsec = 1000000000L / pps };
	char buf[2048] = { 0 };
	int pid, fd;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid)
		return pid;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_port = htons(sport);
	inet_pton(AF_INET, src, &a.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)))
		_exit(1);
	a.sin_port = htons(dport);
	inet_pton(AF_INET, dst, &a.sin_addr);
	for (int i = 1;; i++) {
		sendto(fd, buf, payload, 0, (struct sockaddr *)&a, sizeof(a));
		nanosleep(&gap, NULL);
		if (burst && !(i % burst))
			usleep(burst * 1000000L / pps);
	}
}

static int udp_stream(const char *src, int sport, const char *dst, int dport,
		      int pps, int payload)
{
	return udp_bursts(src, sport, dst, dport, pps, payload, 0);
}

static int env_setup(struct top_env *e, bool daemon)
{
	static int seq;
	char policy[256];

	memset(e, 0, sizeof(*e));
	e->senders[0] = e->senders[1] = -1;
	e->d.pid = -1;
	snprintf(e->dir, sizeof(e->dir), "/tmp/fbt-top-%d", getpid());
	/* A tmux server of its own for each subtest. */
	snprintf(e->tmux, sizeof(e->tmux), "%s/tmux-%d", e->dir, ++seq);
	if (!ASSERT_OK(net_setup(&e->n), "net_setup"))
		return -1;
	mkdir(e->dir, 0700);
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s --mode enforce",
			   flowbpf_bin(), e->n.host_if),
		       "attach"))
		return -1;
	if (daemon) {
		snprintf(
			policy, sizeof(policy),
			"unit peer { %s }\ndefault allow;\n"
			"rule \"deny-b\" deny dir out proto udp to peer dport %d;\n",
			e->n.peer_ip, B_PORT);
		e->daemon = true;
		if (!ASSERT_OK(test_daemon_start(&e->d, "top", e->n.host_if,
						 policy),
			       "daemon"))
			return -1;
	}
	e->senders[0] = udp_stream(e->n.host_ip, SPORT_A, e->n.peer_ip, A_PORT,
				   A_PPS, A_PAYLOAD);
	e->senders[1] = udp_stream(e->n.host_ip, SPORT_B, e->n.peer_ip, B_PORT,
				   B_PPS, B_PAYLOAD);
	return 0;
}

static void env_cleanup(struct top_env *e)
{
	int i;

	run(NULL, NULL, "tmux -S %s kill-server 2>/dev/null", e->tmux);
	for (i = 0; i < 2; i++) {
		if (e->senders[i] > 0) {
			kill(e->senders[i], SIGKILL);
			waitpid(e->senders[i], NULL, 0);
		}
	}
	if (e->daemon)
		test_daemon_cleanup(&e->d);
	net_cleanup(&e->n);
	if (e->dir[0])
		run(NULL, NULL, "rm -rf %s", e->dir);
}

static const char *sock_of(struct top_env *e)
{
	return e->daemon ? e->d.sock : "/nonexistent/flowbpf.sock";
}

/* ---- batch mode ---- */

static json_t *flow_by_dport(json_t *frame, int dport)
{
	json_t *f;
	size_t i;

	json_array_foreach(json_object_get(frame, "flows"), i, f)
		if (json_integer_value(json_object_get(f, "dport")) == dport &&
		    !strcmp(json_string_value(json_object_get(f, "dir")),
			    "out"))
			return f;
	return NULL;
}

static void check_stream(json_t *f, int pps, int payload, const char *verdict,
			 const char *what)
{
	double p, b;

	if (!ASSERT_OK_PTR(f, what))
		return;
	p = json_real_value(json_object_get(f, "packets_per_s"));
	b = json_real_value(json_object_get(f, "bytes_per_s"));
	/* The sender sleeps 1/pps between datagrams: a little under pps,
	 * far under on a slow machine, never above by much. */
	ASSERT_GE(p, pps * 4 / 10, "packets/s at least");
	ASSERT_LE(p, pps * 13 / 10, "packets/s at most");
	/* Every datagram has the same IP length: bytes/s is exactly that. */
	ASSERT_LE(abs((int)(b - p * (payload + IP_UDP_HDRS))), 1,
		  "bytes/s = packets/s * IP length");
	ASSERT_STREQ(json_string_value(json_object_get(f, "verdict")), verdict,
		     "verdict");
	ASSERT_STREQ(json_string_value(json_object_get(f, "verdict_source")),
		     "daemon", "set by the daemon");
}

static void subtest_batch_json(void)
{
	char *out = NULL;
	struct top_env e;
	json_t *j = NULL, *ifc;

	if (env_setup(&e, true))
		goto out;
	/* Let both flows be decided before the first of the two dumps. */
	usleep(500000);
	if (!ASSERT_OK(run(&out, NULL, "%s top %s -j -n 1 --socket %s",
			   flowbpf_bin(), e.n.host_if, e.d.sock),
		       "top -j"))
		goto out;
	j = json_loads(out, 0, NULL);
	if (!ASSERT_OK_PTR(j, "one JSON frame"))
		goto out;
	check_stream(flow_by_dport(j, A_PORT), A_PPS, A_PAYLOAD, "pass",
		     "stream A");
	check_stream(flow_by_dport(j, B_PORT), B_PPS, B_PAYLOAD, "drop",
		     "stream B");
	ifc = json_array_get(json_object_get(j, "interfaces"), 0);
	ASSERT_STREQ(json_string_value(json_object_get(ifc, "ifname")),
		     e.n.host_if, "interface");
	ASSERT_GE(json_real_value(json_object_get(json_object_get(ifc, "rates"),
						  "drop_per_s")),
		  B_PPS * 4 / 10, "interface drops/s");
	ASSERT_GE(json_integer_value(
			  json_object_get(json_object_get(j, "daemon"), "pid")),
		  1, "daemon state");
	json_decref(j);
	j = NULL;
	free(out);
	out = NULL;

	/* A filter on a port: that flow only. */
	if (!ASSERT_OK(
		    run(&out, NULL,
			"%s top %s -j -n 1 -i 200ms -f 'udp dport %d' --socket %s",
			flowbpf_bin(), e.n.host_if, B_PORT, e.d.sock),
		    "top -j -f"))
		goto out;
	j = json_loads(out, 0, NULL);
	if (ASSERT_OK_PTR(j, "filtered frame")) {
		ASSERT_EQ(json_array_size(json_object_get(j, "flows")), 1,
			  "one flow");
		ASSERT_OK_PTR(flow_by_dport(j, B_PORT), "the filtered one");
	}
out:
	json_decref(j);
	free(out);
	env_cleanup(&e);
}

/* What a filter must select: which streams, and a test of every flow. */
struct filter_case {
	const char *expr; /* %1$s: the host's address, %2$s: the peer's */
	int a, b; /* stream A, B: 1 shown, 0 not, -1 either */
	const char *dir, *proto, *verdict, *by; /* NULL: any */
	int min; /* flows at least */
};

static const struct filter_case filter_cases[] = {
	{ "out udp", 1, 1, "out", "udp", NULL, NULL },
	{ "drop", 0, 1, NULL, NULL, "drop", NULL },
	{ "by daemon pass", 1, 0, NULL, NULL, "pass", NULL },
	{ "verdict drop by daemon", 0, 1, NULL, NULL, "drop", "daemon" },
	{ "src %1$s/30 dport 7001", 1, 0, "out", "udp", NULL, NULL },
	{ "dst %2$s udp", 1, 1, "out", "udp", NULL, NULL },
	{ "host 198.18.0.0/15 proto 17 sport 40002", 0, 1, "out", "udp", NULL,
	  NULL },
	/* The peer's ICMP port unreachable for stream A's datagrams. */
	{ "in icmp", 0, 0, "in", "icmp", NULL, NULL, 1 },
	{ "fd00::1", 0, 0, NULL, NULL, NULL, NULL },
	{ "dst %1$s", 0, 0, "in", NULL, NULL, NULL, 1 },
	{ "timeout", 0, 0, NULL, NULL, NULL, "timeout" },
};

static bool str_is(json_t *f, const char *key, const char *want)
{
	return !want ||
	       !strcmp(json_string_value(json_object_get(f, key)) ?: "", want);
}

static void check_filter(struct top_env *e, const struct filter_case *c)
{
	char expr[128], *out = NULL;
	json_t *j, *f;
	size_t i;

	snprintf(expr, sizeof(expr), c->expr, e->n.host_ip, e->n.peer_ip);
	if (!ASSERT_OK(run(&out, NULL, "%s top %s -j -n 1 -i 100ms -f '%s'",
			   flowbpf_bin(), e->n.host_if, expr),
		       expr))
		goto out;
	j = json_loads(out, 0, NULL);
	if (!ASSERT_OK_PTR(j, expr))
		goto out;
	json_array_foreach(json_object_get(j, "flows"), i, f) {
		if (!str_is(f, "dir", c->dir) ||
		    !str_is(f, "proto_name", c->proto) ||
		    !str_is(f, "verdict", c->verdict) ||
		    !str_is(f, "verdict_source", c->by)) {
			fprintf(stderr, "filter '%s' let through %s\n", expr,
				json_string_value(json_object_get(f, "flow")));
			test__fail();
		}
	}
	if (c->a >= 0)
		ASSERT_EQ(!!flow_by_dport(j, A_PORT), c->a, expr);
	if (c->b >= 0)
		ASSERT_EQ(!!flow_by_dport(j, B_PORT), c->b, expr);
	ASSERT_GE(json_array_size(json_object_get(j, "flows")), c->min,
		  "flows at least");
	ASSERT_EQ(json_integer_value(json_object_get(j, "matched")),
		  json_array_size(json_object_get(j, "flows")), "matched");
	json_decref(j);
out:
	free(out);
}

/* Every kind of filter word selects what it says, and bad ones are
 * usage errors that name what is wrong. */
static void subtest_filter(void)
{
	static const char *const bad[] = {
		"port",	       "port 70000", "host 198.18.0.1/33",
		"verdict yes", "by nobody",  "frobnicate",
		"53",	       "proto 300",
	};
	char *err = NULL;
	struct top_env e;
	size_t i;

	if (env_setup(&e, true))
		goto out;
	usleep(500000);
	for (i = 0; i < sizeof(filter_cases) / sizeof(filter_cases[0]); i++)
		check_filter(&e, &filter_cases[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(run(NULL, &err, "%s top %s -b -n 1 -f '%s'",
			      flowbpf_bin(), e.n.host_if, bad[i]),
			  2, bad[i]);
		ASSERT_HAS(err, "bad --filter", bad[i]);
		free(err);
		err = NULL;
	}
out:
	env_cleanup(&e);
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (; hay && (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

static void subtest_batch_text(void)
{
	char *out = NULL, *err = NULL, a[64];
	struct top_env e;
	int rc;

	if (env_setup(&e, true))
		goto out;
	usleep(500000);
	rc = run(&out, NULL, "%s top %s -b -n 2 -i 300ms --socket %s",
		 flowbpf_bin(), e.n.host_if, e.d.sock);
	ASSERT_EQ(rc, 0, "top -b");
	ASSERT_EQ(count_of(out, "flowbpf top "), 2, "two frames");
	ASSERT_HAS(out, "daemon: running", "daemon state");
	snprintf(a, sizeof(a), "%s:%d", e.n.peer_ip, A_PORT);
	ASSERT_EQ(count_of(out, a), 2, "stream A in each frame");
	ASSERT_HAS(out, " pass    daemon", "verdict and who set it");
	ASSERT_HAS(out, " drop    daemon", "the denied stream");
	free(out), out = NULL;

	/* Without a terminal and without -b: a usage error that says so. */
	rc = run(&out, &err, "%s top %s < /dev/null", flowbpf_bin(),
		 e.n.host_if);
	ASSERT_EQ(rc, 2, "no terminal");
	ASSERT_HAS(err, "-b", "points to batch mode");
	free(out), free(err), out = err = NULL;
	rc = run(&out, &err, "%s top fbt-nosuch0 -b -n 1", flowbpf_bin());
	ASSERT_EQ(rc, 1, "interface not attached");
	ASSERT_HAS(err, "not attached", "says so");
	free(out), free(err), out = err = NULL;
	rc = run(&out, &err, "%s top %s -b -f 'port 99999'", flowbpf_bin(),
		 e.n.host_if);
	ASSERT_EQ(rc, 2, "bad filter");
	ASSERT_HAS(err, "port", "names the word");
out:
	free(out);
	free(err);
	env_cleanup(&e);
}

/* Bad arguments are usage errors that name what is wrong; -j makes an
 * error a JSON object; --help documents the keys. */
static void subtest_args(void)
{
	static const struct {
		const char *args, *says;
	} bad[] = {
		{ "abcdefghijklmnop", "longer than 15 characters" },
		{ "lo lo", "at most one interface" },
		{ "lo -i 50ms", "--interval" },
		{ "lo -i 2h", "--interval" },
		{ "lo -i soon", "--interval" },
		{ "lo -n 0", "--count" },
		{ "lo -l x", "--limit" },
		{ "lo -s fast", "--sort" },
		{ "lo --bogus", "unknown option" },
	};
	char *out = NULL, *err = NULL;
	json_t *j;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(run(NULL, &err, "%s top %s -b", flowbpf_bin(),
			      bad[i].args),
			  2, bad[i].args);
		ASSERT_HAS(err, bad[i].says, bad[i].args);
		free(err);
		err = NULL;
	}
	ASSERT_EQ(run(&out, NULL, "%s -j top fbt-nosuch0", flowbpf_bin()), 1,
		  "-j, not attached");
	j = json_loads(out ? out : "", 0, NULL);
	if (ASSERT_OK_PTR(j, "JSON error"))
		ASSERT_HAS(json_string_value(json_object_get(j, "error")),
			   "not attached", "JSON error text");
	json_decref(j);
	free(out);
	out = NULL;
	ASSERT_EQ(run(&out, NULL, "%s top --help", flowbpf_bin()), 0, "--help");
	ASSERT_HAS(out, "Keys:", "keys documented");
	ASSERT_HAS(out, "--interval", "options documented");
	free(out);
}

/*
 * Detached and attached again while top runs: the counters start from
 * zero in new maps, which must not give a negative or inflated rate.
 */
static void subtest_reattach(void)
{
	char *out = NULL, path[96], *line, *save;
	struct top_env e;
	int pid, frames = 0, seen_after = 0, detached = 0, attached_again = 0;
	json_t *j, *f, *ifc;
	size_t i;

	if (env_setup(&e, false))
		goto out;
	snprintf(path, sizeof(path), "%s/frames", e.dir);
	fflush(stdout);
	pid = fork();
	if (!pid) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		execl(flowbpf_bin(), "flowbpf", "top", e.n.host_if, "-j", "-i",
		      "300ms", (char *)NULL);
		_exit(127);
	}
	usleep(1000000);
	ASSERT_OK(run(NULL, NULL, "%s detach %s", flowbpf_bin(), e.n.host_if),
		  "detach");
	usleep(400000);
	ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(), e.n.host_if),
		  "attach again");
	/* Five frames or so of the new attach, however long it took. */
	usleep(1500000);
	kill(pid, SIGTERM);
	ASSERT_EQ(ns_wait(pid, 5000), 0, "top exits 0 at SIGTERM");
	if (!ASSERT_OK(run(&out, NULL, "cat %s", path), "frames"))
		goto out;
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		j = json_loads(line, 0, NULL);
		if (!ASSERT_OK_PTR(j, "frame parses"))
			break;
		frames++;
		ifc = json_array_get(json_object_get(j, "interfaces"), 0);
		if (!json_is_true(json_object_get(ifc, "attached"))) {
			detached++;
			ASSERT_EQ(json_array_size(json_object_get(j, "flows")),
				  0, "no flows while detached");
		} else if (detached) {
			attached_again++;
		}
		json_array_foreach(json_object_get(j, "flows"), i, f) {
			json_t *p = json_object_get(f, "packets_per_s");

			if (json_is_null(p))
				continue;
			ASSERT_GE(json_real_value(p), 0, "rate not negative");
			ASSERT_LE(json_real_value(p), B_PPS * 2,
				  "rate not inflated");
			if (attached_again &&
			    json_integer_value(json_object_get(f, "dport")) ==
				    B_PORT)
				seen_after++;
		}
		json_decref(j);
	}
	ASSERT_GE(frames, 8, "a frame every interval");
	ASSERT_GE(detached, 1, "shown as not attached");
	ASSERT_GE(seen_after, 3,
		  "stream B, with its rate, once attached again");
out:
	free(out);
	env_cleanup(&e);
}

/*
 * A flow that the collector removes while idle and the next burst
 * creates again, its counters from zero, between two refreshes: its
 * rate is never negative nor more than the sender's.
 */
static void subtest_recreated(void)
{
	char *out = NULL, *line, *save;
	long long firsts[4] = { 0 };
	int pid, coll = -1, nfirst = 0, moving = 0, k;
	struct top_env e;
	json_t *j, *f;
	size_t i;

	if (env_setup(&e, false))
		goto out;
	/* 30 datagrams at 100/s, then 0.3 s of silence, over and over. */
	pid = udp_bursts(e.n.host_ip, 40003, e.n.peer_ip, 7003, 100, 100, 30);
	fflush(stdout);
	coll = fork();
	if (!coll) {
		execl(flowbpf_bin(), "flowbpf", "collect", e.n.host_if, "-i",
		      "50ms", "--idle", "150ms", "-o", "/dev/null",
		      (char *)NULL);
		_exit(127);
	}
	if (!ASSERT_OK(run(&out, NULL,
			   "%s top %s -j -i 250ms -n 16 -f 'dport 7003'",
			   flowbpf_bin(), e.n.host_if),
		       "top -j"))
		goto kill;
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		j = json_loads(line, 0, NULL);
		if (!ASSERT_OK_PTR(j, "frame parses"))
			break;
		json_array_foreach(json_object_get(j, "flows"), i, f) {
			json_t *p = json_object_get(f, "packets_per_s");
			long long first = json_integer_value(
				json_object_get(f, "first_seen_ms"));

			for (k = 0; k < nfirst && firsts[k] != first; k++)
				;
			if (k == nfirst && nfirst < 4)
				firsts[nfirst++] = first;
			if (json_is_null(p))
				continue;
			ASSERT_GE(json_real_value(p), 0, "rate not negative");
			ASSERT_LE(json_real_value(p), 130, "rate not inflated");
			moving += json_real_value(p) > 0;
		}
		json_decref(j);
	}
	ASSERT_GE(nfirst, 2, "the flow was created again");
	ASSERT_GE(moving, 3, "its rate shown while it sends");
kill:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	kill(coll, SIGTERM);
	ASSERT_EQ(ns_wait(coll, 5000), 0, "collector stops");
out:
	free(out);
	env_cleanup(&e);
}

/* ---- the full-screen view, in tmux ---- */

/* Starts "flowbpf top ARGS" in a new 160x40 tmux session; the pane saves
 * the terminal settings before and after, top's pid and exit status.  Like
 * an interactive shell, the pane's shell outlives a ^C meant for top. */
static int tmux_top(struct top_env *e, const char *args)
{
	char script[128];
	FILE *f;

	snprintf(script, sizeof(script), "%s/pane.sh", e->dir);
	f = fopen(script, "w");
	if (!f)
		return -1;
	fprintf(f,
		"cd %s\ntrap : INT\nstty -g > before\n"
		"sh -c 'echo $$ > pid; exec \"$0\" \"$@\"' %s top %s\n"
		"echo $? > rc\nstty -g > after\nexec sleep 600\n",
		e->dir, flowbpf_bin(), args);
	fclose(f);
	return run(
		NULL, NULL,
		"tmux -S %s -f /dev/null new-session -d -x 160 -y 40 'sh %s'",
		e->tmux, script);
}

static char *capture(struct top_env *e)
{
	char *out = NULL;

	if (run(&out, NULL, "tmux -S %s capture-pane -p", e->tmux)) {
		free(out);
		return NULL;
	}
	return out;
}

static void keys(struct top_env *e, const char *k)
{
	run(NULL, NULL, "tmux -S %s send-keys %s", e->tmux, k);
}

/* The screen, once it contains want (and not avoid), or NULL after ms. */
static char *wait_screen(struct top_env *e, const char *want, const char *avoid,
			 int ms)
{
	char *s;

	for (; ms > 0; ms -= 100) {
		s = capture(e);
		if (s && strstr(s, want) && !(avoid && strstr(s, avoid)))
			return s;
		free(s);
		usleep(100000);
	}
	fprintf(stderr, "screen never showed '%s'\n", want);
	return NULL;
}

/* The screen, once its last line contains want, or NULL after ms. */
static char *wait_last_line(struct top_env *e, const char *want, int ms)
{
	char *s, *last;
	size_t len;

	for (; ms > 0; ms -= 100) {
		s = capture(e);
		len = s ? strlen(s) : 0;
		if (len && s[len - 1] == '\n')
			s[--len] = '\0';
		last = s ? strrchr(s, '\n') : NULL;
		if (last && strstr(last, want)) {
			strcat(s, "\n");
			return s;
		}
		free(s);
		usleep(100000);
	}
	fprintf(stderr, "last line never showed '%s'\n", want);
	return NULL;
}

/* The flow rows of the table, in order, into rows (lines copied). */
static int table_rows(const char *screen, const char *ifname, char rows[][256],
		      int max)
{
	const char *l = strstr(screen, "\nIFACE");
	int n = 0, len;

	if (!l)
		return 0;
	for (l = strchr(l + 1, '\n'); l && n < max; l = strchr(l + 1, '\n')) {
		if (strncmp(l + 1, ifname, strlen(ifname)))
			continue;
		len = strcspn(l + 1, "\n");
		snprintf(rows[n++], 256, "%.*s", len, l + 1);
	}
	return n;
}

/* The n-th column of a row (0: IFACE); numbers with k/KiB/MiB units. */
static double column(const char *row, int col, char *word, size_t len)
{
	char buf[256], *w, *save, *end;
	double v;
	int i = 0;

	snprintf(buf, sizeof(buf), "%s", row);
	for (w = strtok_r(buf, " ", &save); w && i < col;
	     w = strtok_r(NULL, " ", &save))
		i++;
	if (!w)
		return -1;
	if (word)
		snprintf(word, len, "%s", w);
	v = strtod(w, &end);
	if (*end == 'k')
		v *= 1000;
	else if (!strncmp(end, "KiB", 3))
		v *= 1024;
	else if (!strncmp(end, "MiB", 3))
		v *= 1024 * 1024;
	return end == w ? -1 : v;
}

enum {
	C_SRC = 3,
	C_DST = 4,
	C_BPS = 5,
	C_PPS = 6,
	C_PACKETS = 8,
	C_VERDICT = 9,
	C_BY = 10
};

static bool row_has(const char *row, int port)
{
	char p[16];

	snprintf(p, sizeof(p), ":%d ", port);
	return strstr(row, p);
}

static void check_live_rows(struct top_env *e, const char *screen)
{
	char rows[40][256], w[32];
	int n, i, seen = 0;

	n = table_rows(screen, e->n.host_if, rows, 40);
	ASSERT_GE(n, 2, "flow rows");
	for (i = 0; i < n; i++) {
		if (strncmp(rows[i] + strlen(e->n.host_if), " out udp", 8))
			continue;
		column(rows[i], C_VERDICT, w, sizeof(w));
		if (row_has(rows[i], A_PORT)) {
			seen++;
			ASSERT_STREQ(w, "pass", "A passes");
			ASSERT_GE(column(rows[i], C_PPS, NULL, 0),
				  A_PPS * 4 / 10, "A packets/s");
			ASSERT_LE(column(rows[i], C_PPS, NULL, 0),
				  A_PPS * 13 / 10, "A packets/s at most");
			ASSERT_GE(column(rows[i], C_BPS, NULL, 0),
				  A_PPS * 4 / 10 * A_PAYLOAD, "A bytes/s");
		} else if (row_has(rows[i], B_PORT)) {
			seen++;
			ASSERT_STREQ(w, "drop", "B is dropped");
			ASSERT_GE(column(rows[i], C_PPS, NULL, 0),
				  B_PPS * 4 / 10, "B packets/s");
		}
		column(rows[i], C_BY, w, sizeof(w));
		ASSERT_STREQ(w, "daemon", "set by the daemon");
	}
	ASSERT_EQ(seen, 2, "both streams shown");
	/* Default order, bytes/s: the large datagrams first. */
	ASSERT_TRUE(row_has(rows[0], A_PORT), "A first by bytes/s");
}

/* A file of the pane's, NULL until it has content. */
static char *pane_file(struct top_env *e, const char *name, int ms)
{
	char *out;

	for (; ms > 0; ms -= 100) {
		out = NULL;
		if (!run(&out, NULL, "cat %s/%s 2>/dev/null", e->dir, name) &&
		    out && out[0])
			return out;
		free(out);
		usleep(100000);
	}
	return NULL;
}

/* Top has ended with status 0 and left the terminal as it found it. */
static void check_restored(struct top_env *e)
{
	char *rc, *before = NULL, *after = NULL, *alt = NULL;

	rc = pane_file(e, "rc", 5000);
	ASSERT_STREQ(rc, "0\n", "exit status 0");
	before = pane_file(e, "before", 100);
	after = pane_file(e, "after", 2000);
	if (ASSERT_OK_PTR(before, "settings before"))
		ASSERT_STREQ(after, before, "terminal settings restored");
	ASSERT_OK(
		run(&alt, NULL,
		    "tmux -S %s display-message -p '#{alternate_on} #{cursor_flag}'",
		    e->tmux),
		"pane state");
	ASSERT_STREQ(alt, "0 1\n", "alternate screen left, cursor shown");
	free(rc);
	free(before);
	free(after);
	free(alt);
}

static void check_sort_keys(struct top_env *e)
{
	char rows[40][256], *s;

	keys(e, "p");
	s = wait_screen(e, "sort: packets/s", NULL, 3000);
	if (ASSERT_OK_PTR(s, "sorted by packets/s")) {
		table_rows(s, e->n.host_if, rows, 40);
		ASSERT_TRUE(row_has(rows[0], B_PORT), "B first by packets/s");
	}
	free(s);
	keys(e, "t");
	s = wait_screen(e, "sort: total bytes", NULL, 3000);
	if (ASSERT_OK_PTR(s, "sorted by total bytes")) {
		table_rows(s, e->n.host_if, rows, 40);
		ASSERT_TRUE(row_has(rows[0], A_PORT), "A first by bytes");
	}
	free(s);
	keys(e, "b");
}

static void check_filter_keys(struct top_env *e)
{
	char rows[40][256], *s;
	int n;

	keys(e, "/ 'dport 7002' Enter");
	s = wait_screen(e, "filter: dport 7002", NULL, 3000);
	if (ASSERT_OK_PTR(s, "filter applied")) {
		n = table_rows(s, e->n.host_if, rows, 40);
		ASSERT_EQ(n, 1, "one flow left");
		ASSERT_TRUE(n == 1 && row_has(rows[0], B_PORT), "stream B");
		ASSERT_HAS(s, "flows 1 of", "title counts it");
	}
	free(s);
	/* ^U empties the prompt: a port on either side, the other stream. */
	keys(e, "/ C-u 'port 7001' Enter");
	s = wait_screen(e, "filter: port 7001", NULL, 3000);
	if (ASSERT_OK_PTR(s, "second filter")) {
		n = table_rows(s, e->n.host_if, rows, 40);
		ASSERT_EQ(n, 1, "one flow left");
		ASSERT_TRUE(n == 1 && row_has(rows[0], A_PORT), "stream A");
	}
	free(s);
	keys(e, "/ C-u 'port x' Enter");
	s = wait_screen(e, "filter not changed", NULL, 3000);
	if (ASSERT_OK_PTR(s, "bad filter refused"))
		ASSERT_HAS(s, "filter: port 7001", "old filter kept");
	free(s);
}

/* Paused, the screen stays as it is for several intervals; resumed,
 * the numbers move again. */
static void check_pause(struct top_env *e)
{
	char rows[40][256], *a, *b = NULL;
	double before, after = -1;
	int i;

	keys(e, "P");
	a = wait_screen(e, "PAUSED", NULL, 3000);
	if (!ASSERT_OK_PTR(a, "paused"))
		return;
	usleep(2500000);
	b = capture(e);
	ASSERT_STREQ(b, a, "the screen does not change while paused");
	table_rows(a, e->n.host_if, rows, 40);
	before = column(rows[0], C_PACKETS, NULL, 0);
	free(b);
	keys(e, "Space");
	for (i = 0; i < 30 && after <= before; i++) {
		usleep(100000);
		b = wait_screen(e, "flowbpf top", "PAUSED", 100);
		if (b && table_rows(b, e->n.host_if, rows, 40))
			after = column(rows[0], C_PACKETS, NULL, 0);
		free(b);
	}
	ASSERT_GE(after, before + A_PPS, "counting again after resume");
	free(a);
}

static void subtest_live(void)
{
	char args[160], *s;
	struct top_env e;

	if (run(NULL, NULL, "command -v tmux >/dev/null")) {
		test__skip("tmux not installed (scripts/deps.sh installs it)");
		return;
	}
	if (env_setup(&e, true))
		goto out;
	snprintf(args, sizeof(args), "%s --socket %s", e.n.host_if,
		 sock_of(&e));
	if (!ASSERT_OK(tmux_top(&e, args), "tmux"))
		goto out;
	/* A row with a rate: the second refresh at the latest. */
	s = wait_screen(&e, "daemon: running", "no rates yet", 5000);
	free(s);
	usleep(1200000);
	s = capture(&e);
	if (ASSERT_OK_PTR(s, "screen")) {
		ASSERT_HAS(s, "(enforce)", "interface totals");
		check_live_rows(&e, s);
	}
	free(s);
	check_sort_keys(&e);
	check_filter_keys(&e);
	check_pause(&e);
	/* A taller window: the view is drawn again to fill it, the keys on
	 * its new last line (they stay on line 40 if it is not). */
	run(NULL, NULL, "tmux -S %s resize-window -x 120 -y 50", e.tmux);
	s = wait_last_line(&e, "q quit", 3000);
	ASSERT_OK_PTR(s, "drawn again for 50 lines");
	free(s);
	run(NULL, NULL, "tmux -S %s resize-window -x 100 -y 20", e.tmux);
	s = wait_last_line(&e, "q quit", 3000);
	if (ASSERT_OK_PTR(s, "and for 20"))
		ASSERT_EQ(count_of(s, "\n"), 20, "20 lines");
	free(s);
	keys(&e, "q");
	check_restored(&e);
out:
	env_cleanup(&e);
}

/* Ended by ^C typed into the view (the terminal's SIGINT), then by a
 * SIGTERM from elsewhere: each time status 0 and the terminal restored. */
static void subtest_signals(void)
{
	char *pid, *s;
	struct top_env e;
	int round;

	if (run(NULL, NULL, "command -v tmux >/dev/null")) {
		test__skip("tmux not installed (scripts/deps.sh installs it)");
		return;
	}
	if (env_setup(&e, false))
		goto out;
	for (round = 0; round < 2; round++) {
		run(NULL, NULL,
		    "tmux -S %s kill-server 2>/dev/null; rm -f %s/*", e.tmux,
		    e.dir);
		if (!ASSERT_OK(tmux_top(&e, e.n.host_if), "tmux"))
			goto out;
		s = wait_screen(&e, "q quit", NULL, 5000);
		ASSERT_OK_PTR(s, "drawn");
		free(s);
		pid = pane_file(&e, "pid", 2000);
		if (round == 0)
			keys(&e, "C-c");
		else if (ASSERT_OK_PTR(pid, "pid"))
			ASSERT_OK(kill(atoi(pid), SIGTERM), "SIGTERM");
		free(pid);
		check_restored(&e);
	}
out:
	env_cleanup(&e);
}

void test_top(void)
{
	if (test__start_subtest("args"))
		subtest_args();
	if (test__start_subtest("batch_json"))
		subtest_batch_json();
	if (test__start_subtest("filter"))
		subtest_filter();
	if (test__start_subtest("batch_text"))
		subtest_batch_text();
	if (test__start_subtest("reattach"))
		subtest_reattach();
	if (test__start_subtest("recreated"))
		subtest_recreated();
	if (test__start_subtest("live"))
		subtest_live();
	if (test__start_subtest("signals"))
		subtest_signals();
}
