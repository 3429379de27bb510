// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A record as JSON: the one form shared by the JSON lines sink and tests. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "record.h"
#include "flowfmt.h"

const char *acct_reason_name(int reason)
{
	switch (reason) {
	case ACCT_IDLE:
		return "idle";
	case ACCT_ACTIVE:
		return "active";
	case ACCT_END:
		return "end";
	case ACCT_SHUTDOWN:
		return "shutdown";
	case ACCT_EVICTED:
		return "evicted";
	default:
		return "unknown";
	}
}

__u8 acct_forwarding_status(__u32 verdict, __u32 source, __u32 mode,
			    __u32 pending)
{
	/* Monitor mode drops nothing: a drop verdict is a "would drop". */
	if (mode == FLOWBPF_MODE_MONITOR)
		return verdict == FLOWBPF_VERDICT_NONE ? ACCT_FWD_UNKNOWN
						       : ACCT_FWD_FORWARDED;
	switch (verdict) {
	case FLOWBPF_VERDICT_PASS:
		return ACCT_FWD_FORWARDED;
	case FLOWBPF_VERDICT_DROP:
		/* Judged by a rule (the daemon) or by hand, or by nobody:
		 * the default after the timeout or the flood guard. */
		return source == FLOWBPF_SRC_DAEMON ||
				       source == FLOWBPF_SRC_MANUAL
			       ? ACCT_FWD_ACL_DENY
			       : ACCT_FWD_DROPPED;
	case FLOWBPF_VERDICT_QUEUED:
		/* Held packets are re-injected or discarded later. */
		if (pending == FLOWBPF_PENDING_PASS)
			return ACCT_FWD_FORWARDED;
		return pending == FLOWBPF_PENDING_DROP ? ACCT_FWD_DROPPED
						       : ACCT_FWD_UNKNOWN;
	default:
		return ACCT_FWD_UNKNOWN;
	}
}

void rfc3339_ms(__u64 ms, char *buf, size_t len)
{
	time_t s = ms / 1000;
	struct tm tm;
	char day[32];

	gmtime_r(&s, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", day, (unsigned int)(ms % 1000));
}

json_t *acct_record_json(const struct acct_record *r)
{
	const struct flowbpf_key *k = &r->key;
	char start[40], end[40], src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	const char *pn = proto_name(k->proto);
	json_t *o;

	rfc3339_ms(r->start_ms, start, sizeof(start));
	rfc3339_ms(r->end_ms, end, sizeof(end));
	key_addr_str(k, true, src, sizeof(src));
	key_addr_str(k, false, dst, sizeof(dst));
	o = json_pack(
		"{s:s, s:s, s:I, s:I, s:s, s:I, s:s, s:i, s:i, s:i, s:i, s:s, s:s, s:s}",
		"start", start, "end", end, "start_ms", (json_int_t)r->start_ms,
		"end_ms", (json_int_t)r->end_ms, "ifname",
		r->ifname ? r->ifname : "", "ifindex", (json_int_t)r->ifindex,
		"dir", dir_name(k->dir), "vlan", k->vlan, "inner_vlan",
		k->inner_vlan, "family", k->family, "proto", k->proto,
		"proto_name", pn ? pn : "", "src", src, "dst", dst);
	if (!o)
		return NULL;
	key_ports_json(o, k);
	if (r->outer.family) {
		struct flowbpf_key ok = { .family = r->outer.family };

		memcpy(ok.saddr, r->outer.saddr, 16);
		memcpy(ok.daddr, r->outer.daddr, 16);
		key_addr_str(&ok, true, src, sizeof(src));
		key_addr_str(&ok, false, dst, sizeof(dst));
		json_object_set_new(o, "outer_src", json_string(src));
		json_object_set_new(o, "outer_dst", json_string(dst));
	}
	json_object_set_new(o, "packets", json_integer(r->packets));
	json_object_set_new(o, "bytes", json_integer(r->bytes));
	json_object_set_new(o, "tcp_flags", json_integer(r->tcp_flags));
	json_object_set_new(o, "tos", json_integer(r->tos));
	json_object_set_new(o, "verdict",
			    json_string(verdict_name(r->verdict)));
	json_object_set_new(o, "verdict_source",
			    json_string(source_name(r->source)));
	json_object_set_new(o, "forwarding_status", json_integer(r->fwd));
	json_object_set_new(o, "end_reason",
			    json_string(acct_reason_name(r->reason)));
	return o;
}
