// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Attach/detach of the datapath and access to what it pinned.
 *
 * An attach either completes or leaves nothing behind: every step that
 * succeeded is undone on the cleanup path, in reverse order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "loader.h"
#include "flowbpf.skel.h"
#include "log.h"
#include "flowfmt.h"
#include "share.h"

enum obj_kind { OBJ_MAP, OBJ_PROG, OBJ_LINK };

/* The pin table: what an attach pins, under which name. */
static const struct pin_def {
	const char *name;
	enum obj_kind kind;
} pins[FB_OBJ_MAX] = {
	[FB_LINK_XDP] = { FLOWBPF_PIN_LINK_XDP, OBJ_LINK },
	[FB_PROG_XDP] = { FLOWBPF_PIN_PROG_XDP, OBJ_PROG },
	[FB_PROG_TC_EGRESS] = { FLOWBPF_PIN_PROG_TC_EGRESS, OBJ_PROG },
	[FB_PROG_TC_INGRESS] = { FLOWBPF_PIN_PROG_TC_INGRESS, OBJ_PROG },
	[FB_PROG_REINJECT] = { FLOWBPF_PIN_PROG_REINJECT, OBJ_PROG },
	[FB_PROG_VERDICT] = { FLOWBPF_PIN_PROG_VERDICT, OBJ_PROG },
	[FB_PROG_EXPIRE] = { FLOWBPF_PIN_PROG_EXPIRE, OBJ_PROG },
	[FB_MAP_FLOWS] = { FLOWBPF_PIN_FLOWS, OBJ_MAP },
	[FB_MAP_MANUAL] = { FLOWBPF_PIN_MANUAL, OBJ_MAP },
	[FB_MAP_STATS] = { FLOWBPF_PIN_STATS, OBJ_MAP },
	[FB_MAP_EVENTS] = { FLOWBPF_PIN_EVENTS, OBJ_MAP },
	[FB_MAP_CONFIG] = { FLOWBPF_PIN_CONFIG, OBJ_MAP },
	[FB_MAP_ACCT] = { FLOWBPF_PIN_ACCT, OBJ_MAP },
	[FB_MAP_QSTATE] = { FLOWBPF_PIN_QSTATE, OBJ_MAP },
	[FB_MAP_HEARTBEAT] = { FLOWBPF_PIN_HEARTBEAT, OBJ_MAP },
	[FB_MAP_EXPIRED] = { FLOWBPF_PIN_EXPIRED, OBJ_MAP },
	[FB_MAP_TUNNELS] = { FLOWBPF_PIN_TUNNELS, OBJ_MAP },
};

const char *flowbpf_obj_name(enum flowbpf_obj obj)
{
	return obj < FB_OBJ_MAX ? pins[obj].name : "?";
}

/* The fd of each object in a loaded skeleton (-1: not loaded); the XDP
 * program may be another instance's (share.c). */
static void skel_fds(struct flowbpf *skel, int link_fd, int xdp_fd,
		     int fd[FB_OBJ_MAX])
{
	struct bpf_program *tci = skel->progs.flowbpf_tc_ingress;

	fd[FB_LINK_XDP] = link_fd;
	fd[FB_PROG_XDP] = xdp_fd;
	fd[FB_PROG_TC_EGRESS] = bpf_program__fd(skel->progs.flowbpf_tc_egress);
	fd[FB_PROG_TC_INGRESS] =
		bpf_program__autoload(tci) ? bpf_program__fd(tci) : -1;
	fd[FB_PROG_REINJECT] = bpf_program__fd(skel->progs.flowbpf_reinject);
	fd[FB_PROG_VERDICT] = bpf_program__fd(skel->progs.flowbpf_verdict);
	fd[FB_PROG_EXPIRE] = bpf_program__fd(skel->progs.flowbpf_expire);
	fd[FB_MAP_FLOWS] = bpf_map__fd(skel->maps.flows);
	fd[FB_MAP_MANUAL] = bpf_map__fd(skel->maps.manual);
	fd[FB_MAP_STATS] = bpf_map__fd(skel->maps.stats);
	fd[FB_MAP_EVENTS] = bpf_map__fd(skel->maps.events);
	fd[FB_MAP_CONFIG] = bpf_map__fd(skel->maps.rodata);
	fd[FB_MAP_ACCT] = bpf_map__fd(skel->maps.acct);
	fd[FB_MAP_QSTATE] = bpf_map__fd(skel->maps.qstate);
	fd[FB_MAP_HEARTBEAT] = bpf_map__fd(skel->maps.heartbeat);
	fd[FB_MAP_EXPIRED] = bpf_map__fd(skel->maps.expired);
	fd[FB_MAP_TUNNELS] = bpf_map__fd(skel->maps.tunnels);
}

void flowbpf_attach_opts_init(struct flowbpf_attach_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->mode = FLOWBPF_MODE_MONITOR;
	o->pending = FLOWBPF_PENDING_PASS;
	o->dflt = FLOWBPF_VERDICT_PASS;
	o->timeout_ns = FLOWBPF_DEFAULT_TIMEOUT_NS;
	o->flows = FLOWBPF_DEFAULT_FLOWS;
	o->ringbuf = FLOWBPF_DEFAULT_RINGBUF;
	o->max_queued = FLOWBPF_DEFAULT_MAX_QUEUED;
	o->hold_pkts = FLOWBPF_DEFAULT_HOLD_PKTS;
	o->hold_bytes = FLOWBPF_DEFAULT_HOLD_BYTES;
	o->xdp_mode = XDPM_NATIVE;
}

int flowbpf_bpffs_ensure(void)
{
	struct statfs sfs;

	if (!statfs(FLOWBPF_BPFFS, &sfs) && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", FLOWBPF_BPFFS, "bpf", 0, "mode=0700")) {
		int err = -errno;

		err_set("cannot mount bpffs on %s: %s", FLOWBPF_BPFFS,
			strerror(errno));
		return err;
	}
	pr_info("mounted bpffs on %s\n", FLOWBPF_BPFFS);
	return 0;
}

/* The one place a pin path is made: the directory, or one object in it. */
int flowbpf_pin_path(char *buf, size_t len, const char *ifname, int obj)
{
	int n;

	if (obj >= 0)
		n = snprintf(buf, len, "%s/%s/%s", FLOWBPF_PIN_ROOT, ifname,
			     pins[obj].name);
	else
		n = snprintf(buf, len, "%s/%s", FLOWBPF_PIN_ROOT, ifname);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Removes every pin of ifname and its directory; missing ones are fine. */
static void unpin_all(const char *ifname)
{
	char path[256];
	int i;

	for (i = 0; i < FB_OBJ_MAX; i++)
		if (!flowbpf_pin_path(path, sizeof(path), ifname, i))
			unlink(path);
	if (!flowbpf_pin_path(path, sizeof(path), ifname, -1))
		rmdir(path);
	/* Only succeeds once no interface is left. */
	rmdir(FLOWBPF_PIN_ROOT);
}

/* Pins every object that has an fd. */
static int pin_all(const char *ifname, const int fd[FB_OBJ_MAX])
{
	char path[256];
	int i, err;

	for (i = 0; i < FB_OBJ_MAX; i++) {
		if (fd[i] < 0)
			continue;
		err = flowbpf_pin_path(path, sizeof(path), ifname, i);
		if (!err && bpf_obj_pin(fd[i], path))
			err = -errno;
		if (err) {
			err_set("cannot pin %s: %s", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

static int check_ifname(const char *ifname, unsigned int *ifindex)
{
	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE ||
	    strchr(ifname, '/') || !strcmp(ifname, ".") ||
	    !strcmp(ifname, "..")) {
		err_set("invalid interface name '%s'", ifname ? ifname : "");
		return -EINVAL;
	}
	if (ifindex) {
		*ifindex = if_nametoindex(ifname);
		if (!*ifindex) {
			err_set("%s: no such interface", ifname);
			return -ENODEV;
		}
	}
	return 0;
}

static int check_root(void)
{
	if (geteuid() != 0) {
		err_set("must be run as root (CAP_BPF and CAP_NET_ADMIN are needed)");
		return -EPERM;
	}
	return 0;
}

int flowbpf_if_is_l3(const char *ifname)
{
	/* ARPHRD_*: NONE (tun, wireguard), TUNNEL, TUNNEL6, SIT, IPGRE,
	 * IP6GRE, PPP, RAWIP.  Loopback frames carry an Ethernet header. */
	static const unsigned int l3[] = { 0xfffe, 768, 769, 776,
					   778,	   823, 512, 519 };
	char path[128];
	unsigned int type, i;
	FILE *f;
	int n;

	if (!ifname[0] || strlen(ifname) >= 16 || strchr(ifname, '/') ||
	    !strcmp(ifname, ".") || !strcmp(ifname, "..")) {
		err_set("'%s' is not an interface name", ifname);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "/sys/class/net/%s/type", ifname);
	f = fopen(path, "re");
	if (!f) {
		err_set("%s: no such interface", ifname);
		return -ENODEV;
	}
	n = fscanf(f, "%u", &type);
	fclose(f);
	if (n != 1) {
		err_set("%s: cannot read its link type", ifname);
		return -EIO;
	}
	for (i = 0; i < sizeof(l3) / sizeof(l3[0]); i++)
		if (type == l3[i])
			return 1;
	return 0;
}

static int check_attach_opts(const struct flowbpf_attach_opts *o)
{
	if (o->l3 && o->ingress != INGRESS_TC) {
		err_set("%s has no Ethernet header: its ingress is served by tc (--ingress tc)",
			o->ifname);
		return -EINVAL;
	}
	if (o->flows < 1 || o->flows > FLOWBPF_FLOWS_MAX) {
		err_set("--flows must be between 1 and %u", FLOWBPF_FLOWS_MAX);
		return -EINVAL;
	}
	if (o->ringbuf < FLOWBPF_RINGBUF_MIN ||
	    o->ringbuf > FLOWBPF_RINGBUF_MAX ||
	    (o->ringbuf & (o->ringbuf - 1))) {
		err_set("ring buffer size must be a power of two from %u to %u",
			FLOWBPF_RINGBUF_MIN, FLOWBPF_RINGBUF_MAX);
		return -EINVAL;
	}
	if (o->hold_pkts < 1 || o->hold_pkts > FLOWBPF_HOLD_PKTS_MAX) {
		err_set("--hold-packets must be between 1 and %u",
			FLOWBPF_HOLD_PKTS_MAX);
		return -EINVAL;
	}
	if (o->malformed && o->malformed != FLOWBPF_VERDICT_PASS &&
	    o->malformed != FLOWBPF_VERDICT_DROP) {
		err_set("--malformed must be 'pass' or 'drop'");
		return -EINVAL;
	}
	return 0;
}

/* Whether a live-frame test run of prog takes a frame of len bytes.
 * The program drops it: nothing reaches the stack. */
static bool live_frame_fits(int prog_fd, __u32 len)
{
	static __u8 frame[FLOWBPF_HOLD_MAX];
	struct xdp_md md = { .data_end = len, .ingress_ifindex = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = frame, .data_size_in = len,
		    .ctx_in = &md, .ctx_size_in = sizeof(md),
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .repeat = 1);

	return !bpf_prog_test_run_opts(prog_fd, &t);
}

__u32 flowbpf_live_frame_max(void)
{
	static const struct bpf_insn drop[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .imm = XDP_DROP },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static __u32 max;
	static bool probed;
	__u32 lo = 64, hi = FLOWBPF_HOLD_MAX, mid;
	int fd;

	if (probed)
		return max;
	probed = true;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "flowbpf_probe", "GPL", drop, 2,
			   NULL);
	if (fd < 0)
		return 0;
	if (!live_frame_fits(fd, lo)) {
		close(fd);
		return 0;
	}
	/* The answer depends on the kernel's page and skb layouts. */
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (live_frame_fits(fd, mid))
			lo = mid;
		else
			hi = mid - 1;
	}
	close(fd);
	max = lo;
	return max;
}

void flowbpf_config_fill(struct flowbpf_config *cfg,
			 const struct flowbpf_attach_opts *o,
			 unsigned int ifindex, bool own_qdisc)
{
	bool tc_ing = o->ingress == INGRESS_TC;
	__u64 ticks;

	cfg->mode = o->mode;
	cfg->pending = o->pending;
	cfg->dflt = o->dflt;
	cfg->timeout_ns = o->timeout_ns;
	ticks = (o->timeout_ns + (1ULL << FLOWBPF_TICK_SHIFT) - 1) >>
		FLOWBPF_TICK_SHIFT;
	cfg->timeout_ticks = ticks < 1		  ? 1
			     : ticks > 0x7fffffff ? 0x7fffffff
						  : ticks;
	cfg->max_queued = o->max_queued;
	cfg->hold_pkts = o->hold_pkts;
	cfg->hold_bytes = o->hold_bytes;
	cfg->malformed = o->malformed ? o->malformed
			 : o->mode == FLOWBPF_MODE_ENFORCE
				 ? FLOWBPF_VERDICT_DROP
				 : FLOWBPF_VERDICT_PASS;
	cfg->hold_frame_max = o->pending == FLOWBPF_PENDING_HOLD
				      ? flowbpf_live_frame_max()
				      : 0;
	cfg->ifindex = ifindex;
	cfg->xdp_flags = tc_ing			       ? 0
			 : o->xdp_mode == XDPM_GENERIC ? XDP_FLAGS_SKB_MODE
						       : XDP_FLAGS_DRV_MODE;
	cfg->flags = (own_qdisc ? FLOWBPF_CFG_OWN_CLSACT : 0) |
		     (tc_ing ? FLOWBPF_CFG_INGRESS_TC : 0) |
		     (o->decap_inner ? FLOWBPF_CFG_DECAP_INNER : 0) |
		     (o->l3 ? FLOWBPF_CFG_L3 : 0);
}

static struct flowbpf *open_and_load(const struct flowbpf_attach_opts *o,
				     unsigned int ifindex, bool own_qdisc,
				     int *errp)
{
	bool tc_ing = o->ingress == INGRESS_TC;
	struct flowbpf *skel;
	int err;

	skel = flowbpf__open();
	if (!skel) {
		*errp = -errno;
		err_set("cannot open BPF object: %s", strerror(errno));
		return NULL;
	}
	flowbpf_config_fill((struct flowbpf_config *)&skel->rodata->cfg, o,
			    ifindex, own_qdisc);
	/* Ingress is one program: XDP, or tc on clsact ingress.  The XDP
	 * program shared through libxdp is loaded apart (share.c). */
	bpf_program__set_autoload(skel->progs.flowbpf_tc_ingress, tc_ing);
	bpf_program__set_autoload(skel->progs.flowbpf_xdp,
				  !tc_ing && o->xdp_attach == XDPA_DIRECT);
	err = bpf_map__set_max_entries(skel->maps.flows, o->flows);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.events, o->ringbuf);
	if (!err)
		err = bpf_map__set_max_entries(
			skel->maps.expired,
			flowbpf_expired_ring_size(o->flows));
	if (err) {
		err_set("cannot size maps: %s", strerror(-err));
		goto fail;
	}
	err = flowbpf__load(skel);
	if (err) {
		err_set("cannot load BPF programs (kernel too old, or no BTF?): %s; run with -v for the verifier log",
			strerror(-err));
		goto fail;
	}
	return skel;
fail:
	flowbpf__destroy(skel);
	*errp = err;
	return NULL;
}

static int tc_attach(struct bpf_tc_hook *hook, struct bpf_tc_opts *tc,
		     int prog_fd, const char *ifname, const char *what)
{
	int err;

	tc->prog_fd = prog_fd;
	err = bpf_tc_attach(hook, tc);
	if (err)
		err_set("%s: cannot attach tc %s program: %s%s", ifname, what,
			strerror(-err),
			err == -EEXIST
				? " (a filter with flowbpf's priority exists)"
				: "");
	return err;
}

static int tc_detach(struct bpf_tc_hook *hook, struct bpf_tc_opts *tc)
{
	tc->prog_fd = tc->prog_id = tc->flags = 0;
	return bpf_tc_detach(hook, tc);
}

static int xdp_attach(const struct flowbpf_attach_opts *o, int prog_fd,
		      unsigned int ifindex)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	int fd, err;

	lopts.flags = o->xdp_mode == XDPM_GENERIC ? XDP_FLAGS_SKB_MODE
						  : XDP_FLAGS_DRV_MODE;
	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lopts);
	if (fd >= 0)
		return fd;
	err = -errno;
	if (o->xdp_mode == XDPM_NATIVE &&
	    (err == -EOPNOTSUPP || err == -EINVAL))
		err_set("%s: the driver does not support native XDP; use --xdp-mode generic",
			o->ifname);
	else
		err_set("%s: cannot attach XDP program: %s", o->ifname,
			strerror(-err));
	return err;
}

/* Refuses what an attach must not go ahead with. */
static int attach_precheck(const struct flowbpf_attach_opts *o,
			   unsigned int *ifindex)
{
	char path[256];
	int err;

	if ((err = check_root()) || (err = check_ifname(o->ifname, ifindex)) ||
	    (err = check_attach_opts(o)) || (err = flowbpf_bpffs_ensure()) ||
	    (err = flowbpf_pin_path(path, sizeof(path), o->ifname, -1)))
		return err;
	if (!access(path, F_OK)) {
		err_set("%s: already attached (see 'flowbpf status'; 'flowbpf detach %s' first)",
			o->ifname, o->ifname);
		return -EEXIST;
	}
	if (o->ingress != INGRESS_TC)
		return xdp_share_precheck(o, *ifindex);
	return 0;
}

static int make_pin_dir(const char *ifname)
{
	char path[256];
	int err = flowbpf_pin_path(path, sizeof(path), ifname, -1);

	if (err)
		return err;
	if (mkdir(FLOWBPF_PIN_ROOT, 0700) && errno != EEXIST) {
		err = -errno;
		err_set("cannot create %s: %s", FLOWBPF_PIN_ROOT,
			strerror(errno));
		return err;
	}
	if (mkdir(path, 0700)) {
		err = -errno;
		err_set("cannot create %s: %s", path, strerror(errno));
		return err;
	}
	return 0;
}

/* The XDP half of an attach: a link of flowbpf's own, or libxdp's. */
static int attach_xdp(const struct flowbpf_attach_opts *o, struct flowbpf *skel,
		      unsigned int ifindex, struct xdp_share *x, int *link_fd,
		      int *prog_fd)
{
	int err;

	if (o->xdp_attach == XDPA_DIRECT) {
		*prog_fd = bpf_program__fd(skel->progs.flowbpf_xdp);
		*link_fd = xdp_attach(o, *prog_fd, ifindex);
		return *link_fd < 0 ? *link_fd : 0;
	}
	err = xdp_share_attach(o, skel, ifindex, x);
	if (err)
		return err;
	*prog_fd = xdp_share_prog_fd(x);
	/* Where the kernel has no dispatcher for libxdp, a link of ours. */
	*link_fd = x->link_fd;
	x->link_fd = -1;
	return 0;
}

static const char *ingress_name(const struct flowbpf_attach_opts *o,
				int link_fd)
{
	if (o->ingress == INGRESS_TC)
		return "tc";
	if (link_fd >= 0)
		return o->xdp_mode == XDPM_GENERIC ? "xdp generic, direct"
						   : "xdp native, direct";
	return o->xdp_mode == XDPM_GENERIC ? "xdp generic, libxdp dispatcher"
					   : "xdp native, libxdp dispatcher";
}

/*
 * An attach under way: what it has made so far, which is what a failed
 * step undoes (attach_undo) and a finished one leaves to the pins.
 */
struct attach_ctx {
	const struct flowbpf_attach_opts *o;
	unsigned int ifindex;
	struct bpf_tc_hook hook, ihook;
	struct bpf_tc_opts tc, itc;
	bool own_qdisc, tc_on, itc_on, pinned;
	struct xdp_share x;
	struct flowbpf *skel;
	int link_fd, xdp_fd;
};

/* Whether the clsact qdisc is ours decides what detach removes. */
static int attach_qdisc(struct attach_ctx *a)
{
	int err = bpf_tc_hook_create(&a->hook);

	if (!err) {
		a->own_qdisc = true;
		return 0;
	}
	if (err == -EEXIST)
		return 0;
	err_set("%s: cannot create clsact qdisc: %s", a->o->ifname,
		strerror(-err));
	return err;
}

/* tc egress always; ingress by tc or by XDP. */
static int attach_hooks(struct attach_ctx *a)
{
	struct flowbpf *skel = a->skel;
	int err;

	err = tc_attach(&a->hook, &a->tc,
			bpf_program__fd(skel->progs.flowbpf_tc_egress),
			a->o->ifname, "egress");
	if (err)
		return err;
	a->tc_on = true;
	if (a->o->ingress != INGRESS_TC)
		return attach_xdp(a->o, skel, a->ifindex, &a->x, &a->link_fd,
				  &a->xdp_fd);
	err = tc_attach(&a->ihook, &a->itc,
			bpf_program__fd(skel->progs.flowbpf_tc_ingress),
			a->o->ifname, "ingress");
	a->itc_on = !err;
	return err;
}

static int attach_pins(struct attach_ctx *a)
{
	int fd[FB_OBJ_MAX], err;

	err = make_pin_dir(a->o->ifname);
	if (err)
		return err;
	a->pinned = true;
	skel_fds(a->skel, a->link_fd, a->xdp_fd, fd);
	return pin_all(a->o->ifname, fd);
}

/* Takes back what a failed attach made, in the reverse order. */
static void attach_undo(struct attach_ctx *a)
{
	if (a->pinned)
		unpin_all(a->o->ifname);
	xdp_share_undo(&a->x, a->ifindex);
	if (a->itc_on)
		tc_detach(&a->ihook, &a->itc);
	if (a->tc_on)
		tc_detach(&a->hook, &a->tc);
	if (a->own_qdisc) {
		a->hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&a->hook);
	}
}

int flowbpf_attach(const struct flowbpf_attach_opts *o)
{
	struct attach_ctx a = {
		.o = o,
		.hook = { .sz = sizeof(a.hook), .attach_point = BPF_TC_EGRESS },
		.ihook = { .sz = sizeof(a.ihook),
			   .attach_point = BPF_TC_INGRESS },
		.tc = { .sz = sizeof(a.tc),
			.handle = FLOWBPF_TC_HANDLE,
			.priority = FLOWBPF_TC_PRIO },
		.itc = { .sz = sizeof(a.itc),
			 .handle = FLOWBPF_TC_HANDLE,
			 .priority = FLOWBPF_TC_PRIO },
		.x = { .link_fd = -1 },
		.link_fd = -1,
		.xdp_fd = -1,
	};
	int err;

	err = attach_precheck(o, &a.ifindex);
	if (err)
		return err;
	a.hook.ifindex = a.ihook.ifindex = a.ifindex;
	err = attach_qdisc(&a);
	if (!err) {
		a.skel = open_and_load(o, a.ifindex, a.own_qdisc, &err);
		if (a.skel)
			err = attach_hooks(&a);
	}
	if (!err)
		err = attach_pins(&a);
	if (err) {
		attach_undo(&a);
	} else {
		pr_info("%s: attached (%s, ingress %s)\n", o->ifname,
			mode_name(o->mode), ingress_name(o, a.link_fd));
		/* The pins hold programs and maps now; the fds can go. */
		a.x.attached = false;
		xdp_share_undo(&a.x, a.ifindex);
	}
	if (a.link_fd >= 0)
		close(a.link_fd);
	xdp_share_free(&a.x);
	flowbpf__destroy(a.skel);
	return err;
}

int flowbpf_pin_get(const char *ifname, enum flowbpf_obj obj)
{
	char path[256];
	int fd;

	if (obj >= FB_OBJ_MAX ||
	    flowbpf_pin_path(path, sizeof(path), ifname, obj))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int flowbpf_pin_dir_open(const char *ifname)
{
	char path[256];
	int fd, err;

	err = flowbpf_pin_path(path, sizeof(path), ifname, -1);
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		err_set("%s: cannot open %s: %s", ifname, path,
			strerror(errno));
		return err;
	}
	return fd;
}

static int read_config(int fd, struct flowbpf_config *cfg)
{
	__u32 zero = 0;
	int err = flowbpf_map_check(fd, sizeof(zero), sizeof(*cfg));

	if (err)
		return err;
	if (bpf_map_lookup_elem(fd, &zero, cfg))
		return -errno;
	return cfg->abi_version == FLOWBPF_ABI_VERSION ? 0 : -EPROTO;
}

/* The id of a program, map or link fd; 0 if it has none. */
static __u32 obj_id(int fd, enum obj_kind kind)
{
	union {
		struct bpf_prog_info prog;
		struct bpf_map_info map;
		struct bpf_link_info link;
	} info;
	__u32 len;

	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	len = kind == OBJ_PROG	? sizeof(info.prog)
	      : kind == OBJ_MAP ? sizeof(info.map)
				: sizeof(info.link);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return kind == OBJ_PROG	 ? info.prog.id
	       : kind == OBJ_MAP ? info.map.id
				 : info.link.id;
}

__u32 flowbpf_pinned_id(const char *ifname, enum flowbpf_obj obj)
{
	int fd = flowbpf_pin_get(ifname, obj);
	__u32 id = obj_id(fd, pins[obj].kind);

	if (fd >= 0)
		close(fd);
	return id;
}

/*
 * Programs are freed after an RCU grace period once their last reference
 * goes; waiting for that makes "detach" mean gone when it returns, so
 * that bpftool run right after shows nothing.
 */
/* Whether this process still holds program id open (libxdp keeps some of
 * the programs it reads until exit): waiting would wait for itself. */
static bool self_holds_prog(__u32 id)
{
	char path[300], line[128];
	struct dirent *e;
	bool held = false;
	unsigned int v;
	DIR *d;
	FILE *f;

	d = opendir("/proc/self/fdinfo");
	while (d && !held && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", e->d_name);
		f = fopen(path, "re");
		while (f && !held && fgets(line, sizeof(line), f))
			held = sscanf(line, "prog_id: %u", &v) == 1 && v == id;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return held;
}

static void wait_prog_gone(__u32 id)
{
	int i, fd;

	if (id && self_holds_prog(id)) {
		pr_debug("program id %u goes when this process ends\n", id);
		return;
	}
	for (i = 0; id && i < 200; i++) {
		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			return;
		close(fd);
		usleep(10000);
	}
	if (id)
		pr_warn("program id %u is still loaded (held by another process?)\n",
			id);
}

/* Removes flowbpf's filter from one hook: the one at its handle and
 * priority, if it still runs flowbpf's program (prog_id). */
static void tc_remove_one(const char *ifname, struct bpf_tc_hook *hook,
			  __u32 prog_id, const char *what)
{
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = FLOWBPF_TC_HANDLE,
		    .priority = FLOWBPF_TC_PRIO);
	int err;

	err = bpf_tc_query(hook, &tc);
	if (err) {
		if (err != -ENOENT && err != -EINVAL)
			pr_warn("%s: cannot query tc %s filter: %s\n", ifname,
				what, strerror(-err));
		return;
	}
	if (prog_id && tc.prog_id != prog_id) {
		pr_warn("%s: the tc %s filter at flowbpf's handle runs program %u, not flowbpf's %u: left alone\n",
			ifname, what, tc.prog_id, prog_id);
		return;
	}
	err = tc_detach(hook, &tc);
	if (err && err != -ENOENT)
		pr_warn("%s: cannot remove tc %s filter: %s\n", ifname, what,
			strerror(-err));
}

/*
 * Removes flowbpf's tc filters, and the clsact qdisc if attach created it
 * and no other filter is left on it: deleting the qdisc would delete
 * another tool's filters with it.
 */
static void tc_remove(const char *ifname, const struct flowbpf_config *cfg,
		      const __u32 *egress_id, const __u32 *ingress_id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	int left;

	hook.ifindex = cfg->ifindex;
	tc_remove_one(ifname, &hook, *egress_id, "egress");
	if (cfg->flags & FLOWBPF_CFG_INGRESS_TC) {
		hook.attach_point = BPF_TC_INGRESS;
		tc_remove_one(ifname, &hook, *ingress_id, "ingress");
	}
	/* A clsact that was there before attach is left alone. */
	if (!(cfg->flags & FLOWBPF_CFG_OWN_CLSACT))
		return;
	left = tc_filter_count(cfg->ifindex);
	if (left) {
		if (left > 0)
			pr_info("%s: clsact qdisc kept: %d filter(s) of others on it\n",
				ifname, left);
		else
			pr_warn("%s: cannot list tc filters (%s): clsact qdisc kept\n",
				ifname, strerror(-left));
		return;
	}
	hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	bpf_tc_hook_destroy(&hook);
}

int flowbpf_detach(const char *ifname)
{
	static const enum flowbpf_obj progs[] = { FB_PROG_XDP,
						  FB_PROG_TC_EGRESS,
						  FB_PROG_TC_INGRESS };
	struct flowbpf_config cfg = {};
	__u32 ids[3] = {};
	char path[256];
	unsigned int ifindex;
	bool own_link;
	int err, fd;
	size_t i;

	if ((err = check_root()) || (err = check_ifname(ifname, NULL)) ||
	    (err = flowbpf_pin_path(path, sizeof(path), ifname, -1)))
		return err;
	if (access(path, F_OK)) {
		err_set("%s: not attached", ifname);
		return -ENOENT;
	}
	for (i = 0; i < 3; i++) {
		fd = flowbpf_pin_get(ifname, progs[i]);
		ids[i] = obj_id(fd, OBJ_PROG);
		if (fd >= 0)
			close(fd);
	}
	fd = flowbpf_pin_get(ifname, FB_LINK_XDP);
	own_link = fd >= 0;
	if (fd >= 0)
		close(fd);
	fd = flowbpf_pin_get(ifname, FB_MAP_CONFIG);
	err = fd < 0 ? fd : read_config(fd, &cfg);
	if (fd >= 0)
		close(fd);
	if (err)
		pr_warn("%s: cannot read pinned config (%s); removing pins only\n",
			ifname, strerror(-err));

	/* The interface may be gone (or renamed): then only pins remain,
	 * flowbpf's and those libxdp kept for its dispatcher there. */
	ifindex = if_nametoindex(ifname);
	if (!err && ifindex && ifindex == cfg.ifindex) {
		tc_remove(ifname, &cfg, &ids[1], &ids[2]);
		/* Dropping the pinned link detaches XDP; libxdp's dispatcher
		 * is told to run flowbpf's program no more. */
		if (!own_link && ids[0])
			xdp_share_detach(ifname, ifindex, ids[0]);
	} else if (!err && ids[0] && !own_link) {
		xdp_share_clean(cfg.ifindex);
	}
	unpin_all(ifname);
	for (i = 0; i < 3; i++)
		wait_prog_gone(ids[i]);
	pr_info("%s: detached\n", ifname);
	return 0;
}

int flowbpf_stats_read(int stats_fd, struct flowbpf_stats *out)
{
#define FLOWBPF_STAT_OUTCOME(name, key, outcome) \
	[FLOWBPF_STAT_##name] = outcome,
	static const bool outcome[FLOWBPF_STAT_MAX] = { FLOWBPF_STATS(
		FLOWBPF_STAT_OUTCOME) };
#undef FLOWBPF_STAT_OUTCOME
	int ncpu = libbpf_num_possible_cpus(), i, j, err = 0;
	struct flowbpf_stats *percpu;
	__u32 zero = 0;

	if (ncpu < 1)
		return ncpu < 0 ? ncpu : -EINVAL;
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(stats_fd, &zero, percpu)) {
		err = -errno;
		goto cleanup;
	}
	for (i = 0; i < ncpu; i++)
		for (j = 0; j < FLOWBPF_STAT_MAX; j++)
			out->c[j] += percpu[i].c[j];
	/* Every packet ends in exactly one outcome. */
	out->c[FLOWBPF_STAT_PACKETS] = 0;
	for (j = 0; j < FLOWBPF_STAT_MAX; j++)
		if (outcome[j])
			out->c[FLOWBPF_STAT_PACKETS] += out->c[j];
cleanup:
	free(percpu);
	return err;
}

int flowbpf_map_count(int fd, __u32 key_size, __u64 *count)
{
	char key[256], next[256];
	void *prev = NULL;

	if (key_size > sizeof(key))
		return -EINVAL;
	*count = 0;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		(*count)++;
	}
	return errno == ENOENT ? 0 : -errno;
}

int flowbpf_map_check(int fd, __u32 key_size, __u32 value_size)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	return info.key_size == key_size && info.value_size == value_size
		       ? 0
		       : -EPROTO;
}

/* Maps read into structs of this header must have their sizes. */
static int check_layouts(const struct flowbpf_handle *h)
{
	int ncpu = libbpf_num_possible_cpus();

	if (flowbpf_map_check(h->fd[FB_MAP_FLOWS], sizeof(struct flowbpf_key),
			      sizeof(struct flowbpf_flow)) ||
	    flowbpf_map_check(h->fd[FB_MAP_MANUAL], sizeof(struct flowbpf_key),
			      sizeof(struct flowbpf_manual)) ||
	    flowbpf_map_check(h->fd[FB_MAP_STATS], sizeof(__u32),
			      sizeof(struct flowbpf_stats)) ||
	    ncpu < 1) {
		err_set("%s: pinned maps have another layout (attached by another flowbpf version?)",
			h->ifname);
		return -EPROTO;
	}
	return 0;
}

int flowbpf_open(const char *ifname, struct flowbpf_handle *h)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[256];
	int err, i, missing = -1;

	memset(h, 0, sizeof(*h));
	for (i = 0; i < FB_OBJ_MAX; i++)
		h->fd[i] = -1;
	if ((err = check_root()) || (err = check_ifname(ifname, NULL)))
		return err;
	snprintf(h->ifname, sizeof(h->ifname), "%s", ifname);
	if ((err = flowbpf_bpffs_ensure()) ||
	    (err = flowbpf_pin_path(path, sizeof(path), ifname, -1)))
		return err;
	if (access(path, F_OK)) {
		err_set("%s: not attached", ifname);
		return -ENOENT;
	}
	for (i = 0; i < FB_OBJ_MAX; i++) {
		h->fd[i] = flowbpf_pin_get(ifname, i);
		if (h->fd[i] < 0 && pins[i].kind == OBJ_MAP && missing < 0)
			missing = i;
		h->id[i] = obj_id(h->fd[i], pins[i].kind);
	}
	/* Another version's attach may pin other maps: its config says so. */
	err = missing == FB_MAP_CONFIG
		      ? h->fd[FB_MAP_CONFIG]
		      : read_config(h->fd[FB_MAP_CONFIG], &h->cfg);
	if (!err && missing >= 0) {
		err = h->fd[missing];
		flowbpf_pin_path(path, sizeof(path), ifname, missing);
		err_set("%s: cannot open pinned map %s: %s", ifname, path,
			strerror(-err));
		goto cleanup;
	}
	if (err) {
		err_set("%s: cannot read pinned config: %s%s", ifname,
			strerror(-err),
			err == -EPROTO
				? " (attached by another flowbpf version?)"
				: "");
		goto cleanup;
	}
	err = check_layouts(h);
	if (err)
		goto cleanup;
	if (bpf_obj_get_info_by_fd(h->fd[FB_MAP_FLOWS], &info, &len)) {
		err = -errno;
		err_set("%s: cannot query flow map: %s", ifname,
			strerror(errno));
		goto cleanup;
	}
	h->flows_max = info.max_entries;
	return 0;
cleanup:
	flowbpf_close(h);
	return err;
}

void flowbpf_close(struct flowbpf_handle *h)
{
	int i;

	if (!h)
		return;
	for (i = 0; i < FB_OBJ_MAX; i++) {
		if (h->fd[i] >= 0)
			close(h->fd[i]);
		h->fd[i] = -1;
	}
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int flowbpf_list(char (*names)[IF_NAMESIZE], int max)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(FLOWBPF_PIN_ROOT);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) && n < max) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= IF_NAMESIZE)
			continue;
		snprintf(names[n++], IF_NAMESIZE, "%s", de->d_name);
	}
	closedir(d);
	qsort(names, n, IF_NAMESIZE, name_cmp);
	return n;
}

int flowbpf_verdict_run(int prog_fd, const struct flowbpf_vop *ops, size_t n,
			int *results)
{
	static __thread struct flowbpf_vbatch b;
	size_t done = 0, i;

	while (done < n) {
		LIBBPF_OPTS(bpf_test_run_opts, t, .ctx_in = &b,
			    .ctx_size_in = sizeof(b));
		size_t cnt = n - done < FLOWBPF_VERDICT_BATCH
				     ? n - done
				     : FLOWBPF_VERDICT_BATCH;

		b.count = cnt;
		memcpy(b.ops, ops + done, cnt * sizeof(*ops));
		if (bpf_prog_test_run_opts(prog_fd, &t))
			return -errno;
		for (i = 0; results && i < cnt; i++)
			results[done + i] = b.applied >> i & 1	 ? 0
					    : b.missing >> i & 1 ? -ENOENT
								 : -EPERM;
		done += cnt;
	}
	return 0;
}

int flowbpf_verdict_set(int prog_fd, const struct flowbpf_key *k, __u32 verdict,
			__u32 source, __u32 flags)
{
	struct flowbpf_vop op = { .key = *k,
				  .op = FLOWBPF_VOP_SET,
				  .verdict = verdict,
				  .source = source,
				  .flags = flags };
	int res, err;

	err = flowbpf_verdict_run(prog_fd, &op, 1, &res);
	return err ?: res;
}

int flowbpf_manual_set(const struct flowbpf_handle *h,
		       const struct flowbpf_key *k, __u32 verdict, bool *live)
{
	struct flowbpf_manual mv = { .verdict = verdict };
	int err;

	if (bpf_map_update_elem(h->fd[FB_MAP_MANUAL], k, &mv, BPF_ANY)) {
		err = -errno;
		if (err == -E2BIG || err == -ENOMEM)
			err = -ENOSPC;
		if (err == -ENOSPC)
			err_set("%s: the manual verdict table is full (%u entries; clear some first)",
				h->ifname, FLOWBPF_MANUAL_MAX);
		else
			err_set("%s: cannot keep the verdict: %s", h->ifname,
				strerror(-err));
		return err;
	}
	err = flowbpf_verdict_set(h->fd[FB_PROG_VERDICT], k, verdict,
				  FLOWBPF_SRC_MANUAL, 0);
	if (err && err != -ENOENT) {
		err_set("%s: cannot set the verdict: %s", h->ifname,
			strerror(-err));
		return err;
	}
	*live = !err;
	return 0;
}

int flowbpf_manual_clear(const struct flowbpf_handle *h,
			 const struct flowbpf_key *k)
{
	struct flowbpf_vop op = { .key = *k, .op = FLOWBPF_VOP_REQUEUE };
	bool had = !bpf_map_delete_elem(h->fd[FB_MAP_MANUAL], k);
	int res, err;

	err = flowbpf_verdict_run(h->fd[FB_PROG_VERDICT], &op, 1, &res);
	if (err) {
		err_set("%s: cannot clear the verdict: %s", h->ifname,
			strerror(-err));
		return err;
	}
	if (res && !had) {
		err_set("%s: no verdict for that flow", h->ifname);
		return -ENOENT;
	}
	return 0;
}

__u32 flowbpf_expired_ring_size(__u32 flows)
{
	__u64 want = (__u64)flows * FLOWBPF_EXPIRED_RING_PER_FLOW;
	__u32 size = FLOWBPF_EXPIRED_RING_MIN;

	while (size < want && size < (1U << 30))
		size <<= 1;
	return size;
}

struct expire_drain {
	struct ring_buffer *rb;
	void (*cb)(void *ctx, const struct flowbpf_expired *e);
	void *ctx;
	bool running; /* __atomic: read by the drainer thread */
	__u64 n;
	int err;
};

static int expire_record(void *ctx, void *data, size_t size)
{
	struct expire_drain *x = ctx;

	if (size < sizeof(struct flowbpf_expired))
		return 0;
	x->cb(x->ctx, data);
	x->n++;
	return 0;
}

/* Drains the ring for as long as the program runs (and once after). */
static void *expire_drainer(void *arg)
{
	struct expire_drain *x = arg;

	struct timespec nap = { 0, 50000 };
	int got;

	while (__atomic_load_n(&x->running, __ATOMIC_ACQUIRE)) {
		got = ring_buffer__consume(x->rb);
		if (got < 0)
			x->err = -EIO;
		else if (!got)
			nanosleep(&nap, NULL);
	}
	ring_buffer__consume(x->rb);
	return NULL;
}

int flowbpf_expire(int prog_fd, int ring_fd, __u32 idle_cutoff,
		   __u32 end_cutoff,
		   void (*cb)(void *ctx, const struct flowbpf_expired *e),
		   void *ctx, __u64 *n)
{
	struct expire_drain x = { .cb = cb, .ctx = ctx, .running = true };
	struct flowbpf_expire_args a;
	pthread_t th;
	int err = 0;

	*n = 0;
	x.rb = ring_buffer__new(ring_fd, expire_record, &x, NULL);
	if (!x.rb)
		return -errno;
	err = -pthread_create(&th, NULL, expire_drainer, &x);
	if (err)
		goto cleanup;
	/* A full ring stops a walk; what it removed is in the ring, and the
	 * next walk goes on with what is left. */
	do {
		LIBBPF_OPTS(bpf_test_run_opts, t, .ctx_in = &a,
			    .ctx_size_in = sizeof(a));

		a = (struct flowbpf_expire_args){ .idle_cutoff = idle_cutoff,
						  .end_cutoff = end_cutoff };
		if (bpf_prog_test_run_opts(prog_fd, &t)) {
			err = -errno;
			break;
		}
	} while (a.full);
	__atomic_store_n(&x.running, false, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	err = err ?: x.err;
cleanup:
	ring_buffer__free(x.rb);
	*n = x.n;
	return err;
}

__u64 flowbpf_tick_ns(__u32 tick, __u64 now_ns)
{
	/* Signed: a tick a little after now (stamped since) is not 52 days
	 * ago.  Exact within 26 days of now. */
	__s32 ago = (__s32)(flowbpf_ns_tick(now_ns) - tick);

	return ((now_ns >> FLOWBPF_TICK_SHIFT) - ago) << FLOWBPF_TICK_SHIFT;
}

static int read_per_key(int fd, __u32 ks, __u32 vs, char *keys, char *vals,
			size_t cap, size_t *count)
{
	char prev[256];
	size_t n = 0;
	void *pk = NULL;

	while (n < cap && !bpf_map_get_next_key(fd, pk, keys + n * ks)) {
		memcpy(prev, keys + n * ks, ks);
		pk = prev;
		/* Entries may vanish (LRU eviction) between the two calls. */
		if (!bpf_map_lookup_elem(fd, keys + n * ks, vals + n * vs))
			n++;
	}
	*count = n;
	return 0;
}

/* Errors of a first BPF_MAP_LOOKUP_BATCH that mean "not here". */
static bool no_batch_ops(int err)
{
	return err == -EINVAL || err == -EOPNOTSUPP ||
	       err == -524 /* ENOTSUPP */;
}

int flowbpf_map_read(int fd, __u32 key_size, __u32 value_size, void *keys,
		     void *values, size_t cap, size_t *count, bool *batch)
{
	char in[256], out[256], *k = keys, *v = values;
	bool first = true;
	size_t got = 0;
	__u32 n;
	int err;

	if (key_size > sizeof(in))
		return -EINVAL;
	if (!*batch)
		return read_per_key(fd, key_size, value_size, k, v, cap, count);
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		n = cap - got < 8192 ? cap - got : 8192;
		if (!n)
			break;
		err = bpf_map_lookup_batch(fd, first ? NULL : in, out,
					   k + got * key_size,
					   v + got * value_size, &n, &opts);
		if (err == -ENOENT) {
			got += n;
			break;
		}
		if (first && no_batch_ops(err))
			*batch = false;
		/* ENOSPC: a bucket larger than the batch; key by key then. */
		if ((first && no_batch_ops(err)) || err == -ENOSPC)
			return read_per_key(fd, key_size, value_size, k, v, cap,
					    count);
		if (err)
			return err;
		got += n;
		memcpy(in, out, key_size);
		first = false;
	}
	*count = got;
	return 0;
}

int flowbpf_map_dump(int fd, __u32 key_size, __u32 value_size, void **keys,
		     void **values, size_t *count)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	bool batch = true;
	char *k, *v;
	size_t cap;
	int err;

	*keys = *values = NULL;
	*count = 0;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err)
		return err;
	/* The map can't hold more than max_entries; a few spare for races. */
	cap = (size_t)info.max_entries + 64;
	k = malloc(cap * key_size);
	v = malloc(cap * value_size);
	err = k && v ? flowbpf_map_read(fd, key_size, value_size, k, v, cap,
					count, &batch)
		     : -ENOMEM;
	if (err) {
		free(k);
		free(v);
		return err;
	}
	*keys = k;
	*values = v;
	return 0;
}
