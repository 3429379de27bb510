// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Command-line values: an interface name is never cut.  What is refused
 * is a usage error (exit 2) that says why, given before anything is
 * opened, so no interface needs to exist.
 */
#include <stdlib.h>
#include "netns.h"
#include "test.h"

/* No interface of this name exists: whatever gets past the parsing of
 * the arguments fails later, with another exit status and message. */
#define NO_IFACE "fbt-none0"

/* The command refuses the arguments as a usage error with msg. */
static void check_usage(const char *args, const char *msg)
{
	char *err = NULL;
	int rc;

	rc = run(NULL, &err, "%s %s", flowbpf_bin(), args);
	ASSERT_EQ(rc, 2, args);
	ASSERT_HAS(err, msg, args);
	free(err);
}

/* status and stats looked up a name cut to 15 characters. */
static void subtest_ifname_too_long(void)
{
	char *err = NULL;
	int rc;

	check_usage(
		"status abcdefghijklmnop",
		"interface name 'abcdefghijklmnop' is longer than 15 characters");
	check_usage(
		"stats abcdefghijklmnop",
		"interface name 'abcdefghijklmnop' is longer than 15 characters");
	/* 15 characters is a name: it is looked for, and not found. */
	rc = run(NULL, &err, "%s status abcdefghijklmno", flowbpf_bin());
	ASSERT_EQ(rc, 1, "15 characters");
	ASSERT_HAS(err, "abcdefghijklmno: not attached", "15 characters");
	free(err);
}

void test_cli_args(void)
{
	if (test__start_subtest("ifname_too_long"))
		subtest_ifname_too_long();
}
