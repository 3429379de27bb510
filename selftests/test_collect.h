/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers shared by the accounting tests (test_collect*.c). */
#ifndef FLOWBPF_TEST_COLLECT_H
#define FLOWBPF_TEST_COLLECT_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "record.h"

/* One record, from JSON lines or from nfdump's CSV. */
struct rec {
	char src[48], dst[48], dir[4], reason[12];
	int proto, sport, dport; /* ICMP: dport = type << 8 | code */
	__u64 packets, bytes, start_ms, end_ms;
	__u32 tcp_flags;
};

void test_record_v4(struct acct_record *r, __u32 i);
void test_record_v6_icmp(struct acct_record *r);
/* A background shell command; stop() sends SIGTERM and waits. */
pid_t spawn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int stop(pid_t pid, int timeout_ms);
int read_records(const char *path, struct rec **out);
/*
 * Sums the records of one flow (direction, protocol, addresses, and dport
 * unless it is -1) into sum; reasons[] counts them by end: idle, active,
 * end, shutdown, evicted.
 */
void flow_sum(const struct rec *r, int n, const char *dir, int proto,
	      const char *src, const char *dst, int dport, struct rec *sum,
	      int *reasons);
/* nfdump -R dir, as records (no direction, no reason). */
int nfdump_read(const char *dir, struct rec **out);
int rec_cmp(const void *a, const void *b);
int free_udp_port(void);
bool have_tool(const char *tool);

#endif
