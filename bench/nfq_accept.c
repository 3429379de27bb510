// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The userspace decision path of the throughput comparison: every packet
 * of NFQUEUE queue QNUM comes up to this process (its first 128 bytes,
 * enough for the headers a policy looks at) and gets an ACCEPT verdict,
 * one packet and one verdict at a time, as a divert-socket daemon would.
 * Runs until killed (SIGTERM's default action ends it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg,
		     struct nfq_data *nfa, void *data)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	unsigned char *payload;

	if (!ph)
		return -1;
	/* A decider would look at the headers; reading them is the least. */
	nfq_get_payload(nfa, &payload);
	return nfq_set_verdict(qh, ntohl(ph->packet_id), NF_ACCEPT, 0, NULL);
}

int main(int argc, char **argv)
{
	struct nfq_q_handle *qh;
	struct nfq_handle *h;
	char buf[65536] __attribute__((aligned));
	int fd, n, rcvbuf = 16 << 20;

	if (argc != 2) {
		fprintf(stderr, "usage: nfq_accept QNUM\n");
		return 2;
	}
	h = nfq_open();
	if (!h) {
		perror("nfq_open");
		return 1;
	}
	qh = nfq_create_queue(h, atoi(argv[1]), on_packet, NULL);
	if (!qh) {
		perror("nfq_create_queue");
		return 1;
	}
	if (nfq_set_mode(qh, NFQNL_COPY_PACKET, 128) < 0) {
		perror("nfq_set_mode");
		return 1;
	}
	nfq_set_queue_maxlen(qh, 8192);
	fd = nfq_fd(h);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			break;
		}
		nfq_handle_packet(h, buf, n);
	}
	nfq_destroy_queue(qh);
	nfq_close(h);
	return 0;
}
