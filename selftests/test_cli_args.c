// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Command-line values: numbers, sizes and durations are plain decimal
 * digits with the documented suffixes, a FLOW names each of its parts at
 * most once in at most FLOW_WORDS_MAX words, and an interface name is
 * never cut.  What is refused is a usage error (exit 2) that says why,
 * given before anything is opened, so no interface needs to exist.
 */
#include <stdlib.h>
#include "flowfmt.h"
#include "netns.h"
#include "test.h"

/* No interface of this name exists: whatever gets past the parsing of
 * the arguments fails later, with another exit status and message. */
#define NO_IFACE "fbt-none0"

struct num_case {
	const char *text;
	int err; /* 0, -EINVAL or -ERANGE */
	__u64 val;
};

static void check_nums(int (*parse)(const char *, __u64 *),
		       const struct num_case *c, size_t n, const char *what)
{
	char name[96];
	size_t i;
	__u64 v;
	int err;

	for (i = 0; i < n; i++) {
		v = 0;
		err = parse(c[i].text, &v);
		snprintf(name, sizeof(name), "%s '%s'", what, c[i].text);
		if (ASSERT_EQ(err, c[i].err, name) && !err)
			ASSERT_EQ(v, c[i].val, name);
	}
}

static void subtest_numbers(void)
{
	static const struct num_case durations[] = {
		{ "2s", 0, 2000000000ULL },
		{ "2", 0, 2000000000ULL },
		{ "1.5s", 0, 1500000000ULL },
		{ "500ms", 0, 500000000ULL },
		{ "0.25ms", 0, 250000 },
		{ "100us", 0, 100000 },
		{ "7ns", 0, 7 },
		{ "2m", 0, 120000000000ULL },
		{ "8760h", 0, 8760ULL * 3600 * 1000000000 },
		{ "8760.5h", -ERANGE },
		{ "99999999999999999999s", -ERANGE },
		{ "0x1p3s", -EINVAL },
		{ "0x10", -EINVAL },
		{ "1e3ms", -EINVAL },
		{ "inf", -EINVAL },
		{ "nan", -EINVAL },
		{ " 2s", -EINVAL },
		{ "+2s", -EINVAL },
		{ "-2s", -EINVAL },
		{ ".5s", -EINVAL },
		{ "1.s", -EINVAL },
		{ "2 s", -EINVAL },
		{ "2sec", -EINVAL },
		{ "", -EINVAL },
	};
	static const struct num_case sizes[] = {
		{ "4096", 0, 4096 },
		{ "4K", 0, 4096 },
		{ "1MiB", 0, 1 << 20 },
		{ "1MB", 0, 1 << 20 },
		{ "1G", 0, 1 << 30 },
		{ "17179869183G", 0, 17179869183ULL << 30 },
		{ "17179869184G", -ERANGE },
		{ "18446744073709551616", -ERANGE },
		{ " 4096", -EINVAL },
		{ "-1", -EINVAL },
		{ "0x1000", -EINVAL },
		{ "1.5M", -EINVAL },
		{ "4T", -EINVAL },
	};
	static const struct num_case counts[] = {
		{ "64", 0, 64 },
		{ "1k", 0, 1000 },
		{ "2M", 0, 2000000 },
		{ "18446744073709551615", 0, ~0ULL },
		{ "18446744073709551616", -ERANGE },
		{ "18446744073709552k", -ERANGE },
		{ " -1", -EINVAL },
		{ "-1", -EINVAL },
		{ "+1", -EINVAL },
		{ "1 ", -EINVAL },
		{ "0x10", -EINVAL },
		{ "1e3", -EINVAL },
	};

	check_nums(duration_parse, durations,
		   sizeof(durations) / sizeof(durations[0]), "duration");
	check_nums(size_parse, sizes, sizeof(sizes) / sizeof(sizes[0]), "size");
	check_nums(count_parse, counts, sizeof(counts) / sizeof(counts[0]),
		   "count");
}

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

static void subtest_cli_numbers(void)
{
	check_usage("flows " NO_IFACE " --limit ' -1'",
		    "--limit must be a number, not ' -1'");
	check_usage("flows " NO_IFACE " -n 18446744073709551616",
		    "--limit must be a number");
	check_usage("attach " NO_IFACE " --timeout 0x1p3s",
		    "--timeout must be a duration");
	check_usage("attach " NO_IFACE " --flows ' 5'",
		    "--flows must be a number");
	check_usage("attach " NO_IFACE " --ringbuf 0x1000",
		    "--ringbuf must be a power of two");
	check_usage("collect " NO_IFACE " --idle 1e3ms",
		    "--idle must be a duration");
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
	if (test__start_subtest("numbers"))
		subtest_numbers();
	if (test__start_subtest("cli_numbers"))
		subtest_cli_numbers();
	if (test__start_subtest("flow_words"))
		subtest_flow_words();
	if (test__start_subtest("cli_flow_words"))
		subtest_cli_flow_words();
	if (test__start_subtest("ifname_too_long"))
		subtest_ifname_too_long();
}
