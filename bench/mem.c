// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Part 6: memory per flow.  The flow and verdict maps are preallocated
 * LRU hashes, so their memlock (what the kernel charges, as bpftool
 * shows it) is fixed by max_entries; divided by the entries it is the
 * cost of one flow, compared with the bytes of key and value.
 */
#include <errno.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "bench.h"
#include "flowbpf.h"
#include "flowbpf.skel.h"

#define SEC_MEM "mem"

int cmd_mem(int argc, char **argv)
{
	static const __u32 sizes[] = { 262144, 1000000 };
	const double kf = sizeof(struct flowbpf_key) + sizeof(struct flowbpf_flow);
	const double kv = sizeof(struct flowbpf_key) +
			  sizeof(struct flowbpf_verdict_val);
	char name[96];
	size_t i;

	emit_note(SEC_MEM,
		  "memlock from /proc/<pid>/fdinfo of each map (the number bpftool map show prints); key %zu B, flow value %zu B, verdict value %zu B; the ring buffer (1 MiB by default) is fixed, not per flow",
		  sizeof(struct flowbpf_key), sizeof(struct flowbpf_flow),
		  sizeof(struct flowbpf_verdict_val));
	emit_target(SEC_MEM, "flows map / (key+value), 1M entries", "le", 2,
		    "flow map bytes per flow <= 2x key+value", "");
	emit_target(SEC_MEM, "verdicts map / (key+value), 1M entries", "le", 2,
		    "verdict map bytes per flow <= 2x key+value",
		    "the verdict map repeats the whole flow key for a small value, so the fixed per-element overhead of an LRU hash (hash node, LRU node, bucket) weighs twice as much; keeping the verdict in the flow value would remove the second map and its key altogether");
	emit_target(SEC_MEM, "both maps / (keys+values), 1M entries", "le", 2,
		    "bytes per flow, both maps, <= 2x keys+values", "");

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct bpf_program *p;
		struct flowbpf *skel;
		long long mf, mv;
		const char *tag = sizes[i] == 262144 ? "262144 entries" :
						       "1M entries";
		int err;

		skel = flowbpf__open();
		if (!skel)
			die("flowbpf__open: %s", strerror(errno));
		bpf_object__for_each_program(p, skel->obj)
			bpf_program__set_autoload(p, false);
		bpf_map__set_max_entries(skel->maps.flows, sizes[i]);
		bpf_map__set_max_entries(skel->maps.verdicts, sizes[i]);
		err = flowbpf__load(skel);
		if (err)
			die("flowbpf__load: %s", strerror(-err));
		mf = map_memlock(bpf_map__fd(skel->maps.flows));
		mv = map_memlock(bpf_map__fd(skel->maps.verdicts));
		flowbpf__destroy(skel);
		if (mf < 0 || mv < 0)
			die("cannot read memlock");

		snprintf(name, sizeof(name), "flows map bytes/entry, %s", tag);
		emit_row(SEC_MEM, name, 1, (double)mf / sizes[i], "B");
		snprintf(name, sizeof(name), "verdicts map bytes/entry, %s", tag);
		emit_row(SEC_MEM, name, 1, (double)mv / sizes[i], "B");
		snprintf(name, sizeof(name), "flows map / (key+value), %s", tag);
		emit_row(SEC_MEM, name, 1, mf / kf / sizes[i], "x");
		snprintf(name, sizeof(name), "verdicts map / (key+value), %s",
			 tag);
		emit_row(SEC_MEM, name, 1, mv / kv / sizes[i], "x");
		snprintf(name, sizeof(name), "both maps / (keys+values), %s",
			 tag);
		emit_row(SEC_MEM, name, 1, (double)(mf + mv) / (kf + kv) / sizes[i],
			 "x");
	}
	return 0;
}
