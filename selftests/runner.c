// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test runner: runs every test_<name>() (or those named with -t), prints a
 * line per subtest and ends with "N passed, N failed".  Exit status is 1
 * when anything failed.  Each test runs in a child process of its own
 * with a deadline (FLOWBPF_TEST_TIMEOUT seconds, default 300), so that a
 * crash or a hang fails that test and the run goes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fnmatch.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <bpf/libbpf.h>
#include "clock.h"
#include "test.h"
#include "log.h"

#define DEFINE_TEST(name) void test_##name(void);
#include "selftests/tests.inc"
#undef DEFINE_TEST

struct test_def {
	const char *name;
	void (*fn)(void);
};

#define DEFINE_TEST(name) { #name, test_##name },
static const struct test_def tests[] = {
#include "selftests/tests.inc"
};
#undef DEFINE_TEST

int env_verbose;

static struct {
	const char *test; /* running test */
	char subtest[128]; /* running subtest, "" if none */
	bool in_subtest, failed, skipped;
	bool any_subtest;
	char skip_why[256];
	int passed, failed_n, skipped_n;
	char **filters;
	int nfilters;
	const char **excludes; /* -x: test files left out */
	int nexcludes;
	int report_fd; /* in a test's child: one byte per unit to the runner */
} st;

#define DEFAULT_TIMEOUT_S 300

/* A filter is "test" or "test/subtest", each part a glob. */
static bool selected(const char *test, const char *sub)
{
	int i;

	for (i = 0; i < st.nexcludes; i++)
		if (!fnmatch(st.excludes[i], test, 0))
			return false;
	if (!st.nfilters)
		return true;
	for (i = 0; i < st.nfilters; i++) {
		char buf[256], *slash;

		snprintf(buf, sizeof(buf), "%s", st.filters[i]);
		slash = strchr(buf, '/');
		if (slash)
			*slash++ = '\0';
		if (fnmatch(buf, test, 0))
			continue;
		if (!sub || !slash || !fnmatch(slash, sub, 0))
			return true;
	}
	return false;
}

static void end_unit(void)
{
	const char *name = st.in_subtest ? st.subtest : NULL;

	if (st.skipped && !st.failed) {
		st.skipped_n++;
		printf("%s%s%s: SKIP (%s)\n", st.test, name ? "/" : "",
		       name ? name : "", st.skip_why);
	} else if (st.failed) {
		st.failed_n++;
		printf("%s%s%s: FAIL\n", st.test, name ? "/" : "",
		       name ? name : "");
	} else {
		st.passed++;
		printf("%s%s%s: OK\n", st.test, name ? "/" : "",
		       name ? name : "");
	}
	fflush(stdout);
	if (st.report_fd > 0) {
		char r = st.skipped && !st.failed ? 'S' : st.failed ? 'F' : 'P';

		if (write(st.report_fd, &r, 1) != 1)
			_exit(3);
	}
	st.failed = st.skipped = false;
	st.in_subtest = false;
}

bool test__start_subtest(const char *name)
{
	if (st.in_subtest)
		end_unit();
	if (!selected(st.test, name))
		return false;
	st.any_subtest = true;
	st.in_subtest = true;
	snprintf(st.subtest, sizeof(st.subtest), "%s", name);
	return true;
}

void test__fail(void)
{
	st.failed = true;
}

void test__skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st.skip_why, sizeof(st.skip_why), fmt, ap);
	va_end(ap);
	st.skipped = true;
}

void test__log(const char *fmt, ...)
{
	va_list ap;

	if (!env_verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"Usage: %s [-v] [-l] [-t TEST[/SUBTEST]]... [-x TEST]...\n"
		"  -t  run only matching tests (globs; repeatable)\n"
		"  -x  leave out matching tests (globs; repeatable)\n"
		"  -l  list tests\n"
		"  -v  verbose (passing asserts, libbpf output)\n",
		prog);
}

static void run_in_child(const struct test_def *t, int fd)
{
	/* Its own process group, so that a deadline kills what it started. */
	setpgid(0, 0);
	st.report_fd = fd;
	st.test = t->name;
	st.any_subtest = false;
	st.failed = st.skipped = false;
	t->fn();
	if (st.in_subtest || !st.any_subtest)
		end_unit();
	fflush(stdout);
	exit(0);
}

static void tally(int fd)
{
	char buf[256];
	ssize_t n, i;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++) {
			st.passed += buf[i] == 'P';
			st.failed_n += buf[i] == 'F';
			st.skipped_n += buf[i] == 'S';
		}
}

/*
 * Counts the child's unit results until it exits or time is up (false).
 * It waits for the child, not for the end of the pipe: a process the
 * test left behind may hold the pipe open.
 */
static bool collect(int fd, pid_t pid, int timeout_s, int *status)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	__u64 t0 = mono_now_ms();

	for (;;) {
		poll(&pfd, 1, 100);
		tally(fd);
		if (waitpid(pid, status, WNOHANG) == pid) {
			tally(fd);
			return true;
		}
		if (mono_now_ms() - t0 >= timeout_s * 1000ULL)
			return false;
	}
}

static void run_isolated(const struct test_def *t, int timeout_s)
{
	int p[2], status = 0;
	bool in_time;
	pid_t pid;

	fflush(stdout);
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) || (pid = fork()) < 0) {
		printf("%s: FAIL (cannot start: %s)\n", t->name, strerror(errno));
		st.failed_n++;
		return;
	}
	if (!pid) {
		close(p[0]);
		run_in_child(t, p[1]);
	}
	close(p[1]);
	in_time = collect(p[0], pid, timeout_s, &status);
	close(p[0]);
	if (!in_time) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	if (!in_time)
		printf("%s: FAIL (no end after %d s: killed)\n", t->name,
		       timeout_s);
	else if (WIFSIGNALED(status))
		printf("%s: FAIL (killed by signal %d, %s)\n", t->name,
		       WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status))
		printf("%s: FAIL (exit %d)\n", t->name, WEXITSTATUS(status));
	else
		return;
	st.failed_n++;
}

int main(int argc, char **argv)
{
	int opt, timeout_s;
	size_t i;

	while ((opt = getopt(argc, argv, "vlt:x:h")) != -1) {
		switch (opt) {
		case 'v':
			env_verbose = 1;
			break;
		case 'l':
			for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
				printf("%s\n", tests[i].name);
			return 0;
		case 't':
			st.filters = realloc(
				st.filters, (st.nfilters + 1) * sizeof(char *));
			if (!st.filters)
				return 2;
			st.filters[st.nfilters++] = optarg;
			break;
		case 'x':
			st.excludes = realloc(st.excludes, (st.nexcludes + 1) *
								   sizeof(char *));
			if (!st.excludes)
				return 2;
			st.excludes[st.nexcludes++] = optarg;
			break;
		default:
			usage(argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	/* An emulated CPU (make vmtest under TCG) is several times slower. */
	timeout_s = getenv("FLOWBPF_TEST_TIMEOUT")
			    ? atoi(getenv("FLOWBPF_TEST_TIMEOUT"))
			    : DEFAULT_TIMEOUT_S * (getenv("VMTEST") ? 2 : 1);
	if (timeout_s < 1)
		timeout_s = DEFAULT_TIMEOUT_S;
	log_setup(env_verbose ? LOG_DEBUG : LOG_WARN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (selected(tests[i].name, NULL))
			run_isolated(&tests[i], timeout_s);
	if (st.skipped_n)
		printf("%d skipped\n", st.skipped_n);
	printf("%d passed, %d failed\n", st.passed, st.failed_n);
	return st.failed_n ? 1 : 0;
}
