/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Skeleton lifecycle: load, attach, pin, detach, and opening what an
 * attach left pinned under /sys/fs/bpf/flowbpf/<ifname>/.
 * int functions return 0 or -errno and set err_get() on failure.
 */
#ifndef FLOWBPF_LOADER_H
#define FLOWBPF_LOADER_H

#include <stdbool.h>
#include <net/if.h>
#include <linux/types.h>
#include "flowbpf.h"

enum flowbpf_xdp_mode { XDPM_NATIVE = 0, XDPM_GENERIC = 1 };
/* Which hook sees ingress: XDP (default) or the clsact ingress hook. */
enum flowbpf_ingress { INGRESS_XDP = 0, INGRESS_TC = 1 };

struct flowbpf_attach_opts {
	const char *ifname;
	__u32 mode; /* enum flowbpf_mode */
	__u32 pending; /* enum flowbpf_pending */
	__u32 dflt; /* FLOWBPF_VERDICT_PASS or _DROP */
	__u64 timeout_ns;
	__u32 flows; /* flow and verdict map size */
	__u32 ringbuf; /* ring buffer bytes, power of two */
	__u32 max_queued; /* new QUEUED flows per timeout window, 0 = no limit */
	__u32 hold_pkts; /* --pending hold: per-flow limits */
	__u32 hold_bytes;
	enum flowbpf_xdp_mode xdp_mode;
	enum flowbpf_ingress ingress;
};

void flowbpf_attach_opts_init(struct flowbpf_attach_opts *o);
int flowbpf_attach(const struct flowbpf_attach_opts *o);
int flowbpf_detach(const char *ifname);

/* What is pinned for one attached interface. */
struct flowbpf_handle {
	char ifname[IF_NAMESIZE];
	int flows_fd, verdicts_fd, stats_fd, events_fd;
	struct flowbpf_config cfg;
	__u32 xdp_prog_id, tc_prog_id, xdp_link_id;
	__u32 tc_ingress_prog_id; /* with FLOWBPF_CFG_INGRESS_TC */
	__u32 flows_max;
};

/* Opens one pinned object of ifname by name; fd or -errno. */
int flowbpf_pin_get(const char *ifname, const char *name);

/* Opens the pinned maps of ifname; NULL-safe close. */
int flowbpf_open(const char *ifname, struct flowbpf_handle *h);
void flowbpf_close(struct flowbpf_handle *h);

/* Names of attached interfaces (pin directories), sorted; returns count. */
int flowbpf_list(char (*names)[IF_NAMESIZE], int max);

/* Sums the per-CPU stats map into out. */
int flowbpf_stats_read(int stats_fd, struct flowbpf_stats *out);

/* Number of entries in a hash map (walks the keys). */
int flowbpf_map_count(int fd, __u32 key_size, __u64 *count);

/* Mounts bpffs on /sys/fs/bpf unless it is already there. */
int flowbpf_bpffs_ensure(void);

/*
 * Reads every entry of a hash map into newly allocated arrays (free()
 * both).  Uses BPF_MAP_LOOKUP_BATCH, falling back to per-key lookups on
 * kernels or map types without it.
 */
int flowbpf_map_dump(int fd, __u32 key_size, __u32 value_size, void **keys,
		     void **values, size_t *count);
#endif
