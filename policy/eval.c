// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Rule evaluation: first match wins.  Every match is O(1) or a binary
 * search, so a flow costs O(rules * log prefixes). */
#include <arpa/inet.h>
#include <string.h>
#include "policy.h"

static bool in_ranges(const struct range16 *r, size_t n, __u16 v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v >= r[i].lo && v <= r[i].hi)
			return true;
	return false;
}

static bool addr_ok(const struct policy *p, const struct addr_match *m,
		    const struct flowbpf_key *k, bool src)
{
	const struct addrset *set;

	if (!m)
		return true;
	set = m->unit >= 0 ? &p->units[m->unit].set : &m->own;
	return addrset_contains(set, k->family, key_addr128(k, src)) !=
	       m->negate;
}

static bool rule_matches(const struct policy *p, const struct rule *r,
			 const struct flowbpf_key *k, const struct flow_ctx *c)
{
	__u16 sport = ntohs(k->sport), dport = ntohs(k->dport);
	size_t i;

	if (r->dir >= 0 && r->dir != k->dir)
		return false;
	if (r->nifaces) {
		bool ok = false;

		for (i = 0; i < r->nifaces && c->ifname; i++)
			ok |= !strcmp(r->ifaces[i], c->ifname);
		if (!ok)
			return false;
	}
	if (r->nvlans && !in_ranges(r->vlans, r->nvlans, k->vlan))
		return false;
	if (r->tun_type >= 0 &&
	    (r->tun_type != k->tun_type ||
	     (r->tun_has_id && r->tun_id != k->tun_id)))
		return false;
	if (r->nprotos && !memchr(r->protos, k->proto, r->nprotos))
		return false;
	if (!addr_ok(p, r->from, k, true) || !addr_ok(p, r->to, k, false))
		return false;
	if (r->nsports || r->ndports || r->nports) {
		if (!flowbpf_proto_has_ports(k->proto))
			return false;
		if (r->nsports && !in_ranges(r->sports, r->nsports, sport))
			return false;
		if (r->ndports && !in_ranges(r->dports, r->ndports, dport))
			return false;
		if (r->nports && !in_ranges(r->ports, r->nports, sport) &&
		    !in_ranges(r->ports, r->nports, dport))
			return false;
	}
	if (r->icmp_type >= 0 && (dport >> 8) != r->icmp_type)
		return false;
	if (r->icmp_code >= 0 && (dport & 0xff) != r->icmp_code)
		return false;
	if (r->days && !(r->days & (1 << c->now.tm_wday)))
		return false;
	if (r->tmin_from >= 0) {
		int m = c->now.tm_hour * 60 + c->now.tm_min;

		/* A window like 22:00-06:00 wraps over midnight. */
		if (r->tmin_from < r->tmin_to
			    ? (m < r->tmin_from || m >= r->tmin_to)
			    : (m < r->tmin_from && m >= r->tmin_to))
			return false;
	}
	return true;
}

int policy_match(const struct policy *p, const struct flowbpf_key *k,
		 const struct flow_ctx *c)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (rule_matches(p, &p->rules[i], k, c))
			return i;
	return -1;
}

__u32 policy_verdict(const struct policy *p, int rule)
{
	return rule < 0 ? p->dflt : p->rules[rule].verdict;
}

int acct_class_of(const struct policy *p, const struct flowbpf_key *k, bool src)
{
	struct flowbpf_key sw = *k;
	struct flow_ctx c = {};
	size_t i;

	/* Classes see the unit's side as the source, the peer as "to". */
	if (!src) {
		memcpy(sw.saddr, k->daddr, sizeof(sw.saddr));
		memcpy(sw.daddr, k->saddr, sizeof(sw.daddr));
		sw.sport = k->dport;
		sw.dport = k->sport;
	}
	for (i = 0; i < p->nclasses; i++)
		if (rule_matches(p, &p->classes[i].m, &sw, &c))
			return i;
	return p->nclasses;
}
