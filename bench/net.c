// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Helpers for the throughput part (bench/throughput.sh): attaching the
 * no-op program to an interface (XDP native, or tc clsact ingress) and a
 * UDP sink that counts what reaches a socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bench.h"
#include "noop.skel.h"

/* Not flowbpf's 0xf10, so the two never meet. */
#define NOOP_TC_PRIO 0xb1
#define NOOP_TC_HANDLE 0xb1

static int parse_args(int argc, char **argv, unsigned int *ifindex)
{
	if (argc != 3 || (strcmp(argv[2], "xdp") && strcmp(argv[2], "tc")))
		die("usage: %s IFACE xdp|tc", argv[0]);
	*ifindex = if_nametoindex(argv[1]);
	if (!*ifindex)
		die("%s: no such interface", argv[1]);
	return !strcmp(argv[2], "tc");
}

int cmd_attach_noop(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = NOOP_TC_HANDLE,
		    .priority = NOOP_TC_PRIO);
	struct bench_noop *skel;
	unsigned int ifindex;
	int tc_mode, err;

	tc_mode = parse_args(argc, argv, &ifindex);
	skel = bench_noop__open_and_load();
	if (!skel)
		die("cannot load the no-op programs: %s", strerror(errno));
	if (tc_mode) {
		hook.ifindex = ifindex;
		err = bpf_tc_hook_create(&hook);
		if (err && err != -EEXIST)
			die("clsact: %s", strerror(-err));
		tc.prog_fd = bpf_program__fd(skel->progs.bench_noop_tc);
		err = bpf_tc_attach(&hook, &tc);
	} else {
		/* A netlink attachment outlives this process; a link would not. */
		err = bpf_xdp_attach(ifindex,
				     bpf_program__fd(skel->progs.bench_noop_xdp),
				     XDP_FLAGS_DRV_MODE, NULL);
	}
	if (err)
		die("attach: %s", strerror(-err));
	bench_noop__destroy(skel);
	return 0;
}

int cmd_detach_noop(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = NOOP_TC_HANDLE,
		    .priority = NOOP_TC_PRIO);
	unsigned int ifindex;
	int err;

	if (parse_args(argc, argv, &ifindex)) {
		hook.ifindex = ifindex;
		err = bpf_tc_detach(&hook, &tc);
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	} else {
		err = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
	}
	if (err && err != -ENOENT)
		die("detach: %s", strerror(-err));
	return 0;
}

/*
 * udpsink IP PORT [IDLE_MS]: counts datagrams until none came for IDLE_MS
 * (default 1000) after the first, then prints "packets seconds pps", the
 * time running from the first datagram to the last.  It writes "ready"
 * to stdout once bound.
 */
int cmd_udpsink(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct mmsghdr msgs[64];
	struct iovec iov[64];
	static char bufs[64][256];
	struct timeval tv = { .tv_sec = 30 };
	int fd, i, n, rcvbuf = 16 << 20, idle_ms = 1000;
	__u64 count = 0, first = 0, last = 0;

	if (argc < 3)
		die("usage: udpsink IP PORT [IDLE_MS]");
	if (argc > 3)
		idle_ms = atoi(argv[3]);
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1)
		die("bad address %s", argv[1]);
	a.sin_port = htons(atoi(argv[2]));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (void *)&a, sizeof(a)))
		die("bind %s:%s: %s", argv[1], argv[2], strerror(errno));
	/* Before the first datagram, wait long; after it, until idle. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	printf("ready\n");
	fflush(stdout);
	for (i = 0; i < 64; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	for (;;) {
		n = recvmmsg(fd, msgs, 64, 0, NULL);
		if (n <= 0)
			break;
		last = mono_ns();
		if (!count) {
			first = last;
			tv.tv_sec = idle_ms / 1000;
			tv.tv_usec = idle_ms % 1000 * 1000;
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		}
		count += n;
	}
	close(fd);
	printf("%llu %.6f %.1f\n", (unsigned long long)count,
	       (last - first) / 1e9,
	       last > first ? (count - 1) / ((last - first) / 1e9) : 0.0);
	return 0;
}
