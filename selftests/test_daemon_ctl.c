// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The daemon's control socket and its start-up against clients and
 * callers that misbehave: clients that leave early, say nothing or speak
 * slowly.  Most subtests share one attached interface and one daemon,
 * started on first use and again when a subtest left it dead.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <jansson.h>
#include "clock.h"
#include "daemon.h"
#include "flowfmt.h"
#include "loader.h"
#include "netns.h"
#include "test.h"

#define NOBODY 65534

static struct {
	struct test_net n;
	struct test_daemon d;
	bool net_up, attached;
} fx = { .d = { .pid = -1 } };

/* The shared interface, attached, with a daemon answering on it. */
static bool fx_daemon(void)
{
	if (!fx.net_up) {
		if (!ASSERT_OK(net_setup(&fx.n), "net_setup"))
			return false;
		fx.net_up = true;
	}
	if (!fx.attached) {
		if (!ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
				   fx.n.host_if),
			       "attach"))
			return false;
		fx.attached = true;
	}
	if (fx.d.pid > 0 && !waitpid(fx.d.pid, NULL, WNOHANG))
		return true;
	fx.d.pid = -1;
	return ASSERT_OK(test_daemon_start(&fx.d, "ctl", fx.n.host_if,
					   "default allow;\n"),
			 "daemon");
}

static void fx_end(void)
{
	test_daemon_cleanup(&fx.d);
	if (fx.net_up)
		net_cleanup(&fx.n);
	fx.net_up = fx.attached = false;
}

/* Time bounds stretch in an emulated VM, where everything is slower. */
static int slow(void)
{
	return getenv("VMTEST") ? 4 : 1;
}

/* A connection to the control socket; fd or -errno. */
static int ctl_connect(const char *path, bool nonblock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* A client of the shared daemon: its socket, or -1 with the step that
 * failed asserted. */
static int fx_connect(void)
{
	int fd;

	if (!fx_daemon())
		return -1;
	fd = ctl_connect(fx.d.sock, false);
	if (!ASSERT_GE(fd, 0, "connect"))
		return -1;
	return fd;
}

/* True if the shared daemon has not ended; reaps it if it has. */
static bool fx_alive(const char *what)
{
	int status = 0;
	pid_t r = fx.d.pid > 0 ? waitpid(fx.d.pid, &status, WNOHANG) : -1;

	if (r > 0) {
		fx.d.pid = -1;
		test__log("daemon ended: %s %d\n",
			  WIFSIGNALED(status) ? "signal" : "exit status",
			  WIFSIGNALED(status) ? WTERMSIG(status)
					      : WEXITSTATUS(status));
	}
	return ASSERT_EQ(r, 0, what);
}

/*
 * Reads what the other end sends until it closes, or for at most
 * timeout_ms; NUL-terminated, *len bytes.  NULL only when out of memory.
 */
static char *read_reply(int fd, int timeout_ms, size_t *len)
{
	__u64 end = mono_now_ms() + timeout_ms;
	size_t cap = 4096;
	char *buf = malloc(cap);
	ssize_t r;

	*len = 0;
	while (buf) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		__u64 now = mono_now_ms();

		if (now >= end || poll(&p, 1, end - now) != 1)
			break;
		if (cap - *len < 2) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		r = recv(fd, buf + *len, cap - *len - 1, MSG_DONTWAIT);
		if (r <= 0 && !(r < 0 && errno == EAGAIN))
			break;
		if (r > 0)
			*len += r;
	}
	if (buf)
		buf[*len] = '\0';
	return buf;
}

/* How long ago the daemon last beat on ifname (the pinned heartbeat). */
static long long heartbeat_age_ms(const char *ifname)
{
	struct flowbpf_heartbeat hb = {};
	__u32 zero = 0;
	int fd = flowbpf_pin_get(ifname, FB_MAP_HEARTBEAT);

	if (fd < 0)
		return -1;
	if (bpf_map_lookup_elem(fd, &zero, &hb))
		hb.alive_ns = 0;
	close(fd);
	if (!hb.alive_ns)
		return -1;
	return (mono_now_ns() - hb.alive_ns) / 1000000;
}

/* Clients that connect and leave, or ask and leave before the answer. */
static void subtest_client_leaves(void)
{
	json_t *reply = NULL;
	int i, fd;

	if (!fx_daemon())
		return;
	for (i = 0; i < 20; i++) {
		fd = ctl_connect(fx.d.sock, false);
		if (fd >= 0)
			close(fd);
		fd = ctl_connect(fx.d.sock, false);
		if (fd >= 0) {
			send(fd, "stats\n", 6, MSG_NOSIGNAL);
			close(fd);
		}
	}
	usleep(300000);
	if (!fx_alive("daemon still runs"))
		return;
	ASSERT_OK(ctl_request(fx.d.sock, "stats", &reply), "and answers");
	json_decref(reply);
}

/* Silent clients hold up neither a real request nor the heartbeat. */
static void subtest_silent_clients(void)
{
	long long age, worst = 0;
	json_t *reply = NULL;
	int fds[5], i;
	__u64 t0;

	if (!fx_daemon())
		return;
	for (i = 0; i < 5; i++)
		fds[i] = ctl_connect(fx.d.sock, false);
	for (i = 0; i < 12; i++) {
		age = heartbeat_age_ms(fx.n.host_if);
		if (age < 0 || age > worst)
			worst = age < 0 ? 1000000 : age;
		usleep(100000);
	}
	test__log("heartbeat age at most %lld ms\n", worst);
	ASSERT_LE(worst, 700 * slow(), "heartbeat age meanwhile (ms)");
	t0 = mono_now_ms();
	ASSERT_OK(ctl_request(fx.d.sock, "stats", &reply),
		  "request among silent clients");
	ASSERT_LE(mono_now_ms() - t0, 500 * slow(), "answered at once (ms)");
	json_decref(reply);
	for (i = 0; i < 5; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* A request that comes in pieces is put together. */
static void subtest_split_request(void)
{
	json_t *reply;
	size_t len;
	char *out;
	int fd;

	fd = fx_connect();
	if (fd < 0)
		return;
	send(fd, "sta", 3, MSG_NOSIGNAL);
	usleep(200000);
	send(fd, "ts\n", 3, MSG_NOSIGNAL);
	out = read_reply(fd, 3000, &len);
	close(fd);
	reply = out ? json_loads(out, 0, NULL) : NULL;
	ASSERT_TRUE(json_object_get(reply, "pid"), "the stats reply");
	if (!reply)
		test__log("got: %s\n", out ? out : "(null)");
	json_decref(reply);
	free(out);
}

/* A client that sends nothing is dropped after the deadline, unanswered. */
static void subtest_request_deadline(void)
{
	size_t len;
	char *out;
	__u64 t0;
	int fd;

	fd = fx_connect();
	if (fd < 0)
		return;
	t0 = mono_now_ms();
	out = read_reply(fd, 4000, &len);
	t0 = mono_now_ms() - t0;
	close(fd);
	ASSERT_EQ(len, 0, "no reply");
	ASSERT_GE(t0, 500, "kept for a while (ms)");
	ASSERT_LE(t0, 1000 + 1000 * slow(), "dropped after the deadline (ms)");
	free(out);
}

/* More clients than the daemon serves at once: a real request still
 * gets through at once, and the silent ones are dropped in time. */
static void subtest_many_clients(void)
{
	json_t *reply = NULL;
	int fds[40], i, gone = 0;
	char c;
	__u64 t0;

	if (!fx_daemon())
		return;
	for (i = 0; i < 40; i++)
		fds[i] = ctl_connect(fx.d.sock, true);
	usleep(100000);
	t0 = mono_now_ms();
	ASSERT_OK(ctl_request(fx.d.sock, "stats", &reply),
		  "request among 40 silent clients");
	ASSERT_LE(mono_now_ms() - t0, 1000 * slow(), "answered in time (ms)");
	json_decref(reply);
	/* Each is closed (EOF) once its deadline has passed. */
	for (t0 = mono_now_ms() + 3000 * slow();
	     gone < 40 && mono_now_ms() < t0;) {
		usleep(50000);
		for (i = 0, gone = 0; i < 40; i++)
			gone += fds[i] < 0 ||
				!recv(fds[i], &c, 1, MSG_DONTWAIT);
	}
	for (i = 0; i < 40; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ASSERT_EQ(gone, 40, "silent clients dropped");
	fx_alive("daemon still runs");
}

/* Even with the socket's mode loosened, a client that is not root is
 * sent nothing. */
static void subtest_peer_not_root(void)
{
	int pid, status = -1;

	if (!fx_daemon())
		return;
	if (!ASSERT_OK(chmod(fx.d.sock, 0666), "chmod"))
		return;
	pid = fork();
	if (!pid) {
		size_t len;
		int fd;

		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(3);
		fd = ctl_connect(fx.d.sock, false);
		if (fd < 0)
			_exit(2);
		send(fd, "stats\n", 6, MSG_NOSIGNAL);
		free(read_reply(fd, 2000, &len));
		_exit(len ? 1 : 0);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	chmod(fx.d.sock, 0600);
	ASSERT_TRUE(WIFEXITED(status), "client ran");
	ASSERT_EQ(WEXITSTATUS(status), 0, "no reply for uid 65534");
}

/* A client does not believe a socket that a user other than root
 * listens on. */
static void subtest_daemon_not_root(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_t *reply = NULL;
	int p[2], pid, err;
	char c;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/flowbpf-%d-fake.sock",
		 getpid());
	unlink(sa.sun_path);
	if (!ASSERT_OK(pipe(p), "pipe"))
		return;
	pid = fork();
	if (!pid) {
		int fd, cl;

		close(p[0]);
		alarm(5);
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(3);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
		    listen(fd, 4) || write(p[1], "r", 1) != 1)
			_exit(2);
		cl = accept(fd, NULL, NULL);
		send(cl, "{\"pid\":1}", 9, MSG_NOSIGNAL);
		close(cl);
		_exit(0);
	}
	close(p[1]);
	if (ASSERT_GE(pid, 1, "fork") &&
	    ASSERT_EQ(read(p[0], &c, 1), 1, "fake daemon listens")) {
		err = ctl_request(sa.sun_path, "stats", &reply);
		ASSERT_EQ(err, -EPERM, "refused");
		ASSERT_FALSE(reply, "no reply taken");
		json_decref(reply);
	}
	close(p[0]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	unlink(sa.sun_path);
}

/*
 * A stats reply far over 64 KiB (1000 named rules) reads as a daemon,
 * and a second daemon on the same socket is refused rather than taking
 * it over.
 */
static void subtest_big_reply(void)
{
	struct test_daemon big = { .pid = -1 };
	json_t *reply = NULL;
	size_t cap = 1000 * 96 + 64, off;
	char *text, *err = NULL;
	int i, rc;

	if (!fx_daemon())
		return;
	test_daemon_kill(&fx.d, SIGTERM);
	text = malloc(cap);
	if (!ASSERT_OK_PTR(text, "malloc"))
		return;
	off = snprintf(text, cap, "default allow;\n");
	for (i = 0; i < 1000; i++)
		off += snprintf(
			text + off, cap - off,
			"rule \"rule-%04d-with-a-name-of-some-length\" deny dir in "
			"proto udp dport %d;\n",
			i, 10000 + i);
	if (!ASSERT_OK(test_daemon_start(&big, "big", fx.n.host_if, text),
		       "daemon with 1000 rules answers"))
		goto out;
	if (ASSERT_OK(ctl_request(big.sock, "stats", &reply), "stats")) {
		ASSERT_EQ(json_array_size(json_object_get(reply, "rules")),
			  1000, "every rule in the reply");
		json_decref(reply);
	}
	rc = run(NULL, &err, "timeout 5 %s daemon -c %s --socket %s %s",
		 flowbpf_bin(), big.policy, big.sock, fx.n.host_if);
	ASSERT_EQ(rc, 1, "a second daemon on the socket fails");
	ASSERT_HAS(err, "a daemon is already running", "and says why");
	ASSERT_OK(ctl_request(big.sock, "stats", &reply),
		  "the first one still answers");
	json_decref(reply);
out:
	free(err);
	free(text);
	test_daemon_cleanup(&big);
}

/* A second daemon for the interface on a socket of its own is refused;
 * a collector on the same interface is not. */
static void subtest_one_per_iface(void)
{
	char sock[64], *err = NULL;
	json_t *reply = NULL;
	int rc;

	if (!fx_daemon())
		return;
	snprintf(sock, sizeof(sock), "/tmp/flowbpf-%d-second.sock", getpid());
	rc = run(NULL, &err, "timeout 5 %s daemon -c %s --socket %s %s",
		 flowbpf_bin(), fx.d.policy, sock, fx.n.host_if);
	ASSERT_EQ(rc, 1, "a second daemon fails");
	ASSERT_HAS(err, "another flowbpf daemon serves this interface",
		   "and says why");
	ASSERT_NEQ(access(sock, F_OK), 0, "and leaves no socket behind");
	unlink(sock);
	free(err);
	err = NULL;
	snprintf(sock, sizeof(sock), "/tmp/flowbpf-%d-acct.jsonl", getpid());
	rc = run(NULL, &err, "timeout 1 %s collect %s -o %s", flowbpf_bin(),
		 fx.n.host_if, sock);
	ASSERT_EQ(rc, 124, "a collector runs beside the daemon");
	unlink(sock);
	free(err);
	ASSERT_OK(ctl_request(fx.d.sock, "stats", &reply),
		  "the daemon still answers");
	json_decref(reply);
}

/*
 * Starts "flowbpf daemon -c POLICY --socket SOCK [--pidfile PIDFILE]
 * IFACE" in the background with umask 0, so that the modes it gives its
 * files show; output into log.  The pid, or -1.
 */
static int daemon_spawn(const char *policy, const char *sock,
			const char *pidfile, const char *log)
{
	int pid, fd;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid)
		return pid;
	umask(0);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (pidfile)
		execl(flowbpf_bin(), "flowbpf", "daemon", "-c", policy,
		      "--socket", sock, "--pidfile", pidfile, fx.n.host_if,
		      (char *)NULL);
	else
		execl(flowbpf_bin(), "flowbpf", "daemon", "-c", policy,
		      "--socket", sock, fx.n.host_if, (char *)NULL);
	_exit(127);
}

/* Waits up to timeout_ms for pid to end (killing it then); its status. */
static int wait_end(int pid, int timeout_ms)
{
	__u64 end = mono_now_ms() + timeout_ms;
	int status = -1;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (mono_now_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(5000);
	}
	return status;
}

/* Whether pid has SIGTERM blocked (/proc/PID/status, SigBlk). */
static bool sigterm_blocked(int pid)
{
	char path[64], line[256];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigBlk: %llx", &mask) == 1)
			break;
	fclose(f);
	return mask & (1ULL << (SIGTERM - 1));
}

/*
 * SIGTERM as soon as the control socket takes connections, while the
 * daemon still opens its interfaces: it stops the clean way, heartbeat
 * cleared and files removed, rather than dying of the signal.
 */
static void subtest_signal_startup(void)
{
	char sock[64], pidfile[64], log[64];
	bool blocked = false, seen = false;
	int pid, fd, status;
	__u64 end;

	if (!fx_daemon())
		return;
	test_daemon_kill(&fx.d, SIGTERM);
	snprintf(sock, sizeof(sock), "/tmp/flowbpf-%d-sig.sock", getpid());
	snprintf(pidfile, sizeof(pidfile), "/tmp/flowbpf-%d-sig.pid", getpid());
	snprintf(log, sizeof(log), "/tmp/flowbpf-%d-sig.log", getpid());
	pid = daemon_spawn(fx.d.policy, sock, pidfile, log);
	if (!ASSERT_GE(pid, 1, "spawn"))
		return;
	for (end = mono_now_ms() + 3000; mono_now_ms() < end;) {
		fd = ctl_connect(sock, false);
		if (fd >= 0) {
			blocked = sigterm_blocked(pid);
			kill(pid, SIGTERM);
			close(fd);
			seen = true;
			break;
		}
		usleep(100);
	}
	ASSERT_TRUE(seen, "the socket took a connection");
	ASSERT_TRUE(blocked, "SIGTERM was blocked by then");
	status = wait_end(pid, 3000);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "a clean stop");
	if (!WIFEXITED(status))
		test__log("daemon status %#x\n", status);
	ASSERT_EQ(heartbeat_age_ms(fx.n.host_if), -1, "heartbeat cleared");
	ASSERT_NEQ(access(sock, F_OK), 0, "socket removed");
	ASSERT_NEQ(access(pidfile, F_OK), 0, "pidfile removed");
	unlink(sock);
	unlink(pidfile);
	unlink(log);
}

/* --socket naming a file that is not a socket: refused, left alone. */
static void subtest_socket_not_ours(void)
{
	char path[64], buf[16] = "", *err = NULL;
	FILE *f;
	int rc;

	if (!fx_daemon())
		return;
	test_daemon_kill(&fx.d, SIGTERM);
	snprintf(path, sizeof(path), "/tmp/flowbpf-%d-notsock", getpid());
	f = fopen(path, "w");
	if (!ASSERT_OK_PTR(f, "file"))
		return;
	fputs("keep me\n", f);
	fclose(f);
	rc = run(NULL, &err, "timeout 3 %s daemon -c %s --socket %s %s",
		 flowbpf_bin(), fx.d.policy, path, fx.n.host_if);
	ASSERT_EQ(rc, 1, "refused");
	ASSERT_HAS(err, "is not a socket", "and says why");
	f = fopen(path, "r");
	if (ASSERT_OK_PTR(f, "the file is still there")) {
		ASSERT_OK_PTR(fgets(buf, sizeof(buf), f), "read");
		ASSERT_STREQ(buf, "keep me\n", "unchanged");
		fclose(f);
	}
	free(err);
	unlink(path);
}

/*
 * The pidfile: not through a symlink, not into a FIFO (which would hold
 * up the start with the heartbeat set), and created 0644 at most.
 */
static void subtest_pidfile(void)
{
	char pidfile[64], target[64], sock[64], log[64], buf[32] = "";
	char *err = NULL;
	struct stat st;
	int rc, pid;
	FILE *f;

	if (!fx_daemon())
		return;
	test_daemon_kill(&fx.d, SIGTERM);
	snprintf(pidfile, sizeof(pidfile), "/tmp/flowbpf-%d-p.pid", getpid());
	snprintf(target, sizeof(target), "/tmp/flowbpf-%d-p.target", getpid());
	snprintf(sock, sizeof(sock), "/tmp/flowbpf-%d-p.sock", getpid());
	snprintf(log, sizeof(log), "/tmp/flowbpf-%d-p.log", getpid());
	unlink(pidfile);
	unlink(target);
	ASSERT_OK(symlink(target, pidfile), "symlink");
	rc = run(NULL, &err,
		 "timeout 3 %s daemon -c %s --socket %s --pidfile %s %s",
		 flowbpf_bin(), fx.d.policy, sock, pidfile, fx.n.host_if);
	ASSERT_EQ(rc, 1, "a symlink is refused");
	ASSERT_HAS(err, "symbolic link", "and said so");
	ASSERT_NEQ(access(target, F_OK), 0, "its target not created");
	free(err);
	err = NULL;
	unlink(pidfile);

	ASSERT_OK(mkfifo(pidfile, 0600), "mkfifo");
	rc = run(NULL, &err,
		 "timeout 3 %s daemon -c %s --socket %s --pidfile %s %s",
		 flowbpf_bin(), fx.d.policy, sock, pidfile, fx.n.host_if);
	ASSERT_EQ(rc, 1, "a FIFO is refused at once");
	ASSERT_HAS(err, "not a regular file", "and said so");
	ASSERT_EQ(heartbeat_age_ms(fx.n.host_if), -1, "no heartbeat left");
	free(err);
	unlink(pidfile);

	pid = daemon_spawn(fx.d.policy, sock, pidfile, log);
	/* Created, then written: wait for its content, not its name. */
	for (rc = 0; rc < 300 && (stat(pidfile, &st) || !st.st_size); rc++)
		usleep(10000);
	if (ASSERT_OK(stat(pidfile, &st), "pidfile written")) {
		ASSERT_TRUE(S_ISREG(st.st_mode), "a regular file");
		ASSERT_EQ(st.st_mode & 0777 & ~0644, 0,
			  "mode 0644 at most, under umask 0");
		f = fopen(pidfile, "r");
		if (f) {
			ASSERT_OK_PTR(fgets(buf, sizeof(buf), f), "read");
			ASSERT_EQ(atoi(buf), pid, "the daemon's pid");
			fclose(f);
		}
	}
	if (pid > 0) {
		kill(pid, SIGTERM);
		wait_end(pid, 3000);
	}
	ASSERT_NEQ(access(pidfile, F_OK), 0, "removed on exit");
	unlink(pidfile);
	unlink(target);
	unlink(sock);
	unlink(log);
}

#define FFFD "\xef\xbf\xbd"

/* Bytes that are not UTF-8 become U+FFFD, one for each; the rest stays. */
static void subtest_json_text(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "plain" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "a\xa7z", "a" FFFD "z" },
		{ "\xc0\xaf", FFFD FFFD }, /* an overlong '/' */
		{ "\xed\xa0\x80", FFFD FFFD FFFD }, /* a surrogate */
		{ "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD }, /* > U+10FFFF */
		{ "x\xe2\x82", "x" FFFD FFFD }, /* cut short by the end */
		{ "\xe2\x82z", FFFD FFFD "z" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = ctl_json_str(cases[i].in);
		char *dump = json_dumps(j, JSON_ENCODE_ANY);

		ASSERT_STREQ(json_string_value(j), cases[i].out, "text");
		ASSERT_OK_PTR(dump, "dumps");
		free(dump);
		json_decref(j);
	}
}

/*
 * An interface and a rule whose names are not UTF-8 are in the stats,
 * and so is a failed reload whose message quotes such bytes; the stats
 * that follow are still JSON.
 */
static void subtest_utf8_stats(void)
{
	struct test_daemon d = { .pid = -1 };
	char name[IF_NAMESIZE], *out = NULL;
	json_t *reply = NULL, *v;
	struct test_net n;
	int i;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	snprintf(name, sizeof(name), "%s", n.host_if);
	*strrchr(name, 'h') = '\xa7';
	/* Some ip(8) builds refuse such a name; the kernel takes it. */
	if (run(NULL, NULL, "ip link set %s name '%s'", n.host_if, name)) {
		test__skip("ip(8) here cannot give an interface that name");
		goto out;
	}
	snprintf(n.host_if, sizeof(n.host_if), "%s", name);
	if (!ASSERT_OK(run(NULL, NULL, "%s attach '%s'", flowbpf_bin(), name),
		       "attach") ||
	    !ASSERT_OK(
		    test_daemon_start(
			    &d, "utf", name,
			    "default allow;\n"
			    "rule \"bad\xa7name\" deny dir in proto udp dport 9;\n"),
		    "daemon"))
		goto out;
	if (ASSERT_OK(ctl_request(d.sock, "stats", &reply), "stats")) {
		v = json_array_get(json_object_get(reply, "interfaces"), 0);
		ASSERT_HAS(json_string_value(json_object_get(v, "ifname")),
			   FFFD, "interface name");
		v = json_object_get(reply, "rules");
		ASSERT_EQ(json_array_size(v), 1, "the rule");
		ASSERT_STREQ(json_string_value(json_object_get(
				     json_array_get(v, 0), "name")),
			     "bad" FFFD "name", "rule name");
		json_decref(reply);
	}
	test_daemon_policy(&d, "unit u file \"/nonexistent/\xa7.txt\";\n");
	if (ASSERT_OK(ctl_request(d.sock, "reload", &reply), "reload")) {
		ASSERT_HAS(json_string_value(json_object_get(reply, "error")),
			   "/nonexistent/" FFFD ".txt", "reload error");
		json_decref(reply);
	}
	if (ASSERT_OK(ctl_request(d.sock, "stats", &reply),
		      "stats after the failed reload")) {
		ASSERT_HAS(
			json_string_value(json_object_get(reply, "last_error")),
			"/nonexistent/" FFFD ".txt", "last error");
		json_decref(reply);
	}
	ASSERT_EQ(run(&out, NULL, "%s -j --socket %s reload", flowbpf_bin(),
		      d.sock),
		  1, "flowbpf reload fails");
	ASSERT_HAS(out, "{\"error\":", "with a JSON error");
	free(out);
	/* The CLI's own listings keep such an interface too. */
	for (i = 0; i < 3; i++) {
		static const char *const cmd[] = { "status", "stats", "flows" };

		out = NULL;
		run(&out, NULL, "%s -j %s '%s'", flowbpf_bin(), cmd[i], name);
		reply = out ? json_loads(out, 0, NULL) : NULL;
		v = i < 2 ? json_array_get(json_object_get(reply, "interfaces"),
					   0)
			  : reply;
		ASSERT_HAS(json_string_value(json_object_get(v, "ifname")),
			   FFFD, cmd[i]);
		json_decref(reply);
		free(out);
	}
	out = NULL;
out:
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

/* The CLI's own JSON: a file name and a rule name that are not UTF-8. */
static void subtest_policy_json(void)
{
	char path[64], *out = NULL;
	json_t *j;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/flowbpf-%d-\xa7.conf", getpid());
	f = fopen(path, "w");
	if (!ASSERT_OK_PTR(f, "policy file"))
		return;
	fputs("default deny;\nrule \"ok\xa7\" allow dir in proto udp dport 9;\n",
	      f);
	fclose(f);
	ASSERT_OK(run(&out, NULL, "%s -j policy check '%s'", flowbpf_bin(),
		      path),
		  "policy check");
	j = out ? json_loads(out, 0, NULL) : NULL;
	ASSERT_HAS(json_string_value(json_object_get(j, "file")), FFFD,
		   "file name in JSON");
	json_decref(j);
	free(out);
	out = NULL;
	ASSERT_OK(
		run(&out, NULL,
		    "%s -j policy test '%s' in udp 198.18.0.1:1000 198.18.0.2:9",
		    flowbpf_bin(), path),
		"policy test");
	j = out ? json_loads(out, 0, NULL) : NULL;
	ASSERT_STREQ(json_string_value(json_object_get(j, "rule_name")),
		     "ok" FFFD, "rule name in JSON");
	json_decref(j);
	free(out);
	out = NULL;
	ASSERT_EQ(run(&out, NULL, "%s -j policy check '%s.gone'", flowbpf_bin(),
		      path),
		  1, "a missing file fails");
	j = out ? json_loads(out, 0, NULL) : NULL;
	ASSERT_HAS(json_string_value(json_object_get(j, "error")), FFFD,
		   "with a JSON error");
	json_decref(j);
	free(out);
	unlink(path);
}

/* One UDP datagram from sport to ip:dport, from this namespace. */
static int send_udp(const char *ip, int sport, int dport)
{
	struct sockaddr_in me = { .sin_family = AF_INET,
				  .sin_port = htons(sport) };
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(dport) };
	int fd, one = 1, ok;

	inet_pton(AF_INET, ip, &to.sin_addr);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ok = !bind(fd, (struct sockaddr *)&me, sizeof(me)) &&
	     sendto(fd, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)) == 1;
	close(fd);
	return ok ? 0 : -EIO;
}

/*
 * Detach and attach again under a running daemon: the detach is not held
 * up by it, and the daemon notices the new maps, says so, and decides
 * the new flows there instead of leaving them to the timeout.
 */
static void subtest_reattach(void)
{
	static const char *attach =
		"%s attach %s --mode enforce --pending drop --default pass --timeout 1s";
	struct test_daemon d = { .pid = -1 };
	struct flowbpf_flow v = {};
	struct flowbpf_key k;
	struct test_net n;
	char *log = NULL;
	__u64 t0, end;

	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		return;
	if (!ASSERT_OK(run(NULL, NULL, attach, flowbpf_bin(), n.host_if),
		       "attach") ||
	    !ASSERT_OK(
		    test_daemon_start(
			    &d, "ra", n.host_if,
			    "default allow;\n"
			    "rule \"no-6000\" deny dir out proto udp dport 6000;\n"),
		    "daemon"))
		goto out;
	t0 = mono_now_ms();
	ASSERT_OK(run(NULL, NULL, "%s detach %s", flowbpf_bin(), n.host_if),
		  "detach");
	ASSERT_LE(mono_now_ms() - t0, 1500 * slow(), "detach time (ms)");
	if (!ASSERT_OK(run(NULL, NULL, attach, flowbpf_bin(), n.host_if),
		       "attach again"))
		goto out;
	for (end = mono_now_ms() + 3000; mono_now_ms() < end;) {
		if (heartbeat_age_ms(n.host_if) >= 0)
			break;
		usleep(20000);
	}
	if (!ASSERT_GE(heartbeat_age_ms(n.host_if), 0,
		       "the daemon beats on the new maps"))
		goto out;
	ASSERT_OK(send_udp(n.peer_ip, 46000, 6000), "send");
	key4(&k, FLOWBPF_DIR_EGRESS, 17, n.host_ip, 46000, n.peer_ip, 6000);
	for (end = mono_now_ms() + 2000; mono_now_ms() < end;) {
		if (!pinned_flow(n.host_if, &k, &v) &&
		    v.verdict != FLOWBPF_VERDICT_QUEUED)
			break;
		usleep(20000);
	}
	ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_DROP, "new flow denied");
	ASSERT_EQ(v.source, FLOWBPF_SRC_DAEMON, "by the daemon");
	run(&log, NULL, "cat %s", d.log);
	ASSERT_HAS(log, "attached again", "the daemon logs it");
	free(log);
out:
	test_daemon_cleanup(&d);
	net_cleanup(&n);
}

void test_daemon_ctl(void)
{
	if (test__start_subtest("client_leaves"))
		subtest_client_leaves();
	if (test__start_subtest("silent_clients"))
		subtest_silent_clients();
	if (test__start_subtest("split_request"))
		subtest_split_request();
	if (test__start_subtest("request_deadline"))
		subtest_request_deadline();
	if (test__start_subtest("many_clients"))
		subtest_many_clients();
	if (test__start_subtest("peer_not_root"))
		subtest_peer_not_root();
	if (test__start_subtest("daemon_not_root"))
		subtest_daemon_not_root();
	if (test__start_subtest("big_reply"))
		subtest_big_reply();
	if (test__start_subtest("one_per_iface"))
		subtest_one_per_iface();
	if (test__start_subtest("json_text"))
		subtest_json_text();
	if (test__start_subtest("utf8_stats"))
		subtest_utf8_stats();
	if (test__start_subtest("policy_json"))
		subtest_policy_json();
	if (test__start_subtest("signal_startup"))
		subtest_signal_startup();
	if (test__start_subtest("socket_not_ours"))
		subtest_socket_not_ours();
	if (test__start_subtest("pidfile"))
		subtest_pidfile();
	if (test__start_subtest("reattach"))
		subtest_reattach();
	fx_end();
}
