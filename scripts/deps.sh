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

# Accounting tests: an IPFIX collector (nfcapd, nfdump), capture replay and
# an independent flow meter to compare with (softflowd).
pkgs+=(nfdump tcpreplay softflowd)

# Accounting by unit: the SQLite and PostgreSQL client libraries, and a
# PostgreSQL server the tests start privately (docs/units.md).
pkgs+=(libsqlite3-dev sqlite3 libpq-dev postgresql)

install_missing "${pkgs[@]}"

# bpffs is not mounted by default on every system.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
