/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * IPFIX (RFC 7011) message encoder: records become data records of one of
 * two templates (IPv4, IPv6), packed into messages that never exceed a
 * given length.  Transport-free, so tests can inspect every byte.
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
#define IPFIX_TMPL_V4 256
#define IPFIX_TMPL_V6 257
#define IPFIX_MAX_MSG 65535

/* Information elements (IANA registry ids). */
enum {
	IE_OCTET_DELTA = 1,
	IE_PACKET_DELTA = 2,
	IE_PROTOCOL = 4,
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
	IE_VLAN = 58,
	IE_DIRECTION = 61,
	IE_END_REASON = 136,
	IE_ICMP_V6 = 139,
	IE_START_MS = 152,
	IE_END_MS = 153,
};

/* Sends one finished message; 0 or -errno. */
typedef int (*ipfix_send_fn)(void *ctx, const void *msg, size_t len);

struct ipfix_enc {
	__u32 domain; /* observation domain id */
	__u32 max_len; /* longest message, bytes */
	__u64 refresh_ms; /* resend templates this often (0: first message only) */
	ipfix_send_fn send;
	void *ctx;

	__u32 seq; /* data records exported so far */
	bool tmpl_sent;
	__u64 tmpl_ms; /* when templates were last sent */
	unsigned char msg[IPFIX_MAX_MSG];
	size_t len; /* bytes of the open message, 0: none open */
	size_t set_off; /* offset of the open set's header */
	__u16 set_id; /* id of the open set, 0: none */
	__u32 msg_seq; /* sequence number of the open message */
	__u32 export_s; /* its export time */

	__u64 messages, records, template_sets, send_errors;
};

/* The smallest max_len that still holds templates and one record. */
size_t ipfix_min_len(void);
/* Bytes of one data record of the template for family 4 or 6. */
size_t ipfix_record_len(int family);

void ipfix_enc_init(struct ipfix_enc *e, __u32 domain, __u32 max_len,
		    __u64 refresh_ms, ipfix_send_fn send, void *ctx);
/* Adds a record at wall time now_ms, sending full messages on the way. */
int ipfix_enc_add(struct ipfix_enc *e, const struct acct_record *r,
		  __u64 now_ms);
/* Sends the open message, if any. */
int ipfix_enc_flush(struct ipfix_enc *e);

#endif
