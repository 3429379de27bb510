// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The policy language, without a kernel: every malformed file is refused
 * with the exact "FILE:LINE:COL: message" a user would see, every match
 * decides what docs/policy.md says it decides, a table of 100 000 prefixes
 * loads fast and agrees with a naive scan, so does a policy of 100 000
 * units, and "flowbpf policy" exits and prints as documented.
 *
 * Error strings are compared whole, not searched for a fragment: the line
 * and column are the point of them.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <jansson.h>
#include "clock.h"
#include "log.h"
#include "flowfmt.h"
#include "netns.h"
#include "policy.h"
#include "test.h"

static char tmpdir[64];

/* A scratch directory, made once, for prefix tables and policy files. */
static const char *scratch(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/flowbpf-policy-XXXXXX");
		if (!mkdtemp(tmpdir))
			tmpdir[0] = '\0';
	}
	return tmpdir;
}

/* len bytes, which may hold NULs. */
static int write_bytes(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "w");
	size_t n;

	if (!f)
		return -errno;
	n = fwrite(buf, 1, len, f);
	if (fclose(f) || n != len)
		return -EIO;
	return 0;
}

static int write_file(const char *path, const char *text)
{
	return write_bytes(path, text, strlen(text));
}

static struct flowbpf_key key(const char *spec)
{
	struct flowbpf_key k;
	char *argv[1] = { (char *)spec };

	if (flow_spec_parse(1, argv, &k)) {
		test__fail();
		fprintf(stderr, "FAIL: test bug: cannot parse flow '%s'\n",
			spec);
		memset(&k, 0, sizeof(k));
	}
	return k;
}

/* A Wednesday noon: no time rule depends on the zeroed struct tm. */
static struct flow_ctx at(const char *ifname, int wday, int hour, int min)
{
	struct flow_ctx c = { .ifname = ifname };

	c.now.tm_wday = wday;
	c.now.tm_hour = hour;
	c.now.tm_min = min;
	return c;
}

static const struct flow_ctx *noon(void)
{
	static struct flow_ctx c;

	c = at(NULL, 3, 12, 0);
	return &c;
}

/* policy_parse() of "t.conf", with its error (err_get()) copied into err,
 * "" when it parsed, as the assertions read it. */
static struct policy *parse_text(const char *text, char *err, size_t len)
{
	struct policy *p = policy_parse("t.conf", text);

	snprintf(err, len, "%s", p ? "" : err_get());
	return p;
}

/* The same for policy_load() of a file. */
static struct policy *load_file(const char *path, char *err, size_t len)
{
	struct policy *p = policy_load(path);

	snprintf(err, len, "%s", p ? "" : err_get());
	return p;
}

/* 1-based number of the rule that decides spec, 0 for the default. */
static int rule_no(const struct policy *p, const char *spec,
		   const struct flow_ctx *c)
{
	struct flowbpf_key k = key(spec);

	return policy_match(p, &k, c) + 1;
}

static struct policy *parse_ok(const char *text)
{
	char err[512] = "";
	struct policy *p = parse_text(text, err, sizeof(err));

	if (!p) {
		test__fail();
		fprintf(stderr, "FAIL: policy refused: %s\n", err);
	}
	return p;
}

/* ---- malformed policies ---- */

struct bad {
	const char *name, *text, *err;
};

static const struct bad bad_policies[] = {
	{ "unknown_statement", "unit lan { 10.0.0.0/8; }\nallow from lan;\n",
	  "t.conf:2:1: expected unit, rule, default, account, class or quota, found 'allow'" },
	{ "stray_brace", "default deny;\n}\n",
	  "t.conf:2:1: expected unit, rule, default, account, class or quota, found '}'" },
	{ "default_missing_semicolon", "default deny\nrule allow;\n",
	  "t.conf:2:1: expected ';', found 'rule'" },
	/* The next statement's keyword is read as one more match. */
	{ "rule_missing_semicolon", "rule allow dir in\nrule deny;\n",
	  "t.conf:2:1: unknown match 'rule' (expected dir, iface, vlan, proto, from, to, sport, dport, port, icmp-type, icmp-code, time, days or tunnel)" },
	{ "rule_missing_semicolon_eof", "rule allow dir in\n",
	  "t.conf:2:1: expected a match or ';', found end of file" },
	{ "unit_missing_brace", "unit a 10.0.0.1;\n",
	  "t.conf:1:8: expected '{' or 'file', found '10.0.0.1'" },
	{ "unit_missing_separator", "unit a { 10.0.0.1 10.0.0.2 }\n",
	  "t.conf:1:19: expected ';' or '}', found '10.0.0.2'" },
	{ "unit_file_unquoted", "unit a file list.txt;\n",
	  "t.conf:1:13: expected a file name in quotes, found 'list.txt'" },
	{ "unterminated_string", "rule \"ssh allow dport 22;\n",
	  "t.conf:1:6: unterminated string" },
	{ "unexpected_character", "rule allow from 10.0.0.1 @;\n",
	  "t.conf:1:26: unexpected character '@'" },
	{ "unknown_unit",
	  "unit office { 192.0.2.0/24; }\n\trule allow to office;\nrule deny to offce;\n",
	  "t.conf:3:14: unknown unit 'offce'" },
	{ "unknown_unit_negated", "rule deny from !lan;\n",
	  "t.conf:1:17: unknown unit 'lan'" },
	{ "unit_uses_itself", "unit a { 10.0.0.0/8; a; }\n",
	  "t.conf:1:22: unknown unit 'a'" },
	{ "unit_redefined",
	  "unit a { 10.0.0.0/8; }\n# again\nunit a { 10.1.0.0/16; }\n",
	  "t.conf:3:6: unit 'a' is already defined at line 1" },
	{ "unit_name_keyword", "unit any { 10.0.0.1; }\n",
	  "t.conf:1:6: expected a unit name, found 'any'" },
	{ "unit_name_digit", "unit 1st { 10.0.0.1; }\n",
	  "t.conf:1:6: expected a unit name, found '1st'" },
	{ "empty_unit", "default deny;\n\nunit nothing { }\n",
	  "t.conf:3:1: unit 'nothing' is empty" },
	{ "invalid_prefix", "rule allow from 10.0.0.300;\n",
	  "t.conf:1:17: invalid address or prefix '10.0.0.300'" },
	{ "invalid_prefix_in_unit", "unit a { 10.0.0.0/8; 2001:db8::g; }\n",
	  "t.conf:1:22: invalid address or prefix '2001:db8::g'" },
	{ "host_bits_set", "rule allow to 198.18.1.2/16;\n",
	  "t.conf:1:15: host bits set in '198.18.1.2/16'" },
	{ "prefix_too_long", "rule allow from 10.0.0.0/33;\n",
	  "t.conf:1:17: invalid prefix length in '10.0.0.0/33'" },
	{ "prefix_length_missing", "rule allow from 10.0.0.0/;\n",
	  "t.conf:1:17: invalid prefix length in '10.0.0.0/'" },
	{ "ipv6_prefix_too_long", "rule allow from 2001:db8::/129;\n",
	  "t.conf:1:17: invalid prefix length in '2001:db8::/129'" },
	{ "ipv6_host_bits_set", "rule allow from 2001:db8::1/64;\n",
	  "t.conf:1:17: host bits set in '2001:db8::1/64'" },
	{ "address_list_trailing_comma", "rule allow from 10.0.0.1,;\n",
	  "t.conf:1:26: expected an address, prefix, unit name or any, found ';'" },
	{ "unknown_protocol", "rule allow proto tcp,tpc;\n",
	  "t.conf:1:22: unknown protocol 'tpc'" },
	{ "protocol_number_too_big", "rule allow proto 256;\n",
	  "t.conf:1:18: unknown protocol '256'" },
	{ "list_trailing_comma", "rule allow proto tcp, ;\n",
	  "t.conf:1:23: expected a value, found ';'" },
	{ "port_out_of_range", "rule allow proto tcp dport 65536;\n",
	  "t.conf:1:28: port out of range in '65536' (0-65535)" },
	{ "port_range_reversed", "rule allow proto udp sport 90-80;\n",
	  "t.conf:1:28: empty port range '90-80'" },
	{ "port_not_a_number", "rule allow proto tcp port http;\n",
	  "t.conf:1:27: invalid port 'http'" },
	{ "port_range_open", "rule allow proto tcp port 1024-;\n",
	  "t.conf:1:27: invalid port '1024-'" },
	{ "vlan_out_of_range", "rule deny vlan 10,4096;\n",
	  "t.conf:1:19: VLAN id out of range in '4096' (0-4095)" },
	{ "vlan_not_a_number", "rule deny vlan ten;\n",
	  "t.conf:1:16: invalid VLAN id 'ten'" },
	{ "unknown_match", "rule allow dst 10.0.0.1;\n",
	  "t.conf:1:12: unknown match 'dst' (expected dir, iface, vlan, proto, from, to, sport, dport, port, icmp-type, icmp-code, time, days or tunnel)" },
	{ "duplicate_match", "rule allow proto tcp dport 80 proto udp;\n",
	  "t.conf:1:31: 'proto' is given twice in this rule" },
	{ "missing_verdict", "rule \"web\" from 10.0.0.1;\n",
	  "t.conf:1:12: expected allow or deny, found 'from'" },
	{ "missing_verdict_semicolon", "rule;\n",
	  "t.conf:1:5: expected allow or deny, found ';'" },
	{ "default_twice", "default deny;\n\ndefault allow;\n",
	  "t.conf:3:1: default is already set at line 1" },
	{ "bad_default", "default reject;\n",
	  "t.conf:1:9: expected allow or deny after default, found 'reject'" },
	{ "bad_dir", "rule allow dir inbound;\n",
	  "t.conf:1:16: expected in or out after dir, found 'inbound'" },
	{ "iface_too_long", "rule allow iface eth0,veryveryverylong0;\n",
	  "t.conf:1:23: interface name 'veryveryverylong0' is too long" },
	{ "time_not_a_window", "rule allow time 09:00;\n",
	  "t.conf:1:17: invalid time window '09:00' (expected HH:MM-HH:MM, e.g. 09:00-17:30)" },
	{ "time_one_digit_hour", "rule allow time 9:00-17:00;\n",
	  "t.conf:1:17: invalid time window '9:00-17:00' (expected HH:MM-HH:MM, e.g. 09:00-17:30)" },
	{ "time_bad_minute", "rule allow time 12:60-13:00;\n",
	  "t.conf:1:17: invalid time window '12:60-13:00' (expected HH:MM-HH:MM, e.g. 09:00-17:30)" },
	{ "time_empty_window", "rule allow time 08:00-08:00;\n",
	  "t.conf:1:17: invalid time window '08:00-08:00' (expected HH:MM-HH:MM, e.g. 09:00-17:30)" },
	/* 24:00 may end a window (docs/policy.md), never start one. */
	{ "time_starts_at_24", "rule allow time 24:00-06:00;\n",
	  "t.conf:1:17: invalid time window '24:00-06:00' (24:00 only ends a window; a window from midnight starts at 00:00)" },
	{ "invalid_day", "rule allow days mon-fry;\n",
	  "t.conf:1:17: invalid day 'mon-fry' (expected sun, mon, ... sat, or a range like mon-fri)" },
	{ "invalid_day_long_name", "rule allow days sat,sunday;\n",
	  "t.conf:1:21: invalid day 'sunday' (expected sun, mon, ... sat, or a range like mon-fri)" },
	/* Checked when the rule is complete, so reported at its start. */
	{ "ports_with_icmp",
	  "default deny;\n  rule \"x\" allow proto icmp dport 80;\n",
	  "t.conf:2:3: ports need proto tcp, udp, sctp, dccp or udplite" },
	{ "icmp_type_without_icmp", "rule allow proto tcp icmp-type 8;\n",
	  "t.conf:1:1: icmp-type and icmp-code need proto icmp or icmpv6 (only)" },
	{ "icmp_code_without_proto", "rule allow icmp-code 0;\n",
	  "t.conf:1:1: icmp-type and icmp-code need proto icmp or icmpv6 (only)" },
	{ "icmp_type_mixed_protos", "rule allow proto icmp,udp icmp-type 8;\n",
	  "t.conf:1:1: icmp-type and icmp-code need proto icmp or icmpv6 (only)" },
	{ "icmp_type_out_of_range", "rule allow proto icmp icmp-type 256;\n",
	  "t.conf:1:33: invalid icmp-type '256' (0-255)" },
	{ "not_any", "rule deny from !any;\n",
	  "t.conf:1:17: '!any' matches nothing" },
	{ "value_after_key_eof", "rule allow dport\n",
	  "t.conf:2:1: expected a value after 'dport', found end of file" },
	{ "value_after_key_semicolon", "rule allow proto;\n",
	  "t.conf:1:17: expected a value after 'proto', found ';'" },
	{ "value_after_key_comment", "rule allow days # weekends\n",
	  "t.conf:2:1: expected a value after 'days', found end of file" },
	{ "first_error_wins", "rule allow bogus;\nrule deny dir sideways;\n",
	  "t.conf:1:12: unknown match 'bogus' (expected dir, iface, vlan, proto, from, to, sport, dport, port, icmp-type, icmp-code, time, days or tunnel)" },
};

static void check_bad(const char *text, const char *want)
{
	char err[512] = "";
	struct policy *p = parse_text(text, err, sizeof(err));

	ASSERT_FALSE(p, "refused");
	ASSERT_STREQ(err, want, "message");
	policy_free(p);
}

static void subtest_prefix_file_errors(void)
{
	char path[128], text[256], want[256];
	const char *dir = scratch();

	/* Errors inside a table name the table's own file and line. */
	snprintf(path, sizeof(path), "%s/bad-host-bits.txt", dir);
	ASSERT_OK(write_file(path, "# blocklist\n198.18.0.0/15\n\n"
				   "  192.0.2.0/24   # trailing comment\n"
				   "203.0.113.7/24\n"),
		  "write table");
	snprintf(text, sizeof(text), "default allow;\nunit big file \"%s\";\n",
		 path);
	snprintf(want, sizeof(want),
		 "%s:5:1: host bits set in '203.0.113.7/24'", path);
	check_bad(text, want);

	snprintf(path, sizeof(path), "%s/bad-word.txt", dir);
	ASSERT_OK(write_file(path, "2001:db8::/32\r\nnot-an-address\r\n"),
		  "write table");
	snprintf(text, sizeof(text), "unit big file \"%s\";\n", path);
	snprintf(want, sizeof(want),
		 "%s:2:1: invalid address or prefix 'not-an-address'", path);
	check_bad(text, want);

	snprintf(path, sizeof(path), "%s/bad-length.txt", dir);
	ASSERT_OK(write_file(path, "2001:db8::/200\n"), "write table");
	snprintf(text, sizeof(text), "unit big file \"%s\";\n", path);
	snprintf(want, sizeof(want),
		 "%s:1:1: invalid prefix length in '2001:db8::/200'", path);
	check_bad(text, want);

	snprintf(path, sizeof(path), "%s/missing.txt", dir);
	snprintf(text, sizeof(text), "\nunit big file \"%s\";\n", path);
	snprintf(
		want, sizeof(want),
		"t.conf:2:15: cannot read prefix file \"%s\": No such file or directory",
		path);
	check_bad(text, want);

	snprintf(path, sizeof(path), "%s/ok.txt", dir);
	ASSERT_OK(write_file(path, "198.18.0.0/15\n"), "write table");
	snprintf(text, sizeof(text), "unit big file \"%s\"\nrule deny;\n",
		 path);
	check_bad(text, "t.conf:2:1: expected ';', found 'rule'");
	unlink(path);
	snprintf(path, sizeof(path), "%s/bad-host-bits.txt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/bad-word.txt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/bad-length.txt", dir);
	unlink(path);
}

/*
 * Loads the table bytes[0..len) as unit "t"; returns the policy's error,
 * "" when it was accepted with one prefix, or a note when it was accepted
 * with another count.
 */
static const char *table_result(const char *path, const char *bytes, size_t len)
{
	static char err[512];
	char text[512];
	struct policy *p;

	err[0] = '\0';
	if (write_bytes(path, bytes, len))
		return "test bug: cannot write the table";
	snprintf(text, sizeof(text), "unit t file \"%s\";\n", path);
	p = parse_text(text, err, sizeof(err));
	if (p && p->units[0].prefixes != 1)
		snprintf(err, sizeof(err), "accepted with %zu prefixes",
			 p->units[0].prefixes);
	policy_free(p);
	return err;
}

/* Lines of a table are read whole, however long, and NULs are refused. */
static void subtest_table_lines(void)
{
	static const char nul_table[] = "192.0.2.0/24\n198.51.100.0/24\0 # x\n";
	char path[128], buf[1024], want[256];
	size_t n;

	snprintf(path, sizeof(path), "%s/lines.txt", scratch());

	/* A comment of 511 characters and more, with a prefix in its tail. */
	n = snprintf(buf, sizeof(buf), "192.0.2.0/24\n#%0510d198.51.100.0/24\n",
		     0);
	snprintf(want, sizeof(want), "%s:2:1: line longer than 510 characters",
		 path);
	ASSERT_STREQ(table_result(path, buf, n), want, "long comment line");

	/* 510 characters are allowed, CR LF not counted. */
	n = snprintf(buf, sizeof(buf), "#%0509d\r\n192.0.2.0/24\r\n", 0);
	ASSERT_STREQ(table_result(path, buf, n), "", "510 characters");

	snprintf(want, sizeof(want),
		 "%s:2:1: contains a NUL byte (not a text file?)", path);
	ASSERT_STREQ(table_result(path, nul_table, sizeof(nul_table) - 1), want,
		     "NUL byte");
	unlink(path);
}

/* A table that cannot be read whole is an error, never an empty unit. */
static void subtest_table_names(void)
{
	char dir[128], name[300], text[512], err[512], want[512];
	struct policy *p;
	size_t n;

	snprintf(dir, sizeof(dir), "%s/table.d", scratch());
	ASSERT_OK(mkdir(dir, 0700), "mkdir");
	snprintf(text, sizeof(text), "unit t file \"%s\";\n", dir);
	snprintf(want, sizeof(want),
		 "t.conf:1:13: cannot read prefix file \"%s\": Is a directory",
		 dir);
	check_bad(text, want);
	rmdir(dir);

	/* A name of 255 bytes loads; one byte more is not cut to it. */
	n = snprintf(name, sizeof(name), "%s/", scratch());
	memset(name + n, 'n', 255 - n);
	name[255] = '\0';
	if (!ASSERT_OK(write_file(name, "192.0.2.0/24\n"), "write table"))
		return;
	snprintf(text, sizeof(text), "unit t file \"%s\";\n", name);
	p = parse_text(text, err, sizeof(err));
	ASSERT_OK_PTR(p, "255 bytes");
	policy_free(p);
	snprintf(text, sizeof(text), "unit t file \"%sx\";\n", name);
	check_bad(text, "t.conf:1:13: string longer than 255 bytes");
	unlink(name);
}

/*
 * Some inputs make the parser read past its buffer or through a freed
 * pointer.  Those run in a child, so that a crash fails one subtest rather
 * than ending the runner; the child's answer comes back as text.
 */
static bool in_child(void (*fn)(const void *arg, char *out, size_t len),
		     const void *arg, char *out, size_t len)
{
	int pfd[2], status = 0;
	size_t got = 0, i;
	ssize_t n;
	pid_t pid;

	out[0] = '\0';
	if (pipe(pfd))
		return false;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return false;
	}
	if (!pid) {
		char buf[1024] = "";

		close(pfd[0]);
		fn(arg, buf, sizeof(buf));
		_exit(write(pfd[1], buf, strlen(buf)) < 0);
	}
	close(pfd[1]);
	while (got + 1 < len &&
	       (n = read(pfd[0], out + got, len - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	/* Bytes read from beyond a buffer would garble the log. */
	for (i = 0; i < got; i++)
		if ((unsigned char)out[i] < ' ' || (unsigned char)out[i] > '~')
			out[i] = '?';
	close(pfd[0]);
	if (waitpid(pid, &status, 0) < 0)
		return false;
	if (WIFSIGNALED(status))
		fprintf(stderr, "  child killed by signal %d\n",
			WTERMSIG(status));
	return WIFEXITED(status) && !WEXITSTATUS(status);
}

/* The text in a buffer of its own size, as policy_load hands it over. */
static void parse_exact(const void *arg, char *out, size_t len)
{
	char err[512] = "", *text = strdup(arg);
	struct policy *p = parse_text(text, err, sizeof(err));

	snprintf(out, len, "%s", p ? "accepted" : err);
	policy_free(p);
	free(text);
}

/* A file that ends in a word, without a newline after it. */
static void subtest_word_at_eof(void)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
		{ "default deny",
		  "t.conf:1:13: expected ';', found end of file" },
		{ "rule allow dport",
		  "t.conf:1:17: expected a value after 'dport', found end of file" },
		{ "rule allow proto tcp dport 80",
		  "t.conf:1:30: expected a match or ';', found end of file" },
	};
	char got[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_TRUE(in_child(parse_exact, cases[i].text, got,
				     sizeof(got)),
			    "parser survives");
		ASSERT_STREQ(got, cases[i].err, "message");
	}
}

/*
 * Loads a policy file, or with "table:" in front a prefix table, in a
 * child: a read that never ends fails the subtest when the alarm kills it.
 */
static void load_in_child(const void *arg, char *out, size_t len)
{
	const char *path = arg;
	char err[512] = "", text[512];
	struct policy *p;

	alarm(5);
	if (!strncmp(path, "table:", 6)) {
		snprintf(text, sizeof(text), "unit t file \"%s\";\n", path + 6);
		p = parse_text(text, err, sizeof(err));
	} else {
		p = load_file(path, err, sizeof(err));
	}
	snprintf(out, len, "%s", p ? "accepted" : err);
	policy_free(p);
}

/* What load_in_child reports for path, as a policy and as a table. */
static void check_unreadable(const char *path, const char *why)
{
	char arg[256], got[1024], want[512];

	ASSERT_TRUE(in_child(load_in_child, path, got, sizeof(got)),
		    "policy read ends");
	snprintf(want, sizeof(want), "%s: %s", path, why);
	ASSERT_STREQ(got, want, "policy");
	snprintf(arg, sizeof(arg), "table:%s", path);
	ASSERT_TRUE(in_child(load_in_child, arg, got, sizeof(got)),
		    "table read ends");
	snprintf(want, sizeof(want),
		 "t.conf:1:13: cannot read prefix file \"%s\": %s", path, why);
	ASSERT_STREQ(got, want, "table");
}

/* Only regular files are read, and only up to the size limit. */
static void subtest_not_regular(void)
{
	char fifo[128], big[128], why[64];

	check_unreadable("/dev/zero", "not a regular file");

	snprintf(fifo, sizeof(fifo), "%s/fifo", scratch());
	if (ASSERT_OK(mkfifo(fifo, 0600), "mkfifo")) {
		check_unreadable(fifo, "not a regular file");
		unlink(fifo);
	}

	/* Sparse: one byte over the limit costs no disk. */
	snprintf(big, sizeof(big), "%s/big.txt", scratch());
	if (ASSERT_OK(write_file(big, ""), "create") &&
	    ASSERT_OK(truncate(big, ((off_t)POLICY_FILE_MAX_MIB << 20) + 1),
		      "truncate")) {
		snprintf(why, sizeof(why), "larger than %d MiB",
			 POLICY_FILE_MAX_MIB);
		check_unreadable(big, why);
	}
	unlink(big);
}

#define MANY_UNITS 100000

/* n units of one address each, a unit of two of them, two rules. */
static char *units_text(int n, size_t *lines)
{
	size_t cap = n * 40 + 256, len = 0;
	char *text = malloc(cap);
	int i;

	if (!text)
		return NULL;
	for (i = 0; i < n; i++)
		len += snprintf(text + len, cap - len,
				"unit u%d { 10.%d.%d.%d }\n", i, i >> 16,
				(i >> 8) & 255, i & 255);
	len += snprintf(text + len, cap - len,
			"unit pair { u0; u%d }\n"
			"rule \"last\" deny from u%d;\n"
			"rule \"pair\" allow from pair;\n",
			n - 1, n - 1);
	*lines = n + 3;
	return text;
}

/* Unit names are looked up in constant time, not by a scan. */
static void subtest_many_units(void)
{
	char err[512] = "", want[128], *text, *more;
	__u64 t0, t1;
	struct policy *p;
	size_t lines;
	double ns;

	text = units_text(MANY_UNITS, &lines);
	if (!ASSERT_OK_PTR(text, "text"))
		return;
	t0 = mono_now_ns();
	p = parse_text(text, err, sizeof(err));
	t1 = mono_now_ns();
	free(text);
	ns = (double)(t1 - t0);
	test__log("  %d units loaded in %.1f ms\n", MANY_UNITS, ns / 1e6);
	if (ASSERT_OK_PTR(p, "load") && ASSERT_STREQ(err, "", "no error")) {
		/* An emulated CPU (make vmtest under TCG) is 10-30 times slower. */
		ASSERT_LE(ns, getenv("VMTEST") ? 5e9 : 1e9,
			  "loads in under a second (5 s emulated)");
		ASSERT_EQ(p->nunits, MANY_UNITS + 1, "units");
		/* MANY_UNITS - 1 is 10.1.134.159. */
		ASSERT_EQ(rule_no(p, "in udp 10.1.134.159:1 198.18.0.1:2",
				  noon()),
			  1, "the last unit");
		ASSERT_EQ(rule_no(p, "in udp 10.1.134.158:1 198.18.0.1:2",
				  noon()),
			  0, "the one before");
		ASSERT_EQ(rule_no(p, "in udp 10.0.0.0:1 198.18.0.1:2", noon()),
			  2, "the first, through another unit");
	}
	policy_free(p);

	/* A name defined again is found after the table has grown. */
	text = units_text(1000, &lines);
	if (!ASSERT_OK_PTR(text, "text"))
		return;
	more = realloc(text, strlen(text) + 32);
	if (!ASSERT_OK_PTR(more, "realloc")) {
		free(text);
		return;
	}
	strcat(more, "unit u0 { 10.0.0.1 }\n");
	snprintf(want, sizeof(want),
		 "t.conf:%zu:6: unit 'u0' is already defined at line 1",
		 lines + 1);
	check_bad(more, want);
	free(more);
}

/* ---- evaluation ---- */

static void subtest_first_match_wins(void)
{
	struct policy *p =
		parse_ok("rule \"no-ssh\" deny proto tcp dport 22;\n"
			 "rule \"tcp\" allow proto tcp;\n"
			 "rule \"ssh-again\" allow proto tcp dport 22;\n"
			 "rule \"rest\" deny;\n");

	if (!p)
		return;
	ASSERT_EQ(p->nrules, 4, "rules");
	ASSERT_STREQ(p->rules[0].name, "no-ssh", "rule name");
	ASSERT_EQ(p->rules[2].line, 3, "rule line");
	ASSERT_EQ(rule_no(p, "in tcp 198.18.0.1:40000 198.18.0.2:22", noon()),
		  1, "ssh: the first rule, not the third");
	ASSERT_EQ(policy_verdict(p, 0), FLOWBPF_VERDICT_DROP, "deny");
	ASSERT_EQ(rule_no(p, "in tcp 198.18.0.1:40000 198.18.0.2:80", noon()),
		  2, "other tcp");
	ASSERT_EQ(policy_verdict(p, 1), FLOWBPF_VERDICT_PASS, "allow");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:40000 198.18.0.2:22", noon()),
		  4, "udp falls through");
	policy_free(p);
}

static void subtest_default(void)
{
	struct policy *p = parse_ok("rule allow proto udp;\n");
	struct flowbpf_key k = key("in tcp 198.18.0.1:1 198.18.0.2:2");
	int r;

	if (!p)
		return;
	ASSERT_EQ(p->dflt, FLOWBPF_VERDICT_PASS, "default without a statement");
	ASSERT_EQ(rule_no(p, "in tcp 198.18.0.1:1 198.18.0.2:2", noon()), 0,
		  "no rule");
	policy_free(p);

	/* Placement does not matter: default applies only after all rules. */
	p = parse_ok("rule allow proto udp;\ndefault deny;\n");
	if (!p)
		return;
	r = policy_match(p, &k, noon());
	ASSERT_EQ(r, -1, "nothing matches");
	ASSERT_EQ(policy_verdict(p, r), FLOWBPF_VERDICT_DROP, "default deny");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2", noon()), 1,
		  "udp");
	policy_free(p);

	/* pass and drop are accepted for allow and deny. */
	p = parse_ok("default drop;\nrule pass proto udp;\n");
	if (!p)
		return;
	ASSERT_EQ(p->dflt, FLOWBPF_VERDICT_DROP, "drop");
	ASSERT_EQ(p->rules[0].verdict, FLOWBPF_VERDICT_PASS, "pass");
	policy_free(p);
}

static void subtest_dir(void)
{
	struct policy *p = parse_ok("default deny;\n"
				    "rule allow dir in proto tcp dport 22;\n");

	if (!p)
		return;
	ASSERT_EQ(rule_no(p, "in tcp 198.18.0.1:40000 198.18.0.2:22", noon()),
		  1, "request");
	/* Each direction is a flow of its own: the reply is not covered. */
	ASSERT_EQ(rule_no(p, "out tcp 198.18.0.2:22 198.18.0.1:40000", noon()),
		  0, "reply");
	ASSERT_EQ(rule_no(p, "out tcp 198.18.0.1:40000 198.18.0.2:22", noon()),
		  0, "outgoing ssh");
	policy_free(p);
}

static void subtest_iface(void)
{
	struct policy *p = parse_ok("rule deny iface eth0,wan0;\n");
	struct flow_ctx c;

	if (!p)
		return;
	c = at("wan0", 3, 12, 0);
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2", &c), 1,
		  "wan0");
	c = at("eth0", 3, 12, 0);
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2", &c), 1,
		  "eth0");
	c = at("eth1", 3, 12, 0);
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2", &c), 0,
		  "eth1");
	c = at("eth", 3, 12, 0);
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2", &c), 0,
		  "a prefix of a name is not the name");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2", noon()), 0,
		  "no interface known");
	policy_free(p);
}

static void subtest_vlan(void)
{
	struct policy *p = parse_ok("rule deny vlan 0,10,100-199;\n");

	if (!p)
		return;
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2", noon()), 1,
		  "untagged is vlan 0");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2 vlan 10",
			  noon()),
		  1, "10");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2 vlan 11",
			  noon()),
		  0, "11");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2 vlan 99",
			  noon()),
		  0, "99");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2 vlan 100",
			  noon()),
		  1, "100");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2 vlan 199",
			  noon()),
		  1, "199");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2 vlan 200",
			  noon()),
		  0, "200");
	/* Only the outer tag is matched. */
	ASSERT_EQ(rule_no(p,
			  "in udp 198.18.0.1:1 198.18.0.2:2 vlan 300 ivlan 10",
			  noon()),
		  0, "inner tag");
	policy_free(p);
}

static void subtest_proto(void)
{
	struct policy *p = parse_ok("rule allow proto tcp,UDP,47,icmpv6;\n"
				    "default deny;\n");

	if (!p)
		return;
	ASSERT_EQ(rule_no(p, "in tcp 198.18.0.1:1 198.18.0.2:2", noon()), 1,
		  "tcp");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2", noon()), 1,
		  "udp, named in capitals");
	ASSERT_EQ(rule_no(p, "in gre 198.18.0.1 198.18.0.2", noon()), 1,
		  "47 is gre");
	ASSERT_EQ(rule_no(p,
			  "in icmpv6 2001:db8::1 2001:db8::2 type 128 code 0",
			  noon()),
		  1, "icmpv6");
	ASSERT_EQ(rule_no(p, "in icmp 198.18.0.1 198.18.0.2 type 8 code 0",
			  noon()),
		  0, "icmp");
	ASSERT_EQ(rule_no(p, "in sctp 198.18.0.1:1 198.18.0.2:2", noon()), 0,
		  "sctp");
	policy_free(p);
}

static void subtest_addresses(void)
{
	struct policy *p = parse_ok(
		"unit lab { 198.18.0.0/24; 198.18.2.0/24 }\n"
		"unit office { 192.0.2.0/25, 192.0.2.200 }\n"
		"unit inside { lab; office; 203.0.113.0/24; }\n"
		"unit v6lab { 2001:db8:1::/48; }\n"
		"rule \"lab-out\" deny from lab to !inside;\n"
		"rule \"office\" allow from office, 198.51.100.7 to inside;\n"
		"rule \"inline\" allow to 198.51.100.0/24;\n"
		"rule \"v6\" allow from v6lab to 2001:db8:2::1;\n"
		"rule \"inside\" allow from inside;\n"
		"default deny;\n");

	if (!p)
		return;
	ASSERT_EQ(p->nunits, 4, "units");
	ASSERT_EQ(p->units[2].prefixes, 5, "nested units count their prefixes");
	/* Two /24s of lab, the /25 and the address of office, one more /24. */
	ASSERT_EQ(p->units[2].set.n, 5, "ranges");

	ASSERT_EQ(rule_no(p, "out udp 198.18.0.9:1 100.64.0.53:53", noon()), 1,
		  "lab to outside");
	ASSERT_EQ(rule_no(p, "out udp 198.18.2.255:1 100.64.0.53:53", noon()),
		  1, "second lab prefix, last address");
	ASSERT_EQ(rule_no(p, "out udp 198.18.0.9:1 192.0.2.200:53", noon()), 5,
		  "lab to office (nested unit) is inside");
	ASSERT_EQ(rule_no(p, "out udp 198.18.1.9:1 100.64.0.53:53", noon()), 0,
		  "198.18.1.0/24 is not in lab");
	ASSERT_EQ(rule_no(p, "in tcp 192.0.2.127:1 203.0.113.5:80", noon()), 2,
		  "office to inside");
	ASSERT_EQ(rule_no(p, "in tcp 192.0.2.128:1 203.0.113.5:80", noon()), 0,
		  "just past the /25");
	ASSERT_EQ(rule_no(p, "in tcp 198.51.100.7:1 198.18.2.1:80", noon()), 2,
		  "inline address in a comma list");
	ASSERT_EQ(rule_no(p, "in tcp 198.51.100.8:1 198.51.100.1:80", noon()),
		  3, "inline prefix");
	ASSERT_EQ(rule_no(p, "in tcp [2001:db8:1:ffff::5]:1 [2001:db8:2::1]:80",
			  noon()),
		  4, "ipv6 unit and address");
	ASSERT_EQ(rule_no(p, "in tcp [2001:db8:1:ffff::5]:1 [2001:db8:2::2]:80",
			  noon()),
		  0, "ipv6 other destination");
	ASSERT_EQ(rule_no(p, "in tcp [2001:db8:0:ffff::5]:1 [2001:db8:2::1]:80",
			  noon()),
		  0, "ipv6 outside the /48");
	policy_free(p);

	/* Negating a unit and a list: the whole list is negated. */
	p = parse_ok("unit lab { 198.18.0.0/24; }\n"
		     "rule deny from !lab;\n"
		     "rule allow to !198.51.100.0/24, 203.0.113.1;\n");
	if (!p)
		return;
	ASSERT_EQ(rule_no(p, "in udp 198.19.0.1:1 198.18.0.2:2", noon()), 1,
		  "not from lab");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.18.0.2:2", noon()), 2,
		  "from lab, to neither");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 203.0.113.1:2", noon()), 0,
		  "to the second list item");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:1 198.51.100.99:2", noon()), 0,
		  "to the first list item");
	ASSERT_EQ(rule_no(p, "in udp [2001:db8::1]:1 [2001:db8::2]:2", noon()),
		  1, "ipv6 is not in an ipv4 unit");
	policy_free(p);
}

static void subtest_family(void)
{
	struct policy *p = parse_ok("rule \"v4\" allow from 10.0.0.0/8;\n"
				    "rule \"v6\" allow from 2001:db8::/32;\n"
				    "rule \"v4-any\" allow to 0.0.0.0/0;\n"
				    "default deny;\n");

	if (!p)
		return;
	ASSERT_EQ(rule_no(p, "in tcp 10.1.2.3:1 198.51.100.1:2", noon()), 1,
		  "ipv4 in 10/8");
	/* ::a00:1 has the same low 32 bits as 10.0.0.1. */
	ASSERT_EQ(rule_no(p, "in tcp [::a00:1]:1 [2001:db8:ffff::1]:2", noon()),
		  0, "ipv6 ::a00:1 is not 10.0.0.1");
	ASSERT_EQ(rule_no(p, "in tcp [2001:db8::1]:1 [::1]:2", noon()), 2,
		  "ipv6 in 2001:db8::/32");
	ASSERT_EQ(rule_no(p, "in tcp 32.1.13.184:1 198.51.100.1:2", noon()), 3,
		  "32.1.13.184 (0x20010db8) is not 2001:db8::");
	ASSERT_EQ(rule_no(p, "in tcp [2001:db9::1]:1 [::1]:2", noon()), 0,
		  "0.0.0.0/0 does not hold ipv6 addresses");
	policy_free(p);
}

/*
 * An IPv6 packet may carry an IPv4-mapped address (::ffff:a.b.c.d); it is
 * still an IPv6 flow (family 6) and must not pass as the IPv4 host, nor
 * an IPv4 flow as a member of an IPv6 prefix.
 */
static void subtest_family_mapped(void)
{
	struct policy *p = parse_ok("rule \"v4-lan\" allow from 10.0.0.0/8;\n"
				    "rule \"v6-low\" allow from ::/1;\n"
				    "default deny;\n");

	if (!p)
		return;
	ASSERT_EQ(rule_no(p, "in tcp [::ffff:10.0.0.1]:1 [2001:db8::1]:2",
			  noon()),
		  2, "ipv6 ::ffff:10.0.0.1 is not in 10.0.0.0/8");
	ASSERT_EQ(rule_no(p, "in tcp 192.0.2.1:1 198.51.100.1:2", noon()), 0,
		  "ipv4 192.0.2.1 is not in ::/1");
	policy_free(p);
}

/* A /0 covers its whole family. */
static void subtest_zero_length_prefix(void)
{
	struct policy *p = parse_ok("rule deny from 0.0.0.0/0;\n");

	if (!p)
		return;
	ASSERT_EQ(rule_no(p, "in tcp 198.18.0.1:1 198.18.0.2:2", noon()), 1,
		  "0.0.0.0/0 holds 198.18.0.1");
	ASSERT_EQ(rule_no(p, "in tcp 255.255.255.255:1 198.18.0.2:2", noon()),
		  1, "0.0.0.0/0 holds 255.255.255.255");
	policy_free(p);

	p = parse_ok("rule deny from ::/0;\n");
	if (!p)
		return;
	ASSERT_EQ(rule_no(p, "in tcp [::]:1 [::1]:2", noon()), 1, ":: itself");
	ASSERT_EQ(rule_no(p, "in tcp [2001:db8::1]:1 [::1]:2", noon()), 1,
		  "::/0 holds 2001:db8::1");
	ASSERT_EQ(rule_no(p, "in tcp [ffff::1]:1 [::1]:2", noon()), 1,
		  "::/0 holds ffff::1");
	policy_free(p);
}

struct use_case {
	const char *text, *spec;
};

static void match_in_child(const void *arg, char *out, size_t len)
{
	const struct use_case *u = arg;
	char err[512] = "";
	struct policy *p = parse_text(u->text, err, sizeof(err));

	if (!p) {
		snprintf(out, len, "%s", err);
		return;
	}
	snprintf(out, len, "rule %d", rule_no(p, u->spec, noon()));
	policy_free(p);
}

/* A rule may name a unit and more units be defined after the rule. */
static void subtest_unit_defined_after_use(void)
{
	static const struct use_case u = {
		"unit a { 198.18.0.0/24; }\n"
		"rule deny from a;\n"
		"unit b { 192.0.2.0/24; }\n"
		"unit c { 198.51.100.0/24; }\n"
		"unit d { 203.0.113.0/24; }\n"
		"unit e { 198.19.0.0/16; }\n",
		"in tcp 198.18.0.1:1 198.18.0.2:2",
	};
	char got[512];

	ASSERT_TRUE(in_child(match_in_child, &u, got, sizeof(got)), "no crash");
	ASSERT_STREQ(got, "rule 1", "the unit's rule matches");
}

static void subtest_ports(void)
{
	struct policy *p = parse_ok(
		"rule \"dport\" allow proto tcp dport 80,443,8000-8099;\n"
		"rule \"sport\" allow proto udp sport 53;\n"
		"rule \"either\" allow port 123;\n"
		"rule \"both\" allow proto tcp sport 1024-65535 dport 22;\n"
		"default deny;\n");

	if (!p)
		return;
	ASSERT_EQ(rule_no(p, "in tcp 198.18.0.1:5000 198.18.0.2:443", noon()),
		  1, "443");
	ASSERT_EQ(rule_no(p, "in tcp 198.18.0.1:5000 198.18.0.2:8000", noon()),
		  1, "range start");
	ASSERT_EQ(rule_no(p, "in tcp 198.18.0.1:5000 198.18.0.2:8099", noon()),
		  1, "range end");
	ASSERT_EQ(rule_no(p, "in tcp 198.18.0.1:5000 198.18.0.2:8100", noon()),
		  0, "past the range");
	ASSERT_EQ(rule_no(p, "in tcp 198.18.0.1:80 198.18.0.2:5000", noon()), 0,
		  "dport is not sport");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:53 198.18.0.2:5000", noon()), 2,
		  "sport");
	ASSERT_EQ(rule_no(p, "in udp 198.18.0.1:123 198.18.0.2:5000", noon()),
		  3, "port: source side");
	ASSERT_EQ(rule_no(p, "in tcp 198.18.0.1:5000 198.18.0.2:123", noon()),
		  3, "port: destination side, any protocol with ports");
	ASSERT_EQ(rule_no(p, "in sctp 198.18.0.1:5000 198.18.0.2:123", noon()),
		  3, "sctp has ports");
	/* ICMP type 0 code 123 sits where a port would; it is not one. */
	ASSERT_EQ(rule_no(p, "in icmp 198.18.0.1 198.18.0.2 type 0 code 123",
			  noon()),
		  0, "icmp has no ports");
	ASSERT_EQ(rule_no(p, "in tcp 198.18.0.1:40000 198.18.0.2:22", noon()),
		  4, "sport and dport together");
	ASSERT_EQ(rule_no(p, "in tcp 198.18.0.1:1000 198.18.0.2:22", noon()), 0,
		  "low sport");
	policy_free(p);
}

static void subtest_icmp(void)
{
	struct policy *p = parse_ok(
		"rule \"echo\" allow proto icmp icmp-type 8;\n"
		"rule \"unreach\" allow proto icmp,icmpv6 icmp-type 3 icmp-code 4;\n"
		"rule \"v6-code0\" allow proto icmpv6 icmp-code 0;\n"
		"default deny;\n");

	if (!p)
		return;
	ASSERT_EQ(rule_no(p, "out icmp 198.18.0.1 198.18.0.2 type 8 code 0",
			  noon()),
		  1, "echo request");
	ASSERT_EQ(rule_no(p, "out icmp 198.18.0.1 198.18.0.2 type 8 code 9",
			  noon()),
		  1, "any code");
	ASSERT_EQ(rule_no(p, "in icmp 198.18.0.2 198.18.0.1 type 0 code 0",
			  noon()),
		  0, "echo reply");
	ASSERT_EQ(rule_no(p, "in icmp 198.18.0.2 198.18.0.1 type 3 code 4",
			  noon()),
		  2, "type and code");
	ASSERT_EQ(rule_no(p, "in icmp 198.18.0.2 198.18.0.1 type 3 code 3",
			  noon()),
		  0, "wrong code");
	ASSERT_EQ(rule_no(p,
			  "in icmpv6 2001:db8::1 2001:db8::2 type 128 code 0",
			  noon()),
		  3, "icmpv6 code only");
	ASSERT_EQ(rule_no(p, "in icmp 198.18.0.2 198.18.0.1 type 4 code 3",
			  noon()),
		  0, "type and code not swapped");
	policy_free(p);
}

static const char time_flow[] = "in tcp 198.18.0.1:1 198.18.0.2:2";

/* Rules 1 and 3 of subtest_time's policy: windows within a day and days
 * that wrap over the week's end. */
static void time_weekly(const struct policy *p)
{
	const char *f = time_flow;
	struct flow_ctx c;

	c = at(NULL, 1, 9, 0);
	ASSERT_EQ(rule_no(p, f, &c), 1, "mon 09:00: the window starts");
	c = at(NULL, 5, 17, 29);
	ASSERT_EQ(rule_no(p, f, &c), 1, "fri 17:29");
	c = at(NULL, 3, 17, 29);
	ASSERT_EQ(rule_no(p, f, &c), 1, "wed 17:29");
	c = at(NULL, 3, 17, 30);
	ASSERT_EQ(rule_no(p, f, &c), 0, "wed 17:30: the end is exclusive");
	c = at(NULL, 3, 8, 59);
	ASSERT_EQ(rule_no(p, f, &c), 0, "wed 08:59");
	c = at(NULL, 6, 10, 0);
	ASSERT_EQ(rule_no(p, f, &c), 3, "sat 10:00: weekend, not office");
	c = at(NULL, 0, 10, 0);
	ASSERT_EQ(rule_no(p, f, &c), 3, "sun: fri-mon wraps");
	c = at(NULL, 1, 8, 0);
	ASSERT_EQ(rule_no(p, f, &c), 3, "mon 08:00: end of fri-mon");
	c = at(NULL, 2, 8, 0);
	ASSERT_EQ(rule_no(p, f, &c), 0, "tue 08:00");
	c = at(NULL, 4, 8, 0);
	ASSERT_EQ(rule_no(p, f, &c), 0, "thu 08:00");
}

/* Rules 2 and 4: a window that wraps over midnight, one that ends on it. */
static void time_midnight(const struct policy *p)
{
	const char *f = time_flow;
	struct flow_ctx c;

	/* 22:00-06:00 wraps over midnight. */
	c = at(NULL, 2, 22, 0);
	ASSERT_EQ(rule_no(p, f, &c), 2, "22:00");
	c = at(NULL, 2, 23, 59);
	ASSERT_EQ(rule_no(p, f, &c), 2, "23:59");
	c = at(NULL, 3, 0, 0);
	ASSERT_EQ(rule_no(p, f, &c), 2, "00:00");
	c = at(NULL, 3, 5, 59);
	ASSERT_EQ(rule_no(p, f, &c), 2, "05:59");
	c = at(NULL, 3, 6, 0);
	ASSERT_EQ(rule_no(p, f, &c), 0, "06:00");
	c = at(NULL, 2, 21, 59);
	ASSERT_EQ(rule_no(p, f, &c), 0, "21:59");

	/* 24:00 ends a window at midnight. */
	c = at(NULL, 3, 20, 0);
	ASSERT_EQ(rule_no(p, f, &c), 4, "wed 20:00");
	c = at(NULL, 3, 21, 59);
	ASSERT_EQ(rule_no(p, f, &c), 4, "wed 21:59");
	c = at(NULL, 4, 20, 0);
	ASSERT_EQ(rule_no(p, f, &c), 0, "thu 20:00");
}

static void subtest_time(void)
{
	struct policy *p = parse_ok(
		"rule \"office-hours\" allow time 09:00-17:30 days mon-fri;\n"
		"rule \"night\" deny time 22:00-06:00;\n"
		"rule \"weekend\" allow days fri-mon;\n"
		"rule \"till-midnight\" deny time 20:00-24:00 days wed;\n"
		"default deny;\n");
	const char *f = time_flow;
	struct flow_ctx c;

	if (!p)
		return;
	ASSERT_TRUE(p->has_time, "has_time");
	time_weekly(p);
	time_midnight(p);
	policy_free(p);

	/*
	 * days names the day the flow starts on: the part of a wrapping
	 * window after midnight belongs to the next day.
	 */
	p = parse_ok("rule allow time 22:00-02:00 days fri;\n");
	if (!p)
		return;
	c = at(NULL, 5, 23, 0);
	ASSERT_EQ(rule_no(p, f, &c), 1, "fri 23:00");
	c = at(NULL, 6, 1, 0);
	ASSERT_EQ(rule_no(p, f, &c), 0, "sat 01:00");
	c = at(NULL, 5, 1, 0);
	ASSERT_EQ(rule_no(p, f, &c), 1, "fri 01:00");
	policy_free(p);

	p = parse_ok("rule allow days Sat,sun-sun;\n");
	if (!p)
		return;
	ASSERT_EQ(p->rules[0].days, (1 << 6) | 1, "sat and sun only");
	ASSERT_TRUE(p->has_time, "days alone depend on time");
	policy_free(p);

	p = parse_ok("rule allow proto tcp;\n");
	if (!p)
		return;
	ASSERT_FALSE(p->has_time, "no time rule");
	policy_free(p);
}

static void subtest_all_must_hold(void)
{
	struct policy *p = parse_ok(
		"unit lan { 192.0.2.0/24; }\n"
		"rule \"all\" allow dir out iface eth0 vlan 5 proto tcp from lan\n"
		"\tto 198.51.100.0/24 sport 1024-65535 dport 443 time 08:00-18:00\n"
		"\tdays mon-fri;\n"
		"default deny;\n");
	struct flow_ctx c = at("eth0", 2, 12, 0), o;
	const char *ok = "out tcp 192.0.2.10:50000 198.51.100.1:443 vlan 5";

	if (!p)
		return;
	ASSERT_EQ(p->rules[0].line, 2, "line of a rule over three lines");
	ASSERT_EQ(rule_no(p, ok, &c), 1, "everything holds");
	ASSERT_EQ(rule_no(p, "in tcp 192.0.2.10:50000 198.51.100.1:443 vlan 5",
			  &c),
		  0, "dir");
	o = at("eth1", 2, 12, 0);
	ASSERT_EQ(rule_no(p, ok, &o), 0, "iface");
	ASSERT_EQ(rule_no(p, "out tcp 192.0.2.10:50000 198.51.100.1:443 vlan 6",
			  &c),
		  0, "vlan");
	ASSERT_EQ(rule_no(p, "out udp 192.0.2.10:50000 198.51.100.1:443 vlan 5",
			  &c),
		  0, "proto");
	ASSERT_EQ(rule_no(p, "out tcp 192.0.3.10:50000 198.51.100.1:443 vlan 5",
			  &c),
		  0, "from");
	ASSERT_EQ(rule_no(p, "out tcp 192.0.2.10:50000 198.51.101.1:443 vlan 5",
			  &c),
		  0, "to");
	ASSERT_EQ(rule_no(p, "out tcp 192.0.2.10:1000 198.51.100.1:443 vlan 5",
			  &c),
		  0, "sport");
	ASSERT_EQ(rule_no(p, "out tcp 192.0.2.10:50000 198.51.100.1:80 vlan 5",
			  &c),
		  0, "dport");
	o = at("eth0", 2, 18, 0);
	ASSERT_EQ(rule_no(p, ok, &o), 0, "time");
	o = at("eth0", 6, 12, 0);
	ASSERT_EQ(rule_no(p, ok, &o), 0, "days");
	policy_free(p);
}

/* ---- a large prefix table ---- */

#define TABLE_PREFIXES 100000
#define TABLE_QUERIES 10000
#define V4_MAPPED ((addr128)0xffff << 32)

struct pfx {
	addr128 lo, hi;
	int len;
	bool v6;
};

static __u64 rng_state;

/* xorshift64*: reproducible from the logged seed. */
static __u64 rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static addr128 rnd128(void)
{
	return ((addr128)rnd() << 64) | rnd();
}

static addr128 host_mask(int bits)
{
	return bits >= 128 ? ~(addr128)0
	       : bits <= 0 ? 0
			   : ((addr128)1 << bits) - 1;
}

static struct pfx make_pfx(bool v6, addr128 addr, int len)
{
	int width = v6 ? 128 : 32;
	addr128 m = host_mask(width - len);
	struct pfx p = { .len = len, .v6 = v6 };

	p.lo = (addr & ~m) & host_mask(width);
	if (!v6)
		p.lo |= V4_MAPPED;
	p.hi = p.lo | m;
	return p;
}

/*
 * Mostly random prefixes, IPv6 ones inside 2000::/3; every eighth is cut
 * from an earlier one (a longer prefix inside it, or its sibling), so the
 * table has the nesting and adjacency that merging must get right.
 */
static struct pfx random_pfx(const struct pfx *have, size_t n)
{
	if (n && !(rnd() % 8)) {
		const struct pfx *b = &have[rnd() % n];
		int width = b->v6 ? 128 : 32, len;
		addr128 a = b->lo & host_mask(width);

		if (b->len < width && rnd() % 2) {
			len = b->len + 1 + rnd() % (width - b->len);
			return make_pfx(b->v6,
					a | (rnd128() &
					     host_mask(width - b->len)),
					len);
		}
		if (b->len > 0)
			return make_pfx(b->v6,
					a ^ ((addr128)1 << (width - b->len)),
					b->len);
	}
	if (rnd() % 2) {
		int len = rnd() % 100 ? 16 + rnd() % 17 : 8 + rnd() % 8;

		return make_pfx(false, rnd() & 0xffffffff, len);
	}
	return make_pfx(true, ((addr128)1 << 125) | (rnd128() & host_mask(125)),
			16 + rnd() % 113);
}

static int pfx_cmp(const void *a, const void *b)
{
	const struct pfx *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->len - y->len;
}

static void pfx_str(const struct pfx *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (p->v6) {
		unsigned char b[16];
		int i;

		for (i = 0; i < 16; i++)
			b[i] = p->lo >> (8 * (15 - i));
		inet_ntop(AF_INET6, b, a, sizeof(a));
	} else {
		struct in_addr in = { htonl((__u32)p->lo) };

		inet_ntop(AF_INET, &in, a, sizeof(a));
	}
	/* A full-length prefix is mostly written as a bare address. */
	if (p->len == (p->v6 ? 128 : 32) && (p->lo & 1) == 0)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%d", a, p->len);
}

static bool naive_contains(const struct pfx *t, size_t n, addr128 a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a >= t[i].lo && a <= t[i].hi)
			return true;
	return false;
}

static struct flowbpf_key key_from(addr128 a)
{
	struct flowbpf_key k = { .dir = FLOWBPF_DIR_INGRESS, .proto = 6 };
	int i;

	k.family = (a >> 32) == 0xffff ? 4 : 6;
	for (i = 0; i < 4; i++)
		k.saddr[i] = htonl((__u32)(a >> (32 * (3 - i))));
	k.daddr[2] = htonl(0xffff);
	k.daddr[3] = htonl(0xc6120001);
	return k;
}

/* The table subtest_prefix_table loads, and the queries it asks of it. */
struct table_test {
	struct pfx *t;
	size_t n;
	addr128 *q;
	bool *want;
	struct policy *p;
	char path[128];
};

/* Distinct: sort, drop repeats, top up, until there are enough. */
static void table_make(struct table_test *tt)
{
	struct pfx *t = tt->t;
	size_t n = 0, i;

	while (n < TABLE_PREFIXES) {
		size_t m = 0;

		while (n < TABLE_PREFIXES) {
			t[n] = random_pfx(t, n);
			n++;
		}
		qsort(t, n, sizeof(*t), pfx_cmp);
		for (i = 0; i < n; i++)
			if (!m || pfx_cmp(&t[m - 1], &t[i]))
				t[m++] = t[i];
		n = m;
	}
	tt->n = n;
}

/* Written in shuffled order, with comments and blanks: the loader must
 * sort and skip them. */
static bool table_write(struct table_test *tt)
{
	struct pfx *t = tt->t;
	size_t n = tt->n, i, v6 = 0;
	char line[96];
	FILE *f;

	f = fopen(tt->path, "w");
	if (!ASSERT_OK_PTR(f, "create table"))
		return false;
	fprintf(f, "# %d random prefixes\n\n", TABLE_PREFIXES);
	for (i = 0; i < n; i++) {
		size_t j = i + rnd() % (n - i);
		struct pfx tmp = t[i];

		t[i] = t[j];
		t[j] = tmp;
		pfx_str(&t[i], line, sizeof(line));
		switch (i % 50) {
		case 0:
			fprintf(f, "%s  # with a comment\n", line);
			break;
		case 1:
			fprintf(f, "\t %s \r\n", line);
			break;
		case 2:
			fprintf(f, "%s\n# a comment line\n\n", line);
			break;
		default:
			fprintf(f, "%s\n", line);
		}
		v6 += t[i].v6;
	}
	if (!ASSERT_OK(fclose(f), "write table"))
		return false;
	test__log("  %zu ipv4 and %zu ipv6 prefixes\n", n - v6, v6);
	return true;
}

static bool table_load(struct table_test *tt)
{
	char text[256], err[512] = "";
	double load_ns;
	__u64 t0, t1;

	snprintf(text, sizeof(text),
		 "unit big file \"%s\";\nrule \"listed\" deny from big;\n",
		 tt->path);
	t0 = mono_now_ns();
	tt->p = parse_text(text, err, sizeof(err));
	t1 = mono_now_ns();
	load_ns = (double)(t1 - t0);
	if (!ASSERT_OK_PTR(tt->p, "load") || !ASSERT_STREQ(err, "", "no error"))
		return false;
	test__log("  loaded in %.1f ms\n", load_ns / 1e6);
	/* An emulated CPU (make vmtest under TCG) is 10-30 times slower. */
	ASSERT_LE(load_ns, getenv("VMTEST") ? 5e9 : 1e9,
		  "loads in under a second (5 s emulated)");
	ASSERT_EQ(tt->p->units[0].prefixes, TABLE_PREFIXES, "prefixes counted");
	return true;
}

/* Sorted, disjoint and merged: adjacent ranges would be one. */
static void table_check_merged(const struct addrset *s)
{
	size_t i, ordered = 0;

	for (i = 0; i < s->n; i++)
		ordered += s->lo[i] <= s->hi[i] &&
			   (i + 1 == s->n || s->hi[i] + 1 < s->lo[i + 1]);
	ASSERT_EQ(ordered, s->n, "ranges sorted, disjoint, not adjacent");
	ASSERT_LE(s->n, TABLE_PREFIXES - 1000, "nested and adjacent merged");
	test__log("  %zu ranges after merging\n", s->n);
}

/*
 * Queries: random addresses of each family (mostly misses), addresses
 * inside a listed prefix, and the edges of listed prefixes with the
 * addresses just outside them.  The answers come from a linear scan.
 */
static bool table_queries(struct table_test *tt)
{
	addr128 *q;
	size_t i, hits = 0;

	tt->q = q = calloc(TABLE_QUERIES, sizeof(*q));
	tt->want = calloc(TABLE_QUERIES, sizeof(*tt->want));
	if (!ASSERT_OK_PTR(q, "calloc") || !ASSERT_OK_PTR(tt->want, "calloc"))
		return false;
	for (i = 0; i < TABLE_QUERIES; i++) {
		const struct pfx *b = &tt->t[rnd() % tt->n];

		switch (i % 6) {
		case 0:
			q[i] = V4_MAPPED | (rnd() & 0xffffffff);
			break;
		case 1:
			q[i] = ((addr128)1 << 125) |
			       (rnd128() & host_mask(125));
			break;
		case 2:
			q[i] = b->lo + (rnd128() & (b->hi - b->lo));
			break;
		case 3:
			q[i] = b->lo - 1;
			break;
		case 4:
			q[i] = b->hi + 1;
			break;
		default:
			q[i] = rnd() % 2 ? b->lo : b->hi;
		}
		tt->want[i] = naive_contains(tt->t, tt->n, q[i]);
		hits += tt->want[i];
	}
	test__log("  %zu of %d queries are in the table\n", hits,
		  TABLE_QUERIES);
	ASSERT_GE(hits, TABLE_QUERIES / 3, "enough hits");
	ASSERT_LE(hits, TABLE_QUERIES * 5 / 6, "enough misses");
	return true;
}

static void table_lookups(const struct table_test *tt, const struct addrset *s)
{
	const addr128 *q = tt->q;
	size_t i, agree = 0;
	double match_ns;
	__u64 t0, t1;

	for (i = 0; i < TABLE_QUERIES; i++)
		agree += addrset_contains(s, (q[i] >> 32) == 0xffff ? 4 : 6,
					  q[i]) == tt->want[i];
	ASSERT_EQ(agree, TABLE_QUERIES, "addrset agrees with a linear scan");

	agree = 0;
	t0 = mono_now_ns();
	for (i = 0; i < TABLE_QUERIES; i++) {
		struct flowbpf_key k = key_from(q[i]);

		agree += (policy_match(tt->p, &k, noon()) == 0) == tt->want[i];
	}
	t1 = mono_now_ns();
	match_ns = (double)(t1 - t0) / TABLE_QUERIES;
	ASSERT_EQ(agree, TABLE_QUERIES, "policy_match agrees");
	test__log("  %.0f ns a lookup over %zu ranges\n", match_ns, s->n);
	/* A scan of the ranges would take tens of microseconds. */
	ASSERT_LE(match_ns, 5000, "lookup is a binary search");
}

static void subtest_prefix_table(void)
{
	struct table_test tt = {};
	const struct addrset *s;

	rng_state = 0x5eed0f10b9f00dULL;
	test__log("  prefix table seed %#llx\n", (unsigned long long)rng_state);
	snprintf(tt.path, sizeof(tt.path), "%s/table.txt", scratch());

	tt.t = calloc(TABLE_PREFIXES, sizeof(*tt.t));
	if (!ASSERT_OK_PTR(tt.t, "calloc"))
		return;
	table_make(&tt);
	if (!table_write(&tt) || !table_load(&tt))
		goto out;
	s = &tt.p->units[0].set;
	table_check_merged(s);
	if (!table_queries(&tt))
		goto out;
	table_lookups(&tt, s);
out:
	policy_free(tt.p);
	free(tt.t);
	free(tt.q);
	free(tt.want);
	unlink(tt.path);
}

/* ---- the policy command ---- */

static const char cli_policy[] =
	"# flowbpf policy selftest\n"
	"unit lan { 192.0.2.0/24; 2001:db8:1::/48; }\n"
	"default deny;\n"
	"rule \"ssh-in\" allow dir in proto tcp from lan dport 22;\n"
	"rule allow dir out;\n"
	"rule \"vlan-iface\" allow iface eth9 vlan 7;\n"
	"rule \"weekend\" allow days sat,sun time 10:00-12:00;\n";

static void subtest_cli_check(void)
{
	char path[128], bad[128], want[512];
	char *out = NULL, *err = NULL;
	json_t *j;
	int rc;

	snprintf(path, sizeof(path), "%s/good.conf", scratch());
	snprintf(bad, sizeof(bad), "%s/bad.conf", scratch());
	if (!ASSERT_OK(write_file(path, cli_policy), "write policy") ||
	    !ASSERT_OK(write_file(bad, "unit office { 192.0.2.0/24; }\n"
				       "rule allow to office;\n"
				       "rule deny to offce;\n"),
		       "write policy"))
		return;

	rc = run(&out, &err, "%s policy check %s", flowbpf_bin(), path);
	ASSERT_EQ(rc, 0, "valid: exit 0");
	snprintf(want, sizeof(want),
		 "%s: ok: 1 units (2 prefixes), 4 rules, default drop\n", path);
	ASSERT_STREQ(out, want, "summary");
	ASSERT_STREQ(err, "", "nothing on stderr");
	free(out), free(err), out = err = NULL;

	rc = run_json(&j, "%s -j policy check %s", flowbpf_bin(), path);
	ASSERT_EQ(rc, 0, "valid -j: exit 0");
	if (ASSERT_OK_PTR(j, "json parses")) {
		ASSERT_TRUE(json_is_true(json_object_get(j, "valid")), "valid");
		ASSERT_EQ(json_integer_value(json_object_get(j, "units")), 1,
			  "units");
		ASSERT_EQ(json_integer_value(json_object_get(j, "prefixes")), 2,
			  "prefixes");
		ASSERT_EQ(json_integer_value(json_object_get(j, "rules")), 4,
			  "rules");
		ASSERT_STREQ(json_string_value(json_object_get(j, "default")),
			     "drop", "default");
		json_decref(j);
	}

	rc = run(&out, &err, "%s policy check %s", flowbpf_bin(), bad);
	ASSERT_EQ(rc, 1, "invalid: exit 1");
	snprintf(want, sizeof(want), "Error: %s:3:14: unknown unit 'offce'\n",
		 bad);
	ASSERT_STREQ(err, want, "FILE:LINE:COL on stderr");
	ASSERT_STREQ(out, "", "nothing on stdout");
	free(out), free(err), out = err = NULL;

	rc = run_json(&j, "%s -j policy check %s", flowbpf_bin(), bad);
	ASSERT_EQ(rc, 1, "invalid -j: exit 1");
	snprintf(want, sizeof(want), "%s:3:14: unknown unit 'offce'", bad);
	if (ASSERT_OK_PTR(j, "json error parses")) {
		ASSERT_STREQ(json_string_value(json_object_get(j, "error")),
			     want, "json error");
		json_decref(j);
	}

	rc = run(&out, &err, "%s policy check %s/none.conf", flowbpf_bin(),
		 scratch());
	ASSERT_EQ(rc, 1, "missing file: exit 1");
	snprintf(want, sizeof(want),
		 "Error: %s/none.conf: No such file or directory\n", scratch());
	ASSERT_STREQ(err, want, "missing file message");
	free(out), free(err), out = err = NULL;

	rc = run(NULL, NULL, "%s policy check", flowbpf_bin());
	ASSERT_EQ(rc, 2, "no file: usage error");
	unlink(path);
	unlink(bad);
}

/* Each rule of cli_policy, named and unnamed, and the default. */
static void cli_test_text(const char *path)
{
	char want[512], *out = NULL;
	int rc;

	rc = run(&out, NULL,
		 "%s policy test %s in tcp 192.0.2.7:40000 198.51.100.1:22",
		 flowbpf_bin(), path);
	ASSERT_EQ(rc, 0, "exit 0");
	snprintf(
		want, sizeof(want),
		"in tcp 192.0.2.7:40000 198.51.100.1:22: rule 1 \"ssh-in\" (%s line 4): allow\n",
		path);
	ASSERT_STREQ(out, want, "named rule and line");
	free(out), out = NULL;

	/* A quoted flow is split like the shell would. */
	rc = run(
		&out, NULL,
		"%s policy test %s 'out udp [2001:db8::5]:5353 [ff02::fb]:5353'",
		flowbpf_bin(), path);
	ASSERT_EQ(rc, 0, "exit 0");
	snprintf(
		want, sizeof(want),
		"out udp [2001:db8::5]:5353 [ff02::fb]:5353: rule 2 (%s line 5): allow\n",
		path);
	ASSERT_STREQ(out, want, "unnamed rule");
	free(out), out = NULL;

	rc = run(
		&out, NULL,
		"%s policy test --time 'sat 09:00' %s in tcp 198.51.100.9:40000 192.0.2.7:22",
		flowbpf_bin(), path);
	ASSERT_EQ(rc, 0, "a deny is not an error");
	ASSERT_STREQ(
		out,
		"in tcp 198.51.100.9:40000 192.0.2.7:22: no rule matches: default deny\n",
		"default");
	free(out), out = NULL;

	rc = run(
		&out, NULL,
		"%s policy test --iface eth9 %s in udp 198.51.100.9:1 192.0.2.7:2 vlan 7",
		flowbpf_bin(), path);
	snprintf(
		want, sizeof(want),
		"in udp 198.51.100.9:1 192.0.2.7:2 vlan 7: rule 3 \"vlan-iface\" (%s line 6): allow\n",
		path);
	ASSERT_STREQ(out, want, "--iface");
	free(out), out = NULL;

	rc = run(
		&out, NULL,
		"%s policy test --time 'sun 11:59' %s in icmp 198.51.100.9 192.0.2.7 type 8 code 0",
		flowbpf_bin(), path);
	snprintf(
		want, sizeof(want),
		"in icmp 198.51.100.9 192.0.2.7 type 8 code 0: rule 4 \"weekend\" (%s line 7): allow\n",
		path);
	ASSERT_STREQ(out, want, "--time on the weekend");
	free(out), out = NULL;

	rc = run(
		&out, NULL,
		"%s policy test --time 'mon 11:59' %s in icmp 198.51.100.9 192.0.2.7 type 8 code 0",
		flowbpf_bin(), path);
	ASSERT_HAS(out, "no rule matches: default deny", "--time on a monday");
	free(out);
}

/* JSON numbers rules from 0, the text from 1. */
static void cli_test_json(const char *path)
{
	json_t *j;
	int rc;

	rc = run_json(
		&j,
		"%s -j policy test %s in tcp 192.0.2.7:40000 198.51.100.1:22",
		flowbpf_bin(), path);
	ASSERT_EQ(rc, 0, "-j exit 0");
	if (ASSERT_OK_PTR(j, "json parses")) {
		ASSERT_STREQ(json_string_value(json_object_get(j, "flow")),
			     "in tcp 192.0.2.7:40000 198.51.100.1:22", "flow");
		ASSERT_STREQ(json_string_value(json_object_get(j, "verdict")),
			     "pass", "verdict");
		ASSERT_EQ(json_integer_value(json_object_get(j, "rule")), 0,
			  "rule index");
		ASSERT_STREQ(json_string_value(json_object_get(j, "rule_name")),
			     "ssh-in", "rule_name");
		ASSERT_EQ(json_integer_value(json_object_get(j, "line")), 4,
			  "line");
		json_decref(j);
	}

	run_json(
		&j,
		"%s -j policy test --time 'sat 09:00' %s in tcp 198.51.100.9:1 192.0.2.7:22",
		flowbpf_bin(), path);
	if (ASSERT_OK_PTR(j, "json parses")) {
		ASSERT_TRUE(json_is_null(json_object_get(j, "rule")),
			    "rule null for the default");
		ASSERT_STREQ(json_string_value(json_object_get(j, "verdict")),
			     "drop", "default verdict");
		json_decref(j);
	}
}

/* Usage errors exit 2, an invalid policy 1, each with its message. */
static void cli_test_errors(const char *path)
{
	char want[512], *err = NULL;
	int rc;

	rc = run(NULL, &err, "%s policy test %s in tcp 192.0.2.7",
		 flowbpf_bin(), path);
	ASSERT_EQ(rc, 2, "bad flow: usage error");
	ASSERT_HAS(err, "cannot parse the flow", "bad flow message");
	free(err), err = NULL;

	rc = run(
		NULL, &err,
		"%s policy test --time 25:00 %s in tcp 192.0.2.7:1 192.0.2.8:2",
		flowbpf_bin(), path);
	ASSERT_EQ(rc, 2, "bad --time: usage error");
	ASSERT_HAS(err, "--time must be HH:MM", "bad --time message");
	free(err), err = NULL;

	/* An invalid policy is reported as by check. */
	ASSERT_OK(write_file(
			  path,
			  "default deny;\nrule allow proto tcp dport 70000;\n"),
		  "write policy");
	rc = run(NULL, &err, "%s policy test %s in tcp 192.0.2.7:1 192.0.2.8:2",
		 flowbpf_bin(), path);
	ASSERT_EQ(rc, 1, "invalid policy: exit 1");
	snprintf(want, sizeof(want),
		 "Error: %s:2:28: port out of range in '70000' (0-65535)\n",
		 path);
	ASSERT_STREQ(err, want, "message");
	free(err);
}

static void subtest_cli_test(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/test.conf", scratch());
	if (!ASSERT_OK(write_file(path, cli_policy), "write policy"))
		return;
	cli_test_text(path);
	cli_test_json(path);
	cli_test_errors(path);
	unlink(path);
}

void test_policy(void)
{
	char name[96];
	size_t i;

	for (i = 0; i < sizeof(bad_policies) / sizeof(bad_policies[0]); i++) {
		snprintf(name, sizeof(name), "error_%s", bad_policies[i].name);
		if (test__start_subtest(name))
			check_bad(bad_policies[i].text, bad_policies[i].err);
	}
	if (test__start_subtest("error_prefix_file"))
		subtest_prefix_file_errors();
	if (test__start_subtest("error_table_lines"))
		subtest_table_lines();
	if (test__start_subtest("error_table_names"))
		subtest_table_names();
	if (test__start_subtest("error_word_at_eof"))
		subtest_word_at_eof();
	if (test__start_subtest("error_not_regular"))
		subtest_not_regular();
	if (test__start_subtest("many_units"))
		subtest_many_units();
	if (test__start_subtest("first_match_wins"))
		subtest_first_match_wins();
	if (test__start_subtest("default"))
		subtest_default();
	if (test__start_subtest("dir"))
		subtest_dir();
	if (test__start_subtest("iface"))
		subtest_iface();
	if (test__start_subtest("vlan"))
		subtest_vlan();
	if (test__start_subtest("proto"))
		subtest_proto();
	if (test__start_subtest("addresses"))
		subtest_addresses();
	if (test__start_subtest("family"))
		subtest_family();
	if (test__start_subtest("family_mapped"))
		subtest_family_mapped();
	if (test__start_subtest("zero_length_prefix"))
		subtest_zero_length_prefix();
	if (test__start_subtest("unit_defined_after_use"))
		subtest_unit_defined_after_use();
	if (test__start_subtest("ports"))
		subtest_ports();
	if (test__start_subtest("icmp"))
		subtest_icmp();
	if (test__start_subtest("time"))
		subtest_time();
	if (test__start_subtest("all_must_hold"))
		subtest_all_must_hold();
	if (test__start_subtest("prefix_table"))
		subtest_prefix_table();
	if (test__start_subtest("cli_check"))
		subtest_cli_check();
	if (test__start_subtest("cli_test"))
		subtest_cli_test();
	if (tmpdir[0])
		rmdir(tmpdir);
}
