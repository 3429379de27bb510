// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The collector when things go wrong, end to end on a veth pair: the
 * output disk fills up, the collector is killed and started again, a
 * rotation must be durable, and the output directory is not to be
 * trusted.  In every case each packet must end up in exactly one record
 * and no file outside the collector's own may be touched.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <glob.h>
#include <grp.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "clock.h"
#include "netns.h"
#include "test.h"
#include "test_collect.h"

/* The contents of a file, NUL-terminated (free it); NULL if unreadable. */
static char *slurp_file(const char *path)
{
	char *buf = NULL;
	long len;
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (len = ftell(f)) >= 0 &&
	    !fseek(f, 0, SEEK_SET)) {
		buf = calloc(1, len + 1);
		if (buf && fread(buf, 1, len, f) != (size_t)len) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* Waits up to ms for needle to show up in the file at path. */
static bool wait_for_text(const char *path, const char *needle, int ms)
{
	__u64 end = mono_now_ms() + ms;
	bool found = false;
	char *s;

	do {
		s = slurp_file(path);
		found = s && strstr(s, needle);
		free(s);
		if (!found)
			usleep(20000);
	} while (!found && mono_now_ms() < end);
	return found;
}

/* Lines of path, and how many of them are not JSON (bad). */
static int count_lines(const char *path, int *bad)
{
	char line[8192];
	int n = 0;
	FILE *f = fopen(path, "r");

	*bad = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		json_t *o = json_loads(line, 0, NULL);

		n++;
		*bad += !o;
		json_decref(o);
	}
	fclose(f);
	return n;
}

/* The "accounting" object of "flowbpf -j stats IFACE"; *root to free. */
static json_t *stats_accounting(const char *ifname, json_t **root)
{
	char *out = NULL;

	*root = NULL;
	if (!run(&out, NULL, "%s -j stats %s", flowbpf_bin(), ifname))
		*root = json_loads(out, 0, NULL);
	free(out);
	return json_object_get(
		json_array_get(json_object_get(*root, "interfaces"), 0),
		"accounting");
}

static long long acct_int(json_t *a, const char *key)
{
	return json_integer_value(json_object_get(a, key));
}

/* Sends count datagrams from fd, a socket of its own (one flow). */
static int send_udp(int fd, const char *dst, int count)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
	char payload[32] = { 0 };
	int i, sent = 0;

	inet_pton(AF_INET, dst, &a.sin_addr);
	for (i = 0; i < count; i++) {
		sent += sendto(fd, payload, sizeof(payload), 0, (void *)&a,
			       sizeof(a)) == sizeof(payload);
		usleep(2000);
	}
	return sent;
}

static int local_port(int fd)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);

	if (getsockname(fd, (void *)&me, &len))
		return -1;
	return ntohs(me.sin_port);
}

/* A line that leaves about 100 bytes of its tmpfs page free, so that the
 * first record to come fits only in part. */
static int write_filler(const char *path)
{
	char line[4096 - 100];
	FILE *f = fopen(path, "w");
	int err;

	if (!f)
		return -1;
	memset(line, 'x', sizeof(line));
	memcpy(line, "{\"filler\":\"", 11);
	memcpy(line + sizeof(line) - 3, "\"}\n", 3);
	err = fwrite(line, sizeof(line), 1, f) != 1;
	return fclose(f) || err ? -1 : 0;
}

/* A collector writing to a 64k tmpfs that a test fills up. */
struct full_disk {
	char dir[40], out[128], log[128];
	struct test_net n;
	bool mounted;
	pid_t col;
};

/* The tmpfs (with a filler line in the output if filler) and flowbpf
 * attached; no collector yet.  full_disk_cleanup() undoes it, whatever
 * the step that failed. */
static bool full_disk_setup(struct full_disk *d, const char *tag, bool filler)
{
	memset(d, 0, sizeof(*d));
	d->col = -1;
	snprintf(d->dir, sizeof(d->dir), "/tmp/flowbpf-%s-XXXXXX", tag);
	if (!ASSERT_OK_PTR(mkdtemp(d->dir), "mkdtemp"))
		return false;
	snprintf(d->out, sizeof(d->out), "%s/flows.jsonl", d->dir);
	snprintf(d->log, sizeof(d->log), "/tmp/flowbpf-%s-%d.log", tag,
		 getpid());
	if (!ASSERT_OK(run(NULL, NULL, "mount -t tmpfs -o size=64k fbfull %s",
			   d->dir),
		       "mount a 64k tmpfs"))
		return false;
	d->mounted = true;
	if (filler && !ASSERT_OK(write_filler(d->out), "filler line"))
		return false;
	if (!ASSERT_OK(net_setup(&d->n), "net_setup"))
		return false;
	return ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
			     d->n.host_if),
			 "attach");
}

/* Flows go idle fast, so that their records are due while the disk is
 * full. */
static void full_disk_collect(struct full_disk *d)
{
	d->col = spawn(
		"exec %s collect %s --interval 50ms --idle 300ms -o %s 2>%s",
		flowbpf_bin(), d->n.host_if, d->out, d->log);
}

static void full_disk_cleanup(struct full_disk *d)
{
	if (d->col > 0)
		stop(d->col, 2000);
	if (env_verbose)
		run(NULL, NULL, "cat %s >&2", d->log);
	net_cleanup(&d->n);
	if (d->mounted)
		run(NULL, NULL, "umount %s", d->dir);
	rmdir(d->dir);
	if (d->log[0])
		unlink(d->log);
}

/* The failure is logged, and the state is saved at the end of the sweep
 * that logged it, so "stats" shows it soon after. */
static bool full_disk_failing(struct full_disk *d)
{
	json_t *root = NULL, *a;
	int i;

	if (!ASSERT_TRUE(wait_for_text(d->log, "cannot write records to", 4000),
			 "write error logged"))
		return false;
	ASSERT_TRUE(wait_for_text(d->log, "wait to be written", 1000),
		    "records said to wait");
	for (i = 0; i < 50; i++) {
		a = stats_accounting(d->n.host_if, &root);
		if (acct_int(a, "write_errors") >= 1)
			break;
		json_decref(root);
		root = NULL;
		usleep(20000);
	}
	ASSERT_GE(acct_int(a, "write_errors"), 1, "stats: write errors");
	ASSERT_GE(acct_int(a, "records_pending"), 2, "stats: records waiting");
	json_decref(root);
	return true;
}

/* A flow that goes idle while records wait stays in the map, counting. */
static void full_disk_idle_flow(struct full_disk *d, int fd)
{
	struct test_net *n = &d->n;
	struct flowbpf_flow f;
	struct flowbpf_key k;
	int sport;

	ASSERT_EQ(send_udp(fd, n->peer_ip, 5), 5, "datagrams sent");
	sport = local_port(fd);
	key4(&k, FLOWBPF_DIR_EGRESS, 17, n->host_ip, sport, n->peer_ip, 9);
	usleep(600000);
	if (ASSERT_OK(pinned_flow(n->host_if, &k, &f),
		      "idle flow kept in the map while records wait"))
		ASSERT_EQ(f.packets, 5, "with its packets");
}

/* Once there is space again, every packet is in one record and no line
 * is cut. */
static void full_disk_records(struct full_disk *d)
{
	struct test_net *n = &d->n;
	int nr, lines, bad, reasons[5] = {};
	struct rec *r = NULL, sum;
	json_t *root = NULL, *a;

	nr = read_records(d->out, &r);
	lines = count_lines(d->out, &bad);
	ASSERT_EQ(bad, 0, "no line cut short");
	ASSERT_EQ(lines, nr, "every line a record");
	flow_sum(r, nr, "out", 1, n->host_ip, n->peer_ip, 8 << 8, &sum,
		 reasons);
	ASSERT_EQ(sum.packets, 12, "echo requests: each in one record");
	ASSERT_EQ(sum.bytes, 12 * 84, "echo request bytes");
	flow_sum(r, nr, "in", 1, n->peer_ip, n->host_ip, 0, &sum, reasons);
	ASSERT_EQ(sum.packets, 12, "echo replies: each in one record");
	flow_sum(r, nr, "out", 17, n->host_ip, n->peer_ip, 9, &sum, reasons);
	ASSERT_EQ(sum.packets, 5, "datagrams: each in one record");
	a = stats_accounting(n->host_if, &root);
	/* The filler line is no record of the collector's. */
	ASSERT_EQ(acct_int(a, "records"), nr - 1, "records counted as written");
	json_decref(root);
	free(r);
}

/*
 * The output disk full for 3 s: the records of a ping whose flows go idle
 * meanwhile wait in the collector, a flow idle after the failure stays in
 * the kernel's map, and once there is space again every packet is in one
 * record, no line is cut, the failure is logged and "stats" shows it.
 */
static void subtest_full_disk(void)
{
	struct full_disk d;
	__u64 t_full;
	int fd = -1;

	if (!full_disk_setup(&d, "full", true))
		goto out;
	full_disk_collect(&d);
	usleep(300000);
	/* Every page taken: the next record fits only in part. */
	run(NULL, NULL, "dd if=/dev/zero of=%s/fill bs=4k", d.dir);
	t_full = mono_now_ms();
	ASSERT_OK(run(NULL, NULL, "ping -c 12 -i 0.05 -W 1 %s", d.n.peer_ip),
		  "ping");
	/* Its flows go idle, are removed, and their records cannot go. */
	if (!full_disk_failing(&d))
		goto out;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	full_disk_idle_flow(&d, fd);
	if (mono_now_ms() < t_full + 3000)
		usleep((t_full + 3000 - mono_now_ms()) * 1000);
	run(NULL, NULL, "rm -f %s/fill", d.dir);
	ASSERT_TRUE(wait_for_text(d.out, "\"dport\":9,", 3000),
		    "the kept flow reported once there is space");
	ASSERT_TRUE(wait_for_text(d.log, "the records that waited are written",
				  1000),
		    "recovery logged");
	ASSERT_EQ(stop(d.col, 5000), 0, "collector exits 0");
	d.col = -1;
	full_disk_records(&d);
out:
	if (fd >= 0)
		close(fd);
	full_disk_cleanup(&d);
}

static bool has_record(const char *path, const char *dir, int proto,
		       const char *src, const char *dst, int dport, int reason)
{
	int reasons[5] = {}, nr;
	struct rec *r = NULL, sum;

	nr = read_records(path, &r);
	if (nr > 0)
		flow_sum(r, nr, dir, proto, src, dst, dport, &sum, reasons);
	free(r);
	return reasons[reason] > 0;
}

/*
 * kill -9 after an active record, and a new collector: what the first
 * reported of the ping is not reported again, so the records add up to
 * the packets sent, no more.
 */
static void subtest_restart(void)
{
	char dir[] = "/tmp/flowbpf-restart-XXXXXX", out[128], cmd[512];
	int nr, reasons[5] = {}, i;
	struct rec *r = NULL, sum;
	struct test_net n = {};
	pid_t col = -1, ping = -1;
	struct flowbpf_flow f;
	struct flowbpf_key k;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	snprintf(out, sizeof(out), "%s/flows.jsonl", dir);
	if (!ASSERT_OK(net_setup(&n), "net_setup"))
		goto out;
	if (!ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
			   n.host_if),
		       "attach"))
		goto out;
	snprintf(
		cmd, sizeof(cmd),
		"exec %s collect %s --interval 50ms --idle 400ms --active 250ms -o %s",
		flowbpf_bin(), n.host_if, out);
	col = spawn("%s", cmd);
	ping = spawn("exec ping -c 30 -i 0.03 -W 1 %s", n.peer_ip);
	for (i = 0; i < 150; i++) {
		if (has_record(out, "out", 1, n.host_ip, n.peer_ip, 8 << 8, 1))
			break;
		usleep(20000);
	}
	if (!ASSERT_LE(i, 149, "an active record of the ping"))
		goto out;
	/* The state is saved right after the records of the sweep. */
	usleep(50000);
	kill(col, SIGKILL);
	ns_wait(col, 2000);
	col = spawn("%s", cmd);
	ASSERT_EQ(ns_wait(ping, 10000), 0, "ping");
	ping = -1;
	/* The rest is reported by the new collector, by the time the flow
	 * leaves the map idle. */
	key_icmp4(&k, FLOWBPF_DIR_EGRESS, n.host_ip, n.peer_ip, 8, 0);
	for (i = 0; i < 150; i++) {
		if (pinned_flow(n.host_if, &k, &f) == -ENOENT)
			break;
		usleep(20000);
	}
	ASSERT_LE(i, 149, "the ping's flow ends idle");
	ASSERT_EQ(stop(col, 5000), 0, "second collector exits 0");
	col = -1;
	nr = read_records(out, &r);
	flow_sum(r, nr, "out", 1, n.host_ip, n.peer_ip, 8 << 8, &sum, reasons);
	ASSERT_GE(reasons[1], 1, "active records before the kill");
	ASSERT_EQ(sum.packets, 30, "echo requests: each in one record");
	ASSERT_EQ(sum.bytes, 30 * 84, "echo request bytes");
	memset(reasons, 0, sizeof(reasons));
	flow_sum(r, nr, "in", 1, n.peer_ip, n.host_ip, 0, &sum, reasons);
	ASSERT_EQ(sum.packets, 30, "echo replies: each in one record");
out:
	if (col > 0)
		stop(col, 2000);
	if (ping > 0)
		stop(ping, 2000);
	free(r);
	net_cleanup(&n);
	run(NULL, NULL, "rm -rf %s", dir);
}

/*
 * kill -9 while records wait for a full disk, space again, and a new
 * collector: it writes the records the first one could not.
 */
static void subtest_restart_waiting(void)
{
	int nr, reasons[5] = {}, i;
	struct rec *r = NULL, sum;
	struct full_disk d;

	if (!full_disk_setup(&d, "waiting", false))
		goto out;
	full_disk_collect(&d);
	usleep(300000);
	run(NULL, NULL, "dd if=/dev/zero of=%s/fill bs=4k", d.dir);
	ASSERT_OK(run(NULL, NULL, "ping -c 5 -i 0.05 -W 1 %s", d.n.peer_ip),
		  "ping");
	if (!ASSERT_TRUE(wait_for_text(d.log, "wait to be written", 4000),
			 "records wait"))
		goto out;
	usleep(50000);
	kill(d.col, SIGKILL);
	ns_wait(d.col, 2000);
	run(NULL, NULL, "rm -f %s/fill", d.dir);
	full_disk_collect(&d);
	ASSERT_TRUE(wait_for_text(d.log, "took over from collector pid", 2000),
		    "the new collector takes over");
	for (i = 0; i < 100; i++) {
		if (has_record(d.out, "in", 1, d.n.peer_ip, d.n.host_ip, 0, 0))
			break;
		usleep(20000);
	}
	ASSERT_EQ(stop(d.col, 5000), 0, "second collector exits 0");
	d.col = -1;
	nr = read_records(d.out, &r);
	flow_sum(r, nr, "out", 1, d.n.host_ip, d.n.peer_ip, 8 << 8, &sum,
		 reasons);
	ASSERT_EQ(sum.packets, 5, "echo requests: each in one record");
	flow_sum(r, nr, "in", 1, d.n.peer_ip, d.n.host_ip, 0, &sum, reasons);
	ASSERT_EQ(sum.packets, 5, "echo replies: each in one record");
out:
	free(r);
	full_disk_cleanup(&d);
}

/*
 * A small system call tracer: runs argv under ptrace and writes one line
 * per fsync, fdatasync, unlink and rename to log, with the paths, in the
 * order the calls were made.  Runs in a process of its own (fork it);
 * writes the traced pid to pid_fd once it runs, and returns the traced
 * program's exit status.
 */
static void trace_path(pid_t t, __uint64_t addr, char *buf, size_t len)
{
	struct iovec local = { buf, len - 1 },
		     remote = { (void *)addr, len - 1 };
	ssize_t n = process_vm_readv(t, &local, 1, &remote, 1, 0);

	buf[n > 0 ? n : 0] = '\0';
}

static void trace_fd(pid_t t, __uint64_t fd, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/fd/%llu", t,
		 (unsigned long long)fd);
	n = readlink(link, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
}

/* One line for the calls that order a file's durability. */
static void trace_call(FILE *log, pid_t t,
		       const struct __ptrace_syscall_info *si)
{
	const __uint64_t *a = si->entry.args;
	char p1[4096], p2[4096];

	switch (si->entry.nr) {
	case SYS_fsync:
	case SYS_fdatasync:
		trace_fd(t, a[0], p1, sizeof(p1));
		fprintf(log, "fsync %s\n", p1);
		break;
#ifdef SYS_unlink
	case SYS_unlink:
		trace_path(t, a[0], p1, sizeof(p1));
		fprintf(log, "unlink %s\n", p1);
		break;
#endif
	case SYS_unlinkat:
		trace_path(t, a[1], p1, sizeof(p1));
		fprintf(log, "unlink %s\n", p1);
		break;
#ifdef SYS_rename
	case SYS_rename:
		trace_path(t, a[0], p1, sizeof(p1));
		trace_path(t, a[1], p2, sizeof(p2));
		fprintf(log, "rename %s %s\n", p1, p2);
		break;
#endif
	case SYS_renameat:
	case SYS_renameat2:
		trace_path(t, a[1], p1, sizeof(p1));
		trace_path(t, a[3], p2, sizeof(p2));
		fprintf(log, "rename %s %s\n", p1, p2);
		break;
	}
}

static int trace_run(const char *path, int pid_fd, char *const argv[])
{
	struct __ptrace_syscall_info si;
	int st, status = -1, sig;
	FILE *log = fopen(path, "w");
	pid_t pid, t;

	if (!log)
		return -1;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (!env_verbose)
			dup2(null, 2);
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGSTOP);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st))
		return -1;
	ptrace(PTRACE_SETOPTIONS, pid, NULL,
	       (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE |
			      PTRACE_O_EXITKILL));
	if (write(pid_fd, &pid, sizeof(pid)) != sizeof(pid))
		return -1;
	ptrace(PTRACE_SYSCALL, pid, NULL, NULL);
	while ((t = waitpid(-1, &st, __WALL)) > 0) {
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if (t == pid)
				status = WIFEXITED(st) ? WEXITSTATUS(st)
						       : 128 + WTERMSIG(st);
			continue;
		}
		sig = WSTOPSIG(st);
		if (sig == (SIGTRAP | 0x80)) {
			if (ptrace(PTRACE_GET_SYSCALL_INFO, t,
				   (void *)sizeof(si), &si) > 0 &&
			    si.op == PTRACE_SYSCALL_INFO_ENTRY)
				trace_call(log, t, &si);
			sig = 0;
		} else if (sig == SIGSTOP || sig == SIGTRAP) {
			sig = 0; /* a new thread, the exec, an event */
		}
		ptrace(PTRACE_SYSCALL, t, NULL, (void *)(long)sig);
	}
	fclose(log);
	return status;
}

/* argv under trace_run in a child; *traced gets the traced pid. */
static pid_t trace_start(const char *log, char *const argv[], pid_t *traced)
{
	int p[2];
	pid_t pid;

	*traced = -1;
	if (pipe(p))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		_exit(trace_run(log, p[1], argv) & 0xff);
	}
	close(p[1]);
	if (pid > 0 && read(p[0], traced, sizeof(*traced)) != sizeof(*traced))
		*traced = -1;
	close(p[0]);
	return pid;
}

/* The first line at or after from that starts with what; -1 if none. */
static int find_line(char **lines, int n, int from, const char *what)
{
	for (; from < n; from++)
		if (!strcmp(lines[from], what))
			return from;
	return -1;
}

/*
 * One rotation in the trace, the unlink of the uncompressed file at line
 * u: its .gz reached the disk before (the file that was renamed to it was
 * synced, then the directory), or the check fails.
 */
static void check_rotation(char **lines, int n, int u, const char *dir)
{
	const char *name = lines[u] + strlen("unlink ");
	char want[4200], tmp[4200];
	int r = -1, i, f = -1, d = -1;

	/* "rename TMP NAME.gz" */
	snprintf(want, sizeof(want), " %s.gz", name);
	for (i = 0; i < u && r < 0; i++)
		if (!strncmp(lines[i], "rename ", 7) &&
		    strlen(lines[i]) > strlen(want) &&
		    !strcmp(lines[i] + strlen(lines[i]) - strlen(want), want))
			r = i;
	if (!ASSERT_GE(r, 0, "the .gz renamed into place before the unlink"))
		return;
	snprintf(tmp, sizeof(tmp), "fsync %.*s",
		 (int)(strlen(lines[r]) - strlen(want) - 7), lines[r] + 7);
	for (i = 0; i < r; i++)
		if (!strcmp(lines[i], tmp))
			f = i;
	ASSERT_GE(f, 0, "the .gz synced before it is renamed into place");
	snprintf(want, sizeof(want), "fsync %s", dir);
	d = find_line(lines, u, r, want);
	ASSERT_GE(d, 0, "then the directory synced, before the unlink");
}

/*
 * Rotation with compression: before the uncompressed file is removed, the
 * .gz must be on disk, with its name.  The collector runs under a tracer
 * of our own that logs its fsync, rename and unlink calls in order.
 */
static void subtest_rotate_sync(void)
{
	char dir[] = "/tmp/flowbpf-rotsync-XXXXXX", out[128], tlog[128];
	char *argv[] = { (char *)flowbpf_bin(),
			 "collect",
			 NULL,
			 "--interval",
			 "50ms",
			 "--idle",
			 "200ms",
			 "--rotate-size",
			 "1",
			 "-o",
			 out,
			 NULL };
	int i, nl = 0, rotations = 0;
	char *text = NULL, *lines[4096], *save, *l;
	struct test_net n = {};
	pid_t tracer = -1, col;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	snprintf(out, sizeof(out), "%s/flows.jsonl", dir);
	snprintf(tlog, sizeof(tlog), "%s.trace", dir);
	if (!ASSERT_OK(net_setup(&n), "net_setup") ||
	    !ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
			   n.host_if),
		       "attach"))
		goto out;
	argv[2] = n.host_if;
	tracer = trace_start(tlog, argv, &col);
	if (!ASSERT_GE(col, 1, "collector under trace"))
		goto out;
	ASSERT_OK(run(NULL, NULL, "ping -c 3 -i 0.1 -W 1 %s", n.peer_ip),
		  "ping");
	usleep(600000);
	kill(col, SIGTERM);
	ASSERT_EQ(ns_wait(tracer, 5000), 0, "collector exits 0");
	tracer = -1;
	text = slurp_file(tlog);
	if (!ASSERT_OK_PTR(text, "trace"))
		goto out;
	for (l = strtok_r(text, "\n", &save); l && nl < 4096;
	     l = strtok_r(NULL, "\n", &save))
		lines[nl++] = l;
	for (i = 0; i < nl; i++) {
		const char *p = lines[i] + strlen("unlink ");

		/* The uncompressed rotated files: FILE.STAMP[-N] */
		if (strncmp(lines[i], "unlink ", 7) ||
		    strncmp(p, out, strlen(out)) || p[strlen(out)] != '.' ||
		    strstr(p + strlen(out), ".gz"))
			continue;
		rotations++;
		check_rotation(lines, nl, i, dir);
	}
	ASSERT_GE(rotations, 2, "files rotated and compressed");
out:
	if (tracer > 0) {
		kill(col, SIGKILL);
		ns_wait(tracer, 2000);
	}
	free(text);
	net_cleanup(&n);
	if (!env_verbose)
		unlink(tlog);
	run(NULL, NULL, "rm -rf %s", dir);
}

/* As an unprivileged user (nobody): a symbolic link at link to target. */
static int symlink_as_nobody(const char *target, const char *link)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(2);
		_exit(symlink(target, link) ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Links for the rotation's temporary files of the next seconds, named
 * as an unsafe collector would name them: PATH.STAMP.gz.tmp. */
static int plant_tmp_links(const char *path, const char *target, int secs)
{
	char stamp[32], link[256];
	time_t now = time(NULL);
	int i, err = 0;
	struct tm tm;

	for (i = 0; i < secs && !err; i++) {
		time_t t = now + i;

		gmtime_r(&t, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(link, sizeof(link), "%s.%s.gz.tmp", path, stamp);
		err = symlink_as_nobody(target, link);
	}
	return err;
}

static unsigned int file_mode(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? 0 : st.st_mode;
}

/*
 * The output directory belongs to an unprivileged user, who links the
 * output file, and then the rotation's temporary files, to a file of
 * root's: the collector, as root, writes neither through a link, and
 * creates its files 0640.
 */
static void subtest_output_files(void)
{
	char dir[] = "/tmp/flowbpf-outdir-XXXXXX", out[128], pat[160];
	char victim[] = "/tmp/flowbpf-victim-XXXXXX", *err = NULL;
	const char *secret = "root's own\n";
	struct test_net n = {};
	pid_t col = -1;
	char *text;
	size_t i;
	glob_t g;
	int fd, rc;

	fd = mkstemp(victim);
	if (!ASSERT_GE(fd, 0, "mkstemp") ||
	    !ASSERT_EQ(write(fd, secret, strlen(secret)), strlen(secret),
		       "root's file")) {
		victim[0] = '\0';
		goto out;
	}
	close(fd);
	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		goto out;
	snprintf(out, sizeof(out), "%s/flows.jsonl", dir);
	if (!ASSERT_OK(chmod(dir, 0755), "chmod") ||
	    !ASSERT_OK(chown(dir, 65534, 65534), "directory of nobody's") ||
	    !ASSERT_OK(symlink_as_nobody(victim, out), "-o linked to it") ||
	    !ASSERT_OK(net_setup(&n), "net_setup") ||
	    !ASSERT_OK(run(NULL, NULL, "%s attach %s", flowbpf_bin(),
			   n.host_if),
		       "attach"))
		goto out;
	/* Flows in the map, so that a collector that starts writes. */
	ASSERT_OK(run(NULL, NULL, "ping -c 2 -i 0.1 -W 1 %s", n.peer_ip),
		  "ping");
	rc = run(NULL, &err, "timeout -s TERM 2 %s collect %s -o %s",
		 flowbpf_bin(), n.host_if, out);
	ASSERT_EQ(rc, 1, "the collector refuses the link");
	ASSERT_HAS(err, "is a symbolic link", "and says why");
	unlink(out);

	if (!ASSERT_OK(plant_tmp_links(out, victim, 15), "links planted"))
		goto out;
	col = spawn(
		"umask 022; exec %s collect %s --interval 50ms --idle 200ms --rotate-size 1 -o %s",
		flowbpf_bin(), n.host_if, out);
	ASSERT_OK(run(NULL, NULL, "ping -c 2 -i 0.1 -W 1 %s", n.peer_ip),
		  "ping");
	snprintf(pat, sizeof(pat), "%s/flows.jsonl.*Z.gz", dir);
	for (i = 0; i < 100; i++) {
		if (!glob(pat, 0, NULL, &g)) {
			globfree(&g);
			break;
		}
		usleep(20000);
	}
	ASSERT_EQ(stop(col, 5000), 0, "collector exits 0");
	col = -1;
	ASSERT_EQ(file_mode(out), S_IFREG | 0640, "records file 0640");
	if (ASSERT_OK(glob(pat, 0, NULL, &g), "rotated and compressed")) {
		for (i = 0; i < g.gl_pathc; i++)
			ASSERT_EQ(file_mode(g.gl_pathv[i]), S_IFREG | 0640,
				  "compressed file: regular, 0640");
		globfree(&g);
	}
	text = slurp_file(victim);
	ASSERT_STREQ(text, secret, "root's file untouched");
	free(text);
out:
	if (col > 0)
		stop(col, 2000);
	free(err);
	net_cleanup(&n);
	run(NULL, NULL, "rm -rf %s", dir);
	if (victim[0])
		unlink(victim);
}

void test_collect_faults(void)
{
	if (test__start_subtest("full_disk"))
		subtest_full_disk();
	if (test__start_subtest("restart"))
		subtest_restart();
	if (test__start_subtest("restart_waiting"))
		subtest_restart_waiting();
	if (test__start_subtest("rotate_sync"))
		subtest_rotate_sync();
	if (test__start_subtest("output_files"))
		subtest_output_files();
}
