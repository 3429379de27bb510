# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# A recipe that fails leaves no half-written target (a truncated skeleton
# from a failed "bpftool gen skeleton > $@") for the next run to trust.
.DELETE_ON_ERROR:
OUTPUT ?= .output
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

INCLUDES := -I$(OUTPUT) -Imaps -Iloader -Icommon -Ibpf -Iexport -Ipolicy -Idaemon -Imetrics
CFLAGS ?= -g -O2
CFLAGS += -Wall -Werror -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -std=gnu11 -D_GNU_SOURCE
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror
LDLIBS := -lbpf -lelf -lz -ljansson
# libxdp: the XDP program shares its hook through libxdp's dispatcher.
CFLAGS += $(shell pkg-config --cflags libxdp)
LDLIBS += $(shell pkg-config --libs libxdp)
# Accounting by unit stores its totals in SQLite or PostgreSQL.
INCLUDES += -Iacct $(shell pkg-config --cflags libpq sqlite3)
LDLIBS += $(shell pkg-config --libs sqlite3 libpq)

BPF_OBJS := $(OUTPUT)/flowbpf.bpf.o
SKELS := $(OUTPUT)/flowbpf.skel.h
COMMON_SRCS := common/log.c common/flowfmt.c common/clock.c loader/loader.c loader/share.c \
	policy/parse.c policy/addrset.c policy/eval.c daemon/daemon.c daemon/ctl.c daemon/csum.c
COMMON_SRCS += export/record.c export/jsonl.c export/ipfix.c export/collect.c
COMMON_SRCS += metrics/metrics.c
COMMON_SRCS += acct/db.c acct/units.c acct/sink.c acct/quota.c
COMMON_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(COMMON_SRCS))
CLI_SRCS := cli/flowbpf.c cli/params.c cli/cmd_attach.c cli/cmd_show.c cli/cmd_verdict.c cli/json.c \
	cli/cmd_daemon.c
CLI_SRCS += cli/cmd_collect.c
# The live view (flowbpf top) draws with ncurses.
CLI_SRCS += cli/cmd_top.c
CURSES_CFLAGS := $(shell pkg-config --cflags ncursesw 2>/dev/null)
CURSES_LIBS := $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw)
$(OUTPUT)/cli/cmd_top.o: CFLAGS += $(CURSES_CFLAGS)
CLI_SRCS += cli/cmd_report.c cli/cmd_quota.c
CLI_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(CLI_SRCS))
TEST_SRCS := $(sort $(wildcard selftests/test_*.c))
TEST_OBJS := $(patsubst %.c,$(OUTPUT)/%.o,$(TEST_SRCS) selftests/runner.c selftests/netns.c)

.PHONY: all clean test check format
all: $(OUTPUT)/flowbpf $(OUTPUT)/selftests/runner $(OUTPUT)/flowbpf.8

$(OUTPUT) $(OUTPUT)/export $(OUTPUT)/common $(OUTPUT)/loader $(OUTPUT)/cli $(OUTPUT)/selftests $(OUTPUT)/policy $(OUTPUT)/daemon $(OUTPUT)/metrics $(OUTPUT)/acct:
	mkdir -p $@

$(OUTPUT)/%.tmp.bpf.o: bpf/%.bpf.c bpf/*.h maps/flowbpf.h vmlinux.h | $(OUTPUT)
	$(CLANG) $(BPF_CFLAGS) -I. -Imaps -Ibpf -c $< -o $@

$(OUTPUT)/%.bpf.o: $(OUTPUT)/%.tmp.bpf.o
	$(BPFTOOL) gen object $@ $<

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@

$(OUTPUT)/%.o: %.c | $(SKELS) $(OUTPUT)/export $(OUTPUT)/common $(OUTPUT)/loader $(OUTPUT)/cli $(OUTPUT)/selftests $(OUTPUT)/policy $(OUTPUT)/daemon $(OUTPUT)/metrics $(OUTPUT)/acct
	$(CC) $(CFLAGS) -MMD -MP $(INCLUDES) -c $< -o $@

$(OUTPUT)/flowbpf: $(CLI_OBJS) $(COMMON_OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) $(CURSES_LIBS) -o $@

# The runner discovers tests by their "void test_<name>(void)" definitions.
$(OUTPUT)/selftests/tests.inc: $(TEST_SRCS) | $(OUTPUT)/selftests
	grep -h '^void test_[a-z0-9_]*(void)$$' $(TEST_SRCS) | \
		sed 's/^void test_\([a-z0-9_]*\)(void)$$/DEFINE_TEST(\1)/' > $@

$(OUTPUT)/selftests/runner.o: $(OUTPUT)/selftests/tests.inc

# BPF objects of the tests themselves (another tool's programs).
TEST_BPF := coexist_tc
TEST_SKELS := $(patsubst %,$(OUTPUT)/selftests/%.skel.h,$(TEST_BPF))
$(TEST_BPF:%=$(OUTPUT)/selftests/%.tmp.bpf.o): $(OUTPUT)/selftests/%.tmp.bpf.o: selftests/%.bpf.c vmlinux.h | $(OUTPUT)/selftests
	$(CLANG) $(BPF_CFLAGS) -I. -c $< -o $@
$(TEST_BPF:%=$(OUTPUT)/selftests/%.bpf.o): $(OUTPUT)/selftests/%.bpf.o: $(OUTPUT)/selftests/%.tmp.bpf.o
	$(BPFTOOL) gen object $@ $<
$(TEST_SKELS): $(OUTPUT)/selftests/%.skel.h: $(OUTPUT)/selftests/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@
$(OUTPUT)/selftests/test_coexist.o: $(TEST_SKELS)

$(OUTPUT)/selftests/runner: $(TEST_OBJS) $(COMMON_OBJS)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -lpcap -o $@

test: all
	./$(OUTPUT)/selftests/runner

# The selftests in a VM on Debian's stock kernel (docs/testing.md);
# KERNEL=/path/to/vmlinuz boots another, VMTEST_ARGS go to the runner.
.PHONY: vmtest
vmtest: all
	KERNEL="$(KERNEL)" vmtest/vmtest.sh $(VMTEST_ARGS)

FORMAT_SRCS := $(wildcard bpf/*.[ch] maps/*.h loader/*.[ch] cli/*.[ch] \
	common/*.[ch] policy/*.[ch] daemon/*.[ch] export/*.[ch] metrics/*.[ch] \
	acct/*.[ch] selftests/*.[ch] \
	bench/*.[ch] fuzz/*.[ch])
format:
	clang-format -i $(FORMAT_SRCS)

clean:
	rm -rf $(OUTPUT)

# The man page, made from its one source, docs/flowbpf.8.md.
FLOWBPF_VERSION = $(shell sed -n 's/^\#define FLOWBPF_VERSION "\(.*\)"/\1/p' cli/flowbpf.c)
MAN_DATE = $(shell git log -1 --format=%cs -- docs/flowbpf.8.md 2>/dev/null)
$(OUTPUT)/flowbpf.8: docs/flowbpf.8.md docs/md2man.awk cli/flowbpf.c | $(OUTPUT)
	awk -v version='$(FLOWBPF_VERSION)' -v date='$(MAN_DATE)' \
		-f docs/md2man.awk $< > $@.tmp && mv $@.tmp $@

# Installation (README.md, Install).  Only copies what "make" built, so
# that it writes nothing into the tree: the units get their paths on the
# way out.  DESTDIR stages the tree for a package.
PREFIX ?= /usr/local
sbindir ?= $(PREFIX)/sbin
mandir ?= $(PREFIX)/share/man
docdir ?= $(PREFIX)/share/doc/flowbpf
unitdir ?= $(PREFIX)/lib/systemd/system
bashcompdir ?= $(PREFIX)/share/bash-completion/completions
sysconfdir ?= /etc
UNITS := flowbpf-attach@.service flowbpf-daemon.service flowbpf-collect@.service
DOCS := README.md docs/policy.md docs/accounting.md docs/maps.md
EXAMPLES := contrib/examples/policy.conf contrib/examples/flowbpf.default

.PHONY: install uninstall
install: $(OUTPUT)/flowbpf $(OUTPUT)/flowbpf.8
	install -D -m 0755 $(OUTPUT)/flowbpf $(DESTDIR)$(sbindir)/flowbpf
	install -D -m 0644 $(OUTPUT)/flowbpf.8 $(DESTDIR)$(mandir)/man8/flowbpf.8
	install -D -m 0644 contrib/bash-completion/flowbpf \
		$(DESTDIR)$(bashcompdir)/flowbpf
	install -d -m 0755 $(DESTDIR)$(unitdir)
	for u in $(UNITS); do \
		sed -e 's|@sbindir@|$(sbindir)|g' \
		    -e 's|@sysconfdir@|$(sysconfdir)|g' contrib/systemd/$$u.in \
		    > $(DESTDIR)$(unitdir)/$$u && \
		chmod 0644 $(DESTDIR)$(unitdir)/$$u || exit 1; \
	done
	install -d -m 0755 $(DESTDIR)$(docdir)/examples
	install -m 0644 $(DOCS) $(DESTDIR)$(docdir)
	install -m 0644 $(EXAMPLES) $(DESTDIR)$(docdir)/examples

uninstall:
	rm -f $(DESTDIR)$(sbindir)/flowbpf $(DESTDIR)$(mandir)/man8/flowbpf.8 \
		$(DESTDIR)$(bashcompdir)/flowbpf \
		$(addprefix $(DESTDIR)$(unitdir)/,$(UNITS)) \
		$(addprefix $(DESTDIR)$(docdir)/,$(notdir $(DOCS))) \
		$(addprefix $(DESTDIR)$(docdir)/examples/,$(notdir $(EXAMPLES)))
	-rmdir $(DESTDIR)$(docdir)/examples $(DESTDIR)$(docdir)

# Benchmarks (docs/benchmarks.md).  "make bench" installs what they need,
# builds them and runs them all; it is not part of "all", "test" or CI.
BENCH_BPF := noop calib vary
BENCH_SKELS := $(patsubst %,$(OUTPUT)/bench/%.skel.h,$(BENCH_BPF))
BENCH_SRCS := bench/bench.c bench/pkt.c bench/sweep.c bench/mem.c \
	bench/report.c bench/net.c bench/decide.c bench/connect.c \
	bench/alternate.c bench/units.c
BENCH_LIBS := $(OUTPUT)/common/log.o $(OUTPUT)/common/flowfmt.o $(OUTPUT)/common/clock.o \
	$(OUTPUT)/loader/loader.o $(OUTPUT)/loader/share.o $(OUTPUT)/daemon/ctl.o \
	$(OUTPUT)/policy/parse.o $(OUTPUT)/policy/addrset.o $(OUTPUT)/policy/eval.o \
	$(OUTPUT)/acct/db.o $(OUTPUT)/acct/units.o $(OUTPUT)/acct/quota.o

.PHONY: bench bench-bins
bench:
	bash bench/run.sh

bench-bins: $(OUTPUT)/flowbpf $(OUTPUT)/bench/bench $(OUTPUT)/bench/nfq_accept

$(OUTPUT)/bench:
	mkdir -p $@

# Static pattern rules: the generic "%.o: %.c" rule must not take these.
$(BENCH_BPF:%=$(OUTPUT)/bench/%.tmp.bpf.o): $(OUTPUT)/bench/%.tmp.bpf.o: bench/%.bpf.c maps/flowbpf.h vmlinux.h | $(OUTPUT)/bench
	$(CLANG) $(BPF_CFLAGS) -I. -Imaps -Ibpf -c $< -o $@

$(BENCH_BPF:%=$(OUTPUT)/bench/%.bpf.o): $(OUTPUT)/bench/%.bpf.o: $(OUTPUT)/bench/%.tmp.bpf.o
	$(BPFTOOL) gen object $@ $<

$(BENCH_SKELS): $(OUTPUT)/bench/%.skel.h: $(OUTPUT)/bench/%.bpf.o
	$(BPFTOOL) gen skeleton $< name bench_$* > $@

$(OUTPUT)/bench/bench: $(BENCH_SRCS) bench/bench.h $(BENCH_SKELS) $(SKELS) $(BENCH_LIBS)
	$(CC) $(CFLAGS) $(INCLUDES) -I$(OUTPUT)/bench $(BENCH_SRCS) $(BENCH_LIBS) $(LDLIBS) -o $@

$(OUTPUT)/bench/nfq_accept: bench/nfq_accept.c | $(OUTPUT)/bench
	$(CC) $(CFLAGS) $< -lnetfilter_queue -o $@

# Fuzzing (docs/testing.md): libFuzzer harnesses, fuzz/fuzz_NAME.c, of the
# policy parser, prefix tables, FLOW words, numbers and csum_fix_frame,
# built by clang with ASan and UBSan into $(OUTPUT)/fuzz/.  "make fuzz"
# replays each corpus and fuzzes each harness for FUZZ_SECS seconds;
# "make fuzz-smoke" (CI) the same for FUZZ_SMOKE_SECS, from the seeds
# alone.  FUZZ_NAMES picks harnesses.  Not part of "all" or "test".
FUZZ_NAMES ?= policy table flow num csum
FUZZ_SECS ?= 60
FUZZ_SMOKE_SECS ?= 5
FUZZ_CC ?= $(CLANG)
FUZZ_OUT := $(OUTPUT)/fuzz
# The warnings of CFLAGS; clang alone also sees an empty format string in
# a conditional one ("" or "%u/%u"), which is meant.
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all -Wall -Werror -Wextra -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-format-zero-length -std=gnu11 \
	-D_GNU_SOURCE -Imaps -Icommon -Ipolicy -Idaemon
FUZZ_BINS := $(patsubst %,$(FUZZ_OUT)/fuzz_%,$(FUZZ_NAMES))
FUZZ_LIB_SRCS := common/log.c policy/parse.c policy/addrset.c policy/eval.c daemon/csum.c common/flowfmt.c
FUZZ_OBJS := $(patsubst %.c,$(FUZZ_OUT)/obj/%.o,$(FUZZ_LIB_SRCS) \
	$(wildcard fuzz/fuzz_*.c))

# What each harness links besides its own object.
$(FUZZ_OUT)/fuzz_policy: $(FUZZ_OUT)/obj/common/log.o $(FUZZ_OUT)/obj/policy/parse.o \
	$(FUZZ_OUT)/obj/policy/addrset.o $(FUZZ_OUT)/obj/policy/eval.o \
	$(FUZZ_OUT)/obj/common/flowfmt.o
$(FUZZ_OUT)/fuzz_table: $(FUZZ_OUT)/obj/common/log.o $(FUZZ_OUT)/obj/policy/parse.o \
	$(FUZZ_OUT)/obj/policy/addrset.o $(FUZZ_OUT)/obj/common/flowfmt.o
$(FUZZ_OUT)/fuzz_flow $(FUZZ_OUT)/fuzz_num: $(FUZZ_OUT)/obj/common/flowfmt.o
$(FUZZ_OUT)/fuzz_csum: $(FUZZ_OUT)/obj/daemon/csum.o

$(FUZZ_OBJS): $(FUZZ_OUT)/obj/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BINS): $(FUZZ_OUT)/fuzz_%: $(FUZZ_OUT)/obj/fuzz/fuzz_%.o
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -ljansson -lbpf -o $@

.PHONY: fuzz fuzz-smoke fuzz-bins
fuzz-bins: $(FUZZ_BINS)

fuzz: fuzz-bins
	fuzz/run.sh -o $(FUZZ_OUT) -t $(FUZZ_SECS) $(FUZZ_NAMES)

fuzz-smoke: fuzz-bins
	fuzz/run.sh -o $(FUZZ_OUT) -t $(FUZZ_SMOKE_SECS) -s $(FUZZ_NAMES)

# Header dependencies, written by -MMD next to each object.
-include $(patsubst %.o,%.d,$(COMMON_OBJS) $(CLI_OBJS) $(TEST_OBJS))
