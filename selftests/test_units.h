/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers shared by the accounting-by-unit tests (test_units*.c,
 * test_quota*.c). */
#ifndef FLOWBPF_TEST_UNITS_H
#define FLOWBPF_TEST_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* count datagrams of payload bytes from src to dst:port, gap_us apart;
 * a list ends with src NULL. */
struct burst {
	const char *src, *dst;
	int port, count, payload;
	int gap_us;
};
int udp_bursts(void *arg);
/* Binds a UDP socket to b->src:b->port and takes what comes, until
 * killed (so that no ICMP error answers it). */
int udp_hold(void *arg);

struct total {
	__u64 packets, bytes;
};
/* The store's total of a unit, direction, class ("" for all) and
 * roll-up; 0 or -errno. */
int db_total(const char *dsn, const char *unit, const char *dir,
	     const char *cls, const char *period, struct total *t);
/* A gateway's day total of a unit, both directions. */
int db_total_gw(const char *dsn, const char *gw, const char *unit,
		struct total *t);
void test_write_file(const char *path, const char *text);
/* "flowbpf report" (-j, --csv and the table) agrees with the store. */
void test_report_check(const char *dsn, const char *unit, __u64 packets,
		       __u64 bytes);

/* A private PostgreSQL server (test_quota_gateways.c). */
struct pg {
	char dir[64], bin[128], dsn[256];
	int port;
	bool up;
};
int test_pg_start(struct pg *pg, char *why, size_t len);
int test_pg_ctl(struct pg *pg, const char *what);
void test_pg_stop(struct pg *pg);

/* The sources of the units of the exactness tests, in the peer's
 * namespace. */
#define UNIT_S1 "198.19.251.1"
int test_unit_sources(const char *ns, const char *ifname);

#endif
