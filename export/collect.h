/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The flow collector: sweeps the pinned flow map of one interface and
 * turns flows into accounting records (idle, active and TCP-end timeouts,
 * evictions, a final flush), written to sinks.  docs/accounting.md
 * explains the rules; "flowbpf collect" is the command around it.
 */
#ifndef FLOWBPF_COLLECT_H
#define FLOWBPF_COLLECT_H

#include <stdbool.h>
#include <linux/types.h>
#include "flowbpf.h"
#include "record.h"

#define COLLECT_DEFAULT_IDLE_NS (15ULL * 1000000000)
#define COLLECT_DEFAULT_ACTIVE_NS (60ULL * 1000000000)
#define COLLECT_DEFAULT_END_NS (5ULL * 1000000000)
#define COLLECT_DEFAULT_INTERVAL_NS (1ULL * 1000000000)
/* Sinks: a JSON lines file and up to this many IPFIX collectors. */
#define COLLECT_MAX_IPFIX 3
/* The collectors' state files (collect-IFACE.state) live here. */
#define COLLECT_STATE_DIR "/run/flowbpf"

struct collect_opts {
	__u64 idle_ns; /* no packet for this long: the flow ends */
	__u64 active_ns; /* a flow that goes on is reported this often */
	__u64 end_ns; /* after a FIN or RST, idle this long ends the flow */
	bool no_batch; /* per-element map access only (tests, old kernels) */
};

/* What one sweep did. */
struct sweep_result {
	__u64 scanned; /* entries read from the flow map */
	__u64 removed; /* entries the sweep removed (and reported) */
	__u64 records; /* records written */
	__u64 evicted; /* flows found gone without the sweep removing them */
	__u64 scan_ns; /* reading the map */
	__u64 remove_ns; /* removing entries */
	__u64 total_ns;
};

/* What the "acct" map has no room for (docs/accounting.md, Full disk). */
struct collect_status {
	__u64 write_errors; /* writes that failed (each retry counts) */
	__u64 records_pending; /* records waiting to be written */
	__u64 records_lost; /* dropped: more than the queue holds waited */
};

struct collector;

void collect_opts_init(struct collect_opts *o);
/* Opens the pins of an attached interface; NULL with err_get() set. */
struct collector *collector_open(const char *ifname,
				 const struct collect_opts *o);
/*
 * Works on maps given by fd (benchmarks): flows as pinned,
 * stats a per-CPU array of struct flowbpf_stats, acct_fd -1 for none.
 * The fds stay the caller's.
 */
struct collector *collector_new_fds(const char *ifname, int flows_fd,
				    int stats_fd, int acct_fd,
				    const struct collect_opts *o);
/* Records go to every sink added; the collector closes them. */
void collector_add_sink(struct collector *c, struct acct_sink *s);
/*
 * One sweep.  With final set, every flow still in the map is removed and
 * reported as "shutdown", unless records cannot be written: then the
 * flows stay and it returns the -errno of the write.  0 or -errno.
 */
int collector_sweep(struct collector *c, bool final, struct sweep_result *res);
/* Sweeps idle entries in the kernel first (FB_PROG_EXPIRE, FB_MAP_EXPIRED;
 * collector_open does it by itself); the fds stay the caller's. */
void collector_set_expire(struct collector *c, int prog_fd, int ring_fd);
/* The counters published in the pinned "acct" map. */
const struct flowbpf_acct *collector_acct(const struct collector *c);
void collector_status(const struct collector *c, struct collect_status *st);
/*
 * The status the collector of ifname last saved, for "flowbpf stats";
 * flows_id is the id of the interface's flow map.  -ENOENT without one,
 * -ESTALE when it is of an earlier attach.
 */
int collect_status_read(const char *ifname, __u32 flows_id,
			struct collect_status *st);
/* Flows the collector tracks (seen in the map, not yet ended). */
__u64 collector_tracked(const struct collector *c);
/* Publishes collector_pid 0, closes sinks and fds it opened. */
void collector_free(struct collector *c);

/*
 * Reads the pinned "acct" map of ifname; -ENOENT when there is none
 * (attached by a flowbpf without it).
 */
int acct_read(const char *ifname, struct flowbpf_acct *a);
/*
 * Evicted flows of an attached interface for "flowbpf stats": the running
 * collector's last published count, or, when no collector runs, computed
 * here from flows_created, the accounted count and the live entries.
 */
int acct_evicted(const char *ifname, int flows_fd, int stats_fd,
		 struct flowbpf_acct *a, bool *collector_running);

#endif
