/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The policy language (docs/policy.md): named units of prefixes, ordered
 * allow/deny rules, first match wins, and a default verdict.
 *
 * A policy is parsed into an immutable struct policy; the daemon swaps
 * whole policies on reload, so evaluation never sees a half-built one.
 */
#ifndef FLOWBPF_POLICY_H
#define FLOWBPF_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <net/if.h>
#include <linux/types.h>
#include "flowbpf.h"

typedef unsigned __int128 addr128;

/*
 * A set of addresses: sorted, disjoint, merged [lo, hi] ranges, the IPv4
 * ones (stored IPv4-mapped) first, n4 of them, then the IPv6 ones.  The
 * families are kept apart so that an IPv6 address in ::ffff:0:0/96 never
 * matches an IPv4 prefix, nor an IPv4 address an IPv6 prefix.
 */
struct addrset {
	addr128 *lo, *hi;
	size_t n, n4;
};

/* family: 4 or 6, as in struct flowbpf_key. */
bool addrset_contains(const struct addrset *s, int family, addr128 a);

struct unit {
	char *name;
	struct addrset set;
	size_t prefixes; /* as written, before merging */
	int line;
};

struct range16 {
	__u16 lo, hi;
};

/* One address match: a unit (by index: units move while parsing) or an
 * inline set of its own. */
struct addr_match {
	int unit; /* -1: own */
	struct addrset own;
	bool negate;
};

enum { MATCH_DIR = 1 << 0 };

struct rule {
	char *name; /* "" when unnamed */
	int line;
	__u32 verdict; /* FLOWBPF_VERDICT_PASS or _DROP */
	int dir; /* -1 any, else FLOWBPF_DIR_* */
	char (*ifaces)[IF_NAMESIZE];
	size_t nifaces;
	struct range16 *vlans;
	size_t nvlans;
	__u8 *protos;
	size_t nprotos;
	struct addr_match *from, *to; /* NULL: any */
	struct range16 *sports, *dports, *ports; /* ports: either side */
	size_t nsports, ndports, nports;
	int icmp_type, icmp_code; /* -1: any */
	int tun_type; /* -1: any, else enum flowbpf_tun_type (0: none) */
	bool tun_has_id;
	__u32 tun_id; /* with tun_has_id */
	int tmin_from, tmin_to; /* minutes of the day, -1: any time */
	__u8 days; /* bit 0 = Sunday .. 6; 0: every day */
	__u64 hits; /* flows decided by this rule */
};

/*
 * Accounting (docs/units.md): the units whose traffic is totalled, the
 * classes that split it by the other end, port or protocol, and quotas.
 * A unit's in is traffic toward it (the flow's destination is in it),
 * its out traffic from it.
 */
enum { ACCT_IN = 0, ACCT_OUT = 1 };

struct acct_class {
	char *name;
	int line;
	struct rule m; /* peer in m.to (the other end), proto, ports */
	double price; /* per GB (10^9 bytes); < 0: none */
};

/* The name of the traffic no class takes. */
#define ACCT_CLASS_OTHER "other"

enum acct_period {
	PERIOD_MINUTE,
	PERIOD_HOUR,
	PERIOD_DAY,
	PERIOD_WEEK,
	PERIOD_MONTH,
	PERIOD_SECONDS, /* a fixed length: quotas only (tests, short terms) */
};

#define QUOTA_SOFT_MAX 4

struct acct_quota {
	int line;
	int unit; /* index into units */
	int cls; /* index into classes, nclasses for "other", -1: any */
	int dir; /* ACCT_IN, ACCT_OUT, -1: both */
	__u64 limit; /* bytes per period */
	int period; /* enum acct_period */
	__u64 period_s; /* PERIOD_SECONDS: its length */
	bool warn_only; /* no block at the limit, a warning */
	__u8 soft[QUOTA_SOFT_MAX]; /* percent of the limit, ascending */
	int nsoft;
};

struct policy {
	char *file;
	struct unit *units;
	size_t nunits;
	struct rule *rules;
	size_t nrules;
	__u32 dflt; /* default verdict */
	bool has_time; /* some rule depends on the time of day */
	__u64 default_hits;
	int *acct_units; /* indexes into units, in the order accounted */
	size_t nacct;
	struct acct_class *classes;
	size_t nclasses;
	struct acct_quota *quotas;
	size_t nquotas;
};

/* What a flow is evaluated on besides its key. */
struct flow_ctx {
	const char *ifname;
	struct tm now; /* local time */
};

/* The largest policy file, and the largest prefix table, in MiB. */
#define POLICY_FILE_MAX_MIB 64

/*
 * Parses FILE.  On error returns NULL, with "FILE:LINE:COL: message" in
 * err_get() (log.h), as every constructor of flowbpf reports.
 */
struct policy *policy_load(const char *file);
/* The same from a string; name is used in messages.  For tests. */
struct policy *policy_parse(const char *name, const char *text);
void policy_free(struct policy *p);

/* Index of the first matching rule, or -1 for the default. */
int policy_match(const struct policy *p, const struct flowbpf_key *k,
		 const struct flow_ctx *c);
/* The verdict for a match result. */
__u32 policy_verdict(const struct policy *p, int rule);

/*
 * The class of k's traffic for the unit on its side src (source or
 * destination): the first class whose matches hold, with the peer the
 * other side; nclasses when none.
 */
int acct_class_of(const struct policy *p, const struct flowbpf_key *k,
		  bool src);
/* "day", "5m", ...: the name of a quota's period. */
void acct_period_str(const struct acct_quota *q, char *buf, size_t len);

/* An address of a key side as a 128-bit number (IPv4 mapped). */
addr128 key_addr128(const struct flowbpf_key *k, bool src);

#endif
