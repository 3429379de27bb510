/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers shared by the quota tests (test_quota*.c). */
#ifndef FLOWBPF_TEST_QUOTA_H
#define FLOWBPF_TEST_QUOTA_H

#include <jansson.h>
#include <linux/types.h>

/* A server body: accepts connections and reads each to its end. */
int test_tcp_drain(void *arg);
/* The bytes the peer acknowledged on a TCP socket (tcpi_bytes_acked). */
__u64 quota_acked(int fd);
int quota_connect(const char *ip, int port, int timeout_ms);
__u64 quota_transfer(int fd, __u64 limit, __u64 *cross_ms, __u64 *stall_ms);
void quota_wait_period(int len, double after);
int quota_daemon_ready(const char *sock, int pid);
/* The row of "flowbpf -j quota" for quota name, or NULL. */
json_t *quota_of(const char *dsn, const char *name);

#endif
