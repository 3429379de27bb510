// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Command-line values: a FLOW names each of its parts at most once in at
 * most FLOW_WORDS_MAX words, and an interface name is never cut.  What is
 * refused is a usage error (exit 2) that says why, given before anything
 * is opened, so no interface needs to exist.
 */
#include <stdlib.h>
#include "flowfmt.h"
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

/*
 * A valid flow of FLOW_WORDS_MAX words ("->" in the middle), then "vlan 7"
 * when extra: the words past the limit would make a flow of their own.
 */
static int flow_words(bool extra, char **argv, char *one, size_t len)
{
	static char *head[] = { "in", "udp", "198.18.0.1:1" };
	int i, n = FLOW_WORDS_MAX, pos = 0;

	for (i = 0; i < n; i++)
		argv[i] = i < 3 ? head[i] : "->";
	argv[n - 1] = "198.18.0.2:2";
	if (extra) {
		argv[n++] = "vlan";
		argv[n++] = "7";
	}
	for (i = 0; i < n; i++)
		pos += snprintf(one + pos, len - pos, "%s%s", i ? " " : "",
				argv[i]);
	return n;
}

static void subtest_flow_words(void)
{
	static const char *const twice[] = {
		"in out udp 198.18.0.1:1 198.18.0.2:2",
		"in udp proto tcp 198.18.0.1:1 198.18.0.2:2",
		"in udp 17 198.18.0.1:1 198.18.0.2:2",
		"in udp 198.18.0.1:1 198.18.0.2:2 vlan 1 vlan 2",
		"in udp 198.18.0.1:1 198.18.0.2:2 ivlan 1 ivlan 1",
		"in udp 198.18.0.1:1 198.18.0.2 dport 2 dport 3",
		"in udp 198.18.0.1:1 198.18.0.2:2 sport 1",
		"in udp sport 1 198.18.0.1:1 198.18.0.2:2",
		"in icmp 198.18.0.1 198.18.0.2 type 8 type 0",
		"in icmp 198.18.0.1 198.18.0.2 type 8 code 0 code 1",
	};
	char *argv[FLOW_WORDS_MAX + 2], one[512];
	struct flowbpf_key k;
	size_t i;
	int n;

	n = flow_words(false, argv, one, sizeof(one));
	ASSERT_OK(flow_spec_parse(n, argv, &k), "32 words");
	argv[0] = one;
	ASSERT_OK(flow_spec_parse(1, argv, &k), "32 words, quoted");
	n = flow_words(true, argv, one, sizeof(one));
	ASSERT_ERR(flow_spec_parse(n, argv, &k), "34 words");
	argv[0] = one;
	ASSERT_ERR(flow_spec_parse(1, argv, &k), "34 words, quoted");

	for (i = 0; i < sizeof(twice) / sizeof(twice[0]); i++) {
		argv[0] = (char *)twice[i];
		ASSERT_ERR(flow_spec_parse(1, argv, &k), twice[i]);
	}
	argv[0] = "in icmp 198.18.0.1 198.18.0.2 type 8 code 3 vlan 4 ivlan 5";
	ASSERT_OK(flow_spec_parse(1, argv, &k), "every part once");
}

static void subtest_cli_flow_words(void)
{
	char args[640], one[512], *argv[FLOW_WORDS_MAX + 2];

	check_usage("verdict set " NO_IFACE
		    " in udp 198.18.0.1:1 198.18.0.2:2 vlan 1 vlan 2 pass",
		    "cannot parse the flow; the VLAN id is given twice");
	check_usage("verdict clear " NO_IFACE
		    " 'in udp 198.18.0.1:1 198.18.0.2:2 sport 7'",
		    "cannot parse the flow; the source port is given twice");
	check_usage("verdict set " NO_IFACE
		    " in out udp 198.18.0.1:1 198.18.0.2:2 drop",
		    "cannot parse the flow; the direction is given twice");
	flow_words(true, argv, one, sizeof(one));
	snprintf(args, sizeof(args), "verdict set %s '%s' pass", NO_IFACE, one);
	check_usage(args, "cannot parse the flow; more than 32 words");
	check_usage("verdict set " NO_IFACE " in udp 198.18.0.1 pass",
		    "cannot parse the flow; expected: " FLOW_SPEC_SYNTAX);
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
	if (test__start_subtest("flow_words"))
		subtest_flow_words();
	if (test__start_subtest("cli_flow_words"))
		subtest_cli_flow_words();
	if (test__start_subtest("ifname_too_long"))
		subtest_ifname_too_long();
}
