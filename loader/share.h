/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Sharing the hooks with other programs (docs/hooks.md): the XDP program
 * through libxdp's multi-program dispatcher, the clsact filters by their
 * handle and priority.  Internal to loader/.
 */
#ifndef FLOWBPF_SHARE_H
#define FLOWBPF_SHARE_H

#include <stdbool.h>
#include "loader.h"

struct flowbpf;
struct xdp_program;

/* The XDP program of one attach through libxdp (or, where the kernel
 * cannot run libxdp's dispatcher, linked directly). */
struct xdp_share {
	struct flowbpf *skel; /* second instance: the XDP program only */
	struct xdp_program *prog;
	int link_fd; /* >= 0: attached directly instead */
	bool attached;
};

/* Refuses an XDP attach that cannot share with what is on ifindex. */
int xdp_share_precheck(const struct flowbpf_attach_opts *o,
		       unsigned int ifindex);
/*
 * Loads flowbpf_xdp against the maps of skel (already loaded) and hands
 * it to libxdp.  x is zeroed first; xdp_share_undo() and
 * xdp_share_free() take what it leaves.
 */
int xdp_share_attach(const struct flowbpf_attach_opts *o, struct flowbpf *skel,
		     unsigned int ifindex, struct xdp_share *x);
int xdp_share_prog_fd(const struct xdp_share *x);
/* Takes the program off the interface again (a failed attach). */
void xdp_share_undo(struct xdp_share *x, unsigned int ifindex);
void xdp_share_free(struct xdp_share *x);

/* Takes flowbpf's program prog_id out of libxdp's dispatcher on ifindex,
 * leaving the others; 0 if it was not there. */
int xdp_share_detach(const char *ifname, unsigned int ifindex, __u32 prog_id);
/* Removes libxdp's pins for an interface that is gone. */
void xdp_share_clean(unsigned int ifindex);

/* Filters on the clsact qdisc of ifindex (ingress and egress), or -errno. */
int tc_filter_count(unsigned int ifindex);

#endif
