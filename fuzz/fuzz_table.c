// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Prefix tables (docs/policy.md, "unit NAME file PATH") on arbitrary
 * bytes.  The input is the table; the policy that reads it is fixed:
 *
 *	unit t file "DIR/table";
 *
 * Each line is also judged here, on its own, by the rules docs/policy.md
 * gives: one '\r' before the line end is dropped; a NUL byte, or more
 * than 510 characters, refuse the line; '#' starts a comment; blanks
 * around the entry are ignored; an entry is ADDRESS or ADDRESS/LENGTH,
 * with no host bits set.
 *
 * Checks: the table loads exactly when every line is good, and otherwise
 * fails at the first bad line, named "DIR/table:LINE:1:" with the right
 * complaint; a loaded unit counts its entries, its set is sorted and
 * merged (fuzz/sets.h), and, for tables of up to 64 entries, holds
 * exactly the addresses of its entries, IPv4 and IPv6 apart.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include "fuzz.h"
#include "sets.h"
#include "log.h"
#include "policy.h"

#define LINE_MAX_LEN 510
#define ORACLE_MAX 64

enum line_kind {
	LINE_EMPTY,
	LINE_ENTRY,
	BAD_NUL,
	BAD_LONG,
	BAD_HOST,
	BAD_LENGTH,
	BAD_ADDR
};

static const char *const complaint[] = {
	[BAD_NUL] = "contains a NUL byte",
	[BAD_LONG] = "line longer than 510 characters",
	[BAD_HOST] = "host bits set in",
	[BAD_LENGTH] = "invalid prefix length in",
	[BAD_ADDR] = "invalid address or prefix",
};

struct entry {
	addr128 lo, hi;
	int fam;
};

/* ADDRESS[/LENGTH] as the table's syntax has it. */
static enum line_kind entry_parse(const char *s, struct entry *e)
{
	char addr[64];
	const char *slash = strchr(s, '/'), *d;
	unsigned char b[16];
	unsigned int len, max, i;
	addr128 host;

	/* The parser takes no entry of INET6_ADDRSTRLEN + 8 bytes or more. */
	if (strlen(s) >= INET6_ADDRSTRLEN + 8)
		return BAD_ADDR;
	snprintf(addr, sizeof(addr), "%.*s",
		 slash ? (int)(slash - s) : (int)strlen(s), s);
	e->lo = 0;
	if (inet_pton(AF_INET, addr, b) == 1) {
		e->fam = 4;
		max = 32;
		e->lo = V4_MAPPED | (addr128)b[0] << 24 | b[1] << 16 |
			b[2] << 8 | b[3];
	} else if (inet_pton(AF_INET6, addr, b) == 1) {
		e->fam = 6;
		max = 128;
		for (i = 0; i < 16; i++)
			e->lo = e->lo << 8 | b[i];
	} else {
		return BAD_ADDR;
	}
	len = max;
	if (slash) {
		/* Decimal digits only; leading zeros are allowed. */
		if (!slash[1])
			return BAD_LENGTH;
		len = 0;
		for (d = slash + 1; *d; d++) {
			if (!isdigit((unsigned char)*d))
				return BAD_LENGTH;
			len = len * 10 + (*d - '0');
			if (len > max)
				return BAD_LENGTH;
		}
	}
	host = len == max		? 0
	       : len == 0 && max == 128 ? ~(addr128)0
					: ((addr128)1 << (max - len)) - 1;
	if (e->lo & host)
		return BAD_HOST;
	e->hi = e->lo | host;
	return LINE_ENTRY;
}

/* One line, s[0..n) without its '\n'. */
static enum line_kind judge_line(const char *s, size_t n, struct entry *e)
{
	char buf[LINE_MAX_LEN + 1], *p, *end, *hash;

	if (n && s[n - 1] == '\r')
		n--;
	if (memchr(s, '\0', n))
		return BAD_NUL;
	if (n > LINE_MAX_LEN)
		return BAD_LONG;
	memcpy(buf, s, n);
	buf[n] = '\0';
	hash = strchr(buf, '#');
	if (hash)
		*hash = '\0';
	for (p = buf; isspace((unsigned char)*p); p++)
		;
	for (end = p + strlen(p); end > p && isspace((unsigned char)end[-1]);)
		*--end = '\0';
	if (!*p)
		return LINE_EMPTY;
	return entry_parse(p, e);
}

static bool entries_hold(const struct entry *e, size_t n, int fam, addr128 a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (e[i].fam == fam && e[i].lo <= a && a <= e[i].hi)
			return true;
	return false;
}

static void probe(const struct addrset *s, const struct entry *e, size_t n,
		  int fam, addr128 a)
{
	bool want = entries_hold(e, n, fam, a);

	CHECKF(addrset_contains(s, fam, a) == want,
	       "IPv%d address %016llx%016llx should%s be in the set", fam,
	       (unsigned long long)(a >> 64), (unsigned long long)a,
	       want ? "" : " not");
}

/* The set holds the entries' addresses and no other. */
static void check_members(const struct addrset *s, const struct entry *e,
			  size_t n)
{
	size_t i;
	int other;

	for (i = 0; i < n; i++) {
		other = e[i].fam == 4 ? 6 : 4;
		probe(s, e, n, e[i].fam, e[i].lo);
		probe(s, e, n, e[i].fam, e[i].hi);
		probe(s, e, n, other, e[i].lo);
		if (e[i].lo)
			probe(s, e, n, e[i].fam, e[i].lo - 1);
		if (e[i].hi != ~(addr128)0)
			probe(s, e, n, e[i].fam, e[i].hi + 1);
	}
	for (i = 0; i < s->n; i++) {
		int fam = i < s->n4 ? 4 : 6;

		if (s->lo[i])
			probe(s, e, n, fam, s->lo[i] - 1);
		if (s->hi[i] != ~(addr128)0)
			probe(s, e, n, fam, s->hi[i] + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *table, *conf;
	static char text[PATH_MAX + 64];
	struct entry *e = NULL, one;
	const char *line = (const char *)data, *end = line + size, *nl;
	size_t n = 0, lineno = 0, bad_line = 0;
	enum line_kind v, bad = LINE_EMPTY;
	char err[1024] = "", want[PATH_MAX + 32];
	struct policy *p;

	if (!table) {
		table = fuzz_path("table");
		conf = fuzz_path("policy.conf");
		CHECK(snprintf(text, sizeof(text), "unit t file \"%s\";\n",
			       table) < (int)sizeof(text));
		fuzz_write(conf, text, strlen(text));
	}
	fuzz_write(table, data, size);

	e = malloc((size / 2 + 1) * sizeof(*e));
	CHECK(e);
	for (; line < end; line = nl + 1) {
		nl = memchr(line, '\n', end - line);
		if (!nl)
			nl = end;
		lineno++;
		v = judge_line(line, nl - line, &one);
		if (v == LINE_ENTRY)
			e[n++] = one;
		else if (v != LINE_EMPTY) {
			bad = v;
			bad_line = lineno;
			break;
		}
	}

	/* Loaded as the daemon loads a policy. */
	p = policy_load(conf);
	snprintf(err, sizeof(err), "%s", p ? "" : err_get());
	if (bad != LINE_EMPTY) {
		CHECKF(!p, "line %zu is bad (%s) but the table loaded",
		       bad_line, complaint[bad]);
		snprintf(want, sizeof(want), "%s:%zu:1: %s", table, bad_line,
			 complaint[bad]);
		CHECKF(!strncmp(err, want, strlen(want)),
		       "got \"%s\", not \"%s\"", err, want);
	} else {
		CHECKF(p, "every line is good, yet: %s", err);
		CHECK(p->nunits == 1 && !p->nrules);
		CHECK(p->units[0].prefixes == n);
		check_addrset(&p->units[0].set);
		if (n <= ORACLE_MAX)
			check_members(&p->units[0].set, e, n);
	}
	policy_free(p);
	free(e);
	return 0;
}
