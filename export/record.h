/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Accounting records: what a sweep of the flow map turns a flow into, as a
 * NetFlow/IPFIX meter would, and the sinks that write them (JSON lines,
 * IPFIX over UDP or TCP).  See docs/accounting.md.
 */
#ifndef FLOWBPF_RECORD_H
#define FLOWBPF_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <net/if.h>
#include <linux/types.h>
#include <jansson.h>
#include "flowbpf.h"

/* Why a record was written.  The values are IPFIX flowEndReason (IE 136). */
enum acct_reason {
	ACCT_IDLE = 1, /* idle timeout */
	ACCT_ACTIVE =
		2, /* active timeout: an interval of a flow that goes on */
	ACCT_END = 3, /* end of flow detected: TCP FIN or RST seen */
	ACCT_SHUTDOWN = 4, /* forced end: the collector stopped */
	ACCT_EVICTED = 5, /* lack of resources: the LRU map dropped the entry */
};

/* "idle", "active", "end", "shutdown", "evicted" */
const char *acct_reason_name(int reason);

/*
 * IPFIX forwardingStatus (IE 89, RFC 7270 section 4.12): the status in the
 * top two bits (01 forwarded, 10 dropped), a reason code below them, from
 * the IANA "Forwarding Status" registry.  docs/accounting.md has the
 * mapping from verdicts.
 */
enum acct_fwd {
	ACCT_FWD_UNKNOWN = 0, /* no verdict yet, or packets held */
	ACCT_FWD_FORWARDED = 64, /* forwarded, reason unknown */
	ACCT_FWD_DROPPED = 128, /* dropped, reason unknown: a default */
	ACCT_FWD_ACL_DENY = 129, /* dropped, ACL deny: a rule or by hand */
};

/* The forwardingStatus of a flow with this verdict and source, on an
 * interface attached in mode (enum flowbpf_mode) with pending. */
__u8 acct_forwarding_status(__u32 verdict, __u32 source, __u32 mode,
			    __u32 pending);

#define TCPF_FIN FLOWBPF_TCP_FIN
#define TCPF_RST FLOWBPF_TCP_RST

/* One record: the packets and bytes of one flow over [start, end]. */
struct acct_record {
	struct flowbpf_key key;
	__u64 start_ms; /* first packet of the record, ms since the epoch */
	__u64 end_ms; /* last packet of the record */
	__u64 packets; /* delta: only what no earlier record reported */
	__u64 bytes; /* IP-layer bytes, as the datapath counts them */
	__u32 tcp_flags; /* OR of the flags of every segment of the flow so far */
	__u32 verdict; /* enum flowbpf_verdict at the time of the record */
	__u8 reason; /* enum acct_reason */
	__u8 source; /* enum flowbpf_source: who set the verdict */
	__u8 tos; /* TOS / traffic class of the flow's first packet */
	__u8 fwd; /* enum acct_fwd */
	const char *ifname;
	__u32 ifindex; /* the interface the flow was seen on */
	/* The flow's identity and where the record lies in it: the tick of
	 * its first packet, and what earlier records of the flow reported
	 * (so a record given again after a restart is recognised). */
	__u32 first_tick;
	__u64 seq_packets, seq_bytes;
	/* The tunnel an inner flow came in (--decap inner): outer endpoints
	 * from the "tunnels" map; family 0 when unknown or not tunnelled. */
	struct flowbpf_tunnel outer;
};

/* The record as one JSON object (docs/accounting.md lists the keys). */
json_t *acct_record_json(const struct acct_record *r);
/* "2026-11-22T04:49:25.102Z" */
void rfc3339_ms(__u64 ms, char *buf, size_t len);

/*
 * Where records go.  write() may buffer; flush() ends a batch (a sweep, or
 * part of one) and returns 0 or the -errno of a write that failed.
 *
 * A sink that keeps records (a file) counts in written the records it
 * has wholly written, in the order it was given them; after a flush, the
 * ones it was given beyond that count are dropped, and the collector
 * gives them again later, so that none is lost and none written twice.
 * Other sinks (IPFIX) count what they could not send in errors, or the
 * records they had to drop in lost, and are never given a record again.
 */
struct acct_sink {
	const char *name;
	int (*write)(struct acct_sink *s, const struct acct_record *r);
	int (*flush)(struct acct_sink *s);
	void (*close)(struct acct_sink *s); /* frees s */
	__u64 errors; /* writes or messages that failed */
	__u64 lost; /* records a sink that does not keep them dropped */
	bool keeps; /* keeps records: counts them in written */
	__u64 written;
};

struct jsonl_opts {
	const char *path; /* "-" for stdout */
	__u64 rotate_bytes; /* 0: never by size */
	__u64 rotate_ns; /* 0: never by time */
	bool gzip; /* compress rotated files */
};
struct acct_sink *jsonl_sink_new(const struct jsonl_opts *o);

struct ipfix_sink_opts {
	/* HOST:PORT, [V6ADDR]:PORT, udp://... (the default) or tcp://... */
	const char *collector;
	__u32 mtu; /* path MTU; UDP messages stay under it */
	__u32 domain; /* observation domain id */
	__u64 template_refresh_ns;
};
struct acct_sink *ipfix_sink_new(const struct ipfix_sink_opts *o);

#endif
