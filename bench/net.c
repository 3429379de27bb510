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
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/ip.h>
#include <linux/udp.h>
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
 * udpflood IFACE DSTMAC SRC DST PORT SECS: sends 64-byte IPv4/UDP frames
 * (60 bytes and the FCS) out of IFACE through a packet socket that
 * bypasses the qdisc, 64 per sendmmsg, for SECS seconds, then prints
 * "sent busy": frames sent, and calls that found the device busy.  Unlike
 * trafgen, a full queue is a retry, not the end: swapping programs under
 * load fills veth's ring for a moment.
 */
static void flood_frame(__u8 *d, const __u8 *dmac, const __u8 *smac,
			struct in_addr src, struct in_addr dst, int port)
{
	struct ethhdr *eth = (void *)d;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	memset(d, 0, 60);
	memcpy(eth->h_dest, dmac, ETH_ALEN);
	memcpy(eth->h_source, smac, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(60 - sizeof(*eth));
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = src.s_addr;
	ip->daddr = dst.s_addr;
	ip->check = htons(csum16(ip, sizeof(*ip)));
	udp->source = htons(40000);
	udp->dest = htons(port);
	udp->len = htons(60 - sizeof(*eth) - sizeof(*ip));
}

static int flood_socket(const char *ifname, __u8 *smac)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_IP) };
	struct ifreq ifr = { 0 };
	int fd, one = 1;

	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		die("packet socket: %s", strerror(errno));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		die("%s: %s", ifname, strerror(errno));
	memcpy(smac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	sll.sll_ifindex = if_nametoindex(ifname);
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	if (bind(fd, (void *)&sll, sizeof(sll)))
		die("bind %s: %s", ifname, strerror(errno));
	return fd;
}

int cmd_udpflood(int argc, char **argv)
{
	__u8 frame[60], dmac[ETH_ALEN], smac[ETH_ALEN];
	struct in_addr src, dst;
	struct mmsghdr msgs[64];
	struct iovec iov = { frame, sizeof(frame) };
	__u64 sent = 0, busy = 0, end;
	int fd, i, n;

	if (argc != 7 ||
	    sscanf(argv[2], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dmac[0], &dmac[1],
		   &dmac[2], &dmac[3], &dmac[4], &dmac[5]) != 6 ||
	    inet_pton(AF_INET, argv[3], &src) != 1 ||
	    inet_pton(AF_INET, argv[4], &dst) != 1)
		die("usage: udpflood IFACE DSTMAC SRC DST PORT SECS");
	fd = flood_socket(argv[1], smac);
	flood_frame(frame, dmac, smac, src, dst, atoi(argv[5]));
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < 64; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	end = mono_ns() + (__u64)(atof(argv[6]) * 1e9);
	while (mono_ns() < end) {
		n = sendmmsg(fd, msgs, 64, 0);
		if (n > 0)
			sent += n;
		if (n < 64)
			busy++;
	}
	close(fd);
	printf("%llu %llu\n", (unsigned long long)sent,
	       (unsigned long long)busy);
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
