// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Part 6: kernel memory per flow.  The datapath's object is loaded as an
 * attach loads it (its defaults, but for the flow-table size), and the
 * memlock of every map it creates (what the kernel charges, the number
 * bpftool map show prints) is added up: the flow table and everything
 * around it (manual verdicts, statistics, the event ring buffer, config,
 * flood-guard and heartbeat state, accounting, hold scratch space).
 * Divided by the flow-table size, that is what one flow of an attach
 * costs; the flow map alone is shown too.  Every map of the object is
 * counted, so one added later is counted without a change here.
 */
#include <errno.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "bench.h"
#include "flowbpf.h"
#include "flowbpf.skel.h"

#define SEC_MEM "mem"

struct mem {
	long long flows, all;
	char others[512]; /* "name size, ..." of the maps but flows */
};

static void measure(__u32 entries, struct mem *m)
{
	struct bpf_program *p;
	struct flowbpf *skel;
	struct bpf_map *map;
	size_t len = 0;
	int err;

	skel = flowbpf__open();
	if (!skel)
		die("flowbpf__open: %s", strerror(errno));
	/* Maps are created whether or not a program loads; they are all
	 * that is measured. */
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, false);
	bpf_map__set_max_entries(skel->maps.flows, entries);
	bpf_map__set_max_entries(skel->maps.events, FLOWBPF_DEFAULT_RINGBUF);
	err = flowbpf__load(skel);
	if (err)
		die("flowbpf__load: %s", strerror(-err));
	m->all = 0;
	m->others[0] = '\0';
	bpf_object__for_each_map(map, skel->obj) {
		long long b = map_memlock(bpf_map__fd(map));

		if (b < 0)
			die("cannot read the memlock of map %s",
			    bpf_map__name(map));
		m->all += b;
		if (map == skel->maps.flows) {
			m->flows = b;
			continue;
		}
		len += snprintf(m->others + len, sizeof(m->others) - len,
				"%s%s %lld B", len ? ", " : "",
				bpf_map__name(map), b);
		if (len >= sizeof(m->others))
			len = sizeof(m->others) - 1;
	}
	flowbpf__destroy(skel);
}

int cmd_mem(int argc, char **argv)
{
	static const __u32 sizes[] = { FLOWBPF_DEFAULT_FLOWS, 1U << 20 };
	char name[96], tag[32];
	struct mem m;
	size_t i;

	emit_note(SEC_MEM,
		  "memlock from /proc/<pid>/fdinfo of each map (the number bpftool map show prints); every map of the datapath's object as an attach creates it, with the default %u-byte ring buffer; flow key %zu B, flow value %zu B",
		  FLOWBPF_DEFAULT_RINGBUF, sizeof(struct flowbpf_key),
		  sizeof(struct flowbpf_flow));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(tag, sizeof(tag), "%s entries",
			 sizes[i] == 1U << 20 ? "2^20" : "262144");
		snprintf(name, sizeof(name), "all maps of an attach, bytes/flow, %s",
			 tag);
		emit_target(SEC_MEM, name, "le", 160,
			    sizes[i] == 1U << 20 ?
				    "kernel memory per flow, every map, <= 160 B (2^20 flows)" :
				    "kernel memory per flow, every map, <= 160 B (default size)",
			    "");
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		measure(sizes[i], &m);
		snprintf(tag, sizeof(tag), "%s entries",
			 sizes[i] == 1U << 20 ? "2^20" : "262144");
		snprintf(name, sizeof(name), "flows map bytes/entry, %s", tag);
		emit_row(SEC_MEM, name, 1, (double)m.flows / sizes[i], "B");
		snprintf(name, sizeof(name), "flows map / (key+value), %s", tag);
		emit_row(SEC_MEM, name, 1,
			 (double)m.flows / sizes[i] /
				 (sizeof(struct flowbpf_key) +
				  sizeof(struct flowbpf_flow)),
			 "x");
		snprintf(name, sizeof(name), "maps other than flows, %s", tag);
		emit_row(SEC_MEM, name, 1, (m.all - m.flows) / 1024.0, "KiB");
		snprintf(name, sizeof(name),
			 "all maps of an attach, bytes/flow, %s", tag);
		emit_row(SEC_MEM, name, 1, (double)m.all / sizes[i], "B");
		if (i == 0)
			emit_note(SEC_MEM, "maps other than flows: %s", m.others);
	}
	return 0;
}
