// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include "array.h"
#include "daemon.h"
#include "netns.h"
#include "loader.h"
#include "test.h"
#include "test_quota.h"

static int net_counter;

const char *repo_root(void)
{
	static char root[PATH_MAX];
	char *slash;
	ssize_t n;
	int i;

	if (root[0])
		return root;
	n = readlink("/proc/self/exe", root, sizeof(root) - 1);
	if (n <= 0)
		return ".";
	root[n] = '\0';
	/* <root>/.output/selftests/runner */
	for (i = 0; i < 3; i++) {
		slash = strrchr(root, '/');
		if (slash)
			*slash = '\0';
	}
	return root;
}

const char *flowbpf_bin(void)
{
	static char bin[PATH_MAX + 32];

	if (!bin[0])
		snprintf(bin, sizeof(bin), "%s/.output/flowbpf", repo_root());
	return bin;
}

static char *slurp(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t r;

	if (!buf)
		return NULL;
	while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
		len += r;
		if (cap - len < 2) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	return buf;
}

int run(char **out, char **errout, const char *fmt, ...)
{
	char cmd[4096];
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, status;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	test__log("  $ %s\n", cmd);
	if ((out && pipe(po)) || (errout && pipe(pe)))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(out ? po[1] : null, 1);
		if (errout)
			dup2(pe[1], 2);
		else if (!env_verbose)
			dup2(null, 2);
		if (out)
			close(po[0]);
		if (errout)
			close(pe[0]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (out) {
		close(po[1]);
		*out = slurp(po[0]);
		close(po[0]);
	}
	if (errout) {
		close(pe[1]);
		*errout = slurp(pe[0]);
		close(pe[0]);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_json(json_t **j, const char *fmt, ...)
{
	char cmd[4096], *out = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = run(&out, NULL, "%s", cmd);
	*j = json_loads(out ? out : "", 0, NULL);
	free(out);
	return rc;
}

int net_setup(struct test_net *n)
{
	unsigned int idx = ++net_counter % 100, pid = getpid() % 10000;
	/* A /30 of 198.18.0.0/15 per (process, test): runners in parallel
	 * must not route the same subnet in the root namespace. */
	unsigned int sub = (pid % 327) * 100 + idx;
	unsigned int a = (sub * 4) & 0x1ffff;
	int err;

	memset(n, 0, sizeof(*n));
	snprintf(n->ns, sizeof(n->ns), "flowbpf-test-%u-%u", pid, idx);
	snprintf(n->host_if, sizeof(n->host_if), "fbt%uh%u", pid, idx);
	snprintf(n->peer_if, sizeof(n->peer_if), "fbt%up%u", pid, idx);
	snprintf(n->host_ip, sizeof(n->host_ip), "198.%u.%u.%u", 18 + (a >> 16),
		 (a >> 8) & 0xff, (a & 0xff) + 1);
	snprintf(n->peer_ip, sizeof(n->peer_ip), "198.%u.%u.%u", 18 + (a >> 16),
		 (a >> 8) & 0xff, (a & 0xff) + 2);
	err = run(
		NULL, NULL,
		"set -e; ip netns add %s; "
		"ip link add %s type veth peer name %s netns %s; "
		/* No IPv6 autoconf chatter: tests count packets exactly. */
		"sysctl -qw net.ipv6.conf.%s.disable_ipv6=1; "
		"ip netns exec %s sysctl -qw net.ipv6.conf.%s.disable_ipv6=1; "
		"ip addr add %s/30 dev %s; ip link set %s up; "
		"ip -n %s addr add %s/30 dev %s; ip -n %s link set %s up; "
		"ip -n %s link set lo up",
		n->ns, n->host_if, n->peer_if, n->ns, n->host_if, n->ns,
		n->peer_if, n->host_ip, n->host_if, n->host_if, n->ns,
		n->peer_ip, n->peer_if, n->ns, n->peer_if, n->ns);
	if (err) {
		net_cleanup(n);
		return -EIO;
	}
	n->host_ifindex = if_nametoindex(n->host_if);
	/* Wait for the link to come up so the first ping is not lost. */
	run(NULL, NULL,
	    "for i in $(seq 50); do "
	    "ip -n %s link show %s | grep -q LOWER_UP && break; "
	    "sleep 0.05; done",
	    n->ns, n->peer_if);
	return 0;
}

void net_cleanup(struct test_net *n)
{
	if (!n->ns[0])
		return;
	if (!access("/sys/fs/bpf/flowbpf", F_OK)) {
		char path[128];

		snprintf(path, sizeof(path), "/sys/fs/bpf/flowbpf/%s",
			 n->host_if);
		if (!access(path, F_OK))
			run(NULL, NULL, "%s detach %s", flowbpf_bin(),
			    n->host_if);
	}
	run(NULL, NULL, "ip link del %s 2>/dev/null; ip netns del %s",
	    n->host_if, n->ns);
	n->ns[0] = '\0';
}

bool net_attach(struct test_net *n, const char *opts)
{
	if (!ASSERT_OK(net_setup(n), "net_setup"))
		return false;
	return ASSERT_OK(run(NULL, NULL, "%s attach %s%s%s", flowbpf_bin(),
			     n->host_if, opts ? " " : "", opts ? opts : ""),
			 "attach");
}

int ns_fork(const char *ns, int (*fn)(void *), void *arg, bool wait)
{
	char path[128];
	pid_t pid;
	int fd;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET))
			_exit(126);
		close(fd);
		_exit(fn(arg));
	}
	if (!wait)
		return pid;
	return ns_wait(pid, 30000);
}

int ns_wait(int pid, int timeout_ms)
{
	int status, i;

	for (i = 0; i < timeout_ms / 10; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (r < 0)
			return -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -ETIMEDOUT;
}

int pinned_flow(const char *ifname, const struct flowbpf_key *k,
		struct flowbpf_flow *f)
{
	struct flowbpf_handle h;
	int err;

	err = flowbpf_open(ifname, &h);
	if (err)
		return err;
	if (bpf_map_lookup_elem(h.fd[FB_MAP_FLOWS], k, f))
		err = -errno;
	flowbpf_close(&h);
	return err;
}

int pinned_stats(const char *ifname, struct flowbpf_stats *s)
{
	struct flowbpf_handle h;
	int err;

	err = flowbpf_open(ifname, &h);
	if (err)
		return err;
	err = flowbpf_stats_read(h.fd[FB_MAP_STATS], s);
	flowbpf_close(&h);
	return err;
}

static void addr4(__be32 *a, const char *s)
{
	memset(a, 0, 16);
	a[2] = htonl(0xffff);
	inet_pton(AF_INET, s, &a[3]);
}

void key4(struct flowbpf_key *k, __u8 dir, __u8 proto, const char *src,
	  __u16 sport, const char *dst, __u16 dport)
{
	memset(k, 0, sizeof(*k));
	k->dir = dir;
	k->family = 4;
	k->proto = proto;
	addr4(k->saddr, src);
	addr4(k->daddr, dst);
	k->sport = htons(sport);
	k->dport = htons(dport);
}

void key_icmp4(struct flowbpf_key *k, __u8 dir, const char *src,
	       const char *dst, __u8 type, __u8 code)
{
	key4(k, dir, 1, src, 0, dst, type << 8 | code);
}

void test_daemon_policy(struct test_daemon *d, const char *policy)
{
	FILE *f = fopen(d->policy, "w");

	if (f) {
		fputs(policy, f);
		fclose(f);
	}
}

int test_daemon_start(struct test_daemon *d, const char *tag,
		      const char *ifname, const char *policy)
{
	json_t *reply;
	int i, fd;

	if (!d->policy[0]) {
		snprintf(d->policy, sizeof(d->policy),
			 "/tmp/flowbpf-%d-%s.conf", getpid(), tag);
		snprintf(d->sock, sizeof(d->sock), "/tmp/flowbpf-%d-%s.sock",
			 getpid(), tag);
		snprintf(d->log, sizeof(d->log), "/tmp/flowbpf-%d-%s.log",
			 getpid(), tag);
	}
	if (policy)
		test_daemon_policy(d, policy);
	fflush(stdout);
	fflush(stderr);
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (!d->pid) {
		fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(flowbpf_bin(), "flowbpf", "daemon", "-c", d->policy,
		      "--socket", d->sock, ifname, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 300; i++) {
		if (!ctl_request(d->sock, "stats", &reply)) {
			json_decref(reply);
			return 0;
		}
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			d->pid = -1;
			return -1;
		}
		usleep(10000);
	}
	return -1;
}

int test_attach_daemon(struct test_net *n, struct test_daemon *d,
		       const char *tag, const char *attach_opts,
		       const char *policy)
{
	if (run(NULL, NULL, "%s attach %s %s", flowbpf_bin(), n->host_if,
		attach_opts)) {
		fprintf(stderr, "flowbpf attach %s %s failed\n", n->host_if,
			attach_opts);
		return -1;
	}
	if (test_daemon_start(d, tag, n->host_if, policy)) {
		fprintf(stderr, "the daemon on %s did not start\n", n->host_if);
		return -1;
	}
	return 0;
}

void test_daemon_kill(struct test_daemon *d, int sig)
{
	if (d->pid > 0) {
		kill(d->pid, SIGCONT);
		kill(d->pid, sig);
		waitpid(d->pid, NULL, 0);
	}
	d->pid = -1;
}

void test_daemon_cleanup(struct test_daemon *d)
{
	char *out = NULL;

	test_daemon_kill(d, SIGTERM);
	if (!d->policy[0])
		return;
	if (env_verbose && !run(&out, NULL, "cat %s", d->log))
		test__log("daemon log:\n%s", out);
	free(out);
	unlink(d->policy);
	unlink(d->sock);
	unlink(d->log);
}

bool prog_exists(__u32 id)
{
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Keys are collected before anything is deleted: get_next_key(NULL)
 * after each delete would rescan from the first bucket. */
int map_keys(int fd, struct flowbpf_key **keys, __u32 *n)
{
	struct flowbpf_key k, *ks = NULL, *tmp;
	size_t cnt = 0, cap = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &k)) {
		tmp = array_room(ks, &cap, cnt, sizeof(*ks), 1024);
		if (!tmp) {
			free(ks);
			return -ENOMEM;
		}
		ks = tmp;
		ks[cnt++] = k;
		prev = &ks[cnt - 1];
	}
	*keys = ks;
	*n = cnt;
	return 0;
}

int map_clear(int fd)
{
	struct flowbpf_key *keys;
	__u32 i, n;
	int err;

	err = map_keys(fd, &keys, &n);
	for (i = 0; !err && i < n; i++)
		if (bpf_map_delete_elem(fd, &keys[i]) && errno != ENOENT)
			err = -errno;
	free(keys);
	return err;
}

int free_port(int type)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, type, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && !bind(fd, (void *)&a, sizeof(a)) &&
	    !getsockname(fd, (void *)&a, &l))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int tcp_listen(const char *ip, int port, int backlog)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	int fd, one = 1;

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (void *)&a, sizeof(a)) || listen(fd, backlog)) {
		close(fd);
		return -1;
	}
	return fd;
}

int tcp_connect_wait(const char *ip, int port, int timeout_ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	struct pollfd p;
	int fd, err = ETIMEDOUT;
	socklen_t l = sizeof(err);

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (void *)&a, sizeof(a)) && errno != EINPROGRESS) {
		err = errno;
		goto fail;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, timeout_ms) != 1)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l))
		err = errno;
	if (!err)
		return fd;
fail:
	close(fd);
	return -err;
}

int server_start(struct test_net *n, int (*fn)(void *), struct test_srv *s)
{
	char c;
	int pid;

	s->ip = n->peer_ip;
	if (pipe(s->ready))
		return -1;
	pid = ns_fork(n->ns, fn, s, false);
	close(s->ready[1]);
	if (pid > 0 && read(s->ready[0], &c, 1) != 1)
		pid = -1;
	close(s->ready[0]);
	return pid;
}

int tcp_sink(void *arg)
{
	struct test_srv *s = arg;
	static char buf[65536];
	long total = 0;
	int fd, c;
	ssize_t r;

	fd = tcp_listen(s->ip, s->port, 1);
	if (fd < 0 || write(s->ready[1], "x", 1) != 1)
		return 2;
	c = accept(fd, NULL, NULL);
	if (c < 0)
		return 3;
	while ((r = read(c, buf, sizeof(buf))) > 0)
		total += r;
	close(c);
	close(fd);
	return total == s->want ? 0 : 4;
}

json_t *test_quota_blocked(const char *dsn, const char *name)
{
	json_t *q = quota_of(dsn, name);
	char what[96];

	snprintf(what, sizeof(what), "flowbpf quota lists %s", name);
	if (!ASSERT_OK_PTR(q, what))
		return NULL;
	ASSERT_STREQ(json_string_value(json_object_get(q, "state")), "blocked",
		     "quota state");
	ASSERT_GE(json_integer_value(json_object_get(q, "used")), 1 << 20,
		  "quota use");
	return q;
}
