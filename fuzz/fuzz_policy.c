// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The policy parser on arbitrary text, loaded from a file as the daemon
 * loads it (policy_load) and parsed from memory (policy_parse).
 *
 * Input: a policy, then optionally a line "%%" and a prefix table, which
 * is written to the file "@@/table".  Every "@@" of the policy stands for
 * the harness's private directory, so that the policy can name the table
 * (unit t file "@@/table";), itself ("@@/policy.conf"), the directory
 * ("@@") or a file that is not there ("@@/none").
 *
 * Checks:
 * - both entry points give the same result and the same message, and
 *   policy_load refuses a text with a NUL byte;
 * - a failure always says why;
 * - a policy that loads has every field within its range, sorted and
 *   merged address sets (fuzz/sets.h) and unit references that hold;
 * - policy_match() answers -1 or a rule, and a flow made to meet every
 *   match of rule i is decided by rule i or an earlier one (first match
 *   wins).
 */
#include <arpa/inet.h>
#include "fuzz.h"
#include "sets.h"
#include "log.h"
#include "policy.h"

static const char *policy_file, *table_file;

/* s[0..n) with every "@@" replaced by dir, NUL-terminated. */
static char *expand(const uint8_t *s, size_t n, const char *dir, size_t *len)
{
	size_t dlen = strlen(dir), i, k = 0, at = 0;
	char *out;

	for (i = 0; i + 1 < n; i++)
		if (s[i] == '@' && s[i + 1] == '@')
			at++, i++;
	out = malloc(n + at * dlen + 1);
	CHECK(out);
	for (i = 0; i < n; i++) {
		if (i + 1 < n && s[i] == '@' && s[i + 1] == '@') {
			memcpy(out + k, dir, dlen);
			k += dlen;
			i++;
		} else {
			out[k++] = s[i];
		}
	}
	out[k] = '\0';
	*len = k;
	return out;
}

static bool verdict_ok(__u32 v)
{
	return v == FLOWBPF_VERDICT_PASS || v == FLOWBPF_VERDICT_DROP;
}

static bool has_ports(__u8 proto)
{
	return proto == 6 || proto == 17 || proto == 132 || proto == 33 ||
	       proto == 136;
}

static void check_ranges(const struct range16 *v, size_t n, unsigned int max)
{
	size_t i;

	CHECK(!n || v);
	for (i = 0; i < n; i++)
		CHECKF(v[i].lo <= v[i].hi && v[i].hi <= max, "%u-%u", v[i].lo,
		       v[i].hi);
}

static void check_addr_match(const struct policy *p, const struct addr_match *m)
{
	if (!m)
		return;
	if (m->unit >= 0) {
		CHECK((size_t)m->unit < p->nunits);
		CHECK(!m->own.n);
	} else {
		CHECK(m->unit == -1);
		check_addrset(&m->own);
	}
}

static void check_rule(const struct policy *p, const struct rule *r)
{
	size_t i;

	CHECK(r->name);
	CHECK(r->line >= 1);
	CHECK(verdict_ok(r->verdict));
	CHECK(r->dir == -1 || r->dir == FLOWBPF_DIR_INGRESS ||
	      r->dir == FLOWBPF_DIR_EGRESS);
	for (i = 0; i < r->nifaces; i++)
		CHECK(r->ifaces[i][0] &&
		      strnlen(r->ifaces[i], IF_NAMESIZE) < IF_NAMESIZE);
	check_ranges(r->vlans, r->nvlans, 4095);
	check_ranges(r->sports, r->nsports, 65535);
	check_ranges(r->dports, r->ndports, 65535);
	check_ranges(r->ports, r->nports, 65535);
	check_addr_match(p, r->from);
	check_addr_match(p, r->to);
	CHECK(r->icmp_type >= -1 && r->icmp_type <= 255);
	CHECK(r->icmp_code >= -1 && r->icmp_code <= 255);
	/* What the parser refuses as matches that never hold. */
	if (r->nsports || r->ndports || r->nports) {
		bool ok = !r->nprotos;

		for (i = 0; i < r->nprotos; i++)
			ok |= has_ports(r->protos[i]);
		CHECK(ok);
		CHECK(r->icmp_type < 0 && r->icmp_code < 0);
	}
	if (r->icmp_type >= 0 || r->icmp_code >= 0) {
		CHECK(r->nprotos);
		for (i = 0; i < r->nprotos; i++)
			CHECK(flowbpf_proto_is_icmp(r->protos[i]));
	}
	CHECK((r->tmin_from < 0) == (r->tmin_to < 0));
	if (r->tmin_from >= 0)
		CHECK(r->tmin_from < 1440 && r->tmin_to <= 1440 &&
		      r->tmin_from != r->tmin_to);
	CHECK(r->tmin_from >= -1);
	CHECK(r->days < 1 << 7);
	CHECK(!r->hits);
}

static void check_policy(const struct policy *p)
{
	bool has_time = false;
	size_t i, j;

	CHECK(p->file);
	CHECK(verdict_ok(p->dflt));
	CHECK(!p->default_hits);
	CHECK(!p->nunits || p->units);
	CHECK(!p->nrules || p->rules);
	for (i = 0; i < p->nunits; i++) {
		const struct unit *u = &p->units[i];

		CHECK(u->name && u->name[0]);
		CHECK(u->line >= 1 && (!i || u->line >= u[-1].line));
		check_addrset(&u->set);
		/* Merging only ever makes fewer ranges than were written. */
		CHECK(u->set.n <= u->prefixes);
		for (j = 0; j < i && p->nunits <= 256; j++)
			CHECKF(strcmp(u->name, p->units[j].name),
			       "unit %s twice", u->name);
	}
	for (i = 0; i < p->nrules; i++) {
		check_rule(p, &p->rules[i]);
		CHECK(!i || p->rules[i].line >= p->rules[i - 1].line);
		has_time |= p->rules[i].days || p->rules[i].tmin_from >= 0;
	}
	CHECK(has_time == p->has_time);
}

static void set_addr(__be32 *a, addr128 v)
{
	int i;

	for (i = 3; i >= 0; i--, v >>= 32)
		a[i] = htonl((__u32)v);
}

/* The set an address match uses; NULL for any. */
static const struct addrset *match_set(const struct policy *p,
				       const struct addr_match *m)
{
	if (!m)
		return NULL;
	return m->unit >= 0 ? &p->units[m->unit].set : &m->own;
}

/* An address of family fam in s (any address when s is NULL); false
 * when s has none of that family. */
static bool pick_addr(const struct addrset *s, int fam, addr128 *a)
{
	if (!s) {
		*a = fam == 4 ? V4_MAPPED | 0xc6120001
			      : (addr128)0x20010db8 << 96;
		return true;
	}
	if (fam == 4 ? !s->n4 : s->n == s->n4)
		return false;
	*a = s->lo[fam == 4 ? 0 : s->n4];
	return true;
}

/*
 * A flow and context that meet every match of r.  False where this
 * harness does not make one: negated address matches, and "port" with
 * both "sport" and "dport" (their ranges need not meet).
 */
static bool flow_for_rule(const struct policy *p, const struct rule *r,
			  struct flowbpf_key *k, struct flow_ctx *c)
{
	const struct addrset *from = match_set(p, r->from),
			     *to = match_set(p, r->to);
	bool ports = r->nsports || r->ndports || r->nports;
	addr128 s, d;
	size_t i;

	memset(k, 0, sizeof(*k));
	memset(c, 0, sizeof(*c));
	if ((r->from && r->from->negate) || (r->to && r->to->negate))
		return false;
	if (pick_addr(from, 4, &s) && pick_addr(to, 4, &d))
		k->family = 4;
	else if (pick_addr(from, 6, &s) && pick_addr(to, 6, &d))
		k->family = 6;
	else
		return false;
	set_addr(k->saddr, s);
	set_addr(k->daddr, d);
	k->dir = r->dir < 0 ? FLOWBPF_DIR_INGRESS : r->dir;
	if (r->nvlans)
		k->vlan = r->vlans[0].lo;
	k->proto = 6;
	for (i = 0; i < r->nprotos; i++) {
		k->proto = r->protos[i];
		if (!ports || has_ports(k->proto))
			break;
	}
	if (r->nsports)
		k->sport = htons(r->sports[0].lo);
	if (r->ndports)
		k->dport = htons(r->dports[0].lo);
	if (r->nports) {
		if (!r->nsports)
			k->sport = htons(r->ports[0].lo);
		else if (!r->ndports)
			k->dport = htons(r->ports[0].lo);
		else
			return false;
	}
	if (r->icmp_type >= 0 || r->icmp_code >= 0)
		k->dport = htons((r->icmp_type < 0 ? 0 : r->icmp_type) << 8 |
				 (r->icmp_code < 0 ? 0 : r->icmp_code));
	c->ifname = r->nifaces ? r->ifaces[0] : "eth0";
	if (r->tmin_from >= 0) {
		c->now.tm_hour = r->tmin_from / 60;
		c->now.tm_min = r->tmin_from % 60;
	}
	if (r->days)
		c->now.tm_wday = __builtin_ctz(r->days);
	return true;
}

static void check_eval(const struct policy *p, const uint8_t *data, size_t size)
{
	struct flowbpf_key k;
	struct flow_ctx c;
	size_t i;
	int m;

	for (i = 0; i < p->nrules && i < 64; i++) {
		if (!flow_for_rule(p, &p->rules[i], &k, &c))
			continue;
		m = policy_match(p, &k, &c);
		CHECKF(m >= 0 && m <= (int)i,
		       "a flow made for rule %zu (line %d) is decided by %d", i,
		       p->rules[i].line, m);
		/* Twelve hours later, with other ports or ICMP type and code,
		 * in the other direction: whatever decides, it is in range. */
		c.now.tm_hour = (c.now.tm_hour + 12) % 24;
		k.sport ^= htons(0x0101);
		k.dport ^= htons(0x0101);
		k.dir ^= 1;
		m = policy_match(p, &k, &c);
		CHECK(m >= -1 && m < (int)p->nrules);
	}
	/* Keys of the input's own bytes, at valid times of the week. */
	for (i = 0; i + sizeof(k) + 3 <= size && i < 8 * sizeof(k);
	     i += sizeof(k) + 3) {
		memcpy(&k, data + i, sizeof(k));
		memset(&c, 0, sizeof(c));
		c.ifname = "eth0";
		c.now.tm_wday = data[i + sizeof(k)] % 7;
		c.now.tm_hour = data[i + sizeof(k) + 1] % 24;
		c.now.tm_min = data[i + sizeof(k) + 2] % 60;
		m = policy_match(p, &k, &c);
		CHECK(m >= -1 && m < (int)p->nrules);
		CHECK(verdict_ok(policy_verdict(p, m)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = memmem(data, size, "\n%%\n", 4);
	size_t plen = sep ? (size_t)(sep - data) + 1 : size, tlen;
	char err[512] = "", err2[512] = "";
	struct policy *p, *q = NULL;
	char *text;

	if (!policy_file) {
		policy_file = fuzz_path("policy.conf");
		table_file = fuzz_path("table");
	}
	if (sep)
		fuzz_write(table_file, sep + 4, size - plen - 3);
	else
		unlink(table_file);
	text = expand(data, plen, fuzz_dir(), &tlen);
	fuzz_write(policy_file, text, tlen);

	p = policy_load(policy_file);
	snprintf(err, sizeof(err), "%s", p ? "" : err_get());
	CHECK(p || err[0]);
	if (strlen(text) != tlen) {
		CHECKF(!p, "a policy with a NUL byte was loaded");
	} else {
		q = policy_parse(policy_file, text);
		snprintf(err2, sizeof(err2), "%s", q ? "" : err_get());
		CHECK(!p == !q);
		CHECKF(!strcmp(err, err2), "policy_load: %s; policy_parse: %s",
		       err, err2);
		if (p)
			CHECK(p->nunits == q->nunits &&
			      p->nrules == q->nrules && p->dflt == q->dflt);
	}
	if (p) {
		CHECK(!strcmp(p->file, policy_file));
		check_policy(p);
		check_eval(p, data, size);
	}
	policy_free(p);
	policy_free(q);
	free(text);
	return 0;
}
