/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small selftest framework in the style of the kernel's
 * tools/testing/selftests/bpf: one file per feature defines
 * "void test_<feature>(void)", subtests are opened with
 * test__start_subtest(), and ASSERT_* macros record failures (they return
 * the condition so a test can bail out: if (!ASSERT_OK(...)) goto out;).
 */
#ifndef FLOWBPF_TEST_H
#define FLOWBPF_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

extern int env_verbose;

/* Returns false when the subtest is filtered out and must not run. */
bool test__start_subtest(const char *name);
/* Marks the current (sub)test as skipped, with why; it counts as neither. */
void test__skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void test__fail(void);
void test__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define _CHECK(cond, name, fmt, ...)                                           \
	({                                                                     \
		bool ___ok = !(cond);                                          \
		if (!___ok) {                                                  \
			test__fail();                                          \
			fprintf(stderr, "%s:%d: FAIL %s: " fmt "\n", __FILE__, \
				__LINE__, name, ##__VA_ARGS__);                \
		} else if (env_verbose) {                                      \
			fprintf(stderr, "  ok %s\n", name);                    \
		}                                                              \
		___ok;                                                         \
	})

#define ASSERT_TRUE(a, name) _CHECK(!(a), (name), "expected true")
#define ASSERT_FALSE(a, name) _CHECK((a), (name), "expected false")
#define ASSERT_EQ(a, b, name)                                                 \
	({                                                                    \
		long long ___a = (long long)(a), ___b = (long long)(b);       \
		_CHECK(___a != ___b, (name), "got %lld, expected %lld", ___a, \
		       ___b);                                                 \
	})
#define ASSERT_NEQ(a, b, name)                                              \
	({                                                                  \
		long long ___a = (long long)(a), ___b = (long long)(b);     \
		_CHECK(___a == ___b, (name), "got %lld, expected not that", \
		       ___a);                                               \
	})
#define ASSERT_GE(a, b, name)                                             \
	({                                                                \
		long long ___a = (long long)(a), ___b = (long long)(b);   \
		_CHECK(___a < ___b, (name), "got %lld, expected >= %lld", \
		       ___a, ___b);                                       \
	})
#define ASSERT_LE(a, b, name)                                             \
	({                                                                \
		long long ___a = (long long)(a), ___b = (long long)(b);   \
		_CHECK(___a > ___b, (name), "got %lld, expected <= %lld", \
		       ___a, ___b);                                       \
	})
#define ASSERT_OK(res, name)                                                  \
	({                                                                    \
		long long ___r = (long long)(res);                            \
		_CHECK(___r != 0, (name), "unexpected error %lld (%s)", ___r, \
		       strerror(___r < 0 ? -___r : errno));                   \
	})
#define ASSERT_ERR(res, name)                                    \
	({                                                       \
		long long ___r = (long long)(res);               \
		_CHECK(___r == 0, (name), "unexpected success"); \
	})
#define ASSERT_OK_PTR(p, name) \
	_CHECK(!(p), (name), "unexpected NULL (%s)", strerror(errno))
#define ASSERT_STREQ(a, b, name)                                              \
	({                                                                    \
		const char *___a = (a), *___b = (b);                          \
		_CHECK(!___a || !___b || strcmp(___a, ___b), (name),          \
		       "got \"%s\", expected \"%s\"", ___a ? ___a : "(null)", \
		       ___b ? ___b : "(null)");                               \
	})
#define ASSERT_HAS(hay, needle, name)                        \
	({                                                   \
		const char *___h = (hay), *___n = (needle);  \
		_CHECK(!___h || !strstr(___h, ___n), (name), \
		       "\"%s\" not found in \"%s\"", ___n,   \
		       ___h ? ___h : "(null)");              \
	})

#endif
