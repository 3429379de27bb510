#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Runs the selftest suite in a VM on another kernel: the binaries already
# built in .output/ (nothing is rebuilt), the host's root file system
# shared read-only over 9p, Debian's stock kernel (linux-image-amd64) by
# default.  The guest's console streams here; the suite's summary and
# its exit status come back.
#
#   vmtest/vmtest.sh [RUNNER ARGS]      e.g. vmtest/vmtest.sh -t parser -v
#
# Environment:
#   KERNEL=/path/to/vmlinuz  kernel to boot instead of Debian's
#   KERNEL_MODULES=DIR       its lib/modules/<version> directory (default:
#                            looked for next to KERNEL and in /lib/modules;
#                            without one, what the guest needs must be
#                            built in)
#   VMTEST_TIMEOUT=SECONDS   a guest still running then is killed (4200)
#   VMTEST_CMD='COMMANDS'    run these shell commands in the guest (from the
#                            repository) instead of the runner
#   VMTEST_ACCEL=kvm|tcg     default: kvm if /dev/kvm can run a guest
#   VMTEST_MEM=2G VMTEST_SMP=2
#   FLOWBPF_*                passed on to the runner in the guest
#   VMTEST_SKIP='TEST...'    test files left out in the guest (default
#                            below; '' runs them all)
#
# Exit status: the runner's (0 all passed, 1 something failed), 124 when
# the guest was killed at the time limit, 125 when the guest could not be
# set up or died before reporting.
set -euo pipefail
# Paths given relative to where the script was started from.
[ -n "${KERNEL:-}" ] && [ -e "$KERNEL" ] && KERNEL=$(realpath "$KERNEL")
[ -n "${KERNEL_MODULES:-}" ] && [ -e "$KERNEL_MODULES" ] &&
	KERNEL_MODULES=$(realpath "$KERNEL_MODULES")
cd "$(dirname "$0")/.."
repo=$(pwd -P)
cache=$repo/.output/vmtest
timeout_s=${VMTEST_TIMEOUT:-4200}
mem=${VMTEST_MEM:-2G}
smp=${VMTEST_SMP:-2}
# Modules the initramfs carries to reach the host's files; the guest init
# loads the suite's own (veth, sch_ingress, cls_bpf) from the full tree.
boot_modules=(virtio_pci 9pnet_virtio 9p)

say() { printf 'vmtest: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 125
}

# The kernel release a bzImage announces in its setup header.
bzimage_version() {
	local off

	[ "$(dd if="$1" bs=1 skip=514 count=4 status=none | tr -d '\0')" = HdrS ] || return 1
	off=$(od -An -t u2 -j 526 -N 2 "$1" | tr -d ' ')
	[ -n "$off" ] || return 1
	dd if="$1" bs=1 skip=$((off + 512)) count=128 status=none |
		tr '\0' '\n' | head -n 1 | cut -d ' ' -f 1
}

# Debian's current stock kernel: what linux-image-amd64 depends on,
# downloaded and unpacked once into $cache/<package>/.  Sets kernel, kver
# moddir and kver.
debian_kernel() {
	local pkg dir tmp

	apt-cache show linux-image-amd64 >/dev/null 2>&1 || apt-get update -qq
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
	[ -n "$pkg" ] || die "cannot tell which package linux-image-amd64 stands for"
	dir=$cache/$pkg
	if [ ! -e "$dir/.complete" ]; then
		say "fetching $pkg"
		rm -rf "$dir"
		mkdir -p "$cache"
		tmp=$(mktemp -d "$cache/fetch.XXXXXX")
		(cd "$tmp" && apt-get -o APT::Sandbox::User=root download -qq "$pkg") ||
			{ rm -rf "$tmp"; die "cannot download $pkg"; }
		dpkg-deb -x "$tmp"/*.deb "$tmp/root"
		kver=$(ls "$tmp/root/lib/modules")
		# The package leaves modules.dep to its postinst; make it here.
		busybox depmod -b "$tmp/root" "$kver"
		touch "$tmp/root/.complete"
		# A run fetching the same in parallel may have been first.
		mv -T "$tmp/root" "$dir" 2>/dev/null || true
		rm -rf "$tmp"
		[ -e "$dir/.complete" ] || die "cannot unpack $pkg into $dir"
	fi
	kver=$(ls "$dir/lib/modules")
	kernel=$dir/boot/vmlinuz-$kver
	moddir=$dir/lib/modules/$kver
}

# Where modules.dep lists a module by name ("-" and "_" are one).
module_path() {
	awk -F: -v m="${1//-/_}" '{
		n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n)
		gsub(/-/, "_", n)
		if (n == m) { print $1; exit }
	}' "$2/modules.dep"
}

# Copies module $1 and everything it depends on from $2 into $3.
copy_module() {
	local path dep

	path=$(module_path "$1" "$2")
	[ -n "$path" ] || return 0 # built in
	[ -e "$3/$path" ] && return 0
	mkdir -p "$3/$(dirname "$path")"
	cp "$2/$path" "$3/$path"
	for dep in $(sed -n "s|^$path:||p" "$2/modules.dep"); do
		dep=${dep##*/}
		copy_module "${dep%%.ko*}" "$2" "$3"
	done
}

# A gzip'ed cpio with busybox, vmtest/init as /init and the boot modules;
# rebuilt only when one of them changes.  Sets initrd.
build_initramfs() {
	local kver=$1 key stage

	key=$( (cat vmtest/init /bin/busybox; echo "$kver $moddir ${boot_modules[*]}") |
		sha256sum | cut -c 1-16)
	initrd=$cache/initramfs-$kver-$key.cpio.gz
	[ -e "$initrd" ] && return 0
	rm -f "$cache"/initramfs-"$kver"-*.cpio.gz
	stage=$(mktemp -d "$cache/initramfs.XXXXXX")
	mkdir -p "$stage/bin" "$stage/lib/modules/$kver"
	cp /bin/busybox "$stage/bin/busybox"
	install -m 755 vmtest/init "$stage/init"
	if [ -n "$moddir" ]; then
		for m in "${boot_modules[@]}"; do
			copy_module "$m" "$moddir" "$stage/lib/modules/$kver"
		done
		busybox depmod -b "$stage" "$kver"
	fi
	(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$stage"
}

# KVM is used when it can run a guest, not merely when /dev/kvm exists: a
# 64 KiB firmware whose reset vector writes to qemu's debug-exit port, on
# the machine and CPU model of the real run (where KVM refuses the MSRs
# of "-cpu max", qemu aborts before the guest runs at all).
kvm_works() {
	local probe=$cache/kvm-probe.bin rc

	[ -w /dev/kvm ] || return 1
	{
		head -c 65520 /dev/zero
		printf '\xb0\x01\xe6\xf4\xf4\xeb\xfe' # mov al,1; out 0xf4,al; hlt
		head -c 9 /dev/zero
	} >"$probe"
	rc=$({
		timeout 10 qemu-system-x86_64 -nodefaults -no-user-config \
			-display none "${machine[@]}" -accel kvm -m 16 \
			-bios "$probe" -device isa-debug-exit,iobase=0xf4,iosize=4 \
			</dev/null >/dev/null
		echo $?
	} 2>/dev/null)
	# The guest wrote 1: qemu exits with (1 << 1) | 1.
	[ "$rc" = 3 ]
}

[ "$(id -u)" = 0 ] || die "must be run as root (it installs packages)"
case "$repo" in
*[[:space:]]*) die "the repository's path has spaces; the kernel command line cannot carry it" ;;
/run/* | /proc/* | /sys/* | /dev/*) die "the guest mounts $repo's parents afresh; move the repository" ;;
esac
[ "$(uname -m)" = x86_64 ] || die "only x86_64 hosts are supported"
for f in .output/selftests/runner .output/flowbpf; do
	[ -x "$f" ] || die "$f is not built; run 'make' (or 'make vmtest') first"
done
bash scripts/deps.sh qemu-system-x86 busybox-static cpio
mkdir -p "$cache"

kernel= moddir=
if [ -n "${KERNEL:-}" ]; then
	[ -r "$KERNEL" ] || die "KERNEL=$KERNEL: no such file"
	kernel=$KERNEL
	kver=$(bzimage_version "$kernel") || kver=
	[ -n "$kver" ] || die "KERNEL=$KERNEL does not look like a bzImage"
	if [ -n "${KERNEL_MODULES:-}" ]; then
		moddir=$KERNEL_MODULES
	else
		for d in "$(dirname "$kernel")/../lib/modules/$kver" \
			"/lib/modules/$kver"; do
			[ -d "$d" ] && moddir=$(realpath "$d") && break
		done
	fi
	if [ -n "$moddir" ] && [ ! -e "$moddir/modules.dep" ]; then
		die "$moddir has no modules.dep (run: depmod -b ROOT $kver)"
	fi
	[ -n "$moddir" ] ||
		say "no modules for $kver found: virtio, 9p, veth, sch_ingress and cls_bpf must be built in"
else
	debian_kernel
fi
build_initramfs "$kver"

machine=(-machine pc -cpu max)
case "${VMTEST_ACCEL:-auto}" in
auto)
	if kvm_works; then
		accel=kvm
	else
		[ -e /dev/kvm ] && say "KVM cannot run this guest here; using TCG (slower)"
		accel=tcg
	fi
	;;
kvm | tcg) accel=$VMTEST_ACCEL ;;
*) die "VMTEST_ACCEL must be kvm or tcg" ;;
esac
[ "$accel" = tcg ] && accel=tcg,thread=multi

cmdline="console=ttyS0 panic=-1 quiet loglevel=4 mitigations=off"
cmdline+=" vmtest.repo=$repo"
[ -n "$moddir" ] && cmdline+=" vmtest.modules=$moddir"
for v in ${!FLOWBPF_@}; do
	case "${!v}" in
	*[[:space:]]*) say "$v has spaces; not passed to the guest" ;;
	*) cmdline+=" vmtest.env=$v=${!v}" ;;
	esac
done
if [ -n "${VMTEST_CMD:-}" ]; then
	printf '%s\n' "$VMTEST_CMD" >"$cache/cmd.$$"
	trap 'rm -f "$cache/cmd.$$"' EXIT
	cmdline+=" vmtest.cmd=$cache/cmd.$$"
fi
# Left out by default: what runs no kernel path of its own (the policy
# language, argument checks, the install tree, the live view's screen,
# the metrics server, the SQL store and its quotas, the control socket,
# the IPFIX encoder and collectors), and the live tunnel tests, about a
# minute a subtest under TCG; all run on the host, and in the guest when
# asked for (VMTEST_SKIP='').
skip=${VMTEST_SKIP-policy cli_args install top metrics units units_pg quota quota_gateways daemon_ctl ipfix tunnels tunnels_ip tunnels_enforce}
args=()
for t in $skip; do args+=(-x "$t"); done
(($# + ${#args[@]})) && cmdline+=" -- ${args[*]} $*"

log=$cache/last.log
say "kernel $kver ($kernel), ${accel%%,*}, ${smp} CPUs, $mem, time limit ${timeout_s} s"
say "console output follows (also in ${log#"$repo"/})"
start=$SECONDS
rc=0
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
	-nodefaults -no-user-config -display none -no-reboot \
	"${machine[@]}" -accel "$accel" -smp "$smp" -m "$mem" \
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-chardev stdio,id=console -serial chardev:console \
	</dev/null 2>&1 | sed -u 's/\r$//' | tee "$log" || rc=${PIPESTATUS[0]}
elapsed=$((SECONDS - start))

status=$(sed -n 's/^VMTEST-EXIT=\([0-9]*\)$/\1/p' "$log" | tail -n 1)
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
skipped=$(sed -n 's/^\([0-9]*\) skipped$/\1/p' "$log" | tail -n 1)
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	say "TIMEOUT: the guest was still running after ${timeout_s} s and was killed (VMTEST_TIMEOUT raises the limit)"
	exit 124
fi
if [ -z "$status" ]; then
	say "the guest stopped after ${elapsed} s without reporting an exit status (qemu exit $rc; kernel panic?)"
	exit 125
fi
if [ "$status" = 125 ]; then
	say "the guest could not be set up (see above)"
	exit 125
fi
if [ -n "${VMTEST_CMD:-}" ]; then
	say "kernel $kver, ${accel%%,*}, ${elapsed} s, command exit $status"
	exit "$status"
fi
if [ -z "$summary" ]; then
	say "the runner exited $status without its 'N passed, N failed' line"
	exit $((status ? status : 1))
fi
if [ "$status" = 0 ] && [[ ! $summary =~ \ 0\ failed$ ]]; then
	say "the runner exited 0 but reported failures"
	status=1
fi
say "kernel $kver, ${accel%%,*}, ${elapsed} s, runner exit $status"
echo "vmtest: $summary${skipped:+, $skipped skipped}"
exit "$status"
