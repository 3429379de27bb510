/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * IPFIX (RFC 7011) message encoder: records become data records of one of
 * two templates (IPv4, IPv6), packed into messages that never exceed a
 * given length.  An options template describes one more record, about the
 * exporter itself: what it has sent and its sampling (every packet).
 * Transport-free, so tests can inspect every byte.
 */
#ifndef FLOWBPF_IPFIX_H
#define FLOWBPF_IPFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "record.h"

#define IPFIX_VERSION 10
#define IPFIX_HDR_LEN 16
#define IPFIX_SET_HDR_LEN 4
#define IPFIX_SET_TEMPLATE 2
#define IPFIX_SET_OPTIONS_TEMPLATE 3
#define IPFIX_TMPL_V4 256
#define IPFIX_TMPL_V6 257
#define IPFIX_TMPL_EXPORTER 258
#define IPFIX_MAX_MSG 65535
/* Records an IPFIX sink over TCP keeps while it cannot send them. */
#define IPFIX_TCP_QUEUE_MAX 65536

/* samplingAlgorithm (IE 35) 1: deterministic; with an interval of 1, every
 * packet is metered. */
#define IPFIX_SAMPLING_INTERVAL 1
#define IPFIX_SAMPLING_DETERMINISTIC 1

/* Information elements (IANA registry ids). */
enum {
	IE_OCTET_DELTA = 1,
	IE_PACKET_DELTA = 2,
	IE_PROTOCOL = 4,
	IE_CLASS_OF_SERVICE = 5,
	IE_TCP_BITS = 6,
	IE_SRC_PORT = 7,
	IE_SRC_V4 = 8,
	IE_INGRESS_IF = 10,
	IE_DST_PORT = 11,
	IE_DST_V4 = 12,
	IE_EGRESS_IF = 14,
	IE_SRC_V6 = 27,
	IE_DST_V6 = 28,
	IE_ICMP_V4 = 32,
	IE_SAMPLING_INTERVAL = 34,
	IE_SAMPLING_ALGORITHM = 35,
	IE_EXPORTED_OCTETS = 40,
	IE_EXPORTED_MESSAGES = 41,
	IE_EXPORTED_RECORDS = 42,
	IE_VLAN = 58,
	IE_DIRECTION = 61,
	IE_MPLS_TOP_LABEL = 70,
	IE_FORWARDING_STATUS = 89,
	IE_END_REASON = 136,
	IE_ICMP_V6 = 139,
	IE_OBSERVATION_DOMAIN = 149,
	IE_START_MS = 152,
	IE_END_MS = 153,
	IE_NOT_SENT_FLOWS = 166,
	IE_CUSTOMER_VLAN = 245,
	IE_L2_SEGMENT_ID = 351,
};

/*
 * layer2SegmentId (IE 351, RFC 7133): the segment type in the top
 * octet, the segment id in the 56 bits below.  IANA defines the types
 * VxLAN (1) and NVGRE (2) only; docs/tunnels.md says which tunnels get
 * one.
 */
#define IPFIX_L2_SEGMENT_VXLAN 0x01
#define IPFIX_L2_SEGMENT_TYPE_SHIFT 56
/* mplsTopLabelStackSection (IE 70): label, TC and bottom-of-stack bit. */
#define IPFIX_MPLS_LABEL_LEN 3

/* Sends one finished message; 0 or -errno. */
typedef int (*ipfix_send_fn)(void *ctx, const void *msg, size_t len);

/* What the transport has delivered, for the exporter's options record. */
struct ipfix_exported {
	__u64 messages, records, octets;
	__u64 not_sent; /* records dropped instead of being sent */
};

struct ipfix_enc {
	__u32 domain; /* observation domain id */
	__u32 max_len; /* longest message, bytes */
	__u64 refresh_ms; /* resend templates this often (0: first message only) */
	__u64 stats_ms; /* send the exporter's record this often (0: with templates) */
	ipfix_send_fn send;
	void *ctx;
	const struct ipfix_exported *exported; /* NULL: all zero */

	__u32 seq; /* data records exported so far */
	bool tmpl_sent;
	__u64 tmpl_ms; /* when templates were last sent */
	__u64 stats_sent_ms; /* when the exporter's record was last sent */
	unsigned char msg[IPFIX_MAX_MSG];
	size_t len; /* bytes of the open message, 0: none open */
	size_t set_off; /* offset of the open set's header */
	__u16 set_id; /* id of the open set, 0: none */
	__u32 msg_seq; /* sequence number of the open message */
	__u32 export_s; /* its export time */
	__u32 msg_records; /* flow records in the open message */
	__u32 sent_records; /* flow records of the message being sent */

	__u64 messages, records, template_sets, send_errors;
};

/* The smallest max_len that still holds templates and one record. */
size_t ipfix_min_len(void);
/* Bytes of one data record of the template for family 4 or 6. */
size_t ipfix_record_len(int family);
/* Bytes of the exporter's options data record. */
size_t ipfix_exporter_record_len(void);

void ipfix_enc_init(struct ipfix_enc *e, __u32 domain, __u32 max_len,
		    __u64 refresh_ms, ipfix_send_fn send, void *ctx);
/* A new transport session (a TCP connection): templates go first again
 * and sequence numbers start over (RFC 7011, 10.4.1). */
void ipfix_enc_restart(struct ipfix_enc *e);
/* Adds a record at wall time now_ms, sending full messages on the way. */
int ipfix_enc_add(struct ipfix_enc *e, const struct acct_record *r,
		  __u64 now_ms);
/* True if r goes into the open message without a send. */
bool ipfix_enc_fits(const struct ipfix_enc *e, const struct acct_record *r,
		    __u64 now_ms);
/* Sends the open message, if any. */
int ipfix_enc_flush(struct ipfix_enc *e);

#endif
