// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test runner: runs every test_<name>() (or those named with -t), prints a
 * line per subtest and ends with "N passed, N failed".  Exit status is 1
 * when anything failed.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include <fnmatch.h>
#include <sys/resource.h>
#include <bpf/libbpf.h>
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
} st;

/* A filter is "test" or "test/subtest", each part a glob. */
static bool selected(const char *test, const char *sub)
{
	int i;

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
		"Usage: %s [-v] [-l] [-t TEST[/SUBTEST]]...\n"
		"  -t  run only matching tests (globs; repeatable)\n"
		"  -l  list tests\n"
		"  -v  verbose (passing asserts, libbpf output)\n",
		prog);
}

int main(int argc, char **argv)
{
	size_t i;
	int opt;

	while ((opt = getopt(argc, argv, "vlt:h")) != -1) {
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
		default:
			usage(argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	log_setup(env_verbose ? LOG_DEBUG : LOG_WARN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (!selected(tests[i].name, NULL))
			continue;
		st.test = tests[i].name;
		st.any_subtest = false;
		st.failed = st.skipped = false;
		tests[i].fn();
		if (st.in_subtest || !st.any_subtest)
			end_unit();
	}
	if (st.skipped_n)
		printf("%d skipped\n", st.skipped_n);
	printf("%d passed, %d failed\n", st.passed, st.failed_n);
	return st.failed_n ? 1 : 0;
}
