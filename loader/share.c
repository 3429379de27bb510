// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Sharing the hooks with other programs (docs/hooks.md).
 *
 * XDP: one program per interface is all the kernel runs, so flowbpf joins
 * libxdp's dispatcher, as xdp-filter and xdp-loader do: flowbpf_xdp is
 * loaded as an extension of one of the dispatcher's slots, run in the
 * order of the run priorities declared in BTF.  The skeleton's object is
 * loaded by the loader as always, without flowbpf_xdp; a second instance
 * of the object, whose maps are those of the first, holds flowbpf_xdp
 * alone and is what libxdp loads, so that flowbpf's maps, pins and its
 * other programs stay where they are whatever libxdp does.
 *
 * tc: the clsact filters are flowbpf's by their handle and priority;
 * which other filters are there is read from the kernel (a filter dump),
 * so that detach removes no qdisc another filter uses.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "share.h"
#include "flowbpf.skel.h"
#include "log.h"

/* libxdp reports every step, failed probes included: only with -v. */
static int libxdp_print(enum libxdp_print_level level, const char *fmt,
			va_list ap)
{
	if (log_level() < LOG_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void libxdp_quiet(void)
{
	libxdp_set_print(libxdp_print);
}

static enum xdp_attach_mode want_mode(const struct flowbpf_attach_opts *o)
{
	return o->xdp_mode == XDPM_GENERIC ? XDP_MODE_SKB : XDP_MODE_NATIVE;
}

static const char *mode_word(enum xdp_attach_mode m)
{
	return m == XDP_MODE_SKB      ? "generic"
	       : m == XDP_MODE_NATIVE ? "native"
				      : "hw";
}

/* The dispatcher on ifindex, or NULL when there is none (or a program
 * libxdp cannot read). */
static struct xdp_multiprog *multiprog_get(unsigned int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);

	if (!mp || libxdp_get_error(mp))
		return NULL;
	return mp;
}

int xdp_share_precheck(const struct flowbpf_attach_opts *o,
		       unsigned int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct xdp_multiprog *mp;
	__u32 id;
	int err = 0;

	libxdp_quiet();
	if (bpf_xdp_query(ifindex, 0, &q))
		return 0; /* the attach itself will say what is wrong */
	id = q.drv_prog_id ?: q.skb_prog_id ?: q.hw_prog_id;
	if (!id)
		return 0;
	if (o->xdp_attach == XDPA_DIRECT) {
		err_set("%s: another XDP program (id %u) is attached; --xdp-attach direct needs the hook to itself",
			o->ifname, id);
		return -EBUSY;
	}
	mp = multiprog_get(ifindex);
	if (!mp || xdp_multiprog__is_legacy(mp) || xdp_multiprog__hw_prog(mp)) {
		err_set("%s: another XDP program (id %u) is attached, not through libxdp's dispatcher; flowbpf shares the hook only with programs loaded through libxdp (xdp-loader, xdp-filter)",
			o->ifname, id);
		err = -EBUSY;
	} else if (xdp_multiprog__attach_mode(mp) != want_mode(o)) {
		err_set("%s: libxdp's dispatcher there runs in %s mode; attach with --xdp-mode %s",
			o->ifname, mode_word(xdp_multiprog__attach_mode(mp)),
			mode_word(xdp_multiprog__attach_mode(mp)));
		err = -EBUSY;
	}
	xdp_multiprog__close(mp);
	return err;
}

/* A second instance of the object: flowbpf_xdp alone, on skel's maps. */
static int share_open(const struct flowbpf *skel, struct xdp_share *x)
{
	struct bpf_program *p;
	struct bpf_map *m, *src;
	int err;

	x->skel = flowbpf__open();
	if (!x->skel) {
		err = -errno;
		err_set("cannot open BPF object: %s", strerror(errno));
		return err;
	}
	/* The maps are reused, rodata too; this only keeps the copies equal. */
	memcpy((void *)&x->skel->rodata->cfg, (const void *)&skel->rodata->cfg,
	       sizeof(skel->rodata->cfg));
	bpf_object__for_each_program(p, x->skel->obj)
		bpf_program__set_autoload(p, p == x->skel->progs.flowbpf_xdp);
	bpf_object__for_each_map(m, x->skel->obj)
	{
		src = bpf_object__find_map_by_name(skel->obj, bpf_map__name(m));
		err = src ? bpf_map__reuse_fd(m, bpf_map__fd(src)) : -ENOENT;
		if (err) {
			err_set("cannot share map %s: %s", bpf_map__name(m),
				strerror(-err));
			return err;
		}
	}
	return 0;
}

static int share_error(const struct flowbpf_attach_opts *o, int err)
{
	if (o->xdp_mode == XDPM_NATIVE &&
	    (err == -EOPNOTSUPP || err == -EINVAL))
		err_set("%s: the driver does not support native XDP; use --xdp-mode generic",
			o->ifname);
	else if (err == -E2BIG)
		err_set("%s: libxdp's dispatcher there has no free slot",
			o->ifname);
	else
		err_set("%s: cannot attach XDP program through libxdp's dispatcher: %s%s",
			o->ifname, strerror(-err),
			err == -EBUSY || err == -EEXIST
				? " (another XDP program took the hook meanwhile?)"
				: "; run with -v for libxdp's log");
	return err;
}

/*
 * Where the kernel cannot run the dispatcher, libxdp attaches the program
 * alone, by netlink.  flowbpf then holds the hook by a link of its own,
 * as it does with --xdp-attach direct: the program is the same, loaded
 * as a plain XDP program.
 */
static int share_fallback(const struct flowbpf_attach_opts *o,
			  struct xdp_share *x, unsigned int ifindex)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	LIBBPF_OPTS(bpf_xdp_attach_opts, ao);
	int fd = xdp_share_prog_fd(x), err;
	struct xdp_multiprog *mp;
	bool legacy;
	__u32 flags;

	mp = multiprog_get(ifindex);
	legacy = mp && xdp_multiprog__is_legacy(mp);
	xdp_multiprog__close(mp);
	if (!legacy)
		return 0;
	if (o->xdp_attach == XDPA_DISPATCHER) {
		err_set("%s: libxdp cannot run its dispatcher on this kernel (-v shows why); use --xdp-attach direct",
			o->ifname);
		return -EOPNOTSUPP;
	}
	flags = o->xdp_mode == XDPM_GENERIC ? XDP_FLAGS_SKB_MODE
					    : XDP_FLAGS_DRV_MODE;
	/* Only if it is still the one libxdp attached. */
	ao.old_prog_fd = fd;
	err = bpf_xdp_detach(ifindex, flags | XDP_FLAGS_REPLACE, &ao);
	if (err) {
		err_set("%s: cannot take over the XDP program libxdp attached: %s",
			o->ifname, strerror(-err));
		return err;
	}
	x->attached = false;
	lopts.flags = flags;
	x->link_fd = bpf_link_create(fd, ifindex, BPF_XDP, &lopts);
	if (x->link_fd < 0) {
		err = -errno;
		err_set("%s: cannot attach XDP program: %s", o->ifname,
			strerror(errno));
		return err;
	}
	pr_warn("%s: libxdp cannot run its dispatcher on this kernel; XDP attached directly, alone on the hook\n",
		o->ifname);
	return 0;
}

int xdp_share_attach(const struct flowbpf_attach_opts *o, struct flowbpf *skel,
		     unsigned int ifindex, struct xdp_share *x)
{
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xo);
	int err;

	memset(x, 0, sizeof(*x));
	x->link_fd = -1;
	libxdp_quiet();
	err = share_open(skel, x);
	if (err)
		return err;
	xo.obj = x->skel->obj;
	xo.prog_name = "flowbpf_xdp";
	x->prog = xdp_program__create(&xo);
	if (!x->prog) {
		err = -errno;
		err_set("libxdp cannot take the XDP program: %s",
			strerror(errno));
		return err;
	}
	/* libxdp loads it now, as an extension of the dispatcher. */
	err = xdp_program__attach(x->prog, ifindex, want_mode(o), 0);
	if (err)
		return share_error(o, err);
	x->attached = true;
	return share_fallback(o, x, ifindex);
}

int xdp_share_prog_fd(const struct xdp_share *x)
{
	return x->skel ? bpf_program__fd(x->skel->progs.flowbpf_xdp) : -1;
}

void xdp_share_undo(struct xdp_share *x, unsigned int ifindex)
{
	if (x->link_fd >= 0)
		close(x->link_fd);
	x->link_fd = -1;
	if (x->attached)
		xdp_program__detach(x->prog, ifindex, XDP_MODE_UNSPEC, 0);
	x->attached = false;
}

void xdp_share_free(struct xdp_share *x)
{
	if (x->link_fd >= 0)
		close(x->link_fd);
	xdp_program__close(x->prog);
	flowbpf__destroy(x->skel);
	memset(x, 0, sizeof(*x));
	x->link_fd = -1;
}

/* Position (1-based) of prog_id in the dispatcher; 0 if not there. */
static int multiprog_find(const struct xdp_multiprog *mp, __u32 prog_id,
			  unsigned int *prio)
{
	struct xdp_program *p = NULL;
	int pos = 0;

	while ((p = xdp_multiprog__next_prog(p, mp))) {
		pos++;
		if (xdp_program__id(p) == prog_id) {
			if (prio)
				*prio = xdp_program__run_prio(p);
			return pos;
		}
	}
	return 0;
}

int xdp_share_detach(const char *ifname, unsigned int ifindex, __u32 prog_id)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	bool found;
	int err;

	libxdp_quiet();
	mp = multiprog_get(ifindex);
	found = mp && !xdp_multiprog__is_legacy(mp) &&
		multiprog_find(mp, prog_id, NULL);
	xdp_multiprog__close(mp);
	if (!found || !prog_id)
		return 0;
	p = xdp_program__from_id(prog_id);
	if (!p || libxdp_get_error(p))
		return -ENOENT;
	/* libxdp builds a dispatcher of the others, or removes it if
	 * flowbpf's was the last. */
	err = xdp_program__detach(p, ifindex, XDP_MODE_UNSPEC, 0);
	xdp_program__close(p);
	if (err)
		pr_warn("%s: cannot take flowbpf's program out of libxdp's dispatcher: %s\n",
			ifname, strerror(-err));
	return err;
}

void xdp_share_clean(unsigned int ifindex)
{
	libxdp_quiet();
	libxdp_clean_references(ifindex);
}

int flowbpf_xdp_state(const struct flowbpf_handle *h,
		      struct flowbpf_xdp_state *st)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	unsigned int ifindex = h->cfg.ifindex, prio = 0;
	struct xdp_multiprog *mp;
	__u32 id = h->id[FB_PROG_XDP];

	memset(st, 0, sizeof(*st));
	if ((h->cfg.flags & FLOWBPF_CFG_INGRESS_TC) || !id)
		return 0;
	st->how = FB_XDP_GONE;
	if (if_nametoindex(h->ifname) != ifindex ||
	    bpf_xdp_query(ifindex, 0, &q))
		return 0;
	if (h->id[FB_LINK_XDP]) {
		if (q.drv_prog_id == id || q.skb_prog_id == id)
			st->how = FB_XDP_DIRECT;
		return 0;
	}
	libxdp_quiet();
	mp = multiprog_get(ifindex);
	if (mp && !xdp_multiprog__is_legacy(mp)) {
		st->position = multiprog_find(mp, id, &prio);
		if (st->position) {
			st->how = FB_XDP_DISPATCHER;
			st->run_prio = prio;
			st->programs = xdp_multiprog__program_count(mp);
			st->dispatcher_id =
				xdp_program__id(xdp_multiprog__main_prog(mp));
		}
	}
	xdp_multiprog__close(mp);
	return 0;
}

const char *flowbpf_xdp_how_name(enum flowbpf_xdp_how how)
{
	switch (how) {
	case FB_XDP_DIRECT:
		return "direct";
	case FB_XDP_DISPATCHER:
		return "dispatcher";
	case FB_XDP_GONE:
		return "detached";
	default:
		return "none";
	}
}

/* Counts the filters of one clsact hook: the dump has a message per
 * filter (handle set) and one per priority without a handle. */
static int tc_dump_count(int sk, unsigned int ifindex, __u32 parent)
{
	struct {
		struct nlmsghdr n;
		struct tcmsg t;
	} req = {
		.n = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)),
		       .nlmsg_type = RTM_GETTFILTER,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		       .nlmsg_seq = parent },
		.t = { .tcm_family = AF_UNSPEC,
		       .tcm_ifindex = ifindex,
		       .tcm_parent = parent },
	};
	static char buf[32768];
	struct nlmsghdr *h;
	int n = 0, len;

	if (send(sk, &req, req.n.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		len = recv(sk, buf, sizeof(buf), 0);
		if (len < 0)
			return -errno;
		for (h = (void *)buf; NLMSG_OK(h, (unsigned int)len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return n;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error ?: n;
			}
			if (h->nlmsg_type == RTM_NEWTFILTER &&
			    ((struct tcmsg *)NLMSG_DATA(h))->tcm_handle)
				n++;
		}
	}
}

int tc_filter_count(unsigned int ifindex)
{
	int sk, in, out;

	sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (sk < 0)
		return -errno;
	in = tc_dump_count(sk, ifindex,
			   TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS));
	out = in < 0 ? in
		     : tc_dump_count(sk, ifindex,
				     TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS));
	close(sk);
	return in < 0 ? in : out < 0 ? out : in + out;
}
