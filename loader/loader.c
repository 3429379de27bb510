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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static const char *const pin_names[] = {
	FLOWBPF_PIN_LINK_XDP,	    FLOWBPF_PIN_PROG_XDP,
	FLOWBPF_PIN_PROG_TC_EGRESS, FLOWBPF_PIN_PROG_TC_INGRESS,
	FLOWBPF_PIN_FLOWS,	    FLOWBPF_PIN_VERDICTS,
	FLOWBPF_PIN_STATS,	    FLOWBPF_PIN_EVENTS,
	FLOWBPF_PIN_CONFIG,	    FLOWBPF_PIN_ACCT,
	FLOWBPF_PIN_QSTATE,	    FLOWBPF_PIN_HEARTBEAT,
	FLOWBPF_PIN_PROG_REINJECT,
};

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

static int pin_path(char *buf, size_t len, const char *ifname, const char *name)
{
	int n;

	if (name)
		n = snprintf(buf, len, "%s/%s/%s", FLOWBPF_PIN_ROOT, ifname,
			     name);
	else
		n = snprintf(buf, len, "%s/%s", FLOWBPF_PIN_ROOT, ifname);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Removes every pin of ifname and its directory; missing ones are fine. */
static void unpin_all(const char *ifname)
{
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(pin_names) / sizeof(pin_names[0]); i++)
		if (!pin_path(path, sizeof(path), ifname, pin_names[i]))
			unlink(path);
	if (!pin_path(path, sizeof(path), ifname, NULL))
		rmdir(path);
	/* Only succeeds once no interface is left. */
	rmdir(FLOWBPF_PIN_ROOT);
}

static int pin_fd(int fd, const char *ifname, const char *name)
{
	char path[256];
	int err;

	err = pin_path(path, sizeof(path), ifname, name);
	if (!err && bpf_obj_pin(fd, path))
		err = -errno;
	if (err)
		err_set("cannot pin %s: %s", path, strerror(-err));
	return err;
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

int flowbpf_attach(const struct flowbpf_attach_opts *o)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = FLOWBPF_TC_HANDLE,
		    .priority = FLOWBPF_TC_PRIO);
	LIBBPF_OPTS(bpf_tc_hook, ihook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, itc, .handle = FLOWBPF_TC_HANDLE,
		    .priority = FLOWBPF_TC_PRIO);
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	bool own_qdisc = false, tc_attached = false, pinned = false;
	bool tc_ing = o->ingress == INGRESS_TC, itc_attached = false;
	struct flowbpf *skel = NULL;
	char path[256];
	unsigned int ifindex;
	__u32 xdp_id = 0;
	int err, link_fd = -1;

	err = check_root();
	if (err)
		return err;
	err = check_ifname(o->ifname, &ifindex);
	if (err)
		return err;
	if (o->flows < 1 || o->flows > (1U << 26)) {
		err_set("--flows must be between 1 and %u", 1U << 26);
		return -EINVAL;
	}
	if (o->ringbuf < 4096 || (o->ringbuf & (o->ringbuf - 1))) {
		err_set("ring buffer size must be a power of two >= 4096");
		return -EINVAL;
	}
	err = flowbpf_bpffs_ensure();
	if (err)
		return err;
	err = pin_path(path, sizeof(path), o->ifname, NULL);
	if (err)
		return err;
	if (!access(path, F_OK)) {
		err_set("%s: already attached (see 'flowbpf status'; 'flowbpf detach %s' first)",
			o->ifname, o->ifname);
		return -EEXIST;
	}
	if (!tc_ing && !bpf_xdp_query_id(ifindex, 0, &xdp_id) && xdp_id) {
		err_set("%s: another XDP program (id %u) is already attached",
			o->ifname, xdp_id);
		return -EBUSY;
	}

	/* Whether the clsact qdisc is ours decides what detach removes. */
	hook.ifindex = ifindex;
	err = bpf_tc_hook_create(&hook);
	if (!err) {
		own_qdisc = true;
	} else if (err != -EEXIST) {
		err_set("%s: cannot create clsact qdisc: %s", o->ifname,
			strerror(-err));
		goto cleanup;
	}

	skel = flowbpf__open();
	if (!skel) {
		err = -errno;
		err_set("cannot open BPF object: %s", strerror(errno));
		goto cleanup;
	}
	skel->rodata->cfg.mode = o->mode;
	skel->rodata->cfg.pending = o->pending;
	skel->rodata->cfg.dflt = o->dflt;
	skel->rodata->cfg.timeout_ns = o->timeout_ns;
	skel->rodata->cfg.max_queued = o->max_queued;
	skel->rodata->cfg.hold_pkts = o->hold_pkts;
	skel->rodata->cfg.hold_bytes = o->hold_bytes;
	skel->rodata->cfg.ifindex = ifindex;
	skel->rodata->cfg.xdp_flags = tc_ing ? 0
				      : o->xdp_mode == XDPM_GENERIC
					      ? XDP_FLAGS_SKB_MODE
					      : XDP_FLAGS_DRV_MODE;
	skel->rodata->cfg.flags = (own_qdisc ? FLOWBPF_CFG_OWN_CLSACT : 0) |
				  (tc_ing ? FLOWBPF_CFG_INGRESS_TC : 0);
	/* Ingress is one program: XDP, or tc on clsact ingress. */
	bpf_program__set_autoload(skel->progs.flowbpf_tc_ingress, tc_ing);
	bpf_program__set_autoload(skel->progs.flowbpf_xdp, !tc_ing);
	err = bpf_map__set_max_entries(skel->maps.flows, o->flows);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.verdicts, o->flows);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.events, o->ringbuf);
	if (err) {
		err_set("cannot size maps: %s", strerror(-err));
		goto cleanup;
	}
	err = flowbpf__load(skel);
	if (err) {
		err_set("cannot load BPF programs (kernel too old, or no BTF?): %s; run with -v for the verifier log",
			strerror(-err));
		goto cleanup;
	}

	tc.prog_fd = bpf_program__fd(skel->progs.flowbpf_tc_egress);
	err = bpf_tc_attach(&hook, &tc);
	if (err) {
		err_set("%s: cannot attach tc egress program: %s%s", o->ifname,
			strerror(-err),
			err == -EEXIST
				? " (a filter with flowbpf's priority exists)"
				: "");
		goto cleanup;
	}
	tc_attached = true;

	if (tc_ing) {
		ihook.ifindex = ifindex;
		itc.prog_fd = bpf_program__fd(skel->progs.flowbpf_tc_ingress);
		err = bpf_tc_attach(&ihook, &itc);
		if (err) {
			err_set("%s: cannot attach tc ingress program: %s%s",
				o->ifname, strerror(-err),
				err == -EEXIST
					? " (a filter with flowbpf's priority exists)"
					: "");
			goto cleanup;
		}
		itc_attached = true;
		goto attached;
	}

	lopts.flags = o->xdp_mode == XDPM_GENERIC ? XDP_FLAGS_SKB_MODE
						  : XDP_FLAGS_DRV_MODE;
	link_fd = bpf_link_create(bpf_program__fd(skel->progs.flowbpf_xdp),
				  ifindex, BPF_XDP, &lopts);
	if (link_fd < 0) {
		err = -errno;
		if (o->xdp_mode == XDPM_NATIVE &&
		    (err == -EOPNOTSUPP || err == -EINVAL))
			err_set("%s: the driver does not support native XDP; use --xdp-mode generic",
				o->ifname);
		else
			err_set("%s: cannot attach XDP program: %s", o->ifname,
				strerror(-err));
		goto cleanup;
	}

attached:
	if (mkdir(FLOWBPF_PIN_ROOT, 0700) && errno != EEXIST) {
		err = -errno;
		err_set("cannot create %s: %s", FLOWBPF_PIN_ROOT,
			strerror(errno));
		goto cleanup;
	}
	if (mkdir(path, 0700)) {
		err = -errno;
		err_set("cannot create %s: %s", path, strerror(errno));
		goto cleanup;
	}
	pinned = true;
	if (tc_ing)
		err = pin_fd(bpf_program__fd(skel->progs.flowbpf_tc_ingress),
			     o->ifname, FLOWBPF_PIN_PROG_TC_INGRESS);
	else if (!(err = pin_fd(link_fd, o->ifname, FLOWBPF_PIN_LINK_XDP)))
		err = pin_fd(bpf_program__fd(skel->progs.flowbpf_xdp),
			     o->ifname, FLOWBPF_PIN_PROG_XDP);
	if (err ||
	    (err = pin_fd(bpf_program__fd(skel->progs.flowbpf_tc_egress),
			  o->ifname, FLOWBPF_PIN_PROG_TC_EGRESS)) ||
	    (err = pin_fd(bpf_map__fd(skel->maps.flows), o->ifname,
			  FLOWBPF_PIN_FLOWS)) ||
	    (err = pin_fd(bpf_map__fd(skel->maps.verdicts), o->ifname,
			  FLOWBPF_PIN_VERDICTS)) ||
	    (err = pin_fd(bpf_map__fd(skel->maps.stats), o->ifname,
			  FLOWBPF_PIN_STATS)) ||
	    (err = pin_fd(bpf_map__fd(skel->maps.events), o->ifname,
			  FLOWBPF_PIN_EVENTS)) ||
	    (err = pin_fd(bpf_map__fd(skel->maps.acct), o->ifname,
			  FLOWBPF_PIN_ACCT)) ||
	    (err = pin_fd(bpf_map__fd(skel->maps.rodata), o->ifname,
			  FLOWBPF_PIN_CONFIG)) ||
	    (err = pin_fd(bpf_map__fd(skel->maps.qstate), o->ifname,
			  FLOWBPF_PIN_QSTATE)) ||
	    (err = pin_fd(bpf_map__fd(skel->maps.heartbeat), o->ifname,
			  FLOWBPF_PIN_HEARTBEAT)) ||
	    (err = pin_fd(bpf_program__fd(skel->progs.flowbpf_reinject),
			  o->ifname, FLOWBPF_PIN_PROG_REINJECT)))
		goto cleanup;

	pr_info("%s: attached (%s, ingress %s)\n", o->ifname,
		mode_name(o->mode),
		tc_ing			      ? "tc"
		: o->xdp_mode == XDPM_GENERIC ? "xdp generic"
					      : "xdp native");
	err = 0;
	/* Success: the pins now hold programs and maps; the fds can go. */
	pinned = false;
	tc_attached = itc_attached = false;
	own_qdisc = false;
cleanup:
	if (pinned)
		unpin_all(o->ifname);
	if (itc_attached) {
		itc.prog_fd = itc.prog_id = itc.flags = 0;
		bpf_tc_detach(&ihook, &itc);
	}
	if (tc_attached) {
		tc.prog_fd = tc.prog_id = tc.flags = 0;
		bpf_tc_detach(&hook, &tc);
	}
	if (own_qdisc) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	if (link_fd >= 0)
		close(link_fd);
	flowbpf__destroy(skel);
	return err;
}

static int read_config(const char *ifname, struct flowbpf_config *cfg)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	char path[256];
	int fd, err;

	err = pin_path(path, sizeof(path), ifname, FLOWBPF_PIN_CONFIG);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (!err && info.value_size != sizeof(*cfg))
		err = -EPROTO;
	if (!err && bpf_map_lookup_elem(fd, &zero, cfg))
		err = -errno;
	if (!err && cfg->abi_version != FLOWBPF_ABI_VERSION)
		err = -EPROTO;
	close(fd);
	return err;
}

static int prog_id_of(const char *ifname, const char *name, __u32 *id);

/*
 * Programs are freed after an RCU grace period once their last reference
 * goes; waiting for that makes "detach" mean gone when it returns, so
 * that bpftool run right after shows nothing.
 */
static void wait_prog_gone(__u32 id)
{
	int i, fd;

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

int flowbpf_detach(const char *ifname)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = FLOWBPF_TC_HANDLE,
		    .priority = FLOWBPF_TC_PRIO);
	struct flowbpf_config cfg = {};
	__u32 xdp_id = 0, tc_id = 0, tci_id = 0;
	char path[256];
	unsigned int ifindex;
	int err;

	err = check_root();
	if (err)
		return err;
	err = check_ifname(ifname, NULL);
	if (err)
		return err;
	err = pin_path(path, sizeof(path), ifname, NULL);
	if (err)
		return err;
	if (access(path, F_OK)) {
		err_set("%s: not attached", ifname);
		return -ENOENT;
	}
	prog_id_of(ifname, FLOWBPF_PIN_PROG_XDP, &xdp_id);
	prog_id_of(ifname, FLOWBPF_PIN_PROG_TC_EGRESS, &tc_id);
	prog_id_of(ifname, FLOWBPF_PIN_PROG_TC_INGRESS, &tci_id);
	err = read_config(ifname, &cfg);
	if (err)
		pr_warn("%s: cannot read pinned config (%s); removing pins only\n",
			ifname, strerror(-err));

	/* The interface may be gone (or renamed): then only pins remain. */
	ifindex = if_nametoindex(ifname);
	if (!err && ifindex && ifindex == cfg.ifindex) {
		hook.ifindex = ifindex;
		err = bpf_tc_detach(&hook, &tc);
		if (err && err != -ENOENT)
			pr_warn("%s: cannot remove tc filter: %s\n", ifname,
				strerror(-err));
		if (cfg.flags & FLOWBPF_CFG_INGRESS_TC) {
			hook.attach_point = BPF_TC_INGRESS;
			tc.prog_fd = tc.prog_id = tc.flags = 0;
			err = bpf_tc_detach(&hook, &tc);
			if (err && err != -ENOENT)
				pr_warn("%s: cannot remove tc ingress filter: %s\n",
					ifname, strerror(-err));
		}
		/* A clsact that was there before attach is left alone. */
		if (cfg.flags & FLOWBPF_CFG_OWN_CLSACT) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
	}
	/* Dropping the pinned link detaches XDP. */
	unpin_all(ifname);
	wait_prog_gone(xdp_id);
	wait_prog_gone(tc_id);
	wait_prog_gone(tci_id);
	pr_info("%s: detached\n", ifname);
	return 0;
}

int flowbpf_stats_read(int stats_fd, struct flowbpf_stats *out)
{
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

static int prog_id_of(const char *ifname, const char *name, __u32 *id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd, err;

	*id = 0;
	fd = flowbpf_pin_get(ifname, name);
	if (fd < 0)
		return fd;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (!err)
		*id = info.id;
	close(fd);
	return err;
}

static int link_id_of(const char *ifname, __u32 *id)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int fd, err;

	*id = 0;
	fd = flowbpf_pin_get(ifname, FLOWBPF_PIN_LINK_XDP);
	if (fd < 0)
		return fd;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (!err)
		*id = info.id;
	close(fd);
	return err;
}

static int open_map(const char *ifname, const char *name, int *fd)
{
	char path[256];
	int err;

	err = pin_path(path, sizeof(path), ifname, name);
	if (err)
		return err;
	*fd = bpf_obj_get(path);
	if (*fd < 0) {
		err = -errno;
		err_set("%s: cannot open pinned map %s: %s", ifname, path,
			strerror(errno));
		return err;
	}
	return 0;
}

int flowbpf_pin_get(const char *ifname, const char *name)
{
	char path[256];
	int fd;

	if (pin_path(path, sizeof(path), ifname, name))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

static int check_value_size(int fd, __u32 size)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	return info.value_size == size ? 0 : -EPROTO;
}

int flowbpf_open(const char *ifname, struct flowbpf_handle *h)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[256];
	int err;

	memset(h, 0, sizeof(*h));
	h->flows_fd = h->verdicts_fd = h->stats_fd = h->events_fd = -1;
	err = check_root();
	if (err)
		return err;
	err = check_ifname(ifname, NULL);
	if (err)
		return err;
	snprintf(h->ifname, sizeof(h->ifname), "%s", ifname);
	err = flowbpf_bpffs_ensure();
	if (err)
		return err;
	err = pin_path(path, sizeof(path), ifname, NULL);
	if (err)
		return err;
	if (access(path, F_OK)) {
		err_set("%s: not attached", ifname);
		return -ENOENT;
	}
	err = read_config(ifname, &h->cfg);
	if (err) {
		err_set("%s: cannot read pinned config: %s%s", ifname,
			strerror(-err),
			err == -EPROTO
				? " (attached by another flowbpf version?)"
				: "");
		goto cleanup;
	}
	if ((err = open_map(ifname, FLOWBPF_PIN_FLOWS, &h->flows_fd)) ||
	    (err = open_map(ifname, FLOWBPF_PIN_VERDICTS, &h->verdicts_fd)) ||
	    (err = open_map(ifname, FLOWBPF_PIN_STATS, &h->stats_fd)) ||
	    (err = open_map(ifname, FLOWBPF_PIN_EVENTS, &h->events_fd)))
		goto cleanup;
	err = bpf_obj_get_info_by_fd(h->flows_fd, &info, &len);
	if (err) {
		err_set("%s: cannot query flow map: %s", ifname,
			strerror(-err));
		goto cleanup;
	}
	if (info.key_size != sizeof(struct flowbpf_key) ||
	    info.value_size != sizeof(struct flowbpf_flow)) {
		err = -EPROTO;
		err_set("%s: pinned flow map has another layout (attached by another flowbpf version?)",
			ifname);
		goto cleanup;
	}
	h->flows_max = info.max_entries;
	/* Every map we read into a struct must have that struct's size. */
	if (check_value_size(h->verdicts_fd,
			     sizeof(struct flowbpf_verdict_val)) ||
	    check_value_size(h->stats_fd, sizeof(struct flowbpf_stats))) {
		err = -EPROTO;
		err_set("%s: pinned maps have another layout (attached by another flowbpf version?)",
			ifname);
		goto cleanup;
	}
	prog_id_of(ifname, FLOWBPF_PIN_PROG_XDP, &h->xdp_prog_id);
	prog_id_of(ifname, FLOWBPF_PIN_PROG_TC_EGRESS, &h->tc_prog_id);
	prog_id_of(ifname, FLOWBPF_PIN_PROG_TC_INGRESS, &h->tc_ingress_prog_id);
	link_id_of(ifname, &h->xdp_link_id);
	return 0;
cleanup:
	flowbpf_close(h);
	return err;
}

void flowbpf_close(struct flowbpf_handle *h)
{
	if (!h)
		return;
	if (h->flows_fd >= 0)
		close(h->flows_fd);
	if (h->verdicts_fd >= 0)
		close(h->verdicts_fd);
	if (h->stats_fd >= 0)
		close(h->stats_fd);
	if (h->events_fd >= 0)
		close(h->events_fd);
	h->flows_fd = h->verdicts_fd = h->stats_fd = h->events_fd = -1;
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

static int dump_per_key(int fd, __u32 ks, __u32 vs, char *keys, char *vals,
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

int flowbpf_map_dump(int fd, __u32 key_size, __u32 value_size, void **keys,
		     void **values, size_t *count)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), batch, n;
	char *k = NULL, *v = NULL;
	size_t cap, got = 0;
	char in[256], out[256];
	bool first = true;
	int err;

	*keys = *values = NULL;
	*count = 0;
	if (key_size > sizeof(in))
		return -EINVAL;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err)
		return err;
	/* The map can't hold more than max_entries; a few spare for races. */
	cap = (size_t)info.max_entries + 64;
	k = malloc(cap * key_size);
	v = malloc(cap * value_size);
	if (!k || !v) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		batch = cap - got < 4096 ? cap - got : 4096;
		if (!batch)
			break;
		n = batch;
		err = bpf_map_lookup_batch(fd, first ? NULL : in, out,
					   k + got * key_size,
					   v + got * value_size, &n, &opts);
		if (err && err != -ENOENT) {
			if (first && (err == -EINVAL || err == -EOPNOTSUPP ||
				      err == -524 /* ENOTSUPP */)) {
				err = dump_per_key(fd, key_size, value_size, k,
						   v, cap, &got);
				break;
			}
			/* ENOSPC: a bucket larger than the batch; retry bigger
			 * is not possible here, fall back to per-key. */
			if (err == -ENOSPC) {
				err = dump_per_key(fd, key_size, value_size, k,
						   v, cap, &got);
				break;
			}
			goto cleanup;
		}
		got += n;
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		memcpy(in, out, key_size);
		first = false;
	}
	*keys = k;
	*values = v;
	*count = got;
	return 0;
cleanup:
	free(k);
	free(v);
	return err;
}
