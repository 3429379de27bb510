#!/usr/bin/env bash
# Installs, from Debian, whatever flowbpf needs to build, run and test and
# is not installed yet.  Safe to run again: it only installs what is missing.
#   scripts/deps.sh            flowbpf's packages, and mounts bpffs
#   scripts/deps.sh PKG...     only these (for the benchmarks, the VM, CI)
set -euo pipefail

install_missing() {
	local p missing=()

	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$p")
	done
	((${#missing[@]})) || return 0
	echo "installing: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	# A package index too old for what it names is fetched again, once.
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq &&
			apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
}

if (($#)); then
	install_missing "$@"
	exit 0
fi

pkgs=(make gcc clang llvm pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev
      libjansson-dev libpcap-dev iproute2 iputils-ping util-linux iperf3)

# Accounting tests: two IPFIX collectors (nfcapd/nfdump, pmacct's nfacctd),
# capture replay and an independent flow meter to compare with (softflowd).
pkgs+=(nfdump pmacct tcpreplay softflowd)

# Wireshark's IPFIX dissector: the second decoder of the fields nfdump 1.7
# cannot read (forwardingStatus, dot1qCustomerVlanId, sampling options).
pkgs+=(tshark)

# flowbpf top draws with ncurses; its tests drive it in tmux.
pkgs+=(libncurses-dev tmux)

# The XDP program shares its hook through libxdp's dispatcher; the
# tests share it with xdp-filter.
pkgs+=(libxdp-dev xdp-tools)

# Metrics tests: a real Prometheus scrapes --metrics (promtool checks the
# alert rules).
pkgs+=(prometheus)

# Installation tests: the units checked by systemd-analyze, the man page
# rendered by man and groff and checked by mandoc.
pkgs+=(systemd man-db groff-base mandoc)

# Accounting by unit: the SQLite and PostgreSQL client libraries, and a
# PostgreSQL server the tests start privately (docs/units.md).
pkgs+=(libsqlite3-dev sqlite3 libpq-dev postgresql)

# Tunnel tests: an independent decode of the encapsulated captures.
pkgs+=(tshark)

# The tests run a Prometheus of their own, not the packaged service, which
# installing it may start.
prometheus_new=$(dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -c "ok installed" || true)
install_missing "${pkgs[@]}"
if [[ $prometheus_new == 0 ]]; then
	service prometheus stop >/dev/null 2>&1 || true
fi

# bpffs is not mounted by default on every system.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
