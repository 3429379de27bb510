#!/usr/bin/env bash
# Installs, from Debian, whatever flowbpf needs to build, run and test and
# is not installed yet.  Safe to run again: it only installs what is missing.
set -euo pipefail

pkgs=(make gcc clang llvm pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev
      libjansson-dev libpcap-dev iproute2 iputils-ping util-linux iperf3)

# Accounting tests: an IPFIX collector (nfcapd, nfdump), capture replay and
# an independent flow meter to compare with (softflowd).
pkgs+=(nfdump tcpreplay softflowd)

# Tunnel tests: an independent decode of the encapsulated captures.
pkgs+=(tshark)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	echo "installing: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# bpffs is not mounted by default on every system.
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
