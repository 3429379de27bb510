/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The bench driver's shared pieces.  Every measurement is written as one
 * tab-separated line to the results file, which "bench report" turns into
 * the table of docs/benchmarks.md:
 *
 *   row     SECTION NAME ROUND VALUE UNIT      one measurement of one round
 *   target  SECTION NAME OP LIMIT TEXT [WHY]   OP is le or ge; checked on the
 *                                              median; WHY is printed if missed
 *   note    SECTION TEXT                       printed under the section
 */
#ifndef FLOWBPF_BENCH_H
#define FLOWBPF_BENCH_H

#include <stdio.h>
#include <linux/types.h>

extern FILE *bench_out;
extern int bench_rounds;

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void emit_row(const char *sec, const char *name, int round, double v,
	      const char *unit);
void emit_target(const char *sec, const char *name, const char *op,
		 double limit, const char *text, const char *why);
void emit_note(const char *sec, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

__u64 mono_ns(void);
__u64 thread_cpu_ns(void);
void pin_to_cpu(int cpu);
/* memlock of a map, as the kernel accounts it (fdinfo "memlock:"). */
long long map_memlock(int fd);

/* The key the datapath makes of bench flow n (numbering: vary.bpf.c). */
struct flowbpf_key;
void bench_key(struct flowbpf_key *k, __u64 n);
/*
 * Loads flows [0, count) into an empty flow map, each passed by the
 * daemon; the first expired_pct of every 100 were last seen an hour ago.
 * A whole-value write is only right here, on a map no datapath uses yet:
 * verdicts of live flows go through the verdict program.
 */
void bench_preload(int flows, __u32 count, int expired_pct);

int cmd_pkt(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_mem(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_attach_noop(int argc, char **argv);
int cmd_detach_noop(int argc, char **argv);
int cmd_alternate(int argc, char **argv);
int cmd_udpflood(int argc, char **argv);

/* The Internet checksum of len bytes, host order. */
__u16 csum16(const void *p, int len);
int cmd_udpsink(int argc, char **argv);
int cmd_decide(int argc, char **argv);
int cmd_nulld(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_units(int argc, char **argv); /* units.c */

#endif
